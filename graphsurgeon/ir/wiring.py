"""Every op's inputs and consumers split into data and control edges, computed in bulk.

What ``show`` (an op's consumers and control outputs), ``render`` and
``explore`` (edges and stubs of a view) need from the whole graph. The same
answers as :meth:`graphsurgeon.Graph.uses` (``tests/test_indexes.py`` checks
it), without one ``Use`` per input: a training graph's gradient ops each wait
on every batch-norm update, millions of control inputs, walked here at C
speed as shared lists. Get it with ``g.wiring()`` (cached until an edit).
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter


@dataclass
class Wiring:
    """Every op's inputs and consumers split into data and control, control lists shared between equal ones.

    A training graph's gradient ops each wait on the same hundreds of
    batch-norm updates, and each update is waited on by the same tens of
    thousands of gradient ops: one tuple each, shared, lets a view work out
    where those edges lead once per list instead of once per edge.
    """

    data_in: dict[str, tuple]      # op -> ((producer, output index), ...)
    control_in: dict[str, tuple]   # op -> (producer, ...) of its control inputs (shared tuple)
    data_out: dict[str, tuple]     # op -> ((consumer, output index), ...)
    control_out: dict[str, tuple]  # op -> (consumer, ...) reading it by control edges (shared tuple)


_is_control = itemgetter(2)   # InputRef.control
_first = itemgetter(0)        # InputRef.op


def compute(graph) -> Wiring:
    # Millions of control inputs on a training graph: walk them at C speed (slices,
    # map), never one Python step per control edge, and build each consumer list of
    # a shared control list once (not once per op in it).
    interned: dict[tuple, tuple] = {}
    data_in, control_in = {}, {}
    for name in graph.node_defs:
        refs = graph.input_refs(name)
        if not refs:
            continue
        # TensorFlow writes control inputs after the data inputs: split there when it did.
        k = len(graph.data_refs(name))
        if any(map(_is_control, refs[:k])) or not all(map(_is_control, refs[k:])):
            data = tuple((op, index) for op, index, control in refs if not control)
            control = tuple(op for op, _, is_control in refs if is_control)
        else:
            data = tuple((op, index) for op, index, _ in refs[:k])
            control = tuple(map(_first, refs[k:]))
        if data:
            data_in[name] = data
        if control:
            control_in[name] = interned.setdefault(control, control)
    # Consumers, in the order of the GraphDef (what uses() lists), positions ascending.
    nodes = graph.node_defs
    data_out_lists: dict[str, list] = {}
    sharers: dict[int, tuple] = {}  # id of a control list -> (the list, [(position in GraphDef, consumer)])
    for position, node in enumerate(graph.graph_def.node):
        name = node.name
        for op, index in data_in.get(name, ()):
            if op in nodes:
                found = data_out_lists.get(op)
                if found is None:
                    data_out_lists[op] = [(name, index)]
                else:
                    found.append((name, index))
        control = control_in.get(name)
        if control is not None:
            entry = sharers.get(id(control))
            if entry is None:
                entry = sharers[id(control)] = (control, [])
            entry[1].append((position, name))
    chunks: dict[str, list] = {}   # producer -> the consumer lists of the control lists naming it
    for control, consumers in sharers.values():
        for op in control:
            if op in nodes:
                chunks.setdefault(op, []).append(consumers)
    control_out, built = {}, {}
    for op, lists in chunks.items():
        key = tuple(map(id, lists))
        out = built.get(key)
        if out is None:
            merged = lists[0] if len(lists) == 1 else sorted((c for lst in lists for c in lst), key=_first)
            out = built[key] = tuple(name for _, name in merged)
        control_out[op] = interned.setdefault(out, out)
    data_out = {op: tuple(found) for op, found in data_out_lists.items()}
    return Wiring(data_in, control_in, data_out, control_out)
