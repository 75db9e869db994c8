"""Bad input, the fast part (default run): damaged, hostile and mistaken models.

Every case goes through every read entry point (``tests.fuzzlib.exercise``:
load, ops/tensors with dtypes and shapes, ``report.info``, ``op_details`` of
every op, listings, collections, function bodies, render to DOT, diff, prune,
tensorboard, save) and every reading CLI command: each either works or raises
a GraphSurgeonError naming the file (CLI: one ``error:`` line, exit 1), never
another exception (the CLI's "internal error" counts as a failure), never a
hang, never memory proportional to a size the file only declares.

The long version (thousands of mutants per format) is ``tests/test_fuzz.py``
(``pytest --fuzz``).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

from tests import fuzzlib
from _support import FIXTURES

_WORKDIR = Path(tempfile.mkdtemp(prefix="gs-bad-input-"))
CASES = fuzzlib.crafted_files(_WORKDIR / "cases")
TARGETS = fuzzlib.all_targets()


def _manifest_models() -> list[str]:
    manifest = FIXTURES / "manifest.json"
    if not manifest.is_file():
        return []
    data = json.loads(manifest.read_text())
    models = data.get("models", data)
    return sorted(models) if isinstance(models, dict) else []


def test_every_fixture_is_a_target():
    """The fuzz targets cover every model the manifest lists (a model that went missing fails here)."""
    names = {t.name.split(":")[1] for t in TARGETS if t.name.startswith("fixture:")}
    for model in _manifest_models():
        assert any(model in n for n in names), f"{model} listed in manifest.json but not fuzzed"
    assert {t.kind for t in TARGETS} >= {"meta", "savedmodel", "graphdef", "index", "data"}


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0] for c in CASES])
def test_crafted_case(case, tmp_path):
    name, path, expect = CASES[case]
    outcome = fuzzlib.exercise(path, workdir=tmp_path)
    if expect != "any":
        assert outcome.status == expect, outcome.message
    if outcome.status == "error" and outcome.message.startswith("load:"):
        # One line, naming the file, saying something more than "error".
        assert "\n" not in outcome.message
    op = None
    if outcome.status == "ok":
        import graphsurgeon
        g = graphsurgeon.load(path)
        op = next((o.name for o in g if o.name), None)
    for args in fuzzlib.cli_commands(str(path), tmp_path, op):
        code, _, err = fuzzlib.run_cli(args)
        if outcome.status == "error" and outcome.message.startswith("load:"):
            assert code in (1, 2) and err.startswith("error: ")


@pytest.mark.parametrize("name,prefix", fuzzlib.checkpoint_prefixes(CASES))
def test_damaged_checkpoint_reader(name, prefix):
    outcome = fuzzlib.read_checkpoint(prefix)
    if "bad escape" not in name:
        assert outcome.status == "error", f"{name}: read without complaint"


@pytest.mark.parametrize("target", TARGETS, ids=[f"{t.name}|{Path(t.file).name}" for t in TARGETS])
def test_mutants(target, tmp_path):
    """A few seeded mutants of every fixture and corpus file, with the CLI on some of them."""
    count = 4 if target.kind in ("index", "data") else 10
    result = fuzzlib.fuzz_target(target, count, seed=7, workdir=tmp_path, cli_every=5)
    assert result["mutants"] == count
    assert not result["failures"], result["failures"]


def test_truncated_at_every_offset(tmp_path):
    """A small meta graph cut at every byte, a large one at 200 offsets: each loads or fails cleanly."""
    import graphsurgeon
    from graphsurgeon.errors import GraphSurgeonError

    small = fuzzlib.CORPUS / "tfnet_cond_test_meta" / "cond_test.meta"
    large = FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt.meta"
    plans = []
    if small.is_file():
        plans.append((small, range(len(small.read_bytes()))))
    if large.is_file():
        size = len(large.read_bytes())
        plans.append((large, range(0, size, max(1, size // 200))))
    assert plans
    tried = 0
    for source, offsets in plans:
        data = source.read_bytes()
        out = tmp_path / source.name
        for n in offsets:
            out.write_bytes(data[:n])
            try:
                with fuzzlib.time_bound(10):
                    g = graphsurgeon.load(out)
                    for t in g.tensors():
                        t.dtype, t.shape  # noqa: B018
            except GraphSurgeonError as exc:
                assert str(out) in str(exc)
            tried += 1
    assert tried > 200


def test_enormous_const_is_never_built(tmp_path):
    """``show`` of a Const declared [1e12] answers within 1 GiB of address space: the shape is not allocated."""
    gd = fuzzlib.small_graph()
    fuzzlib._const(gd, "huge", [10**12], floats=[1.0])
    fuzzlib._const(gd, "huge_int", [10**6, 10**6], dtype=3, ints=[7])
    path = tmp_path / "huge.pb"
    path.write_bytes(gd.SerializeToString())
    for args in (["show", str(path), "huge"], ["show", str(path), "huge", "--json"], ["show", str(path), "huge:0"],
                 ["info", str(path)], ["ls", str(path), "--json"], ["show", str(path), "huge_int", "--json"]):
        proc = fuzzlib.cli_bounded(args, memory=1 << 30, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "internal error" not in proc.stderr
    show = fuzzlib.cli_bounded(["show", str(path), "huge", "--json"], memory=1 << 30)
    value = json.loads(show.stdout)["attrs"]["value"]
    assert value == {"dtype": "float32", "shape": [10**12]}


def test_values_refuse_to_expand_a_declared_shape():
    from graphsurgeon.errors import FormatError
    from graphsurgeon.vocab import protos
    from graphsurgeon.vocab.values import to_numpy

    tensor = protos.TensorProto(dtype=1)
    tensor.tensor_shape.dim.add(size=10**12)
    tensor.float_val.append(1.0)
    with pytest.raises(FormatError, match="far more than it holds"):
        to_numpy(tensor, "huge")
    tensor = protos.TensorProto(dtype=7)
    tensor.tensor_shape.dim.add(size=10**12)
    tensor.string_val.append(b"x")
    with pytest.raises(FormatError):
        to_numpy(tensor, "huge_string")
    # What TensorFlow writes for tf.zeros([300, 300]): one value for the whole shape.
    zeros = protos.TensorProto(dtype=1)
    zeros.tensor_shape.dim.add(size=300)
    zeros.tensor_shape.dim.add(size=300)
    zeros.float_val.append(0.0)
    assert to_numpy(zeros).shape == (300, 300)
    odd = protos.TensorProto(dtype=8)
    odd.tensor_shape.dim.add(size=1)
    odd.scomplex_val.extend([1.0, 2.0, 3.0])
    with pytest.raises(FormatError, match="odd number"):
        to_numpy(odd)


def test_absurd_output_counts_are_unknown_not_allocated(tmp_path):
    import graphsurgeon

    path = tmp_path / "counts.pb"
    path.write_bytes(fuzzlib.crafted_graphs()["absurd_output_counts"].SerializeToString())
    g = graphsurgeon.load(path)
    assert g.op("split").outputs == []          # num_split=1e12: unknown, not 1e12 tensors
    assert g.tensor("identn:2").dtype is None   # DT 0 in a type list: unknown dtype
    assert len(g.op("unknown_op_output").outputs) == 0  # read at index 4e9: not that many outputs


def test_output_indices_are_ascii_digits_that_fit_an_int64():
    from graphsurgeon.vocab.names import parse_input, split_tensor_name

    assert parse_input("relu:12") == ("relu", 12, False)
    # "²" is a digit to str.isdigit and not to int(); 5,000 digits are more than int() takes:
    # neither is an index, so the text names an op (one no graph has), as TensorFlow reads it.
    assert parse_input("relu:\u00b2") == ("relu:\u00b2", 0, False)
    assert parse_input("x:" + "9" * 5000) == ("x:" + "9" * 5000, 0, False)
    assert split_tensor_name("x:" + "9" * 19) == ("x:" + "9" * 19, 0)
    assert split_tensor_name("x:" + "9" * 18) == ("x", 10**18 - 1)


def _rewrite_crafted(command: str, case: str, tmp_path):
    """Run ``command`` (prune or freeze) on crafted graph ``case`` with --outputs out: (input, output, text)."""
    path = tmp_path / f"{case}.pb"
    path.write_bytes(fuzzlib.crafted_graphs()[case].SerializeToString())
    out = tmp_path / f"{command}.pb"
    code, stdout, stderr = fuzzlib.run_cli([command, str(path), "--outputs", "out", "-o", str(out)])
    assert code == 0, stderr
    return path, out, stdout + stderr


@pytest.mark.parametrize("command", ["prune", "freeze"])
def test_rewrites_keep_damage_they_did_not_make_and_say_so(command, tmp_path):
    """Inputs naming no op, in the model already: the result keeps them, and a note says so."""
    import graphsurgeon
    from graphsurgeon.surgery.contract import dangling_inputs

    path, out, text = _rewrite_crafted(command, "dangling_inputs", tmp_path)
    assert "the input is damaged and so is the result: 'out' reads" in text
    before, after = dangling_inputs(graphsurgeon.load(path)), dangling_inputs(graphsurgeon.load(out))
    assert after and after <= before
    assert ("out", "relu:\u00b2") in after


@pytest.mark.parametrize("command", ["prune", "freeze"])
def test_rewrites_say_when_two_ops_share_a_name(command, tmp_path):
    """A GraphDef with two ops named 'relu' (TensorFlow refuses it): kept as it was, and said."""
    _, _, text = _rewrite_crafted(command, "duplicate_names", tmp_path)
    assert "the input is damaged and so is the result: more than one op is named 'relu'" in text


def test_freeze_keeps_damage_of_a_function_body_it_inlines_and_says_so(tmp_path):
    """A TF2 SavedModel whose serving function reads an op that is not there: inlined, kept, said."""
    import shutil

    import graphsurgeon
    from graphsurgeon.vocab import protos

    source = FIXTURES / "mnist_bn_elu_savedmodel_tf2"
    if not source.is_dir():
        pytest.skip(f"{source} not built")
    model = tmp_path / "damaged"
    shutil.copytree(source, model)
    saved = protos.SavedModel()
    saved.ParseFromString((model / "saved_model.pb").read_bytes())
    library = saved.meta_graphs[0].graph_def.library
    body = next(f for f in library.function if f.signature.name.startswith("__inference_serve_"))
    target = next(n for n in body.node_def if n.op in ("Elu", "Softmax", "BiasAdd") and n.input)
    target.input[0] = "nowhere"
    (model / "saved_model.pb").write_bytes(saved.SerializeToString())

    code, stdout, stderr = fuzzlib.run_cli(["freeze", str(model), "-o", str(tmp_path / "frozen.pb")])
    assert code == 0, stderr
    assert "the input is damaged and so is the result:" in stdout + stderr and "'nowhere'" in stdout + stderr
    frozen = graphsurgeon.load(tmp_path / "frozen.pb")
    assert not any(n.op == "StatefulPartitionedCall" for n in frozen.graph_def.node)  # inlined all the same


def test_freeze_pins_a_switch_whose_default_is_not_the_scalar_it_declares(tmp_path):
    from graphsurgeon.vocab import protos

    gd = fuzzlib.small_graph()
    fuzzlib._const(gd, "three", [3], floats=[1.0, 2.0, 3.0])
    switch = fuzzlib._node(gd, "training", "PlaceholderWithDefault", ["three"], dtype=fuzzlib._type(1))
    switch.attr["shape"].CopyFrom(protos.AttrValue(shape=protos.TensorShapeProto()))  # a scalar, it says
    fuzzlib._node(gd, "uses_it", "AddV2", ["out", "training"], T=fuzzlib._type(1))
    path = tmp_path / "switch.pb"
    path.write_bytes(gd.SerializeToString())
    code, stdout, stderr = fuzzlib.run_cli(["freeze", str(path), "--outputs", "uses_it", "-o", str(tmp_path / "f.pb")])
    assert code == 0, stderr
    assert "pinned training to its default (of shape [3], not the scalar training declares)" in stdout


def test_nesting_limits(tmp_path):
    import graphsurgeon
    from graphsurgeon.analysis import report
    from graphsurgeon.errors import FormatError

    # Each level is three messages (AttrValue, NameAttrList, map entry).
    ok = tmp_path / "nested_25.pb"
    ok.write_bytes(fuzzlib.nested_attr_graph(25).SerializeToString())
    g = graphsurgeon.load(ok)
    assert "nested" in report.op_details(g.op("out"))["attrs"]
    deep = tmp_path / "nested_60.pb"
    deep.write_bytes(fuzzlib.nested_attr_graph(60).SerializeToString())
    with pytest.raises(FormatError, match=r"nested more than 100 deep.*recursion limit") as info:
        graphsurgeon.load(deep)
    assert str(deep) in str(info.value)


def test_file_over_the_proto_limit_is_refused_unread(tmp_path, monkeypatch):
    import graphsurgeon
    from graphsurgeon.errors import FormatError
    from graphsurgeon.formats import protofile

    path = tmp_path / "big.pb"
    path.write_bytes(fuzzlib.small_graph().SerializeToString())
    monkeypatch.setattr(protofile, "PROTO_LIMIT", 16)
    with pytest.raises(FormatError, match="2 GiB protocol buffer limit") as info:
        graphsurgeon.load(path)
    assert str(path) in str(info.value)


def test_reading_runs_nothing_from_the_model(tmp_path):
    """Every entry point on a Keras SavedModel and a PyFunc graph, in a child: no TensorFlow, no Keras."""
    gd = fuzzlib.small_graph()
    node = gd.node.add(name="py", op="PyFunc", input=["x"])
    node.attr["token"].s = b"pyfunc_0"
    node.attr["Tin"].list.type.append(1)
    node.attr["Tout"].list.type.append(1)
    gd.node.add(name="reader", op="ReadFile", input=["x"])
    gd.node.add(name="server", op="RpcServer", input=["x"])
    path = tmp_path / "pyfunc.pb"
    path.write_bytes(gd.SerializeToString())
    keras = fuzzlib.CORPUS / "tfnet_keras_lstm_from_sequential"
    models = [str(path)] + ([str(keras)] if keras.is_dir() else [])
    code = (
        "import sys, json\n"
        "from tests import fuzzlib\n"
        f"for m in {models!r}:\n"
        f"    fuzzlib.exercise(m, workdir={str(tmp_path / 'w')!r})\n"
        "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in ('tensorflow', 'keras', 'tf_keras'))))\n"
    )
    proc = fuzzlib.run_bounded(code, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    import graphsurgeon
    from graphsurgeon.analysis import report

    access = report.info(graphsurgeon.load(path))["external_access"]
    assert {e["name"]: e["reaches"] for e in access} == {"py": "python", "reader": "files", "server": "network"}
    assert not any(e["benign"] for e in access)  # none of them is the model's own saver or asset


def test_info_flags_every_op_that_names_files():
    """Ops whose inputs or attrs are file names, patterns, log or dump directories are in FILE_OPS."""
    from graphsurgeon.vocab import opdefs
    from graphsurgeon.vocab import optypes as vocabulary

    file_args = {"filename", "filenames", "file_pattern", "logdir", "db_uri", "dump_root", "debug_urls",
                 "tfdbg_dump_root", "file_path", "ckpt_path"}
    regex_ops = {"RegexFullMatch", "RegexReplace", "StaticRegexFullMatch", "StaticRegexReplace"}
    missing = []
    for name, op in opdefs.shipped().items():
        args = {a.name for a in op.input_arg} | {a.name for a in op.attr}
        if args & (file_args | {"pattern"}) and name not in regex_ops and name not in vocabulary.FILE_OPS:
            missing.append(name)
    assert not missing, f"ops that name files but are not flagged: {sorted(missing)}"


def test_info_flags_every_op_that_talks_to_other_processes():
    """Ops with a server address, or that exchange tensors with other devices or workers, are NETWORK_OPS."""
    from graphsurgeon.vocab import opdefs
    from graphsurgeon.vocab import optypes as vocabulary

    network_args = {"address", "server_address", "protocol", "send_device", "recv_device", "group_key",
                    "communicator"}
    missing = []
    for name, op in opdefs.shipped().items():
        args = {a.name for a in op.input_arg} | {a.name for a in op.attr}
        if args & network_args and name not in vocabulary.NETWORK_OPS | vocabulary.FILE_OPS:
            missing.append(name)
    assert not missing, f"ops that reach other processes but are not flagged: {sorted(missing)}"
    assert vocabulary.reaches("RpcServer") == "network" and vocabulary.reaches("ReadFile") == "files"


def test_assets_are_never_followed_outside_when_copying(tmp_path):
    """Links inside a SavedModel are copied as links; asset paths pointing outside write nothing there."""
    import shutil

    import graphsurgeon

    source = FIXTURES / "mnist_bn_elu_savedmodel_tf1"
    model = tmp_path / "model"
    shutil.copytree(source, model)
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the model")
    (model / "assets").mkdir()
    os.symlink(secret, model / "assets" / "absolute_link")
    os.symlink("../../secret.txt", model / "assets" / "relative_link")
    os.symlink(tmp_path, model / "assets" / "dir_link")
    g = graphsurgeon.load(model)
    g.meta_graph.asset_file_def.add(filename="../../../escape.txt").tensor_info.name = "X:0"
    out = tmp_path / "out" / "model"
    out.parent.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    g.save(out)
    for name in ("absolute_link", "relative_link", "dir_link"):
        assert (out / "assets" / name).is_symlink()
        assert os.readlink(out / "assets" / name) == os.readlink(model / "assets" / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert secret.read_text() == "outside the model"
    assert not (tmp_path / "escape.txt").exists()


def test_cli_output_rules(tmp_path):
    """-o replaces an existing output file; the input only with --in-place; a directory of other files never."""
    import shutil

    src = FIXTURES / "mnist_bn_elu_frozen.pb"
    model = tmp_path / "frozen.pb"
    shutil.copy(src, model)
    out = tmp_path / "out.pb"
    out.write_bytes(b"an older output")
    prune = ["prune", str(model), "--outputs", "logits"]
    code, _, err = fuzzlib.run_cli(prune + ["-o", str(out)])
    assert code == 0, err
    assert out.read_bytes() != b"an older output"
    code, _, err = fuzzlib.run_cli(prune + ["-o", str(model)])
    assert code == 1 and "is the input" in err and "--in-place" in err and model.read_bytes() == src.read_bytes()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    code, _, err = fuzzlib.run_cli(["prune", str(FIXTURES / "mnist_bn_elu_tf1"), "--outputs", "logits", "-o",
                                    str(notes)])
    assert code == 1 and "not a model" in err and (notes / "todo.txt").read_text() == "mine"
    code, _, err = fuzzlib.run_cli(prune + ["--in-place"])
    assert code == 0, err
    assert model.read_bytes() != src.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frozen.pb", "notes", "out.pb"]


def test_bounded_child_catches_memory_blowups():
    """The harness itself: a child that allocates past its bound fails instead of swapping."""
    proc = fuzzlib.run_bounded("x = bytearray(3 << 30)", memory=1 << 30, timeout=60)
    assert proc.returncode != 0 and "MemoryError" in proc.stderr
