"""Transplant a layer's trained values from another model (TensorFlow-free).

The graph is unchanged; its checkpoint is rewritten with the layer's
variables taking the donor's values, copied byte for byte from the donor's
checkpoint (every other tensor byte for byte from the model's own). Before
anything is copied, the layers' input and output tensors and each variable
must have the same shapes in both models; a mismatch is refused naming both
shapes.

Example:
    >>> mixed, changes = transplant(graphsurgeon.load("model_a/"), "hidden2", graphsurgeon.load("model_b/"))
    >>> mixed.save("mixed/")   # model.ckpt.meta, model.ckpt.index, model.ckpt.data-..., checkpoint
"""
from __future__ import annotations

from ..analysis.layers import layer, layers
from ..errors import RewriteError, UsageError
from ..formats.bundle import BundleReader
from ..formats.bundle_writer import BundleWriter
from ..formats.checkpoint import TemporaryCheckpoint, open_checkpoint
from ..ir.changes import Changes
from ..ir.graph import Graph, format_shape
from ..metagraph.saver import checkpoint_keys
from .rewrite import rewrite

__all__ = ["transplant"]


def _compatible(a, b) -> bool:
    if a is None or b is None:
        return True  # unknown rank: TensorFlow decides at run time
    if len(a) != len(b):
        return False
    return all(x is None or y is None or x == y for x, y in zip(a, b))


def _boundary_shapes(graph: Graph, tensors) -> list[tuple[str, tuple | None]]:
    return [(t, graph.tensor(t).shape) for t in tensors if graph.tensor(t).dtype != "bool"]


@rewrite(requires=("top_level",), reports=True)
def transplant(g: Graph, scope: str, source: Graph, *, source_scope: str | None = None) -> tuple[Graph, Changes]:
    """Copy layer ``source_scope`` (default ``scope``) of ``source`` into layer ``scope`` of ``g``.

    Returns:
        ``(copy of g with a new checkpoint, Changes)``: ``changed`` lists the
        variables that took the donor's values; the new values live in a
        temporary checkpoint that ``save`` writes to the output.

    Raises:
        UsageError: a model has no checkpoint.
        RewriteError: the layers' input/output tensors or variables differ in
            shape (both shapes are named), or a variable has no counterpart.
    """
    for graph in (g, source):
        if not graph.checkpoint:
            raise UsageError(f"{graph.where}: a transplant needs the model's checkpoint",
                             hint="give the checkpoint directory or prefix")
    source_scope = (source_scope or scope).rstrip("/")
    target = layer(g, scope, layers(g))
    donor = layer(source, source_scope, layers(source))
    label = f"{donor.name!r} of {source.where} into {target.name!r} of {g.where}"
    for side in ("inputs", "outputs"):
        mine, theirs = _boundary_shapes(g, getattr(target, side)), _boundary_shapes(source, getattr(donor, side))
        if len(mine) != len(theirs):
            raise RewriteError(f"cannot transplant {label}: {len(theirs)} {side} vs {len(mine)}")
        for (t_name, t_shape), (s_name, s_shape) in zip(mine, theirs):
            if not _compatible(t_shape, s_shape):
                raise RewriteError(f"cannot transplant {label}: {side[:-1]} shape {format_shape(s_shape)} "
                                   f"({s_name}) does not match {format_shape(t_shape)} ({t_name})")
    donor_vars = {v.name[len(donor.name) + 1:]: v for v in donor.variables}
    my_keys, donor_keys = checkpoint_keys(g), checkpoint_keys(source)
    replace: dict[str, str] = {}  # checkpoint key in g's checkpoint -> key in the donor's
    for var in target.variables:
        rel = var.name[len(target.name) + 1:]
        other = donor_vars.get(rel)
        if other is None:
            raise RewriteError(f"cannot transplant {label}: {donor.name}/{rel} does not exist",
                               hint="the layers hold " + ", ".join(sorted(donor_vars)))
        if tuple(other.shape or ()) != tuple(var.shape or ()) or other.dtype != var.dtype:
            raise RewriteError(f"cannot transplant {label}: variable {rel} is {other.dtype} "
                               f"{format_shape(other.shape)} vs {var.dtype} {format_shape(var.shape)}")
        replace[my_keys.get(var.name, var.name)] = donor_keys.get(other.name, other.name)
    out = g  # the copy gs.rewrite gives
    new = TemporaryCheckpoint()
    with open_checkpoint(g.checkpoint) as mine, open_checkpoint(source.checkpoint) as theirs:
        for reader, graph in ((mine, g), (theirs, source)):
            if not isinstance(reader, BundleReader):
                raise UsageError(f"{graph.checkpoint}: a V1 checkpoint; a transplant copies V2 checkpoints",
                                 hint="re-save it in TensorFlow (tf.compat.v1.train.Saver writes V2)")
        for key, donor_key in replace.items():
            if key not in mine:
                raise RewriteError(f"{g.checkpoint}: holds no value for {key!r}")
            if donor_key not in theirs:
                raise RewriteError(f"{source.checkpoint}: holds no value for {donor_key!r}")
            if mine.shape(key) != theirs.shape(donor_key) or mine.dtype(key) != theirs.dtype(donor_key):
                raise RewriteError(f"cannot transplant {label}: checkpoint value {donor_key!r} is "
                                   f"{theirs.dtype(donor_key)} {list(theirs.shape(donor_key))}, {key!r} is "
                                   f"{mine.dtype(key)} {list(mine.shape(key))}")
        with BundleWriter(new.prefix) as writer:
            for key in mine.keys():
                reader, name = (theirs, replace[key]) if key in replace else (mine, key)
                entry = reader.entry(name)
                # Byte for byte, so the source's checksum holds (a string tensor's is not
                # the plain CRC of its bytes).
                writer.add_entry(key, entry, reader.stored_bytes(name), crc=entry.crc32c)
    out.attach_checkpoint(new)
    changes = Changes(changed=[var.name for var in target.variables])
    changes.notes.append(f"{target.name} now holds the values of {donor.name} from {source.where}")
    changes.details.update(layer=target.name, source_layer=donor.name, source=str(source.path or source.where),
                           replaced=sorted(replace))
    return changes
