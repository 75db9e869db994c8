"""``graphsurgeon scan`` against TensorFlow's ``saved_model_cli scan``, cold processes, same run, same models.

Models: the fixtures, the shared corpus (``GS_CORPUS_DIR``) and the attack
corpus of ``tests/scan_attacks.py`` (built once with TensorFlow, cached
under ``bench/.cache``). Throughput is measured on ``--copies`` copies of
that set (distinct folders, so each is scanned), one cold process per run,
``--jobs 1`` and ``--jobs 2``. ``saved_model_cli scan --dir D`` reads one
SavedModel per process (it reads no other format): it runs on every
SavedModel of the set, and what it reports is set beside what ``scan`` finds.

    python -m bench.bench_scan [--runs 3] [--copies 10] [--no-write]
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import PYTHON, ROOT, graphsurgeon_exe, machine, update_section

CACHE = ROOT / "bench" / ".cache" / "scan_attacks"


def attack_corpus() -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    import scan_attacks

    models = CACHE / "models"
    if not (models / "write_file").is_dir():
        shutil.rmtree(CACHE, ignore_errors=True)
        scan_attacks.build(models, CACHE / "target")
    return models


def model_set() -> list[Path]:
    corpus = os.environ.get("GS_CORPUS_DIR") or str(ROOT.parent / "shared" / "corpus")
    paths = [ROOT / "fixtures" / "models", attack_corpus()]
    if Path(corpus).is_dir():
        paths.append(Path(corpus))
    return paths


def timed(argv) -> tuple[float, subprocess.CompletedProcess]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800)
    return time.perf_counter() - start, proc


def replicate(paths: list[Path], copies: int, into: Path) -> Path:
    for i in range(copies):
        for n, path in enumerate(paths):
            shutil.copytree(path, into / f"copy{i}" / f"{n}_{path.name}", symlinks=True)
    return into


def saved_model_cli(directory: Path) -> tuple[float, str]:
    exe = Path(PYTHON).parent / "saved_model_cli"
    wall, proc = timed([str(exe), "scan", "--dir", str(directory)])
    lines = [line for line in proc.stdout.splitlines() if "denylisted" in line]
    if proc.returncode != 0:
        return wall, f"error (exit {proc.returncode})"
    text = "; ".join(lines) or proc.stdout.strip().splitlines()[-1:] and proc.stdout.strip().splitlines()[-1] or "?"
    if "contains the following denylisted ops" in text:
        return wall, "found " + ", ".join(sorted(set(text.split("{", 1)[1].split("}")[0].replace("'", "").split(", "))))
    return wall, "nothing found" if "does not contain" in text else text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    gs = graphsurgeon_exe()
    paths = model_set()
    with tempfile.TemporaryDirectory() as tmp:
        once = json.loads(timed([gs, "scan", *map(str, paths), "--json", "--jobs", "1"])[1].stdout)
        count = once["summary"]["models"]
        tree = replicate(paths, args.copies, Path(tmp))
        throughput = {}
        for jobs in (1, 2):
            walls = []
            for _ in range(args.runs):
                wall, proc = timed([gs, "scan", str(tree), "--json", "--jobs", str(jobs)])
                assert proc.returncode == 1, proc.stderr[-2000:]
                scanned = json.loads(proc.stdout)["summary"]["models"]
                walls.append(wall)
            throughput[jobs] = (scanned, statistics.median(walls), min(walls), max(walls))
        one_model = [timed([gs, "scan", str(r["model"]), "--jobs", "1"])[0] for r in once["models"][:5]]
    savedmodels = [r for r in once["models"] if r["format"] == "savedmodel"]
    cli_rows, cli_walls = [], []
    for record in savedmodels:
        wall, found = saved_model_cli(Path(record["model"]))
        cli_walls.append(wall)
        ours = ", ".join(sorted({f["type"] for f in record["findings"]
                                 if f["severity"] in ("medium", "high")})) or "nothing"
        cli_rows.append((record["model"], ours, found))

    date = datetime.date.today().isoformat()
    lines = [
        f"`python -m bench.bench_scan --runs {args.runs} --copies {args.copies}` ({date}, {machine()}).",
        f"The set: the fixtures, the shared corpus and the attack corpus of `tests/scan_attacks.py` "
        f"({count} models: SavedModels, meta graphs, frozen and text GraphDefs, a `.keras` archive).",
        f"Throughput: `graphsurgeon scan DIR --json` on {args.copies} copies of the set, one cold process "
        f"(start-up included), median (min-max) of {args.runs} runs. The target (issue 14): 20 models/s on 2 cores.",
        "",
        "| tool | models | wall time | models/s |",
        "|---|---|---|---|",
    ]
    for jobs, (scanned, median, low, high) in throughput.items():
        lines.append(f"| graphsurgeon scan --jobs {jobs} | {scanned} | {median:.2f} s ({low:.2f}-{high:.2f}) | "
                     f"**{scanned / median:.0f}** |")
    cli_median = statistics.median(cli_walls)
    lines.append(f"| saved_model_cli scan (one process per SavedModel) | {len(cli_walls)} | "
                 f"{sum(cli_walls):.1f} s in all, {cli_median:.2f} s each (median) | {1 / cli_median:.2f} |")
    lines += [
        "",
        f"One model in a cold process: graphsurgeon scan {statistics.median(one_model):.2f} s (median of "
        f"{len(one_model)}), saved_model_cli scan {cli_median:.2f} s (it imports TensorFlow).",
        "",
        "What each found on the same SavedModels (`scan`: op types at medium or high severity; "
        "`saved_model_cli scan`: its denylist, ReadFile, WriteFile and PrintV2):",
        "",
        "| SavedModel | graphsurgeon scan | saved_model_cli scan |",
        "|---|---|---|",
    ]
    for model, ours, theirs in cli_rows:
        name = Path(model).name
        lines.append(f"| {name} | {ours} | {theirs} |")
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        update_section("scan: is this model safe to load?", body)


if __name__ == "__main__":
    main()
