"""The parts of a SavedModel directory besides ``saved_model.pb``: ``variables/`` and ``assets/``.

Used by the writer when it writes a SavedModel built in memory (what
``graphsurgeon export`` makes from a ``.meta``, a GraphDef or another tag set):

- ``variables/variables.index`` and ``variables/variables.data-*``: the
  graph's checkpoint, copied byte for byte when it is V2 (only the file names
  change: the index does not name its prefix), converted when it is V1
  (:func:`graphsurgeon.formats.v1_to_v2.convert_v1_to_v2`, values checked);
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


def write_variables(prefix: str | None, export_dir: Path) -> str | None:
    """Write the checkpoint at ``prefix`` as ``export_dir/variables/variables``; returns a note, or None.

    ``variables/`` is created even without a checkpoint (TensorFlow's builder
    does the same; its loader then restores nothing).
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

    count = convert_v1_to_v2(prefix, str(target))
    return (f"variables/: the V1 checkpoint {prefix} converted to V2 ({count} tensors, every value read back "
            "and compared)")


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
