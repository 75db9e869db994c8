"""What a capability op is pointed at: its file names, patterns, URLs and addresses, resolved statically.

:func:`targets` says which inputs and attributes of each op type name the
thing it reaches (the registry audit, :mod:`graphsurgeon.vocab.opaccess`).
:class:`Resolver` follows each such input back through pass-through ops and
constants (:mod:`graphsurgeon.analysis.constants`), through ops that pass strings on
(``Reshape``, ``Pack``, ``ConcatV2``, ``Select``...: the values are among
their inputs'), through ``StringJoin`` of constants, through a resource
variable to every value assigned to it (TF2 keeps an asset's path in one),
out of a function body to every call site that feeds the argument (a
dataset function's captured inputs and the elements of a constant dataset
included), and says where the value comes from:

- ``constant``: written in the model (``values`` holds it);
- ``asset``: one of the model's ``assets/`` files (AssetFileDef), which the
  loader joins to the SavedModel's ``assets/`` folder; a name that leaves
  it (absolute, ``..``) is ``outside``, ``values`` holds the file TensorFlow
  opens and ``assets`` the name as written;
- ``input``: a signature input, chosen by whoever calls the model;
- ``saver``: the saver's file name, which the loader feeds (``variables/``);
- ``fed``: a placeholder fed at run time, not part of any signature (with
  its default's values, when it has one);
- ``attr``: an attribute of the op itself (``output_stream``, ``debug_urls``);
- ``computed``: computed at run time from other tensors; ``parts`` lists the
  string constants (and string attributes: a regex rewrite, a format) it is
  computed from, when there are any.

Nothing here opens a file: values are only read from the graph.
"""
from __future__ import annotations

import posixpath

from ..vocab import opaccess as _opaccess
from ..analysis.constants import Constants
from ..ir.functions import called_functions
from ..vocab.opdefs import input_arg_positions
from ..vocab.optypes import CALL_OPS, CASE_OPS, IF_OPS, PASS_THROUGH, REQUIRED_PLACEHOLDER_TYPES, WHILE_OPS


def targets(op_type: str) -> tuple[tuple[str, str], ...]:
    """The arguments of ``op_type`` that name what it reaches, as the registry audit lists them."""
    entry = _opaccess.access(op_type)
    return entry.arguments if entry is not None else ()


# Ops whose output holds (some of) the strings of these inputs, unchanged: the values
# of a path that flows through them are among their inputs' values.
_FORWARD = {
    "Reshape": (0,), "ExpandDims": (0,), "Squeeze": (0,), "EnsureShape": (0,), "Tile": (0,), "BroadcastTo": (0,),
    "StridedSlice": (0,), "Slice": (0,), "Gather": (0,), "GatherV2": (0,), "GatherNd": (0,), "Transpose": (0,),
    "ReverseV2": (0,), "Unpack": (0,), "Select": (1, 2), "SelectV2": (1, 2), "Pack": None, "ConcatV2": "all-but-last",
    "Concat": "all-but-first", "IdentityN": "same",
}
# String attributes that become part of a computed string (a rewrite, a template, a separator).
_STRING_ATTRS = {"StaticRegexReplace": ("rewrite",), "StringFormat": ("template",), "StringJoin": ("separator",),
                 "RegexReplace": ()}
_VARIABLE_READS = ("ReadVariableOp", "ResourceGather", "ResourceGatherNd")
_VARIABLE_PEEKS = frozenset({"ReadVariableOp", "VarIsInitializedOp", "VariableShape", "DestroyResourceOp",
                             "ResourceGather", "ResourceGatherNd", "_ReadVariablesOp"})
_VARIABLE_WRITES = ("AssignVariableOp",)

_MAX_DEPTH = 16       # call levels followed out of a body
_MAX_VALUES = 32      # values kept per argument
_MAX_TEXT = 4096      # characters kept per value
_PARTS_WALK = 256     # ops visited looking for the constants a computed value is made of
_RESOLVE_BUDGET = 2048  # resolution steps per argument (a Pack of many strings, a deep call chain)


