"""Prune a graph to what some outputs need, optionally cutting it at inputs.

What an output needs is everything it reaches backwards through three kinds
of edges: data inputs, control inputs (``^op``) and colocation constraints
(``loc:@op`` in the ``_class`` attribute; TensorFlow refuses to import a
graph whose op asks to be colocated with an op that is not there).
TensorFlow's own ``extract_sub_graph`` follows the first two only.

Cutting at an input tensor replaces it with a new ``Placeholder`` of the
tensor's dtype (the base dtype: a ``float32_ref`` becomes ``float32``) and
shape; what lies only behind it is dropped. The placeholder takes the name of
the op it replaces when the tensor is that op's output 0 and nothing kept
still needs the op itself, so control inputs and colocations naming the op
stay valid; otherwise it is named ``<op>_output_<index>`` (made unique).

A SavedModel's main op (``saved_model_main_op`` / ``legacy_init_op``, or TF2's
``__saved_model_init_op``, which initialises its lookup tables) stays with
what it needs: the loader runs it. A TF2 SavedModel's saver (calls of its
traced save and restore functions) stays whole, and so does a TF1 saver
when every variable it restores stays. Otherwise the TF1 saver, whose save
and restore ops name every variable, goes;
when variables it restored remain, a saver over them takes its place under
the same checkpoint keys and slices
(:func:`graphsurgeon.surgery.new_saver.keep_saver`), so the result restores
from the original checkpoint as the original did (shadow variables of a
moving average included).

Walks are iterative and cycle-safe: TF1 while loops have back edges
(``NextIteration -> Merge``), and keeping a loop's exit keeps the whole loop.
"""
from __future__ import annotations

from collections.abc import Iterable

from ..errors import RewriteError, UsageError
from ..ir.changes import Changes
from ..ir.graph import Graph, Tensor, format_shape
from ..metagraph.collections import main_ops
from ..metagraph.saver import saver_entries
from ..metagraph.variables import variable_defs
from ..vocab import dtypes as _dtypes
from ..vocab import names as _names
from ..vocab.protos import node_def_pb2
from ..wording import plural
from .new_saver import keep_saver as rebuild_saver
from .rewrite import rewrite

__all__ = ["prune", "needed_ops"]

# How a walk reached an op: FULL needs the op's computation (its inputs are
# walked); NAME needs only an op of that name to exist (a control input, a
# colocation, an op named as an output) -- a placeholder that replaces the op
# under the same name satisfies it.
_FULL, _NAME = 1, 0


def _colocations(node) -> list[str]:
    if "_class" not in node.attr:
        return []
    out = []
    for text in node.attr["_class"].list.s:
        op = _names.colocation_op(text)
        if op:
            out.append(op)
    return out


def needed_ops(g: Graph, outputs: Iterable[str], cut: Iterable[tuple[str, int]] = (),
               colocation: bool = True) -> tuple[set, set, set]:
    """The ops that ``outputs`` need, walking data, control and colocation edges.

    Args:
        g: the graph.
        outputs: op names (``train/training_op``) or tensor names (``logits:0``).
        cut: ``(op, index)`` tensors at which data edges stop.
        colocation: follow ``loc:@`` colocation constraints (False walks
            what TensorFlow's ``extract_sub_graph`` walks).

    Returns:
        ``(full, name_only, used_cuts)``: ops whose computation is needed;
        ops that need only exist by name (reached by control or colocation
        edges, or named as outputs, without their computation being needed
        -- reported only for ops whose output 0 is cut); and the cut tensors
        that are actually crossed.
    """
    cut = set(cut)
    replaceable = {op for op, index in cut if index == 0}
    nodes = g.node_defs
    full: set[str] = set()
    name_only: set[str] = set()
    used: set[tuple[str, int]] = set()
    stack: list[tuple[str, int]] = []
    for out in outputs:
        if _names.is_tensor_name(out):
            ref = _names.split_tensor_name(out)
            if ref in cut:
                used.add(ref)
                continue
            stack.append((ref[0], _FULL))
        else:
            stack.append((out, _NAME))
    while stack:
        name, how = stack.pop()
        if name in full:
            continue
        if how == _NAME and name in replaceable:
            name_only.add(name)
            continue
        full.add(name)
        node = nodes.get(name)
        if node is None:  # a dangling reference in the input graph: kept as it was
            continue
        for text in node.input:
            if text.startswith("^"):
                stack.append((text[1:], _NAME))
                continue
            ref = _names.split_tensor_name(text)
            if ref in cut:
                used.add(ref)
            else:
                stack.append((ref[0], _FULL))
        if colocation:
            for op in _colocations(node):
                stack.append((op, _NAME))
    name_only -= full
    return full, name_only, used


