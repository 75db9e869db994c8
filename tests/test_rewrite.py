"""``gs.rewrite``: the one contract, checked in one place, for the built-in rewrites declared with it
and for users' own; and ``graphsurgeon apply``, which runs a user's rewrite from a file.

- every rewrite declared with ``gs.rewrite`` leaves its input byte-identical on every fixture and
  corpus model, and its result passes the contract;
- Changes are filled in from the edit itself, whatever the function returns;
- preconditions are declared once and refuse what they say;
- a function that breaks the contract is refused before anything is written.
"""
from __future__ import annotations

import importlib
import json
import pkgutil

import numpy as np
import pytest
from _support import close, corpus_models, fixture_model, fixture_models, tf_run
from click.testing import CliRunner

import graphsurgeon as gs
import graphsurgeon.surgery
from graphsurgeon.cli.main import cli
from graphsurgeon.errors import RewriteError, UsageError
from graphsurgeon.ir.changes import Changes
from graphsurgeon.surgery.contract import dangling_inputs, unresolved_references
from graphsurgeon.surgery.rewrite import is_rewrite

TF1 = fixture_model("mnist_bn_elu_tf1")
FROZEN = fixture_model("mnist_bn_elu_frozen.pb")
TF2 = fixture_model("mnist_bn_elu_savedmodel_tf2")
SERVE = "__inference_serve_129"


def declared_rewrites() -> dict:
    """Every function of graphsurgeon.surgery declared with gs.rewrite, by name."""
    found = {}
    for info in pkgutil.iter_modules(graphsurgeon.surgery.__path__):
        module = importlib.import_module(f"graphsurgeon.surgery.{info.name}")
        for name, value in vars(module).items():
            if is_rewrite(value) and value.__module__ == module.__name__:
                found[name] = value
    return found


def _first_op(g):
    return next(n for n in g.node_defs)


# The arguments each declared rewrite is run with on any model (a new one must say how to call it).
ARGUMENTS = {
    "rename": lambda g: ({_first_op(g): _first_op(g) + "_renamed"},),
    "fold_constants": lambda g: (),
}


def _bytes(g) -> bytes:
    root = g.root
    if root.model is not None and root.model.container is not None:
        return root.model.container.SerializeToString(deterministic=True)
    return (root.meta_graph or root.graph_def).SerializeToString(deterministic=True)


def test_the_built_in_rewrites_declared_with_it_are_found():
    assert {"rename", "fold_constants"} <= set(declared_rewrites())
    assert sorted(set(declared_rewrites()) - set(ARGUMENTS)) == []


MODELS = fixture_models() + corpus_models()


