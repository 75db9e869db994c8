"""fold-constants, with TensorFlow as the oracle (one TensorFlow subprocess for the whole module):

- every op type the constant evaluator computes (analysis/constants.EVALUATED), on several dtypes,
  folds to exactly what TensorFlow computes for that op (<= 1e-6 relative);
- on every fixture and corpus model: each op folded (top level and function bodies) holds what
  TensorFlow computes for the original op, the result has fewer ops when anything folded, and the
  written result, loaded by TensorFlow's own loaders, gives the same outputs as the original on the
  models TensorFlow can run;
- stateful, random and placeholder-like ops are never folded (and stay random in TensorFlow);
- a constant inside a TF1 while loop keeps its frame (its control input) and the loop still runs;
- the command: --json, --verify (in a subprocess: it imports TensorFlow), one-line errors.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from _support import ROOT, close, corpus_models, fixture_model, fixture_models, tf_run

import graphsurgeon as gs
from graphsurgeon.analysis.constants import EVALUATED
from graphsurgeon.vocab import protos
from graphsurgeon.vocab.values import to_numpy

FROZEN = fixture_model("mnist_bn_elu_frozen.pb")


# ---------------------------------------------------------------- graphs built for the test
def op_zoo():
    """A graph with one op of every type the evaluator computes (several dtypes), all on constants."""
    g = gs.Graph()
    c = g.constant
    f = c(np.array([[0.5, -1.25, 2.0], [3.0, -0.75, 0.1]], np.float32), name="f")
    f2 = c(np.array([[1.5, 0.25, -2.0], [0.5, 4.0, 1.0]], np.float32), name="f2")
    pos = c(np.array([0.5, 2.0, 7.0], np.float32), name="pos")
    d = c(np.array([1.5, -2.5, 0.5], np.float64), name="d")
    i = c(np.array([[7, -3, 5], [2, 9, -4]], np.int32), name="i")
    i2 = c(np.array([[2, 5, -3], [3, -2, 4]], np.int32), name="i2")
    b = c(np.array([True, False, True]), name="b")
    b2 = c(np.array([True, True, False]), name="b2")
    ops = []

    def add(op_type, inputs, **attrs):
        ops.append(g.add_op(op_type, inputs, attrs=attrs or None).name)

    for t in ("Neg", "Abs", "Square", "Exp", "Expm1", "Tanh", "Sigmoid", "Relu", "Relu6", "Elu", "Floor", "Ceil",
              "Round", "Sign", "ZerosLike", "OnesLike"):
        add(t, [f])
    for t in ("Rsqrt", "Sqrt", "Reciprocal", "Log", "Log1p"):
        add(t, [pos])
    for t in ("Neg", "Abs", "Square", "Sign", "Exp", "Tanh"):
        add(t, [i] if t not in ("Exp", "Tanh") else [d])
    add("LogicalNot", [b])
    for t in ("Mul", "Add", "AddV2", "Sub", "RealDiv", "Maximum", "Minimum", "SquaredDifference", "Equal",
              "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual", "FloorDiv", "FloorMod"):
        add(t, [f, f2])
    for t in ("Mul", "Add", "Sub", "Maximum", "Minimum", "FloorDiv", "FloorMod", "Equal"):
        add(t, [i, i2])
    add("Pow", [pos, f])
    add("Mul", [f, pos])  # broadcasting
    add("LogicalAnd", [b, b2])
    add("LogicalOr", [b, b2])
    add("MatMul", [f, f2], transpose_b=True)
    add("MatMul", [f, f2], transpose_a=True)
    add("BiasAdd", [f, pos])
    add("Reshape", [f, c([3, 2])])
    add("Reshape", [f, c([-1])])
    add("ExpandDims", [f, c(1)])
    add("Squeeze", [g.add_op("ExpandDims", [f, c(0)]).outputs[0]])
    add("Transpose", [f, c([1, 0])])
    add("Pack", [f, f2], axis=1)
    add("ConcatV2", [f, f2, c(0)])
    add("AddN", [f, f2, f])
    add("Fill", [c([2, 3]), c(1.5)])
    add("Range", [c(0), c(10), c(3)])
    add("Range", [c(0.5), c(2.0), c(0.25)])
    add("Tile", [f, c([2, 1])])
    add("Slice", [f, c([0, 1]), c([2, -1])])
    add("GatherV2", [f, c([1, 0, 1]), c(1)])
    add("SelectV2", [b, pos, g.add_op("Neg", [pos]).outputs[0]])
    add("Shape", [f])
    add("Size", [f])
    add("Rank", [f])
    for t in ("Sum", "Prod", "Max", "Min", "Mean"):
        add(t, [f, c([1])], keep_dims=True)
    add("Sum", [i, c([0])])
    add("All", [b, c([0])])
    add("Any", [b, c([0])])
    add("Cast", [f], DstT="int32")
    add("Cast", [i], DstT="float32")
    add("Identity", [f])
    add("StopGradient", [i])
    return g, ops


def random_and_inputs():
    """Ops that are never folded: random (stateful and stateless), a PlaceholderWithDefault, and what reads them."""
    g = gs.Graph()
    shape = g.constant([3], name="shape")
    rand = g.add_op("RandomUniform", [shape], attrs={"dtype": "float32"}, name="rand")
    normal = g.add_op("RandomStandardNormal", [shape], attrs={"dtype": "float32"}, name="normal")
    stateless = g.add_op("StatelessRandomUniform", [shape, g.constant([1, 2], name="seed")],
                         attrs={"dtype": "float32"}, name="stateless")
    switch = g.add_op("PlaceholderWithDefault", [g.constant(2.0, name="default")], attrs={"shape": ()},
                      name="switch")
    two = g.constant(np.float32(2), name="two")
    g.add_op("Mul", [rand.outputs[0], two], name="scaled")
    g.add_op("Add", [normal.outputs[0], stateless.outputs[0]], name="noise")
    g.add_op("Mul", [switch.outputs[0], two], name="gated")
    g.add_op("Mul", [two, two], name="four")  # this one folds
    return g


def while_loop():
    """A TF1 while loop built op by op: i = 0; while i < 20: i += 2 * 3. Its body holds a constant product
    whose factors sit in the loop's frame through a control input (as tf.while_loop puts them)."""
    g = gs.Graph()
    start = g.constant(0, name="start")
    with g.name_scope("while"):
        enter = g.add_op("Enter", [start], attrs={"frame_name": "loop"}, name="Enter")
        merge = g.add_op("Merge", [enter.outputs[0], enter.outputs[0]], name="Merge")
        limit = g.add_op("Const", control_inputs=[merge], name="limit",
                         attrs={"value": np.int32(20), "dtype": "int32"})
        less = g.add_op("Less", [merge.outputs[0], limit.outputs[0]], name="Less")
        cond = g.add_op("LoopCond", [less.outputs[0]], name="LoopCond")
        switch = g.add_op("Switch", [merge.outputs[0], cond.outputs[0]], name="Switch")
        body = g.add_op("Identity", [switch.outputs[1]], name="Identity")
        two = g.add_op("Const", control_inputs=[body], name="two", attrs={"value": np.int32(2), "dtype": "int32"})
        three = g.add_op("Const", control_inputs=[body], name="three",
                         attrs={"value": np.int32(3), "dtype": "int32"})
        step = g.add_op("Mul", [two.outputs[0], three.outputs[0]], name="step")
        added = g.add_op("AddV2", [body.outputs[0], step.outputs[0]], name="add")
        nxt = g.add_op("NextIteration", [added.outputs[0]], name="NextIteration")
        g.set_input(merge, 1, nxt.outputs[0])
        g.add_op("Exit", [switch.outputs[0]], name="Exit")
    return g


