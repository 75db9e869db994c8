"""Finding checkpoints: the ``checkpoint`` state file, prefixes and their parts; opening one.

This module answers "which files make up which checkpoint" and opens the
right reader (:func:`open_checkpoint`: V2 bundles and V1 tables), without
TensorFlow. A :class:`TemporaryCheckpoint` holds new values a job computed
until the graph that carries them is saved.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import weakref
from pathlib import Path

from ..errors import FormatError
from .protofile import atomic_write, open_regular, read_file

# LevelDB-style tables (V1 checkpoints and V2 .index files) end in this magic number.
_TABLE_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")
_SHARD = re.compile(r"(.*)\.data-\d{5}-of-\d{5}$")
_V1_SHARD = re.compile(r"(.*)-\d{5}-of-(\d{5})$")
_STATE_LINE = re.compile(r'^\s*model_checkpoint_path\s*:\s*"((?:[^"\\]|\\.)*)"', re.M)


def is_data_shard(name: str) -> bool:
    return bool(_SHARD.match(name))


def prefix_of_part(path: Path) -> str:
    """``model.ckpt.index`` / ``model.ckpt.data-00000-of-00001`` -> ``model.ckpt``."""
    text = str(path)
    if text.endswith(".index"):
        return text[: -len(".index")]
    match = _SHARD.match(text)
    return match.group(1) if match else text


def _is_table(path: Path) -> bool:
    # Only a regular file can be a table: a FIFO named like a checkpoint
    # prefix must not block the look.
    try:
        with open_regular(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < 48:
                return False
            handle.seek(size - 8)
            return handle.read(8) == _TABLE_MAGIC
    except (FormatError, OSError):
        return False


def looks_like_index(path: Path) -> bool:
    return Path(path).name.endswith(".index") and _is_table(path)


def looks_like_v1_checkpoint(path: Path) -> bool:
    return _is_table(path)


def latest_prefix(directory: Path) -> str | None:
    """The prefix named by ``directory/checkpoint``, or None if there is no state file."""
    state = Path(directory) / "checkpoint"
    if not state.is_file():
        return None
    try:
        # A state file is a few lines; a large one is not a state file.
        text = read_file(state, limit=16 << 20).decode("utf-8", errors="replace")
    except FormatError:
        return None
    match = _STATE_LINE.search(text)
    if not match:
        return None
    try:
        named = Path(match.group(1).encode("utf-8", "replace").decode("unicode_escape"))
    except UnicodeDecodeError:  # a damaged escape ("\\x"): the path as written
        named = Path(match.group(1))
    if "\0" in str(named) or not named.name:
        return None  # not a path at all
    # Checkpoint state files often hold absolute paths from the machine that
    # trained the model; a directory that was moved still holds the files.
    candidates = [named if named.is_absolute() else Path(directory) / named, Path(directory) / named.name]
    for candidate in candidates:
        if exists(str(candidate)):
            return str(candidate)
    return str(candidates[-1])


def exists(prefix: str) -> bool:
    """Whether some checkpoint (V2 or V1, sharded or not) lives at ``prefix``."""
    p = Path(prefix)
    try:
        if Path(prefix + ".index").is_file() or (p.is_file() and _is_table(p)):
            return True
        return any(p.parent.glob(p.name + "-?????-of-?????"))
    except (OSError, ValueError):  # a name too long, a NUL byte: no checkpoint there
        return False


def prefix_for_meta(meta: Path) -> str | None:
    """The checkpoint saved beside a ``.meta`` file, if there is one."""
    text = str(meta)
    if not text.endswith(".meta"):
        return None
    prefix = text[: -len(".meta")]
    if exists(prefix):
        return prefix
    latest = latest_prefix(Path(meta).parent)
    return latest if latest and exists(latest) else None


def checkpoint_files(prefix: str) -> list[Path]:
    """The files of the checkpoint at ``prefix``: V2 ``.index`` and data shards, or V1 file(s)."""
    p = Path(prefix)
    if Path(prefix + ".index").is_file():
        return [Path(prefix + ".index")] + sorted(p.parent.glob(p.name + ".data-?????-of-?????"))
    if p.is_file():
        return [p]
    return sorted(p.parent.glob(p.name + "-?????-of-?????"))


def write_state_file(directory: Path, prefix_name: str) -> None:
    """The ``checkpoint`` state file naming ``prefix_name`` (relative, so the folder can move)."""
    text = f'model_checkpoint_path: "{prefix_name}"\nall_model_checkpoint_paths: "{prefix_name}"\n'
    atomic_write(Path(directory) / "checkpoint", text.encode("utf-8"))


class TemporaryCheckpoint:
    """A checkpoint in a temporary directory: new variable values that live with a Graph until it is saved.

    Made by the jobs that compute values (a re-head trains nothing yet but
    initialises a head; a transplant copies a layer); ``Graph.save`` writes
    its files to the output. The directory goes when the object does.
    """

    def __init__(self, name: str = "model.ckpt"):
        self.directory = tempfile.mkdtemp(prefix="graphsurgeon-checkpoint-")
        self.prefix = os.path.join(self.directory, name)
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.directory, True)

    def __repr__(self):
        return f"<TemporaryCheckpoint {self.prefix}>"


def open_checkpoint(prefix):
    """A reader for the checkpoint at ``prefix``: V2 (tensor bundle) or V1 (tables of slices), TensorFlow-free.

    Both readers have the same interface (``keys``, ``in``, ``dtype``,
    ``shape``, ``read``; use them as context managers).

    Raises:
        FormatError: nothing readable at ``prefix``.
    """
    # The readers load when a checkpoint is opened: listing a graph never needs them.
    from .bundle import BundleReader, is_v2
    from .v1_checkpoint import V1CheckpointReader, shard_files

    prefix = str(prefix)
    if prefix.endswith(".index"):
        prefix = prefix[: -len(".index")]
    if is_v2(prefix):
        return BundleReader(prefix)
    if shard_files(prefix):
        return V1CheckpointReader(prefix)
    raise FormatError(prefix, "no checkpoint here (neither PREFIX.index nor a V1 checkpoint file)")
