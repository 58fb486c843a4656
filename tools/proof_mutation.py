"""Proof-only mutation testing: do the Z3 obligations alone notice a broken core?

    python tools/proof_mutation.py [--modules arith governor] [--jobs 1] [--time-cap 1800]
                                   [--timeout 180] [--json out.json] [--list]

(``tools/mutation.sh --proofs-only ...`` runs this.) Each mutant changes one place of one
module of ``core/`` (an operator, a comparison, a constant, a boolean connective, an ``Ops``
method or a ``min``/``max``/``all``/``any`` call swapped, a condition negated) and runs the
obligations that evaluate that module, in a fresh Python process in which ``itdose.core.X`` is
the mutated source (an import hook; nothing is written anywhere). A mutant is

- **killed by a claim** when a claim of an obligation on the live code fails with a
  counterexample (or a witness claim finds none): the proofs noticed the defect;
- **killed by a crash** when building or checking the claims raised, the process died or it ran
  out of time: the defect was noticed only because the proof could not be built;
- **other failure** when an obligation failed otherwise (a vacuous or undecided claim, a seeded
  broken variant no longer caught);
- **survived** when every obligation passed.

The mutations are deterministic: the same source gives the same mutants in the same order. The
text of each mutant differs from the source only in the mutated span, so line numbers and every
other token stay as they are. Docstrings, other strings, ``__all__`` and annotations are not
mutated (the proofs do not read message texts; the tests do).

Which obligations run per module is :data:`OBLIGATIONS` (cheapest first; a mutant stops at the
first claim that fails): the obligations that evaluate the module's code. Running fewer
obligations can only count fewer kills.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

OBLIGATIONS: dict[str, tuple[str, ...]] = {
    "arith": ("ARITH-Z3", "CONVERT-Z3", "GOV-Z3", "BOLUS-Z3", "DECIDE-Z3"),
    "governor": ("GOV-Z3", "BOLUS-Z3", "LIFE-Z3-DELIVERY", "DECIDE-Z3", "PATH-Z3-STEP"),
    "ledger": (
        "CONVERT-Z3",
        "LEDGER-Z3-INPUTS",
        "LEDGER-Z3-PACE",
        "BOLUS-Z3",
        "DECIDE-Z3",
        "LEDGER*",
        "PATH-Z3-STEP",
    ),
    "path": ("CONVERT-Z3", "PATH-Z3-INPUT", "PATH-Z3", "PATH-Z3-PLAN", "PATH-Z3-STEP"),
    "flight": ("PATH-Z3-CAP", "PATH-Z3-PLAN", "PATH-Z3-STEP"),
}
"""Obligations per module, cheapest first; ``X*`` is every obligation whose id starts with X."""

_BINOP_SWAPS: dict[type[ast.operator], tuple[type[ast.operator], ...]] = {
    ast.Add: (ast.Sub,),
    ast.Sub: (ast.Add,),
    ast.Mult: (ast.Add, ast.FloorDiv),
    ast.FloorDiv: (ast.Mult,),
    ast.Mod: (ast.FloorDiv,),
}
_CMP_SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_OP_TEXT: dict[type[ast.AST], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.And: "and",
    ast.Or: "or",
}
_NAME_SWAPS = {
    # Ops methods (the governor's arithmetic) and the builtins of the int-level code
    "add": "sub",
    "sub": "add",
    "min_": "max_",
    "max_": "min_",
    "le": "lt",
    "lt": "le",
    "ge": "gt",
    "gt": "ge",
    "and_": "or_",
    "or_": "and_",
    "floor_div": "ceil_div",
    "ceil_div": "floor_div",
    "min": "max",
    "max": "min",
    "all": "any",
    "any": "all",
}


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One change: bytes ``start:end`` of the module source replaced by ``text``."""

    module: str
    index: int
    line: int
    start: int
    end: int
    text: str
    description: str

    def apply(self, source: bytes) -> bytes:
        return source[: self.start] + self.text.encode() + source[self.end :]


class _Positions:
    """Byte offsets of (line, column) positions (ast columns are UTF-8 byte offsets)."""

    def __init__(self, source: bytes) -> None:
        self.starts = [0]
        for i, byte in enumerate(source):
            if byte == ord("\n"):
                self.starts.append(i + 1)

    def offset(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col

    def start(self, node: ast.AST) -> int:
        return self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> int:
        return self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]


