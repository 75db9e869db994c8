"""run, compare and --verify (issue 22 points 7 and 8), against saved_model_cli and TensorFlow's own numbers.

TensorFlow never enters this process: the commands and saved_model_cli run
in subprocesses; what needs no TensorFlow (reading --input, choosing inputs,
the made-up values, the messages) is tested here directly.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _support import FIXTURES, MNIST_DIR

from graphsurgeon.errors import NotFoundError, UsageError
from graphsurgeon.vocab import protos

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

DT_FLOAT, DT_INT32 = 1, 3


def _cli(*args, cwd=None, env_extra=None):
    """``graphsurgeon ARGS`` in a fresh process: (exit status, stdout, stderr)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env_extra or {}))
    proc = subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", *map(str, args)], capture_output=True,
                          text=True, timeout=600, env=env, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def _saved_model_cli(*args, wait: bool = True):
    """``saved_model_cli ARGS`` in a subprocess: its stdout, or (``wait=False``) a function that waits for it."""
    exe = Path(sys.executable).parent / "saved_model_cli"
    argv = [str(exe)] if exe.exists() else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    proc = subprocess.Popen(argv + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))

    def finish():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
        return out

    return finish() if wait else finish


# ---------------------------------------------------------------------------------------------- small graphs
# Written as protos by hand: TensorFlow imports them (the subprocess tests), nothing here imports TensorFlow.


def _node(graph_def, name, op, inputs=(), **attrs):
    node = graph_def.node.add(name=name, op=op)
    node.input.extend(inputs)
    for key, value in attrs.items():
        if key == "dtype" or key == "T" or key == "Tshape":
            node.attr[key].type = value
        elif key == "shape":
            if value is None:
                node.attr[key].shape.unknown_rank = True
            else:
                for d in value:
                    node.attr[key].shape.dim.add(size=d)
        elif key == "value":
            from graphsurgeon.vocab.values import from_numpy

            node.attr[key].tensor.CopyFrom(from_numpy(np.asarray(value)))
        elif isinstance(value, str):
            node.attr[key].s = value.encode()
        else:
            raise AssertionError(key)
    return node


def _scaled(factor: float, check: bool = False):
    """``y = x * factor`` (x float32 [?, 3]), with a CheckNumerics on x when ``check``."""
    g = protos.GraphDef()
    _node(g, "x", "Placeholder", dtype=DT_FLOAT, shape=[-1, 3])
    _node(g, "k", "Const", dtype=DT_FLOAT, value=np.float32(factor))
    if check:
        _node(g, "checked", "CheckNumerics", ["x"], T=DT_FLOAT, message="x is not finite")
    _node(g, "y", "Mul", ["checked" if check else "x", "k"], T=DT_FLOAT)
    return g


def _unknown_ranks():
    """x and z of unknown rank: x feeds a MatMul with a [3, 2] constant (its shape follows), z a Reshape (it does not)."""
    g = protos.GraphDef()
    _node(g, "x", "Placeholder", dtype=DT_FLOAT, shape=None)
    _node(g, "w", "Const", dtype=DT_FLOAT, value=np.ones((3, 2), np.float32))
    _node(g, "h", "MatMul", ["x", "w"], T=DT_FLOAT)
    _node(g, "z", "Placeholder", dtype=DT_FLOAT, shape=None)
    _node(g, "flat_shape", "Const", dtype=DT_INT32, value=np.array([-1], np.int32))
    _node(g, "flat", "Reshape", ["z", "flat_shape"], T=DT_FLOAT, Tshape=DT_INT32)
    return g


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("small")
    for name, graph_def in [("times2", _scaled(2.0)), ("times2001", _scaled(2.001)), ("checked", _scaled(2.0, True)),
                            ("unknown", _unknown_ranks())]:
        (d / f"{name}.pb").write_bytes(graph_def.SerializeToString())
    return d


# ---------------------------------------------------------------------------------------------- --input


