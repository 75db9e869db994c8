"""Build the idiom zoo (see tests/idioms/__init__.py): ``python tests/idioms/build.py OUTDIR``.

One TensorFlow import for every model. Each generator writes its model as the
people who write such models write it (their TensorFlow calls, their names),
a seeded input feed, and the outputs TensorFlow computes on that feed, and
returns its manifest entry. Shapes are tiny: the whole zoo takes seconds.
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
OUT: Path
BATCH = 4


def rng(seed: int) -> np.random.RandomState:
    return np.random.RandomState(seed)


class Entry:
    """Collects one model's files and facts for the manifest."""

    def __init__(self, name: str, idiom: str, what: str, fmt: str, model: str, *, tf2: bool = False):
        self.name = name
        self.folder = OUT / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.data = {"idiom": idiom, "what": what, "format": fmt, "tf2": tf2, "model": self.rel(model),
                     "checkpoint": None, "tags": [], "feeds": {}, "expected": {}, "signature": None,
                     "sig_feeds": {}, "sig_expected": {}, "train": None}

    def rel(self, path) -> str:
        return "zoo:" + str(Path(self.name) / path) if path else None

    def npy(self, stem: str, value) -> str:
        path = self.folder / f"{stem}.npy"
        np.save(path, np.asarray(value), allow_pickle=False)
        return self.rel(path.name)

    def feeds(self, feeds: dict, kind: str = "feeds") -> dict:
        """Save ``{tensor_name: array}`` as npy files under ``kind``; returns the same dict."""
        self.data[kind].update({name: self.npy(f"{kind}_{i}_{_stem(name)}", value)
                                for i, (name, value) in enumerate(feeds.items())})
        return feeds

    def expect(self, values: dict, kind: str = "expected") -> None:
        self.data[kind].update({name: self.npy(f"{kind}_{i}_{_stem(name)}", value)
                                for i, (name, value) in enumerate(values.items())})

    def train(self, op: str, feeds: dict, global_step: bool = False) -> None:
        """The training op, what it is fed, and whether one run of it adds 1 to the global step."""
        self.data["train"] = {"op": op, "global_step": global_step,
                              "feeds": {name: self.npy(f"train_{i}_{_stem(name)}", value)
                                        for i, (name, value) in enumerate(feeds.items())}}

    def set(self, **kwargs) -> "Entry":
        for key, value in kwargs.items():
            self.data[key] = self.rel(value) if key == "checkpoint" else value
        return self


