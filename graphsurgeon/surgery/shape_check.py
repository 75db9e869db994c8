"""Shape constraints ops put on their inputs, checked without TensorFlow.

:mod:`graphsurgeon.analysis.shapes` says what shape each tensor has; this module says
where those shapes cannot work: the checks TensorFlow's shape functions make
when a graph is imported (and refuse it for), for the ops that most often
carry a hard-coded size:

- ``Reshape`` to a constant shape whose element count the input cannot have
  (``tf.reshape(x, [32, 28, 28, 1])`` after the batch became 1);
- ``MatMul`` / ``BatchMatMul*`` whose inner dimensions differ, or a
  ``MatMul`` input that is not a matrix;
- element-wise ops whose operands cannot broadcast (two known sizes, neither 1);
- ``BiasAdd`` whose channel dimension is not the bias's length;
- ``ConcatV2`` / ``Pack`` whose inputs disagree outside the axis;
- ``Conv2D`` whose input channels are not the filter's.

Only known dimensions are compared: an unknown one never conflicts. Used by
:func:`graphsurgeon.surgery.input_shape.set_input_shape` to refuse a new input
shape that an op downstream cannot take, naming the op.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..analysis.constants import Constants
from ..analysis.shapes import format_shape

BROADCASTING = frozenset({
    "Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "DivNoNan", "FloorDiv", "FloorMod", "Maximum", "Minimum",
    "Pow", "SquaredDifference", "Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual",
    "LogicalAnd", "LogicalOr", "MulNoNan", "TruncateDiv", "TruncateMod", "Xdivy", "Xlogy", "Atan2",
})


@dataclass
class Conflict:
    """An op that cannot take the shapes it is given: which op, its type, why."""

    op: str
    type: str
    reason: str

    def __str__(self) -> str:
        return f"{self.type} {self.op!r} {self.reason}"


def _clash(a, b) -> bool:
    return a is not None and b is not None and a != b


def _data_shapes(g, name: str) -> list:
    return [g.tensor(ref.tensor).shape if ref.op in g.node_defs else None
            for ref in g.input_refs(name) if not ref.control]


def _reshape(g, name, shapes, consts):
    x = shapes[0] if shapes else None
    refs = [r for r in g.input_refs(name) if not r.control]
    if x is None or None in x or len(refs) < 2:
        return None
    target = consts.value(refs[1].tensor)
    if target is None or target.ndim != 1 or target.dtype.kind not in "iu":
        return None
    dims = [int(d) for d in target]
    total = math.prod(x)
    known = math.prod(d for d in dims if d >= 0)
    wild = sum(1 for d in dims if d < 0)
    if (wild == 0 and known != total) or (wild == 1 and (known == 0 or total % known)):
        shape_text = "[" + ", ".join(str(d) for d in dims) + "]"
        return (f"cannot turn its input {format_shape(x)} ({total:,} elements) into {shape_text}, a constant "
                f"shape ({refs[1].op})")
    return None


def _matmul(g, name, shapes, node):
    a, b = shapes[0], shapes[1]
    for side, s in (("first", a), ("second", b)):
        if s is not None and len(s) != 2:
            return f"needs matrices, and its {side} input is {format_shape(s)}"
    if a is None or b is None:
        return None
    ta = node.attr["transpose_a"].b if "transpose_a" in node.attr else False
    tb = node.attr["transpose_b"].b if "transpose_b" in node.attr else False
    inner_a, inner_b = (a[0] if ta else a[1]), (b[1] if tb else b[0])
    if _clash(inner_a, inner_b):
        return f"multiplies {format_shape(a)} by {format_shape(b)}: inner dimensions {inner_a} and {inner_b} differ"
    return None


def _batch_matmul(g, name, shapes, node):
    a, b = shapes[0], shapes[1]
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        return None
    adj_x = node.attr["adj_x"].b if "adj_x" in node.attr else False
    adj_y = node.attr["adj_y"].b if "adj_y" in node.attr else False
    inner_a, inner_b = (a[-2] if adj_x else a[-1]), (b[-1] if adj_y else b[-2])
    if _clash(inner_a, inner_b):
        return f"multiplies {format_shape(a)} by {format_shape(b)}: inner dimensions {inner_a} and {inner_b} differ"
    return None


def _broadcast(g, name, shapes, node):
    if len(shapes) < 2 or shapes[0] is None or shapes[1] is None:
        return None
    a, b = shapes[0], shapes[1]
    for i in range(1, min(len(a), len(b)) + 1):
        x, y = a[-i], b[-i]
        if _clash(x, y) and x != 1 and y != 1:
            return f"cannot broadcast {format_shape(a)} with {format_shape(b)}"
    return None


def _bias_add(g, name, shapes, node):
    x, bias = shapes[0], shapes[1] if len(shapes) > 1 else None
    if x is None or bias is None or len(bias) != 1 or not x:
        return None
    fmt = node.attr["data_format"].s.decode() if "data_format" in node.attr else "NHWC"
    axis = 1 if fmt.startswith("NC") and len(x) >= 3 else len(x) - 1
    if _clash(x[axis], bias[0]):
        return f"adds a bias of {bias[0]} to {format_shape(x)}, whose channel dimension is {x[axis]}"
    return None


def _concat(g, name, shapes, node, consts):
    refs = [r for r in g.input_refs(name) if not r.control]
    if node.op == "ConcatV2":
        parts, axis_ref = shapes[:-1], refs[-1] if refs else None
    else:
        parts, axis_ref = shapes[1:], refs[0] if refs else None
    axis = consts.value(axis_ref.tensor) if axis_ref is not None else None
    ranked = [s for s in parts if s is not None]
    if not ranked or axis is None or axis.size != 1:
        return None
    rank = len(ranked[0])
    if any(len(s) != rank for s in ranked):
        return f"joins inputs of different ranks ({', '.join(format_shape(s) for s in ranked)})"
    axis = int(axis.reshape(()))
    if not -rank <= axis < rank:
        return None
    axis %= rank
    for i in range(rank):
        if i != axis:
            sizes = {s[i] for s in ranked if s[i] is not None}
            if len(sizes) > 1:
                return f"joins {', '.join(format_shape(s) for s in ranked)} along axis {axis}: dimension {i} differs"
    return None


def _pack(g, name, shapes, node):
    ranked = [s for s in shapes if s is not None]
    if len(ranked) < 2:
        return None
    first = ranked[0]
    for s in ranked[1:]:
        if len(s) != len(first) or any(_clash(x, y) for x, y in zip(first, s)):
            return f"stacks tensors of different shapes ({', '.join(format_shape(s) for s in ranked)})"
    return None


def _conv2d(g, name, shapes, node):
    x, w = shapes[0], shapes[1]
    if x is None or w is None or len(x) != 4 or len(w) != 4:
        return None
    fmt = node.attr["data_format"].s.decode() if "data_format" in node.attr else "NHWC"
    channels = x[3] if fmt == "NHWC" else x[1]
    if _clash(channels, w[2]):
        return f"convolves {format_shape(x)} ({channels} channels) with a filter for {w[2]} channels"
    return None


def conflicts(g, ops=None) -> list[Conflict]:
    """The ops of ``g`` (or of ``ops``, names) whose input shapes break a constraint, in graph order."""
    consts = Constants(g)
    wanted = None if ops is None else set(ops)
    out = []
    for node in g.graph_def.node:
        name = node.name
        if wanted is not None and name not in wanted:
            continue
        op = node.op
        if op not in BROADCASTING and op not in ("Reshape", "MatMul", "BatchMatMul", "BatchMatMulV2",
                                                 "BatchMatMulV3", "BiasAdd", "BiasAddV1", "ConcatV2", "Concat",
                                                 "Pack", "Conv2D"):
            continue
        shapes = _data_shapes(g, name)
        if len(shapes) < 2 and op != "Pack":
            continue
        if op == "Reshape":
            reason = _reshape(g, name, shapes, consts)
        elif op == "MatMul":
            reason = _matmul(g, name, shapes, node)
        elif op.startswith("BatchMatMul"):
            reason = _batch_matmul(g, name, shapes, node)
        elif op in ("BiasAdd", "BiasAddV1"):
            reason = _bias_add(g, name, shapes, node)
        elif op in ("ConcatV2", "Concat"):
            reason = _concat(g, name, shapes, node, consts)
        elif op == "Pack":
            reason = _pack(g, name, shapes, node)
        elif op == "Conv2D":
            reason = _conv2d(g, name, shapes, node)
        else:
            reason = _broadcast(g, name, shapes, node)
        if reason:
            out.append(Conflict(name, op, reason))
    return out
