"""Freeze layers of a training graph: they leave ``trainable_variables`` and the training op.

Editing the ``trainable_variables`` collection alone does not freeze
anything: the training op already holds gradients and update ops for every
variable it was built over. So :func:`freeze_layers` rebuilds the training
machinery:

1. :func:`strip_training` (TensorFlow-free) removes the training op, its
   gradients, its optimizer's update ops and slot variables, the ``init`` op
   and the saver, and records what is needed to rebuild them: the loss (found
   from the op that reads the gradients' seed ``.../gradients/grad_ys_0``:
   ``.../gradients/loss/loss_grad/...`` means ``loss/loss:0``), the optimizer
   kind and hyper-parameters (read from the constants its ``Apply*`` ops read),
   the training op's name and its place in collections.
2. :func:`pin_inference` (TensorFlow-free) makes frozen batch-norm layers run in
   inference mode: the bool switch (``training:0``) that their ops read is
   replaced by a constant False inside those scopes, and their moving-average
   update ops are removed (and so leave ``update_ops``). Without this a frozen
   batch norm would still move its statistics whenever ``training`` is fed True.
3. :func:`graphsurgeon.tfbuild.rebuild_training` (TensorFlow) imports the
   result, removes the frozen variables from ``trainable_variables``, builds
   the same optimizer's ``minimize(loss, var_list=trainable)`` under
   ``control_dependencies(update_ops)`` with the old training op's name, puts
   it back where it was in ``train_op`` / ``my_important_ops``, restores every
   variable still present from the checkpoint and writes a new checkpoint.

Gradient transformations between ``compute_gradients`` and
``apply_gradients`` (per-gradient clipping, for instance) are not carried
over; when the stripped part contained ``clip_by_*`` ops the result's notes say so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import names as _names
from ..changes import Changes
from ..errors import NotFoundError, RewriteError, UsageError
from ..graph import Graph
from ..vocabulary import VARIABLE_TYPES

__all__ = ["freeze_layers", "strip_training", "pin_inference", "TrainingInfo", "find_training_op"]

_GRAD_SCOPE = re.compile(r"(^|/)(gradients(_\d+)?)/")
_STATE_WRITERS = ("Assign", "AssignAdd", "AssignSub", "AssignVariableOp", "AssignAddVariableOp",
                  "AssignSubVariableOp")
# Optimizer kinds we can rebuild, by Apply op type: input positions of the hyper-parameters.
_OPTIMIZERS = {
    "ApplyGradientDescent": ("GradientDescent", {"learning_rate": 1}),
    "ResourceApplyGradientDescent": ("GradientDescent", {"learning_rate": 1}),
    "ApplyMomentum": ("Momentum", {"learning_rate": 2, "momentum": 4}),
    "ResourceApplyMomentum": ("Momentum", {"learning_rate": 2, "momentum": 4}),
    "ApplyAdam": ("Adam", {"learning_rate": 5, "beta1": 6, "beta2": 7, "epsilon": 8}),
    "ResourceApplyAdam": ("Adam", {"learning_rate": 5, "beta1": 6, "beta2": 7, "epsilon": 8}),
    "ApplyRMSProp": ("RMSProp", {"learning_rate": 3, "decay": 4, "momentum": 5, "epsilon": 6}),
    "ResourceApplyRMSProp": ("RMSProp", {"learning_rate": 3, "decay": 4, "momentum": 5, "epsilon": 6}),
}


@dataclass
class TrainingInfo:
    """What :func:`strip_training` removed and how to rebuild it."""

    training_op: str                  # "train/training_op"
    loss: str                         # "loss/loss:0"
    optimizer: str                    # "GradientDescent", "Momentum", "Adam", "RMSProp"
    hyperparameters: dict = field(default_factory=dict)
    collections: dict = field(default_factory=dict)  # collection -> index the training op had
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"training_op": self.training_op, "loss": self.loss, "optimizer": self.optimizer,
                "hyperparameters": self.hyperparameters, "collections": self.collections, "notes": self.notes}


def find_training_op(g: Graph, name: str | None = None) -> str:
    """The training op: ``name``, else the ``train_op`` collection's, else the op ``my_important_ops`` holds."""
    if name:
        return g.op(name).name
    meta = g.meta_graph
    if meta is not None:
        for key in ("train_op", "my_important_ops"):
            coll = meta.collection_def.get(key) if key in meta.collection_def else None
            if coll is None or coll.WhichOneof("kind") != "node_list":
                continue
            for value in coll.node_list.value:
                op_name = _names.split_tensor_name(value)[0]
                if op_name in g and _has_gradients_upstream(g, op_name):
                    return op_name
    raise NotFoundError("training op", name or "train_op", [], where=g.where)


