"""Fold constants: ops whose value constants alone decide become ``Const`` ops (TensorFlow-free).

Values come from the one constant evaluator
(:class:`graphsurgeon.analysis.constants.Constants`, which computes each op
as TensorFlow does, in the tensor's dtype). An op is folded when its value is
known, it is not stateful, random or placeholder-like (a
``PlaceholderWithDefault`` is an input, whatever its default), and the value
is at most :data:`MAX_FOLDED_BYTES` (TensorFlow's own constant folding stops
at 10 MB). Of a constant region only its frontier becomes ``Const`` ops: the
ops something else reads, the model names (signatures, collections; a
function body's results) or nothing reads. Each keeps its name, device and
position, so every reference stays true, and the control inputs of what it
replaces (a constant inside a TF1 loop or cond stays in its frame). The
constant inputs it orphaned are removed. Function bodies are folded too.

Example:
    >>> folded, changes = graphsurgeon.fold_constants(graphsurgeon.load("fixtures/models/mnist_bn_elu_frozen.pb"))
    >>> len(folded) < 127
    True
"""
from __future__ import annotations

from ..analysis.constants import Constants
from ..ir.changes import Changes
from ..vocab import dtypes as _dtypes
from ..vocab.names import colocation_op
from ..vocab.optypes import PLACEHOLDER_TYPES
from ..vocab.protos import node_def_pb2
from ..vocab.values import from_numpy
from ..wording import plural
from .rewrite import rewrite

__all__ = ["fold_constants", "MAX_FOLDED_BYTES"]

MAX_FOLDED_BYTES = 10 * 2**20
# Attributes a folded op keeps: the shapes recorded for it. Not its colocation (``_class``): a constant
# need not sit beside the variable it was read from, and keeping it would keep that variable.
_KEPT_ATTRS = ("_output_shapes",)


def never_folded(node, registry) -> bool:
    """Stateful, random and placeholder-like ops keep their op, whatever their inputs."""
    if node.op in PLACEHOLDER_TYPES or "Random" in node.op:
        return True
    op_def = registry.get(node.op)
    return op_def is None or op_def.is_stateful


@rewrite(requires=("top_level",))
def fold_constants(g, functions: bool = True) -> Changes:
    """Replace constant subgraphs by ``Const`` ops; returns ``(Graph, Changes)`` like every rewrite.

    Args:
        g: the graph (not modified).
        functions: fold inside library function bodies too.

    ``changes.details["folded"]``: the top-level ops that became constants;
    ``details["function_ops_folded"]``: function name -> ops folded there.
    """
    folded = _fold(g)
    in_functions = {}
    if functions:
        for name in sorted(g.library_names):
            count = len(_fold(g.function(name)))
            if count:
                in_functions[name] = count
    notes = []
    total = len(folded) + sum(in_functions.values())
    if total:
        where = f" ({sum(in_functions.values())} in {plural(in_functions, 'function body', 'function bodies')})" \
            if in_functions else ""
        notes.append(f"folded {plural(total, 'op')} into constants{where}")
    else:
        notes.append("no constant subgraph to fold")
    return Changes(notes=notes, details={"folded": folded, "function_ops_folded": in_functions})


def _fold(graph) -> list[str]:
    """Fold ``graph`` (a top-level graph or a function body) in place; the ops that became constants."""
    import numpy as np

    nodes = graph.node_defs
    registry = graph.registry
    consts = Constants(graph)
    order = graph.topological_order(control=False)
    known: dict[str, object] = {}  # op -> its value, for every op whose value is constant
    region: set[str] = set()  # ops that may become Const ops
    for name in order:
        node = nodes[name]
        if graph.num_outputs(name) != 1:
            continue
        value = consts.value(f"{name}:0")
        if value is None:
            continue
        known[name] = value
        if node.op == "Const" or never_folded(node, registry):
            continue
        dtype = _dtypes.base((graph.output_dtypes(name) or [None])[0])
        target = "object" if dtype == "string" else _dtypes.NUMPY.get(dtype or "")
        if target is None:
            continue
        value = np.asarray(value)
        if (value.dtype == object) != (dtype == "string"):
            continue
        value = value.astype(target)
        if value.nbytes > MAX_FOLDED_BYTES:
            continue
        known[name] = value
        region.add(name)
    if not region:
        return []
    named = graph.named_outputs()
    frontier = [n for n in order if n in region and (
        n in named or not graph.is_read(n) or any(u.consumer not in region for u in graph.uses(n)))]
    controls = _controls(graph, frontier, known)
    feeding = {n for n in known if n not in frontier and graph.is_read(n)}  # what folding may orphan
    with graph.batch():
        for name in frontier:
            node = nodes[name]
            const = node_def_pb2.NodeDef(name=name, op="Const", device=node.device)
            const.input.extend("^" + c for c in controls[name])
            for key in _KEPT_ATTRS:
                if key in node.attr:
                    const.attr[key].CopyFrom(node.attr[key])
            proto = from_numpy(known[name])
            const.attr["value"].tensor.CopyFrom(proto)
            const.attr["dtype"].type = proto.dtype
            graph.replace_op(const)
        _remove_orphans(graph, feeding, named)
    return frontier


def _controls(graph, frontier: list[str], known: dict) -> dict[str, list[str]]:
    """The control inputs each folded op keeps: its own and those of the constant ops its value came from,
    each one that is itself constant (and so may go) replaced by its own control inputs."""
    nodes = graph.node_defs
    out = {}
    for name in frontier:
        seen, stack, found = {name}, [name], []
        while stack:
            current = stack.pop()
            for ref in graph.input_refs(current):
                if ref.control and ref.op in nodes and ref.op not in known:
                    found.append(ref.op)
                elif ref.op in known and ref.op not in seen:  # a constant producer, or a constant control input
                    seen.add(ref.op)
                    stack.append(ref.op)
        out[name] = [c for c in dict.fromkeys(found) if c != name]
    return out


def _remove_orphans(graph, candidates: set[str], named: set[str]) -> None:
    """Remove the constant ops that were read and nothing reads any more (the model does not name them,
    no other op that stays asks to be colocated with them)."""
    colocated_by: dict[str, set[str]] = {}
    for node in graph.node_defs.values():
        if "_class" in node.attr:
            for op in map(colocation_op, node.attr["_class"].list.s):
                if op and op != node.name:  # a variable's own loc:@ names itself
                    colocated_by.setdefault(op, set()).add(node.name)
    gone: set[str] = set()
    todo = {n for n in candidates if n in graph.node_defs and n not in named}
    while todo:
        orphans = {n for n in todo if all(u.consumer in gone for u in graph.uses(n))
                   and colocated_by.get(n, set()) <= gone}
        if not orphans:
            break
        gone |= orphans
        todo -= orphans
    if gone:
        graph.remove_ops(sorted(gone))
