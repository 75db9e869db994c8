"""A frozen MobileNet v1 GraphDef named as TF-slim names it: weights in scopes of their own.

TF-slim's ``mobilenet_v1`` opens ``variable_scope('MobilenetV1')`` and
re-enters it for the layers, so the variables live in
``MobilenetV1/Conv2d_0/weights``, ``MobilenetV1/Conv2d_0/BatchNorm/gamma``
... while the ops that read them live in ``MobilenetV1/MobilenetV1/Conv2d_0/``;
freezing turns the variables into ``Const`` ops with their ``read``
``Identity`` (as the frozen graphs published with the model are). Drawn
naively, the default picture is a fan of 27 weight-only boxes into the one
box holding the whole network. Built here with ``tf.compat.v1`` ops (the
same 14 convolution blocks, depthwise and pointwise, batch norm, ReLU6,
the ``Logits`` and ``Predictions`` scopes) at a small width (``--multiplier``)
so that it is quick to build; the structure is the model's.

Built once in a TensorFlow subprocess and cached under ``bench/.cache``:

    python -m bench.mobilenet_style     # writes bench/.cache/mobilenet_v1_style.pb
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.common import PYTHON, ROOT

CACHE = Path(__file__).resolve().parent / ".cache"

_BUILD = r"""
import sys
import tensorflow as tf

out, multiplier = sys.argv[1], float(sys.argv[2])
v1 = tf.compat.v1
v1.disable_eager_execution()
v1.disable_resource_variables()
# (kind, stride, depth) of MobileNet v1's 14 blocks (mobilenet_v1.py's MOBILENETV1_CONV_DEFS)
DEFS = [("conv", 2, 32), ("sep", 1, 64), ("sep", 2, 128), ("sep", 1, 128), ("sep", 2, 256), ("sep", 1, 256),
        ("sep", 2, 512), ("sep", 1, 512), ("sep", 1, 512), ("sep", 1, 512), ("sep", 1, 512), ("sep", 1, 512),
        ("sep", 2, 1024), ("sep", 1, 1024)]


def batch_norm(x):
    with v1.variable_scope("BatchNorm"):
        n = int(x.shape[-1])
        gamma = v1.get_variable("gamma", [n], initializer=v1.ones_initializer())
        beta = v1.get_variable("beta", [n], initializer=v1.zeros_initializer())
        mean = v1.get_variable("moving_mean", [n], initializer=v1.zeros_initializer(), trainable=False)
        var = v1.get_variable("moving_variance", [n], initializer=v1.ones_initializer(), trainable=False)
        y, _, _ = v1.nn.fused_batch_norm(x, gamma, beta, mean, var, epsilon=0.001, is_training=False)
        return y


graph = tf.Graph()
with graph.as_default():
    v1.set_random_seed(7)
    images = v1.placeholder(tf.float32, [1, 224, 224, 3], name="input")
    init = v1.truncated_normal_initializer(stddev=0.09, seed=1)
    with v1.variable_scope("MobilenetV1") as scope:
        with v1.variable_scope(scope):  # re-entered: ops in MobilenetV1/MobilenetV1/, variables in MobilenetV1/
            net = images
            for i, (kind, stride, depth) in enumerate(DEFS):
                depth = max(8, int(depth * multiplier))
                if kind == "conv":
                    with v1.variable_scope(f"Conv2d_{i}"):
                        w = v1.get_variable("weights", [3, 3, 3, depth], initializer=init)
                        net = tf.nn.relu6(batch_norm(tf.nn.conv2d(net, w, [1, stride, stride, 1], "SAME")),
                                          name="Relu6")
                    continue
                with v1.variable_scope(f"Conv2d_{i}_depthwise"):
                    w = v1.get_variable("depthwise_weights", [3, 3, int(net.shape[-1]), 1], initializer=init)
                    net = tf.nn.relu6(batch_norm(tf.nn.depthwise_conv2d(net, w, [1, stride, stride, 1], "SAME")),
                                      name="Relu6")
                with v1.variable_scope(f"Conv2d_{i}_pointwise"):
                    w = v1.get_variable("weights", [1, 1, int(net.shape[-1]), depth], initializer=init)
                    net = tf.nn.relu6(batch_norm(tf.nn.conv2d(net, w, [1, 1, 1, 1], "SAME")), name="Relu6")
        with v1.variable_scope("Logits"):
            net = tf.nn.avg_pool2d(net, [1, 7, 7, 1], [1, 2, 2, 1], "VALID", name="AvgPool_1a")
            with v1.variable_scope("Conv2d_1c_1x1"):
                w = v1.get_variable("weights", [1, 1, int(net.shape[-1]), 1001], initializer=init)
                b = v1.get_variable("biases", [1001], initializer=v1.zeros_initializer())
                net = tf.nn.bias_add(tf.nn.conv2d(net, w, [1, 1, 1, 1], "SAME"), b)
            logits = tf.squeeze(net, [1, 2], name="SpatialSqueeze")
        with v1.variable_scope("Predictions"):
            tf.reshape(tf.nn.softmax(tf.reshape(logits, [-1, 1001])), [1, 1001], name="Reshape_1")
    with v1.Session(graph=graph) as sess:
        sess.run(v1.global_variables_initializer())
        frozen = v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(),
                                                              ["MobilenetV1/Predictions/Reshape_1"])
with open(out, "wb") as f:
    f.write(frozen.SerializeToString())
print(len(frozen.node))
"""


def cached_mobilenet(multiplier: float = 0.25) -> Path:
    """The frozen GraphDef (built with TensorFlow on first use)."""
    path = CACHE / f"mobilenet_v1_style_{multiplier:g}.pb"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        proc = subprocess.run([PYTHON, "-c", _BUILD, str(tmp), str(multiplier)], env=env, cwd=ROOT,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"building the MobileNet-style graph failed: {proc.stderr[-2000:]}")
        os.replace(tmp, path)
    return path


if __name__ == "__main__":
    print(cached_mobilenet(float(sys.argv[1]) if len(sys.argv) > 1 else 0.25))
