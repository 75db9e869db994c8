"""swap: activation swaps (TF-free edit, TensorFlow as the oracle) and layer transplants."""
from __future__ import annotations

import json
import os
import re
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
    assert op.input_names[1] == "batch_normalization/batchnorm/add_1:0" and abs(op.attrs["alpha"] - 0.3) < 1e-7
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


# --- TF2 models: the activations are in function bodies ---------------------------------------------

# The same networks with Relu and with Elu on the same weights, saved by TensorFlow: a tf.Module whose
# signatures include a differentiated call (TensorFlow saves __forward_/__backward_ functions for it) and a
# tape in a body, and a Keras 2 model saved as a SavedModel (its layer's call traced several times).
_TF2_MODELS = r"""
import json, os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
import tensorflow as tf
import tf_keras
out = sys.argv[1]
r = np.random.RandomState(3)
W1, B1, W2, W3 = (r.randn(4, 5), r.randn(5), r.randn(5, 5), r.randn(5, 2))
W1, B1, W2, W3 = (a.astype(np.float32) for a in (W1, B1, W2, W3))
np.save(f"{out}/x.npy", r.randn(7, 4).astype(np.float32))
spec = [tf.TensorSpec([None, 4], tf.float32, name="x")]

def module(act):
    class Net(tf.Module):
        def __init__(self):
            super().__init__()
            self.w1, self.b1, self.w2, self.w3 = (tf.Variable(a) for a in (W1, B1, W2, W3))
        def net(self, x):
            with tf.name_scope("hidden"):
                h = act(tf.matmul(x, self.w1) + self.b1)
            with tf.name_scope("head"):
                return tf.matmul(act(tf.matmul(h, self.w2)), self.w3)
        @tf.function(input_signature=spec)
        def __call__(self, x):
            return {"y": self.net(x)}
        @tf.function(input_signature=spec)
        def grads(self, x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(self(x)["y"] ** 2)
            return dict(zip(["w1", "b1", "w2"], tape.gradient(loss, [self.w1, self.b1, self.w2])))
        @tf.function(input_signature=spec)
        def inline(self, x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(self.net(x) ** 2)
            return {"w1": tape.gradient(loss, self.w1)}
    m = Net()
    return m, {"serving_default": m.__call__, "grads": m.grads, "inline": m.inline}

def loop(act):  # v2 control flow: the gradient of a while body is a body of its own (while_body_N_grad_M)
    class Loop(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(W2 * 0.5)
        def run(self, x):
            step = lambda i, h: (i + 1, act(tf.matmul(h, self.w)))
            return tf.while_loop(lambda i, h: i < 3, step, (0, tf.matmul(x, W1)))[1]
        @tf.function(input_signature=spec)
        def __call__(self, x):
            return {"y": self.run(x)}
        @tf.function(input_signature=spec)
        def grads(self, x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(self.run(x) ** 2)
            return {"w": tape.gradient(loss, self.w)}
    m = Loop()
    return m, {"serving_default": m.__call__, "grads": m.grads}

for name, act in (("relu", tf.nn.relu), ("elu", tf.nn.elu), ("leaky", lambda t: tf.nn.leaky_relu(t, 0.2))):
    m, signatures = module(act)
    tf.saved_model.save(m, f"{out}/module_{name}", signatures=signatures)
    if name == "leaky":
        continue
    m, signatures = loop(act)
    tf.saved_model.save(m, f"{out}/loop_{name}", signatures=signatures)
    model = tf_keras.Sequential([tf_keras.Input((4,), name="features"),
                                 tf_keras.layers.Dense(5, activation=name, name="hidden"),
                                 tf_keras.layers.Dense(2, name="out")], name="net")
    model.set_weights([W1, B1, W3[:5], np.zeros(2, np.float32)])
    model.save(f"{out}/keras2_{name}", save_format="tf")
print(json.dumps({"ok": True}))
"""

