"""Which ops a picture shows: a scope, the paths between two tensors, the network without its training machinery.

Every walk here is iterative and cycle-safe (TF1 while loops have back
edges), and none imports TensorFlow.
"""
from __future__ import annotations

import re
from collections import deque

from ..errors import NotFoundError, UsageError

# Name-scope components that only training, saving and initialising create.
_GRADIENT_PART = re.compile(r"gradients(_\d+)?$")
_MACHINERY_PART = re.compile(r"save(_\d+)?$|Initializer$|report_uninitialized_variables(_\d+)?$")
# Root ops that run initialisers: tf.compat.v1.global_variables_initializer() and friends.
_INIT_OP = re.compile(r"init(_\d+)?$|init_all_tables(_\d+)?$|init_all_vars(_\d+)?$|(legacy_)?init_op$")
# Optimizer state: slot variables (kernel/Adam, kernel/Momentum, ...) and step counters.
_SLOT = re.compile(r"(Adam(W)?(_\d+)?|Momentum(_\d+)?|RMSProp(_\d+)?|Adagrad(DA)?(_\d+)?|Adadelta(_\d+)?|"
                   r"Ftrl(_\d+)?|Nadam(_\d+)?|beta1_power|beta2_power|global_step|ProximalAdagrad(_\d+)?)$")
_VARIABLE_TYPES = {"VariableV2", "Variable", "VarHandleOp", "TemporaryVariable"}
# Ops that write state, save, restore, differentiate or summarise: only training does that.
_MACHINERY_TYPE = re.compile(
    r"^(Resource)?(Sparse)?Apply|^Assign|^(Resource)?Scatter|^(Save|Restore|MergeV2Checkpoints|"
    r"ShardedFilename)|Grad(V\d)?$|^BroadcastGradientArgs$|BackpropFilter|^SymbolicGradient$|Summary|"
    r"^(VarIsInitializedOp|IsVariableInitialized)$")
# Functions tf.saved_model.save writes for the object graph's saver (TF2 SavedModels).
_SAVER_FUNCTION = re.compile(r"_traced_(save|restore)_\d+$")
_GRADIENT_TYPE = re.compile(r"Grad(V\d)?$|^BroadcastGradientArgs$|BackpropFilter|^SymbolicGradient$")


def _is_slot_name(name: str) -> bool:
    return bool(_SLOT.match(name.rsplit("/", 1)[-1]))


def training_machinery(g) -> set[str]:
    """Names of the ops that exist for training, saving and initialising, not for inference.

    The predicate behind ``render(..., no_training=True)`` and
    ``graphsurgeon render --no-training``. An op is machinery when

    1. its name scope says so: a ``gradients``/``gradients_N`` scope, a
       ``save``/``save_N`` scope (the Saver), an ``Initializer`` scope
       (variable initial values), ``report_uninitialized_variables``; or it
       is a root initialiser op (``init``, ``init_N``, ``init_all_tables``);
    2. it is optimizer state: a slot variable (``kernel/Adam``,
       ``kernel/Momentum``, ...), ``beta1_power``, ``global_step``, and
       whatever lives under those names;
    3. its type writes, saves, restores, differentiates or summarises:
       ``Assign*``, ``Apply*``/``ResourceApply*``, ``Scatter*``,
       ``SaveV2``/``RestoreV2``, ``*Grad``, ``*Summary``, initialisation
       checks, calls of the ``__inference__traced_save/restore`` functions
       of TF2 SavedModels;
    4. every op it feeds is machinery, none of them a gradient op: values
       computed only to be written into variables (the learning rate, the
       moving-average updates of batch normalisation). The exception keeps
       the loss, which only the gradients read but which is part of the
       model;
    5. it has inputs other than constants and all of them are machinery:
       the ``training_op`` NoOp, reads of slot variables, clipped gradients.

    Scope names like ``train`` are deliberately not a rule: the fixture's
    ``training`` placeholder (a model input) would fall to it.

    Example:
        >>> hidden = training_machinery(g)
        >>> "train/training_op" in hidden, "loss/loss" in hidden, "hidden1/MatMul" in hidden
        (True, False, False)
    """
    from ..functions import called_functions

    nodes = {node.name: node for node in g.graph_def.node}
    consumers = g._consumers()
    library = g.library_names
    machinery: set[str] = set()
    gradient: set[str] = set()
    for name, node in nodes.items():
        parts = name.split("/")
        grad = any(_GRADIENT_PART.match(p) for p in parts) or bool(_GRADIENT_TYPE.search(node.op))
        saver_call = bool(library) and any(_SAVER_FUNCTION.search(f) for _, f in called_functions(node, library))
        if grad or saver_call or any(_MACHINERY_PART.match(p) for p in parts) or _MACHINERY_TYPE.search(node.op) \
                or (len(parts) == 1 and node.op == "NoOp" and _INIT_OP.match(name)):
            machinery.add(name)
            if grad:
                gradient.add(name)
            continue
        # Slot variables and everything under them (kernel/Adam/read, kernel/Adam/Assign).
        for depth in range(len(parts), 0, -1):
            prefix = "/".join(parts[:depth])
            if _is_slot_name(prefix) and prefix in nodes and nodes[prefix].op in _VARIABLE_TYPES:
                machinery.add(name)
                break

    def producers(node):
        for text in node.input:
            yield text[1:] if text.startswith("^") else text.rsplit(":", 1)[0] if ":" in text else text

    def feeds_only_machinery(name: str) -> bool:
        readers = consumers.get(name)
        return bool(readers) and all(c in machinery and c not in gradient for c, _, _ in readers)

    def fed_only_by_machinery(name: str) -> bool:
        inputs = [p for p in producers(nodes[name]) if p in nodes and nodes[p].op != "Const"]
        return bool(inputs) and all(p in machinery for p in inputs)

    queue = deque(machinery)
    while queue:
        name = queue.popleft()
        node = nodes.get(name)
        if node is None:
            continue
        for producer in producers(node):
            if producer in nodes and producer not in machinery and nodes[producer].op not in \
                    ("Placeholder", "PlaceholderV2", "PlaceholderWithDefault") and feeds_only_machinery(producer):
                machinery.add(producer)
                queue.append(producer)
        for consumer, _, _ in consumers.get(name, ()):
            if consumer in nodes and consumer not in machinery and fed_only_by_machinery(consumer):
                machinery.add(consumer)
                queue.append(consumer)
    return machinery


