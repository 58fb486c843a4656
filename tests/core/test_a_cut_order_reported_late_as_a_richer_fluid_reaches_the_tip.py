"""A basal order a bolus cuts, reported late, while a refill's richer fluid is reaching the tip.

The drive stopped the cut order at the cut, so what it moved left the tip BEFORE the bolus (first
in, first out). The core pushes the cut order's volume through its path only at the late report,
after the bolus's: where the older fluid's front is within the reach of the two, the bolus is
booked as carrying the older, leaner fluid the cut order's volume in fact pushed out at the cut,
and the cut order's volume, booked at the cut, as the richer fluid the bolus in fact delivered.
This holds whether the ticks wait for the report (the core's path still holds two fluids after
the bolus: the delivery-limited alarm is raised) or not (the bolus carried the last of the
older fluid out in the core's path: R-TIP-3 orders the basal at once). Every window that starts
between the cut and the bolus's end then holds up to the cut order's volume times the
difference of the concentrations more than the ledger says, and a day later boluses given up
to the hard maximum as the ledger sees it exceeded it. Now a cut made while the path holds two
fluids is marked (``Order.cut_mixed``), and its report, when a later order's came first, is
counted as an instant at the report, in full in every window that holds the report (R-TIP-3).

Judged by the first-in-first-out reference (tests/fifo_window_reference.py) and the
whole-nanolitre brute force (tests/whole_nl_drive.py), from the drive's own record alone.
Morphine on a Prometra II, Prometra catheter trimmed 20 cm (234 uL), 10 mg/mL refilled to
25 mg/mL (14 mg/day, 1 mg patient boluses over 300 s: the 20 mg hard maximum exactly), one
patient bolus while the new fluid's front is within its reach and its cut order's, that order
reported 400 s after the cut, then the largest clinician bolus the core accepts every 300 s from
an hour before to 20 minutes after the same instant a day later.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Mode,
    greedy_clinician_boluses,
    implanted_and_dosing,
    refill,
)
from late_reports import LateCutReports, late_program
from whole_nl_drive import largest_window

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision

P = Role.PATIENT
CAP = 20 * MG


def _largest_over_cap(
    library: Library, offset_s: int, delay_s: int, mode: Mode = "pace"
) -> tuple[Fraction, Fraction, bool]:
    """The refill a day after dosing starts, the patient bolus ``offset_s`` after it, its cut
    order reported ``delay_s`` late, the greedy clinician boluses a day later. Returns the
    largest window above the hard maximum by the whole-nanolitre brute force and by the FIFO
    reference (ng, negative: under it), and whether the patient bolus was granted."""
    b = LateCutReports(library, mode=mode)
    b.pending = []
    t0 = implanted_and_dosing(b, late_program(10 * MG))
    refill(b, t0 + DAY_S, 25 * MG, program=late_program(25 * MG))
    b.delay_s = delay_s
    t = t0 + DAY_S + offset_s
    out = b.submit(c.RequestBolus(P), t)
    granted = any(e.granted for e in out.effects if isinstance(e, BolusDecision))
    greedy_clinician_boluses(b, t + DAY_S - HOUR_S, t + DAY_S + 1200, 300, 300, CAP)
    b.advance(b.now + 3 * HOUR_S)
    assert not b.anomalies and not b.pending and b.dead_volume_nl is not None
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    most, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine")
    assert most is not None
    return brute - CAP, most[0] - CAP, granted


def test_boluses_to_the_maximum_around_a_front_with_immediate_reports_stay_under_it(
    library: Library,
) -> None:
    """REQ-GOV-002, REQ-GOV-004, R-TIP-3: the same sequence with every report immediate: the
    patient bolus granted, the clinician boluses a day later bring the largest window to the
    hard maximum exactly, not above (brute force 0 ng over; FIFO reference 12.5 ng under)."""
    brute, fifo, granted = _largest_over_cap(library, 12600, 0)
    assert granted
    assert brute <= 0 and fifo <= 0, (float(brute), float(fifo))


@pytest.mark.parametrize("offset_s", [11400, 12600, 13800])
def test_boluses_to_the_maximum_around_a_front_with_a_late_cut_report_stay_under_it(
    library: Library, offset_s: int
) -> None:
    """REQ-GOV-002, REQ-GOV-004, REQ-TIP-001, R-TIP-3: the patient bolus 600 s (11,400 s after
    the refill), 1800 s (12,600 s) or 3000 s (13,800 s) into a basal hour, while the path holds
    59,000 nL of the 10 mg/mL fluid ahead of the 25 mg/mL one, its cut order reported 400 s
    late: no window above the hard maximum. The core pushes the bolus's report into its path
    before the cut order's, though the drive moved the cut order first; since the path held two
    fluids at the cut, the late report is counted as an instant at the report (R-TIP-3). Now at
    the maximum exactly (brute force; 0, 0 and 8 ng under by the FIFO reference). Before that:
    121,755, 408,715 and 566,800 ng above (the cut order moved 9,722, 29,166 and 48,611 nL by
    the cut, booked as the richer fluid at the cut and the bolus as the leaner one); before
    R-TIP-3's fix, which counted the cut order's volume at its report: 64,800 ng under, 202,500
    and 351,905 ng above."""
    brute, fifo, granted = _largest_over_cap(library, offset_s, 400)
    assert granted
    assert brute <= 0 and fifo <= 0, (float(brute), float(fifo))
