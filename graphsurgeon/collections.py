"""Collections of a MetaGraphDef, kept true when ops are removed.

(First part: the consistency mechanism every rewrite uses. Reading and
editing collections through the API come with issue 4.)
"""
from __future__ import annotations

from . import names as _names
from .protos import VariableDef

VARIABLE_DEF_COLLECTIONS = ("variables", "trainable_variables", "local_variables", "model_variables",
                            "moving_average_variables", "global_variables")


def _op_of(entry: str) -> str:
    entry = entry[1:] if entry.startswith("^") else entry
    return _names.split_tensor_name(entry)[0]


def fix_references(graph, removed: set[str]) -> list[str]:
    """Drop every reference of the MetaGraphDef to a removed op; say what went.

    Covers node_list collections, VariableDef entries (bytes_list), signature
    inputs and outputs, the saver and asset files. Returns one sentence per dropped reference.
    """
    meta = graph.meta_graph
    dropped: list[str] = []
    for key in list(meta.collection_def.keys()):
        coll = meta.collection_def[key]
        kind = coll.WhichOneof("kind")
        if kind == "node_list":
            values = list(coll.node_list.value)
            keep = [v for v in values if _op_of(v) not in removed]
            if len(keep) != len(values):
                dropped.extend(f"collection {key!r}: {v}" for v in values if _op_of(v) in removed)
                del coll.node_list.value[:]
                coll.node_list.value.extend(keep)
        elif kind == "bytes_list" and (key in VARIABLE_DEF_COLLECTIONS or key.endswith("variables")):
            values = list(coll.bytes_list.value)
            keep = []
            for raw in values:
                var = VariableDef()
                try:
                    var.ParseFromString(raw)
                except Exception:
                    keep.append(raw)
                    continue
                if _op_of(var.variable_name) in removed:
                    dropped.append(f"collection {key!r}: variable {var.variable_name}")
                else:
                    keep.append(raw)
            if len(keep) != len(values):
                del coll.bytes_list.value[:]
                coll.bytes_list.value.extend(keep)
    for sig_key, sig in meta.signature_def.items():
        for side in ("inputs", "outputs"):
            infos = getattr(sig, side)
            for arg in [a for a, info in infos.items() if info.name and _op_of(info.name) in removed]:
                dropped.append(f"signature {sig_key!r} {side[:-1]} {arg!r}: {infos[arg].name}")
                del infos[arg]
    # A saver whose save/restore ops are gone cannot work: drop it whole.
    if meta.HasField("saver_def"):
        saver = meta.saver_def
        names = (saver.filename_tensor_name, saver.save_tensor_name, saver.restore_op_name)
        if any(n and _op_of(n) in removed for n in names):
            dropped.append(f"saver: {saver.restore_op_name or saver.save_tensor_name}")
            meta.ClearField("saver_def")
    for asset in list(meta.asset_file_def):
        if asset.tensor_info.name and _op_of(asset.tensor_info.name) in removed:
            dropped.append(f"asset {asset.filename}: {asset.tensor_info.name}")
            meta.asset_file_def.remove(asset)
    return dropped
