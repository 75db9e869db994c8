"""What the rewrites do with the idioms that broke them (issue 22, points 1, 9, 11, 13, 14), on the idiom zoo.

The zoo (tests/idioms/, built by TensorFlow and cached) holds the models;
tests/test_idiom_matrix.py runs every command over them with TensorFlow's
loaders and numbers as the oracle. This module holds the facts behind those
cells that the matrix does not look at (which collections hold VariableDefs,
what export's ``variables/`` holds, the keys and slices a saver restores, the
op freeze names for lookup tables), and asks TensorFlow, in one subprocess,
what the matrix does not ask it: the joined value of a partitioned variable
(``tf.train.load_checkpoint``), the keys of export's checkpoint, and a frozen
graph run after the initializer op freeze names.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import graphsurgeon as gs
from graphsurgeon.cli.main import cli
from graphsurgeon.formats.bundle import BundleReader
from graphsurgeon.formats.slices import read_value
from graphsurgeon.metagraph.saver import saver_entries
from graphsurgeon.metagraph.variables import variable_def_collections
from tf_rewrite_check import check

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def zoo():
    from idioms import zoo as build

    try:
        return build()[1]
    except LookupError as exc:
        pytest.skip(f"the idiom zoo needs TensorFlow to build its models: {exc}")


@pytest.fixture(scope="module")
def rewritten(zoo, tmp_path_factory):
    """The rewrites these tests look at, written, and TensorFlow's answers to the questions above."""
    out = tmp_path_factory.mktemp("rewritten")
    done = {}
    g = gs.load(zoo["cnn_global_step"]["model"])
    done["global_step/prune"] = gs.prune(g, ["probabilities:0"])
    export, changes = gs.export(g, inputs=["images:0"], outputs=["fc/logits:0"])
    done["global_step/export"] = (export, changes, export.save(out / "gs_export", notes=changes.notes))
    g = gs.load(zoo["partitioned"]["model"])
    done["partitioned/prune"] = gs.prune(g, ["logits:0"])
    export, changes = gs.export(g, inputs=["ids:0"], outputs=["logits:0"])
    done["partitioned/export"] = (export, changes, export.save(out / "part_export", notes=changes.notes))
    done["ema/prune"] = gs.prune(gs.load(zoo["ema_eval"]["model"]), ["logits:0"])
    g = gs.load(zoo["lookup_table"]["model"])
    done["tables/prune"] = gs.prune(g, ["scores:0"])
    frozen, changes = gs.freeze(g, outputs=["scores:0", "ids:0"])
    done["tables/freeze"] = (frozen, changes, frozen.save(out / "tables_frozen.pb"))
    m = zoo["lookup_table"]
    jobs = [{"kind": "checkpoint", "model": zoo["partitioned"]["checkpoint"], "tensors": ["embedding/weights"]},
            {"kind": "checkpoint", "model": str(out / "gs_export" / "variables" / "variables"), "tensors": []},
            {"kind": "graphdef", "model": str(out / "tables_frozen.pb"), "init": changes.details["initializer"],
             "feeds": m["feeds"], "fetches": ["scores:0", "ids:0"]}]
    done["tensorflow"] = dict(zip(("embedding", "export_keys", "tables_frozen"), check(jobs, out)))
    return done


def test_global_step_leaves_every_variable_collection_it_was_in(zoo, rewritten):
    """Point 1: the global step's VariableDef sits in 'global_step' (decided by content), which the prune
    fixes with 'variables' (the matrix: import_meta_graph of the result no longer raises KeyError)."""
    g = gs.load(zoo["cnn_global_step"]["model"])
    assert variable_def_collections(g.meta_graph) == ["global_step", "trainable_variables", "variables"]
    p, changes = rewritten["global_step/prune"]
    assert "global_step" not in p
    dropped = [d.split(":")[0] for d in changes.dropped if "variable global_step:0" in d]
    assert sorted(dropped) == ["collection 'global_step'", "collection 'variables'"]
    assert not p.meta_graph.collection_def["global_step"].bytes_list.value


