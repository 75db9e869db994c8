"""``graphsurgeon render`` on a large synthetic graph, default collapse, cold processes.

The synthetic meta graph of bench/synthetic.py (60,007 ops for the default
60,000) is rendered to SVG by the command line, Graphviz layout included;
the issue's bar is under 10 seconds including loading. The fixture is
timed too, as the everyday case.

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
        for label, model in ((f"synthetic meta graph ({args.synthetic_ops:,}+ ops)", synthetic),
                             ("fixture `mnist_bn_elu_tf1` (618 ops)", FIXTURE)):
            if not model.exists():
                continue
            g = gs.load(model)
            view = rendering.view(g)
            out = Path(tmp) / "out.svg"
            r = medians([graphsurgeon_exe(), "render", str(model), "-o", str(out)], args.runs)
            size = out.stat().st_size
            print(label, r)
            rows.append(f"| {label} | {len(g):,} | depth {view.depth}, {len(view.nodes)} nodes, "
                        f"{len(view.edges)} edges | **{r['median_s']:.2f} s** ({r['min_s']:.2f}-{r['max_s']:.2f}) "
                        f"| {r['peak_mib']:.0f} MiB | {size / 1024:.0f} KiB |")
    body = f"""`python -m bench.bench_render --runs {args.runs}` ({datetime.date.today()}, {machine()}).
`graphsurgeon render MODEL -o out.svg` with the default collapse, in a cold process: loading, collapsing,
Graphviz `dot` layout and writing the SVG. Median wall time (min-max) and median peak RSS of {args.runs} runs.
The bar (issue 7): the 60,000-op graph in under 10 s.

| model | ops | default view | wall time | peak RSS | SVG |
|---|---|---|---|---|---|
""" + "\n".join(rows)
    update_section("render", body)


if __name__ == "__main__":
    main()
