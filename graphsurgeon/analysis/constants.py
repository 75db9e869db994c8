"""Constant evaluation: the value of a tensor that constants alone determine (TensorFlow-free).

One evaluator for every rewrite that needs values: freeze (predicates of
conds, checkpoint key lists of restore ops), fold-bn (batch-norm parameters
and weights), freeze-layers (optimizer hyper-parameters). It follows

- ``Const`` (decoded, size-checked by :func:`graphsurgeon.vocab.values.to_numpy`);
- pass-through ops (:data:`graphsurgeon.vocab.optypes.PASS_THROUGH`) and ``Cast``;
- element-wise ops (``Neg``, ``Rsqrt``, ``Exp``, ``Relu``, ``Mul``, ``AddV2``,
  ``Maximum``, comparisons...), ``MatMul``, ``BiasAdd``, reductions
  (``Sum``, ``Mean``...), and the ops that shape values (``Reshape``,
  ``Transpose``, ``Pack``, ``ConcatV2``, ``Fill``, ``Range``, ``Slice``,
  ``GatherV2``, ``Shape`` of a constant...): :data:`EVALUATED`, each as
  TensorFlow computes it, in the tensor's own dtype (``fold-constants`` is
  checked against TensorFlow on every one).

Anything else is not constant here (None), and so is a value that would be
larger than :data:`MAX_RESULT_ELEMENTS` and than each of its inputs. Evaluation is iterative
(post-order over an explicit stack) and cycle-safe, and every value is
cached: an evaluator belongs to one run over one graph whose edits keep
values (rewiring a reader to an equal tensor), not to the graph.

Example:
    >>> consts = Constants(graphsurgeon.load("fixtures/models/mnist_bn_elu_frozen.pb"))
    >>> consts.value("batch_normalization/batchnorm/add/y:0")
    array(0.001, dtype=float32)
"""
from __future__ import annotations

import functools

from ..errors import FormatError
from ..vocab import dtypes as _dtypes
from ..vocab import names as _names
from ..vocab.optypes import PASS_THROUGH
from ..vocab.values import to_numpy

_UNARY = {
    "LogicalNot": lambda np, a: np.logical_not(a),
    "Neg": lambda np, a: -a,
    "Rsqrt": lambda np, a: 1.0 / np.sqrt(a),
    "Sqrt": lambda np, a: np.sqrt(a),
    "Reciprocal": lambda np, a: 1.0 / a,
    "Abs": lambda np, a: np.abs(a),
    "Square": lambda np, a: a * a,
    "Exp": lambda np, a: np.exp(a),
    "Log": lambda np, a: np.log(a),
    "Log1p": lambda np, a: np.log1p(a),
    "Expm1": lambda np, a: np.expm1(a),
    "Tanh": lambda np, a: np.tanh(a),
    "Sigmoid": lambda np, a: 1 / (1 + np.exp(-a)),
    "Relu": lambda np, a: np.maximum(a, 0).astype(a.dtype),
    "Relu6": lambda np, a: np.minimum(np.maximum(a, 0), 6).astype(a.dtype),
    "Elu": lambda np, a: np.where(a < 0, np.expm1(a), a).astype(a.dtype),
    "Floor": lambda np, a: np.floor(a),
    "Ceil": lambda np, a: np.ceil(a),
    "Round": lambda np, a: np.round(a),  # half to even, as TensorFlow
    "Sign": lambda np, a: np.sign(a),
    "ZerosLike": lambda np, a: np.zeros_like(a),
    "OnesLike": lambda np, a: np.ones_like(a),
}
_BINARY = {
    "Mul": lambda np, a, b: a * b,
    "Add": lambda np, a, b: a + b,
    "AddV2": lambda np, a, b: a + b,
    "Sub": lambda np, a, b: a - b,
    "RealDiv": lambda np, a, b: a / b,
    "Maximum": lambda np, a, b: np.maximum(a, b),
    "Minimum": lambda np, a, b: np.minimum(a, b),
    "SquaredDifference": lambda np, a, b: (a - b) * (a - b),
    "Pow": lambda np, a, b: np.power(a, b),
    "Equal": lambda np, a, b: np.equal(a, b),
    "NotEqual": lambda np, a, b: np.not_equal(a, b),
    "Less": lambda np, a, b: np.less(a, b),
    "LessEqual": lambda np, a, b: np.less_equal(a, b),
    "Greater": lambda np, a, b: np.greater(a, b),
    "GreaterEqual": lambda np, a, b: np.greater_equal(a, b),
    "LogicalAnd": lambda np, a, b: np.logical_and(a, b),
    "LogicalOr": lambda np, a, b: np.logical_or(a, b),
    "FloorDiv": lambda np, a, b: np.floor_divide(a, b),
    "FloorMod": lambda np, a, b: np.mod(a, b),
}
_DIVISIONS = {"FloorDiv", "FloorMod"}  # an integer division by zero fails in TensorFlow: never folded


