"""Variables: which ops hold state, their shapes and parameter counts."""
from __future__ import annotations

from dataclasses import dataclass

from ..analysis.shapes import from_proto
from ..vocab import dtypes
from ..vocab.optypes import VARIABLE_TYPES
from ..vocab.protos import VariableDef
from ..vocab.values import element_count


@dataclass
class Variable:
    name: str          # the variable op's name (``hidden1/kernel``)
    type: str          # VariableV2, VarHandleOp, ...
    dtype: str | None  # value dtype (``float32``), not the ref/resource handle type
    shape: tuple | None
    trainable: bool | None  # None when the graph does not say (no collections)

    @property
    def params(self) -> int | None:
        return element_count(self.shape)

    @property
    def nbytes(self) -> int | None:
        count = self.params
        size = _ITEMSIZE.get(self.dtype or "")
        return count * size if count is not None and size else None


_ITEMSIZE = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2, "int32": 4, "int64": 8, "int16": 2,
             "int8": 1, "uint8": 1, "uint16": 2, "uint32": 4, "uint64": 8, "bool": 1, "complex64": 8,
             "complex128": 16}


def _trainable_names(graph) -> set[str] | None:
    meta = graph.root.meta_graph
    if meta is None or "trainable_variables" not in meta.collection_def:
        return None

    names = set()
    for raw in meta.collection_def["trainable_variables"].bytes_list.value:
        var = VariableDef()
        try:
            var.ParseFromString(raw)
        except Exception:
            continue
        names.add(var.variable_name.split(":")[0])
    return names


def variables(graph) -> list[Variable]:
    """Every variable op of the graph, in graph order."""
    trainable = _trainable_names(graph)
    out = []
    for op in graph.ops(type=list(VARIABLE_TYPES)):
        node = op.node
        dtype = dtypes.name(node.attr["dtype"].type) if "dtype" in node.attr else None
        shape = from_proto(node.attr["shape"].shape) if "shape" in node.attr else None
        out.append(Variable(op.name, op.type, dtype, shape,
                            None if trainable is None else op.name in trainable))
    return out
