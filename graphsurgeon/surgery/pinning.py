"""Pinning placeholders: what freeze and export do to the switches a served graph does not feed.

- A scalar ``PlaceholderWithDefault`` (the ``training`` switch of batch norm
  and dropout) that nothing will feed takes its default: its readers read
  the default tensor instead, and the switch is left for pruning.
- A placeholder named in ``values`` becomes a ``Const`` of that value, under
  its own name (``--set training=false``, ``--set keep_prob=1.0``).

Both edit the Graph they are given (the caller's working copy) through its
editing methods.
"""
from __future__ import annotations

from ..analysis.constants import Constants
from ..ir.build import const_node, constant_attrs
from ..vocab import dtypes as _dtypes
from ..vocab.optypes import PLACEHOLDER_TYPES

__all__ = ["pin_placeholders", "const_node", "scalar_tensor"]


def scalar_tensor(value, dtype: str):
    """A TensorProto holding ``value`` (a Python scalar, or bytes for strings) as ``dtype``, as Graph.constant makes it."""
    return constant_attrs(value, dtype)["value"].tensor


def is_switch(node) -> bool:
    """A scalar ``PlaceholderWithDefault``: a switch with a default (``training``)."""
    return node.op == "PlaceholderWithDefault" and len(node.attr["shape"].shape.dim) == 0 \
        and not node.attr["shape"].shape.unknown_rank


def pin_placeholders(g, values: dict | None = None, keep=()) -> tuple[list[str], list[str], list[str]]:
    """Pin the placeholders of ``g`` (edited in place); returns ``(made constant, rewired, notes)``.

    Args:
        g: the working graph.
        values: ``{placeholder name: value}`` to turn into constants (see
            :func:`graphsurgeon.surgery.freeze.parse_set_values`).
        keep: placeholder names left alone (signature inputs: fed when served).

    ``rewired`` are the switches whose readers now read their default.
    """
    values = dict(values or {})
    keep = set(keep)
    consts = Constants(g)
    made_const, rewired, notes = [], [], []
    for node in list(g.graph_def.node):
        name = node.name
        if node.op not in PLACEHOLDER_TYPES:
            continue
        dtype = _dtypes.base(_dtypes.name(node.attr["dtype"].type))
        if name in values:
            g.replace_op(const_node(name, values[name], dtype, node.device))
            made_const.append(name)
            notes.append(f"pinned {name} to {values[name]!r}")
        elif name not in keep and is_switch(node):
            default = next(ref.tensor for ref in g.input_refs(name) if not ref.control)
            g.rewire(f"{name}:0", default)
            rewired.append(name)
            value = consts.value(default)
            if value is None:
                said = ""
            elif value.size == 1:
                said = f" ({value.item()!r})"
            else:  # damaged: TensorFlow refuses a default of another shape than the placeholder's
                said = f" (of shape {list(value.shape)}, not the scalar {name} declares)"
            notes.append(f"pinned {name} to its default{said}")
    return made_const, rewired, notes
