"""Freeze: bake a checkpoint's values into the graph, keeping only what the outputs need.

The result is a plain GraphDef that computes the outputs with no variable,
no saver, no training machinery and, when the predicates become constant,
no control flow:

1. **Prune** to the outputs (:func:`graphsurgeon.surgery.prune.prune`):
   savers, initializers, gradients and optimizers go, as nothing the
   outputs need reads them.
2. **Pin switches**: a scalar ``PlaceholderWithDefault`` (``training``)
   takes its default; ``set_values`` pins any placeholder to a value.
3. **Inline functions**: ``StatefulPartitionedCall`` / ``PartitionedCall``
   (and direct calls of library functions) are replaced by the function's
   body, its nodes renamed under the call's name, ``_Arg`` mapped to the
   call's inputs and ``_Retval`` to its outputs. A functional ``If`` /
   ``StatelessIf`` (or ``Case``) whose predicate is now constant is replaced
   by the taken branch in the same way.
4. **Resolve TF1 conds**: a ``Switch`` whose predicate is constant passes
   its data to the live side; what the dead side feeds is dead (deadness
   flows through data and control edges and stops at a ``Merge`` that has a
   live input), and each ``Merge`` becomes its one live input.
5. **Variables become constants**: each variable the outputs read (ref
   variables ``VariableV2``/``Variable`` and their ``read`` Identity;
   resource variables ``VarHandleOp`` and every ``ReadVariableOp`` of them)
   becomes one ``Const`` named after the variable, holding the checkpoint's
   value. Only those tensors are read from the checkpoint.
6. **Tidy**: what no output reaches any more goes; control edges from
   constants (cond pivots) go; colocations naming removed ops go; library
   functions nobody calls go.

Checkpoint keys come from the graph's own saver (which variable each
``RestoreV2`` output is assigned to, also inside a TF2 SavedModel's restore
function), falling back on the variable's name.

Example:
    >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_tf1")
    >>> frozen, changes = graphsurgeon.freeze(g, outputs=["logits:0"])
    >>> sorted({op.type for op in frozen} & {"VariableV2", "Switch", "Merge"})
    []
"""
from __future__ import annotations

from collections.abc import Iterable

from .. import dtypes as _dtypes
from .. import names as _names
from .. import protos
from ..changes import Changes
from ..errors import FormatError, NotFoundError, RewriteError, UsageError
from ..graph import Graph
from ..vocabulary import CALL_OPS, CASE_OPS, IF_OPS, MERGE_OPS, PASS_THROUGH, REF_VARIABLE_TYPES, SWITCH_OPS
from ..wording import plural

# What may read a variable in a frozen graph: reading it (the rest writes it).
_READ_ONLY_REF_CONSUMERS = set(PASS_THROUGH) | {"Switch", "RefSwitch"}


def _tensor_key(text: str) -> tuple[str, int]:
    return _names.split_tensor_name(text)


def _text(op: str, index: int) -> str:
    return op if index == 0 else f"{op}:{index}"


class _Work:
    """The graph being frozen: nodes by name plus tensor aliases, resolved at the end.

    Rewiring every consumer on each edit would cost a scan per edit; an alias
    ``(op, index) -> (op, index)`` says "whoever reads this reads that" and
    is applied once, when the result is assembled.
    """

    def __init__(self, nodes):
        self.nodes: dict = {n.name: n for n in nodes}
        self.alias: dict[tuple[str, int], tuple[str, int]] = {}
        self.const_cache: dict = {}
        # Frozen variables' checkpoint bytes, kept out of their Const nodes until the result is
        # assembled: each value is then copied into a protocol buffer once, not three times.
        self.blobs: dict[str, tuple[object, bytes]] = {}  # name -> (the Const node, tensor_content)

    def resolve(self, op: str, index: int) -> tuple[str, int]:
        seen = 0
        key = (op, index)
        while key in self.alias:
            key = self.alias[key]
            seen += 1
            if seen > 100000:
                raise RewriteError(f"alias cycle at {op}:{index} (please report this)")
        return key

    def unique(self, name: str) -> str:
        return _names.unique_name(name, self.nodes)

    def constant(self, op: str, index: int = 0):
        """The value of a tensor when it is a constant (through pass-through ops), else None."""
        import numpy as np

        from ..values import to_numpy

        chain = []
        key = self.resolve(op, index)
        value = None
        while True:
            if key in self.const_cache:
                value = self.const_cache[key]
                break
            node = self.nodes.get(key[0])
            if node is None:
                break
            chain.append(key)
            if node.op == "Const" and key[1] == 0:
                blob = self.blobs.get(key[0])
                if blob is not None and blob[0] is node:
                    value = _blob_array(node, blob[1])
                    break
                try:
                    value = to_numpy(node.attr["value"].tensor, where=node.name)
                except FormatError:
                    value = None
                break
            data = [i for i in node.input if not i.startswith("^")]
            if node.op in PASS_THROUGH and data:
                key = self.resolve(*_tensor_key(data[0]))
                continue
            if node.op == "LogicalNot" and data:
                inner = self.constant(*_tensor_key(data[0]))
                value = None if inner is None else np.logical_not(inner)
            break
        for k in chain:
            self.const_cache[k] = value
        return value


