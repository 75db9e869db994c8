"""``graphsurgeon fold-bn``: fold inference-mode batch norm into the preceding layer's weights."""
from __future__ import annotations

import click

from graphsurgeon.wording import plural

from .common import (check_output, echo, echo_json, handle_errors, json_option, load, model_argument,
                     output_options, write_output)
from .freeze import check_verify, report_verification, split_names, verified


@click.command("fold-bn")
@model_argument
@click.option("--verify", is_flag=True, help="run the input and the result in TensorFlow and compare")
@click.option("--outputs", "outputs", multiple=True,
              help="tensors to keep (and with --verify, to compare); a MODEL with variables is frozen to them "
                   "first (default: the graph's final outputs)")
@click.option("--tolerance", type=float, default=1e-4, show_default=True,
              help="with --verify: largest absolute difference allowed")
@json_option
@output_options("GraphDef to write (.pb or .pbtxt)")
@handle_errors
def command(model, tag, output, verify, outputs, tolerance, as_json, force, in_place):
    """Fold batch norm (inference mode) of MODEL into MatMul/Conv2D weights and biases.

    MODEL is a frozen graph; one with variables (a checkpoint, a SavedModel)
    is frozen first when --outputs names what to keep.
    """
    check_verify(verify, tolerance)
    from graphsurgeon.surgery.fold_bn import fold_batch_norms

    check_output(model, output, in_place)
    g = load(model, tag)
    result, changes = fold_batch_norms(g, split_names(outputs) or None)
    sinks = changes.details.get("outputs") or split_names(outputs) or [
        t.name for op in result for t in op.outputs if not t.consumers and op.type != "Const"]
    comparison = verified(g, result, sinks, tolerance, output, as_json) if verify else None
    path = write_output(result, output, in_place, changes.notes)
    size = path.stat().st_size
    if as_json:
        echo_json({"written": str(path), "bytes": size, "ops": len(result), "notes": changes.notes,
                   "verify": comparison.as_dict() if comparison else None})
        return
    echo(f"folded   {g.path} -> {path} ({plural(result, 'op')}, {plural(size, 'byte')}; "
         f"{plural(g, 'op')} before)")
    for note in changes.notes:
        echo(f"  {note}")
    if comparison:
        report_verification(comparison)
