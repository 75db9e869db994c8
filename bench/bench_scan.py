"""``graphsurgeon scan`` beside modelscan and TensorFlow's ``saved_model_cli scan``: same models, same run.

Models: the fixtures, the shared corpus (``GS_CORPUS_DIR``), the two attack
corpora of ``tests/scan_attacks.py`` and ``tests/scan_corpus.py`` and the
ordinary models of the latter (built once with TensorFlow, cached under
``bench/.cache`` until those files change). Attacks must be flagged; the
fixtures, the corpus and the ordinary models must not (a flag there is a
false alarm).

- Throughput: ``graphsurgeon scan DIR --json`` on ``--copies`` copies of the
  whole set (distinct folders, so each is scanned), one cold process per
  run, ``--jobs 1`` and ``--jobs 2``; median of ``--runs``.
- Time per model: one cold process per model, the median over the models
  (graphsurgeon on the first ``--singles`` models of the set, modelscan on as
  many, ``saved_model_cli`` on every SavedModel: it reads nothing else).
- What each flags: graphsurgeon's verdict at its default threshold;
  modelscan (``pip install modelscan`` into the same environment; it is no
  dependency, and the comparison is left out, saying so, without it) run
  once per top folder, each model flagged when an issue's source lies in it;
  ``saved_model_cli scan --dir`` per SavedModel (its denylist).

    python -m bench.bench_scan [--runs 3] [--copies 10] [--singles 5] [--no-write]
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
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

CACHE = ROOT / "bench" / ".cache" / "scan_corpora"
_BUILDERS = (ROOT / "tests" / "scan_attacks.py", ROOT / "tests" / "scan_corpus.py")


def corpora() -> dict[str, tuple[Path, str]]:
    """``{label: (folder, "attack" | "ordinary")}``, the attack corpora built (or taken from the cache)."""
    sys.path.insert(0, str(ROOT / "tests"))
    import scan_attacks
    import scan_corpus

    stamp = hashlib.sha256(b"".join(p.read_bytes() for p in _BUILDERS)).hexdigest()[:16]
    if (CACHE / "stamp").read_text().strip() != stamp if (CACHE / "stamp").exists() else True:
        shutil.rmtree(CACHE, ignore_errors=True)
        scan_attacks.build(CACHE / "attacks1", CACHE / "target1")
        scan_corpus.build(CACHE / "attacks2", CACHE / "ordinary2", CACHE / "target2")
        (CACHE / "stamp").write_text(stamp)
    out = {"fixtures": (ROOT / "fixtures" / "models", "ordinary"),
           "attacks (tests/scan_attacks.py)": (CACHE / "attacks1", "attack"),
           "attacks (tests/scan_corpus.py)": (CACHE / "attacks2", "attack"),
           "ordinary (tests/scan_corpus.py)": (CACHE / "ordinary2", "ordinary")}
    corpus = Path(os.environ.get("GS_CORPUS_DIR") or ROOT.parent / "shared" / "corpus")
    if corpus.is_dir():
        out["shared corpus"] = (corpus, "ordinary")
    return out


def timed(argv) -> tuple[float, subprocess.CompletedProcess]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, env=env, timeout=3600)
    return time.perf_counter() - start, proc


def replicate(paths: list[Path], copies: int, into: Path) -> Path:
    for i in range(copies):
        for n, path in enumerate(paths):
            shutil.copytree(path, into / f"copy{i}" / f"{n}_{path.name}", symlinks=True)
    return into


def _top(model: str, folder: Path) -> str:
    """The name of the model's entry in ``folder`` (a corpus's models sit one level down, or two for a .meta)."""
    return Path(model).relative_to(folder).parts[0]


def modelscan_exe() -> Path | None:
    exe = Path(PYTHON).parent / "modelscan"
    return exe if exe.exists() else None


def modelscan_flags(exe: Path, folder: Path) -> tuple[dict, dict]:
    """``({entry: [operators]}, {entry: error})`` of one modelscan run over ``folder``."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        _, proc = timed([exe, "-p", folder, "-r", "json", "-o", report])
        if not report.exists():
            raise RuntimeError(f"modelscan wrote no report for {folder}: {proc.stderr[-2000:]}")
        data = json.loads(report.read_text())
    flags: dict[str, list] = {}
    for issue in data.get("issues", []):
        entry = issue["source"].split(":", 1)[0].split("/", 1)[0]
        flags.setdefault(entry, []).append(issue["operator"])
    errors = {}
    for error in data.get("errors", []):
        source = str(error.get("source") or "")
        errors[source.split(":", 1)[0].split("/", 1)[0]] = error.get("description") or "error"
    return flags, errors


