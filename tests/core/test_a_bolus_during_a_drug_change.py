"""A clinician bolus of the new drug asked while the basal order in flight pushes the old drug's
last fluid out of the tip (a drug change under way) is refused, and nothing changes: a bolus
would push the old drug out faster than its own rate (REQ-TIP-002, REQ-BRIDGE-002,
REQ-GOV-010); once the old drug has left, the same bolus is granted and leaves the tip as
the new drug, dose and basal in full (REQ-TIP-002). Judged by the minimal first-in-first-out
reference (tests/fifo_window_reference.py) from the drive's record alone.

Morphine 19 mg/day at 25 mg/mL on a Prometra II with the Prometra catheter trimmed 20 cm (dead
volume 0.234 mL), refilled after a day with hydromorphone 2 mg/mL at 5 mg/day. Seven hours later
the core orders the last 12 334 nL of morphine as its own order (its daily rate over 1 403 s);
a 0.1 mg bolus of hydromorphone over 10 min is asked 100 s into it. The basal order the bolus
would cancel lies wholly in morphine, the drug after it is the program's: the bolus is refused
whatever basal ``bolus._cancelled_debt`` finds owed for it.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from fifo_window_reference import Left, moved_by, tip, windows
from itdose_physics import DAY_S, HOUR_S, MG, Bench, implanted_and_dosing, refill

from itdose.core import Library, LimitViolation, Role
from itdose.core import commands as c
from itdose.core.effects import DeliveryOrder
from itdose.core.governor import Reason
from itdose.core.path import Segment
from itdose.core.program import Basal, Program

C = Role.CLINICIAN
MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(19 * MG), None, "opioid-tolerant")
HYDROMORPHONE = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(5 * MG), None, None)
BOLUS = c.ClinicianBolus(C, dose_ng=100_000, duration_s=600)


def _left(pieces: list[Left], drug: str, a: Fraction, b: Fraction) -> Fraction:
    """The amount of ``drug`` that left the tip in ``(a, b]`` (each piece evenly over its span)."""
    out = Fraction(0)
    for p in pieces:
        if p.drug != drug:
            continue
        if p.t0 == p.t1:
            out += p.ng if a < p.t0 <= b else 0
        elif p.t1 > a and p.t0 < b:
            out += p.ng * (min(b, p.t1) - max(a, p.t0)) / (p.t1 - p.t0)
    return out


def test_a_bolus_of_the_new_drug_waits_for_the_old_drug_to_leave(library: Library) -> None:
    """REQ-TIP-002, REQ-BRIDGE-002, REQ-GOV-010, REQ-GOV-002: refused, with its reason, while
    the old drug's last fluid is in the basal order in flight, the device unchanged; the
    morphine leaves at that order's pace; granted once it has left, the tip then gives the
    hydromorphone dose and the basal inside the bolus in full, within two nanograms; no window
    of either drug over its hard maximum."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, MORPHINE)
    t = t0 + DAY_S
    refill(b, t, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
    b.advance(t + 7 * HOUR_S + 100)
    (last,) = b.running.values()
    assert b.device.path is not None
    assert b.device.path.segments[0] == Segment(12_334, "morphine", 25 * MG)
    assert last.order.volume_nl == 12_334 and last.end - last.start == 1_403
    before = b.device
    with pytest.raises(LimitViolation) as info:
        b.submit(BOLUS)
    assert info.value.field == "command.dose_ng"
    assert Reason.NOT_DELIVERING.value in str(info.value)
    assert b.device is before and b.running.keys() == {last.order.order_id}
    b.advance(last.end)
    pieces = tip(b.dead_volume_nl or 0, moved_by(b.pushes))
    morphine = [p for p in pieces if p.drug == "morphine" and p.t1 > last.start]
    assert sum((p.ng for p in morphine), Fraction(0)) == 12_334 * 25
    assert min(p.t0 for p in morphine) >= last.start and max(p.t1 for p in morphine) == last.end
    # the old drug has left: the same bolus is granted and leaves as hydromorphone
    t_bolus = last.end + 60
    out = b.submit(BOLUS, t_bolus)
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    assert order.kind == "clinician_bolus" and order.duration_s == BOLUS.duration_s
    b.advance(t_bolus + 2 * DAY_S)
    assert not b.anomalies
    pieces = tip(b.dead_volume_nl or 0, moved_by(b.pushes))
    end = Fraction(t_bolus + BOLUS.duration_s)
    got = _left(pieces, "hydromorphone", Fraction(t_bolus), end)
    basal = Fraction(5 * MG * BOLUS.duration_s, DAY_S)
    assert BOLUS.dose_ng + basal - 2 <= got <= BOLUS.dose_ng + basal + 2, float(got)
    for drug in ("morphine", "hydromorphone"):
        largest, _ = windows(pieces, drug)
        assert largest is not None and largest[0] <= b.hard_max_ng(drug), (drug, largest)
