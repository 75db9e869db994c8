"""Every picture's layout budget, and what a picture becomes when ``dot`` could not lay it out within it.

``dot``'s time grows with the square of the edge segments it must order,
and more: a view of 110 boxes and 600 edges whose stubs feed every box of a
chain of 100 makes 21,000 virtual nodes and runs for many minutes; 1,500
take it a fraction of a second (dot 2.43, measured: a stub over chains of
30, 40, 50 and 60 boxes, 1,800, 3,200, 5,000 and 7,200 segments, took 0.4,
1.5, 6.2 and 52 s). So a picture gets a :class:`Budget` of nodes, edges,
segments and seconds, and :func:`plan` decides before ``dot`` runs:

1. as it is, when its predicted cost fits (:func:`measure`: ranks as a
   layered layout assigns them, :mod:`~graphsurgeon.rendering.layered`);
2. else with its widest stubs *spread*: drawn once beside each box they
   join instead of one box on the view's edge with edges across every rank;
3. else (or when ``dot`` still runs out of time: :func:`lay_out`) laid out
   by :func:`graphsurgeon.rendering.layered.place` and drawn by
   ``neato -n2`` with straight edges and no scope frames, in time linear in
   the picture.

Each step says what it did in the picture's notes, so the explorer shows
it on the view and ``explore`` and ``render`` print it.
"""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass

from ..errors import OutputError
from . import layered, processes
from .dot import find_dot, layout_shape, stub_nodes, to_digraph

LAYERED = "graphsurgeon's own layered layout (straight edges, no scope frames)"


@dataclass(frozen=True)
class Budget:
    """What one picture may cost ``dot``. Defaults: every view of the benchmarks' 65k-op graphs lays out in < 2 s."""

    nodes: int = 700          # boxes and stubs drawn
    edges: int = 2500         # edges drawn
    segments: int = 1500      # virtual nodes: an edge over k ranks is k - 1 of them
    seconds: float = 20.0     # dot's time for one picture (a batch of small ones shares it)

    def describe(self) -> str:
        return f"{self.nodes:,} nodes, {self.edges:,} edges, {self.segments:,} edge segments, {self.seconds:g} s"


DEFAULT = Budget()


@dataclass
class Cost:
    nodes: int
    edges: int
    segments: int

    def fits(self, budget: Budget) -> bool:
        return self.nodes <= budget.nodes and self.edges <= budget.edges and self.segments <= budget.segments

    def describe(self) -> str:
        return f"{self.nodes:,} nodes, {self.edges:,} edges, {self.segments:,} edge segments"


@dataclass
class Plan:
    """How a picture is laid out: ``"dot"`` or ``"layered"``, and what was changed, in words."""

    layout: str
    notes: list[str]


def _labelled(view) -> bool:
    return any(e.label for e in view.edges) or any(e.label for s in view.stubs for e in s.edges)


def measure(view) -> Cost:
    """The picture's cost for ``dot``: nodes, edges, and edge segments with ranks as a layered layout gives them.

    With edge labels ``dot`` puts a rank for the labels between every two
    ranks: every edge is twice as long (a chain of 50 boxes all reading
    one constant, 1,225 segments, 2,500 with labels: 4.7 s).
    """
    nodes, edges, top, bottom = layout_shape(view)
    rank = layered.ranks(nodes, edges, top, bottom)
    segments = layered.virtual_nodes(rank, edges)
    if _labelled(view):
        segments = 2 * segments + sum(1 for a, b in edges if rank.get(a) != rank.get(b))
    return Cost(len(nodes), len(edges), segments)


def _stub_segments(view) -> dict[str, int]:
    """Edge segments each stub's edges make (stubs pinned to the view's top or bottom rank)."""
    nodes, edges, top, bottom = layout_shape(view)
    rank = layered.ranks(nodes, edges, top, bottom)
    out: dict[str, int] = {}
    for dot_id, stub, _ in stub_nodes(view):
        if stub.spread:
            continue
        total = sum(max(0, abs(rank[a] - rank[b]) - 1) for a, b in edges if a == dot_id or b == dot_id)
        out[stub.id] = total
    return out


