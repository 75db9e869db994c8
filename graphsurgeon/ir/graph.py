"""The Graph: TensorFlow's protos as the source of truth, with a public index.

A :class:`Graph` holds the GraphDef (and the MetaGraphDef around it, when
there is one) exactly as read; :class:`Op` and :class:`Tensor` are light
views on its nodes; a :class:`FunctionGraph` is the body of one library
function seen as a graph. Every query and every rewrite of graphsurgeon runs
on this API; nothing outside this module touches a Graph's private state.

The index (names, parsed inputs, consumers, output dtypes) is built on first
need and kept current by the editing methods, incrementally; derived facts
(shapes, the networkx view, anything cached with :meth:`Graph.derived`) are
dropped on every edit and rebuilt on next use. Listing a 60,000-op graph
pays for none of what it does not ask.

Walks (:meth:`Graph.ancestors`, :meth:`Graph.descendants`,
:meth:`Graph.topological_order`) are iterative and cycle-safe: TF1 while
loops have back edges (``NextIteration -> Merge``).
"""
from __future__ import annotations

import copy as _copy
import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from types import MappingProxyType

from ..analysis import shape_cache as _shape_cache
from ..analysis.shapes import format_shape, from_proto, infer_shapes, shape_json
from ..errors import NotFoundError, RewriteError, UsageError
from ..metagraph import assets as _assets
from ..metagraph import collections as _collections
from ..metagraph import saver as _saver
from ..metagraph import signatures as _signatures
from ..vocab import dtypes as _dtypes
from ..vocab import names as _names
from ..vocab import opdefs, protos
from ..vocab.optypes import ACTIVATION_TYPES
from ..vocab.optypes import MERGE_OPS as _MERGE_TYPES
from ..vocab.optypes import NEXT_ITERATION_OPS as _NEXT_ITERATION_TYPES
from ..vocab.patterns import compile_pattern, is_pattern, tensor_predicate
from . import build as _build
from .changes import Changes, EditLog
from .functions import called_functions, function_to_graph_def, write_body
from .views import Op, Tensor, Use, new_use

UNKNOWN = None  # an unknown dtype, shape or dimension
# The GraphDef version an empty Graph() records (versions.producer): TensorFlow 2.21's GRAPH_DEF_VERSION.
GRAPH_DEF_VERSION = 2474
_MISSING = object()

__all__ = ["Graph", "FunctionGraph", "Op", "Tensor", "Use", "format_shape", "UNKNOWN"]


def _edit(method):
    """Mark a Graph method as an edit: the first one snapshots what the graph was (its sinks),
    and a function body is written back to its FunctionDef once the outermost edit returns."""

    @functools.wraps(method)
    def edit(self, *args, **kwargs):
        self._begin_edit()
        try:
            return method(self, *args, **kwargs)
        finally:
            self._end_edit()

    return edit


def _read_names(g) -> frozenset:
    """Every op name some input of ``g`` names (dangling ones too)."""
    first = itemgetter(0)  # InputRef.op, at C speed over millions of inputs
    read: set[str] = set()
    for name in g.node_defs:
        read.update(map(first, g.input_refs(name)))
    return frozenset(read)


