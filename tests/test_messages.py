"""The words users read: "did you mean" hints, plurals, and CLI spellings in CLI messages."""
from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from _support import ROOT, fixture_model
from graphsurgeon.cli.main import cli

import graphsurgeon as gs
from graphsurgeon.vocab.protos import NodeDef
from graphsurgeon.errors import NotFoundError, closest
from graphsurgeon.wording import plural

TF2 = "mnist_bn_elu_savedmodel_tf2"


# ---------------------------------------------------------------- closest()
def test_closest_undoes_tensorflow_2_name_mangling():
    assert closest("X:0", ["serving_default_X:0", "saver_filename:0", "StatefulPartitionedCall:0"]) == \
        ["serving_default_X:0"]
    functions = ["__inference__traced_restore_367", "__inference__traced_save_304", "__inference_serve_129",
                 "__inference_signature_wrapper_serve_173"]
    assert closest("serve", functions)[0] == "__inference_serve_129"
    assert "__inference_signature_wrapper_serve_173" in closest("serve", functions)
    assert closest("__inference_serve_12", functions)[0] == "__inference_serve_129"


def test_closest_finds_suffixes_and_words_of_the_last_component():
    names = ["model/conv1/kernel", "model/dense_logits", "model/dense_1/BiasAdd", "probabilities"]
    assert closest("logits", names) == ["model/dense_logits"]
    assert closest("dense", names)[0] == "model/dense_logits"          # a word of the last component
    assert closest("dense", ["a/condensed", "a/dense1"])[0] == "a/dense1"  # digits may follow a word
    assert closest("kernel", names) == ["model/conv1/kernel"]          # same leaf, another scope
    from graphsurgeon.errors import _word_in

    assert _word_in("serve", "__inference_serve_129") and _word_in("X", "serving_default_X")
    assert not _word_in("babilities", "probabilities") and not _word_in("dense", "condensed")
    # Tensor indices must agree when both sides have one.
    assert closest("X:1", ["serving_default_X:0"]) == []
    assert closest("X", ["serving_default_X:0"]) == ["serving_default_X:0"]


def test_closest_keeps_close_spellings():
    assert closest("hiden1/MatMul", ["hidden1/MatMul", "hidden1/BiasAdd", "X"]) == ["hidden1/MatMul"]
    assert closest("Varible", ["VariableV2", "Assign", "Identity"]) == ["VariableV2"]
    assert closest("zzz", ["hidden1/MatMul"]) == []
    assert closest("", ["a"]) == [] and closest("a", []) == []


def _synthetic_names(count: int) -> list[str]:
    leaves = ["kernel", "kernel/Assign", "kernel/read", "kernel/initial_value", "bias", "bias/Assign",
              "bias/read", "bias/initial_value", "MatMul", "BiasAdd", "Relu"]
    out = [f"block_{b}/layer_{i}/{leaf}" for b in range(count // 550 + 1) for i in range(50) for leaf in leaves]
    return out[:count]


def test_closest_is_fast_on_60000_names():
    names = _synthetic_names(60_000)
    for query in ("block_12/layer_3/MatMull", "blok_12/layer_3/MatMul", "serving_default_X:0", "zzz"):
        start = time.perf_counter()
        found = closest(query, names)
        took = time.perf_counter() - start
        assert took < 1.0, (query, took)   # difflib over all 60,000 took 1.3 s
        if "MatMul" in query:
            assert found[0] == "block_12/layer_3/MatMul", found


def test_cli_hints_name_the_mangled_tensorflow_2_names(tmp_path):
    model = str(fixture_model(TF2))
    runner = CliRunner()
    result = runner.invoke(cli, ["collections", "add", model, "my_ops", "X:0", "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: no tensor named 'X:0' in {model} (did you mean 'serving_default_X:0'?)"
    assert not (tmp_path / "out").exists()
    result = runner.invoke(cli, ["show", model, "X", "--function", "serve"])
    assert result.exit_code == 1 and "did you mean '__inference_serve_129'" in result.output
    with pytest.raises(NotFoundError, match="serving_default_X"):
        gs.load(model).tensor("X:0")


# ---------------------------------------------------------------- plurals
def test_plural():
    assert plural(0, "op") == "0 ops" and plural(1, "op") == "1 op" and plural(2, "op") == "2 ops"
    assert plural(12345, "byte") == "12,345 bytes"
    assert plural([1], "item") == "1 item" and plural({}, "item") == "0 items"
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"
    assert plural(1, "more type") == "1 more type"


def test_counts_in_messages_agree_with_their_number(tmp_path):
    """A rewrite that removes one op, a collection of one item, a diff of one op: singular."""
    meta = fixture_model("mnist_bn_elu_tf1/model.ckpt.meta")
    g = gs.load(meta)
    runner = CliRunner()
    result = runner.invoke(cli, ["collections", "add", str(meta), "solo", "X:0", "-o", str(tmp_path / "a.meta")])
    assert result.exit_code == 0 and "(1 item)" in result.output, result.output
    result = runner.invoke(cli, ["collections", "show", str(tmp_path / "a.meta"), "solo"])
    assert result.output.splitlines()[0] == "solo  node_list  1 item"
    from graphsurgeon.ir.changes import Changes

    assert str(Changes(removed=["a"], renamed={"b": "c"}, dropped=["d"])) == \
        "removed 1 op, renamed 1 op, dropped 1 reference"
    extra = gs.load(meta)
    extra.add_op(NodeDef(name="just_one", op="NoOp"))
    text = gs.diff(g, extra).format()
    assert "added 1 op:" in text and "(618 ops)" in text and "(619 ops)" in text
    from graphsurgeon.analysis.diff import _kinds

    types = {f"n{i}": f"T{i}" for i in range(7)}
    assert _kinds(list(types), types).endswith("(1 more type)")


# ---------------------------------------------------------------- CLI words in CLI messages
PY_SPELLING = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+=(?:True|False|None)\b")


def _message_strings(path: Path):
    """String constants of a module, docstrings left out, as (line, text)."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_python_keyword_spelling_reaches_cli_users_alone():
    """Messages of the library and the CLI never tell a command-line user to pass
    ``keep_initializers=False``: they use the option's words, or give the CLI spelling beside it."""
    offenders = []
    for path in sorted((ROOT / "graphsurgeon").rglob("*.py")) + sorted((ROOT / "cli").glob("*.py")):
        for line, text in _message_strings(path):
            if PY_SPELLING.search(text) and "(CLI --" not in text:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {text.strip()[:80]}")
    assert not offenders, offenders


def test_prune_note_uses_the_option_words(tmp_path):
    meta = fixture_model("mnist_bn_elu_tf1/model.ckpt.meta")
    result = CliRunner().invoke(cli, ["prune", str(meta), "--outputs", "logits:0", "-o", str(tmp_path / "p.meta")])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note: kept ")]
    assert notes and "initializers" in notes[0], result.output
    assert "keep_initializers" not in result.output and "=False" not in result.output
