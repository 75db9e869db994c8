"""Every view of a graph, for ``graphsurgeon explore``: the top level as ``render`` draws it, then each box opened.

A view is drawn by render's own path (:func:`~graphsurgeon.rendering.view.build_view`,
:func:`~graphsurgeon.rendering.dot.to_digraph`, Graphviz's ``dot``), so it
looks as ``render`` does and fits the same budget: no view refuses. The
views of one graph form trees, one per *part* of the graph:

- part 0: the network, whose root is what ``render`` draws by default
  (with ``training=True``: everything, as ``render --training``);
- part 1: the training machinery ``render`` leaves out (gradients,
  optimizer, saver, initialisers), drawn on its own with stubs for the
  network ops it reads (absent with ``training=True``).

Each collapsed scope or group of siblings in a view opens its own view of
exactly its ops, with stubs for the edges that cross its edge; a group of
numbered siblings too long for one view is cut into consecutive runs
(``layer0…layer99 ×100``). Every function body of the library is a graph
of its own, opened from its call sites. So every op of the model is drawn
as itself in exactly one view: its *home*.

View paths say how to rebuild a view from the graph alone: ``G-P`` is the
root of part P of graph G (0 the top level, then the library functions
sorted by name), and ``.K`` opens the K-th box of a view (``0-0.3.17``).
That lets ``explore --serve`` lay out on request the views a ``--depth``
limited export left out. A view's id (its file name) is its path, or a
digest of a path too long for a file name (:func:`view_id`).

Views are laid out in parallel: the graph is loaded and indexed once, then
forked into worker processes that share it; each walks whole subtrees and
lays their views out with one ``dot`` process per batch (starting ``dot``
costs more than laying out a view of ten nodes).
"""
from __future__ import annotations

import gc
import hashlib
import math
import multiprocessing
import os
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis import report
from ..errors import NotFoundError
from ..ir.views import Op
from ..vocab.names import is_index
from ..vocab.optypes import training_machinery
from . import budget as _budget
from . import processes, scopes, site
from .dot import node_ids, stub_ids, stub_nodes
from .params import parameters
from .select import serving_function
from .view import MAX_NODES, TARGET_NODES, View, _facts, build_view

BATCH = 48            # views laid out by one dot process
LIST_INLINE = 50      # longer lists in op details are written once, to a file of their own


@dataclass
class Part:
    """One tree of views: the network (or everything) or the training machinery of one graph."""

    id: str                      # "G-P"
    graph_index: int
    graph: object                # the Graph or FunctionGraph
    kind: str                    # "network", "all" or "machinery"
    label: str                   # its root's name in breadcrumbs and the sidebar
    ops: int                     # how many ops its views hold
    universe: object = None      # ops whose edges with a view become stubs (a set; None: no stubs at the root)


def view_id(path: str) -> str:
    """The id (and file name) of the view at ``path``: the path itself, or a digest of a long one.

    Paths grow with the depth of the tree of views (a chain of 3,000 scopes
    is 300 views deep), and a file name may not.
    """
    return path if len(path) <= 64 else "h" + hashlib.sha1(path.encode("ascii")).hexdigest()[:20]


@dataclass
class Task:
    """One view to build: the root of a part (``ops`` None) or one box of another view."""

    id: str
    path: str                    # how to rebuild it from its part's root: "G-P.K.K..." (see the module doc)
    part: str
    ops: list[str] | None
    crumbs: list[tuple[str, str]]
    max_run: int | None = None
    level: int = 1
    size: int = 0                # ops in the view (for sharing the work out)


@dataclass
class Built:
    """A view built (not yet laid out): how to lay it out (its DOT source), the data the page reads, its children."""

    task: Task
    job: "_budget.Job"
    record: dict
    children: list[Task]
    homes: list[tuple[int, str, str, str]]   # (graph index, op, view id, DOT id): where each op is drawn
    ops: int                                 # ops drawn as themselves here (or in boxes left closed)


@dataclass
class Summary:
    """What :func:`explore` did."""

    path: Path
    views: int
    ops: int                     # ops of every graph, function bodies included
    graphs: int
    seconds: float
    bytes: int
    home: str
    skipped: int = 0             # boxes left closed by --depth
    notes: list[str] = field(default_factory=list)
    simplified: list[str] = field(default_factory=list)   # "view ... (where): how", one per view simplified
    failed: list[str] = field(default_factory=list)       # "view ... (where): why", one per view left without a picture

    @property
    def views_written(self) -> int:
        return self.views - len(self.failed)


