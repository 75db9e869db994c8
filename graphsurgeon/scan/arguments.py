"""What a capability op is pointed at: its file names, patterns, URLs and addresses, resolved statically.

:data:`TARGETS` says which inputs and attributes of each op type name the
thing it reaches. :class:`Resolver` follows each such input back through
pass-through ops and constants (:mod:`graphsurgeon.analysis.constants`), out of a
function body to every call site that feeds the argument, and says where
the value comes from:

- ``constant``: written in the model (``values`` holds it);
- ``asset``: one of the model's own ``assets/`` files (AssetFileDef), which
  the loader points at the SavedModel's folder;
- ``input``: a signature input, chosen by whoever calls the model;
- ``saver``: the saver's file name, which the loader feeds (``variables/``);
- ``fed``: a placeholder fed at run time, not part of any signature;
- ``attr``: an attribute of the op itself (``output_stream``, ``debug_urls``);
- ``computed``: computed at run time from other tensors; ``parts`` lists the
  string constants it is computed from, when there are any.

Nothing here opens a file: values are only read from the graph.
"""
from __future__ import annotations

from ..analysis.constants import Constants
from ..ir.functions import called_functions
from ..vocab.opdefs import input_arg_positions
from ..vocab.optypes import CALL_OPS, CASE_OPS, IF_OPS, PASS_THROUGH, WHILE_OPS

