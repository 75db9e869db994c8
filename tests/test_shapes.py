"""Shape inference without TensorFlow (graphsurgeon.analysis.shapes).

Three kinds of checks, all TF-free (test_parity_tf.py holds the TensorFlow oracle):

- small GraphDefs built here by hand, with hand-checked shapes;
- coverage on the fixture models with every recorded ``_output_shapes``
  removed: inference alone must know the rank of at least 95% of the tensors,
  and must agree with what TensorFlow recorded when it wrote the file;
- the same agreement on every corpus model.
"""
from __future__ import annotations

import numpy as np
import pytest
from _support import CORPUS_DIR, FIXTURES, without_output_shapes as _without_output_shapes

import graphsurgeon as gs
from graphsurgeon.analysis.shapes import broadcast, from_proto, merge
from graphsurgeon.ir.graph import Graph
from graphsurgeon.vocab import dtypes, protos, values

MANIFEST = FIXTURES / "manifest.json"
FIXTURE_GRAPHS = {
    "mnist_bn_elu_tf1": "mnist_bn_elu_tf1/model.ckpt.meta",
    "mnist_bn_elu_resource": "mnist_bn_elu_resource/model.ckpt.meta",
    "mnist_bn_elu_0to4": "mnist_bn_elu_0to4/model.ckpt.meta",
    "mnist_bn_elu_savedmodel_tf1": "mnist_bn_elu_savedmodel_tf1",
    "mnist_bn_elu_savedmodel_tf2": "mnist_bn_elu_savedmodel_tf2",
    "mnist_bn_elu_frozen.pb": "mnist_bn_elu_frozen.pb",
}
CORPUS_GRAPHS = {
    "gknoblau_v1_ckpt": ("gknoblau_v1_ckpt/model.ckpt.meta", None),
    "serving_half_plus_two_cpu": ("serving_half_plus_two_cpu", None),
    "serving_half_plus_two_tf2_cpu": ("serving_half_plus_two_tf2_cpu", None),
    "serving_session_bundle_half_plus_two": ("serving_session_bundle_half_plus_two/export.meta", None),
    "tf2onnx_lstm_frozen": ("tf2onnx_lstm_frozen/frozen.pb", None),
    "tf2onnx_regression_ckpt": ("tf2onnx_regression_ckpt/model.meta", None),
    "tfmlir_functional_while": ("tfmlir_functional_while/functional-while-ops.pbtxt", None),
    "tfmlir_graph_while_loop": ("tfmlir_graph_while_loop/graph-while-loop.pbtxt", None),
    "tfnet_cond_test_meta": ("tfnet_cond_test_meta/cond_test.meta", None),
    "tfnet_keras_lstm_from_sequential": ("tfnet_keras_lstm_from_sequential", None),
    "ptpb_xdeepfm_textpb": ("ptpb_xdeepfm_textpb/xDeepFM.pb", None),
    "tfx_transform_fn": ("tfx_transform_fn", "transform"),
    "deepmd_cu_frozen": ("deepmd_cu_frozen/frozen_model.pb", None),
}


# ---------------------------------------------------------------- a tiny GraphDef builder
class Builder:
    """Hand-built GraphDefs: ``b.const("c", [1, 2])``, ``b.op("m", "MatMul", ["a", "b"], T="float32")``."""

    def __init__(self, producer: int = 1000):
        self.gd = protos.GraphDef()
        self.gd.versions.producer = producer

    def op(self, name, type_, inputs=(), **attrs):
        node = self.gd.node.add(name=name, op=type_)
        node.input.extend(inputs)
        for key, value in attrs.items():
            a = node.attr[key]
            if isinstance(value, bool):
                a.b = value
            elif isinstance(value, int):
                a.i = value
            elif isinstance(value, str) and value in dtypes.NUMBERS:
                a.type = dtypes.number(value)
            elif isinstance(value, str):
                a.s = value.encode()
            elif isinstance(value, tuple):  # a shape; None dims unknown
                a.shape.SetInParent()
                for d in value:
                    a.shape.dim.add(size=-1 if d is None else d)
            elif value is None:
                a.shape.unknown_rank = True
            elif isinstance(value, list):
                a.list.i.extend(value)
        return name

    def const(self, name, value, dtype="int32"):
        self.op(name, "Const", dtype=dtype)
        self.gd.node[-1].attr["value"].tensor.CopyFrom(values.from_numpy(np.asarray(value, dtype=dtype)))
        return name

    def placeholder(self, name, shape, dtype="float32"):
        return self.op(name, "Placeholder", dtype=dtype, shape=shape)

    def graph(self) -> Graph:
        return Graph(self.gd)


