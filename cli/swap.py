"""``graphsurgeon swap``: swap activation ops, or transplant a layer from another model."""
from __future__ import annotations

import click

from graphsurgeon.errors import UsageError

from .common import (StatusLine, check_output, echo, echo_json, handle_errors, json_option, load, output_options,
                     write_output)


@click.command("swap")
@click.argument("model", type=click.Path())
@click.option("--op", "op_type", default=None, metavar="TYPE", help="op type to replace (Elu)")
@click.option("--to", "to", default=None, metavar="TYPE", help="new op type (Relu, LeakyRelu, ...)")
@click.option("--attr", "attrs", multiple=True, metavar="NAME=VALUE", help="attribute of the new type (alpha=0.2)")
@click.option("--scope", default=None, help="only ops under this name scope")
@click.option("--layer", default=None, metavar="SCOPE", help="transplant this layer's values ...")
@click.option("--from", "source", default=None, metavar="OTHER_MODEL[:SCOPE]", help="... from this model")
@click.option("--rebuild/--no-rebuild", default=True, show_default=True,
              help="when a gradient of a swapped op cannot be swapped with it (second order, custom), rebuild "
                   "the gradients and the training op in TensorFlow (--no-rebuild refuses instead)")
@click.option("--training-op", default=None, help="with a rebuild: the training op (default: found)")
@output_options("a .pb/.pbtxt/.meta file, or a directory for a checkpoint model")
@json_option
@handle_errors
def command(model, op_type, to, attrs, scope, layer, source, rebuild, training_op, output, force, in_place,
            as_json):
    """Swap op types in MODEL, or transplant a layer's values from another model.

    Ops are swapped at the top level and in every function body that holds
    them (a TF2 model's traced copies), with their gradients.

    \b
    Examples:
      graphsurgeon swap fixtures/models/mnist_bn_elu_frozen.pb --op Elu --to Relu -o build/relu.pb
      graphsurgeon swap fixtures/models/mnist_bn_elu_tf1 --op Elu --to LeakyRelu --attr alpha=0.2 -o build/leaky
      graphsurgeon swap MODEL --layer hidden2 --from OTHER_MODEL:hidden2 -o OUT/
    """
    from graphsurgeon.surgery.swap_ops import parse_attrs
    from graphsurgeon.surgery.transplant import transplant
    from graphsurgeon.training.swap import swap

    if layer or source:
        if not (layer and source) or op_type or to:
            raise UsageError("a transplant takes --layer SCOPE --from OTHER_MODEL[:SCOPE] (and no --op/--to)")
        path, sep, scope_name = source.rpartition(":")
        if not sep or "/" in scope_name and not path:
            path, scope_name = source, None
        check_output(model, output, in_place)
        result, changes = transplant(load(model, None), layer, load(path, None), source_scope=scope_name or None)
        written = write_output(result, output, in_place, changes.notes)
        report = {"model": str(model), "output": str(written), **changes.details}
        if as_json:
            echo_json(report)
            return
        echo(f"wrote {report['output']}: {report['layer']} now holds the values of "
             f"{report['source_layer']} from {report['source']} ({', '.join(report['replaced'])})")
        return
    if not (op_type and to):
        raise UsageError("give --op TYPE --to TYPE, or --layer SCOPE --from OTHER_MODEL[:SCOPE]")
    check_output(model, output, in_place)
    g = load(model, None)
    with StatusLine(enabled=not as_json) as status:
        status.set(f"swapping {op_type} for {to}")
        result, changes = swap(g, op_type, to, attrs=parse_attrs(attrs), scope=scope, rebuild=rebuild,
                               training_op=training_op)
    written = write_output(result, output, in_place, changes.notes)
    report = {"model": str(g.path), "output": str(written), "changed": changes.changed, **changes.details,
              "notes": changes.notes}
    if as_json:
        echo_json(report)
        return
    functions = report["functions"]
    total = len(report["changed"]) + sum(len(done["changed"]) for done in functions.values())
    echo(f"wrote {report['output']}: {total} {op_type} -> {to}"
         + (f" ({', '.join(report['changed'])})" if report["changed"] else "")
         + (f", in {len(functions)} function {'body' if len(functions) == 1 else 'bodies'}:" if functions else ""))
    for name, done in functions.items():
        echo(f"  {name}: {', '.join(done['changed']) or 'no activation'}"
             + (f"; gradients {', '.join(done['gradients'])}" if done["gradients"] else ""))
    for name, ops in report["left"].items():
        echo(f"  {name}: left as it was (outside --scope {scope}): {', '.join(ops)}")
    for note in report["notes"]:
        if note.startswith("keras_metadata.pb"):
            echo(f"note: {note}")
    if report["rebuilt"]:
        echo(f"rebuilt gradients and {report['training_op']} ({report['optimizer']}) in TensorFlow")
    elif report["gradients"]:
        echo(f"swapped their gradients too: {', '.join(report['gradients'])}")
