"""``graphsurgeon ls`` against TensorFlow's own path, in cold processes, same run.

TensorFlow's path: a script that does ``import_meta_graph`` and prints every
op's name and type (what a user would write). Ours: the ``graphsurgeon ls``
command. Both run as fresh processes, alternating, ``--runs`` times each.

    python -m bench.bench_ls [--runs 5] [--synthetic-ops 60000]
"""
from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from bench.common import PYTHON, ROOT, graphsurgeon_exe, machine, run_cold, update_section
from bench.synthetic import cached_meta_graph
from bench.synthetic_training import cached_training_graph

FIXTURE = ROOT / "fixtures" / "models" / "mnist_bn_elu_tf1" / "model.ckpt.meta"
TF_SCRIPT = """
import sys
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
tf.compat.v1.train.import_meta_graph(sys.argv[1], clear_devices=False)
for op in tf.compat.v1.get_default_graph().get_operations():
    print(op.name, op.type)
"""


def _ours():
    return [graphsurgeon_exe(), "ls"]


def _ops(model: Path) -> int:
    # In a child: loading a large graph here would inflate every later child's peak RSS
    # (a forked child starts with its parent's resident pages).
    import subprocess

    return int(subprocess.run(_ours() + [str(model), "--count"], capture_output=True, text=True,
                              check=True).stdout)


def compare(model: Path, runs: int) -> dict:
    import statistics

    ours, theirs = [], []
    for _ in range(runs):  # alternate, so that load on the machine hits both alike
        ours.append(run_cold(_ours() + [str(model)]))
        theirs.append(run_cold([PYTHON, "-c", TF_SCRIPT, str(model)]))
    o_wall = statistics.median(w for w, _ in ours)
    t_wall = statistics.median(w for w, _ in theirs)
    return {
        "ours_s": o_wall, "tf_s": t_wall, "speedup": t_wall / o_wall,
        "ours_mib": statistics.median(m for _, m in ours), "tf_mib": statistics.median(m for _, m in theirs),
        "ours_range": (min(w for w, _ in ours), max(w for w, _ in ours)),
        "tf_range": (min(w for w, _ in theirs), max(w for w, _ in theirs)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--synthetic-ops", type=int, default=60000)
    parser.add_argument("--training-layers", type=int, default=340)
    args = parser.parse_args()
    synthetic = cached_meta_graph(args.synthetic_ops)
    training = cached_training_graph(args.training_layers)
    rows = []
    for label, model in (("fixture `mnist_bn_elu_tf1/model.ckpt.meta` (618 ops)", FIXTURE),
                         (f"synthetic meta graph ({args.synthetic_ops:,}+ ops, {synthetic.stat().st_size / 1e6:.1f} MB)",
                          synthetic),
                         (f"training graph, {args.training_layers} dense + batch-norm layers with gradients "
                          f"(`bench/synthetic_training.py`, {_ops(training):,} ops, {training.stat().st_size / 1e6:.0f} MB)",
                          training)):
        r = compare(model, args.runs)
        print(label, r)
        rows.append(f"| {label} | {r['ours_s']:.2f} s ({r['ours_range'][0]:.2f}-{r['ours_range'][1]:.2f}) "
                    f"| {r['tf_s']:.2f} s ({r['tf_range'][0]:.2f}-{r['tf_range'][1]:.2f}) | **{r['speedup']:.1f}x** "
                    f"| {r['ours_mib']:.0f} MiB | {r['tf_mib']:.0f} MiB |")
    body = f"""`python -m bench.bench_ls --runs {args.runs}` ({datetime.date.today()}, {machine()}).
Cold processes, alternating, median wall time (min-max) and median peak RSS of {args.runs} runs each.
TensorFlow's path: `import tensorflow`, `import_meta_graph`, print every op's name and type.
Ours: `graphsurgeon ls MODEL` (name, type, dtypes and shapes of every op).
Both with Python's bytecode cache, as installed packages run. The training graph is the chapter's
model at scale: every gradient op waits on every batch-norm update (`control_dependencies(update_ops)`
around `minimize`), about 9 million control inputs in all.

| model | graphsurgeon ls | TensorFlow import_meta_graph | speedup | ours peak | TF peak |
|---|---|---|---|---|---|
""" + "\n".join(rows)
    update_section("ls: listing a meta graph", body)


if __name__ == "__main__":
    main()
