"""Freeze: bake a checkpoint's values into the graph, keeping only what the outputs need.

The result is a plain GraphDef that computes the outputs with no variable,
no saver, no training machinery and, when the predicates become constant,
no control flow. Every step is an edit of one :class:`~graphsurgeon.ir.graph.Graph`
(the pruned copy), through its editing methods:

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
   by the taken branch in the same way. The ops inlining adds are bounded
   (:data:`MAX_INLINED_OPS`): calls that double at every level would
   otherwise grow without end before any other guard trips.
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
7. **Lookup tables** the outputs use keep their initializers
   (:func:`graphsurgeon.metagraph.tables.table_initializers`), grouped under
   one ``init_all_tables`` op to run once before the outputs (what
   TensorFlow's ``freeze_graph`` asks for as ``initializer_nodes``); a
   vocabulary asset's path constant names the file found for it (the
   SavedModel's ``assets/``).

Checkpoint keys come from the graph's own saver (:func:`graphsurgeon.metagraph.saver.checkpoint_entries`):
a partitioned variable's part (``embedding/weights/part_1``) is the slice of the saved tensor its
saver restores into it.

Example:
    >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_tf1")
    >>> frozen, changes = graphsurgeon.freeze(g, outputs=["logits:0"])
    >>> sorted({op.type for op in frozen} & {"VariableV2", "Switch", "Merge"})
    []
"""
from __future__ import annotations

from collections.abc import Iterable

from ..analysis.constants import Constants, source_op
from ..errors import NotFoundError, RewriteError, UsageError
from ..formats.bundle import BundleReader
from ..formats.checkpoint import open_checkpoint
from ..formats.slices import parse_spec, read_value
from ..ir.build import input_text as _text  # how TensorFlow writes a data input (op, op:1)
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..metagraph.assets import point_at_files
from ..metagraph.saver import checkpoint_entries
from ..metagraph.signatures import signature_outputs
from ..metagraph.tables import table_initializers
from ..vocab import dtypes as _dtypes
from ..vocab import names as _names
from ..vocab import protos
from ..vocab.optypes import (CALL_OPS, CASE_OPS, IF_OPS, MERGE_OPS, PASS_THROUGH, PLACEHOLDER_TYPES,
                              REF_VARIABLE_TYPES, SWITCH_OPS)
from ..vocab.values import from_numpy
from ..wording import plural
from .pinning import const_node, pin_placeholders, scalar_tensor
from .prune import needed_ops, prune
from .rewrite import rewrite
from .unlink import move_colocations

__all__ = ["freeze", "parse_set_values", "MAX_INLINED_OPS"]

# Inlining work allowed in all: ops added plus calls inlined. A model's own
# functions inline to a few times its size; a body that calls itself twice,
# or calls that double at each level, would otherwise grow to 2^depth before
# any other guard trips.
MAX_INLINED_OPS = 1_000_000
# What may read a ref variable in a frozen graph: reading it (the rest writes it).
_READ_ONLY_REF_CONSUMERS = PASS_THROUGH | SWITCH_OPS
_ANCHOR_TYPE = "_GraphsurgeonOutputs"  # a temporary reader of the outputs; never written


def parse_set_values(g: Graph, items: Iterable[str]) -> dict[str, object]:
    """``["training=true", "rate=0.5"]`` -> ``{"training": True, "rate": 0.5}``, typed by the placeholder."""
    out = {}
    for item in items or ():
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--set {item!r}: expected NAME=VALUE")
        op = g.op(_names.split_tensor_name(name)[0])
        if op.type not in PLACEHOLDER_TYPES:
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


class _Run:
    """The state of one freeze: the graph being edited and what each step did."""

    def __init__(self, work: Graph, changes: Changes, max_inlined_ops: int):
        self.g = work
        self.changes = changes
        self.consts = Constants(work)
        self.inlined: dict[str, list[str]] = {}   # call -> the ops now giving its results
        self.replaced: set[str] = set()           # ops whose readers now read something else
        self.switched: set[str] = set()           # Switch ops already resolved
        self.frozen: list[str] = []
        self.added = 0
        self.max_inlined_ops = max_inlined_ops
        self.anchor = ""

    def data_inputs(self, name: str) -> list[str]:
        return [ref.tensor for ref in self.g.data_refs(name)]


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


