"""Building ops: names as TensorFlow makes them, inputs checked, attributes inferred from the OpDef.

What :meth:`graphsurgeon.Graph.add_op` (and ``constant``, ``placeholder``)
does before a NodeDef enters the graph, in one place:

- inputs (``Tensor``, ``"op:index"``, an ``Op`` with one output) are checked
  against the graph and written as TensorFlow writes them (``op`` for output
  0, ``op:1``, ``^op`` for control inputs);
- the op's definition (the graph's own op list, its library, the shipped
  registry: :class:`graphsurgeon.vocab.opdefs.OpRegistry`) maps the inputs to
  its input arguments, which gives the type attributes (``T``, ``Tidx``,
  ``dtype``...) from the inputs' dtypes and the length attributes (``N``)
  from their number; other attributes take the values given (Python values,
  converted by :func:`graphsurgeon.vocab.attrs.from_python`) or the OpDef's
  defaults; a missing one is a :class:`UsageError` naming it. An op type
  nobody defines needs every attribute given.
- the name: the op type by default, made unique as TensorFlow does
  (``MatMul``, ``MatMul_1``); inside ``graph.name_scope("s")`` prefixed
  with ``s/``; a name given outside a scope is used as given.
"""
from __future__ import annotations

import re

from ..errors import RewriteError, UsageError
from ..vocab import attrs as _attrs
from ..vocab import dtypes as _dtypes
from ..vocab import names as _names
from ..vocab.protos import node_def_pb2
from .views import Op, Tensor

# TensorFlow's _VALID_OP_NAME_REGEX (framework/ops.py): the names import_graph_def accepts.
VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
# The part of a name scope TensorFlow accepts (_VALID_SCOPE_NAME_REGEX).
VALID_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not VALID_OP_NAME.match(name):
        raise UsageError(f"{name!r} is not a name TensorFlow accepts for an op",
                         hint="letters, digits, _ . - / >; not starting with _ - / >")
    return name


def scoped(scope: str, name: str) -> str:
    """``name`` inside name scope ``scope`` (``""`` for none)."""
    return f"{scope}/{name}" if scope else name


def input_text(op: str, index: int) -> str:
    """How TensorFlow writes a data input: ``op`` for output 0, ``op:1`` otherwise."""
    return op if index == 0 else f"{op}:{index}"


def resolve_tensor(graph, value, what: str = "input") -> tuple[str, str, int, str | None]:
    """``(input text, op, index, dtype or None)`` of a tensor given as a Tensor, an Op or ``"op:index"``.

    The tensor must be in ``graph`` (a :class:`NotFoundError` names the closest
    ones); an op of a type nobody defines may be read at any output.
    """
    if isinstance(value, Tensor):
        if value.graph is not graph:
            raise UsageError(f"{what} {value.name} belongs to another graph ({value.graph.where}), "
                             f"not to {graph.where}")
        op, index = value.op_name, value.index
    elif isinstance(value, Op):
        if value.graph is not graph:
            raise UsageError(f"{what} {value.name} belongs to another graph ({value.graph.where})")
        count = graph.num_outputs(value.name)
        if count != 1:
            raise UsageError(f"{what}: op {value.name!r} has {count} outputs; give one of them "
                             f"({value.name}:0, ...)")
        op, index = value.name, 0
    elif isinstance(value, str):
        if value.startswith("^"):
            raise UsageError(f"{what} {value!r} is a control input: give it in control_inputs")
        op, index = _names.split_tensor_name(value)
    else:
        raise UsageError(f"{what} must be a Tensor or a tensor name ('op:0'), not {type(value).__name__}")
    if op not in graph.node_defs:
        graph.tensor(f"{op}:{index}")  # NotFoundError with the closest names
    types = graph.output_dtypes(op)
    if types is not None and index >= len(types):
        graph.tensor(f"{op}:{index}")  # NotFoundError naming the outputs it has
    dtype = types[index] if types is not None else None
    return input_text(op, index), op, index, dtype


def control_text(graph, value) -> str:
    """``^op`` for a control input given as an Op, a Tensor (its op) or a name (with or without ``^``)."""
    if isinstance(value, (Op, Tensor)):
        if value.graph is not graph:
            raise UsageError(f"control input {value.name} belongs to another graph")
        name = value.name if isinstance(value, Op) else value.op_name
    elif isinstance(value, str):
        name = value[1:] if value.startswith("^") else _names.split_tensor_name(value)[0]
    else:
        raise UsageError(f"a control input is an Op or an op name, not {type(value).__name__}")
    graph.op(name)  # NotFoundError with the closest names
    return "^" + name


def _encode(op_type: str, key: str, value, kind: str | None, dtype=None):
    try:
        return _attrs.from_python(value, kind, dtype=dtype)
    except (ValueError, TypeError) as exc:
        what = f"a {kind}" if kind else "an attribute"
        raise UsageError(f"attribute {key!r} of {op_type} is {what}: {exc}") from None


