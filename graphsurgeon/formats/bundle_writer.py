"""Write V2 checkpoints (tensor bundles) without TensorFlow.

A bundle is ``PREFIX.index`` (a LevelDB-format table: the empty key holds a
``BundleHeaderProto``, every tensor name a ``BundleEntryProto`` naming its
shard, offset, size and masked CRC-32C) and ``PREFIX.data-00000-of-00001``
(the tensors' bytes, one after another). TensorFlow's ``BundleReader`` and
:class:`graphsurgeon.formats.bundle.BundleReader` read what this writes.

Tensors are added as raw little-endian bytes, or copied byte for byte from
another bundle with their entry (string tensors and slices included), so a
checkpoint can be rewritten with some values replaced and the rest untouched.

Example:
    >>> with BundleWriter("/tmp/out/model.ckpt") as w:
    ...     w.add("w", "float32", (2,), b"\\0" * 8)
"""
from __future__ import annotations

import struct
from pathlib import Path

from ..vocab import dtypes as _dtypes
from ..vocab import protos
from .bundle import TABLE_MAGIC, crc32c, mask_crc
from .protofile import encode_varint

BLOCK_SIZE = 4096          # LevelDB's default: data blocks are cut past this many bytes
RESTART_INTERVAL = 16      # entries between restart points (prefix compression resets)


def _block(items: list[tuple[bytes, bytes]]) -> bytes:
    """One table block with prefix-compressed keys and its trailer (no compression, masked CRC)."""
    body = bytearray()
    restarts = []
    previous = b""
    for i, (key, value) in enumerate(items):
        if i % RESTART_INTERVAL == 0:
            restarts.append(len(body))
            shared = 0
        else:
            shared = 0
            limit = min(len(previous), len(key))
            while shared < limit and previous[shared] == key[shared]:
                shared += 1
        body += encode_varint(shared) + encode_varint(len(key) - shared) + encode_varint(len(value))
        body += key[shared:] + value
        previous = key
    if not restarts:
        restarts = [0]
    body += b"".join(struct.pack("<I", r) for r in restarts) + struct.pack("<I", len(restarts))
    trailer_type = b"\x00"
    return bytes(body) + trailer_type + struct.pack("<I", mask_crc(crc32c(bytes(body) + trailer_type)))


def _handle(offset: int, size: int) -> bytes:
    return encode_varint(offset) + encode_varint(size)


def table_bytes(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A LevelDB-format table holding ``entries`` (which must be sorted by key, keys unique)."""
    out = bytearray()
    index_items = []
    pending: list[tuple[bytes, bytes]] = []
    pending_size = 0
    for key, value in entries:
        pending.append((key, value))
        pending_size += len(key) + len(value) + 8
        if pending_size >= BLOCK_SIZE:
            block = _block(pending)
            index_items.append((pending[-1][0], _handle(len(out), len(block) - 5)))
            out += block
            pending, pending_size = [], 0
    if pending or not index_items:
        block = _block(pending)
        index_items.append((pending[-1][0] if pending else b"", _handle(len(out), len(block) - 5)))
        out += block
    metaindex = _block([])
    metaindex_handle = _handle(len(out), len(metaindex) - 5)
    out += metaindex
    index = _block(index_items)
    index_handle = _handle(len(out), len(index) - 5)
    out += index
    footer = (metaindex_handle + index_handle).ljust(40, b"\x00") + struct.pack("<Q", TABLE_MAGIC)
    return bytes(out + footer)


class BundleWriter:
    """Write one V2 checkpoint at ``prefix`` (one data shard). Use as a context manager.

    Nothing is readable until :meth:`close` writes the index; on an
    exception inside the ``with`` block the files written so far are removed.
    """

    def __init__(self, prefix):
        self.prefix = str(prefix)
        self.data_path = Path(f"{self.prefix}.data-00000-of-00001")
        self.index_path = Path(f"{self.prefix}.index")
        self._data = open(self.data_path, "wb")
        self._offset = 0
        self._entries: dict[str, bytes] = {}

    def add(self, name: str, dtype: str, shape, data: bytes) -> None:
        """Add a numeric tensor: ``data`` is its little-endian bytes in row-major order."""
        entry = protos.BundleEntryProto(dtype=_dtypes.number(dtype))
        for d in shape:
            entry.shape.dim.add(size=int(d))
        self.add_entry(name, entry, data)

    def add_strings(self, name: str, shape, values) -> None:
        """Add a string tensor: ``values`` are its elements (bytes) in row-major order.

        Stored as TensorFlow's bundle writer stores strings: every length as a
        varint, a masked CRC-32C of the lengths (each as uint32, or uint64
        above 4 GiB), then the bytes; the entry's checksum covers the lengths
        as hashed, their checksum and the bytes.
        """
        values = [bytes(v) for v in values]
        sizes = b"".join(struct.pack("<I" if len(v) <= 0xFFFFFFFF else "<Q", len(v)) for v in values)
        length_crc = struct.pack("<I", mask_crc(crc32c(sizes)))
        body = b"".join(values)
        crc = crc32c(body, crc32c(length_crc, crc32c(sizes)))
        entry = protos.BundleEntryProto(dtype=_dtypes.number("string"))
        for d in shape:
            entry.shape.dim.add(size=int(d))
        data = b"".join(encode_varint(len(v)) for v in values) + length_crc + body
        self.add_entry(name, entry, data, crc=mask_crc(crc))

    def add_entry(self, name: str, entry, data: bytes, crc: int | None = None) -> None:
        """Add ``name`` with a copy of ``entry`` (dtype, shape, slices) and its stored ``data``.

        For a tensor read with :meth:`BundleReader.stored_bytes`, this copies
        it byte for byte; offset, size, shard and CRC are set here (``crc``:
        the masked checksum when it is not the one of ``data``, as for strings).
        """
        if name in self._entries:
            raise ValueError(f"tensor {name!r} added twice")
        out = protos.BundleEntryProto()
        out.CopyFrom(entry)
        out.shard_id = 0
        out.offset = self._offset
        out.size = len(data)
        out.crc32c = mask_crc(crc32c(data)) if crc is None else crc
        self._data.write(data)
        self._offset += len(data)
        self._entries[name] = out.SerializeToString(deterministic=True)

    def close(self) -> None:
        """Write the index; the checkpoint is complete."""
        self._data.flush()
        self._data.close()
        header = protos.BundleHeaderProto(num_shards=1)
        header.version.producer = 1  # TensorFlow's kTensorBundleVersion
        items = [(b"", header.SerializeToString(deterministic=True))]
        items += sorted((name.encode("utf-8", "surrogateescape"), value) for name, value in self._entries.items())
        self.index_path.write_bytes(table_bytes(items))

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None:
            self.close()
            return
        self._data.close()
        for path in (self.data_path, self.index_path):
            path.unlink(missing_ok=True)