def scope_ops(g, scope: str) -> set[str]:
    """Names of the ops in name scope ``scope`` (and the op called ``scope`` itself, if any)."""
    scope = scope.strip("/")
    prefix = scope + "/"
    found = {node.name for node in g.graph_def.node if node.name == scope or node.name.startswith(prefix)}
    if not found:
        raise NotFoundError("scope", scope, sorted(all_scopes(g)), where=g._where())
    return found


def all_scopes(g) -> set[str]:
    """Every name scope of the graph (``a``, ``a/b`` for an op ``a/b/c``)."""
    scopes: set[str] = set()
    for node in g.graph_def.node:
        name = node.name
        cut = name.rfind("/")
        while cut > 0:
            prefix = name[:cut]
            if prefix in scopes:
                break
            scopes.add(prefix)
            cut = prefix.rfind("/")
    return scopes


def ops_between(g, source: str, target: str) -> set[str]:
    """Names of the ops on data paths from tensor ``source`` to tensor ``target`` (both ops included).

    ``source`` and ``target`` are tensor names (``X:0``) or op names (output 0).
    Only data edges are followed; loops (TF1 ``NextIteration`` back edges)
    are walked once.

    Raises:
        NotFoundError: a name is not in the graph.
        UsageError: no data path leads from ``source`` to ``target``.

    Example:
        >>> sorted(ops_between(g, "hidden1/MatMul:0", "Elu:0"))[:2]
        ['Elu', 'batch_normalization/batchnorm/add_1']
    """
    src = g.tensor(source)
    dst = g.tensor(target)
    consumers = g._consumers()
    forward = {src.op_name}
    queue = deque(c for c, _, idx in consumers.get(src.op_name, ()) if idx == src.index)
    while queue:
        name = queue.popleft()
        if name in forward:
            continue
        forward.add(name)
        queue.extend(c for c, _, idx in consumers.get(name, ()) if idx >= 0 and c not in forward)
    if dst.op_name not in forward:
        raise UsageError(f"no data path from {src.name} to {dst.name} in {g._where()}",
                         hint="check the direction: --between INPUT_TENSOR OUTPUT_TENSOR")
    nodes = {node.name: node for node in g.graph_def.node}
    backward: set[str] = set()
    queue = deque([dst.op_name])
    while queue:
        name = queue.popleft()
        if name in backward:
            continue
        backward.add(name)
        if name not in nodes:
            continue
        for text in nodes[name].input:
            if not text.startswith("^"):
                producer = text.rsplit(":", 1)[0] if ":" in text else text
                if producer in forward and producer not in backward:
                    queue.append(producer)
    return forward & backward
