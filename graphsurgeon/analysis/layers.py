"""Layers: the name scopes that own variables, in data-flow order (TensorFlow-free).

A *layer* is the name scope that holds a model variable (``hidden1`` for
``hidden1/kernel``). A model variable at the root, outside any scope (``W1``,
``b1``, ``Theta_1``, the legacy ``Variable`` ops of 2016 checkpoints), is a
layer of its own, named after it, holding the root-level ops that read its
value (``MatMul``, ``add``). Variables that are training machinery
(:func:`graphsurgeon.vocab.optypes.training_machinery`: optimizer slots such
as ``kernel/Adam`` or Keras' ``training/Adam/dense/kernel/m``, the optimizer's
hyper-parameter variables, step counters such as ``global_step``, the shadow
variables of moving averages) belong to no layer. For each layer
:func:`layers` reports its variables (shape, parameter count, trainable or
not), the tensors crossing its boundary on data edges (never a variable's
value: a layer's output is what it computes), and its op count.

Boundary tensors ignore training and saving machinery: ops under a
``gradients`` scope, optimizer update ops (``Apply*``), the saver (``save/``)
and the initializer op. So ``hidden1``'s inputs are ``X:0`` (not the gradients
that read its kernel) and ``batch_normalization``'s are ``hidden1/BiasAdd:0``
and the ``training:0`` switch.

Data-flow order: each layer is placed by the depth (longest data path from
a source) of its deepest input's producer, so a layer always comes after
every layer that feeds it; ties keep graph order.

Activations at the root. The chapter's ``tf.nn.elu`` calls make ``Elu`` and
``Elu_1`` outside any scope. A root op of an activation type whose input is a
layer's output is attached to that layer: its ``activation`` names the op and
its ``output`` is the activated tensor.

"After a layer" (:func:`resolve_cut`): the chapter's blocks are
``dense -> batch norm -> activation``. ``--at hidden2`` means the output of
the *block that starts at* ``hidden2``: from the layer, follow its output
while its only consumer is a batch-norm layer (a scope with ``moving_mean``
and ``moving_variance``, or a ``FusedBatchNorm*`` op), then take the last
layer's ``output`` (its activation when it has one). In the fixture::

    hidden2 (dense) -> batch_normalization_1 (BN) -> Elu_1      --at hidden2  ==  Elu_1:0
    batch_normalization_1                          -> Elu_1      --at batch_normalization_1 == Elu_1:0

and ``block("hidden2")`` is ``["hidden2", "batch_normalization_1"]``: freezing
``hidden2`` freezes its batch norm too (see :mod:`graphsurgeon.surgery.prepare_rehead`).

Example:
    >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_tf1/model.ckpt.meta")
    >>> [layer.name for layer in g.layers()]
    ['hidden1', 'batch_normalization', 'hidden2', 'batch_normalization_1', 'outputs', 'batch_normalization_2']
    >>> resolve_cut(g, "hidden2")
    'Elu_1:0'
"""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field

from ..errors import NotFoundError, UsageError
from ..metagraph.variables import variables
from ..vocab import names as _names
from ..vocab.optypes import ACTIVATION_TYPES, PASS_THROUGH, VARIABLE_TYPES, training_machinery
from .shapes import shape_json

__all__ = ["Layer", "LayerVariable", "layers", "layer", "resolve_cut", "block"]


@dataclass
class LayerVariable:
    """A variable of a layer."""

    name: str
    dtype: str | None
    shape: tuple | None
    params: int | None
    trainable: bool | None

    def as_dict(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": shape_json(self.shape),
                "params": self.params, "trainable": self.trainable}


@dataclass
class Layer:
    """A name scope that owns variables.

    Attributes:
        name: the scope (``hidden1``).
        variables: its variables.
        inputs: tensors produced outside and read inside (data edges, machinery excluded).
        outputs: tensors produced inside and read outside (same rule).
        ops: number of ops under the scope.
        activation: the root activation op attached to it (``Elu``), or None.
        output: the activated output (``Elu:0``) or the only output tensor; None
            when the layer has several outputs and no activation.
        kind: ``"batch_norm"``, ``"dense"`` (MatMul + bias) or ``"other"``.
    """

    name: str
    variables: list[LayerVariable] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    ops: int = 0
    activation: str | None = None
    output: str | None = None
    kind: str = "other"

    @property
    def params(self) -> int:
        return sum(v.params or 0 for v in self.variables)

    @property
    def trainable(self) -> bool:
        return any(v.trainable for v in self.variables)

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "variables": [v.as_dict() for v in self.variables],
                "params": self.params, "inputs": self.inputs, "outputs": self.outputs, "ops": self.ops,
                "activation": self.activation, "output": self.output}


