"""Reading and writing one protocol buffer file, binary or text, atomically.

Which message a file holds is decided by its content (text files by their
first field name, binary files by which message parses cleanly), with the
extension only as a tie-breaker: a text GraphDef named ``.pb`` is common.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
import threading
from pathlib import Path

from google.protobuf import message as _message

from ..errors import FormatError, OutputError
from ..vocab import protos

# Protocol buffers refuse to serialise messages of 2 GiB or more.
PROTO_LIMIT = 2**31 - 1
# upb's default recursion limit when parsing binary messages.
NESTING_LIMIT = 100

KINDS = ("graphdef", "meta", "savedmodel")


def message_class(kind: str):
    return {"graphdef": protos.GraphDef, "meta": protos.MetaGraphDef}.get(kind) or protos.SavedModel


# The first field name of a text file tells which message it is.
_TEXT_FIELDS = {
    "node": "graphdef", "library": "graphdef", "versions": "graphdef", "version": "graphdef",
    "debug_info": "graphdef",
    "meta_info_def": "meta", "graph_def": "meta", "saver_def": "meta", "collection_def": "meta",
    "signature_def": "meta", "asset_file_def": "meta", "object_graph_def": "meta",
    "saved_model_schema_version": "savedmodel", "meta_graphs": "savedmodel",
}
# Where the first line that is neither blank nor a ``#`` comment starts its
# content. One pass with no nested repetition: linear in the file size, and
# memory stays flat however many comment lines come first (an alternation
# under ``*`` backtracks exponentially on a file of comments and junk).
_FIRST_CONTENT = re.compile(rb"^[ \t\r\f\v]*[^#\s]", re.M)
# A field name, then blanks, then what opens its value. Bounded: field names
# are short, so a long run of letters is not worth matching to the end.
_FIELD = re.compile(rb"([A-Za-z_][A-Za-z0-9_]{0,63})[ \t\r\n\f\v]*[:{<]")
_FIELD_WINDOW = 1024


def sniff_text(data: bytes) -> str | None:
    """Kind of a text-format file (``graphdef``/``meta``/``savedmodel``) or None if not text.

    Leading blank and ``#`` comment lines are skipped, however many there
    are; the first field name decides.
    """
    if b"\0" in data[:65536]:
        return None
    content = _FIRST_CONTENT.search(data)
    if content is None:
        return None
    start = content.end() - 1
    match = _FIELD.match(data[start:start + _FIELD_WINDOW])
    if not match:
        return None
    return _TEXT_FIELDS.get(match.group(1).decode("ascii"))


def _top_level_fields(data: bytes, limit: int = 64) -> list[tuple[int, int]] | None:
    """(field number, wire type) of the first top-level fields, or None if not protobuf."""
    fields = []
    pos, end = 0, len(data)
    while pos < end and len(fields) < limit:
        key, pos = _varint(data, pos)
        if key is None:
            return None
        number, wire = key >> 3, key & 7
        if number == 0:
            return None
        if wire == 0:
            _, pos = _varint(data, pos)
            if pos is None:
                return None
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            if length is None:
                return None
            pos += length
        elif wire == 5:
            pos += 4
        else:
            return None
        if pos > end:
            return None
        fields.append((number, wire))
    return fields


def encode_varint(n: int) -> bytes:
    """``n`` (>= 0) as a protocol buffer / LevelDB base-128 varint."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _varint(data: bytes, pos: int) -> tuple[int | None, int | None]:
    """The varint at ``pos`` and the position after it; ``(None, None)`` when cut short or longer than 64 bits."""
    result = shift = 0
    while pos < len(data) and shift < 70:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    return None, None


