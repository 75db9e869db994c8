"""Strip the training machinery of a training graph, and say how to rebuild it (TensorFlow-free).

:func:`strip_training` removes the training op, its gradients, its
optimizer's update ops and slot variables, the ``init`` op and the saver,
and records what is needed to rebuild them (:class:`TrainingInfo`): the loss
(found from the op that reads the gradients' seed
``.../gradients/grad_ys_0``: ``.../gradients/loss/loss_grad/...`` means
``loss/loss:0``), the optimizer kind and hyper-parameters (read from the
constants its ``Apply*`` ops read), the training op's name and its place in
collections. :mod:`graphsurgeon.training.rebuild` builds them again in
TensorFlow; freeze-layers and swap use the pair.

Gradient transformations between ``compute_gradients`` and
``apply_gradients`` (per-gradient clipping, for instance) are not carried
over; when the stripped part contained ``clip_by_*`` ops the notes say so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..analysis.constants import Constants
from ..errors import RewriteError, UsageError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..metagraph.saver import saver_scope_ops
from ..vocab import names as _names
from ..vocab.optypes import GRADIENT_SCOPE as _GRAD_SCOPE
from ..vocab.optypes import PLACEHOLDER_TYPES, VARIABLE_TYPES
from ..vocab.training_op import TRAIN_OP_COLLECTIONS, find_training_op, global_step
from .rewrite import rewrite

__all__ = ["strip_training", "TrainingInfo"]

# Optimizer kinds we can rebuild, by Apply op type: input positions of the hyper-parameters.
_OPTIMIZERS = {
    "ApplyGradientDescent": ("GradientDescent", {"learning_rate": 1}),
    "ResourceApplyGradientDescent": ("GradientDescent", {"learning_rate": 1}),
    "ApplyMomentum": ("Momentum", {"learning_rate": 2, "momentum": 4}),
    "ResourceApplyMomentum": ("Momentum", {"learning_rate": 2, "momentum": 4}),
    "ApplyAdam": ("Adam", {"learning_rate": 5, "beta1": 6, "beta2": 7, "epsilon": 8}),
    "ResourceApplyAdam": ("Adam", {"learning_rate": 5, "beta1": 6, "beta2": 7, "epsilon": 8}),
    "ApplyRMSProp": ("RMSProp", {"learning_rate": 3, "decay": 4, "momentum": 5, "epsilon": 6}),
    "ResourceApplyRMSProp": ("RMSProp", {"learning_rate": 3, "decay": 4, "momentum": 5, "epsilon": 6}),
}


@dataclass
class TrainingInfo:
    """What :func:`strip_training` removed and how to rebuild it."""

    training_op: str                  # "train/training_op"
    loss: str                         # "loss/loss:0"
    optimizer: str                    # "GradientDescent", "Momentum", "Adam", "RMSProp"
    hyperparameters: dict = field(default_factory=dict)
    collections: dict = field(default_factory=dict)  # collection -> index the training op had
    notes: list[str] = field(default_factory=list)
    global_step: str | None = None    # the global step variable the training op incremented (kept)

    def as_dict(self) -> dict:
        return {"training_op": self.training_op, "loss": self.loss, "optimizer": self.optimizer,
                "hyperparameters": self.hyperparameters, "collections": self.collections, "notes": self.notes,
                "global_step": self.global_step}


def _const_value(consts: Constants, tensor: str):
    """The constant behind ``tensor`` as a Python number (or list), or None."""
    value = consts.value(tensor)
    if value is None:
        return None
    return value.item() if value.size == 1 else value.tolist()


@rewrite(requires=("top_level",), reports=True)
def strip_training(g: Graph, training_op: str | None = None, loss: str | None = None,
                   collections=TRAIN_OP_COLLECTIONS) -> tuple[Graph, Changes]:
    """Remove the training op, its gradients, optimizer, slots, ``init`` and saver (TensorFlow-free).

    The global step the training op incremented stays (a rebuilt training op
    increments it again).

    Args:
        g: a training graph with a MetaGraphDef.
        training_op: its name (default: found, see :func:`graphsurgeon.vocab.training_op.find_training_op`).
        loss: the loss tensor (default: found from the gradients' seed).
        collections: where to look for the training op when it is not named.

    Returns:
        ``(stripped copy, Changes)``; ``changes.details["training"]`` is the
        :class:`TrainingInfo` the rebuild needs.

    Raises:
        RewriteError: no gradients, or an optimizer this module cannot rebuild.
    """
    if g.meta_graph is None:
        raise UsageError(f"{g.where}: a training graph needs its MetaGraphDef (.meta, checkpoint or SavedModel)")
    t_op = find_training_op(g, training_op, collections)
    upstream_t = g.ancestors([t_op], include_roots=True)
    consts = Constants(g)
    grad_ops = {n for n in upstream_t if _GRAD_SCOPE.search(n)}
    if not grad_ops:
        raise RewriteError(f"{t_op!r} has no gradients upstream; it is not a training op this can rebuild")
    # Whole gradients scopes: tf.gradients also leaves ops nothing uses (zeros_like, Shape).
    prefixes = tuple({n[:_GRAD_SCOPE.search(n).end()] for n in grad_ops})
    grad_ops |= {n for n in g.node_defs if n.startswith(prefixes)}
    # The loss: the op differentiated from the seed .../gradients/grad_ys_0.
    if loss is None:
        seeds = [n for n in grad_ops if re.search(_GRAD_SCOPE.pattern + "grad_ys_0$", n)]
        found = set()
        for seed in seeds:
            for consumer in g.op(seed).consumers:
                m = re.search(_GRAD_SCOPE.pattern + "(.+?)_grad/", consumer.name)
                if m and m.group(1) in g:
                    found.add(m.group(1))
        if len(found) != 1:
            raise RewriteError(f"cannot tell which loss {t_op!r} minimizes (candidates: {sorted(found) or 'none'})",
                               hint="name it with --loss")
        loss = f"{found.pop()}:0"
    loss = g.tensor(loss).name
    # Optimizer kind and hyper-parameters, from its Apply ops.
    kinds: dict[tuple, list[str]] = {}
    for name in upstream_t:
        op_type = g.node_defs[name].op
        if op_type.startswith(("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply")):
            spec = _OPTIMIZERS.get(op_type)
            if spec is None:
                raise RewriteError(f"{t_op!r} uses {op_type} ({name}); rebuilding that optimizer is not supported",
                                   hint="supported: GradientDescent, Momentum, Adam, RMSProp")
            kind, positions = spec
            inputs = g.op(name).input_names
            hyper = tuple(sorted((k, _const_value(consts, inputs[i])) for k, i in positions.items()))
            if op_type.endswith("Momentum"):
                hyper += (("use_nesterov", bool(g.node_defs[name].attr["use_nesterov"].b)),)
            if op_type.endswith("Adam") and g.node_defs[name].attr["use_nesterov"].b:
                raise RewriteError(f"{name}: Adam with use_nesterov cannot be rebuilt")
            kinds.setdefault((kind, hyper), []).append(name)
    if len(kinds) != 1:
        raise RewriteError(f"{t_op!r} applies {len(kinds)} different optimizer settings; cannot rebuild it"
                           if kinds else f"{t_op!r} applies no optimizer update")
    (kind, hyper), apply_ops = next(iter(kinds.items()))
    hyperparameters = dict(hyper)
    if any(v is None for v in hyperparameters.values()):
        raise RewriteError(f"{apply_ops[0]}: a hyper-parameter is not a constant; cannot rebuild {kind}")

    # What goes: gradients and everything they feed, the training op, what only
    # they need, optimizer state variables, init and the saver.
    remove = g.descendants(grad_ops | {t_op}, include_roots=True)
    # Kept whatever happens: the loss and what collections name (update_ops...).
    protected = {loss.split(":")[0]}
    for key, coll in g.meta_graph.collection_def.items():
        if coll.WhichOneof("kind") == "node_list":
            protected.update(_names.split_tensor_name(v)[0] for v in coll.node_list.value)
    protected.discard(t_op)
    clash = protected & remove - {t_op}
    if clash:
        raise RewriteError(f"{sorted(clash)[0]!r} is named in a collection but computed from the gradients; "
                           "cannot rebuild the training op around it")
    consumers = g.uses
    changed = True
    while changed:  # ops upstream of the training op that only removed ops read
        changed = False
        for name in upstream_t - remove - protected:
            node = g.node_defs[name]
            if node.op in VARIABLE_TYPES or node.op in PLACEHOLDER_TYPES:
                continue
            users = consumers(name)
            if users and all(c in remove for c, _, _ in users):
                remove.add(name)
                changed = True
    var_names = {op.name for op in g.ops(type=list(VARIABLE_TYPES))}
    step = global_step(g)
    step = step if step is not None and step in upstream_t else None
    state = set()
    for var in var_names - {step}:
        own = {var} | {n for n in g.node_defs if n.startswith(var + "/") and n not in var_names}
        users = {c for o in own for c, _, _ in consumers(o) if c not in own}
        users -= saver_scope_ops(g) | {"init"}
        if users and users <= remove:
            state.add(var)
    init_ops = {n for n in ("init",) if n in g.node_defs and g.node_defs[n].op == "NoOp"}
    remove |= state | init_ops | saver_scope_ops(g)
    remove = g.descendants(remove, include_roots=True)
    keep_check = [n for n in (loss.split(":")[0],) if n in remove]
    if keep_check:
        raise RewriteError(f"the loss {loss!r} would be removed with the training machinery")

    info = TrainingInfo(training_op=t_op, loss=loss, optimizer=kind, hyperparameters=hyperparameters,
                        global_step=step)
    meta = g.meta_graph
    for key, coll in meta.collection_def.items():
        if coll.WhichOneof("kind") == "node_list":
            for i, value in enumerate(coll.node_list.value):
                if _names.split_tensor_name(value)[0] == t_op:
                    info.collections[key] = i
    if any("clip_by" in n for n in remove):
        info.notes.append("the old training op clipped gradients (clip_by_* ops); the rebuilt one does not")
    out = g  # the copy gs.rewrite gives
    out.set_saver_def(None)
    changes = out.remove_ops(remove)
    changes.notes.extend(info.notes)
    changes.details["training"] = info
    return changes
