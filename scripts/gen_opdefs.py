"""Regenerate graphsurgeon/data/ops.pb: TensorFlow's registered op definitions.

The reading path never imports TensorFlow, yet it needs every op's output
types for graphs that carry no stripped op list (frozen GraphDefs). This
script asks the installed TensorFlow for its whole op registry
(``TF_GetAllOpList``, the same list ``import_graph_def`` consults) and writes
it as a binary ``OpList``, with descriptions removed to keep it small.

    .venv/bin/python scripts/gen_opdefs.py
"""
from pathlib import Path

import tensorflow as tf
from tensorflow.core.framework import op_def_pb2
from tensorflow.python.client import pywrap_tf_session as c_api

OUT = Path(__file__).resolve().parent.parent / "graphsurgeon" / "data" / "ops.pb"


def main() -> None:
    buf = c_api.TF_GetAllOpList()
    try:
        data = c_api.TF_GetBuffer(buf)
    finally:
        c_api.TF_DeleteBuffer(buf)
    ops = op_def_pb2.OpList()
    ops.ParseFromString(data)
    for op in ops.op:
        op.ClearField("summary")
        op.ClearField("description")
        for arg in list(op.input_arg) + list(op.output_arg):
            arg.ClearField("description")
        for attr in op.attr:
            attr.ClearField("description")
    ops.op.sort(key=lambda o: o.name)
    OUT.write_bytes(ops.SerializeToString(deterministic=True))
    (OUT.parent / "ops_version.txt").write_text(
        f"TensorFlow {tf.__version__} ({tf.version.GIT_VERSION}): {len(ops.op)} ops\n")
    print(f"wrote {OUT}: {len(ops.op)} ops from TensorFlow {tf.__version__}")


if __name__ == "__main__":
    main()
