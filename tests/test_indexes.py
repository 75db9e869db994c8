"""The Graph's cheap indexes answer exactly what its per-input use index answers.

``uses()`` lists every input that names an op, one ``Use`` per edge: on a
training graph whose gradient ops each wait on every batch-norm update
that is millions of entries. ``is_read``, the rendering wiring
(``graphsurgeon.ir.wiring``, what show, render and explore read) and the training-machinery rules read
the same edges in bulk instead; here each is checked against ``uses()`` on
every fixture and corpus model (function bodies included), and on small
graphs built to have shared control lists, a producer named twice in one
list, a repeated consumer name and data inputs after control ones.
"""
from __future__ import annotations

import pytest
from _support import corpus_models, fixture_models

import graphsurgeon as gs
from graphsurgeon.ir.graph import Graph
from graphsurgeon.ir.wiring import compute as compute_wiring
from graphsurgeon.vocab import protos
from graphsurgeon.vocab.optypes import training_machinery


def _node(gd, name, op, inputs=()):
    node = gd.node.add(name=name, op=op)
    node.input.extend(inputs)
    node.attr["T"].type = 1
    return node


def control_heavy_graph() -> protos.GraphDef:
    """A training graph in miniature: 12 gradient ops all waiting on the same 5 updates, and odd cases."""
    gd = protos.GraphDef()
    _node(gd, "x", "Placeholder")
    _node(gd, "w", "VariableV2")
    _node(gd, "dense/MatMul", "MatMul", ["x", "w"])
    updates = []
    for i in range(5):
        _node(gd, f"bn{i}/update", "AssignSub", ["w", "dense/MatMul"])
        updates.append(f"^bn{i}/update")
    _node(gd, "loss", "Mean", ["dense/MatMul"])
    for i in range(12):
        _node(gd, f"gradients/g{i}", "Mul", ["loss", "dense/MatMul"] + updates)
    _node(gd, "twice", "Identity", ["x", "^bn0/update", "^bn0/update"])      # one producer twice in a list
    _node(gd, "data_after_control", "AddV2", ["x", "^bn1/update", "loss"])   # damaged: TF would refuse it
    _node(gd, "dangling", "Identity", ["nowhere", "^ghost"])
    _node(gd, "gradients/g3", "Mul", ["x", "^bn2/update"])                    # a name used twice
    _node(gd, "train", "NoOp", [f"^gradients/g{i}" for i in range(12)])
    return gd


def graphs():
    out = [("control-heavy", Graph(control_heavy_graph()))]
    for path in fixture_models() + corpus_models():
        g = gs.load(path)
        out.append((str(path), g))
        out.extend((f"{path}#{name}", g.function(name)) for name in sorted(g.library_names))
    return out


@pytest.fixture(scope="module")
def all_graphs():
    return graphs()


def test_is_read_is_whether_uses_lists_anything(all_graphs):
    for where, g in all_graphs:
        fresh = Graph(g.graph_def)  # no use index built yet
        answers = {name: fresh.is_read(name) for name in fresh.node_defs}
        assert answers == {name: bool(fresh.uses(name)) for name in fresh.node_defs}, where
        assert {name: fresh.is_read(name) for name in fresh.node_defs} == answers, where  # and after


def test_rendering_wiring_is_uses_split_into_data_and_control(all_graphs):
    for where, g in all_graphs:
        wiring = compute_wiring(g)
        nodes = g.node_defs
        for name in nodes:
            refs = g.input_refs(name)
            assert wiring.data_in.get(name, ()) == tuple((r.op, r.index) for r in refs if not r.control), where
            assert wiring.control_in.get(name, ()) == tuple(r.op for r in refs if r.control), where
            uses = g.uses(name)
            assert wiring.data_out.get(name, ()) == tuple((u.consumer, u.index) for u in uses if u.index >= 0), \
                (where, name)
            assert wiring.control_out.get(name, ()) == tuple(u.consumer for u in uses if u.index < 0), \
                (where, name)
        # Equal control lists are one object, so a view works out where they lead once.
        by_value = {}
        for lists in (wiring.control_in, wiring.control_out):
            for value in lists.values():
                assert by_value.setdefault(value, value) is value, where


def test_training_machinery_of_the_control_heavy_graph():
    """Hand-checked: rule 1-3 ops, the loss kept (a gradient reads it), the training NoOp by rule 5."""
    machinery = training_machinery(Graph(control_heavy_graph()))
    assert {f"bn{i}/update" for i in range(5)} <= machinery            # Assign*: writes state
    assert {f"gradients/g{i}" for i in range(12)} <= machinery         # gradients scope
    assert "train" in machinery                                        # fed only by machinery
    assert "loss" not in machinery and "dense/MatMul" not in machinery and "x" not in machinery
    assert "twice" not in machinery and "data_after_control" not in machinery   # they read x
