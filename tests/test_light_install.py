"""``pip install graphsurgeon`` installs no TensorFlow, and everything that only reads works without it.

The wheel is built from this checkout and installed into a fresh virtual
environment with its ordinary dependencies (from the package registry or
pip's cache). ``ls``, ``info``, ``render --format dot`` and ``scan`` run
there; a command that needs TensorFlow says so in one line naming the
``graphsurgeon[tensorflow]`` extra.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from _support import ROOT

FIXTURE = ROOT / "fixtures" / "models" / "mnist_bn_elu_tf1" / "model.ckpt.meta"


def _run(argv, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, env=env,
                          **kwargs)


def _size_mib(path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total / 2**20


@pytest.mark.slow
def test_the_wheel_installs_without_tensorflow_and_reads(tmp_path):
    start = time.perf_counter()
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
                  "-w", tmp_path / "dist", ROOT], cwd=tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("graphsurgeon-*.whl")
    venv = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", venv]).returncode == 0
    python, exe = venv / "bin" / "python", venv / "bin" / "graphsurgeon"
    installed = _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel],
                     timeout=600, cwd=tmp_path)
    assert installed.returncode == 0, installed.stderr[-3000:]
    elapsed = time.perf_counter() - start
    listed = _run([python, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"]).stdout.lower()
    assert "tensorflow==" not in listed and "tensorflow-cpu==" not in listed and "keras==" not in listed
    assert _run([python, "-c", "import tensorflow"]).returncode != 0
    print(f"\nTensorFlow-free install: {_size_mib(venv):.0f} MiB venv, {elapsed:.0f} s to build and install")

    for argv in (["ls", FIXTURE], ["info", FIXTURE], ["render", FIXTURE, "--format", "dot", "-o", tmp_path / "g.dot"],
                 ["scan", ROOT / "fixtures" / "models"]):
        proc = _run([exe, *argv], cwd=tmp_path)
        assert proc.returncode == 0, (argv, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
    assert (tmp_path / "g.dot").read_text().startswith(("digraph", "strict digraph"))
    scanned = _run([exe, "scan", ROOT / "fixtures" / "models", "--json"], cwd=tmp_path)
    assert '"status": 0' in scanned.stdout

    needs_tf = _run([exe, "freeze", FIXTURE, "--outputs", "logits", "-o", tmp_path / "f.pb", "--verify"],
                    cwd=tmp_path)
    lines = needs_tf.stderr.strip().splitlines()
    assert needs_tf.returncode == 1 and len(lines) == 1, needs_tf.stderr
    assert lines[0].startswith("error: ") and "graphsurgeon[tensorflow]" in lines[0]
    assert not (tmp_path / "f.pb").exists()
