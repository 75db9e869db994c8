"""How ops look: categories, colours, shapes and the legend.

Categories follow what a reader of a TensorFlow graph looks for first: where
data comes in, where the parameters are, the layers (matrix and convolution
ops), activations, normalisation, control flow, function calls, and the
training and saving machinery that usually dwarfs the network itself.
"""
from __future__ import annotations

import re

from ..vocabulary import CALL_OPS

# (key, legend text, fill colour). Order is the legend's order and, for a
# collapsed scope, the priority when its ops fall into several categories.
CATEGORIES = [
    ("input", "inputs (placeholders, arguments)", "#ffe699"),
    ("matrix", "matrix and convolution", "#9dc3e6"),
    ("normalization", "normalisation", "#a9d18e"),
    ("activation", "activations", "#f4b183"),
    ("call", "function calls", "#7fd1cf"),
    ("control", "control flow", "#c9a0dc"),
    ("training", "training and gradients", "#f19c9c"),
    ("io", "I/O and saving", "#c8b18b"),
    ("variable", "variables and constants", "#d9d9d9"),
    ("other", "other ops", "#ffffff"),
]
COLORS = {key: color for key, _, color in CATEGORIES}
PRIORITY = {key: i for i, (key, _, _) in enumerate(CATEGORIES)}

EDGE_STYLES = {
    # kind: (graphviz attributes, legend text)
    "data": ({"color": "#404040"}, "data (dtype and shape)"),
    "ref": ({"color": "#c55a11", "penwidth": "2", "arrowhead": "odot"}, "reference (TF1 variable)"),
    "resource": ({"color": "#7030a0", "penwidth": "2", "arrowhead": "diamond"}, "resource handle"),
    "control": ({"color": "#808080", "style": "dashed", "arrowhead": "onormal"}, "control dependency"),
}
# Edges into training machinery, drawn faint so the network stands out.
FAINT = {"data": "#c8c8c8", "ref": "#f0c8a8", "resource": "#d8c0e8", "control": "#d0d0d0"}
EDGE_LEGEND_COLORS = {"data": "#404040", "ref": "#c55a11", "resource": "#7030a0", "control": "#808080"}

INPUT_TYPES = {"Placeholder", "PlaceholderV2", "PlaceholderWithDefault", "_Arg", "IteratorGetNext"}
VARIABLE_CATEGORY = {"VariableV2", "Variable", "VarHandleOp", "Const", "HostConst", "ReadVariableOp",
                  "Assign", "AssignVariableOp", "VarIsInitializedOp", "IsVariableInitialized",
                  "TemporaryVariable", "ResourceGather", "_Retval"}
MATRIX_TYPES = {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "SparseMatMul", "Einsum",
                "BiasAdd", "BiasAddV1", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2dNative",
                "Conv2DBackpropInput", "Conv3DBackpropInputV2", "FusedConv2DBiasActivation",
                "_FusedConv2D", "_FusedMatMul", "QuantizedMatMul", "QuantizedConv2D", "MaxPool",
                "MaxPoolV2", "AvgPool", "MaxPool3D", "AvgPool3D", "Tensordot"}
ACTIVATION_TYPES = {"Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax",
                    "LogSoftmax", "Softplus", "Softsign", "Gelu", "Swish", "HardSwish", "CRelu",
                    "SparseSoftmaxCrossEntropyWithLogits", "SoftmaxCrossEntropyWithLogits"}
NORMALIZATION_TYPES = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3",
                       "BatchNormWithGlobalNormalization", "LRN", "L2Normalize", "_MklLayerNorm"}
CONTROL_TYPES = {"Switch", "RefSwitch", "Merge", "RefMerge", "Enter", "RefEnter", "Exit", "RefExit",
                 "NextIteration", "RefNextIteration", "LoopCond", "If", "StatelessIf", "While",
                 "StatelessWhile", "Case", "StatelessCase", "NoOp", "ControlTrigger", "Assert"}
