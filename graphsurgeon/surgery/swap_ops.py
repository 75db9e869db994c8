"""Swap element-wise activations (TensorFlow-free), gradients included.

:func:`swap_ops` changes the type and attributes of ops in place: ``Elu`` ->
``Relu``, ``LeakyRelu`` with ``alpha=0.2``, ... Only the element-wise
activations of :data:`SWAPPABLE` are exchanged (same input, same output,
same ``T``), so the rest of the graph stays valid. Attributes the new type
does not define are dropped; ``attrs`` values are checked against its OpDef.

A training graph also holds the *gradients* of those ops: TensorFlow's
gradient of an activation is one op of its own (``EluGrad`` under
``gradients/Elu_grad/``; for ``Softplus``, ``grad * sigmoid(x)``), reading
the incoming gradient and the activation's output or input. Each is
replaced by the new type's, wired as TensorFlow's gradient function wires
it (:data:`GRADIENTS`), so the training op, its optimizer and everything
else stay as they were, whatever the optimizer. A gradient built otherwise
(a second-order gradient of the activation, a custom gradient) is not
touched: :func:`swap_ops` refuses, naming it, unless its caller rebuilds
the gradients (:func:`graphsurgeon.training.swap.swap`).
"""
from __future__ import annotations

from ..errors import NotFoundError, RewriteError, UsageError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..vocab import names as _names
from ..vocab import protos
from ..vocab.opdefs import shipped
from ..vocab.optypes import GRADIENT_OF as _GRADIENT_GROUP
from .contract import ensures
from .unlink import drop_control_inputs, move_colocations

__all__ = ["swap_ops", "gradient_ops", "parse_attrs", "SWAPPABLE", "GRADIENTS"]

SWAPPABLE = ("Elu", "Selu", "Relu", "Relu6", "LeakyRelu", "Sigmoid", "Tanh", "Softplus", "Softsign")
# An activation's gradient as TensorFlow's gradient functions build it
# (tensorflow/python/ops/nn_grad.py, math_grad.py): the op type and what it
# reads, in order: the incoming gradient, the activation's output y or input x.
GRADIENTS = {
    "Relu": ("ReluGrad", ("grad", "y")),
    "Relu6": ("Relu6Grad", ("grad", "y")),
    "Elu": ("EluGrad", ("grad", "y")),
    "Selu": ("SeluGrad", ("grad", "y")),
    "LeakyRelu": ("LeakyReluGrad", ("grad", "x")),
    "Softsign": ("SoftsignGrad", ("grad", "x")),
    "Softplus": ("SoftplusGrad", ("grad", "x")),
    "Sigmoid": ("SigmoidGrad", ("y", "grad")),
    "Tanh": ("TanhGrad", ("y", "grad")),
}


def parse_attrs(items) -> dict:
    """``["alpha=0.2"]`` -> ``{"alpha": "0.2"}`` (typed later against the OpDef)."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--attr {item!r}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


def _set_attr(node, op_def, key: str, value) -> None:
    spec = next((a for a in op_def.attr if a.name == key), None)
    if spec is None:
        raise UsageError(f"{op_def.name} has no attribute {key!r}",
                         hint="it has " + (", ".join(a.name for a in op_def.attr) or "none"))
    attr = node.attr[key]
    attr.Clear()
    try:
        if spec.type == "float":
            attr.f = float(value)
        elif spec.type == "int":
            attr.i = int(value)
        elif spec.type == "bool":
            if str(value).lower() not in ("true", "false", "1", "0"):
                raise ValueError(value)
            attr.b = str(value).lower() in ("true", "1")
        elif spec.type == "string":
            attr.s = str(value).encode()
        else:
            raise UsageError(f"{op_def.name}.{key} is of type {spec.type}; --attr sets float, int, bool, string")
    except ValueError:
        raise UsageError(f"--attr {key}={value}: not a {spec.type}") from None


def gradient_ops(g: Graph, op_names) -> list[str]:
    """Ops computing gradients of ``op_names`` (``.../gradients/<op>_grad/...``, or ``<Type>Grad`` readers)."""
    names = set(op_names)
    if not names:
        return []
    groups = _gradient_groups(g, names)
    out = [op for members in groups.values() for op in members]
    taken = set(out)
    for op in g:
        if op.name not in taken and op.type.endswith("Grad") and any(t.op_name in names for t in op.inputs):
            out.append(op.name)
    return out


def _gradient_groups(g: Graph, names: set[str]) -> dict[tuple[str, str], list[str]]:
    """``{(gradient scope, op): [ops]}``: what each ``tf.gradients`` call built for each op of ``names``."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name in g.node_defs:
        if "_grad/" not in name:
            continue
        m = _GRADIENT_GROUP.match(name)
        if m and m.group(2) in names:
            groups.setdefault((m.group(0), m.group(2)), []).append(name)
    return groups