def _inline(run: _Run, call_name: str, fname: str, args: list[str]) -> None:
    """Replace the call ``call_name`` by the body of ``fname``; ``args[i]`` feeds the body's ``_Arg`` i."""
    g = run.g
    call = g.node_def(call_name)
    body = g.function(fname)
    if run.added + len(body) > run.max_inlined_ops:
        raise RewriteError(f"cannot freeze: inlining {fname} into {call_name} would take more than "
                           f"{run.max_inlined_ops:,} steps (recursive or exponentially nested calls?)")
    prefix = call_name + "/"
    arg_of: dict[str, str] = {}
    retvals: dict[int, str] = {}
    rename: dict[str, str] = {}
    taken: set[str] = set()
    for node in body.graph_def.node:
        if node.op == "_Arg":
            index = node.attr["index"].i
            if index >= len(args):
                raise RewriteError(f"cannot inline {fname} into {call_name}: it takes more "
                                   f"arguments than the call gives ({len(args)})")
            arg_of[node.name] = args[index]
        elif node.op == "_Retval":
            if node.input:
                retvals[node.attr["index"].i] = node.input[0]
        else:
            rename[node.name] = _names.unique_name(prefix + node.name, g.node_defs, taken)
            taken.add(rename[node.name])

    def data_text(text: str) -> str:
        op, index = _names.split_tensor_name(text)
        if op in arg_of:
            return arg_of[op]
        return _text(rename.get(op, op), index)

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
                op = text[1:]
                new.input.append("^" + (_names.split_tensor_name(arg_of[op])[0] if op in arg_of
                                        else rename.get(op, op)))
            else:
                has_data = True
                new.input.append(data_text(text))
        if not has_data:
            # The call's control inputs must still hold for what starts the body.
            new.input.extend(call_controls)
        if "_class" in new.attr:
            fixed = []
            for s in new.attr["_class"].list.s:
                target = _names.colocation_op(s)
                fixed.append(f"loc:@{rename.get(target, target)}".encode() if target else s)
            del new.attr["_class"].list.s[:]
            new.attr["_class"].list.s.extend(fixed)
        if not new.device and call.device:
            new.device = call.device
        _substitute_placeholders(new, call, f"{fname} into {call_name}")
        g.add_op(new)
        run.changes.added.append(new.name)
    run.added += len(rename) + 1  # the ops, and the inlining itself (an empty body too)
    sources = {index: data_text(source) for index, source in retvals.items()}
    for index, source in sources.items():
        g.rewire(f"{call_name}:{index}", source)
    # Ops ordered after the call (``^call``) are now ordered after its results.
    run.inlined[call_name] = sorted({_names.split_tensor_name(s)[0] for s in sources.values()})
    run.replaced.add(call_name)
    run.changes.notes.append(f"inlined {fname} into {call_name}")


def _callees(node, library) -> tuple[str, list[str]]:
    """``("call", [f])`` for a call, ``("branch", [branches])`` for If/Case, ``("", [])`` otherwise."""
    if node.op in CALL_OPS:
        return "call", [node.attr["f"].func.name]
    if node.op in library:
        return "call", [node.op]
    if node.op in IF_OPS:
        return "branch", [node.attr["then_branch"].func.name, node.attr["else_branch"].func.name]
    if node.op in CASE_OPS:
        return "branch", [f.name for f in node.attr["branches"].list.func]
    return "", []


