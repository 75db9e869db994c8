"""Training machinery never hides what the model's outputs need (issue 22 point 4).

A DeePMD-style potential computes its forces with ``tf.gradients``: those
gradient ops are the model, not training machinery. The corpus'
deepmd_cu_frozen is checked by hand (its ``o_force`` is
computed from the gradient ops, 233 of them); the zoo's ``deepmd`` is the
training graph of such a potential.
"""
from __future__ import annotations

import json

from click.testing import CliRunner

import graphsurgeon as gs
from _support import fixture_model
from graphsurgeon.cli.main import cli
from graphsurgeon.rendering import view
from graphsurgeon.vocab.optypes import optimizer_variables, training_machinery


def test_deepmd_corpus_forces_are_not_machinery(corpus_dir):
    g = gs.load(corpus_dir / "deepmd_cu_frozen" / "frozen_model.pb")
    gradients = [op.name for op in g if op.name.startswith("gradients/")]
    assert len(gradients) == 233
    needed = g.ancestors(["o_force"], include_roots=True)
    assert set(gradients) <= needed            # every gradient op is computed for o_force
    assert not training_machinery(g)
    runner = CliRunner()
    everything = json.loads(runner.invoke(cli, ["ls", str(g.path), "--json"]).output)["ops"]
    network = json.loads(runner.invoke(cli, ["ls", str(g.path), "--json", "--no-training"]).output)["ops"]
    assert len(network) == len(everything) == len(g)
    drawn = {op for node in view(g, no_training=True, depth=0, max_nodes=None).nodes.values() for op in node.ops}
    assert set(gradients) <= drawn


def test_gradients_the_outputs_need_stay_in_a_training_graph(idiom_zoo):
    """The zoo's DeePMD-style potential, trained: the forces' tf.gradients are the model, minimize's are not.

    (The idiom matrix holds ``ls --no-training`` and ``render`` to TensorFlow's own ``extract_sub_graph``.)
    """
    g = gs.load(idiom_zoo["deepmd"]["model"])
    machinery = training_machinery(g)
    needed = g.ancestors(["o_force", "o_energy"], control=False, include_roots=True)
    forces = {n for n in needed if n.startswith("gradients/")}
    assert forces and not needed & machinery
    training = [op.name for op in g if op.name.startswith("gradients_1/")]   # minimize's own tf.gradients
    assert training and set(training) <= machinery
    assert {"Adam", "global_step", "save/SaveV2"} <= machinery
    network = json.loads(CliRunner().invoke(cli, ["ls", str(g.path), "--json", "--no-training"]).output)["ops"]
    assert needed <= {op["name"] for op in network}


def test_ls_tree_honours_no_training():
    model = fixture_model("mnist_bn_elu_tf1")
    g = gs.load(model)
    machinery = training_machinery(g)
    runner = CliRunner()
    full = json.loads(runner.invoke(cli, ["ls", str(model), "--tree", "--json"]).output)["tree"]
    network = json.loads(runner.invoke(cli, ["ls", str(model), "--tree", "--json", "--no-training"]).output)["tree"]
    assert full["ops"] == len(g) and network["ops"] == len(g) - len(machinery)
    assert full["params"] == network["params"]
    assert "train" in {c["name"] for c in full["children"]} and "train" not in {c["name"] for c in network["children"]}
    hidden1 = next(c for c in network["children"] if c["name"] == "hidden1")
    assert hidden1["ops"] == sum(1 for op in g if op.name.startswith("hidden1/") and op.name not in machinery)
    text = runner.invoke(cli, ["ls", str(model), "--tree", "--no-training", "--depth", "1"]).output
    assert text.splitlines()[0].startswith(f"{len(g) - len(machinery)} ops") and "\ntrain/" not in text


def test_optimizer_state_is_machinery_whatever_its_name(idiom_zoo):
    """Keras 2 keeps slots and hyper-parameters in variables named training/Adam/...: machinery, no layer."""
    g = gs.load(idiom_zoo["keras2_graph"]["model"])
    state = optimizer_variables(g)
    assert {"training/Adam/dense/kernel/m", "training/Adam/dense/kernel/v", "training/Adam/learning_rate",
            "training/Adam/beta_1", "training/Adam/iter"} <= state
    assert not state & {"dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"}
    assert state <= training_machinery(g)
    assert [item.name for item in g.layers()] == ["dense", "dense_1"]
