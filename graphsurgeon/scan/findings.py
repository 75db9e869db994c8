"""The capability ops of one graph: what each can do, how it is reached, what it is pointed at, how bad it is.

Every op of the top level and of every library function body is looked up
in the registry audit (:mod:`graphsurgeon.vocab.opaccess`); an op type no registry
knows is a custom op. Its arguments are resolved (:mod:`.arguments`), and
its severity starts from its capability's (:mod:`.severity`), then:

- benign patterns are kept at ``info`` with the reason in ``benign``: the
  model's own saver and the other Savers of a graph (:mod:`.savers`), reads
  of the model's own assets (a file name inside ``assets/``), and what the
  audit's "benign when" rule allows (``PrintV2`` to standard error, debug
  ops without a destination, an in-memory cache...);
- a remote URL among the file names makes a file op ``network``, high; a
  file that holds secrets makes a read high; an asset name that leaves the
  model (absolute, ``..``) makes the read high, and says which file
  TensorFlow opens; a write the saver's restore op waits on is high; the
  reason is in ``reason``;
- training-input readers of a TF1 training graph (one that applies
  gradients), not reached from a signature, are ``low``; an op that a model
  with declared entry points reaches from none of them is one level lower
  than it would be, and says so.

Denial of service (:mod:`.dos`) adds findings of its own, and a graph
serialized in a constant that an op deserializes and runs is scanned like
the model (:mod:`.embedded`).
"""
from __future__ import annotations

from ..vocab import opaccess
from ..vocab.opdefs import shipped
from ..vocab.optypes import FILE_READ_OPS, applies_gradients
from . import dos as _dos
from . import embedded
from . import paths as _paths
from . import severity as _severity
from .arguments import Resolver
from .record import bodies, new_finding, what
from .reach import reach
from .savers import Savers

# Readers of record files and datasets: what a TF1 input pipeline uses.
_TRAINING_READERS = frozenset(t for t in FILE_READ_OPS if t.endswith(("Reader", "ReaderV2", "Dataset", "DatasetV2"))
                              or t == "RecordInput")
_FILE_CAPABILITIES = ("read-files", "write-files", "list-files")


def op_findings(g, *, model_dir=None, depth: int = 0) -> tuple[list[dict], dict]:
    """``(findings, facts)`` for a Graph; ``facts`` holds its entry points and whether they are declared.

    ``model_dir``: the model's folder (asset names are judged against it);
    ``depth``: how many serialized graphs this one is nested in.
    """
    r = reach(g)
    resolver = Resolver(g, r.call_sites, model_dir)
    savers = Savers(r, resolver)
    registry = shipped()
    library = g.library
    training = g.meta_graph is not None and applies_gradients(g)
    findings = []
    table = opaccess.table()
    watched, watch = [], _dos.WATCHED
    for function, node in bodies(g):
        op = node.op
        entry = table.get(op)
        if entry is None:
            if op in library or op in registry:
                continue
            capability = "custom-op"
        elif entry.access == "none":
            if op in watch:
                watched.append((function, node))
            continue
        else:
            capability = entry.access
        finding = new_finding(node, function, capability, r.route(function, node.name))
        finding["arguments"] = resolver.arguments(function, node)
        _grade(finding, node, entry, r, savers, training)
        findings.append(finding)
        if capability == "runs-graph":
            findings.extend(embedded.findings(finding, function, node, resolver, model_dir, depth, op_findings))
    for finding in _dos.findings(watched, r, resolver):
        _lower_if_unreachable(finding, r)
        findings.append(finding)
    facts = {"entry_points": r.entry_points, "declared": r.declared}
    return findings, facts


