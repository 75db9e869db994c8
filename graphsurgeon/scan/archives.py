"""Archives people download models in (``.zip``, ``.tar``, ``.tar.gz``...): scanned member by member, in memory.

Nothing is extracted: the member names are read, and the members that hold
models (a SavedModel's ``saved_model.pb`` with its ``keras_metadata.pb``, a
``.meta``, ``.pb`` or ``.pbtxt`` graph, a ``.keras`` or ``.h5`` Keras file,
an archive inside the archive) are read into memory, within limits, and
scanned like the same files on disk; their findings say which member holds
them (``member``). A member name that leaves the folder the archive is
extracted to (absolute, ``..``, a drive), and a link member pointing out of
it, is itself a finding: extracting the archive writes there.
"""
from __future__ import annotations

import io
import posixpath
import tarfile
import zipfile
from pathlib import Path

from ..errors import FormatError
from ..formats.protofile import PROTO_LIMIT, open_regular
from .record import new_finding
from .zipmember import read_zip_member

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
MAX_MEMBERS = 100_000
MAX_READ = 4 << 30        # bytes read out of one archive in all (nested ones included)
MAX_NESTED = 512 << 20    # an archive inside an archive larger than this is not opened
MAX_DEPTH = 3             # archives inside archives
_GRAPH_SUFFIXES = (".meta", ".pb", ".pbtxt")
_NOT_GRAPHS = ("fingerprint.pb", "keras_metadata.pb")


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _interesting(name: str) -> bool:
    base = posixpath.basename(name)
    lower = base.lower()
    return lower.endswith(_GRAPH_SUFFIXES + (".keras", ".h5", ".hdf5")) or is_archive(lower)


def unsafe_name(name: str) -> bool:
    """Whether an archive member's name leaves the folder it is extracted to."""
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return True
    return ".." in text.split("/")


def _escapes(member_name: str, target: str, hard: bool) -> bool:
    """Whether a link member's target lies outside the extraction folder."""
    text = target.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        return True
    base = "" if hard else posixpath.dirname(member_name.replace("\\", "/"))
    joined = posixpath.normpath(posixpath.join(base, text))
    return joined == ".." or joined.startswith("../")


class _Budget:
    def __init__(self):
        self.left = MAX_READ

    def take(self, n: int, where: str) -> None:
        self.left -= n
        if self.left < 0:
            raise FormatError(where, f"holds more than {MAX_READ:,} bytes of models: not read further")


def scan_archive(path: str, record: dict) -> None:
    """Fill ``record`` (see :func:`graphsurgeon.scan.model.scan_model`) with what the archive at ``path`` holds."""
    with open_regular(path) as handle:
        _scan(path, handle, record, _Budget(), depth=0, prefix="")


def _scan(path: str, handle, record: dict, budget: _Budget, depth: int, prefix: str) -> None:
    head = handle.read(8)
    handle.seek(0)
    if head.startswith(b"PK"):
        record["format"] = record["format"] or "zip"
        names, files = _zip_members(path, handle, budget, record, prefix)
    else:
        record["format"] = record["format"] or "tar"
        names, files = _tar_members(path, handle, budget, record, prefix)
    _scan_members(path, names, files, record, budget, depth, prefix)


def _traversal(record: dict, name: str, prefix: str, link: str | None = None) -> None:
    class _Member:
        op = "archive member"

    member = _Member()
    member.name = prefix + name
    finding = new_finding(member, None, "write-files", None)
    finding["what"] = "writes outside the folder it is extracted to"
    finding["severity"] = "high"
    finding["arguments"] = {"name": {"source": "constant", "values": [name]}}
    finding["reached_from"] = "archive extraction"
    if link is None:
        finding["reason"] = f"the member name {name!r} leaves the folder the archive is extracted to"
    else:
        finding["arguments"]["link"] = {"source": "constant", "values": [link]}
        finding["reason"] = f"the link {name!r} points to {link}, outside the folder the archive is extracted to"
    record["findings"].append(finding)


def _zip_members(path, handle, budget, record, prefix):
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FormatError(path, f"not a readable zip archive ({exc})") from None
    files = {}
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise FormatError(path, f"holds {len(infos):,} members (over {MAX_MEMBERS:,})")
        names = []
        for info in infos:
            name = info.filename
            if unsafe_name(name):
                _traversal(record, name, prefix)
            names.append(name)
            if info.is_dir() or not _interesting(name):
                continue
            data = read_zip_member(path, archive, info, MAX_NESTED if is_archive(name) else PROTO_LIMIT)
            budget.take(len(data), path)
            files[name] = data
    return names, files