def sniff_binary(data: bytes, prefer: str | None = None) -> str | None:
    """Best guess of which message a binary file holds, by its top-level fields."""
    fields = _top_level_fields(data)
    if not fields:
        return None
    numbers = {n for n, _ in fields}
    wires = dict(fields)
    if wires.get(1) == 0 and numbers <= {1, 2}:
        return "savedmodel"
    # Field numbers we do not know are fields a newer TensorFlow added: they
    # are kept as unknown fields; the ones we know decide.
    known = numbers & {1, 2, 3, 4, 5, 6, 7}
    if not known or 2 not in known and 1 not in known:
        return None
    if known & {6, 7}:
        return "meta"
    numbers = known
    if sum(1 for n, _ in fields if n == 1) > 1:
        return "graphdef"  # many nodes; a MetaGraphDef has one meta_info_def
    if wires.get(3) == 0:
        return "graphdef"  # the deprecated GraphDef.version varint
    if any(n in (3, 4, 5) and wires[n] == 2 for n in numbers) and 2 in numbers and prefer != "graphdef":
        return "meta"
    return prefer or ("meta" if 2 in numbers else "graphdef")


def read_message(path: Path, expect: str | None = None):
    """Read a protobuf file; returns ``(kind, message, encoding)``.

    ``expect`` is the kind the caller's context suggests (from a file name);
    the content decides when it disagrees.
    """
    return decode_message(read_file(path), path, expect)


def decode_message(data: bytes, path, expect: str | None = None):
    """:func:`read_message` of bytes already read (an archive's member): ``path`` names them in errors."""
    if not data:
        raise FormatError(path, "file is empty")
    other = other_kind(data)
    if other is not None:
        raise FormatError(path, f"is {other}, not a TensorFlow graph")
    kind = sniff_text(data)
    if kind is not None:
        return kind, parse_text(path, data, kind), "text"
    kind = sniff_binary(data, prefer=expect)
    if kind is None:
        raise FormatError(path, "not a TensorFlow graph file (neither binary nor text protocol buffer)")
    tried = [kind] + [k for k in (expect, "graphdef", "meta", "savedmodel") if k and k != kind]
    first_error = None
    for candidate in dict.fromkeys(tried):
        try:
            msg = parse_binary(data, candidate)
        except _message.DecodeError as exc:
            first_error = first_error or exc
            continue
        if _plausible(candidate, msg):
            return candidate, msg, "binary"
    if first_error is not None and "MaxDepth" in str(first_error):
        raise FormatError(path, f"messages nested more than {NESTING_LIMIT} deep: protocol buffers "
                                "refuse to parse it (recursion limit)")
    reason = "truncated or damaged" if first_error else "does not hold a graph"
    raise FormatError(path, f"not a readable TensorFlow graph file ({reason})")


# Files larger than this are hashed in a thread while they parse (hashlib releases the GIL).
_HASH_BESIDE = 4 << 20


def read_message_digest(path: Path, expect: str | None = None, digest: bool = False):
    """:func:`read_message`, and the SHA-1 of the bytes read (hex; None unless ``digest``).

    What a model's derived facts are cached under (:mod:`graphsurgeon.analysis.shape_cache`):
    the bytes as read, so a file that changes is another entry.
    """
    data = read_file(path)
    if not digest:
        return (*decode_message(data, path, expect), None)
    if len(data) < _HASH_BESIDE:
        return (*decode_message(data, path, expect), hashlib.sha1(data).hexdigest())
    box: list = []
    worker = threading.Thread(target=lambda: box.append(hashlib.sha1(data).hexdigest()), daemon=True)
    worker.start()
    try:
        decoded = decode_message(data, path, expect)
    finally:
        worker.join()
    return (*decoded, box[0] if box else None)


