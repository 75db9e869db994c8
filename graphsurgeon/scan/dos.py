"""Denial of service a model holds: allocations over a budget, loops that never end, dequeues nothing fills.

The registry audit flags the ops that sleep or end the process
(``SleepDataset``, ``Abort``...). What an op of an ordinary type does to the
machine depends on its constants, decided here without running anything:

- an allocation whose size constants fix (``Fill``, ``Empty``,
  ``BroadcastTo``, the random and stateless random ops, ``Range``) and that
  exceeds :data:`ALLOCATION_BUDGET` bytes;
- a loop (functional ``While``, or a TF1 frame's ``LoopCond``) whose
  condition can never become false: every loop variable it reads starts
  from a constant and moves by a constant step each iteration (or not at
  all), and the comparisons it makes hold for every iteration (a counter
  that only grows, tested ``>= 0``);
- a dequeue from a queue that no op of the model enqueues to (nor closes):
  it blocks forever.

Each is a finding of capability ``denial-of-service`` (medium by default)
with the reason in ``reason``. What cannot be decided from constants is
left alone: this names loops that surely never end, not every loop that
might not.
"""
from __future__ import annotations

import re

from ..analysis.constants import Constants
from ..vocab.optypes import PASS_THROUGH, WHILE_OPS
from .arguments import through
from .record import bodies, new_finding

ALLOCATION_BUDGET = 1 << 34  # bytes one op may allocate (16 GiB) before it is a finding

# op type -> (input holding the shape, attribute holding the dtype)
ALLOCATIONS = {
    "Fill": ("dims", "T"), "Empty": ("shape", "dtype"), "BroadcastTo": ("shape", "T"),
    "RandomUniform": ("shape", "dtype"), "RandomStandardNormal": ("shape", "dtype"),
    "TruncatedNormal": ("shape", "dtype"), "RandomUniformInt": ("shape", "Tout"),
    "ParameterizedTruncatedNormal": ("shape", "dtype"), "StatelessRandomUniform": ("shape", "dtype"),
    "StatelessRandomNormal": ("shape", "dtype"), "StatelessTruncatedNormal": ("shape", "dtype"),
    "StatelessRandomUniformV2": ("shape", "dtype"), "StatelessRandomNormalV2": ("shape", "dtype"),
    "StatelessTruncatedNormalV2": ("shape", "dtype"), "StatelessRandomUniformInt": ("shape", "dtype"),
    "StatelessRandomUniformIntV2": ("shape", "dtype"), "StatelessRandomUniformFullInt": ("shape", "dtype"),
    "StatelessRandomUniformFullIntV2": ("shape", "dtype"), "StatefulUniform": ("shape", "dtype"),
    "StatefulStandardNormalV2": ("shape", "dtype"), "StatefulTruncatedNormal": ("shape", "dtype"),
    "StatefulUniformInt": ("shape", "dtype"), "StatefulUniformFullInt": ("shape", "dtype"),
}
DEQUEUES = frozenset({"QueueDequeue", "QueueDequeueV2", "QueueDequeueMany", "QueueDequeueManyV2",
                      "QueueDequeueUpTo", "QueueDequeueUpToV2"})
_FILLS = ("QueueEnqueue", "QueueClose")  # prefixes of the ops that make a dequeue return
WATCHED = frozenset(ALLOCATIONS) | WHILE_OPS | DEQUEUES | {"LoopCond"}  # the op types looked at here
_COMPARE = {"Less", "LessEqual", "Greater", "GreaterEqual", "Equal", "NotEqual"}
_STEP = {"Add": 1, "AddV2": 1, "Sub": -1}
_LOOP_PASS = PASS_THROUGH | {"Enter", "RefEnter"}


