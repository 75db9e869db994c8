"""Asset files a graph names: vocabularies and other files its initializers read.

TensorFlow knows a graph's assets three ways, and so does this module:

- ``asset_file_def`` of the MetaGraphDef (what SavedModels hold): a file
  name under ``assets/`` and the tensor the loader feeds its path to;
- the ``saved_model_assets`` collection (``AssetFileDef`` entries packed in
  Any; older SavedModels);
- the ``asset_filepaths`` collection (``tf.compat.v1.GraphKeys.ASSET_FILEPATHS``,
  what a ``.meta`` of a model with vocabulary files holds): string
  constants holding the files' paths; ``SavedModelBuilder`` copies each
  under its base name.

:func:`find_assets` says, for each, where the file is: in the SavedModel's
``assets/`` directory, or at the path the constant holds (as given, else
beside the model).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..analysis.constants import Constants
from ..vocab import names as _names
from .collections import decode_any

_STRING = 7  # DT_STRING: an asset's tensor is fed the file's path

ASSET_FILEPATHS = "asset_filepaths"
SAVED_MODEL_ASSETS = "saved_model_assets"


@dataclass
class Asset:
    """One asset: its file name under ``assets/``, the tensor fed its path, the file found (or None)."""

    filename: str
    tensor: str
    source: Path | None
    looked_at: list

    def as_dict(self) -> dict:
        return {"filename": self.filename, "tensor": self.tensor, "source": str(self.source) if self.source else None}


def _const_path(g, tensor: str) -> str | None:
    values = Constants(g).strings(tensor)
    return values[0] if values and len(values) == 1 else None


def find_assets(g) -> list[Asset]:
    """Every asset ``g``'s MetaGraphDef names (each tensor once), with the file found for it."""
    meta = g.root.meta_graph
    if meta is None:
        return []
    model = g.root.model
    model_dir = None
    assets_dir = None
    if model is not None and model.on_disk:
        model_dir = model.file.parent
        if model.format == "savedmodel":
            assets_dir = model_dir / "assets"
    entries: dict[str, str] = {}  # tensor -> filename
    for asset in meta.asset_file_def:
        entries.setdefault(asset.tensor_info.name, asset.filename)
    if SAVED_MODEL_ASSETS in meta.collection_def:
        for any_msg in meta.collection_def[SAVED_MODEL_ASSETS].any_list.value:
            asset = decode_any(any_msg)
            if asset is not None and type(asset).DESCRIPTOR.name == "AssetFileDef":
                entries.setdefault(asset.tensor_info.name, asset.filename)
    if ASSET_FILEPATHS in meta.collection_def:
        for value in meta.collection_def[ASSET_FILEPATHS].node_list.value:
            if _names.is_tensor_name(value) and value not in entries:
                path = _const_path(g, value) if _names.split_tensor_name(value)[0] in g.root else None
                entries[value] = Path(path).name if path else ""
    out = []
    for tensor, filename in entries.items():
        looked = []
        if assets_dir is not None and filename:
            looked.append(assets_dir / filename)
        op = _names.split_tensor_name(tensor)[0]
        path = _const_path(g, tensor) if op in g.root else None
        if path:
            looked.append(Path(path))
            if model_dir is not None and not Path(path).is_absolute():
                looked.append(model_dir / path)
        found = next((p for p in looked if p.is_file()), None)
        out.append(Asset(filename or (Path(path).name if path else ""), tensor, found, looked))
    return out


def set_asset_files(g, assets) -> None:
    """Make ``assets`` (``[(file name, string tensor fed its path)]``) the MetaGraphDef's ``asset_file_def``, in place."""
    meta = g.root.meta_graph
    del meta.asset_file_def[:]
    for filename, tensor in assets:
        entry = meta.asset_file_def.add()
        entry.filename = filename
        entry.tensor_info.name = tensor
        entry.tensor_info.dtype = _STRING


def point_at_files(source, work, changes) -> None:
    """Make each asset path constant of ``work`` name the file found for it in ``source``.

    A rewrite whose result is not a SavedModel (a frozen graph, a re-headed
    checkpoint) has no loader to feed the asset paths: the table initializers
    read the constants as they are, so each must name a file that exists
    (the SavedModel's ``assets/`` copy, not the path the graph was built
    with). ``changes`` (a :class:`~graphsurgeon.ir.changes.Changes`) gets the
    edited constants and a note per asset, found or not.
    """
    for asset in find_assets(source):
        op = _names.split_tensor_name(asset.tensor)[0]
        node = work.node_defs.get(op)
        if node is None or node.op != "Const":
            continue
        if asset.source is None:
            changes.notes.append(f"asset {asset.filename or asset.tensor} not found (looked at "
                                 f"{', '.join(map(str, asset.looked_at)) or 'nowhere'}): the table reading it "
                                 "cannot be initialised")
            continue
        path = str(asset.source.resolve())
        if list(node.attr["value"].tensor.string_val) != [path.encode()]:
            tensor = work.node_for_edit(op).attr["value"].tensor
            del tensor.string_val[:]
            tensor.string_val.append(path.encode())
            changes.changed.append(op)
            changes.notes.append(f"asset {asset.tensor} now names {path} (the file the table initializer reads)")
