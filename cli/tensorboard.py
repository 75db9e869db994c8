"""``graphsurgeon tensorboard``: log graphs for TensorBoard's Graphs dashboard, and serve them."""
from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

import click

from graphsurgeon.errors import GraphSurgeonError, UsageError
from graphsurgeon.wording import plural

from .common import echo, echo_json, handle_errors, json_option, load

# File names that say nothing about the model: name the run after the directory instead.
_GENERIC = {"model", "model.ckpt", "saved_model", "frozen", "frozen_model", "frozen_graph", "graph",
            "export", "inference_graph", "checkpoint"}


def run_name_for(model: str) -> str:
    """A run name for MODEL: its directory or file name without the format's suffix."""
    path = Path(model)
    resolved = path.resolve()
    if path.is_dir():
        return resolved.name or "graph"
    name = resolved.name
    for suffix in (".meta", ".pbtxt", ".pb", ".index"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name in _GENERIC or name.startswith("model.ckpt"):
        return resolved.parent.name or name
    return name or "graph"


@click.command("tensorboard")
@click.argument("models", metavar="MODEL...", nargs=-1, required=True, type=click.Path())
@click.option("--tag", help="SavedModel tag set to use (default: serve, or the only one)")
@click.option("--logdir", type=click.Path(file_okay=False),
              help="directory to write the event files to (default with --serve: a temporary one)")
@click.option("--run", "run", help="run name (default: the model's name); only with one MODEL")
@click.option("--serve", is_flag=True, help="start TensorBoard on 127.0.0.1 with the logdir; Ctrl-C stops it")
@click.option("--port", type=click.IntRange(0, 65535),
              help="port for --serve (default: 6006 or the next free one; 0: any free port)")
@json_option
@handle_errors
def command(models, tag, logdir, run, serve, port, as_json):
    """Write MODEL's graph where TensorBoard's Graphs dashboard shows it.

    Each MODEL becomes one run of the logdir (named after the model, or
    --run): log a rewrite's output beside its input to compare them. The
    event file holds the GraphDef with its function library and, for meta
    graphs and SavedModels, the MetaGraphDef with its collections, as
    TensorFlow's FileWriter writes them; TensorFlow is not needed.

    \b
    graphsurgeon tensorboard model.ckpt.meta --serve
    graphsurgeon tensorboard before.meta after.meta --logdir tb --serve --port 6007
    """
    if port is not None and not serve:
        raise UsageError("--port needs --serve")
    if run is not None and len(models) > 1:
        raise UsageError("--run names one run; with several MODELs the runs are named after them")
    if logdir is None and not serve:
        raise UsageError("give --logdir DIR (to view later with `tensorboard --logdir DIR`) or --serve")

    from graphsurgeon.formats.tensorboard import to_tensorboard

    graphs = [(m, load(m, tag)) for m in models]  # read them all before writing anything
    names = _unique([run] if run is not None else [run_name_for(m) for m in models])
    temporary = None
    if logdir is None:
        temporary = tempfile.mkdtemp(prefix="graphsurgeon-tb-")
        logdir = temporary
    try:
        runs = []
        for (model, g), name in zip(graphs, names):
            event_file = to_tensorboard(g, logdir, run=name)
            runs.append({"run": name, "model": model, "event_file": str(event_file), "ops": len(g),
                         "functions": len(g.graph_def.library.function),
                         "meta_graph": g.meta_graph is not None})
        result = {"logdir": str(logdir), "runs": runs, "url": None}
        if not serve:
            _report(result, as_json)
            if not as_json:
                echo(f"view with: tensorboard --logdir {logdir}   (or add --serve)")
            return
        _serve(result, port, as_json)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count + 1}")
    return out


def _report(result: dict, as_json: bool) -> None:
    if as_json:
        echo_json(result)
        return
    for r in result["runs"]:
        what = "GraphDef" + (" + MetaGraphDef" if r["meta_graph"] else "")
        functions = f", {plural(r['functions'], 'function')}" if r["functions"] else ""
        echo(f"run {r['run']}: {plural(r['ops'], 'op')}{functions} ({what}) -> {r['event_file']}")


def _serve(result: dict, port: int | None, as_json: bool) -> None:
    from graphsurgeon.formats.tensorboard import serve

    # SIGTERM (and SIGHUP) stop the server as Ctrl-C does, so it never outlives us.
    def stop_signal(signum, frame):
        raise KeyboardInterrupt

    stops = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
    previous = {s: signal.getsignal(s) for s in stops}
    for s in stops[1:]:
        signal.signal(s, stop_signal)
    server = None
    try:
        server = serve(result["logdir"], port=port)
        result["url"] = server.url
        _report(result, as_json)
        if not as_json:
            echo(f"TensorBoard at {server.url}#graphs  (logdir {result['logdir']}; Ctrl-C to stop)")
        while server.poll() is None:
            time.sleep(0.3)
        # TensorBoard went away on its own: say why.
        raise GraphSurgeonError(f"TensorBoard exited with status {server.poll()}: "
                                f"{server.last_message() or 'no message'}")
    except KeyboardInterrupt:
        # A second Ctrl-C (or a signal sent to the whole group) must not cut the shutdown short.
        for s in stops:
            signal.signal(s, signal.SIG_IGN)
        if server is not None:
            server.stop()
        echo("TensorBoard stopped", err=True)
        sys.exit(0)
    finally:
        if server is not None:
            server.stop()
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
