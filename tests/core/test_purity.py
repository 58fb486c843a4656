"""The dosing path carries no SOUP and no hidden inputs: core/ is standard library only, integer
only, and free of I/O, clocks and randomness (REQ-CORE-005, REQ-UNIT-001)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import itdose.core

CORE = Path(itdose.core.__file__).parent
FILES = sorted(CORE.rglob("*.py"))

BANNED_MODULES = {
    "os", "io", "pathlib", "shutil", "socket", "subprocess", "sqlite3", "random", "secrets",
    "time", "datetime", "threading", "multiprocessing", "asyncio", "urllib", "http", "logging",
    "tempfile", "glob", "zoneinfo", "ctypes", "importlib", "pickle", "marshal", "signal",
}  # fmt: skip
BANNED_CALLS = {"open", "print", "input", "eval", "exec", "compile", "__import__", "float"}


def test_core_has_modules() -> None:
    assert len(FILES) >= 10
    assert {"machine.py", "lifecycle.py", "units.py"} <= {f.name for f in FILES}


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            names.append(node.module or "")
    return names


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_imports_only_the_standard_library(path: Path) -> None:
    for name in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        top = name.split(".")[0]
        if name.startswith("itdose."):
            assert name.startswith("itdose.core"), f"{path.name} imports {name}"
            continue
        assert top in sys.stdlib_module_names, f"{path.name} imports non-stdlib {name}"
        assert top not in BANNED_MODULES, f"{path.name} imports {name} (I/O, clock or randomness)"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_has_no_floats_and_no_io_calls(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            assert not isinstance(node.value, float | complex), (
                f"{path.name}:{node.lineno}: float literal {node.value!r}"
            )
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in BANNED_CALLS, f"{path.name}:{node.lineno}: {node.func.id}()"
        if isinstance(node, ast.BinOp):
            assert not isinstance(node.op, ast.Div), f"{path.name}:{node.lineno}: true division"


def test_the_scanner_catches_what_it_looks_for(tmp_path: Path) -> None:
    bad = ast.parse("import random\nx = 0.5\ny = float('1')\nz = 1 / 3\n")
    assert "random" in _imports(bad)
    kinds = {type(n).__name__ for n in ast.walk(bad)}
    assert {"Constant", "Call", "BinOp"} <= kinds
