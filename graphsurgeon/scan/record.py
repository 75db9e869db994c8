"""A finding's record, and the op bodies findings are looked for in: what every kind of finding shares."""
from __future__ import annotations

from ..vocab import opaccess
from . import severity as _severity


def what(capability: str) -> str:
    """A capability in words."""
    return {"custom-op": "unknown custom op (needs its own native library)",
            "training-input": "reads training data"}.get(capability) or opaccess.KINDS[capability]


def bodies(g):
    """``(function or None, NodeDef)`` for every op, top level first, then each function in name order."""
    for node in g.graph_def.node:
        yield None, node
    library = g.library
    for name in sorted(library):
        for node in library[name].node_def:
            yield name, node


def new_finding(node, function, capability: str, route) -> dict:
    """A finding's record for op ``node``, at its capability's default severity."""
    return finding(node.name, node.op, function, capability, reached_from=route[0] if route else None,
                   path=[step.as_dict() for step in route[1]] if route else [])


def finding(name: str, kind: str, function, capability: str, *, description: str | None = None,
            severity: str | None = None, reason: str | None = None, reached_from=None, path=(),
            keras=None) -> dict:
    """A finding's record (every key the JSON has); ``description`` and ``severity`` default to the capability's."""
    return {
        "name": name,
        "type": kind,
        "function": function,
        "capability": capability,
        "what": description if description is not None else what(capability),
        "severity": severity if severity is not None else _severity.DEFAULT[capability],
        "benign": None,
        "reason": reason,
        "reached_from": reached_from,
        "path": list(path),
        "arguments": {},
        "unreachable": False,
        "meta_graph": None,
        "inside": None,
        "member": None,
        "keras": keras,
    }
