"""Issue 22's matrix: every command that writes, over every idiom of the zoo where it applies, judged by TensorFlow.

The zoo (tests/idioms/) holds small models in the shapes real projects have,
built by TensorFlow with a seeded input feed and the outputs TensorFlow
computed on it. Each cell runs one command line, as a user of that idiom would
write it, through the real CLI (tests/idioms/run_cli.py: click's CliRunner,
every cell in one process), then TensorFlow judges what it wrote
(tests/tf_idioms.py, every cell in one process): the output loads with
TensorFlow's own loaders (``import_meta_graph`` + restore, ``import_graph_def``,
``tf.compat.v1.saved_model.loader.load`` and ``tf.saved_model.load``) and
computes what the original computes on the recorded feed (max abs diff <=
1e-5; fold-bn <= 1e-4); ``rehead`` / ``freeze-layers`` outputs train one step
with the frozen variables bitwise unchanged and the trainable ones moved.
Read-only commands (layers, render, scan, ls --no-training) are held to facts
a user checks, with TensorFlow's graph as the reference.

Cells that do not apply are in :data:`NOT_APPLICABLE` with the reason; cells
that fail today are in :data:`KNOWN_FAILURES` with what happens, run as strict
xfails: the fix of one makes its cell fail until its entry is removed. A
reason names the point of issue 22 it falls under, or "(new)" for what the
issue does not list.
``test_every_cell_is_listed_once`` holds the table to every command x idiom.

Without TensorFlow the matrix skips, saying why (a light install stays green).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from _support import ROOT

TESTS = ROOT / "tests"

COMMANDS = ("prune", "freeze", "fold-bn", "export", "collections-add", "collections-rm", "collections-rename",
            "rehead", "freeze-layers", "swap", "edit-clear-devices", "edit-input-shape", "edit-rename",
            "signatures-add", "signatures-rm", "signatures-rename", "layers", "render", "scan", "ls-no-training")

IDIOMS = ("cnn_global_step", "estimator_ckpt", "estimator_savedmodel", "root_variables", "partitioned",
          "ema_train", "ema_eval", "mobilenet_ckpt", "mobilenet_frozen", "deepmd", "keras2_graph",
          "control_flow_v1", "lookup_table", "several_savers", "resource_clipping", "tf2_module", "keras3_export")


@dataclass
class Use:
    """What a user of one idiom passes to the commands (names from tests/idioms/build.py)."""

    outputs: list                          # prune / freeze / export / fold-bn outputs
    rehead: list | None = None             # rehead arguments (--at, --classes)
    freeze: list | None = None             # freeze-layers scopes (or variables)
    swap: tuple | None = None              # (op type, new type, attrs...) computing the same numbers on the feed
    rename: tuple | None = None            # (op, new name) for edit --rename: an output renamed for serving
    untrain: str | None = None             # a variable taken out of trainable_variables (collections rm)
    collection: tuple | None = None        # (name, items, new name): a collection of the user's own, renamed
    signatures: dict = field(default_factory=dict)  # rm / rename: {"rm": name, "rename": (old, new)}


RELU_TO_LEAKY = ("Relu", "LeakyRelu", "alpha=0")  # alpha 0: the same numbers, so TensorFlow can judge the swap

USES = {
    "cnn_global_step": Use(["fc/logits:0", "probabilities:0"], ["--at", "conv2", "--classes", "3"], ["conv1"],
                           RELU_TO_LEAKY, ("probabilities", "scores"), "conv1/kernel",
                           ("logits", ["fc/logits:0"], "outputs")),
    "estimator_ckpt": Use(["softmax_tensor:0", "classes:0"], ["--at", "dense_1", "--classes", "2"], ["dense"],
                          RELU_TO_LEAKY, ("softmax_tensor", "probabilities"), "dense/kernel"),
    "estimator_savedmodel": Use(["softmax_tensor:0", "classes:0"], ["--at", "dense_1", "--classes", "2"], None,
                                RELU_TO_LEAKY, ("softmax_tensor", "probabilities"), "dense/kernel",
                                signatures={"rm": "predict", "rename": ("predict", "classify")}),
    "root_variables": Use(["hypothesis:0"], ["--at", "Sigmoid:0", "--classes", "3"], ["W1", "b1"], None,
                          ("hypothesis", "prediction"), "W1", ("outputs", ["hypothesis:0"], "predictions")),
    "partitioned": Use(["logits:0"], ["--at", "pooled:0", "--classes", "2"], ["embedding"], None,
                       ("logits", "scores"), "output/kernel"),
    "ema_train": Use(["logits:0"], ["--at", "fc1", "--classes", "2"], ["fc1"], RELU_TO_LEAKY,
                     ("logits", "scores"), "fc1/kernel"),
    "ema_eval": Use(["logits:0"], ["--at", "fc1", "--classes", "2"], None, RELU_TO_LEAKY, ("logits", "scores"),
                    "fc1/kernel"),
    "mobilenet_ckpt": Use(["MobilenetV1/Predictions/Softmax:0", "MobilenetV1/Logits/SpatialSqueeze:0"],
                          ["--at", "MobilenetV1/Conv2d_2_pointwise", "--classes", "3"], None,
                          ("Relu6", "Relu"), ("MobilenetV1/Predictions/Softmax", "final_result"),
                          "MobilenetV1/Conv2d_0/weights"),
    "mobilenet_frozen": Use(["MobilenetV1/Predictions/Softmax:0", "MobilenetV1/Logits/SpatialSqueeze:0"],
                            ["--at", "MobilenetV1/Logits/AvgPool:0", "--classes", "3"], None, ("Relu6", "Relu"),
                            ("MobilenetV1/Predictions/Softmax", "final_result")),
    "deepmd": Use(["o_energy:0", "o_force:0"], None, ["layer_0"], None, ("o_energy", "energy"), "layer_0/matrix"),
    "keras2_graph": Use(["dense_1/BiasAdd:0"], ["--at", "dense", "--classes", "2"], ["dense"], RELU_TO_LEAKY,
                        ("dense_1/BiasAdd", "logits"), "dense/kernel"),
    "control_flow_v1": Use(["logits:0"], ["--at", "cond/Merge:0", "--classes", "2"], ["encoder"], RELU_TO_LEAKY,
                           ("logits", "scores"), "encoder/kernel"),
    "lookup_table": Use(["scores:0", "ids:0"], ["--at", "embedding_lookup/Identity:0", "--classes", "2"], None,
                        None, ("scores", "probabilities"), "embeddings",
                        signatures={"rm": "serving_default", "rename": ("serving_default", "classify")}),
    "several_savers": Use(["logits:0"], ["--at", "base/dense", "--classes", "3"], ["base"], RELU_TO_LEAKY,
                          ("logits", "scores"), "base/dense/kernel", ("outputs", ["logits:0"], "predictions")),
    "resource_clipping": Use(["logits:0"], ["--at", "hidden", "--classes", "2"], ["hidden"], RELU_TO_LEAKY,
                             ("logits", "scores"), "hidden/kernel"),
    "tf2_module": Use(["StatefulPartitionedCall:0", "StatefulPartitionedCall:1"], swap=RELU_TO_LEAKY,
                      signatures={"rm": "serving_default", "rename": ("serving_default", "classify")}),
    "keras3_export": Use(["StatefulPartitionedCall_1:0"], swap=RELU_TO_LEAKY,
                         signatures={"rm": "serve", "rename": ("serve", "predict")}),
}

TF2 = {"tf2_module", "keras3_export"}
GRAPHDEFS = {"mobilenet_frozen"}
WITHOUT_TRAINING_OP = {"estimator_savedmodel", "ema_eval", "mobilenet_ckpt", "mobilenet_frozen", "lookup_table"} | TF2

# --- cells that do not apply, with the reason ------------------------------------------------------

NOT_APPLICABLE: dict = {}
for _idiom in IDIOMS:
    if _idiom not in ("mobilenet_ckpt", "mobilenet_frozen"):
        NOT_APPLICABLE[("fold-bn", _idiom)] = "no batch norm to fold"
    if _idiom in WITHOUT_TRAINING_OP:
        NOT_APPLICABLE[("freeze-layers", _idiom)] = "no training op: an inference graph (rehead builds one)"
    if USES[_idiom].swap is None and _idiom not in TF2:
        NOT_APPLICABLE[("swap", _idiom)] = {
            "root_variables": "only sigmoid activations: no swap gives the same numbers, so TensorFlow's numbers "
                              "cannot judge it",
            "deepmd": "only tanh activations (the potential's physics): no swap gives the same numbers, so "
                      "TensorFlow's numbers cannot judge it",
        }.get(_idiom, "no activation to swap")
    if USES[_idiom].collection is None and _idiom not in GRAPHDEFS | TF2:
        NOT_APPLICABLE[("collections-rename", _idiom)] = (
            "no collection of the user's own (renaming TensorFlow's standard keys changes what TensorFlow does)")
    if not USES[_idiom].signatures and _idiom not in GRAPHDEFS:
        NOT_APPLICABLE[("signatures-rm", _idiom)] = "no signature to remove (a checkpoint's MetaGraphDef has none)"
        NOT_APPLICABLE[("signatures-rename", _idiom)] = "no signature to rename (a checkpoint's MetaGraphDef has none)"
for _idiom in TF2:
    NOT_APPLICABLE.update({
        ("export", _idiom): "a TF2 SavedModel is servable as it is (README: use signatures)",
        ("rehead", _idiom): "rehead builds a TF1 graph from a meta graph and checkpoint; a TF2 model's network is "
                            "in functions (Keras users re-head in Keras)",
        ("freeze-layers", _idiom): "no training op: a TF2 SavedModel holds no optimizer",
        ("collections-rm", _idiom): "its only collection is TensorFlow's saved_model_main_op, which nobody removes",
        ("collections-rename", _idiom): "its only collection is TensorFlow's saved_model_main_op",
        ("edit-rename", _idiom): "the top level holds only the signatures' calls; a TF2 model's outputs are renamed "
                                 "by their signature keys",
    })
NOT_APPLICABLE.update({
    ("freeze", "mobilenet_frozen"): "already frozen: no variable left",
    ("collections-rm", "mobilenet_frozen"): "a GraphDef has no collections",
    ("collections-rename", "mobilenet_frozen"): "a GraphDef has no collections",
    ("freeze-layers", "mobilenet_frozen"): "a frozen GraphDef has no variables and no training op",
    ("signatures-add", "mobilenet_frozen"): "a GraphDef holds no signatures (export makes a SavedModel with one)",
    ("signatures-rm", "mobilenet_frozen"): "a GraphDef holds no signatures",
    ("signatures-rename", "mobilenet_frozen"): "a GraphDef holds no signatures",
    ("layers", "mobilenet_frozen"): "layers are the scopes that own variables; a frozen GraphDef has none",
    ("rehead", "deepmd"): "rehead puts a classifier on a layer; a potential's outputs are an energy and forces",
})

# --- cells that fail today: issue 22's points, with what happens -----------------------------------

# Each reason quotes, between backticks, what the cell's failure says (the command's error line or TensorFlow's
# message): test_cell checks the quote is there, so a cell that starts failing for another reason is a failure.
KNOWN_FAILURES: dict = {}


class KnownFailure(AssertionError):
    """A cell of KNOWN_FAILURES failing as its reason says (anything else fails the test for real)."""


def quoted(reason: str) -> list:
    """What a KNOWN_FAILURES reason quotes between backticks: the cell's failure must say each of these."""
    return re.findall(r"`([^`]+)`", reason)


