"""export against TensorFlow: the SavedModel it writes loads with both of TensorFlow's loaders, serves
what the original computes (restored from its checkpoint), and saved_model_cli lists its signature.

TensorFlow runs only in subprocesses (tests/tf_serving.py); this process stays TensorFlow-free, and
one test runs export, signatures and edit with TensorFlow impossible to import.
"""
from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from _support import FIXTURES, ROOT, fixture_model
from graphsurgeon.cli.main import cli

import graphsurgeon as gs
from graphsurgeon.errors import AmbiguousError, RewriteError

ORACLE = ROOT / "tests" / "tf_serving.py"
TOLERANCE = 1e-6


def run_cli(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    data = None
    if "--json" in args and result.exit_code == 0:
        data = json.loads(result.stdout)
    return result.exit_code, result.stdout + (result.stderr or ""), data


def run_oracle(jobs: list, tmp_path: Path) -> list:
    jobs_file, out_file = tmp_path / "jobs.json", tmp_path / "out.json"
    jobs_file.write_text(json.dumps(jobs))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(["nice", "-n", "10", sys.executable, str(ORACLE), str(jobs_file), str(out_file)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out_file.read_text())
    for job, result in zip(jobs, results):
        assert "error" not in result, f"{job['saved_model']}: {result['error']}"
    return results


def _check_cli_listing(result: dict, inputs: dict, outputs: list, signature="serving_default"):
    text = result["cli"]
    assert result["cli_status"] == 0, text
    assert "MetaGraphDef with tag-set: 'serve' contains the following SignatureDefs:" in text
    assert f"signature_def['{signature}']:" in text
    for key, name in inputs.items():
        assert f"inputs['{key}'] tensor_info:" in text and f"name: {name}" in text
    for key in outputs:
        assert f"outputs['{key}'] tensor_info:" in text
    assert "Method name is: tensorflow/serving/predict" in text


# ---------------------------------------------------------------- the fixtures' .meta files
FIXTURE_METAS = {"mnist_bn_elu_tf1": 10, "mnist_bn_elu_resource": 10, "mnist_bn_elu_0to4": 5}


@pytest.fixture(scope="module")
def fixture_exports(tmp_path_factory, mnist_dir):
    from fixtures.mnist import load_mnist

    tmp = tmp_path_factory.mktemp("fixture_exports")
    images = load_mnist(mnist_dir)[2]
    np.save(tmp / "X.npy", images)
    jobs, written = [], {}
    for name in FIXTURE_METAS:
        model = fixture_model(name)
        out = tmp / name / "1"
        code, text, data = run_cli("export", model, "--input", "X:0", "--output", "logits:0", "--output",
                                   "probabilities:0", "-o", out, "--json")
        assert code == 0, text
        written[name] = data
        jobs.append({"saved_model": str(out), "tags": ["serve"], "signature": "serving_default",
                     "inputs": {"X": str(tmp / "X.npy")}, "cli": True,
                     "reference": {"meta": str(model / "model.ckpt.meta"), "checkpoint": str(model / "model.ckpt"),
                                   "feeds": {"X": "X:0"},
                                   "fetches": {"logits": "logits:0", "probabilities": "probabilities:0"}}})
    results = run_oracle(jobs, tmp)
    return {name: (written[name], result, len(images)) for name, result in zip(FIXTURE_METAS, results)}


@pytest.mark.parametrize("name", sorted(FIXTURE_METAS))
def test_fixture_export_serves_the_same_logits(name, fixture_exports):
    data, result, count = fixture_exports[name]
    classes = FIXTURE_METAS[name]
    for loader in ("v1", "v2"):
        assert set(result[loader]) == {"logits", "probabilities"}
        assert max(result[loader].values()) <= TOLERANCE, (loader, result[loader])
    assert result["shapes"]["logits"] == [count, classes]
    _check_cli_listing(result, {"X": "X:0"}, ["logits", "probabilities"])
    assert data["signatures"]["serving_default"]["outputs"]["logits"] == {
        "name": "logits:0", "dtype": "float32", "shape": [None, classes]}
    assert data["saver"] == "new" and data["variables"] == 18 and data["checkpoint_format"] == "V2"
    assert data["pinned"] == ["training"]


def test_fixture_export_is_pruned_and_copies_the_checkpoint_byte_for_byte(fixture_exports):
    data, _, _ = fixture_exports["mnist_bn_elu_tf1"]
    out = Path(data["output"])
    assert sorted(p.name for p in out.iterdir()) == ["saved_model.pb", "variables"]
    source = FIXTURES / "mnist_bn_elu_tf1"
    assert filecmp.cmp(out / "variables" / "variables.index", source / "model.ckpt.index", shallow=False)
    assert filecmp.cmp(out / "variables" / "variables.data-00000-of-00001",
                       source / "model.ckpt.data-00000-of-00001", shallow=False)
    g = gs.load(out)
    assert g.format == "savedmodel" and g.model.tag_sets == [["serve"]]
    assert not g.ops("train/") and "training" not in g
    assert not [op for op in g if op.type.startswith("Apply")]
    assert g.meta_graph.saver_def.restore_op_name == "save/restore_all"
    assert g.meta_graph.saver_def.version == 2
    assert data["ops"]["after"] == len(g) < data["ops"]["before"]


# ---------------------------------------------------------------- other people's .meta models
@pytest.fixture(scope="module")
def corpus_exports(tmp_path_factory, corpus_dir):
    tmp = tmp_path_factory.mktemp("corpus_exports")
    rng = np.random.RandomState(0)
    cases = {
        "serving_session_bundle_half_plus_two": ("export.meta", "export-?????-of-00001", "x:0", "y:0", (5, 1)),
        "tf2onnx_regression_ckpt": ("model.meta", "model", "X:0", "pred:0", (7,)),
        "gknoblau_v1_ckpt": ("model.ckpt.meta", "model.ckpt", "Placeholder:0", "Relu_1:0", (32, 4)),
    }
    jobs, written = [], {}
    for folder, (meta, prefix, x, y, shape) in cases.items():
        out = tmp / folder / "1"
        code, text, data = run_cli("export", corpus_dir / folder / meta, "--input", x, "--output", y, "-o", out,
                                   "--json")
        assert code == 0, text
        written[folder] = data
        key_in, key_out = x.split(":")[0], y.split(":")[0]
        np.save(tmp / f"{folder}.npy", rng.rand(*shape).astype(np.float32))
        jobs.append({"saved_model": str(out), "tags": ["serve"], "signature": "serving_default",
                     "inputs": {key_in: str(tmp / f"{folder}.npy")}, "cli": True,
                     "reference": {"meta": str(corpus_dir / folder / meta), "checkpoint": str(corpus_dir / folder / prefix),
                                   "feeds": {key_in: x}, "fetches": {key_out: y}}})
    results = run_oracle(jobs, tmp)
    return {folder: (written[folder], result, cases[folder]) for folder, result in zip(cases, results)}


@pytest.mark.parametrize("folder", ["serving_session_bundle_half_plus_two", "tf2onnx_regression_ckpt",
                                    "gknoblau_v1_ckpt"])
def test_corpus_meta_export_serves_what_the_original_computes(folder, corpus_exports):
    data, result, (_, _, x, y, _) = corpus_exports[folder]
    key_in, key_out = x.split(":")[0], y.split(":")[0]
    assert result["v1"][key_out] <= TOLERANCE and result["v2"][key_out] <= TOLERANCE, result
    _check_cli_listing(result, {key_in: x}, [key_out])


def test_v1_checkpoints_are_converted_and_v2_copied(corpus_exports, corpus_dir):
    from graphsurgeon.formats.bundle import BundleReader
    from graphsurgeon.formats.checkpoint import open_checkpoint
    from graphsurgeon.metagraph.saver import restores

    for folder, fmt in (("gknoblau_v1_ckpt", "V1"), ("serving_session_bundle_half_plus_two", "V1"),
                        ("tf2onnx_regression_ckpt", "V2")):
        data, _, (_, prefix, _, _, _) = corpus_exports[folder]
        assert data["checkpoint_format"] == fmt
        out = Path(data["output"]) / "variables" / "variables"
        source = corpus_dir / folder / prefix
        if fmt == "V2":
            assert filecmp.cmp(str(out) + ".index", str(source) + ".index", shallow=False)
            continue
        assert any("converted to V2" in n for n in data["notes"]), data["notes"]
        original = open_checkpoint(str(source).replace("-?????-of-00001", ""))
        # variables/ holds what the exported saver restores (issue 22.9: no optimizer slots), each value equal.
        restored = sorted({key for key, _ in restores(gs.load(data["output"])).values()})
        with BundleReader(out) as converted:
            assert sorted(converted.keys()) == restored and set(restored) <= set(original.keys())
            for key in converted.keys():
                assert np.array_equal(converted.read(key), original.read(key))
        if folder == "gknoblau_v1_ckpt":  # trained with Adam: its slots stay behind
            assert [k for k in original.keys() if k.endswith(("/Adam", "/Adam_1"))]
            assert not [k for k in restored if k.endswith(("/Adam", "/Adam_1"))]
    # half_plus_two says 0.12.head, which TensorFlow 2.21's import_meta_graph cannot parse.
    half = corpus_exports["serving_session_bundle_half_plus_two"][0]
    assert gs.load(half["output"]).meta_graph.meta_info_def.tensorflow_version == "0.12"
    assert half["notes"] and any("0.12.head" in n for n in half["notes"])
    # y's input x was an Identity of ParseExample: now the signature's placeholder.
    assert gs.load(half["output"]).op("x").type == "Placeholder"


# ---------------------------------------------------------------- GraphDef, other tag sets, keep-training
@pytest.fixture(scope="module")
def other_exports(tmp_path_factory, mnist_dir):
    from fixtures.mnist import load_mnist

    tmp = tmp_path_factory.mktemp("other_exports")
    np.save(tmp / "X.npy", load_mnist(mnist_dir)[2][:2000])
    frozen = FIXTURES / "mnist_bn_elu_frozen.pb"
    jobs, written = [], {}

    def add(name, args, job):
        out = tmp / name
        code, text, data = run_cli("export", *args, "-o", out, "--json")
        assert code == 0, text
        written[name] = data
        jobs.append(dict({"saved_model": str(out), "tags": ["serve"], "signature": "serving_default",
                          "inputs": {"X": str(tmp / "X.npy")}, "cli": False}, **job))

    fetch = {"logits": "logits:0", "probabilities": "probabilities:0"}
    add("frozen", [frozen], {"reference": {"graph_def": str(frozen), "feeds": {"X": "X:0"},
                                           "fetches": {"probabilities": "probabilities:0"}}})
    tf1 = FIXTURES / "mnist_bn_elu_tf1"
    add("keep_training", [tf1, "--input", "X:0", "--output", "logits:0", "--keep-training"],
        {"v2": False, "reference": {"meta": str(tf1 / "model.ckpt.meta"), "checkpoint": str(tf1 / "model.ckpt"),
                                    "feeds": {"X": "X:0"}, "fetches": {"logits": "logits:0"}}})
    sm = FIXTURES / "mnist_bn_elu_savedmodel_tf1"
    add("from_savedmodel", [sm], {"reference": {"saved_model": str(sm), "tags": ["serve"], "feeds": {"X": "X:0"},
                                                "fetches": fetch}})
    return {name: (written[name], result) for name, result in zip(written, run_oracle(jobs, tmp))}


def test_frozen_graphdef_exports_with_an_inferred_signature(other_exports):
    data, result = other_exports["frozen"]
    assert data["inferred"] == ["outputs", "inputs"]
    assert any("inferred its outputs and inputs" in n and "inputs X:0" in n and "outputs probabilities:0" in n
               for n in data["notes"]), data["notes"]
    assert data["variables"] == 0 and data["saver"] is None and data["pinned"] == ["training"]
    assert result["v1"]["probabilities"] <= TOLERANCE and result["v2"]["probabilities"] <= TOLERANCE


def test_keep_training_keeps_the_graph_and_its_saver(other_exports):
    data, result = other_exports["keep_training"]
    assert data["saver"] == "kept" and data["pinned"] == []
    g = gs.load(data["output"])
    assert "train/training_op" in g and "training" in g
    assert len(g) == data["ops"]["before"]
    assert result["v1"]["logits"] <= TOLERANCE


def test_a_savedmodel_keeps_its_signatures(other_exports):
    data, result = other_exports["from_savedmodel"]
    assert sorted(data["signatures"]) == ["serving_default"]
    assert any("kept the signatures" in n for n in data["notes"])
    assert max(result["v1"].values()) <= TOLERANCE and max(result["v2"].values()) <= TOLERANCE


def test_another_tag_set_exports_with_its_tables_and_assets(corpus_dir, tmp_path):
    """tf.Transform's 'transform' graph: vocabulary assets copied, its lookup tables initialized on load."""
    source = corpus_dir / "tfx_transform_fn"
    out = tmp_path / "served"
    code, text, data = run_cli("export", source, "--tag", "transform", "-o", out, "--json")
    assert code == 0, text
    assert sorted(data["signatures"]) == ["transform_signature"] and data["tags"] == ["serve"]
    assert data["main_op"] == "init_all_tables"
    assert sorted(p.name for p in (out / "assets").iterdir()) == sorted(data["assets"]) and len(data["assets"]) == 2
    for name in data["assets"]:
        assert filecmp.cmp(out / "assets" / name, source / "assets" / name, shallow=False)
    parts = []
    for name, value in (("i", np.array([[0, 0], [1, 0]])), ("v", np.array([b"Flash Cab", b"zzz"], dtype=object)),
                        ("s", np.array([2, 1]))):
        np.save(tmp_path / f"{name}.npy", value)
        parts.append(str(tmp_path / f"{name}.npy"))
    info = gs.load(source).meta_graph.signature_def["transform_signature"].inputs["company"].coo_sparse
    fetch = data["signatures"]["transform_signature"]["outputs"]["company_xf"]["name"]
    # The original has no main op: the reference runs tables_initializer itself, feeding the asset paths.
    job = {"saved_model": str(out), "tags": ["serve"], "signature": "transform_signature", "v2": False,
           "inputs": {"company": parts},
           "reference": {"saved_model": str(source), "tags": ["transform"], "init_tables": True,
                         "feeds": {"company": [info.indices_tensor_name, info.values_tensor_name,
                                               info.dense_shape_tensor_name]},
                         "fetches": {"company_xf": fetch}}}
    (result,) = run_oracle([job], tmp_path)
    assert result["v1"]["company_xf"] == 0.0 and result["shapes"]["company_xf"] == [2, 1], result


def test_a_serving_model_keeps_its_signatures_assets_and_main_op(corpus_dir, tmp_path):
    """TensorFlow Serving's half_plus_two: five signatures (tf.Example and tensor inputs), an asset, a main op
    that sets a variable the checkpoint does not hold."""
    from graphsurgeon.training.examples import example_features, serialized_examples

    source = corpus_dir / "serving_half_plus_two_cpu"
    out = tmp_path / "served"
    code, text, data = run_cli("export", source, "-o", out, "--json")
    assert code == 0, text
    assert len(data["signatures"]) == 5 and data["assets"] == {"foo.txt": str(source / "assets" / "foo.txt")}
    assert (out / "assets" / "foo.txt").read_bytes() == (source / "assets" / "foo.txt").read_bytes()
    assert any("not restored" in n and "filename_tensor" in n for n in data["notes"])
    g = gs.load(out)
    assert [i.name for i in g.collection("saved_model_main_op")] == ["group_deps"]
    rng = np.random.default_rng(0)
    examples = serialized_examples(example_features(g.graph_def), 4, rng)
    np.save(tmp_path / "x.npy", rng.standard_normal((4, 1)).astype(np.float32))
    np.save(tmp_path / "ex.npy", np.array(examples, dtype=object))
    jobs = []
    for signature, key, tensor, npy, out_key, fetch in (
            ("serving_default", "x", "x:0", "x.npy", "y", "y:0"),
            ("regress_x2_to_y3", "inputs", "x2:0", "x.npy", "outputs", "y3:0"),
            ("regress_x_to_y", "inputs", "tf_example:0", "ex.npy", "outputs", "y:0")):
        jobs.append({"saved_model": str(out), "tags": ["serve"], "signature": signature,
                     "inputs": {key: str(tmp_path / npy)}, "cli": signature == "serving_default",
                     "reference": {"saved_model": str(source), "tags": ["serve"], "feeds": {key: tensor},
                                   "fetches": {out_key: fetch}}})
    results = run_oracle(jobs, tmp_path)
    for job, result in zip(jobs, results):
        assert max(result["v1"].values()) == 0.0 and max(result["v2"].values()) == 0.0, (job["signature"], result)
    assert "signature_def['regress_x_to_y']:" in results[0]["cli"]


# ---------------------------------------------------------------- what export refuses, and says
def test_export_refuses_to_guess_and_names_the_candidates(tmp_path):
    code, text, _ = run_cli("export", FIXTURES / "mnist_bn_elu_tf1", "-o", tmp_path / "out")
    assert code == 1
    assert text.startswith("error: ") and text.count("\n") == 1
    assert "3 likely outputs (probabilities:0, loss/loss:0, eval/accuracy:0)" in text and "--output" in text
    assert not (tmp_path / "out").exists()


def test_export_never_writes_over_its_input_and_its_help_does_not_offer_to():
    code, text, _ = run_cli("export", "--help")
    assert code == 0 and "--in-place" not in text and "-o" in text
    code, text, _ = run_cli("export", FIXTURES / "mnist_bn_elu_tf1", "--in-place")
    assert code == 2 and text == "error: export writes a new SavedModel: give -o DIR\n"


def test_export_infers_the_inputs_of_named_outputs():
    g = gs.load(FIXTURES / "mnist_bn_elu_tf1")
    served, changes = gs.export(g, outputs=["probabilities:0"])
    assert changes.details["inferred"] == ["inputs"]
    assert served.signatures["serving_default"]["inputs"] == {
        "X": {"name": "X:0", "dtype": "float32", "shape": [None, 784], "encoding": "name"}}
    assert any("inferred its inputs" in n and "inputs X:0" in n for n in changes.notes)


def test_export_refuses_an_output_that_needs_an_unfed_placeholder():
    g = gs.load(FIXTURES / "mnist_bn_elu_tf1")
    with pytest.raises(RewriteError, match=r"need placeholder 'y', which no signature input feeds") as info:
        gs.export(g, inputs=["X:0"], outputs=["eval/accuracy:0"])
    assert "--input y:0" in str(info.value) and "--set y=" in str(info.value)
    # Fed, it exports (the accuracy needs the labels too).
    served, _ = gs.export(g, inputs=["X:0", "y:0"], outputs=["accuracy=eval/accuracy:0"])
    assert sorted(served.signatures["serving_default"]["inputs"]) == ["X", "y"]


def test_export_names_the_nearest_tensor_and_refuses_a_tf2_savedmodel(tmp_path):
    code, text, _ = run_cli("export", FIXTURES / "mnist_bn_elu_tf1", "--input", "X:0", "--output", "logit:0",
                            "-o", tmp_path / "o")
    assert code == 1 and "no tensor named 'logit:0'" in text and "did you mean 'logits:0'" in text
    with pytest.raises(RewriteError, match="TF2 SavedModel"):
        gs.export(gs.load(FIXTURES / "mnist_bn_elu_savedmodel_tf2"))
    with pytest.raises(AmbiguousError):
        gs.export(gs.load(FIXTURES / "mnist_bn_elu_tf1"))
    code, text, _ = run_cli("export", FIXTURES / "mnist_bn_elu_tf1", "--output", "logits:0", "-o", tmp_path / "x.meta")
    assert code == 2 and "export writes a SavedModel directory" in text


def test_export_keys_bare_tensors_by_their_op_and_refuses_clashes():
    g = gs.load(FIXTURES / "mnist_bn_elu_tf1")
    served, _ = gs.export(g, inputs=["images=X:0"], outputs=["outputs/BiasAdd:0", "scores=probabilities"])
    sig = served.signatures["serving_default"]
    assert sorted(sig["inputs"]) == ["images"] and sorted(sig["outputs"]) == ["BiasAdd", "scores"]
    with pytest.raises(gs.UsageError, match="key 'BiasAdd'"):
        gs.export(g, inputs=["X:0"], outputs=["outputs/BiasAdd:0", "hidden1/BiasAdd:0"])


def test_export_leaves_its_input_alone_and_keeps_the_contract():
    g = gs.load(FIXTURES / "mnist_bn_elu_tf1")
    before = g.meta_graph.SerializeToString(deterministic=True)
    served, changes = gs.export(g, inputs=["X:0"], outputs=["logits:0"])
    assert g.meta_graph.SerializeToString(deterministic=True) == before
    assert served is not g and served.format == "savedmodel" and served.path is None
    assert any("train_op" in d for d in changes.dropped)
    # Written as .meta, the exported graph is the tagged MetaGraphDef with its new saver.
    from graphsurgeon.surgery.contract import dangling_inputs, unresolved_references

    assert not dangling_inputs(served) and not unresolved_references(served)


def test_v1_checkpoint_conversion_keeps_every_dtype(tmp_path):
    """A V1 checkpoint with float, int64, bool and string variables (TensorFlow writes it) reads back equal."""
    from graphsurgeon.formats.bundle import BundleReader
    from graphsurgeon.formats.v1_checkpoint import V1CheckpointReader
    from graphsurgeon.formats.v1_to_v2 import convert_v1_to_v2

    code = (
        "import sys, tensorflow as tf, numpy as np\n"
        "v1 = tf.compat.v1\n"
        "v1.disable_eager_execution()\n"
        "a = v1.Variable(np.arange(12, dtype=np.float32).reshape(3, 4), name='a')\n"
        "b = v1.Variable(np.array([1, -2, 3], dtype=np.int64), name='b')\n"
        "c = v1.Variable(np.array([True, False]), name='c')\n"
        "d = v1.Variable(np.array([b'vocab', b'', b'\\xff\\x00bytes'], dtype=object), name='d')\n"
        "e = v1.Variable(b'scalar string', name='e')\n"
        "s = v1.train.Saver(write_version=v1.train.SaverDef.V1)\n"
        "with v1.Session() as sess:\n"
        "    sess.run(v1.global_variables_initializer())\n"
        "    s.save(sess, sys.argv[1])\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "v1.ckpt")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not (tmp_path / "v1.ckpt.index").exists()  # really V1
    assert convert_v1_to_v2(str(tmp_path / "v1.ckpt"), str(tmp_path / "v2")) == 5
    source = V1CheckpointReader(str(tmp_path / "v1.ckpt"))
    with BundleReader(tmp_path / "v2") as out:
        for key in "abcde":
            assert out.dtype(key) == source.dtype(key)
            got, want = out.read(key), source.read(key)
            assert np.array_equal(np.asarray(got, dtype=object), np.asarray(want, dtype=object)), key
    # And TensorFlow reads the converted bundle to the same values.
    check = ("import sys, tensorflow as tf\n"
             "r = tf.train.load_checkpoint(sys.argv[1])\n"
             "print(r.get_tensor('d').tolist(), r.get_tensor('e'), r.get_tensor('a').sum(), r.get_tensor('c').tolist())")
    proc = subprocess.run([sys.executable, "-c", check, str(tmp_path / "v2")], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == r"[b'vocab', b'', b'\xff\x00bytes'] b'scalar string' 66.0 [True, False]"


# ---------------------------------------------------------------- no TensorFlow
_BLOCKED_CLI = r"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("tensorflow is blocked in this test")
sys.meta_path.insert(0, Block())
from graphsurgeon.cli.main import main
argv = sys.argv[1:]
try:
    main(argv)
except SystemExit as e:
    code = e.code
print("EXIT", code, "tensorflow" in sys.modules)
"""


@pytest.mark.parametrize("args", [
    ["export", "fixtures/models/mnist_bn_elu_tf1", "--input", "X:0", "--output", "logits:0", "-o", "{tmp}/served"],
    ["export", "fixtures/models/mnist_bn_elu_frozen.pb", "-o", "{tmp}/frozen_served"],
    ["signatures", "fixtures/models/mnist_bn_elu_savedmodel_tf1"],
    ["signatures", "add", "fixtures/models/mnist_bn_elu_tf1", "probs", "--input", "X:0", "--output",
     "probabilities:0", "-o", "{tmp}/s.meta"],
    ["edit", "fixtures/models/mnist_bn_elu_tf1", "--batch", "1", "--rename", "X=images", "--clear-devices",
     "-o", "{tmp}/e.meta"],
], ids=["export", "export-graphdef", "signatures", "signatures-add", "edit"])
def test_export_signatures_and_edit_never_import_tensorflow(args, tmp_path):
    argv = [a.format(tmp=tmp_path) for a in args]
    proc = subprocess.run([sys.executable, "-c", _BLOCKED_CLI, *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.stdout.strip().splitlines()[-1] == "EXIT 0 False", proc.stdout[-2000:] + proc.stderr[-2000:]