def _axis(value, rank: int) -> int:
    axis = int(value)
    if not -rank <= axis < max(rank, 1):
        raise ValueError(f"axis {axis} out of range")
    return axis


def _matmul(np, node, a, b):
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError("MatMul takes matrices")
    a = a.T if node.attr["transpose_a"].b else a
    b = b.T if node.attr["transpose_b"].b else b
    _bounded(a.shape[0] * b.shape[1], a, b)
    return np.matmul(a, b)


def _bias_add(np, node, value, bias):
    if bias.ndim != 1:
        raise ValueError("a bias is a vector")
    if node.attr["data_format"].s == b"NCHW" and value.ndim > 2:
        return value + bias.reshape((-1,) + (1,) * (value.ndim - 2))
    return value + bias


def _reduce(name):
    def reduce(np, node, value, axes):
        axes = tuple(sorted({_axis(a, value.ndim) % max(value.ndim, 1) for a in np.asarray(axes).ravel()}))
        keep = node.attr["keep_dims"].b
        if name == "Mean" and value.dtype.kind not in "fc":
            raise ValueError("an integer mean rounds as TensorFlow does, not as numpy: not folded")
        fn = {"Sum": np.sum, "Prod": np.prod, "Max": np.max, "Min": np.min, "Mean": np.mean, "All": np.all,
              "Any": np.any}[name]
        return fn(value, axis=axes, keepdims=keep).astype(value.dtype)
    return reduce


def _squeeze(np, node, value):
    dims = list(node.attr["squeeze_dims"].list.i) if "squeeze_dims" in node.attr else []
    return np.squeeze(value, axis=tuple(_axis(d, value.ndim) for d in dims)) if dims else np.squeeze(value)


def _pack(np, node, *values):
    return np.stack(values, axis=_axis(node.attr["axis"].i, values[0].ndim + 1))


def _concat(np, node, *values):
    *parts, axis = values
    return np.concatenate(parts, axis=_axis(axis, parts[0].ndim))


def _range(np, node, start, limit, delta):
    start, limit, delta = start.item(), limit.item(), delta.item()
    if delta == 0 or abs((limit - start) / delta) > MAX_RESULT_ELEMENTS:
        raise ValueError("not a range to fold")
    return np.arange(start, limit, delta)


def _fill(np, node, dims, value):
    dims = [int(d) for d in np.asarray(dims).ravel()]
    if any(d < 0 for d in dims) or _count(dims) > MAX_RESULT_ELEMENTS:
        raise ValueError("not a shape to fill")
    return np.full(dims, value, dtype=value.dtype)


def _tile(np, node, value, multiples):
    multiples = [int(m) for m in np.asarray(multiples).ravel()]
    if any(m < 0 for m in multiples) or value.size * _count(multiples) > MAX_RESULT_ELEMENTS:
        raise ValueError("not a tiling to fold")
    return np.tile(value, multiples)


def _slice(np, node, value, begin, size):
    begin, size = [int(b) for b in begin.ravel()], [int(s) for s in size.ravel()]
    if len(begin) != value.ndim or len(size) != value.ndim:
        raise ValueError("begin and size must match the rank")
    index = []
    for b, s, d in zip(begin, size, value.shape):
        end = d if s == -1 else b + s
        if not 0 <= b <= end <= d:
            raise ValueError("slice out of range")
        index.append(slice(b, end))
    return value[tuple(index)]


