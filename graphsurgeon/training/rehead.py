"""Re-head a network for a new task: the chapter's "Reusing Pretrained Layers" in one call.

:func:`rehead` cuts a trained model at a tensor or after a layer, keeps
what the cut needs with the original checkpoint's values, and puts a fresh
head on it:

- ``new_flatten`` when the cut is a feature map (``[batch, h, w, c]`` with
  known dimensions: a convolution's output);
- ``new_hidden1`` ... (dense, He-initialised, same activation as asked) and
  ``new_outputs`` (dense, N units); ``logits`` (Identity), ``probabilities``;
- a new labels placeholder ``y`` (int64 ``[None]``: labels must be ``0..N-1``;
  remap them, e.g. digits 5-9 to 0-4, before feeding);
- ``loss/xentropy``, ``loss/loss``; ``train/training_op`` =
  ``GradientDescentOptimizer(lr).minimize(loss, var_list=trainable_variables)``
  under ``control_dependencies(update_ops)``, incrementing the global step
  when the model has one (it is kept, with its value); ``eval/accuracy``;
- the collection ``collection`` (default ``my_important_ops``, the
  chapter's) = the input placeholder(s) (``X``), ``y``, ``accuracy``, the
  training op; ``train_op``; one Saver.

The TensorFlow-free half is :func:`graphsurgeon.surgery.prepare_rehead.prepare_rehead`
(the cut, the pruning, frozen batch norms pinned to inference mode). Then
TensorFlow imports that graph, builds the head, restores the reused variables
from the original checkpoint and initialises the new ones; the result
carries them in a temporary checkpoint until it is saved.
"""
from __future__ import annotations

from ..errors import RewriteError, UsageError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..metagraph.saver import saver_entries
from ..surgery.prepare_rehead import prepare_rehead
from ..surgery.rewrite import conclude
from ..vocab.optypes import VARIABLE_TYPES
from . import session
from .rebuild import drop_trainable, minimize
from .tf import tf

__all__ = ["rehead", "ACTIVATIONS"]

ACTIVATIONS = ("elu", "relu", "leaky_relu", "selu", "tanh", "sigmoid")
_HEAD_OPS = {"logits", "y", "loss/loss", "train/training_op", "eval/accuracy"}


def _build_head(graph, x, classes: int, hidden, activation: str, lr: float, use_resource: bool, step=None):
    """New dense layers, logits, labels, loss, training op and accuracy on ``x``; the ops to collect."""
    t = tf()
    v1 = t.compat.v1
    act = getattr(t.nn, activation)
    he = v1.variance_scaling_initializer(scale=2.0, mode="fan_in", distribution="truncated_normal")
    layers = [(f"new_hidden{i + 1}", int(units)) for i, units in enumerate(hidden)]
    layers.append(("new_outputs", int(classes)))
    for index, (name, units) in enumerate(layers):
        with v1.variable_scope(name):
            kernel = v1.get_variable("kernel", [int(x.shape[-1]), units], t.float32, he, use_resource=use_resource)
            bias = v1.get_variable("bias", [units], t.float32, v1.zeros_initializer(), use_resource=use_resource)
            x = t.nn.bias_add(t.matmul(x, kernel, name="MatMul"), bias, name="BiasAdd")
            if index < len(layers) - 1:
                x = act(x)
    logits = t.identity(x, name="logits")
    t.nn.softmax(logits, name="probabilities")
    y = v1.placeholder(t.int64, shape=(None,), name="y")
    with t.name_scope("loss"):
        xentropy = t.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits, name="xentropy")
        loss = t.reduce_mean(xentropy, name="loss")
    train_op = minimize(graph, loss, "train", "training_op", v1.train.GradientDescentOptimizer(lr), step)
    with t.name_scope("eval"):
        correct = v1.nn.in_top_k(logits, y, 1)
        accuracy = t.reduce_mean(t.cast(correct, t.float32), name="accuracy")
    taken = {op.name for op in (logits.op, y.op, loss.op, train_op, accuracy.op)}
    if taken != _HEAD_OPS:
        raise RewriteError(f"the reused part already has ops named {sorted(_HEAD_OPS - taken)}; "
                           "cut earlier or rename them first")
    return y, accuracy, train_op


