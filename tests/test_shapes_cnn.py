"""Shapes through the ops of real CNNs (issue 22.6), against TensorFlow's own shape functions.

A MobileNet-like GraphDef is built by TensorFlow at test time, weights as
``Const`` ops in scopes of their own and no ``_output_shapes`` recorded (as a
frozen MobileNet comes): convolutions, depthwise convolutions, fused batch
norms (v1, v2, v3; inference and training; their gradients), Relu6, the
paddings (Pad, PadV2, MirrorPad, EXPLICIT), pooling (MaxPool, MaxPoolV2,
AvgPool), Mean with keep_dims, Squeeze, ConcatV2; NHWC and NCHW; inputs of
known, partly known and unknown rank. Every tensor's shape is compared with
what TensorFlow reports after importing the same file (``tests/tf_oracle.py``):
the same shape, never more and never less.

Then the rules alone, by hand (no TensorFlow): unknown ranks and dimensions,
and the nodes TensorFlow would refuse, get no guess.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from _support import ROOT
from test_parity_tf import compare_shape
from test_shapes import Builder, shape

import graphsurgeon as gs
from graphsurgeon.analysis import report

BUILD = r"""
import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

sys.path.insert(0, sys.argv[3])
import tf_oracle

v1 = tf.compat.v1
raw = tf.raw_ops
graph = tf.Graph()


def weights(scope, shape):
    with tf.name_scope(scope):  # the weights in scopes of their own, as frozen MobileNets hold them
        return tf.constant(np.zeros(shape, np.float32), name="weights")


def bn(x, scope, channels, version=3, training=False, fmt="NHWC"):
    with tf.name_scope(scope):
        scale = tf.constant(np.ones(channels, np.float32), name="gamma")
        offset = tf.constant(np.zeros(channels, np.float32), name="beta")
        mean = tf.constant(np.zeros(channels if not training else 0, np.float32), name="moving_mean")
        var = tf.constant(np.ones(channels if not training else 0, np.float32), name="moving_variance")
    op = {1: raw.FusedBatchNorm, 2: raw.FusedBatchNormV2, 3: raw.FusedBatchNormV3}[version]
    return op(x=x, scale=scale, offset=offset, mean=mean, variance=var, epsilon=1e-3,
              data_format=fmt, is_training=training, name=scope + "/FusedBatchNorm")


