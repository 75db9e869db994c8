"""The README's examples run: its python blocks in order, its console commands."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, re.S)


def test_readme_starts_with_the_two_commands():
    first = BLOCKS[0]
    commands = [line.split("#")[0].strip() for line in first[1].splitlines() if line.strip()]
    assert commands == ["./dev.sh demo", "./dev.sh test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec ./dev.sh test" in ci


def test_python_examples_run(monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    code = [body for lang, body in BLOCKS if lang == "python"]
    assert code
    for body in code:
        exec(compile(body, "README.md", "exec"), namespace)
    assert "tensorflow" not in sys.modules or os.environ.get("GS_ALLOW_TF_IN_README")


def _console_commands():
    for lang, body in BLOCKS:
        if lang != "console":
            continue
        for line in body.splitlines():
            if line.startswith("$ graphsurgeon "):
                yield line[2:]


@pytest.mark.parametrize("command", list(_console_commands()))
def test_console_examples_run(command, tmp_path):
    argv = shlex.split(command)
    exe = Path(sys.executable).parent / "graphsurgeon"
    argv[0] = str(exe) if exe.exists() else argv[0]
    # Outputs go to a temporary directory, never into the repository.
    argv = [str(tmp_path / Path(a).name) if a.startswith("build/") else a for a in argv]
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() or any(p.exists() for p in tmp_path.iterdir())
    assert "Traceback" not in proc.stderr
