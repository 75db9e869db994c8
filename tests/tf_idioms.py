"""TensorFlow judges what the commands wrote from the idiom zoo: the oracle of test_idiom_matrix.

Run in a subprocess (it imports TensorFlow)::

    python tests/tf_idioms.py JOBS.json OUT.json

Each job loads one model with TensorFlow's own loaders and checks what the
job expects of it; its result is ``{"problems": [...], "facts": {...}}``, each
problem one sentence ending with TensorFlow's whole message when TensorFlow
raised. A job::

    {"load": {"kind": "meta", "path": M, "checkpoint": PREFIX | null}      # import_meta_graph + restore
           | {"kind": "graphdef", "path": PB}                               # import_graph_def
           | {"kind": "savedmodel", "path": DIR, "tags": [...], "v2": bool},  # loader.load (+ tf.saved_model.load)
     "fetch": {"feeds": {tensor: npy}, "expected": {tensor: npy}, "tolerance": 1e-5},
     "signature": {"name": S, "feeds": {key: npy}, "expected": {key: npy},
                   "v1": bool, "v2": bool, "v2_name": S2},            # run by either loader (S2 for the v2 one)
     "signature_names": [...], "v2_signature_names": [...],           # exactly these signatures
     "collections": {name: [item names]},  "absent_collections": [...],
     "not_trainable": [variable names],   "placeholder_shapes": {tensor: [dims]},
     "op_types": {type: count | "+"},                                  # top level and function bodies
     "no_devices": bool,                                               # no op placed on a device
     "lean_variables": bool,                                           # variables/ holds only what is restored
     "reference": {"load": {...}, "feeds": {...}, "pairs": {tensor in the output: tensor in the reference}},
     "train": {"op": name | "my_important_ops", "feeds": {tensor: npy}, "classes": N,
               "frozen": [variable names], "trainable": [variable names],
               "global_step": bool},                                  # one step adds 1 to the global step
     "facts": true}                                                    # report what the read-only cells check

``facts`` reports ``ancestors`` (the ops the fetched tensors need through data
edges, as TensorFlow's graph wires them), ``shapes`` (their outputs' static
shapes as TensorFlow infers them), ``trainable`` and ``variables``
(names), ``variable_tensors`` (tensors that are a variable or a read of one)
and ``op_types`` (type -> count).
"""
from __future__ import annotations

import os
import sys

from tf_jobs import run_jobs

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

VARIABLE_TYPES = {"VariableV2", "Variable", "VarHandleOp"}


def _tf_message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _npy(path):
    import numpy as np

    return np.load(path, allow_pickle=False)


def _restore_prefix(tf, path: str, fallback: str | None) -> str | None:
    """The checkpoint a user restores a written ``.meta`` from: the one written beside it, else the original's."""
    prefix = path[: -len(".meta")] if path.endswith(".meta") else path
    if tf.io.gfile.exists(prefix + ".index"):
        return prefix
    latest = tf.train.latest_checkpoint(os.path.dirname(path))
    return latest or fallback


def _parse(message, path: str):
    """A binary or text protocol buffer file, as TensorFlow's own readers accept both."""
    from google.protobuf import text_format

    data = open(path, "rb").read()
    proto = message()
    try:
        proto.ParseFromString(data)
        return proto
    except Exception:  # noqa: BLE001 - the text form
        return text_format.Parse(data.decode("utf-8"), message())


