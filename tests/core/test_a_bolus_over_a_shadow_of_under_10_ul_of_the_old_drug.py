"""A bolus while a shadow a drive's doubt left (R-TIP-6) holds under 10 uL of the old drug at
the tip after a drug change. REQ-TIP-006: the drug a shadow holds "leaves at no more than its own
program's rate"; a bolus pushing the shadow out would move it at the bolus's speed.

Morphine 25 mg/mL at 10 mg/day (16,667 nL/h) refilled with hydromorphone 2 mg/mL at 5 mg/day
(the directed case of tests/core/test_a_bolus_through_a_shadow_of_the_old_drug.py); the drive
resets before the hydromorphone would reach the tip, the order reported whole at its end with
the doubt the real lag; a clinician bolus of 1 mg of hydromorphone over 600 s is asked for every
300 s from the reset on. Judged from what the drive moved by the FIFO reference
(tests/itdose_physics.py). Found by the session 13 attack, when the bolus check let a shadow of
up to 10 uL through (the most R-MRI-5 lets an order push out unsized): with the reset 2100 s
before the arrival, the bolus was granted over a 9,065 nL shadow and morphine's busiest 10 min
from the refill on held 243,300 ng against the old program's 69,444 and two nanolitres
(69,494); 1800 s before, 7,677 nL, 208,600 ng; 600 s before, 2,121 nL, 69,700 ng. Fixed: any
other drug a shadow may hold within the bolus's reach denies it (docs/dosing-rules.md#r-mri-5):
69,446 ng in each case.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from drug_change_kit import busiest
from itdose_physics import DAY_S, MG, Cumulative, implanted_and_dosing, refill, window_extremes
from reset_bench import ResetBench
from shadow_bolus_kit import ARRIVAL_S, HYDROMORPHONE

from itdose.core import DosingError, Library, Role
from itdose.core import commands as c
from itdose.core.effects import DeliveryOrder
from itdose.core.program import Basal, Program

C = Role.CLINICIAN
MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(10 * MG), None, "opioid-tolerant")
SPAN_S = 600
BOUND = Fraction(10 * MG * SPAN_S, DAY_S) + 2 * 25
"""The old program's 10 min and two nanolitres of its fluid: 69,494 ng."""


def _granted_over_the_shadow(library: Library, reset_before_s: int) -> tuple[int, int, Fraction]:
    """(the largest morphine shadow when the bolus was granted, nL (0: never while a shadow held
    morphine), the largest 24 h window of morphine above its maximum, morphine's busiest 10 min
    from the refill on)."""
    b = ResetBench(library, mode="uniform")
    t0 = implanted_and_dosing(b, MORPHINE)
    t1 = t0 + DAY_S
    refill(b, t1, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
    b.resets = [t1 + ARRIVAL_S - reset_before_s]
    t, shadow = t1 + ARRIVAL_S - reset_before_s, 0
    while t < t1 + ARRIVAL_S + 6 * 3600:
        t += 300
        b.advance(t)
        held = [s.volume_nl for s in b.device.shadows if s.drug == "morphine"]
        if not held:
            continue
        out = b.attempt(c.ClinicianBolus(C, MG, SPAN_S))
        if not isinstance(out, DosingError) and any(
            isinstance(e, DeliveryOrder) for e in out.effects
        ):
            shadow = max(held)
            break
    b.advance(t1 + 2 * DAY_S)
    assert not b.anomalies
    tip = b.tip()
    over = int(window_extremes(tip, "morphine").max_ng - 20 * MG)
    return shadow, over, busiest(Cumulative(tip, "morphine"), SPAN_S, t1)


@pytest.mark.parametrize("reset_before_s", [3600, 2100, 1800, 600])
def test_a_shadow_of_the_old_drug_denies_the_bolus_until_it_has_left(
    library: Library, reset_before_s: int
) -> None:
    """REQ-TIP-006, R-MRI-5, REQ-GOV-002: whatever the shadow's size (16,010 nL an hour before
    the arrival, 9,065, 7,677 and 2,121 nL), no bolus is granted while it holds morphine, no
    24 h window of morphine exceeds its maximum, and morphine's busiest 10 min from the refill
    on is within the old program's 10 min and two nanolitres (69,494 ng)."""
    shadow, over, most = _granted_over_the_shadow(library, reset_before_s)
    assert shadow == 0
    assert over <= 0
    assert most <= BOUND, float(most)
