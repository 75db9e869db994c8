"""``graphsurgeon export``: a servable SavedModel from a .meta + checkpoint, a frozen GraphDef or another tag set."""
from __future__ import annotations

from pathlib import Path

import click

from graphsurgeon.errors import UsageError
from graphsurgeon.wording import plural

from .common import (check_output, echo, echo_json, handle_errors, json_option, load, model_argument, output_options,
                     write_output)
from .signatures import print_signature, signature_json


@click.command("export")
@model_argument
@click.option("--input", "inputs", multiple=True, metavar="[KEY=]TENSOR",
              help="a signature input (repeatable); a bare tensor takes its op's last name part as key")
@click.option("--output", "sig_outputs", multiple=True, metavar="[KEY=]TENSOR",
              help="a signature output (repeatable)")
@click.option("--signature", default="serving_default", show_default=True, help="the signature's name")
@click.option("--method", default="tensorflow/serving/predict", show_default=True, help="the signature's method name")
@click.option("--export-tag", "export_tags", multiple=True, metavar="TAG",
              help="tag of the exported MetaGraphDef (repeatable; default serve). --tag picks MODEL's own tag set")
@click.option("--keep-training", is_flag=True, help="keep the whole graph: no switch pinned, nothing pruned")
@click.option("--set", "set_values", multiple=True, metavar="NAME=VALUE",
              help="pin a placeholder to a value (e.g. keep_prob=1.0); repeatable")
@click.option("--checkpoint", help="checkpoint prefix (default: the one beside the graph)")
@output_options("the SavedModel directory to write (TensorFlow Serving wants DIR/VERSION, e.g. served/1; "
                "missing parent directories are made)", long_name=False, in_place=False)
@json_option
@handle_errors
def command(model, tag, inputs, sig_outputs, signature, method, export_tags, keep_training, set_values, checkpoint,
            output, force, in_place, as_json):
    """Export MODEL as a SavedModel with a serving signature (no TensorFlow needed).

    Without --input/--output the signature is inferred from the likely inputs
    and outputs when that leaves no choice (the choice is printed), or the
    candidates are named. Training machinery and switches the signature does
    not feed (training) are pinned and pruned as freeze does, unless
    --keep-training. The checkpoint goes to variables/ (V2 copied byte for
    byte, V1 converted), asset files to assets/.

    \b
    Examples:
      graphsurgeon export model.ckpt.meta --input X:0 --output logits:0 -o served/1
      graphsurgeon export frozen.pb --input images=X:0 --output scores=probabilities:0 -o served/1
      graphsurgeon export saved_model_dir --tag transform -o served/1
    """
    from graphsurgeon.surgery.export import export
    from graphsurgeon.surgery.freeze import parse_set_values

    if in_place:
        raise UsageError("export writes a new SavedModel: give -o DIR")
    if output and str(output).endswith((".meta", ".pbtxt")) or \
            (output and str(output).endswith(".pb") and not str(output).endswith("saved_model.pb")):
        raise UsageError(f"{output}: export writes a SavedModel directory", hint="-o DIR (e.g. served/1)")
    check_output(model, output, in_place)
    g = load(model, tag)
    result, changes = export(g, inputs=list(inputs) or None, outputs=list(sig_outputs) or None, signature=signature,
                             method=method, tags=tuple(export_tags) or ("serve",), keep_training=keep_training,
                             set_values=parse_set_values(g, set_values), checkpoint=checkpoint)
    notes = list(changes.notes)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)  # served/1: TensorFlow Serving's layout
    written = write_output(result, output, False, notes, format="savedmodel")
    d = changes.details
    if as_json:
        echo_json({"model": str(model), "output": str(written),
                   "signatures": {k: signature_json(sig) for k, sig in sorted(result.signatures.items())},
                   "inferred": d["inferred"], "tags": d["tags"], "ops": {"before": len(g), "after": len(result)},
                   "variables": len(d["variables"]), "checkpoint": d["checkpoint"],
                   "checkpoint_format": d["checkpoint_format"], "saver": d["saver"], "pinned": d["pinned"],
                   "assets": d["assets"], "main_op": d["main_op"], "dropped": changes.dropped, "notes": notes})
        return
    echo(f"exported {model} -> {written} ({plural(result, 'op')}, {plural(d['variables'], 'variable')}; "
         f"{len(g):,} ops before), tags {', '.join(d['tags'])}")
    for key, sig in sorted(result.signatures.items()):
        print_signature(key, sig)
    if changes.dropped:
        echo(f"dropped  {plural(changes.dropped, 'reference')} to removed ops (collections, saver): "
             + "; ".join(changes.dropped[:3]) + ("; ..." if len(changes.dropped) > 3 else ""))
    for note in notes:
        echo(f"note: {note}")
    echo(f"next: saved_model_cli show --dir {written} --all")
