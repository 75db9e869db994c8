"""Jobs that need TensorFlow to build or train a graph: a new head, a rebuilt training op.

Each job takes a Graph and returns ``(Graph, Changes)`` like every rewrite
(:mod:`graphsurgeon.surgery`), and never mutates its input. Their TF-free
halves are rewrites of their own (:func:`~graphsurgeon.surgery.prepare_rehead.prepare_rehead`,
:func:`~graphsurgeon.surgery.strip_training.strip_training`); the TensorFlow
half imports the prepared graph into a ``tf.Graph``, builds what is new,
restores the reused variables from the original checkpoint and exports the
result with one Saver. The new values go into a temporary checkpoint that
the result carries until ``Graph.save`` writes it beside the graph.

TensorFlow is imported on the first call of a job, never by importing this package.
"""
from __future__ import annotations

from .rehead import rehead
from .swap import swap

__all__ = ["rehead", "swap"]
