"""``itdose cohort``: patients drawn reproducibly from (seed, index), the same results whatever the
worker count, a planted over-delivering drive caught by the reference, the JSON report, input
errors, planted defects caught by the alarm latency and under-delivery checks
(docs/cohort-schema.md).

Requirements: REQ-GOV-004, REQ-ALM-001, REQ-ALM-004, REQ-TIP-004 (checked by the independent
reference over whole runs)."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from itdose_cohortkit import DAY_S, TINY, make_cohort, stable

from itdose.adapters import cohort_run, controller
from itdose.adapters.cli import main
from itdose.adapters.cohort_draw import draw_patient, parse_cohort, stream
from itdose.adapters.cohort_run import run_cohort, run_patient
from itdose.adapters.scenario import load_scenario, parse_scenario
from itdose.core.alarms import AlarmKind
from itdose.specs import load_library


def test_patients_are_reproducible_and_streams_independent(tmp_path: Path) -> None:
    cohort = make_cohort(tmp_path)
    a, b = draw_patient(cohort, 3, 5 * DAY_S), draw_patient(cohort, 3, 5 * DAY_S)
    assert a == b
    assert draw_patient(cohort, 4, 5 * DAY_S) != a
    parse_scenario(a, cohort.library)  # a drawn patient is a valid scenario
    assert stream(7, 3, "refill").random() != stream(7, 3, "bolus").random()
    # changing how boluses are drawn leaves the refills of the same patient unchanged
    other = dataclasses.replace(cohort, bolus={**cohort.bolus, "requests_per_day": (0, 0)})
    refills = [x for x in a["timeline"] if x["action"] == "refill"]
    assert refills
    assert refills == [
        x for x in draw_patient(other, 3, 5 * DAY_S)["timeline"] if x["action"] == "refill"
    ]


def test_same_results_with_one_or_two_workers(tmp_path: Path) -> None:
    cohort = make_cohort(tmp_path)
    one = run_cohort(cohort, 3, 2 * DAY_S, workers=1)
    two = run_cohort(cohort, 3, 2 * DAY_S, workers=2)
    assert stable(one) == stable(two)
    assert [r["index"] for r in two] == [0, 1, 2]
    assert all(r["error"] is None for r in one), [r["error"] for r in one]
    assert sum(r["boluses_granted"] for r in one) > 0
    assert all(not any(r["hazards"].values()) for r in one), [r["hazards"] for r in one]


@pytest.mark.parametrize(("patients", "workers"), [(1, 2), (12, 2), (150, 2), (1000, 2), (37, 3)])
def test_the_workers_get_every_patient_once_in_batches_shrinking_to_one(
    patients: int, workers: int
) -> None:
    """Every patient in exactly one batch, in order; the batches never grow and the last ones
    hold one patient each, so the workers end together (a patient at the hard maximum costs
    several times one far from it)."""
    batches = cohort_run._chunks(patients, workers)
    assert [i for b in batches for i in b] == list(range(patients))
    sizes = [len(b) for b in batches]
    assert sizes == sorted(sizes, reverse=True) and max(sizes) <= 16
    assert sizes[-workers:] == [1] * min(workers, patients)
    assert len(batches) <= max(patients // 8, 1) + 4 * workers * 5


def test_an_over_delivering_drive_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A planted defect the core cannot see between refills (no refill in these 3 days): the
    drive moves 30 % more fluid than it reports."""
    cohort = make_cohort(tmp_path, lo="95 %", use="100 %")
    clean = run_patient(cohort, 0, 3 * DAY_S)
    assert clean["error"] is None and clean["hazards"]["tip_over_hard_max"] == 0
    init = cohort_run.RecordingDrive.__init__

    def broken(self: Any, config: Any, faults: Any = ()) -> None:
        init(self, dataclasses.replace(config, accuracy_error_ppm=300_000), faults)

    monkeypatch.setattr(cohort_run.RecordingDrive, "__init__", broken)
    bad = run_patient(cohort, 0, 3 * DAY_S)
    assert bad["error"] is None
    assert bad["hazards"]["tip_over_hard_max"] >= 1
    assert bad["max_window_fraction"] > 1


