"""A seeded broken controller restart that forgets the orders in flight (the journal keeps the
device without them: what the drive moves for them is never reported nor counted) must be caught
by the cohort's reference: ``count_lost`` is "an order's final count below the drive's own
count" (REQ-PERS-001, REQ-GOV-004, REQ-TIP-001).

Measured on patients 0-39 of examples/cohorts/restarts.toml for a year each: the defect changed
every run; 15 were flagged (``under_delivery``), 25 passed with no hazard. ``lost_counts``
(adapters/cohort_physics.py) looks only at the orders the core gave a final count; an order the
core forgot has none, so its count is not compared. Patient 11: the drive pumped the same volume
as in the clean run and the core counted 776 280 ng less of it (174 513 312 -> 173 737 032 ng
delivered), with every hazard 0; patient 9 pumped 1.42 mL more, counted 27.6 mg more, no hazard.
A patient at the hard maximum would have a window over it that its ledger does not hold."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cohort_spies import forget_at_each_restart

from itdose.adapters.cohort_draw import load_cohort
from itdose.adapters.cohort_run import run_patient
from itdose.specs import load_library

ROOT = Path(__file__).resolve().parents[2] / "examples" / "cohorts"
DAY_S = 86_400
LIB = load_library()
COHORT = load_cohort(ROOT / "restarts.toml", LIB)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason=(
        "open: count_lost compares only the orders the core finalized; an order the restarted "
        "controller forgot is never compared: patient 11, the same volume pumped, 776 280 ng "
        "less counted, every hazard 0"
    ),
)
def test_a_restart_that_forgets_the_orders_in_flight_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """REQ-PERS-001, REQ-GOV-004: patient 11, a year: clean as it is; with the journal seeded to
    forget the orders in flight at each restart, the drive pumps the same volume and the core
    counts less of it (the premise, measured), and the reference flags a hazard."""
    clean = run_patient(COHORT, 11, 365 * DAY_S)
    assert clean["error"] is None and clean["restarts"] >= 1
    assert not any(clean["hazards"].values()), clean["hazards"]
    forget_at_each_restart(monkeypatch, lambda d: dataclasses.replace(d, orders=()))
    broken = run_patient(COHORT, 11, 365 * DAY_S)
    assert broken["error"] is None
    assert broken["pumped_nl"] == clean["pumped_nl"]
    uncounted = clean["delivered_ng"] - broken["delivered_ng"]
    assert uncounted > 0, uncounted
    assert any(broken["hazards"].values()), (uncounted, broken["hazards"])
