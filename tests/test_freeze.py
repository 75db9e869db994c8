"""freeze against TensorFlow: the frozen graph computes what the restored original computes."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

import graphsurgeon as gs
from conftest import FIXTURES, MNIST_DIR
from graphsurgeon.cli.main import cli
from graphsurgeon.errors import NotFoundError, RewriteError
from graphsurgeon.surgery.freeze import freeze

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

MANIFEST = FIXTURES / "manifest.json"
FORBIDDEN = {"VariableV2", "Variable", "VarHandleOp", "ReadVariableOp", "Switch", "Merge", "If",
             "StatelessIf", "SaveV2", "RestoreV2", "Assign", "AssignVariableOp", "ApplyGradientDescent"}

# (fixture, outputs or None for the signature's)
FIXTURE_CASES = [
    ("mnist_bn_elu_tf1", ["logits:0"]),
    ("mnist_bn_elu_resource", ["logits:0"]),
    ("mnist_bn_elu_savedmodel_tf1", None),
    ("mnist_bn_elu_savedmodel_tf2", None),
]


def _manifest() -> dict:
    return json.loads(MANIFEST.read_text())["models"] if MANIFEST.is_file() else {}


def _fixture(name: str) -> Path:
    models = _manifest()
    if not models:
        pytest.skip("fixture models not built yet")
    if name not in models:
        pytest.fail(f"manifest.json does not list {name}")
    return FIXTURES / name


def run_cli(*args) -> tuple[int, str, dict | None]:
    """The command line in a fresh process: TensorFlow never enters this test process."""
    import subprocess
    import sys

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if MNIST_DIR is not None:
        env["GS_MNIST_DIR"] = str(MNIST_DIR)  # --verify feeds the real test images
    proc = subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=600, env=env)
    data = None
    if "--json" in args and "{" in proc.stdout:
        data = json.loads(proc.stdout[proc.stdout.index("{"):])
    return proc.returncode, proc.stdout + proc.stderr, data


def _check_frozen(frozen):
    types = Counter(op.type for op in frozen)
    assert not FORBIDDEN & set(types), FORBIDDEN & set(types)
    assert not [op.name for op in frozen if op.name.startswith(("train/", "gradients/", "save/"))]


@pytest.mark.parametrize("name,outputs", FIXTURE_CASES, ids=[c[0] for c in FIXTURE_CASES])
def test_fixture_freezes_to_the_same_logits(name, outputs, mnist_dir, tmp_path):
    path = _fixture(name)
    g = gs.load(path)
    frozen, changes = freeze(g, outputs=outputs)
    _check_frozen(frozen)
    reference = gs.load(FIXTURES / "mnist_bn_elu_frozen.pb")
    assert len(frozen) <= len(reference)  # TensorFlow's convert_variables_to_constants keeps its conds
    assert len(changes.changed) == 18  # every variable of the model became a constant
    out = tmp_path / "frozen.pb"
    args = ["--outputs", ",".join(outputs)] if outputs else []
    code, text, data = run_cli("freeze", path, *args, "-o", out, "--verify", "--tolerance", "1e-6", "--json")
    assert code == 0, text
    verify = data["verify"]
    assert verify["inputs"].startswith("MNIST"), verify["inputs"]
    assert verify["ok"] and max(verify["max_abs_diff"].values()) <= 1e-6, verify
    expected = _manifest()[name]["test_accuracy"]
    assert verify["accuracy"] and all(abs(a - expected) < 1e-6 for a in verify["accuracy"].values())
    written = gs.load(out)
    assert len(written) == len(frozen)


def test_set_pins_training_to_true(mnist_dir, tmp_path):
    """--set training=true keeps the training branch (batch statistics) and matches TF fed True."""
    g = gs.load(_fixture("mnist_bn_elu_tf1"))
    frozen, _ = freeze(g, outputs=["logits:0"], set_values={"training": True})
    _check_frozen(frozen)
    assert frozen.ops(type="Mean")  # the moments of the training branch
    code, text, data = run_cli("freeze", FIXTURES / "mnist_bn_elu_tf1", "--outputs", "logits:0", "--set",
                               "training=true", "-o", tmp_path / "t.pb", "--verify", "--json")
    assert code == 0 and data["verify"]["ok"], text
    default, _ = freeze(g, outputs=["logits:0"])
    assert not default.ops(type="Mean")


CORPUS_CASES = [
    ("serving_half_plus_two_cpu", []),
    ("serving_half_plus_two_cpu", ["--signature", "regress_x2_to_y3"]),
    ("serving_half_plus_two_tf2_cpu", []),
    ("serving_half_plus_two_tf2_cpu", ["--signature", "regress_x_to_y"]),
    ("tf2onnx_regression_ckpt", ["--outputs", "pred"]),
    ("gknoblau_v1_ckpt", ["--outputs", "Relu_1"]),
    ("serving_session_bundle_half_plus_two", ["--outputs", "Identity:0"]),
]


@pytest.mark.parametrize("model,args", CORPUS_CASES, ids=[f"{m}{''.join(a[1:2])}" for m, a in CORPUS_CASES])
def test_corpus_freezes_and_verifies(model, args, corpus_dir, tmp_path):
    out = tmp_path / "frozen.pb"
    code, text, data = run_cli("freeze", corpus_dir / model, *args, "-o", out, "--verify", "--tolerance", "1e-6",
                               "--json")
    assert code == 0, text
    assert data["verify"]["ok"] and data["frozen"]
    frozen = gs.load(out)
    _check_frozen(frozen)


def _cli(args):
    return CliRunner().invoke(cli, args)


def test_unknown_output_fails_and_writes_nothing(tmp_path):
    out = tmp_path / "f.pb"
    result = _cli(["freeze", str(_fixture("mnist_bn_elu_tf1")), "--outputs", "logitz:0", "-o", str(out)])
    assert result.exit_code == 1
    assert result.output.strip().count("\n") == 0 and "logitz" in result.output and "logits:0" in result.output
    assert not out.exists()


def test_mismatched_checkpoint_fails_and_writes_nothing(tmp_path, corpus_dir):
    out = tmp_path / "f.pb"
    # Another model's checkpoint: the fixture's variables are not in it.
    result = _cli(["freeze", str(_fixture("mnist_bn_elu_tf1")), "--outputs", "logits:0", "-o", str(out),
                   "--checkpoint", str(corpus_dir / "tf2onnx_regression_ckpt" / "model")])
    assert result.exit_code == 1 and "error:" in result.output and "checkpoint" in result.output
    assert not out.exists()


def test_checkpoint_with_other_shapes_is_refused():
    # mnist_bn_elu_0to4 has 5 outputs: same names, other shapes.
    g = gs.load(_fixture("mnist_bn_elu_tf1"))
    other = FIXTURES / "mnist_bn_elu_0to4" / "model.ckpt"
    with pytest.raises(RewriteError, match="does not match"):
        freeze(g, checkpoint=str(other), outputs=["logits:0"])


_DROP_ONE = r"""
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
src, dest, drop = sys.argv[1:]
reader = tf.train.load_checkpoint(src)
names = sorted(k for k in reader.get_variable_to_shape_map() if k != drop)
tf.raw_ops.SaveV2(prefix=dest, tensor_names=names, shape_and_slices=[""] * len(names),
                  tensors=[tf.constant(reader.get_tensor(k)) for k in names])
