"""``graphsurgeon freeze-layers``: freeze layers of a training graph and rebuild its training op."""
from __future__ import annotations

import click
from graphsurgeon.wording import plural

from .common import (StatusLine, check_output, echo, echo_json, handle_errors, json_option, load, output_options,
                     write_output)


@click.command("freeze-layers")
@click.argument("model", type=click.Path())
@click.argument("scopes", nargs=-1, required=True)
@output_options("where to write: a directory (model.ckpt.*) or X.meta (with X.index, X.data-*)")
@click.option("--training-op", default=None, help="the training op (default: from train_op / my_important_ops)")
@click.option("--loss", default=None, help="the loss tensor (default: found from the gradients)")
@json_option
@handle_errors
def command(model, scopes, output, force, in_place, training_op, loss, as_json):
    """Freeze SCOPE... of MODEL: their variables leave trainable_variables.

    The training op is rebuilt (same optimizer and hyper-parameters, same
    name) over the remaining trainable variables, so it no longer updates
    the frozen ones; frozen batch norms run in inference mode. A dense layer
    brings the batch norm of its block.

    \b
    Example:
      graphsurgeon freeze-layers fixtures/models/mnist_bn_elu_tf1 hidden1 hidden2 -o build/frozen12
    """
    from graphsurgeon.training.tf import require_tensorflow

    require_tensorflow()
    from graphsurgeon.training.freeze_layers import freeze_layers

    check_output(model, output, in_place)
    g = load(model, None)
    with StatusLine(enabled=not as_json) as status:
        status.set("rebuilding the training op in TensorFlow")
        result, changes = freeze_layers(g, list(scopes), training_op=training_op, loss=loss)
    written = write_output(result, output, in_place, changes.notes)
    report = {"model": str(g.path), "output": str(written), **changes.details, "notes": changes.notes}
    if as_json:
        echo_json(report)
        return
    echo(f"wrote {report['output']}: froze {', '.join(report['frozen'])}")
    echo(f"rebuilt {report['training_op']} ({report['optimizer']}, minimizing {report['loss']}) "
         f"over {plural(report['trainable_variables'], 'variable')}: {', '.join(report['trainable_variables'])}")
    for note in report.get("notes", []):
        echo(f"note: {note}")
