"""fingerprint.pb: what we compute equals TensorFlow 2.21's CreateFingerprintDef, and edits refresh it.

TensorFlow runs in subprocesses only (it is the oracle: ``CreateFingerprintDef``
on a directory, ``tf.fingerprint`` for FarmHash); this module stays TF-free.
Every comparison is field by field and then byte for byte, with TensorFlow's
random ``uuid`` copied into ours (the one field that is drawn afresh on
every save, by TensorFlow as by us).
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from _support import CORPUS_DIR, FIXTURES, ROOT
from graphsurgeon.cli.main import cli

import graphsurgeon as gs
from graphsurgeon.formats.farmhash import fingerprint64
from graphsurgeon.formats.fingerprint import (
    FINGERPRINT_PRODUCER,
    FingerprintError,
    fingerprint_def,
    refresh_fingerprint,
    serialize_deterministic,
)
from graphsurgeon.vocab import protos

MANIFEST = FIXTURES / "manifest.json"
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
HASH_FIELDS = ("saved_model_checksum", "graph_def_program_hash", "signature_def_hash",
               "saved_object_graph_hash", "checkpoint_hash")


def _fixture_saved_models() -> list[Path]:
    """The fixture SavedModels the manifest lists (a listed one that is missing fails, not skips)."""
    if not MANIFEST.is_file():
        return []
    models = json.loads(MANIFEST.read_text())["models"]
    return [FIXTURES / key for key, entry in models.items() if entry["format"].startswith("savedmodel")]


def _corpus_saved_models() -> list[Path]:
    if CORPUS_DIR is None:
        return []
    return sorted(p for p in CORPUS_DIR.iterdir() if (p / "saved_model.pb").is_file())


MODELS = _fixture_saved_models() + _corpus_saved_models()
WITH_FINGERPRINT = [m for m in MODELS if (m / "fingerprint.pb").is_file()]


# TensorFlow's fingerprint of each directory given: {dir: {"hex": ...} | {"error": ...}}.
TF_FINGERPRINTS = """
import json, sys
from tensorflow.python.saved_model.pywrap_saved_model import fingerprinting
out = {}
for d in sys.argv[1:]:
    try:
        out[d] = {"hex": fingerprinting.CreateFingerprintDef(d).hex()}
    except Exception as e:
        out[d] = {"error": f"{type(e).__name__}: {e}"}
print(json.dumps(out))
"""


def _run_tf(script: str, *args: str, timeout: int = 300):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script), *args], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def tf_fingerprints(*dirs: Path) -> dict:
    """TensorFlow's FingerprintDef for each directory (a protos.FingerprintDef), or its error text."""
    found = _run_tf(TF_FINGERPRINTS, *map(str, dirs))
    return {Path(d): protos.FingerprintDef.FromString(bytes.fromhex(r["hex"])) if "hex" in r else r["error"]
            for d, r in found.items()}


def _fields(fp) -> dict:
    return {f: getattr(fp, f) for f in HASH_FIELDS} | {"producer": fp.version.producer}


def _assert_same_as_tf(ours, theirs) -> None:
    assert _fields(ours) == _fields(theirs)
    mine = protos.FingerprintDef()
    mine.CopyFrom(ours)
    mine.uuid = theirs.uuid
    assert mine.SerializeToString() == theirs.SerializeToString()


@pytest.fixture(scope="module")
def tf_models() -> dict:
    if not MODELS:
        pytest.skip("no fixture or corpus SavedModel here")
    return tf_fingerprints(*MODELS)


# (a) every fixture and corpus SavedModel: ours equals TensorFlow's; and the stored file where
# it was written by the same algorithm.
@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.name)
def test_fingerprint_equals_tensorflows(model, tf_models):
    theirs = tf_models[model]
    assert not isinstance(theirs, str), theirs
    assert theirs.version.producer == FINGERPRINT_PRODUCER
    _assert_same_as_tf(fingerprint_def(model), theirs)


