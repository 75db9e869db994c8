"""Show a graph in TensorBoard's Graphs dashboard, without TensorFlow.

:func:`to_tensorboard` writes the event file that ``tf.summary.FileWriter``
writes for ``add_graph`` / ``add_meta_graph``: a ``file_version`` event, a
``graph_def`` event (the GraphDef, function library included, so the bodies
of a TF2 SavedModel's functions can be opened in the dashboard) and, when the
graph came from a meta graph or a SavedModel, a ``meta_graph_def`` event (the
MetaGraphDef with its collections and signatures). The records are framed as
TFRecords (length, masked CRC32C of the length, data, masked CRC32C of the
data) by this module, with TensorBoard's TF-free protos: nothing here imports
TensorFlow.

:func:`serve` starts TensorBoard itself on the loopback address, as a child
process, and returns once it answers.

Logging the input and the output of a rewrite as two runs of one logdir puts
them side by side in the dashboard (its run selector switches between them)::

    >>> import graphsurgeon as gs
    >>> g = gs.load("fixtures/models/mnist_bn_elu_tf1/model.ckpt.meta")
    >>> gs.to_tensorboard(g, "tb", run="before")            # doctest: +SKIP
    PosixPath('tb/before/events.out.tfevents.1700000000.host.1234.graphsurgeon')
    >>> gs.to_tensorboard(rewritten, "tb", run="after")     # doctest: +SKIP
    >>> server = serve("tb")                                # doctest: +SKIP
    >>> server.url                                          # doctest: +SKIP
    'http://127.0.0.1:6006/'
"""
from __future__ import annotations

import collections
import ctypes
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path, PurePosixPath

from tensorboard.compat.proto import event_pb2

from ..errors import GraphSurgeonError, OutputError, UsageError
from ..ir.graph import Graph
from .bundle import crc32c, mask_crc
from .protofile import PROTO_LIMIT, atomic_write

# Every event file this module writes ends with this suffix: TensorBoard
# only asks for "tfevents" in the name, and the suffix lets a later write
# into the same run replace our own earlier file (and only ours).
SUFFIX = ".graphsurgeon"
FILE_VERSION = "brain.Event:2"  # what TensorFlow's EventsWriter writes first