class Loaded:
    """One model loaded in a fresh graph and session; ``problems`` collects what went wrong."""

    def __init__(self, tf, spec: dict, problems: list):
        self.tf, self.spec, self.problems = tf, spec, problems
        v1 = tf.compat.v1
        self.graph = tf.Graph()
        self.sess = v1.Session(graph=self.graph, config=v1.ConfigProto(intra_op_parallelism_threads=1,
                                                                       inter_op_parallelism_threads=1))
        self.meta = None
        self.ok = False
        kind, path = spec["kind"], spec["path"]
        try:
            with self.graph.as_default():
                if kind == "meta":
                    self.meta = _parse(v1.MetaGraphDef, path)
                    saver = v1.train.import_meta_graph(self.meta)
                    prefix = _restore_prefix(tf, path, spec.get("checkpoint"))
                    if saver is not None and prefix:
                        saver.restore(self.sess, prefix)
                    elif prefix:
                        problems.append(f"import_meta_graph({path}) made no Saver to restore {prefix}")
                    self._init_tables()
                elif kind == "graphdef":
                    v1.import_graph_def(_parse(v1.GraphDef, path), name="")
                    self._init_tables()
                else:
                    self.meta = v1.saved_model.loader.load(self.sess, spec.get("tags") or ["serve"], path)
            self.ok = True
        except Exception as exc:  # noqa: BLE001 - TensorFlow refusing the model is the finding
            what = {"meta": "import_meta_graph + restore", "graphdef": "import_graph_def",
                    "savedmodel": "tf.compat.v1.saved_model.loader.load"}[kind]
            problems.append(f"{what} of {path} failed: {_tf_message(exc)}")

    def _init_tables(self):
        """A user of a graph with lookup tables runs their initializers (tables_initializer, or the ops by name)."""
        init = [op for op in self.graph.get_operations()
                if op.type.startswith("InitializeTable") or op.type == "LookupTableImportV2"]
        if init:
            self.sess.run(init)

    def run(self, fetches: list, feeds: dict):
        with self.graph.as_default():
            return self.sess.run(fetches, {k: _npy(v) for k, v in feeds.items()})

    def close(self):
        self.sess.close()


def _compare(problems, what: str, got, want, tolerance: float):
    import numpy as np

    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        problems.append(f"{what}: shape {list(got.shape)}, the original computes {list(want.shape)}")
        return None
    if got.dtype.kind in "SUOb" or want.dtype.kind in "SUOb" or got.dtype.kind in "iu":
        if not np.array_equal(got, want):
            problems.append(f"{what}: {got.tolist()} where the original computes {want.tolist()}")
        return 0.0
    diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if got.size else 0.0
    if not diff <= tolerance:
        problems.append(f"{what}: max abs diff {diff:.3g} from the original (tolerance {tolerance:g})")
    return diff


def _variables(tf, loaded: Loaded) -> dict:
    """name -> a fetchable value tensor for every variable of the graph (VariableDef collections, else the ops)."""
    v1 = tf.compat.v1
    g = loaded.graph
    out = {}
    with g.as_default():
        for var in v1.global_variables():
            out[var.op.name] = var.value() if hasattr(var, "value") else var
        for op in g.get_operations():
            if op.type in VARIABLE_TYPES and op.name not in out:
                if op.type == "VarHandleOp":
                    out[op.name] = tf.raw_ops.ReadVariableOp(resource=op.outputs[0], dtype=op.get_attr("dtype"))
                else:
                    out[op.name] = op.outputs[0]
    return out


def _variable_values(tf, loaded: Loaded, names, problems, what) -> dict:
    import numpy as np

    variables = _variables(tf, loaded)
    values = {}
    for name in names:
        parts = [name] if name in variables else sorted(n for n in variables if n.startswith(name + "/part_"))
        if not parts:
            problems.append(f"{what}: no variable named {name!r} in TensorFlow's graph")
            continue
        values[name] = [np.array(v) for v in loaded.sess.run([variables[p] for p in parts])]
    return values