def _stem(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


def _run_expected(entry: Entry, sess, feeds: dict, fetches: list) -> None:
    values = sess.run(fetches, feeds)
    entry.feeds(feeds)
    entry.expect(dict(zip(fetches, values)))


def _dense(x, units, name, activation=None, init_seed=0):
    """A dense layer as people wrote it before tf.layers: get_variable in a variable_scope."""
    with v1.variable_scope(name):
        w = v1.get_variable("kernel", [x.shape[-1], units],
                            initializer=v1.glorot_uniform_initializer(seed=init_seed))
        b = v1.get_variable("bias", [units], initializer=v1.constant_initializer(0.1))
        y = tf.nn.bias_add(tf.matmul(x, w), b)
        return activation(y) if activation else y


def _session(graph):
    return v1.Session(graph=graph, config=v1.ConfigProto(intra_op_parallelism_threads=1,
                                                          inter_op_parallelism_threads=1))


def _xent(labels, logits):
    return tf.reduce_mean(v1.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


def _classifier(width: int, classes: int, seed: int):
    """A small classifier's placeholders, x [None, width] and labels, with a seeded feed for them."""
    r = rng(seed)
    feeds = {"x:0": r.rand(BATCH, width).astype(np.float32),
             "labels:0": r.randint(0, classes, BATCH).astype(np.int64)}
    return v1.placeholder(tf.float32, [None, width], name="x"), v1.placeholder(tf.int64, [None], name="labels"), feeds


def _train_and_save(e: Entry, train_op, feeds: dict, inputs: list, outputs: list, *, steps: int = 1,
                    global_step=None, step_feeds=None, before_save=None) -> None:
    """How a TF1 training script ends, in the default graph: initialize, train ``steps`` steps, Saver().save
    (model.ckpt, or model.ckpt-N with a global step), then record the outputs on ``inputs`` (tensor names of
    ``feeds``) and the training op with its feeds."""
    saver = v1.train.Saver()
    with _session(v1.get_default_graph()) as sess:
        sess.run(v1.global_variables_initializer())
        for _ in range(steps):
            sess.run(train_op, {**feeds, **(step_feeds or {})})
        if before_save:
            before_save(sess)
        prefix = saver.save(sess, str(e.folder / "model.ckpt"), global_step=global_step)
        _run_expected(e, sess, {k: feeds[k] for k in inputs}, outputs)
    e.train(train_op.name, feeds, global_step=global_step is not None)
    e.set(checkpoint=Path(prefix).name)


def _legacy():
    """TF1 as it was: ref variables, Switch/Merge control flow."""
    v1.disable_resource_variables()
    v1.disable_control_flow_v2()


def _modern():
    v1.enable_resource_variables()
    v1.enable_control_flow_v2()


# --- the idioms ---------------------------------------------------------------------------------


def cnn_global_step():
    """TF1 CNN: get_or_create_global_step(), Adam minimize(loss, global_step=gs), train_op collection, model.ckpt-N."""
    _legacy()
    e = Entry("cnn_global_step", "global step and minimize(global_step=)",
              "TF1 CNN, Adam minimize(loss, global_step=gs), train_op collection, Saver model.ckpt-3",
              "meta", "model.ckpt-3.meta")
    r = rng(1)
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(1)
        images = v1.placeholder(tf.float32, [None, 8, 8, 1], name="images")
        labels = v1.placeholder(tf.int64, [None], name="labels")
        gs = v1.train.get_or_create_global_step()
        h = images
        for i, (cin, cout) in enumerate([(1, 4), (4, 8)], 1):
            with v1.variable_scope(f"conv{i}"):
                k = v1.get_variable("kernel", [3, 3, cin, cout], initializer=v1.glorot_uniform_initializer(seed=i))
                b = v1.get_variable("bias", [cout], initializer=v1.constant_initializer(0.1))
                h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(h, k, [1, 1, 1, 1], "SAME"), b))
            h = tf.nn.max_pool2d(h, 2, 2, "SAME", name=f"pool{i}")
        flat = tf.reshape(h, [-1, 2 * 2 * 8], name="flatten")
        with v1.variable_scope("fc"):
            w = v1.get_variable("kernel", [32, 5], initializer=v1.glorot_uniform_initializer(seed=3))
            b = v1.get_variable("bias", [5], initializer=v1.zeros_initializer())
            logits = tf.add(tf.matmul(flat, w), b, name="logits")
        tf.nn.softmax(logits, name="probabilities")
        train_op = v1.train.AdamOptimizer(1e-2).minimize(_xent(labels, logits), global_step=gs)  # fills train_op
        v1.add_to_collection("logits", logits)  # the collection people restore their outputs from
        feeds = {"images:0": r.rand(BATCH, 8, 8, 1).astype(np.float32),
                 "labels:0": r.randint(0, 5, BATCH).astype(np.int64)}
        _train_and_save(e, train_op, feeds, ["images:0"], ["fc/logits:0", "probabilities:0"], steps=3,
                        global_step=gs)
    return e


def _estimator_model_fn(x, mode_train: bool):
    """The model_fn of the Estimator tutorials: dense layers named as tf.layers named them, softmax_tensor."""
    h = _dense(x, 16, "dense", tf.nn.relu, init_seed=11)
    h = _dense(h, 8, "dense_1", tf.nn.relu, init_seed=12)
    logits = _dense(h, 3, "logits", init_seed=13)
    classes = tf.argmax(logits, axis=1, name="classes")
    probabilities = tf.nn.softmax(logits, name="softmax_tensor")
    return logits, classes, probabilities