def _skipped(tree: ast.Module) -> set[int]:
    """Ids of nodes never mutated: docstrings, ``__all__``, annotations."""
    skip: set[int] = set()

    def all_nodes(node: ast.AST) -> None:
        for sub in ast.walk(node):
            skip.add(id(sub))

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            all_nodes(body[0])
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            all_nodes(node)  # attribute docstrings
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            all_nodes(node)
        if isinstance(node, ast.AnnAssign):
            all_nodes(node.annotation)
        if isinstance(node, ast.arg) and node.annotation is not None:
            all_nodes(node.annotation)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            all_nodes(node.returns)
    return skip


def _gap(source: bytes, start: int, end: int, token: str) -> tuple[int, int] | None:
    """The byte span of the operator ``token`` between two operands (outside parentheses of
    either: the gap holds only the operator, spaces, newlines and closing/opening brackets)."""
    gap = source[start:end]
    at = gap.find(token.encode())
    if at < 0:
        return None
    return start + at, start + at + len(token.encode())


def mutants(module: str, source: bytes) -> list[Mutant]:
    """Every mutant of ``source`` (the text of ``core/<module>.py``), in source order."""
    tree = ast.parse(source)
    skip = _skipped(tree)
    pos = _Positions(source)
    found: list[tuple[int, int, int, str, str]] = []  # (start, end, line, text, description)

    def add(start: int, end: int, line: int, text: str, what: str) -> None:
        found.append((start, end, line, text, what))

    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
            token = _OP_TEXT[type(node.op)]
            span = _gap(source, pos.end(node.left), pos.start(node.right), token)
            if span is not None:
                for new in _BINOP_SWAPS[type(node.op)]:
                    add(*span, line, _OP_TEXT[new], f"{token} -> {_OP_TEXT[new]}")
        elif isinstance(node, ast.Compare):
            left = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                token = _OP_TEXT[type(op)]
                new_op = _CMP_SWAPS.get(type(op))
                span = _gap(source, pos.end(left), pos.start(right), token.split()[0])
                if new_op is not None and span is not None:
                    if isinstance(op, ast.IsNot | ast.NotIn):  # the whole two-word token
                        span = _gap(source, pos.end(left), pos.start(right), token)
                    if span is not None:
                        new = _OP_TEXT[new_op]
                        add(*span, line, new, f"{token} -> {new}")
                left = right
        elif isinstance(node, ast.BoolOp):
            token = _OP_TEXT[type(node.op)]
            other = "or" if token == "and" else "and"
            span = _gap(source, pos.end(node.values[0]), pos.start(node.values[1]), token)
            if span is not None:
                add(*span, line, other, f"{token} -> {other}")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Not):
            start = pos.start(node)
            operand = start + (1 if isinstance(node.op, ast.USub) else 3)  # the token alone
            add(
                start,
                operand,
                line,
                "",
                f"{'-' if isinstance(node.op, ast.USub) else 'not'} dropped",
            )
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            start, end = pos.start(node), pos.end(node)
            for delta in (1, -1):
                add(
                    start,
                    end,
                    line,
                    str(node.value + delta),
                    f"{node.value} -> {node.value + delta}",
                )
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            add(
                pos.start(node),
                pos.end(node),
                line,
                str(not node.value),
                f"{node.value} -> {not node.value}",
            )
        elif isinstance(node, ast.Attribute) and node.attr in _NAME_SWAPS:
            end = pos.end(node)
            new = _NAME_SWAPS[node.attr]
            add(end - len(node.attr), end, line, new, f".{node.attr} -> .{new}")
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else ""
            if name in _NAME_SWAPS:
                new = _NAME_SWAPS[name]
                add(pos.start(node.func), pos.end(node.func), line, new, f"{name}() -> {new}()")
            args = node.args
            if len(args) >= 2 and not any(isinstance(a, ast.Starred) for a in args):
                # the last positional argument dropped (with the comma before it)
                add(pos.end(args[-2]), pos.end(args[-1]), line, "", "last argument dropped")
        elif isinstance(node, ast.If | ast.IfExp | ast.While):
            test = node.test
            start, end = pos.start(test), pos.end(test)
            add(start, end, line, f"not ({source[start:end].decode()})", "condition negated")
    found.sort(key=lambda f: (f[0], f[1], f[3]))
    out = []
    for index, (start, end, line, text, what) in enumerate(found):
        out.append(Mutant(module, index, line, start, end, text, what))
    return out


