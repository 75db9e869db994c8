"""A second large TF1 training graph, built differently from :mod:`bench.synthetic_training`.

``LAYERS`` dense + ELU layers as sibling scopes at the top level
(``layer0`` ... ``layer499``), each normalised with its own batch statistics:
``tf.nn.moments`` then ``tf.nn.batch_normalization`` (no scale or offset, no
moving-average variables, so no update ops and no control inputs on the
gradients). Resource variables (``VarHandleOp`` / ``ReadVariableOp``), a
softmax cross-entropy loss and ``GradientDescentOptimizer.minimize``: the
``gradients/`` scope holds one sub-scope per layer full of the moments'
gradients (``Shape``, ``BroadcastGradientArgs``, ``Reshape``, ``Tile`` of
computed shapes). 500 layers give 65,580 ops in a 12 MB file.

Where :mod:`bench.synthetic_training` is deep (one scope per layer nested
under the batch norms' control edges), this one is wide: 500 sibling scopes
at the top and 500 more under ``gradients/``, the shape a graph explorer
and a shape-inference pass must survive without tuning.

Built once in a TensorFlow subprocess and cached under ``bench/.cache``:

    python -m bench.synthetic_moments 500   # writes bench/.cache/moments_500.meta
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.common import PYTHON, ROOT

CACHE = Path(__file__).resolve().parent / ".cache"
WIDTH = 32

_BUILD = r"""
import sys
import tensorflow as tf

out, layers, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
v1 = tf.compat.v1
v1.disable_eager_execution()
graph = tf.Graph()
with graph.as_default():
    v1.set_random_seed(42)
    X = v1.placeholder(tf.float32, shape=(None, 784), name="X")
    y = v1.placeholder(tf.int64, shape=(None,), name="y")
    x = X
    for i in range(layers):
        with v1.variable_scope(f"layer{i}"):
            kernel = v1.get_variable("kernel", [int(x.shape[-1]), width], use_resource=True,
                                     initializer=v1.variance_scaling_initializer(seed=i))
            bias = v1.get_variable("bias", [width], initializer=v1.zeros_initializer(), use_resource=True)
            z = tf.matmul(x, kernel) + bias
            mean, variance = tf.nn.moments(z, axes=[0])
            x = tf.nn.elu(tf.nn.batch_normalization(z, mean, variance, None, None, 1e-3))
    with v1.variable_scope("outputs"):
        kernel = v1.get_variable("kernel", [width, 10], use_resource=True,
                                 initializer=v1.variance_scaling_initializer(seed=layers))
        bias = v1.get_variable("bias", [10], initializer=v1.zeros_initializer(), use_resource=True)
        logits = tf.identity(tf.matmul(x, kernel) + bias, name="logits")
    with tf.name_scope("loss"):
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits), name="loss")
    with tf.name_scope("train"):
        v1.train.GradientDescentOptimizer(0.01).minimize(loss, name="training_op")
    v1.global_variables_initializer()
    saver = v1.train.Saver()
    v1.train.export_meta_graph(filename=out, graph=graph, saver_def=saver.as_saver_def())
print(len(graph.get_operations()))
"""


def cached_moments_graph(layers: int = 500) -> Path:
    """The training meta graph of ``layers`` sibling dense + moments + ELU scopes (built with TensorFlow on first use)."""
    path = CACHE / f"moments_{layers}.meta"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        proc = subprocess.run([PYTHON, "-c", _BUILD, str(tmp), str(layers), str(WIDTH)], env=env, cwd=ROOT,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"building the moments training graph failed: {proc.stderr[-2000:]}")
        os.replace(tmp, path)
    return path


if __name__ == "__main__":
    print(cached_moments_graph(int(sys.argv[1]) if len(sys.argv) > 1 else 500))
