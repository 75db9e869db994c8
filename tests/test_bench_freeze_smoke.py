"""Keeps ``bench/bench_freeze.py`` from rotting: a tiny synthetic model, one comparison.

The benchmark itself is run by hand (``python -m bench.bench_freeze``); this
builds the synthetic model at a small size in a temporary cache, runs
``graphsurgeon freeze`` and TensorFlow's ``convert_variables_to_constants``
once each in cold processes, and checks that the frozen graphs agree in
TensorFlow. TensorFlow only runs in child processes.
"""
from __future__ import annotations

import pytest

from bench import bench_freeze, synthetic_big

WIDTH, LAYERS = 48, 2


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    return synthetic_big.cached_model(WIDTH, LAYERS, cache=tmp_path_factory.mktemp("bench_cache"))


def test_generator_writes_only_the_layers_variables(small_model):
    shard = small_model.parent / "model.ckpt.data-00000-of-00001"
    # float32 kernels and biases only: no optimizer slots, no global step.
    assert shard.stat().st_size == synthetic_big.variable_bytes(WIDTH, LAYERS) == LAYERS * (WIDTH**2 + WIDTH) * 4
    assert (small_model.parent / "checkpoint").read_text().startswith('model_checkpoint_path: "model.ckpt"')
    # Cached: asking again does not rebuild.
    mtime = shard.stat().st_mtime_ns
    assert synthetic_big.cached_model(WIDTH, LAYERS, cache=small_model.parent.parent) == small_model
    assert shard.stat().st_mtime_ns == mtime


def test_one_comparison_runs_and_agrees(small_model):
    results = bench_freeze.run(0, 1, WIDTH, LAYERS, cache=small_model.parent.parent)
    assert len(results) == 1
    case, r = results[0]
    assert case.prefix == small_model and case.runs == 1
    assert r["ours_s"] > 0 and r["tf_s"] > 0 and r["ours_mib"] > 0 and r["tf_mib"] > 0
    # Both frozen graphs hold the variables' values.
    assert min(r["ours_bytes"], r["tf_bytes"]) > synthetic_big.variable_bytes(WIDTH, LAYERS)
    compare = r["compare"]
    assert set(compare["diffs"]) == {"output"}
    assert compare["diffs"]["output"] <= 1e-6
    assert compare["scale"]["output"] > 0  # a graph computing zeros would agree trivially
    n_tf, n_ours = compare["ops"]
    assert 0 < n_ours <= n_tf
    body = bench_freeze.section(results, 0, 1, WIDTH, LAYERS)
    assert case.label in body and "convert_variables_to_constants" in body
    assert body.count(f"| {case.label} |") == 2  # timing row and agreement row
