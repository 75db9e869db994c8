"""Graphs serialized in a constant that an op deserializes and runs (``DatasetFromGraph``): scanned like the model.

``DatasetFromGraph`` takes a serialized GraphDef (what ``DatasetToGraph``
writes) and runs it as a dataset: a model can hide any op in that string.
When the string is a constant of the model, it is parsed and scanned with
the same rules, to :data:`MAX_DEPTH` levels of nesting; its findings say
which op holds them (``inside``) and take the route of that op. A graph the
scan cannot read (computed at run time, damaged, nested too deep, too
large) leaves the op itself a high finding: it runs what is not shown.
"""
from __future__ import annotations

from ..vocab import protos
from . import severity as _severity
from .arguments import targets

MAX_DEPTH = 4            # serialized graphs inside serialized graphs
MAX_BYTES = 256 << 20    # a serialized graph larger than this is not parsed


def findings(outer: dict, function, node, resolver, model_dir, depth: int, op_findings) -> list[dict]:
    """The findings of the graph ``node`` deserializes; ``outer`` (its own finding) says whether it was read.

    ``op_findings``: the scan of one graph (:func:`graphsurgeon.scan.findings.op_findings`).
    """
    from ..ir.graph import Graph

    name = next((n for kind, n in targets(node.op) if kind == "input"), None)
    tensor = resolver.input_tensor(function, node, name) if name else None
    data = _constant_bytes(resolver, function, tensor) if tensor else None
    if data is None:
        outer["reason"] = "runs a graph computed at run time: what it does is not known here"
        return []
    if depth + 1 > MAX_DEPTH:
        outer["reason"] = f"runs a serialized graph nested more than {MAX_DEPTH} deep: not scanned"
        return []
    if len(data) > MAX_BYTES:
        outer["reason"] = f"runs a serialized graph of {len(data):,} bytes: not scanned"
        return []
    graph_def = protos.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except Exception:  # DecodeError and friends: damage, not ours to crash on
        outer["reason"] = f"runs a serialized graph that does not parse ({len(data):,} bytes)"
        return []
    inner_graph = Graph(graph_def)
    inner, _ = op_findings(inner_graph, model_dir=model_dir, depth=depth + 1)
    outer["arguments"][name] = {"source": "constant", "values": [
        f"<GraphDef: {len(graph_def.node)} ops, {len(graph_def.library.function)} functions, {len(data):,} bytes>"]}
    outer.update(severity="info", reason=None,
                 benign=f"runs the graph serialized in {name} ({len(graph_def.node)} ops), scanned: "
                        f"its findings are listed as inside this op")
    label = f"{node.op} {node.name!r}" + (f" in {function}" if function else "")
    step = {"function": function, "op": node.name, "attr": name, "calls": "<serialized graph>"}
    for finding in inner:
        finding["inside"] = [label] + (finding["inside"] or [])
        finding["reached_from"] = outer["reached_from"]
        finding["path"] = outer["path"] + [step] + finding["path"]
        if outer["unreachable"] and finding["severity"] != "info" and not finding["unreachable"]:
            finding["severity"] = _severity.lower(finding["severity"])
            finding["unreachable"] = True
    return inner


def _constant_bytes(resolver, function, tensor: str, depth: int = 0) -> bytes | None:
    """The one string a tensor holds when constants (here or at every call site, all equal) give it."""
    if depth > 16:
        return None
    from .arguments import through

    graph = resolver.graph(function)
    tensor = through(graph, tensor)
    value = resolver._constants_of(function).value(tensor)
    if value is not None:
        items = list(value.ravel()) if hasattr(value, "ravel") else [value]
        if len(items) == 1 and isinstance(items[0], bytes):
            return items[0]
        return None
    node = graph.node_defs.get(tensor.rsplit(":", 1)[0])
    if node is None or node.op != "_Arg" or function is None:
        return None
    found = {_constant_bytes(resolver, caller, t, depth + 1)
             for caller, t in resolver.argument_sources(function, node.attr["index"].i)}
    return found.pop() if len(found) == 1 else None
