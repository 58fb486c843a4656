"""A refill to a leaner concentration begun after a bolus ended but before the final report of the
basal order that bolus cut (the drive stopped that order at the cut; its report reaches the core
later). The cut order moved the older, richer fluid into the path before the refill, but the
core, counting its volume only at the report, pushes it into its path as the reservoir's fluid
at the report: the new, leaner one. When that slug reaches the tip hours later, the core counts
the leaner fluid where the richer one leaves (and ends the concentration bridge that much
early), and boluses given up to the hard maximum as the ledger sees it exceed it.

Judged by the whole-nanolitre brute force (tests/whole_nl_drive.py) and the first-in-first-out
reference (tests/fifo_window_reference.py), from the drive's own record. Morphine on a
Prometra II, Prometra catheter trimmed 20 cm, 25 mg/mL, 14 mg/day, 1 mg patient boluses over
300 s (the 20 mg hard maximum exactly); a patient bolus 3000 s into a basal hour a day after
dosing starts, a complete refill to 10 mg/mL (the same program in mg) 350 s after it, the cut
order reported ``delay_s`` after the cut; then the largest clinician bolus the core accepts every
600 s from 8 h to 14 h after the bolus (while the refill's front reaches the tip).
"""

from __future__ import annotations

from fractions import Fraction

from fifo_window_reference import moved_by, tip, windows
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    ML,
    C,
    greedy_clinician_boluses,
    implanted_and_dosing,
    refill,
)
from late_reports import LateCutReports, late_program
from whole_nl_drive import largest_window

from itdose.core import Library, RejectedCommand, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision

P = Role.PATIENT
CAP = 20 * MG


def _over_cap(library: Library, delay_s: int) -> tuple[Fraction, Fraction, bool]:
    """The largest window above the hard maximum (brute force, FIFO reference; ng, negative:
    under it), and whether the refill had to wait for the cut order's report."""
    b = LateCutReports(library, mode="pace")
    b.pending = []
    t0 = implanted_and_dosing(b, late_program(25 * MG))
    b.advance(t0 + DAY_S)
    b.delay_s = delay_s
    t = max(o.start_s for o in b.device.orders) + 3000
    out = b.submit(c.RequestBolus(P), t)
    assert [e.granted for e in out.effects if isinstance(e, BolusDecision)] == [True]
    waited = False
    try:
        refill(b, t + 350, 10 * MG, program=late_program(10 * MG))
    except RejectedCommand as exc:  # the new fluid goes in only once every report is in
        assert "still being reported" in str(exc) and b.device.refill is not None
        b.advance(max(p[0] for p in b.pending) + 1)  # every late report in
        b.submit_overriding(c.CompleteRefill(C, 20 * ML, 10 * MG, program=late_program(10 * MG)))
        waited = True
    greedy_clinician_boluses(b, t + 8 * HOUR_S, t + 14 * HOUR_S, 600, 300, CAP)
    b.advance(b.now + 3 * HOUR_S)
    assert not b.anomalies and not b.pending and b.dead_volume_nl is not None
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    most, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine")
    assert most is not None
    return brute - CAP, most[0] - CAP, waited


def test_a_refill_after_the_cut_order_was_reported_leaves_no_window_above_the_maximum(
    library: Library,
) -> None:
    """REQ-GOV-002, REQ-TIP-001, R-TIP-3: the cut order reported at the cut, the refill 350 s
    later: the clinician boluses while the 10 mg/mL front reaches the tip bring the largest
    window to the hard maximum, not above (15 ng under by the brute force)."""
    brute, fifo, waited = _over_cap(library, 0)
    assert brute <= 0 and fifo <= 0 and not waited, (float(brute), float(fifo))


def test_a_refill_before_the_cut_order_is_reported_leaves_no_window_above_the_maximum(
    library: Library,
) -> None:
    """REQ-GOV-002, REQ-TIP-001, REQ-REF-002, R-TIP-3: the cut order reported 400 s after the
    cut, 50 s after the refill would have completed: the completion is refused until the report
    is in (the cut order moved the old fluid), then no window is above the hard maximum. Before
    the completion waited: 296,515 ng above."""
    brute, fifo, waited = _over_cap(library, 400)
    assert waited
    assert brute <= 0 and fifo <= 0, (float(brute), float(fifo))
