"""Run graphs in TensorFlow for a test: ``python tests/tf_run.py JOBS.json OUT.json`` (see tests/_support.tf_run).

Each job: ``{"kind": "graphdef" | "meta" | "savedmodel" | "function", "model": PATH, "feeds": {TENSOR: NPY},
"fetches": [TENSOR, ...], "out": NPZ}`` and, by kind:

- ``graphdef``: a GraphDef file (binary or text) imported with ``import_graph_def(name="")``;
- ``meta``: a MetaGraphDef imported with ``import_meta_graph`` and, with ``"checkpoint"``, restored by
  its saver;
- ``savedmodel``: loaded with the TF1 loader ``tf.compat.v1.saved_model.loader.load`` (``"tags"``);
- ``function``: loaded with TF2's ``tf.saved_model.load``, signature ``"signature"`` called with the
  feeds as keyword arguments (``feeds`` keys are the signature's input keys, ``fetches`` its output keys).

The fetched values go to ``out`` as ``v0``, ``v1``...; the result is ``{"shapes": [...]}`` (the fetches'
static shapes as TensorFlow infers them, graph kinds only), ``{}``, or ``{"error": ...}``.
"""
from __future__ import annotations

import os
import sys

from tf_jobs import run_jobs

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _graph_def(tf, path):
    from google.protobuf import text_format

    data = open(path, "rb").read()
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
        if graph_def.node or not data.strip():
            return graph_def
    except Exception:  # noqa: BLE001 - a text GraphDef
        pass
    graph_def = tf.compat.v1.GraphDef()
    text_format.Parse(data.decode("utf-8"), graph_def)
    return graph_def


def run(job: dict) -> dict:
    import numpy as np
    import tensorflow as tf

    v1 = tf.compat.v1
    feeds = {name: np.load(path, allow_pickle=True) for name, path in job.get("feeds", {}).items()}
    if job["kind"] == "function":
        loaded = tf.saved_model.load(job["model"])
        outputs = loaded.signatures[job.get("signature", "serving_default")](
            **{k: tf.constant(v) for k, v in feeds.items()})
        values = [outputs[key].numpy() for key in job["fetches"]]
    else:
        graph = tf.Graph()
        config = v1.ConfigProto(allow_soft_placement=True)
        with graph.as_default(), v1.Session(graph=graph, config=config) as sess:
            if job["kind"] == "graphdef":
                v1.import_graph_def(_graph_def(tf, job["model"]), name="")
            elif job["kind"] == "meta":
                meta = v1.MetaGraphDef()
                meta.ParseFromString(open(job["model"], "rb").read())
                meta.meta_info_def.tensorflow_version = ""  # '0.12.head' is refused by TF 2.21's parser
                saver = v1.train.import_meta_graph(meta, clear_devices=True)
                if job.get("checkpoint"):
                    saver.restore(sess, job["checkpoint"])
            else:
                v1.saved_model.loader.load(sess, job.get("tags", ["serve"]), job["model"])
            values = sess.run(job["fetches"], feeds)
            shapes = [None if graph.get_tensor_by_name(f).shape.rank is None
                      else graph.get_tensor_by_name(f).shape.as_list() for f in job["fetches"]]
    np.savez(job["out"], **{f"v{i}": np.asarray(v) for i, v in enumerate(values)})
    return {"shapes": shapes} if job["kind"] != "function" else {}


def main(argv) -> int:
    return run_jobs(run, argv)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main(sys.argv[1:]))
