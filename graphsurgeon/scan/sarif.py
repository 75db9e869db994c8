"""A scan report as SARIF 2.1.0, for code-scanning interfaces (one run, one rule per capability)."""
from __future__ import annotations

from ..vocab.optypes import CAPABILITIES

_LEVEL = {"high": "error", "medium": "warning", "low": "note", "info": "none"}
_EXTRA_RULES = {"custom-op": "unknown custom op", "peer-exchange": "exchanges tensors with its job's peers",
                "training-input": "reads training data"}


def message(finding: dict) -> str:
    """One sentence saying what a finding is."""
    where = f" in function {finding['function']}" if finding["function"] and not finding.get("keras") else ""
    text = f"{finding['type']} {finding['name']!r}{where} {finding['what']}"
    if finding.get("keras") and finding["function"]:
        text += f" (Python function {finding['function']!r})"
    values = [v for a in finding["arguments"].values() for v in a.get("values", ())]
    if values:
        text += ": " + ", ".join(repr(v) for v in values[:4])
    if finding["benign"]:
        text += f" [{finding['benign']}]"
    return text


def to_sarif(report: dict, version: str, include_info: bool = False) -> dict:
    rules = [{"id": key, "name": key, "shortDescription": {"text": text}}
             for key, text in list(CAPABILITIES.items()) + list(_EXTRA_RULES.items())]
    results = []
    notifications = []
    for record in report["models"]:
        if record["error"]:
            notifications.append({"level": "error", "message": {"text": record["error"]},
                                  "locations": [{"physicalLocation": {"artifactLocation": {"uri": record["model"]}}}]})
        for finding in record["findings"]:
            if finding["allowed"] or (finding["severity"] == "info" and not include_info):
                continue
            logical = {"name": finding["name"], "kind": "function" if finding.get("keras") is None else "member"}
            if finding["function"] and finding.get("keras") is None:
                logical["fullyQualifiedName"] = f"{finding['function']}/{finding['name']}"
            results.append({
                "ruleId": finding["capability"],
                "level": _LEVEL[finding["severity"]],
                "message": {"text": message(finding)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": record["model"]}},
                               "logicalLocations": [logical]}],
                "properties": {"severity": finding["severity"], "reached_from": finding["reached_from"]},
            })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "graphsurgeon scan", "version": version, "rules": rules}},
            "invocations": [{"executionSuccessful": not notifications,
                             "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    }
