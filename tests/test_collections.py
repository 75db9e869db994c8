"""Collections: what we read equals what TensorFlow's get_collection gives; edits come back from TensorFlow.

TensorFlow runs in subprocesses only (it is the oracle); this module stays
TF-free in the pytest process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from _support import FIXTURES, ROOT, corpus_models, fixture_models
from graphsurgeon.cli.main import cli

import graphsurgeon as gs
from graphsurgeon.errors import NotFoundError, UsageError
from graphsurgeon.metagraph import collections as gcoll
from graphsurgeon.vocab import protos

MANIFEST = FIXTURES / "manifest.json"
TF1_META = FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt.meta"
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))


def _meta_models() -> list[Path]:
    return fixture_models(graphdefs=False) + corpus_models(graphdefs=False)


def _tf_file(graph) -> tuple[str, str, int]:
    model = graph.model
    return str(model.file), model.format, model.meta_index or 0


def _run_tf(script: str, *args: str, timeout: int = 300) -> dict:
    """Run a TensorFlow script in a fresh interpreter; it prints one JSON document last."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# What TensorFlow's import_meta_graph puts in each collection, as [kind, name] pairs.
TF_COLLECTIONS = """
import json, os, sys
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

def read_meta(path, kind, index):
    data = open(path, "rb").read()
    msg = saved_model_pb2.SavedModel() if kind == "savedmodel" else meta_graph_pb2.MetaGraphDef()
    if path.endswith(".pbtxt"):
        text_format.Parse(data.decode(), msg)
    else:
        msg.ParseFromString(data)
    return msg.meta_graphs[index] if kind == "savedmodel" else msg

def describe(item):
    if isinstance(item, tf.Operation):
        return ["op", item.name]
    if isinstance(item, tf.Tensor):
        return ["tensor", item.name]
    if isinstance(item, tf.Variable):
        return ["variable", item.name]
    if type(item).__name__ in ("CondContext", "WhileContext"):
        return ["context", item.name]
    if isinstance(item, bytes):
        return ["bytes", len(item)]
    if type(item).__name__ == "Any":
        return ["any", item.type_url]
    return [type(item).__name__, str(item)]

out = {}
for path, kind, index in json.loads(sys.argv[1]):
    meta = read_meta(path, kind, index)
    try:  # corpus README: '0.12.head' breaks import_meta_graph until the field is cleared
        from packaging import version
        if meta.meta_info_def.tensorflow_version:
            version.parse(meta.meta_info_def.tensorflow_version)
    except Exception:
        meta.meta_info_def.ClearField("tensorflow_version")
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.train.import_meta_graph(meta)
    out[path] = {k: [describe(i) for i in graph.get_collection(k)] for k in graph.get_all_collection_keys()}
print(json.dumps(out))
"""


def _ours(coll) -> list[list]:
    """Our items in the oracle's [kind, name] form."""
    out = []
    for value, item in zip(coll.values, coll.items):
        if isinstance(item, gs.Op):
            out.append(["op", item.name])
        elif isinstance(item, gs.Tensor):
            out.append(["tensor", item.name])
        elif isinstance(item, protos.VariableDef):
            out.append(["variable", item.variable_name])
        elif isinstance(item, (protos.CondContextDef, protos.WhileContextDef)):
            out.append(["context", item.context_name])
        elif coll.kind == "any_list":
            out.append(["any", value.type_url])
        elif isinstance(item, bytes):
            out.append(["bytes", len(item)])
        else:
            out.append(["unresolved" if isinstance(item, gcoll.Unresolved) else type(item).__name__, str(item)])
    return out


KIND_OF = {"op": "node_list", "tensor": "node_list", "variable": "bytes_list", "context": "bytes_list",
           "bytes": "bytes_list", "any": "any_list", "int": "int64_list", "float": "float_list"}