def _blob_array(node, blob: bytes):
    """A read-only numpy view of a frozen variable's checkpoint bytes (no copy)."""
    import numpy as np

    from ..formats.bundle import _numpy_dtype

    tensor = node.attr["value"].tensor
    shape = tuple(int(d.size) for d in tensor.tensor_shape.dim)
    return np.frombuffer(blob, dtype=_numpy_dtype(_dtypes.name(tensor.dtype))).reshape(shape)


def _const_node(name: str, array_or_proto, dtype: str, device: str = ""):
    node = protos.NodeDef(name=name, op="Const", device=device)
    node.attr["dtype"].type = _dtypes.number(dtype)
    node.attr["value"].tensor.CopyFrom(array_or_proto)
    return node


def _scalar_tensor_proto(value, dtype: str):
    import numpy as np

    from ..values import from_numpy

    np_name = _dtypes.NUMPY.get(dtype)
    array = np.array(value, dtype=np_name) if np_name else np.array(value, dtype=object)
    return from_numpy(array)


# --------------------------------------------------------------------------- outputs and values
def signature_outputs(g: Graph, signature: str | None) -> tuple[list[str], dict]:
    """The output tensor names of a SignatureDef (``serving_default`` unless told)."""
    signatures = g.signatures
    if not signatures:
        raise UsageError(f"{g.path or 'graph'}: has no signatures; name the outputs with --outputs")
    key = signature or "serving_default"
    if key not in signatures:
        raise NotFoundError("signature", key, signatures.keys(), where=str(g.path or "graph"))
    sig = signatures[key]
    outs = [info["name"] for info in sig["outputs"].values() if info["name"]]
    if not outs:
        raise UsageError(f"signature {key!r} has no outputs")
    return outs, sig


def parse_set_values(g: Graph, items: Iterable[str]) -> dict[str, object]:
    """``["training=true", "rate=0.5"]`` -> ``{"training": True, "rate": 0.5}``, typed by the placeholder."""
    out = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--set {item!r}: expected NAME=VALUE")
        op = g.op(_names.split_tensor_name(name)[0])
        if op.type not in ("Placeholder", "PlaceholderWithDefault"):
            raise UsageError(f"--set {name}: {op.name} is a {op.type}, not a placeholder")
        dtype = _dtypes.base(op.outputs[0].dtype) if op.outputs else None
        text = text.strip()
        try:
            if dtype == "bool":
                lowered = text.lower()
                if lowered not in ("true", "false", "1", "0"):
                    raise ValueError(text)
                value = lowered in ("true", "1")
            elif dtype and dtype.startswith(("int", "uint")):
                value = int(text)
            elif dtype and dtype.startswith(("float", "bfloat", "half")):
                value = float(text)
            elif dtype == "string":
                value = text.encode()
            else:
                raise UsageError(f"--set {name}: cannot set a placeholder of dtype {dtype}")
        except ValueError:
            raise UsageError(f"--set {name}={text}: not a {dtype} value") from None
        out[op.name] = value
    return out


# --------------------------------------------------------------------------- checkpoint keys
def _const_strings(graph: Graph, text: str) -> list[str] | None:
    from ..values import to_numpy

    op, _ = _tensor_key(text)
    node = graph.node_defs.get(op)
    hops = 0
    while node is not None and node.op in PASS_THROUGH and node.input and hops < 50:
        node = graph.node_defs.get(_tensor_key(node.input[0])[0])
        hops += 1
    if node is None or node.op != "Const":
        return None
    try:
        values = to_numpy(node.attr["value"].tensor, where=node.name)
    except FormatError:
        return None
    return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values.ravel()]


def _trace_back(graph: Graph, text: str) -> str:
    """The op a tensor comes from, through pass-through ops (a resource handle's VarHandleOp or _Arg)."""
    op, _ = _tensor_key(text)
    for _ in range(1000):
        node = graph.node_defs.get(op)
        if node is None or node.op not in PASS_THROUGH or not node.input:
            return op
        op = _tensor_key(node.input[0])[0]
    return op


