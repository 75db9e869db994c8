"""graphsurgeon: look inside TensorFlow graphs and operate on them.

Reading (load, list, look up) never imports TensorFlow.

    >>> import graphsurgeon as gs
    >>> g = gs.load("fixtures/models/mnist_bn_elu_tf1/model.ckpt.meta")
    >>> g.op("hidden1/MatMul").type
    'MatMul'
"""
from __future__ import annotations

from .errors import (AmbiguousError, FormatError, GraphSurgeonError, NotFoundError, OutputError,
                     RewriteError, UsageError)
from .graph import Graph, Op, Tensor

__version__ = "0.1.0"


def load(path, tag: str | None = None) -> Graph:
    """Load a graph from whatever TensorFlow wrote at ``path``.

    Args:
        path: a ``.meta`` file, a checkpoint prefix or directory, a SavedModel
            directory, or a GraphDef (``.pb`` / ``.pbtxt``, binary or text).
        tag: SavedModel tag (or ``serve,gpu`` tag set); default ``serve`` or
            the only one.

    Raises:
        FormatError, NotFoundError, AmbiguousError: see their docs.
    """
    from .formats import read_model

    model = read_model(path, tag)
    return Graph(model.graph_def, meta_graph=model.meta_graph, model=model)


def prune(g: Graph, outputs, inputs=None, keep_initializers: bool = True):
    """Keep only what ``outputs`` need; returns ``(Graph, Changes)``.

    See :func:`graphsurgeon.surgery.prune.prune`.
    """
    from .surgery.prune import prune as _prune

    return _prune(g, outputs, inputs, keep_initializers=keep_initializers)


def diff(a: Graph, b: Graph, ignore_attrs=()):
    """What differs between two graphs; a GraphDiff, false when equal.

    See :func:`graphsurgeon.surgery.diff.diff`.
    """
    from .surgery.diff import diff as _diff

    return _diff(a, b, ignore_attrs)


def rehead(model, at: str, classes: int, out_dir, **options) -> dict:
    """Re-head a trained model after ``at`` for ``classes`` classes (uses TensorFlow).

    See :func:`graphsurgeon.surgery.rehead.rehead`.
    """
    from .surgery.rehead import rehead as _rehead

    return _rehead(model, at, classes, out_dir, **options)


def freeze_layers(model, scopes, out_dir, **options) -> dict:
    """Freeze layers of a training model and rebuild its training op (uses TensorFlow).

    See :func:`graphsurgeon.surgery.freeze_layers.freeze_layers`.
    """
    from .surgery.freeze_layers import freeze_layers as _freeze_layers

    return _freeze_layers(model, scopes, out_dir, **options)


def swap(model, op_type: str, to: str, out, **options) -> dict:
    """Swap activation ops (``Elu`` -> ``Relu``); see :func:`graphsurgeon.surgery.swap.swap`."""
    from .surgery.swap import swap as _swap

    return _swap(model, op_type, to, out, **options)


def to_tensorboard(g, logdir, run: str | None = None, *, meta_graph: bool = True):
    """Write ``g`` to an event file for TensorBoard's Graphs dashboard (no TensorFlow needed).

    ``run`` puts it under ``logdir/run``, so a rewrite's input and output can
    be compared as two runs. See :func:`graphsurgeon.tensorboard.to_tensorboard`.
    """
    # Imported on call: importing graphsurgeon stays light.
    from .tensorboard import to_tensorboard as _to_tensorboard

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


def __getattr__(name: str):
    # Rewrites load lazily: ``import graphsurgeon`` stays cheap for reading.
    if name == "freeze":
        from .surgery.freeze import freeze

        return freeze
    if name == "fold_batch_norms":
        from .surgery.fold_bn import fold_batch_norms

        return fold_batch_norms
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["load", "prune", "diff", "rehead", "freeze_layers", "swap", "to_tensorboard", "render", "Graph", "Op", "Tensor", "GraphSurgeonError", "FormatError", "NotFoundError",
           "UsageError", "AmbiguousError", "RewriteError", "OutputError", "__version__"]
