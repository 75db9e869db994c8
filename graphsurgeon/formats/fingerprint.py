"""A SavedModel's ``fingerprint.pb``, computed as TensorFlow 2.21 computes it, without TensorFlow.

TensorFlow (2.11 and later) writes ``fingerprint.pb`` beside
``saved_model.pb``: a ``FingerprintDef`` that identifies the model
(``tf.saved_model.experimental.read_fingerprint``). A SavedModel edited by
graphsurgeon must not keep the original's: two different models would claim
one identity. :func:`fingerprint_def` recomputes it the way TensorFlow's C++
``CreateFingerprintDef`` (tensorflow/cc/saved_model/fingerprinting.cc) does
for a directory holding a plain ``saved_model.pb``:

1. ``saved_model_checksum``: Fingerprint64 of the whole SavedModel,
   deterministically re-serialized (map entries sorted by key).
2. ``graph_def_program_hash``: Fingerprint64 of the first MetaGraphDef's
   GraphDef after "simple delete" regularization
   (tensorflow/core/graph/regularization/simple_delete.cc): function-call
   ops lose the UID suffix of their function name and their
   ``config_proto``, string ``Const`` values are cleared, the function
   library and the versions are emptied.
3. ``signature_def_hash``: FingerprintCat64 over the signatures sorted by
   key, of Fingerprint64(key) then Fingerprint64(signature).
4. ``saved_object_graph_hash``: FingerprintCat64 over the concrete
   functions sorted by the integer UID that ends their name, of
   Fingerprint64(name without the UID) then Fingerprint64(function).
5. ``checkpoint_hash``: Fingerprint64 of ``variables/variables.index``
   (0 when there is none).

plus ``version.producer`` (4 in TensorFlow 2.21) and ``uuid``, a random
128-bit number in decimal that TensorFlow draws afresh on every save: it is
the one field that never matches TensorFlow's, by design.

Where TensorFlow's own answer would be an error, or would depend on the
iteration order of a C++ hash map (two concrete functions with one UID), or
the model is chunked (``saved_model.cpb``) or text, :class:`FingerprintError`
is raised instead of guessing: a caller then drops the stale
``fingerprint.pb`` rather than write a wrong one.

Every hash is over C++ ``SerializeToStringDeterministic`` bytes. Python's
``SerializeToString(deterministic=True)`` is not the same: upb sorts a map
key before the keys it is a prefix of the other way round (``seed2`` before
``seed``), which changes the hash of most TF1 graphs;
:func:`serialize_deterministic` puts the map entries back in C++ order. The
tests check the result field by field and byte for byte against
TensorFlow's ``CreateFingerprintDef``.

Example:
    >>> fp = fingerprint_def("fixtures/models/mnist_bn_elu_savedmodel_tf2")
    >>> fp.saved_model_checksum > 0, fp.version.producer
    (True, 4)
"""
from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path

from ..errors import FormatError
from ..vocab import protos
from .farmhash import fingerprint64, fingerprint_cat64
from .protofile import atomic_write, read_file

__all__ = ["FINGERPRINT_FILE", "FINGERPRINT_PRODUCER", "FingerprintError", "fingerprint_def",
           "fingerprint_bytes", "refresh_fingerprint", "random_uuid", "serialize_deterministic"]

FINGERPRINT_FILE = "fingerprint.pb"
# VersionDef.producer that TensorFlow 2.21's CreateFingerprintDef writes.
FINGERPRINT_PRODUCER = 4
_DT_STRING = 7

_log = logging.getLogger(__name__)


class FingerprintError(FormatError):
    """TensorFlow's fingerprint of this SavedModel cannot be computed exactly here."""


def random_uuid() -> str:
    """A fresh fingerprint UUID in TensorFlow's form: two random 64-bit words as one 128-bit decimal.

    TensorFlow formats it with ``%020d`` (at least 20 digits, zero-padded).

    Example:
        >>> len(random_uuid()) >= 20 and random_uuid().isdigit()
        True
    """
    return f"{secrets.randbits(128):020d}"


