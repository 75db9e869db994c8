"""Partitioned variables in checkpoints: slice specs, slice keys, and reading one part.

A variable made with a partitioner (``fixed_size_partitioner(3)``) is several
variables (``embedding/weights/part_0``...), each a slice of one tensor. A
TF1 ``Saver`` saves them under ONE key, the full name (``embedding/weights``),
each part with its slice spec: ``"30 8 10,10:0,8"`` is the full shape
(``30 8``) and, per dimension, ``start,length`` (``-`` for all of it). The
saver's ``RestoreV2`` asks for the key and the spec; :func:`read_value` does
the same with graphsurgeon's readers.

In a V2 bundle the full name's entry lists the slices saved
(``BundleEntryProto.slices``), and each slice's data is an entry of its own
whose key is TensorFlow's ``EncodeTensorNameSlice``: ``OrderedCode`` numbers
and strings (``saved_tensor_slice_util.cc``, ``ordered_code.cc``), starting
with a 0 byte so that no tensor name looks like one (:func:`slice_key`).
"""
from __future__ import annotations

from ..errors import FormatError

__all__ = ["parse_spec", "slice_key", "is_slice_key", "extents_of", "read_value", "cut"]


def parse_spec(spec: str) -> tuple[list[int], list[tuple[int, int]]]:
    """``"30 8 10,10:0,8"`` -> ``([30, 8], [(10, 10), (0, 8)])``; ``-`` is the whole dimension.

    Raises:
        ValueError: the text is not a shape-and-slice spec, or the slice does not fit the shape.
    """
    parts = spec.split(" ")
    if len(parts) < 2:
        raise ValueError(f"not a shape and slice: {spec!r}")
    shape = [int(p) for p in parts[:-1]]
    extents = []
    for dim, text in zip(shape, parts[-1].split(":")):
        if text == "-":
            extents.append((0, dim))
            continue
        start, length = (int(v) for v in text.split(","))
        extents.append((start, length))
    if len(extents) != len(shape) or any(s < 0 or n < 0 or s + n > d for d, (s, n) in zip(shape, extents)):
        raise ValueError(f"the slice of {spec!r} does not fit its shape")
    return shape, extents


def extents_of(slice_proto, shape) -> list[tuple[int, int]]:
    """``[(start, length)]`` of a TensorSliceProto over ``shape``: an extent without length is all of it."""
    out = []
    extents = list(slice_proto.extent)
    for i, size in enumerate(shape):
        if i < len(extents) and extents[i].WhichOneof("has_length"):
            out.append((int(extents[i].start), int(extents[i].length)))
        else:
            out.append((0, int(size)))
    return out


# ------------------------------------------------------------------------- OrderedCode
def _num_increasing(value: int) -> bytes:
    """OrderedCode::WriteNumIncreasing: a length byte, then the number big-endian without leading zeros."""
    body = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return bytes([len(body)]) + body


def _string(value: bytes) -> bytes:
    """OrderedCode::WriteString: 0x00 -> 00 ff, 0xff -> ff 00, then the separator 00 01."""
    out = bytearray()
    for byte in value:
        if byte == 0:
            out += b"\x00\xff"
        elif byte == 0xFF:
            out += b"\xff\x00"
        else:
            out.append(byte)
    return bytes(out) + b"\x00\x01"


# Header bits of the first two bytes for each encoding length (ordered_code.cc kLengthToHeaderBits).
_HEADER = [(0, 0), (0x80, 0), (0xC0, 0), (0xE0, 0), (0xF0, 0), (0xF8, 0), (0xFC, 0), (0xFE, 0), (0xFF, 0),
           (0xFF, 0x80), (0xFF, 0xC0)]


def _signed_increasing(value: int) -> bytes:
    """OrderedCode::WriteSignedNumIncreasing: sign bit, as many length bits, then the two's complement value."""
    x = ~value if value < 0 else value
    if x < 64:
        return bytes([(0x80 ^ value) & 0xFF])
    length = x.bit_length() // 7 + 1  # n bytes hold numbers in [-2^(7n-1), 2^(7n-1)): kBitsToLength
    buf = bytearray((value & ((1 << 80) - 1)).to_bytes(10, "big"))  # sign-extended to 10 bytes
    begin = buf[10 - length:]
    begin[0] ^= _HEADER[length][0]
    begin[1] ^= _HEADER[length][1]
    return bytes(begin)


def slice_key(name: str, extents: list[tuple[int, int | None]]) -> str:
    """The bundle key of one saved slice of ``name`` (TensorFlow's ``EncodeTensorNameSlice``).

    ``extents``: ``(start, length)`` per dimension as the TensorSliceProto has
    them; ``length`` None for an extent without one (encoded as start 0,
    length -1, TensorFlow's "full extent"). Returned as the reader keys its
    entries: bytes decoded with ``surrogateescape``.
    """
    out = _num_increasing(0) + _string(name.encode("utf-8", "surrogateescape")) + _num_increasing(len(extents))
    for start, length in extents:
        if length is None:
            start, length = 0, -1
        out += _signed_increasing(start) + _signed_increasing(length)
    return out.decode("utf-8", "surrogateescape")


def is_slice_key(key: str) -> bool:
    """Whether a bundle key is one slice's data (every such key starts with a 0 byte) rather than a tensor name."""
    return key.startswith("\x00")


# ------------------------------------------------------------------------- values
def cut(array, extents: list[tuple[int, int]]):
    """The slice of ``array`` at ``extents`` (a contiguous copy)."""
    import numpy as np

    return np.ascontiguousarray(array[tuple(slice(s, s + n) for s, n in extents)])


def read_value(reader, key: str, spec: str = ""):
    """The value a saver's restore gives for ``key`` and slice ``spec`` (``""``: the whole tensor).

    Raises:
        FormatError: the spec is not one, or the checkpoint's tensor is not of the full shape it names.
    """
    if not spec:
        return reader.read(key)
    try:
        shape, extents = parse_spec(spec)
    except ValueError as exc:
        raise FormatError(getattr(reader, "prefix", "checkpoint"), f"{key!r}: {exc}") from None
    stored = list(reader.shape(key))
    if stored != shape:
        raise FormatError(getattr(reader, "prefix", "checkpoint"),
                          f"{key!r} has shape {stored}, the slice {spec!r} is of a tensor of shape {shape}")
    return cut(reader.read(key), extents)
