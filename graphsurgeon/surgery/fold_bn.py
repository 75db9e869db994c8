"""Fold inference-mode batch norm into the preceding MatMul / Conv2D / depthwise weights and bias.

After freezing, batch norm in inference mode is a per-channel affine map
``y = h * s + t`` of the layer output ``h = x @ W (+ b)``, with ``s`` and
``t`` computable from constants alone. Folding rewrites it as
``y = x @ (W * s) + (b * s + t)``: one MatMul/Conv2D and one BiasAdd, with
two new constants, and every batch-norm op gone. Two forms are recognised:

- the manual pattern TF1's ``tf.layers.batch_normalization`` builds
  (``x * gamma * rsqrt(var + eps) + (beta - mean * gamma * rsqrt(var + eps))``),
  and more generally ``Add(Mul(h, s), t)`` with ``s`` and ``t`` constant;
- ``FusedBatchNorm`` / ``FusedBatchNormV3`` with ``is_training=false``.

``h`` must be a ``MatMul``, ``Conv2D`` or ``DepthwiseConv2dNative``
(optionally followed by ``BiasAdd``) whose weights are constant and whose
output nothing else reads. A depthwise filter is ``[kh, kw, in, multiplier]``
and output channel ``c`` is ``in * multiplier + m``: the per-channel scale is
laid on it as ``[in, multiplier]``. A batch norm that does not fit is left in
place; ``changes.details["left"]`` says why for each (training mode, no
preceding linear op, a layer output read elsewhere, non-constant
parameters...), and ``changes.details["folded"]`` lists the folds: when it is
empty, nothing was folded and the result is the input (frozen, when it had
variables).

Example:
    >>> frozen = graphsurgeon.load("fixtures/models/mnist_bn_elu_frozen.pb")
    >>> folded, changes = graphsurgeon.fold_batch_norms(frozen)
    >>> [op.name for op in folded if op.name.startswith("batch_normalization/")]
    []
"""
from __future__ import annotations

import re

from ..analysis.constants import Constants
from ..errors import UsageError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..vocab import dtypes as _dtypes
from ..vocab import names as _names
from ..vocab.optypes import IF_OPS, SWITCH_OPS, VARIABLE_TYPES
from ..wording import plural
from .freeze import freeze
from .prune import prune
from .rewrite import rewrite


LINEAR_TYPES = ("MatMul", "Conv2D", "DepthwiseConv2dNative")
FUSED_TYPES = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
# The last op tf.nn.batch_normalization (and TF1's layers) names: ".../batchnorm/add_1".
_MANUAL_BN = re.compile(r"(^|/)batchnorm/add_1$")


@rewrite(requires=("top_level",), reports=True)
def fold_batch_norms(g: Graph, outputs=None) -> tuple[Graph, Changes]:
    """Fold every inference-mode batch norm that follows a MatMul/Conv2D with constant weights.

    Args:
        g: a frozen graph (weights and batch-norm parameters are constants);
            not modified. A graph with variables is frozen first when
            ``outputs`` says what to keep (:func:`graphsurgeon.surgery.freeze.freeze`).
        outputs: tensor names the result must compute (default: what nothing reads).

    Raises:
        UsageError: ``g`` has variables and no ``outputs`` were named (folding
            needs constants: freeze first, or name the outputs).

    Returns:
        ``(folded graph, Changes)``: ``changed`` lists the ops rewritten,
        ``added`` the new constants, ``removed`` the batch-norm ops that went;
        ``details["folded"]`` is ``[{"batch_norm", "into"}]``,
        ``details["left"]`` ``[{"batch_norm", "reason"}]``; ``notes`` say the
        same in words (the first, "nothing folded: ...", when nothing was).
    """
    changes = Changes()
    frozen, sinks = _frozen(g, outputs, changes)
    folder = _Folder(frozen.copy(), changes)
    for node in list(folder.work.graph_def.node):
        if node.op in FUSED_TYPES:
            folder.fused(node)
        elif node.op in ("Add", "AddV2") and node.name in folder.work.node_defs:
            folder.affine(node)
    changes.details.update(folded=folder.done, left=folder.left)
    if not folder.done:
        changes.notes.insert(0, "nothing folded: " + (f"{plural(folder.left, 'batch norm')} left as they were"
                                                      if folder.left else "no batch norm found"))
        return folder.work, changes
    result, pruned = prune(folder.work, sinks)
    changes.removed.extend(pruned.removed)
    return result, changes