def _inlining_bound(g: Graph, limit: int) -> int | None:
    """How much inlining every call of ``g`` would do: the ops it adds plus the calls it inlines
    (each If/Case counted at its largest branch); None when that passes ``limit`` or a function
    calls itself.

    Computed over the call graph before anything is inlined (iteratively,
    capped at ``limit + 1``), so that calls doubling at every level are
    refused at once instead of after millions of ops.
    """
    library = g.library
    cost: dict[str, int] = {}
    state: dict[str, int] = {}  # 1 = in progress, 2 = done

    def node_cost(node) -> int:
        kind, callees = _callees(node, library)
        if not kind:
            return 1
        known = [cost.get(f, 1) for f in callees if f in library]
        if not known:
            return 1
        # Inlining a call is work of its own (an empty body still costs a rewiring).
        return 1 + (sum(known) if kind == "call" else max(known))

    for root in library:
        if state.get(root) == 2:
            continue
        stack = [root]
        while stack:
            fname = stack[-1]
            if state.get(fname) == 2:
                stack.pop()
                continue
            nodes = library[fname].node_def
            pending = [f for node in nodes for f in _callees(node, library)[1] if f in library and state.get(f) != 2]
            if state.get(fname) != 1:
                if any(state.get(f) == 1 for f in pending):
                    return None  # a function that calls itself, directly or not
                state[fname] = 1
                if pending:
                    stack.extend(dict.fromkeys(pending))
                    continue
            elif any(state.get(f) == 1 for f in pending):
                return None
            cost[fname] = min(limit + 1, sum(node_cost(node) for node in nodes))
            state[fname] = 2
            stack.pop()
    total = sum(node_cost(node) for node in g.graph_def.node if _callees(node, library)[0])
    return None if total > limit else total


def _inline_all(run: _Run) -> None:
    g = run.g
    library = g.library
    rounds = 0
    while True:
        rounds += 1
        if rounds > 1000:
            raise RewriteError("function inlining does not terminate (recursive functions?)")
        todo = []
        for node in list(g.graph_def.node):
            if node.name in run.inlined:
                continue
            data = run.data_inputs(node.name)
            if node.op in CALL_OPS:
                todo.append((node.name, node.attr["f"].func.name, data))
            elif node.op in library:
                todo.append((node.name, node.op, data))
            elif node.op in IF_OPS and data:
                pred = run.consts.value(data[0])
                if pred is not None and getattr(pred, "size", 1) == 1:
                    taken = bool(pred.reshape(()))
                    branch = node.attr["then_branch" if taken else "else_branch"].func.name
                    run.changes.notes.append(f"{node.name}: predicate is {taken}, took {branch}")
                    todo.append((node.name, branch, data[1:]))
            elif node.op in CASE_OPS and data:
                index = run.consts.value(data[0])
                if index is not None and getattr(index, "size", 1) == 1:
                    branches = list(node.attr["branches"].list.func)
                    i = int(index.reshape(()))
                    i = i if 0 <= i < len(branches) else len(branches) - 1  # out of range: the last
                    run.changes.notes.append(f"{node.name}: branch index is {i}, took {branches[i].name}")
                    todo.append((node.name, branches[i].name, data[1:]))
        if not todo:
            return
        for name, fname, args in todo:
            _inline(run, name, fname, args)