def _text(value) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + f"... ({len(text):,} characters)"


def _merge(results: list[dict]) -> dict:
    if len(results) == 1:
        return results[0]
    values, parts, sources, assets = [], [], [], []
    outside = False
    for r in results:
        sources.append(r["source"])
        for v in r.get("values") or ():
            if v not in values:
                values.append(v)
        for p in r.get("parts") or ():
            if p not in parts:
                parts.append(p)
        for a in r.get("assets") or ():
            if a not in assets:
                assets.append(a)
        outside = outside or bool(r.get("outside"))
    out = {"source": "+".join(sorted(set(sources))), "values": values[:_MAX_VALUES]}
    if parts:
        out["parts"] = parts[:_MAX_VALUES]
    if assets:
        out["assets"] = assets
    if outside:
        out["outside"] = True
    return out


def asset_target(filename: str, model_dir) -> str | None:
    """The file an asset name makes the loader open when it lies outside ``assets/``, else None.

    TensorFlow's loaders join the SavedModel's ``assets/`` folder and the
    AssetFileDef's file name (``os.path.join``): an absolute name replaces
    the folder, and ``..`` climbs out of it.
    """
    if not filename:
        return None
    name = filename.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or "://" in name:
        return filename
    inside = posixpath.normpath(posixpath.join("assets", name))
    if inside == "assets" or inside.startswith("assets/"):
        return None
    base = str(model_dir) if model_dir is not None else "."
    return posixpath.normpath(posixpath.join(base.replace("\\", "/"), inside))


