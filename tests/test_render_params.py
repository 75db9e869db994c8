"""Pictures that read like the network: parameters inside the op reading them, the network's scope opened.

Facts: TensorFlow's own shapes of the constants of a frozen MobileNet-style
graph (built with TF-slim's names by ``bench/mobilenet_style.py``) are the
shapes the labels print; the default picture of every fixture and corpus
model has no box of only weights feeding one op; MobileNet's shows its 27
convolution layers (before: a fan of 27 weight-only boxes into one box).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import graphsurgeon as gs
from graphsurgeon import protos, rendering
from graphsurgeon.rendering import params
from graphsurgeon.vocab.optypes import VARIABLE_TYPES

from _support import corpus_models, fixture_model, fixture_models

ROOT = Path(__file__).resolve().parent.parent
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
SVG = "{http://www.w3.org/2000/svg}"
EXE = Path(sys.executable).parent / "graphsurgeon"
WEIGHT_TYPES = set(params.CONSTANT_TYPES) | set(VARIABLE_TYPES) | set(params.READ_TYPES)

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing (./dev.sh setup)")


@pytest.fixture(scope="module")
def mobilenet() -> Path:
    pytest.importorskip("tensorflow")
    sys.path.insert(0, str(ROOT))
    from bench.mobilenet_style import cached_mobilenet

    return cached_mobilenet()


def weights_only_boxes_feeding_one_node(g, v) -> list[str]:
    """Nodes made of constants or variables (and their reads) only, whose data edges all go to one node."""
    roots = set(params.CONSTANT_TYPES) | set(VARIABLE_TYPES)
    out = []
    for key, node in v.nodes.items():
        graph = g.function(v.function) if v.function else g
        types = {graph.node_defs[m].op for m in node.ops}
        if not types & roots or not types <= WEIGHT_TYPES:
            continue
        targets = {e.dst for e in v.edges if e.src == key and e.kind != "control"}
        if len(targets) == 1:
            out.append(key)
    return out


def _models():
    return fixture_models() + corpus_models()


@pytest.mark.parametrize("model", _models(), ids=lambda p: p.parent.name + "/" + p.name)
def test_no_default_picture_has_a_weights_only_box_feeding_one_op(model):
    g = gs.load(model)
    v = rendering.view(g)
    assert weights_only_boxes_feeding_one_node(g, v) == []
    # Every op the picture stands for is in exactly one node, parameters included.
    drawn = [m for n in v.nodes.values() for m in n.ops]
    assert len(drawn) == len(set(drawn)) == v.shown_ops


def test_the_mobilenet_style_graph_draws_its_layers(mobilenet):
    g = gs.load(mobilenet)
    v = rendering.view(g)
    assert weights_only_boxes_feeding_one_node(g, v) == []
    layers = ["Conv2d_0"] + [f"Conv2d_{i}_{kind}" for i in range(1, 14) for kind in ("depthwise", "pointwise")]
    assert {f"MobilenetV1/MobilenetV1/{layer}/" for layer in layers} <= set(v.nodes)
    assert v.clusters["MobilenetV1/MobilenetV1"]["parent"] == "MobilenetV1"
    # Each layer box holds its weights (in MobilenetV1/LAYER/, a scope of their own) with its ops.
    box = v.nodes["MobilenetV1/MobilenetV1/Conv2d_1_depthwise/"]
    assert "MobilenetV1/Conv2d_1_depthwise/depthwise_weights" in box.ops
    assert not any(k.startswith("MobilenetV1/Conv2d_") for k in v.nodes)
    # Its edges carry the shapes (they read "float32 ?" while shape inference stopped at Conv2D): by hand,
    # a 224×224 image, stride 2 and 32 × 0.25 channels out of Conv2d_0, 1001 classes at the end.
    by = {(e.src, e.dst): e.label for e in v.edges}
    assert by[("MobilenetV1/MobilenetV1/Conv2d_0/", "MobilenetV1/MobilenetV1/Conv2d_1_depthwise/")] == \
        "float32 [1, 112, 112, 8]"
    assert [label for label in by.values() if "?" in label] == []
    assert by[("MobilenetV1/Predictions/Reshape", "MobilenetV1/Predictions/Softmax")] == "float32 [1, 1001]"
    # As it was, asked: 27 weight-only boxes fanning into the one box holding every op.
    fan = rendering.view(g, weights_as_nodes=True)
    assert len(weights_only_boxes_feeding_one_node(g, fan)) == 27


def test_parameter_shapes_are_tensorflows(mobilenet):
    g = gs.load(mobilenet)
    v = rendering.view(g, depth=0, max_nodes=None)  # every op drawn: every parameter on a label
    labels = {node.name: node.parameters for node in v.nodes.values()}
    run = subprocess.run([sys.executable, "-c", """