def _frozen(g: Graph, outputs, changes: Changes) -> tuple[Graph, list[str]]:
    """``(g with constants for weights, the outputs to keep)``: ``g`` frozen first when it must be.

    Variables become constants; TensorFlow's own frozen graphs keep the
    training switch and its conds: freezing resolves them too.
    """
    sinks = list(outputs) if outputs else [n.name for n in g.graph_def.node if not g.uses(n.name)]
    variables = [n.name for n in g.graph_def.node if n.op in VARIABLE_TYPES]
    if variables and not outputs:
        raise UsageError(f"{g.where}: holds {plural(variables, 'variable')} ({variables[0]}, ...); batch norm folds "
                         "into constant weights only",
                         hint="freeze it first (graphsurgeon freeze MODEL -o frozen.pb, then fold-bn frozen.pb), "
                              "or name the outputs (CLI --outputs logits:0) to freeze and fold in one go")
    switches = SWITCH_OPS | IF_OPS | {"PlaceholderWithDefault"}
    if not variables and not any(n.op in switches for n in g.graph_def.node):
        return g, sinks
    g, pre = freeze(g, outputs=sinks)
    changes.notes.extend(pre.notes)
    changes.removed.extend(pre.removed)
    changes.details["outputs"] = pre.details["outputs"]
    return g, pre.details["outputs"]


