"""Swap activations in a training graph, rebuilding the gradients in TensorFlow when it has them.

:func:`~graphsurgeon.surgery.swap_ops.swap_ops` changes the op types
(TensorFlow-free). A training graph also holds the gradients of the old
ops; :func:`swap` then strips the training machinery and rebuilds it
(:mod:`graphsurgeon.training.rebuild`), or, with ``rebuild=False``, refuses.
"""
from __future__ import annotations

from ..errors import RewriteError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..surgery.strip_training import strip_training
from ..surgery.swap_ops import swap_ops
from .rebuild import rebuild_training

__all__ = ["swap"]


def swap(g: Graph, op_type: str, to: str, *, attrs: dict | None = None, scope: str | None = None,
         rebuild: bool = True) -> tuple[Graph, Changes]:
    """Swap ``op_type`` ops (under ``scope``) to ``to``; returns ``(Graph, Changes)``.

    Without gradients of the swapped ops this is :func:`swap_ops` alone
    (TensorFlow-free). With them, and ``rebuild``, the training op is rebuilt
    in TensorFlow (the result carries a temporary checkpoint of the restored
    values); ``details["rebuilt"]`` says which happened.

    Raises:
        RewriteError: gradients of the swapped ops and ``rebuild=False``, or
            no checkpoint to restore the rebuilt graph from.
    """
    swapped, changes = swap_ops(g, op_type, to, attrs, scope, allow_gradients=rebuild)
    changes.details["rebuilt"] = False
    if not changes.details["gradients"]:
        return swapped, changes
    if not g.checkpoint:
        raise RewriteError(f"{g.where}: rebuilding the gradients of the swapped ops needs the checkpoint",
                           hint="give the checkpoint directory or prefix")
    stripped, stripped_changes = strip_training(swapped)
    info = stripped_changes.details.pop("training")
    result, rebuilt = rebuild_training(stripped, info, g.checkpoint)
    changes.notes.extend(stripped_changes.notes)
    changes.details.update(rebuilt.details, rebuilt=True, removed_ops=len(stripped_changes.removed))
    return result, changes