def estimator():
    """Estimator-style: summaries, sharded Saver, global step, model.ckpt-N, Adagrad (DNNClassifier's default),
    graph.pbtxt and an event file beside the checkpoint; and its export: a SavedModel with a serving
    signature, built from the PREDICT-mode graph (which has a global step too, as Estimator's export has)."""
    _legacy()
    ckpt = Entry("estimator_ckpt", "Estimator-style checkpoint",
                 "Estimator model_dir: summaries, sharded Saver, global step, Adagrad, model.ckpt-5, graph.pbtxt",
                 "meta", ".")  # the model_dir, as people pass it
    r = rng(2)
    x_val = r.rand(BATCH, 6).astype(np.float32)
    y_val = r.randint(0, 3, BATCH).astype(np.int64)
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(2)
        x = v1.placeholder(tf.float32, [None, 6], name="x")
        labels = v1.placeholder(tf.int64, [None], name="labels")
        gs = v1.train.get_or_create_global_step()
        logits, classes, probabilities = _estimator_model_fn(x, True)
        loss = v1.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
        v1.summary.scalar("loss", loss)
        v1.summary.histogram("logits", logits)
        train_op = v1.train.AdagradOptimizer(0.1).minimize(loss, global_step=gs)
        merged = v1.summary.merge_all()
        saver = v1.train.Saver(sharded=True, max_to_keep=5)
        v1.add_to_collection(v1.GraphKeys.SAVERS, saver)
        with _session(g) as sess:
            sess.run([v1.global_variables_initializer(), v1.local_variables_initializer()])
            writer = v1.summary.FileWriter(str(ckpt.folder), g)
            for _ in range(5):
                _, s = sess.run([train_op, merged], {x: x_val, labels: y_val})
            writer.add_summary(s, 5)
            writer.close()
            v1.train.write_graph(g.as_graph_def(add_shapes=True), str(ckpt.folder), "graph.pbtxt")
            saver.save(sess, str(ckpt.folder / "model.ckpt"), global_step=gs)
            _run_expected(ckpt, sess, {"x:0": x_val}, ["softmax_tensor:0", "classes:0"])
    ckpt.train(train_op.name, {"x:0": x_val, "labels:0": y_val}, global_step=True)
    ckpt.set(checkpoint="model.ckpt-5", graph=ckpt.rel("model.ckpt-5.meta"))

    sm = Entry("estimator_savedmodel", "Estimator-style SavedModel export",
               "export_saved_model-like: PREDICT graph with a global step, sharded saver, serving_default + predict",
               "savedmodel", "export/1700000000")
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 6], name="x")
        v1.train.get_or_create_global_step()
        logits, classes, probabilities = _estimator_model_fn(x, False)
        with _session(g) as sess:
            v1.train.Saver(sharded=True).restore(sess, str(ckpt.folder / "model.ckpt-5"))
            outputs = {"classes": classes, "probabilities": probabilities}
            sig = v1.saved_model.predict_signature_def({"x": x}, outputs)
            builder = v1.saved_model.Builder(str(sm.folder / "export" / "1700000000"))
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map={"serving_default": sig, "predict": sig},
                main_op=v1.tables_initializer(), strip_default_attrs=True,
                saver=v1.train.Saver(sharded=True))
            builder.save()
            _run_expected(sm, sess, {"x:0": x_val}, ["softmax_tensor:0", "classes:0"])
            sm.feeds({"x": x_val}, "sig_feeds")
            sm.expect(dict(zip(["probabilities", "classes"], sess.run([probabilities, classes], {x: x_val}))),
                      "sig_expected")
    sm.set(tags=["serve"], signature="serving_default")
    return [ckpt, sm]


def root_variables():
    """Variables at the top level, no name scopes (W1, b1, Theta_2), sigmoid layers, GradientDescent."""
    _legacy()
    e = Entry("root_variables", "root-level variables",
              "W1, b1, Theta_2 at the top level, sigmoid activations, GradientDescent, Saver model.ckpt",
              "meta", "model.ckpt.meta")
    r = rng(3)
    x_val = r.rand(BATCH, 5).astype(np.float32)
    y_val = r.rand(BATCH, 2).astype(np.float32)
    g = tf.Graph()
    with g.as_default():
        X = v1.placeholder(tf.float32, [None, 5], name="X")
        Y = v1.placeholder(tf.float32, [None, 2], name="Y")
        W1 = v1.Variable(r.randn(5, 7).astype(np.float32), name="W1")
        b1 = v1.Variable(np.zeros(7, np.float32), name="b1")
        Theta_2 = v1.Variable(r.randn(8, 2).astype(np.float32), name="Theta_2")
        a1 = tf.sigmoid(tf.matmul(X, W1) + b1)                       # Sigmoid
        a1_bias = tf.concat([tf.ones([tf.shape(a1)[0], 1]), a1], 1)  # the bias unit, as Ng's course writes it
        hypothesis = tf.sigmoid(tf.matmul(a1_bias, Theta_2), name="hypothesis")
        cost = tf.reduce_mean(tf.square(hypothesis - Y), name="cost")
        v1.add_to_collection("outputs", hypothesis)
        train = v1.train.GradientDescentOptimizer(0.5).minimize(cost)
        _train_and_save(e, train, {"X:0": x_val, "Y:0": y_val}, ["X:0"], ["hypothesis:0"], steps=3)
    return e


