"""The training op, and the variable updates it runs (TensorFlow-free).

"The training op" is what a TensorFlow user's loop runs, ``sess.run(train_op)``:
whatever its name, type and optimizer. It is found the way they mean it
(:func:`find_training_op`):

1. the op named, when one is named (``--training-op``);
2. else the ``train_op`` collection (``minimize`` adds its result there, and
   Estimators their train op), then the chapter's ``my_important_ops``: of
   the entries that run variable updates, the outermost; and when one op
   nothing reads groups it (``tf.group(minimize(...), ema.apply(...))``,
   whose ``minimize`` alone is in the collection), that group;
3. else the op that groups the updates: an op nothing reads, downstream of
   every update it runs (Keras 2's ``training/group_deps``,
   ``minimize(name="train")``, ``optimizer.minimize(loss, global_step=gs)``
   whose result is an ``AssignAdd`` named after the optimizer);
4. else, several candidates: the user names one (the error lists them).

An *update* (:func:`updates`) is an op that trains a variable: an
optimizer's ``Apply*`` / ``ResourceApply*`` / ``ResourceSparseApply*`` op
(input 0 the variable, the next ref/resource inputs its slots), or a write
(``Assign*``, ``Scatter*``) whose value is computed from gradients (Keras'
Assign-based optimizers). Writes that do not train (initialisers, the
saver's restores, batch-norm moving averages, step counters) are not
updates, but a training op runs some of them: :func:`training` says which
variables it writes, with what, and which variables are slots.

Nothing here imports TensorFlow.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import AmbiguousError, GraphSurgeonError, NotFoundError
from . import names as _names
from .protos import VariableDef
from .optypes import VARIABLE_TYPES, apply_slots, gradient_fed, is_apply, variable_of, writes_variable

__all__ = ["TRAIN_OP_COLLECTIONS", "Training", "updates", "candidates", "find_training_op", "training",
           "global_step"]

# Where a training op is looked for when none is named: TensorFlow's own
# collection (GraphKeys.TRAIN_OP), then the chapter's.
TRAIN_OP_COLLECTIONS = ("train_op", "my_important_ops")


class NoTrainingOp(GraphSurgeonError):
    """The graph runs no variable update: it is not a training graph."""


def _compute_updates(g) -> dict[str, str]:
    nodes = g.node_defs
    writes = [(name, node) for name, node in nodes.items() if writes_variable(node.op) and node.input]
    if not writes:
        return {}
    fed = None
    out = {}
    for name, node in writes:
        if not is_apply(node.op):
            if fed is None:
                fed = gradient_fed(g)
            if not any(_names.parse_input(t).op in fed for t in node.input[1:] if not t.startswith("^")):
                continue
        var = variable_of(g, node.input[0])
        if var is not None:
            out[name] = var
    return out


def updates(g) -> dict[str, str]:
    """``{op: variable it trains}``: every ``Apply*`` op, and every write of a value computed from gradients.

    Cached until the graph is edited.
    """
    return g.derived("training_op.updates", _compute_updates)


def _compute_candidates(g) -> list[str]:
    ups = updates(g)
    if not ups:
        return []
    downstream = g.descendants(list(ups), include_roots=True)
    order = {name: i for i, name in enumerate(g.node_defs)}
    return sorted((n for n in downstream if n in g.node_defs and not g.is_read(n)), key=order.get)


def candidates(g) -> list[str]:
    """Ops nothing reads that run variable updates: what could be the training op, in graph order."""
    return g.derived("training_op.candidates", _compute_candidates)


def _runs_updates(g, op: str) -> bool:
    ups = updates(g)
    return op in ups or any(a in ups for a in g.ancestors([op]))


def _collection_ops(g, key: str) -> list[str]:
    meta = g.meta_graph
    if meta is None or key not in meta.collection_def:
        return []
    coll = meta.collection_def[key]
    if coll.WhichOneof("kind") != "node_list":
        return []
    ops = [_names.split_tensor_name(v)[0] for v in coll.node_list.value]
    return [op for op in dict.fromkeys(ops) if op in g.node_defs]


def _outermost(g, ops: list[str]) -> list[str]:
    """The ops of ``ops`` that no other op of ``ops`` runs."""
    inner = set()
    for op in ops:
        inner |= g.ancestors([op]) & set(ops)
    return [op for op in ops if op not in inner]


def find_training_op(g, name: str | None = None, collections=TRAIN_OP_COLLECTIONS) -> str:
    """The training op of ``g``: ``name``, else found as the module documentation says.

    Raises:
        NotFoundError: ``name`` names no op (the closest names offered).
        NoTrainingOp: no op updates a variable, or ``name`` runs no update
            (the candidates are listed).
        AmbiguousError: several ops could be it (they are listed: name one).
    """
    found = candidates(g)
    listing = ", ".join(found[:8]) + (f" and {len(found) - 8} more" if len(found) > 8 else "")
    if name:
        if name not in g.node_defs:
            raise NotFoundError("training op", name, found + list(g.node_defs), where=g.where)
        if not _runs_updates(g, name):
            raise NoTrainingOp(f"{g.where}: {name!r} runs no variable update, so it is not a training op",
                               hint=f"training ops here: {listing}" if found else "this graph updates no variable")
        return name
    for key in collections:
        listed = [op for op in _collection_ops(g, key) if _runs_updates(g, op)]
        outer = _outermost(g, listed)
        if len(outer) == 1:
            # The loop runs what groups it, if one op does (tf.group(minimize(...), ema.apply(...))).
            above = [c for c in found if c != outer[0] and c in g.descendants([outer[0]])]
            return above[0] if len(above) == 1 else outer[0]
        if len(outer) > 1:
            raise AmbiguousError(f"{g.where}: collection {key!r} holds {len(outer)} training ops "
                                 f"({', '.join(outer)})", hint="name one with --training-op")
    if len(found) == 1:
        return found[0]
    if not found:
        raise NoTrainingOp(f"{g.where}: no training op: no op updates a variable (no optimizer Apply* op, no "
                           "write of a value computed from gradients)", hint="is it an inference graph?")
    raise AmbiguousError(f"{g.where}: {len(found)} ops could be the training op: {listing}",
                         hint="name one with --training-op")


def global_step(g) -> str | None:
    """The global step variable: the one the ``global_step`` collection holds, else a variable named so."""
    meta = g.meta_graph
    if meta is not None and "global_step" in meta.collection_def:
        for raw in meta.collection_def["global_step"].bytes_list.value:
            var = VariableDef()
            try:
                var.ParseFromString(raw)
            except Exception:  # noqa: BLE001 - a damaged entry names nothing
                continue
            name = _names.split_tensor_name(var.variable_name)[0]
            if name in g.node_defs:
                return name
    node = g.node_defs.get("global_step")
    return "global_step" if node is not None and node.op in VARIABLE_TYPES else None


@dataclass
class Training:
    """What a training op runs.

    Attributes:
        op: the training op.
        trained: ``{variable: [its updates]}``: the variables it trains, each
            with the ops that update it (and its slots).
        writes: ``{variable: [ops]}``: every write it runs, updates included
            (step counters, moving averages, an optimizer's shared state).
        slots: ``{variable: [slot variables]}``: the optimizer state kept per
            trained variable (``kernel/Adam``, Keras' ``.../kernel/m``).
        step: the global step variable it increments, or None.
    """

    op: str
    trained: dict[str, list[str]] = field(default_factory=dict)
    writes: dict[str, list[str]] = field(default_factory=dict)
    slots: dict[str, list[str]] = field(default_factory=dict)
    step: str | None = None

    def as_dict(self) -> dict:
        return {"op": self.op, "trained": self.trained, "slots": self.slots, "step": self.step}


def training(g, name: str | None = None, collections=TRAIN_OP_COLLECTIONS) -> Training:
    """What the training op (:func:`find_training_op`) runs: see :class:`Training`."""
    op = find_training_op(g, name, collections)
    nodes = g.node_defs
    upstream = g.ancestors([op], include_roots=True)
    ups = updates(g)
    out = Training(op)
    for name_ in g.node_defs:  # graph order
        if name_ not in upstream:
            continue
        node = nodes[name_]
        if not writes_variable(node.op) or not node.input:
            continue
        var = variable_of(g, node.input[0])
        if var is None:
            continue
        out.writes.setdefault(var, []).append(name_)
        if name_ in ups:
            out.trained.setdefault(var, []).append(name_)
            if is_apply(node.op):
                for slot in apply_slots(g, name_):
                    if slot != var and slot not in out.slots.setdefault(var, []):
                        out.slots[var].append(slot)
    _assign_slots(g, out)
    for slots in out.slots.values():
        for slot in slots:
            out.trained.pop(slot, None)
    out.slots = {v: s for v, s in out.slots.items() if s and v in out.trained}
    step = global_step(g)
    if step is not None and step in out.writes and step not in out.trained:
        out.step = step
    return out


def _assign_slots(g, out: Training) -> None:
    """Slots written by Assign-style updates (Keras' older optimizers): a variable ``s`` is a slot of ``v``
    when the value written to ``s`` is computed on the way to ``v``'s new value and to no other's."""
    nodes = g.node_defs
    ups = updates(g)
    assigned = {var: [w for w in ws if w in ups and not is_apply(nodes[w].op)] for var, ws in out.trained.items()}
    assigned = {var: ws for var, ws in assigned.items() if ws}
    if len(assigned) < 2:
        return

    def value_ancestors(writes):
        roots = [_names.parse_input(t).op for w in writes for t in nodes[w].input[1:] if not t.startswith("^")]
        return g.ancestors(roots, control=False, include_roots=True)

    feeds = {var: value_ancestors(ws) for var, ws in assigned.items()}
    values = {var: {_names.parse_input(t).op for w in ws for t in nodes[w].input[1:] if not t.startswith("^")}
              for var, ws in assigned.items()}
    for slot, written in values.items():
        owners = [var for var in assigned if var != slot and written & feeds[var]]
        if len(owners) == 1 and not values[owners[0]] & feeds[slot]:
            out.slots.setdefault(owners[0], []).append(slot)
