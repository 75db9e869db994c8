"""Output shapes without TensorFlow: recorded, declared, or inferred where cheap.

Where a shape comes from, in order:
1. ``_output_shapes`` recorded in the graph (TensorFlow wrote it);
2. attributes that declare it (Placeholder, Const, variables);
3. inference rules for common ops, propagated in one pass in data-flow
   order (iterative, cycle-safe: ops on a cycle see unknown inputs).

A shape is a tuple of dimensions (None for an unknown one), or None when
even the rank is unknown. A rule that is not sure answers None: a reported
shape is never wrong, and tests hold that against TensorFlow.
"""
from __future__ import annotations

from collections.abc import Callable

from . import names as _names

Shape = "tuple | None"


def from_proto(proto) -> tuple | None:
    """TensorShapeProto -> shape (``-1`` dims are unknown)."""
    if proto.unknown_rank:
        return None
    return tuple(None if d.size < 0 else int(d.size) for d in proto.dim)


def broadcast(a, b):
    """NumPy broadcasting of two shapes; None if unknown or incompatible."""
    if a is None or b is None:
        return None
    out = []
    for i in range(max(len(a), len(b))):
        x = a[-1 - i] if i < len(a) else 1
        y = b[-1 - i] if i < len(b) else 1
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None or y is None:
            # One side unknown and the other not 1: the result is the known side
            # only if the unknown side broadcasts to it; it may also be 1 -> known.
            out.append(x if y is None else y)
        elif x == y:
            out.append(x)
        else:
            return None
    return tuple(reversed(out))


# ---------------------------------------------------------------- rules
Rule = Callable[[object, list, object], "list | None"]
RULES: dict[str, Rule] = {}


def rule(*op_types):
    def register(fn):
        for t in op_types:
            RULES[t] = fn
        return fn
    return register


def _attr_shape(node, key):
    if key in node.attr and node.attr[key].WhichOneof("value") == "shape":
        return from_proto(node.attr[key].shape)
    return None


@rule("Placeholder", "PlaceholderV2")
def _placeholder(node, inputs, graph):
    if "shape" not in node.attr:
        return [None]
    shape = from_proto(node.attr["shape"].shape)
    # Very old graphs wrote shape {} (rank 0) to mean "unknown"; TensorFlow
    # reads an empty, non-unknown-rank shape as a scalar, and so do we.
    return [shape]


@rule("PlaceholderWithDefault")
def _placeholder_with_default(node, inputs, graph):
    return [_attr_shape(node, "shape")]


@rule("Const", "HostConst")
def _const(node, inputs, graph):
    if "value" not in node.attr:
        return None
    return [from_proto(node.attr["value"].tensor.tensor_shape)]


@rule("VariableV2", "Variable", "TemporaryVariable")
def _variable(node, inputs, graph):
    return [_attr_shape(node, "shape")]


@rule("VarHandleOp", "_VarHandlesOp")
def _handle(node, inputs, graph):
    return [()]


@rule("Identity", "StopGradient", "Snapshot", "PreventGradient", "RefIdentity", "CheckNumerics",
      "Elu", "Relu", "Relu6", "Selu", "LeakyRelu", "Tanh", "Sigmoid", "Softplus", "Softsign", "Neg",
      "Square", "Sqrt", "Rsqrt", "Exp", "Log", "Log1p", "Abs", "Sign", "Reciprocal", "Floor", "Ceil",
      "Round", "Cast", "ZerosLike", "OnesLike", "Softmax", "LogSoftmax", "Erf", "IsFinite", "IsNan",
      "LogicalNot", "Enter", "RefEnter", "Exit", "RefExit", "NextIteration", "RefNextIteration",
      "Assign", "AssignAdd", "AssignSub", "ApplyGradientDescent", "EnsureShape", "DebugIdentity",
      "L2Loss_", "BiasAdd", "BiasAddV1", "Inv", "Expm1", "Cos", "Sin")
def _same_as_first(node, inputs, graph):
    if not inputs:
        return None
    if node.op == "EnsureShape":
        return [_attr_shape(node, "shape")]
    return [inputs[0]]


