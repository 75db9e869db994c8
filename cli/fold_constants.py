"""``graphsurgeon fold-constants``: ops whose value constants decide become Const ops (TensorFlow-free)."""
from __future__ import annotations

import click

from graphsurgeon.errors import UsageError
from graphsurgeon.wording import plural

from .common import (check_output, echo, echo_json, handle_errors, json_option, load, model_argument,
                     output_options, write_output)
from .freeze import split_names
from .verification import check_verify, report_verification, verified, verify_options


def default_outputs(g) -> list[str]:
    """What --verify compares without --outputs: serving_default's outputs (as for freeze), else the
    likely outputs that need no integer input (a model's results, not its loss or accuracy against labels)."""
    from graphsurgeon.metagraph.signatures import DEFAULT_SIGNATURE, signature_outputs

    if DEFAULT_SIGNATURE in g.signatures:
        return signature_outputs(g)
    from graphsurgeon.analysis.endpoints import likely_outputs
    from graphsurgeon.vocab.optypes import PLACEHOLDER_TYPES

    def needs_labels(tensor) -> bool:
        return any(g.node_defs[n].op in PLACEHOLDER_TYPES
                   and (g.output_dtypes(n) or [""])[0].startswith(("int", "uint"))
                   for n in g.ancestors([tensor.op_name]) if n in g.node_defs)

    return [t.name for t in likely_outputs(g) if not needs_labels(t)]


def written_runner(result, directory):
    """``run(feeds, fetches)`` running ``result`` as TensorFlow loads it once written (in ``directory``):
    a SavedModel with its loader, a meta graph restored from its checkpoint, a GraphDef imported."""
    from pathlib import Path

    import graphsurgeon
    from graphsurgeon.training.run import run_model

    path = Path(directory) / ("model.pb" if result.meta_graph is None else "model")
    written = graphsurgeon.load(result.save(path))
    return lambda feeds, fetches: run_model(written, feeds, fetches)


@click.command("fold-constants")
@model_argument
@click.option("--no-functions", is_flag=True, help="leave function bodies alone (fold the top level only)")
@verify_options()
@click.option("--outputs", "outputs", multiple=True,
              help="with --verify: tensors to compare (default: serving_default's outputs, else the likely "
                   "outputs that need no integer input such as labels)")
@json_option
@output_options()
@handle_errors
def command(model, tag, no_functions, verify, given, outputs, tolerance, rtol, as_json, output, force, in_place):
    """Fold MODEL's constant subgraphs into Const ops (stateful, random and placeholder-like ops never).

    \b
    Examples:
      graphsurgeon fold-constants frozen.pb -o folded.pb
      graphsurgeon fold-constants model.ckpt.meta -o folded --verify
    """
    check_verify(verify, tolerance, rtol)
    from graphsurgeon.surgery.fold_constants import fold_constants

    check_output(model, output, in_place)
    g = load(model, tag)
    result, changes = fold_constants(g, functions=not no_functions)
    comparison = None
    if verify:
        import tempfile

        fetches = split_names(outputs) or default_outputs(g)
        if not fetches:
            raise UsageError(f"{g.where}: nothing to compare (no signature, no likely output)", hint="give --outputs")
        with tempfile.TemporaryDirectory(prefix="graphsurgeon-verify-") as tmp:
            comparison = verified(g, result, fetches, tolerance, output, as_json, given=given, rtol=rtol,
                                  run_result=written_runner(result, tmp))
    path = write_output(result, output, in_place, changes.notes)
    if as_json:
        echo_json({"model": str(model), "output": str(path), "ops": {"before": len(g), "after": len(result)},
                   **changes.as_dict(), "verify": comparison.as_dict() if comparison else None})
        return
    in_functions = sum(changes.details["function_ops_folded"].values())
    echo(f"folded   {g.path} -> {path} ({plural(result, 'op')}; {plural(g, 'op')} before"
         + (f"; {in_functions} folded in function bodies" if in_functions else "") + ")")
    for note in changes.notes:
        echo(f"  {note}")
    if comparison:
        report_verification(comparison)