def _replace_gradient(out: Graph, prefix: str, op: str, members: list[str]) -> str:
    """Replace the gradient ``members`` of activation ``op`` (already swapped) by its new type's; the new op.

    ``members`` are removed; the ops that read or waited for them read or wait for the new op.

    Raises:
        RewriteError: the group is not one activation gradient as TensorFlow builds it.
    """
    nodes = out.node_defs
    node = nodes[op]
    grad_type, reads = GRADIENTS[node.op]
    inside = set(members)
    y = f"{op}:0"
    x = _names.parse_input(node.input[0]).tensor if node.input else None
    incoming = set()
    for member in members:
        for ref in out.input_refs(member):
            if ref.control or ref.op in inside or ref.tensor in (x, y):
                continue
            if ref.op in nodes and nodes[ref.op].op == "Const":
                continue
            incoming.add(ref.tensor)
    readers: dict[str, set[str]] = {}
    for member in members:
        for use in out.uses(member):
            if use.consumer not in inside and not use.control:
                readers.setdefault(f"{member}:{use.index}", set()).add(use.consumer)
    if len(incoming) != 1 or len(readers) != 1:
        raise RewriteError(f"{members[0]!r} is not a gradient of {op!r} as TensorFlow builds one "
                           f"({len(incoming)} incoming gradients, {len(readers)} results read)")
    (grad,), ((old, consumers),) = incoming, readers.items()
    if any(_GRADIENT_GROUP.match(c) and any(f"/{m.rsplit('/', 1)[-1]}_grad/" in c for m in members)
           for c in consumers):
        raise RewriteError(f"{old!r} has gradients of its own (a second-order gradient of {op!r})")
    values = {"grad": grad, "y": y, "x": x}
    new = protos.NodeDef(name=_names.unique_name(prefix + grad_type, nodes), op=grad_type,
                         device=nodes[_names.split_tensor_name(old)[0]].device)
    new.input.extend(values[r] for r in reads)
    new.attr["T"].CopyFrom(node.attr["T"])
    if "alpha" in node.attr and grad_type == "LeakyReluGrad":
        new.attr["alpha"].CopyFrom(node.attr["alpha"])
    out.add_op(new)
    out.rewire(old, f"{new.name}:0", only=consumers)
    drop_control_inputs(out, inside, replacement=new.name)
    move_colocations(out, dict.fromkeys(inside, new.name))
    out.remove_ops(members)
    return new.name


def swap_ops(g: Graph, op_type: str, to: str, attrs: dict | None = None, scope: str | None = None,
             allow_gradients: bool = False) -> tuple[Graph, Changes]:
    """Change every ``op_type`` op (under ``scope``) into ``to``, gradients included; returns ``(copy, Changes)``.

    ``changes.details`` holds ``from``, ``to``, ``attrs``, ``gradients``
    (the gradient ops put in place of the old ones) and ``unswapped``
    (gradient ops left as they were: only with ``allow_gradients``).

    Raises:
        UsageError: a type outside :data:`SWAPPABLE`, or an unknown attribute.
        NotFoundError: no op of that type (under that scope).
        RewriteError: a gradient of a swapped op that is not built as
            TensorFlow builds one (unless ``allow_gradients``, for a caller
            that rebuilds the gradients).

    Example:
        >>> relu, changes = swap_ops(graphsurgeon.load("fixtures/models/mnist_bn_elu_frozen.pb"), "Elu", "Relu")
        >>> changes.changed
        ['Elu', 'Elu_1']
    """
    for name in (op_type, to):
        if name not in SWAPPABLE:
            raise UsageError(f"cannot swap {name!r}: only element-wise activations are swapped",
                             hint=", ".join(SWAPPABLE))
    op_def = g.registry.get(to) or shipped().get(to)
    if op_def is None:  # pragma: no cover - the shipped registry has them all
        raise UsageError(f"no OpDef for {to!r}")
    targets = g.ops(type=op_type, scope=scope)
    if not targets:
        where = f" under {scope!r}" if scope else ""
        raise NotFoundError(f"op type{where}", op_type, {op.type for op in g}, where=g.where)
    names = [op.name for op in targets]
    out = g.copy()
    allowed = {a.name for a in op_def.attr}
    for name in names:
        node = type(out.node_def(name))()
        node.CopyFrom(out.node_def(name))
        node.op = to
        for key in list(node.attr):
            if key not in allowed and not key.startswith("_"):
                del node.attr[key]
        for spec in op_def.attr:  # defaults the new type needs (LeakyRelu's alpha)
            if spec.name not in node.attr and spec.HasField("default_value"):
                node.attr[spec.name].CopyFrom(spec.default_value)
        for key, value in (attrs or {}).items():
            _set_attr(node, op_def, key, value)
        out.replace_op(node)
    swapped, unswapped, replaced = [], [], []
    for (prefix, op), members in _gradient_groups(out, set(names)).items():
        try:
            swapped.append(_replace_gradient(out, prefix, op, members))
            replaced.extend(members)
        except RewriteError as exc:
            if not allow_gradients:
                raise RewriteError(f"{g.where}: cannot swap the gradient of {op!r}: {exc.message}",
                                   hint="graphsurgeon swap rebuilds the gradients in TensorFlow by default; or "
                                        "swap in an inference graph") from None
            unswapped.extend(members)
    strays = [op.name for op in out if op.type.endswith("Grad") and op.name not in swapped
              and any(t.op_name in set(names) for t in op.inputs)]
    if strays and not allow_gradients:
        raise RewriteError(f"{g.where}: {strays[0]!r} is a gradient of the {op_type} ops being swapped, outside "
                           "the gradient scopes TensorFlow makes; it cannot be swapped op by op",
                           hint="graphsurgeon swap rebuilds the gradients in TensorFlow by default; or swap in "
                                "an inference graph")
    unswapped.extend(strays)
    out.ensure_op_defs({to} | {out.node_defs[n].op for n in swapped})
    changes = Changes(changed=names, added=swapped, removed=replaced)
    changes.notes.append(f"{op_type} -> {to}" + (f" {attrs}" if attrs else "")
                         + (f"; their gradients too ({', '.join(out.node_defs[n].op for n in swapped[:1])})"
                            if swapped else ""))
    changes.details.update({"from": op_type, "to": to, "attrs": dict(attrs or {}), "gradients": swapped,
                            "unswapped": unswapped})
    ensures(out, changes, before=g)
    return out, changes