@rule("Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "DivNoNan", "FloorDiv", "FloorMod", "Maximum",
      "Minimum", "Pow", "SquaredDifference", "Equal", "NotEqual", "Less", "LessEqual", "Greater",
      "GreaterEqual", "LogicalAnd", "LogicalOr", "EluGrad", "ReluGrad", "TanhGrad", "SigmoidGrad",
      "RsqrtGrad", "SqrtGrad", "Atan2", "TruncateDiv", "BiasAddGrad_")
def _binary(node, inputs, graph):
    if len(inputs) < 2:
        return None
    if node.op in ("EluGrad", "ReluGrad"):
        return [inputs[0] if inputs[0] is not None else inputs[1]]
    return [broadcast(inputs[0], inputs[1])]


@rule("MatMul")
def _matmul(node, inputs, graph):
    if len(inputs) < 2 or inputs[0] is None or inputs[1] is None:
        return None
    a, b = inputs[0], inputs[1]
    if len(a) != 2 or len(b) != 2:
        return None
    ta = node.attr["transpose_a"].b if "transpose_a" in node.attr else False
    tb = node.attr["transpose_b"].b if "transpose_b" in node.attr else False
    return [(a[1] if ta else a[0], b[0] if tb else b[1])]


@rule("NoOp", "SaveV2", "Save", "SaveSlices", "Assert")
def _no_outputs(node, inputs, graph):
    return []


@rule("Shape")
def _shape(node, inputs, graph):
    if not inputs:
        return None
    return [(len(inputs[0]),) if inputs[0] is not None else (None,)]


@rule("Size", "Rank")
def _scalar(node, inputs, graph):
    return [()]


# ---------------------------------------------------------------- propagation
def infer_shapes(graph) -> dict[str, list]:
    """Shapes of every op's outputs (see module docstring)."""
    nodes = graph.graph_def.node
    shapes: dict[str, list] = {}
    for node, ordered in _data_order(graph):
        recorded = None
        if "_output_shapes" in node.attr:
            recorded = [from_proto(s) for s in node.attr["_output_shapes"].list.shape]
        if recorded is not None and all(s is not None for s in recorded):
            shapes[node.name] = recorded
            continue
        inferred = None
        fn = RULES.get(node.op)
        if fn is not None:
            inputs = []
            for text in node.input:
                ref = _names.parse_input(text)
                if ref.control:
                    continue
                produced = shapes.get(ref.op) if ordered else None
                inputs.append(produced[ref.index] if produced and ref.index < len(produced) else None)
            try:
                inferred = fn(node, inputs, graph)
            except (KeyError, IndexError, TypeError, ValueError):
                inferred = None
        count = graph._num_outputs(node.name)
        result = list(inferred) if inferred is not None else [None] * count
        if recorded is not None:
            result = [r if r is not None else (result[i] if i < len(result) else None)
                      for i, r in enumerate(recorded)]
        result = (result + [None] * count)[:count]
        shapes[node.name] = result
    for node in nodes:
        shapes.setdefault(node.name, [None] * graph._num_outputs(node.name))
    return shapes


def _data_order(graph):
    """Nodes in data-flow order (Kahn's algorithm, iterative); nodes on cycles last.

    Yields ``(node, ordered)``: ``ordered`` is False for nodes reached only
    after the acyclic part, whose inputs may not be known yet.
    """
    by_name = graph._nodes
    pending: dict[str, int] = {}
    dependants: dict[str, list[str]] = {}
    for node in graph.graph_def.node:
        count = 0
        for text in node.input:
            ref = _names.parse_input(text)
            if ref.control or ref.op not in by_name:
                continue
            count += 1
            dependants.setdefault(ref.op, []).append(node.name)
        pending[node.name] = count
    ready = [n.name for n in graph.graph_def.node if pending[n.name] == 0]
    done = set()
    while ready:
        name = ready.pop()
        done.add(name)
        yield by_name[name], True
        for child in dependants.get(name, ()):
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    for node in graph.graph_def.node:
        if node.name not in done:
            yield node, True