def partitioned():
    """Partitioned embedding (fixed_size_partitioner(3)) with embedding_lookup; Adagrad (SparseApplyAdagrad)."""
    _legacy()
    e = Entry("partitioned", "partitioned variables",
              "embedding/weights in 3 parts (fixed_size_partitioner), embedding_lookup, Adagrad, model.ckpt-2",
              "meta", "model.ckpt-2.meta")
    r = rng(4)
    ids_val = r.randint(0, 30, (BATCH, 4)).astype(np.int64)
    y_val = r.randint(0, 3, BATCH).astype(np.int64)
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(4)
        ids = v1.placeholder(tf.int64, [None, 4], name="ids")
        labels = v1.placeholder(tf.int64, [None], name="labels")
        gs = v1.train.get_or_create_global_step()
        with v1.variable_scope("embedding", partitioner=v1.fixed_size_partitioner(3)):
            emb = v1.get_variable("weights", [30, 8], initializer=v1.random_normal_initializer(seed=4))
        looked = tf.nn.embedding_lookup(emb, ids)
        pooled = tf.reduce_mean(looked, axis=1, name="pooled")
        logits = tf.identity(_dense(pooled, 3, "output", init_seed=41), name="logits")
        train_op = v1.train.AdagradOptimizer(0.1).minimize(_xent(labels, logits), global_step=gs)
        _train_and_save(e, train_op, {"ids:0": ids_val, "labels:0": y_val}, ["ids:0"], ["logits:0"], steps=2,
                        global_step=gs)
    return e


def _ema_inference(x):
    h = _dense(x, 8, "fc1", tf.nn.relu, init_seed=51)
    return tf.identity(_dense(h, 3, "fc2", init_seed=52), name="logits")


def moving_averages():
    """ExponentialMovingAverage: the training graph (Momentum wrapped by ema.apply, as cifar10_train does) and
    the eval graph whose Saver restores the shadow variables (ema.variables_to_restore()), exported beside
    the training checkpoint (eval.meta), as cifar10_eval restores it."""
    _legacy()
    train = Entry("ema_train", "moving averages (training graph)",
                  "Momentum + ExponentialMovingAverage.apply under one train_op, shadow variables, model.ckpt-4",
                  "meta", "model.ckpt-4.meta")
    g = tf.Graph()
    with g.as_default():
        x, labels, feeds = _classifier(6, 3, 5)
        gs = v1.train.get_or_create_global_step()
        logits = _ema_inference(x)
        apply_gradient_op = v1.train.MomentumOptimizer(0.1, 0.9).minimize(_xent(labels, logits), global_step=gs)
        ema = v1.train.ExponentialMovingAverage(0.5, gs)
        with tf.control_dependencies([apply_gradient_op]):
            variables_averages_op = ema.apply(v1.trainable_variables())
        with tf.control_dependencies([apply_gradient_op, variables_averages_op]):
            train_op = tf.no_op(name="train")
        _train_and_save(train, train_op, feeds, ["x:0"], ["logits:0"], steps=4,
                        global_step=gs)

    # The eval graph, exported into the training directory: the same checkpoint, a saver over the shadows.
    ev = Entry("ema_eval", "moving averages (eval graph restoring shadows)",
               "eval graph, Saver(ema.variables_to_restore()) over the training checkpoint (eval.meta beside it)",
               "meta", "../ema_train/eval.meta")
    g = tf.Graph()
    with g.as_default():
        x = v1.placeholder(tf.float32, [None, 6], name="x")
        logits = _ema_inference(x)
        ema = v1.train.ExponentialMovingAverage(0.5)
        saver = v1.train.Saver(ema.variables_to_restore())
        with _session(g) as sess:
            saver.restore(sess, str(train.folder / "model.ckpt-4"))
            v1.train.export_meta_graph(str(train.folder / "eval.meta"), saver_def=saver.as_saver_def())
            _run_expected(ev, sess, {"x:0": feeds["x:0"]}, ["logits:0"])
    ev.set(checkpoint="../ema_train/model.ckpt-4")
    return [train, ev]