def test_input_values_read_as_saved_model_cli_reads_them(tmp_path):
    from graphsurgeon.training.inputs import evaluate, parse_input

    np.save(tmp_path / "x.npy", np.arange(6, dtype=np.float32).reshape(2, 3))
    np.savez(tmp_path / "one.npz", only=np.ones(2))
    np.savez(tmp_path / "many.npz", **{"x": np.zeros(3), "y:0": np.ones(1)})
    given = parse_input(f"x={tmp_path / 'x.npy'}")
    assert given.name == "x" and given.source == "x.npy" and given.value.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert parse_input(f"a={tmp_path / 'one.npz'}").value.tolist() == [1.0, 1.0]
    assert parse_input(f"a={tmp_path / 'many.npz'}[y:0]").value.tolist() == [1.0]
    alone = parse_input(str(tmp_path / "many.npz"))          # each array to the input its key names
    assert alone.name is None and sorted(alone.value) == ["x", "y:0"]
    assert parse_input("training=False").value is False
    assert parse_input("s=[b'a', 'b']").value == [b"a", "b"]
    assert parse_input("x=np.full((2, 3), 0.5, dtype=np.float32)").value.dtype == np.float32
    assert evaluate("np.arange(6).reshape(2, 3) * 2 - 1").tolist() == [[-1, 1, 3], [5, 7, 9]]
    assert evaluate("np.random.rand(3)").tolist() == evaluate("np.random.rand(3)").tolist()   # seeded
    for bad, words in [(f"a={tmp_path / 'many.npz'}", "holds 2 arrays"), (f"a={tmp_path / 'many.npz'}[z]", "no array"),
                       (f"a={tmp_path / 'none.npy'}", "no such file"), ("a=__import__('os').system('true')", "not allowed"),
                       ("a=np.load('x.npy')", "not allowed"), ("a=(1).__class__", "not allowed"),
                       ("a=np.ones((2,)).tofile('f')", "not allowed"), ("a=10 ** 10 ** 10", "too large"),
                       ("a=np.zeros(", "not an expression"), ("=1", "no input name"), ("x", "expected NAME=")]:
        with pytest.raises(UsageError) as err:
            parse_input(bad)
        assert words in str(err.value) and "\n" not in str(err.value), (bad, str(err.value))


def test_given_values_take_the_inputs_dtype_and_must_fit_its_shape():
    from graphsurgeon.training.inputs import InputSpec, as_feed, make_inputs

    spec = InputSpec("x:0", "float32", (None, 3), key="x")
    assert as_feed([[1, 2, 3]], spec, "expression").dtype == np.float32
    with pytest.raises(UsageError, match=r"has shape \[1, 2\]; the input takes \[\?, 3\]"):
        as_feed([[1, 2]], spec, "expression")
    with pytest.raises(UsageError, match="holds float64 values; the input is int32"):
        as_feed([1.5], InputSpec("n:0", "int32", (None,)), "n.npy")
    strings = as_feed(np.array([b"a", b"bc"]), InputSpec("s:0", "string", (None,)), "s.npy")
    assert strings.dtype == object and strings.tolist() == [b"a", b"bc"]
    # A given batch of 5 sets the batch of the inputs made up beside it; the line says which is which.
    made = make_inputs([spec, InputSpec("m:0", "float32", (None, 2))], given={"x:0": (np.ones((5, 3)), "x.npy")})
    assert made.feeds["m:0"].shape == (5, 2) and made.sources == {"x:0": "x.npy", "m:0": "random"}
    assert made.describe() == "x from x.npy; 5 random inputs (seed 0) for m:0"
    assert made.source == "given (--input) and random (seed 0)"


def test_the_mnist_line_only_where_an_input_looks_like_mnist(tmp_path):
    from graphsurgeon.training.inputs import InputSpec, make_inputs

    plain = make_inputs([InputSpec("x:0", "float32", (None, 3))], seed=1)
    assert plain.describe() == "16 random inputs (seed 1)" and plain.reason is None
    images = make_inputs([InputSpec("X:0", "float32", (None, 784))], mnist_dir=tmp_path / "none")
    if images.labels is None:   # unless this machine's cache holds MNIST
        assert images.reason.startswith("no MNIST test set found") and "MNIST" in images.describe()
    assert make_inputs([]).describe() == "no inputs (the graph needs none)"