# --------------------------------------------------------------------------- TF1 conds
def _resolve_conds(run: _Run) -> None:
    g = run.g
    dead_ops: set[str] = set()
    dead_ports: set[tuple[str, int]] = set()
    stack: list[tuple[str, int]] = []  # (op, port) newly dead; port -1 = the whole op
    resolved = 0
    for node in list(g.graph_def.node):
        if node.op not in SWITCH_OPS or node.name in run.switched or node.name in run.replaced:
            continue
        data = run.data_inputs(node.name)
        if len(data) < 2:
            continue
        pred = run.consts.value(data[1])
        if pred is None or getattr(pred, "size", 1) != 1:
            continue
        live = 1 if bool(pred.reshape(())) else 0
        dead_ports.add((node.name, 1 - live))
        stack.append((node.name, 1 - live))
        g.rewire(f"{node.name}:{live}", data[0])
        run.switched.add(node.name)
        run.replaced.add(node.name)
        resolved += 1
    if not resolved:
        return
    merge_dead: dict[str, int] = {}
    while stack:
        op, port = stack.pop()
        for consumer, _, index in g.uses(op):
            if consumer in dead_ops or consumer == run.anchor:
                continue
            if port >= 0 and index >= 0 and index != port:
                continue  # reads a live output of a half-dead Switch
            if port >= 0 and index < 0:
                continue  # a control edge from a Switch that is only half dead
            cnode = g.node_def(consumer)
            if cnode.op in MERGE_OPS:
                merge_dead[consumer] = merge_dead.get(consumer, 0) + 1
                if merge_dead[consumer] < len(run.data_inputs(consumer)):
                    continue
            dead_ops.add(consumer)
            stack.append((consumer, -1))
    for name in merge_dead:
        if name in dead_ops:
            continue
        live = []
        for position, ref in enumerate(r for r in g.input_refs(name) if not r.control):
            if ref.op not in dead_ops and (ref.op, ref.index) not in dead_ports:
                live.append((position, ref.tensor))
        if len(live) == 1:
            position, source = live[0]
            device = g.node_def(name).device
            g.rewire(f"{name}:0", source)
            index_name = _names.unique_name(f"{name}/value_index", g.node_defs)
            g.add_op(const_node(index_name, scalar_tensor(position, "int32"), "int32", device))
            g.rewire(f"{name}:1", index_name)
            run.replaced.add(name)
    run.changes.notes.append(f"resolved {plural(resolved, 'Switch op')} with a constant predicate; "
                             f"{plural(dead_ops, 'op')} on dead branches dropped")


# --------------------------------------------------------------------------- control edges and liveness
def _is_constant_op(run: _Run, name: str) -> bool:
    node = run.g.node_defs.get(name)
    if node is None:
        return False
    return node.op == "Const" or (node.op in PASS_THROUGH and run.consts.value(name) is not None)


def _control_targets(run: _Run, target: str, memo: dict) -> list[str]:
    """What a control edge to ``target`` still has to wait for.

    Nothing, when the op was replaced (a frozen read, a pinned placeholder, a
    resolved Switch/Merge) or is a constant; the results of an inlined call
    stand for the call; a NoOp that waits for nothing is nothing. Iterative,
    memoised; a cycle adds nothing.
    """
    g = run.g
    stack = [target]
    while stack:
        name = stack[-1]
        if name in memo and memo[name] is not None:
            stack.pop()
            continue
        if name in run.inlined:
            deps = run.inlined[name]
        elif name in run.replaced or name not in g.node_defs or _is_constant_op(run, name):
            memo[name] = []
            stack.pop()
            continue
        elif g.node_def(name).op == "NoOp":
            deps = [ref.op for ref in g.input_refs(name)]
        else:
            memo[name] = [name]
            stack.pop()
            continue
        if name not in memo:
            memo[name] = None  # in progress
            stack.extend(d for d in deps if d not in memo)
            continue
        # Second visit: its dependencies are done (those still in progress are on a cycle).
        waits = []
        for d in deps:
            waits.extend(memo.get(d) or [])
        if name in run.inlined:
            memo[name] = list(dict.fromkeys(waits))
        else:
            data = [ref.op for ref in g.input_refs(name) if not ref.control]
            memo[name] = [name] if waits or data else []
        stack.pop()
    return memo[target]


def _settle_controls(run: _Run) -> None:
    """Rewrite every control input as what it still waits for (see :func:`_control_targets`)."""
    g = run.g
    memo: dict = {}
    for node in list(g.graph_def.node):
        refs = g.input_refs(node.name)
        if not any(ref.control for ref in refs):
            continue
        data = [text for ref, text in zip(refs, node.input) if not ref.control]
        controls = []
        for ref in refs:
            if ref.control:
                controls.extend(t for t in _control_targets(run, ref.op, memo) if t not in controls
                                and t != node.name)
        inputs = data + ["^" + c for c in controls]
        if inputs != list(node.input):
            g.set_inputs(node.name, inputs)


