"""The on-disk shape cache (graphsurgeon.analysis.shape_cache): the same answers, or none.

- every fixture and corpus model, top level and function bodies: shapes and
  dtypes read back from the cache equal inference's (and were read, not
  inferred again);
- a changed file, changed code, an edit in memory (top level or function
  body) each stop the cache from answering;
- damaged, torn, foreign or unwritable cache files are ignored;
- the command line uses it; ``GS_CACHE_DIR=`` turns it off.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from _support import ROOT, corpus_models, fixture_model, fixture_models

import graphsurgeon as gs
from graphsurgeon.analysis import shape_cache, shapes
from graphsurgeon.formats import read_model
from graphsurgeon.vocab import protos

SAVEDMODEL_TAGS = {"tfx_transform_fn": "transform"}


@pytest.fixture()
def cache_dir(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv(shape_cache.ENV, str(directory))
    monkeypatch.setattr(shape_cache, "_files", {})
    return directory / "shapes"


@pytest.fixture()
def no_inference(monkeypatch):
    """Make shape inference fail loudly: whatever is asked must come from the cache."""
    def refuse(*args, **kwargs):
        raise AssertionError("shapes were inferred, not read from the cache")

    def arm():
        monkeypatch.setattr("graphsurgeon.ir.graph.infer_shapes", refuse)
    return arm


def _facts(g) -> dict:
    """Shapes and dtypes of every op of ``g`` and of each function body, by (function, op)."""
    out = {}
    for graph in [g] + [g.function(n) for n in sorted(g.library_names)]:
        for name in graph.node_defs:
            out[(graph.function_name, name)] = (graph.output_dtypes(name), graph.shapes[name])
    return out


def _tag(path):
    return SAVEDMODEL_TAGS.get(path.name)


def _models():
    return [pytest.param(p, id=p.name if p.is_dir() else f"{p.parent.name}/{p.name}")
            for p in fixture_models() + corpus_models()]


@pytest.mark.parametrize("path", _models())
def test_read_back_equals_inference(cache_dir, no_inference, monkeypatch, path):
    expected = _facts(gs.load(path, tag=_tag(path)))             # no cache asked: inferred
    first = _facts(gs.load(path, tag=_tag(path), shape_cache=True))  # inferred and stored
    assert first == expected
    assert len(list(cache_dir.iterdir())) == 1
    monkeypatch.setattr(shape_cache, "_files", {})  # as a new process would
    no_inference()
    again = gs.load(path, tag=_tag(path), shape_cache=True)
    assert _facts(again) == expected
    # Each op has a list of its own (an edit to one never shows in another).
    lists = [id(v) for v in again.shapes.values()]
    assert len(lists) == len(set(lists))


def _write_graph(path, batch, shape=(None, 3)):
    """A small GraphDef: x (placeholder of ``shape``) -> Relu, plus a Const of ``batch`` rows."""
    gd = protos.GraphDef()
    gd.versions.producer = 1000
    x = gd.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = 1
    for d in shape:
        x.attr["shape"].shape.dim.add(size=-1 if d is None else d)
    relu = gd.node.add(name="relu", op="Relu", input=["x"])
    relu.attr["T"].type = 1
    c = gd.node.add(name="c", op="Const")
    c.attr["dtype"].type = 1
    tensor = c.attr["value"].tensor  # zeros: one value, repeated (the file's size does not depend on batch)
    tensor.dtype = 1
    tensor.tensor_shape.dim.add(size=batch)
    tensor.tensor_shape.dim.add(size=3)
    tensor.float_val.append(0.0)
    path.write_bytes(gd.SerializeToString())
    return path


def test_a_changed_file_is_a_miss_even_with_the_same_size_and_time(cache_dir, tmp_path):
    path = _write_graph(tmp_path / "g.pb", batch=2)
    assert gs.load(path, shape_cache=True).shapes["c"] == [(2, 3)]
    stat = path.stat()
    _write_graph(path, batch=5)  # same length: 2 and 5 are both one varint byte
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    assert gs.load(path, shape_cache=True).shapes["c"] == [(5, 3)]


def test_changed_code_is_a_miss(cache_dir, tmp_path, monkeypatch, no_inference):
    path = _write_graph(tmp_path / "g.pb", batch=2)
    gs.load(path, shape_cache=True).shapes
    monkeypatch.setattr(shape_cache, "_files", {})
    monkeypatch.setattr(shape_cache, "_code_key", "another version of graphsurgeon")
    calls = _counting(monkeypatch)
    assert gs.load(path, shape_cache=True).shapes["relu"] == [(None, 3)]
    assert len(calls) == 1
    assert len(list(cache_dir.iterdir())) == 2


def test_an_edit_stops_the_cache(cache_dir, tmp_path):
    path = _write_graph(tmp_path / "g.pb", batch=2)
    assert gs.load(path, shape_cache=True).shapes["relu"] == [(None, 3)]
    g = gs.load(path, shape_cache=True)
    assert g.shapes["relu"] == [(None, 3)]  # read from the cache
    x = protos.NodeDef()
    x.CopyFrom(g.node_def("x"))
    del x.attr["shape"].shape.dim[:]
    x.attr["shape"].shape.dim.add(size=7)
    g.replace_op(x)
    assert g.shapes["relu"] == [(7,)]
    # ... and the edited graph's shapes were not stored over the file's.
    assert gs.load(path, shape_cache=True).shapes["relu"] == [(None, 3)]


def test_an_edit_before_the_first_question_stops_it_too(cache_dir, tmp_path):
    path = _write_graph(tmp_path / "g.pb", batch=2)
    gs.load(path, shape_cache=True).shapes
    g = gs.load(path, shape_cache=True)
    g.remove_ops(["c"])
    assert set(g.shapes) == {"x", "relu"}


def _counting(monkeypatch) -> list:
    """Graphs whose shapes get inferred from now on (the rest were read from the cache)."""
    calls = []
    monkeypatch.setattr("graphsurgeon.ir.graph.infer_shapes", lambda g: calls.append(g) or shapes.infer_shapes(g))
    return calls


def test_a_function_body_edit_stops_the_cache_of_the_whole_graph(cache_dir, monkeypatch):
    path = fixture_model("mnist_bn_elu_savedmodel_tf2")
    expected = _facts(gs.load(path, shape_cache=True))
    monkeypatch.setattr(shape_cache, "_files", {})
    g = gs.load(path, shape_cache=True)
    names = sorted(g.library_names)
    body = g.function(names[0])
    op = next(op for op in body if op.attrs)  # an edit through the API that changes nothing
    key = next(iter(op.attrs))
    body.set_attr(op.name, key, op.attrs[key])
    calls = _counting(monkeypatch)
    # Neither the edited body, nor another body, nor the graph they belong to reads the cache now.
    assert _facts(g) == expected  # (the edit changed nothing, so inference agrees)
    assert len(calls) == 1 + len(names)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "garbage", "appended", "foreign"])
def test_damaged_cache_files_are_misses(cache_dir, tmp_path, monkeypatch, damage):
    path = _write_graph(tmp_path / "g.pb", batch=2)
    gs.load(path, shape_cache=True).shapes
    (entry,) = cache_dir.iterdir()
    data = entry.read_bytes()
    if damage == "truncated":
        data = data[:len(data) - 3]
    elif damage == "flipped":
        data = data[:40] + bytes([data[40] ^ 0xFF]) + data[41:]
    elif damage == "garbage":
        data = b"\x00" * len(data)
    elif damage == "appended":
        data = data + b"GSS2" + b"\xff" * 30  # a torn record after a good one: the good one stands
    else:
        data = b"not a cache file at all\n" * 10
    entry.write_bytes(data)
    monkeypatch.setattr(shape_cache, "_files", {})
    g = gs.load(path, shape_cache=True)
    assert g.shapes == {"x": [(None, 3)], "relu": [(None, 3)], "c": [(2, 3)]}
    assert g.output_dtypes("relu") == ["float32"]


def test_a_record_that_does_not_fit_the_graph_is_a_miss(cache_dir, tmp_path, monkeypatch):
    path = _write_graph(tmp_path / "g.pb", batch=2)
    gs.load(path, shape_cache=True).shapes
    # A record for this file's key, but of another graph (two ops, other shapes): refused by its op count.
    key = shape_cache.model_key(read_model(path, digest=True).digest, None)
    other = gs.load(_write_graph(tmp_path / "other.pb", batch=4, shape=(2, 2)))
    other.remove_ops(["c"])
    shape_cache.store(other, key, other.shapes)
    monkeypatch.setattr(shape_cache, "_files", {})
    assert gs.load(path, shape_cache=True).shapes["c"] == [(2, 3)]


def test_an_unwritable_cache_is_ignored(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv(shape_cache.ENV, str(blocker))
    monkeypatch.setattr(shape_cache, "_files", {})
    path = _write_graph(tmp_path / "g.pb", batch=2)
    assert gs.load(path, shape_cache=True).shapes["c"] == [(2, 3)]


def test_least_recently_used_models_go(cache_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(shape_cache, "MAX_MODELS", 2)
    paths = [_write_graph(tmp_path / f"g{i}.pb", batch=i + 1) for i in range(3)]
    seen = set()
    for i, path in enumerate(paths):
        gs.load(path, shape_cache=True).shapes
        for entry in set(cache_dir.iterdir()) - seen:  # its use time: a second after the one before
            os.utime(entry, ns=(10**18 + 10**9 * i, 10**18 + 10**9 * i))
            seen.add(entry)
    assert len(list(cache_dir.iterdir())) == 2
    monkeypatch.setattr(shape_cache, "_files", {})
    calls = _counting(monkeypatch)
    for path in reversed(paths[1:]):
        gs.load(path, shape_cache=True).shapes
    assert calls == []  # the two most recent are kept
    gs.load(paths[0], shape_cache=True).shapes
    assert len(calls) == 1  # the oldest went


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", *map(str, args)], capture_output=True,
                          text=True, env={**os.environ, **env}, cwd=ROOT, timeout=120)


def test_the_command_line_uses_it_and_the_empty_variable_turns_it_off(tmp_path):
    model = fixture_model("mnist_bn_elu_tf1/model.ckpt.meta")
    cache = tmp_path / "cache"
    first = _cli("ls", model, env={shape_cache.ENV: str(cache)})
    second = _cli("ls", model, env={shape_cache.ENV: str(cache)})
    off = _cli("ls", model, env={shape_cache.ENV: ""})
    assert first.returncode == second.returncode == off.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout == off.stdout
    assert "float32 [?, 300]" in first.stdout
    assert len(list((cache / "shapes").iterdir())) == 1
    blank = tmp_path / "blank"
    _cli("ls", model, env={shape_cache.ENV: "", "XDG_CACHE_HOME": str(blank), "HOME": str(blank)})
    assert not blank.exists()

