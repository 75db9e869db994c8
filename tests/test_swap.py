"""swap: activation swaps (TF-free edit, TensorFlow as the oracle) and layer transplants."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import graphsurgeon as gs
from conftest import FIXTURES, ROOT
from conftest import fixture_model as _need
from conftest import run_one_epoch
from graphsurgeon.cli.main import cli
from graphsurgeon.errors import RewriteError, UsageError
from graphsurgeon.surgery.swap_ops import swap_ops

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
FROZEN = FIXTURES / "mnist_bn_elu_frozen.pb"
TF1 = FIXTURES / "mnist_bn_elu_tf1"




def _py(code, *args):
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=ENV,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_swap_ops_edits_types_and_attrs():
    g = gs.load(_need(FROZEN))
    relu, changes = swap_ops(g, "Elu", "Relu")
    assert changes.changed == ["Elu", "Elu_1"]
    assert relu.op("Elu").type == "Relu" and relu.op("Elu_1").type == "Relu"
    assert g.op("Elu").type == "Elu"  # the input graph is untouched
    leaky, _ = swap_ops(g, "Elu", "LeakyRelu", {"alpha": "0.3"})
    assert abs(leaky.op("Elu").attr_protos["alpha"].f - 0.3) < 1e-7
    default, _ = swap_ops(g, "Elu", "LeakyRelu")
    assert abs(default.op("Elu").attr_protos["alpha"].f - 0.2) < 1e-7  # LeakyRelu's OpDef default
    back, _ = swap_ops(leaky, "LeakyRelu", "Elu")
    assert "alpha" not in back.op("Elu").attrs
    with pytest.raises(UsageError):
        swap_ops(g, "Elu", "Relu", {"beta": "1"})
    with pytest.raises(UsageError):
        swap_ops(g, "MatMul", "Relu")
    with pytest.raises(gs.NotFoundError):
        swap_ops(g, "Relu", "Elu")


def test_swap_refuses_graph_with_gradients_unless_rebuilt(tmp_path):
    g = gs.load(_need(TF1))
    with pytest.raises(RewriteError) as info:
        swap_ops(g, "Elu", "Relu")
    assert "EluGrad" in str(info.value)
    result = CliRunner().invoke(cli, ["swap", str(TF1), "--op", "Elu", "--to", "Relu", "--no-rebuild",
                                      "-o", str(tmp_path / "x")])
    assert result.exit_code == 1 and result.output.startswith("error:") and "EluGrad" in result.output
    assert not (tmp_path / "x").exists()


_REFERENCE = r"""
import json, sys
import numpy as np
import tensorflow as tf
from fixtures.train import build_graph
from fixtures.mnist import load_mnist
v1 = tf.compat.v1
swapped, ckpt, data = sys.argv[1], sys.argv[2], sys.argv[3]
X = load_mnist(data)[2][:500]
gd = v1.GraphDef(); gd.ParseFromString(open(swapped, "rb").read())
def run_gd(graph_def):
    g = tf.Graph()
    with g.as_default():
        v1.import_graph_def(graph_def, name="")
        with v1.Session(graph=g) as s:
            return s.run("logits:0", {"X:0": X}), [op.type for op in g.get_operations() if op.name in ("Elu", "Elu_1")]
got, types = run_gd(gd)
g = tf.Graph()
with g.as_default():
    h = build_graph(tf, activation="relu")
    with v1.Session(graph=g) as s:
        v1.train.Saver().restore(s, ckpt)
        want = s.run(h["logits"], {h["X"]: X})
orig = v1.GraphDef(); orig.ParseFromString(open(sys.argv[4], "rb").read())
elu, _ = run_gd(orig)
print(json.dumps({"types": types, "max_diff": float(np.abs(got - want).max()), "equal": bool(np.array_equal(got, want)),
                  "elu_diff": float(np.abs(elu - want).max())}))
"""


def test_swapped_frozen_graph_matches_a_relu_reference(tmp_path, mnist_dir):
    out = tmp_path / "relu.pb"
    result = CliRunner().invoke(cli, ["swap", str(_need(FROZEN)), "--op", "Elu", "--to", "Relu", "-o", str(out)])
    assert result.exit_code == 0, result.output
    r = _py(_REFERENCE, out, _need(TF1) / "model.ckpt", mnist_dir, FROZEN)
    assert r["types"] == ["Relu", "Relu"]
    assert r["max_diff"] <= 1e-5, r          # same weights, Relu built by tf.nn.relu
    assert r["elu_diff"] > 1e-2                # and the swap mattered


def test_swap_in_training_graph_rebuilds_gradients_and_trains(tmp_path, mnist_dir):
    out = tmp_path / "relu"
    result = CliRunner().invoke(cli, ["swap", str(_need(TF1)), "--op", "Elu", "--to", "Relu", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["rebuilt"] and report["training_op"] == "train/training_op"
    r = run_one_epoch(out, mnist_dir)
    assert r["act"] == ["Relu", "Relu"]
    assert "EluGrad" not in r["types"] and "ReluGrad" in r["types"]
    assert r["changed"]["hidden1/kernel"] and r["changed"]["outputs/kernel"]
    assert r["changed"]["batch_normalization/moving_mean"]


_VALUES = r"""
import json, sys
import numpy as np
import tensorflow as tf
a, b, c = (tf.train.load_checkpoint(p) for p in sys.argv[1:4])
names = sorted(a.get_variable_to_shape_map())
print(json.dumps({n: [bool(np.array_equal(a.get_tensor(n), b.get_tensor(n))),
                      bool(np.array_equal(a.get_tensor(n), c.get_tensor(n)))] for n in names}))
"""


@pytest.fixture(scope="module")
def second_model(tmp_path_factory, mnist_dir):
    out = tmp_path_factory.mktemp("seed7") / "model"
    run = subprocess.run([sys.executable, "-m", "fixtures.train", "--epochs", "1", "--train-limit", "2000", "--seed", "7",
                          "--data", str(mnist_dir), "--out", str(out), "--quiet"], capture_output=True, text=True,
                         env=ENV, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    return out


def test_transplant_hidden2_from_another_seed(tmp_path, second_model, mnist_dir):
    out = tmp_path / "mixed"
    result = CliRunner().invoke(cli, ["swap", str(_need(TF1)), "--layer", "hidden2", "--from",
                                      f"{second_model}:hidden2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    same = _py(_VALUES, out / "model.ckpt", second_model / "model.ckpt", TF1 / "model.ckpt")
    for name, (as_second, as_first) in same.items():
        if name.startswith("hidden2/"):
            assert as_second and not as_first, name
        else:
            assert as_first, name
    r = run_one_epoch(out, mnist_dir)  # imports, restores and runs in TensorFlow
    assert r["changed"]["hidden2/kernel"]


def test_mismatched_transplant_names_both_shapes(tmp_path, second_model):
    result = CliRunner().invoke(cli, ["swap", str(_need(TF1)), "--layer", "hidden1", "--from",
                                      f"{second_model}:hidden2", "-o", str(tmp_path / "bad")])
    assert result.exit_code == 1
    assert result.output.startswith("error:") and "[?, 300]" in result.output and "[?, 784]" in result.output
    assert not (tmp_path / "bad").exists()
