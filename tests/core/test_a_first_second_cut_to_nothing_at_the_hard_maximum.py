"""At the hard maximum, where the hour's basal order fits whole only after a first second that
delivers nothing, that second orders nothing, with the delivery-limited alarm, and no 24 h window
goes over the hard maximum (REQ-TIP-004, REQ-GOV-002, R-TIP-5), judged by the minimal
first-in-first-out reference (tests/fifo_window_reference.py) from the drive's record alone.

Compounded fentanyl at its 1000 mcg/day hard maximum on a Prometra II with the Prometra catheter
trimmed 20 cm (dead volume 0.234 mL), at 10 mg/mL (1.16 nL/s), refilled at 5 mg/mL and ten
minutes later at 10 mg/mL again (soft limits overridden). The second refill stops the hourly
order in flight; the next order, an hour from the refill's instant, does not fit whole: a window
early in it would be over the maximum by less than a nanolitre of the 10 mg/mL fluid. Cut from
its first second instead (``basal._confined``: the second asks two nanolitres, the cap allows
one), the hour fits after a second of nothing, not after one of a nanolitre: the second holds no
order, its basal is withheld with the alarm, and the hour runs from the next second. Measured:
every window ending a day or more after the first refill holds 999 968 ng or more of the
1 000 000, none more.
"""

from __future__ import annotations

from fractions import Fraction

from fifo_window_reference import moved_by, tip, windows
from itdose_physics import DAY_S, MG, Bench, implanted_and_dosing, refill

from itdose.core import Library
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.effects import Annunciate, DeliveryOrder, Record
from itdose.core.program import Basal, Program

CONCS = (10 * MG, 5 * MG, 10 * MG)
GAP_S = 600


def test_a_first_second_cut_to_nothing_orders_nothing_and_keeps_every_window_under_the_max(
    library: Library,
) -> None:
    """REQ-TIP-004, REQ-GOV-002: the tick at the second refill orders nothing and raises the
    delivery-limited alarm and records the second's two nanolitres as withheld for the daily
    cap; the next second's order runs its hour; by the reference no window
    of fentanyl holds more than the hard maximum, and none ending a day or more after the first
    refill holds less than it by more than one second of basal, the nanolitre withheld and two
    nanolitres of rounding at 10 mg/mL."""
    cap = library.drug("fentanyl", "pain").max_daily.value
    assert cap == MG
    programs = [Program("fentanyl", "pain", k, Basal.continuous(cap), None, None) for k in CONCS]
    b = Bench(library)
    t0 = implanted_and_dosing(b, programs[0], trial_ng=50_000)
    first = t0 + DAY_S + 1234
    refill(b, first, CONCS[1], program=programs[1])
    seen = len(b.log)
    refill(b, first + GAP_S, CONCS[2], program=programs[2])
    b.advance(first + GAP_S + 1)
    at_refill = [fx for at, command, fx in b.log[seen:] if command.name == "tick"]
    limited = Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM)
    cut = [fx for fx in at_refill if limited in fx]
    assert len(cut) == 1 and not any(isinstance(e, DeliveryOrder) for e in cut[0])
    withheld = [e.detail for e in cut[0] if isinstance(e, Record) and e.event == "basal_withheld"]
    assert withheld == ["requested 2 nL; reasons: daily_cap"]  # the second's two nanolitres
    (running,) = b.running.values()
    assert running.start == first + GAP_S + 1 and running.end - running.start == 3600
    b.advance(first + 3 * DAY_S)
    assert not b.anomalies
    pieces = tip(b.dead_volume_nl or 0, moved_by(b.pushes))
    largest, _ = windows(pieces, "fentanyl")
    assert largest is not None and largest[0] <= cap, float(largest[0])
    _, least = windows(pieces, "fentanyl", lo=Fraction(first + DAY_S), hi=Fraction(b.now - 3600))
    assert least is not None
    allowance = Fraction(cap, DAY_S) + Fraction(3 * CONCS[0], 1_000_000)
    assert least[0] >= cap - allowance, float(cap - least[0])
