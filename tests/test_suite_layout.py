"""The suite's own layout: test modules share helpers through ``tests/_support.py``, never ``conftest``.

pytest loads ``conftest.py`` itself; a test module importing it as well
(``from conftest import``, ``from tests.conftest import``) loaded it a second
time under another name, running its set-up twice.
"""
from __future__ import annotations

import ast

from _support import ROOT


def test_no_test_module_imports_conftest():
    offenders = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            if any(name == "conftest" or name.endswith(".conftest") for name in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == [], f"import from _support instead: {offenders}"
