"""What to feed a model and what to fetch from it, by the names users know (no TensorFlow).

A model's inputs and outputs are its signature's (``--signature``, else
``serving_default``, else its only one), named by their keys as
``saved_model_cli`` names them; without a signature, the outputs are the
tensors asked for (``--output``) or the graph's likely outputs
(:func:`graphsurgeon.analysis.endpoints.likely_outputs`), and the inputs
the placeholders they need. A name may always be a tensor name instead
(``X:0``, or an op name for its output 0).

An input whose rank the graph does not record gets a shape from what reads
it when that says (a MatMul operand, one side of an elementwise op with a
known other side, the serialized Examples a ParseExample reads); otherwise
:func:`graphsurgeon.training.inputs.make_inputs` names it as needing
``--input``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import NotFoundError, UsageError
from ..vocab import dtypes
from ..vocab import names as _names
from ..vocab.optypes import REQUIRED_PLACEHOLDER_TYPES
from .inputs import Given, InputSpec

INIT_SIGNATURE = "__saved_model_init_op"
DEFAULT_SIGNATURE = "serving_default"
ELEMENTWISE = frozenset({"Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "Maximum", "Minimum",
                         "SquaredDifference", "Pow", "FloorDiv", "Equal", "NotEqual", "Less", "Greater",
                         "LessEqual", "GreaterEqual", "LogicalAnd", "LogicalOr"})
EXAMPLE_PARSERS = frozenset({"ParseExample", "ParseExampleV2"})


@dataclass
class Output:
    """One output: ``key`` as the user names it (signature key or tensor name) and its tensor."""

    key: str
    tensor: str
    dtype: str | None = None


@dataclass
class Plan:
    """What running a model means: the signature used, what to feed, what to fetch."""

    signature: str | None
    inputs: list[InputSpec]
    outputs: list[Output]
    optional: list[InputSpec] = field(default_factory=list)  # PlaceholderWithDefault left at its default

    def spec(self, name: str) -> InputSpec | None:
        """The input (required or optional) a user's name means: a key, a tensor name, or an op name."""
        specs = self.inputs + self.optional
        tensor = name if _names.is_tensor_name(name) else f"{name}:0"
        return next((s for s in specs if s.key == name), None) or \
            next((s for s in specs if s.name in (name, tensor)), None)


def choose_signature(g, signature: str | None, outputs_given: bool = False) -> str | None:
    """The signature a run uses: the one asked for, else ``serving_default``, else the only one, else None.

    Raises:
        NotFoundError: ``signature`` is not one of the model's (the error lists them).
        UsageError: several signatures, none the default, and no ``--output`` to go by.
    """
    sigs = {k: v for k, v in g.signatures.items() if k != INIT_SIGNATURE}
    if signature is not None:
        if signature not in sigs:
            raise NotFoundError("signature", signature, sigs.keys(), where=g.where)
        return signature
    if DEFAULT_SIGNATURE in sigs:
        return DEFAULT_SIGNATURE
    if len(sigs) == 1:
        return next(iter(sigs))
    if sigs and not outputs_given:
        raise UsageError(f"{g.where}: has {len(sigs)} signatures and none is {DEFAULT_SIGNATURE!r}",
                         hint="choose one with --signature: " + ", ".join(sorted(sigs)))
    return None


