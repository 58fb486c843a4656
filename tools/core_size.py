#!/usr/bin/env python3
"""The size of core/: physical, blank, comment, docstring and code lines per module, and the total.

A line is counted once, in the first class that fits: blank (only white space), docstring (a string
standing alone as a statement), comment (only a comment), else code. Fails (exit 1)
when a module is over MAX_MODULE_LINES physical lines or core/ is over MAX_CORE_LINES (issue 14's
"core/ under 5,000 lines with no module over 600"; docs/architecture.md#core-size).

usage: tools/core_size.py [--check-only] [CORE_DIR]   (default: core/ next to this folder)
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


def _docstring_lines(tree: ast.Module) -> set[int]:
    """The line numbers covered by docstrings: a string standing alone as a statement (the
    docstring of a module, class or function, or the one under a field or constant)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        is_string = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if is_string and isinstance(node.value.value, str):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def measure(source: str) -> dict[str, int]:
    """The counts of one module's text (FIELDS)."""
    text_lines = source.splitlines()
    docstrings = _docstring_lines(ast.parse(source))
    code: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT):
            continue
        if token.type in (tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        code.update(range(token.start[0], token.end[0] + 1))
    counts = dict.fromkeys(FIELDS, 0)
    for number, line in enumerate(text_lines, start=1):
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


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--check-only"]
    core = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "core"
    rows = {
        path.relative_to(core).as_posix(): measure(path.read_text(encoding="utf-8"))
        for path in sorted(core.rglob("*.py"))
    }
    total = {field: sum(row[field] for row in rows.values()) for field in FIELDS}
    over = [name for name, row in rows.items() if row["physical"] > MAX_MODULE_LINES]
    if "--check-only" not in argv:
        width = max(len(name) for name in rows) + 2
        print("module".ljust(width) + "".join(f"{field:>10}" for field in FIELDS))
        for name, row in [*rows.items(), ("total", total)]:
            print(name.ljust(width) + "".join(f"{row[field]:>10}" for field in FIELDS))
    failures = [f"{name}: over {MAX_MODULE_LINES} physical lines" for name in over]
    if total["physical"] > MAX_CORE_LINES:
        failures.append(f"core/: {total['physical']} physical lines, over {MAX_CORE_LINES}")
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
