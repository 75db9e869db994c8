"""Bad input for graphsurgeon: mutators, damaged-model builders and the checks every read must pass.

The rule every case is held to: reading a damaged or hostile model either
works, or raises a :class:`graphsurgeon.GraphSurgeonError` subclass whose
message names the file at fault; never another exception, never a hang,
never memory proportional to a size the file merely declares.

Pieces:

- mutators (:func:`truncate`, :func:`flip_bytes`, :func:`flip_bits`,
  :func:`splice`, :func:`text_mutation`) and :func:`mutants`, a seeded,
  reproducible stream of them;
- :func:`exercise`: every library entry point that reads a graph, run on one
  path under a time bound (``signal.alarm``);
- :func:`run_cli`: the command line in-process (click's runner), checked for
  one ``error:`` line and no "internal error";
- :func:`run_bounded`: a Python snippet in a child process under
  ``RLIMIT_AS`` and a timeout, for cases that could eat memory or hang in C;
- a command-line worker (``python tests/fuzzlib.py worker ...``) that the
  long ``--fuzz`` mode runs in a memory-bounded child process per format.

Kept free of pytest and TensorFlow so that a child process can import it.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "fixtures" / "models"
# As tests/_support.py: unset means ../shared/corpus, set but empty means no corpus
# (os.devnull is no directory: every corpus case is left out).
_CORPUS_ENV = os.environ.get("GS_CORPUS_DIR")
CORPUS = ROOT.parent / "shared" / "corpus" if _CORPUS_ENV is None else Path(_CORPUS_ENV.strip() or os.devnull)

# Per-case bound: a whole read (load + every entry point) of the largest
# corpus model takes about a second; anything ten times that is a hang.
CASE_SECONDS = 20
# Address-space bound for child processes: numpy + protobuf + a few copies of
# the largest model fit easily; a tensor built from a declared [1e12] shape does not.
MEMORY_LIMIT = 3 * 2**30


# ----------------------------------------------------------------------------- mutators
def truncate(data: bytes, rng: random.Random) -> bytes:
    """The first n bytes (0 < n < len), biased towards the start and the end."""
    if len(data) < 2:
        return b""
    choice = rng.random()
    if choice < 0.25:
        n = rng.randrange(1, min(len(data), 64))
    elif choice < 0.5:
        n = len(data) - rng.randrange(1, min(len(data), 64))
    else:
        n = rng.randrange(1, len(data))
    return data[:n]


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    """1 to 8 bytes set to random values (interesting ones half the time)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(out))
        out[i] = rng.choice((0x00, 0xFF, 0x7F, 0x80, 0x01, 0x08, 0x0A, 0x12, 0x22)) \
            if rng.random() < 0.5 else rng.randrange(256)
    return bytes(out)


