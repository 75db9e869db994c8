"""What every command shares: the MODEL argument, --tag, --json, errors, tables."""
from __future__ import annotations

import functools
import json
import os
import shutil
import sys

import click
from graphsurgeon.cli.textsafe import is_safe, safe

from graphsurgeon.errors import GraphSurgeonError


def model_argument(fn):
    """MODEL plus --tag, for commands that read one graph."""
    fn = click.option("--tag", help="SavedModel tag set to use (default: serve, or the only one)")(fn)
    return click.argument("model", type=click.Path())(fn)


def json_option(fn):
    return click.option("--json", "as_json", is_flag=True, help="print JSON (schema in README)")(fn)


INPUT_HELP = ("a value to feed (repeatable), as saved_model_cli takes it: NAME=FILE.npy, NAME=FILE.npz[KEY], "
              "NAME=EXPR (a literal or numpy: 'x=np.ones((1, 784))'), or FILE.npz (each array to the input its "
              "key names); NAME is a signature input key or a tensor name. Inputs not given are made up (seeded)")


def input_option(fn):
    """``--input NAME=FILE.npy|FILE.npz[KEY]|EXPR`` (repeatable): the one input option of ``run``,
    ``compare`` and every ``--verify``; the command reads it with :func:`given_inputs`."""
    return click.option("--input", "given", multiple=True, metavar="NAME=FILE|EXPR", help=INPUT_HELP)(fn)


def given_inputs(values) -> list:
    """The ``--input`` values read (files loaded, expressions evaluated): a list of
    :class:`graphsurgeon.training.inputs.Given`, for the library's ``given=`` arguments."""
    from graphsurgeon.training.inputs import parse_input

    return [parse_input(v) for v in values or ()]


_CLEAR_DEVICES = "graphsurgeon.clear_devices"


def _remember_clear_devices(ctx, param, value):
    if value:
        ctx.meta[_CLEAR_DEVICES] = True
    return value


def output_options(help_text: str = "where to write (.meta, .pb, .pbtxt, or a directory)", long_name: bool = True,
                   in_place: bool = True):
    """``-o/--output``, ``--in-place`` and ``--clear-devices``: the one output policy of every command that writes a model.

    ``-o`` replaces an existing output; writing over MODEL needs ``--in-place``
    (see graphsurgeon.formats.writer). ``--clear-devices`` clears every op's
    device in what is written (graphsurgeon.surgery.clear_devices), applied by
    :func:`write_output`, so commands need not know of it. ``--force`` is
    accepted and does nothing, for scripts written when replacing needed it.
    With ``long_name=False`` the output is ``-o`` alone: ``export`` and
    ``signatures add`` take ``--output KEY=TENSOR`` for a signature's outputs.
    With ``in_place=False`` (a command that never writes over its input)
    ``--in-place`` is hidden from the help, and the command refuses it.
    """
    names = ("-o", "--output") if long_name else ("-o", "output")

    def decorate(fn):
        fn = click.option("--clear-devices", is_flag=True, expose_value=False, callback=_remember_clear_devices,
                          help="clear every op's device placement in the output (run a GPU-trained graph on a CPU)")(fn)
        fn = click.option("--force", is_flag=True, hidden=True,
                          help="accepted for compatibility: -o replaces an existing output")(fn)
        fn = click.option("--in-place", is_flag=True, hidden=not in_place, help="write over MODEL itself")(fn)
        return click.option(*names, type=click.Path(), help=help_text)(fn)
    return decorate


def clear_devices_requested() -> bool:
    """Whether the running command was given ``--clear-devices``."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(_CLEAR_DEVICES))


def check_output(model: str, output, in_place: bool) -> None:
    """Refuse a bad output before any work (the writer checks again when it writes)."""
    from graphsurgeon.formats.writer import check_output as _check

    _check(model, output, in_place)


def write_output(graph, output, in_place: bool, notes: list | None = None, format: str | None = None):
    """Write ``graph`` through the one writer (devices cleared first with ``--clear-devices``); returns the path."""
    from pathlib import Path

    if clear_devices_requested():
        graph, changes = graph.clear_devices()
        if notes is not None:
            notes.extend(changes.notes)
    return graph.save(Path(output) if output else None, in_place=in_place, notes=notes, format=format)


def load(model: str, tag: str | None):
    import graphsurgeon

    # Commands edit through the Graph's methods only: the shape cache is safe for them.
    return graphsurgeon.load(model, tag=tag, shape_cache=True)


def echo(line: object = "", err: bool = False, nl: bool = True) -> None:
    """Print one line of human-readable output, its control characters escaped (:func:`safe`).

    Every human-readable line goes through here (or :func:`table`), because
    nearly every line holds something a model chose: a name, a type, a
    device, a tag, a path. One call is one line: a newline inside ``line``
    came from the model and is escaped too, so a name cannot forge a line.
    """
    click.echo(safe(line), err=err, nl=nl)


def echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, default=_json_default))


def _json_default(obj):
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


class DefaultToLs(click.Group):
    """A command group where ``GROUP MODEL ...`` means ``GROUP ls MODEL ...`` (collections, signatures)."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["ls"] + list(args)
        return super().parse_args(ctx, args)


def terminal_width() -> int:
    return min(shutil.get_terminal_size((100, 24)).columns, 160)


