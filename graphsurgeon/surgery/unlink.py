"""What stays behind when ops go: control inputs and colocations that named them (TensorFlow-free).

TensorFlow refuses a graph whose ops wait for (``^op``) or are colocated
with (``loc:@op`` in ``_class``) an op that is not there. A rewrite that
removes ops the rest of the graph only waited for, or replaces one op by
another, edits those references here before it removes them.
"""
from __future__ import annotations

from ..ir.graph import Graph
from ..vocab import names as _names

__all__ = ["drop_control_inputs", "move_colocations"]


def drop_control_inputs(g: Graph, removed, *, replacement: str | None = None) -> list[str]:
    """Drop the control inputs on ``removed`` ops from the ops that stay (edited in place); the ops changed.

    With ``replacement``, those ops wait for that op instead.
    """
    removed = set(removed)
    readers = {u.consumer for n in removed for u in g.uses(n) if u.control and u.consumer not in removed}
    changed = []
    for name in [n for n in g.node_defs if n in readers]:  # graph order
        inputs = [text for text in g.node_defs[name].input if not (text.startswith("^") and text[1:] in removed)]
        if replacement is not None and "^" + replacement not in inputs and name != replacement:
            inputs.append("^" + replacement)
        g.set_inputs(name, inputs)
        changed.append(name)
    return changed


def move_colocations(g: Graph, mapping: dict) -> list[str]:
    """Colocations naming ``old`` ops name ``mapping[old]`` instead, or go when it is None; the ops changed."""
    changed = []
    for name, node in list(g.node_defs.items()):
        if "_class" not in node.attr:
            continue
        locs = list(node.attr["_class"].list.s)
        fixed = []
        for text in locs:
            op = _names.colocation_op(text)
            if op in mapping:
                text = None if mapping[op] is None or mapping[op] == name else f"loc:@{mapping[op]}".encode()
            if text is not None and text not in fixed:
                fixed.append(text)
        if fixed != locs:
            edit = g.node_for_edit(name)
            if fixed:
                del edit.attr["_class"].list.s[:]
                edit.attr["_class"].list.s.extend(fixed)
            else:
                del edit.attr["_class"]
            changed.append(name)
    return changed
