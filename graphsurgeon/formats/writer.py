"""Write a graph back to disk: one writer, one output policy, atomic.

What a path means (decided here once, for every command and the Python API):

- ``X.meta``: the MetaGraphDef (a GraphDef gets one around it). When the
  graph carries *new* variable values (the temporary checkpoint a re-head or
  a transplant made), they are written beside it as the checkpoint ``X``
  (``X.index``, ``X.data-*``); otherwise the values stay in the checkpoint
  the graph came with, and a note says how to restore from it.
- ``X.pb`` / ``X.pbtxt``: the GraphDef alone, binary / text (a note says
  what a MetaGraphDef held that a GraphDef cannot: collections, signatures,
  the saver, variable values).
- ``saved_model.pb`` or a directory (a path without extension, or an existing
  directory): a SavedModel when the graph came from one -- assembled in a
  temporary directory beside the target (the rest of the source directory
  copied unchanged, symbolic links copied as links and never followed) and
  renamed into place, with ``fingerprint.pb`` recomputed when
  ``saved_model.pb`` changed; a SavedModel too when the graph is one built in
  memory (:meth:`graphsurgeon.Graph.as_saved_model`, what ``export`` makes):
  ``saved_model.pb``, the checkpoint as ``variables/variables.*`` (V2 copied
  byte for byte, V1 converted) and the assets under ``assets/``
  (:mod:`graphsurgeon.formats.saved_model_parts`); otherwise a checkpoint directory:
  ``model.ckpt.meta``, the checkpoint's files (copied byte for byte) as
  ``model.ckpt.*`` and a ``checkpoint`` state file.
- Any other extension is refused (a binary graph under ``.txt`` helps nobody).

An existing output is replaced (as ``cc -o`` and ``dot -o`` do); writing
over the input needs ``in_place=True`` (CLI ``--in-place``); an existing
directory that holds anything but a model is refused. Single files are
written through a temporary file and renamed; directories are assembled
beside the target and renamed into place.

Binary stays binary and text stays text unless the path or ``encoding``
says otherwise. Nothing is re-encoded that was not edited: when the protos
still equal the file they came from, its bytes are written back verbatim;
otherwise protobuf's deterministic serialization is written, which keeps
unknown fields.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputError, UsageError
from ..vocab import protos
from . import checkpoint as _checkpoint
from .fingerprint import refresh_fingerprint
from .protofile import (
    atomic_copy,
    atomic_write,
    exchange,
    parse_binary,
    parse_text,
    read_file,
    serialize,
    streamable,
    sweep_stale,
    temp_prefix,
    write_graph_def,
)
from .saved_model_parts import write_assets, write_variables

FORMATS = ("meta", "savedmodel", "graphdef", "checkpoint")
ENCODINGS = ("binary", "text")
FILE_SUFFIXES = {".meta": "meta", ".pb": "graphdef", ".pbtxt": "graphdef"}
CHECKPOINT_NAME = "model.ckpt"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def as_meta_graph(graph):
    """A new Graph whose MetaGraphDef wraps a copy of a plain GraphDef graph (to give it collections).

    Example:
        >>> g = as_meta_graph(graphsurgeon.load("frozen.pb"))
        >>> g.add_to_collection("outputs", "logits:0")
        >>> g.save("frozen.meta")
    """
    return graph.root.as_meta_graph()


def input_location(graph) -> Path | None:
    """Where the graph was read from: the graph file, or the SavedModel directory."""
    model = graph.root.model
    if model is None or not model.on_disk:
        return None
    return model.file.parent if model.format == "savedmodel" else model.file


def _same(a: Path, b: Path | None) -> bool:
    try:
        if b is None or not a.exists() or not b.exists():
            return False
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # a name too long, a NUL byte: not the same existing file
        return False


def _is_directory_path(path: Path) -> bool:
    return path.is_dir() or str(path).endswith(os.sep) or path.suffix == ""


def output_format(source_format: str, path: Path, format: str | None = None) -> tuple[str, Path]:
    """``(format, target)`` for writing a graph loaded as ``source_format`` to ``path``.

    Raises:
        UsageError: the extension says no format (``out.txt``).
    """
    if format is not None:
        if format not in FORMATS:
            raise UsageError(f"unknown output format {format!r}", hint="one of " + ", ".join(FORMATS))
        if format == "savedmodel" and path.name in SAVED_MODEL_FILES:
            path = path.parent
        return format, path
    if path.name in SAVED_MODEL_FILES:
        return "savedmodel", path.parent
    if path.suffix in FILE_SUFFIXES and not path.is_dir():
        return FILE_SUFFIXES[path.suffix], path
    if _is_directory_path(path):
        return ("savedmodel" if source_format == "savedmodel" else "checkpoint"), path
    raise UsageError(f"{path}: cannot tell what to write from {path.suffix!r}",
                     hint="name a .meta (MetaGraphDef), .pb or .pbtxt (GraphDef) file, or a directory")


def check_output(model_path, output, in_place: bool = False) -> None:
    """Refuse early, before any work, an output the writer would refuse.

    Checks what the path alone tells: no output and no ``in_place``; an
    extension that names no format; the output is the input (without
    ``in_place``); an existing directory that holds something other than a model.
    """
    if output is None:
        if not in_place:
            raise UsageError("no output given", hint="-o OUT, or --in-place to replace the input")
        return
    if in_place:
        raise UsageError("give either -o OUT or --in-place, not both")
    path = Path(output)
    source = Path(model_path)
    try:
        source_is_saved_model = (source / "saved_model.pb").exists()
        source_is_dir = source.is_dir()
    except (OSError, ValueError):  # a name too long, a NUL byte: no such input; reading MODEL says so
        source_is_saved_model = source_is_dir = False
    fmt, target = output_format("savedmodel" if source_is_saved_model else "meta", path)
    if _same(target, source) or (source_is_dir and target.exists() and target.resolve().parent == source.resolve()
                                 and target.name in SAVED_MODEL_FILES + ("checkpoint",)):
        raise OutputError(f"{target}: is the input; refusing to overwrite it",
                          hint="write elsewhere, or use --in-place")
    if fmt in ("savedmodel", "checkpoint"):
        _check_directory(target)


def _looks_like_model_dir(path: Path) -> bool:
    try:
        names = {p.name for p in path.iterdir()}
    except OSError:
        return False
    if not names:
        return True
    return bool(names & set(SAVED_MODEL_FILES)) or "checkpoint" in names or any(
        n.endswith((".meta", ".index")) for n in names)


def _check_directory(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise OutputError(f"{target}: exists and is not a directory",
                          hint="name a new directory, or a .meta / .pb file")
    if target.is_dir() and not _looks_like_model_dir(target):
        raise OutputError(f"{target}: holds files that are not a model; refusing to replace it",
                          hint="name a new or empty directory")


def _message_for(graph, fmt: str):
    root = graph.root
    if fmt == "graphdef":
        return root.graph_def
    if fmt in ("meta", "checkpoint"):
        if root.meta_graph is not None:
            return root.meta_graph
        meta = protos.MetaGraphDef()
        meta.graph_def.CopyFrom(root.graph_def)
        return meta
    # savedmodel
    if root.format != "savedmodel":
        raise UsageError(f"cannot write a SavedModel from a {root.format} graph",
                         hint="graphsurgeon export builds one, with a signature and the variables; in Python "
                              "gs.export(g) or g.as_saved_model()")
    return root.model.container


def save(graph, path=None, *, format: str | None = None, encoding: str | None = None,
         in_place: bool = False, force: bool = True, notes: list | None = None) -> Path:
    """Write ``graph`` to ``path`` (see the module documentation); returns the path written.

    Args:
        graph: the graph (a function body is refused: save the top level).
        path: output file or directory; None means the input itself (needs ``in_place``).
        format: ``"meta"``, ``"graphdef"``, ``"savedmodel"`` or ``"checkpoint"``
            (a directory); default from the path (module documentation).
        encoding: ``"binary"`` or ``"text"``; default the input's (text for ``.pbtxt``).
        in_place: allow writing over the input.
        force: replace an existing output (the default); False refuses it.
        notes: a list to append what the writer did beyond writing the graph
            (checkpoint files written or left where they are, a SavedModel's
            ``fingerprint.pb`` recomputed or removed, what a GraphDef cannot hold).

    Raises:
        OutputError: the output is the input (without ``in_place``), exists when
            ``force`` is False, is a directory holding other files; its parent
            directory is missing; the proto is too large.
        UsageError: the format cannot be written from this graph.

    Example:
        >>> g = graphsurgeon.load("model.ckpt.meta")
        >>> g.add_to_collection("reuse_ops", "X:0", "train/training_op")
        >>> g.save("edited.meta")
        PosixPath('edited.meta')
    """
    if graph.root is not graph:
        raise UsageError(f"function {graph.function_name!r} is part of a graph: save the top-level graph")
    root = graph.root
    model = root.model
    src_format = root.format
    source = input_location(root)
    notes = notes if notes is not None else []
    if path is None:
        if not in_place:
            raise UsageError("no output path given", hint="give one, or ask for in_place=True (CLI --in-place)")
        if source is None:
            raise UsageError("this graph was not loaded from a file: give an output path")
        fmt = format or src_format
        if fmt != src_format:
            raise UsageError(f"cannot write a {fmt} over the {src_format} it was loaded from: give an output path")
        target = source
    else:
        fmt, target = output_format(src_format, Path(path), format)
    if encoding is None:
        if target.suffix == ".pbtxt":
            encoding = "text"
        elif model is not None and fmt in (model.format, "checkpoint" if model.format == "meta" else None):
            encoding = model.encoding
        else:
            encoding = "binary"
    if encoding not in ENCODINGS:
        raise UsageError(f"unknown encoding {encoding!r}", hint="binary or text")
    message = _message_for(root, fmt)

    is_input = _same(target, source) or (source is not None and fmt == "savedmodel" and model is not None
                                         and _same(target, model.path))
    if is_input and not in_place:
        raise OutputError(f"{target}: is the input; refusing to overwrite it",
                          hint="write elsewhere, or ask for in_place=True (CLI --in-place)")
    if not is_input and (target.exists() or target.is_symlink()) and not force:
        raise OutputError(f"{target}: already exists", hint="replace it with force=True")
    data = _unchanged_bytes(root, "meta" if fmt == "checkpoint" else fmt, encoding, message)
    edited = data is None  # else the source file's own bytes: a copy
    if edited and fmt == "graphdef" and streamable(message, encoding):
        # Written to the file node by node: a large frozen graph is not held twice in memory.
        def data(handle, message=message, target=target):
            write_graph_def(handle, message, target)
    elif edited:
        data = serialize(message, encoding, target)
    if fmt == "savedmodel":
        if not is_input:
            _check_directory(target)
        _write_saved_model(root, target, data, encoding, edited, notes)
    elif fmt == "checkpoint":
        if not is_input:
            _check_directory(target)
        _write_checkpoint_dir(root, target, data, encoding, notes)
    else:
        if target.is_dir():
            raise OutputError(f"{target}: is a directory", hint=f"give a file name for the {fmt} output")
        if fmt == "meta" and root.checkpoint_is_new:
            prefix = str(target)[: -len(".meta")] if str(target).endswith(".meta") else str(target)
            _write_checkpoint_files(root.checkpoint, prefix)
            notes.append(f"wrote the checkpoint {prefix} beside it ({prefix}.index, {prefix}.data-*)")
        atomic_write(target, data)
        if fmt == "meta" and root.checkpoint and not root.checkpoint_is_new and not is_input:
            notes.append(f"the variables stay in the checkpoint {root.checkpoint} "
                         "(saver.restore(sess, that prefix) after import_meta_graph)")
        if fmt == "graphdef" and root.meta_graph is not None:
            kept_out = [what for what, present in (
                ("collections", len(root.meta_graph.collection_def)),
                ("signatures", len(root.meta_graph.signature_def)),
                ("the saver", root.meta_graph.HasField("saver_def"))) if present]
            if kept_out:
                notes.append(f"a GraphDef holds no {', '.join(kept_out)}: write a .meta to keep them")
    return target


def unchanged_on_disk(graph) -> bool:
    """Whether ``graph`` is still exactly what its files hold (protos equal to the file, its own checkpoint).

    What runs a model in TensorFlow asks this to load an unedited model from
    its files with TensorFlow's own loader; an edited one is saved first.
    """
    root = graph.root
    model = root.model
    if model is None or not model.on_disk or root.checkpoint != model.checkpoint:
        return False
    return _unchanged_bytes(root, model.format, model.encoding, _message_for(root, model.format)) is not None


def _unchanged_bytes(graph, fmt: str, encoding: str, message) -> bytes | None:
    """The source file's bytes when they still hold exactly ``message`` (so an unedited save is a copy)."""
    model = graph.model
    if model is None or not model.on_disk or fmt != model.format or encoding != model.encoding:
        return None
    try:
        data = read_file(model.file)
        parsed = parse_text(model.file, data, fmt) if encoding == "text" else parse_binary(data, fmt)
    except Exception:  # noqa: BLE001 - the file changed or went: serialize instead
        return None
    # Protobuf equality compares every field, unknown fields included.
    return data if parsed == message else None


