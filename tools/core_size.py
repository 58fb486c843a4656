#!/usr/bin/env python3
"""The size of core/: physical, blank, comment, docstring and code lines per module, and in total.

Each line is counted once, in the first class that fits: blank (white space only), docstring (part
of a string standing alone as a statement: the docstring of a module, class or function, or the
one under a field or constant), comment (a comment only), else code. Exit 1 when a module is over
MAX_MODULE_LINES physical lines (the gate); the total is shown against MAX_CORE_LINES, issue 14's
target, and fails only with --total (docs/architecture.md#core-size).

usage: tools/core_size.py [--total] [CORE_DIR]   (default: the core/ beside this folder)
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

MAX_MODULE_LINES = 600
MAX_CORE_LINES = 5000
FIELDS = ("physical", "blank", "comment", "docstring", "code")
_NOT_CODE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}


def _docstring_lines(tree: ast.Module) -> set[int]:
    """The numbers of the lines that belong to a string standing alone as a statement."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        is_string = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if is_string and isinstance(node.value.value, str):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def measure(source: str) -> dict[str, int]:
    """The counts (:data:`FIELDS`) of one module's text."""
    docstrings = _docstring_lines(ast.parse(source))
    code: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in _NOT_CODE and token.type != tokenize.ENDMARKER:
            code.update(range(token.start[0], token.end[0] + 1))
    counts = dict.fromkeys(FIELDS, 0)
    for number, line in enumerate(source.splitlines(), start=1):
        counts["physical"] += 1
        if not line.strip():
            counts["blank"] += 1
        elif number in docstrings:
            counts["docstring"] += 1
        elif number in code:
            counts["code"] += 1
        else:
            counts["comment"] += 1
    return counts


def measure_tree(core: Path) -> dict[str, dict[str, int]]:
    """The counts of every module under ``core`` by its path there, and ``"total"``."""
    rows = {
        path.relative_to(core).as_posix(): measure(path.read_text(encoding="utf-8"))
        for path in sorted(core.rglob("*.py"))
    }
    rows["total"] = {field: sum(row[field] for row in rows.values()) for field in FIELDS}
    return rows


def over_limit(rows: dict[str, dict[str, int]], *, total: bool = False) -> list[str]:
    """One line per module over :data:`MAX_MODULE_LINES` (and for the total with ``total``)."""
    failures = [
        f"{name}: {row['physical']} physical lines, over {MAX_MODULE_LINES}"
        for name, row in rows.items()
        if name != "total" and row["physical"] > MAX_MODULE_LINES
    ]
    if total and rows["total"]["physical"] > MAX_CORE_LINES:
        failures.append(f"core/: {rows['total']['physical']} physical lines, over {MAX_CORE_LINES}")
    return failures


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--total"]
    core = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "core"
    rows = measure_tree(core)
    width = max(len(name) for name in rows) + 2
    print("module".ljust(width) + "".join(f"{field:>10}" for field in FIELDS))
    for name, row in rows.items():
        print(name.ljust(width) + "".join(f"{row[field]:>10}" for field in FIELDS))
    print(f"target: core/ under {MAX_CORE_LINES} physical lines, no module over {MAX_MODULE_LINES}")
    failures = over_limit(rows, total="--total" in argv)
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
