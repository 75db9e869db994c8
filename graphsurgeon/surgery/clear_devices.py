"""Clear device placements, so that a graph trained on a GPU runs on a CPU host (TensorFlow-free).

A graph built under ``tf.device("/device:GPU:0")`` records that device on
every op; a session on a host without that GPU refuses to run it ("Cannot
assign a device for operation ...") unless soft placement is on, and
TensorFlow Serving does not turn it on. TensorFlow's own remedy is
``import_meta_graph(clear_devices=True)`` (or ``SavedModelBuilder(...,
clear_devices=True)``), inside a session. This rewrite does what they do to
the file: every op's ``device`` becomes empty.

Colocation constraints (``_class: ["loc:@op"]``) are kept, as TensorFlow
keeps them: ``import_meta_graph(clear_devices=True)`` and
``export_meta_graph(clear_devices=True)`` clear ``NodeDef.device`` and
nothing else (TensorFlow 2.21, ``meta_graph.py``). A colocated op then
follows its target, which has no device either, so the constraint names no
device and always holds. Ops inside function bodies are cleared too (where
import_meta_graph leaves them): a body pinned to a GPU fails the same way.
"""
from __future__ import annotations

from ..ir.changes import Changes
from .rewrite import rewrite

__all__ = ["clear_devices"]


@rewrite(requires=(), reports=True)
def clear_devices(g, functions: bool = True) -> tuple:
    """A copy of ``g`` with every op's device cleared; returns ``(Graph, Changes)``.

    Args:
        g: the graph (not modified; a function body clears its whole graph).
        functions: also clear the ops of function bodies.

    ``changes.changed`` lists the top-level ops whose device was set;
    ``changes.details["devices"]`` the devices cleared (with op counts) and
    ``details["function_ops"]`` how many function-body ops were cleared.

    Example:
        >>> cpu, changes = graphsurgeon.clear_devices(g)
        >>> {op.device for op in cpu}
        {''}
    """
    out = g.root  # the copy gs.rewrite gives
    changes = Changes()
    devices: dict[str, int] = {}
    for node in out.graph_def.node:
        if node.device:
            devices[node.device] = devices.get(node.device, 0) + 1
            changes.changed.append(node.name)
    for name in changes.changed:
        out.set_device(name, "")
    in_functions = 0
    if functions:
        for name, function in out.library.items():
            placed = [node for node in function.node_def if node.device]
            if not placed:
                continue
            body = out.function(name)
            with body.batch():  # written back to the library once
                for node in placed:
                    devices[node.device] = devices.get(node.device, 0) + 1
                    body.set_device(node.name, "")
                    in_functions += 1
    changes.details["devices"] = dict(sorted(devices.items()))
    changes.details["function_ops"] = in_functions
    if changes.changed or in_functions:
        where = f" and {in_functions} in function bodies" if in_functions else ""
        changes.notes.append(f"cleared the device of {len(changes.changed)} op{'s' if len(changes.changed) != 1 else ''}"
                             f"{where} ({', '.join(sorted(devices))}); colocation (_class) kept, as TensorFlow keeps it")
    else:
        changes.notes.append("no op had a device: nothing to clear")
    return changes