def _mobilenet(images, r):
    """Conv2D / DepthwiseConv2dNative + FusedBatchNormV3 (inference) + Relu6, slim's names."""
    h = images
    cin = 3
    blocks = [("Conv2d_0", "conv", 8, 2), ("Conv2d_1_depthwise", "dw", 8, 1), ("Conv2d_1_pointwise", "conv1x1", 16, 1),
              ("Conv2d_2_depthwise", "dw", 16, 2), ("Conv2d_2_pointwise", "conv1x1", 16, 1)]
    with v1.variable_scope("MobilenetV1"):
        for name, kind, cout, stride in blocks:
            with v1.variable_scope(name):
                if kind == "dw":
                    w = v1.get_variable("depthwise_weights", [3, 3, cin, 1],
                                        initializer=v1.constant_initializer(r.randn(3, 3, cin, 1) * 0.3))
                    h = tf.nn.depthwise_conv2d(h, w, [1, stride, stride, 1], "SAME")
                else:
                    k = 3 if kind == "conv" else 1
                    w = v1.get_variable("weights", [k, k, cin, cout],
                                        initializer=v1.constant_initializer(r.randn(k, k, cin, cout) * 0.3))
                    h = tf.nn.conv2d(h, w, [1, stride, stride, 1], "SAME")
                    cin = cout
                with v1.variable_scope("BatchNorm"):
                    params = {n: v1.get_variable(n, [cin], initializer=v1.constant_initializer(v))
                              for n, v in (("gamma", 1 + 0.1 * r.randn(cin)), ("beta", 0.1 * r.randn(cin)),
                                           ("moving_mean", 0.1 * r.randn(cin)),
                                           ("moving_variance", 0.5 + r.rand(cin)))}
                    h, _, _ = v1.nn.fused_batch_norm(h, params["gamma"], params["beta"], params["moving_mean"],
                                                     params["moving_variance"], epsilon=1e-3, is_training=False)
                h = tf.nn.relu6(h)
        with v1.variable_scope("Logits"):
            pooled = tf.reduce_mean(h, [1, 2], keepdims=True, name="AvgPool")
            with v1.variable_scope("Conv2d_1c_1x1"):  # slim.conv2d(..., scope="Conv2d_1c_1x1"): ops and variables
                w = v1.get_variable("weights", [1, 1, cin, 5],
                                    initializer=v1.constant_initializer(r.randn(1, 1, cin, 5) * 0.3))
                b = v1.get_variable("biases", [5], initializer=v1.constant_initializer(0.1))
                logits = tf.nn.bias_add(tf.nn.conv2d(pooled, w, [1, 1, 1, 1], "SAME"), b)
            logits = tf.squeeze(logits, [1, 2], name="SpatialSqueeze")
        return tf.nn.softmax(logits, name="Predictions/Softmax")


def mobilenet():
    """MobileNet-like: its checkpointed inference graph, and the frozen GraphDef without _output_shapes."""
    _legacy()
    ck = Entry("mobilenet_ckpt", "MobileNet-like (checkpoint)",
               "Conv2D / DepthwiseConv2dNative + FusedBatchNormV3 (is_training=False) + Relu6, slim names, model.ckpt",
               "meta", "model.ckpt.meta")
    fz = Entry("mobilenet_frozen", "MobileNet-like (frozen GraphDef)",
               "the same network frozen by convert_variables_to_constants, no _output_shapes", "graphdef",
               "frozen_graph.pb")
    r = rng(6)
    x_val = r.rand(BATCH, 16, 16, 3).astype(np.float32)
    g = tf.Graph()
    with g.as_default():
        images = v1.placeholder(tf.float32, [None, 16, 16, 3], name="input")
        out = _mobilenet(images, r)
        saver = v1.train.Saver()
        with _session(g) as sess:
            sess.run(v1.global_variables_initializer())
            saver.save(sess, str(ck.folder / "model.ckpt"))
            fetches = ["MobilenetV1/Predictions/Softmax:0", "MobilenetV1/Logits/SpatialSqueeze:0"]
            _run_expected(ck, sess, {"input:0": x_val}, fetches)
            _run_expected(fz, sess, {"input:0": x_val}, fetches)
            relu6_in = sess.run([op.inputs[0] for op in g.get_operations() if op.type == "Relu6"], {images: x_val})
            # `swap --op Relu6 --to Relu` computes the same numbers only while nothing reaches 6: checked here.
            assert max(float(np.max(v)) for v in relu6_in) < 6.0
            frozen = v1.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), [out.op.name])
    for node in frozen.node:
        assert "_output_shapes" not in node.attr
    (fz.folder / "frozen_graph.pb").write_bytes(frozen.SerializeToString())
    ck.set(checkpoint="model.ckpt")
    return [ck, fz]