class _Folder:
    """Folds batch norms into the layers before them, one at a time, in ``work`` (edited in place).

    ``done`` and ``left`` are what ``changes.details`` reports.
    """

    def __init__(self, work: Graph, changes: Changes):
        self.work = work
        self.consts = Constants(work, float64=True)
        self.changes = changes
        self.done: list[dict] = []
        self.left: list[dict] = []

    def readers(self, op: str) -> set[str]:
        return {c for c, _, _ in self.work.uses(op)}

    def fused(self, node) -> None:
        """A ``FusedBatchNorm*``: folded when in inference mode with constant parameters."""
        import numpy as np

        if node.attr["is_training"].b:
            self.leave(node.name, "training mode (is_training is true: it normalises with batch statistics)")
            return
        if any(idx > 0 for _, _, idx in self.work.uses(node.name)):
            self.leave(node.name, "its batch statistics are read")
            return
        gamma, beta, mean, var = (self.consts.value(t) for t in node.input[1:5])
        if any(v is None for v in (gamma, beta, mean, var)):
            self.leave(node.name, "its parameters are not constant")
            return
        eps = node.attr["epsilon"].f if "epsilon" in node.attr else 1e-4
        scale = gamma / np.sqrt(var + eps)
        self.fold(node, node.input[0], scale, beta - mean * scale, node.name)

    def affine(self, node) -> None:
        """``Add(Mul(h, s), t)`` with ``s`` and ``t`` constant (what tf.nn.batch_normalization leaves)."""
        consts = self.consts
        seen = len(self.done) + len(self.left)
        for i in (0, 1):
            mul_text, shift_text = node.input[i], node.input[1 - i]
            mul = self.work.node_defs.get(_names.split_tensor_name(mul_text)[0])
            if mul is None or mul.op != "Mul" or consts.value(node.input[i]) is not None:
                continue
            shift = consts.value(shift_text)
            if shift is None:
                continue
            for j in (0, 1):
                scale = consts.value(mul.input[1 - j])
                if scale is None or consts.value(mul.input[j]) is not None:
                    continue
                if len(self.readers(mul.name)) != 1:
                    continue
                self.fold(node, mul.input[j], scale, shift, node.name)
                break
            break
        if len(self.done) + len(self.left) == seen and _MANUAL_BN.search(node.name):
            # tf.nn.batch_normalization's last op, not of the constant form.
            self.leave(node.name, "its parameters are not constant")

    def leave(self, label: str, why: str) -> bool:
        self.left.append({"batch_norm": label, "reason": why})
        self.changes.notes.append(f"left {label} alone: {why}")
        return False

    def layer_of(self, text: str):
        """(linear node, biasadd node or None, why not) producing ``text``."""
        work, consts = self.work, self.consts
        op, index = _names.split_tensor_name(text)
        node = work.node_defs.get(op)
        bias = None
        if node is not None and node.op == "BiasAdd" and index == 0:
            bias = node
            op, index = _names.split_tensor_name(node.input[0])
            node = work.node_defs.get(op)
            if len(self.readers(bias.name)) != 1:
                return None, None, f"its layer's output {bias.name} is read elsewhere too (shared)"
        if node is None or node.op not in LINEAR_TYPES or index != 0:
            what = f"{node.name} is a {node.op}" if node is not None else f"{op} is not in the graph"
            return None, None, f"no preceding linear op ({what}, not a {', '.join(LINEAR_TYPES)})"
        if len(self.readers(node.name)) != 1:
            return None, None, f"the output of {node.name} is read elsewhere too (shared)"
        if node.op == "DepthwiseConv2dNative" and node.attr["data_format"].s not in (b"", b"NHWC"):
            return None, None, f"{node.name} is {node.attr['data_format'].s.decode()}, not NHWC"
        if consts.value(node.input[1]) is None:
            return None, None, f"{node.name} has non-constant weights"
        if bias is not None and consts.value(bias.input[1]) is None:
            return None, None, f"{bias.name} has a non-constant bias"
        return node, bias, None

    def fold(self, target, h_text: str, scale, shift, label: str) -> bool:
        """Fold ``y = h * scale + shift`` (``target`` gives y; ``h_text`` is h) into the layer giving h."""
        layer, bias, why = self.layer_of(h_text)
        if layer is None:
            return self.leave(label, why)
        try:
            new_w, new_b = _folded(layer, self.consts.value(layer.input[1]),
                                   self.consts.value(bias.input[1]) if bias is not None else None, scale, shift)
        except ValueError:
            return self.leave(label, "its parameters are not per output channel")
        name = self._rewrite(target, layer, bias, new_w, new_b)
        self.changes.changed.extend([layer.name, name])
        self.changes.notes.append(f"folded {label} into {layer.name}")
        self.done.append({"batch_norm": label, "into": layer.name})
        return True

    def _rewrite(self, target, layer, bias, new_w, new_b) -> str:
        """The layer reads ``new_w``, its BiasAdd (or a new one) adds ``new_b`` and gives what ``target`` gave."""
        import numpy as np

        work = self.work
        np_dtype = _dtypes.NUMPY[_dtypes.name(layer.attr["T"].type)]
        w = work.constant(np.asarray(new_w, dtype=np_dtype),
                          name=_names.unique_name(f"{layer.name}/folded_weights", work.node_defs))
        b = work.constant(np.asarray(new_b, dtype=np_dtype),
                          name=_names.unique_name(f"{layer.name}/folded_bias", work.node_defs))
        work.set_input(layer.name, 1, w)
        if bias is not None:
            name = bias.name
            work.set_input(name, 1, b)
        else:
            formats = {"data_format": layer.attr["data_format"]} \
                if layer.op != "MatMul" and "data_format" in layer.attr else None
            name = work.add_op("BiasAdd", [f"{layer.name}:0", b], attrs=formats, device=target.device,
                               name=_names.unique_name(f"{layer.name}/folded_bias_add", work.node_defs)).name
        work.replace_all_uses(f"{target.name}:0", f"{name}:0")
        self.changes.added.extend([w.op_name, b.op_name])
        return name


def _folded(layer, weights, old_bias, scale, shift):
    """``(W * scale, b * scale + shift)`` laid on the layer's output channels; ValueError when they do not fit."""
    import numpy as np

    depthwise = layer.op == "DepthwiseConv2dNative"
    transposed = layer.op == "MatMul" and layer.attr["transpose_b"].b
    if depthwise:
        channels = weights.shape[2] * weights.shape[3]
    else:
        channels = weights.shape[0 if transposed else -1]
    scale = np.broadcast_to(scale, (channels,))
    shift = np.broadcast_to(shift, (channels,))
    if depthwise:  # output channel c = i * multiplier + m
        new_w = weights * scale.reshape(weights.shape[2], weights.shape[3])
    elif transposed:
        new_w = weights * scale[:, None]
    else:
        new_w = weights * scale
    old_bias = old_bias if old_bias is not None else np.zeros(channels)
    return new_w, old_bias * scale + shift


__all__ = ["fold_batch_norms"]
