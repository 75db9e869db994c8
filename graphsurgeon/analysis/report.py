"""What ``ls``, ``show`` and ``info`` say about a graph, as plain data.

Every function here returns JSON-ready dicts and lists; the CLI only formats
them. The ``ls --json`` shape is a documented, stable contract (README).
"""
from __future__ import annotations

import re
from collections import Counter

from ..errors import GraphSurgeonError, closest
from ..ir.graph import Graph, Op, Tensor, format_shape
from ..metagraph.variables import variables
from ..vocab import attrs as _attrs
from ..vocab.optypes import CALL_OPS, CONTROL_FLOW_V1, CONTROL_FLOW_V2, reaches, training_machinery
from ..vocab.patterns import compile_pattern, tensor_predicate
from .endpoints import likely_inputs, likely_outputs
from .shapes import shape_json


def tensor_brief(t: Tensor) -> dict:
    return {"name": t.name, "dtype": t.dtype, "shape": shape_json(t.shape)}


def op_record(op: Op, with_function: bool = False, brief: bool = False) -> dict:
    """One entry of ``ls --json``'s ``ops`` list (``brief``: name, type and outputs only)."""
    graph = op.graph
    name = op.name
    # Straight from the graph's tables: ``ls`` of a 60,000-op graph builds no Tensor objects.
    types = graph.output_dtypes(name) or ()
    shapes = graph.shapes.get(name) or ()
    count = graph.num_outputs(name)
    outputs = [{"name": f"{name}:{i}", "dtype": types[i] if i < len(types) else None,
                "shape": shape_json(shapes[i]) if i < len(shapes) else None} for i in range(count)]
    record = {"name": name, "type": op.node.op}
    if not brief:
        refs = graph.input_refs(name)
        record.update(device=op.node.device,
                      inputs=[r.tensor for r in refs if not r.control],
                      control_inputs=[r.op for r in refs if r.control])
    record.update(outputs=outputs, function=graph.function_name if with_function else None)
    return record


def _selected_nodes(g: Graph, graph, patterns, types, training: bool):
    # Patterns and exact names alike select what they match: one that names nothing selects nothing
    # (ls reports it after listing what the others select).
    if not (patterns or types):
        selected = graph.graph_def.node
    else:
        selected = (op.node for op in _function_ops(graph, patterns, types))
    if training:
        return selected
    machinery = training_machinery(graph)
    return (node for node in selected if node.name not in machinery)


def ls_rows(g: Graph, patterns=None, types=None, functions: bool = False, training: bool = True):
    """``(function, name, type, outputs text)`` per op: what ``ls`` prints, without building records.

    ``training=False`` leaves out the training machinery
    (:func:`graphsurgeon.vocab.optypes.training_machinery`).
    """
    graphs = [g] + ([g.function(n) for n in sorted(g.library_names)] if functions else [])
    for graph in graphs:
        shapes = graph.shapes
        selected = _selected_nodes(g, graph, patterns, types, training)
        function = graph.function_name
        texts: dict = {}  # (dtype, shape) -> text: large graphs repeat a few
        op_types: dict = {}  # one string per op type (each read of node.op makes a new one)
        nodes = graph.node_defs
        if selected is graph.graph_def.node and len(nodes) == len(selected):
            # Every op, names unique: the index's own name strings (each read of node.name makes a
            # new one, a second copy of every name in the rows, and hashed again at each lookup).
            selected = nodes.items()
        else:
            selected = ((node.name, node) for node in selected)
        for name, node in selected:
            op = node.op
            op = op_types.setdefault(op, op)
            dts = graph.output_dtypes(name)
            shp = shapes.get(name)
            if dts is not None and shp is not None and len(dts) == 1 and len(shp) == 1:
                key = (dts[0], shp[0])
                text = texts.get(key)
                if text is None:
                    text = texts[key] = f"{dts[0] or '?'} {format_shape(shp[0])}"
                yield function, name, op, text
                continue
            count = len(dts) if dts is not None else graph.num_outputs(name)
            dts = dts or ()
            shp = shp or ()
            parts = []
            for i in range(count):
                dtype = dts[i] if i < len(dts) else None
                parts.append(f"{dtype or '?'} {format_shape(shp[i] if i < len(shp) else None)}")
            yield function, name, op, ", ".join(parts) or "-"


