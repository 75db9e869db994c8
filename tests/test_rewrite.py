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
from graphsurgeon.analysis.endpoints import likely_inputs, likely_outputs
from graphsurgeon.analysis.layers import layers
from graphsurgeon.formats.bundle import is_v2
from graphsurgeon.errors import GraphSurgeonError, RewriteError, UsageError
from graphsurgeon.ir.changes import Changes
from graphsurgeon.surgery.contract import dangling_inputs, unresolved_references
from graphsurgeon.surgery.rewrite import is_rewrite
from graphsurgeon.vocab.optypes import VARIABLE_TYPES, applies_gradients

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


def _outputs(g, count=2):
    """A few likely outputs (tensors nothing reads) of ``g`` computed from its inputs first, or None."""
    inputs = {t.op_name for t in likely_inputs(g)}
    found = likely_outputs(g)
    fed = [t for t in found if inputs & g.ancestors([t.op_name], control=False)]
    return [t.name for t in fed or found][:count] or None


def _variable_layers(g):
    return [item for item in layers(g) if item.variables]


def _bn_scopes(g):
    return ([item.name for item in layers(g) if item.kind == "batch_norm"],)


def _freeze_args(g):
    has_variables = any(n.op in VARIABLE_TYPES for n in g.node_defs.values())
    if has_variables and not g.checkpoint:
        return None  # nothing to freeze the variables with
    served = [k for k in g.signatures if k != "__saved_model_init_op"]
    if served:
        return {"signature": "serving_default" if "serving_default" in served else served[0]}
    outputs = _outputs(g)
    return None if outputs is None else (None, outputs)


def _export_args(g):
    if _is_tf2(g):
        return None  # a TF2 SavedModel: servable as it is (export refuses it)
    if any(n.op in VARIABLE_TYPES for n in g.node_defs.values()) and not g.checkpoint:
        return None
    if g.signatures and any(k != "__saved_model_init_op" for k in g.signatures):
        return ()
    outputs = _outputs(g, 1)
    return None if outputs is None else {"outputs": outputs}  # the inputs inferred


def _set_batch_args(g):
    return (-1,) if any(t.shape for t in likely_inputs(g)) else None  # a dynamic batch


def _is_tf2(g) -> bool:
    return g.meta_graph is not None and len(g.meta_graph.object_graph_def.nodes) > 0


def _rehead_args(g):
    found = _variable_layers(g)
    if g.meta_graph is None or _is_tf2(g) or len(found) < 2 or not g.checkpoint:
        return None
    return (found[-2].name,)


def _training_args(g):
    return () if g.meta_graph is not None and applies_gradients(g) else None


def _freeze_layers_args(g):
    if g.meta_graph is None or not applies_gradients(g):
        return None
    found = _variable_layers(g)
    return ([found[0].name],) if len(found) > 1 else None


def _swap_args(g):
    for a, b in (("Elu", "Relu"), ("Relu", "Elu"), ("Tanh", "Sigmoid")):
        if any(n.op == a for n in g.node_defs.values()):
            return (a, b, None, None, True)
    return None


def _fold_bn_args(g):
    if any(n.op in VARIABLE_TYPES for n in g.node_defs.values()):
        return None if not g.checkpoint or _outputs(g) is None else (_outputs(g),)
    return ()


def _transplant_args(g):
    found = _variable_layers(g)
    if not found or not g.checkpoint or g.format == "savedmodel" or not is_v2(g.checkpoint):
        return None  # a transplant copies V2 checkpoints (a V1 one is refused, saying so)
    return (found[0].name, g)  # a layer's values from the model itself: the checkpoint rewritten, same values


# How each built-in rewrite is called on any model: a function of the model giving the arguments
# after the graph (a tuple, or a dict of keyword arguments), or None when the rewrite does not
# apply to that model (a new rewrite must say).
ARGUMENTS = {
    "rename": lambda g: ({_first_op(g): _first_op(g) + "_renamed"},),
    "fold_constants": lambda g: (),
    "clear_devices": lambda g: (),
    "pin_inference": _bn_scopes,
    "transplant": _transplant_args,
    "freeze": _freeze_args,
    "export": _export_args,
    "prune": lambda g: None if _outputs(g) is None else (_outputs(g),),
    "set_input_shape": lambda g: None if not likely_inputs(g) else (
        {likely_inputs(g)[0].name: likely_inputs(g)[0].shape},),
    "set_batch": _set_batch_args,
    "strip_training": _training_args,
    "prepare_rehead": _rehead_args,
    "freeze_layers": _freeze_layers_args,
    "swap_ops": _swap_args,
    "fold_batch_norms": _fold_bn_args,
}

