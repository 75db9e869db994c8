"""Lookups and their messages (issue 22 point 10): tensor patterns, several patterns, function bodies,
"did you mean", and errors that list what exists."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner
from _support import FIXTURES
from graphsurgeon.cli.main import cli

import graphsurgeon as gs
from graphsurgeon.errors import NotFoundError

TF1 = str(FIXTURES / "mnist_bn_elu_tf1")


def _run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_ls_tensors_takes_tensor_patterns():
    code, out, err = _run("ls", TF1, "--tensors", "Elu_1:0")
    assert code == 0 and out.split() == ["Elu_1:0", "float32", "[?,", "100]", "Elu"], out + err
    code, out, _ = _run("ls", TF1, "--tensors", "Elu*:0", "re:^X:0$", "--count")
    assert (code, out.strip()) == (0, "3")
    code, out, _ = _run("ls", TF1, "--tensors", "--json", "re:^hidden1/MatMul")
    assert [t["name"] for t in json.loads(out)["tensors"]] == ["hidden1/MatMul:0"]
    # The library selects the same way: in graph order, a regex on the tensor's name or its op's.
    g = gs.load(TF1)
    assert [t.name for t in g.tensors(["Elu_1:0", "X"])] == ["X:0", "Elu_1:0"]
    assert [t.name for t in g.tensors("re:^Elu_1:0$")] == ["Elu_1:0"]
    with pytest.raises(NotFoundError):
        g.tensors("Elu_9:0")


def test_one_unmatched_pattern_does_not_hide_the_others():
    code, out, err = _run("ls", TF1, "Elu_1", "nonexist")
    assert code == 1 and out.split()[:2] == ["Elu_1", "Elu"], out
    assert err == f"error: no op matches 'nonexist' in {TF1}\n"
    code, out, err = _run("ls", TF1, "hidden1/*", "hidden9/*")
    assert code == 1 and "hidden1/MatMul" in out
    assert err == f"error: no op matches 'hidden9/*' in {TF1} (nearest scopes: hidden1/, hidden2/)\n"
    code, out, err = _run("ls", TF1, "--tensors", "X:0", "Elu_9:0")
    assert code == 1 and out.startswith("X:0") and "no tensor matches 'Elu_9:0'" in err
    code, out, err = _run("ls", TF1, "Elu_1:0")
    assert code == 1 and "'Elu_1:0' names a tensor: add --tensors" in err


def test_a_name_inside_a_function_body_says_where(corpus_dir):
    keras = corpus_dir / "tfnet_keras_lstm_from_sequential"
    code, _, err = _run("show", keras, "sequential/dense/MatMul")
    assert code == 1
    assert err.strip().endswith("(it is in function __inference__wrapped_model_3915: add --function "
                                "__inference__wrapped_model_3915)"), err
    code, out, _ = _run("show", keras, "sequential/dense/MatMul", "--function", "__inference__wrapped_model_3915")
    assert code == 0 and "type     MatMul" in out
    code, _, err = _run("ls", keras, "sequential/dense/MatMul")
    assert code == 1 and "1 op of function bodies match: add --functions" in err


def test_did_you_mean_offers_activations_for_an_activation():
    """The chapter's hidden3/Relu:0 in a BN + ELU model: its activations, not its kernels."""
    code, _, err = _run("show", TF1, "hidden3/Relu:0")
    assert code == 1 and "(did you mean 'Elu:0', 'Elu_1:0'?)" in err, err
    code, _, err = _run("show", TF1, "hidden3/MatMul")
    assert "did you mean 'hidden1/MatMul', 'hidden2/MatMul'" in err, err
    code, _, err = _run("show", TF1, "hiden1/kernel")   # a misspelling still finds its name
    assert "did you mean 'hidden1/kernel'" in err


def test_errors_list_what_exists():
    code, _, err = _run("info", FIXTURES / "mnist_bn_elu_savedmodel_tf2", "--tag", "nonexist")
    assert code == 1 and err.strip().endswith("(tag sets: 'serve')"), err
    code, _, err = _run("freeze", FIXTURES / "mnist_bn_elu_savedmodel_tf2", "--signature", "serving", "-o", "x.pb")
    assert code == 1 and "did you mean 'serving_default'? signatures: '__saved_model_init_op', 'serving_default'" in err
    # run and compare choose signatures the same way; a model without any says so.
    code, _, err = _run("run", FIXTURES / "mnist_bn_elu_frozen.pb", "--signature", "serving_default")
    assert code == 1 and err.strip().endswith("no signature named 'serving_default' in "
                                              f"{FIXTURES / 'mnist_bn_elu_frozen.pb'} (it has no signatures)"), err
    assert "tensorflow" not in sys.modules


def test_rehead_says_where_the_chapters_unpacking_breaks(tmp_path):
    """A model with two inputs: my_important_ops holds 5 items, and rehead says so."""
    script = textwrap.dedent("""
        import sys
        import tensorflow as tf
        v1 = tf.compat.v1
        graph = tf.Graph()
        with graph.as_default():
            a = v1.placeholder(tf.float32, [None, 4], name="A")
            b = v1.placeholder(tf.float32, [None, 3], name="B")
            x = tf.concat([a, b], 1)
            with v1.variable_scope("hidden1"):
                kernel = v1.get_variable("kernel", [7, 5])
                bias = v1.get_variable("bias", [5], initializer=v1.zeros_initializer())
                hidden = tf.nn.elu(tf.matmul(x, kernel) + bias)
            with v1.variable_scope("outputs"):
                tf.identity(tf.matmul(hidden, v1.get_variable("kernel", [5, 2])), name="logits")
            saver = v1.train.Saver()
            with v1.Session() as sess:
                sess.run(v1.global_variables_initializer())
                saver.save(sess, sys.argv[1] + "/model.ckpt")
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", "rehead", str(tmp_path), "--at", "hidden1",
                           "--classes", "3", "-o", str(tmp_path / "out"), "--json"], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["inputs"] == ["A:0", "B:0"]
    assert [n for n in report["notes"] if n.startswith("my_important_ops holds 5 items (A:0, B:0, y, accuracy, "
                                                      "training op): the chapter's `X, y, accuracy, training_op")]
    assert len(gs.load(tmp_path / "out").collection("my_important_ops")) == 5
