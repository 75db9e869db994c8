"""graphsurgeon: look inside TensorFlow graphs and operate on them.

Reading (load, list, look up) never imports TensorFlow.

    >>> import graphsurgeon as gs
    >>> g = gs.load("fixtures/models/mnist_bn_elu_tf1/model.ckpt.meta")
    >>> g.op("hidden1/MatMul").type
    'MatMul'
"""
from __future__ import annotations

from .errors import (
    AmbiguousError,
    FormatError,
    GraphSurgeonError,
    NotFoundError,
    OutputError,
    RewriteError,
    UsageError,
)
from .ir.graph import Graph, Op, Tensor

__version__ = "0.1.0"


def load(path, tag: str | None = None, *, shape_cache: bool = False) -> Graph:
    """Load a graph from whatever TensorFlow wrote at ``path``.

    Args:
        path: a ``.meta`` file, a checkpoint prefix or directory, a SavedModel
            directory, or a GraphDef (``.pb`` / ``.pbtxt``, binary or text).
        tag: SavedModel tag (or ``serve,gpu`` tag set); default ``serve`` or
            the only one.
        shape_cache: read the shapes from (and keep them in) the on-disk cache
            of this file's content, until the graph is first edited (see
            :mod:`graphsurgeon.analysis.shape_cache`); the command line does.
            Leave it off if you will change the protos directly.

    Raises:
        FormatError, NotFoundError, AmbiguousError: see their docs.
    """
    from .formats import read_model

    model = read_model(path, tag, digest=shape_cache)
    g = Graph(model.graph_def, meta_graph=model.meta_graph, model=model)
    if shape_cache and model.digest:
        from .analysis import shape_cache as _shape_cache

        g.cache_shapes(_shape_cache.model_key(model.digest, model.meta_index))
    return g


def diff(a: Graph, b: Graph, ignore_attrs=()):
    """What differs between two graphs; a GraphDiff, false when equal (see :func:`graphsurgeon.analysis.diff.diff`)."""
    from .analysis.diff import diff as _diff  # diff pulls in attrs decoding: loaded when asked

    return _diff(a, b, ignore_attrs)


def to_tensorboard(g, logdir, run: str | None = None, *, meta_graph: bool = True):
    """Write ``g`` to an event file for TensorBoard's Graphs dashboard (no TensorFlow needed).

    ``run`` puts it under ``logdir/run``, so a rewrite's input and output can
    be compared as two runs. See :func:`graphsurgeon.formats.tensorboard.to_tensorboard`.
    """
    # Imported on call: importing graphsurgeon stays light.
    from .formats.tensorboard import to_tensorboard as _to_tensorboard

    return _to_tensorboard(g, logdir, run, meta_graph=meta_graph)


def render(g, **options):
    """Draw ``g`` as a ``graphviz.Digraph``, collapsed by name scope (see :func:`graphsurgeon.rendering.render`).

    The network by default; ``training=True`` adds gradients, optimizer,
    saver and initialisers.

    Example:
        >>> svg = graphsurgeon.render(g).pipe("svg")
    """
    # Imported on call: importing graphsurgeon stays light.
    from .rendering import render as _render

    return _render(g, **options)


# Rewrites and jobs load on first use: ``import graphsurgeon`` stays cheap for reading.
# Every one takes a Graph and returns (Graph, Changes); diff is a query; ``rewrite``
# makes a function that edits a graph one of them.
_LAZY = {
    "prune": ("surgery.prune", "prune"),
    "freeze": ("surgery.freeze", "freeze"),
    "fold_batch_norms": ("surgery.fold_bn", "fold_batch_norms"),
    "swap_ops": ("surgery.swap_ops", "swap_ops"),
    "transplant": ("surgery.transplant", "transplant"),
    "strip_training": ("surgery.strip_training", "strip_training"),
    "pin_inference": ("surgery.pin_inference", "pin_inference"),
    "export": ("surgery.export", "export"),
    "clear_devices": ("surgery.clear_devices", "clear_devices"),
    "set_input_shape": ("surgery.input_shape", "set_input_shape"),
    "set_batch": ("surgery.input_shape", "set_batch"),
    "rename": ("surgery.rename", "rename"),
    "fold_constants": ("surgery.fold_constants", "fold_constants"),
    "rewrite": ("surgery.rewrite", "rewrite"),
    "rehead": ("training.rehead", "rehead"),
    "freeze_layers": ("surgery.freeze_layers", "freeze_layers"),
    "swap": ("training.swap", "swap"),
    "Changes": ("ir.changes", "Changes"),
}


# Modules users reach through the package: gs.protos.NodeDef for add_op(node_def).
_MODULES = {"protos": "vocab.protos"}


def __getattr__(name: str):
    if name in _MODULES:
        import importlib

        return importlib.import_module(f".{_MODULES[name]}", __name__)
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["load", "diff", "to_tensorboard", "render", "Graph", "Op", "Tensor", "GraphSurgeonError", "FormatError",
           "NotFoundError", "UsageError", "AmbiguousError", "RewriteError", "OutputError", "__version__",
           *_LAZY, *_MODULES]
