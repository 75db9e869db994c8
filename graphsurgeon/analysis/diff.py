"""What differs between two graphs, op by op, and around them.

Ops are matched by name. An op present in both graphs differs when its type,
its inputs (data inputs in order, control inputs as a set, ``x`` and ``x:0``
being the same), its attributes (an attribute missing on one side equals its
OpDef default on the other) or its device differ. Around the ops: collections
(entries added and removed), signatures, the saver, variables whose shape
changed, and library functions (compared body op by body op).

The text form reads as a description of a rewrite: removed ops grouped by
name scope, variables turned into constants, changed ops grouped by what
changed. Diffing never imports TensorFlow.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..ir.graph import Graph, format_shape
from ..metagraph.variables import holds_variable_defs, parse_variable_def, variables
from ..vocab import attrs as _attrs
from ..vocab import names as _names
from ..vocab import protos
from ..vocab.optypes import VARIABLE_TYPES
from ..wording import plural
from .shapes import shape_json

__all__ = ["diff", "GraphDiff", "OpChange"]

# How many names a summary line lists before it says "and N more".
LIST_LIMIT = 8
# How many changed ops the text form details when not verbose.
DETAIL_LIMIT = 20


@dataclass
class OpChange:
    """How one op present in both graphs differs. Unchanged aspects are None/empty."""

    name: str
    type: tuple[str, str] | None = None
    inputs: tuple[list[str], list[str]] | None = None
    attrs: dict[str, tuple] = field(default_factory=dict)  # key -> (a, b) decoded; None = absent
    device: tuple[str, str] | None = None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "type": None if self.type is None else {"a": self.type[0], "b": self.type[1]},
            "inputs": None if self.inputs is None else {"a": self.inputs[0], "b": self.inputs[1]},
            "attrs": {k: {"a": a, "b": b} for k, (a, b) in sorted(self.attrs.items())},
            "device": None if self.device is None else {"a": self.device[0], "b": self.device[1]},
        }

    def lines(self) -> list[str]:
        out = []
        if self.type:
            out.append(f"type {self.type[0]} -> {self.type[1]}")
        if self.device:
            out.append(f"device {self.device[0] or '(none)'} -> {self.device[1] or '(none)'}")
        if self.inputs:
            a, b = self.inputs
            gone = [i for i in a if i not in b]
            new = [i for i in b if i not in a]
            if gone or new:
                parts = ([f"-{i}" for i in gone] + [f"+{i}" for i in new])
                out.append("inputs " + ", ".join(parts))
            else:
                out.append("inputs reordered: " + ", ".join(b))
        for key, (a, b) in sorted(self.attrs.items()):
            out.append(f"attr {key}: {_attr_text(a)} -> {_attr_text(b)}")
        return out


def _attr_text(value) -> str:
    if value is None:
        return "(absent)"
    text = _attrs.short(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class GraphDiff:
    """Differences between graph ``a`` and graph ``b``; false when there are none.

    Attributes:
        a, b: labels of the two graphs (their paths, when they have one).
        ops_a, ops_b: op counts.
        added: ops only in ``b``; removed: ops only in ``a`` (graph order).
        changed: ops in both that differ.
        collections: ``{key: {"added": [...], "removed": [...]}}``; a
            collection present on one side only lists all its entries.
        signatures: ``{key: {"status": "added"|"removed"|"changed", "a": ..., "b": ...}}``.
        saver: ``(a has one, b has one)`` when that differs, or when both have
            one and it differs; else None.
        variables_reshaped: ``{variable: (shape in a, shape in b)}``.
        functions: ``{"added": [...], "removed": [...], "changed": {name: {...}}}``.
    """

    a: str
    b: str
    ops_a: int = 0
    ops_b: int = 0
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[OpChange] = field(default_factory=list)
    collections: dict[str, dict] = field(default_factory=dict)
    signatures: dict[str, dict] = field(default_factory=dict)
    saver: tuple[bool, bool] | None = None
    variables_reshaped: dict[str, tuple] = field(default_factory=dict)
    functions: dict = field(default_factory=lambda: {"added": [], "removed": [], "changed": {}})
    # op name -> type, for the ops listed above (to describe them by kind)
    _types_a: dict[str, str] = field(default_factory=dict, repr=False)
    _types_b: dict[str, str] = field(default_factory=dict, repr=False)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.collections or self.signatures
                    or self.saver or self.variables_reshaped or self.functions["added"]
                    or self.functions["removed"] or self.functions["changed"])

    @property
    def variables_to_constants(self) -> list[str]:
        """Variables of ``a`` that are constants of the same name in ``b`` (what freezing does)."""
        return [c.name for c in self.changed
                if c.type and c.type[0] in VARIABLE_TYPES and c.type[1] == "Const"]

    @property
    def variables_removed(self) -> list[str]:
        return [n for n in self.removed if self._types_a.get(n) in VARIABLE_TYPES]

    @property
    def variables_added(self) -> list[str]:
        return [n for n in self.added if self._types_b.get(n) in VARIABLE_TYPES]

    def as_dict(self) -> dict:
        """A JSON-ready form (schema in the README)."""
        return {
            "equal": not self,
            "a": self.a,
            "b": self.b,
            "ops": {"a": self.ops_a, "b": self.ops_b},
            "added": self.added,
            "removed": self.removed,
            "changed": [c.as_dict() for c in self.changed],
            "variables_to_constants": self.variables_to_constants,
            "variables_removed": self.variables_removed,
            "variables_added": self.variables_added,
            "variables_reshaped": {k: {"a": shape_json(a), "b": shape_json(b)}
                                   for k, (a, b) in self.variables_reshaped.items()},
            "collections": self.collections,
            "signatures": self.signatures,
            "saver": None if self.saver is None else {"a": self.saver[0], "b": self.saver[1]},
            "functions": self.functions,
        }

    def __str__(self) -> str:
        return self.format()

    def format(self, verbose: bool = False) -> str:
        """The human form; ``verbose`` lists every op instead of summarising by scope."""
        return "\n".join(self.format_lines(verbose))

    def format_lines(self, verbose: bool = False) -> list[str]:
        """The lines of :meth:`format`, one string each (a newline in a name stays inside its line)."""
        if not self:
            return [f"no differences ({plural(self.ops_a, 'op')})"]
        limit = None if verbose else LIST_LIMIT
        lines = [f"--- {self.a} ({plural(self.ops_a, 'op')})", f"+++ {self.b} ({plural(self.ops_b, 'op')})"]
        if self.removed:
            lines.append(f"removed {_count(self.removed, 'op')}: {summarize(self.removed, limit)}")
            kinds = _kinds(self.removed, self._types_a)
            if kinds:
                lines.append(f"  by type: {kinds}")
        if self.added:
            lines.append(f"added {_count(self.added, 'op')}: {summarize(self.added, limit)}")
            kinds = _kinds(self.added, self._types_b)
            if kinds:
                lines.append(f"  by type: {kinds}")
        frozen = self.variables_to_constants
        if frozen:
            lines.append(f"variables turned into constants ({len(frozen)}): {_names_list(frozen, limit)}")
        if self.variables_removed:
            lines.append(f"variables removed ({len(self.variables_removed)}): "
                         f"{_names_list(self.variables_removed, limit)}")
        if self.variables_added:
            lines.append(f"variables added ({len(self.variables_added)}): {_names_list(self.variables_added, limit)}")
        for name, (a, b) in self.variables_reshaped.items():
            lines.append(f"variable {name} reshaped: {format_shape(a)} -> {format_shape(b)}")
        if self.changed:
            lines.append(f"changed {_count(self.changed, 'op')}:")
            lines.extend("  " + line for line in self._change_summary(limit))
            detail = self.changed if verbose else self.changed[:DETAIL_LIMIT]
            for change in detail:
                body = change.lines()
                lines.append(f"  {change.name}: {body[0]}")
                lines.extend(f"  {' ' * len(change.name)}  {line}" for line in body[1:])
            if len(detail) < len(self.changed):
                lines.append(f"  ... and {plural(len(self.changed) - len(detail), 'more changed op')} (--verbose or --json)")
        for key, entry in sorted(self.collections.items()):
            lines.append(f"collection {key}: " + _collection_text(entry, limit))
        for key, entry in sorted(self.signatures.items()):
            lines.append(f"signature {key}: {entry['status']}" + _signature_text(entry))
        if self.saver:
            a, b = self.saver
            lines.append("saver: " + ("removed" if a and not b else "added" if b and not a else "changed"))
        f = self.functions
        if f["removed"]:
            lines.append(f"functions removed ({len(f['removed'])}): {_names_list(f['removed'], limit)}")
        if f["added"]:
            lines.append(f"functions added ({len(f['added'])}): {_names_list(f['added'], limit)}")
        for name, entry in f["changed"].items():
            parts = [f"{k} {len(v)}" for k, v in entry.items() if isinstance(v, list) and v]
            if entry.get("signature"):
                parts.insert(0, "signature changed")
            lines.append(f"function {name} changed: " + (", ".join(parts) or "attributes"))
        return lines

    def _change_summary(self, limit) -> list[str]:
        out = []
        pairs: dict[tuple[str, str], list[str]] = {}
        for c in self.changed:
            if c.type:
                pairs.setdefault(c.type, []).append(c.name)
        for (a, b), names in sorted(pairs.items(), key=lambda kv: -len(kv[1])):
            out.append(f"type {a} -> {b}: {len(names)} ({summarize(names, limit)})")
        inputs = [c.name for c in self.changed if c.inputs]
        if inputs:
            out.append(f"inputs: {len(inputs)} ({summarize(inputs, limit)})")
        by_attr: dict[str, list[str]] = {}
        for c in self.changed:
            for key in c.attrs:
                by_attr.setdefault(key, []).append(c.name)
        for key, names in sorted(by_attr.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            out.append(f"attr {key}: {len(names)} ({summarize(names, limit)})")
        devices = [c.name for c in self.changed if c.device]
        if devices:
            out.append(f"device: {len(devices)} ({summarize(devices, limit)})")
        return out


def _count(items, noun: str) -> str:
    return plural(items, noun)


def _names_list(names: list[str], limit: int | None) -> str:
    if limit is None or len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names) - limit} more)"


def _kinds(names: list[str], types: dict[str, str], top: int = 6) -> str:
    counts = Counter(types.get(n, "?") for n in names)
    if len(names) <= 3:
        return ""
    items = counts.most_common()
    text = ", ".join(f"{t} {n}" for t, n in items[:top])
    return text + (f", ... ({plural(len(items) - top, 'more type')})" if len(items) > top else "")


def summarize(names: list[str], limit: int | None = LIST_LIMIT) -> str:
    """Op names grouped by top-level scope: ``180 under gradients/, 60 under train/, Elu, ...``.

    A short list is shown whole; ``limit=None`` shows every name.
    """
    if limit is None or len(names) <= limit:
        return ", ".join(names)
    groups: dict[str, list[str]] = {}
    for name in names:
        head = name.split("/", 1)[0] + "/" if "/" in name else ""
        groups.setdefault(head, []).append(name)
    scoped = sorted(((k, v) for k, v in groups.items() if k), key=lambda kv: (-len(kv[1]), kv[0]))
    parts = []
    for head, members in scoped[:limit]:
        parts.append(members[0] if len(members) == 1 else f"{len(members)} under {head}")
    if len(scoped) > limit:
        rest = sum(len(v) for _, v in scoped[limit:])
        parts.append(f"{rest} under {plural(len(scoped) - limit, 'more scope')}")
    top = groups.get("", [])
    if top:
        shown = top[:limit]
        more = f", ... ({len(top) - len(shown)} more)" if len(top) > len(shown) else ""
        parts.append(f"{len(top)} at top level ({', '.join(shown)}{more})")
    return ", ".join(parts)


def _collection_text(entry: dict, limit) -> str:
    parts = []
    if entry.get("status"):
        parts.append(entry["status"])
    if entry["removed"]:
        parts.append(f"-{len(entry['removed'])} ({_names_list(entry['removed'], limit)})")
    if entry["added"]:
        parts.append(f"+{len(entry['added'])} ({_names_list(entry['added'], limit)})")
    return ", ".join(parts)


def _signature_text(entry: dict) -> str:
    if entry["status"] != "changed":
        return ""
    a, b = entry["a"], entry["b"]
    parts = []
    for side in ("inputs", "outputs"):
        for arg in sorted(set(a[side]) | set(b[side])):
            ta, tb = a[side].get(arg), b[side].get(arg)
            if ta == tb:
                continue
            if ta is None:
                parts.append(f"+{side[:-1]} {arg}")
            elif tb is None:
                parts.append(f"-{side[:-1]} {arg}")
            else:
                what = [k for k in ("name", "dtype", "shape") if ta.get(k) != tb.get(k)]
                parts.append(f"{side[:-1]} {arg} ({', '.join(what) or 'encoding'})")
    if a["method"] != b["method"]:
        parts.append(f"method {a['method']} -> {b['method']}")
    return ": " + ", ".join(parts) if parts else ""


# ---------------------------------------------------------------- comparing

def _normal_inputs(node) -> tuple[list[str], frozenset]:
    data, control = [], set()
    for text in node.input:
        if text.startswith("^"):
            control.add(text)
        else:
            op, index = _names.split_tensor_name(text)
            data.append(f"{op}:{index}")
    return data, frozenset(control)


def _attr_equal(registry_a, registry_b, op_type, key, node_a, node_b) -> bool:
    va = node_a.attr[key] if key in node_a.attr else registry_a.attr_default(op_type, key)
    vb = node_b.attr[key] if key in node_b.attr else registry_b.attr_default(op_type, key)
    return va == vb


def _diff_ops(ga: Graph, gb: Graph, ignore: frozenset) -> tuple[list[str], list[str], list[OpChange]]:
    na, nb = ga.node_defs, gb.node_defs
    removed = [n.name for n in ga.graph_def.node if n.name not in nb]
    added = [n.name for n in gb.graph_def.node if n.name not in na]
    changed = []
    for node_a in ga.graph_def.node:
        node_b = nb.get(node_a.name)
        if node_b is None or node_a == node_b:
            continue
        change = OpChange(node_a.name)
        if node_a.op != node_b.op:
            change.type = (node_a.op, node_b.op)
        if node_a.device != node_b.device:
            change.device = (node_a.device, node_b.device)
        if list(node_a.input) != list(node_b.input):
            (da, ca), (db, cb) = _normal_inputs(node_a), _normal_inputs(node_b)
            if da != db or ca != cb:
                change.inputs = (list(node_a.input), list(node_b.input))
        for key in sorted(set(node_a.attr) | set(node_b.attr)):
            if key in ignore:
                continue
            if node_a.op == node_b.op:
                if _attr_equal(ga.registry, gb.registry, node_a.op, key, node_a, node_b):
                    continue
            elif key in node_a.attr and key in node_b.attr and node_a.attr[key] == node_b.attr[key]:
                continue
            change.attrs[key] = (_attrs.decode(node_a.attr[key]) if key in node_a.attr else None,
                                 _attrs.decode(node_b.attr[key]) if key in node_b.attr else None)
            if change.attrs[key][0] == change.attrs[key][1]:
                # Same summary (a large constant): say the value changed.
                summary = change.attrs[key][0]
                change.attrs[key] = (summary, {**summary, "value": "(changed)"} if isinstance(summary, dict)
                                     else f"{summary} (changed)")
        if change.type or change.device or change.inputs or change.attrs:
            changed.append(change)
    return added, removed, changed


def _collection_entries(meta, key) -> list[str]:
    coll = meta.collection_def[key]
    kind = coll.WhichOneof("kind")
    if kind == "node_list":
        return list(coll.node_list.value)
    if kind == "bytes_list":
        out = []
        holds_variables = holds_variable_defs(key, coll)
        for raw in coll.bytes_list.value:
            if holds_variables:
                out.append(f"variable {parse_variable_def(raw).variable_name}")
                continue
            context = _context_name(key, raw)
            if context:
                out.append(context)
                continue
            out.append(raw.decode("utf-8", "replace") if len(raw) <= 80 else f"<{len(raw)} bytes {_digest(raw)}>")
        return out
    if kind in ("int64_list", "float_list"):
        return [str(v) for v in getattr(coll, kind).value]
    if kind == "any_list":
        return [f"{v.type_url} <{len(v.value)} bytes {_digest(v.value)}>" for v in coll.any_list.value]
    return []


def _context_name(key: str, raw: bytes) -> str | None:
    """``cond context batch_normalization/cond/cond_text`` for control-flow context entries."""

    message = {"cond_context": getattr(protos, "CondContextDef", None),
               "while_context": getattr(protos, "WhileContextDef", None)}.get(key)
    if message is None:
        return None
    context = message()
    try:
        context.ParseFromString(raw)
    except Exception:  # not what the key promises: compared as bytes
        return None
    name = context.context_name
    return f"{key.replace('_', ' ')} {name} <{_digest(raw)}>" if name else None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _diff_collections(ga: Graph, gb: Graph) -> dict:
    ma, mb = ga.meta_graph, gb.meta_graph
    keys_a = set(ma.collection_def) if ma is not None else set()
    keys_b = set(mb.collection_def) if mb is not None else set()
    out = {}
    for key in sorted(keys_a | keys_b):
        ea = _collection_entries(ma, key) if key in keys_a else []
        eb = _collection_entries(mb, key) if key in keys_b else []
        if key in keys_a and key in keys_b and ea == eb:
            continue
        ca, cb = Counter(ea), Counter(eb)
        entry = {"removed": list((ca - cb).elements()), "added": list((cb - ca).elements())}
        if key not in keys_b:
            entry["status"] = "removed"
        elif key not in keys_a:
            entry["status"] = "added"
        elif not entry["removed"] and not entry["added"]:
            entry["status"] = "reordered"
        out[key] = entry
    return out


def _diff_signatures(ga: Graph, gb: Graph) -> dict:
    sa, sb = ga.signatures, gb.signatures
    out = {}
    for key in sorted(set(sa) | set(sb)):
        a, b = sa.get(key), sb.get(key)
        if a == b:
            continue
        status = "added" if a is None else "removed" if b is None else "changed"
        out[key] = {"status": status, "a": a, "b": b}
    return out


def _diff_saver(ga: Graph, gb: Graph) -> tuple[bool, bool] | None:
    ma, mb = ga.meta_graph, gb.meta_graph
    has_a = ma is not None and ma.HasField("saver_def")
    has_b = mb is not None and mb.HasField("saver_def")
    if has_a != has_b or (has_a and ma.saver_def != mb.saver_def):
        return (has_a, has_b)
    return None


def _diff_variables(ga: Graph, gb: Graph) -> dict:
    va = {v.name: v for v in variables(ga)}
    out = {}
    for v in variables(gb):
        old = va.get(v.name)
        if old is not None and old.shape != v.shape:
            out[v.name] = (old.shape, v.shape)
    return out


def _diff_functions(ga: Graph, gb: Graph, ignore: frozenset) -> dict:
    la, lb = ga.library, gb.library
    out = {"removed": sorted(set(la) - set(lb)), "added": sorted(set(lb) - set(la)), "changed": {}}
    for name in sorted(set(la) & set(lb)):
        fa, fb = la[name], lb[name]
        if fa == fb:
            continue
        added, removed, changed = _diff_ops(ga.function(name), gb.function(name), ignore)
        entry = {"added": added, "removed": removed, "changed": [c.name for c in changed],
                 "signature": fa.signature != fb.signature}
        if added or removed or changed or entry["signature"] or _function_attrs_differ(fa, fb, ignore):
            out["changed"][name] = entry
    return out


def _function_attrs_differ(fa, fb, ignore) -> bool:
    keys = (set(fa.attr) | set(fb.attr)) - ignore
    if any(fa.attr.get(k) != fb.attr.get(k) for k in keys):
        return True
    # arg_attr often carries _output_shapes: compare what is not ignored
    for index in set(fa.arg_attr) | set(fb.arg_attr):
        a, b = fa.arg_attr.get(index), fb.arg_attr.get(index)
        ka = {k: v for k, v in (a.attr.items() if a else ()) if k not in ignore}
        kb = {k: v for k, v in (b.attr.items() if b else ()) if k not in ignore}
        if ka != kb:
            return True
    return fa.ret != fb.ret or fa.control_ret != fb.control_ret


def _label(g: Graph, default: str) -> str:
    return str(g.path) if g.path is not None else default


def diff(a: Graph, b: Graph, ignore_attrs: Iterable[str] = ()) -> GraphDiff:
    """Compare two graphs; the result is false when they do not differ.

    Args:
        a: the graph before (for instance a model).
        b: the graph after (for instance its pruned or frozen version).
        ignore_attrs: attribute names to leave out of the comparison
            (``_output_shapes``, ``_class``, ...), in functions too.

    Example:
        >>> d = graphsurgeon.diff(graphsurgeon.load("model.ckpt.meta"), graphsurgeon.load("frozen.pb"))
        >>> print(d)            # removed ... ops: 180 under gradients/, ...
        >>> d.variables_to_constants
        ['hidden1/kernel', 'hidden1/bias', ...]
    """
    ignore = frozenset(ignore_attrs)
    added, removed, changed = _diff_ops(a, b, ignore)
    result = GraphDiff(a=_label(a, "a"), b=_label(b, "b"), ops_a=len(a), ops_b=len(b),
                       added=added, removed=removed, changed=changed)
    result.collections = _diff_collections(a, b)
    result.signatures = _diff_signatures(a, b)
    result.saver = _diff_saver(a, b)
    result.variables_reshaped = _diff_variables(a, b)
    result.functions = _diff_functions(a, b, ignore)
    result._types_a = {n: a.node_defs[n].op for n in removed}
    result._types_a.update({c.name: c.type[0] for c in changed if c.type})
    result._types_b = {n: b.node_defs[n].op for n in added}
    return result