def _cells():
    out = []
    for command in COMMANDS:
        for idiom in IDIOMS:
            if (command, idiom) in NOT_APPLICABLE:
                continue
            marks = ()
            if (command, idiom) in KNOWN_FAILURES:
                marks = pytest.mark.xfail(strict=True, raises=KnownFailure, reason=KNOWN_FAILURES[(command, idiom)])
            out.append(pytest.param(command, idiom, id=f"{command}-{idiom}", marks=marks))
    return out


CELLS = _cells()


def test_every_cell_is_listed_once():
    """Every command x idiom pair is a cell or not applicable (with a reason), never both; every known
    failure is a cell, with an issue 22 reason."""
    pairs = {(c, i) for c in COMMANDS for i in IDIOMS}
    cells = {tuple(p.values) for p in CELLS}
    assert set(NOT_APPLICABLE) <= pairs, set(NOT_APPLICABLE) - pairs
    assert not cells & set(NOT_APPLICABLE)
    assert cells | set(NOT_APPLICABLE) == pairs
    assert len(CELLS) + len(NOT_APPLICABLE) == len(COMMANDS) * len(IDIOMS)
    assert set(KNOWN_FAILURES) <= cells, set(KNOWN_FAILURES) - cells
    for reason in list(NOT_APPLICABLE.values()) + list(KNOWN_FAILURES.values()):
        assert reason.strip()
    for reason in KNOWN_FAILURES.values():
        assert re.match(r"issue 22 (point \d+|\(new\)): ", reason), reason
        assert quoted(reason), f"no `quote` of the failure in: {reason}"
    assert set(USES) == set(IDIOMS)
    width = max(len(c) for c in COMMANDS)
    print(f"\n{len(CELLS)} cells ({len(KNOWN_FAILURES)} known failures), {len(NOT_APPLICABLE)} not applicable:")
    for (command, idiom), reason in sorted(NOT_APPLICABLE.items()):
        print(f"  {command:<{width}}  {idiom:<21} {reason}")


