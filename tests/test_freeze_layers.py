"""freeze-layers: the training op stops updating frozen variables, whatever its optimizer.

TensorFlow judges every result: the edited model is imported, restored and
trained one step, and the frozen variables (their optimizer slots too) keep
their values while the others change and the global step still counts. On
the fixture, the step equals, to the last bit, TensorFlow's own
``minimize(loss, var_list=the rest)`` from the same checkpoint.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import graphsurgeon as gs
from _support import FIXTURES, fixture_model, run_one_epoch, tf_jobs
from graphsurgeon.cli.main import cli
from graphsurgeon.errors import AmbiguousError, NotFoundError
from graphsurgeon.surgery.freeze_layers import freeze_layers, resolve_frozen
from graphsurgeon.surgery.strip_training import strip_training
from graphsurgeon.vocab import protos
from graphsurgeon.vocab.training_op import NoTrainingOp, find_training_op, training, updates

STYLES = ["mnist_bn_elu_tf1", "mnist_bn_elu_resource"]
FROZEN_SCOPES = ("hidden1/", "batch_normalization/", "hidden2/", "batch_normalization_1/")

# (zoo idiom, what the user names, the variables that must stay, the global step or None)
CASES = [
    ("cnn_global_step", ["conv1"], ["conv1/kernel", "conv1/bias"], "global_step"),          # Adam, minimize(gs)
    ("root_variables", ["W1", "b1"], ["W1", "b1"], None),                                    # root variables
    ("estimator_ckpt", ["dense"], ["dense/kernel", "dense/bias"], "global_step"),            # Adagrad
    ("partitioned", ["embedding"], [f"embedding/weights/part_{i}" for i in range(3)],        # SparseApplyAdagrad
     "global_step"),
    ("ema_train", ["fc1/"], ["fc1/kernel", "fc1/bias"], "global_step"),                      # Momentum + EMA
    ("keras2_graph", ["dense"], ["dense/kernel", "dense/bias"], None),                       # Keras 2 Adam
    ("resource_clipping", ["re:^hidden$"], ["hidden/kernel", "hidden/bias"], "global_step"),  # RMSProp, clipping
    ("deepmd", ["layer_0"], ["layer_0/matrix", "layer_0/bias"], "global_step"),              # second-order
]


def test_training_op_is_found_as_its_author_would_name_it(idiom_zoo):
    for name, entry in idiom_zoo.items():
        if not entry.get("train"):
            continue
        g = gs.load(entry["model"])
        run = training(g)
        if name == "keras2_graph":   # the zoo runs the optimizer's step; Keras' own loop runs the group over it
            assert run.op == "training_1/group_deps" and entry["train"]["op"] in g.ancestors([run.op])
        else:
            assert run.op == entry["train"]["op"], name
        slots = {s for ss in run.slots.values() for s in ss}
        assert not set(run.trained) & slots, name
        step = {c[0]: c[3] for c in CASES}.get(name)
        if step:
            assert run.step == step and step not in run.trained, name
    cnn = training(gs.load(idiom_zoo["cnn_global_step"]["model"]))
    assert cnn.slots["conv1/kernel"] == ["conv1/kernel/Adam", "conv1/kernel/Adam_1"]
    keras = training(gs.load(idiom_zoo["keras2_graph"]["model"]))
    assert set(keras.trained) == {"dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"}
    assert all(s.startswith("training/") for ss in keras.slots.values() for s in ss)   # Keras' m and v
    ema = training(gs.load(idiom_zoo["ema_train"]["model"]))
    assert set(ema.trained) == {"fc1/kernel", "fc1/bias", "fc2/kernel", "fc2/bias"}   # not the shadows
    assert ema.op == "train"   # the group over minimize (which alone is in train_op) and ema.apply


def test_no_training_op_or_several_say_what_there_is(idiom_zoo, tmp_path):
    frozen = gs.load(fixture_model(FIXTURES / "mnist_bn_elu_frozen.pb"))
    with pytest.raises(NoTrainingOp):
        find_training_op(frozen)
    g = gs.load(idiom_zoo["root_variables"]["model"])
    with pytest.raises(NotFoundError) as info:
        find_training_op(g, "GradientDescnet")
    assert "'GradientDescent'" in str(info.value)
    with pytest.raises(NoTrainingOp) as info:
        find_training_op(g, "hypothesis")
    assert "training ops here: GradientDescent" in str(info.value)
    # Two groups of the updates and no collection naming one: the user is asked.
    two = g.copy()
    two.delete_collection("train_op")
    other = protos.NodeDef(name="other_train", op="NoOp")
    other.input.append("^" + next(op for op, var in updates(two).items() if var == "W1"))
    two.add_op(other)
    with pytest.raises(AmbiguousError) as info:
        find_training_op(two)
    assert "GradientDescent, other_train" in str(info.value) and "--training-op" in str(info.value)
    assert find_training_op(two, "other_train") == "other_train"
    result = CliRunner().invoke(cli, ["freeze-layers", str(FIXTURES / "mnist_bn_elu_frozen.pb"), "hidden1", "-o",
                                      str(tmp_path / "x")])
    assert result.exit_code in (1, 2) and result.output.startswith("error:") and result.output.count("\n") == 1


def test_names_are_layers_variables_or_patterns(idiom_zoo):
    g = gs.load(fixture_model("mnist_bn_elu_tf1"))
    assert resolve_frozen(g, ["hidden2"])[0] == ["hidden2", "batch_normalization_1"]
    assert resolve_frozen(g, ["hidden1/*"]) == ([], ["hidden1/kernel", "hidden1/bias"])
    assert resolve_frozen(g, ["**/gamma"])[1] == [f"batch_normalization{s}/gamma" for s in ("", "_1", "_2")]
    assert resolve_frozen(g, ["re:^hidden[12]$"])[0] == ["hidden1", "batch_normalization", "hidden2",
                                                         "batch_normalization_1"]
    with pytest.raises(NotFoundError) as info:
        resolve_frozen(g, ["hiden1"])
    assert "'hidden1'" in str(info.value)
    assert resolve_frozen(gs.load(idiom_zoo["root_variables"]["model"]), ["Theta_2"])[1] == ["Theta_2"]
    assert resolve_frozen(gs.load(idiom_zoo["several_savers"]["model"]), ["base"])[0] == ["base/dense"]  # a scope


def test_freeze_on_every_optimizer_trains_one_step_in_tensorflow(idiom_zoo, tmp_path):
    jobs, expected = [], []
    runner = CliRunner()
    for idiom, names, frozen, step in CASES:
        entry = idiom_zoo[idiom]
        out = tmp_path / idiom
        result = runner.invoke(cli, ["freeze-layers", entry["model"], *names, "-o", str(out), "--json"])
        assert result.exit_code == 0, (idiom, result.output)
        report = json.loads(result.output)
        run = training(gs.load(entry["model"]))
        assert report["frozen_variables"] == frozen and report["training_op"] == run.op, idiom
        assert report["global_step"] == step, idiom
        jobs.append({"model": str(out), "op": run.op, "feeds": entry["train"]["feeds"]})
        slots = [s for var in frozen for s in run.slots.get(var, [])]
        expected.append((idiom, frozen, slots, step, report["trainable_variables"]))
    for (idiom, frozen, slots, step, still), result in zip(expected, tf_jobs("tf_train_step.py", jobs, tmp_path)):
        assert "error" not in result, (idiom, result.get("error"))
        changed = result["changed"]
        for var in frozen + slots:
            assert not changed[var], f"{idiom}: {var} changed although frozen"
        for var in still:
            assert changed[var], f"{idiom}: {var} did not train"
        assert not set(frozen) & set(result["trainable"]) and set(still) <= set(result["trainable"]), idiom
        if step:
            assert result["global_step"][1] == result["global_step"][0] + 1, idiom


def test_fixture_step_equals_tensorflows_minimize_over_the_rest(tmp_path):
    """Freezing variables (no batch norm pinned) is exactly TensorFlow's minimize(var_list=the others)."""
    model = fixture_model("mnist_bn_elu_tf1")
    manifest = json.loads((FIXTURES / "manifest.json").read_text())["models"]["mnist_bn_elu_tf1"]
    out = tmp_path / "frozen"
    result = CliRunner().invoke(cli, ["freeze-layers", str(model), "hidden1/*", "outputs/*", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rng = np.random.RandomState(0)
    feeds = tmp_path / "feeds.npz"
    np.savez(feeds, **{"X:0": rng.rand(50, 784).astype("float32"), "y:0": rng.randint(0, 10, 50),
                       "training:0": np.array(True)})
    g = gs.load(model)
    names = [v.name for v in g.layers() for v in v.variables]
    exclude = ["hidden1/kernel", "hidden1/bias", "outputs/kernel", "outputs/bias"]
    ours, oracle = tf_jobs("tf_train_step.py", [
        {"model": str(out), "op": "train/training_op", "feeds": str(feeds), "values": names},
        {"model": str(model), "feeds": str(feeds), "values": names,
         "minimize": {"loss": "loss/loss:0", "learning_rate": manifest["hyperparameters"]["learning_rate"],
                      "exclude": exclude}}], tmp_path)
    assert "error" not in ours and "error" not in oracle, (ours, oracle)
    for name in names:
        assert ours["changed"][name] == oracle["changed"][name] == (name not in exclude), name
        assert np.abs(np.array(ours["values"][name]) - np.array(oracle["values"][name])).max() <= 1e-6, name


@pytest.mark.parametrize("name", STYLES)
def test_strip_training_finds_loss_and_optimizer(name):
    g = gs.load(fixture_model(name))
    manifest = json.loads((FIXTURES / "manifest.json").read_text())["models"][name]
    stripped, changes = strip_training(g)
    info = changes.details["training"]
    assert info.training_op == "train/training_op" and info.loss == "loss/loss:0"
    assert info.optimizer == "GradientDescent" and info.global_step is None
    assert abs(info.hyperparameters["learning_rate"] - manifest["hyperparameters"]["learning_rate"]) < 1e-7
    assert info.collections == {"my_important_ops": 3, "train_op": 0}
    left = {op.name for op in stripped}
    assert not any(n.startswith("train/") or n.startswith("save/") for n in left)
    assert {"loss/loss", "eval/accuracy", "logits", "X", "y"} <= left
    assert g.op("train/training_op")  # input untouched
    # update ops survive (they are in update_ops)
    assert len(stripped.collection("update_ops")) == 6


def test_strip_training_keeps_the_global_step(idiom_zoo):
    g = gs.load(idiom_zoo["cnn_global_step"]["model"])
    stripped, changes = strip_training(g)
    info = changes.details["training"]
    assert info.training_op == "Adam" and info.optimizer == "Adam" and info.global_step == "global_step"
    assert "global_step" in stripped and "Adam" not in stripped


@pytest.mark.parametrize("name", STYLES)
def test_freeze_layers_then_one_epoch(name, tmp_path, mnist_dir):
    out = tmp_path / "frozen"
    result = CliRunner().invoke(cli, ["freeze-layers", str(fixture_model(name)), "hidden1", "hidden2", "-o", str(out),
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["frozen"] == ["hidden1", "batch_normalization", "hidden2", "batch_normalization_1"]
    # One saver (save/), the model's own.
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
    model = str(fixture_model("mnist_bn_elu_tf1"))
    result = runner.invoke(cli, ["freeze-layers", model, "hiden1", "-o", str(tmp_path / "a")])
    assert result.exit_code == 1 and "hidden1" in result.output and result.output.startswith("error:")
    result = runner.invoke(cli, ["freeze-layers", model, "**", "-o", str(tmp_path / "b")])
    assert result.exit_code == 1 and "nothing would be left to train" in result.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    g = gs.load(model)
    result, changes = freeze_layers(g, ["hidden1"])
    assert "train/training_op/update_hidden1/kernel/ApplyGradientDescent" in g    # the input is untouched
    assert "train/training_op/update_hidden1/kernel/ApplyGradientDescent" not in result


def test_legacy_root_variable_of_a_2016_checkpoint_freezes(corpus_dir, tmp_path):
    """gknoblau: legacy Variable ops at the root, a V1 checkpoint, Adam; freeze-layers names the variable."""
    out = tmp_path / "frozen"
    result = CliRunner().invoke(cli, ["freeze-layers", str(corpus_dir / "gknoblau_v1_ckpt"), "mweight", "-o", str(out),
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["frozen"] == ["mweight"] and report["training_op"] == "Adam"
    assert report["trainable_variables"] == ["mbias", "mweight2", "mbias2"]
    rng = np.random.RandomState(0)
    np.savez(tmp_path / "feeds.npz", **{"Placeholder:0": rng.rand(32, 4).astype("float32"),
                                        "Placeholder_1:0": rng.rand(32, 2).astype("float32")})
    (result,) = tf_jobs("tf_train_step.py", [{"model": str(out), "op": "Adam", "feeds": str(tmp_path / "feeds.npz")}],
                        tmp_path)
    assert "error" not in result, result["error"]
    changed = result["changed"]
    assert not changed["mweight"] and not changed["mweight/Adam"] and not changed["mweight/Adam_1"]
    assert changed["mbias"] and changed["mweight2"] and changed["mbias2"]    # (beta1_power: 0.0 after 2016's run)
