"""The idiom zoo: small models in the shapes real TensorFlow projects have, built by TensorFlow at test time.

Issue 22: the rewrites held on our fixtures and the corpus, and still wrote
files TensorFlow refuses on the idioms people's models have (a global step,
Estimator exports, root-level variables, partitioned variables, moving
averages, depthwise convolutions, gradients at inference, Keras 2 in graph
mode, v1 control flow, lookup tables, several savers, resource variables,
TF2 SavedModels). ``tests/idioms/build.py`` writes one small model of each,
with a seeded input feed and the outputs TensorFlow computed on it, in ONE
TensorFlow subprocess (``python tests/idioms/build.py OUTDIR``, a few
seconds); nothing of it is committed.

:func:`zoo` builds it once into a cache keyed by the generators' source and
the installed TensorFlow's version (``$GS_IDIOMS_CACHE``, else
``tests/.idioms-cache/``, gitignored), so a clean clone builds it once per
run and a developer once per change of the generators. This module itself
never imports TensorFlow.

The manifest (``manifest.json``) maps each model of the zoo to::

    {"idiom": what issue 22 calls it, "what": one line, "format": "meta" | "savedmodel" | "graphdef",
     "tf2": bool, "model": path a user passes, "checkpoint": prefix or null, "tags": [...],
     "feeds": {tensor: npy}, "expected": {tensor: npy},   # the graph's own tensors
     "signature": name or null, "sig_feeds": {key: npy}, "sig_expected": {key: npy},
     "train": {"op": training op, "feeds": {tensor: npy}} or null,
     "graph": the .meta when "model" is a checkpoint directory}

Paths are relative to the zoo's folder; :func:`zoo` returns them absolute.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BUILD = HERE / "build.py"
DEFAULT_CACHE = ROOT / "tests" / ".idioms-cache"


def installed_version(dist: str) -> str | None:
    """The installed version of a distribution, read from its metadata (nothing imported), or None."""
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def tensorflow_version() -> str | None:
    """The installed TensorFlow's version, or None."""
    for dist in ("tensorflow", "tensorflow-cpu", "tensorflow-intel"):
        version = installed_version(dist)
        if version:
            return version
    return None


def cache_key(tf_version: str) -> str:
    """The generators' source hash and the TensorFlow version: a change of either builds a new zoo."""
    digest = hashlib.sha256(BUILD.read_bytes()).hexdigest()[:16]
    return f"{digest}-tf{tf_version}"


def cache_root() -> Path:
    value = os.environ.get("GS_IDIOMS_CACHE")
    return Path(value) if value else DEFAULT_CACHE


def _absolute(folder: Path, entry: dict) -> dict:
    def fix(value):
        if isinstance(value, str) and value.startswith("zoo:"):
            return str(folder / value[4:])
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value
    return fix(entry)


def _remove_stale_builds(root: Path) -> None:
    """Build folders of processes that are gone (a build interrupted by Ctrl-C or a kill)."""
    for folder in root.glob(".build-*"):
        try:
            pid = int(folder.name.split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, IndexError, PermissionError):
            continue


def zoo(timeout: float = 900) -> tuple[Path, dict]:
    """The zoo's folder and manifest (name -> entry, paths absolute), built first when not cached.

    Raises ``RuntimeError`` naming TensorFlow's message when the build fails, and
    ``LookupError`` when TensorFlow is not installed (the caller skips).
    """
    version = tensorflow_version()
    if version is None:
        raise LookupError("TensorFlow is not installed (pip install 'graphsurgeon[tensorflow]' tf-keras)")
    if installed_version("tf-keras") is None:  # the Keras 2 idiom is built with it (graphsurgeon[test])
        raise LookupError("tf-keras is not installed (pip install tf-keras; it is in graphsurgeon[test])")
    root = cache_root()
    folder = root / cache_key(version)
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_builds(root)
        work = Path(tempfile.mkdtemp(prefix=f".build-{os.getpid()}-", dir=root))
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONHASHSEED": "0", "CUDA_VISIBLE_DEVICES": "",
               "TF_ENABLE_ONEDNN_OPTS": "0"}
        proc = subprocess.run(["nice", "-n", "10", sys.executable, str(BUILD), str(work / "zoo")],
                              capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
        if proc.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            raise RuntimeError(f"building the idiom zoo failed (exit {proc.returncode}):\n{proc.stderr[-6000:]}")
        try:
            os.rename(work / "zoo", folder)  # atomic: a concurrent build that finished first wins
        except OSError:
            if not manifest.is_file():
                raise
        shutil.rmtree(work, ignore_errors=True)
        for old in root.iterdir():  # zoos of other generator versions
            if old.is_dir() and old != folder and not old.name.startswith(".build-"):
                shutil.rmtree(old, ignore_errors=True)
    entries = json.loads(manifest.read_text())
    return folder, {name: _absolute(folder, entry) for name, entry in entries.items()}
