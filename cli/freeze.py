"""``graphsurgeon freeze``: bake a checkpoint into a GraphDef that computes the outputs."""
from __future__ import annotations

import click

from graphsurgeon.errors import OutputError, UsageError
from graphsurgeon.wording import plural

from .common import (StatusLine, check_output, echo, echo_json, handle_errors, json_option, load, model_argument,
                     output_options, write_output)


def split_names(values) -> list[str]:
    """``--outputs a:0,b:0 --outputs c:0`` -> ``["a:0", "b:0", "c:0"]``."""
    out = []
    for value in values or ():
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def check_verify(verify: bool, tolerance: float) -> None:
    """Before any work: ``--verify`` needs TensorFlow, and ``--tolerance`` is not negative."""
    if verify:
        from graphsurgeon.training.tf import require_tensorflow

        require_tensorflow()
    if tolerance < 0:
        raise UsageError("--tolerance must be >= 0")


def verification_failed(comparison, path, tolerance: float) -> OutputError:
    """The error for a result whose outputs differ from the original's beyond ``tolerance``."""
    worst = max(comparison.outputs, key=comparison.outputs.get)
    return OutputError(f"verification failed: {worst} differs by {comparison.outputs[worst]:.3g} "
                       f"(tolerance {tolerance:g}); {path} not written")


def verify_progress(status):
    """The ``progress`` callback of graphsurgeon.training.verify.verify: the inputs as a note on stderr
    ("verifying on ..."), the slow steps on the status line."""
    def progress(kind: str, text: str) -> None:
        status.progress(kind, f"verifying on {text}" if kind == "inputs" else text)

    return progress


def verified(original, result, outputs, tolerance: float, output, as_json: bool, fixed=None, run_result=None):
    """Run ``original`` and ``result`` in TensorFlow and compare (``--verify``); the Comparison.

    Raises the error that stops the command (nothing written) when they differ
    beyond ``tolerance``, after printing what was found (JSON with ``--json``).
    """
    from graphsurgeon.training.verify import verify

    with StatusLine(enabled=not as_json) as status:
        comparison = verify(original, result, outputs, tolerance, fixed=fixed, progress=verify_progress(status),
                            run_result=run_result)
    if not comparison.ok:
        if as_json:
            echo_json({"written": None, "verify": comparison.as_dict()})
        else:
            report_verification(comparison)
        raise verification_failed(comparison, output, tolerance)
    return comparison


def report_verification(comparison) -> None:
    echo(f"verify   on {comparison.source}, tolerance {comparison.tolerance:g}")
    for name, diff in comparison.outputs.items():
        acc = comparison.accuracy(name)
        extra = f"  accuracy {acc:.4f}" if acc is not None else ""
        mark = "ok" if diff <= comparison.tolerance else "FAIL"
        echo(f"  {name}  max |diff| {diff:.3g}  {mark}{extra}")


@click.command("freeze")
@model_argument
@click.option("--checkpoint", help="checkpoint prefix (default: the one beside the graph)")
@click.option("--outputs", "outputs", multiple=True,
              help="output tensors (repeatable or comma-separated; default: the signature's outputs)")
@click.option("--set", "set_values", multiple=True, metavar="NAME=VALUE",
              help="pin a placeholder to a value (e.g. training=false); repeatable")
@click.option("--signature", help="SignatureDef giving the outputs (default serving_default)")
@click.option("--verify", is_flag=True, help="run the original and the result in TensorFlow and compare")
@click.option("--tolerance", type=float, default=1e-5, show_default=True,
              help="with --verify: largest absolute difference allowed")
@json_option
@output_options("frozen GraphDef to write (.pb or .pbtxt)")
@handle_errors
def command(model, tag, checkpoint, outputs, output, set_values, signature, verify, tolerance, as_json, force,
            in_place):
    """Freeze MODEL: variables become constants, training machinery and dead branches go.

    Only the variables the outputs need are read from the checkpoint. With
    --verify, nothing is written unless the frozen graph's outputs equal the
    original's (restored from its checkpoint) within --tolerance.
    """
    check_verify(verify, tolerance)
    from graphsurgeon.surgery.freeze import freeze, parse_set_values

    check_output(model, output, in_place)
    g = load(model, tag)
    pinned = parse_set_values(g, set_values)
    result, changes = freeze(g, checkpoint=checkpoint, outputs=split_names(outputs) or None,
                             set_values=pinned, signature=signature)
    out_names = changes.details["outputs"]
    comparison = verified(g, result, out_names, tolerance, output, as_json, fixed=pinned) if verify else None
    path = write_output(result, output, in_place, changes.notes)
    size = path.stat().st_size
    if as_json:
        echo_json({"written": str(path), "bytes": size, "ops": len(result), "outputs": out_names,
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
