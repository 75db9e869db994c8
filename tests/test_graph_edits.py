"""The Graph's edit primitives, one by one: each does what it says, and leaves the index exactly as a
fresh load of the same protos would build it (uses, data uses, is_read, dtypes, wiring, shapes, nx).

Every edit runs with the indexes already built (so their incremental upkeep is what is checked),
on the fixture training graph (a MetaGraphDef with collections and a saver), the frozen GraphDef,
a TF1 while loop of the corpus, and a TF2 function body, whose edits must reach the library.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
from _support import CORPUS_DIR, assert_index_consistent, fixture_model, fresh

import graphsurgeon as gs
from graphsurgeon.errors import NotFoundError, RewriteError, UsageError
from graphsurgeon.vocab import protos
from graphsurgeon.vocab.values import to_numpy

TF1 = fixture_model("mnist_bn_elu_tf1")
FROZEN = fixture_model("mnist_bn_elu_frozen.pb")
TF2 = fixture_model("mnist_bn_elu_savedmodel_tf2")
SERVE = "__inference_serve_129"


def indexed(g):
    """``g`` with every index and derived fact built, so that edits must keep them current."""
    g.uses("X" if "X" in g.node_defs else next(iter(g.node_defs)))
    g.data_uses(next(iter(g.node_defs)))
    g.wiring()
    g.shapes  # noqa: B018
    g.nx  # noqa: B018
    return g


@pytest.fixture
def tf1():
    return indexed(gs.load(TF1))


@pytest.fixture
def frozen():
    return indexed(gs.load(FROZEN))


# ---------------------------------------------------------------- add_op
def test_add_op_by_type_infers_attributes_and_keeps_the_index(tf1):
    op = tf1.add_op("Relu", ["hidden1/BiasAdd:0"])
    assert (op.name, op.type, op.attrs["T"]) == ("Relu", "Relu", "float32")
    assert op.outputs[0].shape == (None, 300)
    assert [u.consumer for u in tf1.uses("hidden1/BiasAdd")].count("Relu") == 1
    again = tf1.add_op("Relu", [op.outputs[0]], control_inputs=["hidden1/MatMul"])
    assert again.name == "Relu_1" and again.control_input_names == ["hidden1/MatMul"]
    assert_index_consistent(tf1)


def test_add_op_of_a_node_def_still_works(frozen):
    node = protos.node_def_pb2.NodeDef(name="extra", op="Identity", input=["logits"])
    node.attr["T"].type = 1
    assert frozen.add_op(node).outputs[0].dtype == "float32"
    with pytest.raises(RewriteError, match="already exists"):
        frozen.add_op(node)
    assert_index_consistent(frozen)


def test_add_op_into_the_stripped_op_list(tf1):
    listed = {op.name for op in tf1.meta_graph.meta_info_def.stripped_op_list.op}
    assert "Relu6" not in listed
    tf1.add_op("Relu6", ["hidden1/BiasAdd:0"])
    assert "Relu6" in {op.name for op in tf1.meta_graph.meta_info_def.stripped_op_list.op}


# ---------------------------------------------------------------- remove_ops
def test_remove_ops_fixes_references_and_keeps_the_index(tf1):
    assert "eval/accuracy:0" in [t.name for t in tf1.collection("my_important_ops")]
    before = len(tf1)
    with pytest.raises(RewriteError, match="still reads it"):
        tf1.remove_ops(["eval/Cast"])
    assert len(tf1) == before  # refused: nothing changed
    assert_index_consistent(tf1)
    changes = tf1.remove_ops(["eval/Mean", "eval/accuracy"] if "eval/Mean" in tf1.node_defs else ["eval/accuracy"])
    assert "eval/accuracy" in changes.removed and any("my_important_ops" in d for d in changes.dropped)
    assert "eval/accuracy:0" not in [t.name for t in tf1.collection("my_important_ops")]
    assert_index_consistent(tf1)


def test_removing_twenty_thousand_readers_of_one_op_is_linear():
    """Use removal is O(1) per use: removing 4x the readers takes about 4x the time, not 16x."""
    def build(n):
        gd = protos.GraphDef()
        gd.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
        for i in range(n):
            gd.node.add(name=f"r{i}", op="Identity", input=["x"]).attr["T"].type = 1
        g = gs.Graph(gd)
        g.uses("x")
        g.data_uses("x")
        return g

    def seconds(n):
        runs = []
        for _ in range(3):
            g = build(n)
            names = [f"r{i}" for i in range(n)]
            start = time.perf_counter()
            g.remove_ops(names)
            runs.append(time.perf_counter() - start)
            assert g.uses("x") == () and len(g) == 1
        return sorted(runs)[1]

    small, large = seconds(5000), seconds(20000)
    print(f"\nremove 5k readers {small:.3f} s, 20k {large:.3f} s (ratio {large / small:.1f}; quadratic was ~16-20)")
    assert large / small < 9
    assert large < 2.0


def test_removing_some_of_many_readers_keeps_use_order():
    gd = protos.GraphDef()
    gd.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
    for i in range(40):
        gd.node.add(name=f"r{i}", op="Identity", input=["x"]).attr["T"].type = 1
    g = gs.Graph(gd)
    g.uses("x")
    g.remove_ops([f"r{i}" for i in range(0, 40, 3)])
    assert [u.consumer for u in g.uses("x")] == [f"r{i}" for i in range(40) if i % 3]
    assert_index_consistent(g)


# ---------------------------------------------------------------- rewire / replace_all_uses
def test_replace_all_uses_inserts_after_without_rewiring_the_new_op(tf1):
    readers = {c.name for c in tf1.tensor("hidden1/BiasAdd:0").consumers}
    relu = tf1.add_op("Relu", ["hidden1/BiasAdd:0"], name="hidden1/relu")
    changed = tf1.replace_all_uses("hidden1/BiasAdd:0", relu.outputs[0])
    assert set(changed) == readers
    assert relu.input_names == ["hidden1/BiasAdd:0"]  # the new op still reads the old tensor
    assert {c.name for c in tf1.tensor("hidden1/BiasAdd:0").consumers} == {"hidden1/relu"}
    assert_index_consistent(tf1)


def test_replace_all_uses_leaves_control_edges_and_honours_only(frozen):
    g = frozen
    control_readers = [u.consumer for u in g.uses("hidden1/MatMul") if u.control]
    identity = g.add_op("Identity", ["hidden1/MatMul:0"], control_inputs=["hidden1/BiasAdd"], name="ctl")
    consumers = [c.name for c in g.tensor("hidden1/MatMul:0").consumers if c.name != "ctl"]
    assert g.replace_all_uses("hidden1/MatMul:0", identity.outputs[0], only=[]) == []
    assert g.replace_all_uses("hidden1/MatMul:0", identity.outputs[0], only=consumers[:1]) == consumers[:1]
    assert [u.consumer for u in g.uses("hidden1/MatMul") if u.control] == control_readers
    with pytest.raises(NotFoundError):
        g.replace_all_uses("hidden1/MatMul:0", "nothing:0")
    assert_index_consistent(g)


def test_rewire_to_a_control_edge(frozen):
    consumer = frozen.tensor("hidden1/BiasAdd:0").consumers[0].name
    frozen.add_op("NoOp", name="gate")
    frozen.rewire("hidden1/BiasAdd:0", "^gate", only=[consumer])
    assert "gate" in frozen.op(consumer).control_input_names
    assert_index_consistent(frozen)


# ---------------------------------------------------------------- rename_ops
def test_rename_ops_follows_everywhere_and_keeps_the_index(tf1):
    notes = tf1.rename_ops({"X": "images", "hidden1/kernel": "dense1/kernel"})
    assert notes  # the collections and the saver named them
    assert tf1.op("hidden1/MatMul").input_names[0] == "images:0"
    assert "images:0" in [t.name for t in tf1.collection("my_important_ops")]
    with pytest.raises(RewriteError, match="exists"):
        tf1.rename_ops({"images": "y"})
    assert_index_consistent(tf1)


# ---------------------------------------------------------------- set_inputs / set_input
def test_set_input_changes_one_data_input_and_keeps_control_inputs(frozen):
    g = frozen
    g.add_op("NoOp", name="first")
    g.set_inputs("hidden2/MatMul", list(g.node_defs["hidden2/MatMul"].input) + ["^first"])
    g.set_input("hidden2/MatMul", 0, "hidden1/BiasAdd:0")
    assert g.op("hidden2/MatMul").input_names[0] == "hidden1/BiasAdd:0"
    assert g.op("hidden2/MatMul").control_input_names == ["first"]
    with pytest.raises(UsageError, match="no input 2"):
        g.set_input("hidden2/MatMul", 2, "hidden1/BiasAdd:0")
    with pytest.raises(NotFoundError):
        g.set_input("hidden2/MatMul", 1, "hidden1/BiasAd:0")
    assert_index_consistent(g)


# ---------------------------------------------------------------- set_attr
def test_set_attr_takes_python_values_and_keeps_dtypes_and_shapes_current(tf1):
    tf1.set_attr("X", "shape", (1, 784))
    assert tf1.op("X").attrs["shape"] == (1, 784)
    assert tf1.tensor("hidden1/MatMul:0").shape == (1, 300)
    tf1.set_attr("hidden1/MatMul", "transpose_b", True)
    assert tf1.op("hidden1/MatMul").attrs["transpose_b"] is True
    tf1.set_attr("X", "dtype", "float64")
    assert tf1.tensor("X:0").dtype == "float64"
    assert_index_consistent(tf1)
    with pytest.raises(UsageError, match="no attribute 'colour'"):
        tf1.set_attr("X", "colour", 1)
    with pytest.raises(UsageError, match="bool"):
        tf1.set_attr("hidden1/MatMul", "transpose_a", "yes")


def test_set_attr_on_a_const_sets_its_dtype_too(frozen):
    name = next(op.name for op in frozen.ops(type="Const") if op.attrs["value"].ndim == 0)
    frozen.set_attr(name, "value", np.arange(3, dtype=np.int64))
    op = frozen.op(name)
    assert op.attrs["dtype"] == "int64" and op.attrs["value"].tolist() == [0, 1, 2]
    assert op.outputs[0].dtype == "int64"
    assert_index_consistent(frozen)


# ---------------------------------------------------------------- cleanup
def test_cleanup_removes_what_an_edit_orphaned_and_nothing_else(frozen):
    g = frozen
    assert not g.cleanup()  # a loaded graph keeps its sinks: nothing to do
    elu = g.op("Elu")
    bypass = g.add_op("Relu", [elu.inputs[0]], name="relu")
    g.replace_all_uses(elu.outputs[0], bypass.outputs[0])
    changes = g.cleanup()
    assert changes.removed == ["Elu"]
    assert_index_consistent(g)
    kept = g.cleanup(outputs=["logits:0"])
    assert "probabilities" in kept.removed and "logits" in g.node_defs and "X" in g.node_defs
    assert_index_consistent(g)


def test_cleanup_keeps_what_the_model_names_and_colocations(tf1):
    changes = tf1.cleanup()
    assert not changes.removed  # every sink and named op stays
    tf1.remove_ops(["train/training_op"])
    assert_index_consistent(tf1)


def test_cleanup_of_a_graph_built_from_nothing_needs_outputs():
    g = gs.Graph()
    x = g.placeholder("x", "float32", (None, 2))
    g.add_op("Neg", [x])
    with pytest.raises(UsageError, match="outputs"):
        g.cleanup()
    assert g.cleanup(outputs=[x]).removed == ["Neg"]


# ---------------------------------------------------------------- toposort
def test_toposort_orders_a_shuffled_graph_and_leaves_a_sorted_one_alone(frozen):
    view = frozen.op("logits")
    frozen.toposort()  # TensorFlow's freeze wrote a Mean before the Switch it reads
    data = frozen.graph_def.SerializeToString()
    frozen.toposort()
    assert frozen.graph_def.SerializeToString() == data  # sorted: left as it is
    nodes = list(frozen.graph_def.node)
    order = sorted(range(len(nodes)), key=lambda i: (i * 7919) % len(nodes))
    shuffled = protos.GraphDef()
    shuffled.node.extend(nodes[i] for i in order)
    g = indexed(gs.Graph(shuffled))
    g.toposort()
    position = {n.name: i for i, n in enumerate(g.graph_def.node)}
    for node in g.graph_def.node:
        for ref in g.input_refs(node.name):
            assert position[ref.op] < position[node.name], (ref.op, node.name)
    assert view.name == "logits"
    assert_index_consistent(g)


def test_toposort_of_a_tf1_while_loop_ignores_its_back_edges():
    if CORPUS_DIR is None:
        pytest.skip("GS_CORPUS_DIR not set")
    g = gs.load(CORPUS_DIR / "tfmlir_graph_while_loop" / "graph-while-loop.pbtxt")
    nodes = list(g.graph_def.node)
    reversed_def = protos.GraphDef()
    reversed_def.node.extend(reversed(nodes))
    h = indexed(gs.Graph(reversed_def)).toposort()
    position = {n.name: i for i, n in enumerate(h.graph_def.node)}
    for node in h.graph_def.node:
        for ref in h.input_refs(node.name):
            back = node.op == "Merge" and h.node_defs[ref.op].op == "NextIteration"
            assert back or position[ref.op] < position[node.name], (ref.op, node.name)
    assert_index_consistent(h)


# ---------------------------------------------------------------- prune_library
def test_prune_library_after_removing_a_call():
    g = indexed(gs.load(TF2))
    assert g.prune_library() == []
    callers = [op.name for op in g if op.type == "StatefulPartitionedCall" and
               any(f == "__inference_signature_wrapper_serve_173" for _, f in op.calls)]
    g.remove_ops(callers)
    gone = g.prune_library()
    assert "__inference_signature_wrapper_serve_173" in gone and SERVE in gone
    assert "__inference__traced_save_304" not in gone  # the saver still calls it
    assert_index_consistent(g)


# ---------------------------------------------------------------- function bodies
def test_function_body_edits_are_written_back_to_the_library():
    g = gs.load(TF2)
    body = indexed(g.function(SERVE))
    elu = body.op("Elu")
    relu = body.add_op("Relu", [elu.inputs[0]], name="relu")
    body.replace_all_uses(elu.outputs[0], relu.outputs[0])
    assert_index_consistent(body)
    written = {n.name: n for n in g.library[SERVE].node_def}
    assert list(written["relu"].input) == ["batchnorm/add_1:z:0"]  # as a FunctionDef spells it
    assert list(written["MatMul_1"].input)[0] == "relu:activations:0"
    assert body.cleanup().removed == ["Elu"]
    assert "Elu" not in {n.name for n in g.library[SERVE].node_def}
    body.set_attr("batchnorm/add/y", "value", np.float32(0.5))
    body.rename_ops({"relu": "activation"})
    body.toposort()
    assert_index_consistent(body)
    assert [n.name for n in g.library[SERVE].node_def if n.op == "Relu"] == ["activation"]
    assert dict(g.library[SERVE].ret) == {"identity": "Identity:output:0", "identity_1": "Identity_1:output:0"}
    assert fresh(g).function(SERVE).op("batchnorm/add/y").attrs["value"] == np.float32(0.5)


def test_an_unedited_function_writes_back_what_it_read():
    from graphsurgeon.ir.functions import function_to_graph_def, write_body

    g = gs.load(TF2)
    for name, function_def in g.library.items():
        copy = protos.FunctionDef()
        copy.CopyFrom(function_def)
        write_body(function_to_graph_def(copy, g.registry), copy, g.registry)
        assert copy.SerializeToString(deterministic=True) == function_def.SerializeToString(deterministic=True), name


def test_node_for_edit_is_for_the_top_level():
    g = gs.load(TF2)
    with pytest.raises(UsageError, match="set_attr"):
        g.function(SERVE).node_for_edit("Elu")


def test_batched_edits_write_a_body_back_once():
    g = gs.load(TF2)
    body = g.function(SERVE)
    with body.batch():
        for name in ("batchnorm/add/y", "batchnorm_1/add/y"):
            body.set_attr(name, "value", np.float32(0.25))
        assert {n.name: n for n in g.library[SERVE].node_def}["batchnorm/add/y"].attr["value"].tensor.float_val \
            != [0.25]  # not yet
    values = {n.name: n.attr["value"].tensor for n in g.library[SERVE].node_def if n.name.endswith("add/y")}
    assert to_numpy(values["batchnorm_1/add/y"]) == np.float32(0.25)  # written once the block ended
    assert fresh(g).function(SERVE).op("batchnorm_1/add/y").attrs["value"] == np.float32(0.25)
