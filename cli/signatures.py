"""``graphsurgeon signatures``: list and edit the SignatureDefs of a SavedModel or a .meta.

``graphsurgeon signatures MODEL`` lists (same as ``signatures ls MODEL``);
``add``, ``rm``, ``rename`` and ``set-default`` edit and write to ``-o OUT``
or over MODEL with ``--in-place``, through the one writer.
"""
from __future__ import annotations

import click

from graphsurgeon.errors import UsageError
from graphsurgeon.ir.graph import format_shape
from graphsurgeon.metagraph import signatures as _sigs

from .common import (
    DefaultToLs,
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

TF2_NOTE = ("a TF2 SavedModel: TensorFlow Serving and the TF1 loader serve its SignatureDefs; tf.saved_model.load "
            "reads signatures from its object graph and does not see this edit")


def signature_json(sig: dict) -> dict:
    """One signature as ``g.signatures`` gives it, without the TensorInfo encoding."""
    def side(items):
        return {k: {"name": v["name"], "dtype": v["dtype"], "shape": v["shape"]} for k, v in items.items()}
    return {"method": sig["method"], "inputs": side(sig["inputs"]), "outputs": side(sig["outputs"])}


def print_signature(key: str, sig: dict, unresolved=()) -> None:
    default = "  [default]" if key == _sigs.DEFAULT_SIGNATURE else ""
    echo(f"{key}  ({sig['method']}){default}")
    for side, label in (("inputs", "in "), ("outputs", "out")):
        for k, t in sig[side].items():
            missing = "  NOT IN GRAPH" if t["name"] in unresolved else ""
            echo(f"  {label} {k}: {t['name']}  {t['dtype'] or '?'} {format_shape(t['shape'])}{missing}")


@click.group("signatures", cls=DefaultToLs)
def command():
    """List and edit signatures (MODEL alone lists them).

    \b
    graphsurgeon signatures MODEL                               name, method, inputs, outputs
    graphsurgeon signatures add MODEL NAME --input [KEY=]T --output [KEY=]T -o OUT
    graphsurgeon signatures rm MODEL NAME -o OUT
    graphsurgeon signatures rename MODEL OLD NEW -o OUT
    graphsurgeon signatures set-default MODEL NAME -o OUT       NAME becomes serving_default
    """


@command.command("ls")
@model_argument
@json_option
@handle_errors
def ls_command(model, tag, as_json):
    """Each signature: name, method, inputs and outputs with dtype and shape."""
    g = load(model, tag)
    sigs = g.signatures
    if as_json:
        echo_json({"model": model, "format": g.format,
                   "default": _sigs.DEFAULT_SIGNATURE if _sigs.DEFAULT_SIGNATURE in sigs else None,
                   "signatures": {k: dict(signature_json(s), unresolved=_sigs.unresolved(g, k))
                                  for k, s in sorted(sigs.items())}})
        return
    if g.meta_graph is None:
        echo(f"{model}: a plain GraphDef has no signatures (graphsurgeon export makes a SavedModel with one)")
        return
    if not sigs:
        echo("no signatures (graphsurgeon signatures add, or graphsurgeon export)")
        return
    for key, sig in sorted(sigs.items()):
        print_signature(key, sig, _sigs.unresolved(g, key))


def _edit(model, tag, output, in_place):
    check_output(model, output, in_place)
    text = str(output or "")
    if text.endswith((".pb", ".pbtxt")) and not text.endswith(("saved_model.pb", "saved_model.pbtxt")):
        raise UsageError(f"{output}: a GraphDef holds no signatures", hint="write a .meta file (or a directory)")
    g = load(model, tag)
    if g.meta_graph is None:
        if text.endswith(".meta"):
            return g.as_meta_graph(), "meta"
        raise UsageError(f"{model}: is a plain GraphDef, which has no signatures",
                         hint="graphsurgeon export makes a SavedModel with one; or write a .meta: -o OUT.meta")
    if g.format == "savedmodel" and text.endswith(".meta"):
        return g, "meta"
    return g, None


def _finish(g, fmt, output, in_place, as_json, action, key):
    notes: list[str] = []
    meta = g.meta_graph
    if g.format == "savedmodel" and meta.HasField("object_graph_def") and len(meta.object_graph_def.nodes):
        notes.append(TF2_NOTE)
    written = write_output(g, output, in_place, notes, format=fmt)
    sigs = g.signatures
    if as_json:
        echo_json({"output": str(written), "action": action,
                   "signature": signature_json(sigs[key]) if key in sigs else None,
                   "signatures": sorted(sigs), "notes": notes})
        return
    echo(f"{action}; wrote {written}")
    if key in sigs:
        print_signature(key, sigs[key])
    for note in notes:
        echo(f"note: {note}")


@command.command("add")
@model_argument
@click.argument("name")
@click.option("--input", "inputs", multiple=True, metavar="[KEY=]TENSOR", help="an input (repeatable)")
@click.option("--output", "sig_outputs", multiple=True, required=True, metavar="[KEY=]TENSOR",
              help="an output (repeatable)")
@click.option("--method", default=_sigs.PREDICT_METHOD, show_default=True, help="the method name")
@click.option("--replace", is_flag=True, help="replace a signature of that name")
@output_options("where to write (.meta file, or a SavedModel / checkpoint directory)", long_name=False)
@json_option
@handle_errors
def add_command(model, tag, name, inputs, sig_outputs, method, replace, output, in_place, force, as_json):
    """Add signature NAME: its inputs and outputs checked against the graph, dtypes and shapes from it."""
    g, fmt = _edit(model, tag, output, in_place)
    _sigs.add_signature(g, name, list(inputs), list(sig_outputs), method, replace=replace)
    _finish(g, fmt, output, in_place, as_json, f"signature {name!r}: added", name)


@command.command("rm")
@model_argument
@click.argument("name")
@output_options("where to write (.meta file, or a SavedModel / checkpoint directory)")
@json_option
@handle_errors
def rm_command(model, tag, name, output, in_place, force, as_json):
    """Remove signature NAME."""
    g, fmt = _edit(model, tag, output, in_place)
    _sigs.remove_signature(g, name)
    _finish(g, fmt, output, in_place, as_json, f"signature {name!r}: removed", name)


@command.command("rename")
@model_argument
@click.argument("old")
@click.argument("new")
@output_options("where to write (.meta file, or a SavedModel / checkpoint directory)")
@json_option
@handle_errors
def rename_command(model, tag, old, new, output, in_place, force, as_json):
    """Rename signature OLD to NEW."""
    g, fmt = _edit(model, tag, output, in_place)
    _sigs.rename_signature(g, old, new)
    _finish(g, fmt, output, in_place, as_json, f"signature {old!r}: renamed to {new!r}", new)


@command.command("set-default")
@model_argument
@click.argument("name")
@output_options("where to write (.meta file, or a SavedModel / checkpoint directory)")
@json_option
@handle_errors
def set_default_command(model, tag, name, output, in_place, force, as_json):
    """Make signature NAME the serving_default one (the old default takes the name NAME)."""
    g, fmt = _edit(model, tag, output, in_place)
    swapped = _sigs.set_default_signature(g, name)
    action = f"signature {name!r}: now {_sigs.DEFAULT_SIGNATURE!r}" + (
        f" (the old {_sigs.DEFAULT_SIGNATURE!r} is now {name!r})" if swapped else "")
    _finish(g, fmt, output, in_place, as_json, action, _sigs.DEFAULT_SIGNATURE)
