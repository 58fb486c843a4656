"""The size of core/ (issue 14: no module over 600 lines, core/ under 5,000), as
``tools/core_size.py`` measures it: the gate on modules, and the classification of lines it
rests on (docs/architecture.md#core-size)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def size() -> ModuleType:
    spec = importlib.util.spec_from_file_location("core_size", ROOT / "tools" / "core_size.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SAMPLE = '''"""Module docstring,
on two lines."""

import os  # a trailing comment is code

# a comment line


def f(x: int) -> int:
    """One line."""
    text = """a string
    assigned is code"""
    return x + len(text)


LIMIT = 3
"""The docstring under a constant."""
'''


def test_each_line_is_counted_once_in_its_class(size: ModuleType) -> None:
    counts = size.measure(SAMPLE)
    assert counts == {"physical": 17, "blank": 6, "comment": 1, "docstring": 4, "code": 6}
    assert counts["physical"] == sum(v for k, v in counts.items() if k != "physical")


def test_no_core_module_is_over_the_limit(size: ModuleType) -> None:
    rows = size.measure_tree(ROOT / "core")
    assert "machine.py" in rows and "handlers/base.py" in rows
    assert size.over_limit(rows) == []


def test_a_module_over_the_limit_fails_the_measure(size: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "small.py").write_text("x = 1\n", encoding="utf-8")
    (tmp_path / "big.py").write_text("x = 1\n" * (size.MAX_MODULE_LINES + 1), encoding="utf-8")
    rows = size.measure_tree(tmp_path)
    assert rows["total"]["code"] == size.MAX_MODULE_LINES + 2
    assert size.over_limit(rows) == [f"big.py: 601 physical lines, over {size.MAX_MODULE_LINES}"]
    assert size.main([str(tmp_path)]) == 1
    (tmp_path / "big.py").write_text("x = 1\n" * size.MAX_MODULE_LINES, encoding="utf-8")
    assert size.main([str(tmp_path)]) == 0


def test_the_total_fails_only_when_asked(size: ModuleType, tmp_path: Path) -> None:
    for i in range(size.MAX_CORE_LINES // size.MAX_MODULE_LINES + 1):
        (tmp_path / f"m{i}.py").write_text("x = 1\n" * size.MAX_MODULE_LINES, encoding="utf-8")
    rows = size.measure_tree(tmp_path)
    assert rows["total"]["physical"] > size.MAX_CORE_LINES
    assert size.over_limit(rows) == []
    assert size.over_limit(rows, total=True) == [
        f"core/: {rows['total']['physical']} physical lines, over {size.MAX_CORE_LINES}"
    ]
