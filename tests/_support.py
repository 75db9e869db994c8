"""Helpers the test modules share, imported as a module (``from _support import ...``).

pytest's own fixtures, options and the suite's cache folder are in
``conftest.py``, which no test module imports (importing it loaded it twice,
under two names).

- Where things are: :data:`ROOT`, :data:`FIXTURES`, :data:`MNIST_DIR` and
  :data:`CORPUS_DIR` (the shared data, or None: see :func:`_shared_dir`);
  :func:`fixture_model`, :func:`fixture_models`, :func:`corpus_models`.
- Running TensorFlow in subprocesses: :func:`tf_jobs`, :func:`tf_run`,
  :func:`run_one_epoch`.
- :func:`assert_index_consistent`: after an edit, every fact the Graph's index
  answers (uses, data uses, is_read, dtypes, output counts, parsed inputs,
  wiring, shapes, the networkx view) equals what a Graph freshly built from
  the same protos answers; for a function body, the fresh one is built from
  the FunctionDef written back into the library, so the write-back is checked
  too.
- :func:`close`, :func:`without_output_shapes`, :func:`as_in_a_terminal` (a command a test
  interrupts gets Ctrl-C's default disposition).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphsurgeon as gs
from graphsurgeon.ir.graph import FunctionGraph, Graph
from graphsurgeon.vocab import protos

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


def fresh(g):
    """A Graph rebuilt from ``g``'s protos (a function body: from its FunctionDef in the library, as written back)."""
    if isinstance(g, FunctionGraph):
        root = fresh(g.root)
        return root.function(g.function_name)
    if g.meta_graph is not None:
        meta = protos.MetaGraphDef()
        meta.CopyFrom(g.meta_graph)
        return Graph(meta.graph_def, meta_graph=meta)
    graph_def = protos.GraphDef()
    graph_def.CopyFrom(g.graph_def)
    return Graph(graph_def)


def _without_inputs(node):
    out = type(node)()
    out.CopyFrom(node)
    del out.input[:]
    return out


def _edges(view) -> list:
    return sorted((u, v, d["tensor"] or "", d["src_index"], d["dst_index"], d["control"])
                  for u, v, d in view.edges(data=True))


def assert_index_consistent(g) -> None:
    """Every index answer of ``g`` equals a fresh rebuild's (see the module docstring)."""
    other = fresh(g)
    assert all(g.node_defs[n.name] is n for n in g.graph_def.node), "node_defs out of step with the GraphDef"
    assert len(g.node_defs) == len({n.name for n in g.graph_def.node})
    assert sorted(g.node_defs) == sorted(other.node_defs)
    for name in g.node_defs:  # inputs compared parsed below ("op" and "op:0" are one input)
        assert _without_inputs(g.node_defs[name]) == _without_inputs(other.node_defs[name]), name
    read = {ref.op for name in g.node_defs for ref in g.input_refs(name)}
    for name in set(g.node_defs) | read:
        assert sorted(g.uses(name)) == sorted(other.uses(name)), f"uses({name})"
        assert sorted(g.data_uses(name)) == sorted(other.data_uses(name)), f"data_uses({name})"
        assert g.is_read(name) == other.is_read(name), f"is_read({name})"
    for name in g.node_defs:
        assert g.input_refs(name) == other.input_refs(name), name
        assert g.data_refs(name) == other.data_refs(name), name
        assert g.output_dtypes(name) == other.output_dtypes(name), name
        assert g.num_outputs(name) == other.num_outputs(name), name
    assert g.shapes == other.shapes
    assert g.wiring() == other.wiring()
    assert _edges(g.nx) == _edges(other.nx)
    assert sorted(g.nx.nodes) == sorted(other.nx.nodes)
    assert sorted(g.topological_order()) == sorted(other.topological_order())


def tf_run(jobs: list[dict], tmp_path) -> list[dict]:
    """Run ``jobs`` (see tests/tf_run.py) in one TensorFlow subprocess; each result's arrays as numpy.

    A job's ``feeds`` are numpy arrays here (written to .npy files for the child).
    Any job that fails fails the calling test, with TensorFlow's message.
    """
    tmp_path = Path(tmp_path)
    tmp_path.mkdir(parents=True, exist_ok=True)
    sent = []
    for i, job in enumerate(jobs):
        job = dict(job)
        feeds = {}
        for j, (name, value) in enumerate((job.get("feeds") or {}).items()):
            path = tmp_path / f"feed_{i}_{j}.npy"
            np.save(path, np.asarray(value), allow_pickle=True)
            feeds[name] = str(path)
        job["feeds"] = feeds
        job["model"] = str(job["model"])
        job["out"] = str(tmp_path / f"out_{i}.npz")
        sent.append(job)
    jobs_file, out_file = tmp_path / "tf_run_jobs.json", tmp_path / "tf_run_out.json"
    jobs_file.write_text(json.dumps(sent))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(["nice", "-n", "10", sys.executable, str(ROOT / "tests" / "tf_run.py"), str(jobs_file),
                           str(out_file)], capture_output=True, text=True, env=env, cwd=ROOT, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out_file.read_text())
    out = []
    for job, result in zip(sent, results):
        assert "error" not in result, (job["model"], result["error"])
        with np.load(job["out"], allow_pickle=True) as values:
            result["values"] = [values[f"v{i}"] for i in range(len(values.files))]
        out.append(result)
    return out


def close(a, b, rtol: float = 1e-6) -> bool:
    """Equal within ``rtol`` relative (to the larger magnitude, at least 1e-30), exactly for non-floats."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind not in "fc" or b.dtype.kind not in "fc":
        return bool(np.array_equal(a, b))
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    both_nan = np.isnan(a64) & np.isnan(b64)
    scale = np.maximum(np.maximum(np.abs(a64), np.abs(b64)), 1e-30)
    ok = (np.abs(a64 - b64) <= rtol * scale) | both_nan | (a64 == b64)
    return bool(np.all(ok))


def load(path):
    return gs.load(path)


def as_in_a_terminal() -> None:
    """``preexec_fn`` of a command a test interrupts with SIGINT: Ctrl-C's default disposition, as a shell
    gives a foreground command. A test suite started in the background (``pytest ... &`` in a script, some CI
    runners) inherits SIGINT ignored, and so would the command (Python then never raises KeyboardInterrupt)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
