"""Which ops a model can run, and how: its entry points and the calls that reach every function.

An entry point is what TensorFlow runs without being asked for an op by
name: a signature (``serving_default``), an init op (``__saved_model_init_op``,
``saved_model_main_op``, ``legacy_init_op``, ``table_initializer``), the
saver (``saver_def``: restore runs at load), and the functions of a TF2
SavedModel's object graph, which ``tf.saved_model.load`` turns into
methods (``loaded.f(...)``). A top-level op is reached from an entry point
when the entry point's ops depend on it; a library function when a reached
op names it in any attribute (calls, ``If``/``While`` branches and bodies,
dataset functions: see :func:`graphsurgeon.ir.functions.called_functions`),
and then every op of its body counts as reached (function runtimes run
stateful ops whether or not a result needs them). Walks are iterative and
cycle-safe; the route kept for each function is the first found, breadth
first, entry points in the order above.
"""
from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass, field

from ..ir.functions import called_functions
from ..vocab.names import parse_input, split_tensor_name
from ..vocab.opdefs import shipped

INIT_COLLECTIONS = ("saved_model_main_op", "main_op", "legacy_init_op", "table_initializer")


@dataclass(frozen=True)
class Step:
    """One call on a route: ``op`` (in ``function``, None at top level) calls ``callee`` through ``attr``."""

    function: str | None
    op: str
    attr: str
    callee: str

    def as_dict(self) -> dict:
        return {"function": self.function, "op": self.op, "attr": self.attr, "calls": self.callee}

    def __str__(self) -> str:
        return f"{self.op} [{self.attr}] -> {self.callee}"


@dataclass
class Reach:
    """What a model's entry points reach.

    Attributes:
        entry_points: ``[{"kind", "name"}]``, in the order they were walked.
        top: top-level op name -> label of the first entry point reaching it.
        functions: function name -> ``(label, [Step, ...])``: the first route reaching it.
        call_sites: function name -> ``[(caller function or None, op name, attr)]``: every op naming it.
        save_ops: top-level ops the saver's save tensor depends on.
        restore_ops: top-level ops the saver's restore op depends on (they run on every load).
    """

    entry_points: list = field(default_factory=list)
    top: dict = field(default_factory=dict)
    functions: dict = field(default_factory=dict)
    call_sites: dict = field(default_factory=dict)
    save_ops: frozenset = frozenset()
    restore_ops: frozenset = frozenset()

    @property
    def saver_ops(self) -> frozenset:
        return self.save_ops | self.restore_ops

    @property
    def declared(self) -> bool:
        """Whether the model says how it is run (signatures, init ops, object graph); a bare graph does not."""
        return any(e["kind"] in ("signature", "init", "method") for e in self.entry_points)

    def route(self, function: str | None, op: str):
        """``(entry label, [Step])`` reaching ``op`` (in ``function``), or None when nothing reaches it."""
        if function is None:
            label = self.top.get(op)
            return None if label is None else (label, [])
        return self.functions.get(function)


def _op_of(tensor: str) -> str:
    return parse_input(tensor).op if tensor.startswith("^") else split_tensor_name(tensor)[0]


def _entry_points(g) -> list[tuple[str, str, list[str]]]:
    """``(kind, name, top-level op names)`` per entry point; methods carry function names instead."""
    meta = g.meta_graph
    if meta is None:
        return []
    out = []
    inits = []
    for key in sorted(meta.signature_def):
        sig = meta.signature_def[key]
        ops = [_op_of(t.name) for t in sig.outputs.values() if t.name] + \
              [_op_of(t.coo_sparse.values_tensor_name) for t in sig.outputs.values() if t.HasField("coo_sparse")]
        (inits if key == "__saved_model_init_op" else out).append(("init" if key == "__saved_model_init_op"
                                                                  else "signature", key, ops))
    for key in INIT_COLLECTIONS:
        if key in meta.collection_def:
            values = list(meta.collection_def[key].node_list.value)
            if values:
                inits.append(("init", key, [_op_of(v) for v in values]))
    out += inits
    saver = meta.saver_def if meta.HasField("saver_def") else None
    if saver is not None:
        # The restore op first: it runs on every load, and a route through it says so.
        ops = [_op_of(n) for n in (saver.restore_op_name, saver.save_tensor_name) if n]
        if ops:
            out.append(("saver", "saver_def", ops))
    if meta.HasField("object_graph_def"):
        for path, names in _object_methods(meta.object_graph_def):
            out.append(("method", path, names))
    return out


