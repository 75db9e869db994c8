"""diff: equal files are equal, rewrites read as what they did, exit codes like diff(1).

The expected differences are computed independently of the diff code: from
the op sets of the two files as loaded, from what prune reports it removed,
and from edits made here to a copy of a model's protos.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import graphsurgeon as gs
from _support import CORPUS_DIR, FIXTURES, without_output_shapes as _without_output_shapes
from graphsurgeon.cli.main import cli

CORPUS_MODELS = ["serving_half_plus_two_cpu", "serving_half_plus_two_tf2_cpu",
                 "serving_session_bundle_half_plus_two/export.meta", "tf2onnx_lstm_frozen/frozen.pb",
                 "tf2onnx_regression_ckpt/model.meta", "tfmlir_graph_while_loop/graph-while-loop.pbtxt",
                 "tfmlir_functional_while/functional-while-ops.pbtxt", "tfnet_cond_test_meta/cond_test.meta",
                 "tfnet_keras_lstm_from_sequential", "gknoblau_v1_ckpt/model.ckpt.meta",
                 "deepmd_cu_frozen/frozen_model.pb", "ptpb_xdeepfm_textpb/xDeepFM.pb", "tfx_transform_fn"]
FIXTURE_MODELS = ["mnist_bn_elu_tf1/model.ckpt.meta", "mnist_bn_elu_resource/model.ckpt.meta",
                  "mnist_bn_elu_savedmodel_tf1", "mnist_bn_elu_savedmodel_tf2", "mnist_bn_elu_frozen.pb",
                  "mnist_bn_elu_0to4/model.ckpt.meta"]


def _fixtures_present() -> bool:
    return (FIXTURES / "manifest.json").is_file()


def _model(where: str, rel: str) -> Path:
    if where == "corpus":
        if CORPUS_DIR is None:
            pytest.skip("corpus not available (GS_CORPUS_DIR)")
        return CORPUS_DIR / rel
    if not _fixtures_present():
        pytest.skip("fixture models not built yet")
    # A manifest that lists a model that is not there is a failure, not a skip.
    return FIXTURES / rel


def _tag(path: Path) -> list[str]:
    return ["--tag", "transform"] if path.name == "tfx_transform_fn" else []


MODELS = [("corpus", m) for m in CORPUS_MODELS] + [("fixtures", m) for m in FIXTURE_MODELS]


@pytest.mark.parametrize("where,rel", MODELS, ids=[m for _, m in MODELS])
def test_a_file_diffed_with_itself_is_empty(where, rel):
    path = _model(where, rel)
    tag = "transform" if path.name == "tfx_transform_fn" else None
    d = gs.diff(gs.load(path, tag=tag), gs.load(path, tag=tag))
    assert not d and d.as_dict()["equal"] is True
    res = CliRunner().invoke(cli, ["diff", str(path), str(path), *_tag(path)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith("no differences")


def _prunable():
    cases = [("corpus", "serving_half_plus_two_cpu", ["y:0"], None),
             ("corpus", "serving_half_plus_two_cpu", ["y:0"], ["x:0"]),
             ("corpus", "tf2onnx_regression_ckpt/model.meta", ["pred:0"], None),
             ("corpus", "gknoblau_v1_ckpt/model.ckpt.meta", ["Relu_1:0"], None),
             ("fixtures", "mnist_bn_elu_tf1/model.ckpt.meta", ["logits:0"], None),
             ("fixtures", "mnist_bn_elu_savedmodel_tf2", ["StatefulPartitionedCall:0"], None),
             ("fixtures", "mnist_bn_elu_frozen.pb", ["logits:0"], ["Elu:0"])]
    return [pytest.param(*c, id=f"{c[1]}->{','.join(c[2])}" + ("-cut" if c[3] else "")) for c in cases]


@pytest.mark.parametrize("where,rel,outputs,inputs", _prunable())
def test_diff_against_the_pruned_model_lists_exactly_the_removed_ops(tmp_path, where, rel, outputs, inputs):
    path = _model(where, rel)
    g = gs.load(path)
    p, changes = gs.prune(g, outputs, inputs)
    out = tmp_path / ("pruned.pb" if g.format == "graphdef" else "pruned.meta")
    p.save(out)
    written = gs.load(out)
    names_a, names_b = {op.name for op in g}, {op.name for op in written}
    d = gs.diff(g, written, ignore_attrs=["_output_shapes"])
    assert set(d.removed) == names_a - names_b == set(changes.removed)
    assert d.added == [n for n in changes.added]
    # Only the ops a cut turned into placeholders changed, into Placeholders, and those of the saver
    # rebuilt over the variables that remain (under the old saver's names: save/RestoreV2...).
    assert sorted(c.name for c in d.changed) == sorted(changes.changed)
    rebuilt = any(n.startswith("saver: the model's own saver rebuilt") for n in changes.notes)
    assert all((c.type and c.type[1] == "Placeholder") or (rebuilt and c.name.startswith("save/")) for c in d.changed)
    # The CLI says the same, in JSON, and exits 1 (they differ).
    res = CliRunner().invoke(cli, ["diff", str(path), str(out), "--json", "--ignore-attr", "_output_shapes"])
    assert res.exit_code == 1, res.output
    data = json.loads(res.output)
    assert set(data["removed"]) == set(changes.removed) and data["equal"] is False
    # The text form names the scopes or ops that went.
    text = d.format()
    assert f"removed {len(changes.removed)} op" in text


def _strip_output_shapes(src: Path, dst: Path) -> int:
    g = gs.load(src)
    stripped = 0
    for node in list(g.graph_def.node):
        if "_output_shapes" in node.attr:
            g.replace_op(_without_output_shapes(node))
            stripped += 1
    g.save(dst)
    return stripped


def test_ignore_attr_output_shapes(tmp_path):
    path = _model("fixtures", "mnist_bn_elu_tf1/model.ckpt.meta") if _fixtures_present() else \
        _model("corpus", "tf2onnx_regression_ckpt/model.meta")
    out = tmp_path / "no_shapes.meta"
    stripped = _strip_output_shapes(path, out)
    assert stripped > 0
    d = gs.diff(gs.load(path), gs.load(out))
    assert len(d.changed) == stripped and not d.added and not d.removed
    assert all(set(c.attrs) == {"_output_shapes"} and not c.type and not c.inputs for c in d.changed)
    assert f"attr _output_shapes: {stripped}" in d.format()
    res = CliRunner().invoke(cli, ["diff", str(path), str(out)])
    assert res.exit_code == 1
    res = CliRunner().invoke(cli, ["diff", str(path), str(out), "--ignore-attr", "_output_shapes"])
    assert res.exit_code == 0, res.output


def test_attribute_defaults_count_as_equal_and_values_are_compared(tmp_path):
    path = _model("fixtures", "mnist_bn_elu_frozen.pb") if _fixtures_present() else \
        _model("corpus", "tf2onnx_lstm_frozen/frozen.pb")
    a = gs.load(path)
    b = gs.load(path)
    matmul = next(op for op in b if op.type == "MatMul")
    if "transpose_a" in matmul.node.attr:
        del matmul.node.attr["transpose_a"]  # the OpDef default (False) is what it was
    else:
        matmul.node.attr["transpose_a"].b = False
    assert not gs.diff(a, b)
    const = next(op for op in b if op.type == "Const" and op.node.attr["value"].tensor.tensor_content)
    content = bytearray(const.node.attr["value"].tensor.tensor_content)
    content[0] ^= 0xFF
    const.node.attr["value"].tensor.tensor_content = bytes(content)
    d = gs.diff(a, b)
    assert [c.name for c in d.changed] == [const.name] and list(d.changed[0].attrs) == ["value"]
    assert "(changed)" in d.format()


def test_freezing_reads_as_variables_turned_into_constants():
    """TensorFlow's own convert_variables_to_constants result against its source graph."""
    a = gs.load(_model("fixtures", "mnist_bn_elu_tf1/model.ckpt.meta"))
    b = gs.load(_model("fixtures", "mnist_bn_elu_frozen.pb"))
    frozen = {op.name for op in a if op.type == "VariableV2" and op.name in b and b.op(op.name).type == "Const"}
    assert frozen  # 18 variables in the fixture
    d = gs.diff(a, b, ignore_attrs=["_output_shapes"])
    assert set(d.variables_to_constants) == frozen
    assert {op.name for op in a if op.name.startswith("train/")} <= set(d.removed)
    text = str(d)
    assert f"variables turned into constants ({len(frozen)})" in text
    assert "under train/" in text and "saver: removed" in text
    assert d.as_dict()["variables_to_constants"] == d.variables_to_constants
    json.dumps(d.as_dict())


def test_collections_and_signatures_are_compared(tmp_path):
    path = _model("corpus", "serving_half_plus_two_cpu")
    g = gs.load(path)
    p, changes = gs.prune(g, ["y:0"])
    d = gs.diff(g, p)
    # Signatures that lost their tensors are reported changed; the saver is rebuilt over the variables
    # that remain and the main op stays (the loader wants exactly one), so neither collection changed.
    assert set(d.signatures) == {"regress_x2_to_y3", "regress_x_to_y2"}  # they read x2, y2, y3
    assert d.signatures["regress_x_to_y2"]["status"] == "changed"
    assert d.saver == (True, True)
    assert "collection saved_model_main_op" not in str(d)
    assert p.meta_graph.collection_def["saved_model_main_op"] == g.meta_graph.collection_def["saved_model_main_op"]


def test_cli_errors_exit_2_in_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["diff", str(tmp_path / "missing.meta"), str(tmp_path / "other.pb")])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error:") and "missing.meta" in lines[0]
    res = CliRunner().invoke(cli, ["diff", str(tmp_path / "only-one.pb")])
    assert res.exit_code == 2