with graph.as_default():
    images = v1.placeholder(tf.float32, [None, 96, 96, 3], name="images")
    net = tf.nn.conv2d(images, weights("MobilenetV1/Conv2d_0", [3, 3, 3, 16]), 2, "SAME", name="MobilenetV1/Conv2d_0/Conv2D")
    net = tf.nn.relu6(bn(net, "MobilenetV1/Conv2d_0/BatchNorm", 16)[0], name="MobilenetV1/Conv2d_0/Relu6")
    channels = 16
    for i, (stride, out, version) in enumerate([(1, 32, 3), (2, 64, 2), (1, 64, 1), (2, 128, 3)], 1):
        scope = f"MobilenetV1/Conv2d_{i}"
        if stride == 2 and i == 4:  # MobileNetV2's way: pad, then a VALID window
            net = tf.pad(net, [[0, 0], [0, 1], [0, 1], [0, 0]], name=scope + "/Pad")
            padding = "VALID"
        else:
            padding = "SAME"
        net = raw.DepthwiseConv2dNative(input=net, filter=weights(scope + "_depthwise", [3, 3, channels, 1]),
                                        strides=[1, stride, stride, 1], padding=padding,
                                        name=scope + "_depthwise/depthwise")
        net = tf.nn.relu6(bn(net, scope + "_depthwise/BatchNorm", channels, version)[0], name=scope + "_depthwise/Relu6")
        net = tf.nn.conv2d(net, weights(scope + "_pointwise", [1, 1, channels, out]), 1, "SAME",
                           name=scope + "_pointwise/Conv2D")
        net = tf.nn.relu6(bn(net, scope + "_pointwise/BatchNorm", out, version)[0], name=scope + "_pointwise/Relu6")
        channels = out
    # An inception-like fork: pools and a 1x1 convolution, concatenated on channels.
    a = tf.nn.max_pool2d(net, 3, 1, "SAME", name="Mixed/MaxPool")
    b = tf.nn.avg_pool2d(net, 3, 1, "SAME", name="Mixed/AvgPool")
    c = tf.nn.conv2d(net, weights("Mixed/Conv", [1, 1, channels, 8]), 1, "VALID", name="Mixed/Conv2D")
    net = tf.concat([a, b, c], 3, name="Mixed/concat")
    pooled = tf.reduce_mean(net, [1, 2], keepdims=True, name="Logits/AvgPool")
    logits = tf.nn.conv2d(pooled, weights("Logits/Conv2d_1c_1x1", [1, 1, 2 * channels + 8, 10]), 1, "SAME",
                          name="Logits/Conv2d_1c_1x1/Conv2D")
    logits = tf.nn.bias_add(logits, tf.constant(np.zeros(10, np.float32), name="Logits/biases"), name="Logits/BiasAdd")
    logits = tf.squeeze(logits, [1, 2], name="Logits/SpatialSqueeze")
    tf.nn.softmax(logits, name="Predictions/Softmax")
    tf.reduce_mean(net, [1, 2], keepdims=False, name="Logits/Mean")
    tf.nn.avg_pool2d(net, 6, 1, "VALID", name="Logits/AvgPool_1a")

    # Windows and paddings of every kind.
    x = v1.placeholder(tf.float32, [2, 17, 23, 8], name="odd")
    raw.Conv2D(input=x, filter=weights("explicit", [3, 5, 8, 4]), strides=[1, 2, 3, 1], padding="EXPLICIT",
               explicit_paddings=[0, 0, 1, 2, 3, 0, 0, 0], name="explicit/Conv2D")
    raw.Conv2D(input=x, filter=weights("dilated", [3, 3, 8, 4]), strides=[1, 1, 1, 1], padding="VALID",
               dilations=[1, 2, 3, 1], name="dilated/Conv2D")
    raw.DepthwiseConv2dNative(input=x, filter=weights("dilated_dw", [3, 3, 8, 2]), strides=[1, 2, 2, 1],
                              padding="VALID", dilations=[1, 2, 2, 1], name="dilated/depthwise")
    raw.DepthwiseConv2dNative(input=x, filter=weights("explicit_dw", [3, 3, 8, 3]), strides=[1, 1, 2, 1],
                              padding="EXPLICIT", explicit_paddings=[0, 0, 2, 2, 1, 0, 0, 0], name="explicit/depthwise")
    raw.MaxPool(input=x, ksize=[1, 3, 2, 1], strides=[1, 2, 2, 1], padding="EXPLICIT",
                explicit_paddings=[0, 0, 1, 1, 0, 1, 0, 0], name="explicit/MaxPool")
    raw.MaxPool(input=x, ksize=[1, 1, 1, 2], strides=[1, 1, 1, 2], padding="VALID", name="depth/MaxPool")
    raw.MaxPoolV2(input=x, ksize=tf.constant([1, 4, 4, 1], name="v2/ksize"), strides=tf.constant([1, 3, 3, 1], name="v2/strides"),
                  padding="VALID", name="v2/MaxPoolV2")
    raw.AvgPool(value=x, ksize=[1, 5, 5, 1], strides=[1, 4, 4, 1], padding="SAME", name="same/AvgPool")
    tf.pad(x, [[1, 1], [2, 3], [0, 0], [4, 0]], mode="REFLECT", name="mirror/MirrorPad")
    tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=1.0, name="v2/PadV2")
    tf.pad(x, tf.constant([[0, 0], [1, 1], [1, 1], [0, 0]], tf.int64), name="int64/Pad")

    # NCHW: TensorFlow's CPU kernels refuse most of it, but the graph (and its shapes) is valid.
    nchw = v1.placeholder(tf.float32, [None, 8, 20, 20], name="nchw")
    raw.Conv2D(input=nchw, filter=weights("nchw_conv", [3, 3, 8, 16]), strides=[1, 1, 2, 2], padding="SAME",
               data_format="NCHW", name="nchw/Conv2D")
    raw.DepthwiseConv2dNative(input=nchw, filter=weights("nchw_dw", [3, 3, 8, 2]), strides=[1, 1, 1, 1],
                              padding="VALID", data_format="NCHW", name="nchw/depthwise")
    raw.MaxPool(input=nchw, ksize=[1, 1, 2, 2], strides=[1, 1, 2, 2], padding="VALID", data_format="NCHW",
                name="nchw/MaxPool")
    raw.AvgPool(value=nchw, ksize=[1, 1, 3, 3], strides=[1, 1, 2, 2], padding="SAME", data_format="NCHW",
                name="nchw/AvgPool")
    bn(nchw, "nchw/BatchNorm", 8, 3, fmt="NCHW")
    bn(nchw, "nchw/BatchNormTraining", 8, 3, training=True, fmt="NCHW")

    # Training-mode batch norm (batch statistics out), and its gradient.
    y = bn(x, "training/BatchNorm", 8, 3, training=True)
    dy = v1.placeholder(tf.float32, [2, 17, 23, 8], name="dy")
    raw.FusedBatchNormGradV3(y_backprop=dy, x=x, scale=tf.constant(np.ones(8, np.float32), name="grad/scale"),
                             reserve_space_1=y[3], reserve_space_2=y[4], reserve_space_3=y[5], epsilon=1e-3,
                             is_training=True, name="training/BatchNorm/grad")
    raw.FusedBatchNormGrad(y_backprop=dy, x=x, scale=tf.constant(np.ones(8, np.float32), name="grad1/scale"),
                           reserve_space_1=y[3], reserve_space_2=y[4], epsilon=1e-3, is_training=True,
                           name="training/BatchNorm/grad_v1")

    # Partly known, then unknown ranks and dims: what TensorFlow still knows, and no more.
    part = v1.placeholder(tf.float32, [None, None, None, 8], name="partly")
    tf.nn.conv2d(part, weights("partly_conv", [3, 3, 8, 4]), 2, "SAME", name="partly/Conv2D")
    tf.nn.conv2d(part, weights("partly_valid", [3, 3, 8, 4]), 1, "VALID", name="partly/Conv2D_valid")
    raw.DepthwiseConv2dNative(input=part, filter=weights("partly_dw", [3, 3, 8, 1]), strides=[1, 1, 1, 1],
                              padding="SAME", name="partly/depthwise")
    bn(part, "partly/BatchNorm", 8, 3)
    tf.nn.max_pool2d(part, 2, 2, "VALID", name="partly/MaxPool")
    tf.pad(part, [[0, 0], [1, 1], [1, 1], [0, 0]], name="partly/Pad")
    tf.squeeze(tf.reduce_mean(part, [1, 2], keepdims=True), [1, 2], name="partly/squeezed")

    anything = v1.placeholder(tf.float32, None, name="anything")
    tf.nn.conv2d(anything, weights("unknown_conv", [3, 3, 8, 4]), 2, "SAME", name="unknown/Conv2D")
    raw.DepthwiseConv2dNative(input=anything, filter=weights("unknown_dw", [3, 3, 8, 2]), strides=[1, 1, 1, 1],
                              padding="SAME", name="unknown/depthwise")
    bn(anything, "unknown/BatchNorm", 8, 3)
    bn(anything, "unknown/BatchNormTraining", 8, 1, training=True)
    tf.nn.max_pool2d(anything, 2, 2, "VALID", name="unknown/MaxPool")
    tf.nn.avg_pool2d(anything, 2, 2, "SAME", name="unknown/AvgPool")
    tf.pad(anything, [[0, 0], [1, 1], [1, 1], [0, 0]], name="unknown/Pad")
    tf.nn.relu6(anything, name="unknown/Relu6")
    tf.reduce_mean(anything, [1, 2], keepdims=True, name="unknown/Mean")
    tf.squeeze(anything, [1], name="unknown/Squeeze")
    tf.concat([anything, x], 3, name="unknown/concat")
    paddings = v1.placeholder(tf.int32, [4, 2], name="paddings")
    tf.pad(anything, paddings, name="unknown/Pad_unknown_paddings")
    tf.pad(part, v1.placeholder(tf.int32, None, name="paddings_any"), name="partly/Pad_unknown_paddings")

