"""prune: against TensorFlow's own answers.

Every case prunes a real model (corpus, fixtures, small graphs built here
with tf.compat.v1) in this process, TF-free, and writes the result; then one
TensorFlow subprocess (this file run as a script) imports each original and
each pruned graph, restores the original's variables (and copies their
values into the pruned graph's, matched by name), feeds both the same random
inputs and compares the outputs; it also reports which ops
``tf.compat.v1.graph_util.extract_sub_graph`` keeps for the same outputs.

Run as ``python tests/test_prune.py build DIR`` it builds the small graphs;
as ``python tests/test_prune.py run JOBS.json`` it answers the jobs.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VARIABLE_TYPES = ("VariableV2", "Variable", "VarHandleOp")


# ====================================================================== TensorFlow side
# (runs only in the subprocess)

def _tf():
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    return tf


def build_small_graphs(out: Path) -> None:
    """Small TF1 graphs with the edges prune must follow (written as .meta files)."""
    tf = _tf()
    tf.compat.v1.disable_resource_variables()
    tf.compat.v1.disable_control_flow_v2()
    # colocation: y is colocated with `side`, which no data or control edge reaches.
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        side = tf.reduce_sum(x, name="side")
        with tf.compat.v1.colocate_with(side):
            y = tf.identity(x * 3.0, name="y")
        check = tf.compat.v1.assert_positive(tf.reduce_sum(tf.abs(x)) + 1.0, name="check")
        with tf.control_dependencies([check]):
            tf.identity(y + 1.0, name="z")
        tf.compat.v1.train.export_meta_graph(str(out / "colocation.meta"), graph=g)
    # a multi-output op cut at its output 1, and a ref variable cut at its output.
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4], name="x")
        v = tf.compat.v1.Variable(tf.ones([4, 3]) * 0.5, name="v")
        h = tf.matmul(x, v, name="h")
        a, b = tf.split(h, [1, 2], axis=1, name="split")
        out_b = tf.identity(b * 2.0, name="out_b")
        tf.identity(a + tf.reduce_sum(out_b, axis=1, keepdims=True), name="out")
        tf.compat.v1.train.export_meta_graph(str(out / "split.meta"), graph=g)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(sess, str(out / "split.ckpt"), write_meta_graph=False)


def _read_graph_def(tf, path: Path, kind: str, tag):
    from google.protobuf import text_format

    data = path.read_bytes() if kind != "savedmodel" else b""
    if kind == "graphdef":
        gd = tf.compat.v1.GraphDef()
        try:
            gd.ParseFromString(data)
            if gd.node:
                return gd
        except Exception:  # noqa: BLE001 - text form
            pass
        gd = tf.compat.v1.GraphDef()
        text_format.Parse(data.decode("utf-8"), gd)
        return gd
    if kind == "meta":
        meta = tf.compat.v1.MetaGraphDef()
        meta.ParseFromString(data)
        return meta.graph_def
    from tensorflow.core.protobuf import saved_model_pb2

    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((path / "saved_model.pb").read_bytes())
    for meta in sm.meta_graphs:
        if tag in meta.meta_info_def.tags:
            return meta.graph_def
    return sm.meta_graphs[0].graph_def


def _load(tf, sess, spec: dict) -> None:
    path, kind = Path(spec["path"]), spec["kind"]
    if kind == "graphdef":
        tf.compat.v1.import_graph_def(_read_graph_def(tf, path, kind, None), name="")
    elif kind == "savedmodel":
        tf.compat.v1.saved_model.loader.load(sess, [spec.get("tag") or "serve"], str(path))
    else:
        saver = tf.compat.v1.train.import_meta_graph(str(path), clear_devices=True)
        if spec.get("checkpoint") and saver is not None:
            saver.restore(sess, spec["checkpoint"])
        elif tf.compat.v1.global_variables() and not spec.get("pruned"):
            sess.run(tf.compat.v1.global_variables_initializer())


def _variable_values(tf, sess, names: list[str]) -> dict:
    graph = sess.graph
    out = {}
    for name in names:
        op = graph.get_operation_by_name(name)
        if op.type == "VarHandleOp":
            out[name] = sess.run(tf.raw_ops.ReadVariableOp(resource=op.outputs[0], dtype=op.get_attr("dtype")))
        else:
            out[name] = sess.run(op.outputs[0])
    return out


def _assign(tf, sess, values: dict) -> None:
    graph = sess.graph
    ops = []
    for name, value in values.items():
        op = graph.get_operation_by_name(name)
        if op.type == "VarHandleOp":
            ops.append(tf.raw_ops.AssignVariableOp(resource=op.outputs[0], value=value))
        else:
            ops.append(tf.compat.v1.assign(op.outputs[0], value))
    if ops:
        sess.run(ops)


def _feeds(feeds: dict, seed: int = 0) -> dict:
    import numpy as np

    rng = np.random.default_rng(seed)
    out = {}
    for name, (dtype, shape) in sorted(feeds.items()):
        if isinstance(shape, (int, float)):  # a scalar value given as is
            out[name] = np.asarray(shape, dtype=dtype)
        else:
            out[name] = rng.normal(size=shape).astype(dtype)
    return out


def run_job(tf, job: dict) -> dict:
    import numpy as np

    result: dict = {}
    original, pruned = job["original"], job["pruned"]
    feeds = _feeds(job["feeds"])
    # What extract_sub_graph keeps for the same outputs (op names).
    gd = _read_graph_def(tf, Path(original["path"]), original["kind"], original.get("tag") or "serve")
    dest = sorted({name.split(":")[0] for name in job["outputs"]})
    result["extract"] = sorted(n.name for n in tf.compat.v1.graph_util.extract_sub_graph(gd, dest).node)
    try:
        with tf.Graph().as_default() as g, tf.compat.v1.Session() as sess:
            tf.compat.v1.import_graph_def(tf.compat.v1.graph_util.extract_sub_graph(gd, dest), name="")
        result["extract_imports"] = None
    except Exception as exc:  # noqa: BLE001 - what TensorFlow says of its own result
        result["extract_imports"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    with tf.Graph().as_default() as g, tf.compat.v1.Session(graph=g) as sess:
        _load(tf, sess, original)
        values = _variable_values(tf, sess, job["variables"])
        want = sess.run(job["outputs"], feed_dict=feeds)
    with tf.Graph().as_default() as g, tf.compat.v1.Session(graph=g) as sess:
        _load(tf, sess, {"path": pruned["path"], "kind": pruned["kind"], "pruned": True})
        result["op_names"] = [op.name for op in g.get_operations()]
        _assign(tf, sess, values)
        result["placeholders"] = {}
        for op in g.get_operations():
            if op.type == "Placeholder":
                shape = tf.TensorShape(op.get_attr("shape"))
                result["placeholders"][op.name] = [op.get_attr("dtype").name,
                                                   None if shape.rank is None else shape.as_list()]
        rename = job.get("renamed", {})
        present = {op.name for op in g.get_operations()}
        # Inputs the cut made unnecessary are gone from the pruned graph: feed what is there.
        pruned_feeds = {rename.get(k, k): v for k, v in feeds.items() if rename.get(k, k).split(":")[0] in present}
        got = sess.run([rename.get(t, t) for t in job["outputs"]], feed_dict=pruned_feeds)
    result["max_abs_diff"] = max(float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))
                                 if np.size(a) else 0.0 for a, b in zip(want, got))
    result["outputs"] = [np.asarray(v).ravel()[:16].tolist() for v in got]
    result["feeds"] = {k: np.asarray(v).ravel()[:16].tolist() for k, v in feeds.items()}
    return result


def run_jobs(path: Path) -> None:
    tf = _tf()
    jobs = json.loads(path.read_text())
    results = {}
    for key, job in jobs.items():
        try:
            results[key] = run_job(tf, job)
        except Exception as exc:  # noqa: BLE001 - reported per case, the test fails on it
            results[key] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    print(json.dumps(results))


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build_small_graphs(Path(sys.argv[2]))
    else:
        run_jobs(Path(sys.argv[2]))
    sys.exit(0)


# ====================================================================== the tests (TF-free)
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from _support import CORPUS_DIR, FIXTURES  # noqa: E402
from graphsurgeon.cli.main import cli  # noqa: E402

import graphsurgeon as gs  # noqa: E402
from graphsurgeon.surgery.prune import needed_ops  # noqa: E402

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}

MNIST = {"X:0": ("float32", [8, 784])}
# name: (where, model path, tag/checkpoint, outputs, inputs to cut at, feeds {tensor: (dtype, shape)})
CORPUS_CASES = {
    "half_plus_two": ("serving_half_plus_two_cpu", ["y:0"], None, {"x:0": ("float32", [5, 1])}),
    "half_plus_two_cut": ("serving_half_plus_two_cpu", ["y:0"], ["x:0"], {"x:0": ("float32", [5, 1])}),
    "half_plus_two_tf2": ("serving_half_plus_two_tf2_cpu", ["StatefulPartitionedCall_5:0"], None,
                          {"serving_default_x:0": ("float32", [1])}),
    "lstm_frozen": ("tf2onnx_lstm_frozen/frozen.pb", ["output:0"], None,
                    {"X:0": ("float32", [3, 784]), "keep_prob:0": ("float32", 1.0)}),
    "lstm_frozen_cut": ("tf2onnx_lstm_frozen/frozen.pb", ["output:0"], ["model/Reshape:0"],
                        {"X:0": ("float32", [3, 784]), "keep_prob:0": ("float32", 1.0),
                         "model/Reshape:0": ("float32", [3, 28, 28])}),
    "regression": ("tf2onnx_regression_ckpt/model.meta", ["pred:0"], None, {"X:0": ("float32", [6])}),
    "v1_ckpt_legacy_variable": ("gknoblau_v1_ckpt/model.ckpt.meta", ["Relu_1:0"], None,
                                {"Placeholder:0": ("float32", [32, 4])}),
    "while_loop": ("tfmlir_graph_while_loop/graph-while-loop.pbtxt", ["while/Exit:0"], None, {}),
    "cond": ("tfnet_cond_test_meta/cond_test.meta", ["cond/Merge:0"], None, {}),
}
FIXTURE_CASES = {
    "fx_tf1": ("mnist_bn_elu_tf1/model.ckpt.meta", ["logits:0", "probabilities:0"], None, MNIST),
    "fx_tf1_cut": ("mnist_bn_elu_tf1/model.ckpt.meta", ["logits:0"], ["Elu:0"],
                   {**MNIST, "Elu:0": ("float32", [8, 300])}),
    "fx_resource": ("mnist_bn_elu_resource/model.ckpt.meta", ["logits:0"], None, MNIST),
    "fx_0to4": ("mnist_bn_elu_0to4/model.ckpt.meta", ["logits:0"], None, MNIST),
    "fx_savedmodel_tf1": ("mnist_bn_elu_savedmodel_tf1", ["logits:0", "probabilities:0"], None, MNIST),
    "fx_savedmodel_tf2": ("mnist_bn_elu_savedmodel_tf2", ["StatefulPartitionedCall:0"], None,
                          {"serving_default_X:0": ("float32", [8, 784])}),
    "fx_frozen_cut": ("mnist_bn_elu_frozen.pb", ["logits:0"], ["Elu_1:0"],
                      {**MNIST, "Elu_1:0": ("float32", [8, 100])}),
}
SMALL_CASES = {
    "small_colocation": ("colocation.meta", ["y:0"], None, {"x:0": ("float32", [3, 4])}),
    "small_control": ("colocation.meta", ["z:0"], None, {"x:0": ("float32", [3, 4])}),
    "small_split_cut": ("split.meta", ["out:0", "out_b:0"], ["split:1"],
                        {"x:0": ("float32", [3, 4]), "split:1": ("float32", [3, 2])}),
    "small_ref_cut": ("split.meta", ["out:0"], ["v:0"], {"x:0": ("float32", [3, 4]), "v:0": ("float32", [4, 3])}),
}


def _fixture_models_listed() -> list[str]:
    manifest = FIXTURES / "manifest.json"
    if not manifest.is_file():
        return []
    return list(json.loads(manifest.read_text()).get("models", {}))


def _kind(g) -> str:
    return {"meta": "meta", "savedmodel": "savedmodel"}.get(g.format, "graphdef")


def _checkpoint(g) -> str | None:
    model = g.model
    return str(model.checkpoint) if model is not None and model.checkpoint else None


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """Prune every available case, write it, and ask TensorFlow about all of them in one run."""
    work = tmp_path_factory.mktemp("prune")
    small = work / "small"
    small.mkdir()
    build = subprocess.run([sys.executable, __file__, "build", str(small)], capture_output=True, text=True,
                           env=ENV, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    cases = {}
    if CORPUS_DIR is not None:
        cases.update({k: (CORPUS_DIR / p, *rest) for k, (p, *rest) in CORPUS_CASES.items()})
    if _fixture_models_listed():
        cases.update({k: (FIXTURES / p, *rest) for k, (p, *rest) in FIXTURE_CASES.items()})
    cases.update({k: (small / p, *rest) for k, (p, *rest) in SMALL_CASES.items()})
    jobs, pruned = {}, {}
    for key, (path, outputs, inputs, feeds) in cases.items():
        g = gs.load(path)
        if key.startswith("small_split"):  # the small graphs' checkpoint sits beside them
            g.model.checkpoint = str(small / "split.ckpt")
        p, changes = gs.prune(g, outputs, inputs)
        out = work / f"{key}.{'pb' if _kind(g) == 'graphdef' else 'meta'}"
        p.save(out)
        pruned[key] = (g, p, changes)
        original = {"path": str(g.model.path if g.format == "savedmodel" else g.model.file), "kind": _kind(g),
                    "checkpoint": _checkpoint(g) if g.format == "meta" else None}
        jobs[key] = {"original": original, "pruned": {"path": str(out), "kind": "meta" if out.suffix == ".meta" else "graphdef"},
                     "outputs": outputs, "feeds": feeds, "renamed": changes.renamed,
                     "variables": [op.name for op in p.ops(type=list(VARIABLE_TYPES))]}
    (work / "jobs.json").write_text(json.dumps(jobs))
    run = subprocess.run([sys.executable, __file__, "run", str(work / "jobs.json")], capture_output=True,
                         text=True, env=ENV, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1]), pruned


def _case(oracle, key):
    results, pruned = oracle
    if key not in results:
        if key in CORPUS_CASES:
            pytest.skip("corpus not available (GS_CORPUS_DIR)")
        pytest.skip("fixture models not built yet (no fixtures/models/manifest.json)")
    result = results[key]
    assert "error" not in result, result.get("error")
    return result, pruned[key]


ALL_CASES = list(CORPUS_CASES) + list(FIXTURE_CASES) + list(SMALL_CASES)


@pytest.mark.parametrize("key", ALL_CASES)
def test_pruned_graph_computes_the_same_in_tensorflow(oracle, key):
    result, (g, p, changes) = _case(oracle, key)
    assert result["max_abs_diff"] <= 1e-6, result
    # TensorFlow imports every op we wrote; what it adds is only the Saver that
    # import_meta_graph builds for variables when the meta graph has none.
    names = {op.name for op in p}
    assert names <= set(result["op_names"])
    extra = set(result["op_names"]) - names
    assert all(n.startswith("save/") for n in extra), sorted(extra)


@pytest.mark.parametrize("key", ["half_plus_two", "half_plus_two_cut", "half_plus_two_tf2"])
def test_half_plus_two_still_computes_half_x_plus_two(oracle, key):
    result, _ = _case(oracle, key)
    x = next(iter(result["feeds"].values()))
    assert result["outputs"][0] == pytest.approx([0.5 * v + 2 for v in x], abs=1e-6)


@pytest.mark.parametrize("key", ALL_CASES)
def test_kept_ops_match_extract_sub_graph(oracle, key):
    """The ops kept are exactly those TensorFlow's extract_sub_graph keeps for the same outputs.

    (TensorFlow 2.x's extract_sub_graph walks data, control and colocation
    edges, as we do; the small colocation graph shows the colocation walk matters.)
    """
    result, (g, p, changes) = _case(oracle, key)
    _, outputs, inputs, _ = (CORPUS_CASES | FIXTURE_CASES | SMALL_CASES)[key]
    if inputs:
        return  # extract_sub_graph cannot cut; the other tests cover cutting
    kept, _, _ = needed_ops(g, outputs)
    assert sorted(kept) == result["extract"]
    p_walk, _ = gs.prune(g, outputs, keep_initializers=False)
    assert sorted(op.name for op in p_walk) == result["extract"]
    if key == "small_colocation":
        without, _, _ = needed_ops(g, outputs, colocation=False)
        assert kept - without == {"side", "Const"}  # `side` and its reduction axes
        assert result["extract_imports"] is None


def test_pruning_a_while_loop_keeps_the_whole_loop(oracle):
    result, (g, p, changes) = _case(oracle, "while_loop")
    assert {op.name for op in p} == {op.name for op in g}
    assert p.op("while/Merge").input_names[1] == "while/NextIteration:0"  # the back edge


def test_control_dependencies_are_kept(oracle):
    result, (g, p, changes) = _case(oracle, "small_control")
    assert "check/Assert" in p or any(op.type == "Assert" for op in p)
    assert "check" in {name.split("/")[0] for name in (op.name for op in p)}


@pytest.mark.parametrize("key", ["half_plus_two_cut", "lstm_frozen_cut", "fx_tf1_cut", "fx_frozen_cut",
                                 "small_split_cut", "small_ref_cut"])
def test_cut_inputs_become_placeholders_of_the_right_dtype_and_shape(oracle, key):
    result, (g, p, changes) = _case(oracle, key)
    spec = (CORPUS_CASES | FIXTURE_CASES | SMALL_CASES)[key]
    for tensor_name in spec[2]:
        t = g.tensor(tensor_name)
        new = changes.renamed.get(tensor_name, tensor_name)
        op = new.split(":")[0]
        dtype, shape = result["placeholders"][op]  # TensorFlow's view of the written placeholder
        assert dtype == t.dtype.removesuffix("_ref")
        assert shape == (None if t.shape is None else list(t.shape))
        if t.index == 0 and tensor_name.split(":")[0] not in {o.name for o in p if o.type != "Placeholder"}:
            assert new == tensor_name  # named after the op it replaces
    if key == "small_split_cut":
        # split:0 is still computed, so split:1's placeholder has a new name.
        assert changes.renamed == {"split:1": "split_output_1:0"}
        assert result["placeholders"]["split_output_1"] == ["float32", [None, 2]]
        assert p.op("split").type == g.op("split").type
    if key == "small_ref_cut":
        assert g.tensor("v:0").dtype == "float32_ref"
        assert result["placeholders"]["v"] == ["float32", [4, 3]]


def test_pruned_meta_graph_restores_with_a_fresh_saver(tmp_path):
    """Kept variables keep valid VariableDefs, and the pruned graph restores from the original checkpoint.

    Every variable the model's saver restores stays (the fixture trains with
    plain gradient descent: no slots), so the saver stays whole, and
    import_meta_graph returns it.
    """
    if "mnist_bn_elu_tf1" not in _fixture_models_listed():
        pytest.skip("fixture models not built yet")
    g = gs.load(FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt.meta")
    p, changes = gs.prune(g, ["logits:0"])
    p.save(tmp_path / "p.meta")
    script = f"""
