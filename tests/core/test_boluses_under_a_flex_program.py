"""Boluses under a flex program (REQ-GOV-002, REQ-GOV-008, REQ-TIP-004;
docs/dosing-rules.md#r-bol-3), judged by the independent reference bench (tests/itdose_physics.py:
FIFO path, a drive that keeps each order's pace, exact fractions, brute-force 24 h windows).

A bolus order carries the basal due during it, at the rate of the step the bolus begins in, for
the whole bolus: across a step up the higher step's seconds inside the order get the lower rate
and no later order makes them up, silently (a 1 mg clinician bolus over 1 h a second before a
step from 0 to 16 mg/day leaves 666,667 ng of the day's basal undelivered, no alarm); across a
step down it delivers more basal than the schedule (within the reserve below). Open, pinned by
strict xfails: carrying the schedule's basal step by step (tried in session 16) let a bolus that
begins in a step at 0 push the next step's basal before the reserve for it begins, over the hard
maximum (216,490 ng).

The reserve a bolus leaves for the basal to come is a day at the schedule's highest step, not the
schedule itself: a program entered again, or again at a refill, starts its schedule anew, so the
basal to come can be any stretch of it, and pieces of two (a reserve of the schedule's own day let
a re-entered 10 h / 20 mg program withhold about 9 mg of its basal after a bolus). Under a flex
program whose highest step is near the hard maximum that reserve denies boluses a program
accepted at entry allows: pinned below as open (an exact reserve needs the schedule's phase kept
across re-entries and refills).
"""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Bench,
    Cumulative,
    greedy_clinician_boluses,
    implanted_and_dosing,
    max_clinician_bolus_ng,
)

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import BolusDecision
from itdose.core.governor import Reason
from itdose.core.program import (
    Basal,
    FlexStep,
    PatientBolusProgram,
    Program,
)

C, P = Role.CLINICIAN, Role.PATIENT
CAP = 20 * MG
STEPS = ((0, 3 * MG), (10 * HOUR_S, 20 * MG))
DAILY = Fraction(3 * MG * 10 + 20 * MG * 14, 24)  # 12.92 mg


def _program(
    steps: tuple[tuple[int, int], ...], bolus: PatientBolusProgram | None, conc: int = 10 * MG
) -> Program:
    basal = Basal(steps=tuple(FlexStep(s, r) for s, r in steps))
    return Program("morphine", "pain", conc, basal, bolus, "opioid-tolerant")


def _largest_window(b: Bench) -> tuple[Fraction, Fraction]:
    """The largest 24 h window of morphine that left the tip, and where it ends (the drive was
    never misused)."""
    ex = b.extremes("morphine")
    assert not b.anomalies, b.anomalies
    return ex.max_ng, Fraction(ex.max_at_s)


def _scheduled_ng(steps: tuple[tuple[int, int], ...], since_start_s: int) -> Fraction:
    """The schedule's basal from its start to ``since_start_s`` seconds later, ng, exact."""
    days, second = divmod(since_start_s, DAY_S)
    ends = [*(s for s, _ in steps[1:]), DAY_S]
    total = sum((r * (e - s) for (s, r), e in zip(steps, ends, strict=True)), 0) * days
    total += sum((r * max(0, min(second, e) - s) for (s, r), e in zip(steps, ends, strict=True)), 0)
    return Fraction(total, DAY_S)


def _basal_withheld_ng(
    b: Bench, steps: tuple[tuple[int, int], ...], given: list[tuple[int, int]], lo: int, hi: int
) -> Fraction:
    """What the tip delivered from ``lo`` to ``hi`` short of the schedule's basal and the boluses
    ``given`` (ng; one program throughout, started at the device's program start)."""
    start = b.device.program_start_s
    want = _scheduled_ng(steps, hi - start) - _scheduled_ng(steps, lo - start)
    tip = Cumulative(b.tip(), "morphine")
    return want + sum(dose for _, dose in given) - (tip.at(Fraction(hi)) - tip.at(Fraction(lo)))


