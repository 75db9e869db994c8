"""Draw a graph with Graphviz: readable at a glance, scalable to large graphs.

Name scopes become clusters when expanded and single boxes when collapsed
(labelled with the scope, its op count and parameter count); by default the
graph is collapsed to the depth that keeps about 150 nodes or fewer. Ops
are coloured by category, with a legend; data edges carry dtype and shape,
control edges are dashed, reference and resource edges drawn heavier in
their own colours; edges between collapsed boxes are merged, with a count.
Nothing here imports TensorFlow.

    >>> import graphsurgeon as gs
    >>> g = gs.load("fixtures/models/mnist_bn_elu_tf1/model.ckpt.meta")
    >>> dot = gs.render(g, no_training=True)       # a graphviz.Digraph
    >>> gs.rendering.write(g, "model.svg")          # runs Graphviz's dot
"""
from __future__ import annotations

from pathlib import Path

from .dot import FORMATS, find_dot, run_dot, to_digraph
from ..vocabulary import training_machinery
from .select import all_scopes, ops_between, scope_ops
from .view import MAX_NODES, TARGET_NODES, View, build_view


def _graph_for(g, function: str | None):
    return g.function(function) if function else g


def view(g, *, depth: int | None = None, expand=(), collapse=(), scope: str | None = None,
         between: tuple[str, str] | None = None, no_training: bool = False, function: str | None = None,
         max_nodes: int | None = MAX_NODES) -> View:
    """The visible nodes and merged edges :func:`render` would draw (no Graphviz involved)."""
    return build_view(_graph_for(g, function), depth=depth, expand=expand, collapse=collapse, scope=scope,
                      between=between, no_training=no_training, max_nodes=max_nodes)


def render(g, *, depth: int | None = None, expand=(), collapse=(), scope: str | None = None,
           between: tuple[str, str] | None = None, no_training: bool = False, function: str | None = None,
           max_nodes: int | None = MAX_NODES, rankdir: str = "TB", legend: bool = True):
    """Draw ``g`` as a ``graphviz.Digraph`` (call ``.pipe("svg")`` or :func:`write` to lay it out).

    Args:
        g: the Graph.
        depth: collapse name scopes deeper than this many levels (below
            ``scope`` when given); None picks the depth that keeps about 150
            nodes or fewer; 0 collapses nothing.
        expand: scopes to open whatever the depth (their sub-scopes stay
            collapsed unless named too; naming ``a/b`` opens ``a``).
        collapse: scopes to draw as one box whatever the depth.
        scope: draw only this name scope.
        between: ``(input_tensor, output_tensor)``: draw only the ops on data
            paths from one to the other.
        no_training: hide gradients, optimizer, saver and initializer
            machinery (see :func:`training_machinery`).
        function: draw the body of this library function instead.
        max_nodes: refuse, fast, to draw more visible nodes than this
            (UsageError suggesting --depth or --scope); None for no limit.
        rankdir: ``TB`` (top to bottom) or ``LR``.
        legend: add the colour and edge legend.

    Returns:
        graphviz.Digraph: nodes are named by op name, collapsed scopes by
        ``scope/``; every node and edge has a tooltip with full names, types
        and shapes.

    Example:
        >>> dot = render(g, depth=1)
        >>> "hidden1/" in dot.source
        True
    """
    rankdir = rankdir.upper()
    if rankdir not in ("TB", "LR", "BT", "RL"):
        from ..errors import UsageError
        raise UsageError(f"--rankdir must be TB or LR, not {rankdir!r}")
    v = view(g, depth=depth, expand=expand, collapse=collapse, scope=scope, between=between,
             no_training=no_training, function=function, max_nodes=max_nodes)
    return to_digraph(v, rankdir=rankdir, legend=legend)


def write(g, path, format: str | None = None, *, timeout: float | None = None, **options) -> Path:
    """Render ``g`` to a file: svg, png or pdf (needs Graphviz's ``dot``) or dot (the source).

    ``format`` defaults to the file's extension (svg when it has none of
    those); ``options`` are :func:`render`'s. The file is written atomically.

    Raises:
        OutputError: ``dot`` is missing (with how to install it), fails or times out.
    """
    from ..errors import UsageError
    from ..formats.protofile import atomic_write

    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    if fmt == "gv":
        fmt = "dot"
    if fmt not in FORMATS:
        raise UsageError(f"cannot write {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt != "dot":
        find_dot()  # before any work: a missing dot is the user's first thing to fix
    digraph = render(g, **options)
    data = digraph.source.encode("utf-8") if fmt == "dot" else run_dot(
        digraph.source, fmt, **({"timeout": timeout} if timeout else {}))
    atomic_write(path, data)
    return path


def svg(g, **options) -> str:
    """The SVG text of :func:`render` (for notebooks and tests)."""
    return run_dot(render(g, **options).source, "svg").decode("utf-8")


def notebook_bundle(g) -> dict:
    """Jupyter's mime bundle for a Graph: SVG of the default drawing, plus text.

    Never raises for a picture that cannot be made (no ``dot``, too many
    nodes): the notebook then shows the text and why.
    """
    from ..errors import GraphSurgeonError

    text = repr(g)
    try:
        return {"image/svg+xml": svg(g), "text/plain": text}
    except GraphSurgeonError as exc:
        return {"text/plain": f"{text}\n(no drawing: {exc})"}


__all__ = ["notebook_bundle", "render", "write", "svg", "view", "View", "training_machinery", "ops_between", "scope_ops",
           "all_scopes", "to_digraph", "run_dot", "find_dot", "FORMATS", "MAX_NODES", "TARGET_NODES"]
