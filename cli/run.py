"""``graphsurgeon run``: run a model in TensorFlow and print (or save) its outputs, as ``saved_model_cli run`` does."""
from __future__ import annotations

import re
from pathlib import Path

import click

from graphsurgeon.errors import OutputError
from graphsurgeon.wording import plural

from .common import StatusLine, echo, echo_json, given_inputs, handle_errors, input_option, json_option, load, \
    model_argument


def output_files(keys: list[str]) -> dict[str, str]:
    """``{output key: file name}`` for ``--save``: ``KEY.npy`` as saved_model_cli writes it; a key with
    characters a file name should not hold (``scope/op:0``) has them replaced by ``_`` (``scope_op_0.npy``),
    and a name two keys would share gets ``-2``, ``-3``."""
    out, used = {}, set()
    for key in keys:
        stem = key if re.fullmatch(r"[\w.-]+", key) and not key.startswith(".") else \
            re.sub(r"[^\w.-]", "_", key).lstrip(".") or "output"
        name, n = f"{stem}.npy", 1
        while name in used:
            n += 1
            name = f"{stem}-{n}.npy"
        used.add(name)
        out[key] = name
    return out


def save_outputs(directory, values: dict) -> dict[str, str]:
    """Write each output to ``DIRECTORY/KEY.npy`` (made if missing; files of the same name replaced); their paths."""
    import numpy as np

    from graphsurgeon.formats.protofile import atomic_write

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"{directory}: is not a directory", hint="--save takes a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{directory}: cannot make the directory ({exc.strerror})") from None
    written = {}
    for key, name in output_files(list(values)).items():
        import io

        buffer = io.BytesIO()
        np.save(buffer, np.asarray(values[key]), allow_pickle=False)
        atomic_write(directory / name, buffer.getvalue())
        written[key] = str(directory / name)
    return written


def _array_text(value) -> str:
    import numpy as np

    value = np.asarray(value)
    if value.dtype == object:
        value = np.vectorize(lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v,
                             otypes=[object])(value) if value.size else value
    return np.array2string(value, threshold=200, edgeitems=3)


@click.command("run")
@model_argument
@click.option("--signature", help="the SignatureDef to run (default serving_default, or the only one)")
@input_option
@click.option("--output", "outputs", multiple=True, metavar="NAME",
              help="an output to fetch: a signature output key or a tensor name (repeatable; default: the "
                   "signature's outputs, else the graph's likely outputs)")
@click.option("--save", "save_dir", type=click.Path(), metavar="DIR",
              help="write each output to DIR/KEY.npy (as saved_model_cli --outdir; files of the same name replaced)")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the inputs that are made up")
@click.option("--batch", type=click.IntRange(min=1), default=16, show_default=True,
              help="size of an unknown first dimension of a made-up input")
@json_option
@handle_errors
def command(model, tag, signature, given, outputs, save_dir, seed, batch, as_json):
    """Run MODEL in TensorFlow and print its outputs (or save them with --save).

    MODEL is any model graphsurgeon reads: a SavedModel (loaded with
    TensorFlow's SavedModel loader, as saved_model_cli run does), a .meta
    restored from its checkpoint, a frozen GraphDef. Inputs not given with
    --input are made up from their dtype and shape (seeded) and said on
    stderr.

    \b
    Examples:
      graphsurgeon run saved_model_dir --input x=x.npy
      graphsurgeon run model.ckpt.meta --input 'X=np.zeros((1, 784))' --output logits:0
      graphsurgeon run frozen.pb --input inputs.npz --save outputs/
    """
    from graphsurgeon.training.tf import require_tensorflow

    require_tensorflow()
    from graphsurgeon.training import run as _run
    from graphsurgeon.training import tf as _tf
    from graphsurgeon.training.examples import example_features
    from graphsurgeon.training.feeds import find_input, given_values, plan
    from graphsurgeon.training.inputs import make_inputs

    values = given_inputs(given)
    g = load(model, tag)
    p = plan(g, signature, list(outputs) or None)
    chosen = {}
    for name, value, source in given_values(values):
        spec = find_input(p, g, name)
        if spec not in p.inputs:
            p.inputs.append(spec)
        chosen[spec.name] = (value, source)
    made = make_inputs(p.inputs, seed=seed, batch=batch, examples=example_features(g.graph_def) or None,
                       given=chosen)
    with StatusLine(enabled=not as_json) as status:
        status.note(f"running on {made.describe()}")
        if not _tf.loaded():
            status.set("loading TensorFlow")
            _tf.tf()
        status.set(f"loading {g.where} in TensorFlow")
        with _run.open_model(g, as_written=False) as loaded:
            status.set("running")
            arrays = loaded.run(made.feeds, [o.tensor for o in p.outputs])
            how = loaded.how
    results = {o.key: a for o, a in zip(p.outputs, arrays)}
    saved = save_outputs(save_dir, results) if save_dir else {}
    if as_json:
        echo_json({
            "model": model, "format": g.format, "signature": p.signature, "loaded_with": how,
            "inputs": {made.labels_by_key.get(name, name): {
                "tensor": name, "dtype": str(value.dtype) if value.dtype != object else "string",
                "shape": list(value.shape), "source": made.sources[name]} for name, value in made.feeds.items()},
            "outputs": {o.key: {"tensor": o.tensor, "dtype": _dtype(results[o.key]),
                                "shape": list(getattr(results[o.key], "shape", ())),
                                **({"saved": saved[o.key]} if saved else {"values": results[o.key]})}
                        for o in p.outputs}})
        return
    what = f"signature {p.signature}, " if p.signature else ""
    echo(f"ran      {g.where} ({what}{how}; {plural(p.outputs, 'output')})")
    for o in p.outputs:
        value = results[o.key]
        tensor = f" ({o.tensor})" if o.tensor != o.key else ""
        echo(f"output   {o.key}{tensor}  {_dtype(value)} {list(getattr(value, 'shape', ()))}")
        if saved:
            echo(f"  saved to {saved[o.key]}")
        else:
            for line in _array_text(value).splitlines():
                echo(f"  {line}")


def _dtype(value) -> str:
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return type(value).__name__
    return "string" if dtype == object else str(dtype)
