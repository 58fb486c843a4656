"""A bolus given in a flex step that delivers no basal leaves room for the steps that follow it
the same day: their basal is delivered in full, not withheld (REQ-GOV-008, docs/dosing-rules.md
#r-bol-3: basal delivery is never cut to make room for a bolus; "an accepted program is
delivered in full"), judged by the independent reference bench (tests/itdose_physics.py: FIFO
path, a drive that keeps each order's pace, exact fractions).

Found by a random attack on the flex reserve of session 16. The window that holds the bolus and
the day's schedule holds exactly the 20 mg hard maximum (the reference), yet a tick before the
day's end withheld the whole of its basal order (a 2400 s order at 20 mg/day: 55,556 nL, 555,556
ng) with the delivery-limited alarm. Morphine 10 mg/mL, hard maximum 20 mg/day, on a Prometra II
with the Prometra catheter trimmed 20 cm, a drive that moves every order evenly; the largest
600 s clinician bolus the core accepts, 19,503 s into the program's second day.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from itdose_physics import (
    DAY_S,
    MG,
    Bench,
    Cumulative,
    implanted_and_dosing,
    max_clinician_bolus_ng,
)

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.program import Basal, FlexStep, Program


@pytest.mark.parametrize("max_segment_s", [3600, DAY_S])
@pytest.mark.parametrize(
    "steps",
    [
        ((0, 0), (51_600, 20 * MG)),
        ((0, 0), (33_600, 12 * MG), (51_600, 20 * MG)),
        ((0, 0), (51_600, 10 * MG)),
        ((0, 0), (33_600, 6 * MG), (51_600, 10 * MG)),
    ],
    ids=["0 then 20 mg", "0, 12 then 20 mg", "0 then 10 mg", "0, 6 then 10 mg"],
)
def test_the_largest_bolus_in_a_step_without_basal_leaves_the_days_later_basal(
    library: Library, steps: tuple[tuple[int, int], ...], max_segment_s: int
) -> None:
    """REQ-GOV-008, REQ-TIP-004: the bolus (11,944,449 ng, and 9,444,449 ng, at session 16);
    the program's second day holds it and the schedule's day to within one nanolitre (10 ng),
    with no delivery-limited alarm, and no window over 20 mg. At session 16 the tick 84,000 s
    into that day withheld its whole order (55,556 nL): the day 555,555 ng short. With a day at
    the highest step reserved again (9349a2d) the 20 mg/day schedules refuse the bolus (a
    refusal leaves the basal whole) and the 10 mg/day ones grant 10,000,009 ng."""
    program = Program(
        "morphine",
        "pain",
        10 * MG,
        Basal(steps=tuple(FlexStep(s, r) for s, r in steps)),
        None,
        "opioid-tolerant",
    )
    b = Bench(library, max_segment_s=max_segment_s)
    implanted_and_dosing(b, program)
    start = b.device.program_start_s
    b.advance(start + DAY_S + 19_503)
    dose = max_clinician_bolus_ng(b, 600, 20 * MG)
    if max(r for _, r in steps) < 20 * MG:  # room beside a day at the highest step
        assert dose > 0
    if dose:
        b.submit(c.ClinicianBolus(Role.CLINICIAN, dose, 600))
    b.advance(start + 4 * DAY_S)
    assert not b.anomalies, b.anomalies
    assert b.extremes("morphine").max_ng <= 20 * MG
    ends = [s for s, _ in steps[1:]] + [DAY_S]
    daily = Fraction(sum(r * (e - s) for (s, r), e in zip(steps, ends, strict=True)), DAY_S)
    tip = Cumulative(b.tip(), "morphine")
    held = tip.at(Fraction(start + 2 * DAY_S)) - tip.at(Fraction(start + DAY_S))
    limited = any("delivery_limited" in kinds for _, _, _, kinds in b.phases)
    short = daily + dose - held
    assert not limited and abs(short) <= 10, (dose, limited, float(short))
