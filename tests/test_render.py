"""graphsurgeon.render / ``graphsurgeon render``: what the picture shows, checked on the fixture and the corpus.

Facts come from the graph itself, from networkx walks written independently
of the library, from TensorFlow's own ``extract_sub_graph`` (in a
subprocess), from Graphviz's layout (coordinates in the SVG) and from a
real browser (headless Chromium screenshots).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest
from _support import CORPUS_DIR, FIXTURES

import graphsurgeon as gs
from graphsurgeon import rendering
from graphsurgeon.analysis.shapes import format_shape
from graphsurgeon.errors import NotFoundError, UsageError
from graphsurgeon.metagraph.variables import variables

SVG_NS = "{http://www.w3.org/2000/svg}"
TF1 = FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt.meta"
MANIFEST = FIXTURES / "manifest.json"
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is missing: ./dev.sh setup installs it (apt-get install graphviz)")


# ---------------------------------------------------------------------------- models
def _fixture_models() -> list[Path]:
    """Every fixture model the manifest lists (a listed but missing model fails the test using it)."""
    if not MANIFEST.exists():
        return []
    manifest = json.loads(MANIFEST.read_text())
    out = []
    for name, entry in sorted(manifest["models"].items()):
        path = FIXTURES / (entry.get("checkpoint") or entry.get("path") or name)
        if name.endswith("_frozen") and not path.exists():
            path = FIXTURES / f"{name}.pb"
        if entry.get("checkpoint"):
            path = Path(str(path) + ".meta")
        out.append(path)
    return out


def _corpus_models() -> list[Path]:
    if CORPUS_DIR is None:
        return []
    out = []
    for folder in sorted(p for p in CORPUS_DIR.iterdir() if p.is_dir()):
        files = sorted(f for f in folder.iterdir() if f.suffix in (".pb", ".pbtxt", ".meta") and f.is_file())
        if (folder / "saved_model.pb").exists() or (folder / "checkpoint").exists() or len(files) != 1:
            out.append(folder)
        else:
            out.append(files[0])
    return out


def _load_fixture(path: Path = TF1):
    if not path.exists():
        if MANIFEST.exists():
            pytest.fail(f"{MANIFEST} lists {path.relative_to(FIXTURES)} but it is missing")
        pytest.skip(f"{path} not trained yet (python -m fixtures.build_all)")
    return gs.load(path)


@pytest.fixture(scope="module")
def fixture_graph():
    return _load_fixture()


# ---------------------------------------------------------------------------- SVG helpers
def _svg_nodes(svg: bytes) -> dict[str, tuple[float, float]]:
    """title -> (x, y) centre of every node group Graphviz drew."""
    root = ET.fromstring(svg)
    out = {}
    for group in root.iter(f"{SVG_NS}g"):
        if group.get("class") != "node":
            continue
        title = group.find(f"{SVG_NS}title").text
        xs, ys = [], []
        for shape in group.iter():  # shapes sit inside the <a> Graphviz makes for tooltips
            if shape.tag == f"{SVG_NS}ellipse":
                xs.append(float(shape.get("cx")))
                ys.append(float(shape.get("cy")))
            elif shape.tag in (f"{SVG_NS}polygon", f"{SVG_NS}path"):
                nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", shape.get("points") or shape.get("d"))]
                xs += nums[0::2]
                ys += nums[1::2]
        out[title] = ((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2) if xs else (0.0, 0.0)
    return out


# ---------------------------------------------------------------------------- acceptance: the fixture
def _positions(svg: bytes, view) -> dict[str, tuple[float, float]]:
    """View node key -> (x, y) centre in the SVG (nodes are drawn under generated ids n0, n1, ...)."""
    by_id = _svg_nodes(svg)
    return {key: by_id[dot_id] for key, dot_id in rendering.node_ids(view).items()}


@needs_dot
def test_default_render_of_fixture_reads_top_to_bottom(fixture_graph):
    g = fixture_graph
    view = rendering.view(g)
    # The chapter's network, one box per layer, root activations as their own nodes.
    chain = ["X", "hidden1/", "batch_normalization/", "Elu", "hidden2/", "batch_normalization_1/", "Elu_1",
             "outputs/", "batch_normalization_2/"]
    for name in chain:
        assert name in view.nodes, f"{name} not drawn; nodes: {sorted(view.nodes)}"
    for name in ("hidden1/", "batch_normalization/", "hidden2/", "outputs/", "loss/", "eval/"):
        assert view.nodes[name].kind == "scope"
    # The default picture is the network: no optimizer, saver or initialiser.
    assert not {"train/", "save/", "init"} & set(view.nodes)
    assert view.nodes["Elu"].kind == "op" and view.nodes["Elu"].type == "Elu"
    assert len(view.nodes) <= rendering.TARGET_NODES
    # Each consecutive pair is joined by a data edge.
    data = {(e.src, e.dst) for e in view.edges if e.kind == "data"}
    for a, b in zip(chain, chain[1:]):
        assert (a, b) in data, f"no data edge {a} -> {b}"
    # Box labels: op counts and parameter counts. hidden1's inference ops, by hand: its two
    # variables, their reads, MatMul and BiasAdd (initialisers and Assign are machinery).
    assert sorted(view.nodes["hidden1/"].ops) == ["hidden1/BiasAdd", "hidden1/MatMul", "hidden1/bias",
                                                  "hidden1/bias/read", "hidden1/kernel", "hidden1/kernel/read"]
    params = sum(v.params for v in variables(g) if v.name.startswith("hidden1/"))
    assert params == 784 * 300 + 300
    dot = rendering.to_digraph(view)
    assert f"6 ops · {params:,} params" in dot.source
    # Layout: well under a second, and top to bottom in that order.
    start = time.perf_counter()
    svg = rendering.run_dot(dot.source, "svg")
    layout = time.perf_counter() - start
    assert layout < 1.0, f"dot took {layout:.2f} s"
    pos = _positions(svg, view)
    ys = [pos[name][1] for name in chain]
    assert ys == sorted(ys) and len(set(ys)) == len(ys), dict(zip(chain, ys))
    for tail in ("loss/", "eval/"):
        assert pos[tail][1] > pos["batch_normalization_2/"][1]
    # The legend names the categories present.
    assert "normalisation" in dot.source and "activations" in dot.source


def test_training_draws_the_machinery_too(fixture_graph):
    g = fixture_graph
    machinery = rendering.training_machinery(g)
    full = rendering.view(g, training=True)
    assert {"train/", "save/", "init"} <= set(full.nodes)
    assert sum(len(n.ops) for n in full.nodes.values()) == len(g)
    default = rendering.view(g)
    assert sum(len(n.ops) for n in default.nodes.values()) == len(g) - len(machinery)
    assert not {m for n in default.nodes.values() for m in n.ops} & machinery
    # The older spelling still works, and contradicting spellings are refused.
    assert set(rendering.view(g, no_training=True).nodes) == set(default.nodes)
    assert set(rendering.view(g, no_training=False).nodes) == set(full.nodes)
    with pytest.raises(UsageError):
        rendering.view(g, training=True, no_training=True)


def test_training_colour_is_training_machinery(fixture_graph):
    """An op is drawn in the training colour iff vocabulary.training_machinery says it is machinery."""
    g = fixture_graph
    machinery = rendering.training_machinery(g)
    view = rendering.view(g, training=True, depth=0, max_nodes=None)
    for node in view.nodes.values():
        assert (node.category == "training") == (node.ops[0] in machinery and node.category != "io"), node.name
        if node.category == "io":  # the saver keeps the I/O colour
            assert node.name.startswith("save/"), node.name
    assert {n.category for n in view.nodes.values() if n.name.startswith("train/")} == {"training"}
    assert rendering.view(g, training=True).nodes["train/"].category == "training"
    # loss/ holds a softmax cross-entropy, and is the loss, not an activation.
    assert rendering.view(g).nodes["loss/"].category == "loss"
    xent = next(op for op in g if op.type == "SparseSoftmaxCrossEntropyWithLogits")
    assert view.nodes[xent.name].category == "loss"


@needs_dot
def test_no_training_leaves_the_network(fixture_graph, tmp_path):
    g = fixture_graph
    kept = {m for n in rendering.view(g, no_training=True, depth=0, max_nodes=None).nodes.values() for m in n.ops}
    # TensorFlow's own answer for what the network's outputs need.
    script = (
        "import sys, json, tensorflow as tf\n"
        "gd = tf.compat.v1.GraphDef()\n"
        "meta = tf.compat.v1.MetaGraphDef(); meta.ParseFromString(open(sys.argv[1], 'rb').read())\n"
        "sub = tf.compat.v1.graph_util.extract_sub_graph(meta.graph_def, "
        "['probabilities', 'loss/loss', 'eval/accuracy'])\n"
        "print(json.dumps([n.name for n in sub.node]))\n")
    out = subprocess.run([sys.executable, "-c", script, str(TF1)], capture_output=True, text=True, env=ENV,
                         check=True, timeout=300)
    needed = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert needed <= kept, f"hidden but needed: {sorted(needed - kept)[:10]}"
    # What stays beyond TensorFlow's set: nothing of the training machinery.
    for name in kept - needed:
        op = g.op(name)
        assert not re.search(r"gradients|^save/|Initializer|^train/|^init$", name), name
        assert not re.match(r"Apply|Assign|Save|Restore", op.type), name
    for name in kept:
        assert not g.op(name).type.startswith(("Apply", "Assign", "SaveV2", "RestoreV2")), name
    # The default drawing without training: the same boxes minus train/, save/, init.
    view = rendering.view(g, no_training=True)
    assert {"hidden1/", "batch_normalization/", "Elu", "loss/", "eval/", "logits"} <= set(view.nodes)
    assert not {"train/", "save/", "init"} & set(view.nodes)
    sources = {}
    for flag in ("--no-training", None, "--training"):
        out = tmp_path / f"{flag}.dot"
        result = subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", "render", str(TF1), "-o", str(out)]
                                + ([flag] if flag else []), capture_output=True, text=True, env=ENV)
        assert result.returncode == 0, result.stderr
        sources[flag] = out.read_text()
    # Labels start with the scope's name and a newline (ids are generated: n0, n1, ...).
    assert 'label="hidden1/\n' in sources[None] and 'label="train/\n' not in sources[None]
    assert 'label="save/\n' not in sources[None]
    assert sources[None] == sources["--no-training"]  # inference only is the default
    assert 'label="train/\n' in sources["--training"] and 'label="save/\n' in sources["--training"]


def test_edges_kinds_and_labels(fixture_graph):
    g = fixture_graph
    view = rendering.view(g, training=True)
    by = {(e.src, e.dst, e.kind): e for e in view.edges}
    x = g.tensor("X:0")
    assert by[("X", "hidden1/", "data")].label == f"{x.dtype} {format_shape(x.shape)}" == "float32 [?, 784]"
    # The Saver reads the variables by reference (float32_ref): a ref edge, merged with a count.
    ref = by[("hidden1/", "save/", "ref")]
    assert set(ref.tensors) == {"hidden1/kernel:0", "hidden1/bias:0"}
    assert all(g.tensor(t).dtype == "float32_ref" for t in ref.tensors)
    assert ref.label == "2 tensors" and ref.count >= 2
    control = [e for e in view.edges if e.kind == "control"]
    assert control and all(e.src != e.dst for e in control)
    source = rendering.to_digraph(view).source
    assert "style=dashed" in source and "arrowhead=odot" in source
    # Every raw edge between two visible nodes is in exactly one merged edge.
    key = {m: n.id for n in view.nodes.values() for m in n.ops}
    raw = 0
    for op in g:
        for text in op.node.input:
            src = key[text.lstrip("^").split(":")[0]]
            raw += src != key[op.name]
    assert raw == sum(e.count for e in view.edges)


def test_resource_edges_are_their_own_kind():
    g = _load_fixture(FIXTURES / "mnist_bn_elu_resource" / "model.ckpt.meta")
    # (by default a variable read by one op is drawn inside it: its handle edge with it)
    view = rendering.view(g, depth=2, weights_as_nodes=True)
    resource = [e for e in view.edges if e.kind == "resource"]
    assert resource
    assert all(g.tensor(t).dtype == "resource" for e in resource for t in e.tensors)
    assert "arrowhead=diamond" in rendering.to_digraph(view).source


def test_expand_collapse_scope(fixture_graph):
    g = fixture_graph
    view = rendering.view(g, expand=["hidden1"])
    assert "hidden1/MatMul" in view.nodes and "hidden1/" not in view.nodes
    assert view.nodes["hidden1/MatMul"].clusters == ("hidden1",)
    # The kernel (a variable read by MatMul alone, through kernel/read) is drawn inside MatMul ...
    assert view.nodes["hidden1/MatMul"].parameters == [("kernel", "784×300")]
    assert set(view.nodes["hidden1/MatMul"].ops) == {"hidden1/MatMul", "hidden1/kernel", "hidden1/kernel/read"}
    # ... or as a node of its own, asked: sub-scopes stay collapsed.
    assert "hidden1/kernel/" in rendering.view(g, expand=["hidden1"], weights_as_nodes=True).nodes
    assert view.clusters["hidden1"]["label"] == "hidden1"
    assert re.search(r'subgraph cluster\d+ \{\n\t\tcolor="#7f7f7f" fontsize=11 label="hidden1/  \(',
                     rendering.to_digraph(view).source)
    view = rendering.view(g, depth=0, collapse=["train", "save"], max_nodes=None, training=True)
    assert "train/" in view.nodes and "hidden1/MatMul" in view.nodes
    assert len(view.nodes["train/"].ops) == sum(1 for op in g if op.name.startswith("train/"))
    view = rendering.view(g, scope="hidden1", depth=1, training=True)
    assert {m for n in view.nodes.values() for m in n.ops} == {op.name for op in g.ops(scope="hidden1")}
    with pytest.raises(NotFoundError, match="hiden1") as err:
        rendering.view(g, scope="hiden1")
    assert "hidden1" in str(err.value)
    with pytest.raises(NotFoundError):
        rendering.view(g, expand=["nope"])


def test_between_follows_data_paths(fixture_graph):
    import networkx as nx

    g = fixture_graph
    data = nx.DiGraph()
    for op in g:
        for t in op.inputs:
            data.add_edge(t.op_name, op.name)
    expected = ({"hidden1/MatMul"} | nx.descendants(data, "hidden1/MatMul")) & \
        ({"Elu_1"} | nx.ancestors(data, "Elu_1"))
    assert rendering.ops_between(g, "hidden1/MatMul:0", "Elu_1:0") == expected
    view = rendering.view(g, between=("hidden1/MatMul:0", "Elu_1:0"), depth=0, max_nodes=None)
    assert {m for n in view.nodes.values() for m in n.ops} == expected
    with pytest.raises(UsageError, match="no data path"):
        rendering.ops_between(g, "Elu_1:0", "hidden1/MatMul:0")


def test_between_in_a_loop_terminates(corpus_dir):
    import networkx as nx

    g = gs.load(corpus_dir / "tfmlir_graph_while_loop" / "graph-while-loop.pbtxt")
    merge = next(op.name for op in g if op.type == "Merge")
    exit_ = next(op.name for op in g if op.type == "Exit")
    data = nx.DiGraph()
    for op in g:
        for t in op.inputs:
            data.add_edge(t.op_name, op.name)
    expected = ({merge} | nx.descendants(data, merge)) & ({exit_} | nx.ancestors(data, exit_))
    found = rendering.ops_between(g, merge, exit_)
    assert found == expected
    assert any(g.op(n).type == "NextIteration" for n in found)  # the loop body, back edge included
    rendering.view(g, between=(merge, exit_))


def test_max_nodes_fails_fast_with_a_hint(fixture_graph):
    start = time.perf_counter()
    with pytest.raises(UsageError) as err:
        rendering.render(fixture_graph, depth=0, max_nodes=100, training=True, weights_as_nodes=True)
    assert time.perf_counter() - start < 2
    message = str(err.value)
    assert "--max-nodes 100" in message and "--depth" in message and "--scope" in message
    assert f"{len(fixture_graph)} nodes" in message


def test_synthetic_graph_collapses_to_a_readable_view():
    from bench.synthetic import make_meta_graph

    meta = make_meta_graph(6000)
    g = gs.Graph(meta.graph_def, meta_graph=meta)
    view = rendering.view(g)
    assert view.depth == 1 and len(view.nodes) <= rendering.TARGET_NODES
    blocks = {op.name.split("/")[0] for op in g if op.name.startswith("block_")}
    assert {n.name for n in view.nodes.values() if n.kind == "scope"} == blocks
    # Blocks chain one after another: block_i -> block_(i+1).
    edges = {(e.src, e.dst) for e in view.edges}
    assert all((f"block_{i}/", f"block_{i + 1}/") in edges for i in range(len(blocks) - 1))


# ---------------------------------------------------------------------------- functions
def test_function_calls_and_bodies(corpus_dir):
    g = gs.load(corpus_dir / "tfmlir_functional_while" / "functional-while-ops.pbtxt")
    callers = [op for op in g if op.calls]
    assert callers
    view = rendering.view(g, depth=0)
    source = rendering.to_digraph(view).source
    for op in callers:
        node = next(n for n in view.nodes.values() if op.name in n.ops)
        assert node.calls == op.calls
        for _, fname in op.calls:
            assert fname in source
    assert "shape=component" in source
    fname = callers[0].calls[0][1]
    body = rendering.view(g, function=fname, depth=0)
    fdef = next(f for f in g.graph_def.library.function if f.signature.name == fname)
    drawn = {m for n in body.nodes.values() for m in n.ops}
    assert {n.name for n in fdef.node_def} | {a.name for a in fdef.signature.input_arg} <= drawn
    with pytest.raises(NotFoundError):
        rendering.view(g, function="no_such_function")


# ---------------------------------------------------------------------------- no TensorFlow, no dot
def test_render_path_does_not_import_tensorflow(tmp_path):
    model = TF1 if TF1.exists() else next(iter(_corpus_models()), None)
    if model is None:
        pytest.skip("no model to render")
    script = (
        "import sys, graphsurgeon as gs\n"
        "from graphsurgeon.cli.main import main\n"
        "g = gs.load(sys.argv[1])\n"
        "gs.render(g, no_training=True).source\n"
        "g._repr_mimebundle_()\n"
        "try:\n"
        "    main(['render', sys.argv[1], '-o', sys.argv[2]])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", script, str(model), str(tmp_path / "x.dot")], capture_output=True,
                         text=True, env=ENV, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr


def test_missing_dot_is_a_clear_error_and_dot_format_needs_none(tmp_path):
    model = TF1 if TF1.exists() else next(iter(_corpus_models()), None)
    if model is None:
        pytest.skip("no model to render")
    exe = Path(sys.executable).parent / "graphsurgeon"
    bare = tmp_path / "bin"
    bare.mkdir()
    env = dict(ENV, PATH=str(bare))  # no dot anywhere on PATH
    out = subprocess.run([str(exe), "render", str(model), "-o", str(tmp_path / "g.svg")], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 1
    assert out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) == 1
    assert "dot" in out.stderr and "apt-get install graphviz" in out.stderr and "--format dot" in out.stderr
    assert not (tmp_path / "g.svg").exists()
    out = subprocess.run([str(exe), "render", str(model), "-o", str(tmp_path / "g.gv"), "--format", "dot"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "g.gv").read_text().startswith("digraph")


# ---------------------------------------------------------------------------- every model, in a browser
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _png_pixels(data: bytes):
    """(width, height, rows of RGB(A) bytes) of an 8-bit non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
            assert depth == 8 and interlace == 0 and color in (2, 6)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def _ink(rows, bpp, x0, y0, x1, y1) -> int:
    """Pixels in a box that are not near-white."""
    count = 0
    for row in rows[y0:y1]:
        for x in range(x0, x1):
            r, g, b = row[x * bpp], row[x * bpp + 1], row[x * bpp + 2]
            count += (r + g + b) < 600
    return count


