"""The graph's own saver: which checkpoint key holds each variable (TensorFlow-free).

A TF1 ``Saver`` restores with ``RestoreV2`` (or ``Restore`` / ``RestoreSlice``)
whose ``tensor_names`` input is a constant list of checkpoint keys, each
output assigned (``Assign`` / ``AssignVariableOp``) to one variable. A TF2
SavedModel does the same inside its ``__inference__traced_restore_*``
function, whose ``_Arg`` handles map to the call's inputs at the top level.
"""
from __future__ import annotations

from ..analysis.constants import Constants, source_op
from ..errors import NotFoundError, UsageError
from ..vocab import names as _names
from ..vocab.optypes import PASS_THROUGH, RESTORE_TYPES
from .variables import variable_defs

# Ops that set a variable to a value (a restored tensor, an initial value): input 0 the variable, 1 the value.
ASSIGN_TYPES = ("Assign", "AssignVariableOp")


def set_saver_def(graph, saver_def=None) -> None:
    """Make ``saver_def`` the MetaGraphDef's SaverDef, in place; None removes it.

    Without a ``saver_def``, ``import_meta_graph`` makes a default ``Saver``
    over the ``variables`` collection (see :func:`restores`). Through
    :meth:`graphsurgeon.Graph.set_saver_def`, which keeps the Graph's derived
    facts current.
    """
    meta = graph.root.meta_graph
    if meta is None:
        if saver_def is None:
            return
        raise UsageError(f"{graph.root.where}: is a plain GraphDef, which holds no saver",
                         hint="g.as_meta_graph() gives it a MetaGraphDef")
    if saver_def is None:
        meta.ClearField("saver_def")
    else:
        meta.saver_def.CopyFrom(saver_def)


def _restore_targets(graph, only=None) -> dict[str, tuple[str, str]]:
    """``{variable or handle op in graph: (checkpoint key, slice spec)}`` from the restore ops of one graph.

    The slice spec is ``""`` for a whole tensor, else TensorFlow's
    ``"full shape slice"`` text (``"10 4 0,5:-"``: a partitioned variable's part).
    ``only``: the restore ops to read (default: all of them).
    """
    consts = Constants(graph)
    out = {}
    for node in graph.graph_def.node:
        if node.op not in RESTORE_TYPES or len(node.input) < 2 or (only is not None and node.name not in only):
            continue
        keys = consts.strings(node.input[1])
        if not keys:
            continue
        specs = (consts.strings(node.input[2]) if node.op != "Restore" and len(node.input) > 2 else None) or []
        specs = specs if len(specs) == len(keys) else [""] * len(keys)
        for index, (key, spec) in enumerate(zip(keys, specs)):
            # Follow the restored tensor through Identities to the op that assigns it.
            stack = [(node.name, index)]
            seen = set()
            while stack:
                op, port = stack.pop()
                if (op, port) in seen:
                    continue
                seen.add((op, port))
                for consumer, position, out_index in graph.data_uses(op):
                    if out_index != port:
                        continue
                    cnode = graph.node_defs[consumer]
                    if cnode.op in PASS_THROUGH:
                        stack.append((consumer, 0))
                    elif cnode.op in ASSIGN_TYPES and position == 1:
                        out[source_op(graph, cnode.input[0])] = (key, spec)
    return out


def saver_scope_ops(g) -> set[str]:
    """The ops under the name scope of the model's saver (the ``saver_def``'s ``save/``); empty without one."""
    meta = g.root.meta_graph
    if meta is None or not meta.HasField("saver_def"):
        return set()
    scope = _names.scope_of(_names.split_tensor_name(meta.saver_def.filename_tensor_name)[0])
    return {name for name in g.node_defs if scope and name.startswith(scope + "/")}


def checkpoint_keys(g) -> dict[str, str]:
    """Which checkpoint key holds each variable, as the graph's own saver says.

    Looks at the top-level restore ops (TF1 savers) and inside the functions
    called at the top level (a TF2 SavedModel's restore function, whose
    ``_Arg`` handles map to the call's inputs). Variables not listed are
    saved under their own name (or a VarHandleOp's ``shared_name``).
    """
    return {var: key for var, (key, _) in checkpoint_entries(g).items()}


def checkpoint_entries(g) -> dict[str, tuple[str, str]]:
    """``{variable: (checkpoint key, slice spec)}`` as the graph's own saver restores them.

    As :func:`checkpoint_keys`, with the slice spec of each (``""`` for a
    whole tensor; a partitioned variable's parts name their slice).
    """
    out = _restore_targets(g)
    for name, node in g.node_defs.items():
        for _, fname in g.op(name).calls:
            try:
                body = g.function(fname)
            except NotFoundError:
                continue
            if not any(n.op in RESTORE_TYPES for n in body.graph_def.node):
                continue
            arg_index = {n.name: n.attr["index"].i for n in body.graph_def.node if n.op == "_Arg"}
            data_inputs = [ref.tensor for ref in g.data_refs(name)]
            for target, entry in _restore_targets(body).items():
                if target in arg_index and arg_index[target] < len(data_inputs):
                    out.setdefault(source_op(g, data_inputs[arg_index[target]]), entry)
    return out


def saver_entries(g) -> dict[str, tuple[str, str]]:
    """``{variable: (checkpoint key, slice spec)}`` as the model's own saver (the ``saver_def``) restores them.

    Other savers of the graph (a "pretrained" subset saver writing its own
    prefix) are left out when the saver_def's restore op reaches restore ops
    of its own at the top level; otherwise (a TF2 SavedModel restores in a
    function, a graph without saver_def) as :func:`checkpoint_entries`.
    """
    meta = g.meta_graph
    if meta is not None and meta.HasField("saver_def"):
        restore = meta.saver_def.restore_op_name.lstrip("^").split(":")[0]
        if restore in g.node_defs:
            mine = {n for n in g.ancestors([restore], include_roots=True)
                    if n in g.node_defs and g.node_defs[n].op in RESTORE_TYPES}
            if mine:
                return _restore_targets(g, only=mine)
    return checkpoint_entries(g)


def restores(g) -> dict[str, tuple[str, str]]:
    """``{variable: (checkpoint key, slice spec)}``: what restoring ``g`` as TensorFlow does reads.

    The saver_def's restore ops when there is one; otherwise, for a TF1 meta
    graph, the default ``Saver`` ``import_meta_graph`` makes over the
    ``variables`` collection (each variable from its own name, a partition
    from its ``save_slice_info``).
    """
    meta = g.root.meta_graph
    if meta is None:
        return {}
    if meta.HasField("saver_def"):
        return saver_entries(g)
    if meta.HasField("object_graph_def") and len(meta.object_graph_def.nodes):
        return {}  # a TF2 SavedModel restores through its object graph
    out = {}
    for _, var in variable_defs(meta, ("variables",)):
        op = _names.split_tensor_name(var.variable_name)[0]
        if op not in g.node_defs:
            continue
        if var.HasField("save_slice_info_def"):
            info = var.save_slice_info_def
            spec = " ".join(str(d) for d in info.full_shape) + " " + ":".join(
                f"{o},{n}" for o, n in zip(info.var_offset, info.var_shape))
            out[op] = (info.full_name, spec)
        else:
            out[op] = (op, "")
    return out