def _resolve(g: Graph, names: Iterable[str], what: str) -> list[str]:
    out = []
    for name in names:
        if not isinstance(name, str):
            name = name.name
        name = name.strip()
        if not name:
            raise UsageError(f"empty {what} name")
        if name.startswith("^"):
            name = name[1:]
        if what == "input":
            tensor = g.tensor(name)  # a bare op name means its output 0
            out.append(tensor.name)
        else:
            g.get(name)  # raises NotFoundError with the closest names
            out.append(name)
    return out


def _placeholder_name(g: Graph, op: str, index: int, reuse_op_name: bool, taken: set[str]) -> str:
    if reuse_op_name:
        return op
    return _names.unique_name(f"{op}_output_{index}", taken, g.node_defs)


def _placeholder_def(g: Graph, name: str, tensor: Tensor, device: str):
    dtype = _dtypes.base(tensor.dtype)
    if dtype is None:
        raise RewriteError(f"cannot cut at {tensor.name!r}: its dtype is unknown "
                           f"(op type {tensor.op.type!r} is not in the op registry)")
    node = node_def_pb2.NodeDef(name=name, op="Placeholder", device=device)
    node.attr["dtype"].type = _dtypes.number(dtype)
    shape = tensor.shape
    proto = node.attr["shape"].shape
    if shape is None:
        proto.unknown_rank = True
    else:
        for d in shape:
            proto.dim.add(size=-1 if d is None else int(d))
    return node


def _variable_companions(g: Graph, ops: set[str]) -> set[str]:
    """Ops named by the VariableDefs (in the meta graph's collections) of variables in ``ops``."""
    meta = g.meta_graph
    if meta is None:
        return set()

    out: set[str] = set()
    for _, var in variable_defs(meta):
        if _names.split_tensor_name(var.variable_name)[0] not in ops:
            continue
        for name in (var.initializer_name, var.initial_value_name, var.snapshot_name):
            if name:
                op = _names.split_tensor_name(name.lstrip("^"))[0]
                if op in g.node_defs:
                    out.add(op)
    return out


