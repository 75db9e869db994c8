"""The job loop of the scripts that run TensorFlow for a test in a subprocess (tf_roundtrip, tf_serving).

``python tests/SCRIPT.py JOBS.json OUT.json``: each job (a JSON object) goes
to the script's ``run``; its result, or ``{"error": ...}`` when it raised,
is written to OUT.json in order, for the test to check (and fail on).
:func:`in_subprocess` is the test's side: it writes the jobs, runs the script
and reads the results.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run_jobs(run, argv) -> int:
    with open(argv[0]) as f:
        jobs = json.load(f)
    results = []
    for job in jobs:
        try:
            results.append(run(job))
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
            results.append({"error": f"{type(exc).__name__}: {exc}"})
    with open(argv[1], "w") as f:
        json.dump(results, f)
    return 0


def in_subprocess(script, jobs: list, tmp_path, stem: str) -> list:
    """Run ``jobs`` through ``script`` in one TensorFlow subprocess (niced); the results, in order.

    A crash of the script fails the calling test with its stderr; a job that raised is an ``error`` result.
    """
    tmp_path = Path(tmp_path)
    jobs_file, out_file = tmp_path / f"{stem}_jobs.json", tmp_path / f"{stem}_out.json"
    jobs_file.write_text(json.dumps(jobs))
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(root)}
    proc = subprocess.run(["nice", "-n", "10", sys.executable, str(script), str(jobs_file), str(out_file)],
                          capture_output=True, text=True, env=env, cwd=root, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out_file.read_text())
