"""``graphsurgeon edit``: rename ops, set input shapes, clear devices -- deployment edits, TensorFlow-free."""
from __future__ import annotations

import click

from graphsurgeon.errors import UsageError
from graphsurgeon.ir.changes import Changes
from graphsurgeon.ir.graph import format_shape

from .common import (
    check_output,
    clear_devices_requested,
    echo,
    echo_json,
    handle_errors,
    json_option,
    load,
    model_argument,
    output_options,
    write_output,
)

TF2_NOTE = ("a TF2 SavedModel: the edit is in its top-level graph and SignatureDefs, what TensorFlow Serving and "
            "the TF1 loader run; the functions tf.saved_model.load calls are left as they are")


def _pairs(values, what: str) -> dict[str, str]:
    out = {}
    for value in values:
        old, sep, new = value.partition("=")
        if not sep or not old.strip():
            raise UsageError(f"--{what} {value!r}: expected OLD=NEW" if what == "rename" else
                             f"--{what} {value!r}: expected TENSOR=DIMS (e.g. X:0=-1,784)")
        out[old.strip()] = new.strip()
    return out


@click.command("edit")
@model_argument
@click.option("--rename", "renames", multiple=True, metavar="OLD=NEW",
              help="rename an op (its tensors follow); OLD/=NEW/ renames a scope; repeatable")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="TENSOR=DIMS",
              help="give a placeholder a shape, e.g. X:0=-1,784 (-1 or ? unknown); repeatable")
@click.option("--batch", type=int, metavar="N", help="set the batch (first) dimension of the inputs (-1: dynamic)")
@output_options("where to write (.meta, .pb, .pbtxt, or a directory)")
@json_option
@handle_errors
def command(model, tag, renames, input_shapes, batch, output, force, in_place, as_json):
    """Edit MODEL for deployment: rename ops, set input shapes or the batch, clear devices.

    Renames keep every reference true (inputs, control inputs, colocations,
    collections, signatures, the saver). A new input shape is carried
    downstream by graphsurgeon's own shape inference; an op that cannot take
    it (a Reshape with a hard-coded batch) is named and nothing is written.

    \b
    Examples:
      graphsurgeon edit model.ckpt.meta --batch 1 -o batch1.meta
      graphsurgeon edit served/1 --rename X=images --rename probabilities=scores -o renamed
      graphsurgeon edit gpu_model.meta --clear-devices -o cpu_model.meta
    """
    from graphsurgeon.surgery.input_shape import set_batch, set_input_shape
    from graphsurgeon.surgery.rename import rename

    if batch is not None and input_shapes:
        raise UsageError("give --batch or --input-shape, not both")
    if not (renames or input_shapes or batch is not None or clear_devices_requested()):
        raise UsageError("nothing to edit", hint="--rename OLD=NEW, --input-shape TENSOR=DIMS, --batch N or "
                                                 "--clear-devices")
    mapping = _pairs(renames, "rename")
    shapes = _pairs(input_shapes, "input-shape")
    check_output(model, output, in_place)
    g = load(model, tag)
    result, changes = g, Changes()
    if mapping:
        result, done = rename(result, mapping)
        changes.extend(done)
    if shapes:
        result, done = set_input_shape(result, shapes)
        changes.extend(done)
    elif batch is not None:
        result, done = set_batch(result, batch)
        changes.extend(done)
    notes = list(changes.notes)
    meta = g.meta_graph
    if (mapping or shapes or batch is not None) and meta is not None and meta.HasField("object_graph_def") \
            and len(meta.object_graph_def.nodes):
        notes.append(TF2_NOTE)
    written = write_output(result, output, in_place, notes)
    d = changes.details
    if as_json:
        echo_json({"model": str(model), "output": str(written), "renamed": changes.renamed,
                   "inputs": d.get("inputs", {}), "outputs": d.get("outputs", {}),
                   "clear_devices": clear_devices_requested(), "notes": notes})
        return
    echo(f"wrote {written}")
    if changes.renamed:
        shown = list(changes.renamed.items())
        echo(f"renamed  {len(shown)} op{'s' if len(shown) != 1 else ''}: "
             + ", ".join(f"{a} -> {b}" for a, b in shown[:6]) + (", ..." if len(shown) > 6 else ""))
    for name, change in d.get("inputs", {}).items():
        echo(f"input    {name}: {format_shape(change['before'])} -> {format_shape(change['after'])}")
    for name, change in d.get("outputs", {}).items():
        echo(f"output   {name}: {format_shape(change['before'])} -> {format_shape(change['after'])}")
    for note in notes:
        echo(f"note: {note}")
