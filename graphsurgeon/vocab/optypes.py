"""One vocabulary of op types: what each TensorFlow op type (and op) is for.

Every command classifies ops through this module, so that ``ls``, ``info``,
``layers``, ``render`` and the rewrites agree on which ops are variables,
calls, pass-through ops, training machinery, or reach outside the graph.
Nothing here imports TensorFlow.
"""
from __future__ import annotations

import re
from bisect import bisect_left
from collections import deque
from operator import itemgetter

from ..ir.functions import called_functions
from . import names as _names
from . import opaccess as _opaccess

# ---------------------------------------------------------------- state
REF_VARIABLE_TYPES = ("VariableV2", "Variable", "TemporaryVariable")
RESOURCE_VARIABLE_TYPES = ("VarHandleOp",)
VARIABLE_TYPES = REF_VARIABLE_TYPES + RESOURCE_VARIABLE_TYPES
# Placeholders without a default: a graph cannot run unless they are fed.
REQUIRED_PLACEHOLDER_TYPES = ("Placeholder", "PlaceholderV2")
# Every placeholder: what a caller may feed (``PlaceholderWithDefault`` needs not be).
PLACEHOLDER_TYPES = REQUIRED_PLACEHOLDER_TYPES + ("PlaceholderWithDefault",)
# Ops that fill a lookup table (input 0: the table), as tables_initializer() runs them.
TABLE_INITIALIZER_TYPES = frozenset({"InitializeTable", "InitializeTableV2", "InitializeTableFromTextFile",
                                     "InitializeTableFromTextFileV2", "LookupTableImport", "LookupTableImportV2",
                                     "InitializeTableFromDataset"})
# Ops that restore tensors from a checkpoint (input 1: the checkpoint keys), as a Saver builds them.
RESTORE_TYPES = ("RestoreV2", "Restore", "RestoreSlice")
# Ops that write tensors to a checkpoint (input 0: where), as a Saver builds them.
SAVE_TYPES = ("SaveV2", "Save", "SaveSlices")
SAVE_RESTORE_TYPES = frozenset({*SAVE_TYPES, *RESTORE_TYPES, "MergeV2Checkpoints", "ShardedFilename",
                                "ShardedFilespec"})

# ---------------------------------------------------------------- calls and control flow
# Ops that call a library function through their ``f`` attribute (inlinable).
CALL_OPS = frozenset({"PartitionedCall", "StatefulPartitionedCall"})
IF_OPS = frozenset({"If", "StatelessIf"})
CASE_OPS = frozenset({"Case", "StatelessCase"})
WHILE_OPS = frozenset({"While", "StatelessWhile"})
SWITCH_OPS = frozenset({"Switch", "RefSwitch"})
MERGE_OPS = frozenset({"Merge", "RefMerge"})
NEXT_ITERATION_OPS = frozenset({"NextIteration", "RefNextIteration"})  # a TF1 loop's back edge, into a Merge
CONTROL_FLOW_V1 = frozenset({"Switch", "RefSwitch", "Merge", "RefMerge", "Enter", "RefEnter", "Exit", "RefExit",
                             "NextIteration", "RefNextIteration", "LoopCond"})
CONTROL_FLOW_V2 = IF_OPS | CASE_OPS | WHILE_OPS

# Ops whose output is their (first) input: a chain of them from a constant is that
# constant, from a variable a read of it.
PASS_THROUGH = frozenset({"Identity", "Snapshot", "StopGradient", "PreventGradient", "RefIdentity"})

# Element-wise activations: same input and output, one per layer.
ACTIVATION_TYPES = frozenset({
    "Elu", "Selu", "Relu", "Relu6", "LeakyRelu", "Sigmoid", "Tanh", "Softplus", "Softsign", "Gelu",
})


