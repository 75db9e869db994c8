"""The long fuzzing mode: thousands of damaged models per format (``pytest --fuzz``).

For each format (binary ``.meta``, SavedModel ``saved_model.pb``, binary
GraphDef ``.pb``, text ``.pbtxt``, checkpoint ``.index`` and ``.data``), at
least ``GS_FUZZ_MUTANTS`` (default 2,000) seeded mutants of the fixture and
corpus files of that format -- truncations, byte and bit flips, spliced
regions, text syntax damage, and semantic damage to the parsed graph -- are
run through every read entry point (:func:`tests.fuzzlib.exercise`), the
checkpoint reader, and every 25th through every reading CLI command.

Each target runs in its own worker process under ``RLIMIT_AS`` (a
``MemoryError`` there is a failure, not a swapped machine) and a wall-clock
bound; a worker that dies is a failure naming the mutant it was on. Failing
mutants are kept under the run's directory to reproduce them. The counts are
written to ``$GS_FUZZ_REPORT`` (JSON) when set.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import fuzzlib

pytestmark = pytest.mark.fuzz

FORMATS = ("meta", "savedmodel", "graphdef", "pbtxt", "index", "data")
MUTANTS = int(os.environ.get("GS_FUZZ_MUTANTS", "2000"))
SEED = int(os.environ.get("GS_FUZZ_SEED", "20261129"))
CLI_EVERY = 25
WORKERS = 2


def _run_worker(target: fuzzlib.Target, count: int, workdir: Path) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    key = f"{target.name}|{target.file}"
    # Generous wall-clock bound: CASE_SECONDS per mutant would be a hang in every case.
    timeout = 120 + count * 2
    cmd = [sys.executable, str(Path(fuzzlib.__file__)), "worker", key, str(count), str(SEED), str(workdir),
           str(CLI_EVERY)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(fuzzlib.ROOT))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        died = proc.returncode != 0
        detail = (proc.stderr or "")[-1500:]
    except subprocess.TimeoutExpired:
        died, detail = True, f"worker ran past {timeout} s"
    result_file = workdir / "result.json"
    if not died and result_file.is_file():
        return json.loads(result_file.read_text())
    last = None
    progress = workdir / "progress.jsonl"
    if progress.is_file():
        lines = progress.read_text().splitlines()
        last = json.loads(lines[-1]) if lines else None
    return {"target": target.name, "kind": target.kind, "mutants": 0, "ok": 0, "error": 0, "cli_runs": 0,
            "seconds": 0, "failures": [{"index": last and last["start"], "mutator": last and last["mutator"],
                                        "problem": f"worker died: {detail}"}]}


@pytest.mark.parametrize("fmt", FORMATS)
def test_fuzz_format(fmt, tmp_path):
    targets = [t for t in fuzzlib.all_targets() if t.kind == fmt]
    if not targets:
        pytest.fail(f"no {fmt} models to fuzz (fixtures and corpus missing?)")
    per_target = math.ceil(MUTANTS / len(targets))
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda it: _run_worker(it[1], per_target, tmp_path / f"w{it[0]}"),
                                enumerate(targets)))
    total = {"format": fmt, "targets": len(targets), "mutants": sum(r["mutants"] for r in results),
             "ok": sum(r["ok"] for r in results), "clean_errors": sum(r["error"] for r in results),
             "cli_runs": sum(r["cli_runs"] for r in results),
             "failures": [dict(f, target=r["target"]) for r in results for f in r["failures"]],
             "seconds": round(sum(r["seconds"] for r in results), 1)}
    report = os.environ.get("GS_FUZZ_REPORT")
    if report:
        with open(report, "a") as handle:
            handle.write(json.dumps(total) + "\n")
    print(json.dumps({k: v for k, v in total.items() if k != "failures"}))
    assert not total["failures"], json.dumps(total["failures"][:10], indent=1)
    assert total["mutants"] >= MUTANTS
