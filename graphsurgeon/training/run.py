"""Run graphs in TensorFlow: each the way TensorFlow loads its files.

- a SavedModel with TensorFlow's SavedModel loader (``tf.compat.v1.saved_model.loader.load``,
  what ``saved_model_cli run`` and TensorFlow Serving's session bundle use: its
  init op, tables and assets included), from its own directory when the
  Graph is still what the directory holds, else from a temporary copy
  written by :meth:`graphsurgeon.Graph.save`;
- a meta graph with ``import_meta_graph`` and its own Saver's restore from
  the graph's checkpoint (a fresh ``Saver`` when it has none), then its
  ``table_initializer`` collection, as a TF1 user does;
- a GraphDef with ``import_graph_def`` under no prefix.

Every graph runs in its own ``tf.Graph`` and ``Session``. ``as_written=True``
(what ``compare`` and ``--verify`` use) turns grappler and constant folding
off (:func:`graphsurgeon.training.tf.session_config`), so that a graph and
its rewrite are compared as written; ``as_written=False`` (what ``run``
uses) is TensorFlow's default session, as ``saved_model_cli run`` has.
Functions take and return our protos or numpy arrays; TensorFlow's objects
never leak out.

Example:
    >>> import numpy as np
    >>> g = graphsurgeon.load("fixtures/models/mnist_bn_elu_frozen.pb")
    >>> with open_model(g) as model:
    ...     (logits,) = model.run({"X:0": np.zeros((1, 784), np.float32)}, ["logits:0"])
"""
from __future__ import annotations

import tempfile
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


def _version_ok(version: str) -> bool:
    if not version:
        return True
    try:
        from packaging import version as _v

        _v.parse(version)
        return True
    except Exception:  # noqa: BLE001
        return False


def _has_variables(graph_def) -> bool:
    return any(node.op in VARIABLE_TYPES for node in graph_def.node)


class LoadedModel:
    """A model loaded in TensorFlow: its ``tf.Graph`` and ``Session``. Close it (or use ``with``).

    Attributes:
        how: what loaded it, for messages (``"SavedModel loader"``,
            ``"import_meta_graph + restore"``, ``"import_graph_def"``).
    """

    def __init__(self, graph, session, how: str, keep=None):
        self._graph = graph
        self._session = session
        self.how = how
        self._keep = keep  # a temporary directory the loaded files live in

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._keep is not None:
            self._keep.cleanup()
            self._keep = None

    def tensor_names(self) -> set[str]:
        """Every tensor of the loaded graph's top level."""
        return {t.name for op in self._graph.get_operations() for t in op.outputs}

    def run(self, feeds: dict, fetches: list[str]) -> list:
        """``fetches`` (tensor names) computed from ``feeds`` (``{tensor name: array}``), as numpy arrays.

        Raises:
            RunError: a name TensorFlow does not find, or TensorFlow's error
                while running (its whole message, on one line).
        """
        graph = self._graph
        try:
            feed_dict = {graph.get_tensor_by_name(k): v for k, v in feeds.items()}
            targets = [graph.get_tensor_by_name(f) for f in fetches]
        except (KeyError, ValueError) as exc:
            raise RunError(f"TensorFlow cannot find a tensor: {short(exc)}") from None
        try:
            return self._session.run(targets, feed_dict)
        except Exception as exc:  # noqa: BLE001 - TensorFlow's many error types: one line for the user
            raise RunError(f"TensorFlow failed to run the graph: {short(exc)}") from None

    def run_each(self, feeds: dict, fetches: list[str]) -> tuple[dict, dict]:
        """Fetch what can be fetched: ``({name: array}, {name: TensorFlow's reason})``.

        One run for all when it succeeds; otherwise halves are tried until
        each fetch that fails alone is set apart (a tensor of an untaken
        ``cond`` branch has no value, for instance).
        """
        values, failed = {}, {}
        pending = [list(fetches)]
        while pending:
            group = pending.pop()
            try:
                values.update(zip(group, self.run(feeds, group)))
            except RunError as exc:
                if len(group) == 1:
                    failed[group[0]] = exc.message
                else:
                    middle = len(group) // 2
                    pending.extend([group[middle:], group[:middle]])
        return values, failed


class CallableModel(LoadedModel):
    """A model run by a caller's function ``run(feeds, fetches) -> arrays`` instead of a session of ours."""

    def __init__(self, run, how: str = "the caller's runner"):
        super().__init__(None, None, how)
        self._run = run

    def run(self, feeds: dict, fetches: list[str]) -> list:
        return self._run(feeds, fetches)


