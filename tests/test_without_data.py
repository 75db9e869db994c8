"""A fresh clone has neither MNIST nor the corpus: the suite must still pass, skipping what needs them.

Runs a few tests that need the data in a child pytest with the data switched
off (``GS_MNIST_DIR`` and ``GS_CORPUS_DIR`` set empty, ``CI`` unset, an empty
trainer cache), and checks each one skips and says why, while the one that
compares collections with TensorFlow over fixtures and corpus still runs and
passes on the fixtures alone. About 15 s.
"""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

from _support import ROOT

# node id -> what it must do without the data: "passed", or "skipped" with these words in the reason
EXPECTED = {
    "tests/test_collections.py::test_collections_equal_tensorflows_for_every_fixture_and_corpus_model": "passed",
    "tests/test_mnist_data.py::test_load_mnist_shapes_and_values": "GS_MNIST_DIR not set",
    "tests/test_cli_read.py::test_bad_input_gives_one_error_line": "GS_CORPUS_DIR not set",
    "tests/test_freeze.py::test_corpus_freezes_and_verifies": "GS_CORPUS_DIR not set",
    "tests/test_rehead.py::test_fine_tuning_from_the_checkpoint_beats_training_from_scratch": "GS_MNIST_DIR not set",
    "tests/test_readme.py::test_the_chapters_workflow_runs": "GS_MNIST_DIR not set",
}


def test_data_needing_tests_skip_and_say_why_without_the_data(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(GS_MNIST_DIR="", GS_CORPUS_DIR="", GS_CACHE_DIR=str(tmp_path / "cache"))
    report = tmp_path / "report.xml"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                           *EXPECTED], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert report.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    outcomes: dict[str, list[str]] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        node = f"{case.get('classname').replace('.', '/')}.py::{case.get('name').split('[')[0]}"
        skipped = case.find("skipped")
        failed = case.find("failure") if case.find("failure") is not None else case.find("error")
        outcome = "failed" if failed is not None else \
            f"skipped: {skipped.get('message')}" if skipped is not None else "passed"
        outcomes.setdefault(node, []).append(outcome)
    assert proc.returncode == 0, outcomes
    for node, want in EXPECTED.items():
        got = outcomes.get(node)
        assert got, f"{node} did not run"
        if want == "passed":
            assert got == ["passed"], (node, got)
        else:
            assert all(o.startswith("skipped") and want in o for o in got), (node, got)
