"""``graphsurgeon rehead``: cut a trained network and give it a new head for a new task."""
from __future__ import annotations

import click

from graphsurgeon.errors import UsageError
from graphsurgeon.wording import plural

from .common import (StatusLine, check_output, echo, echo_json, handle_errors, json_option, load, output_options,
                     write_output)


def parse_sizes(text: str | None) -> list[int]:
    if not text:
        return []
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--hidden {text!r}: expected sizes like 50 or 100,50") from None


@click.command("rehead")
@click.argument("model", type=click.Path())
@click.option("--at", "at", required=True, metavar="TENSOR_OR_LAYER",
              help="cut here: a tensor (Elu_1:0), an op, or a layer (hidden2 = its block's activated output)")
@click.option("--classes", type=int, required=True, help="units of the new output layer")
@click.option("--hidden", default=None, metavar="N[,N...]", help="new hidden layers before the output layer")
@click.option("--freeze", "freeze", multiple=True, metavar="all|none|SCOPE",
              help="reused layers to freeze (default all; a layer brings its batch norm); repeat or use commas")
@click.option("--lr", type=float, default=0.01, show_default=True, help="learning rate (GradientDescent)")
@click.option("--seed", type=int, default=42, show_default=True, help="random seed of the new head")
@click.option("--activation", default="elu", show_default=True, help="activation of new hidden layers")
@output_options("where to write: a directory (model.ckpt.*) or X.meta (with X.index, X.data-*)")
@json_option
@handle_errors
def command(model, at, classes, hidden, freeze, lr, seed, activation, output, force, in_place, as_json):
    """Re-head MODEL after TENSOR_OR_LAYER for a task with N classes.

    Keeps the reused part with the checkpoint's values (frozen batch norms
    run in inference mode), adds new dense layers (He init), logits, a new
    labels placeholder y (labels 0..N-1), loss, train/training_op over the
    trainable variables, eval/accuracy and my_important_ops = X, y,
    accuracy, training op. Nothing after the cut survives.

    \b
    Example:
      graphsurgeon rehead fixtures/models/mnist_bn_elu_0to4 --at hidden2 --classes 5 -o build/my5to9
    """
    from graphsurgeon.training.tf import require_tensorflow

    require_tensorflow()
    from graphsurgeon.training.rehead import rehead

    check_output(model, output, in_place)
    g = load(model, None)
    # rehead() reads repeated and comma-separated values itself.
    with StatusLine(enabled=not as_json) as status:
        status.set("building the new head in TensorFlow")
        result, changes = rehead(g, at, classes, hidden=parse_sizes(hidden), freeze=list(freeze) or "all", lr=lr,
                                 seed=seed, activation=activation)
    written = write_output(result, output, in_place, changes.notes)
    notes = list(changes.notes)
    inputs = changes.details.get("inputs") or []
    if len(inputs) != 1:
        # The chapter's code unpacks the collection four ways: say where that breaks (issue 22.10).
        notes.append(f"my_important_ops holds {len(inputs) + 3} items ({', '.join(inputs)}, y, accuracy, "
                     "training op): the chapter's `X, y, accuracy, training_op = "
                     "tf.get_collection(\"my_important_ops\")` needs 4; unpack "
                     f"`*inputs, y, accuracy, training_op = ...` instead")
    report = {"model": str(g.path), "output": str(written), **changes.details, "notes": notes}
    if as_json:
        echo_json(report)
        return
    echo(f"wrote {report['output']}: cut at {report['cut']}, {report['classes']} classes, "
         f"{plural(report['ops'], 'op')} ({report['removed_ops']:,} removed from the original)")
    echo(f"frozen: {', '.join(report['frozen']) or 'nothing'}")
    echo(f"new variables: {', '.join(report['new_variables'])}")
    echo(f"trainable: {', '.join(report['trainable_variables'])}")
    echo(f"restored from the original checkpoint: {plural(report['restored'], 'variable')}")
    for note in notes:
        echo(f"note: {note}")
