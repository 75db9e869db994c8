"""``graphsurgeon freeze`` against TensorFlow's ``convert_variables_to_constants``, cold processes, same run.

TensorFlow's path (what a TF1 user writes): ``import tensorflow``,
``import_meta_graph`` and ``Saver.restore`` in a Session,
``tf.compat.v1.graph_util.convert_variables_to_constants(sess, graph_def,
outputs)``, write the frozen ``.pb``. Ours: ``graphsurgeon freeze MODEL
--outputs ... -o out.pb``. Each run is a fresh process; the two alternate so
that load on the (shared) machine hits both alike. Then one TensorFlow
process loads both frozen graphs and compares their outputs on random inputs.

Models: the fixture ``mnist_bn_elu_tf1`` and a synthetic stack of dense
layers with >= 100 MB of float32 variables (``bench.synthetic_big``, cached
under ``bench/.cache``).

    python -m bench.bench_freeze [--runs 5] [--big-runs 3] [--width 2560] [--layers 4] [--no-write]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.common import PYTHON, ROOT, machine, run_cold, update_section
from bench.synthetic_big import cached_model, checkpoint_size, variable_bytes

FIXTURE = ROOT / "fixtures" / "models" / "mnist_bn_elu_tf1" / "model.ckpt"
FIXTURE_OUTPUTS = ["logits", "probabilities"]

TF_FREEZE = r"""
import sys
import tensorflow as tf

meta, prefix, out, outputs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
v1 = tf.compat.v1
v1.disable_eager_execution()
with v1.Session(graph=tf.Graph()) as sess:
    saver = v1.train.import_meta_graph(meta, clear_devices=True)
    saver.restore(sess, prefix)
    frozen = v1.graph_util.convert_variables_to_constants(sess, sess.graph.as_graph_def(), outputs)
with open(out, "wb") as f:
    f.write(frozen.SerializeToString())
"""

# Both frozen graphs on the same random inputs; prints JSON {output: max |diff|, "ops": [n_tf, n_ours]}.
TF_COMPARE = r"""
import json
import sys
import numpy as np
import tensorflow as tf

tf_pb, ours_pb, feeds, outputs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4].split(",")
v1 = tf.compat.v1
v1.disable_eager_execution()
rng = np.random.RandomState(0)
inputs = {name: rng.uniform(0, 1, size=shape).astype(np.float32) for name, shape in feeds.items()}
results, ops = [], []
for path in (tf_pb, ours_pb):
    gd = v1.GraphDef()
    with open(path, "rb") as f:
        gd.ParseFromString(f.read())
    ops.append(len(gd.node))
    with tf.Graph().as_default() as graph:
        v1.import_graph_def(gd, name="")
        with v1.Session(graph=graph) as sess:
            results.append(sess.run([o + ":0" for o in outputs], {k + ":0": v for k, v in inputs.items()}))
