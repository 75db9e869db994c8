"""Small training graphs in the shapes people's models come in, built by TensorFlow at test time.

``python tests/training_idioms.py OUTDIR [NAME...]`` writes each model into
``OUTDIR/NAME/`` (a checkpoint directory: ``model.ckpt[-N].*``, its
``checkpoint`` file) with the feeds one training step needs (``feeds.npz``,
keyed by tensor name) and ``manifest.json`` (``{NAME: {"op": the training op
as its author would name it, "feeds": path, ...}}``). One TensorFlow import
for all; a few seconds. Nothing of it is committed.

The idioms (issue 22 points 2, 3 and 12):

- ``cnn_global_step``: Conv2D layers, ``AdamOptimizer.minimize(loss,
  global_step=get_or_create_global_step())``: the training op is the
  ``AssignAdd`` named ``Adam``, in ``train_op`` as ``minimize`` puts it;
- ``root_variables``: ``W1``, ``b1``, ``Theta_1`` at the top level, Sigmoid
  activations, ``GradientDescent.minimize(name="train")``;
- ``root_adagrad``: the same with Adagrad (slots ``W1/Adagrad``);
- ``embedding_adagrad``: ``embedding_lookup`` trained by ``SparseApplyAdagrad``,
  global step;
- ``momentum_ema``: Momentum, then ``ExponentialMovingAverage.apply`` under
  its control dependency, grouped as ``train_op``;
- ``keras2``: ``tf_keras`` in graph mode (``Sequential``, legacy ``Adam``
  whose hyper-parameters are variables), one ``fit`` step, saved with a Saver;
  its training op is the ``training/group_deps``-style group nothing reads;
- ``deepmd_like``: a DeePMD-style potential: ``o_energy`` from coordinates,
  forces ``o_force = -tf.gradients(energy, coord)`` (gradients the model's
  outputs need), trained on both with Adam (a second, training ``tf.gradients``);
  its manifest entry says which ops each output needs, as TensorFlow's own
  ``extract_sub_graph`` answers.
"""
from __future__ import annotations

import json
import os
import sys


def _save(v1, sess, saver, path, feeds, step=None, **facts):
    os.makedirs(path, exist_ok=True)
    saver.save(sess, os.path.join(path, "model.ckpt"), global_step=step)
    import numpy as np

    np.savez(os.path.join(path, "feeds.npz"), **feeds)
    return {"feeds": os.path.join(path, "feeds.npz"), **facts}


def cnn_global_step(tf, v1, rng, path):
    x = v1.placeholder(tf.float32, [None, 8, 8, 1], name="x")
    y = v1.placeholder(tf.int64, [None], name="y")
    h = x
    for name, (cin, cout, stride) in (("conv1", (1, 4, 1)), ("conv2", (4, 4, 2))):
        with v1.variable_scope(name):
            kernel = v1.get_variable("kernel", [3, 3, cin, cout])
            bias = v1.get_variable("bias", [cout], initializer=v1.zeros_initializer())
            h = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(h, kernel, [1, stride, stride, 1], "SAME"), bias))
    h = tf.reshape(h, [-1, 64])
    with v1.variable_scope("fc"):
        kernel = v1.get_variable("kernel", [64, 3])
        bias = v1.get_variable("bias", [3], initializer=v1.zeros_initializer())
        logits = tf.identity(tf.matmul(h, kernel) + bias, name="logits")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits), name="loss")
    step = v1.train.get_or_create_global_step()
    train = v1.train.AdamOptimizer(0.01).minimize(loss, global_step=step)
    feeds = {"x:0": rng.rand(4, 8, 8, 1).astype("float32"), "y:0": np.array([0, 1, 2, 0])}
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        sess.run(train, feeds)
        return _save(v1, sess, v1.train.Saver(), path, feeds, step, op=train.name, logits="logits:0")


def _root_variables(tf, v1, rng, path, optimizer):
    X = v1.placeholder(tf.float32, [None, 5], name="X")
    Y = v1.placeholder(tf.float32, [None, 3], name="Y")
    W1 = v1.Variable(v1.random_normal([5, 4]), name="W1")
    b1 = v1.Variable(tf.zeros([4]), name="b1")
    Theta_1 = v1.Variable(v1.random_normal([4, 3]), name="Theta_1")
    hidden = tf.sigmoid(tf.matmul(X, W1) + b1)
    out = tf.sigmoid(tf.matmul(hidden, Theta_1))
    loss = tf.reduce_mean(tf.square(out - Y))
    train = optimizer.minimize(loss, name="train")
    feeds = {"X:0": rng.rand(4, 5).astype("float32"), "Y:0": rng.rand(4, 3).astype("float32")}
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        sess.run(train, feeds)
        return _save(v1, sess, v1.train.Saver(), path, feeds, op=train.name, logits=out.name,
                     hidden=hidden.name)


def root_variables(tf, v1, rng, path):
    return _root_variables(tf, v1, rng, path, v1.train.GradientDescentOptimizer(0.5))


def root_adagrad(tf, v1, rng, path):
    return _root_variables(tf, v1, rng, path, v1.train.AdagradOptimizer(0.5))


