"""After a drug change the old drug leaves the tip at its old program's dose rate (REQ-TIP-003:
"the rate follows the path's contents so that the tip delivers the programmed daily dose of what
it holds ... after a drug change the old drug at the old program's daily dose"), also when a
report that is only an upper bound leaves it within the doubt (R-TIP-6).

Morphine 25 mg/mL at 20 mg/day (33,333 nL/h, its hard maximum), refilled to compounded
hydromorphone 2 mg/mL at 10 mg/day (208,333 nL/h, its hard maximum); the drive resets 30 or
15 min (or 30 s) before the hydromorphone reaches the tip, in the order that pushes the last
morphine out, and the order is reported whole at its end with its doubt (tests/reset_bench.py):
16,000 or 7,667 nL of morphine may still be in the path. The core counts them (a shadow,
R-TIP-6), and the basal through the shadow moves it no faster than morphine's own 20 mg/day
would: 138,892 ng of morphine in the busiest 10 min, the same as without the reset (the
138,889 ng of the program and a rounding unit). Before, the path ran at hydromorphone's rate,
the lane's drug, and put 416,675 ng (208,350 ng) of morphine out in 10 min, three (one and a
half) times the program's (the 24 h windows within the maximum; the lag, not R-TIP-6, moved the
morphine, the same history without the doubt gave the same numbers).

The hydromorphone behind it still reaches the patient in full: from its arrival at the tip it
flows at its program's rate (the first hour and day within a nanolitre of the program's). Where
the controller's bound is looser than the real lag (it says less was surely moved than was), the
basal through the rest of the doubt holds hydromorphone back too; announced in the step of the
report with the delivery-limited alarm and why (R-TIP-4). Judged from what the drive moved by
the FIFO reference (tests/itdose_physics.py).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from itdose_physics import DAY_S, HOUR_S, MG, Cumulative, implanted_and_dosing, refill
from reset_bench import ResetBench

from itdose.core import Library
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.effects import Annunciate, Record
from itdose.core.program import Basal, Program

MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(20 * MG), None, "opioid-tolerant")
HYDROMORPHONE = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(10 * MG), None, None)
ARRIVAL_S = 25_272
"""The hydromorphone reaches the tip this long after the refill (234,000 nL at 33,333 nL/h)."""
SPAN_S = 600
MOST_NG = Fraction(20 * MG * SPAN_S, DAY_S) + 25
"""The morphine 20 mg/day gives in 10 min, and one nanolitre at 25 mg/mL (the drive's rounding)."""
HYDROMORPHONE_NL_NG = 2
"""One nanolitre of hydromorphone 2 mg/mL, ng: the drive's rounding."""


def _run(library: Library, before_s: int | None, sure: Fraction = Fraction(1)) -> ResetBench:
    b = ResetBench(library, mode="pace", sure_share=sure)
    t0 = implanted_and_dosing(b, MORPHINE)
    refill(b, t0 + DAY_S, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
    if before_s is not None:
        b.resets = [t0 + DAY_S + ARRIVAL_S - before_s]
    b.advance(b.now + 2 * DAY_S)
    assert not b.anomalies
    return b


def _busiest(b: ResetBench, drug: str, span_s: int) -> Fraction:
    """The most of ``drug`` that left the tip in any ``span_s`` after the refill (the FIFO
    reference, every breakpoint and breakpoint + span, from both sides)."""
    cum = Cumulative(b.tip(), drug)
    refilled = b.now - 2 * DAY_S
    ends = {x for t in cum.breakpoints() for x in (t, t + span_s) if t >= refilled}
    return max(
        cum.at(t, left=left) - cum.at(t - span_s, left=left) for t in ends for left in (False, True)
    )


def test_without_a_reset_the_old_drug_leaves_at_its_own_rate(library: Library) -> None:
    """REQ-TIP-003: the control (138,892 ng in the busiest 10 min)."""
    assert _busiest(_run(library, None), "morphine", SPAN_S) <= MOST_NG


@pytest.mark.parametrize("sure", [Fraction(1), Fraction(1, 2)])
@pytest.mark.parametrize("before_s", [1800, 900, 30])
def test_the_old_drug_within_a_doubt_leaves_at_its_own_rate(
    library: Library, before_s: int, sure: Fraction
) -> None:
    """REQ-TIP-003 after R-TIP-6: with the doubt the real lag (``sure`` 1) or wider (the
    controller's sure part half of what moved), no 10 min holds more morphine than its program
    gives in 10 min and a rounding unit (416,675 ng before, at 30 min), and no 24 h window of
    either drug more than its hard maximum."""
    b = _run(library, before_s, sure)
    most = _busiest(b, "morphine", SPAN_S)
    assert most <= MOST_NG, float(most)
    assert _busiest(b, "morphine", DAY_S) <= 20 * MG
    assert _busiest(b, "hydromorphone", DAY_S) <= 10 * MG


@pytest.mark.parametrize("before_s", [1800, 900, 30])
def test_the_new_drug_then_reaches_the_tip_in_full(library: Library, before_s: int) -> None:
    """REQ-TIP-004: where the doubt is the drive's real lag, the slowed basal pushes out just the
    morphine that lagged, and the hydromorphone flows at its own rate from its arrival: its
    first hour and its first day each hold the program's amount to within a rounding unit."""
    b = _run(library, before_s)
    tip = b.tip()
    arrival = min(p.t0 for p in tip if p.ng.get("hydromorphone"))
    cum = Cumulative(tip, "hydromorphone")
    for span in (HOUR_S, DAY_S):
        due = Fraction(10 * MG * span, DAY_S)
        got = cum.at(arrival + span) - cum.at(arrival)
        assert due - HYDROMORPHONE_NL_NG <= got <= due + HYDROMORPHONE_NL_NG, (span, float(got))


def test_a_doubt_that_slows_the_new_drug_is_announced_at_the_report(library: Library) -> None:
    """R-TIP-4: the report whose doubt leaves morphine within reach of the hydromorphone raises
    the delivery-limited alarm in its own step and records why (the path itself is not counted
    richer: the doubt's morphine is a shadow, so only the slower drug makes it so)."""
    b = _run(library, 1800, Fraction(1, 2))
    (report_at, order_id, _, _, doubt) = b.bounds[0]
    steps = [fx for t, command, fx in b.log if t == report_at and command.name == "drive_report"]
    assert len(steps) == 1
    fx = steps[0]
    assert Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM) in fx
    why = [e.detail for e in fx if isinstance(e, Record) and e.event == "doubt_counted"]
    assert why and f"order {order_id}: up to {doubt} nL" in why[0]
    assert "no more than its own program's rate" in why[0]
    # the looser bound holds hydromorphone back: its first day from the arrival is short
    tip = b.tip()
    arrival = min(p.t0 for p in tip if p.ng.get("hydromorphone"))
    cum = Cumulative(tip, "hydromorphone")
    assert cum.at(arrival + DAY_S) - cum.at(arrival) < 10 * MG - 50_000