def plan(g, signature: str | None = None, outputs: list[str] | None = None, fed: dict | None = None) -> Plan:
    """What to feed and fetch to run ``g`` (module documentation).

    Args:
        g: the model.
        signature: a SignatureDef key (default: ``serving_default`` or the only one).
        outputs: output keys or tensor names (default: the signature's
            outputs, else the graph's likely outputs).
        fed: ``{tensor: key or None}``: tensors fed besides the signature's
            inputs (what a model compared with another is fed to match it);
            like those, they are inputs when the outputs need them, and what
            only they need is not.
    """
    from ..analysis.endpoints import likely_outputs

    key = choose_signature(g, signature, bool(outputs))
    sig = g.signatures.get(key) if key else None
    wanted: list[Output] = []
    if outputs:
        for name in outputs:
            info = sig["outputs"].get(name) if sig else None
            if info is not None:
                wanted.append(Output(name, info["name"], info["dtype"]))
            else:
                t = _tensor(g, name, sig["outputs"].keys() if sig else ())
                wanted.append(Output(name, t.name, dtypes.base(t.dtype) if t.dtype else None))
    elif sig is not None:
        _refuse_composite(key, sig["outputs"].items())
        wanted = [Output(k, info["name"], info["dtype"]) for k, info in sorted(sig["outputs"].items())]
        if not wanted:
            raise UsageError(f"signature {key!r} of {g.where} has no outputs", hint="name tensors with --output")
    else:
        wanted = [Output(t.name, t.name, dtypes.base(t.dtype) if t.dtype else None) for t in likely_outputs(g)]
        if not wanted:
            raise UsageError(f"{g.where}: no output found (no signature, nothing unread)",
                             hint="name the tensors to fetch with --output")
    # The signature's inputs are fed (placeholders or not, as saved_model_cli feeds them): the walk from
    # the outputs stops there. Only what the outputs need is fed.
    by_tensor = {}
    if sig is not None:
        by_tensor = {info["name"]: (k, info) for k, info in sig["inputs"].items() if info["name"]}
    for tensor, k in (fed or {}).items():
        by_tensor.setdefault(tensor, (k, None))
    fed_ops = {_names.split_tensor_name(t)[0] for t in by_tensor}
    roots = [o.tensor for o in wanted]
    needed = g.ancestors(roots, include_roots=True, stop=fed_ops)
    inputs, optional = [], []
    for tensor, (k, info) in sorted(by_tensor.items(), key=lambda item: item[1][0] or item[0]):
        op_name = _names.split_tensor_name(tensor)[0]
        if op_name in g and (any(u.consumer in needed for u in g.uses(op_name)) or
                             any(_names.split_tensor_name(r)[0] == op_name for r in roots)):
            _refuse_composite(key, [(k, info or {})])
            inputs.append(input_spec(g, tensor, k, info))
    for name in sorted(needed, key=_order(g)):
        if name not in g or name in fed_ops:
            continue
        op = g.op(name)
        if op.type in REQUIRED_PLACEHOLDER_TYPES:
            inputs.append(input_spec(g, op.output(0).name))
        elif op.type == "PlaceholderWithDefault":
            optional.append(input_spec(g, op.output(0).name))
    return Plan(key, inputs, wanted, optional)


def _order(g):
    position = {node.name: i for i, node in enumerate(g.graph_def.node)}
    return lambda name: position.get(name, -1)


def _refuse_composite(key: str, entries) -> None:
    """A sparse or composite signature tensor the run would need: refused (one tensor name does not hold it)."""
    for arg, info in entries:
        if info.get("encoding") not in ("name", None):
            raise UsageError(f"signature {key!r}: {arg!r} is a {info['encoding']} tensor (sparse or composite); "
                             "only dense tensors can be fed and fetched",
                             hint="name dense tensors with --input / --output, or choose another --signature")


def _tensor(g, name: str, keys=()):
    """The tensor a user's output name means (an op name means its output 0)."""
    if _names.is_tensor_name(name) or name in g:
        try:
            return g.tensor(name)
        except NotFoundError:
            if keys:
                raise NotFoundError("output", name, list(keys), where=g.where) from None
            raise
    raise NotFoundError("output" if keys else "tensor", name, list(keys) + [f"{n}:0" for n in g.node_defs],
                        where=g.where)


def input_spec(g, tensor: str, key: str | None = None, info: dict | None = None) -> InputSpec:
    """The InputSpec of ``tensor``: dtype and shape from the signature when it records them, else the graph."""
    t = g.tensor(tensor)
    dtype = (info or {}).get("dtype") or (dtypes.base(t.dtype) if t.dtype else None)
    shape = (info or {}).get("shape")
    shape = tuple(shape) if shape is not None else t.shape
    note = None
    if shape is None:
        shape, note = guess_shape(g, t)
    high = index_range(g, t) if dtype in INTEGER_DTYPES else None
    return InputSpec(tensor, dtype or "unknown", tuple(shape) if shape is not None else None,
                     key if key and key != tensor else None, note, high)


# Integer inputs that index something: (op types, input position, how the bound is read).
INTEGER_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
_LABEL_READERS = frozenset({"SparseSoftmaxCrossEntropyWithLogits", "InTopK", "InTopKV2"})
_INDEX_READERS = frozenset({"Gather", "GatherV2", "ResourceGather", "ResourceSparseApplyAdagrad"})
_THROUGH = frozenset({"Identity", "Cast", "Reshape", "ExpandDims", "Squeeze", "StopGradient"})


