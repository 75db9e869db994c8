"""Rewrites: functions ``rewrite(graph, ...) -> (Graph, Changes)``, one per module, TensorFlow-free.

Each is declared with :func:`graphsurgeon.surgery.rewrite.rewrite` (``gs.rewrite``): it edits a copy of
its input, its preconditions are declared once, and the contract
(:mod:`graphsurgeon.surgery.contract`) is checked in one place (:func:`~graphsurgeon.surgery.rewrite.conclude`).
The jobs that need TensorFlow to build or train (a new head, a rebuilt
training op) live in :mod:`graphsurgeon.training`.
"""
from __future__ import annotations

from .fold_bn import fold_batch_norms
from .freeze import freeze
from .freeze_layers import freeze_layers
from .pin_inference import pin_inference
from .prepare_rehead import prepare_rehead
from .prune import needed_ops, prune
from .strip_training import strip_training
from .swap_ops import swap_ops
from .transplant import transplant

__all__ = ["prune", "needed_ops", "freeze", "fold_batch_norms", "swap_ops", "transplant", "strip_training",
           "pin_inference", "prepare_rehead", "freeze_layers"]
