"""Hostile models: structurally valid files built to hang, exhaust memory, or inject escapes and markup.

Issue 18's classes, each a few :class:`Case` s that write their files with
the TF-free protos and name the CLI commands to run on them:

1. text sniffing: ``#`` comment lines by the hundred thousand, then a graph or junk;
2. deep name scopes (3,000 and 50,000 levels);
3. exponential function inlining (a function calling itself twice, a chain whose calls double);
4. FIFOs, sockets and devices where a model's files should be;
5. checkpoint entries with negative or out-of-range offsets, sizes, shards, dtypes, shapes;
6. snappy blocks that claim 2^40 bytes or expand 21 times, and a 24 MB compressed index;
7. planted modules (run by ``tests/test_hostile.py`` itself: it needs a server);
8. terminal escape sequences in names, types, devices, attributes, tags, collection keys;
9. DOT and SVG markup in names;

and what already holds: cycles, dangling inputs, duplicate names, huge
dims and constants, recursive functions, deep nesting, path traversal,
symlinks, a million nodes.

Each command runs in its own process under ``RLIMIT_AS`` and a timeout
(:func:`run`), and :func:`problems` holds it to issue 18's rule: exit 0 with
a correct answer, or exit 1/2 with exactly one stderr line starting with
``error:``; never a hang, a signal, a MemoryError, an ``internal error``, a
raw control character, or markup that came from a name.

Kept free of pytest so that it can be run by hand::

    python tests/hostile.py build /tmp/hostile     # write every case's files
"""
from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import fuzzlib  # noqa: E402

MEMORY_LIMIT = 4 * 2**30
FIXTURES = ROOT / "fixtures" / "models"
# The sequences of issue 18, class 8: clear the screen, colour, bell, backspace,
# carriage return, NUL, C1 CSI, a right-to-left override, and a forged line.
# (No NUL here: a name with NUL cannot be passed on a command line; NUL_ESCAPES goes elsewhere.)
ESCAPES = "\x1b[2J\x1b[31mRED\x07\x08\r\x9b\u202e"
NUL_ESCAPES = ESCAPES + "\x00"
FORGED = "\nforged: line"
# Class 9: a name that a DOT writer passing names through as IDs turns into markup.
INJECTION = '<a> [URL="javascript:alert(1)" label="INJECTED"]; evilnode [image="passwd" URL="javascript:alert(2)"]; <b>'
OWNED = "owned by the rendering/freeze work"


@dataclass
class Case:
    """One hostile model and the commands to run on it.

    Attributes:
        name: the test id.
        kind: the issue 18 class (``"1 text sniffing"``, ... ``"holds: cycles"``).
        build: writes the files under the given directory; returns the MODEL path.
        commands: CLI argument lists; ``{model}`` is the MODEL path, ``{out}`` a
            fresh output path for that command, ``{dir}`` the case's directory.
        expect: ``"ok"`` (exit 0), ``"error"`` (exit 1 or 2), ``"any"``, or a
            function of ``(args, stdout)`` returning a problem or None, checked on exit 0.
        timeout: seconds per command.
        long: only in the ``--hostile`` long mode.
        owner: when set, the case is someone else's to fix (marked xfail where it fails).
        after: a check of the case's directory after all commands (e.g. nothing written outside).
        stderr: a regular expression the ``error:`` line must match when a command fails.
    """

    name: str
    kind: str
    build: Callable[[Path], Path]
    commands: list[list[str]]
    expect: object = "any"
    timeout: float = 30
    long: bool = False
    owner: str | None = None
    after: Callable[[Path], str | None] | None = None
    stderr: str | None = None


CASES: list[Case] = []


def case(name, kind, commands, **kw):
    """Register the decorated builder as a :class:`Case`."""
    def register(build):
        CASES.append(Case(name, kind, build, commands, **kw))
        return build
    return register


# ----------------------------------------------------------------------------- running and judging
def run(args: list[str], timeout: float, cwd=None) -> subprocess.CompletedProcess | None:
    """``graphsurgeon ARGS`` in a child under :data:`MEMORY_LIMIT`; None when it outlived ``timeout``.

    Bytes, not text: the check for raw control characters looks at what a terminal would get.
    """
    try:
        return fuzzlib.cli_bounded(args, timeout=timeout, memory=MEMORY_LIMIT, text=False, cwd=cwd)
    except subprocess.TimeoutExpired:
        return None


# C0 controls but \t and \n, DEL, and C1 controls (as UTF-8 or as lone bytes).
_RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\udc80-\udc9f]")


def raw_controls(data: bytes) -> list[str]:
    """The control characters in ``data`` that a terminal would act on (as reprs)."""
    return sorted({repr(m.group()) for m in _RAW_CONTROL.finditer(data.decode("utf-8", "surrogateescape"))})