def _live(run: _Run, named: list[str]) -> set[str]:
    """Ops the outputs reach through data, control and colocation edges."""
    _settle_controls(run)
    roots = [run.anchor] + [n for n in named if n in run.g.node_defs]
    return run.g.ancestors(roots, control=True, colocation=True, include_roots=True)


# --------------------------------------------------------------------------- variables
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


def _tensor_value(reader, key: str, spec: str = ""):
    """``(TensorProto header, raw bytes or None)``: numeric V2 tensors come as a header plus their bytes.

    ``spec``: the slice a partitioned variable's part is (``""``: the whole tensor).
    """
    if isinstance(reader, BundleReader) and reader.dtype(key) != "string" and not spec:
        dtype, shape, raw = reader.read_raw(key)
        proto = protos.TensorProto(dtype=_dtypes.number(dtype))
        for d in shape:
            proto.tensor_shape.dim.add(size=d)
        return proto, raw
    import numpy as np

    value = read_value(reader, key, spec)
    if isinstance(value, bytes):
        value = np.array(value, dtype=object)
    proto = from_numpy(np.asarray(value))
    proto.dtype = _dtypes.number(reader.dtype(key))
    return proto, None


def _freeze_variables(run: _Run, live: set[str], checkpoint: str | None, entries: dict,
                      requested: set[str]) -> None:
    """The variables the outputs read become constants of their checkpoint values; their reads read those."""
    g = run.g
    order, wanted, reads = _variables_read(run, live)
    if not wanted:
        return
    if checkpoint is None:
        raise RewriteError(f"the outputs read {plural(wanted, 'variable')} (e.g. {next(iter(wanted))}) "
                           "but there is no checkpoint", hint="give --checkpoint PREFIX")
    reader = open_checkpoint(checkpoint)
    total = 0
    try:
        for var in wanted:
            key, spec = _checkpoint_entry(reader, checkpoint, g.node_def(var), entries)
            total += _replace_by_value(g, reader, var, key, spec)
            run.frozen.append(var)
            for read in reads.get(var, ()):
                if read not in requested:
                    g.rewire(f"{read}:0", var)
                    run.replaced.add(read)
    finally:
        reader.close()
    # A ref variable's ``read`` Identity now only copies a constant.
    for name in order:
        node = g.node_def(name)
        if node.op == "Identity" and name not in requested and node.input:
            source = _names.split_tensor_name(run.data_inputs(name)[0]) if run.data_inputs(name) else None
            if source and source[0] in wanted and wanted[source[0]] == "ref":
                g.rewire(f"{name}:0", _text(*source))
                run.replaced.add(name)
    run.changes.changed.extend(run.frozen)
    run.changes.notes.append(f"{plural(run.frozen, 'variable')} turned into constants ({plural(total, 'byte')} read "
                             f"from {checkpoint})")


def _variables_read(run: _Run, live: set[str]) -> tuple[list[str], dict[str, str], dict[str, list[str]]]:
    """``(live ops in graph order, {variable: "ref" or "resource"}, {resource variable: its ReadVariableOps})``.

    Raises:
        RewriteError: a live op writes a variable, or uses a resource other than by reading it.
    """
    g = run.g
    wanted: dict[str, str] = {}  # variable op -> kind
    order = [n.name for n in g.graph_def.node if n.name in live]
    for name in order:
        op_type = g.node_def(name).op
        if op_type in REF_VARIABLE_TYPES:
            wanted[name] = "ref"
        elif op_type == "VarHandleOp":
            wanted[name] = "resource"
    reads: dict[str, list[str]] = {}
    for name in order:
        node = g.node_def(name)
        data = run.data_inputs(name)
        if node.op == "ReadVariableOp":
            source = source_op(g, data[0])
            snode = g.node_defs.get(source)
            if snode is None or snode.op != "VarHandleOp":
                kind = snode.op if snode is not None else "nothing"
                raise RewriteError(f"cannot freeze {name}: it reads a resource from {source} ({kind}), "
                                   "not from a VarHandleOp")
            reads.setdefault(source, []).append(name)
            wanted[source] = "resource"
            continue
        for position, text in enumerate(data):
            source = _names.split_tensor_name(text)[0]
            snode = g.node_defs.get(source)
            if snode is None:
                continue
            if snode.op in REF_VARIABLE_TYPES and node.op not in _READ_ONLY_REF_CONSUMERS \
                    and _writes_input(g, node, position):
                raise RewriteError(f"cannot freeze: the outputs need {name} ({node.op}), which writes "
                                   f"variable {source}", hint="choose outputs that only read variables")
            if snode.op == "VarHandleOp" and node.op not in PASS_THROUGH and node.op != "ReadVariableOp":
                raise RewriteError(f"cannot freeze: the outputs need {name} ({node.op}), which uses "
                                   f"resource variable {source} other than by reading it")
    return order, wanted, reads


