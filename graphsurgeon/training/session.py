"""What every TensorFlow job shares: import a prepared graph, restore values, export the result.

Everything runs in TF1 graph mode inside its own ``tf.Graph`` and
``Session``; no process-global switch is flipped. Restoring reads the
original checkpoint with graphsurgeon's own reader and loads each value into
its variable (no Saver ops are added to the graph), so the result has
exactly one Saver: the one :func:`export` makes last.
"""
from __future__ import annotations

from ..errors import RewriteError
from ..formats.checkpoint import TemporaryCheckpoint, open_checkpoint
from ..formats.slices import read_value
from ..ir.graph import Graph
from ..vocab import protos
from .tf import short, tf

CHECKPOINT_NAME = "model.ckpt"


def import_graph(g: Graph):
    """A fresh ``tf.Graph`` holding ``g``'s MetaGraphDef (its collections, without a Saver)."""
    t = tf()
    meta = protos.MetaGraphDef()
    meta.CopyFrom(g.meta_graph)
    meta.ClearField("saver_def")
    proto = t.compat.v1.MetaGraphDef()
    proto.ParseFromString(meta.SerializeToString())
    # import_meta_graph would add a default Saver (save/) over the variables when the
    # MetaGraphDef has none; the result is to have exactly one, made by export().
    from tensorflow.python.framework import meta_graph as _meta_graph

    graph = t.Graph()
    with graph.as_default():
        try:
            _meta_graph.import_scoped_meta_graph(proto, clear_devices=True)
        except Exception as exc:  # noqa: BLE001 - TensorFlow's many error types: one line for the user
            raise RewriteError(f"TensorFlow refuses the prepared graph: {short(exc)}") from None
    return graph


def use_resource(graph) -> bool:
    return any(op.type == "VarHandleOp" for op in graph.get_operations())


def restore(sess, graph, checkpoint: str | None, skip=(), entries=None) -> list[str]:
    """Initialise every global variable, then load those the checkpoint has with the same shape; their names.

    ``entries``: ``{variable: (checkpoint key, slice spec)}`` as the model's own saver restores them
    (:func:`graphsurgeon.metagraph.saver.saver_entries`: shadow variables of a moving average, the slices
    of a partitioned variable); a variable not in it is read from the key of its own name, or, a part of
    a partitioned variable, from its slice of the full name (its VariableDef's save_slice_info).
    """
    v1 = tf().compat.v1
    with graph.as_default():
        variables = v1.global_variables()
        sess.run(v1.variables_initializer(variables))
        if not checkpoint:
            return []
        restored = []
        with open_checkpoint(checkpoint) as reader:
            for var in variables:
                name = var.op.name
                info = var._get_save_slice_info()  # noqa: SLF001 - TensorFlow's own record of a partition
                key, spec = (entries or {}).get(name) or ((info.full_name, info.spec) if info else (name, ""))
                if name in skip or key not in reader:
                    continue
                value = read_value(reader, key, spec)
                if list(value.shape) != var.shape.as_list():
                    continue
                var.load(value, sess)
                restored.append(name)
    return sorted(restored)


def variable(graph, name: str):
    """The global variable of ``graph`` whose op is named ``name``."""
    v1 = tf().compat.v1
    with graph.as_default():
        for var in v1.global_variables():
            if var.op.name == name:
                return var
    raise RewriteError(f"no variable named {name!r} in the rebuilt graph")


def load_values(sess, graph, values: dict) -> None:
    """Load ``{variable name: value}`` into the graph's variables."""
    if not values:
        return
    v1 = tf().compat.v1
    with graph.as_default():
        by_name = {v.op.name: v for v in v1.global_variables()}
        for name, value in values.items():
            var = by_name.get(name)
            if var is None:
                raise RewriteError(f"no variable named {name!r} in the rebuilt graph")
            var.load(value, sess)


def variables_report(graph) -> tuple[list[str], list[str]]:
    """``(every global variable, the trainable ones)``, by op name."""
    v1 = tf().compat.v1
    with graph.as_default():
        return [v.op.name for v in v1.global_variables()], [v.op.name for v in v1.trainable_variables()]


def export(sess, graph) -> Graph:
    """The session's graph as a Graph with one Saver (``save/``), its values in a temporary checkpoint."""
    v1 = tf().compat.v1
    checkpoint = TemporaryCheckpoint(CHECKPOINT_NAME)
    with graph.as_default():
        saver = v1.train.Saver(save_relative_paths=True)
        saver.save(sess, checkpoint.prefix, write_meta_graph=False, write_state=False)
        exported = v1.train.export_meta_graph(graph=graph, saver_def=saver.as_saver_def(), clear_devices=True)
    meta = protos.MetaGraphDef()
    meta.ParseFromString(exported.SerializeToString())
    out = Graph(meta.graph_def, meta_graph=meta, checkpoint=None)
    out.attach_checkpoint(checkpoint)
    return out