# --- running the matrix ----------------------------------------------------------------------------


@dataclass(eq=False)
class Cell:
    command: str
    idiom: str
    args: list
    out: Path | None = None
    job: object = None          # writing cells: a function of the CLI result giving TensorFlow's job
    judge: object = None        # read-only cells: a function (cell, TensorFlow's facts) -> problems
    result: dict | None = None
    problems: list = field(default_factory=list)


def _load_spec(entry: dict) -> dict:
    """How TensorFlow loads the original model."""
    if entry["format"] == "meta":
        graph = entry.get("graph") or entry["model"]
        return {"kind": "meta", "path": graph, "checkpoint": entry["checkpoint"]}
    if entry["format"] == "graphdef":
        return {"kind": "graphdef", "path": entry["model"]}
    return {"kind": "savedmodel", "path": entry["model"], "tags": entry["tags"], "v2": True}


def _output_spec(out: Path, entry: dict) -> dict:
    """How TensorFlow loads what a command wrote to ``out``."""
    if out.is_dir():
        if (out / "saved_model.pb").is_file() or (out / "saved_model.pbtxt").is_file():
            return {"kind": "savedmodel", "path": str(out), "tags": ["serve"], "v2": True}
        metas = sorted(out.glob("*.meta"))
        return {"kind": "meta", "path": str(metas[0] if metas else out / "model.ckpt.meta"),
                "checkpoint": entry["checkpoint"]}
    if out.suffix == ".meta":
        return {"kind": "meta", "path": str(out), "checkpoint": entry["checkpoint"]}
    return {"kind": "graphdef", "path": str(out)}


