"""fixtures.mnist: reading, verifying and downloading MNIST (no TensorFlow)."""
from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from _support import ROOT
from fixtures import mnist
from fixtures.mnist import FILES, MnistError, load_mnist, parse_digits

# Hand-checked facts (../shared/data/mnist/SOURCE.md).
TRAIN_HIST = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_HIST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_load_mnist_shapes_and_values(mnist_dir):
    X_train, y_train, X_test, y_test = load_mnist(mnist_dir)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= X_train.min() and X_train.max() == 1.0
    assert np.bincount(y_train).tolist() == TRAIN_HIST
    assert np.bincount(y_test).tolist() == TEST_HIST
    assert abs(float(X_train.mean()) - 0.1306604763) < 1e-6


def test_sha256_constants_match_shared_source(mnist_dir):
    source = (Path(mnist_dir) / "SOURCE.md")
    if not source.exists():
        pytest.skip("no SOURCE.md beside the MNIST files")
    text = source.read_text()
    for name, digest in mnist.SHA256.items():
        assert digest in text, name


@pytest.mark.parametrize(
    "spec, digits",
    [(None, list(range(10))), ("0-4", [0, 1, 2, 3, 4]), ("5,6,7", [5, 6, 7]), ("0-1,8", [0, 1, 8])],
)
def test_parse_digits(spec, digits):
    assert parse_digits(spec) == digits


@pytest.mark.parametrize("spec", ["x", "3-12", "-1"])
def test_parse_digits_rejects(spec):
    with pytest.raises(MnistError):
        parse_digits(spec)


class _Server:
    """A local http.server on 127.0.0.1 serving ``directory``, in a thread."""

    def __init__(self, directory: Path):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mnist/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _mirror_tree(tmp_path: Path, mnist_dir: Path) -> Path:
    """tmp/www/mnist/NAME.gz -> the shared files (symlinks, nothing copied into the repo)."""
    www = tmp_path / "www"
    (www / "mnist").mkdir(parents=True)
    for name in FILES:
        (www / "mnist" / f"{name}.gz").symlink_to(Path(mnist_dir) / f"{name}.gz")
    return www


def test_download_from_local_mirror_into_cache(tmp_path, mnist_dir, monkeypatch):
    www = _mirror_tree(tmp_path, mnist_dir)
    monkeypatch.delenv("GS_MNIST_DIR", raising=False)
    monkeypatch.setenv("GS_CACHE_DIR", str(tmp_path / "cache"))
    with _Server(www) as server:
        monkeypatch.setenv("GS_MNIST_MIRROR", "http://127.0.0.1:9/nothing-here/ " + server.url)
        X_train, y_train, X_test, y_test = load_mnist()
    cached = tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in cached.iterdir()) == sorted(f"{n}.gz" for n in FILES)
    for name in FILES:
        assert hashlib.sha256(gzip.decompress((cached / f"{name}.gz").read_bytes())).hexdigest() == mnist.SHA256[name]
    assert X_train.shape == (60000, 784) and np.bincount(y_test).tolist() == TEST_HIST
    # Second call: served from the cache, no server needed.
    monkeypatch.setenv("GS_MNIST_MIRROR", "http://127.0.0.1:9/")
    assert load_mnist()[3].shape == (10000,)


def test_download_of_corrupt_file_is_a_clear_error(tmp_path, mnist_dir):
    www = tmp_path / "www"
    (www / "mnist").mkdir(parents=True)
    good = gzip.decompress((Path(mnist_dir) / "t10k-labels-idx1-ubyte.gz").read_bytes())
    bad = bytearray(good)
    bad[100] ^= 0xFF  # one flipped byte: gzip fine, content wrong
    (www / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(bad)))
    cache = tmp_path / "cache"
    with _Server(www) as server, pytest.raises(MnistError) as info:
        mnist.download(cache, mirrors=[server.url], names=["t10k-labels-idx1-ubyte"])
    message = str(info.value)
    assert "t10k-labels-idx1-ubyte.gz" in message and "corrupt" in message
    assert list(cache.iterdir()) == []  # nothing corrupt left in the cache


def _data_dir_with(tmp_path: Path, mnist_dir: Path, skip: str | None = None) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    for name in FILES:
        if name != skip:
            (data / f"{name}.gz").symlink_to(Path(mnist_dir) / f"{name}.gz")
    return data


def _run_trainer(data: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "fixtures.train", "--data", str(data), "--epochs", "1",
         "--out", str(data.parent / "out")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def _assert_one_line_error(proc: subprocess.CompletedProcess, name: str) -> None:
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert name in proc.stderr


def test_cli_missing_file(tmp_path, mnist_dir):
    data = _data_dir_with(tmp_path, mnist_dir, skip="train-labels-idx1-ubyte")
    _assert_one_line_error(_run_trainer(data), "train-labels-idx1-ubyte")


def test_cli_corrupt_file(tmp_path, mnist_dir):
    data = _data_dir_with(tmp_path, mnist_dir, skip="t10k-images-idx3-ubyte")
    raw = (Path(mnist_dir) / "t10k-images-idx3-ubyte.gz").read_bytes()
    (data / "t10k-images-idx3-ubyte.gz").write_bytes(raw[: len(raw) // 2])  # truncated download
    proc = _run_trainer(data)
    _assert_one_line_error(proc, "t10k-images-idx3-ubyte.gz")
    assert "corrupt" in proc.stderr


def test_cli_uncompressed_file_with_wrong_content(tmp_path, mnist_dir):
    data = _data_dir_with(tmp_path, mnist_dir, skip="t10k-labels-idx1-ubyte")
    (data / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + b"\x00" * 100)
    _assert_one_line_error(_run_trainer(data), "t10k-labels-idx1-ubyte")