def test_inputs_of_unknown_rank_get_a_shape_from_their_reader_or_are_named():
    """x feeds a MatMul with a [3, 2] constant: [?, 3]; z feeds a Reshape: nothing says, the user must give it."""
    import graphsurgeon as gs
    from graphsurgeon.training.feeds import plan
    from graphsurgeon.training.inputs import InputNeeded, make_inputs

    g = gs.Graph(_unknown_ranks())
    p = plan(g, outputs=["h:0", "flat:0"])
    specs = {s.name: s for s in p.inputs}
    assert specs["x:0"].shape == (None, 3) and "MatMul h" in specs["x:0"].shape_note
    assert specs["z:0"].shape is None
    with pytest.raises(InputNeeded) as err:
        make_inputs(p.inputs)
    message = str(err.value)
    assert "input z:0 (float32) needs a value: its rank is unknown" in message and "--input z:0=" in message
    assert "x:0" not in message
    made = make_inputs(p.inputs, given={"z:0": (np.ones((2, 2)), "expression")})
    assert made.feeds["x:0"].shape == (2, 3)      # the given batch of 2


def test_tensorflow_message_kept_whole_on_one_line():
    from graphsurgeon.training.tf import short

    message = ("Graph execution error:\n\nDetected at node 'x' defined at (most recent call last):\n"
               '    File "/tmp/m.py", line 5, in <module>\nNode: \'x\'\n'
               "You must feed a value for placeholder tensor 'x' with dtype float and shape [?,3]\n\t [[{{node x}}]]"
               "\n\nOriginal stack trace for 'x':\n  File \"/tmp/m.py\", line 5, in <module>\n")
    assert short(ValueError(message)) == ("Graph execution error: You must feed a value for placeholder tensor 'x' "
                                          "with dtype float and shape [?,3] [[{{node x}}]]")
    assert short(ValueError("2 root error(s) found.\n  (0) INVALID_ARGUMENT: a\n\t [[{{node x}}]]\n  (1) b")) == \
        "2 root error(s) found. (0) INVALID_ARGUMENT: a [[{{node x}}]] (1) b"


# ---------------------------------------------------------------------------------------------- TensorFlow runs


def _fixture_inputs(tmp_path) -> Path:
    rng = np.random.default_rng(7)
    path = tmp_path / "X.npy"
    np.save(path, rng.random((3, 784), dtype=np.float32))
    return path


def _examples(tmp_path) -> Path:
    """Three serialized tf.train.Example protos with a float feature x (what the half_plus_two models parse)."""
    from graphsurgeon.training.examples import example_bytes

    path = tmp_path / "examples.npy"
    np.save(path, np.array([example_bytes({"x": [x]}) for x in (1.0, 2.0, 5.0)], dtype=bytes))
    return path


SAVED_MODEL_CASES = [
    # (model, tag, signature, input key, inputs)
    ("fixture:mnist_bn_elu_savedmodel_tf1", "serve", "serving_default", "X", "mnist"),
    ("fixture:mnist_bn_elu_savedmodel_tf2", "serve", "serving_default", "X", "mnist"),
    ("corpus:serving_half_plus_two_cpu", "serve", "regress_x_to_y", "inputs", "examples"),
    ("corpus:serving_half_plus_two_tf2_cpu", "serve", "classify_x_to_y", "inputs", "examples"),
    ("corpus:tfnet_keras_lstm_from_sequential", "serve", "serving_default", "input_1", "lstm"),
]


@pytest.mark.parametrize("model,tag,signature,key,inputs", SAVED_MODEL_CASES,
                         ids=[c[0].split(":")[1] + "-" + c[2] for c in SAVED_MODEL_CASES])
def test_run_gives_what_saved_model_cli_run_gives(model, tag, signature, key, inputs, tmp_path, corpus_dir):
    where, name = model.split(":")
    path = FIXTURES / name if where == "fixture" else corpus_dir / name
    if inputs == "mnist":
        values = _fixture_inputs(tmp_path)
    elif inputs == "examples":
        values = _examples(tmp_path)
    else:
        values = tmp_path / "seq.npy"
        np.save(values, np.random.default_rng(3).standard_normal((2, 5, 3)).astype(np.float32))
    theirs = _saved_model_cli("run", "--dir", path, "--tag_set", tag, "--signature_def", signature,
                              "--inputs", f"{key}={values}", "--outdir", tmp_path / "smcli", wait=False)
    code, out, err = _cli("run", path, "--signature", signature, "--input", f"{key}={values}",
                          "--save", tmp_path / "ours", "--json")
    theirs()
    assert code == 0, err
    data = json.loads(out)
    expected = sorted(p.name for p in (tmp_path / "smcli").iterdir())
    assert sorted(Path(o["saved"]).name for o in data["outputs"].values()) == expected
    for file in expected:
        theirs, ours = np.load(tmp_path / "smcli" / file), np.load(tmp_path / "ours" / file)
        assert theirs.dtype == ours.dtype and theirs.shape == ours.shape
        assert np.array_equal(theirs, ours), (file, np.max(np.abs(theirs - ours)))
    assert data["inputs"][key]["source"] == values.name and data["loaded_with"] == "SavedModel loader"


