"""A bolus that begins in a flex step without basal and runs on into a step with basal keeps
every 24 h window of drug leaving the tip within the hard maximum (REQ-GOV-002, REQ-GOV-008;
docs/dosing-rules.md#r-bol-3), judged by the independent reference bench
(tests/itdose_physics.py: FIFO path, a drive that keeps each order's pace, exact fractions,
brute-force 24 h windows).

Found by a random attack on main at 9349a2d (a bolus order carries the schedule's basal step by
step across flex steps). With no basal order in flight (the step at 0), the reserve for the basal
to come starts at the end of the basal already ordered, the next step's start, but the bolus
order pushes the basal it carries (here 19,600 s at 12 mg/day: 2,722,222 ng) evenly from its own
start, together with the dose: a window that ends early in the order holds more of it than the
reserve counts there. Morphine 10 mg/mL, hard maximum 20 mg/day, 12 mg/day for the first
54,000 s of the program's day and nothing after, on a Prometra II with the Prometra catheter
trimmed 20 cm, a drive that moves every order evenly.
"""

from __future__ import annotations

from itdose_physics import DAY_S, MG, Bench, implanted_and_dosing, max_clinician_bolus_ng

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.program import Basal, FlexStep, Program

HOUR_S = 3600


def test_the_largest_boluses_with_a_6_h_one_into_the_next_step_keep_the_maximum(
    library: Library,
) -> None:
    """REQ-GOV-002: on the program's third day, the largest clinician boluses the core accepts:
    6 h at 2762 s, 1 h at 61,583 s, 600 s at 73,000 s (in the step at 0) and 6 h at 84,400 s
    (2000 s before the 12 mg/day step of the next day): no window of what left the tip over
    20 mg. At 9349a2d (boluses of 8,000,009, 1,499,989, 1,553,199 and 6,562,389 ng) the window
    ending a day after the first bolus began held 20,216,490 ng (216,490 over): the last order
    had pushed 2,046,910 ng by then, where its dose at its own pace from its start and the basal
    at the highest step from the next step's start make 1,830,348 ng."""
    program = Program(
        "morphine",
        "pain",
        10 * MG,
        Basal(steps=(FlexStep(0, 12 * MG), FlexStep(54_000, 0))),
        None,
        "opioid-tolerant",
    )
    b = Bench(library)
    implanted_and_dosing(b, program)
    day = b.device.program_start_s + 2 * DAY_S
    given = []
    for at, duration in ((2762, 6 * HOUR_S), (61_583, HOUR_S), (73_000, 600), (84_400, 6 * HOUR_S)):
        b.advance(day + at)
        dose = max_clinician_bolus_ng(b, duration, 20 * MG)
        if dose:
            b.submit(c.ClinicianBolus(Role.CLINICIAN, dose, duration))
        given.append(dose)
    b.advance(day + 4 * DAY_S)
    assert not b.anomalies, b.anomalies
    largest = b.extremes("morphine").max_ng
    assert largest <= 20 * MG, (given, float(largest - 20 * MG))
