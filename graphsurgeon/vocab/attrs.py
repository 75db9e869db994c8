"""AttrValues: decoded for people and for JSON, and converted to and from Python values."""
from __future__ import annotations

from ..analysis.shapes import from_proto, shape_json
from . import dtypes
from .values import element_count, from_numpy, to_numpy

SMALL_TENSOR = 16  # constants up to this many elements are shown by value


def decode(value, small: int = SMALL_TENSOR):
    """An AttrValue as plain Python: dtype names, shape lists, values, function names."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "s":
        try:
            return value.s.decode("utf-8")
        except UnicodeDecodeError:
            return repr(value.s)
    if kind in ("i", "f", "b"):
        return getattr(value, kind)
    if kind == "type":
        return dtypes.name(value.type)
    if kind == "shape":
        return shape_json(from_proto(value.shape))
    if kind == "tensor":
        return decode_tensor(value.tensor, small)
    if kind == "func":
        return {"function": value.func.name, "attrs": {k: decode(v, small) for k, v in value.func.attr.items()}}
    if kind == "placeholder":
        return {"placeholder": value.placeholder}
    if kind == "list":
        lst = value.list
        for field in ("s", "i", "f", "b", "type", "shape", "tensor", "func"):
            items = getattr(lst, field)
            if len(items):
                if field == "s":
                    return [s.decode("utf-8", "replace") for s in items]
                if field == "type":
                    return [dtypes.name(t) for t in items]
                if field == "shape":
                    return [shape_json(from_proto(p)) for p in items]
                if field == "tensor":
                    return [decode_tensor(t, small) for t in items]
                if field == "func":
                    return [{"function": f.name} for f in items]
                return list(items)
        return []
    return None


def decode_tensor(tensor, small: int = SMALL_TENSOR):
    shape = [max(int(d.size), 0) for d in tensor.tensor_shape.dim]
    dtype = dtypes.name(tensor.dtype)
    count = element_count(shape)
    summary = {"dtype": dtype, "shape": shape}
    if count is not None and count <= small:
        try:
            array = to_numpy(tensor)
            summary["value"] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                                for v in array.ravel().tolist()] if array.ndim else _scalar(array)
        except Exception:  # a damaged constant is still listed, without its value
            summary["value"] = None
    return summary


def _scalar(array):
    value = array.item()
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def short(value) -> str:
    """One-line human form of a decoded attribute."""
    if isinstance(value, dict) and "dtype" in value and "shape" in value:
        shape = "[" + ", ".join(str(d) for d in value["shape"]) + "]"
        if "value" in value:
            return f"{value['dtype']}{shape} = {value['value']!r}"
        return f"{value['dtype']}{shape}"
    if isinstance(value, dict) and "function" in value:
        return f"function {value['function']}"
    if isinstance(value, list) and value and isinstance(value[0], list):
        return "[" + ", ".join("[" + ", ".join("?" if d is None else str(d) for d in s) + "]" for s in value) + "]"
    if isinstance(value, list) and not value:
        return "[]"
    return str(value) if not isinstance(value, str) else repr(value) if " " in value or not value else value


# ---------------------------------------------------------------- Python values (Op.attrs, set_attr, add_op)
# What ``Op.attrs`` gives and ``set_attr`` / ``add_op(attrs=...)`` take: dtype names
# ("float32"), shapes as tuples (None for an unknown dimension, None for an
# unknown rank), tensors as numpy arrays (string tensors as arrays of bytes),
# strings as str (bytes when not UTF-8), function attributes as the function's
# name, lists as lists, bools as bool.

_LIST_FIELDS = ("s", "i", "f", "b", "type", "shape", "tensor", "func")
_KIND_OF_FIELD = {"s": "string", "i": "int", "f": "float", "b": "bool", "type": "type", "shape": "shape",
                  "tensor": "tensor", "func": "func"}
_FIELD_OF_KIND = {kind: field for field, kind in _KIND_OF_FIELD.items()}


def _string(raw: bytes):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _one(field: str, item):
    if field == "s":
        return _string(item)
    if field == "type":
        return dtypes.name(item)
    if field == "shape":
        return from_proto(item)
    if field == "tensor":
        return to_numpy(item)
    if field == "func":
        return item.name
    return item  # i, f, b: Python int, float, bool already


def to_python(value):
    """An AttrValue as a Python value (see the table above); None when it holds nothing.

    A tensor too damaged to decode raises :class:`graphsurgeon.errors.FormatError`.
    """
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "list":
        lst = value.list
        for field in _LIST_FIELDS:
            items = getattr(lst, field)
            if len(items):
                return [_one(field, item) for item in items]
        return []
    if kind == "placeholder":  # a function's attribute placeholder ("$T" in a body)
        return "$" + value.placeholder
    return _one(kind, getattr(value, kind))


def kind_of(value) -> str | None:
    """The OpDef attribute type an AttrValue holds (``"type"``, ``"list(int)"``...), None when unknown."""
    kind = value.WhichOneof("value")
    if kind is None or kind == "placeholder":
        return None
    if kind == "list":
        for field in _LIST_FIELDS:
            if len(getattr(value.list, field)):
                return f"list({_KIND_OF_FIELD[field]})"
        return None  # an empty list: any list kind
    return _KIND_OF_FIELD[kind]


def guess_kind(value) -> str:
    """The attribute type a Python value has when no OpDef says (an op type nobody defines).

    bool -> bool, int -> int, float -> float, str/bytes -> string, a numpy
    dtype or type -> type, a tuple or None -> shape, a numpy array -> tensor,
    a list -> a list of its first item's kind.
    """
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (int, np.integer)):
        return "int"
    if isinstance(value, (float, np.floating)):
        return "float"
    if isinstance(value, (str, bytes)):
        return "string"
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return "type"
    if value is None or isinstance(value, tuple):
        return "shape"
    if isinstance(value, np.ndarray):
        return "tensor"
    if isinstance(value, list):
        return f"list({guess_kind(value[0])})" if value else "list(int)"
    raise TypeError(f"cannot tell which attribute type a {type(value).__name__} is: give an AttrValue")


def dtype_name(value) -> str:
    """A dtype given as ``"float32"``, a numpy dtype or type, an object with a ``name`` (``tf.float32``),
    or a DataType number; ValueError when it names none."""
    import numpy as np

    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        name = dtypes.name(int(value))
    elif isinstance(value, str):
        name = value
    elif isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        kind = np.dtype(value)
        name = "string" if kind.kind in "OSU" else kind.name
    else:
        name = getattr(value, "name", None)
    if not isinstance(name, str) or name not in dtypes.NUMBERS:
        raise ValueError(f"{value!r} is not a TensorFlow dtype (float32, int64, string, ...)")
    return name


def shape_proto(shape, proto=None):
    """A shape (tuple or list with None or -1 for unknown dimensions, None for unknown rank) as a TensorShapeProto."""
    from .protos import tensor_shape_pb2

    proto = proto if proto is not None else tensor_shape_pb2.TensorShapeProto()
    if shape is None:
        proto.unknown_rank = True
        return proto
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise ValueError(f"a shape is a tuple of dimensions (None where unknown), not {shape!r}")
    for d in shape:
        if d is not None and (isinstance(d, bool) or not isinstance(d, int) and not hasattr(d, "__index__")):
            raise ValueError(f"a dimension is an int or None, not {d!r}")
        proto.dim.add(size=-1 if d is None else int(d))
    return proto


def _set_one(lst_or_value, field: str, item, dtype=None, is_list: bool = False):
    """Store one Python ``item`` in ``field`` of an AttrValue (or, ``is_list``, of its list)."""
    import numpy as np

    if field == "type":
        number = dtypes.number(dtype_name(item))
        lst_or_value.type.append(number) if is_list else setattr(lst_or_value, "type", number)
    elif field == "shape":
        target = lst_or_value.shape.add() if is_list else lst_or_value.shape
        if not is_list:
            target.SetInParent()  # a scalar's shape has no dimension: set it all the same
        shape_proto(item, target)
    elif field == "tensor":
        if hasattr(item, "SerializeToString"):
            proto = item
        else:
            array = np.asarray(item, dtype=dtype) if dtype is not None and not isinstance(item, np.ndarray) \
                else np.asarray(item)
            proto = from_numpy(array)
        (lst_or_value.tensor.add() if is_list else lst_or_value.tensor).CopyFrom(proto)
    elif field == "func":
        name = item if isinstance(item, str) else getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise ValueError(f"a function attribute is a function's name, not {item!r}")
        (lst_or_value.func.add() if is_list else lst_or_value.func).name = name
    elif field == "s":
        if not isinstance(item, (str, bytes)):
            raise ValueError(f"expected a string, not {item!r}")
        raw = item.encode("utf-8") if isinstance(item, str) else item
        lst_or_value.s.append(raw) if is_list else setattr(lst_or_value, "s", raw)
    elif field == "b":
        if not isinstance(item, (bool, np.bool_)):
            raise ValueError(f"expected a bool, not {item!r}")
        lst_or_value.b.append(bool(item)) if is_list else setattr(lst_or_value, "b", bool(item))
    elif field == "i":
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer)):
            raise ValueError(f"expected an int, not {item!r}")
        lst_or_value.i.append(int(item)) if is_list else setattr(lst_or_value, "i", int(item))
    elif field == "f":
        if isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, float, np.integer, np.floating)):
            raise ValueError(f"expected a number, not {item!r}")
        lst_or_value.f.append(float(item)) if is_list else setattr(lst_or_value, "f", float(item))


def from_python(value, kind: str | None = None, *, dtype=None):
    """A Python value as an AttrValue of OpDef attribute type ``kind`` (``"type"``, ``"list(shape)"``...).

    ``kind`` None guesses it (:func:`guess_kind`). An AttrValue is copied as
    it is. ``dtype``: the dtype a tensor made from a plain Python value takes
    (a Const's ``dtype``). Raises ValueError (or TypeError) on a value that is
    not of that kind.
    """
    from .protos import attr_value_pb2

    if hasattr(value, "WhichOneof") and type(value).__name__ == "AttrValue":
        out = attr_value_pb2.AttrValue()
        out.CopyFrom(value)
        return out
    kind = kind or guess_kind(value)
    out = attr_value_pb2.AttrValue()
    if kind.startswith("list(") and kind.endswith(")"):
        field = _FIELD_OF_KIND.get(kind[5:-1])
        if field is None:
            raise ValueError(f"unknown attribute type {kind!r}")
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise ValueError(f"expected a list, not {value!r}")
        out.list.SetInParent()
        for item in value:
            _set_one(out.list, field, item, dtype, is_list=True)
        return out
    field = _FIELD_OF_KIND.get(kind)
    if field is None:
        raise ValueError(f"unknown attribute type {kind!r}")
    _set_one(out, field, value, dtype)
    return out
