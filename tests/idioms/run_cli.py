"""Run many ``graphsurgeon`` command lines in one process: ``python tests/idioms/run_cli.py JOBS.json OUT.json``.

Each job is ``{"args": [...]}``, run through the real command line (click's
CliRunner, as the CLI tests run it) in THIS process, so that the commands that
import TensorFlow (rehead, freeze-layers, swap when it rebuilds) pay for it once
and the pytest process never imports it. The result per job: ``exit``,
``stdout``, ``stderr``, ``traceback`` (an exception that escaped the command,
which the CLI must never let happen), ``seconds``. A command still running
after ``GS_IDIOM_CLI_TIMEOUT`` seconds (default 180) is stopped and reported as a hang.
"""
from __future__ import annotations

import os
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/, for tf_jobs

from tf_jobs import run_jobs  # noqa: E402

TIMEOUT = int(os.environ.get("GS_IDIOM_CLI_TIMEOUT", "180"))


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"still running after {TIMEOUT} s")


def run(job: dict) -> dict:
    from click.testing import CliRunner

    from graphsurgeon.cli.main import cli

    start = time.perf_counter()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT)
    try:
        result = CliRunner().invoke(cli, job["args"], catch_exceptions=True)
    finally:
        signal.alarm(0)
    tb = None
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        tb = "".join(traceback.format_exception(result.exception))
    return {"exit": result.exit_code, "stdout": result.stdout, "stderr": result.stderr, "traceback": tb,
            "seconds": round(time.perf_counter() - start, 3)}


if __name__ == "__main__":
    sys.exit(run_jobs(run, sys.argv[1:]))
