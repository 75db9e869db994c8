"""TensorFlow's protocol buffer messages, without TensorFlow.

TensorBoard ships TF-free copies of most of the messages a graph file holds
(package ``tensorboard``, wire-compatible with ``tensorflow``). A few that it
lacks are declared here, field for field as in TensorFlow's ``.proto`` files:
``SavedModel`` (saved_model.proto), the control-flow contexts stored in
collections (control_flow.proto), the checkpoint index entries
(tensor_bundle.proto, tensor_slice.proto), ``FingerprintDef``, and Keras 2's
``SavedMetadata`` (keras_metadata.pb; its ``SavedObject`` is called
``SavedKerasObject`` here, beside TensorFlow's own ``SavedObject``).
"""
from __future__ import annotations

from tensorboard.compat.proto import (  # noqa: F401  (re-exported)
    attr_value_pb2,
    function_pb2,
    graph_pb2,
    meta_graph_pb2,
    node_def_pb2,
    op_def_pb2,
    saved_object_graph_pb2,
    saver_pb2,
    struct_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    trackable_object_graph_pb2,
    types_pb2,
    variable_pb2,
    versions_pb2,
)

_PACKAGE = "graphsurgeon.tf"


def _field(msg, name, number, ftype, label=None, type_name=None, oneof=None):
    if label is None:
        label = 1  # LABEL_OPTIONAL
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name
    if oneof is not None:
        f.oneof_index = oneof
    return f


