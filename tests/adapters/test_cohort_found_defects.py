"""What the default cohort found at 150 patient-years (docs/cohort-schema.md, "Speed"), pinned
until it is fixed: the code before the cohort's day-long orders reports it too, so it is a
defect of the core or a limit of the reference, not of the cohort's controller settings.

Requirements: REQ-GOV-004 (no rolling 24 h window at the tip above the hard maximum)."""

from __future__ import annotations

from pathlib import Path

import pytest
from itdose_cohortkit import DAY_S

from itdose.adapters.cohort_draw import load_cohort
from itdose.adapters.cohort_run import run_patient
from itdose.specs import load_library

DEFAULT = Path(__file__).resolve().parents[2] / "examples" / "cohorts" / "default.toml"


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="open: default cohort patient 89 (morphine 25 mg/mL, 19.152 mg/day with two 0.424 mg "
    "boluses a day: the hard maximum exactly) has 24 h windows 15 ng above 20 mg at the tip "
    "(0.6 nL) by the reference, the largest ending at t = 2,898,308 s (day 26 of dosing)",
)
def test_default_cohort_patient_89_stays_within_the_hard_maximum() -> None:
    cohort = load_cohort(DEFAULT, load_library())
    r = run_patient(cohort, 89, 30 * DAY_S)
    if r["error"] is not None:
        raise RuntimeError(r["error"])
    over = r["max_window_ng"] - r["hard_max_ng"]
    assert r["hazards"]["tip_over_hard_max"] == 0, f"{over} ng over at {r['max_window_at_s']}"
