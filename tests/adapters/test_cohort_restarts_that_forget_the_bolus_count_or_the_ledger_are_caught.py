"""Seeded broken controller restarts the cohort's reference must catch, beyond the two of
tests/adapters/test_cohort_restarts.py (a journal without the bolus history, a reconciliation
that loses the drive's count): a journal that keeps the lockout but forgets the 24 h bolus count,
and one that forgets the drug's 24 h ledger (REQ-PERS-001, REQ-GOV-006, REQ-GOV-002).

Measured on patients 0-39 of examples/cohorts/restarts.toml for a year each: the count defect
changed the run of 5 patients (8, 16, 22, 29, 34) and the reference flagged ``bolus_count`` in
each; the ledger defect changed 2 (4, 19: patients at the hard maximum) and the reference flagged
``tip_over_hard_max`` in each (patient 19: a window at 1.000001 of the maximum). No patient's
run changed without a hazard, so neither defect passes silently. A journal that shifts the bolus
history 1 h earlier is flagged too (``lockout``, patient 10, 120 days). A journal that forgets the
titration history or the active alarms changed no run of patients 0-39 (the drawn restarts never
fall where they matter): the reference has no hazard for either (see the report)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from cohort_spies import forget_at_each_restart

from itdose.adapters.cohort_draw import load_cohort
from itdose.adapters.cohort_run import run_patient
from itdose.core.ledger import BolusHistory, Ledger
from itdose.specs import load_library

ROOT = Path(__file__).resolve().parents[2] / "examples" / "cohorts"
DAY_S = 86_400
LIB = load_library()
COHORT = load_cohort(ROOT / "restarts.toml", LIB)


def _keeps_the_lockout_only(device: Any) -> Any:
    h = device.boluses
    starts = () if h.last_start_s is None else (h.last_start_s,)
    return dataclasses.replace(device, boluses=BolusHistory(h.last_start_s, starts))


def _forgets_the_ledger(device: Any) -> Any:
    return dataclasses.replace(device, ledger=Ledger())


@pytest.mark.parametrize(
    ("defect", "patient", "days", "hazard"),
    [
        (_keeps_the_lockout_only, 8, 240, "bolus_count"),
        (_forgets_the_ledger, 19, 240, "tip_over_hard_max"),
    ],
)
def test_a_restart_that_forgets_a_count_is_caught(
    monkeypatch: pytest.MonkeyPatch, defect: Any, patient: int, days: int, hazard: str
) -> None:
    """REQ-PERS-001, REQ-GOV-006, REQ-GOV-002: the patient runs clean as it is; with the journal
    seeded to forget, after each restart, the 24 h bolus count (the lockout kept) or the drug's
    24 h ledger, the reference flags the hazard the defect causes."""
    clean = run_patient(COHORT, patient, days * DAY_S)
    assert clean["error"] is None and clean["restarts"] >= 1
    assert not any(clean["hazards"].values()), clean["hazards"]
    forget_at_each_restart(monkeypatch, defect)
    broken = run_patient(COHORT, patient, days * DAY_S)
    assert broken["error"] is None
    assert broken["hazards"][hazard] >= 1, broken["hazards"]