def saved_model_cli(directory: Path) -> tuple[float, str | None]:
    """Wall time and the denylisted ops ``saved_model_cli scan`` names (None: nothing; "error ...")."""
    exe = Path(PYTHON).parent / "saved_model_cli"
    wall, proc = timed([exe, "scan", "--dir", directory])
    if proc.returncode != 0:
        return wall, f"error (exit {proc.returncode})"
    text = proc.stdout
    if "contains the following denylisted ops" in text:
        return wall, ", ".join(sorted(set(text.split("{", 1)[1].split("}")[0].replace("'", "").split(", "))))
    return wall, None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--singles", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    gs = graphsurgeon_exe()
    sets = corpora()
    paths = [folder for folder, _ in sets.values()]
    _, proc = timed([gs, "scan", *paths, "--json", "--jobs", "1"])
    report = json.loads(proc.stdout)
    rows = []  # (label, kind, entry, model path, record)
    for record in report["models"]:
        for label, (folder, kind) in sets.items():
            if Path(record["model"]).is_relative_to(folder):
                rows.append((label, kind, _top(record["model"], folder), record))
                break
    count = len(rows)

    with tempfile.TemporaryDirectory() as tmp:
        tree = replicate(paths, args.copies, Path(tmp))
        throughput = {}
        for jobs in (1, 2):
            walls = []
            for _ in range(args.runs):
                wall, proc = timed([gs, "scan", tree, "--json", "--jobs", jobs])
                assert proc.returncode == 1, proc.stderr[-2000:]
                scanned = json.loads(proc.stdout)["summary"]["models"]
                walls.append(wall)
            throughput[jobs] = (scanned, statistics.median(walls), min(walls), max(walls))
    singles = [r for r in rows][:: max(1, count // args.singles)][: args.singles]
    gs_single = statistics.median(timed([gs, "scan", r[3]["model"], "--jobs", "1"])[0] for r in singles)

    ms = modelscan_exe()
    ms_flags, ms_errors, ms_single = {}, {}, None
    if ms is not None:
        for label, (folder, _) in sets.items():
            flags, errors = modelscan_flags(ms, folder)
            ms_flags[label], ms_errors[label] = flags, errors
        ms_single = statistics.median(timed([ms, "-p", r[3]["model"], "-r", "json", "-o", os.devnull])[0]
                                      for r in singles)
    cli_found, cli_walls = {}, []
    for label, kind, entry, record in rows:
        if record["format"] == "savedmodel":
            wall, found = saved_model_cli(Path(record["model"]))
            cli_walls.append(wall)
            cli_found[record["model"]] = found

    def verdicts(label, kind, entry, record):
        ours = record["verdict"] == "fail"
        theirs = None if ms is None else (entry in ms_flags[label], entry in ms_errors[label])
        cli = cli_found.get(record["model"], "n/a")
        return ours, theirs, cli

    table = {"graphsurgeon scan": [0, 0, 0, 0], "modelscan": [0, 0, 0, 0], "saved_model_cli scan": [0, 0, 0, 0]}
    attacks = sum(1 for r in rows if r[1] == "attack")
    ordinary = count - attacks
    detail = []
    for label, kind, entry, record in rows:
        ours, theirs, cli = verdicts(label, kind, entry, record)
        column = 0 if kind == "attack" else 2
        table["graphsurgeon scan"][column] += ours
        table["graphsurgeon scan"][column + 1] += record["error"] is not None
        if theirs is not None:
            table["modelscan"][column] += theirs[0]
            table["modelscan"][column + 1] += theirs[1]
        if cli == "n/a":
            table["saved_model_cli scan"][column + 1] += 1
        elif cli is not None and not cli.startswith("error"):
            table["saved_model_cli scan"][column] += 1
        if kind == "attack":
            worst = [f for f in record["findings"] if f["severity"] in ("medium", "high")]
            detail.append((entry, f"{worst[0]['severity']}: {worst[0]['type']}" if worst else "pass",
                           "-" if theirs is None else (", ".join(sorted(set(ms_flags[label][entry])))
                                                       if theirs[0] else "pass"),
                           "cannot read" if cli == "n/a" else (cli or "pass")))

    date = datetime.date.today().isoformat()
    scanned, median, low, high = throughput[2]
    lines = [
        f"`python -m bench.bench_scan --runs {args.runs} --copies {args.copies} --singles {args.singles}` "
        f"({date}, {machine()}; the machine is shared with other work: read medians and ratios).",
        f"The set: {count} models, {attacks} attacks ({', '.join(k for k, v in sets.items() if v[1] == 'attack')}) "
        f"and {ordinary} ordinary models ({', '.join(k for k, v in sets.items() if v[1] == 'ordinary')}): "
        "SavedModels TF1 and TF2, meta graphs, frozen and text GraphDefs, Keras `.keras` and `.h5`, `.zip` and "
        "`.tar.gz` archives.",
        "",
        "| tool | attacks flagged | attacks unreadable | ordinary models flagged (false alarms) | ordinary unreadable "
        "| time per model (cold process, median) |",
        "|---|---|---|---|---|---|",
        f"| graphsurgeon scan | **{table['graphsurgeon scan'][0]} / {attacks}** | {table['graphsurgeon scan'][1]} | "
        f"**{table['graphsurgeon scan'][2]} / {ordinary}** | {table['graphsurgeon scan'][3]} | {gs_single:.2f} s |",
    ]
    if ms is not None:
        lines.append(f"| modelscan {_version(ms)} | {table['modelscan'][0]} / {attacks} | {table['modelscan'][1]} | "
                     f"{table['modelscan'][2]} / {ordinary} | {table['modelscan'][3]} | {ms_single:.2f} s |")
    else:
        lines.append("| modelscan | not installed (`pip install modelscan`) | | | | |")
    lines.append(f"| saved_model_cli scan (TensorFlow) | {table['saved_model_cli scan'][0]} / {attacks} | "
                 f"{table['saved_model_cli scan'][1]} (not SavedModels) | {table['saved_model_cli scan'][2]} / "
                 f"{ordinary} | {table['saved_model_cli scan'][3]} (not SavedModels) | "
                 f"{statistics.median(cli_walls):.2f} s |")
    lines += [
        "",
        f"Throughput: `graphsurgeon scan DIR --json` over {args.copies} copies of the set, one cold process "
        f"(start-up included), median (min-max) of {args.runs} runs. The bar (issue 25): 100 models/s on 2 cores, "
        "without TensorFlow.",
        "",
        "| command | models | wall time | models/s |",
        "|---|---|---|---|",
    ]
    for jobs, (scanned, median, low, high) in throughput.items():
        lines.append(f"| graphsurgeon scan --jobs {jobs} | {scanned} | {median:.2f} s ({low:.2f}-{high:.2f}) | "
                     f"**{scanned / median:.0f}** |")
    lines += [
        "",
        "What each flags on every attack (graphsurgeon: its most severe finding at medium or above; modelscan: "
        "the operators it names; saved_model_cli: its denylist):",
        "",
        "| attack | graphsurgeon scan | modelscan | saved_model_cli scan |",
        "|---|---|---|---|",
    ]
    lines += [f"| {entry} | {ours} | {theirs} | {cli} |" for entry, ours, theirs, cli in detail]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        update_section("scan: is this model safe to load?", body)


def _version(exe: Path) -> str:
    _, proc = timed([exe, "--version"])
    text = (proc.stdout or proc.stderr).strip().splitlines()
    return text[-1].split()[-1] if text else ""


if __name__ == "__main__":
    main()