@pytest.mark.parametrize("model", WITH_FINGERPRINT, ids=lambda p: p.name)
def test_fingerprint_equals_the_stored_one_when_written_by_the_same_algorithm(model, tf_models):
    stored = protos.FingerprintDef.FromString((model / "fingerprint.pb").read_bytes())
    ours = fingerprint_def(model)
    if stored.version.producer == FINGERPRINT_PRODUCER:
        # Written by a TensorFlow with 2.21's algorithm: every field but the random uuid agrees.
        assert _fields(ours) == _fields(stored)
        return
    # Older producers (TF 2.12-2.14 wrote producer 1) hashed some fields differently, or the file
    # changed after: we agree with the stored value exactly where TensorFlow 2.21 itself does.
    theirs = tf_models[model]
    agree_tf = {f: getattr(theirs, f) == getattr(stored, f) for f in HASH_FIELDS}
    agree_us = {f: getattr(ours, f) == getattr(stored, f) for f in HASH_FIELDS}
    assert agree_us == agree_tf
    assert any(agree_tf.values())  # still the same model for TensorFlow on most fields


def test_fixture_savedmodels_are_all_present():
    # A manifest that lists a SavedModel the directory lacks is a failure, not a skip.
    for model in _fixture_saved_models():
        assert (model / "saved_model.pb").is_file(), f"{model}: listed in manifest.json but unreadable"


# (b) an edit writes the fingerprint TensorFlow computes for the written directory.
def _edit_with_cli(model: Path, out: Path) -> None:
    graph = gs.load(model)
    op = graph.graph_def.node[0].name
    result = CliRunner().invoke(cli, ["collections", "add", str(model), "fingerprint_test", op, "-o", str(out)])
    assert result.exit_code == 0, result.output
    # The user is told what happened to the fingerprint.
    had = (model / "fingerprint.pb").exists()
    assert ("note: fingerprint.pb recomputed for the edited model" in result.output) == had, result.output


def test_edit_rewrites_fingerprint_as_tensorflow_computes_it(tmp_path):
    if not WITH_FINGERPRINT:
        pytest.skip("no SavedModel with a fingerprint.pb here")
    outs = {}
    for i, model in enumerate(WITH_FINGERPRINT):
        out = tmp_path / f"{i}_{model.name}"
        _edit_with_cli(model, out)
        outs[model] = out
    # The API route too: load, add_to_collection, save.
    api_model = WITH_FINGERPRINT[0]
    api_out = tmp_path / "api_edit"
    graph = gs.load(api_model)
    graph.add_to_collection("fingerprint_api", graph.graph_def.node[0].name)
    graph.save(api_out)
    outs[api_model, "api"] = api_out

    theirs = tf_fingerprints(*outs.values())
    for key, out in outs.items():
        model = key[0] if isinstance(key, tuple) else key
        original = protos.FingerprintDef.FromString((model / "fingerprint.pb").read_bytes())
        written_bytes = (out / "fingerprint.pb").read_bytes()
        written = protos.FingerprintDef.FromString(written_bytes)
        assert (out / "saved_model.pb").read_bytes() != (model / "saved_model.pb").read_bytes()
        _assert_same_as_tf(written, theirs[out])
        assert written.saved_model_checksum != original.saved_model_checksum
        assert written.uuid != original.uuid and written.uuid.isdigit() and len(written.uuid) >= 20
        # What the edit did not touch keeps its hash (the variables are the same files).
        assert written.checkpoint_hash == original.checkpoint_hash


# (c) an unedited save is a byte-for-byte copy, fingerprint included.
@pytest.mark.parametrize("model", WITH_FINGERPRINT, ids=lambda p: p.name)
def test_unedited_save_keeps_fingerprint_byte_identical(model, tmp_path):
    out = tmp_path / "copy"
    gs.load(model).save(out)
    assert (out / "saved_model.pb").read_bytes() == (model / "saved_model.pb").read_bytes()
    assert (out / "fingerprint.pb").read_bytes() == (model / "fingerprint.pb").read_bytes()


def test_edit_of_a_savedmodel_without_fingerprint_adds_none(tmp_path):
    model = next((m for m in MODELS if not (m / "fingerprint.pb").exists()), None)
    if model is None:
        pytest.skip("every SavedModel here has a fingerprint.pb")
    out = tmp_path / "out"
    _edit_with_cli(model, out)
    assert not (out / "fingerprint.pb").exists()


def test_text_output_drops_the_fingerprint_tensorflow_could_not_compute(tmp_path):
    if not WITH_FINGERPRINT:
        pytest.skip("no SavedModel with a fingerprint.pb here")
    model = WITH_FINGERPRINT[0]
    out = tmp_path / "text"
    notes = []
    gs.load(model).save(out, encoding="text", notes=notes)
    assert (out / "saved_model.pbtxt").is_file()
    assert len(notes) == 1 and notes[0].startswith("fingerprint.pb removed: "), notes
    # A stale fingerprint is worse than none: it goes. TensorFlow has no value to offer either: it
    # fingerprints saved_model.pb or .cpb only, and for this directory gives every hash as 0.
    assert not (out / "fingerprint.pb").exists()
    theirs = tf_fingerprints(out)[out]
    assert isinstance(theirs, str) or not any(getattr(theirs, f) for f in HASH_FIELDS)


