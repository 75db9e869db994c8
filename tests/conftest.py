"""Shared test configuration: where the fixture models, MNIST and the corpus live.

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

from graphsurgeon.cache import ENV as CACHE_ENV
from graphsurgeon.cache import cache_root

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "models"


def _shared_dir(var: str, default: Path) -> Path | None:
    """The directory ``var`` names; unset, the one beside the clone (``../shared``); set but
    empty, none at all: ``GS_MNIST_DIR= GS_CORPUS_DIR= ./dev.sh test`` runs the suite as a
    fresh clone without the data does (tests/test_without_data.py checks that mode)."""
    value = os.environ.get(var)
    if value is not None and not value.strip():
        return None
    path = Path(value) if value else default
    return path if path.is_dir() else None


MNIST_DIR = _shared_dir("GS_MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist")
CORPUS_DIR = _shared_dir("GS_CORPUS_DIR", ROOT.parent / "shared" / "corpus")

# The command line keeps inferred shapes in graphsurgeon's cache folder (graphsurgeon.cache):
# the suite uses a folder of its own, never the user's, and starts with no shapes in it; the
# MNIST files the trainer downloaded into the user's cache stay visible (a link).
_CACHE = tempfile.mkdtemp(prefix="gs-test-cache-")
_USER_MNIST = (cache_root() or Path(_CACHE)) / "mnist"
if _USER_MNIST.is_dir():
    os.symlink(_USER_MNIST, Path(_CACHE) / "mnist")
os.environ[CACHE_ENV] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)


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


# One epoch of the chapter's loop on 2,000 MNIST images, in TensorFlow (run
# it with run_one_epoch): restores MODEL/model.ckpt, trains through
# get_collection("my_important_ops") with training=True, and prints which
# variables changed, the trainable ones, the optimizer's update ops, the op
# types, and the types of the root activations Elu and Elu_1.
ONE_EPOCH = r"""
import json, os, sys
import numpy as np
import tensorflow as tf
from fixtures.mnist import load_mnist
v1 = tf.compat.v1
model, data = sys.argv[1], sys.argv[2]
Xtr, ytr = [a[:2000] for a in load_mnist(data)[:2]]
g = tf.Graph()
with g.as_default():
    saver = v1.train.import_meta_graph(os.path.join(model, "model.ckpt.meta"))
    X, y, accuracy, training_op = v1.get_collection("my_important_ops")
    variables = v1.global_variables()
    with v1.Session(graph=g) as s:
        saver.restore(s, os.path.join(model, "model.ckpt"))
        before = {v.op.name: s.run(v) for v in variables}
        for i in range(0, len(Xtr), 50):
            s.run(training_op, {X: Xtr[i:i + 50], y: ytr[i:i + 50], "training:0": True})
        changed = {v.op.name: bool(not np.array_equal(before[v.op.name], s.run(v))) for v in variables}
    ops = g.get_operations()
    print(json.dumps({"changed": changed, "trainable": [v.op.name for v in v1.trainable_variables()],
                      "updates": sorted(op.name for op in ops if "update_" in op.name
                                        and op.type.endswith("ApplyGradientDescent")),
                      "types": sorted({op.type for op in ops}),
                      "act": [g.get_operation_by_name(n).type for n in ("Elu", "Elu_1")]}))
"""


def run_one_epoch(model: Path, mnist: Path) -> dict:
    """:data:`ONE_EPOCH` on ``model`` (a checkpoint directory) in a fresh interpreter; its JSON."""
    import json
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", ONE_EPOCH, str(model), str(mnist)], capture_output=True,
                         text=True, env=env, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


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


def without_output_shapes(node):
    """A copy of a NodeDef without its recorded ``_output_shapes`` (to test inference alone)."""
    new = type(node)()
    new.CopyFrom(node)
    del new.attr["_output_shapes"]
    return new


def tf_jobs(script: str, jobs: list, tmp_path: Path) -> list:
    """Run ``tests/SCRIPT`` on ``jobs`` in one TensorFlow subprocess (see tests/tf_jobs.py); its results."""
    import json
    import subprocess
    import sys

    src, out = tmp_path / "jobs.json", tmp_path / "results.json"
    src.write_text(json.dumps(jobs))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(ROOT / "tests" / script), str(src), str(out)], capture_output=True,
                         text=True, env=env, cwd=ROOT / "tests", timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="session")
def idiom_zoo() -> dict:
    """The idiom zoo's manifest (tests/idioms: built by TensorFlow once, cached), or a skip saying why."""
    from idioms import zoo

    try:
        _, manifest = zoo()
    except LookupError as exc:  # TensorFlow (or tf-keras) is not installed
        pytest.skip(str(exc))
    return manifest
