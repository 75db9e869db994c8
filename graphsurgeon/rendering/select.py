"""Which ops a picture shows: a scope, the paths between two tensors, the function a SavedModel serves.

Every walk here is iterative and cycle-safe (TF1 while loops have back
edges), and none imports TensorFlow.
"""
from __future__ import annotations

from collections import deque

from ..errors import NotFoundError, UsageError
from ..vocab.optypes import CALL_OPS
from .scopes import prefix


def scope_ops(g, scope: str) -> set[str]:
    """Names of the ops in name scope ``scope`` (and the op called ``scope`` itself, if any)."""
    scope = scope.strip("/")
    head = scope + "/"
    found = {name for name in g.node_defs if name == scope or name.startswith(head)}
    if not found:
        raise NotFoundError("scope", scope, scope_candidates(g, scope), where=g.where)
    return found


def scope_candidates(g, name: str) -> set[str]:
    """Scopes to suggest for a mistyped ``name``: those at most one level deeper than it.

    Not every scope: in a graph 50,000 scopes deep, listing them all costs
    gigabytes, and a suggestion deeper than the question helps nobody.
    """
    limit = name.count("/") + 2
    out: set[str] = set()
    for op in g.node_defs:
        for k in range(1, min(op.count("/"), limit) + 1):
            out.add(prefix(op, k))
    return out


def all_scopes(g) -> set[str]:
    """Every name scope of the graph (``a``, ``a/b`` for an op ``a/b/c``).

    Costs the square of the depth for deeply nested names: the renderer
    does not use it (see :mod:`graphsurgeon.rendering.scopes`).
    """
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
    nodes = g.node_defs
    backward: set[str] = set()
    queue = deque([dst.op_name])
    while queue:
        name = queue.popleft()
        if name in backward:
            continue
        backward.add(name)
        if name not in nodes:
            continue
        for ref in g.input_refs(name):
            if not ref.control and ref.op in forward and ref.op not in backward:
                queue.append(ref.op)
    return forward & backward


# What a signature wrapper holds besides its one call: arguments, results and plumbing.
_PLUMBING = frozenset({"_Arg", "_Retval", "Identity", "IdentityN", "NoOp", "Const"})


def serving_function(g) -> tuple[str, str] | None:
    """``(function, signature key)`` for a TF2 SavedModel: the function its serving signature runs.

    TF2 SavedModels keep the network in library functions: the top level
    is variables feeding a ``StatefulPartitionedCall``. The function is
    found from the signature's outputs (``serving_default``, else the only
    signature with outputs): the call producing them all, then through
    wrappers that only pass arguments on to one other call
    (``__inference_signature_wrapper_*`` -> ``__inference_serve_*``).
    None when the outputs are ordinary tensors (TF1 SavedModels, graphs).
    """
    signatures = {k: v for k, v in g.signatures.items() if v["outputs"] and not k.startswith("__")}
    key = "serving_default" if "serving_default" in signatures else (
        next(iter(signatures)) if len(signatures) == 1 else None)
    if key is None:
        return None
    producers = {info["name"].split(":")[0] for info in signatures[key]["outputs"].values() if info.get("name")}
    if len(producers) != 1:
        return None
    node = g.node_defs.get(producers.pop())
    if node is None or node.op not in CALL_OPS or not node.attr["f"].func.name:
        return None
    function = node.attr["f"].func.name
    library = g.library
    seen = set()
    while function in library and function not in seen:  # seen: a wrapper calling itself ends the walk
        seen.add(function)
        body = library[function].node_def
        calls = [n for n in body if n.op in CALL_OPS]
        if len(calls) != 1 or any(n.op not in _PLUMBING and n.op not in CALL_OPS for n in body):
            break
        inner = calls[0].attr["f"].func.name
        if inner not in library:
            break
        function = inner
    return (function, key) if function in library else None
