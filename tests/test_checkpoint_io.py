"""Checkpoints without TensorFlow: the V1 reader and the V2 writer, against TensorFlow's own reader.

TensorFlow runs in a subprocess (the oracle); this module stays TF-free.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _support import CORPUS_DIR, FIXTURES
from graphsurgeon.formats.bundle import BundleReader
from graphsurgeon.formats.checkpoint import latest_prefix, open_checkpoint
from graphsurgeon.formats.bundle_writer import BundleWriter
from graphsurgeon.formats.v1_checkpoint import V1CheckpointReader

_ORACLE = r"""
import json, sys
import tensorflow as tf
out = {}
for prefix in sys.argv[1:]:
    r = tf.train.load_checkpoint(prefix)
    dtypes = r.get_variable_to_dtype_map()
    out[prefix] = {k: [dtypes[k].name, list(v), r.get_tensor(k).tolist() if hasattr(r.get_tensor(k), "tolist")
                       else repr(r.get_tensor(k))] for k, v in r.get_variable_to_shape_map().items()}
print(json.dumps(out))
"""


def _oracle(prefixes) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.run([sys.executable, "-c", _ORACLE, *map(str, prefixes)], capture_output=True, text=True,
                         env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def _v1_checkpoints() -> list[Path]:
    if CORPUS_DIR is None:
        return []
    out = []
    for state in sorted(CORPUS_DIR.glob("**/checkpoint")):
        prefix = latest_prefix(state.parent)
        if prefix and not Path(prefix + ".index").exists() and Path(prefix).is_file():
            out.append(Path(prefix))
    return out


def test_v1_reader_matches_tensorflow(corpus_dir):
    prefixes = _v1_checkpoints()
    assert prefixes, "the corpus holds a V1 checkpoint (gknoblau_v1_ckpt)"
    expected = _oracle(prefixes)
    for prefix in prefixes:
        reader = open_checkpoint(prefix)
        assert isinstance(reader, V1CheckpointReader)
        want = expected[str(prefix)]
        assert sorted(want) == reader.keys()
        for name, (dtype, shape, value) in want.items():
            assert reader.dtype(name) == dtype and list(reader.shape(name)) == shape, name
            assert np.array_equal(reader.read(name), np.array(value, dtype=reader.read(name).dtype)), name


def test_bundle_writer_copy_reads_back_in_tensorflow(tmp_path):
    source = FIXTURES / "mnist_bn_elu_tf1" / "model.ckpt"
    if not Path(str(source) + ".index").exists():
        pytest.skip("fixture checkpoint not built")
    out = tmp_path / "copy"
    extra = np.arange(6, dtype="<f4").reshape(3, 2)
    with BundleReader(source) as reader, BundleWriter(out) as writer:
        for name in reader.keys():
            writer.add_entry(name, reader.entry(name), reader.stored_bytes(name))
        writer.add("extra/value", "float32", extra.shape, extra.tobytes())
    got = _oracle([out, source])
    copy, original = got[str(out)], got[str(source)]
    assert copy.pop("extra/value") == ["float32", [3, 2], extra.tolist()]
    assert copy == original  # every tensor, dtype, shape and value as TensorFlow reads it
    with BundleReader(out) as reader:
        assert np.array_equal(reader.read("extra/value"), extra)


def test_bundle_writer_leaves_nothing_when_interrupted(tmp_path):
    out = tmp_path / "broken"
    with pytest.raises(RuntimeError):
        with BundleWriter(out) as writer:
            writer.add("a", "float32", (1,), b"\0\0\0\0")
            raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []
