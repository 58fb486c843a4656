"""An emergency MRI while the catheter is not yet primed: the priming stopped by a drive fault
with most of the catheter still full of the implant's drug-free fluid, the reservoir full of
drug (REQ-MRI-006, REQ-GOV-005, REQ-GOV-002), judged by the minimal first-in-first-out reference
(tests/fifo_window_reference.py) from the drive's record alone.

Morphine 19 mg/day at 25 mg/mL on a Prometra II with the Prometra catheter trimmed 20 cm (dead
volume 0.234 mL). The priming order (234 000 nL over 480 s) stops 180 s in on a motor stall,
having moved 87 750 nL: the 146 250 nL at the tip are drug-free. The scan moves 0, 5 or 10 uL:
no drug can leave the tip, so it counts none; the path holds the morphine 10 uL nearer the tip
(each place of it the richest fluid within 10 uL behind it, drug-free fluid the leanest), so
that after the valve reset, the fault cleared and the priming finished, morphine is never
counted later than it leaves.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import HOUR_S, IMPLANT_AT, MG, Bench
from ledger_windows_kit import ledger_gaps

from itdose.core import Library, Phase, Role
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import Warn
from itdose.core.path import Segment
from itdose.core.program import Basal, Program

C = Role.CLINICIAN
S = Role.SERVICE
MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(19 * MG), None, "opioid-tolerant")
STALL_AT = IMPLANT_AT + 300
"""180 s into the 480 s priming order."""


@pytest.mark.parametrize("scan_nl", [0, 5_000, 10_000])
def test_a_scan_before_the_drug_reached_the_tip_counts_none_and_never_counts_it_late(
    library: Library, scan_nl: int
) -> None:
    """REQ-MRI-006, REQ-GOV-005, REQ-GOV-002: the scan counts no drug (none can leave) and says
    so; the path holds the morphine exactly 10 uL nearer the tip, never further than it can be;
    after the valve reset, the fault cleared and the priming finished, morphine's window is
    never less than what left the tip in it, for a day and a half, and never over the hard
    maximum."""
    b = Bench(library, mri_nl=Fraction(scan_nl))
    b.submit(c.RecordScreening(C, candidate=True, baseline_pain=8), 0)
    b.submit_overriding(c.StartTrial(C, "morphine", "pain", plan="single intrathecal bolus"), 60)
    b.submit(c.RecordTrialDose(C, amount_ng=300_000), 120)
    b.submit(c.RecordPainScore(C, score=3), 4 * HOUR_S)
    b.submit(c.ConcludeTrial(C), 5 * HOUR_S)
    b.submit_overriding(c.Implant(C, "prometra-ii-20", "prometra-catheter", 200), IMPLANT_AT)
    b.submit_overriding(c.Fill(C, 20_000_000, 25 * MG), IMPLANT_AT + 60)
    b.submit_overriding(c.SetProgram(C, MORPHINE), IMPLANT_AT + 90)
    b.submit(c.Prime(C, duration_s=480), IMPLANT_AT + 120)
    b.submit(c.RaiseAlarm(S, AlarmKind.MOTOR_STALL), STALL_AT)
    assert b.device.phase is Phase.ALARM and not b.running
    assert b.device.path is not None and b.dead_volume_nl == 234_000
    moved = sum(p.volume_nl for p in b.pushes)
    assert moved == 87_750
    assert b.device.path.segments == (
        Segment(146_250, "", 0),
        Segment(87_750, "morphine", 25 * MG),
    )
    before = b.device
    out = b.submit(c.BeginMri(C, emergency=True, reason="trauma: spine imaging cannot wait"))
    new = out.device
    # nothing but drug-free fluid can leave the tip, by the reference, and the scan counts none
    pieces = tip(b.dead_volume_nl, moved_by(b.pushes))
    assert [p for p in pieces if p.drug] == []
    assert new.ledger == before.ledger and new.delivered_ng == before.delivered_ng
    (warn,) = [e for e in out.effects if isinstance(e, Warn) and e.code == "emergency_mri"]
    assert "no drug" in warn.text
    # the morphine held 10 uL nearer the tip: never further from it than the scan can have left
    # it (the reference's drug-free volume at the tip, whatever the scan moved)
    assert new.path is not None
    front = new.path.segments[0]
    assert front == Segment(146_250 - 10_000, "", 0)
    assert front.volume_nl <= b.dead_volume_nl - moved - scan_nl
    assert new.shadows == ()  # one drug within reach of every place: no other drug to hold
    assert new.reservoir is not None and before.reservoir is not None
    assert new.reservoir.volume_nl == before.reservoir.volume_nl - 10_000
    # the valve reset, the fault cleared, the priming finished and dosing started
    at = b.now
    b.submit(c.EndMri(C), at + 600)
    b.submit(c.ConfirmPostMri(C, "valve reset recorded"), at + 660)
    b.submit(c.ClearAlarm(C, AlarmKind.MOTOR_STALL, "drive checked"), at + 720)
    assert b.device.phase is Phase.SUSPENDED and not b.device.primed
    b.submit(c.Prime(C, duration_s=480), at + 780)
    b.advance(at + 1_400)
    assert b.device.primed and not b.running
    b.submit(c.StartDosing(C))
    gaps = ledger_gaps(b, at + 36 * HOUR_S, ("morphine",))
    assert not b.anomalies
    short = [(t - at, float(g)) for t, g in gaps["morphine"] if g > 0]
    assert short == []
    largest, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine")
    assert largest is not None and largest[0] <= 20 * MG, float(largest[0])