def test_json_report_and_failed_patient_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_cohort(tmp_path)
    out = tmp_path / "r.json"
    code = main(
        [
            "cohort",
            str(tmp_path / "tiny.toml"),
            "--patients",
            "2",
            "--years",
            "0.005",
            "--workers",
            "1",
            "--json",
            str(out),
            "--no-progress",
        ]
    )
    report = json.loads(out.read_text())
    assert code == 0, report["failed_patients"]
    assert report["schema"] == "itdose-cohort-report/1"
    assert report["patients"] == 2 and report["ok"] is True
    h = report["hazards"]["tip_over_hard_max"]
    assert h["events"] == 0 and 0.8 < h["patient_upper_95"] < 0.9  # 1 - 0.025 ** (1 / 2)
    assert len(report["worst_windows"]) == 2
    assert "# Cohort report" in capsys.readouterr().out

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("planted")

    monkeypatch.setattr(cohort_run, "run_scenario", explode)
    rep = tmp_path / "rep"
    code = main(
        [
            "cohort",
            str(tmp_path / "tiny.toml"),
            "--patients",
            "2",
            "--years",
            "0.005",
            "--workers",
            "1",
            "--report",
            str(rep),
            "--no-progress",
        ]
    )
    assert code == 1
    report = json.loads((rep / "report.json").read_text())
    assert [f["index"] for f in report["failed_patients"]] == [0, 1]
    assert "planted" in report["failed_patients"][0]["error"]
    assert (rep / "patient-1.toml").read_text().startswith('schema = "itdose-scenario/1"')
    replay = load_scenario(rep / "patient-1.toml", load_library())  # replayable as written
    assert replay.patient == {"cohort_seed": 7, "index": 1}


def test_a_patient_over_its_cpu_budget_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cohort = make_cohort(tmp_path)

    def spin(*args: Any, **kwargs: Any) -> Any:
        while True:
            pass

    monkeypatch.setattr(cohort_run, "run_scenario", spin)
    result = run_patient(cohort, 0, DAY_S, cpu_budget_s=1)
    assert result["error"] is not None and "CPU time budget" in result["error"]
    assert result["index"] == 0 and result["seed"] == 7


@pytest.mark.parametrize(
    "extra",
    [
        ["--years", "0"],
        ["--years", "x"],
        ["--years", "1", "--scheduler", "no-port"],
        ["--years", "1", "--json", "/nonexistent-dir/r.json"],
    ],
)
def test_bad_input_exits_2(
    tmp_path: Path, extra: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    make_cohort(tmp_path)
    assert main(["cohort", str(tmp_path / "tiny.toml"), "--patients", "1", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_bad_cohort_field_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.toml").write_text(
        (TINY % {"lo": "20 %", "use": "2 %"}).replace('"10 mg/mL", ', '"10 mg", ')
    )
    assert main(["cohort", str(tmp_path / "bad.toml"), "--patients", "1", "--years", "1"]) == 2
    assert "therapy[0].concentrations[0]" in capsys.readouterr().err


def test_a_controller_that_ignores_a_stall_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REQ-ALM-001, REQ-ALM-004: planted defect, the controller drops the drive's stall; the core
    raises a HIGH alarm only a step later, from the order's count: the latency check sees it."""
    extra = 'motor_stall_mean = "2 days"\n'
    make_cohort(tmp_path, use="60 %")
    text = (tmp_path / "tiny.toml").read_text().replace("[faults]\n", "[faults]\n" + extra)
    cohort = parse_cohort(tomllib.loads(text), load_library())
    clean = [run_patient(cohort, i, 6 * DAY_S) for i in range(2)]
    assert all(r["error"] is None for r in clean)
    assert all(r["hazards"]["alarm_latency"] == 0 for r in clean)
    assert sum(len(r["alarm_latency_steps"]) for r in clean) >= 3  # stalls were drawn
    real = controller.Controller._fault

    def deaf(self: Any, now: int, kind: AlarmKind, detail: str) -> None:
        if kind is not AlarmKind.MOTOR_STALL:
            real(self, now, kind, detail)

    monkeypatch.setattr(controller.Controller, "_fault", deaf)
    bad = [run_patient(cohort, i, 6 * DAY_S) for i in range(2)]
    assert all(r["error"] is None for r in bad)
    assert sum(r["hazards"]["alarm_latency"] for r in bad) >= 1


def test_a_silently_under_delivering_drive_is_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REQ-TIP-004: planted defect, the drive moves 10 % less than it reports (the core cannot
    see it between refills): the tip falls short of the accepted program in quiet windows."""
    cohort = make_cohort(tmp_path, use="60 %")
    clean = run_patient(cohort, 0, 4 * DAY_S)
    assert clean["error"] is None and clean["hazards"]["under_delivery"] == 0
    assert 1 - 1 / 200 < clean["min_delivered_ratio"] < 1.0001
    init = cohort_run.RecordingDrive.__init__

    def short(self: Any, config: Any, faults: Any = ()) -> None:
        init(self, dataclasses.replace(config, accuracy_error_ppm=-100_000), faults)

    monkeypatch.setattr(cohort_run.RecordingDrive, "__init__", short)
    bad = run_patient(cohort, 0, 4 * DAY_S)
    assert bad["error"] is None
    assert bad["hazards"]["under_delivery"] >= 1
    assert bad["min_delivered_ratio"] < 0.95
