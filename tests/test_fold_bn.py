"""fold-bn: batch norm folded away, logits within 1e-4 in TensorFlow, accuracy kept."""
from __future__ import annotations

import json
import os

import pytest

import graphsurgeon as gs
from _support import FIXTURES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
BN_TYPES = {"FusedBatchNorm", "FusedBatchNormV3", "Switch", "Merge", "Rsqrt"}


def _frozen_fixture():
    path = FIXTURES / "mnist_bn_elu_frozen.pb"
    if not (FIXTURES / "manifest.json").is_file():
        pytest.skip("fixture models not built yet")
    assert path.is_file(), "manifest exists but mnist_bn_elu_frozen.pb is missing"
    return gs.load(path)


@pytest.mark.parametrize("source", ["tensorflow_frozen", "graphsurgeon_frozen"])
def test_fold_removes_batch_norm_and_keeps_logits(source, mnist_dir, tmp_path):
    from test_freeze import run_cli

    g = _frozen_fixture()
    path = FIXTURES / "mnist_bn_elu_frozen.pb"
    if source == "graphsurgeon_frozen":
        g, _ = gs.freeze(gs.load(FIXTURES / "mnist_bn_elu_tf1"), outputs=["logits:0", "probabilities:0"])
        path = tmp_path / "ours.pb"
        path.write_bytes(g.graph_def.SerializeToString())
    folded, changes = gs.fold_batch_norms(g)
    assert not [op.name for op in folded if "batch_normalization" in op.name]
    assert not {op.type for op in folded} & BN_TYPES
    assert sum("folded" in n for n in changes.notes) == 3
    # Three dense layers: MatMul + BiasAdd each, nothing else between them and the activations.
    assert len(folded.ops(type="MatMul")) == 3 and len(folded.ops(type="BiasAdd")) == 3
    code, text, data = run_cli("fold-bn", path, "-o", tmp_path / "folded.pb", "--verify", "--outputs", "logits:0",
                               "--json")
    assert code == 0, text
    verify = data["verify"]
    assert verify["inputs"].startswith("MNIST") and verify["ok"], verify
    assert verify["max_abs_diff"]["logits:0"] <= 1e-4
    manifest = json.loads((FIXTURES / "manifest.json").read_text())["models"]
    assert abs(verify["accuracy"]["logits:0"] - manifest["mnist_bn_elu_tf1"]["test_accuracy"]) < 1e-6


def test_fused_batch_norm_folds_into_conv(tmp_path):
    """A Conv2D + FusedBatchNormV3 (inference) graph built in TensorFlow folds to Conv2D + BiasAdd."""
    from test_freeze import run_cli

    script = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np, tensorflow as tf
rng = np.random.default_rng(1)
g = tf.Graph()
with g.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 3], name="x")
    w = tf.constant(rng.standard_normal((3, 3, 3, 4)).astype("f4"))
    y = tf.nn.conv2d(x, w, 1, "SAME")
    p = [tf.constant(rng.uniform(0.5, 2, 4).astype("f4")) for _ in range(4)]
    out, *_ = tf.compat.v1.nn.fused_batch_norm(y, p[0], p[1], p[2], p[3], epsilon=1e-3, is_training=False)
    tf.nn.relu(out, name="out")
