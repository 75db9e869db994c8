"""Serialized ``tf.train.Example`` protos, written without TensorFlow.

Serving signatures often take a batch of serialized Examples (a string
input parsed by ``ParseExample``); to run such a graph, :func:`example_features`
reads which features it parses and :func:`serialized_examples` writes
random Examples holding them, protobuf wire format by hand.
"""
from __future__ import annotations

from ..formats.protofile import encode_varint
from ..vocab import dtypes
from ..vocab.values import to_numpy


def _pb_field(number: int, payload: bytes) -> bytes:
    return encode_varint(number << 3 | 2) + encode_varint(len(payload)) + payload


def example_features(graph_def) -> list[tuple[str, str, int]]:
    """``[(key, dtype, element count)]`` of the dense features the graph's ParseExample ops read."""
    nodes = {n.name: n for n in graph_def.node}
    out = []
    for node in graph_def.node:
        if node.op not in ("ParseExample", "ParseExampleV2"):
            continue
        types = [dtypes.name(t) for t in node.attr["Tdense"].list.type]
        shapes = [[d.size for d in s.dim] for s in node.attr["dense_shapes"].list.shape]
        if node.op == "ParseExample":
            n_sparse = node.attr["Nsparse"].i
            key_inputs = node.input[2 + n_sparse: 2 + n_sparse + len(types)]
            keys = []
            for text in key_inputs:
                const = nodes.get(text.split(":")[0])
                keys.append(to_numpy(const.attr["value"].tensor).item() if const is not None else None)
        else:
            const = nodes.get(node.input[3].split(":")[0])
            keys = list(to_numpy(const.attr["value"].tensor).ravel()) if const is not None else []
        for key, dtype, shape in zip(keys, types, shapes):
            if key is None:
                continue
            count = 1
            for d in shape:
                count *= max(d, 1)
            out.append((key.decode() if isinstance(key, bytes) else str(key), dtype, count))
    return out


def example_bytes(features: dict) -> bytes:
    """One serialized ``tf.train.Example``: ``{key: [floats] | [ints] | [bytes or str]}`` (the list's first
    item decides its kind, as ``saved_model_cli --input_examples`` decides it).

    Example:
        >>> example_bytes({"x": [1.0]}).hex()
        '0a0f0a0d0a0178120812060a040000803f'
    """
    import numpy as np

    entries = b""
    for key, values in features.items():
        values = list(values)
        if values and isinstance(values[0], (bytes, str)):
            feature = _pb_field(1, b"".join(_pb_field(1, v.encode() if isinstance(v, str) else v) for v in values))
        elif values and isinstance(values[0], (float, np.floating)):
            feature = _pb_field(2, _pb_field(1, np.asarray(values, "<f4").tobytes()))
        else:
            feature = _pb_field(3, _pb_field(1, b"".join(encode_varint(int(v) & (2**64 - 1)) for v in values)))
        entries += _pb_field(1, _pb_field(1, key.encode()) + _pb_field(2, feature))
    return _pb_field(1, entries)


def serialized_examples(features, count: int, rng) -> list[bytes]:
    """``count`` serialized tf.train.Example protos holding random values for ``features``."""
    out = []
    for _ in range(count):
        example = {}
        for key, dtype, n in features:
            if dtype in ("float32", "float64"):
                example[key] = list(rng.standard_normal(n).astype("<f4"))
            elif dtype == "string":
                example[key] = [b"x"] * n
            else:
                example[key] = [int(v) for v in rng.integers(0, 10, n)]
        out.append(example_bytes(example))
    return out
