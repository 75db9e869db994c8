"""Reading TensorFlow V2 checkpoints (tensor bundles) without TensorFlow.

A V2 checkpoint ``PREFIX`` is ``PREFIX.index`` plus data shards
``PREFIX.data-0000k-of-0000n``:

- The ``.index`` is a LevelDB-format SSTable (TensorFlow's ``table.cc``):
  data blocks of prefix-compressed keys with restart points, an index block
  of block handles (varints), and a 48-byte footer ending in the magic
  ``0xdb4775248b80fb57``. Each block is followed by a compression byte and a
  masked crc32c. TensorFlow's BundleWriter asks for no compression, but
  some builds write snappy-compressed index blocks anyway (TF 2.14's
  SavedModels in the corpus do), so raw snappy is decoded here too.
- The empty key holds a ``BundleHeaderProto`` (shard count, endianness);
  every other key is a tensor name whose value is a ``BundleEntryProto``
  (dtype, shape, shard, offset, size, and the masked crc32c of the raw
  bytes -- masked as LevelDB masks block checksums, whatever the comments say).
- A numeric tensor is its raw little-endian bytes in its shard; a string
  tensor is ``[varint64 length]*n``, a 4-byte masked crc32c of the lengths
  (taken as uint32), then the bytes (``tensor_bundle.cc``).
- A partitioned variable saved by a TF1 Saver is one entry under its full
  name listing its ``slices``, each slice's data an entry of its own under an
  encoded key (:mod:`graphsurgeon.formats.slices`); such keys are not tensor
  names (``keys`` leaves them out, :meth:`BundleReader.entry_keys` has them)
  and reading the full name joins the slices, as TensorFlow's reader does.

Only the tensors asked for are read (one seek and one read each), so
freezing a large model loads only what its outputs need. V1 checkpoints
(single-file SSTables of ``SavedTensorSlices``) are not read here: use
:func:`open_checkpoint`, which falls back on TensorFlow's own reader for them.

Example:
    >>> from graphsurgeon.formats.bundle import BundleReader
    >>> with BundleReader("fixtures/models/mnist_bn_elu_tf1/model.ckpt") as ckpt:
    ...     ckpt.shape("hidden1/kernel"), ckpt.dtype("hidden1/kernel")
    ...     kernel = ckpt.read("hidden1/kernel")
    ((784, 300), 'float32')
"""
from __future__ import annotations

import os
import struct
from pathlib import Path

import google_crc32c

from ..errors import FormatError, NotFoundError
from ..vocab import dtypes as _dtypes
from ..vocab import protos
from ..wording import plural
from .protofile import _varint as _protofile_varint
from .protofile import open_regular
from .slices import extents_of, is_slice_key, slice_key

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5
_NO_COMPRESSION, _SNAPPY = 0, 1
_MASK_DELTA = 0xA282EAD8


# --------------------------------------------------------------------------- crc32c
def crc32c(data, crc: int = 0) -> int:
    """CRC-32C (Castagnoli) of ``data``, continuing from ``crc`` (google-crc32c, at C speed)."""
    return google_crc32c.extend(crc, data if isinstance(data, bytes) else bytes(data))