# Corner cases of the algorithm, on SavedModels built here (TF-free) and fingerprinted by TensorFlow.
def _write(directory: Path, saved_model, index: bytes | None = None) -> Path:
    directory.mkdir(parents=True)
    (directory / "saved_model.pb").write_bytes(saved_model.SerializeToString())
    if index is not None:
        (directory / "variables").mkdir()
        (directory / "variables" / "variables.index").write_bytes(index)
    return directory


def _corner_model(variant: int):
    sm = protos.SavedModel(saved_model_schema_version=1)
    meta = sm.meta_graphs.add()
    meta.meta_info_def.tags.append("serve")
    meta.meta_info_def.function_aliases["f"] = "g"
    meta.meta_info_def.function_aliases["f2"] = ""
    g = meta.graph_def
    g.versions.producer = 1234
    node = g.node.add(name="n", op="TruncatedNormal")
    for key in ("seed2", "seed", "s", "", "T", "_class", "é", "z"):  # prefixes: C++ sorts seed < seed2
        node.attr[key].i = len(key)
    node.attr["empty"].CopyFrom(protos.AttrValue())
    call_names = ["fn_12", "fn_007", "fn", "fn_+3", "fn_ 5", "fn_x", "fn_-2", "fn_99999999999999999999"]
    for i, fname in enumerate(call_names):
        call = g.node.add(name=f"call{i}", op="StatefulPartitionedCall" if i % 2 else "PartitionedCall")
        call.attr["f"].func.name = fname
        call.attr["f"].func.attr["seed2"].i = 1
        call.attr["f"].func.attr["seed"].i = 2
        if i % 3 == 0:
            call.attr["config_proto"].s = b"\n\x07device"
        elif i % 3 == 1:
            call.attr["config_proto"].i = 5  # not a string: C++ mutable_s() turns it into one
    const = g.node.add(name="c", op="Const")
    const.attr["dtype"].type = 7  # DT_STRING: its value is cleared
    const.attr["value"].tensor.string_val.append(b"platform-dependent")
    fconst = g.node.add(name="c2", op="Const")
    fconst.attr["dtype"].type = 1
    fconst.attr["value"].tensor.float_val.append(2.5)
    fn = g.library.function.add()
    fn.signature.name = "fn_12"
    fn.ret["out"] = ""
    fn.ret["o"] = "x"
    for k in (10, 2, 0):
        fn.arg_attr[k].attr["_a"].b = True
        fn.resource_arg_unique_id[k] = k * 3
    for key in ("b", "a2", "a", "é"):
        sig = meta.signature_def[key]
        sig.method_name = "m"
        sig.inputs["x_1"].name = "x:0"
        sig.inputs["x"].name = "y:0"
    meta.collection_def["c2"].node_list.value.append("n")
    meta.collection_def["c"].bytes_list.value.append(b"\x00\xff")
    og = meta.object_graph_def
    og.nodes.add().children.add(node_id=1, local_name="a")
    names = ["__inference_f_10", "__inference_g_9", "h_ 7", "k_-1", "__inference_call_123456789012"]
    if variant == 1:
        names = names[:2]
    for name in names:
        cf = og.concrete_functions[name]
        cf.bound_inputs.append(3)
        fields = cf.output_signature.dict_value.fields
        fields["out_1"].tensor_spec_value.name = "a"
        fields["out"].tensor_spec_value.name = "b"
    return sm


def test_corner_cases_equal_tensorflows(tmp_path):
    rng = random.Random(7)
    models = {
        "corner0": _write(tmp_path / "corner0", _corner_model(0), bytes(rng.randrange(256) for _ in range(300))),
        "corner1": _write(tmp_path / "corner1", _corner_model(1)),  # no variables: checkpoint hash 0
    }
    bad_uid = _corner_model(1)
    bad_uid.meta_graphs[0].object_graph_def.concrete_functions["no_uid"].bound_inputs.append(1)
    models["no_uid"] = _write(tmp_path / "no_uid", bad_uid)
    theirs = tf_fingerprints(*models.values())
    for name in ("corner0", "corner1"):
        ours = fingerprint_def(models[name])
        _assert_same_as_tf(ours, theirs[models[name]])
    assert fingerprint_def(models["corner1"]).checkpoint_hash == 0
    # TensorFlow refuses a concrete function name without a UID; so do we (nothing is written).
    assert isinstance(theirs[models["no_uid"]], str) and "does not end in an integer" in theirs[models["no_uid"]]
    with pytest.raises(FingerprintError, match="does not end in an integer"):
        fingerprint_def(models["no_uid"])


