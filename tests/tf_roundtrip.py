"""TensorFlow's look at an edited model: does it load, and does everything it names still resolve?

Run in a subprocess (it imports TensorFlow)::

    python tests/tf_roundtrip.py JOBS.json OUT.json

Each job: ``{"model": PATH, "kind": "meta" | "savedmodel", "tags": ["serve"], "checkpoint": PREFIX,
"run": {"feeds": {TENSOR: NPY}, "fetches": [TENSOR, ...]}, "v2": bool, "soft_placement": bool}``.
A ``.meta`` is imported with ``import_meta_graph`` and restored from ``checkpoint`` through the saver it
returns; a SavedModel is loaded with ``tf.compat.v1.saved_model.loader.load`` (and, with ``v2``,
``tf.saved_model.load``). The result: ``collections`` (key -> number of items ``get_collection`` gives),
``signatures`` (key -> the tensor names of its inputs and outputs, each looked up in the graph),
``saver`` (whether a saver restored), ``values`` (fetch -> the fetched array as a list),
``v2_signatures`` (keys ``tf.saved_model.load`` sees) or ``error``.
"""
from __future__ import annotations

import os
import sys

from tf_jobs import in_subprocess, run_jobs

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _check(tf, graph, meta, sess, job):
    import numpy as np

    out = {"collections": {}, "signatures": {}}
    for key in meta.collection_def:
        out["collections"][key] = len(graph.get_collection(key))
    for key, sig in meta.signature_def.items():
        names = [info.name for info in list(sig.inputs.values()) + list(sig.outputs.values()) if info.name]
        for name in names:
            graph.get_tensor_by_name(name)  # raises when it does not resolve
        out["signatures"][key] = sorted(names)
    run = job.get("run")
    if run:
        feeds = {name: np.load(path, allow_pickle=True) for name, path in run.get("feeds", {}).items()}
        values = sess.run(run["fetches"], feeds)
        out["values"] = {name: np.asarray(v).tolist() for name, v in zip(run["fetches"], values)}
    return out


def run(job: dict) -> dict:
    import tensorflow as tf

    v1 = tf.compat.v1
    config = v1.ConfigProto(allow_soft_placement=job.get("soft_placement", True))
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph, config=config) as sess:
        if job["kind"] == "meta":
            meta = v1.MetaGraphDef()
            meta.ParseFromString(open(job["model"], "rb").read())
            saver = v1.train.import_meta_graph(meta, clear_devices=job.get("clear_devices", False))
            restored = False
            if job.get("checkpoint") and saver is not None:
                saver.restore(sess, job["checkpoint"])
                restored = True
            out = _check(tf, graph, meta, sess, job)
            out["saver"] = restored
        else:
            meta = v1.saved_model.loader.load(sess, job.get("tags", ["serve"]), job["model"])
            out = _check(tf, graph, meta, sess, job)
            out["saver"] = meta.HasField("saver_def")
    if job.get("v2"):
        loaded = tf.saved_model.load(job["model"], tags=job.get("tags", ["serve"]))
        out["v2_signatures"] = sorted(loaded.signatures.keys())
    return out


def roundtrip(jobs: list, tmp_path) -> list:
    """Run ``jobs`` in one TensorFlow subprocess (niced); the results, any error failing the calling test."""
    return in_subprocess(__file__, jobs, tmp_path, "roundtrip")


def main(argv) -> int:
    return run_jobs(run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