@needs_dot
def test_every_model_renders_valid_svg_that_a_browser_draws(tmp_path):
    models = _fixture_models() + _corpus_models()
    if not models:
        pytest.skip("no fixture or corpus models here")
    svgs = []
    for model in models:
        if not model.exists():
            pytest.fail(f"{model} is listed but missing")
        g = gs.load(model)
        view = rendering.view(g)
        svg = rendering.run_dot(rendering.to_digraph(view).source, "svg")
        root = ET.fromstring(svg)  # valid XML
        titles = {t.text for t in root.iter(f"{SVG_NS}title")}
        missing = {key for key, dot_id in rendering.node_ids(view).items() if dot_id not in titles}
        assert not missing, f"{model}: nodes without a <title>: {sorted(missing)[:5]}"
        tooltips = " ".join(a.get("{http://www.w3.org/1999/xlink}title") or "" for a in root.iter(f"{SVG_NS}a"))
        for node in list(view.nodes.values())[:20]:
            if node.kind == "op":
                assert f"{node.name} ({node.type})" in tooltips, (model, node.name)
        path = tmp_path / f"model_{len(svgs)}.svg"
        path.write_bytes(svg)
        svgs.append((model, path))

    chromium = _chromium()
    if chromium is None:
        message = ("Chromium is not installed, so the SVGs were not opened in a browser: run ./dev.sh test "
                   "(it installs Chromium) or apt-get install chromium")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # One page, one browser start: each SVG as an image in its own cell of a grid.
    cell, cols = 300, 4
    rows_n = (len(svgs) + cols - 1) // cols
    cells = "".join(f'<div style="position:absolute;left:{(i % cols) * cell}px;top:{(i // cols) * cell}px;'
                    f'width:{cell - 10}px;height:{cell - 10}px"><img src="{p.name}" '
                    f'style="max-width:100%;max-height:100%"></div>' for i, (_, p) in enumerate(svgs))
    page = tmp_path / "page.html"
    page.write_text(f"<!doctype html><html><body style='margin:0;background:white'>{cells}</body></html>")
    shot = tmp_path / "shot.png"
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", f"--screenshot={shot}", f"--window-size={cols * cell},{rows_n * cell}",
            "--hide-scrollbars", page.as_uri()]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert shot.exists(), out.stderr[-2000:]
    width, height, bpp, rows = _png_pixels(shot.read_bytes())
    assert (width, height) == (cols * cell, rows_n * cell)
    for i, (model, _) in enumerate(svgs):
        x0, y0 = (i % cols) * cell, (i // cols) * cell
        ink = _ink(rows, bpp, x0, y0, x0 + cell - 10, y0 + cell - 10)
        # A drawn graph leaves ink (nodes, edges, text); a broken image leaves a small icon at most.
        assert ink > 400, f"{model}: the browser drew almost nothing ({ink} dark pixels)"
    blank = _ink(rows, bpp, 0, 0, width, height) - sum(
        _ink(rows, bpp, (i % cols) * cell, (i // cols) * cell, (i % cols) * cell + cell - 10,
             (i // cols) * cell + cell - 10) for i in range(len(svgs)))
    assert blank == 0  # nothing drawn outside the cells: the screenshot is the page we made


@needs_dot
def test_notebook_repr_is_svg(fixture_graph):
    bundle = fixture_graph._repr_mimebundle_()
    root = ET.fromstring(bundle["image/svg+xml"])
    assert root.tag == f"{SVG_NS}svg"
    assert "hidden1/" in {t.text for t in root.iter(f"{SVG_NS}text")}
    assert fixture_graph._repr_svg_() == bundle["image/svg+xml"]


@needs_dot
def test_cli_writes_each_format(fixture_graph, tmp_path):
    exe = Path(sys.executable).parent / "graphsurgeon"
    for fmt, magic in (("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF"), ("dot", b"digraph")):
        out = tmp_path / f"g.{fmt}"
        result = subprocess.run([str(exe), "render", str(TF1), "-o", str(out), "--rankdir", "LR"],
                                capture_output=True, env=ENV, timeout=120)
        assert result.returncode == 0, result.stderr
        assert out.read_bytes().startswith(magic)
    result = subprocess.run([str(exe), "render", str(TF1), "-o", str(tmp_path / "x.svg"), "--depth", "0",
                             "--training"], capture_output=True, text=True, env=ENV, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and "--depth" in result.stderr
    assert "--max-nodes 500" in result.stderr and len(result.stderr.splitlines()) == 1


# ---------------------------------------------------------------------------- too big: grouped, not refused
def _layers_graph(n: int = 500, scope: str = "") -> gs.Graph:
    """X -> layer0 -> ... -> layer{n-1} -> out -> probabilities, argmax; each layer a MatMul and a Relu.

    At depth 1 (with ``scope`` empty) that is n boxes and 5 ops: 505 nodes for n = 500.
    """
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    x = gd.node.add(name="X", op="Placeholder")
    x.attr["dtype"].type = 1
    prev = "X"
    for i in range(n):
        p = f"{scope}layer{i}"
        w = gd.node.add(name=f"{p}/w", op="Const")
        w.attr["dtype"].type = 1
        gd.node.add(name=f"{p}/MatMul", op="MatMul", input=[prev, f"{p}/w"]).attr["T"].type = 1
        gd.node.add(name=f"{p}/Relu", op="Relu", input=[f"{p}/MatMul"]).attr["T"].type = 1
        prev = f"{p}/Relu"
    gd.node.add(name="out", op="Identity", input=[prev]).attr["T"].type = 1
    gd.node.add(name="probabilities", op="Softmax", input=["out"]).attr["T"].type = 1
    gd.node.add(name="k", op="Const").attr["dtype"].type = 3
    gd.node.add(name="argmax", op="ArgMax", input=["out", "k"]).attr["T"].type = 1
    return gs.Graph(gd)


def test_numbered_siblings_are_grouped_instead_of_refused(tmp_path):
    g = _layers_graph(500)
    view = rendering.view(g)
    assert view.depth == 1
    assert set(view.nodes) == {"X", "out", "probabilities", "argmax", "layer0…layer499 ×500"}
    assert view.nodes["argmax"].parameters == [("k", "?")]  # the constant argmax alone reads
    group = view.nodes["layer0…layer499 ×500"]
    assert group.kind == "group" and group.name == "layer0…layer499 ×500"
    assert group.members == [f"layer{i}/" for i in range(500)]  # in number order, not layer0, layer1, layer10
    assert sorted(group.ops) == sorted(op.name for op in g if op.name.startswith("layer"))
    assert view.auto_collapsed == ["500 sibling scopes as 'layer0…layer499 ×500'"]
    edges = {(e.src, e.dst) for e in view.edges}
    assert edges == {("X", group.id), (group.id, "out"), ("out", "probabilities"), ("out", "argmax")}
    assert "siblings drawn together" in rendering.to_digraph(view).source  # the legend says what a group is
    # The command line draws it and says what it grouped; an explicit --depth is the user's and may refuse.
    model = tmp_path / "layers.pb"
    model.write_bytes(g.graph_def.SerializeToString())
    exe = Path(sys.executable).parent / "graphsurgeon"
    run = subprocess.run([str(exe), "render", str(model), "-o", str(tmp_path / "l.dot")], capture_output=True,
                         text=True, env=ENV, timeout=120)
    assert run.returncode == 0, run.stderr
    note = run.stderr.strip()
    assert note.startswith("note: grouped siblings to draw 5 nodes instead of 504") and len(note.splitlines()) == 1
    assert "layer0…layer499 ×500" in note and "--depth" in note and "--scope" in note
    run = subprocess.run([str(exe), "render", str(model), "-o", str(tmp_path / "l.dot"), "--depth", "1"],
                         capture_output=True, text=True, env=ENV, timeout=120)
    assert run.returncode == 2 and run.stderr.startswith("error: 504 nodes") and "--max-nodes 500" in run.stderr
    assert len(run.stderr.splitlines()) == 1
    assert len(rendering.view(g, depth=1, max_nodes=600).nodes) == 504


def test_numbered_siblings_inside_a_scope_are_grouped_one_level_down():
    # model/ alone says nothing; model/layerN are 500: the view goes one level down and groups them.
    view = rendering.view(_layers_graph(500, scope="model/"))
    assert view.depth == 2
    group = view.nodes["model/layer0…layer499 ×500"]
    assert group.clusters == ("model",) and view.clusters["model"]["ops"] == 1500
    assert len(view.nodes) == 5  # X, the group, out, probabilities, argmax (drawing k inside)


def _keras_resnet_graph(blocks: int = 264, shape: tuple | None = None) -> gs.Graph:
    """The names Keras gives a residual CNN (bench/synthetic_keras.py) in one scope: ``resnet/block{N}_conv1``.

    stem_conv -> stem_bn -> stem_relu, then ``blocks`` blocks of conv1, bn1, relu1, conv2, bn2, add (with
    the block's input) and out, then pool and logits: 7 layer scopes per block, the number in the middle.
    ``shape``: recorded as every layer op's ``_output_shapes`` (as TensorFlow records it with
    ``add_shapes=True``); our inference cannot work it out (the weights hold no value).
    """
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    image = gd.node.add(name="image", op="Placeholder")
    image.attr["dtype"].type = 1
    if shape is not None:
        image.attr["shape"].shape.dim.add(size=-1)
        for size in (32, 32, 3):
            image.attr["shape"].shape.dim.add(size=size)

    def layer(scope, op, inputs, weights=1):
        for i in range(weights):
            gd.node.add(name=f"resnet/{scope}/w{i}", op="Const").attr["dtype"].type = 1
        node = gd.node.add(name=f"resnet/{scope}/{op}", op=op,
                           input=inputs + [f"resnet/{scope}/w{i}" for i in range(weights)])
        node.attr["T"].type = 1
        if shape is not None:  # FusedBatchNormV3: y, then 5 statistics of one number per channel
            for sizes in [shape] + [shape[-1:]] * (5 if op == "FusedBatchNormV3" else 0):
                recorded = node.attr["_output_shapes"].list.shape.add()
                for size in sizes:
                    recorded.dim.add(size=size)
        return node.name

    x = layer("stem_relu", "Relu", [layer("stem_bn", "FusedBatchNormV3", [layer("stem_conv", "Conv2D", ["image"])], 4)],
              0)
    for b in range(blocks):
        y = layer(f"block{b}_conv1", "Conv2D", [x])
        y = layer(f"block{b}_relu1", "Relu", [layer(f"block{b}_bn1", "FusedBatchNormV3", [y], 4)], 0)
        y = layer(f"block{b}_bn2", "FusedBatchNormV3", [layer(f"block{b}_conv2", "Conv2D", [y])], 4)
        x = layer(f"block{b}_out", "Relu", [layer(f"block{b}_add", "AddV2", [x, y], 0)], 0)
    logits = layer("logits", "MatMul", [layer("pool", "Mean", [x])])
    gd.node.add(name="Identity", op="Identity", input=[logits]).attr["T"].type = 1
    return gs.Graph(gd)


def test_a_keras_network_scope_opens_into_its_layers_grouped_by_name_shape():
    """``resnet/`` holds 1,853 layer scopes named ``block{N}_conv1``: the first picture shows the layers of a block.

    Before, the number in the middle made no run (``block12_conv1`` and ``block12_conv2`` were the run
    ``block12_conv``), 1,853 scopes could not fit, and the picture was one ``resnet/`` box.
    """
    blocks = 264
    g = _keras_resnet_graph(blocks)
    view = rendering.view(g)
    assert "resnet" in view.clusters  # opened
    kinds = ["conv1", "bn1", "relu1", "conv2", "bn2", "add", "out"]
    group_of = {k: f"resnet/block0_{k}…block{blocks - 1}_{k} ×{blocks}" for k in kinds}
    groups = {k for k, n in view.nodes.items() if n.kind == "group"}
    assert groups == set(group_of.values())
    for kind, key in group_of.items():
        assert view.nodes[key].members == [f"resnet/block{b}_{kind}/" for b in range(blocks)]  # by number
    # The stem, pool and logits are layers of their own; every op is drawn exactly once.
    assert {"resnet/stem_conv/Conv2D", "resnet/stem_relu/Relu", "resnet/logits/MatMul"} <= set(view.nodes)
    assert len(view.nodes) <= 16
    drawn = [m for n in view.nodes.values() for m in n.ops]
    assert sorted(drawn) == sorted(g.node_defs)
    # The block reads as a block: conv1 -> bn1 -> relu1 -> conv2 -> bn2 -> add -> out, out feeding the next
    # block's conv1 and add, the stem feeding the first block's.
    edges = {(e.src, e.dst) for e in view.edges}
    chain = [group_of[k] for k in kinds]
    assert set(zip(chain, chain[1:])) <= edges
    assert {(group_of["out"], group_of["conv1"]), (group_of["out"], group_of["add"]),
            ("resnet/stem_relu/Relu", group_of["conv1"]), ("resnet/stem_relu/Relu", group_of["add"]),
            (group_of["out"], "resnet/pool/Mean")} <= edges


def test_edges_show_recorded_shapes_and_merged_edges_of_one_type_say_it():
    """A frozen graph's edges read ``float32 ?`` only while the shape is unknown: a recorded one is drawn.

    Groups of siblings join each other by hundreds of tensors: when they are all of one type and shape
    the merged edge says so (``264 × float32 [?, 32, 32, 16]``), else it counts them.
    """
    blocks = 264  # too many layers to draw: grouped by name shape
    unknown = rendering.view(_keras_resnet_graph(blocks))
    known = rendering.view(_keras_resnet_graph(blocks, shape=(-1, 32, 32, 16)))
    assert len(known.edges) == len(unknown.edges) > 10
    stem = "resnet/stem_conv/Conv2D"
    by = {(e.src, e.dst): e for e in known.edges}
    before = {(e.src, e.dst): e for e in unknown.edges}
    # One tensor: its type and shape (the Conv2D's weights hold no value: nothing to infer without the record).
    single = by[(stem, "resnet/stem_bn/FusedBatchNormV3")]
    assert single.tensors == [f"{stem}:0"] and single.label == "float32 [?, 32, 32, 16]"
    assert before[(stem, "resnet/stem_bn/FusedBatchNormV3")].label == "float32 ?"
    # Between two groups: every block's tensor, all alike.
    group = {k: f"resnet/block0_{k}…block{blocks - 1}_{k} ×{blocks}" for k in ("conv1", "bn1", "out", "add")}
    merged = by[(group["conv1"], group["bn1"])]
    assert sorted(merged.tensors) == sorted(f"resnet/block{b}_conv1/Conv2D:0" for b in range(blocks))
    assert merged.label == f"{blocks} × float32 [?, 32, 32, 16]"
    assert before[(group["conv1"], group["bn1"])].label == f"{blocks} × float32 ?"
    # Of two shapes: counted. The out group feeds the next block's add with 263 tensors (the stem the first).
    g = _keras_resnet_graph(blocks, shape=(-1, 32, 32, 16))
    g.node_defs["resnet/block3_out/Relu"].attr["_output_shapes"].list.shape[0].dim[3].size = 8
    mixed = {(e.src, e.dst): e for e in rendering.view(g).edges}[(group["out"], group["add"])]
    assert len(mixed.tensors) == blocks - 1 and mixed.label == f"{blocks - 1} tensors"
    # The labels reach the DOT.
    source = rendering.to_digraph(known).source
    assert f'label="{blocks} × float32 [?, 32, 32, 16]"' in source
    assert not [e.label for e in known.edges if "?" in e.label.replace("[?", "")]
    assert any("float32 ?" in e.label for e in unknown.edges)


def test_runs_vary_the_number_that_varies_most():
    from graphsurgeon.rendering.group import Sibling, fit, runs

    def keys(leaves):
        found = runs([Sibling(leaf, "", leaf, "scope") for leaf in leaves])
        return {stem: sorted(s.leaf for s in members) for (_, _, stem), members in found.items()}

    assert keys(["block0_conv1", "block0_conv2", "block1_conv1", "block1_conv2", "block2_conv1"]) == {
        "block{N}_conv1": ["block0_conv1", "block1_conv1", "block2_conv1"],
        "block{N}_conv2": ["block0_conv2", "block1_conv2"]}
    # A trailing number: TensorFlow's dense, dense_1, dense_2 (the bare name joins), layer0, layer1.
    assert keys(["dense", "dense_1", "dense_2", "layer0", "layer10"]) == {
        "dense": ["dense", "dense_1", "dense_2"], "layer": ["layer0", "layer10"]}
    # keras.applications' ResNet50: stage, block, layer in the block: the block number varies most.
    stages = {2: 3, 3: 4, 4: 6, 5: 3}
    layers = ["1_conv", "1_bn", "1_relu", "2_conv", "2_bn", "2_relu", "3_conv", "3_bn", "add", "out"]
    leaves = ["input_1", "conv1_conv", "conv1_bn", "pool1_pool", "avg_pool", "predictions"] + [
        f"conv{s}_block{b}_{k}" for s, n in stages.items() for b in range(1, n + 1) for k in layers]
    found = keys(leaves)
    assert found["conv4_block{N}_2_conv"] == [f"conv4_block{b}_2_conv" for b in range(1, 7)]
    # 166 siblings into 150: the longest runs (conv4's, 6 blocks) are grouped, and then every run of
    # that length in the scope: all of conv4's layers, never some of them as groups and the rest as layers.
    groups = fit([Sibling(leaf, "", leaf, "scope") for leaf in leaves], 150, numbered_only=True)
    assert sorted(grp.label for grp in groups) == sorted(f"conv4_block1_{k}…conv4_block6_{k} ×6" for k in layers)


def test_unrelated_siblings_fall_back_to_ranges():
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    x = gd.node.add(name="X", op="Placeholder")
    x.attr["dtype"].type = 1
    letters = "abcdefghijklmnopqrstuvwxyz"
    names = [a + b + c for a in letters[:6] for b in letters for c in letters[:4]][:600]  # no numbers: no runs
    for name in names:
        gd.node.add(name=name, op="Identity", input=["X"]).attr["T"].type = 1
    g = gs.Graph(gd)
    view = rendering.view(g)
    assert len(view.nodes) <= rendering.TARGET_NODES
    drawn = [m for n in view.nodes.values() for m in n.ops]
    assert sorted(drawn) == sorted(names + ["X"])  # every op in exactly one node
    groups = [n for n in view.nodes.values() if n.kind == "group"]
    assert groups and view.auto_collapsed
    for node in groups:
        first, _, rest = node.name.partition("…")
        last, _, count = rest.partition(" ×")
        assert first == min(node.ops) and last == max(node.ops) and int(count) == len(node.ops)


@needs_dot
def test_grouped_ranges_stay_few_enough_edges_to_lay_out():
    """Ranges of unrelated names in a chain join every range to every other: fewer ranges, then."""
    import random

    from graphsurgeon.vocab import protos

    rng = random.Random(0)
    gd = protos.GraphDef()
    gd.node.add(name="X", op="Placeholder").attr["dtype"].type = 1
    prev = "X"
    for _ in range(3000):
        name = "".join(rng.choice("abcdefghij") for _ in range(8)) + "x"
        gd.node.add(name=name, op="Identity", input=[prev]).attr["T"].type = 1
        prev = name
    view = rendering.view(gs.Graph(gd))
    pairs = {(e.src, e.dst) for e in view.edges}
    assert len(pairs) <= 200 and sum(len(n.ops) for n in view.nodes.values()) == 3001
    start = time.perf_counter()
    rendering.run_dot(rendering.to_digraph(view).source, "svg")
    assert time.perf_counter() - start < 10


# ---------------------------------------------------------------------------- frozen layers
def test_frozen_layers_are_marked():
    g = _load_fixture()
    assert not rendering.view(g).marks_frozen  # every layer trainable: no marks
    assert "frozen" not in rendering.to_digraph(rendering.view(g)).source
    g.remove_from_collection("trainable_variables", "hidden1/kernel", "hidden1/bias")
    g.remove_from_collection("trainable_variables", "batch_normalization/gamma", "batch_normalization/beta")
    assert [v.name for v in variables(g) if v.trainable is False and
            not v.name.endswith(("moving_mean", "moving_variance"))] == [
        "hidden1/kernel", "hidden1/bias", "batch_normalization/gamma", "batch_normalization/beta"]
    view = rendering.view(g)
    assert view.marks_frozen
    marks = {k: n.trainable for k, n in view.nodes.items() if n.trainable}
    # Batch normalisation's moving statistics are never trainable: its layer is frozen only with gamma and beta.
    assert marks == {"hidden1/": "frozen", "batch_normalization/": "frozen", "hidden2/": "trainable",
                     "batch_normalization_1/": "trainable", "outputs/": "trainable",
                     "batch_normalization_2/": "trainable"}
    dot = rendering.to_digraph(view)
    ids = rendering.node_ids(view)
    statement = re.search(rf"\t{ids['hidden1/']} \[(.*?)\]\n", dot.source, re.S).group(1)
    assert "peripheries=2" in statement and 'label="hidden1/\n6 ops · 235,500 params\nfrozen"' in statement
    assert "frozen: no variable in trainable_variables" in dot.source  # the legend
    # Expanded, the frames say it too, and a box holding both kinds is partly frozen.
    view = rendering.view(g, expand=["hidden1", "hidden2"])
    assert view.clusters["hidden1"]["trainable"] == "frozen" and view.clusters["hidden2"]["trainable"] == "trainable"
    assert view.nodes["hidden1/MatMul"].trainable == "frozen"  # drawing its kernel inside
    assert rendering.view(g, expand=["hidden1"], weights_as_nodes=True).nodes["hidden1/kernel/"].trainable == "frozen"
    # Squeezed into 5 nodes, hidden1 (frozen) and hidden2 (trainable) share a group: partly frozen.
    squeezed = rendering.view(g, max_nodes=5)
    both = next(n for n in squeezed.nodes.values() if "hidden1/MatMul" in n.ops)
    assert both.kind == "group" and "hidden2/MatMul" in both.ops and both.trainable == "partly frozen"


@needs_dot
def test_freeze_layers_output_shows_frozen_layers(tmp_path):
    """The real thing: graphsurgeon freeze-layers (TensorFlow), then render (no TensorFlow)."""
    out = tmp_path / "frozen"
    run = subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", "freeze-layers", str(TF1.parent), "hidden1",
                          "-o", str(out)], capture_output=True, text=True, env=ENV, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    view = rendering.view(gs.load(out))
    assert view.nodes["hidden1/"].trainable == "frozen" and view.nodes["batch_normalization/"].trainable == "frozen"
    assert view.nodes["hidden2/"].trainable == "trainable"
    run = subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", "render", str(out), "-o",
                          str(tmp_path / "f.svg")], capture_output=True, text=True, env=ENV, timeout=120)
    assert run.returncode == 0, run.stderr
    texts = [t.text for t in ET.parse(tmp_path / "f.svg").getroot().iter(f"{SVG_NS}text")]
    assert texts.count("frozen") == 2 and "frozen: no variable in trainable_variables" in texts


# ---------------------------------------------------------------------------- TF2: the serving function
def test_tf2_savedmodel_draws_its_serving_function(tmp_path):
    path = FIXTURES / "mnist_bn_elu_savedmodel_tf2"
    g = _load_fixture(path)
    # By hand: serving_default's outputs come from StatefulPartitionedCall, which calls the
    # signature wrapper, whose only call is __inference_serve_129: the network.
    assert g.op("StatefulPartitionedCall").calls == [("f", "__inference_signature_wrapper_serve_173")]
    assert [op.calls for op in g.function("__inference_signature_wrapper_serve_173") if op.calls] == [
        [("f", "__inference_serve_129")]]
    view = rendering.view(g)
    assert view.function == "__inference_serve_129"
    assert view.title.startswith("function __inference_serve_129 (signature serving_default)\n")
    assert "__inference_serve_129" in view.notes[0] and "--top-level" in view.notes[0]
    body = g.function("__inference_serve_129")
    assert sum(len(n.ops) for n in view.nodes.values()) == len(body)
    assert {"MatMul", "batchnorm/", "Elu", "Elu_1", "probabilities"} <= set(view.nodes)
    # Captured variables are variables drawn inside the op reading them, the image is the input.
    assert view.nodes["x"].category == "input"
    assert view.nodes["MatMul"].parameters == [("matmul_readvariableop_resource", "784×300")]
    assert rendering.view(g, weights_as_nodes=True).nodes["matmul_readvariableop_resource"].category == "variable"
    top = rendering.view(g, top_level=True)
    assert top.function is None and "StatefulPartitionedCall" in top.nodes and not top.notes
    wrapper = rendering.view(g, function="__inference_signature_wrapper_serve_173")
    assert wrapper.function == "__inference_signature_wrapper_serve_173" and not wrapper.notes
    with pytest.raises(UsageError):
        rendering.view(g, function="__inference_serve_129", top_level=True)
    # TF1 models have no serving function: the top level is the network.
    assert rendering.view(_load_fixture(FIXTURES / "mnist_bn_elu_savedmodel_tf1")).function is None
    assert rendering.serving_function(_load_fixture()) is None
    exe = Path(sys.executable).parent / "graphsurgeon"
    for args, expected in (([], "__inference_serve_129"), (["--top-level"], None)):
        run = subprocess.run([str(exe), "render", str(path), "-o", str(tmp_path / "t.dot"), *args],
                             capture_output=True, text=True, env=ENV, timeout=120)
        assert run.returncode == 0, run.stderr
        if expected:
            assert run.stderr.startswith(f"note: drew function {expected!r}, which signature 'serving_default'")
        else:
            assert run.stderr == ""


# ---------------------------------------------------------------------------- the command line
def test_output_is_replaced_but_never_the_model(tmp_path):
    exe = Path(sys.executable).parent / "graphsurgeon"
    out = tmp_path / "fixture.dot"
    out.write_text("an older picture")
    for extra in ([], ["--force"]):  # --force is still accepted, and changes nothing
        run = subprocess.run([str(exe), "render", str(TF1), "-o", str(out), *extra], capture_output=True, text=True,
                             env=ENV, timeout=120)
        assert run.returncode == 0, run.stderr
        assert out.read_text().startswith("digraph")
    # Writing the picture over the model is refused, whatever name it is given.
    model = tmp_path / "model.pb"
    model.write_bytes(_layers_graph(3).graph_def.SerializeToString())
    before = model.read_bytes()
    link = tmp_path / "link.pb"
    link.symlink_to(model)
    for target in (model, link):
        run = subprocess.run([str(exe), "render", str(model), "-o", str(target), "--format", "dot"],
                             capture_output=True, text=True, env=ENV, timeout=120)
        assert run.returncode == 1 and run.stderr.startswith("error: ") and "model being drawn" in run.stderr
        assert len(run.stderr.splitlines()) == 1
    assert model.read_bytes() == before


def test_help_points_big_graphs_at_depth_and_scope():
    exe = Path(sys.executable).parent / "graphsurgeon"
    run = subprocess.run([str(exe), "render", "--help"], capture_output=True, text=True, env=ENV, timeout=60)
    assert run.returncode == 0
    text = " ".join(run.stdout.split())
    assert "For a big graph, draw one part: --scope SCOPE, --between IN OUT, or a smaller --depth" in text
    for option in ("--training / --no-training", "--top-level", "--function NAME", "--max-nodes"):
        assert option in text
    assert "--force" not in text  # accepted, no longer documented: -o replaces