CALL_TYPES = CALL_OPS | {"SymbolicGradient", "RemoteCall"}
IO_TYPES = {"SaveV2", "Save", "SaveSlices", "RestoreV2", "Restore", "RestoreSlice", "MergeV2Checkpoints",
            "ShardedFilename", "ShardedFilespec", "ReadFile", "WriteFile", "MatchingFiles",
            "IteratorV2", "Iterator", "MakeIterator", "OneShotIterator", "IteratorToStringHandle",
            "ParseExample", "ParseExampleV2", "ParseSingleExample", "DecodeCSV", "DecodeRaw",
            "DecodeJpeg", "DecodePng", "PrintV2", "Print", "HashTableV2", "LookupTableFindV2",
            "InitializeTableFromTextFileV2"}
_TRAINING_TYPE = re.compile(r"^(Resource)?(Sparse)?Apply|Grad(V\d)?$|^BroadcastGradientArgs$|BackpropFilter")
_IO_TYPE = re.compile(r"(Dataset|Reader)(V\d)?$|Summary")
_GRADIENT_SCOPE = re.compile(r"(^|/)(gradients(_\d+)?|[Oo]ptimizer|training_op)(/|$)")
_SAVE_SCOPE = re.compile(r"(^|/)save(_\d+)?(/|$)")
_NORM_SCOPE = re.compile(r"batch_?norm|BatchNorm|layer_?norm|LayerNorm|group_?norm|instance_?norm", re.I)


def op_category(op_type: str, name: str = "", calls: bool = False) -> str:
    """The category of one op, from its type (and, for machinery, its name scope)."""
    if calls or op_type in CALL_TYPES:
        return "control" if op_type in CONTROL_TYPES else "call"
    if op_type in INPUT_TYPES:
        return "input"
    if _GRADIENT_SCOPE.search(name) or _TRAINING_TYPE.search(op_type):
        return "training"
    if op_type in IO_TYPES or _IO_TYPE.search(op_type) or _SAVE_SCOPE.search(name):
        return "io"
    if op_type in MATRIX_TYPES:
        return "matrix"
    if op_type in ACTIVATION_TYPES:
        return "activation"
    if op_type in NORMALIZATION_TYPES:
        return "normalization"
    if op_type in CONTROL_TYPES:
        return "control"
    if op_type in VARIABLE_CATEGORY:
        return "variable"
    return "other"


def scope_category(scope: str, member_categories) -> str:
    """The category of a collapsed scope: its name first, then its most telling ops.

    A name says more than the ops inside: ``batch_normalization`` is built
    from plain arithmetic, ``train/`` holds MatMuls (gradients of the
    layers). Otherwise the highest-priority category among the members wins
    (a dense layer holds one MatMul among its variables and initialisers).
    """
    leaf = scope.rsplit("/", 1)[-1]
    if _GRADIENT_SCOPE.search(scope) or re.fullmatch(
            r"(train(ing)?(_op)?|[Oo]ptimizer|Adam|SGD|Adagrad|Adadelta|Momentum|RMSProp|Ftrl|Nadam|"
            r"GradientDescent)(_\d+)?", leaf):
        return "training"
    if _SAVE_SCOPE.search(scope):
        return "io"
    if _NORM_SCOPE.search(leaf):
        return "normalization"
    present = set(member_categories)
    for key in ("input", "matrix", "normalization", "activation", "call", "control", "training", "io",
                "variable", "other"):
        if key in present:
            return key
    return "other"


def legend_html(categories, edge_kinds) -> str:
    """A Graphviz HTML label: a small table of the categories and edge kinds in use."""
    rows = ['<TR><TD COLSPAN="2"><B>legend</B></TD></TR>']
    for key, text, color in CATEGORIES:
        if key in categories:
            rows.append(f'<TR><TD BGCOLOR="{color}" WIDTH="18"> </TD><TD ALIGN="LEFT">{text}</TD></TR>')
    rows.append('<TR><TD BORDER="1" STYLE="rounded" WIDTH="18">▭</TD>'
                '<TD ALIGN="LEFT">collapsed scope: ops, params</TD></TR>')
    for kind in ("data", "ref", "resource", "control"):
        if kind in edge_kinds:
            arrow = {"data": "──▶", "ref": "━━○", "resource": "━━◇", "control": "- - ▷"}[kind]
            rows.append(f'<TR><TD><FONT COLOR="{EDGE_LEGEND_COLORS[kind]}">{arrow}</FONT></TD>'
                        f'<TD ALIGN="LEFT">{EDGE_STYLES[kind][1]}</TD></TR>')
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">'
            + "".join(rows) + "</TABLE>>")
