"""Collections of a MetaGraphDef: read them, edit them, keep them true.

A MetaGraphDef's ``collection_def`` maps a name to one list of one kind:

- ``node_list``: op names (``train/training_op``) and tensor names (``X:0``),
  resolved here to :class:`~graphsurgeon.ir.graph.Op` and
  :class:`~graphsurgeon.ir.graph.Tensor`; an entry naming nothing in the graph
  is kept as :class:`Unresolved` (TensorFlow would refuse to import it).
- ``bytes_list``: serialized protos; VariableDefs wherever they are (decided
  by content: :func:`graphsurgeon.metagraph.variables.variable_def_collections`),
  ``savers`` -> SaverDef, ``cond_context`` -> CondContextDef,
  ``while_context`` -> WhileContextDef as TensorFlow decodes them; raw bytes
  otherwise.
- ``any_list``: ``google.protobuf.Any``; decoded when the type URL names a
  message of :data:`graphsurgeon.vocab.protos.KNOWN_MESSAGES`.
- ``int64_list``, ``float_list``: numbers.

Editing stores items exactly as TensorFlow's ``export_meta_graph`` does
(tensors as ``X:0``, ops as their names, in a ``node_list``), so that
``tf.compat.v1.get_collection`` gives them back after ``import_meta_graph``.

Consistency: :func:`fix_references` (ops removed) and
:func:`rename_references` (ops renamed) are the one mechanism every rewrite
uses to keep collections, the saver, signatures and asset entries true.

Example:
    >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_tf1/model.ckpt.meta")
    >>> g.collection("my_important_ops")
    [<Tensor X:0 float32 [?, 784]>, <Tensor y:0 int64 [?]>, <Tensor eval/accuracy:0 float32 []>,
     <Op train/training_op (NoOp)>]
    >>> g.add_to_collection("reuse_ops", "X:0", g.op("train/training_op"))
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

from ..errors import NotFoundError, RewriteError, UsageError
from ..ir.views import Op, Tensor
from ..vocab import names as _names
from ..vocab import protos
from ..vocab.protos import CondContextDef, SaverDef, VariableDef, WhileContextDef
from ..wording import plural
from .variables import holds_variable_defs, parse_variable_def

# Collection name -> message of its bytes_list entries, as TensorFlow registers them
# (ops.register_proto_function) for messages other than VariableDef; VariableDef
# collections are recognised by content (see message_class).
PROTO_COLLECTIONS = {"savers": SaverDef, "cond_context": CondContextDef, "while_context": WhileContextDef}

KINDS = ("node_list", "bytes_list", "int64_list", "float_list", "any_list")

# The ops a TF1 SavedModel's loader runs after restoring; it refuses either collection unless it holds
# exactly one entry ("Expected exactly one SavedModel init op").
MAIN_OP_COLLECTIONS = ("saved_model_main_op", "legacy_init_op")
# TF2's form of it: a signature whose one output names the init op (the v1 loader's third choice).
INIT_OP_SIGNATURE = "__saved_model_init_op"


def _message_dict(message) -> dict:
    """A decoded collection entry as JSON-ready fields."""
    from google.protobuf import json_format  # heavy to import; only ``collections show --json`` needs it

    return json_format.MessageToDict(message, preserving_proto_field_name=True)


class Unresolved:
    """A node_list entry that names no op (or no such output) of the graph."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __eq__(self, other):
        return isinstance(other, Unresolved) and other.name == self.name

    def __hash__(self):
        return hash(("unresolved", self.name))

    def __repr__(self):
        return f"<Unresolved {self.name}>"


def message_name(type_url: str) -> str | None:
    """``type.googleapis.com/tensorflow.AssetFileDef`` -> ``AssetFileDef`` (None if not TensorFlow's)."""
    full = type_url.rsplit("/", 1)[-1]
    return full[len("tensorflow."):] if full.startswith("tensorflow.") else None


def decode_any(any_msg):
    """The message packed in an Any, or None when its type is not one we know or it does not parse."""
    name = message_name(any_msg.type_url)
    cls = protos.KNOWN_MESSAGES.get(name) if name else None
    if cls is None:
        return None
    msg = cls()
    try:
        msg.ParseFromString(any_msg.value)
    except Exception:  # noqa: BLE001 - damaged entry: shown as bytes instead
        return None
    return msg