class Graph:
    """A TensorFlow graph: its protos plus an index for questions and edits.

    Build one with :func:`graphsurgeon.load`. Attributes:

    - ``graph_def``: the GraphDef (the source of truth, what gets written back).
    - ``meta_graph``: the MetaGraphDef around it, or None for a plain GraphDef.
    - ``model``: where it came from (:class:`graphsurgeon.formats.Model`), or None.
    - ``checkpoint``: the checkpoint prefix whose values go with the graph, or None.

    Example:
        >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_tf1/model.ckpt.meta")
        >>> g.op("hidden1/MatMul").inputs
        [<Tensor X:0 float32 [?, 784]>, <Tensor hidden1/kernel/read:0 float32 [784, 300]>]
    """

    function_name: str | None = None
    function_def = None
    _shape_key: str | None = None  # the on-disk shape cache's key, while unedited (cache_shapes)

    def __init__(self, graph_def=None, meta_graph=None, model=None, checkpoint=_MISSING):
        if graph_def is None:  # an empty graph, to build from nothing
            if meta_graph is not None:
                graph_def = meta_graph.graph_def
            else:
                graph_def = protos.GraphDef()
                graph_def.versions.producer = GRAPH_DEF_VERSION
        self.graph_def = graph_def
        self.meta_graph = meta_graph
        self.model = model
        self.checkpoint = (model.checkpoint if model is not None else None) if checkpoint is _MISSING \
            else checkpoint
        self._keep = []  # objects whose lifetime is the graph's (a temporary checkpoint directory)
        self._nodes = {node.name: node for node in graph_def.node}
        self._library = {f.signature.name: f for f in graph_def.library.function}
        self._registry = opdefs.OpRegistry(
            meta_graph.meta_info_def.stripped_op_list
            if meta_graph is not None and meta_graph.HasField("meta_info_def") else None,
            self._library)
        self._function_graphs: dict[str, FunctionGraph] = {}
        self._reset_index()
        self._init_edit_state()

    def _init_edit_state(self) -> None:
        self._edit_depth = 0      # nesting of edit methods (_edit)
        self._dirty = False       # edited since the outermost edit began
        self._scopes: list[str] = []  # name_scope() stack
        self._log: EditLog | None = None  # track_edits()
        # The ops nothing read before the first edit (None until then): what cleanup() keeps by default.
        self._loaded_sinks: frozenset | None = None

    def _reset_index(self) -> None:
        self._use_index: dict[str, list] | None = None
        self._data_use_index: dict[str, list] | None = None
        self._refs_cache: dict[str, tuple] = {}
        self._data_refs_cache: dict[str, tuple] = {}
        self._parsed: dict[str, _names.InputRef] = {}  # input text -> parsed (texts repeat: ^update_ops)
        self._dtype_cache: dict[str, list] = {}
        self._derived: dict = {}
        self._shapes = None
        self._nx = None

    # ------------------------------------------------------------------ basics
    @property
    def format(self) -> str:
        root = self.root
        return root.model.format if root.model is not None else ("meta" if root.meta_graph else "graphdef")

    @property
    def path(self) -> Path | None:
        return self.root.model.path if self.root.model is not None else None

    @property
    def root(self) -> "Graph":
        """The top-level graph (itself, except for a function body)."""
        return self

    @property
    def registry(self) -> opdefs.OpRegistry:
        return self._registry

    @property
    def where(self) -> str:
        """Where this graph is, for messages: its file, ``function NAME``, or ``graph``."""
        return str(self.path) if self.path else "graph"

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, name) -> bool:
        if isinstance(name, (Op, Tensor)):
            name = name.name
        if name in self._nodes:
            return True
        if _names.is_tensor_name(name):
            op, index = _names.split_tensor_name(name)
            return op in self._nodes and index < self.num_outputs(op)
        return False

    def __iter__(self) -> Iterator[Op]:
        return (Op(self, node) for node in self.graph_def.node)

    def __repr__(self):
        where = f" function {self.function_name!r}" if self.function_name else ""
        src = f" from {self.path}" if self.path else ""
        return f"<Graph{where}: {len(self)} ops{src}>"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """Jupyter: the default collapsed drawing as SVG (text alone when Graphviz is missing)."""
        from ..rendering import notebook_bundle  # graphviz: only when a notebook asks for a picture
        return notebook_bundle(self)

    def _repr_svg_(self) -> str | None:
        return self._repr_mimebundle_().get("image/svg+xml")

    # ------------------------------------------------------------------ lookup
    @property
    def node_defs(self) -> Mapping:
        """``{op name: NodeDef}``, read-only and live (edits go through the methods below)."""
        return MappingProxyType(self._nodes)

    def node_def(self, name: str):
        """The NodeDef of op ``name`` (NotFoundError with the closest names otherwise)."""
        node = self._nodes.get(name)
        if node is None:
            return self.op(name).node
        return node

    def op(self, name) -> Op:
        """The op called ``name`` (``"^name"`` and ``"name:0"`` are accepted too)."""
        if isinstance(name, Op):
            return name
        if isinstance(name, Tensor):
            name = name.op_name
        node = self._nodes.get(name)
        if node is None:
            stripped = name[1:] if name.startswith("^") else _names.split_tensor_name(name)[0]
            node = self._nodes.get(stripped)
        if node is None:
            raise NotFoundError("op", name, self._nodes.keys(), where=self.where, preferred=self._same_kind(name))
        return Op(self, node)

    def tensor(self, name) -> Tensor:
        """The tensor ``name:index`` (a bare op name means its output 0)."""
        if isinstance(name, Tensor):
            return name
        op_name, index = _names.split_tensor_name(name)
        if op_name not in self._nodes:
            raise NotFoundError("tensor", name, (f"{n}:0" for n in self._nodes), where=self.where,
                                preferred=[f"{n}:{index}" for n in self._same_kind(op_name)])
        count = self.num_outputs(op_name)
        if index >= count:
            raise NotFoundError("tensor", name, (f"{op_name}:{i}" for i in range(count)), where=self.where)
        return Tensor(self, op_name, index)

    def _same_kind(self, name: str) -> list[str]:
        """For a miss: ops of the type the name's last part spells (``hidden3/Relu`` -> the Relu ops), else,
        for an activation's name, the graph's activations (a BN + ELU model has no Relu)."""
        leaf = _names.split_tensor_name(name)[0].rpartition("/")[2]
        leaf = leaf.rstrip("0123456789").rstrip("_") or leaf
        same = [n for n, node in self._nodes.items() if node.op == leaf]
        if not same and leaf in ACTIVATION_TYPES:
            same = [n for n, node in self._nodes.items() if node.op in ACTIVATION_TYPES]
        return same

    def get(self, name):
        """An op or a tensor, whichever ``name`` spells (``a:0`` is a tensor)."""
        if isinstance(name, (Op, Tensor)):
            return name
        return self.tensor(name) if _names.is_tensor_name(name) else self.op(name)

    def ops(self, pattern: str | list[str] | None = None, type: str | list[str] | None = None,
            scope: str | None = None) -> list[Op]:
        """Ops whose names match ``pattern`` (see :mod:`graphsurgeon.vocab.patterns`).

        ``type`` filters by op type (one or several, exact), ``scope`` keeps
        one name scope and what is under it. A pattern without wildcards that
        names no op raises :class:`NotFoundError` with the closest names.
        """
        patterns = [pattern] if isinstance(pattern, str) else list(pattern or [])
        for p in patterns:
            if not is_pattern(p) and p not in self._nodes:
                self.op(p)  # raises with suggestions
        predicates = [compile_pattern(p) for p in patterns]
        types = {type} if isinstance(type, str) else set(type or ())
        prefix = scope.rstrip("/") + "/" if scope else None
        out = []
        for node in self.graph_def.node:
            if types and node.op not in types:
                continue
            if prefix and not node.name.startswith(prefix):
                continue
            if predicates and not any(p(node.name) for p in predicates):
                continue
            out.append(Op(self, node))
        return out

    def tensors(self, pattern: str | list[str] | None = None, type=None, scope=None,
                dtype: str | None = None) -> list[Tensor]:
        """Output tensors of the ops :meth:`ops` selects, in graph order; a pattern with ``:`` matches
        tensor names (see :func:`graphsurgeon.vocab.patterns.tensor_predicate`)."""
        patterns = [pattern] if isinstance(pattern, str) else list(pattern or [])
        for p in patterns:
            if not is_pattern(p):
                self.tensor(p) if ":" in p else self.op(p)  # raises with suggestions
        preds = [tensor_predicate(p) for p in patterns]
        out = []
        for op in self.ops(type=type, scope=scope):
            out.extend(t for t in op.outputs if not preds or any(pr(op.name, t.name) for pr in preds))
        if dtype:
            out = [t for t in out if t.dtype == dtype]
        return out

    # ------------------------------------------------------------------ the index
    def input_refs(self, name: str) -> tuple:
        """The op's inputs parsed (:class:`graphsurgeon.vocab.names.InputRef`, control ones included).

        Cached: walks over large graphs parse each input string once.
        """
        refs = self._refs_cache.get(name)
        if refs is None:
            # One parse per distinct text: a training graph's gradient ops each wait
            # on the same hundreds of ``^update`` ops, millions of inputs in all.
            parsed = self._parsed
            get = parsed.get
            out = []
            for text in self._nodes[name].input:
                ref = get(text)
                if ref is None:
                    ref = parsed[text] = _names.parse_input(text)
                out.append(ref)
            refs = self._refs_cache[name] = tuple(out)
        return refs

    def data_refs(self, name: str) -> tuple:
        """The op's data inputs parsed (no control inputs), cached.

        TensorFlow writes control inputs after the data inputs (and refuses
        a graph that does not), so only the part before the first ``^`` is
        read: a training graph's gradient ops wait on every batch-norm
        update, hundreds of control inputs each, which listing never needs.
        """
        refs = self._data_refs_cache.get(name)
        if refs is None:
            inputs = self._nodes[name].input
            out = []
            for text in inputs:
                if text[:1] == "^":
                    if not inputs[len(inputs) - 1].startswith("^"):  # data after control: damaged, read all
                        out = [r for r in self.input_refs(name) if not r.control]
                    break
                out.append(_names.parse_input(text))
            refs = self._data_refs_cache[name] = tuple(out)
        return refs

    def uses(self, name: str) -> tuple:
        """Who reads op ``name``: :class:`Use` ``(consumer, position, index)`` per input that names it.

        ``index`` is the output read, -1 for a control input. A name no op
        has may still be read (a dangling input): its uses are listed too.
        """
        return tuple(self._uses().get(name, ()))

    def is_read(self, name: str) -> bool:
        """Whether any input, data or control, names op ``name``.

        The same answer as ``bool(uses(name))`` without the per-input use
        index: a training graph's gradient ops wait on every batch-norm
        update, millions of control inputs, and asking whether anything
        reads an op need not index each of them.
        """
        if self._use_index is not None:
            return bool(self._use_index.get(name))
        return name in self.derived("graph.read_names", _read_names)

    def wiring(self):
        """Every op's data and control inputs and consumers, computed in bulk and cached.

        See :mod:`graphsurgeon.ir.wiring`: what :meth:`uses` answers, op by op,
        without one ``Use`` per input.
        """
        from . import wiring as _wiring  # computed from the graph's own index

        return self.derived("graph.wiring", _wiring.compute)

    def data_uses(self, name: str) -> tuple:
        """The :meth:`uses` of op ``name`` through data edges only (cheaper: control inputs are not read)."""
        return tuple(self._data_uses().get(name, ()))

    def _data_uses(self) -> dict[str, list]:
        index = self._data_use_index
        if index is None:
            index = {}
            for node in self.graph_def.node:
                name = node.name
                for position, ref in enumerate(self.data_refs(name)):
                    index.setdefault(ref.op, []).append(new_use(Use, (name, position, ref.index)))
            self._data_use_index = index
        return index

    def _uses(self) -> dict[str, list]:
        index = self._use_index
        if index is None:
            index = {}
            get = index.get
            for node in self.graph_def.node:
                name = node.name
                for position, ref in enumerate(self.input_refs(name)):
                    op = ref[0]
                    use = new_use(Use, (name, position, -1 if ref[2] else ref[1]))
                    found = get(op)
                    if found is None:
                        index[op] = [use]
                    else:
                        found.append(use)
            self._use_index = index
        return index

    def output_dtypes(self, name: str) -> list | None:
        """TensorFlow's dtype name of each output of op ``name``; None for an op type nobody defines."""
        types = self._dtype_cache.get(name, _MISSING)
        if types is not _MISSING:
            return types
        node = self._nodes[name]
        types = self._registry.output_dtypes(node)
        if types is None and node.op in ("_Arg", "_Retval"):
            types = [_dtypes.name(node.attr["T"].type)] if node.op == "_Arg" else []
        self._dtype_cache[name] = types
        return types

    def num_outputs(self, name: str) -> int:
        """How many outputs op ``name`` has (for unknown op types: as many as are recorded or read)."""
        types = self.output_dtypes(name)
        if types is not None:
            return len(types)
        node = self._nodes[name]
        count = len(node.attr["_output_shapes"].list.shape) if "_output_shapes" in node.attr else 0
        for use in self._data_uses().get(name, ()):
            if use.index < opdefs.MAX_OUTPUTS:  # "op:99999999999" is damage, not that many outputs
                count = max(count, use.index + 1)
        return count

    @property
    def shapes(self) -> dict[str, list]:
        """op name -> [shape of each output]; built on first use (see :mod:`graphsurgeon.analysis.shapes`).

        A graph loaded with ``shape_cache=True`` and not edited since reads them from,
        and keeps them in, the on-disk cache (:mod:`graphsurgeon.analysis.shape_cache`).
        """
        if self._shapes is None:
            key = self.root._shape_key
            shapes = _shape_cache.load(self, key, self._dtype_cache) if key else None
            if shapes is None:
                shapes = infer_shapes(self)
                if key:
                    _shape_cache.store(self, key, shapes)
            self._shapes = shapes
        return self._shapes

    def cache_shapes(self, key: str) -> None:
        """Read and keep this graph's shapes (and its function bodies') in the on-disk cache under ``key``.

        ``key`` must identify the content the graph was read from
        (:func:`graphsurgeon.analysis.shape_cache.model_key`; ``gs.load(...,
        shape_cache=True)`` sets it). The first edit turns it off; a change made to
        the protos directly, behind the editing methods, is not seen: do not ask for
        the cache then.
        """
        self._shape_key = key

    def derived(self, key, compute: Callable[["Graph"], object]):
        """A fact computed from the graph, cached until the next edit.

        ``compute(graph)`` runs on first use of ``key``; modules that derive
        something costly from a graph (training machinery, layers) keep it here.
        """
        if key not in self._derived:
            self._derived[key] = compute(self)
        return self._derived[key]

    # ------------------------------------------------------------------ walks
    def _producers(self, name: str, control: bool, colocation: bool):
        node = self._nodes.get(name)
        if node is None:
            return ()
        out = [ref.op for ref in (self.input_refs(name) if control else self.data_refs(name))]
        if colocation and "_class" in node.attr:
            out.extend(op for op in map(_names.colocation_op, node.attr["_class"].list.s) if op)
        return out

    def ancestors(self, roots, *, control: bool = True, colocation: bool = False, stop=(),
                  include_roots: bool = False) -> set[str]:
        """Op names reachable backwards from ``roots`` (op or tensor names) over one edge or more.

        Args:
            roots: op names, tensor names (their op) or Ops.
            control: follow control inputs too.
            colocation: follow ``loc:@`` colocation constraints too.
            stop: op names the walk does not enter (nor include).
            include_roots: include the roots themselves.

        Names read but absent from the graph (dangling inputs) are included.
        """
        return self._walk(roots, lambda n: self._producers(n, control, colocation), stop, include_roots)

    def descendants(self, roots, *, control: bool = True, stop=(), include_roots: bool = False) -> set[str]:
        """Op names reachable forwards from ``roots`` over one edge or more (see :meth:`ancestors`)."""
        uses = self._uses() if control else self._data_uses()

        def successors(name):
            return [u.consumer for u in uses.get(name, ())]

        return self._walk(roots, successors, stop, include_roots)

    def _walk(self, roots, step, stop, include_roots: bool) -> set[str]:
        stop = set(stop)
        starts = [_root_name(r) for r in ([roots] if isinstance(roots, (str, Op, Tensor)) else roots)]
        seen: set[str] = set()
        stack = []
        for name in starts:
            stack.extend(step(name))
        while stack:
            name = stack.pop()
            if name in seen or name in stop:
                continue
            seen.add(name)
            stack.extend(step(name))
        if include_roots:
            seen.update(n for n in starts if n not in stop)
        return seen

    def topological_order(self, *, control: bool = True) -> list[str]:
        """Op names, each after every op it reads (Kahn's algorithm, iterative).

        Ties keep file order. Ops on cycles (TF1 while loops) and what
        depends on them come last, in file order.
        """
        nodes = self._nodes
        pending: dict[str, int] = {}
        uses = self._uses() if control else self._data_uses()
        refs = self.input_refs if control else self.data_refs
        for name in nodes:
            pending[name] = sum(1 for r in refs(name) if r.op in nodes)
        ready = [n.name for n in reversed(self.graph_def.node) if pending[n.name] == 0]
        order = []
        while ready:
            name = ready.pop()
            order.append(name)
            for use in uses.get(name, ()):
                pending[use.consumer] -= 1
                if pending[use.consumer] == 0:
                    ready.append(use.consumer)
        if len(order) != len(nodes):
            done = set(order)
            order.extend(n.name for n in self.graph_def.node if n.name not in done)
        return order

    @property
    def nx(self):
        """The graph as a networkx ``MultiDiGraph``, for networkx's algorithms.

        Built on first use and cached until the next edit (reading alone never
        builds it). Nodes are op names with attributes ``type``, ``device``
        and ``attrs`` (the NodeDef's AttrValue map); an input naming no op
        adds a node with ``missing=True``. Each input is one edge from
        producer to consumer with ``tensor`` (``name:index``, None for a
        control edge), ``src_index`` (output read, -1 for control),
        ``dst_index`` (input position) and ``control``. An op reading a
        tensor twice has two edges.

        Example:
            >>> import networkx
            >>> networkx.has_path(g.nx, "X", "logits")
            True
        """
        if self._nx is None:
            import networkx  # the view is optional: reading never pays for importing networkx

            view = networkx.MultiDiGraph(name=self.function_name or str(self.path or "graph"))
            for node in self.graph_def.node:
                view.add_node(node.name, type=node.op, device=node.device, attrs=node.attr)
            for node in self.graph_def.node:
                for position, ref in enumerate(self.input_refs(node.name)):
                    if ref.op not in view:
                        view.add_node(ref.op, type=None, device="", attrs={}, missing=True)
                    view.add_edge(ref.op, node.name, tensor=None if ref.control else ref.tensor,
                                  src_index=ref.index, dst_index=position, control=ref.control)
            self._nx = view
        return self._nx

    # ------------------------------------------------------------------ functions
    @property
    def library(self) -> Mapping:
        """``{function name: FunctionDef}`` of the graph's library, read-only."""
        return MappingProxyType(self.root._library)

    @property
    def library_names(self) -> set[str]:
        return set(self.root._library)

    @property
    def functions(self) -> dict[str, "FunctionGraph"]:
        """Function bodies by name, each a :class:`FunctionGraph` (built on first access)."""
        return {name: self.function(name) for name in self.root._library}

    def function(self, name: str) -> "FunctionGraph":
        root = self.root
        graph = root._function_graphs.get(name)
        if graph is None:
            fdef = root._library.get(name)
            if fdef is None:
                raise NotFoundError("function", name, root._library.keys(), where=root.where)
            graph = root._function_graphs[name] = FunctionGraph(root, fdef)
        return graph

    # ------------------------------------------------------------------ signatures
    @property
    def signatures(self) -> dict[str, dict]:
        """SignatureDefs, by key.

        ``{key: {"method": str, "inputs": {arg: {"name", "dtype", "shape"}}, "outputs": {...}}}``
        with dtype and shape as the SignatureDef records them.
        """
        meta = self.root.meta_graph
        if meta is None:
            return {}
        out = {}
        for key, sig in meta.signature_def.items():
            out[key] = {
                "method": sig.method_name,
                "inputs": {k: _tensor_info(v) for k, v in sorted(sig.inputs.items())},
                "outputs": {k: _tensor_info(v) for k, v in sorted(sig.outputs.items())},
            }
        return out

    # ------------------------------------------------------------------ editing
    # Every edit goes through these methods: they change the protos, keep the
    # index (names, parsed inputs, consumers, dtypes) current incrementally and
    # drop derived facts (shapes, networkx view, derived()). In a function
    # body, each edit is written back to the library's FunctionDef when it
    # returns (see FunctionGraph).

    def _touch(self) -> None:
        self.root._shape_key = None  # edited: no longer what the cache holds (nor are its functions)
        self._shapes = None
        self._nx = None
        self._derived = {}
        self._dirty = True

    def _written(self) -> None:
        """An outermost edit has returned (a function body writes itself back here)."""

    def _snapshot(self) -> None:
        """Remember the ops nothing reads, before the first edit (what ``cleanup()`` keeps by default)."""
        if self._use_index is not None:
            index = self._use_index
            self._loaded_sinks = frozenset(n for n in self._nodes if not index.get(n))
        else:
            read = self.derived("graph.read_names", _read_names)
            self._loaded_sinks = frozenset(n for n in self._nodes if n not in read)

    def _logged(self, touched=(), dropped=()) -> None:
        log = self._log
        if log is not None:
            log.touched.update(touched)
            log.dropped.extend(dropped)

    @contextmanager
    def track_edits(self):
        """Record what the edits made inside the ``with`` block change: yields an :class:`EditLog`.

        Ops touched (added, removed, rewired, with attributes set), renamed,
        references dropped, function bodies edited; what ``gs.rewrite`` turns
        into the ``Changes`` of a rewrite.
        """
        if self.root is not self:
            raise UsageError(f"{self.where}: track the edits of the top-level graph")
        previous, self._log = self._log, EditLog()
        try:
            yield self._log
        finally:
            self._log = previous

    def copy(self) -> "Graph":
        """A deep copy (protos included) that can be edited independently."""
        if self.root is not self:
            raise UsageError(f"{self.where} is part of a graph: copy the top-level graph")
        if self.model is not None:
            model = _copy.copy(self.model)
            model.container = type(self.model.container)()
            model.container.CopyFrom(self.model.container)
            model.assets = dict(self.model.assets)
            out = Graph(model.graph_def, meta_graph=model.meta_graph, model=model, checkpoint=self.checkpoint)
        elif self.meta_graph is not None:
            meta = type(self.meta_graph)()
            meta.CopyFrom(self.meta_graph)
            out = Graph(meta.graph_def, meta_graph=meta, checkpoint=self.checkpoint)
        else:
            gd = type(self.graph_def)()
            gd.CopyFrom(self.graph_def)
            out = Graph(gd, checkpoint=self.checkpoint)
        out._keep = list(self._keep)
        out._loaded_sinks = self._loaded_sinks  # the copy was loaded when the original was
        return out

    def as_meta_graph(self) -> "Graph":
        """A copy wrapped in a MetaGraphDef (to give a plain GraphDef collections and signatures)."""
        if self.meta_graph is not None:
            return self.copy()
        meta = protos.MetaGraphDef()
        meta.graph_def.CopyFrom(self.graph_def)
        return Graph(meta.graph_def, meta_graph=meta, checkpoint=self.checkpoint)

    def as_saved_model(self, tags=("serve",), assets=None, checkpoint_keys=None) -> "Graph":
        """A copy whose MetaGraphDef, tagged ``tags``, is the one MetaGraphDef of a new SavedModel.

        The SavedModel exists in memory until it is saved: writing the copy
        to a directory writes ``saved_model.pb``, the graph's checkpoint as
        ``variables/variables.*`` (V2 copied byte for byte, V1 converted) and
        ``assets`` (``{file name: path of the file to copy}``) under ``assets/``;
        by default the files the MetaGraphDef's ``asset_file_def`` names, where
        they are found (see :func:`graphsurgeon.metagraph.assets.find_assets`). A plain
        GraphDef gets a MetaGraphDef around it. ``checkpoint_keys``: the keys of
        the checkpoint ``variables/`` gets (what the saver restores; default all).
        """
        from ..formats import Model  # formats sits below the graph; imported here to keep loading light

        if assets is None:
            from ..metagraph.assets import find_assets

            listed = {a.tensor_info.name for a in self.root.meta_graph.asset_file_def} \
                if self.root.meta_graph is not None else set()
            assets = {a.filename: a.source for a in find_assets(self.root) if a.tensor in listed and a.source}

        container = protos.SavedModel(saved_model_schema_version=1)
        meta = container.meta_graphs.add()
        if self.root.meta_graph is not None:
            meta.CopyFrom(self.root.meta_graph)
        else:
            meta.graph_def.CopyFrom(self.root.graph_def)
        del meta.meta_info_def.tags[:]
        meta.meta_info_def.tags.extend(tags)
        model = Model(path=None, format="savedmodel", file=None, encoding="binary", container=container,
                      meta_index=0, checkpoint=self.root.checkpoint, assets=dict(assets or {}),
                      checkpoint_keys=None if checkpoint_keys is None else sorted(checkpoint_keys))
        out = Graph(meta.graph_def, meta_graph=meta, model=model, checkpoint=self.root.checkpoint)
        out._keep = list(self.root._keep)
        return out

    def attach_checkpoint(self, checkpoint) -> None:
        """Make ``checkpoint`` (a :class:`graphsurgeon.formats.checkpoint.TemporaryCheckpoint`) the graph's values.

        It lives as long as the graph (and its copies); :meth:`save` writes its files to the output.
        """
        self._keep.append(checkpoint)
        self.checkpoint = checkpoint.prefix

    @property
    def checkpoint_is_new(self) -> bool:
        """Whether the graph's checkpoint holds new values that exist nowhere but in a temporary directory."""
        return any(getattr(k, "prefix", None) == self.checkpoint for k in self.root._keep) and bool(self.checkpoint)

    # ------------------------------------------------------------------ building ops
    @property
    def name_scope_prefix(self) -> str:
        """The name scope ops built now go into (``""`` outside :meth:`name_scope`)."""
        return self._scopes[-1] if self._scopes else ""

    @contextmanager
    def name_scope(self, scope: str):
        """Ops built inside the ``with`` block get the prefix ``scope/`` (nested scopes add up).

        Example:
            >>> with g.name_scope("head"):
            ...     g.add_op("Softmax", ["logits:0"], name="probs")   # head/probs
        """
        scope = str(scope).strip("/")
        if not scope or not _build.VALID_SCOPE_NAME.match(scope):
            raise UsageError(f"{scope!r} is not a name scope TensorFlow accepts")
        full = _build.scoped(self.name_scope_prefix, scope)
        self._scopes.append(full)
        try:
            yield full + "/"
        finally:
            self._scopes.pop()

    @_edit
    def add_op(self, op, inputs=(), *, name: str | None = None, attrs: dict | None = None, control_inputs=(),
               device: str = "") -> Op:
        """Add an op: ``g.add_op("MatMul", [x, w])``, or ``g.add_op(node_def)`` (copied as it is).

        Args:
            op: the op type, or a NodeDef to add as it is (its name must be new).
            inputs: data inputs, each a :class:`Tensor` or ``"op:index"``.
            name: the op's name; by default the op type made unique as
                TensorFlow does (``MatMul``, ``MatMul_1``). Inside
                :meth:`name_scope` it gets the scope's prefix.
            attrs: attributes as Python values (or AttrValues). Type and
                length attributes (``T``, ``N``, ``Tidx``...) are inferred from
                the inputs through the op's OpDef, others take its defaults;
                an op type nobody defines needs every attribute given.
            control_inputs: ops (or names) to run first.
            device: the device to place it on.

        Raises:
            UsageError: inputs that do not fit the OpDef, a missing or wrong attribute.
            NotFoundError: an input that names no tensor of the graph.
            RewriteError: ``name`` is taken.
        """
        if not isinstance(op, str):
            if inputs or name is not None or attrs or control_inputs or device:
                raise UsageError("add_op(node_def) takes the NodeDef alone")
            node_def = op
        else:
            node_def = _build.make_node(self, op, inputs, name=name, attrs=attrs, control_inputs=control_inputs,
                                        device=device)
        if node_def.name in self._nodes:
            raise RewriteError(f"an op named {node_def.name!r} already exists")
        node = self.graph_def.node.add()
        node.CopyFrom(node_def)
        self._nodes[node.name] = node
        self._index_inputs(node, add=True)
        self._touch()
        self._logged(touched=[node.name])
        self.root.ensure_op_defs([node.op])
        return Op(self, node)

    def constant(self, value, name: str | None = None, *, dtype=None) -> Tensor:
        """A ``Const`` op holding ``value``; returns its output.

        A numpy array keeps its dtype; a plain Python value takes TensorFlow's
        (``1.0`` float32, ``1`` int32, text string); ``dtype`` overrides.
        """
        op = self.add_op("Const", name=name, attrs=_build.constant_attrs(value, dtype))
        return Tensor(self, op.name, 0)

    def placeholder(self, name: str, dtype="float32", shape=None) -> Tensor:
        """A ``Placeholder`` op of ``dtype`` and ``shape`` (a tuple with None for unknown dimensions,
        None for an unknown rank); returns its output."""
        op = self.add_op("Placeholder", name=name, attrs={"dtype": dtype, "shape": shape})
        return Tensor(self, op.name, 0)

    # ------------------------------------------------------------------ editing ops
    @_edit
    def replace_op(self, node_def) -> Op:
        """Replace the op named ``node_def.name`` by ``node_def`` (copied), in place.

        The op keeps its position and name, so references to it (consumers,
        control inputs, colocations, collections) stay valid.
        """
        node = self._nodes.get(node_def.name)
        if node is None:
            self.op(node_def.name)  # raises with suggestions
        self._index_inputs(node, add=False)
        node.CopyFrom(node_def)
        self._index_inputs(node, add=True)
        self._dtype_cache.pop(node.name, None)
        self._touch()
        self._logged(touched=[node.name])
        return Op(self, node)

    @_edit
    def node_for_edit(self, name: str):
        """The NodeDef of op ``name``, to change its attributes, device or value in place.

        Derived facts (shapes, dtypes, the networkx view) are dropped. Its
        name and inputs must not be changed this way: use :meth:`rename_ops`,
        :meth:`set_inputs` or :meth:`rewire`, which keep the index current.
        Prefer :meth:`set_attr`, which takes Python values (and works in
        function bodies too).
        """
        node = self.node_def(name)
        self._dtype_cache.pop(name, None)
        self._touch()
        self._logged(touched=[name])
        return node

    @_edit
    def set_attr(self, op, name: str, value) -> Op:
        """Set attribute ``name`` of ``op`` to a Python value (or an AttrValue).

        The value is converted as the op's OpDef types the attribute (a dtype
        name for a ``type``, a tuple for a ``shape``, a numpy array for a
        ``tensor``...), or as the attribute already holds it for an op type
        nobody defines. Setting a ``Const``'s ``value`` sets its ``dtype`` too.

        Example:
            >>> g.set_attr("X", "shape", (1, 784))
        """
        from ..vocab import attrs as _attrs  # numpy: only when attributes are edited

        node = self.node_def(_root_name(op))
        op_def = self.registry.get(node.op)
        kind = None
        if op_def is not None:
            kinds = {a.name: a.type for a in op_def.attr}
            if name not in kinds and not name.startswith("_"):
                raise UsageError(f"{node.op} has no attribute {name!r} (its attributes: {', '.join(kinds)})")
            kind = kinds.get(name)
        if kind is None and name in node.attr:
            kind = _attrs.kind_of(node.attr[name])
        dtype = None
        if kind == "tensor" and "dtype" in node.attr and node.attr["dtype"].type:
            dtype = _dtypes.NUMPY.get(_dtypes.name(node.attr["dtype"].type))
        try:
            encoded = _attrs.from_python(value, kind, dtype=dtype)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"attribute {name!r} of {node.op} {node.name!r}: {exc}") from None
        node.attr[name].CopyFrom(encoded)
        if node.op == "Const" and name == "value":
            node.attr["dtype"].type = encoded.tensor.dtype
        self._dtype_cache.pop(node.name, None)
        self._touch()
        self._logged(touched=[node.name])
        return Op(self, node)

    @_edit
    def set_inputs(self, name: str, inputs) -> None:
        """Replace an op's input list (``name:index`` and ``^control`` strings)."""
        node = self._nodes[name]
        self._index_inputs(node, add=False)
        del node.input[:]
        node.input.extend(inputs)
        self._index_inputs(node, add=True)
        self._dtype_cache.pop(name, None)  # an unknown op's output count follows its readers
        self._touch()
        self._logged(touched=[name])

    @_edit
    def set_input(self, op, position: int, tensor) -> Op:
        """Make data input ``position`` of ``op`` read ``tensor`` (a Tensor or ``"op:index"``); control inputs kept."""
        name = _root_name(op)
        self.op(name)
        data = [i for i, ref in enumerate(self.input_refs(name)) if not ref.control]
        if not isinstance(position, int) or not -len(data) <= position < len(data):
            raise UsageError(f"{name!r} has {len(data)} data input{'s' if len(data) != 1 else ''}; "
                             f"there is no input {position}")
        text = _build.resolve_tensor(self, tensor, f"input {position} of {name}")[0]
        inputs = list(self._nodes[name].input)
        inputs[data[position]] = text
        self.set_inputs(name, inputs)
        return Op(self, self._nodes[name])

    @_edit
    def rewire(self, old: str, new: str, *, only=None) -> list[str]:
        """Make every reader of tensor ``old`` read tensor ``new`` instead (data edges).

        ``new`` may also be ``^op`` to turn the edges into control edges.
        ``only`` limits the change to these consumers. Returns the ops changed.
        """
        op, index = _names.split_tensor_name(old)
        readers = {u.consumer for u in self._uses().get(op, ()) if u.index == index}
        if only is not None:
            readers &= set(only)
        target = new if new.startswith("^") else _build.input_text(*_names.split_tensor_name(new))
        changed = []
        for consumer in [n for n in self._nodes if n in readers]:
            inputs = [target if not ref.control and ref.op == op and ref.index == index else text
                      for ref, text in zip(self.input_refs(consumer), self._nodes[consumer].input)]
            self.set_inputs(consumer, inputs)
            changed.append(consumer)
        return changed

    @_edit
    def replace_all_uses(self, old, new, *, only=None) -> list[str]:
        """Every op reading tensor ``old`` reads tensor ``new`` instead; returns the ops changed.

        The op that produces ``new`` is never rewired (so "insert after" is
        two lines: add the op reading ``old``, then replace ``old``'s uses by
        its output). Control edges from ``old``'s op are left alone, and so
        are the MetaGraphDef's references (signatures, collections) to ``old``.
        ``only`` limits the change to these consumers (ops or names).

        Example:
            >>> relu = g.add_op("Relu", ["hidden1/BiasAdd:0"])
            >>> g.replace_all_uses("hidden1/BiasAdd:0", relu.outputs[0])
        """
        old_text, old_op, old_index, _ = _build.resolve_tensor(self, old, "the tensor to replace")
        new_text, new_op, new_index, _ = _build.resolve_tensor(self, new, "the replacement")
        readers = {u.consumer for u in self._uses().get(old_op, ()) if u.index == old_index}
        readers.discard(new_op)
        if only is not None:
            readers &= {_root_name(o) for o in ([only] if isinstance(only, (str, Op)) else only)}
        return self.rewire(f"{old_op}:{old_index}", f"{new_op}:{new_index}", only=readers)

    def named_outputs(self) -> set[str]:
        """The ops the model itself names: in signatures, collections, the saver, init and main ops
        (the MetaGraphDef's references); for a function body, its results and control outputs."""
        meta = self.root.meta_graph if self.root is self else None
        if meta is None:
            return set()
        names = {_names.split_tensor_name(name)[0] for _, name in _collections.referenced_names(meta)}
        return {n for n in names if n in self._nodes}

    def _named_outputs(self) -> set[str]:
        """What ``cleanup()`` keeps by default: what the model names, and what nothing read before any edit."""
        sinks = self._loaded_sinks if self._loaded_sinks is not None else ()
        return self.named_outputs() | {n for n in sinks if n in self._nodes}

    @contextmanager
    def batch(self):
        """Group edits: a function body is written back to its FunctionDef once, when the block ends,
        instead of after each edit (what a rewrite making many edits to a large body wants)."""
        self._begin_edit()
        try:
            yield self
        finally:
            self._end_edit()

    def _begin_edit(self) -> None:
        if self._loaded_sinks is None:
            self._snapshot()
        self._edit_depth += 1

    def _end_edit(self) -> None:
        self._edit_depth -= 1
        if self._edit_depth == 0 and self._dirty:
            self._dirty = False
            self._written()

    @_edit
    def cleanup(self, outputs=None) -> Changes:
        """Remove the ops that the outputs do not need (through data, control and colocation edges).

        Args:
            outputs: ops or tensors to keep (names, Ops, Tensors). By default
                what the model itself names (signature outputs, collection
                entries, the saver's ops, init and train ops; a function
                body's results and control outputs) plus the ops nothing read
                before the graph was first edited: ops an edit orphaned go. A
                graph built from nothing names nothing: give ``outputs``.

        Returns:
            The Changes (``removed``, and ``dropped`` references, if any).
        """
        if outputs is None:
            roots = self._named_outputs()
            if not roots and len(self._nodes):
                raise UsageError(f"{self.where} names no outputs (no signature, collection or saver, and it was "
                                 "built from nothing): give cleanup(outputs=[...])")
        else:
            items = [outputs] if isinstance(outputs, (str, Op, Tensor)) else list(outputs)
            roots = set()
            for item in items:
                name = _root_name(item)
                self.op(name)  # NotFoundError with the closest names
                roots.add(name)
        keep = self.ancestors(roots, control=True, colocation=True, include_roots=True)
        gone = [n for n in self._nodes if n not in keep]
        return self.remove_ops(gone) if gone else Changes()

    def _order(self) -> list[str]:
        """Op names in a topological order closest to the file's (back edges of TF1 loops ignored)."""
        import heapq

        nodes = self._nodes
        position = {node.name: i for i, node in enumerate(self.graph_def.node)}

        def edges(name):
            node = nodes[name]
            back = node.op in _MERGE_TYPES
            for ref in self.input_refs(name):
                if ref.op in nodes and ref.op != name and not (back and nodes[ref.op].op in _NEXT_ITERATION_TYPES):
                    yield ref.op

        pending = {name: 0 for name in nodes}
        readers: dict[str, list[str]] = {}
        for name in nodes:
            for producer in edges(name):
                pending[name] += 1
                readers.setdefault(producer, []).append(name)
        ready = [position[n] for n, count in pending.items() if count == 0]
        heapq.heapify(ready)
        names = [node.name for node in self.graph_def.node]
        order = []
        while ready:
            name = names[heapq.heappop(ready)]
            order.append(name)
            for reader in readers.get(name, ()):
                pending[reader] -= 1
                if pending[reader] == 0:
                    heapq.heappush(ready, position[reader])
        if len(order) != len(nodes):  # cycles TensorFlow would refuse anyway: kept in file order, last
            done = set(order)
            order.extend(n for n in names if n not in done)
        return order

    @_edit
    def toposort(self) -> "Graph":
        """Reorder the GraphDef's ops so that each comes after the ops it reads (data and control).

        The back edges of TF1 while loops (``NextIteration`` into ``Merge``)
        are ignored; ties keep the file's order, so a sorted graph is left
        as it is. Op views stay valid. Returns the graph.
        """
        order = self._order()
        if order != [node.name for node in self.graph_def.node]:
            rank = {name: i for i, name in enumerate(order)}
            self.graph_def.node.sort(key=lambda node: rank[node.name])  # moves the messages, copies none
            self._touch()
        return self

    def ensure_op_defs(self, op_types) -> None:
        """Add the OpDefs of newly used op types to the MetaGraphDef's stripped op list.

        TensorFlow writes the definitions of the ops a meta graph uses there;
        a graph extended with a Placeholder (or swapped to Relu) keeps that
        list complete. Nothing to do for a plain GraphDef or an empty list.
        """
        meta = self.meta_graph
        if meta is None or not op_types or not meta.HasField("meta_info_def"):
            return
        op_list = meta.meta_info_def.stripped_op_list
        if not len(op_list.op):
            return
        present = {op.name for op in op_list.op}
        for op_type in sorted(set(op_types) - present):
            op_def = opdefs.shipped().get(op_type)
            if op_def is not None:
                op_list.op.add().CopyFrom(op_def)

    def called_functions(self) -> set[str]:
        """Library functions reachable from the top-level ops (through nested calls too)."""
        library = self.root._library
        stack = [f for node in self.root.graph_def.node for _, f in called_functions(node, library)]
        needed: set[str] = set()
        while stack:
            name = stack.pop()
            if name in needed or name not in library:
                continue
            needed.add(name)
            for body_node in library[name].node_def:
                stack.extend(f for _, f in called_functions(body_node, library))
        return needed

    @_edit
    def prune_library(self) -> list[str]:
        """Remove the library functions nothing calls any more (and their gradients); returns their names."""
        if self.root is not self:
            raise UsageError(f"{self.where}: prune the top-level graph's library")
        needed = self.called_functions()
        library = self.graph_def.library
        gone = [f.signature.name for f in library.function if f.signature.name not in needed]
        if not gone:
            return []
        keep = {i for i, f in enumerate(library.function) if f.signature.name in needed}
        for i in reversed(range(len(library.function))):
            if i not in keep:
                del library.function[i]
        grads = [i for i, grad in enumerate(library.gradient)
                 if grad.function_name not in needed or grad.gradient_func not in needed]
        for i in reversed(grads):
            del library.gradient[i]
        for name in gone:
            self._library.pop(name, None)
            self._function_graphs.pop(name, None)
        self._touch()
        if self._log is not None:
            self._log.functions.update(gone)
        return gone

    @_edit
    def remove_ops(self, names, check: bool = True):
        """Remove ops; collections, signatures and savers that named them are fixed.

        Args:
            names: op names (or Ops) to remove.
            check: refuse (RewriteError, nothing changed) when a remaining op
                still reads a removed one; pass False only when the caller
                rewires those inputs itself right after.

        Returns:
            Changes with ``removed`` and what had to be ``dropped``.
        """
        removed = {n.name if isinstance(n, Op) else n for n in names}
        missing = [n for n in removed if n not in self._nodes]
        if missing:
            self.op(missing[0])  # raises NotFoundError with suggestions
        if check:
            uses = self._uses()
            for name in removed:
                for use in uses.get(name, ()):
                    if use.consumer not in removed:
                        raise RewriteError(f"cannot remove {name!r}: {use.consumer!r} still reads it",
                                           hint="remove or rewire its consumers too")
        nodes = self.graph_def.node
        positions = [i for i, node in enumerate(nodes) if node.name in removed]
        changes = Changes(removed=[nodes[i].name for i in positions])
        for name in removed:
            self._index_inputs(self._nodes[name], add=False)
            self._dtype_cache.pop(name, None)
            del self._nodes[name]
        # Contiguous runs, from the end: upb moves element pointers, it copies no node.
        end = len(positions) - 1
        while end >= 0:
            start = end
            while start > 0 and positions[start - 1] == positions[start] - 1:
                start -= 1
            del nodes[positions[start]:positions[end] + 1]
            end = start - 1
        self._touch()
        if self.meta_graph is not None and removed:
            changes.dropped.extend(_collections.fix_references(self, removed))
        self._logged(touched=removed, dropped=changes.dropped)
        return changes

    @_edit
    def rename_ops(self, mapping: dict[str, str]) -> list[str]:
        """Rename ops ``{old: new}``: inputs, control inputs, colocations and the MetaGraphDef follow.

        Returns notes on what outside the GraphDef was renamed (collections,
        signatures, saver). Raises RewriteError when a new name is taken.
        """
        mapping = {old: new for old, new in mapping.items() if old != new}
        if not mapping:
            return []
        for old, new in mapping.items():
            if old not in self._nodes:
                self.op(old)
            if new in self._nodes and new not in mapping:
                raise RewriteError(f"cannot rename {old!r} to {new!r}: an op of that name exists")
        if len(set(mapping.values())) != len(mapping):
            raise RewriteError("two ops cannot take the same new name")
        affected = set(mapping)
        uses = self._uses()
        for old in mapping:
            affected.update(u.consumer for u in uses.get(old, ()))
        for node in self.graph_def.node:
            if "_class" in node.attr and any(_names.colocation_op(s) in mapping for s in node.attr["_class"].list.s):
                affected.add(node.name)
        for name in affected:
            node = self._nodes[name]
            self._index_inputs(node, add=False)
            self._dtype_cache.pop(name, None)
            inputs = [_rename_input(text, mapping) for text in node.input]
            del node.input[:]
            node.input.extend(inputs)
            if "_class" in node.attr:
                locs = [_rename_colocation(s, mapping) for s in node.attr["_class"].list.s]
                del node.attr["_class"].list.s[:]
                node.attr["_class"].list.s.extend(locs)
        moved_nodes = [(self._nodes.pop(old), new) for old, new in mapping.items()]
        for node, new in moved_nodes:
            node.name = new
            self._nodes[new] = node
        for name in affected:
            new_name = mapping.get(name, name)
            self._index_inputs(self._nodes[new_name], add=True)
        # Uses of renamed producers are keyed by name: move them.
        for index in (self._use_index, self._data_use_index):
            if index is None:
                continue
            moved = {new: index.pop(old) for old, new in mapping.items() if old in index}
            for new, uses_of in moved.items():
                if uses_of:
                    for use in uses_of:
                        _add_use(index, new, use)
        if self._loaded_sinks is not None:
            self._loaded_sinks = frozenset(mapping.get(n, n) for n in self._loaded_sinks)
        self._touch()
        self._on_rename(mapping)
        if self._log is not None and self.root is self:
            self._log.rename(mapping)
            self._log.touched.update(mapping.get(n, n) for n in affected)
        return _collections.rename_references(self, mapping) if self.meta_graph is not None else []

    def _on_rename(self, mapping: dict[str, str]) -> None:
        """Renames a function body must carry into its FunctionDef (control outputs)."""

    def _index_inputs(self, node, add: bool) -> None:
        """Add (or take out) the uses ``node``'s inputs make, in whichever indexes are built."""
        name = node.name
        if not add:  # its inputs are about to change
            old_data = self._data_refs_cache.pop(name, None)
            old_refs = self._refs_cache.pop(name, None)
        if self._data_use_index is not None:
            refs = self.data_refs(name) if add else (old_data if old_data is not None else self.data_refs(name))
            self._update(self._data_use_index, name, refs, add)
            if not add:
                self._data_refs_cache.pop(name, None)
        if self._use_index is not None:
            refs = self.input_refs(name) if add else (old_refs if old_refs is not None else self.input_refs(name))
            self._update(self._use_index, name, refs, add)
            if not add:
                self._refs_cache.pop(name, None)

    @staticmethod
    def _update(index: dict, name: str, refs, add: bool) -> None:
        for position, ref in enumerate(refs):
            use = new_use(Use, (name, position, -1 if ref.control else ref.index))
            if add:
                _add_use(index, ref.op, use)
            else:
                _remove_use(index, ref.op, use)

    # ------------------------------------------------------------------ collections and saving
    # Thin delegations: the work lives in graphsurgeon/metagraph/collections.py and
    # graphsurgeon/formats/writer.py.

    @property
    def collections(self) -> dict:
        """Collections by name (see :mod:`graphsurgeon.metagraph.collections`); empty for a plain GraphDef."""
        return _collections.collections(self)

    def collection(self, name: str) -> list:
        """The items of collection ``name`` in order (ops, tensors, decoded messages)."""
        return _collections.get_collection(self, name).items

    def add_to_collection(self, name: str, *items):
        """Append ops / tensors (objects or names) to node_list collection ``name``."""
        self._derived = {}  # derived facts may read collections (which variables are trainable)
        return _collections.add_to_collection(self, name, *items)

    def remove_from_collection(self, name: str, *items):
        """Remove entries from collection ``name``."""
        self._derived = {}  # derived facts may read collections (which variables are trainable)
        return _collections.remove_from_collection(self, name, *items)

    def delete_collection(self, name: str):
        """Delete collection ``name``; returns what it held."""
        self._derived = {}  # derived facts may read collections (which variables are trainable)
        return _collections.delete_collection(self, name)

    def rename_collection(self, old: str, new: str):
        """Rename collection ``old`` to ``new``."""
        self._derived = {}  # derived facts may read collections (which variables are trainable)
        return _collections.rename_collection(self, old, new)

    def retarget_references(self, renamed: dict[str, str]) -> list[str]:
        """Point the MetaGraphDef's references (signatures, node_list entries) to tensors of ``renamed``
        (``{old tensor: new tensor}``) at their new names; one sentence per change."""
        self._derived = {}
        return _collections.retarget_tensors(self, renamed)

    # ------------------------------------------------------------------ the rest of the MetaGraphDef
    # Thin delegations to graphsurgeon/metagraph/ (signatures, saver, assets), which own those
    # protos; derived facts (training machinery reads the saver) are dropped.

    def set_signature(self, key: str, signature) -> None:
        """Make ``signature`` (a SignatureDef proto) signature ``key``; None removes it.
        (:func:`graphsurgeon.metagraph.signatures.add_signature` makes one from tensor names.)"""
        self._derived = {}
        _signatures.put_signature(self, key, signature)

    def clear_signatures(self) -> None:
        """Remove every signature."""
        self._derived = {}
        _signatures.clear_signatures(self)

    def set_saver_def(self, saver_def=None) -> None:
        """Make ``saver_def`` (a SaverDef proto) the model's saver; None removes it (see
        :func:`graphsurgeon.metagraph.saver.set_saver_def`)."""
        self._derived = {}
        _saver.set_saver_def(self, saver_def)

    def set_asset_files(self, assets) -> None:
        """Make ``[(file name, tensor fed its path)]`` the MetaGraphDef's ``asset_file_def``."""
        self._derived = {}
        _assets.set_asset_files(self, assets)

    def set_tensorflow_version(self, version: str) -> None:
        """Record ``version`` as the TensorFlow version that wrote the MetaGraphDef (``meta_info_def``)."""
        if self.root.meta_graph is None:
            raise UsageError(f"{self.root.where}: is a plain GraphDef, which records no TensorFlow version")
        self.root.meta_graph.meta_info_def.tensorflow_version = version

    @_edit
    def set_device(self, op, device: str) -> Op:
        """Place ``op`` on ``device`` (``""``: anywhere); in a function body too (written back)."""
        node = self.node_def(_root_name(op))
        if node.device != device:
            node.device = device
            self._touch()
            self._logged(touched=[node.name])
        return Op(self, node)

    def clear_devices(self, functions: bool = True) -> tuple:
        """A copy with every op's device cleared, and the Changes (see :mod:`graphsurgeon.surgery.clear_devices`)."""
        from ..surgery.clear_devices import clear_devices as _clear  # rewrites sit above the graph

        return _clear(self, functions=functions)

    def layers(self) -> list:
        """Name scopes owning variables, in data-flow order (see :mod:`graphsurgeon.analysis.layers`)."""
        from ..analysis.layers import layers as _layers  # layers sits above the graph
        return _layers(self)

    def save(self, path=None, *, format=None, encoding=None, in_place=False, force=True, notes=None) -> Path:
        """Write the graph (see :func:`graphsurgeon.formats.writer.save`); returns the path written."""
        from ..formats import writer  # the writer sits above the graph
        return writer.save(self, path, format=format, encoding=encoding, in_place=in_place, force=force,
                           notes=notes)