class Explorer:
    """The parts of a model's graphs and how to build any view of them (see the module doc)."""

    def __init__(self, g, training: bool | None = None, budget: "_budget.Budget" = _budget.DEFAULT,
                 weights_as_nodes: bool = False):
        self.g = g
        self.training = training
        self.budget = budget
        self.weights_as_nodes = weights_as_nodes
        self.graphs = [g] + [g.function(name) for name in sorted(g.library_names)]
        self.function_index = {graph.function_name: i for i, graph in enumerate(self.graphs) if i}
        self.parts: dict[str, Part] = {}
        for gi, graph in enumerate(self.graphs):
            for part in _parts(gi, graph, training):
                self.parts[part.id] = part
        served = serving_function(g) if g.function_name is None else None
        self.served = served
        home_graph = self.function_index.get(served[0], 0) if served else 0
        self.home = f"{home_graph}-0"

    def prepare(self) -> None:
        """Everything views read from whole graphs, computed once (before workers fork and share it)."""
        for graph in self.graphs:
            graph.shapes
            training_machinery(graph)
            scopes.sorted_names(graph)
            _facts(graph)
            graph.wiring()
        # The parameters as each part's views read them (see build): found here, or by each worker again.
        for part in self.parts.values():
            for training in ({bool(self.training), False} if part.kind == "network" else {True}):
                parameters(part.graph, training)

    def roots(self) -> list[Task]:
        return [Task(id=p.id, path=p.id, part=p.id, ops=None, crumbs=[(p.id, p.label)], size=p.ops)
                for p in self.parts.values()]

    def build(self, task: Task, max_level: int | None = None, details: bool = True) -> Built:
        """Build one view: render's View, its DOT source, the page's data and the boxes to open next."""
        part = self.parts[task.part]
        graph = part.graph
        if task.ops is not None:
            # A group's view groups again past render's target, not its refusal limit: a group of
            # 340 layers is 4 runs of 100, not 340 boxes.
            limit = TARGET_NODES if task.max_run else MAX_NODES
            view = build_view(graph, ops=task.ops, max_run=task.max_run, stubs_from=part.universe, max_nodes=limit,
                              training=part.kind != "network", weights_as_nodes=self.weights_as_nodes)
        elif part.kind == "machinery":
            view = build_view(graph, ops=[n for n in graph.node_defs if n in training_machinery(graph)],
                              stubs_from=part.universe, training=True, weights_as_nodes=self.weights_as_nodes)
        else:
            view = build_view(graph, training=True if part.kind == "all" else self.training,
                              weights_as_nodes=self.weights_as_nodes)
        ids = node_ids(view)
        expand = max_level is None or task.level < max_level
        nodes, children, homes, drawn, ops_here = {}, [], [], [], 0
        gi = part.graph_index
        for key, node in view.nodes.items():
            dot_id = ids[key]
            if node.kind == "op":
                entry = {"k": "op", "op": node.name, "type": node.type}
                if len(node.ops) > 1:
                    entry["ops"] = node.ops
                if node.calls:
                    entry["calls"] = [[attr, fname, self._function_view(fname)] for attr, fname in node.calls]
                homes.extend((gi, m, task.id, dot_id) for m in node.ops)
                drawn.extend(node.ops)
                ops_here += len(node.ops)
            else:
                path = f"{task.path}.{len(children)}"
                child = view_id(path)
                label = _crumb(node, view.base)
                entry = {"k": node.kind, "name": node.name, "label": label, "view": child, "ops": len(node.ops),
                         "params": node.params, "types": node.type_counts.most_common()}
                if node.kind == "group":
                    entry["members"] = len(node.members)
                children.append(Task(id=child, path=path, part=task.part, ops=node.ops,
                                     crumbs=task.crumbs + [(child, label)],
                                     max_run=_max_run(len(node.members)) if node.kind == "group" else None,
                                     level=task.level + 1, size=len(node.ops)))
                if not expand:
                    entry["closed"] = path  # the server (explore --serve) lays it out from its path
                    homes.extend((gi, m, task.id, dot_id) for m in node.ops)
                    ops_here += len(node.ops)
            nodes[dot_id] = entry
        job = _budget.job(view, self.budget)  # may spread stubs: before their boxes are listed
        sids = stub_ids(view)
        for stub in view.stubs:
            nodes[sids[stub.id]] = {"k": "stub", "dir": stub.direction, "name": stub.name,
                                    "ops": stub.ops[:200], "count": len(stub.ops)}
        for dot_id, stub, _ in stub_nodes(view):
            if dot_id != sids[stub.id]:
                nodes[dot_id] = {"k": "stub", "same": sids[stub.id]}  # a spread stub's copy beside one box
        record = {
            "id": task.id, "path": task.path, "part": task.part, "graph": gi, "title": view.title, "notes": view.notes,
            "crumbs": [list(c) for c in task.crumbs], "nodes": nodes, "legend": _legend(view),
            "shown": view.shown_ops,
        }
        if details:
            record["details"] = {m: report.op_details(Op(graph, graph.node_defs[m])) for m in drawn}
        return Built(task=task, job=job, record=record, children=children if expand else [], homes=homes,
                     ops=ops_here)

    def where(self, task: Task) -> str:
        """A view in words, for messages: ``view 0-1.2.2 (top-level graph: training machinery › gradients/ › …)``."""
        labels = [label for _, label in task.crumbs]
        shown = labels if len(labels) <= 5 else labels[:2] + ["…"] + labels[-2:]
        return f"view {task.id} ({' › '.join(shown)})"

    def task(self, path: str) -> Task:
        """The task of the view at ``path``, replaying the boxes opened from its root (NotFoundError if none)."""
        root, _, steps = path.partition(".")
        part = self.parts.get(root)
        if part is None:
            raise NotFoundError("view", path, list(self.parts))
        task = self.roots()[list(self.parts).index(root)]
        for step in steps.split(".") if steps else ():
            built = self.build(task, details=False)
            if not is_index(step) or int(step) >= len(built.children):
                raise NotFoundError("view", path, [c.path for c in built.children])
            task = built.children[int(step)]
        return task

    def locate(self, graph_index: int, op: str) -> tuple[str, str]:
        """``(view path, DOT id)`` of the view drawing ``op`` as itself, opening boxes down from its part's root."""
        graph = self.graphs[graph_index]
        if op not in graph.node_defs:
            raise NotFoundError("op", op, graph.node_defs.keys(), where=graph.where)
        machinery = training_machinery(graph)
        candidates = [p for p in self.parts.values() if p.graph_index == graph_index]
        part = next((p for p in candidates if p.kind == "machinery" and op in machinery), candidates[0])
        task = self.roots()[list(self.parts).index(part.id)]
        while True:
            built = self.build(task, details=False)
            for dot_id, entry in built.record["nodes"].items():
                if entry["k"] == "op" and op in entry.get("ops", [entry["op"]]):
                    return task.path, dot_id
            inside = [c for c in built.children if op in c.ops]
            if not inside:
                raise NotFoundError("op", op, [], where=f"the views of {graph.where}")
            task = inside[0]

    def _function_view(self, name: str) -> str | None:
        index = self.function_index.get(name)
        return f"{index}-0" if index is not None else None

    def site_info(self) -> dict:
        """What the page needs before any view: the graphs, their parts, where to start."""
        graphs = []
        for gi, graph in enumerate(self.graphs):
            parts = [{"id": p.id, "label": p.label, "kind": p.kind, "ops": p.ops}
                     for p in self.parts.values() if p.graph_index == gi]
            graphs.append({"index": gi, "name": graph.function_name, "ops": len(graph), "parts": parts})
        return {"model": str(self.g.path) if self.g.path else None, "home": self.home, "graphs": graphs,
                "served": list(self.served) if self.served else None, "training": bool(self.training)}


