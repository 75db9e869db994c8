"""Which models a list of paths holds, each once.

A path that is a model (a SavedModel folder, a ``.meta``, a ``.pb`` or
``.pbtxt``, a checkpoint prefix or folder with its meta graph, a ``.keras``
archive, a Keras ``.h5``/``.hdf5`` file, a ``.zip`` or ``.tar`` archive,
compressed or not) is that model. Any other folder is walked, without
following symbolic links to folders, and yields every SavedModel folder
(not walked into: its files are part of it), ``.meta``, ``.pb``/``.pbtxt``
(not ``fingerprint.pb`` or ``keras_metadata.pb``, which belong to a
SavedModel), ``.keras``, ``.h5``/``.hdf5`` and archive under it.
Checkpoint files without a meta graph hold no graph and are not models.
Nothing is opened here: only names and file kinds are looked at.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..formats import SAVED_MODEL_FILES
from .archives import is_archive

GRAPH_SUFFIXES = (".meta", ".pb", ".pbtxt")
NOT_GRAPHS = ("fingerprint.pb", "keras_metadata.pb")


@dataclass(frozen=True)
class Target:
    """One model to scan: ``path``, ``kind`` (``graph``, ``keras``, ``h5``, ``archive``), or a ``problem`` found."""

    path: str
    kind: str
    problem: str | None = None


def _is_saved_model(directory: Path) -> bool:
    return any((directory / name).is_file() for name in SAVED_MODEL_FILES)


def _kind_of_file(path: Path) -> str | None:
    if path.suffix == ".keras":
        return "keras"
    if path.suffix.lower() in (".h5", ".hdf5"):
        return "h5"
    if is_archive(path.name):
        return "archive"
    if path.suffix in GRAPH_SUFFIXES and path.name not in NOT_GRAPHS:
        return "graph"
    return None


def discover(paths) -> list[Target]:
    """Targets for ``paths`` in order, each model once (by its real path)."""
    out: list[Target] = []
    seen: set[str] = set()

    def add(target: Target) -> None:
        key = os.path.realpath(target.path) + "\0" + target.kind
        if key not in seen:
            seen.add(key)
            out.append(target)

    for given in paths:
        path = Path(given)
        if path.is_dir():
            if _is_saved_model(path):
                add(Target(str(path), "graph"))
            else:
                found = list(_walk(path))
                if not found:
                    # A checkpoint folder holds a graph without a graph suffix on its name (or is a problem).
                    add(Target(str(path), "graph"))
                for target in found:
                    add(target)
        elif path.is_file() and path.name in SAVED_MODEL_FILES:
            add(Target(str(path.parent), "graph"))
        elif path.is_file() or path.is_symlink():
            add(Target(str(path), _kind_of_file(path) or "graph"))
        elif Path(str(path) + ".meta").is_file():
            add(Target(str(path), "graph"))  # a checkpoint prefix
        else:
            add(Target(str(path), "graph", problem="no such file or directory"))
    return out


def _walk(root: Path):
    """SavedModel folders and graph, ``.keras`` files under ``root``, in sorted order, iteratively."""
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            yield Target(str(directory), "graph", problem=f"cannot list: {exc.strerror or exc}")
            continue
        subdirs = []
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    subdirs.append(Path(entry.path))
                    continue
                if not entry.is_file():
                    continue
            except OSError:
                continue
            kind = _kind_of_file(Path(entry.path))
            if kind:
                yield Target(entry.path, kind)
        walk = []
        for sub in subdirs:
            if _is_saved_model(sub):
                yield Target(str(sub), "graph")
            else:
                walk.append(sub)
        stack.extend(reversed(walk))