import numpy as np, tensorflow as tf
tf.compat.v1.disable_eager_execution()
x = np.random.default_rng(0).normal(size=(4, 784)).astype("float32")
outs = []
for meta in [{str(FIXTURES / 'mnist_bn_elu_tf1' / 'model.ckpt.meta')!r}, {str(tmp_path / 'p.meta')!r}]:
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        saver = tf.compat.v1.train.import_meta_graph(meta)
        saver.restore(sess, {str(FIXTURES / 'mnist_bn_elu_tf1' / 'model.ckpt')!r})
        outs.append(sess.run("logits:0", {{"X:0": x}}))
print(float(np.max(np.abs(outs[0] - outs[1]))))
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert float(run.stdout.strip().splitlines()[-1]) == 0.0
    assert not any("variable" in d and "collection 'variables'" in d for d in changes.dropped)
    assert not [d for d in changes.dropped if d.startswith("saver_def")]
    assert "saver: the model's own saver stays whole: every variable it restores stays" in changes.notes
    assert p.meta_graph.saver_def == g.meta_graph.saver_def
    assert {op.name for op in g.ops("save/**")} == {op.name for op in p.ops("save/**")}


# ---------------------------------------------------------------- TF-free checks

def _small_graph():
    from graphsurgeon.vocab.protos import graph_pb2

    gd = graph_pb2.GraphDef()
    for name, op, inputs in [("a", "Placeholder", []), ("b", "Identity", ["a"]), ("c", "Identity", ["b"]),
                             ("d", "Identity", ["c", "^b"]), ("unused", "Identity", ["a"])]:
        node = gd.node.add(name=name, op=op)
        node.input.extend(inputs)
        node.attr["T" if op == "Identity" else "dtype"].type = 1
    return gs.Graph(gd)