def ls_records(g: Graph, patterns=None, types=None, functions: bool = False, brief: bool = False,
               training: bool = True) -> list[dict]:
    graphs = [g] + ([g.function(n) for n in sorted(g.library_names)] if functions else [])
    out = []
    for graph in graphs:
        for node in _selected_nodes(g, graph, patterns, types, training):
            out.append(op_record(Op(graph, node), with_function=functions, brief=brief))
    return out


def ls_tensor_records(g: Graph, patterns=None, types=None, functions: bool = False, brief: bool = False,
                      training: bool = True) -> list[dict]:
    """One record per tensor (``ls --tensors``): the output's name, dtype and shape, with its producer, type
    and function. A pattern with ``:`` selects tensors, one without the outputs of the ops it selects
    (:func:`graphsurgeon.vocab.patterns.tensor_predicate`)."""
    preds = [tensor_predicate(p) for p in patterns or ()]
    graphs = [g] + ([g.function(n) for n in sorted(g.library_names)] if functions else [])
    out = []
    for graph in graphs:
        for node in _selected_nodes(g, graph, None, types, training):
            record = op_record(Op(graph, node), with_function=functions, brief=brief)
            for o in record["outputs"]:
                if not preds or any([pr(node.name, o["name"]) for pr in preds]):
                    out.append(dict(o, producer=record["name"], type=record["type"], function=record["function"]))
    return out


def unmatched(g: Graph, patterns, functions: bool = False, tensors: bool = False) -> list[str]:
    """The patterns (or exact names) that select nothing among the names ``ls`` lists (ops, or tensors)."""
    graphs = [g] + ([g.function(n) for n in sorted(g.library_names)] if functions else [])
    missing = []
    for p in patterns or ():
        if tensors:
            pred = tensor_predicate(p)
            found = any(pred(node.name, f"{node.name}:{i}") for graph in graphs for node in graph.graph_def.node
                        for i in range(graph.num_outputs(node.name)))
        else:
            match = compile_pattern(p)
            found = any(match(node.name) for graph in graphs for node in graph.graph_def.node)
        if not found:
            missing.append(p)
    return missing


def no_match(g: Graph, patterns=None, types=None, functions: bool = False, tensors: bool = False) -> dict:
    """Why an ``ls`` selection is empty, with what the user may have meant.

    Returns ``{"types": {type: [closest op types]}`` for types no op has,
    ``"patterns": {pattern: {"scopes" or "names": [nearest]}}`` for patterns
    that match no name (tensor names with ``tensors``), ``"tensor_patterns"``:
    patterns that name tensors while ops were listed, ``"pattern_types"``:
    the op types the patterns do match (when they all match but not with
    ``types``), ``"in_functions"``: how many ops of function bodies the
    selection would match (when ``functions`` is off)}. Runs only on a
    miss, so it may walk every name.
    """

    graphs = [g] + ([g.function(n) for n in sorted(g.library_names)] if functions else [])
    names = [node.name for graph in graphs for node in graph.graph_def.node]
    present = {node.op for graph in graphs for node in graph.graph_def.node}
    facts: dict = {"types": {}, "patterns": {}, "in_functions": 0}
    for t in types or ():
        if t not in present:
            facts["types"][t] = closest(t, sorted(present))
    scopes = None
    missing = set(unmatched(g, patterns, functions, tensors))
    for p in patterns or ():
        if p not in missing:
            continue
        if not tensors and ":" in p and not p.startswith("re:") and unmatched(g, [p], functions, tensors=True) == []:
            facts.setdefault("tensor_patterns", []).append(p)
            continue
        body = p[3:] if p.startswith("re:") else p
        literal = re.sub(r"\*\*/?|[*?]|\[[^\]]*\]", "", body) if not p.startswith("re:") else \
            re.sub(r"[\\^$.|?*+()\[\]{}]", "", body)
        literal = literal.strip("/").split(":")[0] if not p.startswith("re:") else literal.strip("/")
        wants_scope = body.endswith("/") or body.rsplit("/", 1)[-1] in ("*", "**")
        if scopes is None:
            scopes = sorted({n.rsplit("/", k)[0] for n in names for k in range(1, n.count("/") + 1)})
        near = {}
        if literal and wants_scope:
            # Scopes as deep as the one asked for first: "hidden3/*" -> hidden1/, hidden2/.
            depth = literal.count("/")
            found = closest(literal, [s for s in scopes if s.count("/") == depth]) or closest(literal, scopes)
            if found:
                near["scopes"] = [s + "/" for s in found]
        if literal and not near:
            found = closest(literal, names)
            if found:
                near["names"] = found
        facts["patterns"][p] = near
    if types and patterns and not facts["patterns"] and not facts.get("tensor_patterns"):
        # Each pattern names something, but not of those types: say which types it does name.
        preds = [compile_pattern(p) for p in patterns]
        facts["pattern_types"] = sorted({node.op for graph in graphs for node in graph.graph_def.node
                                         if any(pr(node.name) for pr in preds)})
    if not functions and g.library_names:
        facts["in_functions"] = sum(1 for n in sorted(g.library_names)
                                    for _ in _function_ops(g.function(n), patterns, types))
    return facts


