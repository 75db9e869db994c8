"""``graphsurgeon prune``: keep only what some outputs need, optionally cut at inputs."""
from __future__ import annotations

import click

from graphsurgeon.wording import plural

from .common import (
    check_output,
    echo,
    echo_json,
    handle_errors,
    json_option,
    load,
    model_argument,
    output_options,
    write_output,
)


def split_names(values) -> list[str]:
    """``("a:0,b:0", "c")`` -> ``["a:0", "b:0", "c"]`` (TensorFlow names never hold commas)."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@click.command("prune")
@model_argument
@click.option("--outputs", "outputs", multiple=True, required=True, metavar="T",
              help="tensor (logits:0) or op (train/training_op) to keep; repeat or separate by commas")
@click.option("--inputs", "inputs", multiple=True, metavar="T",
              help="tensor to cut at: it becomes a new Placeholder of its dtype and shape")
@output_options()
@click.option("--keep-initializers/--no-keep-initializers", default=True, show_default=True,
              help="keep what loading needs besides the outputs: the kept variables' initializers, a SavedModel's "
                   "main op, a saver over the kept variables (--no-keep-initializers: what extract_sub_graph keeps)")
@json_option
@handle_errors
def command(model, tag, outputs, inputs, output, force, in_place, keep_initializers, as_json):
    """Keep only what the outputs need (data, control and colocation edges).

    \b
    Examples:
      graphsurgeon prune model.ckpt.meta --outputs logits:0 -o inference.meta
      graphsurgeon prune frozen.pb --outputs logits:0 --inputs hidden1/Elu:0 -o head.pb
    """
    from graphsurgeon.surgery.prune import prune

    check_output(model, output, in_place)
    g = load(model, tag)
    pruned, changes = prune(g, split_names(outputs), split_names(inputs) or None,
                            keep_initializers=keep_initializers)
    written = write_output(pruned, output, in_place, changes.notes)
    if as_json:
        echo_json({"model": str(model), "output": str(written), "ops": {"before": len(g), "after": len(pruned)},
                   **changes.as_dict()})
        return
    from graphsurgeon.analysis.diff import summarize
    from graphsurgeon.ir.graph import format_shape
    from graphsurgeon.vocab.optypes import REQUIRED_PLACEHOLDER_TYPES

    echo(f"wrote {written}: {plural(pruned, 'op')} (was {len(g):,}); {changes}")
    if changes.removed:
        echo(f"removed {plural(changes.removed, 'op')}: {summarize(changes.removed)}")
    for name in changes.added + changes.changed:
        if pruned.op(name).type not in REQUIRED_PLACEHOLDER_TYPES:
            continue  # a rebuilt saver's ops: its note says so
        tensor = pruned.op(name).output(0)
        echo(f"placeholder {name}: {tensor.dtype} {format_shape(tensor.shape)}")
    for old, new in changes.renamed.items():
        echo(f"renamed {old} -> {new}")
    for line in changes.dropped:
        echo(f"dropped {line}")
    for line in changes.notes:
        if not line.startswith("cut at "):
            echo(f"note: {line}")
