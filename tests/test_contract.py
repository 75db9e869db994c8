"""The rewrite contract and the decisions it rests on, on small hand-made MetaGraphDefs (TensorFlow-free).

Which collections hold VariableDefs is decided by content (whatever the
collection's name); ``ensures`` refuses a result that TensorFlow's loaders
would refuse: a VariableDef (``global_step`` too) naming a removed op, a
main-op collection left empty, a saver asking the checkpoint for a key it
lacks. What the input already broke is not the rewrite's doing and passes.
What TensorFlow does with each is checked against TensorFlow in
tests/test_rewrite_idioms.py.
"""
from __future__ import annotations

import numpy as np
import pytest

from graphsurgeon import Graph
from graphsurgeon.errors import RewriteError
from graphsurgeon.formats.bundle import BundleReader
from graphsurgeon.formats.bundle_writer import BundleWriter
from graphsurgeon.formats.slices import _signed_increasing, parse_spec, read_value, slice_key
from graphsurgeon.ir.changes import Changes
from graphsurgeon.metagraph.variables import parse_variable_def, variable_def_collections
from graphsurgeon.surgery.contract import ensures
from graphsurgeon.surgery.new_saver import add_saver
from graphsurgeon.vocab import protos


def _node(graph_def, name, op, inputs=(), **attrs):
    node = graph_def.node.add(name=name, op=op)
    node.input.extend(inputs)
    for key, value in attrs.items():
        if key == "dtype":
            node.attr["dtype"].type = value
        elif key == "shape":
            node.attr["shape"].shape.SetInParent()
            for d in value:
                node.attr["shape"].shape.dim.add(size=d)
    return node


def _variable_def(name: str) -> bytes:
    return protos.VariableDef(variable_name=f"{name}:0", initializer_name=f"{name}/Assign",
                              snapshot_name=f"{name}/read:0", trainable=False).SerializeToString()


def _model(with_step: bool = True) -> Graph:
    """``x -> Identity``, a variable ``v`` (float [2]), and a ``global_step`` in its own collection."""
    meta = protos.MetaGraphDef()
    gd = meta.graph_def
    _node(gd, "x", "Placeholder", dtype=1)
    _node(gd, "y", "Identity", ["x"])
    names = ["v"] + (["global_step"] if with_step else [])
    for name in names:
        _node(gd, name, "VariableV2", dtype=1 if name == "v" else 9, shape=[2] if name == "v" else [])
        _node(gd, f"{name}/init", "Const", dtype=1 if name == "v" else 9)
        _node(gd, f"{name}/Assign", "Assign", [name, f"{name}/init"])
        _node(gd, f"{name}/read", "Identity", [name])
    meta.collection_def["variables"].bytes_list.value.extend(_variable_def(n) for n in names)
    if with_step:
        meta.collection_def["global_step"].bytes_list.value.append(_variable_def("global_step"))
    meta.collection_def["train_op"].node_list.value.append("y")
    return Graph(meta.graph_def, meta_graph=meta)


def _without(g: Graph, names: set[str]) -> Graph:
    """A copy of ``g`` whose GraphDef lacks ``names``, its MetaGraphDef untouched (a careless rewrite)."""
    meta = protos.MetaGraphDef()
    meta.CopyFrom(g.meta_graph)
    keep = [n for n in meta.graph_def.node if n.name not in names]
    del meta.graph_def.node[:]
    meta.graph_def.node.extend(keep)
    return Graph(meta.graph_def, meta_graph=meta, checkpoint=g.checkpoint)


# ---------------------------------------------------------------- which collections hold VariableDefs

def test_variable_def_collections_are_found_by_content_whatever_their_name():
    g = _model()
    meta = g.meta_graph
    meta.collection_def["my_library_vars"].bytes_list.value.append(_variable_def("v"))
    saver = protos.SaverDef(filename_tensor_name="save/Const:0", save_tensor_name="save/Identity:0",
                            restore_op_name="save/restore_all", max_to_keep=5, version=1)
    meta.collection_def["savers"].bytes_list.value.append(saver.SerializeToString())
    meta.collection_def["my_savers"].bytes_list.value.append(saver.SerializeToString())
    cond = protos.CondContextDef(context_name="cond/cond_text", pred_name="cond/pred_id:0",
                                 pivot_name="cond/switch_t:0", branch=1)
    meta.collection_def["my_conds"].bytes_list.value.append(cond.SerializeToString())
    meta.collection_def["words"].bytes_list.value.extend([b"hello", b"world"])
    meta.collection_def["mixed"].bytes_list.value.extend([_variable_def("v"), b"hello"])
    assert variable_def_collections(meta) == ["global_step", "my_library_vars", "variables"]
    # Protocol buffers parse leniently: a SaverDef or a cond context parses as a VariableDef with fields
    # of another meaning; strictly, none of them is one.
    for raw in (saver.SerializeToString(), cond.SerializeToString(), b"hello", b""):
        assert parse_variable_def(raw) is None
    assert parse_variable_def(_variable_def("v")).snapshot_name == "v/read:0"
    assert g.collection("my_library_vars")[0].variable_name == "v:0"
    assert g.collections["global_step"].message_type == "VariableDef"


def test_removing_a_variable_drops_it_from_every_collection_that_holds_it():
    g = _model()
    g.meta_graph.collection_def["my_library_vars"].bytes_list.value.append(_variable_def("global_step"))
    changes = g.remove_ops(["global_step", "global_step/init", "global_step/Assign", "global_step/read"])
    assert sorted(d.split(":")[0] for d in changes.dropped) == [
        "collection 'global_step'", "collection 'my_library_vars'", "collection 'variables'"]
    assert not g.meta_graph.collection_def["global_step"].bytes_list.value
    ensures(g, changes, before=_model())