import json, sys
import tensorflow as tf
gd = tf.compat.v1.GraphDef()
gd.ParseFromString(open(sys.argv[1], "rb").read())
with tf.Graph().as_default() as graph:
    tf.compat.v1.import_graph_def(gd, name="")
print(json.dumps({op.name: [op.type, op.outputs[0].shape.as_list()] for op in graph.get_operations()
                  if op.type == "Const"}))
""", str(mobilenet)], capture_output=True, text=True, env=ENV, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    tf_consts = json.loads(run.stdout)
    found = params.parameters(g, training=False)
    checked = 0
    for name, (_, shape) in tf_consts.items():
        p = found.get(name)
        if p is None or len(shape) == 0 or p.value.startswith("="):
            continue
        assert p.value == "×".join(str(d) for d in shape), name
        assert (p.name, p.value) in labels[p.consumer]  # drawn on its consumer's label
        checked += 1
    assert checked >= 27 * 5  # each layer's weights, gamma, beta, moving mean and variance


def test_a_scope_holding_the_whole_network_is_opened():
    gd = protos.GraphDef()
    gd.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
    for i in range(12):  # inputs, metrics, summaries: enough that depth 1 looks informative
        gd.node.add(name=f"aux{i}", op="Identity", input=["x"]).attr["T"].type = 1
    prev = "x"
    for i in range(20):
        for leaf in ("MatMul", "BiasAdd", "Relu"):
            node = gd.node.add(name=f"model/layer{i}/{leaf}", op=leaf if leaf != "MatMul" else "Relu", input=[prev])
            node.attr["T"].type = 1
            prev = node.name
    v = rendering.view(gs.Graph(gd))
    assert v.depth == 1 and "model/" not in v.nodes
    assert {f"model/layer{i}/" for i in range(20)} <= set(v.nodes)
    assert list(v.clusters) == ["model"]


@needs_dot
def test_the_cli_draws_weights_inside_unless_asked(tmp_path):
    model = fixture_model("mnist_bn_elu_frozen.pb")
    for extra, expected in (([], False), (["--weights-as-nodes"], True)):
        out = tmp_path / f"p{len(extra)}.svg"
        run = subprocess.run([str(EXE), "render", str(model), "-o", str(out), "--scope", "hidden1", *extra],
                             capture_output=True, text=True, env=ENV, timeout=120)
        assert run.returncode == 0, run.stderr
        texts = [t.text for t in ET.parse(out).iter(f"{SVG}text")]
        assert ("kernel 784×300" in texts) is not expected and ("kernel" in texts) is expected, texts


@pytest.mark.parametrize("which", ["fixture", "mobilenet"])
def test_tooltips_name_every_op_drawn_inside_another(which, request):
    """A reader of the DOT (or SVG) finds every op: as a node, in a box's scope, or named as drawn inside."""
    import re

    model = request.getfixturevalue("mobilenet") if which == "mobilenet" else fixture_model(
        "mnist_bn_elu_tf1/model.ckpt.meta")
    g = gs.load(model)
    v = rendering.view(g)
    dot = rendering.to_digraph(v).source
    ops, scopes = set(), set()
    for tooltip in re.findall(r'tooltip="((?:[^"\\]|\\.)*)"', dot):
        first = tooltip.split("\n", 1)[0]
        m = re.match(r"^(.*) \(collapsed scope\)$", first)
        if m:
            scopes.add(m.group(1).rstrip("/"))
        else:
            m = re.match(r"^(\S+) \(", first)
            if m:
                ops.add(m.group(1))
        scopes.update(re.findall(r"more op\(s\) of scope (\S+)/", tooltip))  # boxes say it too

    def covered(name):
        parts = name.split("/")
        return name in ops or any("/".join(parts[:i]) in scopes for i in range(1, len(parts) + 1))

    drawn = [m for n in v.nodes.values() for m in n.ops]
    assert [m for m in drawn if not covered(m)] == []
