"""The committed fixture models, checked with TensorFlow's own loaders (the oracle).

TensorFlow runs only in subprocesses: one runs every fixture through its
loader (the ``oracle`` fixture), one runs the chapter's reuse code verbatim
(it needs TF1 graph mode, a process-global switch). The pytest process itself
never imports TensorFlow, so other test files stay TF-free.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from _support import FIXTURES, ROOT

MANIFEST = FIXTURES / "manifest.json"
TEN_DIGIT = ("mnist_bn_elu_tf1", "mnist_bn_elu_resource")
TRAINING_OP = "train/training_op"
TOLERANCE = 0.0005  # 0.05 %


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


@pytest.fixture(scope="module")
def test_set(mnist_dir):
    from fixtures.mnist import load_mnist

    _, _, X_test, y_test = load_mnist(mnist_dir)
    return X_test, y_test


ORACLE_SCRIPT = textwrap.dedent(
    """
    # Runs every fixture through TensorFlow's own loader; writes arrays + facts.
    import json, sys
    import numpy as np
    import tensorflow as tf
    from fixtures.measure import checkpoint_eval
    from fixtures.mnist import load_mnist

    fixtures, out = sys.argv[1], sys.argv[2]
    _, _, X, y = load_mnist(sys.argv[3])
    arrays, facts = {}, {}
    for name in ("mnist_bn_elu_tf1", "mnist_bn_elu_resource"):
        acc, arrays[name] = checkpoint_eval(f"{fixtures}/{name}/model.ckpt", X, y)
        facts[name] = {"accuracy": acc}
    mask = y <= 4
    acc, arrays["0to4"] = checkpoint_eval(f"{fixtures}/mnist_bn_elu_0to4/model.ckpt", X[mask], y[mask])
    facts["0to4"] = {"accuracy": acc, "images": int(mask.sum())}

    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], f"{fixtures}/mnist_bn_elu_savedmodel_tf1")
        sig = meta.signature_def["serving_default"]
        facts["savedmodel_tf1"] = {"inputs": sorted(sig.inputs), "outputs": sorted(sig.outputs)}
        arrays["savedmodel_tf1"], arrays["savedmodel_tf1_probabilities"] = sess.run(
            [sig.outputs["logits"].name, sig.outputs["probabilities"].name], {sig.inputs["X"].name: X})

    loaded = tf.saved_model.load(f"{fixtures}/mnist_bn_elu_savedmodel_tf2")
    serve = loaded.signatures["serving_default"]
    few = serve(X=tf.constant(X[:16]))
    facts["savedmodel_tf2"] = {"outputs": sorted(few)}
    arrays["savedmodel_tf2_few"] = few["logits"].numpy()
    arrays["savedmodel_tf2"] = serve(X=tf.constant(X))["logits"].numpy()

    graph_def = tf.compat.v1.GraphDef()
    with open(f"{fixtures}/mnist_bn_elu_frozen.pb", "rb") as handle:
        graph_def.ParseFromString(handle.read())
    facts["frozen"] = {"op_types": sorted({node.op for node in graph_def.node})}
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            arrays["frozen"] = sess.run("logits:0", {"X:0": X})

    np.savez(out + ".npz", **arrays)
    with open(out + ".json", "w") as handle:
        json.dump(facts, handle)
    """
)


@pytest.fixture(scope="module")
def oracle(mnist_dir, tmp_path_factory):
    """What TensorFlow computes from every fixture, measured in ONE subprocess.

    A subprocess keeps TensorFlow (and its process-global state) out of the
    pytest process, so other test files stay TF-free.
    """
    tmp = tmp_path_factory.mktemp("oracle")
    script = tmp / "oracle.py"
    script.write_text(ORACLE_SCRIPT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(script), str(FIXTURES), str(tmp / "out"), str(mnist_dir)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    arrays = dict(np.load(tmp / "out.npz"))
    facts = json.loads((tmp / "out.json").read_text())
    return arrays, facts


def test_manifest_lists_every_fixture_with_matching_sha256(manifest):
    expected = {
        "mnist_bn_elu_tf1", "mnist_bn_elu_resource", "mnist_bn_elu_savedmodel_tf1",
        "mnist_bn_elu_savedmodel_tf2", "mnist_bn_elu_frozen.pb", "mnist_bn_elu_0to4",
    }
    assert set(manifest["models"]) == expected
    for name, entry in manifest["models"].items():
        assert entry["files"], name
        for rel, digest in entry["files"].items():
            assert hashlib.sha256((FIXTURES / rel).read_bytes()).hexdigest() == digest, rel
        for key in ("hyperparameters", "seed", "graph_style", "tensorflow_version",
                    "training_seconds", "test_accuracy", "test_set"):
            assert key in entry, (name, key)
    for name in TEN_DIGIT + ("mnist_bn_elu_0to4",):
        files = set(manifest["models"][name]["files"])
        assert {f"{name}/{f}" for f in ("checkpoint", "model.ckpt.meta", "model.ckpt.index",
                                        "model.ckpt.data-00000-of-00001")} == files


def test_chapter_hyperparameters_and_accuracy(manifest):
    for name in TEN_DIGIT:
        entry = manifest["models"][name]
        hp = entry["hyperparameters"]
        assert (hp["activation"], hp["init"], hp["epochs"], hp["batch_size"], hp["learning_rate"],
                hp["momentum"], hp["n_outputs"], hp["clip_norm"]) == ("elu", "he", 40, 50, 0.01, 0.9, 10, None)
        assert hp["train_images"] == 60000 and entry["test_images"] == 10000
        assert entry["test_accuracy"] >= 0.975, name
    assert manifest["models"]["mnist_bn_elu_tf1"]["graph_style"] == "tf1"
    assert manifest["models"]["mnist_bn_elu_resource"]["graph_style"] == "resource"


CHAPTER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    from fixtures.mnist import load_mnist

    tf.compat.v1.disable_eager_execution()
    _, _, X_test, y_test = load_mnist(sys.argv[1])
    results = {}
    for prefix in sys.argv[2:]:
        # --- the chapter's reuse code ---
        tf.compat.v1.reset_default_graph()
        saver = tf.compat.v1.train.import_meta_graph(prefix + ".meta")
        X = tf.compat.v1.get_default_graph().get_tensor_by_name("X:0")
        y = tf.compat.v1.get_default_graph().get_tensor_by_name("y:0")
        accuracy = tf.compat.v1.get_default_graph().get_tensor_by_name("eval/accuracy:0")
        training_op = tf.compat.v1.get_default_graph().get_operation_by_name("train/training_op")
        X2, y2, accuracy2, training_op2 = tf.compat.v1.get_collection("my_important_ops")
        with tf.compat.v1.Session() as sess:
            saver.restore(sess, prefix)
            acc = accuracy.eval(feed_dict={X: X_test, y: y_test})
            # continue training the model...
            sess.run(training_op, feed_dict={X: X_test[:50], y: y_test[:50], "training:0": True})
            acc_after_step = accuracy.eval(feed_dict={X: X_test, y: y_test})
        # ---
        results[prefix] = dict(
            accuracy=float(acc), accuracy_after_step=float(acc_after_step),
            same=[X2 is X, y2 is y, accuracy2 is accuracy, training_op2 is training_op],
            types=[isinstance(o, tf.Tensor) and "Tensor" or isinstance(o, tf.Operation) and "Operation"
               for o in (X2, y2, accuracy2, training_op2)],
            training_op_type=training_op.type,
        )
    print(json.dumps(results))
    """
)