def test_export_writes_only_what_the_signatures_read(zoo, rewritten):
    """Point 9: variables/ holds the CNN's 6 variables, not Adam's slots, beta powers or the global step,
    each stored byte for byte; TensorFlow's reader lists exactly these."""
    _, changes, path = rewritten["global_step/export"]
    wanted = ["conv1/bias", "conv1/kernel", "conv2/bias", "conv2/kernel", "fc/bias", "fc/kernel"]
    with BundleReader(path / "variables" / "variables") as exported, \
            BundleReader(zoo["cnn_global_step"]["checkpoint"]) as original:
        assert sorted(exported.keys()) == wanted
        assert len(original.keys()) == 21
        for key in exported.keys():
            assert exported.stored_bytes(key) == original.stored_bytes(key)
    assert any(n.startswith("variables/: 6 of the 21 tensors") for n in changes.notes), changes.notes
    assert rewritten["tensorflow"]["export_keys"]["keys"] == wanted
    # A partitioned variable goes with its slices.
    _, _, path = rewritten["partitioned/export"]
    with BundleReader(path / "variables" / "variables") as exported:
        assert sorted(exported.keys()) == ["embedding/weights", "output/bias", "output/kernel"]
        assert len(exported.slice_keys("embedding/weights")) == 3


def test_a_partitioned_variable_reads_as_tensorflow_saved_it(zoo, rewritten):
    """Point 11: the full name joins the three slices, as tf.train.load_checkpoint does; each part is
    its slice, under the key and spec the model's saver restores it from."""
    answer = rewritten["tensorflow"]["embedding"]
    assert "error" not in answer, answer
    full = np.asarray(answer["values"]["embedding/weights"], dtype=np.float32)
    with BundleReader(zoo["partitioned"]["checkpoint"]) as reader:
        assert "embedding/weights" in reader and not any(k.startswith("\x00") for k in reader.keys())
        assert np.array_equal(reader.read("embedding/weights"), full)
        assert np.array_equal(read_value(reader, "embedding/weights", "30 8 10,10:0,8"), full[10:20])
    entries = saver_entries(gs.load(zoo["partitioned"]["model"]))
    assert entries["embedding/weights/part_2"] == ("embedding/weights", "30 8 20,10:0,8")


def test_prune_keeps_the_savers_keys_and_slices(rewritten):
    """Point 14 (and 11): an EMA eval graph's saver restores each variable from its shadow's key; every
    variable it restores stays, so it stays whole. A prune that drops optimizer slots rebuilds the saver
    over what remains, with the original's keys and slices (each part from its slice of embedding/weights)."""
    p, changes = rewritten["ema/prune"]
    keys = [k.decode() for k in p.op("save/RestoreV2/tensor_names").node.attr["value"].tensor.string_val]
    assert keys == sorted(f"{v}/ExponentialMovingAverage" for v in ("fc1/bias", "fc1/kernel", "fc2/bias",
                                                                     "fc2/kernel"))
    assert "saver: the model's own saver stays whole: every variable it restores stays" in changes.notes
    assert not [o for o in changes.removed if o.startswith("save/")]
    p, changes = rewritten["partitioned/prune"]
    assert "3 partitions as slices" in " ".join(changes.notes), changes.notes
    specs = [s.decode() for s in p.op("save/RestoreV2/shape_and_slices").node.attr["value"].tensor.string_val]
    assert specs == ["30 8 0,10:0,8", "30 8 10,10:0,8", "30 8 20,10:0,8", "", ""]


def test_prune_keeps_the_main_op_and_freeze_names_the_table_initializer(zoo, rewritten):
    """Point 13: the SavedModel's main op stays (the loader wants exactly one); the frozen graph keeps the
    table's initializer under one op it names, which TensorFlow runs before the outputs, reading the
    vocabulary in the SavedModel's assets/."""
    p, _ = rewritten["tables/prune"]
    assert len(p.meta_graph.collection_def["saved_model_main_op"].node_list.value) == 1
    frozen, changes, _ = rewritten["tables/freeze"]
    assert changes.details["initializer"] == "init_all_tables"
    initializers = [i.lstrip("^") for i in frozen.op("init_all_tables").node.input]
    assert [frozen.op(i).type for i in initializers] == ["InitializeTableFromTextFileV2"]
    answer = rewritten["tensorflow"]["tables_frozen"]
    assert "error" not in answer, answer["error"]
    for name, path in zoo["lookup_table"]["expected"].items():
        got, want = np.asarray(answer["values"][name]), np.load(path)
        assert got.shape == want.shape and np.max(np.abs(got - want)) <= TOLERANCE, name


def test_cli_freeze_says_which_op_initialises_the_tables(zoo, tmp_path):
    res = CliRunner().invoke(cli, ["freeze", zoo["lookup_table"]["model"], "--outputs", "scores:0", "-o",
                                   str(tmp_path / "f.pb"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["initializer"] == "init_all_tables"
