"""Shared test configuration: where the fixture models, MNIST and the corpus live.

The MNIST files and the corpus of real models stay outside the repository
(``../shared``); ``.ci/run`` points at them with ``GS_MNIST_DIR`` and
``GS_CORPUS_DIR``. Without them the tests that need them are skipped with a
message, except under CI (``CI=true``) where a missing data set is a failure.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "models"


def _shared_dir(var: str, default: Path) -> Path | None:
    value = os.environ.get(var)
    path = Path(value) if value else default
    return path if path.is_dir() else None


MNIST_DIR = _shared_dir("GS_MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist")
CORPUS_DIR = _shared_dir("GS_CORPUS_DIR", ROOT.parent / "shared" / "corpus")


def fixture_model(name: str | Path) -> Path:
    """A committed fixture model (name under fixtures/models, or a path).

    Missing while the manifest exists (the fixtures are built) is a failure,
    not a skip: a test must not pass by not running.
    """
    path = Path(name) if isinstance(name, Path) else FIXTURES / name
    if not path.exists():
        if (FIXTURES / "manifest.json").exists():
            pytest.fail(f"{path} is listed in the manifest but missing")
        pytest.skip(f"{path} not built")
    return path


def fixture_models(graphdefs: bool = True) -> list[Path]:
    """Every model the fixture manifest lists: a checkpoint as its ``.meta``, a SavedModel
    as its folder, and (with ``graphdefs``) frozen GraphDefs as their file."""
    import json

    manifest = FIXTURES / "manifest.json"
    if not manifest.is_file():
        return []
    out = []
    for key, entry in json.loads(manifest.read_text())["models"].items():
        if entry["format"] == "checkpoint":
            out.append(FIXTURES / (entry["checkpoint"] + ".meta"))
        elif entry["format"].startswith("savedmodel") or graphdefs:
            out.append(FIXTURES / key)
    return out


def corpus_models(graphdefs: bool = True) -> list[Path]:
    """Every SavedModel folder and ``.meta`` of the corpus, and (with ``graphdefs``) its
    ``.pb`` / ``.pbtxt`` GraphDefs."""
    if CORPUS_DIR is None:
        return []
    out = []
    for folder in sorted(p for p in CORPUS_DIR.iterdir() if p.is_dir()):
        if (folder / "saved_model.pb").is_file() or (folder / "saved_model.pbtxt").is_file():
            out.append(folder)
            continue
        out.extend(sorted(folder.glob("*.meta")))
        if graphdefs:
            out.extend(sorted(p for p in folder.iterdir() if p.suffix in (".pb", ".pbtxt")))
    return out


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


def pytest_collection_modifyitems(config, items):
    if config.getoption("--fuzz"):
        return
    skip = pytest.mark.skip(reason="long fuzz mode: run with --fuzz")
    for item in items:
        if "fuzz" in item.keywords:
            item.add_marker(skip)