def shape(g, name):
    return g.tensor(name if ":" in name else name + ":0").shape


# ---------------------------------------------------------------- hand-checked facts
def test_broadcast_and_merge_facts():
    assert broadcast((None, 300), (300,)) == (None, 300)
    assert broadcast((None, 1), (1, 10)) == (None, 10)
    assert broadcast((3, 1), (1, 4)) == (3, 4)
    assert broadcast((3,), (4,)) is None           # incompatible
    assert broadcast((None,), (0,)) == (None,)     # unknown vs 0: could be 0 or an error
    assert broadcast(None, (3,)) is None
    assert merge((None, 300), (50, None)) == (50, 300)
    assert merge((2,), (3,)) is None
    assert merge(None, (3,)) == (3,)


def test_reshape_fill_tile_from_folded_shape_tensors():
    b = Builder()
    b.placeholder("x", (None, 28, 28))
    b.op("s", "Shape", ["x"], T="float32", out_type="int32")
    b.const("begin", [0]), b.const("end", [1]), b.const("stride", [1])
    b.op("batch", "StridedSlice", ["s", "begin", "end", "stride"], T="int32", Index="int32",
         shrink_axis_mask=1)
    b.const("flat", 784)
    b.op("newshape", "Pack", ["batch", "flat"], T="int32", N=2, axis=0)
    b.op("r", "Reshape", ["x", "newshape"], T="float32", Tshape="int32")
    b.const("minus1", [-1, 14, 2])
    b.op("r2", "Reshape", ["r", "minus1"], T="float32", Tshape="int32")
    b.const("fixed", [4, 7])
    b.const("zero", 0.0, "float32")
    b.op("f", "Fill", ["fixed", "zero"], T="float32", index_type="int32")
    b.const("mult", [3, 2])
    b.op("t", "Tile", ["f", "mult"], T="float32", Tmultiples="int32")
    b.const("axes", [1])
    b.op("sum_keep", "Sum", ["t", "axes"], T="float32", Tidx="int32", keep_dims=True)
    b.op("mean", "Mean", ["x", "axes"], T="float32", Tidx="int32", keep_dims=False)
    b.op("bt", "BroadcastTo", ["zero", "s"], T="float32", Tidx="int32")
    g = b.graph()
    assert shape(g, "s") == (3,)
    assert shape(g, "batch") == ()
    assert shape(g, "r") == (None, 784)
    assert shape(g, "r2") == (None, 14, 2)          # -1 stays unknown: the batch is unknown
    assert shape(g, "f") == (4, 7)
    assert shape(g, "t") == (12, 14)
    assert shape(g, "sum_keep") == (12, 1)
    assert shape(g, "mean") == (None, 28)
    assert shape(g, "bt") == (None, 28, 28)


def test_reshape_minus_one_resolved_when_input_fully_known():
    b = Builder()
    b.placeholder("x", (6, 4))
    b.const("to", [-1, 3])
    b.op("r", "Reshape", ["x", "to"], T="float32", Tshape="int32")
    b.const("bad", [5, 5])
    b.op("r_bad", "Reshape", ["x", "bad"], T="float32", Tshape="int32")
    g = b.graph()
    assert shape(g, "r") == (8, 3)
    assert shape(g, "r_bad") is None  # 24 elements cannot be 5x5: never a wrong answer


