"""One model scanned: the per-model function that local workers and Dask run alike."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import GraphSurgeonError
from . import keras as _keras
from . import severity as _severity
from .findings import op_findings


def scan_model(path: str, kind: str = "graph", problem: str | None = None) -> dict:
    """Scan the model at ``path`` (``kind`` ``"graph"`` or ``"keras"``, see :mod:`graphsurgeon.scan.discover`).

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
            config = _keras.archive_config(path)
            if config is not None:
                record["findings"] = _keras.code_findings([("config.json", config)], "config.json")
        else:
            _scan_graphs(path, record)
    except GraphSurgeonError as exc:
        record["error"] = str(exc)
    except (RecursionError, MemoryError) as exc:
        record["error"] = f"{path}: too large or too deeply nested to scan ({type(exc).__name__})"
    except Exception as exc:  # a bug of ours on one model must not lose the others' answers
        record["error"] = f"{path}: internal error while scanning: {type(exc).__name__}: {exc} (please report it)"
    record["findings"].sort(key=lambda f: (-_severity.rank(f["severity"]), f.get("meta_graph") or "",
                                           f["function"] or "", f["name"] or ""))
    return record


def _scan_graphs(path: str, record: dict) -> None:
    from ..formats import read_models
    from ..ir.graph import Graph

    models = read_models(path)
    record["format"] = models[0].format
    several = len(models) > 1
    for model in models:
        g = Graph(model.graph_def, meta_graph=model.meta_graph, model=model)
        findings, facts = op_findings(g)
        tags = "+".join(model.tag_sets[model.meta_index]) if model.format == "savedmodel" else None
        record["meta_graphs"].append({"tags": tags, "entry_points": facts["entry_points"],
                                      "declared": facts["declared"]})
        for finding in findings:
            finding["meta_graph"] = tags if several else None
        record["findings"].extend(findings)
    if record["format"] == "savedmodel":
        folder = Path(models[0].file).parent
        metadata = folder / "keras_metadata.pb"
        if os.path.lexists(metadata):
            documents = _keras.metadata_configs(metadata)
            for finding in _keras.code_findings(documents, "keras_metadata.pb"):
                finding["meta_graph"] = None
                record["findings"].append(finding)
