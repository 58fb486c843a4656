"""The same flex program entered again after a bolus is either refused (nothing changes) or
delivered in full: basal is never withheld because a bolus took the room the schedule needs
(REQ-GOV-008; docs/dosing-rules.md#r-bol-3, "an accepted program is delivered in full"), judged
by the independent reference bench (tests/itdose_physics.py: FIFO path, a drive that keeps each
order's pace, exact fractions).

Entering a program starts its elapsed schedule again from its first step. Since session 16 a
bolus reserves the basal the schedule delivers from where it stands, step by step, not a day at
the highest step: a schedule that starts again at a higher step than the one it stood at puts
more basal in the windows that hold the bolus than the bolus left room for. The core accepts the
program and then withholds its basal with the delivery-limited alarm. With a day at the highest
step reserved (before session 16) any phase of the schedule fitted beside the bolus.

A refill to another concentration needs the program again (at the new strength): the same
schedule entered with it starts again the same way.

Morphine 10 mg/mL, hard maximum 20 mg/day, on a Prometra II with the Prometra catheter trimmed
20 cm; 20 mg/day (or 10 mg/day) for the first 12 h of the program's day, 2 mg/day for the rest.
Since the reserve went back to a day at the highest step, the 20 mg/day schedule has no room for
a bolus (a refusal keeps it all) and the 10 mg/day one has.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Bench,
    Cumulative,
    implanted_and_dosing,
    max_clinician_bolus_ng,
    refill,
)

from itdose.core import DosingError, Library, Role
from itdose.core import commands as c
from itdose.core.program import Basal, FlexStep, Program


def _program(high: int) -> Program:
    basal = Basal(steps=(FlexStep(0, high), FlexStep(12 * HOUR_S, 2 * MG)))
    return Program("morphine", "pain", 10 * MG, basal, None, "opioid-tolerant")


HIGHS = pytest.mark.parametrize("high", [20 * MG, 10 * MG])


@HIGHS
def test_the_same_flex_program_entered_after_the_largest_bolus_is_delivered_or_refused(
    library: Library, high: int
) -> None:
    """REQ-GOV-008, REQ-GOV-002: two days in, at the start of the 2 mg/day step, the largest
    600 s clinician bolus the core accepts (8,999,999 ng at session 16); when it has ended, the
    same program entered again. Either the core refuses it (and the schedule runs on), or it
    delivers the program's first 12 h (10 mg at 20 mg/day) to within two nanolitres, without
    the delivery-limited alarm; and no window over 20 mg either way. At session 16 the program
    was accepted and the next 12 h delivered 1,000,020 ng, about 9 mg of basal withheld, with
    the alarm."""
    program = _program(high)
    b, again = _after_the_largest_bolus(library, program, high)
    b.advance(again)
    entered = not isinstance(b.attempt(c.SetProgram(Role.CLINICIAN, program)), DosingError)
    b.advance(again + 2 * DAY_S)
    assert not b.anomalies, b.anomalies
    assert b.extremes("morphine").max_ng <= 20 * MG
    if entered:
        tip = Cumulative(b.tip(), "morphine")
        got = tip.at(Fraction(again + 12 * HOUR_S)) - tip.at(Fraction(again))
        limited = any("delivery_limited" in kinds for _, _, _, kinds in b.phases)
        assert not limited and abs(got - high // 2) <= 20, (limited, float(got))


def _after_the_largest_bolus(library: Library, program: Program, high: int) -> tuple[Bench, int]:
    """Two and a half days into ``program``, the largest 600 s clinician bolus the core accepts
    (some, unless the highest step is the hard maximum); the bench and the instant after it."""
    b = Bench(library)
    implanted_and_dosing(b, program)
    at = b.device.program_start_s + 2 * DAY_S + 12 * HOUR_S
    b.advance(at)
    dose = max_clinician_bolus_ng(b, 600, 20 * MG)
    if high < 20 * MG:  # a day at the highest step leaves room beside it
        assert dose > 0
    if dose:
        b.submit(c.ClinicianBolus(Role.CLINICIAN, dose, 600))
    return b, at + 601


@pytest.mark.parametrize("high", [10 * MG])
def test_a_refill_to_another_strength_with_the_same_flex_schedule_after_a_bolus(
    library: Library, high: int
) -> None:
    """REQ-GOV-008, REQ-GOV-002: the same bolus; when it has ended, a refill to 25 mg/mL with
    the same schedule (the program at the new strength). Either the refill is refused, or the
    program's first 12 h (10 mg) are delivered to within two nanolitres of 25 mg/mL, without
    the delivery-limited alarm; no window over 20 mg either way. At session 16 the refill was
    accepted and the next 12 h delivered 1,000,020 ng, with the alarm."""
    program = _program(high)
    b, again = _after_the_largest_bolus(library, program, high)
    stronger = dataclasses.replace(program, concentration_ng_per_ml=25 * MG)
    try:
        refill(b, again, 25 * MG, program=stronger)
        entered = True
    except DosingError:
        entered = False
    b.advance(again + 2 * DAY_S)
    assert not b.anomalies, b.anomalies
    assert b.extremes("morphine").max_ng <= 20 * MG
    if entered:
        tip = Cumulative(b.tip(), "morphine")
        got = tip.at(Fraction(again + 12 * HOUR_S)) - tip.at(Fraction(again))
        limited = any("delivery_limited" in kinds for _, _, _, kinds in b.phases)
        assert not limited and abs(got - high // 2) <= 50, (limited, float(got))