def deepmd():
    """A DeePMD-style potential: energy from a tanh network of pair distances, forces = -tf.gradients(energy,
    coords) in the inference path; trained on energy and forces with Adam and a global step."""
    _legacy()
    e = Entry("deepmd", "gradients inside the inference path",
              "energy and forces = -tf.gradients(energy, coord) (DeePMD-style), o_energy / o_force, Adam",
              "meta", "model.ckpt-2.meta")
    natoms = 4
    r = rng(7)
    c_val = (r.rand(1, natoms * 3) * 3).astype(np.float32)
    e_val = np.array([-1.0], np.float32)
    f_val = (r.randn(1, natoms * 3) * 0.1).astype(np.float32)
    g = tf.Graph()
    with g.as_default():
        coord = v1.placeholder(tf.float32, [None, natoms * 3], name="t_coord")
        t_energy = v1.placeholder(tf.float32, [None], name="t_energy")
        t_force = v1.placeholder(tf.float32, [None, natoms * 3], name="t_force")
        gs = v1.train.get_or_create_global_step()
        xyz = tf.reshape(coord, [-1, natoms, 1, 3])
        diff = xyz - tf.transpose(xyz, [0, 2, 1, 3])
        r2 = tf.reduce_sum(tf.square(diff), axis=-1) + 1.0                 # [-1, natoms, natoms]
        descriptor = tf.reshape(1.0 / r2, [-1, natoms])                     # per-atom environment
        h = descriptor
        for i, width in enumerate([8, 8]):
            with v1.variable_scope(f"layer_{i}"):
                w = v1.get_variable("matrix", [h.shape[-1], width],
                                    initializer=v1.random_normal_initializer(seed=70 + i))
                b = v1.get_variable("bias", [width], initializer=v1.random_normal_initializer(seed=80 + i))
                h = tf.tanh(tf.matmul(h, w) + b)
        with v1.variable_scope("final_layer"):
            w = v1.get_variable("matrix", [8, 1], initializer=v1.random_normal_initializer(seed=90))
            b = v1.get_variable("bias", [1], initializer=v1.zeros_initializer())
            atom_energy = tf.reshape(tf.matmul(h, w) + b, [-1, natoms])
        energy = tf.reduce_sum(atom_energy, axis=1, name="o_energy")
        force = tf.identity(-tf.gradients(energy, coord)[0], name="o_force")
        loss = tf.reduce_mean(tf.square(energy - t_energy)) + tf.reduce_mean(tf.square(force - t_force))
        train_op = v1.train.AdamOptimizer(1e-3).minimize(loss, global_step=gs)
        _train_and_save(e, train_op, {"t_coord:0": c_val, "t_energy:0": e_val, "t_force:0": f_val}, ["t_coord:0"],
                        ["o_energy:0", "o_force:0"], steps=2, global_step=gs)
    return e


def keras2_graph():
    """Keras 2 (tf_keras) in graph mode: Sequential, compile(adam), fit one epoch, then a Saver checkpoint."""
    _modern()  # tf_keras makes resource variables in graph mode
    import tf_keras
    from tf_keras.src import backend as K

    e = Entry("keras2_graph", "Keras 2 (tf_keras) in graph mode",
              "tf_keras.Sequential compiled with adam, fit in a v1 session, Saver model.ckpt", "meta",
              "model.ckpt.meta")
    r = rng(8)
    x_val = r.rand(8, 10).astype(np.float32)
    y_val = r.randint(0, 3, 8).astype(np.int64)
    g = tf.Graph()
    with g.as_default():
        sess = _session(g)
        K.set_session(sess)
        tf_keras.utils.set_random_seed(8)
        model = tf_keras.Sequential([tf_keras.layers.Dense(16, activation="relu", input_shape=(10,)),
                                     tf_keras.layers.Dense(3)])
        model.compile(optimizer="adam",
                      loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x_val, y_val, epochs=1, batch_size=8, verbose=0)
        # Keras' training step: the optimizer's iterations += 1, run after the grouped variable updates
        train_ops = [op for op in g.get_operations() if op.type == "AssignAddVariableOp"
                     and op.name.startswith("training") and op.inputs[0].op.name.endswith("/iter")]
        saver = v1.train.Saver()
        saver.save(sess, str(e.folder / "model.ckpt"))
        inp, out = model.inputs[0].name, model.outputs[0].name
        target = [op.name for op in g.get_operations() if op.type == "Placeholder" and op.name.endswith("_target")]
        _run_expected(e, sess, {inp: x_val[:BATCH]}, [out])
        sess.close()
    assert len(train_ops) == 1 and len(target) == 1, (train_ops, target)
    e.train(train_ops[0].name, {inp: x_val, target[0] + ":0": y_val.reshape(-1, 1).astype(np.float32)})
    e.set(checkpoint="model.ckpt")
    return e


def control_flow_v1():
    """v1 while_loop and cond (disable_control_flow_v2): Switch/Merge, while_context and cond_context collections."""
    _legacy()
    e = Entry("control_flow_v1", "v1 while_loop and cond",
              "tf.compat.v1.while_loop over a shared weight, cond on an is_training switch, GradientDescent",
              "meta", "model.ckpt.meta")
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(9)
        x, labels, feeds = _classifier(4, 3, 9)
        is_training = v1.placeholder_with_default(False, [], name="is_training")
        h = _dense(x, 8, "encoder", tf.nn.relu, init_seed=91)
        with v1.variable_scope("loop"):
            w = v1.get_variable("kernel", [8, 8], initializer=v1.glorot_uniform_initializer(seed=92))
            _, h = v1.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, tf.tanh(tf.matmul(s, w))),
                                 [tf.constant(0), h])
        h = v1.cond(is_training, lambda: tf.nn.dropout(h, rate=0.5, seed=1), lambda: tf.identity(h))
        logits = tf.identity(_dense(h, 3, "output", init_seed=93), name="logits")
        train_op = v1.train.GradientDescentOptimizer(0.1).minimize(_xent(labels, logits), name="train_op")
        _train_and_save(e, train_op, feeds, ["x:0"], ["logits:0"],
                        step_feeds={"is_training:0": True})
    assert {"Switch", "Merge", "Enter", "Exit", "NextIteration"} <= {op.type for op in g.get_operations()}
    return e


