"""The largest clinician boluses the core accepts while a rise of concentration lies within their
reach keep every 24 h window at the tip within the hard maximum (REQ-GOV-002, REQ-TIP-002), judged
by the whole-nanolitre brute force (tests/whole_nl_drive.py) from the drive's record alone.

Morphine 14 mg/day (hard maximum 20 mg) on a Prometra II, Prometra catheter trimmed 20 cm
(234,000 nL), at 10 mg/mL; two days after dosing starts the reservoir is refilled at 25 mg/mL
with the same program. The 25 mg/mL front reaches the tip about 10 h later (23,333 nL/h); from
40 min before to 20 min after that, every 100 s, the largest clinician bolus the core accepts
(over 60 s) is given: a bolus then pushes the rise out of the tip inside its own order, and the
plan counts its own drug fluid by fluid (the plan of an order across two concentrations).
"""

from __future__ import annotations

from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Bench,
    C,
    greedy_clinician_boluses,
    implanted_and_dosing,
    max_clinician_bolus_ng,
)
from itdose_physics import refill as refill_to
from whole_nl_drive import largest_window

from itdose.core import Library
from itdose.core import commands as c
from itdose.core.program import Basal, Program

CAP = 20 * MG
EVERY = 100


def _program(conc: int) -> Program:
    return Program("morphine", "pain", conc, Basal.continuous(14 * MG), None, "opioid-tolerant")


def test_the_largest_clinician_boluses_while_a_rise_is_within_reach_keep_the_maximum(
    library: Library,
) -> None:
    """REQ-GOV-002: boluses are given (the window has room, 6 mg a day less what was given), at
    least one while the path within its reach holds both concentrations, and no window of
    what left the tip exceeds 20 mg."""
    b = Bench(library, mode="uniform")
    t0 = implanted_and_dosing(b, _program(10 * MG))
    t_refill = t0 + 2 * DAY_S
    refill_to(b, t_refill, 25 * MG, program=_program(25 * MG))
    arrival = t_refill + 4 * HOUR_S
    given = greedy_clinician_boluses(b, arrival - 2400, arrival + 1200, EVERY, 60, CAP)
    assert given and sum(ng for _, ng in given) > MG, given
    b.advance(b.now + 2 * DAY_S)
    assert not b.anomalies and b.dead_volume_nl is not None
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    assert brute <= CAP, float(brute - CAP)


def test_the_largest_bolus_cancelling_an_hour_old_basal_order_keeps_the_maximum(
    library: Library,
) -> None:
    """REQ-GOV-002: a first bolus of 0.2 mg, then, 50 min into the basal order after it
    (what that order moved since it started is not reported yet), the largest clinician bolus
    the core accepts while the rise lies within its reach: the window from the first bolus holds
    both boluses and that order's part, and no window of what left the tip exceeds 20 mg."""
    b = Bench(library, mode="uniform")
    t0 = implanted_and_dosing(b, _program(10 * MG))
    t_refill = t0 + 2 * DAY_S
    refill_to(b, t_refill, 25 * MG, program=_program(25 * MG))
    first = t_refill + HOUR_S
    b.advance(first)
    b.submit(c.ClinicianBolus(C, MG // 5, 60))
    b.advance(first + 3000)
    (basal,) = b.device.orders
    assert basal.reported_nl == 0 and b.now - basal.start_s >= 2000, basal
    assert b.device.path is not None
    tip, *_ = b.device.path.segments
    # the rise lies within the bolus's reach, not at the tip
    assert tip.concentration_ng_per_ml == 10 * MG, b.device.path
    dose = max_clinician_bolus_ng(b, 60, CAP)
    assert tip.volume_nl * 10 < dose < CAP, (dose, tip.volume_nl)
    b.submit(c.ClinicianBolus(C, dose, 60))
    b.advance(b.now + 2 * DAY_S)
    assert not b.anomalies
    assert b.extremes("morphine").max_ng <= CAP
