"""After a change of drug, the new program's basal is delivered in full once the tip delivers only
the new drug: every full 24 h window of the steady period holds the programmed daily dose minus at
most one rounding unit (two for a drive at its whole-nL/h pace, which moves each order a little
early) (REQ-TIP-004, R-TIP-4). Judged by the independent physical reference
(tests/itdose_physics.py ``basal_shortfalls``, first-in-first-out catheter, exact windows).

The case below was found by the random property tests/properties/test_tip_basal_in_full.py (its
random profile): morphine at its first program, then a change to compounded hydromorphone
2 mg/mL at its 10 mg/day maximum, hourly orders, a drive at the pace.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from itdose_physics import basal_shortfalls
from tip_histories import simulate

HISTORY = {
    "mode": "pace",
    "segment": 3600,
    "initial": 0,
    "actions": [("program", 1), ("drug", 2, False)],
    "delivers": Fraction(1, 1),
}


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="after a change to hydromorphone 2 mg/mL at 10 mg/day (hourly orders, a drive at the "
    "pace) the first window of the new drug alone holds 9,999,995.7 ng: 4.3 ng short, 0.3 ng "
    "beyond the two rounding units (4 ng) a pace drive is allowed; not traced",
)
def test_the_basal_after_a_change_to_hydromorphone_is_in_full() -> None:
    b = simulate(dict(HISTORY), runaway_fails=True)
    assert not basal_shortfalls(b)
