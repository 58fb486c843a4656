"""The evidence report cannot be misread: report.md opens with the overall line, which never
says PASS alone while safety requirements lack evidence, and with what was and was not run;
both reports carry their provenance; each failing check's reason reaches the terminal
(REQ-EVID-001, REQ-EVID-002)."""

from __future__ import annotations

import builtins
import json
import re
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("z3")

from itdose.adapters.cli import main
from itdose.proofs import runner
from itdose.proofs.provenance import NOT_INSTALLED, git_commit, provenance
from itdose.specs.trace import load_specs

SAFETY_TOTAL = sum(1 for r in load_specs().requirements.values() if r.safety)


@pytest.fixture
def reports(verified: tuple[bool, list[Any], Path]) -> tuple[str, dict[str, Any]]:
    ok, _, out = verified
    assert ok
    md = (out / "report.md").read_text(encoding="utf-8")
    doc = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return md, doc


def test_report_md_opens_with_an_overall_line_that_names_the_gap(
    reports: tuple[str, dict[str, Any]],
) -> None:
    md, doc = reports
    gaps = doc["safety_without_evidence"]
    assert isinstance(gaps, list) and gaps  # without the tests, some requirements lack evidence
    assert doc["ok"] is True and doc["complete"] is False
    lines = md.splitlines()
    overall = next(line for line in lines if line.startswith("Overall:"))
    assert lines.index(overall) <= 3
    assert "PASS, INCOMPLETE" in overall
    assert f"{len(gaps)} of {SAFETY_TOTAL} safety requirements have no evidence" in overall


def test_report_md_says_the_tests_were_not_run_before_anything_else(
    reports: tuple[str, dict[str, Any]],
) -> None:
    md, doc = reports
    gaps = len(doc["safety_without_evidence"])  # type: ignore[arg-type]
    wanted = (
        f"tests not run: {gaps} requirements have no evidence in this report; "
        "run `itdose verify --with-tests`"
    )
    assert wanted in md
    assert md.index(wanted) < md.index("## Checks")
    summary = doc["summary"]
    assert isinstance(summary, dict)
    assert wanted in summary["not_run"]


@pytest.mark.parametrize(
    ("statuses", "gaps", "with_tests", "expected"),
    [
        (["pass", "pass"], 0, True, r"^PASS: all 2 checks pass and all 102 "),
        (["pass", "pass"], 3, True, r"^PASS, INCOMPLETE: .* but 3 of 102 safety requirements "),
        (["pass", "fail"], 0, True, r"^FAIL: 1 of 2 checks fail$"),
        (["fail", "fail"], 5, False, r"^FAIL: 2 of 2 checks fail; 5 of 102 safety requirements"),
    ],
)
def test_overall_line_never_says_pass_alone_with_gaps(
    statuses: list[str], gaps: int, with_tests: bool, expected: str
) -> None:
    results = [
        {"id": f"C{i}", "kind": "structural", "title": "t", "status": s, "requirements": []}
        for i, s in enumerate(statuses)
    ]
    ok = all(s == "pass" for s in statuses)
    head = runner.summary(ok, results, [f"R{i}" for i in range(gaps)], 102, with_tests)
    assert re.search(expected, head["overall"]), head["overall"]
    assert head["overall"].startswith("PASS:") == (ok and gaps == 0)


def test_both_reports_carry_the_provenance(reports: tuple[str, dict[str, Any]]) -> None:
    md, doc = reports
    info = doc["provenance"]
    assert isinstance(info, dict)
    assert info["itdose"] == metadata.version("itdose")
    assert info["z3"] == metadata.version("z3-solver")
    assert info["hypothesis"] in (metadata.version("hypothesis"), NOT_INSTALLED)
    assert info["python"].endswith(__import__("platform").python_version())
    when = datetime.strptime(info["date_utc"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - when).total_seconds()) < 3600
    assert info["machine"]
    for key in ("itdose", "git_commit", "python", "z3", "hypothesis", "date_utc", "machine"):
        assert f"| {key} | {info[key]} |" in md, key
    assert md.index("## Provenance") < md.index("## Checks")


def test_provenance_without_z3_says_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import itdose.proofs.provenance as prov

    real = prov.metadata.version

    def version(name: str) -> str:
        if name == "z3-solver":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(prov.metadata, "version", version)
    assert provenance()["z3"] == NOT_INSTALLED


def test_git_commit_outside_a_repository_does_not_fail(tmp_path: Path) -> None:
    assert git_commit([tmp_path]).startswith("not available")


def test_git_commit_of_an_itdose_checkout(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(tmp_path), *args], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    try:
        git("init", "-q")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("git is not available")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "itdose"\n')
    git("add", "pyproject.toml")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "x")
    head = git("rev-parse", "HEAD")
    assert git_commit([tmp_path]) == head
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "itdose"\n# changed\n')
    assert git_commit([tmp_path]) == f"{head} (uncommitted changes)"
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(["git", "-C", str(other), "init", "-q"], check=True)
    (other / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    assert git_commit([other]).startswith("not available")  # not an itdose checkout


def test_missing_z3_reason_reaches_the_terminal_and_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = builtins.__import__

    def fake(name: str, *args: object, **kwargs: object) -> object:
        if name == "z3":
            raise ImportError("no z3")
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake)
    assert main(["verify", "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "Z3 failed: z3 is not installed" in out
    assert "pip install -q '.[proofs]'" in out
    assert "overall: FAIL" in out
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "Not run: Z3 obligations not run: z3 is not installed" in md


def test_failing_tests_reason_reaches_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_x.py").write_text(
        '"""Checks REQ-GOV-002."""\n\ndef test_bad():\n    assert 1 == 2, "the reason"\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner, "_z3_results", lambda stream: [])  # the proofs are not the point
    assert main(["verify", "--out", str(tmp_path / "ev"), "--with-tests"]) == 1
    out = capsys.readouterr().out
    assert "TESTS failed: REQ-GOV-002: failing test:tests/test_x.py::test_bad" in out
    assert "the reason" in out


def test_tests_not_run_without_pytest_is_a_failed_check_with_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = runner.importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "pytest" else real(name)

    monkeypatch.setattr(runner.importlib.util, "find_spec", find_spec)
    result = runner._tests(tmp_path, set())
    assert result["status"] == "fail"
    assert "pytest is not installed" in result["detail"]
    assert "pip install -q '.[test]'" in result["detail"]
