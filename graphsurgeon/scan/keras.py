"""Keras layers that carry Python code: ``keras_metadata.pb`` of SavedModels and ``.keras`` archives.

A Keras model saved by Keras 2 (``tf.keras`` up to TF 2.15, ``tf_keras``)
as a SavedModel keeps each layer's config as JSON in ``keras_metadata.pb``
(a ``SavedMetadata`` message, see :mod:`graphsurgeon.vocab.protos`); Keras 3
keeps the model's config in ``config.json`` inside the ``.keras`` zip. A
``Lambda`` layer's function, and any ``*_type: "lambda"`` field of a
custom object, is stored there as marshalled bytecode (Keras 2:
``function_type: "lambda"``; Keras 3: ``{"class_name": "__lambda__"}``)
that ``load_model`` turns back into a function and runs. A function stored
by name (``function_type: "function"``, Keras 3's ``class_name:
"function"``) is looked up in its module at load time.

Only the JSON is read, never a path it names; bytecode is described by
:mod:`graphsurgeon.scan.pycode`, never unmarshalled.
"""
from __future__ import annotations

import json
import zipfile

from ..errors import FormatError
from ..formats.protofile import open_regular, read_file
from . import pycode
from .record import finding
from .zipmember import read_zip_member

MAX_JSON = 64 << 20      # config.json / one metadata string larger than this is refused
# Packages whose classes Keras 3 resolves itself ("module" of a config object); any other is a custom object.
KERAS_MODULES = frozenset({"keras", "keras_hub", "keras_cv", "keras_nlp", "tf_keras", "tensorflow", "builtins",
                           "__main__"})
# Functions a config can name that do more than compute (CVE-2025-9906 and friends).
DANGEROUS_FUNCTIONS = {
    "keras.models.load_model": "loads another model (with safe_mode as the config's arguments say)",
    "keras.saving.load_model": "loads another model (with safe_mode as the config's arguments say)",
    "keras.src.saving.saving_api.load_model": "loads another model (with safe_mode as the config's arguments say)",
    "keras.utils.get_file": "downloads a file from a URL",
    "keras.src.utils.file_utils.get_file": "downloads a file from a URL",
    "keras.config.enable_unsafe_deserialization": "turns safe mode off for what is loaded next",
    "keras.src.saving.serialization_lib.enable_unsafe_deserialization":
        "turns safe mode off for what is loaded next",
}
_MAX_NODES = 1_000_000   # JSON values walked per document


def metadata_configs(path, data: bytes | None = None) -> list[tuple[str, object]]:
    """``(where, parsed JSON)`` of every node of a ``keras_metadata.pb`` (``data``: its bytes, already read)."""
    from ..vocab import protos

    if data is None:
        data = read_file(path, limit=MAX_JSON * 4)
    message = protos.SavedMetadata()
    try:
        message.ParseFromString(data)
    except Exception as exc:  # DecodeError and friends: damaged, not ours to crash on
        raise FormatError(path, f"keras_metadata.pb does not parse: {exc}") from None
    out = []
    for node in message.nodes:
        if not node.metadata or len(node.metadata) > MAX_JSON:
            continue
        try:
            out.append((node.node_path or f"node {node.node_id}", json.loads(node.metadata)))
        except (ValueError, RecursionError):
            raise FormatError(path, f"keras_metadata.pb: metadata of {node.node_path!r} is not JSON") from None
    return out


def archive_config(path, handle=None) -> object | None:
    """The parsed ``config.json`` of a ``.keras`` archive (None when it holds none).

    ``handle``: the archive's bytes as a file object (a member of another
    archive), ``path`` then only names it.
    """
    if handle is None:
        with open_regular(path) as handle:
            return archive_config(path, handle)
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FormatError(path, f"not a readable .keras archive ({exc})") from None
    with archive:
        try:
            info = archive.getinfo("config.json")
        except KeyError:
            return None
        data = read_zip_member(path, archive, info, MAX_JSON)
    return _json(path, data, "config.json")


def h5_configs(path, handle=None) -> list[tuple[str, object]]:
    """``(attribute, parsed JSON)`` of a Keras 2 HDF5 model's ``model_config`` and ``training_config``.

    Needs h5py (``pip install 'graphsurgeon[h5]'``); only the file's root
    attributes are read. ``handle``: the file's bytes as a file object.
    """
    try:
        import h5py
    except ImportError:
        raise FormatError(path, "reading a Keras .h5 model needs h5py",
                          hint="pip install 'graphsurgeon[h5]'") from None
    if handle is None:
        with open_regular(path) as handle:
            return h5_configs(path, handle)
    try:
        with h5py.File(handle, "r") as f:
            raw = {key: f.attrs[key] for key in ("model_config", "training_config") if key in f.attrs}
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise FormatError(path, f"not a readable HDF5 file ({str(exc).splitlines()[0] if str(exc) else exc})") \
            from None
    out = []
    for key, value in raw.items():
        if hasattr(value, "tobytes") and not isinstance(value, bytes):
            value = value.tobytes() if getattr(value, "dtype", None) is not None and value.dtype.kind == "S" \
                else str(value)
        data = value.encode("utf-8", "replace") if isinstance(value, str) else bytes(value)
        if len(data) > MAX_JSON:
            raise FormatError(path, f"{key} is {len(data):,} bytes (over {MAX_JSON:,})")
        out.append((key, _json(path, data, key)))
    return out