class Resolver:
    """Resolves the :func:`targets` arguments of ops of one model (see the module docstring).

    Args:
        g: the top-level Graph.
        call_sites: function -> [(caller function or None, op, attr)] (:func:`graphsurgeon.scan.reach.call_sites`).
        model_dir: the model's folder (where ``assets/`` is), for asset names that leave it.
    """

    def __init__(self, g, call_sites: dict, model_dir=None):
        self.g = g
        self.call_sites = call_sites
        self.model_dir = model_dir
        self._constants: dict = {}
        self._budget = 0
        meta = g.meta_graph
        self.assets: dict[str, str] = {}
        self.inputs: dict[str, str] = {}
        self.saver_filename = None
        if meta is not None:
            for asset in _asset_file_defs(meta):
                if asset.tensor_info.name:
                    self.assets[_tensor(asset.tensor_info.name)] = asset.filename
            for key, sig in meta.signature_def.items():
                for arg, info in sig.inputs.items():
                    if info.name:
                        self.inputs.setdefault(_tensor(info.name), f"signature {key} input {arg}")
            if meta.HasField("saver_def") and meta.saver_def.filename_tensor_name:
                self.saver_filename = _tensor(meta.saver_def.filename_tensor_name)

    def graph(self, function: str | None):
        return self.g if function is None else self.g.function(function)

    def arguments(self, function: str | None, node) -> dict:
        """``{argument: {"source", "values", ...}}`` for the :func:`targets` of ``node``."""
        out = {}
        graph = self.graph(function)
        for kind, name in targets(node.op):
            self._budget = _RESOLVE_BUDGET
            if kind == "attr":
                result = self._attr(graph, node, name)
            elif kind == "queue":
                result = self._queue(function, node)
            elif kind == "client":
                result = self._client(function, node)
            else:
                result = self._input(function, node, name)
            if result is not None:
                out[name] = result
        return out

    # ------------------------------------------------------------------ kinds of argument
    def _attr(self, graph, node, name: str):
        value = node.attr[name] if name in node.attr else graph.registry.attr_default(node.op, name)
        if value is None:
            return None
        kind = value.WhichOneof("value")
        if kind == "s":
            values = [_text(value.s)]
        elif kind == "list":
            values = [_text(s) for s in value.list.s] + [f.name for f in value.list.func]
        elif kind == "func":
            values = [value.func.name]
        elif kind in ("i", "b", "f"):
            values = [str(getattr(value, kind))]
        else:
            return None
        return {"source": "attr", "values": values[:_MAX_VALUES]}

    def input_tensor(self, function, node, name: str) -> str | None:
        """The tensor feeding input ``name`` (a single-tensor input arg) of ``node``, or None."""
        graph = self.graph(function)
        op_def = graph.registry.get(node.op)
        positions = input_arg_positions(node, op_def) if op_def is not None else None
        if not positions or name not in positions:
            return None
        start, count = positions[name]
        refs = graph.data_refs(node.name)
        if count != 1 or start >= len(refs):
            return None
        return refs[start].tensor

    def path_tensor(self, function, node, name: str) -> str | None:
        """The tensor feeding input ``name`` of ``node`` when that input is among its :func:`targets`."""
        if ("input", name) not in targets(node.op):
            return None
        return self.input_tensor(function, node, name)

    def _input(self, function, node, name: str):
        tensor = self.input_tensor(function, node, name)
        if tensor is None:
            return None
        return self.resolve(function, tensor)

    def _client(self, function, node):
        """RpcCall's server: the address of the RpcClient whose handle it uses."""
        tensor = self.input_tensor(function, node, "client")
        if tensor is None:
            return None
        graph = self.graph(function)
        op = through(graph, tensor).rsplit(":", 1)[0]
        producer = graph.node_defs.get(op)
        if producer is None or producer.op != "RpcClient":
            return {"source": "computed", "values": []}
        return self._input(function, producer, "server_address")

    def _queue(self, function, node):
        """A TF1 reader's files: what is enqueued on the queue its ``ReaderRead`` ops read from."""
        graph = self.graph(function)
        results = []
        for use in graph.uses(node.name):
            reader = graph.node_defs.get(use.consumer)
            if reader is None or not reader.op.startswith("ReaderRead") or use.position != 0:
                continue
            refs = graph.data_refs(reader.name)
            if len(refs) < 2:
                continue
            queue = refs[1].op
            for q_use in graph.uses(queue):
                enqueue = graph.node_defs.get(q_use.consumer)
                if enqueue is None or not enqueue.op.startswith("QueueEnqueue"):
                    continue
                for ref in graph.data_refs(enqueue.name)[1:]:
                    results.append(self.resolve(function, ref.tensor))
        return _merge(results) if results else {"source": "computed", "values": []}

    # ------------------------------------------------------------------ resolution
    def resolve(self, function: str | None, tensor: str, depth: int = 0, seen=None) -> dict:
        """Where the value of ``tensor`` (in ``function``, None for the top level) comes from."""
        seen = set() if seen is None else seen
        if (function, tensor) in seen or depth > _MAX_DEPTH or self._budget <= 0:
            return {"source": "computed", "values": []}
        self._budget -= 1
        seen.add((function, tensor))
        graph = self.graph(function)
        tensor = through(graph, tensor, self.assets if function is None else None)
        if function is None and tensor in self.assets:
            return self._asset(self.assets[tensor])
        if function is None and tensor == self.saver_filename:
            return {"source": "saver", "values": []}
        strings = self._constants_of(function).strings(tensor)
        if strings is not None:
            return {"source": "constant", "values": [_text(s) for s in strings[:_MAX_VALUES]]}
        op, _, index = tensor.rpartition(":")
        node = graph.node_defs.get(op)
        if node is None:
            return {"source": "computed", "values": []}
        if node.op == "_Arg" and function is not None:
            results = [self.resolve(caller, t, depth + 1, seen)
                       for caller, t in self.argument_sources(function, node.attr["index"].i)]
            return _merge(results) if results else {"source": "computed", "values": []}
        if node.op in REQUIRED_PLACEHOLDER_TYPES and function is None:
            if tensor in self.inputs:
                return {"source": "input", "values": [], "input": self.inputs[tensor]}
            return {"source": "fed", "values": []}
        if node.op == "PlaceholderWithDefault" and function is None:
            refs = graph.data_refs(op)
            default = self.resolve(function, refs[0].tensor, depth, seen) if refs else {"values": []}
            out = {"source": "input" if tensor in self.inputs else "fed", "values": default.get("values", [])}
            if tensor in self.inputs:
                out["input"] = self.inputs[tensor]
            return out
        forwarded = self._forwarded(graph, node, int(index) if index.isdigit() else 0)
        if forwarded is not None:
            results = [self.resolve(function, t, depth, seen) for t in forwarded]
            if results:
                return _merge(results)
        if node.op in _VARIABLE_READS:
            return self._variable(function, node, depth, seen)
        if node.op == "StringJoin":
            joined = self._join(function, node, depth, seen)
            if joined is not None:
                return joined
        out = {"source": "computed", "values": [], "by": node.op}
        parts = self._parts(graph, op)
        if parts:
            out["parts"] = parts
        return out

    def _join(self, function, node, depth: int, seen) -> dict | None:
        """A ``StringJoin`` of constants (scalars broadcast against vectors), or None."""
        pieces = []
        for ref in self.graph(function).data_refs(node.name):
            part = self.resolve(function, ref.tensor, depth, seen)
            if part["source"] != "constant" or not part["values"]:
                return None
            pieces.append(part["values"])
        if not pieces:
            return None
        width = max(len(p) for p in pieces)
        if any(len(p) not in (1, width) for p in pieces):
            return None
        separator = _text(node.attr["separator"].s) if "separator" in node.attr else ""
        values = [separator.join(p[k if len(p) > 1 else 0] for p in pieces) for k in range(width)]
        return {"source": "constant", "values": values[:_MAX_VALUES]}

    def _asset(self, filename: str) -> dict:
        outside = asset_target(filename, self.model_dir)
        if outside is None:
            return {"source": "asset", "values": [filename]}
        return {"source": "asset", "values": [outside], "assets": [filename], "outside": True}

    def _forwarded(self, graph, node, index: int):
        """The input tensors whose strings ``node``'s output forwards (see ``_FORWARD``), or None."""
        how = _FORWARD.get(node.op, False)
        if how is False:
            return None
        refs = graph.data_refs(node.name)
        if how is None:
            picked = refs
        elif how == "all-but-last":
            picked = refs[:-1]
        elif how == "all-but-first":
            picked = refs[1:]
        elif how == "same":
            picked = refs[index:index + 1]
        else:
            picked = [refs[i] for i in how if i < len(refs)]
        return [r.tensor for r in picked[:_MAX_VALUES]]

    def _variable(self, function, node, depth: int, seen) -> dict:
        """A read of a resource variable: the values every assignment to it writes (when all can be found)."""
        computed = {"source": "computed", "values": [], "by": node.op}
        refs = self.graph(function).data_refs(node.name)
        if not refs:
            return computed
        handles = self._handle_sources(function, refs[0].tensor, depth)
        if not handles:
            return computed
        results = []
        for fn, op in handles:
            writes = self._writes(fn, op, depth)
            if writes is None:
                return computed
            results += [self.resolve(f, t, depth + 1, seen) for f, t in writes]
        return _merge(results) if results else computed

    def _handle_sources(self, function, tensor: str, depth: int):
        """``[(function, VarHandleOp name)]`` a variable handle comes from, or None when it cannot be told."""
        return self.resource_sources(function, tensor, lambda node: node.op == "VarHandleOp", depth)

    def resource_sources(self, function, tensor: str, is_resource, depth: int = 0):
        """``[(function, op name)]`` of the ops ``is_resource(node)`` accepts that a handle comes from.

        Follows pass-through ops and function arguments to every call site;
        None when any source is something else (computed, or unknown).
        """
        out = []
        stack = [(function, tensor, depth)]
        while stack:
            fn, t, d = stack.pop()
            if d > _MAX_DEPTH or len(out) > _MAX_VALUES:
                return None
            graph = self.graph(fn)
            op = through(graph, t).rsplit(":", 1)[0]
            producer = graph.node_defs.get(op)
            if producer is None:
                return None
            if is_resource(producer):
                out.append((fn, op))
            elif producer.op == "_Arg" and fn is not None:
                sources = list(self.argument_sources(fn, producer.attr["index"].i))
                if not sources:
                    return None
                stack.extend((caller, src, d + 1) for caller, src in sources)
            else:
                return None
        return out

    def _writes(self, function, op: str, depth: int):
        """``[(function, value tensor)]`` every op that assigns the variable ``op`` writes, or None.

        Follows the handle through pass-through ops and into the functions it
        is passed to; any use that may write another way gives None.
        """
        writes = []
        stack = [(function, op, depth)]
        visited = set()
        while stack:
            fn, name, d = stack.pop()
            if (fn, name) in visited:
                continue
            visited.add((fn, name))
            if d > _MAX_DEPTH or len(visited) > _PARTS_WALK:
                return None
            graph = self.graph(fn)
            for use in graph.uses(name):
                if use.control:
                    continue
                consumer = graph.node_defs.get(use.consumer)
                if consumer is None:
                    continue
                if consumer.op in _VARIABLE_PEEKS:
                    continue
                if consumer.op in PASS_THROUGH:
                    stack.append((fn, consumer.name, d))
                elif consumer.op in _VARIABLE_WRITES and use.position == 0:
                    refs = graph.data_refs(consumer.name)
                    if len(refs) < 2:
                        return None
                    writes.append((fn, refs[1].tensor))
                else:
                    callee = self._callee_argument(graph, consumer, use.position)
                    if callee is None:
                        return None
                    stack.append((callee[0], callee[1], d + 1))
        return writes

    def _callee_argument(self, graph, node, position: int):
        """``(function, _Arg op)`` that input ``position`` of a call becomes, or None."""
        library = self.g.library
        calls = called_functions(node, library)
        if node.op in CALL_OPS or (calls and calls[0][0] == "op"):
            index = position
        elif node.op in IF_OPS or node.op in CASE_OPS:
            index = position - 1
        elif node.op in WHILE_OPS:
            return None  # the loop's body may write the variable on any iteration: not followed
        else:
            return None
        names = [f for attr, f in calls if attr in ("f", "op")] if node.op not in IF_OPS | CASE_OPS else \
            [f for _, f in calls]
        if len(names) != 1 or index < 0:
            return None
        body = self.g.function(names[0])
        for arg in body.node_defs.values():
            if arg.op == "_Arg" and arg.attr["index"].i == index:
                return names[0], arg.name
        return None

    def _constants_of(self, function):
        constants = self._constants.get(function)
        if constants is None:
            constants = self._constants[function] = Constants(self.graph(function))
        return constants

    def argument_sources(self, function: str, index: int):
        """``(caller function, tensor)`` feeding argument ``index`` of ``function`` at each call site."""
        for caller, op, attr in self.call_sites.get(function, ()):
            graph = self.graph(caller)
            node = graph.node_defs.get(op)
            if node is None:
                continue
            refs = graph.data_refs(op)
            position = None
            if attr == "op" or (node.op in CALL_OPS and attr == "f") or node.op in WHILE_OPS:
                position = index
            elif node.op in IF_OPS or node.op in CASE_OPS:
                position = index + 1
            else:
                position = self._captured_position(graph, node, attr, function, index)
                if position is None:
                    for tensor in self._element_sources(graph, node, index):
                        yield caller, tensor
                    continue
            if position is not None and 0 <= position < len(refs):
                yield caller, refs[position].tensor

    def _captured_position(self, graph, node, attr: str, function: str, index: int):
        """Dataset functions: the last arguments are the op's captured inputs (``other_arguments``)."""
        op_def = graph.registry.get(node.op)
        positions = input_arg_positions(node, op_def) if op_def is not None else None
        if not positions:
            return None
        names = [n for n in positions if n.startswith(attr + "_other")] or \
                [n for n in positions if n == "other_arguments"]
        if len(names) != 1:
            return None
        start, count = positions[names[0]]
        total = len(self.g.library[function].signature.input_arg)
        first = total - count
        return start + index - first if index >= first else None

    def _element_sources(self, graph, node, index: int):
        """The tensors a dataset function's element component ``index`` comes from (constant datasets only).

        Follows ``input_dataset`` through datasets that pass elements on
        unchanged in content (shuffle, repeat, take, prefetch...: ops without
        a function of their own) to a ``TensorDataset`` or ``TensorSliceDataset``.
        """
        library = self.g.library
        current = node
        for _ in range(64):
            op_def = graph.registry.get(current.op)
            positions = input_arg_positions(current, op_def) if op_def is not None else None
            if not positions or "input_dataset" not in positions:
                return []
            refs = graph.data_refs(current.name)
            start = positions["input_dataset"][0]
            if start >= len(refs):
                return []
            producer = graph.node_defs.get(through(graph, refs[start].tensor).rsplit(":", 1)[0])
            if producer is None:
                return []
            if producer.op in ("TensorDataset", "TensorSliceDataset"):
                components = graph.data_refs(producer.name)
                return [components[index].tensor] if index < len(components) else []
            if called_functions(producer, library):
                return []  # a map or another function changes the elements
            current = producer
        return []

    def _parts(self, graph, op: str) -> list[str]:
        """String constants (and string attributes) among what ``op`` is computed from (a bounded walk)."""
        parts, stack, seen = [], [op], {op}
        constants = None
        while stack and len(seen) < _PARTS_WALK and len(parts) < _MAX_VALUES:
            name = stack.pop()
            node = graph.node_defs.get(name)
            if node is None:
                continue
            if node.op == "Const":
                if constants is None:
                    constants = Constants(graph)
                strings = constants.strings(name + ":0") if node.attr["dtype"].type == 7 else None  # DT_STRING
                for s in strings or ():
                    if s not in parts:
                        parts.append(_text(s))
                continue
            for attr in _STRING_ATTRS.get(node.op, ()):
                if attr in node.attr and node.attr[attr].s:
                    text = _text(node.attr[attr].s)
                    if text not in parts:
                        parts.append(text)
            for ref in graph.data_refs(name):
                if ref.op not in seen:
                    seen.add(ref.op)
                    stack.append(ref.op)
        return parts