open(sys.argv[1], "wb").write(g.as_graph_def().SerializeToString())
"""
    import subprocess
    import sys

    path = tmp_path / "conv.pb"
    subprocess.run([sys.executable, "-c", script, str(path)], check=True, timeout=300)
    g = gs.load(path)
    assert g.ops(type="FusedBatchNormV3")
    folded, _ = gs.fold_batch_norms(g)
    assert not folded.ops(type="FusedBatchNormV3") and folded.ops(type="BiasAdd")
    code, text, data = run_cli("fold-bn", path, "-o", tmp_path / "f.pb", "--verify", "--outputs", "out:0",
                               "--json")
    assert code == 0 and data["verify"]["ok"], text
    assert data["verify"]["max_abs_diff"]["out:0"] < 1e-4


def test_cli_fold_bn_verifies_and_writes(tmp_path, mnist_dir):
    from test_freeze import run_cli

    _frozen_fixture()
    out = tmp_path / "folded.pb"
    code, text, _ = run_cli("fold-bn", FIXTURES / "mnist_bn_elu_frozen.pb", "-o", out, "--verify")
    assert code == 0, text
    assert "max |diff|" in text and out.is_file()
    failed = tmp_path / "never.pb"
    code, text, _ = run_cli("fold-bn", FIXTURES / "mnist_bn_elu_frozen.pb", "-o", failed, "--verify",
                            "--tolerance", "0")
    assert code == 1 and "verification failed" in text and not failed.exists()
    assert sum(line.startswith("error:") for line in text.splitlines()) == 1


def test_failed_verification_prints_json_too(tmp_path):
    """--json on a failed --verify: the verification as JSON (written null), the error on stderr, exit 1."""
    import subprocess
    import sys

    _frozen_fixture()
    out = tmp_path / "never.pb"
    proc = subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", "fold-bn",
                           str(FIXTURES / "mnist_bn_elu_frozen.pb"), "-o", str(out), "--verify", "--tolerance", "0",
                           "--json"], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert proc.returncode == 1 and not out.exists()
    data = json.loads(proc.stdout)
    assert data["written"] is None and data["verify"]["ok"] is False and data["verify"]["max_abs_diff"]
    assert proc.stderr.splitlines()[-1].startswith("error: verification failed")


def test_a_model_with_variables_needs_outputs_or_a_freeze_first(tmp_path, mnist_dir):
    """fold-bn on the checkpoint model: without outputs it says what to do; with them it freezes and folds."""
    from test_freeze import run_cli

    if not (FIXTURES / "mnist_bn_elu_tf1").is_dir():
        pytest.skip("fixture models not built yet")
    model = FIXTURES / "mnist_bn_elu_tf1"
    code, text, _ = run_cli("fold-bn", model, "-o", tmp_path / "a.pb")
    assert code == 2 and text.startswith("error:") and "freeze" in text and "--outputs" in text
    assert not (tmp_path / "a.pb").exists()
    with pytest.raises(gs.UsageError, match="holds 18 variables"):
        gs.fold_batch_norms(gs.load(model))
    code, text, data = run_cli("fold-bn", model, "--outputs", "logits:0", "-o", tmp_path / "b.pb", "--verify",
                               "--json")
    assert code == 0, text
    folded = gs.load(tmp_path / "b.pb")
    assert not {op.type for op in folded} & (BN_TYPES | {"VariableV2"})
    assert data["verify"]["ok"] and data["verify"]["max_abs_diff"]["logits:0"] <= 1e-4


# A MobileNet-like frozen GraphDef (constants, FusedBatchNormV3 in inference mode, Relu6, depthwise
# convolutions with multipliers 1 and 2, a bias before one batch norm), and a graph of batch norms
# that cannot fold, each for a reason of its own. Writes the GraphDefs, a seeded input and what
# TensorFlow computes on it.
_MOBILENET = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
v1 = tf.compat.v1
out = sys.argv[1]
rng = np.random.default_rng(3)
const = lambda *shape: tf.constant(rng.standard_normal(shape).astype("f4"))
def bn(x, c, name, training=False):
    p = [tf.constant(rng.uniform(0.5, 2, c).astype("f4")), const(c), const(c),
         tf.constant(rng.uniform(0.5, 2, c).astype("f4"))]
    if training:
        return v1.nn.fused_batch_norm(x, p[0], p[1], epsilon=1e-3, is_training=True, name=name)[0]
    return v1.nn.fused_batch_norm(x, *p, epsilon=1e-3, is_training=False, name=name)[0]
g = tf.Graph()
with g.as_default():
    x = v1.placeholder(tf.float32, [None, 16, 16, 3], name="input")
    h = tf.nn.relu6(bn(tf.nn.conv2d(x, const(3, 3, 3, 8), 2, "SAME", name="conv0"), 8, "conv0_bn"))
    h = tf.nn.relu6(bn(tf.nn.depthwise_conv2d(h, const(3, 3, 8, 1), [1, 1, 1, 1], "SAME", name="dw1"), 8, "dw1_bn"))
    h = tf.nn.relu6(bn(tf.nn.conv2d(h, const(1, 1, 8, 16), 1, "SAME", name="pw1"), 16, "pw1_bn"))
    h = tf.nn.relu6(bn(tf.nn.depthwise_conv2d(h, const(3, 3, 16, 2), [1, 2, 2, 1], "SAME", name="dw2"), 32, "dw2_bn"))
    h = tf.nn.bias_add(tf.nn.conv2d(h, const(1, 1, 32, 24), 1, "SAME", name="pw2"), const(24))
    h = tf.nn.relu6(bn(h, 24, "pw2_bn"))
    h = tf.squeeze(tf.reduce_mean(h, [1, 2], keepdims=True), [1, 2])
    tf.identity(tf.nn.bias_add(tf.matmul(h, const(24, 5)), const(5)), name="logits")
open(os.path.join(out, "mobilenet.pb"), "wb").write(g.as_graph_def().SerializeToString())
feed = rng.standard_normal((4, 16, 16, 3)).astype("f4")
with v1.Session(graph=g) as s:
    np.save(os.path.join(out, "input.npy"), feed)
    np.save(os.path.join(out, "expected.npy"), s.run("logits:0", {"input:0": feed}))
g = tf.Graph()
with g.as_default():
    x = v1.placeholder(tf.float32, [None, 8, 8, 4], name="input")
    conv = tf.nn.conv2d(x, const(1, 1, 4, 4), 1, "SAME", name="conv")
    a = bn(tf.add(x, conv, name="residual"), 4, "after_add")           # no preceding linear op
    b = bn(conv, 4, "shared")                                          # conv's output read twice
    c = bn(tf.nn.conv2d(x, const(1, 1, 4, 4), 1, "SAME", name="conv_t"), 4, "training", training=True)
    tf.identity(a + b + c, name="out")
open(os.path.join(out, "unfoldable.pb"), "wb").write(g.as_graph_def().SerializeToString())
"""

