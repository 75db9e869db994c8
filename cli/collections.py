"""``graphsurgeon collections``: list, show and edit the collections of a MetaGraphDef.

``graphsurgeon collections MODEL`` lists (same as ``collections ls MODEL``);
``show``, ``add``, ``rm``, ``delete`` and ``rename`` are subcommands. Editing
commands write to ``-o OUT`` (a ``.meta`` file or a SavedModel directory, the
format of MODEL; a SavedModel's chosen MetaGraphDef alone when OUT ends in
``.meta``; a plain GraphDef only as a ``.meta``) or over MODEL with ``--in-place``.
"""
from __future__ import annotations

import click

from graphsurgeon.errors import UsageError
from graphsurgeon.metagraph import collections as _collections
from graphsurgeon.wording import plural

from .common import (
    DefaultToLs,
    check_output,
    echo,
    echo_json,
    handle_errors,
    json_option,
    load,
    model_argument,
    output_options,
    table,
    terminal_width,
    write_output,
)


@click.group("collections", cls=DefaultToLs)
def command():
    """List, show and edit collections (MODEL alone lists them).

    \b
    graphsurgeon collections MODEL                      name, kind, size, first items
    graphsurgeon collections show MODEL NAME            every item, decoded
    graphsurgeon collections add MODEL NAME ITEM... -o OUT
    graphsurgeon collections rm MODEL NAME ITEM... -o OUT
    graphsurgeon collections delete MODEL NAME -o OUT
    graphsurgeon collections rename MODEL OLD NEW -o OUT
    """