def message_class(name: str, collection):
    """The message class of the bytes_list entries of CollectionDef ``collection`` (called ``name``), or None.

    VariableDef wherever the entries are VariableDefs (one decision:
    :func:`~graphsurgeon.metagraph.variables.holds_variable_defs`), else the
    message TensorFlow registers for the name (SaverDef, CondContextDef,
    WhileContextDef).
    """
    if collection.WhichOneof("kind") != "bytes_list":
        return None
    if holds_variable_defs(name, collection):
        return VariableDef
    return PROTO_COLLECTIONS.get(name)


def decode_bytes(cls, raw: bytes):
    """A bytes_list entry decoded as message ``cls`` (see :func:`message_class`), or None (none, damaged)."""
    if cls is None:
        return None
    if cls is VariableDef:
        return parse_variable_def(raw)
    msg = cls()
    try:
        msg.ParseFromString(raw)
    except Exception:  # noqa: BLE001
        return None
    return msg


class Collection:
    """One collection: its name, kind, stored values and what they resolve to.

    Attributes:
        name: the collection's key.
        kind: ``node_list``, ``bytes_list``, ``int64_list``, ``float_list``,
            ``any_list``, or None when the entry sets no kind (TensorFlow skips it).
        values: the stored values, as stored (str, bytes, int, float or Any).
        items: what they mean: Op / Tensor / :class:`Unresolved` for node_list,
            decoded messages (or the raw bytes / Any when unknown) otherwise.
    """

    def __init__(self, graph, name: str, proto):
        self.graph = graph
        self.name = name
        self.kind = proto.WhichOneof("kind")
        self.values = list(getattr(proto, self.kind).value) if self.kind else []
        self.message_class = message_class(name, proto)
        self._items = None

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator:
        return iter(self.items)

    def __getitem__(self, index):
        return self.items[index]

    def __repr__(self):
        return f"<Collection {self.name} {self.kind} ({len(self)})>"

    @property
    def message_type(self) -> str | None:
        """Name of the message of bytes_list entries (``VariableDef``...), or None."""
        return self.message_class.DESCRIPTOR.name if self.message_class is not None else None

    @property
    def items(self) -> list:
        if self._items is None:
            if self.kind == "node_list":
                self._items = [resolve_entry(self.graph, v) for v in self.values]
            elif self.kind == "bytes_list":
                self._items = [decode_bytes(self.message_class, v) or v for v in self.values]
            elif self.kind == "any_list":
                self._items = [decode_any(v) or v for v in self.values]
            else:
                self._items = list(self.values)
        return self._items

    @property
    def unresolved(self) -> list[str]:
        """node_list entries that name nothing in the graph."""
        return [i.name for i in self.items if isinstance(i, Unresolved)]

    def describe(self) -> list[dict]:
        """One JSON-ready dict per item (see the README's ``collections show --json`` schema)."""
        return [describe_item(self, value, item) for value, item in zip(self.values, self.items)]

    def short(self, width: int = 80) -> str:
        """The first items, by name, in about ``width`` characters (for a one-line listing)."""
        out = ""
        for i, item in enumerate(self.items):
            label = item_label(self.values[i], item)
            more = f", ... (+{len(self) - i})"
            piece = (", " if out else "") + label
            if out and len(out) + len(piece) + len(more) > width:
                return out + more
            out += piece
        return out

    def as_dict(self, items: bool = True) -> dict:
        out = {"name": self.name, "kind": self.kind, "size": len(self)}
        if self.message_type:
            out["message"] = self.message_type
        if self.kind == "node_list":
            out["unresolved"] = self.unresolved
        if items:
            out["items"] = self.describe()
        return out


