"""The explorer's files: a static site that opens from disk, written atomically.

Layout of ``DIR`` (``graphsurgeon explore MODEL -o DIR``)::

    index.html              the page (no model data in it)
    static/explore.js, .css the page's own code and style (package data)
    site.js                 GS.site({...}): graphs, their parts, where to start, the legend's colours
    search.js               GS.index({...}): every op of every graph, where it is drawn (loaded on first search)
    views/G-P.K....js       GS.view(ID, "..."): one view: its SVG, what each node is, the details of its ops
    lists/ID.js             GS.list(ID, "..."): a long list of op details, written once however often it recurs
    .graphsurgeon-explore   the marker that says this directory is an explorer site

Data files are JavaScript that calls a function with JSON values, so that
``<script src>`` can load them from ``file://`` (browsers refuse ``fetch``
there). The JSON is written with every non-ASCII character escaped, so no
name can end the string or the script it sits in; views and lists are
JSON deflated into a base64 string (:func:`packed`; SVG shrinks fourfold),
which the page inflates with the browser's own ``DecompressionStream``.
The page puts names on screen only as text, never as markup.

The directory is assembled beside ``DIR`` and renamed into place (an
existing site is exchanged atomically); ``DIR`` may be missing, empty, or a
site written before, never a directory holding anything else.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import zlib
from importlib import resources
from pathlib import Path

from ..errors import OutputError
from ..formats.protofile import atomic_write
from ..formats.writer import commit_directory, stage_directory
from . import scopes, style

MARKER = ".graphsurgeon-explore"
FORMAT = 1
# What a site holds at its top; anything else means the directory is someone else's.
OWN = {MARKER, "index.html", "site.js", "search.js", "static", "views", "lists"}
STATIC = ("explore.js", "explore.css")
LIST_INLINE = 50


def check_output(output: Path, g=None) -> None:
    """Refuse, before any work, a ``DIR`` explore may not replace (see the module doc)."""
    output = Path(output)
    parent = output.parent if str(output.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{output}: directory {parent} does not exist")
    if output.is_symlink() or (output.exists() and not output.is_dir()):
        raise OutputError(f"{output}: exists and is not a directory",
                          hint="explore writes a directory: give a new path or an explorer site to replace")
    if not output.is_dir():
        return
    names = {entry.name for entry in os.scandir(output)}
    if names and (MARKER not in names or names - OWN):
        other = sorted(names - OWN) or sorted(names)
        raise OutputError(f"{output}: holds files explore did not write ({', '.join(other[:3])}"
                          f"{', ...' if len(other) > 3 else ''})",
                          hint="give a new or empty directory, or one explore wrote before (it is replaced)")


def js_call(function: str, *values) -> str:
    """``GS.function(value, ...);`` with each value as ASCII-only JSON (safe inside any script)."""
    args = ",".join(json.dumps(v, ensure_ascii=True, separators=(",", ":"), default=_default) for v in values)
    return f"GS.{function}({args});\n"


def packed(value) -> str:
    """``value`` as JSON, deflated and in base64: what the page unpacks (a view's SVG shrinks four times).

    JSON has no NaN or infinity: a constant holding one says so as a string.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_default, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(value), ensure_ascii=False, separators=(",", ":"), default=_default)
    data = text.encode("utf-8", "surrogatepass")
    return base64.b64encode(zlib.compress(data, 6)).decode("ascii")


def unpacked(text: str):
    """What :func:`packed` packed (for tests and tools reading a site)."""
    return json.loads(zlib.decompress(base64.b64decode(text)).decode("utf-8", "surrogatepass"))


def read_data(path) -> tuple[str, list]:
    """``(function, arguments)`` of a site data file (``GS.view("0-0", "...")``), packed arguments unpacked."""
    text = Path(path).read_text(encoding="ascii")
    name, _, rest = text.partition("(")
    args = json.loads("[" + rest.rstrip().rstrip(";")[:-1] + "]")
    if name in ("GS.view", "GS.list"):
        args[-1] = unpacked(args[-1])
    return name[3:], args


def _finite(value):
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _default(obj):
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


# dot numbers the graphs of one batch in its element ids (page0,1_node3): as if each were alone.
_PAGE_ID = re.compile(r' id="(a_)?page\d+,\d+_')


def svg_text(svg: bytes) -> str:
    """The ``<svg>`` element of dot's output, without the XML prolog, doctype and comments before it.

    Names reach attribute values only escaped (``"`` as ``&quot;``), so `` id="`` starts an id.
    """
    text = svg.decode("utf-8")
    start = text.find("<svg")
    return _PAGE_ID.sub(lambda m: f' id="{m.group(1) or ""}', text[start:] if start >= 0 else text)


