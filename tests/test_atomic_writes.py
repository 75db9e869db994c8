"""Writes are atomic: a writer killed (SIGKILL) at any moment leaves the old output or the complete new one.

A child process saves a graph over the same target again and again,
alternating two versions (A, B); the parent kills it at random moments and
checks that the target is byte for byte A or B -- for a ``.meta``, a ``.pb``,
a SavedModel directory (whose ``variables/`` must be whole too) and a
SavedModel written from a ``.meta`` (what ``export`` writes: its
``variables/`` the checkpoint, whole). Also:
a failure half-way (the 2 GiB limit, a serialisation error) leaves no
partial output and no temporary file; ``atomic_write`` keeps the old file
when the write fails.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from _support import FIXTURES, ROOT

KILLS = int(os.environ.get("GS_KILLS", "10"))

CHILD = textwrap.dedent('''
    import sys
    import graphsurgeon
    from graphsurgeon.vocab import protos

    source, target, refdir, fmt = sys.argv[1:5]
    a = graphsurgeon.load(source)
    if fmt == "exported":  # a SavedModel built in memory from a .meta: saved_model.pb + variables/
        a, fmt = a.as_saved_model(), "savedmodel"
    b = a.copy()
    # Version B: one op more and a Const large enough that a write takes a while.
    node = protos.NodeDef(name="fuzz_marker", op="Const")
    node.attr["dtype"].type = 1
    tensor = node.attr["value"].tensor
    tensor.dtype = 1
    tensor.tensor_shape.dim.add(size=1 << 20)
    tensor.tensor_content = bytes(range(256)) * (4 << 12)
    b.add_op(node)
    a.save(refdir + "/A" + ("" if fmt == "savedmodel" else "." + fmt), format=fmt, force=True)
    b.save(refdir + "/B" + ("" if fmt == "savedmodel" else "." + fmt), format=fmt, force=True)
    a.save(target, format=fmt, force=True)
    print("ready", flush=True)
    while True:
        b.save(target, format=fmt, force=True)
        a.save(target, format=fmt, force=True)
''')


def _graph_file(path: Path, fmt: str) -> Path:
    return path / "saved_model.pb" if fmt in DIRECTORIES else path


def _tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


CASES = {
    "meta": (FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt.meta", "out.meta"),
    "graphdef": (FIXTURES / "mnist_bn_elu_frozen.pb", "out.pb"),
    "savedmodel": (FIXTURES / "mnist_bn_elu_savedmodel_tf1", "out_savedmodel"),
    "exported": (FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt.meta", "out_exported"),
}
DIRECTORIES = ("savedmodel", "exported")


@pytest.mark.parametrize("fmt", sorted(CASES))
def test_sigkill_leaves_old_or_new(fmt, tmp_path):
    source, name = CASES[fmt]
    if not source.exists():
        pytest.fail(f"fixture {source} is missing")
    target = tmp_path / "out" / name
    target.parent.mkdir()
    refs = tmp_path / "refs"
    refs.mkdir()
    rng = random.Random(f"sigkill:{fmt}")
    seen = {"A": 0, "B": 0}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for attempt in range(KILLS):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(source), str(target), str(refs), fmt],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = child.stdout.readline()
        if line.strip() != "ready":
            child.kill()
            pytest.fail(f"writer did not start: {line!r} {child.stderr.read()[-2000:]}")
        # Kill somewhere inside a save (each takes tens of milliseconds).
        time.sleep(rng.uniform(0.0, 0.4))
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        ref_a = _graph_file(refs / ("A" if fmt in DIRECTORIES else f"A.{fmt}"), fmt).read_bytes()
        ref_b = _graph_file(refs / ("B" if fmt in DIRECTORIES else f"B.{fmt}"), fmt).read_bytes()
        assert ref_a != ref_b
        assert target.exists(), f"kill {attempt}: the target vanished"
        got = _graph_file(target, fmt).read_bytes()
        assert got in (ref_a, ref_b), f"kill {attempt}: target is neither version ({len(got)} bytes)"
        seen["A" if got == ref_a else "B"] += 1
        if fmt in DIRECTORIES:
            # Everything else in the directory is complete: the source's files, or for an
            # exported model its variables/ (the checkpoint, byte for byte).
            tree = _tree(target)
            tree.pop("saved_model.pb")
            expected = _tree(source if fmt == "savedmodel" else refs / "A")
            expected.pop("saved_model.pb")
            assert tree == expected and (fmt == "savedmodel" or sorted(tree) == [
                "variables/variables.data-00000-of-00001", "variables/variables.index"])
        # Left-overs of killed writes are hidden temporaries, never the target's name.
        for item in target.parent.iterdir():
            assert item == target or (item.name.startswith(f".{target.name}.")
                                      and item.name.endswith((".tmp", ".old"))), item
    assert seen["A"] + seen["B"] == KILLS
    # Each writer swept what the killed one before it left: only the last one's remain.
    left = [item.name for item in target.parent.iterdir() if item != target]
    assert all(f"-{child.pid}." in name for name in left), left


def test_leftovers_of_killed_writers_are_swept(tmp_path):
    """The next write of the same file removes what dead writers on this host left, and nothing else."""
    from graphsurgeon.formats import protofile

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # exited: its pid names no process (unless the system reused it at once)
    host = protofile.temp_prefix("x").split(".")[2].rsplit("-", 1)[0]
    target = tmp_path / "model.pb"
    stale_file = tmp_path / f".model.pb.{host}-{dead_pid}.abc123.tmp"
    stale_dir = tmp_path / f".model.pb.{host}-{dead_pid}.def456.old"
    live = tmp_path / f".model.pb.{host}-{os.getppid()}.ghi789.tmp"     # a writer still running
    other_host = tmp_path / f".model.pb.otherhost-{dead_pid}.jkl012.tmp"  # maybe alive, elsewhere
    other_file = tmp_path / f".other.pb.{host}-{dead_pid}.mno345.tmp"    # another target's
    unrelated = tmp_path / ".model.pb.notes.tmp"
    for path in (stale_file, live, other_host, other_file, unrelated):
        path.write_bytes(b"partial")
    stale_dir.mkdir()
    (stale_dir / "saved_model.pb").write_bytes(b"partial")
    protofile.atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (target, live, other_host, other_file, unrelated))


def test_failure_halfway_leaves_nothing(tmp_path, monkeypatch):
    import graphsurgeon
    from graphsurgeon.errors import OutputError
    from graphsurgeon.formats import protofile

    g = graphsurgeon.load(FIXTURES / "mnist_bn_elu_frozen.pb")
    g.graph_def.node[0].device = "/cpu:0"  # edited, so the writer serialises
    # The 2 GiB limit, without allocating 2 GiB: a 1 KiB limit.
    monkeypatch.setattr(protofile, "PROTO_LIMIT", 1024)
    out = tmp_path / "big.pb"
    with pytest.raises(OutputError, match=r"2 GiB protocol buffer limit") as info:
        g.save(out)
    assert str(out) in str(info.value)
    assert list(tmp_path.iterdir()) == []
    # An existing output stays as it was.
    out.write_bytes(b"old")
    with pytest.raises(OutputError):
        g.save(out, force=True)
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["big.pb"]


def test_savedmodel_failure_halfway_keeps_old(tmp_path, monkeypatch):
    import graphsurgeon
    from graphsurgeon.formats import writer

    source = FIXTURES / "mnist_bn_elu_savedmodel_tf1"
    g = graphsurgeon.load(source)
    out = tmp_path / "sm"
    g.save(out)
    before = _tree(out)
    g.graph_def.node[0].device = "/cpu:0"

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "atomic_write", boom)
    with pytest.raises(OSError):
        g.save(out, force=True)
    assert _tree(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["sm"]


def test_atomic_write_failure_keeps_old_file(tmp_path, monkeypatch):
    from graphsurgeon.formats.protofile import atomic_write

    target = tmp_path / "g.pb"
    target.write_bytes(b"old content")

    def fail_fsync(fd):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", fail_fsync)
    with pytest.raises(OSError):
        atomic_write(target, b"new content")
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["g.pb"]


def test_text_too_deep_to_write_is_a_clean_error(tmp_path):
    from graphsurgeon.errors import OutputError
    from graphsurgeon.formats.protofile import serialize
    from tests.fuzzlib import nested_attr_graph

    gd = nested_attr_graph(400)  # built in memory: deeper than any parser accepts
    with pytest.raises(OutputError, match="too deeply"):
        serialize(gd, "text", tmp_path / "deep.pbtxt")


def test_exported_failure_halfway_leaves_nothing(tmp_path):
    """A SavedModel built in memory whose checkpoint went missing: the write fails, nothing is left."""
    import shutil

    import graphsurgeon
    from graphsurgeon.errors import GraphSurgeonError

    model = tmp_path / "model"
    shutil.copytree(FIXTURES / "mnist_bn_elu_tf1", model)
    served, _ = graphsurgeon.export(graphsurgeon.load(model), inputs=["X:0"], outputs=["logits:0"])
    (model / "model.ckpt.data-00000-of-00001").unlink()
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(GraphSurgeonError, match="model.ckpt.data-00000-of-00001"):
        served.save(out / "served")
    assert list(out.iterdir()) == []
    # An existing export stays as it was.
    shutil.copytree(FIXTURES / "mnist_bn_elu_savedmodel_tf1", out / "served")
    before = _tree(out / "served")
    with pytest.raises(GraphSurgeonError):
        served.save(out / "served")
    assert _tree(out / "served") == before and [p.name for p in out.iterdir()] == ["served"]
