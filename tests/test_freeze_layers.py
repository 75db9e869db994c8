"""freeze-layers: frozen variables leave trainable_variables and the rebuilt training op."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import graphsurgeon as gs
from conftest import FIXTURES, ROOT
from conftest import fixture_model as _need
from conftest import run_one_epoch
from graphsurgeon.cli.main import cli
from graphsurgeon.surgery.strip_training import strip_training

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
STYLES = ["mnist_bn_elu_tf1", "mnist_bn_elu_resource"]
FROZEN_SCOPES = ("hidden1/", "batch_normalization/", "hidden2/", "batch_normalization_1/")




@pytest.mark.parametrize("name", STYLES)
def test_strip_training_finds_loss_and_optimizer(name):
    g = gs.load(_need(name))
    manifest = json.loads((FIXTURES / "manifest.json").read_text())["models"][name]
    stripped, changes = strip_training(g)
    info = changes.details["training"]
    assert info.training_op == "train/training_op" and info.loss == "loss/loss:0"
    assert info.optimizer == "GradientDescent"
    assert abs(info.hyperparameters["learning_rate"] - manifest["hyperparameters"]["learning_rate"]) < 1e-7
    assert info.collections == {"my_important_ops": 3, "train_op": 0}
    left = {op.name for op in stripped}
    assert not any(n.startswith("train/") or n.startswith("save/") for n in left)
    assert {"loss/loss", "eval/accuracy", "logits", "X", "y"} <= left
    assert g.op("train/training_op")  # input untouched
    # update ops survive (they are in update_ops)
    assert len(stripped.collection("update_ops")) == 6


@pytest.mark.parametrize("name", STYLES)
def test_freeze_layers_then_one_epoch(name, tmp_path, mnist_dir):
    out = tmp_path / "frozen"
    result = subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", "freeze-layers", str(_need(name)),
                             "hidden1", "hidden2", "-o", str(out), "--json"], capture_output=True, text=True,
                            env=ENV, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["frozen"] == ["hidden1", "batch_normalization", "hidden2", "batch_normalization_1"]
    # One saver (save/), not the imported one beside the rebuilt graph's own.
    assert {op.name.split("/")[0] for op in gs.load(out) if op.name.startswith("save")} == {"save"}
    r = run_one_epoch(out, mnist_dir)
    assert r["trainable"] == report["trainable_variables"]
    assert not any(v.startswith(FROZEN_SCOPES) for v in r["trainable"])
    for var, changed in r["changed"].items():
        if var.startswith(FROZEN_SCOPES):
            assert not changed, f"{var} changed although frozen"          # moving statistics included
        else:
            assert changed, f"{var} did not train"
    assert r["updates"] and not any("update_hidden" in u or "update_batch_normalization/" in u for u in r["updates"])


def test_freeze_layers_refusals(tmp_path):
    runner = CliRunner()
    model = str(_need("mnist_bn_elu_tf1"))
    result = runner.invoke(cli, ["freeze-layers", model, "hiden1", "-o", str(tmp_path / "a")])
    assert result.exit_code == 1 and "hidden1" in result.output and result.output.startswith("error:")
    frozen_pb = FIXTURES / "mnist_bn_elu_frozen.pb"
    if frozen_pb.exists():
        result = runner.invoke(cli, ["freeze-layers", str(frozen_pb), "hidden1", "-o", str(tmp_path / "b")])
        assert result.exit_code in (1, 2) and result.output.startswith("error:")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