diffs = {o: float(np.max(np.abs(a.astype(np.float64) - b))) for o, a, b in zip(outputs, *results)}
scale = {o: float(np.max(np.abs(a))) for o, a in zip(outputs, results[0])}
print(json.dumps({"diffs": diffs, "scale": scale, "ops": ops}))
"""


# Measured before commit 1f25eb2 (freeze copied each checkpoint value into a protocol buffer three
# times), same machine, same run length: kept in the section as the "before" of that change.
HISTORY = """
Before commit 1f25eb2 (each checkpoint value copied into protocol buffers three times instead of
once) the big model took 0.83 s (0.70-0.92) at a peak of 435 MiB (the fixture: 0.36 s, 42 MiB, the same within noise).
The GraphDef is now written node by node (the launcher's start-up is also lighter), so ours peaks at
the frozen GraphDef (one copy of the values) plus one node's serialisation at a time: about 2 x 105 MB
over its start-up, where it was about 3 x 105 MB (337 MiB, 0.78 s) before.
"""


@dataclass
class Case:
    label: str
    meta: Path
    prefix: Path
    outputs: list[str]
    feeds: dict  # input name -> shape of the random batch fed when comparing
    runs: int


def ours_argv(case: Case, out: Path) -> list[str]:
    exe = shutil.which("graphsurgeon", path=str(Path(PYTHON).parent)) or "graphsurgeon"
    return [exe, "freeze", str(case.meta), "--outputs", ",".join(case.outputs), "-o", str(out)]


def tf_argv(case: Case, out: Path) -> list[str]:
    return [PYTHON, "-c", TF_FREEZE, str(case.meta), str(case.prefix), str(out), ",".join(case.outputs)]


def compare_outputs(case: Case, tf_pb: Path, ours_pb: Path) -> dict:
    """Run both frozen graphs in one TensorFlow process; ``{"diffs", "scale", "ops"}``."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([PYTHON, "-c", TF_COMPARE, str(tf_pb), str(ours_pb), json.dumps(case.feeds),
                           ",".join(case.outputs)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"comparing frozen graphs failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(case: Case, workdir: Path) -> dict:
    """Alternate ours and TensorFlow's ``case.runs`` times each; medians, ranges, output comparison."""
    ours_pb, tf_pb = workdir / "ours.pb", workdir / "tf.pb"
    ours, theirs = [], []
    for _ in range(case.runs):
        ours.append(run_cold(ours_argv(case, ours_pb)))
        theirs.append(run_cold(tf_argv(case, tf_pb)))
    walls = lambda rs: [w for w, _ in rs]  # noqa: E731
    o_wall, t_wall = statistics.median(walls(ours)), statistics.median(walls(theirs))
    o_mem = statistics.median(m for _, m in ours)
    t_mem = statistics.median(m for _, m in theirs)
    return {
        "ours_s": o_wall, "tf_s": t_wall, "speedup": t_wall / o_wall,
        "ours_range": (min(walls(ours)), max(walls(ours))), "tf_range": (min(walls(theirs)), max(walls(theirs))),
        "ours_mib": o_mem, "tf_mib": t_mem, "mem_ratio": t_mem / o_mem,
        "ours_bytes": ours_pb.stat().st_size, "tf_bytes": tf_pb.stat().st_size,
        "compare": compare_outputs(case, tf_pb, ours_pb),
    }


def cases(runs: int, big_runs: int, width: int, layers: int, cache: Path | None = None) -> list[Case]:
    out = []
    if runs > 0:
        out.append(Case("fixture `mnist_bn_elu_tf1` (1.1 MB of variables)", FIXTURE.with_suffix(".ckpt.meta"),
                        FIXTURE, FIXTURE_OUTPUTS, {"X": [256, 784]}, runs))
    if big_runs > 0:
        prefix = cached_model(width, layers, cache)
        out.append(Case(f"synthetic {layers} dense {width}x{width} "
                        f"({variable_bytes(width, layers) / 1e6:.0f} MB of variables)",
                        prefix.with_suffix(".ckpt.meta"), prefix, ["output"], {"X": [64, width]}, big_runs))
    return out


def _row(case: Case, r: dict) -> str:
    return (f"| {case.label} | {r['ours_s']:.2f} s ({r['ours_range'][0]:.2f}-{r['ours_range'][1]:.2f}) "
            f"| {r['tf_s']:.2f} s ({r['tf_range'][0]:.2f}-{r['tf_range'][1]:.2f}) | **{r['speedup']:.1f}x** "
            f"| {r['ours_mib']:.0f} MiB | {r['tf_mib']:.0f} MiB | **{r['mem_ratio']:.1f}x** |")


def _check_row(case: Case, r: dict) -> str:
    c = r["compare"]
    diffs = ", ".join(f"`{o}` {d:.2g} (values up to {c['scale'][o]:.3g})" for o, d in c["diffs"].items())
    return (f"| {case.label} | {c['ops'][1]} | {c['ops'][0]} | {r['ours_bytes']:,} | {r['tf_bytes']:,} "
            f"| {diffs} |")


def run(runs: int, big_runs: int, width: int, layers: int, cache: Path | None = None) -> list[tuple[Case, dict]]:
    """Measure each case (the fixture when ``runs``, the big model when ``big_runs``)."""
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_freeze.") as tmp:
        for case in cases(runs, big_runs, width, layers, cache):
            results.append((case, measure(case, Path(tmp))))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each tool on the fixture")
    parser.add_argument("--big-runs", type=int, default=3, help="runs of each tool on the big model")
    parser.add_argument("--width", type=int, default=2560, help="big model: units per dense layer")
    parser.add_argument("--layers", type=int, default=4, help="big model: dense layers")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()
    if args.big_runs > 0:
        prefix = cached_model(args.width, args.layers)
        print(f"big model: {prefix} ({checkpoint_size(prefix) / 1e6:.1f} MB checkpoint)")
    results = run(args.runs, args.big_runs, args.width, args.layers)
    for case, r in results:
        print(case.label, json.dumps(r))
    if args.no_write:
        return
    update_section("freeze", section(results, args.runs, args.big_runs, args.width, args.layers))


def section(results: list[tuple[Case, dict]], runs: int, big_runs: int, width: int, layers: int) -> str:
    """The body of BENCHMARKS.md's ``## freeze`` section."""
    command = "python -m bench.bench_freeze" + (f" --runs {runs}" if runs != 5 else "") + (
        f" --big-runs {big_runs}" if big_runs != 3 else "") + (
        f" --width {width} --layers {layers}" if (width, layers) != (2560, 4) else "")
    return f"""`{command}` ({datetime.date.today()}, {machine()}).
Cold processes, alternating; median wall time (min-max) and median peak RSS of
{runs} runs each on the fixture, {big_runs} on the big model.
TensorFlow's path: `import tensorflow`, `import_meta_graph` + `Saver.restore` in a Session,
`tf.compat.v1.graph_util.convert_variables_to_constants(sess, graph_def, outputs)`, write the `.pb`.
Ours: `graphsurgeon freeze MODEL.meta --outputs ... -o out.pb`.
The big model (`bench/synthetic_big.py`): ref variables, a Saver and a gradient-descent training op,
{layers} dense layers of {width}x{width} float32
({variable_bytes(width, layers):,} bytes of variables); its checkpoint holds only the layers' variables.

| model | graphsurgeon freeze | TF convert_variables_to_constants | speedup | ours peak | TF peak | TF peak / ours |
|---|---|---|---|---|---|---|
""" + "\n".join(_row(c, r) for c, r in results) + """

Same results: one TensorFlow process loads both frozen graphs and runs them on the same random
inputs (uniform [0, 1); a batch of 256 for the fixture, 64 for the big model); largest absolute
difference per output. Ours also drops the `training` cond that TensorFlow's result keeps.

| model | ops (ours) | ops (TF) | bytes (ours) | bytes (TF) | max abs diff |
|---|---|---|---|---|---|
""" + "\n".join(_check_row(c, r) for c, r in results) + "\n" + HISTORY


if __name__ == "__main__":
    main()
