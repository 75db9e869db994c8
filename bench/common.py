"""Benchmark plumbing: cold-process timing with peak memory, medians, BENCHMARKS.md sections."""
from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"


# Starts the command from a small process and reports its wall time and peak RSS: a
# child forked from the benchmark itself would count the benchmark's own resident
# pages in its peak (Linux records the pre-exec image's high-water mark), and every
# figure after a large graph was loaded here would be inflated.
_LAUNCH = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{time.perf_counter() - start} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_cold(argv, env=None, timeout=900) -> tuple[float, int]:
    """Run a command in a new process; return (wall seconds, peak RSS in MiB) of that process.

    :func:`run_cold_cpu` also returns its CPU time.
    """
    wall, rss, _ = run_cold_cpu(argv, env, timeout)
    return wall, rss


def run_cold_cpu(argv, env=None, timeout=900) -> tuple[float, int, float]:
    """Run a command in a new process; return (wall seconds, peak RSS in MiB, CPU seconds) of that process.

    CPU is user + system time of the process (and of its threads): on a shared
    machine wall time stretches with other people's work, CPU time much less.

    Both sides run as installed packages do, with Python's bytecode cache:
    a shell that sets PYTHONDONTWRITEBYTECODE would make every graphsurgeon
    run compile its sources again (pip compiled TensorFlow's when it
    installed it), which measures the compiler, not the tool.
    """
    import tempfile

    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as report:
        proc = subprocess.run([sys.executable, "-c", _LAUNCH, report.name, *map(str, argv)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=full_env, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}")
        wall, maxrss, cpu = report.read().split()
    return float(wall), int(maxrss) // 1024, float(cpu)


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
