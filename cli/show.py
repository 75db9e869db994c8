"""``graphsurgeon show``: one op or tensor in full."""
from __future__ import annotations

import click

from graphsurgeon.analysis import report
from graphsurgeon.errors import GraphSurgeonError, NotFoundError
from graphsurgeon.ir.graph import format_shape
from graphsurgeon.vocab import attrs as _attrs
from graphsurgeon.vocab import names
from graphsurgeon.wording import plural

from .common import echo, echo_json, handle_errors, json_option, load, model_argument


@click.command("show")
@model_argument
@click.argument("name")
@click.option("--function", "function", help="look inside this function body")
@json_option
@handle_errors
def command(model, tag, name, function, as_json):
    """Show an op (inputs, outputs, attributes) or a tensor (dtype, shape, producer, consumers)."""
    g = load(model, tag)
    graph = g.function(function) if function else g
    try:
        item = graph.get(name)
    except NotFoundError as exc:
        holders = [fn for fn in report.functions_with(g, name) if fn != function]
        if not holders:
            raise
        # A Keras or tf.function model keeps its ops in function bodies: say which, as ls does.
        more = f" (and {plural(len(holders) - 1, 'other function')})" if len(holders) > 1 else ""
        raise GraphSurgeonError(exc.message, hint=f"it is in function {holders[0]}{more}: add --function "
                                                  f"{holders[0]}") from None
    data = report.tensor_details(item) if names.is_tensor_name(name) else report.op_details(item)
    if as_json:
        echo_json(data)
    elif data["kind"] == "tensor":
        echo(f"tensor   {data['name']}")
        echo(f"dtype    {data['dtype'] or '?'}")
        echo(f"shape    {format_shape(data['shape'])}")
        echo(f"producer {data['producer']['name']} ({data['producer']['type']})")
        echo("consumers" + ("" if data["consumers"] else "  (none)"))
        for c in data["consumers"]:
            echo(f"  {c['name']} ({c['type']})")
    else:
        _print_op(data)


def _print_op(d):
    echo(f"op       {d['name']}")
    echo(f"type     {d['type']}" + ("" if d["known_op"] else "  (not a TensorFlow op we know)"))
    if d["device"]:
        echo(f"device   {d['device']}")
    if d["function"]:
        echo(f"function {d['function']}")
    echo("inputs" + ("" if d["inputs"] else "   (none)"))
    for i in d["inputs"]:
        what = "missing!" if i.get("missing") else f"{i['dtype'] or '?'} {format_shape(i['shape'])}  from {i['producer_type']}"
        echo(f"  {i['position']}: {i['tensor']}  {what}")
    echo("outputs" + ("" if d["outputs"] else "  (none)"))
    for o in d["outputs"]:
        consumers = ", ".join(o["consumers"]) if o["consumers"] else "(unused)"
        echo(f"  {o['name']}  {o['dtype'] or '?'} {format_shape(o['shape'])}  -> {consumers}")
    if d["control_inputs"]:
        echo("control inputs")
        for c in d["control_inputs"]:
            echo(f"  ^{c}")
    if d["control_outputs"]:
        echo("control outputs")
        for c in d["control_outputs"]:
            echo(f"  {c}")
    if d["calls"]:
        echo("calls")
        for c in d["calls"]:
            echo(f"  {c['function']}  ({c['attr']})")
    if d["attrs"]:
        echo("attrs")
        width = max(len(k) for k in d["attrs"])
        for k, v in d["attrs"].items():
            echo(f"  {k.ljust(width)}  {_attrs.short(v)}")