def mask_crc(crc: int) -> int:
    """LevelDB's masked crc: rotate right by 15 bits and add a constant."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


# --------------------------------------------------------------------------- SSTable
def _varint(data, pos: int, path) -> tuple[int, int]:
    value, end = _protofile_varint(data, pos)
    if value is None:
        raise FormatError(path, "damaged table (bad varint)")
    return value, end


def _read_block(handle, offset: int, size: int, path) -> bytes:
    handle.seek(offset)
    raw = handle.read(size + BLOCK_TRAILER_SIZE)
    if len(raw) != size + BLOCK_TRAILER_SIZE:
        raise FormatError(path, "truncated table block")
    contents, kind = raw[:size], raw[size]
    (stored,) = struct.unpack("<I", raw[size + 1:])
    if mask_crc(crc32c(raw[:size + 1])) != stored:
        raise FormatError(path, f"table block at offset {offset} fails its checksum (file damaged)")
    if kind == _SNAPPY:
        return snappy_decompress(contents, path)
    if kind != _NO_COMPRESSION:
        raise FormatError(path, f"table block has unknown compression type {kind}")
    return contents


# Snappy's densest element is a 3-byte copy of 64 bytes: no valid block
# expands more than 64/3 times, so a header claiming more is damaged.
SNAPPY_MAX_EXPANSION = 22
# The largest uncompressed block accepted, whatever the header claims: an
# index block of a checkpoint with a million tensors is a few hundred MB.
SNAPPY_LIMIT = 1 << 30


def snappy_decompress(data: bytes, path="data", limit: int | None = None) -> bytes:
    """Decompress a raw snappy block.

    Format: varint uncompressed length, then elements whose tag's low two
    bits say literal (0) or copy with a 1-, 2- or 4-byte offset (1, 2, 3).

    The claimed length is checked before anything is decoded: at most
    ``limit`` bytes (:data:`SNAPPY_LIMIT` by default) and at most
    :data:`SNAPPY_MAX_EXPANSION` times the compressed size; no copy may
    write past it. Every element is one slice (a repeating copy is its
    pattern repeated), so the time goes with the number of elements, not
    bytes: about a second for a 24 MB index.

    Raises:
        FormatError: the block is damaged or claims more than the bounds allow.
    """
    limit = SNAPPY_LIMIT if limit is None else limit
    length, pos = _varint(data, 0, path)
    end = len(data)
    if length > limit or length > SNAPPY_MAX_EXPANSION * end:
        raise FormatError(path, f"damaged snappy block (claims {length:,} bytes uncompressed from {end:,}; "
                                f"at most {min(limit, SNAPPY_MAX_EXPANSION * end):,} is possible or accepted)")
    out = bytearray()
    try:
        # The hot loop of reading a compressed index: no call or lookup that can be avoided.
        while pos < end:
            tag = data[pos]
            pos += 1
            kind = tag & 3
            if kind == 0:
                size = (tag >> 2) + 1
                if size > 60:
                    extra = size - 60
                    size = int.from_bytes(data[pos:pos + extra], "little") + 1
                    pos += extra
                out += data[pos:pos + size]  # a literal cut short shows in the final length
                pos += size
                continue
            if kind == 2:
                size = (tag >> 2) + 1
                offset = data[pos] | (data[pos + 1] << 8)
                pos += 2
            elif kind == 1:
                size = ((tag >> 2) & 7) + 4
                offset = ((tag >> 5) << 8) | data[pos]
                pos += 1
            else:
                size = (tag >> 2) + 1
                offset = int.from_bytes(data[pos:pos + 4], "little")
                pos += 4
            start = len(out) - offset
            if start < 0 or not offset or start + offset + size > length:
                raise FormatError(path, "damaged snappy block (bad copy offset or length)")
            if offset >= size:
                out += out[start:start + size]
            else:  # overlapping copy: the last `offset` bytes, repeated
                out += (out[start:] * (size // offset + 1))[:size]
    except IndexError:
        raise FormatError(path, "damaged snappy block (cut short)") from None
    if len(out) != length or pos != end:
        raise FormatError(path, f"damaged snappy block ({len(out)} bytes, header says {length})")
    return bytes(out)


def _block_entries(block: bytes, path):
    """Yield (key, value) of a block: prefix-compressed keys, restart array at the end."""
    if len(block) < 4:
        raise FormatError(path, "damaged table block")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * restarts
    if limit < 0:
        raise FormatError(path, "damaged table block (restart array)")
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos, path)
        unshared, pos = _varint(block, pos, path)
        length, pos = _varint(block, pos, path)
        if shared > len(key) or pos + unshared + length > limit:
            raise FormatError(path, "damaged table block (entry overruns it)")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        yield key, block[pos:pos + length]
        pos += length


def read_table(path) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a LevelDB-format SSTable, in key order."""
    path = Path(path)
    with open_regular(path) as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size < FOOTER_SIZE:
            raise FormatError(path, "too short to be a checkpoint index")
        handle.seek(size - FOOTER_SIZE)
        footer = handle.read(FOOTER_SIZE)
        if struct.unpack("<Q", footer[-8:])[0] != TABLE_MAGIC:
            raise FormatError(path, "not a checkpoint index (bad table magic number)")
        _, pos = _varint(footer, 0, path)           # metaindex offset
        _, pos = _varint(footer, pos, path)         # metaindex size
        index_offset, pos = _varint(footer, pos, path)
        index_size, pos = _varint(footer, pos, path)
        if index_offset + index_size > size:
            raise FormatError(path, "damaged checkpoint index (index block out of range)")
        entries = []
        for _, handle_bytes in _block_entries(_read_block(handle, index_offset, index_size, path), path):
            offset, p = _varint(handle_bytes, 0, path)
            length, _ = _varint(handle_bytes, p, path)
            if offset + length > size:
                raise FormatError(path, "damaged checkpoint index (data block out of range)")
            entries.extend(_block_entries(_read_block(handle, offset, length, path), path))
    return entries


