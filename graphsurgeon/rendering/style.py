"""How ops look: categories, colours, shapes and the legend.

Categories follow what a reader of a TensorFlow graph looks for first: where
data comes in, where the parameters are, the layers (matrix and convolution
ops), activations, normalisation, control flow, function calls, and the
training and saving machinery that usually dwarfs the network itself.
"""
from __future__ import annotations

import re

from ..vocab.optypes import ACTIVATION_TYPES as _ELEMENTWISE
from ..vocab.optypes import (
    CALL_OPS,
    CONTROL_FLOW_V1,
    CONTROL_FLOW_V2,
    FILE_OPS,
    PLACEHOLDER_TYPES,
    SAVE_RESTORE_TYPES,
    VARIABLE_TYPES,
)

# (key, legend text, fill colour). Order is the legend's order and, for a
# collapsed scope, the priority when its ops fall into several categories.
CATEGORIES = [
    ("input", "inputs (placeholders, arguments)", "#ffe699"),
    ("matrix", "matrix and convolution", "#9dc3e6"),
    ("normalization", "normalisation", "#a9d18e"),
    ("activation", "activations", "#f4b183"),
    ("loss", "loss and metrics", "#e4c1e9"),
    ("call", "function calls", "#7fd1cf"),
    ("control", "control flow", "#c9a0dc"),
    ("training", "training machinery (gradients, optimizer, initialisers)", "#f19c9c"),
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
# Stubs of a partial view (the explorer's): ops outside it that edges lead to.
STUB = {"color": "#8c8c8c", "font": "#404040"}
# Layers whose variables are all outside trainable_variables (after rehead, freeze-layers).
FROZEN = {"color": "#1f4e79", "penwidth": "3", "peripheries": "2"}

# The op-type sets are the vocabulary's; these add what only a picture tells apart.
INPUT_TYPES = set(PLACEHOLDER_TYPES) | {"_Arg", "IteratorGetNext"}
VARIABLE_CATEGORY = set(VARIABLE_TYPES) | {"Const", "HostConst", "ReadVariableOp", "Assign", "AssignVariableOp",
                                           "VarIsInitializedOp", "IsVariableInitialized", "ResourceGather",
                                           "_Retval"}
MATRIX_TYPES = {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "SparseMatMul", "Einsum",
                "BiasAdd", "BiasAddV1", "Conv1D", "Conv2D", "Conv3D", "DepthwiseConv2dNative",
                "Conv2DBackpropInput", "Conv3DBackpropInputV2", "FusedConv2DBiasActivation",
                "_FusedConv2D", "_FusedMatMul", "QuantizedMatMul", "QuantizedConv2D", "MaxPool",
                "MaxPoolV2", "AvgPool", "MaxPool3D", "AvgPool3D", "Tensordot"}
ACTIVATION_TYPES = _ELEMENTWISE | {"Softmax", "LogSoftmax", "Swish", "HardSwish", "CRelu"}
LOSS_TYPES = {"SparseSoftmaxCrossEntropyWithLogits", "SoftmaxCrossEntropyWithLogits", "L2Loss", "CTCLoss",
              "CTCLossV2", "InTopK", "InTopKV2"}
NORMALIZATION_TYPES = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3",
                       "BatchNormWithGlobalNormalization", "LRN", "L2Normalize", "_MklLayerNorm"}
CONTROL_TYPES = CONTROL_FLOW_V1 | CONTROL_FLOW_V2 | {"NoOp", "ControlTrigger", "Assert"}
CALL_TYPES = CALL_OPS | {"SymbolicGradient", "RemoteCall"}
IO_TYPES = SAVE_RESTORE_TYPES | FILE_OPS | {
    "IteratorV2", "Iterator", "MakeIterator", "OneShotIterator", "IteratorToStringHandle", "ParseExample",
    "ParseExampleV2", "ParseSingleExample", "DecodeCSV", "DecodeRaw", "DecodeJpeg", "DecodePng", "Print",
    "HashTableV2", "LookupTableFindV2"}
_IO_TYPE = re.compile(r"(Dataset|Reader)(V\d)?$|Summary")
_SAVE_SCOPE = re.compile(r"(^|/)save(_\d+)?(/|$)")
_NORM_SCOPE = re.compile(r"batch_?norm|BatchNorm|layer_?norm|LayerNorm|group_?norm|instance_?norm", re.I)
# Scopes holding the loss or evaluation, whatever ops they are built from
# (``loss/`` holds a cross-entropy, ``eval/`` an in_top_k).
_LOSS_SCOPE = re.compile(r"(losse?s?|\w*_loss|cross_?entropy|\w*xent|eval(uation)?|metrics?|accuracy)(_\d+)?", re.I)


