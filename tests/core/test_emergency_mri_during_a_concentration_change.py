"""An emergency MRI while the fluid path holds two concentrations keeps every later window within
the hard maximum (REQ-MRI-006, REQ-GOV-002, REQ-TIP-002), judged by the independent FIFO
reference (tests/itdose_physics.py).

docs/dosing-rules.md R-MRI-5: the labelled worst case is that 10 uL leave the tip at the scan.
If they do, the whole fluid path has moved on by 10 uL: whatever leaves the tip afterwards is
10 uL further along (the reference pushes the 10 uL through its path). After a refill 10 -> 25
mg/mL the old 10 mg/mL fluid then ends 10 uL earlier than a path that did not move, and 10 uL
more of 25 mg/mL leave in its place: 0.15 mg more morphine than 10 mg/mL would carry. Windows
more than 24 h after the scan no longer hold the scan's count but do hold that change.

Morphine 1 mg/day (0.1 mL/day at 10 mg/mL: the 0.234 mL path takes days to flush), refilled to
25 mg/mL at 1 mg/day; the emergency scan an hour later (the valve reset 11 min after); from 25 h
after the scan, every 2 h for two days, the largest clinician bolus (60 s) the core accepts.
The control runs the same history without the scan.
"""

from __future__ import annotations

from fractions import Fraction

from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Bench,
    greedy_clinician_boluses,
    implanted_and_dosing,
    refill,
)

from itdose.core import Library, Phase, Role
from itdose.core import commands as c
from itdose.core.program import Basal, Program

C = Role.CLINICIAN
AT_10 = Program("morphine", "pain", 10 * MG, Basal.continuous(MG), None, "opioid-tolerant")
AT_25 = Program("morphine", "pain", 25 * MG, Basal.continuous(MG), None, "opioid-tolerant")
CAP = 20 * MG


def _run(library: Library, emergency: bool) -> Bench:
    b = Bench(library)
    t0 = implanted_and_dosing(b, AT_10)
    t_refill = t0 + 2 * DAY_S
    refill(b, t_refill, 25 * MG, program=AT_25)
    t_mri = t_refill + HOUR_S
    if emergency:
        b.submit(c.BeginMri(C, emergency=True, reason="trauma: no time to empty"), t_mri)
        b.submit(c.EndMri(C), t_mri + 600)
        b.submit(c.ConfirmPostMri(C, "valve reset recorded"), t_mri + 660)
        if b.device.phase is Phase.SUSPENDED:
            b.submit(c.Resume(C, "valve reset"), t_mri + 670)
    given = greedy_clinician_boluses(b, t_mri + 25 * HOUR_S, t_mri + 3 * DAY_S, 2 * HOUR_S, 60, CAP)
    assert given  # the attack gave boluses
    b.advance(t_mri + 5 * DAY_S)
    assert not b.anomalies
    return b


def test_windows_after_an_emergency_scan_during_a_flush_stay_within_the_cap(library: Library):
    """REQ-MRI-006, REQ-GOV-002: with the scan's worst case (10 uL left), no window of
    morphine at the tip exceeds 20 mg."""
    b = _run(library, emergency=True)
    assert b.extremes("morphine").max_ng <= CAP


def test_the_same_history_without_the_scan_reaches_the_cap_and_stays_within_it(
    library: Library,
):
    """REQ-GOV-002: the control: the greedy boluses bring a window to within 100 ng of 20 mg
    (so the attack has teeth) and none exceeds it."""
    ex = _run(library, emergency=False).extremes("morphine")
    assert CAP - Fraction(100) <= ex.max_ng <= CAP