def test_gradient_bookkeeping_ops():
    b = Builder()
    b.placeholder("a", (None, 10))
    b.placeholder("bias", (10,))
    b.op("sa", "Shape", ["a"], T="float32", out_type="int32")
    b.op("sb", "Shape", ["bias"], T="float32", out_type="int32")
    b.op("bga", "BroadcastGradientArgs", ["sa", "sb"], T="int32")
    b.op("sum", "Sum", ["a", "bga:1"], T="float32", Tidx="int32", keep_dims=False)
    b.op("back", "Reshape", ["sum", "sb"], T="float32", Tshape="int32")
    b.const("two", [2, 3])
    b.const("three", [3, 3])
    b.op("bga2", "BroadcastGradientArgs", ["two", "three"], T="int32")
    b.const("dim", -1)
    b.op("ed", "ExpandDims", ["bias", "dim"], T="float32", Tdim="int32")
    b.op("sq", "Squeeze", ["ed"], T="float32", squeeze_dims=[1])
    b.const("axis", 0)
    b.op("cat", "ConcatV2", ["a", "a", "axis"], T="float32", N=2, Tidx="int32")
    g = b.graph()
    assert shape(g, "bga:0") == (None,) and shape(g, "bga:1") == (None,)
    assert shape(g, "sum") is None            # reduction axes unknown: rank unknown
    assert shape(g, "back") == (10,)          # ... but reshaped to the bias's shape
    assert shape(g, "ed") == (10, 1)
    assert shape(g, "sq") == (10,)
    assert shape(g, "cat") == (None, 10)
    # Two fully known shapes fold: [2,3] vs [3,3] are incompatible; nothing is claimed.
    assert g.shapes["bga2"] == [(None,), (None,)]


def test_legacy_scalar_placeholder_means_unknown():
    for producer, expected in ((21, None), (22, ())):
        b = Builder(producer)
        b.placeholder("x", ())
        assert shape(b.graph(), "x") == expected, producer


def test_control_flow_v1_is_cycle_safe_and_conservative():
    b = Builder()
    b.const("zero", 0)
    b.op("enter", "Enter", ["zero"], T="int32", frame_name="loop", is_constant=False)
    b.op("merge", "Merge", ["enter", "next"], T="int32", N=2)
    b.const("ten", 10)
    b.op("less", "Less", ["merge", "ten"], T="int32")
    b.op("cond", "LoopCond", ["less"])
    b.op("switch", "Switch", ["merge", "cond"], T="int32")
    b.op("ident", "Identity", ["switch:1"], T="int32")
    b.const("one", 1)
    b.op("add", "AddV2", ["ident", "one"], T="int32")
    b.op("next", "NextIteration", ["add"], T="int32")
    b.op("exit", "Exit", ["switch:0"], T="int32")
    b.op("enter_c", "Enter", ["ten"], T="int32", frame_name="loop", is_constant=True)
    g = b.graph()
    assert shape(g, "enter") is None      # TensorFlow forgets shapes at a frame's entry
    assert shape(g, "enter_c") == ()      # ... except for loop invariants
    assert shape(g, "merge") is None      # a back edge not yet known
    assert shape(g, "merge:1") == ()
    assert shape(g, "cond") == ()


def test_resource_reads_take_the_handle_shape():
    b = Builder()
    b.op("v", "VarHandleOp", dtype="float32", shape=(784, 300), shared_name="v")
    b.op("read", "ReadVariableOp", ["v"], dtype="float32")
    b.op("vi", "Identity", ["v"], T="resource")
    b.op("read2", "ReadVariableOp", ["vi"], dtype="float32")
    g = b.graph()
    assert shape(g, "v") == ()
    assert shape(g, "read") == (784, 300)
    assert shape(g, "read2") == (784, 300)


def test_recorded_shapes_are_merged_with_inference():
    b = Builder()
    b.placeholder("x", (None, 5))
    b.op("y", "Relu", ["x"], T="float32")
    recorded = b.gd.node[-1].attr["_output_shapes"].list.shape.add()
    recorded.dim.add(size=32)
    recorded.dim.add(size=-1)
    assert shape(b.graph(), "y") == (32, 5)


# ---------------------------------------------------------------- fixtures and corpus
def _fixture_paths():
    out = []
    for name, rel in FIXTURE_GRAPHS.items():
        path = FIXTURES / rel
        if path.exists() or MANIFEST.is_file():
            out.append(pytest.param(path, id=name))
    return out


