"""The default picture of every fixture and corpus model, as SVG and PNG, to look at by eye.

``render MODEL -o NAME.svg`` with no option (what a user sees first), then
``rsvg-convert`` (Debian's ``librsvg2-bin``) to PNG, for every model the
test suite knows (``fixtures/models`` and ``$GS_CORPUS_DIR``) and the
MobileNet-style frozen graph of :mod:`bench.mobilenet_style`; also each of
them with ``--weights-as-nodes`` when that changes the picture. Writes
``build/gallery/`` (not committed) with an ``index.html`` listing them
with the notes ``render`` printed.

    GS_CORPUS_DIR=../shared/corpus python -m bench.gallery [--out build/gallery] [--no-png]
"""
from __future__ import annotations

import argparse
import html
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.common import ROOT, graphsurgeon_exe
from bench.mobilenet_style import cached_mobilenet

FIXTURES = ROOT / "fixtures" / "models"


def models() -> list[tuple[str, Path]]:
    """(label, path) of every fixture and corpus model, as tests/conftest.py lists them, and the MobileNet."""
    out = []
    manifest = FIXTURES / "manifest.json"
    if manifest.is_file():
        for key, entry in json.loads(manifest.read_text())["models"].items():
            path = FIXTURES / (entry["checkpoint"] + ".meta") if entry["format"] == "checkpoint" else FIXTURES / key
            out.append((f"fixture {key}", path))
    corpus = os.environ.get("GS_CORPUS_DIR")
    if corpus:
        for folder in sorted(p for p in Path(corpus).iterdir() if p.is_dir()):
            if (folder / "saved_model.pb").is_file() or (folder / "saved_model.pbtxt").is_file():
                out.append((f"corpus {folder.name}", folder))
                continue
            for path in sorted(folder.glob("*.meta")) + sorted(p for p in folder.iterdir()
                                                                 if p.suffix in (".pb", ".pbtxt")):
                out.append((f"corpus {folder.name}/{path.name}", path))
    out.append(("MobileNet v1, TF-slim names, frozen (bench/mobilenet_style.py)", cached_mobilenet()))
    return out


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in label.split(" (")[0])[:80]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "gallery")
    parser.add_argument("--no-png", action="store_true", help="SVG only")
    args = parser.parse_args()
    png = not args.no_png and shutil.which("rsvg-convert") is not None
    if not args.no_png and not png:
        print("note: rsvg-convert is missing (apt-get install librsvg2-bin): SVG only", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    exe = graphsurgeon_exe()
    rows = []
    for label, path in models():
        for extra in ([], ["--weights-as-nodes"]):
            name = _slug(label) + ("-weights-as-nodes" if extra else "")
            svg = args.out / f"{name}.svg"
            run = subprocess.run([exe, "render", str(path), "-o", str(svg), *extra], capture_output=True, text=True,
                                 env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
            notes = [line for line in run.stderr.splitlines() if line.startswith(("note:", "error:"))]
            if run.returncode != 0:
                rows.append((label + " " + " ".join(extra), None, notes))
                continue
            if extra and svg.read_bytes() == (args.out / f"{_slug(label)}.svg").read_bytes():
                svg.unlink()  # nothing to draw apart
                continue
            shown = svg
            if png:
                shown = svg.with_suffix(".png")
                subprocess.run(["rsvg-convert", str(svg), "-o", str(shown)], check=True)
            rows.append((label + (" --weights-as-nodes" if extra else ""), shown.name, notes))
            print(f"{shown}  {label} {' '.join(extra)}")
    page = ["<!doctype html><meta charset=utf-8><title>graphsurgeon render: default pictures</title>",
            "<h1>graphsurgeon render: the default picture of each model</h1>"]
    for label, file, notes in rows:
        page.append(f"<h2>{html.escape(label)}</h2>")
        page.extend(f"<p><code>{html.escape(n)}</code></p>" for n in notes)
        if file:
            page.append(f'<p><a href="{file}"><img src="{file}" style="max-width:100%"></a></p>')
    (args.out / "index.html").write_text("\n".join(page) + "\n")
    print(f"wrote {args.out / 'index.html'}")


if __name__ == "__main__":
    main()
