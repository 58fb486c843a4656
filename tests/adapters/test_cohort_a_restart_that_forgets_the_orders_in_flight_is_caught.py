"""A seeded broken controller restart that forgets the orders in flight (the journal keeps the
device without them: what the drive moves for them is never reported nor counted) must be caught
by the cohort's reference: ``count_lost`` is "an order's final count below the drive's own
count" (REQ-PERS-001, REQ-GOV-004, REQ-TIP-001).

Found by an attack on patients 0-39 of examples/cohorts/restarts.toml for a year each: the
defect changed every run; 15 were flagged (``under_delivery``), 25 passed with no hazard, because
``lost_counts`` (adapters/cohort_physics.py) then looked only at the orders the core gave a final
count, and an order the core forgot has none. Patient 11: the drive pumped the same volume as in
the clean run and the core counted 776 280 ng less of it (174 513 312 -> 173 737 032 ng
delivered), with every hazard 0 (patient 9 pumped 1.42 mL more, counted 27.6 mg more, no
hazard). A patient at the hard maximum would have a window over it that its ledger does not
hold. ``count_lost`` now compares every order the drive's own log says it moved fluid for with
the largest count the core accepted for it (none: 0); patient 11's three forgotten orders
(46, 96, 187: the drive moved 219 500, 215 555 and 235 500 nL for them; the core counted
150 250, 54 068 and 78 097 nL, its reports before the restart, and never closed them) are each
flagged. Over
patients 0-34 for a year each: every clean run has no hazard, every run with the defect is
flagged ``count_lost`` (1 to 8 orders each; patients 12 and 19, at the hard maximum, also
``tip_over_hard_max``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cohort_spies import forget_at_each_restart

from itdose.adapters.cohort_draw import load_cohort
from itdose.adapters.cohort_physics import lost_counts
from itdose.adapters.cohort_run import run_patient
from itdose.specs import load_library

ROOT = Path(__file__).resolve().parents[2] / "examples" / "cohorts"
DAY_S = 86_400
LIB = load_library()
COHORT = load_cohort(ROOT / "restarts.toml", LIB)


def test_a_restart_that_forgets_the_orders_in_flight_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """REQ-PERS-001, REQ-GOV-004: patient 11, a year: clean as it is; with the journal seeded to
    forget the orders in flight at each restart, the drive pumps the same volume and the core
    counts less of it (the premise, measured), and the reference flags ``count_lost``: orders
    the drive's own log says it moved fluid for, which the core never counted."""
    clean = run_patient(COHORT, 11, 365 * DAY_S)
    assert clean["error"] is None and clean["restarts"] >= 1
    assert not any(clean["hazards"].values()), clean["hazards"]
    forget_at_each_restart(monkeypatch, lambda d: dataclasses.replace(d, orders=()))
    broken = run_patient(COHORT, 11, 365 * DAY_S)
    assert broken["error"] is None
    assert broken["pumped_nl"] == clean["pumped_nl"]
    uncounted = clean["delivered_ng"] - broken["delivered_ng"]
    assert uncounted > 0, uncounted
    assert broken["hazards"]["count_lost"] >= 1, (uncounted, broken["hazards"])


def test_an_order_the_core_never_counted_is_lost() -> None:
    """REQ-PERS-001, REQ-GOV-004: directed: ``lost_counts`` judges every order in the drive's own
    log against the largest count the core accepted for it, final or not; an order the core
    never counted is 0 counted, an order the drive moved nothing for is not judged."""
    drive = {1: 500, 2: 300, 3: 0, 4: 120}
    assert lost_counts({1: 500, 2: 300, 4: 120}, drive) == 0
    assert lost_counts({1: 500, 2: 300}, drive) == 1  # order 4 forgotten
    assert lost_counts({1: 499, 2: 300, 4: 120}, drive) == 1  # one nL short
    assert lost_counts({1: 500, 2: 300, 4: 121, 5: 40}, drive) == 0  # counted more: not lost
    assert lost_counts({}, drive) == 3
