"""Scanning many models: in this process, in local worker processes, or on a Dask cluster.

Every way runs the same per-model function (:func:`graphsurgeon.scan.model.scan_model`)
on the same targets and returns the records in the targets' order, so the
report does not depend on how the work was spread.
"""
from __future__ import annotations

import os
from collections.abc import Callable

from ..errors import UsageError
from .discover import Target
from .model import scan_model


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _one(target: Target) -> dict:
    return scan_model(target.path, target.kind, target.problem)


def scan_targets(targets: list[Target], *, jobs: int | None = None, dask: str | None = None,
                 progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """One record per target, in order. ``progress(done, total)`` is called as records arrive."""
    total = len(targets)
    if dask:
        return _on_dask(targets, dask, progress)
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise UsageError(f"--jobs must be 1 or more, not {jobs}")
    # Forking workers costs more than scanning a few small models: stay in process then.
    if jobs == 1 or total < 2 * jobs or not _can_fork():
        out = []
        for target in targets:
            out.append(_one(target))
            if progress:
                progress(len(out), total)
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    records: list = [None] * total
    done = 0
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        for index, record in enumerate(pool.map(_one, targets, chunksize=max(1, min(16, total // (4 * jobs))))):
            records[index] = record
            done += 1
            if progress:
                progress(done, total)
    return records


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _on_dask(targets: list[Target], address: str, progress) -> list[dict]:
    """The same per-model function on a dask.distributed cluster (workers must see the same paths)."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--dask needs dask.distributed", hint="pip install 'graphsurgeon[dask]'") from None
    try:
        client = Client(address, timeout=30, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        futures = client.map(_one, targets, pure=False)
        records = []
        for future in futures:  # in order: the report's order is the targets'
            records.append(future.result())
            if progress:
                progress(len(records), len(targets))
        return records
    finally:
        client.close()
