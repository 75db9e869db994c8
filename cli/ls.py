"""``graphsurgeon ls``: one line per op (or tensor), or the scope tree."""
from __future__ import annotations

import click

from graphsurgeon.analysis import report
from graphsurgeon.ir.graph import format_shape
from graphsurgeon.wording import plural

from .common import echo, echo_json, fail, handle_errors, json_option, load, model_argument, table


def _outputs_text(outputs) -> str:
    return ", ".join(f"{o['dtype'] or '?'} {format_shape(o['shape'])}" for o in outputs) or "-"


# Deeper levels print their level number instead of more indentation, so
# that a line stays readable and the output grows with the number of
# scopes, not with their depth squared.
INDENT_LEVELS = 32


def _tree_lines(root, max_depth=None):
    """The lines of ``ls --tree`` below the header, walked without recursion (any depth)."""
    for depth, scope in root.walk(max_depth):
        params = f"  {plural(scope.params, 'param')}" if scope.params else ""
        indent = "  " * min(depth, INDENT_LEVELS) + (f"[level {depth + 1}] " if depth > INDENT_LEVELS else "")
        yield f"{indent}{scope.part}/  {plural(scope.ops, 'op')}{params}"


@click.command("ls")
@model_argument
@click.argument("patterns", nargs=-1)
@click.option("--type", "types", multiple=True, help="only ops of this type (repeatable)")
@click.option("--tensors", is_flag=True, help="one line per tensor instead of per op")
@click.option("--functions", is_flag=True, help="include the ops of function bodies")
@click.option("--tree", is_flag=True, help="scope tree with op and parameter counts")
@click.option("--depth", type=int, default=None, help="with --tree: levels to show")
@click.option("--count", is_flag=True, help="print only the number of matches")
@click.option("--no-training", is_flag=True,
              help="leave out training machinery (gradients, optimizer, saver, initializers)")
@json_option
@handle_errors
def command(model, tag, patterns, types, tensors, functions, tree, depth, count, no_training, as_json):
    """List ops (or tensors) with their types, dtypes and shapes.

    PATTERNS: exact names, globs (* within one scope level, ** across levels),
    a scope with a trailing /, or re:REGEX.
    """
    g = load(model, tag)
    if tree:
        if as_json:
            echo_json({"model": model, "format": g.format,
                       "tree": report.scope_tree(g, max_depth=depth, training=not no_training)})
            return
        root = report.scopes(g, training=not no_training)
        echo(f"{plural(root.ops, 'op')}  {plural(root.params, 'param')}")
        root_ops = root.ops - sum(c.ops for c in root.children.values())
        if root_ops:
            echo(f"(root)  {plural(root_ops, 'op')}")
        for line in _tree_lines(root, max_depth=depth):
            echo(line)
        return
    if not (tensors or as_json):
        rows = list(report.ls_rows(g, list(patterns), list(types), functions, training=not no_training))
        if count:
            echo(len(rows))
        else:
            table([((fn or "-"), name, typ, out) if functions else (name, typ, out) for fn, name, typ, out in rows])
        _report_misses(g, model, patterns, types, functions, bool(rows), tensors=False)
        return
    if tensors:
        rows = report.ls_tensor_records(g, list(patterns), list(types), functions, brief=not as_json,
                                        training=not no_training)
        if count:
            echo(len(rows))
        elif as_json:
            echo_json({"model": model, "format": g.format, "tensors": rows})
        else:
            table([([r["function"] or "-"] if functions else []) +
                   [r["name"], r["dtype"] or "?", format_shape(r["shape"]), r["type"]] for r in rows])
        _report_misses(g, model, patterns, types, functions, bool(rows), tensors=True)
        return
    records = report.ls_records(g, list(patterns), list(types), functions, brief=not as_json,
                                training=not no_training)
    if count:
        echo(len(records))
    elif as_json:
        echo_json({"model": model, "format": g.format, "ops": records})
    else:
        table([([r["function"] or "-"] if functions else []) + [r["name"], r["type"], _outputs_text(r["outputs"])]
               for r in records])
    _report_misses(g, model, patterns, types, functions, bool(records), tensors=False)


def _report_misses(g, model, patterns, types, functions, found: bool, tensors: bool) -> None:
    """A lookup that selects nothing fails (exit 1, as grep); so does each pattern that selects nothing
    while others do (as ``ls FILE MISSING``): said after what the others selected."""
    missing = report.unmatched(g, patterns, functions, tensors) if patterns else []
    if found and not missing:
        return
    if not found:
        _no_match(g, model, patterns, types, functions, tensors)
    else:
        _no_match(g, model, missing, (), functions, tensors)


def _no_match(g, model, patterns, types, functions, tensors: bool = False) -> None:
    """An empty selection is a failed lookup (exit 1, as grep): say so, and what was probably meant.

    An empty graph (nothing asked for) is not a miss."""
    if not (patterns or types):
        return
    facts = report.no_match(g, list(patterns), list(types), functions, tensors)
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
    if facts.get("tensor_patterns"):
        shown = facts["tensor_patterns"]
        hints.append(f"{', '.join(map(repr, shown))} {'names a tensor' if len(shown) == 1 else 'name tensors'}: "
                     "add --tensors")
    if facts.get("pattern_types"):
        shown = facts["pattern_types"]
        hints.append(f"the {'pattern matches' if len(patterns) == 1 else 'patterns match'} only "
                     + ", ".join(shown[:8]) + (", ..." if len(shown) > 8 else ""))
    if facts["in_functions"]:
        hints.append(f"{plural(facts['in_functions'], 'op')} of function bodies match: add --functions")
    hint = f" ({'; '.join(hints)})" if hints else ""
    fail(f"no {'tensor' if tensors else 'op'} matches {' '.join(asked)} in {model}{hint}")