# ---------------------------------------------------------------- external access
# Ops that reach outside the graph, as the registry audit (:mod:`graphsurgeon.vocab.opaccess`,
# ``data/op_access.tsv``) decides them: the one answer every command uses.
FILE_READ_OPS = _opaccess.op_types("read-files")
FILE_WRITE_OPS = _opaccess.op_types("write-files")
FILE_LIST_OPS = _opaccess.op_types("list-files")
FILE_OPS = FILE_READ_OPS | FILE_WRITE_OPS | FILE_LIST_OPS
PYTHON_OPS = _opaccess.op_types("python")
# Ops that talk to other processes or hosts: servers and clients at an address,
# remote calls, and the ops that exchange tensors with the other devices and
# workers of the same job (PEER_EXCHANGE_OPS: placed there by TensorFlow's own
# partitioning or a distribution strategy, they name no address of their own).
PEER_EXCHANGE_OPS = _opaccess.op_types("peer-exchange")
NETWORK_OPS = _opaccess.op_types("network") | PEER_EXCHANGE_OPS
# Ops that run native code the graph does not describe: a custom call into a
# function registered under a name, or an embedded compiled module. (Stock
# TensorFlow has no op that loads a shared library itself: a model whose op
# types no registry knows needs its library loaded by the user, see ``scan``.)
LIBRARY_OPS = _opaccess.op_types("load-library")
# Ops that deserialize a graph held in a tensor and run it.
GRAPH_RUNNING_OPS = _opaccess.op_types("runs-graph")
# Ops that sleep, end the process or shut a worker down.
DENIAL_OPS = _opaccess.op_types("denial-of-service")

# What each kind of access is called, from the most to the least dangerous.
CAPABILITIES = {key: text for key, text in _opaccess.KINDS.items() if key not in ("none", "peer-exchange")}


def capability(op_type: str) -> str | None:
    """Which :data:`CAPABILITIES` key an op type has (``peer-exchange`` ops: ``network``), or None.

    Custom ops (no registry knows them) and op types that reach nothing give None.
    """
    entry = _opaccess.access(op_type)
    if entry is None or entry.access == "none":
        return None
    return "network" if entry.access == "peer-exchange" else entry.access


def reaches(op_type: str) -> str | None:
    """What an op of this type reaches outside the graph: "python", "network", "files", "native code",
    "graph" (a serialized one it runs), "denial of service", or None."""
    if op_type in PYTHON_OPS:
        return "python"
    if op_type in NETWORK_OPS:
        return "network"
    if op_type in FILE_OPS:
        return "files"
    if op_type in LIBRARY_OPS:
        return "native code"
    if op_type in GRAPH_RUNNING_OPS:
        return "graph"
    if op_type in DENIAL_OPS:
        return "denial of service"
    return None


# ---------------------------------------------------------------- training machinery
def training_machinery(g) -> frozenset:
    """Names of the ops that exist for training, saving and initialising, not for inference.

    Computed once per graph and cached until it is edited. See
    :func:`_compute_training_machinery` for the rules.
    """
    return g.derived("training_machinery", _compute_training_machinery)


# Name-scope components that only training, saving and initialising create,
# searched in the whole name at once (one C-speed search per op, not one per
# scope level: names can be thousands of levels deep). The keywords let most
# names skip the regular expressions.
# The name scope ``tf.gradients`` opens ("gradients/", "gradients_1/", ...): the one spelling
# every module that recognises gradient ops uses (a search ends after its "/").
_GRADIENTS = r"gradients(?:_\d+)?/"
GRADIENT_SCOPE = re.compile(r"(?:^|/)" + _GRADIENTS)
# An op ``tf.gradients`` built for the gradient of op X: ``<scope>gradients[_N]/X_grad/...``.
# Group 1: the innermost gradients scope, with its "/" (a second-order gradient's outer scope
# stays in it); group 2: X.
GRADIENT_OF = re.compile(r"^((?:.*/)?" + _GRADIENTS + r")(.+?)_grad/")
_MACHINERY_PART = re.compile(r"(?:^|/)(?:save(?:_\d+)?|Initializer|report_uninitialized_variables(?:_\d+)?)(?=/|$)")
_MACHINERY_WORDS = ("save", "Initializer", "report_uninitialized_variables")
# Root ops that run initialisers: tf.compat.v1.global_variables_initializer() and friends.
_INIT_OP = re.compile(r"init(_\d+)?$|init_all_tables(_\d+)?$|init_all_vars(_\d+)?$|(legacy_)?init_op$")
# Optimizer state: slot variables (kernel/Adam, kernel/Momentum, ...) and step counters.
_SLOT_NAMES = (r"(Adam(W)?(_\d+)?|Momentum(_\d+)?|RMSProp(_\d+)?|Adagrad(DA)?(_\d+)?|Adadelta(_\d+)?|"
               r"Ftrl(_\d+)?|Nadam(_\d+)?|beta1_power|beta2_power|global_step|ProximalAdagrad(_\d+)?)")