def problems(args: list[str], proc, expect="any") -> list[str]:
    """Everything issue 18's pass rule finds wrong with one command's run (empty: it passed)."""
    if proc is None:
        return ["hang: still running at the timeout"]
    out, err = proc.stdout, proc.stderr
    text = err.decode("utf-8", "replace")
    found = []
    if proc.returncode < 0:
        found.append(f"killed by signal {-proc.returncode}")
    for marker in ("internal error", "Traceback", "MemoryError", "out of memory", "RecursionError"):
        if marker in text:
            found.append(f"{marker!r} on stderr: {text.strip()[:300]}")
    for stream, data in (("stdout", out), ("stderr", err)):
        controls = raw_controls(data)
        if controls:
            found.append(f"raw control characters on {stream}: {', '.join(controls)}")
    differs = args[0] == "diff" and proc.returncode == 1 and not err.strip()
    if proc.returncode not in (0, 1, 2) and proc.returncode >= 0:
        found.append(f"exit status {proc.returncode}")
    elif proc.returncode in (1, 2) and not differs:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) != 1 or not lines[0].startswith("error: "):
            found.append(f"exit {proc.returncode} without exactly one 'error:' line: {text.strip()[:300]!r}")
    if expect == "ok" and proc.returncode != 0:
        found.append(f"expected success, got exit {proc.returncode}: {text.strip()[:300]}")
    elif expect == "error" and proc.returncode == 0:
        found.append("expected a clean error, but the command succeeded")
    elif callable(expect) and proc.returncode == 0 and not found:
        wrong = expect(args, out.decode("utf-8", "replace"))
        if wrong:
            found.append(f"wrong answer: {wrong}")
    return found


def markup_problems(path: Path) -> list[str]:
    """Markup that came from a name in a rendered SVG or DOT file (DOT is laid out with ``dot`` first)."""
    import shutil
    import xml.etree.ElementTree as ET

    path = Path(path)
    if not path.is_file():
        return []
    data = path.read_bytes()
    if path.suffix == ".dot":
        dot = shutil.which("dot")
        if dot is None:
            return []
        proc = subprocess.run([dot, "-Tsvg"], input=data, capture_output=True, timeout=60)
        if proc.returncode != 0:
            return [f"DOT output does not parse: {proc.stderr.decode('utf-8', 'replace').strip()[:200]}"]
        data = proc.stdout
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        return [f"SVG is not well-formed XML: {exc}"]
    found = []
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag in ("script", "image", "foreignObject"):
            found.append(f"<{tag}> element")
        for key, value in element.attrib.items():
            if value.strip().lower().startswith("javascript:"):
                found.append(f"{key}={value!r}")
        if tag == "title" and (element.text or "").strip() in ("evilnode", "INJECTED"):
            found.append(f"node {element.text!r} came from a name")
    return found


# ----------------------------------------------------------------------------- building blocks
def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _text(message) -> bytes:
    from google.protobuf import text_format

    return text_format.MessageToString(message).encode("utf-8")


def _node(gd, name, op, inputs=(), **attrs):
    return fuzzlib._node(gd, name, op, inputs, **attrs)


def _placeholder(gd, name="x"):
    return _node(gd, name, "Placeholder", dtype=fuzzlib._type(1))


def variable_meta(var="weights", shape=(2, 2)):
    """A MetaGraphDef with one float variable ``var`` read by ``out`` (what freeze needs)."""
    from graphsurgeon.vocab import protos

    meta = protos.MetaGraphDef()
    meta.meta_info_def.tensorflow_version = "2.21.0"
    gd = meta.graph_def
    gd.versions.producer = 1000
    v = _node(gd, var, "VariableV2", dtype=fuzzlib._type(1))
    for d in shape:
        v.attr["shape"].shape.dim.add(size=d)
    _node(gd, f"{var}/read", "Identity", [var], T=fuzzlib._type(1))
    _node(gd, "out", "Identity", [f"{var}/read"], T=fuzzlib._type(1))
    return meta


def entry(dtype=1, shape=(2, 2), offset=0, size=16, shard=0, data=b""):
    """A BundleEntryProto (crc of ``data`` when given)."""
    from graphsurgeon.formats.bundle import crc32c, mask_crc
    from graphsurgeon.vocab import protos

    e = protos.BundleEntryProto(dtype=dtype, offset=offset, size=size, shard_id=shard,
                                crc32c=mask_crc(crc32c(data)) if data else 0)
    for d in shape:
        e.shape.dim.add(size=d)
    return e


def write_checkpoint(prefix: Path, entries: dict, data: bytes, num_shards: int = 1, compress=None) -> None:
    """``prefix.index`` (entries by name, valid checksums) and ``prefix.data-00000-of-0000N``."""
    from graphsurgeon.vocab import protos

    header = protos.BundleHeaderProto(num_shards=num_shards)
    items = [(b"", header.SerializeToString())] + sorted(
        (name.encode("utf-8"), e.SerializeToString()) for name, e in entries.items())
    _write(Path(f"{prefix}.index"), fuzzlib.write_table(items, compress=compress))
    _write(Path(f"{prefix}.data-00000-of-{num_shards:05d}"), data)


def checkpointed_meta(directory: Path, edit=None, compress=None) -> Path:
    """``model.ckpt.meta`` + a V2 checkpoint of ``weights`` ([2, 2] float32); ``edit(entry)`` damages it."""
    meta = variable_meta()
    model = _write(directory / "model.ckpt.meta", meta.SerializeToString())
    data = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    e = entry(data=data)
    if edit:
        edit(e)
    write_checkpoint(directory / "model.ckpt", {"weights": e}, data, compress=compress)
    return model


def _freeze(model="{model}"):
    return ["freeze", model, "--outputs", "out", "-o", "{out}.pb"]


def _savedmodel_copy(directory: Path) -> Path:
    import shutil

    src = FIXTURES / "mnist_bn_elu_savedmodel_tf1"
    shutil.copytree(src, directory / "model", symlinks=True)
    return directory / "model"


