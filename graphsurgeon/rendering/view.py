"""The picture as data: which boxes and ops are visible, and the edges between them.

A :class:`View` is what gets drawn, before any Graphviz: building it is
linear in the size of the graph (names included: see
:mod:`~graphsurgeon.rendering.scopes`), so that a 60,000-op graph, or one
whose names are 50,000 scopes deep, costs a fraction of a second before
``dot`` sees a hundred nodes.

Collapsing: an op belongs to the name scopes of its name (``a/b/c`` to
``a`` and ``a/b``); an op whose name is itself a scope (the variable
``hidden1/kernel`` with ``hidden1/kernel/read`` under it) belongs to that
scope too. Walking an op's scopes outward in, the first collapsed one is
the box it disappears into; when none is collapsed, the op is drawn itself,
inside a cluster per expanded scope. A scope that would only hold one other
cluster is not drawn on its own: its name goes into that cluster's label
(``a/b/c/``), so a chain of a thousand single-child scopes is one frame.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..analysis.shapes import format_shape
from ..errors import NotFoundError, UsageError
from ..ir.functions import called_functions
from ..metagraph.variables import variables
from ..vocab import dtypes
from ..vocab.optypes import is_saver_op, training_machinery
from . import group as _group
from . import params as _params
from . import scopes, select, style

TARGET_NODES = 150    # the automatic depth keeps about this many visible nodes or fewer
INFORMATIVE = 10      # ... and goes deeper while fewer than this many are visible
DOMINANT = 0.8        # ... and opens a box holding this share of the ops drawn (the whole network)
MAX_NODES = 500       # refuse (fast) to lay out more than this when the user fixed the depth
MAX_NESTING = 200     # clusters nested deeper than this cost Graphviz too much (400: 1.7 s, 200 MB)
MAX_STUBS = 8        # stubs per side of a partial view; more outside ops are merged by scope
MAX_CONTROL_STUBS = 2  # ... of those, for ops joined by control edges only (every gradient op waits on every update)
MAX_GROUPED_EDGES = 200  # random edges among 150 nodes: 200 lay out in 0.3 s, 400 take minutes (dot 2.43)
MAX_LABELLED_TENSORS = 1000  # a merged edge of more tensors is labelled by their number alone (no type looked up)
BIG_HINT = "--depth N, --collapse SCOPE, --scope SCOPE or --between IN OUT"


@dataclass
class Node:
    """One visible node: an op, a collapsed scope drawn as one box, or a group of sibling scopes or ops."""

    id: str                      # op name, scope name + "/" for a collapsed scope, the group's label for a group
    kind: str                    # "op", "scope" or "group"
    name: str                    # op or scope name; a group's label (``layer0…layer499 ×500``)
    ops: list[str]               # the ops it stands for
    category: str
    clusters: tuple[str, ...]    # drawn clusters around it, outermost first
    type: str | None = None      # op type (ops only)
    params: int = 0
    calls: list[tuple[str, str]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)   # "dtype shape" per output (ops only)
    type_counts: Counter | None = None                 # op types inside (scopes and groups)
    machinery: bool = False      # every op in it is training machinery (drawn faint edges into it)
    members: list[str] = field(default_factory=list)   # a group's scopes ("layer0/") and ops
    trainable: str | None = None  # "frozen", "trainable" or "partly frozen" (see View.marks_frozen)
    parameters: list[tuple[str, str]] = field(default_factory=list)  # (name, shape) of the parameters drawn inside
    inside: list[tuple[str, int]] = field(default_factory=list)  # (op or scope, ops) drawn inside from elsewhere


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
class Stub:
    """Where edges crossing the edge of a partial view lead: outside ops, drawn as one labelled stub.

    Only views built with ``stubs_from`` have them (the explorer's views of
    one scope); ``render`` draws none.
    """

    id: str                      # "in0", "out3": unique among the view's stubs, never a name
    direction: str               # "in": the outside ops feed the view; "out": they read from it
    name: str                    # an op name, a scope (``a/b/``), "N more ops" or "N ops"
    ops: list[str]               # the outside ops it stands for, most edges first
    edges: list[Edge] = field(default_factory=list)  # "in": src is this stub's id; "out": dst is
    spread: bool = False         # drawn once beside each node it joins, not as one box on the view's edge
                                 # (set by the layout budget: see :mod:`graphsurgeon.rendering.budget`)


@dataclass
class View:
    """What :func:`graphsurgeon.render` draws."""

    nodes: dict[str, Node]
    edges: list[Edge]
    clusters: dict[str, dict]    # drawn scope -> {"ops", "params", "parent", "label", "trainable"}
    depth: int | None            # collapse depth used (None: nothing collapsed)
    total_ops: int               # ops in the graph
    shown_ops: int               # ops selected (after --scope, --between and the training filter)
    title: str
    function: str | None = None  # the library function drawn (None: the top-level graph)
    auto_collapsed: list[str] = field(default_factory=list)  # what was grouped to fit, in words
    notes: list[str] = field(default_factory=list)           # everything chosen for the user, in words
    marks_frozen: bool = False   # some variables are not trainable: nodes say which (``Node.trainable``)
    base: str = ""               # the scope drawn (frames are labelled below it; "" for the whole graph)
    stubs: list[Stub] = field(default_factory=list)


def _check_scopes(names, sorted_names, g, option: str) -> set[str]:
    out = set()
    for name in names or ():
        name = name.strip("/")
        if not scopes.is_scope(sorted_names, name):
            raise NotFoundError("scope", name, select.scope_candidates(g, name), where=f"{g.where} ({option})")
        out.add(name)
    return out


def build_view(g, depth: int | None = None, expand=(), collapse=(), scope: str | None = None,
               between: tuple[str, str] | None = None, training: bool | None = None,
               max_nodes: int | None = MAX_NODES, target_nodes: int = TARGET_NODES, *,
               ops=None, base: str | None = None, max_run: int | None = None, stubs_from=None,
               weights_as_nodes: bool = False) -> View:
    """Select, collapse and merge: the visible nodes and edges of ``g``.

    See :func:`graphsurgeon.rendering.render` for the arguments. ``depth``
    None picks the depth automatically (and groups siblings when even depth 1
    is too big), 0 collapses nothing. ``training`` None hides the training
    machinery unless nothing else is left.

    The explorer's views of one part of a graph (see
    :mod:`graphsurgeon.rendering.explore`) pass instead: ``ops``, the op
    names to draw (no other selection applies); ``base``, the scope they are
    drawn below (default: the deepest scope holding them all); ``max_run``,
    the most numbered siblings one group may hold (longer runs are cut:
    ``layer0…layer99 ×100``, ``layer100…``); ``stubs_from``, the ops whose
    edges with the drawn ones become stubs (:class:`Stub`). Building such a
    view costs time in proportion to its own ops and their edges, not to
    the graph's.

    Parameters (a constant or variable read by one op: see
    :mod:`~graphsurgeon.rendering.params`) are drawn inside the op reading
    them, unless ``weights_as_nodes``; ``training`` says which ops may read
    them (in the explorer's views too: True for views of everything).
    """
    all_sorted = scopes.sorted_names(g)
    machinery = training_machinery(g)
    notes: list[str] = []
    if ops is not None:
        if scope or between:
            raise UsageError("build_view: ops= is a selection of its own; give no scope or between with it")
        node_defs, order = g.node_defs, _facts(g).order
        nodes = [node_defs[name] for name in sorted(ops, key=order.__getitem__)]
        hidden = 0
    else:
        selected: set[str] | None = None
        base = ""
        if scope:
            selected = select.scope_ops(g, scope)
            scope = scope.strip("/")
            base = scope if scopes.is_scope(all_sorted, scope) else ""
        if between:
            on_path = select.ops_between(g, *between)
            selected = on_path if selected is None else selected & on_path
        chosen = [n for n in g.graph_def.node if selected is None or n.name in selected]
        nodes, hidden = chosen, 0
        if not training:
            keep = [n for n in chosen if n.name not in machinery]
            if keep or training is False:
                nodes, hidden = keep, len(chosen) - len(keep)
            else:
                notes.append("every op here is training machinery: drawn anyway")
    if not nodes:
        raise UsageError(f"nothing left to draw in {g.where}",
                         hint="loosen --scope or --between" + ("" if training else ", or add --training"))
    if depth is not None and depth < 0:
        raise UsageError(f"--depth must be 0 (collapse nothing) or more, not {depth}")
    expand_set = _check_scopes(expand, all_sorted, g, "--expand")
    collapse_set = _check_scopes(collapse, all_sorted, g, "--collapse")

    node_by_name = {n.name: n for n in nodes}
    absorbed = {} if weights_as_nodes else _absorbed(g, node_by_name, bool(training))
    names = [n.name for n in nodes if n.name not in absorbed]
    if ops is not None:
        base = common_scope(names, all_sorted) if base is None else base.strip("/")
    place = scopes.Placement(names, all_sorted, scopes.levels(base), collapse_set, expand_set, base=base)
    target = min(target_nodes, max_nodes) if max_nodes else target_nodes
    auto = depth is None
    grouped_deeper = False
    if auto:
        depth, grouped_deeper = _auto_depth(place, node_by_name, target, max_run)
        if not grouped_deeper:
            place = _open_dominant(place, depth, names, all_sorted, base, collapse_set, expand_set, target)
    keys = place.keys(depth)
    boxes = {k for i, k in enumerate(keys) if place.level(i, depth) != scopes.NEVER}
    count = len(set(keys))
    groups: list[_group.Group] = []
    if max_nodes is not None and count > max_nodes and not auto:
        raise _too_many(g, place, count, depth, max_nodes)
    if auto and (grouped_deeper or (max_nodes is not None and count > max_nodes)):
        siblings = _siblings(set(keys), boxes, node_by_name)
        budget = target
        while True:
            groups = _group.fit(siblings, budget, numbered_only=grouped_deeper, taken=set(keys), max_run=max_run)
            # Ranges of unrelated names can join everything to everything, and Graphviz
            # takes minutes over a few hundred crossing edges: fewer groups, then.
            if budget <= 2 or _edge_pairs(g, names, keys, groups, MAX_GROUPED_EDGES) <= MAX_GROUPED_EDGES:
                break
            budget //= 2
    group_of = {m: grp for grp in groups for m in grp.members}

    members: dict[str, list[str]] = {}
    key: dict[str, str] = {}
    for name, k in zip(names, keys):
        grp = group_of.get(k)
        k = grp.key if grp is not None else k
        key[name] = k
        members.setdefault(k, []).append(name)

    facts = _facts(g)
    params = facts.params
    library = g.library_names

    def calls_of(node_def):
        return called_functions(node_def, library) if library else []

    def category(node_def) -> str:
        if node_def.op == "_Arg" and dtypes.name(node_def.attr["T"].type) == "resource":
            return "variable"  # a function body's captured variable, not a model input
        is_machinery = node_def.name in machinery
        return style.op_category(node_def.op, node_def.name, bool(calls_of(node_def)), is_machinery,
                                 is_machinery and is_saver_op(node_def, library))

    groups_by_key = {grp.key: grp for grp in groups}
    visible: dict[str, Node] = {}
    container: dict[str, str] = {}
    for k, ops in members.items():
        if k in groups_by_key:
            grp = groups_by_key[k]
            visible[k] = _box(k, "group", grp.label, ops, node_by_name, machinery, params, category,
                              named=grp.siblings[0].key.rstrip("/"))
            visible[k].members = grp.members
            container[k] = grp.container
        elif k in boxes:
            scope_name = k[:-1]
            head = node_by_name.get(scope_name)
            rest = [node_by_name[m] for m in ops if m != scope_name]
            parent = scope_name.rpartition("/")[0]
            # A one-op scope, or an op with only its constants under it (the
            # placeholder "training" and "training/input"), reads best as that op.
            if len(ops) == 1 or (head is not None and all(r.op == "Const" for r in rest)):
                op_def = head if head is not None else node_by_name[ops[0]]
                visible[op_def.name] = _op_node(g, op_def, ops, machinery, params, calls_of(op_def), category)
                container[op_def.name] = parent
                for m in ops:  # edges meet the op, not the scope it stands for
                    key[m] = op_def.name
                continue
            visible[k] = _box(k, "scope", scope_name, ops, node_by_name, machinery, params, category)
            container[k] = parent
        else:
            op_def = node_by_name[k]
            visible[k] = _op_node(g, op_def, ops, machinery, params, calls_of(op_def), category)
            container[k] = scopes.scope_path(k, scopes.is_scope(all_sorted, k))

    _draw_inside(visible, key, absorbed, params, node_by_name)
    if not weights_as_nodes:
        _merge_weight_nodes(g, visible, container, key, params, node_by_name)
    clusters = _clusters(visible, container, base)
    edges = _merge_edges(g, nodes, key, visible)
    marks = _mark_trainable(facts.layers, visible, clusters)
    stubs = _stubs(g, nodes, key, stubs_from) if stubs_from is not None else []
    where = f"function {g.function_name}" if g.function_name else (str(g.path) if g.path else "graph")
    parts = [f"{len(g):,} ops"]
    if len(nodes) != len(g):
        parts.append(f"{len(nodes):,} shown")
    if scope:
        parts.append(f"scope {scope}/")
    elif ops is not None and base:
        parts.append(f"scope {_shorten(base)}/")
    if between:
        parts.append(f"between {between[0]} and {between[1]}")
    if hidden:
        parts.append(f"{hidden:,} training ops hidden")
    parts.append(f"depth {depth}" if depth else "fully expanded")
    collapsed = [_describe(grp) for grp in groups]
    if collapsed:
        parts.append(f"{len(groups)} group{'s' if len(groups) != 1 else ''} of siblings")
        notes.append(f"grouped siblings to draw {len(visible)} nodes instead of {count:,}: " + "; ".join(collapsed)
                     + f" (see them with {BIG_HINT}, or every view of them with graphsurgeon explore MODEL -o DIR)")
    return View(nodes=visible, edges=edges, clusters=clusters, depth=depth or None, total_ops=len(g),
                shown_ops=len(nodes), title=f"{where}\n" + ", ".join(parts), auto_collapsed=collapsed,
                notes=notes, marks_frozen=marks, base=base, stubs=stubs)


def _absorbed(g, node_by_name: dict, training: bool) -> dict:
    """The parameters drawn inside their consumer in this view: both they and it are drawn here."""
    found = _params.parameters(g, training)
    if not found:
        return {}
    out = {}
    for name in node_by_name:
        p = found.get(name)
        if p is not None and p.consumer in node_by_name and all(op in node_by_name for op in p.ops):
            out[name] = p
    return out


def _draw_inside(visible: dict, key: dict, absorbed: dict, params: dict, node_by_name: dict) -> None:
    """Each absorbed parameter joins the node its consumer is drawn in (its label too, if that is the op).

    The node's tooltip names where the ops drawn inside it come from
    (``Node.inside``): the parameter's own scope (``hidden1/kernel/``), and
    the scope of a read op that lives elsewhere (``dense/MatMul/ReadVariableOp``).
    """
    inside: dict[str, dict[str, int]] = {}
    for name, p in absorbed.items():
        k = key[p.consumer]
        key[name] = k
        node = visible[k]
        node.ops.append(name)
        node.params += params.get(name, 0)
        if node.type_counts is not None:
            node.type_counts[node_by_name[name].op] += 1
        if name == p.root and node.kind == "op" and node.name == p.consumer:
            node.parameters.append((p.name, p.value))
        home = p.root if name == p.root or name.startswith(p.root + "/") else (name.rpartition("/")[0] or name)
        if node.kind == "scope" and (home == node.name or home.startswith(node.name + "/")):
            continue  # the box's own name says it holds it
        counts = inside.setdefault(k, {})
        counts[home] = counts.get(home, 0) + 1
    for k, counts in inside.items():
        visible[k].inside.extend(counts.items())


def _merge_weight_nodes(g, visible: dict, container: dict, key: dict, params: dict, node_by_name: dict) -> None:
    """A node of nothing but constants and variables whose data all goes to one node is drawn inside that node.

    What :mod:`~graphsurgeon.rendering.params` does op by op, for what the
    picture shows: a scope of weights read by several ops that all sit in
    one box (an unrolled LSTM's ``rnn/basic_lstm_cell/`` kernel and bias), a
    constant read twice by ops of one scope.
    """
    wiring = g.wiring()
    roots = _params.CONSTANT_TYPES | set(_params.VARIABLE_TYPES)
    for k in list(visible):
        node = visible[k]
        types = {node_by_name[m].op for m in node.ops}
        if not types & roots or not types <= _params.WEIGHT_TYPES:
            continue
        targets, edge = set(), None
        for m in node.ops:
            for consumer, index in wiring.data_out.get(m, ()):
                t = key.get(consumer)
                if t is not None and t != k:
                    targets.add(t)
                    if node_by_name[m].op in roots and edge is None:
                        edge = (m, index)
        if len(targets) != 1:
            continue
        (t,) = targets
        into = visible[t]
        for m in node.ops:
            key[m] = t
            into.ops.append(m)
            into.params += params.get(m, 0)
            if into.type_counts is not None:
                into.type_counts[node_by_name[m].op] += 1
        into.inside.append((node.name.rstrip("/") if node.kind == "scope" else node.ops[0], len(node.ops)))
        if into.kind == "op":
            root = next((m for m in node.ops if node_by_name[m].op in roots), node.ops[0])
            name = node.name.rsplit("/", 1)[-1] if node.kind == "scope" else root.rsplit("/", 1)[-1]
            value = _params.value_of(g, node_by_name[root], edge) if node.kind == "op" else f"{len(node.ops)} ops"
            into.parameters.append((name + ("/" if node.kind == "scope" else ""), value))
        del visible[k]
        container.pop(k, None)


def _auto_depth(place: scopes.Placement, node_by_name, target: int, max_run: int | None = None) -> tuple[int, bool]:
    """The depth to draw at, and whether it needs numbered siblings grouped to fit ``target``.

    Go deeper while fewer than INFORMATIVE nodes show and the next depth
    still fits; a depth that is too big as it is but fits once numbered
    siblings are grouped (``model/layer0`` … ``model/layer499``) counts as
    fitting. Only depths where the count can change are tried, shallowest
    first: a depth that adds nothing is not worth its clusters.
    """
    depth = 1
    raw = count = place.count(1)
    grouped, tried = False, 0
    for d in _deeper(place):
        if count >= INFORMATIVE or tried >= 64:  # 64: a bound on work for pathological trees
            break
        tried += 1
        keys = place.keys(d)
        distinct = set(keys)
        n = len(distinct)
        if n == raw:
            continue  # nothing split: a deeper depth would only add frames
        shown, needs_groups = n, False
        if n > target:
            boxes = {k for i, k in enumerate(keys) if place.level(i, d) != scopes.NEVER}
            fewer = _group.fit(_siblings(distinct, boxes, node_by_name), target, numbered_only=True, max_run=max_run)
            shown -= sum(len(grp.siblings) - 1 for grp in fewer)
            needs_groups = True
            if shown > target:
                break
        depth, raw, count, grouped = d, n, shown, needs_groups
    return depth, grouped


def _open_dominant(place: scopes.Placement, depth: int, names, all_sorted, base: str, collapse_set, expand_set,
                   target: int) -> scopes.Placement:
    """Open the box holding most of the picture (``model/`` beside a few inputs and metrics), while it fits.

    The automatic depth stops once INFORMATIVE nodes show; when one of them
    is the whole network, the first picture would hide every layer in it.
    """
    opened = set(expand_set)
    for _ in range(8):  # a few levels of scopes that each hold nearly everything
        keys = place.keys(depth)
        boxes = Counter(k for i, k in enumerate(keys) if place.level(i, depth) != scopes.NEVER)
        if not boxes:
            break
        key, held = boxes.most_common(1)[0]
        if held < DOMINANT * len(names) or key[:-1] in opened:
            break
        trial = scopes.Placement(names, all_sorted, scopes.levels(base), collapse_set, opened | {key[:-1]}, base=base)
        count, before = trial.count(depth), len(set(keys))
        # It must open into layers: a chain of single-child scopes (a/a/a/...) shows one more op a level.
        if count > target or count - before < 3:
            break
        place = trial
        opened.add(key[:-1])
    return place


def _deeper(place: scopes.Placement):
    """Depths below 1 to try: the next few one by one (cheap, the usual case), then only where counts change."""
    yield from range(2, min(5, place.max_depth + 1))
    yield from place.candidate_depths(5)


def _too_many(g, place: scopes.Placement, count: int, depth: int, max_nodes: int) -> UsageError:
    """The refusal for an explicit --depth that draws too much, with the deepest depth that fits."""
    # Frames nest at most depth - 1 deep: a suggestion must pass that check too.
    fitting = [d for d in [1] + place.candidate_depths(2) if (d < depth or depth == 0) and d <= MAX_NESTING + 1]
    lo, hi, best = 0, len(fitting) - 1, None
    while lo <= hi:  # counts grow with depth: bisect for the deepest depth that fits
        mid = (lo + hi) // 2
        if place.count(fitting[mid]) <= max_nodes:
            best, lo = fitting[mid], mid + 1
        else:
            hi = mid - 1
    deeper = f"--depth {best}, " if best is not None else ""
    return UsageError(
        f"{count:,} nodes to draw in {g.where}, more than --max-nodes {max_nodes}",
        hint=f"collapse more with {deeper}--collapse SCOPE, draw one part with --scope SCOPE or "
             "--between IN OUT, leave --depth out to let render group siblings, raise --max-nodes, or browse "
             "every scope with graphsurgeon explore MODEL -o DIR")


def _edge_pairs(g, names, keys, groups, limit: int) -> int:
    """How many node pairs edges would join once ``groups`` are made (counting stops past ``limit``)."""
    into = {m: grp.key for grp in groups for m in grp.members}
    visible = {name: into.get(k, k) for name, k in zip(names, keys)}
    wiring = g.wiring()
    sources: dict[int, set] = {}   # shared control inputs -> the nodes they come from
    pairs = set()
    for name in names:
        dst = visible[name]
        for op, _ in wiring.data_in.get(name, ()):
            src = visible.get(op)
            if src is not None and src != dst:
                pairs.add((src, dst))
        control = wiring.control_in.get(name)
        if control:
            found = sources.get(id(control))
            if found is None:
                found = sources[id(control)] = {visible[op] for op in control if op in visible}
            pairs.update((src, dst) for src in found if src != dst)
        if len(pairs) > limit:
            break
    return len(pairs)


def _siblings(keys, boxes, node_by_name) -> list[_group.Sibling]:
    out = []
    for k in keys:
        if k in boxes:
            parent, _, leaf = k[:-1].rpartition("/")
            out.append(_group.Sibling(k, parent, leaf, "scope"))
        else:
            parent, _, leaf = k.rpartition("/")
            out.append(_group.Sibling(k, parent, leaf, node_by_name[k].op))
    return sorted(out, key=lambda s: s.key)


def _box(k, kind, name, ops, node_by_name, machinery, params, category, named=None) -> Node:
    all_machinery = all(m in machinery for m in ops)
    # Constants say nothing about a scope (every layer has some): count them as "other".
    # Machinery inside a layer (its initialisers) does not colour it.
    cats = [category(node_by_name[m]) if node_by_name[m].op != "Const" else "other"
            for m in ops if all_machinery or m not in machinery]
    category = style.scope_category(named or name, cats, all_machinery)
    return Node(id=k, kind=kind, name=name, ops=ops, category=category, clusters=(),
                params=sum(params.get(m, 0) for m in ops), machinery=all_machinery,
                type_counts=Counter(node_by_name[m].op for m in ops))


def _op_node(g, node_def, names, machinery, params, calls, category) -> Node:
    op = g.op(node_def.name)
    return Node(id=node_def.name, kind="op", name=node_def.name, ops=names, category=category(node_def),
                clusters=(), type=node_def.op, params=sum(params.get(m, 0) for m in names),
                machinery=all(m in machinery for m in names), calls=calls,
                outputs=[f"{t.dtype or '?'} {format_shape(t.shape)}" for t in op.outputs])


def _clusters(visible: dict[str, Node], container: dict[str, str], base: str) -> dict:
    """The scopes drawn as frames, folded (see the module doc), and each node's frames (``Node.clusters``).

    Frames are the scopes holding a node directly, plus the scopes where
    two of those part (neighbours in tree order give them all). Nothing
    here lists a scope's ancestors as strings.
    """
    floor = scopes.levels(base)
    held = {c for c in container.values() if scopes.levels(c) > floor}
    order = sorted(held, key=scopes.tree_order)
    frames = set(held)
    for a, b in zip(order, order[1:]):
        shared = scopes.common_levels(a, b)
        if shared > floor:
            frames.add(scopes.prefix(a, shared))
    parent: dict[str, str | None] = {}
    nesting: dict[str, int] = {}
    stack: list[str] = []
    for c in sorted(frames, key=scopes.tree_order):
        while stack and not c.startswith(stack[-1] + "/"):
            stack.pop()
        parent[c] = stack[-1] if stack else None
        nesting[c] = len(stack) + 1
        stack.append(c)
    deepest = max(nesting.values(), default=0)
    if deepest > MAX_NESTING:  # only --depth 0 or --expand get here: the automatic depth draws far less
        raise UsageError(f"scopes nested {deepest:,} deep: more than Graphviz can lay out ({MAX_NESTING})",
                         hint=f"collapse with --depth {MAX_NESTING} or less (or leave --depth out), or draw one "
                              "part with --scope SCOPE")
    info = {}
    for c in sorted(frames, key=scopes.tree_order):  # not set order: the same model draws the same every run
        up = parent[c]
        start = len(up) + 1 if up else (len(base) + 1 if base else 0)
        info[c] = {"ops": 0, "params": 0, "parent": up, "label": c[start:], "trainable": None}
    chains: dict[str, tuple[str, ...]] = {}

    def chain(c):
        if c not in chains:
            up = parent[c]
            chains[c] = (chain(up) if up else ()) + (c,)  # recursion bounded by MAX_NESTING
        return chains[c]

    for k, node in visible.items():
        c = container[k]
        node.clusters = chain(c) if c in frames else ()
        for frame in node.clusters:
            info[frame]["ops"] += len(node.ops)
            info[frame]["params"] += node.params
    return info


def _merge_edges(g, nodes, key, visible) -> list[Edge]:
    merged: dict[tuple[str, str, str], list] = {}
    wiring = g.wiring()
    shared: dict[int, dict] = {}   # control inputs many ops share -> {source node: [producers, count]}

    def add(src, dst, kind, tensors, count):
        entry = merged.get((src, dst, kind))
        if entry is None:  # not setdefault: it would build a new entry for each of millions of edges
            entry = merged[(src, dst, kind)] = [{}, 0]
        entry[0].update(tensors)
        entry[1] += count

    for node in nodes:
        name = node.name
        dst = key[name]
        for op, index in wiring.data_in.get(name, ()):
            src = key.get(op)
            if src is None or src == dst:
                continue  # outside the selection, or inside one box
            add(src, dst, _data_kind(g, op, index), {f"{op}:{index}": None}, 1)
        control = wiring.control_in.get(name)
        if control:
            # Every gradient op of a training graph waits on the same hundreds of updates:
            # where they come from is worked out once per view, not once per op.
            found = shared.get(id(control))
            if found is None:
                found = shared[id(control)] = {}
                for op in control:
                    src = key.get(op)
                    if src is not None:
                        entry = found.get(src)
                        if entry is None:
                            entry = found[src] = [{}, 0]
                        entry[0][op] = None
                        entry[1] += 1
            for src, (tensors, count) in found.items():
                if src != dst:
                    add(src, dst, "control", tensors, count)
    edges = []
    for (src, dst, kind), (tensors, count) in merged.items():
        edge = Edge(src=src, dst=dst, kind=kind, tensors=list(tensors), count=count)
        edge.label = _edge_label(g, edge)
        edges.append(edge)
    return edges


def _stubs(g, nodes, key: dict[str, str], universe) -> list[Stub]:
    """The stubs of a partial view: its edges with ops of ``universe`` outside it, merged per outside endpoint.

    Each side keeps at most MAX_STUBS stubs: outside ops joined by data
    edges first, merged into their scope at the deepest level that fits
    (``loss/``), and when even their top-level scopes are too many, the
    ones with most edges keep their own stubs and the rest go into one "N
    more ops" stub; ops joined by control edges only share at most
    MAX_CONTROL_STUBS (an edge from every stub to every node costs dot
    dearly, and a training graph's gradient ops each wait on hundreds of
    updates). Control lists are walked as sets, once per view, whatever the
    number of ops sharing them (see :class:`graphsurgeon.ir.wiring.Wiring`).
    """
    wiring = g.wiring()
    single = {"in": {}, "out": {}}    # (outside op, inside node, producer, output index) -> edges
    shared = {"in": {}, "out": {}}    # (inside node, id of a control list) -> [list, ops sharing it, producers]
    for node in nodes:
        name = node.name
        inside = key[name]
        for op, index in wiring.data_in.get(name, ()):
            if op not in key and op in universe:
                k = (op, inside, op, index)
                single["in"][k] = single["in"].get(k, 0) + 1
        for consumer, index in wiring.data_out.get(name, ()):
            if consumer not in key and consumer in universe:
                k = (consumer, inside, name, index)
                single["out"][k] = single["out"].get(k, 0) + 1
        for direction, lists in (("in", wiring.control_in), ("out", wiring.control_out)):
            control = lists.get(name)
            if control:
                k = (inside, id(control))
                entry = shared[direction].get(k)
                if entry is None:
                    entry = shared[direction][k] = [control, 0, {}]
                entry[1] += 1
                entry[2][name] = None
    drawn = key.keys()
    outside: dict[int, frozenset] = {}   # id of a control list -> its ops outside the view
    whole: set[int] = set()              # ... when that is the whole list (a set kept from view to view)
    stubs = []
    for direction in ("in", "out"):
        weight: dict[str, int] = {}
        for (op, *_), count in single[direction].items():
            weight[op] = weight.get(op, 0) + count
        control_ops: set[str] = set()
        for (_, list_id), (control, _, _) in shared[direction].items():
            if list_id not in outside:
                members = _members(g, control, universe)
                # (difference with the dict itself: with its keys view, Python would walk the view's ops)
                if drawn.isdisjoint(members):
                    outside[list_id] = members
                    whole.add(list_id)
                else:
                    outside[list_id] = members.difference(key)
            control_ops.update(outside[list_id])
        if not weight and not control_ops:
            continue
        data_ops = weight.keys()
        by_data = sorted(weight)
        by_data.sort(key=weight.__getitem__, reverse=True)  # most edges first, then by name (a stable sort)
        control_only = frozenset(control_ops.difference(data_ops))
        merged_stubs = _merge_outside(by_data, MAX_STUBS - min(MAX_CONTROL_STUBS, len(control_only))) \
            if by_data else []
        if control_only:
            merged_stubs = merged_stubs + _control_stubs(g, control_only)
        stub_of: dict[str, Stub] = {}
        side = []
        control_sets = []                  # (stub, its ops as a set), for the control-only stubs
        for i, (label, members) in enumerate(merged_stubs):
            stub = Stub(id=f"{direction}{i}", direction=direction, name=label, ops=members)
            side.append(stub)
            if members[0] in control_only:
                control_sets.append((stub, _as_set(g, members)))
            else:
                for op in members:
                    stub_of[op] = stub
        merged: dict[tuple, list] = {}    # (stub id, inside node, kind) -> [tensors, edges]

        def add(stub_id, inside, kind, tensors, count):
            entry = merged.get((stub_id, inside, kind))
            if entry is None:
                entry = merged[(stub_id, inside, kind)] = [{}, 0]
            entry[0].update(tensors)
            entry[1] += count

        for (op, inside, producer, index), count in single[direction].items():
            add(stub_of[op].id, inside, _data_kind(g, producer, index), {f"{producer}:{index}": None}, count)
        by_stub: dict[int, dict] = {}
        for (inside, list_id), (_, n, producers) in shared[direction].items():
            split = by_stub.get(list_id)
            if split is None:
                split = by_stub[list_id] = {}
                ops = outside[list_id]
                joined = not data_ops.isdisjoint(ops)  # (walks the smaller of the two)
                if joined:
                    for op in sorted(ops.intersection(data_ops)):
                        split.setdefault(stub_of[op].id, {})[op] = None
                if len(control_sets) == 1:  # the usual case: one stub for every control-only op
                    found = ops.difference(data_ops) if joined else ops
                    if found:
                        split[control_sets[0][0].id] = _in_order(g, found) if found is ops and list_id in whole \
                            else dict.fromkeys(sorted(found))
                else:
                    for stub, members in control_sets:
                        found = members.intersection(ops) if len(ops) > len(members) else ops.intersection(members)
                        if found:
                            split[stub.id] = dict.fromkeys(sorted(found))
            for stub_id, ops in split.items():
                # a control edge's "tensor" is its producer: outside ops coming in, the view's own going out
                add(stub_id, inside, "control", ops if direction == "in" else producers, len(ops) * n)
        stubs.extend(side)
        by_id = {stub.id: stub for stub in side}
        for (stub_id, inside, kind), (tensors, count) in merged.items():
            src, dst = (stub_id, inside) if direction == "in" else (inside, stub_id)
            edge = Edge(src=src, dst=dst, kind=kind, tensors=list(tensors), count=count)
            edge.label = _edge_label(g, edge)
            by_id[stub_id].edges.append(edge)
    return stubs


def _members(g, control: tuple, universe) -> frozenset:
    """The ops of a control list that are in ``universe``, as a set (computed once per list and universe)."""
    cache = g.derived("rendering.control_sets", lambda graph: {})
    entry = cache.get((id(control), id(universe)))
    if entry is None:  # the objects are kept alive with their set, so that their ids stay theirs
        entry = cache[(id(control), id(universe))] = (frozenset(op for op in control if op in universe), control,
                                                      universe)
    return entry[0]


def _control_stubs(g, ops: frozenset) -> list[tuple[str, list[str]]]:
    """The stubs of ops joined by control edges only (the same set recurs from view to view: computed once)."""
    cache = g.derived("rendering.control_stubs", lambda graph: {})
    found = cache.get(ops)
    if found is None:
        found = cache[ops] = _merge_outside(sorted(ops), MAX_CONTROL_STUBS)
    return found


def _in_order(g, ops: frozenset) -> dict:
    """A control list's ops outside a view (a set :func:`_members` keeps), sorted once, as dict keys."""
    cache = g.derived("rendering.sorted_sets", lambda graph: {})
    found = cache.get(id(ops))
    if found is None or found[1] is not ops:
        found = cache[id(ops)] = (dict.fromkeys(sorted(ops)), ops)  # with the set: its id stays its own
    return found[0]


def _as_set(g, members: list[str]) -> frozenset:
    cache = g.derived("rendering.stub_sets", lambda graph: {})
    found = cache.get(id(members))
    if found is None:
        found = cache[id(members)] = (frozenset(members), members)
    return found[0]


def _merge_outside(ops: list[str], limit: int = MAX_STUBS) -> list[tuple[str, list[str]]]:
    """``(label, ops)`` per stub, at most ``limit``: each op alone when they fit, else merged by scope.

    ``ops`` come most edges first.
    """
    if len(ops) <= limit:
        return [(op, [op]) for op in ops]
    best = None
    # Levels every op shares make one group: start from the deepest of them (30,000 gradient
    # ops outside a view share train/gradients/, and need not be cut there twice).
    lo = min(ops, key=scopes.tree_order)
    hi = max(ops, key=scopes.tree_order)
    for level in range(max(1, scopes.common_levels(lo, hi)), 65):  # 64: a bound for names thousands of levels deep
        groups: dict[str, list[str]] = {}
        for op in ops:
            head = scopes.prefix(op, level)
            label = head + "/" if head != op else op
            members = groups.get(label)
            if members is None:
                if len(groups) == limit:
                    break  # this level has too many: no need to look at the rest
                members = groups[label] = []
            members.append(op)
        else:
            best = groups
            if all(len(members) == 1 for members in groups.values()):
                break
            continue
        break
    if best is None and limit <= 2:  # too few stubs to name scopes with: one for all of them
        return [(f"{len(ops):,} ops", list(ops))]
    if best is None:  # even the top-level scopes are too many: the busiest, then the rest as one
        groups = {}
        for op in ops:
            head = scopes.prefix(op, 1)
            groups.setdefault(head + "/" if head != op else op, []).append(op)
        keep = list(groups)[: limit - 1]
        rest = [op for label in list(groups)[limit - 1:] for op in groups[label]]
        best = {label: groups[label] for label in keep}
        best[f"{len(rest):,} more ops"] = rest
    return list(best.items())


def _data_kind(g, op: str, index: int) -> str:
    types = g.output_dtypes(op) if op in g.node_defs else None
    dtype = types[index] if types and index < len(types) else None
    return "ref" if dtype and dtype.endswith("_ref") else "resource" if dtype == "resource" else "data"


def _edge_label(g, edge: Edge) -> str:
    if edge.kind == "control":
        return f"{edge.count} control" if edge.count > 1 else ""
    if len(edge.tensors) == 1:
        return _tensor_text(g, edge.tensors[0]) + (f" ×{edge.count}" if edge.count > 1 else "")
    if len(edge.tensors) <= MAX_LABELLED_TENSORS:
        # Groups of siblings join each other by hundreds of tensors of one type: say which
        # (block0_conv1…block263_conv1 into block0_bn1…: 264 × float32 [?, 32, 32, 16]).
        texts = {_tensor_text(g, name) for name in edge.tensors}
        if len(texts) == 1:
            return f"{len(edge.tensors)} × {texts.pop()}"
    return f"{len(edge.tensors)} tensors"


def _tensor_text(g, name: str) -> str:
    t = g.tensor(name)
    return f"{t.dtype or '?'} {format_shape(t.shape)}"


def _mark_trainable(layers, visible: dict[str, Node], clusters: dict) -> bool:
    """Say which nodes and frames hold frozen layers (after ``rehead`` or ``freeze-layers``).

    ``layers`` is :func:`_layer_marks`'s ``(layer of each variable, whether
    each layer is trainable)``, or None when there is nothing to mark. A node
    holding frozen and trainable layers is "partly frozen".
    """
    if layers is None:
        return False
    layer_of, trainable = layers

    def mark(found) -> str | None:
        flags = {trainable[layer] for layer in found}
        return None if not flags else "trainable" if flags == {True} else "frozen" if flags == {False} \
            else "partly frozen"

    by_frame: dict[str, set[str]] = {}
    for node in visible.values():
        found = {layer_of[m] for m in node.ops if m in layer_of}
        node.trainable = mark(found)
        for frame in node.clusters:
            by_frame.setdefault(frame, set()).update(found)
    for frame, found in by_frame.items():
        clusters[frame]["trainable"] = mark(found)
    return True


def _layer_marks(var_list, machinery):
    """``(layer of each variable, whether each layer is trainable)`` when some layer is frozen, else None.

    A layer (the scope holding a variable, as :mod:`graphsurgeon.analysis.layers`
    has it) is frozen when none of its variables is in
    ``trainable_variables``: batch normalisation's moving statistics never
    are, its gamma and beta are until frozen. Marks are drawn only when some
    layer is frozen: in an ordinary training graph every layer is trainable
    and saying so on every box is noise. Optimizer slots are training
    machinery, not layers.
    """
    layer_of: dict[str, str] = {}
    trainable: dict[str, bool] = {}
    for v in var_list:
        if v.name in machinery:
            continue
        if v.trainable is None:  # the graph has no trainable_variables collection: nothing to say
            return None
        layer = v.name.rpartition("/")[0] or v.name
        layer_of[v.name] = layer
        trainable[layer] = trainable.get(layer, False) or v.trainable
    if all(trainable.values()):
        return None
    return layer_of, trainable


@dataclass
class _Facts:
    """What every view of a graph needs from the whole graph, computed once (see :meth:`Graph.derived`)."""

    order: dict[str, int]        # op name -> position in the GraphDef
    params: dict[str, int]       # variable name -> parameter count
    layers: tuple | None         # :func:`_layer_marks`


def _facts(g) -> _Facts:
    def compute(graph) -> _Facts:
        var_list = variables(graph)
        return _Facts(order={n.name: i for i, n in enumerate(graph.graph_def.node)},
                      params={v.name: v.params or 0 for v in var_list},
                      layers=_layer_marks(var_list, training_machinery(graph)))
    return g.derived("rendering.facts", compute)


def common_scope(names, all_sorted) -> str:
    """The deepest name scope holding every op of ``names`` (an op named like a scope holds itself)."""
    if not names:
        return ""
    paths = [scopes.scope_path(n, scopes.is_scope(all_sorted, n)) for n in names]
    # The characters all paths share are those the least and the greatest share; they end a
    # scope level where every path ends or goes on with "/" (no tree_order: names can be long).
    lo, hi = min(paths), max(paths)
    n = scopes.common_chars(lo, hi)
    if n == 0:
        return ""
    whole = lo.count("/", 0, n)
    if all(len(p) == n or p[n] == "/" for p in paths):
        return lo[:n]
    return lo[: lo.rfind("/", 0, n)] if whole else ""


def _shorten(text: str, limit: int = 120) -> str:
    """A scope for a title line: a name 50,000 levels deep is shown by its two ends."""
    return text if len(text) <= limit else f"{text[: limit // 2]}…{text[-limit // 2:]}"


def _describe(grp: _group.Group) -> str:
    scopes_n = sum(1 for s in grp.siblings if s.family == "scope")
    what = "scopes" if scopes_n == len(grp.siblings) else "ops" if scopes_n == 0 else "scopes and ops"
    where = f" in {grp.container + '/'!r}" if grp.container else ""
    return f"{len(grp.siblings):,} sibling {what}{where} as {grp.label!r}"
