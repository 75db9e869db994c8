"""Tiny n-dimensional arrays of Python numbers, for folding shape arithmetic.

Shape inference folds small integer tensors (``Shape``, ``Pack``,
``StridedSlice``, ``Prod`` ...) to resolve ``Reshape`` and friends. Doing
that with numpy would make every ``graphsurgeon ls`` pay numpy's import
(~60 ms, a third of listing a small graph), so this module offers the few
numpy operations folding needs, on flat lists: row-major data, a shape
tuple, and a dtype name. Integer results that leave their dtype's range
are refused (None), never wrapped: a folded value is never wrong.
"""
from __future__ import annotations

import math
import sys
from array import array as _pyarray

_KINDS = {"int8": "i", "int16": "i", "int32": "i", "int64": "i", "uint8": "u", "uint16": "u",
          "uint32": "u", "uint64": "u", "bool": "b", "float16": "f", "float32": "f", "float64": "f"}
_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64, "uint8": 8, "uint16": 16, "uint32": 32,
         "uint64": 64}


class DType:
    __slots__ = ("name", "kind")

    def __init__(self, name: str):
        self.name = name
        self.kind = _KINDS[name]

    def __eq__(self, other):
        return isinstance(other, DType) and other.name == self.name or other == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return self.name


def _fits(value, dtype: DType) -> bool:
    bits = _BITS.get(dtype.name)
    if bits is None:
        return True
    if dtype.kind == "u":
        return 0 <= value < 2 ** bits
    return -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)


def _convert(value, dtype: DType):
    if dtype.kind == "b":
        return bool(value)
    if dtype.kind == "f":
        return float(value)
    return int(value)


class SmallArray:
    """A row-major array: ``data`` (flat list), ``shape`` (tuple), ``dtype``."""

    __slots__ = ("data", "shape", "dtype")

    def __init__(self, data, shape, dtype):
        self.data = data
        self.shape = tuple(shape)
        self.dtype = dtype if isinstance(dtype, DType) else DType(dtype)

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def reshape(self, *shape) -> "SmallArray":
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if -1 in shape:
            known = math.prod(d for d in shape if d != -1)
            if known == 0 or self.size % known:
                raise ValueError("cannot reshape")
            shape = tuple(self.size // known if d == -1 else d for d in shape)
        if math.prod(shape) != self.size:
            raise ValueError(f"cannot reshape {self.shape} to {shape}")
        return SmallArray(self.data, shape, self.dtype)

    def item(self):
        if self.size != 1:
            raise ValueError("item() of an array of more than one element")
        return self.data[0]

    def __int__(self):
        return int(self.item())

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        step = self.size // self.shape[0] if self.shape[0] else 0
        for i in range(self.shape[0]):
            yield SmallArray(self.data[i * step:(i + 1) * step], self.shape[1:], self.dtype)

    def tolist(self):
        return list(self.data)

    def astype(self, name) -> "SmallArray":
        dtype = name if isinstance(name, DType) else DType(str(name))
        data = [_convert(x, dtype) for x in self.data]
        if dtype.kind in "iu" and not all(_fits(x, dtype) for x in data):
            raise OverflowError(f"value out of range for {dtype.name}")
        return SmallArray(data, self.shape, dtype)

    def max(self):
        return max(self.data)

    def all(self) -> bool:
        return all(self.data)

    def __repr__(self):
        return f"SmallArray({self.data}, shape={self.shape}, dtype={self.dtype.name})"


def array(values, dtype) -> SmallArray:
    """From a scalar or a flat/nested list."""
    dtype = dtype if isinstance(dtype, DType) else DType(str(dtype))
    shape = []
    probe = values
    while isinstance(probe, (list, tuple)):
        shape.append(len(probe))
        probe = probe[0] if probe else None
    flat = list(_flatten(values)) if shape else [values]
    out = SmallArray(flat, shape, DType("int64")).astype(dtype) if flat else SmallArray([], shape, dtype)
    return out


def _flatten(values):
    stack = [iter(values)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, (list, tuple)):
                stack.append(iter(item))
                break
            yield item
        else:
            stack.pop()


def arange(start: int, limit: int, delta: int, dtype) -> SmallArray:
    data = list(range(start, limit, delta))
    return SmallArray(data, (len(data),), dtype).astype(dtype)


def full(dims, value, dtype) -> SmallArray:
    return SmallArray([value] * math.prod(dims), tuple(dims), dtype).astype(dtype)


def _broadcast_shape(a, b):
    out = []
    for i in range(max(len(a), len(b))):
        x = a[-1 - i] if i < len(a) else 1
        y = b[-1 - i] if i < len(b) else 1
        if x != y and 1 not in (x, y):
            raise ValueError("shapes do not broadcast")
        out.append(max(x, y) if 0 not in (x, y) else 0)
    return tuple(reversed(out))


def _index(flat, shape, out_shape):
    # Map a flat index of the broadcast result to one of an input of ``shape``.
    offset = len(out_shape) - len(shape)
    idx, stride = 0, 1
    rest = flat
    coords = []
    for d in reversed(out_shape):
        coords.append(rest % d if d else 0)
        rest = rest // d if d else 0
    coords.reverse()
    for axis in range(len(shape) - 1, -1, -1):
        d = shape[axis]
        c = coords[axis + offset] if d != 1 else 0
        idx += c * stride
        stride *= d
    return idx


_BINARY = {
    "add": lambda x, y: x + y,
    "subtract": lambda x, y: x - y,
    "multiply": lambda x, y: x * y,
    "maximum": max,
    "minimum": min,
    "floor_divide": lambda x, y: x // y,
    "mod": lambda x, y: x % y,
    "equal": lambda x, y: x == y,
    "not_equal": lambda x, y: x != y,
    "less": lambda x, y: x < y,
    "less_equal": lambda x, y: x <= y,
    "greater": lambda x, y: x > y,
    "greater_equal": lambda x, y: x >= y,
    "logical_and": lambda x, y: bool(x) and bool(y),
    "logical_or": lambda x, y: bool(x) or bool(y),
}
_COMPARISONS = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
                "logical_or"}