@command.command("ls")
@model_argument
@json_option
@handle_errors
def ls_command(model, tag, as_json):
    """Each collection: name, kind, size and its first items."""
    g = load(model, tag)
    colls = g.collections
    if as_json:
        echo_json({"model": model, "format": g.format,
                   "collections": [c.as_dict(items=True) for c in colls.values()]})
        return
    if g.meta_graph is None:
        echo(f"{model}: a plain GraphDef has no collections")
        return
    if not colls:
        echo("no collections")
        return
    name_width = max(len(c.name) for c in colls.values())
    room = max(30, terminal_width() - min(name_width, terminal_width() // 2) - 22)
    table([[c.name, c.kind or "(no kind)", len(c), c.short(room)] for c in colls.values()],
          headers=["NAME", "KIND", "SIZE", "ITEMS"])


@command.command("show")
@model_argument
@click.argument("name")
@json_option
@handle_errors
def show_command(model, tag, name, as_json):
    """Every item of collection NAME, resolved or decoded."""
    g = load(model, tag)
    coll = _collections.get_collection(g, name)
    if as_json:
        echo_json(dict(coll.as_dict(items=True), model=model))
        return
    kind = coll.kind or "(no kind)"
    if coll.message_type:
        kind += f" of {coll.message_type}"
    echo(f"{coll.name}  {kind}  {plural(coll, 'item')}")
    rows = []
    for i, d in enumerate(coll.describe()):
        if coll.kind == "node_list":
            if d["resolved"] == "tensor":
                from graphsurgeon.ir.graph import format_shape
                what = f"tensor  {d['dtype'] or '?'} {format_shape(d['shape'])}  ({d['op_type']})"
            elif d["resolved"] == "op":
                what = f"op  {d['op_type']}"
            else:
                what = "NOT IN GRAPH"
            rows.append([i, d["value"], what])
        else:
            rows.append([i, d["text"]])
    table(rows)
    if coll.unresolved:
        echo(f"{plural(coll.unresolved, 'entry', 'entries')} name{'s' if len(coll.unresolved) == 1 else ''} "
             f"nothing in the graph "
             f"(TensorFlow's import_meta_graph would fail; remove them with `collections rm`)")


def _edit(model, tag, output, in_place, force):
    """Load MODEL for an edit; a plain GraphDef becomes a MetaGraphDef only when OUT is a .meta."""
    check_output(model, output, in_place)
    if output and str(output).endswith((".pb", ".pbtxt")) and not str(output).endswith(("saved_model.pb",
                                                                                        "saved_model.pbtxt")):
        raise UsageError(f"{output}: a GraphDef holds no collections",
                         hint="write a .meta file (or a directory)")
    g = load(model, tag)
    if g.meta_graph is None:
        if output and str(output).endswith(".meta"):
            from graphsurgeon.formats.writer import as_meta_graph
            return as_meta_graph(g), "meta"
        raise UsageError(f"{model}: is a plain GraphDef, which has no collections",
                         hint="write a MetaGraphDef instead: -o OUT.meta (it holds the same graph)")
    if g.format == "savedmodel" and output and str(output).endswith(".meta"):
        return g, "meta"  # the chosen MetaGraphDef alone
    return g, None


def _save(g, fmt, output, in_place, force):
    """The path written, and the writer's notes (a SavedModel's fingerprint.pb)."""
    notes: list[str] = []
    return write_output(g, output, in_place, notes, format=fmt), notes


def _report(as_json, written, coll, action, extra=None):
    out, notes = written
    if as_json:
        data = {"output": str(out), "action": action}
        if coll is not None:
            data["collection"] = coll.as_dict(items=False)
        data.update(extra or {})
        data["notes"] = notes
        echo_json(data)
    else:
        size = f" ({plural(coll, 'item')})" if coll is not None else ""
        echo(f"{action}{size}; wrote {out}")
        for note in notes:
            echo(f"note: {note}")


@command.command("add")
@model_argument
@click.argument("name")
@click.argument("items", nargs=-1, required=True)
@output_options("where to write (.meta file, or a SavedModel / checkpoint directory)")
@json_option
@handle_errors
def add_command(model, tag, name, items, output, in_place, force, as_json):
    """Append ITEMs (op names, or tensors as op:N) to collection NAME, creating it if needed."""
    g, fmt = _edit(model, tag, output, in_place, force)
    coll = g.add_to_collection(name, *items)
    written = _save(g, fmt, output, in_place, force)
    _report(as_json, written, coll, f"collection {name!r}: added {len(items)}")


@command.command("rm")
@model_argument
@click.argument("name")
@click.argument("items", nargs=-1, required=True)
@output_options("where to write (.meta file, or a SavedModel / checkpoint directory)")
@json_option
@handle_errors
def rm_command(model, tag, name, items, output, in_place, force, as_json):
    """Remove ITEMs from collection NAME (every occurrence)."""
    g, fmt = _edit(model, tag, output, in_place, force)
    before = len(_collections.get_collection(g, name))
    coll = g.remove_from_collection(name, *items)
    written = _save(g, fmt, output, in_place, force)
    _report(as_json, written, coll, f"collection {name!r}: removed {before - len(coll)}")


@command.command("delete")
@model_argument
@click.argument("name")
@output_options("where to write (.meta file, or a SavedModel / checkpoint directory)")
@json_option
@handle_errors
def delete_command(model, tag, name, output, in_place, force, as_json):
    """Delete collection NAME."""
    g, fmt = _edit(model, tag, output, in_place, force)
    coll = g.delete_collection(name)
    written = _save(g, fmt, output, in_place, force)
    _report(as_json, written, None, f"deleted collection {name!r} ({plural(coll, 'item')})",
            {"deleted": coll.as_dict(items=False)})


@command.command("rename")
@model_argument
@click.argument("old")
@click.argument("new")
@output_options("where to write (.meta file, or a SavedModel / checkpoint directory)")
@json_option
@handle_errors
def rename_command(model, tag, old, new, output, in_place, force, as_json):
    """Rename collection OLD to NEW."""
    g, fmt = _edit(model, tag, output, in_place, force)
    coll = g.rename_collection(old, new)
    written = _save(g, fmt, output, in_place, force)
    _report(as_json, written, coll, f"renamed collection {old!r} to {new!r}")
