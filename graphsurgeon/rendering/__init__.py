"""Draw a graph with Graphviz: readable at a glance, scalable to large graphs.

Name scopes become clusters when expanded and single boxes when collapsed
(labelled with the scope, its op count and parameter count); by default the
graph is collapsed to the depth that keeps about 150 nodes or fewer, and
siblings are grouped (``layer0…layer499 ×500``) when even that is too many.
Training machinery (gradients, optimizer, saver, initialisers) is left out
unless asked for; a TF2 SavedModel is drawn as the function its serving
signature runs. Ops are coloured by category, with a legend; frozen layers
are marked; data edges carry dtype and shape, control edges are dashed,
reference and resource edges drawn heavier in their own colours; edges
between collapsed boxes are merged, with a count. Nothing here imports
TensorFlow.

    >>> import graphsurgeon as gs
    >>> g = gs.load("fixtures/models/mnist_bn_elu_tf1/model.ckpt.meta")
    >>> dot = gs.render(g)                          # a graphviz.Digraph: the network
    >>> dot = gs.render(g, training=True)           # ... with its training machinery
    >>> gs.rendering.write(g, "model.svg")          # runs Graphviz's dot
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..errors import GraphSurgeonError, UsageError
from ..formats.protofile import atomic_write
from ..vocab.optypes import training_machinery
from . import budget as _budget
from .budget import Budget
from .dot import FORMATS, find_dot, node_ids, run_dot, to_digraph
from .select import all_scopes, ops_between, scope_ops, serving_function
from .view import MAX_NODES, TARGET_NODES, View, build_view

# One picture the user waits for may cost dot more than each of the explorer's thousands of views.
RENDER_BUDGET = Budget(nodes=2000, edges=6000, segments=4000, seconds=60.0)


def _training(training: bool | None, no_training: bool | None) -> bool | None:
    """One flag from the new spelling and the old one (``no_training=True`` is ``training=False``)."""
    if no_training is None:
        return training
    if training is not None and training == bool(no_training):
        raise UsageError("render(training=..., no_training=...) contradict each other: pass training alone "
                         "(CLI --training or --no-training)")
    return not no_training


def view(g, *, depth: int | None = None, expand=(), collapse=(), scope: str | None = None,
         between: tuple[str, str] | None = None, training: bool | None = None, no_training: bool | None = None,
         function: str | None = None, top_level: bool = False, max_nodes: int | None = MAX_NODES,
         weights_as_nodes: bool = False) -> View:
    """The visible nodes and merged edges :func:`render` would draw (no Graphviz involved).

    ``View.function`` and ``View.notes`` say what was chosen for the user
    (the serving function of a TF2 SavedModel, siblings grouped to fit).
    """
    if function and top_level:
        raise UsageError("--function and --top-level pick different graphs: give one")
    graph, notes = g, []
    if function:
        graph = g.function(function)
    elif not top_level and g.function_name is None:
        served = serving_function(g)
        if served is not None:
            function, key = served
            graph = g.function(function)
            notes.append(f"drew function {function!r}, which signature {key!r} runs "
                         "(--top-level draws the top-level graph, --function NAME another function)")
    v = build_view(graph, depth=depth, expand=expand, collapse=collapse, scope=scope, between=between,
                   training=_training(training, no_training), max_nodes=max_nodes,
                   weights_as_nodes=weights_as_nodes)
    if function:
        v.function = function
        if notes:
            v.title = v.title.replace(f"function {function}\n", f"function {function} (signature {key})\n", 1)
    v.notes[:0] = notes
    return v


def render(g, *, depth: int | None = None, expand=(), collapse=(), scope: str | None = None,
           between: tuple[str, str] | None = None, training: bool | None = None, no_training: bool | None = None,
           function: str | None = None, top_level: bool = False, max_nodes: int | None = MAX_NODES,
           rankdir: str = "TB", legend: bool = True, weights_as_nodes: bool = False):
    """Draw ``g`` as a ``graphviz.Digraph`` (call ``.pipe("svg")`` or :func:`write` to lay it out).

    Args:
        g: the Graph.
        depth: collapse name scopes deeper than this many levels (below
            ``scope`` when given); None picks the depth that keeps about 150
            nodes or fewer, grouping siblings (``layer0…layer499 ×500``) when
            needed so that it never refuses; 0 collapses nothing.
        expand: scopes to open whatever the depth (their sub-scopes stay
            collapsed unless named too; naming ``a/b`` opens ``a``).
        collapse: scopes to draw as one box whatever the depth.
        scope: draw only this name scope.
        between: ``(input_tensor, output_tensor)``: draw only the ops on data
            paths from one to the other.
        training: also draw gradients, optimizer, saver and initializer
            machinery (see :func:`training_machinery`). By default (None)
            they are hidden, unless nothing else is left to draw.
        no_training: the older spelling: ``no_training=True`` is ``training=False``.
        function: draw the body of this library function instead. By
            default a TF2 SavedModel draws the function its serving
            signature runs (see :func:`serving_function`).
        top_level: draw the top-level graph even for a TF2 SavedModel.
        max_nodes: with an explicit ``depth``, refuse, fast, to draw more
            visible nodes than this (UsageError suggesting --depth or
            --scope); None for no limit. The automatic depth groups instead.
        rankdir: ``TB`` (top to bottom) or ``LR``.
        legend: add the colour and edge legend.
        weights_as_nodes: draw every constant and variable as a node of its
            own; by default one read by a single op is a line of that op's
            label (``kernel 784×300``: see :mod:`graphsurgeon.rendering.params`).

    Returns:
        graphviz.Digraph: nodes have generated ids (``n0``, ``n1``, ...:
        see :func:`node_ids`) and names only in escaped labels and tooltips;
        every node and edge has a tooltip with full names, types and shapes.

    Example:
        >>> dot = render(g, depth=1)
        >>> "hidden1/" in dot.source
        True
    """
    rankdir = rankdir.upper()
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise UsageError(f"--rankdir must be TB or LR, not {rankdir!r}")
    v = view(g, depth=depth, expand=expand, collapse=collapse, scope=scope, between=between, training=training,
             no_training=no_training, function=function, top_level=top_level, max_nodes=max_nodes,
             weights_as_nodes=weights_as_nodes)
    return to_digraph(v, rankdir=rankdir, legend=legend)


def write(g, path, format: str | None = None, *, timeout: float | None = None, budget: Budget | None = None,
          **options) -> Path:
    """Render ``g`` to a file: svg, png or pdf (needs Graphviz's ``dot``) or dot (the source).

    ``format`` defaults to the file's extension (svg when it has none of
    those); ``options`` are :func:`render`'s. The file is written atomically.
    A picture past its layout ``budget`` (default :data:`RENDER_BUDGET`; ``timeout`` sets its
    seconds) is laid out by a cheaper method and says so in the view's notes
    (see :mod:`graphsurgeon.rendering.budget`).

    Raises:
        OutputError: ``dot`` is missing (with how to install it) or fails.
    """
    path = Path(path)
    if output_format(path, format) != "dot":
        find_dot()  # before any work: a missing dot is the user's first thing to fix
    rankdir = options.pop("rankdir", "TB")
    legend = options.pop("legend", True)
    return write_view(view(g, **options), path, format, rankdir=rankdir, legend=legend, timeout=timeout,
                      budget=budget)


def write_view(v: View, path, format: str | None = None, *, rankdir: str = "TB", legend: bool = True,
               timeout: float | None = None, budget: Budget | None = None) -> Path:
    """Write an already built :class:`View` (what :func:`write` does after :func:`view`).

    Laid out within ``budget`` (see :func:`write`): what was simplified is added to ``v.notes``.
    """

    path = Path(path)
    fmt = output_format(path, format)
    rankdir = rankdir.upper()
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise UsageError(f"--rankdir must be TB or LR, not {rankdir!r}")
    budget = budget or RENDER_BUDGET
    if timeout:
        budget = dataclasses.replace(budget, seconds=timeout)
    chosen = _budget.plan(v, budget)
    if fmt == "dot":
        data = _budget.source(v, chosen, legend, rankdir).encode("utf-8")
    else:
        data = _budget.lay_out_one(v, chosen, fmt, budget, legend, rankdir)
    v.notes.extend(chosen.notes)
    atomic_write(path, data)
    return path


def output_format(path, format: str | None = None) -> str:
    """The format to write: ``format``, else the file's extension (``gv`` is dot), else svg; UsageError if unknown."""
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    if fmt == "gv":
        fmt = "dot"
    if fmt not in FORMATS:
        raise UsageError(f"cannot write {fmt!r}: choose one of {', '.join(FORMATS)}")
    return fmt


def svg(g, **options) -> str:
    """The SVG text of :func:`render` (for notebooks and tests)."""
    return run_dot(render(g, **options).source, "svg").decode("utf-8")


def notebook_bundle(g) -> dict:
    """Jupyter's mime bundle for a Graph: SVG of the default drawing, plus text.

    Never raises for a picture that cannot be made (no ``dot``, too many
    nodes): the notebook then shows the text and why.
    """

    text = repr(g)
    try:
        return {"image/svg+xml": svg(g), "text/plain": text}
    except GraphSurgeonError as exc:
        return {"text/plain": f"{text}\n(no drawing: {exc})"}


__all__ = ["notebook_bundle", "render", "write", "write_view", "svg", "view", "View", "training_machinery",
           "ops_between", "scope_ops", "serving_function", "all_scopes", "to_digraph", "node_ids", "run_dot",
           "find_dot", "output_format", "FORMATS", "MAX_NODES", "TARGET_NODES", "Budget", "RENDER_BUDGET"]
