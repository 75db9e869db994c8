"""Building and reading ops as Python values: gs.Graph(), placeholder, constant, name_scope, add_op with
attributes inferred through the OpDef, Op.attrs, set_attr.

TensorFlow is the oracle: the graphs built here are imported and run by TensorFlow (one subprocess),
from .pb, .pbtxt and .meta, and give the numbers numpy gives.
"""
from __future__ import annotations

import numpy as np
import pytest
from _support import close, fixture_model, tf_run

import graphsurgeon as gs
from graphsurgeon.errors import NotFoundError, RewriteError, UsageError
from graphsurgeon.vocab import protos

TF1 = fixture_model("mnist_bn_elu_tf1")


def tiny():
    e = gs.Graph()
    x = e.placeholder("x", "float32", (None, 4))
    w = e.constant(np.arange(8, dtype=np.float32).reshape(4, 2) / 8, name="w")
    with e.name_scope("head"):
        mm = e.add_op("MatMul", [x, w])
        out = e.add_op("Softmax", [mm.outputs[0]], name="probs")
    return e, x, w, mm, out


def test_the_issue_example_builds_what_it_says():
    e, x, w, mm, out = tiny()
    assert (x.name, x.dtype, x.shape) == ("x:0", "float32", (None, 4))
    assert (w.name, w.dtype, w.shape) == ("w:0", "float32", (4, 2))
    assert (mm.name, mm.attrs["T"], mm.attrs["transpose_a"]) == ("head/MatMul", "float32", False)
    assert (out.name, out.input_names) == ("head/probs", ["head/MatMul:0"])
    assert out.outputs[0].shape == (None, 2)
    assert e.graph_def.versions.producer > 0


def test_names_are_made_unique_as_tensorflow_makes_them():
    g = gs.Graph()
    x = g.placeholder("x", "float32", (2,))
    names = [g.add_op("Neg", [x]).name for _ in range(3)]
    assert names == ["Neg", "Neg_1", "Neg_2"]
    with g.name_scope("a"), g.name_scope("b"):
        assert g.add_op("Neg", [x]).name == "a/b/Neg"
        assert g.add_op("Neg", [x], name="n").name == "a/b/n"
        assert g.constant(1.0).name == "a/b/Const:0"
    assert g.add_op("Neg", [x], name="with/slash").name == "with/slash"  # as given outside a scope
    with pytest.raises(RewriteError, match="already exists"):
        g.add_op("Neg", [x], name="with/slash")
    with pytest.raises(UsageError, match="not a name"):
        g.add_op("Neg", [x], name="_bad")
    with pytest.raises(UsageError, match="not a name scope"):
        with g.name_scope("bad scope"):
            pass


def test_attributes_are_inferred_through_the_op_def():
    g = gs.Graph()
    a = g.placeholder("a", "float32", (2, 3))
    i = g.constant(np.int64(1), name="axis")
    concat = g.add_op("ConcatV2", [a, a, a, i])
    assert (concat.attrs["N"], concat.attrs["T"], concat.attrs["Tidx"]) == (3, "float32", "int64")
    assert concat.outputs[0].shape == (2, 9)
    ident = g.add_op("IdentityN", [a, i])
    assert ident.attrs["T"] == ["float32", "int64"] and [t.dtype for t in ident.outputs] == ["float32", "int64"]
    addn = g.add_op("AddN", [a, a])
    assert addn.attrs["N"] == 2
    cast = g.add_op("Cast", [a], attrs={"DstT": "int32"})
    assert (cast.attrs["SrcT"], cast.attrs["Truncate"], cast.outputs[0].dtype) == ("float32", False, "int32")
    mean = g.add_op("Mean", [a, g.constant([1], name="r")])
    assert (mean.attrs["Tidx"], mean.attrs["keep_dims"]) == ("int32", False)  # a Python int is int32


