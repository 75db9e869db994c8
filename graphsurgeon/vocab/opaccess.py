"""What each op type of TensorFlow's registry can reach outside the graph: the audit, read as data.

``data/op_access.tsv`` holds one line per op type of the shipped registry
(``data/ops.pb``): what its kernel can reach (files read, written or listed,
the network, Python, native code, a serialized graph it runs, the process
itself), the inputs and attributes that name what it reaches, when it is
benign (``PrintV2`` to standard error), and why; op types that reach nothing
say why too. The file's header says how it was decided. It is the one answer
to "which op types read files": :mod:`graphsurgeon.vocab.optypes` derives its
op-type sets from it, ``scan`` resolves the arguments it names and ``scan
--explain`` prints a line of it. ``tests/test_scan_audit.py`` fails when the
registry gains an op type nobody classified.

Example:
    >>> entry = access("ReadFile")
    >>> entry.access, entry.arguments, entry.why
    ('read-files', (('input', 'filename'),), 'reads the whole file named by filename')
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

TABLE = Path(__file__).parent.parent / "data" / "op_access.tsv"

# What each kind of access is called, from the most to the least dangerous (``none`` reaches nothing).
KINDS = {
    "python": "runs Python",
    "network": "reaches the network",
    "write-files": "writes files",
    "runs-graph": "runs a serialized graph",
    "load-library": "runs native code",
    "read-files": "reads files",
    "list-files": "lists files",
    "denial-of-service": "can deny service",
    "peer-exchange": "exchanges tensors with other devices or workers of its job",
    "none": "reaches nothing outside the graph",
}
# The codes an op type that reaches nothing is checked against (its why starts with one).
NONE_CODES = {
    "tensors": "takes no string, names no function and keeps no state: computes on tensors only",
    "text": "takes strings or string attributes as data (text, formats, keys, names); its kernel opens nothing",
    "state": "keeps its state in memory (variables, tables, queues, iterators, random state, device streams); "
             "opens nothing",
    "calls": "runs functions of the model's own library, which are scanned where they are",
}
ARGUMENT_KINDS = ("input", "attr", "queue", "client")


@dataclass(frozen=True)
class Benign:
    """When an op is benign: ``argument`` (kind, name) is ``empty``, or all its values are ``in`` ``values``."""

    argument: tuple[str, str]
    rule: str                    # "empty" or "in"
    values: tuple[str, ...] = ()

    def holds(self, values: list[str] | None) -> bool:
        """Whether resolved ``values`` (None: not resolved) make the op benign."""
        if values is None:
            return False
        if self.rule == "empty":
            return all(v == "" for v in values)
        return bool(values) and all(any(v.startswith(p[:-1]) if p.endswith("*") else v == p for p in self.values)
                                    for v in values)

    def __str__(self) -> str:
        name = f"{self.argument[0]}:{self.argument[1]}"
        return f"{name} empty" if self.rule == "empty" else f"{name} in {'|'.join(self.values)}"


@dataclass(frozen=True)
class OpAccess:
    """One line of the audit."""

    op: str
    access: str
    arguments: tuple[tuple[str, str], ...]
    benign: Benign | None
    why: str

    @property
    def code(self) -> str | None:
        """For access ``none``: ``tensors``, ``text``, ``state`` or ``calls``."""
        return self.why.split(":", 1)[0] if self.access == "none" else None


class AuditError(ValueError):
    """A line of the audit does not parse (a packaging bug, not a user error)."""


def _argument(text: str, line: int) -> tuple[str, str]:
    kind, _, name = text.partition(":")
    if kind not in ARGUMENT_KINDS or not name:
        raise AuditError(f"{TABLE.name}:{line}: argument {text!r} is not KIND:NAME")
    return kind, name


def parse(text: str) -> dict[str, OpAccess]:
    """The audit table ``text`` as op type -> :class:`OpAccess`."""
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 5:
            raise AuditError(f"{TABLE.name}:{number}: {len(fields)} fields, not 5")
        op, kind, arguments, benign, why = fields
        if kind not in KINDS:
            raise AuditError(f"{TABLE.name}:{number}: unknown access {kind!r}")
        args = tuple(_argument(a, number) for a in arguments.split()) if arguments != "-" else ()
        rule = None
        if benign != "-":
            parts = benign.split(" ", 2)
            if len(parts) == 2 and parts[1] == "empty":
                rule = Benign(_argument(parts[0], number), "empty")
            elif len(parts) == 3 and parts[1] == "in":
                rule = Benign(_argument(parts[0], number), "in", tuple(parts[2].split("|")))
            else:
                raise AuditError(f"{TABLE.name}:{number}: benign rule {benign!r} is not 'ARG empty' or 'ARG in A|B'")
        if op in out:
            raise AuditError(f"{TABLE.name}:{number}: {op} twice")
        out[op] = OpAccess(op, kind, args, rule, why)
    return out


@functools.lru_cache(maxsize=1)
def table() -> dict[str, OpAccess]:
    """The shipped audit (parsed once, on first need)."""
    return parse(TABLE.read_text(encoding="utf-8"))


def access(op_type: str) -> OpAccess | None:
    """The audit's line for ``op_type``, or None when the registry does not know it (a custom op)."""
    return table().get(op_type)


@functools.lru_cache(maxsize=None)
def op_types(kind: str) -> frozenset:
    """Every op type of access ``kind``."""
    if kind not in KINDS:
        raise KeyError(kind)
    return frozenset(op for op, entry in table().items() if entry.access == kind)
