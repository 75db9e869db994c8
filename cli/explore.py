"""``graphsurgeon explore``: a drill-down site of every view of a graph, opened from disk in a browser."""
from __future__ import annotations

import contextlib
import signal

import click

from graphsurgeon import rendering
from graphsurgeon.wording import plural

from .common import StatusLine, echo, fail, handle_errors, load, model_argument


@click.command("explore")
@model_argument
@click.option("-o", "--output", required=True, type=click.Path(),
              help="directory to write (open DIR/index.html); an explorer site there is replaced, a directory "
                   "holding anything else is refused")
@click.option("--training/--no-training", default=None,
              help="draw gradients, optimizer, saver and initializers among the network's ops "
                   "(default: the network as render draws it, the machinery in views of its own)")
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="lay out this many levels of views below each top view (1: only those); deeper boxes stay "
                   "closed, or open on request with --serve (default: every view)")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="processes laying out views (default: one per core)")
@click.option("--weights-as-nodes", is_flag=True,
              help="draw every constant and variable as a node (default: one read by a single op is a line of "
                   "that op's label, as render draws it)")
@click.option("--serve", is_flag=True,
              help="then serve DIR on 127.0.0.1 and lay out the views --depth left out when they are opened")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="with --serve: the port (0: any free one)")
@handle_errors
def command(model, tag, output, training, depth, jobs, weights_as_nodes, serve, port):
    """Write a site to browse MODEL view by view: DIR/index.html opens from disk, no server needed.

    The first view is what render draws; every collapsed scope and group of
    siblings opens its own view (its ops, with stubs naming the ops outside
    it that its edges lead to), and function bodies open from the ops that
    call them. The search box finds any op or tensor of any graph by name
    (a substring, or a glob: * within one scope level, ** across levels)
    and shows the view that draws it; clicking an op shows what show
    prints, clicking a box its op types and parameters. Views are laid out
    by Graphviz in parallel, with the same colours and collapse as render.
    """
    from graphsurgeon.rendering import explore as _explore
    from graphsurgeon.rendering import site as _site

    from pathlib import Path

    rendering.find_dot()  # before any work: a missing dot is the user's first thing to fix
    _site.check_output(Path(output))
    g = load(model, tag)
    with _stopped_as_by_ctrl_c(), StatusLine(delay=1.0) as status:
        status.set("indexing the graph")

        def progress(p) -> None:
            width = 24
            filled = int(width * p.ops / p.total_ops) if p.total_ops else width
            status.set(f"laying out views: {p.views:,} laid out, {p.left:,} left "
                       f"[{'#' * filled}{'-' * (width - filled)}] {100 * p.ops // max(p.total_ops, 1)}% of "
                       f"{p.total_ops:,} ops")

        summary = _explore.explore(g, output, training=training, depth=depth, jobs=jobs, progress=progress,
                                   weights_as_nodes=weights_as_nodes)
    size = summary.bytes / 2**20
    echo(f"wrote {summary.path}: {plural(summary.views, 'view')} of {plural(summary.ops, 'op')} in "
         f"{plural(summary.graphs, 'graph')}, {size:.1f} MiB, {summary.seconds:.1f} s; "
         f"open {Path(summary.path) / 'index.html'}")
    if summary.skipped:
        echo(f"note: {plural(summary.skipped, 'box', 'boxes')} left closed below --depth {depth} "
             "(explore --serve opens them on request)", err=True)
    _list_views("simplified to fit the layout budget", summary.simplified)
    if summary.failed:
        _list_views("written without a picture", summary.failed[1:])
        others = summary.views - len(summary.failed)
        fail(f"{summary.failed[0]}" + (f" (and {len(summary.failed) - 1:,} more views)" if len(summary.failed) > 1
                                       else "") + f"; the other {plural(others, 'view')} are written")
    if serve:
        from graphsurgeon.rendering import serve as _serve

        with _serve.Server(g, summary.path, training=training, port=port,
                           weights_as_nodes=weights_as_nodes) as server:
            echo(f"serving {summary.path} at {server.url} (Ctrl-C stops)")
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                echo("stopped", err=True)


def _list_views(what: str, lines: list[str], shown: int = 8) -> None:
    """``note: 3 views simplified ...`` then one line per view (the first ``shown``; the site's views say all)."""
    if not lines:
        return
    echo(f"note: {plural(len(lines), 'view')} {what}:", err=True)
    for line in lines[:shown]:
        echo(f"  {line}", err=True)
    if len(lines) > shown:
        echo(f"  ... and {len(lines) - shown:,} more (each view's notes say how)", err=True)


@contextlib.contextmanager
def _stopped_as_by_ctrl_c():
    """SIGTERM and SIGHUP (a ``timeout``, a closed terminal) stop explore as Ctrl-C does.

    The workers are stopped and the half-written site removed, instead of
    the parent dying at once and leaving the temporary directory (its
    workers and their ``dot`` die with it either way: see
    :mod:`graphsurgeon.rendering.processes`).
    """
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    stops = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {s: signal.signal(s, interrupt) for s in stops}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
