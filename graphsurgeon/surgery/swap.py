"""Swap activations, transplant layers.

:func:`swap_ops` (TensorFlow-free) changes the type and attributes of ops in
place: ``Elu`` -> ``Relu``, ``LeakyRelu`` with ``alpha=0.2``, ... Only the
element-wise activations of :data:`SWAPPABLE` are exchanged (same input, same
output, same ``T``), so the rest of the graph stays valid. Attributes the new
type does not define are dropped; ``--attr`` values are checked against its
OpDef.

A training graph holds the *gradients* of those ops (``EluGrad`` under
``train/gradients/Elu_grad/``). After a swap they would belong to the old op,
so :func:`swap` rebuilds the gradients and the training op in TensorFlow
(:func:`graphsurgeon.surgery.freeze_layers.strip_training` then
:func:`graphsurgeon.tfbuild.rebuild_training`), or, with ``rebuild=False``,
refuses and names the gradient ops. :func:`swap_ops` alone always refuses
such a graph.

:func:`transplant` copies a layer's checkpoint values from another model,
after checking that the layer's input and output tensors and each variable
have the same shapes in both; a mismatch is refused naming both shapes.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..changes import Changes
from ..errors import NotFoundError, RewriteError, UsageError
from ..graph import Graph, format_shape

__all__ = ["swap_ops", "swap", "transplant", "gradient_ops", "SWAPPABLE"]

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
    from ..opdefs import shipped
    from .prune import _ensure_op_defs

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
        node = type(out.node_defs[name])()
        node.CopyFrom(out.node_defs[name])
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
    _ensure_op_defs(out, {to})
    changes = Changes(changed=names)
    changes.notes.append(f"{op_type} -> {to}" + (f" {attrs}" if attrs else ""))
    return out, changes


def _checkpoint(g: Graph) -> str | None:
    model = g.root.model
    return str(model.checkpoint) if model is not None and model.checkpoint else None


def write_model(g: Graph, out: Path, force: bool = False, values: dict | None = None) -> str:
    """Write ``g``: a file path (``.meta``/``.pb``/``.pbtxt``) through Graph.save, else a checkpoint directory.

    A directory gets ``model.ckpt`` with the input checkpoint's values (and
    ``values`` replacing some), written by TensorFlow.
    """
    out = Path(out)
    if out.suffix in (".meta", ".pb", ".pbtxt") or g.format == "graphdef" or g.format == "savedmodel":
        if values:
            raise UsageError(f"{out}: new values need a checkpoint directory as output")
        fmt = "meta" if out.suffix == ".meta" else ("graphdef" if out.suffix in (".pb", ".pbtxt") else None)
        return str(g.save(out, format=fmt, force=force))
    checkpoint = _checkpoint(g)
    if checkpoint is None or g.meta_graph is None:
        raise UsageError(f"{out}: a checkpoint directory needs a model with a checkpoint",
                         hint="write a .meta or .pb instead")
    from .. import tfbuild

    return tfbuild.transplant_values(g.meta_graph, checkpoint, out, values or {}, force=force)["output"]


def swap(model: str | Path | Graph, op_type: str, to: str, out: str | Path, *, attrs: dict | None = None,
         scope: str | None = None, rebuild: bool = True, force: bool = False) -> dict:
    """Swap activations and write the result (see the module documentation).

    Args:
        model: path or loaded Graph.
        op_type, to: the op types (``"Elu"``, ``"Relu"``).
        out: a ``.pb``/``.meta``/``.pbtxt`` file, or a directory for a checkpoint model.
        attrs: attributes of the new type (``{"alpha": "0.2"}``).
        scope: only ops under this name scope.
        rebuild: when the graph has gradients of the swapped ops, rebuild them
            and the training op (TensorFlow); False refuses instead.

    Returns:
        ``{"output", "changed", "rebuilt": bool, ...}``.
    """
    import graphsurgeon as gs

    g = model if isinstance(model, Graph) else gs.load(model)
    swapped, changes = swap_ops(g, op_type, to, attrs, scope, allow_gradients=rebuild)
    grads = gradient_ops(g, changes.changed)
    report = {"model": str(g.path) if g.path else None, "changed": changes.changed, "from": op_type, "to": to,
              "attrs": dict(attrs or {}), "rebuilt": False}
    if not grads:
        report["output"] = write_model(swapped, Path(out), force)
        return report
    checkpoint = _checkpoint(g)
    if checkpoint is None:
        raise RewriteError(f"{g.where}: rebuilding the gradients of the swapped ops needs the checkpoint",
                           hint="give the checkpoint directory or prefix")
    from .. import tfbuild
    from .freeze_layers import strip_training

    stripped, info, stripped_changes = strip_training(swapped)
    result = tfbuild.rebuild_training(stripped, info, checkpoint, out, force=force)
    report.update(result, rebuilt=True, removed_ops=len(stripped_changes.removed), notes=info.notes)
    return report


def transplant(model: str | Path | Graph, scope: str, source: str | Path | Graph, out: str | Path, *,
               source_scope: str | None = None, force: bool = False) -> dict:
    """Copy layer ``source_scope`` (default ``scope``) of ``source`` into layer ``scope`` of ``model``.

    The graph of ``model`` is unchanged; its checkpoint is copied to ``out``
    with the layer's variables taking the source's values.

    Raises:
        RewriteError: the layers' input/output tensors or variables differ in
            shape (both shapes are named), or a variable has no counterpart.
    """
    import graphsurgeon as gs

    from ..layers import layer, layers

    g = model if isinstance(model, Graph) else gs.load(model)
    src = source if isinstance(source, Graph) else gs.load(source)
    if _checkpoint(g) is None or _checkpoint(src) is None:
        which = g if _checkpoint(g) is None else src
        raise UsageError(f"{which.where}: a transplant needs the model's checkpoint",
                         hint="give the checkpoint directory or prefix")
    source_scope = (source_scope or scope).rstrip("/")
    target = layer(g, scope, layers(g))
    donor = layer(src, source_scope, layers(src))
    label = f"{donor.name!r} of {src.where} into {target.name!r} of {g.where}"

    def shapes(graph, tensors):
        return [(t, graph.tensor(t).shape) for t in tensors if graph.tensor(t).dtype != "bool"]

    for side in ("inputs", "outputs"):
        mine, theirs = shapes(g, getattr(target, side)), shapes(src, getattr(donor, side))
        if len(mine) != len(theirs):
            raise RewriteError(f"cannot transplant {label}: {len(theirs)} {side} vs {len(mine)}")
        for (t_name, t_shape), (s_name, s_shape) in zip(mine, theirs):
            if not _compatible(t_shape, s_shape):
                raise RewriteError(f"cannot transplant {label}: {side[:-1]} shape {format_shape(s_shape)} "
                                   f"({s_name}) does not match {format_shape(t_shape)} ({t_name})")
    donor_vars = {v.name[len(donor.name) + 1:]: v for v in donor.variables}
    from .. import tfbuild

    source_values = tfbuild.read_checkpoint(_checkpoint(src))
    values = {}
    for var in target.variables:
        rel = var.name[len(target.name) + 1:]
        other = donor_vars.get(rel)
        if other is None:
            raise RewriteError(f"cannot transplant {label}: {donor.name}/{rel} does not exist",
                               hint="the layers hold " + ", ".join(sorted(donor_vars)))
        if tuple(other.shape or ()) != tuple(var.shape or ()):
            raise RewriteError(f"cannot transplant {label}: variable {rel} has shape {format_shape(other.shape)} "
                               f"vs {format_shape(var.shape)}")
        if other.name not in source_values:
            raise RewriteError(f"{_checkpoint(src)}: holds no value for {other.name!r}")
        values[var.name] = source_values[other.name]
    result = tfbuild.transplant_values(g.meta_graph, _checkpoint(g), out, values, force=force)
    result.update(model=str(g.path) if g.path else None, source=str(src.path) if src.path else None,
                  layer=target.name, source_layer=donor.name)
    return result


def _compatible(a, b) -> bool:
    if a is None or b is None:
        return True  # unknown rank: TensorFlow decides at run time
    if len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a, b))
