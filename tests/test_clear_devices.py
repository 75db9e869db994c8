"""--clear-devices: a graph placed on /device:GPU:0 fails on a CPU-only TensorFlow without soft placement;
cleared, it runs, and the result is what TensorFlow's own import_meta_graph(clear_devices=True) makes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import graphsurgeon as gs
from _support import FIXTURES
from graphsurgeon.cli.main import cli
from tf_roundtrip import roundtrip

# Built by TensorFlow: a small model under tf.device("/device:GPU:0") (variables bring their
# colocation constraints, _class: loc:@W), its checkpoint, and what TensorFlow's own
# import_meta_graph(clear_devices=True) makes of it: {op: [device, _class]}.
BUILD = r"""
import json, sys
import numpy as np
import tensorflow as tf
v1 = tf.compat.v1
v1.disable_eager_execution()
out = sys.argv[1]
with tf.device("/device:GPU:0"):
    X = v1.placeholder(tf.float32, [None, 4], name="X")
    W = v1.Variable(np.arange(12, dtype=np.float32).reshape(4, 3) / 10, name="W")
    b = v1.Variable(np.ones(3, np.float32), name="b")
    logits = tf.identity(tf.matmul(X, W) + b, name="logits")
    probabilities = tf.nn.softmax(logits, name="probabilities")
saver = v1.train.Saver()
config = v1.ConfigProto(allow_soft_placement=True)
with v1.Session(config=config) as sess:
    sess.run(v1.global_variables_initializer())
    saver.save(sess, out + "/model.ckpt")
tf.compat.v1.reset_default_graph()
g = tf.Graph()
with g.as_default():
    v1.train.import_meta_graph(out + "/model.ckpt.meta", clear_devices=True)
gd = g.as_graph_def()
print(json.dumps({n.name: [n.device, [s.decode() for s in n.attr["_class"].list.s]] for n in gd.node}))
"""


@pytest.fixture(scope="module")
def gpu_model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gpu")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(["nice", "-n", "10", sys.executable, "-c", BUILD, str(tmp)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tf_cleared = json.loads(proc.stdout.strip().splitlines()[-1])
    return tmp, tf_cleared


def run_cli(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    data = json.loads(result.stdout) if "--json" in args and result.exit_code == 0 else None
    return result.exit_code, result.stdout + (result.stderr or ""), data


def test_the_gpu_model_fails_on_cpu_and_runs_cleared(gpu_model, tmp_path):
    model, _ = gpu_model
    g = gs.load(model)
    assert {op.device for op in g.ops(["X", "W", "logits", "probabilities"])} == {"/device:GPU:0"}
    code, text, data = run_cli("edit", model, "--clear-devices", "-o", tmp_path / "cpu.meta", "--json")
    assert code == 0, text
    assert data["clear_devices"] is True
    assert any("cleared the device of" in n and "/device:GPU:0" in n for n in data["notes"])
    code, text, _ = run_cli("export", model, "--input", "X:0", "--output", "probabilities:0", "--clear-devices",
                            "-o", tmp_path / "served")
    assert code == 0, text
    np.save(tmp_path / "X.npy", np.linspace(-1, 1, 20, dtype=np.float32).reshape(5, 4))
    run = {"feeds": {"X:0": str(tmp_path / "X.npy")}, "fetches": ["probabilities:0"]}
    jobs = [
        {"model": str(model / "model.ckpt.meta"), "kind": "meta", "checkpoint": str(model / "model.ckpt"),
         "soft_placement": False, "run": run},
        {"model": str(tmp_path / "cpu.meta"), "kind": "meta", "checkpoint": str(model / "model.ckpt"),
         "soft_placement": False, "run": run},
        {"model": str(model / "model.ckpt.meta"), "kind": "meta", "checkpoint": str(model / "model.ckpt"),
         "soft_placement": True, "run": run},
        {"model": str(tmp_path / "served"), "kind": "savedmodel", "soft_placement": False, "run": run, "v2": True},
    ]
    placed, cleared, soft, served = roundtrip(jobs, tmp_path)
    assert "Cannot assign a device for operation" in placed.get("error", ""), placed
    assert "error" not in cleared, cleared["error"]
    assert cleared["values"] == soft["values"]
    assert "error" not in served, served["error"]
    assert np.allclose(served["values"]["probabilities:0"], soft["values"]["probabilities:0"], atol=1e-7, rtol=0)


def test_cleared_graph_is_what_tensorflow_makes_with_clear_devices(gpu_model):
    model, tf_cleared = gpu_model
    cleared, changes = gs.load(model).clear_devices()
    ours = {op.name: [op.device, [s.decode() for s in op.node.attr["_class"].list.s]] for op in cleared}
    assert ours == tf_cleared
    # The colocations are there to keep: TensorFlow keeps them too.
    assert tf_cleared["W/Initializer/initial_value"] == ["", ["loc:@W"]]
    assert sum(changes.details["devices"].values()) == len(changes.changed) > 0
    assert changes.details["devices"]["/device:GPU:0"] >= 10


def test_clear_devices_leaves_its_input_alone_and_clears_function_bodies():
    g = gs.load(FIXTURES / "mnist_bn_elu_savedmodel_tf2")
    edited = g.copy()
    fn = edited.graph_def.library.function[0]
    fn.node_def[0].device = "/device:GPU:0"
    top = next(n for n in edited.graph_def.node if n.op == "StatefulPartitionedCall")
    edited.node_for_edit(top.name).device = "/job:localhost/replica:0/task:0/device:GPU:0"
    cleared, changes = gs.clear_devices(edited)
    assert top.device and fn.node_def[0].device  # the input is untouched
    assert not [op for op in cleared if op.device]
    assert all(not n.device for f in cleared.graph_def.library.function for n in f.node_def)
    assert changes.details["function_ops"] >= 1 and top.name in changes.changed
    only_top, _ = gs.clear_devices(edited, functions=False)
    assert any(n.device for f in only_top.graph_def.library.function for n in f.node_def)


def test_clear_devices_is_an_option_of_every_writing_command(tmp_path):
    """Each command that writes a model takes --clear-devices (the shared output options)."""
    import click

    ctx = click.Context(cli)
    writers = []
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        subs = command.commands.values() if isinstance(command, click.Group) else [command]
        for sub in subs:
            opts = {o for p in sub.params for o in p.opts}
            if "--in-place" in opts:
                writers.append(sub.name)
                assert "--clear-devices" in opts, sub.name
    assert {"freeze", "prune", "export", "edit", "add", "set-default", "rehead", "swap"} <= set(writers)
    # And it acts: the fixture's saver ops are placed on the CPU.
    code, text, _ = run_cli("prune", FIXTURES / "mnist_bn_elu_tf1", "--outputs", "save/restore_all", "-o",
                            tmp_path / "p.meta", "--clear-devices")
    assert code == 0, text
    assert [op.name for op in gs.load(FIXTURES / "mnist_bn_elu_tf1") if op.device]
    assert not [op.name for op in gs.load(tmp_path / "p.meta") if op.device]
    assert "cleared the device of 3 ops" in text
