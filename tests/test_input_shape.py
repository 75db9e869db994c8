"""edit --batch / --input-shape: the new shape carried downstream by graphsurgeon's own inference,
checked against TensorFlow (which runs the result on 1 image and refuses 2), and refused, naming the
op, when an op cannot take it (a Reshape with a hard-coded batch).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from _support import FIXTURES, ROOT
from graphsurgeon.cli.main import cli
from tf_roundtrip import roundtrip

import graphsurgeon as gs
from graphsurgeon.analysis.shapes import merge
from graphsurgeon.errors import RewriteError, UsageError
from graphsurgeon.surgery.input_shape import parse_shape

TF1 = FIXTURES / "mnist_bn_elu_tf1"


def run_cli(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    data = json.loads(result.stdout) if "--json" in args and result.exit_code == 0 else None
    return result.exit_code, result.stdout + (result.stderr or ""), data


def _tf(code: str, *args) -> str:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(["nice", "-n", "10", sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_parse_shape():
    assert parse_shape("-1,784") == (None, 784) == parse_shape("[?, 784]")
    assert parse_shape("") == () == parse_shape("[]")
    with pytest.raises(UsageError):
        parse_shape("1,x")


@pytest.fixture(scope="module")
def batch1(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batch1")
    code, text, data = run_cli("edit", TF1, "--batch", "1", "-o", tmp / "b1.meta", "--json")
    assert code == 0, text
    return tmp, data


def test_batch_1_shows_in_ls_from_input_to_output(batch1):
    tmp, data = batch1
    assert data["inputs"] == {"X:0": {"before": [None, 784], "after": [1, 784]},
                              "y:0": {"before": [None], "after": [1]}}
    assert data["outputs"]["probabilities:0"] == {"before": [None, 10], "after": [1, 10]}
    code, text, _ = run_cli("ls", tmp / "b1.meta", "X", "hidden1/MatMul", "Elu", "Elu_1", "logits", "probabilities")
    assert code == 0
    shapes = [line.split(None, 2)[2] for line in text.strip().splitlines()]
    assert shapes == ["float32 [1, 784]", "float32 [1, 300]", "float32 [1, 300]", "float32 [1, 100]",
                      "float32 [1, 10]", "float32 [1, 10]"]


RUN_BATCH = r"""
import json, sys
import numpy as np
import tensorflow as tf
v1 = tf.compat.v1
meta, ckpt = sys.argv[1:3]
out = {}
g = tf.Graph()
with g.as_default(), v1.Session(graph=g) as s:
    v1.train.import_meta_graph(meta).restore(s, ckpt)
    out["one"] = list(s.run("logits:0", {"X:0": np.zeros((1, 784), np.float32)}).shape)
    try:
        s.run("logits:0", {"X:0": np.zeros((2, 784), np.float32)})
        out["two"] = "ran"
    except ValueError as e:
        out["two"] = str(e)
print(json.dumps(out))
"""


def test_tensorflow_runs_one_image_and_refuses_two(batch1):
    tmp, _ = batch1
    out = json.loads(_tf(RUN_BATCH, tmp / "b1.meta", TF1 / "model.ckpt"))
    assert out["one"] == [1, 10]
    assert out["two"] == "Cannot feed value of shape (2, 784) for Tensor X:0, which has shape (1, 784)"


def test_our_shapes_agree_with_tensorflows_inference(batch1, tmp_path):
    """TensorFlow's own shape functions on the edited graph (its _output_shapes stripped) never contradict ours."""
    tmp, _ = batch1
    out = tmp_path / "tf.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(["nice", "-n", "10", sys.executable, str(ROOT / "tests" / "tf_oracle.py"),
                           str(tmp / "b1.meta"), "--kind", "meta", "--out", str(out)], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tf_ops = {op["name"]: op for op in json.loads(out.read_text())["ops"]}
    g = gs.load(tmp / "b1.meta")
    checked = 0
    for name, op in tf_ops.items():
        ours = g.shapes.get(name)
        for mine, theirs, recorded in zip(ours, op["inferred_shapes"], op["shapes"]):
            if mine is None or theirs is None:
                continue
            theirs = tuple(theirs)
            assert merge(tuple(mine), theirs) is not None and len(mine) == len(theirs), (name, mine, theirs)
            assert tuple(recorded) == tuple(mine) or None in mine, (name, mine, recorded)
            checked += 1
    assert checked > 300
    assert tf_ops["logits"]["inferred_shapes"] == [[1, 10]]


HARD_RESHAPE = r"""
import json, sys
import numpy as np
import tensorflow as tf
v1 = tf.compat.v1
v1.disable_eager_execution()
X = v1.placeholder(tf.float32, [None, 784], name="X")
images = tf.reshape(X, [32, 28, 28, 1], name="images")
pooled = tf.reduce_mean(images, axis=[1, 2, 3], name="pooled")
v1.train.export_meta_graph(sys.argv[1])
with v1.Session() as s:
    try:
        s.run(pooled, {X: np.zeros((1, 784), np.float32)})
        print("ran")
    except tf.errors.InvalidArgumentError as e:
        print(json.dumps(e.message))
"""


