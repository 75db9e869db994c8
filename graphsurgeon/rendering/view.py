"""The picture as data: which boxes and ops are visible, and the edges between them.

A :class:`View` is what gets drawn, before any Graphviz: building it is
linear in the size of the graph (one pass to place every op in its visible
node, one pass over the inputs to merge edges), so that a 60,000-op graph
costs a fraction of a second before ``dot`` sees a hundred nodes.

Collapsing: an op belongs to the name scopes of its name (``a/b/c`` to
``a`` and ``a/b``); an op whose name is itself a scope (the variable
``hidden1/kernel`` with ``hidden1/kernel/read`` under it) belongs to that
scope too. Walking an op's scopes outward in, the first collapsed one is
the box it disappears into; when none is collapsed, the op is drawn itself,
inside a cluster per expanded scope.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..errors import NotFoundError, UsageError
from ..functions import called_functions
from ..shapes import format_shape
from ..vocabulary import training_machinery
from . import select, style

TARGET_NODES = 150    # the automatic depth keeps about this many visible nodes or fewer
INFORMATIVE = 10      # ... and goes deeper while fewer than this many are visible
MAX_NODES = 500       # refuse (fast) to lay out more than this unless asked


@dataclass
class Node:
    """One visible node: an op, or a collapsed scope drawn as one box."""

    id: str                      # op name, or scope name + "/" for a collapsed scope
    kind: str                    # "op" or "scope"
    name: str                    # op or scope name
    ops: list[str]               # the ops it stands for
    category: str
    clusters: tuple[str, ...]    # expanded scopes around it, outermost first
    type: str | None = None      # op type (ops only)
    params: int = 0
    calls: list[tuple[str, str]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)   # "dtype shape" per output (ops only)
    type_counts: Counter | None = None                 # op types inside (scopes only)
    machinery: bool = False      # every op in it is training machinery (drawn faint edges into it)


@dataclass
class Edge:
    """Every input edge between two visible nodes of one kind, merged."""

    src: str
    dst: str
    kind: str                    # "data", "ref", "resource" or "control"
    tensors: list[str]           # distinct tensors (data) or producer ops (control)
    count: int                   # raw edges merged into this one
    label: str = ""


@dataclass
class View:
    """What :func:`graphsurgeon.render` draws."""

    nodes: dict[str, Node]
    edges: list[Edge]
    clusters: dict[str, dict]    # expanded scope -> {"ops": n, "params": n}
    depth: int | None            # collapse depth used (None: nothing collapsed)
    total_ops: int               # ops in the graph
    shown_ops: int               # ops selected (after --scope, --between, --no-training)
    title: str


def _scope_path(name: str, scopes: set[str]) -> tuple[str, ...]:
    parts = name.split("/")
    return tuple(parts) if name in scopes else tuple(parts[:-1])


def _check_scopes(names, scopes: set[str], g, option: str) -> set[str]:
    out = set()
    for name in names or ():
        name = name.strip("/")
        if name not in scopes:
            raise NotFoundError("scope", name, sorted(scopes), where=f"{g.where} ({option})")
        out.add(name)
    return out


def build_view(g, depth: int | None = None, expand=(), collapse=(), scope: str | None = None,
               between: tuple[str, str] | None = None, no_training: bool = False,
               max_nodes: int | None = MAX_NODES, target_nodes: int = TARGET_NODES) -> View:
    """Select, collapse and merge: the visible nodes and edges of ``g``.

    See :func:`graphsurgeon.rendering.render` for the arguments. ``depth``
    None picks the depth automatically, 0 collapses nothing.
    """
    all_nodes = list(g.graph_def.node)
    scopes = select.all_scopes(g)
    selected: set[str] | None = None
    base: tuple[str, ...] = ()
    if scope:
        selected = select.scope_ops(g, scope)
        scope = scope.strip("/")
        base = tuple(scope.split("/")) if scope in scopes else ()
    if between:
        on_path = select.ops_between(g, *between)
        selected = on_path if selected is None else selected & on_path
    machinery = training_machinery(g)
    if no_training:
        keep = {n.name for n in all_nodes if n.name not in machinery}
        selected = keep if selected is None else selected & keep
    nodes = [n for n in all_nodes if selected is None or n.name in selected]
    if not nodes:
        raise UsageError(f"nothing left to draw in {g.where}",
                         hint="loosen --scope, --between or --no-training")
    expand_set = _check_scopes(expand, scopes, g, "--expand")
    collapse_set = _check_scopes(collapse, scopes, g, "--collapse")
    # Expanding a/b/c opens a and a/b too.
    opened = set()
    for s in expand_set:
        parts = s.split("/")
        opened.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))

    paths = {n.name: _scope_path(n.name, scopes) for n in nodes}
    nbase = len(base)

    def key_of(path: tuple[str, ...], name: str, d: int | None) -> str:
        for k in range(nbase + 1, len(path) + 1):
            s = "/".join(path[:k])
            if s in collapse_set:
                return s + "/"
            if s in opened:
                continue
            if d is not None and d > 0 and k - nbase >= d:
                return s + "/"
        return name

    max_depth = max((len(p) - nbase for p in paths.values()), default=0)
    if depth is None:
        depth = 1
        count = len({key_of(p, n, depth) for n, p in paths.items()})
        while depth < max_depth and count < INFORMATIVE:
            deeper = len({key_of(p, n, depth + 1) for n, p in paths.items()})
            if deeper > target_nodes:
                break
            depth, count = depth + 1, deeper
    if depth is not None and depth < 0:
        raise UsageError(f"--depth must be 0 (collapse nothing) or more, not {depth}")

    members: dict[str, list[str]] = {}
    key = {}
    for n in nodes:
        k = key_of(paths[n.name], n.name, depth)
        key[n.name] = k
        members.setdefault(k, []).append(n.name)
    if max_nodes is not None and len(members) > max_nodes:
        fitting = [d for d in range(1, max_depth + 1)
                   if len({key_of(p, n, d) for n, p in paths.items()}) <= max_nodes]
        deeper = f"--depth {max(fitting)}, " if fitting and max(fitting) != depth else ""
        raise UsageError(
            f"{len(members)} nodes to draw in {g.where}, more than --max-nodes {max_nodes}",
            hint=f"collapse more with {deeper}--collapse SCOPE, draw one part with --scope SCOPE or "
                 "--between IN OUT, or raise --max-nodes")

    node_by_name = {n.name: n for n in nodes}
    params = {}
    from ..variables import variables

    for v in variables(g):
        params[v.name] = v.params or 0

    library = g.library_names

    def calls_of(node_def):
        return called_functions(node_def, library) if library else []

    def enclosing(path: tuple[str, ...]) -> tuple[str, ...]:
        return tuple("/".join(path[:i]) for i in range(nbase + 1, len(path) + 1))

    visible: dict[str, Node] = {}
    for k, names in members.items():
        if k.endswith("/"):
            scope_name = k[:-1]
            head = node_by_name.get(scope_name)
            rest = [node_by_name[m] for m in names if m != scope_name]
            outer = enclosing(tuple(scope_name.split("/"))[:-1])
            # A one-op scope, or an op with only its constants under it (the
            # placeholder "training" and "training/input"), reads best as that op.
            if len(names) == 1 or (head is not None and all(r.op == "Const" for r in rest)):
                op_def = head if head is not None else node_by_name[names[0]]
                visible[op_def.name] = _op_node(g, op_def, op_def.name, names, outer, params, calls_of(op_def))
                for m in names:  # edges meet the op, not the scope it stands for
                    key[m] = op_def.name
                continue
            # Constants say nothing about a scope (every layer has some): count them as "other".
            cats = [style.op_category(node_by_name[m].op, m, bool(calls_of(node_by_name[m])))
                    if node_by_name[m].op != "Const" else "other" for m in names]
            visible[k] = Node(id=k, kind="scope", name=scope_name, ops=names,
                              category=style.scope_category(scope_name, cats), clusters=outer,
                              params=sum(params.get(m, 0) for m in names),
                              type_counts=Counter(node_by_name[m].op for m in names))
        else:
            op_def = node_by_name[k]
            visible[k] = _op_node(g, op_def, k, names, enclosing(paths[k]), params, calls_of(op_def))

    for node in visible.values():
        node.machinery = all(m in machinery for m in node.ops)
    clusters: dict[str, dict] = {}
    for node in visible.values():
        for c in node.clusters:
            clusters.setdefault(c, {"ops": 0, "params": 0})
    if clusters:
        for name in key:
            path = paths[name]
            for i in range(nbase + 1, len(path) + 1):
                c = "/".join(path[:i])
                if c in clusters:
                    clusters[c]["ops"] += 1
                    clusters[c]["params"] += params.get(name, 0)

    edges = _merge_edges(g, nodes, key, visible)
    where = f"function {g.function_name}" if g.function_name else (str(g.path) if g.path else "graph")
    parts = [f"{len(all_nodes):,} ops"]
    if len(nodes) != len(all_nodes):
        parts.append(f"{len(nodes):,} shown")
    if scope:
        parts.append(f"scope {scope}/")
    if between:
        parts.append(f"between {between[0]} and {between[1]}")
    if no_training:
        parts.append("without training machinery")
    parts.append(f"depth {depth}" if depth else "fully expanded")
    return View(nodes=visible, edges=edges, clusters=clusters, depth=depth or None,
                total_ops=len(all_nodes), shown_ops=len(nodes), title=f"{where}\n" + ", ".join(parts))


def _op_node(g, node_def, key, names, clusters, params, calls) -> Node:
    op = g.op(node_def.name)
    return Node(id=key, kind="op", name=node_def.name, ops=names,
                category=style.op_category(node_def.op, node_def.name, bool(calls)),
                clusters=clusters, type=node_def.op, params=sum(params.get(m, 0) for m in names),
                calls=calls, outputs=[f"{t.dtype or '?'} {format_shape(t.shape)}" for t in op.outputs])


def _merge_edges(g, nodes, key, visible) -> list[Edge]:
    merged: dict[tuple[str, str, str], dict] = {}
    for node in nodes:
        dst = key[node.name]
        for text in node.input:
            control = text.startswith("^")
            if control:
                producer, index = text[1:], -1
            else:
                producer, sep, idx = text.rpartition(":")
                if sep and idx.isdigit():
                    index = int(idx)
                else:
                    producer, index = text, 0
            src = key.get(producer)
            if src is None or src == dst:
                continue  # outside the selection, or inside one box
            if control:
                kind, tensor = "control", producer
            else:
                types = g.output_dtypes(producer) if producer in g else None
                dtype = types[index] if types and index < len(types) else None
                kind = "ref" if dtype and dtype.endswith("_ref") else "resource" if dtype == "resource" else "data"
                tensor = f"{producer}:{index}"
            entry = merged.setdefault((src, dst, kind), {"tensors": {}, "count": 0})
            entry["tensors"][tensor] = None
            entry["count"] += 1
    edges = []
    for (src, dst, kind), entry in merged.items():
        tensors = list(entry["tensors"])
        edge = Edge(src=src, dst=dst, kind=kind, tensors=tensors, count=entry["count"])
        edge.label = _edge_label(g, edge)
        edges.append(edge)
    return edges


def _edge_label(g, edge: Edge) -> str:
    if edge.kind == "control":
        return f"{edge.count} control" if edge.count > 1 else ""
    if len(edge.tensors) == 1:
        t = g.tensor(edge.tensors[0])
        text = f"{t.dtype or '?'} {format_shape(t.shape)}"
        return text + (f" ×{edge.count}" if edge.count > 1 else "")
    return f"{len(edge.tensors)} tensors"
