"""Freeze layers of a training graph: they leave ``trainable_variables`` and the training op.

Editing the ``trainable_variables`` collection alone does not freeze
anything: the training op already holds gradients and update ops for every
variable it was built over. So :func:`freeze_layers` strips the training
machinery (:func:`~graphsurgeon.surgery.strip_training.strip_training`),
pins frozen batch norms to inference mode
(:func:`~graphsurgeon.surgery.pin_inference.pin_inference`), and rebuilds
the training op over the remaining variables in TensorFlow
(:func:`~graphsurgeon.training.rebuild.rebuild_training`).
"""
from __future__ import annotations

from ..analysis.layers import block, layers
from ..errors import UsageError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..surgery.pin_inference import pin_inference
from ..surgery.strip_training import TRAINING_OP_COLLECTIONS, strip_training
from .rebuild import rebuild_training

__all__ = ["freeze_layers"]


def freeze_layers(g: Graph, scopes, *, training_op: str | None = None, loss: str | None = None,
                  collections=TRAINING_OP_COLLECTIONS) -> tuple[Graph, Changes]:
    """Freeze ``scopes`` of a training model (uses TensorFlow); returns ``(Graph, Changes)``.

    Each scope's variables leave ``trainable_variables``; the training op is
    rebuilt over the rest; frozen batch-norm scopes run in inference mode. A
    scope given as a dense layer brings the batch-norm layers of its block
    (:func:`graphsurgeon.analysis.layers.block`).

    Args:
        g: a training graph with its checkpoint; not modified.
        scopes: layer names (``hidden1``) to freeze.
        training_op, loss: see :func:`~graphsurgeon.surgery.strip_training.strip_training`.

    Returns:
        The rebuilt graph, carrying its values in a temporary checkpoint
        (``save`` writes it), and Changes whose ``details`` hold ``frozen``
        (scopes), ``frozen_variables``, ``trainable_variables``,
        ``training_op``, ``optimizer``, ``loss``, ``restored``.

    Example:
        >>> result, changes = freeze_layers(graphsurgeon.load("fixtures/models/mnist_bn_elu_tf1"),
        ...                                 ["hidden1", "hidden2"])           # doctest: +SKIP
        >>> result.save("frozen12/")                                        # doctest: +SKIP
    """
    if not g.checkpoint:
        raise UsageError(f"{g.where}: no checkpoint found next to the graph",
                         hint="give the checkpoint directory or prefix")
    scopes = [s.rstrip("/") for s in ([scopes] if isinstance(scopes, str) else scopes)]
    if not scopes:
        raise UsageError("name at least one layer to freeze")
    found = layers(g)
    frozen: list[str] = []
    for scope in scopes:
        for member in block(g, scope, found):
            if member not in frozen:
                frozen.append(member)
    stripped, changes = strip_training(g, training_op, loss, collections)
    info = changes.details.pop("training")
    kinds = {item.name: item.kind for item in found}
    pinned, pin_changes = pin_inference(stripped, [s for s in frozen if kinds.get(s) == "batch_norm"])
    frozen_vars = [v.name for item in found if item.name in frozen for v in item.variables]
    result, rebuilt = rebuild_training(pinned, info, g.checkpoint, frozen_vars=frozen_vars)
    out = Changes(removed=changes.removed, notes=changes.notes + pin_changes.notes)
    out.details.update(rebuilt.details, frozen=frozen, removed_ops=len(changes.removed))
    return result, out
