"""Constant evaluation: the value of a tensor that constants alone determine (TensorFlow-free).

One evaluator for every rewrite that needs values: freeze (predicates of
conds, checkpoint key lists of restore ops), fold-bn (batch-norm parameters
and weights), freeze-layers (optimizer hyper-parameters). It follows

- ``Const`` (decoded, size-checked by :func:`graphsurgeon.vocab.values.to_numpy`);
- pass-through ops (:data:`graphsurgeon.vocab.optypes.PASS_THROUGH`) and ``Cast``;
- a few element-wise ops: ``LogicalNot``, ``Neg``, ``Rsqrt``, ``Sqrt``,
  ``Reciprocal``, ``Mul``, ``Add``/``AddV2``, ``Sub``, ``RealDiv``.

Anything else is not constant here (None). Evaluation is iterative
(post-order over an explicit stack) and cycle-safe, and every value is
cached: an evaluator belongs to one run over one graph whose edits keep
values (rewiring a reader to an equal tensor), not to the graph.

Example:
    >>> consts = Constants(graphsurgeon.load("fixtures/models/mnist_bn_elu_frozen.pb"))
    >>> consts.value("batch_normalization/batchnorm/add/y:0")
    array(0.001, dtype=float32)
"""
from __future__ import annotations

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
}
_BINARY = {
    "Mul": lambda a, b: a * b,
    "Add": lambda a, b: a + b,
    "AddV2": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "RealDiv": lambda a, b: a / b,
}
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
        if node.op not in PASS_THROUGH and node.op != "Cast" and node.op not in _UNARY and node.op not in _BINARY:
            return None
        data = [(ref.op, ref.index) for ref in self.graph.data_refs(op)]
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
                if node.op in _UNARY:
                    return np.asarray(_UNARY[node.op](np, values[0]))
                return np.asarray(_BINARY[node.op](values[0], values[1]))
        except (TypeError, ValueError):  # incompatible shapes or dtypes: not folded
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
