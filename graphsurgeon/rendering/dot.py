"""From a :class:`~graphsurgeon.rendering.view.View` to a ``graphviz.Digraph``, and running ``dot``."""
from __future__ import annotations

import re
import shutil
import subprocess

import graphviz

from ..errors import OutputError
from . import params as _params
from . import processes
from . import style
from .view import View

FORMATS = ("svg", "png", "pdf", "dot")
DOT_TIMEOUT = 120.0  # seconds; the automatic collapse keeps layouts well under one

INSTALL_HINT = ("install Graphviz: Debian/Ubuntu 'sudo apt-get install graphviz', Fedora 'sudo dnf install "
                "graphviz', macOS 'brew install graphviz' (./dev.sh setup does it); or write the DOT source "
                "with --format dot")
_FONT = "Helvetica"
_MAX_LABEL = 36
_MAX_TIP = 2000
_MAX_TIP_TOTAL = 15000  # escaped characters per tooltip: dot refuses a quoted string past 16,384
_MAX_TITLE = 200


# Characters XML 1.0 forbids (C0 controls but tab, newline and carriage
# return; lone surrogates; U+FFFE/U+FFFF), plus every other control
# character (C0, DEL, C1): none may reach an SVG, and none reads as
# anything useful in a picture. Names keep them visible, as \x1b.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _visible(match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text(value, tooltip: bool = False) -> str:
    r"""Any text from a model (names, types, paths) made safe for a DOT string and the SVG made from it.

    The one place names are made safe for pictures: control characters and
    what XML forbids become visible escapes (``\x1b``); ``&`` becomes
    ``&amp;`` (Graphviz reads entities in labels, and ``&#27;`` would put an
    ESC back); backslashes are doubled (Graphviz reads ``\N``, ``\l`` as
    escapes, and a trailing one would eat the closing quote); in a
    ``tooltip`` Graphviz unescapes them twice (checked with dot 2.43: a
    literal ``\`` takes four). Returned as
    :func:`graphviz.nohtml`, so that a name like ``<b>x</b>`` is quoted as
    text instead of passed through as an HTML label. Quotes are escaped by
    the graphviz package when it writes the attribute.
    """
    value = _UNSAFE.sub(_visible, str(value))
    value = value.replace("\\", "\\\\\\\\" if tooltip else "\\\\")
    return graphviz.nohtml(value.replace("&", "&amp;"))


def _lines(*lines: str, tooltip: bool = False) -> str:
    """Lines of model text as one label: each made safe, joined by newlines that stay line breaks."""
    return graphviz.nohtml("\n".join(text(line, tooltip) for line in lines))


