"""The read commands (ls, show, info) and the Python read API.

Every CLI run is a fresh interpreter (``python -c`` calling
``graphsurgeon.cli.main.main``) that records at exit whether any
``tensorflow`` module was imported: reading must never import TensorFlow.
One test holds ``ls --json`` against TensorFlow's own answer (tests/tf_oracle.py,
in a subprocess).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _support import FIXTURES, ROOT

import graphsurgeon as gs
from graphsurgeon.ir.graph import Graph
from graphsurgeon.vocab import protos

MANIFEST = FIXTURES / "manifest.json"
RUNNER = """
import atexit, json, os, sys
def _record():
    loaded = sorted(m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow."))
    with open(os.environ["GS_TEST_MODULES"], "w") as f:
        json.dump(loaded, f)
atexit.register(_record)
from graphsurgeon.cli.main import main
main(sys.argv[1:])
"""


def fixture_path(rel: str) -> Path:
    path = FIXTURES / rel
    if not path.exists():
        if MANIFEST.is_file():
            pytest.fail(f"{path} is listed in {MANIFEST} but missing")
        pytest.skip(f"fixture {rel} not built yet")
    return path


@pytest.fixture(scope="module")
def tf1():
    return fixture_path("mnist_bn_elu_tf1/model.ckpt.meta")


@pytest.fixture(scope="module")
def frozen():
    return fixture_path("mnist_bn_elu_frozen.pb")


@pytest.fixture(scope="module")
def sm2():
    return fixture_path("mnist_bn_elu_savedmodel_tf2")


def run_cli(*args, tmp_path: Path, cwd=None):
    """(exit status, stdout, stderr); asserts TensorFlow was never imported."""
    marker = tmp_path / f"modules-{os.getpid()}-{len(list(tmp_path.iterdir()))}.json"
    env = dict(os.environ, GS_TEST_MODULES=str(marker), COLUMNS="100")
    proc = subprocess.run([sys.executable, "-c", RUNNER, *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd or ROOT, timeout=120)
    assert marker.is_file(), proc.stderr
    assert json.loads(marker.read_text()) == [], f"TensorFlow imported by {args}"
    return proc.returncode, proc.stdout, proc.stderr


def ok_json(*args, tmp_path):
    code, out, err = run_cli(*args, "--json", tmp_path=tmp_path)
    assert code == 0, err
    assert "Traceback" not in err
    return json.loads(out)


# ---------------------------------------------------------------- ls --json: schema and oracle
OP_KEYS = {"name", "type", "device", "inputs", "control_inputs", "outputs", "function"}


def check_ls_schema(data):
    assert set(data) == {"model", "format", "ops"}
    assert isinstance(data["model"], str) and isinstance(data["format"], str)
    assert isinstance(data["ops"], list) and data["ops"]
    for op in data["ops"]:
        assert set(op) == OP_KEYS, op
        assert isinstance(op["name"], str) and isinstance(op["type"], str)
        assert isinstance(op["device"], str)
        assert all(isinstance(i, str) and re.fullmatch(r".+:\d+", i) for i in op["inputs"])
        assert all(isinstance(c, str) and not c.startswith("^") for c in op["control_inputs"])
        assert op["function"] is None or isinstance(op["function"], str)
        for i, out in enumerate(op["outputs"]):
            assert set(out) == {"name", "dtype", "shape"}
            assert out["name"] == f"{op['name']}:{i}"
            assert out["dtype"] is None or isinstance(out["dtype"], str)
            assert out["shape"] is None or all(d is None or isinstance(d, int) for d in out["shape"])


def test_ls_json_schema(tf1, frozen, tmp_path):
    for path in (tf1, frozen):
        data = ok_json("ls", path, tmp_path=tmp_path)
        check_ls_schema(data)
        assert data["model"] == str(path)
    assert ok_json("ls", frozen, tmp_path=tmp_path)["format"] == "graphdef"
    assert ok_json("ls", tf1, tmp_path=tmp_path)["format"] == "meta"


def test_ls_json_matches_tensorflow(tf1, tmp_path):
    data = ok_json("ls", tf1, tmp_path=tmp_path)
    out = tmp_path / "oracle.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "tf_oracle.py"), str(tf1), "--kind", "meta",
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = {r["name"]: r for r in json.loads(out.read_text())["ops"]}
    ours = {r["name"]: r for r in data["ops"]}
    assert set(ours) == set(theirs)
    for name, r in ours.items():
        t = theirs[name]
        assert r["type"] == t["type"]
        assert r["inputs"] == t["inputs"]
        assert sorted("^" + c for c in r["control_inputs"]) == sorted(t["control_inputs"])
        assert [o["dtype"] for o in r["outputs"]] == t["dtypes"]
        for o, s in zip(r["outputs"], t["shapes"]):
            if s is not None:  # TensorFlow knows it: we say exactly the same
                assert o["shape"] == s, (o["name"], o["shape"], s)


# ---------------------------------------------------------------- patterns and options
def names(data):
    return {r["name"] for r in data["ops"]}


def test_ls_patterns(tf1, tmp_path):
    g = gs.load(tf1)
    every = [op.name for op in g]
    one_level = ok_json("ls", tf1, "hidden1/*", tmp_path=tmp_path)
    assert names(one_level) == {n for n in every if n.startswith("hidden1/") and n.count("/") == 1}
    assert "hidden1/kernel" in names(one_level) and "hidden1/MatMul" in names(one_level)
    scope = ok_json("ls", tf1, "hidden1/", tmp_path=tmp_path)
    assert names(scope) == {n for n in every if n.startswith("hidden1/")}
    assert len(names(scope)) > len(names(one_level))
    across = ok_json("ls", tf1, "**/Assign", tmp_path=tmp_path)
    assert names(across) == {n for n in every if n == "Assign" or n.endswith("/Assign")}
    assert "hidden1/kernel/Assign" in names(across)
    regex = ok_json("ls", tf1, r"re:^hidden\d/kernel$", tmp_path=tmp_path)
    assert names(regex) == {"hidden1/kernel", "hidden2/kernel"}
    exact = ok_json("ls", tf1, "X", "y", tmp_path=tmp_path)
    assert names(exact) == {"X", "y"}
    x = exact["ops"][[r["name"] for r in exact["ops"]].index("X")]
    assert x["outputs"] == [{"name": "X:0", "dtype": "float32", "shape": [None, 784]}]


def test_ls_type_tensors_count(tf1, tmp_path):
    g = gs.load(tf1)
    matmuls = ok_json("ls", tf1, "--type", "MatMul", tmp_path=tmp_path)
    assert names(matmuls) == {op.name for op in g if op.type == "MatMul"}
    assert {"hidden1/MatMul", "hidden2/MatMul", "outputs/MatMul"} <= names(matmuls)
    code, out, _ = run_cli("ls", tf1, "--type", "MatMul", "--count", tmp_path=tmp_path)
    assert code == 0 and int(out) == len(matmuls["ops"])
    tensors = ok_json("ls", tf1, "hidden1/*", "--tensors", tmp_path=tmp_path)["tensors"]
    expected = [t.name for op in g.ops("hidden1/*") for t in op.outputs]
    assert [t["name"] for t in tensors] == expected
    kernel = next(t for t in tensors if t["name"] == "hidden1/kernel:0")
    assert kernel["dtype"] == "float32_ref" and kernel["shape"] == [784, 300]
    code, out, _ = run_cli("ls", tf1, "--tensors", "--count", tmp_path=tmp_path)
    assert code == 0 and int(out) == sum(len(op.outputs) for op in g)
    code, out, _ = run_cli("ls", tf1, "hidden1/*", tmp_path=tmp_path)
    assert code == 0
    line = next(line for line in out.splitlines() if line.split()[0] == "hidden1/MatMul")
    assert line.split()[1] == "MatMul" and "float32 [?, 300]" in line


def test_ls_functions_and_tree(sm2, tf1, tmp_path):
    g = gs.load(sm2)
    assert g.library_names
    data = ok_json("ls", sm2, "--functions", tmp_path=tmp_path)
    check_ls_schema(data)
    in_functions = [r for r in data["ops"] if r["function"] is not None]
    assert {r["function"] for r in in_functions} <= g.library_names
    assert len(in_functions) == sum(len(f) for f in g.functions.values())
    assert all(r["function"] is None for r in ok_json("ls", sm2, tmp_path=tmp_path)["ops"])
    tree = ok_json("ls", tf1, "--tree", tmp_path=tmp_path)["tree"]
    assert tree["ops"] == len(gs.load(tf1))
    hidden1 = next(c for c in tree["children"] if c["name"] == "hidden1")
    assert hidden1["params"] == 784 * 300 + 300
    code, out, _ = run_cli("ls", tf1, "--tree", "--depth", "1", tmp_path=tmp_path)
    assert code == 0 and any(line.startswith("hidden1/") for line in out.splitlines())


def test_ls_functions_tensors_prints_a_dash_for_the_top_level(sm2, tmp_path):
    code, out, err = run_cli("ls", sm2, "--functions", "--tensors", tmp_path=tmp_path)
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()]
    top = [r for r in rows if r[1] == "serving_default_X:0"]
    assert top and top[0][0] == "-", top
    assert not any("None" in r for r in rows)
    assert any(r[0] == "__inference_serve_129" for r in rows)


# ---------------------------------------------------------------- an empty selection says so
def test_ls_without_a_match_says_so_with_the_nearest_names(tf1, sm2, tmp_path):
    """Exit 1 (a failed lookup, as grep and as an exact name that names nothing), one error line
    on stderr with what was probably meant; the listing itself stays empty (JSON: an empty list)."""
    code, out, err = run_cli("ls", tf1, "--type", "Varible", tmp_path=tmp_path)
    assert (code, out) == (1, "")
    assert err.startswith("error: no op matches --type Varible in ") and "did you mean VariableV2?" in err
    assert len(err.splitlines()) == 1
    code, out, err = run_cli("ls", tf1, "hidden3/*", tmp_path=tmp_path)
    assert (code, out) == (1, "")
    assert err.startswith("error: no op matches 'hidden3/*' in ")
    assert "nearest scopes: hidden1/, hidden2/)" in err
    code, out, err = run_cli("ls", tf1, "hidden3/*", "--json", tmp_path=tmp_path)
    assert code == 1 and json.loads(out)["ops"] == [] and "nearest scopes: hidden1/, hidden2/" in err
    code, out, err = run_cli("ls", tf1, "hidden3/*", "--tensors", "--json", tmp_path=tmp_path)
    assert code == 1 and json.loads(out)["tensors"] == [] and err.startswith("error: no tensor matches")
    code, out, err = run_cli("ls", tf1, "hidden3/*", "--count", tmp_path=tmp_path)
    assert code == 1 and out.strip() == "0" and err.startswith("error: no op matches")
    # Names that exist, of other types; a name typed as a tensor.
    code, _, err = run_cli("ls", tf1, "hidden1/*", "--type", "Elu", tmp_path=tmp_path)
    assert code == 1 and "the pattern matches only BiasAdd, MatMul, VariableV2" in err
    code, _, err = run_cli("ls", tf1, "X:0", tmp_path=tmp_path)
    assert code == 1 and "('X:0' names a tensor: add --tensors)" in err
    # TF2: the network lives in function bodies.
    code, _, err = run_cli("ls", sm2, "--type", "MatMul", tmp_path=tmp_path)
    assert code == 1 and "3 ops of function bodies match: add --functions" in err
    # A match is not a miss; neither is listing an empty selection of nothing in particular.
    code, out, err = run_cli("ls", tf1, "hidden1/*", "--type", "MatMul", tmp_path=tmp_path)
    assert code == 0 and out.split()[0] == "hidden1/MatMul" and err == ""


def test_info_refuses_a_tag_for_a_meta_graph(tf1, frozen, tmp_path):
    for model in (tf1, tf1.parent):
        code, out, err = run_cli("info", model, "--tag", "serve", tmp_path=tmp_path)
        assert (code, out) == (1, "")
        assert err.startswith(f"error: {tf1}: is a MetaGraphDef, which has no tag sets (asked for tag 'serve')")
        assert len(err.splitlines()) == 1
    code, _, err = run_cli("info", frozen, "--tag", "serve", tmp_path=tmp_path)
    assert code == 1 and "is a GraphDef, which has no tags" in err
    with pytest.raises(gs.FormatError, match="no tag sets"):
        gs.load(tf1, tag="serve")


def test_show_and_info(tf1, sm2, tmp_path):
    op = ok_json("show", tf1, "hidden1/MatMul", tmp_path=tmp_path)
    assert op["kind"] == "op" and op["type"] == "MatMul"
    assert [i["tensor"] for i in op["inputs"]] == ["X:0", "hidden1/kernel/read:0"]
    assert op["outputs"][0]["shape"] == [None, 300]
    tensor = ok_json("show", tf1, "hidden1/MatMul:0", tmp_path=tmp_path)
    assert tensor["kind"] == "tensor" and tensor["producer"]["type"] == "MatMul"
    assert tensor["dtype"] == "float32" and tensor["shape"] == [None, 300]
    code, out, _ = run_cli("show", tf1, "hidden1/MatMul", tmp_path=tmp_path)
    assert code == 0 and "MatMul" in out and "X:0" in out
    info = ok_json("info", tf1, tmp_path=tmp_path)
    assert info["format"] == "meta" and info["ops"] == len(gs.load(tf1))
    assert {t["name"] for t in info["likely_inputs"]} >= {"X:0", "y:0"}
    code, out, _ = run_cli("info", tf1, tmp_path=tmp_path)
    assert code == 0 and "format" in out
    sig = ok_json("info", sm2, tmp_path=tmp_path)["signatures"]
    assert "serving_default" in sig


def test_info_says_a_models_own_saver_is_benign_as_scan_does(tf1, sm2, tmp_path):
    """Saving and restoring its own checkpoint is not reaching out: info and scan agree on it."""
    for model, saver in ((tf1, {"save/SaveV2", "save/RestoreV2"}), (sm2, {"SaveV2", "RestoreV2"})):
        access = ok_json("info", model, tmp_path=tmp_path)["external_access"]
        benign = {e["name"] for e in access if e["benign"]}
        assert saver <= benign and all("own saver" in e["benign"] for e in access if e["name"] in saver)
        scanned = ok_json("scan", model, "--all", tmp_path=tmp_path)
        scan_benign = {f["name"] for m in scanned["models"] for f in m["findings"] if f["benign"]}
        assert benign == scan_benign & {e["name"] for e in access}
        code, out, _ = run_cli("info", model, tmp_path=tmp_path)
        assert code == 0 and "reaches out" not in out
        assert re.search(r"^benign I/O   .*SaveV2.*: the model's own saver", out, re.M), out


# ---------------------------------------------------------------- bad input
def expect_error(*args, tmp_path):
    code, out, err = run_cli(*args, tmp_path=tmp_path)
    assert code == 1, (args, code, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    return lines[0]


def test_bad_input_gives_one_error_line(tmp_path, frozen, corpus_dir):
    bad = tmp_path / "bad"
    bad.mkdir()
    png = bad / "picture.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02")
    js = bad / "config.json"
    js.write_text('{"model": "not a graph"}\n')
    empty = bad / "empty_dir"
    empty.mkdir()
    meta = (corpus_dir / "tfnet_cond_test_meta" / "cond_test.meta").read_bytes()
    truncated = bad / "cut.meta"
    truncated.write_bytes(meta[: len(meta) // 2])
    for command in ("ls", "info"):
        assert "missing" in expect_error(command, bad / "missing.meta", tmp_path=tmp_path)
        assert "empty_dir" in expect_error(command, empty, tmp_path=tmp_path)
        assert "picture.png" in expect_error(command, png, tmp_path=tmp_path)
        assert "config.json" in expect_error(command, js, tmp_path=tmp_path)
        assert "cut.meta" in expect_error(command, truncated, tmp_path=tmp_path)
    line = expect_error("ls", corpus_dir / "serving_half_plus_two_cpu", "--tag", "nosuchtag", tmp_path=tmp_path)
    assert "nosuchtag" in line
    line = expect_error("show", frozen, "hidden1/MatMull", tmp_path=tmp_path)
    assert "hidden1/MatMull" in line and "hidden1/MatMul" in line.split("MatMull", 1)[1]
    assert "picture.png" in expect_error("show", png, "x", tmp_path=tmp_path)


def test_a_folder_with_one_graph_file_means_that_graph(tmp_path, frozen):
    """Like a folder with one .meta: a frozen graph shipped with its labels loads from its folder."""
    import shutil

    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(frozen, folder / "model.pb")
    (folder / "labels.txt").write_text("0\n1\n")
    (folder / "fingerprint.pb").write_bytes(b"")  # SavedModel side files are not graphs
    g = gs.load(folder)
    assert g.format == "graphdef" and g.model.file == folder / "model.pb"
    assert [op.name for op in g] == [op.name for op in gs.load(frozen)]
    shutil.copy(frozen, folder / "other.pbtxt")
    line = expect_error("ls", folder, tmp_path=tmp_path)
    assert "several graphs (model.pb, other.pbtxt)" in line


# ---------------------------------------------------------------- the Python API
def test_python_api(tf1, sm2):
    g = gs.load(tf1)
    mm = g.op("hidden1/MatMul")
    assert mm.type == "MatMul" and mm.input_names == ["X:0", "hidden1/kernel/read:0"]
    assert g.tensor("hidden1/MatMul:0").shape == (None, 300)
    assert g.tensor("hidden1/MatMul:0").dtype == "float32"
    assert g.tensor("hidden1/kernel").dtype == "float32_ref"  # a bare op name is its output 0
    with pytest.raises(gs.NotFoundError):
        g.op("hidden1/MatMull")
    with pytest.raises(gs.NotFoundError):
        g.tensor("hidden1/MatMul:7")
    assert {op.name for op in g.ops("hidden1/*", type="MatMul")} == {"hidden1/MatMul"}
    assert {op.name for op in g.ops(type="Placeholder")} >= {"X", "y"}
    tensors = g.tensors("hidden1/*")
    assert [t.name for t in tensors] == [t.name for op in g.ops("hidden1/*") for t in op.outputs]
    assert [t.name for t in g.tensors("X:0")] == ["X:0"]
    assert g.functions == {} and g.signatures == {}
    s = gs.load(sm2)
    assert s.functions and all(isinstance(f, Graph) for f in s.functions.values())
    sig = s.signatures["serving_default"]
    assert set(sig) == {"method", "inputs", "outputs"}
    assert sig["method"] == "tensorflow/serving/predict"
    assert set(sig["inputs"]) == {"X"} and set(sig["outputs"]) == {"logits", "probabilities"}
    assert sig["inputs"]["X"]["shape"] == [None, 784] and sig["inputs"]["X"]["dtype"] == "float32"
    for info in [*sig["inputs"].values(), *sig["outputs"].values()]:
        # The signature (written by TensorFlow) and our view of the graph agree.
        tensor = s.tensor(info["name"])
        assert tensor.dtype == info["dtype"] and list(tensor.shape) == info["shape"], info


def test_networkx_index(tf1):
    g = gs.load(tf1)
    nx_graph = g.nx
    import networkx

    assert isinstance(nx_graph, networkx.MultiDiGraph)
    assert set(nx_graph.nodes) == {op.name for op in g}
    data = [d for _, _, d in nx_graph.in_edges("hidden1/MatMul", data=True)]
    assert sorted((d["src_index"], d["dst_index"], d["control"]) for d in data) == [(0, 0, False), (0, 1, False)]
    edges = sum(len(op.node.input) for op in g)
    assert nx_graph.number_of_edges() == edges
    controls = [(u, v) for u, v, d in nx_graph.edges(data=True) if d["control"]]
    assert len(controls) == sum(len(op.control_input_names) for op in g) > 0


def test_networkx_keeps_one_edge_per_input():
    # x + x: one op reading the same tensor twice has two edges (GraphDef built directly).
    gd = protos.GraphDef()
    x = gd.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = 1
    add = gd.node.add(name="add", op="AddV2")
    add.input.extend(["x", "x:0", "^x"])
    add.attr["T"].type = 1
    g = Graph(gd)
    edges = sorted((d["control"], d["src_index"], d["dst_index"]) for _, _, d in g.nx.edges(data=True))
    assert edges == [(False, 0, 0), (False, 0, 1), (True, -1, 2)]
    assert g.op("add").input_names == ["x:0", "x:0"]
    assert g.op("add").control_input_names == ["x"]
    assert [c.name for c in g.tensor("x:0").consumers] == ["add"]


@pytest.mark.parametrize("argv, name", [
    (["render", "fixtures/models/mnist_bn_elu_tf1", "--format", "dot"], "result.dot"),
    (["freeze", "fixtures/models/mnist_bn_elu_tf1", "--outputs", "logits:0"], "result.pb"),
    (["fold-bn", "fixtures/models/mnist_bn_elu_frozen.pb"], "result.pb"),
])
def test_writers_replace_an_existing_output(argv, name, tmp_path):
    """-o replaces an existing output (as cc -o and dot -o do), --force or not; no TensorFlow."""
    out = tmp_path / "out" / name
    out.parent.mkdir()
    out.write_bytes(b"an older output")
    code, _, err = run_cli(*argv, "-o", out, tmp_path=tmp_path)
    assert code == 0, err
    assert out.read_bytes() != b"an older output"
    first = out.read_bytes()
    code, _, err = run_cli(*argv, "-o", out, "--force", tmp_path=tmp_path)
    assert code == 0, err
    assert out.read_bytes() == first


