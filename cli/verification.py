"""``--verify``: what every command that offers it shares (options, the run, the report).

A command adds the options with :func:`verify_options` and, when
``--verify`` is on, calls :func:`verified` with its input and result before
writing anything. ``--verify`` is ``graphsurgeon compare`` of the input and
the output (:func:`graphsurgeon.training.verify.verify`): same inputs, same
tolerance rule, same report.

    @verify_options(default_tolerance=1e-5)
    def command(model, ..., verify, given, tolerance, rtol, ...):
        if verify:
            require_tensorflow()
        ...
        comparison = verified(g, result, outputs, tolerance, output, as_json, given=given, rtol=rtol) \
            if verify else None
"""
from __future__ import annotations

import click

from graphsurgeon.errors import OutputError, UsageError

from .common import StatusLine, echo, echo_json, given_inputs, input_option


def tolerance_options(default: float, what: str = "with --verify: "):
    """``--tolerance``/``--atol`` (largest absolute difference) and ``--rtol`` (relative), Polygraphy's rule."""
    def decorate(fn):
        fn = click.option("--rtol", type=float, default=0.0, show_default=True,
                          help=f"{what}relative tolerance: an element also passes when |a-b| <= rtol*|a|")(fn)
        return click.option("--tolerance", "--atol", "tolerance", type=float, default=default, show_default=True,
                            help=f"{what}largest absolute difference allowed (--atol)")(fn)
    return decorate


def verify_options(default_tolerance: float = 1e-5):
    """``--verify``, ``--input`` and the tolerances, for a command that writes a rewrite of its input."""
    def decorate(fn):
        fn = tolerance_options(default_tolerance)(fn)
        fn = input_option(fn)
        return click.option("--verify", is_flag=True,
                            help="run the input and the result in TensorFlow on the same inputs and compare "
                                 "(nothing is written when they differ)")(fn)
    return decorate


def check_tolerances(tolerance: float, rtol: float) -> None:
    if tolerance < 0 or rtol < 0:
        raise UsageError("--tolerance/--atol and --rtol must be >= 0")


def check_verify(verify: bool, tolerance: float, rtol: float = 0.0) -> None:
    """Before any work: ``--verify`` needs TensorFlow, and the tolerances are not negative."""
    if verify:
        from graphsurgeon.training.tf import require_tensorflow

        require_tensorflow()
    check_tolerances(tolerance, rtol)


def verification_failed(comparison, path) -> OutputError:
    """The error for a result whose outputs differ from the original's beyond the tolerances."""
    worst = max(comparison.differences.values(), key=lambda d: (not d.ok, d.max_abs))
    what = worst.problem or f"differs by {worst.max_abs:.3g}"
    return OutputError(f"verification failed: {worst.name} {what} ({tolerance_text(comparison)}); "
                       f"{path or 'nothing'} not written")


def tolerance_text(comparison) -> str:
    return f"tolerance {comparison.atol:g}" + (f", rtol {comparison.rtol:g}" if comparison.rtol else "")


def verify_progress(status):
    """The ``progress`` callback of the library's compare: the inputs as a note on stderr
    ("verifying on ..."), the slow steps on the status line."""
    def progress(kind: str, text: str) -> None:
        status.progress(kind, f"verifying on {text}" if kind == "inputs" else text)

    return progress


def verified(original, result, outputs, tolerance: float, output, as_json: bool, fixed=None, given=(),
             rtol: float = 0.0, run_result=None):
    """Run ``original`` and ``result`` in TensorFlow and compare (``--verify``); the Comparison.

    Args:
        given: the raw ``--input`` values (read here).
        fixed: ``{placeholder: value}`` fed to the original only (``--set``).
        run_result: runs the result instead of the library's loader (see
            :func:`graphsurgeon.training.verify.verify`).

    Raises the error that stops the command (nothing written) when they differ
    beyond the tolerances, after printing what was found (JSON with ``--json``).
    """
    from graphsurgeon.training.verify import verify

    check_tolerances(tolerance, rtol)
    values = given_inputs(given)
    with StatusLine(enabled=not as_json) as status:
        comparison = verify(original, result, outputs, tolerance, fixed=fixed, given=values, rtol=rtol,
                            progress=verify_progress(status), run_result=run_result)
    if not comparison.ok:
        if as_json:
            echo_json({"written": None, "verify": comparison.as_dict()})
        else:
            report_verification(comparison)
        raise verification_failed(comparison, output)
    return comparison


def report_verification(comparison, label: str = "verify") -> None:
    """The per-output lines of a comparison (``verify``'s and ``compare``'s)."""
    echo(f"{label.ljust(8)} on {comparison.source}, {tolerance_text(comparison)}")
    width = max((len(name) for name in comparison.differences), default=0)
    for name, d in comparison.differences.items():
        acc = comparison.accuracy(name)
        extra = f"  accuracy {acc:.4f}" if acc is not None else ""
        mark = "ok" if d.ok else "FAIL"
        what = d.problem or f"max |diff| {d.max_abs:.3g}" + (f"  max rel {d.max_rel:.3g}" if comparison.rtol else "")
        if not d.ok and not d.problem:
            what += f"  ({d.mismatched:,} of {d.size:,} beyond)"
        echo(f"  {name.ljust(width)}  {what}  {mark}{extra}")
