"""``itdose check-program``: program files, exit codes, JSON report, malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itdose.adapters.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "programs"
NOW = "2026-11-25T12:00:00+00:00"

EXPECTED = {
    "morphine-continuous-bolus.toml": 0,
    "morphine-25-labelled-strength.toml": 0,
    "morphine-over-maximum.toml": 1,
    "baclofen-bolus-on-prometra-ii.toml": 1,
    "ziconotide-below-min-rate.toml": 1,
    "ziconotide-flex-elapsed.toml": 0,
    "baclofen-flex-wall-dst.toml": 0,
}


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_example_is_listed() -> None:
    assert {p.name for p in EXAMPLES.glob("*.toml")} == set(EXPECTED)


@pytest.mark.parametrize(("name", "code"), sorted(EXPECTED.items()))
def test_examples_exit_codes_and_json(
    name: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    got, out, _ = _run(["check-program", str(EXAMPLES / name), "--json", "--now", NOW], capsys)
    assert got == code
    doc = json.loads(out)
    assert doc["accepted"] is (code == 0)
    for key in ("violations", "basal_daily_ng", "worst_case_daily_ng", "volume_rate_nl_per_day",
                "days_to_low_reservoir"):  # fmt: skip
        assert key in doc
    if code == 1:
        assert any(v["level"] == "hard" or not v["overridden"] for v in doc["violations"])


def test_morphine_figures(capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLES / "morphine-continuous-bolus.toml"
    _, out, _ = _run(["check-program", str(path), "--json", "--now", NOW], capsys)
    doc = json.loads(out)
    assert doc["basal_daily_ng"] == 1_000_000
    assert doc["worst_case_daily_ng"] == 1_000_000 + 4 * 100_000
    assert doc["volume_rate_nl_per_day"] == 100_000  # 1 mg/day at 10 mg/mL
    # (20 mL - 3.0 mL low threshold) / 0.14 mL/day = 121.4 days
    assert doc["days_to_low_reservoir"] == 121


def test_over_maximum_names_the_hard_limit(capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLES / "morphine-over-maximum.toml"
    _, out, _ = _run(["check-program", str(path), "--json", "--now", NOW], capsys)
    doc = json.loads(out)
    hard = [v for v in doc["violations"] if v["level"] == "hard"]
    assert [v["limit"] for v in hard] == ["morphine.pain.max_daily"]
    assert doc["worst_case_daily_ng"] == 18_000_000 + 6 * 1_000_000


def test_min_rate_rejection_names_the_dilution(capsys: pytest.CaptureFixture[str]) -> None:
    path = EXAMPLES / "ziconotide-below-min-rate.toml"
    code, out, _ = _run(["check-program", str(path), "--now", NOW], capsys)
    assert code == 1
    # 0.5 mcg/day reaches 0.048 mL/day at 500 ng / 0.048 mL = 10.416 mcg/mL (rounded down)
    assert "dilute to at most 10.416 mcg/mL" in out


def _expected_dst_total(short_day: bool) -> int:
    hours = [480] * 7 + [240] * 15 + [480] * 2  # the example's schedule, hour by hour (mcg/day)
    if short_day:
        del hours[2]  # 02:00-03:00 does not exist
    else:
        hours.insert(2, 480)  # 02:00-03:00 happens twice
    return sum(hours) * 1000 // 24


@pytest.mark.parametrize(
    ("now", "short", "utc_start"),
    [
        ("2026-11-25T12:00:00+00:00", True, "2027-03-27T23:00:00+00:00"),
        ("2027-04-25T12:00:00+00:00", False, "2027-10-30T22:00:00+00:00"),
    ],
)
def test_wall_schedule_reports_the_dst_day(
    now: str, short: bool, utc_start: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = EXAMPLES / "baclofen-flex-wall-dst.toml"
    _, out, _ = _run(["check-program", str(path), "--json", "--now", now], capsys)
    doc = json.loads(out)
    assert doc["basal_daily_ng"] == (7 * 480 + 15 * 240 + 2 * 480) * 1000 // 24
    assert doc["dst_day_total_ng"] == _expected_dst_total(short)
    assert doc["dst_day_utc"] == utc_start


BAD = [
    ('pump = "prometra-ii-20"\n', "basal"),
    (
        'pump="prometra-ii-20"\ndrug="morphine"\nindication="pain"\nconcentration="10 mg/mL"\n'
        'colour="red"\n[basal]\nmode="continuous"\ndose="1 mg/day"\n',
        "colour",
    ),
    (
        'pump="prometra-ii-20"\ndrug="morphine"\nindication="pain"\nconcentration=10\n'
        '[basal]\nmode="continuous"\ndose="1 mg/day"\n',
        "concentration",
    ),
    (
        'pump="prometra-ii-20"\ndrug="morphine"\nindication="pain"\nconcentration="10 mg/mL"\n'
        '[basal]\nmode="continuous"\ndose="1 mL/day"\n',
        "basal.dose",
    ),
    (
        'pump="prometra-ii-20"\ndrug="morphine"\nindication="pain"\nconcentration="10 mg/mL"\n'
        '[basal]\nmode="flex"\nclock="elapsed"\nsteps=[{start="01:00", dose="1 mg/day"}]\n',
        "basal.steps[0].start",
    ),
    (
        'pump="prometra-ii-20"\ndrug="morphine"\nindication="pain"\nconcentration="10 mg/mL"\n'
        '[basal]\nmode="flex"\nclock="elapsed"\nsteps=[{start="00:00", dose="1 mg/day"},'
        '{start="25:00", dose="1 mg/day"}]\n',
        "basal.steps[1].start",
    ),
    (
        'pump="prometra-ii-20"\ndrug="morphine"\nindication="pain"\nconcentration="10 mg/mL"\n'
        '[basal]\nmode="flex"\nclock="wall"\ntimezone="Mars/Olympus"\n'
        'steps=[{start="00:00", dose="1 mg/day"}]\n',
        "basal.timezone",
    ),
    (
        'pump="prometra-ii-20"\ndrug="heroin"\nindication="pain"\nconcentration="10 mg/mL"\n'
        '[basal]\nmode="continuous"\ndose="1 mg/day"\n',
        "drug",
    ),
    (
        'pump="prometra-99"\ndrug="morphine"\nindication="pain"\nconcentration="10 mg/mL"\n'
        '[basal]\nmode="continuous"\ndose="1 mg/day"\n',
        "pump",
    ),
    (
        'pump="prometra-ii-20"\ndrug="morphine"\nindication="pain"\nconcentration="10 mg/mL"\n'
        '[basal]\nmode="continuous"\ndose="1 mg/day"\n[patient_bolus]\ndose="0.1 mg"\n'
        'duration="10 min"\nlockout="1 h"\nmax_per_24h=2.5\n',
        "patient_bolus.max_per_24h",
    ),
    ("this is = not toml [", "file"),
]


@pytest.mark.parametrize(("text", "field"), BAD)
def test_malformed_program_files_exit_2_naming_the_field(
    text: str, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    code, out, err = _run(["check-program", str(path), "--now", NOW], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith(f"itdose: {field}")


def test_missing_file_and_bad_now(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["check-program", str(tmp_path / "none.toml"), "--now", NOW], capsys)
    assert code == 2 and "file" in err
    path = EXAMPLES / "morphine-continuous-bolus.toml"
    code, _, err = _run(["check-program", str(path), "--now", "yesterday"], capsys)
    assert code == 2 and "--now" in err
