"""swap: activation swaps (TF-free edit, TensorFlow as the oracle) and layer transplants."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import graphsurgeon as gs
from _support import FIXTURES, ROOT, fixture_model as _need, run_one_epoch
from graphsurgeon.cli.main import cli
from graphsurgeon.errors import RewriteError, UsageError
from graphsurgeon.surgery.swap_ops import swap_ops
from graphsurgeon.vocab import protos

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


def test_swap_ops_swaps_the_gradients_too():
    g = gs.load(_need(TF1))
    relu, changes = swap_ops(g, "Elu", "Relu")
    assert changes.details["gradients"] == ["train/gradients/Elu_1_grad/ReluGrad", "train/gradients/Elu_grad/ReluGrad"]
    assert not [op for op in relu if op.type == "EluGrad"] and changes.details["unswapped"] == []
    grad = relu.op("train/gradients/Elu_grad/ReluGrad")
    # As TensorFlow's _ReluGrad builds it: relu_grad(grad, op.outputs[0]).
    assert grad.input_names == ["train/gradients/hidden2/MatMul_grad/tuple/control_dependency:0", "Elu:0"]
    sigmoid, _ = swap_ops(g, "Elu", "Sigmoid")
    assert sigmoid.op("train/gradients/Elu_grad/SigmoidGrad").input_names == [   # sigmoid_grad(y, grad)
        "Elu:0", "train/gradients/hidden2/MatMul_grad/tuple/control_dependency:0"]
    leaky, _ = swap_ops(g, "Elu", "LeakyRelu", {"alpha": "0.3"})
    op = leaky.op("train/gradients/Elu_grad/LeakyReluGrad")                      # leaky_relu_grad(grad, x, alpha)
    assert op.input_names[1] == "batch_normalization/batchnorm/add_1:0" and abs(op.attrs["alpha"].f - 0.3) < 1e-7
    assert g.op("train/gradients/Elu_grad/EluGrad").type == "EluGrad"            # the input is untouched


def test_a_gradient_not_built_as_tensorflow_builds_it_needs_the_rebuild(tmp_path):
    """A second-order gradient reads the old EluGrad: it cannot be swapped op by op."""
    g = gs.load(_need(TF1)).copy()
    node = protos.NodeDef(name="train/gradients_1/train/gradients/Elu_grad/EluGrad_grad/Neg", op="Neg")
    node.input.append("train/gradients/Elu_grad/EluGrad")
    node.attr["T"].type = 1
    g.add_op(node)
    with pytest.raises(RewriteError) as info:
        swap_ops(g, "Elu", "Relu")
    assert "cannot swap the gradient of 'Elu'" in str(info.value)
    odd = tmp_path / "odd.meta"
    g.save(odd)
    result = CliRunner().invoke(cli, ["swap", str(odd), "--op", "Elu", "--to", "Relu", "--no-rebuild",
                                      "-o", str(tmp_path / "x")])
    assert result.exit_code == 1 and result.output.startswith("error:") and "'Elu'" in result.output
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


def test_swap_in_training_graph_trains_as_tensorflow_would(tmp_path, mnist_dir):
    """One step of the swapped graph equals one step of the same network built by TensorFlow with Relu."""
    out = tmp_path / "relu"
    result = CliRunner().invoke(cli, ["swap", str(_need(TF1)), "--op", "Elu", "--to", "Relu", "-o", str(out), "--json",
                                      "--no-rebuild"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert not report["rebuilt"] and len(report["gradients"]) == 2
    r = _py(_ONE_STEP, out, TF1 / "model.ckpt", mnist_dir)
    assert r["act"] == ["Relu", "Relu"] and "EluGrad" not in r["types"] and "ReluGrad" in r["types"]
    assert r["changed"]["hidden1/kernel"] and r["changed"]["outputs/kernel"]
    assert r["max_diff"] <= 1e-6, r
    assert r["changed"]["batch_normalization/moving_mean"]      # the training op's update ops still run


# One training step of the swapped model, and of the fixture's network built by TensorFlow with
# Relu (fixtures.train.build_graph), both restored from the same checkpoint, on the same batch.
_ONE_STEP = r"""
import json, sys
import numpy as np
import tensorflow as tf
from fixtures.train import build_graph
from fixtures.mnist import load_mnist
v1 = tf.compat.v1
swapped, ckpt, data = sys.argv[1:4]
Xb, yb = [a[:100] for a in load_mnist(data)[:2]]
g = tf.Graph()
with g.as_default():
    saver = v1.train.import_meta_graph(swapped + "/model.ckpt.meta")
    with v1.Session(graph=g) as s:
        saver.restore(s, swapped + "/model.ckpt")
        before = {v.op.name: s.run(v) for v in v1.global_variables()}
        s.run("train/training_op", {"X:0": Xb, "y:0": yb, "training:0": True})
        got = {v.op.name: s.run(v) for v in v1.global_variables()}
    types = sorted({op.type for op in g.get_operations()})
    act = [g.get_operation_by_name(n).type for n in ("Elu", "Elu_1")]
g = tf.Graph()
with g.as_default():
    h = build_graph(tf, activation="relu")
    with v1.Session(graph=g) as s:
        v1.train.Saver().restore(s, ckpt)
        s.run(h["training_op"], {h["X"]: Xb, h["y"]: yb, "training:0": True})
        want = {v.op.name: s.run(v) for v in v1.global_variables()}
print(json.dumps({"types": types, "act": act,
                  "changed": {n: bool(not np.array_equal(before[n], got[n])) for n in got},
                  "max_diff": max(float(np.abs(got[n] - want[n]).max()) for n in want)}))
"""


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


def test_the_rebuild_keeps_the_global_step_counting(idiom_zoo, tmp_path):
    """When a gradient cannot be swapped op by op, TensorFlow rebuilds the training op: the rebuilt
    minimize(global_step=) still increments the global step, under the old op's name."""
    from _support import tf_jobs

    entry = idiom_zoo["cnn_global_step"]
    g = gs.load(entry["model"]).copy()
    node = protos.NodeDef(name="gradients_1/gradients/conv1/Relu_grad/ReluGrad_grad/Neg", op="Neg")
    node.input.append("gradients/conv1/Relu_grad/ReluGrad")
    node.attr["T"].type = 1
    g.add_op(node)
    odd = tmp_path / "odd"
    g.save(odd)
    out = tmp_path / "leaky"
    result = CliRunner().invoke(cli, ["swap", str(odd), "--op", "Relu", "--to", "LeakyRelu", "--attr", "alpha=0.1",
                                      "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["rebuilt"] and report["training_op"] == "Adam" and report["global_step"] == "global_step"
    (r,) = tf_jobs("tf_train_step.py", [{"model": str(out), "op": "Adam", "feeds": entry["train"]["feeds"]}],
                   tmp_path)
    assert "error" not in r, r["error"]
    assert r["global_step"][1] == r["global_step"][0] + 1
    assert all(r["changed"][v] for v in r["trainable"]) and len(r["trainable"]) == 6
