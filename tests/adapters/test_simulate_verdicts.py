"""``itdose simulate`` verdicts a newcomer can act on: a run cut short with ``--until`` reports
the expectations past the cut as "not reached" (not FAIL, exit 0), and every FAIL line says
what was expected and what happened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itdose.adapters.cli import main
from itdose.adapters.scenario import load_scenario, parse_time, run_scenario
from itdose.adapters.simulate import validate_json
from itdose.specs import load_library

ROOT = Path(__file__).resolve().parents[2]
TRIAL_FAILED = ROOT / "examples" / "scenarios" / "02-failed-opioid-trial.toml"
EXTRA = """
[[expect]]
type = "phase"
phase = "trial"
by = "day 0 11:00"

[[expect]]
type = "phase"
phase = "trial_failed"
by = "day 0 18:00"
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(TRIAL_FAILED.read_text(encoding="utf-8") + EXTRA, encoding="utf-8")
    return path


def test_until_reports_expectations_past_the_cut_as_not_reached(
    scenario: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    js = tmp_path / "run.json"
    code = main(["simulate", str(scenario), "--until", "day 0 12:00", "--json", str(js)])
    out = capsys.readouterr().out
    assert code == 0, out
    # within the cut: judged
    assert "ok   expect[2] phase: entered at t=36000" in out
    # past the cut (final phase, whole-run count, a window ending after it): not reached
    assert "not reached expect[0] phase: final phase trial_failed" in out
    assert "not reached expect[1] rejected: exactly" not in out  # min 1, no max
    assert "not reached expect[1] rejected: at least 1 rejected implant" in out
    assert "not reached expect[3] phase: phase trial_failed entered by t=64800" in out
    assert "FAIL" not in out
    assert "1 expectations held, 0 failed, 3 not reached (after --until)" in out
    doc = json.loads(js.read_text())
    assert validate_json(doc) == []
    assert doc["ok"] is True
    assert [x["status"] for x in doc["expectations"]] == [
        "not reached",
        "not reached",
        "ok",
        "not reached",
    ]


def test_without_until_every_expectation_is_judged(scenario: Path) -> None:
    r = run_scenario(load_scenario(scenario, load_library()))
    assert [x.status for x in r.results if x.source.startswith("expect")] == ["ok"] * 4
    assert r.ok


def test_a_cut_after_every_window_judges_them_all(scenario: Path) -> None:
    """An --until at or after the scenario's end changes nothing."""
    sc = load_scenario(scenario, load_library())
    r = run_scenario(sc, until_s=sc.end_s)
    assert all(x.reached for x in r.results)
    r2 = run_scenario(sc, until_s=parse_time("day 0 18:00", "until"))
    statuses = [x.status for x in r2.results if x.source.startswith("expect")]
    assert statuses == ["not reached", "not reached", "ok", "ok"]


def test_fail_lines_give_the_expected_and_the_actual_value(
    scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    final = 'phase = "trial_failed"\nat_end'
    text = scenario.read_text().replace(final, 'phase = "active"\nat_end')
    text = text.replace('by = "day 0 11:00"', 'by = "day 0 09:30"')
    scenario.write_text(text)
    assert main(["simulate", str(scenario)]) == 1
    out = capsys.readouterr().out
    assert (
        "FAIL expect[0] phase: expected final phase active; actual: final phase trial_failed" in out
    )
    assert (
        "FAIL expect[2] phase: expected phase trial entered by t=34200; "
        "actual: never entered by t=34200" in out
    )
    assert "3 expectations held, 2 failed" in out


def test_fail_line_of_a_timeline_expectation(
    scenario: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario.write_text(scenario.read_text().replace('expect = "rejected"', 'expect = "accepted"'))
    assert main(["simulate", str(scenario)]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("FAIL timeline[5]"))
    assert "expected accepted; actual: rejected: " in line