def _tar_members(path, handle, budget, record, prefix):
    files, names = {}, []
    try:
        # One pass over the stream ("r|*"): a compressed tar is never decompressed twice.
        with tarfile.open(fileobj=handle, mode="r|*") as archive:
            for count, info in enumerate(archive):
                if count >= MAX_MEMBERS:
                    raise FormatError(path, f"holds more than {MAX_MEMBERS:,} members")
                name = info.name
                names.append(name)
                if unsafe_name(name):
                    _traversal(record, name, prefix)
                if (info.issym() or info.islnk()) and _escapes(name, info.linkname, info.islnk()):
                    _traversal(record, name, prefix, link=info.linkname)
                if not info.isfile() or not _interesting(name):
                    continue
                limit = MAX_NESTED if is_archive(name) else PROTO_LIMIT
                if info.size > limit:
                    raise FormatError(path, f"member {name!r} is {info.size:,} bytes (over {limit:,})")
                member = archive.extractfile(info)
                data = member.read(limit + 1) if member is not None else b""
                budget.take(len(data), path)
                files[name] = data
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise FormatError(path, f"not a readable tar archive ({exc})") from None
    return names, files


def _scan_members(path, names, files, record, budget, depth, prefix) -> None:
    from ..formats import SAVED_MODEL_FILES
    from .files import h5_file_findings, keras_file_findings, scan_graphs

    saved_models = sorted({posixpath.dirname(n) for n in files if posixpath.basename(n) in SAVED_MODEL_FILES})
    inside = tuple(d + "/" for d in saved_models if d)
    at_root = "" in saved_models
    for folder in saved_models:
        name = posixpath.join(folder, "saved_model.pb") if posixpath.join(folder, "saved_model.pb") in files \
            else posixpath.join(folder, "saved_model.pbtxt")
        where = f"{path}!/{prefix}{name}"
        models = _models(where, files[name], "savedmodel")
        metadata_name = posixpath.join(folder, "keras_metadata.pb")
        metadata = None
        if metadata_name in files:
            from . import keras as _keras

            metadata = _keras.metadata_configs(f"{path}!/{prefix}{metadata_name}", files[metadata_name])
        scan_graphs(models, record, model_dir=f"{path}!/{prefix}{folder}", keras_metadata=metadata,
                    member=prefix + (folder or "."))
    for name in sorted(files):
        base = posixpath.basename(name).lower()
        if base in SAVED_MODEL_FILES:
            continue
        in_saved_model = at_root or bool(inside) and name.startswith(inside)
        where = f"{path}!/{prefix}{name}"
        data = files[name]
        if is_archive(base):
            if depth + 1 >= MAX_DEPTH:
                raise FormatError(path, f"member {name!r}: archives nested more than {MAX_DEPTH} deep")
            _scan(where, io.BytesIO(data), record, budget, depth + 1, prefix + name + "!/")
            continue
        if base.endswith(".keras"):
            found = keras_file_findings(where, io.BytesIO(data))
        elif base.endswith((".h5", ".hdf5")):
            found = h5_file_findings(where, io.BytesIO(data))
        elif base.endswith(_GRAPH_SUFFIXES) and base not in _NOT_GRAPHS and not in_saved_model:
            scan_graphs(_models(where, data, None), record, member=prefix + name)
            continue
        else:
            continue
        for finding in found:
            finding["member"] = prefix + name
        record["findings"].extend(found)


def _models(where: str, data: bytes, expect: str | None) -> list:
    """One :class:`graphsurgeon.formats.Model` per MetaGraphDef of the bytes of a graph file."""
    from dataclasses import replace

    from ..formats import Model
    from ..formats.protofile import decode_message

    kind, message, encoding = decode_message(data, where, expect)
    model = Model(Path(where), kind, Path(where), encoding, message, meta_index=0 if kind == "savedmodel" else None)
    if kind != "savedmodel":
        return [model]
    if not len(message.meta_graphs):
        raise FormatError(where, "SavedModel holds no MetaGraphDef")
    return [replace(model, meta_index=i, notes=[]) for i in range(len(message.meta_graphs))]
