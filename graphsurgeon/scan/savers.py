"""Which save and restore ops are a saver's: the model's own, or another Saver left in the graph.

A model's own saver is what its ``saver_def`` names: the op that saves
(``save_tensor_name``) and the op that restores (``restore_op_name``, run by
every loader). A save or restore op is the model's own when

- its file names are the saver's file name tensor (the one the loader feeds:
  ``variables/variables``), through nothing but the plumbing TensorFlow's
  savers build (``StringJoin`` with the ``_temp/part``-style suffixes,
  ``ShardedFilename``, ``Pack``, ``Select`` between suffixes, pass-through
  ops, and in TF2 the ``__inference__traced_save/restore`` functions the
  saver calls with that file name): a regular expression, a format, or a
  constant joined to it is no saver's;
- a write is reached from the save op only: **a write the restore op waits
  on runs on every load, and is never benign**; a read is reached from the
  restore op;
- nothing declared (a signature, an init op, a method) reaches it.

Another Saver (``tf.compat.v1.train.Saver`` for a subset, a TF1 training
script's second saver, the saver functions of a TF2 model re-exported in
graph mode) is ordinary when no entry point reaches its ops and its file
names come from its own file name tensor (a placeholder, or the relative
constant ``"model"`` TensorFlow 1.x wrote) through the same plumbing.
"""
from __future__ import annotations

import re

from ..vocab.names import split_tensor_name
from ..vocab.optypes import PLACEHOLDER_TYPES, RESTORE_TYPES, SAVE_TYPES
from .arguments import through

WRITES = frozenset({*SAVE_TYPES, "MergeV2Checkpoints"})
READS = frozenset(RESTORE_TYPES)
FILE_INPUTS = ("prefix", "filename", "file_pattern", "checkpoint_prefixes", "destination_prefix")

# The suffixes savers join to the file name: "_temp/part", "_temp_<uuid>/part" (TF1 sharded), ".part" (s3).
_SUFFIX = re.compile(r"^(_temp(_[0-9a-f]{32})?/part|\.part|part)$")
_MAX_WALK = 256
_MAX_DEPTH = 16

OWN = "the model's own saver (its checkpoint, under variables/ in a SavedModel)"
OTHER = "another Saver of the graph, not run on load (its file name is fed when it runs)"
RESTORE_WRITE = "runs on every load: the saver's restore op waits on it"


def _safe_root(value: str) -> bool:
    """A relative file name a Saver may default to ("model"): no folder above, no absolute path, no URL."""
    return bool(value) and not value.startswith(("/", "\\")) and "://" not in value and ".." not in value \
        and ":" not in value[:3]