def _function_ops(graph, patterns, types):
    # Patterns name top-level ops; inside a function an exact name may be absent.

    preds = [compile_pattern(p) for p in patterns or ()]
    for op in graph.ops(type=types or None):
        if not preds or any(p(op.name) for p in preds):
            yield op


def functions_with(g: Graph, name: str) -> list[str]:
    """The function bodies that hold op ``name`` (or the op of tensor ``name``), by name: where a
    lookup that misses at the top level should look (``show --function``)."""
    from ..vocab import names as _names

    op_name = _names.split_tensor_name(name)[0] if _names.is_tensor_name(name) else name
    return [fn for fn in sorted(g.library_names) if op_name in g.function(fn).node_defs]


def op_details(op: Op) -> dict:
    """Everything ``show`` says about an op."""
    g = op.graph
    inputs = []
    for position, t in enumerate(op.inputs):
        entry = {"position": position, "tensor": t.name}
        if t.op_name in g:
            producer = g.op(t.op_name)
            entry.update(producer_type=producer.type, dtype=t.dtype, shape=shape_json(t.shape))
        else:
            entry.update(producer_type=None, dtype=None, shape=None, missing=True)
        inputs.append(entry)
    # Consumers from the graph's wiring, by name: a batch-norm update that every gradient op
    # of a training graph waits on has tens of thousands of them, one shared list.
    wiring = g.wiring()
    by_index: dict[int, dict] = {}
    for consumer, index in wiring.data_out.get(op.name, ()):
        by_index.setdefault(index, {})[consumer] = None
    control_outputs = dict.fromkeys(wiring.control_out.get(op.name, ()))
    outputs = []
    for t in op.outputs:
        outputs.append({**tensor_brief(t), "consumers": list(by_index.get(t.index, ()))})
    return {
        "kind": "op",
        "name": op.name,
        "type": op.type,
        "device": op.device,
        "function": g.function_name,
        "inputs": inputs,
        "control_inputs": op.control_input_names,
        "outputs": outputs,
        "control_outputs": list(control_outputs),
        "attrs": {k: _attrs.decode(v) for k, v in sorted(op.attr_protos.items())},
        "calls": [{"attr": a, "function": f} for a, f in op.calls],
        "known_op": g.registry.get(op.type) is not None or op.type in ("_Arg", "_Retval"),
    }


def tensor_details(t: Tensor) -> dict:
    return {
        "kind": "tensor",
        "name": t.name,
        "dtype": t.dtype,
        "shape": shape_json(t.shape),
        "producer": {"name": t.op_name, "type": t.op.type},
        "consumers": [{"name": c.name, "type": c.type} for c in t.consumers],
        "function": t.graph.function_name,
    }