def _counts(op_def, op_type: str, n_inputs: int, given: dict) -> dict[str, int]:
    """How many inputs each input argument of ``op_def`` takes (length attributes solved from the input count)."""
    known: dict[str, int] = {}
    for key in {a.number_attr for a in op_def.input_arg if a.number_attr}:
        if key in given:
            known[key] = given[key].i
    for key in {a.type_list_attr for a in op_def.input_arg if a.type_list_attr}:
        if key in given:
            known[key] = len(given[key].list.type)
    fixed, unknown = 0, {}
    for arg in op_def.input_arg:
        key = arg.number_attr or arg.type_list_attr
        if not key:
            fixed += 1
        elif key in known:
            fixed += known[key]
        else:
            unknown[key] = unknown.get(key, 0) + 1
    names = ", ".join(a.name for a in op_def.input_arg) or "none"
    if len(unknown) > 1:
        raise UsageError(f"{op_type} takes several lists of inputs ({names}): give their lengths in attrs "
                         f"({', '.join(sorted(unknown))})")
    if unknown:
        (key, times), = unknown.items()
        rest = n_inputs - fixed
        if rest < 0 or rest % times:
            raise UsageError(f"{op_type} takes inputs ({names}); {n_inputs} do not fit")
        known[key] = rest // times
    elif n_inputs != fixed:
        raise UsageError(f"{op_type} takes {fixed} input{'s' if fixed != 1 else ''} ({names}), got {n_inputs}")
    return known


def infer_attrs(op_def, op_type: str, input_dtypes: list, given: dict) -> dict:
    """The complete attribute map (AttrValues) of a new ``op_type`` op reading inputs of ``input_dtypes``.

    ``given``: name -> Python value or AttrValue. Raises UsageError on an
    unknown attribute, a wrong value, inputs that do not fit the OpDef, or a
    required attribute that neither the inputs nor ``given`` decide.
    """
    defs = {a.name: a for a in op_def.attr}
    out = {}
    for key, value in given.items():
        if key.startswith("_"):  # internal attributes (_class, _output_shapes): any, as given
            out[key] = _encode(op_type, key, value, None)
        elif key not in defs:
            raise UsageError(f"{op_type} has no attribute {key!r} (its attributes: {', '.join(defs) or 'none'})")
        else:
            out[key] = _encode(op_type, key, value, defs[key].type)
    counts = _counts(op_def, op_type, len(input_dtypes), out)
    for key, count in counts.items():
        if defs.get(key) is not None and defs[key].type == "int":
            out.setdefault(key, _attrs.from_python(count, "int"))
    inferred: dict[str, tuple[str, int]] = {}  # type attr -> (dtype, input position that decided it)
    position = 0
    for arg in op_def.input_arg:
        count = counts.get(arg.number_attr or arg.type_list_attr, 1) if (arg.number_attr or arg.type_list_attr) else 1
        seen = input_dtypes[position:position + count]
        if arg.type_list_attr:
            key = arg.type_list_attr
            if key not in out:
                if any(t is None for t in seen):
                    raise UsageError(f"{op_type} needs attribute {key!r}: the dtypes of its {arg.name!r} inputs "
                                     "are unknown; give it in attrs")
                out[key] = _attrs.from_python([_dtypes.base(t) for t in seen], "list(type)")
        for offset, dtype in enumerate(seen):
            where = position + offset
            if arg.is_ref and dtype is not None and not dtype.endswith("_ref"):
                raise UsageError(f"input {where} of {op_type} ({arg.name}) must be a reference "
                                 f"({dtype}_ref, a VariableV2's output); it is {dtype}")
            base = _dtypes.base(dtype)
            if arg.type:
                wanted = _dtypes.name(arg.type)
                if base is not None and base != wanted:
                    raise UsageError(f"input {where} of {op_type} ({arg.name}) must be {wanted}; it is {base}")
            elif arg.type_attr and base is not None:
                key = arg.type_attr
                if key in out and not inferred.get(key):
                    wanted = _dtypes.name(out[key].type)
                    if wanted != base:
                        raise UsageError(f"input {where} of {op_type} ({arg.name}) is {base}, but {key} is {wanted}")
                elif key in inferred and inferred[key][0] != base:
                    raise UsageError(f"inputs of {op_type} disagree on {key}: input {inferred[key][1]} is "
                                     f"{inferred[key][0]}, input {where} is {base}")
                else:
                    inferred[key] = (base, where)
                    out[key] = _attrs.from_python(base, "type")
        position += count
    for a in op_def.attr:
        if a.name in out:
            value = out[a.name]
            allowed = list(a.allowed_values.list.type)
            if allowed and a.type in ("type", "list(type)"):
                chosen = [value.type] if a.type == "type" else list(value.list.type)
                bad = [t for t in chosen if t not in allowed]
                if bad:
                    raise UsageError(f"{op_type} does not take {a.name}={_dtypes.name(bad[0])} "
                                     f"(it takes {', '.join(_dtypes.name(t) for t in allowed)})")
            if a.has_minimum and a.type == "int" and value.i < a.minimum:
                raise UsageError(f"{op_type} needs {a.name} >= {a.minimum}, got {value.i}")
            continue
        if a.HasField("default_value"):
            out[a.name] = _attrs.from_python(a.default_value)
            continue
        unknown_input = any(t is None for t in input_dtypes)
        hint = "; an input's dtype is unknown" if unknown_input and a.type == "type" else ""
        raise UsageError(f"{op_type} needs attribute {a.name!r} ({a.type}){hint}: give it in attrs")
    return out