_DATASET_READ = ("filenames",)
TARGETS: dict[str, tuple[tuple[str, str], ...]] = {
    "ReadFile": (("input", "filename"),),
    "WriteFile": (("input", "filename"),),
    "MatchingFiles": (("input", "pattern"),),
    "MatchingFilesDataset": (("input", "patterns"),),
    "ExperimentalMatchingFilesDataset": (("input", "patterns"),),
    **{t: (("input", "filenames"),) for t in (
        "TextLineDataset", "TFRecordDataset", "TFRecordDatasetV2", "FixedLengthRecordDataset",
        "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset", "LMDBDataset",
        "ExperimentalLMDBDataset")},
    "SqlDataset": (("input", "driver_name"), ("input", "data_source_name"), ("input", "query")),
    "ExperimentalSqlDataset": (("input", "driver_name"), ("input", "data_source_name"), ("input", "query")),
    "ImmutableConst": (("attr", "memory_region_name"),),
    "PrintV2": (("attr", "output_stream"),),
    **{t: (("attr", "debug_urls"),) for t in (
        "DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount", "DebugNumericSummary")},
    "DumpTensor": (("attr", "log_dir_path"), ("attr", "file_name")),
    "Save": (("input", "filename"),),
    "SaveSlices": (("input", "filename"),),
    "SaveV2": (("input", "prefix"),),
    "Restore": (("input", "file_pattern"),),
    "RestoreSlice": (("input", "file_pattern"),),
    "RestoreV2": (("input", "prefix"),),
    "DTensorRestoreV2": (("input", "prefix"),),
    "MergeV2Checkpoints": (("input", "checkpoint_prefixes"), ("input", "destination_prefix")),
    "InitializeTableFromTextFile": (("input", "filename"),),
    "InitializeTableFromTextFileV2": (("input", "filename"),),
    "CreateSummaryFileWriter": (("input", "logdir"),),
    "CreateSummaryDbWriter": (("input", "db_uri"),),
    "SaveDataset": (("input", "path"),),
    "SaveDatasetV2": (("input", "path"),),
    "LoadDataset": (("input", "path"),),
    "DatasetToTFRecord": (("input", "filename"),),
    "ExperimentalDatasetToTFRecord": (("input", "filename"),),
    "CacheDataset": (("input", "filename"),),
    "CacheDatasetV2": (("input", "filename"),),
    "SnapshotDataset": (("input", "path"),),
    "SnapshotDatasetV2": (("input", "path"),),
    "SnapshotDatasetReader": (("input", "shard_dir"),),
    "SnapshotChunkDataset": (("input", "chunk_file"),),
    "ListSnapshotChunksDataset": (("input", "snapshot_path"),),
    "DistributedSave": (("input", "directory"), ("input", "address")),
    "LoadAndRemapMatrix": (("input", "ckpt_path"),),
    "CalibrationStatisticsSaver": (("attr", "output_file_path"),),
    "FileSystemSetConfiguration": (("input", "scheme"), ("input", "key"), ("input", "value")),
    "RecordInput": (("attr", "file_pattern"),),
    "Skipgram": (("attr", "filename"),),
    "RpcClient": (("input", "server_address"),),
    "RpcServer": (("input", "server_address"),),
    "RpcCall": (("input", "method_name"), ("client", "server_address")),
    "RemoteCall": (("input", "target"),),
    **{t: (("input", "address"), ("input", "protocol")) for t in (
        "DataServiceDataset", "DataServiceDatasetV2", "DataServiceDatasetV3", "DataServiceDatasetV4",
        "RegisterDataset", "RegisterDatasetV2")},
    "PyFunc": (("attr", "token"),),
    "PyFuncStateless": (("attr", "token"),),
    "EagerPyFunc": (("attr", "token"),),
    "XlaCustomCall": (("attr", "target_name"),),
    "XlaCustomCallV2": (("attr", "call_target_name"),),
    "XlaCallModule": (("attr", "platforms"), ("attr", "function_list")),
    **{t: (("queue", "filenames"),) for t in (
        "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2", "TFRecordReader",
        "TFRecordReaderV2", "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "LMDBReader")},
}

_MAX_DEPTH = 16       # call levels followed out of a body
_MAX_VALUES = 32      # values kept per argument
_MAX_TEXT = 4096      # characters kept per value
_PARTS_WALK = 256     # ops visited looking for the constants a computed value is made of


def _text(value) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + f"... ({len(text):,} characters)"


def _merge(results: list[dict]) -> dict:
    if len(results) == 1:
        return results[0]
    values, parts, sources = [], [], []
    for r in results:
        sources.append(r["source"])
        for v in r.get("values") or ():
            if v not in values:
                values.append(v)
        for p in r.get("parts") or ():
            if p not in parts:
                parts.append(p)
    out = {"source": "+".join(sorted(set(sources))), "values": values[:_MAX_VALUES]}
    if parts:
        out["parts"] = parts[:_MAX_VALUES]
    return out


class Resolver:
    """Resolves the :data:`TARGETS` arguments of ops of one model (see the module docstring).

    Args:
        g: the top-level Graph.
        call_sites: function -> [(caller function or None, op, attr)] (:func:`graphsurgeon.scan.reach.call_sites`).
    """

    def __init__(self, g, call_sites: dict):
        self.g = g
        self.call_sites = call_sites
        self._constants: dict = {}
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
        """``{argument: {"source", "values", ...}}`` for the :data:`TARGETS` of ``node``."""
        out = {}
        graph = self.graph(function)
        for kind, name in TARGETS.get(node.op, ()):
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

    def _input_tensor(self, function, node, name: str) -> str | None:
        graph = self.graph(function)
        op_def = graph.registry.get(node.op)
        positions = input_arg_positions(node, op_def) if op_def is not None else None
        if not positions or name not in positions:
            return None
        start, count = positions[name]
        refs = [r for r in graph.input_refs(node.name) if not r.control]
        if count != 1 or start >= len(refs):
            return None
        return refs[start].tensor

    def path_tensor(self, function, node, name: str) -> str | None:
        """The tensor feeding input ``name`` of ``node`` when that input is in its :data:`TARGETS`."""
        if ("input", name) not in TARGETS.get(node.op, ()):
            return None
        return self._input_tensor(function, node, name)

    def derives_from_saver(self, function, tensor: str, depth: int = 0, fed: bool = False) -> bool:
        """Whether ``tensor`` is computed from the saver's file name (``fed``: or from any placeholder)."""
        graph = self.graph(function)
        if depth > _MAX_DEPTH:
            return False
        start = _through(graph, tensor).rsplit(":", 1)[0]
        seen, stack = {start}, [start]
        while stack and len(seen) < _PARTS_WALK:
            op = stack.pop()
            node = graph.node_defs.get(op)
            if node is None:
                continue
            if function is None and self.saver_filename and op == self.saver_filename.rsplit(":", 1)[0]:
                return True
            if fed and function is None and node.op in ("Placeholder", "PlaceholderWithDefault"):
                return True
            if node.op == "_Arg" and function is not None:
                sources = list(self._argument_sources(function, node.attr["index"].i))
                if sources and all(self.derives_from_saver(c, t, depth + 1, fed) for c, t in sources):
                    return True
                continue
            for ref in graph.input_refs(op):
                if not ref.control and ref.op not in seen:
                    seen.add(ref.op)
                    stack.append(ref.op)
        return False

    def _input(self, function, node, name: str):
        tensor = self._input_tensor(function, node, name)
        if tensor is None:
            return None
        return self.resolve(function, tensor)

    def _client(self, function, node):
        """RpcCall's server: the address of the RpcClient whose handle it uses."""
        tensor = self._input_tensor(function, node, "client")
        if tensor is None:
            return None
        graph = self.graph(function)
        op = _through(graph, tensor).rsplit(":", 1)[0]
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
            refs = [r for r in graph.input_refs(reader.name) if not r.control]
            if len(refs) < 2:
                continue
            queue = refs[1].op
            for q_use in graph.uses(queue):
                enqueue = graph.node_defs.get(q_use.consumer)
                if enqueue is None or not enqueue.op.startswith("QueueEnqueue"):
                    continue
                for ref in [r for r in graph.input_refs(enqueue.name) if not r.control][1:]:
                    results.append(self.resolve(function, ref.tensor))
        return _merge(results) if results else {"source": "computed", "values": []}

    # ------------------------------------------------------------------ resolution
    def resolve(self, function: str | None, tensor: str, depth: int = 0, seen=None) -> dict:
        """Where the value of ``tensor`` (in ``function``, None for the top level) comes from."""
        seen = set() if seen is None else seen
        if (function, tensor) in seen or depth > _MAX_DEPTH:
            return {"source": "computed", "values": []}
        seen.add((function, tensor))
        graph = self.graph(function)
        tensor = _through(graph, tensor, self.assets if function is None else None)
        if function is None and tensor in self.assets:
            return {"source": "asset", "values": [self.assets[tensor]]}
        if function is None and tensor == self.saver_filename:
            return {"source": "saver", "values": []}
        strings = self._constants_of(function).strings(tensor)
        if strings is not None:
            return {"source": "constant", "values": [_text(s) for s in strings[:_MAX_VALUES]]}
        op = tensor.rsplit(":", 1)[0]
        node = graph.node_defs.get(op)
        if node is None:
            return {"source": "computed", "values": []}
        if node.op == "_Arg" and function is not None:
            index = node.attr["index"].i
            results = [self.resolve(caller, t, depth + 1, seen)
                       for caller, t in self._argument_sources(function, index)]
            if results:
                return _merge(results)
            return {"source": "computed", "values": []}
        if node.op in ("Placeholder", "PlaceholderV2") and function is None:
            if tensor in self.inputs:
                return {"source": "input", "values": [], "input": self.inputs[tensor]}
            return {"source": "fed", "values": []}
        out = {"source": "computed", "values": [], "by": node.op}
        parts = self._parts(graph, op)
        if parts:
            out["parts"] = parts
        return out

    def _constants_of(self, function):
        constants = self._constants.get(function)
        if constants is None:
            constants = self._constants[function] = Constants(self.graph(function))
        return constants

    def _argument_sources(self, function: str, index: int):
        """``(caller function, tensor)`` feeding argument ``index`` of ``function`` at each call site."""
        for caller, op, attr in self.call_sites.get(function, ()):
            graph = self.graph(caller)
            node = graph.node_defs.get(op)
            if node is None:
                continue
            refs = [r for r in graph.input_refs(op) if not r.control]
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
            refs = [r for r in graph.input_refs(current.name) if not r.control]
            start = positions["input_dataset"][0]
            if start >= len(refs):
                return []
            producer = graph.node_defs.get(_through(graph, refs[start].tensor).rsplit(":", 1)[0])
            if producer is None:
                return []
            if producer.op in ("TensorDataset", "TensorSliceDataset"):
                components = [r for r in graph.input_refs(producer.name) if not r.control]
                return [components[index].tensor] if index < len(components) else []
            if called_functions(producer, library):
                return []  # a map or another function changes the elements
            current = producer
        return []

    def _parts(self, graph, op: str) -> list[str]:
        """String constants among the data inputs ``op`` is computed from (a bounded walk)."""
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
            for ref in graph.input_refs(name):
                if not ref.control and ref.op not in seen:
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


def _through(graph, tensor: str, stop=None) -> str:
    """The tensor a chain of pass-through ops forwards (stopping at a tensor in ``stop``)."""
    tensor = _tensor(tensor)
    for _ in range(10_000):
        if stop and tensor in stop:
            return tensor
        op, index = tensor.rsplit(":", 1)
        node = graph.node_defs.get(op)
        if node is None or node.op not in PASS_THROUGH or index != "0":
            return tensor
        refs = [r for r in graph.input_refs(op) if not r.control]
        if not refs:
            return tensor
        tensor = refs[0].tensor
    return tensor