def _restore_targets(graph: Graph) -> dict[str, str]:
    """``{variable or handle op in graph: checkpoint key}`` from the restore ops of one graph."""
    consumers = graph.uses
    out = {}
    for node in graph.graph_def.node:
        if node.op in ("RestoreV2",):
            keys = _const_strings(graph, node.input[1]) if len(node.input) > 1 else None
        elif node.op in ("Restore", "RestoreSlice"):
            keys = _const_strings(graph, node.input[1]) if len(node.input) > 1 else None
        else:
            continue
        if not keys:
            continue
        for index, key in enumerate(keys):
            # Follow the restored tensor through Identities to the op that assigns it.
            stack = [(node.name, index)]
            seen = set()
            while stack:
                op, port = stack.pop()
                if (op, port) in seen:
                    continue
                seen.add((op, port))
                for consumer, position, out_index in consumers(op):
                    if out_index != port:
                        continue
                    cnode = graph.node_defs[consumer]
                    if cnode.op in PASS_THROUGH:
                        stack.append((consumer, 0))
                    elif cnode.op in ("Assign", "AssignVariableOp") and position == 1:
                        out[_trace_back(graph, cnode.input[0])] = key
    return out


def checkpoint_keys(g: Graph) -> dict[str, str]:
    """Which checkpoint key holds each variable, as the graph's own saver says.

    Looks at the top-level restore ops (TF1 savers) and inside the functions
    called at the top level (a TF2 SavedModel's restore function, whose
    ``_Arg`` handles map to the call's inputs).
    """
    out = _restore_targets(g)
    for node in g.graph_def.node:
        for _, fname in called_functions_of(g, node):
            try:
                body = g.function(fname)
            except NotFoundError:
                continue
            if not any(n.op in ("RestoreV2", "Restore", "RestoreSlice") for n in body.graph_def.node):
                continue
            args = [n for n in body.graph_def.node if n.op == "_Arg"]
            arg_index = {n.name: n.attr["index"].i for n in args}
            data_inputs = [i for i in node.input if not i.startswith("^")]
            for target, key in _restore_targets(body).items():
                if target in arg_index and arg_index[target] < len(data_inputs):
                    out.setdefault(_trace_back(g, data_inputs[arg_index[target]]), key)
    return out


def called_functions_of(g: Graph, node) -> list[tuple[str, str]]:
    from ..functions import called_functions

    return called_functions(node, g.library_names)


# --------------------------------------------------------------------------- inlining
def _substitute_placeholders(node, call, where: str) -> None:
    """Replace ``attr { placeholder: "T" }`` in a body node by the call's value of ``T``."""
    func_attrs = call.attr["f"].func.attr if "f" in call.attr else {}
    for key, value in list(node.attr.items()):
        if value.WhichOneof("value") == "placeholder":
            ph = value.placeholder
            if ph in func_attrs:
                node.attr[key].CopyFrom(func_attrs[ph])
            elif ph in call.attr:
                node.attr[key].CopyFrom(call.attr[ph])
            else:
                raise RewriteError(f"cannot inline {where}: attribute {key} of {node.name} is the "
                                   f"function parameter {ph!r}, which the call does not set")


def _inline(work: _Work, g: Graph, call, fname: str, args: list[str], changes: Changes) -> None:
    """Replace ``call`` by the body of ``fname``; ``args[i]`` feeds the body's ``_Arg`` i."""
    body = g.function(fname)
    prefix = call.name + "/"
    arg_of: dict[str, str] = {}
    retvals: dict[int, str] = {}
    rename: dict[str, str] = {}
    for node in body.graph_def.node:
        if node.op == "_Arg":
            index = node.attr["index"].i
            if index >= len(args):
                raise RewriteError(f"cannot inline {fname} into {call.name}: it takes more "
                                   f"arguments than the call gives ({len(args)})")
            arg_of[node.name] = args[index]
        elif node.op == "_Retval":
            if node.input:
                retvals[node.attr["index"].i] = node.input[0]
        else:
            rename[node.name] = work.unique(prefix + node.name)
            work.nodes[rename[node.name]] = None  # reserve the name

    def data_text(text: str) -> str:
        op, index = _tensor_key(text)
        if op in arg_of:
            return arg_of[op]
        return _text(rename.get(op, op), index)

    def control_text(op: str) -> str | None:
        if op in arg_of:
            return "^" + _tensor_key(arg_of[op])[0]
        return "^" + rename.get(op, op)

    call_controls = [i for i in call.input if i.startswith("^")]
    for node in body.graph_def.node:
        if node.op in ("_Arg", "_Retval"):
            continue
        new = protos.NodeDef()
        new.CopyFrom(node)
        new.name = rename[node.name]
        del new.input[:]
        has_data = False
        for text in node.input:
            if text.startswith("^"):
                ref = control_text(text[1:])
                if ref:
                    new.input.append(ref)
            else:
                has_data = True
                new.input.append(data_text(text))
        if not has_data:
            # The call's control inputs must still hold for what starts the body.
            new.input.extend(call_controls)
        if "_class" in new.attr:
            locs = [s for s in new.attr["_class"].list.s]
            fixed = []
            for s in locs:
                target = _names.colocation_op(s)
                fixed.append(f"loc:@{rename.get(target, target)}".encode() if target else s)
            del new.attr["_class"].list.s[:]
            new.attr["_class"].list.s.extend(fixed)
        if not new.device and call.device:
            new.device = call.device
        _substitute_placeholders(new, call, f"{fname} into {call.name}")
        work.nodes[new.name] = new
        changes.added.append(new.name)
    for index, source in retvals.items():
        work.alias[(call.name, index)] = _tensor_key(data_text(source))
    # Ops ordered after the call (``^call``) are now ordered after its results.
    del work.nodes[call.name]
    work.inlined[call.name] = sorted({_tensor_key(data_text(s))[0] for s in retvals.values()})
    changes.notes.append(f"inlined {fname} into {call.name}")


