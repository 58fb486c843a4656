"""The largest clinician boluses given right after a patient bolus keep every 24 h window of drug
leaving the tip within the hard maximum (REQ-GOV-002), judged by the independent reference bench
(tests/itdose_physics.py: FIFO path, a drive that keeps each order's pace, exact fractions,
brute-force 24 h windows).

Found by a random attack on the flex reserve of session 16 (it does not need a flex program: no
basal at all shows it). With no basal order in flight (a basal rate of 0), the bolus order
carries the basal carry, the fractions of a nanolitre the doses before it left (10 ng by the
last bolus), as a whole nanolitre of basal inside it (the plan's basal: 1 nL), and the cap
check counted the bolus without it (only a cancelled basal order's debt was counted). It now
counts every whole nanolitre the order carries beyond the schedule's basal inside it
(`core/bolus.py`, docs/dosing-rules.md#r-bol-3). Morphine 10 mg/mL, hard maximum 20 mg/day,
on a Prometra II with the Prometra catheter trimmed 20 cm; patient boluses of 3,298,611 ng over
1800 s (329,861.1 nL: a tenth of a nanolitre carried).
"""

from __future__ import annotations

import pytest
from itdose_physics import DAY_S, MG, Bench, implanted_and_dosing, max_clinician_bolus_ng

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.program import Basal, FlexStep, PatientBolusProgram, Program


@pytest.mark.parametrize(
    "steps",
    [((0, 0),), ((0, 5 * MG), (3600, 0))],
    ids=["no basal", "5 mg a day for the first hour"],
)
def test_the_largest_clinician_boluses_after_a_patient_bolus_keep_the_maximum(
    library: Library, steps: tuple[tuple[int, int], ...]
) -> None:
    """REQ-GOV-002: a patient bolus (1800 s) a day and 98,048 s after dosing starts; 1 s after
    it ends, the largest 1 h clinician bolus the core accepts; 85,855 s later the largest 60 s
    one: no window of what left the tip over 20 mg. Before the fix the window ending with the
    second clinician bolus (it starts 1316 s into the patient bolus) held 20,000,009.58 ng,
    9.58 ng over, with either basal (clinician boluses of 16,701,399 and 2,411,659 ng with no
    basal; 16,493,059 and 2,411,659 ng with the flex one)."""
    bolus = PatientBolusProgram(dose_ng=3_298_611, duration_s=1800, lockout_s=7200, max_per_24h=6)
    basal = Basal(steps=tuple(FlexStep(s, r) for s, r in steps))
    program = Program("morphine", "pain", 10 * MG, basal, bolus, "opioid-tolerant")
    b = Bench(library)
    t0 = implanted_and_dosing(b, program)
    at = t0 + 98_048
    b.submit(c.RequestBolus(Role.PATIENT), at)
    given = []
    for t, duration in ((at + 1801, 3600), (at + 1801 + 85_855, 60)):
        b.advance(t)
        dose = max_clinician_bolus_ng(b, duration, 20 * MG)
        assert dose > 0
        b.submit(c.ClinicianBolus(Role.CLINICIAN, dose, duration))
        given.append(dose)
    b.advance(at + 3 * DAY_S)
    assert not b.anomalies, b.anomalies
    largest = b.extremes("morphine").max_ng
    assert largest <= 20 * MG, (given, float(largest - 20 * MG))
