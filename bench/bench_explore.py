"""``graphsurgeon explore`` on 60k-op graphs, side by side with ``render`` of the same graphs in the same run.

Four graphs: bench/synthetic.py's 60,007-op forward graph (built from
protos), bench/synthetic_training.py's ~65,000-op training graph (built
by TensorFlow, every gradient op waiting on every batch-norm update),
bench/synthetic_moments.py's 65,580-op training graph (500 sibling scopes,
moments, resource variables: the one explore failed on) and
bench/synthetic_keras.py's Keras 2 SavedModel (its ops in ~7,000 function
bodies). Each command runs in a cold process: ``render MODEL -o out.svg``
(the default picture) and ``explore MODEL -o DIR`` (every view, laid out
by worker processes). The bars (issue 24): explore under 60 s on 2 cores
with the whole process tree under 2 GiB, render under 10 s.

Memory: ``peak RSS`` is the largest single process (what ``wait4``
reports); explore forks workers that share the loaded graph copy-on-write,
so its whole tree is also sampled every 0.5 s as the sum of the processes'
PSS (shared pages split between their sharers: the memory the run really
holds). CPU: user + system seconds of the command and every process it
waited for (workers, ``dot``), from ``wait4``: on a machine shared with
other work, wall time stretches and CPU time does not.

    python -m bench.bench_explore [--runs 3] [--graphs synthetic,training,moments,keras]
"""
from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import graphsurgeon_exe, machine, update_section
from bench.synthetic import cached_meta_graph
from bench.synthetic_keras import cached_keras_model
from bench.synthetic_moments import cached_moments_graph
from bench.synthetic_training import cached_training_graph


