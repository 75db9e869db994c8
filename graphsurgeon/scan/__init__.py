"""``scan``: is this model safe to load? A static, TensorFlow-free look at what a model can do.

A TensorFlow model is a program: loading a SavedModel and calling its
signature runs whatever ops it holds, and stock ops read and write files,
list folders, reach servers, run Python, run serialized graphs and can hang
the process. :func:`scan` finds the models under some paths
(:mod:`.discover`: SavedModels, graphs, Keras files, archives), lists each op
that the registry audit (:mod:`graphsurgeon.vocab.opaccess`) says can reach
outside the graph, at top level and in every function body
(:mod:`.findings`), with the route from an entry point that reaches it
(:mod:`.reach`) and the file names and addresses it is given
(:mod:`.arguments`: remote URLs, secrets and asset names leaving the model
raise it, :mod:`.paths`), judges save and restore ops against the model's
savers (:mod:`.savers`), finds denial of service (:mod:`.dos`), scans graphs
serialized in constants (:mod:`.embedded`), Keras layers that carry Python
code (:mod:`.keras`) and archive members (:mod:`.archives`), and judges each
model against a policy (:mod:`.policy`). Nothing from the model is executed,
unmarshalled, extracted, or followed to a path it names.

Example:
    >>> report = scan(["fixtures/models"])
    >>> report["status"], [m["verdict"] for m in report["models"]][:2]
    (0, ['pass', 'pass'])
"""
from __future__ import annotations

from collections.abc import Callable

from .discover import Target, discover
from .policy import Policy, judge, load_policy
from .run import default_jobs, scan_targets
from .severity import LEVELS

SCHEMA_VERSION = 1

__all__ = ["scan", "scan_model", "discover", "Policy", "load_policy", "LEVELS", "default_jobs"]


def scan(paths, *, policy: Policy | None = None, jobs: int | None = None, dask: str | None = None,
         progress: Callable[[int, int], None] | None = None) -> dict:
    """Scan every model under ``paths``; the JSON-ready report ``scan --json`` prints.

    Returns ``{"version", "fail_on", "status", "summary", "models"}``:
    ``status`` is the exit status (0 nothing at or above ``policy.fail_on``,
    1 findings, 2 a path or model that could not be read), ``models`` one
    record per model (see :func:`graphsurgeon.scan.model.scan_model`) with its
    ``verdict`` (``pass``, ``fail`` or ``error``).
    """
    policy = policy or Policy()
    targets = discover(paths)
    records = [judge(r, policy) for r in scan_targets(targets, jobs=jobs, dask=dask, progress=progress)]
    summary = {"models": len(records)}
    for verdict in ("pass", "fail", "error"):
        summary[verdict] = sum(1 for r in records if r["verdict"] == verdict)
    summary["findings"] = {level: sum(r["counts"][level] for r in records) for level in LEVELS}
    status = 2 if summary["error"] else 1 if summary["fail"] else 0
    return {"version": SCHEMA_VERSION, "fail_on": policy.fail_on, "status": status, "summary": summary,
            "models": records}


def scan_model(path: str, kind: str = "graph") -> dict:
    """One model's record, before any policy (see :func:`graphsurgeon.scan.model.scan_model`)."""
    from .model import scan_model as _scan_model

    return _scan_model(path, kind)