def _has_gradients_upstream(g: Graph, op_name: str) -> bool:
    op = g.op(op_name)
    return any(_GRAD_SCOPE.search(t.op_name) for t in op.inputs) or any(
        c.type.startswith(("Apply", "ResourceApply")) or c.type == "NoOp" and _has_gradients_upstream(g, c.name)
        for c in op.control_inputs) or op.type.startswith(("Apply", "ResourceApply"))


def _const_value(g: Graph, tensor: str):
    """The constant behind ``tensor`` (through Identity / Cast), or None."""
    from ..values import to_numpy

    op = g.op(tensor)
    for _ in range(8):
        if op.type == "Const":
            value = to_numpy(op.node.attr["value"].tensor, op.name)
            return value.item() if value.size == 1 else value.tolist()
        if op.type not in ("Identity", "Cast") or not op.inputs:
            return None
        op = op.inputs[0].op
    return None


def _upstream(g: Graph, roots, stop=frozenset()) -> set[str]:
    """Ops ``roots`` reach backwards over data and control edges (iterative)."""
    seen: set[str] = set()
    stack = [r for r in roots if r in g.node_defs]
    while stack:
        name = stack.pop()
        if name in seen or name in stop:
            continue
        seen.add(name)
        for text in g.node_defs[name].input:
            ref = _names.parse_input(text)
            if ref.op in g.node_defs and ref.op not in seen:
                stack.append(ref.op)
    return seen


def _downstream(g: Graph, roots) -> set[str]:
    """Ops reachable forwards from ``roots`` over data and control edges (iterative)."""
    consumers = g.uses
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(c for c, _, _ in consumers(name) if c not in seen)
    return seen


def _saver_ops(g: Graph) -> set[str]:
    meta = g.meta_graph
    if meta is None or not meta.HasField("saver_def"):
        return set()
    scope = _names.scope_of(_names.split_tensor_name(meta.saver_def.filename_tensor_name)[0])
    return {op.name for op in g.ops(scope=scope)} if scope else set()


