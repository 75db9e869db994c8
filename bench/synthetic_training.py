"""A large TF1 *training* meta graph: the chapter's model at scale, built by TensorFlow itself.

``LAYERS`` blocks of dense + batch norm + ELU (the fixture trainer's own
``_dense`` and ``_batch_norm``), then the loss, ``GradientDescentOptimizer``'s
``minimize`` under the batch norms' update ops, ``eval/accuracy``, ``init``
and a Saver: every op TensorFlow writes for such a model, gradients
included. 340 layers give about 65,000 ops (and, since every gradient op waits for every
batch-norm update, about 2 x 340 control inputs each: a file of about 250 MB). Unlike :mod:`bench.synthetic`
(forward ops only, built from protos), shape inference here must fold its
way through the gradient machinery (``Shape``, ``BroadcastGradientArgs``,
``Reshape`` of computed shapes), which is where a reader spends its time.

Built once in a TensorFlow subprocess and cached under ``bench/.cache``:

    python -m bench.synthetic_training 340   # writes bench/.cache/training_340.meta
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
from fixtures.train import _batch_norm, _dense, _initializer, configure

out, layers, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
configure("tf1")
v1 = tf.compat.v1
graph = tf.Graph()
with graph.as_default():
    v1.set_random_seed(42)
    X = v1.placeholder(tf.float32, shape=(None, 784), name="X")
    y = v1.placeholder(tf.int64, shape=(None,), name="y")
    training = v1.placeholder_with_default(False, shape=(), name="training")
    init = _initializer(tf, "he")
    x = X
    for i in range(layers):
        x = tf.nn.elu(_batch_norm(tf, _dense(tf, x, width, f"hidden{i}", init), training, f"bn{i}", 0.9))
    logits = tf.identity(_dense(tf, x, 10, "outputs", init), name="logits")
    with tf.name_scope("loss"):
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits), name="loss")
    with tf.name_scope("train"):
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            training_op = v1.train.GradientDescentOptimizer(0.01).minimize(loss, name="training_op")
    with tf.name_scope("eval"):
        accuracy = tf.reduce_mean(tf.cast(v1.nn.in_top_k(logits, y, 1), tf.float32), name="accuracy")
    v1.global_variables_initializer()
    saver = v1.train.Saver()
    v1.train.export_meta_graph(filename=out, graph=graph, saver_def=saver.as_saver_def())
print(len(graph.get_operations()))
"""


def cached_training_graph(layers: int = 340) -> Path:
    """The training meta graph of ``layers`` blocks (built with TensorFlow on first use)."""
    path = CACHE / f"training_{layers}.meta"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
        subprocess.run([PYTHON, "-c", _BUILD, str(tmp), str(layers), str(WIDTH)], check=True, env=env, cwd=ROOT)
        os.replace(tmp, path)
    return path


if __name__ == "__main__":
    print(cached_training_graph(int(sys.argv[1]) if len(sys.argv) > 1 else 340))
