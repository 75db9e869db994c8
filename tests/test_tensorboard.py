"""``graphsurgeon tensorboard`` and ``graphsurgeon.to_tensorboard``.

The oracle is TensorBoard itself: its event-file loader (backed by
TensorFlow's record reader, which checks every CRC, in a subprocess) must
give back each model's graph node for node, and a live TensorBoard server
must serve it to the Graphs dashboard. The reference graph is parsed
straight from the model's file with protobuf, independently of
graphsurgeon's readers. TensorFlow never runs in the pytest process.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from _support import CORPUS_DIR, FIXTURES, as_in_a_terminal
from google.protobuf import text_format

import graphsurgeon as gs
from graphsurgeon.formats.tensorboard import SUFFIX, crc32c, masked_crc32c
from graphsurgeon.vocab import protos

MANIFEST = FIXTURES / "manifest.json"
GS = [sys.executable, "-m", "graphsurgeon.cli.main"]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")

# Every corpus model: (what to pass, file holding the graph, kind, tag or None), both
# relative to the model's folder ("" is the folder itself).
CORPUS_MODELS = {
    "deepmd_cu_frozen": ("frozen_model.pb", "frozen_model.pb", "graphdef", None),
    "gknoblau_v1_ckpt": ("model.ckpt.meta", "model.ckpt.meta", "meta", None),
    "ptpb_xdeepfm_textpb": ("xDeepFM.pb", "xDeepFM.pb", "graphdef", None),
    "serving_half_plus_two_cpu": ("", "saved_model.pb", "savedmodel", "serve"),
    "serving_half_plus_two_tf2_cpu": ("", "saved_model.pb", "savedmodel", "serve"),
    "serving_session_bundle_half_plus_two": ("export.meta", "export.meta", "meta", None),
    "tf2onnx_lstm_frozen": ("frozen.pb", "frozen.pb", "graphdef", None),
    "tf2onnx_regression_ckpt": ("model.meta", "model.meta", "meta", None),
    "tfmlir_functional_while": ("functional-while-ops.pbtxt", "functional-while-ops.pbtxt", "graphdef", None),
    "tfmlir_graph_while_loop": ("graph-while-loop.pbtxt", "graph-while-loop.pbtxt", "graphdef", None),
    "tfnet_cond_test_meta": ("cond_test.meta", "cond_test.meta", "meta", None),
    "tfnet_keras_lstm_from_sequential": ("", "saved_model.pb", "savedmodel", "serve"),
    "tfx_transform_fn": ("", "saved_model.pb", "savedmodel", "transform"),
}

# The fixture models, as the trainer lays them out.
FIXTURE_MODELS = {
    "mnist_bn_elu_tf1": ("", "model.ckpt.meta", "meta", None),
    "mnist_bn_elu_resource": ("", "model.ckpt.meta", "meta", None),
    "mnist_bn_elu_0to4": ("", "model.ckpt.meta", "meta", None),
    "mnist_bn_elu_savedmodel_tf1": ("", "saved_model.pb", "savedmodel", "serve"),
    "mnist_bn_elu_savedmodel_tf2": ("", "saved_model.pb", "savedmodel", "serve"),
    "mnist_bn_elu_frozen.pb": ("", "", "graphdef", None),
}


def _fixture_ids() -> list[str]:
    # A manifest listing a model makes that model mandatory (a missing or
    # unreadable one fails); no manifest yet: no fixture cases.
    if not MANIFEST.is_file():
        return []
    return sorted(json.loads(MANIFEST.read_text())["models"])


def _corpus_ids() -> list[str]:
    if CORPUS_DIR is None:
        return ["(corpus missing)"]  # the corpus_dir fixture skips (or fails under CI)
    return sorted(p.name for p in CORPUS_DIR.iterdir() if p.is_dir())


CASES = [("fixture", name) for name in _fixture_ids()] + [("corpus", name) for name in _corpus_ids()]


def _case(where: str, name: str, request) -> tuple[Path, Path, str, str | None]:
    """(model argument, graph file, kind, tag) of one case."""
    if where == "fixture":
        table, base = FIXTURE_MODELS, FIXTURES
    else:
        table, base = CORPUS_MODELS, request.getfixturevalue("corpus_dir")
    assert name in table, f"{where} model {name!r} is not described in test_tensorboard.py: add it to the table"
    argument, graph_file, kind, tag = table[name]
    home = base / name
    return (home / argument if argument else home), (home / graph_file if graph_file else home), kind, tag


def _parse(message_class, path: Path):
    """The file's message, binary or text, parsed by protobuf alone (the reference)."""
    data = path.read_bytes()
    message = message_class()
    try:
        message.ParseFromString(data)
        if data and message.ListFields():
            return message
    except Exception:  # noqa: BLE001 - not binary: read it as text below
        pass
    message = message_class()
    text_format.Parse(data.decode("utf-8"), message)
    return message


