"""Convert a V1 checkpoint to a V2 one (a tensor bundle), TensorFlow-free, every value checked.

A SavedModel keeps its variables as the V2 checkpoint ``variables/variables``
(TensorFlow Serving's loader looks for ``variables/variables.index`` and
restores nothing without it), so a model whose values are in a V1 checkpoint
(a single table file, or ``PREFIX-0000k-of-0000n`` shards; slices of a
partitioned variable joined) is converted on the way: each tensor is read
with :class:`~graphsurgeon.formats.v1_checkpoint.V1CheckpointReader`, written
with :class:`~graphsurgeon.formats.bundle_writer.BundleWriter`, then read back
with :class:`~graphsurgeon.formats.bundle.BundleReader` and compared with the
original (dtype, shape and every element, NaNs included).
"""
from __future__ import annotations

from ..errors import FormatError, NotFoundError, OutputError
from .bundle import BundleReader
from .bundle_writer import BundleWriter
from .v1_checkpoint import V1CheckpointReader

__all__ = ["convert_v1_to_v2"]


def _bytes_of(array) -> bytes:
    """A numeric array's little-endian bytes, row-major."""
    little = array.astype(array.dtype.newbyteorder("<"), copy=False) if array.dtype.byteorder == ">" else array
    return little.tobytes(order="C")


def _same(a, b) -> bool:
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind == "f" or a.dtype.kind == "c":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def convert_v1_to_v2(source_prefix: str, target_prefix: str, keys=None) -> int:
    """Write the V1 checkpoint at ``source_prefix`` as the V2 checkpoint ``target_prefix``.

    ``keys``: the tensors to convert (None: all of them).

    Returns:
        the number of tensors converted.

    Raises:
        FormatError: the V1 checkpoint is damaged or holds a dtype that has no
            numeric or string value (resource, variant).
        OutputError: a value read back differs from the original (nothing to
            trust in the output; the caller removes it).
    """
    import numpy as np

    reader = V1CheckpointReader(source_prefix)
    missing = sorted(k for k in keys or () if k not in reader)
    if missing:
        raise NotFoundError("tensor", missing[0], reader.keys(), where=f"checkpoint {source_prefix}")
    values = {}
    with BundleWriter(target_prefix) as writer:
        for key in reader.keys():
            if keys is not None and key not in keys:
                continue
            dtype = reader.dtype(key)
            shape = reader.shape(key)
            value = reader.read(key)
            if dtype is None or dtype in ("resource", "variant"):
                raise FormatError(source_prefix, f"{key!r} is a {dtype or 'unknown'} tensor, which a V2 "
                                                 "checkpoint cannot be given from here")
            if dtype == "string":
                array = np.asarray(value, dtype=object).reshape(shape)
                writer.add_strings(key, shape, [bytes(v) for v in array.reshape(-1)])
            else:
                writer.add(key, dtype, shape, _bytes_of(np.asarray(value).reshape(shape)))
            values[key] = (dtype, shape, value)
    with BundleReader(target_prefix) as check:
        if sorted(check.keys()) != sorted(values):
            raise OutputError(f"{target_prefix}: the converted checkpoint does not hold the same tensors")
        for key, (dtype, shape, value) in values.items():
            got = check.read(key)
            if check.dtype(key) != dtype or tuple(check.shape(key)) != tuple(shape) or not _same(got, value):
                raise OutputError(f"{target_prefix}: {key!r} reads back different from the V1 checkpoint "
                                  f"{source_prefix}; nothing written")
    return len(values)