def _tip(*lines: str) -> str:
    """A tooltip: like :func:`_lines`, each line cut in the middle beyond _MAX_TIP characters.

    A name 50,000 scopes deep is 300 KB; its head and tail say what it is,
    and a dozen of them would make the SVG megabytes of tooltips.
    """
    out, total = [], 0
    for i, line in enumerate(lines):
        if len(line) > _MAX_TIP:
            line = line[: _MAX_TIP // 2] + " … " + line[-_MAX_TIP // 2:]
        escaped = text(line, tooltip=True)
        size = len(escaped) + escaped.count('"')  # the graphviz package writes a quote as \"
        if out and total + size > _MAX_TIP_TOTAL:  # a RestoreV2 of 2,000 outputs: the first ones say enough
            out.append(f"… {len(lines) - i:,} more lines")
            break
        out.append(escaped)
        total += size + 1
    return graphviz.nohtml("\n".join(out))


def _short(value: str, limit: int = _MAX_LABEL) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _scope_label(path: str) -> str:
    """A frame's label: its path below the frame around it, long chains shortened (``a/…/z/ (4,000 levels)``)."""
    parts = path.split("/")
    if len(parts) > 3:
        return f"{_short(parts[0], 16)}/…/{_short(parts[-1], 16)}/ ({len(parts):,} levels)"
    return _short(path + "/", 2 * _MAX_LABEL)


def _mark(node_or_info, attrs: dict) -> str | None:
    """Frozen layers get a heavy double frame; returns the label line saying frozen or trainable."""
    state = node_or_info.get("trainable") if isinstance(node_or_info, dict) else node_or_info.trainable
    if state == "frozen":
        attrs.update(style.FROZEN)
    elif state == "partly frozen":
        attrs.update(color=style.FROZEN["color"], penwidth="2")
    return state


def _node_attrs(node) -> dict:
    fill = style.COLORS[node.category]
    attrs: dict = {}
    state = _mark(node, attrs)
    if node.kind in ("scope", "group"):
        head = node.name.rsplit("/", 1)[-1] + "/" if node.kind == "scope" else node.name
        counts = f"{len(node.ops):,} ops" + (f" · {node.params:,} params" if node.params else "")
        top = ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in node.type_counts.most_common(8))
        if node.kind == "scope":
            tooltip = [f"{node.name}/ (collapsed scope)", counts, f"op types: {top}"]
        else:
            shown = node.members[:12]
            more = [f"… {len(node.members) - 12:,} more"] if len(node.members) > 12 else []
            tooltip = [f"{node.name} (siblings drawn together)", counts, f"op types: {top}"] + shown + more
        tooltip += [f"with {count} more op(s) of scope {root}/ drawn inside" for root, count in node.inside]
        attrs.update({"label": _lines(_short(head), counts, *([state] if state else [])), "shape": "box",
                      "style": "rounded,filled,bold" if node.kind == "scope" else "rounded,filled,bold,dashed",
                      "fillcolor": fill, "fontsize": "11", "tooltip": _tip(*tooltip), "margin": "0.15,0.06"})
        return attrs
    leaf = node.name.rsplit("/", 1)[-1]
    lines = [_short(leaf)]
    if node.type != leaf:
        lines.append(_short(node.type))
    lines.extend(_params.lines_of(node.parameters, _MAX_LABEL))
    for attr, fname in node.calls[:3]:
        lines.append(_short(("→ " if attr == "op" else f"{attr}: ") + fname))
    if state:
        lines.append(state)
    tip = [f"{node.name} ({node.type})"]
    tip += [f"output {i}: {out}" for i, out in enumerate(node.outputs)]
    tip += [f"calls {fname}" + ("" if attr == "op" else f" ({attr})") for attr, fname in node.calls]
    own = len(node.ops) - 1 - sum(count for _, count in node.inside)
    if own > 0:
        tip.append(f"with {own} more op(s) of scope {node.name}/")
    tip += [f"parameter {name} {value}" for name, value in node.parameters]
    tip += [f"with {count} more op(s) of scope {root}/ drawn inside" for root, count in node.inside]
    if node.params:
        tip.append(f"{node.params:,} params")
    attrs.update({"label": _lines(*lines), "shape": "ellipse", "style": "filled", "fillcolor": fill,
                  "fontsize": "10", "tooltip": _tip(*tip), "margin": "0.05,0.02"})
    if node.parameters and not node.calls:
        attrs.update(shape="box", margin="0.1,0.04")  # lines of weights read better in a box than an ellipse
    elif node.calls:
        attrs.update(shape="component", style="filled,bold")
    elif node.category == "input":
        attrs.update(shape="invhouse")
    elif node.category == "variable" and node.type != "Const":
        attrs.update(shape="cylinder")
    return attrs


def node_ids(view: View) -> dict[str, str]:
    r"""The DOT id of every visible node: ``n0``, ``n1``, ... in the View's order.

    Names never become DOT ids: a name is the model's to choose, an id is
    syntax (``a:b`` reads as a port, ``<b>`` as HTML, a trailing ``\`` eats
    the quote). Names go only into escaped labels and tooltips; the SVG's
    ``<title>`` of a node is its id.
    """
    return {key: f"n{i}" for i, key in enumerate(view.nodes)}


