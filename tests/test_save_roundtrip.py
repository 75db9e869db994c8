"""Saving: a load followed by a save gives back the same protos, unknown fields included.

Also: the input is never overwritten unless asked, an existing output only
with force, SavedModel directories are copied unchanged around the new
graph, a failed write leaves nothing behind. TF-free.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from _support import corpus_models, fixture_models
from google.protobuf import unknown_fields

import graphsurgeon as gs
from graphsurgeon.errors import OutputError, UsageError
from graphsurgeon.formats import writer
from graphsurgeon.formats.protofile import read_message
from graphsurgeon.vocab import protos

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


MODELS = fixture_models() + corpus_models()


def _graph_file(path: Path) -> Path:
    if path.is_dir():
        return next(path / n for n in SAVED_MODEL_FILES if (path / n).is_file())
    return path


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name not in SAVED_MODEL_FILES}


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.name if p.parent.name == "models" else
                         f"{p.parent.name}/{p.name}")
def test_load_save_roundtrips_field_by_field(path, tmp_path):
    g = gs.load(path)  # a fixture listed in the manifest that does not load fails here
    out = tmp_path / ("out" if g.format == "savedmodel" else "out" + (path.suffix or ".pb"))
    written = g.save(out)
    assert written == out
    source = _graph_file(path)
    kind, original, encoding = read_message(source)
    out_kind, again, out_encoding = read_message(_graph_file(out))
    assert (out_kind, out_encoding) == (kind, encoding)
    assert again == original  # protobuf equality: every field, unknown fields included
    # Nothing was edited: the very same bytes (text comments, map order and all).
    assert _graph_file(out).read_bytes() == source.read_bytes()
    if g.format == "savedmodel":
        assert _tree(out) == _tree(path)  # variables/, assets/, fingerprint.pb ... unchanged


if not MODELS:
    def test_roundtrip_models_present():
        pytest.skip("neither fixture models nor the corpus are present")


def _with_unknown_fields(meta_bytes: bytes, top_level: bool = False) -> tuple[bytes, object]:
    """A MetaGraphDef with unknown fields in a NodeDef, a CollectionDef, and (if asked) at the top."""
    meta = protos.MetaGraphDef()
    meta.ParseFromString(meta_bytes)
    node = meta.graph_def.node[0]
    node.ParseFromString(node.SerializeToString() + bytes([0xb8, 0x3e, 0x07]))  # field 999 = 7
    key = sorted(meta.collection_def)[0]  # map iteration order is not stable: pick by name
    coll = meta.collection_def[key]
    coll.ParseFromString(coll.SerializeToString() + bytes([0xc2, 0x3e, 0x02]) + b"hi")  # field 1000 = "hi"
    data = meta.SerializeToString() + (bytes([0xc8, 0x3e, 0x2a]) if top_level else b"")  # field 1001 = 42
    parsed = protos.MetaGraphDef()
    parsed.ParseFromString(data)
    assert len(unknown_fields.UnknownFieldSet(parsed)) == (1 if top_level else 0)
    assert len(unknown_fields.UnknownFieldSet(parsed.graph_def.node[0])) == 1
    return data, parsed


def _a_meta() -> Path:
    for p in MODELS:
        if p.suffix == ".meta":
            return p
    pytest.skip("no .meta model present")


def test_an_edit_writes_deterministic_bytes_and_undoing_it_gives_the_file_back(tmp_path):
    path = _a_meta()
    g = gs.load(path)
    g.add_to_collection("extra", next(iter(g)).name)
    g.save(tmp_path / "edited.meta")
    _, edited, _ = read_message(tmp_path / "edited.meta")
    assert (tmp_path / "edited.meta").read_bytes() == edited.SerializeToString(deterministic=True)
    g.delete_collection("extra")
    g.save(tmp_path / "undone.meta")
    assert (tmp_path / "undone.meta").read_bytes() == path.read_bytes()


def test_unknown_fields_survive_load_edit_save(tmp_path):
    data, parsed = _with_unknown_fields(_a_meta().read_bytes())
    src = tmp_path / "in.meta"
    src.write_bytes(data)
    g = gs.load(src)
    g.save(tmp_path / "same.meta")
    assert (tmp_path / "same.meta").read_bytes() == data
    node = g.graph_def.node[0]
    assert len(unknown_fields.UnknownFieldSet(node)) == 1
    g.add_to_collection("reuse_ops", node.name)  # an edit elsewhere keeps them too
    g.save(tmp_path / "edited.meta")
    _, edited, _ = read_message(tmp_path / "edited.meta")
    assert len(unknown_fields.UnknownFieldSet(edited.graph_def.node[0])) == 1
    assert len(unknown_fields.UnknownFieldSet(edited.collection_def[sorted(parsed.collection_def)[0]])) == 1
    del edited.collection_def["reuse_ops"]
    assert edited == parsed


def test_top_level_unknown_fields_survive(tmp_path):
    data, parsed = _with_unknown_fields(_a_meta().read_bytes(), top_level=True)
    src = tmp_path / "in.meta"
    src.write_bytes(data)
    gs.load(src).save(tmp_path / "same.meta")
    assert (tmp_path / "same.meta").read_bytes() == data


def test_unknown_fields_survive_in_a_saved_model(tmp_path):
    folder = next((p for p in MODELS if p.is_dir()), None)
    if folder is None:
        pytest.skip("no SavedModel present")
    copy = tmp_path / "in"
    copy.mkdir()
    for rel, content in _tree(folder).items():
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes(content)
    saved = protos.SavedModel()
    saved.ParseFromString((folder / "saved_model.pb").read_bytes())
    saved.meta_graphs[0].meta_info_def.ParseFromString(
        saved.meta_graphs[0].meta_info_def.SerializeToString() + bytes([0xb8, 0x3e, 0x07]))
    data = saved.SerializeToString()
    (copy / "saved_model.pb").write_bytes(data)
    gs.load(copy).save(tmp_path / "out")
    again = protos.SavedModel()
    again.ParseFromString((tmp_path / "out" / "saved_model.pb").read_bytes())
    assert len(unknown_fields.UnknownFieldSet(again.meta_graphs[0].meta_info_def)) == 1
    expected = protos.SavedModel()
    expected.ParseFromString(data)
    assert again == expected


# ---------------------------------------------------------------------- output rules

def _small_meta_file(tmp_path: Path, encoding: str = "binary") -> Path:
    meta = protos.MetaGraphDef()
    meta.graph_def.node.add(name="a", op="NoOp")
    meta.collection_def["c"].node_list.value.append("a")
    path = tmp_path / ("small.meta" if encoding == "binary" else "small.pbtxt")
    from graphsurgeon.formats.protofile import serialize
    path.write_bytes(serialize(meta, encoding))
    return path


def test_input_is_overwritten_only_in_place_and_outputs_are_replaced(tmp_path):
    src = _small_meta_file(tmp_path)
    original = src.read_bytes()
    g = gs.load(src)
    g.add_to_collection("d", "a")
    with pytest.raises(UsageError):
        g.save()
    with pytest.raises(OutputError, match="is the input"):
        g.save(src)
    with pytest.raises(OutputError, match="is the input"):
        g.save(tmp_path / "." / "small.meta", force=True)  # force is not in_place
    assert src.read_bytes() == original
    other = tmp_path / "other.meta"
    other.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="already exists"):
        g.save(other, force=False)
    assert other.read_bytes() == b"keep me"
    g.save(other)  # an existing output is replaced by default
    assert gs.load(other).collections["d"].values == ["a"]
    g.save(in_place=True)
    assert gs.load(src).collections["d"].values == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.meta", "small.meta"]  # no temp files


def test_text_stays_text_and_encoding_can_be_asked(tmp_path):
    src = _small_meta_file(tmp_path, "text")
    g = gs.load(src)
    assert g.model.encoding == "text"
    g.save(tmp_path / "out.meta")
    assert read_message(tmp_path / "out.meta")[2] == "text"
    g.save(tmp_path / "bin.meta", encoding="binary")
    assert read_message(tmp_path / "bin.meta")[2] == "binary"
    assert read_message(tmp_path / "bin.meta")[1] == read_message(src)[1]


def test_format_conversions(tmp_path):
    src = _small_meta_file(tmp_path)
    g = gs.load(src)
    g.save(tmp_path / "g.pb", format="graphdef")
    kind, msg, _ = read_message(tmp_path / "g.pb")
    assert kind == "graphdef" and [n.name for n in msg.node] == ["a"]
    plain = gs.load(tmp_path / "g.pb")
    plain.save(tmp_path / "m.meta", format="meta")
    assert read_message(tmp_path / "m.meta")[0] == "meta"
    with pytest.raises(UsageError):
        g.save(tmp_path / "sm", format="savedmodel")
    with pytest.raises(UsageError):
        g.save(tmp_path / "x", format="onnx")
    wrapped = writer.as_meta_graph(plain)
    wrapped.add_to_collection("outs", "a")
    wrapped.save(tmp_path / "w.meta")
    assert gs.load(tmp_path / "w.meta").collections["outs"].values == ["a"]
    assert plain.meta_graph is None  # the original graph is untouched


def _saved_model_copy(tmp_path: Path) -> Path:
    folder = next((p for p in MODELS if p.is_dir()), None)
    if folder is None:
        pytest.skip("no SavedModel present")
    copy = tmp_path / "model"
    copy.mkdir()
    for rel, content in _tree(folder).items():
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes(content)
    (copy / "saved_model.pb").write_bytes((folder / "saved_model.pb").read_bytes())
    return copy


def test_saved_model_in_place_and_output_replace_a_model_directory_only(tmp_path):
    model = _saved_model_copy(tmp_path)
    before = _tree(model)
    g = gs.load(model)
    node = next(iter(g)).name
    g.add_to_collection("mine", node)
    with pytest.raises(OutputError, match="is the input"):
        g.save(model)
    g.save(in_place=True)
    assert _tree(model) == before
    assert gs.load(model).collections["mine"].values == [node]
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    with pytest.raises(OutputError, match="not a model"):
        g.save(out)  # a directory of other files is never replaced
    assert (out / "stale.txt").read_text() == "old"
    (out / "stale.txt").unlink()
    (out / "saved_model.pb").write_bytes(b"an older model")
    g.save(out)  # a model directory is
    assert _tree(out) == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_saved_model_failure_leaves_the_target_untouched(tmp_path, monkeypatch):
    model = _saved_model_copy(tmp_path)
    before = _tree(model)
    g = gs.load(model)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writer, "atomic_write", boom)
    with pytest.raises(OSError):
        g.save(in_place=True)
    assert _tree(model) == before and (model / "saved_model.pb").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # the temporary directory went


def test_saved_model_links_are_copied_not_followed(tmp_path):
    model = _saved_model_copy(tmp_path)
    secret = tmp_path / "outside.txt"
    secret.write_text("not part of the model")
    (model / "assets").mkdir(exist_ok=True)
    os.symlink(secret, model / "assets" / "link.txt")
    gs.load(model).save(tmp_path / "out")
    link = tmp_path / "out" / "assets" / "link.txt"
    assert link.is_symlink() and os.readlink(link) == str(secret)


def test_meta_from_a_checkpoint_is_written_alone(tmp_path):
    meta = next((p for p in fixture_models() if p.suffix == ".meta"), None)
    if meta is None:
        pytest.skip("no checkpoint fixture present")
    g = gs.load(meta)
    assert g.model.checkpoint
    g.save(tmp_path / "model.meta")
    assert [p.name for p in tmp_path.iterdir()] == ["model.meta"]  # no checkpoint copied silently


def test_function_bodies_are_not_saved_alone(tmp_path):
    tf2 = next((p for p in MODELS if p.is_dir() and gs.load(p).library_names), None)
    if tf2 is None:
        pytest.skip("no model with functions present")
    g = gs.load(tf2)
    body = g.function(sorted(g.library_names)[0])
    with pytest.raises(UsageError):
        body.save(tmp_path / "f.pb")
