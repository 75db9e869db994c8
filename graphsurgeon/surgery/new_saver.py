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

:func:`restored_variables` says which variables such a saver restores and
from which checkpoint key (the model's own saver's keys, checked against the
checkpoint), leaving out those the loader sets itself (local variables, what
the main op assigns).
"""
from __future__ import annotations

from ..errors import NotFoundError, RewriteError
from ..formats.checkpoint import open_checkpoint
from ..ir.graph import Graph
from ..metagraph.collections import DEFAULT_SAVER_NOTE, main_ops
from ..metagraph.saver import ASSIGN_TYPES, RESTORE_TYPES, checkpoint_entries, saver_entries, saver_scope_ops
from ..metagraph.variables import variable_defs
from ..vocab import dtypes as _dtypes
from ..vocab import names as _names
from ..vocab import protos
from ..vocab.optypes import VARIABLE_TYPES
from ..wording import plural

__all__ = ["add_saver", "keep_saver", "restored_variables", "restores_v2", "saver_scope_ops"]

_STRING = "string"


def _const(name: str, values, shape=None) -> tuple:
    """A string Const to add with ``g.constant``: ``(name, array)`` (a scalar without ``shape``)."""
    import numpy as np  # surgery that writes a saver needs numpy; reading does not

    # A checkpoint key read from bytes that are not UTF-8 keeps them (surrogateescape).
    array = np.array([v.encode("utf-8", "surrogateescape") for v in values], dtype=object)
    return name, array.reshape(tuple(shape) if shape is not None else ())


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
        if isinstance(node, tuple):
            g.constant(node[1], name=node[0])
        else:
            g.add_op(node)
    g.ensure_op_defs({node.op for node in nodes if not isinstance(node, tuple)})
    saver = protos.SaverDef()
    saver.filename_tensor_name = s + "Const:0"
    saver.save_tensor_name = s + "control_dependency:0"
    saver.restore_op_name = s + "restore_all"
    saver.max_to_keep = 5
    saver.keep_checkpoint_every_n_hours = 10000.0
    saver.version = protos.SaverDef.V2
    g.set_saver_def(saver)
    return [node[0] if isinstance(node, tuple) else node.name for node in nodes]


def keep_saver(g, result, dropped: list | None = None) -> tuple[list[str], list[str]]:
    """Give ``result``, a rewrite of ``g`` that removed ``g``'s saver, one restoring what ``g``'s did.

    Without it ``import_meta_graph`` (and the TF1 SavedModel loader) would
    make a default ``Saver`` over the variables that remain, restoring each
    from a key of its own name: wrong for a saver that restores shadow
    variables (``ema.variables_to_restore()``), renamed keys, or a subset.
    The new V2 saver (:func:`add_saver`) restores the variables ``g``'s saver
    restored that remain, from the same keys and slices. Edits ``result``.

    ``dropped``: the rewrite's ``Changes.dropped``, whose saver_def entry
    then says the saver was replaced rather than left to ``import_meta_graph``.

    Returns:
        ``(ops added, notes)``; nothing when ``g`` had no saver, ``result`` kept
        it, or no variable it restored remains.
    """
    before, meta = g.meta_graph, result.meta_graph
    if before is None or meta is None or not before.HasField("saver_def") or meta.HasField("saver_def"):
        return [], []
    entries = {var: entry for var, entry in saver_entries(g).items()
               if var in result.node_defs and result.node_defs[var].op in VARIABLE_TYPES}
    if not entries:
        return [], []
    added = add_saver(result, entries)
    if dropped is not None:
        dropped[:] = [d.replace(DEFAULT_SAVER_NOTE, "; replaced by a saver restoring the same keys")
                      if d.startswith("saver_def:") else d for d in dropped]
    renamed = sorted(var for var, (key, spec) in entries.items() if key != var and not spec)
    sliced = sorted(var for var, (_, spec) in entries.items() if spec)
    detail = "".join([f"; {plural(renamed, 'variable')} from keys of other names (e.g. {renamed[0]} <- "
                      f"{entries[renamed[0]][0]})" if renamed else "",
                      f"; {plural(sliced, 'partition')} as slices" if sliced else ""])
    return added, [f"saver: the model's own saver rebuilt over the {plural(entries, 'variable')} it restored that "
                   f"remain, under the same checkpoint keys ({_names.scope_of(added[-1])}/){detail}"]


# ---------------------------------------------------------------- which variables a new saver restores
def _set_at_load(g: Graph) -> set[str]:
    """Variables the loader sets without the checkpoint: local variables, and those the main op assigns."""
    meta = g.meta_graph
    out = set()
    out.update(_names.split_tensor_name(var.variable_name)[0] for _, var in variable_defs(meta, ("local_variables",)))
    main = main_ops(g)
    if main:
        for name in g.ancestors(main, include_roots=True):
            node = g.node_defs.get(name)
            if node is not None and node.op in ASSIGN_TYPES and node.input:
                out.add(_names.split_tensor_name(node.input[0])[0])
    return out


def restored_variables(g: Graph, result: Graph, checkpoint: str | None,
                      notes: list) -> dict[str, tuple[str, str]]:
    """``{variable: (checkpoint key, slice spec)}`` for the variables of ``result``, checked against the checkpoint.

    Variables the loader sets itself (local variables, what the main op
    assigns) are left out when the checkpoint does not hold them.
    """
    variables = [n.name for n in result.graph_def.node if n.op in VARIABLE_TYPES]
    if not variables:
        return {}
    at_load = _set_at_load(result)
    if not checkpoint:
        raise RewriteError(f"the signatures need {plural(variables, 'variable')} (e.g. {variables[0]}) but there "
                           "is no checkpoint", hint="give it: --checkpoint PREFIX (API: checkpoint=...)")
    entries = checkpoint_entries(g)
    out = {}
    skipped = []
    with open_checkpoint(checkpoint) as reader:
        for var in variables:
            node = result.node_defs[var]
            default = node.attr["shared_name"].s.decode() if node.op == "VarHandleOp" and \
                node.attr["shared_name"].s else var
            key, spec = entries.get(var, (default, ""))
            if key not in reader and var in at_load and var not in entries:
                skipped.append(var)
                continue
            if key not in reader:
                raise NotFoundError("variable", key, reader.keys(), where=f"checkpoint {checkpoint}")
            dtype = _dtypes.base(_dtypes.name(node.attr["dtype"].type))
            if reader.dtype(key) != dtype:
                raise RewriteError(f"checkpoint {checkpoint} does not match the graph: {key} is "
                                   f"{reader.dtype(key)}, variable {var} is {dtype}")
            shape = node.attr["shape"].shape
            if not spec and not shape.unknown_rank:
                dims = [d.size for d in shape.dim]
                stored = list(reader.shape(key))
                if len(dims) != len(stored) or any(d >= 0 and d != s for d, s in zip(dims, stored)):
                    raise RewriteError(f"checkpoint {checkpoint} does not match the graph: {key} has shape "
                                       f"{stored}, variable {var} has {dims}")
            out[var] = (key, spec)
    if skipped:
        notes.append(f"not restored (set when the model is loaded: local, or assigned by the main op): "
                     f"{', '.join(skipped)}")
    return out


def restores_v2(g: Graph) -> bool:
    """Whether the graph's own saver restores with RestoreV2 only (which reads the V2 checkpoint we write)."""
    meta = g.meta_graph
    if not meta.HasField("saver_def"):
        return False
    restore = _names.split_tensor_name(meta.saver_def.restore_op_name)[0]
    if restore not in g.node_defs:
        return False
    ops = g.ancestors([restore], include_roots=True)
    types = {g.node_defs[n].op for n in ops if n in g.node_defs}
    return "RestoreV2" in types and not (types & (set(RESTORE_TYPES) - {"RestoreV2"}))