def _grade(finding: dict, node, entry, r, savers, training: bool) -> None:
    """Benign patterns, what the file names say, training input, unreachable ops: severity and why."""
    benign, reason = _benign(finding, node, entry, savers)
    if benign:
        finding["benign"] = benign
        finding["severity"] = "info"
        return
    if reason:
        finding["reason"] = reason
        finding["severity"] = "high"
    names = _paths.named(finding["arguments"])
    if training and node.op in _TRAINING_READERS and not _from_signature(finding) and \
            not any(_paths.secret(v) for v in names):
        # A TF1 training graph's input pipeline (its data may well live on gs://), not a secret.
        remote = [v for v in names if _paths.remote(v)]
        finding.update(capability="training-input", what=what("training-input"),
                       severity=_severity.DEFAULT["training-input"],
                       reason=f"reads training data from {remote[0]}" if remote else None)
        _lower_if_unreachable(finding, r)
        return
    if finding["capability"] in _FILE_CAPABILITIES:
        _judge_names(finding)
    if finding["capability"] == "denial-of-service":
        finding["reason"] = entry.why + (f" ({', '.join(names[:3])})" if names else "")
    if finding["capability"] == "runs-graph" and node.op == "DeserializeIterator":
        finding["severity"] = "medium"
        finding["reason"] = "restores an iterator from serialized state: the graph of its dataset is not scanned"
    _lower_if_unreachable(finding, r)


def _lower_if_unreachable(finding: dict, r) -> None:
    if finding["reached_from"] is None and r.declared and finding["severity"] != "info":
        finding["severity"] = _severity.lower(finding["severity"])
        finding["unreachable"] = True


def _judge_names(finding: dict) -> None:
    """A remote URL: network, high; a secret read, an asset outside the model: high."""
    args = finding["arguments"]
    names = _paths.named(args)
    joined = ["".join(a.get("parts") or ()) for a in args.values() if a.get("parts")]
    for value in names + joined:
        scheme = _paths.remote(value)
        if scheme:
            finding.update(capability="network", what=what("network"), severity="high",
                           reason=f"a {scheme}:// URL: {value}")
            return
    outside = [v for a in args.values() if a.get("outside") for v in a.get("values") or ()]
    if outside:
        assets = [n for a in args.values() for n in a.get("assets") or ()]
        finding.update(severity="high", reason=f"the asset file name {assets[0]!r} leaves the model: "
                                               f"TensorFlow opens {outside[0]}")
        return
    if finding["capability"] in ("read-files", "list-files"):
        for value in names + joined:
            if _paths.secret(value):
                finding.update(severity="high", reason=f"a file that holds secrets: {value}")
                return


def _from_signature(finding: dict) -> bool:
    return bool(finding["reached_from"]) and finding["reached_from"].startswith(("signature ", "method "))


def _benign(finding: dict, node, entry, savers) -> tuple[str | None, str | None]:
    """``(why the op is benign, why it is worse than its capability)``: at most one of them."""
    args = finding["arguments"]
    benign, reason = savers.judge(finding["function"], node, finding["reached_from"])
    if benign or reason:
        return benign, reason
    if node.op in FILE_READ_OPS and args and all(_own_asset(a) for a in args.values()):
        files = sorted({v for a in args.values() for v in a["values"]})
        return "reads the model's own asset" + ("s " if len(files) > 1 else " ") + ", ".join(
            f"assets/{f}" for f in files), None
    rule = entry.benign if entry is not None else None
    if rule is not None:
        arg = args.get(rule.argument[1])
        values = None
        if arg is not None and arg["source"] in ("constant", "attr"):
            values = arg["values"]
        elif arg is None and rule.rule == "empty":
            values = []  # no such attribute: nothing named
        if rule.holds(values):
            name = rule.argument[1]
            if rule.rule == "empty":
                return f"{name} is empty: it names nothing", None
            return f"{name} = {', '.join(values)}", None
    return None, None


def _own_asset(arg: dict) -> bool:
    return arg.get("source") == "asset" and bool(arg.get("values")) and not arg.get("outside") and \
        all(v for v in arg["values"])