@pytest.mark.parametrize("call, message", [
    (lambda g, a: g.add_op("MatMul", [a]), "takes 2 inputs"),
    (lambda g, a: g.add_op("MatMul", [a, g.constant(np.ones((3, 1), np.int32))]), "disagree on T"),
    (lambda g, a: g.add_op("MatMul", [a, a], attrs={"transpose_c": True}), "no attribute 'transpose_c'"),
    (lambda g, a: g.add_op("MatMul", [a, a], attrs={"transpose_a": 1}), "is a bool"),
    (lambda g, a: g.add_op("Cast", [a]), "needs attribute 'DstT'"),
    (lambda g, a: g.add_op("Softmax", [g.constant(np.ones(2, np.int32))]), "does not take T=int32"),
    (lambda g, a: g.add_op("Assign", [a, a]), "must be a reference"),
    (lambda g, a: g.add_op("Neg", ["^a"]), "control input"),
    (lambda g, a: g.add_op("Neg", [3]), "Tensor or a tensor name"),
    (lambda g, a: g.add_op("Neg", [a], attrs={"T": "int32"}), "is float32, but T is int32"),
    (lambda g, a: g.add_op("Placeholder", name="p"), "needs attribute 'dtype'"),
    (lambda g, a: g.add_op("ConcatV2", [a]), "needs N >= 2"),
])
def test_add_op_refuses_what_tensorflow_would_refuse_naming_it(call, message):
    g = gs.Graph()
    a = g.placeholder("a", "float32", (2, 3))
    before = len(g)
    with pytest.raises(UsageError, match=message):
        call(g, a)
    assert len(g) <= before + 1  # at most the constant the call made; never the op refused


def test_inputs_must_exist_and_belong_to_the_graph():
    g, h = gs.Graph(), gs.Graph()
    a = g.placeholder("a", "float32", (2,))
    with pytest.raises(NotFoundError, match="did you mean"):
        g.add_op("Neg", ["aa:0"])
    with pytest.raises(NotFoundError):
        g.add_op("Neg", ["a:1"])
    with pytest.raises(UsageError, match="another graph"):
        h.add_op("Neg", [a])


def test_an_op_type_nobody_defines_takes_every_attribute_as_given():
    g = gs.Graph()
    a = g.placeholder("a", "float32", (2,))
    op = g.add_op("MyCustomOp", [a], attrs={"T": np.float32, "k": 3, "alpha": 0.5, "mode": "fast",
                                            "dims": (2, None), "flags": [True, False]})
    assert op.attrs == {"T": "float32", "alpha": 0.5, "dims": (2, None), "flags": [True, False], "k": 3,
                        "mode": "fast"}
    assert op.outputs == [] and g.output_dtypes(op.name) is None
    downstream = g.add_op("MyCustomOp", ["MyCustomOp:1"], attrs={"T": np.float32})  # any output of an unknown op
    assert downstream.input_names == ["MyCustomOp:1"]


def test_constants_take_tensorflows_dtypes():
    g = gs.Graph()
    assert g.constant(1.0).dtype == "float32"
    assert g.constant(1).dtype == "int32"
    assert g.constant(True).dtype == "bool"
    assert g.constant([[1.5, 2.5]]).shape == (1, 2)
    assert g.constant(np.float64(1)).dtype == "float64"
    assert g.constant(np.arange(3, dtype=np.int64)).dtype == "int64"
    text = g.constant(["a", b"\xff"], name="text")
    assert text.dtype == "string" and text.op.attrs["value"].tolist() == [b"a", b"\xff"]
    assert g.constant(3, dtype="int64").dtype == "int64"
    assert g.constant(3, dtype=np.float16).op.attrs["value"].dtype == np.float16


def test_op_attrs_are_python_values():
    g = gs.load(TF1)
    assert g.op("hidden1/MatMul").attrs["T"] == "float32"
    assert g.op("hidden1/MatMul").attrs["transpose_a"] is False
    assert g.op("X").attrs["shape"] == (None, 784)
    assert g.op("X").attrs["dtype"] == "float32"
    value = g.op("hidden1/kernel/Initializer/truncated_normal/shape").attrs["value"]
    assert isinstance(value, np.ndarray) and value.tolist() == [784, 300]
    assert g.op("hidden1/kernel").attrs["shape"] == (784, 300)
    assert g.op("hidden1/kernel").attrs["container"] == ""
    assert g.op("hidden1/kernel/read").attrs["_class"] == ["loc:@hidden1/kernel"]
    assert set(g.op("hidden1/MatMul").attrs) == set(g.op("hidden1/MatMul").attr_protos)
    assert g.op("hidden1/MatMul").attr_protos["T"].type == 1  # the raw AttrValue map
    with pytest.raises(TypeError, match="set_attr"):
        g.op("X").attrs["shape"] = (1, 784)
    with pytest.raises(KeyError):
        g.op("X").attrs["nothing"]  # noqa: B018