_SLOT = re.compile(_SLOT_NAMES + "$")
# Ops that write state, save, restore, differentiate or summarise: only training does that.
_MACHINERY_TYPE = re.compile(
    r"^(Resource)?(Sparse)?Apply|^Assign|^(Resource)?Scatter|^(Save|Restore|MergeV2Checkpoints|"
    r"ShardedFilename)|Grad(V\d)?$|^BroadcastGradientArgs$|BackpropFilter|^SymbolicGradient$|Summary|"
    r"^(VarIsInitializedOp|IsVariableInitialized)$")
# Functions tf.saved_model.save writes for the object graph's saver (TF2 SavedModels).
_SAVER_FUNCTION = re.compile(r"_traced_(save|restore)_\d+$")
_APPLY_TYPE = re.compile(r"^(Resource)?(Sparse)?Apply")
# Ops that write the variable their input 0 names (a ref, or a resource handle).
_WRITE_TYPE = re.compile(
    r"^(Resource)?(Sparse)?Apply|^Assign(Add|Sub)?(VariableOp)?$|^(Resource)?Scatter(Nd)?(Update|Add|Sub|Mul|Div|Min|Max)$"
    r"|^(Resource)?StridedSliceAssign$")


def is_apply(op_type: str) -> bool:
    """Whether an op type is an optimizer's update (``ApplyAdam``, ``ResourceSparseApplyAdagrad``, ...).

    Every one writes the variable its input 0 names and, when the optimizer
    keeps some, the slot variables its next ref/resource inputs name.
    """
    return bool(_APPLY_TYPE.match(op_type))


def writes_variable(op_type: str) -> bool:
    """Whether an op of this type writes the variable its input 0 names (``Assign*``, ``Apply*``, ``Scatter*``)."""
    return bool(_WRITE_TYPE.match(op_type))


def variable_of(g, text: str) -> str | None:
    """The variable op an input (``name:i``) reads, through pass-through ops (Identity, ...); or None."""
    nodes = g.node_defs
    op = _names.parse_input(text).op
    seen = set()
    while op in nodes and op not in seen:
        seen.add(op)
        node = nodes[op]
        if node.op in VARIABLE_TYPES:
            return op
        if node.op not in PASS_THROUGH or not node.input:
            return None
        op = _names.parse_input(node.input[0]).op
    return None


def apply_slots(g, op: str) -> list[str]:
    """The variables an optimizer's ``Apply*`` op writes besides its input 0: its slots (read directly)."""
    nodes = g.node_defs
    out = []
    for ref in g.data_refs(op)[1:]:
        if ref.op in nodes and nodes[ref.op].op in VARIABLE_TYPES and ref.op not in out:
            out.append(ref.op)
    return out


def gradient_fed(g) -> frozenset:
    """Ops whose value is computed from gradients: gradient ops and what they feed (data edges). Cached."""
    def compute(g):
        grads = [name for name, node in g.node_defs.items() if is_gradient(name, node.op)]
        return frozenset(g.descendants(grads, control=False, include_roots=True)) if grads else frozenset()
    return g.derived("optypes.gradient_fed", compute)