def _train(tf, loaded: Loaded, spec: dict, problems: list) -> dict:
    """One training step in TensorFlow; frozen variables must not move, trainable ones must."""
    import numpy as np

    v1 = tf.compat.v1
    g = loaded.graph
    feeds = {k: _npy(v) for k, v in spec["feeds"].items()}
    with g.as_default():
        if spec["op"] == "my_important_ops":
            items = v1.get_collection("my_important_ops")
            if len(items) < 4:
                problems.append(f"my_important_ops holds {len(items)} items, not X..., y, accuracy, training op")
                return {}
            op, y = items[-1], items[-3]
            batch = len(next(iter(feeds.values())))
            labels = np.arange(batch) % spec.get("classes", 2)
            feeds[y] = labels.astype(y.dtype.as_numpy_dtype)
        else:
            try:
                op = g.get_operation_by_name(spec["op"])
            except Exception as exc:  # noqa: BLE001
                problems.append(f"training op {spec['op']!r}: {_tf_message(exc)}")
                return {}
        trainable_tf = sorted(v.op.name for v in v1.trainable_variables())
    names = list(dict.fromkeys(spec.get("frozen", []) + spec.get("trainable", [])))
    step = _global_step(tf, loaded, problems) if spec.get("global_step") else None
    before = _variable_values(tf, loaded, names, problems, "before training")
    step_before = loaded.sess.run(step) if step is not None else None
    try:
        loaded.sess.run(op, feeds)
    except Exception as exc:  # noqa: BLE001
        problems.append(f"one training step ({getattr(op, 'name', op)}) failed: {_tf_message(exc)}")
        return {"trainable_variables": trainable_tf}
    after = _variable_values(tf, loaded, names, problems, "after training")
    if step is not None and loaded.sess.run(step) != step_before + 1:
        problems.append(f"the global step went from {step_before} to {loaded.sess.run(step)} in one training step "
                        "(the original's training op adds 1)")
    moved = {n: any(not np.array_equal(a, b) for a, b in zip(before[n], after[n])) for n in before if n in after}
    for name in spec.get("frozen", []):
        if moved.get(name):
            problems.append(f"frozen variable {name} changed in one training step")
    for name in spec.get("trainable", []):
        if name in moved and not moved[name]:
            problems.append(f"trainable variable {name} did not change in one training step")
    if spec.get("trainable") and set(spec["trainable"]) != set(trainable_tf):
        problems.append(f"TensorFlow's trainable_variables are {trainable_tf}, the command reports "
                        f"{sorted(spec['trainable'])}")
    return {"trainable_variables": trainable_tf}


def _global_step(tf, loaded: Loaded, problems: list):
    """The global step's value tensor, found as tf.compat.v1.train.get_global_step finds it; None (a problem)."""
    v1 = tf.compat.v1
    with loaded.graph.as_default():
        try:
            step = v1.train.get_global_step()
        except Exception as exc:  # noqa: BLE001
            problems.append(f"tf.compat.v1.train.get_global_step() failed: {_tf_message(exc)}")
            return None
        if step is None:
            problems.append("no global step any more (tf.compat.v1.train.get_global_step() is None); the "
                            "original's training op adds 1 to one")
            return None
        return step.value() if hasattr(step, "value") else step


def _op_types(graph_def) -> dict:
    from collections import Counter

    counts = Counter(n.op for n in graph_def.node)
    for fn in graph_def.library.function:
        counts.update(n.op for n in fn.node_def)
    return dict(counts)


def _facts(tf, loaded: Loaded, fetches: list) -> dict:
    g = loaded.graph
    seen, stack = set(), [g.get_tensor_by_name(t).op for t in fetches]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs)
    variable_tensors = []
    for op in g.get_operations():
        if op.type in VARIABLE_TYPES:
            variable_tensors.append(op.outputs[0].name)
            for consumer in op.outputs[0].consumers():
                if consumer.type in ("Identity", "ReadVariableOp"):
                    variable_tensors.append(consumer.outputs[0].name)
    shapes = {}
    for name in seen:
        for t in g.get_operation_by_name(name).outputs:
            shapes[t.name] = None if t.shape.rank is None else t.shape.as_list()
    with g.as_default():
        v1 = tf.compat.v1
        return {"ancestors": sorted(seen), "shapes": shapes,
                "trainable": sorted(v.op.name for v in v1.trainable_variables()),
                "variables": sorted(op.name for op in g.get_operations() if op.type in VARIABLE_TYPES),
                "variable_tensors": sorted(set(variable_tensors)), "op_types": _op_types(g.as_graph_def())}


