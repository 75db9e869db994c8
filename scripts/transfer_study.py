"""Does re-heading the 0-4 base model beat training from scratch on digits 5-9?

Issue 6's acceptance asks that the chapter's transfer (re-head after hidden2,
hidden1/hidden2 and their batch norms frozen, 100 images per digit of 5-9) be
"clearly better" than the same network trained from scratch. This script
measures that claim and its neighbours, so that the answer is a table, not
one run:

- frozen: ``rehead --at hidden2 --freeze hidden1,hidden2``, the issue's setup;
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

Takes about three minutes on two cores; prints a Markdown table (TRANSFER.md).
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
    for name, freeze, hidden in (("frozen", ["hidden1", "hidden2"], ()), ("frozen_hidden1", ["hidden1"], ()),
                                 ("none", "none", ()), ("frozen_h50", ["hidden1", "hidden2"], (50,)),
                                 ("none_h50", "none", (50,))):
        gs.rehead(BASE, "hidden2", 5, tmp / name, freeze=freeze, hidden=hidden, lr=LR, seed=SEED)
        built[name] = tmp / name
    return built


# name -> (model, restore the checkpoint, feed training=True)
VARIANTS = {
    "frozen hidden1+hidden2 (the issue's setup)": ("frozen", True, False),
    "frozen hidden1 only": ("frozen_hidden1", True, False),
    "fine-tuned (nothing frozen)": ("none", True, False),
    "scratch (the test's baseline)": ("none", False, False),
    "scratch, BN in training mode": ("none", False, True),
    "frozen hidden1+hidden2, new head 50-5": ("frozen_h50", True, False),
    "scratch, head 50-5": ("none_h50", False, False),
}


def main() -> int:
    import numpy as np

    from fixtures.mnist import load_mnist
    from graphsurgeon import runtime

    tf = runtime.tf()
    v1 = tf.compat.v1
    X_train, y_train, X_test, y_test = load_mnist(os.environ.get("GS_MNIST_DIR"))
    mask = y_test >= 5
    Xt, yt = X_test[mask], y_test[mask] - 5

    def pick(per_digit, draw):
        rng = np.random.RandomState(draw)
        rows = [np.flatnonzero(y_train == d) for d in range(5, 10)]
        rows = [r[:per_digit] if draw == 0 else rng.permutation(r)[:per_digit] for r in rows]
        idx = np.concatenate(rows)
        return X_train[idx], y_train[idx] - 5

    def run(model_dir, restore, feed_training, Xs, ys):
        graph = tf.Graph()
        with graph.as_default():
            saver = v1.train.import_meta_graph(str(model_dir / "model.ckpt.meta"))
            X, y, accuracy, training_op = v1.get_collection("my_important_ops")
            with v1.Session(graph=graph) as sess:
                sess.run(v1.global_variables_initializer())
                if restore:
                    saver.restore(sess, str(model_dir / "model.ckpt"))
                rng = np.random.RandomState(SEED)
                epochs = max(1, STEPS * 50 // len(Xs))
                for _ in range(epochs):
                    order = rng.permutation(len(Xs))
                    for start in range(0, len(Xs), 50):
                        feed = {X: Xs[order[start:start + 50]], y: ys[order[start:start + 50]]}
                        if feed_training:
                            feed[graph.get_tensor_by_name("training:0")] = True
                        sess.run(training_op, feed_dict=feed)
                return float(sess.run(accuracy, feed_dict={X: Xt, y: yt}))

    with tempfile.TemporaryDirectory() as tmp:
        models = _models(Path(tmp))
        results = {}
        for size in SIZES:
            for draw in DRAWS:
                Xs, ys = pick(size, draw)
                for label, (model, restore, feed_training) in VARIANTS.items():
                    acc = run(models[model], restore, feed_training, Xs, ys)
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
