"""Run graphs in TensorFlow: a GraphDef as it is, a meta graph restored from its checkpoint, a SavedModel.

Every function takes and returns our protos or numpy arrays; TensorFlow's
objects never leak out. Graphs run in TF1 graph mode inside their own
``tf.Graph`` and ``Session`` (:func:`graphsurgeon.training.tf.session_config`:
no grappler, so a graph and its rewrite are compared as written).

Example:
    >>> import numpy as np
    >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_frozen.pb")
    >>> (logits,) = run_graph_def(g.graph_def, {"X:0": np.zeros((1, 784), np.float32)}, ["logits:0"])
"""
from __future__ import annotations

from pathlib import Path

from ..errors import RewriteError
from ..vocab.optypes import VARIABLE_TYPES
from .tf import RunError, session_config, short, tf


def _restore_prefix(prefix: str) -> str:
    """A sharded V1 checkpoint restores from its ``prefix-?????-of-0000n`` pattern."""
    p = Path(prefix)
    if Path(prefix + ".index").is_file() or p.is_file():
        return prefix
    shards = sorted(p.parent.glob(p.name + "-?????-of-?????"))
    return f"{prefix}-?????-of-{shards[0].name[-5:]}" if shards else prefix


def _tf_proto(message, tf_class):
    out = tf_class()
    out.ParseFromString(message.SerializeToString())
    return out


def _run(sess, feeds: dict, fetches: list[str]) -> list:
    graph = sess.graph
    try:
        feed_dict = {graph.get_tensor_by_name(k): v for k, v in feeds.items()}
        targets = [graph.get_tensor_by_name(f) for f in fetches]
    except (KeyError, ValueError) as exc:
        raise RunError(f"TensorFlow cannot find a tensor: {short(exc)}") from None
    try:
        return sess.run(targets, feed_dict)
    except Exception as exc:  # noqa: BLE001
        raise RunError(f"TensorFlow failed to run the graph: {short(exc)}") from None


def run_graph_def(graph_def, feeds: dict, fetches: list[str]) -> list:
    """Import a GraphDef (ours or TensorFlow's) under no prefix and run ``fetches``.

    Args:
        graph_def: a GraphDef proto.
        feeds: ``{"X:0": array}``.
        fetches: tensor names.

    Returns:
        One numpy array per fetch.
    """
    t = tf()
    proto = _tf_proto(graph_def, t.compat.v1.GraphDef)
    graph = t.Graph()
    with graph.as_default():
        try:
            t.compat.v1.import_graph_def(proto, name="")
        except Exception as exc:  # noqa: BLE001
            raise RunError(f"TensorFlow refuses the graph: {short(exc)}") from None
    with t.compat.v1.Session(graph=graph, config=session_config()) as sess:
        return _run(sess, feeds, fetches)


def run_checkpoint_model(meta_graph, checkpoint: str, feeds: dict, fetches: list[str]) -> list:
    """Import a MetaGraphDef, restore its variables from ``checkpoint``, run ``fetches``.

    The graph is imported with ``import_meta_graph`` and restored with its
    own saver (a fresh ``Saver`` when it has none), as a TF1 user would.
    """
    t = tf()
    proto = _tf_proto(meta_graph, t.compat.v1.MetaGraphDef)
    if not _version_ok(proto.meta_info_def.tensorflow_version):
        # TF 2.x refuses version strings such as '0.12.head' that packaging cannot parse.
        proto.meta_info_def.tensorflow_version = ""
    graph = t.Graph()
    with graph.as_default():
        try:
            saver = t.compat.v1.train.import_meta_graph(proto, clear_devices=True)
            if saver is None:
                saver = t.compat.v1.train.Saver()
        except Exception as exc:  # noqa: BLE001
            raise RunError(f"TensorFlow cannot import the meta graph: {short(exc)}") from None
    with t.compat.v1.Session(graph=graph, config=session_config()) as sess:
        try:
            saver.restore(sess, _restore_prefix(checkpoint))
        except Exception as exc:  # noqa: BLE001
            raise RunError(f"TensorFlow cannot restore {checkpoint}: {short(exc)}") from None
        return _run(sess, feeds, fetches)


def run_saved_model(export_dir, tags: list[str], feeds: dict, fetches: list[str]) -> list:
    """Load a SavedModel (TF1 or TF2) with the v1 loader and run ``fetches``."""
    t = tf()
    graph = t.Graph()
    with t.compat.v1.Session(graph=graph, config=session_config()) as sess:
        try:
            t.compat.v1.saved_model.loader.load(sess, list(tags), str(export_dir))
        except Exception as exc:  # noqa: BLE001
            raise RunError(f"TensorFlow cannot load SavedModel {export_dir}: {short(exc)}") from None
        return _run(sess, feeds, fetches)


def _version_ok(version: str) -> bool:
    if not version:
        return True
    try:
        from packaging import version as _v

        _v.parse(version)
        return True
    except Exception:  # noqa: BLE001
        return False


def run_model(g, feeds: dict, fetches: list[str]) -> list:
    """Run a loaded :class:`graphsurgeon.Graph` the way TensorFlow would run its files.

    A meta graph is restored from its checkpoint, a SavedModel loaded with
    its tags, a GraphDef (or a graph we built) imported as it is.
    """
    model = g.model
    if model is not None and model.format == "savedmodel":
        tags = list(model.meta_graph.meta_info_def.tags)
        return run_saved_model(model.file.parent, tags, feeds, fetches)
    if g.meta_graph is not None and getattr(model, "checkpoint", None):
        return run_checkpoint_model(g.meta_graph, model.checkpoint, feeds, fetches)
    if g.meta_graph is not None and _has_variables(g):
        raise RewriteError(f"{g.path or 'graph'}: has variables but no checkpoint to restore them from",
                           hint="give --checkpoint")
    return run_graph_def(g.graph_def, feeds, fetches)


def _has_variables(g) -> bool:
    return any(node.op in VARIABLE_TYPES for node in g.graph_def.node)