def describe_item(collection: Collection, value, item) -> dict:
    """A dict describing one item, with a short human ``text``."""

    if isinstance(item, Tensor):
        return {"value": value, "resolved": "tensor", "op_type": item.op.type, "dtype": item.dtype,
                "shape": None if item.shape is None else list(item.shape), "text": value}
    if isinstance(item, Op):
        return {"value": value, "resolved": "op", "op_type": item.type, "text": value}
    if isinstance(item, Unresolved):
        return {"value": value, "resolved": None, "text": f"{value} (not in graph)"}
    if collection.kind in ("int64_list", "float_list"):
        return {"value": value, "text": repr(value)}
    if collection.kind == "bytes_list":
        if isinstance(item, bytes):
            return {"bytes": len(item), **_bytes_text(item)}
        return {"bytes": len(value), "message": type(item).DESCRIPTOR.name,
                "fields": _message_dict(item),
                "text": summarize_message(item)}
    # any_list
    if item is value:
        return {"type_url": value.type_url, "bytes": len(value.value),
                "text": f"{value.type_url.rsplit('/', 1)[-1]} ({len(value.value)} bytes)"}
    return {"type_url": value.type_url, "bytes": len(value.value), "message": type(item).DESCRIPTOR.name,
            "fields": _message_dict(item),
            "text": summarize_message(item)}


def item_label(value, item) -> str:
    """A few words naming one item: its entry, variable, context or file name."""

    if isinstance(item, (Op, Tensor)):
        return value
    if isinstance(item, Unresolved):
        return f"{value} (not in graph)"
    if isinstance(item, bytes):
        return _bytes_text(item)["text"]
    if isinstance(item, (int, float)):
        return repr(item)
    name = type(item).DESCRIPTOR.name
    if name == "VariableDef":
        return item.variable_name
    if name in ("CondContextDef", "WhileContextDef"):
        return item.context_name
    if name == "SaverDef":
        return f"saver {item.save_tensor_name}"
    if name == "AssetFileDef":
        return f"asset {item.filename}"
    if name == "Any":
        return f"{item.type_url.rsplit('/', 1)[-1]} ({len(item.value)} bytes)"
    return summarize_message(item)


def _bytes_text(raw: bytes) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"text": f"{len(raw)} bytes"}
    if text.isprintable():
        return {"utf8": text, "text": repr(text) if len(text) <= 60 else repr(text[:57]) + "..."}
    return {"text": f"{len(raw)} bytes"}


def summarize_message(msg) -> str:
    """A one-line reading of a decoded collection message."""
    name = type(msg).DESCRIPTOR.name
    if name == "VariableDef":
        # Not saying "trainable": old files lack the field (TensorFlow then goes by collection).
        return f"variable {msg.variable_name} (init {msg.initializer_name or '-'})"
    if name == "SaverDef":
        return (f"saver {msg.filename_tensor_name} -> save {msg.save_tensor_name}, restore {msg.restore_op_name}"
                f" (V{msg.version + 1}{', sharded' if msg.sharded else ''})")
    if name == "CondContextDef":
        return (f"cond {msg.context_name}: pred {msg.pred_name}, pivot {msg.pivot_name}, branch {msg.branch}, "
                f"{len(msg.values_def.values)} values")
    if name == "WhileContextDef":
        return (f"while {msg.context_name}: pivot {msg.pivot_name}, {len(msg.loop_enter_names)} enter, "
                f"{len(msg.loop_exit_names)} exit, {len(msg.values_def.values)} values")
    if name == "AssetFileDef":
        return f"asset {msg.filename} <- {msg.tensor_info.name}"
    if name == "TensorInfo":
        return f"tensor {msg.name or msg.WhichOneof('encoding')}"
    if name == "SignatureDef":
        return f"signature {msg.method_name}: {plural(msg.inputs, 'input')}, {plural(msg.outputs, 'output')}"
    if name in ("GraphDef",):
        return f"GraphDef with {plural(msg.node, 'node')}"
    if name == "MetaGraphDef":
        return f"MetaGraphDef with {plural(msg.graph_def.node, 'node')}"
    from google.protobuf import text_format  # only to show an unusual message: listing never needs it

    text = text_format.MessageToString(msg, as_one_line=True)
    return f"{name} {{{text[:80]}{'...' if len(text) > 80 else ''}}}"


def resolve_entry(graph, value: str):
    """A node_list entry as TensorFlow's ``as_graph_element`` sees it: Tensor, Op or Unresolved."""

    if _names.is_tensor_name(value):
        op_name, index = _names.split_tensor_name(value)
        node = graph.node_defs.get(op_name)
        if node is None:
            return Unresolved(value)
        types = graph.output_dtypes(op_name)
        if types is not None and index >= len(types):
            return Unresolved(value)
        return Tensor(graph, op_name, index)
    node = graph.node_defs.get(value)
    return Op(graph, node) if node is not None else Unresolved(value)