def _v2(tf, job: dict, problems: list, facts: dict):
    """tf.saved_model.load, and the signature called as TensorFlow Serving and TF2 users call it."""
    spec = job["load"]
    try:
        loaded = tf.saved_model.load(spec["path"], tags=spec.get("tags") or ["serve"])
    except Exception as exc:  # noqa: BLE001
        problems.append(f"tf.saved_model.load({spec['path']}) failed: {_tf_message(exc)}")
        return
    names = sorted(loaded.signatures.keys())
    facts["v2_signatures"] = names
    if "v2_signature_names" in job and sorted(job["v2_signature_names"]) != names:
        problems.append(f"tf.saved_model.load sees signatures {names}, expected {sorted(job['v2_signature_names'])}")
    sig = job.get("signature")
    if sig and sig.get("v2", True):
        name = sig.get("v2_name") or sig["name"]
        if name not in loaded.signatures:
            problems.append(f"tf.saved_model.load: no signature {name!r} (it has {names})")
            return
        try:
            out = loaded.signatures[name](**{k: tf.constant(_npy(v)) for k, v in sig["feeds"].items()})
        except Exception as exc:  # noqa: BLE001
            problems.append(f"tf.saved_model.load: calling signature {name!r} failed: {_tf_message(exc)}")
            return
        for key, path in sig["expected"].items():
            if key not in out:
                problems.append(f"tf.saved_model.load: signature {name!r} has no output {key!r} (it has {sorted(out)})")
                continue
            _compare(problems, f"tf.saved_model.load signature {name!r} output {key!r}", out[key].numpy(),
                     _npy(path), sig.get("tolerance", 1e-5))


def _signature_v1(loaded: Loaded, sig: dict, problems: list):
    """The SignatureDef as the TF1 loader and TensorFlow Serving read it: tensor names, fed by key."""
    meta = loaded.meta
    if meta is None or sig["name"] not in meta.signature_def:
        have = sorted(meta.signature_def) if meta is not None else []
        problems.append(f"no signature {sig['name']!r} in the MetaGraphDef TensorFlow loaded (it has {have})")
        return
    sd = meta.signature_def[sig["name"]]
    missing = [k for k in sig["feeds"] if k not in sd.inputs] + [k for k in sig["expected"] if k not in sd.outputs]
    if missing:
        problems.append(f"signature {sig['name']!r} lacks keys {missing} (inputs {sorted(sd.inputs)}, "
                        f"outputs {sorted(sd.outputs)})")
        return
    keys = list(sig["expected"])
    try:
        values = loaded.run([sd.outputs[k].name for k in keys], {sd.inputs[k].name: v for k, v in sig["feeds"].items()})
    except Exception as exc:  # noqa: BLE001
        problems.append(f"running signature {sig['name']!r} in a v1 session failed: {_tf_message(exc)}")
        return
    for key, value in zip(keys, values):
        _compare(problems, f"signature {sig['name']!r} output {key!r}", value, _npy(sig["expected"][key]),
                 sig.get("tolerance", 1e-5))


def run(job: dict) -> dict:
    import tensorflow as tf

    problems: list = []
    facts: dict = {}
    loaded = Loaded(tf, job["load"], problems)
    try:
        if loaded.ok:
            _check_v1(tf, loaded, job, problems, facts)
    finally:
        loaded.close()
    if job["load"]["kind"] == "savedmodel" and job["load"].get("v2"):
        _v2(tf, job, problems, facts)  # also when the v1 loader failed: both loaders' messages are the finding
    return {"problems": problems, "facts": facts}


def _lean_variables(tf, loaded: Loaded, path: str, problems: list) -> None:
    """A SavedModel's variables/ holds what its saver restores, nothing more (no optimizer slots, no step)."""
    restores = [op for op in loaded.graph.get_operations() if op.type in ("RestoreV2", "Restore", "RestoreSlice")]
    keys = set()
    for op in restores:
        names = loaded.sess.run(op.inputs[1])
        keys.update(n.decode() if isinstance(n, bytes) else str(n) for n in names.ravel())
    prefix = os.path.join(path, "variables", "variables")
    if not tf.io.gfile.exists(prefix + ".index"):
        return  # no variables (a SavedModel of a frozen graph)
    stored = {name for name, _ in tf.train.list_variables(prefix)}
    extra = sorted(stored - keys)
    if extra:
        problems.append(f"variables/ holds {len(extra)} of {len(stored)} entries its saver never restores: "
                        f"{extra[:6]}{' ...' if len(extra) > 6 else ''}")


