"""The Graph: TensorFlow's protos as the source of truth, with cheap lookups.

A :class:`Graph` holds the GraphDef (and the MetaGraphDef around it, when
there is one) exactly as read; :class:`Op` and :class:`Tensor` are light
views on its nodes. Name lookups use a dict built once at load; consumers,
dtypes, shapes and the networkx index are built on first need, so that
listing a 60,000-op graph never pays for what it does not ask.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from . import names as _names
from . import opdefs
from .errors import NotFoundError
from .functions import called_functions, function_to_graph_def
from .patterns import compile_pattern, is_pattern

UNKNOWN = None  # an unknown dtype, shape or dimension
_MISSING = object()


class Tensor:
    """One output of an op: ``scope/op:index``."""

    __slots__ = ("graph", "op_name", "index")

    def __init__(self, graph: "Graph", op_name: str, index: int):
        self.graph = graph
        self.op_name = op_name
        self.index = index

    @property
    def name(self) -> str:
        return f"{self.op_name}:{self.index}"

    @property
    def op(self) -> "Op":
        return self.graph.op(self.op_name)

    @property
    def dtype(self) -> str | None:
        """TensorFlow's dtype name (``float32``, ``float32_ref``, ``resource``) or None."""
        types = self.graph._dtypes(self.op_name)
        return types[self.index] if types and self.index < len(types) else None

    @property
    def shape(self) -> tuple | None:
        """Dimensions (None where unknown), or None when even the rank is unknown."""
        shapes = self.graph.shapes.get(self.op_name)
        return shapes[self.index] if shapes and self.index < len(shapes) else None

    @property
    def consumers(self) -> list["Op"]:
        """Ops that read this tensor (once each, in graph order)."""
        seen = dict.fromkeys(c for c, _, idx in self.graph._consumers().get(self.op_name, ())
                             if idx == self.index)
        return [self.graph.op(c) for c in seen]

    def __eq__(self, other):
        return isinstance(other, Tensor) and other.graph is self.graph and other.name == self.name

    def __hash__(self):
        return hash((id(self.graph), self.op_name, self.index))

    def __repr__(self):
        return f"<Tensor {self.name} {self.dtype or '?'} {format_shape(self.shape)}>"


class Op:
    """One node of the graph, as a view on its NodeDef."""

    __slots__ = ("graph", "node")

    def __init__(self, graph: "Graph", node):
        self.graph = graph
        self.node = node

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def type(self) -> str:
        return self.node.op

    @property
    def device(self) -> str:
        return self.node.device

    @property
    def scope(self) -> str:
        return _names.scope_of(self.node.name)

    @property
    def attrs(self):
        """The NodeDef's attr map (AttrValue protos); see :mod:`graphsurgeon.attrs` to decode."""
        return self.node.attr

    @property
    def input_names(self) -> list[str]:
        """Data inputs as ``name:index`` strings, in order."""
        return [ref.tensor for ref in map(_names.parse_input, self.node.input) if not ref.control]

    @property
    def inputs(self) -> list[Tensor]:
        out = []
        for ref in map(_names.parse_input, self.node.input):
            if not ref.control:
                out.append(Tensor(self.graph, ref.op, ref.index))
        return out

    @property
    def control_input_names(self) -> list[str]:
        return [ref.op for ref in map(_names.parse_input, self.node.input) if ref.control]

    @property
    def control_inputs(self) -> list["Op"]:
        return [self.graph.op(n) for n in self.control_input_names if n in self.graph]

    @property
    def control_outputs(self) -> list["Op"]:
        names = dict.fromkeys(c for c, _, idx in self.graph._consumers().get(self.name, ()) if idx < 0)
        return [self.graph.op(n) for n in names]

    @property
    def outputs(self) -> list[Tensor]:
        return [Tensor(self.graph, self.name, i) for i in range(self.graph._num_outputs(self.name))]

    def output(self, index: int = 0) -> Tensor:
        return Tensor(self.graph, self.name, index)

    @property
    def consumers(self) -> list["Op"]:
        """Ops that read any output of this op (data edges only)."""
        names = dict.fromkeys(c for c, _, idx in self.graph._consumers().get(self.name, ()) if idx >= 0)
        return [self.graph.op(n) for n in names]

    @property
    def calls(self) -> list[tuple[str, str]]:
        """Library functions this op calls: ``[(attr or "op", function name)]``."""
        return called_functions(self.node, self.graph.library_names)

    @property
    def function(self) -> str | None:
        """The function body this op belongs to (None at the top level)."""
        return self.graph.function_name

    def __eq__(self, other):
        return isinstance(other, Op) and other.graph is self.graph and other.name == self.name

    def __hash__(self):
        return hash((id(self.graph), self.name))

    def __repr__(self):
        return f"<Op {self.name} ({self.type})>"