def test_op_attrs_of_every_kind():
    from graphsurgeon.vocab.attrs import from_python, to_python

    sm = gs.load(fixture_model("mnist_bn_elu_savedmodel_tf2"))
    call = next(op for op in sm if op.type == "StatefulPartitionedCall")
    assert call.attrs["f"].startswith("__inference_")  # a function attribute: its name
    assert isinstance(call.attrs["Tin"], list) and set(call.attrs["Tin"]) <= {"float32", "resource"}
    unknown = protos.attr_value_pb2.AttrValue()
    unknown.shape.unknown_rank = True
    assert to_python(unknown) is None
    assert to_python(from_python(b"\xff\xfe", "string")) == b"\xff\xfe"  # bytes when not UTF-8
    assert to_python(from_python([(1, None), None], "list(shape)")) == [(1, None), None]
    assert to_python(from_python([], "list(int)")) == []
    assert to_python(from_python(["float32", np.int64], "list(type)")) == ["float32", "int64"]
    assert to_python(from_python(np.array([b"a", b"b"], dtype=object), "tensor")).tolist() == [b"a", b"b"]
    assert to_python(from_python("f", "func")) == "f"
    assert to_python(from_python((), "shape")) == ()  # a scalar's shape, not an unknown one


def test_set_attr_round_trips_python_values():
    g = gs.load(TF1)
    for op, name, value in [("X", "shape", (None, 28)), ("X", "shape", None), ("hidden1/MatMul", "transpose_a", True),
                            ("hidden1/kernel", "shape", (784, 300)), ("hidden1/kernel", "container", "c"),
                            ("hidden1/kernel/read", "_class", ["loc:@hidden1/kernel"])]:
        g.set_attr(op, name, value)
        assert g.op(op).attrs[name] == value
    g.set_attr("hidden1/MatMul", "T", np.float64)
    assert g.op("hidden1/MatMul").attrs["T"] == "float64"


# ---------------------------------------------------------------- TensorFlow runs what was built
def _built_graph():
    """A graph exercising inference (N, T lists, Tidx, defaults, scopes), and what numpy says it computes."""
    g = gs.Graph()
    x = g.placeholder("x", "float32", (None, 3))
    w = g.constant(np.array([[1.0, -2.0], [0.5, 0.25], [3.0, 1.0]], np.float32), name="w")
    b = g.constant(np.array([0.1, -0.1], np.float32), name="b")
    with g.name_scope("dense"):
        mm = g.add_op("MatMul", [x, w])
        biased = g.add_op("BiasAdd", [mm.outputs[0], b])
        act = g.add_op("Relu", [biased.outputs[0]])
    both = g.add_op("ConcatV2", [act.outputs[0], biased.outputs[0], g.constant(1, name="axis")], name="both")
    total = g.add_op("AddN", [both.outputs[0], both.outputs[0], both.outputs[0]], name="total")
    cast = g.add_op("Cast", [total.outputs[0]], attrs={"DstT": "int32"}, name="as_int")
    g.add_op("Sum", [cast.outputs[0], g.constant([0, 1], name="axes")], attrs={"keep_dims": True},
                      name="summed")
    feed = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]], np.float32)
    z = feed @ np.array([[1.0, -2.0], [0.5, 0.25], [3.0, 1.0]], np.float32) + np.array([0.1, -0.1], np.float32)
    expected_total = 3 * np.concatenate([np.maximum(z, 0), z], axis=1)
    expected_sum = expected_total.astype(np.int32).sum(keepdims=True)
    return g, feed, {"total:0": expected_total, "summed:0": expected_sum}


def test_tensorflow_runs_graphs_built_from_nothing(tmp_path):
    g, feed, expected = _built_graph()
    assert g.op("summed").outputs[0].shape == (1, 1)
    jobs = []
    for name, kind in (("built.pb", "graphdef"), ("built.pbtxt", "graphdef"), ("built.meta", "meta")):
        path = g.save(tmp_path / name)
        jobs.append({"kind": kind, "model": path, "feeds": {"x:0": feed}, "fetches": list(expected)})
    e, *_ = tiny()
    tiny_path = e.save(tmp_path / "tiny.pb")
    ones = np.ones((2, 4), np.float32)
    jobs.append({"kind": "graphdef", "model": tiny_path, "feeds": {"x:0": ones}, "fetches": ["head/probs:0"]})
    results = tf_run(jobs, tmp_path / "run")
    for result in results[:3]:
        for value, want in zip(result["values"], expected.values()):
            assert close(value, want), (value, want)
    logits = ones @ (np.arange(8, dtype=np.float32).reshape(4, 2) / 8)
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert close(results[3]["values"][0], softmax)
    assert gs.load(tmp_path / "built.meta").op("dense/MatMul").attrs["T"] == "float32"
