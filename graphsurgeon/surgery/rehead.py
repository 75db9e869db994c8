"""Re-head a network for a new task: the chapter's "Reusing Pretrained Layers" in one call.

:func:`rehead` cuts a trained model at a tensor or after a layer, keeps
what the cut needs with the original checkpoint's values, and puts a fresh
head on it:

- ``new_hidden1`` ... (dense, He-initialised, same activation as asked) and
  ``new_outputs`` (dense, N units); ``logits`` (Identity), ``probabilities``;
- a new labels placeholder ``y`` (int64 ``[None]``: labels must be ``0..N-1``;
  remap them, e.g. digits 5-9 to 0-4, before feeding);
- ``loss/xentropy``, ``loss/loss``; ``train/training_op`` =
  ``GradientDescentOptimizer(lr).minimize(loss, var_list=trainable_variables)``
  under ``control_dependencies(update_ops)``; ``eval/accuracy``;
- collections ``my_important_ops`` = the input placeholder(s) (``X``), ``y``,
  ``accuracy``, the training op, and ``train_op``; a Saver.

How it is built. TensorFlow-free first: the graph is pruned to the cut
(:func:`graphsurgeon.surgery.prune.prune`), plus the ``training`` switch and the
moving-average updates of reused batch norms that stay trainable, so nothing
downstream of the cut survives: no old head, loss, gradients, optimizer or
saver. Frozen batch-norm layers are pinned to inference mode
(:func:`graphsurgeon.surgery.freeze_layers.pin_inference`): their ``training``
input becomes a constant False and their moving-average updates are
removed, so their moving statistics are used and never change. Then
TensorFlow (:func:`graphsurgeon.tfbuild.build_rehead`) imports that graph,
builds the head, restores the reused variables from the original checkpoint,
initialises the new ones and writes ``OUTDIR/model.ckpt``.

What ``--freeze`` means: ``all`` (default) freezes every reused layer; ``none``
trains them all; scope names freeze those layers, each with the batch-norm
layers of its block (``hidden2`` brings ``batch_normalization_1``; see
:mod:`graphsurgeon.layers`). ``--at hidden2`` cuts after hidden2's block: in the
fixture, at ``Elu_1:0``.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import RewriteError, UsageError
from ..graph import Graph

__all__ = ["rehead", "prepare_rehead"]


def _freeze_set(g: Graph, freeze, reused_layers, found) -> list[str]:
    from ..layers import block, layer

    if freeze is None:
        return [item.name for item in reused_layers]
    # "hidden1,hidden2" means what it means on the command line.
    scopes = [part.strip() for value in ([freeze] if isinstance(freeze, str) else freeze)
              for part in value.split(",") if part.strip()]
    if scopes == ["all"]:
        return [item.name for item in reused_layers]
    if scopes in ([], ["none"]):
        return []
    reused = {item.name for item in reused_layers}
    out: list[str] = []
    for scope in scopes:
        if scope in ("all", "none"):
            raise UsageError(f"--freeze {scope} cannot be combined with layer names")
        layer(g, scope, found)  # raises NotFoundError with suggestions
        for member in block(g, scope, found):
            if member not in reused:
                raise UsageError(f"cannot freeze {member!r}: it lies after the cut, so it is not reused")
            if member not in out:
                out.append(member)
    return out


def prepare_rehead(g: Graph, at: str, freeze="all"):
    """The TensorFlow-free half of :func:`rehead`.

    Returns:
        ``(pruned graph, cut tensor, frozen scopes, frozen variables, input placeholders, Changes)``.
    """
    from ..layers import layers, resolve_cut
    from .freeze_layers import pin_inference
    from .prune import needed_ops, prune

    if g.meta_graph is None:
        raise UsageError(f"{g.where}: re-heading needs a model with its MetaGraphDef and checkpoint "
                         "(a .meta / checkpoint directory / SavedModel), not a plain GraphDef")
    found = layers(g)
    cut = resolve_cut(g, at, found)
    full, _, _ = needed_ops(g, [cut])
    reused_layers = [item for item in found if any(op.name in full for op in g.ops(scope=item.name))]
    if not reused_layers:
        raise RewriteError(f"nothing with variables lies before {cut!r}; there is no layer to reuse")
    frozen_scopes = _freeze_set(g, freeze, reused_layers, found)
    bn_frozen = [item.name for item in reused_layers if item.kind == "batch_norm" and item.name in frozen_scopes]
    # Keep the cut, the training switch of reused batch norms, and the
    # moving-average updates of those that keep training; prune the rest.
    keep = [cut]
    if "update_ops" in g.collections:
        scopes = tuple(item.name + "/" for item in reused_layers if item.name not in frozen_scopes)
        for item in g.collection("update_ops"):
            name = getattr(item, "name", str(item))
            if scopes and name.startswith(scopes):
                keep.append(name)
    placeholders = [op for op in g.ops(type=["Placeholder", "PlaceholderWithDefault"]) if op.name in full]
    switches = [op.name + ":0" for op in placeholders if op.output(0).dtype == "bool"]
    keep.extend(s for s in switches if s not in keep)
    inputs = [op.name + ":0" for op in placeholders if op.output(0).dtype != "bool"]
    pruned, changes = prune(g, keep)
    # Frozen batch norms: inference mode (their updates went with the pruning).
    pin_inference(pruned, bn_frozen, changes)
    frozen_vars = [v.name for item in reused_layers if item.name in frozen_scopes for v in item.variables]
    return pruned, cut, frozen_scopes, frozen_vars, inputs, changes


def rehead(model: str | Path | Graph, at: str, classes: int, out_dir: str | Path, *, hidden=(),
           freeze="all", lr: float = 0.01, seed: int = 42, activation: str = "elu", force: bool = False) -> dict:
    """Re-head ``model`` after ``at`` for ``classes`` classes; write ``out_dir/model.ckpt`` (uses TensorFlow).

    Args:
        model: checkpoint directory or prefix, ``.meta`` (with its checkpoint), or a loaded Graph.
        at: a tensor (``Elu_1:0``), an op, or a layer (``hidden2``: its block's activated output).
        classes: units of the new output layer.
        out_dir: where to write (refused when it exists and is not empty, unless ``force``).
        hidden: sizes of new hidden layers before the output layer.
        freeze: ``"all"``, ``"none"`` or layer names.
        lr: learning rate of the new training op (GradientDescent).
        seed: graph-level random seed for the new head's initial values.
        activation: activation of the new hidden layers (elu, relu, leaky_relu, selu, tanh, sigmoid).

    Returns:
        A report dict: ``output`` (checkpoint prefix), ``cut``, ``frozen`` scopes,
        ``frozen_variables``, ``trainable_variables``, ``reused_variables``,
        ``new_variables``, ``removed_ops`` (count), ``ops``.

    Example:
        >>> report = graphsurgeon.rehead("fixtures/models/mnist_bn_elu_0to4", "hidden2", 5,
        ...                              "/tmp/rehead59")                    # doctest: +SKIP
        >>> report["cut"], report["frozen"]                                  # doctest: +SKIP
        ('Elu_1:0', ['hidden1', 'batch_normalization', 'hidden2', 'batch_normalization_1'])
    """
    import graphsurgeon as gs

    if int(classes) < 2:
        raise UsageError(f"--classes {classes}: a classifier needs at least 2 classes")
    if any(int(h) < 1 for h in hidden):
        raise UsageError(f"--hidden {','.join(map(str, hidden))}: layer sizes must be positive")
    g = model if isinstance(model, Graph) else gs.load(model)
    checkpoint = g.root.model.checkpoint if g.root.model is not None else None
    if not checkpoint:
        raise UsageError(f"{g.where}: no checkpoint found next to the graph",
                         hint="give the checkpoint directory or prefix")
    pruned, cut, frozen_scopes, frozen_vars, inputs, changes = prepare_rehead(g, at, freeze)
    from .. import tfbuild

    report = tfbuild.build_rehead(pruned, str(checkpoint), out_dir, cut=cut, classes=int(classes),
                                  hidden=[int(h) for h in hidden], frozen_vars=frozen_vars, inputs=inputs,
                                  lr=lr, seed=seed, activation=activation, force=force)
    report.update(model=str(g.path) if g.path else None, frozen=frozen_scopes,
                  removed_ops=len(changes.removed), inputs=inputs)
    return report
