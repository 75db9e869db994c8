"""Where each op sits among the name scopes, in time linear in the length of its name.

Models from the internet can have names thousands of scope levels deep
(``a/a/a/.../op``). Listing an op's enclosing scopes as strings costs the
square of its depth in time and memory, so nothing here does: a scope is
found by its level (how many ``/``-separated parts), a prefix of a name is
cut only at the one level that is drawn, and the set of scopes is never
built. Whether a name is itself a scope (the variable ``hidden1/kernel``
with ``hidden1/kernel/read`` under it) is one binary search in the sorted
names.
"""
from __future__ import annotations

from bisect import bisect_left

NEVER = 1 << 62   # a level no name reaches


def sorted_names(g) -> list[str]:
    """The graph's op names, sorted (cached on the graph until its next edit)."""
    return g.derived("rendering.sorted_names", lambda graph: sorted(graph.node_defs))


def is_scope(names: list[str], name: str) -> bool:
    """Whether some op's name continues ``name/`` (``names`` sorted).

    Every name starting with ``name/`` sorts at or right after ``name/``, and
    nothing that does not start with it can sort between them.
    """
    probe = name + "/"
    i = bisect_left(names, probe)
    return i < len(names) and names[i].startswith(probe)


def levels(text: str) -> int:
    """How many scope levels a scope path has (``a/b`` has 2, the root ``""`` none)."""
    return text.count("/") + 1 if text else 0


def prefix(name: str, k: int) -> str:
    """``name`` up to its ``k``-th ``/`` (the whole name when it has fewer): its scope at level ``k``.

    ``split`` with a bound stops after ``k`` parts, at C speed.
    """
    parts = name.split("/", k)
    if len(parts) <= k:
        return name
    return name[: len(name) - len(parts[-1]) - 1]


def scope_path(name: str, own_scope: bool) -> str:
    """The scopes an op belongs to, as one string: its name's scope, or its whole name when it is a scope too."""
    if own_scope:
        return name
    cut = name.rfind("/")
    return name[:cut] if cut >= 0 else ""


def common_chars(a: str, b: str) -> int:
    """Length of the longest common prefix: a binary search of slice comparisons (C speed, long names)."""
    lo, hi = 0, min(len(a), len(b))
    if a[:hi] == b[:hi]:
        return hi
    hi -= 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def common_levels(a: str, b: str) -> int:
    """How many leading scope levels two scope paths share (``a/b/c`` and ``a/bb`` share 1)."""
    n = common_chars(a, b)
    if n == 0:
        return 0
    whole = a.count("/", 0, n)
    at_a = n == len(a) or a[n] == "/"
    at_b = n == len(b) or b[n] == "/"
    return whole + 1 if at_a and at_b else whole


def tree_order(path: str) -> str:
    """A sort key that orders scope paths as tuples of their parts (a parent before its children).

    ``/`` and NUL are recoded below every other character, so that
    ``a/b`` sorts before ``a-b`` as ``("a", "b")`` does before ``("a-b",)``;
    in this order the levels two paths share is the minimum over the
    neighbours between them, so neighbours alone give every branching level.
    """
    return path.replace("\x00", "\x00\x02").replace("/", "\x00\x01")


class Placement:
    """Every selected op's place: its levels, and where --collapse and --expand cut it.

    For op ``i``: ``depth[i]`` is how many scopes it belongs to,
    ``collapse_at[i]`` the level of the outermost --collapse scope holding it
    (NEVER if none), ``open_to[i]`` how many levels of it --expand opens.
    """

    def __init__(self, names: list[str], all_sorted: list[str], base_levels: int, collapse: set[str],
                 opened: set[str], base: str = ""):
        self.names = names
        self.base = base_levels
        # Every name continues ``base/``: cutting below it, only the rest of a name needs
        # splitting (a view 2,000 levels down would otherwise split each name 2,000 times).
        self._head = base + "/" if base and levels(base) == base_levels else ""
        self._rest: list[str | None] | None = None
        self.own = [is_scope(all_sorted, n) for n in names]
        self.depth = [n.count("/") + own for n, own in zip(names, self.own)]
        self.collapse_at = [NEVER] * len(names)
        self.open_to = [0] * len(names)
        for c in collapse:
            level, head = levels(c), c + "/"
            if level <= base_levels:
                continue
            for i, n in enumerate(names):
                if (n == c or n.startswith(head)) and level < self.collapse_at[i]:
                    self.collapse_at[i] = level
        for e in opened:
            for i, n in enumerate(names):
                shared = common_levels(scope_path(n, self.own[i]), e)
                if shared > self.open_to[i]:
                    self.open_to[i] = shared
        # One past the deepest scope: every op drawn itself.
        self.max_depth = max((d - base_levels for d in self.depth), default=0) + 1
        self._events: list[int] | None = None

    def level(self, i: int, depth: int) -> int:
        """The level of the box op ``i`` disappears into at ``depth`` (0: only --collapse), or NEVER."""
        k = max(self.base + depth, self.open_to[i] + 1) if depth > 0 else NEVER
        k = min(k, self.collapse_at[i])
        return k if k <= self.depth[i] else NEVER

    def key(self, i: int, depth: int) -> str:
        """Op ``i``'s visible node at ``depth``: ``scope/`` for a box, else its own name."""
        k = self.level(i, depth)
        if k == NEVER:
            return self.names[i]
        if self._head and k > self.base:
            rest = self._below()[i]
            if rest is not None:
                return self._head + prefix(rest, k - self.base) + "/"
        return prefix(self.names[i], k) + "/"

    def _below(self) -> list[str | None]:
        if self._rest is None:
            head, cut = self._head, len(self._head)
            self._rest = [n[cut:] if n.startswith(head) else None for n in self.names]
        return self._rest

    def keys(self, depth: int) -> list[str]:
        return [self.key(i, depth) for i in range(len(self.names))]

    def count(self, depth: int) -> int:
        return len(set(self.keys(depth)))

    def candidate_depths(self, start: int = 1) -> list[int]:
        """The depths from ``start`` on at which the number of visible nodes can change.

        Going one level deeper only splits boxes (a refinement); a box
        splits, or an op leaves it, only where two of its ops' scope paths
        part, an op's path ends, or --collapse/--expand cut. Between those
        levels the picture has as many nodes, so these are the only depths
        worth counting: a chain of 50,000 single-child scopes has two.
        """
        if self._events is None:
            events = set()
            for i in range(len(self.names)):
                events.update((self.depth[i], self.open_to[i] + 1))
                if self.collapse_at[i] != NEVER:
                    events.add(self.collapse_at[i])
            if self._head:  # every path continues base/: compare what follows (base levels shared)
                rests = self._below()
                paths = sorted((scope_path(r, own) for r, own in zip(rests, self.own) if r is not None),
                               key=tree_order)
                events.update(self.base + common_levels(a, b) for a, b in zip(paths, paths[1:]))
                if any(r is None for r in rests):
                    events.add(self.base)
            else:
                paths = sorted((scope_path(n, own) for n, own in zip(self.names, self.own)), key=tree_order)
                events.update(common_levels(a, b) for a, b in zip(paths, paths[1:]))
            self._events = sorted({e - self.base + shift for e in events for shift in (0, 1)})
        return [d for d in self._events if start <= d <= self.max_depth]
