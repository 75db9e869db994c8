"""Rewrites: functions Graph -> (Graph, Changes), one per module."""
from __future__ import annotations

from .diff import GraphDiff, diff
from .prune import needed_ops, prune

__all__ = ["prune", "needed_ops", "diff", "GraphDiff"]
from .freeze import freeze  # noqa: E402  (freeze developer: appended)
from .fold_bn import fold_batch_norms  # noqa: E402  (freeze developer: appended)
from .rehead import rehead  # noqa: E402  (layer-reuse developer: appended)
from .freeze_layers import freeze_layers  # noqa: E402  (layer-reuse developer: appended)
from .swap import swap, swap_ops, transplant  # noqa: E402  (layer-reuse developer: appended)
