"""From a :class:`~graphsurgeon.rendering.view.View` to a ``graphviz.Digraph``, and running ``dot``."""
from __future__ import annotations

import os
import shutil
import subprocess

import graphviz

from ..errors import OutputError
from . import style
from .view import View

FORMATS = ("svg", "png", "pdf", "dot")
DOT_TIMEOUT = 120.0  # seconds; the automatic collapse keeps layouts well under one

INSTALL_HINT = ("install Graphviz: Debian/Ubuntu 'sudo apt-get install graphviz', Fedora 'sudo dnf install "
                "graphviz', macOS 'brew install graphviz' (./dev.sh setup does it); or write the DOT source "
                "with --format dot")
_FONT = "Helvetica"
_MAX_LABEL = 36


def _esc(text: str) -> str:
    # Graphviz escString: backslashes are escapes; op names never hold one, but user text might.
    return text.replace("\\", "\\\\")


def _short(text: str, limit: int = _MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _node_attrs(node) -> dict:
    fill = style.COLORS[node.category]
    if node.kind == "scope":
        leaf = node.name.rsplit("/", 1)[-1]
        counts = f"{len(node.ops):,} ops" + (f" · {node.params:,} params" if node.params else "")
        top = ", ".join(f"{t} ×{n}" if n > 1 else t for t, n in node.type_counts.most_common(8))
        tooltip = f"{node.name}/ (collapsed scope)\n{counts}\nop types: {top}"
        return {"label": _esc(f"{_short(leaf)}/\n{counts}"), "shape": "box", "style": "rounded,filled,bold",
                "fillcolor": fill, "fontsize": "11", "tooltip": _esc(tooltip), "margin": "0.15,0.06"}
    leaf = node.name.rsplit("/", 1)[-1]
    lines = [_short(leaf)]
    if node.type != leaf:
        lines.append(_short(node.type))
    for attr, fname in node.calls[:3]:
        lines.append(_short(("→ " if attr == "op" else f"{attr}: ") + fname))
    tip = [f"{node.name} ({node.type})"]
    tip += [f"output {i}: {text}" for i, text in enumerate(node.outputs)]
    tip += [f"calls {fname}" + ("" if attr == "op" else f" ({attr})") for attr, fname in node.calls]
    if len(node.ops) > 1:
        tip.append(f"with {len(node.ops) - 1} more op(s) of scope {node.name}/")
    if node.params:
        tip.append(f"{node.params:,} params")
    attrs = {"label": _esc("\n".join(lines)), "shape": "ellipse", "style": "filled", "fillcolor": fill,
             "fontsize": "10", "tooltip": _esc("\n".join(tip)), "margin": "0.05,0.02"}
    if node.calls:
        attrs.update(shape="component", style="filled,bold")
    elif node.category == "input":
        attrs.update(shape="invhouse")
    elif node.category == "variable" and node.type != "Const":
        attrs.update(shape="cylinder")
    return attrs


def to_digraph(view: View, rankdir: str = "TB", legend: bool = True) -> graphviz.Digraph:
    """Build the Graphviz Digraph of a View: nested clusters for expanded scopes, a legend."""
    dot = graphviz.Digraph("graphsurgeon", strict=False)
    dot.attr("graph", rankdir=rankdir, newrank="true", fontname=_FONT, fontsize="12", labelloc="t",
             label=_esc(view.title), ranksep="0.35", nodesep="0.25", bgcolor="white", tooltip=_esc(view.title))
    dot.attr("node", fontname=_FONT, penwidth="1", height="0.3")
    dot.attr("edge", fontname=_FONT, fontsize="8", fontcolor="#505050", arrowsize="0.6")

    # One Digraph per expanded scope, filled with its nodes, attached innermost first.
    subgraphs = {}
    for name, info in view.clusters.items():
        sub = graphviz.Digraph(name=f"cluster_{name}")
        leaf = name.rsplit("/", 1)[-1]
        counts = f"{info['ops']:,} ops" + (f" · {info['params']:,} params" if info["params"] else "")
        sub.attr(label=_esc(f"{leaf}/  ({counts})"), tooltip=_esc(f"{name}/ ({counts})"), style="rounded,dashed",
                 color="#7f7f7f", fontsize="11", labeljust="l")
        subgraphs[name] = sub
    for node in view.nodes.values():
        target = subgraphs[node.clusters[-1]] if node.clusters else dot
        target.node(node.id, **_node_attrs(node))
    for name in sorted(subgraphs, key=lambda n: -n.count("/")):
        parent = name.rpartition("/")[0]
        while parent and parent not in subgraphs:
            parent = parent.rpartition("/")[0]
        (subgraphs[parent] if parent else dot).subgraph(subgraphs[name])

    kinds = set()
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
            attrs["label"] = _esc(edge.label)
        shown = edge.tensors[:12]
        more = f"\n… {len(edge.tensors) - 12} more" if len(edge.tensors) > 12 else ""
        attrs["tooltip"] = _esc(f"{edge.src} -> {edge.dst}: {edge.count} {edge.kind} edge(s)"
                                + (f", {edge.label}" if edge.label else "") + "\n" + "\n".join(shown) + more)
        if edge.count > 1:
            attrs["penwidth"] = str(float(attrs.get("penwidth", 1)) + 0.6)  # merged edges look heavier
        dot.edge(edge.src, edge.dst, **attrs)
    if legend:
        categories = {n.category for n in view.nodes.values()}
        dot.node("__legend__", label=style.legend_html(categories, kinds), shape="plaintext", fontsize="9",
                 tooltip="legend")
    return dot


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
        proc = subprocess.run([exe, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True,
                              timeout=timeout, env=dict(os.environ))
    except subprocess.TimeoutExpired:
        raise OutputError(f"Graphviz's dot did not finish within {timeout:g} s",
                          hint="draw less: a smaller --depth, --scope SCOPE or --between IN OUT") from None
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OutputError(f"Graphviz's dot failed (exit {proc.returncode})",
                          hint=message[-1] if message else None)
    return proc.stdout
