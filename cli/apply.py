"""``graphsurgeon apply``: run a rewrite of your own (a ``@gs.rewrite`` function in a Python file) on a model."""
from __future__ import annotations

import click

from graphsurgeon.errors import GraphSurgeonError, RewriteError, UsageError
from graphsurgeon.wording import plural

from .common import (check_output, echo, echo_json, handle_errors, json_option, load, model_argument,
                     output_options, write_output)


def parse_args(pairs) -> dict:
    """``("factor=3", "name=x")`` -> ``{"factor": 3, "name": "x"}``: VALUE as JSON when it parses, else a string."""
    import json

    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"--arg {pair!r}: expected KEY=VALUE, KEY a Python name")
        if key in out:
            raise UsageError(f"--arg {key} given twice")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def load_function(spec: str):
    """The function ``SCRIPT.py:FUNCTION`` names, made a rewrite when it is a plain function."""
    import importlib.util
    import inspect
    import sys
    from pathlib import Path

    from graphsurgeon.surgery.rewrite import is_rewrite, rewrite

    script, sep, name = spec.rpartition(":")
    if not sep or not script or not name:
        raise UsageError(f"{spec!r}: expected SCRIPT.py:FUNCTION")
    path = Path(script)
    if not path.is_file():
        raise UsageError(f"no such script: {script}")
    module_name = f"graphsurgeon_apply_{abs(hash(str(path.resolve())))}"
    spec_ = importlib.util.spec_from_file_location(module_name, path)
    if spec_ is None or spec_.loader is None:
        raise UsageError(f"{script}: not a Python file")
    module = importlib.util.module_from_spec(spec_)
    sys.modules[module_name] = module
    try:
        spec_.loader.exec_module(module)
    except SyntaxError as exc:
        raise UsageError(f"{script}:{exc.lineno}: syntax error: {exc.msg}") from None
    except GraphSurgeonError:
        raise
    except Exception as exc:  # the script's own error, at import
        raise RewriteError(f"{script}{_where(exc, path)}: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        found = sorted(k for k, v in vars(module).items() if inspect.isfunction(v) and v.__module__ == module_name
                       and not k.startswith("_"))
        raise UsageError(f"{script} has no function {name!r}"
                         + (f" (it has {', '.join(found)})" if found else ""))
    return fn if is_rewrite(fn) else rewrite(fn), path


def _where(exc: BaseException, path) -> str:
    """``:LINE`` of the deepest frame of ``exc`` inside ``path``, or ``""``."""
    import traceback
    from pathlib import Path

    line = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename).resolve() == Path(path).resolve():
            line = f":{frame.lineno}"
    return line


@click.command("apply")
@model_argument
@click.argument("function", metavar="SCRIPT.py:FUNCTION")
@click.option("--arg", "args", multiple=True, metavar="KEY=VALUE",
              help="an argument of FUNCTION (VALUE read as JSON when it parses, else as a string); repeatable")
@json_option
@output_options()
@handle_errors
def command(model, tag, function, args, as_json, output, force, in_place):
    """Run FUNCTION of SCRIPT.py (a @graphsurgeon.rewrite) on MODEL and write the result.

    FUNCTION gets a copy of the graph and edits it; the rewrite contract is
    checked before anything is written.

    \b
    Example:
      graphsurgeon apply model.pb my_rewrites.py:scale_logits --arg factor=3 -o scaled.pb
    """
    import inspect

    kwargs = parse_args(args)
    check_output(model, output, in_place)
    fn, path = load_function(function)
    script, _, name = function.rpartition(":")
    try:
        inspect.signature(fn.__wrapped__).bind(None, **kwargs)
    except TypeError as exc:
        raise UsageError(f"{function}: {exc}") from None
    g = load(model, tag)
    try:
        result, changes = fn(g, **kwargs)
    except GraphSurgeonError:
        raise
    except Exception as exc:  # the script's own error: where in the script, not an internal error of ours
        from .common import debug_enabled

        if debug_enabled():
            raise
        raise RewriteError(f"{script}{_where(exc, path)} in {name}: {type(exc).__name__}: {exc}",
                           hint="rerun with --debug for the traceback") from None
    written = write_output(result, output, in_place, changes.notes)
    if as_json:
        echo_json({"model": str(model), "output": str(written), "ops": {"before": len(g), "after": len(result)},
                   **changes.as_dict()})
        return
    echo(f"wrote {written}: {plural(result, 'op')} (was {len(g):,}); {changes}")
    for old, new in changes.renamed.items():
        echo(f"renamed {old} -> {new}")
    for line in changes.dropped:
        echo(f"dropped {line}")
    for line in changes.notes:
        echo(f"note: {line}")
