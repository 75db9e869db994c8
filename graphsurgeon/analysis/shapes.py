"""Output shapes without TensorFlow: recorded, declared, or inferred.

Where a shape comes from, in order:

1. ``_output_shapes`` recorded in the graph (TensorFlow wrote it), merged
   dimension by dimension with what inference says (as TensorFlow's
   importer does);
2. attributes that declare it (Placeholder, Const, variables, ``output_shapes``
   of functional control flow);
3. inference rules that follow TensorFlow's own shape functions, propagated
   in one pass in data-flow order (iterative, cycle-safe: an op on a cycle
   sees its not-yet-inferred inputs as unknown).

Shape-valued tensors (``Shape``, ``Const``, ``Pack``, ``ConcatV2``,
``StridedSlice``, ``GatherV2`` ... of those) are folded as they go by, so that
``Reshape``, ``Fill``, ``Tile``, ``BroadcastTo``, random ops and reductions
with constant axes get their shapes, as in TensorFlow's shape refiner.

A shape is a tuple of dimensions (None for an unknown one), or None when
even the rank is unknown. A rule that is not sure answers None: a reported
shape is never wrong, and tests hold that against TensorFlow.

Example:
    >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_frozen.pb")
    >>> g.tensor("hidden1/MatMul:0").shape
    (None, 300)
"""
from __future__ import annotations

import math
from collections.abc import Callable

from ..vocab import dtypes as _dtypes
from ..vocab import names as _names
from ..vocab.optypes import PASS_THROUGH, RESTORE_TYPES
from . import smallarray as _sa

Shape = "tuple | None"

# Constants larger than this are not decoded for folding (shape tensors are small).
MAX_FOLD_ELEMENTS = 4096
# Function calls are inferred through their bodies down to this depth.
MAX_CALL_DEPTH = 8
# TensorFlow's TensorShape holds at most 254 dimensions; a longer shape vector is damage.
MAX_RANK = 254
# Legacy graphs (GraphDef producer <= 21) wrote shape {} for "unknown" on
# Placeholder and variables; TensorFlow keeps reading them that way.
LEGACY_SCALAR_PRODUCER = 21


def from_proto(proto) -> tuple | None:
    """TensorShapeProto -> shape (``-1`` dims are unknown)."""
    if proto.unknown_rank:
        return None
    # A list, not a generator: this runs for most ops of a large graph.
    dims = tuple([d.size for d in proto.dim])
    for size in dims:
        if size < 0:
            return tuple([None if d < 0 else d for d in dims])
    return dims


_SHAPE_TEXT: dict = {}


def format_shape(shape) -> str:
    """``(None, 784)`` -> ``[?, 784]``; None -> ``?``."""
    if shape is None:
        return "?"
    key = tuple(shape)
    text = _SHAPE_TEXT.get(key)
    if text is None:
        text = "[" + ", ".join("?" if d is None else str(d) for d in key) + "]"
        if len(_SHAPE_TEXT) < 65536:  # graphs repeat a few shapes; memoise them, boundedly
            _SHAPE_TEXT[key] = text
    return text


def shape_json(shape) -> list | None:
    """A shape as ``--json`` prints it: ``(None, 784)`` -> ``[None, 784]`` (null: unknown); an unknown rank -> None."""
    return None if shape is None else list(shape)


def broadcast(a, b):
    """NumPy broadcasting of two shapes, as TensorFlow's shape function does it.

    None if a rank is unknown or the shapes are incompatible.
    """
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
        elif x is None and y is None:
            out.append(None)
        elif x is None or y is None:
            known = x if y is None else y
            # The unknown side is 1 or equal to the known one, except that a
            # known 0 against an unknown could also give 0 or fail: say unknown.
            out.append(known if known != 0 else None)
        elif x == y:
            out.append(x)
        else:
            return None
    return tuple(reversed(out))


def merge(a, b):
    """The most precise shape compatible with both (None where unknown); None if rank unknown in both."""
    if a is None:
        return b
    if b is None:
        return a
    if len(a) != len(b):
        return None
    out = []
    for x, y in zip(a, b):
        if x is None:
            out.append(y)
        elif y is None or x == y:
            out.append(x)
        else:
            return None  # incompatible: we do not know which is right
    return tuple(out)


# ---------------------------------------------------------------- inference context
class Context:
    """What a rule sees of one node: its input shapes, folded values, attributes."""

    __slots__ = ("node", "name", "op", "graph", "shapes", "_values", "_partials", "_handles", "refs", "state")

    def __init__(self, node, graph, state, refs, name=None, op=None):
        self.node = node
        # The op's name and type, read once (each read of node.name or node.op makes a new string).
        self.name = node.name if name is None else name
        self.op = node.op if op is None else op
        self.graph = graph
        self.state = state
        self.refs = refs  # data inputs as InputRef
        get = state.shapes.get  # state.shape_of, inlined: this runs for most ops of a graph
        shapes = []
        for r in refs:
            entry = get(r[0])
            shapes.append(entry[r[1]] if entry and r[1] < len(entry) else None)
        self.shapes = shapes

    def attr(self, name, default=None):
        """An attr value (decoded for i/b/f/s/shape/list(i)), falling back to the op's default."""
        node = self.node
        value = node.attr[name] if name in node.attr else self.graph.registry.attr_default(node.op, name)
        if value is None:
            return default
        kind = value.WhichOneof("value")
        if kind is None:
            return default
        if kind == "list":
            if value.list.shape:
                return [from_proto(s) for s in value.list.shape]
            if value.list.i:
                return list(value.list.i)
            return []
        if kind == "shape":
            return from_proto(value.shape)
        if kind == "s":
            return value.s.decode("utf-8", "replace")
        return getattr(value, kind)

    def value(self, i):
        """The constant value of data input ``i`` (a :class:`~graphsurgeon.analysis.smallarray.SmallArray`), or None."""
        return self.state.value_of(self.refs[i]) if i < len(self.refs) else None

    def int_value(self, i):
        """Input ``i`` as a python int (scalar or one-element constant), or None."""
        v = self.value(i)
        if v is None or v.size != 1 or v.dtype.kind not in "iu":
            return None
        return int(v.reshape(()))

    def int_list(self, i):
        """Input ``i`` as a list of python ints (scalar -> one element), or None."""
        v = self.value(i)
        if v is None or v.dtype.kind not in "iu" or v.ndim > 1:
            return None
        return [int(x) for x in v.reshape(-1)]

    def shape_value(self, i):
        """Input ``i`` read as a shape, like TensorFlow's MakeShapeFromShapeTensor.

        A constant vector gives its dims (-1 unknown), a scalar -1 an unknown
        rank; a folded partial shape (``Shape`` of a partly known tensor,
        ``Pack``/``ConcatV2``/``StridedSlice`` of those) gives what it knows;
        otherwise a vector of known length gives that many unknown dims.
        """
        if i >= len(self.refs):
            return None
        partial = self.state.partial_of(self.refs[i])
        if partial is not None:
            return partial
        v = self.value(i)
        if v is not None and v.dtype.kind in "iu":
            if v.ndim == 0:
                return None if int(v) == -1 else None
            if v.ndim == 1:
                return tuple(None if int(x) < 0 else int(x) for x in v)
            return None
        s = self.shapes[i]
        if s is not None and len(s) == 1 and s[0] is not None and s[0] <= MAX_RANK:
            return (None,) * s[0]
        return None

    def handle_shape(self, i):
        """The shape of the variable behind resource input ``i``, if known."""
        return self.state.handle_of(self.refs[i]) if i < len(self.refs) else None


class _State:
    """Shapes, folded values and resource-handle shapes of the ops seen so far."""

    def __init__(self, graph, arg_shapes=None, depth=0, arg_handles=None, calls=None):
        self.graph = graph
        self.shapes: dict[str, list] = {}
        self.values: dict[str, list] = {}    # op -> [SmallArray | None per output]
        self.partials: dict[str, list] = {}  # op -> [partial shape tuple | None per output]
        self.handles: dict[str, list] = {}   # op -> [variable shape | None per output]
        self.arg_shapes = arg_shapes or {}
        self.arg_handles = arg_handles or {}
        self.depth = depth
        self.calls = calls if calls is not None else {}  # (function, input shapes) -> result shapes
        self.constants: dict[bytes, object] = {}  # serialized TensorProto -> SmallArray | None
        self.watched: set[str] = set()  # restores, and the Identity ops that read them
        self.readers: dict[tuple, list] = {}  # (watched op, output) -> [(reader, input position)]
        root = graph.root if hasattr(graph, "root") else graph
        gd = root.graph_def
        self.producer = gd.versions.producer if gd.HasField("versions") else 0

    @staticmethod
    def _get(table, ref):
        entry = table.get(ref.op)
        return entry[ref.index] if entry and ref.index < len(entry) else None

    def shape_of(self, ref):
        return self._get(self.shapes, ref)

    def value_of(self, ref):
        return self._get(self.values, ref)

    def partial_of(self, ref):
        return self._get(self.partials, ref)

    def handle_of(self, ref):
        return self._get(self.handles, ref)