# Refusals a rewrite may answer with on a model its arguments apply to (a real limit, said in one
# line; the input stays untouched all the same): (rewrite, model folder or file) -> why.
REFUSALS = {
    ("strip_training", "gknoblau_v1_ckpt"): "the gradients have no grad_ys_0 seed: the loss must be named (--loss)",
    ("strip_training", "tf2onnx_regression_ckpt"): "the same: the loss must be named (--loss)",
}


def _bytes(g) -> bytes:
    root = g.root
    if root.model is not None and root.model.container is not None:
        return root.model.container.SerializeToString(deterministic=True)
    return (root.meta_graph or root.graph_def).SerializeToString(deterministic=True)


def test_the_built_in_rewrites_declared_with_it_are_found():
    found = declared_rewrites()
    assert {"rename", "fold_constants", "prune", "freeze", "export", "fold_batch_norms", "strip_training",
            "set_input_shape", "clear_devices", "pin_inference", "transplant", "swap_ops", "freeze_layers",
            "prepare_rehead", "set_batch"} <= set(found)
    assert sorted(set(found) - set(ARGUMENTS)) == []
    assert all(fn.reports for name, fn in found.items() if name not in ("rename", "fold_constants"))


MODELS = fixture_models() + corpus_models()


@pytest.mark.parametrize("model", MODELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_declared_rewrite_leaves_its_input_byte_identical_and_keeps_the_contract(model):
    g = gs.load(model)
    before = _bytes(g)
    damaged = dangling_inputs(g)
    applied = []
    for name, rewrite in sorted(declared_rewrites().items()):
        args = ARGUMENTS[name](g)
        if args is None:
            continue
        try:
            result, changes = rewrite(g, **args) if isinstance(args, dict) else rewrite(g, *args)
        except GraphSurgeonError as exc:
            assert _bytes(g) == before, f"{name} changed its input, then refused it"
            why = REFUSALS.get((name, model.name)) or REFUSALS.get((name, model.parent.name))
            assert why, f"{name} refused {model}: {exc}"
            continue
        applied.append(name)
        assert _bytes(g) == before, f"{name} changed its input"
        assert result is not g and isinstance(changes, Changes)
        assert dangling_inputs(result) <= {(c, p) for c, p in damaged} | {
            (changes.renamed.get(c, c), p) for c, p in damaged}, name
        assert unresolved_references(result) <= unresolved_references(g) | {
            (w, n) for w, n in unresolved_references(result) if n in " ".join(changes.dropped)}, name
    assert {"rename", "fold_constants", "clear_devices", "pin_inference"} <= set(applied)


def test_every_built_in_rewrite_applies_to_the_tf1_fixture():
    """The arguments above are not all None: on a TF1 training checkpoint, every rewrite runs."""
    g = gs.load(TF1)
    assert sorted(name for name in declared_rewrites() if ARGUMENTS[name](g) is None) == []


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


def test_a_built_in_composite_is_checked_as_a_whole_against_its_input(monkeypatch):
    """freeze_layers pins (a rewrite of its own, checked), then edits the result: a step after the
    inner rewrite that breaks the contract is refused at the end, against freeze_layers' input."""
    module = importlib.import_module("graphsurgeon.surgery.freeze_layers")  # the package names the function so

    real = module._untrainable

    def breaking(out, frozen):
        inputs = list(out.node_defs["outputs/MatMul"].input)
        out.set_inputs("outputs/MatMul", ["nowhere:0"] + inputs[1:])
        return real(out, frozen)

    g = gs.load(TF1)
    before = _bytes(g)
    assert module.freeze_layers(g, ["hidden1"])[0]  # as it is: fine
    monkeypatch.setattr(module, "_untrainable", breaking)
    with pytest.raises(RewriteError, match="'outputs/MatMul' reading 'nowhere'"):
        module.freeze_layers(g, ["hidden1"])
    assert _bytes(g) == before


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
