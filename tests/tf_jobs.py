"""The job loop of the scripts that run TensorFlow for a test in a subprocess (tf_roundtrip, tf_serving).

``python tests/SCRIPT.py JOBS.json OUT.json``: each job (a JSON object) goes
to the script's ``run``; its result, or ``{"error": ...}`` when it raised,
is written to OUT.json in order, for the test to check (and fail on).
"""
from __future__ import annotations

import json


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
