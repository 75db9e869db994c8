"""The TensorFlow-free half of a re-head: cut the network, keep what the cut needs, pin frozen batch norms.

:func:`prepare_rehead` cuts a trained model at a tensor or after a layer
(:func:`graphsurgeon.analysis.layers.resolve_cut`) and prunes it to what the cut
needs (:func:`graphsurgeon.surgery.prune.prune`), plus the moving-average
updates of reused batch norms that stay trainable, so nothing downstream of
the cut survives: no old head, loss, gradients, optimizer or saver. Frozen
batch-norm layers are pinned to inference mode
(:func:`graphsurgeon.surgery.pin_inference.pin_inference`). A ``training``
switch that nothing reads any more (every reused batch norm frozen) is
removed, so that feeding it fails loudly instead of doing nothing.
:func:`graphsurgeon.training.rehead.rehead` then builds the head in TensorFlow.

What ``freeze`` means: ``all`` (default) freezes every reused layer; ``none``
trains them all; scope names freeze those layers, each with the batch-norm
layers of its block (``hidden2`` brings ``batch_normalization_1``; see
:mod:`graphsurgeon.analysis.layers`).
"""
from __future__ import annotations

from ..analysis.layers import block, layer, layers, resolve_cut
from ..errors import RewriteError, UsageError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..metagraph.assets import point_at_files
from ..metagraph.saver import saver_entries
from ..metagraph.tables import table_initializers
from ..vocab.optypes import PLACEHOLDER_TYPES, VARIABLE_TYPES
from ..vocab.training_op import global_step
from .pin_inference import pin_inference
from .prune import needed_ops, prune
from .rewrite import rewrite

__all__ = ["prepare_rehead", "freeze_set"]


def freeze_set(g: Graph, freeze, reused_layers, found) -> list[str]:
    """The layer scopes ``freeze`` names (``"all"``, ``"none"``, names or ``"a,b"``), blocks included."""
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


@rewrite(requires=("top_level",), reports=True)
def prepare_rehead(g: Graph, at: str, freeze="all") -> tuple[Graph, Changes]:
    """Cut ``g`` at ``at`` for a new head; returns ``(pruned copy, Changes)``.

    ``changes.details`` holds ``cut`` (the tensor the head will read),
    ``frozen`` (layer scopes), ``frozen_variables``, ``reused_layers``,
    ``inputs`` (the data placeholders the cut needs) and ``global_step``
    (the global step variable, kept, or None).

    A frozen GraphDef (no variables) is re-headed too: its constants are the
    reused part, frozen as constants are.

    Raises:
        UsageError: a plain GraphDef with variables (no checkpoint), or a bad ``freeze``.
        RewriteError: nothing with variables lies before the cut.
    """
    frozen_graph = not any(node.op in VARIABLE_TYPES for node in g.graph_def.node)
    if g.meta_graph is None:
        if not frozen_graph:
            raise UsageError(f"{g.where}: re-heading needs a model with its MetaGraphDef and checkpoint "
                             "(a .meta / checkpoint directory / SavedModel), not a plain GraphDef")
        g = g.as_meta_graph()  # a frozen GraphDef: its constants are the reused part, as retrain.py reuses them
    found = layers(g)
    cut = resolve_cut(g, at, found)
    full, _, _ = needed_ops(g, [cut])
    reused_layers = [item for item in found if any(v.name in full for v in item.variables)]
    if not reused_layers and not frozen_graph:
        raise RewriteError(f"nothing with variables lies before {cut!r}; there is no layer to reuse")
    frozen_scopes = freeze_set(g, freeze, reused_layers, found)
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
    placeholders = [op for op in g.ops(type=list(PLACEHOLDER_TYPES)) if op.name in full]
    switches = [op.name + ":0" for op in placeholders if op.output(0).dtype == "bool"]
    keep.extend(s for s in switches if s not in keep)
    inputs = [op.name + ":0" for op in placeholders if op.output(0).dtype != "bool"]
    # The global step stays: the new training op increments it (the global_step collection
    # and whatever reads it, a learning-rate schedule, keep naming it).
    step = global_step(g)
    unsaved_step = step is not None and g.meta_graph.HasField("saver_def") and step not in saver_entries(g)
    if unsaved_step:  # the model's saver never wrote it: nothing to restore it from (a serving export's)
        step = None
    if step is not None:
        keep.append(step)
    keep.extend(table_initializers(g, full))  # tables the reused part looks words up in stay initialisable
    pruned, changes = prune(g, keep, keep_saver=False)  # the head's job makes the one saver
    # Frozen batch norms: inference mode (their updates went with the pruning).
    pinned, pin_changes = pin_inference(pruned, bn_frozen)
    changes.extend(pin_changes)
    # The result is a checkpoint, not a SavedModel: no loader feeds asset paths to the table initializers.
    point_at_files(g, pinned, changes)
    orphans = [s.split(":")[0] for s in switches if not pinned.uses(s.split(":")[0])]
    if orphans:
        changes.extend(pinned.remove_ops(orphans))
        changes.notes.append(f"removed {', '.join(orphans)}: every reused batch norm that read it is frozen "
                             "(runs in inference mode), so nothing reads it any more")
    if unsaved_step:
        changes.notes.append(f"the global step {global_step(g)} is not restored by the model's saver (its "
                             "checkpoint does not hold it): the new training op counts from a step of its own")
    if frozen_graph:
        changes.notes.append("a frozen graph: the reused part is its constants (nothing to restore; they do not "
                             "train)")
    frozen_vars = [v.name for item in reused_layers if item.name in frozen_scopes for v in item.variables]
    changes.details.update(cut=cut, frozen=frozen_scopes, frozen_variables=frozen_vars, inputs=inputs,
                           reused_layers=[item.name for item in reused_layers], global_step=step)
    return pinned, changes