def lookup_table():
    """A TF1 SavedModel with a vocabulary file: StaticHashTable(TextFileInitializer) as index_table_from_file
    built it, the vocabulary in assets/, the asset_filepaths collection, tables initialized by main_op."""
    _legacy()
    e = Entry("lookup_table", "lookup table with a vocabulary asset",
              "TF1 SavedModel: string words -> vocabulary table (assets/vocab.txt, main_op) -> embedding -> scores",
              "savedmodel", "saved_model")
    words = ["the", "cat", "sat", "on", "mat", "dog"]
    vocab = e.folder / "vocab.txt"
    vocab.write_text("\n".join(words) + "\n")
    w_val = np.array([b"cat", b"dog", b"unknown", b"the"])
    g = tf.Graph()
    with g.as_default():
        v1.set_random_seed(10)
        text = v1.placeholder(tf.string, [None], name="words")
        table = v1.lookup.StaticHashTable(
            v1.lookup.TextFileInitializer(str(vocab), tf.string, v1.lookup.TextFileIndex.WHOLE_LINE,
                                          tf.int64, v1.lookup.TextFileIndex.LINE_NUMBER), default_value=-1)
        ids = tf.identity(table.lookup(text) + 1, name="ids")  # 0 is out of vocabulary
        emb = v1.get_variable("embeddings", [len(words) + 1, 4], initializer=v1.random_normal_initializer(seed=10))
        scores = tf.identity(_dense(tf.nn.embedding_lookup(emb, ids), 2, "dense", init_seed=101), name="scores")
        with _session(g) as sess:
            sess.run([v1.global_variables_initializer(), v1.tables_initializer()])
            sig = v1.saved_model.predict_signature_def({"words": text}, {"scores": scores, "ids": ids})
            builder = v1.saved_model.Builder(str(e.folder / "saved_model"))
            builder.add_meta_graph_and_variables(
                sess, ["serve"], signature_def_map={"serving_default": sig},
                assets_collection=v1.get_collection(v1.GraphKeys.ASSET_FILEPATHS),
                main_op=v1.tables_initializer())
            builder.save()
            _run_expected(e, sess, {"words:0": w_val}, ["scores:0", "ids:0"])
            e.feeds({"words": w_val}, "sig_feeds")
            e.expect(dict(zip(["scores", "ids"], sess.run([scores, ids], {text: w_val}))), "sig_expected")
    vocab.unlink()  # only the SavedModel's copy under assets/ remains
    e.set(tags=["serve"], signature="serving_default")
    return e


def several_savers():
    """The model's Saver and a 'pretrained' subset Saver writing to its own prefix (fine-tuning scripts)."""
    _legacy()
    e = Entry("several_savers", "several savers",
              "Saver over everything (model.ckpt) and Saver(var_list=base/) writing pretrained/base.ckpt",
              "meta", "model.ckpt.meta")
    g = tf.Graph()
    with g.as_default():
        x, labels, feeds = _classifier(6, 2, 11)
        with v1.variable_scope("base"):
            h = _dense(x, 8, "dense", tf.nn.relu, init_seed=111)
        with v1.variable_scope("head"):
            logits = _dense(h, 2, "dense", init_seed=112)
        logits = tf.identity(logits, name="logits")
        train_op = v1.train.GradientDescentOptimizer(0.1).minimize(_xent(labels, logits), name="train_op")
        v1.add_to_collection("inputs", x)
        v1.add_to_collection("outputs", logits)
        pretrained = v1.train.Saver(v1.global_variables("base"), name="pretrained_saver")
        _train_and_save(e, train_op, feeds, ["x:0"], ["logits:0"],
                        before_save=lambda sess: pretrained.save(sess, str(e.folder / "pretrained" / "base.ckpt"),
                                                                 write_meta_graph=False))
    return e


