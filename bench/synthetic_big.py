"""A large TF1 checkpoint (ref variables, a Saver, a training op), built with TensorFlow.

Used by ``bench.bench_freeze``: a stack of dense layers ``dense_i/kernel``
``[width, width]`` and ``dense_i/bias``, ReLU between them, ``output``
(Identity) at the end, a softmax cross-entropy loss against ``y`` and a
``GradientDescentOptimizer`` training op, saved by
``tf.compat.v1.train.Saver`` as ``model.ckpt{.meta,.index,.data-...}``.
Its variables hold ``layers * (width**2 + width) * 4`` bytes.

Deterministic: every initializer has a fixed op seed and the graph seed is
set, so the same arguments give the same values (CPU, same TensorFlow).
TensorFlow runs in a child process (the TF1 switches are process-global);
the result is cached under ``bench/.cache/big_<width>x<layers>/``.

    python -m bench.synthetic_big [--width 2560] [--layers 4]   # ~105 MB of float32
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
OUTPUT = "output"
INPUT = "X"

_BUILD = r"""
import sys
import tensorflow as tf

out, width, layers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
v1 = tf.compat.v1
v1.disable_eager_execution()
v1.disable_resource_variables()
v1.disable_control_flow_v2()
v1.set_random_seed(1234)
X = v1.placeholder(tf.float32, [None, width], name="X")
y = v1.placeholder(tf.int64, [None], name="y")
h = X
for i in range(layers):
    with v1.variable_scope(f"dense_{i}"):
        kernel = v1.get_variable("kernel", [width, width], tf.float32,
                                 v1.random_normal_initializer(stddev=width ** -0.5, seed=100 + i))
        bias = v1.get_variable("bias", [width], tf.float32,
                               v1.random_normal_initializer(stddev=0.1, seed=200 + i))
        h = tf.nn.bias_add(tf.matmul(h, kernel), bias)
        if i < layers - 1:
            h = tf.nn.relu(h)
output = tf.identity(h, name="output")
with v1.name_scope("loss"):
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=output))
with v1.name_scope("train"):
    train_op = v1.train.GradientDescentOptimizer(0.01).minimize(loss, name="training_op")
init = v1.global_variables_initializer()
saver = v1.train.Saver(save_relative_paths=True)
with v1.Session() as sess:
    sess.run(init)
    saver.save(sess, out + "/model.ckpt")
"""


def variable_bytes(width: int, layers: int) -> int:
    """Bytes of float32 variables in the model."""
    return layers * (width * width + width) * 4


def cached_model(width: int = 2560, layers: int = 4, cache: Path | None = None, python: str | None = None) -> Path:
    """The checkpoint prefix ``.../model.ckpt`` of the model, built on first use.

    Built in a temporary directory next to the cache and renamed into place,
    so an interrupted build leaves nothing that looks complete.
    """
    cache = Path(cache or CACHE)
    directory = cache / f"big_{width}x{layers}"
    prefix = directory / "model.ckpt"
    if (directory / "model.ckpt.index").is_file():
        return prefix
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=directory.name + ".", dir=cache))
    try:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        proc = subprocess.run([python or sys.executable, "-c", _BUILD, str(tmp), str(width), str(layers)],
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"building the synthetic model failed: {proc.stderr[-2000:]}")
        if directory.exists():  # a concurrent build finished first
            shutil.rmtree(tmp)
        else:
            tmp.chmod(0o755)  # mkdtemp's 0700 would hide it from other users of the cache
            tmp.rename(directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return prefix


def checkpoint_size(prefix: Path) -> int:
    """Bytes on disk of the checkpoint's index and data shards."""
    return sum(p.stat().st_size for p in prefix.parent.glob(prefix.name + ".*")
               if not p.name.endswith(".meta"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=2560)
    parser.add_argument("--layers", type=int, default=4)
    args = parser.parse_args()
    prefix = cached_model(args.width, args.layers)
    print(f"{prefix}: {variable_bytes(args.width, args.layers) / 1e6:.1f} MB of variables, "
          f"checkpoint {checkpoint_size(prefix) / 1e6:.1f} MB, "
          f"meta graph {prefix.with_suffix('.ckpt.meta').stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