def _reference(graph_file: Path, kind: str, tag: str | None):
    """(GraphDef, MetaGraphDef or None) exactly as the model's file holds them."""
    if kind == "graphdef":
        return _parse(protos.GraphDef, graph_file), None
    if kind == "meta":
        meta = _parse(protos.MetaGraphDef, graph_file)
        return meta.graph_def, meta
    saved = _parse(protos.SavedModel, graph_file)
    chosen = [m for m in saved.meta_graphs if tag in m.meta_info_def.tags]
    assert len(chosen) == 1, f"{graph_file}: expected one meta graph tagged {tag!r}"
    return chosen[0].graph_def, chosen[0]


def _stub_events(path: Path) -> list:
    """Events of ``path`` through TensorBoard's TF-free record reader (it checks the CRCs)."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.tensorflow_stub import errors
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New

    reader = PyRecordReader_New(str(path))
    events = []
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return events
        events.append(event_pb2.Event.FromString(reader.record()))


def _assert_same_graph(got, want, label: str) -> None:
    assert [n.name for n in got.node] == [n.name for n in want.node], f"{label}: node names differ"
    for a, b in zip(got.node, want.node):
        assert a == b, f"{label}: node {b.name!r} differs"
    assert got.library == want.library, f"{label}: function library differs"
    assert got == want, f"{label}: GraphDef differs"


# ---------------------------------------------------------------------- framing
def test_crc32c_known_value_and_tensorboard_reference():
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as reference

    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    rng = __import__("random").Random(7)
    # Sizes around the switch to the vectorised path and its chunk size.
    for n in (0, 1, 7, 4096, (1 << 20) - 1, 1 << 20, (1 << 20) + 16383, (1 << 20) + 16385, 3 * (1 << 20) + 5):
        data = rng.randbytes(n)
        assert masked_crc32c(data) == reference(data), n


def test_importing_graphsurgeon_stays_light_and_writing_needs_no_tensorflow(tmp_path):
    if not MANIFEST.is_file():
        pytest.skip("fixture models not trained yet")
    script = textwrap.dedent(f"""
        import sys
        import graphsurgeon as gs
        assert "graphsurgeon.formats.tensorboard" not in sys.modules, "imported eagerly"
        assert "tensorboard.compat.proto.event_pb2" not in sys.modules, "event protos imported eagerly"
        g = gs.load({str(FIXTURES / "mnist_bn_elu_savedmodel_tf2")!r})
        gs.to_tensorboard(g, {str(tmp_path)!r}, run="r")
        print(sorted(m for m in sys.modules if m == "tensorflow" or m.startswith("tensorflow.")))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=ENV)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    assert len(list((tmp_path / "r").glob("events.out.tfevents.*"))) == 1