def to_digraph(view: View, rankdir: str = "TB", legend: bool = True, layout: str = "dot") -> graphviz.Digraph:
    """Build the Graphviz Digraph of a View: nested clusters for expanded scopes, a legend.

    ``layout="layered"``: the same nodes and edges placed by
    :func:`graphsurgeon.rendering.layered.place` (a ``pos`` on every node,
    for ``neato -n2``; no cluster frames, straight edges): what a view gets
    when ``dot`` cannot lay it out within its budget (see
    :mod:`graphsurgeon.rendering.budget`).
    """
    ids = node_ids(view)
    dot = graphviz.Digraph("graphsurgeon", strict=False)
    dot.attr("graph", rankdir=rankdir, newrank="true", fontname=_FONT, fontsize="12", labelloc="t",
             label=_lines(*(_short(line, _MAX_TITLE) for line in view.title.split("\n"))), ranksep="0.35",
             nodesep="0.25", bgcolor="white",
             tooltip=_tip(*view.title.split("\n")))
    dot.attr("node", fontname=_FONT, penwidth="1", height="0.3")
    dot.attr("edge", fontname=_FONT, fontsize="8", fontcolor="#505050", arrowsize="0.6")
    attrs_of = {ids[key]: _node_attrs(node) for key, node in view.nodes.items()}
    if layout == "layered":
        _draw_layered(dot, view, ids, attrs_of, rankdir, legend)
        return dot

    # One Digraph per drawn scope, filled with its nodes, attached innermost first.
    subgraphs = {}
    for i, (name, info) in enumerate(view.clusters.items()):
        sub = graphviz.Digraph(name=f"cluster{i}")
        counts = f"{info['ops']:,} ops" + (f" · {info['params']:,} params" if info["params"] else "")
        attrs = {"style": "rounded,dashed", "color": "#7f7f7f"}
        state = _mark(info, attrs)
        label = f"{_scope_label(info['label'])}  ({counts}" + (f", {state})" if state else ")")
        sub.attr(label=text(label), tooltip=_tip(f"{name}/", counts), fontsize="11", labeljust="l", **attrs)
        subgraphs[name] = sub
    for key, node in view.nodes.items():
        target = subgraphs[node.clusters[-1]] if node.clusters else dot
        target.node(ids[key], **attrs_of[ids[key]])
    for name in sorted(subgraphs, key=lambda n: -len(_chain(view.clusters, n))):
        parent = view.clusters[name]["parent"]
        (subgraphs[parent] if parent else dot).subgraph(subgraphs[name])

    kinds: set = set()
    _draw_edges(dot, view, ids, kinds)
    _draw_stubs(dot, view, ids, kinds)
    if legend:
        _draw_legend(dot, view, kinds)
    return dot


def _draw_edges(dot, view: View, ids: dict[str, str], kinds: set) -> None:
    for edge in view.edges:
        kinds.add(edge.kind)
        attrs = dict(style.EDGE_STYLES[edge.kind][0])
        into_machinery = view.nodes[edge.dst].machinery and not view.nodes[edge.src].machinery
        if into_machinery:
            # Gradients, savers and initialisers read everything: their edges
            # are drawn faint, unlabelled and without pull on the layout, so
            # the network's own data flow stays readable.
            attrs.update(color=style.FAINT[edge.kind], weight="0")
        elif edge.label:
            attrs["label"] = text(edge.label)
        shown = edge.tensors[:12]
        more = [f"… {len(edge.tensors) - 12} more"] if len(edge.tensors) > 12 else []
        attrs["tooltip"] = _tip(f"{edge.src} -> {edge.dst}: {edge.count} {edge.kind} edge(s)"
                                  + (f", {edge.label}" if edge.label else ""), *shown, *more)
        if edge.count > 1:
            attrs["penwidth"] = str(float(attrs.get("penwidth", 1)) + 0.6)  # merged edges look heavier
        dot.edge(ids[edge.src], ids[edge.dst], **attrs)


def _draw_legend(dot, view: View, kinds: set, **attrs) -> None:
    categories = {n.category for n in view.nodes.values()}
    dot.node("legend", label=style.legend_html(categories, kinds, frozen=view.marks_frozen,
                                               groups=any(n.kind == "group" for n in view.nodes.values()),
                                               stubs=bool(view.stubs)),
             shape="plaintext", fontsize="9", tooltip="legend", **attrs)


