"""``graphsurgeon compare``: run two models on the same inputs and compare their outputs (``--verify``'s engine)."""
from __future__ import annotations

import sys
from collections import Counter

import click

from graphsurgeon.wording import plural

from .common import StatusLine, echo, echo_json, given_inputs, handle_errors, input_option, json_option, load
from .verification import check_tolerances, report_verification, tolerance_options


@click.command("compare")
@click.argument("model_a", type=click.Path())
@click.argument("model_b", type=click.Path())
@click.option("--tag", help="SavedModel tag set to use, in either model (default: serve, or the only one)")
@click.option("--signature", help="MODEL_A's signature whose inputs and outputs are compared (default "
                                  "serving_default, or the only one); MODEL_B's of the same key when it has it")
@input_option
@click.option("--output", "outputs", multiple=True, metavar="NAME",
              help="an output to compare: a signature output key or a tensor name of MODEL_A (repeatable); "
                   "MODEL_B's is the same key or tensor name")
@tolerance_options(1e-5, what="")
@click.option("--all-tensors", is_flag=True,
              help="also compare every tensor the two graphs share by name on the way to the outputs, and name "
                   "the first that diverges")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the inputs that are made up")
@json_option
@handle_errors
def command(model_a, model_b, tag, signature, given, outputs, tolerance, rtol, all_tensors, seed, as_json):
    """Run MODEL_A and MODEL_B in TensorFlow on the same inputs and compare their outputs.

    Exit status 0 when every output is within the tolerances, 1 when one is
    not (as diff); errors (a model TensorFlow cannot load or run, an input
    that must be given) are one error: line, exit 1 (2 for a usage error).
    An element passes when |a-b| <= --atol or |a-b| <= --rtol * |a|
    (Polygraphy's rule; MODEL_A is the reference). Inputs not given with
    --input are made up once (seeded) and fed to both.

    \b
    Examples:
      graphsurgeon compare model.ckpt.meta frozen.pb --output logits:0
      graphsurgeon compare saved_model_dir other_dir --input x=x.npy --atol 1e-4
      graphsurgeon compare frozen.pb folded.pb --all-tensors
    """
    from graphsurgeon.training.tf import require_tensorflow

    require_tensorflow()
    from graphsurgeon.training.verify import compare

    check_tolerances(tolerance, rtol)
    values = given_inputs(given)
    a = _load(model_a, tag)
    b = _load(model_b, tag)
    with StatusLine(enabled=not as_json) as status:
        comparison = compare(a, b, signature=signature, outputs=list(outputs) or None, given=values,
                             atol=tolerance, rtol=rtol, seed=seed, all_tensors=all_tensors,
                             progress=lambda kind, text: status.progress(
                                 kind, f"comparing on {text}" if kind == "inputs" else text))
    if as_json:
        echo_json({"a": model_a, "b": model_b, **comparison.as_dict()})
    else:
        _report(comparison, model_a, model_b)
    if not comparison.ok:
        sys.exit(1)


def _load(model: str, tag: str | None):
    """A model with ``--tag`` applied when it is a SavedModel (a .meta or GraphDef has no tag sets)."""
    import graphsurgeon

    from graphsurgeon.formats import read_model

    if tag is not None:
        try:
            if read_model(model).format != "savedmodel":
                tag = None
        except Exception:  # noqa: BLE001 - the load below says what is wrong with the path
            pass
    return graphsurgeon.load(model, tag=tag)


def _report(comparison, model_a: str, model_b: str) -> None:
    echo(f"compare  {model_a}  vs  {model_b}" + (f"  (signature {comparison.signature})"
                                                   if comparison.signature else ""))
    report_verification(comparison, label="outputs")
    if comparison.tensors is not None:
        differ = [d for d in comparison.tensors if not d.ok]
        reasons = Counter(r.split(":")[0] for r in comparison.skipped.values())
        skipped = f"; {len(comparison.skipped):,} not compared (" + ", ".join(
            f"{n:,} {reason}" for reason, n in reasons.most_common()) + ")" if comparison.skipped else ""
        echo(f"tensors  {plural(comparison.tensors, 'shared tensor')} compared, {len(differ):,} differ{skipped}")
        first = comparison.first_divergence
        if first is not None:
            what = first.problem or f"max |diff| {first.max_abs:.3g}"
            echo(f"first    {first.tensor_a}  {what}  ({first.mismatched:,} of {first.size:,} elements beyond)")
            cause = comparison.divergence
            if cause:
                inputs = ", ".join(f"{t} {state}" for t, state in cause["inputs"].items()) or "no inputs"
                echo(f"  from {cause['type']} {cause['op']}: {inputs}")
    if comparison.ok:
        echo("result   same within the tolerances")
    else:
        bad = [name for name, d in comparison.differences.items() if not d.ok]
        echo(f"result   DIFFERENT: {', '.join(bad)}")