# ---------------------------------------------------------------------- API (Graph delegates here)

def _meta(graph):
    root = graph.root
    if root.meta_graph is None:
        where = root.path or "this graph"
        raise UsageError(f"{where}: is a plain GraphDef, which has no collections",
                         hint="use the .meta or SavedModel it came from, or write it as a MetaGraphDef "
                              "(CLI: -o OUT.meta; API: graphsurgeon.formats.writer.as_meta_graph(g))")
    return root.meta_graph


def collections(graph) -> dict[str, Collection]:
    """Every collection, by name (sorted); empty for a plain GraphDef."""
    root = graph.root
    if root.meta_graph is None:
        return {}
    cd = root.meta_graph.collection_def
    return {name: Collection(root, name, cd[name]) for name in sorted(cd)}


def get_collection(graph, name: str) -> Collection:
    """The collection ``name``; NotFoundError with the closest names when there is none."""
    meta = _meta(graph)
    if name not in meta.collection_def:
        raise NotFoundError("collection", name, meta.collection_def.keys(), where=_where(graph))
    return Collection(graph.root, name, meta.collection_def[name])


def main_ops(graph) -> list[str]:
    """The ops a SavedModel's loader runs after restoring.

    Collections ``saved_model_main_op``, ``legacy_init_op``, and TF2's
    ``__saved_model_init_op`` signature.
    """
    meta = graph.root.meta_graph
    if meta is None:
        return []
    names = []
    for key in MAIN_OP_COLLECTIONS:
        if key in meta.collection_def:
            names.extend(meta.collection_def[key].node_list.value)
    if INIT_OP_SIGNATURE in meta.signature_def:
        names.extend(info.name for info in meta.signature_def[INIT_OP_SIGNATURE].outputs.values())
    return list(dict.fromkeys(op for op in map(_op_of, names) if op in graph.node_defs))


def _where(graph) -> str:
    return str(graph.root.path) if graph.root.path else "graph"


def _entry_for(graph, item) -> str:
    """How TensorFlow stores ``item`` in a node_list; raises NotFoundError if it is not in the graph."""

    root = graph.root
    if isinstance(item, (Op, Tensor)):
        item = item.name
    if not isinstance(item, str):
        raise UsageError(f"cannot add {item!r} to a collection: give an op, a tensor or a name")
    resolved = root.get(item)  # raises NotFoundError with the closest names
    return resolved.name


def add_to_collection(graph, name: str, *items) -> Collection:
    """Append ops / tensors (objects or names) to node_list collection ``name``, creating it if needed.

    Every item is checked before anything changes: a name not in the graph
    raises NotFoundError (with the closest names) and leaves the graph as it was.

    Example:
        >>> g.add_to_collection("reuse_ops", "X:0", "y:0", "eval/accuracy:0", "train/training_op")
        <Collection reuse_ops node_list (4)>
    """
    meta = _meta(graph)
    if not items:
        raise UsageError(f"nothing to add to collection {name!r}")
    if not name:
        raise UsageError("a collection needs a name")
    entries = [_entry_for(graph, item) for item in items]
    if name in meta.collection_def:
        coll = meta.collection_def[name]
        kind = coll.WhichOneof("kind")
        if kind not in (None, "node_list"):
            cls = message_class(name, coll)
            what = f" ({cls.DESCRIPTOR.name} entries)" if cls is not None else ""
            raise UsageError(f"collection {name!r} is a {kind}{what}; it cannot hold ops or tensors",
                             hint="add them to a collection of another name")
    coll = meta.collection_def[name]
    coll.node_list.value.extend(entries)
    return Collection(graph.root, name, coll)


def _matches(collection: Collection, value, item, wanted: str) -> bool:
    if collection.kind == "node_list":
        return value == wanted
    if isinstance(item, VariableDef):
        return wanted in (item.variable_name, _op_of(item.variable_name))
    if isinstance(item, (CondContextDef, WhileContextDef)):
        return wanted == item.context_name
    return False


