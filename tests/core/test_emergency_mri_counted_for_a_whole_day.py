"""The 10 uL an emergency MRI counts at the scan start stays in every 24 h window that contains
the scan start (REQ-MRI-006, REQ-GOV-002), judged by the independent FIFO reference.

docs/dosing-rules.md R-MRI-5: the labelled worst case, 10 uL at the concentration leaving the
tip, is counted as delivered at the scan start. A window ``(t - 24 h, t]`` holds it for every
``t`` before ``scan start + 24 h``, up to that instant (the reference pushes it at the scan start,
as an instantaneous push). A clinician bolus of one second given in the last second before then,
as large as the core accepts, must still keep every window within the 20 mg/day hard maximum.
"""

from __future__ import annotations

from fractions import Fraction

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


@pytest.mark.xfail(
    strict=True,
    reason=(
        "the ledger records the emergency-MRI 10 uL as a piece of 250 ug ending at the scan "
        "start T with a pace of 250 ug per 1 s (core/handlers/mri.py), so for window ends in "
        "(T + 86399, T + 86400) it counts only part of it; at T + 86399 the core accepts a "
        "9 999 999 ng clinician bolus over 1 s and the window ending just before T + 86400 "
        "holds 20 098 325 ng of morphine at the tip (hard maximum 20 000 000 ng: 98 325 ng over; "
        "the 250 000 ng less the 151 675 ng of basal held during the scan)"
    ),
)
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
