"""``itdose verify``: run the structural checks and the Z3 obligations, write the evidence report.

:func:`run_verify` runs :func:`itdose.proofs.structure.run_checks` and every Z3 obligation
(:func:`itdose.proofs.obligations.all_obligations`) with its seeded broken variants, optionally
the property tests (``python -m pytest -q tests/properties`` in a subprocess), prints progress on
``stream`` and, given ``out_dir``, writes ``report.json`` (for CI) and ``report.md`` (for people:
the hazard -> requirement -> evidence matrix of :func:`itdose.specs.trace.traceability`, then
every check with its result and, on failure, a counterexample in ng, nL and s).

z3 is an optional dependency (extra ``proofs``): it is imported only here, lazily; without it the
Z3 part is one failing check whose detail says how to install it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from itdose.proofs.structure import run_checks
from itdose.specs.trace import (
    load_specs,
    requirement_ids_in_code,
    traceability,
    traceability_markdown,
)

__all__ = ["Z3_MISSING", "print_table", "run_verify"]

Z3_MISSING = (
    "z3 is not installed: the Z3 obligations cannot run. Install the 'proofs' extra: "
    "pip install 'itdose[proofs]' (or pip install z3-solver)."
)

Result = dict[str, Any]


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
        return [
            {
                "id": "Z3",
                "kind": "z3",
                "title": "Z3 proof obligations",
                "status": "fail",
                "seconds": 0.0,
                "requirements": [],
                "detail": Z3_MISSING,
            }
        ]
    from itdose.proofs.obligations import all_obligations, run_obligation

    results = []
    for obligation in all_obligations():
        result = _obligation_dict(run_obligation(obligation))
        _progress(stream, result)
        results.append(result)
    return results


def _tests(tests_dir: Path, known: set[str]) -> Result:
    start = time.perf_counter()
    cited = sorted(i for i in requirement_ids_in_code([tests_dir]) if i in known)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", str(tests_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
    return {
        "id": "TESTS-PROPERTIES",
        "kind": "tests",
        "title": f"property tests ({tests_dir})",
        "status": "pass" if proc.returncode == 0 else "fail",
        "seconds": round(time.perf_counter() - start, 4),
        "requirements": cited,
        "detail": "" if proc.returncode == 0 else tail,
    }


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
    evidence: dict[str, list[str]] = {}
    for r in results:
        if r["status"] != "pass":
            continue
        for req in r["requirements"]:
            if req in known:
                evidence.setdefault(req, []).append(r["id"])
    return evidence


def _cex_lines(cex: dict[str, str] | None) -> list[str]:
    return [f"    - {k}: {v}" for k, v in (cex or {}).items()]


def _markdown(ok: bool, results: Sequence[Result], matrix: str) -> str:
    lines = [
        "# itdose verification report",
        "",
        f"Overall: **{'PASS' if ok else 'FAIL'}** "
        f"({sum(r['status'] == 'pass' for r in results)} of {len(results)} checks pass).",
        "",
        "## Checks",
        "",
        "| Check | Kind | Result | Seconds | Requirements | What |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['id']} | {r['kind']} | {r['status']} | {r['seconds']:.2f} | "
            f"{', '.join(r['requirements'])} | {r['title']} |"
        )
    lines += ["", "## Hazards, requirements and evidence", "", matrix]
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
            lines += [f"### {r['id']}", "", "```", r.get("detail", ""), "```", ""]
    return "\n".join(lines) + "\n"


def run_verify(
    out_dir: Path | None,
    with_tests: bool,
    stream: TextIO = sys.stderr,
    *,
    tests_dir: Path | None = None,
) -> tuple[bool, list[Result]]:
    """Run every check; return ``(ok, results)`` and, given ``out_dir``, write the reports.

    ``ok`` is true when every check passes (every claim proved or witnessed with satisfiable
    assumptions and every seeded broken variant caught). ``with_tests`` also runs the property
    tests in ``tests_dir`` (default ``tests/properties`` under the current directory) if that
    folder exists, as evidence for the requirement IDs they cite.
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
        folder = tests_dir if tests_dir is not None else Path("tests") / "properties"
        if folder.is_dir():
            stream.write(f"itdose verify: property tests ({folder})\n")
            result = _tests(folder, known)
            _progress(stream, result)
            results.append(result)
        else:
            stream.write(f"itdose verify: no {folder} folder, property tests skipped\n")
    ok = all(r["status"] == "pass" for r in results)
    stream.write(
        f"itdose verify: {'PASS' if ok else 'FAIL'} in {time.perf_counter() - start:.1f} s\n"
    )
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        report = {"ok": ok, "checks": results}
        (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
        matrix = traceability_markdown(traceability(_evidence(results, known), specs))
        (out_dir / "report.md").write_text(_markdown(ok, results, matrix), "utf-8")
    return ok, results


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