def _itemsize(dtype_name: str | None) -> int:
    if not dtype_name:
        return 4
    if dtype_name in ("bool", "string", "resource", "variant"):
        return 1
    digits = re.search(r"(\d+)$", dtype_name)
    return max(1, int(digits.group(1)) // 8) if digits else 4


def _size(n: int) -> str:
    for unit, power in (("TiB", 40), ("GiB", 30), ("MiB", 20)):
        if n >= 1 << power:
            return f"{n / (1 << power):,.1f} {unit}"
    return f"{n:,} bytes"


def findings(watched, r, resolver) -> list[dict]:
    """The denial-of-service findings among ``watched``: ``(function, NodeDef)`` of the :data:`WATCHED` types."""
    from ..vocab import dtypes

    out = []
    dequeues = []
    for function, node in watched:
        reason = None
        if node.op in ALLOCATIONS:
            reason = _allocation(resolver, function, node, dtypes)
        elif node.op in WHILE_OPS:
            reason = _functional_loop(resolver, function, node)
        elif node.op == "LoopCond":
            reason = _frame_loop(resolver.graph(function), function, node, resolver)
        elif node.op in DEQUEUES:
            dequeues.append((function, node))
        if reason:
            finding = new_finding(node, function, "denial-of-service", r.route(function, node.name))
            finding["reason"] = reason
            out.append(finding)
    if dequeues:
        filled = _filled_queues(resolver.g, resolver)
        for function, node in dequeues:
            refs = resolver.graph(function).data_refs(node.name)
            sources = _queue_sources(resolver, function, refs[0].tensor) if refs else None
            if sources and not any(s in filled for s in sources):
                finding = new_finding(node, function, "denial-of-service", r.route(function, node.name))
                names = ", ".join(repr(s[1]) for s in sources)
                finding["reason"] = f"dequeues from queue {names}, which nothing in the model enqueues to or " \
                                    "closes: it blocks forever"
                out.append(finding)
    return out


# ------------------------------------------------------------------ allocations
def _allocation(resolver, function, node, dtypes) -> str | None:
    shape_input, dtype_attr = ALLOCATIONS[node.op]
    tensor = resolver.input_tensor(function, node, shape_input)
    if tensor is None:
        return None
    dims = resolver._constants_of(function).value(tensor)
    if dims is None:
        return None
    try:
        values = [int(v) for v in dims.ravel()]
    except (TypeError, ValueError, OverflowError):
        return None
    if any(v < 0 for v in values):
        return None
    count = 1
    for v in values:
        count *= v
    dtype = dtypes.name(node.attr[dtype_attr].type) if dtype_attr in node.attr else None
    size = count * _itemsize(dtype)
    if size <= ALLOCATION_BUDGET:
        return None
    return f"allocates {_size(size)} ({node.op} of shape [{', '.join(map(str, values[:8]))}] {dtype or ''}".rstrip() + \
        f"), over the {_size(ALLOCATION_BUDGET)} budget"


# ------------------------------------------------------------------ loops
class _Var:
    """A loop variable: its start and its step per iteration (None when not constant)."""

    def __init__(self, name: str, start, step):
        self.name, self.start, self.step = name, start, step


def _always(expr, variables) -> str | None:
    """A sentence when the condition ``expr`` holds on every iteration, else None.

    ``expr`` is ``("const", bool)``, ``("cmp", op, left, right)`` with sides
    ``("var", index)`` or ``("num", value)``, ``("and"|"or", a, b)``.
    """
    kind = expr[0]
    if kind == "const":
        return "is the constant true" if expr[1] is True else None
    if kind == "and":
        a, b = _always(expr[1], variables), _always(expr[2], variables)
        return f"{a} and {b}" if a and b else None
    if kind == "or":
        return _always(expr[1], variables) or _always(expr[2], variables)
    if kind != "cmp":
        return None
    op, left, right = expr[1], expr[2], expr[3]
    if left[0] == "num" and right[0] == "var":
        op = {"Less": "Greater", "LessEqual": "GreaterEqual", "Greater": "Less", "GreaterEqual": "LessEqual"}.get(op, op)
        left, right = right, left
    if left[0] != "var" or right[0] != "num":
        return None
    var = variables.get(left[1])
    if var is None or var.start is None or var.step is None:
        return None
    a, s, c = var.start, var.step, right[1]
    holds = {
        "GreaterEqual": a >= c and s >= 0, "Greater": a > c and s >= 0,
        "LessEqual": a <= c and s <= 0, "Less": a < c and s <= 0,
        "Equal": a == c and s == 0, "NotEqual": (a != c and s == 0) or (a > c and s >= 0) or (a < c and s <= 0),
    }.get(op, False)
    if not holds:
        return None
    symbol = {"GreaterEqual": ">=", "Greater": ">", "LessEqual": "<=", "Less": "<", "Equal": "==",
              "NotEqual": "!="}[op]
    move = "stays" if s == 0 else f"moves by {s:+g} from"
    return f"{var.name} {symbol} {c:g} ({var.name} {move} {a:g})"


def _number(value):
    try:
        item = value.reshape(()).item() if hasattr(value, "reshape") and value.size == 1 else None
    except (ValueError, AttributeError):
        return None
    if isinstance(item, bool) or not isinstance(item, (int, float)):
        return None
    return item


def _expression(graph, constants, tensor: str, leaf, depth: int = 0):
    """The condition at ``tensor`` as an expression tree; ``leaf(op name, index)`` names loop variables."""
    if depth > 64:
        return None
    op, _, index = tensor.rpartition(":")
    node = graph.node_defs.get(op)
    if node is None:
        return None
    var = leaf(op, int(index) if index.isdigit() else 0)
    if var is not None:
        return ("var", var)
    if node.op in _LOOP_PASS:
        refs = graph.data_refs(op)
        return _expression(graph, constants, refs[0].tensor, leaf, depth + 1) if refs else None
    value = constants.value(tensor)
    if value is not None:
        if getattr(value, "dtype", None) is not None and value.dtype == bool and value.size == 1:
            return ("const", bool(value.reshape(()).item()))
        number = _number(value)
        return ("num", number) if number is not None else None
    refs = graph.data_refs(op)
    if node.op in _COMPARE and len(refs) == 2:
        left = _expression(graph, constants, refs[0].tensor, leaf, depth + 1)
        right = _expression(graph, constants, refs[1].tensor, leaf, depth + 1)
        return ("cmp", node.op, left, right) if left and right else None
    if node.op in ("LogicalAnd", "LogicalOr") and len(refs) == 2:
        a = _expression(graph, constants, refs[0].tensor, leaf, depth + 1)
        b = _expression(graph, constants, refs[1].tensor, leaf, depth + 1)
        return ("and" if node.op == "LogicalAnd" else "or", a, b) if a and b else None
    return None


def _step(graph, constants, tensor: str, is_self, depth: int = 0):
    """The constant a loop variable's next value adds to it (0: unchanged), or None."""
    if depth > 64:
        return None
    op = tensor.rpartition(":")[0]
    node = graph.node_defs.get(op)
    if node is None:
        return None
    if is_self(tensor):
        return 0
    if node.op in _LOOP_PASS or node.op in ("Switch", "RefSwitch"):
        refs = graph.data_refs(op)
        return _step(graph, constants, refs[0].tensor, is_self, depth + 1) if refs else None
    refs = graph.data_refs(op)
    if node.op in _STEP and len(refs) == 2:
        for own, other, sign in ((0, 1, _STEP[node.op]), (1, 0, 1)):
            if node.op == "Sub" and own == 1:
                continue
            if _step(graph, constants, refs[own].tensor, is_self, depth + 1) == 0:
                c = _number(constants.value(_through_enter(graph, refs[other].tensor)))
                if c is not None:
                    return sign * c
        return None
    return None


def _through_enter(graph, tensor: str) -> str:
    return through(graph, tensor, kinds=_LOOP_PASS)


def _functional_loop(resolver, function, node) -> str | None:
    """A ``While`` whose condition never becomes false."""
    cond = node.attr["cond"].func.name if "cond" in node.attr else ""
    body = node.attr["body"].func.name if "body" in node.attr else ""
    library = resolver.g.library
    if cond not in library or body not in library:
        return None
    outer = resolver.graph(function)
    outer_constants = resolver._constants_of(function)
    inits = outer.data_refs(node.name)
    cond_graph, body_graph = resolver.g.function(cond), resolver.g.function(body)
    names = [a.name for a in library[body].signature.input_arg]
    args = {n.attr["index"].i: n.name for n in body_graph.node_defs.values() if n.op == "_Arg"}
    rets = {n.attr["index"].i: n for n in body_graph.node_defs.values() if n.op == "_Retval"}
    body_constants = Constants(body_graph)
    variables = {}
    for index, ref in enumerate(inits):
        start = _number(outer_constants.value(ref.tensor))
        ret = rets.get(index)
        arg = args.get(index)
        step = None
        if ret is not None and arg is not None and body_graph.data_refs(ret.name):
            step = _step(body_graph, body_constants, body_graph.data_refs(ret.name)[0].tensor,
                         lambda t, arg=arg: t == f"{arg}:0")
        variables[index] = _Var(names[index] if index < len(names) else f"arg{index}", start, step)
    cond_args = {n.name: n.attr["index"].i for n in cond_graph.node_defs.values() if n.op == "_Arg"}
    cond_ret = [n for n in cond_graph.node_defs.values() if n.op == "_Retval"]
    if len(cond_ret) != 1 or not cond_graph.data_refs(cond_ret[0].name):
        return None
    expr = _expression(cond_graph, Constants(cond_graph), cond_graph.data_refs(cond_ret[0].name)[0].tensor,
                       lambda op, i: cond_args.get(op))
    sentence = _always(expr, variables) if expr else None
    if sentence is None:
        return None
    return f"its condition never becomes false: {sentence}; the loop never ends"


def _frame_loop(graph, function, node, resolver) -> str | None:
    """A TF1 ``while_loop`` (its ``LoopCond``) whose condition never becomes false."""
    refs = graph.data_refs(node.name)
    if not refs:
        return None
    constants = resolver._constants_of(function)
    variables: dict[str, _Var] = {}

    def leaf(op, index):
        merge = graph.node_defs.get(op)
        if merge is None or merge.op not in ("Merge", "RefMerge") or index != 0:
            return None
        if op not in variables:
            inputs = graph.data_refs(op)
            start = _number(constants.value(_through_enter(graph, inputs[0].tensor))) if inputs else None
            step = None
            if len(inputs) == 2:
                nxt = graph.node_defs.get(inputs[1].op)
                if nxt is not None and nxt.op in ("NextIteration", "RefNextIteration") and graph.data_refs(nxt.name):
                    step = _step(graph, constants, graph.data_refs(nxt.name)[0].tensor,
                                 lambda t, op=op: _switch_of(graph, t) == op)
            variables[op] = _Var(op, start, step)
        return op

    expr = _expression(graph, constants, refs[0].tensor, leaf)
    sentence = _always(expr, variables) if expr else None
    if sentence is None:
        return None
    return f"its condition never becomes false: {sentence}; the loop never ends"


def _switch_of(graph, tensor: str) -> str | None:
    """The Merge a loop body's tensor is (``Identity(Switch(Merge):1)``), or None."""
    op, _, index = tensor.rpartition(":")
    node = graph.node_defs.get(op)
    if node is None:
        return None
    if node.op in ("Switch", "RefSwitch") and index == "1":
        refs = graph.data_refs(op)
        return refs[0].op if refs else None
    return None


# ------------------------------------------------------------------ queues
def _queue_sources(resolver, function, tensor: str):
    """The queues a handle comes from: ``(function, queue op)``, or ``("shared", name)`` for a shared one."""
    sources = resolver.resource_sources(function, tensor, lambda node: node.op.endswith(("Queue", "QueueV2")))
    if sources is None:
        return None
    out = []
    for fn, op in sources:
        node = resolver.graph(fn).node_defs[op]
        shared = node.attr["shared_name"].s.decode("utf-8", "replace") if "shared_name" in node.attr else ""
        out.append(("shared", shared) if shared else (fn, op))
    return out


def _filled_queues(g, resolver) -> set:
    """Every queue some op enqueues to or closes (by :func:`_queue_sources`); a call that passes one on counts."""
    filled = set()
    for function, node in bodies(g):
        if node.op.startswith(_FILLS):
            refs = resolver.graph(function).data_refs(node.name)
            sources = _queue_sources(resolver, function, refs[0].tensor) if refs else None
            filled.update(sources or ())
    return filled