def test_compare_finds_the_first_diverging_tensor_with_saved_model_cli_s_numbers(tmp_path):
    """The fixture SavedModel against its own frozen graph with Elu swapped for Relu, exported as a SavedModel:
    compare's difference is the one saved_model_cli's outputs show, and the first tensor that diverges is the
    first activation (its input agrees)."""
    original = FIXTURES / "mnist_bn_elu_savedmodel_tf1"
    for args in (["swap", FIXTURES / "mnist_bn_elu_frozen.pb", "--op", "Elu", "--to", "Relu", "-o", tmp_path / "relu.pb"],
                 ["export", tmp_path / "relu.pb", "--input", "X=X:0", "--output", "logits=logits:0",
                  "--output", "probabilities=probabilities:0", "-o", tmp_path / "relu"]):
        code, _, err = _cli(*args)
        assert code == 0, err
    values = _fixture_inputs(tmp_path)
    waits = [_saved_model_cli("run", "--dir", model, "--tag_set", "serve", "--signature_def", "serving_default",
                              "--inputs", f"X={values}", "--outdir", tmp_path / out, wait=False)
             for model, out in ((original, "a"), (tmp_path / "relu", "b"))]
    for wait in waits:
        wait()
    expected = np.max(np.abs(np.load(tmp_path / "a" / "logits.npy").astype(np.float64)
                             - np.load(tmp_path / "b" / "logits.npy")))
    assert expected > 0.1
    code, out, err = _cli("compare", original, tmp_path / "relu", "--input", f"X={values}", "--all-tensors", "--json")
    assert code == 1, err      # beyond the tolerance: exit 1, no error line
    assert "error" not in err
    data = json.loads(out)
    assert data["ok"] is False and data["signature"] == "serving_default"
    assert data["max_abs_diff"]["logits"] == pytest.approx(expected, rel=1e-4)
    first = data["all_tensors"]["first_divergence"]
    assert (first["tensor_a"], first["op"], first["type"]) == ("Elu:0", "Elu", "Elu")
    assert first["inputs"] == {"batch_normalization/batchnorm/add_1:0": "agree"}
    assert data["all_tensors"]["compared"] > 20 and data["input_sources"] == {"X": "X.npy"}


def test_verify_is_compare_of_input_and_output(tmp_path):
    """freeze --verify with --input runs on the given values and finds what compare finds on them."""
    values = _fixture_inputs(tmp_path)
    model = FIXTURES / "mnist_bn_elu_tf1"
    code, out, err = _cli("freeze", model, "--outputs", "logits:0", "-o", tmp_path / "f.pb", "--verify",
                          "--input", f"X={values}", "--json")
    assert code == 0, err
    assert err == "verifying on X:0 from X.npy\n"
    verify = json.loads(out)["verify"]
    code, out, err = _cli("compare", model, tmp_path / "f.pb", "--output", "logits:0", "--input", f"X={values}",
                          "--json")
    assert code == 0, err
    compared = json.loads(out)
    for key in ("max_abs_diff", "max_rel_diff", "input_sources", "inputs", "ok", "atol", "rtol"):
        assert verify[key] == compared[key], key
    assert verify["input_sources"] == {"X:0": "X.npy"} and verify["ok"]