# --- running a mutant ---------------------------------------------------------------------------

_CHILD = r"""
import importlib.abc, importlib.util, json, linecache, sys
job = json.loads(sys.stdin.read())
name, origin, source = job["module"], job["origin"], job["source"]

class _Loader(importlib.abc.Loader):
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        exec(compile(source, origin, "exec"), module.__dict__)

class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != name:
            return None
        return importlib.util.spec_from_file_location(fullname, origin, loader=_Loader())

sys.meta_path.insert(0, _Finder())
# inspect.getsource (the seeded variants) must read the mutated text: no mtime, never refreshed
linecache.cache[origin] = (len(source), None, source.splitlines(True), origin)
out = []
try:
    from itdose.proofs.obligations import all_obligations, run_obligation
    wanted = job["obligations"]
    chosen = [o for o in all_obligations()
              if o.id in wanted or any(w.endswith("*") and o.id.startswith(w[:-1]) for w in wanted)]
    chosen.sort(key=lambda o: min([i for i, w in enumerate(wanted)
                                   if w == o.id or (w.endswith("*") and o.id.startswith(w[:-1]))]))
except BaseException as exc:
    print(json.dumps({"import_error": f"{type(exc).__name__}: {exc}"}))
    raise SystemExit(0)
from itdose.proofs.obligations import _broken_result, check_claims
for o in chosen:
    # the claims first; the seeded variants only when every claim held (as run_obligation does,
    # without running them for a mutant a claim has already killed)
    try:
        claims = check_claims(o.build())
    except Exception as exc:
        detail = f"could not build the claims: {type(exc).__name__}: {exc}"[:300]
        out.append({"id": o.id, "status": "fail", "failed": [], "detail": detail, "crash": detail})
        continue
    except BaseException as exc:
        out.append({"id": o.id, "crash": f"{type(exc).__name__}: {exc}"[:300]})
        continue
    failed = [c.name for c in claims
              if c.precondition == "sat" and c.status in ("counterexample", "no witness")]
    if failed:
        out.append({"id": o.id, "status": "fail", "failed": failed[:1], "detail": "", "crash": ""})
        break
    try:
        broken = [_broken_result(b) for b in o.broken]
    except BaseException as exc:
        out.append({"id": o.id, "crash": f"{type(exc).__name__}: {exc}"[:300]})
        continue
    problems = [f"{c.name}: {c.status}" for c in claims if not c.ok]
    problems += [f"broken variant {b.id} {b.status}" for b in broken if b.status != "caught"]
    out.append({"id": o.id, "status": "fail" if problems else "pass", "failed": [],
                "detail": "; ".join(problems)[:300], "crash": ""})
print(json.dumps({"results": out}))
"""


@dataclasses.dataclass(frozen=True)
class Outcome:
    mutant: Mutant
    verdict: str
    """``claim``, ``crash``, ``other`` or ``survived``."""
    detail: str
    seconds: float


def run_mutant(
    mutant: Mutant, source: bytes, obligations: Sequence[str], timeout: float
) -> Outcome:
    """Run ``obligations`` on the core with ``mutant`` applied, in a fresh process."""
    origin = str(ROOT / "core" / f"{mutant.module}.py")
    job = {
        "module": f"itdose.core.{mutant.module}",
        "origin": origin,
        "source": mutant.apply(source).decode(),
        "obligations": list(obligations),
    }
    start = time.perf_counter()
    env = {**os.environ, "ITDOSE_VERIFY_JOBS": "1"}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome(
            mutant, "crash", f"timeout after {timeout:.0f} s", time.perf_counter() - start
        )
    seconds = time.perf_counter() - start
    lines = proc.stdout.strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        report = {}
    if "import_error" in report:
        return Outcome(mutant, "crash", "import: " + report["import_error"], seconds)
    if "results" not in report:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return Outcome(mutant, "crash", f"exit {proc.returncode}: {tail}"[:300], seconds)
    results = report["results"]
    for r in results:
        if r.get("failed"):
            return Outcome(mutant, "claim", f"{r['id']}: {r['failed'][0]}", seconds)
    for r in results:
        if r.get("crash"):
            return Outcome(mutant, "crash", f"{r['id']}: {r['crash']}", seconds)
    for r in results:
        if r.get("status") != "pass":
            return Outcome(mutant, "other", f"{r['id']}: {r['detail']}", seconds)
    return Outcome(mutant, "survived", "every obligation passed", seconds)


