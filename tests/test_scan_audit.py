"""The registry audit (``graphsurgeon/data/op_access.tsv``): every op type of the shipped registry is classified,
each line agrees with its OpDef, and the vocabulary's external-access sets are the audit's."""
from __future__ import annotations

import re

import pytest

from graphsurgeon.vocab import opaccess, opdefs
from graphsurgeon.vocab import optypes as vocabulary
from graphsurgeon.vocab.protos import OpDef

STRING = 7  # DT_STRING
_FILE_LIKE = re.compile(r"file|path|(^|_)dir($|_|ector)|url|uri($|_)|address|vocab|ckpt|logdir|log_dir|"
                        r"descriptor_source|server|^target$|pattern|db_")
_REGEX_OPS = {"RegexFullMatch", "RegexReplace", "StaticRegexFullMatch", "StaticRegexReplace"}


def unclassified(registry: dict, table: dict) -> list[str]:
    """Op types of ``registry`` the audit ``table`` has no line for."""
    return sorted(name for name in registry if name not in table)


def test_every_op_type_of_the_registry_is_classified():
    registry, table = opdefs.shipped(), opaccess.table()
    assert len(registry) >= 1900
    assert unclassified(registry, table) == []
    assert sorted(set(table) - set(registry)) == []


def test_a_registry_with_a_new_op_type_is_caught():
    """What a registry regenerated from a newer TensorFlow would do: the new op type is reported, by name."""
    registry = dict(opdefs.shipped())
    registry["ReadSomethingNew"] = OpDef(name="ReadSomethingNew")
    assert unclassified(registry, opaccess.table()) == ["ReadSomethingNew"]


def _code_holds(code: str, op) -> bool:
    strings = any(a.type == STRING for a in op.input_arg) or \
        any(a.type in ("string", "list(string)") for a in op.attr)
    functions = any(a.type in ("func", "list(func)") for a in op.attr)
    return {"tensors": not strings and not functions and not op.is_stateful,
            "text": strings and not functions and not op.is_stateful,
            "state": op.is_stateful and not functions,
            "calls": functions}[code]


def test_each_line_agrees_with_its_op_def():
    """The code of an op type that reaches nothing holds for its OpDef; the arguments a line names exist."""
    registry = opdefs.shipped()
    wrong = []
    for name, entry in opaccess.table().items():
        op = registry[name]
        inputs = {a.name for a in op.input_arg}
        attrs = {a.name for a in op.attr}
        if entry.access == "none":
            if entry.code not in opaccess.NONE_CODES or not _code_holds(entry.code, op):
                wrong.append((name, "code", entry.why))
            continue
        for kind, arg in entry.arguments:
            known = {"input": inputs, "client": inputs, "attr": attrs, "queue": {"filenames"}}[kind]
            if arg not in known and not (kind == "client" and arg == "server_address"):
                wrong.append((name, kind, arg))
        if entry.benign is not None and entry.benign.argument not in entry.arguments:
            wrong.append((name, "benign", str(entry.benign)))
    assert wrong == []


def test_no_op_type_that_names_a_file_or_address_is_left_as_reaching_nothing():
    """Every input or string attribute named like a file, path, URL, address or vocabulary belongs to an op
    type the audit says reaches something (regular expressions' patterns aside)."""
    missed = []
    for name, op in opdefs.shipped().items():
        names = [a.name for a in op.input_arg] + [a.name for a in op.attr if a.type in ("string", "list(string)")]
        if name not in _REGEX_OPS and any(_FILE_LIKE.search(n) for n in names) and \
                opaccess.access(name).access == "none":
            missed.append(name)
    assert missed == []


def test_the_vocabulary_is_the_audit():
    assert vocabulary.FILE_READ_OPS == opaccess.op_types("read-files")
    assert vocabulary.FILE_WRITE_OPS == opaccess.op_types("write-files")
    assert vocabulary.PYTHON_OPS == opaccess.op_types("python")
    assert vocabulary.NETWORK_OPS == opaccess.op_types("network") | opaccess.op_types("peer-exchange")
    assert {"DecodeProtoV2", "EncodeProto", "GenerateVocabRemapping", "FixedUnigramCandidateSampler"} \
        <= vocabulary.FILE_READ_OPS
    assert vocabulary.capability("DatasetFromGraph") == "runs-graph"
    assert vocabulary.capability("SleepDataset") == "denial-of-service"
    assert vocabulary.capability("MatMul") is None and vocabulary.capability("NoSuchOp") is None
    assert vocabulary.reaches("Abort") == "denial of service" and vocabulary.reaches("XlaCallModule") == "native code"


@pytest.mark.parametrize("line, problem", [
    ("ReadFile\tread-files\tinput:filename\t-", "fields"),
    ("ReadFile\treads\tinput:filename\t-\twhy", "unknown access"),
    ("ReadFile\tread-files\tfilename\t-\twhy", "KIND:NAME"),
    ("ReadFile\tread-files\tinput:filename\tinput:filename maybe\twhy", "benign rule"),
    ("A\tnone\t-\t-\ttensors\nA\tnone\t-\t-\ttensors", "twice"),
])
def test_a_damaged_table_is_refused_with_its_line(line, problem):
    with pytest.raises(opaccess.AuditError, match=problem):
        opaccess.parse(line)


def test_benign_rules():
    table = opaccess.parse("PrintV2\twrite-files\tattr:output_stream\tattr:output_stream in stderr|log(*\twhy\n"
                           "CacheDataset\twrite-files\tinput:filename\tinput:filename empty\twhy")
    rule = table["PrintV2"].benign
    assert rule.holds(["stderr"]) and rule.holds(["log(info)"]) and not rule.holds(["file:///tmp/x"])
    assert not rule.holds([]) and not rule.holds(None)
    empty = table["CacheDataset"].benign
    assert empty.holds([""]) and empty.holds([]) and not empty.holds(["/tmp/cache"]) and not empty.holds(None)