def _is_io(op_type: str, name: str) -> bool:
    # "save" in name first: a substring test is far cheaper than the regex on long names.
    return op_type in IO_TYPES or bool(_IO_TYPE.search(op_type)) or ("save" in name and bool(_SAVE_SCOPE.search(name)))


def op_category(op_type: str, name: str = "", calls: bool = False, machinery: bool = False,
                saver: bool = False) -> str:
    """The category of one op, from its type, its name scope and whether it is training machinery.

    "training" iff :func:`graphsurgeon.vocab.optypes.training_machinery`
    counts the op (``machinery``); machinery that saves or restores
    (``saver``: the TF2 saver's calls) keeps the I/O colour.
    """
    if machinery:
        return "io" if saver or _is_io(op_type, name) or op_type in INPUT_TYPES else "training"
    if calls or op_type in CALL_TYPES:
        return "control" if op_type in CONTROL_TYPES else "call"
    if op_type in INPUT_TYPES:
        return "input"
    if _is_io(op_type, name):
        return "io"
    if op_type in MATRIX_TYPES:
        return "matrix"
    if op_type in ACTIVATION_TYPES:
        return "activation"
    if op_type in LOSS_TYPES:
        return "loss"
    if op_type in NORMALIZATION_TYPES:
        return "normalization"
    if op_type in CONTROL_TYPES:
        return "control"
    if op_type in VARIABLE_CATEGORY:
        return "variable"
    return "other"


def scope_category(scope: str, member_categories, machinery: bool = False) -> str:
    """The category of a collapsed scope: training machinery, then its name, then its most telling ops.

    ``machinery``: every op in it is training machinery; then it is
    "training" (or "io" for the saver). Otherwise the name says more than
    the ops inside: ``batch_normalization`` is built from plain arithmetic,
    ``loss`` holds a softmax cross-entropy; failing that the
    highest-priority category among the members wins (a dense layer holds
    one MatMul among its variables and initialisers). ``member_categories``
    are those of the ops that are not machinery, unless all are.
    """
    present = set(member_categories)
    if machinery:
        saver = "save" in scope and _SAVE_SCOPE.search(scope)
        return "io" if saver or ("io" in present and "training" not in present) else "training"
    leaf = scope.rsplit("/", 1)[-1]
    if _NORM_SCOPE.search(leaf):
        return "normalization"
    if _LOSS_SCOPE.fullmatch(leaf):
        return "loss"
    for key, _, _ in CATEGORIES:
        if key in present and key != "training":
            return key
    return "other"


def legend_html(categories, edge_kinds, frozen: bool = False, groups: bool = False, stubs: bool = False) -> str:
    """A Graphviz HTML label: a small table of the categories, marks and edge kinds in use.

    Only fixed text goes in here: names never do (an HTML label would let
    them add markup).
    """
    rows = ['<TR><TD COLSPAN="2"><B>legend</B></TD></TR>']
    for key, text, color in CATEGORIES:
        if key in categories:
            rows.append(f'<TR><TD BGCOLOR="{color}" WIDTH="18"> </TD><TD ALIGN="LEFT">{text}</TD></TR>')
    rows.append('<TR><TD BORDER="1" STYLE="rounded" WIDTH="18">▭</TD>'
                '<TD ALIGN="LEFT">collapsed scope: ops, params</TD></TR>')
    if groups:
        # Drawn as a group is (a dashed rounded box), not a glyph: "⧉" has no glyph in the
        # default fonts of rsvg or Chromium and showed as a missing-glyph box.
        rows.append('<TR><TD BORDER="1" STYLE="rounded,dashed" WIDTH="18"> </TD>'
                    '<TD ALIGN="LEFT">siblings drawn together: first…last ×count</TD></TR>')
    if stubs:
        rows.append(f'<TR><TD BORDER="1" STYLE="rounded,dashed" COLOR="{STUB["color"]}" WIDTH="18"> </TD>'
                    '<TD ALIGN="LEFT">ops outside this view</TD></TR>')
    if frozen:
        rows.append(f'<TR><TD BORDER="3" COLOR="{FROZEN["color"]}" WIDTH="18"> </TD>'
                    '<TD ALIGN="LEFT">frozen: no variable in trainable_variables</TD></TR>')
        rows.append('<TR><TD BORDER="1" WIDTH="18"> </TD>'
                    '<TD ALIGN="LEFT">trainable (label says which)</TD></TR>')
    for kind in ("data", "ref", "resource", "control"):
        if kind in edge_kinds:
            arrow = {"data": "──▶", "ref": "━━○", "resource": "━━◇", "control": "- - ▷"}[kind]
            rows.append(f'<TR><TD><FONT COLOR="{EDGE_LEGEND_COLORS[kind]}">{arrow}</FONT></TD>'
                        f'<TD ALIGN="LEFT">{EDGE_STYLES[kind][1]}</TD></TR>')
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2" CELLPADDING="2">'
            + "".join(rows) + "</TABLE>>")