def test_shared_uid_is_refused_not_guessed(tmp_path):
    # TensorFlow keeps whichever function its hash map yields first: not reproducible, so no value.
    sm = _corner_model(1)
    sm.meta_graphs[0].object_graph_def.concrete_functions["other_10"].bound_inputs.append(1)
    d = _write(tmp_path / "dup", sm)
    with pytest.raises(FingerprintError, match="share UID 10"):
        fingerprint_def(d)
    (d / "fingerprint.pb").write_bytes(b"stale")
    assert refresh_fingerprint(d).startswith("removed:")
    assert not (d / "fingerprint.pb").exists()


def test_refresh_leaves_a_directory_without_fingerprint_alone(tmp_path):
    d = _write(tmp_path / "m", _corner_model(1))
    assert refresh_fingerprint(d) == "absent"
    assert not (d / "fingerprint.pb").exists()


def test_deterministic_serialization_sorts_map_keys_as_cpp_does():
    # upb's deterministic order puts "seed2" before "seed"; C++ (std::string order) the reverse.
    node = protos.NodeDef(name="n")
    node.attr["seed2"].i = 2
    node.attr["seed"].i = 1
    data = serialize_deterministic(node)
    assert data.index(b"\n\x04seed\x12") < data.index(b"\n\x05seed2\x12")
    assert protos.NodeDef.FromString(data) == node
    assert len(data) == len(node.SerializeToString(deterministic=True))


# FarmHash against tf.fingerprint (farmhash64 is TensorFlow's Fingerprint64).
TF_FARMHASH = """
import json, sys
import tensorflow as tf
data = [bytes.fromhex(h) for h in json.loads(sys.stdin.read())]
out = tf.fingerprint(tf.constant(data), method="farmhash64").numpy()
print(json.dumps([int.from_bytes(bytes(o), "little") for o in out]))
"""


def test_farmhash_equals_tensorflows_fingerprint64():
    rng = random.Random(3)
    lengths = list(range(0, 200)) + [255, 256, 257, 1000, 4096, 65537]
    data = [bytes(rng.randrange(256) for _ in range(n)) for n in lengths] + [b"\xff" * n for n in range(0, 130)]
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(TF_FARMHASH)], cwd=ROOT, env=ENV,
                          input=json.dumps([d.hex() for d in data]), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    theirs = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [fingerprint64(d) for d in data] == theirs


# The re-sorting walks our protos' schema: TensorFlow's SavedModel must hold no field that ours lack
# (a field unknown to us would be serialized at the end, where C++ puts it in number order).
TF_DESCRIPTORS = """
import json
from tensorflow.core.protobuf import saved_model_pb2
seen, fields = set(), []
stack = [saved_model_pb2.SavedModel.DESCRIPTOR]
while stack:
    d = stack.pop()
    if d.full_name in seen:
        continue
    seen.add(d.full_name)
    for f in d.fields:
        fields.append([d.full_name[len(d.file.package) + 1:], f.number, f.type, f.is_repeated])
        if f.message_type is not None:
            stack.append(f.message_type)
print(json.dumps(fields))
"""


def test_our_protos_know_every_field_tensorflow_does():
    theirs = _run_tf(TF_DESCRIPTORS)
    ours = set()
    stack, seen = [protos.SavedModel.DESCRIPTOR], set()
    while stack:
        d = stack.pop()
        if d.full_name in seen:
            continue
        seen.add(d.full_name)
        for f in d.fields:
            ours.add((d.full_name[len(d.file.package) + 1:], f.number, f.type, f.is_repeated))
            if f.message_type is not None:
                stack.append(f.message_type)
    missing = [t for t in map(tuple, theirs) if t not in ours]
    assert len(theirs) > 300 and not missing


def test_fingerprinting_does_not_import_tensorflow():
    model = next(iter(WITH_FINGERPRINT or MODELS), None)
    if model is None:
        pytest.skip("no SavedModel here")
    code = ("import sys; from graphsurgeon.formats.fingerprint import fingerprint_def; "
            f"fingerprint_def({str(model)!r}); print('tensorflow' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
