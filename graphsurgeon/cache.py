"""Where graphsurgeon keeps what it can fetch or compute again: one folder, decided here.

``$GS_CACHE_DIR``, else ``$XDG_CACHE_HOME/graphsurgeon``, else
``~/.cache/graphsurgeon``. Inside it: ``shapes/`` (the command line's shape
cache, :mod:`graphsurgeon.analysis.shape_cache`) and ``mnist/`` (where
``python -m fixtures.train`` downloads MNIST and ``--verify`` finds it).
``GS_CACHE_DIR=`` (set, empty) means no cache at all: the shape cache is off
and MNIST is looked for only where ``GS_MNIST_DIR`` says.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV = "GS_CACHE_DIR"


def cache_root() -> Path | None:
    """graphsurgeon's cache folder (it may not exist yet), or None when ``GS_CACHE_DIR`` is set empty."""
    value = os.environ.get(ENV)
    if value is not None:
        return Path(value).expanduser() if value.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "graphsurgeon"