@pytest.mark.xfail(
    strict=True,
    reason="open: the bolus reserve is a day at the highest step (docs/dosing-rules.md#r-bol-3)",
)
def test_patient_boluses_under_a_flex_program_with_a_top_step_at_the_maximum_are_granted(
    library: Library,
) -> None:
    """OPEN (pinned; REQ-GOV-008, REQ-GOV-009): 3 mg/day for 10 h, 20 mg/day for 14 h; 1 mg
    patient boluses, lockout 1 h, four a day (a worst case of 16.92 mg, accepted under the 20 mg
    hard maximum). A request every 5 h for three days should be granted but for the count (the
    fifth within 24 h). With a day at the 20 mg/day step reserved, every request is denied as
    "maximum dose reached"."""
    bolus = PatientBolusProgram(dose_ng=MG, duration_s=600, lockout_s=HOUR_S, max_per_24h=4)
    b = Bench(library)
    t0 = implanted_and_dosing(b, _program(STEPS, bolus))
    decisions = []
    for k in range(15):
        out = b.submit(c.RequestBolus(P), t0 + DAY_S + 1800 + k * 5 * HOUR_S)
        (decision,) = [e for e in out.effects if isinstance(e, BolusDecision)]
        decisions.append(decision)
    b.advance(t0 + 5 * DAY_S)
    largest, _ = _largest_window(b)
    assert largest <= DAILY + 4 * MG + 10, float(largest)
    denied = [(k, d.reasons) for k, d in enumerate(decisions) if not d.granted]
    assert all(reasons == (Reason.BOLUS_COUNT,) for _, reasons in denied), denied
    assert not any(AlarmKind.MAX_DOSE_REACHED.value in kinds for _, _, _, kinds in b.phases)


def test_under_a_flex_program_a_bolus_leaves_room_for_a_day_at_the_highest_step(
    library: Library,
) -> None:
    """REQ-GOV-008, REQ-GOV-002: 3 mg/day for 10 h, 16 mg/day for 14 h (10.58 mg a day); a day
    in, the largest 60 s clinician bolus the core accepts is 4 mg (and the 9 ng a held-back
    nanolitre of the basal inside the order allows): room beside a day at the 16 mg/day step,
    so no window of what left the tip comes over 20 mg - 16 mg + 10.58 mg; and the basal is
    never withheld for it (the schedule's day delivered to within a nanolitre)."""
    steps = ((0, 3 * MG), (10 * HOUR_S, 16 * MG))
    daily = Fraction(3 * MG * 10 + 16 * MG * 14, 24)
    b = Bench(library)
    t0 = implanted_and_dosing(b, _program(steps, None))
    at = t0 + DAY_S + 7
    b.advance(at)
    dose = max_clinician_bolus_ng(b, 60, 10 * MG)
    assert 4 * MG - 10 <= dose <= 4 * MG + 9, dose
    b.submit(c.ClinicianBolus(C, dose, 60))
    b.advance(t0 + 4 * DAY_S)
    largest, _ = _largest_window(b)
    assert largest <= CAP - 16 * MG + daily + 10, float(largest)
    withheld = _basal_withheld_ng(b, steps, [(at, dose)], t0 + DAY_S, t0 + 4 * DAY_S)
    assert -10 <= withheld <= 10, float(withheld)


ACROSS_A_STEP = pytest.mark.xfail(
    strict=True,
    reason="open: a bolus carries the basal of the step it begins in (R-BOL-3)",
)


@ACROSS_A_STEP
@pytest.mark.parametrize(
    ("low", "high", "duration_s"),
    [(0, 16 * MG, HOUR_S), (2 * MG, 16 * MG, 600), (0, 16 * MG, 12 * HOUR_S)],
)
def test_a_bolus_across_a_step_up_carries_the_higher_steps_basal(
    library: Library, low: int, high: int, duration_s: int
) -> None:
    """OPEN (pinned; REQ-GOV-008, REQ-TIP-004): ``low`` ng/day for 12 h, ``high`` for 12 h; a
    1 mg clinician bolus over ``duration_s`` a second before the step up, two days in: the day
    from the bolus's start should hold the dose and the schedule's day to within a nanolitre.
    The order carries the lower step's rate throughout, with no alarm: an hour's bolus leaves
    666,667 ng of the day's basal undelivered (from nothing to 16 mg/day)."""
    steps = ((0, low), (12 * HOUR_S, high))
    b = Bench(library)
    t0 = implanted_and_dosing(b, _program(steps, None))
    at = b.device.program_start_s + 2 * DAY_S + 12 * HOUR_S - 1
    b.advance(at)
    b.submit(c.ClinicianBolus(C, MG, duration_s), at)
    b.advance(at + 2 * DAY_S)
    withheld = _basal_withheld_ng(b, steps, [(at, MG)], t0 + DAY_S, at + 2 * DAY_S)
    assert -10 <= withheld <= 10, float(withheld)
    assert not any(AlarmKind.DELIVERY_LIMITED.value in kinds for _, _, _, kinds in b.phases)