def _fetch(entry: dict, names=None, rename=None, tolerance=1e-5) -> dict:
    expected = {k: v for k, v in entry["expected"].items() if names is None or k in names}
    if rename:
        old, new = rename
        expected = {(f"{new}:{k.split(':')[1]}" if k.split(":")[0] == old else k): v for k, v in expected.items()}
    return {"feeds": entry["feeds"], "expected": expected, "tolerance": tolerance}


def _signature(entry: dict, name=None, v2=True, v2_name=None) -> dict | None:
    if not entry.get("signature"):
        return None
    return {"name": name or entry["signature"], "feeds": entry["sig_feeds"], "expected": entry["sig_expected"],
            "v2": v2, "v2_name": v2_name or name or entry["signature"]}


def _out_path(tmp: Path, entry: dict, kind: str) -> Path:
    """``kind``: "meta" writes .meta for checkpoints (a directory for SavedModels), "dir" always a directory."""
    if entry["format"] == "graphdef":
        return tmp / ("out.meta" if kind == "meta-always" else "out.pb")
    if entry["format"] == "savedmodel" or kind == "dir":
        return tmp / "out"
    return tmp / "out.meta"


def _plan(command: str, idiom: str, entry: dict, tmp: Path) -> Cell:
    use = USES[idiom]
    model = entry["model"]
    cell = Cell(command, idiom, [])
    base = {"load": None, "fetch": _fetch(entry), "signature": _signature(entry, v2=True)}

    def job(out, **extra):
        return {**base, "load": _output_spec(out, entry), **extra}

    if command == "prune":
        out = _out_path(tmp, entry, "meta")
        cell.args = ["prune", model, *[a for o in use.outputs for a in ("--outputs", o)], "-o", str(out), "--json"]
        cell.out, cell.job = out, lambda r: job(out)
    elif command == "freeze":
        out = tmp / "frozen.pb"
        if entry["format"] == "savedmodel":
            cell.args = ["freeze", model, "-o", str(out), "--json"]
        else:
            cell.args = ["freeze", model, "--outputs", ",".join(use.outputs), "-o", str(out), "--json"]
        cell.out, cell.job = out, lambda r: job(out, signature=None)
    elif command == "fold-bn":
        out = tmp / "folded.pb"
        outputs = [] if entry["format"] == "graphdef" else ["--outputs", ",".join(use.outputs)]
        cell.args = ["fold-bn", model, *outputs, "-o", str(out), "--json"]
        cell.out = out
        cell.job = lambda r: job(out, fetch=_fetch(entry, tolerance=1e-4), signature=None,
                                 op_types={"FusedBatchNormV3": 0})
    elif command == "export":
        out = tmp / "served" / "1"
        if entry["format"] == "savedmodel":
            cell.args = ["export", model, "-o", str(out), "--json"]
            cell.out, cell.job = out, lambda r: job(out)
        else:
            inputs = list(entry["feeds"])
            cell.args = ["export", model, *[a for i, t in enumerate(inputs) for a in ("--input", f"in{i}={t}")],
                         *[a for i, t in enumerate(use.outputs) for a in ("--output", f"out{i}={t}")],
                         "-o", str(out), "--json"]
            sig = {"name": "serving_default", "feeds": {f"in{i}": entry["feeds"][t] for i, t in enumerate(inputs)},
                   "expected": {f"out{i}": entry["expected"][t] for i, t in enumerate(use.outputs)}, "v2": True}
            cell.out, cell.job = out, lambda r: job(out, signature=sig, signature_names=["serving_default"],
                                                    lean_variables=True)
    elif command == "collections-add":
        out = _out_path(tmp, entry, "meta-always")
        cell.args = ["collections", "add", model, "my_outputs", use.outputs[0], "-o", str(out), "--json"]
        cell.out, cell.job = out, lambda r: job(out, collections={"my_outputs": [use.outputs[0]]})
    elif command == "collections-rm":
        out = _out_path(tmp, entry, "meta")
        cell.args = ["collections", "rm", model, "trainable_variables", f"{use.untrain}:0", "-o", str(out), "--json"]
        cell.out, cell.job = out, lambda r: job(out, not_trainable=[use.untrain])
    elif command == "collections-rename":
        name, items, new = use.collection
        out = _out_path(tmp, entry, "meta")
        cell.args = ["collections", "rename", model, name, new, "-o", str(out), "--json"]
        cell.out, cell.job = out, lambda r: job(out, collections={new: items}, absent_collections=[name])
    elif command == "rehead":
        out = tmp / "reheaded"
        classes = int(use.rehead[use.rehead.index("--classes") + 1])
        cell.args = ["rehead", model, *use.rehead, "-o", str(out), "--json"]

        def rehead_job(r):
            report = json.loads(r["stdout"])
            return job(out, fetch=None, signature=None,
                       reference={"load": _load_spec(entry), "feeds": entry["feeds"],
                                  "pairs": {report["cut"]: report["cut"]}},
                       not_trainable=report["frozen_variables"],
                       train={"op": "my_important_ops", "feeds": entry["feeds"], "classes": classes,
                              "frozen": report["frozen_variables"], "trainable": report["trainable_variables"]})
        cell.out, cell.job = out, rehead_job
    elif command == "freeze-layers":
        out = tmp / "frozen_layers"
        cell.args = ["freeze-layers", model, *use.freeze, "-o", str(out), "--json"]

        def freeze_layers_job(r):
            report = json.loads(r["stdout"])
            return job(out, signature=None, not_trainable=report["frozen_variables"],
                       train={"op": report["training_op"], "feeds": entry["train"]["feeds"],
                              "frozen": report["frozen_variables"], "trainable": report["trainable_variables"],
                              "global_step": entry["train"]["global_step"]})
        cell.out, cell.job = out, freeze_layers_job
    elif command == "swap":
        op_type, to, *attrs = use.swap
        out = tmp / ("swapped.pb" if entry["format"] == "graphdef" else "swapped")
        cell.args = ["swap", model, "--op", op_type, "--to", to, *[a for x in attrs for a in ("--attr", x)],
                     "-o", str(out), "--json"]

        def swap_job(r):
            report = json.loads(r["stdout"])
            extra = {}
            if entry.get("train"):
                extra["train"] = {"op": report.get("training_op") or entry["train"]["op"],
                                  "feeds": entry["train"]["feeds"], "frozen": [],
                                  "trainable": report.get("trainable_variables") or [],
                                  "global_step": entry["train"]["global_step"]}
            return job(out, op_types={op_type: 0, to: "+"}, **extra)
        cell.out, cell.job = out, swap_job
    elif command == "edit-clear-devices":
        out = _out_path(tmp, entry, "meta")
        cell.args = ["edit", model, "--clear-devices", "-o", str(out), "--json"]
        cell.out, cell.job = out, lambda r: job(out, no_devices=True)
    elif command == "edit-input-shape":
        out = _out_path(tmp, entry, "meta")
        (name, feed), = entry["feeds"].items()
        dims = list(np.load(feed).shape)
        cell.args = ["edit", model, "--input-shape", f"{name}={','.join(map(str, dims))}", "-o", str(out), "--json"]
        cell.out, cell.job = out, lambda r: job(out, placeholder_shapes={name: dims})
    elif command == "edit-rename":
        old, new = use.rename
        out = _out_path(tmp, entry, "meta")
        cell.args = ["edit", model, "--rename", f"{old}={new}", "-o", str(out), "--json"]
        cell.out, cell.job = out, lambda r: job(out, fetch=_fetch(entry, rename=use.rename))
    elif command == "signatures-add":
        out = _out_path(tmp, entry, "meta")
        (name, feed), = entry["feeds"].items()
        cell.args = ["signatures", "add", model, "scores", "--input", f"in0={name}", "--output",
                     f"out0={use.outputs[0]}", "-o", str(out), "--json"]
        sig = {"name": "scores", "feeds": {"in0": feed}, "expected": {"out0": entry["expected"][use.outputs[0]]},
               # tf.saved_model.load reads a TF2 model's signatures from its object graph (README)
               "v2": idiom not in TF2}
        cell.out, cell.job = out, lambda r: job(out, signature=sig)
    elif command == "signatures-rm":
        gone = use.signatures["rm"]
        out = tmp / "out"
        cell.args = ["signatures", "rm", model, gone, "-o", str(out), "--json"]
        names = [n for n in _signature_names(entry) if n != gone]
        extra = {"signature_names": names}
        if idiom not in TF2:
            extra["v2_signature_names"] = names
        if entry["signature"] in names:
            sig = _signature(entry)
        elif idiom in TF2:  # tf.saved_model.load still finds it in the object graph (README)
            sig = {**_signature(entry), "v1": False}
        else:
            sig = None
        cell.out, cell.job = out, lambda r: job(out, signature=sig, **extra)
    elif command == "signatures-rename":
        old, new = use.signatures["rename"]
        out = tmp / "out"
        cell.args = ["signatures", "rename", model, old, new, "-o", str(out), "--json"]
        names = [new if n == old else n for n in _signature_names(entry)]
        extra = {"signature_names": names}
        if idiom not in TF2:
            extra["v2_signature_names"] = names
        sig = _signature(entry, name=new, v2=True, v2_name=entry["signature"] if idiom in TF2 else new)
        cell.out, cell.job = out, lambda r: job(out, signature=sig, **extra)
    elif command == "layers":
        cell.args = ["layers", model, "--json"]
        cell.judge = _judge_layers
    elif command == "render":
        out = tmp / "picture.dot"
        cell.args = ["render", model, "--format", "dot", "-o", str(out)]
        cell.out, cell.judge = out, _judge_render
    elif command == "scan":
        cell.args = ["scan", model, "--json"]
        cell.judge = _judge_scan
    elif command == "ls-no-training":
        cell.args = ["ls", model, "--no-training", "--json"]
        cell.judge = _judge_ls
    else:  # pragma: no cover - COMMANDS and _plan disagree
        raise AssertionError(command)
    return cell


