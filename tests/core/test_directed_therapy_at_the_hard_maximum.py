"""Directed therapies at and near the hard maximum, driven through ``step`` by the independent
reference bench (tests/itdose_physics.py: FIFO path, a drive that keeps each order's pace, exact
fractions), aimed at the ledger's integer peak (REQ-GOV-002, REQ-GOV-004, REQ-TIP-004).

Each history asserts, from the reference only: every rolling 24 h window of each drug leaving the
tip is at most its hard maximum; an accepted program's basal is delivered in full in every steady
24 h window (``basal_shortfalls``: minus one rounding unit; drives that move every order whole);
the drive was never given two orders at once nor asked for more than the reservoir held; and the
attack had teeth (the windows did reach the cap, so a limit that was never approached is not
counted as a pass). The attacks: one-day basal orders (``max_segment_s``), clinician boluses of
one second (flows far faster than the pieces leaving the window, so the largest window ends
between whole seconds), patient boluses exactly at their lockout's end, a clock-bound (wall
clock, UTC) flex schedule, refills during a flush with two concentrations, a drug change and back.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from itdose_physics import (
    DAY_S,
    FULL_MODES,
    HOUR_S,
    MG,
    Bench,
    Mode,
    basal_shortfalls,
    greedy_clinician_boluses,
    implanted_and_dosing,
    refill,
)

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision
from itdose.core.program import Basal, FlexClock, FlexStep, PatientBolusProgram, Program

C, P = Role.CLINICIAN, Role.PATIENT
CAP_MORPHINE = 20 * MG


def _morphine(conc_mg: int, basal: Basal, bolus: PatientBolusProgram | None = None) -> Program:
    return Program("morphine", "pain", conc_mg * MG, basal, bolus, "opioid-tolerant")


def _judge(b: Bench, drug: str, cap: int, *, reach: Fraction) -> None:
    ex = b.extremes(drug)
    assert not b.anomalies, b.anomalies
    assert ex.max_ng <= cap, (
        f"{float(ex.max_ng)} ng of {drug} in the 24 h ending at t={float(ex.max_at_s)}"
    )
    assert ex.max_ng >= reach, f"only {float(ex.max_ng)} ng: the attack never reached the cap"


@pytest.mark.parametrize("mode", FULL_MODES)
def test_morphine_at_the_hard_maximum_in_one_day_orders(mode: Mode, library: Library):
    """REQ-GOV-002, REQ-TIP-004, REQ-DOSE-009: 20 mg/day (the hard maximum) at 25 mg/mL, the
    controller asking for one-day basal orders: every window holds 20 mg, never more, no
    shortfall."""
    b = Bench(library, mode=mode, max_segment_s=DAY_S)
    t0 = implanted_and_dosing(b, _morphine(25, Basal.continuous(CAP_MORPHINE)))
    b.advance(t0 + 4 * DAY_S)
    _judge(b, "morphine", CAP_MORPHINE, reach=Fraction(CAP_MORPHINE - 50))
    assert basal_shortfalls(b) == []


@pytest.mark.parametrize("duration_s", [1, 60])
def test_one_second_clinician_boluses_into_a_full_window(duration_s: int, library: Library):
    """REQ-GOV-002, REQ-GOV-004: morphine 10 mg/day at 25 mg/mL; every 2 h for 12 h, then once
    a day later, the largest clinician bolus the core accepts, over 1 s (or 60 s): the bolus
    flows rise far faster than the recorded pieces leave the window."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, _morphine(25, Basal.continuous(10 * MG)))
    start = t0 + DAY_S + 1234
    given = greedy_clinician_boluses(b, start, start + 12 * HOUR_S, 2 * HOUR_S, duration_s, 10 * MG)
    given += greedy_clinician_boluses(
        b, start + DAY_S + 1, start + DAY_S + 1, 1, duration_s, 10 * MG
    )
    assert len(given) >= 2
    b.advance(start + 3 * DAY_S)
    _judge(b, "morphine", CAP_MORPHINE, reach=Fraction(CAP_MORPHINE - 1000))


@pytest.mark.parametrize("max_segment_s", [HOUR_S, DAY_S])
def test_patient_boluses_exactly_at_the_lockout_end_with_basal_at_the_rest_of_the_cap(
    max_segment_s: int, library: Library
):
    """REQ-GOV-002, REQ-GOV-009, REQ-TIP-004: 14 mg/day basal and six 1 mg boluses (lockout
    30 min, 6 per 24 h): worst case exactly 20 mg. Every request exactly at the lockout's end
    for three days: six granted per day (the seventh denied for the count), the window reaches
    20 mg and never exceeds it, the basal is never cut; with hourly or one-day basal orders
    (each bolus cancels the basal order in flight)."""
    bolus = PatientBolusProgram(dose_ng=MG, duration_s=300, lockout_s=1800, max_per_24h=6)
    b = Bench(library, max_segment_s=max_segment_s)
    t0 = implanted_and_dosing(b, _morphine(10, Basal.continuous(14 * MG), bolus))
    t = t0 + DAY_S + 600
    granted = 0
    for k in range(3 * 48):
        out = b.submit(c.RequestBolus(P), t + k * 1800)
        (d,) = [e for e in out.effects if isinstance(e, BolusDecision)]
        granted += d.granted
    assert granted == 18
    b.advance(t + 4 * DAY_S)
    _judge(b, "morphine", CAP_MORPHINE, reach=Fraction(CAP_MORPHINE - 100))
    assert basal_shortfalls(b) == []