Path(sys.argv[1]).write_bytes(graph.as_graph_def().SerializeToString())
Path(sys.argv[2]).write_text(json.dumps(tf_oracle.describe(Path(sys.argv[1]), "graphdef", None)))
"""


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    """(path of the GraphDef TensorFlow built, TensorFlow's report on it)."""
    work = tmp_path_factory.mktemp("cnn")
    pb, report_json = work / "mobilenet_like.pb", work / "tf.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", BUILD, str(pb), str(report_json), str(ROOT / "tests")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return pb, json.loads(report_json.read_text())


def test_every_shape_is_tensorflows(mobilenet):
    path, tf_report = mobilenet
    g = gs.load(path)
    assert not any("_output_shapes" in node.attr for node in g.graph_def.node)
    assert {op.name for op in g} == {r["name"] for r in tf_report["ops"]}
    checked, differ = 0, []
    for record in tf_report["ops"]:
        op = g.op(record["name"])
        assert [t.dtype for t in op.outputs] == record["dtypes"], op.name
        for tensor, theirs in zip(op.outputs, record["shapes"]):
            ours = None if tensor.shape is None else list(tensor.shape)
            verdict = compare_shape(ours, theirs)
            checked += 1
            if verdict != "same":
                differ.append((tensor.name, op.type, verdict, ours, theirs))
    assert not differ, differ
    types = {op.type for op in g}
    assert {"Conv2D", "DepthwiseConv2dNative", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3",
            "FusedBatchNormGrad", "FusedBatchNormGradV3", "Relu6", "Pad", "PadV2", "MirrorPad", "MaxPool",
            "MaxPoolV2", "AvgPool", "Mean", "Squeeze", "ConcatV2"} <= types
    assert checked > 250


def test_ls_type_conv2d_knows_every_layer(mobilenet):
    """The issue's symptom: ``ls MOBILENET --type Conv2D`` said ``float32 ?`` after the first layer."""
    path, _ = mobilenet
    g = gs.load(path)
    rows = {name: text for _, name, _, text in report.ls_rows(g, ["MobilenetV1/**"], ["Conv2D"])}
    assert rows == {
        "MobilenetV1/Conv2d_0/Conv2D": "float32 [?, 48, 48, 16]",
        "MobilenetV1/Conv2d_1_pointwise/Conv2D": "float32 [?, 48, 48, 32]",
        "MobilenetV1/Conv2d_2_pointwise/Conv2D": "float32 [?, 24, 24, 64]",
        "MobilenetV1/Conv2d_3_pointwise/Conv2D": "float32 [?, 24, 24, 64]",
        "MobilenetV1/Conv2d_4_pointwise/Conv2D": "float32 [?, 12, 12, 128]",
    }
    assert g.tensor("Predictions/Softmax:0").shape == (None, 10)


# ---------------------------------------------------------------- the rules by hand: never a guess
def _conv_graph(x_shape, w_shape, **attrs):
    b = Builder()
    b.op("x", "Placeholder", dtype="float32", shape=x_shape)
    b.op("w", "Placeholder", dtype="float32", shape=w_shape)
    b.op("y", attrs.pop("op", "Conv2D"), ["x", "w"], T="float32", **attrs)
    return b.graph()


def test_convolutions_by_hand():
    # A window larger than the input, VALID: TensorFlow refuses the node; no shape.
    assert shape(_conv_graph((1, 2, 2, 3), (3, 3, 3, 4), strides=[1, 1, 1, 1], padding="VALID"), "y") is None
    # The filter's depth disagrees with the input's (depthwise): refused.
    g = _conv_graph((1, 8, 8, 3), (3, 3, 5, 2), op="DepthwiseConv2dNative", strides=[1, 1, 1, 1], padding="SAME")
    assert shape(g, "y") is None
    # Unknown filter: SAME still knows the spatial size (it does not depend on the window), VALID does not.
    assert shape(_conv_graph((1, 9, 9, 3), None, strides=[1, 2, 2, 1], padding="SAME"), "y") == (1, 5, 5, None)
    assert shape(_conv_graph((1, 9, 9, 3), None, strides=[1, 2, 2, 1], padding="VALID"), "y") == (1, None, None, None)
    # Depth multiplier unknown, input depth 1: 1 x unknown is unknown; depth 0 x anything is 0.
    g = _conv_graph((1, 4, 4, 1), (1, 1, 1, None), op="DepthwiseConv2dNative", strides=[1, 1, 1, 1], padding="SAME")
    assert shape(g, "y") == (1, 4, 4, None)
    # An empty window dilated: TensorFlow subtracts 1 from it first, a negative size; refused.
    assert shape(_conv_graph((1, 4, 4, 3), (0, 1, 3, 2), strides=[1, 1, 1, 1], padding="VALID",
                             dilations=[1, 2, 1, 1]), "y") is None
    # A rank that is not 4, a stride of 0, a padding TensorFlow does not know: refused.
    assert shape(_conv_graph((1, 4, 4), (1, 1, 4, 2), strides=[1, 1, 1, 1], padding="SAME"), "y") is None
    assert shape(_conv_graph((1, 4, 4, 4), (1, 1, 4, 2), strides=[1, 0, 1, 1], padding="SAME"), "y") is None
    assert shape(_conv_graph((1, 4, 4, 4), (1, 1, 4, 2), strides=[1, 1, 1, 1], padding="FULL"), "y") is None
    assert shape(_conv_graph((1, 4, 4, 4), (1, 1, 4, 2), strides=[1, 1, 1, 1], padding="SAME",
                             data_format="NCHW_VECT_C"), "y") is None


def test_batch_norm_pad_and_pool_by_hand():
    b = Builder()
    b.op("x", "Placeholder", dtype="float32", shape=(None, 5, 5, 3))
    b.op("s3", "Placeholder", dtype="float32", shape=(3,))
    b.op("s4", "Placeholder", dtype="float32", shape=(4,))
    b.op("bn", "FusedBatchNormV3", ["x", "s3", "s3", "s3", "s3"], T="float32", U="float32", is_training=False)
    b.op("bn_bad", "FusedBatchNormV3", ["x", "s3", "s4", "s3", "s3"], T="float32", U="float32", is_training=False)
    # Training: the (empty) population statistics are not read, so not checked either.
    b.op("bn_train", "FusedBatchNormV3", ["x", "s3", "s3", "s4", "s4"], T="float32", U="float32", is_training=True)
    b.const("pads", [[0, 0], [1, 2], [3, 4], [0, 0]])
    b.const("negative", [[0, 0], [-1, 0], [0, 0], [0, 0]])
    b.op("pad", "Pad", ["x", "pads"], T="float32", Tpaddings="int32")
    b.op("pad_negative", "Pad", ["x", "negative"], T="float32", Tpaddings="int32")
    b.const("pads3", [[0, 0], [1, 1], [1, 1]])
    b.op("pad_rank", "Pad", ["x", "pads3"], T="float32", Tpaddings="int32")
    b.op("pool", "MaxPool", ["x"], T="float32", ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="VALID")
    b.op("pool_big", "AvgPool", ["x"], T="float32", ksize=[1, 6, 6, 1], strides=[1, 1, 1, 1], padding="VALID")
    b.op("pool_nodims", "MaxPool", ["x"], T="float32", ksize=[1, 2, 2], strides=[1, 2, 2, 1], padding="VALID")
    g = b.graph()
    assert g.shapes["bn"] == [(None, 5, 5, 3), (3,), (3,), (3,), (3,), None]
    assert g.shapes["bn_bad"] == [None] * 6
    assert g.shapes["bn_train"][:5] == [(None, 5, 5, 3), (3,), (3,), (3,), (3,)]
    assert shape(g, "pad") == (None, 8, 12, 3)
    assert shape(g, "pad_negative") is None
    assert shape(g, "pad_rank") is None
    assert shape(g, "pool") == (None, 2, 2, 3)
    assert shape(g, "pool_big") is None
    assert shape(g, "pool_nodims") is None