def test_prune_leaves_the_input_graph_alone():
    g = _small_graph()
    before = g.graph_def.SerializeToString()
    p, changes = gs.prune(g, ["d:0"], inputs=["c:0"])
    assert g.graph_def.SerializeToString() == before
    # c is replaced by a Placeholder named c; b (and so a) are kept because d
    # has a control input on b: b must still run.
    assert [op.name for op in p] == ["a", "b", "c", "d"]
    assert p.op("c").type == "Placeholder" and p.op("c").inputs == [] and p.op("d").input_names == ["c:0"]
    assert changes.removed == ["unused"] and changes.changed == ["c"]
    p, changes = gs.prune(g, ["c:0"], inputs=["b:0"])
    assert [op.name for op in p] == ["b", "c"] and sorted(changes.removed) == ["a", "d", "unused"]


def test_unknown_output_fails_with_the_closest_names():
    g = _small_graph()
    with pytest.raises(gs.NotFoundError) as info:
        gs.prune(g, ["dd:0"])
    assert "'d:0'" in str(info.value)
    with pytest.raises(gs.NotFoundError):
        gs.prune(g, ["d:0"], inputs=["nope:0"])


def test_deep_chain_does_not_recurse():
    from graphsurgeon.vocab.protos import graph_pb2

    gd = graph_pb2.GraphDef()
    gd.node.add(name="n0", op="Placeholder").attr["dtype"].type = 1
    for i in range(1, 20000):
        node = gd.node.add(name=f"n{i}", op="Identity", input=[f"n{i - 1}"])
        node.attr["T"].type = 1
    p, _ = gs.prune(gs.Graph(gd), ["n19999"], inputs=["n10000:0"])
    assert len(p) == 10000 and p.op("n10000").type == "Placeholder"