def _checkpoint_entry(reader, checkpoint: str, node, entries: dict) -> tuple[str, str]:
    """``(checkpoint key, slice spec)`` holding variable ``node``'s value, checked against the variable.

    Raises:
        NotFoundError: the checkpoint has no such key.
        RewriteError: its dtype or shape is not the variable's (or the saver's slice spec is damaged).
    """
    var = node.name
    key, spec = entries.get(var) or ((node.attr["shared_name"].s.decode() if node.op == "VarHandleOp"
                                      and node.attr["shared_name"].s else var), "")
    if key not in reader:
        if var in reader:
            key, spec = var, ""
        else:
            raise NotFoundError("variable", key, reader.keys(), where=f"checkpoint {checkpoint}")
    dtype = _dtypes.base(_dtypes.name(node.attr["dtype"].type)) if "dtype" in node.attr else None
    if dtype and reader.dtype(key) != dtype:
        raise RewriteError(f"checkpoint {checkpoint} does not match the graph: {key} is "
                           f"{reader.dtype(key)}, variable {var} is {dtype}")
    shape = reader.shape(key)
    what = f"{key} has shape {list(shape)}"
    if spec:  # a partition: the slice of the saved tensor the saver restores into it
        try:
            full, extents = parse_spec(spec)
        except ValueError as exc:
            raise RewriteError(f"cannot freeze {var}: its saver's slice spec is damaged ({exc})") from None
        if list(shape) != full:
            raise RewriteError(f"checkpoint {checkpoint} does not match the graph: {key} has shape "
                               f"{list(shape)}, the saver restores the slice {spec!r} into {var}")
        shape, what = [n for _, n in extents], f"the slice {spec!r} of {key} has shape {[n for _, n in extents]}"
    if "shape" in node.attr and not node.attr["shape"].shape.unknown_rank:
        dims = [d.size for d in node.attr["shape"].shape.dim]
        if len(dims) != len(shape) or any(d >= 0 and d != s for d, s in zip(dims, shape)):
            raise RewriteError(f"checkpoint {checkpoint} does not match the graph: {what}, "
                               f"variable {var} has {dims}")
    return key, spec


def _replace_by_value(g: Graph, reader, var: str, key: str, spec: str) -> int:
    """Variable ``var`` becomes a Const (same name) of its checkpoint value; the bytes read."""
    node = g.node_def(var)
    tensor, blob = _tensor_value(reader, key, spec)
    size = len(blob) if blob is not None else (len(tensor.tensor_content) or tensor.ByteSize())
    const = const_node(var, tensor, reader.dtype(key), node.device)
    if "_class" in node.attr:
        const.attr["_class"].CopyFrom(node.attr["_class"])
    g.replace_op(const)
    if blob:
        # Set in place: the bytes are copied into the graph once, not once more by replace_op.
        g.node_for_edit(var).attr["value"].tensor.tensor_content = blob
    return size


