"""Set the shape of input placeholders (a fixed batch, a dynamic one), TensorFlow-free.

Converters want a fixed batch size (TFLite, some accelerators) or a dynamic
one; a graph records the one it was built with in its placeholders'
``shape`` attributes and in the ``_output_shapes`` TensorFlow wrote for
every op downstream. Changing the placeholder alone leaves records that
contradict it, and TensorFlow's importer refuses a graph whose recorded
shape contradicts the shape it infers.

:func:`set_input_shape`:

1. sets each placeholder's ``shape`` (and its own ``_output_shapes``);
2. drops the ``_output_shapes`` of every op downstream (through data edges)
   and infers their shapes again with :mod:`graphsurgeon.analysis.shapes`;
3. refuses (RewriteError, naming the op) when an op downstream cannot take
   the new shape (:mod:`graphsurgeon.surgery.shape_check`: a Reshape to a constant
   shape with a hard-coded batch, a MatMul whose inner sizes no longer
   agree, ...);
4. writes the inferred shapes back as ``_output_shapes`` where the op had
   them (an output inference cannot tell is recorded as unknown: a record
   never contradicts the graph);
5. updates the shapes of signature inputs and outputs.

:func:`set_batch` sets the first dimension of the model's inputs (its
signature inputs, else its likely inputs of rank 1 or more).
"""
from __future__ import annotations

from ..analysis.endpoints import likely_inputs, likely_outputs
from ..analysis.shapes import format_shape, merge, shape_json
from ..errors import RewriteError, UsageError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..metagraph.signatures import RESERVED_KEYS, follow_shapes
from ..vocab import names as _names
from ..vocab.optypes import PLACEHOLDER_TYPES
from ..wording import plural
from .rewrite import rewrite
from .shape_check import conflicts

__all__ = ["set_input_shape", "set_batch", "parse_shape"]


def parse_shape(text: str) -> tuple:
    """``"-1,784"`` / ``"?,784"`` / ``"[1, 784]"`` -> ``(None, 784)``; ``""`` or ``"[]"`` -> ``()`` (a scalar)."""
    body = text.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    if not body.strip():
        return ()
    dims = []
    for part in body.split(","):
        part = part.strip()
        if part in ("?", "-1", "None", "none"):
            dims.append(None)
            continue
        try:
            value = int(part)
        except ValueError:
            raise UsageError(f"shape {text!r}: {part!r} is not a dimension (a size, or -1 / ? for unknown)") from None
        if value < -1:
            raise UsageError(f"shape {text!r}: {value} is not a dimension")
        dims.append(value)
    return tuple(dims)


def _set_shape_attr(attr, shape) -> None:
    attr.Clear()
    proto = attr.shape
    if shape is None:
        proto.unknown_rank = True
        return
    proto.SetInParent()
    for d in shape:
        proto.dim.add(size=-1 if d is None else int(d))


def _record(node, shapes) -> None:
    del node.attr["_output_shapes"].list.shape[:]
    for shape in shapes:
        proto = node.attr["_output_shapes"].list.shape.add()
        if shape is None:
            proto.unknown_rank = True
        else:
            for d in shape:
                proto.dim.add(size=-1 if d is None else int(d))