# Nested data deeper than this cannot be written or read back by Python's
# json (each level is two containers, against a recursion limit of 1000).
TREE_DEPTH_LIMIT = 200


class Scope:
    """One name scope: its last name part, op and parameter counts (sub-scopes included), children.

    Built by :func:`scopes`; walked by :meth:`walk` without recursion, so a
    graph whose names are 50,000 levels deep is as easy as a shallow one.
    """

    __slots__ = ("part", "ops", "params", "children")

    def __init__(self, part: str):
        self.part = part
        self.ops = 0
        self.params = 0
        self.children: dict[str, Scope] = {}

    def walk(self, max_depth: int | None = None):
        """Yield ``(depth, scope)`` for every scope below this one, parents first, in first-seen order.

        ``depth`` is 0 for this scope's children; ``max_depth`` levels are walked (0 or 1: the children only).
        """
        stack = [(0, child) for child in reversed(self.children.values())]
        while stack:
            depth, scope = stack.pop()
            yield depth, scope
            if max_depth is None or depth + 1 < max_depth:
                stack.extend((depth + 1, child) for child in reversed(scope.children.values()))

    def depth(self) -> int:
        """Levels of scopes below this one (0 when it has no children)."""
        return max((d + 1 for d, _ in self.walk()), default=0)


def scopes(g: Graph, training: bool = True) -> Scope:
    """The root :class:`Scope` of the graph's op names (an op ``a/b/op`` counts in ``a`` and ``a/b``).

    ``training=False`` leaves out the training machinery
    (:func:`graphsurgeon.vocab.optypes.training_machinery`), as ``ls --no-training`` does.

    Linear in the total length of the names: ops are first counted per
    distinct scope, each distinct scope is split once, and counts are summed
    up the tree in one pass from the leaves.
    """
    params = {v.name: v.params or 0 for v in variables(g)}
    root = Scope("")
    direct: dict[str, list[int]] = {}  # scope -> [ops, params] of the ops directly in it
    machinery = frozenset() if training else training_machinery(g)
    for node in g.graph_def.node:
        name = node.name
        if name in machinery:
            continue
        weight = params.get(name, 0)
        if "/" not in name:
            root.ops += 1
            root.params += weight
            continue
        counts = direct.get(name.rpartition("/")[0])
        if counts is None:
            counts = direct[name.rpartition("/")[0]] = [0, 0]
        counts[0] += 1
        counts[1] += weight
    for scope, (ops, weight) in direct.items():
        level = root
        for part in scope.split("/"):
            child = level.children.get(part)
            if child is None:
                child = level.children[part] = Scope(part)
            level = child
        level.ops += ops
        level.params += weight
    order = [scope for _, scope in root.walk()]
    for scope in reversed(order):  # every scope after its parent: children are summed first
        for child in scope.children.values():
            scope.ops += child.ops
            scope.params += child.params
    for child in root.children.values():
        root.ops += child.ops
        root.params += child.params
    return root


def scope_tree(g: Graph, max_depth: int | None = None, training: bool = True) -> dict:
    """Nested scopes: ``{"name", "ops", "params", "children": [...]}`` (counts include sub-scopes).

    Args:
        g: the graph.
        max_depth: levels of scopes to include (counts still cover everything below).
        training: include the training machinery (``False``: ``ls --tree --no-training``).

    Raises:
        GraphSurgeonError: the tree (or ``max_depth``) is deeper than
            :data:`TREE_DEPTH_LIMIT` levels, which nested data cannot hold;
            walk :func:`scopes` instead.
    """

    root = scopes(g, training)
    depth = root.depth() if max_depth is None else min(max_depth, root.depth())
    if depth > TREE_DEPTH_LIMIT:
        raise GraphSurgeonError(f"scope tree is {depth:,} levels deep; as nested data it is limited to "
                                f"{TREE_DEPTH_LIMIT} levels", hint="cut it with --depth N (library: max_depth=N), "
                                "or use the text form")
    out = {"name": "", "ops": root.ops, "params": root.params, "children": []}
    parents = [out]  # parents[d] holds the scope of depth d - 1 being filled
    for d, scope in root.walk(max_depth):
        parent = parents[d]
        name = f"{parent['name']}/{scope.part}" if d else scope.part
        entry = {"name": name, "ops": scope.ops, "params": scope.params, "children": []}
        parent["children"].append(entry)
        del parents[d + 1:]
        parents.append(entry)
    return out