def serialize_deterministic(message) -> bytes:
    """``message`` serialized as C++ ``SerializeToStringDeterministic`` writes it.

    Python's ``SerializeToString(deterministic=True)`` (upb) sorts map
    entries too, but not as C++ does when one key is a prefix of another:
    upb writes ``seed2`` before ``seed``, C++ (``std::string`` order)
    ``seed`` first. Everything else is byte for byte the same, so upb's
    bytes are walked with the message's schema and each run of map entries
    is put back in C++ order (by key: bytes for strings, numbers for
    integers). Reordering never changes a length, so only map runs move.

    Example:
        >>> node = protos.NodeDef(name="n")
        >>> node.attr["seed2"].i = 2
        >>> node.attr["seed"].i = 1
        >>> serialize_deterministic(node).index(b"seed\\x12") < serialize_deterministic(node).index(b"seed2")
        True
    """
    data = message.SerializeToString(deterministic=True)
    plan = _plan(message.DESCRIPTOR)
    if plan is None:
        return data
    out: list = []
    _rewrite(memoryview(data), 0, len(data), plan, out)
    return b"".join(out)


_serialize = serialize_deterministic

_MAP, _MSG = 0, 1
_plans: dict = {}


def _plan(descriptor):
    """For a message type: {field number: (kind, detail)} of the fields to walk, or None if none.

    A field is walked when it is a map or its message type holds a map at
    any depth (AttrValue -> ListValue -> NameAttrList -> attr map is a cycle:
    plans are built for every reachable type first, then pruned to a fixed point).
    """
    if descriptor.full_name in _plans:
        return _plans[descriptor.full_name]
    types: dict = {}
    stack = [descriptor]
    while stack:
        d = stack.pop()
        if d.full_name in types or d.full_name in _plans:
            continue
        types[d.full_name] = d
        for f in d.fields:
            if f.message_type is not None:
                stack.append(f.message_type)
    plans = {name: {} for name in types}
    changed = True
    while changed:
        changed = False
        for name, d in types.items():
            for f in d.fields:
                sub = f.message_type
                if sub is None or f.number in plans[name]:
                    continue
                if sub.GetOptions().map_entry:
                    value = sub.fields_by_name["value"]
                    key = sub.fields_by_name["key"]
                    plans[name][f.number] = (_MAP, (key.type, value.message_type))
                    changed = True
                elif plans.get(sub.full_name, _plans.get(sub.full_name)):
                    plans[name][f.number] = (_MSG, sub)
                    changed = True
    for name, p in plans.items():
        _plans[name] = p or None
    return _plans[descriptor.full_name]


