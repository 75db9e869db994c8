"""Which ops a picture shows: a scope, the paths between two tensors, the network without its training machinery.

Every walk here is iterative and cycle-safe (TF1 while loops have back
edges), and none imports TensorFlow.
"""
from __future__ import annotations

from collections import deque

from ..errors import NotFoundError, UsageError

def scope_ops(g, scope: str) -> set[str]:
    """Names of the ops in name scope ``scope`` (and the op called ``scope`` itself, if any)."""
    scope = scope.strip("/")
    prefix = scope + "/"
    found = {node.name for node in g.graph_def.node if node.name == scope or node.name.startswith(prefix)}
    if not found:
        raise NotFoundError("scope", scope, sorted(all_scopes(g)), where=g.where)
    return found


def all_scopes(g) -> set[str]:
    """Every name scope of the graph (``a``, ``a/b`` for an op ``a/b/c``)."""
    scopes: set[str] = set()
    for node in g.graph_def.node:
        name = node.name
        cut = name.rfind("/")
        while cut > 0:
            prefix = name[:cut]
            if prefix in scopes:
                break
            scopes.add(prefix)
            cut = prefix.rfind("/")
    return scopes


def ops_between(g, source: str, target: str) -> set[str]:
    """Names of the ops on data paths from tensor ``source`` to tensor ``target`` (both ops included).

    ``source`` and ``target`` are tensor names (``X:0``) or op names (output 0).
    Only data edges are followed; loops (TF1 ``NextIteration`` back edges)
    are walked once.

    Raises:
        NotFoundError: a name is not in the graph.
        UsageError: no data path leads from ``source`` to ``target``.

    Example:
        >>> sorted(ops_between(g, "hidden1/MatMul:0", "Elu:0"))[:2]
        ['Elu', 'batch_normalization/batchnorm/add_1']
    """
    src = g.tensor(source)
    dst = g.tensor(target)
    consumers = g.uses
    forward = {src.op_name}
    queue = deque(c for c, _, idx in consumers(src.op_name) if idx == src.index)
    while queue:
        name = queue.popleft()
        if name in forward:
            continue
        forward.add(name)
        queue.extend(c for c, _, idx in consumers(name) if idx >= 0 and c not in forward)
    if dst.op_name not in forward:
        raise UsageError(f"no data path from {src.name} to {dst.name} in {g.where}",
                         hint="check the direction: --between INPUT_TENSOR OUTPUT_TENSOR")
    nodes = {node.name: node for node in g.graph_def.node}
    backward: set[str] = set()
    queue = deque([dst.op_name])
    while queue:
        name = queue.popleft()
        if name in backward:
            continue
        backward.add(name)
        if name not in nodes:
            continue
        for text in nodes[name].input:
            if not text.startswith("^"):
                producer = text.rsplit(":", 1)[0] if ":" in text else text
                if producer in forward and producer not in backward:
                    queue.append(producer)
    return forward & backward