# ---------------------------------------------------------------- CLI

def _fixture_or_corpus_model() -> Path:
    if _fixture_models_listed():
        return FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt.meta"
    if CORPUS_DIR is None:
        pytest.skip("neither fixtures nor corpus available")
    return CORPUS_DIR / "tf2onnx_regression_ckpt" / "model.meta"


def test_cli_prune_writes_and_reports(tmp_path):
    model = _fixture_or_corpus_model()
    g = gs.load(model)
    output = "logits:0" if "logits" in g else "pred:0"
    out = tmp_path / "small.meta"
    res = CliRunner().invoke(cli, ["prune", str(model), "--outputs", output, "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    p = gs.load(out)
    assert data["ops"] == {"before": len(g), "after": len(p)}
    assert set(data["removed"]) == {op.name for op in g} - {op.name for op in p}
    # -o replaces an existing output (as cc -o does); --force is accepted and changes nothing.
    out.write_bytes(b"an older output")
    res = CliRunner().invoke(cli, ["prune", str(model), "--outputs", output, "-o", str(out)])
    assert res.exit_code == 0 and "removed" in res.output
    assert len(gs.load(out)) == len(p)
    res = CliRunner().invoke(cli, ["prune", str(model), "--outputs", output, "-o", str(out), "--force"])
    assert res.exit_code == 0 and "removed" in res.output
    # Over the input only with --in-place; an extension that names no format is refused before any work.
    res = CliRunner().invoke(cli, ["prune", str(out), "--outputs", output, "-o", str(out)])
    assert res.exit_code == 1 and res.output.count("error:") == 1 and "--in-place" in res.output
    res = CliRunner().invoke(cli, ["prune", str(model), "--outputs", output, "-o", str(tmp_path / "out.txt")])
    assert res.exit_code == 2 and res.output.startswith("error:") and ".meta" in res.output
    assert not (tmp_path / "out.txt").exists()


def test_cli_prune_bad_output_fails_in_one_line_and_writes_nothing(tmp_path):
    model = _fixture_or_corpus_model()
    out = tmp_path / "x.pb"
    res = CliRunner().invoke(cli, ["prune", str(model), "--outputs", "logitz:0", "-o", str(out)])
    assert res.exit_code == 1
    lines = [line for line in res.output.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: no tensor named 'logitz:0'")
    assert "did you mean" in lines[0]
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_cli_prune_refuses_to_overwrite_its_input(tmp_path):
    model = _fixture_or_corpus_model()
    copy = tmp_path / "m.meta"
    copy.write_bytes(model.read_bytes())
    output = "logits:0" if "logits" in gs.load(copy) else "pred:0"
    res = CliRunner().invoke(cli, ["prune", str(copy), "--outputs", output, "-o", str(copy)])
    assert res.exit_code == 1 and "is the input" in res.output
    assert copy.read_bytes() == model.read_bytes()
    res = CliRunner().invoke(cli, ["prune", str(copy), "--outputs", output, "--in-place"])
    assert res.exit_code == 0, res.output
    assert len(gs.load(copy)) < len(gs.load(model))


def test_saver_note_says_whether_tensorflow_will_make_one():
    """With no variable left, import_meta_graph makes no Saver (TF's _create_saver_from_imported_meta_graph)."""
    if "mnist_bn_elu_tf1" not in _fixture_models_listed():
        pytest.skip("fixture models not built yet")
    g = gs.load(FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt.meta")
    _, changes = gs.prune(g, ["Elu:0"], inputs=["batch_normalization/batchnorm/add_1:0"])
    notes = [d for d in changes.dropped if d.startswith("saver_def")]
    assert len(notes) == 1 and notes[0].endswith("no variables remain, so import_meta_graph makes no Saver)"), notes


def test_cli_prune_of_a_savedmodel_reports_its_new_fingerprint(tmp_path):
    """The copied fingerprint.pb would describe the unpruned model: it is recomputed, and the user told."""
    model = FIXTURES / "mnist_bn_elu_savedmodel_tf2"
    if not (model / "fingerprint.pb").is_file():
        pytest.skip("the TF2 SavedModel fixture is not built")
    out = tmp_path / "pruned"
    res = CliRunner().invoke(cli, ["prune", str(model), "--outputs", "StatefulPartitionedCall:0", "-o", str(out),
                                   "--json"])
    assert res.exit_code == 0, res.output
    assert "fingerprint.pb recomputed for the edited model" in json.loads(res.output)["notes"]
    assert (out / "fingerprint.pb").read_bytes() != (model / "fingerprint.pb").read_bytes()
