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
from ..vocab.optypes import VARIABLE_TYPES
from ..wording import plural
from .contract import ensures
from .freeze import freeze
from .prune import prune


LINEAR_TYPES = ("MatMul", "Conv2D", "DepthwiseConv2dNative")
FUSED_TYPES = ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
# The last op tf.nn.batch_normalization (and TF1's layers) names: ".../batchnorm/add_1".
_MANUAL_BN = re.compile(r"(^|/)batchnorm/add_1$")


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
    import numpy as np

    if g.root is not g:
        raise UsageError("fold the top-level graph, not a function body")
    changes = Changes()
    original = g
    consumers = g.uses
    sinks = list(outputs) if outputs else [n.name for n in g.graph_def.node if not consumers(n.name)]
    variables = [n.name for n in g.graph_def.node if n.op in VARIABLE_TYPES]
    if variables and not outputs:
        raise UsageError(f"{g.where}: holds {plural(variables, 'variable')} ({variables[0]}, ...); batch norm folds "
                         "into constant weights only",
                         hint="freeze it first (graphsurgeon freeze MODEL -o frozen.pb, then fold-bn frozen.pb), "
                              "or name the outputs (CLI --outputs logits:0) to freeze and fold in one go")
    if variables or any(n.op in ("Switch", "PlaceholderWithDefault", "If", "StatelessIf") for n in g.graph_def.node):
        # Variables become constants; TensorFlow's own frozen graphs keep the training
        # switch and its conds: freezing resolves them too.
        g, pre = freeze(g, outputs=sinks)
        changes.notes.extend(pre.notes)
        changes.removed.extend(pre.removed)
        sinks = pre.details["outputs"]
        changes.details["outputs"] = sinks
    work = g.copy()
    consts = Constants(work, float64=True)
    consumers = work.uses

    def readers(op: str) -> set[str]:
        return {c for c, _, _ in consumers(op)}

    def layer_of(text: str):
        """(linear node, biasadd node or None, why not) producing ``text``."""
        op, index = _names.split_tensor_name(text)
        node = work.node_defs.get(op)
        bias = None
        if node is not None and node.op == "BiasAdd" and index == 0:
            bias = node
            op, index = _names.split_tensor_name(node.input[0])
            node = work.node_defs.get(op)
            if len(readers(bias.name)) != 1:
                return None, None, f"its layer's output {bias.name} is read elsewhere too (shared)"
        if node is None or node.op not in LINEAR_TYPES or index != 0:
            what = f"{node.name} is a {node.op}" if node is not None else f"{op} is not in the graph"
            return None, None, f"no preceding linear op ({what}, not a {', '.join(LINEAR_TYPES)})"
        if len(readers(node.name)) != 1:
            return None, None, f"the output of {node.name} is read elsewhere too (shared)"
        if node.op == "DepthwiseConv2dNative" and node.attr["data_format"].s not in (b"", b"NHWC"):
            return None, None, f"{node.name} is {node.attr['data_format'].s.decode()}, not NHWC"
        if consts.value(node.input[1]) is None:
            return None, None, f"{node.name} has non-constant weights"
        if bias is not None and consts.value(bias.input[1]) is None:
            return None, None, f"{bias.name} has a non-constant bias"
        return node, bias, None

    def leave(label: str, why: str) -> bool:
        left.append({"batch_norm": label, "reason": why})
        changes.notes.append(f"left {label} alone: {why}")
        return False

    def fold(target, h_text: str, scale, shift, label: str) -> bool:
        layer, bias, why = layer_of(h_text)
        if layer is None:
            return leave(label, why)
        weights = consts.value(layer.input[1])
        depthwise = layer.op == "DepthwiseConv2dNative"
        if depthwise:
            channels = weights.shape[2] * weights.shape[3]
        else:
            channels = weights.shape[0 if layer.op == "MatMul" and layer.attr["transpose_b"].b else -1]
        try:
            scale = np.broadcast_to(scale, (channels,))
            shift = np.broadcast_to(shift, (channels,))
        except ValueError:
            return leave(label, "its parameters are not per output channel")
        if depthwise:  # output channel c = i * multiplier + m
            new_w = weights * scale.reshape(weights.shape[2], weights.shape[3])
        elif layer.op == "MatMul" and layer.attr["transpose_b"].b:
            new_w = weights * scale[:, None]
        else:
            new_w = weights * scale
        old_b = consts.value(bias.input[1]) if bias is not None else np.zeros(channels)
        new_b = old_b * scale + shift
        np_dtype = _dtypes.NUMPY[_dtypes.name(layer.attr["T"].type)]
        w = work.constant(np.asarray(new_w, dtype=np_dtype),
                          name=_names.unique_name(f"{layer.name}/folded_weights", work.node_defs))
        b = work.constant(np.asarray(new_b, dtype=np_dtype),
                          name=_names.unique_name(f"{layer.name}/folded_bias", work.node_defs))
        w_name, b_name = w.op_name, b.op_name
        work.set_input(layer.name, 1, w)
        # The layer's BiasAdd (or a new one) now gives what the batch norm gave.
        if bias is not None:
            name = bias.name
            work.set_input(name, 1, b)
        else:
            formats = {"data_format": layer.attr["data_format"]} \
                if layer.op != "MatMul" and "data_format" in layer.attr else None
            name = work.add_op("BiasAdd", [f"{layer.name}:0", b], attrs=formats, device=target.device,
                               name=_names.unique_name(f"{layer.name}/folded_bias_add", work.node_defs)).name
        work.replace_all_uses(f"{target.name}:0", f"{name}:0")
        changes.changed.extend([layer.name, name])
        changes.added.extend([w_name, b_name])
        changes.notes.append(f"folded {label} into {layer.name}")
        done.append({"batch_norm": label, "into": layer.name})
        return True

    done: list[dict] = []
    left: list[dict] = []
    for node in list(work.graph_def.node):
        if node.op in FUSED_TYPES:
            if node.attr["is_training"].b:
                leave(node.name, "training mode (is_training is true: it normalises with batch statistics)")
                continue
            if any(idx > 0 for _, _, idx in consumers(node.name)):
                leave(node.name, "its batch statistics are read")
                continue
            gamma, beta, mean, var = (consts.value(t) for t in node.input[1:5])
            if any(v is None for v in (gamma, beta, mean, var)):
                leave(node.name, "its parameters are not constant")
                continue
            eps = node.attr["epsilon"].f if "epsilon" in node.attr else 1e-4
            scale = gamma / np.sqrt(var + eps)
            fold(node, node.input[0], scale, beta - mean * scale, node.name)
        elif node.op in ("Add", "AddV2") and node.name in work.node_defs:
            seen = len(done) + len(left)
            for i in (0, 1):
                mul_text, shift_text = node.input[i], node.input[1 - i]
                mul = work.node_defs.get(_names.split_tensor_name(mul_text)[0])
                if mul is None or mul.op != "Mul" or consts.value(node.input[i]) is not None:
                    continue
                shift = consts.value(shift_text)
                if shift is None:
                    continue
                for j in (0, 1):
                    scale = consts.value(mul.input[1 - j])
                    if scale is None or consts.value(mul.input[j]) is not None:
                        continue
                    if len(readers(mul.name)) != 1:
                        continue
                    fold(node, mul.input[j], scale, shift, node.name)
                    break
                break
            if len(done) + len(left) == seen and _MANUAL_BN.search(node.name):
                # tf.nn.batch_normalization's last op, not of the constant form.
                leave(node.name, "its parameters are not constant")
    changes.details.update(folded=done, left=left)
    if not done:
        changes.notes.insert(0, "nothing folded: " + (f"{plural(left, 'batch norm')} left as they were"
                                                      if left else "no batch norm found"))
        ensures(work, changes, before=original)
        return work, changes
    result, pruned = prune(work, sinks)
    changes.removed.extend(pruned.removed)
    ensures(result, changes, before=original)
    return result, changes


__all__ = ["fold_batch_norms"]