def _inline_all(work: _Work, g: Graph, changes: Changes) -> None:
    library = g.library_names
    rounds = 0
    while True:
        rounds += 1
        if rounds > 1000:
            raise RewriteError("function inlining does not terminate (recursive functions?)")
        todo = []
        for name, node in list(work.nodes.items()):
            if node is None:
                continue
            data = [i for i in node.input if not i.startswith("^")]
            if node.op in CALL_OPS:
                todo.append((node, node.attr["f"].func.name, data))
            elif node.op in library:
                todo.append((node, node.op, data))
            elif node.op in IF_OPS and data:
                pred = work.constant(*_tensor_key(data[0]))
                if pred is not None and getattr(pred, "size", 1) == 1:
                    taken = bool(pred.reshape(()) if hasattr(pred, "reshape") else pred)
                    branch = node.attr["then_branch" if taken else "else_branch"].func.name
                    changes.notes.append(f"{node.name}: predicate is {taken}, took {branch}")
                    todo.append((node, branch, data[1:]))
            elif node.op in CASE_OPS and data:
                index = work.constant(*_tensor_key(data[0]))
                if index is not None and getattr(index, "size", 1) == 1:
                    branches = list(node.attr["branches"].list.func)
                    i = int(index.reshape(()))
                    i = i if 0 <= i < len(branches) else len(branches) - 1  # out of range: the last
                    changes.notes.append(f"{node.name}: branch index is {i}, took {branches[i].name}")
                    todo.append((node, branches[i].name, data[1:]))
        if not todo:
            return
        for node, fname, args in todo:
            _inline(work, g, node, fname, args, changes)


# --------------------------------------------------------------------------- TF1 conds
def _consumers(work: _Work) -> dict[str, list[tuple[str, int]]]:
    """op -> [(consumer, output index or -1 for control)], inputs resolved through aliases."""
    index: dict[str, list] = {}
    for node in work.nodes.values():
        if node is None:
            continue
        for text in node.input:
            if text.startswith("^"):
                index.setdefault(text[1:], []).append((node.name, -1))
            else:
                op, i = work.resolve(*_tensor_key(text))
                index.setdefault(op, []).append((node.name, i))
    return index


