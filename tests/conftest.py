"""pytest's configuration for the suite: its fixtures, options and markers, and a cache of its own.

Helpers the test modules import (paths, fixture and corpus models, subprocess
runners) are in ``tests/_support.py``: test modules never import this file.
The MNIST files and the corpus of real models stay outside the repository
(``../shared``); ``.ci/run`` points at them with ``GS_MNIST_DIR`` and
``GS_CORPUS_DIR``. Without them the tests that need them are skipped with a
message, except under CI (``CI=true``) where a missing data set is a failure.
A variable set to the empty string means "no data", even when ``../shared``
exists.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from _support import CORPUS_DIR, MNIST_DIR
from graphsurgeon.cache import ENV as CACHE_ENV
from graphsurgeon.cache import cache_root

# The command line keeps inferred shapes in graphsurgeon's cache folder (graphsurgeon.cache):
# the suite uses a folder of its own, never the user's, and starts with no shapes in it; the
# MNIST files the trainer downloaded into the user's cache stay visible (a link).
_CACHE = tempfile.mkdtemp(prefix="gs-test-cache-")
_USER_MNIST = (cache_root() or Path(_CACHE)) / "mnist"
if _USER_MNIST.is_dir():
    os.symlink(_USER_MNIST, Path(_CACHE) / "mnist")
os.environ[CACHE_ENV] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)


def _require(path: Path | None, var: str) -> Path:
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{var} is not set or not a directory; .ci/run must point it at ../shared")
        pytest.skip(f"{var} not set (point it at shared data to run this test)")
    return path


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    return _require(MNIST_DIR, "GS_MNIST_DIR")


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return _require(CORPUS_DIR, "GS_CORPUS_DIR")


def pytest_addoption(parser):
    parser.addoption("--fuzz", action="store_true", help="run the long fuzzing mode")
    parser.addoption("--hostile", action="store_true", help="run the large hostile-model cases too")


def pytest_configure(config):
    config.addinivalue_line("markers", "hostile: large hostile-model cases (enable with --hostile)")


def pytest_collection_modifyitems(config, items):
    for option, marker in (("--fuzz", "fuzz"), ("--hostile", "hostile")):
        if config.getoption(option):
            continue
        skip = pytest.mark.skip(reason=f"long mode: run with {option}")
        for item in items:
            if item.get_closest_marker(marker) is not None:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def idiom_zoo() -> dict:
    """The idiom zoo's manifest (tests/idioms: built by TensorFlow once, cached), or a skip saying why."""
    from idioms import zoo

    try:
        _, manifest = zoo()
    except LookupError as exc:  # TensorFlow (or tf-keras) is not installed
        pytest.skip(str(exc))
    return manifest