def _build():
    from google.protobuf import descriptor_pb2

    F = descriptor_pb2.FieldDescriptorProto
    _REP = F.LABEL_REPEATED
    fd = descriptor_pb2.FileDescriptorProto(
        name="graphsurgeon/tf_extra.proto",
        package=_PACKAGE,
        syntax="proto3",
        dependency=[
            "tensorboard/compat/proto/meta_graph.proto",
            "tensorboard/compat/proto/tensor.proto",
            "tensorboard/compat/proto/tensor_shape.proto",
            "tensorboard/compat/proto/types.proto",
            "tensorboard/compat/proto/versions.proto",
        ],
    )
    p = "." + _PACKAGE + "."

    m = fd.message_type.add(name="SavedModel")
    _field(m, "saved_model_schema_version", 1, F.TYPE_INT64)
    _field(m, "meta_graphs", 2, F.TYPE_MESSAGE, _REP, ".tensorboard.MetaGraphDef")

    m = fd.message_type.add(name="ValuesDef")
    entry = m.nested_type.add(name="ExternalValuesEntry")
    entry.options.map_entry = True
    _field(entry, "key", 1, F.TYPE_STRING)
    _field(entry, "value", 2, F.TYPE_STRING)
    _field(m, "values", 1, F.TYPE_STRING, _REP)
    _field(m, "external_values", 2, F.TYPE_MESSAGE, _REP, p + "ValuesDef.ExternalValuesEntry")

    m = fd.message_type.add(name="ControlFlowContextDef")
    m.oneof_decl.add(name="ctxt")
    _field(m, "cond_ctxt", 1, F.TYPE_MESSAGE, type_name=p + "CondContextDef", oneof=0)
    _field(m, "while_ctxt", 2, F.TYPE_MESSAGE, type_name=p + "WhileContextDef", oneof=0)

    m = fd.message_type.add(name="CondContextDef")
    _field(m, "context_name", 1, F.TYPE_STRING)
    _field(m, "pred_name", 2, F.TYPE_STRING)
    _field(m, "pivot_name", 3, F.TYPE_STRING)
    _field(m, "branch", 4, F.TYPE_INT32)
    _field(m, "values_def", 5, F.TYPE_MESSAGE, type_name=p + "ValuesDef")
    _field(m, "nested_contexts", 6, F.TYPE_MESSAGE, _REP, p + "ControlFlowContextDef")

    m = fd.message_type.add(name="WhileContextDef")
    _field(m, "context_name", 1, F.TYPE_STRING)
    _field(m, "parallel_iterations", 2, F.TYPE_INT32)
    _field(m, "back_prop", 3, F.TYPE_BOOL)
    _field(m, "swap_memory", 4, F.TYPE_BOOL)
    _field(m, "pivot_name", 5, F.TYPE_STRING)
    _field(m, "pivot_for_pred_name", 6, F.TYPE_STRING)
    _field(m, "pivot_for_body_name", 7, F.TYPE_STRING)
    _field(m, "loop_exit_names", 8, F.TYPE_STRING, _REP)
    _field(m, "loop_enter_names", 10, F.TYPE_STRING, _REP)
    _field(m, "values_def", 9, F.TYPE_MESSAGE, type_name=p + "ValuesDef")
    _field(m, "maximum_iterations_name", 11, F.TYPE_STRING)
    _field(m, "nested_contexts", 12, F.TYPE_MESSAGE, _REP, p + "ControlFlowContextDef")

    m = fd.message_type.add(name="TensorSliceProto")
    ext = m.nested_type.add(name="Extent")
    ext.oneof_decl.add(name="has_length")
    _field(ext, "start", 1, F.TYPE_INT64)
    _field(ext, "length", 2, F.TYPE_INT64, oneof=0)
    _field(m, "extent", 1, F.TYPE_MESSAGE, _REP, p + "TensorSliceProto.Extent")

    m = fd.message_type.add(name="BundleHeaderProto")
    enum = m.enum_type.add(name="Endianness")
    enum.value.add(name="LITTLE", number=0)
    enum.value.add(name="BIG", number=1)
    _field(m, "num_shards", 1, F.TYPE_INT32)
    _field(m, "endianness", 2, F.TYPE_ENUM, type_name=p + "BundleHeaderProto.Endianness")
    _field(m, "version", 3, F.TYPE_MESSAGE, type_name=".tensorboard.VersionDef")

    m = fd.message_type.add(name="BundleEntryProto")
    _field(m, "dtype", 1, F.TYPE_ENUM, type_name=".tensorboard.DataType")
    _field(m, "shape", 2, F.TYPE_MESSAGE, type_name=".tensorboard.TensorShapeProto")
    _field(m, "shard_id", 3, F.TYPE_INT32)
    _field(m, "offset", 4, F.TYPE_INT64)
    _field(m, "size", 5, F.TYPE_INT64)
    _field(m, "crc32c", 6, F.TYPE_FIXED32)
    _field(m, "slices", 7, F.TYPE_MESSAGE, _REP, p + "TensorSliceProto")

    # V1 checkpoints (saved_tensor_slice.proto): one table of SavedTensorSlices.
    m = fd.message_type.add(name="SavedSliceMeta")
    _field(m, "name", 1, F.TYPE_STRING)
    _field(m, "shape", 2, F.TYPE_MESSAGE, type_name=".tensorboard.TensorShapeProto")
    _field(m, "type", 3, F.TYPE_ENUM, type_name=".tensorboard.DataType")
    _field(m, "slice", 4, F.TYPE_MESSAGE, _REP, p + "TensorSliceProto")

    m = fd.message_type.add(name="SavedTensorSliceMeta")
    _field(m, "tensor", 1, F.TYPE_MESSAGE, _REP, p + "SavedSliceMeta")
    _field(m, "versions", 2, F.TYPE_MESSAGE, type_name=".tensorboard.VersionDef")

    m = fd.message_type.add(name="SavedSlice")
    _field(m, "name", 1, F.TYPE_STRING)
    _field(m, "slice", 2, F.TYPE_MESSAGE, type_name=p + "TensorSliceProto")
    _field(m, "data", 3, F.TYPE_MESSAGE, type_name=".tensorboard.TensorProto")

    m = fd.message_type.add(name="SavedTensorSlices")
    _field(m, "meta", 1, F.TYPE_MESSAGE, type_name=p + "SavedTensorSliceMeta")
    _field(m, "data", 2, F.TYPE_MESSAGE, type_name=p + "SavedSlice")

    m = fd.message_type.add(name="FingerprintDef")
    for i, name in enumerate(
        ["saved_model_checksum", "graph_def_program_hash", "signature_def_hash",
         "saved_object_graph_hash", "checkpoint_hash"], start=1):
        _field(m, name, i, F.TYPE_UINT64)
    _field(m, "uuid", 7, F.TYPE_STRING)
    _field(m, "version", 6, F.TYPE_MESSAGE, type_name=".tensorboard.VersionDef")

    # Keras 2's keras_metadata.pb (keras/protobuf/saved_metadata.proto; its VersionDef has
    # the same fields as TensorFlow's).
    m = fd.message_type.add(name="SavedMetadata")
    _field(m, "nodes", 1, F.TYPE_MESSAGE, _REP, p + "SavedKerasObject")
    m = fd.message_type.add(name="SavedKerasObject")
    _field(m, "node_id", 2, F.TYPE_INT32)
    _field(m, "node_path", 3, F.TYPE_STRING)
    _field(m, "identifier", 4, F.TYPE_STRING)
    _field(m, "metadata", 5, F.TYPE_STRING)
    _field(m, "version", 6, F.TYPE_MESSAGE, type_name=".tensorboard.VersionDef")
    return fd


