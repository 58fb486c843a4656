"""At a change of drug, the single nanolitre of the old drug a drive that moves a little less
than ordered leaves at the tip goes out in one order with the drug behind it (R-TIP-3,
MIN_RUN_NL), counted drug by drug, each under its own hard maximum (REQ-GOV-002, REQ-TIP-003).

Before, a remnant of the old drug was always its own order: a drive that moves 99 % of each
order (``slow``) moved 0 of a 1 nL order, and the core ordered it again without end (201 orders
within the hour, :class:`itdose_physics.Runaway`), and so did one that idles the first third
of each order (``pause``), after every change here but the one there and back. The same held
for a remnant of one concentration before a short run of another one of the same drug followed
by another drug (morphine 25 -> 10 mg/mL, then hydromorphone a minute later): the order across
the concentration was taken only when the segment's basal fitted before the next fluid.

Each history is judged from what the drive moved, by the FIFO reference and brute-force 24 h
windows per drug (tests/itdose_physics.py), with both drugs at their hard maximum (morphine 25
mg/mL at 20 mg/day, compounded hydromorphone 2 mg/mL at 10 mg/day): no window over either
maximum, the old drug never faster than its own program (the busiest 10 min within a rounding
unit of it), and the path left holding only the last fluid.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from itdose_physics import (
    DAY_S,
    MG,
    MODES,
    Bench,
    Cumulative,
    Mode,
    implanted_and_dosing,
    refill,
    window_extremes,
)
from itdose_testkit import reach

from itdose.core import Library
from itdose.core.basal import plan_tick
from itdose.core.effects import DeliveryOrder
from itdose.core.path import FluidPath, Segment
from itdose.core.program import Basal, Program
from itdose.core.state import FlushDose, Phase

MORPHINE_25 = Program(
    "morphine", "pain", 25 * MG, Basal.continuous(20 * MG), None, "opioid-tolerant"
)
MORPHINE_10 = Program(
    "morphine", "pain", 10 * MG, Basal.continuous(20 * MG), None, "opioid-tolerant"
)
HYDROMORPHONE = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(10 * MG), None, None)
CAPS = {"morphine": 20 * MG, "hydromorphone": 10 * MG}
SPAN_S = 600

CHANGES = {
    "to hydromorphone": (HYDROMORPHONE,),
    "to hydromorphone and back": (HYDROMORPHONE, MORPHINE_25),
    "there, back and there again": (HYDROMORPHONE, MORPHINE_25, HYDROMORPHONE),
    "a leaner morphine, then hydromorphone": (MORPHINE_10, HYDROMORPHONE),
}


def _changed(library: Library, mode: Mode, programs: tuple[Program, ...]) -> tuple[Bench, int]:
    b = Bench(library, mode=mode)
    t0 = implanted_and_dosing(b, MORPHINE_25)
    t1 = t0 + 3 * DAY_S + 1800
    for i, p in enumerate(programs):
        refill(b, t1 + 60 * i, p.concentration_ng_per_ml, program=p, drug=p.drug)
    b.advance(t1 + 2 * DAY_S)
    assert not b.anomalies
    return b, t1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(CHANGES))
def test_a_remnant_of_the_old_drug_goes_with_the_drug_behind_it(
    library: Library, mode: Mode, name: str
) -> None:
    """REQ-GOV-002, REQ-TIP-003: the history settles (a few orders an hour, the bench's
    :class:`Runaway` otherwise), each drug stays under its hard maximum in every 24 h window,
    and in any 10 min no more of a drug leaves than its program's 10 min and a nanolitre."""
    programs = CHANGES[name]
    b, t1 = _changed(library, mode, programs)
    tip = b.tip()
    for drug, cap in CAPS.items():
        ex = window_extremes(tip, drug)
        assert ex.max_ng <= cap, (drug, float(ex.max_ng), float(ex.max_at_s))
        cum = Cumulative(tip, drug)
        ends = {x for t in cum.breakpoints() for x in (t, t + SPAN_S) if t >= t1}
        windows = [cum.at(t, left=lf) - cum.at(t - SPAN_S, left=lf) for t in ends for lf in (0, 1)]
        busiest = max(windows, default=Fraction(0))
        richest = 25 if drug == "morphine" else 2  # ng in a nanolitre
        assert busiest <= Fraction(cap * SPAN_S, DAY_S) + richest, (drug, float(busiest))
    path = b.device.path
    assert path is not None
    last = programs[-1]
    assert {(s.drug, s.concentration_ng_per_ml) for s in path.segments} == {
        (last.drug, last.concentration_ng_per_ml)
    }
    orders = [t for t, _, fx in b.log if t >= t1 for e in fx if isinstance(e, DeliveryOrder)]
    assert len(orders) <= 2 * 24 * 2 + 40, len(orders)


def test_a_remnant_before_a_drug_with_no_basal_goes_alone(library: Library) -> None:
    """R-TIP-3: the nanolitre of morphine goes with the drug behind it only in that drug's basal
    order; behind it hydromorphone under a program with no basal (boluses only) plans no order,
    so the nanolitre is its own one-second order at morphine's old rate (a unit plan of the
    tick on the test kit's active device; the morphine's old program 1 mg/day)."""
    d = reach(Phase.ACTIVE, library)
    assert d.program is not None and d.reservoir is not None
    program = dataclasses.replace(
        d.program, drug="hydromorphone", concentration_ng_per_ml=2 * MG, basal=Basal.continuous(0)
    )
    d = dataclasses.replace(
        d,
        program=program,
        path=FluidPath(
            (Segment(1, "morphine", 10 * MG), Segment(233_999, "hydromorphone", 2 * MG))
        ),
        reservoir=dataclasses.replace(
            d.reservoir, drug="hydromorphone", concentration_ng_per_ml=2 * MG
        ),
        flush_doses=(FlushDose("morphine", MG),),
        basal_carry=0,
    )
    now = max(d.basal_until_s, d.clock_s or 0)

    plan = plan_tick(d, now, library)

    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now) == (1, 1)
