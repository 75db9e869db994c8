"""TensorFlow's answers to what test_rewrite_idioms asks beside the idiom matrix.

Run in a subprocess (it imports TensorFlow)::

    python tests/tf_rewrite_check.py JOBS.json OUT.json

Each job::

    {"kind": "checkpoint", "model": PREFIX, "tensors": [key, ...]}   # tf.train.load_checkpoint
    {"kind": "graphdef", "model": PB, "init": OP | null,             # import_graph_def(name=""), run OP once,
     "feeds": {tensor: npy}, "fetches": [tensor, ...]}               # then the fetches

The result: ``keys`` (what the checkpoint's reader lists) and ``values``
(key or fetch -> list), or ``error`` with TensorFlow's whole message.
"""
from __future__ import annotations

import os
import sys

from tf_jobs import in_subprocess, run_jobs

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def run(job: dict) -> dict:
    import numpy as np
    import tensorflow as tf

    v1 = tf.compat.v1
    if job["kind"] == "checkpoint":
        reader = tf.train.load_checkpoint(job["model"])
        return {"keys": sorted(reader.get_variable_to_shape_map()),
                "values": {key: reader.get_tensor(key).tolist() for key in job["tensors"]}}
    feeds = {name: np.load(path) for name, path in job.get("feeds", {}).items()}
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as sess:
        graph_def = v1.GraphDef()
        graph_def.ParseFromString(open(job["model"], "rb").read())
        tf.import_graph_def(graph_def, name="")
        if job.get("init"):
            sess.run(job["init"])
        values = sess.run(job["fetches"], feeds)
    return {"values": {name: np.asarray(v).tolist() for name, v in zip(job["fetches"], values)}}


def check(jobs: list, tmp_path) -> list:
    """Run ``jobs`` in one TensorFlow subprocess (niced); the results, in order."""
    return in_subprocess(__file__, jobs, tmp_path, "check")


def main(argv) -> int:
    return run_jobs(run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