def _strip(g):
    recorded = {}
    for node in list(g.graph_def.node):
        if "_output_shapes" in node.attr:
            recorded[node.name] = [from_proto(s) for s in node.attr["_output_shapes"].list.shape]
            g.replace_op(_without_output_shapes(node))
    return recorded


def coverage(g) -> tuple[float, int, int]:
    """(fraction, known, total) of output tensors whose rank is known."""
    total = known = 0
    for op in g:
        for t in op.outputs:
            total += 1
            known += t.shape is not None
    return (known / total if total else 1.0), known, total


def agrees(inferred, recorded) -> bool:
    """Inference never contradicts what TensorFlow recorded (it may know less, or more)."""
    if inferred is None or recorded is None:
        return True
    return len(inferred) == len(recorded) and all(
        a is None or b is None or a == b for a, b in zip(inferred, recorded))


@pytest.mark.parametrize("path", _fixture_paths())
def test_fixture_shape_coverage_by_inference_alone(path):
    assert path.exists(), f"{path} is listed in {MANIFEST} but missing"
    g = gs.load(path)
    recorded = _strip(g)
    fraction, known, total = coverage(g)
    assert fraction >= 0.95, f"{path.name}: {known}/{total} tensors with a known shape"
    for name, shapes in recorded.items():
        if name in g:
            for t, rec in zip(g.op(name).outputs, shapes):
                assert agrees(t.shape, rec), (t.name, t.shape, rec)
                # Where TensorFlow recorded a dimension, inference finds it too.
                if rec is not None and t.shape is not None:
                    assert all(a == b for a, b in zip(t.shape, rec) if b is not None), t.name


def _corpus_params():
    if CORPUS_DIR is None:
        return [pytest.param(None, None, id="corpus-missing")]
    return [pytest.param(CORPUS_DIR / rel, tag, id=name) for name, (rel, tag) in CORPUS_GRAPHS.items()]


@pytest.mark.parametrize("path,tag", _corpus_params())
def test_corpus_inference_never_contradicts_recorded_shapes(corpus_dir, path, tag):
    g = gs.load(path, tag=tag)
    recorded = _strip(g)
    for name, shapes in recorded.items():
        for t, rec in zip(g.op(name).outputs, shapes):
            assert agrees(t.shape, rec), (t.name, t.shape, rec)
    # Function bodies infer without error, and their _Arg/_Retval ops get entries too.
    for body in g.functions.values():
        assert set(body.shapes) == {op.name for op in body}


def test_strided_slice_masks():
    # Shapes checked by hand with numpy on an array of shape (2, 3, 4).
    b = Builder()
    b.placeholder("x", (2, 3, 4))
    cases = {
        "ellipsis_last": ([0, 1], [0, 2], [1, 1], dict(ellipsis_mask=1, shrink_axis_mask=2), (2, 3)),
        "new_axis": ([0, 0, 1], [0, 0, 3], [1, 1, 1], dict(begin_mask=1, end_mask=1, new_axis_mask=2),
                     (2, 1, 2, 4)),
        "reversed": ([0], [0], [-1], dict(begin_mask=1, end_mask=1), (2, 3, 4)),
        "clamped": ([1, -2], [5, 100], [1, 1], {}, (1, 2, 4)),
        "step": ([0, 0, 0], [0, 0, 4], [1, 1, 3], dict(begin_mask=3, end_mask=3), (2, 3, 2)),
    }
    for name, (begin, end, strides, masks, _) in cases.items():
        b.const(name + "/b", begin), b.const(name + "/e", end), b.const(name + "/s", strides)
        b.op(name, "StridedSlice", ["x", name + "/b", name + "/e", name + "/s"], T="float32",
             Index="int32", **masks)
    g = b.graph()
    for name, case in cases.items():
        assert shape(g, name) == case[-1], name
    x = np.zeros((2, 3, 4))
    assert x[..., 1].shape == (2, 3) and x[:, None, 1:3].shape == (2, 1, 2, 4)
    assert x[1:5, -2:100].shape == (1, 2, 4) and x[:, :, 0:4:3].shape == (2, 3, 2)