def _levels(g) -> dict[str, int]:
    """Longest data path from a source to each op (iterative Kahn; loop back edges ignored).

    Data edges only, read as such (a training graph's millions of control inputs are never parsed).
    """
    nodes = g.node_defs
    back_edge = ("NextIteration", "RefNextIteration")
    indegree: dict[str, int] = {}
    for name in nodes:
        indegree[name] = sum(1 for ref in g.data_refs(name) if ref.op in nodes and nodes[ref.op].op not in back_edge)
    level = dict.fromkeys(nodes, 0)
    ready = [name for name in nodes if indegree[name] == 0]
    while ready:
        name = ready.pop()
        if nodes[name].op in back_edge:
            continue
        for use in g.data_uses(name):
            consumer = use.consumer
            if consumer not in indegree:
                continue
            level[consumer] = max(level[consumer], level[name] + 1)
            indegree[consumer] -= 1
            if indegree[consumer] == 0:
                ready.append(consumer)
    return level


_PART = re.compile(r"/part_\d+$")


def _owner(var_name: str, var_names: set[str]) -> str | None:
    """The layer owning a variable: its scope, itself at the root; None for an optimizer slot.

    A part of a partitioned variable (``embedding/weights/part_0``) counts as the variable it is a
    part of (``embedding/weights``, in layer ``embedding``).
    """
    var_name = _PART.sub("", var_name)
    scope = _names.scope_of(var_name)
    if not scope:
        return var_name
    # A slot lives inside its variable's scope: hidden1/kernel/Momentum.
    probe = scope
    while probe:
        if probe in var_names:
            return None
        probe = _names.scope_of(probe)
    return scope


_READS = PASS_THROUGH | {"ReadVariableOp"}


def _value_reads(g, var: str) -> tuple[list[str], list[str]]:
    """``(reads, readers)`` of a variable's value: the pass-through and ``ReadVariableOp`` ops between
    the variable and what computes with it (data edges), and those first readers."""
    nodes = g.node_defs
    reads, readers, stack, seen = [], [], [var], {var}
    while stack:
        name = stack.pop()
        for use in g.data_uses(name):
            consumer = use.consumer
            if consumer in seen or consumer not in nodes:
                continue
            seen.add(consumer)
            if nodes[consumer].op in _READS:
                reads.append(consumer)
                stack.append(consumer)
            else:
                readers.append(consumer)
    return reads, readers


def _scope_of_op(name: str, scopes: list[str]) -> str | None:
    # Longest matching scope wins (nested layers: a/b inside a).
    probe = _names.scope_of(name)
    while probe:
        if probe in scopes:
            return probe
        probe = _names.scope_of(probe)
    return None


def layers(g) -> list[Layer]:
    """The layers of ``g`` (name scopes owning variables), in data-flow order.

    See the module documentation for the rules.

    Example:
        >>> g.layers()[0].inputs
        ['X:0']
    """
    return g.derived("analysis.layers", _compute_layers)


def _compute_layers(g) -> list[Layer]:
    machinery = training_machinery(g)
    # The model's variables: not machinery, and read by something that is not (a variable only the
    # saver and its initialiser read is no layer's).
    value_reads = {}
    for v in variables(g):
        if v.name in machinery:
            continue
        reads, readers = _value_reads(g, v.name)
        if any(r not in machinery for r in readers):
            value_reads[v.name] = (reads, readers)
    all_vars = [v for v in variables(g) if v.name in value_reads]
    var_names = {v.name for v in all_vars}
    by_scope: dict[str, Layer] = {}
    for v in all_vars:
        scope = _owner(v.name, var_names)
        if scope is None:
            continue
        layer = by_scope.setdefault(scope, Layer(scope))
        layer.variables.append(LayerVariable(v.name, v.dtype, v.shape, v.params, v.trainable))
    if not by_scope:
        return []
    scopes = list(by_scope)
    scope_set = set(scopes)
    owner: dict[str, str | None] = {}
    for op in g:
        owner[op.name] = _scope_of_op(op.name, scope_set)
    # A root variable's layer holds the variable, its reads and what reads its value: a root op
    # (W1 -> MatMul), or the whole scope of a reader no layer owns (f_0 -> conv1d/); the first
    # layer (graph order) that claims an op keeps it.
    values: set[str] = set()   # the ops whose output is a variable's value
    ordered = None
    for item in by_scope.values():
        for v in item.variables:
            reads, readers = value_reads[v.name]
            values.add(v.name)
            values.update(reads)
            if "/" in item.name:
                continue
            claimed = [v.name, *reads]
            for reader in readers:
                scope = _names.scope_of(reader)
                if not scope:
                    claimed.append(reader)
                elif owner.get(reader) is None and reader not in machinery:
                    ordered = sorted(g.node_defs) if ordered is None else ordered
                    claimed.append(scope)  # the op named after its scope gives its result (tf.nn.conv1d)
                    i = bisect_left(ordered, scope + "/")
                    while i < len(ordered) and ordered[i].startswith(scope + "/"):
                        claimed.append(ordered[i])
                        i += 1
            for name in claimed:
                if name in owner and owner[name] is None and name not in machinery:
                    owner[name] = item.name
    for name, scope in owner.items():
        if scope is not None:
            by_scope[scope].ops += 1
    inputs: dict[str, dict[str, None]] = {s: {} for s in scopes}
    outputs: dict[str, dict[str, None]] = {s: {} for s in scopes}
    types: dict[str, set] = {s: set() for s in scopes}
    for node in g.graph_def.node:
        dst = owner.get(node.name)
        if dst is not None:
            types[dst].add(node.op)
        if node.name in machinery:
            continue
        for text in node.input:
            ref = _names.parse_input(text)
            if ref.control or ref.op in machinery or ref.op not in owner:
                continue
            src = owner[ref.op]
            if src == dst:
                continue
            # A layer nested in another's scope (slim's conv/BatchNorm) is inside it: what they
            # pass each other is neither the outer layer's input nor its output.
            if dst is not None and not (src is not None and src.startswith(dst + "/")):
                inputs[dst].setdefault(ref.tensor)
            if src is not None and ref.op not in values and not (dst is not None and dst.startswith(src + "/")):
                outputs[src].setdefault(ref.tensor)
    level = _levels(g)
    for scope, layer in by_scope.items():
        layer.inputs = list(inputs[scope])
        layer.outputs = list(outputs[scope])
        leaves = {v.name.rsplit("/", 1)[-1] for v in layer.variables}
        if {"moving_mean", "moving_variance"} <= leaves or any(t.startswith("FusedBatchNorm") for t in types[scope]):
            layer.kind = "batch_norm"
        elif "MatMul" in types[scope] and ("BiasAdd" in types[scope] or len(layer.variables) == 1):
            layer.kind = "dense"
    # Root activations after a layer's output.
    for layer in by_scope.values():
        if len(layer.outputs) != 1:
            continue
        out = layer.outputs[0]
        op_name, index = _names.split_tensor_name(out)
        acts = [c for c in g.tensor(out).consumers
                if c.type in ACTIVATION_TYPES and owner.get(c.name) is None and c.name not in machinery
                and "/" not in c.name]
        if len(acts) == 1:
            layer.activation = acts[0].name
            layer.output = f"{acts[0].name}:0"
        else:
            layer.output = out
    first: dict[str, int] = {}
    for i, node in enumerate(g.graph_def.node):
        scope = owner.get(node.name)
        if scope is not None and scope not in first:
            first[scope] = i

    def key(layer: Layer):
        deepest = max((level.get(_names.split_tensor_name(t)[0], 0) for t in layer.inputs), default=-1)
        return (deepest, first.get(layer.name, 0))

    return sorted(by_scope.values(), key=key)