def _run_all(
    module: str,
    jobs: int,
    timeout: float,
    deadline: float,
    only: Sequence[int] | None,
) -> Iterator[Outcome | Mutant]:
    """Outcomes of the module's mutants, then the mutants not run before the deadline."""
    source = (ROOT / "core" / f"{module}.py").read_bytes()
    todo = [m for m in mutants(module, source) if only is None or m.index in only]
    obligations = OBLIGATIONS[module]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        pending: dict[concurrent.futures.Future[Outcome], Mutant] = {}
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < jobs and time.monotonic() < deadline:
                m = queue.pop(0)
                pending[pool.submit(run_mutant, m, source, obligations, timeout)] = m
            if not pending:
                break
            done, _ = concurrent.futures.wait(pending, return_when="FIRST_COMPLETED")
            for future in done:
                pending.pop(future)
                yield future.result()
        yield from queue


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--modules", nargs="+", default=["arith", "governor"], choices=sorted(OBLIGATIONS)
    )
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per mutant")
    parser.add_argument("--time-cap", type=float, default=3600.0, help="seconds for the whole run")
    parser.add_argument("--only", type=int, nargs="*", help="mutant indices (of one module)")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("--json", type=Path, help="write every outcome to this file")
    args = parser.parse_args(argv)
    if args.list:
        for module in args.modules:
            for m in mutants(module, (ROOT / "core" / f"{module}.py").read_bytes()):
                print(f"{module}#{m.index} line {m.line}: {m.description}")
        return 0
    deadline = time.monotonic() + args.time_cap
    rows: dict[str, dict[str, Any]] = {}
    everything: list[dict[str, Any]] = []
    for module in args.modules:
        counts = {"mutants": 0, "claim": 0, "crash": 0, "other": 0, "survived": 0, "not run": 0}
        survivors: list[str] = []
        for item in _run_all(module, args.jobs, args.timeout, deadline, args.only):
            counts["mutants"] += 1
            if isinstance(item, Mutant):
                counts["not run"] += 1
                everything.append(
                    {
                        "module": module,
                        "index": item.index,
                        "line": item.line,
                        "mutation": item.description,
                        "verdict": "not run",
                    }
                )
                continue
            counts[item.verdict] += 1
            m = item.mutant
            print(
                f"{module}#{m.index} line {m.line} {m.description}: {item.verdict} "
                f"({item.seconds:.1f} s) {item.detail[:120]}",
                flush=True,
            )
            if item.verdict == "survived":
                survivors.append(f"{module}#{m.index} line {m.line}: {m.description}")
            everything.append(
                {
                    "module": module,
                    "index": m.index,
                    "line": m.line,
                    "mutation": m.description,
                    "verdict": item.verdict,
                    "detail": item.detail,
                    "seconds": round(item.seconds, 2),
                }
            )
        rows[module] = {**counts, "survivors": survivors}
    print(
        "\n| module | mutants | killed by a failing claim | killed by a crash | other failure "
        "| survived | not run |"
    )
    print("|---|---|---|---|---|---|---|")
    for module, r in rows.items():
        print(
            f"| core/{module}.py | {r['mutants']} | {r['claim']} | {r['crash']} | {r['other']} "
            f"| {r['survived']} | {r['not run']} |"
        )
    for r in rows.values():
        for s in r["survivors"]:
            print(f"survived: {s}")
    if args.json is not None:
        args.json.write_text(json.dumps({"summary": rows, "mutants": everything}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