@pytest.mark.parametrize("clock", [FlexClock.ELAPSED, FlexClock.WALL])
def test_a_clock_bound_flex_schedule_at_the_hard_maximum(clock: FlexClock, library: Library):
    """REQ-GOV-002, REQ-TIP-004: a flex schedule of 16 mg/day for 12 h and 24 mg/day for 12 h
    (20 mg a day: the hard maximum), on the elapsed or the wall clock (UTC), with one-day
    orders requested and clinician boluses as large as accepted every 3 h on the second day."""
    steps = (FlexStep(0, 16 * MG), FlexStep(12 * HOUR_S, 24 * MG))
    basal = Basal(steps=steps)
    b = Bench(library, max_segment_s=DAY_S)
    t0 = implanted_and_dosing(b, _morphine(25, basal))
    if clock is FlexClock.WALL:
        # the same schedule on the wall clock, its steps 5 h 17 min off the elapsed ones
        wall = dataclasses.replace(basal, clock=FlexClock.WALL, timezone="UTC")
        set_wall = c.SetProgram(C, _morphine(25, wall), utc_now_s=1_800_000_000 + 19_020)
        b.submit_overriding(set_wall, t0 + 600)
    greedy_clinician_boluses(b, t0 + DAY_S + 7, t0 + 2 * DAY_S, 3 * HOUR_S, 60, 10 * MG)
    b.advance(t0 + 4 * DAY_S)
    _judge(b, "morphine", CAP_MORPHINE, reach=Fraction(CAP_MORPHINE - 1000))


def test_refills_during_a_flush_with_boluses_at_the_cap(library: Library):
    """REQ-GOV-002, REQ-BRIDGE-002: 10 mg/mL at 10 mg/day refilled to 25 mg/mL, then back to
    10 mg/mL six hours later (the path holds three runs of two concentrations), one-second
    clinician boluses as large as accepted every 30 min across both flushes."""
    p10 = _morphine(10, Basal.continuous(10 * MG))
    p25 = dataclasses.replace(p10, concentration_ng_per_ml=25 * MG)
    b = Bench(library)
    t0 = implanted_and_dosing(b, p10)
    t1 = t0 + DAY_S + 900
    refill(b, t1, 25 * MG, program=p25)
    greedy_clinician_boluses(b, t1 + 60, t1 + 6 * HOUR_S, 2 * HOUR_S, 1, 10 * MG)
    refill(b, t1 + 6 * HOUR_S + 60, 10 * MG, program=p10)
    greedy_clinician_boluses(b, t1 + 6 * HOUR_S + 120, t1 + DAY_S, 3 * HOUR_S, 1, 10 * MG)
    b.advance(t1 + 3 * DAY_S)
    _judge(b, "morphine", CAP_MORPHINE, reach=Fraction(19 * MG))


def test_a_drug_change_and_back_with_boluses_at_each_cap(library: Library):
    """REQ-GOV-002, REQ-TIP-002: morphine 25 mg/mL at 10 mg/day, changed to hydromorphone
    10 mg/mL at 2 mg/day and back, with clinician boluses as large as accepted (60 s) every
    4 h while both drugs leave the tip: each drug's windows stay within its own maximum."""
    p_m = _morphine(25, Basal.continuous(10 * MG))
    p_h = Program(
        "hydromorphone", "pain", 10 * MG, Basal.continuous(2 * MG), None, "opioid-tolerant"
    )
    b = Bench(library)
    t0 = implanted_and_dosing(b, p_m)
    t1 = t0 + DAY_S + 300
    refill(b, t1, 10 * MG, program=p_h, drug="hydromorphone")
    greedy_clinician_boluses(b, t1 + 60, t1 + 2 * DAY_S, 4 * HOUR_S, 60, 10 * MG)
    t2 = t1 + 2 * DAY_S + 600
    refill(b, t2, 25 * MG, program=p_m, drug="morphine")
    # the old drug leaves the tip at its program's dose (0.2 mL/day): 28 h for the 0.234 mL
    greedy_clinician_boluses(b, t2 + 30 * HOUR_S, t2 + 2 * DAY_S, 4 * HOUR_S, 60, 10 * MG)
    b.advance(t2 + 4 * DAY_S)
    cap_h = b.hard_max_ng("hydromorphone")
    assert not b.anomalies
    assert b.extremes("morphine").max_ng <= CAP_MORPHINE
    assert b.extremes("hydromorphone").max_ng <= cap_h
    assert b.extremes("morphine").max_ng >= 19 * MG
    assert b.extremes("hydromorphone").max_ng >= cap_h - 1000


@pytest.mark.parametrize("mode", FULL_MODES)
def test_baclofen_at_its_hard_maximum_in_one_day_orders(mode: Mode, library: Library):
    """REQ-TIP-004, REQ-DOSE-009: baclofen 2000 mcg/mL at 2000 mcg/day (its hard maximum), the
    controller asking for one-day orders: 2000 mcg in every window after the first day, never
    more, no shortfall (the baclofen withdrawal hazard, docs/clinical-basis.md)."""
    cap = library.drug("baclofen", "spasticity-spinal").max_daily.value
    assert cap == 2 * MG
    program = Program("baclofen", "spasticity-spinal", 2 * MG, Basal.continuous(cap), None, None)
    b = Bench(library, mode=mode, max_segment_s=DAY_S)
    t0 = implanted_and_dosing(b, program)
    b.advance(t0 + 4 * DAY_S)
    _judge(b, "baclofen", cap, reach=Fraction(cap - 4))
    assert basal_shortfalls(b) == []
