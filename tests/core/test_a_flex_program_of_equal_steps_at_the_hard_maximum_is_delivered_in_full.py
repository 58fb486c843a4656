"""A flex program whose steps all run at the hard maximum (a day's total of exactly 20 mg) is
delivered in full, as the same rate in one step is: no basal withheld, no delivery-limited
alarm (REQ-DOSE-009, REQ-TIP-004; "an accepted program is delivered in full"), judged by the
independent reference bench (tests/itdose_physics.py: FIFO path, a drive that keeps each
order's pace, exact fractions). No bolus is involved.

Found by a random attack on the flex reserve of session 16 (its random schedules often draw
20 mg/day steps). A step boundary that is not on the hour shortens the basal order before it;
a day later a tick withheld one second of basal (23 nL at 10 mg/mL) for the daily cap, with the
alarm. Morphine 10 mg/mL, hard maximum 20 mg/day, on a Prometra II with the Prometra catheter
trimmed 20 cm.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from itdose_physics import DAY_S, MG, Bench, Cumulative, Mode, implanted_and_dosing

from itdose.core import Library
from itdose.core.program import Basal, FlexStep, Program

STEPS_OPEN = pytest.mark.xfail(
    strict=True,
    reason="open (session 16 attack): a step off the hour withholds a second at the maximum",
)


@pytest.mark.parametrize("mode", ["uniform", "pace"])
@pytest.mark.parametrize(
    "starts",
    [
        pytest.param((0, 6000), id="two steps", marks=STEPS_OPEN),
        pytest.param((0, 6000, 70_200), id="three steps", marks=STEPS_OPEN),
        pytest.param((0,), id="one step"),
    ],
)
def test_a_program_of_20_mg_a_day_in_every_step_is_delivered_in_full(
    library: Library, starts: tuple[int, ...], mode: Mode
) -> None:
    """REQ-DOSE-009, REQ-TIP-004: 20 mg/day in every step (steps from 0 s and 6000 s, and
    70,200 s, into the program's day; one step as the control), three days: no delivery-limited
    alarm, each day within one nanolitre (10 ng) of 20 mg, and no window over it. At session 16
    the flex programs withheld 23 nL at 90,000 s after the program's start (and the three-step
    one again at 240,000 s), with the alarm: days 240 and 230 ng short."""
    program = Program(
        "morphine",
        "pain",
        10 * MG,
        Basal(steps=tuple(FlexStep(s, 20 * MG) for s in starts)),
        None,
        "opioid-tolerant",
    )
    b = Bench(library, mode=mode)
    implanted_and_dosing(b, program)
    start = b.device.program_start_s
    b.advance(start + 4 * DAY_S)
    assert not b.anomalies, b.anomalies
    assert b.extremes("morphine").max_ng <= 20 * MG
    tip = Cumulative(b.tip(), "morphine")
    short = [
        20 * MG - (tip.at(Fraction(start + (k + 1) * DAY_S)) - tip.at(Fraction(start + k * DAY_S)))
        for k in (1, 2, 3)
    ]
    limited = any("delivery_limited" in kinds for _, _, _, kinds in b.phases)
    assert not limited and all(s <= 10 for s in short), (limited, [float(s) for s in short])
