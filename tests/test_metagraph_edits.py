"""The Graph's methods for the MetaGraphDef's parts (signatures, saver, assets, references,
TensorFlow version) and for devices: what rewrites edit through instead of the protos.

Each edit is checked on the protos it writes and on what the Graph answers after it
(``signatures``, ``restores``, derived facts recomputed, a function body written back).
"""
from __future__ import annotations

import pytest
from _support import fixture_model

import graphsurgeon as gs
from graphsurgeon.errors import UsageError
from graphsurgeon.metagraph.saver import restores, saver_scope_ops
from graphsurgeon.metagraph.signatures import follow_shapes, signature_def
from graphsurgeon.vocab import protos

TF1 = fixture_model("mnist_bn_elu_tf1")
SAVED_TF1 = fixture_model("mnist_bn_elu_savedmodel_tf1")
TF2 = fixture_model("mnist_bn_elu_savedmodel_tf2")
FROZEN = fixture_model("mnist_bn_elu_frozen.pb")
SERVE = "__inference_serve_129"


def _counter():
    calls = []
    return calls, lambda graph: calls.append(1) or len(calls)


def test_set_saver_def_replaces_or_removes_the_saver_and_drops_derived_facts():
    g = gs.load(TF1)
    saver = protos.SaverDef()
    saver.CopyFrom(g.meta_graph.saver_def)
    assert saver_scope_ops(g) and restores(g)["hidden1/kernel"] == ("hidden1/kernel", "")
    calls, compute = _counter()
    g.derived("test.fact", compute)
    g.set_saver_def(None)
    assert not g.meta_graph.HasField("saver_def") and saver_scope_ops(g) == set()
    # Without a saver_def, import_meta_graph's default Saver restores the variables collection.
    assert restores(g)["hidden1/kernel"] == ("hidden1/kernel", "")
    g.derived("test.fact", compute)
    assert len(calls) == 2  # recomputed after the edit
    g.set_saver_def(saver)
    assert g.meta_graph.saver_def == saver
    frozen = gs.load(FROZEN)
    frozen.set_saver_def(None)  # nothing to remove: no MetaGraphDef, no error
    with pytest.raises(UsageError, match="plain GraphDef"):
        frozen.set_saver_def(saver)


def test_set_signature_clear_signatures_and_follow_shapes():
    g = gs.load(SAVED_TF1)
    sig = signature_def(g, {"images": "X:0"}, {"scores": "probabilities:0"})
    g.set_signature("scores", sig)
    assert g.signatures["scores"]["inputs"]["images"]["name"] == "X:0"
    assert g.signatures["scores"]["outputs"]["scores"]["shape"] == [None, 10]
    g.set_signature("scores", None)
    assert "scores" not in g.signatures and "serving_default" in g.signatures
    g.clear_signatures()
    assert g.signatures == {}
    # follow_shapes records what the graph now computes, for the signatures naming the ops given.
    h = gs.load(SAVED_TF1)
    h.set_attr("X", "shape", (1, 784))
    assert follow_shapes(h, {"hidden1/MatMul"}) == []  # no signature names it
    assert follow_shapes(h, {"X", "logits"}) == ["serving_default"]
    assert h.signatures["serving_default"]["inputs"]["X"]["shape"] == [1, 784]
    assert h.signatures["serving_default"]["outputs"]["logits"]["shape"] == [1, 10]
    assert h.signatures["serving_default"]["outputs"]["probabilities"]["shape"] == [None, 10]  # not asked
    assert follow_shapes(h, {"X", "logits"}) == []  # already what the graph says


def test_set_asset_files_and_tensorflow_version():
    g = gs.load(SAVED_TF1)
    g.set_asset_files([("vocab.txt", "X:0")])
    (entry,) = g.meta_graph.asset_file_def
    assert (entry.filename, entry.tensor_info.name, entry.tensor_info.dtype) == ("vocab.txt", "X:0", 7)
    g.set_asset_files([])
    assert len(g.meta_graph.asset_file_def) == 0
    g.set_tensorflow_version("2.21.0")
    assert g.meta_graph.meta_info_def.tensorflow_version == "2.21.0"
    with pytest.raises(UsageError, match="plain GraphDef"):
        gs.load(FROZEN).set_tensorflow_version("2.21.0")


def test_retarget_references_points_signatures_and_collections_at_new_tensors():
    g = gs.load(SAVED_TF1)
    g.add_to_collection("mine", "logits:0", "X:0")
    notes = g.retarget_references({"logits:0": "probabilities:0"})
    assert g.signatures["serving_default"]["outputs"]["logits"]["name"] == "probabilities:0"
    assert list(g.meta_graph.collection_def["mine"].node_list.value) == ["probabilities:0", "X:0"]
    assert "signature 'serving_default' output 'logits': logits:0 -> probabilities:0" in notes
    assert "collection 'mine': logits:0 -> probabilities:0" in notes
    assert g.retarget_references({}) == []


def test_set_device_at_the_top_level_and_in_a_function_body():
    g = gs.load(TF2)
    body = g.function(SERVE)
    target = next(op.name for op in body if op.type == "MatMul")
    body.set_device(target, "/device:CPU:0")
    written = {n.name: n.device for n in g.library[SERVE].node_def}
    assert written[target] == "/device:CPU:0"  # written back to the library's FunctionDef
    cleared, changes = gs.clear_devices(g)
    assert all(not n.device for n in cleared.library[SERVE].node_def)
    assert changes.details["function_ops"] >= 1  # the input keeps its devices:
    assert {n.name: n.device for n in g.library[SERVE].node_def}[target] == "/device:CPU:0"
    top = gs.load(TF1)
    top.set_device("hidden1/MatMul", "/device:GPU:0")
    assert top.op("hidden1/MatMul").device == "/device:GPU:0"
