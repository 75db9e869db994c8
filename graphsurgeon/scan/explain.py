"""``scan --explain OPTYPE``: why an op type is classified as it is, from the registry audit and the scan's rules."""
from __future__ import annotations

from ..vocab import opaccess
from ..errors import NotFoundError
from ..vocab.optypes import WHILE_OPS
from . import dos as _dos
from . import savers as _savers
from . import severity as _severity

_FILE = ("read-files", "write-files", "list-files")


def explain(op_type: str) -> dict:
    """``{"op", "access", "what", "arguments", "benign_when", "why", "severity", "checks"}`` for an op type.

    Raises:
        NotFoundError: no registry shipped with graphsurgeon knows ``op_type`` (scan calls it a custom op).
    """
    entry = opaccess.access(op_type)
    if entry is None:
        raise NotFoundError("op type", op_type, opaccess.table(), where="TensorFlow's registry")
    checks = []
    if entry.access in _FILE:
        checks.append("a remote URL among its file names (gs://, s3://, http(s)://, grpc://...) makes it "
                      "'network', high")
        if entry.access != "write-files":
            checks.append("a file that holds secrets (/etc/shadow, ~/.ssh, /proc/self/environ, cloud credentials, "
                          ".netrc, keyrings) makes it high")
        if entry.access == "read-files":
            checks.append("a read whose every file name is one of the model's own assets is benign; an asset "
                          "name that leaves the model (absolute, ..) makes it high")
    if op_type in _savers.WRITES or op_type in _savers.READS:
        checks.append("the model's own saver and other Savers of a TF1 graph are benign (file name fed by the "
                      "loader, through savers' plumbing only); a write the restore op waits on is high")
    if op_type in _dos.ALLOCATIONS:
        checks.append(f"denial of service when its shape constants allocate more than "
                      f"{_dos.ALLOCATION_BUDGET >> 30} GiB (medium)")
    if op_type in WHILE_OPS or op_type == "LoopCond":
        checks.append("denial of service when its condition can never become false on constant inputs (medium)")
    if op_type in _dos.DEQUEUES:
        checks.append("denial of service when nothing in the model enqueues to (or closes) its queue (medium)")
    if entry.access == "runs-graph":
        checks.append("a graph serialized in a constant is parsed and scanned like the model (findings 'inside' "
                      "it); one the scan cannot read leaves this op high")
    default = _severity.DEFAULT.get(entry.access)
    return {
        "op": op_type,
        "access": entry.access,
        "what": opaccess.KINDS[entry.access],
        "arguments": [f"{kind}:{name}" for kind, name in entry.arguments],
        "benign_when": str(entry.benign) if entry.benign is not None else None,
        "why": entry.why,
        "severity": default,
        "checks": checks,
    }


def describe(data: dict) -> list[str]:
    """The lines ``scan --explain`` prints."""
    lines = [f"{data['op']}: {data['what']} ({data['access']})"]
    if data["access"] == "none":
        code, _, note = data["why"].partition(": ")
        lines.append(f"  why         {opaccess.NONE_CODES.get(code, code)}" + (f"; {note}" if note else ""))
    else:
        lines.append(f"  why         {data['why']}")
    if data["arguments"]:
        lines.append(f"  names       {', '.join(data['arguments'])}")
    if data["benign_when"]:
        lines.append(f"  benign when {data['benign_when']}")
    if data["severity"]:
        lines.append(f"  severity    {data['severity']} by default (one level lower when no entry point reaches it)")
    for check in data["checks"]:
        lines.append(f"  also        {check}")
    lines.append("  source      graphsurgeon/data/op_access.tsv (the registry audit)")
    return lines
