"""Op definitions: what each op type takes and produces, without TensorFlow.

Looked up, in order, in the graph's own stripped op list (what the model's
TensorFlow registered), the graph's function library (a function is an op
whose signature is an OpDef), and the registry shipped with the package
(``data/ops.pb``, generated from TensorFlow's op registry by
``scripts/gen_opdefs.py``). Unknown op types (custom op libraries) have no
definition: their outputs get unknown dtypes, never an error.
"""
from __future__ import annotations

import functools
from pathlib import Path

from . import dtypes
from .protos import OpDef, OpList


@functools.lru_cache(maxsize=1)
def shipped() -> dict[str, OpDef]:
    """TensorFlow's registry, as shipped with graphsurgeon (parsed once, on first need)."""
    data = (Path(__file__).parent.parent / "data" / "ops.pb").read_bytes()
    op_list = OpList()
    op_list.ParseFromString(data)
    return {op.name: op for op in op_list.op}


_MISSING = object()
# More outputs than this on one op (a number attr such as Split's num_split)
# is damage, not a graph: the op's outputs are then unknown rather than allocated.
MAX_OUTPUTS = 2**16


class OpRegistry:
    """Op definitions for one graph."""

    def __init__(self, stripped=None, functions=None):
        self._own = {op.name: op for op in stripped.op} if stripped is not None else {}
        self._functions = functions or {}
        self._output_specs: dict[str, tuple] = {}
        self._dtype_memo: dict[tuple, list | None] = {}

    def output_dtypes(self, node) -> list[str | None] | None:
        """Output dtypes of ``node`` (see :func:`output_dtypes`), memoised by op type and
        the values of the attrs they depend on: large graphs repeat a few signatures."""
        spec = self._output_specs.get(node.op)
        if spec is None:
            op_def = self.get(node.op)
            deps = []
            if op_def is not None:
                for arg in op_def.output_arg:
                    if arg.type_attr:
                        deps.append((arg.type_attr, "type"))
                    if arg.number_attr:
                        deps.append((arg.number_attr, "i"))
                    if arg.type_list_attr:
                        deps.append((arg.type_list_attr, "list"))
            spec = self._output_specs[node.op] = (op_def, tuple(deps))
        op_def, deps = spec
        if op_def is None:
            return None
        if not deps:  # fixed output types (NoOp, Shape's out_type aside, ...)
            key = (node.op,)
            types = self._dtype_memo.get(key, _MISSING)
            if types is _MISSING:
                types = self._dtype_memo[key] = output_dtypes(node, op_def)
            return types
        attr = node.attr
        if len(deps) == 1 and deps[0][1] == "type":  # the common case: one type attr ("T", "dtype")
            name = deps[0][0]
            key = (node.op, attr[name].type if name in attr else None)
            types = self._dtype_memo.get(key, _MISSING)
            if types is _MISSING:
                types = self._dtype_memo[key] = output_dtypes(node, op_def)
            return types
        key = [node.op]
        for name, field in deps:
            if name not in attr:
                key.append(None)
            elif field == "list":
                key.append(tuple(attr[name].list.type))
            else:
                key.append(getattr(attr[name], field))
        key = tuple(key)
        types = self._dtype_memo.get(key, _MISSING)
        if types is _MISSING:
            types = self._dtype_memo[key] = output_dtypes(node, op_def)
        return types

    def get(self, op_type: str) -> OpDef | None:
        op = self._own.get(op_type)
        if op is not None:
            return op
        function = self._functions.get(op_type)
        if function is not None:
            return function.signature
        return shipped().get(op_type)

    def attr_default(self, op_type: str, attr: str):
        op = self.get(op_type)
        if op is None:
            return None
        for a in op.attr:
            if a.name == attr and a.HasField("default_value"):
                return a.default_value
        return None


def _attr(node, op_def: OpDef, name: str):
    if name in node.attr:
        return node.attr[name]
    for a in op_def.attr:
        if a.name == name and a.HasField("default_value"):
            return a.default_value
    return None


def output_arg_sizes(node, op_def: OpDef) -> list[tuple[str, int]] | None:
    """``[(output_arg_name, count), ...]`` for a node, or None if an attr is missing."""
    sizes = []
    for arg in op_def.output_arg:
        if arg.number_attr:
            value = _attr(node, op_def, arg.number_attr)
            if value is None or not 0 <= value.i <= MAX_OUTPUTS:
                return None
            sizes.append((arg.name, int(value.i)))
        elif arg.type_list_attr:
            value = _attr(node, op_def, arg.type_list_attr)
            if value is None:
                return None
            sizes.append((arg.name, len(value.list.type)))
        else:
            sizes.append((arg.name, 1))
    return sizes


def input_arg_positions(node, op_def: OpDef) -> dict[str, tuple[int, int]] | None:
    """``{input_arg_name: (first position, count)}`` among a node's data inputs, or None if an attr is missing."""
    out, start = {}, 0
    for arg in op_def.input_arg:
        if arg.number_attr:
            value = _attr(node, op_def, arg.number_attr)
            if value is None or not 0 <= value.i <= MAX_OUTPUTS:
                return None
            count = int(value.i)
        elif arg.type_list_attr:
            value = _attr(node, op_def, arg.type_list_attr)
            if value is None:
                return None
            count = len(value.list.type)
        else:
            count = 1
        out[arg.name] = (start, count)
        start += count
    return out


def output_dtypes(node, op_def: OpDef | None) -> list[str | None] | None:
    """TensorFlow's name of each output's dtype; None when the op is unknown.

    Individual entries are None when an attr the type depends on is missing.
    """
    if op_def is None:
        return None
    result: list[str | None] = []
    for arg in op_def.output_arg:
        if arg.type_list_attr:
            value = _attr(node, op_def, arg.type_list_attr)
            if value is None:
                return None
            types = [dtypes.name(t) for t in value.list.type]
        else:
            if arg.type:
                one = dtypes.name(arg.type)
            elif arg.type_attr:
                value = _attr(node, op_def, arg.type_attr)
                one = dtypes.name(value.type) if value is not None else None
            else:
                one = None
            count = 1
            if arg.number_attr:
                value = _attr(node, op_def, arg.number_attr)
                if value is None or not 0 <= value.i <= MAX_OUTPUTS:
                    return None  # missing, or a damaged count no real op has: unknown
                count = int(value.i)
            types = [one] * count
        if arg.is_ref:
            types = [t + "_ref" if t and not t.endswith("_ref") else t for t in types]
        result.extend(types)
    return result
