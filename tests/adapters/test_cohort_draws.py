"""Cohort draws over time: titration (program changes within the library's limits), MRIs
(planned with the pump's workflow, or emergency scans), each from its own random stream, and a
patient drawn with them runs with no hazard and no refused action (docs/cohort-schema.md).

Requirements: REQ-TITR-005, REQ-TITR-006 (restarts and titration as the clinician confirms them),
REQ-TIP-004 and REQ-GOV-004 (checked by the reference over the run)."""

from __future__ import annotations

import dataclasses
import itertools
import tomllib
from pathlib import Path
from typing import Any

import pytest
from itdose_cohortkit import DAY_S, TINY, make_cohort

from itdose.adapters import simdrive as sd
from itdose.adapters.cohort_draw import draw_patient, parse_cohort
from itdose.adapters.cohort_run import run_patient
from itdose.adapters.scenario import parse_scenario
from itdose.core.errors import InvalidInput
from itdose.specs import load_library

OVER_TIME = """
[titration]
interval = ["%(every)s", "%(every)s"]
step = ["10 %%", "40 %%"]
increase_share = "50 %%"

[mri]
mean_interval = "%(mri)s"
emergency_share = "%(emergency)s"
scan = ["20 min", "40 min"]
"""


def _cohort(tmp_path: Path, every: str = "20 days", mri: str = "30 days", emergency: str = "0 %"):
    extra = OVER_TIME % {"every": every, "mri": mri, "emergency": emergency}
    return make_cohort(tmp_path, lo="20 %", use="80 %", extra=extra)


def _doses(doc: dict[str, Any]) -> list[int]:
    programs = doc["programs"]
    out = []
    for x in doc["timeline"]:
        if x["action"] == "set_program":
            basal = programs[x["program"]]["basal"]
            dose = basal.get("dose") or basal["steps"][1]["dose"]
            out.append(int(dose.split()[0]))
    return out


