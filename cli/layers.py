"""``graphsurgeon layers``: the name scopes that own variables, in data-flow order."""
from __future__ import annotations

import click

from .common import echo, echo_json, handle_errors, json_option, load, model_argument, table


def _shape(shape) -> str:
    from graphsurgeon.ir.graph import format_shape

    return format_shape(shape)


@click.command("layers")
@model_argument
@click.option("-v", "--variables", "show_variables", is_flag=True, help="list each layer's variables too")
@json_option
@handle_errors
def command(model, tag, show_variables, as_json):
    """List the layers of MODEL: scopes owning variables, their tensors and sizes.

    A root activation (the chapter's Elu, Elu_1) is attached to the layer it
    follows; OUTPUT is the activated tensor. `rehead --at LAYER` cuts after
    the block starting at LAYER (dense -> batch norm -> activation).

    \b
    Examples:
      graphsurgeon layers fixtures/models/mnist_bn_elu_tf1
      graphsurgeon layers model.ckpt.meta -v --json
    """
    from graphsurgeon.analysis.layers import block

    g = load(model, tag)
    found = g.layers()
    if as_json:
        echo_json({"model": str(model), "layers": [
            {**item.as_dict(), "block": block(g, item.name, found)} for item in found]})
        return
    if not found:
        echo("no layers (no name scope owns a variable)")
        return
    rows = []
    for item in found:
        trainable = sum(1 for v in item.variables if v.trainable)
        rows.append([item.name, item.kind, f"{item.params:,}", f"{trainable}/{len(item.variables)}", item.ops,
                     ", ".join(item.inputs) or "-", item.output or ", ".join(item.outputs) or "-"])
    table(rows, ["LAYER", "KIND", "PARAMS", "TRAINABLE", "OPS", "INPUTS", "OUTPUT"])
    if show_variables:
        echo("")
        table([[v.name, v.dtype or "?", _shape(v.shape), f"{v.params:,}" if v.params is not None else "?",
                {True: "yes", False: "no", None: "?"}[v.trainable]]
               for item in found for v in item.variables],
              ["VARIABLE", "DTYPE", "SHAPE", "PARAMS", "TRAINABLE"])
