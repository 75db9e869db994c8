"""MNIST (standard IDX files, gzipped or not), read without TensorFlow and without the network.

``--verify`` runs a graph and its rewrite on real images when a graph takes
784-pixel images and the test set can be found; :func:`load_mnist` gives
scripts the whole data set from the same places, whatever their working
directory (the chapter's step 3 in the README). ``python -m fixtures.train``
downloads the files into the cache (checked against their sha256).
"""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

from ..cache import cache_root
from ..errors import FormatError
from ..formats.protofile import read_file

MNIST_TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
MNIST_TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")


def mnist_dirs(data_dir=None) -> list[Path]:
    """Where the MNIST test set is looked for, in order: ``data_dir`` (else ``GS_MNIST_DIR``),
    then the cache the trainer downloads to (``mnist/`` in :func:`graphsurgeon.cache.cache_root`,
    ``~/.cache/graphsurgeon/mnist`` by default; none when ``GS_CACHE_DIR`` is empty)."""
    out = []
    directory = data_dir or os.environ.get("GS_MNIST_DIR")
    if directory:
        out.append(Path(directory))
    cache = cache_root()
    if cache is not None:
        out.append(cache / "mnist")
    return out


def find_mnist_test_set(data_dir=None, files=MNIST_TEST_FILES) -> Path | None:
    """The first of :func:`mnist_dirs` holding ``files`` (gzipped or not; default the test set), or None."""
    for directory in mnist_dirs(data_dir):
        if all((directory / name).is_file() or (directory / (name + ".gz")).is_file() for name in files):
            return directory
    return None


def mnist_test_set(data_dir=None):
    """The 10,000 MNIST test images (float32 ``[N, 784]`` in [0, 1]) and labels (int64), or None.

    Reads ``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte`` (gzipped
    or not) from the first of :func:`mnist_dirs` that has them; None when
    none has.
    """
    directory = find_mnist_test_set(data_dir)
    return None if directory is None else _read_pair(directory, MNIST_TEST_FILES)


def load_mnist(data_dir=None):
    """``X_train, y_train, X_test, y_test``: images float32 ``[N, 784]`` in [0, 1], labels int64.

    From the first of :func:`mnist_dirs` holding the four files.

    Raises:
        FormatError: they are nowhere (saying where they were looked for and
            how to get them), or one is not an MNIST IDX file.
    """
    files = MNIST_TRAIN_FILES + MNIST_TEST_FILES
    directory = find_mnist_test_set(data_dir, files)
    if directory is None:
        places = ", ".join(str(d) for d in mnist_dirs(data_dir))
        raise FormatError(places, "no MNIST files (train-* and t10k-*-ubyte, gzipped or not) here",
                          hint="python -m fixtures.train downloads them into the cache, or set GS_MNIST_DIR")
    return (*_read_pair(directory, MNIST_TRAIN_FILES), *_read_pair(directory, MNIST_TEST_FILES))


def _read_pair(directory: Path, files):
    import numpy as np

    arrays = []
    for name, magic in zip(files, (2051, 2049)):
        for candidate in (directory / name, directory / (name + ".gz")):
            if candidate.is_file():
                raw = read_file(candidate)
                if candidate.suffix == ".gz":
                    raw = gzip.decompress(raw)
                break
        if struct.unpack(">I", raw[:4])[0] != magic:
            raise FormatError(candidate, "not an MNIST IDX file")
        if magic == 2051:
            n, rows, cols = struct.unpack(">III", raw[4:16])
            arrays.append(np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows * cols).astype(np.float32) / 255.0)
        else:
            arrays.append(np.frombuffer(raw, np.uint8, offset=8).astype(np.int64))
    return arrays[0], arrays[1]
