"""``scan`` on the second attack corpus (issue 25) and on the ordinary models it must pass, both built with
TensorFlow at test time (``tests/scan_corpus.py``): each attack exits 1 with its op, target and severity named,
each ordinary model exits 0; TensorFlow itself runs the restore-path writes and opens an absolute asset name."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

import scan_attacks
import scan_corpus
from _support import ROOT
from graphsurgeon.cli.main import cli
from graphsurgeon.scan import paths, scan
from graphsurgeon.scan.archives import unsafe_name
from graphsurgeon.scan.arguments import asset_target


def run(*args) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["scan", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """``(attacks, benign, target, oracle)``, built once per session (TensorFlow in a subprocess)."""
    base = tmp_path_factory.mktemp("corpus2")
    oracle = scan_corpus.build(base / "attacks", base / "benign", base / "target")
    return base / "attacks", base / "benign", base / "target", oracle


def _texts(finding) -> list[str]:
    out = [finding["reason"] or "", finding["function"] or ""]
    for arg in finding["arguments"].values():
        out += arg.get("values", []) + arg.get("parts", []) + arg.get("assets", [])
    return out


@pytest.mark.slow
@pytest.mark.parametrize("attack", scan_corpus.ATTACKS, ids=lambda a: a.name)
def test_every_attack_is_flagged_with_its_op_target_and_severity(corpus, attack):
    code, out, err = run(corpus[0] / attack.name, "--json", "--jobs", "1")
    assert code == 1, err
    record = json.loads(out)["models"][0]
    assert record["verdict"] == "fail" and record["error"] is None
    hits = [f for f in record["findings"] if f["type"] == attack.op and f["severity"] == attack.severity
            and f["capability"] == attack.capability]
    assert hits, [(f["type"], f["capability"], f["severity"]) for f in record["findings"]]
    finding = next((f for f in hits if any(attack.value in t for t in _texts(f))), None)
    assert finding is not None, [_texts(f) for f in hits]
    assert finding["benign"] is None
    holders = [finding["function"] or ""] + [step["calls"] for step in finding["path"]] + (finding["inside"] or [])
    assert any(attack.function in name for name in holders), holders


@pytest.mark.slow
def test_tensorflow_itself_runs_the_restore_path_writes_and_opens_absolute_asset_names(corpus):
    """The attacks are real: TensorFlow's v1 loader ran each hidden write, tf.saved_model.load read the file
    an absolute asset name names (not assets/)."""
    assert corpus[3] == {"restore_path_write_tf1": True, "restore_path_write_tf2": True,
                         "restore_function_write_tf2": True, "asset_absolute": True}


@pytest.mark.slow
@pytest.mark.parametrize("name", scan_corpus.BENIGN)
def test_ordinary_models_pass(corpus, name):
    code, out, err = run(corpus[1] / name, "--json", "--jobs", "1")
    assert code == 0, err
    record = json.loads(out)["models"][0]
    assert record["verdict"] == "pass" and record["error"] is None
    assert [f for f in record["findings"] if f["severity"] not in ("info", "low")] == []


@pytest.mark.slow
def test_why_ordinary_models_pass(corpus):
    benign = corpus[1]

    def reasons(name):
        record = json.loads(run(benign / name, "--json", "--all")[1])["models"][0]
        return {(f["type"], f["benign"]) for f in record["findings"]}

    own_asset = ("InitializeTableFromTextFileV2", "reads the model's own asset assets/vocab.txt")
    for name in ("tf2_static_hash_table", "keras3_string_lookup", "keras3_text_vectorization", "keras2_string_lookup"):
        assert own_asset in reasons(name), name
    other = "another Saver of the graph, not run on load (its file name is fed when it runs)"
    for name in ("tf1_second_saver", "tf1_second_saver_old_tf", "eval_tag_resaved"):
        assert ("SaveV2", other) in reasons(name) and ("RestoreV2", other) in reasons(name), name
    assert ("SaveV2", "the model's own saver (its checkpoint, under variables/ in a SavedModel)") in \
        reasons("tf1_second_saver_old_tf")
    record = json.loads(run(benign / "tf1_training_gcs_input", "--json", "--fail-on", "low")[1])["models"][0]
    (reader,) = [f for f in record["findings"] if f["type"] == "TFRecordDataset"]
    assert (reader["capability"], reader["severity"], reader["reason"]) == \
        ("training-input", "low", "reads training data from gs://training-bucket/train-00000")


@pytest.mark.slow
def test_restore_path_writes_are_reported_as_such(corpus):
    code, out, _ = run(corpus[0] / "restore_path_write_tf1", corpus[0] / "restore_function_write_tf2")
    assert code == 1
    assert out.count("why: runs on every load: the saver's restore op waits on it") == 2
    assert "reached from saver saver_def" in out and "restore_exfil_tf1" in out and "__inference__traced_restore_" in out


@pytest.mark.slow
def test_reasons_name_the_file_the_url_and_the_loop(corpus):
    attacks = corpus[0]
    record = scan([attacks], jobs=1)["models"]
    by_name = {os.path.basename(r["model"]): r for r in record}

    def worst(name):
        return by_name[name]["findings"][0]

    assert worst("asset_dotdot_tf1")["reason"] == (
        "the asset file name '../../../target/passwd' leaves the model: TensorFlow opens "
        f"{corpus[2] / 'passwd'}")
    assert worst("dataset_gs_tfrecord")["reason"] == "a gs:// URL: gs://exfil-bucket/records"
    assert worst("read_etc_shadow")["reason"] == "a file that holds secrets: /etc/shadow"
    assert "i >= 0" not in worst("dos_while_forever")["reason"]  # the body's own names, not Python's
    assert worst("dos_while_forever")["reason"].endswith("(while_placeholder moves by +1 from 0); the loop never ends")
    assert worst("dos_fill_huge")["reason"] == \
        "allocates 4.0 TiB (Fill of shape [1048576, 1048576] float32), over the 16.0 GiB budget"
    assert worst("dataset_from_graph")["inside"][0].startswith("DatasetFromGraph 'DatasetFromGraph' in ")
    assert worst("archive_read_file.zip")["member"] == "model/1"
    assert worst("archive_write_file.tar.gz")["member"] == "export/write_file"
    assert by_name["archive_read_file.zip"]["format"] == "zip" and by_name["archive_write_file.tar.gz"]["format"] == "tar"


@pytest.mark.slow
def test_the_corpus_is_scanned_without_tensorflow_and_without_opening_what_it_names(corpus):
    attacks, benign, target, _ = corpus
    named = [p for p in target.rglob("*") if not p.is_dir()]  # listing a folder is an access of its own
    before = {p: os.stat(p).st_atime_ns for p in named}
    proc = subprocess.run([sys.executable, "-c", scan_attacks.NO_TENSORFLOW_SCAN, str(attacks), str(benign)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.strip().endswith("clean")
    assert {p: os.stat(p).st_atime_ns for p in named} == before
    summary = json.loads(proc.stdout)["summary"]
    assert summary["fail"] == len(scan_corpus.ATTACKS) and summary["pass"] == len(scan_corpus.BENIGN)


_NO_H5PY = r"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "h5py":
            raise ImportError("h5py is blocked in this test")
sys.meta_path.insert(0, Block())
from graphsurgeon.cli.main import main
sys.argv = ["graphsurgeon", "scan", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_h5_without_h5py_is_one_error_line_naming_the_extra(corpus):
    proc = subprocess.run([sys.executable, "-c", _NO_H5PY, str(corpus[1] / "keras2_dense.h5")], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {corpus[1] / 'keras2_dense.h5'}: reading a Keras .h5 model needs h5py "
        "(pip install 'graphsurgeon[h5]')"]


# ---------------------------------------------------------------- --explain
def test_explain_says_why_an_op_type_is_classified():
    code, out, _ = run("--explain", "DecodeProtoV2")
    assert code == 0
    assert out.splitlines()[:4] == [
        "DecodeProtoV2: reads files (read-files)",
        "  why         reads a FileDescriptorSet from the file descriptor_source names (unless local:// or bytes://)",
        "  names       attr:descriptor_source",
        "  benign when attr:descriptor_source in local://|bytes://*"]
    code, out, _ = run("--explain", "MatMul", "--explain", "Fill", "--json")
    data = json.loads(out)
    assert code == 0 and [d["access"] for d in data] == ["none", "none"]
    assert data[0]["why"] == "tensors" and "denial of service" in data[1]["checks"][0]
    code, _, err = run("--explain", "ReadFil")
    assert code == 1 and err.startswith("error: no op type named 'ReadFil' in TensorFlow's registry")
    code, _, err = run()
    assert code == 2 and err.startswith("error: scan needs a PATH")


# ---------------------------------------------------------------- units: names, URLs, secrets
def test_remote_urls_and_secrets():
    assert [paths.remote(v) for v in ("gs://b/x", "S3://b", "https://h/x", "grpc://h:1", "file:///x", "/x", "c:/x")] \
        == ["gs", "s3", "https", "grpc", None, None, None]
    secrets = ["/etc/shadow", "/etc/passwd", "/root/.ssh/id_ed25519", "/home/u/.ssh/config", "/proc/self/environ",
               "/proc/1/cmdline", "/home/u/.aws/credentials", "/home/u/.netrc", "/var/run/secrets/kubernetes.io/x",
               "file:///etc/shadow", "/home/u/.config/gcloud/application_default_credentials.json"]
    assert all(paths.secret(s) for s in secrets)
    assert not any(paths.secret(s) for s in ("/data/passwd.csv", "/etc/hosts", "vocab.txt", "/tmp/ssh_notes"))


def test_asset_names_and_archive_member_names_that_leave_their_folder():
    assert asset_target("vocab.txt", "/m") is None and asset_target("sub/vocab.txt", "/m") is None
    assert asset_target("/etc/passwd", "/m") == "/etc/passwd"
    assert asset_target("../../x", "/a/m") == "/a/x"
    assert asset_target("sub/../../variables/variables.index", "/m") == "/m/variables/variables.index"
    assert [unsafe_name(n) for n in ("m/saved_model.pb", "m/../../x", "/etc/x", "C:/x", "a\\..\\b", "..a/b")] == \
        [False, True, True, True, True, False]


def test_keras_configs_naming_modules_and_dangerous_functions():
    """A Keras 3 config naming a non-Keras module (CVE-2025-1550) is medium; a function by name that loads a
    model or downloads is high; Keras 2 metadata naming modules is not flagged (Keras 2 imports none)."""
    from graphsurgeon.scan.keras import code_findings

    config = {"class_name": "Functional", "config": {"name": "f", "layers": [
        {"module": "evil.layers", "class_name": "Gate", "registered_name": "Gate", "config": {"name": "gate"}},
        {"module": "keras.layers", "class_name": "Lambda", "config": {"name": "reload", "function": {
            "module": "keras.models", "class_name": "function", "config": "load_model",
            "registered_name": "function"}}},
        {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense"}}]}}
    found = {(f["name"], f["keras"]["stored"], f["severity"]): f["reason"]
             for f in code_findings([("config.json", config)], "config.json")}
    assert set(found) == {("gate", "by module", "medium"), ("reload", "by name", "high")}
    assert "CVE-2025-1550" in found[("gate", "by module", "medium")]
    assert found[("reload", "by name", "high")].startswith("keras.models.load_model: loads another model")
    assert [f["name"] for f in code_findings([("root", config)], "keras_metadata.pb")] == ["reload"]