def plan(view, budget: Budget = DEFAULT) -> Plan:
    """How to lay ``view`` out within ``budget`` (see the module doc); may set ``spread`` on its stubs."""
    cost = measure(view)
    if cost.fits(budget):
        return Plan("dot", [])
    spread: list[str] = []
    if cost.nodes <= budget.nodes and cost.edges <= budget.edges and view.stubs:
        by_id = {stub.id: stub for stub in view.stubs}
        after = cost
        while after.segments > budget.segments:
            costs = _stub_segments(view)
            worst = max(costs, key=costs.get, default=None)
            if worst is None or costs[worst] == 0:
                break
            by_id[worst].spread = True
            spread.append(by_id[worst].name)
            after = measure(view)
        if after.fits(budget):
            names = ", ".join(repr(n) for n in spread[:4]) + (f" and {len(spread) - 4} more" if len(spread) > 4 else "")
            return Plan("dot", [f"simplified to fit the layout budget ({cost.describe()}; budget "
                                f"{budget.segments:,} edge segments): stub{'s' if len(spread) > 1 else ''} "
                                f"{names} drawn beside each box {'they join' if len(spread) > 1 else 'it joins'}"])
        for stub in view.stubs:
            stub.spread = False
    return Plan("layered", [f"laid out by {LAYERED}: {cost.describe()} is past what dot lays out within the "
                            f"budget ({budget.describe()})"])


def source(view, plan_: Plan, legend: bool = False, rankdir: str = "TB") -> str:
    """The DOT source of ``view`` laid out as ``plan_`` says."""
    return to_digraph(view, rankdir=rankdir, legend=legend, layout=plan_.layout).source


def run(source_: str, fmt: str, timeout: float) -> bytes:
    """``dot -n2 -T<fmt>`` (``-n2``: pictures marked ``layout=neato`` keep the positions given)."""
    exe = find_dot()
    proc = processes.run([exe, "-n2", f"-T{fmt}"], source_.encode("utf-8"), timeout)
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OutputError(f"Graphviz's dot failed (exit {proc.returncode})", hint=message[-1] if message else None)
    return proc.stdout


def lay_out_one(view, plan_: Plan, fmt: str = "svg", budget: Budget = DEFAULT, legend: bool = False,
                rankdir: str = "TB") -> bytes:
    """One picture within ``budget``: ``dot``, and the layered layout if ``dot`` runs out of time (noted in the plan)."""
    if plan_.layout == "dot":
        try:
            return run(source(view, plan_, legend, rankdir), fmt, budget.seconds)
        except subprocess.TimeoutExpired:
            plan_.layout = "layered"
            plan_.notes.append(f"laid out by {LAYERED}: dot did not finish within the budget's {budget.seconds:g} s")
    return run(source(view, plan_, legend, rankdir), fmt, max(budget.seconds, 60.0))


@dataclass
class Job:
    """One picture of a batch: its view, its plan and DOT source; after :func:`lay_out`, its SVG or error."""

    view: object
    plan: Plan
    source: str
    svg: bytes | None = None
    error: OutputError | None = None


def job(view, budget: Budget = DEFAULT) -> Job:
    chosen = plan(view, budget)
    return Job(view, chosen, source(view, chosen))


def lay_out(jobs: list[Job], budget: Budget = DEFAULT) -> list[Job]:
    """SVGs of many pictures, with as few ``dot`` processes as the budget allows; never raises for one picture.

    Pictures go through one process in batches (starting ``dot`` costs more
    than laying out a view of ten nodes). A batch that runs past the
    budget's seconds keeps the pictures it finished; the one it was working
    on is laid out alone, and if that runs out of time too, by the layered
    layout. A picture that fails anyway gets its ``error``.
    """
    todo = list(jobs)
    while todo:
        if len(todo) == 1:
            _alone(todo.pop(), budget)
            continue
        try:
            done = _split(run("\n".join(j.source for j in todo), "svg", budget.seconds), len(todo))
        except subprocess.TimeoutExpired as exc:
            done = _split(exc.stdout or b"", None)
        except OutputError:
            for j in todo:  # one of them is at fault: each alone says which
                _alone(j, budget)
            break
        for j, svg in zip(todo, done):
            j.svg = svg
        todo = todo[len(done):]
        if todo:
            _alone(todo.pop(0), budget)  # the one the batch was stuck on
    return jobs


def _split(out: bytes, expected: int | None) -> list[bytes]:
    """The complete SVG documents at the start of ``dot``'s output (all ``expected`` of them, or as many as finished)."""
    # Names never reach an SVG unescaped (see dot.text()), so "<?xml " starts a document and nothing else.
    parts = out.split(b"<?xml ")
    if parts and parts[0].strip():
        return []
    docs = [b"<?xml " + part for part in parts[1:]]
    if expected is not None:
        return docs if len(docs) == expected else docs[:0]
    return [d for d in docs if d.rstrip().endswith(b"</svg>")]


def _alone(j: Job, budget: Budget) -> None:
    try:
        j.svg = lay_out_one(j.view, j.plan, "svg", budget)
    except OutputError as exc:
        j.error = exc
    except subprocess.TimeoutExpired as exc:
        j.error = OutputError(f"Graphviz did not finish even the layered layout within {exc.timeout:g} s")
