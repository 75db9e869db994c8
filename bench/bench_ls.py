"""``graphsurgeon ls`` against TensorFlow's own path, in cold processes, same run.

TensorFlow's path: a script that does ``import_meta_graph`` and prints every
op's name and type (what a user would write). Ours: the ``graphsurgeon ls``
command. Both run as fresh processes, alternating, ``--runs`` times each.

    python -m bench.bench_ls [--runs 5] [--synthetic-ops 60000] [--moments-layers 500] [--keras-blocks 264]
"""
from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from bench.common import PYTHON, ROOT, graphsurgeon_exe, machine, run_cold, update_section
from bench.synthetic import cached_meta_graph
from bench.synthetic_keras import cached_keras_model
from bench.synthetic_moments import cached_moments_graph
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
# A SavedModel's function bodies: TensorFlow's own reader of saved_model.pb, import_meta_graph (which
# imports every function of the library), then every op of the graph and of each function body.
TF_SAVEDMODEL_SCRIPT = """
import sys
import tensorflow as tf
from tensorflow.python.tools import saved_model_utils
tf.compat.v1.disable_eager_execution()
meta = saved_model_utils.get_meta_graph_def(sys.argv[1], "serve")
tf.compat.v1.train.import_meta_graph(meta, clear_devices=False)
graph = tf.compat.v1.get_default_graph()
for op in graph.get_operations():
    print(op.name, op.type)
for function in graph.as_graph_def().library.function:
    for node in function.node_def:
        print(function.signature.name, node.name, node.op)
"""


def _ours(functions: bool = False):
    return [graphsurgeon_exe(), "ls"] + (["--functions"] if functions else [])


def _ops(model: Path, functions: bool = False) -> int:
    # In a child: loading a large graph here would inflate every later child's peak RSS
    # (a forked child starts with its parent's resident pages).
    import subprocess

    return int(subprocess.run(_ours(functions) + [str(model), "--count"], capture_output=True, text=True,
                              check=True).stdout)


def compare(model: Path, runs: int, functions: bool = False) -> dict:
    import statistics

    ours, theirs = [], []
    for _ in range(runs):  # alternate, so that load on the machine hits both alike
        ours.append(run_cold(_ours(functions) + [str(model)]))
        theirs.append(run_cold([PYTHON, "-c", TF_SAVEDMODEL_SCRIPT if functions else TF_SCRIPT, str(model)]))
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
    parser.add_argument("--moments-layers", type=int, default=500)
    parser.add_argument("--keras-blocks", type=int, default=264)
    args = parser.parse_args()
    synthetic = cached_meta_graph(args.synthetic_ops)
    training = cached_training_graph(args.training_layers)
    moments = cached_moments_graph(args.moments_layers)
    keras = cached_keras_model(args.keras_blocks)
    keras_mb = sum(f.stat().st_size for f in keras.glob("*.pb")) / 1e6
    rows = []
    for label, model, functions in (
            ("fixture `mnist_bn_elu_tf1/model.ckpt.meta` (618 ops)", FIXTURE, False),
            (f"synthetic meta graph ({args.synthetic_ops:,}+ ops, {synthetic.stat().st_size / 1e6:.1f} MB)",
             synthetic, False),
            (f"training graph, {args.training_layers} dense + batch-norm layers with gradients "
             f"(`bench/synthetic_training.py`, {_ops(training):,} ops, {training.stat().st_size / 1e6:.0f} MB)",
             training, False),
            (f"training graph, {args.moments_layers} sibling dense + moments + ELU scopes, resource variables, "
             f"gradients (`bench/synthetic_moments.py`, {_ops(moments):,} ops, {moments.stat().st_size / 1e6:.0f} MB)",
             moments, False),
            (f"Keras 2 SavedModel, residual CNN of {args.keras_blocks} blocks, `ls --functions` "
             f"(`bench/synthetic_keras.py`, {_ops(keras, True):,} ops, {keras_mb:.0f} MB)", keras, True)):
        r = compare(model, args.runs, functions)
        print(label, r)
        rows.append(f"| {label} | {r['ours_s']:.2f} s ({r['ours_range'][0]:.2f}-{r['ours_range'][1]:.2f}) "
                    f"| {r['tf_s']:.2f} s ({r['tf_range'][0]:.2f}-{r['tf_range'][1]:.2f}) | **{r['speedup']:.1f}x** "
                    f"| {r['ours_mib']:.0f} MiB | {r['tf_mib']:.0f} MiB |")
    body = f"""`python -m bench.bench_ls --runs {args.runs}` ({datetime.date.today()}, {machine()}).
Cold processes, alternating, median wall time (min-max) and median peak RSS of {args.runs} runs each.
TensorFlow's path: `import tensorflow`, `import_meta_graph`, print every op's name and type.
Ours: `graphsurgeon ls MODEL` (name, type, dtypes and shapes of every op). For the SavedModel,
`graphsurgeon ls --functions MODEL` against TensorFlow's `saved_model_utils.get_meta_graph_def`,
`import_meta_graph` and every op of the graph and of its function bodies.
Both with Python's bytecode cache, as installed packages run. The training graph is the chapter's
model at scale: every gradient op waits on every batch-norm update (`control_dependencies(update_ops)`
around `minimize`), about 9 million control inputs in all.

| model | graphsurgeon ls | TensorFlow import_meta_graph | speedup | ours peak | TF peak |
|---|---|---|---|---|---|
""" + "\n".join(rows)
    update_section("ls: listing a meta graph", body)


if __name__ == "__main__":
    main()
