"""``graphsurgeon freeze``: bake a checkpoint into a GraphDef that computes the outputs."""
from __future__ import annotations

import click

from graphsurgeon.wording import plural

from .common import check_output, echo, echo_json, handle_errors, json_option, load, model_argument, output_options, \
    write_output
from .verification import check_verify, report_verification, verified, verify_options


def split_names(values) -> list[str]:
    """``--outputs a:0,b:0 --outputs c:0`` -> ``["a:0", "b:0", "c:0"]``."""
    out = []
    for value in values or ():
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


@click.command("freeze")
@model_argument
@click.option("--checkpoint", help="checkpoint prefix (default: the one beside the graph)")
@click.option("--outputs", "outputs", multiple=True,
              help="output tensors (repeatable or comma-separated; default: the signature's outputs)")
@click.option("--set", "set_values", multiple=True, metavar="NAME=VALUE",
              help="pin a placeholder to a value (e.g. training=false); repeatable")
@click.option("--signature", help="SignatureDef giving the outputs (default serving_default)")
@verify_options(default_tolerance=1e-5)
@json_option
@output_options("frozen GraphDef to write (.pb or .pbtxt)")
@handle_errors
def command(model, tag, checkpoint, outputs, output, set_values, signature, verify, given, tolerance, rtol, as_json,
            force, in_place):
    """Freeze MODEL: variables become constants, training machinery and dead branches go.

    Only the variables the outputs need are read from the checkpoint. With
    --verify, nothing is written unless the frozen graph's outputs equal the
    original's (restored from its checkpoint) within --tolerance, on the
    --input values given and made-up values for the other inputs.
    """
    check_verify(verify, tolerance, rtol)
    from graphsurgeon.surgery.freeze import freeze, parse_set_values

    check_output(model, output, in_place)
    g = load(model, tag)
    pinned = parse_set_values(g, set_values)
    result, changes = freeze(g, checkpoint=checkpoint, outputs=split_names(outputs) or None,
                             set_values=pinned, signature=signature)
    out_names = changes.details["outputs"]
    comparison = verified(g, result, out_names, tolerance, output, as_json, fixed=pinned, given=given,
                          rtol=rtol) if verify else None
    path = write_output(result, output, in_place, changes.notes)
    size = path.stat().st_size
    if as_json:
        echo_json({"written": str(path), "bytes": size, "ops": len(result), "outputs": out_names,
                   "initializer": changes.details["initializer"],
                   "removed": len(changes.removed), "frozen": changes.changed, "notes": changes.notes,
                   "verify": comparison.as_dict() if comparison else None})
        return
    echo(f"froze    {g.path} -> {path} ({plural(result, 'op')}, {plural(size, 'byte')}; "
         f"{plural(g, 'op')} before)")
    echo(f"outputs  {', '.join(out_names)}")
    for note in changes.notes:
        echo(f"  {note}")
    if comparison:
        report_verification(comparison)
