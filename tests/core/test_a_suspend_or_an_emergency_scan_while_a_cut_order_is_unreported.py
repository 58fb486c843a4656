"""A suspend or an emergency scan after a bolus cut the basal order in flight, before that cut
order's final report reaches the core (the drive stopped it at the cut; its report comes
400 s after). The core counts the unreported cut order as at most its pace by the cut and, the
path holding one fluid, ordered the basal after the bolus without waiting for that report
(R-TIP-3); the suspend or the scan stops the bolus or that basal order. No 24 h window of what
left the tip may exceed the hard maximum, with the scan's labelled worst case counted.

Judged by the whole-nanolitre brute force (tests/whole_nl_drive.py) and the first-in-first-out
reference (tests/fifo_window_reference.py), from the drive's own record (the bench pushes the
scan's worst case, 10 uL, at its start). Morphine on a Prometra II, Prometra catheter trimmed
20 cm, 25 mg/mL, 14 mg/day, 1 mg patient boluses over 300 s (the 20 mg hard maximum exactly),
the drive on the pace line; a patient bolus 3000 s into a basal hour a day after dosing starts,
then the largest clinician bolus the core accepts every 300 s from an hour before to half an
hour after the same instant a day later.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Bench,
    C,
    greedy_clinician_boluses,
    implanted_and_dosing,
)
from late_reports import LateCutReports, late_program
from whole_nl_drive import largest_window

from itdose.core import Library, Phase, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision

P = Role.PATIENT
CAP = 20 * MG
PROGRAM = late_program(25 * MG)


def _stop(b: Bench, what: str, at: int) -> None:
    if what == "suspend":
        b.submit(c.Suspend(C, "pocket check"), at)
        b.submit(c.Resume(C, "checked"), at + 600)
        return
    b.submit(c.BeginMri(C, emergency=True, reason="trauma: no time to empty"), at)
    b.submit(c.EndMri(C), at + 600)
    b.submit(c.ConfirmPostMri(C, "valve reset recorded"), at + 660)
    if b.device.phase is not Phase.ACTIVE:
        b.submit(c.Resume(C, "valve reset"), at + 670)


@pytest.mark.parametrize("what", ["suspend", "emergency-scan"])
@pytest.mark.parametrize("after_s", [100, 350])
def test_a_stop_before_the_cut_order_is_reported_leaves_no_window_above_the_maximum(
    library: Library, what: str, after_s: int
) -> None:
    """REQ-GOV-002, REQ-MRI-006, R-TIP-3, R-MRI-5: the suspend or the emergency scan 100 s
    after the cut (the bolus still running: it is cut too) or 350 s after (the basal ordered
    after the bolus running), the cut order reported 400 s after the cut: the patient bolus
    granted, dosing back after the stop, and a day later the clinician boluses bring the
    largest window to the hard maximum at most (measured: 0 ng above by the brute force)."""
    b = LateCutReports(library, mode="pace")
    b.pending = []
    t0 = implanted_and_dosing(b, PROGRAM)
    b.advance(t0 + DAY_S)
    b.delay_s = 400
    t = max(o.start_s for o in b.device.orders) + 3000
    out = b.submit(c.RequestBolus(P), t)
    assert [e.granted for e in out.effects if isinstance(e, BolusDecision)] == [True]
    _stop(b, what, t + after_s)
    assert b.device.phase is Phase.ACTIVE
    given = greedy_clinician_boluses(b, t + DAY_S - HOUR_S, t + DAY_S + 1800, 300, 300, CAP)
    assert given
    b.advance(b.now + 3 * HOUR_S)
    assert not b.anomalies and not b.pending and b.dead_volume_nl is not None
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    most, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine")
    assert most is not None
    over: tuple[Fraction, Fraction] = (brute - CAP, most[0] - CAP)
    assert max(over) <= 0, [float(x) for x in over]
