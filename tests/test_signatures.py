"""signatures: list and edit SignatureDefs of SavedModels and .meta files, checked by TensorFlow.

Every edit is loaded back by TensorFlow (tests/tf_roundtrip.py, in a subprocess): the model loads,
every signature's tensors resolve in the imported graph, every collection comes back with
get_collection, the saver restores, and tf.saved_model.load lists the signatures.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from _support import FIXTURES
from graphsurgeon.cli.main import cli
from tf_roundtrip import roundtrip

import graphsurgeon as gs
from graphsurgeon.errors import NotFoundError, RewriteError, UsageError
from graphsurgeon.metagraph import signatures as sigs

TF1 = FIXTURES / "mnist_bn_elu_tf1"
SM1 = FIXTURES / "mnist_bn_elu_savedmodel_tf1"


def run_cli(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    data = json.loads(result.stdout) if "--json" in args and result.exit_code == 0 else None
    return result.exit_code, result.stdout + (result.stderr or ""), data


def _brief(sig_map):
    return {k: {side: {a: (t["name"], t["dtype"], t["shape"]) for a, t in s[side].items()}
                for side in ("inputs", "outputs")} | {"method": s["method"]} for k, s in sig_map.items()}


@pytest.mark.parametrize("model", [SM1, FIXTURES / "mnist_bn_elu_savedmodel_tf2"], ids=["tf1", "tf2"])
def test_listing_says_what_info_says(model):
    _, _, listed = run_cli("signatures", model, "--json")
    _, _, info = run_cli("info", model, "--json")
    assert _brief(listed["signatures"]) == _brief(info["signatures"])
    assert listed["default"] == "serving_default"
    assert all(s["unresolved"] == [] for s in listed["signatures"].values())
    code, text, _ = run_cli("signatures", model)
    assert code == 0 and "serving_default  (tensorflow/serving/predict)  [default]" in text


def test_listing_a_graphdef_and_a_meta_without_signatures():
    code, text, _ = run_cli("signatures", FIXTURES / "mnist_bn_elu_frozen.pb")
    assert code == 0 and "has no signatures" in text
    code, text, data = run_cli("signatures", TF1, "--json")
    assert code == 0 and data["signatures"] == {} and data["default"] is None


# ---------------------------------------------------------------- the library
def test_add_fills_dtype_and_shape_from_the_graph_and_checks_names():
    g = gs.load(TF1)
    sig = sigs.add_signature(g, "serving_default", ["images=X:0"], ["logits", "probabilities:0"])
    assert sig["inputs"]["images"] == {"name": "X:0", "dtype": "float32", "shape": [None, 784], "encoding": "name"}
    assert sig["outputs"]["logits"]["shape"] == [None, 10] and sig["method"] == sigs.PREDICT_METHOD
    with pytest.raises(NotFoundError, match=r"no tensor named 'probabilites:0'.*did you mean 'probabilities:0'"):
        sigs.add_signature(g, "x", ["X:0"], ["probabilites:0"])
    with pytest.raises(RewriteError, match="already exists"):
        sigs.add_signature(g, "serving_default", ["X:0"], ["logits:0"])
    with pytest.raises(UsageError, match="reserved"):
        sigs.add_signature(g, "__saved_model_init_op", [], ["logits:0"])
    # A ref variable's tensor is served as its base dtype, as TensorFlow's build_tensor_info does.
    sig = sigs.add_signature(g, "weights", [], ["hidden1/kernel:0"])
    assert sig["outputs"]["kernel"]["dtype"] == "float32"


def test_rename_remove_and_set_default_swap():
    g = gs.load(SM1)
    sigs.add_signature(g, "probs", ["X:0"], ["probabilities:0"])
    assert sigs.set_default_signature(g, "probs") == "serving_default"
    assert sorted(g.signatures["serving_default"]["outputs"]) == ["probabilities"]
    assert sorted(g.signatures["probs"]["outputs"]) == ["logits", "probabilities"]
    sigs.rename_signature(g, "probs", "both")
    assert sorted(g.signatures) == ["both", "serving_default"]
    with pytest.raises(NotFoundError, match="did you mean 'both'"):
        sigs.remove_signature(g, "bot")
    sigs.remove_signature(g, "both")
    assert sorted(g.signatures) == ["serving_default"]
    with pytest.raises(UsageError, match="plain GraphDef"):
        sigs.add_signature(gs.load(FIXTURES / "mnist_bn_elu_frozen.pb"), "s", ["X:0"], ["logits:0"])


# ---------------------------------------------------------------- the command line, loaded by TensorFlow
@pytest.fixture(scope="module")
def edited(tmp_path_factory, corpus_dir):
    tmp = tmp_path_factory.mktemp("signatures")
    np.save(tmp / "X.npy", np.linspace(0, 1, 3 * 784, dtype=np.float32).reshape(3, 784))
    cases = {}

    def edit(name, args, job):
        code, text, data = run_cli("signatures", *args, "--json")
        assert code == 0, text
        cases[name] = (data, job)

    edit("meta_add", ["add", TF1, "serving_default", "--input", "X:0", "--output", "logits:0",
                      "-o", tmp / "added.meta"],
         {"model": str(tmp / "added.meta"), "kind": "meta", "checkpoint": str(TF1 / "model.ckpt"),
          "run": {"feeds": {"X:0": str(tmp / "X.npy")}, "fetches": ["logits:0"]}})
    edit("sm_add", ["add", SM1, "probs", "--input", "X:0", "--output", "scores=probabilities:0", "-o", tmp / "sm_add"],
         {"model": str(tmp / "sm_add"), "kind": "savedmodel", "v2": True})
    edit("sm_rename", ["rename", SM1, "serving_default", "predict_images", "-o", tmp / "sm_rename"],
         {"model": str(tmp / "sm_rename"), "kind": "savedmodel", "v2": True})
    shutil.copytree(SM1, tmp / "in_place")
    edit("sm_rm", ["rm", tmp / "in_place", "serving_default", "--in-place"],
         {"model": str(tmp / "in_place"), "kind": "savedmodel", "v2": True})
    half = corpus_dir / "serving_half_plus_two_cpu"
    edit("set_default", ["set-default", half, "regress_x2_to_y3", "-o", tmp / "half"],
         {"model": str(tmp / "half"), "kind": "savedmodel", "v2": True})
    reference = {"model": str(TF1 / "model.ckpt.meta"), "kind": "meta", "checkpoint": str(TF1 / "model.ckpt"),
                 "run": {"feeds": {"X:0": str(tmp / "X.npy")}, "fetches": ["logits:0"]}}
    results = roundtrip([job for _, job in cases.values()] + [reference], tmp)
    return {name: (data, result) for (name, (data, _)), result in zip(cases.items(), results)}, results[-1]


def _ok(result):
    assert "error" not in result, result.get("error")
    return result


def test_add_on_a_meta_loads_restores_and_resolves(edited):
    cases, reference = edited
    data, result = cases["meta_add"]
    _ok(result)
    assert data["signature"]["outputs"]["logits"] == {"name": "logits:0", "dtype": "float32", "shape": [None, 10]}
    assert result["signatures"] == {"serving_default": ["X:0", "logits:0"]}
    assert result["saver"] and result["collections"] == _ok(reference)["collections"]
    assert result["values"] == reference["values"]


def test_add_rename_rm_on_a_savedmodel_load_in_both_loaders(edited):
    cases, _ = edited
    data, result = cases["sm_add"]
    assert _ok(result)["v2_signatures"] == ["probs", "serving_default"]
    assert result["signatures"]["probs"] == ["X:0", "probabilities:0"]
    assert data["signatures"] == ["probs", "serving_default"]
    assert result["collections"]["my_important_ops"] == 4 and result["saver"]
    _, result = cases["sm_rename"]
    assert _ok(result)["v2_signatures"] == ["predict_images"]
    _, result = cases["sm_rm"]
    assert _ok(result)["signatures"] == {} and result["v2_signatures"] == []
    assert gs.load(cases["sm_rm"][0]["output"]).signatures == {}


def test_set_default_swaps_on_a_model_of_tensorflow_serving(edited, corpus_dir):
    cases, _ = edited
    data, result = cases["set_default"]
    assert _ok(result)["signatures"]["serving_default"] == ["x2:0", "y3:0"]
    assert result["signatures"]["regress_x2_to_y3"] == ["x:0", "y:0"]
    assert "serving_default" in result["v2_signatures"] and "regress_x2_to_y3" in result["v2_signatures"]
    assert "the old 'serving_default' is now 'regress_x2_to_y3'" in data["action"]
    # The rest of the SavedModel (its assets) is copied unchanged.
    assert (Path(data["output"]) / "assets" / "foo.txt").read_bytes() == \
        (corpus_dir / "serving_half_plus_two_cpu" / "assets" / "foo.txt").read_bytes()


def test_errors_are_one_line_with_the_nearest_names(tmp_path):
    code, text, _ = run_cli("signatures", "add", SM1, "s", "--input", "X:0", "--output", "logit:0", "-o", tmp_path / "o")
    assert code == 1 and text.startswith("error: no tensor named 'logit:0'") and "'logits:0'" in text
    code, text, _ = run_cli("signatures", "rm", SM1, "serving_defualt", "-o", tmp_path / "o")
    assert code == 1 and "did you mean 'serving_default'" in text
    code, text, _ = run_cli("signatures", "add", FIXTURES / "mnist_bn_elu_frozen.pb", "s", "--output", "logits:0",
                            "-o", tmp_path / "o.pb")
    assert code == 2 and "a GraphDef holds no signatures" in text
    code, text, _ = run_cli("signatures", "add", SM1, "serving_default", "--output", "logits:0", "-o", tmp_path / "o")
    assert code == 1 and "already exists" in text
    code, text, data = run_cli("signatures", "add", SM1, "serving_default", "--input", "X:0", "--output", "logits:0",
                               "--replace", "-o", tmp_path / "o", "--json")
    assert code == 0 and sorted(data["signature"]["outputs"]) == ["logits"]
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_graphdef_gets_signatures_as_a_meta(tmp_path):
    code, text, data = run_cli("signatures", "add", FIXTURES / "mnist_bn_elu_frozen.pb", "serving_default",
                               "--input", "X:0", "--output", "probabilities:0", "-o", tmp_path / "f.meta", "--json")
    assert code == 0, text
    g = gs.load(tmp_path / "f.meta")
    assert g.format == "meta" and g.signatures["serving_default"]["inputs"]["X"]["name"] == "X:0"


def test_editing_a_tf2_savedmodel_says_what_tf2_loading_sees(tmp_path):
    code, text, data = run_cli("signatures", "add", FIXTURES / "mnist_bn_elu_savedmodel_tf2", "probs",
                               "--input", "serving_default_X:0", "--output", "StatefulPartitionedCall:1",
                               "-o", tmp_path / "o", "--json")
    assert code == 0, text
    assert any("object graph" in n for n in data["notes"])
    assert any("fingerprint.pb recomputed" in n for n in data["notes"])
