"""Turn a path into protocol buffers: detect what TensorFlow wrote there and read it.

A MODEL argument may be a ``.meta`` file (binary or text), a checkpoint
prefix (``model.ckpt`` -> ``model.ckpt.meta``) or checkpoint directory, a
SavedModel directory, or a GraphDef (``.pb`` / ``.pbtxt``, binary or text,
whatever its extension says).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import AmbiguousError, FormatError, NotFoundError
from ..vocab import protos
from . import checkpoint as _checkpoint
from .protofile import read_message_digest

SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


@dataclass
class Model:
    """What a path holds, as read from disk.

    Attributes:
        path: the path the user gave.
        format: ``"meta"``, ``"savedmodel"`` or ``"graphdef"``.
        file: the file holding the graph proto.
        encoding: ``"binary"`` or ``"text"``.
        container: the message that is written back (SavedModel, MetaGraphDef or GraphDef).
        meta_index: which MetaGraphDef of a SavedModel was chosen.
        checkpoint: the checkpoint prefix that goes with the graph, if one was found.
        digest: the SHA-1 of ``file``'s bytes as read, when asked for (``read_model(digest=True)``).
        assets: for a SavedModel built in memory (``path`` and ``file`` None,
            see :meth:`graphsurgeon.Graph.as_saved_model`): asset file name ->
            the file whose bytes go to ``assets/`` when it is written.
        checkpoint_keys: for a SavedModel built in memory, the checkpoint keys
            its ``variables/`` holds (what its saver restores); None: the whole
            checkpoint.
    """

    path: Path | None
    format: str
    file: Path | None
    encoding: str
    container: object
    meta_index: int | None = None
    digest: str | None = None
    checkpoint: str | None = None
    notes: list[str] = field(default_factory=list)
    assets: dict = field(default_factory=dict)
    checkpoint_keys: list | None = None

    @property
    def on_disk(self) -> bool:
        """Whether the model was read from a file (False for a SavedModel built in memory)."""
        return self.file is not None

    @property
    def meta_graph(self):
        if self.format == "savedmodel":
            return self.container.meta_graphs[self.meta_index]
        if self.format == "meta":
            return self.container
        return None

    @property
    def graph_def(self):
        meta = self.meta_graph
        return meta.graph_def if meta is not None else self.container

    @property
    def tag_sets(self) -> list[list[str]]:
        if self.format != "savedmodel":
            return []
        return [list(m.meta_info_def.tags) for m in self.container.meta_graphs]


def read_model(path, tag: str | None = None, digest: bool = False) -> Model:
    """Read whatever TensorFlow wrote at ``path``.

    Args:
        path: file or directory (see module docstring).
        tag: for SavedModels, the tag (or comma-separated tag set) to pick.
        digest: also hash the graph file's bytes (``Model.digest``).

    Raises:
        FormatError: the path is missing, damaged or not a TensorFlow graph.
        AmbiguousError / NotFoundError: the SavedModel tag cannot be chosen.
    """
    given = Path(path)
    try:
        model = _read(given, tag, digest)
    except OSError as exc:  # a name too long, a permission: about the path, not a bug
        raise FormatError(given, f"cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        if "null" in str(exc):  # os.stat refuses NUL bytes in paths
            raise FormatError(given, "path holds a NUL byte") from None
        raise
    if tag is _EVERY_TAG:
        return model
    if tag is not None and model.format == "meta":
        # A .meta holds one MetaGraphDef: a tag would silently choose nothing.
        raise FormatError(model.file, f"is a MetaGraphDef, which has no tag sets (asked for tag {tag!r})",
                          hint="tags choose a graph inside a SavedModel")
    return model


def read_models(path) -> list[Model]:
    """Every graph at ``path``: one Model per MetaGraphDef of a SavedModel (whatever its tags), else one.

    For tools that must look at all of a SavedModel (``scan``): no tag is chosen.
    """
    model = read_model(path, tag=_EVERY_TAG)
    if model.format != "savedmodel":
        return [model]
    return [replace(model, meta_index=i, notes=list(model.notes)) for i in range(len(model.container.meta_graphs))]


_EVERY_TAG = object()  # read_models' tag: take the first MetaGraphDef, the caller walks the others


def _read(given: Path, tag: str | None, digest: bool = False) -> Model:
    if given.is_dir():
        return _read_directory(given, tag, digest)
    if not given.exists():
        meta = Path(str(given) + ".meta")
        if meta.is_file():
            return _read_meta(given, meta, digest)
        raise FormatError(given, "no such file or directory")
    name = given.name
    if name in SAVED_MODEL_FILES:
        return _read_saved_model(given, given, tag, digest)
    if name.endswith(".index") or _checkpoint.is_data_shard(name):
        prefix = _checkpoint.prefix_of_part(given)
        meta = Path(prefix + ".meta")
        if meta.is_file():
            return _read_meta(given, meta, digest)
        raise FormatError(given, "is a checkpoint file, not a graph",
                          hint=f"pass the graph ({meta.name} or a SavedModel) instead")
    expect = "meta" if name.endswith(".meta") else ("graphdef" if name.endswith((".pb", ".pbtxt")) else None)
    if expect is None and _checkpoint.looks_like_v1_checkpoint(given):
        meta = Path(str(given) + ".meta")
        if meta.is_file():
            return _read_meta(given, meta, digest)
        raise FormatError(given, "is a checkpoint (V1), not a graph", hint="pass its .meta file instead")
    if expect is None and _checkpoint.looks_like_index(given):
        raise FormatError(given, "is a checkpoint index, not a graph", hint="pass the .meta file instead")
    kind, message, encoding, sha1 = read_message_digest(given, expect, digest)
    if kind == "savedmodel":
        return _choose_tag(Model(given, kind, given, encoding, message, digest=sha1), tag)
    if kind == "meta":
        return Model(given, kind, given, encoding, message, checkpoint=_checkpoint.prefix_for_meta(given),
                     digest=sha1)
    if tag is not None and tag is not _EVERY_TAG:
        raise FormatError(given, f"is a GraphDef, which has no tags (asked for tag {tag!r})")
    return Model(given, kind, given, encoding, message, digest=sha1)


def _read_directory(directory: Path, tag: str | None, digest: bool = False) -> Model:
    for name in SAVED_MODEL_FILES:
        candidate = directory / name
        if candidate.is_file():
            return _read_saved_model(directory, candidate, tag, digest)
    prefix = _checkpoint.latest_prefix(directory)
    if prefix is not None:
        meta = Path(prefix + ".meta")
        if not meta.is_file():
            raise FormatError(directory, f"checkpoint {Path(prefix).name!r} has no graph ({meta.name} is missing)")
        return _read_meta(directory, meta, digest)
    metas = sorted(directory.glob("*.meta"))
    if len(metas) == 1:
        return _read_meta(directory, metas[0], digest)
    # A folder that holds one frozen graph (with labels or notes beside it)
    # means that graph; fingerprint.pb and keras_metadata.pb are not graphs.
    graphs = metas or sorted(p for p in directory.iterdir() if p.suffix in (".pb", ".pbtxt") and p.is_file()
                             and p.name not in ("fingerprint.pb", "keras_metadata.pb"))
    if len(graphs) == 1:
        return _read(graphs[0], tag, digest)
    if len(graphs) > 1:
        raise AmbiguousError(f"{directory}: holds several graphs ({', '.join(m.name for m in graphs)})",
                             hint="pass one of them")
    raise FormatError(directory, "is neither a SavedModel (no saved_model.pb) nor a checkpoint directory, "
                      "and holds no graph file (.meta, .pb, .pbtxt)")


def _read_meta(given: Path, meta: Path, digest: bool = False) -> Model:
    kind, message, encoding, sha1 = read_message_digest(meta, "meta", digest)
    if kind != "meta":
        raise FormatError(meta, f"expected a MetaGraphDef, found a {kind}")
    return Model(given, "meta", meta, encoding, message, checkpoint=_checkpoint.prefix_for_meta(meta),
                 digest=sha1)


def _read_saved_model(given: Path, file: Path, tag: str | None, digest: bool = False) -> Model:
    kind, message, encoding, sha1 = read_message_digest(file, "savedmodel", digest)
    if kind != "savedmodel":
        raise FormatError(file, f"expected a SavedModel, found a {kind}")
    model = Model(given, "savedmodel", file, encoding, message, digest=sha1)
    variables = file.parent / "variables" / "variables"
    if Path(str(variables) + ".index").is_file():
        model.checkpoint = str(variables)
    return _choose_tag(model, tag)


def _choose_tag(model: Model, tag: str | None) -> Model:
    tag_sets = model.tag_sets
    if not tag_sets:
        raise FormatError(model.file, "SavedModel holds no MetaGraphDef")
    if tag is _EVERY_TAG:
        model.meta_index = 0
        return model
    shown = ["+".join(t) or "(no tags)" for t in tag_sets]
    if tag is None:
        if len(tag_sets) == 1:
            model.meta_index = 0
            return model
        serve = [i for i, t in enumerate(tag_sets) if t == ["serve"]] or \
                [i for i, t in enumerate(tag_sets) if "serve" in t]
        if len(serve) == 1:
            model.meta_index = serve[0]
            return model
        raise AmbiguousError(f"{model.path}: SavedModel has several tag sets ({', '.join(shown)})",
                             hint="choose one with --tag")
    wanted = sorted(t for t in tag.replace("+", ",").split(",") if t)
    matches = [i for i, t in enumerate(tag_sets) if sorted(t) == wanted]
    if not matches:
        matches = [i for i, t in enumerate(tag_sets) if set(wanted) <= set(t)]
    if len(matches) == 1:
        model.meta_index = matches[0]
        return model
    if not matches:
        raise NotFoundError("tag set", tag, shown, where=str(model.path))
    raise AmbiguousError(f"{model.path}: tag {tag!r} matches several tag sets "
                         f"({', '.join(shown[i] for i in matches)})", hint="give the whole tag set, e.g. serve,gpu")


__all__ = ["Model", "read_model", "read_models", "protos"]
