"""``graphsurgeon ls``: one line per op (or tensor), or the scope tree."""
from __future__ import annotations

import click

from graphsurgeon import report
from graphsurgeon.graph import format_shape
from graphsurgeon.wording import plural

from .common import echo_json, fail, handle_errors, json_option, load, model_argument, table


def _outputs_text(outputs) -> str:
    return ", ".join(f"{o['dtype'] or '?'} {format_shape(o['shape'])}" for o in outputs) or "-"


def _print_tree(node, depth=0, max_depth=None):
    for child in node["children"]:
        params = f"  {plural(child['params'], 'param')}" if child["params"] else ""
        click.echo(f"{'  ' * depth}{child['name'].rsplit('/', 1)[-1]}/  {plural(child['ops'], 'op')}{params}")
        if max_depth is None or depth + 1 < max_depth:
            _print_tree(child, depth + 1, max_depth)


@click.command("ls")
@model_argument
@click.argument("patterns", nargs=-1)
@click.option("--type", "types", multiple=True, help="only ops of this type (repeatable)")
@click.option("--tensors", is_flag=True, help="one line per tensor instead of per op")
@click.option("--functions", is_flag=True, help="include the ops of function bodies")
@click.option("--tree", is_flag=True, help="scope tree with op and parameter counts")
@click.option("--depth", type=int, default=None, help="with --tree: levels to show")
@click.option("--count", is_flag=True, help="print only the number of matches")
@json_option
@handle_errors
def command(model, tag, patterns, types, tensors, functions, tree, depth, count, as_json):
    """List ops (or tensors) with their types, dtypes and shapes.

    PATTERNS: exact names, globs (* within one scope level, ** across levels),
    a scope with a trailing /, or re:REGEX.
    """
    g = load(model, tag)
    if tree:
        data = report.scope_tree(g)
        if as_json:
            echo_json({"model": model, "format": g.format, "tree": data})
        else:
            click.echo(f"{plural(data['ops'], 'op')}  {plural(data['params'], 'param')}")
            root_ops = data["ops"] - sum(c["ops"] for c in data["children"])
            if root_ops:
                click.echo(f"(root)  {plural(root_ops, 'op')}")
            _print_tree(data, max_depth=depth)
        return
    if not (tensors or as_json):
        rows = list(report.ls_rows(g, list(patterns), list(types), functions))
        if count:
            click.echo(len(rows))
        else:
            table([((fn or "-"), name, typ, out) if functions else (name, typ, out) for fn, name, typ, out in rows])
        if not rows:
            _no_match(g, model, patterns, types, functions)
        return
    records = report.ls_records(g, list(patterns), list(types), functions, brief=not as_json)
    if tensors:
        rows = [dict(o, producer=r["name"], type=r["type"], function=r["function"])
                for r in records for o in r["outputs"]]
        if count:
            click.echo(len(rows))
        elif as_json:
            echo_json({"model": model, "format": g.format, "tensors": rows})
        else:
            table([([r["function"] or "-"] if functions else []) +
                   [r["name"], r["dtype"] or "?", format_shape(r["shape"]), r["type"]] for r in rows])
    elif count:
        click.echo(len(records))
    elif as_json:
        echo_json({"model": model, "format": g.format, "ops": records})
    else:
        table([([r["function"] or "-"] if functions else []) + [r["name"], r["type"], _outputs_text(r["outputs"])]
               for r in records])
    if not records:
        _no_match(g, model, patterns, types, functions)


def _no_match(g, model, patterns, types, functions) -> None:
    """An empty selection is a failed lookup (exit 1, as grep): say so, and what was probably meant.

    An empty graph (nothing asked for) is not a miss."""
    if not (patterns or types):
        return
    facts = report.no_match(g, list(patterns), list(types), functions)
    asked = []
    if types:
        asked.append("--type " + ",".join(types))
    if patterns:
        asked.append(" ".join(repr(p) for p in patterns))
    hints = []
    for t, near in facts["types"].items():
        label = f"{t}: " if len(facts["types"]) > 1 else ""
        hints.append(f"{label}did you mean {', '.join(near)}?" if near else f"no op has type {t}")
    for p, near in facts["patterns"].items():
        if near.get("scopes"):
            hints.append(f"nearest scopes: {', '.join(near['scopes'])}")
        elif near.get("names"):
            hints.append(f"nearest names: {', '.join(near['names'])}")
    if facts.get("pattern_types"):
        shown = facts["pattern_types"]
        hints.append(f"the {'pattern matches' if len(patterns) == 1 else 'patterns match'} only "
                     + ", ".join(shown[:8]) + (", ..." if len(shown) > 8 else ""))
    if facts["in_functions"]:
        hints.append(f"{plural(facts['in_functions'], 'op')} of function bodies match: add --functions")
    hint = f" ({'; '.join(hints)})" if hints else ""
    fail(f"no op matches {' '.join(asked)} in {model}{hint}")