def _object_methods(object_graph) -> list[tuple[str, list[str]]]:
    """``(root.path, [concrete function names])`` for every function of the object graph, breadth first."""
    nodes = object_graph.nodes
    if not len(nodes):
        return []
    paths = {0: "root"}
    queue = deque([0])
    while queue:
        node_id = queue.popleft()
        for child in nodes[node_id].children:
            if 0 <= child.node_id < len(nodes) and child.node_id not in paths:
                paths[child.node_id] = f"{paths[node_id]}.{child.local_name}"
                queue.append(child.node_id)
    out = []
    for node_id, path in sorted(paths.items(), key=lambda item: item[1]):
        node = nodes[node_id]
        kind = node.WhichOneof("kind")
        if kind == "function" and len(node.function.concrete_functions):
            out.append((path, list(node.function.concrete_functions)))
        elif kind == "bare_concrete_function" and node.bare_concrete_function.concrete_function_name:
            out.append((path, [node.bare_concrete_function.concrete_function_name]))
    return out


@functools.lru_cache(maxsize=1)
def _calling_types() -> frozenset:
    """Op types of the shipped registry with a function attribute: the only known ones that call functions."""
    return frozenset(name for name, op in shipped().items()
                     if any(a.type in ("func", "list(func)") for a in op.attr))


def calls(g) -> dict[tuple[str | None, str], list[tuple[str, str]]]:
    """``(function or None, op) -> [(attr, callee)]`` for every op that calls a library function.

    Only op types that can (a function attribute in their OpDef, a library
    function's name, a type no registry knows) are looked at: reading every
    attribute of every op is most of a scan's time otherwise.
    """
    library = g.library
    if not library:
        return {}
    known, calling = shipped(), _calling_types()
    out = {}
    bodies = [(None, g.node_defs.values())] + [(name, fdef.node_def) for name, fdef in library.items()]
    for function, nodes in bodies:
        for node in nodes:
            op = node.op
            if op in calling or op in library or op not in known:
                found = called_functions(node, library)
                if found:
                    out[(function, node.name)] = found
    return out


def call_sites(g, called=None) -> dict[str, list[tuple[str | None, str, str]]]:
    """Every op (top level and in bodies) that names a library function: callee -> [(function, op, attr)]."""
    sites: dict[str, list] = {}
    for (function, op), found in (calls(g) if called is None else called).items():
        for attr, callee in found:
            sites.setdefault(callee, []).append((function, op, attr))
    return sites


def reach(g) -> Reach:
    """Walk ``g`` from its entry points (see the module docstring)."""
    library = g.library
    nodes = g.node_defs
    called = calls(g)
    result = Reach(call_sites=call_sites(g, called))
    queue: deque = deque()
    methods = []
    for kind, name, ops in _entry_points(g):
        result.entry_points.append({"kind": kind, "name": name})
        label = f"{kind} {name}"
        if kind == "method":
            methods.append((label, ops))
            continue
        present = [op for op in ops if op in nodes]
        fresh = g.ancestors(present, include_roots=True, stop=result.top.keys()) if present else set()
        for op in fresh:
            if op in nodes and op not in result.top:
                result.top[op] = label
                for attr, callee in called.get((None, op), ()):
                    queue.append((callee, label, [Step(None, op, attr, callee)]))
        if kind == "saver":
            saver = g.meta_graph.saver_def
            for attr, name in (("restore_ops", saver.restore_op_name), ("save_ops", saver.save_tensor_name)):
                root = _op_of(name) if name else None
                if root in nodes:
                    setattr(result, attr, frozenset(op for op in g.ancestors([root], include_roots=True)
                                                    if op in nodes))
    _walk_calls(queue, result, library, called)
    # Methods last: a function a signature reaches is shown reached from the signature.
    for label, names in methods:
        for callee in names:
            queue.append((callee, label, []))
    _walk_calls(queue, result, library, called)
    return result


def _walk_calls(queue: deque, result: Reach, library, called: dict) -> None:
    while queue:
        name, label, steps = queue.popleft()
        if name in result.functions or name not in library:
            continue
        result.functions[name] = (label, steps)
        for node in library[name].node_def:
            for attr, callee in called.get((name, node.name), ()):
                if callee not in result.functions:
                    queue.append((callee, label, steps + [Step(name, node.name, attr, callee)]))