def remove_from_collection(graph, name: str, *items) -> Collection:
    """Remove entries (every occurrence) from collection ``name``.

    Items are ops / tensors / stored names (an entry that resolves to nothing
    can be removed by its name); for VariableDef collections a variable name,
    for control-flow contexts a context name. An item the collection does not
    hold raises NotFoundError and nothing changes.
    """

    coll_view = get_collection(graph, name)
    if not items:
        raise UsageError(f"nothing to remove from collection {name!r}")
    wanted = [i.name if isinstance(i, (Op, Tensor)) else i for i in items]
    pairs = list(zip(coll_view.values, coll_view.items))
    for w in wanted:
        if not isinstance(w, str):
            raise UsageError(f"cannot remove {w!r}: give an op, a tensor or a name")
        if not any(_matches(coll_view, v, it, w) for v, it in pairs):
            candidates = [d["value"] if "value" in d else d["text"] for d in coll_view.describe()]
            if coll_view.kind == "bytes_list":
                candidates = [getattr(it, "variable_name", "") or getattr(it, "context_name", "")
                              for it in coll_view.items if not isinstance(it, bytes)]
            raise NotFoundError(f"entry of collection {name!r}", w, [str(c) for c in candidates],
                                where=_where(graph))
    keep = [v for v, it in pairs if not any(_matches(coll_view, v, it, w) for w in wanted)]
    proto = _meta(graph).collection_def[name]
    field = getattr(proto, coll_view.kind)
    del field.value[:]
    field.value.extend(keep)
    return Collection(graph.root, name, proto)


def delete_collection(graph, name: str) -> Collection:
    """Delete collection ``name``; returns what it held."""
    coll = get_collection(graph, name)
    del _meta(graph).collection_def[name]
    return coll


def rename_collection(graph, old: str, new: str) -> Collection:
    """Give collection ``old`` the name ``new`` (which must be free).

    The entries keep their bytes; note that TensorFlow decodes bytes_list
    entries by collection name, so renaming ``variables`` makes its entries
    plain bytes to TensorFlow.
    """
    meta = _meta(graph)
    get_collection(graph, old)
    if not new:
        raise UsageError("a collection needs a name")
    if new in meta.collection_def:
        raise RewriteError(f"collection {new!r} already exists", hint="delete it first or choose another name")
    # Map order carries no meaning (deterministic serialization sorts the keys).
    proto = protos.meta_graph_pb2.CollectionDef()
    proto.CopyFrom(meta.collection_def[old])
    del meta.collection_def[old]
    meta.collection_def[new].CopyFrom(proto)
    return Collection(graph.root, new, meta.collection_def[new])


# ---------------------------------------------------------------------- consistency

def _op_of(entry: str) -> str:
    entry = entry[1:] if entry.startswith("^") else entry
    return _names.split_tensor_name(entry)[0]


def _renamer(mapping: dict[str, str]) -> Callable[[str], str]:
    def rename(entry: str) -> str:
        if not entry:
            return entry
        control = entry.startswith("^")
        op = _op_of(entry)
        new = mapping.get(op)
        if new is None:
            return entry
        suffix = entry[len(("^" if control else "")) + len(op):]
        return ("^" if control else "") + new + suffix
    return rename


# What a dropped saver_def's note says when variables remain (a rewrite that rebuilds the saver replaces it).
DEFAULT_SAVER_NOTE = "; import_meta_graph makes a default Saver over the variables that remain"