@rewrite(requires=("top_level",), reports=True)
def set_input_shape(g: Graph, shapes: dict) -> tuple[Graph, Changes]:
    """Give placeholders new shapes; returns ``(edited copy, Changes)`` (see the module documentation).

    Args:
        g: the graph (not modified).
        shapes: ``{placeholder or its tensor: shape}``, a shape a tuple / list
            (None or -1 for an unknown dimension), text (``"-1,784"``) or None (an unknown rank).

    Returns:
        ``changes.details``: ``inputs`` (tensor -> ``before``, ``after``),
        ``outputs`` (the signature outputs, or the ops nothing reads, whose
        shape changed: tensor -> ``before``, ``after``), ``recorded``
        (ops whose ``_output_shapes`` were rewritten) and ``unknown`` (outputs
        recorded as unknown because inference cannot tell).

    Raises:
        NotFoundError: a name is not in the graph.
        UsageError: it is not a placeholder's output 0.
        RewriteError: an op downstream cannot take the new shape (named, with why).

    Example:
        >>> one, changes = graphsurgeon.set_input_shape(g, {"X:0": (1, 784)})
        >>> one.tensor("logits:0").shape
        (1, 10)
    """
    if not shapes:
        raise UsageError("no input shape to set")
    wanted: dict[str, tuple] = {}
    for name, shape in shapes.items():
        tensor = g.tensor(name)  # NotFoundError with the closest names
        if tensor.op.type not in PLACEHOLDER_TYPES or tensor.index != 0:
            raise UsageError(f"{tensor.name} is not a placeholder (it is output {tensor.index} of a "
                             f"{tensor.op.type}); only inputs can be given a shape",
                             hint="graphsurgeon prune --inputs makes a tensor an input first")
        wanted[tensor.op_name] = parse_shape(shape) if isinstance(shape, str) else None if shape is None else \
            tuple(None if d is None or int(d) < 0 else int(d) for d in shape)  # None: unknown rank
    out = g.copy()
    changes = Changes()
    before = {name: g.tensor(name + ":0").shape for name in wanted}
    affected = out.descendants(list(wanted), control=False)
    had_record = {n for n in affected if "_output_shapes" in out.node_defs[n].attr}
    for name, shape in wanted.items():
        node = out.node_for_edit(name)
        _set_shape_attr(node.attr["shape"], shape)
        if "_output_shapes" in node.attr:
            _record(node, [shape])
    for name in had_record:
        del out.node_for_edit(name).attr["_output_shapes"]
    # A PlaceholderWithDefault's default must fit its new shape.
    for name, shape in wanted.items():
        if out.node_defs[name].op == "PlaceholderWithDefault":
            default = next((r for r in out.input_refs(name) if not r.control), None)
            got = out.tensor(default.tensor).shape if default is not None else None
            if got is not None and shape is not None and (len(got) != len(shape) or merge(got, shape) is None):
                raise RewriteError(f"{name}: its default has shape {format_shape(got)}, which does not fit "
                                   f"{format_shape(shape)}")
    found = conflicts(out, affected)
    if found:
        first = found[0]
        asked = ", ".join(f"{n}:0 {format_shape(s)}" for n, s in wanted.items())
        more = f" (and {plural(len(found) - 1, 'other op')})" if len(found) > 1 else ""
        raise RewriteError(f"cannot give {asked}: {first}{more}",
                           hint="that op has a size built in: change it first, or choose another shape")
    new_shapes = out.shapes
    unknown = []
    for name in sorted(had_record):
        recorded = new_shapes.get(name) or []
        _record(out.node_for_edit(name), recorded)
        unknown.extend(f"{name}:{i}" for i, s in enumerate(recorded) if s is None)
    new_shapes = out.shapes
    follow_shapes(out, affected | set(wanted))  # the signatures say the new shapes
    changes.changed = list(wanted) + sorted(had_record)
    changes.details["inputs"] = {f"{n}:0": {"before": shape_json(before[n]), "after": shape_json(wanted[n])} for n in wanted}
    changes.details["outputs"] = _changed_outputs(g, out, affected)
    changes.details["recorded"] = len(had_record)
    changes.details["unknown"] = unknown
    changes.notes.append(f"shapes inferred again for {plural(affected, 'op')} downstream; "
                         f"{plural(had_record, 'record')} of _output_shapes rewritten"
                         + (f" ({len(unknown)} outputs recorded as unknown: inference cannot tell)" if unknown else ""))
    return out, changes


def _changed_outputs(g: Graph, out: Graph, affected: set) -> dict:
    """The served outputs (signature outputs, else the likely outputs) whose shape changed."""
    names = []
    for key, sig in out.signatures.items():
        if key not in RESERVED_KEYS:
            names.extend(info["name"] for info in sig["outputs"].values() if info["name"])
    if not names:
        names = [t.name for t in likely_outputs(out) if t.op_name in affected]
    result = {}
    for name in sorted(dict.fromkeys(names)):
        if not _names.is_tensor_name(name) or name not in g or name not in out:
            continue
        if g.tensor(name).shape != out.tensor(name).shape:
            result[name] = {"before": shape_json(g.tensor(name).shape), "after": shape_json(out.tensor(name).shape)}
    return result


@rewrite(requires=("top_level",), reports=True)
def set_batch(g: Graph, batch: int | None, inputs=None) -> tuple[Graph, Changes]:
    """Set the first dimension of the model's inputs to ``batch`` (None or -1: dynamic).

    Args:
        g: the graph (not modified).
        batch: the batch size, or None / -1 for a dynamic batch.
        inputs: the placeholders (or their tensors) to change; default the
            signature inputs, else the likely inputs, of rank 1 or more.

    Returns:
        as :func:`set_input_shape`; ``changes.details["skipped"]`` names the
        inputs left alone (scalars, unknown rank).
    """
    if batch is not None and batch < -1 or batch == 0:
        raise UsageError(f"--batch {batch}: a batch is a positive size, or -1 for a dynamic one")
    size = None if batch is None or batch == -1 else int(batch)
    if inputs is None:
        names = []
        for key, sig in g.signatures.items():
            if key not in RESERVED_KEYS:
                names.extend(info["name"] for info in sig["inputs"].values() if info["name"])
        names = list(dict.fromkeys(names)) or [t.name for t in likely_inputs(g)]
    else:
        names = [g.tensor(n).name for n in inputs]
    shapes, skipped = {}, []
    for name in names:
        t = g.tensor(name)
        if t.op.type not in PLACEHOLDER_TYPES or t.shape is None or not t.shape:
            skipped.append(name)
            continue
        shapes[name] = (size,) + tuple(t.shape[1:])
    if not shapes:
        raise UsageError(f"{g.where}: no input with a batch dimension to set"
                         + (f" (left alone: {', '.join(skipped)})" if skipped else ""),
                         hint="name one with --input-shape TENSOR=DIMS")
    out, changes = set_input_shape(g, shapes)
    changes.details["skipped"] = skipped
    if skipped:
        changes.notes.append(f"left alone (no batch dimension): {', '.join(skipped)}")
    return out, changes