def optimizer_variables(g) -> frozenset:
    """Variables that are an optimizer's state, found by data flow whatever their names. Cached.

    - slots: what an ``Apply*`` op writes besides the trained variable
      (``kernel/Adam``, Keras' ``training/Adam/dense/kernel/m``);
    - hyper-parameters held in variables: what an ``Apply*`` op's other
      inputs, those not computed from gradients, are computed from (Keras'
      ``learning_rate``, ``beta_1``; TF1 Adam's ``beta1_power``; a
      learning-rate variable);
    - step counters: variables an ``AssignAdd`` increments by a constant
      (``global_step``, Keras' ``iter``).
    """
    return g.derived("optypes.optimizer_variables", _compute_optimizer_variables)


# An optimizer update's inputs that carry the gradient (their OpDefs' names): the others are the
# variable, its slots and hyper-parameters.
_GRADIENT_ARGS = frozenset({"grad", "delta", "indices"})


def _compute_optimizer_variables(g) -> frozenset:
    nodes = g.node_defs
    out: set[str] = set()
    roots = []
    applies = [name for name, node in nodes.items() if _APPLY_TYPE.match(node.op)]
    for name in applies:
        out.update(apply_slots(g, name))
        op_def = g.registry.get(nodes[name].op)
        if op_def is None:  # a custom optimizer op: its hyper-parameters are not known
            continue
        args = [arg.name for arg in op_def.input_arg]
        roots.extend(ref.op for arg, ref in zip(args[1:], g.data_refs(name)[1:])
                     if arg not in _GRADIENT_ARGS and ref.op not in out)
    if roots:
        out.update(n for n in g.ancestors(roots, control=False, include_roots=True)
                   if n in nodes and nodes[n].op in VARIABLE_TYPES)
    for name, node in nodes.items():
        if node.op in ("AssignAdd", "AssignAddVariableOp") and len(node.input) > 1:
            value_op = _names.parse_input(node.input[1]).op
            if value_op in nodes and nodes[value_op].op == "Const":
                var = variable_of(g, node.input[0])
                if var is not None:
                    out.add(var)
    return frozenset(out)


def is_gradient(name: str, op_type: str) -> bool:
    """Whether an op computes gradients: in a ``gradients``/``gradients_N`` scope, or of a ``*Grad`` type."""
    # name + "/": the scope's own name ("x/gradients") counts too.
    return ("gradients" in name and bool(GRADIENT_SCOPE.search(name + "/"))) or bool(_GRADIENT_TYPE.search(op_type))


def applies_gradients(g) -> bool:
    """Whether the top-level graph updates variables with an optimizer (a TF1 training graph)."""
    return any(_APPLY_TYPE.match(node.op) for node in g.node_defs.values())


def is_saver_function(name: str) -> bool:
    """Whether a library function is one tf.saved_model.save writes for the object graph's saver."""
    return bool(_SAVER_FUNCTION.search(name))


_GRADIENT_TYPE = re.compile(r"Grad(V\d)?$|^BroadcastGradientArgs$|BackpropFilter|^SymbolicGradient$")