def stage_directory(target: Path) -> Path:
    """A new empty directory beside ``target`` to assemble it in (see :func:`commit_directory`).

    What killed writers of ``target`` left there goes first.
    """
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{target}: directory {parent} does not exist")
    sweep_stale(parent, target.name)
    return Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=parent))


def commit_directory(tmp: Path, target: Path) -> None:
    """Put ``tmp``, assembled by :func:`stage_directory`, in ``target``'s place (``tmp`` is gone if that fails)."""
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 directories
        _replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def staged_directory(target: Path):
    """Assemble directory ``target`` in the directory this yields; it takes ``target``'s place when the
    block ends, and is deleted if the block fails: a directory output is written whole or not at all."""
    tmp = stage_directory(target)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    commit_directory(tmp, target)


def _write_saved_model(graph, target: Path, data: bytes, encoding: str, edited: bool,
                       notes: list | None = None) -> None:
    with staged_directory(target) as tmp:
        name = "saved_model.pbtxt" if encoding == "text" else "saved_model.pb"
        if not graph.model.on_disk:
            # Built in memory (export): the graph's checkpoint and assets make the rest.
            for note in (write_variables(graph.checkpoint, tmp, graph.model.checkpoint_keys),
                         write_assets(graph.model.assets, tmp)):
                if note and notes is not None:
                    notes.append(note)
            atomic_write(tmp / name, data)
            edited = False  # no fingerprint.pb to refresh: TensorFlow's builder writes none either
        else:
            _copy_tree(graph.model.file.parent, tmp, skip=("saved_model.pb", "saved_model.pbtxt"))
            atomic_write(tmp / name, data)
        if edited:
            # The copied fingerprint.pb describes the source model: recompute it from the
            # final files (saved_model.pb, variables/), or drop it when that is impossible.
            status = refresh_fingerprint(tmp)
            if notes is not None and status == "rewritten":
                notes.append("fingerprint.pb recomputed for the edited model")
            elif notes is not None and status.startswith("removed"):
                notes.append(f"fingerprint.pb {status} (TensorFlow loads a SavedModel without one)")


