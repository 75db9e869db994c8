"""AttrValues decoded for people and for JSON."""
from __future__ import annotations

from ..analysis.shapes import from_proto
from . import dtypes
from .values import element_count, to_numpy

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
        shape = from_proto(value.shape)
        return None if shape is None else list(shape)
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
                    return [None if (s := from_proto(p)) is None else list(s) for p in items]
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
