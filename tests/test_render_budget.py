"""Layout budgets: a picture ``dot`` cannot lay out within its budget is simplified, never fatal.

Small graphs with deliberately tiny budgets (and one whose shape alone is
past the default budget: a stub feeding every box of a chain, what made
``explore`` fail on a 65k-op training graph). Facts checked: every view is
written, every node of a view's record has its ``<title>`` in its SVG, the
view's notes and the summary say which view was simplified and how, and
the one view that cannot be laid out at all is named while the others are
written.
"""
from __future__ import annotations

import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

import graphsurgeon as gs
from graphsurgeon import protos, rendering
from graphsurgeon.errors import OutputError
from graphsurgeon.rendering import budget, explore, layered, site
from graphsurgeon.rendering.view import build_view

from _support import FIXTURES, fixture_model

SVG = "{http://www.w3.org/2000/svg}"
TF1 = FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt.meta"

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing (./dev.sh setup)")


def chain_reading_one_const(length: int = 200) -> gs.Graph:
    """``net/layer0`` ... ``net/layerN`` chained, each also reading ``scale`` outside ``net/``.

    The explorer's views of runs of 100 layers draw a chain with a stub
    ``from scale`` feeding every box: edges over 1, 2, ... 100 ranks, about
    5,000 edge segments for dot, which then runs for minutes.
    """
    gd = protos.GraphDef()
    gd.node.add(name="x", op="Placeholder").attr["dtype"].type = 1
    scale = gd.node.add(name="scale", op="Const")
    scale.attr["dtype"].type = 1
    scale.attr["value"].tensor.dtype = 1
    scale.attr["value"].tensor.float_val.append(2.0)
    prev = "x"
    for i in range(length):
        node = gd.node.add(name=f"net/layer{i}/mul", op="Mul", input=[prev, "scale"])
        node.attr["T"].type = 1
        prev = node.name
    gd.node.add(name="y", op="Identity", input=[prev]).attr["T"].type = 1
    return gs.Graph(gd)


def read_views(directory: Path) -> dict[str, dict]:
    views = {}
    for path in (directory / "views").glob("*.js"):
        _, (vid, record) = site.read_data(path)
        views[vid] = record
    return views


def check_pictures(views: dict[str, dict]) -> None:
    """Every node the page knows of has its ``<title>`` in the view's SVG (a copy of a spread stub included)."""
    for vid, record in views.items():
        titles = {t.text for t in ET.fromstring(record["svg"]).iter(f"{SVG}title")}
        drawn = {k for k, e in record["nodes"].items() if not (e["k"] == "stub" and any(
            c.get("same") == k for c in record["nodes"].values()))}  # a spread stub is drawn as its copies
        assert drawn <= titles, (vid, sorted(drawn - titles)[:5])
        for entry in record["nodes"].values():
            if entry.get("same"):
                assert record["nodes"][entry["same"]]["k"] == "stub"


def test_the_layering_predicts_the_cost_of_a_stub_over_a_chain():
    g = chain_reading_one_const(100)
    ops = [n for n in g.node_defs if n.startswith("net/")]
    view = build_view(g, ops=ops, stubs_from=g.node_defs)
    cost = budget.measure(view)
    # 100 boxes in a chain, the stub "from scale" on the top rank feeding each: 0 + 1 + ... + 99 segments.
    assert cost.segments >= 99 * 100 // 2
    chosen = budget.plan(view)
    assert chosen.layout == "dot" and "'scale' drawn beside each box it joins" in chosen.notes[0]
    assert budget.measure(view).segments < budget.DEFAULT.segments
    assert [s.name for s in view.stubs if s.spread] == ["scale"]


def test_ranks_are_iterative_and_break_cycles():
    nodes = [f"n{i}" for i in range(20000)]
    edges = [(nodes[i], nodes[i + 1]) for i in range(len(nodes) - 1)] + [(nodes[-1], nodes[0])]
    rank = layered.ranks(nodes, edges)
    assert rank["n0"] == 0 and rank["n19999"] == 19999  # the back edge n19999 -> n0 is dropped
    where = layered.place(nodes[:50], edges[:49], {n: (60.0, 30.0) for n in nodes[:50]})
    assert len({y for _, y in where.values()}) == 50


@needs_dot
def test_a_view_past_the_default_budget_is_simplified_and_said_so(tmp_path):
    g = chain_reading_one_const(200)
    start = time.perf_counter()
    summary = explore.explore(g, tmp_path / "site", jobs=1)
    assert time.perf_counter() - start < 60  # dot alone on that view: minutes
    views = read_views(tmp_path / "site")
    assert summary.views == len(views) and not summary.failed
    runs = [r for r in views.values() if any("drawn beside each box" in note for note in r["notes"])]
    assert len(runs) == 2 and all(len(r["nodes"]) > 100 for r in runs)
    for run in runs:
        copies = [e for e in run["nodes"].values() if e.get("same")]
        assert len(copies) == 100  # one "from scale" beside each box
        assert any(line.startswith(f"view {run['id']} (top-level graph › ") and line.endswith(run["notes"][-1])
                   for line in summary.simplified)
    check_pictures(views)


@needs_dot
@pytest.mark.parametrize("tiny", [budget.Budget(nodes=4), budget.Budget(seconds=0.001)],
                         ids=["4 nodes", "1 ms"])
def test_a_tiny_budget_lays_every_view_out_anyway(tiny, tmp_path):
    g = gs.load(fixture_model(TF1))
    normal = explore.explore(g, tmp_path / "normal", jobs=1)
    summary = explore.explore(g, tmp_path / "tiny", jobs=2, budget=tiny)
    views = read_views(tmp_path / "tiny")
    assert summary.views == normal.views == len(views) and not summary.failed
    check_pictures(views)
    layered_views = [r for r in views.values() if any("own layered layout" in n for n in r["notes"])]
    assert layered_views and len(summary.simplified) == len(layered_views)
    # The same views and nodes as with the normal budget: only the layout differs.
    assert {vid: set(r["nodes"]) for vid, r in read_views(tmp_path / "normal").items()} == {
        vid: set(r["nodes"]) for vid, r in views.items()}
    for record in layered_views:
        assert "dot did not finish" in record["notes"][-1] if tiny.seconds < 1 else "past what dot lays out" in \
            record["notes"][-1]


@needs_dot
def test_a_view_that_cannot_be_laid_out_is_named_and_the_others_are_written(tmp_path, monkeypatch):
    g = gs.load(fixture_model(TF1))
    real = budget.run

    def failing(source, fmt, timeout):
        if "scope hidden2/," in source:  # the view of hidden2/ (alone, or in a batch)
            raise OutputError("Graphviz's dot failed (exit 1)", hint="syntax error in line 1")
        return real(source, fmt, timeout)

    monkeypatch.setattr(budget, "run", failing)
    summary = explore.explore(g, tmp_path / "site", jobs=1)
    views = read_views(tmp_path / "site")
    assert summary.views == len(views) and len(summary.failed) == 1
    assert summary.failed[0].startswith("view 0-0.") and "hidden2/" in summary.failed[0]
    bad = next(r for r in views.values() if not r["svg"])
    assert bad["notes"][-1].startswith("no picture: Graphviz's dot failed")
    check_pictures({vid: r for vid, r in views.items() if r["svg"]})

    from cli.main import cli

    run = CliRunner().invoke(cli, ["explore", str(fixture_model(TF1)), "-o", str(tmp_path / "cli")])
    assert run.exit_code == 1
    lines = run.stderr.splitlines() if hasattr(run, "stderr") else run.output.splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "hidden2/" in errors[0] and "view 0-0." in errors[0], lines
    assert (tmp_path / "cli" / "index.html").is_file()  # the site is written all the same


@needs_dot
def test_render_past_its_budget_draws_the_layered_layout_and_says_so(tmp_path):
    g = gs.load(fixture_model(TF1))
    v = rendering.view(g)
    out = rendering.write_view(v, tmp_path / "tiny.svg", budget=budget.Budget(edges=3))
    assert any("own layered layout" in note for note in v.notes)
    titles = {t.text for t in ET.parse(out).iter(f"{SVG}title")}
    assert set(rendering.node_ids(v).values()) <= titles
    normal = rendering.view(g)
    rendering.write_view(normal, tmp_path / "normal.svg")
    assert not any("layered" in note for note in normal.notes)


@needs_dot
def test_progress_counts_views_laid_out_and_left(tmp_path):
    g = gs.load(fixture_model(TF1))
    seen = []
    summary = explore.explore(g, tmp_path / "site", jobs=2, progress=lambda p: seen.append(
        (p.ops, p.total_ops, p.views, p.left)))
    assert seen and seen[-1] == (len(g), len(g), summary.views, 0)
    assert all(views + left <= summary.views for _, _, views, left in seen)
    assert [v for _, _, v, _ in seen] == sorted(v for _, _, v, _ in seen)  # views laid out only grow
