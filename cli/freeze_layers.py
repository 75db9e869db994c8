"""``graphsurgeon freeze-layers``: stop the training op from changing layers or variables."""
from __future__ import annotations

import click
from graphsurgeon.wording import plural

from .common import check_output, echo, echo_json, handle_errors, json_option, load, output_options, write_output


@click.command("freeze-layers")
@click.argument("model", type=click.Path())
@click.argument("names", nargs=-1, required=True)
@output_options("where to write: a directory (model.ckpt.*) or X.meta (with X.index, X.data-*)")
@click.option("--training-op", default=None,
              help="the training op (default: the train_op collection, else the op grouping the variable updates)")
@json_option
@handle_errors
def command(model, names, output, force, in_place, training_op, as_json):
    """Freeze NAME... of MODEL: layers, variables or patterns of either.

    The training op no longer updates the frozen variables (nor their
    optimizer slots), whatever its optimizer; they leave
    trainable_variables; batch norms whose layer is frozen run in inference
    mode. A layer brings the batch norm of its block. Nothing is rebuilt:
    the training op keeps its name, the global step still counts, and the
    checkpoint is the original one.

    \b
    Examples:
      graphsurgeon freeze-layers fixtures/models/mnist_bn_elu_tf1 hidden1 hidden2 -o build/frozen12
      graphsurgeon freeze-layers MODEL W1 b1 -o OUT/            # root-level variables
      graphsurgeon freeze-layers MODEL 'conv*' -o OUT/           # a pattern of layers
    """
    from graphsurgeon.surgery.freeze_layers import freeze_layers

    check_output(model, output, in_place)
    g = load(model, None)
    result, changes = freeze_layers(g, list(names), training_op=training_op)
    written = write_output(result, output, in_place, changes.notes)
    report = {"model": str(g.path), "output": str(written), **changes.details, "notes": changes.notes}
    if as_json:
        echo_json(report)
        return
    frozen = report["frozen"] or report["frozen_variables"]
    echo(f"wrote {report['output']}: froze {', '.join(frozen)}")
    echo(f"{report['training_op']} no longer updates {plural(report['frozen_variables'], 'variable')} "
         f"({plural(report['stopped'], 'update op')} removed); it still trains "
         f"{plural(report['trainable_variables'], 'variable')}: {', '.join(report['trainable_variables'])}")
    if report["global_step"]:
        echo(f"it still increments {report['global_step']}")
    for note in report.get("notes", []):
        echo(f"note: {note}")