# --------------------------------------------------------------------------- tidying
def _finish(run: _Run, requested_ops: list[str], named: list[str]) -> None:
    g = run.g
    # Requested outputs whose op was inlined (a call): an IdentityN of the same name
    # keeps every output tensor name valid.
    anchor_inputs = []
    for op, texts in zip(requested_ops, _group_outputs(run, list(g.node_def(run.anchor).input))):
        if op not in run.inlined:
            anchor_inputs.extend(texts)
            continue
        anchor_inputs.extend(f"{op}:{i}" for i in range(len(texts)))
        types = run.output_types.get(op) or []
        node = protos.NodeDef(name=op, op="IdentityN" if len(texts) != 1 else "Identity")
        node.input.extend(texts)
        if len(texts) != 1:
            node.attr["T"].list.type.extend(_dtypes.number(_dtypes.base(t)) for t in types)
        else:
            node.attr["T"].type = _dtypes.number(_dtypes.base(types[0])) if types else 1
        g.remove_ops([op], check=False)
        g.add_op(node)
        run.replaced.discard(op)
        run.inlined.pop(op)
        run.changes.notes.append(f"{op}: kept as {node.op} of its inlined results so its tensor names stay valid")
    g.set_inputs(run.anchor, anchor_inputs)
    live = _live(run, named)
    live.discard(run.anchor)
    removed = [n for n in g.node_defs if n not in live]
    g.remove_ops(removed, check=False)
    move_colocations(g, dict.fromkeys(removed))  # colocations naming removed ops go (TensorFlow refuses them)
    g.prune_library()


def _group_outputs(run: _Run, texts: list[str]) -> list[list[str]]:
    groups, start = [], 0
    for count in run.output_counts:
        groups.append(texts[start:start + count])
        start += count
    return groups


def _group_initializers(run: _Run, g: Graph, tables: list[str]) -> str | None:
    """One NoOp running the kept table initializers (its name, or None); asset paths pointed at the files."""
    work = run.g
    tables = [t for t in tables if t in work.node_defs]
    if not tables:
        return None
    point_at_files(g, work, run.changes)
    name = _names.unique_name("init_all_tables", work.node_defs)
    node = protos.NodeDef(name=name, op="NoOp")
    node.input.extend("^" + t for t in tables)
    work.add_op(node)
    work.ensure_op_defs({"NoOp"})
    run.changes.added.append(name)
    run.changes.notes.append(f"lookup tables: run {name} once before the outputs (it initialises "
                             f"{plural(tables, 'table')}: {', '.join(tables)}), as freeze_graph's initializer_nodes")
    return name