def test_exit_status_follows_the_tolerances(small):
    """y = 2x against y = 2.001x: beyond the default atol (exit 1), within rtol 1e-3 (exit 0)."""
    a, b = small / "times2.pb", small / "times2001.pb"
    code, out, err = _cli("compare", a, b, "--input", "x=np.ones((2, 3))")
    assert code == 1 and "FAIL" in out and "DIFFERENT: y:0" in out, out + err
    code, out, err = _cli("compare", a, b, "--input", "x=np.ones((2, 3))", "--rtol", "1e-3", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["ok"] and data["max_abs_diff"]["y:0"] == pytest.approx(0.001, rel=1e-3)
    assert data["max_rel_diff"]["y:0"] == pytest.approx(0.0005, rel=1e-3)


def test_tensorflow_s_whole_message_reaches_the_user(small):
    code, out, err = _cli("run", small / "checked.pb", "--input", "x=[[np.nan, 1.0, 2.0]]")
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0] == "running on x:0 from expression", err   # the note, then one error line
    assert lines[1].startswith("error: TensorFlow failed to run the graph: ")
    assert "x is not finite : Tensor had NaN values" in lines[1] and "[[{{node checked}}]]" in lines[1]


def test_run_names_the_input_that_must_be_given(small):
    code, out, err = _cli("run", small / "unknown.pb")
    assert code == 1 and err.startswith("error: input z:0 (float32) needs a value: its rank is unknown"), err
    assert len(err.splitlines()) == 1
    code, out, err = _cli("run", small / "unknown.pb", "--input", "z=np.ones((2, 2))", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["inputs"]["x:0"]["shape"] == [2, 3] and data["inputs"]["x:0"]["source"] == "random"
    h = np.asarray(data["outputs"]["h:0"]["values"])
    assert h.shape == (2, 2) and np.array_equal(h[:, 0], h[:, 1])   # x @ ones((3, 2)): both columns the row sums
    assert data["outputs"]["flat:0"]["values"] == [1.0, 1.0, 1.0, 1.0]


ZOO_SCRIPT = r"""
import json, sys
import numpy as np
import graphsurgeon as gs
from graphsurgeon.training.feeds import plan, find_input
from graphsurgeon.training.inputs import make_inputs
from graphsurgeon.training.run import open_model
from graphsurgeon.training.verify import compare
from graphsurgeon.training.inputs import Given

results = {}
for name, entry in json.loads(sys.argv[1]).items():
    try:
        g = gs.load(entry["model"])
        p = plan(g, outputs=list(entry["expected"]))
        given = {find_input(p, g, t).name: (np.load(f, allow_pickle=True), f) for t, f in entry["feeds"].items()}
        made = make_inputs(p.inputs, given=given)
        with open_model(g, as_written=False) as model:
            values = model.run(made.feeds, [o.tensor for o in p.outputs])
        worst = 0.0
        for o, value in zip(p.outputs, values):
            expected = np.load(entry["expected"][o.key], allow_pickle=True)
            worst = max(worst, 0.0 if expected.dtype.kind in "OSU" and np.array_equal(value, expected)
                        else float(np.max(np.abs(np.asarray(value, np.float64) - expected))))
        same = compare(g, g, outputs=list(entry["expected"]), all_tensors=True,
                       given=[Given(t, np.load(f, allow_pickle=True), f) for t, f in entry["feeds"].items()])
        results[name] = {"run": worst, "ok": same.ok, "compared": len(same.tensors),
                         "differ": sum(1 for d in same.tensors if not d.ok), "skipped": len(same.skipped)}
    except Exception as exc:
        results[name] = {"error": f"{type(exc).__name__}: {exc}"}
print(json.dumps(results))
"""


def test_run_and_compare_hold_on_every_idiom_of_the_zoo():
    """Every model of the idiom zoo (Estimator graphs, partitioned and EMA variables, lookup tables, TF1 while
    loops, Keras 2 and 3, DeePMD-style gradients, MobileNet-like, TF2 modules): run computes what TensorFlow
    computed when the zoo was built, and compare of a model with itself, every shared tensor included, finds
    nothing (one process for all: TensorFlow starts once)."""
    import idioms

    try:
        _, manifest = idioms.zoo()
    except LookupError as exc:
        pytest.skip(str(exc))
    cases = {name: {"model": e["model"], "feeds": e["feeds"], "expected": e["expected"]} for name, e in manifest.items()}
    proc = subprocess.run([sys.executable, "-c", ZOO_SCRIPT, json.dumps(cases)], capture_output=True, text=True,
                          timeout=1200, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(results) == sorted(manifest)
    failures = {n: r for n, r in results.items() if "error" in r or r["run"] > 1e-5 or not r["ok"] or r["differ"]}
    assert not failures, failures
    assert sum(r["compared"] for r in results.values()) > 500, results