def strip_training(g: Graph, training_op: str | None = None, loss: str | None = None
                   ) -> tuple[Graph, TrainingInfo, Changes]:
    """Remove the training op, its gradients, optimizer, slots, ``init`` and saver (TensorFlow-free).

    Args:
        g: a training graph with a MetaGraphDef.
        training_op: its name (default: from the ``train_op`` or
            ``my_important_ops`` collection).
        loss: the loss tensor (default: found from the gradients' seed).

    Returns:
        ``(stripped copy, TrainingInfo, Changes)``.

    Raises:
        RewriteError: no gradients, or an optimizer this module cannot rebuild.
    """
    if g.meta_graph is None:
        raise UsageError(f"{g.where}: a training graph needs its MetaGraphDef (.meta, checkpoint or SavedModel)")
    t_op = find_training_op(g, training_op)
    upstream_t = _upstream(g, [t_op])
    grad_ops = {n for n in upstream_t if _GRAD_SCOPE.search(n)}
    if not grad_ops:
        raise RewriteError(f"{t_op!r} has no gradients upstream; it is not a training op this can rebuild")
    # Whole gradients scopes: tf.gradients also leaves ops nothing uses (zeros_like, Shape).
    prefixes = tuple({n[:_GRAD_SCOPE.search(n).end()] for n in grad_ops})
    grad_ops |= {n for n in g.node_defs if n.startswith(prefixes)}
    # The loss: the op differentiated from the seed .../gradients/grad_ys_0.
    if loss is None:
        seeds = [n for n in grad_ops if re.search(r"(^|/)gradients(_\d+)?/grad_ys_0$", n)]
        found = set()
        for seed in seeds:
            for consumer in g.op(seed).consumers:
                m = re.search(r"(?:^|/)gradients(?:_\d+)?/(.+?)_grad/", consumer.name)
                if m and m.group(1) in g:
                    found.add(m.group(1))
        if len(found) != 1:
            raise RewriteError(f"cannot tell which loss {t_op!r} minimizes (candidates: {sorted(found) or 'none'})",
                               hint="name it with --loss")
        loss = f"{found.pop()}:0"
    loss = g.tensor(loss).name
    # Optimizer kind and hyper-parameters, from its Apply ops.
    kinds: dict[tuple, list[str]] = {}
    for name in upstream_t:
        op_type = g.node_defs[name].op
        if op_type.startswith(("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply")):
            spec = _OPTIMIZERS.get(op_type)
            if spec is None:
                raise RewriteError(f"{t_op!r} uses {op_type} ({name}); rebuilding that optimizer is not supported",
                                   hint="supported: GradientDescent, Momentum, Adam, RMSProp")
            kind, positions = spec
            inputs = g.op(name).input_names
            hyper = tuple(sorted((k, _const_value(g, inputs[i])) for k, i in positions.items()))
            if op_type.endswith("Momentum"):
                hyper += (("use_nesterov", bool(g.node_defs[name].attr["use_nesterov"].b)),)
            if op_type.endswith("Adam") and g.node_defs[name].attr["use_nesterov"].b:
                raise RewriteError(f"{name}: Adam with use_nesterov cannot be rebuilt")
            kinds.setdefault((kind, hyper), []).append(name)
    if len(kinds) != 1:
        raise RewriteError(f"{t_op!r} applies {len(kinds)} different optimizer settings; cannot rebuild it"
                           if kinds else f"{t_op!r} applies no optimizer update")
    (kind, hyper), apply_ops = next(iter(kinds.items()))
    hyperparameters = dict(hyper)
    if any(v is None for v in hyperparameters.values()):
        raise RewriteError(f"{apply_ops[0]}: a hyper-parameter is not a constant; cannot rebuild {kind}")

    # What goes: gradients and everything they feed, the training op, what only
    # they need, optimizer state variables, init and the saver.
    remove = _downstream(g, grad_ops | {t_op})
    # Kept whatever happens: the loss and what collections name (update_ops...).
    protected = {loss.split(":")[0]}
    for key, coll in g.meta_graph.collection_def.items():
        if coll.WhichOneof("kind") == "node_list":
            protected.update(_names.split_tensor_name(v)[0] for v in coll.node_list.value)
    protected.discard(t_op)
    clash = protected & remove - {t_op}
    if clash:
        raise RewriteError(f"{sorted(clash)[0]!r} is named in a collection but computed from the gradients; "
                           "cannot rebuild the training op around it")
    consumers = g.uses
    changed = True
    while changed:  # ops upstream of the training op that only removed ops read
        changed = False
        for name in upstream_t - remove - protected:
            node = g.node_defs[name]
            if node.op in VARIABLE_TYPES or node.op in ("Placeholder", "PlaceholderWithDefault"):
                continue
            users = consumers(name)
            if users and all(c in remove for c, _, _ in users):
                remove.add(name)
                changed = True
    var_names = {op.name for op in g.ops(type=list(VARIABLE_TYPES))}
    state = set()
    for var in var_names:
        own = {var} | {n for n in g.node_defs if n.startswith(var + "/") and n not in var_names}
        users = {c for o in own for c, _, _ in consumers(o) if c not in own}
        users -= _saver_ops(g) | {"init"}
        if users and users <= remove:
            state.add(var)
    init_ops = {n for n in ("init",) if n in g.node_defs and g.node_defs[n].op == "NoOp"}
    remove |= state | init_ops | _saver_ops(g)
    remove = _downstream(g, remove)
    keep_check = [n for n in (loss.split(":")[0],) if n in remove]
    if keep_check:
        raise RewriteError(f"the loss {loss!r} would be removed with the training machinery")

    info = TrainingInfo(training_op=t_op, loss=loss, optimizer=kind, hyperparameters=hyperparameters)
    meta = g.meta_graph
    for key, coll in meta.collection_def.items():
        if coll.WhichOneof("kind") == "node_list":
            for i, value in enumerate(coll.node_list.value):
                if _names.split_tensor_name(value)[0] == t_op:
                    info.collections[key] = i
    if any("clip_by" in n for n in remove):
        info.notes.append("the old training op clipped gradients (clip_by_* ops); the rebuilt one does not")
    out = g.copy()
    if out.meta_graph.HasField("saver_def"):
        out.meta_graph.ClearField("saver_def")
    changes = out.remove_ops(remove)
    changes.notes.extend(info.notes)
    return out, info, changes