def _check_v1(tf, loaded: Loaded, job: dict, problems: list, facts: dict) -> None:
    """Everything a job expects of the model loaded in a v1 session."""
    v1 = tf.compat.v1
    if job.get("facts"):
        facts.update(_facts(tf, loaded, list(job["fetch"]["expected"])))
    fetch = job.get("fetch")
    if fetch and fetch.get("expected"):
        names = list(fetch["expected"])
        try:
            values = loaded.run(names, fetch["feeds"])
        except Exception as exc:  # noqa: BLE001
            problems.append(f"running {names} failed: {_tf_message(exc)}")
        else:
            for name, value in zip(names, values):
                _compare(problems, name, value, _npy(fetch["expected"][name]), fetch.get("tolerance", 1e-5))
    if job.get("signature") and job["signature"].get("v1", True):
        _signature_v1(loaded, job["signature"], problems)
    if "signature_names" in job:
        have = sorted(loaded.meta.signature_def) if loaded.meta is not None else []
        if have != sorted(job["signature_names"]):
            problems.append(f"the MetaGraphDef's signatures are {have}, expected {sorted(job['signature_names'])}")
    with loaded.graph.as_default():
        keys = set(loaded.graph.get_all_collection_keys())
        for name, items in job.get("collections", {}).items():
            got = [getattr(i, "name", str(i)) for i in v1.get_collection(name)]
            if got != items:
                problems.append(f"get_collection({name!r}) gives {got}, expected {items}")
        for name in job.get("absent_collections", []):
            if name in keys:
                problems.append(f"collection {name!r} is still there")
        trainable = {v.op.name for v in v1.trainable_variables()}
        for name in job.get("not_trainable", []):
            if name in trainable:
                problems.append(f"{name} is still in trainable_variables")
        for name, dims in job.get("placeholder_shapes", {}).items():
            shape = loaded.graph.get_tensor_by_name(name).shape
            got = None if shape.rank is None else [d for d in shape.as_list()]
            if got != dims:
                problems.append(f"{name} has shape {got} in TensorFlow's graph, expected {dims}")
    if job.get("lean_variables"):
        _lean_variables(tf, loaded, job["load"]["path"], problems)
    if job.get("no_devices"):
        placed = sorted({op.device for op in loaded.graph.get_operations() if op.device})
        if placed:
            problems.append(f"devices left in TensorFlow's graph: {placed}")
    if job.get("op_types"):
        counts = _op_types(loaded.graph.as_graph_def())
        for op_type, want in job["op_types"].items():
            n = counts.get(op_type, 0)
            if (want == "+" and n == 0) or (want != "+" and n != want):
                problems.append(f"{n} ops of type {op_type} in TensorFlow's graph (function bodies included), "
                                f"expected {'some' if want == '+' else want}")
    ref = job.get("reference")
    if ref:
        other = Loaded(tf, ref["load"], problems)
        try:
            if other.ok:
                outs, refs = list(ref["pairs"]), list(ref["pairs"].values())
                try:
                    want = other.run(refs, ref["feeds"])
                    got = loaded.run(outs, ref["feeds"])
                except Exception as exc:  # noqa: BLE001
                    problems.append(f"running {outs} beside the original's {refs} failed: {_tf_message(exc)}")
                else:
                    for name, g_val, w_val in zip(outs, got, want):
                        _compare(problems, f"{name} (the original's {ref['pairs'][name]})", g_val, w_val,
                                 ref.get("tolerance", 1e-5))
        finally:
            other.close()
    if job.get("train"):
        facts.update(_train(tf, loaded, job["train"], problems))


def main(argv) -> int:
    return run_jobs(run, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
