"""A bolus that begins just before a flex program steps down keeps every 24 h window of drug
leaving the tip within the hard maximum (REQ-GOV-002, REQ-GOV-008; docs/dosing-rules.md#r-bol-3),
judged by the independent reference bench (tests/itdose_physics.py: FIFO path, a drive that
keeps each order's pace, exact fractions, brute-force 24 h windows). A bolus the core refuses
keeps it too.

A bolus order carries the basal due during it. The bolus plan sizes that basal at the rate of
the step in which the bolus begins, for the whole bolus, while the reserve for the basal to come
(since session 16) counts the schedule step by step: across a step down, the order delivers more
basal than the reserve counts for the same seconds, and a bolus sized to the room the reserve
leaves puts the difference over the hard maximum. With a day of basal at the highest step (the
reserve before session 16) the difference fell inside the reserve's margin.

Morphine 10 mg/mL, hard maximum 20 mg/day, on a Prometra II with the Prometra catheter trimmed
20 cm; the step down begins at 12 h of the program's day.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Bench,
    implanted_and_dosing,
    max_clinician_bolus_ng,
)

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision
from itdose.core.program import Basal, FlexStep, PatientBolusProgram, Program

CAP = 20 * MG
DOWN_AT = 12 * HOUR_S


def _program(high: int, low: int, bolus: PatientBolusProgram | None = None) -> Program:
    basal = Basal(steps=(FlexStep(0, high), FlexStep(DOWN_AT, low)))
    return Program("morphine", "pain", 10 * MG, basal, bolus, "opioid-tolerant")


def _largest_window(b: Bench) -> Fraction:
    ex = b.extremes("morphine")
    assert not b.anomalies, b.anomalies
    return ex.max_ng


def _alarms(b: Bench) -> set[str]:
    return {kind for _, _, _, kinds in b.phases for kind in kinds}


def _greedy_across_the_step_down(
    library: Library, high: int, low: int, early_s: int, duration_s: int
) -> tuple[Bench, int]:
    """Two days in, ``early_s`` before the step down, the largest clinician bolus of
    ``duration_s`` the core accepts; then three days more. Returns the bench and the dose."""
    b = Bench(library)
    implanted_and_dosing(b, _program(high, low))
    at = b.device.program_start_s + 2 * DAY_S + DOWN_AT - early_s
    b.advance(at)
    dose = max_clinician_bolus_ng(b, duration_s, CAP)
    if high < CAP:  # a day at the highest step leaves room beside it
        assert dose > 0
    if dose:
        b.submit(c.ClinicianBolus(Role.CLINICIAN, dose, duration_s))
    b.advance(at + 3 * DAY_S)
    return b, dose


@pytest.mark.parametrize("high", [20 * MG, 10 * MG])
def test_the_largest_600_s_bolus_a_second_before_a_step_down_keeps_the_maximum(
    library: Library, high: int
) -> None:
    """REQ-GOV-002, REQ-GOV-008: 20 mg/day for 12 h, 2 mg/day for 12 h (11 mg a day); the
    largest 600 s clinician bolus the core accepts, 1 s before the step down (8,999,999 ng at
    session 16): no window of what left the tip over 20 mg, and the basal after it is not
    withheld. At session 16 the order held 600 s of basal at 20 mg/day (138,889 ng) where the
    reserve counted 1 s at 20 and 599 s at 2 mg/day (14,097 ng): the window ending with the
    bolus held 20,124,765 ng (124,765 ng over) and the delivery-limited alarm came after."""
    b, _ = _greedy_across_the_step_down(library, 20 * MG, 2 * MG, 1, 600)
    largest = _largest_window(b)
    assert largest <= CAP, float(largest - CAP)
    assert "delivery_limited" not in _alarms(b)


@pytest.mark.parametrize("high", [20 * MG, 10 * MG])
def test_the_largest_12_h_bolus_a_second_before_a_step_to_nothing_keeps_the_maximum(
    library: Library, high: int
) -> None:
    """REQ-GOV-002: 20 mg/day for 12 h, then nothing for 12 h (10 mg a day); the largest 12 h
    clinician bolus the core accepts, 1 s before the step to nothing (9,999,999 ng at session
    16): no window over 20 mg. At session 16 the order held 12 h of basal at 20 mg/day (10 mg)
    where the schedule delivers 231 ng: the window ending with the bolus held 29,999,750 ng,
    half as much again as the hard maximum. With a highest step of 10 mg/day a bolus fits
    beside a day at it."""
    b, _ = _greedy_across_the_step_down(library, high, 0, 1, 12 * HOUR_S)
    largest = _largest_window(b)
    assert largest <= CAP, float(largest - CAP)


def test_patient_boluses_of_a_program_accepted_at_entry_keep_the_maximum_across_a_step_down(
    library: Library,
) -> None:
    """REQ-GOV-002, REQ-GOV-009: 20 mg/day for 12 h, nothing for 12 h (10 mg a day); patient
    boluses of 2.4 mg over 1 h, lockout 1 h, four a day (a worst case of 19.6 mg, accepted under
    the 20 mg hard maximum). Three boluses in the hours without basal, the fourth 1 s before the
    next step to nothing: every one granted, and no window of what left the tip over 20 mg. At
    session 16 the fourth order held an hour of basal at 20 mg/day (833,333 ng) where the
    schedule delivers 231 ng: a window held 20,433,090 ng, with no alarm."""
    bolus = PatientBolusProgram(
        dose_ng=2_400_000, duration_s=HOUR_S, lockout_s=HOUR_S, max_per_24h=4
    )
    b = Bench(library)
    implanted_and_dosing(b, _program(20 * MG, 0, bolus))
    day = b.device.program_start_s + 2 * DAY_S
    granted = []
    for at in (day + 14 * HOUR_S, day + 16 * HOUR_S, day + 18 * HOUR_S, day + DAY_S + DOWN_AT - 1):
        out = b.submit(c.RequestBolus(Role.PATIENT), at)
        (decision,) = [e for e in out.effects if isinstance(e, BolusDecision)]
        granted.append(decision.granted)
    b.advance(day + 5 * DAY_S)
    largest = _largest_window(b)
    assert largest <= CAP, (granted, float(largest - CAP))
