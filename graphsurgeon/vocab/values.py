"""Tensor values: TensorProto <-> numpy, with the size checked before any allocation."""
from __future__ import annotations

from ..errors import FormatError
from . import dtypes, protos

# Typed value fields of a TensorProto, by dtype.
_FIELDS = {
    "float32": "float_val", "float64": "double_val", "int32": "int_val", "uint8": "int_val",
    "int16": "int_val", "int8": "int_val", "uint16": "int_val", "bool": "bool_val",
    "int64": "int64_val", "uint32": "uint32_val", "uint64": "uint64_val", "float16": "half_val",
    "complex64": "scomplex_val", "complex128": "dcomplex_val", "string": "string_val",
}


def element_count(shape) -> int | None:
    if shape is None or any(d is None for d in shape):
        return None
    count = 1
    for d in shape:
        count *= d
    return count


# A TensorProto may hold one value for a whole shape (``tf.zeros([1000, 1000])``
# is one float); decoding expands it. Past this many bytes the declared shape,
# not the file, would decide how much memory is used: refused instead.
MAX_EXPANDED_BYTES = 2**28


def to_numpy(tensor, where: str = "tensor"):
    """Decode a TensorProto. Raises FormatError when its content does not fit its shape.

    Memory is bounded by the proto's own size, or by :data:`MAX_EXPANDED_BYTES`
    when a few values are repeated to fill a large declared shape: a tensor
    declared ``[1e12]`` with one value is refused, never allocated.
    """
    import numpy as np  # lazily: listing a graph should not pay for numpy

    name = dtypes.base(dtypes.name(tensor.dtype))
    shape = tuple(max(int(d.size), 0) for d in tensor.tensor_shape.dim)
    count = element_count(shape) or 0
    np_name = dtypes.NUMPY.get(name or "")
    itemsize = np.dtype(np_name).itemsize if np_name else 8
    if count * itemsize > MAX_EXPANDED_BYTES and count * itemsize > len(tensor.tensor_content):
        shown = list(shape) if len(shape) <= 8 else f"of rank {len(shape)}"
        elements = f"{count:,}" if count < 10**15 else "over 10^15"
        raise FormatError(where, f"tensor declares shape {shown} ({elements} elements of {name}), "
                                 f"far more than it holds; not expanded")
    if name == "string":
        values = list(tensor.string_val)
        if len(values) == 1 and count > 1:
            values = values * count
        if len(values) != count:
            raise FormatError(where, f"string tensor holds {len(values)} values for shape {list(shape)}")
        return np.array(values, dtype=object).reshape(shape)
    np_name = dtypes.NUMPY.get(name or "")
    if np_name is None:
        raise FormatError(where, f"cannot decode a tensor of dtype {name}")
    dt = np.dtype(np_name)
    if tensor.tensor_content:
        if len(tensor.tensor_content) != count * dt.itemsize:
            raise FormatError(where, f"tensor content has {len(tensor.tensor_content)} bytes, "
                                     f"shape {list(shape)} of {name} needs {count * dt.itemsize}")
        return np.frombuffer(tensor.tensor_content, dtype=dt).reshape(shape).copy()
    field = _FIELDS.get(name)
    raw = list(getattr(tensor, field)) if field else []
    if name == "float16":
        arr = np.array(raw, dtype=np.uint16).view(np.float16)
    elif name in ("complex64", "complex128"):
        if len(raw) % 2:
            raise FormatError(where, f"complex tensor holds an odd number ({len(raw)}) of real parts")
        arr = np.array(raw[0::2], dtype=dt) + 1j * np.array(raw[1::2], dtype=dt)
    else:
        arr = np.array(raw, dtype=dt)
    if arr.size == count:
        return arr.reshape(shape)
    if arr.size == 0:
        return np.zeros(shape, dtype=dt)
    if arr.size < count:
        # TensorFlow repeats the last value to fill the shape.
        out = np.empty(count, dtype=dt)
        out[: arr.size] = arr
        out[arr.size:] = arr[-1]
        return out.reshape(shape)
    raise FormatError(where, f"tensor holds {arr.size} values for shape {list(shape)}")


def from_numpy(array) -> "protos.TensorProto":
    """Encode a numpy array as a TensorProto (tensor_content for numbers)."""
    import numpy as np

    array = np.asarray(array)
    proto = protos.TensorProto()
    if array.dtype == object or array.dtype.kind in "SU":
        proto.dtype = dtypes.number("string")
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode() for v in array.ravel())
    else:
        name = {v: k for k, v in dtypes.NUMPY.items()}.get(array.dtype.name)
        if name is None:
            raise ValueError(f"no TensorFlow dtype for numpy {array.dtype}")
        proto.dtype = dtypes.number(name)
        proto.tensor_content = np.ascontiguousarray(array).tobytes()
    for d in array.shape:
        proto.tensor_shape.dim.add(size=d)
    return proto