def make_node(graph, op_type: str, inputs, *, name, attrs, control_inputs, device) -> "node_def_pb2.NodeDef":
    """The NodeDef ``graph.add_op(op_type, ...)`` adds (see the module docstring); not yet in the graph."""
    if not isinstance(op_type, str) or not op_type:
        raise UsageError(f"an op type is a non-empty string, not {op_type!r}")
    if isinstance(inputs, (str, Tensor, Op)):
        inputs = [inputs]
    resolved = [resolve_tensor(graph, value, f"input {i} of {op_type}") for i, value in enumerate(inputs)]
    controls = list(dict.fromkeys(control_text(graph, c) for c in (
        [control_inputs] if isinstance(control_inputs, (str, Op, Tensor)) else control_inputs or ())))
    given = dict(attrs or {})
    op_def = graph.registry.get(op_type)
    if op_def is not None:
        attr_map = infer_attrs(op_def, op_type, [d for _, _, _, d in resolved], given)
    else:
        attr_map = {key: _encode(op_type, key, value, None) for key, value in given.items()}
    scope = graph.name_scope_prefix
    if name is None:
        full = _names.unique_name(scoped(scope, op_type), graph.node_defs)
    else:
        full = scoped(scope, str(name).strip("/") if scope else str(name))
        if full in graph.node_defs:
            raise RewriteError(f"an op named {full!r} already exists in {graph.where}",
                               hint="leave name out for a unique one, or pick another")
    check_name(full)
    node = node_def_pb2.NodeDef(name=full, op=op_type, device=device or "")
    node.input.extend([text for text, _, _, _ in resolved] + controls)
    for key in sorted(attr_map):
        node.attr[key].CopyFrom(attr_map[key])
    return node


def constant_attrs(value, dtype=None) -> dict:
    """``{"value", "dtype"}`` of a Const holding ``value``.

    A numpy array or scalar keeps its dtype; a plain Python value takes
    TensorFlow's (``tf.constant(1.0)`` is float32, ``1`` int32, text string);
    ``dtype`` overrides both.
    """
    import numpy as np

    if dtype is not None:
        name = _attrs.dtype_name(dtype)
        np_name = _dtypes.NUMPY.get(name)
        if name != "string" and np_name is None:
            raise UsageError(f"cannot make a constant of dtype {name}")
        array = np.asarray(value, dtype=object if name == "string" else np_name)
    elif isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    elif _has_text(value):
        array = np.array(value, dtype=object)
    else:
        array = np.asarray(value)
        if array.dtype == np.float64:
            array = array.astype(np.float32)
        elif array.dtype == np.int64:
            array = array.astype(np.int32)
    if array.dtype.kind in "OSU":
        array = np.array([v if isinstance(v, bytes) else str(v).encode() for v in array.ravel()],
                         dtype=object).reshape(array.shape)
    try:
        proto = _attrs.from_python(array, "tensor")
    except ValueError as exc:
        raise UsageError(f"cannot make a constant of {array.dtype}: {exc}") from None
    return {"value": proto, "dtype": _dtypes.name(proto.tensor.dtype)}


def const_node(name: str, value, dtype=None, device: str = ""):
    """The ``Const`` NodeDef :meth:`Graph.constant` builds, under a ``name`` that may exist already.

    For replacing an op by a constant in place (``Graph.replace_op``: a
    placeholder pinned to a value, a variable frozen). ``value`` as
    :func:`constant_attrs` takes it, or a TensorProto kept as it is (then
    ``dtype`` names its dtype).
    """
    node = node_def_pb2.NodeDef(name=name, op="Const", device=device or "")
    if hasattr(value, "tensor_shape"):  # a TensorProto (a checkpoint's bytes): copied once, as it is
        node.attr["dtype"].type = _dtypes.number(_attrs.dtype_name(dtype if dtype is not None else value.dtype))
        node.attr["value"].tensor.CopyFrom(value)
    else:
        attrs = constant_attrs(value, dtype)
        node.attr["dtype"].type = _dtypes.number(attrs["dtype"])
        node.attr["value"].CopyFrom(attrs["value"])
    return node


def _has_text(value) -> bool:
    if isinstance(value, (str, bytes)):
        return True
    return isinstance(value, (list, tuple)) and any(_has_text(v) for v in value)
