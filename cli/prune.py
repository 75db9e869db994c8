"""``graphsurgeon prune``: keep only what some outputs need, optionally cut at inputs."""
from __future__ import annotations

from pathlib import Path

import click

from graphsurgeon.errors import UsageError
from graphsurgeon.wording import plural

from .common import echo_json, handle_errors, json_option, load, model_argument


def split_names(values) -> list[str]:
    """``("a:0,b:0", "c")`` -> ``["a:0", "b:0", "c"]`` (TensorFlow names never hold commas)."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def output_format(graph, out: Path) -> str:
    """Which format ``-o OUT`` asks for: by extension, or a SavedModel directory."""
    if out.suffix == ".meta":
        return "meta"
    if out.name in ("saved_model.pb", "saved_model.pbtxt") or (out.suffix == "" and graph.format == "savedmodel"):
        return "savedmodel"
    if out.suffix in (".pb", ".pbtxt", ".graphdef"):
        return "graphdef"
    return graph.format


def write_graph(graph, out: Path | None, force: bool, in_place: bool, notes: list | None = None) -> Path:
    """Write through Graph.save (atomic; refuses to overwrite unless told)."""
    fmt = output_format(graph, out) if out is not None else None
    return graph.save(out, format=fmt, in_place=in_place, force=force, notes=notes)


@click.command("prune")
@model_argument
@click.option("--outputs", "outputs", multiple=True, required=True, metavar="T",
              help="tensor (logits:0) or op (train/training_op) to keep; repeat or separate by commas")
@click.option("--inputs", "inputs", multiple=True, metavar="T",
              help="tensor to cut at: it becomes a new Placeholder of its dtype and shape")
@click.option("-o", "--output", "out", type=click.Path(), help="where to write (.meta, .pb, .pbtxt, SavedModel dir)")
@click.option("--force", is_flag=True, help="replace an existing output")
@click.option("--in-place", is_flag=True, help="allow writing over the input")
@click.option("--keep-initializers/--no-keep-initializers", default=True, show_default=True,
              help="keep the initializers of kept variables (so the variable collections stay valid)")
@json_option
@handle_errors
def command(model, tag, outputs, inputs, out, force, in_place, keep_initializers, as_json):
    """Keep only what the outputs need (data, control and colocation edges).

    \b
    Examples:
      graphsurgeon prune model.ckpt.meta --outputs logits:0 -o inference.meta
      graphsurgeon prune frozen.pb --outputs logits:0 --inputs hidden1/Elu:0 -o head.pb
    """
    from graphsurgeon.surgery.prune import prune

    if out is None and not in_place:
        raise UsageError("no output given", hint="-o OUT, or --in-place to replace the input")
    g = load(model, tag)
    pruned, changes = prune(g, split_names(outputs), split_names(inputs) or None,
                            keep_initializers=keep_initializers)
    written = write_graph(pruned, Path(out) if out else None, force, in_place, changes.notes)
    if as_json:
        echo_json({"model": str(model), "output": str(written), "ops": {"before": len(g), "after": len(pruned)},
                   **changes.as_dict()})
        return
    from graphsurgeon.graph import format_shape
    from graphsurgeon.surgery.diff import summarize

    click.echo(f"wrote {written}: {plural(pruned, 'op')} (was {len(g):,}); {changes}")
    if changes.removed:
        click.echo(f"removed {plural(changes.removed, 'op')}: {summarize(changes.removed)}")
    for name in changes.added + changes.changed:
        tensor = pruned.op(name).output(0)
        click.echo(f"placeholder {name}: {tensor.dtype} {format_shape(tensor.shape)}")
    for old, new in changes.renamed.items():
        click.echo(f"renamed {old} -> {new}")
    for line in changes.dropped:
        click.echo(f"dropped {line}")
    for line in changes.notes:
        if not line.startswith("cut at "):
            click.echo(f"note: {line}")
