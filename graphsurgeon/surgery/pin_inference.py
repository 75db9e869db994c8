"""Pin batch-norm layers to inference mode (TensorFlow-free).

A frozen batch norm must not move: inside each scope, the ops that read a
bool tensor from outside (the ``training`` switch) read a new constant False
``<scope>/inference_mode`` instead, and the scope's ops that write its
variables (the moving-average updates) go, with what only they need, and so
leave ``update_ops``. Without this a frozen batch norm would still update its
statistics whenever ``training`` is fed True.
"""
from __future__ import annotations

from ..errors import RewriteError
from ..ir.changes import Changes
from ..ir.graph import Graph
from ..vocab.optypes import VARIABLE_TYPES, writes_variable
from .rewrite import rewrite
from .unlink import drop_control_inputs, move_colocations

__all__ = ["pin_inference"]


@rewrite(requires=("top_level",), reports=True)
def pin_inference(g: Graph, bn_scopes) -> tuple[Graph, Changes]:
    """Make the batch-norm layers ``bn_scopes`` run in inference mode; returns ``(edited copy, Changes)``.

    Raises:
        RewriteError: something outside a scope reads the value of its update ops
            (control inputs on them are dropped: a training op built under
            ``control_dependencies(update_ops)`` no longer waits for them).
    """
    out = g  # the copy gs.rewrite gives
    changes = Changes()
    for scope in bn_scopes:
        members = out.ops(scope=scope)
        member_names = {op.name for op in members}
        switches: dict[str, list[str]] = {}
        for op in members:
            for t in op.inputs:
                if t.op_name not in member_names and t.dtype == "bool":
                    switches.setdefault(t.name, []).append(op.name)
        if switches:
            const_name = scope + "/inference_mode"
            if const_name not in out:
                out.constant(False, name=const_name)
                changes.added.append(const_name)
            for tensor, readers in switches.items():
                changed = out.rewire(tensor, const_name, only=readers)
                changes.changed.extend(changed)
        # Moving-statistics updates: writers of the scope's variables other than their initializers.
        variables_here = {op.name for op in members if op.type in VARIABLE_TYPES}
        writers = set()
        for op in out.ops(scope=scope):
            if writes_variable(op.type) and op.inputs and op.inputs[0].op_name in variables_here:
                if op.name.startswith(op.inputs[0].op_name + "/"):
                    continue  # the variable's own initializer
                writers.add(op.name)
        if not writers:
            continue
        # What reads the updates inside the scope (resource style reads the new value back),
        # plus what only the writers read, inside the scope.
        remove = set(writers) | (out.descendants(writers) & member_names)
        grow = True
        while grow:
            grow = False
            for name in member_names - remove:
                node = out.node_defs.get(name)
                if node is None or node.op in VARIABLE_TYPES:
                    continue
                users = out.uses(name)
                if users and all(u.consumer in remove for u in users):
                    remove.add(name)
                    grow = True
        stray = [u.consumer for n in remove for u in out.uses(n) if u.consumer not in remove and not u.control]
        if stray:
            raise RewriteError(f"cannot pin {scope!r} to inference: {stray[0]!r} reads its update ops",
                               hint="strip the training op first")
        # Ops that waited for the updates (a training op built under
        # control_dependencies(update_ops)) now wait for nothing of them.
        changes.changed.extend(drop_control_inputs(out, remove))
        changes.changed.extend(move_colocations(out, dict.fromkeys(remove)))
        changes.extend(out.remove_ops(remove))
    changes.changed = list(dict.fromkeys(changes.changed))
    return changes
