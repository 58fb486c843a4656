"""run_verify writes both reports with the right shape; print_table; the missing-z3 message."""

from __future__ import annotations

import builtins
import io
import json
from pathlib import Path

import pytest

pytest.importorskip("z3")

from itdose.proofs import runner
from itdose.proofs.obligations import all_obligations
from itdose.proofs.structure import CHECKS


def test_run_verify_passes_and_lists_every_check(verified: tuple[bool, list, Path]) -> None:
    ok, results, _ = verified
    assert ok
    ids = [r["id"] for r in results]
    assert ids == [c.id for c in CHECKS] + [o.id for o in all_obligations()]
    for r in results:
        assert r["status"] == "pass"
        assert isinstance(r["seconds"], float)
        assert r["requirements"]


def test_report_json_shape(verified: tuple[bool, list, Path]) -> None:
    _, results, out = verified
    report = json.loads((out / "report.json").read_text())
    assert report["ok"] is True
    assert len(report["checks"]) == len(results)
    for check in report["checks"]:
        assert {"id", "status", "seconds", "requirements"} <= set(check)
    z3_checks = [c for c in report["checks"] if c["kind"] == "z3"]
    assert z3_checks
    for check in z3_checks:
        assert check["broken"] and all(b["status"] == "caught" for b in check["broken"])
        assert all(c["precondition"] == "sat" for c in check["claims"])


def test_report_md_has_matrix_and_obligations(verified: tuple[bool, list, Path]) -> None:
    _, _, out = verified
    text = (out / "report.md").read_text()
    assert "| Hazard | Severity | Requirement |" in text
    assert "GOV-Z3" in text and "LIFE-Z3-BMC" in text
    assert "caught: no-cap" in text
    assert "REQ-GOV-002" in text


def test_a_failure_is_reported_with_a_counterexample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from itdose.core import governor
    from itdose.proofs import obligations

    monkeypatch.setattr(governor, "grant_amount", obligations._grant_without_cap)
    ok, results = runner.run_verify(tmp_path, with_tests=False, stream=io.StringIO())
    assert not ok
    gov = next(r for r in results if r["id"] == "GOV-Z3")
    assert gov["status"] == "fail"
    text = (tmp_path / "report.md").read_text()
    assert "counterexample" in text and " ng" in text and " nL" in text
    assert json.loads((tmp_path / "report.json").read_text())["ok"] is False


def test_with_tests_and_no_tests_folder_fails_instead_of_skipping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evidence that was asked for and cannot be produced fails the run; it is
    never silently left out."""
    # the Z3 obligations play no part here (they pass in the shared ``verified`` run)
    monkeypatch.setattr(runner, "_z3_results", lambda stream: [])
    ok, results = runner.run_verify(
        None, with_tests=True, stream=io.StringIO(), tests_dir=tmp_path / "nowhere"
    )
    assert not ok
    tests = next(r for r in results if r["id"] == "TESTS")
    assert tests["status"] == "fail"
    assert "folder not found" in tests["title"]
    assert all(r["status"] == "pass" for r in results if r["id"] != "TESTS")


def test_with_tests_folds_in_cited_requirements(tmp_path: Path) -> None:
    tests = tmp_path / "props"
    tests.mkdir()
    (tests / "test_x.py").write_text(
        '"""Checks REQ-GOV-002 and REQ-' + 'NOPE-999."""\n\ndef test_ok():\n    assert True\n'
    )
    result = runner._tests(tests, {"REQ-GOV-002"})
    assert result["status"] == "pass"
    assert result["requirements"] == ["REQ-GOV-002"]
    (tests / "test_y.py").write_text("def test_bad():\n    assert False\n")
    assert runner._tests(tests, {"REQ-GOV-002"})["status"] == "fail"


def test_print_table() -> None:
    out = io.StringIO()
    runner.print_table(
        [
            {
                "id": "X",
                "kind": "z3",
                "status": "pass",
                "seconds": 0.5,
                "requirements": ["REQ-" + "A-001"],
                "broken": [{"id": "b", "status": "missed"}],
            }
        ]
    )
    runner.print_table(
        [{"id": "X", "kind": "z3", "status": "pass", "seconds": 0.5, "requirements": []}], out
    )
    assert out.getvalue().splitlines()[1].startswith("X")


def test_missing_z3_gives_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    real = builtins.__import__

    def fake(name: str, *args: object, **kwargs: object) -> object:
        if name == "z3":
            raise ImportError("no z3")
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake)
    results = runner._z3_results(io.StringIO())
    assert results[0]["status"] == "fail"
    assert "pip install" in results[0]["detail"]


def test_obligations_run_in_parallel_processes_and_report_in_registry_order(
    verified: tuple[bool, list, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Z3 obligations are independent: ``itdose verify`` runs them in up to
    ``MAX_Z3_JOBS`` processes (``ITDOSE_VERIFY_JOBS`` overrides), and the report lists them in
    the registry's order whatever order they finished in."""
    _, results, _ = verified
    z3_ids = [r["id"] for r in results if r["kind"] == "z3"]
    assert z3_ids == [o.id for o in all_obligations()]
    monkeypatch.setenv("ITDOSE_VERIFY_JOBS", "3")
    assert runner.z3_jobs() == 3
    monkeypatch.setenv("ITDOSE_VERIFY_JOBS", "")
    assert 1 <= runner.z3_jobs() <= runner.MAX_Z3_JOBS
    assert set(runner.SLOW_FIRST) & set(z3_ids)
