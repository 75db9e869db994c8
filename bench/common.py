"""Benchmark plumbing: cold-process timing with peak memory, medians, BENCHMARKS.md sections."""
from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"


def run_cold(argv, env=None, timeout=900) -> tuple[float, int]:
    """Run a command in a new process; return (wall seconds, peak RSS in MiB) of that process.

    Both sides run as installed packages do, with Python's bytecode cache:
    a shell that sets PYTHONDONTWRITEBYTECODE would make every graphsurgeon
    run compile its sources again (pip compiled TensorFlow's when it
    installed it), which measures the compiler, not the tool.
    """
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=full_env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} failed ({proc.returncode}): {err[-2000:]}")
    return wall, usage.ru_maxrss // 1024


def medians(argv, runs: int, env=None) -> dict:
    walls, mems = [], []
    for _ in range(runs):
        wall, mem = run_cold(argv, env)
        walls.append(wall)
        mems.append(mem)
    return {"median_s": statistics.median(walls), "min_s": min(walls), "max_s": max(walls),
            "peak_mib": statistics.median(mems), "runs": runs}


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def update_section(title: str, body: str) -> None:
    """Replace (or append) the ``## title`` section of BENCHMARKS.md, keeping the others."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else (
        "# Benchmarks\n\nMeasured on the project's shared machines (noisy): read ratios and medians, "
        "not absolute times. Each section is rewritten by the script it names.\n")
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    BENCHMARKS.write_text(text.rstrip() + "\n")


PYTHON = sys.executable


def graphsurgeon_exe() -> str:
    """The ``graphsurgeon`` script of the running interpreter's environment."""
    import shutil

    return shutil.which("graphsurgeon", path=str(Path(PYTHON).parent)) or "graphsurgeon"
