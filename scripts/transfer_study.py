"""Does re-heading the 0-4 base model beat training from scratch on digits 5-9?

The chapter's transfer: re-head the 0-4 model after hidden2, freeze hidden1,
hidden2 and their batch norms, train a new head on few images of 5-9. This
script measures it and its neighbours, so that the answer is a table, not
one run (TRANSFER.md):

- frozen: ``rehead --at hidden2 --freeze hidden1,hidden2``, the chapter's setup;
- frozen hidden1: only hidden1 (and its batch norm) frozen, hidden2 fine-tuned;
- fine-tuned: ``--freeze none``, every layer starts from the checkpoint;
- scratch: the ``--freeze none`` graph with every variable re-initialised,
  trained with the chapter's loop (``training`` not fed: batch norm uses its
  initial moving statistics, i.e. a fixed affine map), as the test does;
- scratch, BN training: the same, feeding ``training=True`` as the chapter's
  own training loop does for a batch-norm network;
- with a new hidden layer of 50 ELU units in the head (``--hidden 50``), as
  the chapter's reuse example adds one: frozen, and from scratch.

Every model is trained with the chapter's loop on what
``get_collection("my_important_ops")`` returns, batch 50, about 200 steps
(20 epochs at 100 images per digit), and scored on all 4,861 test images of
5-9. Images per digit: 10, 20, 50, 100; draws: the first N of each digit (what
the test uses) and two random draws.

    GS_MNIST_DIR=../shared/data/mnist .venv/bin/python scripts/transfer_study.py

Prints a Markdown table (TRANSFER.md). ``tests/test_rehead.py`` reuses
:func:`data`, :func:`pick` and :func:`train_and_score` for its checks.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BASE = ROOT / "fixtures" / "models" / "mnist_bn_elu_0to4"
SIZES = (10, 20, 50, 100)
DRAWS = (0, 1, 2)  # 0: the first N images of each digit; others: random draws with that seed
STEPS = 200
LR, SEED = 0.05, 42


def _models(tmp: Path) -> dict:
    import graphsurgeon as gs

    built = {}
    base = gs.load(BASE)
    for name, freeze, hidden in (("frozen", ["hidden1", "hidden2"], ()), ("frozen_hidden1", ["hidden1"], ()),
                                 ("none", "none", ()), ("frozen_h50", ["hidden1", "hidden2"], (50,)),
                                 ("none_h50", "none", (50,))):
        result, _ = gs.rehead(base, "hidden2", 5, freeze=freeze, hidden=hidden, lr=LR, seed=SEED)
        result.save(tmp / name)
        built[name] = tmp / name
    return built


# name -> (model, restore the checkpoint, feed training=True)
VARIANTS = {
    "frozen hidden1+hidden2 (the chapter's setup)": ("frozen", True, False),
    "frozen hidden1 only": ("frozen_hidden1", True, False),
    "fine-tuned (nothing frozen)": ("none", True, False),
    "scratch (the test's baseline)": ("none", False, False),
    "scratch, BN in training mode": ("none", False, True),
    "frozen hidden1+hidden2, new head 50-5": ("frozen_h50", True, False),
    "scratch, head 50-5": ("none_h50", False, False),
}


def data(data_dir=None):
    """``(X_train, y_train, X_test, y_test)``: all of MNIST's training set, and its test images of
    digits 5-9 with labels 0-4 (as the re-headed models' 5 classes)."""
    from fixtures.mnist import load_mnist

    X_train, y_train, X_test, y_test = load_mnist(data_dir or os.environ.get("GS_MNIST_DIR"))
    mask = y_test >= 5
    return X_train, y_train, X_test[mask], y_test[mask] - 5


def pick(X_train, y_train, per_digit: int, draw: int = 0):
    """``per_digit`` training images of each digit 5-9, labels 0-4: the first ones (draw 0, what
    the tests use) or a random draw seeded with ``draw``."""
    import numpy as np

    rng = np.random.RandomState(draw)
    rows = [np.flatnonzero(y_train == d) for d in range(5, 10)]
    rows = [r[:per_digit] if draw == 0 else rng.permutation(r)[:per_digit] for r in rows]
    idx = np.concatenate(rows)
    return X_train[idx], y_train[idx] - 5


def train_and_score(model_dir: Path, Xs, ys, Xt, yt, restore: bool = True, feed_training: bool = False,
                    steps: int = STEPS, seed: int = SEED) -> dict:
    """Train a re-headed model with the chapter's loop on ``get_collection("my_important_ops")``.

    About ``steps`` steps of batch 50 (whole epochs, shuffled with ``seed``),
    from the checkpoint (``restore``) or from fresh initial values; with
    ``feed_training`` the batches also feed ``training=True``.

    Returns ``{"accuracy"`` on ``Xt``/``yt``, ``"unchanged"``: for each
    non-trainable variable, whether training left it bitwise equal,
    ``"trained"``: for each trainable variable, whether it changed}.
    """
    import numpy as np

    from graphsurgeon.training.tf import tf as load_tf

    tf = load_tf()
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        saver = v1.train.import_meta_graph(str(Path(model_dir) / "model.ckpt.meta"))
        X, y, accuracy, training_op = v1.get_collection("my_important_ops")
        trainable = v1.trainable_variables()
        fixed = [v for v in v1.global_variables() if v not in set(trainable)]
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            if restore:
                saver.restore(sess, str(Path(model_dir) / "model.ckpt"))
            before = {v.op.name: sess.run(v) for v in fixed + trainable}
            rng = np.random.RandomState(seed)
            for _ in range(max(1, steps * 50 // len(Xs))):
                order = rng.permutation(len(Xs))
                for start in range(0, len(Xs), 50):
                    feed = {X: Xs[order[start:start + 50]], y: ys[order[start:start + 50]]}
                    if feed_training:
                        feed[graph.get_tensor_by_name("training:0")] = True
                    sess.run(training_op, feed_dict=feed)
            return {"accuracy": float(sess.run(accuracy, feed_dict={X: Xt, y: yt})),
                    "unchanged": {v.op.name: bool(np.array_equal(before[v.op.name], sess.run(v))) for v in fixed},
                    "trained": {v.op.name: bool(not np.array_equal(before[v.op.name], sess.run(v)))
                                for v in trainable}}


def main() -> int:
    X_train, y_train, Xt, yt = data()
    with tempfile.TemporaryDirectory() as tmp:
        models = _models(Path(tmp))
        results = {}
        for size in SIZES:
            for draw in DRAWS:
                Xs, ys = pick(X_train, y_train, size, draw)
                for label, (model, restore, feed_training) in VARIANTS.items():
                    acc = train_and_score(models[model], Xs, ys, Xt, yt, restore, feed_training)["accuracy"]
                    results.setdefault((label, size), []).append(acc)
                    print(f"{label:45s} {size:3d}/digit draw {draw}: {acc:.4f}", file=sys.stderr, flush=True)

    print(f"Test accuracy on the {len(Xt):,} test images of 5-9; median of {len(DRAWS)} draws "
          f"(lowest-highest). {STEPS} steps of batch 50, lr {LR}.\n")
    print("| images per digit | " + " | ".join(str(s) for s in SIZES) + " |")
    print("|---|" + "---|" * len(SIZES))
    for label in VARIANTS:
        cells = []
        for size in SIZES:
            accs = results[(label, size)]
            cells.append(f"{statistics.median(accs):.3f} ({min(accs):.3f}-{max(accs):.3f})")
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