def test_collections_equal_tensorflows_for_every_fixture_and_corpus_model():
    paths = _meta_models()
    if not paths:
        pytest.skip("neither fixture models nor the corpus are present")
    if MANIFEST.is_file():
        assert fixture_models(graphdefs=False), "manifest lists no model with a MetaGraphDef"
    graphs = {}
    for path in paths:
        graphs[path] = gs.load(path)  # an unreadable fixture fails here, it is not skipped
    oracle = _run_tf(TF_COLLECTIONS, json.dumps([_tf_file(g) for g in graphs.values()]))
    checked = {path: 0 for path in paths}
    for path, g in graphs.items():
        theirs = oracle[_tf_file(g)[0]]
        ours = {name: c for name, c in g.collections.items() if c.kind and len(c)}
        assert sorted(ours) == sorted(theirs), path
        for name, coll in ours.items():
            assert _ours(coll) == theirs[name], (path, name)
            assert {KIND_OF[k] for k, _ in theirs[name]} == {coll.kind}, (path, name)
            assert coll.unresolved == []
            checked[path] += 1
    # The loop ran on every model present: each one has collections to compare, and the
    # totals are what the fixtures (28 today) and, when present, the corpus (26) hold.
    assert [p for p, n in checked.items() if n == 0] == []
    fixtures = set(fixture_models(graphdefs=False))
    assert sum(n for p, n in checked.items() if p in fixtures) >= 25
    corpus = corpus_models(graphdefs=False)
    assert len(paths) == len(fixtures) + len(corpus)
    if corpus:
        assert sum(n for p, n in checked.items() if p not in fixtures) >= 20


def test_collection_api_returns_ops_and_tensors_in_order():
    if not TF1_META.is_file():
        pytest.skip("fixture mnist_bn_elu_tf1 not built yet")
    g = gs.load(TF1_META)
    items = g.collection("my_important_ops")
    assert [type(i).__name__ for i in items] == ["Tensor", "Tensor", "Tensor", "Op"]
    assert [i.name for i in items] == ["X:0", "y:0", "eval/accuracy:0", "train/training_op"]
    assert items[0].dtype == "float32" and items[0].shape == (None, 784)
    variables = g.collection("trainable_variables")
    assert all(isinstance(v, protos.VariableDef) for v in variables)
    assert "hidden1/kernel:0" in [v.variable_name for v in variables]
    contexts = g.collection("cond_context")
    assert all(isinstance(c, protos.CondContextDef) for c in contexts)
    with pytest.raises(NotFoundError) as err:
        g.collection("my_importent_ops")
    assert "my_important_ops" in str(err.value)


def _small_meta(entries: list[str], extra_kinds: bool = False):
    """A tiny MetaGraphDef built by hand: Placeholder a, Identity b, NoOp c."""
    meta = protos.MetaGraphDef()
    for name, op in (("a", "Placeholder"), ("b", "Identity"), ("c", "NoOp")):
        node = meta.graph_def.node.add(name=name, op=op)
        if op == "Placeholder":
            node.attr["dtype"].type = 1
        if op == "Identity":
            node.input.append("a")
            node.attr["T"].type = 1
    meta.collection_def["mine"].node_list.value.extend(entries)
    if extra_kinds:
        meta.collection_def["numbers"].int64_list.value.extend([3, 4])
        meta.collection_def["note"].bytes_list.value.append(b"hello")
        any_msg = meta.collection_def["packed"].any_list.value.add()
        info = protos.meta_graph_pb2.TensorInfo(name="b:0")
        any_msg.type_url = "type.googleapis.com/tensorflow.TensorInfo"
        any_msg.value = info.SerializeToString()
    return gs.Graph(meta.graph_def, meta_graph=meta)


def test_unresolved_entries_are_reported_not_fatal():
    g = _small_meta(["a:0", "gone", "b:3", "c"])
    coll = g.collections["mine"]
    assert [type(i).__name__ for i in coll.items] == ["Tensor", "Unresolved", "Unresolved", "Op"]
    assert coll.unresolved == ["gone", "b:3"]
    assert "gone (not in graph)" in coll.short()
    g.remove_from_collection("mine", "gone")  # a broken entry can be removed by its name
    assert g.collections["mine"].values == ["a:0", "b:3", "c"]


def test_other_kinds_are_decoded():
    g = _small_meta(["a:0"], extra_kinds=True)
    assert g.collection("numbers") == [3, 4]
    assert g.collection("note") == [b"hello"]  # unknown collection: bytes stay bytes
    assert g.collections["note"].describe()[0]["utf8"] == "hello"
    packed = g.collection("packed")[0]
    assert isinstance(packed, protos.meta_graph_pb2.TensorInfo) and packed.name == "b:0"