def test_a_reshape_with_a_hard_batch_is_named(tmp_path):
    meta = tmp_path / "hard.meta"
    tf_says = _tf(HARD_RESHAPE, meta)
    assert "Input to reshape is a tensor with 784 values, but the requested shape has 25088" in tf_says
    code, text, _ = run_cli("edit", meta, "--batch", "1", "-o", tmp_path / "b1.meta")
    assert code == 1 and not (tmp_path / "b1.meta").exists()
    assert text.startswith("error: cannot give X:0 [1, 784]: Reshape 'images' cannot turn its input [1, 784] "
                           "(784 elements) into [32, 28, 28, 1], a constant shape (images/shape)"), text
    code, text, data = run_cli("edit", meta, "--batch", "32", "-o", tmp_path / "b32.meta", "--json")
    assert code == 0, text
    assert gs.load(tmp_path / "b32.meta").tensor("pooled:0").shape == (32,)


def test_a_fixed_batch_becomes_dynamic_and_tensorflow_runs_another(corpus_dir, tmp_path):
    model = corpus_dir / "gknoblau_v1_ckpt"
    code, text, data = run_cli("edit", model / "model.ckpt.meta", "--input-shape", "Placeholder:0=-1,4",
                               "-o", tmp_path / "dyn.meta", "--json")
    assert code == 0, text
    g = gs.load(tmp_path / "dyn.meta")
    assert g.tensor("Relu_1:0").shape == (None, 2) and g.tensor("Placeholder_1:0").shape == (32, 2)
    np.save(tmp_path / "x.npy", np.ones((5, 4), np.float32))
    (result,) = roundtrip([{"model": str(tmp_path / "dyn.meta"), "kind": "meta", "checkpoint": str(model / "model.ckpt"),
                            "run": {"feeds": {"Placeholder:0": str(tmp_path / "x.npy")}, "fetches": ["Relu_1:0"]}}],
                          tmp_path)
    assert "error" not in result, result["error"]
    assert np.asarray(result["values"]["Relu_1:0"]).shape == (5, 2)


def test_signature_shapes_follow_and_the_savedmodel_serves_batch_1(tmp_path):
    code, text, _ = run_cli("edit", FIXTURES / "mnist_bn_elu_savedmodel_tf1", "--batch", "1", "-o", tmp_path / "b1")
    assert code == 0, text
    g = gs.load(tmp_path / "b1")
    sig = g.signatures["serving_default"]
    assert sig["inputs"]["X"]["shape"] == [1, 784] and sig["outputs"]["logits"]["shape"] == [1, 10]
    np.save(tmp_path / "x.npy", np.zeros((1, 784), np.float32))
    (result,) = roundtrip([{"model": str(tmp_path / "b1"), "kind": "savedmodel", "v2": True,
                            "run": {"feeds": {"X:0": str(tmp_path / "x.npy")}, "fetches": ["probabilities:0"]}}],
                          tmp_path)
    assert "error" not in result, result["error"]
    assert np.asarray(result["values"]["probabilities:0"]).shape == (1, 10)


def test_what_set_input_shape_refuses():
    g = gs.load(TF1)
    with pytest.raises(UsageError, match="not a placeholder"):
        gs.set_input_shape(g, {"hidden1/MatMul:0": (1, 300)})
    with pytest.raises(gs.NotFoundError, match="did you mean 'X:0'"):
        gs.set_input_shape(g, {"x:0": (1, 784)})
    with pytest.raises(RewriteError, match=r"MatMul 'hidden1/MatMul' multiplies \[1, 785\] by \[784, 300\]"):
        gs.set_input_shape(g, {"X:0": "1,785"})
    with pytest.raises(UsageError, match="positive"):
        gs.set_batch(g, 0)
    before = g.tensor("X:0").shape
    one, changes = gs.set_batch(g, 1)
    assert g.tensor("X:0").shape == before and one.tensor("X:0").shape == (1, 784)
    assert changes.details["skipped"] == ["training:0"]
    back, _ = gs.set_batch(one, -1)
    assert back.tensor("logits:0").shape == (None, 10)


def test_a_tf2_savedmodel_gets_its_top_level_batch_and_says_so(tmp_path):
    code, text, data = run_cli("edit", FIXTURES / "mnist_bn_elu_savedmodel_tf2", "--batch", "1", "-o", tmp_path / "b1",
                               "--json")
    assert code == 0, text
    assert data["inputs"] == {"serving_default_X:0": {"before": [None, 784], "after": [1, 784]}}
    assert data["outputs"]["StatefulPartitionedCall:0"] == {"before": [None, 10], "after": [1, 10]}
    assert any("tf.saved_model.load calls are left as they are" in n for n in data["notes"])
    assert gs.load(tmp_path / "b1").signatures["serving_default"]["inputs"]["X"]["shape"] == [1, 784]
