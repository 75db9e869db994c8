"""Rebuild a training op in TensorFlow over a graph :func:`strip_training` prepared.

The same optimizer and hyper-parameters, ``minimize(loss, var_list=trainable)``
under ``control_dependencies(update_ops)``, with the old training op's name,
put back where it was in its collections; when the old one incremented the
global step, ``minimize(..., global_step=gs)`` increments it again. Variables
leave ``trainable_variables`` first when they are frozen.
"""
from __future__ import annotations

from ..errors import RewriteError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..surgery.rewrite import conclude
from . import session
from .tf import short, tf

__all__ = ["rebuild_training", "minimize", "drop_trainable"]


def _optimizer(kind: str, hp: dict):
    train = tf().compat.v1.train
    if kind == "GradientDescent":
        return train.GradientDescentOptimizer(hp["learning_rate"])
    if kind == "Momentum":
        return train.MomentumOptimizer(hp["learning_rate"], hp["momentum"], use_nesterov=hp.get("use_nesterov", False))
    if kind == "Adam":
        return train.AdamOptimizer(hp["learning_rate"], hp["beta1"], hp["beta2"], hp["epsilon"])
    if kind == "RMSProp":
        return train.RMSPropOptimizer(hp["learning_rate"], hp["decay"], hp["momentum"], hp["epsilon"])
    raise RewriteError(f"cannot build a {kind} optimizer")


def minimize(graph, loss, scope: str, leaf: str, optimizer, global_step=None):
    """``optimizer.minimize(loss)`` over trainable_variables, after UPDATE_OPS, named ``scope/leaf``.

    ``global_step`` (a variable of ``graph``) is incremented by the op returned, as TensorFlow's own
    ``minimize(loss, global_step=gs)`` does.
    """
    v1 = tf().compat.v1
    var_list = v1.trainable_variables()
    if not var_list:
        raise RewriteError("nothing is left to train: every variable is frozen")
    update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    # A trailing slash re-enters the scope as is (no "train_1").
    with graph.name_scope(scope + "/" if scope else None):
        with graph.control_dependencies(update_ops):
            try:
                return optimizer.minimize(loss, var_list=var_list, name=leaf, global_step=global_step)
            except Exception as exc:  # noqa: BLE001
                raise RewriteError(f"TensorFlow cannot differentiate the loss: {short(exc)}") from None


def drop_trainable(graph, frozen) -> list[str]:
    """Take the variables named in ``frozen`` out of ``trainable_variables``; the names taken out."""
    v1 = tf().compat.v1
    frozen = set(frozen)
    ref = graph.get_collection_ref(v1.GraphKeys.TRAINABLE_VARIABLES)
    dropped = [v.op.name for v in ref if v.op.name in frozen]
    ref[:] = [v for v in ref if v.op.name not in frozen]
    return dropped


def rebuild_training(stripped: Graph, info, checkpoint: str | None, *, frozen_vars=()) -> tuple[Graph, Changes]:
    """Rebuild the training op of ``stripped`` (see the module documentation).

    Args:
        stripped: the Graph without training op, gradients, optimizer state, init and saver.
        info: the :class:`~graphsurgeon.surgery.strip_training.TrainingInfo` strip_training gave.
        checkpoint: prefix to restore every variable still present from.
        frozen_vars: variable names that leave ``trainable_variables``.

    Returns:
        ``(Graph with a temporary checkpoint, Changes)``; ``details`` holds
        ``training_op``, ``optimizer``, ``hyperparameters``, ``loss``,
        ``trainable_variables``, ``frozen_variables``, ``variables``, ``restored``, ``global_step``.
    """
    v1 = tf().compat.v1
    graph = session.import_graph(stripped)
    with graph.as_default():
        frozen = drop_trainable(graph, frozen_vars)
        missing = set(frozen_vars) - set(frozen)
        try:
            loss = graph.get_tensor_by_name(info.loss)
        except (KeyError, ValueError) as exc:
            raise RewriteError(f"the loss {info.loss!r} is not in the rebuilt graph: {short(exc)}") from None
        scope, _, leaf = info.training_op.rpartition("/")
        step = session.variable(graph, info.global_step) if info.global_step else None
        train_op = minimize(graph, loss, scope, leaf, _optimizer(info.optimizer, info.hyperparameters), step)
        if train_op.name != info.training_op:
            raise RewriteError(f"the rebuilt training op is named {train_op.name!r}, not {info.training_op!r}")
        for key, index in sorted(info.collections.items()):
            ref = graph.get_collection_ref(key)
            ref.insert(min(index, len(ref)), train_op)
        with v1.Session(graph=graph) as sess:
            restored = session.restore(sess, graph, checkpoint)
            result = session.export(sess, graph)
    every, trainable = session.variables_report(graph)
    changes = Changes(notes=list(info.notes))
    conclude(None, result, changes)  # TensorFlow built the result: all of it is checked
    changes.details.update(training_op=info.training_op, optimizer=info.optimizer,
                           hyperparameters=info.hyperparameters, loss=info.loss, trainable_variables=trainable,
                           frozen_variables=sorted(set(frozen) | missing), variables=every, restored=restored,
                           global_step=info.global_step)
    return result, changes