class FunctionGraph(Graph):
    """The body of one library function, as a graph, editable.

    Arguments are ``_Arg`` ops named after them and results ``_Retval`` ops
    (see :mod:`graphsurgeon.ir.functions`). It shares its root's library and
    op registry. Every edit through the Graph's methods (``add_op``,
    ``set_attr``, ``replace_all_uses``, ``cleanup``...) is written back into
    the FunctionDef of the root's library when it returns, so saving the root
    saves the edited body. Copy and save the root, not the body.
    """

    def __init__(self, root: Graph, function_def):
        graph_def = function_to_graph_def(function_def, root.registry)
        self.graph_def = graph_def
        self.meta_graph = None
        self.model = None
        self.checkpoint = None
        self.parent = root
        self.function_name = function_def.signature.name
        self.function_def = function_def
        self._keep = []
        self._nodes = {node.name: node for node in graph_def.node}
        self._library = root._library
        self._registry = root.registry
        self._function_graphs = root._function_graphs
        self._renamed: dict[str, str] = {}
        self._reset_index()
        self._init_edit_state()

    @property
    def root(self) -> Graph:
        return self.parent

    @property
    def where(self) -> str:
        return f"function {self.function_name}"

    def copy(self):
        raise UsageError(f"function {self.function_name!r} is part of a graph: copy the top-level graph")

    def save(self, *args, **kwargs):
        raise UsageError(f"function {self.function_name!r} is part of a graph: save the top-level graph")

    def node_for_edit(self, name: str):
        raise UsageError(f"{self.where}: edit a body's ops with set_attr, set_input, replace_op... "
                         "(they are written back to the library); node_for_edit is for the top level")

    def named_outputs(self) -> set[str]:
        """A body's outputs: its results (``_Retval`` ops) and its control outputs."""
        names = {n.name for n in self.graph_def.node if n.op == "_Retval"}
        names.update(op for op in self.function_def.control_ret.values() if op in self._nodes)
        return names

    def _on_rename(self, mapping: dict[str, str]) -> None:
        for old, new in list(self._renamed.items()):
            self._renamed[old] = mapping.get(new, new)
        for old, new in mapping.items():
            self._renamed.setdefault(old, new)

    def _written(self) -> None:
        write_body(self.graph_def, self.function_def, self.registry, self._renamed)
        self._renamed = {}
        root = self.root
        root._touch()  # shapes and derived facts of the top level may follow the body
        if root._log is not None:
            root._log.functions.add(self.function_name)


