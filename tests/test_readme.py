"""The README's examples run: its python blocks in order, its console commands, every command's
documented JSON keys, and the chapter's workflow section from training to exploring.

The README is cut into sections at its headings. Three kinds of sections are
run differently:
- "### `CMD --json`" subsections: each console command runs (in order, in one
  temporary directory) and its JSON's top-level keys must be exactly those of
  the key table that follows it (keys whose meaning starts with "(when" or
  "(only" may be absent);
- the chapter's workflow section: its sh commands and its python block run
  in order, with one short epoch (needs MNIST);
- the deployment section: its sh commands (``saved_model_cli`` included) and
  its python block (TensorFlow serving the export) run in order (needs MNIST);
- everything else: python blocks run in one namespace, in a fresh interpreter
  that must not import TensorFlow (whatever the tests before imported),
  console blocks run command by command in one temporary directory each.
Outputs under ``build/`` go to the temporary directory, never into the repository.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _support import ROOT

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, re.S)
WORKFLOW = "## The chapter's workflow: reusing pretrained layers"
DEPLOY = "## Deploying a model"
SURGERY = "## Writing your own surgery"
SCRIPT_MARK = "# my_rewrites.py\n"  # the block that is a file of its own, for `graphsurgeon apply`
JSON_HEADING = re.compile(r"^### `(.+?) --json`$")
EXE = Path(sys.executable).parent / "graphsurgeon"


def _sections() -> list[tuple[str, str]]:
    """(heading, body) for every heading of the README, fenced blocks kept whole."""
    out, heading, lines, fenced = [], "", [], False
    for line in README.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("#"):
            out.append((heading, "".join(lines)))
            heading, lines = line.strip(), []
        else:
            lines.append(line)
    out.append((heading, "".join(lines)))
    return out


SECTIONS = _sections()


def _surgery_headings() -> list[str]:
    """The surgery section's heading and its subsections' (up to the next ``## ``)."""
    headings = [h for h, _ in SECTIONS]
    start = headings.index(SURGERY)
    end = next(i for i in range(start + 1, len(headings)) if headings[i].startswith("## "))
    return headings[start:end]


def _blocks(body: str) -> list[tuple[str, str]]:
    return re.findall(r"```(\w+)\n(.*?)```", body, re.S)


def _plain_sections():
    """Sections run the ordinary way: not the workflow, not a JSON subsection."""
    surgery = set(_surgery_headings())
    for heading, body in SECTIONS:
        if heading in (WORKFLOW, DEPLOY) or heading in surgery or JSON_HEADING.match(heading):
            continue
        yield heading, body


def test_readme_starts_with_the_two_commands():
    first = BLOCKS[0]
    commands = [line.split("#")[0].strip() for line in first[1].splitlines() if line.strip()]
    assert commands == ["./dev.sh demo", "./dev.sh test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec ./dev.sh test" in ci


def test_sections_are_found():
    headings = [h for h, _ in SECTIONS]
    assert WORKFLOW in headings and DEPLOY in headings
    assert sum(bool(JSON_HEADING.match(h)) for h in headings) >= 10


# Runs python blocks in order in one namespace, in a fresh interpreter (so that whether they
# import TensorFlow does not depend on what the tests before them imported); says which
# TensorFlow modules are loaded at the end.
_PYTHON_BLOCKS = r"""
import json, sys
namespace = {}
for i, code in enumerate(json.load(open(sys.argv[1]))):
    exec(compile(code, f"README.md (python block {i + 1})", "exec"), namespace)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "tensorflow")[:5]))
"""


def _run_python_blocks(code: list[str], tmp_path: Path) -> None:
    """Run the README's python ``code`` blocks as :data:`_PYTHON_BLOCKS` does (cwd: the clone); they must
    not import TensorFlow (unless ``GS_ALLOW_TF_IN_README`` is set)."""
    blocks = tmp_path / "readme_blocks.json"
    blocks.write_text(json.dumps(code))
    proc = subprocess.run([sys.executable, "-c", _PYTHON_BLOCKS, str(blocks)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                                                      "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-4000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not loaded or os.environ.get("GS_ALLOW_TF_IN_README"), f"the README's examples imported {loaded}"


def test_python_examples_run(tmp_path):
    code = [body for _, section in _plain_sections() for lang, body in _blocks(section) if lang == "python"]
    assert code
    _run_python_blocks(code, tmp_path)


def _commands(body: str) -> list[str]:
    return [line[2:] for line in body.splitlines() if line.startswith("$ graphsurgeon ")]


def _console_blocks():
    for heading, section in _plain_sections():
        for lang, body in _blocks(section):
            if lang == "console" and _commands(body):
                yield _commands(body)


def _argv(command: str, tmp_path: Path) -> list[str]:
    argv = shlex.split(command)
    if argv[0] == "graphsurgeon" and EXE.exists():
        argv[0] = str(EXE)
    elif argv[0] == "python":
        argv[0] = sys.executable
    return [str(tmp_path / a[len("build/"):]) if a.startswith("build/") else
            str(tmp_path / a) if a.startswith("my_rewrites.py:") else a for a in argv]


def _write_script(tmp_path: Path) -> None:
    """The README's my_rewrites.py, where the commands that name it find it."""
    body = dict(SECTIONS)
    scripts = [code for h in _surgery_headings() for lang, code in _blocks(body[h])
               if lang == "python" and code.startswith(SCRIPT_MARK)]
    assert len(scripts) == 1
    (tmp_path / "my_rewrites.py").write_text(scripts[0])


def _run(command: str, tmp_path: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """One README command; ``diff`` and ``compare`` may exit 1 (they differ), anything else must exit 0."""
    argv = _argv(command, tmp_path)
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    allowed = (0, 1) if argv[1] in ("diff", "compare") else (0,)
    assert proc.returncode in allowed, f"{command}: exit {proc.returncode}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    return proc


@pytest.mark.parametrize("commands", list(_console_blocks()), ids=lambda c: c[0][13:60])
def test_console_examples_run(commands, tmp_path):
    """The commands of one block, in order in one directory (a diff may read what a prune wrote)."""
    for command in commands:
        before = set(tmp_path.rglob("*"))
        proc = _run(command, tmp_path)
        assert proc.stdout.strip() or set(tmp_path.rglob("*")) - before, command


# ---------------------------------------------------------------- JSON: documented keys == printed keys
def _json_docs():
    """(subsection, [(command, {key: optional})]): each console command and the key table after it."""
    for heading, body in SECTIONS:
        if not JSON_HEADING.match(heading):
            continue
        pairs, command = [], None
        for part in re.split(r"(```console\n.*?```)", body, flags=re.S):
            if part.startswith("```console"):
                commands = _commands(part[len("```console\n"):-3])
                assert len(commands) == 1, f"{heading}: one command per console block"
                command = commands[0]
                continue
            rows = re.findall(r"^\| `([^`]+)` \| (.*) \|$", part, re.M)
            if rows:
                assert command, f"{heading}: a key table without its command"
                pairs.append((command, {key: meaning.startswith(("(when", "(only")) for key, meaning in rows}))
                command = None
        yield heading, pairs


JSON_DOCS = list(_json_docs())


def _command_name(command: str) -> str:
    """``graphsurgeon collections show MODEL ...`` -> ``collections show``; ``collections MODEL`` lists."""
    words = []
    for word in command.split()[1:]:
        if "/" in word or word.startswith("-") or "." in word:
            break
        words.append(word)
    return "collections ls" if words == ["collections"] else " ".join(words)


def test_every_command_with_json_has_its_section(tmp_path):
    """Each command (and collections subcommand) with a --json option is documented with a key table."""
    import click

    from graphsurgeon.cli.main import cli

    ctx = click.Context(cli)
    names = []
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        subs = [(f"{name} {s}", command.commands[s]) for s in command.commands] \
            if isinstance(command, click.Group) else [(name, command)]
        names += [n for n, c in subs if any("--json" in p.opts for p in c.params)]
    documented = {_command_name(command) for _, pairs in JSON_DOCS for command, _ in pairs}
    # rm and rename print what add prints (the README says so): checked here instead of two more tables.
    assert "`collections rm` and `collections rename` print what `add` prints." in README
    meta = "fixtures/models/mnist_bn_elu_tf1"
    add = json.loads(_run(f"graphsurgeon collections add {meta} c X:0 -o build/a.meta --json", tmp_path).stdout)
    rm = json.loads(_run(f"graphsurgeon collections rm {meta} my_important_ops X:0 -o build/b.meta --json",
                         tmp_path).stdout)
    rename = json.loads(_run(f"graphsurgeon collections rename {meta} train_op t -o build/c.meta --json",
                             tmp_path).stdout)
    assert set(add) == set(rm) == set(rename)
    documented |= {"collections rm", "collections rename"}
    assert sorted(set(names) - documented) == []
    assert "render" not in names  # it writes a picture; the README says so


@pytest.mark.parametrize("heading,pairs", JSON_DOCS, ids=[h[5:-8] for h, _ in JSON_DOCS])
def test_documented_json_keys_are_the_printed_ones(heading, pairs, tmp_path):
    assert pairs, f"{heading}: no command with a key table"
    _write_script(tmp_path)
    for command, keys in pairs:
        assert " --json" in command, command
        data = json.loads(_run(command, tmp_path).stdout)
        required = {k for k, optional in keys.items() if not optional}
        assert required <= set(data), (command, sorted(required - set(data)))
        assert set(data) <= set(keys), (command, "undocumented", sorted(set(data) - set(keys)))


# ---------------------------------------------------------------- the chapter's workflow
# One short epoch instead of the documented ones; each substitution must apply.
QUICK = [
    ("python -m fixtures.train --digits 0-4", "python -m fixtures.train --digits 0-4 --epochs 1 --train-limit 5000 "
                                              "--lr 0.5 --quiet"),
    ("n_epochs, batch_size = 20, 50", "n_epochs, batch_size = 1, 50"),
]


def _block_env(mnist_dir) -> dict:
    return {**os.environ, "GS_MNIST_DIR": str(mnist_dir), "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}


def _run_python_block(code: str, env: dict, cwd=ROOT) -> str:
    """Run a README Python block as a user would paste it; its standard output (it must exit 0)."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_the_chapters_workflow_runs(tmp_path, mnist_dir):
    body = dict(SECTIONS)[WORKFLOW]
    blocks = _blocks(body)
    assert [lang for lang, _ in blocks] == ["sh", "sh", "python", "sh"]
    text = "\n".join(f"```{lang}\n{code}```" for lang, code in blocks)
    for old, new in QUICK:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    env = _block_env(mnist_dir)
    outputs = {}
    for lang, code in _blocks(text):
        code = code.replace('"build/', f'"{tmp_path}/')
        if lang == "python":
            # Step 3 runs from any directory (issue 22.10): elsewhere, without the repository on the path.
            elsewhere = tmp_path / "elsewhere"
            elsewhere.mkdir()
            outputs["python"] = _run_python_block(code, {k: v for k, v in env.items() if k != "PYTHONPATH"},
                                                  cwd=elsewhere)
            continue
        for line in code.splitlines():
            line = line.split("  #")[0].strip()
            if not line:
                continue
            argv = _argv(line, tmp_path)
            if argv[1] == "render" and shutil.which("dot") is None:
                argv += ["--format", "dot"]
            proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
            allowed = (0, 1) if argv[1] == "diff" else (0,)
            assert proc.returncode in allowed, f"{line}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
            outputs[line.split()[1]] = proc.stdout
    accuracy = float(re.search(r"5-9 test accuracy: ([\d.]+)", outputs["python"]).group(1))
    print(f"\n5-9 test accuracy after one epoch on a one-epoch base: {accuracy:.3f}")
    assert 0.2 < accuracy <= 1.0   # one epoch on a one-epoch base: better than chance
    assert (tmp_path / "my5to9_trained.ckpt.index").is_file()
    assert "new_outputs/MatMul" in outputs["ls"] and "removed" in outputs["diff"]
    assert (tmp_path / "my5to9.svg").is_file() or shutil.which("dot") is None
    assert {p.name for p in (tmp_path / "tb").iterdir()} == {"base0to4", "my5to9"}


# ---------------------------------------------------------------- deploying a model
def _saved_model_cli() -> list[str]:
    exe = Path(sys.executable).parent / "saved_model_cli"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]


def test_deploying_a_model_runs(tmp_path, mnist_dir):
    """export -> saved_model_cli -> signature and name edits -> TensorFlow serving the test images."""
    body = dict(SECTIONS)[DEPLOY]
    blocks = _blocks(body)
    assert [lang for lang, _ in blocks] == ["sh", "python", "text"]
    env = _block_env(mnist_dir)
    outputs = {}
    for lang, code in blocks:
        if lang == "text":
            continue  # Docker and curl: TensorFlow Serving is not installed here
        if lang == "python":
            outputs["python"] = _run_python_block(code.replace('"build/', f'"{tmp_path}/'), env)
            continue
        for line in code.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            argv = _argv(line, tmp_path)
            if argv[0] == "saved_model_cli":
                argv = _saved_model_cli() + argv[1:]
            proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"{line}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
            assert "Traceback" not in proc.stderr
            outputs.setdefault(" ".join(line.split()[:2]), []).append(proc.stdout)
    cli_text = outputs["saved_model_cli show"][0]
    assert "signature_def['serving_default']:" in cli_text and "inputs['images'] tensor_info:" in cli_text
    assert "Method name is: tensorflow/serving/predict" in cli_text
    listing = outputs["graphsurgeon signatures"][-1]
    assert "scores  (tensorflow/serving/predict)" in listing and "out probabilities: scores:0" in listing
    shapes = [row.split()[-2:] for row in outputs["graphsurgeon ls"][0].strip().splitlines()]
    assert [" ".join(s) for s in shapes] == ["[1, 784]", "[1, 300]", "[1, 300]", "[1, 10]", "[1, 10]"]
    assert "test accuracy 0.9800" in outputs["python"]


# ---------------------------------------------------------------- writing your own surgery
def test_writing_your_own_surgery_runs_and_tensorflow_agrees(tmp_path):
    """Every example of the section runs (Python blocks in one namespace, then the commands), and
    TensorFlow loads and runs each result: the numbers are the original's, transformed as the example says."""
    import numpy as np
    from _support import close, tf_run

    body = dict(SECTIONS)
    blocks = [(lang, code) for h in _surgery_headings() for lang, code in _blocks(body[h])]
    assert [lang for lang, _ in blocks].count("python") == 9
    _write_script(tmp_path)
    # The python blocks in one interpreter, then the commands: neither reads what the other writes.
    _run_python_blocks([code.replace('"build/', f'"{tmp_path}/') for lang, code in blocks if lang == "python"],
                       tmp_path)
    for lang, code in blocks:
        if lang == "console":
            for command in _commands(code):
                _run(command, tmp_path)

    x = np.random.default_rng(0).standard_normal((4, 784)).astype(np.float32)
    t = tmp_path
    tf1 = ROOT / "fixtures" / "models" / "mnist_bn_elu_tf1"
    frozen = ROOT / "fixtures" / "models" / "mnist_bn_elu_frozen.pb"
    tf2 = ROOT / "fixtures" / "models" / "mnist_bn_elu_savedmodel_tf2"
    both = ["logits:0", "probabilities:0"]
    jobs = {
        "original": {"kind": "meta", "model": tf1 / "model.ckpt.meta", "checkpoint": str(tf1 / "model.ckpt"),
                     "feeds": {"X:0": x}, "fetches": both + ["Elu:0"]},
        "tiny": {"kind": "graphdef", "model": t / "tiny.pb", "feeds": {"x:0": np.eye(2, 4, dtype=np.float32)},
                 "fetches": ["head/probs:0"]},
        "cooled": {"kind": "graphdef", "model": t / "cooled.pb", "feeds": {"X:0": x},
                   "fetches": both + ["logits_cooled:0"]},
        "affine": {"kind": "graphdef", "model": t / "affine.pb", "feeds": {"X:0": x}, "fetches": both},
        "batch1": {"kind": "graphdef", "model": t / "batch1.pb", "feeds": {"X:0": x[:1]}, "fetches": both},
        "folded": {"kind": "graphdef", "model": t / "folded.pb", "feeds": {"X:0": x}, "fetches": both},
        "tf_frozen": {"kind": "graphdef", "model": frozen, "feeds": {"X:0": x}, "fetches": both},
        "frozen_folded": {"kind": "graphdef", "model": t / "frozen_folded.pb", "feeds": {"X:0": x}, "fetches": both},
        "cooled_cli": {"kind": "graphdef", "model": t / "cooled_cli.pb", "feeds": {"X:0": x},
                       "fetches": both + ["logits_cooled:0"]},
        "tf2": {"kind": "function", "model": tf2, "feeds": {"X": x}, "fetches": ["logits", "probabilities"]},
        "cooled_tf2": {"kind": "function", "model": t / "cooled_tf2", "feeds": {"X": x},
                       "fetches": ["logits", "probabilities"]},
    }
    original = tf_run([jobs["original"]], t / "tf0")[0]["values"]
    jobs["upper"] = {"kind": "graphdef", "model": t / "upper_layers.pb", "feeds": {"hidden1_out:0": original[2]},
                     "fetches": ["logits:0"]}
    names = [k for k in jobs if k != "original"]
    results = dict(zip(names, tf_run([jobs[k] for k in names], t / "tf")))
    logits, probabilities = original[0], original[1]

    def softmax(z):
        z = z.astype(np.float64)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def same(a, b):  # another graph computing the same: float32 rounding, relative to the output's scale
        return float(np.max(np.abs(a - b))) <= 1e-6 * float(np.max(np.abs(b)))

    def near(a, b):  # probabilities: as close as TensorFlow's float32 softmax comes to float64's
        return float(np.max(np.abs(np.asarray(a, np.float64) - b))) <= 1e-5

    assert close(results["tiny"]["values"][0], np.full((2, 2), 0.5))
    assert np.array_equal(results["cooled"]["values"][2], results["cooled"]["values"][0] / 2)  # exact
    assert same(results["cooled"]["values"][0], logits)
    assert near(results["cooled"]["values"][1], softmax(logits / 2))
    assert same(results["affine"]["values"][0], logits)
    assert near(results["affine"]["values"][1], probabilities)
    assert near(results["batch1"]["values"][1], probabilities[:1])
    assert results["batch1"]["shapes"] == [[1, 10], [1, 10]]  # TensorFlow infers the new shape too
    assert near(results["folded"]["values"][1], probabilities)
    assert close(results["frozen_folded"]["values"][1], results["tf_frozen"]["values"][1])
    assert np.array_equal(results["cooled_cli"]["values"][2], results["cooled_cli"]["values"][0] / 2)
    assert near(results["cooled_cli"]["values"][1], softmax(results["tf_frozen"]["values"][0] / 2))
    assert same(results["upper"]["values"][0], logits)
    tf2_logits = results["tf2"]["values"][0]
    assert same(results["cooled_tf2"]["values"][0], tf2_logits / 2)
    assert near(results["cooled_tf2"]["values"][1], softmax(tf2_logits / 2))