def index_range(g, t) -> int | None:
    """For an integer input that indexes something, the bound its values must stay under: the classes of
    the logits a sparse cross-entropy (or in_top_k) reads it against, the rows of what a Gather reads with
    it, a OneHot's depth. None when nothing says (made-up values then stay small)."""
    from ..vocab.values import to_numpy

    seen, stack = set(), [t]
    while stack:
        tensor = stack.pop()
        for use in g.data_uses(tensor.op_name):
            if use.index != tensor.index or use.consumer in seen:
                continue
            seen.add(use.consumer)
            op = g.op(use.consumer)
            refs = g.data_refs(op.name)
            if op.type in _THROUGH and use.position == 0:
                stack.append(op.output(0))
            elif op.type in _LABEL_READERS:
                logits = refs[0].tensor if op.type == "SparseSoftmaxCrossEntropyWithLogits" else refs[
                    0 if use.position == 1 else 1].tensor
                shape = _known(g, logits)
                if shape and shape[-1] is not None and shape[-1] > 0:
                    return int(shape[-1])
            elif op.type in _INDEX_READERS and use.position == 1:
                shape = _known(g, refs[0].tensor)
                if shape and shape[0] is not None and shape[0] > 0:
                    return int(shape[0])
            elif op.type == "OneHot" and use.position == 0 and refs[1].op in g:
                depth = g.op(refs[1].op)
                if depth.type == "Const":
                    return int(to_numpy(depth.node.attr["value"].tensor))
    return None


def guess_shape(g, t) -> tuple[tuple | None, str | None]:
    """A shape for a tensor of unknown rank, from what reads it: ``(shape, why)``, or ``(None, None)``."""
    for use in g.data_uses(t.op_name):
        if use.index != t.index:
            continue
        op = g.op(use.consumer)
        others = [ref.tensor for i, ref in enumerate(g.data_refs(op.name)) if i != use.position]
        if op.type in EXAMPLE_PARSERS and use.position == 0:
            return (None,), f"a batch of serialized Examples ({op.type} {op.name} reads it)"
        if op.type == "MatMul" and len(others) == 1:
            other = _known(g, others[0])
            if other is None or len(other) != 2:
                continue
            attr = op.node.attr
            ta = "transpose_a" in attr and attr["transpose_a"].b
            tb = "transpose_b" in attr and attr["transpose_b"].b
            if use.position == 0:
                k = other[1] if tb else other[0]
                shape = (k, None) if ta else (None, k)
            else:
                k = other[0] if ta else other[1]
                shape = (None, k) if tb else (k, None)
            return shape, f"the {'first' if use.position == 0 else 'second'} operand of MatMul {op.name}"
        if op.type == "BiasAdd" and use.position == 0 and len(others) == 1:
            other = _known(g, others[0])
            if other is not None and len(other) == 1:
                return (None, other[0]), f"the input of BiasAdd {op.name}"
        if op.type in ELEMENTWISE and len(others) == 1:
            other = _known(g, others[0])
            if other is not None:
                return tuple(other), f"the shape of {others[0]}, the other operand of {op.type} {op.name}"
    return None, None


def _known(g, tensor: str):
    try:
        return g.tensor(tensor).shape
    except NotFoundError:
        return None


def given_values(given: list[Given]):
    """``(name, value, source)`` for each ``--input`` value (a ``.npz`` given alone: one per array)."""
    for item in given or ():
        if item.name is None:
            for name, value in item.value.items():
                yield name, value, f"{item.source}[{name}]"
        else:
            yield item.name, item.value, item.source


def find_input(p: Plan, g, name: str) -> InputSpec:
    """The input a user's name means: one of ``p``'s (a signature key, a tensor or an op name), else any
    tensor of ``g`` (a placeholder with a default, an inner tensor: TensorFlow feeds any tensor).

    Raises:
        NotFoundError: no input and no tensor of that name (the inputs' names offered).
    """
    spec = p.spec(name)
    if spec is not None:
        return spec
    tensor = name if _names.is_tensor_name(name) else f"{name}:0"
    op_name, index = _names.split_tensor_name(tensor)
    if op_name in g and index < g.num_outputs(op_name):
        return input_spec(g, tensor)
    raise NotFoundError("input", name, [s.label for s in p.inputs + p.optional], where=g.where)