# ---------------------------------------------------------------- the models, and what to run them on
def _feeds(shape, dtype="float32", seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def end_to_end(path):
    """How to run a model and its folded copy in TensorFlow: (kind, feeds, fetches) or None."""
    name = path.name if path.is_dir() else path.parent.name + "/" + path.name
    x = _feeds((4, 784))
    table = {
        "mnist_bn_elu_frozen.pb": ("graphdef", {"X:0": x}, ["logits:0", "probabilities:0"]),
        "mnist_bn_elu_tf1/model.ckpt.meta": ("meta", {"X:0": x}, ["logits:0", "probabilities:0"]),
        "mnist_bn_elu_resource/model.ckpt.meta": ("meta", {"X:0": x}, ["logits:0", "probabilities:0"]),
        "mnist_bn_elu_0to4/model.ckpt.meta": ("meta", {"X:0": x}, ["logits:0", "probabilities:0"]),
        "mnist_bn_elu_savedmodel_tf1": ("savedmodel", {"X:0": x}, ["logits:0", "probabilities:0"]),
        "mnist_bn_elu_savedmodel_tf2": ("function", {"X": x}, ["logits", "probabilities"]),
        "serving_half_plus_two_cpu": ("savedmodel", {"x:0": _feeds((3, 1)), "x2:0": _feeds((3, 1), seed=1)},
                                      ["y:0", "y3:0"]),
        "serving_half_plus_two_tf2_cpu": ("function", {"x": _feeds((1,))}, ["y"]),
        "tf2onnx_regression_ckpt/model.meta": ("meta", {"X:0": _feeds((5,)), "Y:0": _feeds((5,), seed=1)},
                                               ["truediv:0"]),
        "tf2onnx_lstm_frozen/frozen.pb": ("graphdef", {"X:0": _feeds((2, 784)), "keep_prob:0": np.float32(1)},
                                          ["output:0"]),
        "tfnet_keras_lstm_from_sequential": ("function", {"input_1": _feeds((2, 5, 3))}, ["dense"]),
        "gknoblau_v1_ckpt/model.ckpt.meta": ("meta", {"Placeholder:0": _feeds((32, 4)),
                                                      "Placeholder_1:0": _feeds((32, 2), seed=1)}, ["Sum:0"]),
        "tfnet_cond_test_meta/cond_test.meta": ("meta", {}, ["cond/Merge:0"]),
    }
    return table.get(name)


MODELS = fixture_models() + corpus_models()


def _label(path) -> str:
    return path.name if path.is_dir() else f"{path.parent.name}/{path.name}"


def _count(g) -> int:
    """Ops at the top level and in every function body."""
    return len(g) + sum(len(g.function(n)) for n in g.library_names)


def _folded_in_bodies(before, after) -> dict:
    """function -> op names that became Const ops in its body."""
    out = {}
    for name in after.library_names:
        old, new = before.function(name), after.function(name)
        names = [op.name for op in new if op.type == "Const" and op.name in old.node_defs
                 and old.node_defs[op.name].op != "Const"]
        if names:
            out[name] = names
    return out


def _cones(g, folded: dict) -> protos.GraphDef:
    """A GraphDef holding each folded op of the original ``g`` with the constant ops it was computed from
    (data edges only, colocation and devices dropped); function bodies' under the prefix ``f<i>/``."""
    out = protos.GraphDef()
    for i, (function, names) in enumerate(sorted(folded.items(), key=lambda kv: kv[0] or "")):
        graph = g if function is None else g.function(function)
        prefix = "" if function is None else f"f{i}/"
        for name in sorted(graph.ancestors(names, control=False, include_roots=True)):
            node = out.node.add()
            node.CopyFrom(graph.node_defs[name])
            node.name = prefix + name
            inputs = [t for t in node.input if not t.startswith("^")]
            del node.input[:]
            node.input.extend(prefix + t for t in inputs)
            node.device = ""
            for key in ("_class", "_output_shapes"):
                if key in node.attr:
                    del node.attr[key]
    return out


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """Fold everything, write it, and run one TensorFlow subprocess on all of it."""
    tmp = tmp_path_factory.mktemp("fold")
    jobs, cases = [], {}

    zoo, zoo_ops = op_zoo()
    zoo_path = zoo.save(tmp / "zoo.pb")
    folded_zoo, zoo_changes = gs.fold_constants(zoo)
    cases["zoo"] = {"ops": zoo_ops, "folded": folded_zoo, "changes": zoo_changes, "job": len(jobs)}
    jobs.append({"kind": "graphdef", "model": zoo_path, "fetches": [f"{n}:0" for n in zoo_ops]})

    rand = random_and_inputs()
    rand_path = rand.save(tmp / "random.pb")
    folded_rand, rand_changes = gs.fold_constants(rand)
    folded_rand_path = folded_rand.save(tmp / "random_folded.pb")
    cases["random"] = {"folded": folded_rand, "changes": rand_changes, "job": len(jobs)}
    for path in (rand_path, folded_rand_path, folded_rand_path):
        jobs.append({"kind": "graphdef", "model": path, "fetches": ["scaled:0", "noise:0", "gated:0", "four:0"]})

    loop = while_loop()
    loop_path = loop.save(tmp / "loop.pb")
    folded_loop, loop_changes = gs.fold_constants(loop)
    folded_loop_path = folded_loop.save(tmp / "loop_folded.pb")
    cases["loop"] = {"folded": folded_loop, "changes": loop_changes, "job": len(jobs)}
    for path in (loop_path, folded_loop_path):
        jobs.append({"kind": "graphdef", "model": path, "fetches": ["while/Exit:0"]})

    for i, model in enumerate(MODELS):
        g = gs.load(model)
        result, changes = gs.fold_constants(g)
        (tmp / f"m{i}").mkdir()
        out = result.save(tmp / f"m{i}" / ("model.pb" if result.meta_graph is None else "model"))
        written = gs.load(out)
        folded = {None: changes.details["folded"], **_folded_in_bodies(g, written)}
        folded = {k: v for k, v in folded.items() if v}
        case = {"model": model, "g": g, "written": written, "changes": changes, "folded": folded}
        if folded:
            cone = tmp / f"cone{i}.pb"
            cone.write_bytes(_cones(g, folded).SerializeToString())
            case["cone_job"] = len(jobs)
            case["cone_names"] = [(k, n) for k, names in sorted(folded.items(), key=lambda kv: kv[0] or "")
                                  for n in names]
            prefixes = {k: ("" if k is None else f"f{j}/")
                        for j, (k, _) in enumerate(sorted(folded.items(), key=lambda kv: kv[0] or ""))}
            jobs.append({"kind": "graphdef", "model": cone,
                         "fetches": [f"{prefixes[k]}{n}:0" for k, n in case["cone_names"]]})
        run = end_to_end(model)
        if run is not None:
            kind, feeds, fetches = run
            case["e2e_job"] = len(jobs)
            for path in (model, out):
                job = {"kind": kind, "model": path, "feeds": feeds, "fetches": fetches}
                if kind == "meta":
                    if path.is_dir():
                        job["model"] = next(path.glob("*.meta"))
                    ckpt = gs.load(path).checkpoint
                    if ckpt:
                        job["checkpoint"] = ckpt
                jobs.append(job)
        cases[_label(model)] = case
    results = tf_run(jobs, tmp / "tf")
    return cases, results


# ---------------------------------------------------------------- the tests
def test_every_op_type_the_evaluator_computes_folds_to_tensorflows_value(checked):
    cases, results = checked
    case = cases["zoo"]
    zoo_types = {case["folded"].node_defs[n].op for n in case["ops"]}
    assert zoo_types == {"Const"}  # every one folded
    original_types = {op.type for op in op_zoo()[0]} - {"Const"}
    assert EVALUATED | {"Identity", "StopGradient"} <= original_types | {"Const"}, \
        sorted(EVALUATED - original_types)
    values = results[case["job"]]["values"]
    for name, want in zip(case["ops"], values):
        got = to_numpy(case["folded"].node_defs[name].attr["value"].tensor)
        assert got.dtype == want.dtype and close(got, want), (name, got, want)


def test_stateful_random_and_placeholder_like_ops_are_never_folded(checked):
    cases, results = checked
    folded = cases["random"]["folded"]
    kept = {n: folded.node_defs[n].op for n in ("rand", "normal", "stateless", "switch", "scaled", "noise", "gated")}
    assert kept == {"rand": "RandomUniform", "normal": "RandomStandardNormal", "stateless": "StatelessRandomUniform",
                    "switch": "PlaceholderWithDefault", "scaled": "Mul", "noise": "Add", "gated": "Mul"}
    assert folded.node_defs["four"].op == "Const" and cases["random"]["changes"].details["folded"] == ["four"]
    first, second, third = (results[cases["random"]["job"] + k]["values"] for k in range(3))
    assert close(first[3], 4.0) and close(second[3], 4.0)
    assert not np.array_equal(second[0], third[0]) and not np.array_equal(second[1], third[1])  # still random
    assert close(second[2], 4.0)  # the switch still defaults to 2, and may be fed


def test_a_constant_in_a_tf1_while_loop_keeps_its_frame(checked):
    cases, results = checked
    folded = cases["loop"]["folded"]
    step = folded.node_defs["while/step"]
    assert step.op == "Const" and list(step.input) == ["^while/Identity"]
    assert "while/two" not in folded.node_defs and "while/three" not in folded.node_defs
    before, after = (results[cases["loop"]["job"] + k]["values"][0] for k in range(2))
    assert before == 24 and after == 24


@pytest.mark.parametrize("model", MODELS, ids=_label)
def test_every_folded_op_holds_what_tensorflow_computes(checked, model):
    cases, results = checked
    case = cases[_label(model)]
    if not case["folded"]:
        assert case["changes"].notes == ["no constant subgraph to fold"]
        return
    values = results[case["cone_job"]]["values"]
    written = case["written"]
    for (function, name), want in zip(case["cone_names"], values):
        graph = written if function is None else written.function(function)
        node = graph.node_defs[name]
        assert node.op == "Const"
        got = to_numpy(node.attr["value"].tensor)
        if want.dtype.kind == "S":  # TensorFlow gives bytes arrays, numpy's object arrays of bytes here
            assert got.dtype == object and got.tolist() == want.tolist(), (function, name)
        else:
            assert got.dtype == want.dtype and close(got, want), (function, name)
    # Fewer ops, unless every folded op's inputs are still read (a TF1 cond's Switch reads its constants).
    assert _count(written) < _count(case["g"]) or _label(model) == "tfnet_cond_test_meta/cond_test.meta"
    assert _count(written) <= _count(case["g"])
    print(f"\n{_label(model)}: {sum(map(len, case['folded'].values()))} ops folded, "
          f"{_count(case['g'])} -> {_count(written)} ops")


@pytest.mark.parametrize("model", [m for m in MODELS if end_to_end(m)], ids=_label)
def test_tensorflow_gives_the_same_outputs_for_what_was_written(checked, model):
    cases, results = checked
    case = cases[_label(model)]
    before, after = (results[case["e2e_job"] + k]["values"] for k in range(2))
    for a, b in zip(before, after):
        assert close(a, b), _label(model)


def test_folded_results_keep_colocation_true():
    g = gs.load(FROZEN)
    folded, _ = gs.fold_constants(g)
    targets = {loc.decode()[5:] for node in folded.graph_def.node if "_class" in node.attr
               for loc in node.attr["_class"].list.s}
    assert targets <= set(folded.node_defs)
    assert "hidden1/kernel/read" in folded.node_defs and "hidden1/kernel" not in folded.node_defs


# ---------------------------------------------------------------- the command
def _cli(*args, env=None):
    exe = [sys.executable, "-m", "graphsurgeon.cli.main"]
    return subprocess.run(exe + [str(a) for a in args], capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})})