def _mark_benign(g: Graph, flagged: list[dict]) -> None:
    """Say which flagged ops are the model's own saver or read its own assets, as ``scan`` does."""
    from ..scan.findings import op_findings  # the scan's rules: one answer for info and scan

    try:
        findings, _ = op_findings(g)
    except GraphSurgeonError:  # a graph too damaged to trace: every flag stays
        return
    reasons = {(f["function"], f["name"]): f["benign"] for f in findings if f["benign"]}
    for entry in flagged:
        entry["benign"] = reasons.get((entry["function"], entry["name"]))


def info(g: Graph) -> dict:
    """The summary ``graphsurgeon info`` prints."""
    model = g.model
    meta = g.meta_graph
    meta_info = meta.meta_info_def if meta is not None else None
    versions = g.graph_def.versions
    all_graphs = [g] + [g.function(n) for n in sorted(g.library_names)]
    # A body's _Arg/_Retval ops are how graphsurgeon shows its arguments and
    # results, not nodes of the FunctionDef: they are not counted as ops.
    type_counts = Counter(op.type for graph in all_graphs for op in graph
                          if graph is g or op.type not in ("_Arg", "_Retval"))
    present = set(type_counts)
    vars_ = variables(g)
    flagged = []
    for graph in all_graphs:
        for op in graph:
            where = reaches(op.type)
            if where:
                flagged.append({"name": op.name, "type": op.type, "function": graph.function_name,
                                "reaches": where, "benign": None})
    if flagged:
        _mark_benign(g, flagged)
    collections = {}
    if meta is not None:
        for key, coll in meta.collection_def.items():
            kind = coll.WhichOneof("kind")
            collections[key] = {"kind": kind, "size": len(getattr(coll, kind).value) if kind else 0}
    devices = sorted({op.device for graph in all_graphs for op in graph if op.device})
    return {
        "model": str(g.path) if g.path else None,
        "format": g.format,
        "file": str(model.file) if model else None,
        "encoding": model.encoding if model else None,
        "checkpoint": model.checkpoint if model else None,
        "producer": versions.producer if g.graph_def.HasField("versions") else None,
        "min_consumer": versions.min_consumer if g.graph_def.HasField("versions") else None,
        "tensorflow_version": meta_info.tensorflow_version if meta_info is not None else None,
        "tensorflow_git_version": meta_info.tensorflow_git_version if meta_info is not None else None,
        "tags": list(meta_info.tags) if meta_info is not None else [],
        "tag_sets": model.tag_sets if model else [],
        "ops": len(g),
        "function_ops": sum(len(x.function_def.node_def) for x in all_graphs[1:]),
        "signatures": {
            key: {
                "method": sig["method"],
                "inputs": sig["inputs"],
                "outputs": sig["outputs"],
            } for key, sig in sorted(g.signatures.items())
        },
        "likely_inputs": [tensor_brief(t) for t in likely_inputs(g)],
        "likely_outputs": [tensor_brief(t) for t in likely_outputs(g)][:20],
        "variables": {
            "count": len(vars_),
            "params": sum(v.params or 0 for v in vars_),
            "bytes": sum(v.nbytes or 0 for v in vars_),
            "trainable": sum(1 for v in vars_ if v.trainable),
        },
        "op_types": dict(type_counts.most_common()),
        "collections": collections,
        "functions": sorted(g.library_names),
        "control_flow": sorted(present & (CONTROL_FLOW_V1 | CONTROL_FLOW_V2)),
        "calls": sorted(present & CALL_OPS),
        "devices": devices,
        "unknown_op_types": sorted(t for t in present if g.registry.get(t) is None
                                   and t not in ("_Arg", "_Retval")),
        "external_access": flagged,
        "training_ops": len(training_machinery(g)),
    }