# ----------------------------------------------------------------------------- snappy, for the tests
def snappy_compress(data: bytes) -> bytes:
    """Raw snappy of ``data``: greedy matches of 4-byte prefixes, skipping ahead on misses as snappy does.

    Slow (pure Python) but what a real compressor emits: literals and copies of 4 to 64 bytes.
    """
    from graphsurgeon.formats.protofile import encode_varint

    out = bytearray(encode_varint(len(data)))

    def literal(chunk):
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        else:
            width = (n.bit_length() + 7) // 8
            out.append((59 + width) << 2)
            out.extend(n.to_bytes(width, "little"))
        out.extend(chunk)

    def copy(offset, length):
        while length > 0:
            n = min(length, 64)
            if 64 < length < 68:
                n = length - 4  # leave at least 4 for the last copy
            if 4 <= n <= 11 and offset < 2048:
                out.extend((((offset >> 8) << 5) | ((n - 4) << 2) | 1, offset & 0xFF))
            else:
                out.append(((n - 1) << 2) | 2)
                out.extend(offset.to_bytes(2, "little"))
            length -= n

    table: dict = {}
    i = pending = 0
    skip = 32
    n = len(data)
    while i + 4 <= n:
        key = data[i:i + 4]
        candidate = table.get(key)
        table[key] = i
        if candidate is not None and i - candidate < 65536:
            length = 4
            while i + length < n and length < 4096 and data[candidate + length] == data[i + length]:
                length += 1
            if pending < i:
                literal(data[pending:i])
            copy(i - candidate, length)
            i += length
            pending = i
            skip = 32
        else:
            i += skip >> 5
            skip += 1
    if pending < n:
        literal(data[pending:])
    return bytes(out)


def _overlapping_copies(mb: float) -> bytes:
    """A snappy block that expands 21 times: one literal byte, then copies of 64 bytes at offset 1."""
    from graphsurgeon.formats.protofile import encode_varint

    n = int(mb * 1e6 / 3)
    return encode_varint(1 + 64 * n) + b"\x00a" + bytes([(63 << 2) | 2, 1, 0]) * n


def index_entries(count: int) -> dict:
    """``count`` tensors with realistic names and entries (for a large index)."""
    import hashlib
    import random

    rng = random.Random(2)
    out = {}
    for i in range(count):
        h = hashlib.sha1(str(i).encode()).hexdigest()[:rng.randrange(4, 24)]
        e = entry(dtype=rng.choice([1, 3, 9]), shape=[rng.randrange(1, 5000) for _ in range(rng.randrange(1, 4))])
        e.offset, e.size, e.crc32c = rng.getrandbits(34), rng.getrandbits(20), rng.getrandbits(32)
        out[f"model/{h}/layer_{i % 97}/kernel_{rng.randrange(1000)}/.ATTRIBUTES/VARIABLE_VALUE"] = e
    return out


# ============================================================================= 1. text sniffing
def _graph_text() -> bytes:
    return _text(fuzzlib.small_graph())


def _lists_x(args, out):
    return None if any(line.split()[:2] == ["x", "Placeholder"] for line in out.splitlines()) else \
        "the graph's Placeholder x is not listed"


@case("comments_then_junk_40", "1 text sniffing", [["ls", "{model}"], ["info", "{model}"]],
      expect="error", timeout=10)
def _(d):
    return _write(d / "junk.pbtxt", b"# c\n" * 40 + b"!!junk")


@case("comments_100k_then_graph", "1 text sniffing", [["ls", "{model}"], ["info", "{model}"]],
      expect=lambda args, out: _lists_x(args, out) if args[0] == "ls" else None, timeout=10)
def _(d):
    return _write(d / "graph.pbtxt", b"# a comment line\n" * 100_000 + _graph_text())


@case("comments_100k_then_junk", "1 text sniffing", [["ls", "{model}"]], expect="error", timeout=10)
def _(d):
    return _write(d / "junk.pb", b"#\n" * 100_000 + b"node { !! junk")


@case("blank_lines_then_graph_as_pb", "1 text sniffing", [["ls", "{model}"]], expect=_lists_x, timeout=10)
def _(d):
    return _write(d / "graph.pb", b"  \r\n\t# one\n" * 20_000 + b" \n" * 50_000 + _graph_text())


@case("one_comment_line_of_8mb", "1 text sniffing", [["ls", "{model}"]], expect="error", timeout=10)
def _(d):
    return _write(d / "junk.pbtxt", b"#" + b"# (" * 2_800_000)


