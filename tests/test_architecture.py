"""The shape of the code: one IR, clean layers, one vocabulary, networkx as a real view.

- nothing outside ``graphsurgeon/ir/graph.py`` touches a Graph's private state;
- the package's modules import each other without a cycle (function-level
  imports included: a cycle hidden in a function is still a cycle);
- ``graphsurgeon.formats`` reads models and checkpoints with TensorFlow
  impossible to import;
- ``ls --no-training``, ``info``, ``layers`` and ``render --no-training``
  agree on which ops are training machinery;
- ``g.nx`` answers as the Graph does, and loading a model never builds it.
"""
from __future__ import annotations

import ast
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from _support import ROOT, corpus_models, fixture_models
from graphsurgeon.cli.main import cli

import graphsurgeon as gs
from graphsurgeon.vocab.optypes import training_machinery

PACKAGE = ROOT / "graphsurgeon"
CLI = ROOT / "cli"
# A Graph's private attributes and methods (graph.py's own names).
PRIVATE = ("_nodes", "_library", "_registry", "_function_graphs", "_use_index", "_refs_cache", "_dtype_cache",
           "_shapes", "_nx", "_derived", "_keep", "_uses", "_touch", "_index_inputs", "_reset_index",
           "_producers", "_walk", "_consumers", "_dtypes", "_num_outputs", "_where", "_invalidate")
_PRIVATE_ACCESS = re.compile(r"\b(?!self\b)[A-Za-z_][A-Za-z_0-9]*\.(" + "|".join(PRIVATE) + r")\b")


def _sources():
    return [p for p in list(PACKAGE.rglob("*.py")) + list(CLI.glob("*.py"))]


@functools.lru_cache(maxsize=None)
def _tree(path: Path) -> ast.Module:
    """A module's syntax tree, parsed once for every test here that reads it."""
    return ast.parse(path.read_text())


def test_nothing_outside_the_graph_module_touches_its_private_state():
    offenders = []
    for path in _sources():
        if path == PACKAGE / "ir" / "graph.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if _PRIVATE_ACCESS.search(code):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def _module_name(path: Path) -> str:
    if path.parent == CLI:
        return "graphsurgeon.cli" + ("" if path.stem == "__init__" else "." + path.stem)
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """``{module: modules of the package it imports}``, every import statement counted."""
    modules = {_module_name(p): p for p in _sources()}
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = path.name == "__init__.py"
        deps = set()
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("graphsurgeon"))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".") if package else name.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("graphsurgeon"):
                    continue
                for alias in node.names:
                    deps.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target)
        edges[name] = {d for d in deps if d in modules and d != name}
    return edges


def test_no_import_cycle():
    import networkx

    graph = networkx.DiGraph([(a, b) for a, deps in import_graph().items() for b in deps])
    cycles = [sorted(c) for c in networkx.strongly_connected_components(graph) if len(c) > 1]
    assert not cycles, cycles


def test_formats_imports_no_tensorflow_and_the_library_imports_it_in_one_place():
    edges = import_graph()
    formats = [m for m in edges if m.startswith("graphsurgeon.formats")]
    for module in formats:
        assert not any(d.startswith("graphsurgeon.training") for d in edges[module]), module
    direct = [p for p in _sources() if re.search(r"^\s*(import tensorflow|from tensorflow)", p.read_text(), re.M)]
    allowed = {PACKAGE / "training" / "tf.py", PACKAGE / "training" / "session.py"}
    assert set(direct) <= allowed, sorted(map(str, set(direct) - allowed))


_BLOCKED = r"""
import importlib, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("tensorflow is blocked in this test")
sys.meta_path.insert(0, Block())
import pkgutil, graphsurgeon.formats as formats
for info in pkgutil.iter_modules(formats.__path__):
    importlib.import_module("graphsurgeon.formats." + info.name)
from graphsurgeon.formats import read_model
from graphsurgeon.formats.checkpoint import open_checkpoint
count = 0
for path in sys.argv[1:]:
    model = read_model(path)
    count += len(model.graph_def.node)
    if model.checkpoint:
        with open_checkpoint(model.checkpoint) as reader:
            for key in reader.keys():
                reader.read(key)
print(count, "tensorflow" in sys.modules)
"""