def _json(path, data: bytes, what: str):
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FormatError(path, f"{what} is not JSON") from None


def code_findings(documents, source: str) -> list[dict]:
    """Findings for every layer or object holding Python code in the parsed JSON ``documents``.

    ``documents``: ``[(where, JSON)]``; ``source``: the file they came from
    (``keras_metadata.pb`` or ``config.json``). One finding per (layer, field),
    however many documents repeat it (Keras 2 writes each layer's config both
    in the model's and in the layer's own metadata).
    """
    seen, out = set(), []
    for where, document in documents:
        for layer, class_name, field, code in _code_fields(document):
            if code["kind"] == "module" and source != "config.json":
                continue  # Keras 2 (keras_metadata.pb, .h5) never imports a module a config names
            key = (layer, class_name, field, json.dumps(code, sort_keys=True, default=str)[:4096])
            if key in seen:
                continue
            seen.add(key)
            out.append(_finding(layer, class_name, field, code, source, where))
    return out


def _code_fields(document):
    """``(layer name, class name, field, stored function)`` for each field holding code, iteratively."""
    stack, walked = [(document, None, None)], 0
    while stack:
        value, layer, class_name = stack.pop()
        walked += 1
        if walked > _MAX_NODES:
            return
        if isinstance(value, list):
            stack.extend((v, layer, class_name) for v in value)
            continue
        if not isinstance(value, dict):
            continue
        # Keras 3: {"class_name": "__lambda__", "config": {"code": ...}} and {"class_name": "function", ...}.
        if value.get("class_name") == "__lambda__":
            yield layer, class_name, "function", {"keras": 3, "kind": "lambda", "value": value.get("config")}
            continue
        if value.get("class_name") == "function" and value.get("registered_name") == "function":
            yield layer, class_name, "function", {"keras": 3, "kind": "function", "value": value.get("config"),
                                                  "module": value.get("module")}
            continue
        if isinstance(value.get("class_name"), str) and isinstance(value.get("config"), dict):
            class_name = value["class_name"]
            layer = value["config"].get("name", layer)
            module = value.get("module")
            if isinstance(module, str) and module.split(".", 1)[0] not in KERAS_MODULES:
                yield layer, class_name, "module", {"keras": 3, "kind": "module", "value": class_name,
                                                    "module": module}
        # Keras 2: a config with {"function_type": "lambda", "function": [bytecode, ...]} (output_shape too).
        stored = set()
        for key, kind in value.items():
            if isinstance(key, str) and key.endswith("_type") and kind in ("lambda", "function") and key[:-5] in value:
                field = key[:-5]
                stored.add(field)
                module = value.get("module") if field == "function" else value.get(field + "_module")
                yield layer, class_name, field, {"keras": 2, "kind": kind, "value": value[field], "module": module}
        stack.extend((child, layer, class_name) for key, child in value.items()
                     if key not in stored and isinstance(child, (dict, list)))


def _finding(layer, class_name, field, code, source, where) -> dict:
    kind = code["kind"]
    detail = {"keras": code["keras"], "field": field, "source": source, "where": where}
    reason = None
    if kind == "module":
        name = code["value"]
        detail.update(stored="by module", module=code["module"])
        what = "names a Python module Keras imports when loading"
        severity = "medium"
        reason = f"{class_name} from module {code['module']!r}: Keras 3 before 3.9 imports any module named in " \
                 "config.json (CVE-2025-1550); later versions load it only when it is registered"
    elif kind == "function":
        name = code["value"] if isinstance(code["value"], str) else json.dumps(code["value"])[:200]
        module = code.get("module")
        detail.update(stored="by name", module=module if isinstance(module, str) else None)
        what = "calls a Python function found by name when loaded"
        severity = "medium"
        qualified = f"{module}.{name}" if isinstance(module, str) else str(name)
        if qualified in DANGEROUS_FUNCTIONS or str(name) in DANGEROUS_FUNCTIONS:
            severity = "high"
            reason = f"{qualified}: {DANGEROUS_FUNCTIONS.get(qualified) or DANGEROUS_FUNCTIONS[str(name)]}"
    else:
        text = _bytecode_text(code["value"])
        data = pycode.decode_base64(text) if text is not None else None
        described = pycode.describe(data) if data else None
        name = described["qualname"] if described else None
        detail.update(stored="bytecode", bytes=len(data) if data else None, code=described)
        what = "runs Python bytecode stored in the model when loaded"
        severity = "high"
    return finding(layer, f"{class_name} layer" if class_name else "Keras object", name, "python",
                   description=what, severity=severity, reason=reason, reached_from="keras load_model",
                   keras=detail)


def _bytecode_text(value):
    """The base64 text of a stored function: Keras 2 ``[code, defaults, closure]`` tuples, Keras 3 ``{"code"}``."""
    if isinstance(value, dict):
        if value.get("class_name") == "__tuple__" and isinstance(value.get("items"), list) and value["items"]:
            return value["items"][0] if isinstance(value["items"][0], str) else None
        code = value.get("code")
        return code if isinstance(code, str) else None
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0]
    return value if isinstance(value, str) else None
