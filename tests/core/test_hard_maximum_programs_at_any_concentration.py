"""A program accepted at its drug's hard daily maximum is delivered in full at any concentration
the library accepts (REQ-TIP-004, REQ-GOV-002), judged by the independent FIFO reference
(tests/itdose_physics.py), with no refill, no bolus and no other command after dosing starts.

docs/dosing-rules.md R-TIP-4: every 24 h window receives the program's whole basal; accounting
margins are the core's to remove, not the patient's to absorb ("a program accepted at entry
running alone never needs" the delivery-limited alarm: ``basal_shortfalls``). The existing
at-the-maximum tests use 2 mg/mL baclofen and 10 or 25 mg/mL morphine; here the concentration
varies (1, 1.5, 2 mg/mL baclofen; 10, 15, 25 mg/mL morphine) on a Prometra II (20 mL) driven
evenly or at the pace for three days. Judged: every window ending a day or more after dosing
started holds the daily dose minus one rounding unit (two for the drive at the pace), never more.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from itdose_physics import (
    DAY_S,
    FULL_MODES,
    MG,
    NL_PER_ML,
    Bench,
    Mode,
    basal_shortfalls,
    implanted_and_dosing,
)

from itdose.core import Library
from itdose.core.program import Basal, FlexStep, Program

CASES = [
    pytest.param("baclofen", "spasticity-spinal", MG, id="baclofen-1000mcg-per-mL"),
    pytest.param("baclofen", "spasticity-spinal", 2 * MG, id="baclofen-2000mcg-per-mL"),
    # 1.5 mg/mL and 15 mg/mL: hourly orders whose whole-nL/h paces round up, so the exact peak
    # of a full order can be under 1 ng above the cap; the cut that removes it must be the one
    # nanolitre that carries to the next segment (the cap search counts the cut order exactly,
    # at its own pace), not a few nL with delivery_limited (3.5 ng and 35 ng short before)
    pytest.param("baclofen", "spasticity-spinal", 3 * MG // 2, id="baclofen-1500mcg-per-mL"),
    pytest.param("morphine", "pain", 10 * MG, id="morphine-10mg-per-mL"),
    pytest.param("morphine", "pain", 15 * MG, id="morphine-15mg-per-mL"),
    pytest.param("morphine", "pain", 25 * MG, id="morphine-25mg-per-mL"),
]


@pytest.mark.parametrize("mode", FULL_MODES)
@pytest.mark.parametrize(("drug", "indication", "conc"), CASES)
def test_a_program_at_the_hard_maximum_is_never_cut(
    drug: str, indication: str, conc: int, mode: Mode, library: Library
):
    """REQ-TIP-004, REQ-GOV-002: the daily dose in every window, never more, and no
    delivery-limited alarm."""
    cap = library.drug(drug, indication).max_daily.value
    status = "opioid-tolerant" if drug == "morphine" else None
    program = Program(drug, indication, conc, Basal.continuous(cap), None, status)
    b = Bench(library, mode=mode)
    t0 = implanted_and_dosing(b, program)
    b.advance(t0 + 3 * DAY_S)
    assert not b.anomalies
    ex = b.extremes(drug, min_from=Fraction(t0 + DAY_S), min_to=Fraction(b.now))
    unit = Fraction(conc, NL_PER_ML) * (2 if mode == "pace" else 1)
    assert ex.max_ng <= cap
    assert ex.min_ng is not None and ex.min_ng >= cap - unit, float(ex.min_ng)
    assert basal_shortfalls(b) == []
    assert "delivery_limited" not in {a.kind.value for a in b.device.alarms}


@pytest.mark.parametrize("mode", FULL_MODES)
@pytest.mark.parametrize(
    "conc", [pytest.param(12 * MG, id="morphine-12"), pytest.param(19 * MG, id="morphine-19")]
)
@pytest.mark.parametrize("flex", [False, True], ids=["continuous", "flex-22-then-18mg"])
def test_a_program_at_the_hard_maximum_at_a_compounded_strength_is_never_cut(
    conc: int, mode: Mode, flex: bool, library: Library
):
    """REQ-TIP-004, REQ-GOV-002: as above at a morphine strength the library does not list, at
    which the maximum is not a whole number of nanolitres: the basal runs at the maximum as the
    accounting fills it (whole nanolitres a day). Planned at the full maximum, the part the cap
    cannot take (2/3 nL a day at 12 mg/mL) was carried and grew until, two days in, an order
    was cut with the delivery-limited alarm: 47.48 ng (12 mg/mL) and 71.48 ng (19 mg/mL) short
    (34.63 and 75.63 ng for a flex program of 22 mg/day for 12 h, then 18 mg/day)."""
    cap = library.drug("morphine", "pain").max_daily.value
    assert cap * NL_PER_ML % conc != 0
    basal = Basal.continuous(cap)
    if flex:
        basal = Basal(steps=(FlexStep(0, cap + 2 * MG), FlexStep(DAY_S // 2, cap - 2 * MG)))
    program = Program("morphine", "pain", conc, basal, None, "opioid-tolerant")
    b = Bench(library, mode=mode)
    t0 = implanted_and_dosing(b, program)
    b.advance(t0 + 3 * DAY_S)
    assert not b.anomalies
    ex = b.extremes("morphine", min_from=Fraction(t0 + DAY_S), min_to=Fraction(b.now))
    unit = Fraction(conc, NL_PER_ML) * (2 if mode == "pace" else 1)
    assert ex.max_ng <= cap
    assert ex.min_ng is not None and ex.min_ng >= cap - unit, float(ex.min_ng)
    assert basal_shortfalls(b) == []
    assert "delivery_limited" not in {a.kind.value for a in b.device.alarms}