def resource_clipping():
    """Resource variables (TF1 style) with clip_by_global_norm between compute_ and apply_gradients; RMSProp."""
    _modern()
    e = Entry("resource_clipping", "resource variables with gradient clipping",
              "resource variables, compute_gradients -> clip_by_global_norm -> apply_gradients(global_step), RMSProp",
              "meta", "model.ckpt-2.meta")
    g = tf.Graph()
    with g.as_default():
        x, labels, feeds = _classifier(6, 3, 12)
        gs = v1.train.get_or_create_global_step()
        h = _dense(x, 8, "hidden", tf.nn.relu, init_seed=121)
        logits = tf.identity(_dense(h, 3, "output", init_seed=122), name="logits")
        opt = v1.train.RMSPropOptimizer(0.01)
        grads, variables = zip(*opt.compute_gradients(_xent(labels, logits)))
        clipped, _ = tf.clip_by_global_norm(grads, 1.0)
        train_op = opt.apply_gradients(zip(clipped, variables), global_step=gs, name="train_op")
        _train_and_save(e, train_op, feeds, ["x:0"], ["logits:0"], steps=2,
                        global_step=gs)
    assert "VarHandleOp" in {op.type for op in g.get_operations()}
    return e


def _sig_entry(e: Entry, path: Path, feeds: dict, fn) -> None:
    """Record a TF2 SavedModel's signature (and the top-level tensors the v1 loader sees) with expected values."""
    e.feeds(feeds, "sig_feeds")
    outputs = {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in feeds.items()}).items()}
    e.expect(outputs, "sig_expected")
    g = tf.Graph()
    with g.as_default(), _session(g) as sess:
        meta = v1.saved_model.loader.load(sess, ["serve"], str(path))
        sig = meta.signature_def["serving_default"]
        tensor_feeds = {sig.inputs[k].name: v for k, v in feeds.items()}
        fetches = {sig.outputs[k].name: k for k in outputs}
        values = sess.run(list(fetches), tensor_feeds)
    e.feeds(tensor_feeds)
    e.expect(dict(zip(fetches, values)))
    assert all(np.allclose(v, outputs[k], atol=1e-6) for v, k in zip(values, fetches.values()))


def tf2_module():
    """TF2: a tf.Module with a tf.function signature, tf.saved_model.save."""
    _modern()
    e = Entry("tf2_module", "TF2 tf.Module SavedModel", "tf.Module, @tf.function(input_signature), "
              "tf.saved_model.save(signatures=...)", "savedmodel", "saved_model", tf2=True)
    r = rng(13)

    class Classifier(tf.Module):
        def __init__(self):
            super().__init__(name="classifier")
            self.w1 = tf.Variable(r.randn(6, 8).astype(np.float32), name="w1")
            self.b1 = tf.Variable(np.full(8, 0.1, np.float32), name="b1")
            self.w2 = tf.Variable(r.randn(8, 3).astype(np.float32), name="w2")
            self.b2 = tf.Variable(np.zeros(3, np.float32), name="b2")

        @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32, name="x")])
        def __call__(self, x):
            h = tf.nn.relu(tf.matmul(x, self.w1) + self.b1)
            logits = tf.matmul(h, self.w2) + self.b2
            return {"logits": logits, "probabilities": tf.nn.softmax(logits)}

    module = Classifier()
    path = e.folder / "saved_model"
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.__call__.get_concrete_function()})
    loaded = tf.saved_model.load(str(path))
    _sig_entry(e, path, {"x": r.rand(BATCH, 6).astype(np.float32)}, loaded.signatures["serving_default"])
    e.set(tags=["serve"], signature="serving_default")
    return e


def keras3_export():
    """TF2: a Keras 3 model exported for serving with model.export (tf.saved_model under the hood)."""
    _modern()
    import keras

    e = Entry("keras3_export", "Keras 3 model.export", "keras.Sequential (Dense relu, Dense softmax), "
              "model.export(DIR): serve / serving_default", "savedmodel", "exported", tf2=True)
    keras.utils.set_random_seed(14)
    model = keras.Sequential([keras.Input((6,), name="features"), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    path = e.folder / "exported"
    model.export(str(path), verbose=False)
    loaded = tf.saved_model.load(str(path))
    sig = loaded.signatures["serving_default"]
    key = next(iter(sig.structured_input_signature[1]))
    _sig_entry(e, path, {key: rng(14).rand(BATCH, 6).astype(np.float32)}, sig)
    e.set(tags=["serve"], signature="serving_default")
    return e


GENERATORS = [cnn_global_step, estimator, root_variables, partitioned, moving_averages, mobilenet, deepmd,
              keras2_graph, control_flow_v1, lookup_table, several_savers, resource_clipping, tf2_module,
              keras3_export]


def main(argv) -> int:
    global OUT
    OUT = Path(argv[0])
    OUT.mkdir(parents=True)
    manifest = {}
    for generate in GENERATORS:
        made = generate()
        for entry in made if isinstance(made, list) else [made]:
            manifest[entry.name] = entry.data
    _modern()
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
