"""``graphsurgeon diff``: what differs between two graphs (exit 0 same, 1 different, 2 trouble)."""
from __future__ import annotations

import sys

import click

from graphsurgeon.errors import GraphSurgeonError

from .common import debug_enabled, echo, echo_json, fail, load


@click.command("diff")
@click.argument("a", type=click.Path())
@click.argument("b", type=click.Path())
@click.option("--tag", help="SavedModel tag set for both A and B")
@click.option("--tag-a", help="SavedModel tag set for A (overrides --tag)")
@click.option("--tag-b", help="SavedModel tag set for B (overrides --tag)")
@click.option("--ignore-attr", "ignore_attrs", multiple=True, metavar="NAME",
              help="attribute to leave out of the comparison (e.g. _output_shapes); repeatable")
@click.option("-v", "--verbose", is_flag=True, help="list every op instead of summarising by scope")
@click.option("--json", "as_json", is_flag=True, help="print JSON (schema in README)")
def command(a, b, tag, tag_a, tag_b, ignore_attrs, verbose, as_json):
    """Compare graphs A and B: ops added, removed and changed, collections, signatures.

    Exit status, as for diff(1): 0 when the graphs are the same, 1 when they
    differ, 2 when they could not be compared (bad file, bad usage).

    \b
    Example:
      graphsurgeon diff model.ckpt.meta frozen.pb --ignore-attr _output_shapes
    """
    from graphsurgeon.analysis.diff import diff

    # Every failure exits 2 so that a script can tell "differ" (1) from "could not compare".
    try:
        ga = load(a, tag_a or tag)
        gb = load(b, tag_b or tag)
        names = [n.strip() for value in ignore_attrs for n in value.split(",") if n.strip()]
        result = diff(ga, gb, ignore_attrs=names)
    except GraphSurgeonError as exc:
        if debug_enabled():
            raise
        fail(str(exc), 2)
    except Exception as exc:  # a bug of ours: one line, and not mistaken for "differ"
        if debug_enabled():
            raise
        fail(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)", 2)
    if as_json:
        data = result.as_dict()
        data["a"], data["b"] = a, b
        echo_json(data)
    else:
        result.a, result.b = a, b
        for line in result.format_lines(verbose=verbose):
            echo(line)
    sys.exit(1 if result else 0)
