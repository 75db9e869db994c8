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

MAX_JSON = 64 << 20      # config.json / one metadata string larger than this is refused
_MAX_NODES = 1_000_000   # JSON values walked per document


def metadata_configs(path) -> list[tuple[str, object]]:
    """``(where, parsed JSON)`` of every node of a ``keras_metadata.pb``."""
    from ..vocab import protos

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


def archive_config(path) -> object | None:
    """The parsed ``config.json`` of a ``.keras`` archive (None when it holds none)."""
    with open_regular(path) as handle:
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise FormatError(path, f"not a readable .keras archive ({exc})") from None
        with archive:
            try:
                info = archive.getinfo("config.json")
            except KeyError:
                return None
            if info.file_size > MAX_JSON:
                raise FormatError(path, f"config.json is {info.file_size:,} bytes (over {MAX_JSON:,})")
            try:
                with archive.open(info) as member:
                    data = member.read(MAX_JSON + 1)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
                raise FormatError(path, f"config.json cannot be read ({exc})") from None
    if len(data) > MAX_JSON:
        raise FormatError(path, "config.json is larger than its header says")
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FormatError(path, "config.json is not JSON") from None


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
    if kind == "function":
        name = code["value"] if isinstance(code["value"], str) else json.dumps(code["value"])[:200]
        module = code.get("module")
        detail.update(stored="by name", module=module if isinstance(module, str) else None)
        what = "calls a Python function found by name when loaded"
        severity = "medium"
    else:
        text = _bytecode_text(code["value"])
        data = pycode.decode_base64(text) if text is not None else None
        described = pycode.describe(data) if data else None
        name = described["qualname"] if described else None
        detail.update(stored="bytecode", bytes=len(data) if data else None, code=described)
        what = "runs Python bytecode stored in the model when loaded"
        severity = "high"
    return {
        "name": layer,
        "type": f"{class_name or '?'} layer" if class_name else "Keras object",
        "function": name,
        "capability": "python",
        "what": what,
        "severity": severity,
        "benign": None,
        "reached_from": "keras load_model",
        "path": [],
        "arguments": {},
        "unreachable": False,
        "meta_graph": None,
        "keras": detail,
    }


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
