"""``graphsurgeon explore``: the drill-down site, checked file by file and in a real browser.

Facts come from ``ls --json`` and ``show --json`` (every op of a model is
drawn as itself in exactly one view, and a click shows what ``show``
prints), from ``render``'s own view (the first view is the default
picture), and from headless Chromium driven over the DevTools pipe
(tests/cdp.py): the page loads from ``file://`` without a console error,
boxes open, the search box finds ops in function bodies and deep in a
60,000-op graph, and names holding markup stay text.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import cdp
import pytest
from _support import FIXTURES, as_in_a_terminal, corpus_models, fixture_model, fixture_models

import graphsurgeon as gs
from graphsurgeon import rendering
from graphsurgeon.rendering import explore, site
from graphsurgeon.rendering.explore import view_id

ROOT = Path(__file__).resolve().parent.parent
EXE = Path(sys.executable).parent / "graphsurgeon"
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
SVG = "{http://www.w3.org/2000/svg}"
TF1 = FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt.meta"
TF2 = FIXTURES / "mnist_bn_elu_savedmodel_tf2"

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing (./dev.sh setup)")


def needs_browser():
    if cdp.chromium() is None:
        message = "Chromium is not installed: ./dev.sh test installs it (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


# ---------------------------------------------------------------------------- reading a site
def read_views(directory: Path) -> dict[str, dict]:
    views = {}
    for path in (directory / "views").glob("*.js"):
        function, (vid, record) = site.read_data(path)
        assert function == "view" and vid == record["id"] == path.stem
        views[vid] = record
    return views


def drawn(views: dict[str, dict]) -> dict[int, Counter]:
    """Per graph index: how many times each op is drawn as itself (op nodes, with what they stand for)."""
    out: dict[int, Counter] = {}
    for record in views.values():
        for entry in record["nodes"].values():
            if entry["k"] == "op":
                out.setdefault(record["graph"], Counter()).update(entry.get("ops", [entry["op"]]))
    return out


def ls_names(model: Path) -> dict[str | None, set[str]]:
    """``ls --json --functions``: op names per function (None: the top level)."""
    run = subprocess.run([str(EXE), "ls", str(model), "--json", "--functions"], capture_output=True, text=True,
                         env=ENV, timeout=300)
    assert run.returncode == 0, run.stderr
    out: dict[str | None, set[str]] = {}
    for op in json.loads(run.stdout)["ops"]:
        out.setdefault(op["function"], set()).add(op["name"])
    return out


def show_json(model: Path, name: str, function: str | None = None) -> dict:
    args = [str(EXE), "show", str(model), name, "--json"] + (["--function", function] if function else [])
    run = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def explore_to(g, directory: Path, **options) -> explore.Summary:
    shutil.rmtree(directory, ignore_errors=True)
    return explore.explore(g, directory, **options)


def _graph_names(directory: Path) -> list[str | None]:
    function, (info,) = site.read_data(directory / "site.js")
    assert function == "site"
    return [g["name"] for g in info["graphs"]]


# ---------------------------------------------------------------------------- every op, once
@needs_dot
@pytest.mark.parametrize("model", fixture_models() + corpus_models(), ids=lambda p: p.parent.name + "/" + p.name)
def test_every_op_is_drawn_as_itself_in_exactly_one_view(model, tmp_path):
    g = gs.load(model)
    summary = explore_to(g, tmp_path / "site", jobs=2)
    views = read_views(tmp_path / "site")
    assert summary.views == len(views) and summary.skipped == 0
    names = _graph_names(tmp_path / "site")
    expected = ls_names(model)
    counts = drawn(views)
    # The union of ops over all views is what ls lists, top level and function bodies alike.
    assert {names[i]: set(c) for i, c in counts.items()} == {f: ops for f, ops in expected.items()
                                                            if f in names}
    assert set(names) == set(expected) | ({None} if None not in expected else set())
    assert all(n == 1 for c in counts.values() for n in c.values()), "an op drawn in two views"

    # Each box opens a view of exactly its ops (its subtree draws as many as it counts), and
    # every node of a view has its <title> in the view's SVG.
    below: dict[str, int] = {}
    for vid in sorted(views, key=lambda v: -len(views[v]["path"])):  # children (longer paths) first
        record = views[vid]
        total = 0
        for dot_id, entry in record["nodes"].items():
            if entry["k"] == "op":
                total += len(entry.get("ops", [entry["op"]]))
            elif entry["k"] in ("scope", "group"):
                child = views[entry["view"]]
                assert child["path"].rpartition(".")[0] == record["path"]
                assert below[entry["view"]] == entry["ops"], (vid, entry["name"])
                total += entry["ops"]
        below[vid] = total
        titles = {t.text for t in ET.fromstring(record["svg"]).iter(f"{SVG}title")}
        assert set(record["nodes"]) <= titles, vid


@needs_dot
def test_the_first_view_is_what_render_draws(tmp_path):
    for model in (TF1, TF2):
        g = gs.load(fixture_model(model))
        summary = explore_to(g, tmp_path / "site", jobs=1)
        home = read_views(tmp_path / "site")[summary.home]
        picture = rendering.view(g)
        ids = rendering.node_ids(picture)
        names = {ids[k]: n.name for k, n in picture.nodes.items()}
        assert {k: e.get("op", e.get("name")) for k, e in home["nodes"].items()} == names
        assert home["title"].split("\n")[1] == picture.title.split("\n")[1]
        if model == TF2:  # a TF2 SavedModel starts at the function its serving signature runs
            assert _graph_names(tmp_path / "site")[home["graph"]] == "__inference_serve_129"


@needs_dot
def test_training_machinery_gets_its_own_views_or_joins_the_network(tmp_path):
    g = gs.load(fixture_model(TF1))
    explore_to(g, tmp_path / "a", jobs=1)
    views = read_views(tmp_path / "a")
    machinery = rendering.training_machinery(g)
    for record in views.values():
        ops = {m for e in record["nodes"].values() if e["k"] == "op" for m in e.get("ops", [e["op"]])}
        if record["part"] == "0-1":
            assert ops <= machinery
        else:
            assert not ops & machinery
    assert views["0-1"]["crumbs"] == [["0-1", "top-level graph: training machinery"]]
    # Edges from the network into the machinery's views are stubs naming the network's ops.
    stubs = [e for e in views["0-1"]["nodes"].values() if e["k"] == "stub"]
    assert stubs and all(not set(s["ops"]) & machinery for s in stubs)
    explore_to(g, tmp_path / "b", jobs=1, training=True)
    views = read_views(tmp_path / "b")
    assert {r["part"] for r in views.values()} == {"0-0"}
    assert {k: e.get("op", e.get("name")) for k, e in views["0-0"]["nodes"].items()} == {
        rendering.node_ids(v)[k]: n.name for v in [rendering.view(g, training=True)] for k, n in v.nodes.items()}


@needs_dot
def test_a_scope_view_has_stubs_naming_what_its_edges_lead_to(tmp_path):
    g = gs.load(fixture_model(TF1))
    explore_to(g, tmp_path / "site", jobs=1)
    views = read_views(tmp_path / "site")
    home = views["0-0"]
    box = next(e for e in home["nodes"].values() if e.get("name") == "hidden2")
    view = views[box["view"]]
    stubs = {e["dir"]: e for e in view["nodes"].values() if e["k"] == "stub"}
    # hidden2/MatMul reads Elu; hidden2/BiasAdd feeds the second batch normalisation (its two scopes).
    assert stubs["in"]["ops"] == ["Elu"] and stubs["in"]["name"] == "Elu"
    out = [e for e in view["nodes"].values() if e["k"] == "stub" and e["dir"] == "out"]
    assert {op for e in out for op in e["ops"]} == {
        c for op in g.ops("hidden2/**") for t in op.outputs for c in map(lambda o: o.name, t.consumers)
        if not c.startswith("hidden2/") and c not in rendering.training_machinery(g)}
    assert "from Elu" in view["svg"]
    assert "<title>legend</title>" not in view["svg"]  # the page draws the legend beside the picture


@needs_dot
def test_a_group_of_hundreds_of_siblings_opens_into_runs_of_a_hundred(tmp_path):
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    gd.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
    prev = "x"
    for i in range(640):  # more than render draws ungrouped (500)
        for leaf in ("MatMul", "Relu"):
            node = gd.node.add(name=f"layer{i}/{leaf}", op=leaf, input=[prev])
            node.attr["T"].type = 1
            prev = node.name
    g = gs.Graph(gd)
    explore_to(g, tmp_path / "site", jobs=1)
    views = read_views(tmp_path / "site")
    group = next(e for e in views["0-0"]["nodes"].values() if e["k"] == "group")
    assert group["name"] == "layer0…layer639 ×640"
    runs = [e["name"] for e in views[group["view"]]["nodes"].values() if e["k"] == "group"]
    assert runs == [f"layer{i}…layer{i + 99} ×100" for i in range(0, 600, 100)] + ["layer600…layer639 ×40"]
    first = views[next(e["view"] for e in views[group["view"]]["nodes"].values() if e["k"] == "group")]
    assert sorted(e["name"] for e in first["nodes"].values() if e["k"] == "scope") == sorted(
        f"layer{i}" for i in range(100))


@needs_dot
def test_one_worker_and_two_give_the_same_site(tmp_path):
    g = gs.load(fixture_model(TF2))
    explore_to(g, tmp_path / "one", jobs=1)
    explore_to(g, tmp_path / "two", jobs=2)
    one, two = read_views(tmp_path / "one"), read_views(tmp_path / "two")
    assert set(one) == set(two)
    for vid in one:
        assert one[vid] == two[vid], vid
    assert (tmp_path / "one" / "search.js").read_bytes() == (tmp_path / "two" / "search.js").read_bytes()


@needs_dot
def test_depth_lays_out_the_top_views_and_leaves_boxes_closed(tmp_path):
    g = gs.load(fixture_model(TF1))
    summary = explore_to(g, tmp_path / "site", jobs=1, depth=1)
    views = read_views(tmp_path / "site")
    assert set(views) == {"0-0", "0-1"} and summary.skipped > 0
    closed = [e for r in views.values() for e in r["nodes"].values() if e["k"] in ("scope", "group")]
    assert closed and all(e["closed"] == e["view"] for e in closed)  # short paths are their own ids
    # The search index sends ops inside closed boxes to the box.
    function, (index,) = site.read_data(tmp_path / "site" / "search.js")
    graph = index["graphs"][0]
    names, previous = [], ""
    for shared, rest in zip(graph["p"], graph["s"]):
        previous = previous[:shared] + rest
        names.append(previous)
    assert names == sorted(g.node_defs)
    at = names.index("hidden1/MatMul")
    assert index["views"][graph["v"][at]] == "0-0"
    box = views["0-0"]["nodes"][f"n{graph['n'][at]}"]
    assert box["k"] == "scope" and box["name"] == "hidden1"


def test_view_ids_stay_short():
    assert view_id("0-0.3.17") == "0-0.3.17"
    deep = "0-0" + ".0" * 300
    assert view_id(deep).startswith("h") and len(view_id(deep)) == 21 and view_id(deep) != view_id(deep + ".1")


# ---------------------------------------------------------------------------- the command line
@needs_dot
def test_cli_writes_replaces_and_refuses(tmp_path):
    out = tmp_path / "site"
    run = subprocess.run([str(EXE), "explore", str(TF1), "-o", str(out)], capture_output=True, text=True, env=ENV,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"wrote {out}: ") and "open " in run.stdout and run.stderr == ""  # no tty: quiet
    assert json.loads((out / site.MARKER).read_text())["tool"] == "graphsurgeon explore"
    stale = out / "views" / "stale.js"
    stale.write_text("// from an older export")
    run = subprocess.run([str(EXE), "explore", str(TF1), "-o", str(out), "--depth", "1"], capture_output=True,
                         text=True, env=ENV, timeout=300)
    assert run.returncode == 0, run.stderr
    assert not stale.exists() and len(list((out / "views").glob("*.js"))) == 2  # replaced as a whole
    assert "left closed below --depth 1" in run.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left beside it

    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    file = tmp_path / "file"
    file.write_text("keep me too")
    for target, message in ((other, "holds files explore did not write (notes.txt)"), (file, "is not a directory"),
                            (TF2, "holds files explore did not write")):
        run = subprocess.run([str(EXE), "explore", str(TF1), "-o", str(target)], capture_output=True, text=True,
                             env=ENV, timeout=120)
        assert run.returncode == 1 and run.stderr.startswith("error: ") and message in run.stderr, run.stderr
        assert len(run.stderr.splitlines()) == 1
    assert (other / "notes.txt").read_text() == "keep me" and file.read_text() == "keep me too"
    assert sorted(p.name for p in other.iterdir()) == ["notes.txt"]


def _processes() -> dict[int, tuple[int, str, str]]:
    """Every process: pid -> (parent pid, start time, state), from /proc."""
    out = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
            out[int(entry.name)] = (int(fields[1]), fields[19], fields[0])
    return out


def _descendants(root: int, table) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "parent-killed", "parent-killed-without-setpriv"])
def test_killing_explore_leaves_no_dot_running(how, tmp_path):
    """Ctrl-C (SIGINT to the whole process group, workers ignoring it), a ``timeout`` (SIGTERM) or the
    parent killed outright: every worker and every ``dot`` they started goes with explore.

    ``dot`` here is a stand-in that never finishes (a layout that would run for 32 minutes):
    one orphan of it would stay for ten. Its death signal is set by ``setpriv`` (util-linux), or,
    where there is none that works, by a ``preexec_fn``.
    """
    import signal

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dot"
    fake.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(600)\n")
    fake.chmod(0o755)
    if how.endswith("without-setpriv"):
        broken = bin_dir / "setpriv"
        broken.write_text("#!/bin/sh\nexit 1\n")
        broken.chmod(0o755)
        how = "parent-killed"
    env = dict(ENV, PATH=f"{bin_dir}{os.pathsep}{ENV.get('PATH', '')}")
    out = tmp_path / "site"
    proc = subprocess.Popen([str(EXE), "explore", str(TF1), "-o", str(out), "-j", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=as_in_a_terminal)
    seen: dict[int, str] = {}   # pid -> start time of every worker and dot seen under explore
    dots = set()
    try:
        deadline = time.monotonic() + 120
        while len(dots) < 2 and time.monotonic() < deadline and proc.poll() is None:
            table = _processes()
            for pid in _descendants(proc.pid, table):
                seen[pid] = table[pid][1]
                try:
                    if str(fake) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                        dots.add(pid)
                except OSError:
                    pass
            time.sleep(0.05)
        assert len(dots) == 2, f"expected both workers waiting on dot, saw {len(dots)}: {proc.stderr.peek()!r}"
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)  # what the terminal does: the whole foreground group
        elif how == "sigterm":
            os.kill(proc.pid, signal.SIGTERM)
        else:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        if how != "parent-killed":
            assert proc.returncode != 0  # interrupted (click says "Aborted!")
            assert not out.exists() and not list(tmp_path.glob(".*"))  # the half-written site is removed

        def alive() -> set[int]:
            table = _processes()
            return {pid for pid, start in seen.items() if pid in table and table[pid][1] == start
                    and table[pid][2] != "Z"}

        deadline = time.monotonic() + 10
        while alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(), f"left running after {how}: {sorted(alive())} (dot: {sorted(dots)})"
    finally:
        for pid in list(seen):
            try:
                os.kill(pid, signal.SIGKILL)  # a failing run leaves nothing behind either
            except OSError:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux's setpriv is missing")
def test_dot_is_started_without_forking_the_worker(monkeypatch):
    """No ``preexec_fn``: ``subprocess`` then ``vfork``s instead of copying a worker of 1.2 GB per ``dot``."""
    from graphsurgeon.rendering import processes

    seen = []
    real = subprocess.Popen

    def spy(args, **kwargs):
        seen.append((list(args), kwargs.get("preexec_fn")))
        return real(args, **kwargs)

    monkeypatch.setattr(processes.subprocess, "Popen", spy)
    done = processes.run(["cat"], b"digraph {}", 30)
    assert done.args == ["cat"] and done.stdout == b"digraph {}" and done.returncode == 0
    argv, preexec = seen[-1]  # (before it, the first call may try setpriv once)
    assert argv[1:] == ["--pdeathsig", "KILL", "--", "cat"] and preexec is None


def test_render_points_big_graphs_at_explore(tmp_path):
    run = subprocess.run([str(EXE), "render", "--help"], capture_output=True, text=True, env=ENV, timeout=60)
    assert "graphsurgeon explore MODEL -o DIR" in " ".join(run.stdout.split())
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    for i in range(505):
        gd.node.add(name=f"layer{i}/op", op="NoOp")
    model = tmp_path / "layers.pb"
    model.write_bytes(gd.SerializeToString())
    run = subprocess.run([str(EXE), "render", str(model), "-o", str(tmp_path / "l.dot")], capture_output=True,
                         text=True, env=ENV, timeout=120)
    assert run.returncode == 0 and "graphsurgeon explore" in run.stderr and len(run.stderr.splitlines()) == 1
    run = subprocess.run([str(EXE), "render", str(model), "-o", str(tmp_path / "l.dot"), "--depth", "1"],
                         capture_output=True, text=True, env=ENV, timeout=120)
    assert run.returncode == 2 and "graphsurgeon explore" in run.stderr and len(run.stderr.splitlines()) == 1


# ---------------------------------------------------------------------------- --serve
@needs_dot
def test_serve_lays_out_closed_views_on_request_and_answers_only_loopback(tmp_path):
    from graphsurgeon.rendering.serve import Server

    g = gs.load(fixture_model(TF1))
    explore_to(g, tmp_path / "site", jobs=1, depth=1)
    views = read_views(tmp_path / "site")
    box = next(e for e in views["0-0"]["nodes"].values() if e.get("name") == "hidden1")
    assert not (tmp_path / "site" / "views" / f"{box['view']}.js").exists()
    with Server(g, tmp_path / "site") as server:
        assert server.httpd.server_address[0] == "127.0.0.1"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            def get(path, host=None):
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
                conn.request("GET", path, headers={"Host": host or f"127.0.0.1:{server.port}"})
                response = conn.getresponse()
                return response.status, response.read()

            assert get("/index.html")[0] == 200
            status, body = get(f"/views/{box['view']}.js")  # a short id is its own path
            assert status == 200 and body.startswith(b'GS.view("0-0.')
            record = site.read_data(tmp_path / "site" / "views" / f"{box['view']}.js")[1][1]
            assert {e["op"] for e in record["nodes"].values() if e["k"] == "op"} >= {"hidden1/MatMul"}
            status, body = get("/_locate?g=0&op=hidden1%2Fkernel%2Fread")
            at = json.loads(body)
            assert status == 200 and (tmp_path / "site" / "views" / f"{at['view']}.js").exists()
            assert get("/_view?path=0-0.99")[0] == 404
            assert get("/index.html", host="evil.example:80")[0] == 403  # a re-pointed name reads nothing
            assert get("/../../etc/passwd")[0] == 404
        finally:
            server.httpd.shutdown()
            thread.join(10)


# ---------------------------------------------------------------------------- in a browser
@pytest.fixture(scope="module")
def browser():
    needs_browser()
    with cdp.Browser() as b:
        yield b


def _open(browser, directory: Path, fragment: str = ""):
    page = browser.open((directory / "index.html").as_uri() + fragment)
    page.wait_for("GS.state.view !== null && document.querySelector('#picture svg') !== null")
    return page


def _select_view(page, view: str):
    page.wait_for(f"GS.state.view && GS.state.view.id === {json.dumps(view)} && document.querySelector('#picture svg') !== null")


def search(page, query: str) -> None:
    """Type ``query`` into the search box (as a person would) and wait for its results."""
    page.evaluate("document.getElementById('search').value = ''")
    page.type("#search", query)
    page.wait_for(f"GS.state.searched === {json.dumps(query)}", timeout=60)


def _node_selector(dot_id: str) -> str:
    return f"#picture g.node[data-gs={json.dumps(dot_id)}]"


@needs_dot
def test_in_a_browser_the_index_loads_and_a_scope_opens(browser, tmp_path):
    g = gs.load(fixture_model(TF1))
    explore_to(g, tmp_path / "site", jobs=1)
    page = _open(browser, tmp_path / "site")
    assert page.evaluate("GS.state.view.id") == "0-0"
    assert page.evaluate("document.querySelectorAll('#picture g.node').length") == len(rendering.view(g).nodes)
    assert page.evaluate("document.getElementById('model').textContent") == str(TF1)
    # One click on a box shows its op types and parameters; its link opens it.
    box = page.evaluate("Object.entries(GS.state.view.nodes).find(([k, e]) => e.name === 'hidden1')[0]")
    page.click(_node_selector(box))
    page.wait_for("document.querySelector('#details .histogram') !== null")
    text = page.evaluate("document.getElementById('details').textContent")
    assert "hidden1/" in text and "235,500" in text and "MatMul1" in text.replace(" ", "")
    page.click("#details a.open")
    page.wait_for("GS.state.view.id !== '0-0' && document.querySelector('#picture svg') !== null")
    ops = page.evaluate("Object.values(GS.state.view.nodes).filter(e => e.k === 'op').map(e => e.op)")
    assert set(ops) == {"hidden1/MatMul", "hidden1/BiasAdd"}  # the kernel and bias drawn inside them
    labels = page.evaluate("Array.from(document.querySelectorAll('#picture g.node text')).map(t => t.textContent)")
    assert "MatMul" in labels and "BiasAdd" in labels and "kernel 784×300" in labels and "bias 300" in labels
    assert page.evaluate("Array.from(document.querySelectorAll('#crumbs a, #crumbs .here')).map(e => e.textContent)") \
        == ["top-level graph", "hidden1/"]
    # Back through the breadcrumb; then a double-click opens a box too.
    page.click("#crumbs a")
    _select_view(page, "0-0")
    box = page.evaluate("Object.entries(GS.state.view.nodes).find(([k, e]) => e.name === 'batch_normalization')[0]")
    page.click(_node_selector(box), double=True)
    page.wait_for("GS.state.view.crumbs.length === 2 && GS.state.view.crumbs[1][1] === 'batch_normalization/'")
    assert page.errors == [] and page.dialogs == []


@needs_dot
def test_in_a_browser_search_finds_an_op_in_a_function_body_and_a_click_shows_what_show_prints(browser, tmp_path):
    model = fixture_model(TF2)
    g = gs.load(model)
    explore_to(g, tmp_path / "site", jobs=2)
    function = "__inference_serve_129"
    body = g.function(function)
    target = next(n for n in body.node_defs if body.node_defs[n].op == "MatMul")
    assert target not in g.node_defs
    page = _open(browser, tmp_path / "site", "#v=0-0")  # start at the top level, away from the function
    _select_view(page, "0-0")
    search(page, target)
    results = page.evaluate("Array.from(document.querySelectorAll('#results li')).map(li => li.textContent)")
    assert f"{target}function {function}" in results
    index = results.index(f"{target}function {function}")
    page.click(f"#results li:nth-child({index + 1}) a.result")
    page.wait_for(f"GS.state.view.graph === {_graph_names(tmp_path / 'site').index(function)} "
                  "&& document.querySelector('#picture g.gs-hit') !== null")
    hit = page.evaluate("document.querySelector('#picture g.gs-hit').getAttribute('data-gs')")
    assert page.evaluate(f"GS.state.view.nodes[{json.dumps(hit)}].op") == target
    page.wait_for("GS.state.details !== null")
    assert json.loads(page.evaluate("JSON.stringify(GS.state.details)")) == show_json(model, target, function)
    # A real click on another op shows its details, as show --json prints them.
    other = page.evaluate(f"Object.entries(GS.state.view.nodes).find(([k, e]) => e.k === 'op' && e.op !== "
                          f"{json.dumps(target)})[0]")
    name = page.evaluate(f"GS.state.view.nodes[{json.dumps(other)}].op")
    page.click(_node_selector(other))
    page.wait_for(f"GS.state.details && GS.state.details.name === {json.dumps(name)}")
    assert json.loads(page.evaluate("JSON.stringify(GS.state.details)")) == show_json(model, name, function)
    text = page.evaluate("document.getElementById('details').textContent")
    assert name in text and "type" in text and "outputs" in text
    assert page.errors == [] and page.dialogs == []


@needs_dot
def test_in_a_browser_a_call_site_opens_the_function_it_calls(browser, tmp_path):
    g = gs.load(fixture_model(TF2))
    explore_to(g, tmp_path / "site", jobs=1)
    names = _graph_names(tmp_path / "site")
    page = _open(browser, tmp_path / "site", "#v=0-0")
    _select_view(page, "0-0")
    call = page.evaluate("Object.entries(GS.state.view.nodes).find(([k, e]) => e.k === 'op' && e.calls && "
                         "e.calls[0][1].startsWith('__inference_signature_wrapper'))[0]")
    page.click(_node_selector(call), double=True)
    page.wait_for(f"GS.state.view.graph === {names.index('__inference_signature_wrapper_serve_173')}")
    assert page.evaluate("GS.state.view.crumbs[0][1]") == "function __inference_signature_wrapper_serve_173"
    assert page.errors == []


@pytest.fixture(scope="module")
def synthetic_site(tmp_path_factory):
    sys.path.insert(0, str(ROOT))
    from bench.synthetic import cached_meta_graph

    model = cached_meta_graph(60000)
    g = gs.load(model)
    directory = tmp_path_factory.mktemp("synthetic") / "site"
    summary = explore.explore(g, directory, jobs=2)
    return model, g, directory, summary


@needs_dot
def test_in_a_browser_search_finds_a_deep_op_of_a_60000_op_graph(browser, synthetic_site):
    model, g, directory, summary = synthetic_site
    assert len(g) >= 50000 and summary.views > 10000
    assert (directory / "index.html").stat().st_size < 4096  # opens at once: no view in the page itself
    start = time.perf_counter()
    page = _open(browser, directory)
    assert time.perf_counter() - start < 10
    target = "block_97/layer_41/BiasAdd"
    search(page, target)
    assert page.evaluate("document.querySelector('#results a.result').textContent") == target
    page.click("#results a.result")
    page.wait_for("document.querySelector('#picture g.gs-hit') !== null")
    hit = page.evaluate("document.querySelector('#picture g.gs-hit').getAttribute('data-gs')")
    assert page.evaluate(f"GS.state.view.nodes[{json.dumps(hit)}].op") == target
    assert page.evaluate("GS.state.view.crumbs.map(c => c[1])") == ["top-level graph", "block_97/", "layer_41/"]
    page.wait_for(f"GS.state.details && GS.state.details.name === {json.dumps(target)}")
    assert json.loads(page.evaluate("JSON.stringify(GS.state.details)")) == show_json(model, target)
    # A glob: * stays within one scope level, ** crosses them.
    search(page, "block_1?/layer_4*/MatMul")
    import re

    expected = sum(1 for n in g.node_defs if re.fullmatch(r"block_1[^/]/layer_4[^/]*/MatMul", n))
    assert expected == 110
    assert page.evaluate("document.querySelector('#results .count').textContent") == f"{expected} matches"
    search(page, "**/layer_49/Relu:0")  # a tensor
    blocks = sum(1 for n in g.node_defs if re.fullmatch(r"block_\d+/layer_49/Relu", n))
    assert page.evaluate("document.querySelector('#results .count').textContent") == f"{blocks} matches"
    assert page.errors == []


@needs_dot
def test_in_a_browser_a_copy_of_a_spread_stub_answers_as_the_stub(browser, tmp_path):
    """A stub spread by the layout budget is drawn once beside each box it joins (copies ``{"same": stub}``).

    Clicking any copy shows the stub's outside ops and highlights that copy; its link, and a double-click
    on another copy, go to the view drawing the op (``scale``, on the top level).
    """
    from test_render_budget import chain_reading_one_const

    explore_to(chain_reading_one_const(200), tmp_path / "site", jobs=1)
    views = read_views(tmp_path / "site")
    vid = "0-0.0.1"  # layer100…layer199: "from scale" beside each of its 100 boxes
    nodes = views[vid]["nodes"]
    stub = next(k for k, e in nodes.items() if e.get("name") == "scale")
    copies = [k for k, e in nodes.items() if e.get("same") == stub]
    assert len(copies) == 100 and nodes[stub]["k"] == "stub"
    page = _open(browser, tmp_path / "site", f"#v={vid}")
    _select_view(page, vid)
    drawn = page.evaluate("Array.from(document.querySelectorAll('#picture g.node')).map(g => g.getAttribute('data-gs'))")
    assert set(copies) <= set(drawn) and stub not in drawn  # the copies are the stub's only picture
    for copy in (copies[0], copies[57]):
        page.evaluate("document.getElementById('details').textContent = ''")
        page.click(_node_selector(copy))
        page.wait_for("document.querySelector('#details h3') !== null")
        assert page.evaluate("document.querySelector('#details h3').textContent") == "inputs from scale"
        assert page.evaluate("Array.from(document.querySelectorAll('#details a.op')).map(a => a.textContent)") == ["scale"]
        assert page.evaluate("GS.state.selected") == copy
        assert page.evaluate("Array.from(document.querySelectorAll('#picture g.gs-hit')).map(g => g.getAttribute('data-gs'))") \
            == [copy]  # the copy clicked, not the first one
    # The link goes to the view drawing scale as an op (beside the two runs: 0-0.0), highlighted.
    assert next(e for e in views["0-0.0"]["nodes"].values() if e.get("op") == "scale")["k"] == "op"
    page.click("#details a.op")
    page.wait_for("GS.state.view.id === '0-0.0' && document.querySelector('#picture g.gs-hit') !== null")
    hit = page.evaluate("document.querySelector('#picture g.gs-hit').getAttribute('data-gs')")
    assert page.evaluate(f"GS.state.view.nodes[{json.dumps(hit)}].op") == "scale"
    # Back in the run, a double-click on a copy goes there too.
    page.evaluate(f"location.hash = 'v=' + {json.dumps(vid)}")
    _select_view(page, vid)
    page.click(_node_selector(copies[-1]), double=True)
    page.wait_for("GS.state.view.id === '0-0.0' && document.querySelector('#picture g.gs-hit') !== null")
    assert page.evaluate("GS.state.view.nodes[document.querySelector('#picture g.gs-hit').getAttribute('data-gs')].op") \
        == "scale"
    assert page.errors == [] and page.dialogs == []


@needs_dot
def test_in_a_browser_names_holding_markup_stay_text(browser, tmp_path):
    from test_render_hostile import HOSTILE, hostile_graph

    from tests import hostile

    for name, g in (("names", hostile_graph()), ("markup", gs.Graph(hostile.markup_graph())),
                    ("escapes", gs.Graph(hostile.escape_graph()))):
        directory = tmp_path / name
        explore_to(g, directory, jobs=1)
        views = read_views(directory)
        page = _open(browser, directory)
        for vid in views:  # every view of the model, loaded and drawn
            page.evaluate(f"location.hash = 'v=' + {json.dumps(vid)}")
            _select_view(page, vid)
        # Nothing but the page's own elements and Graphviz's: no script, handler, link or frame from a name.
        assert page.evaluate("""Array.from(document.querySelectorAll('script')).every(s =>
            /\\/(static\\/explore\\.js|site\\.js|search\\.js|views\\/[^/]+\\.js|lists\\/[^/]+\\.js)$/.test(s.src))""")
        # (a tooltip may say "javascript:": it is text; no handler or link may)
        assert page.evaluate("Array.from(document.querySelectorAll('*')).filter(e => Array.from(e.attributes)"
                             ".some(a => a.name.startsWith('on') || (/href|src|action/i.test(a.name) && "
                             "/javascript:/i.test(a.value)))).length") == 0
        assert page.evaluate("document.querySelectorAll('#picture [title*=\"javascript\" i]').length") == 0
        assert page.evaluate("document.querySelectorAll('iframe, img, object, embed, foreignObject, "
                             "#picture a[href], #picture a[*|href]').length") == 0
        assert page.errors == [] and page.dialogs == []
    # The search finds a name with markup and shows it as it is spelt.
    page = _open(browser, tmp_path / "names")
    name = "<script>alert(3)</script>"
    search(page, "<script>")
    found = page.evaluate("Array.from(document.querySelectorAll('#results a.result')).map(a => a.textContent)")
    assert name in found
    page.click(f"#results li:nth-child({found.index(name) + 1}) a.result")
    page.wait_for(f"GS.state.details && GS.state.details.name === {json.dumps(name)}")
    assert page.evaluate("document.querySelector('#details h3').textContent") == name
    assert name in HOSTILE and page.errors == [] and page.dialogs == []