class Graph:
    """A TensorFlow graph: its protos plus indexes for questions.

    Build one with :func:`graphsurgeon.load`. Attributes:

    - ``graph_def``: the GraphDef (the source of truth, what gets written back).
    - ``meta_graph``: the MetaGraphDef around it, or None for a plain GraphDef.
    - ``model``: where it came from (:class:`graphsurgeon.formats.Model`), or None.
    - ``function_name``: set when this graph is a function body.

    Example:
        >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_tf1/model.ckpt.meta")
        >>> g.op("hidden1/MatMul").inputs
        [<Tensor X:0 float32 [?, 784]>, <Tensor hidden1/kernel/read:0 float32 [784, 300]>]
    """

    def __init__(self, graph_def, meta_graph=None, model=None, function_name=None, parent=None,
                 function_def=None):
        self.graph_def = graph_def
        self.meta_graph = meta_graph
        self.model = model
        self.function_name = function_name
        self.function_def = function_def
        self.parent = parent
        self._nodes = {node.name: node for node in graph_def.node}
        self._library = (parent._library if parent is not None
                         else {f.signature.name: f for f in graph_def.library.function})
        self._registry = parent._registry if parent is not None else opdefs.OpRegistry(
            meta_graph.meta_info_def.stripped_op_list
            if meta_graph is not None and meta_graph.HasField("meta_info_def") else None,
            self._library)
        self._function_graphs: dict[str, Graph] = parent._function_graphs if parent is not None else {}
        self._consumer_index = None
        self._refs_cache: dict[str, tuple] = {}
        self._dtype_cache: dict[str, list] = {}
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
        return self.parent if self.parent is not None else self

    @property
    def registry(self) -> opdefs.OpRegistry:
        return self._registry

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, name) -> bool:
        if isinstance(name, (Op, Tensor)):
            name = name.name
        if name in self._nodes:
            return True
        if _names.is_tensor_name(name):
            op, index = _names.split_tensor_name(name)
            return op in self._nodes and index < self._num_outputs(op)
        return False

    def __iter__(self) -> Iterator[Op]:
        return (Op(self, node) for node in self.graph_def.node)

    def __repr__(self):
        where = f" function {self.function_name!r}" if self.function_name else ""
        src = f" from {self.path}" if self.path else ""
        return f"<Graph{where}: {len(self)} ops{src}>"

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """Jupyter: the default collapsed drawing as SVG (text alone when Graphviz is missing)."""
        from .rendering import notebook_bundle
        return notebook_bundle(self)

    def _repr_svg_(self) -> str | None:
        return self._repr_mimebundle_().get("image/svg+xml")

    # ------------------------------------------------------------------ lookup
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
            raise NotFoundError("op", name, self._nodes.keys(), where=self._where())
        return Op(self, node)

    def tensor(self, name) -> Tensor:
        """The tensor ``name:index`` (a bare op name means its output 0)."""
        if isinstance(name, Tensor):
            return name
        op_name, index = _names.split_tensor_name(name)
        if op_name not in self._nodes:
            raise NotFoundError("tensor", name, (f"{n}:0" for n in self._nodes), where=self._where())
        count = self._num_outputs(op_name)
        if index >= count:
            raise NotFoundError("tensor", name, (f"{op_name}:{i}" for i in range(count)),
                                where=self._where())
        return Tensor(self, op_name, index)

    def get(self, name):
        """An op or a tensor, whichever ``name`` spells (``a:0`` is a tensor)."""
        if isinstance(name, (Op, Tensor)):
            return name
        return self.tensor(name) if _names.is_tensor_name(name) else self.op(name)

    def ops(self, pattern: str | list[str] | None = None, type: str | list[str] | None = None,
            scope: str | None = None) -> list[Op]:
        """Ops whose names match ``pattern`` (see :mod:`graphsurgeon.patterns`).

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
        """Output tensors of the ops :meth:`ops` selects; a pattern with ``:`` matches tensor names."""
        patterns = [pattern] if isinstance(pattern, str) else list(pattern or [])
        tensor_patterns = [p for p in patterns if ":" in p and not p.startswith("re:")]
        op_patterns = [p for p in patterns if p not in tensor_patterns]
        out = []
        if tensor_patterns:
            preds = [compile_pattern(p) for p in tensor_patterns]
            for p in tensor_patterns:
                if not is_pattern(p):
                    self.tensor(p)
            for op in self.ops(type=type, scope=scope):
                out.extend(t for t in op.outputs if any(pr(t.name) for pr in preds))
        if op_patterns or not patterns:
            for op in self.ops(op_patterns or None, type=type, scope=scope):
                out.extend(op.outputs)
        if dtype:
            out = [t for t in out if t.dtype == dtype]
        return out

    # ------------------------------------------------------------------ functions
    @property
    def library_names(self) -> set[str]:
        return set(self._library)

    @property
    def functions(self) -> dict[str, "Graph"]:
        """Function bodies by name, each a Graph (built on first access)."""
        return {name: self.function(name) for name in self._library}

    def function(self, name: str) -> "Graph":
        root = self.root
        graph = root._function_graphs.get(name)
        if graph is None:
            fdef = root._library.get(name)
            if fdef is None:
                raise NotFoundError("function", name, root._library.keys(), where=root._where())
            graph = Graph(function_to_graph_def(fdef, root._registry), meta_graph=None, model=None,
                          function_name=name, parent=root, function_def=fdef)
            root._function_graphs[name] = graph
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

    # ------------------------------------------------------------------ derived facts
    def _where(self) -> str:
        if self.function_name:
            return f"function {self.function_name}"
        return str(self.path) if self.path else "graph"

    def _consumers(self) -> dict[str, list[tuple[str, int, int]]]:
        """producer -> [(consumer, input position, output index or -1 for control)]."""
        if self._consumer_index is None:
            index: dict[str, list] = {}
            for node in self.graph_def.node:
                for position, ref in enumerate(self.input_refs(node.name)):
                    index.setdefault(ref.op, []).append((node.name, position, -1 if ref.control else ref.index))
            self._consumer_index = index
        return self._consumer_index

    def input_refs(self, name: str) -> tuple:
        """The op's inputs parsed (:class:`graphsurgeon.names.InputRef`, control ones included).

        Cached: walks over large graphs parse each input string once.
        """
        refs = self._refs_cache.get(name)
        if refs is None:
            refs = self._refs_cache[name] = tuple(map(_names.parse_input, self._nodes[name].input))
        return refs

    def _dtypes(self, name: str) -> list | None:
        types = self._dtype_cache.get(name, _MISSING)
        if types is not _MISSING:
            return types
        node = self._nodes[name]
        types = self._registry.output_dtypes(node)
        if types is None and node.op in ("_Arg", "_Retval"):
            from . import dtypes as _dt
            types = [_dt.name(node.attr["T"].type)] if node.op == "_Arg" else []
        self._dtype_cache[name] = types
        return types

    def _num_outputs(self, name: str) -> int:
        types = self._dtypes(name)
        if types is not None:
            return len(types)
        # Unknown op type: as many outputs as recorded shapes or as consumers read.
        node = self._nodes[name]
        count = len(node.attr["_output_shapes"].list.shape) if "_output_shapes" in node.attr else 0
        for _, _, idx in self._consumers().get(name, ()):
            if idx < opdefs.MAX_OUTPUTS:  # "op:99999999999" is damage, not that many outputs
                count = max(count, idx + 1)
        return count

    @property
    def shapes(self) -> dict[str, list]:
        """op name -> [shape of each output]; built on first use (see :mod:`graphsurgeon.shapes`)."""
        if self._shapes is None:
            from .shapes import infer_shapes
            self._shapes = infer_shapes(self)
        return self._shapes

    @property
    def nx(self):
        """The networkx MultiDiGraph index (built on first use).

        Nodes are op names (attributes ``type``, ``device``); each data edge
        carries ``src_index`` (producer output), ``dst_index`` (consumer
        input position) and ``control=False``; control edges have
        ``control=True``. An op reading a tensor twice has two edges.
        """
        if self._nx is None:
            import networkx as nx

            g = nx.MultiDiGraph(name=self.function_name or str(self.path or "graph"))
            for node in self.graph_def.node:
                g.add_node(node.name, type=node.op, device=node.device)
            for node in self.graph_def.node:
                for position, text in enumerate(node.input):
                    ref = _names.parse_input(text)
                    if ref.op not in g:
                        g.add_node(ref.op, type=None, device="", missing=True)
                    if ref.control:
                        g.add_edge(ref.op, node.name, control=True, dst_index=position, src_index=-1)
                    else:
                        g.add_edge(ref.op, node.name, control=False, src_index=ref.index, dst_index=position)
            self._nx = g
        return self._nx

    # ------------------------------------------------------------------ editing
    # Every edit goes through these methods: they change the protos and keep
    # the indexes (name dict, consumers, networkx) in step, incrementally.

    def copy(self) -> "Graph":
        """A deep copy (protos included) that can be edited independently."""
        if self.parent is not None:
            raise TypeError("copy the top-level graph, not a function body")
        import copy as _copy

        model = _copy.copy(self.model)
        if model is not None:
            model.container = type(self.model.container)()
            model.container.CopyFrom(self.model.container)
            meta = model.meta_graph
            return Graph(model.graph_def, meta_graph=meta, model=model)
        if self.meta_graph is not None:
            meta = type(self.meta_graph)()
            meta.CopyFrom(self.meta_graph)
            return Graph(meta.graph_def, meta_graph=meta)
        gd = type(self.graph_def)()
        gd.CopyFrom(self.graph_def)
        return Graph(gd)

    def add_op(self, node_def) -> Op:
        """Append a NodeDef (copied) to the graph. Its name must be new."""
        if node_def.name in self._nodes:
            from .errors import RewriteError
            raise RewriteError(f"an op named {node_def.name!r} already exists")
        node = self.graph_def.node.add()
        node.CopyFrom(node_def)
        self._nodes[node.name] = node
        self._index_inputs(node, add=True)
        if self._nx is not None:
            self._nx.add_node(node.name, type=node.op, device=node.device)
            self._nx_add_edges(node)
        self._shapes = None
        return Op(self, node)

    def replace_op(self, node_def) -> Op:
        """Replace the op named ``node_def.name`` by ``node_def`` (copied), in place.

        The op keeps its position and name, so references to it (consumers,
        control inputs, colocations, collections) stay valid.
        """
        node = self._nodes[node_def.name]
        self._index_inputs(node, add=False)
        if self._nx is not None:
            self._nx.remove_edges_from(list(self._nx.in_edges(node.name, keys=True)))
        node.CopyFrom(node_def)
        self._index_inputs(node, add=True)
        self._dtype_cache.pop(node.name, None)
        if self._nx is not None:
            self._nx.add_node(node.name, type=node.op, device=node.device)
            self._nx_add_edges(node)
        self._shapes = None
        return Op(self, node)

    def set_inputs(self, name: str, inputs) -> None:
        """Replace an op's input list (``name:index`` and ``^control`` strings)."""
        node = self._nodes[name]
        self._index_inputs(node, add=False)
        if self._nx is not None:
            self._nx.remove_edges_from(list(self._nx.in_edges(name, keys=True)))
        del node.input[:]
        node.input.extend(inputs)
        self._index_inputs(node, add=True)
        if self._nx is not None:
            self._nx_add_edges(node)
        self._shapes = None

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
        from .changes import Changes
        from .errors import RewriteError

        removed = {n.name if isinstance(n, Op) else n for n in names}
        missing = [n for n in removed if n not in self._nodes]
        if missing:
            self.op(missing[0])  # raises NotFoundError with suggestions
        if check:
            consumers = self._consumers()
            for name in removed:
                for consumer, _, _ in consumers.get(name, ()):
                    if consumer not in removed:
                        raise RewriteError(f"cannot remove {name!r}: {consumer!r} still reads it",
                                           hint="remove or rewire its consumers too")
        changes = Changes(removed=[n.name for n in self.graph_def.node if n.name in removed])
        for name in removed:
            self._index_inputs(self._nodes[name], add=False)
            self._dtype_cache.pop(name, None)
            del self._nodes[name]
        keep = [n for n in self.graph_def.node if n.name not in removed]
        if len(keep) != len(self.graph_def.node):
            kept = [type(n)() for n in keep]
            for new, old in zip(kept, keep):
                new.CopyFrom(old)
            del self.graph_def.node[:]
            self.graph_def.node.extend(kept)
            self._nodes = {node.name: node for node in self.graph_def.node}
        if self._nx is not None:
            self._nx.remove_nodes_from(removed)
        self._shapes = None
        if self.meta_graph is not None and self.parent is None:
            from .collections import fix_references
            changes.dropped.extend(fix_references(self, removed))
        return changes

    def _index_inputs(self, node, add: bool) -> None:
        if not add:
            self._refs_cache.pop(node.name, None)  # its inputs are about to change
        if self._consumer_index is None:
            return
        for position, text in enumerate(node.input):
            ref = _names.parse_input(text)
            entry = (node.name, position, -1 if ref.control else ref.index)
            if add:
                self._consumer_index.setdefault(ref.op, []).append(entry)
            else:
                lst = self._consumer_index.get(ref.op)
                if lst and entry in lst:
                    lst.remove(entry)

    def _nx_add_edges(self, node) -> None:
        for position, text in enumerate(node.input):
            ref = _names.parse_input(text)
            if ref.op not in self._nx:
                self._nx.add_node(ref.op, type=None, device="", missing=True)
            if ref.control:
                self._nx.add_edge(ref.op, node.name, control=True, dst_index=position, src_index=-1)
            else:
                self._nx.add_edge(ref.op, node.name, control=False, src_index=ref.index, dst_index=position)

    def _invalidate(self) -> None:
        """Forget derived indexes after the protos changed under us."""
        self._nodes = {node.name: node for node in self.graph_def.node}
        self._consumer_index = None
        self._refs_cache.clear()
        self._dtype_cache.clear()
        self._shapes = None
        self._nx = None

    # ------------------------------------------------------------------ collections and saving
    # Thin delegations: the work lives in graphsurgeon/collections.py and
    # graphsurgeon/formats/writer.py.

    @property
    def collections(self) -> dict:
        """Collections by name (see :mod:`graphsurgeon.collections`); empty for a plain GraphDef."""
        from . import collections as _collections
        return _collections.collections(self)

    def collection(self, name: str) -> list:
        """The items of collection ``name`` in order (ops, tensors, decoded messages)."""
        from . import collections as _collections
        return _collections.get_collection(self, name).items

    def add_to_collection(self, name: str, *items):
        """Append ops / tensors (objects or names) to node_list collection ``name``."""
        from . import collections as _collections
        return _collections.add_to_collection(self, name, *items)

    def remove_from_collection(self, name: str, *items):
        """Remove entries from collection ``name``."""
        from . import collections as _collections
        return _collections.remove_from_collection(self, name, *items)

    def delete_collection(self, name: str):
        """Delete collection ``name``; returns what it held."""
        from . import collections as _collections
        return _collections.delete_collection(self, name)

    def rename_collection(self, old: str, new: str):
        """Rename collection ``old`` to ``new``."""
        from . import collections as _collections
        return _collections.rename_collection(self, old, new)

    def layers(self) -> list:
        """Name scopes owning variables, in data-flow order (see :mod:`graphsurgeon.layers`)."""
        from .layers import layers as _layers
        return _layers(self)

    def save(self, path=None, *, format=None, encoding=None, in_place=False, force=False, notes=None) -> Path:
        """Write the graph (see :func:`graphsurgeon.formats.writer.save`); returns the path written."""
        from .formats import writer
        return writer.save(self, path, format=format, encoding=encoding, in_place=in_place, force=force,
                           notes=notes)


def _tensor_info(info) -> dict:
    from . import dtypes
    from .shapes import from_proto

    kind = info.WhichOneof("encoding")
    if kind == "coo_sparse":
        name = info.coo_sparse.values_tensor_name
    elif kind == "name":
        name = info.name
    else:
        name = None
    shape = from_proto(info.tensor_shape) if info.HasField("tensor_shape") else None
    return {"name": name, "dtype": dtypes.name(info.dtype) if info.dtype else None,
            "shape": None if shape is None else list(shape), "encoding": kind}


_SHAPE_TEXT: dict = {}


def format_shape(shape) -> str:
    """``(None, 784)`` -> ``[?, 784]``; None -> ``?``."""
    if shape is None:
        return "?"
    key = tuple(shape)
    text = _SHAPE_TEXT.get(key)
    if text is None:
        text = "[" + ", ".join("?" if d is None else str(d) for d in key) + "]"
        if len(_SHAPE_TEXT) < 65536:  # graphs repeat a few shapes; memoise them, boundedly
            _SHAPE_TEXT[key] = text
    return text