class _Refs:
    """Walks every name a MetaGraphDef holds outside its GraphDef.

    ``gone(name)`` says whether a name refers to a removed op; ``rename``
    maps a name to its new spelling. Each walk returns sentences for what
    was dropped (removal) or renamed.
    """

    def __init__(self, removed: set[str] | None = None, mapping: dict[str, str] | None = None):
        self.removed = removed or set()
        self.rename = _renamer(mapping or {})
        self.notes: list[str] = []

    def gone(self, name: str) -> bool:
        return bool(name) and _op_of(name) in self.removed

    # Each fixer returns the fixed message, or None to drop it.
    def variable(self, var, where: str):
        names = (var.variable_name, var.initializer_name, var.snapshot_name, var.initial_value_name)
        lost = [n for n in names if self.gone(n)]
        if lost:
            self.notes.append(f"{where}: variable {var.variable_name}"
                              + ("" if lost == [var.variable_name] else f" ({', '.join(lost)} removed)"))
            return None
        for field in ("variable_name", "initializer_name", "snapshot_name", "initial_value_name"):
            setattr(var, field, self.rename(getattr(var, field)))
        return var

    def saver(self, saver, where: str, meta=None):
        names = (saver.filename_tensor_name, saver.save_tensor_name, saver.restore_op_name)
        lost = [n for n in names if self.gone(n)]
        if lost:
            if meta is None:
                then = ""
            elif any(key in meta.collection_def and len(meta.collection_def[key].bytes_list.value)
                     for key in ("variables", "saveable_objects")):
                # import_meta_graph (and so the TF1 SavedModel loader) makes
                # Saver() when there is no saver_def but variables remain.
                then = DEFAULT_SAVER_NOTE
            else:
                then = "; no variables remain, so import_meta_graph makes no Saver"
            self.notes.append(f"{where}: saver {saver.save_tensor_name or saver.restore_op_name} "
                              f"({', '.join(lost)} removed{then})")
            return None
        for field in ("filename_tensor_name", "save_tensor_name", "restore_op_name"):
            setattr(saver, field, self.rename(getattr(saver, field)))
        return saver

    def values_def(self, vd, where: str) -> None:
        values = list(vd.values)
        keep = [self.rename(v) for v in values if not self.gone(v)]
        if len(keep) != len(values):
            self.notes.append(f"{where}: {len(values) - len(keep)} values of removed ops")
        if keep != values:
            del vd.values[:]
            vd.values.extend(keep)
        external = dict(vd.external_values)
        fixed = {self.rename(k): self.rename(v) for k, v in external.items() if not (self.gone(k) or self.gone(v))}
        if fixed != external:
            vd.ClearField("external_values")
            for k, v in fixed.items():
                vd.external_values[k] = v

    def context(self, ctx, where: str):
        """CondContextDef / WhileContextDef: dropped when its pred or pivots went, else pruned."""
        if isinstance(ctx, CondContextDef):
            key_fields = ("pred_name", "pivot_name")
        else:
            key_fields = ("pivot_name", "pivot_for_pred_name", "pivot_for_body_name")
        lost = [getattr(ctx, f) for f in key_fields if self.gone(getattr(ctx, f))]
        if lost:
            kind = "cond" if isinstance(ctx, CondContextDef) else "while"
            self.notes.append(f"{where}: {kind} context {ctx.context_name} ({', '.join(lost)} removed)")
            return None
        for f in key_fields:
            setattr(ctx, f, self.rename(getattr(ctx, f)))
        if isinstance(ctx, WhileContextDef):
            for f in ("loop_exit_names", "loop_enter_names"):
                values = list(getattr(ctx, f))
                keep = [self.rename(v) for v in values if not self.gone(v)]
                if keep != values:
                    del getattr(ctx, f)[:]
                    getattr(ctx, f).extend(keep)
            if ctx.maximum_iterations_name and self.gone(ctx.maximum_iterations_name):
                ctx.maximum_iterations_name = ""
            ctx.maximum_iterations_name = self.rename(ctx.maximum_iterations_name)
        if ctx.HasField("values_def"):
            self.values_def(ctx.values_def, f"{where}: context {ctx.context_name}")
        nested = list(ctx.nested_contexts)
        kept = []
        for wrapper in nested:
            which = wrapper.WhichOneof("ctxt")
            if which is None:
                kept.append(wrapper)
                continue
            inner = getattr(wrapper, which)
            if self.context(inner, where) is not None:
                kept.append(wrapper)
        if len(kept) != len(nested):
            copies = [type(w)() for w in kept]
            for c, w in zip(copies, kept):
                c.CopyFrom(w)
            del ctx.nested_contexts[:]
            ctx.nested_contexts.extend(copies)
        return ctx

    def tensor_info(self, info, where: str):
        name = info.name if info.WhichOneof("encoding") == "name" else None
        names = [name] if name else []
        if info.WhichOneof("encoding") == "coo_sparse":
            coo = info.coo_sparse
            names = [coo.values_tensor_name, coo.indices_tensor_name, coo.dense_shape_tensor_name]
        elif info.WhichOneof("encoding") == "composite_tensor":
            names = []  # components are nested TensorInfos; handled below
            for comp in info.composite_tensor.components:
                if self.tensor_info(comp, where) is None:
                    return None
        if any(self.gone(n) for n in names):
            self.notes.append(f"{where}: {names[0]}")
            return None
        if name:
            info.name = self.rename(name)
        elif info.WhichOneof("encoding") == "coo_sparse":
            coo = info.coo_sparse
            for f in ("values_tensor_name", "indices_tensor_name", "dense_shape_tensor_name"):
                setattr(coo, f, self.rename(getattr(coo, f)))
        return info

    def signature(self, sig, where: str) -> None:
        for side in ("inputs", "outputs"):
            infos = getattr(sig, side)
            for arg in list(infos.keys()):
                if self.tensor_info(infos[arg], f"{where} {side[:-1]} {arg!r}") is None:
                    del infos[arg]

    def asset(self, asset, where: str):
        if self.tensor_info(asset.tensor_info, f"{where}: asset {asset.filename}") is None:
            return None
        return asset

    def any_message(self, msg, where: str):
        name = type(msg).DESCRIPTOR.name
        if name == "AssetFileDef":
            return self.asset(msg, where)
        if name == "TensorInfo":
            return self.tensor_info(msg, where)
        if name == "SignatureDef":
            self.signature(msg, f"{where}: signature")
            return msg
        if name in ("CondContextDef", "WhileContextDef"):
            return self.context(msg, where)
        if name == "VariableDef":
            return self.variable(msg, where)
        if name == "SaverDef":
            return self.saver(msg, where)
        return msg

    # ------------------------------------------------------------------ the walk
    def walk(self, meta) -> list[str]:
        for key in list(meta.collection_def.keys()):
            coll = meta.collection_def[key]
            kind = coll.WhichOneof("kind")
            where = f"collection {key!r}"
            if kind == "node_list":
                values = list(coll.node_list.value)
                gone = [v for v in values if self.gone(v)]
                self.notes.extend(f"{where}: {v}" for v in gone)
                keep = [self.rename(v) for v in values if not self.gone(v)]
                if not keep and values and key in MAIN_OP_COLLECTIONS:
                    # Empty, the SavedModel loader refuses it: the collection goes with its op.
                    del meta.collection_def[key]
                elif keep != values:
                    del coll.node_list.value[:]
                    coll.node_list.value.extend(keep)
            elif kind == "bytes_list":
                cls = message_class(key, coll)
                if cls is None:
                    continue
                self._rewrite_list(coll.bytes_list.value, where, lambda raw: decode_bytes(cls, raw),
                                   lambda msg, raw: msg.SerializeToString(deterministic=True))
            elif kind == "any_list":
                def parse_any(any_msg):
                    return decode_any(any_msg)

                def pack(msg, any_msg):
                    out = type(any_msg)()
                    out.type_url = any_msg.type_url  # keep TensorFlow's URL (our classes live elsewhere)
                    out.value = msg.SerializeToString(deterministic=True)
                    return out
                self._rewrite_list(coll.any_list.value, where, parse_any, pack)
        if meta.HasField("saver_def") and self.saver(meta.saver_def, "saver_def", meta) is None:
            meta.ClearField("saver_def")
        for sig_key in list(meta.signature_def.keys()):
            self.signature(meta.signature_def[sig_key], f"signature {sig_key!r}")
        assets = list(meta.asset_file_def)
        kept = [a for a in assets if self.asset(a, "asset_file_def") is not None]
        if len(kept) != len(assets):
            copies = [type(a)() for a in kept]
            for c, a in zip(copies, kept):
                c.CopyFrom(a)
            del meta.asset_file_def[:]
            meta.asset_file_def.extend(copies)
        return self.notes

    def _rewrite_list(self, field, where, parse, pack) -> None:
        values = list(field)
        out, changed = [], False
        for value in values:
            msg = parse(value)
            if msg is None:
                out.append(value)
                continue
            before = msg.SerializeToString(deterministic=True)
            if isinstance(msg, VariableDef) and not msg.variable_name:
                out.append(value)
                continue
            fixed = self.any_message(msg, where)
            if fixed is None:
                changed = True
                continue
            if fixed.SerializeToString(deterministic=True) != before:
                out.append(pack(fixed, value))
                changed = True
            else:
                out.append(value)  # untouched entries keep their exact bytes
        if changed:
            if out and not isinstance(out[0], (bytes, str)):
                copies = []
                for v in out:
                    c = type(v)()
                    c.CopyFrom(v)
                    copies.append(c)
                out = copies
            del field[:]
            field.extend(out)


