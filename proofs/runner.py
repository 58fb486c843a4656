"""``itdose verify``: run the structural checks and the Z3 obligations, write the evidence report.

:func:`run_verify` runs :func:`itdose.proofs.structure.run_checks` and every Z3 obligation
(:func:`itdose.proofs.obligations.all_obligations`) with its seeded broken variants, optionally
the test suite, prints progress on ``stream`` and, given ``out_dir``, writes ``report.json`` (for
CI) and ``report.md`` (for people: the hazard -> requirement -> evidence matrix of
:func:`itdose.specs.trace.traceability`, then every check with its result and, on failure, a
counterexample in ng, nL and s).

The test suite (``tests/`` by default) runs in a subprocess with ``--junitxml``. Each test case
is mapped to the test function it came from (parametrized cases to their function) and that
function to the requirement IDs it cites (:func:`citations_in_test_file`: its docstring and
comments, its class's docstring and its module's docstring). A requirement gets the evidence
``test:<file>::<function>`` from every passing function citing it; if any function citing it
failed, its test evidence is replaced by ``FAILED test:<file>::<function>``, it counts as
without evidence, and the run fails. The traceability is therefore computed from what ran, never
written by hand.

z3 is an optional dependency (extra ``proofs``): it is imported only here, lazily; without it the
Z3 part is one failing check whose detail says how to install it. Likewise ``with_tests``
without pytest is one failing check saying how to install it.

Neither report can be misread: report.md opens with the overall line, which says in the same
line when safety requirements lack evidence ("PASS, INCOMPLETE"), then what was and was not run
(the tests, the Z3 obligations, the cohort of virtual patients), then the provenance
(:mod:`itdose.proofs.provenance`); a CycloneDX SBOM of the installed packages is written beside
the reports. report.json carries the same as ``summary``, ``run`` and ``provenance``.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import io
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
import tokenize
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from itdose.proofs import mutation_record
from itdose.proofs.structure import run_checks
from itdose.specs.trace import (
    load_specs,
    traceability,
    traceability_markdown,
)

__all__ = [
    "FAILED_PREFIX",
    "PYTEST_MISSING",
    "TEST_PREFIX",
    "Z3_MISSING",
    "JunitFold",
    "citations_in_test_file",
    "cited_ids",
    "fold_junit",
    "print_reasons",
    "print_table",
    "run_verify",
    "summary",
]

Z3_MISSING = (
    "z3 is not installed: the Z3 obligations cannot run. Install the 'proofs' extra from the "
    "repository root: .venv/bin/pip install -q '.[proofs]' (or pip install z3-solver)."
)
PYTEST_MISSING = (
    "pytest is not installed, so the test suite cannot run. Install the 'test' extra "
    "from the repository root: .venv/bin/pip install -q '.[test]'"
)
WITH_TESTS_HINT = "run `itdose verify --with-tests`"
MAX_Z3_JOBS = 2
"""Most processes the Z3 obligations run in (the obligations are independent)."""
SLOW_FIRST = (
    "PATH-Z3-PLAN",
    "PATH-Z3-STEP",
    "LEDGER-Z3",
    "DECIDE-Z3",
    "LIFE-Z3-BMC",
    "PATH-Z3",
    "LEDGER-Z3-BOOK",
)
"""Obligations started first in parallel runs (the longest, measured), so that the short ones
fill the gaps; the report keeps the registry's order. PATH-Z3-STEP starts in a fresh worker: after
LEDGER-Z3 in the same process, some of its feasibility checks hit the solver's time limit (z3's
search depends on the terms already in its context) and it took 10 s instead of 1.5 s."""
WITH_COHORT_HINT = "run `itdose verify --with-cohort`"

Result = dict[str, Any]

TEST_PREFIX = "test:"
"""Evidence from a passing test function: ``test:<file>::<function>``."""
FAILED_PREFIX = "FAILED "
"""Marks the evidence of a requirement that a failing test function cites."""

# A citation: one ID, or a range written REQ-GOV-004..006 (both ends in the same group).
_CITATION = re.compile(r"\bREQ-([A-Z]+)-([0-9]{3})(?:\.\.(?:REQ-\1-)?([0-9]{3}))?\b")
_MODULE = ""


def _structural() -> list[Result]:
    return [
        {
            "id": r.id,
            "kind": "structural",
            "title": r.title,
            "status": r.status,
            "seconds": round(r.seconds, 4),
            "requirements": list(r.requirements),
            "detail": r.detail,
        }
        for r in run_checks()
    ]


def _obligation_dict(r: Any) -> Result:
    return {
        "id": r.id,
        "kind": "z3",
        "title": r.title,
        "status": r.status,
        "seconds": round(r.seconds, 4),
        "requirements": list(r.requirements),
        "detail": r.detail,
        "proves": r.proves,
        "model": r.model,
        "claims": [
            {
                "name": c.name,
                "kind": c.kind,
                "status": c.status,
                "precondition": c.precondition,
                "seconds": round(c.seconds, 4),
                "counterexample": c.counterexample,
                "witness": c.witness,
            }
            for c in r.claims
        ],
        "broken": [
            {
                "id": b.id,
                "title": b.title,
                "status": b.status,
                "seconds": round(b.seconds, 4),
                "failed_claim": b.failed_claim,
                "counterexample": b.counterexample,
            }
            for b in r.broken
        ],
    }


def _z3_results(stream: TextIO) -> list[Result]:
    try:
        import z3  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        missing: Result = {
            "id": "Z3",
            "kind": "z3",
            "title": "Z3 proof obligations: not run, z3 is not installed",
            "status": "fail",
            "seconds": 0.0,
            "requirements": [],
            "detail": Z3_MISSING,
        }
        _progress(stream, missing)
        return [missing]
    from itdose.proofs.obligations import all_obligations

    count = len(all_obligations())
    jobs = min(z3_jobs(), count)
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        results = []
        for index in range(count):
            result = _run_obligation(index)[1]
            _progress(stream, result)
            results.append(result)
        return results
    # independent obligations in parallel processes; forked, so that a child sees the code the
    # parent sees (including a change made in this process, as the tests make)
    ids = [o.id for o in all_obligations()]
    slow = [ids.index(i) for i in SLOW_FIRST if i in ids]
    order = [*slow, *(i for i in range(count) if i not in slow)]
    done: dict[int, Result] = {}
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        for index, result in pool.imap_unordered(_run_obligation, order):
            _progress(stream, result)
            done[index] = result
    return [done[i] for i in range(count)]


def z3_jobs() -> int:
    """Processes for the Z3 obligations: ``ITDOSE_VERIFY_JOBS``, else the CPUs this process may
    use, at most :data:`MAX_Z3_JOBS`."""
    configured = os.environ.get("ITDOSE_VERIFY_JOBS", "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_Z3_JOBS))


def _run_obligation(index: int) -> tuple[int, Result]:
    from itdose.proofs.obligations import all_obligations, run_obligation

    return index, _obligation_dict(run_obligation(all_obligations()[index]))


# ------------------------------------------------------------------------------------------------
# Test citations and the junit fold
# ------------------------------------------------------------------------------------------------


def cited_ids(text: str) -> set[str]:
    """The requirement IDs cited in ``text``; a range ``REQ-GOV-004..006`` cites each ID in it."""
    found: set[str] = set()
    for match in _CITATION.finditer(text):
        group, first, last = match.group(1), int(match.group(2)), match.group(3)
        end = first if last is None else int(last)
        for number in range(first, max(first, end) + 1):
            found.add(f"REQ-{group}-{number:03d}")
    return found


def _comments(source: str) -> list[tuple[int, str]]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    return [(t.start[0], t.string) for t in tokens if t.type == tokenize.COMMENT]


def citations_in_test_file(path: Path) -> dict[str, frozenset[str]]:
    """The requirement IDs each test function in ``path`` cites, by qualified name.

    Keys are ``function`` or ``Class::function`` (nested classes joined by ``::``), plus ``""``
    for the module itself. A function cites what its docstring and the comments within its lines
    (decorators included) name, plus its enclosing classes' docstrings and the module docstring.
    String literals in test code (data, expected output) are not citations.
    """
    source = path.read_text(encoding="utf-8", errors="replace")
    tree = ast.parse(source, filename=str(path))
    comments = _comments(source)
    module = frozenset(cited_ids(ast.get_docstring(tree) or ""))
    result: dict[str, frozenset[str]] = {_MODULE: module}

    def visit(body: Iterable[ast.stmt], prefix: str, inherited: frozenset[str]) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                own = cited_ids(ast.get_docstring(node) or "")
                result[f"{prefix}{node.name}"] = inherited | own
                visit(node.body, f"{prefix}{node.name}::", inherited | own)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                last = node.end_lineno or node.lineno
                ids = cited_ids(ast.get_docstring(node) or "")
                for line, text in comments:
                    if first <= line <= last:
                        ids |= cited_ids(text)
                result[f"{prefix}{node.name}"] = inherited | ids

    visit(tree.body, "", module)
    return result


def _case_outcome(case: ET.Element) -> str:
    if case.find("failure") is not None or case.find("error") is not None:
        return "fail"
    if case.find("skipped") is not None:
        return "skip"
    return "pass"


def _resolve(file: str, bases: Sequence[Path]) -> Path | None:
    for base in bases:
        candidate = base / file
        if candidate.is_file():
            return candidate
    return None


def _case_location(case: ET.Element, bases: Sequence[Path]) -> tuple[Path | None, list[str]]:
    """The file of a junit test case and the class names inside it."""
    parts = [p for p in case.get("classname", "").split(".") if p]
    file = case.get("file")
    if file:
        module = [p for p in Path(file).with_suffix("").parts if p not in ("", ".")]
        # An inherited test method (e.g. a hypothesis state machine's runTest) names the file
        # that defines it; the classname still names the test module.
        if parts[: len(module)] == module:
            return _resolve(file, bases), parts[len(module) :]
    for cut in range(len(parts), 0, -1):
        path = _resolve(str(Path(*parts[:cut]).with_suffix(".py")), bases)
        if path is not None:
            return path, parts[cut:]
    return None, []


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


@dataclasses.dataclass(frozen=True)
class JunitFold:
    """A junit report folded into per-function results and per-requirement evidence.

    ``functions``: one entry per test function (``test``, ``status`` pass / fail / skip,
    ``cases``, ``failed``, ``requirements``). ``evidence``: requirement -> passing functions
    citing it. ``failed``: requirement -> failing functions citing it. ``unmapped``: failing
    cases that map to no function (e.g. a collection error). ``counts``: cases by outcome.
    """

    functions: tuple[dict[str, Any], ...]
    evidence: Mapping[str, tuple[str, ...]]
    failed: Mapping[str, tuple[str, ...]]
    unmapped: tuple[str, ...]
    counts: Mapping[str, int]


def fold_junit(junit: Path, known: set[str], bases: Sequence[Path]) -> JunitFold:
    """Fold a pytest junit XML report into evidence for the ``known`` requirement IDs.

    ``bases`` are the folders a case's file is looked up under (the pytest rootdir, the tests
    folder and its parents), first match wins. A function passes if none of its cases failed
    and at least one passed; skipped cases are neither evidence nor failure.
    """
    root = ET.parse(junit).getroot()
    citations: dict[Path, dict[str, frozenset[str]]] = {}
    functions: dict[str, dict[str, Any]] = {}
    unmapped: list[str] = []
    counts = {"pass": 0, "fail": 0, "skip": 0}
    for case in root.iter("testcase"):
        outcome = _case_outcome(case)
        counts[outcome] += 1
        name = case.get("name", "").split("[", 1)[0]
        path, classes = _case_location(case, bases)
        if path is None or not name:
            if outcome == "fail":
                unmapped.append(f"{case.get('classname', '')}::{case.get('name', '')}")
            continue
        if path not in citations:
            try:
                citations[path] = citations_in_test_file(path)
            except (OSError, SyntaxError, ValueError):
                citations[path] = {_MODULE: frozenset()}
        cited = citations[path]
        qualname = "::".join([*classes, name])
        # A function not found by name (e.g. a hypothesis state machine's generated TestCase)
        # cites what its class, or else its module, cites.
        ids = cited.get(qualname) or cited.get("::".join(classes)) or cited[_MODULE]
        test = f"{TEST_PREFIX}{_display(path)}::{qualname}"
        entry = functions.setdefault(
            test,
            {
                "test": test,
                "status": "skip",
                "cases": 0,
                "failed": 0,
                "requirements": sorted(i for i in ids if i in known),
            },
        )
        entry["cases"] += 1
        if outcome == "fail":
            entry["failed"] += 1
            entry["status"] = "fail"
        elif outcome == "pass" and entry["status"] == "skip":
            entry["status"] = "pass"
    evidence: dict[str, list[str]] = {}
    failed: dict[str, list[str]] = {}
    for entry in functions.values():
        if entry["status"] == "skip":
            continue
        target = evidence if entry["status"] == "pass" else failed
        for req in entry["requirements"]:
            target.setdefault(req, []).append(entry["test"])
    return JunitFold(
        functions=tuple(functions.values()),
        evidence={k: tuple(v) for k, v in sorted(evidence.items())},
        failed={k: tuple(v) for k, v in sorted(failed.items())},
        unmapped=tuple(unmapped),
        counts=counts,
    )


def _tests(tests_dir: Path, known: set[str], *, crosshair: bool = False) -> Result:
    """Run pytest on ``tests_dir`` with a junit report and fold the report into evidence."""
    if importlib.util.find_spec("pytest") is None:
        return {
            "id": "TESTS",
            "kind": "tests",
            "title": f"test suite ({tests_dir}): not run, pytest is not installed",
            "status": "fail",
            "seconds": 0.0,
            "requirements": [],
            "detail": PYTEST_MISSING,
            "evidence": {},
            "failed_requirements": {},
            "functions": [],
        }
    start = time.perf_counter()
    env = dict(os.environ)
    if not crosshair:
        env["ITDOSE_SKIP_CROSSHAIR"] = "1"
    fold: JunitFold | None = None
    with tempfile.TemporaryDirectory(prefix="itdose-verify-") as tmp:
        junit = Path(tmp) / "junit.xml"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-o",
                "junit_family=xunit1",
                f"--junitxml={junit}",
                str(tests_dir),
            ],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if junit.is_file():
            bases = [Path.cwd(), tests_dir, *tests_dir.resolve().parents]
            fold = fold_junit(junit, known, bases)
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
    result: Result = {
        "id": "TESTS",
        "kind": "tests",
        "title": f"test suite ({tests_dir})",
        "status": "fail",
        "seconds": 0.0,
        "requirements": [],
        "detail": tail,
        "evidence": {},
        "failed_requirements": {},
        "functions": [],
    }
    if fold is None:
        result["detail"] = f"pytest wrote no junit report (exit {proc.returncode})\n{tail}"
    else:
        passed = proc.returncode == 0 and not fold.failed and not fold.unmapped
        summary = ", ".join(f"{n} {k}" for k, n in fold.counts.items())
        result |= {
            "title": f"test suite ({tests_dir}): {summary}",
            "status": "pass" if passed else "fail",
            "requirements": sorted(set(fold.evidence) - set(fold.failed)),
            "detail": "" if passed else tail,
            "evidence": {k: list(v) for k, v in fold.evidence.items()},
            "failed_requirements": {k: list(v) for k, v in fold.failed.items()},
            "functions": list(fold.functions),
        }
    result["seconds"] = round(time.perf_counter() - start, 4)
    return result


def _progress(stream: TextIO, result: Result) -> None:
    extra = ""
    broken = result.get("broken")
    if broken:
        caught = sum(1 for b in broken if b["status"] == "caught")
        extra = f"  broken variants caught {caught}/{len(broken)}"
    stream.write(
        f"  {result['status']:4}  {result['id']:<20} {result['seconds']:7.2f} s  "
        f"{result['title']}{extra}\n"
    )
    if result["status"] != "pass" and result.get("detail"):
        stream.write(f"        {result['detail'][:500]}\n")
    stream.flush()


def _evidence(results: Sequence[Result], known: set[str]) -> dict[str, list[str]]:
    """Requirement -> evidence names: passing checks by ID, test functions by name; the test
    evidence of a requirement that a failing test cites is replaced by the failing tests."""
    evidence: dict[str, list[str]] = {}
    for r in results:
        if r["kind"] == "tests" and "evidence" in r:
            failed: Mapping[str, list[str]] = r.get("failed_requirements", {})
            for req in sorted(set(r["evidence"]) | set(failed)):
                if req not in known:
                    continue
                if req in failed:
                    names = [f"{FAILED_PREFIX}{t}" for t in failed[req]]
                else:
                    names = list(r["evidence"][req])
                evidence.setdefault(req, []).extend(names)
            continue
        if r["status"] != "pass":
            continue
        for req in r["requirements"]:
            if req in known:
                evidence.setdefault(req, []).append(r["id"])
    return evidence


def _failed_only(evidence: Mapping[str, Sequence[str]]) -> set[str]:
    return {
        req
        for req, names in evidence.items()
        if names and all(n.startswith(FAILED_PREFIX) for n in names)
    }


def _cex_lines(cex: dict[str, str] | None) -> list[str]:
    return [f"    - {k}: {v}" for k, v in (cex or {}).items()]


def summary(
    ok: bool,
    results: Sequence[Result],
    without_evidence: Sequence[str],
    safety_total: int,
    with_tests: bool,
) -> dict[str, Any]:
    """The opening of both reports: ``overall`` (one line that never says PASS alone while a
    safety requirement lacks evidence), ``ran`` and ``not_run`` (what was and was not run,
    each with what to do about it)."""
    gaps = len(without_evidence)
    failing = [r for r in results if r["status"] != "pass"]
    if failing:
        overall = f"FAIL: {len(failing)} of {len(results)} checks fail"
        if gaps:
            overall += f"; {gaps} of {safety_total} safety requirements have no evidence"
    elif gaps:
        overall = (
            f"PASS, INCOMPLETE: all {len(results)} checks that ran pass, but {gaps} of "
            f"{safety_total} safety requirements have no evidence in this report"
        )
    else:
        overall = (
            f"PASS: all {len(results)} checks pass and all {safety_total} safety requirements "
            "have evidence"
        )
    ran: list[str] = []
    not_run: list[str] = []
    for kind, label in (("structural", "structural checks"), ("z3", "Z3 obligations")):
        group = [r for r in results if r["kind"] == kind and "not run" not in r["title"]]
        if group:
            passed = sum(r["status"] == "pass" for r in group)
            ran.append(f"{label}: {passed} of {len(group)} pass")
    z3_missing = [r for r in results if r["kind"] == "z3" and "not run" in r["title"]]
    if z3_missing:
        not_run.append(f"Z3 obligations not run: {z3_missing[0]['detail']}")
    tests = [r for r in results if r["kind"] == "tests"]
    if not with_tests:
        not_run.append(
            f"tests not run: {gaps} requirements have no evidence in this report; {WITH_TESTS_HINT}"
        )
    for r in tests:
        if "not run" in r["title"] or "not found" in r["title"]:
            not_run.append(f"tests not run: {r['detail']}")
        else:
            ran.append(f"{r['title']} ({r['status']})")
    cohorts = [r for r in results if r["kind"] == "cohort"]
    if not cohorts:
        not_run.append(
            "cohort not run: no virtual patients were checked against the independent physical "
            f"reference in this report; {WITH_COHORT_HINT}"
        )
    for r in cohorts:
        ran.append(f"{r['title']} ({r['status']})")
    if ok and gaps and with_tests and tests:
        not_run.append(
            f"{gaps} safety requirements have no evidence from any check or test: see "
            "'Safety requirements without evidence' in report.md"
        )
    return {"overall": overall, "ran": ran, "not_run": not_run}


def _markdown(
    results: Sequence[Result],
    matrix: str,
    head: Mapping[str, Any],
    info: Mapping[str, str],
    sbom: str,
) -> str:
    lines = [
        "# itdose verification report",
        "",
        f"Overall: **{head['overall']}**.",
        "",
        *(f"- Not run: {line}" for line in head["not_run"]),
        *(f"- Ran: {line}" for line in head["ran"]),
        "",
        "## Provenance",
        "",
        "| what | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        f"| SBOM (CycloneDX) | {sbom} |",
        "",
        "## Checks",
        "",
        "| Check | Kind | Result | Seconds | Requirements | What |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        reqs = ", ".join(r["requirements"])
        if r["kind"] == "tests":
            reqs = f"{len(r['requirements'])} requirements (see the matrix)"
        lines.append(
            f"| {r['id']} | {r['kind']} | {r['status']} | {r['seconds']:.2f} | "
            f"{reqs} | {r['title']} |"
        )
    for r in results:
        if r["kind"] == "cohort" and r.get("summary_md"):
            lines += ["", "## Cohort: virtual patients against the physical reference", ""]
            lines += [r["summary_md"].rstrip("\n")]
    lines += ["", *mutation_record.markdown()]
    lines += ["## Hazards, requirements and evidence", "", matrix]
    lines += ["## Proof obligations", ""]
    for r in results:
        if r["kind"] != "z3" or "claims" not in r:
            continue
        lines += [
            f"### {r['id']}: {r['title']} ({r['status']}, {r['seconds']:.2f} s)",
            "",
            f"Requirements: {', '.join(r['requirements'])}.",
            "",
            f"Proves: {r['proves']}",
            "",
            f"Model and limits: {r['model']}",
            "",
        ]
        for c in r["claims"]:
            pre = "" if c["precondition"] == "sat" else f" (assumptions {c['precondition']})"
            lines.append(f"- {c['status']}{pre}: {c['name']}")
            if c["witness"]:
                lines.append(f"    - witness: {c['witness']}")
            if c["status"] not in ("proved", "witness"):
                lines += _cex_lines(c["counterexample"])
        lines += ["", "Seeded broken variants (each must be caught):", ""]
        for b in r["broken"]:
            lines.append(f"- {b['status']}: {b['id']} ({b['title']})")
            if b["failed_claim"]:
                lines.append(f"    - fails: {b['failed_claim']}")
                lines += _cex_lines(b["counterexample"])
        lines.append("")
    failed = [r for r in results if r["status"] != "pass" and r["kind"] != "z3"]
    if failed:
        lines += ["## Other failures", ""]
        for r in failed:
            lines += [f"### {r['id']}", ""]
            for req, tests in sorted(r.get("failed_requirements", {}).items()):
                lines.append(f"- {req}: failing {', '.join(tests)}")
            failing = [f["test"] for f in r.get("functions", []) if f["status"] == "fail"]
            lines += [f"- failing test function: {t}" for t in failing]
            lines += ["", "```", r.get("detail", ""), "```", ""]
    return "\n".join(lines) + "\n"


def run_verify(
    out_dir: Path | None,
    with_tests: bool,
    stream: TextIO = sys.stderr,
    *,
    tests_dir: Path | None = None,
    crosshair: bool = False,
    cohort: Callable[[TextIO], Result] | None = None,
) -> tuple[bool, list[Result]]:
    """Run every check; return ``(ok, results)`` and, given ``out_dir``, write the reports.

    ``ok`` is true when every check passes (every claim proved or witnessed with satisfiable
    assumptions and every seeded broken variant caught). ``with_tests`` also runs the test suite
    in ``tests_dir`` (default ``tests`` under the current directory; a missing folder is a
    failed check, not a skip), and folds each test function's result in as evidence for the
    requirement IDs it cites (see the module docstring); a failing test fails the run. The
    CrossHair tests are skipped (``ITDOSE_SKIP_CROSSHAIR=1``) unless ``crosshair`` is true.
    ``cohort`` (the shell's cohort check, kind ``cohort``; ``itdose verify --with-cohort``) runs
    virtual patients against the independent physical reference; without it both reports say
    the cohort was not run.
    """
    start = time.perf_counter()
    stream.write("itdose verify: structural checks\n")
    results = _structural()
    for r in results:
        _progress(stream, r)
    stream.write("itdose verify: Z3 obligations\n")
    results += _z3_results(stream)
    specs = load_specs()
    known = set(specs.requirements)
    if with_tests:
        folder = tests_dir if tests_dir is not None else Path("tests")
        if folder.is_dir():
            stream.write(f"itdose verify: test suite ({folder})\n")
            result = _tests(folder, known, crosshair=crosshair)
            _progress(stream, result)
            results.append(result)
        else:  # asked for and impossible: a failed check, never a silent skip
            result = {
                "id": "TESTS",
                "kind": "tests",
                "title": f"test suite ({folder}): folder not found",
                "status": "fail",
                "seconds": 0.0,
                "requirements": [],
                "detail": f"no {folder} folder here: run from the repository root "
                "(or pass tests_dir)",
                "evidence": {},
                "failed_requirements": {},
                "functions": [],
            }
            _progress(stream, result)
            results.append(result)
    if cohort is not None:
        stream.write("itdose verify: cohort of virtual patients\n")
        result = cohort(stream)
        _progress(stream, result)
        results.append(result)
    ok = all(r["status"] == "pass" for r in results)
    stream.write(
        f"itdose verify: {'PASS' if ok else 'FAIL'} in {time.perf_counter() - start:.1f} s\n"
    )
    if out_dir is not None:
        from itdose.proofs.provenance import SBOM_NAME, provenance, write_sbom

        out_dir.mkdir(parents=True, exist_ok=True)
        info = provenance()
        sbom_problem = write_sbom(out_dir / SBOM_NAME, info)
        sbom = sbom_problem or f"{SBOM_NAME} (beside this report)"
        stream.write(f"itdose verify: {sbom_problem or 'SBOM: ' + str(out_dir / SBOM_NAME)}\n")
        evidence = _evidence(results, known)
        trace = traceability(evidence, specs)
        failed_only = _failed_only(evidence)
        if failed_only:
            without = dict.fromkeys(trace.without_evidence)
            without.update(dict.fromkeys(r for r in specs.requirements if r in failed_only))
            trace = dataclasses.replace(trace, without_evidence=tuple(without))
        safety_total = sum(1 for r in specs.requirements.values() if r.safety)
        head = summary(ok, results, trace.without_evidence, safety_total, with_tests)
        report = {
            "ok": ok,
            "complete": not trace.without_evidence,
            "summary": head,
            "provenance": info,
            "sbom": None if sbom_problem else SBOM_NAME,
            "sbom_problem": sbom_problem,
            "checks": results,
            "evidence": {req: evidence.get(req, []) for req in specs.requirements},
            "safety_without_evidence": list(trace.without_evidence),
            "proof_only_mutation": mutation_record.summary(),
        }
        (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
        matrix = traceability_markdown(trace)
        (out_dir / "report.md").write_text(_markdown(results, matrix, head, info, sbom), "utf-8")
    return ok, results


def _reason(r: Result) -> str:
    """Why a check failed, in a few lines."""
    parts: list[str] = []
    for c in r.get("claims", []):
        if c["status"] not in ("proved", "witness") or c["precondition"] != "sat":
            parts.append(f"claim {c['status']}: {c['name']}")
    for b in r.get("broken", []):
        if b["status"] != "caught":
            parts.append(f"seeded broken variant {b['id']} was not caught ({b['status']})")
    for req, tests in sorted(r.get("failed_requirements", {}).items()):
        parts.append(f"{req}: failing {', '.join(tests)}")
    detail = str(r.get("detail") or "").strip()
    if detail:
        parts.append(detail if len(detail) <= 1500 else detail[:1500] + " ...")
    return "\n".join(parts) or "failed (no detail recorded)"


def print_reasons(results: Sequence[Result], stream: TextIO | None = None) -> None:
    """Each failing check with its reason (for the CLI, after the table)."""
    out = sys.stdout if stream is None else stream
    for r in results:
        if r["status"] == "pass":
            continue
        lines = _reason(r).splitlines()
        out.write(f"{r['id']} failed: {lines[0]}\n")
        for line in lines[1:]:
            out.write(f"    {line}\n")


def print_table(results: Sequence[Result], stream: TextIO | None = None) -> None:
    """A fixed-width table of the results (for the CLI)."""
    out = sys.stdout if stream is None else stream
    out.write(f"{'check':<20} {'kind':<10} {'result':<6} {'seconds':>8}  requirements\n")
    for r in results:
        broken = r.get("broken") or []
        missed = [b["id"] for b in broken if b["status"] != "caught"]
        note = f"  (broken variants missed: {', '.join(missed)})" if missed else ""
        out.write(
            f"{r['id']:<20} {r['kind']:<10} {r['status']:<6} {r['seconds']:>8.2f}  "
            f"{', '.join(r['requirements'])}{note}\n"
        )
