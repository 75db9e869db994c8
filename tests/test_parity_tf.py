"""Read-path parity: what graphsurgeon reports about a graph is what TensorFlow reports.

For every committed fixture model and every corpus model that TensorFlow can
import, ``tests/tf_oracle.py`` imports the graph with TensorFlow (in one
subprocess for all models, once per session) and we compare, op by op:
names, types, data inputs (in order), control inputs, output dtypes, and
shapes. Shapes are compared twice: as read (the importer merges recorded
``_output_shapes`` into what it infers, and so do we) and with every
``_output_shapes`` stripped on both sides (our inference against TensorFlow's
shape functions alone). Where TensorFlow knows a dimension we must report the
same one; where we know more, the op type must be one whose extra knowledge is
justified (see ``JUSTIFIED_EXTRA``).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _support import CORPUS_DIR, FIXTURES, ROOT, without_output_shapes as _without_output_shapes

ORACLE = ROOT / "tests" / "tf_oracle.py"
MANIFEST = FIXTURES / "manifest.json"

# (id, path relative to its root, kind for the oracle, tag)
FIXTURE_MODELS = [
    ("mnist_bn_elu_tf1", "mnist_bn_elu_tf1/model.ckpt.meta", "meta", None),
    ("mnist_bn_elu_resource", "mnist_bn_elu_resource/model.ckpt.meta", "meta", None),
    ("mnist_bn_elu_0to4", "mnist_bn_elu_0to4/model.ckpt.meta", "meta", None),
    ("mnist_bn_elu_savedmodel_tf1", "mnist_bn_elu_savedmodel_tf1", "savedmodel", None),
    ("mnist_bn_elu_savedmodel_tf2", "mnist_bn_elu_savedmodel_tf2", "savedmodel", None),
    ("mnist_bn_elu_frozen.pb", "mnist_bn_elu_frozen.pb", "graphdef", None),
]
CORPUS_MODELS = [
    ("gknoblau_v1_ckpt", "gknoblau_v1_ckpt/model.ckpt.meta", "meta", None),
    ("serving_half_plus_two_cpu", "serving_half_plus_two_cpu", "savedmodel", None),
    ("serving_half_plus_two_tf2_cpu", "serving_half_plus_two_tf2_cpu", "savedmodel", None),
    ("serving_session_bundle_half_plus_two", "serving_session_bundle_half_plus_two/export.meta",
     "meta", None),
    ("tf2onnx_lstm_frozen", "tf2onnx_lstm_frozen/frozen.pb", "graphdef", None),
    ("tf2onnx_regression_ckpt", "tf2onnx_regression_ckpt/model.meta", "meta", None),
    ("tfmlir_functional_while", "tfmlir_functional_while/functional-while-ops.pbtxt", "graphdef", None),
    ("tfmlir_graph_while_loop", "tfmlir_graph_while_loop/graph-while-loop.pbtxt", "graphdef", None),
    ("tfnet_cond_test_meta", "tfnet_cond_test_meta/cond_test.meta", "meta", None),
    ("tfnet_keras_lstm_from_sequential", "tfnet_keras_lstm_from_sequential", "savedmodel", None),
    ("ptpb_xdeepfm_textpb", "ptpb_xdeepfm_textpb/xDeepFM.pb", "graphdef", None),
    ("tfx_transform_fn", "tfx_transform_fn", "savedmodel", "transform"),
]
# Op types whose shapes we may know where TensorFlow does not, and why:
# restores (and Identity ops reading them) feeding Assign(validate_shape=true)
# must produce the variable's shape or the restore fails at run time; feeding
# AssignVariableOp, the VarHandleOp's declared shape, which TensorFlow itself
# reports for every read of that variable (graphsurgeon.analysis.shapes._restored_shapes).
RESTORE_OPS = {"RestoreV2", "RestoreSlice", "Restore"}


def justified_extra(g, op) -> bool:
    while op.type == "Identity" and op.inputs:
        op = op.inputs[0].op
    return op.type in RESTORE_OPS


def _fixture_entries():
    entries = [(f"fixture:{name}", FIXTURES / rel, kind, tag) for name, rel, kind, tag in FIXTURE_MODELS]
    if MANIFEST.is_file():
        # A manifest promises its models: a missing one is a failure, not a skip.
        return entries
    return [e for e in entries if e[1].exists()]


def _corpus_entries():
    if CORPUS_DIR is None:
        return []
    return [(f"corpus:{name}", CORPUS_DIR / rel, kind, tag) for name, rel, kind, tag in CORPUS_MODELS]


MODELS = _fixture_entries() + _corpus_entries()


@pytest.fixture(scope="session")
def oracle(tmp_path_factory) -> dict:
    """TensorFlow's JSON report of every model, by id (one subprocess for all)."""
    work = tmp_path_factory.mktemp("tf_oracle")
    jobs = []
    for model_id, path, kind, tag in MODELS:
        if path.exists():
            out = work / (model_id.replace(":", "_").replace("/", "_") + ".json")
            jobs.append({"id": model_id, "model": str(path), "kind": kind, "tag": tag, "out": str(out)})
    (work / "jobs.json").write_text(json.dumps(jobs))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(ORACLE), "--batch", str(work / "jobs.json")],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {job["id"]: json.loads(Path(job["out"]).read_text()) for job in jobs}


def _load(path, tag):
    import graphsurgeon as gs

    return gs.load(path, tag=tag)