def fix_references(graph, removed: set[str]) -> list[str]:
    """Drop every reference of the MetaGraphDef to a removed op; say what went.

    Covers node_list entries, VariableDefs (dropped with their variable,
    initializer or snapshot), SaverDefs (the ``saver_def`` and ``savers``
    entries whose save/restore ops went), cond/while contexts (dropped with
    their predicate or pivot, else pruned of removed values), Any-packed
    AssetFileDef / TensorInfo / SignatureDef entries, signature inputs and
    outputs and ``asset_file_def``. Returns one sentence per dropped reference.
    """
    return _Refs(removed=set(removed)).walk(graph.root.meta_graph)


def rename_references(graph, renamed: dict[str, str]) -> list[str]:
    """Rename ops (``{old: new}``) everywhere the MetaGraphDef names them outside the GraphDef.

    The same walk as :func:`fix_references`; returns what was renamed, one
    sentence per collection entry, signature input or output and saver name.
    """
    meta = graph.root.meta_graph
    if meta is None or not renamed:
        return []
    refs = _Refs(mapping=dict(renamed))
    notes = []
    for key, coll in meta.collection_def.items():
        if coll.WhichOneof("kind") == "node_list":
            notes.extend(f"collection {key!r}: {v} -> {refs.rename(v)}" for v in coll.node_list.value
                         if refs.rename(v) != v)
    for key, sig in sorted(meta.signature_def.items()):
        for side in ("inputs", "outputs"):
            for arg, info in sorted(getattr(sig, side).items()):
                if info.WhichOneof("encoding") == "name" and refs.rename(info.name) != info.name:
                    notes.append(f"signature {key!r} {side[:-1]} {arg!r}: {info.name} -> {refs.rename(info.name)}")
    if meta.HasField("saver_def"):
        saver = meta.saver_def
        for field in ("filename_tensor_name", "save_tensor_name", "restore_op_name"):
            value = getattr(saver, field)
            if value and refs.rename(value) != value:
                notes.append(f"saver_def {field}: {value} -> {refs.rename(value)}")
    refs.walk(meta)
    return notes


