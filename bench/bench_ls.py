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

from bench.common import PYTHON, ROOT, graphsurgeon_exe, machine, run_cold, run_cold_cpu, update_section
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
    """Ours on a first run (an empty shape cache) and again (the cache that first run left), and TensorFlow's.

    The command line keeps the shapes it infers in an on-disk cache keyed by the
    model file's bytes (:mod:`graphsurgeon.analysis.shape_cache`): the first
    ``ls`` of a model infers them, the next ``ls`` (or ``show``, ``info``...) of
    the same file reads them. Both are timed, each in its own cache directory.
    """
    import statistics
    import tempfile

    from graphsurgeon.analysis.shape_cache import ENV

    ours = _ours(functions) + [str(model)]
    first, again, theirs = [], [], []
    with tempfile.TemporaryDirectory() as kept:
        run_cold(ours, env={ENV: kept})  # what the user's first ls leaves behind
        for _ in range(runs):  # alternate, so that load on the machine hits all alike
            with tempfile.TemporaryDirectory() as empty:
                first.append(run_cold_cpu(ours, env={ENV: empty}))
            again.append(run_cold_cpu(ours, env={ENV: kept}))
            theirs.append(run_cold_cpu([PYTHON, "-c", TF_SAVEDMODEL_SCRIPT if functions else TF_SCRIPT, str(model)]))
    out = {}
    for key, runs_ in (("first", first), ("again", again), ("tf", theirs)):
        walls = [w for w, _, _ in runs_]
        out[key] = {"s": statistics.median(walls), "range": (min(walls), max(walls)),
                    "mib": statistics.median(m for _, m, _ in runs_),
                    "cpu": statistics.median(c for _, _, c in runs_)}
    for key in ("first", "again"):
        out[f"speedup_{key}"] = out["tf"]["s"] / out[key]["s"]
        out[f"cpu_ratio_{key}"] = out["tf"]["cpu"] / out[key]["cpu"]
    return out


def _cell(r: dict) -> str:
    return f"{r['s']:.2f} s ({r['range'][0]:.2f}-{r['range'][1]:.2f}), CPU {r['cpu']:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--synthetic-ops", type=int, default=60000)
    parser.add_argument("--training-layers", type=int, default=340)
    parser.add_argument("--moments-layers", type=int, default=500)
    parser.add_argument("--keras-blocks", type=int, default=264)
    parser.add_argument("--only", action="append", default=[],
                        help="measure only the models whose label holds this word (repeatable); "
                             "BENCHMARKS.md is then left as it is")
    args = parser.parse_args()
    synthetic = cached_meta_graph(args.synthetic_ops)
    training = cached_training_graph(args.training_layers)
    moments = cached_moments_graph(args.moments_layers)
    keras = cached_keras_model(args.keras_blocks)
    keras_mb = sum(f.stat().st_size for f in keras.glob("*.pb")) / 1e6
    rows = []
    models = (
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
             f"(`bench/synthetic_keras.py`, {_ops(keras, True):,} ops, {keras_mb:.0f} MB)", keras, True))
    for label, model, functions in models:
        if args.only and not any(word in label for word in args.only):
            continue
        r = compare(model, args.runs, functions)
        print(label, r, flush=True)
        rows.append(f"| {label} | {_cell(r['first'])} | {_cell(r['again'])} | {_cell(r['tf'])} "
                    f"| {r['speedup_first']:.1f}x (CPU {r['cpu_ratio_first']:.1f}x) "
                    f"| **{r['speedup_again']:.1f}x** (CPU {r['cpu_ratio_again']:.1f}x) "
                    f"| {r['first']['mib']:.0f} / {r['again']['mib']:.0f} MiB | {r['tf']['mib']:.0f} MiB |")
    body = f"""`python -m bench.bench_ls --runs {args.runs}` ({datetime.date.today()}, {machine()}).
Cold processes, alternating, median wall time (min-max), median CPU time (user + system, all
threads) and median peak RSS of {args.runs} runs each; speedups are TensorFlow's median over ours,
of wall time (CPU time in brackets: less stretched by the machine's other work).
TensorFlow's path: `import tensorflow`, `import_meta_graph`, print every op's name and type.
Ours: `graphsurgeon ls MODEL` (name, type, dtypes and shapes of every op). For the SavedModel,
`graphsurgeon ls --functions MODEL` against TensorFlow's `saved_model_utils.get_meta_graph_def`,
`import_meta_graph` and every op of the graph and of its function bodies.
*First run*: an empty shape cache, so every shape is inferred (and then kept); *again*: the
cache that first run left (`graphsurgeon.analysis.shape_cache`, keyed by the SHA-1 of the model
file's bytes and the code's version), as every later command on the same file runs.
Both with Python's bytecode cache, as installed packages run. The first training graph is the chapter's
model at scale: every gradient op waits on every batch-norm update (`control_dependencies(update_ops)`
around `minimize`), about 9 million control inputs in all (a 237 MB file: parsing it is 0.6 s of
CPU on its own). The second is issue 24's: 500 sibling scopes, `tf.nn.moments`, resource variables.

| model | ours, first run | ours, again | TensorFlow | speedup, first run | speedup, again | ours peak (first / again) | TF peak |
|---|---|---|---|---|---|---|---|
""" + "\n".join(rows)
    if args.only:
        print(body)
        return
    update_section("ls: listing a meta graph", body)


if __name__ == "__main__":
    main()
