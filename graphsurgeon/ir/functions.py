"""Function bodies as graphs: a FunctionDef turned into a GraphDef.

Inside a FunctionDef, inputs are written ``node:output_arg:index`` and
arguments by name; as a graph they become ``node:flat_index`` (the index
TensorFlow gives the tensor once the function is instantiated), arguments
become ``_Arg`` ops named after the argument and results ``_Retval`` ops
named ``<result>_RetVal``, as TensorFlow's own FunctionDefToBody does.
"""
from __future__ import annotations

from ..vocab import protos
from ..vocab.names import is_index, split_tensor_name
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


def _converter(function_def, registry: OpRegistry):
    """The function turning a FunctionDef input (``node:output_arg:index``, ``arg``) into graph form (``node:flat``)."""
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

    return convert


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

    convert = _converter(function_def, registry)
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


def write_body(graph_def, function_def, registry: OpRegistry, renamed: dict | None = None) -> None:
    """Write a body edited as a graph (:func:`function_to_graph_def`'s form) back into ``function_def``, in place.

    Body ops become ``node_def`` in the graph's order, their inputs spelled as
    a FunctionDef spells them (``node:output_arg:index``, an argument by its
    name); ``_Retval`` ops give ``ret``; control outputs follow ``renamed``
    ops and go with removed ones. The signature is kept: ``_Arg`` ops are the
    arguments it declares.
    """
    signature = function_def.signature
    args = {a.name for a in signature.input_arg}
    body = [n for n in graph_def.node if n.op not in ("_Arg", "_Retval")]
    nodes = {n.name: n for n in body}
    # How the FunctionDef spells what it reads now: the answer for op types nobody defines.
    convert = _converter(function_def, registry)
    known = {}
    for text in [t for n in function_def.node_def for t in n.input] + list(function_def.ret.values()):
        if not text.startswith("^"):
            known.setdefault(convert(text), text)

    def back(text: str) -> str:
        if text.startswith("^"):
            return text
        op, index = split_tensor_name(text)
        node = nodes.get(op)
        if node is None:
            return op if op in args and index == 0 else text
        op_def = registry.get(node.op)
        sizes = output_arg_sizes(node, op_def) if op_def is not None else None
        if sizes is not None:
            start = 0
            for name, count in sizes:
                if index < start + count:
                    return f"{op}:{name}:{index - start}"
                start += count
        return known.get(f"{op}:{index}", known.get(text, f"{op}:{index}"))

    del function_def.node_def[:]
    for node in body:
        out = function_def.node_def.add()
        out.CopyFrom(node)
        del out.input[:]
        out.input.extend(back(t) for t in node.input)
    results = {}
    for node in graph_def.node:
        if node.op == "_Retval" and len(node.input) and not node.input[0].startswith("^"):
            index = node.attr["index"].i
            if 0 <= index < len(signature.output_arg):
                results[signature.output_arg[index].name] = back(node.input[0])
    function_def.ret.clear()
    function_def.ret.update(results)
    renamed = renamed or {}
    for key, op in list(function_def.control_ret.items()):
        op = renamed.get(op, op)
        if op in nodes:
            function_def.control_ret[key] = op
        else:
            del function_def.control_ret[key]
            kept = [name for name in signature.control_output if name != key]
            del signature.control_output[:]
            signature.control_output.extend(kept)
