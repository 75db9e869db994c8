"""Swap activations in a training graph; TensorFlow rebuilds the gradients only when they cannot be swapped.

:func:`~graphsurgeon.surgery.swap_ops.swap_ops` changes the op types and,
in a training graph, puts the new type's gradient op in place of each old
one, as TensorFlow's gradient functions build them (TensorFlow-free: the
training op, its optimizer and the global step stay as they were). A
gradient built otherwise (second order, custom) cannot be swapped op by op:
:func:`swap` then strips the training machinery and rebuilds it in
TensorFlow (:mod:`graphsurgeon.training.rebuild`), or, with
``rebuild=False``, refuses.
"""
from __future__ import annotations

from ..errors import RewriteError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..surgery.strip_training import strip_training
from ..surgery.swap_ops import swap_ops

__all__ = ["swap"]


def swap(g: Graph, op_type: str, to: str, *, attrs: dict | None = None, scope: str | None = None,
         rebuild: bool = True, training_op: str | None = None) -> tuple[Graph, Changes]:
    """Swap ``op_type`` ops (under ``scope``) to ``to``; returns ``(Graph, Changes)``.

    The ops are swapped at the top level and in every function body that
    holds them (``details["functions"]`` says what in each; see
    :func:`~graphsurgeon.surgery.swap_ops.swap_ops`). Gradients of the
    swapped ops are swapped with them (TensorFlow-free).
    Only those that cannot be, with ``rebuild``, make TensorFlow rebuild the
    training op (the result then carries a temporary checkpoint of the
    restored values); ``details["rebuilt"]`` says whether it did.

    Raises:
        RewriteError: gradients that cannot be swapped and ``rebuild=False``,
            or no checkpoint to restore a rebuilt graph from.
    """
    swapped, changes = swap_ops(g, op_type, to, attrs, scope, allow_gradients=rebuild)
    changes.details["rebuilt"] = False
    if not changes.details["unswapped"]:
        return swapped, changes
    if not g.checkpoint:
        raise RewriteError(f"{g.where}: rebuilding the gradients of the swapped ops needs the checkpoint",
                           hint="give the checkpoint directory or prefix")
    from .rebuild import rebuild_training  # imports TensorFlow on first use

    stripped, stripped_changes = strip_training(swapped, training_op)
    info = stripped_changes.details.pop("training")
    result, rebuilt = rebuild_training(stripped, info, g.checkpoint)
    changes.notes.extend(stripped_changes.notes)
    changes.details.update(rebuilt.details, rebuilt=True, removed_ops=len(stripped_changes.removed))
    return result, changes
