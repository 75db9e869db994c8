"""V1 checkpoints (TensorFlow's format before the V2 tensor bundle), read without TensorFlow.

A V1 checkpoint is one LevelDB-format table per shard (``PREFIX`` or
``PREFIX-0000k-of-0000n``): the empty key holds a ``SavedTensorSlices`` whose
``meta`` lists every tensor (name, shape, dtype, the slices saved); every
other key one ``SavedSlice`` (name, slice, values in a TensorProto's typed
fields). A variable is usually saved as one full slice; partitioned
variables are saved as several slices, which are joined here.

The interface is :class:`graphsurgeon.formats.bundle.BundleReader`'s:
``keys``, ``in``, ``dtype``, ``shape``, ``read``.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import FormatError, NotFoundError
from ..vocab import dtypes as _dtypes
from ..vocab import protos
from ..vocab.values import element_count, to_numpy
from .bundle import read_table
from .slices import extents_of

__all__ = ["V1CheckpointReader", "shard_files"]


def shard_files(prefix: str) -> list[Path]:
    """The table files of the V1 checkpoint at ``prefix`` (one file, or its shards)."""
    p = Path(prefix)
    if p.is_file():
        return [p]
    return sorted(p.parent.glob(p.name + "-?????-of-?????"))


class V1CheckpointReader:
    """A V1 checkpoint, read at open (the tables are small: values are read when asked)."""

    def __init__(self, prefix):
        self.prefix = str(prefix)
        files = shard_files(self.prefix)
        if not files:
            raise FormatError(self.prefix, "no V1 checkpoint here")
        self._meta: dict[str, object] = {}
        self._slices: dict[str, list] = {}
        for path in files:
            for key, value in read_table(path):
                message = protos.SavedTensorSlices()
                try:
                    message.ParseFromString(value)
                except Exception:  # noqa: BLE001 - protobuf's decode errors vary by implementation
                    raise FormatError(path, f"damaged V1 checkpoint entry {key!r}") from None
                if key == b"":
                    for tensor in message.meta.tensor:
                        self._meta[tensor.name] = tensor
                elif message.HasField("data"):
                    self._slices.setdefault(message.data.name, []).append(message.data)

    def __contains__(self, name: str) -> bool:
        return name in self._meta

    def __len__(self) -> int:
        return len(self._meta)

    def keys(self) -> list[str]:
        return sorted(self._meta)

    def _tensor(self, name: str):
        meta = self._meta.get(name)
        if meta is None:
            raise NotFoundError("tensor", name, self._meta, where=f"checkpoint {self.prefix}")
        return meta

    def dtype(self, name: str) -> str | None:
        return _dtypes.name(self._tensor(name).type)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(d.size) for d in self._tensor(name).shape.dim)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {name: self.shape(name) for name in self._meta}

    def read(self, name: str, check_crc: bool = True):
        """The tensor as a numpy array (slices joined)."""
        import numpy as np  # values only: listing a checkpoint never needs numpy

        shape = self.shape(name)
        dtype = self.dtype(name)
        if any(d < 0 for d in shape) or element_count(shape) is None:
            raise FormatError(self.prefix, f"{name!r} has an invalid shape {list(shape)}")
        pieces = self._slices.get(name, [])
        if not pieces:
            raise FormatError(self.prefix, f"no values saved for {name!r}")
        out = None
        covered = 0
        for piece in pieces:
            extents = extents_of(piece.slice, shape)
            piece_shape = tuple(length for _, length in extents)
            tensor = protos.TensorProto()
            tensor.CopyFrom(piece.data)
            tensor.dtype = self._tensor(name).type
            del tensor.tensor_shape.dim[:]
            for d in piece_shape:
                tensor.tensor_shape.dim.add(size=d)
            value = to_numpy(tensor, where=f"{self.prefix}: {name}")
            if len(pieces) == 1 and piece_shape == shape:
                return value
            if out is None:
                out = np.zeros(shape, dtype=value.dtype)
            index = tuple(slice(start, start + length) for start, length in extents)
            if any(start < 0 or start + length > size for (start, length), size in zip(extents, shape)):
                raise FormatError(self.prefix, f"a slice of {name!r} lies outside its shape {list(shape)}")
            out[index] = value
            covered += value.size
        if covered != element_count(shape):
            raise FormatError(self.prefix, f"the saved slices of {name!r} do not cover it ({dtype} {list(shape)})")
        return out

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
