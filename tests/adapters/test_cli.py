"""The ``itdose`` command line: verify, diagram, drugs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from itdose.adapters.cli import main
from itdose.adapters.diagram import markdown, mermaid


def test_verify_prints_a_table_and_writes_the_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "evidence"
    copy = tmp_path / "verify.json"
    assert main(["verify", "--out", str(out), "--json", str(copy)]) == 0
    text = capsys.readouterr().out
    assert "LIFE-S1" in text and "GOV-Z3" in text and "pass" in text
    doc = json.loads((out / "report.json").read_text())
    assert json.loads(copy.read_text()) == doc
    assert doc["ok"] is True
    assert {"id", "status", "seconds", "requirements"} <= set(doc["checks"][0])
    assert all(c["status"] == "pass" for c in doc["checks"])
    assert all(c["requirements"] for c in doc["checks"])
    assert "REQ-GOV-002" in (out / "report.md").read_text()


def test_verify_exits_non_zero_on_a_failed_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import itdose.proofs.runner as runner

    real = runner.run_checks

    def broken(*args: object) -> list[object]:
        return [
            r if r.id != "LIFE-S2" else type(r)(r.id, "fail", 0.0, r.requirements, r.title, "x")
            for r in real()
        ]

    monkeypatch.setattr(runner, "run_checks", broken)
    # the Z3 obligations are not what this test is about (they pass in the test above and in
    # CI's verify phase): left out, so the verify here costs the structural checks only
    monkeypatch.setattr(runner, "_z3_results", lambda stream: [])
    assert main(["verify", "--out", str(tmp_path)]) == 1
    assert "1 failed" in capsys.readouterr().out
    assert json.loads((tmp_path / "report.json").read_text())["ok"] is False


def test_diagram(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram"]) == 0
    assert capsys.readouterr().out == mermaid()
    target = tmp_path / "d.md"
    assert main(["diagram", "--markdown", "--out", str(target)]) == 0
    assert target.read_text() == markdown()


def test_drugs_lists_every_drug_with_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["drugs"]) == 0
    text = capsys.readouterr().out
    for drug in ("morphine", "ziconotide", "baclofen", "hydromorphone", "clonidine"):
        assert drug in text
    assert "19.2 mcg/day" in text
    assert "source" in text


def test_console_script_runs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "itdose.adapters.cli", "verify", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert " passed, 0 failed" in done.stdout
    assert "itdose verify: PASS" in done.stderr


def test_unknown_subcommand_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["fly"])
    assert info.value.code == 2


def test_log_is_wired(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["log", "verify", str(tmp_path / "missing.db")]) == 2
    assert "missing.db" in capsys.readouterr().err