def _resolve_conds(work: _Work, changes: Changes) -> None:
    dead_ops: set[str] = set()
    dead_ports: set[tuple[str, int]] = set()
    stack: list[tuple[str, int]] = []  # (op, port) newly dead; port -1 = the whole op
    resolved = 0
    for node in list(work.nodes.values()):
        if node is None or node.op not in SWITCH_OPS or len(node.input) < 2 or node.name in work.switched:
            continue
        pred = work.constant(*_tensor_key(node.input[1]))
        if pred is None or getattr(pred, "size", 1) != 1:
            continue
        live = 1 if bool(pred.reshape(())) else 0
        dead_ports.add((node.name, 1 - live))
        stack.append((node.name, 1 - live))
        work.alias[(node.name, live)] = work.resolve(*_tensor_key(node.input[0]))
        work.switched.add(node.name)
        work.replaced.add(node.name)
        resolved += 1
    if not resolved:
        return
    consumers = _consumers(work)
    merge_dead: dict[str, int] = {}
    while stack:
        op, port = stack.pop()
        for consumer, index in consumers.get(op, ()):
            if consumer in dead_ops:
                continue
            if port >= 0 and index >= 0 and index != port:
                continue  # reads a live output of a half-dead Switch
            if port >= 0 and index < 0:
                continue  # a control edge from a Switch that is only half dead
            cnode = work.nodes[consumer]
            if cnode.op in MERGE_OPS:
                merge_dead[consumer] = merge_dead.get(consumer, 0) + 1
                data = [i for i in cnode.input if not i.startswith("^")]
                if merge_dead[consumer] < len(data):
                    continue
            dead_ops.add(consumer)
            stack.append((consumer, -1))
    for name in merge_dead:
        if name in dead_ops:
            continue
        node = work.nodes[name]
        data = [i for i in node.input if not i.startswith("^")]
        live = []
        for position, text in enumerate(data):
            op, i = work.resolve(*_tensor_key(text))
            if op not in dead_ops and (op, i) not in dead_ports:
                live.append((position, (op, i)))
        if len(live) == 1:
            position, source = live[0]
            work.alias[(name, 0)] = source
            index_name = work.unique(f"{name}/value_index")
            work.nodes[index_name] = _const_node(index_name, _scalar_tensor_proto(position, "int32"), "int32",
                                                 node.device)
            work.alias[(name, 1)] = (index_name, 0)
            work.replaced.add(name)
    for name in dead_ops:
        work.dead.add(name)
    changes.notes.append(f"resolved {plural(resolved, 'Switch op')} with a constant predicate; "
                         f"{plural(dead_ops, 'op')} on dead branches dropped")


def _control_targets(work: _Work, target: str, memo: dict) -> list[str]:
    """What a control edge to ``target`` still has to wait for.

    Nothing, when the op was replaced by a constant or an alias (a frozen
    read, a pinned placeholder, a resolved Switch/Merge) or is a constant;
    the results of an inlined call stand for the call; a NoOp that waits
    for nothing is nothing.
    """
    if target in memo:
        return memo[target]
    memo[target] = []  # cycle guard (TF1 loops): a cycle adds nothing
    if target in work.inlined:
        out = []
        for t in work.inlined[target]:
            out.extend(_control_targets(work, t, memo))
    elif target in work.replaced or target not in work.nodes or _is_constant_op(work, target):
        out = []
    else:
        node = work.nodes[target]
        if node.op == "NoOp":
            waits = []
            for text in node.input:
                waits.extend(_control_targets(work, text.lstrip("^"), memo) if text.startswith("^")
                             else [work.resolve(*_tensor_key(text))[0]])
            out = [target] if waits else []
        else:
            out = [target]
    memo[target] = list(dict.fromkeys(out))
    return memo[target]


# --------------------------------------------------------------------------- variables
def _live(work: _Work, outputs: list[tuple[str, int]], named: list[str]) -> list[str]:
    """Ops reached from the outputs through resolved data, control and colocation edges, in order."""
    seen: set[str] = set()
    memo: dict = {}
    stack = [op for op, _ in (work.resolve(*o) for o in outputs)] + list(named)
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        node = work.nodes.get(op)
        if node is None:
            continue
        seen.add(op)
        for text in node.input:
            if text.startswith("^"):
                stack.extend(_control_targets(work, text[1:], memo))
            else:
                stack.append(work.resolve(*_tensor_key(text))[0])
        if "_class" in node.attr:
            for s in node.attr["_class"].list.s:
                target = _names.colocation_op(s)
                if target and target in work.nodes and work.nodes[target] is not None:
                    stack.append(target)
    return [name for name in work.nodes if name in seen]


def _handle_source(work: _Work, text: str) -> str:
    op, index = work.resolve(*_tensor_key(text))
    for _ in range(1000):
        node = work.nodes.get(op)
        if node is None or node.op not in PASS_THROUGH:
            return op
        op, index = work.resolve(*_tensor_key(node.input[0]))
    return op