def test_formats_read_models_and_checkpoints_with_tensorflow_blocked():
    models = [str(p) for p in fixture_models() + corpus_models(graphdefs=False)]
    if not models:
        pytest.skip("no fixture or corpus model")
    run = subprocess.run([sys.executable, "-c", _BLOCKED, *models], capture_output=True, text=True, cwd=ROOT,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    count, imported = run.stdout.split()
    assert int(count) > 0 and imported == "False"


def _training_models():
    return [p for p in fixture_models(graphdefs=False) if p.suffix == ".meta"]


@pytest.mark.parametrize("model", _training_models(), ids=lambda p: p.parent.name)
def test_ls_info_layers_and_render_agree_on_training_machinery(model):
    g = gs.load(model)
    machinery = training_machinery(g)
    assert machinery and "train/training_op" in machinery and "hidden1/MatMul" not in machinery
    runner = CliRunner()
    everything = json.loads(runner.invoke(cli, ["ls", str(model), "--json"]).output)["ops"]
    network = json.loads(runner.invoke(cli, ["ls", str(model), "--json", "--no-training"]).output)["ops"]
    assert {r["name"] for r in everything} - {r["name"] for r in network} == machinery
    info = json.loads(runner.invoke(cli, ["info", str(model), "--json"]).output)
    assert info["training_ops"] == len(machinery)
    assert not {t["name"].split(":")[0] for t in info["likely_inputs"] + info["likely_outputs"]} & machinery
    from graphsurgeon.rendering import view

    shown = view(g, no_training=True, depth=0, max_nodes=None)
    drawn = {op for node in shown.nodes.values() for op in node.ops}
    assert drawn == {op.name for op in g} - machinery
    for item in g.layers():
        for tensor in item.inputs + item.outputs:
            assert tensor.split(":")[0] not in machinery, (item.name, tensor)


def _nx_models():
    return fixture_models() + corpus_models()


@pytest.mark.parametrize("model", _nx_models(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_networkx_view_answers_as_the_graph_does(model):
    import networkx

    g = gs.load(model)
    view = g.nx
    assert isinstance(view, networkx.MultiDiGraph)
    names = {op.name for op in g}
    assert {n for n, d in view.nodes(data=True) if not d.get("missing")} == names
    assert view.number_of_edges() == sum(len(op.node.input) for op in g)
    for u, v, d in view.edges(data=True):
        ref = g.input_refs(v)[d["dst_index"]]
        assert ref.op == u and ref.control == d["control"] and (d["control"] or d["tensor"] == ref.tensor)
    # Ancestors and descendants of a few ops, as networkx computes them.
    for op in list(g)[:: max(1, len(g) // 12)]:
        assert g.ancestors([op.name]) - {op.name} == networkx.ancestors(view, op.name), op.name
        assert g.descendants([op.name]) - {op.name} == networkx.descendants(view, op.name), op.name
    # A topological order: every op after what it reads (graphs with cycles excepted, as networkx says).
    order = g.topological_order()
    assert sorted(order) == sorted(names)
    if networkx.is_directed_acyclic_graph(view):
        position = {name: i for i, name in enumerate(order)}
        assert all(position[u] < position[v] for u, v in view.edges() if u in position)


_LOAD_ONLY = r"""
import sys
import graphsurgeon as gs
from graphsurgeon.analysis import report
g = gs.load(sys.argv[1])
rows = list(report.ls_rows(g))
g.layers()
print(len(rows), "networkx" in sys.modules)
g.nx
print("networkx" in sys.modules)
"""


def test_loading_and_listing_never_build_the_networkx_view():
    model = next(iter(fixture_models()), None)
    if model is None:
        pytest.skip("fixtures not built")
    run = subprocess.run([sys.executable, "-c", _LOAD_ONLY, str(model)], capture_output=True, text=True, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert run.returncode == 0, run.stderr[-2000:]
    first, second = run.stdout.splitlines()
    assert first.split()[1] == "False" and second == "True"


def test_the_view_follows_edits():
    g = gs.load(next(iter(fixture_models())))
    before = g.nx.number_of_edges()
    g.remove_ops(["init"], check=False) if "init" in g else None
    assert g.nx.number_of_edges() == sum(len(op.node.input) for op in g) and g.nx is not None
    assert before >= g.nx.number_of_edges()


def test_every_subpackage_is_packaged():
    """pyproject lists its packages explicitly (cli/ is mapped in): a new subpackage must be listed too."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    present = {".".join(p.parent.relative_to(ROOT).parts) for p in PACKAGE.rglob("__init__.py")}
    assert present <= listed, sorted(present - listed)
# ---------------------------------------------------------------- no write hole
# The protos a Graph holds are edited only by the modules that own them: ir/ (the Graph's
# methods), metagraph/ (collections, signatures, saver, assets) and formats/ (readers and
# writers). Anything else edits through them, so the Graph's index and derived facts stay
# current. Found statically: an assignment, ``del`` or mutating call (``.add``, ``.extend``,
# ``CopyFrom``, ``Clear``...) on an attribute/subscript chain through a proto field
# (``g.meta_graph.saver_def.x = ...``), or on a name bound to such a chain (``meta =
# g.meta_graph``; ``for sig in meta.signature_def.values()``), or passing one to a function of
# the same module that mutates that parameter.
PROTO_FIELDS = {"meta_graph", "graph_def", "collection_def", "signature_def", "saver_def", "asset_file_def",
                "meta_info_def", "object_graph_def", "library", "node_list", "bytes_list", "any_list", "int64_list",
                "float_list", "node_def", "function_def", "container", "meta_graphs"}
_MUTATORS = {"add", "extend", "append", "insert", "remove", "pop", "CopyFrom", "MergeFrom", "Clear", "ClearField",
             "SetInParent", "ParseFromString", "MergeFromString", "clear", "update", "sort", "reverse",
             "DeleteSubrange", "ClearExtension", "setdefault", "popitem", "add_tensor", "add_node"}
_ACCESSORS = {"values", "items", "get", "keys"}
_OWNERS = ("ir", "metagraph", "formats")
# What may stay, and why (path relative to the repository: line text that may mutate).
PROTO_WRITE_ALLOWED = {
    # TensorFlow's side: a copy of the MetaGraphDef made for tf.compat.v1 import (never the Graph's own).
    "graphsurgeon/training/session.py": ('meta.ClearField("saver_def")',),
    "graphsurgeon/training/run.py": ('proto.meta_info_def.tensorflow_version = ""',),
}


def _through_proto(expr, bound: set, *, iterating: bool = False) -> bool:
    """Whether ``expr`` is an attribute/subscript chain through a proto field, or through a bound name."""
    while True:
        if isinstance(expr, ast.Attribute):
            if expr.attr in PROTO_FIELDS:
                return True
            expr = expr.value
        elif isinstance(expr, ast.Subscript):
            expr = expr.value
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr in _ACCESSORS:
            expr = expr.func.value
        elif iterating and isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.args and \
                expr.func.id in ("getattr", "list", "sorted", "reversed", "enumerate", "zip"):
            expr = expr.args[0]
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "getattr" and expr.args:
            expr = expr.args[0]
        elif iterating and isinstance(expr, ast.BinOp):  # list(sig.inputs.values()) + list(sig.outputs.values())
            return _through_proto(expr.left, bound, iterating=True) or _through_proto(expr.right, bound, iterating=True)
        elif isinstance(expr, ast.Name):
            return expr.id in bound
        else:
            return False


def _bound_names(target) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List, ast.Starred)):
        elts = target.elts if not isinstance(target, ast.Starred) else [target.value]
        return [n for t in elts for n in _bound_names(t)]
    return []


@functools.lru_cache(maxsize=None)
def _statements(fn):
    """The nodes of a function (or a module's top level), in source order, nested functions apart."""
    out = []
    stack = list(fn.body) if not isinstance(fn, ast.Lambda) else []
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        out.append(node)
        stack.extend(ast.iter_child_nodes(node))
    kept = [n for n in out if isinstance(n, _SEEN)]
    return tuple(sorted(kept, key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))))


_SEEN = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.comprehension, ast.Delete, ast.Call)


def _writes(fn, bound: set, mutating: dict) -> list[tuple[int, str]]:
    """``[(line, what)]``: proto writes in ``fn`` given the names ``bound`` to protos at its start."""
    bound = set(bound)
    found = []
    for node in _statements(fn):
        if isinstance(node, ast.Assign):
            names = [n for t in node.targets for n in _bound_names(t)]
            (bound.update if _through_proto(node.value, bound) else bound.difference_update)(names)
        elif isinstance(node, (ast.For, ast.comprehension)):
            names = _bound_names(node.target)
            (bound.update if _through_proto(node.iter, bound, iterating=True) else bound.difference_update)(names)
        what = None
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, (ast.Attribute, ast.Subscript)) and _through_proto(t.value, bound)
                   or isinstance(t, ast.Attribute) and t.attr in PROTO_FIELDS
                   and not (isinstance(t.value, ast.Name) and t.value.id == "self") for t in targets):
                what = "assignment"
        elif isinstance(node, ast.Delete):
            if any(isinstance(t, (ast.Attribute, ast.Subscript)) and _through_proto(t.value, bound)
                   for t in node.targets):
                what = "del"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS:
            if _through_proto(node.func.value, bound):
                what = node.func.attr
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in mutating:
            if any(i < len(node.args) and _through_proto(node.args[i], bound) for i in mutating[node.func.id]):
                what = f"{node.func.id}()"
        if what:
            found.append((node.lineno, what))
    return found


def proto_writes(path: Path) -> list[tuple[int, str]]:
    """``[(line, what)]``: direct writes to a Graph's protos in module ``path`` (see above)."""
    tree = _tree(path)
    functions = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    # Module functions that mutate a parameter: passing them a proto is a write (two rounds: helpers of helpers).
    mutating: dict[str, set[int]] = {}
    for _ in range(2):
        for fn in functions:
            params = [a.arg for a in fn.args.posonlyargs + fn.args.args]
            used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
            params = [p if p in used else None for p in params]
            if not any(params):
                continue
            base = len(_writes(fn, set(), mutating))
            hits = {i for i, p in enumerate(params) if p and len(_writes(fn, {p}, mutating)) > base}
            if hits:
                mutating[fn.name] = hits
    found = _writes(tree, set(), mutating)
    for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
        found += _writes(fn, set(), mutating)
    return sorted(set(found))


def test_only_the_owning_modules_write_the_protos():
    offenders = []
    for path in _sources():
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "graphsurgeon" and len(rel.parts) > 2 and rel.parts[1] in _OWNERS:
            continue
        lines = path.read_text().splitlines()
        allowed = PROTO_WRITE_ALLOWED.get(rel.as_posix(), ())
        for number, what in proto_writes(path):
            line = lines[number - 1].strip()
            if not any(line.startswith(a) for a in allowed):
                offenders.append(f"{rel}:{number}: {what}: {line}")
    assert not offenders, "edit through the Graph's methods (ir/graph.py, metagraph/):\n" + "\n".join(offenders)


def test_the_proto_write_check_sees_writes():
    """The check above finds each kind of write it names (it is not a test that cannot fail)."""
    source = '''
def direct(g, sig):
    g.meta_graph.saver_def.version = 2
    del g.meta_graph.signature_def["x"]
    g.meta_graph.collection_def["c"].node_list.value.append("op")

def aliased(g):
    meta = g.meta_graph
    meta.ClearField("saver_def")
    for info in meta.signature_def["s"].inputs.values():
        info.name = "x:0"

def _helper(info):
    info.name = "y:0"

def through_helper(g):
    for sig in g.meta_graph.signature_def.values():
        _helper(sig)
        for info in list(sig.inputs.values()) + list(sig.outputs.values()):
            _helper(info)

def fine(g):
    node = g.node_for_edit("x")
    node.device = ""
    names = [n.name for n in g.graph_def.node]
    names.append("z")
    for node in list(g.graph_def.node):
        pass
    node = protos.NodeDef(name="n")
    node.input.extend(["a"])
'''
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.py"
        path.write_text(source)
        found = proto_writes(path)
    lines = source.splitlines()
    assert [lines[n - 1].strip() for n, _ in found] == [
        "g.meta_graph.saver_def.version = 2", 'del g.meta_graph.signature_def["x"]',
        'g.meta_graph.collection_def["c"].node_list.value.append("op")', 'meta.ClearField("saver_def")',
        'info.name = "x:0"', "_helper(sig)", "_helper(info)"]


def test_the_contract_runs_in_one_place():
    """``ensures`` is called by ``surgery/rewrite.conclude`` alone: every rewrite, built-in (declared
    with ``gs.rewrite``) or done in TensorFlow (``conclude``), is checked the same way."""
    callers = []
    for path in _sources():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "ensures":
                callers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert [c.rsplit(":", 1)[0] for c in callers] == ["graphsurgeon/surgery/rewrite.py"], callers
