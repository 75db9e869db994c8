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

# ---------------------------------------------------------------- state
REF_VARIABLE_TYPES = ("VariableV2", "Variable", "TemporaryVariable")
RESOURCE_VARIABLE_TYPES = ("VarHandleOp",)
VARIABLE_TYPES = REF_VARIABLE_TYPES + RESOURCE_VARIABLE_TYPES
PLACEHOLDER_TYPES = ("Placeholder", "PlaceholderV2", "PlaceholderWithDefault")
SAVE_RESTORE_TYPES = frozenset({"SaveV2", "Save", "SaveSlices", "RestoreV2", "Restore", "RestoreSlice",
                                "MergeV2Checkpoints", "ShardedFilename", "ShardedFilespec"})

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
# Ops that reach outside the graph: the file system, or Python in the process.
# What each file op does with its files (``scan`` grades them apart):
FILE_READ_OPS = frozenset({
    "ReadFile", "Restore", "RestoreV2", "RestoreSlice", "WholeFileReader", "WholeFileReaderV2", "TextLineReader",
    "TextLineReaderV2", "TFRecordReader", "TFRecordReaderV2", "FixedLengthRecordReader",
    "FixedLengthRecordReaderV2", "LMDBReader", "TextLineDataset", "TFRecordDataset", "TFRecordDatasetV2",
    "FixedLengthRecordDataset", "FixedLengthRecordDatasetV2", "InitializeTableFromTextFile",
    "InitializeTableFromTextFileV2", "ImmutableConst", "LoadDataset", "SqlDataset", "ExperimentalSqlDataset",
    "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset", "LMDBDataset", "ExperimentalLMDBDataset",
    "SnapshotDatasetReader", "SnapshotNestedDatasetReader", "SnapshotChunkDataset", "LoadAndRemapMatrix",
    "DTensorRestoreV2", "RecordInput", "Skipgram",
})
FILE_WRITE_OPS = frozenset({
    "WriteFile", "Save", "SaveV2", "SaveSlices", "MergeV2Checkpoints", "CreateSummaryFileWriter",
    "CreateSummaryDbWriter", "WriteSummary", "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary",
    "WriteAudioSummary", "WriteGraphSummary", "WriteRawProtoSummary", "SaveDataset", "SaveDatasetV2",
    "DatasetToTFRecord", "ExperimentalDatasetToTFRecord", "PrintV2", "DumpTensor", "DebugIdentity",
    "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount", "DebugNumericSummary", "DebugNumericSummaryV2",
    "CalibrationStatisticsSaver", "DistributedSave", "FileSystemSetConfiguration",
    # Caches and snapshots read what an earlier run wrote, and write it.
    "CacheDataset", "CacheDatasetV2", "SnapshotDataset", "SnapshotDatasetV2",
})
FILE_LIST_OPS = frozenset({"MatchingFiles", "MatchingFilesDataset", "ExperimentalMatchingFilesDataset",
                           "ListSnapshotChunksDataset"})
FILE_OPS = FILE_READ_OPS | FILE_WRITE_OPS | FILE_LIST_OPS
PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
# Ops that talk to other processes or hosts: servers and clients at an address,
# remote calls, and the send/receive and collective ops that exchange tensors
# with other devices or workers.
NETWORK_OPS = frozenset({
    "RpcServer", "RpcServerStart", "RpcServerRegister", "RpcClient", "RpcCall", "RemoteCall",
    "DataServiceDataset", "DataServiceDatasetV2", "DataServiceDatasetV3", "DataServiceDatasetV4",
    "RegisterDataset", "RegisterDatasetV2", "Send", "Recv", "_Send", "_Recv", "_HostSend", "_HostRecv",
    "CollectiveAllToAllV2", "CollectiveAllToAllV3", "CollectiveBcastRecv", "CollectiveBcastRecvV2",
    "CollectiveBcastSend", "CollectiveBcastSendV2", "CollectiveGather", "CollectiveGatherV2",
    "CollectiveInitializeCommunicator", "CollectiveReduce", "CollectiveReduceScatterV2", "CollectiveReduceV2",
    "CollectiveReduceV3",
})
# Of those, the ones that only exchange tensors with the other devices and
# workers of the same job (placed there by TensorFlow's own partitioning or a
# distribution strategy): they name no address of their own.
PEER_EXCHANGE_OPS = frozenset(t for t in NETWORK_OPS if t.startswith(("Collective", "Send", "Recv", "_")))
# Ops that run native code the graph does not describe: a custom call into a
# function registered under a name, or an embedded compiled module. (Stock
# TensorFlow has no op that loads a shared library itself: a model whose op
# types no registry knows needs its library loaded by the user, see ``scan``.)
LIBRARY_OPS = frozenset({"XlaCustomCall", "XlaCustomCallV2", "XlaCallModule", "MlirPassthroughOp"})

# What each kind of access is called, from the most to the least dangerous.
CAPABILITIES = {
    "python": "runs Python",
    "network": "reaches the network",
    "write-files": "writes files",
    "load-library": "runs native code",
    "read-files": "reads files",
    "list-files": "lists files",
}


def capability(op_type: str) -> str | None:
    """Which :data:`CAPABILITIES` key an op type has, or None (custom ops are not known here)."""
    if op_type in PYTHON_OPS:
        return "python"
    if op_type in NETWORK_OPS:
        return "network"
    if op_type in FILE_WRITE_OPS:
        return "write-files"
    if op_type in LIBRARY_OPS:
        return "load-library"
    if op_type in FILE_READ_OPS:
        return "read-files"
    if op_type in FILE_LIST_OPS:
        return "list-files"
    return None


def reaches(op_type: str) -> str | None:
    """What an op of this type reaches outside the graph: "python", "network", "files" or None."""
    if op_type in PYTHON_OPS:
        return "python"
    if op_type in NETWORK_OPS:
        return "network"
    if op_type in FILE_OPS:
        return "files"


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
_GRADIENT_PART = re.compile(r"(?:^|/)gradients(?:_\d+)?(?=/|$)")
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
    nodes = g.node_defs
    library = g.library
    machinery: set[str] = set()
    gradient: set[str] = set()
    for name, node in nodes.items():
        grad = ("gradients" in name and bool(_GRADIENT_PART.search(name))) or bool(_GRADIENT_TYPE.search(node.op))
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
    return frozenset(machinery)


def is_saver_op(node, library) -> bool:
    """Whether a NodeDef saves or restores: SaveV2/RestoreV2 and friends, or a call of TF2's saver functions."""
    if node is None:
        return False
    return node.op in SAVE_RESTORE_TYPES or bool(library) and any(
        _SAVER_FUNCTION.search(f) for _, f in called_functions(node, library))