@rewrite(requires=("top_level",), reports=True)
def prune(g: Graph, outputs: str | Iterable[str], inputs: str | Iterable[str] | None = None,
          keep_initializers: bool = True, keep_saver: bool | None = None) -> tuple[Graph, Changes]:
    """Keep only what ``outputs`` need; optionally cut the graph at ``inputs``.

    The input graph is not modified: the result is an edited copy.
    Collections, signatures and the saver that named removed ops are fixed
    (see :meth:`Graph.remove_ops`), and what had to go is listed in the
    returned Changes' ``dropped``. The function library is kept whole.

    Args:
        g: the graph to prune.
        outputs: tensor names (``"logits:0"``) or op names (``"train/training_op"``).
        inputs: tensor names (a bare op name means its output 0) to replace
            with new Placeholders of the same dtype and shape.
        keep_initializers: keep what loading the result needs besides the
            outputs: for each kept variable the ops its VariableDef names
            (initializer, initial value, snapshot), so that the variable
            collections stay valid; a SavedModel's main op; and a saver in
            place of the model's own (see the module docstring), so that the
            result restores from the original checkpoint. Only graphs with a
            MetaGraphDef have these. TensorFlow's ``extract_sub_graph`` keeps
            none of them (False: the same ops as it).
        keep_saver: keep the model's saver (whole when every variable it
            restores stays, else rebuilt over those that do; default: as
            ``keep_initializers``); False for a caller that builds a saver
            of its own (export).

    Returns:
        ``(pruned graph, Changes)``: ``removed`` lists the ops that went,
        ``added`` the new placeholders (and a rebuilt saver's ops), ``renamed`` cut tensors whose
        placeholder has a new name (``{"split:1": "split_output_1:0"}``).

    Raises:
        NotFoundError: an output or input names nothing in the graph.
        RewriteError: an input's dtype is unknown, so no placeholder can stand for it.

    Example:
        >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_tf1/model.ckpt.meta")
        >>> small, changes = graphsurgeon.prune(g, ["logits:0"], inputs=["Elu:0"])
        >>> small.op("Elu").type
        'Placeholder'
        >>> small.op("Elu").output(0).shape
        (None, 300)
    """
    if isinstance(outputs, str):
        outputs = [outputs]
    if isinstance(inputs, str):
        inputs = [inputs]
    outputs = _resolve(g, outputs, "output")
    if not outputs:
        raise UsageError("prune needs at least one output")
    cut_names = _resolve(g, inputs or [], "input")
    cut = {_names.split_tensor_name(t) for t in cut_names}

    # A SavedModel's loader runs its main op after restoring (and refuses a main-op collection
    # naming nothing): it stays, with what it needs (the lookup tables it initialises).
    init_ops = [op for op in main_ops(g) if op not in outputs] if keep_initializers else []
    # The model's saver: a TF2 SavedModel's calls its traced save and restore functions over every
    # variable of its object graph, so it stays whole; a TF1 one stays whole when every variable it
    # restores stays, else it is rebuilt over those that do (below).
    saver_ops = _saver_ops(g) if (keep_initializers if keep_saver is None else keep_saver) else []
    tf2 = g.meta_graph is not None and len(g.meta_graph.object_graph_def.nodes) > 0
    roots = list(outputs) + init_ops + (saver_ops if tf2 else [])
    full, name_only, used = needed_ops(g, roots, cut)
    walked_for_outputs = len(full)
    kept_for_variables: set[str] = set()
    if keep_initializers:
        # A kept variable keeps what its VariableDef names (initializer,
        # initial value, snapshot): TensorFlow cannot rebuild the variable
        # from the collection without them, and tf.compat.v1.train.Saver()
        # finds the variables to restore through that collection.
        while True:
            extra = _variable_companions(g, full) - full
            if not extra:
                break
            kept_for_variables |= extra
            full, name_only, used = needed_ops(g, roots + sorted(kept_for_variables), cut)
    if saver_ops and not tf2:
        restored = saver_entries(g)
        if restored and all(var in full for var in restored):
            roots += saver_ops
            full, name_only, used = needed_ops(g, roots + sorted(kept_for_variables), cut)
        else:
            saver_ops = []
    # Every cut tensor gets a placeholder if something kept reads it; an op
    # replaced under its own name also stands for control/colocation needs.
    placeholders: dict[tuple[str, int], str] = {}
    taken: set[str] = set()
    for op, index in sorted(used | {(n, 0) for n in name_only}):
        name = _placeholder_name(g, op, index, reuse_op_name=index == 0 and op not in full, taken=taken)
        taken.add(name)
        placeholders[(op, index)] = name

    changes = Changes()
    if init_ops:
        changes.notes.append(f"main op: {', '.join(init_ops)} stays, with what it needs: the SavedModel loader runs "
                             "it after restoring (lookup tables, assets)")
    if saver_ops:
        changes.notes.append("saver: the TF2 SavedModel's saver stays whole, with what it needs: its restore "
                             "function restores every variable of the object graph" if tf2 else
                             "saver: the model's own saver stays whole: every variable it restores stays")
    if kept_for_variables:
        changes.notes.append(f"kept {plural(len(full) - walked_for_outputs, 'op')} that the kept variables' "
                             "initializers need (not keeping the initializers drops them)")
    for t in cut_names:
        if _names.split_tensor_name(t) not in placeholders:
            changes.notes.append(f"input {t} is not needed by the outputs; no placeholder was made for it")

    new_defs = [_placeholder_def(g, name, g.tensor(f"{op}:{index}"), g.node_defs[op].device)
                for (op, index), name in placeholders.items()]

    out = g.copy()
    in_place = {name for (op, _), name in placeholders.items() if name == op}
    # Kept ops that read a cut tensor read its placeholder (data inputs; one cut in place keeps the name).
    for (op, index), name in placeholders.items():
        if (name, 0) != (op, index):
            out.rewire(f"{op}:{index}", f"{name}:0", only=full)
    # Ops replaced under their own name become placeholders in place (their
    # position, and every reference to their name, stays).
    for node_def in new_defs:
        if node_def.name in in_place:
            out.replace_op(node_def)
    remove = [n.name for n in out.graph_def.node if n.name not in full and n.name not in in_place]
    if remove:
        changes.extend(out.remove_ops(remove, check=True))
    if keep_initializers if keep_saver is None else keep_saver:
        saver_ops, notes = rebuild_saver(g, out, changes.dropped)  # when the saver went
        # An op of the old saver's name (save/RestoreV2) is one of the new saver: changed, not removed;
        # one the new saver makes as the old one had it (save/Const) is the old one, unchanged.
        again = set(saver_ops) & set(changes.removed)
        same = {n for n in again if _same_op(g.node_defs[n], out.node_defs[n])}
        for name in same:
            out.replace_op(g.node_defs[name])
        changes.removed = [n for n in changes.removed if n not in again]
        changes.changed.extend(n for n in saver_ops if n in again - same)
        changes.added.extend(n for n in saver_ops if n not in again)
        changes.notes.extend(notes)
    for node_def in new_defs:
        if node_def.name not in in_place:
            out.add_op(node_def)
    changes.changed.extend(sorted(in_place))
    changes.added.extend(d.name for d in new_defs if d.name not in in_place)
    for (op, index), name in placeholders.items():
        if name != op or index != 0:
            changes.renamed[f"{op}:{index}"] = f"{name}:0"
    changes.notes.extend(out.retarget_references(changes.renamed))
    if in_place or new_defs:
        changes.notes.extend(f"cut at {op}:{index}: now Placeholder {name} "
                             f"({_dtypes.base(g.tensor(f'{op}:{index}').dtype)} "
                             f"{_shape_text(g.tensor(f'{op}:{index}').shape)})"
                             for (op, index), name in placeholders.items())
    out.ensure_op_defs({"Placeholder"} if new_defs else set())
    return out, changes


def _saver_ops(g: Graph) -> list[str]:
    """The ops the saver_def names (filename, save and restore), those in the graph."""
    meta = g.meta_graph
    if meta is None or not meta.HasField("saver_def"):
        return []
    saver = meta.saver_def
    names = (saver.filename_tensor_name, saver.save_tensor_name, saver.restore_op_name)
    return [op for op in dict.fromkeys(_names.split_tensor_name(n.lstrip("^"))[0] for n in names if n)
            if op in g.node_defs]


def _same_op(a, b) -> bool:
    """Whether two NodeDefs are the same op: control inputs in any order, ``_output_shapes`` aside."""
    def inputs(node):
        return ([i for i in node.input if not i.startswith("^")], sorted(i for i in node.input if i.startswith("^")))

    if a.op != b.op or inputs(a) != inputs(b) or a.device != b.device:
        return False
    keys = (set(a.attr) | set(b.attr)) - {"_output_shapes"}
    return all(k in a.attr and k in b.attr and a.attr[k] == b.attr[k] for k in keys)


def _shape_text(shape) -> str:
    return format_shape(shape)
