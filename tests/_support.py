"""Helpers the tests of the surgery API share (imported as a module, unlike conftest's fixtures).

- :func:`assert_index_consistent`: after an edit, every fact the Graph's index
  answers (uses, data uses, is_read, dtypes, output counts, parsed inputs,
  wiring, shapes, the networkx view) equals what a Graph freshly built from
  the same protos answers; for a function body, the fresh one is built from
  the FunctionDef written back into the library, so the write-back is checked
  too.
- :func:`tf_run`: run graphs in TensorFlow (one subprocess for many jobs,
  ``tests/tf_run.py``) and get numpy arrays back.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import graphsurgeon as gs
from graphsurgeon.ir.graph import FunctionGraph, Graph
from graphsurgeon.vocab import protos

ROOT = Path(__file__).resolve().parent.parent


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