def _compute_training_machinery(g) -> frozenset:
    """Names of the ops that exist for training, saving and initialising, not for inference.

    What ``render`` leaves out unless asked (``render(g, training=True)``,
    ``graphsurgeon render --training``), and draws in the training colour
    when asked. An op is machinery when

    1. its name scope says so: a ``gradients``/``gradients_N`` scope, a
       ``save``/``save_N`` scope (the Saver), an ``Initializer`` scope
       (variable initial values), ``report_uninitialized_variables``; or it
       is a root initialiser op (``init``, ``init_N``, ``init_all_tables``);
    2. it is optimizer state: a slot variable (``kernel/Adam``,
       ``kernel/Momentum``, ...), ``beta1_power``, ``global_step``, any
       variable :func:`optimizer_variables` finds by data flow (Keras'
       ``training/Adam/dense/kernel/m``, its ``learning_rate`` and ``iter``
       variables), and whatever lives under those names;
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
    5. it has inputs other than constants and variables and all of them
       are machinery: the ``training_op`` NoOp, reads of slot variables,
       clipped gradients, the leftovers of a variable's
       ``initialized_value()`` (a cond on its initialiser). A read of a
       variable alone stays the model's, whatever it waits for;
    6. but never when the model's outputs need it: what the signatures'
       outputs (not the loader's ``__saved_model_init_op``), the ops
       nothing reads (other than machinery, and than what gives a write's
       result: a cond's Merge around an update) and the values
       the gradients read (the loss, the forward pass) are computed from,
       through data edges (and the control edges of gradient ops), is the
       model's. A DeePMD-style potential computes its forces with
       ``tf.gradients``: those gradient ops are the model.

    Scope names like ``train`` are deliberately not a rule: the fixture's
    ``training`` placeholder (a model input) would fall to it.

    Example:
        >>> hidden = training_machinery(g)
        >>> "train/training_op" in hidden, "loss/loss" in hidden, "hidden1/MatMul" in hidden
        (True, False, False)
    """
    nodes = g.node_defs
    library = g.library
    machinery: set[str] = set()
    gradient: set[str] = set()
    for name, node in nodes.items():
        grad = is_gradient(name, node.op)
        saver_call = bool(library) and any(_SAVER_FUNCTION.search(f) for _, f in called_functions(node, library))
        if grad or saver_call or _MACHINERY_TYPE.search(node.op) \
                or (any(w in name for w in _MACHINERY_WORDS) and _MACHINERY_PART.search(name)) \
                or ("/" not in name and node.op == "NoOp" and _INIT_OP.match(name)):
            machinery.add(name)
            if grad:
                gradient.add(name)
    # Slot variables and everything under them (kernel/Adam/read, kernel/Adam/Assign):
    # names under a scope sort together, right after "scope/".
    slots = [name for name, node in nodes.items()
             if node.op in VARIABLE_TYPES and _SLOT.match(name.rpartition("/")[2])]
    slots += sorted(optimizer_variables(g).difference(slots))
    if slots:
        ordered = sorted(nodes)
        for slot in slots:
            machinery.add(slot)
            head = slot + "/"
            i = bisect_left(ordered, head)
            while i < len(ordered) and ordered[i].startswith(head):
                machinery.add(ordered[i])
                i += 1

    # Who reads whom, in the form the rules need, without the per-input use index: a
    # training graph's gradient ops wait on every batch-norm update (millions of control
    # inputs), and an op that is machinery from the start never has to be looked at again.
    # For each op: whether anything reads it, whether a gradient op does (it then never
    # feeds only machinery: rule 4's exception), and its readers that are not machinery yet.
    refs = g.input_refs
    first = itemgetter(0)  # InputRef.op: C speed over the millions of control inputs
    read: set[str] = set()
    read_by_gradient: set[str] = set()
    later_readers: dict[str, list] = {}   # producer -> readers not machinery at this point
    placeholders = {name for name, node in nodes.items() if node.op in PLACEHOLDER_TYPES}
    placeholder_readers: dict[str, list] = {}
    producers_of: dict[str, frozenset] = {}
    for name in nodes:
        producers = producers_of[name] = frozenset(map(first, refs(name)))
        read.update(producers)
        if name in gradient:
            read_by_gradient.update(producers)
        elif name not in machinery:
            for producer in producers:
                later_readers.setdefault(producer, []).append(name)
        if placeholders and not placeholders.isdisjoint(producers):
            for producer in placeholders.intersection(producers):
                placeholder_readers.setdefault(producer, []).append(name)

    def feeds_only_machinery(name: str) -> bool:
        # Readers that were machinery from the start are machinery and (outside gradient) fine.
        return name in read and name not in read_by_gradient and \
            all(c in machinery for c in later_readers.get(name, ()))

    def fed_only_by_machinery(name: str) -> bool:
        inputs = [p for p in producers_of[name] if p in nodes and nodes[p].op != "Const"]
        reads = [p for p in inputs if p not in machinery and nodes[p].op in VARIABLE_TYPES]
        if reads:  # the model's variables do not count, but a read of them alone is the model's
            data = {ref.op for ref in g.data_refs(name)}
            if all(p in reads or p not in nodes or nodes[p].op == "Const" for p in data):
                return False
            inputs = [p for p in inputs if p not in reads]
        return bool(inputs) and all(p in machinery for p in inputs)

    # A fixed point: an op is looked at again whenever a neighbour joins, so the
    # order in which neighbours are looked at does not change the result.
    queue = deque(machinery)
    while queue:
        name = queue.popleft()
        if name not in nodes:
            continue
        for producer in producers_of[name].difference(machinery):
            if producer in nodes and nodes[producer].op not in PLACEHOLDER_TYPES \
                    and feeds_only_machinery(producer):
                machinery.add(producer)
                queue.append(producer)
        for consumer in later_readers.get(name, ()):
            if consumer not in machinery and fed_only_by_machinery(consumer):
                machinery.add(consumer)
                queue.append(consumer)
    # A placeholder that only the saver reads is the saver's (TF2's ``saver_filename``):
    # model inputs stay, even when only the loss reads them.
    for name in placeholders:
        if name not in machinery:
            readers = placeholder_readers.get(name)
            if readers and all(c in machinery and is_saver_op(nodes.get(c), library) for c in readers):
                machinery.add(name)
    if machinery:
        machinery -= _outputs_need(g, machinery, gradient, read, read_by_gradient)
    return frozenset(machinery)


