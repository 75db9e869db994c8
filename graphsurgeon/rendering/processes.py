"""Graphviz processes that never outlive the process that started them.

``explore`` lays views out in forked workers, each running ``dot``. A
worker that dies (Ctrl-C makes the parent terminate it, a ``timeout`` or
the OOM killer kills the parent, a crash) used to leave its ``dot``
running, orphaned, for as long as the layout took: one ran 32 minutes.
So, on Linux, every ``dot`` started here asks the kernel to kill it when
the thread that started it dies (``PR_SET_PDEATHSIG``, set between fork
and exec), and explore's workers ask the same for themselves
(:func:`die_with_parent`): killing explore, however, kills its workers,
which kills their ``dot``. Elsewhere, and as a second line on Linux, a
worker stopped by SIGTERM first kills the ``dot`` it is waiting for
(:func:`kill_children`).
"""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys

_PR_SET_PDEATHSIG = 1
_running: set[subprocess.Popen] = set()   # the dot processes this process is waiting for
_prctl = None
_setpriv_path: str | None = None   # "" when there is none that works


def _linux_prctl():
    """libc's ``prctl``, looked up once, before any fork (None when not on Linux or not found)."""
    global _prctl
    if _prctl is None and sys.platform.startswith("linux"):
        try:
            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _prctl = False
    return _prctl or None


def _death_signal(parent: int, prctl) -> None:  # pragma: no cover - runs in the child, before exec
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the line above: nobody is left to kill us
        os._exit(1)


def _setpriv() -> str | None:
    """util-linux's ``setpriv`` if it can set the death signal (looked up once, before any fork)."""
    global _setpriv_path
    if _setpriv_path is None:
        path = shutil.which("setpriv") if sys.platform.startswith("linux") else None
        try:
            ok = path is not None and subprocess.run([path, "--pdeathsig", "KILL", "true"], capture_output=True,
                                                     timeout=10).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        _setpriv_path = path if ok else ""
    return _setpriv_path or None


def run(args: list[str], data: bytes, timeout: float) -> subprocess.CompletedProcess:
    """``subprocess.run(args, input=data, capture_output=True, timeout=timeout)``, the child dying with us.

    The death signal is set by ``setpriv --pdeathsig KILL`` in the child, which then
    execs ``args``: a Python ``preexec_fn`` would make ``subprocess`` fork the whole
    worker (1.2 GB on the 340-layer training graph) for each ``dot`` instead of
    ``vfork``-ing it, and run Python in the copy (copying the pages it touches).
    Without ``setpriv``, the ``preexec_fn``.

    On a timeout the child is killed and ``subprocess.TimeoutExpired`` carries
    what it wrote until then (``exc.stdout``), as ``subprocess.run`` does.
    """
    prctl = _linux_prctl()
    parent = os.getpid()
    preexec, argv = None, args
    setpriv = _setpriv() if prctl is not None else None
    if setpriv is not None:
        argv = [setpriv, "--pdeathsig", "KILL", "--", *args]
    elif prctl is not None:
        preexec = lambda: _death_signal(parent, prctl)  # noqa: E731
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=dict(os.environ), preexec_fn=preexec)
    _running.add(process)
    try:
        try:
            out, err = process.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            process.kill()
            exc.stdout, exc.stderr = process.communicate()
            raise
        except BaseException:
            process.kill()
            process.wait()
            raise
    finally:
        _running.discard(process)
    return subprocess.CompletedProcess(args, process.returncode, out, err)


def kill_children() -> None:
    """Kill every ``dot`` this process is waiting for (a worker being stopped)."""
    for process in list(_running):
        try:
            process.kill()
        except OSError:
            pass


def trim_heap() -> None:
    """Give the heap's free pages back to the system before forking workers (glibc's ``malloc_trim``).

    Loading and indexing a big graph frees much of what it allocated on the way: pages a
    forked worker's first allocations would write into, each then copied into each worker.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).malloc_trim(0)
        except (OSError, AttributeError):
            pass


def prepare() -> None:
    """Look ``prctl`` and ``setpriv`` up now, in the parent: forked workers inherit what was found."""
    _linux_prctl()
    _setpriv()


def die_with_parent(parent: int) -> None:
    """In a worker forked by ``parent``: be killed when it dies (Linux), and kill our ``dot`` when stopped by SIGTERM.

    Also ignores SIGINT and SIGHUP: Ctrl-C and a closed terminal are the
    parent's to handle (it stops the workers); ``dot`` children inherit
    that, which is why they need the death signal to go with their worker.
    """
    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    prctl = _linux_prctl()
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent is already gone
            os._exit(1)

    def stop(signum, frame):
        kill_children()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