def retarget_tensors(graph, renamed: dict[str, str]) -> list[str]:
    """Point signature inputs/outputs and node_list entries naming a tensor of ``renamed`` at its new name.

    ``renamed``: ``{old tensor: new tensor}`` (``{"split:1": "split_output_1:0"}``: a tensor a
    cut replaced by a placeholder). Returns one sentence per reference changed.
    """
    meta = graph.root.meta_graph
    notes = []
    if meta is None or not renamed:
        return notes
    for key, sig in meta.signature_def.items():
        for side in ("inputs", "outputs"):
            for arg, info in getattr(sig, side).items():
                if info.name in renamed:
                    notes.append(f"signature {key!r} {side[:-1]} {arg!r}: {info.name} -> {renamed[info.name]}")
                    info.name = renamed[info.name]
    for key, coll in meta.collection_def.items():
        if coll.WhichOneof("kind") != "node_list":
            continue
        values = list(coll.node_list.value)
        new = [renamed.get(v, v) for v in values]
        if new != values:
            notes.extend(f"collection {key!r}: {v} -> {n}" for v, n in zip(values, new) if v != n)
            del coll.node_list.value[:]
            coll.node_list.value.extend(new)
    return notes


class _Recorder(_Refs):
    """A walk that changes nothing and records every op or tensor name it meets."""

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def gone(self, name: str) -> bool:
        if name:
            self.seen.append(name)
        return False


def referenced_names(meta) -> list[tuple[str, str]]:
    """``[(where, name)]`` for every op or tensor name the MetaGraphDef holds outside its GraphDef.

    The same walk as :func:`fix_references` (collections, VariableDefs,
    savers, cond/while contexts, signatures, assets), reading only.
    """
    recorder = _Recorder()
    recorder.walk(meta)
    return [("the MetaGraphDef", name) for name in dict.fromkeys(recorder.seen)]