# ---------------------------------------------------------------- ensures

def test_ensures_refuses_a_global_step_entry_naming_a_removed_variable():
    """Issue 22 point 1: import_meta_graph fails with KeyError 'global_step:0'; the contract says so first."""
    before = _model()
    result = _without(before, {"global_step", "global_step/init", "global_step/Assign", "global_step/read"})
    with pytest.raises(RewriteError, match="global_step"):
        ensures(result, Changes(), before=before)
    # Already broken in the input: not the rewrite's doing.
    ensures(result, Changes(), before=result)


def test_ensures_refuses_a_variable_def_naming_a_constant():
    before = _model(with_step=False)
    result = _without(before, set())
    node = result.node_for_edit("v")
    node.op = "Const"
    with pytest.raises(RewriteError, match="holding variable v:0, which is a Const"):
        ensures(result, Changes(), before=before)


def test_ensures_refuses_an_empty_main_op_collection_and_the_walk_removes_one():
    """"Expected exactly one SavedModel init op. Found 0": a main-op collection must hold one op."""
    before = _model(with_step=False)
    before.meta_graph.collection_def["saved_model_main_op"].node_list.value.append("y")
    result = _without(before, set())
    del result.meta_graph.collection_def["saved_model_main_op"].node_list.value[:]
    with pytest.raises(RewriteError, match="'saved_model_main_op' holding 0 ops"):
        ensures(result, Changes(), before=before)
    # Removing the main op takes the collection with it rather than leaving it empty.
    g = _model(with_step=False)
    g.meta_graph.collection_def["saved_model_main_op"].node_list.value.append("y")
    changes = g.remove_ops(["y"])
    assert "saved_model_main_op" not in g.meta_graph.collection_def
    assert "collection 'saved_model_main_op': y" in changes.dropped


def _checkpoint(tmp_path, name="model.ckpt", **values) -> str:
    prefix = str(tmp_path / name)
    with BundleWriter(prefix) as writer:
        for key, value in values.items():
            value = np.asarray(value, dtype=np.float32)
            writer.add(key, "float32", value.shape, value.tobytes())
    return prefix


def test_ensures_refuses_a_saver_asking_for_a_key_the_checkpoint_lacks(tmp_path):
    before = _model(with_step=False)
    before.checkpoint = _checkpoint(tmp_path, v=[1.0, 2.0])
    add_saver(before, {"v": ("v", "")})
    ensures(before, Changes(), before=before)
    result = _without(before, set())
    result.meta_graph.ClearField("saver_def")
    add_saver(result, {"v": ("v/ExponentialMovingAverage", "")})
    with pytest.raises(RewriteError, match="key 'v/ExponentialMovingAverage', which the checkpoint does not hold"):
        ensures(result, Changes(), before=before)
    # Without a saver_def, import_meta_graph's default Saver restores each variable of 'variables' by name.
    default = _without(before, set())
    default.meta_graph.ClearField("saver_def")
    default.checkpoint = _checkpoint(tmp_path, "other.ckpt", w=[1.0, 2.0])
    with pytest.raises(RewriteError, match="the saver restoring v from checkpoint key 'v'"):
        ensures(default, Changes(), before=before)


# ---------------------------------------------------------------- partitioned variables

def test_slice_keys_are_tensorflows_ordered_code():
    """Hand-checked against ordered_code.cc's own examples and a key TensorFlow's Saver wrote."""
    assert _signed_increasing(0x424242) == bytes.fromhex("f0424242")
    assert _signed_increasing(-0x800) == bytes.fromhex("3800")
    assert _signed_increasing(0) == b"\x80" and _signed_increasing(-1) == b"\x7f" and _signed_increasing(63) == b"\xbf"
    assert _signed_increasing(64) == bytes.fromhex("c040")  # sign 1, one length bit 1, delimiter 0, 13 bits
    key = slice_key("embedding/weights", [(10, 10), (0, 8)]).encode("utf-8", "surrogateescape")
    assert key == b"\x00embedding/weights\x00\x01\x01\x02\x8a\x8a\x80\x88"  # as tf.compat.v1.train.Saver wrote it
    assert slice_key("a\x00b", [(0, None)]).encode("utf-8", "surrogateescape") == b"\x00a\x00\xffb\x00\x01\x01\x01\x80\x7f"
    assert parse_spec("30 8 10,10:-") == ([30, 8], [(10, 10), (0, 8)])
    with pytest.raises(ValueError):
        parse_spec("30 8 25,10:0,8")


def test_a_bundle_saved_in_slices_joins_them_and_reads_one(tmp_path):
    """A partitioned variable as TF's BundleWriter::AddSlice stores it: the full entry lists the slices."""
    full = np.arange(12, dtype=np.float32).reshape(6, 2)
    prefix = str(tmp_path / "sliced")
    with BundleWriter(prefix) as writer:
        entry = protos.BundleEntryProto(dtype=1)
        entry.shape.dim.add(size=6)
        entry.shape.dim.add(size=2)
        for start in (0, 3):
            sl = entry.slices.add()
            sl.extent.add(start=start, length=3)
            sl.extent.add()  # the whole dimension
            writer.add(slice_key("w", [(start, 3), (0, None)]), "float32", (3, 2), full[start:start + 3].tobytes())
        writer.add_entry("w", entry, b"")
    with BundleReader(prefix) as reader:
        assert reader.keys() == ["w"] and len(reader.entry_keys()) == 3
        assert np.array_equal(reader.read("w"), full)
        assert np.array_equal(read_value(reader, "w", "6 2 3,3:-"), full[3:])