"""


def test_missing_variable_is_named(tmp_path):
    import subprocess
    import sys

    src = FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt"
    _fixture("mnist_bn_elu_tf1")
    dest = tmp_path / "partial"
    subprocess.run([sys.executable, "-c", _DROP_ONE, str(src), str(dest), "outputs/bias"], check=True,
                   timeout=300)
    g = gs.load(FIXTURES / "mnist_bn_elu_tf1")
    with pytest.raises(NotFoundError, match="outputs/bias"):
        freeze(g, checkpoint=str(dest), outputs=["logits:0"])
    # What the outputs do not need is never looked up: hidden1 alone freezes from it.
    frozen, _ = freeze(g, checkpoint=str(dest), outputs=["hidden1/MatMul:0"])
    assert frozen.op("hidden1/kernel").type == "Const"
    out = tmp_path / "f.pb"
    result = _cli(["freeze", str(FIXTURES / "mnist_bn_elu_tf1"), "--checkpoint", str(dest), "--outputs",
                   "logits:0", "-o", str(out)])
    assert result.exit_code == 1 and "outputs/bias" in result.output and not out.exists()


def test_no_checkpoint_is_a_clear_error(tmp_path):
    frozen_ref = gs.load(_fixture("mnist_bn_elu_tf1"))
    meta_only = tmp_path / "model.meta"
    meta_only.write_bytes((FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt.meta").read_bytes())
    g = gs.load(meta_only)
    with pytest.raises(RewriteError, match="no checkpoint"):
        freeze(g, outputs=["logits:0"])
    del frozen_ref


def test_frozen_text_output_round_trips(tmp_path):
    out = tmp_path / "f.pbtxt"
    result = _cli(["freeze", str(_fixture("mnist_bn_elu_tf1")), "--outputs", "logits", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("node")
    g = gs.load(out)
    assert g.op("logits").type == "Identity" and g.op("hidden1/kernel").type == "Const"


def test_verify_keeps_stderr_clean(tmp_path):
    """TensorFlow's start-up chatter (oneDNN notes, the CUDA driver's "failed call
    to cuInit" on a machine without a GPU) is not the command's to print."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP_", "GRAPHSURGEON_DEBUG"))}
    proc = subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", "freeze", str(_fixture("mnist_bn_elu_tf1")),
                           "--outputs", "logits", "-o", str(tmp_path / "f.pb"), "--verify"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
