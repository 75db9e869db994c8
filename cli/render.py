"""``graphsurgeon render``: draw a graph (SVG, PNG, PDF or DOT) with Graphviz."""
from __future__ import annotations

import sys
import time

import click

from graphsurgeon import rendering

from .common import echo, handle_errors, load, model_argument


@click.command("render")
@model_argument
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="file to write (.svg, .png, .pdf, .dot)")
@click.option("--format", "fmt", type=click.Choice(rendering.FORMATS), default=None,
              help="output format (default: from the file name, else svg); dot needs no Graphviz")
@click.option("--depth", type=click.IntRange(min=0), default=None,
              help="collapse scopes below this many levels (default: automatic, ~150 nodes; 0: none)")
@click.option("--expand", multiple=True, metavar="SCOPE", help="open this scope whatever the depth (repeatable)")
@click.option("--collapse", multiple=True, metavar="SCOPE", help="draw this scope as one box (repeatable)")
@click.option("--scope", default=None, help="draw only this name scope")
@click.option("--between", nargs=2, default=None, metavar="IN_TENSOR OUT_TENSOR",
              help="draw only the ops on data paths from IN_TENSOR to OUT_TENSOR")
@click.option("--no-training", is_flag=True,
              help="hide gradients, optimizer, saver and initializer machinery")
@click.option("--function", default=None, metavar="NAME", help="draw the body of library function NAME")
@click.option("--max-nodes", type=click.IntRange(min=1), default=rendering.MAX_NODES, show_default=True,
              help="refuse to lay out more visible nodes than this")
@click.option("--rankdir", type=click.Choice(["TB", "LR"], case_sensitive=False), default="TB",
              show_default=True, help="top to bottom or left to right")
@click.option("--force", is_flag=True, hidden=True, help="accepted for compatibility: -o replaces an existing file")
@handle_errors
def command(model, tag, output, fmt, depth, expand, collapse, scope, between, no_training, function,
            max_nodes, rankdir, force):
    """Draw MODEL as a picture, collapsed by name scope so that it reads at a glance.

    Scopes deeper than --depth are single boxes (with op and parameter
    counts); by default the depth keeps about 150 nodes or fewer. Hover a
    node in the SVG for its full name, type and shapes.
    """
    g = load(model, tag)
    start = time.perf_counter()
    tty = sys.stderr.isatty()
    if tty:
        echo(f"laying out {output} ...", err=True, nl=False)
    path = rendering.write(g, output, fmt, depth=depth, expand=expand, collapse=collapse, scope=scope,
                           between=tuple(between) if between else None, no_training=no_training,
                           function=function, max_nodes=max_nodes, rankdir=rankdir)
    if tty:
        echo(f" {time.perf_counter() - start:.1f} s", err=True)
    echo(f"wrote {path}")
