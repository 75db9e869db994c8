"""Parameters drawn inside the op that reads them, as Netron draws them: ``Conv2D`` / ``weights 3×3×3×32``.

A *parameter* is a constant or a variable read by exactly one op: the
``Const`` (or variable, with the ``Identity`` / ``ReadVariableOp`` ops that
read it: ``kernel/read``) whose only consumer, among the ops a picture may
draw, is one op. A picture draws it as a line of that op's label instead of
a node with an edge, and the op's node stands for it (its ops, its
parameter count, the explorer's "drawn as itself" index). A scope of
nothing but parameters (MobileNet's ``MobilenetV1/Conv2d_0/`` holding the
weights and batch-norm constants of ``MobilenetV1/MobilenetV1/Conv2d_0/``
after freezing) disappears with them, so the first picture shows layers,
not a fan of weight boxes.

What may be drawn decides "exactly one": with the training machinery
hidden, a variable's initialiser, saver and optimizer ops do not count;
drawn (``--training``), they do, and the variable keeps its node. A
constant read by two ops keeps its node too. ``--weights-as-nodes`` turns
all of this off.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..analysis import smallarray
from ..vocab import dtypes
from ..vocab.optypes import PASS_THROUGH, VARIABLE_TYPES, training_machinery

CONSTANT_TYPES = frozenset({"Const", "HostConst"})
READ_TYPES = PASS_THROUGH | {"ReadVariableOp"}
WEIGHT_TYPES = CONSTANT_TYPES | set(VARIABLE_TYPES) | READ_TYPES
MAX_LINES = 4     # parameter lines in one op's label; more are counted ("+ 3 more")


@dataclass
class Parameter:
    """One parameter drawn inside its consumer: the ops it is made of and how the label says it."""

    root: str                    # the Const or variable op
    ops: list[str]               # root and the ops reading it for the consumer (``kernel/read``)
    consumer: str                # the one op reading it
    name: str                    # the leaf of root's name: ``weights``
    value: str                   # its shape (``3×3×3×32``), or ``= 0.001`` for a constant of a few numbers

    @property
    def text(self) -> str:
        return f"{self.name} {self.value}"


def _is_root(node_def) -> bool:
    if node_def.op in CONSTANT_TYPES or node_def.op in VARIABLE_TYPES:
        return True
    # A TF2 function body's captured variable: a resource argument.
    return node_def.op == "_Arg" and dtypes.name(node_def.attr["T"].type) == "resource"


def parameters(g, training: bool) -> dict[str, Parameter]:
    """Every parameter of ``g`` by each of its ops' names (cached per graph and per ``training``).

    ``training``: whether the training machinery may be drawn (then its
    ops count as readers).
    """
    return g.derived(f"rendering.parameters.{bool(training)}", lambda graph: _find(graph, training))


def _find(g, training: bool) -> dict[str, Parameter]:
    machinery = frozenset() if training else training_machinery(g)
    wiring = g.wiring()
    node_defs = g.node_defs
    out: dict[str, Parameter] = {}
    for name, node_def in node_defs.items():
        if name in machinery or not _is_root(node_def):
            continue
        # Control edges do not count: drawn inside its consumer, a parameter's control edges
        # (a TF2 function's reads all wait on or feed its control outputs) meet that node.
        group, consumers, edge = [name], set(), None
        stack = [name]
        ok = True
        while stack and ok:
            op = stack.pop()
            for consumer, index in wiring.data_out.get(op, ()):
                if consumer in machinery:
                    continue
                reader = node_defs[consumer]
                if reader.op in READ_TYPES and len(wiring.data_in.get(consumer, ())) == 1 and consumer not in group:
                    group.append(consumer)
                    stack.append(consumer)
                else:
                    consumers.add(consumer)
                    edge = (op, index)
                    if len(consumers) > 1:
                        ok = False
                        break
        if not ok or len(consumers) != 1:
            continue
        (consumer,) = consumers
        if consumer in group:
            continue
        parameter = Parameter(root=name, ops=group, consumer=consumer, name=name.rsplit("/", 1)[-1],
                              value=value_of(g, node_def, edge))
        for op in group:
            out[op] = parameter
    return out


def value_of(g, root, edge) -> str:
    """The shape read through ``edge`` (``784×300``), or ``= value`` for a constant of a few numbers."""
    if root.op in CONSTANT_TYPES:
        value = _small_value(root)
        if value is not None:
            return f"= {value}"
    if edge is None:
        return "?"
    shape = g.tensor(f"{edge[0]}:{edge[1]}").shape
    if shape is None:
        return "?"
    if len(shape) == 0:
        return "scalar"
    return "×".join("?" if d is None else str(d) for d in shape)


def _small_value(node_def, most: int = 6) -> str | None:
    """The value of a constant of at most ``most`` numbers (``0.001``, ``[-1, 784]``), else None."""
    tensor = node_def.attr["value"].tensor
    size = 1
    for d in tensor.tensor_shape.dim:
        size *= max(d.size, 0)
    if size > most:
        return None
    found = smallarray.from_tensor_proto(tensor, dtypes.name(tensor.dtype))
    if found is None:
        return None
    text = [f"{v:.6g}" if isinstance(v, float) else str(v) for v in found.data]
    return text[0] if not found.shape else "[" + ", ".join(text) + "]"


def lines_of(found: list[tuple[str, str]], width: int = 36) -> list[str]:
    """The label lines of an op's ``(name, value)`` parameters: at most MAX_LINES, then how many more.

    A line longer than ``width`` loses the middle of its name, never its
    shape (``matmul_readv…resource 784×300``).
    """
    out = []
    for name, value in found[: MAX_LINES - 1] if len(found) > MAX_LINES else found:
        room = width - len(value) - 1
        if len(name) > room:
            keep = max(room - 1, 6)
            name = name[: (keep + 1) // 2] + "…" + name[len(name) - keep // 2:]
        out.append(f"{name} {value}")
    if len(found) > MAX_LINES:
        out.append(f"+ {len(found) - MAX_LINES + 1} more")
    return out