class SiteWriter:
    """Assembles a site in a temporary directory beside ``output``; renamed into place on success.

    Forked workers write views into the same temporary directory; each
    process keeps its own record of the lists it wrote (a list written
    twice is written the same, by an atomic rename).
    """

    def __init__(self, output: Path):
        self.output = Path(output)
        self.tmp: Path | None = None
        self.bytes = 0
        self._lists: dict = {}

    def __enter__(self) -> "SiteWriter":
        self.tmp = stage_directory(self.output)
        for sub in ("views", "lists", "static"):
            (self.tmp / sub).mkdir()
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if self.tmp is None:
            return False
        if kind is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        try:
            check_output(self.output)  # again: something may have appeared there meanwhile
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        commit_directory(self.tmp, self.output)
        return False

    # ------------------------------------------------------------------ views
    def write_view(self, record: dict, svg: bytes, directory: Path | None = None) -> None:
        """Write one view's file (``directory``: a finished site, for views made on request)."""
        record = dict(record, svg=svg_text(svg))
        if "details" in record:
            record["details"] = {name: self._shorten_lists(d, directory) for name, d in record["details"].items()}
        path = (directory or self.tmp) / "views" / f"{record['id']}.js"
        data = js_call("view", record["id"], packed(record)).encode("ascii")
        if directory is None:
            path.write_bytes(data)
        else:
            atomic_write(path, data)

    def _shorten_lists(self, details: dict, directory) -> dict:
        """Long lists of an op's details moved to files of their own (``{"$list": id, "n": length}``)."""
        details = dict(details)
        for key in ("inputs", "control_inputs", "control_outputs"):
            if len(details.get(key) or ()) > LIST_INLINE:
                details[key] = self._list(details[key], directory)
        if any(len(o["consumers"]) > LIST_INLINE for o in details.get("outputs", ())):
            details["outputs"] = [dict(o, consumers=self._list(o["consumers"], directory))
                                  if len(o["consumers"]) > LIST_INLINE else o for o in details["outputs"]]
        return details

    def _list(self, items: list, directory) -> dict:
        # Lists of names (most, and the longest) are their own key; lists of inputs (dicts) their JSON.
        key = tuple(items) if type(items[0]) is str else json.dumps(items, sort_keys=True, default=_default)
        found = self._lists.get(key)
        if found is None:
            text = packed(items)
            found = hashlib.sha1(text.encode("ascii")).hexdigest()[:20]
            path = (directory or self.tmp) / "lists" / f"{found}.js"
            if not path.exists():
                data = js_call("list", found, text).encode("ascii")
                if directory is None:  # workers may write the same list at once: rename, never interleave
                    part = path.with_name(f".{found}.{os.getpid()}")
                    part.write_bytes(data)
                    os.replace(part, path)
                else:
                    atomic_write(path, data)
            self._lists[key] = found
        return {"$list": found, "n": len(items)}

    # ------------------------------------------------------------------ the rest of the site
    def finish(self, info: dict, graphs: list, homes: list, views: int) -> None:
        """The search index, site.js, the page, its code and the marker; then the size of it all."""
        tmp = self.tmp
        (tmp / "search.js").write_bytes(js_call("index", search_index(graphs, homes)).encode("ascii"))
        info = dict(info, views=views, style=legend_style(), format=FORMAT)
        (tmp / "site.js").write_bytes(js_call("site", info).encode("ascii"))
        package = resources.files("graphsurgeon.rendering") / "static"
        (tmp / "index.html").write_bytes((package / "index.html").read_bytes())
        for name in STATIC:
            (tmp / "static" / name).write_bytes((package / name).read_bytes())
        (tmp / MARKER).write_text(json.dumps({"tool": "graphsurgeon explore", "format": FORMAT,
                                              "model": info.get("model")}, ensure_ascii=True) + "\n")
        self.bytes = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file())


def search_index(graphs: list, homes: list) -> dict:
    """Every op of every graph, sorted, with where it is drawn: compact, for the search box.

    Names are front-coded (how many characters they share with the previous
    name, then the rest): scoped names share most of themselves. Per op:
    the view it is drawn in (an index into ``views``), its node there
    (``n12`` as 12) and how many outputs it has (tensors ``op:0`` ...).
    """
    where: list[dict] = [{} for _ in graphs]
    views = {view: i for i, view in enumerate(sorted({home[2] for home in homes}))}  # whatever order workers end in
    for gi, op, view, dot_id in homes:
        where[gi][op] = (views[view], int(dot_id[1:]))
    out = []
    for gi, graph in enumerate(graphs):
        names = sorted(graph.node_defs)
        shared, rest, view_of, node_of, outputs = [], [], [], [], []
        previous = ""
        for name in names:
            n = scopes.common_chars(previous, name)
            shared.append(n)
            rest.append(name[n:])
            previous = name
            v, node = where[gi].get(name, (-1, -1))
            view_of.append(v)
            node_of.append(node)
            outputs.append(graph.num_outputs(name))
        out.append({"p": shared, "s": rest, "v": view_of, "n": node_of, "o": outputs})
    return {"views": list(views), "graphs": out}


def legend_style() -> dict:
    """The colours and edge styles of render's legend (:mod:`graphsurgeon.rendering.style`), for the page's."""
    return {"categories": [[key, text, color] for key, text, color in style.CATEGORIES],
            "edges": {kind: [text, style.EDGE_LEGEND_COLORS[kind], attrs.get("style", "solid")]
                      for kind, (attrs, text) in style.EDGE_STYLES.items()},
            "frozen": style.FROZEN["color"], "stub": style.STUB["color"]}


def copy_static(directory: Path) -> None:
    """Refresh the page's own files in a finished site (what ``--serve`` serves is this package's)."""
    package = resources.files("graphsurgeon.rendering") / "static"
    for name in STATIC:
        atomic_write(Path(directory) / "static" / name, (package / name).read_bytes())
