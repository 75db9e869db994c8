"""One model scanned: the per-model function that local workers and Dask run alike."""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import GraphSurgeonError
from . import keras as _keras
from . import severity as _severity
from .archives import scan_archive
from .files import h5_file_findings, keras_file_findings, scan_graphs


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


def _scan_graphs(path: str, record: dict) -> None:
    from ..formats import read_models

    models = read_models(path)
    record["format"] = models[0].format
    folder = Path(models[0].file).parent if record["format"] == "savedmodel" else None
    metadata = None
    if folder is not None and os.path.lexists(folder / "keras_metadata.pb"):
        metadata = _keras.metadata_configs(folder / "keras_metadata.pb")
    scan_graphs(models, record, model_dir=folder, keras_metadata=metadata)
