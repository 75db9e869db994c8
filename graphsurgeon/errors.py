"""One error hierarchy for everything graphsurgeon refuses to do.

Every error carries a one-line message that names the file or name at fault
and, where there is one, a hint. The CLI prints ``error: <message>`` and exits
with ``exit_code``; the library never prints.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class GraphSurgeonError(Exception):
    """Root of every error graphsurgeon raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class FormatError(GraphSurgeonError):
    """A file or directory is missing, unreadable, damaged or of an unknown kind."""

    def __init__(self, path, problem: str, hint: str | None = None):
        super().__init__(f"{path}: {problem}", hint)
        self.path = str(path)
        self.problem = problem


class NotFoundError(GraphSurgeonError):
    """A name (op, tensor, function, tag, signature, collection) is not in the graph."""

    def __init__(self, kind: str, name: str, candidates: Iterable[str] = (), where: str | None = None):
        suggestions = closest(name, candidates)
        hint = "did you mean " + ", ".join(repr(s) for s in suggestions) + "?" if suggestions else None
        place = f" in {where}" if where else ""
        super().__init__(f"no {kind} named {name!r}{place}", hint)
        self.kind = kind
        self.name = name
        self.suggestions = suggestions


class UsageError(GraphSurgeonError):
    """The request itself is malformed or ambiguous (CLI exit status 2)."""

    exit_code = 2


class AmbiguousError(GraphSurgeonError):
    """A choice has to be made by the user (for example which SavedModel tag)."""


class RewriteError(GraphSurgeonError):
    """A rewrite cannot be carried out on this graph; nothing was changed."""


class OutputError(GraphSurgeonError):
    """Writing a result failed or would overwrite something the user did not offer."""


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The few candidates most similar to ``name`` (for "did you mean" hints)."""
    pool = list(candidates)
    if not pool:
        return []
    found = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    if not found:
        # Fall back on the last path component: "hiden1/kernel" vs "hidden1/kernel".
        leaf = name.rsplit("/", 1)[-1].split(":")[0]
        found = [c for c in pool if c.rsplit("/", 1)[-1].split(":")[0] == leaf][:n]
    return found