def _gather(np, node, params, indices, axis):
    if node.attr["batch_dims"].i:
        raise ValueError("batch_dims is not folded")
    axis = _axis(axis, params.ndim)
    if indices.size and (indices.min() < 0 or indices.max() >= params.shape[axis]):
        raise ValueError("index out of range")  # TensorFlow fails on CPU
    _bounded(indices.size * (params.size // max(params.shape[axis], 1)), params, indices)
    return np.take(params, indices, axis=axis)


def _bounded(elements: int, *inputs) -> None:
    """Refuse a result larger than :data:`MAX_RESULT_ELEMENTS` and than every input: a value the
    graph's constants do not hold already must not be built from a few declared numbers."""
    if elements > MAX_RESULT_ELEMENTS and elements > max(i.size for i in inputs):
        raise ValueError("result too large to compute")


def _count(dims) -> int:
    count = 1
    for d in dims:
        count *= d
    return count


# Ops of several inputs: type -> (inputs read: a number, or None for all data inputs, fn(np, node, *values)).
_NARY = {
    "MatMul": (2, _matmul),
    "BiasAdd": (2, _bias_add),
    "Reshape": (2, lambda np, node, value, shape: value.reshape([int(d) for d in shape.ravel()])),
    "ExpandDims": (2, lambda np, node, value, axis: np.expand_dims(value, _axis(axis, value.ndim + 1))),
    "Squeeze": (1, _squeeze),
    "Transpose": (2, lambda np, node, value, perm: np.transpose(value, [int(p) for p in perm.ravel()])),
    "Pack": (None, _pack),
    "ConcatV2": (None, _concat),
    "AddN": (None, lambda np, node, *values: functools.reduce(lambda a, b: a + b, values)),
    "Fill": (2, _fill),
    "Range": (3, _range),
    "Tile": (2, _tile),
    "Slice": (3, _slice),
    "GatherV2": (3, _gather),
    "SelectV2": (3, lambda np, node, cond, a, b: np.where(cond, a, b)),
    "Shape": (1, lambda np, node, value: np.asarray(value.shape)),
    "Size": (1, lambda np, node, value: np.asarray(value.size)),
    "Rank": (1, lambda np, node, value: np.asarray(value.ndim)),
    **{name: (2, _reduce(name)) for name in ("Sum", "Prod", "Max", "Min", "Mean", "All", "Any")},
}
# The op types this evaluator computes (beyond Const and the pass-through ops).
EVALUATED = frozenset({"Cast", *_UNARY, *_BINARY, *_NARY})
# A computed value larger than this (elements) and than each of its inputs is not computed
# (broadcasting, Fill, Tile, Range, MatMul, GatherV2): a few declared numbers must not decide memory.
MAX_RESULT_ELEMENTS = 2**22
_FLOATS = {"float16", "bfloat16", "float32", "float64"}
_PENDING = object()


class Constants:
    """Values of tensors of ``graph`` that constants determine, cached.

    Args:
        graph: the Graph (or function body) to evaluate in.
        float64: compute floating-point values in float64 (for folding, where
            the result is rounded once, at the end, to the graph's dtype).
    """

    def __init__(self, graph, *, float64: bool = False):
        self.graph = graph
        self.float64 = float64
        self._cache: dict[tuple[str, int], object] = {}

    def value(self, tensor):
        """The numpy value of ``tensor`` (``op:index`` or an op name), or None when it is not constant."""
        key = _names.split_tensor_name(tensor) if isinstance(tensor, str) else tensor
        if key in self._cache and self._cache[key] is not _PENDING:
            return self._cache[key]
        stack = [key]
        while stack:
            current = stack[-1]
            cached = self._cache.get(current)
            if cached is not None and cached is not _PENDING:
                stack.pop()
                continue
            args = self._arguments(current)
            if args is None:  # not evaluable: a leaf without value
                self._cache[current] = None
                stack.pop()
                continue
            if cached is _PENDING:
                # Second visit: its arguments are done (or on a cycle, and so not constant).
                self._cache[current] = self._compute(current, args)
                stack.pop()
                continue
            self._cache[current] = _PENDING
            todo = [a for a in args if a not in self._cache]
            if any(self._cache.get(a) is _PENDING for a in args):
                self._cache[current] = None  # a cycle through this op
                stack.pop()
                continue
            stack.extend(todo)
        return self._cache[key]

    def scalar(self, tensor):
        """The value as a Python scalar when it holds one element, else None."""
        value = self.value(tensor)
        if value is None or getattr(value, "size", 0) != 1:
            return None
        return value.reshape(()).item()

    def strings(self, tensor) -> list[str] | None:
        """A constant string (or number) tensor as a list of str, or None."""
        value = self.value(tensor)
        if value is None:
            return None
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in value.ravel()]

    # ------------------------------------------------------------------ internals
    def _arguments(self, key):
        """The tensors ``key``'s value is computed from ([] for a Const), or None when it is not computable."""
        op, index = key
        node = self.graph.node_defs.get(op)
        if node is None or index != 0:
            return None
        if node.op == "Const":
            return []
        if node.op not in PASS_THROUGH and node.op not in EVALUATED:
            return None
        data = [(ref.op, ref.index) for ref in self.graph.data_refs(op)]
        if node.op in _NARY:
            needed = _NARY[node.op][0]
            if needed is None:
                return data or None
        else:
            needed = 2 if node.op in _BINARY else 1
        return data[:needed] if len(data) >= needed else None

    def _compute(self, key, args):
        import numpy as np  # only rewrites evaluate constants

        node = self.graph.node_defs[key[0]]
        if node.op == "Const":
            try:
                value = to_numpy(node.attr["value"].tensor, where=node.name)
            except FormatError:
                return None
            if self.float64 and _dtypes.name(node.attr["value"].tensor.dtype) in _FLOATS:
                value = value.astype(np.float64)
            return value
        values = [self._cache.get(a) for a in args]
        if any(v is None or v is _PENDING for v in values):
            return None
        if node.op not in PASS_THROUGH and any(np.asarray(v).dtype == object for v in values):
            return None  # strings only pass through
        try:
            with np.errstate(all="ignore"):
                if node.op in PASS_THROUGH:
                    return values[0]
                if node.op == "Cast":
                    target = _dtypes.NUMPY.get(_dtypes.name(node.attr["DstT"].type))
                    if target is None:
                        return None
                    if self.float64 and _dtypes.name(node.attr["DstT"].type) in _FLOATS:
                        target = "float64"
                    return np.asarray(values[0]).astype(target)
                values = [np.asarray(v) for v in values]
                if node.op in _UNARY:
                    return np.asarray(_UNARY[node.op](np, values[0]))
                if node.op in _BINARY:
                    a, b = values
                    _bounded(_count(np.broadcast_shapes(a.shape, b.shape)), a, b)
                    if node.op in _DIVISIONS and b.dtype.kind in "iu" and not np.all(b):
                        return None
                    return np.asarray(_BINARY[node.op](np, a, b))
                return np.asarray(_NARY[node.op][1](np, node, *values))
        except (TypeError, ValueError, IndexError, OverflowError):  # shapes or dtypes that do not fit: not folded
            return None


def source_op(graph, tensor: str) -> str:
    """The op a tensor comes from through pass-through ops (a resource handle's VarHandleOp, an ``_Arg``)."""
    op = _names.split_tensor_name(tensor)[0]
    for _ in range(1000):  # a pass-through cycle (damage) ends the walk
        node = graph.node_defs.get(op)
        if node is None or node.op not in PASS_THROUGH or not node.input:
            return op
        op = _names.split_tensor_name(node.input[0])[0]
    return op


def constant_value(graph, tensor, *, float64: bool = False):
    """One-off :meth:`Constants.value` (build a :class:`Constants` to evaluate many)."""
    return Constants(graph, float64=float64).value(tensor)