# ---------------------------------------------------------------------- TFRecord framing
def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C that TFRecord framing stores (google-crc32c, as the checkpoint reader uses)."""
    return mask_crc(crc32c(data))


def tfrecord(data: bytes) -> bytes:
    """One TFRecord: uint64 length, masked CRC of the length, data, masked CRC of the data."""
    header = struct.pack("<Q", len(data))
    return b"".join([header, struct.pack("<I", masked_crc32c(header)), data,
                     struct.pack("<I", masked_crc32c(data))])


# ---------------------------------------------------------------------- writing
def to_tensorboard(graph, logdir, run: str | None = None, *, meta_graph: bool = True) -> Path:
    """Write ``graph`` to an event file that TensorBoard's Graphs dashboard shows.

    The file holds what ``tf.compat.v1.summary.FileWriter(logdir, graph)``
    writes: a ``file_version`` event, the GraphDef (with its function library)
    and, for a graph read from a meta graph or a SavedModel, the MetaGraphDef
    (collections, signatures, saver). The graph is written exactly as held,
    node for node; TensorFlow is not imported.

    Args:
        graph: a :class:`graphsurgeon.Graph` (a function body is written as a
            graph of its own, with the library it calls), or a GraphDef or
            MetaGraphDef message.
        logdir: the directory TensorBoard is pointed at (created if missing).
        run: write under ``logdir/run`` so that several graphs (a rewrite's
            input and output, say) appear as runs of one dashboard; None
            writes into ``logdir`` itself.
        meta_graph: also write the MetaGraphDef when there is one.

    Returns:
        The path of the event file written. Writing again into the same run
        replaces the event file an earlier call wrote there, so the dashboard
        shows one graph per run.

    Raises:
        UsageError: ``run`` is empty, absolute or climbs out of ``logdir``.
        OutputError: the directory cannot be written, already holds event files
            written by something else, or the graph exceeds 2 GiB.

    Example:
        >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_savedmodel_tf2")  # doctest: +SKIP
        >>> graphsurgeon.to_tensorboard(g, "/tmp/tb", run="tf2")                   # doctest: +SKIP
        PosixPath('/tmp/tb/tf2/events.out.tfevents.1700000000.host.1234.graphsurgeon')
    """
    graph_def, meta = _protos_of(graph)
    directory = Path(logdir)
    if run is not None:
        directory = directory / _check_run(run)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{directory}: cannot create the log directory ({exc.strerror or exc})") from None
    ours, foreign = _event_files(directory)
    if foreign:
        raise OutputError(f"{directory}: already holds event files written by something else "
                          f"({foreign[0].name}{', ...' if len(foreign) > 1 else ''})",
                          hint="TensorBoard shows one graph per run: choose another run name or logdir")

    now = time.time()
    parts = [tfrecord(event_pb2.Event(
        wall_time=now, file_version=FILE_VERSION,
        source_metadata=event_pb2.SourceMetadata(writer="graphsurgeon")).SerializeToString())]
    parts.append(tfrecord(event_pb2.Event(wall_time=now, step=0,
                                          graph_def=_serialize(graph_def, directory)).SerializeToString()))
    if meta is not None and meta_graph:
        parts.append(tfrecord(event_pb2.Event(wall_time=now, step=0,
                                              meta_graph_def=_serialize(meta, directory)).SerializeToString()))

    # TensorFlow's own naming, so TensorBoard orders files by time as usual.
    name = f"events.out.tfevents.{int(now):010d}.{socket.gethostname()}.{os.getpid()}{SUFFIX}"
    path = directory / name
    _write_atomically(path, b"".join(parts))
    for old in ours:
        if old != path:
            try:
                old.unlink()
            except FileNotFoundError:
                pass
    return path


def _protos_of(graph):
    """(GraphDef, MetaGraphDef or None) for a Graph, GraphDef or MetaGraphDef."""

    if isinstance(graph, Graph):
        if graph.root is not graph:
            # A function body: its GraphDef is derived and has no library of its
            # own; lend it the root's so the calls inside can be opened too.
            graph_def = type(graph.graph_def)()
            graph_def.CopyFrom(graph.graph_def)
            graph_def.library.CopyFrom(graph.root.graph_def.library)
            return graph_def, None
        return graph.graph_def, graph.meta_graph
    descriptor = getattr(graph, "DESCRIPTOR", None)
    full_name = getattr(descriptor, "full_name", "")
    if full_name.endswith(".MetaGraphDef"):
        return graph.graph_def, graph
    if full_name.endswith(".GraphDef"):
        return graph, None
    raise UsageError(f"to_tensorboard needs a Graph, GraphDef or MetaGraphDef, not {type(graph).__name__}")


def _check_run(run: str) -> PurePosixPath:
    text = str(run).replace(os.sep, "/")
    parts = PurePosixPath(text).parts
    if not text.strip() or text.startswith("/") or not parts or any(p in ("..", ".") for p in parts):
        raise UsageError(f"run name {run!r} is not a relative path inside the logdir",
                         hint="use a plain name such as 'before' or 'after'")
    return PurePosixPath(*parts)


def _event_files(directory: Path) -> tuple[list[Path], list[Path]]:
    """Event files directly in ``directory``: (written by us, written by others)."""
    ours, foreign = [], []
    for entry in sorted(directory.iterdir()):
        if "tfevents" in entry.name and entry.is_file():
            (ours if entry.name.endswith(SUFFIX) else foreign).append(entry)
    return ours, foreign


def _serialize(message, directory: Path) -> bytes:
    size = message.ByteSize()
    if size > PROTO_LIMIT:
        raise OutputError(f"{directory}: the graph is {size:,} bytes, over the 2 GiB protocol buffer limit",
                          hint="prune the graph or keep large constants in a checkpoint")
    return message.SerializeToString()


def _write_atomically(path: Path, data: bytes) -> None:
    # The temporary's name must not contain "tfevents": a TensorBoard already
    # watching the logdir would otherwise read the half-written file.
    try:
        atomic_write(path, data, temp_stem="graphsurgeon-event-file")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the event file ({exc.strerror or exc})") from None


def _unlink_quietly(path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------------- serving
# TensorBoard runs as a child process. Its ``tensorboard.compat.notf`` module
# (what TensorBoard's TF-free build adds) makes it use its bundled TensorFlow
# stub instead of importing TensorFlow: the Graphs dashboard needs nothing
# more, and the server answers in about half a second instead of several.
_LAUNCHER = """\
import sys, types
sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
sys.argv[0] = "tensorboard"
from tensorboard.main import run_main
run_main()
"""
_URL_LINE = re.compile(r"TensorBoard \S+ at (http://\S+?)/? ")


class TensorBoardServer:
    """A TensorBoard child process serving one logdir (see :func:`serve`).

    Attributes:
        url: the server's address, ``http://127.0.0.1:PORT/``.
        logdir: the directory it serves.
        process: the ``subprocess.Popen`` of the server.
    """

    def __init__(self, process: subprocess.Popen, url: str, logdir: Path, log: collections.deque):
        self.process = process
        self.url = url
        self.logdir = logdir
        self._log = log

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def poll(self) -> int | None:
        """The server's exit status, or None while it runs."""
        return self.process.poll()

    def last_message(self) -> str:
        """The last meaningful line TensorBoard wrote to its stderr (for error reports)."""
        return _last_message(self._log)

    def stop(self, timeout: float = 10.0) -> int:
        """Stop the server (and its data-loading helper), waiting at most ``timeout`` seconds."""
        return _stop(self.process, timeout)

    def __enter__(self) -> "TensorBoardServer":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self):
        return f"<TensorBoardServer {self.url} logdir={str(self.logdir)!r}>"


