"""A program at its drug's hard maximum, refilled at another concentration with the same daily
dose, is delivered in full through the change (REQ-TIP-004, REQ-BRIDGE-001), judged by the
independent FIFO reference (tests/itdose_physics.py).

R-TIP-3: after a change of concentration the rate follows the fluid at the tip, so the tip
delivers the programmed daily dose of whatever it holds; R-TIP-4: every 24 h window receives the
whole basal, and accounting margins are the core's to remove, not the patient's to absorb. The
refills here are instantaneous (begin, withdraw, complete at one instant: no pause), the drive
moves every order whole and evenly, and no bolus is given: nothing but the accounting can make
the core hold basal back. Judged: every 24 h window ending a day or more after the first refill
holds the daily dose, and none holds more than the hard maximum. The allowance is one second of
basal plus two nanolitres at the richer concentration (the order that ends a run of one fluid
is rounded to whole seconds and whole nanolitres, and its remainder is not carried); a separate
test holds the rule's letter, one rounding unit (1 nL at the concentration).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from itdose_physics import DAY_S, HOUR_S, MG, Bench, implanted_and_dosing, refill

from itdose.core import Library
from itdose.core.program import Basal, Program


def _windows(
    library: Library, drug: str, indication: str, concs: tuple[int, ...], gap_s: int
) -> tuple[Fraction, Fraction, int]:
    cap = library.drug(drug, indication).max_daily.value
    status = "opioid-tolerant" if drug == "morphine" else None
    programs = [Program(drug, indication, k, Basal.continuous(cap), None, status) for k in concs]
    b = Bench(library)
    t0 = implanted_and_dosing(b, programs[0])
    first = t = t0 + DAY_S + 1234
    for program in programs[1:]:
        refill(b, t, program.concentration_ng_per_ml, program=program)
        t += gap_s
    b.advance(t + 4 * DAY_S)
    assert not b.anomalies
    ex = b.extremes(drug, min_from=Fraction(first + DAY_S), min_to=Fraction(b.now))
    assert ex.min_ng is not None
    return ex.max_ng, ex.min_ng, cap


@pytest.mark.parametrize(
    ("drug", "indication", "concs", "gap_s"),
    [
        pytest.param("morphine", "pain", (10 * MG, 25 * MG), 0, id="morphine-10-to-25"),
        pytest.param("morphine", "pain", (25 * MG, 10 * MG), 0, id="morphine-25-to-10"),
        pytest.param(
            "baclofen",
            "spasticity-spinal",
            (2 * MG, MG // 2),
            0,
            id="baclofen-2000-to-500",
        ),
        pytest.param(
            "baclofen",
            "spasticity-spinal",
            (MG // 2, 2 * MG),
            0,
            id="baclofen-500-to-2000",
        ),
        pytest.param(
            "morphine",
            "pain",
            (10 * MG, 25 * MG, 10 * MG),
            2 * HOUR_S,
            id="morphine-10-25-10",
        ),
    ],
)
def test_a_program_at_the_hard_maximum_is_delivered_in_full_through_a_concentration_change(
    drug: str, indication: str, concs: tuple[int, ...], gap_s: int, library: Library
):
    """REQ-TIP-004, REQ-BRIDGE-001: the daily dose in every window, never more."""
    most, least, cap = _windows(library, drug, indication, concs, gap_s)
    allowance = Fraction(cap, DAY_S) + Fraction(2 * max(concs), 1_000_000)
    assert most <= cap
    assert least >= cap - allowance, float(least)


@pytest.mark.xfail(
    strict=True,
    reason=(
        "morphine 20 mg/day at 25 mg/mL refilled to 10 mg/mL at 20 mg/day: no alarm, but the "
        "24 h ending 86 400 s after the refill holds 19 999 760 ng, 240 ng short: more than one "
        "rounding unit (1 nL = 10 ng at 10 mg/mL, 25 ng at 25 mg/mL), silently (about one "
        "second of basal: suspected, the order that ends the 25 mg/mL run, rounded to whole "
        "seconds, whose remainder is not carried; not traced)"
    ),
)
def test_a_concentration_change_loses_at_most_one_rounding_unit(library: Library):
    """REQ-TIP-004: the rule's letter: minus at most one rounding unit, or an alarm."""
    _, least, cap = _windows(library, "morphine", "pain", (25 * MG, 10 * MG), 0)
    assert least >= cap - 25, float(least)