def _outputs_need(g, machinery: set, gradient: set, read: set, read_by_gradient: set) -> set[str]:
    """The machinery ops the model's outputs are computed from (rule 6 of the machinery).

    ``read``: the ops anything reads; ``read_by_gradient``: those a gradient op reads.
    """
    nodes = g.node_defs
    starts = set()
    meta = g.meta_graph
    if meta is not None:
        for key, sig in meta.signature_def.items():
            if key.startswith("__saved_model_"):  # the loader's init (and train) op: machinery
                continue
            for info in sig.outputs.values():
                for tensor in (info.name, info.coo_sparse.values_tensor_name, info.coo_sparse.indices_tensor_name,
                               info.coo_sparse.dense_shape_tensor_name):
                    op = tensor.rpartition(":")[0] if ":" in tensor else tensor
                    if op in nodes:
                        starts.add(op)
    for name, node in nodes.items():
        # An op nothing reads is an output, unless it gives what a write gave (the Merge of a
        # cond that updates moving averages): that is the write's.
        if name not in read and name not in machinery and node.op != "NoOp" and not any(
                ref.op in nodes and writes_variable(nodes[ref.op].op) for ref in g.data_refs(name)):
            starts.add(name)
    starts.update(name for name in read_by_gradient if name in nodes and name not in machinery)
    needed: set[str] = set()
    seen = set(starts)
    stack = list(starts)
    while stack:
        name = stack.pop()
        if name in machinery:
            needed.add(name)
        refs = g.input_refs(name) if name in gradient and name in machinery else g.data_refs(name)
        for ref in refs:
            op = ref.op
            if op not in seen and op in nodes and (not ref.control or op in gradient):
                seen.add(op)
                stack.append(op)
    return needed


def is_saver_op(node, library) -> bool:
    """Whether a NodeDef saves or restores: SaveV2/RestoreV2 and friends, or a call of TF2's saver functions."""
    if node is None:
        return False
    return node.op in SAVE_RESTORE_TYPES or bool(library) and any(
        _SAVER_FUNCTION.search(f) for _, f in called_functions(node, library))