@pytest.mark.slow
def test_chapter_reuse_code_runs_verbatim_on_both_styles(manifest, mnist_dir, tmp_path):
    script = tmp_path / "chapter_reuse.py"
    script.write_text(CHAPTER_SCRIPT)
    prefixes = [str(FIXTURES / name / "model.ckpt") for name in TEN_DIGIT]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(script), str(mnist_dir), *prefixes],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, prefix in zip(TEN_DIGIT, prefixes):
        result = results[prefix]
        assert result["same"] == [True, True, True, True], name
        assert result["types"] == ["Tensor", "Tensor", "Tensor", "Operation"]
        assert result["training_op_type"] == "NoOp"
        assert abs(result["accuracy"] - manifest["models"][name]["test_accuracy"]) <= TOLERANCE, name
        assert result["accuracy"] >= 0.975
        # One more training step with batch statistics changes little.
        assert abs(result["accuracy_after_step"] - result["accuracy"]) < 0.01


@pytest.mark.slow
@pytest.mark.parametrize("name", TEN_DIGIT)
def test_checkpoint_loads_with_import_meta_graph(name, manifest, test_set, oracle):
    arrays, facts = oracle
    acc, logits = facts[name]["accuracy"], arrays[name]
    assert abs(acc - manifest["models"][name]["test_accuracy"]) <= TOLERANCE
    assert logits.shape == (10000, 10)
    assert abs(float(np.mean(np.argmax(logits, 1) == test_set[1])) - acc) <= TOLERANCE  # in_top_k == argmax


