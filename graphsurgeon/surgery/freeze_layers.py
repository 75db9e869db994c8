"""Freeze layers or variables of a training graph, whatever its optimizer (TensorFlow-free).

Freezing a variable means the training op no longer changes it. Editing
``trainable_variables`` alone does not do that: the training op already
holds an update for every variable it was built over. So
:func:`freeze_layers` removes, from what the training op runs
(:func:`graphsurgeon.vocab.training_op.training`), every op that writes a
frozen variable: its optimizer update (``ApplyAdam``,
``ResourceSparseApplyAdagrad``, Keras' ``ResourceApplyAdam`` or Assign-based
updates...), which updates its slots too, and the writes of slots kept
apart; the gradients only those updates read go with them. The variable
leaves ``trainable_variables``; batch-norm layers whose variables are all
frozen run in inference mode
(:func:`~graphsurgeon.surgery.pin_inference.pin_inference`), so their moving
statistics stay put too.

Nothing is rebuilt, so every optimizer TensorFlow has works the same
(hyper-parameters held in variables, moving averages wrapped around the
optimizer, gradient clipping), the training op keeps its name and place in
collections, the global step is incremented as before, and the result
restores from the original checkpoint.

What to freeze is named by layers (``hidden1``: the layer and the batch
norms of its block, :func:`graphsurgeon.analysis.layers.block`), a scope
holding layers (``base`` for ``base/dense``...), variable names (``W1``,
``hidden1/kernel``) or patterns of either (``conv*``, ``re:^block_[0-3]/``,
``**/kernel``).
"""
from __future__ import annotations

from ..analysis.layers import block, layers
from ..errors import NotFoundError, RewriteError, UsageError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..metagraph.variables import variables as _variables
from ..vocab import names as _names
from ..vocab.optypes import PLACEHOLDER_TYPES, VARIABLE_TYPES, training_machinery
from ..vocab.patterns import compile_pattern, is_pattern
from ..vocab.training_op import TRAIN_OP_COLLECTIONS, training
from .pin_inference import pin_inference
from .rewrite import rewrite
from .unlink import drop_control_inputs, move_colocations

__all__ = ["freeze_layers", "resolve_frozen"]


def resolve_frozen(g: Graph, names, found=None) -> tuple[list[str], list[str]]:
    """``(layer scopes, variables)`` that ``names`` (layers, variables, patterns) mean; blocks included.

    Raises:
        NotFoundError: a name or pattern that matches no layer and no variable.
    """
    found = layers(g) if found is None else found
    layer_names = [item.name for item in found]
    # Patterns pick among the layers' variables (not optimizer slots, moving-average shadows or
    # step counters); an exact name may name any variable.
    model_vars = [v.name for item in found for v in item.variables]
    var_names = [v.name for v in _variables(g)]
    scopes: list[str] = []
    chosen: list[str] = []
    for raw in names:
        name = raw.rstrip("/") if not raw.startswith("re:") else raw
        if is_pattern(raw):
            test = compile_pattern(raw)
            hit_layers = [n for n in layer_names if test(n) or (raw.endswith("/") and test(n + "/"))]
            hit_vars = [v for v in model_vars if test(v)] if not (hit_layers and raw.endswith("/")) else []
        else:
            hit_layers = [n for n in layer_names if n == name]
            hit_vars = [v for v in var_names if v == name] if not hit_layers else []
            if not hit_layers and not hit_vars:  # a scope above layers (base for base/dense)
                hit_layers = [n for n in layer_names if n.startswith(name + "/")]
        if not hit_layers and not hit_vars:
            raise NotFoundError("layer or variable", raw, layer_names + var_names, where=g.where)
        for scope in hit_layers:
            for member in block(g, scope, found):
                if member not in scopes:
                    scopes.append(member)
        for var in hit_vars:
            if var not in chosen:
                chosen.append(var)
    by_name = {item.name: item for item in found}
    frozen = [v.name for scope in scopes for v in by_name[scope].variables]
    frozen += [v for v in chosen if v not in frozen]
    return scopes, frozen


def _untrainable(out: Graph, frozen) -> list[str]:
    """Take ``frozen`` out of ``trainable_variables`` (and Keras' resource twin); the names taken out."""
    dropped = []
    for key in ("trainable_variables", "trainable_resource_variables"):
        if key not in out.collections:
            continue
        present = {getattr(item, "variable_name", "").split(":")[0] for item in out.collection(key)}
        gone = [v for v in frozen if v in present]
        if gone:
            out.remove_from_collection(key, *gone)
            dropped.extend(v for v in gone if v not in dropped)
    return dropped