def serve(logdir, port: int | None = None, host: str = "127.0.0.1", timeout: float = 60.0) -> TensorBoardServer:
    """Start TensorBoard on ``logdir`` and return once it answers HTTP.

    Args:
        logdir: the directory to serve (as ``tensorboard --logdir``).
        port: the port; None tries 6006 and then nearby free ports (as
            TensorBoard does), 0 lets the system choose.
        host: the address to bind; the loopback address by default, so the
            graph is not exposed to the network.
        timeout: seconds to wait for the server to answer.

    Returns:
        A :class:`TensorBoardServer`; call ``stop()`` (or use it as a context
        manager) to shut it down.

    Raises:
        GraphSurgeonError: TensorBoard exited or did not answer in time (the
            message carries TensorBoard's own last words, e.g. a port in use).
    """
    logdir = Path(logdir)
    if not logdir.is_dir():
        raise OutputError(f"{logdir}: no such log directory")
    logdir = logdir.resolve()  # the child runs elsewhere (see _python_command)
    command = _python_command(_LAUNCHER, logdir) + [
        "--logdir", str(logdir), "--host", host, "--port", "default" if port is None else str(port)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"))
    try:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, env=env, start_new_session=True, cwd=_NEUTRAL_DIR,
                                   preexec_fn=_die_with_parent if sys.platform == "linux" else None)
    except OSError as exc:
        raise GraphSurgeonError(f"cannot start TensorBoard ({exc})") from None
    log: collections.deque = collections.deque(maxlen=40)
    found = threading.Event()
    url: list[str] = []

    def read_stderr():
        # Keep draining so TensorBoard never blocks on a full pipe.
        for raw in process.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            log.append(line)
            match = _URL_LINE.search(line + " ")
            if match and not url:
                url.append(match.group(1) + "/")
                found.set()

    threading.Thread(target=read_stderr, name="tensorboard-stderr", daemon=True).start()
    deadline = time.monotonic() + timeout
    try:
        while not found.wait(0.1):
            if process.poll() is not None:
                time.sleep(0.2)  # let the reader catch TensorBoard's last words
                raise GraphSurgeonError(f"TensorBoard did not start (exit status {process.returncode}): "
                                        f"{_last_message(log) or 'no message'}")
            if time.monotonic() > deadline:
                raise GraphSurgeonError(f"TensorBoard did not start within {timeout:g} s: "
                                        f"{_last_message(log) or 'no message'}")
        while not _answers(url[0]):
            if process.poll() is not None:
                raise GraphSurgeonError(f"TensorBoard exited with status {process.returncode}: "
                                        f"{_last_message(log) or 'no message'}")
            if time.monotonic() > deadline:
                raise GraphSurgeonError(f"TensorBoard at {url[0]} did not answer within {timeout:g} s")
            time.sleep(0.1)
    except BaseException:
        _stop(process, 5.0)
        raise
    return TensorBoardServer(process, url[0], logdir, log)


# The child's working directory: never the model's or the user's (see _python_command).
_NEUTRAL_DIR = os.path.abspath(os.sep)


def _python_command(code: str, *untrusted: Path) -> list[str]:
    """``python -I -c CODE`` with this process's ``sys.path``, minus the directories that are not ours.

    ``python -c`` puts the working directory first on ``sys.path``: run from
    a downloaded model's folder, the folder's own ``tensorboard.py`` would
    be imported instead of TensorBoard. Isolated mode (``-I``) adds neither
    it nor ``PYTHON*`` variables; the path this process imports from is
    handed over explicitly (so a TensorBoard installed in a user site or
    found through ``PYTHONPATH`` still is), less ``""``, the working
    directory and ``untrusted`` (the logdir). The child also runs in
    :data:`_NEUTRAL_DIR`.
    """
    try:
        here = [os.getcwd()]
    except OSError:  # a working directory that was removed
        here = []
    drop = {os.path.realpath(p) for p in (*here, *untrusted)}
    path = [p for p in sys.path if p and os.path.realpath(p) not in drop]
    return [sys.executable, "-I", "-c", f"import sys\nsys.path[:] = {path!r}\n{code}"]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    # Linux: have the kernel stop TensorBoard if graphsurgeon dies without cleaning up.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "data/environment", timeout=2) as response:
            return response.status == 200
    except (OSError, ValueError):
        return False


def _stop(process: subprocess.Popen, timeout: float) -> int:
    if not hasattr(os, "killpg"):  # Windows: no process groups to signal
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5.0)
        return process.returncode
    if process.poll() is None:
        # TensorBoard leads its own process group: stop its data server with it.
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except (ProcessLookupError, PermissionError):
                if process.poll() is None:
                    process.send_signal(sig)
            try:
                process.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
    else:
        try:  # the server is gone; its helper may not be
            os.killpg(process.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    return process.returncode if process.returncode is not None else -1


def _last_message(log) -> str:
    for line in reversed(log):
        text = line.strip()
        # Skip TensorBoard's boilerplate about running without TensorFlow.
        if text and "TensorFlow installation not found" not in text and not text.startswith("NOTE:"):
            return text[len("ERROR: "):] if text.startswith("ERROR: ") else text
    return ""


__all__ = ["to_tensorboard", "serve", "TensorBoardServer", "crc32c", "masked_crc32c", "tfrecord", "SUFFIX"]