def test_add_stores_items_as_tensorflow_does_and_refuses_unknown_names():
    g = _small_meta([])
    g.add_to_collection("new", "a:0", g.op("c"), g.tensor("b:0"), "b")
    assert list(g.meta_graph.collection_def["new"].node_list.value) == ["a:0", "c", "b:0", "b"]
    before = g.meta_graph.SerializeToString(deterministic=True)
    with pytest.raises(NotFoundError) as err:
        g.add_to_collection("new", "a:0", "bb")
    assert "'b'" in str(err.value)  # the closest name is offered
    with pytest.raises(UsageError):
        g.add_to_collection("mine2")  # nothing to add
    g2 = _small_meta([], extra_kinds=True)
    with pytest.raises(UsageError) as err:
        g2.add_to_collection("numbers", "a:0")
    assert "int64_list" in str(err.value)
    assert g.meta_graph.SerializeToString(deterministic=True) == before  # nothing changed


def test_plain_graphdef_has_no_collections_and_says_what_to_do():
    g = gs.Graph(protos.GraphDef())
    assert g.collections == {}
    with pytest.raises(UsageError) as err:
        g.add_to_collection("x", "a")
    assert "MetaGraphDef" in str(err.value)


def test_delete_and_rename_keep_other_collections():
    g = _small_meta(["a:0"], extra_kinds=True)
    before = {k: v.SerializeToString() for k, v in g.meta_graph.collection_def.items()}
    g.rename_collection("mine", "yours")
    after = {k: v.SerializeToString() for k, v in g.meta_graph.collection_def.items()}
    assert after == {("yours" if k == "mine" else k): v for k, v in before.items()}
    assert g.collection("yours")[0].name == "a:0"
    with pytest.raises(gs.RewriteError):
        g.rename_collection("yours", "numbers")
    deleted = g.delete_collection("yours")
    assert len(deleted) == 1 and "yours" not in g.collections
    with pytest.raises(NotFoundError):
        g.delete_collection("yours")


# ---------------------------------------------------------------------- consistency with removed ops

def test_fix_references_prunes_contexts_savers_assets_and_signatures():
    meta = protos.MetaGraphDef()
    cond = protos.CondContextDef(context_name="c", pred_name="p:0", pivot_name="s:0")
    cond.values_def.values.extend(["x:0", "dead:0", "s:0"])
    cond.values_def.external_values["dead:0"] = "dead:0"
    cond.values_def.external_values["x:0"] = "x:0"
    gone_cond = protos.CondContextDef(context_name="g", pred_name="dead:0", pivot_name="s:0")
    loop = protos.WhileContextDef(context_name="w", pivot_name="piv:0", pivot_for_pred_name="pp:0",
                                  pivot_for_body_name="pb:0")
    loop.loop_exit_names.extend(["e:0", "dead:0"])
    meta.collection_def["cond_context"].bytes_list.value.extend(
        [cond.SerializeToString(), gone_cond.SerializeToString()])
    meta.collection_def["while_context"].bytes_list.value.append(loop.SerializeToString())
    meta.saver_def.restore_op_name = "save/restore_all"
    meta.saver_def.save_tensor_name = "save/control_dependency:0"
    meta.saver_def.filename_tensor_name = "save/Const:0"
    var = protos.VariableDef(variable_name="v:0", initializer_name="v/Assign", snapshot_name="v/read:0")
    keep = protos.VariableDef(variable_name="w:0", initializer_name="w/Assign")
    meta.collection_def["variables"].bytes_list.value.extend([var.SerializeToString(), keep.SerializeToString()])
    asset = meta.collection_def["saved_model_assets"].any_list.value.add()
    asset.type_url = "type.googleapis.com/tensorflow.AssetFileDef"
    asset.value = protos.meta_graph_pb2.AssetFileDef(
        filename="f.txt", tensor_info=protos.meta_graph_pb2.TensorInfo(name="dead:0")).SerializeToString()
    meta.signature_def["s"].outputs["o"].name = "dead:0"
    meta.signature_def["s"].outputs["k"].name = "x:0"
    graph = gs.Graph(meta.graph_def, meta_graph=meta)
    dropped = gcoll.fix_references(graph, {"dead", "v/read", "save/restore_all"})
    contexts = graph.collection("cond_context")
    assert [c.context_name for c in contexts] == ["c"]
    assert list(contexts[0].values_def.values) == ["x:0", "s:0"]
    assert dict(contexts[0].values_def.external_values) == {"x:0": "x:0"}
    assert list(graph.collection("while_context")[0].loop_exit_names) == ["e:0"]
    assert not meta.HasField("saver_def")
    assert [v.variable_name for v in graph.collection("variables")] == ["w:0"]
    assert graph.collection("saved_model_assets") == []
    assert list(meta.signature_def["s"].outputs) == ["k"]
    text = "\n".join(dropped)
    for expected in ("cond context g", "variable v:0", "saver", "asset f.txt", "signature 's' output 'o'"):
        assert expected in text, (expected, text)