def embedding_adagrad(tf, v1, rng, path):
    ids = v1.placeholder(tf.int64, [None], name="ids")
    y = v1.placeholder(tf.float32, [None], name="y")
    with v1.variable_scope("embedding"):
        table = v1.get_variable("weights", [20, 4])
    with v1.variable_scope("out"):
        kernel = v1.get_variable("kernel", [4, 1])
    pred = tf.squeeze(tf.matmul(tf.nn.embedding_lookup(table, ids), kernel), 1, name="pred")
    loss = tf.reduce_mean(tf.square(pred - y))
    step = v1.train.get_or_create_global_step()
    train = v1.train.AdagradOptimizer(0.5).minimize(loss, global_step=step)
    feeds = {"ids:0": np.array([1, 2, 3, 2]), "y:0": np.array([1., 2., 3., 2.], "float32")}
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        sess.run(train, feeds)
        return _save(v1, sess, v1.train.Saver(), path, feeds, step, op=train.name, logits="pred:0")


def momentum_ema(tf, v1, rng, path):
    x = v1.placeholder(tf.float32, [None, 5], name="x")
    y = v1.placeholder(tf.int64, [None], name="y")
    with v1.variable_scope("fc1"):
        h = tf.nn.relu(tf.matmul(x, v1.get_variable("kernel", [5, 6])) + v1.get_variable("bias", [6]))
    with v1.variable_scope("fc2"):
        logits = tf.add(tf.matmul(h, v1.get_variable("kernel", [6, 3])), v1.get_variable("bias", [3]),
                        name="logits")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    step = v1.train.get_or_create_global_step()
    opt_op = v1.train.MomentumOptimizer(0.1, 0.9).minimize(loss, global_step=step)
    ema = v1.train.ExponentialMovingAverage(0.99)
    with tf.control_dependencies([opt_op]):
        train = tf.group(ema.apply(v1.trainable_variables()), name="train_op")
    v1.add_to_collection(v1.GraphKeys.TRAIN_OP, train)
    feeds = {"x:0": rng.rand(4, 5).astype("float32"), "y:0": np.array([0, 1, 2, 0])}
    with v1.Session() as sess:
        # The shadows start from the variables' values: initialise those first.
        sess.run(v1.variables_initializer(v1.trainable_variables()))
        sess.run(v1.variables_initializer([v for v in v1.global_variables() if v not in v1.trainable_variables()]))
        sess.run(train, feeds)
        return _save(v1, sess, v1.train.Saver(), path, feeds, step, op=train.name, logits="fc2/logits:0")


def keras2(tf, v1, rng, path):
    import tf_keras as keras
    from tf_keras.src import backend

    sess = v1.Session(graph=tf.compat.v1.get_default_graph())
    backend.set_session(sess)
    model = keras.Sequential([keras.layers.Dense(6, activation="relu", input_shape=(5,), name="dense"),
                              keras.layers.Dense(3, name="logits")])
    model.compile(optimizer=keras.optimizers.legacy.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, labels = rng.rand(4, 5).astype("float32"), np.array([0, 1, 2, 0])
    model.fit(x, labels, epochs=1, verbose=0, batch_size=4)
    graph = sess.graph
    feeds = {"dense_input:0": x, "logits_target:0": labels.reshape(-1, 1).astype("float32")}
    train = [op.name for op in graph.get_operations() if op.type == "NoOp" and op.name.endswith("group_deps")
             and not any(op in c.control_inputs for c in graph.get_operations())]
    return _save(v1, sess, v1.train.Saver(), path, feeds, op=train[-1], logits=model.outputs[0].name)


def deepmd_like(tf, v1, rng, path):
    coord = v1.placeholder(tf.float32, [None, 3], name="t_coord")
    e_ref = v1.placeholder(tf.float32, [], name="t_energy")
    f_ref = v1.placeholder(tf.float32, [None, 3], name="t_force")
    with v1.variable_scope("fitting"):
        hidden = tf.tanh(tf.matmul(coord, v1.get_variable("matrix_1", [3, 8])) + v1.get_variable("bias_1", [8]))
        atom_energy = tf.matmul(hidden, v1.get_variable("matrix_2", [8, 1]))
    energy = tf.reduce_sum(atom_energy, name="o_energy")
    force = tf.negative(tf.gradients(energy, coord)[0], name="o_force")
    loss = tf.square(energy - e_ref) + tf.reduce_mean(tf.square(force - f_ref))
    train = v1.train.AdamOptimizer(0.01).minimize(loss, global_step=v1.train.get_or_create_global_step())
    feeds = {"t_coord:0": rng.rand(5, 3).astype("float32"), "t_energy:0": np.float32(1.0),
             "t_force:0": rng.rand(5, 3).astype("float32")}
    graph_def = tf.compat.v1.get_default_graph().as_graph_def()
    needs = {out: sorted(n.name for n in v1.graph_util.extract_sub_graph(graph_def, [out]).node)
             for out in ("o_energy", "o_force")}
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        sess.run(train, feeds)
        return _save(v1, sess, v1.train.Saver(), path, feeds, v1.train.get_global_step(), op=train.name,
                     logits="o_energy:0", needs=needs)


IDIOMS = {f.__name__: f for f in (cnn_global_step, root_variables, root_adagrad, embedding_adagrad, momentum_ema,
                                   keras2, deepmd_like)}


def main(argv) -> int:
    global np
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy
    import tensorflow as tf

    np = numpy
    v1 = tf.compat.v1
    v1.disable_eager_execution()
    v1.disable_resource_variables()  # TF1's ref variables (Keras makes resource ones all the same)
    out, names = argv[0], argv[1:] or list(IDIOMS)
    manifest = {}
    for name in names:
        graph = tf.Graph()
        with graph.as_default():
            v1.set_random_seed(1)
            manifest[name] = IDIOMS[name](tf, v1, np.random.RandomState(0), os.path.join(out, name))
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