_SIGNATURE_NAMES = {  # the signatures each SavedModel of the zoo was written with (tests/idioms/build.py)
    "estimator_savedmodel": ["predict", "serving_default"],
    "lookup_table": ["serving_default"],
    "tf2_module": ["__saved_model_init_op", "serving_default"],  # tf.saved_model.save adds its init op as one
    "keras3_export": ["__saved_model_init_op", "serve", "serving_default"],
}


def _signature_names(entry: dict) -> list:
    return _SIGNATURE_NAMES[entry["name"]]


# --- read-only cells: facts a user checks, TensorFlow's graph as the reference ----------------------


def _judge_layers(cell: Cell, facts: dict) -> list:
    """Every trainable variable belongs to a layer; no layer is made of optimizer slots or other machinery
    (some variable of each is trained or read by the outputs); no layer's output is a variable."""
    report = json.loads(cell.result["stdout"])
    model_vars = set(facts["trainable"]) | (set(facts["ancestors"]) & set(facts["variables"]))
    in_layers = {v["name"] for layer in report["layers"] for v in layer["variables"]}
    problems = []
    missing = sorted(v for v in model_vars if v not in in_layers and not any(
        v.startswith(n + "/part_") for n in in_layers))
    # a partitioned variable may be listed by its full name
    missing = [v for v in missing if not any(v.startswith(n + "/") for n in in_layers)]
    if missing:
        problems.append(f"variables of the model in no layer: {missing}")
    for layer in report["layers"]:
        names = {v["name"] for v in layer["variables"]}
        if not any(n in model_vars or any(m.startswith(n + "/part_") for m in model_vars) for n in names):
            problems.append(f"layer {layer['name']!r} holds only variables neither trained nor read by the outputs "
                            f"(optimizer slots, counters): {sorted(names)}")
        outputs = layer.get("outputs") or []
        bad = [t for t in outputs if t in set(facts["variable_tensors"])]
        if bad:
            problems.append(f"layer {layer['name']!r} gives variables as its outputs: {bad}")
    return problems


