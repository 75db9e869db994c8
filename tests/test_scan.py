"""``graphsurgeon scan``: every attack of the corpus TensorFlow builds is flagged, with its op, function and
target; the fixtures and the real corpus pass, their savers and asset tables shown as benign; nothing is
imported from TensorFlow and no path named inside a model is opened; Dask gives the local answer."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import scan_attacks
from click.testing import CliRunner
from _support import ROOT, corpus_models, fixture_models
from graphsurgeon.cli.main import cli

from graphsurgeon.scan import Policy, load_policy, pycode, scan
from graphsurgeon.scan.keras import code_findings


def run(*args) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["scan", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="session")
def attacks(tmp_path_factory) -> Path:
    """The attack models, built once per session (TensorFlow in a subprocess)."""
    base = tmp_path_factory.mktemp("attacks")
    scan_attacks.build(base / "models", base / "target")
    return base / "models"


def _values(finding) -> list[str]:
    out = []
    for arg in finding["arguments"].values():
        out += arg.get("values", []) + arg.get("parts", [])
    return out


# ---------------------------------------------------------------- the attacks
@pytest.mark.slow
@pytest.mark.parametrize("attack", scan_attacks.ATTACKS, ids=lambda a: a.name)
def test_every_attack_is_flagged_with_its_op_function_and_target(attacks, attack):
    code, out, err = run(attacks / attack.name, "--json", "--jobs", "1")
    assert code == 1, err
    record = json.loads(out)["models"][0]
    assert record["verdict"] == "fail" and record["error"] is None
    hits = [f for f in record["findings"] if f["type"] == attack.op and f["severity"] in ("medium", "high")]
    assert hits, [(f["type"], f["severity"]) for f in record["findings"]]
    finding = hits[0]
    assert finding["capability"] == attack.capability and finding["benign"] is None
    if attack.op == "Lambda layer":
        assert attack.value in finding["function"]
        return
    # The op's function, or one that the route to it goes through (dataset readers sit in flat_map bodies).
    holders = [finding["function"] or ""] + [step["calls"] for step in finding["path"]]
    assert any(attack.function in name for name in holders), holders
    assert any(attack.value in v for v in _values(finding)), finding["arguments"]
    # Reached from the serving signature, through the function that hides it.
    assert finding["reached_from"] == "signature serving_default"
    if finding["function"]:
        assert finding["path"][-1]["calls"] == finding["function"]


@pytest.mark.slow
def test_the_text_report_names_op_function_and_target(attacks):
    code, out, _ = run(attacks / "while_body_print", "--jobs", "1")
    assert code == 1
    assert "high    writes files: PrintV2 'while/PrintV2' in while_body_" in out
    assert 'output_stream = "file://' in out and "loop.txt" in out
    assert "reached from signature serving_default: " in out and "while [body] while_body_" in out


@pytest.mark.slow
def test_the_whole_attack_corpus_in_parallel_and_on_dask_gives_one_answer(attacks):
    local = scan([attacks], jobs=1)
    parallel = scan([attacks], jobs=2)
    assert local == parallel
    assert local["status"] == 1 and local["summary"]["fail"] == len(scan_attacks.ATTACKS)
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        assert scan([attacks], dask=cluster.scheduler_address) == local


@pytest.mark.slow
def test_keras_lambda_bytecode_is_described_not_run(attacks):
    record = scan([attacks / "keras_lambda_savedmodel"])["models"][0]
    (finding,) = [f for f in record["findings"] if f["keras"]]
    code = finding["keras"]["code"]
    assert finding["name"] == "helper" and finding["function"] == "steal"
    assert code["names"] == ["os", "getcwd"] and finding["keras"]["source"] == "keras_metadata.pb"


@pytest.mark.slow
def test_scan_never_opens_a_path_named_inside_a_model(attacks):
    """The targets are FIFOs (an open would block) and unreadable files: scan finishes, and touches none."""
    target = attacks.parent / "target"
    before = {p.name: os.stat(p).st_atime_ns for p in target.iterdir()}
    proc = subprocess.run([sys.executable, "-m", "graphsurgeon.cli.main", "scan", str(attacks), "--json"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert {p.name: os.stat(p).st_atime_ns for p in target.iterdir()} == before
    named = {v for m in json.loads(proc.stdout)["models"] for f in m["findings"] for v in _values(f)}
    assert str(target / "passwd") in named and str(target / "shadow") in named


@pytest.mark.slow
def test_scan_never_imports_tensorflow(attacks):
    paths = [str(attacks)] + [str(p) for p in fixture_models() + corpus_models()]
    proc = subprocess.run([sys.executable, "-c", scan_attacks.NO_TENSORFLOW_SCAN, *paths], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.strip().endswith("clean")
    assert json.loads(proc.stdout)["summary"]["fail"] == len(scan_attacks.ATTACKS)


# ---------------------------------------------------------------- real models: nothing to report
def _real_models():
    return fixture_models() + corpus_models()


@pytest.mark.parametrize("model", _real_models(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixtures_and_corpus_pass_at_the_default_threshold(model):
    code, out, err = run(model, "--json")
    assert code == 0, err
    record = json.loads(out)["models"][0]
    assert record["verdict"] == "pass" and record["error"] is None
    assert all(f["severity"] in ("info", "low") for f in record["findings"])


def test_savers_and_asset_tables_are_shown_under_all(corpus_dir):
    code, out, _ = run(corpus_dir / "tfx_transform_fn", "--all")
    assert code == 0
    assert "benign: reads the model's own asset assets/vocab_compute_and_apply_vocabulary_vocabulary" in out
    code, quiet, _ = run(corpus_dir / "tfx_transform_fn")
    assert code == 0 and "InitializeTableFromTextFileV2" not in quiet
    code, out, _ = run(corpus_dir / "serving_half_plus_two_tf2_cpu", "--all")
    assert "info    writes files: SaveV2 'SaveV2' in __inference__traced_save_300" in out
    assert "benign: the model's own saver" in out
    record = json.loads(run(corpus_dir / "serving_half_plus_two_tf2_cpu", "--json")[1])["models"][0]
    saves = [f for f in record["findings"] if f["type"] == "SaveV2"]
    assert saves and saves[0]["reached_from"] == "saver saver_def" and saves[0]["severity"] == "info"


def test_custom_ops_are_low_and_fail_only_when_asked(corpus_dir):
    model = corpus_dir / "deepmd_cu_frozen"
    record = json.loads(run(model, "--json")[1])["models"][0]
    assert {f["type"] for f in record["findings"]} == {"DescrptSeA", "ProdForceSeA", "ProdVirialSeA"}
    assert {f["severity"] for f in record["findings"]} == {"low"}
    assert run(model, "--fail-on", "low")[0] == 1
    assert run(model, "--fail-on", "low", "--allow", "DescrptSeA", "--allow", "ProdForceSeA",
               "--allow", "ProdVirialSeA")[0] == 0


def test_every_meta_graph_of_a_savedmodel_is_scanned(tmp_path):
    """An attack in a second tag set (not 'serve') is found and said to be there."""
    import shutil

    from graphsurgeon.vocab import protos

    folder = tmp_path / "two_tags"
    shutil.copytree(ROOT / "fixtures" / "models" / "mnist_bn_elu_savedmodel_tf1", folder)
    saved = protos.SavedModel()
    saved.ParseFromString((folder / "saved_model.pb").read_bytes())
    extra = saved.meta_graphs.add()
    extra.CopyFrom(saved.meta_graphs[0])
    del extra.meta_info_def.tags[:]
    extra.meta_info_def.tags.append("train")
    name = extra.graph_def.node.add(name="evil/name", op="Const")
    name.attr["dtype"].type = 7
    name.attr["value"].tensor.dtype = 7
    name.attr["value"].tensor.string_val.append(b"/srv/data/table.csv")
    extra.graph_def.node.add(name="evil/read", op="ReadFile", input=["evil/name"])
    (folder / "saved_model.pb").write_bytes(saved.SerializeToString())
    code, out, _ = run(folder, "--json")
    record = json.loads(out)["models"][0]
    (finding,) = [f for f in record["findings"] if f["type"] == "ReadFile"]
    assert code == 0 and finding["meta_graph"] == "train" and _values(finding) == ["/srv/data/table.csv"]
    assert [m["tags"] for m in record["meta_graphs"]] == ["serve", "train"]
    # Declared entry points reach no such op: one level lower than a read's medium, and said so.
    assert finding["severity"] == "low" and finding["unreachable"] is True
    assert run(folder)[0] == 0 and run(folder, "--fail-on", "low")[0] == 1


# ---------------------------------------------------------------- policy, exit statuses, formats
def test_unreadable_inputs_are_reported_and_exit_2(tmp_path):
    bad = tmp_path / "broken.pb"
    bad.write_bytes(b"\xff\xff\xff not a graph")
    code, out, err = run(bad, tmp_path / "missing")
    assert code == 2
    assert f"{bad}  ERROR" in out and f"error: {tmp_path / 'missing'}: no such file or directory" in err
    assert err.count("error: ") == 2


def test_usage_errors_exit_2(tmp_path):
    assert run()[0] == 2
    assert run(ROOT / "fixtures" / "models", "--json", "--jsonl")[0] == 2
    policy = tmp_path / "p.json"
    policy.write_text('{"fail_on": "severe"}')
    code, _, err = run(ROOT / "fixtures" / "models", "--policy", policy)
    assert code == 2 and err.startswith("error: unknown severity 'severe'")


def test_policy_allows_by_type_and_value():
    finding = {"type": "ReadFile", "capability": "read-files", "name": "r", "function": None,
               "arguments": {"filename": {"source": "constant", "values": ["/data/a.txt"]}}}
    assert load_policy(allow=["ReadFile"]).allows(finding, "m")
    assert Policy(allow=[{"type": "ReadFile", "value": "/data/*"}]).allows(finding, "m")
    assert not Policy(allow=[{"type": "ReadFile", "value": "/etc/*"}]).allows(finding, "m")
    assert not Policy(allow=[{"capability": "network"}]).allows(finding, "m")
    assert Policy(allow=[{"model": "models/*"}]).allows(finding, "models/x")


@pytest.mark.slow
def test_allow_and_policy_file_turn_a_failure_into_a_pass(attacks, tmp_path):
    model = attacks / "read_file"
    assert run(model)[0] == 1
    assert run(model, "--allow", "ReadFile")[0] == 0
    assert run(model, "--fail-on", "high")[0] == 0
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"allow": [{"type": "ReadFile", "value": str(attacks.parent / "target" / "*")}]}))
    code, out, _ = run(model, "--policy", policy, "--json")
    assert code == 0 and json.loads(out)["models"][0]["findings"][0]["allowed"] is True


@pytest.mark.slow
def test_jsonl_and_sarif(attacks):
    code, out, _ = run(attacks / "write_file", attacks / "read_file", "--jsonl")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1 and [Path(r["model"]).name for r in lines] == ["write_file", "read_file"]
    code, out, _ = run(attacks / "write_file", "--sarif")
    sarif = json.loads(out)
    (result,) = sarif["runs"][0]["results"]
    assert code == 1 and sarif["version"] == "2.1.0" and result["ruleId"] == "write-files"
    assert result["level"] == "error" and "dropped.sh" in result["message"]["text"]


def test_json_document_shape():
    code, out, _ = run(ROOT / "fixtures" / "models" / "mnist_bn_elu_savedmodel_tf2", "--json")
    data = json.loads(out)
    assert code == 0 and set(data) == {"version", "fail_on", "status", "summary", "models"}
    record = data["models"][0]
    assert set(record) == {"model", "format", "error", "meta_graphs", "findings", "counts", "severity", "verdict"}
    assert {"kind": "signature", "name": "serving_default"} in record["meta_graphs"][0]["entry_points"]
    finding = record["findings"][0]
    assert set(finding) == {"name", "type", "function", "capability", "what", "severity", "benign", "reason",
                            "reached_from", "path", "arguments", "unreachable", "meta_graph", "inside", "member",
                            "keras", "allowed"}


# ---------------------------------------------------------------- units: bytecode and Keras JSON
def test_bytecode_names_are_read_without_unmarshalling(monkeypatch):
    import marshal

    def payload(cmd):
        import subprocess as sp
        return sp.check_output(cmd, shell=True)

    data = marshal.dumps(payload.__code__)
    monkeypatch.setattr(marshal, "loads", lambda *a: pytest.fail("marshal.loads called"))
    described = pycode.describe(data)
    assert described["name"] == "payload" and described["names"][:2] == ["subprocess", "check_output"]
    assert pycode.describe(data[:20]) is None and pycode.describe(b"") is None
    assert pycode.describe(b"\xe3" + b"\xff" * 64) is None


def test_keras_json_code_fields_of_both_keras_versions():
    import base64
    import marshal

    text = base64.b64encode(marshal.dumps((lambda t: t).__code__)).decode()
    keras2 = {"class_name": "Sequential", "config": {"name": "seq", "layers": [
        {"class_name": "Lambda", "config": {"name": "l2", "function": {"class_name": "__tuple__",
                                                                      "items": [text, None, None]},
                                            "function_type": "lambda", "module": "__main__",
                                            "output_shape_type": "raw"}},
        {"class_name": "Lambda", "config": {"name": "named", "function": "helper", "function_type": "function",
                                            "module": "mylib"}}]}}
    keras3 = {"class_name": "Functional", "config": {"name": "f", "layers": [
        {"module": "keras.layers", "class_name": "Lambda", "config": {
            "name": "l3", "function": {"class_name": "__lambda__", "config": {"code": text}}}}]}}
    found = code_findings([("root", keras2), ("layer", keras2), ("config.json", keras3)], "x")
    summary = sorted((f["name"], f["function"].rsplit(".", 1)[-1], f["severity"], f["keras"]["stored"])
                     for f in found)
    assert summary == [("l2", "<lambda>", "high", "bytecode"), ("l3", "<lambda>", "high", "bytecode"),
                       ("named", "helper", "medium", "by name")]
