"""``graphsurgeon freeze-layers``: freeze layers of a training graph and rebuild its training op."""
from __future__ import annotations

import click
from graphsurgeon.wording import plural

from .common import echo_json, handle_errors, json_option


@click.command("freeze-layers")
@click.argument("model", type=click.Path())
@click.argument("scopes", nargs=-1, required=True)
@click.option("-o", "--output", "out", required=True, type=click.Path(), help="output directory (model.ckpt)")
@click.option("--training-op", default=None, help="the training op (default: from train_op / my_important_ops)")
@click.option("--loss", default=None, help="the loss tensor (default: found from the gradients)")
@click.option("--force", is_flag=True, help="replace an existing output directory")
@json_option
@handle_errors
def command(model, scopes, out, training_op, loss, force, as_json):
    """Freeze SCOPE... of MODEL: their variables leave trainable_variables.

    The training op is rebuilt (same optimizer and hyper-parameters, same
    name) over the remaining trainable variables, so it no longer updates
    the frozen ones; frozen batch norms run in inference mode. A dense layer
    brings the batch norm of its block.

    \b
    Example:
      graphsurgeon freeze-layers fixtures/models/mnist_bn_elu_tf1 hidden1 hidden2 -o frozen12/
    """
    from graphsurgeon.surgery.freeze_layers import freeze_layers

    report = freeze_layers(model, list(scopes), out, training_op=training_op, loss=loss, force=force)
    if as_json:
        echo_json(report)
        return
    click.echo(f"wrote {report['output']}: froze {', '.join(report['frozen'])}")
    click.echo(f"rebuilt {report['training_op']} ({report['optimizer']}, minimizing {report['loss']}) "
               f"over {plural(report['trainable_variables'], 'variable')}: {', '.join(report['trainable_variables'])}")
    for note in report.get("notes", []):
        click.echo(f"note: {note}")
