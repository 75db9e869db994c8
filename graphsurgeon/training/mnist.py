"""The MNIST test set (standard IDX files, gzipped or not), read without TensorFlow.

``--verify`` runs a graph and its rewrite on real images when a graph takes
784-pixel images and the test set can be found.
"""
from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

from ..errors import FormatError
from ..formats.protofile import read_file

MNIST_TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def mnist_dirs(data_dir=None) -> list[Path]:
    """Where the MNIST test set is looked for, in order: ``data_dir`` (else ``GS_MNIST_DIR``),
    then the cache the trainer downloads to (``$GS_CACHE_DIR/mnist``, default
    ``~/.cache/graphsurgeon/mnist``)."""
    out = []
    directory = data_dir or os.environ.get("GS_MNIST_DIR")
    if directory:
        out.append(Path(directory))
    cache = os.environ.get("GS_CACHE_DIR")
    out.append((Path(cache) if cache else Path.home() / ".cache" / "graphsurgeon") / "mnist")
    return out


def find_mnist_test_set(data_dir=None) -> Path | None:
    """The first of :func:`mnist_dirs` holding both test files (gzipped or not), or None."""
    for directory in mnist_dirs(data_dir):
        if all((directory / name).is_file() or (directory / (name + ".gz")).is_file()
               for name in MNIST_TEST_FILES):
            return directory
    return None


def mnist_test_set(data_dir=None):
    """The 10,000 MNIST test images (float32 ``[N, 784]`` in [0, 1]) and labels (int64), or None.

    Reads ``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte`` (gzipped
    or not) from the first of :func:`mnist_dirs` that has them; None when
    none has.
    """
    import numpy as np

    directory = find_mnist_test_set(data_dir)
    if directory is None:
        return None
    arrays = []
    for name, magic in zip(MNIST_TEST_FILES, (2051, 2049)):
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
