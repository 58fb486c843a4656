"""A bolus that begins just before a flex program steps up still delivers the basal the schedule
holds during it, or says it did not (REQ-GOV-008: basal is never reduced to make room for a
bolus; REQ-TIP-004; docs/dosing-rules.md#r-tip-4: under-delivery is never silent), judged by the
independent reference bench (tests/itdose_physics.py: FIFO path, a drive that keeps each
order's pace, exact fractions).

A bolus order carries the basal due during it, sized at the rate of the step in which the bolus
begins for the whole bolus; the basal after it resumes at the order's end. Across a step up, the
seconds of the higher step inside the order get the lower step's rate, and no later order makes
them up. (Before session 16 the same held; the new reserve, which counts those seconds at the
higher step, does not deliver them either.)

Morphine 10 mg/mL, hard maximum 20 mg/day, on a Prometra II with the Prometra catheter trimmed
20 cm; the step up begins at 12 h of the program's day; a 1 mg clinician bolus, far below the
maximum (no window near it).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from itdose_physics import DAY_S, HOUR_S, MG, Bench, Cumulative, implanted_and_dosing

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.program import Basal, FlexStep, Program

UP_AT = 12 * HOUR_S
UNIT_NG = 10
"""One nanolitre at 10 mg/mL."""


@pytest.mark.parametrize(
    ("low", "high", "duration_s"),
    [(0, 10 * MG, HOUR_S), (2 * MG, 10 * MG, 600), (0, 10 * MG, 12 * HOUR_S)],
)
def test_a_bolus_a_second_before_a_step_up_delivers_the_days_basal_and_its_dose(
    library: Library, low: int, high: int, duration_s: int
) -> None:
    """REQ-GOV-008, REQ-TIP-004: ``low`` ng/day for 12 h, ``high`` for 12 h; a 1 mg clinician
    bolus over ``duration_s``, 1 s before the step up, two days in: the day from the bolus's
    start holds the dose and the schedule's day to within two nanolitres, or the delivery-
    limited alarm was raised. At session 16 (6c8c80e), with no alarm, and steps up to 20 mg/day
    (which the schedule's own reserve let a bolus go beside): an hour's bolus left 833,110 ng of
    the 20 mg/day step undelivered, a 600 s one 124,793 ng of it (from 2 mg/day), a 12 h one
    9,999,770 ng (the whole step). Here the steps go up to 10 mg/day, so that a day at the
    highest step leaves room for the bolus."""
    program = Program(
        "morphine",
        "pain",
        10 * MG,
        Basal(steps=(FlexStep(0, low), FlexStep(UP_AT, high))),
        None,
        "opioid-tolerant",
    )
    b = Bench(library)
    implanted_and_dosing(b, program)
    at = b.device.program_start_s + 2 * DAY_S + UP_AT - 1
    b.submit(c.ClinicianBolus(Role.CLINICIAN, MG, duration_s), at)
    b.advance(at + 2 * DAY_S)
    assert not b.anomalies, b.anomalies
    tip = Cumulative(b.tip(), "morphine")
    got = tip.at(Fraction(at + DAY_S)) - tip.at(Fraction(at))
    want = MG + Fraction(low * UP_AT + high * (DAY_S - UP_AT), DAY_S)
    limited = any("delivery_limited" in kinds for _, _, _, kinds in b.phases)
    assert limited or abs(got - want) <= 2 * UNIT_NG, float(got - want)