def _drawn(dot: str) -> tuple[set, set]:
    """Op names drawn as themselves, and scopes drawn as boxes (or merged into a drawn op), in a DOT picture."""
    ops, scopes = set(), set()
    for tooltip in re.findall(r'tooltip="((?:[^"\\]|\\.)*)"', dot):
        first = tooltip.split("\n", 1)[0]
        m = re.match(r"^(.*) \(collapsed scope\)$", first)
        if m:
            scopes.add(m.group(1).rstrip("/"))
            continue
        m = re.match(r"^(\S+) \(", first)
        if m:
            ops.add(m.group(1))
        for scope in re.findall(r"more op\(s\) of scope (\S+)/", tooltip):
            scopes.add(scope)
    return ops, scopes


def _covered(name: str, ops: set, scopes: set) -> bool:
    if name in ops:
        return True
    parts = name.split("/")
    return any("/".join(parts[:i]) in scopes for i in range(1, len(parts) + 1))  # a box "v/" holds op v too


def _judge_render(cell: Cell, facts: dict) -> list:
    """The picture shows what feeds the outputs: every op TensorFlow's graph says they need is drawn (as
    itself or inside a drawn box). A TF2 SavedModel is drawn as the function its signature runs: the
    network's op types must show."""
    dot = cell.out.read_text()
    ops, scopes = _drawn(dot)
    if cell.idiom in TF2:
        types = set(re.findall(r'tooltip="[^"\n]* \((\w+)\)', dot))
        for listed in re.findall(r"op types: ([^\n\"]*)", dot):
            types.update(re.findall(r"(\w+)(?: ×\d+)?(?:, |$)", listed))
        return [f"the picture shows no {t} op: the network is not drawn" for t in ("MatMul", "Relu")
                if t not in types]
    hidden = sorted(n for n in facts["ancestors"] if not _covered(n, ops, scopes))
    if hidden:
        return [f"{len(hidden)} of the {len(facts['ancestors'])} ops the outputs need are not drawn: "
                f"{hidden[:8]}{' ...' if len(hidden) > 8 else ''}"]
    return []