# Every signature through both loaders (tf.saved_model.load, and the TF1 loader in a session) and the
# restored object's own call (Keras: training False and True): the swapped model beside TensorFlow's.
_TF2_JUDGE = r"""
import json, sys
import numpy as np
import tensorflow as tf
v1 = tf.compat.v1
X = np.load(sys.argv[1])

def v2(path):
    m = tf.saved_model.load(path)
    outs = {}
    for key, fn in m.signatures.items():
        arg = next(iter(fn.structured_input_signature[1]))
        outs.update({f"v2 {key} {k}": v.numpy() for k, v in fn(**{arg: tf.constant(X)}).items()})
    y = m(tf.constant(X))
    outs["v2 call"] = (y["y"] if isinstance(y, dict) else y).numpy()
    if hasattr(m, "keras_api"):
        outs["v2 call training"] = m(tf.constant(X), training=True).numpy()
    return outs

def tf1(path):
    g = tf.Graph()
    with g.as_default(), v1.Session(graph=g) as s:
        meta = v1.saved_model.loader.load(s, ["serve"], path)
        outs = {}
        for key, sig in meta.signature_def.items():
            if not key.startswith("__"):
                (inp,) = sig.inputs.values()
                keys = sorted(sig.outputs)
                values = s.run([sig.outputs[k].name for k in keys], {inp.name: X})
                outs.update({f"v1 {key} {k}": v for k, v in zip(keys, values)})
    types = sorted({n.op for f in g.as_graph_def().library.function for n in f.node_def})
    return outs, types

result = {}
for got_path, want_path, orig_path in json.loads(sys.argv[2]):
    (got1, types), (want1, _), (orig1, _) = tf1(got_path), tf1(want_path), tf1(orig_path)
    got, want, orig = {**v2(got_path), **got1}, {**v2(want_path), **want1}, {**v2(orig_path), **orig1}
    result[got_path] = {"keys": sorted(got), "missing": sorted(set(want) - set(got)), "types": types,
                        "diff": {k: float(np.abs(got[k] - want[k]).max()) for k in want},
                        "orig_diff": max(float(np.abs(orig[k] - want[k]).max()) for k in want)}
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def tf2_models(tmp_path_factory):
    out = tmp_path_factory.mktemp("tf2")
    _py(_TF2_MODELS, out)
    return out


def _bodies_with(path, op_type):
    g = gs.load(path)
    return {name for name in g.library_names if g.function(name).ops(type=op_type)}


def test_swap_in_tf2_function_bodies_computes_what_tensorflow_built_with_the_new_activation(tf2_models, tmp_path):
    """Relu -> Elu (and LeakyRelu) in every traced copy, tape and backward gradients included: each signature
    (gradients too) and each call gives the numbers of the same model built with Elu (LeakyRelu), through both
    of TensorFlow's loaders."""
    pairs, reports = [], {}
    for kind in ("module", "keras2", "loop"):
        original, out = tf2_models / f"{kind}_relu", tmp_path / kind
        result = CliRunner().invoke(cli, ["swap", str(original), "--op", "Relu", "--to", "Elu", "-o", str(out),
                                          "--json"])
        assert result.exit_code == 0, result.output
        reports[kind] = report = json.loads(result.output[result.output.index("{"):])
        # every body that held the activation is swapped, and named with what was swapped in it
        holders = _bodies_with(original, "Relu")
        assert {f for f, done in report["functions"].items() if done["changed"]} == holders
        assert not _bodies_with(out, "Relu") and not _bodies_with(out, "ReluGrad")
        assert report["changed"] == [] and report["rebuilt"] is False
        pairs.append([str(out), str(tf2_models / f"{kind}_elu"), str(original)])
    module = reports["module"]["functions"]
    assert len(module) >= 4 and len(reports["keras2"]["functions"]) >= 3  # traced copies of one network
    inline = next(done for f, done in module.items() if f.startswith("__inference_inline"))
    assert sorted(inline["changed"]) == ["head/Relu", "hidden/Relu"]
    assert sorted(inline["gradients"]) == ["gradient_tape/head/EluGrad", "gradient_tape/hidden/EluGrad"]
    backward = next(done for f, done in module.items() if f.startswith("__inference___backward"))
    assert backward["changed"] == [] and len(backward["gradients"]) == 2
    # Relu -> LeakyRelu: the backward function receives the activation's output where LeakyReluGrad reads its
    # input; both gradients only compare it with 0, which the output keeps (alpha >= 0)
    out = tmp_path / "leaky"
    result = CliRunner().invoke(cli, ["swap", str(tf2_models / "module_relu"), "--op", "Relu", "--to", "LeakyRelu",
                                      "--attr", "alpha=0.2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "gradients gradients/head/Relu_grad/LeakyReluGrad" in result.output
    pairs.append([str(out), str(tf2_models / "module_leaky"), str(tf2_models / "module_relu")])
    judged = _py(_TF2_JUDGE, tf2_models / "x.npy", json.dumps(pairs))
    for path, r in judged.items():
        assert not r["missing"] and ("Elu" in r["types"]) != ("LeakyRelu" in r["types"]), r
        assert "Relu" not in r["types"] and "ReluGrad" not in r["types"], r
        assert any(k.startswith("v1 ") for k in r["keys"]) and any(k.startswith("v2 ") for k in r["keys"])
        assert max(r["diff"].values()) <= 1e-6, r["diff"]
        assert r["orig_diff"] > 1e-2, path  # and the swap mattered
    assert {"v2 grads w1", "v1 grads w1", "v2 inline w1", "v2 call"} <= set(judged[pairs[0][0]]["keys"])
    assert "v2 call training" in judged[pairs[1][0]]["keys"]
    # Keras 2's load_model would rebuild the layers from keras_metadata.pb's configs (activation="relu"): said
    assert any(n.startswith("keras_metadata.pb is copied as it was") for n in reports["keras2"]["notes"])
    assert not any(n.startswith("keras_metadata.pb") for n in reports["module"]["notes"])
    loop = reports["loop"]["functions"]
    assert [done["gradients"] for f, done in loop.items() if re.fullmatch(r"while_body_\d+_grad_\d+", f)] == [
        ["gradient_tape/while/gradients/while/Relu_grad/EluGrad"]]
    assert {"v1 grads w", "v2 grads w"} <= set(judged[pairs[2][0]]["keys"])


def test_swap_refuses_a_backward_function_it_cannot_swap(tf2_models, tmp_path):
    """Softplus's gradient reads the activation's input, which the saved backward function never receives (nor
    can a LeakyRelu of negative alpha's read its output); swapping one of a forward function's two activations
    leaves its backward unable to tell which is which."""
    model = tf2_models / "module_relu"
    for extra, says in ((["--to", "Softplus"], "needs their inputs, which it does not receive"),
                        (["--to", "LeakyRelu", "--attr", "alpha=-0.5"], "needs their inputs"),
                        (["--to", "Elu", "--scope", "head"], "swapping only some of them")):
        out = tmp_path / "x"
        result = CliRunner().invoke(cli, ["swap", str(model), "--op", "Relu", *extra, "-o", str(out)])
        assert result.exit_code == 1, result.output
        assert result.output.startswith("error: function __inference___backward") and says in result.output
        assert len(result.output.strip().splitlines()) == 1 and not out.exists()
    with pytest.raises(gs.NotFoundError, match="no op type under 'nowhere' named 'Relu'"):
        swap_ops(gs.load(model), "Relu", "Elu", scope="nowhere")


def test_swap_refuses_a_gradient_body_it_cannot_tie_to_its_activations(tf2_models, monkeypatch):
    """A ReluGrad in a body no link of TensorFlow's ties to a forward body (here: the while loop's gradient body,
    its link ignored) may be the gradient of a swapped Relu: swap refuses rather than leave it as it was."""
    module = sys.modules["graphsurgeon.surgery.swap_ops"]
    g = gs.load(tf2_models / "loop_relu")
    swap_ops(g, "Relu", "Elu")
    monkeypatch.setattr(module, "_backward_functions", lambda out, function: [])
    with pytest.raises(RewriteError, match=r"function while_body_\d+_grad_\d+: .*ReluGrad' is a gradient of Relu "
                                           "computed away from its activation"):
        swap_ops(g, "Relu", "Elu")


def test_a_scope_says_which_traced_copies_it_left(tf2_models, tmp_path):
    """A Keras layer's traced call names its ops without the model's scope: a --scope swaps the copies it
    matches and names, per function, those it left, so the user sees the model's copies disagree."""
    result = CliRunner().invoke(cli, ["swap", str(tf2_models / "keras2_relu"), "--op", "Relu", "--to", "Elu",
                                      "--scope", "net/hidden", "-o", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert [done["changed"] for done in report["functions"].values()] == [["net/hidden/Relu"]]
    assert set(report["left"]) == _bodies_with(tf2_models / "keras2_relu", "Relu") - set(report["functions"])
    assert len(report["left"]) == 2 and all(ops == ["Relu"] for ops in report["left"].values())
    assert any("left as it was (outside 'net/hidden')" in note for note in report["notes"])


def test_swap_refuses_to_leave_a_fused_implementation_computing_the_old_activation(tmp_path, corpus_dir):
    """A Keras 2 LSTM saved by TensorFlow 2.12 (corpus): standard_lstm holds its tanh ops, the
    gpu_lstm_with_fallback that implements the same API holds CudnnRNN, whose tanh is built in.
    Swapping one would make the model compute differently on each device: refused, nothing written."""
    model = corpus_dir / "tfnet_keras_lstm_from_sequential"
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["swap", str(model), "--op", "Tanh", "--to", "Softsign", "-o", str(out)])
    assert result.exit_code == 1 and result.output.startswith("error: function __inference_standard_lstm_")
    assert "implement the same API (lstm_" in result.output and "0 in the second" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()
