"""Building graphs in TensorFlow: new heads, rebuilt training ops, rewritten checkpoints.

This module and :mod:`graphsurgeon.runtime` are the only modules of the
library that use TensorFlow; ``runtime.tf()`` imports it, lazily, on the
first call that needs it: reading, listing and TF-free rewrites never come here.

Everything runs in TF1 graph mode inside its own ``tf.Graph`` and
``Session``; no process-global switch is flipped (``use_resource`` is passed
per variable to match the model's variable style). Inputs are our protos
(the graph was prepared TensorFlow-free by the caller: pruned, stripped of
its training op, batch norms pinned to inference); outputs are files
(``OUT/model.ckpt.{meta,index,data-*}`` and ``OUT/checkpoint``), written
into a temporary directory that is renamed into place.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import OutputError, RewriteError
from .runtime import tf  # the one place TensorFlow is imported

__all__ = ["rebuild_training", "build_rehead", "transplant_values", "read_checkpoint"]

CKPT_NAME = "model.ckpt"


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def read_checkpoint(prefix: str) -> dict:
    """``{variable name: numpy array}`` of a checkpoint (TensorFlow's reader)."""
    t = tf()
    try:
        reader = t.train.load_checkpoint(str(prefix))
    except Exception as exc:  # noqa: BLE001
        raise RewriteError(f"{prefix}: TensorFlow cannot read this checkpoint: {_short(exc)}") from None
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


# --------------------------------------------------------------------------- helpers
def _out_dir(out_dir, force: bool) -> tuple[Path, Path]:
    final = Path(out_dir)
    if final.exists() and (not final.is_dir() or any(final.iterdir())):
        if not force:
            raise OutputError(f"{final}: already exists", hint="--force replaces it")
    tmp = final.with_name(final.name + ".gs-tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        tmp.mkdir(parents=True)
    except OSError as exc:
        raise OutputError(f"{final}: cannot create the output directory ({exc.strerror})") from None
    return final, tmp


def _commit(tmp: Path, final: Path) -> None:
    if final.exists():
        shutil.rmtree(final) if final.is_dir() else final.unlink()
    os.replace(tmp, final)
    # The `checkpoint` file records the prefix; relative paths keep it valid after the rename.


def _import(meta_graph):
    """A fresh tf.Graph holding ``meta_graph`` (our proto), its collections, and its saver or None."""
    t = tf()
    v1 = t.compat.v1
    proto = v1.MetaGraphDef()
    proto.ParseFromString(meta_graph.SerializeToString())
    graph = t.Graph()
    with graph.as_default():
        try:
            saver = v1.train.import_meta_graph(proto, clear_devices=True)
        except Exception as exc:  # noqa: BLE001
            raise RewriteError(f"TensorFlow refuses the prepared graph: {_short(exc)}") from None
    return graph, saver


def _use_resource(graph) -> bool:
    return any(op.type == "VarHandleOp" for op in graph.get_operations())


def _restore_available(sess, graph, checkpoint: str, skip=()) -> list[str]:
    """Initialise every global variable, then restore those the checkpoint has with the same shape."""
    t = tf()
    v1 = t.compat.v1
    with graph.as_default():
        variables = v1.global_variables()
        sess.run(v1.variables_initializer(variables))
        if not checkpoint:
            return []
        try:
            reader = t.train.load_checkpoint(str(checkpoint))
        except Exception as exc:  # noqa: BLE001
            raise RewriteError(f"{checkpoint}: TensorFlow cannot read this checkpoint: {_short(exc)}") from None
        shapes = reader.get_variable_to_shape_map()
        wanted = {}
        for var in variables:
            name = var.op.name
            if name in skip:
                continue
            if name in shapes and list(shapes[name]) == var.shape.as_list():
                wanted[name] = var
        if wanted:
            v1.train.Saver(var_list=wanted).restore(sess, str(checkpoint))
    return sorted(wanted)


def _save(sess, graph, tmp: Path) -> Path:
    v1 = tf().compat.v1
    with graph.as_default():
        saver = v1.train.Saver(save_relative_paths=True)
        prefix = saver.save(sess, str(tmp / CKPT_NAME))
    return Path(prefix)


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


def _variables_report(graph) -> tuple[list[str], list[str]]:
    v1 = tf().compat.v1
    with graph.as_default():
        trainable = [v.op.name for v in v1.trainable_variables()]
        every = [v.op.name for v in v1.global_variables()]
    return every, trainable


def _minimize(graph, loss, scope: str, leaf: str, optimizer):
    """``optimizer.minimize(loss)`` over trainable_variables, after UPDATE_OPS, named ``scope/leaf``."""
    v1 = tf().compat.v1
    var_list = v1.trainable_variables()
    if not var_list:
        raise RewriteError("nothing is left to train: every variable is frozen")
    update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
    # A trailing slash re-enters the scope as is (no "train_1").
    with graph.name_scope(scope + "/" if scope else None):
        with graph.control_dependencies(update_ops):
            try:
                return optimizer.minimize(loss, var_list=var_list, name=leaf)
            except Exception as exc:  # noqa: BLE001
                raise RewriteError(f"TensorFlow cannot differentiate the loss: {_short(exc)}") from None


def _drop_trainable(graph, frozen) -> list[str]:
    v1 = tf().compat.v1
    frozen = set(frozen)
    ref = graph.get_collection_ref(v1.GraphKeys.TRAINABLE_VARIABLES)
    dropped = [v.op.name for v in ref if v.op.name in frozen]
    ref[:] = [v for v in ref if v.op.name not in frozen]
    return dropped


# --------------------------------------------------------------------------- rebuild training
def rebuild_training(stripped, info, checkpoint: str | None, out_dir, *, frozen_vars=(), force: bool = False,
                     values: dict | None = None) -> dict:
    """Rebuild the training op of a graph :func:`strip_training` prepared; write a checkpoint.

    Args:
        stripped: the Graph without training op, gradients, optimizer state, init and saver.
        info: the :class:`graphsurgeon.surgery.freeze_layers.TrainingInfo` it returned.
        checkpoint: prefix to restore every variable still present from (optimizer
            slots too, when the rebuilt optimizer's slots have the old names).
        out_dir: directory to write ``model.ckpt`` into.
        frozen_vars: variable names that leave ``trainable_variables``.
        values: ``{variable: array}`` to load after restoring (transplants).

    Returns:
        ``{"output", "trainable_variables", "frozen_variables", "restored", "training_op", "optimizer"}``.
    """
    t = tf()
    v1 = t.compat.v1
    final, tmp = _out_dir(out_dir, force)
    try:
        graph, _ = _import(stripped.meta_graph)
        with graph.as_default():
            frozen = _drop_trainable(graph, frozen_vars)
            missing = set(frozen_vars) - set(frozen)
            loss = graph.get_tensor_by_name(info.loss)
            scope, _, leaf = info.training_op.rpartition("/")
            train_op = _minimize(graph, loss, scope, leaf, _optimizer(info.optimizer, info.hyperparameters))
            if train_op.name != info.training_op:
                raise RewriteError(f"the rebuilt training op is named {train_op.name!r}, not {info.training_op!r}")
            for key, index in sorted(info.collections.items()):
                ref = graph.get_collection_ref(key)
                ref.insert(min(index, len(ref)), train_op)
            with v1.Session(graph=graph) as sess:
                restored = _restore_available(sess, graph, checkpoint)
                _load_values(sess, graph, values or {})
                prefix = _save(sess, graph, tmp)
        every, trainable = _variables_report(graph)
        _commit(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {"output": str(final / prefix.name), "training_op": info.training_op, "optimizer": info.optimizer,
            "hyperparameters": info.hyperparameters, "loss": info.loss, "trainable_variables": trainable,
            "frozen_variables": sorted(set(frozen) | missing), "variables": every, "restored": restored}


def _load_values(sess, graph, values: dict) -> None:
    if not values:
        return
    v1 = tf().compat.v1
    with graph.as_default():
        by_name = {v.op.name: v for v in v1.global_variables()}
        for name, value in values.items():
            var = by_name.get(name)
            if var is None:
                raise RewriteError(f"no variable named {name!r} in the rebuilt graph")
            var.load(value, sess)


# --------------------------------------------------------------------------- transplant
def transplant_values(meta_graph, checkpoint: str, out_dir, values: dict, *, force: bool = False) -> dict:
    """Copy a model (graph unchanged) with some variables' values replaced; returns a report."""
    v1 = tf().compat.v1
    final, tmp = _out_dir(out_dir, force)
    try:
        graph, _ = _import(meta_graph)
        with v1.Session(graph=graph) as sess:
            restored = _restore_available(sess, graph, checkpoint)
            _load_values(sess, graph, values)
            prefix = _save(sess, graph, tmp)
        _commit(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {"output": str(final / prefix.name), "restored": restored, "replaced": sorted(values)}


# --------------------------------------------------------------------------- rehead
_ACTIVATIONS = {"elu": "elu", "relu": "relu", "leaky_relu": "leaky_relu", "selu": "selu", "tanh": "tanh",
                "sigmoid": "sigmoid"}


def build_rehead(pruned, checkpoint: str | None, out_dir, *, cut: str, classes: int, hidden=(),
                 frozen_vars=(), inputs=(), lr: float = 0.01, seed: int = 42, activation: str = "elu",
                 force: bool = False) -> dict:
    """Put a new head on a pruned graph and write the re-headed model (see :mod:`graphsurgeon.surgery.rehead`).

    Args:
        pruned: the Graph cut at ``cut`` (what follows it removed, frozen batch norms pinned).
        checkpoint: the original checkpoint (reused variables are restored from it).
        out_dir: output directory.
        cut: the tensor the head reads.
        classes: units of the last layer.
        hidden: units of new hidden layers before it.
        frozen_vars: reused variables that stay out of ``trainable_variables``.
        inputs: placeholders to list first in ``my_important_ops``.
        lr: learning rate of the GradientDescentOptimizer.
        seed: graph-level seed for the new head's initial values.
        activation: activation of the new hidden layers.
    """
    t = tf()
    v1 = t.compat.v1
    if activation not in _ACTIVATIONS:
        raise RewriteError(f"unknown activation {activation!r}", hint=", ".join(_ACTIVATIONS))
    act = getattr(t.nn, _ACTIVATIONS[activation])
    final, tmp = _out_dir(out_dir, force)
    try:
        graph, _ = _import(pruned.meta_graph)
        with graph.as_default():
            v1.set_random_seed(seed)
            use_resource = _use_resource(graph)
            x = graph.get_tensor_by_name(cut)
            if x.shape.rank != 2 or x.shape[-1] is None:
                raise RewriteError(f"cannot put a dense head on {cut!r} of shape {x.shape}: "
                                   "it needs a [batch, features] tensor with known features")
            frozen = _drop_trainable(graph, frozen_vars)
            reused = [v.op.name for v in v1.global_variables()]
            he = v1.variance_scaling_initializer(scale=2.0, mode="fan_in", distribution="truncated_normal")
            layers = [(f"new_hidden{i + 1}", int(units)) for i, units in enumerate(hidden)]
            layers.append(("new_outputs", int(classes)))
            for index, (name, units) in enumerate(layers):
                with v1.variable_scope(name):
                    kernel = v1.get_variable("kernel", [int(x.shape[-1]), units], t.float32, he,
                                             use_resource=use_resource)
                    bias = v1.get_variable("bias", [units], t.float32, v1.zeros_initializer(),
                                           use_resource=use_resource)
                    x = t.nn.bias_add(t.matmul(x, kernel, name="MatMul"), bias, name="BiasAdd")
                    if index < len(layers) - 1:
                        x = act(x)
            logits = t.identity(x, name="logits")
            t.nn.softmax(logits, name="probabilities")
            y = v1.placeholder(t.int64, shape=(None,), name="y")
            with t.name_scope("loss"):
                xentropy = t.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits, name="xentropy")
                loss = t.reduce_mean(xentropy, name="loss")
            optimizer = v1.train.GradientDescentOptimizer(lr)
            train_op = _minimize(graph, loss, "train", "training_op", optimizer)
            with t.name_scope("eval"):
                correct = v1.nn.in_top_k(logits, y, 1)
                accuracy = t.reduce_mean(t.cast(correct, t.float32), name="accuracy")
            taken = {op.name for op in (logits.op, y.op, loss.op, train_op, accuracy.op)}
            expected = {"logits", "y", "loss/loss", "train/training_op", "eval/accuracy"}
            if taken != expected:
                raise RewriteError(f"the reused part already has ops named {sorted(expected - taken)}; "
                                   "cut earlier or rename them first")
            graph.clear_collection("my_important_ops")
            for name in inputs:
                v1.add_to_collection("my_important_ops", graph.get_tensor_by_name(name))
            for item in (y, accuracy, train_op):
                v1.add_to_collection("my_important_ops", item)
            graph.clear_collection(v1.GraphKeys.TRAIN_OP)
            v1.add_to_collection(v1.GraphKeys.TRAIN_OP, train_op)
            with v1.Session(graph=graph) as sess:
                restored = _restore_available(sess, graph, checkpoint)
                unrestored = sorted(set(reused) - set(restored))
                if unrestored:
                    raise RewriteError(f"{checkpoint}: has no value of the shape the graph needs for "
                                       f"{unrestored[0]!r}")
                prefix = _save(sess, graph, tmp)
        every, trainable = _variables_report(graph)
        _commit(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    new = [v for v in every if v not in reused]
    return {"output": str(final / prefix.name), "cut": cut, "classes": int(classes), "hidden": [int(h) for h in hidden],
            "reused_variables": reused, "new_variables": new, "trainable_variables": trainable,
            "frozen_variables": sorted(frozen), "restored": restored, "ops": len(graph.get_operations())}
