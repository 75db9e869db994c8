"""The capability ops of one graph: what each can do, how it is reached, what it is pointed at, how bad it is.

Every op of the top level and of every library function body is classified
with :func:`graphsurgeon.vocab.optypes.capability` (or as a custom op, when no
registry knows its type). Benign patterns are recognised and kept, at
severity ``info`` with the reason in ``benign``:

- the model's own saver: save/restore ops that the ``saver_def`` runs (at
  top level, or in the ``__inference__traced_save/restore`` functions that
  only the saver calls), whose file name is the one the loader feeds;
- reads of the model's own assets: a file read whose every path is an
  ``AssetFileDef`` of the model (a plain file name, inside ``assets/``);
- printing to the process's standard streams or log (``PrintV2`` without
  ``file://``), debug ops without a destination, in-memory caches.

Training-input readers of a TF1 training graph (one that applies
gradients), not reached from a signature, are ``low`` ("reads training
data"). An op that a model with declared entry points reaches from none of
them is one level lower than it would be, and says so.
"""
from __future__ import annotations

import re

from ..vocab.opdefs import shipped
from ..vocab.optypes import (
    CAPABILITIES,
    FILE_READ_OPS,
    PEER_EXCHANGE_OPS,
    SAVE_RESTORE_TYPES,
    applies_gradients,
    capability,
    is_saver_function,
)
from . import severity as _severity
from .arguments import Resolver
from .reach import reach

# Readers of record files and datasets: what a TF1 input pipeline uses.
_TRAINING_READERS = frozenset(t for t in FILE_READ_OPS if t.endswith(("Reader", "ReaderV2", "Dataset", "DatasetV2"))
                              or t == "RecordInput")
_SAVER_SCOPE = re.compile(r"^(.*/)?save(_\d+)?/")
_STANDARD_STREAMS = ("stderr", "stdout", "log(info)", "log(warning)", "log(error)")


def _what(cap: str) -> str:
    return {"custom-op": "unknown custom op (needs its own native library)",
            "peer-exchange": "exchanges tensors with other devices or workers of its job",
            "training-input": "reads training data"}.get(cap) or CAPABILITIES[cap]


def _bodies(g):
    """``(function or None, NodeDef)`` for every op, top level first, then each function in name order."""
    for node in g.graph_def.node:
        yield None, node
    library = g.library
    for name in sorted(library):
        for node in library[name].node_def:
            yield name, node


def op_findings(g) -> tuple[list[dict], dict]:
    """``(findings, facts)`` for a Graph; ``facts`` holds its entry points and whether they are declared."""
    r = reach(g)
    resolver = Resolver(g, r.call_sites)
    registry = shipped()
    library = g.library
    training = g.meta_graph is not None and applies_gradients(g)
    findings = []
    for function, node in _bodies(g):
        cap = capability(node.op)
        if cap is None:
            if node.op in registry or node.op in library:
                continue
            cap = "custom-op"
        elif node.op in PEER_EXCHANGE_OPS:
            cap = "peer-exchange"
        args = resolver.arguments(function, node)
        route = r.route(function, node.name)
        finding = {
            "name": node.name,
            "type": node.op,
            "function": function,
            "capability": cap,
            "what": _what(cap),
            "severity": _severity.DEFAULT[cap],
            "benign": None,
            "reached_from": route[0] if route else None,
            "path": [step.as_dict() for step in route[1]] if route else [],
            "arguments": args,
            "unreachable": False,
            "meta_graph": None,
            "keras": None,
        }
        _grade(finding, node, r, resolver, training)
        findings.append(finding)
    facts = {"entry_points": r.entry_points, "declared": r.declared}
    return findings, facts


def _grade(finding: dict, node, r, resolver, training: bool) -> None:
    """Benign patterns, training input, unreachable ops: adjust severity, say why."""
    reason = _benign(finding, node, r, resolver)
    if reason:
        finding["benign"] = reason
        finding["severity"] = "info"
        return
    if training and node.op in _TRAINING_READERS and not _from_signature(finding):
        finding.update(capability="training-input", what=_what("training-input"),
                       severity=_severity.DEFAULT["training-input"])
    if finding["reached_from"] is None and r.declared:
        finding["severity"] = _severity.lower(finding["severity"])
        finding["unreachable"] = True


def _from_signature(finding: dict) -> bool:
    return bool(finding["reached_from"]) and finding["reached_from"].startswith(("signature ", "method "))


def _benign(finding: dict, node, r, resolver) -> str | None:
    args = finding["arguments"]
    op_type = node.op
    if op_type in SAVE_RESTORE_TYPES:
        saver = _saver(finding, node, r, resolver)
        if saver:
            return saver
    if op_type in FILE_READ_OPS and args and all(_own_assets(a) for a in args.values()):
        files = sorted({v for a in args.values() for v in a["values"]})
        return "reads the model's own asset" + ("s " if len(files) > 1 else " ") + ", ".join(
            f"assets/{f}" for f in files)
    if op_type == "PrintV2":
        stream = (args.get("output_stream") or {}).get("values") or ["stderr"]
        if all(s in _STANDARD_STREAMS for s in stream):
            return f"prints to {stream[0]}"
    if op_type.startswith("Debug") and not (args.get("debug_urls") or {}).get("values"):
        return "debug op without a destination (no debug_urls)"
    if op_type in ("CacheDataset", "CacheDatasetV2"):
        name = args.get("filename") or {}
        if name.get("source") == "constant" and name.get("values") == [""]:
            return "caches in memory (no file name)"
    return None


def _own_assets(arg: dict) -> bool:
    if arg.get("source") != "asset" or not arg.get("values"):
        return False
    # The loader joins assets/ and the file name: a name with a separator or ".." could leave the folder.
    return all(v and "/" not in v and "\\" not in v and v not in (".", "..") for v in arg["values"])


def _saver(finding: dict, node, r, resolver) -> str | None:
    """Why a save/restore op is a saver's: the model's own (``saver_def``), or another Saver of a TF1 graph."""
    function = finding["function"]
    own = True
    if function is None:
        if finding["name"] not in r.saver_ops:
            # Another tf.compat.v1.train.Saver left in the graph: its scope, its file name fed when it runs.
            own = False
            if not _SAVER_SCOPE.match(finding["name"]):
                return None
    elif not is_saver_function(function) or not _callers(r, function) or \
            not all(c in r.saver_ops for c in _callers(r, function)):
        return None
    paths = [resolver.path_tensor(function, node, name) for name in ("prefix", "filename", "file_pattern",
                                                                     "destination_prefix")]
    paths = [t for t in paths if t is not None]
    # Every file name must come from the saver's file name tensor; what is joined to it stays beside it.
    if not paths or not all(resolver.derives_from_saver(function, t, fed=not own) for t in paths):
        return None
    parts = [p for a in finding["arguments"].values() for p in a.get("parts", ())]
    if any(".." in p or p.startswith(("/", "\\")) or "://" in p for p in parts):
        return None
    if own:
        return "the model's own saver (its checkpoint, under variables/ in a SavedModel)"
    return "a Saver of the graph, not run on load (its file name is fed when it runs)"


def _callers(r, function: str) -> set[str]:
    """Top-level ops from which ``function`` is called (through nested saver functions too)."""
    out, stack, seen = set(), [function], {function}
    while stack:
        name = stack.pop()
        for caller, op, _ in r.call_sites.get(name, ()):
            if caller is None:
                out.add(op)
            elif caller not in seen:
                if not is_saver_function(caller):
                    return set()  # called from a body that is not the saver's
                seen.add(caller)
                stack.append(caller)
    return out