def test_titration_changes_programs_within_the_limits(tmp_path: Path) -> None:
    cohort = _cohort(tmp_path)
    hard_mcg = cohort.library.drug("morphine", "pain").max_daily.value // 1000
    changes = 0
    for i in range(8):
        doc = draw_patient(cohort, i, 200 * DAY_S)
        doses = _doses(doc)
        changes += len(doses) - 1
        bolus = doc["programs"][next(iter(doc["programs"]))].get("patient_bolus")
        worst = int(bolus["dose"].split()[0]) * bolus["max_per_24h"] // 1000 if bolus else 0
        assert all(hard_mcg * 20 // 100 <= d <= hard_mcg - worst for d in doses), doses
        cuts = [
            x["confirm_withdrawal_risk"]
            for x in doc["timeline"]
            if x["action"] == "set_program" and "confirm_withdrawal_risk" in x
        ]
        assert cuts == [b < a for a, b in itertools.pairwise(doses)]
    assert changes >= 8  # about 9 visits per patient, some at a bound
    assert draw_patient(cohort, 3, 200 * DAY_S) == draw_patient(cohort, 3, 200 * DAY_S)


def test_baclofen_increases_keep_the_library_step(tmp_path: Path) -> None:
    cohort = _cohort(tmp_path)
    th = dataclasses.replace(
        cohort.therapies[0],
        drug="baclofen",
        indication="spasticity-spinal",
        opioid_status=None,
        concentrations=(2_000_000,),
        dose_bp=(1000, 5000),
        patient_bolus=False,
    )
    cohort = dataclasses.replace(cohort, therapies=(th,))
    pct = cohort.library.drug("baclofen", "spasticity-spinal").titration
    assert pct is not None and pct.max_increase_percent is not None
    ups = 0
    for i in range(6):
        doses = _doses(draw_patient(cohort, i, 300 * DAY_S))
        for a, b in itertools.pairwise(doses):
            if b > a:
                ups += 1
                assert (b - a) * 10_000 <= a * pct.max_increase_percent.value
    assert ups >= 3


def test_mri_workflow_and_streams(tmp_path: Path) -> None:
    cohort = _cohort(tmp_path)
    doc = draw_patient(cohort, 2, 120 * DAY_S)
    acts = [x["action"] for x in doc["timeline"]]
    i = acts.index("begin_mri")
    assert acts[i - 2 : i + 1] == ["suspend", "empty_reservoir", "begin_mri"]
    assert acts[i + 1 : i + 5] == ["end_mri", "confirm_mri", "refill", "resume"]
    emergency = _cohort(tmp_path, emergency="100 %")
    doc_e = draw_patient(emergency, 2, 120 * DAY_S)
    mris = [x for x in doc_e["timeline"] if x["action"] == "begin_mri"]
    assert mris and all(x.get("emergency") is True for x in mris)
    assert not any(x["action"] == "empty_reservoir" for x in doc_e["timeline"])
    # the MRI draws change neither the refills, the titration nor the boluses
    rest = [x for x in doc["timeline"] if x["action"] in ("set_program", "bolus")]
    assert rest == [x for x in doc_e["timeline"] if x["action"] in ("set_program", "bolus")]


def test_a_patient_over_time_runs_clean(tmp_path: Path) -> None:
    """Without drive faults (whose clinician visits may fall inside an MRI's), every drawn
    titration, MRI step, refill and bolus request is accepted or decided."""
    cohort = dataclasses.replace(
        _cohort(tmp_path, every="15 days", mri="20 days"), faults=sd.FaultRates()
    )
    for i, emergency in ((1, "0 %"), (4, "100 %")):
        c = dataclasses.replace(cohort, mri={**cohort.mri, "emergency": int(emergency[:-2]) * 100})
        doc = draw_patient(c, i, 45 * DAY_S)
        assert any(x["action"] == "begin_mri" for x in doc["timeline"])
        r = run_patient(c, i, 45 * DAY_S)
        assert r["error"] is None, r["error"]
        assert not any(r["hazards"].values()), r["hazards"]
        assert r["rejected_actions"] == 0
        assert r["min_delivered_ratio"] > 0.995


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (
            '[titration]\ninterval = ["1 h", "2 days"]\nstep = ["1 %", "2 %"]\n',
            "titration.interval",
        ),
        ('[titration]\ninterval = ["1 day", "2 days"]\nstep = ["1 %", "60 %"]\n', "titration.step"),
        ('[mri]\nmean_interval = "1 h"\n', "mri.mean_interval"),
        ('[mri]\nmean_interval = "9 days"\nscan = ["1 s", "1 h"]\n', "mri.scan"),
        ('[mri]\nmean_interval = "9 days"\nsize = 3\n', "mri.size"),
    ],
)
def test_bad_over_time_fields_are_named(tmp_path: Path, extra: str, field: str) -> None:
    with pytest.raises(InvalidInput, match=field.replace(".", r"\.")):
        make_cohort(tmp_path, extra=extra)


def test_drawn_scenarios_carry_the_controller_settings() -> None:
    """A drawn scenario holds the cohort's ``max_segment`` and ``poll`` and the drive wake-ups
    and segment backoff, so a failed patient's scenario file replays the same controller; bad
    values are named."""
    lib = load_library()
    data = tomllib.loads(TINY % {"lo": "20 %", "use": "2 %"})
    cohort = parse_cohort({**data, "max_segment": "24 h", "poll": "6 h"}, lib)
    doc = draw_patient(cohort, 0, 2 * DAY_S)
    assert {k: v for k, v in doc["simulation"].items() if k != "end"} == {
        "max_segment": "86400 s",
        "poll": "21600 s",
        "drive_wakeups": True,
        "segment_backoff": True,
    }
    sc = parse_scenario(doc, lib)
    assert (sc.max_segment_s, sc.poll_s, sc.drive_wakeups, sc.segment_backoff) == (
        86_400,
        21_600,
        True,
        True,
    )
    for key, value in (
        ("poll", "30 s"),
        ("poll", "2 days"),
        ("max_segment", "30 min"),
        ("max_segment", "2 days"),
    ):
        with pytest.raises(InvalidInput, match=key):
            parse_cohort({**data, key: value}, lib)
