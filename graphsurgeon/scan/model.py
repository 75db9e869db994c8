"""One model scanned: the per-model function that local workers and Dask run alike."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import GraphSurgeonError
from . import keras as _keras
from . import severity as _severity
from .findings import op_findings


def scan_model(path: str, kind: str = "graph", problem: str | None = None) -> dict:
    """Scan the model at ``path`` (``kind``: ``graph``, ``keras``, ``h5`` or ``archive``, see :mod:`.discover`).

    Returns JSON-ready data: ``model``, ``format``, ``error`` (one line, or
    None), ``meta_graphs`` (tags and entry points of each graph scanned) and
    ``findings``, most severe first. Verdicts come later, from a policy
    (:func:`graphsurgeon.scan.policy.judge`). Never raises for a bad model:
    the problem is the record's ``error``.
    """
    record = {"model": path, "format": None, "error": f"{path}: {problem}" if problem else None,
              "meta_graphs": [], "findings": []}
    if problem is not None:
        return record
    try:
        if kind == "keras":
            record["format"] = "keras"
            record["findings"] = keras_file_findings(path)
        elif kind == "h5":
            record["format"] = "h5"
            record["findings"] = h5_file_findings(path)
        elif kind == "archive":
            from .archives import scan_archive

            scan_archive(path, record)
        else:
            _scan_graphs(path, record)
    except GraphSurgeonError as exc:
        record["error"] = str(exc)
    except (RecursionError, MemoryError) as exc:
        record["error"] = f"{path}: too large or too deeply nested to scan ({type(exc).__name__})"
    except Exception as exc:  # a bug of ours on one model must not lose the others' answers
        record["error"] = f"{path}: internal error while scanning: {type(exc).__name__}: {exc} (please report it)"
    record["findings"].sort(key=lambda f: (-_severity.rank(f["severity"]), f.get("member") or "",
                                           f.get("meta_graph") or "", f["function"] or "", f["name"] or ""))
    return record


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
    from ..graph import Graph

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


def _scan_graphs(path: str, record: dict) -> None:
    from ..formats import read_models

    models = read_models(path)
    record["format"] = models[0].format
    folder = Path(models[0].file).parent if record["format"] == "savedmodel" else None
    metadata = None
    if folder is not None and os.path.lexists(folder / "keras_metadata.pb"):
        metadata = _keras.metadata_configs(folder / "keras_metadata.pb")
    scan_graphs(models, record, model_dir=folder, keras_metadata=metadata)