def _varint(data, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _skip(data, pos: int, wire: int) -> tuple[int, int]:
    """(end of the field's value, start of its payload) after the tag at ``pos``."""
    if wire == 2:
        length, start = _varint(data, pos)
        return start + length, start
    if wire == 0:
        return _varint(data, pos)[1], pos
    if wire == 1:
        return pos + 8, pos
    if wire == 5:
        return pos + 4, pos
    raise ValueError(f"unexpected wire type {wire}")  # groups: not in TensorFlow's protos


# FieldDescriptor.TYPE_* numbers of map key types.
_TYPE_STRING = 9
_SIGNED_VARINT = (3, 5)  # int64, int32
_ZIGZAG = (17, 18)  # sint32, sint64
_SIGNED_FIXED = (15, 16)  # sfixed32, sfixed64


def _map_key(data, pos: int, end: int, key_type: int):
    """The key of one map entry (its field 1), as a value that sorts in C++ order."""
    key = b"" if key_type == _TYPE_STRING else 0
    while pos < end:
        tag, pos = _varint(data, pos)
        field_end, start = _skip(data, pos, tag & 7)
        if tag >> 3 == 1:
            if key_type == _TYPE_STRING:
                key = bytes(data[start:field_end])
            elif tag & 7 == 1:
                key = int.from_bytes(data[start:field_end], "little")
            elif tag & 7 == 5:
                key = int.from_bytes(data[start:field_end], "little")
            else:
                key = _varint(data, start)[0]
                if key_type in _SIGNED_VARINT:
                    key = key - (1 << 64) if key >= 1 << 63 else key
                elif key_type in _ZIGZAG:
                    key = (key >> 1) ^ -(key & 1)
            if key_type in _SIGNED_FIXED:
                bits = 8 * (field_end - start)
                key = key - (1 << bits) if key >= 1 << (bits - 1) else key
        pos = field_end
    return key


def _rewrite(data, pos: int, end: int, plan: dict, out: list) -> None:
    run: list = []
    run_field = None
    while pos < end:
        tag_start = pos
        tag, pos = _varint(data, pos)
        wire = tag & 7
        field_end, body = _skip(data, pos, wire)
        walk = plan.get(tag >> 3) if wire == 2 else None
        if run and (walk is None or tag >> 3 != run_field):
            run.sort(key=lambda item: item[0])
            for _, pieces in run:
                out.extend(pieces)
            run = []
        if walk is None:
            out.append(data[tag_start:field_end])
        elif walk[0] == _MSG:
            out.append(data[tag_start:body])
            _rewrite(data, body, field_end, _plan(walk[1]), out)
        else:
            key_type, value_type = walk[1]
            pieces = [data[tag_start:body]]
            value_plan = _plan(value_type) if value_type is not None else None
            if value_plan is None:
                pieces.append(data[body:field_end])
            else:
                _rewrite(data, body, field_end, {2: (_MSG, value_type)}, pieces)
            run.append((_map_key(data, body, field_end, key_type), pieces))
            run_field = tag >> 3
        pos = field_end
    if run:
        run.sort(key=lambda item: item[0])
        for _, pieces in run:
            out.extend(pieces)


def _read_saved_model(export_dir: Path):
    pb = export_dir / "saved_model.pb"
    cpb = export_dir / "saved_model.cpb"
    if cpb.exists():
        raise FingerprintError(export_dir, "is a chunked SavedModel (saved_model.cpb); "
                               "its fingerprint is not computed without TensorFlow")
    if not pb.is_file():
        raise FingerprintError(export_dir, "has no saved_model.pb (TensorFlow fingerprints the binary file only)")
    try:
        data = read_file(pb)
    except FormatError as e:
        raise FingerprintError(pb, f"cannot be read ({e.problem})") from None
    saved_model = protos.SavedModel()
    try:
        saved_model.ParseFromString(data)
    except Exception:  # noqa: BLE001 - DecodeError and upb's own errors
        raise FingerprintError(pb, "is not a valid SavedModel") from None
    if not saved_model.meta_graphs:
        raise FingerprintError(pb, "holds no MetaGraphDef")
    return pb, saved_model


def _simple_delete(graph_def, where: Path) -> None:
    """TensorFlow's ``graph_regularization::SimpleDelete``, in place."""
    for node in graph_def.node:
        if node.op in ("PartitionedCall", "StatefulPartitionedCall"):
            if "f" not in node.attr:
                raise FingerprintError(where, f"function call {node.name!r} has no 'f' attribute")
            name = node.attr["f"].func.name
            uid = _suffix_uid(name)
            if uid is not None:
                node.attr["f"].func.name = _strip_suffix(name, str(uid))
            if "config_proto" in node.attr:
                # C++ mutable_s()->erase(): the value becomes an empty string, still set.
                node.attr["config_proto"].s = b""
        if node.op == "Const":
            if "dtype" not in node.attr or "value" not in node.attr:
                raise FingerprintError(where, f"Const {node.name!r} lacks its dtype or value")
            if node.attr["dtype"].type == _DT_STRING:
                node.attr["value"].ClearField("value")  # the oneof: nothing is set
    # C++ mutable_library()->Clear(): cleared but present, so serialized as an empty field.
    graph_def.ClearField("library")
    graph_def.library.SetInParent()
    graph_def.ClearField("versions")
    graph_def.versions.SetInParent()


_ASCII_SPACE = " \t\n\v\f\r"
_INT = re.compile(r"[+-]?[0-9]+\Z")


def _suffix_uid(function_name: str) -> int | None:
    """``graph_regularization::GetSuffixUID``: the int64 after the last ``_`` (absl::SimpleAtoi), or None."""
    text = function_name.split("_")[-1].strip(_ASCII_SPACE)
    if not _INT.match(text):
        return None
    value = int(text)
    if not -(2**63) <= value < 2**63:
        return None
    return value


def _strip_suffix(text: str, suffix: str) -> str:
    return text[: -len(suffix)] if suffix and text.endswith(suffix) else text


def _signature_hash(signature_def) -> int:
    result = 0
    for key in sorted(signature_def, key=lambda k: k.encode("utf-8")):
        result = fingerprint_cat64(result, fingerprint64(key.encode("utf-8")))
        result = fingerprint_cat64(result, fingerprint64(_serialize(signature_def[key])))
    return result


def _object_graph_hash(object_graph, where: Path) -> int:
    by_uid: dict[int, str] = {}
    for name in object_graph.concrete_functions:
        uid = _suffix_uid(name)
        if uid is None:
            # TensorFlow fails too: "Function name ... does not end in an integer."
            raise FingerprintError(where, f"concrete function {name!r} does not end in an integer UID")
        if uid in by_uid:
            # TensorFlow keeps whichever its hash map yields first: not reproducible.
            raise FingerprintError(where, f"concrete functions {by_uid[uid]!r} and {name!r} share UID {uid}")
        by_uid[uid] = name
    result = 0
    for uid in sorted(by_uid):
        name = by_uid[uid]
        result = fingerprint_cat64(result, fingerprint64(_strip_suffix(name, str(uid)).encode("utf-8")))
        result = fingerprint_cat64(result, fingerprint64(_serialize(object_graph.concrete_functions[name])))
    return result


def _checkpoint_hash(export_dir: Path) -> int:
    try:
        return fingerprint64(read_file(export_dir / "variables" / "variables.index"))
    except FormatError:
        return 0  # TensorFlow: "Failed to read checkpoint file", hash 0


def fingerprint_def(export_dir, *, uuid: str | None = None):
    """The ``FingerprintDef`` TensorFlow 2.21 would write for the SavedModel in ``export_dir``.

    Args:
        export_dir: a SavedModel directory holding ``saved_model.pb`` (and
            ``variables/variables.index`` when it has variables).
        uuid: the ``uuid`` field; default a fresh random one, as TensorFlow
            draws on every save.

    Returns:
        a ``graphsurgeon.vocab.protos.FingerprintDef`` message.

    Raises:
        FingerprintError: TensorFlow's value cannot be reproduced exactly
            (chunked or text-only SavedModel, no MetaGraphDef, a concrete
            function name without a UID, two functions sharing a UID, a
            malformed function call or Const); nothing should be written.

    Example:
        >>> fp = fingerprint_def("fixtures/models/mnist_bn_elu_savedmodel_tf1")
        >>> fp.saved_object_graph_hash  # a TF1 SavedModel has no object graph
        0
    """
    export_dir = Path(export_dir)
    pb, saved_model = _read_saved_model(export_dir)
    fp = protos.FingerprintDef()
    fp.saved_model_checksum = fingerprint64(_serialize(saved_model))
    # Only the first MetaGraphDef counts, as in TensorFlow (whatever tag was loaded).
    meta = saved_model.meta_graphs[0]
    _simple_delete(meta.graph_def, pb)
    fp.graph_def_program_hash = fingerprint64(_serialize(meta.graph_def))
    fp.signature_def_hash = _signature_hash(meta.signature_def)
    fp.saved_object_graph_hash = _object_graph_hash(meta.object_graph_def, pb)
    fp.checkpoint_hash = _checkpoint_hash(export_dir)
    fp.uuid = random_uuid() if uuid is None else uuid
    fp.version.producer = FINGERPRINT_PRODUCER
    return fp


def fingerprint_bytes(export_dir, *, uuid: str | None = None) -> bytes:
    """``fingerprint_def(export_dir)`` serialized as TensorFlow writes ``fingerprint.pb``.

    Example:
        >>> data = fingerprint_bytes("fixtures/models/mnist_bn_elu_savedmodel_tf2", uuid="1" * 20)
        >>> protos.FingerprintDef.FromString(data).uuid
        '11111111111111111111'
    """
    return fingerprint_def(export_dir, uuid=uuid).SerializeToString()


def refresh_fingerprint(export_dir) -> str:
    """Rewrite the ``fingerprint.pb`` of an edited SavedModel directory, or remove it if it cannot be.

    Call it after ``saved_model.pb`` and ``variables/`` hold their final
    bytes. A directory without ``fingerprint.pb`` is left alone.

    Returns:
        ``"absent"`` (nothing to refresh), ``"rewritten"``, or
        ``"removed: <reason>"`` when TensorFlow's value cannot be computed
        exactly here (a stale fingerprint is worse than none; TensorFlow
        loads a SavedModel without one).

    Example:
        >>> refresh_fingerprint("edited_savedmodel")
        'rewritten'
    """
    export_dir = Path(export_dir)
    path = export_dir / FINGERPRINT_FILE
    if not (path.exists() or path.is_symlink()):
        return "absent"
    try:
        data = fingerprint_bytes(export_dir)
    except Exception as e:  # noqa: BLE001 - FingerprintError, or a model this code cannot walk
        # The save itself must not fail for want of a fingerprint: TensorFlow loads without one.
        os.unlink(path)
        reason = str(e) if isinstance(e, FingerprintError) else f"{type(e).__name__}: {e}"
        _log.info("%s removed, not recomputed: %s", path, reason)
        return f"removed: {reason}"
    if path.is_symlink():
        os.unlink(path)  # never write through a link into someone else's model
    atomic_write(path, data)
    return "rewritten"
