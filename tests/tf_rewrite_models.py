"""Small TF1 models in the shapes that broke the rewrites (issue 22, points 1, 9, 11, 13, 14), built at test time.

Run in a subprocess (it imports TensorFlow)::

    python tests/tf_rewrite_models.py OUTDIR

writes, under OUTDIR, one folder per model and ``manifest.json``: ``{name:
{"model": path, "checkpoint": prefix | null, "feeds": {tensor: npy},
"expected": {tensor: npy}, ...}}`` with the values TensorFlow computed. A few
seconds; nothing of it is committed.

- ``global_step``: ``get_or_create_global_step()``, Adam ``minimize(loss,
  global_step=gs)`` (its slots), a custom collection of VariableDefs, Saver
  ``model.ckpt-3``.
- ``partitioned``: ``embedding/weights`` in 3 parts (``fixed_size_partitioner``),
  ``embedding_lookup``, Adagrad, a global step, ``model.ckpt-2``.
- ``ema``: a training graph with ``ExponentialMovingAverage.apply`` and the eval
  graph whose Saver restores the shadow variables (``eval.meta`` beside the
  training checkpoint, as cifar10_eval restores it).
- ``tables_main_op`` / ``tables_legacy``: TF1 SavedModels with a vocabulary
  table (``assets/vocab.txt``) initialised by ``main_op`` / ``legacy_init_op``,
  with a global step as Estimator exports have.
- ``estimator``: a SavedModel exported from the PREDICT graph with a global
  step and ``main_op=tables_initializer()`` (no tables), sharded saver.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

v1 = tf.compat.v1
BATCH = 4


def _session(graph):
    return v1.Session(graph=graph, config=v1.ConfigProto(intra_op_parallelism_threads=1,
                                                          inter_op_parallelism_threads=1))


def _dense(x, units, name, activation=None, seed=0):
    with v1.variable_scope(name):
        w = v1.get_variable("kernel", [x.shape[-1], units], initializer=v1.glorot_uniform_initializer(seed=seed))
        b = v1.get_variable("bias", [units], initializer=v1.constant_initializer(0.1))
        y = tf.nn.bias_add(tf.matmul(x, w), b)
        return activation(y) if activation else y


class Model:
    def __init__(self, out: Path, name: str):
        self.name, self.folder = name, out / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data = {"feeds": {}, "expected": {}}

    def npy(self, stem, value) -> str:
        path = self.folder / f"{stem}.npy"
        np.save(path, np.asarray(value), allow_pickle=False)
        return str(path)

    def record(self, sess, feeds: dict, fetches: list, kind: str = "") -> None:
        values = sess.run(fetches, feeds)
        for i, (name, value) in enumerate(feeds.items()):
            key = name if isinstance(name, str) else name.name
            self.data[kind + "feeds"][key] = self.npy(f"{kind}feed{i}", value)
        for i, (name, value) in enumerate(zip(fetches, values)):
            self.data[kind + "expected"][name if isinstance(name, str) else name.name] = \
                self.npy(f"{kind}expected{i}", value)


def global_step(out: Path) -> dict:
    m = Model(out, "global_step")
    r = np.random.RandomState(1)
    x_val = r.rand(BATCH, 6).astype(np.float32)
    y_val = r.randint(0, 3, BATCH).astype(np.int64)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 6], name="x")
        labels = v1.placeholder(tf.int64, [None], name="labels")
        gs = v1.train.get_or_create_global_step()
        h = _dense(x, 8, "hidden", tf.nn.relu, seed=1)
        logits = tf.identity(_dense(h, 3, "fc", seed=2), name="logits")
        tf.nn.softmax(logits, name="probabilities")
        loss = tf.reduce_mean(v1.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        train_op = v1.train.AdamOptimizer(1e-2).minimize(loss, global_step=gs)
        # A custom collection of VariableDefs, as libraries register their own (by content, not by name).
        v1.add_to_collection("my_custom_vars", gs)
        saver = v1.train.Saver()
        with _session(g) as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(3):
                sess.run(train_op, {x: x_val, labels: y_val})
            saver.save(sess, str(m.folder / "model.ckpt"), global_step=gs)
            m.record(sess, {"x:0": x_val}, ["logits:0", "probabilities:0"])
    # my_custom_vars was stored as a node_list (no proto function for it): rewrite it as VariableDefs,
    # as a library that registers one writes it.
    meta = v1.MetaGraphDef()
    path = m.folder / "model.ckpt-3.meta"
    meta.ParseFromString(path.read_bytes())
    coll = meta.collection_def["my_custom_vars"]
    coll.Clear()
    coll.bytes_list.value.append(meta.collection_def["global_step"].bytes_list.value[0])
    path.write_bytes(meta.SerializeToString())
    m.data.update(model=str(path), checkpoint=str(m.folder / "model.ckpt-3"),
                  train={"op": train_op.name, "x": m.npy("train_x", x_val), "labels": m.npy("train_y", y_val)})
    return m.data


def partitioned(out: Path) -> dict:
    m = Model(out, "partitioned")
    r = np.random.RandomState(4)
    ids_val = r.randint(0, 30, (BATCH, 4)).astype(np.int64)
    y_val = r.randint(0, 3, BATCH).astype(np.int64)
    g = tf.Graph()
    with g.as_default():
        ids = v1.placeholder(tf.int64, [None, 4], name="ids")
        labels = v1.placeholder(tf.int64, [None], name="labels")
        gs = v1.train.get_or_create_global_step()
        with v1.variable_scope("embedding", partitioner=v1.fixed_size_partitioner(3)):
            emb = v1.get_variable("weights", [30, 8], initializer=v1.random_normal_initializer(seed=4))
        pooled = tf.reduce_mean(tf.nn.embedding_lookup(emb, ids), axis=1, name="pooled")
        logits = tf.identity(_dense(pooled, 3, "output", seed=41), name="logits")
        loss = tf.reduce_mean(v1.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        train_op = v1.train.AdagradOptimizer(0.1).minimize(loss, global_step=gs)
        saver = v1.train.Saver()
        with _session(g) as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(2):
                sess.run(train_op, {ids: ids_val, labels: y_val})
            saver.save(sess, str(m.folder / "model.ckpt"), global_step=gs)
            m.record(sess, {"ids:0": ids_val}, ["logits:0"])
            m.data["full"] = m.npy("full", sess.run(tf.concat(list(emb), 0)))
    m.data.update(model=str(m.folder / "model.ckpt-2.meta"), checkpoint=str(m.folder / "model.ckpt-2"))
    return m.data


def _ema_inference(x):
    h = _dense(x, 8, "fc1", tf.nn.relu, seed=51)
    return tf.identity(_dense(h, 3, "fc2", seed=52), name="logits")


def ema(out: Path) -> dict:
    m = Model(out, "ema")
    r = np.random.RandomState(5)
    x_val = r.rand(BATCH, 6).astype(np.float32)
    y_val = r.randint(0, 3, BATCH).astype(np.int64)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 6], name="x")
        labels = v1.placeholder(tf.int64, [None], name="labels")
        gs = v1.train.get_or_create_global_step()
        logits = _ema_inference(x)
        loss = tf.reduce_mean(v1.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        step = v1.train.MomentumOptimizer(0.1, 0.9).minimize(loss, global_step=gs)
        averages = v1.train.ExponentialMovingAverage(0.5, gs)
        with tf.control_dependencies([step]):
            average_op = averages.apply(v1.trainable_variables())
        with tf.control_dependencies([step, average_op]):
            tf.no_op(name="train")
        saver = v1.train.Saver()
        with _session(g) as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(4):
                sess.run("train", {x: x_val, labels: y_val})
            saver.save(sess, str(m.folder / "model.ckpt"), global_step=gs)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 6], name="x")
        _ema_inference(x)
        saver = v1.train.Saver(v1.train.ExponentialMovingAverage(0.5).variables_to_restore())
        with _session(g) as sess:
            saver.restore(sess, str(m.folder / "model.ckpt-4"))
            v1.train.export_meta_graph(str(m.folder / "eval.meta"), saver_def=saver.as_saver_def())
            m.record(sess, {"x:0": x_val}, ["logits:0"])
    m.data.update(model=str(m.folder / "eval.meta"), checkpoint=str(m.folder / "model.ckpt-4"),
                  train_model=str(m.folder / "model.ckpt-4.meta"))
    return m.data


def tables(out: Path, name: str, legacy: bool) -> dict:
    m = Model(out, name)
    words = ["the", "cat", "sat", "on", "mat", "dog"]
    vocab = m.folder / "vocab.txt"
    vocab.write_text("\n".join(words) + "\n")
    w_val = np.array([b"cat", b"dog", b"unknown", b"the"])
    g = tf.Graph()
    with g.as_default():
        text = v1.placeholder(tf.string, [None], name="words")
        v1.train.get_or_create_global_step()
        table = v1.lookup.StaticHashTable(
            v1.lookup.TextFileInitializer(str(vocab), tf.string, v1.lookup.TextFileIndex.WHOLE_LINE,
                                          tf.int64, v1.lookup.TextFileIndex.LINE_NUMBER), default_value=-1)
        ids = tf.identity(table.lookup(text) + 1, name="ids")
        emb = v1.get_variable("embeddings", [len(words) + 1, 4], initializer=v1.random_normal_initializer(seed=10))
        scores = tf.identity(_dense(tf.nn.embedding_lookup(emb, ids), 2, "dense", seed=101), name="scores")
        with _session(g) as sess:
            sess.run([v1.global_variables_initializer(), v1.tables_initializer()])
            sig = v1.saved_model.predict_signature_def({"words": text}, {"scores": scores, "ids": ids})
            builder = v1.saved_model.Builder(str(m.folder / "saved_model"))
            init = {"legacy_init_op": tf.group(v1.tables_initializer(), name="legacy_init_op")} if legacy else \
                {"main_op": v1.tables_initializer()}
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map={"serving_default": sig},
                assets_collection=v1.get_collection(v1.GraphKeys.ASSET_FILEPATHS), **init)
            builder.save()
            m.record(sess, {"words:0": w_val}, ["scores:0", "ids:0"])
    vocab.unlink()  # only the SavedModel's copy under assets/ remains
    m.data.update(model=str(m.folder / "saved_model"), checkpoint=None)
    return m.data


def estimator(out: Path) -> dict:
    m = Model(out, "estimator")
    x_val = np.random.RandomState(2).rand(BATCH, 6).astype(np.float32)
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 6], name="x")
        v1.train.get_or_create_global_step()
        h = _dense(x, 8, "dense", tf.nn.relu, seed=11)
        logits = _dense(h, 3, "logits", seed=13)
        classes = tf.argmax(logits, axis=1, name="classes")
        probabilities = tf.nn.softmax(logits, name="softmax_tensor")
        with _session(g) as sess:
            sess.run(v1.global_variables_initializer())
            sig = v1.saved_model.predict_signature_def({"x": x}, {"classes": classes, "probabilities": probabilities})
            builder = v1.saved_model.Builder(str(m.folder / "export" / "1700000000"))
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map={"serving_default": sig}, main_op=v1.tables_initializer(),
                strip_default_attrs=True, saver=v1.train.Saver(sharded=True))
            builder.save()
            m.record(sess, {"x:0": x_val}, ["softmax_tensor:0", "classes:0"])
    m.data.update(model=str(m.folder / "export" / "1700000000"), checkpoint=None)
    return m.data


def main(argv) -> int:
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    v1.disable_resource_variables()  # TF1 as it was: ref variables, Switch/Merge control flow
    v1.disable_control_flow_v2()
    manifest = {"global_step": global_step(out), "partitioned": partitioned(out), "ema": ema(out),
                "tables_main_op": tables(out, "tables_main_op", legacy=False),
                "tables_legacy": tables(out, "tables_legacy", legacy=True), "estimator": estimator(out)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
