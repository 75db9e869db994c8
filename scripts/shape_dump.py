"""Dump every op's dtypes and shapes (graph and function bodies), and compare two dumps.

A change to shape inference must leave what ``ls --json --functions``
reports unchanged (or change it only where it says why). This script
records that report for a set of models with one source tree, so that two
trees can be compared op by op::

    # the code before the change (any tree: git archive BASE | tar -x -C /tmp/base)
    .venv/bin/python scripts/shape_dump.py dump --tree /tmp/base --out /tmp/dump_base
    # the code after it (this worktree)
    .venv/bin/python scripts/shape_dump.py dump --out /tmp/dump_new
    .venv/bin/python scripts/shape_dump.py compare /tmp/dump_base /tmp/dump_new
    # through the on-disk shape cache, as the command line reads (run twice: stored, then read)
    GS_CACHE_DIR=/tmp/cache .venv/bin/python scripts/shape_dump.py dump --shape-cache --out /tmp/dump_cached

The models: every fixture (``fixtures/models``), every corpus model
(``$GS_CORPUS_DIR``), every graph under ``bench/.cache`` (the big synthetic
graphs, once built), and any path given with ``--model``. The records are
those of ``graphsurgeon.analysis.report.ls_records(g, functions=True)``, the
data ``ls --json --functions`` prints, with each op's output dtypes and
shapes; ``dump`` also times shape inference per model.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _use_tree(tree: Path | None) -> None:
    """Import graphsurgeon from ``tree`` instead of the installed (editable) package."""
    if tree is None:
        return
    # An editable install puts a finder on sys.meta_path ahead of sys.path: take it out.
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")
                        and "__editable__" not in type(f).__module__]
    sys.path.insert(0, str(tree))


def models(extra=()) -> list[tuple[str, Path, str | None]]:
    """(label, path, tag) of every model the dump covers."""
    out = []
    fixtures = ROOT / "fixtures" / "models"
    manifest = fixtures / "manifest.json"
    if manifest.is_file():
        for key, entry in json.loads(manifest.read_text())["models"].items():
            path = fixtures / (entry["checkpoint"] + ".meta") if entry["format"] == "checkpoint" else fixtures / key
            out.append((f"fixture:{key}", path, None))
    corpus = os.environ.get("GS_CORPUS_DIR") or str(ROOT.parent.parent / "shared" / "corpus")
    if Path(corpus).is_dir():
        for folder in sorted(p for p in Path(corpus).iterdir() if p.is_dir()):
            tag = "transform" if folder.name == "tfx_transform_fn" else None
            if (folder / "saved_model.pb").is_file() or (folder / "saved_model.pbtxt").is_file():
                out.append((f"corpus:{folder.name}", folder, tag))
                continue
            for path in sorted(folder.iterdir()):
                if path.suffix in (".meta", ".pb", ".pbtxt"):
                    out.append((f"corpus:{folder.name}/{path.name}", path, None))
    cache = ROOT / "bench" / ".cache"
    if cache.is_dir():
        for path in sorted(cache.iterdir()):
            if path.suffix == ".meta" or (path / "saved_model.pb").is_file():
                out.append((f"bench:{path.name}", path, None))
    out.extend((f"extra:{p}", Path(p), None) for p in extra)
    return out


def dump(out: Path, extra=(), cached: bool = False) -> None:
    import graphsurgeon as gs
    from graphsurgeon.analysis import report

    print(f"graphsurgeon from {Path(gs.__file__).parent}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    for label, path, tag in models(extra):
        try:
            g = gs.load(path, tag=tag, shape_cache=True) if cached else gs.load(path, tag=tag)
        except gs.GraphSurgeonError as exc:
            print(f"{label}: not loaded ({exc})", file=sys.stderr)
            continue
        _dump_one(out, label, g, report)
        # Inference alone: the same graph with every recorded _output_shapes removed.
        _dump_one(out, label + "#stripped", _stripped(g), report)


def _stripped(g):
    """A new Graph of ``g``'s protos without ``_output_shapes`` (graph and function bodies)."""
    from graphsurgeon.ir.graph import Graph

    meta = g.meta_graph
    if meta is not None:
        meta = type(meta)()
        meta.CopyFrom(g.meta_graph)
        graph_def = meta.graph_def
    else:
        graph_def = type(g.graph_def)()
        graph_def.CopyFrom(g.graph_def)
    for node in graph_def.node:
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]
    for function in graph_def.library.function:
        for node in function.node_def:
            if "_output_shapes" in node.attr:
                del node.attr["_output_shapes"]
    return Graph(graph_def, meta_graph=meta)


def _dump_one(out: Path, label: str, g, report) -> None:
    start = time.process_time()
    graphs = [g] + [g.function(n) for n in sorted(g.library_names)]
    for graph in graphs:
        graph.shapes  # noqa: B018 - timed here
    seconds = time.process_time() - start
    records = report.ls_records(g, functions=True)
    ops = {f"{r['function'] or ''}|{r['name']}": [[o["dtype"], o["shape"]] for o in r["outputs"]]
           for r in records}
    slug = label.replace("/", "_").replace(":", "_").replace("#", "_")
    (out / f"{slug}.json").write_text(json.dumps({"label": label, "ops": ops}, sort_keys=True))
    print(f"{label}: {len(ops)} ops, shapes in {seconds:.2f} s CPU", file=sys.stderr)


def compare(a: Path, b: Path, limit: int = 20) -> int:
    """Print every op whose dtypes or shapes differ; 1 if any do (or a model is missing on one side)."""
    differ = 0
    total = 0
    names_a = {p.name for p in a.glob("*.json")}
    names_b = {p.name for p in b.glob("*.json")}
    for name in sorted(names_a ^ names_b):
        print(f"{name}: only in {a if name in names_a else b}")
        differ += 1
    for name in sorted(names_a & names_b):
        left = json.loads((a / name).read_text())["ops"]
        right = json.loads((b / name).read_text())["ops"]
        total += len(left)
        shown = 0
        for op in sorted(set(left) | set(right)):
            if left.get(op) != right.get(op):
                differ += 1
                if shown < limit:
                    print(f"{name}: {op}: {left.get(op)} -> {right.get(op)}")
                shown += 1
        if shown > limit:
            print(f"{name}: ... {shown - limit} more")
    print(f"{len(names_a & names_b)} models, {total:,} ops compared, {differ} differences")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("--out", type=Path, required=True)
    d.add_argument("--tree", type=Path, help="import graphsurgeon from this source tree")
    d.add_argument("--model", action="append", default=[], help="another model to dump (repeatable)")
    d.add_argument("--shape-cache", action="store_true",
                   help="load with shape_cache=True (the cache of graphsurgeon.cache.cache_root(), as the CLI does)")
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        _use_tree(args.tree)
        dump(args.out, args.model, args.shape_cache)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