def rehead(g: Graph, at: str, classes: int, *, hidden=(), freeze="all", lr: float = 0.01, seed: int = 42,
           activation: str = "elu", collection: str = "my_important_ops") -> tuple[Graph, Changes]:
    """Re-head ``g`` after ``at`` for ``classes`` classes (uses TensorFlow); returns ``(Graph, Changes)``.

    Args:
        g: a trained model with its MetaGraphDef and checkpoint, or a frozen
            GraphDef (its constants are reused); not modified.
        at: a tensor (``Elu_1:0``), an op, or a layer (``hidden2``: the
            activated output of its block).
        classes: units of the new output layer.
        hidden: units of new hidden layers before it.
        freeze: ``"all"``, ``"none"`` or layer names (``"hidden1,hidden2"`` too).
        lr: learning rate of the new training op (GradientDescent).
        seed: graph-level random seed for the new head's initial values.
        activation: activation of the new hidden layers (one of :data:`ACTIVATIONS`).
        collection: the collection that gets the inputs, ``y``, the accuracy
            and the training op.

    Returns:
        The re-headed graph (its values in a temporary checkpoint that
        ``save`` writes), and Changes whose ``details`` hold ``cut``,
        ``classes``, ``hidden``, ``frozen`` (scopes), ``frozen_variables``,
        ``reused_variables``, ``new_variables``, ``trainable_variables``,
        ``restored``, ``inputs``, ``global_step``, ``removed_ops`` and ``ops``.

    Example:
        >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_0to4")
        >>> result, changes = graphsurgeon.rehead(g, "hidden2", 5)          # doctest: +SKIP
        >>> changes.details["cut"], result.save("my5to9/")                   # doctest: +SKIP
        ('Elu_1:0', PosixPath('my5to9'))
    """
    if int(classes) < 2:
        raise UsageError(f"--classes {classes}: a classifier needs at least 2 classes")
    if any(int(h) < 1 for h in hidden):
        raise UsageError(f"--hidden {','.join(map(str, hidden))}: layer sizes must be positive")
    if activation not in ACTIVATIONS:
        raise UsageError(f"unknown activation {activation!r}", hint=", ".join(ACTIVATIONS))
    if not g.checkpoint and any(node.op in VARIABLE_TYPES for node in g.graph_def.node):
        raise UsageError(f"{g.where}: no checkpoint found next to the graph",
                         hint="give the checkpoint directory or prefix")
    pruned, changes = prepare_rehead(g, at, freeze)
    facts = changes.details
    cut = facts["cut"]
    t = tf()
    v1 = t.compat.v1
    graph = session.import_graph(pruned)
    with graph.as_default():
        v1.set_random_seed(seed)
        x = graph.get_tensor_by_name(cut)
        if x.shape.rank is not None and x.shape.rank > 2 and x.shape[1:].is_fully_defined():
            # A convolution's [batch, h, w, c] is flattened, as a CNN's own head does.
            x = t.reshape(x, [-1, x.shape[1:].num_elements()], name="new_flatten")
            changes.notes.append(f"flattened {cut} ({x.op.name}: [batch, {x.shape[-1]}]) for the dense head")
        if x.shape.rank != 2 or x.shape[-1] is None:
            raise RewriteError(f"cannot put a dense head on {cut!r} of shape {x.shape}: "
                               "it needs a [batch, features] tensor with known features (or known "
                               "dimensions to flatten)")
        frozen = drop_trainable(graph, facts["frozen_variables"])
        reused = [v.op.name for v in v1.global_variables()]
        step = session.variable(graph, facts["global_step"]) if facts["global_step"] else None
        y, accuracy, train_op = _build_head(graph, x, classes, hidden, activation, lr, session.use_resource(graph),
                                            step)
        graph.clear_collection(collection)
        for name in facts["inputs"]:
            v1.add_to_collection(collection, graph.get_tensor_by_name(name))
        for item in (y, accuracy, train_op):
            v1.add_to_collection(collection, item)
        graph.clear_collection(v1.GraphKeys.TRAIN_OP)
        v1.add_to_collection(v1.GraphKeys.TRAIN_OP, train_op)
        with v1.Session(graph=graph) as sess:
            restored = session.restore(sess, graph, g.checkpoint, entries=saver_entries(g))
            unrestored = sorted(set(reused) - set(restored))
            if unrestored:
                raise RewriteError(f"{g.checkpoint}: has no value of the shape the graph needs for "
                                   f"{unrestored[0]!r}")
            result = session.export(sess, graph)
    every, trainable = session.variables_report(graph)
    facts.update(classes=int(classes), hidden=[int(h) for h in hidden], reused_variables=reused,
                 new_variables=[v for v in every if v not in reused], trainable_variables=trainable,
                 frozen_variables=sorted(frozen), restored=restored, removed_ops=len(changes.removed),
                 ops=len(result))
    facts.pop("reused_layers", None)
    conclude(None, result, changes)  # TensorFlow built the result: all of it is checked
    return result, changes