def _strip_recorded_shapes(g):
    for node in list(g.graph_def.node):
        if "_output_shapes" in node.attr:
            g.replace_op(_without_output_shapes(node))
    return g


def compare_shape(ours, theirs):
    """'same', 'extra' (we know more, never less, never different) or a reason it is wrong."""
    if theirs is None:
        return "same" if ours is None else "extra"
    if ours is None:
        return "unknown where TensorFlow knows"
    if len(ours) != len(theirs):
        return "wrong rank"
    extra = False
    for a, b in zip(ours, theirs):
        if b is None:
            extra = extra or a is not None
        elif a != b:
            return "wrong dimension" if a is not None else "unknown dimension where TensorFlow knows"
    return "extra" if extra else "same"


def check_shapes(g, tf_ops, key):
    wrong, extra = [], []
    for record in tf_ops:
        op = g.op(record["name"])
        for tensor, theirs in zip(op.outputs, record[key]):
            ours = None if tensor.shape is None else list(tensor.shape)
            verdict = compare_shape(ours, theirs)
            if verdict == "extra":
                extra.append((tensor.name, op.type, ours, theirs))
            elif verdict != "same":
                wrong.append((tensor.name, op.type, verdict, ours, theirs))
    return wrong, extra


def test_compare_shape_rules():
    # Hand-checked facts about the comparison itself (so the parity test can fail).
    assert compare_shape([None, 784], [None, 784]) == "same"
    assert compare_shape([5, 784], [None, 784]) == "extra"
    assert compare_shape(None, [None, 784]) == "unknown where TensorFlow knows"
    assert compare_shape([None, 784], [None]) == "wrong rank"
    assert compare_shape([None, 785], [None, 784]) == "wrong dimension"
    assert compare_shape([], None) == "extra"


@pytest.mark.parametrize("model_id,path,kind,tag", MODELS, ids=[m[0] for m in MODELS])
def test_read_parity_with_tensorflow(oracle, model_id, path, kind, tag):
    assert path.exists(), f"{path} is listed in {MANIFEST} but missing"
    report = oracle[model_id]
    assert "error" not in report, report.get("error")
    # TensorFlow created exactly the nodes of the file, no more, no fewer.
    assert report["added"] == [] and report["missing"] == []
    g = _load(path, tag)
    tf_ops = report["ops"]
    assert {op.name for op in g} == {r["name"] for r in tf_ops}
    assert len(g) == len(tf_ops)
    for r in tf_ops:
        op = g.op(r["name"])
        assert op.type == r["type"], r["name"]
        assert op.input_names == r["inputs"], r["name"]
        assert sorted("^" + c for c in op.control_input_names) == sorted(r["control_inputs"]), r["name"]
        assert [t.dtype for t in op.outputs] == r["dtypes"], r["name"]

    wrong, extra = check_shapes(g, tf_ops, "shapes")
    assert not wrong, wrong[:10]
    assert all(justified_extra(g, g.tensor(name).op) for name, _, _, _ in extra), extra[:10]

    # Inference alone, against TensorFlow's shape functions alone.
    g = _strip_recorded_shapes(_load(path, tag))
    wrong, extra = check_shapes(g, tf_ops, "inferred_shapes")
    assert not wrong, wrong[:10]
    assert all(justified_extra(g, g.tensor(name).op) for name, _, _, _ in extra), extra[:10]


@pytest.mark.parametrize("fixture", ["mnist_bn_elu_tf1", "mnist_bn_elu_resource"])
def test_restored_shapes_match_the_checkpoint(fixture):
    """The one place we know more than TensorFlow: restores, checked against the checkpoint itself."""
    path = FIXTURES / fixture / "model.ckpt.meta"
    if not path.exists() and not MANIFEST.is_file():
        pytest.skip(f"fixture {fixture} not built")
    from graphsurgeon.vocab import values

    g = _strip_recorded_shapes(_load(path, None))
    restore = g.op("save/RestoreV2")
    names = values.to_numpy(g.op(restore.inputs[1].op_name).attr_protos["value"].tensor)
    code = ("import json, sys, tensorflow as tf\n"
            "r = tf.train.load_checkpoint(sys.argv[1])\n"
            "print(json.dumps(r.get_variable_to_shape_map()))\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", code, str(path)[: -len(".meta")]],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    in_checkpoint = json.loads(proc.stdout)
    assert len(names) == len(restore.outputs) > 0
    for name, tensor in zip(names, restore.outputs):
        assert list(tensor.shape) == in_checkpoint[name.decode()], name


def test_custom_op_graph_still_loads_and_lists(corpus_dir):
    """deepmd_cu_frozen: TensorFlow cannot import it (custom ops); we still read everything else."""
    from graphsurgeon.analysis import report

    g = _load(corpus_dir / "deepmd_cu_frozen" / "frozen_model.pb", None)
    records = report.ls_records(g)
    assert len(records) == len(g) > 0
    unknown = [r for r in records if g.registry.get(r["type"]) is None]
    assert {r["type"] for r in unknown} == {"DescrptSeA", "ProdForceSeA", "ProdVirialSeA"}
    for r in records:
        dtypes = [o["dtype"] for o in r["outputs"]]
        if r in unknown:
            # As many outputs as consumers read, each of unknown dtype.
            assert dtypes and all(d is None for d in dtypes), r["name"]
        else:
            assert all(d is not None for d in dtypes), r["name"]
