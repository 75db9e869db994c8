"""TensorFlow's view of an exported SavedModel, against the model it came from: the oracle of test_export.

Run in a subprocess (it imports TensorFlow)::

    python tests/tf_serving.py JOBS.json OUT.json

``JOBS.json`` is a list of jobs::

    {"saved_model": DIR, "tags": ["serve"], "signature": "serving_default",
     "inputs": {KEY: "x.npy"},                       # fed to the signature, by key
     "reference": {"meta": M, "checkpoint": PREFIX,  # the original, restored from its checkpoint
                   "feeds": {KEY: "X:0"}, "fetches": {OUT_KEY: "logits:0"}}
                   # (a sparse input: a list of the three npy files, fed to [indices, values, shape] names)
                | {"graph_def": PB, ...} | {"saved_model": DIR, "tags": [...], ...},
     "cli": true}                                    # also run saved_model_cli show --all

and ``OUT.json`` gets, per job: ``v1`` and ``v2`` (output key -> largest
absolute difference from the reference, after
``tf.compat.v1.saved_model.loader.load`` and ``tf.saved_model.load``),
``shapes`` (output key -> the shape served), ``cli`` (saved_model_cli's
output) or ``error``.
"""
from __future__ import annotations

import os
import subprocess
import sys

from tf_jobs import run_jobs

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _reference(tf, ref: dict, feeds: dict):
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as sess:
        if "meta" in ref:
            meta = v1.MetaGraphDef()
            meta.ParseFromString(open(ref["meta"], "rb").read())
            if meta.meta_info_def.tensorflow_version.endswith(".head"):
                meta.meta_info_def.tensorflow_version = ""  # TF 2.21 cannot parse '0.12.head' (corpus README)
            saver = v1.train.import_meta_graph(meta)
            saver.restore(sess, ref["checkpoint"])
        elif "graph_def" in ref:
            gd = v1.GraphDef()
            gd.ParseFromString(open(ref["graph_def"], "rb").read())
            v1.import_graph_def(gd, name="")
        else:
            loaded = v1.saved_model.loader.load(sess, ref["tags"], ref["saved_model"])
            if ref.get("init_tables"):
                from tensorflow.core.protobuf import meta_graph_pb2

                defs = list(loaded.asset_file_def)
                if "saved_model_assets" in loaded.collection_def:
                    for packed in loaded.collection_def["saved_model_assets"].any_list.value:
                        asset = meta_graph_pb2.AssetFileDef()
                        packed.Unpack(asset)
                        defs.append(asset)
                sess.run(v1.tables_initializer(), {a.tensor_info.name: os.path.join(
                    ref["saved_model"], "assets", a.filename) for a in defs})
        feed = {}
        for key, value in feeds.items():
            name = ref["feeds"][key]
            if isinstance(name, list):  # a sparse input: its indices, values and dense shape tensors
                feed.update(zip(name, value))
            else:
                feed[name] = value
        names = list(ref["fetches"])
        values = sess.run([ref["fetches"][k] for k in names], feed)
        return dict(zip(names, values))


def _v1(tf, job, feeds, keys):
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as sess:
        meta = v1.saved_model.loader.load(sess, job["tags"], job["saved_model"])
        sig = meta.signature_def[job["signature"]]
        feed = {}
        for key, value in feeds.items():
            info = sig.inputs[key]
            if info.WhichOneof("encoding") == "coo_sparse":
                c = info.coo_sparse
                feed.update({c.indices_tensor_name: value[0], c.values_tensor_name: value[1],
                             c.dense_shape_tensor_name: value[2]})
            else:
                feed[info.name] = value
        names = sorted(keys)
        values = sess.run([sig.outputs[k].name for k in names], feed)
        return dict(zip(names, values))


def _v2(tf, job, feeds):
    loaded = tf.saved_model.load(job["saved_model"], tags=job["tags"])
    fn = loaded.signatures[job["signature"]]
    out = fn(**{k: tf.constant(v) for k, v in feeds.items()})
    return {k: v.numpy() for k, v in out.items()}


def _load_inputs(job):
    import numpy as np

    feeds = {}
    for key, path in job["inputs"].items():
        if isinstance(path, list):  # a sparse input: indices, values, dense_shape
            feeds[key] = tuple(np.load(p, allow_pickle=True) for p in path)
        else:
            feeds[key] = np.load(path, allow_pickle=True)
    return feeds


def run(job: dict) -> dict:
    import numpy as np
    import tensorflow as tf

    feeds = _load_inputs(job)
    reference = _reference(tf, job["reference"], feeds)
    result = {"v1": {}, "v2": {}, "shapes": {}}
    got = _v1(tf, job, feeds, reference)
    for key, value in reference.items():
        result["v1"][key] = float(np.max(np.abs(got[key].astype(np.float64) - value.astype(np.float64))))
        result["shapes"][key] = list(got[key].shape)
    if job.get("v2", True):
        got = _v2(tf, job, {k: v for k, v in feeds.items() if not isinstance(v, tuple)})
        for key, value in reference.items():
            result["v2"][key] = float(np.max(np.abs(got[key].astype(np.float64) - value.astype(np.float64))))
    if job.get("cli"):
        proc = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir",
                               job["saved_model"], "--all"], capture_output=True, text=True, timeout=300)
        result["cli"] = proc.stdout
        result["cli_status"] = proc.returncode
    return result


def main(argv) -> int:
    return run_jobs(run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