def _freeze_variables(work: _Work, g: Graph, live: list[str], checkpoint: str | None, keys: dict,
                      requested: set[str], changes: Changes) -> None:
    from ..formats.bundle import open_checkpoint

    live_set = set(live)
    wanted: dict[str, str] = {}  # variable op -> kind
    for name in live:
        node = work.nodes[name]
        if node.op in REF_VARIABLE_TYPES:
            wanted[name] = "ref"
        elif node.op == "VarHandleOp":
            wanted[name] = "resource"
    reads: dict[str, list[str]] = {}
    for name in live:
        node = work.nodes[name]
        data = [i for i in node.input if not i.startswith("^")]
        if node.op == "ReadVariableOp":
            source = _handle_source(work, data[0])
            snode = work.nodes.get(source)
            if snode is None or snode.op != "VarHandleOp":
                kind = snode.op if snode is not None else "nothing"
                raise RewriteError(f"cannot freeze {name}: it reads a resource from {source} ({kind}), "
                                   "not from a VarHandleOp")
            reads.setdefault(source, []).append(name)
            wanted[source] = "resource"
            continue
        for position, text in enumerate(data):
            source = work.resolve(*_tensor_key(text))[0]
            snode = work.nodes.get(source)
            if snode is None:
                continue
            if snode.op in REF_VARIABLE_TYPES and node.op not in _READ_ONLY_REF_CONSUMERS \
                    and _writes_input(g, node, position):
                raise RewriteError(f"cannot freeze: the outputs need {name} ({node.op}), which writes "
                                   f"variable {source}", hint="choose outputs that only read variables")
            if snode.op == "VarHandleOp" and node.op not in PASS_THROUGH and node.op != "ReadVariableOp":
                raise RewriteError(f"cannot freeze: the outputs need {name} ({node.op}), which uses "
                                   f"resource variable {source} other than by reading it")
    if not wanted:
        return
    if checkpoint is None:
        raise RewriteError(f"the outputs read {plural(wanted, 'variable')} (e.g. {next(iter(wanted))}) "
                           "but there is no checkpoint", hint="give --checkpoint PREFIX")
    reader = open_checkpoint(checkpoint)
    total = 0
    try:
        for var in wanted:
            node = work.nodes[var]
            key = keys.get(var) or (node.attr["shared_name"].s.decode() if node.op == "VarHandleOp"
                                    and node.attr["shared_name"].s else var)
            if key not in reader:
                if var in reader:
                    key = var
                else:
                    raise NotFoundError("variable", key, reader.keys(), where=f"checkpoint {checkpoint}")
            dtype = _dtypes.base(_dtypes.name(node.attr["dtype"].type)) if "dtype" in node.attr else None
            if dtype and reader.dtype(key) != dtype:
                raise RewriteError(f"checkpoint {checkpoint} does not match the graph: {key} is "
                                   f"{reader.dtype(key)}, variable {var} is {dtype}")
            shape = reader.shape(key)
            if "shape" in node.attr and not node.attr["shape"].shape.unknown_rank:
                dims = [d.size for d in node.attr["shape"].shape.dim]
                if len(dims) != len(shape) or any(d >= 0 and d != s for d, s in zip(dims, shape)):
                    raise RewriteError(f"checkpoint {checkpoint} does not match the graph: {key} has "
                                       f"shape {list(shape)}, variable {var} has {dims}")
            tensor, blob = _tensor_proto(reader, key)
            total += len(blob) if blob is not None else (len(tensor.tensor_content) or tensor.ByteSize())
            const = _const_node(var, tensor, reader.dtype(key), node.device)
            if "_class" in node.attr:
                const.attr["_class"].CopyFrom(node.attr["_class"])
            if blob:
                work.blobs[var] = (const, blob)
            work.nodes[var] = const
            work.frozen.append(var)
            for read in reads.get(var, ()):
                if read not in requested:
                    work.alias[(read, 0)] = (var, 0)
                    work.replaced.add(read)
    finally:
        reader.close()
    # A ref variable's ``read`` Identity now only copies a constant.
    for name in live:
        node = work.nodes[name]
        if node.op == "Identity" and name not in requested and node.input:
            source = work.resolve(*_tensor_key(node.input[0]))
            if source[0] in wanted and wanted[source[0]] == "ref":
                work.alias[(name, 0)] = source
                work.replaced.add(name)
    changes.changed.extend(work.frozen)
    changes.notes.append(f"{plural(work.frozen, 'variable')} turned into constants ({plural(total, 'byte')} read "
                         f"from {checkpoint})")
    del live_set


def _writes_input(g: Graph, node, position: int) -> bool:
    """Whether ``node`` takes its input ``position`` as a ref it may write (Assign, Apply*, ...)."""
    op_def = g.registry.get(node.op)
    if op_def is None:
        return True
    index = 0
    for arg in op_def.input_arg:
        count = 1
        if arg.number_attr:
            count = node.attr[arg.number_attr].i if arg.number_attr in node.attr else 1
        elif arg.type_list_attr:
            count = len(node.attr[arg.type_list_attr].list.type) if arg.type_list_attr in node.attr else 1
        if index <= position < index + count:
            return bool(arg.is_ref)
        index += count
    return False


def _tensor_proto(reader, key: str):
    """``(TensorProto, raw bytes or None)``: numeric V2 tensors come as a header plus their bytes.

    The bytes are the Const's ``tensor_content``, set when the result is
    assembled (see ``_Work.blobs``).
    """
    from ..formats.bundle import BundleReader
    from ..values import from_numpy

    if isinstance(reader, BundleReader) and reader.dtype(key) != "string":
        dtype, shape, raw = reader.read_raw(key)
        proto = protos.TensorProto(dtype=_dtypes.number(dtype))
        for d in shape:
            proto.tensor_shape.dim.add(size=d)
        return proto, raw
    import numpy as np

    value = reader.read(key)
    if isinstance(value, bytes):
        value = np.array(value, dtype=object)
    proto = from_numpy(np.asarray(value))
    proto.dtype = _dtypes.number(reader.dtype(key))
    return proto, None


