"""``itdose verify --with-cohort``: a small cohort folded into the evidence report as a check of
kind ``cohort``; without it both reports say plainly that the cohort was not run
(docs/cohort-schema.md, "In the evidence report").

Requirements: REQ-GOV-004, REQ-ALM-001, REQ-ALM-004, REQ-TIP-004 (the cohort check's evidence)."""

from __future__ import annotations

import dataclasses
import io
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from itdose_cohortkit import make_cohort

from itdose.adapters import cohort, cohort_run
from itdose.adapters.cli import main
from itdose.proofs import runner


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_cohort(tmp_path, use="60 %")
    monkeypatch.setattr(cohort, "VERIFY_COHORT", (str(tmp_path / "tiny.toml"), 2, Fraction(1, 250)))
    return tmp_path


@pytest.fixture
def no_proofs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The structural checks and Z3 obligations have their own tests: leave them out here."""
    monkeypatch.setattr(runner, "_structural", lambda: [])
    monkeypatch.setattr(runner, "_z3_results", lambda stream: [])


def test_cohort_check_passes_and_cites_its_requirements(tiny: Path) -> None:
    r = cohort.verify_check(io.StringIO(), workers=1)
    assert r["kind"] == "cohort" and r["status"] == "pass", r["detail"]
    assert r["requirements"] == list(cohort.VERIFY_REQUIREMENTS)
    assert r["cohort"]["patients"] == 2 and r["cohort"]["ok"] is True
    assert "tip_over_hard_max" in r["summary_md"]


def test_cohort_check_fails_on_a_planted_defect(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init = cohort_run.RecordingDrive.__init__

    def short(self: Any, config: Any, faults: Any = ()) -> None:
        init(self, dataclasses.replace(config, accuracy_error_ppm=-100_000), faults)

    monkeypatch.setattr(cohort, "VERIFY_COHORT", (str(tiny / "tiny.toml"), 1, Fraction(1, 100)))
    monkeypatch.setattr(cohort_run.RecordingDrive, "__init__", short)
    r = cohort.verify_check(io.StringIO(), workers=1)
    assert r["status"] == "fail"
    assert "under_delivery" in r["detail"]


def test_missing_cohort_file_is_a_failed_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cohort, "VERIFY_COHORT", (str(tmp_path / "none.toml"), 2, Fraction(1)))
    r = cohort.verify_check(io.StringIO(), workers=1)
    assert r["status"] == "fail" and "repository root" in r["detail"]


def test_verify_with_cohort_folds_it_into_the_reports(
    tiny: Path, no_proofs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tiny / "evidence"
    assert main(["verify", "--with-cohort", "--out", str(out)]) == 0
    doc = json.loads((out / "report.json").read_text())
    md = (out / "report.md").read_text()
    check = next(r for r in doc["checks"] if r["kind"] == "cohort")
    assert check["status"] == "pass"
    assert any("cohort" in line for line in doc["summary"]["ran"])
    assert not any(line.startswith("cohort not run") for line in doc["summary"]["not_run"])
    assert "## Cohort: virtual patients against the physical reference" in md
    for req in cohort.VERIFY_REQUIREMENTS:
        assert "COHORT" in doc["evidence"][req]


def test_verify_without_cohort_says_it_was_not_run(
    tmp_path: Path, no_proofs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "evidence"
    assert main(["verify", "--out", str(out)]) == 0
    doc = json.loads((out / "report.json").read_text())
    md = (out / "report.md").read_text()
    line = next(x for x in doc["summary"]["not_run"] if x.startswith("cohort not run"))
    assert "itdose verify --with-cohort" in line
    assert f"- Not run: {line}" in md and md.index(line) < md.index("## Checks")
    assert not any(r["kind"] == "cohort" for r in doc["checks"])
    assert line in capsys.readouterr().out


def test_verify_cohort_size_from_the_command_line(
    tiny: Path, no_proofs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--cohort-patients`` and ``--cohort-years`` size the cohort (CI runs a larger one);
    without ``--with-cohort`` or with a bad value: one line naming the option, exit 2."""
    out = tiny / "evidence"
    args = ["verify", "--with-cohort", "--out", str(out), "--cohort-patients", "3"]
    assert main([*args, "--cohort-years", "0.002"]) == 0
    check = next(
        r for r in json.loads((out / "report.json").read_text())["checks"] if r["kind"] == "cohort"
    )
    assert check["cohort"]["patients"] == 3
    assert check["cohort"]["patient_years"] == pytest.approx(0.006)
    assert "3 patients x 1/500 years" in check["title"]
    capsys.readouterr()
    for bad, field in (
        (["verify", "--out", str(out), "--cohort-patients", "3"], "--cohort-patients"),
        (["verify", "--out", str(out), "--cohort-years", "1"], "--cohort-years"),
        ([*args[:-1], "0"], "--cohort-patients"),
        ([*args, "--cohort-years", "-1"], "--cohort-years"),
        ([*args, "--cohort-years", "x"], "--cohort-years"),
    ):
        assert main(bad) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and field in err[0], err
