"""The basal a run's order carries is what its own time owed, also when the hard maximum cuts the
run's order by its last nanolitre (R-TIP-3, R-TIP-4: the rounding unit the cap cannot take
carries to the next segment; REQ-TIP-003, REQ-TIP-006).

Found by the seeded random search of drug changes with a resetting drive: morphine 25 mg/mL at
its 20 mg maximum, the catheter trimmed by 1,000 mm (26,000 nL), refilled with hydromorphone
2 mg/mL at 10 mg/day. The first order is the morphine run to the hydromorphone (26,000 nL, its
segment shortened from the hour to 2,808 s), cut by one nanolitre for the maximum (25,999 nL).
Its carry was computed from the whole hour's basal, not the 2,808 s the run took: 792 s of
morphine's program (183,358 ng). With the drive resetting 1,101 s in (10,194 nL moved) and
reported 900 s later with its doubt, 7,464 nL of morphine were still in the path's model: the
next order, ended at the run's end, took the carry off its time and pushed them out in 15 s
(54 times morphine's rate), 322,007 ng of morphine in 10 min against the program's 138,889 (the
24 h windows within the maximum: the reset's pause left room); the same on the code before the
drug-change merge, fentanyl too. Fixed (core/basal.py ``_basal_plan``): a cut order carries the
basal its own segment owed, the segment shortened where the run ends inside it. Judged from what
the drive moved by the FIFO reference (tests/itdose_physics.py).
"""

from __future__ import annotations

from fractions import Fraction

from drug_change_kit import HYDROMORPHONE, busiest, changed, judge
from itdose_physics import DAY_S, MG, Cumulative
from reset_bench import ResetBench

from itdose.core import Library

SPAN_S = 600
PROGRAM_10_MIN = Fraction(20 * MG * SPAN_S, DAY_S)


def _history(library: Library) -> tuple[ResetBench, int]:
    b = ResetBench(library, report_after_s=900)
    t1 = changed(b, ((0, HYDROMORPHONE),), (1101,), trimmed_mm=1000)
    assert not b.anomalies
    return b, t1


def test_each_drug_stays_under_its_maximum(library: Library) -> None:
    """REQ-GOV-002: the 24 h windows hold."""
    b, t1 = _history(library)
    day = judge(b, t1).day
    assert day["morphine"] <= 20 * MG and day["hydromorphone"] <= 10 * MG


def test_the_old_drug_left_after_a_reset_leaves_at_its_own_rate(library: Library) -> None:
    """REQ-TIP-003, REQ-TIP-006: no 10 min holds more morphine than its program's 10 min and
    two nanolitres (measured 138,892 ng; before the fix 322,007 ng)."""
    b, t1 = _history(library)
    most = busiest(Cumulative(b.tip(), "morphine"), SPAN_S, t1)
    assert most <= PROGRAM_10_MIN + 2 * 25, float(most)