def test_rename_references_renames_entries():
    g = _small_meta(["a:0", "c"])
    notes = gcoll.rename_references(g, {"a": "a2"})
    assert list(g.meta_graph.collection_def["mine"].node_list.value) == ["a2:0", "c"]
    assert notes == ["collection 'mine': a:0 -> a2:0"]


# A TF1 graph with a cond and a while loop whose branches hold dead-end ops
# ("dead*"), exported as a MetaGraphDef. Removing the dead ops leaves
# CondContextDef/WhileContextDef values naming them: TensorFlow then refuses
# the import unless the contexts are pruned.
TF_BUILD_CONTROL_FLOW = """
import json, sys
import tensorflow as tf
v1 = tf.compat.v1
v1.disable_eager_execution()
v1.disable_control_flow_v2()
x = v1.placeholder(tf.float32, [], name="x")
def true_fn():
    tf.identity(tf.multiply(x, 2.0, name="dead_mul"), name="dead")
    return x + 1.0
out = v1.cond(x > 0, true_fn, lambda: x - 1.0, name="cond")
def body(i):
    tf.identity(tf.multiply(i, 3, name="dead_wmul"), name="dead_w")
    return i + 1
loop = v1.while_loop(lambda i: i < 3, body, [tf.constant(0)], name="loop")
v1.add_to_collection("mine", out)
v1.add_to_collection("mine", loop)
v1.train.export_meta_graph(filename=sys.argv[1])
print(json.dumps({"out": out.name, "loop": loop.name}))
"""

TF_IMPORT = """
import json, sys
import tensorflow as tf
results = {}
for path in sys.argv[1:]:
    graph = tf.Graph()
    try:
        with graph.as_default():
            tf.compat.v1.train.import_meta_graph(path)
        results[path] = {k: len(graph.get_collection(k)) for k in graph.get_all_collection_keys()}
    except Exception as exc:
        results[path] = {"error": type(exc).__name__}
print(json.dumps(results))
"""


def test_removing_ops_named_by_contexts_keeps_the_meta_graph_importable(tmp_path):
    src = tmp_path / "cf.meta"
    _run_tf(TF_BUILD_CONTROL_FLOW, str(src))
    g = gs.load(src)
    dead = [op.name for op in g if "dead" in op.name and op.type != "Switch"]  # the Switch is shared
    assert len(dead) >= 4, dead
    contexts_before = [c.context_name for c in g.collection("cond_context")]
    assert any("dead" in v for c in g.collection("cond_context") for v in c.values_def.values)
    changes = g.remove_ops(dead)
    assert any("cond/cond_text" in d and "values" in d for d in changes.dropped), changes.dropped
    assert any("loop" in d and "values" in d for d in changes.dropped), changes.dropped
    assert [c.context_name for c in g.collection("cond_context")] == contexts_before
    g.save(tmp_path / "fixed.meta")
    # The same removal without fixing the contexts: TensorFlow refuses it (the fix matters).
    broken = gs.load(src)
    keep = [n for n in broken.graph_def.node if n.name not in set(dead)]
    del broken.graph_def.node[:]
    broken.graph_def.node.extend(keep)
    broken.save(tmp_path / "broken.meta")
    result = _run_tf(TF_IMPORT, str(tmp_path / "fixed.meta"), str(tmp_path / "broken.meta"))
    assert "error" in result[str(tmp_path / "broken.meta")]
    fixed = result[str(tmp_path / "fixed.meta")]
    assert "error" not in fixed, fixed
    assert fixed["mine"] == 2 and fixed["cond_context"] == 2 and fixed["while_context"] == 1


TF_IMPORT_AND_RESTORE = """
import json, sys
import tensorflow as tf
path, original, prefix = sys.argv[1:4]
out = {}
for key, meta in (("pruned", path), ("original", original)):
    graph = tf.Graph()
    with graph.as_default():
        saver = tf.compat.v1.train.import_meta_graph(meta)
        with tf.compat.v1.Session(graph=graph) as sess:
            saver.restore(sess, prefix)
            out[key] = float(sess.run("batch_normalization_1/moving_mean:0").sum())
        out[key + "_saver"] = saver.saver_def.restore_op_name
    if key == "pruned":
        out["important"] = [x.name for x in graph.get_collection("my_important_ops")]
        out["train_op"] = [x.name for x in graph.get_collection("train_op")]
print(json.dumps(out))
"""