@pytest.mark.parametrize("model", MODELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_declared_rewrite_leaves_its_input_byte_identical_and_keeps_the_contract(model):
    g = gs.load(model)
    before = _bytes(g)
    damaged = dangling_inputs(g)
    for name, rewrite in sorted(declared_rewrites().items()):
        result, changes = rewrite(g, *ARGUMENTS[name](g))
        assert _bytes(g) == before, f"{name} changed its input"
        assert result is not g and isinstance(changes, Changes)
        assert dangling_inputs(result) <= {(c, p) for c, p in damaged} | {
            (changes.renamed.get(c, c), p) for c, p in damaged}, name
        assert unresolved_references(result) <= unresolved_references(g) | {
            (w, n) for w, n in unresolved_references(result) if n in " ".join(changes.dropped)}, name


# ---------------------------------------------------------------- what the decorator does
@gs.rewrite
def insert_relu(g, tensor="hidden1/BiasAdd:0"):
    relu = g.add_op("Relu", [tensor], name="inserted_relu")
    g.replace_all_uses(tensor, relu.outputs[0])


def test_changes_are_filled_in_from_the_edit():
    g = gs.load(FROZEN)
    out, changes = insert_relu(g)
    assert changes.added == ["inserted_relu"]
    assert changes.changed == [c.name for c in g.tensor("hidden1/BiasAdd:0").consumers]
    assert changes.removed == [] and changes.renamed == {} and changes.notes == []
    assert "inserted_relu" not in g.node_defs


def test_what_the_function_returns_is_kept():
    @gs.rewrite
    def with_notes(g):
        g.rename_ops({"X": "images"})
        return ["one note", "two"]

    @gs.rewrite
    def with_changes(g):
        g.remove_ops(["eval/accuracy"])
        return Changes(notes=["said"], details={"why": 42}, removed=["a lie"])

    out, changes = with_notes(gs.load(TF1))
    assert changes.notes == ["one note", "two"] and changes.renamed == {"X": "images"}
    assert "images" in changes.changed and "hidden1/MatMul" in changes.changed
    out, changes = with_changes(gs.load(TF1))
    assert changes.removed == ["eval/accuracy"]  # what happened, not what was said
    assert changes.notes == ["said"] and changes.details == {"why": 42}
    assert any("my_important_ops" in d for d in changes.dropped)  # the edit dropped the collection entry


def test_a_composition_is_checked_as_a_whole():
    @gs.rewrite
    def both(g):
        folded, _ = gs.fold_constants(g)
        renamed, changes = gs.rename(folded, {"X": "images"})
        return renamed, Changes(notes=["composed"])

    g = gs.load(FROZEN)
    out, changes = both(g)
    assert changes.renamed == {"X": "images"} or "X" in changes.removed
    assert "hidden1/kernel" in changes.removed  # folded into hidden1/kernel/read
    assert changes.notes == ["composed"] and len(out) < len(g)


def test_bad_returns_and_broken_contracts_are_refused():
    @gs.rewrite
    def returns_a_number(g):
        return 3

    @gs.rewrite
    def dangles(g):
        g.set_inputs("logits", ["nothing:0"])

    @gs.rewrite
    def returns_a_body(g):
        return g.function(SERVE)

    g = gs.load(FROZEN)
    with pytest.raises(RewriteError, match="returned a int"):
        returns_a_number(g)
    with pytest.raises(RewriteError, match="'logits' reading 'nothing'"):
        dangles(g)
    with pytest.raises(RewriteError, match="return the top-level graph"):
        returns_a_body(gs.load(TF2))


def test_preconditions_are_declared_once():
    body = gs.load(TF2).function(SERVE)
    with pytest.raises(UsageError, match="insert_relu works on a top-level graph, not on function"):
        insert_relu(body)

    @gs.rewrite(requires=("meta_graph",))
    def needs_meta(g):
        pass

    with pytest.raises(UsageError, match="needs a MetaGraphDef"):
        needs_meta(gs.load(FROZEN))
    needs_meta(gs.load(TF1))

    @gs.rewrite(requires=("checkpoint",))
    def needs_values(g):
        pass

    with pytest.raises(UsageError, match="no checkpoint"):
        needs_values(gs.load(FROZEN))
    with pytest.raises(ValueError, match="unknown precondition"):
        gs.rewrite(requires=("vibes",))


def test_a_rewrite_of_a_function_body_returns_the_whole_graph():
    @gs.rewrite(requires=())
    def elu_to_relu(f):
        for elu in f.ops(type="Elu"):
            relu = f.add_op("Relu", [elu.inputs[0]], name=elu.name + "_relu")
            f.replace_all_uses(elu.outputs[0], relu.outputs[0])
        return f.cleanup()

    g = gs.load(TF2)
    out, changes = elu_to_relu(g.function(SERVE))
    assert out.root is out and changes.details["functions"] == [SERVE]
    assert [op.name for op in out.function(SERVE).ops(type="Relu")] == ["Elu_relu", "Elu_1_relu"]
    assert g.function(SERVE).ops(type="Relu") == []  # the input is untouched


# ---------------------------------------------------------------- graphsurgeon apply
SCRIPT = '''
import numpy as np
import graphsurgeon as gs


@gs.rewrite
def scale_logits(g, factor=2.0, label="x"):
    scale = g.constant(np.float32(factor), name="logits_scale")
    scaled = g.add_op("Mul", ["logits:0", scale], name="logits_scaled")
    g.replace_all_uses("logits:0", scaled.outputs[0])
    return [f"logits scaled by {factor!r} ({label!r})"]


def plain(g):
    g.remove_ops(["probabilities"])


def fails(g):
    {}["missing"]


def dangles(g):
    g.set_inputs("logits", ["nothing:0"])
'''


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "my_rewrites.py"
    path.write_text(SCRIPT)
    return path


def _apply(*args):
    result = CliRunner().invoke(cli, ["apply", *map(str, args)])
    return result.exit_code, result.output


def test_apply_runs_a_rewrite_from_a_file_and_tensorflow_sees_it(script, tmp_path):
    out = tmp_path / "scaled.pb"
    code, text = _apply(FROZEN, f"{script}:scale_logits", "--arg", "factor=3", "--arg", "label=hi",
                        "-o", out, "--json")
    assert code == 0, text
    data = json.loads(text)
    assert data["added"] == ["logits_scale", "logits_scaled"] and data["changed"] == ["probabilities"]
    assert data["notes"] == ["logits scaled by 3 ('hi')"]  # 3 parsed as JSON, hi kept as a string
    assert data["ops"] == {"before": 127, "after": 129} and data["output"] == str(out)
    x = np.random.default_rng(0).standard_normal((4, 784)).astype(np.float32)
    before, after = tf_run([{"kind": "graphdef", "model": FROZEN, "feeds": {"X:0": x}, "fetches": ["logits:0"]},
                            {"kind": "graphdef", "model": out, "feeds": {"X:0": x},
                             "fetches": ["logits_scaled:0", "probabilities:0"]}], tmp_path / "tf")
    logits = before["values"][0]
    assert close(after["values"][0], 3 * logits)
    softmax = np.exp(3 * logits - (3 * logits).max(axis=1, keepdims=True))
    assert close(after["values"][1], softmax / softmax.sum(axis=1, keepdims=True), rtol=1e-5)


def test_apply_wraps_a_plain_function(script, tmp_path):
    code, text = _apply(FROZEN, f"{script}:plain", "-o", tmp_path / "plain.pb")
    assert code == 0, text
    assert "removed 1 op" in text and "probabilities" not in gs.load(tmp_path / "plain.pb").node_defs


@pytest.mark.parametrize("args, code, message", [
    (["{script}:nope"], 2, "has no function 'nope' (it has dangles, fails, plain, scale_logits)"),
    (["{tmp}/missing.py:f"], 2, "no such script"),
    (["{script}"], 2, "expected SCRIPT.py:FUNCTION"),
    (["{script}:scale_logits", "--arg", "fctor=3"], 2, "unexpected keyword argument 'fctor'"),
    (["{script}:scale_logits", "--arg", "factor"], 2, "expected KEY=VALUE"),
    (["{script}:scale_logits", "--arg", "factor=1", "--arg", "factor=2"], 2, "given twice"),
    (["{script}:fails"], 1, "my_rewrites.py:19 in fails: KeyError: 'missing'"),
    (["{script}:dangles"], 1, "internal error: the rewrite left 'logits' reading 'nothing'"),
    (["{tmp}/broken.py:f"], 2, "broken.py:1: syntax error"),
])
def test_apply_refuses_with_one_line_and_writes_nothing(script, tmp_path, args, code, message):
    (tmp_path / "broken.py").write_text("def f(g) return\n")
    out = tmp_path / "out.pb"
    argv = [FROZEN] + [a.format(script=script, tmp=tmp_path) for a in args] + ["-o", out]
    exit_code, text = _apply(*argv)
    assert exit_code == code, text
    lines = [line for line in text.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], text
    assert not out.exists()
