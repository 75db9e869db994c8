"""Swap element-wise activations (TensorFlow-free).

:func:`swap_ops` changes the type and attributes of ops in place: ``Elu`` ->
``Relu``, ``LeakyRelu`` with ``alpha=0.2``, ... Only the element-wise
activations of :data:`SWAPPABLE` are exchanged (same input, same output,
same ``T``), so the rest of the graph stays valid. Attributes the new type
does not define are dropped; ``attrs`` values are checked against its OpDef.

A training graph holds the *gradients* of those ops (``EluGrad`` under
``train/gradients/Elu_grad/``). After a swap they would belong to the old
op: :func:`swap_ops` refuses such a graph (naming the gradient ops) unless
its caller rebuilds them, as :func:`graphsurgeon.training.swap.swap` does.
"""
from __future__ import annotations

import re

from ..errors import NotFoundError, RewriteError, UsageError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..vocab.opdefs import shipped
from .contract import ensures

__all__ = ["swap_ops", "gradient_ops", "parse_attrs", "SWAPPABLE"]

SWAPPABLE = ("Elu", "Selu", "Relu", "Relu6", "LeakyRelu", "Sigmoid", "Tanh", "Softplus", "Softsign")


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
    pattern = re.compile(r"(?:^|/)gradients(?:_\d+)?/(.+?)_grad/")
    out = []
    for op in g:
        m = pattern.search(op.name)
        if m and m.group(1) in names:
            out.append(op.name)
        elif op.type.endswith("Grad") and any(t.op_name in names for t in op.inputs):
            out.append(op.name)
    return out


def swap_ops(g: Graph, op_type: str, to: str, attrs: dict | None = None, scope: str | None = None,
             allow_gradients: bool = False) -> tuple[Graph, Changes]:
    """Change every ``op_type`` op (under ``scope``) into ``to``; returns ``(edited copy, Changes)``.

    Raises:
        UsageError: a type outside :data:`SWAPPABLE`, or an unknown attribute.
        NotFoundError: no op of that type (under that scope).
        RewriteError: the graph has gradients of those ops (unless ``allow_gradients``,
            for a caller that rebuilds them).

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
    grads = gradient_ops(g, names)
    if grads and not allow_gradients:
        raise RewriteError(f"{g.where}: {grads[0]!r} is a gradient of the {op_type} ops being swapped "
                           f"({len(grads)} gradient ops)",
                           hint="rebuild the training op (graphsurgeon swap rebuilds it by default), "
                                "or swap in an inference graph")
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
    out.ensure_op_defs({to})
    changes = Changes(changed=names)
    changes.notes.append(f"{op_type} -> {to}" + (f" {attrs}" if attrs else ""))
    changes.details.update({"from": op_type, "to": to, "attrs": dict(attrs or {}), "gradients": grads})
    ensures(out, changes, before=g)
    return out, changes