def test_the_command_writes_json_and_refuses_in_one_line(tmp_path):
    out = tmp_path / "folded.pb"
    run = _cli("fold-constants", FROZEN, "-o", out, "--json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert set(data) == {"model", "output", "ops", "removed", "added", "changed", "renamed", "dropped", "notes",
                         "details", "verify"}
    assert data["ops"]["after"] == len(gs.load(out)) < data["ops"]["before"] == 127
    assert data["details"]["folded"] and data["verify"] is None
    for args, code in (((FROZEN, "-o", FROZEN), 1), ((tmp_path / "none.pb", "-o", out), 1),
                       ((FROZEN, "-o", out, "--tolerance", "-1"), 2)):
        bad = _cli("fold-constants", *args)
        assert bad.returncode == code and bad.stderr.startswith("error:") and len(bad.stderr.splitlines()) == 1


def test_verify_runs_what_is_written(tmp_path, mnist_dir):
    model = fixture_model("mnist_bn_elu_tf1")
    run = _cli("fold-constants", model, "-o", tmp_path / "folded", "--verify", "--json",
               env={"GS_MNIST_DIR": str(mnist_dir)})
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["verify"]["ok"] and data["verify"]["max_abs_diff"] == {"probabilities:0": 0.0}
    assert data["verify"]["inputs"].startswith("MNIST test set")
    assert (tmp_path / "folded" / "model.ckpt.meta").is_file()


