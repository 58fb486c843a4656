"""A seeded broken controller restart that forgets the alarms present (the journal keeps the
device in phase ``alarm`` with none) must be caught by the cohort's reference (REQ-PERS-001: the
alarm state survives a restart; REQ-ALM-001).

Measured on patients 0-39 of examples/cohorts/restarts.toml for a year each: the defect changed
the run of 4 patients (7, 13, 31, 38) and the reference flagged none. Patient 31 (baclofen):
a restart at 19 115 331 s during a HIGH drive fault forgets it; the clinician's clear is refused
("that alarm is not active"), resume is not allowed in phase ``alarm``, and the pump stays
stopped with no alarm present until the refill at 21 331 632 s: 2 100 267 s (24.3 days) more in
phase ``alarm`` than the clean run (which resumed at 19 231 365 s), 3 actions refused, no hazard;
over its first 250 days (the test) 3 261 960 s (37.8 days) more in phase ``alarm``, no hazard.
The under-delivery check looks at phase ``active`` only and the alarm checks at faults and their
first HIGH alarm, so a silent stop in phase ``alarm`` is not seen by the reference (still so).
The core accepted such a device; it now refuses it at the trust boundary
(tests/core/test_a_device_in_alarm_without_an_alarm_is_refused.py), so the journal's snapshot is
unreadable and the patient is reported with that error."""

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


def test_a_restart_that_forgets_the_alarms_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQ-PERS-001, REQ-ALM-001, REQ-CORE-004: patient 31, 250 days: clean as it is; with the
    journal seeded to forget the alarms at each restart, the journal's device (phase ``alarm``,
    no alarm) is refused when the controller opens it, and the patient is reported with that
    error naming the field, not run on silently (before: 37.8 days more stopped, no hazard)."""
    clean = run_patient(COHORT, 31, 250 * DAY_S)
    assert clean["error"] is None and clean["restarts"] >= 1
    assert not any(clean["hazards"].values()), clean["hazards"]
    forget_at_each_restart(monkeypatch, lambda d: dataclasses.replace(d, alarms=()))
    broken = run_patient(COHORT, 31, 250 * DAY_S)
    assert broken["error"] is not None
    assert "device.alarms: phase 'alarm' needs a HIGH alarm present" in broken["error"]
