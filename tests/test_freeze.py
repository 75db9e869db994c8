"""freeze against TensorFlow: the frozen graph computes what the restored original computes."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from _support import FIXTURES, MNIST_DIR
from graphsurgeon.cli.main import cli

import graphsurgeon as gs
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
    # Only our own note on where the inputs come from (see the next test).
    assert [line for line in proc.stderr.splitlines() if not line.startswith("verifying on ")] == [], proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


def _verify_env(tmp_path, mnist=None) -> dict:
    """No GS_MNIST_DIR; an empty trainer cache, or one holding the MNIST test files of ``mnist``."""
    env = {k: v for k, v in os.environ.items() if k not in ("GS_MNIST_DIR", "GRAPHSURGEON_DEBUG")}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", GS_CACHE_DIR=str(tmp_path / "cache"))
    (tmp_path / "cache" / "mnist").mkdir(parents=True)
    if mnist is not None:
        for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
            (tmp_path / "cache" / "mnist" / name).symlink_to(Path(mnist) / name)
    return env


def test_verify_says_where_its_inputs_come_from_and_why(tmp_path):
    import subprocess
    import sys

    args = [sys.executable, "-m", "graphsurgeon.cli.main", "freeze", str(_fixture("mnist_bn_elu_tf1")),
            "--outputs", "logits", "-o", str(tmp_path / "f.pb"), "--verify"]
    proc = subprocess.run(args + ["--json"], capture_output=True, text=True, timeout=600, env=_verify_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    # Piped stderr: the note alone, no status line.
    assert proc.stderr == "verifying on 16 random inputs (seed 0): no MNIST test set found (set GS_MNIST_DIR)\n"
    verify = json.loads(proc.stdout)["verify"]
    assert verify["inputs"] == "random (seed 0)"
    assert verify["inputs_reason"] == "no MNIST test set found (set GS_MNIST_DIR)"
    # A GraphDef whose input is not an image batch: MNIST is not mentioned (issue 22.7: only where relevant).
    from graphsurgeon.training import inputs as runtime

    made = runtime.make_inputs([runtime.InputSpec("x:0", "float32", (None, 3))], seed=1)
    assert made.describe() == "16 random inputs (seed 1)" and made.reason is None
    made = runtime.make_inputs([runtime.InputSpec("x:0", "float32", (None, 784))], mnist_dir=tmp_path / "none")
    from graphsurgeon.cache import cache_root

    if made.labels is None:   # unless this machine's cache holds MNIST
        assert made.reason == f"no MNIST test set found (not in {tmp_path / 'none'}, {cache_root() / 'mnist'})"


def test_verify_finds_mnist_in_the_trainers_cache(tmp_path, mnist_dir):
    """Without GS_MNIST_DIR, the cache fixtures.train downloads to is used (and said)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", "freeze", str(_fixture("mnist_bn_elu_tf1")),
                           "--outputs", "logits", "-o", str(tmp_path / "f.pb"), "--verify", "--json"],
                          capture_output=True, text=True, timeout=600, env=_verify_env(tmp_path, mnist_dir))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "verifying on the MNIST test set (10,000 images)\n"
    verify = json.loads(proc.stdout)["verify"]
    assert verify["inputs"].startswith("MNIST") and verify["inputs_reason"] is None and verify["accuracy"]


def _on_a_terminal(fn):
    """Run ``fn`` with sys.stderr on a pseudo-terminal; what the terminal received."""
    import pty
    import sys

    master, slave = pty.openpty()
    saved = sys.stderr
    sys.stderr = open(slave, "w", closefd=False)
    try:
        fn()
        sys.stderr.flush()
    finally:
        sys.stderr = saved
    import select

    os.close(slave)
    out = b""
    while select.select([master], [], [], 0.2)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return out.decode()


def test_status_line_shows_slow_steps_on_a_terminal_only():
    import time

    from graphsurgeon.cli.common import StatusLine

    def slow():
        with StatusLine(delay=0.2, interval=0.05) as status:
            status.progress("inputs", "verifying on 16 random inputs")
            status.progress("step", "loading TensorFlow")
            time.sleep(0.5)
            status.progress("step", "running the result")
            time.sleep(0.3)

    seen = _on_a_terminal(slow)
    assert seen.startswith("verifying on 16 random inputs\r\n"), repr(seen)
    assert "\rloading TensorFlow ... 0 s\x1b[K" in seen and "\rrunning the result ... " in seen, repr(seen)
    assert seen.endswith("\r\x1b[K"), repr(seen)   # cleared at the end

    def quick():
        with StatusLine(delay=5) as status:
            status.set("loading TensorFlow")
            time.sleep(0.2)

    assert _on_a_terminal(quick) == ""                 # nothing for work under the delay

    def disabled():
        with StatusLine(enabled=False, delay=0) as status:   # --json
            status.set("loading TensorFlow")
            time.sleep(0.3)

    assert _on_a_terminal(disabled) == ""
