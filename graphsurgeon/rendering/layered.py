"""A layered layout of our own: ranks, an order within each rank, coordinates. Linear in the picture's size.

Graphviz's ``dot`` draws the best pictures, but its running time depends on
the shape of the graph, not only its size: an edge spanning ``k`` ranks
becomes ``k`` virtual nodes that its crossing minimisation moves around
(a stub feeding each of 100 boxes in a chain is 5,000 of them, and ``dot``
works on that for many minutes). This module gives

- :func:`ranks`: a layering (longest path from the sources, sources pulled
  down next to what they feed, cycles broken at their back edges), which
  also serves to *predict* what ``dot`` will face: :func:`virtual_nodes`;
- :func:`place`: coordinates for every node, without virtual nodes, cluster
  frames or edge routing (a few barycentre sweeps order each rank, wide
  ranks wrap into rows), for ``neato -n2`` to draw with straight edges.

Everything is iterative (pictures can be chains thousands long).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

ROW_GAP = 56.0        # points between rows of nodes
NODE_GAP = 18.0       # points between neighbours in a row
MAX_ROW_WIDTH = 1800  # points: a wider rank wraps into several rows
SWEEPS = 4            # barycentre passes (down and up)


def _adjacency(nodes: Sequence[str], edges: Iterable[tuple[str, str]]):
    index = {n: i for i, n in enumerate(nodes)}
    succ: list[list[int]] = [[] for _ in nodes]
    pairs = set()
    for a, b in edges:
        i, j = index.get(a), index.get(b)
        if i is None or j is None or i == j or (i, j) in pairs:
            continue
        pairs.add((i, j))
        succ[i].append(j)
    return index, succ


def _acyclic(succ: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """A topological order of the graph with its DFS back edges dropped, and the successors kept."""
    n = len(succ)
    state = [0] * n          # 0 new, 1 on the stack, 2 done
    post: list[int] = []
    kept: list[list[int]] = [[] for _ in range(n)]
    for root in range(n):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, 0)]
        while stack:
            v, k = stack[-1]
            if k < len(succ[v]):
                stack[-1] = (v, k + 1)
                w = succ[v][k]
                if state[w] == 1:
                    continue  # a back edge: the cycle is broken here
                kept[v].append(w)
                if state[w] == 0:
                    state[w] = 1
                    stack.append((w, 0))
            else:
                state[v] = 2
                post.append(v)
                stack.pop()
    post.reverse()
    return post, kept


def ranks(nodes: Sequence[str], edges: Iterable[tuple[str, str]], first: Iterable[str] = (),
          last: Iterable[str] = ()) -> dict[str, int]:
    """A rank per node (0 at the top): every kept edge points down; ``first`` on the top rank, ``last`` at the bottom.

    Longest path from the sources, then each source that is not pinned is
    pulled down to just above the highest node it feeds (``dot`` does the
    same by shortening edges), so that a constant read by one op sits next
    to it, not on the top rank.
    """
    index, succ = _adjacency(nodes, edges)
    order, kept = _acyclic(succ)
    n = len(nodes)
    rank = [0] * n
    has_pred = [False] * n
    pinned_top = {index[f] for f in first if f in index}
    pinned_bottom = {index[x] for x in last if x in index}
    for v in order:
        r = rank[v] + 1
        for w in kept[v]:
            has_pred[w] = True
            if rank[w] < r:
                rank[w] = r
    for v in reversed(order):  # sinks of kept edges first: pulled sources see their successors final
        if not has_pred[v] and kept[v] and v not in pinned_top:
            rank[v] = max(0, min(rank[w] for w in kept[v]) - 1)
    if pinned_top:
        shift = 1 if any(rank[v] == 0 for v in range(n) if v not in pinned_top) else 0
        for v in range(n):
            rank[v] = 0 if v in pinned_top else rank[v] + shift
    if pinned_bottom:
        bottom = max((rank[v] for v in range(n) if v not in pinned_bottom), default=0) + 1
        for v in pinned_bottom:
            rank[v] = bottom
    return {name: rank[i] for i, name in enumerate(nodes)}


def virtual_nodes(rank: dict[str, int], edges: Iterable[tuple[str, str]]) -> int:
    """How many virtual nodes a layered layout with these ranks makes (an edge over ``k`` ranks makes ``k - 1``)."""
    total = 0
    for a, b in edges:
        ra, rb = rank.get(a), rank.get(b)
        if ra is not None and rb is not None:
            total += max(0, abs(rb - ra) - 1)
    return total


def place(nodes: Sequence[str], edges: Iterable[tuple[str, str]], sizes: dict[str, tuple[float, float]],
          first: Iterable[str] = (), last: Iterable[str] = ()) -> dict[str, tuple[float, float]]:
    """Centre coordinates in points (y grows downwards) of every node: ranks, ordered by barycentres, in rows.

    ``sizes``: each node's width and height in points (estimated from its
    label). A rank wider than MAX_ROW_WIDTH wraps into several rows.
    """
    edges = list(edges)
    rank = ranks(nodes, edges, first, last)
    by_rank: dict[int, list[str]] = {}
    for name in nodes:  # in the view's order: a stable start for the sweeps
        by_rank.setdefault(rank[name], []).append(name)
    levels = [by_rank[r] for r in sorted(by_rank)]
    up: dict[str, list[str]] = {n: [] for n in nodes}
    down: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        if a in up and b in up and a != b:
            if rank[a] <= rank[b]:
                down[a].append(b)
                up[b].append(a)
            else:
                down[b].append(a)
                up[a].append(b)
    position = {name: float(i) for level in levels for i, name in enumerate(level)}
    for sweep in range(SWEEPS):
        neighbours = up if sweep % 2 == 0 else down
        sequence = levels[1:] if sweep % 2 == 0 else levels[-2::-1]
        for level in sequence:
            def centre(name, _n=neighbours):
                found = _n[name]
                return sum(position[m] for m in found) / len(found) if found else position[name]
            level.sort(key=centre)
            for i, name in enumerate(level):
                position[name] = float(i)
    out: dict[str, tuple[float, float]] = {}
    y = 0.0
    for level in levels:
        rows: list[list[str]] = [[]]
        width = 0.0
        for name in level:
            w = sizes.get(name, (54.0, 36.0))[0]
            if rows[-1] and width + w > MAX_ROW_WIDTH:
                rows.append([])
                width = 0.0
            rows[-1].append(name)
            width += w + NODE_GAP
        for row in rows:
            total = sum(sizes.get(n, (54.0, 36.0))[0] for n in row) + NODE_GAP * (len(row) - 1)
            height = max(sizes.get(n, (54.0, 36.0))[1] for n in row)
            x = -total / 2
            for name in row:
                w = sizes.get(name, (54.0, 36.0))[0]
                out[name] = (x + w / 2, y + height / 2)
                x += w + NODE_GAP
            y += height + ROW_GAP
    return out
