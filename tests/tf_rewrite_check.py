"""TensorFlow loads what a rewrite wrote and computes with it: the oracle of test_rewrite_idioms.

Run in a subprocess (it imports TensorFlow)::

    python tests/tf_rewrite_check.py JOBS.json OUT.json

Each job::

    {"kind": "meta", "model": M, "checkpoint": PREFIX}     # import_meta_graph, then its saver restores PREFIX
          | "graphdef", "model": PB, "init": OP | null      # import_graph_def(name=""), then run OP once
          | "savedmodel", "model": DIR,                     # tf.compat.v1.saved_model.loader.load
     "feeds": {tensor: npy}, "fetches": [tensor, ...],
     "v2": {"signature": S, "feeds": {key: npy}} | null}   # and tf.saved_model.load, the signature called

The result: ``values`` (fetch -> list), ``v2_values`` (output key -> list),
``collections`` (key -> items ``get_collection`` gives) and ``restored``
(whether a saver restored), or ``error`` with TensorFlow's whole message.
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
    feeds = {name: np.load(path) for name, path in job.get("feeds", {}).items()}
    out = {"restored": False}
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as sess:
        if job["kind"] == "meta":
            saver = v1.train.import_meta_graph(job["model"])
            if job.get("checkpoint"):
                saver.restore(sess, job["checkpoint"])
                out["restored"] = True
        elif job["kind"] == "graphdef":
            graph_def = v1.GraphDef()
            graph_def.ParseFromString(open(job["model"], "rb").read())
            tf.import_graph_def(graph_def, name="")
            if job.get("init"):
                sess.run(job["init"])
        else:
            meta = v1.saved_model.loader.load(sess, ["serve"], job["model"])
            out["restored"] = meta.HasField("saver_def")
        out["collections"] = {key: len(graph.get_collection(key)) for key in graph.get_all_collection_keys()}
        values = sess.run(job.get("fetches", []), feeds)
        out["values"] = {name: np.asarray(v).tolist() for name, v in zip(job.get("fetches", []), values)}
    if job.get("v2"):
        loaded = tf.saved_model.load(job["model"])
        fn = loaded.signatures[job["v2"]["signature"]]
        result = fn(**{k: tf.constant(np.load(path)) for k, path in job["v2"]["feeds"].items()})
        out["v2_values"] = {k: v.numpy().tolist() for k, v in result.items()}
    return out


def check(jobs: list, tmp_path) -> list:
    """Run ``jobs`` in one TensorFlow subprocess (niced); the results, in order."""
    return in_subprocess(__file__, jobs, tmp_path, "check")


def main(argv) -> int:
    return run_jobs(run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
