"""``graphsurgeon render`` on a large synthetic graph, default collapse, cold processes.

The synthetic meta graph of bench/synthetic.py (60,007 ops for the default
60,000) is rendered to SVG by the command line, Graphviz layout included;
the issue's bar is under 10 seconds including loading. It is timed twice:
the default (the network, without training machinery) and ``--training``
(everything, the default before issue 15). The fixture is timed too, as
the everyday case, and graphs whose names are thousands of scopes deep
(issue 18: under 10 s for 3,000 levels).

    python -m bench.bench_render [--runs 5] [--synthetic-ops 60000]
"""
from __future__ import annotations

import argparse
import datetime
import tempfile
from pathlib import Path

from bench.common import ROOT, graphsurgeon_exe, machine, medians, update_section
from bench.synthetic import cached_meta_graph

FIXTURE = ROOT / "fixtures" / "models" / "mnist_bn_elu_tf1" / "model.ckpt.meta"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--synthetic-ops", type=int, default=60000)
    args = parser.parse_args()
    synthetic = cached_meta_graph(args.synthetic_ops)
    import graphsurgeon as gs
    from graphsurgeon import rendering

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        chain, few = Path(tmp) / "chain3000.pb", Path(tmp) / "few50000.pb"
        chain.write_bytes(deep_chain(3000).SerializeToString())
        few.write_bytes(deep_few(50000).SerializeToString())
        cases = ((f"synthetic meta graph ({args.synthetic_ops:,}+ ops)", synthetic, []),
                 (f"synthetic meta graph ({args.synthetic_ops:,}+ ops), `--training`", synthetic, ["--training"]),
                 ("fixture `mnist_bn_elu_tf1` (618 ops)", FIXTURE, []),
                 ("3,000 scope levels, one op per level", chain, []),
                 ("10 ops under a scope 50,000 levels deep", few, []),
                 ("the same, `--depth 0`", few, ["--depth", "0"]))
        for label, model, options in cases:
            if not model.exists():
                continue
            g = gs.load(model)
            view = rendering.view(g, training="--training" in options or None,
                                  depth=0 if "--depth" in options else None)
            out = Path(tmp) / "out.svg"
            r = medians([graphsurgeon_exe(), "render", str(model), "-o", str(out), *options], args.runs)
            size = out.stat().st_size
            print(label, r)
            rows.append(f"| {label} | {len(g):,} | depth {view.depth}, {len(view.nodes)} nodes, "
                        f"{len(view.edges)} edges | **{r['median_s']:.2f} s** ({r['min_s']:.2f}-{r['max_s']:.2f}) "
                        f"| {r['peak_mib']:.0f} MiB | {size / 1024:.0f} KiB |")
    body = f"""`python -m bench.bench_render --runs {args.runs}` ({datetime.date.today()}, {machine()}).
`graphsurgeon render MODEL -o out.svg` with the default collapse, in a cold process: loading, collapsing,
Graphviz `dot` layout and writing the SVG. Median wall time (min-max) and median peak RSS of {args.runs} runs.
The bars: the 60,000-op graph in under 10 s (issue 7), 3,000-level scopes in under 10 s (issue 18).

| model | ops | default view | wall time | peak RSS | SVG |
|---|---|---|---|---|---|
""" + "\n".join(rows)
    update_section("render", body)


def deep_chain(levels: int):
    """One op per level, each the scope of the next: ``a``, ``a/a``, ``a/a/a``, ..."""
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    prev = None
    for i in range(1, levels + 1):
        name = "/".join(["a"] * i)
        node = gd.node.add(name=name, op="Placeholder" if prev is None else "Identity")
        node.attr["dtype" if prev is None else "T"].type = 1
        if prev:
            node.input.append(prev)
        prev = name
    return gd


def deep_few(levels: int, ops: int = 10):
    """``ops`` chained ops under one scope ``levels`` deep."""
    from graphsurgeon.vocab import protos

    gd = protos.GraphDef()
    scope = "/".join(["a"] * levels)
    prev = None
    for i in range(ops):
        node = gd.node.add(name=f"{scope}/op{i}", op="Placeholder" if prev is None else "Relu")
        node.attr["dtype" if prev is None else "T"].type = 1
        if prev:
            node.input.append(prev)
        prev = node.name
    return gd


if __name__ == "__main__":
    main()
