"""g.layers() / graphsurgeon layers: scopes owning variables, data-flow order, activations, cut resolution.

Facts are checked against TensorFlow's own view (variables, shapes, trainable,
in a subprocess) and against the fixture network documented in fixtures/README.md.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from _support import FIXTURES, ROOT, fixture_model as _model
from graphsurgeon.cli.main import cli

import graphsurgeon as gs
from graphsurgeon.analysis.layers import block, layer, resolve_cut
from graphsurgeon.errors import NotFoundError

TRAINING_MODELS = [p for p in ("mnist_bn_elu_tf1", "mnist_bn_elu_resource", "mnist_bn_elu_0to4")]




@pytest.mark.parametrize("name", TRAINING_MODELS)
def test_fixture_layers_in_data_flow_order(name):
    g = gs.load(_model(name))
    found = g.layers()
    assert [item.name for item in found] == ["hidden1", "batch_normalization", "hidden2", "batch_normalization_1",
                                             "outputs", "batch_normalization_2"]
    by = {item.name: item for item in found}
    assert [item.kind for item in found] == ["dense", "batch_norm"] * 3
    assert by["hidden1"].inputs == ["X:0"]
    assert by["hidden1"].outputs == ["hidden1/BiasAdd:0"]
    assert set(by["batch_normalization"].inputs) == {"training:0", "hidden1/BiasAdd:0"}
    assert by["batch_normalization"].activation == "Elu" and by["batch_normalization"].output == "Elu:0"
    assert by["batch_normalization_1"].output == "Elu_1:0"
    assert by["hidden2"].inputs == ["Elu:0"] and by["outputs"].inputs == ["Elu_1:0"]
    assert by["batch_normalization_2"].activation is None
    n_out = 5 if name.endswith("0to4") else 10
    assert by["hidden1"].params == 784 * 300 + 300
    assert by["outputs"].params == 100 * n_out + n_out
    assert {v.name: v.trainable for v in by["batch_normalization"].variables} == {
        "batch_normalization/gamma": True, "batch_normalization/beta": True,
        "batch_normalization/moving_mean": False, "batch_normalization/moving_variance": False}
    # op count: every op under the scope
    assert by["hidden1"].ops == sum(1 for op in g if op.name.startswith("hidden1/"))


@pytest.mark.parametrize("name", TRAINING_MODELS)
def test_after_a_layer_means_its_blocks_activation(name):
    g = gs.load(_model(name))
    assert block(g, "hidden2") == ["hidden2", "batch_normalization_1"]
    assert resolve_cut(g, "hidden2") == "Elu_1:0"
    assert resolve_cut(g, "hidden1") == "Elu:0"
    assert resolve_cut(g, "batch_normalization_1") == "Elu_1:0"
    assert resolve_cut(g, "Elu:0") == "Elu:0"
    assert resolve_cut(g, "hidden2/MatMul") == "hidden2/MatMul:0"
    with pytest.raises(NotFoundError) as info:
        resolve_cut(g, "hiden2")
    assert "hidden2" in str(info.value)


_TF_VARIABLES = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
v1 = tf.compat.v1
g = tf.Graph()
with g.as_default():
    v1.train.import_meta_graph(sys.argv[1])
    train = {v.op.name for v in v1.trainable_variables()}
    print(json.dumps({v.op.name: [v.shape.as_list(), v.op.name in train] for v in v1.global_variables()}))
"""


def test_variables_match_tensorflow():
    metas = [str(_model(n) / "model.ckpt.meta") for n in ("mnist_bn_elu_tf1", "mnist_bn_elu_resource")]
    for meta in metas:
        out = subprocess.run([sys.executable, "-c", _TF_VARIABLES, meta], capture_output=True, text=True,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, check=True)
        tf_vars = json.loads(out.stdout.strip().splitlines()[-1])
        ours = {v.name: [list(v.shape), v.trainable] for item in gs.load(meta).layers() for v in item.variables}
        assert ours == tf_vars


