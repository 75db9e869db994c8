"""A synthetic TF1-style training-free meta graph of any size, built from protos.

Used by the benchmarks (ls, render, freeze) to measure behaviour on large
graphs. Built without TensorFlow, yet importable by it: blocks of dense
layers (VariableV2 + Assign + read Identity, MatMul, BiasAdd, Relu) chained
one after another, nested two scopes deep (``block_12/layer_3/MatMul``),
with ``variables``/``trainable_variables`` collections as TensorFlow writes
them. The file is cached under ``bench/.cache`` (ignored by git).

    python -m bench.synthetic 60000    # writes bench/.cache/synthetic_60000.meta
"""
from __future__ import annotations

import sys
from pathlib import Path

from graphsurgeon.formats.protofile import atomic_write
from graphsurgeon.vocab import dtypes, protos

CACHE = Path(__file__).resolve().parent / ".cache"
OPS_PER_LAYER = 11
LAYERS_PER_BLOCK = 50
FLOAT = dtypes.number("float32")


def _const(graph_def, name, shape, value=0.0):
    node = graph_def.node.add(name=name, op="Const")
    node.attr["dtype"].type = FLOAT
    tensor = node.attr["value"].tensor
    tensor.dtype = FLOAT
    for d in shape:
        tensor.tensor_shape.dim.add(size=d)
    tensor.float_val.append(value)
    return node


def _variable(meta, name, shape):
    gd = meta.graph_def
    var = gd.node.add(name=name, op="VariableV2")
    var.attr["dtype"].type = FLOAT
    for d in shape:
        var.attr["shape"].shape.dim.add(size=d)
    var.attr["container"].s = b""
    var.attr["shared_name"].s = b""
    _const(gd, f"{name}/initial_value", shape, 0.01)
    assign = gd.node.add(name=f"{name}/Assign", op="Assign", input=[name, f"{name}/initial_value"])
    assign.attr["T"].type = FLOAT
    assign.attr["use_locking"].b = True
    assign.attr["validate_shape"].b = True
    assign.attr["_class"].list.s.append(f"loc:@{name}".encode())
    read = gd.node.add(name=f"{name}/read", op="Identity", input=[name])
    read.attr["T"].type = FLOAT
    read.attr["_class"].list.s.append(f"loc:@{name}".encode())
    vdef = protos.VariableDef(variable_name=f"{name}:0", initializer_name=f"{name}/Assign",
                              snapshot_name=f"{name}/read:0", initial_value_name=f"{name}/initial_value:0",
                              trainable=True)
    raw = vdef.SerializeToString()
    meta.collection_def["variables"].bytes_list.value.append(raw)
    meta.collection_def["trainable_variables"].bytes_list.value.append(raw)
    return f"{name}/read"


def make_meta_graph(n_ops: int, width: int = 8) -> "protos.MetaGraphDef":
    """A MetaGraphDef with at least ``n_ops`` ops."""
    meta = protos.MetaGraphDef()
    meta.meta_info_def.tensorflow_version = "2.21.0"
    meta.meta_info_def.meta_graph_version = "v1"
    gd = meta.graph_def
    gd.versions.producer = 1994
    x = gd.node.add(name="X", op="Placeholder")
    x.attr["dtype"].type = FLOAT
    x.attr["shape"].shape.dim.add(size=-1)
    x.attr["shape"].shape.dim.add(size=width)
    previous = "X"
    layer = 0
    while len(gd.node) < n_ops:
        scope = f"block_{layer // LAYERS_PER_BLOCK}/layer_{layer % LAYERS_PER_BLOCK}"
        kernel = _variable(meta, f"{scope}/kernel", (width, width))
        bias = _variable(meta, f"{scope}/bias", (width,))
        matmul = gd.node.add(name=f"{scope}/MatMul", op="MatMul", input=[previous, kernel])
        matmul.attr["T"].type = FLOAT
        matmul.attr["transpose_a"].b = False
        matmul.attr["transpose_b"].b = False
        add = gd.node.add(name=f"{scope}/BiasAdd", op="BiasAdd", input=[f"{scope}/MatMul", bias])
        add.attr["T"].type = FLOAT
        add.attr["data_format"].s = b"NHWC"
        relu = gd.node.add(name=f"{scope}/Relu", op="Relu", input=[f"{scope}/BiasAdd"])
        relu.attr["T"].type = FLOAT
        previous = f"{scope}/Relu"
        layer += 1
    out = gd.node.add(name="output", op="Identity", input=[previous])
    out.attr["T"].type = FLOAT
    meta.collection_def["my_important_ops"].node_list.value.extend(["X:0", "output:0"])
    return meta


def cached_meta_graph(n_ops: int) -> Path:
    """Path of the cached synthetic ``.meta`` of ``n_ops`` ops, written on first use."""
    path = CACHE / f"synthetic_{n_ops}.meta"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        atomic_write(path, make_meta_graph(n_ops).SerializeToString())
    return path


if __name__ == "__main__":
    print(cached_meta_graph(int(sys.argv[1]) if len(sys.argv) > 1 else 60000))
