"""The largest clinician bolus the core accepts in a flex step that delivers no basal keeps every
24 h window of drug leaving the tip within the hard maximum (REQ-GOV-002; docs/dosing-rules.md
#r-bol-3), judged by the independent reference bench (tests/itdose_physics.py: FIFO path, a
drive that keeps each order's pace, exact fractions, brute-force 24 h windows).

Found by a random attack on the flex reserve of session 16. In a step at 0 no basal order is in
flight, and a bolus order carries the basal carry (fractions of a nanolitre owed: 14.67 ng
before the last bolus, 9 ng of it left by a 19 ng bolus, 1.9 nL) as a whole nanolitre of its
own (the plan's basal inside the order: 1 nL). Since session 16 the reserve for the basal
to come is the schedule (nothing in that step), not a day at the highest step, so nothing
covers that nanolitre when a bolus is sized to the room left. Morphine 10 mg/mL, hard maximum
20 mg/day, 20 mg/day for the first 40,200 s of the program's day and nothing after; on a
Prometra II with the Prometra catheter trimmed 20 cm, a drive that moves every order evenly.
"""

from __future__ import annotations

import pytest
from itdose_physics import DAY_S, MG, Bench, implanted_and_dosing, max_clinician_bolus_ng

from itdose.core import DosingError, Library, Role
from itdose.core import commands as c
from itdose.core.program import Basal, FlexStep, Program


@pytest.mark.parametrize("high", [20 * MG, 10 * MG])
@pytest.mark.parametrize("max_segment_s", [3600, DAY_S])
def test_the_largest_bolus_after_a_small_one_in_a_step_without_basal_keeps_the_maximum(
    library: Library, max_segment_s: int, high: int
) -> None:
    """REQ-GOV-002: in the steps at 0, the largest 600 s clinician bolus the core accepts
    (80,058 s into the program's second day), a 19 ng bolus over 1 s (44,072 s into its third
    day) and the largest 60 s bolus (81,306 s into the third day): no window of what left the
    tip over 20 mg. At session 16 (boluses of 10,694,439 ng each) the window ending with the
    last held 20,000,010 ng, one nanolitre over, and the delivery-limited alarm came after.
    With a day at the highest step reserved again (9349a2d), the 20 mg/day schedule refuses
    the boluses (a refusal keeps the maximum) and the 10 mg/day one grants them."""
    basal = Basal(steps=(FlexStep(0, high), FlexStep(40_200, 0)))
    program = Program("morphine", "pain", 10 * MG, basal, None, "opioid-tolerant")
    b = Bench(library, max_segment_s=max_segment_s)
    implanted_and_dosing(b, program)
    start = b.device.program_start_s
    given = []
    for at, dose, duration in (
        (start + DAY_S + 80_058, None, 600),
        (start + 2 * DAY_S + 44_072, 19, 1),
        (start + 2 * DAY_S + 81_306, None, 60),
    ):
        b.advance(at)
        dose = dose or max_clinician_bolus_ng(b, duration, 20 * MG)
        if dose and not isinstance(
            b.attempt(c.ClinicianBolus(Role.CLINICIAN, dose, duration)), DosingError
        ):
            given.append(dose)
    if high < 20 * MG:  # room beside a day at the highest step
        assert len(given) == 3, given
    b.advance(start + 5 * DAY_S)
    assert not b.anomalies, b.anomalies
    largest = b.extremes("morphine").max_ng
    assert largest <= 20 * MG, (given, float(largest - 20 * MG))