@ACROSS_A_STEP
@pytest.mark.parametrize(
    ("high", "low", "duration_s"), [(16 * MG, 0, 12 * HOUR_S), (16 * MG, 2 * MG, 600)]
)
def test_a_bolus_across_a_step_down_carries_the_lower_steps_basal_and_keeps_the_maximum(
    library: Library, high: int, low: int, duration_s: int
) -> None:
    """OPEN (pinned; REQ-GOV-002, REQ-GOV-008): ``high`` ng/day for 12 h, ``low`` for 12 h;
    the largest clinician bolus over ``duration_s`` the core accepts, a second before the step
    down, two days in: no window of what left the tip over 20 mg, and the tip should deliver the
    dose and the schedule's basal to within a nanolitre; it delivers the higher step's rate
    through the order (8 mg more over a 12 h order)."""
    steps = ((0, high), (12 * HOUR_S, low))
    b = Bench(library)
    t0 = implanted_and_dosing(b, _program(steps, None))
    at = b.device.program_start_s + 2 * DAY_S + 12 * HOUR_S - 1
    b.advance(at)
    dose = max_clinician_bolus_ng(b, duration_s, CAP)
    assert dose > 0
    b.submit(c.ClinicianBolus(C, dose, duration_s))
    b.advance(at + 3 * DAY_S)
    largest, _ = _largest_window(b)
    assert largest <= CAP, float(largest - CAP)
    withheld = _basal_withheld_ng(b, steps, [(at, dose)], t0 + DAY_S, at + 3 * DAY_S)
    assert -10 <= withheld <= 10, float(withheld)


def _random_steps(rnd: random.Random) -> tuple[tuple[int, int], ...]:
    n = rnd.randint(2, 4)
    starts = [0, *sorted(rnd.sample(range(600, DAY_S - 600, 600), n - 1))]
    rates = [
        rnd.choice([0, 0, rnd.randint(1, 20) * MG, 20 * MG, rnd.randint(1, CAP)]) for _ in starts
    ]
    if not any(rates):
        rates[0] = 5 * MG
    return tuple(zip(starts, rates, strict=True))


@pytest.mark.parametrize("seed", range(6))
def test_greedy_clinician_boluses_under_random_flex_programs_keep_the_maximum(
    library: Library, seed: int
) -> None:
    """REQ-GOV-002, REQ-GOV-008: random flex schedules of two to four steps (some 0, some at the
    hard maximum, whose daily total fits under it), the largest clinician bolus the core accepts
    every 2 h 13 min for a day (1 s, 60 s or 600 s long, so some cross a step): no window of
    what left the tip over 20 mg, and the schedule's basal delivered to within 50 nL."""
    rnd = random.Random(seed)
    steps = _random_steps(rnd)
    while sum(r * ((steps[i + 1][0] if i + 1 < len(steps) else DAY_S) - s)
              for i, (s, r) in enumerate(steps)) > CAP * DAY_S:  # fmt: skip
        steps = _random_steps(rnd)
    b = Bench(library)
    t0 = implanted_and_dosing(b, _program(steps, None))
    start = t0 + DAY_S + rnd.randint(0, DAY_S)
    b.advance(start)
    given = greedy_clinician_boluses(
        b, start, start + DAY_S, 2 * HOUR_S + 780, rnd.choice([1, 60, 600]), 10 * MG
    )
    b.advance(start + 3 * DAY_S)
    largest, at = _largest_window(b)
    # the basal withheld (announced with the delivery-limited alarm) only as the basal plan's
    # rounding where the ledger counts a window at the maximum after the boluses: at most 50 nL
    # over three days (measured: 0 to 21 nL, 0.002 % of the schedule's basal; a continuous
    # program topped up to the maximum shows the same)
    withheld = _basal_withheld_ng(b, steps, given, start, start + 3 * DAY_S)
    assert -20 <= withheld <= 500, (steps, float(withheld))
    assert largest <= CAP, (steps, float(largest), float(at))


@pytest.mark.parametrize("seed", range(8))
def test_a_flex_programs_basal_is_delivered_step_by_step(library: Library, seed: int) -> None:
    """REQ-DOSE-009, REQ-TIP-004: random flex schedules (two to four steps, some 0, some at the
    hard maximum), no bolus: from the second day on, what leaves the tip within each step is
    the step's rate over its length to within one nanolitre (10 ng at 10 mg/mL) at each end."""
    rnd = random.Random(1000 + seed)
    steps = _random_steps(rnd)
    while sum(r * ((steps[i + 1][0] if i + 1 < len(steps) else DAY_S) - s)
              for i, (s, r) in enumerate(steps)) > CAP * DAY_S:  # fmt: skip
        steps = _random_steps(rnd)
    b = Bench(library)
    t0 = implanted_and_dosing(b, _program(steps, None))
    b.advance(t0 + 3 * DAY_S + 1)
    assert not b.anomalies and not b.device.alarms, (b.anomalies, b.device.alarms)
    tip = Cumulative(b.tip(), "morphine")
    for day in (1, 2):
        for i, (s, rate) in enumerate(steps):
            e = steps[i + 1][0] if i + 1 < len(steps) else DAY_S
            lo, hi = t0 + day * DAY_S + s, t0 + day * DAY_S + e
            got = tip.at(Fraction(hi)) - tip.at(Fraction(lo))
            want = Fraction(rate * (e - s), DAY_S)
            assert abs(got - want) <= 20, (steps, day, s, float(got), float(want))