def test_removing_collection_ops_and_the_saver_through_the_api_still_imports(tmp_path):
    if not TF1_META.is_file():
        pytest.skip("fixture mnist_bn_elu_tf1 not built yet")
    g = gs.load(TF1_META)
    saver_ops = [op.name for op in g.ops("save/")]
    changes = g.remove_ops(["train/training_op"] + saver_ops)
    assert "collection 'my_important_ops': train/training_op" in changes.dropped
    assert "collection 'train_op': train/training_op" in changes.dropped
    assert any(d.startswith("saver_def: saver") for d in changes.dropped), changes.dropped
    assert not g.meta_graph.HasField("saver_def")
    out = g.save(tmp_path / "pruned.meta")
    prefix = str(TF1_META)[: -len(".meta")]
    result = _run_tf(TF_IMPORT_AND_RESTORE, str(out), str(TF1_META), prefix)
    assert result["important"] == ["X:0", "y:0", "eval/accuracy:0"]
    assert result["train_op"] == []
    # import_meta_graph built a fresh Saver for the variables: the checkpoint still restores.
    assert result["pruned"] == result["original"] != 0.0


# ---------------------------------------------------------------------- the chapter's workflow

TF_REUSE = """
import json, sys
import tensorflow as tf
sys.path.insert(0, sys.argv[4])
from fixtures.mnist import load_mnist
path, prefix, mnist = sys.argv[1:4]
_, _, X_test, y_test = load_mnist(mnist)
graph = tf.Graph()
with graph.as_default():
    saver = tf.compat.v1.train.import_meta_graph(path)
    X, y, accuracy, training_op = tf.compat.v1.get_collection("reuse_ops")
    with tf.compat.v1.Session(graph=graph) as sess:
        saver.restore(sess, prefix)
        acc = float(sess.run(accuracy, {X: X_test, y: y_test}))
kind = lambda i: "Tensor" if isinstance(i, tf.Tensor) else ("Operation" if isinstance(i, tf.Operation) else "?")
print(json.dumps({"items": [[kind(i), i.name] for i in (X, y, accuracy, training_op)],
                  "accuracy": acc}))
"""


def test_chapter_workflow_add_reuse_ops_through_the_cli(tmp_path, mnist_dir):
    if not TF1_META.is_file():
        if MANIFEST.is_file():
            pytest.fail(f"{MANIFEST} exists but {TF1_META} does not")
        pytest.skip("fixture mnist_bn_elu_tf1 not built yet")
    manifest = json.loads(MANIFEST.read_text())
    training_op = manifest["training_op"]
    out = tmp_path / "reuse.meta"
    result = CliRunner().invoke(cli, ["collections", "add", str(TF1_META), "reuse_ops", "X:0", "y:0",
                                      "eval/accuracy:0", training_op, "-o", str(out)])
    assert result.exit_code == 0, result.output
    listed = CliRunner().invoke(cli, ["collections", str(out), "--json"])
    names = [c["name"] for c in json.loads(listed.output)["collections"]]
    assert "reuse_ops" in names and "my_important_ops" in names
    prefix = str(TF1_META)[: -len(".meta")]
    oracle = _run_tf(TF_REUSE, str(out), prefix, str(mnist_dir), str(ROOT))
    assert oracle["items"] == [["Tensor", "X:0"], ["Tensor", "y:0"], ["Tensor", "eval/accuracy:0"],
                               ["Operation", training_op]]
    expected = manifest["models"]["mnist_bn_elu_tf1"]["test_accuracy"]
    assert oracle["accuracy"] == pytest.approx(expected, abs=0.5 / 10000)  # the same count of correct digits


# ---------------------------------------------------------------------- CLI

