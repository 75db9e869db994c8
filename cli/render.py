"""``graphsurgeon render``: draw a graph (SVG, PNG, PDF or DOT) with Graphviz."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from graphsurgeon import rendering

from .common import echo, handle_errors, load, model_argument


@click.command("render")
@model_argument
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="file to write (.svg, .png, .pdf, .dot); an existing file is replaced")
@click.option("--format", "fmt", type=click.Choice(rendering.FORMATS), default=None,
              help="output format (default: from the file name, else svg); dot needs no Graphviz")
@click.option("--depth", type=click.IntRange(min=0), default=None,
              help="collapse scopes below this many levels (default: automatic, ~150 nodes; 0: none)")
@click.option("--expand", multiple=True, metavar="SCOPE", help="open this scope whatever the depth (repeatable)")
@click.option("--collapse", multiple=True, metavar="SCOPE", help="draw this scope as one box (repeatable)")
@click.option("--scope", default=None, help="draw only this name scope")
@click.option("--between", nargs=2, default=None, metavar="IN_TENSOR OUT_TENSOR",
              help="draw only the ops on data paths from IN_TENSOR to OUT_TENSOR")
@click.option("--training/--no-training", default=None,
              help="also draw gradients, optimizer, saver and initializer machinery (default: the network only)")
@click.option("--function", default=None, metavar="NAME",
              help="draw the body of library function NAME (default for a TF2 SavedModel: the serving function)")
@click.option("--top-level", is_flag=True, help="draw the top-level graph, even of a TF2 SavedModel")
@click.option("--max-nodes", type=click.IntRange(min=1), default=rendering.MAX_NODES, show_default=True,
              help="with --depth: refuse to lay out more visible nodes than this")
@click.option("--weights-as-nodes", is_flag=True,
              help="draw every constant and variable as a node (default: one read by a single op is a line of "
                   "that op's label: MatMul / kernel 784×300)")
@click.option("--rankdir", type=click.Choice(["TB", "LR"], case_sensitive=False), default="TB",
              show_default=True, help="top to bottom or left to right")
@click.option("--force", is_flag=True, hidden=True, help="accepted for compatibility: -o always replaces")
@handle_errors
def command(model, tag, output, fmt, depth, expand, collapse, scope, between, training, function, top_level,
            max_nodes, weights_as_nodes, rankdir, force):
    """Draw MODEL as a picture, collapsed by name scope so that it reads at a glance.

    By default: the network without its training machinery (--training
    adds it); for a TF2 SavedModel, the function its serving signature runs.
    Scopes deeper than --depth are single boxes (with op and parameter
    counts); by default the depth keeps about 150 nodes or fewer, and
    numbered siblings (layer0 … layer499) are grouped when even that is too
    many. For a big graph, draw one part: --scope SCOPE, --between IN OUT,
    or a smaller --depth; or browse every scope, one view each, with
    graphsurgeon explore MODEL -o DIR. Hover a node in the SVG for its full
    name, type and shapes.
    """
    if rendering.output_format(output, fmt) != "dot":
        rendering.find_dot()  # before any work: a missing dot is the user's first thing to fix
    g = load(model, tag)
    _refuse_model_as_output(g, model, output)
    start = time.perf_counter()
    tty = sys.stderr.isatty()
    if tty:
        echo(f"laying out {output} ...", err=True, nl=False)
    view = rendering.view(g, depth=depth, expand=expand, collapse=collapse, scope=scope,
                          between=tuple(between) if between else None, training=training, function=function,
                          top_level=top_level, max_nodes=max_nodes, weights_as_nodes=weights_as_nodes)
    path = rendering.write_view(view, output, fmt, rankdir=rankdir)
    if tty:
        echo(f" {time.perf_counter() - start:.1f} s", err=True)
    for note in view.notes:
        echo(f"note: {note}", err=True)
    echo(f"wrote {path}")


def _refuse_model_as_output(g, model: str, output: str) -> None:
    """``-o`` replaces an existing output (as ``cc -o`` does), but never the model being drawn."""
    from graphsurgeon.errors import OutputError

    out = Path(output)
    if not out.exists():
        return
    for candidate in (Path(model), g.model.file if g.model is not None else None):
        try:
            same = candidate is not None and os.path.samefile(out, candidate)
        except OSError:
            continue
        if same:
            raise OutputError(f"{output}: is the model being drawn ({model})", hint="write the picture to another file")
