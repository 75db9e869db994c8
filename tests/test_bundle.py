"""The TF-free V2 checkpoint reader against TensorFlow's own reader.

Every tensor of every V2 checkpoint in the fixtures and the corpus must come
back exactly as ``tf.train.load_checkpoint`` returns it (TensorFlow runs in a
subprocess so this module stays TF-free), and damage must be caught.
"""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _support import CORPUS_DIR, FIXTURES
from graphsurgeon.errors import FormatError, NotFoundError
from graphsurgeon.formats import bundle
from graphsurgeon.formats.bundle import BundleReader, snappy_decompress
from graphsurgeon.formats.checkpoint import open_checkpoint


def _fixture_checkpoints() -> list[Path]:
    manifest = FIXTURES / "manifest.json"
    if not manifest.is_file():
        return []
    out = []
    for name, info in json.loads(manifest.read_text())["models"].items():
        if info.get("checkpoint"):
            out.append(FIXTURES / info["checkpoint"])
        elif (FIXTURES / name / "variables" / "variables.index").exists() or info.get("format", "").startswith(
                "savedmodel"):
            out.append(FIXTURES / name / "variables" / "variables")
    return out


def _corpus_checkpoints() -> list[Path]:
    if CORPUS_DIR is None:
        return []
    return sorted(Path(str(p)[: -len(".index")]) for p in CORPUS_DIR.glob("**/*.index"))


CHECKPOINTS = _fixture_checkpoints() + _corpus_checkpoints()

_ORACLE = r"""
import os, pickle, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
out = {}
for prefix in sys.argv[2:]:
    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    out[prefix] = {k: (dtypes[k].name, reader.get_tensor(k)) for k in reader.get_variable_to_shape_map()}
with open(sys.argv[1], "wb") as f:
    pickle.dump(out, f)
"""


@pytest.fixture(scope="module")
def tf_values(tmp_path_factory):
    if not CHECKPOINTS:
        pytest.skip("no V2 checkpoints (fixtures and corpus missing)")
    out = tmp_path_factory.mktemp("oracle") / "values.pkl"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.run([sys.executable, "-c", _ORACLE, str(out)] + [str(p) for p in CHECKPOINTS],
                   check=True, env=env, timeout=600)
    with open(out, "rb") as f:
        return pickle.load(f)


def test_fixture_checkpoints_are_listed():
    # A manifest that lists models we cannot find is a failure, not a skip.
    for prefix in _fixture_checkpoints():
        assert Path(str(prefix) + ".index").is_file(), f"{prefix}: listed in the manifest but missing"


@pytest.mark.parametrize("prefix", CHECKPOINTS, ids=lambda p: str(p.relative_to(p.parents[2])))
def test_reader_matches_tensorflow(prefix, tf_values):
    expected = tf_values[str(prefix)]
    with BundleReader(prefix) as reader:
        assert set(reader.keys()) == set(expected)
        for name, (dtype, value) in expected.items():
            assert reader.dtype(name) == dtype, name
            if isinstance(value, bytes):  # a scalar string
                assert reader.shape(name) == () and reader.read(name) == value, name
                continue
            assert reader.shape(name) == tuple(value.shape), name
            got = reader.read(name)
            assert got.dtype == value.dtype, name
            assert got.shape == value.shape, name
            if value.dtype == object:
                assert got.tolist() == value.tolist(), name
            else:
                assert np.array_equal(got, value), name  # bit for bit: same bytes


def _copy_checkpoint(prefix: Path, dest: Path) -> Path:
    for part in prefix.parent.glob(prefix.name + ".*"):
        if ".data-" in part.name or part.name.endswith(".index"):
            shutil.copy(part, dest / part.name)
    return dest / prefix.name


def _any_checkpoint() -> Path:
    for prefix in CHECKPOINTS:
        with BundleReader(prefix) as r:
            if any(r.dtype(k) == "float32" and r.entry(k).size > 64 for k in r.keys()):
                return prefix
    pytest.skip("no checkpoint with a float tensor")


def test_damaged_data_fails_its_checksum(tmp_path):
    prefix = _copy_checkpoint(_any_checkpoint(), tmp_path)
    with BundleReader(prefix) as r:
        name = next(k for k in r.keys() if r.dtype(k) == "float32" and r.entry(k).size > 64)
        entry = r.entry(name)
        r.read(name)  # intact
    data = next(tmp_path.glob("*.data-*"))
    raw = bytearray(data.read_bytes())
    raw[entry.offset + 5] ^= 0x40
    data.write_bytes(bytes(raw))
    with BundleReader(prefix) as r, pytest.raises(FormatError, match="crc32c"):
        r.read(name)
    with BundleReader(prefix) as r:  # without the check, the flipped bit comes through
        assert r.read(name, check_crc=False).size == int(np.prod(r.shape(name)))


def test_damaged_index_is_refused(tmp_path):
    prefix = _copy_checkpoint(_any_checkpoint(), tmp_path)
    index = Path(str(prefix) + ".index")
    raw = bytearray(index.read_bytes())
    raw[3] ^= 0xFF  # inside the first data block: its block checksum no longer holds
    index.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="checksum|damaged"):
        BundleReader(prefix)
    index.write_bytes(bytes(raw[:20]))
    with pytest.raises(FormatError, match="too short"):
        BundleReader(prefix)


def test_truncated_shard_is_refused(tmp_path):
    prefix = _copy_checkpoint(_any_checkpoint(), tmp_path)
    data = next(tmp_path.glob("*.data-*"))
    with BundleReader(prefix) as r:
        last = max(r.keys(), key=lambda k: r.entry(k).offset + r.entry(k).size)
    data.write_bytes(data.read_bytes()[:16])
    with BundleReader(prefix) as r, pytest.raises(FormatError, match="truncated"):
        r.read(last)


def test_missing_tensor_names_the_closest():
    prefix = _any_checkpoint()
    with BundleReader(prefix) as r:
        name = r.keys()[-1]
        with pytest.raises(NotFoundError) as info:
            r.read(name + "x")
        assert name in str(info.value)


def test_missing_index_says_v1_goes_through_tensorflow(tmp_path):
    with pytest.raises(FormatError, match="V1"):
        BundleReader(tmp_path / "nothing")
    with pytest.raises(FormatError, match="no checkpoint"):
        open_checkpoint(tmp_path / "nothing")


def test_snappy_literal_and_overlapping_copy():
    # Hand-assembled: length 8; literal "ab" (tag (2-1)<<2); copy of 6 bytes at offset 2
    # (tag ((6-4)<<2)|1, offset byte 2) repeats "ab" three times.
    assert snappy_decompress(bytes([8, 0x04]) + b"ab" + bytes([0x09, 0x02])) == b"abababab"
    # Two-byte-offset copy (tag ((4-1)<<2)|2).
    assert snappy_decompress(bytes([8, 0x0C]) + b"wxyz" + bytes([0x0E, 4, 0])) == b"wxyzwxyz"
    with pytest.raises(FormatError):
        snappy_decompress(bytes([9, 0x04]) + b"ab" + bytes([0x09, 0x02]))


def test_crc32c_known_value():
    # The standard check value of CRC-32C (RFC 3720) and the fallback agrees.
    assert bundle.crc32c(b"123456789") == 0xE3069283
    assert bundle.crc32c(b"6789", bundle.crc32c(b"12345")) == 0xE3069283