# ---------------------------------------------------------------- rules
Rule = Callable[[Context], "list | None"]
RULES: dict[str, Rule] = {}
VALUE_RULES: dict[str, Callable] = {}


def rule(*op_types):
    """Register a shape rule ``fn(ctx) -> [shape per output] | None`` for op types."""
    def register(fn):
        for t in op_types:
            RULES[t] = fn
        return fn
    return register


def value_rule(*op_types):
    """Register a folding rule ``fn(ctx) -> [(value, partial) per output] | None``."""
    def register(fn):
        for t in op_types:
            VALUE_RULES[t] = fn
        return fn
    return register


def _legacy_unknown(ctx, shape):
    if shape is not None and len(shape) == 0 and ctx.state.producer <= LEGACY_SCALAR_PRODUCER:
        return None
    return shape


@rule("Placeholder", "PlaceholderV2")
def _placeholder(ctx):
    if "shape" not in ctx.node.attr:
        return [None]
    return [_legacy_unknown(ctx, ctx.attr("shape"))]


@rule("PlaceholderWithDefault")
def _placeholder_with_default(ctx):
    return [ctx.attr("shape")]


@rule("Const", "HostConst")
def _const(ctx):
    if "value" not in ctx.node.attr:
        return None
    return [from_proto(ctx.node.attr["value"].tensor.tensor_shape)]


@rule("VariableV2", "Variable", "TemporaryVariable")
def _variable(ctx):
    return [_legacy_unknown(ctx, ctx.attr("shape"))]


@rule("VarHandleOp", "HashTableV2", "MutableHashTableV2", "MutableHashTableOfTensorsV2",
      "MutableDenseHashTableV2", "TensorListReserve", "TensorListFromTensor", "EmptyTensorList",
      "OptionalNone", "OptionalFromValue", "TensorListSetItem", "TensorListPushBack",
      "VarIsInitializedOp", "IsVariableInitialized", "LookupTableSizeV2", "ShardedFilename",
      "ShardedFilespec", "Size", "Rank", "L2Loss", "LoopCond")
def _scalar(ctx):
    return [()] * max(1, len(ctx.graph.output_dtypes(ctx.name) or [None]))


@rule("Identity", "StopGradient", "Snapshot", "PreventGradient", "RefIdentity", "CheckNumerics",
      "CheckNumericsV2", "Elu", "Relu", "Relu6", "Selu", "LeakyRelu", "Tanh", "Sigmoid", "Softplus",
      "Softsign", "Neg", "Square", "Sqrt", "Rsqrt", "Exp", "Log", "Log1p", "Abs", "Sign",
      "Reciprocal", "Floor", "Ceil", "Round", "Rint", "Cast", "ZerosLike", "OnesLike", "Softmax",
      "LogSoftmax", "Erf", "Erfc", "IsFinite", "IsNan", "IsInf", "LogicalNot", "Exit", "RefExit",
      "NextIteration", "RefNextIteration", "DebugIdentity", "Inv", "Expm1", "Cos", "Sin", "Tan",
      "Acos", "Asin", "Atan", "Cosh", "Sinh", "Asinh", "Acosh", "Atanh", "Invert",
      "InvertPermutation", "Lgamma", "Digamma", "FakeQuantWithMinMaxArgs",
      "StringToHashBucketFast", "StaticRegexFullMatch", "StringToHashBucket",
      "StringToHashBucketStrong", "Conj")
def _same_as_first(ctx):
    return [ctx.shapes[0]] if ctx.shapes else None


@rule("EnsureShape")
def _ensure_shape(ctx):
    return [merge(ctx.attr("shape"), ctx.shapes[0] if ctx.shapes else None)]


@rule("IdentityN")
def _identity_n(ctx):
    return list(ctx.shapes)


@rule("Enter", "RefEnter")
def _enter(ctx):
    # TensorFlow forgets the shape at a frame's entry unless the tensor is loop-invariant.
    return [ctx.shapes[0] if ctx.attr("is_constant", False) else None]


@rule("Switch", "RefSwitch")
def _switch(ctx):
    return [ctx.shapes[0], ctx.shapes[0]]


@rule("Merge", "RefMerge")
def _merge_op(ctx):
    out = ctx.shapes[0] if ctx.shapes else None
    if out is not None:
        for s in ctx.shapes[1:]:
            if s is None or len(s) != len(out):
                out = None
                break
            out = tuple(a if a == b else None for a, b in zip(out, s))
    return [out, ()]


@rule("Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "DivNoNan", "FloorDiv", "FloorMod", "Maximum",
      "Minimum", "Pow", "SquaredDifference", "Equal", "NotEqual", "Less", "LessEqual", "Greater",
      "GreaterEqual", "LogicalAnd", "LogicalOr", "Atan2", "TruncateDiv", "TruncateMod", "Xdivy",
      "Xlogy", "MulNoNan", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Mod", "Igamma", "Igammac",
      "Zeta", "Polygamma", "ApproximateEqual")
def _binary(ctx):
    if len(ctx.shapes) < 2:
        return None
    return [broadcast(ctx.shapes[0], ctx.shapes[1])]


@rule("SelectV2")
def _select_v2(ctx):
    return [broadcast(broadcast(ctx.shapes[0], ctx.shapes[1]), ctx.shapes[2])]


@rule("Select")
def _select(ctx):
    return [merge(ctx.shapes[1], ctx.shapes[2])]


@rule("EluGrad", "ReluGrad", "Relu6Grad", "SeluGrad", "TanhGrad", "SigmoidGrad", "RsqrtGrad",
      "SqrtGrad", "ReciprocalGrad", "InvGrad", "SoftplusGrad", "SoftsignGrad", "LeakyReluGrad")
def _merge_both(ctx):
    return [merge(ctx.shapes[0], ctx.shapes[1])]


def _merge_same_rank(shapes):
    """All known shapes merged (they must agree in rank and known dims), or None."""
    out = None
    for s in shapes:
        if s is None:
            continue
        if out is not None and len(out) != len(s):
            return None
        out = merge(out, s) if out is not None else s
    return out


@rule("AddN")
def _add_n(ctx):
    return [_merge_same_rank(ctx.shapes)]


@rule("MatMul")
def _matmul(ctx):
    a, b = ctx.shapes[0], ctx.shapes[1]
    ta, tb = ctx.attr("transpose_a", False), ctx.attr("transpose_b", False)
    rows = None if a is None or len(a) != 2 else (a[1] if ta else a[0])
    cols = None if b is None or len(b) != 2 else (b[0] if tb else b[1])
    return [(rows, cols)]


@rule("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3")
def _batch_matmul(ctx):
    a, b = ctx.shapes[0], ctx.shapes[1]
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        return None
    adj_x, adj_y = ctx.attr("adj_x", False), ctx.attr("adj_y", False)
    if ctx.op == "BatchMatMul":
        if len(a) != len(b):
            return None
        batch = merge(a[:-2], b[:-2])
    else:
        batch = broadcast(a[:-2], b[:-2])
    if batch is None:
        return None
    return [batch + ((a[-1] if adj_x else a[-2]), (b[-2] if adj_y else b[-1]))]


def _channel_axis(ctx, rank):
    fmt = ctx.attr("data_format", "NHWC")
    return 1 if fmt.startswith("NC") and rank >= 3 else rank - 1


@rule("BiasAdd", "BiasAddV1")
def _bias_add(ctx):
    x = ctx.shapes[0]
    if x is None:
        return [None]
    axis = _channel_axis(ctx, len(x)) if ctx.op == "BiasAdd" else len(x) - 1
    bias = ctx.shapes[1]
    dim = merge((x[axis],), bias)
    return [x[:axis] + (dim[0] if dim else x[axis],) + x[axis + 1:]]


@rule("BiasAddGrad")
def _bias_add_grad(ctx):
    x = ctx.shapes[0]
    if x is None:
        return [(None,)]
    return [(x[_channel_axis(ctx, len(x))],)]


def _axes(ctx, index, rank):
    axes = ctx.int_list(index)
    if axes is None or rank is None:
        return None
    out = set()
    for a in axes:
        if not -rank <= a < rank:
            return None
        out.add(a % rank)
    return out


@rule("Sum", "Mean", "Prod", "Max", "Min", "All", "Any", "EuclideanNorm")
def _reduction(ctx):
    x = ctx.shapes[0]
    keep = ctx.attr("keep_dims", False)
    axes = _axes(ctx, 1, None if x is None else len(x))
    if axes is None:
        if keep and x is not None:
            return [(None,) * len(x)]
        return [None]
    if keep:
        return [tuple(1 if i in axes else d for i, d in enumerate(x))]
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


@rule("ArgMax", "ArgMin")
def _arg_reduce(ctx):
    x = ctx.shapes[0]
    axes = _axes(ctx, 1, None if x is None else len(x))
    if axes is None or len(axes) != 1:
        return None
    (axis,) = axes
    return [x[:axis] + x[axis + 1:]]


@rule("Shape")
def _shape(ctx):
    x = ctx.shapes[0] if ctx.shapes else None
    return [(len(x),) if x is not None else (None,)]


@rule("ShapeN")
def _shape_n(ctx):
    return [(len(x),) if x is not None else (None,) for x in ctx.shapes]


@rule("Reshape")
def _reshape(ctx):
    out = ctx.shape_value(1)
    x = ctx.shapes[0]
    if out is None:
        return [None]
    unknown = [i for i, d in enumerate(out) if d is None]
    if len(unknown) == 1 and x is not None and None not in x:
        # One dimension to infer (a -1, or unknown): the element count fixes it.
        known = math.prod(d for d in out if d is not None)
        total = math.prod(x)
        if known and total % known == 0:
            out = out[:unknown[0]] + (total // known,) + out[unknown[0] + 1:]
    if x is not None and None not in x and None not in out and math.prod(x) != math.prod(out):
        return None
    return [out]


@rule("SparseToDense")
def _sparse_to_dense(ctx):
    return [ctx.shape_value(1)]


@rule("UnsortedSegmentSum", "UnsortedSegmentMax", "UnsortedSegmentMin", "UnsortedSegmentProd")
def _unsorted_segment(ctx):
    data, ids = ctx.shapes[0], ctx.shapes[1]
    if data is None or ids is None or len(data) < len(ids):
        return None
    n = ctx.int_value(2)
    return [(n if n is not None and n >= 0 else None,) + data[len(ids):]]


@rule("UpperBound", "LowerBound")
def _bound(ctx):
    return [ctx.shapes[1]]


@rule("StringJoin")
def _string_join(ctx):
    out = ()
    for s in ctx.shapes:
        if s is None:
            return None
        if s != ():
            out = s if out == () else merge(out, s)
            if out is None:
                return None
    return [out]


@rule("ParseExample")
def _parse_example(ctx):
    serialized = ctx.shapes[0]
    n_sparse, n_dense = ctx.attr("Nsparse", 0), ctx.attr("Ndense", 0)
    dense_shapes = ctx.attr("dense_shapes", []) or []
    # ParseExample (v1) takes a vector of serialized examples (TensorFlow's shape
    # function insists on rank 1), so the batch is its only dimension.
    if serialized is not None and len(serialized) != 1:
        return None
    batch = (serialized or (None,))[0]
    out = [(None, 2)] * n_sparse + [(None,)] * n_sparse + [(2,)] * n_sparse
    for i in range(n_dense):
        dense = dense_shapes[i] if i < len(dense_shapes) else None
        out.append(None if dense is None else (batch,) + dense)
    return out


@rule("PartitionedCall", "StatefulPartitionedCall")
def _call(ctx):
    value = ctx.node.attr["f"] if "f" in ctx.node.attr else None
    name = value.func.name if value is not None and value.WhichOneof("value") == "func" else None
    return _call_function(ctx, name) if name else None


def _call_function(ctx, name):
    """Shapes of a function's results for this call site: its body inferred with the caller's shapes."""
    state = ctx.state
    if state.depth >= MAX_CALL_DEPTH:
        return None
    try:
        body = ctx.graph.function(name)
    except Exception:  # noqa: BLE001 - a call to a function the library lacks: unknown
        return None
    handles = tuple(ctx.handle_shape(i) for i in range(len(ctx.refs)))
    key = (name, tuple(ctx.shapes), handles)
    cache = state.calls
    if key not in cache:
        cache[key] = None  # a recursive call sees unknown shapes
        inner = _infer(body, dict(enumerate(ctx.shapes)), dict(enumerate(handles)), state.depth + 1, cache)
        results = sorted((n for n in body.graph_def.node if n.op == "_Retval"),
                         key=lambda n: n.attr["index"].i)
        out = []
        for node in results:
            ref = _names.parse_input(node.input[0]) if node.input else None
            entry = inner.get(ref.op) if ref else None
            out.append(entry[ref.index] if entry and ref.index < len(entry) else None)
        cache[key] = out
    return cache[key]


@rule("Fill", "TruncatedNormal", "RandomUniform", "RandomStandardNormal", "RandomUniformInt",
      "ParameterizedTruncatedNormal", "StatelessRandomUniform", "StatelessRandomNormal",
      "StatelessTruncatedNormal", "Empty", "StridedSliceGrad")
def _from_shape_input(ctx):
    return [ctx.shape_value(0)]


@rule("BroadcastTo")
def _broadcast_to(ctx):
    return [ctx.shape_value(1)]


@rule("Tile")
def _tile(ctx):
    x = ctx.shapes[0]
    multiples = ctx.int_list(1)
    if multiples is None:
        rank = len(x) if x is not None else None
        m = ctx.shapes[1] if len(ctx.shapes) > 1 else None
        if rank is None and m is not None and len(m) == 1:
            rank = m[0]
        return [None if rank is None else (None,) * rank]
    if x is None:
        x = (None,) * len(multiples)
    if len(x) != len(multiples):
        return None
    return [tuple(None if d is None else d * m for d, m in zip(x, multiples))]


@rule("ExpandDims")
def _expand_dims(ctx):
    x = ctx.shapes[0]
    dim = ctx.int_list(1)
    if x is None or dim is None or len(dim) != 1:
        return None
    axis = dim[0]
    if not -len(x) - 1 <= axis <= len(x):
        return None
    if axis < 0:
        axis += len(x) + 1
    return [x[:axis] + (1,) + x[axis:]]


@rule("Squeeze")
def _squeeze(ctx):
    x = ctx.shapes[0]
    if x is None:
        return None
    dims = ctx.attr("squeeze_dims", []) or []
    if not dims:
        if any(d is None for d in x):
            return None
        return [tuple(d for d in x if d != 1)]
    axes = {a % len(x) for a in dims if -len(x) <= a < len(x)}
    if len(axes) != len(set(dims)):
        return None
    return [tuple(d for i, d in enumerate(x) if i not in axes)]


def _concat(shapes, axis):
    ranked = [s for s in shapes if s is not None]
    if not ranked:
        return None
    rank = len(ranked[0])
    if any(len(s) != rank for s in ranked):
        return None
    if axis is None:
        return (None,) * rank
    if not -rank <= axis < rank:
        return None
    axis %= rank
    out = list(ranked[0])
    for s in ranked[1:]:
        for i, d in enumerate(s):
            if i != axis and out[i] is None:
                out[i] = d
    if len(ranked) == len(shapes) and all(s[axis] is not None for s in ranked):
        out[axis] = sum(s[axis] for s in ranked)
    else:
        out[axis] = None
    return tuple(out)


@rule("ConcatV2")
def _concat_v2(ctx):
    n = len(ctx.shapes) - 1
    return [_concat(ctx.shapes[:n], ctx.int_value(n))]


@rule("Concat")
def _concat_v1(ctx):
    return [_concat(ctx.shapes[1:], ctx.int_value(0))]


@rule("ConcatOffset")
def _concat_offset(ctx):
    return list(ctx.shapes[1:])


@rule("Pack")
def _pack(ctx):
    out = _merge_same_rank(ctx.shapes)
    if out is None:
        return None
    axis = ctx.attr("axis", 0)
    rank = len(out) + 1
    if not -rank <= axis < rank:
        return None
    axis %= rank
    return [out[:axis] + (len(ctx.shapes),) + out[axis:]]


@rule("Unpack")
def _unpack(ctx):
    x = ctx.shapes[0]
    num = ctx.attr("num", 0)
    if x is None:
        return [None] * num
    axis = ctx.attr("axis", 0)
    if not -len(x) <= axis < len(x):
        return None
    axis %= len(x)
    return [x[:axis] + x[axis + 1:]] * num


@rule("Split")
def _split(ctx):
    x = ctx.shapes[1]
    num = ctx.attr("num_split", 1)
    axis = ctx.int_value(0)
    if x is None:
        return [None] * num
    if axis is None or not -len(x) <= axis < len(x):
        return [(None,) * len(x)] * num
    axis %= len(x)
    d = x[axis]
    size = d // num if d is not None and d % num == 0 else None
    return [x[:axis] + (size,) + x[axis + 1:]] * num


@rule("SplitV")
def _split_v(ctx):
    x = ctx.shapes[0]
    num = ctx.attr("num_split", 1)
    sizes = ctx.int_list(1)
    axis = ctx.int_value(2)
    if x is None:
        return [None] * num
    if axis is None or not -len(x) <= axis < len(x) or sizes is None or len(sizes) != num:
        return [(None,) * len(x)] * num
    axis %= len(x)
    if sizes.count(-1) == 1:
        rest = sum(s for s in sizes if s != -1)
        fill = x[axis] - rest if x[axis] is not None else None
        sizes = [fill if s == -1 else s for s in sizes]
    return [x[:axis] + (s if s is None or s >= 0 else None,) + x[axis + 1:] for s in sizes]


@rule("Transpose")
def _transpose(ctx):
    x = ctx.shapes[0]
    perm = ctx.int_list(1)
    if perm is None:
        if x is not None:
            return [(None,) * len(x)]
        p = ctx.shapes[1]
        return [(None,) * p[0] if p is not None and len(p) == 1 and p[0] is not None else None]
    if x is None:
        x = (None,) * len(perm)
    if sorted(p % len(x) for p in perm) != list(range(len(x))) or len(perm) != len(x):
        return None
    return [tuple(x[p % len(x)] for p in perm)]


@rule("Slice")
def _slice(ctx):
    x = ctx.shapes[0]
    begin, size = ctx.int_list(1), ctx.int_list(2)
    if size is None:
        # Sizes partly known (a folded partial shape): those dims; -1 or unknown stay unknown.
        partial = ctx.shape_value(2)
        if partial is not None:
            return [partial]
        n = len(x) if x is not None else None
        return [None if n is None else (None,) * n]
    out = []
    for i, n in enumerate(size):
        if n >= 0:
            out.append(n)
        elif begin is not None and x is not None and i < len(x) and x[i] is not None:
            out.append(x[i] - begin[i])
        else:
            out.append(None)
    return [tuple(out)]


def _strided_slice_spec(ctx, rank, begin, end, strides):
    """The slice spec made dense over ``rank`` input dims (ellipsis expanded), or None.

    Entries: ``("new",)`` for a new axis, ``("dim", i, begin, end, stride, shrink,
    begin_masked, end_masked)`` for input dim ``i``.
    """
    n = len(strides)
    begin_mask, end_mask = ctx.attr("begin_mask", 0), ctx.attr("end_mask", 0)
    ellipsis_mask, new_axis_mask = ctx.attr("ellipsis_mask", 0), ctx.attr("new_axis_mask", 0)
    shrink_mask = ctx.attr("shrink_axis_mask", 0)
    if bin(ellipsis_mask).count("1") > 1:
        return None
    specs = []
    dim = 0
    for i in range(n):
        if ellipsis_mask & (1 << i):
            # Dimensions after the ellipsis that consume input dims.
            after = sum(1 for j in range(i + 1, n) if not new_axis_mask & (1 << j))
            cover = rank - dim - after
            if cover < 0:
                return None
            for _ in range(cover):
                specs.append(("dim", dim, 0, 0, 1, False, True, True))
                dim += 1
        elif new_axis_mask & (1 << i):
            specs.append(("new",))
        else:
            if dim >= rank:
                return None
            specs.append(("dim", dim, begin[i] if begin else None, end[i] if end else None, strides[i],
                          bool(shrink_mask & (1 << i)), bool(begin_mask & (1 << i)),
                          bool(end_mask & (1 << i))))
            dim += 1
    while dim < rank:
        specs.append(("dim", dim, 0, 0, 1, False, True, True))
        dim += 1
    return specs


def _slice_length(size, b, e, s, bmask, emask):
    """Elements in ``range(size)[b:e:s]`` with TensorFlow's masks and clamping; None if unknown."""
    if s == 0 or size is None:
        # An unknown dimension may be shorter than the slice's end: unknown (as in TensorFlow).
        return None
    start = None if bmask else b
    stop = None if emask else e
    if (start is None and not bmask) or (stop is None and not emask):
        return None
    return len(range(size)[slice(start, stop, s)])


@rule("StridedSlice")
def _strided_slice(ctx):
    x = ctx.shapes[0]
    begin, end, strides = ctx.int_list(1), ctx.int_list(2), ctx.int_list(3)
    if x is None or strides is None:
        return None
    specs = _strided_slice_spec(ctx, len(x), begin, end, strides)
    if specs is None:
        return None
    out = []
    for spec in specs:
        if spec[0] == "new":
            out.append(1)
            continue
        _, i, b, e, s, shrink, bmask, emask = spec
        if shrink:
            continue
        out.append(_slice_length(x[i], b, e, s, bmask, emask))
    return [tuple(out)]


@rule("GatherV2", "Gather", "ResourceGather")
def _gather(ctx):
    if ctx.op == "ResourceGather":
        params, indices, axis = ctx.handle_shape(0), ctx.shapes[1], 0
    elif ctx.op == "Gather":
        params, indices, axis = ctx.shapes[0], ctx.shapes[1], 0
    else:
        params, indices, axis = ctx.shapes[0], ctx.shapes[1], ctx.int_value(2)
    batch_dims = ctx.attr("batch_dims", 0)
    if params is None or indices is None or axis is None or batch_dims:
        return None
    if not -len(params) <= axis < len(params):
        return None
    axis %= len(params)
    return [params[:axis] + indices + params[axis + 1:]]


@rule("Range")
def _range(ctx):
    vals = [ctx.value(i) for i in range(3)]
    if any(v is None or v.size != 1 for v in vals):
        return [(None,)]
    start, limit, delta = (v.reshape(()).item() for v in vals)
    if delta == 0:
        return None
    return [(max(0, math.ceil((limit - start) / delta)),)]


@rule("DynamicStitch", "ParallelDynamicStitch")
def _dynamic_stitch(ctx):
    n = ctx.attr("N", len(ctx.shapes) // 2)
    indices, data = ctx.shapes[:n], ctx.shapes[n:]
    extra = None
    for ind, dat in zip(indices, data):
        if ind is None or dat is None:
            continue
        if len(dat) < len(ind):
            return None
        tail = dat[len(ind):]
        extra = tail if extra is None else merge(extra, tail)
        if extra is None:
            return None
    if extra is None:
        return None
    first = None
    values = [ctx.value(i) for i in range(n)]
    if all(v is not None for v in values):
        first = max((int(v.max()) for v in values if v.size), default=-1) + 1
    return [(first,) + extra]


@rule("SparseSoftmaxCrossEntropyWithLogits")
def _sparse_xent(ctx):
    feats, labels = ctx.shapes[0], ctx.shapes[1]
    if feats is None or len(feats) != 2:
        batch = labels[0] if labels is not None and len(labels) == 1 else None
        return [(batch,), None if feats is None else None]
    batch = merge((feats[0],), labels)
    b = batch[0] if batch is not None and len(batch) == 1 else feats[0]
    return [(b,), (b, feats[1])]


@rule("SoftmaxCrossEntropyWithLogits")
def _xent(ctx):
    both = broadcast(ctx.shapes[0], ctx.shapes[1])
    if both is None or len(both) != 2:
        return None
    return [(both[0],), both]


@rule("InTopK", "InTopKV2")
def _in_top_k(ctx):
    preds, targets = ctx.shapes[0], ctx.shapes[1]
    batch = None if preds is None or len(preds) != 2 else (preds[0],)
    return [merge(batch, targets) if targets is not None else batch]


@rule("ApplyGradientDescent", "ApplyMomentum", "ApplyAdam", "ApplyAdagrad", "ApplyAdagradV2",
      "ApplyRMSProp", "ApplyCenteredRMSProp", "ApplyAdadelta", "ApplyFtrl", "ApplyFtrlV2",
      "ApplyProximalGradientDescent", "ApplyProximalAdagrad", "ApplyAdaMax", "ApplyPowerSign",
      "ApplyAddSign", "SparseApplyAdagrad", "SparseApplyMomentum", "SparseApplyFtrl",
      "SparseApplyRMSProp", "SparseApplyAdadelta", "SparseApplyAdagradV2", "SparseApplyFtrlV2",
      "SparseApplyCenteredRMSProp", "SparseApplyProximalAdagrad",
      "SparseApplyProximalGradientDescent", "ScatterAdd", "ScatterSub", "ScatterUpdate",
      "ScatterMul", "ScatterDiv", "ScatterMax", "ScatterMin", "CountUpTo")
def _like_var(ctx):
    if ctx.op == "ApplyGradientDescent":
        return [merge(ctx.shapes[0], ctx.shapes[2])]
    if ctx.op == "CountUpTo":
        return [()]
    return [ctx.shapes[0]]


@rule("Assign")
def _assign(ctx):
    if ctx.attr("validate_shape", True):
        return [merge(ctx.shapes[0], ctx.shapes[1])]
    return [ctx.shapes[1]]


@rule("AssignAdd", "AssignSub")
def _assign_add(ctx):
    return [merge(ctx.shapes[0], ctx.shapes[1])]


@rule("ReadVariableOp")
def _read_variable(ctx):
    return [ctx.handle_shape(0)]


@rule("NoOp", "SaveV2", "Save", "SaveSlices", "Assert", "AssignVariableOp", "AssignAddVariableOp",
      "AssignSubVariableOp", "ControlTrigger", "MergeV2Checkpoints", "DisableCopyOnRead",
      "DestroyResourceOp", "InitializeTableV2", "InitializeTableFromTextFileV2", "_Retval")
def _no_outputs(ctx):
    return []


@rule("Unique")
def _unique(ctx):
    return [(None,), ctx.shapes[0]]


@rule("Where")
def _where(ctx):
    x = ctx.shapes[0]
    return [(None, len(x)) if x is not None else (None, None)]


@rule("OneHot")
def _one_hot(ctx):
    indices = ctx.shapes[0]
    depth = ctx.int_value(1)
    if indices is None:
        return None
    axis = ctx.attr("axis", -1)
    if axis == -1:
        axis = len(indices)
    if not 0 <= axis <= len(indices):
        return None
    return [indices[:axis] + ((depth if depth is not None and depth >= 0 else None),) + indices[axis:]]


# ---------------------------------------------------------------- convolutions, pooling, batch norm, padding
# As TensorFlow's shape functions (common_shape_fns.cc, array_ops.cc): the same
# arithmetic on dimensions, None where TensorFlow's dimension would be unknown,
# and no answer where TensorFlow would refuse the graph.

def _add_dim(a, b):
    """InferenceContext::Add: a known 0 leaves the other side as it is; unknown + anything is unknown."""
    if b == 0:
        return a
    if a == 0:
        return b
    return None if a is None or b is None else a + b


def _mul_dim(a, b):
    """InferenceContext::Multiply: 0 and 1 decide even against an unknown."""
    if a == 0 or b == 0:
        return 0
    if a == 1:
        return b
    if b == 1:
        return a
    return None if a is None or b is None else a * b


class _Refused(Exception):
    """TensorFlow's shape function would fail on this node: no shape is reported."""


def _windowed(size, window, dilation, stride, padding, before=0, after=0):
    """GetWindowedOutputSizeFromDimsV2: the output length of a window sliding over ``size``."""
    if stride is None or stride <= 0 or dilation is None or dilation < 1:
        raise _Refused
    if padding == "SAME":
        return None if size is None else (size + stride - 1) // stride
    if padding == "VALID":
        before = after = 0
    if window is not None and window < 1 and dilation > 1:
        raise _Refused  # TensorFlow subtracts 1 from the window first: "Negative dimension size"
    size = _add_dim(size, before + after)
    if size is None or window is None:
        return None
    span = (window - 1) * dilation + 1
    if size < span:
        raise _Refused  # "Negative dimension size"
    return (size - span + stride) // stride


# Where N, H, W and C are in each data format TensorFlow's 2-D convolutions and pools take.
_LAYOUT_2D = {"NHWC": (0, 1, 2, 3), "NCHW": (0, 2, 3, 1)}


def _layout(ctx):
    """``(n, h, w, c)`` indices of the op's data format (_Refused for one we do not read)."""
    layout = _LAYOUT_2D.get(ctx.attr("data_format", "NHWC"))
    if layout is None:  # NCHW_VECT_C (int8 on GPUs): not followed
        raise _Refused
    return layout


def _with_rank(shape, rank):
    """TensorFlow's WithRank: an unknown rank becomes ``rank`` unknown dims; another rank is refused."""
    if shape is None:
        return (None,) * rank
    if len(shape) != rank:
        raise _Refused
    return shape


def _four(ctx, name, default=None):
    values = ctx.attr(name, default)
    if not isinstance(values, list) or len(values) != 4:
        raise _Refused
    return values


def _padding(ctx, layout):
    """``(padding, (top, bottom), (left, right))``; EXPLICIT padding read from ``explicit_paddings``."""
    padding = ctx.attr("padding", "")
    if padding in ("SAME", "VALID"):
        return padding, (0, 0), (0, 0)
    if padding != "EXPLICIT":
        raise _Refused
    pads = ctx.attr("explicit_paddings", []) or []
    if len(pads) != 8 or any(p < 0 for p in pads):
        raise _Refused
    _, h, w, _ = layout
    return padding, (pads[2 * h], pads[2 * h + 1]), (pads[2 * w], pads[2 * w + 1])


def _refusable(fn):
    """A rule that may find the node refused by TensorFlow: then it has no shape to report."""
    def rule_fn(ctx):
        try:
            return fn(ctx)
        except _Refused:
            return None
    rule_fn.__name__ = fn.__name__
    return rule_fn


def _shape_in(layout, n, h, w, c):
    out = [None] * 4
    for index, dim in zip(layout, (n, h, w, c)):
        out[index] = dim
    return tuple(out)


@rule("Conv2D")
@_refusable
def _conv2d(ctx):
    layout = _layout(ctx)
    x = _with_rank(ctx.shapes[0], 4)
    f = _with_rank(ctx.shapes[1], 4)  # [rows, cols, in depth / groups, out depth]
    strides, dilations = _four(ctx, "strides"), _four(ctx, "dilations", [1, 1, 1, 1])
    padding, rows, cols = _padding(ctx, layout)
    n, h, w, _ = layout
    return [_shape_in(layout, x[n],
                      _windowed(x[h], f[0], dilations[h], strides[h], padding, *rows),
                      _windowed(x[w], f[1], dilations[w], strides[w], padding, *cols), f[3])]


@rule("DepthwiseConv2dNative")
@_refusable
def _depthwise_conv2d(ctx):
    layout = _layout(ctx)
    x = _with_rank(ctx.shapes[0], 4)
    f = _with_rank(ctx.shapes[1], 4)  # [rows, cols, in depth, channel multiplier]
    strides, dilations = _four(ctx, "strides"), _four(ctx, "dilations", [1, 1, 1, 1])
    padding, rows, cols = _padding(ctx, layout)
    n, h, w, c = layout
    depth = merge((x[c],), (f[2],))
    if depth is None:
        raise _Refused  # the filter's input depth is not the input's
    return [_shape_in(layout, x[n],
                      _windowed(x[h], f[0], dilations[h], strides[h], padding, *rows),
                      _windowed(x[w], f[1], dilations[w], strides[w], padding, *cols),
                      _mul_dim(depth[0], f[3]))]


def _pool(ctx, ksize, strides, depth_window: bool):
    layout = _layout(ctx)
    x = _with_rank(ctx.shapes[0], 4)
    if not isinstance(ksize, list) or not isinstance(strides, list) or len(ksize) != 4 or len(strides) != 4:
        raise _Refused
    padding, rows, cols = _padding(ctx, layout)
    n, h, w, c = layout
    depth = _windowed(x[c], ksize[c], 1, strides[c], padding) if depth_window else x[c]
    return [_shape_in(layout, x[n], _windowed(x[h], ksize[h], 1, strides[h], padding, *rows),
                      _windowed(x[w], ksize[w], 1, strides[w], padding, *cols), depth)]


@rule("MaxPool")
@_refusable
def _max_pool(ctx):
    return _pool(ctx, ctx.attr("ksize"), ctx.attr("strides"), depth_window=True)


@rule("AvgPool")
@_refusable
def _avg_pool(ctx):
    return _pool(ctx, ctx.attr("ksize"), ctx.attr("strides"), depth_window=False)


@rule("MaxPoolV2")
@_refusable
def _max_pool_v2(ctx):
    ksize, strides = ctx.int_list(1), ctx.int_list(2)
    if ksize is None or strides is None:
        return [None]  # TensorFlow: unknown, without the window
    return _pool(ctx, ksize, strides, depth_window=True)


@rule("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
@_refusable
def _fused_batch_norm(ctx):
    fmt = ctx.attr("data_format", "NHWC")
    rank = 5 if fmt in ("NDHWC", "NCDHW") else 4
    if fmt not in ("NHWC", "NCHW", "NDHWC", "NCDHW"):
        raise _Refused
    x = _with_rank(ctx.shapes[0], rank)
    axis = 1 if fmt.startswith("NC") else rank - 1
    # Scale and offset, and the population mean and variance unless they are not read
    # (training with the batch's own statistics: TensorFlow leaves them unchecked).
    factor = ctx.attr("exponential_avg_factor", 1.0)
    inputs = 3 if ctx.attr("is_training", True) and factor == 1.0 else 5
    channels = (x[axis],)
    for i in range(1, inputs):
        vector = _with_rank(ctx.shapes[i] if i < len(ctx.shapes) else None, 1)
        channels = merge(channels, vector)
        if channels is None:
            raise _Refused
    y = x[:axis] + channels + x[axis + 1:]
    out = [y] + [channels] * 4
    if ctx.op == "FusedBatchNormV3":
        out.append(None)  # reserve_space_3: TensorFlow says nothing of its shape
    return out


@rule("FusedBatchNormGrad", "FusedBatchNormGradV2", "FusedBatchNormGradV3")
@_refusable
def _fused_batch_norm_grad(ctx):
    fmt = ctx.attr("data_format", "NHWC")
    if fmt not in ("NHWC", "NCHW", "NDHWC", "NCDHW"):
        raise _Refused
    rank = 5 if fmt in ("NDHWC", "NCDHW") else 4
    dy, x = _with_rank(ctx.shapes[0], rank), _with_rank(ctx.shapes[1], rank)
    axis = 1 if fmt.startswith("NC") else rank - 1
    channels = merge((dy[axis],), (x[axis],))
    for i in range(2, 5):  # scale, and the saved mean and variance
        channels = merge(channels, _with_rank(ctx.shapes[i] if i < len(ctx.shapes) else None, 1)) \
            if channels is not None else None
    if channels is None:
        raise _Refused
    return [dy[:axis] + channels + dy[axis + 1:], channels, channels, (0,), (0,)]


@rule("Pad", "PadV2", "MirrorPad")
@_refusable
def _pad(ctx):
    x = ctx.shapes[0]
    paddings = ctx.shapes[1] if len(ctx.shapes) > 1 else None
    if paddings is not None and (len(paddings) != 2 or paddings[1] not in (None, 2)):
        raise _Refused  # paddings is a [rank, 2] matrix
    rank = paddings[0] if paddings is not None else None
    if rank is not None:
        x = _with_rank(x, rank)
    elif x is not None:
        rank = len(x)
    value = ctx.value(1)
    if value is None or value.dtype.kind not in "iu":
        return [None if rank is None else (None,) * rank]
    if value.ndim != 2 or value.shape[1] != 2:
        raise _Refused
    x = _with_rank(x, value.shape[0])
    pads = value.data
    if any(p < 0 for p in pads):
        raise _Refused
    return [tuple(_add_dim(d, pads[2 * i] + pads[2 * i + 1]) for i, d in enumerate(x))]


@rule("If", "StatelessIf", "While", "StatelessWhile", "Case", "StatelessCase")
def _functional(ctx):
    shapes = ctx.attr("output_shapes", []) or []
    count = len(ctx.graph.output_dtypes(ctx.name) or [])
    if len(shapes) != count or count == 0:
        return None
    return list(shapes)


@rule("_Arg")
def _arg(ctx):
    index = ctx.attr("index", 0)
    if index in ctx.state.arg_shapes:
        return [ctx.state.arg_shapes[index]]
    return None


# ---------------------------------------------------------------- folding (values of shape tensors)
def _small(v):
    return v if v is not None and v.size <= MAX_FOLD_ELEMENTS else None


@value_rule("Const", "HostConst")
def _fold_const(ctx):
    # Most constants of a large graph are weights: turn them away on what is
    # already known (the dtype attr, the shape just inferred from this same
    # tensor) before reading the tensor again. A value that slipped through
    # on a damaged record is still checked against the shape by _fold.
    known = ctx.state.shapes.get(ctx.name)
    shape, types = (known[0] if known else None), ctx.graph.output_dtypes(ctx.name)
    if shape is not None and None not in shape and types and types[0] in ("float32", "float64") and \
            math.prod(shape) > 4:
        return None
    if "value" not in ctx.node.attr:
        return None
    tensor = ctx.node.attr["value"].tensor
    dtype = _dtypes.name(tensor.dtype)
    if dtype not in ("int32", "int64", "bool", "float32", "float64"):
        return None
    shape = from_proto(tensor.tensor_shape)
    if shape is None or None in shape or math.prod(shape) > MAX_FOLD_ELEMENTS:
        return None
    if dtype.startswith("float") and math.prod(shape) > 4:
        return None  # weights, not shape arithmetic: folding them only costs time
    # Graphs repeat the same small constants (axes, shapes) once per layer: decode each once.
    # A SmallArray is never changed in place, so one may serve every constant that holds it.
    memo = ctx.state.constants
    key = tensor.SerializeToString()
    value = memo.get(key, _NOT_DECODED)
    if value is _NOT_DECODED:
        value = memo[key] = _sa.from_tensor_proto(tensor, dtype)  # None for a damaged constant
    return [(value, None)] if value is not None else None


_NOT_DECODED = object()


@value_rule(*sorted(PASS_THROUGH))
def _fold_identity(ctx):
    return [(ctx.value(0), ctx.state.partial_of(ctx.refs[0]))]


@value_rule("Cast")
def _fold_cast(ctx):
    v = ctx.value(0)
    out = _dtypes.NUMPY.get(_dtypes.base(ctx.graph.output_dtypes(ctx.name)[0]) or "")
    partial = ctx.state.partial_of(ctx.refs[0])
    if v is None or out is None:
        return [(None, partial)]
    return [(v.astype(out), partial)]


def _shape_to_value(shape, dtype):
    if shape is None:
        return None, None
    if None in shape:
        return None, tuple(shape)
    return _sa.array(list(shape), dtype), None


def _index_dtype(ctx, i=0):
    name = (ctx.graph.output_dtypes(ctx.name) or ["int32"])[i] or "int32"
    return _dtypes.NUMPY.get(_dtypes.base(name), "int32")


@value_rule("Shape")
def _fold_shape(ctx):
    return [_shape_to_value(ctx.shapes[0], _index_dtype(ctx))]


@value_rule("ShapeN")
def _fold_shape_n(ctx):
    return [_shape_to_value(s, _index_dtype(ctx, i)) for i, s in enumerate(ctx.shapes)]


@value_rule("Size")
def _fold_size(ctx):
    x = ctx.shapes[0]
    if x is None or None in x:
        return None
    return [(_sa.array(math.prod(x), _index_dtype(ctx)), None)]


@value_rule("Rank")
def _fold_rank(ctx):
    x = ctx.shapes[0]
    if x is None:
        return None
    return [(_sa.array(len(x), "int32"), None)]


def _elements(ctx, i):
    """Input ``i`` as a list of scalars with None for unknown elements (rank 0 or 1), or None."""
    v = ctx.value(i)
    if v is not None:
        if v.ndim > 1:
            return None
        return [x.item() for x in v.reshape(-1)], v.ndim, v.dtype
    partial = ctx.state.partial_of(ctx.refs[i]) if i < len(ctx.refs) else None
    if partial is not None:
        return list(partial), 1, None
    # Unknown values of a known shape: that many unknown elements (TensorFlow's
    # partial shape of a vector it cannot evaluate).
    shape = ctx.shapes[i] if i < len(ctx.shapes) else None
    if shape == ():
        return [None], 0, None
    if shape is not None and len(shape) == 1 and shape[0] is not None and shape[0] <= MAX_FOLD_ELEMENTS:
        return [None] * shape[0], 1, None
    return None


@value_rule("Pack")
def _fold_pack(ctx):
    if ctx.attr("axis", 0) != 0:
        return None
    items = []
    for i in range(len(ctx.refs)):
        v = ctx.value(i)
        if v is not None and v.ndim == 0:
            items.append(v.item())
        elif ctx.shapes[i] == ():
            items.append(None)
        else:
            return None
    if None in items:
        return [(None, tuple(x if x is None or x >= 0 else None for x in items))]
    return [(_sa.array(items, _index_dtype(ctx)), None)]


@value_rule("ConcatV2", "Concat")
def _fold_concat(ctx):
    if ctx.op == "ConcatV2":
        parts, axis = range(len(ctx.refs) - 1), ctx.int_value(len(ctx.refs) - 1)
    else:
        parts, axis = range(1, len(ctx.refs)), ctx.int_value(0)
    if axis not in (0, -1):
        return None
    items = []
    for i in parts:
        e = _elements(ctx, i)
        if e is None or e[1] != 1:
            return None
        items.extend(e[0])
    if None in items:
        return [(None, tuple(x if x is None or x >= 0 else None for x in items))]
    return [(_sa.array(items, _index_dtype(ctx)), None)]


@value_rule("StridedSlice")
def _fold_strided_slice(ctx):
    e = _elements(ctx, 0)
    begin, end, strides = ctx.int_list(1), ctx.int_list(2), ctx.int_list(3)
    if e is None or e[1] != 1 or begin is None or end is None or strides is None:
        return None
    items, _, dtype = e
    specs = _strided_slice_spec(ctx, 1, begin, end, strides)
    if specs is None or [s[0] for s in specs] != ["dim"]:
        return None
    _, _, b, en, s, shrink, bmask, emask = specs[0]
    if shrink:
        n = len(items)
        if not -n <= b < n:
            return None
        x = items[b]
        if x is None:
            return None
        return [(_sa.array(x, dtype or _index_dtype(ctx)), None)]
    if s == 0:
        return None
    picked = items[slice(None if bmask else b, None if emask else en, s)]
    if None in picked:
        return [(None, tuple(picked))]
    return [(_sa.array(picked, dtype or _index_dtype(ctx)), None)]


@value_rule("GatherV2", "Gather")
def _fold_gather(ctx):
    e = _elements(ctx, 0)
    indices = ctx.value(1)
    axis = ctx.int_value(2) if ctx.op == "GatherV2" else 0
    if e is None or e[1] != 1 or indices is None or indices.ndim > 1 or axis != 0:
        return None
    items, _, dtype = e
    n = len(items)
    picked = []
    for i in indices.reshape(-1):
        if not 0 <= int(i) < n:
            return None
        picked.append(items[int(i)])
    if None in picked:
        return [(None, tuple(picked))] if indices.ndim == 1 else None
    out = _sa.array(picked, dtype or _index_dtype(ctx))
    return [(out.reshape(indices.shape), None)]


_NUMPY_BINARY = {
    "Add": "add", "AddV2": "add", "Sub": "subtract", "Mul": "multiply", "Maximum": "maximum",
    "Minimum": "minimum", "FloorDiv": "floor_divide", "FloorMod": "mod", "Equal": "equal",
    "NotEqual": "not_equal", "Less": "less", "LessEqual": "less_equal", "Greater": "greater",
    "GreaterEqual": "greater_equal", "LogicalAnd": "logical_and", "LogicalOr": "logical_or",
}


@value_rule(*_NUMPY_BINARY)
def _fold_binary(ctx):
    a, b = ctx.value(0), ctx.value(1)
    if a is None or b is None or a.dtype.kind not in "iub" or b.dtype.kind not in "iub":
        return None
    if ctx.op in ("FloorDiv", "FloorMod") and not b.all():
        return None
    out = _sa.binary(_NUMPY_BINARY[ctx.op], a, b, _index_dtype(ctx))
    return [(_small(out), None)]


@value_rule("Prod", "Sum", "Max", "Min")
def _fold_reduce(ctx):
    v = ctx.value(0)
    axes = ctx.int_list(1)
    if v is None or axes is None or v.dtype.kind not in "iu":
        return None
    if v.ndim == 0:
        return [(v, None)] if not axes else None
    if ctx.op in ("Max", "Min") and v.size == 0:
        return None
    out = _sa.reduce(ctx.op, v, [a % v.ndim for a in axes], bool(ctx.attr("keep_dims", False)))
    return [(out, None)]


@value_rule("Range")
def _fold_range(ctx):
    vals = [ctx.value(i) for i in range(3)]
    if any(v is None or v.size != 1 or v.dtype.kind not in "iu" for v in vals):
        return None
    start, limit, delta = (int(v.reshape(())) for v in vals)
    if delta == 0 or abs((limit - start) // delta) > MAX_FOLD_ELEMENTS:
        return None
    return [(_sa.arange(start, limit, delta, _index_dtype(ctx)), None)]


@value_rule("Fill")
def _fold_fill(ctx):
    dims = ctx.int_list(0)
    v = ctx.value(1)
    if dims is None or v is None or v.size != 1 or math.prod(dims) > MAX_FOLD_ELEMENTS:
        return None
    return [(_sa.full(dims, v.item(), v.dtype), None)]


@value_rule("Reshape")
def _fold_reshape(ctx):
    v = ctx.value(0)
    if v is None:  # most reshapes are of data, not of shape vectors: no second run of the rule
        return None
    shapes = RULES["Reshape"](ctx)
    if not shapes or shapes[0] is None or None in shapes[0]:
        return None
    return [(v.reshape(shapes[0]), None)]


@value_rule("ExpandDims", "Squeeze")
def _fold_expand(ctx):
    v = ctx.value(0)
    shapes = RULES[ctx.op](ctx)
    if not shapes or shapes[0] is None or None in shapes[0]:
        return None
    if v is None:
        # An unknown scalar made a one-element vector: a partial shape of one unknown dim.
        return [(None, (None,))] if shapes[0] == (1,) and ctx.shapes[0] == () else None
    return [(v.reshape(shapes[0]), None)]


@value_rule("BroadcastGradientArgs")
def _fold_bcast_args(ctx):
    a, b = ctx.int_list(0), ctx.int_list(1)
    if a is None or b is None:
        return None
    rank = max(len(a), len(b))
    a = [1] * (rank - len(a)) + a
    b = [1] * (rank - len(b)) + b
    ra, rb = [], []
    for i, (x, y) in enumerate(zip(a, b)):
        if x == y:
            if x == 1:
                ra.append(i)
                rb.append(i)
            continue
        if x == 1:
            ra.append(i)
        elif y == 1:
            rb.append(i)
        else:
            return None
    dtype = _index_dtype(ctx)
    return [(_sa.array(ra, dtype), None), (_sa.array(rb, dtype), None)]


@rule("BroadcastGradientArgs")
def _bcast_args(ctx):
    return [(None,), (None,)]


# ---------------------------------------------------------------- propagation
def infer_shapes(graph, arg_shapes: dict | None = None) -> dict[str, list]:
    """Shapes of every op's outputs (see module docstring).

    Args:
        graph: a :class:`graphsurgeon.Graph` (or a function body).
        arg_shapes: for a function body, known shapes of its arguments by index.

    Returns:
        ``{op name: [shape of each output]}``.
    """
    return _infer(graph, arg_shapes, None, 0, None)


class _Cycle(Exception):
    """The graph's data edges have a cycle (a TF1 while loop): :func:`_dataflow_order` cannot order it."""


def _dataflow_order(graph):
    """``(name, node, data inputs)`` in file order, except that an op's producers come first when the file has them later.

    TensorFlow writes nodes in creation order, almost always a data-flow
    order already; a TF1 cond creates its ``Switch`` after the op that reads
    it, and those few are moved ahead (an iterative depth-first walk, linear
    in the data edges). Raises :class:`_Cycle` at a cycle: a while loop's
    ops are then ordered by :meth:`Graph.topological_order`, cycles last.
    """
    nodes = graph.node_defs
    data_refs = graph.data_refs
    done: set[str] = set()
    # The index's own name strings (each read of node.name makes a new one): the result
    # is keyed by them, and a 60,000-op graph would otherwise hold a second copy of each.
    for name, node in nodes.items():
        if name in done:
            continue
        refs = data_refs(name)
        for ref in refs:
            if ref.op not in done and ref.op in nodes:
                break
        else:
            done.add(name)
            yield name, node, refs
            continue
        visiting = {name}
        stack = [(name, iter(data_refs(name)))]
        while stack:
            current, refs = stack[-1]
            for ref in refs:
                producer = ref.op
                if producer in done or producer not in nodes:
                    continue
                if producer in visiting:
                    raise _Cycle(producer)
                visiting.add(producer)
                stack.append((producer, iter(data_refs(producer))))
                break
            else:
                stack.pop()
                visiting.discard(current)
                done.add(current)
                yield current, nodes[current], data_refs(current)


def _infer(graph, arg_shapes, arg_handles, depth, calls) -> dict[str, list]:
    # Infer in data-flow order (file order, producers moved ahead where needed);
    # a graph with a data cycle (a TF1 while loop) is inferred again in Kahn's
    # order, where an op on a cycle sees its not-yet-inferred inputs as unknown.
    try:
        return _infer_in(graph, _dataflow_order(graph), arg_shapes, arg_handles, depth, calls)
    except _Cycle:
        nodes, data_refs = graph.node_defs, graph.data_refs
        order = ((name, nodes[name], data_refs(name)) for name in graph.topological_order(control=False))
        return _infer_in(graph, order, arg_shapes, arg_handles, depth, calls, producers_first=False)


def _recorded_reader():
    """``node -> (recorded shapes, all fully known) | None``, memoised by the attr's bytes.

    Reading ``_output_shapes`` dimension by dimension is most of what a large
    graph costs (a wrapper object per dimension); its serialized form is a
    few bytes that large graphs repeat (a few dozen distinct values in
    60,000 ops), decoded once each.
    """
    memo: dict[bytes, tuple] = {}

    def read(node):
        value = node.attr.get("_output_shapes")
        if value is None:
            return None
        key = value.SerializeToString()
        entry = memo.get(key)
        if entry is None:
            shapes = [from_proto(s) for s in value.list.shape]
            full = all(s is not None and None not in s for s in shapes)
            entry = memo[key] = (shapes, full)
        return entry

    return read


def _infer_in(graph, order, arg_shapes, arg_handles, depth, calls, producers_first=True) -> dict[str, list]:
    """Infer in ``order`` (``(name, node, data inputs)``; an input not inferred yet is unknown).

    ``producers_first``: every op comes after the ops it reads (no cycle), so that the
    readers of the restores are all seen after them, on the way (:func:`_restored_shapes`).
    """
    state = _State(graph, arg_shapes, depth, arg_handles, calls)
    nodes = graph.graph_def.node
    registry = graph.registry
    shapes = state.shapes
    restores = []
    # This loop runs once per op of every listed graph (60,000 times for a large
    # one): keep its per-op work to lookups, and call out only when a table says so.
    output_dtypes = graph.output_dtypes
    values, partials, handles = state.values, state.partials, state.handles
    rules_get, same_as_first = RULES.get, _same_as_first
    read_recorded = _recorded_reader()
    # Ops that need a Context even when their shapes are settled: they fold values,
    # track resource handles or are restores.
    needs_context = frozenset(VALUE_RULES) | _HANDLE_OPS | frozenset(RESTORE_TYPES)
    watched, readers = state.watched, state.readers
    for name, node, refs in order:
        op = node.op
        if watched:
            # After a restore: who reads it, and the Identity chains from it (_restored_shapes).
            for position, r in enumerate(refs):
                if r[0] in watched:
                    readers.setdefault((r[0], r[1]), []).append((name, position))
                    if op == "Identity":
                        watched.add(name)
        types = output_dtypes(name)
        count = len(types) if types is not None else graph.num_outputs(name)
        entry = read_recorded(node)
        recorded = None
        if entry is not None:
            recorded, full = entry
            if full and len(recorded) == count:
                # TensorFlow recorded every dimension: inference could only agree or lose to it.
                shapes[name] = list(recorded)
                if op in needs_context:
                    _after(Context(node, graph, state, refs, name, op), count, restores)
                continue
        fn = rules_get(op)
        r = refs[0] if refs else None
        if fn is same_as_first and count == 1 and (recorded is None or types is not None) and (
                r is None or (r.op not in values and r.op not in partials and r.op not in handles)):
            # The commonest case (Identity, activations, no folded value to pass on)
            # without building a Context.
            if r is None:
                shape = None
            else:
                e = shapes.get(r.op)
                shape = e[r.index] if e and r.index < len(e) else None
            if recorded is not None and len(recorded) == 1:
                shape = _merge_recorded(recorded[0], shape)
            shapes[name] = [shape]
            continue
        ctx = Context(node, graph, state, refs, name, op)
        inferred = None
        # A known op whose output list cannot be worked out (an attr missing, or a count
        # such as num_split=1e12 that opdefs refuses) is not handed to its rule, which would
        # trust the same attr.
        if fn is not None and types is None and registry.get(op) is not None:
            fn = None
        if fn is not None:
            try:
                inferred = fn(ctx)
            except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError, AttributeError):
                inferred = None
        if inferred is None:
            result = [None] * count
        else:
            result = list(inferred)
            for r in result:
                if r is not None and type(r) is not tuple:
                    # A damaged attr (a "shape" holding an int) reached a rule that returns it.
                    result = [r if r is None or type(r) is tuple else None for r in result]
                    break
        if len(result) != count:
            result = (result + [None] * count)[:count]
        if recorded is not None and len(recorded) == count:
            result = [_merge_recorded(r, s) for r, s in zip(recorded, result)]
        shapes[name] = result
        if op in needs_context:
            _after(ctx, count, restores)
    if len(shapes) != len(nodes):
        for node in nodes:
            if node.name not in shapes:
                shapes[node.name] = [None] * graph.num_outputs(node.name)
    _restored_shapes(graph, state, restores, producers_first)
    return shapes


def _after(ctx, count, restores) -> None:
    """What an op's shapes lead to: a restore to revisit, values folded, handle shapes passed on."""
    op = ctx.op
    if op in RESTORE_TYPES:
        restores.append(ctx.node)
        ctx.state.watched.add(ctx.name)
    if op in VALUE_RULES:
        _fold(ctx, count)
    if op in _HANDLE_OPS:
        _track_handles(ctx, count)



def _restored_shapes(graph, state, restores, producers_first: bool = True) -> None:
    """Shapes of restored tensors, from the variables they are assigned to.

    TensorFlow's shape functions cannot know what a checkpoint holds, but
    ``Assign`` with ``validate_shape=true`` (what ``tf.compat.v1.train.Saver``
    builds for ``VariableV2``) fails at run time unless the value has exactly
    the variable's shape, so a restore whose outputs reach such an Assign
    (directly or through Identity) has that shape. Resource variables are
    restored with ``AssignVariableOp``; there we take the shape the
    ``VarHandleOp`` declares, the very shape TensorFlow itself reports for
    every ``ReadVariableOp`` of that variable (its handle data), which holds
    only if what is assigned has it.
    """
    shapes = state.shapes
    by_name = graph.node_defs
    readers = state.readers
    # In an order where producers come first, every reader of a restore (and of the Identity
    # ops after it) was seen after it, on the way; otherwise, the graph's whole use index.
    scanned = set(state.watched) if producers_first else set()

    def consumers(name: str, idx: int) -> list:
        if name not in scanned:
            for key in [k for k in readers if k[0] == name]:
                del readers[key]
            for use in graph.data_uses(name):
                readers.setdefault((name, use.index), []).append((use.consumer, use.position))
            scanned.add(name)
        return readers.get((name, idx), ())

    for node in restores:
        outs = shapes.get(node.name) or []
        for index, current in enumerate(outs):
            if current is not None:
                continue
            found, chain, frontier, ok = None, [], [(node.name, index)], True
            seen = {(node.name, index)}  # Identity cycles (damaged graphs) end the walk
            while frontier and ok:
                name, idx = frontier.pop()
                for consumer, position in consumers(name, idx):
                    c = by_name.get(consumer)
                    if c is None:
                        continue
                    if c.op == "Identity":
                        if (consumer, 0) not in seen:
                            seen.add((consumer, 0))
                            chain.append(consumer)
                            frontier.append((consumer, 0))
                        continue
                    if c.op == "Assign" and position == 1 and \
                            (c.attr["validate_shape"].b if "validate_shape" in c.attr else True):
                        ref = _names.parse_input(c.input[0])
                        var_shapes = shapes.get(ref.op) or []
                        var = var_shapes[ref.index] if 0 <= ref.index < len(var_shapes) else None
                    elif c.op == "AssignVariableOp" and position == 1:
                        var = state.handle_of(_names.parse_input(c.input[0]))
                    else:
                        continue
                    if not isinstance(var, tuple):  # unknown, or a damaged shape attr
                        ok = False
                        break
                    found = var if found is None else merge(found, var)
                    if found is None or len(found) != len(var):
                        ok = False
                        break
            if ok and found is not None and None not in found:
                outs[index] = found
                for name in chain:
                    if shapes.get(name) and shapes[name][0] is None:
                        shapes[name][0] = found


def _merge_recorded(recorded, inferred):
    if recorded is None:
        return inferred
    if inferred is None or recorded == inferred or len(inferred) != len(recorded):
        return recorded
    # TensorFlow wrote the record: where it and inference disagree, trust the record.
    return tuple(r if r is not None else i for r, i in zip(recorded, inferred))


def _fold(ctx, count):
    fn = VALUE_RULES.get(ctx.op)
    if fn is None:
        return
    try:
        folded = fn(ctx)
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError, AttributeError,
            OverflowError):
        folded = None
    if not folded:
        return
    values, partials = [], []
    shapes = ctx.state.shapes[ctx.name]
    for i, (value, partial) in enumerate(folded[:count]):
        # A folded value must agree with the inferred shape, or it is dropped.
        if value is not None and i < len(shapes) and shapes[i] is not None and \
                merge(tuple(value.shape), shapes[i]) != tuple(value.shape):
            value = None
        values.append(_small(value))
        partials.append(partial)
    if any(v is not None for v in values):
        ctx.state.values[ctx.name] = values
    if any(p is not None for p in partials):
        ctx.state.partials[ctx.name] = partials


_HANDLE_PASS = {"Identity", "Switch", "Enter", "RefIdentity", "Exit", "NextIteration"}
_HANDLE_OPS = _HANDLE_PASS | {"VarHandleOp", "_Arg"}


def _track_handles(ctx, count):
    node, op = ctx.node, ctx.op
    if op == "VarHandleOp":
        ctx.state.handles[ctx.name] = [ctx.attr("shape")]
    elif op in _HANDLE_PASS and ctx.refs:
        h = ctx.handle_shape(0)
        if h is not None:
            ctx.state.handles[ctx.name] = [h] * count
    elif op == "_Arg":
        index = ctx.attr("index", 0)
        handle = ctx.state.arg_handles.get(index)
        shapes = ctx.attr("_handle_shapes", []) if "_handle_shapes" in node.attr else []
        if handle is None and len(shapes) == 1:
            handle = shapes[0]
        if handle is not None:
            ctx.state.handles[ctx.name] = [handle]
