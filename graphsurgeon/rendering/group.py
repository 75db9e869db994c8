"""Fitting a picture into a node budget by grouping siblings: ``layer0…layer499 ×500``.

When collapsing scopes still leaves too many nodes (500 sibling scopes
``layer0`` … ``layer499`` at the root), siblings are drawn together:

1. runs of siblings whose names differ only by a number (``layer0``,
   ``layer1``, ...; TensorFlow's ``dense``, ``dense_1``, ``dense_2``) become
   one node, largest runs first, until the picture fits;
2. if it still does not fit, the remaining siblings of the fullest scopes
   are cut into alphabetical ranges (``a…f ×120``).

A group's ops are all its members' ops, so counts and edges stay exact.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBERED = re.compile(r"(.*?)_?(\d{1,18})")  # bounded: int() of a 5,000-digit leaf would raise


@dataclass
class Sibling:
    """One visible node before grouping."""

    key: str
    container: str     # the expanded scope it is drawn in ("" at the top)
    leaf: str          # its name inside the container
    family: str        # what may be grouped with it: "scope", or the op type

    def __post_init__(self):
        # Computed once: fit() may run a few times over the same siblings.
        m = _NUMBERED.fullmatch(self.leaf)
        self.stem = m.group(1) if m else self.leaf
        self.order = (self.stem, int(m.group(2))) if m else (self.leaf, -1)


@dataclass
class Group:
    """Siblings drawn as one node."""

    key: str
    container: str
    siblings: list[Sibling]            # in order: by number for a run, by name for a range
    label: str                         # "layer0…layer499 ×500"
    kind: str                          # "run" (numbered) or "range"

    @property
    def members(self) -> list[str]:
        return [s.key for s in self.siblings]


def fit(siblings: list[Sibling], budget: int, *, numbered_only: bool = False,
        taken: set[str] = frozenset(), max_run: int | None = None) -> list[Group]:
    """The groups that bring ``siblings`` down to ``budget`` nodes (or as close as numbered runs get).

    ``numbered_only`` stops after step 1 (used to judge whether a deeper
    view would fit). ``taken``: keys already in use, that no group may reuse.
    ``max_run``: a run longer than this is cut into consecutive groups of
    this many (the explorer's view of one group: ``layer0…layer99 ×100``, ...).
    """
    count = len(siblings)
    if count <= budget:
        return []
    taken = set(taken)
    runs: dict[tuple, list[Sibling]] = {}
    for s in siblings:
        runs.setdefault((s.container, s.family, s.stem), []).append(s)
    groups: list[Group] = []
    for members in sorted((r for r in runs.values() if len(r) > 1), key=lambda r: (-len(r), r[0].key)):
        if count <= budget:
            break
        ordered = sorted(members, key=lambda s: s.order)
        size = max_run if max_run and len(ordered) > max_run else len(ordered)
        for start in range(0, len(ordered), size):
            chunk = ordered[start:start + size]
            if len(chunk) > 1:
                groups.append(_group(chunk, "run", taken))
                count -= len(chunk) - 1
    if count <= budget or numbered_only:
        return groups
    # Alphabetical ranges, fullest container first, until the count fits.
    grouped = {key for g in groups for key in g.members}
    loose: dict[str, list] = {}
    for item in [s for s in siblings if s.key not in grouped] + groups:
        loose.setdefault(item.container, []).append(item)
    for container in sorted(loose, key=lambda c: (-len(loose[c]), c)):
        if count <= budget:
            break
        items = sorted(loose[container], key=lambda item: (item.siblings[0] if isinstance(item, Group) else item).order)
        if len(items) < 2:
            continue
        others = count - len(items)
        chunks = max(1, min(len(items) - 1, budget - others))
        size = -(-len(items) // chunks)
        for start in range(0, len(items), size):
            chunk = items[start:start + size]
            if len(chunk) == 1:
                continue
            members = []
            for item in chunk:
                if isinstance(item, Group):
                    groups.remove(item)
                    members.extend(item.siblings)
                else:
                    members.append(item)
            groups.append(_group(members, "range", taken, ends=(_ends(chunk[0])[0], _ends(chunk[-1])[1])))
            count -= len(chunk) - 1
    return groups


def _ends(item) -> tuple[str, str]:
    if isinstance(item, Group):
        return item.siblings[0].leaf, item.siblings[-1].leaf
    return item.leaf, item.leaf


def _group(members: list[Sibling], kind: str, taken: set[str], ends: tuple[str, str] | None = None) -> Group:
    container = members[0].container
    first, last = ends or (members[0].leaf, members[-1].leaf)
    label = f"{first}…{last} ×{len(members):,}"
    where = container + "/" if container else ""
    key, n = where + label, 2
    while key in taken:  # a real op could be called that
        key, n = f"{where}{label} #{n}", n + 1
    taken.add(key)
    return Group(key=key, container=container, siblings=members, label=label, kind=kind)
