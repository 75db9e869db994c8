"""What a team accepts: the threshold that fails a scan and the findings it allows.

A policy file is JSON::

    {"fail_on": "high",
     "allow": ["PrintV2",
               {"type": "ReadFile", "value": "/data/*"},
               {"capability": "network", "model": "models/serving/*"}]}

An ``allow`` entry is an op type (a string, also a Keras finding's type such
as ``"Lambda layer"``), or an object whose keys must all match a finding:
``type``, ``capability``, ``name``, ``function`` (shell patterns), ``model``
(a pattern over the model's path), ``value`` (a pattern that every resolved
argument value must match; a finding with no resolved value never matches
it). Allowed findings stay in the report with ``"allowed": true`` and do
not count toward the verdict.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from ..errors import UsageError
from . import severity as _severity

_KEYS = ("type", "capability", "name", "function", "model", "value")


@dataclass
class Policy:
    fail_on: str = "medium"
    allow: list = field(default_factory=list)

    def allows(self, finding: dict, model: str) -> bool:
        return any(_matches(rule, finding, model) for rule in self.allow)

    def as_dict(self) -> dict:
        return {"fail_on": self.fail_on, "allow": self.allow}


def _matches(rule, finding: dict, model: str) -> bool:
    if isinstance(rule, str):
        return finding["type"] == rule
    for key, pattern in rule.items():
        if key == "model":
            if not fnmatchcase(model, pattern):
                return False
        elif key == "value":
            values = [v for a in finding.get("arguments", {}).values() for v in a.get("values", ())]
            if not values or not all(fnmatchcase(v, pattern) for v in values):
                return False
        elif not fnmatchcase(str(finding.get(key)), pattern):
            return False
    return True


def _check_rule(rule, where: str):
    if isinstance(rule, str) and rule:
        return rule
    if isinstance(rule, dict) and rule and all(k in _KEYS and isinstance(v, str) for k, v in rule.items()):
        return rule
    raise UsageError(f"{where}: an allow entry is an op type or an object of {', '.join(_KEYS)} "
                     f"(strings), not {json.dumps(rule)[:80]}")


def load_policy(path=None, *, fail_on: str | None = None, allow=()) -> Policy:
    """The policy of a file (or the default), with command-line ``fail_on`` and ``allow`` on top."""
    policy = Policy()
    if path is not None:
        from ..formats.protofile import read_file

        try:
            data = json.loads(read_file(path, limit=1 << 20).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise UsageError(f"{path}: policy file is not JSON") from None
        if not isinstance(data, dict) or set(data) - {"fail_on", "allow"}:
            raise UsageError(f"{path}: a policy is an object with fail_on and allow")
        if "fail_on" in data:
            policy.fail_on = _severity.check(data["fail_on"])
        if not isinstance(data.get("allow", []), list):
            raise UsageError(f"{path}: allow is a list")
        policy.allow = [_check_rule(r, str(path)) for r in data.get("allow", [])]
    if fail_on is not None:
        policy.fail_on = _severity.check(fail_on)
    policy.allow += [_check_rule(r, "--allow") for r in allow]
    return policy


def judge(record: dict, policy: Policy) -> dict:
    """Mark allowed findings and set ``verdict``, ``severity`` and ``counts`` of one model's record."""
    threshold = _severity.rank(policy.fail_on)
    counts = {level: 0 for level in _severity.LEVELS}
    worst = None
    for finding in record["findings"]:
        finding["allowed"] = policy.allows(finding, record["model"])
        if finding["allowed"]:
            continue
        counts[finding["severity"]] += 1
        if worst is None or _severity.rank(finding["severity"]) > _severity.rank(worst):
            worst = finding["severity"]
    record["counts"] = counts
    record["severity"] = worst
    if record["error"] is not None:
        record["verdict"] = "error"
    elif worst is not None and _severity.rank(worst) >= threshold:
        record["verdict"] = "fail"
    else:
        record["verdict"] = "pass"
    return record