# --------------------------------------------------------------------------- assembling
def _is_constant_op(work: _Work, op: str) -> bool:
    node = work.nodes.get(op)
    if node is None:
        return False
    if node.op == "Const":
        return True
    return node.op in PASS_THROUGH and work.constant(op, 0) is not None


def _assemble(work: _Work, g: Graph, outputs: list[tuple[str, int]], named: list[str],
              changes: Changes) -> protos.GraphDef:
    # Requested outputs whose op went away (an inlined call): an IdentityN of the
    # same name keeps every output tensor name valid.
    for op in dict.fromkeys(o for o, _ in outputs):
        if work.nodes.get(op) is not None:
            continue
        count = g.num_outputs(op) if op in g.node_defs else 1
        sources = [work.resolve(op, i) for i in range(count)]
        types = g.output_dtypes(op) if op in g.node_defs else None
        node = protos.NodeDef(name=op, op="IdentityN" if count != 1 else "Identity")
        node.input.extend(_text(*s) for s in sources)
        if count != 1:
            node.attr["T"].list.type.extend(_dtypes.number(_dtypes.base(t)) for t in types or [])
        else:
            node.attr["T"].type = _dtypes.number(_dtypes.base(types[0])) if types else 1
        for i in range(count):
            work.alias.pop((op, i), None)
        work.nodes[op] = node
        changes.notes.append(f"{op}: kept as {node.op} of its inlined results so its tensor names stay valid")
    live = _live(work, outputs, named)
    live_set = set(live)
    memo: dict = {}
    work.const_cache.clear()  # its views of work.blobs would keep each blob alive after its copy below
    out = protos.GraphDef()
    out.versions.CopyFrom(g.graph_def.versions)
    for name in live:
        node = work.nodes[name]
        new = out.node.add()
        new.CopyFrom(node)
        blob = work.blobs.pop(name, None)
        if blob is not None and blob[0] is node:
            new.attr["value"].tensor.tensor_content = blob[1]
        del blob  # the last reference: the bytes go as soon as they are in the result
        del new.input[:]
        controls = []
        for text in node.input:
            if text.startswith("^"):
                for t in _control_targets(work, text[1:], memo):
                    if t in live_set and t not in controls:
                        controls.append(t)
            else:
                new.input.append(_text(*work.resolve(*_tensor_key(text))))
        new.input.extend("^" + c for c in controls)
        if "_class" in new.attr:
            keep = [s for s in new.attr["_class"].list.s
                    if not _names.colocation_op(s) or _names.colocation_op(s) in live_set]
            if keep:
                del new.attr["_class"].list.s[:]
                new.attr["_class"].list.s.extend(keep)
            else:
                del new.attr["_class"]
    # Library: only the functions still called (transitively).
    from ..functions import called_functions

    library = {f.signature.name: f for f in g.graph_def.library.function}
    needed, stack = set(), [f for n in out.node for _, f in called_functions(n, library)]
    while stack:
        fname = stack.pop()
        if fname in needed or fname not in library:
            continue
        needed.add(fname)
        for body_node in library[fname].node_def:
            stack.extend(f for _, f in called_functions(body_node, library))
    for f in g.graph_def.library.function:
        if f.signature.name in needed:
            out.library.function.add().CopyFrom(f)
    for grad in g.graph_def.library.gradient:
        if grad.function_name in needed and grad.gradient_func in needed:
            out.library.gradient.add().CopyFrom(grad)
    return out