# --------------------------------------------------------------------------- the rewrite
@rewrite(requires=("top_level",), reports=True)
def freeze(g: Graph, checkpoint: str | None = None, outputs: str | Iterable[str] | None = None,
           set_values: dict | None = None, signature: str | None = None, *,
           max_inlined_ops: int = MAX_INLINED_OPS) -> tuple[Graph, Changes]:
    """Bake the checkpoint's values into the graph, keeping only what ``outputs`` need.

    Args:
        g: a loaded graph (meta graph, SavedModel or GraphDef); not modified.
        checkpoint: checkpoint prefix; default the one that came with the graph.
        outputs: tensor names; default the outputs of the SavedModel/meta
            graph signature ``signature`` (``serving_default``).
        set_values: ``{placeholder name: value}`` to pin placeholders to
            (see :func:`parse_set_values`); scalar ``PlaceholderWithDefault``
            switches not named here take their default.
        signature: which SignatureDef gives the default outputs.
        max_inlined_ops: refuse (RewriteError) when inlining functions would
            add more ops than this.

    Returns:
        ``(frozen graph, Changes)``: a Graph over a plain GraphDef; Changes
        lists what was removed, added (inlined nodes), changed (variables
        now constants), notes on each step, ``details["outputs"]``: the
        output tensor names of the frozen graph, and ``details["initializer"]``:
        the op to run once before them when they use lookup tables (None when
        they use none).

    Raises:
        NotFoundError: an output, signature or checkpoint variable does not exist.
        RewriteError: the checkpoint does not match the graph, there is no
            checkpoint, an output needs an op that writes a variable, or
            inlining grows past ``max_inlined_ops``.
        FormatError: the checkpoint is missing or damaged.

    Example:
        >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_savedmodel_tf2")
        >>> frozen, changes = graphsurgeon.freeze(g)      # serving_default's outputs
        >>> frozen.op("StatefulPartitionedCall").type
        'IdentityN'
    """
    if outputs is None:
        outputs = signature_outputs(g, signature)
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
    tensors = [n for n in resolved if _names.is_tensor_name(n)]
    named = [n for n in resolved if not _names.is_tensor_name(n)]
    if checkpoint is None:
        checkpoint = g.checkpoint
    set_values = dict(set_values or {})
    signature_inputs = set()
    for sig in g.signatures.values():
        signature_inputs.update(_names.split_tensor_name(i["name"])[0] for i in sig["inputs"].values() if i["name"])

    changes = Changes()
    entries = checkpoint_entries(g)
    # Lookup tables the outputs use stay with their initializers (nothing the outputs compute reads
    # them): the frozen graph runs them once, before the outputs, through one op named in the result.
    tables = [op for op in table_initializers(g, needed_ops(g, resolved)[0]) if op not in named]
    named += tables
    # The GraphDef alone, pruned: the result is a plain GraphDef.
    work, _ = prune(Graph(g.graph_def), resolved + tables)
    run = _Run(work, changes, max_inlined_ops)
    # A temporary reader of every output of the requested ops: rewiring keeps it
    # pointing at whatever gives each output, through every step below.
    requested_ops = list(dict.fromkeys(_names.split_tensor_name(t)[0] for t in tensors))
    run.output_counts = [g.num_outputs(op) for op in requested_ops]
    run.output_types = {op: g.output_dtypes(op) for op in requested_ops}
    anchor = protos.NodeDef(name=_names.unique_name("graphsurgeon_outputs", work.node_defs), op=_ANCHOR_TYPE)
    anchor.input.extend(f"{op}:{i}" for op, count in zip(requested_ops, run.output_counts) for i in range(count))
    run.anchor = work.add_op(anchor).name

    # Pin switches.
    for name in set_values:
        if name not in work.node_defs:
            changes.notes.append(f"--set {name}: the outputs do not need it")
    made_const, rewired, notes = pin_placeholders(work, set_values, keep=signature_inputs)
    changes.changed.extend(made_const)
    run.replaced.update(rewired)
    changes.notes.extend(notes)

    if _inlining_bound(work, max_inlined_ops) is None:
        raise RewriteError(f"cannot freeze: inlining the functions would take more than {max_inlined_ops:,} steps, "
                           "or never end (functions that call themselves, or calls that double at every level)")
    _inline_all(run)
    _resolve_conds(run)
    requested = set(requested_ops) | set(named)
    _freeze_variables(run, _live(run, named), checkpoint, entries, requested)
    # Freezing may make predicates constant (a cond on a variable's value): one more round.
    _inline_all(run)
    _resolve_conds(run)
    _finish(run, requested_ops, named)
    initializer = _group_initializers(run, g, tables)

    kept = set(work.node_defs)
    original = set(g.node_defs)
    changes.removed = [n.name for n in g.graph_def.node if n.name not in kept]
    changes.added = [n for n in dict.fromkeys(changes.added) if n in kept and n not in original]
    changes.changed = [n for n in dict.fromkeys(changes.changed) if n in kept]
    remaining = sorted({n.op for n in work.graph_def.node} & {"If", "StatelessIf", "Switch", "Merge", "VariableV2",
                                                              "VarHandleOp", "Variable"})
    if remaining:
        changes.notes.append("still in the graph (predicate not constant or not a variable the "
                             f"outputs read): {', '.join(remaining)}")
    changes.details["outputs"] = tensors
    changes.details["initializer"] = initializer
    return work, changes
