"""Variables: which ops hold state, their shapes and parameter counts; which collections hold VariableDefs.

:func:`variable_def_collections` is the one answer to "which collections of a
MetaGraphDef hold VariableDefs", decided by content: a ``bytes_list`` whose
every entry parses as a VariableDef naming a variable tensor, whatever the
collection's name (``variables``, ``trainable_variables``, ``global_step``,
``moving_average_variables``, a library's own). TensorFlow decodes the
entries of the collections it registered (``ops.register_proto_function``)
when it imports the graph, and fails on one naming an op the graph lacks;
every rewrite, query and the rewrite contract asks this module, so that none
of them keeps its own list.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..analysis.shapes import from_proto
from ..vocab import dtypes
from ..vocab import names as _names
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


# Collections TensorFlow registers a proto function for, decoding their entries as VariableDef by name
# (variables.py and metrics: GLOBAL_VARIABLES, TRAINABLE_VARIABLES, MOVING_AVERAGE_VARIABLES,
# LOCAL_VARIABLES, MODEL_VARIABLES, GLOBAL_STEP, METRIC_VARIABLES).
REGISTERED_VARIABLE_COLLECTIONS = ("variables", "trainable_variables", "moving_average_variables",
                                   "local_variables", "model_variables", "global_step", "metric_variables")
# Collections registered to other messages: their entries may happen to parse as a VariableDef.
OTHER_MESSAGE_COLLECTIONS = ("savers", "cond_context", "while_context")


def _tensor(text: str) -> bool:
    """``op:N`` (as names.is_tensor_name, inlined: it runs for every entry of every variable collection)."""
    op, sep, index = text.rpartition(":")
    return bool(op) and index.isdigit() and index.isascii() and len(index) <= 18


def parse_variable_def(raw: bytes) -> VariableDef | None:
    """``raw`` as a VariableDef, or None when it is not one.

    Protocol buffers parse leniently (a SaverDef or a CondContextDef parses
    as a VariableDef with fields of the wrong meaning), so an entry counts
    only when it parses with no unknown field, names a variable tensor
    (``v:0``), and its initializer is an op, its snapshot and initial value
    tensors, as TensorFlow writes them.
    """
    var = VariableDef()
    try:
        var.ParseFromString(raw)
    except Exception:  # noqa: BLE001 - not a VariableDef
        return None
    if not _tensor(var.variable_name) or ":" in var.initializer_name:
        return None
    snapshot, initial = var.snapshot_name, var.initial_value_name
    if (snapshot and not _tensor(snapshot)) or (initial and not _tensor(initial)):
        return None
    if len(_unknown_fields(var)):
        return None
    return var


def _unknown_fields(message):
    from google.protobuf import unknown_fields  # loads with the first collection of bytes entries

    global _unknown_fields
    _unknown_fields = unknown_fields.UnknownFieldSet
    return _unknown_fields(message)


def holds_variable_defs(name: str, collection) -> bool:
    """Whether the CollectionDef ``collection`` (called ``name``) holds VariableDefs: see the module docstring."""
    if name in OTHER_MESSAGE_COLLECTIONS or collection.WhichOneof("kind") != "bytes_list":
        return False
    values = tuple(collection.bytes_list.value)
    if not values:
        return False
    # Every rewrite and its contract ask about the same collections: the answer is kept by content.
    key = (name, len(values), hash(values))
    answer = _DECIDED.get(key)
    if answer is None:
        answer = all(parse_variable_def(raw) is not None for raw in values)
        if len(_DECIDED) >= 256:
            _DECIDED.clear()
        _DECIDED[key] = answer
    return answer


_DECIDED: dict = {}


def variable_def_collections(meta) -> list[str]:
    """The names of the collections of MetaGraphDef ``meta`` that hold VariableDefs, sorted."""
    if meta is None:
        return []
    return sorted(key for key, coll in meta.collection_def.items() if holds_variable_defs(key, coll))


def variable_defs(meta, names=None) -> Iterator[tuple[str, VariableDef]]:
    """``(collection, VariableDef)`` for every entry of the VariableDef collections (or of ``names`` among them)."""
    for key in variable_def_collections(meta):
        if names is not None and key not in names:
            continue
        for raw in meta.collection_def[key].bytes_list.value:
            yield key, parse_variable_def(raw)


def _trainable_names(graph) -> set[str] | None:
    meta = graph.root.meta_graph
    if meta is None or "trainable_variables" not in meta.collection_def:
        return None
    return {_names.split_tensor_name(var.variable_name)[0]
            for _, var in variable_defs(meta, ("trainable_variables",))}


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
