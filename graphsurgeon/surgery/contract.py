"""The rewrite contract, checked at the end of every rewrite.

Every rewrite is a function ``rewrite(graph, ...) -> (Graph, Changes)`` that
never mutates its input and ends with :func:`ensures`: the result has no
dangling input, and every name its MetaGraphDef holds outside the GraphDef
(collection entries, variables, the saver, signatures, asset tensors)
resolves, unless it did not resolve in the input either (a damaged file is
not ours to repair) or the Changes say it was dropped. A violation is a bug
of the rewrite, reported as a RewriteError rather than written to disk:
TensorFlow would refuse the result.
"""
from __future__ import annotations

from ..errors import GraphSurgeonError, RewriteError
from ..ir.changes import Changes
from ..metagraph.collections import referenced_names
from ..vocab import names as _names


def dangling_inputs(g) -> set[tuple[str, str]]:
    """``{(op, missing producer)}``: inputs naming no op of ``g``."""
    nodes = g.node_defs
    return {(name, ref.op) for name in nodes for ref in g.input_refs(name) if ref.op not in nodes}


def _repeated_names(g) -> set[str]:
    """Op names that more than one NodeDef of ``g``'s GraphDef carries."""
    nodes = g.graph_def.node
    if len(nodes) == len(g.node_defs):
        return set()
    seen, repeated = set(), set()
    for node in nodes:
        (repeated if node.name in seen else seen).add(node.name)
    return repeated


def _damaged_bodies(g) -> list[str]:
    """The library functions of ``g`` with an input naming nothing in their body."""
    out = []
    for name in sorted(g.library_names):
        try:
            body = g.function(name)
        except GraphSurgeonError:  # a body too damaged to read as a graph
            out.append(name)
            continue
        if dangling_inputs(body):
            out.append(name)
    return out


def unresolved_references(g) -> set[tuple[str, str]]:
    """``{(where, name)}``: names the MetaGraphDef holds that name no op (or no such output) of ``g``."""
    meta = g.root.meta_graph
    if meta is None:
        return set()
    out = set()
    for where, name in referenced_names(meta):
        op, index = _names.split_tensor_name(name)
        if op not in g.node_defs or (_names.is_tensor_name(name) and g.output_dtypes(op) is not None
                                     and index >= g.num_outputs(op)):
            out.add((where, name))
    return out


def ensures(result, changes: Changes, before=None) -> None:
    """Check the contract on ``result`` (see module docstring); ``before`` is the rewrite's input.

    Raises:
        RewriteError: the rewrite left a dangling input or reference it did not report.
    """
    allowed = dangling_inputs(before) if before is not None else set()
    allowed_ops = {op for _, op in allowed}
    damaged_bodies = None
    kept = []
    for consumer, op in sorted(dangling_inputs(result)):
        if op not in allowed_ops and before is not None and (
                consumer not in before.node_defs
                or before.node_defs[consumer].input != result.node_defs[consumer].input):
            # An op the rewrite made or rewired (inlining a function body, say) may carry
            # damage of that body.
            if damaged_bodies is None:
                damaged_bodies = _damaged_bodies(before)
            if damaged_bodies:
                kept.append((consumer, op))
                continue
        if op not in allowed_ops:
            raise RewriteError(f"internal error: the rewrite left {consumer!r} reading {op!r}, which is not "
                               "in the graph (please report this)")
        kept.append((consumer, op))
    repeated = _repeated_names(result)
    if repeated:  # TensorFlow refuses a graph with two ops of one name
        if before is None or not repeated <= _repeated_names(before):
            raise RewriteError(f"internal error: the rewrite left two ops named {min(repeated)!r} "
                               "(please report this)")
        note = (f"the input is damaged and so is the result: more than one op is named {min(repeated)!r}"
                + (f" (and {len(repeated) - 1} more names)" if len(repeated) > 1 else ""))
        if note not in changes.notes:
            changes.notes.append(note)
    if kept:  # damage of the input, kept as it was: say so, TensorFlow will refuse it
        consumer, op = kept[0]
        more = f" (and {len(kept) - 1} more)" if len(kept) > 1 else ""
        note = (f"the input is damaged and so is the result: {consumer!r} reads {op!r}, which is not in the "
                f"graph{more}")
        if note not in changes.notes:
            changes.notes.append(note)
    if result.root.meta_graph is None:
        return
    known = unresolved_references(before) if before is not None else set()
    reported = " ".join(changes.dropped)
    for where, name in sorted(unresolved_references(result) - known):
        if name not in reported:
            raise RewriteError(f"internal error: the rewrite left {where} naming {name!r}, which is not in "
                               "the graph (please report this)")