def stub_ids(view: View) -> dict[str, str]:
    """The DOT id of every stub of a partial view: ``s0``, ``s1``, ... (never a name, like :func:`node_ids`)."""
    return {stub.id: f"s{i}" for i, stub in enumerate(view.stubs)}


def stub_nodes(view: View) -> list[tuple[str, "object", list]]:
    """Every stub box drawn: ``(DOT id, its Stub, its edges)``.

    A stub is one box, unless it is ``spread`` (by the layout budget): then
    it is one box beside each node it joins, with the ids after the stubs'
    own (``s10``, ``s11``, ...).
    """
    sids = stub_ids(view)
    out, extra = [], len(view.stubs)
    for stub in view.stubs:
        if not stub.spread:
            out.append((sids[stub.id], stub, stub.edges))
            continue
        by_node: dict[str, list] = {}
        for edge in stub.edges:
            by_node.setdefault(edge.dst if stub.direction == "in" else edge.src, []).append(edge)
        for edges in by_node.values():
            out.append((f"s{extra}", stub, edges))
            extra += 1
    return out


def _stub_attrs(stub) -> dict:
    word = "from" if stub.direction == "in" else "to"
    count = f" ({len(stub.ops):,} ops)" if len(stub.ops) > 1 and not stub.name.endswith(" ops") else ""
    shown = stub.ops[:12]
    more = [f"… {len(stub.ops) - 12:,} more"] if len(stub.ops) > 12 else []
    return dict(label=_lines(f"{word} {_short(stub.name, 2 * _MAX_LABEL)}{count}"),
                shape="box", style="rounded,dashed", color=style.STUB["color"], fontcolor=style.STUB["font"],
                fontsize="9", tooltip=_tip(f"{'inputs from' if stub.direction == 'in' else 'outputs to'} "
                                           "ops outside this view:", *shown, *more))


def _stub_edge_list(view: View, ids: dict[str, str]) -> list[tuple[str, str, object]]:
    """``(tail, head, Edge)`` of every edge drawn to or from a stub box."""
    out = []
    for dot_id, stub, edges in stub_nodes(view):
        for edge in edges:
            out.append((dot_id, ids[edge.dst], edge) if stub.direction == "in" else (ids[edge.src], dot_id, edge))
    return out


def _draw_stubs(dot, view: View, ids: dict[str, str], kinds: set) -> None:
    """Edges entering and leaving a partial view, to dashed boxes naming the outside ops (inputs on top)."""
    boxes = stub_nodes(view)
    for direction, rank in (("in", "min"), ("out", "max")):
        side = [(dot_id, stub) for dot_id, stub, _ in boxes if stub.direction == direction and not stub.spread]
        if side:
            sub = graphviz.Digraph(name=f"stubs_{direction}")
            sub.attr(rank=rank)
            for dot_id, stub in side:
                sub.node(dot_id, **_stub_attrs(stub))
            dot.subgraph(sub)
    for dot_id, stub, edges in boxes:
        if stub.spread:  # beside the node it joins, on its rank: a flat edge, the chain stays straight
            inside = edges[0].dst if stub.direction == "in" else edges[0].src
            same = graphviz.Digraph(name=f"beside_{dot_id}")
            same.attr(rank="same")
            same.node(dot_id, **_stub_attrs(stub))
            same.node(ids[inside])
            dot.subgraph(same)
    _draw_stub_edges(dot, view, ids, kinds)


def _draw_stub_edges(dot, view: View, ids: dict[str, str], kinds: set) -> None:
    for tail, head, edge in _stub_edge_list(view, ids):
        kinds.add(edge.kind)
        attrs = dict(style.EDGE_STYLES[edge.kind][0])
        if edge.label:
            attrs["label"] = text(edge.label)
        attrs["tooltip"] = _tip(f"{edge.count} {edge.kind} edge(s)" + (f", {edge.label}" if edge.label else ""),
                                *edge.tensors[:12])
        dot.edge(tail, head, **attrs)