def _judge_scan(cell: Cell, facts: dict) -> list:
    report = json.loads(cell.result["stdout"])
    if report["status"] != 0 or cell.result["exit"] != 0:
        findings = [f"{f.get('severity')}: {f.get('op') or f.get('name')} ({f.get('type') or ''}) "
                    f"{f.get('summary') or f.get('what') or ''}".strip()
                    for m in report["models"] for f in m["findings"]
                    if not f.get("allowed") and f.get("severity") != "info"]
        return [f"scan fails an ordinary model (status {report['status']}): {findings}"]
    return []


def _judge_ls(cell: Cell, facts: dict) -> list:
    """ls --no-training lists every op the outputs need, with the shapes TensorFlow infers: the same where
    both know a dimension, and known wherever TensorFlow knows it."""
    report = json.loads(cell.result["stdout"])
    listed = {op["name"] for op in report["ops"]}
    problems = []
    hidden = sorted(n for n in facts["ancestors"] if n not in listed)
    if hidden:
        problems.append(f"ls --no-training hides {len(hidden)} of the {len(facts['ancestors'])} ops the outputs "
                        f"need: {hidden[:8]}{' ...' if len(hidden) > 8 else ''}")
    ours = {t["name"]: t["shape"] for op in report["ops"] for t in op["outputs"]}
    wrong, unknown = [], []
    for name, theirs in sorted(facts["shapes"].items()):
        if name not in ours or theirs is None:
            continue
        mine = ours[name]
        if mine is not None and (len(mine) != len(theirs) or any(
                a is not None and b is not None and a != b for a, b in zip(mine, theirs))):
            wrong.append(f"{name} {mine} (TensorFlow: {theirs})")
        elif mine is None or any(a is None and b is not None for a, b in zip(mine, theirs)):
            unknown.append(f"{name} {mine} (TensorFlow: {theirs})")
    if wrong:
        problems.append(f"shapes that contradict TensorFlow's: {wrong[:6]}{' ...' if len(wrong) > 6 else ''}")
    if unknown:
        problems.append(f"{len(unknown)} shapes unknown where TensorFlow infers them: "
                        f"{unknown[:6]}{' ...' if len(unknown) > 6 else ''}")
    return problems


# --- the fixture that runs the selected cells --------------------------------------------------------