# ---------------------------------------------------------------------- acceptance: every model, read back
READER = textwrap.dedent("""
    # TensorBoard's own event loader, here backed by TensorFlow's record reader.
    import json, sys
    from tensorboard.compat import tf
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.graph import metadata
    from tensorboard.util import tensor_util
    out = {"reader": tf.__version__, "files": {}}
    for path in sys.argv[1:]:
        kinds = []
        for i, event in enumerate(EventFileLoader(path).Load()):
            kind = event.WhichOneof("what")
            kinds.append(kind)
            if kind in ("graph_def", "meta_graph_def"):
                open(f"{path}.{kind}", "wb").write(getattr(event, kind))
            elif kind == "summary":
                for value in event.summary.value:
                    # The blob the Graphs dashboard reads (the migrated graph_def event).
                    if value.metadata.plugin_data.plugin_name == metadata.PLUGIN_NAME:
                        kinds[-1] = "graph_blob:" + value.tag
                        blob = tensor_util.make_ndarray(value.tensor).reshape(-1)[0]
                        open(f"{path}.blob", "wb").write(blob)
        out["files"][path] = kinds
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def written(tmp_path_factory, request):
    """Every model written to one logdir, one run each, and read back by TensorBoard (with TensorFlow)."""
    logdir = tmp_path_factory.mktemp("tb")
    files, failures = {}, {}
    for where, name in CASES:
        if name == "(corpus missing)":
            continue
        try:
            argument, _, _, tag = _case(where, name, request)
            g = gs.load(argument, tag=tag)
            files[(where, name)] = gs.to_tensorboard(g, logdir, run=f"{where}/{name}")
        except Exception as exc:  # noqa: BLE001 - reported by the case's own test
            failures[(where, name)] = exc
    out = subprocess.run([sys.executable, "-c", READER, *map(str, files.values())], capture_output=True,
                         text=True, timeout=240, env=ENV)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["reader"] != "stub", "TensorFlow's record reader was not used"
    return files, failures, result["files"]


@pytest.mark.parametrize("where,name", CASES, ids=[f"{w}-{n}" for w, n in CASES])
def test_event_file_gives_back_the_model_graph(where, name, written, request):
    files, failures, kinds = written
    _, graph_file, kind, tag = _case(where, name, request)  # skips when the corpus is missing
    if (where, name) in failures:
        raise failures[(where, name)]
    path = files[(where, name)]
    want_graph, want_meta = _reference(graph_file, kind, tag)

    expected = ["file_version", "graph_def", "graph_blob:__run_graph__"]
    if want_meta is not None:
        expected.append("meta_graph_def")
    assert kinds[str(path)] == expected

    _assert_same_graph(protos.GraphDef.FromString(Path(f"{path}.graph_def").read_bytes()), want_graph, name)
    # What the dashboard itself is handed.
    _assert_same_graph(protos.GraphDef.FromString(Path(f"{path}.blob").read_bytes()), want_graph, name)
    if want_meta is not None:
        got_meta = protos.MetaGraphDef.FromString(Path(f"{path}.meta_graph_def").read_bytes())
        assert dict(got_meta.collection_def) == dict(want_meta.collection_def)
        assert got_meta == want_meta
    assert path.name.endswith(SUFFIX) and path.parent.name == name and path.parent.parent.name == where


def test_tf2_function_bodies_are_in_the_event_graph(tmp_path):
    if not MANIFEST.is_file():
        pytest.skip("fixture models not trained yet")
    g = gs.load(FIXTURES / "mnist_bn_elu_savedmodel_tf2")
    path = gs.to_tensorboard(g, tmp_path)
    graph = protos.GraphDef.FromString(_stub_events(path)[1].graph_def)
    names = {f.signature.name for f in graph.library.function}
    assert names and names == {f.signature.name for f in g.graph_def.library.function}
    # The serving signature's call reaches a function whose body holds the model's ops.
    bodies = " ".join(n.name for f in graph.library.function for n in f.node_def)
    assert "MatMul" in bodies


def test_a_function_body_is_written_as_a_graph_with_the_library_it_calls(tmp_path):
    if not MANIFEST.is_file():
        pytest.skip("fixture models not trained yet")
    g = gs.load(FIXTURES / "mnist_bn_elu_savedmodel_tf2")
    name = max(g.functions, key=lambda f: len(g.function(f)))  # the body with the model in it
    body = g.function(name)
    events = _stub_events(gs.to_tensorboard(body, tmp_path))
    assert [e.WhichOneof("what") for e in events] == ["file_version", "graph_def"]  # no meta graph
    graph = protos.GraphDef.FromString(events[1].graph_def)
    assert [n.name for n in graph.node] == [n.name for n in body.graph_def.node]
    assert graph.library == g.graph_def.library


# ---------------------------------------------------------------------- runs
def test_rewrite_output_beside_its_input_as_two_runs(tmp_path):
    if not MANIFEST.is_file():
        pytest.skip("fixture models not trained yet")
    g = gs.load(FIXTURES / "mnist_bn_elu_tf1")
    pruned, _ = gs.prune(g, ["probabilities"])
    before = gs.to_tensorboard(g, tmp_path, run="before")
    after = gs.to_tensorboard(pruned, tmp_path, run="after")
    assert before.parent == tmp_path / "before" and after.parent == tmp_path / "after"
    got_before = protos.GraphDef.FromString(_stub_events(before)[1].graph_def)
    got_after = protos.GraphDef.FromString(_stub_events(after)[1].graph_def)
    _assert_same_graph(got_before, g.graph_def, "before")
    _assert_same_graph(got_after, pruned.graph_def, "after")
    assert len(got_after.node) < len(got_before.node)
    assert "train/training_op" in {n.name for n in got_before.node} - {n.name for n in got_after.node}


def test_writing_again_replaces_our_event_file_and_keeps_others(tmp_path):
    gd = protos.GraphDef()
    gd.node.add(name="a", op="NoOp")
    first = gs.to_tensorboard(gd, tmp_path, run="r")
    gd.node.add(name="b", op="NoOp")
    time.sleep(1.1)  # a new timestamp in the file name
    second = gs.to_tensorboard(gd, tmp_path, run="r")
    assert not first.exists() and second.exists()
    assert [p.name for p in (tmp_path / "r").iterdir()] == [second.name]
    assert [n.name for n in protos.GraphDef.FromString(_stub_events(second)[1].graph_def).node] == ["a", "b"]

    foreign = tmp_path / "s" / "events.out.tfevents.1.host"
    foreign.parent.mkdir()
    foreign.write_bytes(b"")
    with pytest.raises(gs.OutputError, match="written by something else"):
        gs.to_tensorboard(gd, tmp_path, run="s")
    assert [p.name for p in foreign.parent.iterdir()] == [foreign.name]


@pytest.mark.parametrize("run", ["", "../up", "/abs", "a/../b"])
def test_bad_run_names_are_refused(tmp_path, run):
    with pytest.raises(gs.UsageError):
        gs.to_tensorboard(protos.GraphDef(), tmp_path / "logs", run=run)
    assert not (tmp_path / "logs").exists() or not any((tmp_path / "logs").rglob("*tfevents*"))


# ---------------------------------------------------------------------- CLI
def _run(*args, timeout=60):
    return subprocess.run([*GS, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=ENV)


def _assert_one_error(out, code):
    assert out.returncode == code, (out.returncode, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), out.stderr
    assert "Traceback" not in out.stderr


def test_cli_writes_runs_named_after_models(tmp_path, corpus_dir):
    a = corpus_dir / "tf2onnx_regression_ckpt" / "model.meta"
    b = corpus_dir / "serving_half_plus_two_cpu"
    out = _run("tensorboard", a, b, "--logdir", tmp_path, "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    # "model.meta" says nothing: the run is named after its directory.
    assert [r["run"] for r in data["runs"]] == ["tf2onnx_regression_ckpt", "serving_half_plus_two_cpu"]
    for r, model in zip(data["runs"], (a, b)):
        path = Path(r["event_file"])
        assert path.parent == tmp_path / r["run"]
        want, meta = _reference(*((a, "meta", None) if model == a else (b / "saved_model.pb", "savedmodel", "serve")))
        _assert_same_graph(protos.GraphDef.FromString(_stub_events(path)[1].graph_def), want, r["run"])
        assert r["ops"] == len(want.node) and r["meta_graph"] is True


def test_cli_bad_input_is_one_error_line(tmp_path):
    _assert_one_error(_run("tensorboard", tmp_path / "missing.meta", "--logdir", tmp_path), 1)
    (tmp_path / "junk.pb").write_bytes(b"\xff\xfe not a graph")
    _assert_one_error(_run("tensorboard", tmp_path / "junk.pb", "--logdir", tmp_path), 1)
    if MANIFEST.is_file():
        model = FIXTURES / "mnist_bn_elu_frozen.pb"
        _assert_one_error(_run("tensorboard", model), 2)  # neither --logdir nor --serve
        _assert_one_error(_run("tensorboard", model, "--logdir", tmp_path, "--port", "6006"), 2)
        _assert_one_error(_run("tensorboard", model, "--logdir", tmp_path, "--run", "../x"), 2)
        _assert_one_error(_run("tensorboard", model, model, "--logdir", tmp_path, "--run", "x"), 2)
        (tmp_path / "f").write_text("a file, not a directory")
        _assert_one_error(_run("tensorboard", model, "--logdir", tmp_path / "f" / "sub"), 1)
    assert not list(tmp_path.rglob("*tfevents*"))


# ---------------------------------------------------------------------- --serve
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


class _Lines:
    """A process's output lines, readable with a timeout (a reader thread drains the pipe)."""

    def __init__(self, stream):
        self.queue: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            self.queue.put(line)
        self.queue.put(None)

    def wait_for(self, needle: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=max(0.05, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if needle in line:
                return line
        raise AssertionError(f"no line with {needle!r} within {timeout} s; got {self.seen!r}")


def test_serve_shows_the_fixture_graphs_over_http_and_stops_on_sigint():
    if not MANIFEST.is_file():
        pytest.skip("fixture models not trained yet")
    tf1, tf2 = FIXTURES / "mnist_bn_elu_tf1", FIXTURES / "mnist_bn_elu_savedmodel_tf2"
    port = _free_port()
    process = subprocess.Popen([*GS, "tensorboard", str(tf1), str(tf2), "--serve", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                               preexec_fn=as_in_a_terminal)
    stderr_lines = []
    threading.Thread(target=lambda: stderr_lines.extend(process.stderr), daemon=True).start()
    try:
        line = _Lines(process.stdout).wait_for("TensorBoard at", timeout=90)
        base = f"http://127.0.0.1:{port}/"
        assert base in line
        logdir = Path(line.split("(logdir ", 1)[1].split(";", 1)[0])
        assert logdir.is_dir()

        # TensorBoard loads the logdir in the background: poll its Graphs plugin until both runs are in.
        runs = {"mnist_bn_elu_tf1", "mnist_bn_elu_savedmodel_tf2"}
        deadline = time.monotonic() + 60
        while True:
            info = json.loads(_get(base + "data/plugin/graphs/info"))
            if all(info.get(r, {}).get("run_graph") for r in runs):
                break
            assert time.monotonic() < deadline, f"runs never listed: {info}"
            assert process.poll() is None, "".join(stderr_lines)
            time.sleep(0.3)

        for run, model in (("mnist_bn_elu_tf1", tf1), ("mnist_bn_elu_savedmodel_tf2", tf2)):
            pbtxt = _get(f"{base}data/plugin/graphs/graph?run={run}", timeout=30).decode("utf-8")
            served = text_format.Parse(pbtxt, protos.GraphDef())
            g = gs.load(model)
            assert [n.name for n in served.node] == [n.name for n in g.graph_def.node]
            assert {f.signature.name for f in served.library.function} == \
                {f.signature.name for f in g.graph_def.library.function}
        # The chapter's names, as the dashboard receives them.
        for op in ("X", "hidden1/kernel", "batch_normalization/moving_mean", "Elu", "logits", "probabilities"):
            assert f'name: "{op}"' in _get(f"{base}data/plugin/graphs/graph?run=mnist_bn_elu_tf1").decode()

        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=15)
        time.sleep(0.2)
        assert code in (0, 130), "".join(stderr_lines)
        assert "Traceback" not in "".join(stderr_lines)
        with pytest.raises(OSError):  # the server is gone too
            _get(base, timeout=2)
        assert not logdir.exists(), "the temporary logdir was left behind"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_serve_on_a_busy_port_is_one_error_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        gd = tmp_path / "g.pbtxt"
        gd.write_text('node { name: "a" op: "NoOp" }\n')
        out = _run("tensorboard", gd, "--logdir", tmp_path / "logs", "--serve", "--port", port, timeout=90)
    _assert_one_error(out, 1)
    assert "TensorBoard" in out.stderr and str(port) in out.stderr
