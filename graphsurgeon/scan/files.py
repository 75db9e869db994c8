"""Scanning what one file holds, wherever its bytes come from (a folder, an archive's member)."""
from __future__ import annotations

from . import keras as _keras
from .findings import op_findings


def keras_file_findings(path, handle=None) -> list[dict]:
    """The findings of a ``.keras`` archive (``handle``: its bytes as a file object)."""
    config = _keras.archive_config(path, handle)
    return _keras.code_findings([("config.json", config)], "config.json") if config is not None else []


def h5_file_findings(path, handle=None) -> list[dict]:
    """The findings of a Keras 2 ``.h5`` model (``handle``: its bytes as a file object)."""
    return _keras.code_findings(_keras.h5_configs(path, handle), "model_config")


def scan_graphs(models, record: dict, model_dir=None, keras_metadata=None, member: str | None = None) -> None:
    """Add the findings and graphs of ``models`` (one per MetaGraphDef, :func:`graphsurgeon.formats.read_models`).

    ``model_dir``: the SavedModel's folder (assets are judged against it);
    ``keras_metadata``: ``[(where, JSON)]`` of its ``keras_metadata.pb``;
    ``member``: the model's path inside an archive.
    """
    from ..ir.graph import Graph

    several = len(models) > 1
    for model in models:
        g = Graph(model.graph_def, meta_graph=model.meta_graph, model=model)
        findings, facts = op_findings(g, model_dir=model_dir)
        tags = "+".join(model.tag_sets[model.meta_index]) if model.format == "savedmodel" else None
        graph = {"tags": tags, "entry_points": facts["entry_points"], "declared": facts["declared"]}
        if member is not None:
            graph["member"] = member
        record["meta_graphs"].append(graph)
        for finding in findings:
            finding["meta_graph"] = tags if several else None
            finding["member"] = member
        record["findings"].extend(findings)
    if keras_metadata:
        for finding in _keras.code_findings(keras_metadata, "keras_metadata.pb"):
            finding["member"] = member
            record["findings"].append(finding)