def test_cli_lists_shows_and_edits(tmp_path):
    if not TF1_META.is_file():
        pytest.skip("fixture mnist_bn_elu_tf1 not built yet")
    runner = CliRunner()
    plain = runner.invoke(cli, ["collections", str(TF1_META)])
    assert plain.exit_code == 0
    assert plain.output == runner.invoke(cli, ["collections", "ls", str(TF1_META)]).output
    row = next(line for line in plain.output.splitlines() if line.startswith("my_important_ops"))
    assert row.split()[1:3] == ["node_list", "4"] and "X:0" in row
    shown = runner.invoke(cli, ["collections", "show", str(TF1_META), "my_important_ops", "--json"])
    data = json.loads(shown.output)
    assert [i["value"] for i in data["items"]] == ["X:0", "y:0", "eval/accuracy:0", "train/training_op"]
    assert [i["resolved"] for i in data["items"]] == ["tensor", "tensor", "tensor", "op"]

    out = tmp_path / "m.meta"
    bad = runner.invoke(cli, ["collections", "add", str(TF1_META), "r", "eval/acuracy:0", "-o", str(out)])
    assert bad.exit_code == 1 and "eval/accuracy:0" in bad.output and not out.exists()
    nowhere = runner.invoke(cli, ["collections", "add", str(TF1_META), "r", "X:0"])
    assert nowhere.exit_code == 2 and nowhere.output.startswith("error:")
    over = runner.invoke(cli, ["collections", "add", str(TF1_META), "r", "X:0", "-o", str(TF1_META)])
    assert over.exit_code == 1 and "--in-place" in over.output
    assert runner.invoke(cli, ["collections", "add", str(TF1_META), "r", "X:0", "-o", str(out)]).exit_code == 0
    # -o replaces an existing output.
    assert runner.invoke(cli, ["collections", "add", str(TF1_META), "r", "y:0", "-o", str(out)]).exit_code == 0
    assert gs.load(out).collections["r"].values == ["y:0"]
    assert runner.invoke(cli, ["collections", "rm", str(out), "my_important_ops", "y:0", "--in-place"]).exit_code == 0
    assert runner.invoke(cli, ["collections", "rename", str(out), "r", "s", "--in-place"]).exit_code == 0
    assert runner.invoke(cli, ["collections", "delete", str(out), "train_op", "--in-place"]).exit_code == 0
    colls = gs.load(out).collections
    assert "r" not in colls and colls["s"].values == ["y:0"] and "train_op" not in colls
    assert colls["my_important_ops"].values == ["X:0", "eval/accuracy:0", "train/training_op"]


def test_cli_savedmodel_edit_keeps_the_rest_of_the_directory(tmp_path):
    folder = FIXTURES / "mnist_bn_elu_savedmodel_tf1"
    if not folder.is_dir():
        pytest.skip("fixture SavedModel not built yet")
    out = tmp_path / "sm"
    result = CliRunner().invoke(cli, ["collections", "add", str(folder), "--tag", "serve", "reuse_ops",
                                      "X:0", "logits:0", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert gs.load(out).collections["reuse_ops"].values == ["X:0", "logits:0"]
    for f in (folder / "variables").iterdir():
        assert (out / "variables" / f.name).read_bytes() == f.read_bytes()


def test_cli_refuses_collections_in_a_plain_graphdef(tmp_path):
    frozen = FIXTURES / "mnist_bn_elu_frozen.pb"
    if not frozen.is_file():
        pytest.skip("fixture frozen graph not built yet")
    runner = CliRunner()
    bad = runner.invoke(cli, ["collections", "add", str(frozen), "outs", "logits:0", "-o", str(tmp_path / "o.pb")])
    assert bad.exit_code == 2 and ".meta" in bad.output and not (tmp_path / "o.pb").exists()
    good = runner.invoke(cli, ["collections", "add", str(frozen), "outs", "logits:0", "-o", str(tmp_path / "o.meta")])
    assert good.exit_code == 0, good.output
    g = gs.load(tmp_path / "o.meta")
    assert g.format == "meta" and [t.name for t in g.collection("outs")] == ["logits:0"]
    assert len(g) == len(gs.load(frozen))


# ---------------------------------------------------------------------- no TensorFlow

def test_no_tensorflow_import_on_collection_paths(tmp_path):
    models = [str(p) for p in _meta_models()] or [str(TF1_META)]
    script = textwrap.dedent("""
        import sys, json
        import graphsurgeon as gs
        from graphsurgeon.cli.main import cli
        from click.testing import CliRunner
        out = sys.argv[1]
        for i, path in enumerate(sys.argv[2:]):
            if not __import__("os").path.exists(path):
                continue
            g = gs.load(path)
            for name, coll in g.collections.items():
                coll.describe(); coll.short(); g.collection(name)
                CliRunner().invoke(cli, ["collections", "show", path, name, "--json"])
            CliRunner().invoke(cli, ["collections", path])
            node = next(iter(g)).name
            g.add_to_collection("new", node)
            g.remove_from_collection("new", node)
            ext = "" if g.format == "savedmodel" else ".meta"
            g.save(f"{out}/{i}{ext}")
            leaves = [op.name for op in g if not op.consumers and not op.control_outputs]
            g.remove_ops(leaves[:1])
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))))
    """)
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path), *models], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
