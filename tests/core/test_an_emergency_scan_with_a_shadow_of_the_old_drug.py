"""An emergency MRI scan while a shadow (R-TIP-6, a drive's doubt after a drug change) holds the
old drug: the scan widens the shadows and counts their drugs (R-MRI-5), and after the valve
reset the old drug still leaves at no more than its own program's rate (REQ-TIP-006,
REQ-MRI-006, REQ-GOV-002).

Morphine 25 mg/mL at 19 mg/day (room under the 20 mg maximum for the scan's 10 uL, 250,000 ng:
at the maximum itself the scan's worst case exceeds it with or without a shadow, 20,249,992 ng
measured, the labelled dump the core cannot hold back) refilled with hydromorphone 2 mg/mL at
its 10 mg maximum; the drive resets 52 or 37 min before the hydromorphone reaches the tip, the
order is reported whole at its end (the doubt the real lag or wider), and the scan comes 17 or
21 min before it, while the shadow is in the path (moving 0 or 10 uL), the valve reset an hour
later. Judged from what the drive moved by the FIFO reference (tests/itdose_physics.py):
measured, morphine's busiest 10 min after the valve reset 131,950 ng at most against the
program's 131,944 (a rounding unit).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from drug_change_kit import ARRIVAL_S, HYDROMORPHONE
from itdose_physics import (
    DAY_S,
    MG,
    NL_PER_ML,
    Cumulative,
    Mode,
    implanted_and_dosing,
    refill,
    window_extremes,
)
from reset_bench import ResetBench

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.program import Basal, Program

C = Role.CLINICIAN
MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(19 * MG), None, "opioid-tolerant")
PROGRAMS = {"morphine": MORPHINE, "hydromorphone": HYDROMORPHONE}
CAPS = {"morphine": 20 * MG, "hydromorphone": 10 * MG}
SPAN_S = 600
A = ARRIVAL_S
"""The instants of the resets and scans are counted from here: 1,329 s before the hydromorphone
reaches the tip at 19 mg/day (234,000 nL at 31,667 nL/h)."""


def _busiest_after(cum: Cumulative, start: int) -> Fraction:
    """The most in any 10 min that starts at ``start`` or later."""
    ends = {x for t in cum.breakpoints() for x in (t, t + SPAN_S)} | {Fraction(start + SPAN_S)}
    return max(
        cum.at(t, left=lf) - cum.at(t - SPAN_S, left=lf)
        for t in ends
        if t >= start + SPAN_S
        for lf in (False, True)
    )


@pytest.mark.parametrize("sure", [Fraction(1), Fraction(1, 2)], ids=["lag", "wider"])
@pytest.mark.parametrize("scan_nl", [0, 10_000])
@pytest.mark.parametrize("reset_s, scan_s", [(A - 1800, A + 300), (A - 900, A + 60)])
@pytest.mark.parametrize("mode", ["uniform", "slow", "pause"])
def test_after_the_scan_each_drug_leaves_at_its_own_rate(
    library: Library, mode: Mode, reset_s: int, scan_s: int, scan_nl: int, sure: Fraction
) -> None:
    """REQ-TIP-006, REQ-MRI-006, REQ-GOV-002: a shadow of morphine is in the path at the scan;
    no 24 h window of either drug exceeds its maximum, and no 10 min after the valve reset holds
    more of either than its program's 10 min and two nanolitres."""
    b = ResetBench(library, mode=mode, mri_nl=Fraction(scan_nl), sure_share=sure)
    t0 = implanted_and_dosing(b, MORPHINE)
    t1 = t0 + DAY_S
    refill(b, t1, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
    b.resets = [t1 + reset_s]
    b.advance(t1 + scan_s)
    assert any(s.drug == "morphine" for s in b.device.shadows)
    b.submit(c.BeginMri(C, emergency=True, reason="trauma: no time to empty"))
    b.submit(c.EndMri(C), b.now + 3600)
    b.submit(c.ConfirmPostMri(C, "valve reset recorded"), b.now + 60)
    back = b.now
    b.submit(c.Resume(C, "valve reset"), b.now + 60)
    b.advance(t1 + 2 * DAY_S)
    assert not b.anomalies
    tip = b.tip()
    for drug, cap in CAPS.items():
        assert window_extremes(tip, drug).max_ng <= cap, drug
        p = PROGRAMS[drug]
        bound = Fraction(p.basal.steps[0].dose_ng_per_day * SPAN_S, DAY_S) + 2 * Fraction(
            p.concentration_ng_per_ml, NL_PER_ML
        )
        most = _busiest_after(Cumulative(tip, drug), back)
        assert most <= bound, (drug, float(most))