def flip_bits(data: bytes, rng: random.Random) -> bytes:
    """1 to 8 single-bit flips."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def splice(data: bytes, rng: random.Random) -> bytes:
    """A region deleted, duplicated or overwritten with random bytes (lengths and varints shift)."""
    i = rng.randrange(len(data))
    n = rng.randint(1, min(64, len(data) - i))
    kind = rng.randrange(3)
    if kind == 0:
        return data[:i] + data[i + n:]
    if kind == 1:
        return data[:i + n] + data[i:i + n] + data[i + n:]
    return data[:i] + bytes(rng.randrange(256) for _ in range(n)) + data[i + n:]


_TEXT_TOKENS = ["{", "}", ":", '"', "'", "<", ">", "[", "]", "#", "\\", "\n", " ", "-1",
                "99999999999999999999", "1e400", "nan", "node", "attr", "value", "dim", "size: -5",
                "\x00", "\xff", "é", "op: \"\"", "input: \"nowhere:7\""]


def text_mutation(data: bytes, rng: random.Random) -> bytes:
    """Syntax-level damage to a text proto: a token inserted, a character or a line deleted."""
    kind = rng.randrange(4)
    i = rng.randrange(len(data)) if data else 0
    if kind == 0:
        token = rng.choice(_TEXT_TOKENS).encode("utf-8", "surrogatepass")
        return data[:i] + token + data[i:]
    if kind == 1:
        return data[:i] + data[i + 1:]
    if kind == 2:
        lines = data.split(b"\n")
        del lines[rng.randrange(len(lines))]
        return b"\n".join(lines)
    # swap two characters: unbalanced braces and quotes
    j = rng.randrange(len(data)) if data else 0
    out = bytearray(data)
    if out:
        out[i], out[j] = out[j], out[i]
    return bytes(out)


# ----------------------------------------------------------------------------- semantic damage
# Byte-level damage mostly stops at the parser. These mutate a parsed graph
# and serialise it again, so that the damage reaches everything after it.
HUGE = 10**12


def _graph_defs(msg):
    """Every GraphDef inside a parsed message, with the node lists of its functions."""
    from graphsurgeon.vocab import protos

    if isinstance(msg, protos.SavedModel):
        return [m.graph_def for m in msg.meta_graphs]
    if isinstance(msg, protos.MetaGraphDef):
        return [msg.graph_def]
    return [msg]


def _damage_node(node, rng: random.Random, names: list[str], functions: list[str]) -> str:
    choice = rng.randrange(16)
    if choice == 0:
        bad = rng.choice(["nowhere", "nowhere:3", "^nowhere", f"{node.name}:{HUGE}", ":", "", "a:b:c",
                          f"{rng.choice(names)}:{rng.choice([7, 99999, 2**40])}", "^", "x:-1"])
        if node.input and rng.random() < 0.5:
            node.input[rng.randrange(len(node.input))] = bad
        else:
            node.input.append(bad)
        return "dangling input"
    if choice == 1:
        node.op = rng.choice(["Bogus", "", rng.choice(["Split", "Unpack", "DynamicPartition", "IdentityN",
                                                        "StatefulPartitionedCall", "If", "While", "Const"]),
                              rng.choice(functions) if functions else "PyFunc"])
        return "op type"
    if choice == 2 and node.attr:
        del node.attr[rng.choice(sorted(node.attr))]
        return "attr deleted"
    if choice == 3:
        key = rng.choice(sorted(node.attr) or ["T"])
        value = node.attr[key]
        pick = rng.randrange(6)
        if pick == 0:
            value.type = rng.choice([0, 20, 21, 999, 2**30, 101, 120])
        elif pick == 1:
            value.i = rng.choice([-1, HUGE, 2**62, 0])
        elif pick == 2:
            value.s = bytes(rng.randrange(256) for _ in range(8))
        elif pick == 3:
            value.list.i.extend([HUGE, -3])
        elif pick == 4:
            value.func.name = rng.choice(["no_such_function"] + functions)
        else:
            value.list.type.extend([999, 0, 1])
        return "attr value"
    if choice in (4, 5):
        for key in ("shape", "value", "_output_shapes", "output_shapes", "element_shape"):
            if key in node.attr:
                value = node.attr[key]
                shapes = [value.shape] if value.HasField("shape") else list(value.list.shape) if                     value.HasField("list") else [value.tensor.tensor_shape] if value.HasField("tensor") else []
                for shape in shapes:
                    dim = shape.dim.add() if not shape.dim or rng.random() < 0.3 else                         shape.dim[rng.randrange(len(shape.dim))]
                    dim.size = rng.choice([HUGE, -7, 2**62, 0, -1])
                    if rng.random() < 0.2:
                        for _ in range(rng.choice([64, 2000])):
                            shape.dim.add(size=2)
                return "shape"
        node.attr["_output_shapes"].list.shape.add().dim.add(size=HUGE)
        return "shape"
    if choice == 6 and "value" in node.attr and node.attr["value"].HasField("tensor"):
        tensor = node.attr["value"].tensor
        pick = rng.randrange(4)
        if pick == 0 and tensor.tensor_content:
            tensor.tensor_content = tensor.tensor_content[: rng.randrange(len(tensor.tensor_content))]
        elif pick == 1:
            tensor.dtype = rng.choice([7, 20, 21, 14, 999, 0, 19])
        elif pick == 2:
            del tensor.tensor_shape.dim[:]
            tensor.tensor_shape.dim.add(size=HUGE)
            tensor.tensor_shape.dim.add(size=HUGE)
        else:
            tensor.string_val.append(b"\xff" * 3)
            tensor.int64_val.extend([1, 2, 3])
        return "const value"
    if choice == 7 and names:
        node.name = rng.choice(names)
        return "duplicate name"
    if choice == 8:
        node.name = rng.choice(["", ":", "^x", "a:0", "x" * 5000, "é/ü", "a//b", "/", "loc:@x"])
        return "odd name"
    if choice == 9:
        node.attr["f"].func.name = rng.choice(["no_such_function"] + functions)
        node.op = rng.choice(["StatefulPartitionedCall", "PartitionedCall", node.op])
        return "missing function"
    if choice == 10:
        value = node.attr[rng.choice(["num_split", "N", "num", "num_partitions", "T"])]
        if rng.random() < 0.5:
            value.i = rng.choice([HUGE, -1, 2**31])
        else:
            value.list.type.extend([1] * rng.choice([3, 5000]))
        return "output count"
    if choice == 11:
        node.device = rng.choice(["/job:x/task:99999999999999999999", "\x00", "garbage" * 100])
        return "device"
    if choice == 12:
        value = node.attr["nested"]
        for _ in range(rng.choice([50, 500])):
            value = value.func.attr["x"]
        value.i = 1
        return "nested attr"
    if choice == 13:
        node.attr["_class"].list.s.extend([b"loc:@nowhere", b"loc:@", b"\xff"])
        return "colocation"
    if choice == 14:
        node.input.append(f"^{node.name}")
        node.input.append(f"{node.name}:0")
        return "self loop"
    node.ClearField("op")
    return "no op type"


def _damage_meta(meta, rng: random.Random, names: list[str]) -> str:
    choice = rng.randrange(6)
    if choice == 0 and meta.collection_def:
        coll = meta.collection_def[rng.choice(sorted(meta.collection_def))]
        kind = coll.WhichOneof("kind")
        if kind == "bytes_list":
            coll.bytes_list.value.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))))
        elif kind == "node_list":
            coll.node_list.value.append(rng.choice(["nowhere:0", "", "^x", "x:99999999999"]))
        elif kind == "any_list":
            item = coll.any_list.value.add()
            item.type_url = rng.choice(["type.googleapis.com/tensorflow.CondContextDef", "garbage", ""])
            item.value = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        else:
            coll.int64_list.value.append(HUGE)
        return "collection"
    if choice == 1:
        sig = meta.signature_def[rng.choice(sorted(meta.signature_def) or ["serving_default"])]
        info = sig.inputs[rng.choice(["x", "X", "inputs"])]
        info.name = rng.choice(["nowhere:0", "", "x:99999999999", "^y"])
        info.dtype = rng.choice([0, 1, 999])
        info.tensor_shape.dim.add(size=HUGE)
        return "signature"
    if choice == 2:
        meta.saver_def.filename_tensor_name = rng.choice(["nowhere:0", ""])
        meta.saver_def.restore_op_name = "nowhere"
        return "saver"
    if choice == 3:
        meta.meta_info_def.stripped_op_list.op.add(name=rng.choice(names) if names else "X").output_arg.add(
            name="o", number_attr="N")
        return "stripped op list"
    if choice == 4:
        meta.meta_info_def.tensorflow_version = rng.choice(["0.12.head", "\xff", "9" * 100, ""])
        meta.graph_def.versions.producer = rng.choice([-1, 2**31 - 1, 0])
        return "versions"
    meta.asset_file_def.add().filename = rng.choice(["../../etc/passwd", "/etc/passwd", "a/../../b"])
    return "asset path"


def semantic(data: bytes, rng: random.Random, kind: str) -> bytes:
    """Parse ``data`` as ``kind``, damage one to four things in it, serialise it again."""
    from google.protobuf import text_format

    from graphsurgeon.formats.protofile import message_class

    text = kind == "pbtxt"
    msg_kind = "graphdef" if kind in ("graphdef", "pbtxt") else kind
    msg = message_class(msg_kind)()
    if text:
        text_format.Parse(data.decode("utf-8"), msg)
    else:
        msg.ParseFromString(data)
    for _ in range(rng.randint(1, 4)):
        gds = _graph_defs(msg)
        gd = rng.choice(gds)
        node_lists = [gd.node] + [f.node_def for f in gd.library.function]
        functions = [f.signature.name for f in gd.library.function]
        nodes = rng.choice([n for n in node_lists if len(n)] or [gd.node])
        names = [n.name for n in nodes]
        if msg_kind != "graphdef" and rng.random() < 0.25:
            meta = msg if msg_kind == "meta" else rng.choice(list(msg.meta_graphs))
            _damage_meta(meta, rng, names)
            continue
        if gd.library.function and rng.random() < 0.1:
            f = rng.choice(list(gd.library.function))
            pick = rng.randrange(3)
            if pick == 0:
                f.ret[rng.choice([a.name for a in f.signature.output_arg] or ["r"])] = "nowhere:out:0"
            elif pick == 1:
                f.signature.name = rng.choice(functions)
            else:
                f.node_def.add(name="rec", op=f.signature.name)
            continue
        if not len(nodes):
            nodes.add(name="lonely", op="Bogus")
            continue
        _damage_node(nodes[rng.randrange(len(nodes))], rng, names, functions)
    if text:
        try:
            return text_format.MessageToString(msg).encode("utf-8")
        except Exception:  # noqa: BLE001 - nesting past protobuf's printer depth: damage the bytes instead
            return text_mutation(data, rng)
    return msg.SerializeToString()


def write_table(entries: list[tuple[bytes, bytes]], compress=None) -> bytes:
    """A LevelDB-format SSTable (one data block, valid checksums) holding ``entries`` as given.

    ``compress`` (bytes -> bytes), when given, turns the data block into a snappy-compressed one.
    """
    import struct

    from graphsurgeon.formats.bundle import TABLE_MAGIC, crc32c, mask_crc
    from graphsurgeon.formats.protofile import encode_varint

    def block(items, compress=None):
        body = b"".join(encode_varint(0) + encode_varint(len(k)) + encode_varint(len(v)) + k + v for k, v in items)
        body += struct.pack("<II", 0, 1)
        kind = b"\x00"
        if compress is not None:
            body, kind = compress(body), b"\x01"
        return body + kind + struct.pack("<I", mask_crc(crc32c(body + kind)))

    data = block(entries, compress)
    data_size = len(data) - 5
    index = block([(entries[-1][0] if entries else b"", encode_varint(0) + encode_varint(data_size))])
    footer = encode_varint(0) + encode_varint(0) + encode_varint(len(data)) + encode_varint(len(index) - 5)
    footer = footer.ljust(40, b"\x00") + struct.pack("<Q", TABLE_MAGIC)
    return data + index + footer


def semantic_index(data: bytes, rng: random.Random) -> bytes:
    """A checkpoint index with valid checksums whose entries lie: sizes, offsets, shapes, dtypes, shards."""
    from graphsurgeon.formats.bundle import read_table
    from graphsurgeon.vocab import protos

    with tempfile.NamedTemporaryFile(suffix=".index") as handle:
        handle.write(data)
        handle.flush()
        entries = read_table(handle.name)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(entries))
        key, value = entries[i]
        if key == b"":
            header = protos.BundleHeaderProto()
            header.ParseFromString(value)
            pick = rng.randrange(3)
            if pick == 0:
                header.num_shards = rng.choice([0, 2, 99999, 2**31 - 1])
            elif pick == 1:
                header.endianness = 1
            else:
                header.version.producer = -1
            entries[i] = (key, header.SerializeToString())
            continue
        entry = protos.BundleEntryProto()
        entry.ParseFromString(value)
        pick = rng.randrange(9)
        if pick == 0:
            entry.size = rng.choice([HUGE, 2**63 - 1, 0, entry.size + 1])
        elif pick == 1:
            entry.offset = rng.choice([HUGE, 2**62, entry.offset + 3])
        elif pick == 2:
            dim = entry.shape.dim.add() if not entry.shape.dim else entry.shape.dim[0]
            dim.size = rng.choice([HUGE, -2, 0, -1])
        elif pick == 3:
            for d in entry.shape.dim:
                d.size = -d.size
        elif pick == 4:
            entry.dtype = rng.choice([0, 7, 20, 21, 999, 14, 19])
        elif pick == 5:
            entry.shard_id = rng.choice([1, 5, 2**31 - 1])
        elif pick == 6:
            entry.slices.add().extent.add(start=0, length=HUGE)
        elif pick == 7:
            entry.crc32c ^= 1
        else:
            entries[i] = (key + bytes([rng.randrange(256)]), value)
            continue
        entries[i] = (key, entry.SerializeToString())
    return write_table(entries)


BINARY_MUTATORS = (truncate, flip_bytes, flip_bits, splice)
TEXT_MUTATORS = (truncate, text_mutation, flip_bytes, splice)
GRAPH_KINDS = ("meta", "savedmodel", "graphdef", "pbtxt")


def mutants(data: bytes, count: int, seed: int, text: bool = False, start: int = 0, kind: str | None = None):
    """``(index, mutator name, bytes)`` for mutants ``start .. start+count-1``, reproducible from ``seed``.

    For graph files (``kind`` in GRAPH_KINDS) every other mutant is a
    :func:`semantic` one: parsed, damaged inside, serialised again.
    """
    mutators = TEXT_MUTATORS if text else BINARY_MUTATORS
    for index in range(start, start + count):
        rng = random.Random(f"{seed}:{index}")
        if kind in GRAPH_KINDS and index % 2 == 1:
            yield index, "semantic", semantic(data, rng, kind)
            continue
        if kind == "index" and index % 2 == 1:
            yield index, "semantic_index", semantic_index(data, rng)
            continue
        mutator = mutators[(index // (2 if kind in GRAPH_KINDS + ("index",) else 1)) % len(mutators)]
        yield index, mutator.__name__, mutator(data, rng)


# ----------------------------------------------------------------------------- targets
@dataclass
class Target:
    """A model file to damage, and how to rebuild a model around a damaged copy of it.

    ``model`` is what the user would pass (relative to the copy's root),
    ``file`` the file that is mutated (relative too), ``kind`` one of
    ``meta``, ``savedmodel``, ``graphdef``, ``pbtxt``, ``index``, ``data``.
    """

    name: str
    root: Path          # the model's directory (or the file's directory)
    model: str          # path to pass, relative to root ("." for a directory)
    file: str           # the mutated file, relative to root
    kind: str
    text: bool = False

    def build(self, workdir: Path, data: bytes) -> Path:
        """A copy of the model in ``workdir`` (links to the untouched files) with ``file`` = ``data``."""
        dest = workdir / self.name
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for item in self.root.rglob("*"):
            rel = item.relative_to(self.root)
            if item.is_dir():
                (dest / rel).mkdir(parents=True, exist_ok=True)
            elif str(rel) != self.file:
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                os.symlink(item.resolve(), dest / rel)
        (dest / self.file).parent.mkdir(parents=True, exist_ok=True)
        (dest / self.file).write_bytes(data)
        return dest / self.model if self.model != "." else dest

    @property
    def source(self) -> Path:
        return self.root / self.file


def _targets_in(base: Path, prefix: str) -> list[Target]:
    out = []
    if not base.is_dir():
        return out
    for model in sorted(base.iterdir()):
        name = f"{prefix}{model.name}"
        if model.is_file() and model.suffix in (".pb", ".pbtxt"):
            out.append(Target(name, model.parent, model.name, model.name, "graphdef", text=False))
            continue
        if not model.is_dir():
            continue
        if (model / "saved_model.pb").is_file():
            out.append(Target(name, model, ".", "saved_model.pb", "savedmodel"))
            if (model / "variables" / "variables.index").is_file():
                out.append(Target(name + ":index", model, ".", "variables/variables.index", "index"))
                for shard in sorted((model / "variables").glob("variables.data-*")):
                    out.append(Target(name + ":data", model, ".", f"variables/{shard.name}", "data"))
            continue
        for meta in sorted(model.glob("*.meta")):
            out.append(Target(name, model, meta.name, meta.name, "meta"))
            prefix_path = meta.with_suffix("")
            if Path(str(prefix_path) + ".index").is_file():
                out.append(Target(name + ":index", model, meta.name, prefix_path.name + ".index", "index"))
                for shard in sorted(model.glob(prefix_path.name + ".data-*")):
                    out.append(Target(name + ":data", model, meta.name, shard.name, "data"))
        for graph in sorted(list(model.glob("*.pbtxt")) + list(model.glob("*.pb"))):
            if graph.name in ("fingerprint.pb", "keras_metadata.pb", "saved_model.pb"):
                continue
            head = graph.read_bytes()[:256]
            is_text = b"\0" not in head and head.lstrip()[:1] not in (b"",) and \
                all(32 <= c < 127 or c in (9, 10, 13) for c in head)
            out.append(Target(name, model, graph.name, graph.name, "pbtxt" if is_text else "graphdef",
                              text=is_text))
    for t in out:
        if t.kind == "graphdef" and t.root.joinpath(t.file).is_file():
            head = t.source.read_bytes()[:256]
            if b"\0" not in head and all(32 <= c < 127 or c in (9, 10, 13) for c in head):
                t.kind, t.text = "pbtxt", True
    return out


def all_targets() -> list[Target]:
    """Every fixture and corpus model file worth damaging."""
    return _targets_in(FIXTURES, "fixture:") + _targets_in(CORPUS, "corpus:")


# ----------------------------------------------------------------------------- checks
class Hang(BaseException):
    """A case ran past its time bound (BaseException: no library ``except Exception`` swallows it)."""


class Foreign(AssertionError):
    """An entry point raised something other than a GraphSurgeonError, or a bad error message."""


@contextlib.contextmanager
def time_bound(seconds: float):
    """Raise :class:`Hang` in the main thread after ``seconds``."""
    def _alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Outcome:
    """What happened to one case: ``ok`` (every entry point answered) or the clean error it raised."""

    status: str                    # "ok" or "error"
    message: str = ""
    steps: list = field(default_factory=list)


def _names_file(message: str, paths) -> bool:
    for p in paths:
        p = Path(p)
        if str(p) in message or (p.name and p.name in message):
            return True
    return False


def _entry_points(g, workdir: Path, original=None, deep: bool = True):
    """(step name, callable) for every read entry point on a loaded graph."""
    import graphsurgeon
    from graphsurgeon.analysis import report

    def ops_tensors():
        for op in g.ops():
            for t in op.outputs:
                t.dtype, t.shape  # noqa: B018 - computing them is the point
        for t in g.tensors():
            t.dtype, t.shape  # noqa: B018

    def details():
        for op in g:
            report.op_details(op)
            for t in op.outputs:
                report.tensor_details(t)

    def functions():
        for name in sorted(g.library_names):
            fg = g.function(name)
            for op in fg:
                report.op_details(op)

    def listing():
        report.ls_records(g, functions=True)
        report.ls_records(g, brief=True)
        report.scope_tree(g)

    def collections():
        for c in g.collections.values():
            c.as_dict(items=True)

    def render():
        from graphsurgeon import rendering
        rendering.write(g, workdir / "graph.dot", "dot")

    def diff():
        graphsurgeon.diff(g, g)
        if original is not None:
            graphsurgeon.diff(original, g).as_dict()

    def prune():
        outs = [t.name for t in report.likely_outputs(g)][:3]
        if outs:
            graphsurgeon.prune(g, outs)

    def freeze():
        # Freezing needs more than reading (a checkpoint, outputs): a clean refusal is
        # fine here and does not make the case an error; an internal error is not fine.
        from graphsurgeon.errors import GraphSurgeonError
        outs = [t.name for t in report.likely_outputs(g)][:3]
        if outs:
            try:
                graphsurgeon.freeze(g, outputs=outs)
            except GraphSurgeonError as exc:
                if "internal error" in str(exc):
                    raise Foreign(f"freeze: {exc}") from exc

    def tensorboard():
        graphsurgeon.to_tensorboard(g, workdir / "tb")

    def save():
        out = workdir / ("saved" if g.format == "savedmodel" else "saved.meta" if g.format == "meta" else "saved.pb")
        g.save(out, force=True)

    steps = [("ops/tensors", ops_tensors), ("info", lambda: report.info(g)), ("op_details", details),
             ("ls", listing), ("collections", collections)]
    if deep:
        steps += [("functions", functions), ("render", render), ("diff", diff), ("prune", prune),
                  ("freeze", freeze), ("tensorboard", tensorboard), ("save", save)]
    return steps


def exercise(path, tag=None, workdir: Path | None = None, original=None, deep: bool = True,
             seconds: float = CASE_SECONDS, blame=()) -> Outcome:
    """Load ``path`` and run every read entry point on it.

    Returns an :class:`Outcome`: ``ok``, or ``error`` with the message of the
    GraphSurgeonError that stopped it. Raises :class:`Foreign` for any other
    exception or an error message that does not name the file (``blame``:
    the file names that count, default ``path``), :class:`Hang` past
    ``seconds``.
    """
    import graphsurgeon
    from graphsurgeon.errors import GraphSurgeonError

    workdir = Path(workdir or tempfile.mkdtemp(prefix="gs-fuzz-"))
    workdir.mkdir(parents=True, exist_ok=True)
    blame = list(blame) or [path]
    steps: list[str] = []
    step = "load"
    try:
        with time_bound(seconds):
            try:
                g = graphsurgeon.load(path, tag=tag)
                steps.append("load")
                for step, fn in _entry_points(g, workdir, original, deep):
                    fn()
                    steps.append(step)
            except GraphSurgeonError as exc:
                if step == "load" and not _names_file(str(exc), blame):
                    raise Foreign(f"{step}: error message does not name the file: {exc}") from exc
                return Outcome("error", f"{step}: {type(exc).__name__}: {exc}", steps)
    except (Foreign, Hang):
        raise
    except RecursionError as exc:
        raise Foreign(f"{step}: RecursionError: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - this is what the suite exists to catch
        raise Foreign(f"{step}: {type(exc).__name__}: {exc}") from exc
    return Outcome("ok", "", steps)


def read_checkpoint(prefix, seconds: float = CASE_SECONDS) -> Outcome:
    """Open a V2 checkpoint with the TF-free reader and read every tensor (checksums checked)."""
    from graphsurgeon.errors import GraphSurgeonError
    from graphsurgeon.formats.bundle import BundleReader

    try:
        with time_bound(seconds):
            try:
                with BundleReader(prefix) as reader:
                    for name in reader.keys():
                        reader.shape(name), reader.dtype(name)
                        reader.read(name)
            except GraphSurgeonError as exc:
                if not _names_file(str(exc), [prefix, Path(str(prefix) + ".index")]) and \
                        "data-" not in str(exc):
                    raise Foreign(f"checkpoint: error message does not name the file: {exc}") from exc
                return Outcome("error", f"{type(exc).__name__}: {exc}")
    except (Foreign, Hang):
        raise
    except Exception as exc:  # noqa: BLE001
        raise Foreign(f"checkpoint: {type(exc).__name__}: {exc}") from exc
    return Outcome("ok")


# ----------------------------------------------------------------------------- the CLI
def cli_commands(model: str, workdir: Path, op: str | None = None) -> list[list[str]]:
    """Every reading command of the CLI (COMMAND_MODULES), with arguments that make it read ``model``."""
    cmds = [["ls", model], ["ls", model, "--json"], ["ls", model, "--tree"], ["ls", model, "--tensors", "--functions"],
            ["info", model], ["info", model, "--json"], ["collections", model], ["collections", model, "--json"],
            ["render", model, "--format", "dot", "-o", str(workdir / "cli.dot")],
            ["diff", model, model],
            ["tensorboard", model, "--logdir", str(workdir / "cli-tb")],
            ["signatures", model], ["signatures", model, "--json"],
            ["export", model, "-o", str(workdir / "cli-export")],
            ["edit", model, "--batch", "1", "--clear-devices", "-o", str(workdir / "cli-edit.meta")]]
    if op is not None:
        cmds += [["show", model, op], ["show", model, op, "--json"], ["show", model, op + ":0"],
                 ["prune", model, "--outputs", op, "-o", str(workdir / "cli-pruned.pb"), "--force"],
                 ["freeze", model, "--outputs", op, "-o", str(workdir / "cli-frozen.pb")]]
    return cmds


def run_cli(args: list[str]):
    """Run ``graphsurgeon ARGS`` in-process; returns ``(exit code, stdout, stderr)``.

    Raises :class:`Foreign` when the command failed in a way the CLI
    conventions forbid: a traceback, an "internal error", more than one
    ``error:`` line, or an exit status other than 0, 1 (2 for usage; diff: 0-2).
    """
    from click.testing import CliRunner
    from graphsurgeon.cli.main import cli

    runner = CliRunner()
    result = runner.invoke(cli, args, catch_exceptions=True)
    out, err = result.stdout, result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise Foreign(f"{' '.join(args)}: {type(result.exception).__name__}: {result.exception}")
    code = result.exit_code
    allowed = (0, 1, 2)
    if code not in allowed:
        raise Foreign(f"{' '.join(args)}: exit status {code}")
    if "internal error" in err or "Traceback" in err:
        raise Foreign(f"{' '.join(args)}: {err.strip()}")
    if code != 0 and not (args[0] == "diff" and code == 1):
        lines = [line for line in err.splitlines() if line.strip()]
        if len(lines) != 1 or not lines[0].startswith("error: "):
            raise Foreign(f"{' '.join(args)}: exit {code} with stderr {err!r}")
    return code, out, err


# ----------------------------------------------------------------------------- child processes
def limit_memory(limit: int = MEMORY_LIMIT) -> None:
    """``preexec_fn``: bound the child's address space (a MemoryError then, not a swapped machine)."""
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_bounded(code: str, timeout: float = 60, memory: int = MEMORY_LIMIT, cwd=None):
    """Run Python ``code`` in a child process under a memory and time bound; returns CompletedProcess."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          preexec_fn=lambda: limit_memory(memory), env=env, cwd=cwd or ROOT)


def cli_bounded(args: list[str], timeout: float = 60, memory: int = MEMORY_LIMIT, text: bool = True, cwd=None):
    """``graphsurgeon ARGS`` in a child process under a memory and time bound; returns CompletedProcess.

    ``text=False`` gives stdout and stderr as bytes (what a terminal would get).
    """
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", *args], capture_output=True,
                          text=text, timeout=timeout, preexec_fn=lambda: limit_memory(memory), env=env,
                          cwd=cwd or ROOT)


# ----------------------------------------------------------------------------- the long-mode worker
def _first_op(path) -> str | None:
    import graphsurgeon
    try:
        g = graphsurgeon.load(path)
        for op in g:
            return op.name
    except Exception:  # noqa: BLE001
        return None
    return None


def _where(exc: BaseException) -> str:
    """`` at file:line`` of the innermost frame of what caused ``exc`` (for failure reports)."""
    cause = exc.__cause__ or exc
    tb = cause.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return f" at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}" if tb else ""


def fuzz_target(target: Target, count: int, seed: int, workdir: Path, cli_every: int = 0,
                log=None, start: int = 0) -> dict:
    """Run ``count`` mutants of ``target`` through :func:`exercise` (and the CLI every ``cli_every``).

    Returns counts ``{"mutants", "ok", "error", "cli_runs", "failures": [...]}``;
    a failure is ``{"index", "mutator", "problem"}`` and the mutant is kept in
    ``workdir/failures`` to reproduce it.
    """
    import graphsurgeon

    data = target.source.read_bytes()
    original = None
    with contextlib.suppress(Exception):
        original = graphsurgeon.load(target.root / target.model if target.model != "." else target.root)
    op = None
    result = {"target": target.name, "kind": target.kind, "mutants": 0, "ok": 0, "error": 0, "cli_runs": 0,
              "failures": [], "seconds": 0.0}
    began = time.monotonic()
    for index, mutator, blob in mutants(data, count, seed, text=target.text, start=start,
                                        kind=target.kind):
        case_dir = workdir / "case"
        if case_dir.exists():
            shutil.rmtree(case_dir)
        case_dir.mkdir(parents=True)
        model = target.build(case_dir, blob)
        mutated = case_dir / target.name / target.file
        problem = None
        if log:
            log(json.dumps({"start": index, "mutator": mutator}))
        try:
            if target.kind in ("index", "data"):
                prefix = str(mutated)[: -len(".index")] if target.kind == "index" else \
                    str(mutated).split(".data-")[0]
                outcome = read_checkpoint(prefix)
                if index % 10 == 0:  # the graph beside it is not damaged: reading it now and then is enough
                    exercise(model, workdir=case_dir, deep=False, blame=[mutated, model])
            else:
                outcome = exercise(model, workdir=case_dir, original=original, blame=[mutated, model])
            result[outcome.status] += 1
            if cli_every and index % cli_every == 0:
                op = op or _first_op(model) or "x"
                for args in cli_commands(str(model), case_dir, op):
                    run_cli(args)
                    result["cli_runs"] += 1
        except (Foreign, Hang) as exc:
            problem = f"{type(exc).__name__}: {exc}{_where(exc)}"
        except BaseException as exc:  # noqa: BLE001 - anything else is a failure too
            problem = f"{type(exc).__name__}: {exc}"
        result["mutants"] += 1
        if problem:
            keep = workdir / "failures" / f"{target.name.replace(':', '_')}-{index}-{Path(target.file).name}"
            keep.parent.mkdir(parents=True, exist_ok=True)
            keep.write_bytes(blob)
            result["failures"].append({"index": index, "mutator": mutator, "problem": problem[:500],
                                       "kept": str(keep)})
    result["seconds"] = round(time.monotonic() - began, 1)
    return result


def _worker(argv: list[str]) -> int:
    """``worker NAME COUNT SEED WORKDIR CLI_EVERY``: fuzz one target, print the result as JSON."""
    name, count, seed, workdir, cli_every = argv[0], int(argv[1]), int(argv[2]), Path(argv[3]), int(argv[4])
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    targets = {t.name + "|" + t.file: t for t in all_targets()}
    target = targets[name]
    progress = workdir / "progress.jsonl"

    def log(line):
        with open(progress, "a") as handle:
            handle.write(line + "\n")

    result = fuzz_target(target, count, seed, workdir, cli_every=cli_every, log=log)
    (workdir / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        limit_memory()
        sys.exit(_worker(sys.argv[2:]))
    print(__doc__)


# ----------------------------------------------------------------------------- crafted bad models
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def _node(gd, name, op, inputs=(), **attrs):
    node = gd.node.add(name=name, op=op)
    node.input.extend(inputs)
    for key, value in attrs.items():
        node.attr[key].CopyFrom(value)
    return node


def _type(dtype: int):
    from graphsurgeon.vocab import protos
    value = protos.AttrValue()
    value.type = dtype
    return value


def _const(gd, name, dims, dtype=1, content=None, floats=(), ints=()):
    from graphsurgeon.vocab import protos
    value = protos.AttrValue()
    tensor = value.tensor
    tensor.dtype = dtype
    for d in dims:
        tensor.tensor_shape.dim.add(size=d)
    if content is not None:
        tensor.tensor_content = content
    tensor.float_val.extend(floats)
    tensor.int_val.extend(ints)
    return _node(gd, name, "Const", dtype=_type(dtype), value=value)


def small_graph():
    """A GraphDef TensorFlow would accept: x (Placeholder) -> Relu -> Identity."""
    from graphsurgeon.vocab import protos
    gd = protos.GraphDef()
    gd.versions.producer = 1000
    shape = protos.AttrValue()
    shape.shape.dim.add(size=-1)
    shape.shape.dim.add(size=4)
    _node(gd, "x", "Placeholder", dtype=_type(1), shape=shape)
    _node(gd, "relu", "Relu", ["x"], T=_type(1))
    _node(gd, "out", "Identity", ["relu"], T=_type(1))
    return gd


def nested_attr_graph(depth: int):
    """A graph whose one attr is a func attr nested ``depth`` levels deep."""
    gd = small_graph()
    value = gd.node[2].attr["nested"]
    for _ in range(depth):
        value = value.func.attr["x"]
    value.i = 1
    return gd


def crafted_graphs() -> dict:
    """name -> GraphDef of one kind of semantic damage each (all parse)."""
    from graphsurgeon.vocab import protos
    cases = {}

    gd = small_graph()
    gd.node[1].input[0] = "nowhere:0"
    gd.node[2].input.append("^ghost")
    gd.node[2].input.append("relu:99999999999")
    gd.node[2].input.append("relu:\u00b2")       # a digit to str.isdigit, not to int
    gd.node[2].input.append("x:" + "9" * 5000)  # more digits than int() takes
    cases["dangling_inputs"] = gd

    gd = small_graph()
    _node(gd, "relu", "Sigmoid", ["x"], T=_type(1))
    cases["duplicate_names"] = gd

    gd = small_graph()
    _node(gd, "call", "StatefulPartitionedCall", ["x"])
    gd.node[-1].attr["f"].func.name = "no_such_function"
    _node(gd, "direct", "no_such_function_either", ["x"])
    _node(gd, "cond", "If", ["x", "x"], then_branch=protos.AttrValue(), else_branch=protos.AttrValue())
    gd.node[-1].attr["then_branch"].func.name = "missing_then"
    cases["missing_functions"] = gd

    gd = small_graph()
    _const(gd, "huge", [10**12], floats=[1.0])
    _const(gd, "huge2d", [10**6, 10**6], floats=[1.0, 2.0])
    _const(gd, "huge_string", [10**12], dtype=7)
    gd.node[-1].attr["value"].tensor.string_val.append(b"x")
    _const(gd, "many_dims", [2] * 2000, floats=[0.5])
    _node(gd, "fill", "Fill", ["shape", "huge"], T=_type(1))
    _const(gd, "shape", [2], dtype=3, ints=[10**9, 10**9])
    cases["enormous_consts"] = gd

    gd = small_graph()
    _const(gd, "short_content", [4], content=b"\x00\x00\x80")          # 3 bytes for 4 floats
    _const(gd, "too_many_values", [2], floats=[1.0, 2.0, 3.0, 4.0, 5.0])
    _const(gd, "negative_dim", [-5, 3], floats=[1.0])
    _const(gd, "odd_complex", [1], dtype=8, floats=[])
    gd.node[-1].attr["value"].tensor.scomplex_val.extend([1.0, 2.0, 3.0])
    _const(gd, "bad_dtype", [2], dtype=999, floats=[1.0])
    _const(gd, "resource_const", [1], dtype=20)
    cases["inconsistent_consts"] = gd

    gd = small_graph()
    split = _node(gd, "split", "Split", ["axis", "x"], T=_type(1))
    split.attr["num_split"].i = 10**12
    _const(gd, "axis", [], dtype=3, ints=[0])
    unpack = _node(gd, "unpack", "Unpack", ["x"], T=_type(1))
    unpack.attr["num"].i = -3
    ident = _node(gd, "identn", "IdentityN", ["x"])
    ident.attr["T"].list.type.extend([1, 999, 0])
    _node(gd, "reads_far", "Identity", ["unknown_op_output:4000000000"], T=_type(1))
    _node(gd, "unknown_op_output", "SomeCustomOp", [])
    cases["absurd_output_counts"] = gd

    gd = small_graph()
    gd.node[1].input.append("relu")             # a cycle through itself
    gd.node[0].input.append("out")              # and a longer one
    cases["cycles"] = gd

    gd = small_graph()
    shape = gd.node[0].attr["shape"].shape
    shape.dim.add(size=10**12)
    rec = gd.node[1].attr["_output_shapes"].list.shape.add()
    for _ in range(3000):
        rec.dim.add(size=2)
    _node(gd, "reshape", "Reshape", ["x", "bigshape"], T=_type(1))
    _node(gd, "bigshape", "Placeholder", dtype=_type(3))
    gd.node[-1].attr["shape"].shape.dim.add(size=10**12)
    cases["enormous_shapes"] = gd

    gd = small_graph()
    gd.node[1].op = ""
    gd.node[2].name = ""
    _node(gd, "a:0", "NoOp")
    _node(gd, "^b", "NoOp")
    _node(gd, "x" * 5000, "NoOp")
    _node(gd, "odd_attrs", "Relu", ["x"], T=_type(2**30))
    gd.node[-1].attr["_class"].list.s.extend([b"loc:@nowhere", b"\xff\xfe"])
    gd.node[-1].attr["s"].s = b"\xff\xfe\x00"
    cases["odd_names_and_attrs"] = gd

    # Each level is three messages (AttrValue, NameAttrList, map entry): 25 levels = 75, under the limit.
    cases["nested_attrs_25"] = nested_attr_graph(25)

    # Found by the long run: an Identity cycle after a restore looped forever in
    # shapes._restored_shapes; a "shape" attr holding an int reached len().
    gd = small_graph()
    restore = _node(gd, "save/RestoreV2", "RestoreV2", ["prefix", "names", "slices"])
    restore.attr["dtypes"].list.type.extend([1, 1])
    _node(gd, "id1", "Identity", ["save/RestoreV2:0", "id2"], T=_type(1))
    _node(gd, "id2", "Identity", ["id1"], T=_type(1))
    var = _node(gd, "v", "VarHandleOp", dtype=_type(1))
    var.attr["shape"].i = 3
    _node(gd, "assign", "AssignVariableOp", ["v", "save/RestoreV2:1"], dtype=_type(1))
    gd.node[0].attr["shape"].ClearField("shape")
    gd.node[0].attr["shape"].i = 5
    cases["restore_cycles_and_int_shapes"] = gd

    gd = small_graph()
    f = gd.library.function.add()
    f.signature.name = "f"
    f.signature.input_arg.add(name="a", type=1)
    f.signature.output_arg.add(name="r", type=1)
    f.node_def.add(name="self_call", op="f", input=["a"])
    f.node_def.add(name="bad_ref", op="Identity", input=["self_call:r:zz", "a:b:c:d", "nowhere:out:0"])
    f.ret["r"] = "self_call:r:0"
    g2 = gd.library.function.add()
    g2.signature.name = "f"   # duplicate function name
    _node(gd, "call_f", "f", ["x"])
    _node(gd, "pcall", "PartitionedCall", ["x"])
    gd.node[-1].attr["f"].func.name = "f"
    cases["recursive_functions"] = gd
    return cases


def crafted_files(workdir: Path) -> list[tuple[str, Path, str]]:
    """``(case, path to pass, expect)`` for bad files of every kind; expect is ``ok``, ``error`` or ``any``.

    Built in ``workdir`` from the fixtures (links to the untouched files).
    """
    from graphsurgeon.vocab import protos

    workdir = Path(workdir)
    cases: list[tuple[str, Path, str]] = []

    def write(rel: str, data: bytes) -> Path:
        path = workdir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    # Zero-length files of every kind.
    for rel in ("empty/model.meta", "empty/model.pb", "empty/model.pbtxt", "empty/graph"):
        cases.append((f"zero-length {Path(rel).name}", write(rel, b""), "error"))
    write("empty_sm/saved_model.pb", b"")
    cases.append(("zero-length saved_model.pb", workdir / "empty_sm", "error"))

    # Files of another kind under a graph's name.
    cases.append(("PNG as .pb", write("other/image.pb", PNG), "error"))
    cases.append(("PNG as .meta", write("other/image.meta", PNG), "error"))
    cases.append(("PNG without extension", write("other/picture", PNG), "error"))
    cases.append(("JSON as .pbtxt", write("other/config.pbtxt", b'{"node": [{"name": "x"}]}'), "error"))
    cases.append(("JSON as .pb", write("other/config.pb", b'[1, 2, 3]\n'), "error"))
    cases.append(("text as .pb", write("other/readme.pb", b"This is not a graph.\n"), "error"))
    cases.append(("random bytes", write("other/noise.meta", bytes(random.Random(7).randrange(256)
                                                                  for _ in range(4096))), "error"))
    if FIXTURES.is_dir():
        manifest = FIXTURES / "manifest.json"
        if manifest.is_file():
            cases.append(("manifest.json", manifest, "error"))
        tf1 = FIXTURES / "mnist_bn_elu_tf1"
        for part in ("model.ckpt.index", "model.ckpt.data-00000-of-00001"):
            lone = workdir / "lone_ckpt" / part
            lone.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(tf1 / part, lone)
            cases.append((f"checkpoint {part} alone", lone, "error"))
        index_as_graph = workdir / "index_as_graph" / "model.pb"
        index_as_graph.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tf1 / "model.ckpt.index", index_as_graph)
        cases.append(("checkpoint .index renamed .pb", index_as_graph, "error"))
        no_ext = workdir / "index_no_ext" / "weights"
        no_ext.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tf1 / "model.ckpt.index", no_ext)
        cases.append(("checkpoint .index without extension", no_ext, "error"))
        sm2 = FIXTURES / "mnist_bn_elu_savedmodel_tf2"
        if (sm2 / "fingerprint.pb").is_file():
            cases.append(("fingerprint.pb as a graph", sm2 / "fingerprint.pb", "any"))
    keras = CORPUS / "tfnet_keras_lstm_from_sequential" / "keras_metadata.pb"
    if keras.is_file():
        cases.append(("keras_metadata.pb as a graph", keras, "error"))
    empty_dir = workdir / "empty_dir"
    empty_dir.mkdir(exist_ok=True)
    cases.append(("empty directory", empty_dir, "error"))
    cases.append(("missing file", workdir / "no_such_model.meta", "error"))
    cases.append(("/dev/null", Path("/dev/null"), "error"))
    fifo = workdir / "fifo.pb"
    if not fifo.exists():
        os.mkfifo(fifo)
    cases.append(("a FIFO (would block forever)", fifo, "error"))
    cases.append(("name too long", workdir / ("x" * 300 + ".pb"), "error"))

    # Text graphs with syntax errors.
    good = b'node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } }\n'
    syntax = {
        "unbalanced brace": good[:-3],
        "extra brace": good + b"}\n",
        "unknown field": good.replace(b"op:", b"opp:"),
        "bad enum": good.replace(b"DT_FLOAT", b"DT_NOPE"),
        "bad string escape": good.replace(b'"x"', b'"x\\q"'),
        "unterminated string": good.replace(b'"x"', b'"x'),
        "int overflow": b'node { name: "x" op: "Const" attr { key: "value" value { tensor { dtype: DT_FLOAT '
                        b'tensor_shape { dim { size: 999999999999999999999999 } } } } } }\n',
        "not utf-8": good.replace(b'"x"', b'"\xff\xfe"'),
        "comment only": b"# nothing here\n# at all\n",
        "deep nesting (5000)": b'node { name: "x" op: "NoOp" attr { key: "a" value { '
                               + b'func { attr { key: "x" value { ' * 5000 + b"i: 1" + b" } } }" * 5000
                               + b" } } }\n",
    }
    for name, data in syntax.items():
        # protobuf's text parser lets an unknown escape through (with a warning)
        expect = "any" if name == "bad string escape" else "error"
        cases.append((f"text: {name}", write(f"text/{name.replace(' ', '_')}.pbtxt", data), expect))

    # Semantic damage, binary and text.
    from google.protobuf import text_format
    for name, gd in crafted_graphs().items():
        cases.append((f"graph: {name}", write(f"graphs/{name}.pb", gd.SerializeToString()), "any"))
        try:
            text = text_format.MessageToString(gd).encode("utf-8")
        except Exception:  # noqa: BLE001
            continue
        cases.append((f"graph (text): {name}", write(f"graphs/{name}.pbtxt", text), "any"))
    deep = nested_attr_graph(60)
    cases.append(("binary nesting past protobuf's limit", write("graphs/nested_150.pb", deep.SerializeToString()),
                  "error"))

    # Meta graphs with damaged parts.
    meta = protos.MetaGraphDef()
    meta.graph_def.CopyFrom(small_graph())
    meta.collection_def["bad_nodes"].node_list.value.extend(["nowhere:0", "", "^x", "x:99999999999"])
    meta.collection_def["variables"].bytes_list.value.append(b"\xff\x00garbage")
    meta.collection_def["trainable_variables"].bytes_list.value.append(b"\x0a\xff\xff\xff\xff\x0f")
    item = meta.collection_def["cond_context"].any_list.value.add()
    item.type_url = "type.googleapis.com/tensorflow.CondContextDef"
    item.value = b"\x12\x05abc"
    meta.signature_def["serving_default"].inputs["x"].name = "nowhere:0"
    meta.signature_def["serving_default"].outputs["y"].coo_sparse.values_tensor_name = "gone:1"
    meta.saver_def.filename_tensor_name = "nowhere:0"
    meta.meta_info_def.stripped_op_list.op.add(name="Relu").output_arg.add(name="o", number_attr="N")
    meta.asset_file_def.add(filename="../../../etc/passwd").tensor_info.name = "asset:0"
    cases.append(("meta: damaged collections, signatures, saver, op list",
                  write("meta/damaged.meta", meta.SerializeToString()), "any"))

    # SavedModel directories missing a piece.
    if FIXTURES.is_dir():
        for name in ("mnist_bn_elu_savedmodel_tf1", "mnist_bn_elu_savedmodel_tf2"):
            src = FIXTURES / name
            if not src.is_dir():
                continue
            no_pb = workdir / "sm_no_pb" / name
            shutil.copytree(src / "variables", no_pb / "variables")
            cases.append((f"SavedModel without saved_model.pb ({name})", no_pb, "error"))
            no_vars = workdir / "sm_no_vars" / name
            no_vars.mkdir(parents=True)
            shutil.copy(src / "saved_model.pb", no_vars / "saved_model.pb")
            cases.append((f"SavedModel without variables/ ({name})", no_vars, "ok"))
            empty_sm = protos.SavedModel()
            empty_sm.saved_model_schema_version = 1
            cases.append(("SavedModel with no MetaGraphDef", write("sm_empty/saved_model.pb",
                                                                     empty_sm.SerializeToString()), "error"))

        # Checkpoints missing a shard, with a corrupted or truncated index, or a damaged state file.
        tf1 = FIXTURES / "mnist_bn_elu_tf1"
        if tf1.is_dir():
            def ckpt_copy(label, skip=(), edit=None):
                dest = workdir / "ckpt" / label
                dest.mkdir(parents=True)
                for item in tf1.iterdir():
                    if item.name not in skip:
                        shutil.copy(item, dest / item.name)
                if edit:
                    edit(dest)
                return dest

            cases.append(("checkpoint missing its data shard",
                          ckpt_copy("no_shard", skip=("model.ckpt.data-00000-of-00001",)), "ok"))
            cases.append(("checkpoint missing its index", ckpt_copy("no_index", skip=("model.ckpt.index",)), "ok"))

            def corrupt_index(dest):
                data = bytearray((dest / "model.ckpt.index").read_bytes())
                data[100:140] = b"\xff" * 40
                (dest / "model.ckpt.index").write_bytes(bytes(data))
            cases.append(("checkpoint with a corrupted index", ckpt_copy("bad_index", edit=corrupt_index), "ok"))

            def truncate_index(dest):
                (dest / "model.ckpt.index").write_bytes((dest / "model.ckpt.index").read_bytes()[:50])
            cases.append(("checkpoint with a truncated index", ckpt_copy("short_index", edit=truncate_index),
                          "ok"))

            def truncate_data(dest):
                shard = dest / "model.ckpt.data-00000-of-00001"
                shard.write_bytes(shard.read_bytes()[:1000])
            cases.append(("checkpoint with a truncated shard", ckpt_copy("short_data", edit=truncate_data), "ok"))

            def bad_state(dest):
                (dest / "checkpoint").write_bytes(b'model_checkpoint_path: "bad\\x"\nall_model_checkpoint_paths: "'
                                                  + b"y" * 400 + b'"\n')
            cases.append(("checkpoint state with a bad escape", ckpt_copy("bad_state", edit=bad_state), "any"))

            def long_state(dest):
                (dest / "checkpoint").write_bytes(b'model_checkpoint_path: "' + b"y" * 400 + b'"\n')
                (dest / "model.ckpt.meta").rename(dest / "other.meta")
            cases.append(("checkpoint state naming a 400-character path", ckpt_copy("long_state", edit=long_state),
                          "any"))
    return cases


def checkpoint_prefixes(cases) -> list[tuple[str, str]]:
    """The checkpoint prefixes among :func:`crafted_files` cases (for the bundle reader)."""
    out = []
    for name, path, _ in cases:
        if name.startswith("checkpoint ") and path.is_dir() and (path / "model.ckpt.meta").exists():
            out.append((name, str(path / "model.ckpt")))
    return out
