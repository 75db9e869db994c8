"""Severities, from benign to dangerous, and what each capability is worth by default."""
from __future__ import annotations

from ..errors import UsageError

LEVELS = ("info", "low", "medium", "high")

# What an op of each capability is worth when nothing makes it benign.
DEFAULT = {
    "python": "high",
    "network": "high",
    "write-files": "high",
    "runs-graph": "high",
    "load-library": "medium",
    "read-files": "medium",
    "list-files": "medium",
    "denial-of-service": "medium",
    "custom-op": "low",
    "peer-exchange": "low",
    "training-input": "low",
}


def rank(level: str) -> int:
    return LEVELS.index(level)


def lower(level: str) -> str:
    """One step down (``info`` stays ``info``)."""
    return LEVELS[max(0, rank(level) - 1)]


def check(level: str) -> str:
    if level not in LEVELS:
        raise UsageError(f"unknown severity {level!r}", hint="one of " + ", ".join(LEVELS))
    return level