# --------------------------------------------------------------------------- bundle
def _little_endian(np_name: str):
    import numpy as np

    return np.dtype(np_name).newbyteorder("<")


class BundleReader:
    """A V2 checkpoint (tensor bundle), read lazily: the index at open, tensors on request.

    Use as a context manager (or call :meth:`close`) to release the shard files.

    Args:
        prefix: the checkpoint prefix (``model.ckpt``; ``model.ckpt.index`` is accepted).

    Raises:
        FormatError: the index is missing, damaged or not a V2 checkpoint.
    """

    def __init__(self, prefix):
        prefix = str(prefix)
        if prefix.endswith(".index"):
            prefix = prefix[: -len(".index")]
        self.prefix = prefix
        self.index_path = Path(prefix + ".index")
        if not self.index_path.is_file():
            raise FormatError(self.index_path, "no such file (not a V2 checkpoint)",
                              hint="V1 checkpoints are read through TensorFlow: see open_checkpoint")
        header_cls, entry_cls = protos.BundleHeaderProto, protos.BundleEntryProto
        self.header = header_cls()
        self._raw: dict[str, bytes] = {}
        for key, value in read_table(self.index_path):
            if key == b"":
                try:
                    self.header.ParseFromString(value)
                except Exception:
                    raise FormatError(self.index_path, "damaged bundle header") from None
            else:
                self._raw[key.decode("utf-8", "surrogateescape")] = value
        if self.header.endianness != 0:
            raise FormatError(self.index_path, "big-endian checkpoints are not supported")
        self.num_shards = max(int(self.header.num_shards), 1)
        self._entries: dict = {}
        self._entry_cls = entry_cls
        self._files: dict[int, object] = {}

    # -- metadata ---------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self._raw and not is_slice_key(name)

    def __len__(self) -> int:
        return len(self.keys())

    def keys(self) -> list[str]:
        """Tensor names, in the index's (sorted) order (a partitioned variable once, by its full name)."""
        return [name for name in self._raw if not is_slice_key(name)]

    def entry_keys(self) -> list[str]:
        """Every key of the index, the slices' data entries included: what a copy of the bundle copies."""
        return list(self._raw)

    def slice_keys(self, name: str) -> list[str]:
        """The keys of the data entries of the slices ``name`` is saved in (none for a whole tensor)."""
        return [slice_key(name, [(e.start, e.length if e.WhichOneof("has_length") else None) for e in sl.extent])
                for sl in self.entry(name).slices]

    def entry(self, name: str):
        """The BundleEntryProto of ``name`` (NotFoundError with the closest names if absent)."""
        entry = self._entries.get(name)
        if entry is None:
            raw = self._raw.get(name)
            if raw is None:
                raise NotFoundError("tensor", name, self.keys(), where=f"checkpoint {self.prefix}")
            entry = self._entry_cls()
            try:
                entry.ParseFromString(raw)
            except Exception:
                raise FormatError(self.index_path, f"damaged entry for {name!r}") from None
            self._entries[name] = entry
        return entry

    def dtype(self, name: str) -> str | None:
        return _dtypes.name(self.entry(name).dtype)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(d.size) for d in self.entry(name).shape.dim)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """``{name: shape}`` for every tensor (what ``get_variable_to_shape_map`` gives)."""
        return {name: self.shape(name) for name in self.keys()}

    def dtypes(self) -> dict[str, str | None]:
        return {name: self.dtype(name) for name in self.keys()}

    def shard_path(self, shard_id: int) -> Path:
        return Path(f"{self.prefix}.data-{shard_id:05d}-of-{self.num_shards:05d}")

    # -- values -----------------------------------------------------------------
    def _file(self, shard_id: int):
        handle = self._files.get(shard_id)
        if handle is None:
            path = self.shard_path(shard_id)
            if not (path.exists() or path.is_symlink()):
                raise FormatError(path, "checkpoint data shard is missing")
            handle = self._files[shard_id] = open_regular(path)
        return handle

    def _bytes(self, name: str, entry) -> bytes:
        handle = self._file(entry.shard_id)
        # Checked against the shard's real size first: read(n) allocates n bytes up front,
        # so a damaged entry's size must never reach it.
        available = os.fstat(handle.fileno()).st_size
        if entry.offset + entry.size > available:
            raise FormatError(self.shard_path(entry.shard_id),
                              f"truncated: {name!r} needs {entry.size} bytes at offset {entry.offset}, "
                              f"the shard has {available}")
        handle.seek(entry.offset)
        data = handle.read(entry.size)
        if len(data) != entry.size:
            raise FormatError(self.shard_path(entry.shard_id),
                              f"truncated: {name!r} needs {entry.size} bytes at offset {entry.offset}")
        return data

    def read(self, name: str, check_crc: bool = True):
        """The value of tensor ``name`` as a numpy array, as ``tf.train.load_checkpoint`` gives it.

        Strings come back as an object array of bytes, or ``bytes`` for a scalar.

        Raises:
            NotFoundError: no tensor of that name.
            FormatError: the data is truncated or fails its checksum, the
                slices of a partitioned variable do not cover it, or its
                dtype is one this reader does not decode (resource, variant).
        """
        import numpy as np

        if len(self.entry(name).slices):
            return self._joined(name, check_crc)
        dtype, shape, data = self._checked(name, check_crc)
        if isinstance(data, np.ndarray):
            # A scalar string comes back as plain bytes, as TensorFlow's reader gives it.
            return data.item() if data.shape == () else data
        array = np.frombuffer(data, dtype=_numpy_dtype(dtype)).reshape(shape)
        # Writable and in native byte order, as TensorFlow's reader returns it.
        return array.astype(array.dtype.newbyteorder("="), copy=True)

    def read_raw(self, name: str, check_crc: bool = True) -> tuple[str, tuple, bytes]:
        """``(dtype, shape, little-endian bytes)`` of a numeric tensor, checked, not decoded.

        The bytes are what a TensorProto's ``tensor_content`` holds, so
        freezing copies them into a Const without going through numpy.
        """
        if len(self.entry(name).slices):
            joined = self._joined(name, check_crc)
            return self.dtype(name), self.shape(name), joined.astype(joined.dtype.newbyteorder("<")).tobytes()
        dtype, shape, data = self._checked(name, check_crc)
        if not isinstance(data, bytes):
            raise FormatError(self.index_path, f"{name!r} is a {dtype} tensor, not raw numeric data")
        return dtype, shape, data

    def _joined(self, name: str, check_crc: bool):
        """A tensor saved in slices, joined (numeric dtypes), as TensorFlow's reader gives it."""
        import numpy as np

        entry = self.entry(name)
        dtype, shape = _dtypes.name(entry.dtype), self.shape(name)
        np_dtype = _numpy_dtype(dtype)
        if dtype == "string" or np_dtype is None:
            raise FormatError(self.index_path, f"{name!r} is a {dtype} tensor saved in slices, which this reader "
                                               "does not join", hint="read it with tf.train.load_checkpoint")
        if any(d < 0 for d in shape):
            raise FormatError(self.index_path, f"{name!r} has a negative dimension in shape {list(shape)}")
        out = np.zeros(shape, dtype=np_dtype.newbyteorder("="))
        covered = 0
        for proto, key in zip(entry.slices, self.slice_keys(name)):
            extents = extents_of(proto, shape)
            if any(s < 0 or n < 0 or s + n > d for d, (s, n) in zip(shape, extents)) or len(proto.extent) > len(shape):
                raise FormatError(self.index_path, f"a slice of {name!r} lies outside its shape {list(shape)}")
            if key not in self._raw:
                raise FormatError(self.index_path, f"the data of a slice of {name!r} is missing")
            part_dtype, part_shape, data = self._checked(key, check_crc)
            if part_dtype != dtype or list(part_shape) != [n for _, n in extents]:
                raise FormatError(self.index_path, f"a slice of {name!r} is {part_dtype} {list(part_shape)}, "
                                                   f"its spec says {dtype} {[n for _, n in extents]}")
            part = np.frombuffer(data, dtype=np_dtype).reshape(part_shape)
            out[tuple(slice(s, s + n) for s, n in extents)] = part
            covered += part.size
        if covered != out.size:
            raise FormatError(self.index_path, f"the saved slices of {name!r} do not cover it ({dtype} {list(shape)})")
        return out

    def stored_bytes(self, name: str) -> bytes:
        """The bytes the data shard stores for ``name``, as they are (to copy a tensor byte for byte)."""
        return self._bytes(name, self.entry(name))

    def _checked(self, name: str, check_crc: bool):
        entry = self.entry(name)
        dtype, shape, count = self._validate(name, entry)
        where = self.shard_path(entry.shard_id)
        data = self._bytes(name, entry)
        if dtype == "string":
            return dtype, shape, self._strings(name, entry, data, shape, check_crc, where)
        if check_crc and mask_crc(crc32c(data)) != entry.crc32c:
            raise FormatError(where, f"{name!r} fails its crc32c checksum (file damaged)")
        return dtype, shape, data

    def _validate(self, name: str, entry) -> tuple[str | None, tuple[int, ...], int]:
        """``(dtype, shape, element count)`` of an entry whose every field was checked; nothing read yet.

        An index is as untrusted as the rest of the model: a negative offset
        or size, a shard that does not exist, a dtype we cannot decode or a
        size that does not fit the shape is a FormatError naming the tensor
        and the index, before any seek or read (the shard's own size is
        checked in :meth:`_bytes`).
        """
        index = self.index_path
        dtype = _dtypes.name(entry.dtype)
        shape = self.shape(name)
        if len(entry.slices):
            raise FormatError(index, f"{name!r} is saved in {len(entry.slices)} slices (a partitioned variable): "
                                     "its bytes are those of its slices")
        if not 0 <= entry.shard_id < self.num_shards:
            raise FormatError(index, f"{name!r} names shard {entry.shard_id}, but the checkpoint has "
                                     f"{self.num_shards} (numbered from 0)")
        if entry.offset < 0 or entry.size < 0:
            raise FormatError(index, f"{name!r} has a negative offset or size "
                                     f"(offset {entry.offset}, size {entry.size})")
        if any(d < 0 for d in shape):
            raise FormatError(index, f"{name!r} has a negative dimension in shape {list(shape)}")
        if dtype != "string" and _numpy_dtype(dtype) is None:
            raise FormatError(index, f"{name!r} has dtype {dtype or entry.dtype}, which this reader does not decode")
        count = 1
        for d in shape:
            count *= d
        if dtype == "string":
            # Each string's length takes at least one byte: more strings than bytes cannot be.
            if count > entry.size:
                raise FormatError(index, f"{name!r}: {count:,} strings of shape {list(shape)} "
                                         f"cannot fit in its {entry.size:,} bytes")
        elif count * _numpy_dtype(dtype).itemsize != entry.size:
            raise FormatError(index, f"{name!r}: {entry.size:,} bytes for shape {list(shape)} of {dtype} "
                                     f"(which takes {count * _numpy_dtype(dtype).itemsize:,})")
        return dtype, shape, count

    def _strings(self, name, entry, data: bytes, shape, check_crc: bool, where):
        import numpy as np

        count = 1
        for d in shape:
            count *= d
        pos, lengths = 0, []
        for _ in range(count):
            length, pos = _varint(data, pos, where)
            lengths.append(length)
        if pos + 4 + sum(lengths) != len(data):
            raise FormatError(where, f"{name!r}: string tensor layout does not fit its {len(data)} bytes")
        length_crc = data[pos:pos + 4]
        pos += 4
        values = []
        for length in lengths:
            values.append(data[pos:pos + length])
            pos += length
        if check_crc:
            # Lengths enter the checksum as uint32 (uint64 above 4 GiB), not as varints.
            crc = crc32c(b"".join(struct.pack("<I" if n <= 0xFFFFFFFF else "<Q", n) for n in lengths))
            crc = crc32c(length_crc, crc)
            crc = crc32c(b"".join(values), crc)
            if mask_crc(crc) != entry.crc32c:
                raise FormatError(where, f"{name!r} fails its crc32c checksum (file damaged)")
        out = np.empty(count, dtype=object)
        out[:] = values
        return out.reshape(shape)

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<BundleReader {self.prefix}: {plural(len(self), 'tensor')} in {plural(self.num_shards, 'shard')}>"


def _numpy_dtype(dtype: str | None):
    """The little-endian numpy dtype of a TensorFlow dtype name, or None."""
    np_name = _dtypes.NUMPY.get(dtype or "")
    return _little_endian(np_name) if np_name else _ml_dtype(dtype)


def _ml_dtype(dtype: str | None):
    """bfloat16 and friends come from ml_dtypes (what TensorFlow itself uses), when installed."""
    if dtype not in ("bfloat16", "float8_e5m2", "float8_e4m3fn", "int4", "uint4"):
        return None
    try:
        import ml_dtypes
        import numpy as np
    except ImportError:
        return None
    return np.dtype(getattr(ml_dtypes, dtype))


# --------------------------------------------------------------------------- any checkpoint
def is_v2(prefix) -> bool:
    return Path(str(prefix) + ".index").is_file()