def _parts(gi: int, graph, training: bool | None) -> list[Part]:
    name = "top-level graph" if gi == 0 else f"function {graph.function_name}"
    machinery = training_machinery(graph)
    count = len(graph)
    hidden = sum(1 for n in graph.node_defs if n in machinery)
    if training or not hidden or hidden == count:
        return [Part(id=f"{gi}-0", graph_index=gi, graph=graph, kind="all", label=name, ops=count,
                     universe=graph.node_defs)]
    network = {n for n in graph.node_defs if n not in machinery}
    return [Part(id=f"{gi}-0", graph_index=gi, graph=graph, kind="network", label=name, ops=count - hidden,
                 universe=network),
            Part(id=f"{gi}-1", graph_index=gi, graph=graph, kind="machinery", label=f"{name}: training machinery",
                 ops=hidden, universe=graph.node_defs)]


def _crumb(node, base: str) -> str:
    """A box's name below the view it is drawn in: ``layer_3/`` in ``block_2``'s view, a group's label."""
    if node.kind == "group":
        return _short(node.name)
    name = node.name
    if base and name.startswith(base + "/"):
        name = name[len(base) + 1:]
    return _short(name + "/")


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else f"{text[: limit // 2]}…{text[-limit // 2:]}"


def _max_run(members: int, target: int = TARGET_NODES) -> int | None:
    """How many numbered siblings each group in the view of a group of ``members`` may hold.

    A round number, so that runs read well (``layer0…layer99 ×100``): the
    largest power of ten below ``members`` that a view can show as boxes,
    unless that makes more groups than a view holds.
    """
    if members <= target:
        return None
    size = 10 ** int(math.log10(min(members - 1, target)))
    if -(-members // size) > target:
        size = 10 ** math.ceil(math.log10(members / target))
    return max(size, 2)


def _legend(view: View) -> dict:
    kinds = {e.kind for e in view.edges} | {e.kind for s in view.stubs for e in s.edges}
    return {"categories": sorted({n.category for n in view.nodes.values()}), "edges": sorted(kinds),
            "frozen": view.marks_frozen, "groups": any(n.kind == "group" for n in view.nodes.values()),
            "stubs": bool(view.stubs)}


# ---------------------------------------------------------------------------- the walk
_STATE: dict = {}   # what forked workers inherit: the Explorer, the site being written, options


def _lay_out(built: list[Built], writer: "site.SiteWriter", explorer: Explorer, result: dict) -> None:
    """Lay out a batch of built views within the budget (see :mod:`.budget`) and write their files.

    A view that was simplified says so in its notes and in ``result["simplified"]``;
    one that could not be laid out at all is written without a picture (its notes say why)
    and listed in ``result["failed"]``: the other views never wait for it.
    """
    _budget.lay_out([b.job for b in built], explorer.budget)
    for b in built:
        job = b.job
        record = b.record
        if job.plan.notes:
            record["notes"] = record["notes"] + job.plan.notes
            result["simplified"].append(f"{explorer.where(b.task)}: {job.plan.notes[-1]}")
        if job.error is not None:
            reason = str(job.error)
            record["notes"] = record["notes"] + [f"no picture: {reason}"]
            result["failed"].append(f"{explorer.where(b.task)}: {reason}")
        writer.write_view(record, job.svg or b"")


def _walk(tasks: list[Task], explorer: Explorer, writer, max_level, report_progress=None,
          spill: int | None = None) -> dict:
    """Build, lay out and write every view of the subtrees under ``tasks``; returns where ops live.

    Boxes of more than ``spill`` ops are not opened here but returned
    (``"spilled"``), for another worker to take.
    """
    stack = list(reversed(tasks))
    pending: list[Built] = []
    result = {"homes": [], "views": 0, "closed": 0, "spilled": [], "simplified": [], "failed": []}
    spilled = result["spilled"]
    done_ops = found = 0
    while stack or pending:
        if stack:
            built = explorer.build(stack.pop(), max_level)
            pending.append(built)
            result["homes"].extend(built.homes)
            result["views"] += 1
            result["closed"] += sum(1 for e in built.record["nodes"].values() if e.get("closed"))
            for child in reversed(built.children):
                (spilled if spill is not None and child.size > spill else stack).append(child)
            found += len(built.children)
            done_ops += built.ops
        if len(pending) >= BATCH or (pending and not stack):
            _lay_out(pending, writer, explorer, result)
            if report_progress is not None:
                report_progress((done_ops, len(pending), found))
                done_ops = found = 0
            pending = []
    if report_progress is not None and (done_ops or found):
        report_progress((done_ops, 0, found))
    return result


def _worker(tasks: list[Task], spill: int) -> dict:
    state = _STATE
    return _walk(tasks, state["explorer"], state["writer"], state["max_level"], state["queue"].put, spill)


@dataclass
class Progress:
    """How far :func:`explore` is: ops placed of all, views laid out and views known still to lay out."""

    ops: int
    total_ops: int
    views: int
    left: int


def explore(g, output, *, training: bool | None = None, depth: int | None = None, jobs: int | None = None,
            progress=None, budget: "_budget.Budget | None" = None, weights_as_nodes: bool = False) -> Summary:
    """Write the explorer's site for ``g`` to the directory ``output`` (see :mod:`graphsurgeon.rendering.site`).

    Args:
        g: the Graph.
        output: the directory to write; an existing explorer site there is
            replaced, any other existing directory with files is refused.
        training: draw the training machinery in the network's views
            (``render --training``) instead of a tree of its own.
        depth: lay out this many levels of views below each root (1: the
            roots only); deeper boxes are left closed (``explore --serve``
            opens them on request). None: every view.
        jobs: worker processes (default: the cores this process may use).
        progress: called with a :class:`Progress` after each batch of views.
        budget: what each view may cost Graphviz (:class:`~graphsurgeon.rendering.budget.Budget`);
            a view past it is simplified or laid out by a cheaper method, and says so
            (``Summary.simplified``). A view that gets no picture at all is written
            without one and listed in ``Summary.failed``: the others are all written.
        weights_as_nodes: draw constants and variables read by one op as nodes
            of their own (by default: lines of that op's label, as ``render``).

    Returns:
        Summary: views written, ops, time and size.
    """
    start = time.perf_counter()
    output = Path(output)
    site.check_output(output, g)
    explorer = Explorer(g, training=training, budget=budget or _budget.DEFAULT, weights_as_nodes=weights_as_nodes)
    explorer.prepare()
    total_ops = sum(len(graph) for graph in explorer.graphs)
    roots = explorer.roots()
    state = Progress(0, total_ops, 0, len(roots))

    def tick(counts: tuple[int, int, int]) -> None:
        ops, views, found = counts
        state.ops = min(state.ops + ops, total_ops)
        state.views += views
        state.left += found - views
        if progress is not None:
            progress(state)

    with site.SiteWriter(output) as writer:
        result = _share(roots, explorer, writer, depth, jobs or _cores(), tick, total_ops)
        writer.finish(explorer.site_info(), explorer.graphs, result["homes"], result["views"])
    seconds = time.perf_counter() - start
    return Summary(path=output, views=result["views"], ops=total_ops, graphs=len(explorer.graphs), seconds=seconds,
                   bytes=writer.bytes, home=explorer.home, skipped=result["closed"],
                   simplified=sorted(result["simplified"]), failed=sorted(result["failed"]))


def _share(tasks: list[Task], explorer: Explorer, writer, depth, jobs: int, tick, total_ops: int) -> dict:
    """The subtrees under ``tasks``, walked by ``jobs`` forked workers (or here, for one job).

    A worker opens boxes of up to a sixteenth of a worker's share of the
    ops itself and hands bigger ones back, so that the big subtrees of a
    training graph (``train/gradients/``) are shared out too; the next task
    goes to whichever worker is free, biggest first.
    """
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return _walk(tasks, explorer, writer, depth, tick)
    spill = max(1, total_ops // (16 * jobs))
    context = multiprocessing.get_context("fork")
    queue = context.SimpleQueue()
    _STATE.update(explorer=explorer, writer=writer, max_level=depth, queue=queue)
    out = {"homes": [], "views": 0, "closed": 0, "simplified": [], "failed": []}
    # Ctrl-C is the parent's to handle: workers ignore it, and are stopped when the parent gives up;
    # they die with the parent however it ends, and their dot processes with them (see .processes).
    processes.prepare()
    # The workers share the indexed graph copy-on-write, but a collection walking the parent's
    # millions of objects writes into each one's header: every page of them copied into each worker.
    # Frozen, the collector leaves them alone (the 340-layer training graph: see BENCHMARKS.md).
    gc.freeze()
    processes.trim_heap()
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=processes.die_with_parent,
                               initargs=(os.getpid(),))
    try:
        waiting = sorted(tasks, key=lambda t: -t.size)
        futures = set()
        while waiting or futures:
            # Small subtrees go in bundles (one dot process lays out many of their views).
            while waiting and len(futures) < 2 * jobs:
                share = [waiting.pop(0)]
                while waiting and sum(t.size for t in share) + waiting[-1].size <= spill:
                    share.append(waiting.pop())
                futures.add(pool.submit(_worker, share, spill))
            finished, futures = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
            while not queue.empty():
                tick(queue.get())
            for future in finished:
                result = future.result()
                out["homes"].extend(result["homes"])
                out["views"] += result["views"]
                out["closed"] += result["closed"]
                out["simplified"] += result["simplified"]
                out["failed"] += result["failed"]
                waiting.extend(result["spilled"])
            waiting.sort(key=lambda t: -t.size)
        while not queue.empty():
            tick(queue.get())
        pool.shutdown()
    except BaseException:
        # Not ``with pool``: its exit waits for the running work (a dot laying out for minutes).
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()  # the work is abandoned: no worker may go on writing into the site
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        _STATE.clear()
        gc.unfreeze()
    return out


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