def test_layers_never_import_tensorflow():
    code = ("import sys, graphsurgeon as gs; g = gs.load(sys.argv[1]); g.layers(); "
            "from graphsurgeon.analysis.layers import resolve_cut; resolve_cut(g, 'hidden2'); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code, str(_model("mnist_bn_elu_tf1"))], check=True, cwd=ROOT)


def test_frozen_graph_has_no_layers():
    path = FIXTURES / "mnist_bn_elu_frozen.pb"
    if not path.exists():
        pytest.skip("frozen fixture not built")
    assert gs.load(path).layers() == []


def test_cli_layers_table_and_json():
    runner = CliRunner()
    model = str(_model("mnist_bn_elu_tf1"))
    result = runner.invoke(cli, ["layers", model, "-v"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["LAYER", "KIND", "PARAMS"]
    assert lines[1].split()[:3] == ["hidden1", "dense", "235,500"]
    assert any(line.startswith("hidden1/kernel") and "[784, 300]" in line for line in lines)
    result = runner.invoke(cli, ["layers", model, "--json"])
    data = json.loads(result.output)
    assert [item["name"] for item in data["layers"]][:2] == ["hidden1", "batch_normalization"]
    assert data["layers"][2]["block"] == ["hidden2", "batch_normalization_1"]
    assert data["layers"][3]["output"] == "Elu_1:0"


def test_cli_layers_missing_model(tmp_path):
    result = CliRunner().invoke(cli, ["layers", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and "nope" in result.output


def test_root_level_variables_are_layers_of_their_own(idiom_zoo):
    g = gs.load(idiom_zoo["root_variables"]["model"])
    found = {item.name: item for item in g.layers()}
    assert list(found) == ["W1", "b1", "Theta_2"]
    assert found["W1"].inputs == ["X:0"] and found["W1"].outputs == ["MatMul:0"]
    assert found["b1"].inputs == ["MatMul:0"] and found["b1"].activation == "Sigmoid"
    assert found["Theta_2"].output == "hypothesis:0"
    assert [v.name for v in found["Theta_2"].variables] == ["Theta_2"]
    assert resolve_cut(g, "b1") == "Sigmoid:0"


def test_optimizer_slots_and_shadows_are_no_layers_and_variables_no_outputs(idiom_zoo):
    cnn = gs.load(idiom_zoo["cnn_global_step"]["model"])
    assert [item.name for item in cnn.layers()] == ["conv1", "conv2", "fc"]
    assert all(not v.name.endswith(("Adam", "Adam_1")) for item in cnn.layers() for v in item.variables)
    ema = gs.load(idiom_zoo["ema_train"]["model"])
    by = {item.name: item for item in ema.layers()}
    assert by["fc1"].outputs == ["fc1/Relu:0"] and by["fc1"].output == "fc1/Relu:0"   # not fc1/kernel:0
    assert [v.name for v in by["fc1"].variables] == ["fc1/kernel", "fc1/bias"]        # no shadow, no slot
    assert resolve_cut(ema, "fc1") == "fc1/Relu:0"
    part = {item.name: item for item in gs.load(idiom_zoo["partitioned"]["model"]).layers()}
    assert [v.name for v in part["embedding"].variables] == [f"embedding/weights/part_{i}" for i in range(3)]


def test_slim_batch_norm_nested_in_its_convolution(idiom_zoo):
    g = gs.load(idiom_zoo["mobilenet_ckpt"]["model"])
    conv = layer(g, "MobilenetV1/Conv2d_2_pointwise")
    assert conv.outputs == ["MobilenetV1/Conv2d_2_pointwise/Relu6:0"]            # not its Conv2D, read by BatchNorm
    assert block(g, "MobilenetV1/Conv2d_2_pointwise") == ["MobilenetV1/Conv2d_2_pointwise",
                                                          "MobilenetV1/Conv2d_2_pointwise/BatchNorm"]
    assert resolve_cut(g, "MobilenetV1/Conv2d_2_pointwise") == "MobilenetV1/Conv2d_2_pointwise/Relu6:0"


def test_legacy_root_variables_of_a_2016_checkpoint(corpus_dir):
    g = gs.load(corpus_dir / "gknoblau_v1_ckpt" / "model.ckpt.meta")
    found = {item.name: item for item in g.layers()}
    assert list(found) == ["mweight", "mbias", "mweight2", "mbias2"]
    assert found["mweight"].outputs == ["MatMul:0"] and found["mbias"].output == "Relu:0"
    assert {v.name for item in found.values() for v in item.variables} == {"mweight", "mbias", "mweight2", "mbias2"}
