"""``graphsurgeon explore`` on the 60k-op graphs, side by side with ``render`` of the same graphs in the same run.

Two graphs: bench/synthetic.py's 60,007-op forward graph (built from
protos) and bench/synthetic_training.py's ~65,000-op training graph (built
by TensorFlow, every gradient op waiting on every batch-norm update). Each
command runs in a cold process: ``render MODEL -o out.svg`` (the default
picture) and ``explore MODEL -o DIR`` (every view, laid out by worker
processes). The issue's bar: the explorer's default export of a 65k-op
graph in under 60 s on 2 cores.

Memory: ``peak RSS`` is the largest single process (what ``wait4``
reports); explore forks workers that share the loaded graph copy-on-write,
so its whole tree is also sampled every 0.5 s as the sum of the processes'
PSS (shared pages split between their sharers: the memory the run really
holds).

    python -m bench.bench_explore [--runs 3]
"""
from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from bench.common import graphsurgeon_exe, machine, run_cold, update_section
from bench.synthetic import cached_meta_graph
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


def run_sampled(argv) -> tuple[float, int, int]:
    """(wall seconds, peak RSS of the largest process in MiB, peak PSS of the whole tree in MiB)."""
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
    return wall, usage.ru_maxrss // 1024, peak // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import graphsurgeon as gs
    from graphsurgeon.rendering import site

    exe = graphsurgeon_exe()
    graphs = [("synthetic forward graph (`bench/synthetic.py`)", cached_meta_graph(60000)),
              ("synthetic training graph (`bench/synthetic_training.py`, 340 layers)", cached_training_graph(340))]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, model in graphs:
            ops = len(gs.load(model))
            svg, out = Path(tmp) / "out.svg", Path(tmp) / "site"
            render = [run_cold([exe, "render", str(model), "-o", str(svg)]) for _ in range(args.runs)]
            explore = []
            for _ in range(args.runs):
                shutil.rmtree(out, ignore_errors=True)
                explore.append(run_sampled([exe, "explore", str(model), "-o", str(out)]))
            views = len(list((out / "views").glob("*.js")))
            size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
            lists = len(list((out / "lists").glob("*.js")))
            index = (out / "search.js").stat().st_size
            _, (info,) = site.read_data(out / "site.js")
            r_wall = statistics.median(w for w, _ in render)
            e_wall = statistics.median(w for w, _, _ in explore)
            print(label, ops, "render", render, "explore", explore, views, size)
            rows.append(f"| {label} | {ops:,} | `render` | **{r_wall:.1f} s** ({min(w for w, _ in render):.1f}-"
                        f"{max(w for w, _ in render):.1f}) | {statistics.median(m for _, m in render):.0f} MiB | - "
                        f"| 1 picture, {svg.stat().st_size / 1024:.0f} KiB |")
            rows.append(f"| | | `explore` | **{e_wall:.1f} s** ({min(w for w, _, _ in explore):.1f}-"
                        f"{max(w for w, _, _ in explore):.1f}) | {statistics.median(m for _, m, _ in explore):.0f} MiB "
                        f"| {statistics.median(p for _, _, p in explore):.0f} MiB | {views:,} views ("
                        f"{len(info['graphs'][0]['parts'])} trees), {size / 2**20:.0f} MiB: search index "
                        f"{index / 2**20:.1f} MiB, {lists:,} shared detail lists |")
    body = f"""`python -m bench.bench_explore --runs {args.runs}` ({datetime.date.today()}, {machine()}; the machine is
shared with other work, so read medians and ratios). Each command in a cold process, `render MODEL -o out.svg` (the
default picture) and `explore MODEL -o DIR` (every view of the model, laid out in parallel by one worker per core),
on the same graph in the same run. Median wall time (min-max) of {args.runs} runs; peak RSS of the largest process
(`wait4`); for explore also the peak of its whole process tree (workers and `dot` included) as summed PSS, sampled
every 0.5 s (workers share the loaded graph copy-on-write). The bar (issue 17): a 65k-op graph's default export in
under 60 s on 2 cores.

| graph | ops | command | wall time | peak RSS (largest process) | peak PSS (all processes) | output |
|---|---|---|---|---|---|---|
""" + "\n".join(rows) + """

The training graph costs the most per op: every one of its ~30,000 gradient ops waits on all 680 batch-norm
updates (9 million control edges), which every view holding gradient ops draws as stubs. Before the views, explore
reads the whole graph once: shapes, training machinery and the wiring (`graphsurgeon/ir/wiring.py`: every op's data and
control edges both ways, control lists shared), about 1 s each here. Nothing builds the per-edge use index
(9 million `Use` tuples): training machinery and the wiring walk the control lists in bulk, and op details read the
wiring (commits d82f2cb, c962b15). Before those, on the same machine and bench, this graph took `render` 12.9 s
(12.8-13.1) at 1922 MiB and `explore` 46.9 s (44.4-47.9) at 2301 MiB largest, 4375 MiB summed."""
    update_section("explore", body)


if __name__ == "__main__":
    main()
