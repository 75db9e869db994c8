"""The graph's own saver: which checkpoint key holds each variable (TensorFlow-free).

A TF1 ``Saver`` restores with ``RestoreV2`` (or ``Restore`` / ``RestoreSlice``)
whose ``tensor_names`` input is a constant list of checkpoint keys, each
output assigned (``Assign`` / ``AssignVariableOp``) to one variable. A TF2
SavedModel does the same inside its ``__inference__traced_restore_*``
function, whose ``_Arg`` handles map to the call's inputs at the top level.
"""
from __future__ import annotations

from ..analysis.constants import Constants, source_op
from ..errors import NotFoundError
from ..vocab.optypes import PASS_THROUGH

RESTORE_TYPES = ("RestoreV2", "Restore", "RestoreSlice")


def _restore_targets(graph) -> dict[str, tuple[str, str]]:
    """``{variable or handle op in graph: (checkpoint key, slice spec)}`` from the restore ops of one graph.

    The slice spec is ``""`` for a whole tensor, else TensorFlow's
    ``"full shape slice"`` text (``"10 4 0,5:-"``: a partitioned variable's part).
    """
    consts = Constants(graph)
    out = {}
    for node in graph.graph_def.node:
        if node.op not in RESTORE_TYPES or len(node.input) < 2:
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
                    elif cnode.op in ("Assign", "AssignVariableOp") and position == 1:
                        out[source_op(graph, cnode.input[0])] = (key, spec)
    return out


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