def _asset_file_defs(meta) -> list:
    """The MetaGraphDef's AssetFileDefs; TF1 SavedModels before 1.x kept them in ``saved_model_assets``."""
    from ..vocab.protos import meta_graph_pb2

    assets = list(meta.asset_file_def)
    collection = meta.collection_def.get("saved_model_assets") if "saved_model_assets" in meta.collection_def \
        else None
    if collection is not None and collection.WhichOneof("kind") == "any_list":
        for item in collection.any_list.value:
            if item.type_url.endswith("tensorflow.AssetFileDef"):
                asset = meta_graph_pb2.AssetFileDef()
                try:
                    asset.ParseFromString(item.value)
                except Exception:  # a damaged entry is no asset
                    continue
                assets.append(asset)
    return assets


def _tensor(name: str) -> str:
    return name if ":" in name and name.rsplit(":", 1)[1].isdigit() else name + ":0"


def through(graph, tensor: str, stop=None, kinds=PASS_THROUGH) -> str:
    """The tensor a chain of pass-through ops (``kinds``) forwards (stopping at a tensor in ``stop``)."""
    tensor = _tensor(tensor)
    for _ in range(10_000):
        if stop and tensor in stop:
            return tensor
        op, index = tensor.rsplit(":", 1)
        node = graph.node_defs.get(op)
        if node is None or node.op not in kinds or index != "0":
            return tensor
        refs = [r for r in graph.input_refs(op) if not r.control]
        if not refs:
            return tensor
        tensor = refs[0].tensor
    return tensor
