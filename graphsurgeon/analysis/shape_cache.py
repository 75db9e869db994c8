"""Shapes and output dtypes kept on disk, per model content, for the next command on the same model.

Inferring the shapes of a 65,000-op training graph takes about a second of
pure Python; listing the same model again (``ls``, then ``ls PATTERN``,
``show``, ``info``...) would pay it every time. The command line loads its
models with ``gs.load(path, shape_cache=True)``; such a graph, while no edit
has touched it, reads its shapes (and the output dtypes inference worked
out on the way) from here, and writes them here after inferring them.

An entry is found by what it was computed from, never by a path or a
date:

- the SHA-1 of the bytes of the graph file, as read (and, for a SavedModel,
  which MetaGraphDef of it);
- the graph inside it (the top level, or a function body by name);
- the code that computed it: the size and modification time of every source
  file of the installed package (any change to graphsurgeon is a new key).

So an entry cannot be stale: a model that changes has other bytes. A graph
edited in memory (by any of the Graph's editing methods, in the graph or in a
function body) stops using the cache at its first edit; one whose protos are
changed directly, behind the editing methods, must not ask for it (the
library's ``gs.load`` does not, unless told).

Where: ``shapes/`` in graphsurgeon's cache folder (:func:`graphsurgeon.cache.cache_root`:
``$GS_CACHE_DIR``, else ``$XDG_CACHE_HOME/graphsurgeon``, else
``~/.cache/graphsurgeon``); ``GS_CACHE_DIR=`` (empty) turns it off. At most :data:`MAX_MODELS` models are kept (the least recently used
go). The cache is only ever a shortcut: an entry that cannot be read, does
not fit the graph or cannot be written is ignored, and the shapes are
inferred as without it.

A model is one file of records, appended to as its graphs are inferred
(the top level, then any function body asked for): a record holds one
graph's distinct dtype lists and shape lists (a JSON header) and two
unsigned 32-bit indices per op (its dtypes, its shapes) in the graph's node
order, behind a fixed header with the lengths and a CRC-32 of the rest. A
torn or damaged record ends the reading of a file; a graph recorded twice
(two processes at once) is read from its last record.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import sys
import zlib
from array import array
from pathlib import Path

from .. import cache as _cache

# Format of a record; a change makes old files misses.
FORMAT = 2
# Models kept (one file each).
MAX_MODELS = 32
# A model's file stops growing at this size (records of many function bodies).
MAX_FILE = 256 << 20
ENV = _cache.ENV
_MAGIC = b"GSS2"
_FIXED = struct.Struct("<4sIIII")  # magic, name length, header length, body length, CRC-32 of the rest

_code_key: str | None = None
_files: dict = {}  # model file path -> its records, read once per process


def directory() -> Path | None:
    """Where the cache lives, or None when it is turned off."""
    root = _cache.cache_root()
    return None if root is None else root / "shapes"


def code_key() -> str:
    """A digest of the installed graphsurgeon: every source file's path, size and modification time."""
    global _code_key
    if _code_key is None:
        root = Path(__file__).resolve().parent.parent
        h = hashlib.sha1(f"{FORMAT} {sys.version} {sys.byteorder}".encode())
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".pb", ".txt")):
                    st = os.stat(os.path.join(folder, name))
                    h.update(f"{os.path.relpath(os.path.join(folder, name), root)} {st.st_size} "
                             f"{st.st_mtime_ns}\n".encode())
        _code_key = h.hexdigest()
    return _code_key


def model_key(digest: str, meta_index) -> str:
    """The key of a graph file's content (``digest``: SHA-1 of its bytes) and the graph chosen in it."""
    return hashlib.sha1(f"{code_key()} {digest} {meta_index}".encode()).hexdigest()


def _file(key: str) -> Path | None:
    base = directory()
    return None if base is None else base / f"{key[:40]}.shapes"