def binary(name: str, a: SmallArray, b: SmallArray, out_dtype) -> SmallArray:
    """Element-wise ``name`` (numpy's ufunc name) with broadcasting; ints never wrap."""
    fn = _BINARY[name]
    shape = _broadcast_shape(a.shape, b.shape)
    n = math.prod(shape)
    if a.shape == b.shape:
        data = [fn(x, y) for x, y in zip(a.data, b.data)]
    else:
        data = [fn(a.data[_index(i, a.shape, shape)], b.data[_index(i, b.shape, shape)]) for i in range(n)]
    dtype = DType("bool") if name in _COMPARISONS else (out_dtype if isinstance(out_dtype, DType)
                                                         else DType(str(out_dtype)))
    return SmallArray(data, shape, DType("int64") if dtype.kind in "iu" else dtype).astype(dtype)


_REDUCE = {"Prod": math.prod, "Sum": sum, "Max": max, "Min": min}


def reduce(op: str, v: SmallArray, axes, keepdims: bool) -> SmallArray:
    """``Prod``/``Sum``/``Max``/``Min`` over ``axes`` (already non-negative)."""
    fn = _REDUCE[op]
    axes = sorted(set(axes))
    keep = [i for i in range(v.ndim) if i not in axes]
    out_shape = tuple(v.shape[i] for i in keep)
    groups: dict[tuple, list] = {}
    strides = [math.prod(v.shape[i + 1:]) for i in range(v.ndim)]
    for flat, x in enumerate(v.data):
        coords = tuple((flat // strides[i]) % v.shape[i] for i in keep)
        groups.setdefault(coords, []).append(x)
    order = _all_coords(out_shape)
    data = [fn(groups.get(c, [])) for c in order]
    if keepdims:
        out_shape = tuple(1 if i in axes else d for i, d in enumerate(v.shape))
    return SmallArray(data, out_shape, DType("int64") if v.dtype.kind in "iu" else v.dtype).astype(v.dtype)


def _all_coords(shape):
    coords = [()]
    for d in shape:
        coords = [c + (i,) for c in coords for i in range(d)]
    return coords


_TYPECODES = {"int32": "i", "int64": "q", "float32": "f", "float64": "d", "bool": "b", "uint8": "B",
              "int8": "b", "int16": "h", "uint16": "H", "uint32": "I", "uint64": "Q"}
_FIELDS = {"int32": "int_val", "int16": "int_val", "int8": "int_val", "uint8": "int_val",
           "uint16": "int_val", "int64": "int64_val", "uint32": "uint32_val", "uint64": "uint64_val",
           "bool": "bool_val", "float32": "float_val", "float64": "double_val"}


def from_tensor_proto(tensor, dtype_name: str) -> SmallArray | None:
    """A small numeric TensorProto as a SmallArray; None if it cannot be decoded."""
    if dtype_name not in _TYPECODES:
        return None
    shape = tuple(int(d.size) for d in tensor.tensor_shape.dim)
    if any(d < 0 for d in shape):
        return None
    count = math.prod(shape)
    if tensor.tensor_content:
        values = _pyarray(_TYPECODES[dtype_name])
        if len(tensor.tensor_content) != count * values.itemsize:
            return None
        values.frombytes(tensor.tensor_content)

        if sys.byteorder != "little":
            values.byteswap()
        data = [bool(x) for x in values] if dtype_name == "bool" else values.tolist()
    else:
        raw = list(getattr(tensor, _FIELDS[dtype_name]))
        if len(raw) == count:
            data = raw
        elif not raw:
            data = [False if dtype_name == "bool" else 0] * count
        elif len(raw) < count:
            data = raw + [raw[-1]] * (count - len(raw))  # TensorFlow repeats the last value
        else:
            return None
    dtype = DType(dtype_name)
    return SmallArray([_convert(x, dtype) for x in data], shape, dtype)