# --------------------------------------------------------------------------- the rewrite
def freeze(g: Graph, checkpoint: str | None = None, outputs: str | Iterable[str] | None = None,
           set_values: dict | None = None, signature: str | None = None) -> tuple[Graph, Changes]:
    """Bake the checkpoint's values into the graph, keeping only what ``outputs`` need.

    Args:
        g: a loaded graph (meta graph, SavedModel or GraphDef); not modified.
        checkpoint: checkpoint prefix; default the one that came with the model.
        outputs: tensor names; default the outputs of the SavedModel/meta
            graph signature ``signature`` (``serving_default``).
        set_values: ``{placeholder name: value}`` to pin placeholders to
            (see :func:`parse_set_values`); scalar ``PlaceholderWithDefault``
            switches not named here take their default.
        signature: which SignatureDef gives the default outputs.

    Returns:
        ``(frozen graph, Changes)``: a Graph over a plain GraphDef; Changes
        lists what was removed, added (inlined nodes), changed (variables
        now constants) and notes on each step.

    Raises:
        NotFoundError: an output, signature or checkpoint variable does not exist.
        RewriteError: the checkpoint does not match the graph, there is no
            checkpoint, or an output needs an op that writes a variable.
        FormatError: the checkpoint is missing or damaged.

    Example:
        >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_savedmodel_tf2")
        >>> frozen, changes = graphsurgeon.freeze(g)      # serving_default's outputs
        >>> frozen.op("StatefulPartitionedCall").type
        'IdentityN'
    """
    from .prune import prune

    if g.root is not g:
        raise UsageError("freeze the top-level graph, not a function body")
    if outputs is None:
        outputs, _ = signature_outputs(g, signature)
    elif isinstance(outputs, str):
        outputs = [outputs]
    resolved = []
    for name in outputs:
        item = g.get(name.strip())  # NotFoundError with the closest names
        if _names.is_tensor_name(item.name):
            resolved.append(item.name)
        else:  # an op: all of its outputs (an op without outputs is kept by name)
            count = g.num_outputs(item.name)
            resolved.extend([f"{item.name}:{i}" for i in range(count)] or [item.name])
    if not resolved:
        raise UsageError("freeze needs at least one output")
    tensors = [_tensor_key(n) for n in resolved if _names.is_tensor_name(n)]
    named = [n for n in resolved if not _names.is_tensor_name(n)]
    if checkpoint is None and g.model is not None:
        checkpoint = g.model.checkpoint
    set_values = dict(set_values or {})
    signature_inputs = set()
    for sig in g.signatures.values():
        signature_inputs.update(_tensor_key(i["name"])[0] for i in sig["inputs"].values() if i["name"])

    changes = Changes()
    keys = checkpoint_keys(g)
    pruned, _ = prune(g, resolved)
    work = _Work(pruned.graph_def.node)
    work.inlined: dict[str, list[str]] = {}
    work.dead: set[str] = set()
    work.frozen: list[str] = []
    work.replaced: set[str] = set()
    work.switched: set[str] = set()

    # Pin switches.
    for name in list(set_values):
        if name not in work.nodes:
            changes.notes.append(f"--set {name}: the outputs do not need it")
    for name, node in list(work.nodes.items()):
        if node.op not in ("Placeholder", "PlaceholderWithDefault"):
            continue
        dtype = _dtypes.base(_dtypes.name(node.attr["dtype"].type))
        if name in set_values:
            work.nodes[name] = _const_node(name, _scalar_tensor_proto(set_values[name], dtype), dtype, node.device)
            changes.changed.append(name)
            changes.notes.append(f"pinned {name} to {set_values[name]!r}")
        elif node.op == "PlaceholderWithDefault" and name not in signature_inputs \
                and len(node.attr["shape"].shape.dim) == 0 and not node.attr["shape"].shape.unknown_rank:
            work.alias[(name, 0)] = _tensor_key(node.input[0])
            work.replaced.add(name)
            default = work.constant(name)
            changes.notes.append(f"pinned {name} to its default"
                                 + (f" ({default.item()!r})" if default is not None else ""))

    _inline_all(work, g, changes)
    work.nodes = {k: v for k, v in work.nodes.items() if v is not None}
    _resolve_conds(work, changes)
    requested = {op for op, _ in tensors} | set(named)
    live = _live(work, tensors, named)
    _freeze_variables(work, g, live, checkpoint, keys, requested, changes)
    # Freezing may make predicates constant (a cond on a variable's value): one more round.
    _inline_all(work, g, changes)
    work.nodes = {k: v for k, v in work.nodes.items() if v is not None}
    _resolve_conds(work, changes)
    graph_def = _assemble(work, g, tensors, named, changes)
    result = Graph(graph_def)
    kept = set(result.node_defs)
    original = set(g.node_defs)
    changes.removed = [n.name for n in g.graph_def.node if n.name not in kept]
    changes.added = [n for n in dict.fromkeys(changes.added) if n in kept and n not in original]
    changes.changed = [n for n in dict.fromkeys(changes.changed) if n in kept]
    remaining = sorted({n.op for n in graph_def.node} & {"If", "StatelessIf", "Switch", "Merge", "VariableV2",
                                                          "VarHandleOp", "Variable"})
    if remaining:
        changes.notes.append("still in the graph (predicate not constant or not a variable the "
                             f"outputs read): {', '.join(remaining)}")
    return result, changes


__all__ = ["freeze", "checkpoint_keys", "signature_outputs", "parse_set_values"]
