"""A run of another drug between two fluids of one (a change of drug and back within the
catheter's volume: morphine 25 mg/mL at its 20 mg maximum, refilled with fentanyl 50 mcg/mL at
its 1 mg maximum, and back to morphine seconds to minutes later) leaves the tip like any run:
at its drug's rate, with no false alarm, and the history settles (R-TIP-3, REQ-TIP-003,
REQ-GOV-003, REQ-GOV-002).

Found by the seeded random search of drug changes (tests/core/
test_drug_changes_with_doubts_in_random_histories.py, a local run of 2,000 examples): the run's
plan is withheld for the reservoir. core/flight.py ``reservoir_room_ng`` counts the drug the
reservoir's usable volume pushes out of the tip, rounded down to whole nanograms; for a drug the
reservoir does not hold that is only the run itself, and the basal order of the whole run asks
for its amount rounded up: a run of fentanyl is 0.05 ng a nanolitre, so it is a whole number of
nanograms only for multiples of 20 nL (a run of 5,556 nL, 277.8 ng: asked 278, room 277). The
order is withheld with the HIGH empty-reservoir alarm, the reservoir holding 19.77 mL, and all
delivery stops: no morphine for the patient on 20 mg/day from then on (25,273 s after the
refill, when the fentanyl reaches the tip; the same from a 1 s to a 10 min run of fentanyl).
With a drive moving 99 % of each order, the nanolitre of morphine left before the fentanyl
cannot go with it (``_remnant_ahead`` finds no order of the fentanyl's plan) and is ordered
again without end: 201 orders of 1 nL within the hour (the runaway the drug-change merge fixed
for a run the reservoir can fill). The same on the code before that merge (bacaa18^).
Hydromorphone 2 mg/mL (2 ng a nanolitre) in its place passes (the control).
Fixed (core/basal.py ``_reservoir_room``): a basal order whose volume lies above the empty
threshold has the reservoir room it asks; only an order the usable volume cannot hold is cut to
what that volume pushes out, rounded down (as a bolus's room was already).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from drug_change_kit import ARRIVAL_S, FENTANYL, HYDROMORPHONE, MORPHINE, changed
from itdose_physics import DAY_S, MG, Cumulative
from reset_bench import ResetBench

from itdose.core import Library, Phase
from itdose.core.program import Program


def _there_and_back(
    library: Library, between: Program, after_s: int, mode: str = "uniform"
) -> tuple[ResetBench, int]:
    b = ResetBench(library, mode=mode)  # type: ignore[arg-type]
    t1 = changed(b, ((0, between), (after_s, MORPHINE)), (), days=2)
    assert not b.anomalies
    return b, t1


def _judge(b: ResetBench, t1: int) -> None:
    """No empty-reservoir alarm with the reservoir nearly full, delivery going on, and the day
    after the morphine is back at the tip holds its program to within two nanolitres."""
    alarms = sorted({a for _, _, _, active in b.phases for a in active})
    assert "empty_reservoir" not in alarms, (alarms, b.device.reservoir)
    assert b.device.phase is Phase.ACTIVE
    cum = Cumulative(b.tip(), "morphine")
    day = cum.at(Fraction(t1 + 2 * DAY_S)) - cum.at(Fraction(t1 + DAY_S))
    assert day >= 20 * MG - 2 * 25, float(day)


@pytest.mark.parametrize("after_s", [1, 600])
def test_a_run_of_hydromorphone_between_two_fluids_of_morphine(
    library: Library, after_s: int
) -> None:
    """The control: hydromorphone 2 mg/mL in the fentanyl's place."""
    _judge(*_there_and_back(library, HYDROMORPHONE, after_s))


@pytest.mark.parametrize("after_s", [1, 600])
def test_a_run_of_fentanyl_between_two_fluids_of_morphine(library: Library, after_s: int) -> None:
    """R-TIP-3, REQ-GOV-003: measured, the empty-reservoir alarm at 25,273 s (the fentanyl at
    the tip, ``ARRIVAL_S`` after the refill) and 0 ng of morphine the next day."""
    b, t1 = _there_and_back(library, FENTANYL, after_s)
    assert ARRIVAL_S == 25_272
    _judge(b, t1)


def test_a_nanolitre_before_a_run_of_fentanyl_settles(library: Library) -> None:
    """R-TIP-3 (MIN_RUN_NL, ``_remnant_ahead``), REQ-GOV-002: the history settles."""
    _there_and_back(library, FENTANYL, 1, mode="slow")
