"""``graphsurgeon fold-bn``: fold inference-mode batch norm into the preceding layer's weights."""
from __future__ import annotations

import click

from graphsurgeon.wording import plural

from .common import (check_output, echo, echo_json, handle_errors, json_option, load, model_argument,
                     output_options, write_output)
from .freeze import split_names
from .verification import check_verify, report_verification, verified, verify_options


@click.command("fold-bn")
@model_argument
@click.option("--outputs", "outputs", multiple=True,
              help="tensors to keep (and with --verify, to compare); a MODEL with variables is frozen to them "
                   "first (default: the graph's final outputs)")
@verify_options(default_tolerance=1e-4)
@json_option
@output_options("GraphDef to write (.pb or .pbtxt)")
@handle_errors
def command(model, tag, output, verify, given, outputs, tolerance, rtol, as_json, force, in_place):
    """Fold batch norm (inference mode) of MODEL into MatMul/Conv2D/depthwise weights and biases.

    MODEL is a frozen graph; one with variables (a checkpoint, a SavedModel)
    is frozen first when --outputs names what to keep. Each batch norm left
    is named with the reason (training mode, no preceding linear op, a
    layer output read elsewhere, non-constant parameters); when none folds,
    the output says "nothing folded" (exit 0: nothing went wrong).
    """
    check_verify(verify, tolerance, rtol)
    from graphsurgeon.surgery.fold_bn import fold_batch_norms

    check_output(model, output, in_place)
    g = load(model, tag)
    result, changes = fold_batch_norms(g, split_names(outputs) or None)
    sinks = changes.details.get("outputs") or split_names(outputs) or [
        t.name for op in result for t in op.outputs if not t.consumers and op.type != "Const"]
    comparison = verified(g, result, sinks, tolerance, output, as_json, given=given, rtol=rtol) if verify else None
    path = write_output(result, output, in_place, changes.notes)
    size = path.stat().st_size
    folded, left = changes.details["folded"], changes.details["left"]
    if as_json:
        echo_json({"written": str(path), "bytes": size, "ops": len(result), "folded": folded, "left": left,
                   "notes": changes.notes, "verify": comparison.as_dict() if comparison else None})
        return
    if folded:
        echo(f"folded   {plural(folded, 'batch norm')}: {g.path} -> {path} ({plural(result, 'op')}, "
             f"{plural(size, 'byte')}; {plural(g, 'op')} before)")
    else:
        echo(f"nothing folded: {plural(left, 'batch norm')} left as they were" if left else
             f"nothing folded: no batch norm in {g.path}")
        echo(f"wrote    {path} ({plural(result, 'op')}, {plural(size, 'byte')})")
    for note in changes.notes:
        if not note.startswith("nothing folded"):
            echo(f"  {note}")
    if comparison:
        report_verification(comparison)