def pin_inference(g: Graph, bn_scopes, changes: Changes | None = None) -> Changes:
    """Make batch-norm scopes run in inference mode, in place (TensorFlow-free).

    Inside each scope, ops reading a bool tensor from outside (the
    ``training`` switch) read a new constant False ``<scope>/inference_mode``
    instead; the scope's ops that write its variables (the moving-average
    updates) are removed with what only they need, and so leave ``update_ops``.
    """
    from ..protos import node_def_pb2

    changes = changes if changes is not None else Changes()
    bool_types = {"bool"}
    for scope in bn_scopes:
        prefix = scope + "/"
        members = [op for op in g.ops(scope=scope)]
        member_names = {op.name for op in members}
        switches = {}
        for op in members:
            for t in op.inputs:
                if t.op_name not in member_names and t.dtype in bool_types:
                    switches.setdefault(t.name, []).append(op.name)
        if switches:
            const_name = prefix + "inference_mode"
            if const_name not in g:
                node = node_def_pb2.NodeDef(name=const_name, op="Const")
                node.attr["dtype"].type = 10  # DT_BOOL
                node.attr["value"].tensor.dtype = 10
                node.attr["value"].tensor.bool_val.append(False)
                g.add_op(node)
                changes.added.append(const_name)
            for tensor, readers in switches.items():
                for reader in dict.fromkeys(readers):
                    node = g.node_defs[reader]
                    new = [const_name if (not t.startswith("^") and _names.parse_input(t).tensor == tensor) else t
                           for t in node.input]
                    g.set_inputs(reader, new)
                    changes.changed.append(reader)
        # Moving-statistics updates: writers of the scope's variables other than their initializers.
        variables_here = {op.name for op in members if op.type in VARIABLE_TYPES}
        writers = set()
        for op in members:
            if op.type in _STATE_WRITERS and op.inputs and op.inputs[0].op_name in variables_here:
                if op.name.startswith(op.inputs[0].op_name + "/"):
                    continue  # the variable's own initializer
                writers.add(op.name)
        if writers:
            consumers = g.uses
            # What reads the updates inside the scope (resource style reads the new value back).
            remove = set(writers) | (_downstream(g, writers) & member_names)
            grow = True
            while grow:  # plus what only the writers read, inside the scope
                grow = False
                for name in member_names - remove:
                    node = g.node_defs.get(name)
                    if node is None or node.op in VARIABLE_TYPES:
                        continue
                    users = consumers(name)
                    if users and all(c in remove for c, _, _ in users):
                        remove.add(name)
                        grow = True
            stray = [c for n in remove for c, _, _ in consumers(n) if c not in remove]
            if stray:
                raise RewriteError(f"cannot pin {scope!r} to inference: {stray[0]!r} reads its update ops",
                                   hint="strip the training op first")
            changes.extend(g.remove_ops(remove))
    return changes


def freeze_layers(model: str | Path | Graph, scopes, out_dir: str | Path, *, training_op: str | None = None,
                  loss: str | None = None, force: bool = False) -> dict:
    """Freeze ``scopes`` of a training model and write ``out_dir/model.ckpt`` (uses TensorFlow).

    Each scope's variables leave ``trainable_variables``; the training op is
    rebuilt over the rest (see the module documentation); frozen batch-norm
    scopes run in inference mode. A scope given as a dense layer brings
    the batch-norm layers of its block (:func:`graphsurgeon.layers.block`).

    Args:
        model: a checkpoint directory / prefix / ``.meta`` (with its checkpoint), or a loaded Graph.
        scopes: layer names (``hidden1``) to freeze.
        out_dir: output directory (``model.ckpt.*`` and ``checkpoint`` are written there).

    Returns:
        A report dict: ``output``, ``frozen`` (scopes), ``frozen_variables``,
        ``trainable_variables``, ``training`` (TrainingInfo as dict), ``removed_ops``.

    Example:
        >>> freeze_layers("fixtures/models/mnist_bn_elu_tf1", ["hidden1", "hidden2"], "/tmp/frozen12")  # doctest: +SKIP
    """
    import graphsurgeon as gs

    from ..layers import block, layers

    g = model if isinstance(model, Graph) else gs.load(model)
    checkpoint = _checkpoint_of(g)
    scopes = [s.rstrip("/") for s in ([scopes] if isinstance(scopes, str) else scopes)]
    if not scopes:
        raise UsageError("name at least one layer to freeze")
    found = layers(g)
    frozen: list[str] = []
    for scope in scopes:
        for member in block(g, scope, found):
            if member not in frozen:
                frozen.append(member)
    stripped, info, changes = strip_training(g, training_op, loss)
    bn = [s for s in frozen if next(item for item in found if item.name == s).kind == "batch_norm"]
    pin_inference(stripped, bn, changes)
    frozen_vars = [v.name for item in found if item.name in frozen for v in item.variables]
    from .. import tfbuild

    result = tfbuild.rebuild_training(stripped, info, checkpoint, out_dir, frozen_vars=frozen_vars, force=force)
    result.update(frozen=frozen, removed_ops=len(changes.removed), notes=info.notes + result.get("notes", []))
    return result


def _checkpoint_of(g: Graph) -> str:
    model = g.root.model
    if model is None or not model.checkpoint:
        raise UsageError(f"{g.where}: no checkpoint found next to the graph",
                         hint="give the checkpoint directory or prefix")
    return str(model.checkpoint)
