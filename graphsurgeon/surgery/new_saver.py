"""Build a V2 Saver into a graph, as ``tf.compat.v1.train.Saver(var_list)`` builds it (TensorFlow-free).

What ``Saver`` (non-sharded, ``write_version=V2``) adds under its scope
``save/``, and what this module adds the same way:

- ``save/filename/input`` (Const ``"model"``), ``save/filename`` and
  ``save/Const`` (``PlaceholderWithDefault``): the checkpoint prefix, fed
  by whoever saves or restores (the SavedModel loader feeds
  ``variables/variables``);
- ``save/SaveV2`` with its ``tensor_names`` and ``shape_and_slices``
  constants, and ``save/control_dependency`` (the prefix, after the save);
- ``save/RestoreV2`` and per variable ``save/Assign_N`` (ref variables:
  ``Assign`` with ``validate_shape``) or ``save/Identity_N`` +
  ``save/AssignVariableOp_N`` (resource variables); ``save/restore_all``
  groups them;
- the MetaGraphDef's ``saver_def`` naming ``save/Const:0``,
  ``save/control_dependency:0`` and ``save/restore_all`` (version V2).

A V2 ``RestoreV2`` reads V2 checkpoints (and V1 ones too); TensorFlow
Serving's loader restores only from ``variables/variables.index``, so a model
whose own saver is V1 (``RestoreSlice``, ``SaveSlices``) gets one of these.
"""
from __future__ import annotations

from .. import dtypes as _dtypes
from .. import names as _names
from .. import protos

__all__ = ["add_saver"]

_STRING = "string"


def _const(name: str, values, shape=None):
    node = protos.NodeDef(name=name, op="Const")
    node.attr["dtype"].type = _dtypes.number(_STRING)
    tensor = node.attr["value"].tensor
    tensor.dtype = _dtypes.number(_STRING)
    if shape is not None:
        for d in shape:
            tensor.tensor_shape.dim.add(size=d)
    tensor.string_val.extend(v.encode("utf-8", "surrogateescape") for v in values)
    return node


def _node(name: str, op: str, inputs=(), **attrs):
    node = protos.NodeDef(name=name, op=op)
    node.input.extend(inputs)
    for key, setter in attrs.items():
        setter(node.attr[key])
    return node


def _type(dtype: str):
    def set_(attr):
        attr.type = _dtypes.number(dtype)
    return set_


def _types(dtypes):
    def set_(attr):
        attr.list.type.extend(_dtypes.number(d) for d in dtypes)
    return set_


def _shape(dims):
    def set_(attr):
        attr.shape.SetInParent()
        for d in dims:
            attr.shape.dim.add(size=d)
    return set_


def _bool(value: bool):
    def set_(attr):
        attr.b = value
    return set_


def _strings(values):
    def set_(attr):
        attr.list.s.extend(v.encode() for v in values)
    return set_


def add_saver(g, variables: dict[str, tuple[str, str]], scope: str = "save") -> list[str]:
    """Add a V2 saver of ``variables`` to ``g`` (edited in place) and make it the MetaGraphDef's ``saver_def``.

    Args:
        g: a graph with a MetaGraphDef.
        variables: ``{variable op: (checkpoint key, slice spec)}``; ref
            variables (``VariableV2``, ``Variable``) and resource ones
            (``VarHandleOp``); the spec is ``""`` for a whole tensor.
        scope: the name scope (made unique: ``save_1`` when ``save/`` is taken).

    Returns:
        the names of the ops added.
    """
    taken = {name.split("/", 1)[0] for name in g.node_defs}
    scope = _names.unique_name(scope, taken)
    order = sorted(variables, key=lambda v: (variables[v][0], variables[v][1], v))
    keys = [variables[v][0] for v in order]
    specs = [variables[v][1] for v in order]
    dtypes = [_dtypes.base(_dtypes.name(g.node_defs[v].attr["dtype"].type)) for v in order]
    s = scope + "/"
    nodes = [
        _const(s + "filename/input", ["model"]),
        _node(s + "filename", "PlaceholderWithDefault", [s + "filename/input"], dtype=_type(_STRING), shape=_shape(())),
        _node(s + "Const", "PlaceholderWithDefault", [s + "filename"], dtype=_type(_STRING), shape=_shape(())),
    ]
    save_inputs = []
    for i, var in enumerate(order):
        if g.node_defs[var].op == "VarHandleOp":
            read = s + ("ReadVariableOp" if i == 0 else f"ReadVariableOp_{i}")
            nodes.append(_node(read, "ReadVariableOp", [var], dtype=_type(dtypes[i])))
            save_inputs.append(read)
        else:
            save_inputs.append(var)
    nodes += [
        _const(s + "SaveV2/tensor_names", keys, [len(keys)]),
        _const(s + "SaveV2/shape_and_slices", specs, [len(specs)]),
        _node(s + "SaveV2", "SaveV2", [s + "Const", s + "SaveV2/tensor_names", s + "SaveV2/shape_and_slices",
                                       *save_inputs], dtypes=_types(dtypes)),
        _node(s + "control_dependency", "Identity", [s + "Const", "^" + s + "SaveV2"], T=_type(_STRING),
              _class=_strings(["loc:@" + s + "Const"])),
        _const(s + "RestoreV2/tensor_names", keys, [len(keys)]),
        _const(s + "RestoreV2/shape_and_slices", specs, [len(specs)]),
        _node(s + "RestoreV2", "RestoreV2", [s + "Const", s + "RestoreV2/tensor_names",
                                             s + "RestoreV2/shape_and_slices"], dtypes=_types(dtypes)),
    ]
    assigns = []
    for i, var in enumerate(order):
        restored = s + "RestoreV2" + ("" if i == 0 else f":{i}")
        suffix = "" if i == 0 else f"_{i}"
        if g.node_defs[var].op == "VarHandleOp":
            identity = s + "Identity" + suffix
            nodes.append(_node(identity, "Identity", [restored], T=_type(dtypes[i])))
            assign = _node(s + "AssignVariableOp" + suffix, "AssignVariableOp", [var, identity], dtype=_type(dtypes[i]))
        else:
            shape = g.node_defs[var].attr["shape"].shape
            known = not shape.unknown_rank and all(d.size >= 0 for d in shape.dim)
            assign = _node(s + "Assign" + suffix, "Assign", [var, restored], T=_type(dtypes[i]),
                           validate_shape=_bool(known), use_locking=_bool(True),
                           _class=_strings(["loc:@" + var]))
        nodes.append(assign)
        assigns.append(assign.name)
    nodes.append(_node(s + "restore_all", "NoOp", ["^" + a for a in assigns]))
    for node in nodes:
        g.add_op(node)
    g.ensure_op_defs({node.op for node in nodes})
    saver = g.meta_graph.saver_def
    saver.Clear()
    saver.filename_tensor_name = s + "Const:0"
    saver.save_tensor_name = s + "control_dependency:0"
    saver.restore_op_name = s + "restore_all"
    saver.max_to_keep = 5
    saver.keep_checkpoint_every_n_hours = 10000.0
    saver.version = protos.SaverDef.V2
    return [node.name for node in nodes]