def _remove_with_dead_inputs(out: Graph, remove: set[str], machinery: frozenset) -> list[str]:
    """Remove ``remove``, then what only they read (machinery only: gradients, optimizer scopes)."""
    nodes = out.node_defs
    protected = set()
    meta = out.meta_graph
    for coll in meta.collection_def.values():
        if coll.WhichOneof("kind") == "node_list":
            protected.update(_names.split_tensor_name(v)[0] for v in coll.node_list.value)
    drop_control_inputs(out, remove)
    for name in remove:
        for use in out.uses(name):
            if use.consumer not in remove:
                raise RewriteError(f"cannot stop {name!r}: {use.consumer!r} reads the value it writes")
    gone = set(remove)
    frontier = {ref.op for name in remove for ref in out.input_refs(name)} - gone
    while frontier:
        name = frontier.pop()
        node = nodes.get(name)
        if node is None or name in gone or name not in machinery or name in protected \
                or node.op in VARIABLE_TYPES or node.op in PLACEHOLDER_TYPES:
            continue
        if all(u.consumer in gone for u in out.uses(name)):
            gone.add(name)
            frontier.update(ref.op for ref in out.input_refs(name))
    move_colocations(out, dict.fromkeys(gone))
    return out.remove_ops(gone).removed


@rewrite(requires=("top_level",), reports=True)
def freeze_layers(g: Graph, names, *, training_op: str | None = None,
                  collections=TRAIN_OP_COLLECTIONS) -> tuple[Graph, Changes]:
    """Freeze layers or variables of a training graph; returns ``(edited copy, Changes)``. TensorFlow-free.

    Args:
        g: a training graph with its MetaGraphDef; not modified. Its
            checkpoint, if any, goes with the result unchanged.
        names: layers (``hidden1``: its block's batch norms too), variables
            (``W1``) or patterns of either (``conv*``, ``re:...``).
        training_op: the training op (default: found, see
            :func:`graphsurgeon.vocab.training_op.find_training_op`).
        collections: where to look for the training op when it is not named.

    Returns:
        The edited graph, and Changes whose ``details`` hold ``frozen``
        (layer scopes), ``frozen_variables``, ``trainable_variables`` (what
        the training op still trains), ``training_op``, ``global_step``,
        ``stopped`` (the update ops removed) and ``removed_ops``.

    Raises:
        UsageError: a plain GraphDef, or no name given.
        NotFoundError: a name that is no layer and no variable.
        RewriteError: every trained variable would be frozen, or something
            reads the value an update writes.

    Example:
        >>> result, changes = freeze_layers(graphsurgeon.load("fixtures/models/mnist_bn_elu_tf1"),
        ...                                 ["hidden1", "hidden2"])
        >>> changes.details["frozen"]
        ['hidden1', 'batch_normalization', 'hidden2', 'batch_normalization_1']
    """
    if g.meta_graph is None:
        raise UsageError(f"{g.where}: freezing layers needs a training graph with its MetaGraphDef "
                         "(a .meta, checkpoint directory or SavedModel), not a plain GraphDef")
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise UsageError("name at least one layer or variable to freeze")
    found = layers(g)
    scopes, frozen = resolve_frozen(g, names, found)
    run = training(g, training_op, collections)
    still = [v for v in run.trained if v not in frozen]
    if not still:
        raise RewriteError(f"nothing would be left to train: {run.op!r} trains only "
                           f"{', '.join(run.trained)}, and all of them are frozen")
    notes = []
    untrained = [v for v in frozen if v not in run.writes and v not in set().union(*run.slots.values())]
    kinds = {item.name: item.kind for item in found}
    bn_scopes = [s for s in scopes if kinds.get(s) == "batch_norm"]
    out, changes = pin_inference(g, bn_scopes)
    # The writes of frozen variables and of their slots the pinning left.
    stop = []
    for var in frozen:
        for owner in [var] + run.slots.get(var, []):
            stop.extend(w for w in run.writes.get(owner, []) if w in out.node_defs and w not in stop)
    machinery = training_machinery(g)
    removed = _remove_with_dead_inputs(out, set(stop), machinery) if stop else []
    changes.removed.extend(removed)
    dropped = _untrainable(out, frozen)
    if untrained:
        notes.append(f"{run.op} did not train {', '.join(untrained)} (nothing to stop)")
    changes.notes.extend(notes)
    changes.details.update(frozen=scopes, frozen_variables=frozen, trainable_variables=still,
                           untrainable=dropped, training_op=run.op, global_step=run.step, stopped=stop,
                           removed_ops=len(changes.removed))
    return out, changes