def tree_pss(pid: int) -> int:
    """Sum of the PSS (KiB) of ``pid`` and all its descendants, now."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


def run_sampled(argv) -> tuple[float, int, int, float, str]:
    """(wall seconds, peak RSS of the largest process in MiB, peak PSS of the whole tree in MiB, CPU seconds, stderr)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak, done = 0, threading.Event()

    def sample():
        nonlocal peak
        while not done.wait(0.5):  # reading smaps of a 2 GB process costs: not too often
            peak = max(peak, tree_pss(proc.pid))

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    thread.join()
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{argv} failed: {err[-2000:]}")
    return wall, usage.ru_maxrss // 1024, peak // 1024, usage.ru_utime + usage.ru_stime, err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--graphs", default="synthetic,training,moments,keras")
    args = parser.parse_args()
    from graphsurgeon.rendering import site

    exe = graphsurgeon_exe()
    every = {"synthetic": ("synthetic forward graph (`bench/synthetic.py`)", lambda: cached_meta_graph(60000)),
             "training": ("training graph, 340 dense + batch-norm layers (`bench/synthetic_training.py`)",
                          lambda: cached_training_graph(340)),
             "moments": ("training graph, 500 sibling dense + moments + ELU scopes (`bench/synthetic_moments.py`)",
                         lambda: cached_moments_graph(500)),
             "keras": ("Keras 2 SavedModel, residual CNN of 264 blocks (`bench/synthetic_keras.py`)",
                       lambda: cached_keras_model(264))}
    graphs = [(every[key][0], every[key][1]()) for key in args.graphs.split(",")]
    rows, loads = [], []   # loads: the 1-minute load average before and after each graph's runs

    def write_section() -> None:
        body = f"""`python -m bench.bench_explore --runs {args.runs}` ({datetime.date.today()}, {machine()}; the machine is
    shared with other work, so read medians and ratios). Each command in a cold process, `render MODEL -o out.svg` (the
    default picture) and `explore MODEL -o DIR` (every view of the model, laid out in parallel by one worker per core),
    on the same graph in the same run. Median wall time (min-max) of {args.runs} runs; CPU time (user + system of the
    command and every process it waited for: workers and `dot`); peak RSS of the largest process (`wait4`); for explore
    also the peak of its whole process tree (workers and `dot` included) as summed PSS, sampled every 0.5 s (workers
    share the loaded graph copy-on-write). The bars (issue 24): explore under 60 s on 2 cores and under 2 GiB for the
    whole tree, render under 10 s. Ops: the top-level graph and every function body. Load average (1 min) around
    each graph's runs: """ + "; ".join(loads) + """.

    | graph | ops | command | wall time | CPU time | peak RSS (largest process) | peak PSS (all processes) | output |
    |---|---|---|---|---|---|---|---|
    """ + "\n".join(rows) + """

    The training graph costs the most per op: every one of its ~30,000 gradient ops waits on all 680 batch-norm
    updates (9 million control edges), which every view holding gradient ops draws as stubs. The moments graph is
    the one explore failed on before issue 24 (after 8 min 53 s, nothing written): five views of 100 gradient
    scopes in a chain, each with a stub feeding every box, made `dot` order 21,000 edge segments. Each view now gets
    a layout budget (`graphsurgeon/rendering/budget.py`): those five have their stubs drawn beside each box. Before
    the views, explore reads the whole graph once: shapes, training machinery and the wiring (`graphsurgeon/ir/wiring.py`)."""
        # (the text above is indented with this function: its lines lose those four spaces)
        update_section("explore", "\n".join(line[4:] if line.startswith("    ") else line for line in body.split("\n")))

    with tempfile.TemporaryDirectory() as tmp:
        for label, model in graphs:
            # Counted in a process of its own: a child forked from a benchmark holding the graph would
            # report the benchmark's resident pages as its own peak RSS (the pre-exec image's high-water mark).
            ops = int(subprocess.run([sys.executable, "-c", "import sys, graphsurgeon as gs; g = gs.load(sys.argv[1]); "
                                      "print(len(g) + sum(len(g.function(n)) for n in g.library_names))", str(model)],
                                     capture_output=True, text=True, check=True).stdout)
            svg, out = Path(tmp) / "out.svg", Path(tmp) / "site"
            load_before = os.getloadavg()
            render = [run_sampled([exe, "render", str(model), "-o", str(svg)]) for _ in range(args.runs)]
            explore = []
            for _ in range(args.runs):
                shutil.rmtree(out, ignore_errors=True)
                explore.append(run_sampled([exe, "explore", str(model), "-o", str(out)]))
            views = len(list((out / "views").glob("*.js")))
            size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
            lists = len(list((out / "lists").glob("*.js")))
            index = (out / "search.js").stat().st_size
            _, (info,) = site.read_data(out / "site.js")
            simplified = explore[-1][4].count("\n  view ")
            r_wall = statistics.median(r[0] for r in render)
            e_wall = statistics.median(e[0] for e in explore)
            print(label, ops, "render", [r[:4] for r in render], "explore", [e[:4] for e in explore], views, size,
                  flush=True)
            loads.append(f"{label.split(' (')[0]}: {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
            rows.append(f"| {label} | {ops:,} | `render` | **{r_wall:.1f} s** ({min(r[0] for r in render):.1f}-"
                        f"{max(r[0] for r in render):.1f}) | {statistics.median(r[3] for r in render):.1f} s "
                        f"| {statistics.median(r[1] for r in render):.0f} MiB | - "
                        f"| 1 picture, {svg.stat().st_size / 1024:.0f} KiB |")
            rows.append(f"| | | `explore` | **{e_wall:.1f} s** ({min(e[0] for e in explore):.1f}-"
                        f"{max(e[0] for e in explore):.1f}) | {statistics.median(e[3] for e in explore):.0f} s "
                        f"| {statistics.median(e[1] for e in explore):.0f} MiB "
                        f"| **{statistics.median(e[2] for e in explore):.0f} MiB** | {views:,} views "
                        f"({len(info['graphs'])} graphs), {simplified} simplified to fit the layout budget; "
                        f"{size / 2**20:.0f} MiB: search index {index / 2**20:.1f} MiB, {lists:,} shared detail "
                        f"lists |")
            write_section()  # after each graph: a long run interrupted keeps what it measured


if __name__ == "__main__":
    main()
