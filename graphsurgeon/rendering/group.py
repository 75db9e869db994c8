"""Fitting a picture into a node budget by grouping siblings: ``layer0…layer499 ×500``.

When collapsing scopes still leaves too many nodes (500 sibling scopes
``layer0`` … ``layer499`` at the root), siblings are drawn together:

1. runs of siblings whose names differ only by one number (``layer0``,
   ``layer1``, ...; TensorFlow's ``dense``, ``dense_1``, ``dense_2``; Keras's
   ``block0_conv1``, ``block1_conv1``, ... where the number that varies most
   among siblings of that name shape is the one that counts, so
   ``block12_conv1`` and ``block12_conv2`` stay apart) become one node,
   largest runs first, until the picture fits; then every other run of the
   same length in that scope too (the other layers of a repeated block:
   grouping only some of them draws half a block as groups and half as
   layers);
2. if it still does not fit, the remaining siblings of the fullest scopes
   are cut into ranges in natural order (``a…f ×120``; ``x2`` before ``x10``).

A group's ops are all its members' ops, so counts and edges stay exact.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = re.compile(r"(\d{1,18})")  # bounded: int() of a 5,000-digit leaf would raise


@dataclass
class Sibling:
    """One visible node before grouping."""

    key: str
    container: str     # the expanded scope it is drawn in ("" at the top)
    leaf: str          # its name inside the container
    family: str        # what may be grouped with it: "scope", or the op type

    def __post_init__(self):
        # Computed once: fit() may run a few times over the same siblings.
        parts = _NUMBER.split(self.leaf)
        self.texts = tuple(parts[0::2])                   # the name's shape: its text between numbers
        self.numbers = tuple(int(p) for p in parts[1::2])
        # Natural order: text and numbers alternate, so that layer2 sorts before layer10.
        self.order = tuple(int(p) if i % 2 else p for i, p in enumerate(parts))
        self.stem, self.number = self.leaf, -1          # set by runs(): what its run is called, its place in it


def runs(siblings: list[Sibling]) -> dict[tuple, list[Sibling]]:
    """Siblings whose names differ by one number, per container and family: ``{key: members}``.

    Among siblings of one name shape (``block{N}_conv{M}``) the number that
    takes the most values varies (ties: the last one): ``block0_conv1`` …
    ``block263_conv1`` are one run, ``block0_conv2`` … another. A trailing
    number's run takes the bare name too (``dense``, ``dense_1``, ``dense_2``).
    """
    shapes: dict[tuple, list[Sibling]] = {}
    for s in siblings:
        if s.numbers:
            shapes.setdefault((s.container, s.family, s.texts), []).append(s)
    for members in shapes.values():
        width = len(members[0].numbers)
        counts = [len({s.numbers[i] for s in members}) for i in range(width)]
        at = max(range(width), key=lambda i: (counts[i], i))
        for s in members:
            before = "".join(t + str(n) for t, n in zip(s.texts[:at], s.numbers[:at])) + s.texts[at]
            after = s.texts[at + 1] + "".join(str(n) + t for n, t in zip(s.numbers[at + 1:], s.texts[at + 2:]))
            # dense_1 is run "dense" (the bare dense joins it); block0_conv1 is run "block{N}_conv1"
            s.stem = (before[:-1] if before.endswith("_") else before) if not after else f"{before}{{N}}{after}"
            s.number = s.numbers[at]
    out: dict[tuple, list[Sibling]] = {}
    for s in siblings:
        out.setdefault((s.container, s.family, s.stem), []).append(s)
    return out


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
    lengths: set[tuple[str, int]] = set()   # (container, run length) of the runs grouped
    groups: list[Group] = []
    for members in sorted((r for r in runs(siblings).values() if len(r) > 1), key=lambda r: (-len(r), r[0].key)):
        if count <= budget and (members[0].container, len(members)) not in lengths:
            continue
        lengths.add((members[0].container, len(members)))
        ordered = sorted(members, key=lambda s: (s.number, s.order))
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
