"""The parts of a SavedModel directory besides ``saved_model.pb``: ``variables/`` and ``assets/``.

Used by the writer when it writes a SavedModel built in memory (what
``graphsurgeon export`` makes from a ``.meta``, a GraphDef or another tag set):

- ``variables/variables.index`` and ``variables/variables.data-*``: the
  graph's checkpoint, or only the keys its saver restores (a served model
  needs no optimizer slots): copied byte for byte when it is V2 (the whole
  checkpoint file by file, the index does not name its prefix; a subset
  tensor by tensor, each with its stored bytes and checksum), converted when
  it is V1 (:func:`graphsurgeon.formats.v1_to_v2.convert_v1_to_v2`, values
  checked);
- ``assets/NAME``: each asset file the MetaGraphDef names, copied from where
  it was found.

Both write into a directory the writer assembles beside the target and
renames into place, so a failure leaves nothing behind.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import OutputError
from . import checkpoint as _checkpoint
from .bundle import BundleReader, is_v2
from .protofile import open_regular

VARIABLES = "variables"
ASSETS = "assets"


def write_variables(prefix: str | None, export_dir: Path, keys=None) -> str | None:
    """Write the checkpoint at ``prefix`` as ``export_dir/variables/variables``; returns a note, or None.

    ``keys``: the tensors to write (None: all of them). ``variables/`` is
    created even without a checkpoint (TensorFlow's builder does the same;
    its loader then restores nothing).
    """
    directory = Path(export_dir) / VARIABLES
    directory.mkdir(exist_ok=True)
    if not prefix:
        return None
    target = directory / VARIABLES
    if is_v2(prefix):
        # The index says how many data shards there are: each must be there (a glob would miss one gone).
        with BundleReader(prefix) as reader:
            parts = [reader.index_path] + [reader.shard_path(i) for i in range(reader.num_shards)]
            every = reader.keys()
            if keys is not None and set(keys) != set(every):
                return _write_subset(reader, str(target), keys, prefix)
        for part in parts[1:]:
            if not part.is_file():
                raise OutputError(f"{part}: missing; the checkpoint {prefix} is incomplete, so no SavedModel "
                                  "is written from it")
        for part in parts:
            suffix = str(part)[len(str(prefix)):]
            _copy_file(part, Path(str(target) + suffix))
        return f"variables/: the checkpoint {prefix} copied byte for byte ({len(parts)} files)"
    if not _checkpoint.exists(prefix):
        raise OutputError(f"{prefix}: the checkpoint of this graph is gone; cannot write variables/")
    from .v1_to_v2 import convert_v1_to_v2  # the V1 reader loads only for V1 checkpoints

    count = convert_v1_to_v2(prefix, str(target), keys)
    some = f"{count} tensors" + (", those the saver restores" if keys is not None else "")
    return f"variables/: the V1 checkpoint {prefix} converted to V2 ({some}, every value read back and compared)"


def _write_subset(reader, target: str, keys, prefix: str) -> str:
    """The tensors ``keys`` of a V2 checkpoint (a partitioned one with its slices), each copied byte for byte."""
    from ..errors import NotFoundError
    from .bundle_writer import BundleWriter

    missing = sorted(k for k in keys if k not in reader)
    if missing:
        raise NotFoundError("tensor", missing[0], reader.keys(), where=f"checkpoint {prefix}")
    size = 0
    with BundleWriter(target) as writer:
        for key in sorted(keys):
            for name in [key] + reader.slice_keys(key):
                entry = reader.entry(name)
                data = reader.stored_bytes(name)
                writer.add_entry(name, entry, data, crc=entry.crc32c)  # the source's checksum, checked on read
                size += len(data)
    total = len(reader.keys())
    return (f"variables/: {len(keys)} of the {total} tensors of the checkpoint {prefix}, those the saver restores "
            f"({size:,} bytes), copied byte for byte")


def write_assets(assets: dict, export_dir: Path) -> str | None:
    """Copy ``{file name: source path}`` into ``export_dir/assets/``; returns a note, or None."""
    if not assets:
        return None
    directory = Path(export_dir) / ASSETS
    directory.mkdir(exist_ok=True)
    for name, source in sorted(assets.items()):
        if not name or "/" in name or name in (".", ".."):
            raise OutputError(f"asset file name {name!r} is not a plain file name")
        _copy_file(Path(source), directory / name)
    return f"assets/: {len(assets)} file{'s' if len(assets) != 1 else ''} ({', '.join(sorted(assets))})"


def _copy_file(source: Path, target: Path) -> None:
    """Copy a regular file (a pipe or a device named as a checkpoint or asset is refused, never read)."""
    with open_regular(source) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