@pytest.mark.slow
def test_checkpoint_styles_have_the_expected_op_types():
    from tensorboard.compat.proto import meta_graph_pb2

    def op_types(name):
        meta = meta_graph_pb2.MetaGraphDef()
        meta.ParseFromString((FIXTURES / name / "model.ckpt.meta").read_bytes())
        return {node.op for node in meta.graph_def.node}, meta

    tf1, tf1_meta = op_types("mnist_bn_elu_tf1")
    assert {"VariableV2", "Switch", "Merge"} <= tf1 and not {"VarHandleOp", "If", "StatelessIf"} & tf1
    assert not tf1_meta.graph_def.library.function
    resource, res_meta = op_types("mnist_bn_elu_resource")
    assert {"VarHandleOp", "ReadVariableOp"} <= resource and ({"If", "StatelessIf"} & resource)
    assert not {"VariableV2", "Switch", "Merge"} & resource
    assert res_meta.graph_def.library.function


@pytest.mark.slow
def test_base_0to4_checkpoint(manifest, test_set, oracle):
    arrays, facts = oracle
    X_test, y_test = test_set
    images = int((y_test <= 4).sum())
    acc, logits = facts["0to4"]["accuracy"], arrays["0to4"]
    entry = manifest["models"]["mnist_bn_elu_0to4"]
    assert logits.shape == (images, 5) and facts["0to4"]["images"] == images == 5139
    assert entry["hyperparameters"]["digits"] == [0, 1, 2, 3, 4] and entry["test_images"] == images
    assert "0, 1, 2, 3, 4" in entry["test_set"]
    assert abs(acc - entry["test_accuracy"]) <= TOLERANCE
    assert acc >= 0.98


@pytest.mark.slow
def test_savedmodel_tf1_loads_with_v1_loader(manifest, test_set, oracle):
    arrays, facts = oracle
    assert facts["savedmodel_tf1"] == {"inputs": ["X"], "outputs": ["logits", "probabilities"]}
    logits = arrays["savedmodel_tf1"]
    np.testing.assert_allclose(logits, arrays["mnist_bn_elu_tf1"], atol=1e-5)
    np.testing.assert_allclose(arrays["savedmodel_tf1_probabilities"].sum(axis=1), 1.0, atol=1e-5)
    acc = float(np.mean(np.argmax(logits, 1) == test_set[1]))
    assert abs(acc - manifest["models"]["mnist_bn_elu_savedmodel_tf1"]["test_accuracy"]) <= TOLERANCE


@pytest.mark.slow
def test_savedmodel_tf2_loads_with_saved_model_load(manifest, test_set, oracle):
    arrays, facts = oracle
    assert facts["savedmodel_tf2"] == {"outputs": ["logits", "probabilities"]}
    np.testing.assert_allclose(arrays["savedmodel_tf2_few"], arrays["mnist_bn_elu_tf1"][:16], atol=1e-5)
    acc = float(np.mean(np.argmax(arrays["savedmodel_tf2"], 1) == test_set[1]))
    assert abs(acc - manifest["models"]["mnist_bn_elu_savedmodel_tf2"]["test_accuracy"]) <= TOLERANCE
    assert abs(acc - facts["mnist_bn_elu_tf1"]["accuracy"]) <= TOLERANCE


@pytest.mark.slow
def test_frozen_graphdef_runs_with_import_graph_def(manifest, test_set, oracle):
    arrays, facts = oracle
    assert not {"VariableV2", "VarHandleOp", "Assign"} & set(facts["frozen"]["op_types"])  # really frozen
    # Grappler folds the frozen constants, so float rounding differs slightly.
    np.testing.assert_allclose(arrays["frozen"], arrays["mnist_bn_elu_tf1"], atol=1e-4)
    acc = float(np.mean(np.argmax(arrays["frozen"], 1) == test_set[1]))
    assert abs(acc - manifest["models"]["mnist_bn_elu_frozen.pb"]["test_accuracy"]) <= TOLERANCE
    assert abs(acc - manifest["models"]["mnist_bn_elu_tf1"]["test_accuracy"]) <= TOLERANCE
