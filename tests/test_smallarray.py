"""smallarray (numpy-free folding of shape arithmetic) agrees with numpy."""
from __future__ import annotations

import random

import numpy as np
import pytest

from graphsurgeon.analysis import smallarray as sa
from graphsurgeon.vocab.values import from_numpy

SHAPES = [(), (1,), (3,), (2, 3), (1, 3), (2, 1), (2, 3, 2)]


def _rand(shape, rng, dtype="int32", low=-5, high=6):
    n = int(np.prod(shape)) if shape else 1
    data = [rng.randint(low, high) for _ in range(n)]
    return sa.SmallArray(data, shape, dtype), np.array(data, dtype=dtype).reshape(shape)


@pytest.mark.parametrize("name", sorted(sa._BINARY))
def test_binary_ops_match_numpy(name):
    rng = random.Random(name)
    for _ in range(40):
        sa_shape, sb_shape = rng.choice(SHAPES), rng.choice(SHAPES)
        try:
            np.broadcast_shapes(sa_shape, sb_shape)
        except ValueError:
            continue
        a, na = _rand(sa_shape, rng)
        b, nb = _rand(sb_shape, rng, low=1)  # no division by zero
        out = sa.binary(name, a, b, "int32")
        expected = getattr(np, name)(na, nb)
        assert out.shape == expected.shape
        assert out.data == expected.reshape(-1).tolist()


@pytest.mark.parametrize("op,fn", [("Prod", np.prod), ("Sum", np.sum), ("Max", np.max), ("Min", np.min)])
def test_reductions_match_numpy(op, fn):
    rng = random.Random(op)
    for shape in SHAPES[1:]:
        v, nv = _rand(shape, rng, low=1, high=4)
        for keep in (False, True):
            for axes in ([0], list(range(len(shape))), [len(shape) - 1]):
                out = sa.reduce(op, v, axes, keep)
                expected = np.asarray(fn(nv, axis=tuple(axes), keepdims=keep))
                assert out.shape == expected.shape and out.data == expected.reshape(-1).tolist()


def test_overflow_is_refused_not_wrapped():
    a = sa.array([2**30], "int32")
    with pytest.raises(OverflowError):
        sa.binary("multiply", a, sa.array([4], "int32"), "int32")


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32", "bool"])
def test_tensor_proto_decoding_matches_numpy(dtype):
    values = np.array([[1, 0, 3], [4, 5, 0]], dtype=dtype)
    got = sa.from_tensor_proto(from_numpy(values), dtype)
    assert got.shape == values.shape and got.data == values.reshape(-1).tolist()


def test_reshape_iteration_and_ranges():
    v = sa.arange(0, 6, 1, "int64").reshape(2, -1)
    assert v.shape == (2, 3) and [int(x) for x in v.reshape(-1)] == list(range(6))
    assert [r.data for r in v] == [[0, 1, 2], [3, 4, 5]]
    assert sa.full([2, 2], 7, "int32").data == [7, 7, 7, 7]
    assert sa.array(5, "int32").shape == () and int(sa.array(5, "int32")) == 5
