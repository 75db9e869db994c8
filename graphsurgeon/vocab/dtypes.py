"""Data types by TensorFlow's names (``tf.DType.name``), from the DataType enum."""
from __future__ import annotations

from .protos import types_pb2

_SPECIAL = {"FLOAT": "float32", "DOUBLE": "float64", "HALF": "float16"}


def _enum_name(enum_name: str) -> str:
    base = enum_name[len("DT_"):]
    return _SPECIAL.get(base, base.lower())


NAMES: dict[int, str] = {}
for _value in types_pb2.DataType.DESCRIPTOR.values:
    if 0 < _value.number < 100:
        NAMES[_value.number] = _enum_name(_value.name)
        NAMES[_value.number + 100] = _enum_name(_value.name) + "_ref"
NUMBERS: dict[str, int] = {name: number for number, name in NAMES.items()}


def name(enum_value: int) -> str | None:
    """``1`` -> ``"float32"``, ``101`` -> ``"float32_ref"``; invalid -> None."""
    return NAMES.get(int(enum_value))


def number(dtype_name: str) -> int:
    return NUMBERS[dtype_name]


def base(dtype_name: str | None) -> str | None:
    """``"float32_ref"`` -> ``"float32"``."""
    if dtype_name and dtype_name.endswith("_ref"):
        return dtype_name[:-4]
    return dtype_name


# numpy dtype names for decoding tensor contents (None where numpy has none).
NUMPY = {
    "float32": "float32", "float64": "float64", "float16": "float16", "int32": "int32",
    "int64": "int64", "int16": "int16", "int8": "int8", "uint8": "uint8", "uint16": "uint16",
    "uint32": "uint32", "uint64": "uint64", "bool": "bool", "complex64": "complex64",
    "complex128": "complex128",
}
