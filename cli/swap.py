"""``graphsurgeon swap``: swap activation ops, or transplant a layer from another model."""
from __future__ import annotations

import click

from graphsurgeon.errors import UsageError

from .common import echo_json, handle_errors, json_option


@click.command("swap")
@click.argument("model", type=click.Path())
@click.option("--op", "op_type", default=None, metavar="TYPE", help="op type to replace (Elu)")
@click.option("--to", "to", default=None, metavar="TYPE", help="new op type (Relu, LeakyRelu, ...)")
@click.option("--attr", "attrs", multiple=True, metavar="NAME=VALUE", help="attribute of the new type (alpha=0.2)")
@click.option("--scope", default=None, help="only ops under this name scope")
@click.option("--layer", default=None, metavar="SCOPE", help="transplant this layer's values ...")
@click.option("--from", "source", default=None, metavar="OTHER_MODEL[:SCOPE]", help="... from this model")
@click.option("--rebuild/--no-rebuild", default=True, show_default=True,
              help="rebuild gradients and the training op when the graph has gradients of the swapped ops "
                   "(--no-rebuild refuses instead)")
@click.option("-o", "--output", "out", required=True, type=click.Path(),
              help="a .pb/.pbtxt/.meta file, or a directory for a checkpoint model")
@click.option("--force", is_flag=True, help="replace an existing output")
@json_option
@handle_errors
def command(model, op_type, to, attrs, scope, layer, source, rebuild, out, force, as_json):
    """Swap op types in MODEL, or transplant a layer's values from another model.

    \b
    Examples:
      graphsurgeon swap frozen.pb --op Elu --to Relu -o relu.pb
      graphsurgeon swap fixtures/models/mnist_bn_elu_tf1 --op Elu --to LeakyRelu --attr alpha=0.2 -o leaky/
      graphsurgeon swap MODEL --layer hidden2 --from OTHER_MODEL:hidden2 -o OUT/
    """
    from graphsurgeon.surgery.swap import parse_attrs, swap, transplant

    if layer or source:
        if not (layer and source) or op_type or to:
            raise UsageError("a transplant takes --layer SCOPE --from OTHER_MODEL[:SCOPE] (and no --op/--to)")
        path, sep, scope_name = source.rpartition(":")
        if not sep or "/" in scope_name and not path:
            path, scope_name = source, None
        report = transplant(model, layer, path, out, source_scope=scope_name or None, force=force)
        if as_json:
            echo_json(report)
            return
        click.echo(f"wrote {report['output']}: {report['layer']} now holds the values of "
                   f"{report['source_layer']} from {report['source']} ({', '.join(report['replaced'])})")
        return
    if not (op_type and to):
        raise UsageError("give --op TYPE --to TYPE, or --layer SCOPE --from OTHER_MODEL[:SCOPE]")
    report = swap(model, op_type, to, out, attrs=parse_attrs(attrs), scope=scope, rebuild=rebuild, force=force)
    if as_json:
        echo_json(report)
        return
    click.echo(f"wrote {report['output']}: {len(report['changed'])} {op_type} -> {to} ({', '.join(report['changed'])})")
    if report["rebuilt"]:
        click.echo(f"rebuilt gradients and {report['training_op']} ({report['optimizer']})")
