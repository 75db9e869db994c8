"""Write a graph back to disk: the format it came from (or the one asked), atomically.

- ``.meta`` and GraphDef outputs are one file, written through a temporary
  file in the same directory and renamed over the target.
- A SavedModel output is a directory: it is assembled in a temporary
  directory beside the target (the rest of the source directory --
  ``variables/``, ``assets/``, ``fingerprint.pb``, ``keras_metadata.pb``... --
  copied unchanged, symbolic links copied as links and never followed), then
  renamed into place. When ``saved_model.pb`` changed, a copied
  ``fingerprint.pb`` would be stale: it is recomputed as TensorFlow would
  (formats/fingerprint.py), or removed if that cannot be done exactly.
- The input is never overwritten unless ``in_place=True``; any other existing
  output only with ``force=True``.
- Binary stays binary and text stays text unless ``encoding`` says otherwise.
- Nothing is re-encoded that was not edited: when the protos still equal the
  file they came from, its bytes are written back verbatim (text comments and
  map order included); otherwise protobuf's deterministic serialization is
  written, which keeps unknown fields.

Checkpoints are not copied: a ``.meta`` written from a checkpoint-backed graph
is the graph alone. The variables stay where they are; to use them, import the
new ``.meta`` and restore from the original prefix::

    saver = tf.compat.v1.train.import_meta_graph("edited.meta")
    saver.restore(sess, "fixtures/models/mnist_bn_elu_tf1/model.ckpt")

(or copy the ``.index``/``.data-*`` files next to it yourself).
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

from .. import protos
from ..errors import OutputError, UsageError
from .protofile import (atomic_write, exchange, parse_binary, parse_text, read_file, serialize, sweep_stale,
                        temp_prefix)

FORMATS = ("meta", "savedmodel", "graphdef")
ENCODINGS = ("binary", "text")


def as_meta_graph(graph):
    """A new Graph whose MetaGraphDef wraps a copy of a plain GraphDef graph (to give it collections).

    Example:
        >>> g = as_meta_graph(graphsurgeon.load("frozen.pb"))
        >>> g.add_to_collection("outputs", "logits:0")
        >>> g.save("frozen.meta", format="meta")
    """
    from ..graph import Graph

    root = graph.root
    if root.meta_graph is not None:
        return root.copy()
    meta = protos.MetaGraphDef()
    meta.graph_def.CopyFrom(root.graph_def)
    return Graph(meta.graph_def, meta_graph=meta)


def input_location(graph) -> Path | None:
    """Where the graph was read from: the graph file, or the SavedModel directory."""
    model = graph.root.model
    if model is None:
        return None
    return model.file.parent if model.format == "savedmodel" else model.file


def _same(a: Path, b: Path | None) -> bool:
    if b is None or not a.exists() or not b.exists():
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _message_for(graph, fmt: str):
    root = graph.root
    src = root.format
    if fmt == "graphdef":
        return root.graph_def
    if fmt == "meta":
        if root.meta_graph is not None:
            return root.meta_graph
        meta = protos.MetaGraphDef()
        meta.graph_def.CopyFrom(root.graph_def)
        return meta
    # savedmodel
    if src != "savedmodel":
        raise UsageError(f"cannot write a SavedModel from a {src} graph",
                         hint="write a .meta (format='meta') and build the SavedModel with "
                              "tf.compat.v1.saved_model.Builder, or load a SavedModel")
    return root.model.container


def save(graph, path=None, *, format: str | None = None, encoding: str | None = None,
         in_place: bool = False, force: bool = False, notes: list | None = None) -> Path:
    """Write ``graph`` to ``path``; returns the path written.

    Args:
        graph: the graph (a function body's graph is refused: save the top level).
        path: output file (``.meta``, ``.pb``, ``.pbtxt``) or SavedModel
            directory; None means the input itself (needs ``in_place``).
        format: ``"meta"``, ``"savedmodel"`` or ``"graphdef"``; default the
            format the graph was loaded from. A SavedModel can be written as
            its chosen MetaGraphDef (``meta``) or GraphDef; a GraphDef as a
            MetaGraphDef holding it.
        encoding: ``"binary"`` or ``"text"``; default the input's (or text
            for a new ``.pbtxt`` path).
        in_place: allow writing over the input.
        force: allow replacing an existing output that is not the input.
        notes: a list to append what the writer did beyond writing the graph
            (a SavedModel's ``fingerprint.pb`` recomputed or removed).

    Raises:
        OutputError: the output exists (or is the input) and was not offered;
            its directory is missing; the proto is too large.
        UsageError: the format / encoding cannot be written from this graph.

    Example:
        >>> g = graphsurgeon.load("model.ckpt.meta")
        >>> g.add_to_collection("reuse_ops", "X:0", "train/training_op")
        >>> g.save("edited.meta")
        PosixPath('edited.meta')
    """
    if graph.parent is not None:
        raise UsageError(f"function {graph.function_name!r} is part of a graph: save the top-level graph")
    root = graph.root
    model = root.model
    src_format = root.format
    fmt = format or src_format
    if fmt not in FORMATS:
        raise UsageError(f"unknown output format {fmt!r}", hint="one of " + ", ".join(FORMATS))
    source = input_location(root)
    if path is None:
        if not in_place:
            raise UsageError("no output path given", hint="give one, or ask for in_place=True (CLI --in-place)")
        if source is None:
            raise UsageError("this graph was not loaded from a file: give an output path")
        if fmt != src_format:
            raise UsageError(f"cannot write a {fmt} over the {src_format} it was loaded from: give an output path")
        target = source
    else:
        target = Path(path)
    if fmt == "savedmodel" and target.name in ("saved_model.pb", "saved_model.pbtxt"):
        target = target.parent
    if encoding is None:
        if target.suffix == ".pbtxt":
            encoding = "text"
        elif model is not None:
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
        raise OutputError(f"{target}: already exists", hint="force=True (CLI --force) replaces it")
    data = _unchanged_bytes(root, fmt, encoding, message)
    edited = data is None  # else the source file's own bytes: a copy
    if edited:
        data = serialize(message, encoding, target)
    if fmt == "savedmodel":
        _write_saved_model(root, target, data, encoding, edited, notes)
    else:
        if target.is_dir():
            raise OutputError(f"{target}: is a directory", hint=f"give a file name for the {fmt} output")
        atomic_write(target, data)
    return target


def _unchanged_bytes(graph, fmt: str, encoding: str, message) -> bytes | None:
    """The source file's bytes when they still hold exactly ``message`` (so an unedited save is a copy)."""
    model = graph.model
    if model is None or fmt != model.format or encoding != model.encoding:
        return None
    try:
        data = read_file(model.file)
        parsed = parse_text(model.file, data, fmt) if encoding == "text" else parse_binary(data, fmt)
    except Exception:  # noqa: BLE001 - the file changed or went: serialize instead
        return None
    # Protobuf equality compares every field, unknown fields included.
    return data if parsed == message else None


def _write_saved_model(graph, target: Path, data: bytes, encoding: str, edited: bool,
                       notes: list | None = None) -> None:
    source_dir = graph.model.file.parent
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{target}: directory {parent} does not exist")
    sweep_stale(parent, target.name)  # what killed writers of this target left
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target.name), suffix=".tmp", dir=parent))
    try:
        _copy_tree(source_dir, tmp, skip=("saved_model.pb", "saved_model.pbtxt"))
        name = "saved_model.pbtxt" if encoding == "text" else "saved_model.pb"
        atomic_write(tmp / name, data)
        if edited:
            # The copied fingerprint.pb describes the source model: recompute it from the
            # final files (saved_model.pb, variables/), or drop it when that is impossible.
            from .fingerprint import refresh_fingerprint
            status = refresh_fingerprint(tmp)
            if notes is not None and status == "rewritten":
                notes.append("fingerprint.pb recomputed for the edited model")
            elif notes is not None and status.startswith("removed"):
                notes.append(f"fingerprint.pb {status} (TensorFlow loads a SavedModel without one)")
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 directories
        _replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