def _records(path: Path) -> dict:
    """``{graph name: (buffer, start, header length, body length)}``: the last valid record of each graph."""
    found = _files.get(path)
    if found is not None:
        return found
    found = _files[path] = {}
    try:
        data = path.read_bytes()
    except OSError:
        return found
    pos, size = 0, len(data)
    while pos + _FIXED.size <= size:
        magic, name_len, header_len, body_len, crc = _FIXED.unpack_from(data, pos)
        start = pos + _FIXED.size
        end = start + name_len + header_len + body_len
        if magic != _MAGIC or end > size or zlib.crc32(memoryview(data)[start:end]) != crc:
            break  # torn or damaged: what follows is not trusted either
        name = data[start:start + name_len].decode("utf-8", "surrogatepass")
        found[name] = (data, start + name_len, header_len, body_len)
        pos = end
    if found:
        try:
            os.utime(path)  # recently used: kept by _evict
        except OSError:
            pass
    return found


def load(graph, key: str, dtypes: dict) -> dict | None:
    """``{op: [shape per output]}`` of ``graph`` as stored (and each op's output dtypes put in
    ``dtypes``), or None.

    Keyed by the graph's own name strings (no second copy of each name);
    every op gets a list of its own.
    """
    path = _file(key)
    if path is None:
        return None
    record = _records(path).get(graph.function_name or "")
    if record is None:
        return None
    data, start, header_len, body_len = record
    try:
        meta = json.loads(data[start:start + header_len])
        names = graph.node_defs
        count = len(names)
        if meta.get("ops") != count:
            return None
        index = array("I")
        index.frombytes(data[start + header_len:start + header_len + body_len])
        if meta.get("byteorder") != sys.byteorder:
            index.byteswap()
        if len(index) != 2 * count:
            return None
        dtype_table = [list(d) if d is not None else None for d in meta["dtypes"]]
        shape_table = [[None if s is None else tuple(s) for s in shapes] for shapes in meta["shapes"]]
        if index and (max(index[0::2]) >= len(dtype_table) or max(index[1::2]) >= len(shape_table)):
            return None
        shapes, types = {}, []
        it = iter(index)
        for name, d, s in zip(names, it, it):
            types.append(dtype_table[d])
            shapes[name] = list(shape_table[s])
    except (ValueError, TypeError, KeyError, OverflowError):
        return None
    dtypes.update(zip(names, types))
    return shapes


def store(graph, key: str, shapes: dict) -> None:
    """Keep ``graph``'s shapes (and its ops' output dtypes) for the next process; failures are ignored."""
    path = _file(key)
    if path is None:
        return
    try:
        dtype_ids: dict = {}
        shape_ids: dict = {}
        index = array("I")
        output_dtypes = graph.output_dtypes
        for op in graph.node_defs:
            types = output_dtypes(op)
            index.append(dtype_ids.setdefault(None if types is None else tuple(types), len(dtype_ids)))
            index.append(shape_ids.setdefault(tuple(shapes[op]), len(shape_ids)))
        header = json.dumps({"ops": len(graph.node_defs), "byteorder": sys.byteorder,
                             "dtypes": list(dtype_ids), "shapes": list(shape_ids)},
                            separators=(",", ":")).encode()
        name = (graph.function_name or "").encode("utf-8", "surrogatepass")
    except (TypeError, ValueError, KeyError, UnicodeError):  # a shape that is not plain ints (damage)
        return
    body = index.tobytes()
    rest = name + header + body
    record = _FIXED.pack(_MAGIC, len(name), len(header), len(body), zlib.crc32(rest)) + rest
    try:
        fresh = not path.exists()
        if not fresh and path.stat().st_size + len(record) > MAX_FILE:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # One append of the whole record (O_APPEND: concurrent writers do not interleave on a
        # local file system). Not fsynced: a record torn by a crash fails its CRC and is a miss.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, record)
        finally:
            os.close(fd)
    except OSError:
        return
    # Seen by later loads in this process too (the file was read before this record was added).
    _records(path)[name.decode("utf-8", "surrogatepass")] = (rest, len(name), len(header), len(body))
    if fresh:
        _evict(path.parent)


def _evict(base: Path) -> None:
    """Remove the least recently used models beyond :data:`MAX_MODELS`."""
    try:
        entries = [(e.stat().st_mtime_ns, e.path) for e in os.scandir(base) if e.name.endswith(".shapes")]
    except OSError:
        return
    entries.sort()
    for _, path in entries[:max(0, len(entries) - MAX_MODELS)]:
        try:
            os.unlink(path)
        except OSError:
            pass
