"""TensorFlow trains an edited model one step: what changed?

Run in a subprocess (it imports TensorFlow)::

    python tests/tf_train_step.py JOBS.json OUT.json

Each job: ``{"model": checkpoint directory or .meta, "op": the training op, "feeds": NPZ (tensor name ->
array) or {tensor name: NPY},
"steps": 1, "fetch": [tensor, ...], "minimize": {...}}``. The model's ``.meta`` is imported with ``import_meta_graph``,
restored through the saver it returns from the directory's latest checkpoint, and its training op run
``steps`` times on the feeds. The result: ``changed`` (variable -> whether its value changed),
``trainable`` (``tf.compat.v1.trainable_variables()``), ``global_step`` ([before, after], or null),
``values`` (variable -> its value after, as a list, for the variables named in ``values``), ``fetched``
(each of ``fetch`` before the step) or ``error``.

With ``"minimize": {"loss": TENSOR, "learning_rate": LR, "exclude": [VARIABLE, ...]}`` the step is not the
model's own: it is TensorFlow's ``GradientDescentOptimizer(LR).minimize(loss, var_list=trainable minus
exclude)`` under ``control_dependencies(update_ops)``, built into the imported graph (the oracle a frozen
copy is compared with).
"""
from __future__ import annotations

import os
import sys

from tf_jobs import run_jobs

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def run(job: dict) -> dict:
    import numpy as np
    import tensorflow as tf

    v1 = tf.compat.v1
    model = job["model"]
    prefix = model[:-len(".meta")] if model.endswith(".meta") else tf.train.latest_checkpoint(model)
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as sess:
        saver = v1.train.import_meta_graph(prefix + ".meta")
        saver.restore(sess, prefix)
        feeds = job["feeds"]
        feeds = {k: np.load(v) for k, v in feeds.items()} if isinstance(feeds, dict) else dict(np.load(feeds))
        variables = v1.global_variables()
        step = v1.train.get_global_step()
        before = {v.op.name: sess.run(v) for v in variables}
        fetched = {t: sess.run(t, feeds).tolist() for t in job.get("fetch", [])}
        step_before = int(sess.run(step)) if step is not None else None
        ref = job.get("minimize")
        if ref:
            trainable = [v for v in v1.trainable_variables() if v.op.name not in set(ref["exclude"])]
            with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
                op = v1.train.GradientDescentOptimizer(ref["learning_rate"]).minimize(
                    graph.get_tensor_by_name(ref["loss"]), var_list=trainable, name="oracle")
        else:
            op = graph.get_operation_by_name(job["op"])
        for _ in range(job.get("steps", 1)):
            sess.run(op, feeds)
        after = {v.op.name: sess.run(v) for v in variables}
        return {"changed": {n: bool(not np.array_equal(before[n], after[n])) for n in before},
                "trainable": [v.op.name for v in v1.trainable_variables()],
                "global_step": [step_before, int(sess.run(step))] if step is not None else None,
                "values": {n: after[n].tolist() for n in job.get("values", [])},
                "fetched": fetched}


if __name__ == "__main__":
    sys.exit(run_jobs(run, sys.argv[1:]))
