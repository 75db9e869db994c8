"""Function bodies as graphs: a FunctionDef turned into a GraphDef.

Inside a FunctionDef, inputs are written ``node:output_arg:index`` and
arguments by name; as a graph they become ``node:flat_index`` (the index
TensorFlow gives the tensor once the function is instantiated), arguments
become ``_Arg`` ops named after the argument and results ``_Retval`` ops
named ``<result>_RetVal``, as TensorFlow's own FunctionDefToBody does.
"""
from __future__ import annotations

from ..vocab import protos
from ..vocab.names import is_index
from ..vocab.opdefs import OpRegistry, output_arg_sizes

# Attributes whose values name library functions (call sites).
CALL_ATTRS = ("f", "then_branch", "else_branch", "cond", "body", "branches", "function")


def called_functions(node, library_names) -> list[tuple[str, str]]:
    """``[(attr or "op", function name), ...]`` that a node calls."""
    calls = []
    if node.op in library_names:
        calls.append(("op", node.op))
    for key, value in node.attr.items():
        kind = value.WhichOneof("value")
        if kind == "func" and value.func.name:
            calls.append((key, value.func.name))
        elif kind == "list" and len(value.list.func):
            calls.extend((key, f.name) for f in value.list.func if f.name)
    return calls


def _arg_dtype_attr(arg, function_def):
    value = protos.AttrValue()
    if arg.type:
        value.type = arg.type
    elif arg.type_attr and arg.type_attr in function_def.attr:
        value.CopyFrom(function_def.attr[arg.type_attr])
    return value


def function_to_graph_def(function_def, registry: OpRegistry) -> protos.GraphDef:
    """The body of ``function_def`` as a GraphDef (see module docstring)."""
    graph_def = protos.GraphDef()
    signature = function_def.signature
    for index, arg in enumerate(signature.input_arg):
        node = graph_def.node.add(name=arg.name, op="_Arg")
        node.attr["T"].CopyFrom(_arg_dtype_attr(arg, function_def))
        node.attr["index"].i = index
        arg_attrs = function_def.arg_attr.get(index)
        if arg_attrs is not None:
            for key, value in arg_attrs.attr.items():
                node.attr[key].CopyFrom(value)

    # Flat output offsets of each body node's output args.
    offsets: dict[str, dict[str, int]] = {}
    for node in function_def.node_def:
        op_def = registry.get(node.op)
        sizes = output_arg_sizes(node, op_def) if op_def is not None else None
        table, start = {}, 0
        for name, count in sizes or ():
            table[name] = start
            start += count
        offsets[node.name] = table

    def convert(text: str) -> str:
        if text.startswith("^"):
            return text
        parts = text.split(":")
        if len(parts) == 1:
            return f"{parts[0]}:0" if parts[0] in offsets else parts[0]
        if len(parts) != 3 or not is_index(parts[2]):
            # "node:index" (rare, but TensorFlow accepts it), or damaged: kept as written.
            return text
        node, arg, index = parts[0], parts[1], int(parts[2])
        base = offsets.get(node, {}).get(arg)
        # Unknown op types: the output arg cannot be resolved; keep its own index.
        return f"{node}:{(base if base is not None else 0) + index}"

    for body_node in function_def.node_def:
        node = graph_def.node.add()
        node.CopyFrom(body_node)
        del node.input[:]
        node.input.extend(convert(i) for i in body_node.input)

    taken = {n.name for n in graph_def.node}
    for index, arg in enumerate(signature.output_arg):
        name = arg.name + "_RetVal"
        while name in taken:
            name += "_"
        taken.add(name)
        node = graph_def.node.add(name=name, op="_Retval")
        source = function_def.ret.get(arg.name)
        if source:
            node.input.append(convert(source))
        node.attr["T"].CopyFrom(_arg_dtype_attr(arg, function_def))
        node.attr["index"].i = index
    return graph_def
