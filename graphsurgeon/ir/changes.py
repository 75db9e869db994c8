"""What a rewrite changed: every rewrite returns one of these beside its graph."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..wording import plural


@dataclass
class Changes:
    """A description of an edit, for people (``str``) and for JSON (``as_dict``).

    ``dropped`` lists references that had to go with removed ops: collection
    entries, signature outputs, saver entries, each as a short sentence.
    ``details`` holds what a rewrite has to say beyond that, JSON-ready (the
    outputs a freeze resolved, the layers a re-head froze...).
    """

    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    def extend(self, other: "Changes") -> "Changes":
        self.removed += other.removed
        self.added += other.added
        self.changed += other.changed
        self.renamed.update(other.renamed)
        self.dropped += other.dropped
        self.notes += other.notes
        self.details.update(other.details)
        return self

    def __bool__(self) -> bool:
        return bool(self.removed or self.added or self.changed or self.renamed or self.dropped)

    def as_dict(self) -> dict:
        return {"removed": self.removed, "added": self.added, "changed": self.changed,
                "renamed": self.renamed, "dropped": self.dropped, "notes": self.notes,
                "details": {k: v.as_dict() if hasattr(v, "as_dict") else v for k, v in self.details.items()}}

    def __str__(self) -> str:
        parts = []
        for label, items in (("removed", self.removed), ("added", self.added), ("changed", self.changed)):
            if items:
                parts.append(f"{label} {plural(items, 'op')}")
        if self.renamed:
            parts.append(f"renamed {plural(self.renamed, 'op')}")
        if self.dropped:
            parts.append(f"dropped {plural(self.dropped, 'reference')}")
        return ", ".join(parts) or "no change"


@dataclass
class EditLog:
    """What edits to a Graph did, as they happened (see ``Graph.track_edits``).

    ``touched``: top-level ops added, removed, rewired or changed (by their
    name at the time); ``renamed``: old name -> final name; ``dropped``:
    MetaGraphDef references removed with their ops; ``functions``: library
    functions whose body was edited or that were removed.
    """

    touched: set = field(default_factory=set)
    renamed: dict = field(default_factory=dict)
    dropped: list = field(default_factory=list)
    functions: set = field(default_factory=set)

    def rename(self, mapping: dict) -> None:
        for old, new in list(self.renamed.items()):
            self.renamed[old] = mapping.get(new, new)
        for old, new in mapping.items():
            if old not in self.renamed.values():
                self.renamed.setdefault(old, new)