def open_regular(path):
    """Open ``path`` for binary reading if it is a regular file; FormatError naming it otherwise.

    Every read of a model's files goes through here. A FIFO would block the
    open (or the read) forever and a device never ends (``/dev/zero``), so
    the path is checked with ``stat`` before it is opened, and opened
    non-blocking and checked again with ``fstat``: a file swapped for a pipe
    in between is refused too, never waited on.
    """
    path = Path(path)
    try:
        _check_regular(path, path.stat().st_mode)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FormatError(path, "no such file") from None
    except OSError as exc:
        raise FormatError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        _check_regular(path, os.fstat(fd).st_mode)
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_regular(path: Path, mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise FormatError(path, "is a directory, expected a file")
    if not stat.S_ISREG(mode):
        raise FormatError(path, "is not a regular file (a device, pipe or socket)")


def read_file(path, limit: int | None = None) -> bytes:
    """The bytes of a regular file (FormatError naming it otherwise).

    Devices and pipes are refused (:func:`open_regular`), and so is anything
    over ``limit`` bytes (by default :data:`PROTO_LIMIT`, which no protocol
    buffer can exceed).
    """
    path = Path(path)
    proto = limit is None
    limit = PROTO_LIMIT if proto else limit
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            if proto:
                raise FormatError(path, f"{size:,} bytes: over the 2 GiB protocol buffer limit "
                                        f"({PROTO_LIMIT:,} bytes), so it cannot hold one graph message")
            raise FormatError(path, f"{size:,} bytes: over the {limit:,} bytes a file of this kind may hold")
        try:
            return handle.read()
        except OSError as exc:
            raise FormatError(path, f"cannot read: {exc.strerror or exc}") from None


# Signatures of files people pass by mistake: say what they are.
_MAGIC = ((b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"PK\x03\x04", "a zip archive (a Keras .keras file?)"), (b"\x1f\x8b", "a gzip file (unpack it first)"),
          (b"\x89HDF\r\n\x1a\n", "an HDF5 file (Keras .h5 weights?)"), (b"%PDF", "a PDF document"),
          (b"\x7fELF", "an executable"), (b"\x80\x02", "a Python pickle"), (b"\x80\x03", "a Python pickle"),
          (b"\x80\x04", "a Python pickle"), (b"\x80\x05", "a Python pickle"))


def other_kind(data: bytes) -> str | None:
    """What a file is when it is plainly not a protocol buffer (an image, an archive, JSON...), else None."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            return what
    if data[4:8] == b"TFL3":
        return "a TensorFlow Lite model"
    head = data[:4096].lstrip()
    if head[:1] in (b"{", b"[") and b"\0" not in head:
        try:
            json.loads(data.decode("utf-8"))
            return "a JSON file"
        except ValueError:
            return None
    return None


def _plausible(kind: str, msg) -> bool:
    if kind == "graphdef":
        return all(node.op for node in msg.node) and (len(msg.node) > 0 or msg.HasField("library")
                                                      or msg.HasField("versions"))
    if kind == "meta":
        return msg.HasField("graph_def") or msg.HasField("meta_info_def")
    return len(msg.meta_graphs) > 0


def parse_binary(data: bytes, kind: str):
    msg = message_class(kind)()
    msg.ParseFromString(data)
    return msg


def parse_text(path, data: bytes, kind: str):
    from google.protobuf import text_format

    msg = message_class(kind)()
    try:
        text_format.Parse(data.decode("utf-8"), msg, allow_unknown_field=False)
    except UnicodeDecodeError:
        raise FormatError(path, "text graph is not valid UTF-8") from None
    except text_format.ParseError as exc:
        raise FormatError(path, f"text graph does not parse: {exc}") from None
    except (RecursionError, _message.DecodeError):
        # The text parser recurses once per nesting level (no depth limit of its own).
        raise FormatError(path, "text graph nests messages too deeply to parse (recursion limit)") from None
    return msg


def serialize(msg, encoding: str = "binary", path=None) -> bytes:
    from google.protobuf import text_format

    if encoding == "text":
        try:
            return text_format.MessageToString(msg).encode("utf-8")
        except (RecursionError, _message.DecodeError):
            raise OutputError(f"{path or 'graph'}: nests messages too deeply to write as text",
                              hint="write it binary") from None
    # Serialized once, then measured: upb's ByteSize() encodes the message to count it,
    # which would cost a second pass and a second copy of a large graph in memory.
    data = msg.SerializeToString(deterministic=True)
    if len(data) > PROTO_LIMIT:
        raise OutputError(f"{path or 'graph'}: {len(data):,} bytes exceeds the 2 GiB protocol buffer limit",
                          hint="prune the graph or keep large constants in a checkpoint")
    return data


def streamable(msg, encoding: str) -> bool:
    """Whether :func:`write_graph_def` can write ``msg`` (a binary GraphDef without unknown top-level fields)."""
    from google.protobuf import unknown_fields

    return encoding == "binary" and msg.DESCRIPTOR.full_name.endswith(".GraphDef") and \
        not len(unknown_fields.UnknownFieldSet(msg))


def write_graph_def(handle, graph_def, path=None) -> int:
    """Write a GraphDef's binary form to ``handle`` one node at a time; returns the bytes written.

    Byte for byte what ``SerializeToString(deterministic=True)`` gives (the
    nodes are field 1, written first; the rest follows in field order),
    without holding the whole serialization in memory beside the graph: a
    frozen graph of a few hundred MB then costs one node's bytes, not twice
    its size. Refuses (OutputError) past the 2 GiB protocol buffer limit.
    """
    total = 0
    tag = encode_varint(1 << 3 | 2)
    for node in graph_def.node:
        body = node.SerializeToString(deterministic=True)
        head = tag + encode_varint(len(body))
        total += len(head) + len(body)
        if total > PROTO_LIMIT:
            raise OutputError(f"{path or 'graph'}: exceeds the 2 GiB protocol buffer limit",
                              hint="prune the graph or keep large constants in a checkpoint")
        handle.write(head)
        handle.write(body)
    rest = type(graph_def)()
    for field, value in graph_def.ListFields():
        if field.name != "node":
            getattr(rest, field.name).CopyFrom(value) if field.message_type else setattr(rest, field.name, value)
    tail = rest.SerializeToString(deterministic=True)
    total += len(tail)
    if total > PROTO_LIMIT:
        raise OutputError(f"{path or 'graph'}: exceeds the 2 GiB protocol buffer limit",
                          hint="prune the graph or keep large constants in a checkpoint")
    handle.write(tail)
    return total


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"


def temp_prefix(name: str) -> str:
    """Prefix of the hidden temporaries written beside ``name``: ``.NAME.HOST-PID.``.

    Host and process id say whose they are, so that a later write can tell
    the leftovers of a killed writer (see :func:`sweep_stale`) from the
    temporaries of one still running, here or on another host sharing the folder.
    """
    return f".{name}.{_host()}-{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or not a pid we can ask about: leave its files
    return True


def sweep_stale(directory: Path, name: str) -> list[Path]:
    """Remove the temporaries that killed writers of ``name`` left in ``directory``; returns them.

    Only files and folders named by :func:`temp_prefix` for this host whose
    process is gone are removed; anything else is left alone. Best effort:
    what cannot be removed stays.
    """

    mine = f".{name}.{_host()}-"
    removed = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not (entry.name.startswith(mine) and entry.name.endswith((".tmp", ".old"))):
            continue
        pid_text = entry.name[len(mine):].split(".", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _alive(int(pid_text)):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def atomic_copy(source, path: Path) -> None:
    """Copy the regular file ``source`` to ``path`` the way :func:`atomic_write` writes (streamed, any size)."""

    with open_regular(source) as handle:
        atomic_write(path, lambda out: shutil.copyfileobj(handle, out, 1 << 20))


def atomic_write(path: Path, data, temp_stem: str | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory, fsynced, then renamed.

    ``data`` is bytes, or a function that writes into the open file.
    ``temp_stem`` names the temporaries instead of ``path``'s name (for
    directories watched by tools that match names, like TensorBoard).
    Leftovers of writers of the same ``path`` that were killed before they
    could clean up are removed first (:func:`sweep_stale`). Every file
    graphsurgeon writes goes through here.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise OutputError(f"{path}: directory {directory} does not exist")

    stem = temp_stem or path.name
    sweep_stale(directory, stem)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(stem), suffix=".tmp", dir=directory)
    try:
        # mkstemp makes 0600 files; give the result the mode a plain open() would.
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as handle:
            if callable(data):
                data(handle)
            else:
                handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported.

    Replacing a directory with ``rename`` needs two steps (old one aside, new
    one in), and a kill between them leaves no directory at all; an exchange
    leaves either the old or the new one, whatever the moment.
    """

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # glibc before 2.28, or no libc found
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (22, 38, 95):  # EINVAL/ENOSYS/EOPNOTSUPP: this file system or kernel cannot
        return False
    raise OSError(err, os.strerror(err), str(b))