def layout_shape(view: View) -> tuple[list[str], list[tuple[str, str]], list[str], list[str]]:
    """The picture as a graph of DOT ids: ``(nodes, edges, top, bottom)``, ``top``/``bottom`` the stubs pinned there."""
    ids = node_ids(view)
    nodes = list(ids.values())
    edges = [(ids[e.src], ids[e.dst]) for e in view.edges]
    top, bottom = [], []
    for dot_id, stub, _ in stub_nodes(view):
        nodes.append(dot_id)
        if not stub.spread:
            (top if stub.direction == "in" else bottom).append(dot_id)
    edges.extend((tail, head) for tail, head, _ in _stub_edge_list(view, ids))
    return nodes, edges, top, bottom


def _size(attrs: dict) -> tuple[float, float]:
    """A node's width and height in points, estimated from its label (what Graphviz will make of it, roughly)."""
    lines = str(attrs.get("label", "")).split("\n")
    font = float(attrs.get("fontsize", 14))
    width = max(len(line) for line in lines) * font * 0.6 + 16
    height = len(lines) * font * 1.25 + 8
    if attrs.get("shape") == "ellipse":
        width, height = width * 1.35, height * 1.35
    return max(width, 40.0), max(height, 22.0)


def _draw_layered(dot, view: View, ids: dict[str, str], attrs_of: dict, rankdir: str, legend: bool) -> None:
    """Every node at a position of :func:`layered.place`, for ``neato -n2`` (see :func:`to_digraph`)."""
    from . import layered

    boxes = {dot_id: _stub_attrs(stub) for dot_id, stub, _ in stub_nodes(view)}
    nodes, edges, top, bottom = layout_shape(view)
    every = {**attrs_of, **boxes}
    sizes = {n: _size(every[n]) for n in nodes}
    if rankdir in ("LR", "RL"):
        sizes = {n: (h, w) for n, (w, h) in sizes.items()}
    where = layered.place(nodes, edges, sizes, top, bottom)
    dot.attr("graph", layout="neato", splines="line", overlap="true", outputorder="edgesfirst")
    right = max((x + sizes[n][0] / 2 for n, (x, _) in where.items()), default=0.0)
    for n in nodes:
        x, y = where[n]
        if rankdir == "LR":
            x, y = y, x
        elif rankdir == "RL":
            x, y = -y, x
        elif rankdir == "BT":
            y = -y
        dot.node(n, pos=f"{x:.1f},{-y:.1f}!", **every[n])
    kinds: set = set()
    _draw_edges(dot, view, ids, kinds)
    _draw_stub_edges(dot, view, ids, kinds)
    if legend:
        _draw_legend(dot, view, kinds, pos=f"{right + 120:.1f},0!")


def _chain(clusters: dict, name: str) -> list[str]:
    out = []
    while name:
        out.append(name)
        name = clusters[name]["parent"]
    return out


def find_dot() -> str:
    """Path of Graphviz's ``dot``, or OutputError saying how to install it."""
    path = shutil.which("dot")
    if path is None:
        raise OutputError("Graphviz's 'dot' program is not installed (needed for svg, png and pdf)",
                          hint=INSTALL_HINT)
    return path


def run_dot(source: str, fmt: str, timeout: float = DOT_TIMEOUT) -> bytes:
    """Lay out DOT ``source`` with ``dot -T<fmt>``; raises OutputError on a missing dot, failure or timeout."""
    exe = find_dot()
    try:
        proc = processes.run([exe, f"-T{fmt}"], source.encode("utf-8"), timeout)
    except subprocess.TimeoutExpired:
        raise OutputError(f"Graphviz's dot did not finish within {timeout:g} s",
                          hint="draw less: a smaller --depth, --scope SCOPE or --between IN OUT") from None
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OutputError(f"Graphviz's dot failed (exit {proc.returncode})",
                          hint=message[-1] if message else None)
    return proc.stdout