def table(rows, headers=None) -> None:
    """Aligned columns; the last column takes what is left of the line.

    Very long cells in a middle column are not cut (names must stay exact):
    they push that row's later columns right instead of widening every row.
    """
    # `ls` of a 60,000-op graph prints 60,000 rows: list comprehensions, not
    # generators, and no per-cell work beyond one ljust.
    rows = [r if all([type(c) is str for c in r]) else [str(c) for c in r] for r in rows]
    # Cells come from the model: escaped before widths are measured, so widths count what is shown.
    # One scan of everything first (a chunk of rows at a time), as nearly every table needs no escape.
    if not all(is_safe("".join([c for r in rows[i:i + _CHUNK] for c in r])) for i in range(0, len(rows), _CHUNK)):
        rows = [[safe(c) for c in r] for r in rows]
    if headers:
        rows = [list(headers)] + rows
    if not rows:
        return
    ncol = max(map(len, rows))
    cap = max(24, terminal_width() // 2)
    width = []
    for i in range(ncol - 1):
        lengths = [len(r[i]) for r in rows if len(r) - 1 > i]
        width.append(min(max(lengths, default=0), cap))
    write = sys.stdout.write
    for start in range(0, len(rows), _CHUNK):  # a chunk at a time: no second copy of the whole table
        lines = []
        append = lines.append
        for r in rows[start:start + _CHUNK]:
            last = len(r) - 1
            if last == 2:  # the common shape (name, type, outputs) without the general loop
                append(f"{r[0].ljust(width[0])}  {r[1].ljust(width[1])}  {r[2]}".rstrip())
            else:
                append("  ".join([c.ljust(width[i]) for i, c in enumerate(r[:last])] + [r[last]]).rstrip())
        write("\n".join(lines) + "\n")
    sys.stdout.flush()


_CHUNK = 4096  # rows formatted and written at once by table()


def debug_enabled() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx else None
    return bool((root and root.obj and root.obj.get("debug")) or os.environ.get("GRAPHSURGEON_DEBUG"))


def fail(message: str, code: int = 1):
    """Print the one ``error:`` line (control characters from the model escaped) and exit with ``code``."""
    echo(f"error: {message}", err=True)
    sys.exit(code)


def handle_errors(fn):
    """Turn library errors into one ``error:`` line and an exit status (traceback with --debug)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GraphSurgeonError as exc:
            if debug_enabled():
                raise
            fail(str(exc), exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:
            sys.stderr.close()
            sys.exit(1)
        except MemoryError:
            fail("out of memory")
        except Exception as exc:  # a bug of ours: say so in one line, trace with --debug
            if debug_enabled():
                raise
            where = ""
            tb = exc.__traceback__
            while tb and tb.tb_next:
                tb = tb.tb_next
            if tb:
                where = f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"
            fail(f"internal error: {type(exc).__name__}: {exc}{where} (rerun with --debug for a traceback "
                 "and please report it)")

    return wrapper


class StatusLine:
    """One line on a terminal's stderr saying what slow work is doing, rewritten in place.

    Shown only on a terminal, and only once the work has taken ``delay``
    seconds (quick commands never flash it); cleared when the work ends.
    It writes to its own copy of the terminal's descriptor, so it stays
    visible while TensorFlow's start-up chatter is silenced on fd 2.
    ``note(text)`` prints a lasting line above it (always, terminal or not).

        with StatusLine(enabled=not as_json) as status:
            verify(..., progress=status.progress)
    """

    def __init__(self, enabled: bool = True, delay: float = 2.0, interval: float = 0.25):
        self.enabled = enabled and _stderr_is_terminal()
        self.delay = delay
        self.interval = interval
        self.text = ""
        self._fd = None
        self._thread = None
        self._stop = None
        self._shown = False
        self._line = ""
        self._start = 0.0

    def __enter__(self):
        if self.enabled:
            import threading
            import time

            try:
                sys.stderr.flush()
                self._fd = os.dup(sys.stderr.fileno())
            except (OSError, ValueError):
                self.enabled = False
                return self
            self._start = time.monotonic()
            self._stop = threading.Event()
            self._lock = threading.Lock()
            self._thread = threading.Thread(target=self._run, name="graphsurgeon-status", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._clear()
            os.close(self._fd)
            self._thread = self._fd = None
        return False

    def set(self, text: str) -> None:
        """What is running now."""
        self.text = text

    def note(self, text: str) -> None:
        """A line that stays (on stderr, terminal or not)."""
        if self._thread is not None:
            with self._lock:  # through our descriptor: fd 2 may be silenced while TensorFlow loads
                self._clear()
                self._write(text + "\n")
        else:
            click.echo(text, err=True)

    def progress(self, kind: str, text: str) -> None:
        """The callback the library's long jobs take: ``("step", text)`` or a fact to tell (``note``)."""
        if kind == "step":
            self.set(text)
        else:
            self.note(text)

    def _run(self):
        import time

        while not self._stop.wait(self.interval):
            elapsed = time.monotonic() - self._start
            if elapsed < self.delay or not self.text:
                continue
            line = f"{self.text} ... {elapsed:.0f} s"[: terminal_width() - 1]
            if line == self._line:
                continue
            with self._lock:
                self._write("\r" + line + "\x1b[K")
                self._shown, self._line = True, line

    def _clear(self):
        if self._shown:
            self._write("\r\x1b[K")
            self._shown, self._line = False, ""

    def _write(self, text: str) -> None:
        try:
            os.write(self._fd, text.encode("utf-8", "replace"))
        except OSError:
            pass


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