def layer(g, name: str, all_layers: list[Layer] | None = None) -> Layer:
    """The layer called ``name`` (NotFoundError with the closest names otherwise)."""
    found = all_layers if all_layers is not None else layers(g)
    for item in found:
        if item.name == name.rstrip("/"):
            return item
    raise NotFoundError("layer", name, [item.name for item in found], where=g.where)


def block(g, name: str, all_layers: list[Layer] | None = None) -> list[str]:
    """The layer ``name``, the layers nested in its scope, and the batch-norm layers that follow it alone.

    See the module doc; slim nests a convolution's batch norm in its scope
    (``Conv2d_1_pointwise/BatchNorm``), which the convolution's block holds.
    """
    found = all_layers if all_layers is not None else layers(g)
    current = layer(g, name, found)
    chain = [current.name] + [item.name for item in found if item.name.startswith(current.name + "/")]
    by_input: dict[str, list[Layer]] = {}
    for item in found:
        for t in item.inputs:
            by_input.setdefault(t, []).append(item)
    while current.activation is None and len(current.outputs) == 1:
        out = current.outputs[0]
        readers = by_input.get(out, [])
        machinery = training_machinery(g)
        consumers = [c for c in g.tensor(out).consumers if c.name not in machinery]
        owners = {_scope_of_op(c.name, {item.name for item in readers}) for c in consumers}
        if len(readers) != 1 or readers[0].kind != "batch_norm" or owners != {readers[0].name}:
            break
        current = readers[0]
        chain.append(current.name)
    return chain


def resolve_cut(g, at: str, all_layers: list[Layer] | None = None) -> str:
    """The tensor that ``--at`` names: a tensor (``Elu_1:0``), an op (its output 0), or a layer.

    A layer means the activated output of the block that starts at it
    (module documentation); a layer whose block has no single output is an error.
    """
    if _names.is_tensor_name(at):
        return g.tensor(at).name
    found = all_layers if all_layers is not None else layers(g)
    names = {item.name for item in found}
    if at.rstrip("/") in names:
        chain = [n for n in block(g, at, found) if not n.startswith(at.rstrip("/") + "/")]  # nested: inside
        last = layer(g, chain[-1], found)
        if last.output is None:
            raise UsageError(f"layer {last.name!r} has {len(last.outputs)} outputs "
                             f"({', '.join(last.outputs)}); name the tensor to cut at")
        return last.output
    if at in g:
        return g.op(at).output(0).name
    raise NotFoundError("layer or tensor", at, list(names) + [op.name for op in g], where=g.where)


def variable_ops(g) -> set[str]:
    return {op.name for op in g.ops(type=list(VARIABLE_TYPES))}