def _subprocess(script: Path, jobs: list, tmp: Path, name: str, timeout: float) -> list:
    jobs_file, out_file = tmp / f"{name}_jobs.json", tmp / f"{name}_out.json"
    jobs_file.write_text(json.dumps(jobs))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}
    proc = subprocess.run(["nice", "-n", "10", sys.executable, str(script), str(jobs_file), str(out_file)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stderr[-4000:]}"
    return json.loads(out_file.read_text())


@pytest.fixture(scope="module")
def zoo_models():
    from idioms import zoo

    started = time.perf_counter()
    try:
        folder, manifest = zoo()
    except LookupError as exc:
        pytest.skip(f"the idiom matrix needs TensorFlow to build its models and judge the outputs: {exc}")
    for name, entry in manifest.items():
        entry["name"] = name
    assert set(manifest) == set(IDIOMS), sorted(set(manifest) ^ set(IDIOMS))
    print(f"\nidiom zoo: {len(manifest)} models in {folder} ({time.perf_counter() - started:.1f} s, built or cached)")
    return manifest


@dataclass
class Matrix:
    cells: dict      # (command, idiom) -> Cell
    canaries: dict   # name -> the checker's verdict on a job built to fail


def _canaries(entry: dict, root: Path) -> dict:
    """Jobs the oracle must fail: the original CNN against outputs off by 1e-3, and one training step of its
    Adam op with a variable that op trains claimed frozen (its global step and fc/kernel must pass)."""
    wrong = {}
    for i, (name, path) in enumerate(entry["expected"].items()):
        wrong[name] = str(root / f"canary_{i}.npy")
        np.save(wrong[name], np.load(path) + 1e-3)
    load = {**_load_spec(entry), "v2": False}
    return {"numbers": {"load": load, "fetch": {"feeds": entry["feeds"], "expected": wrong, "tolerance": 1e-5}},
            "training": {"load": load, "train": {"op": entry["train"]["op"], "feeds": entry["train"]["feeds"],
                                                 "frozen": ["conv1/kernel"], "trainable": ["fc/kernel"],
                                                 "global_step": True}}}


@pytest.fixture(scope="module")
def matrix(request, zoo_models, tmp_path_factory):
    """Every selected cell run and judged: (command, idiom) -> Cell."""
    selected = {(item.callspec.params["command"], item.callspec.params["idiom"])
                for item in request.session.items
                if getattr(item, "originalname", "") == "test_cell" and hasattr(item, "callspec")}
    root = tmp_path_factory.mktemp("idiom_matrix")
    started = time.perf_counter()
    cells = {}
    for command, idiom in sorted(selected):
        tmp = root / command / idiom
        tmp.mkdir(parents=True)
        cells[(command, idiom)] = _plan(command, idiom, zoo_models[idiom], tmp)
    order = list(cells.values())
    results = _subprocess(TESTS / "idioms" / "run_cli.py", [{"args": c.args} for c in order], root, "cli", 1800)
    ran = time.perf_counter()
    jobs, owners = [], []
    for cell, result in zip(order, results):
        cell.result = result
        if "error" in result:
            cell.problems.append(f"the runner failed: {result['error']}")
            continue
        if result["traceback"]:
            cell.problems.append(f"the command raised (a traceback, not an error: line):\n{result['traceback']}")
            continue
        if result["exit"] != 0 and not (cell.judge is not None and result["exit"] == 1 and result["stdout"]):
            cell.problems.append(f"exit {result['exit']}: {result['stderr'].strip()}")
            continue
        if cell.judge is None:
            if cell.out is not None and not cell.out.exists():
                cell.problems.append(f"exit 0 but nothing written at {cell.out}")
                continue
            try:
                jobs.append(cell.job(result))
            except (KeyError, ValueError) as exc:
                cell.problems.append(f"its --json report lacks what the check needs: {type(exc).__name__}: {exc}")
                continue
            owners.append(cell)
    facts_for = sorted({c.idiom for c in order if c.judge is not None and not c.problems})
    for idiom in facts_for:
        entry = zoo_models[idiom]
        jobs.append({"load": {**_load_spec(entry), "v2": False}, "fetch": _fetch(entry), "facts": True})
    canaries = _canaries(zoo_models["cnn_global_step"], root)
    jobs.extend(canaries.values())
    checked = _subprocess(TESTS / "tf_idioms.py", jobs, root, "tf", 1800)
    judged = time.perf_counter()
    facts = {}
    for cell, verdict in zip(owners, checked):
        if "error" in verdict:
            cell.problems.append(f"the TensorFlow checker failed: {verdict['error']}")
        else:
            cell.problems.extend(verdict["problems"])
    for idiom, verdict in zip(facts_for, checked[len(owners):]):
        assert "error" not in verdict and not verdict["problems"], (idiom, verdict)
        facts[idiom] = verdict["facts"]
    canary_verdicts = dict(zip(canaries, checked[len(owners) + len(facts_for):]))
    for cell in order:
        if cell.judge is not None and not cell.problems:
            try:
                cell.problems.extend(cell.judge(cell, facts[cell.idiom]))
            except (KeyError, ValueError, OSError) as exc:
                cell.problems.append(f"its output lacks what the check needs: {type(exc).__name__}: {exc}")
    seconds = {c: (c.result or {}).get("seconds", 0.0) for c in order}
    slowest = ", ".join(f"{c.command}[{c.idiom}] {seconds[c]:.1f} s"
                        for c in sorted(order, key=seconds.get, reverse=True)[:5])
    print(f"\nidiom matrix: {len(order)} cells; commands {ran - started:.1f} s (slowest: {slowest}); "
          f"TensorFlow's checks {judged - ran:.1f} s ({len(jobs)} jobs)")
    return Matrix(cells, canary_verdicts)


def test_without_tensorflow_the_zoo_is_not_built_and_says_why(monkeypatch):
    """A light install (no TensorFlow, or no tf-keras) skips the matrix: the zoo says what is missing."""
    import idioms

    monkeypatch.setattr(idioms, "installed_version", lambda dist: None if dist == "tf-keras" else "2.21.0")
    with pytest.raises(LookupError, match="tf-keras"):
        idioms.zoo()
    monkeypatch.setattr(idioms, "installed_version", lambda dist: None)
    with pytest.raises(LookupError, match="TensorFlow is not installed"):
        idioms.zoo()


def test_the_oracle_fails_what_it_must(matrix):
    """The checker is not a rubber stamp: outputs off by 1e-3 fail, a frozen variable that trained fails."""
    numbers, training = matrix.canaries["numbers"]["problems"], matrix.canaries["training"]["problems"]
    assert any("max abs diff 0.001" in p for p in numbers), numbers
    assert any("frozen variable conv1/kernel changed" in p for p in training), training
    assert not any("did not change" in p for p in training), training  # fc/kernel, which Adam trains, moved
    assert not any("global step" in p for p in training), training  # minimize(global_step=) adds 1


@pytest.mark.parametrize("command,idiom", CELLS)
def test_cell(matrix, zoo_models, command, idiom):
    cell = matrix.cells[(command, idiom)]
    if not cell.problems:
        return  # a known failure that passes fails as a strict xfail: remove its entry
    line = "graphsurgeon " + shlex.join(cell.args)
    exit_code = cell.result.get("exit") if cell.result else None
    message = (f"{command} on {idiom} ({zoo_models[idiom]['what']}):\n  $ {line}\n  exit {exit_code}; "
               + "\n  - ".join(["what is wrong:"] + cell.problems))
    reason = KNOWN_FAILURES.get((command, idiom))
    if reason is not None:
        said = "\n".join(cell.problems)
        missing = [q for q in quoted(reason) if q not in said]
        if not missing:
            raise KnownFailure(message)
        message += f"\n  (a known failure that now fails otherwise: its reason quotes {missing}; update the entry)"
    pytest.fail(message, pytrace=False)