_RUN = r"""
import os, sys, json
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
v1 = tf.compat.v1
pb, feed, expected = sys.argv[1:4]
gd = v1.GraphDef(); gd.ParseFromString(open(pb, "rb").read())
g = tf.Graph()
with g.as_default():
    v1.import_graph_def(gd, name="")
    with v1.Session(graph=g) as s:
        got = s.run("logits:0", {"input:0": np.load(feed)})
want = np.load(expected)
print(json.dumps({"max_abs_diff": float(np.abs(got - want).max()), "scale": float(np.abs(want).max()),
                  "types": sorted({op.type for op in g.get_operations()})}))
"""


@pytest.fixture(scope="module")
def cnn_graphs(tmp_path_factory):
    """The GraphDefs of _MOBILENET, built once by TensorFlow."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("mobilenet")
    subprocess.run([sys.executable, "-c", _MOBILENET, str(out)], check=True, timeout=300)
    return out


def test_mobilenet_like_graph_folds_depthwise_batch_norms(cnn_graphs, tmp_path):
    """Every batch norm of a MobileNet-like GraphDef folds, the depthwise ones included (multiplier 1
    and 2), and TensorFlow computes the same logits from the folded graph (<= 1e-4)."""
    import subprocess
    import sys

    from test_freeze import run_cli

    g = gs.load(cnn_graphs / "mobilenet.pb")
    assert len(g.ops(type="FusedBatchNormV3")) == 5 and len(g.ops(type="DepthwiseConv2dNative")) == 2
    folded, changes = gs.fold_batch_norms(g)
    assert [f["batch_norm"] for f in changes.details["folded"]] == ["conv0_bn", "dw1_bn", "pw1_bn", "dw2_bn",
                                                                      "pw2_bn"]
    assert {f["into"] for f in changes.details["folded"]} == {"conv0", "dw1", "pw1", "dw2", "pw2"}
    assert changes.details["left"] == [] and not folded.ops(type="FusedBatchNormV3")
    code, text, data = run_cli("fold-bn", cnn_graphs / "mobilenet.pb", "-o", tmp_path / "folded.pb", "--json")
    assert code == 0 and len(data["folded"]) == 5 and data["left"] == [], text
    run = subprocess.run([sys.executable, "-c", _RUN, str(tmp_path / "folded.pb"), str(cnn_graphs / "input.npy"),
                          str(cnn_graphs / "expected.npy")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout.splitlines()[-1])
    assert "FusedBatchNormV3" not in result["types"] and "DepthwiseConv2dNative" in result["types"]
    assert result["max_abs_diff"] <= 1e-4, result
    assert result["scale"] > 1e-2   # the comparison is not of zeros


def test_nothing_folded_is_said_with_each_reason(cnn_graphs, tmp_path):
    from test_freeze import run_cli

    g = gs.load(cnn_graphs / "unfoldable.pb")
    folded, changes = gs.fold_batch_norms(g)
    assert changes.details["folded"] == []
    reasons = {item["batch_norm"]: item["reason"] for item in changes.details["left"]}
    assert reasons.keys() == {"after_add", "shared", "training"}
    assert reasons["after_add"].startswith("no preceding linear op (residual is a AddV2")
    assert "read elsewhere too (shared)" in reasons["shared"]
    assert reasons["training"].startswith("training mode")
    assert changes.notes[0] == "nothing folded: 3 batch norms left as they were"
    assert len(folded) == len(g)
    code, text, _ = run_cli("fold-bn", cnn_graphs / "unfoldable.pb", "-o", tmp_path / "same.pb")
    assert code == 0 and text.startswith("nothing folded: 3 batch norms left as they were"), text
    assert "left after_add alone: no preceding linear op" in text and "folded   " not in text
    code, text, data = run_cli("fold-bn", cnn_graphs / "unfoldable.pb", "-o", tmp_path / "same2.pb", "--json")
    assert code == 0 and data["folded"] == [] and len(data["left"]) == 3
    code, text, data = run_cli("fold-bn", FIXTURES / "mnist_bn_elu_frozen.pb", "-o", tmp_path / "x.pb", "--json")
    if code == 0:
        assert len(data["folded"]) == 3 and data["left"] == []
