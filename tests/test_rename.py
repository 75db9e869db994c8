"""edit --rename: ops (and scopes) renamed, every reference kept true, checked by TensorFlow:
the result imports, restores through its (renamed) saver, its collections and signatures resolve,
and it computes what the original computes.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import graphsurgeon as gs
from _support import FIXTURES
from graphsurgeon.cli.main import cli
from graphsurgeon.errors import NotFoundError, RewriteError, UsageError
from tf_roundtrip import roundtrip

TF1 = FIXTURES / "mnist_bn_elu_tf1"
SM1 = FIXTURES / "mnist_bn_elu_savedmodel_tf1"
RENAMES = ["X=images", "probabilities=scores", "hidden1/=dense1/", "save/=saver/"]


def run_cli(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    data = json.loads(result.stdout) if "--json" in args and result.exit_code == 0 else None
    return result.exit_code, result.stdout + (result.stderr or ""), data


@pytest.fixture(scope="module")
def renamed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rename")
    args = [a for r in RENAMES for a in ("--rename", r)]
    code, text, meta_data = run_cli("edit", TF1, *args, "-o", tmp / "renamed.meta", "--json")
    assert code == 0, text
    code, text, sm_data = run_cli("edit", SM1, "--rename", "X=images", "--rename", "logits=scores", "-o",
                                  tmp / "sm", "--json")
    assert code == 0, text
    np.save(tmp / "X.npy", np.linspace(0, 1, 4 * 784, dtype=np.float32).reshape(4, 784))
    x = str(tmp / "X.npy")
    jobs = [
        {"model": str(TF1 / "model.ckpt.meta"), "kind": "meta", "checkpoint": str(TF1 / "model.ckpt"),
         "run": {"feeds": {"X:0": x}, "fetches": ["probabilities:0", "logits:0"]}},
        {"model": str(tmp / "renamed.meta"), "kind": "meta", "checkpoint": str(TF1 / "model.ckpt"),
         "run": {"feeds": {"images:0": x}, "fetches": ["scores:0", "logits:0"]}},
        {"model": str(tmp / "sm"), "kind": "savedmodel", "v2": True,
         "run": {"feeds": {"images:0": x}, "fetches": ["scores:0"]}},
    ]
    original, meta_result, sm_result = roundtrip(jobs, tmp)
    for result in (original, meta_result, sm_result):
        assert "error" not in result, result["error"]
    return tmp, meta_data, sm_data, original, meta_result, sm_result


def test_renamed_meta_restores_and_computes_the_same(renamed):
    tmp, data, _, original, result, _ = renamed
    assert result["saver"]
    assert result["values"]["scores:0"] == original["values"]["probabilities:0"]
    assert result["values"]["logits:0"] == original["values"]["logits:0"]
    assert result["collections"] == original["collections"]
    assert data["renamed"]["X"] == "images" and data["renamed"]["hidden1/kernel"] == "dense1/kernel"
    assert data["renamed"]["save/restore_all"] == "saver/restore_all"
    assert any("saver_def restore_op_name: save/restore_all -> saver/restore_all" in n for n in data["notes"])
    assert any("collection 'my_important_ops': X:0 -> images:0" in n for n in data["notes"])


def test_renamed_meta_keeps_every_reference(renamed):
    tmp = renamed[0]
    g = gs.load(tmp / "renamed.meta")
    assert [item.name for item in g.collection("my_important_ops")][0] == "images:0"
    assert not g.ops("hidden1/") and g.op("dense1/kernel").type == "VariableV2"
    classes = {s.decode() for op in g for s in op.node.attr["_class"].list.s}
    assert "loc:@dense1/kernel" in classes and not [c for c in classes if c.startswith("loc:@hidden1/")]
    saver = g.meta_graph.saver_def
    assert (saver.filename_tensor_name, saver.restore_op_name) == ("saver/Const:0", "saver/restore_all")
    variables = [v.variable_name for v in g.collection("variables")]
    assert "dense1/kernel:0" in variables
    from graphsurgeon.surgery.contract import dangling_inputs, unresolved_references

    assert not dangling_inputs(g) and not unresolved_references(g)


def test_renamed_savedmodel_signatures_follow_in_both_loaders(renamed):
    _, _, data, original, _, result = renamed
    assert result["signatures"]["serving_default"] == ["images:0", "probabilities:0", "scores:0"]
    assert result["v2_signatures"] == ["serving_default"]
    assert result["values"]["scores:0"] == original["values"]["logits:0"]
    assert "signature 'serving_default' input 'X': X:0 -> images:0" in data["notes"]


def test_what_rename_refuses():
    g = gs.load(TF1)
    with pytest.raises(RewriteError, match="an op of that name exists"):
        gs.rename(g, {"X": "y"})
    with pytest.raises(NotFoundError, match="did you mean 'probabilities'"):
        gs.rename(g, {"probabilites": "scores"})
    with pytest.raises(UsageError, match="not a name TensorFlow accepts"):
        gs.rename(g, {"X": "_images"})
    with pytest.raises(UsageError, match="rename ops"):
        gs.rename(g, {"X:0": "images:0"})
    with pytest.raises(RewriteError, match="no op under scope 'hiden1/'"):
        gs.rename(g, {"hiden1/": "dense1/"})
    with pytest.raises(RewriteError, match="same new name"):
        gs.rename(g, {"X": "a", "probabilities": "a"})
    # Swapping two names is one rename.
    swapped, changes = gs.rename(g, {"logits": "probabilities", "probabilities": "logits"})
    assert swapped.op("logits").type == "Softmax" and g.op("logits").type == "Identity"
    code, text, _ = run_cli("edit", TF1, "--rename", "X", "-o", "/nonexistent/x.meta")
    assert code == 2 and "expected OLD=NEW" in text
