"""A graph's likely inputs and outputs, when no signature says: what ``info`` shows and what
rewrites fall back on (``edit --input-shape`` without names, a signature for ``export``)."""
from __future__ import annotations

from ..ir.graph import Graph, Tensor
from ..vocab.optypes import PLACEHOLDER_TYPES, SAVE_RESTORE_TYPES, VARIABLE_TYPES, training_machinery, writes_variable


def likely_inputs(g: Graph) -> list[Tensor]:
    """Placeholders, except the saver's own (``save/filename``, TF2's ``saver_filename``) and other machinery."""
    machinery = training_machinery(g)
    return [op.output(0) for op in g.ops(type=list(PLACEHOLDER_TYPES)) if op.name not in machinery]


# Besides what writes a variable (optypes.writes_variable) and saves or restores (SAVE_RESTORE_TYPES).
_NOT_OUTPUTS = {"NoOp", "Const", "Assert", "_Retval", *VARIABLE_TYPES, *SAVE_RESTORE_TYPES}
_BOOKKEEPING = {"Shape", "ShapeN", "Size", "Rank", "Const", "BroadcastGradientArgs"}
# A TF1 cond's own bookkeeping: computed, read by nothing, not a result.
_COND_PARTS = ("switch_t", "switch_f", "pred_id")


def likely_outputs(g: Graph) -> list[Tensor]:
    """Tensors nothing reads, of ops that compute (not training machinery, initializers or bookkeeping)."""
    machinery = training_machinery(g)
    out = []
    for op in g:
        if op.type in _NOT_OUTPUTS or op.type in _BOOKKEEPING or writes_variable(op.type):
            continue
        if op.name in machinery or g.is_read(op.name) or op.name.rsplit("/", 1)[-1] in _COND_PARTS:
            continue
        if op.type == "ReadVariableOp" and op.name.endswith("/Read/ReadVariableOp"):
            continue  # TF2 SavedModels keep one such read per variable, for checkpointing
        out.extend(t for t in op.outputs if t.dtype not in (None, "resource") and not (t.dtype or "").endswith("_ref"))
    return out
