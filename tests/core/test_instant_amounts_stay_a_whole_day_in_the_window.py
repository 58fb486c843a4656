"""An amount counted at one instant stays in every 24 h window that contains that instant
(REQ-MRI-006, REQ-GOV-002, REQ-TIP-002), judged by the independent FIFO reference.

Two amounts are counted at an instant, not delivered by an order at a pace:

- docs/dosing-rules.md R-MRI-5: the labelled worst case of a Prometra II emergency scan, 10 uL
  at the concentration leaving the tip, is counted as delivered at the scan start;
- R-TIP-2: a trial dose is counted as given, when it is recorded.

A window ``(t - 24 h, t]`` holds such an amount for every ``t`` before the instant + 24 h, up to
that instant (the reference has it at the instant). A clinician bolus of one second given in the
last second before then, as large as the core accepts, must still keep every window within the
20 mg/day hard maximum of morphine.
"""

from __future__ import annotations

from fractions import Fraction

import itdose_physics
import pytest
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Bench,
    implanted_and_dosing,
    max_clinician_bolus_ng,
)

from itdose.core import Library, Phase, Role
from itdose.core import commands as c
from itdose.core.program import Basal, Program

C = Role.CLINICIAN
MORPHINE_25 = Program(
    "morphine", "pain", 25 * MG, Basal.continuous(10 * MG), None, "opioid-tolerant"
)
"""Infumorph 25 mg/mL at 10 mg/day on a Prometra II: the scan counts 10 uL = 0.25 mg."""


def _bolus_in_the_last_second(library: Library, duration_s: int) -> tuple[Bench, int, int]:
    b = Bench(library)
    t0 = implanted_and_dosing(b, MORPHINE_25)
    t_mri = t0 + 2 * DAY_S + 1800
    b.submit(c.BeginMri(C, emergency=True, reason="trauma: no time to empty"), t_mri)
    b.submit(c.EndMri(C), t_mri + 1200)
    b.submit(c.ConfirmPostMri(C, "valve reset recorded"), t_mri + 1300)
    if b.device.phase is Phase.SUSPENDED:
        b.submit(c.Resume(C, "valve reset"), t_mri + 1310)
    b.advance(t_mri + DAY_S - 1)
    dose = max_clinician_bolus_ng(b, duration_s, 20 * MG)
    b.submit(c.ClinicianBolus(C, dose, duration_s))
    b.advance(t_mri + DAY_S + 2 * HOUR_S)
    return b, dose, t_mri


def test_a_one_second_bolus_just_before_the_scan_leaves_the_window_stays_under_the_cap(
    library: Library,
):
    """REQ-MRI-006, REQ-GOV-002: the window that ends just before scan start + 24 h still holds
    the 0.25 mg; the bolus the core accepts then must fit with it."""
    b, dose, t_mri = _bolus_in_the_last_second(library, 1)
    assert dose > 0
    ex = b.extremes("morphine")
    assert not b.anomalies
    assert ex.max_ng <= 20 * MG, (dose, float(ex.max_ng), float(ex.max_at_s - t_mri))


def test_a_one_minute_bolus_at_the_same_instant_stays_under_the_cap(library: Library):
    """REQ-MRI-006, REQ-GOV-002: the control: the same bolus over 60 s (the scan's 0.25 mg has
    left the window before much of it arrives) keeps every window within 20 mg, and the core
    did accept a bolus that brings the window near the cap (so the test can fail)."""
    b, _, _ = _bolus_in_the_last_second(library, 60)
    ex = b.extremes("morphine")
    assert not b.anomalies
    assert ex.max_ng <= 20 * MG
    assert ex.max_ng >= 20 * MG - Fraction(1000)


TRIAL_AT_S = 120
"""The reference screening/trial records a 300 ug morphine trial dose at t = 120 s."""


def _trial_then_dosing_within_the_day(library: Library, monkeypatch: pytest.MonkeyPatch) -> Bench:
    """Morphine 0.5 mg/day at 10 mg/mL, the pump implanted 6 h after the trial dose and dosing
    at once; a clinician bolus (60 s) 1,000 ng below the largest accepted, then, in the last
    second before trial dose + 24 h, the largest one-second clinician bolus accepted."""
    monkeypatch.setattr(itdose_physics, "IMPLANT_AT", 6 * HOUR_S)
    program = Program(
        "morphine", "pain", 10 * MG, Basal.continuous(MG // 2), None, "opioid-tolerant"
    )
    b = Bench(library)
    t0 = implanted_and_dosing(b, program)
    assert t0 < TRIAL_AT_S + DAY_S - 2 * HOUR_S
    end = TRIAL_AT_S + DAY_S
    # 1,000 ng below the largest accepted: with the basal delivered in full around boluses
    # (R-TIP-4) the largest fills the window to the cap for the rest of the day, and the last
    # second's bolus must have room to be accepted (it must fit with the trial dose still in the
    # window); the basal orders it cancels and the ones after it run meanwhile
    b.advance(t0 + 600)
    first = max_clinician_bolus_ng(b, 60, 20 * MG)
    assert first > 10 * MG
    b.submit(c.ClinicianBolus(C, first - 1000, 60))
    b.advance(end - 1)
    dose = max_clinician_bolus_ng(b, 1, 20 * MG)
    assert dose > 0
    b.submit(c.ClinicianBolus(C, dose, 1))
    b.advance(end + DAY_S)
    assert not b.anomalies
    return b


def test_a_trial_dose_stays_in_the_window_until_a_day_after_it(
    library: Library, monkeypatch: pytest.MonkeyPatch
):
    """REQ-TIP-002, REQ-GOV-002: the trial dose counts in every window that contains it."""
    b = _trial_then_dosing_within_the_day(library, monkeypatch)
    assert b.extremes("morphine").max_ng <= 20 * MG