def _write_checkpoint_files(source_prefix: str | None, prefix: str) -> list[Path]:
    """Copy the checkpoint at ``source_prefix`` to ``prefix``, file by file, byte for byte (each atomically)."""
    if not source_prefix:
        return []
    written = []
    for part in _checkpoint.checkpoint_files(source_prefix):
        suffix = str(part)[len(str(source_prefix)):]
        target = Path(prefix + suffix)
        if _same(part, target):
            continue
        atomic_copy(part, target)
        written.append(target)
    return written


def _write_checkpoint_dir(graph, target: Path, data: bytes, encoding: str, notes: list) -> None:
    """A checkpoint directory: ``model.ckpt.meta``, the checkpoint's files as ``model.ckpt.*``, ``checkpoint``."""
    with staged_directory(target) as tmp:
        prefix = str(tmp / CHECKPOINT_NAME)
        copied = _write_checkpoint_files(graph.checkpoint, prefix)
        atomic_write(Path(prefix + ".meta"), data)
        if copied:
            _checkpoint.write_state_file(tmp, CHECKPOINT_NAME)
        else:
            notes.append("no checkpoint goes with this graph: the directory holds the graph alone")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _copy_tree(src: Path, dst: Path, skip: tuple[str, ...]) -> None:
    """Copy ``src`` into the existing ``dst``; links are copied as links (never followed).

    A pipe, socket or device inside the model is refused with an OutputError
    naming it: copying one would block or never end, and skipping it would
    write a model that silently differs from its source.
    """
    for directory, dirnames, filenames in os.walk(src, followlinks=False):
        rel = Path(directory).relative_to(src)
        out_dir = dst / rel
        for name in list(dirnames):
            s = Path(directory) / name
            if s.is_symlink():
                os.symlink(os.readlink(s), out_dir / name)
                dirnames.remove(name)
            else:
                (out_dir / name).mkdir()
                shutil.copystat(s, out_dir / name)
        for name in filenames:
            if rel == Path(".") and name in skip:
                continue
            s = Path(directory) / name
            if s.is_symlink():
                os.symlink(os.readlink(s), out_dir / name)
                continue
            if not stat.S_ISREG(s.lstat().st_mode):
                raise _special(s)
            try:
                shutil.copy2(s, out_dir / name)
            except shutil.SpecialFileError:  # swapped for a pipe since the check
                raise _special(s) from None


def _special(path: Path) -> OutputError:
    return OutputError(f"{path}: is not a regular file (a pipe, socket or device), which a SavedModel "
                       "cannot hold; refusing to copy the model", hint="remove it from the model directory")


def _replace(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``, moving an existing target aside first and deleting it after."""
    if not (target.exists() or target.is_symlink()):
        os.rename(tmp, target)
        return
    if target.is_dir() and not target.is_symlink() and exchange(tmp, target):
        # One atomic step: a kill at any moment leaves the old or the new directory.
        shutil.rmtree(tmp, ignore_errors=True)
        return
    backup = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".old", dir=tmp.parent))
    aside = backup / "old"
    os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(aside, target)
        shutil.rmtree(backup, ignore_errors=True)
        raise
    shutil.rmtree(backup, ignore_errors=True)