def test_values_larger_than_their_inputs_are_not_built():
    """A few declared numbers never decide memory: broadcasting, Fill, Tile, Range and MatMul results
    past MAX_RESULT_ELEMENTS (and larger than every input) are not computed, so not folded."""
    from graphsurgeon.analysis.constants import MAX_RESULT_ELEMENTS, Constants

    g = gs.Graph()
    column = g.constant(np.ones((3000, 1), np.float32), name="column")
    row = g.constant(np.ones((1, 3000), np.float32), name="row")
    blowups = [g.add_op("Mul", [column, row]), g.add_op("MatMul", [column, row]),
               g.add_op("Fill", [g.constant([10**5, 10**5]), g.constant(1.0)]),
               g.add_op("Tile", [row, g.constant([3000, 1])]),
               g.add_op("Range", [g.constant(0), g.constant(10**9), g.constant(1)])]
    same = g.add_op("Mul", [column, column])  # as large as its inputs: computed
    consts = Constants(g)
    assert [consts.value(op.name) for op in blowups] == [None] * 5
    assert consts.value(same.name).shape == (3000, 1) and 3000 * 3000 > MAX_RESULT_ELEMENTS
    folded, changes = gs.fold_constants(g)
    assert {op.name for op in blowups} & set(changes.details["folded"]) == set()
    assert same.name in changes.details["folded"]
