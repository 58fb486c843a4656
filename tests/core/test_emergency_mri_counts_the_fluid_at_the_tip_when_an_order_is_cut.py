"""An emergency MRI counts, in the drug's 24 h ledger, at least the drug that leaves the catheter
tip at the scan, also when it cuts an order in flight (REQ-MRI-006, REQ-GOV-005), judged by the
minimal first-in-first-out reference (tests/fifo_window_reference.py) from the drive's record
alone.

Morphine 14 mg/day at 25 mg/mL on a Prometra II with the Prometra catheter trimmed 20 cm (dead
volume 0.234 mL), refilled to 10 mg/mL (same daily dose) after two days; 32 400 s later, while
24 000 nL of the 25 mg/mL fluid are still at the tip, a clinician bolus of 3 mg over 10 min is
granted (273 722 nL in flight), and one second later the emergency scan closes the valve: the
drive stops the bolus order at once (a few hundred nL moved) and the labelled 10 uL leave the tip
from the fluid right behind what moved, all of it at 25 mg/mL.
"""

from __future__ import annotations

from fractions import Fraction

from fifo_window_reference import moved_by, tip
from itdose_physics import DAY_S, MG, Bench, implanted_and_dosing, refill

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.program import Basal, Program

C = Role.CLINICIAN


def _program(conc: int) -> Program:
    return Program("morphine", "pain", conc, Basal.continuous(14 * MG), None, "opioid-tolerant")


def test_an_emergency_scan_cutting_a_bolus_counts_what_leaves_the_tip(library: Library):
    """REQ-MRI-006, REQ-GOV-005: the instant counted at the scan is at least the drug that left
    the tip at that instant."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, _program(25 * MG))
    refill(b, t0 + 2 * DAY_S, 10 * MG, program=_program(10 * MG))
    t_bolus = t0 + 2 * DAY_S + 32_400
    b.submit(c.ClinicianBolus(C, 3 * MG, 600), t_bolus)
    assert b.device.path is not None
    assert b.device.path.segments[0].concentration_ng_per_ml == 25 * MG
    t_scan = t_bolus + 1
    b.submit(c.BeginMri(C, emergency=True, reason="trauma: no time to empty"), t_scan)
    counted_fg = sum(p.amount_fg for p in b.device.ledger.pieces if p.instant and p.end_s == t_scan)
    assert b.dead_volume_nl is not None
    left_ng = sum(
        (
            p.ng
            for p in tip(b.dead_volume_nl, moved_by(b.pushes))
            if p.t0 == p.t1 == t_scan and p.drug == "morphine"
        ),
        Fraction(0),
    )
    assert left_ng > 0  # the reference saw the scan's 10 uL leave
    assert Fraction(counted_fg, 10**6) >= left_ng, (counted_fg, float(left_ng))
