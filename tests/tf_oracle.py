"""TensorFlow's own view of a graph, as JSON: the oracle for the parity tests.

Run in a subprocess (it imports TensorFlow and switches it to graph mode)::

    python tests/tf_oracle.py MODEL --kind meta|savedmodel|graphdef [--tag serve] [--out FILE]

MODEL is the file holding the graph (a ``.meta``, a ``saved_model.pb`` or a
SavedModel directory, a ``.pb``/``.pbtxt`` GraphDef, binary or text). The graph
is imported the way TensorFlow users import it: ``import_meta_graph`` for meta
graphs and for the chosen MetaGraphDef of a SavedModel, ``import_graph_def(name="")``
for GraphDefs. The JSON printed is::

    {"ops": [{"name", "type", "inputs": ["op:0", ...], "control_inputs": ["^op", ...],
              "dtypes": ["float32", ...], "shapes": [[null, 784] | null, ...]}],
     "added": [names of ops TensorFlow created that the file does not hold],
     "missing": [names of nodes of the file that TensorFlow did not create],
     "version_cleared": bool}

Shapes are what ``tf.Tensor.shape`` says after import: ``null`` for an unknown
rank, ``null`` for each unknown dimension.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _read_graph_def(tf, path: Path):
    from google.protobuf import text_format

    data = path.read_bytes()
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
        # A text file may parse as binary garbage without error; trust it only if it has nodes.
        if graph_def.node or not data.strip():
            return graph_def
    except Exception:  # noqa: BLE001 - fall back to the text form
        pass
    graph_def = tf.compat.v1.GraphDef()
    text_format.Parse(data.decode("utf-8"), graph_def)
    return graph_def


def _version_ok(version: str) -> bool:
    if not version:
        return True
    try:
        from packaging import version as _v

        _v.parse(version)
        return True
    except Exception:  # noqa: BLE001 - packaging.InvalidVersion or packaging missing
        return False


def _read_meta(tf, path: Path):
    from google.protobuf import text_format

    data = path.read_bytes()
    meta = tf.compat.v1.MetaGraphDef()
    try:
        meta.ParseFromString(data)
    except Exception:  # noqa: BLE001
        meta = tf.compat.v1.MetaGraphDef()
        text_format.Parse(data.decode("utf-8"), meta)
    return meta


def _read_saved_model_meta(tf, path: Path, tag: str | None):
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    file = path
    if path.is_dir():
        file = path / "saved_model.pb"
        if not file.is_file():
            file = path / "saved_model.pbtxt"
    saved = saved_model_pb2.SavedModel()
    if file.suffix == ".pbtxt":
        text_format.Parse(file.read_text(), saved)
    else:
        saved.ParseFromString(file.read_bytes())
    metas = list(saved.meta_graphs)
    if tag:
        wanted = sorted(t for t in tag.replace("+", ",").split(",") if t)
        chosen = [m for m in metas if sorted(m.meta_info_def.tags) == wanted]
    elif len(metas) == 1:
        chosen = metas
    else:
        chosen = [m for m in metas if list(m.meta_info_def.tags) == ["serve"]]
    if len(chosen) != 1:
        raise SystemExit(f"oracle: cannot choose a MetaGraphDef in {file} for tag {tag!r}")
    return chosen[0]


def _shape(tensor):
    shape = tensor.shape
    if shape.rank is None:
        return None
    return [d for d in shape.as_list()]


def _strip_output_shapes(graph_def) -> None:
    for node in graph_def.node:
        if "_output_shapes" in node.attr:
            del node.attr["_output_shapes"]
    for function in graph_def.library.function:
        for node in function.node_def:
            if "_output_shapes" in node.attr:
                del node.attr["_output_shapes"]
        for arg_attr in function.arg_attr.values():
            if "_output_shapes" in arg_attr.attr:
                del arg_attr.attr["_output_shapes"]


def _import(tf, path: Path, kind: str, tag: str | None, strip: bool):
    graph = tf.Graph()
    version_cleared = False
    with graph.as_default():
        if kind == "graphdef":
            graph_def = _read_graph_def(tf, path)
            if strip:
                _strip_output_shapes(graph_def)
            tf.compat.v1.import_graph_def(graph_def, name="")
        else:
            meta = _read_meta(tf, path) if kind == "meta" else _read_saved_model_meta(tf, path, tag)
            # TF 2.21's import_meta_graph parses tensorflow_version with packaging and raises
            # on legacy strings such as '0.12.head' (see the corpus README); clear only those.
            if not _version_ok(meta.meta_info_def.tensorflow_version):
                meta.meta_info_def.tensorflow_version = ""
                version_cleared = True
            if strip:
                _strip_output_shapes(meta.graph_def)
            graph_def = meta.graph_def
            tf.compat.v1.train.import_meta_graph(meta, clear_devices=False)
    return graph, graph_def, version_cleared


def describe(path: Path, kind: str, tag: str | None) -> dict:
    """TensorFlow's report on the graph at ``path`` (see module docstring)."""
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    graph, graph_def, version_cleared = _import(tf, path, kind, tag, strip=False)
    # The importer merges recorded _output_shapes into what it infers; import once more
    # without them to see what TensorFlow's shape functions alone know.
    bare, _, _ = _import(tf, path, kind, tag, strip=True)
    inferred = {op.name: [_shape(t) for t in op.outputs] for op in bare.get_operations()}
    file_names = {node.name for node in graph_def.node}
    ops = []
    for op in graph.get_operations():
        ops.append({
            "name": op.name,
            "type": op.type,
            "inputs": [t.name for t in op.inputs],
            "control_inputs": ["^" + c.name for c in op.control_inputs],
            "dtypes": [t.dtype.name for t in op.outputs],
            "shapes": [_shape(t) for t in op.outputs],
            "inferred_shapes": inferred.get(op.name),
        })
    tf_names = {op["name"] for op in ops}
    return {
        "ops": ops,
        "added": sorted(tf_names - file_names),
        "missing": sorted(file_names - tf_names),
        "version_cleared": version_cleared,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, nargs="?")
    parser.add_argument("--kind", choices=("meta", "savedmodel", "graphdef"))
    parser.add_argument("--tag")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--batch", type=Path,
                        help="JSON list of {model, kind, tag, out}: describe each in this one process "
                             "(a failure is written as {\"error\": ...} to its out file)")
    args = parser.parse_args(argv)
    if args.batch:
        for job in json.loads(args.batch.read_text()):
            try:
                result = describe(Path(job["model"]), job["kind"], job.get("tag"))
            except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
                result = {"error": f"{type(exc).__name__}: {exc}"}
            Path(job["out"]).write_text(json.dumps(result))
        return 0
    if args.model is None or args.kind is None:
        parser.error("MODEL and --kind are required without --batch")
    text = json.dumps(describe(args.model, args.kind, args.tag))
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
