"""fixtures.train: the trainer reproduces the committed fixtures' graph structure.

Retraining runs in a subprocess (the graph style is process-global). The quick
retrain is one epoch on the first 5,000 training images with batch size 50 and
learning rate 0.5 (seed 42): the chapter's 0.01 needs more steps than one short
epoch gives to pass 90 %; the learning rate is a constant in the graph, so the
graph structure is the same as the fixture's.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _support import FIXTURES, ROOT

QUICK = ["--epochs", "1", "--train-limit", "5000", "--batch-size", "50", "--lr", "0.5", "--seed", "42"]


def _meta(path: Path):
    from tensorboard.compat.proto import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString(path.read_bytes())
    return meta


def _ops(meta) -> set[tuple[str, str]]:
    return {(node.name, node.op) for node in meta.graph_def.node}


def _function_ops(meta) -> set[tuple[str, str]]:
    return {(node.name, node.op) for f in meta.graph_def.library.function for node in f.node_def}


def _train(tmp_path: Path, mnist_dir, *args: str) -> tuple[subprocess.CompletedProcess, dict]:
    metrics = tmp_path / "metrics.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "fixtures.train", "--data", str(mnist_dir), "--out", str(tmp_path / "model"),
         "--metrics-json", str(metrics), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads(metrics.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("style", ["tf1", "resource"])
def test_quick_retrain_gives_the_fixture_graph(style, tmp_path, mnist_dir):
    proc, metrics = _train(tmp_path, mnist_dir, "--graph-style", style, *QUICK)
    assert metrics["test_accuracy"] >= 0.90
    assert metrics["hyperparameters"]["train_images"] == 5000
    # Piped stderr: at most one progress line per epoch, no progress bar.
    assert "\r" not in proc.stderr
    assert sum(line.startswith("epoch ") for line in proc.stderr.splitlines()) == 1
    fixture = "mnist_bn_elu_tf1" if style == "tf1" else "mnist_bn_elu_resource"
    ours = _meta(tmp_path / "model" / "model.ckpt.meta")
    committed = _meta(FIXTURES / fixture / "model.ckpt.meta")
    assert _ops(ours) == _ops(committed)
    assert _function_ops(ours) == _function_ops(committed)
    assert set(ours.collection_def) == set(committed.collection_def)
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "checkpoint", "model.ckpt.data-00000-of-00001", "model.ckpt.index", "model.ckpt.meta"]


@pytest.mark.slow
def test_quick_retrain_is_deterministic(tmp_path, mnist_dir):
    first = tmp_path / "a"
    second = tmp_path / "b"
    first.mkdir(), second.mkdir()
    _, m1 = _train(first, mnist_dir, *QUICK, "--epochs", "1", "--train-limit", "1000")
    _, m2 = _train(second, mnist_dir, *QUICK, "--epochs", "1", "--train-limit", "1000")
    assert m1["test_accuracy"] == m2["test_accuracy"]
    data = "model.ckpt.data-00000-of-00001"
    assert (first / "model" / data).read_bytes() == (second / "model" / data).read_bytes()


def test_fixture_names_and_collections():
    """The names other issues depend on, read from the committed .meta (no TF)."""
    meta = _meta(FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt.meta")
    ops = dict((name, op) for name, op in _ops(meta))
    expected = {
        "X": "Placeholder", "y": "Placeholder", "training": "PlaceholderWithDefault",
        "Elu": "Elu", "Elu_1": "Elu", "logits": "Identity", "probabilities": "Softmax",
        "loss/xentropy/xentropy": "SparseSoftmaxCrossEntropyWithLogits", "loss/loss": "Mean",
        "eval/accuracy": "Mean", "eval/in_top_k/InTopKV2": "InTopKV2", "train/training_op": "NoOp", "init": "NoOp",
    }
    for scope in ("hidden1", "hidden2", "outputs"):
        expected.update({f"{scope}/kernel": "VariableV2", f"{scope}/bias": "VariableV2",
                         f"{scope}/MatMul": "MatMul", f"{scope}/BiasAdd": "BiasAdd"})
    for scope in ("batch_normalization", "batch_normalization_1", "batch_normalization_2"):
        for var in ("gamma", "beta", "moving_mean", "moving_variance"):
            expected[f"{scope}/{var}"] = "VariableV2"
        expected[f"{scope}/cond/Merge"] = "Merge"
    for name, op in expected.items():
        assert ops.get(name) == op, name
    assert not any(name.startswith("Relu") or name.startswith("LeakyRelu") for name in ops)
    assert not any(name.startswith(("Elu_2", "hidden1/Elu")) for name in ops)
    X = meta.graph_def.node[[n.name for n in meta.graph_def.node].index("X")]
    assert [d.size for d in X.attr["shape"].shape.dim] == [-1, 784]

    collections = meta.collection_def
    assert list(collections["my_important_ops"].node_list.value) == [
        "X:0", "y:0", "eval/accuracy:0", "train/training_op"]
    assert len(collections["update_ops"].node_list.value) == 6
    from tensorboard.compat.proto import variable_pb2

    def variables(key):
        out = []
        for raw in collections[key].bytes_list.value:
            var = variable_pb2.VariableDef()
            var.ParseFromString(raw)
            out.append(var.variable_name)
        return out

    trainable = variables("trainable_variables")
    moving = variables("moving_average_variables")
    assert len(trainable) == 12 and not any("moving" in v for v in trainable)
    assert sorted(moving) == sorted(f"{s}/{v}:0" for s in ("batch_normalization", "batch_normalization_1",
                                                            "batch_normalization_2")
                                    for v in ("moving_mean", "moving_variance"))
    assert set(moving) <= set(variables("variables"))


OPTION_CASES = [
    (dict(activation="relu"), {"Relu", "Relu_1"}, {"Elu"}),
    (dict(activation="leaky_relu", leaky_alpha=0.3), {"LeakyRelu", "LeakyRelu_1"}, {"Elu"}),
    (dict(clip_norm=1.0), {"train/clip_by_norm", "train/training_op"}, set()),
    (dict(init="xavier"), {"hidden1/kernel/Initializer/random_uniform"},
     {"hidden1/kernel/Initializer/truncated_normal"}),
]

BUILD_SCRIPT = """
import json, sys
import tensorflow as tf
from fixtures.train import build_graph

results = []
for options in json.loads(sys.argv[1]):
    graph = tf.Graph()
    with graph.as_default():
        handles = build_graph(tf, **options)
    alpha = (graph.get_operation_by_name("LeakyRelu").get_attr("alpha")
             if options.get("activation") == "leaky_relu" else None)
    results.append(dict(names=sorted(op.name for op in graph.get_operations()),
                        training_op=handles["training_op"].name, alpha=alpha))
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def built_graphs():
    """Graph building only (no training) for each option set, in one subprocess (keeps TF out of pytest)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    options = json.dumps([case[0] for case in OPTION_CASES])
    proc = subprocess.run([sys.executable, "-c", BUILD_SCRIPT, options], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(OPTION_CASES)))
def test_build_graph_options(index, built_graphs):
    options, present, absent = OPTION_CASES[index]
    result = built_graphs[index]
    names = set(result["names"])
    assert present <= names and not (absent & names)
    assert result["training_op"] == "train/training_op"
    if options.get("activation") == "leaky_relu":
        assert result["alpha"] == pytest.approx(0.3)


def test_bad_option_is_a_one_line_error(tmp_path, mnist_dir):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "fixtures.train", "--data", str(mnist_dir), "--digits", "3-12",
         "--out", str(tmp_path / "m")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr
    assert "--digits" in proc.stderr
