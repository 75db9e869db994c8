"""The op-type sets of graphsurgeon.vocab.optypes that several modules share, held to TensorFlow's registry.

Each set is used for one decision in several places (the saver's keys, shape
inference, the scan, feeds, rewrites); these tests check the facts those uses
rely on against TensorFlow's own op definitions (the registry shipped in
graphsurgeon/data/ops.pb) and against names ``tf.gradients`` made in the
fixture.
"""
from __future__ import annotations

from _support import fixture_model

import graphsurgeon as gs
from graphsurgeon.vocab.opdefs import shipped
from graphsurgeon.vocab.optypes import (GRADIENT_OF, GRADIENT_SCOPE, PASS_THROUGH, PLACEHOLDER_TYPES,
                                        REQUIRED_PLACEHOLDER_TYPES, RESTORE_TYPES, SAVE_RESTORE_TYPES, SAVE_TYPES,
                                        is_gradient)


def _inputs(op_type: str) -> list[str]:
    return [arg.name for arg in shipped()[op_type].input_arg]


def test_restore_types_take_the_checkpoint_keys_at_input_1():
    """metagraph/saver reads input 1 as the keys and input 2 (not of Restore) as the slice specs."""
    assert set(RESTORE_TYPES) <= SAVE_RESTORE_TYPES
    assert {t: _inputs(t) for t in RESTORE_TYPES} == {
        "RestoreV2": ["prefix", "tensor_names", "shape_and_slices"],
        "Restore": ["file_pattern", "tensor_name"],
        "RestoreSlice": ["file_pattern", "tensor_name", "shape_and_slice"],
    }
    assert all(shipped()[t].is_stateful for t in RESTORE_TYPES)


def test_save_types_take_where_to_write_at_input_0():
    """The scan follows input 0 of a save as the file it writes."""
    assert set(SAVE_TYPES) <= SAVE_RESTORE_TYPES
    assert {t: _inputs(t)[:2] for t in SAVE_TYPES} == {
        "SaveV2": ["prefix", "tensor_names"], "Save": ["filename", "tensor_names"],
        "SaveSlices": ["filename", "tensor_names"]}


def test_placeholders_required_ones_have_no_input_the_other_its_default():
    assert PLACEHOLDER_TYPES == REQUIRED_PLACEHOLDER_TYPES + ("PlaceholderWithDefault",)
    assert {t: _inputs(t) for t in PLACEHOLDER_TYPES} == {
        "Placeholder": [], "PlaceholderV2": [], "PlaceholderWithDefault": ["input"]}


def test_pass_through_ops_give_their_one_input():
    """Shape inference folds their value as their input's; freeze and the saver follow them."""
    for op_type in PASS_THROUGH:
        op_def = shipped()[op_type]
        assert [a.name for a in op_def.input_arg] == ["input"], op_type
        assert [a.name for a in op_def.output_arg] == ["output"], op_type
        assert op_def.output_arg[0].type_attr == op_def.input_arg[0].type_attr == "T", op_type


def test_gradient_scope_and_what_each_gradient_op_differentiates():
    assert GRADIENT_OF.match("train/gradients/Elu_grad/EluGrad").groups() == ("train/gradients/", "Elu")
    assert GRADIENT_OF.match("gradients_1/hidden1/MatMul_grad/MatMul_1").groups() == ("gradients_1/", "hidden1/MatMul")
    assert GRADIENT_OF.match("train/gradients/AddN") is None               # in the scope, of no one op
    for name, scope, gradient in [("gradients/Fill", True, True), ("a/gradients_12/b", True, True),
                                  ("a/gradients", False, True),            # the scope's own name
                                  ("my_gradients/x", False, False), ("gradients_x/y", False, False),
                                  ("a/gradientsb/c", False, False)]:
        assert bool(GRADIENT_SCOPE.search(name)) is scope, name
        assert is_gradient(name, "Mul") is gradient, name
    assert is_gradient("x/y", "EluGrad") and not is_gradient("x/y", "Elu")


def test_gradient_ops_of_the_fixture_are_those_tf_gradients_made():
    """The fixture's optimizer (``minimize`` under the scope ``train``) put its gradients in ``train/gradients/``."""
    g = gs.load(fixture_model("mnist_bn_elu_tf1/model.ckpt.meta"))
    scoped = {op.name for op in g if GRADIENT_SCOPE.search(op.name)}
    assert scoped == {op.name for op in g if op.name.startswith("train/gradients/")} and len(scoped) > 100
    differentiated = {GRADIENT_OF.match(name).group(2) for name in scoped if GRADIENT_OF.match(name)}
    assert {"Elu", "Elu_1", "hidden1/MatMul", "loss/loss"} <= differentiated
    assert differentiated <= set(g.node_defs)   # each names an op of the forward pass