_EXTRA = ("SavedModel", "ValuesDef", "ControlFlowContextDef", "CondContextDef", "WhileContextDef",
          "TensorSliceProto", "BundleHeaderProto", "BundleEntryProto", "FingerprintDef", "SavedSliceMeta",
          "SavedTensorSliceMeta", "SavedSlice", "SavedTensorSlices", "SavedMetadata", "SavedKerasObject")
_extra_classes: dict = {}


def _extra(name: str):
    # Built on first use: reading a .meta never pays for descriptor building.
    if not _extra_classes:
        from google.protobuf import descriptor_pool, message_factory

        pool = descriptor_pool.Default()
        file_proto = _build()
        try:
            pool.FindFileByName(file_proto.name)
        except KeyError:
            pool.Add(file_proto)
        classes = message_factory.GetMessages([file_proto], pool=pool)
        for short in _EXTRA:
            _extra_classes[short] = classes[_PACKAGE + "." + short]
    return _extra_classes[name]


def __getattr__(name: str):
    if name in _EXTRA:
        return _extra(name)
    if name == "KNOWN_MESSAGES":
        return known_messages()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


GraphDef = graph_pb2.GraphDef
MetaGraphDef = meta_graph_pb2.MetaGraphDef
NodeDef = node_def_pb2.NodeDef
OpDef = op_def_pb2.OpDef
OpList = op_def_pb2.OpList
AttrValue = attr_value_pb2.AttrValue
TensorProto = tensor_pb2.TensorProto
TensorShapeProto = tensor_shape_pb2.TensorShapeProto
FunctionDef = function_pb2.FunctionDef
SaverDef = saver_pb2.SaverDef
VariableDef = variable_pb2.VariableDef
SavedObjectGraph = saved_object_graph_pb2.SavedObjectGraph
SignatureDef = meta_graph_pb2.SignatureDef
TensorInfo = meta_graph_pb2.TensorInfo
AssetFileDef = meta_graph_pb2.AssetFileDef


def known_messages() -> dict:
    """Messages TensorFlow packs into collections (bytes_list / any_list), by the name
    TensorFlow gives them (type URLs end in ``tensorflow.<Name>``)."""
    return {
        "VariableDef": VariableDef,
        "SaverDef": SaverDef,
        "CondContextDef": _extra("CondContextDef"),
        "WhileContextDef": _extra("WhileContextDef"),
        "ControlFlowContextDef": _extra("ControlFlowContextDef"),
        "ValuesDef": _extra("ValuesDef"),
        "TensorInfo": meta_graph_pb2.TensorInfo,
        "SignatureDef": meta_graph_pb2.SignatureDef,
        "AssetFileDef": meta_graph_pb2.AssetFileDef,
        "TensorProto": TensorProto,
        "GraphDef": GraphDef,
        "MetaGraphDef": MetaGraphDef,
        "SavedModel": _extra("SavedModel"),
    }