def _add_use(index: dict, op: str, use) -> None:
    found = index.get(op)
    if found is None:
        index[op] = [use]
    elif type(found) is list:
        found.append(use)
    else:
        found[use] = None


def _remove_use(index: dict, op: str, use) -> None:
    """Take one use out of the index in O(1): an op's uses are a list until one is removed from a
    long list, then a dict (insertion-ordered, so ``uses()`` keeps its order)."""
    found = index.get(op)
    if not found:
        return
    if type(found) is list:
        if len(found) <= _SHORT:
            if use in found:
                found.remove(use)
            return
        found = index[op] = dict.fromkeys(found)
    found.pop(use, None)


_SHORT = 8  # uses lists up to this long stay lists when one is removed (list.remove is cheap there)


def _root_name(item) -> str:
    if isinstance(item, Op):
        return item.name
    if isinstance(item, Tensor):
        return item.op_name
    return _names.parse_input(item).op


def _rename_input(text: str, mapping: dict) -> str:
    ref = _names.parse_input(text)
    if ref.op not in mapping:
        return text
    if ref.control:
        return "^" + mapping[ref.op]
    # Keep TensorFlow's spelling: "op" for output 0 when it was written so.
    return mapping[ref.op] if text == ref.op else f"{mapping[ref.op]}:{ref.index}"


def _rename_colocation(text: bytes, mapping: dict) -> bytes:
    op = _names.colocation_op(text)
    return f"loc:@{mapping[op]}".encode() if op in mapping else text


def _tensor_info(info) -> dict:
    kind = info.WhichOneof("encoding")
    if kind == "coo_sparse":
        name = info.coo_sparse.values_tensor_name
    elif kind == "name":
        name = info.name
    else:
        name = None
    shape = from_proto(info.tensor_shape) if info.HasField("tensor_shape") else None
    return {"name": name, "dtype": _dtypes.name(info.dtype) if info.dtype else None,
            "shape": shape_json(shape), "encoding": kind}