# ============================================================================= 2. deep name scopes
def deep_graph(levels: int, part: str = "s"):
    """Ops at 1, ``levels`` / 2 and ``levels`` levels deep, in a chain (a variable at the bottom)."""
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    gd.versions.producer = 1000
    _placeholder(gd)
    deep = "/".join([part] * levels)
    mid = "/".join([part] * (levels // 2))
    _node(gd, f"{mid}/mid", "Identity", ["x"], T=fuzzlib._type(1))
    _node(gd, f"{deep}/op", "Identity", [f"{mid}/mid"], T=fuzzlib._type(1))
    _node(gd, f"{deep}/op2", "Relu", [f"{deep}/op"], T=fuzzlib._type(1))
    var = _node(gd, f"{deep}/kernel", "VariableV2", dtype=fuzzlib._type(1))
    var.attr["shape"].shape.dim.add(size=3)
    return gd


def _tree_of(levels: int):
    def check(args, out):
        lines = out.splitlines()
        if "--json" in args:
            return None if '"tree"' in out else "no tree in the JSON"
        if not lines or lines[0] != "5 ops  3 params":
            return f"header {lines[:1]}"
        if len(lines) != 2 + levels:
            return f"{len(lines)} lines, expected {2 + levels}"
        if not lines[-1].endswith("s/  3 ops  3 params"):
            return f"last line {lines[-1][-60:]!r}"
        return None
    return check


@case("deep_scopes_3k", "2 deep name scopes",
      [["ls", "--tree", "{model}"], ["ls", "{model}"], ["ls", "--tree", "--json", "{model}"],
       ["ls", "--tree", "--json", "--depth", "5", "{model}"], ["info", "{model}"], ["layers", "{model}"],
       ["diff", "{model}", "{model}"], ["prune", "{model}", "--outputs", "DEEP/op2", "-o", "{out}.pb"]],
      expect=lambda args, out: _tree_of(3000)(args, out) if "--tree" in args else None, timeout=10)
def _(d):
    return _write(d / "deep.pb", deep_graph(3000).SerializeToString())


@case("deep_scopes_50k_tree", "2 deep name scopes", [["ls", "--tree", "{model}"], ["ls", "--tree", "--json", "{model}"],
                                                     ["info", "{model}"]],
      expect=lambda args, out: _tree_of(50_000)(args, out) if "--tree" in args else None, timeout=10)
def _(d):
    return _write(d / "deep.pb", deep_graph(50_000).SerializeToString())


# Issue 18 asks for render of 3,000 levels in under 10 s: the timeout is the target.
@case("deep_scopes_3k_render", "2 deep name scopes (render)", [["render", "{model}", "-o", "{out}.svg"]],
      timeout=10)
def _(d):
    return _write(d / "deep.pb", deep_graph(3000).SerializeToString())


@case("deep_scopes_3k_render_all", "2 deep name scopes (render)",
      [["render", "{model}", "--depth", "0", "-o", "{out}.svg"], ["render", "{model}", "--format", "dot", "-o",
                                                                  "{out}.dot"]],
      timeout=10, long=True)
def _(d):
    return _write(d / "deep.pb", deep_graph(3000).SerializeToString())


@case("deep_scopes_50k_render", "2 deep name scopes (render)", [["render", "{model}", "-o", "{out}.svg"]],
      timeout=10, long=True)
def _(d):
    return _write(d / "deep.pb", deep_graph(50_000).SerializeToString())


# ============================================================================= 3. exponential inlining
def _function(library, name, calls=(), via_call_op=True):
    """A float -> float function calling each of ``calls`` on its argument (chained), plus itself once each."""
    f = library.function.add()
    f.signature.name = name
    f.signature.input_arg.add(name="a", type=1)
    f.signature.output_arg.add(name="r", type=1)
    previous = "a"
    for i, callee in enumerate(calls):
        node = f.node_def.add(name=f"call{i}", op="PartitionedCall" if via_call_op else callee, input=[previous])
        if via_call_op:
            node.attr["f"].func.name = callee
            node.attr["Tin"].list.type.append(1)
            node.attr["Tout"].list.type.append(1)
            previous = f"call{i}:output:0"
        else:
            previous = f"call{i}:r:0"
    f.ret["r"] = previous
    return f


def _calling_graph(build_library):
    meta = variable_meta()
    gd = meta.graph_def
    top = build_library(gd.library)
    call = _node(gd, "call", "PartitionedCall", ["weights/read"])
    call.attr["f"].func.name = top
    call.attr["Tin"].list.type.append(1)
    call.attr["Tout"].list.type.append(1)
    next(n for n in gd.node if n.name == "out").input[0] = "call:0"
    return meta


def _inlining_case(d, build_library):
    meta = _calling_graph(build_library)
    model = _write(d / "model.ckpt.meta", meta.SerializeToString())
    data = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    write_checkpoint(d / "model.ckpt", {"weights": entry(data=data)}, data)
    return model


# The bound on inlining work is checked on the call graph before anything is inlined: an error at once.
@case("inline_self_call_twice", "3 exponential inlining", [_freeze()], timeout=5)
def _(d):
    return _inlining_case(d, lambda lib: _function(lib, "f", ["f", "f"]).signature.name)


@case("inline_doubling_chain_40", "3 exponential inlining", [_freeze()], timeout=5)
def _(d):
    def library(lib):
        for level in range(40):
            _function(lib, f"f{level}", [f"f{level + 1}"] * 2)
        _function(lib, "f40")
        return "f0"
    return _inlining_case(d, library)


# ============================================================================= 4. special files
def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


@case("fifo_checkpoint_prefix", "4 special files",
      [["ls", "{dir}/m"], ["ls", "{model}"], ["info", "{model}"], ["ls", "{dir}/m/model.ckpt"], _freeze()],
      timeout=10)
def _(d):
    model = _write(d / "m" / "model.ckpt.meta", variable_meta().SerializeToString())
    _fifo(d / "m" / "model.ckpt")
    _write(d / "m" / "checkpoint", b'model_checkpoint_path: "model.ckpt"\n')
    return model


@case("fifo_as_model", "4 special files",
      [["ls", "{dir}/graph.pb"], ["ls", "{dir}/graph"], ["ls", "{dir}/graph.meta"], ["ls", "{dir}/m.ckpt.index"],
       ["info", "{dir}/graph.pbtxt"], ["ls", "{dir}/zero.pb"], ["ls", "{dir}/zero"]],
      expect="error", timeout=10)
def _(d):
    for name in ("graph.pb", "graph", "graph.meta", "m.ckpt.index", "graph.pbtxt"):
        _fifo(d / name)
    os.symlink("/dev/zero", d / "zero.pb")
    os.symlink("/dev/zero", d / "zero")
    return d


@case("fifo_checkpoint_parts", "4 special files",
      [["ls", "{dir}/index/model.ckpt.meta"], _freeze("{dir}/index/model.ckpt.meta"),
       _freeze("{dir}/shard/model.ckpt.meta"), _freeze("{dir}/zero/model.ckpt.meta"),
       ["ls", "{dir}/state"], ["ls", "{dir}/sm"]],
      timeout=10)
def _(d):
    index = checkpointed_meta(d / "index")
    (d / "index" / "model.ckpt.index").unlink()
    _fifo(d / "index" / "model.ckpt.index")
    checkpointed_meta(d / "shard")
    (d / "shard" / "model.ckpt.data-00000-of-00001").unlink()
    _fifo(d / "shard" / "model.ckpt.data-00000-of-00001")
    checkpointed_meta(d / "zero")
    (d / "zero" / "model.ckpt.data-00000-of-00001").unlink()
    os.symlink("/dev/zero", d / "zero" / "model.ckpt.data-00000-of-00001")
    _write(d / "state" / "model.ckpt.meta", variable_meta().SerializeToString())
    _fifo(d / "state" / "checkpoint")
    _fifo(d / "sm" / "saved_model.pb")
    return index


def _no_new_files_outside(names):
    def check(d):
        extra = sorted(p.name for p in d.iterdir() if p.name not in names and not p.name.startswith("out"))
        return f"written outside the output: {extra}" if extra else None
    return check


@case("special_files_in_assets", "4 special files",
      [["collections", "add", "{dir}/fifo/model", "mine", "X", "-o", "{out}"],
       ["prune", "{dir}/fifo/model", "--outputs", "X", "-o", "{out}"],
       ["prune", "{dir}/socket/model", "--outputs", "X", "-o", "{out}"]],
      expect="error", timeout=20, after=_no_new_files_outside({"fifo", "socket"}))
def _(d):
    fifo_model = _savedmodel_copy(d / "fifo")
    _fifo(fifo_model / "assets" / "pipe")
    socket_model = _savedmodel_copy(d / "socket")
    (socket_model / "assets").mkdir(exist_ok=True)
    import tempfile

    with tempfile.TemporaryDirectory() as short:  # AF_UNIX paths are short: bind there, then move it
        server = socket.socket(socket.AF_UNIX)
        server.bind(os.path.join(short, "s"))
        server.close()
        os.rename(os.path.join(short, "s"), socket_model / "assets" / "sock")
    return fifo_model


# ============================================================================= 5. checkpoint entries
def _entry_case(name, edit, num_shards=None, stderr=r"model\.ckpt.*\bweights\b|\bweights\b.*model\.ckpt"):
    def build(d):
        model = checkpointed_meta(d, edit)
        if num_shards is not None:
            from graphsurgeon.formats.bundle import read_table
            from graphsurgeon.vocab import protos

            items = read_table(d / "model.ckpt.index")
            header = protos.BundleHeaderProto(num_shards=num_shards)
            items[0] = (b"", header.SerializeToString())
            _write(d / "model.ckpt.index", fuzzlib.write_table(items))
        return model

    # The error names the tensor and the checkpoint at fault.
    ENTRY_EDITS[name] = (edit, num_shards)
    CASES.append(Case(f"checkpoint_entry_{name}", "5 checkpoint entries", build, [_freeze()],
                      expect="error", timeout=10, stderr=stderr))


def _set(**fields):
    def edit(e):
        for key, value in fields.items():
            if key == "dims":
                e.shape.ClearField("dim")
                for dim in value:
                    e.shape.dim.add(size=dim)
            else:
                setattr(e, key, value)
    return edit


ENTRY_EDITS: dict = {}  # name -> (edit of the entry, num_shards of the header or None)
for _name, _edit in {
    "negative_offset": _set(offset=-1),
    "negative_size": _set(size=-16),
    "size_2e62": _set(size=2**62),
    "offset_past_the_shard": _set(offset=2**40),
    "shard_3_of_1": _set(shard_id=3),
    "negative_shard": _set(shard_id=-1),
    "unknown_dtype": _set(dtype=999),
    "size_not_shape": _set(size=12),
    "negative_dim": _set(dims=[-2, -8]),
    "dims_2e62": _set(dims=[2**62, 2**62], size=16),
    "string_count_over_size": _set(dtype=7, dims=[10**12], size=16),
    "slices": lambda e: e.slices.add(),
}.items():
    _entry_case(_name, _edit)
_entry_case("header_2e31_shards", _set(shard_id=5), num_shards=2**31 - 1, stderr=r"model\.ckpt")


# ============================================================================= 6. snappy
def _snappy_index(d: Path, block: bytes) -> Path:
    """A checkpoint whose index's data block is the snappy ``block`` as given (checksum valid)."""
    model = checkpointed_meta(d)
    items = [(b"", b"\x08\x01")]
    _write(d / "model.ckpt.index", fuzzlib.write_table(items, compress=lambda body: block))
    return model


@case("snappy_valid_index", "6 snappy", [_freeze()], expect="ok", timeout=10)
def _(d):
    return checkpointed_meta(d, compress=snappy_compress)


@case("snappy_claims_2e40", "6 snappy", [_freeze()], expect="error", timeout=5)
def _(d):
    from graphsurgeon.formats.protofile import encode_varint

    return _snappy_index(d, encode_varint(2**40) + b"\x00a" + bytes([(63 << 2) | 2, 1, 0]) * 1000)


@case("snappy_21x_expansion_3mb", "6 snappy", [_freeze()], expect="error", timeout=10)
def _(d):
    return _snappy_index(d, _overlapping_copies(3))


# 21 s before the slice decoder, about 5 s after.
@case("snappy_21x_expansion_24mb", "6 snappy", [_freeze()], expect="error", timeout=12, long=True)
def _(d):
    return _snappy_index(d, _overlapping_copies(24))


@case("snappy_index_24mb", "6 snappy", [_freeze()], expect="ok", timeout=30, long=True)
def _(d):
    data = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    entries = index_entries(480_000)
    entries["weights"] = entry(data=data)
    model = _write(d / "model.ckpt.meta", variable_meta().SerializeToString())
    write_checkpoint(d / "model.ckpt", entries, data, compress=snappy_compress)
    return model


# ============================================================================= 8. terminal escapes
def escape_graph():
    """Control characters in op names, types, devices, attr keys and values, functions, shapes text."""
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    gd.versions.producer = 1000
    x = _node(gd, "x" + ESCAPES, "Placeholder", dtype=fuzzlib._type(1))
    x.device = "/device:CPU:0" + NUL_ESCAPES
    evil = _node(gd, "evil" + FORGED, "Relu" + ESCAPES, ["x" + ESCAPES], T=fuzzlib._type(1))
    evil.attr["note" + ESCAPES].s = ("value" + NUL_ESCAPES + FORGED).encode("utf-8")
    evil.attr["raw_c1_bytes"].s = b"\x9b2J\x1b]0;title\x07\xff"
    evil.attr["names"].list.s.extend([ESCAPES.encode("utf-8"), b"\x1b[6n"])
    evil.attr["_class"].list.s.append(("loc:@x" + ESCAPES).encode("utf-8"))
    _node(gd, "out", "Identity", ["evil" + FORGED], T=fuzzlib._type(1))
    _node(gd, "scope" + ESCAPES + "/deeper" + FORGED + "/op", "NoOp")
    call = _node(gd, "call", "PartitionedCall", ["x" + ESCAPES])
    call.attr["f"].func.name = "fn" + ESCAPES
    f = gd.library.function.add()
    f.signature.name = "fn" + ESCAPES
    f.signature.input_arg.add(name="a", type=1)
    f.signature.output_arg.add(name="r", type=1)
    f.node_def.add(name="inner" + ESCAPES, op="Identity" + NUL_ESCAPES, input=["a"])
    f.ret["r"] = "inner" + ESCAPES + ":output:0"
    return gd


def _shows_escaped(args, out):
    if "--json" in args:  # exact: JSON escapes control characters itself
        import json

        stack, strings = [json.loads(out)], []
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str):
                strings.append(item)
        return None if any(ESCAPES in text for text in strings) else "no name holds the escapes exactly in JSON"
    if args[0] in ("ls", "info", "show") and "\\x1b" not in out:
        return "no escaped ESC (\\x1b) in the output"
    if "forged: line" in [line.strip() for line in out.splitlines()] or \
            any(line.startswith("forged") for line in out.splitlines()):
        return "a name forged an output line"
    return None


@case("escapes_in_a_graph", "8 terminal escapes",
      [["ls", "{model}"], ["ls", "{model}", "--tensors", "--functions"], ["ls", "{model}", "--tree"],
       ["info", "{model}"], ["show", "{model}", "evil" + FORGED], ["show", "{model}", "x" + ESCAPES + ":0"],
       ["show", "{model}", "inner" + ESCAPES, "--function", "fn" + ESCAPES],
       ["show", "{model}", "evil" + FORGED[:-1]], ["show", "{model}", "x" + ESCAPES[:-2]],
       ["ls", "{model}", "re:(" + ESCAPES], ["layers", "{model}"], ["diff", "{model}", "{dir}/other.pb"],
       ["diff", "{model}", "{dir}/other.pb", "-v"], ["collections", "{model}"],
       ["prune", "{model}", "--outputs", "out", "-o", "{out}.pb"],
       ["ls", "{model}", "--json"], ["show", "{model}", "evil" + FORGED, "--json"]],
      expect=_shows_escaped, timeout=10)
def _(d):
    gd = escape_graph()
    other = escape_graph()
    other.node[1].op = "Elu" + ESCAPES
    other.node[0].device = "/device:GPU:0" + FORGED
    _write(d / "other.pb", other.SerializeToString())
    return _write(d / "escapes.pb", gd.SerializeToString())


@case("escapes_in_tags_and_collections", "8 terminal escapes",
      [["ls", "{model}"], ["info", "{model}"], ["ls", "{model}", "--tag", "serve" + ESCAPES],
       ["ls", "{model}", "--tag", "nope" + ESCAPES], ["info", "{model}", "--tag", "train" + FORGED],
       ["collections", "{model}", "--tag", "train" + FORGED],
       ["collections", "show", "{model}", "coll" + ESCAPES, "--tag", "train" + FORGED],
       ["collections", "show", "{model}", "coll" + ESCAPES[:-1], "--tag", "train" + FORGED],
       ["collections", "rename", "{model}", "coll" + ESCAPES, "new" + FORGED, "--tag", "train" + FORGED,
        "-o", "{out}"],
       ["tensorboard", "{model}", "--tag", "train" + FORGED, "--logdir", "{out}"]],
      timeout=15)
def _(d):
    from graphsurgeon.vocab import protos

    sm = protos.SavedModel(saved_model_schema_version=1)
    for tags in (["serve" + ESCAPES, "gpu"], ["train" + FORGED]):
        meta = sm.meta_graphs.add()
        meta.CopyFrom(variable_meta())
        meta.meta_info_def.tags.extend(tags)
        meta.meta_info_def.tensorflow_version = "2.21" + ESCAPES
        meta.graph_def.node[0].device = "/job:w" + ESCAPES
        meta.collection_def["coll" + ESCAPES].node_list.value.extend(["weights", "missing" + ESCAPES])
        meta.collection_def["bytes" + FORGED].bytes_list.value.append(ESCAPES.encode("utf-8"))
        sig = meta.signature_def["serving" + ESCAPES]
        sig.method_name = "tensorflow/serving/predict" + ESCAPES
        sig.inputs["in" + ESCAPES].name = "weights:0"
        sig.outputs["out" + FORGED].name = "out:0"
    directory = d / "model"
    _write(directory / "saved_model.pb", sm.SerializeToString())
    return directory


# ============================================================================= 9. markup in names
def markup_graph():
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    gd.versions.producer = 1000
    names = [INJECTION, "ends_with\\", "a:b:c", "nul\x00byte", "<script>alert(3)</script>", "esc\x1b[2J\x07bel",
             '"quoted" & <tag>', "scope/" + INJECTION]
    previous = None
    for i, name in enumerate(names):
        if previous is None:
            _node(gd, name, "Placeholder", dtype=fuzzlib._type(1))
        else:
            _node(gd, name, "Identity" if i % 2 else "Relu<b>", [previous], T=fuzzlib._type(1))
        previous = name
    return gd


@case("markup_in_names", "9 DOT/SVG injection",
      [["render", "{model}", "-o", "{out}.svg"], ["render", "{model}", "--format", "dot", "-o", "{out}.dot"],
       ["render", "{model}", "--depth", "0", "-o", "{out}.svg"]],
      timeout=20)
def _(d):
    return _write(d / "markup.pb", markup_graph().SerializeToString())


# ============================================================================= what already holds
_READ = [["ls", "{model}"], ["ls", "--tree", "{model}"], ["info", "{model}"],
         ["ls", "--tensors", "--functions", "{model}"], ["collections", "{model}"], ["layers", "{model}"],
         ["diff", "{model}", "{model}"], ["render", "{model}", "--format", "dot", "-o", "{out}.dot"]]


def _crafted(name):
    def build(d):
        return _write(d / f"{name}.pb", fuzzlib.crafted_graphs()[name].SerializeToString())
    return build


for _name in ("dangling_inputs", "duplicate_names", "cycles", "enormous_consts", "enormous_shapes",
              "recursive_functions", "absurd_output_counts", "odd_names_and_attrs"):
    CASES.append(Case(f"holds_{_name}", "holds: " + _name.replace("_", " "), _crafted(_name), _READ, timeout=20))


def cycle_graph(n: int, control: bool = False):
    """``n`` Identity ops in one cycle (data edges, or control edges), plus a self-loop."""
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    gd.versions.producer = 1000
    _placeholder(gd)
    for i in range(n):
        previous = f"c{(i - 1) % n}"
        inputs = ["x", f"^{previous}"] if control else [previous]
        _node(gd, f"c{i}", "Identity", inputs, T=fuzzlib._type(1))
    _node(gd, "self", "Add", ["self", "x"], T=fuzzlib._type(1))
    return gd


@case("holds_cycles_3_20k_control", "holds: cycles",
      _READ + [["prune", "{model}", "--outputs", "c0", "-o", "{out}.pb"], ["show", "{model}", "c0"]], timeout=20)
def _(d):
    _write(d / "control.pb", cycle_graph(3, control=True).SerializeToString())
    return _write(d / "cycle.pb", cycle_graph(20_000).SerializeToString())


@case("holds_dims_2e62", "holds: huge dims",
      [["ls", "{model}"], ["info", "{model}"], ["show", "{model}", "big"], ["show", "{model}", "big", "--json"],
       ["render", "{model}", "--format", "dot", "-o", "{out}.dot"]], timeout=15)
def _(d):
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    big = _node(gd, "big", "Const", dtype=fuzzlib._type(1))
    tensor = big.attr["value"].tensor
    tensor.dtype = 1
    for _ in range(2):
        tensor.tensor_shape.dim.add(size=2**62)
    tensor.float_val.append(1.0)
    p = _node(gd, "p", "Placeholder", dtype=fuzzlib._type(1))
    p.attr["shape"].shape.dim.add(size=2**62)
    _node(gd, "fill", "Fill", ["dims", "big"], T=fuzzlib._type(1))
    dims = fuzzlib._const(gd, "dims", [3], dtype=9)
    dims.attr["value"].tensor.int64_val.extend([2**62, 2**62, 2**62])
    return _write(d / "big.pb", gd.SerializeToString())


@case("holds_recursive_function_freeze", "holds: recursive functions", [_freeze()], expect="error", timeout=20)
def _(d):
    return _inlining_case(d, lambda lib: _function(lib, "f", ["f"]).signature.name)


@case("holds_deep_nesting", "holds: deep nesting",
      [["ls", "{dir}/binary.pb"], ["ls", "{dir}/text.pbtxt"], ["info", "{dir}/text.pbtxt"]], expect="error",
      timeout=20)
def _(d):
    _write(d / "binary.pb", fuzzlib.nested_attr_graph(2000).SerializeToString())
    nest = b'node { name: "x" op: "NoOp" attr { key: "a" value { ' + b'func { attr { key: "x" value { ' * 100_000 \
        + b"i: 1" + b" } } }" * 100_000 + b" } } }\n"
    _write(d / "text.pbtxt", nest)
    return d


def _traversal(d: Path) -> Path:
    model = _savedmodel_copy(d)
    from graphsurgeon.vocab import protos

    sm = protos.SavedModel()
    sm.ParseFromString((model / "saved_model.pb").read_bytes())
    meta = sm.meta_graphs[0]
    meta.asset_file_def.add(filename="../../../../escaped_asset.txt").tensor_info.name = "X:0"
    meta.asset_file_def.add(filename="/tmp/absolute_asset.txt").tensor_info.name = "X:0"
    meta.saver_def.filename_tensor_name = "../../escaped:0"
    _write(model / "saved_model.pb", sm.SerializeToString())
    _write(model / "checkpoint", b'model_checkpoint_path: "../../../../etc/passwd"\n')
    (model / "assets").mkdir(exist_ok=True)
    os.symlink("/etc/passwd", model / "assets" / "passwd_link")
    os.symlink("..", model / "assets" / "parent_link")
    os.symlink("loop", model / "assets" / "loop")
    ckpt = d / "ckpt"
    data = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    write_checkpoint(ckpt / "model.ckpt", {"weights": entry(data=data), "../../../escaped": entry(data=data),
                                           "/abs/name": entry(data=data)}, data)
    _write(ckpt / "model.ckpt.meta", variable_meta().SerializeToString())
    return model


def _links_kept(d: Path) -> str | None:
    outputs = sorted(p for p in d.iterdir() if p.name.startswith("out") and (p / "saved_model.pb").is_file())
    for out in outputs:
        for name, target in (("passwd_link", "/etc/passwd"), ("parent_link", ".."), ("loop", "loop")):
            link = out / "assets" / name
            if not link.is_symlink() or os.readlink(link) != target:
                return f"{link} is not the link to {target} it was in the model"
    for stray in ("escaped_asset.txt", "escaped"):
        for base in (d, d.parent, d.parent.parent):
            if (base / stray).exists():
                return f"{base / stray} written outside the output"
    return _no_new_files_outside({"model", "ckpt"})(d)


@case("holds_path_traversal_and_links", "holds: path traversal, symlinks",
      [["ls", "{model}"], ["info", "{model}"], ["prune", "{model}", "--outputs", "Y_proba", "-o", "{out}"],
       ["collections", "add", "{model}", "mine", "X", "-o", "{out}"],
       _freeze("{dir}/ckpt/model.ckpt.meta"), ["tensorboard", "{model}", "--logdir", "{out}"]],
      timeout=20, after=_links_kept)
def _(d):
    return _traversal(d)


@case("holds_million_nodes", "holds: 1e6-node graphs",
      [["ls", "--count", "{model}"], ["info", "{model}"], ["ls", "--tree", "--depth", "1", "{model}"]],
      timeout=120, long=True)
def _(d):
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    gd.versions.producer = 1000
    _placeholder(gd)
    for i in range(1_000_000):
        gd.node.add(name=f"s{i % 100}/n{i}", op="Identity", input=["x"])
    return _write(d / "million.pb", gd.SerializeToString())


# ----------------------------------------------------------------------------- running a case
def resolve(args: list[str], model: Path, directory: Path, index: int) -> list[str]:
    """The argument templates of a command filled in (``DEEP`` is the deep scope of the deep cases)."""
    out = directory / f"out{index}"
    filled = []
    for arg in args:
        arg = arg.replace("{model}", str(model)).replace("{out}", str(out)).replace("{dir}", str(directory))
        if arg.startswith("DEEP/"):
            arg = "/".join(["s"] * 3000) + arg[4:]
        filled.append(arg)
    return filled


def _run_command(c: Case, args: list[str]) -> list[str]:
    start = time.monotonic()
    proc = run(args, c.timeout)
    took = time.monotonic() - start
    shown = " ".join(repr(a) if any(ch in a for ch in "\n\x1b ") else a for a in args)[:200]
    found = [f"{shown}  ({took:.1f} s): {problem}" for problem in problems(args, proc, c.expect)]
    if proc is not None and proc.returncode != 0 and c.stderr and \
            not re.search(c.stderr, proc.stderr.decode("utf-8", "replace")):
        found.append(f"{shown}: the error does not say what is at fault: {proc.stderr.decode()[:300]!r}")
    if proc is not None and proc.returncode == 0 and args[0] == "render":
        output = Path(args[args.index("-o") + 1])
        found.extend(f"{shown}: markup from a name: {problem}" for problem in markup_problems(output))
    return found


def run_case(c: Case, directory: Path, workers: int = 2) -> list[str]:
    """Build ``c`` in ``directory`` and run its commands; every problem found, prefixed by its command.

    Commands are independent (each has its own output path): ``workers`` of
    them run at once, which halves the default run on two cores.
    """
    from concurrent.futures import ThreadPoolExecutor

    directory.mkdir(parents=True, exist_ok=True)
    model = c.build(directory)
    commands = [resolve(template, model, directory, index) for index, template in enumerate(c.commands)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        found = [problem for result in pool.map(lambda args: _run_command(c, args), commands) for problem in result]
    if c.after is not None:
        problem = c.after(directory)
        if problem:
            found.append(f"after the commands: {problem}")
    return found


if __name__ == "__main__":  # python tests/hostile.py build DIR
    if len(sys.argv) == 3 and sys.argv[1] == "build":
        for c in CASES:
            print(c.name, c.build(Path(sys.argv[2]) / c.name))
    else:
        print(__doc__)
