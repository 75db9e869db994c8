"""The words users read: "did you mean" hints, plurals, and CLI spellings in CLI messages."""
from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import graphsurgeon as gs
from conftest import FIXTURES, ROOT, fixture_model
from graphsurgeon.cli.main import cli
from graphsurgeon.errors import NotFoundError, closest
from graphsurgeon.wording import plural

TF2 = "mnist_bn_elu_savedmodel_tf2"


# ---------------------------------------------------------------- plurals
def test_plural():
    assert plural(0, "op") == "0 ops" and plural(1, "op") == "1 op" and plural(2, "op") == "2 ops"
    assert plural(12345, "byte") == "12,345 bytes"
    assert plural([1], "item") == "1 item" and plural({}, "item") == "0 items"
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"
    assert plural(1, "more type") == "1 more type"


def test_counts_in_messages_agree_with_their_number(tmp_path):
    """A rewrite that removes one op, a collection of one item, a diff of one op: singular."""
    meta = fixture_model("mnist_bn_elu_tf1/model.ckpt.meta")
    g = gs.load(meta)
    runner = CliRunner()
    result = runner.invoke(cli, ["collections", "add", str(meta), "solo", "X:0", "-o", str(tmp_path / "a.meta")])
    assert result.exit_code == 0 and "(1 item)" in result.output, result.output
    result = runner.invoke(cli, ["collections", "show", str(tmp_path / "a.meta"), "solo"])
    assert result.output.splitlines()[0] == "solo  node_list  1 item"
    from graphsurgeon.changes import Changes

    assert str(Changes(removed=["a"], renamed={"b": "c"}, dropped=["d"])) == \
        "removed 1 op, renamed 1 op, dropped 1 reference"
    extra = gs.load(meta)
    extra.add_op(gs.protos.NodeDef(name="just_one", op="NoOp"))
    text = gs.diff(g, extra).format()
    assert "added 1 op:" in text and "(618 ops)" in text and "(619 ops)" in text
    from graphsurgeon.surgery.diff import _kinds

    types = {f"n{i}": f"T{i}" for i in range(7)}
    assert _kinds(list(types), types).endswith("(1 more type)")