def open_model(g, *, as_written: bool = True) -> LoadedModel:
    """Load Graph ``g`` in TensorFlow as TensorFlow loads its files (module documentation).

    Raises:
        RunError: TensorFlow refuses the graph, its checkpoint or its SavedModel (its whole message).
        RewriteError: the graph has variables and no checkpoint to restore them from.
    """
    from ..formats.writer import unchanged_on_disk

    t = tf()
    config = session_config() if as_written else None
    model = g.root.model
    if model is not None and model.format == "savedmodel":
        keep = None
        if unchanged_on_disk(g):
            directory = model.file.parent
        else:  # edited, or built in memory: TensorFlow loads what Graph.save writes
            keep = tempfile.TemporaryDirectory(prefix="graphsurgeon-run-")
            directory = g.save(Path(keep.name) / "model", format="savedmodel")
        tags = list(model.meta_graph.meta_info_def.tags)
        graph = t.Graph()
        sess = t.compat.v1.Session(graph=graph, config=config)
        try:
            with graph.as_default():
                t.compat.v1.saved_model.loader.load(sess, tags, str(directory))
        except Exception as exc:  # noqa: BLE001
            sess.close()
            if keep is not None:
                keep.cleanup()
            raise RunError(f"TensorFlow cannot load SavedModel {g.where}: {short(exc)}") from None
        return LoadedModel(graph, sess, "SavedModel loader", keep)
    if g.root.meta_graph is not None and (g.checkpoint or not _has_variables(g.graph_def)):
        return _open_meta_graph(g, t, config)
    if g.root.meta_graph is not None:
        raise RewriteError(f"{g.where}: has variables but no checkpoint to restore them from",
                           hint="put the checkpoint beside the .meta")
    if _has_variables(g.graph_def):
        raise RewriteError(f"{g.where}: a GraphDef with variables cannot run: their values are in no file",
                           hint="freeze it, or give the .meta and its checkpoint")
    proto = _tf_proto(g.graph_def, t.compat.v1.GraphDef)
    graph = t.Graph()
    with graph.as_default():
        try:
            t.compat.v1.import_graph_def(proto, name="")
        except Exception as exc:  # noqa: BLE001
            raise RunError(f"TensorFlow refuses the graph {g.where}: {short(exc)}") from None
    return LoadedModel(graph, t.compat.v1.Session(graph=graph, config=config), "import_graph_def")


def _open_meta_graph(g, t, config) -> LoadedModel:
    proto = _tf_proto(g.root.meta_graph, t.compat.v1.MetaGraphDef)
    if not _version_ok(proto.meta_info_def.tensorflow_version):
        # TF 2.x refuses version strings such as '0.12.head' that packaging cannot parse.
        proto.meta_info_def.tensorflow_version = ""
    graph = t.Graph()
    with graph.as_default():
        try:
            saver = t.compat.v1.train.import_meta_graph(proto, clear_devices=True)
            if saver is None and g.checkpoint and t.compat.v1.global_variables():
                saver = t.compat.v1.train.Saver()
        except Exception as exc:  # noqa: BLE001
            raise RunError(f"TensorFlow cannot import the meta graph {g.where}: {short(exc)}") from None
        tables = t.compat.v1.get_collection(t.compat.v1.GraphKeys.TABLE_INITIALIZERS)
    sess = t.compat.v1.Session(graph=graph, config=config)
    try:
        with graph.as_default():  # Saver.restore outside its graph would act eagerly
            if saver is not None:
                saver.restore(sess, _restore_prefix(g.checkpoint))
            if tables:
                sess.run(tables)
    except Exception as exc:  # noqa: BLE001
        sess.close()
        raise RunError(f"TensorFlow cannot restore {g.checkpoint}: {short(exc)}") from None
    return LoadedModel(graph, sess, "import_meta_graph + restore")


def run_model(g, feeds: dict, fetches: list[str], *, as_written: bool = True) -> list:
    """Load ``g`` (:func:`open_model`), run ``fetches`` from ``feeds`` once, close it; one array per fetch."""
    with open_model(g, as_written=as_written) as model:
        return model.run(feeds, fetches)


def run_graph_def(graph_def, feeds: dict, fetches: list[str]) -> list:
    """Import a GraphDef proto (ours or TensorFlow's) under no prefix and run ``fetches``."""
    from ..ir.graph import Graph

    return run_model(Graph(graph_def), feeds, fetches)