class Savers:
    """Save/restore ops judged against the model's savers (see the module docstring).

    Args:
        reach: the model's :class:`graphsurgeon.scan.reach.Reach`.
        resolver: its :class:`graphsurgeon.scan.arguments.Resolver` (graphs, call sites, constants).
    """

    def __init__(self, reach, resolver):
        self.reach = reach
        self.resolver = resolver
        self._tops: dict = {}

    def judge(self, function: str | None, node, reached_from: str | None) -> tuple[str | None, str | None]:
        """``(benign reason, severity reason)`` for a save/restore op; both None when it is neither."""
        if node.op not in WRITES and node.op not in READS:
            return None, None
        tops = {node.name} if function is None else self._top_callers(function)
        in_restore = bool(tops & self.reach.restore_ops)
        if node.op in WRITES and in_restore:
            return None, RESTORE_WRITE
        roots = self._roots(function, node)
        if roots is None:
            return None, None
        declared = reached_from is not None and not reached_from.startswith("saver ")
        if declared:
            return None, None
        if roots == {"own"}:
            if node.op in WRITES and tops and tops <= self.reach.save_ops:
                return OWN, None
            if node.op in READS and in_restore:
                return OWN, None
            return None, None
        if "own" not in roots and reached_from is None:
            return OTHER, None
        return None, None

    # ------------------------------------------------------------------ where a function is called from
    def _top_callers(self, function: str) -> set[str]:
        """Top-level ops from which ``function`` is called, through any nesting of calls."""
        cached = self._tops.get(function)
        if cached is not None:
            return cached
        out, stack, seen = set(), [function], {function}
        call_sites = self.reach.call_sites
        while stack:
            name = stack.pop()
            for caller, op, _ in call_sites.get(name, ()):
                if caller is None:
                    out.add(op)
                elif caller not in seen:
                    seen.add(caller)
                    stack.append(caller)
        self._tops[function] = out
        return out

    # ------------------------------------------------------------------ where its file names come from
    def _roots(self, function, node) -> set[str] | None:
        """``{"own"}`` / ``{"other"}`` (or both) for where every file name of ``node`` comes from, or None.

        None when a file name is anything else: computed by an op that is no
        saver's plumbing, a constant that is not a plain relative name.
        """
        tensors = [self.resolver.input_tensor(function, node, name) for name in FILE_INPUTS]
        tensors = [t for t in tensors if t is not None]
        if not tensors:
            return None
        roots: set[str] = set()
        for tensor in tensors:
            found = self._walk(function, tensor)
            if found is None:
                return None
            roots |= found
        return roots

    def _walk(self, function, tensor: str) -> set[str] | None:
        roots: set[str] = set()
        stack = [(function, tensor, "root", 0)]
        steps = 0
        while stack:
            fn, t, role, depth = stack.pop()
            steps += 1
            if steps > _MAX_WALK or depth > _MAX_DEPTH:
                return None
            graph = self.resolver.graph(fn)
            t = through(graph, t)
            op = split_tensor_name(t)[0]
            node = graph.node_defs.get(op)
            if node is None:
                return None
            if fn is None and self.resolver.saver_filename and t == self.resolver.saver_filename:
                if role != "root":
                    return None
                roots.add("own")
                continue
            kind = node.op
            if kind == "Const":
                values = _const_strings(node)
                if not values:
                    return None
                if role == "suffix" and all(_SUFFIX.match(v) for v in values):
                    continue
                if role == "root" and fn is None and all(_safe_root(v) for v in values):
                    roots.add("other")
                    continue
                return None
            if kind in PLACEHOLDER_TYPES and fn is None and role == "root":
                roots.add("other")
                if kind == "PlaceholderWithDefault":  # its default is a file name too: checked the same way
                    refs = graph.data_refs(op)
                    if not refs:
                        return None
                    stack.append((fn, refs[0].tensor, role, depth))
                continue
            if kind == "_Arg" and fn is not None:
                sources = list(self.resolver.argument_sources(fn, node.attr["index"].i))
                if not sources:
                    return None
                stack.extend((caller, src, role, depth + 1) for caller, src in sources)
                continue
            refs = graph.data_refs(op)
            if kind == "StringJoin":
                separator = node.attr["separator"].s if "separator" in node.attr else b""
                if separator or not refs:
                    return None
                stack.append((fn, refs[0].tensor, role, depth))
                stack.extend((fn, r.tensor, "suffix", depth) for r in refs[1:])
            elif kind in ("ShardedFilename", "ShardedFilespec") and refs:
                stack.append((fn, refs[0].tensor, role, depth))
            elif kind == "Pack" and refs:
                stack.extend((fn, r.tensor, role, depth) for r in refs)
            elif kind in ("Select", "SelectV2") and len(refs) == 3:
                stack.extend((fn, r.tensor, role, depth) for r in refs[1:])
            else:
                return None
        return roots or None


def _const_strings(node) -> list[str] | None:
    """A string ``Const``'s values, read from its proto (no decoding to arrays), or None."""
    tensor = node.attr["value"].tensor if "value" in node.attr else None
    if tensor is None or tensor.dtype != 7 or not len(tensor.string_val):  # DT_STRING
        return None
    return [v.decode("utf-8", "replace") for v in tensor.string_val]
