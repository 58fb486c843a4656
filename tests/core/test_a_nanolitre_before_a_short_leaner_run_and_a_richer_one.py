"""A single nanolitre of morphine 25 mg/mL left at the tip (a drive moving 99 % of each order)
before a short run of 10 mg/mL and the 25 mg/mL behind it again (refills 25 -> 10 -> 25 mg/mL
53 min apart, all at the 20 mg maximum): the nanolitre goes out with the fluid behind it
(R-TIP-3), and that order reaches past the short run into the richer fluid: the richer fluid
must still leave at no more than its own rate (REQ-TIP-003: "the rate follows the path's
contents so that the tip delivers the programmed daily dose of what it holds").

Found by the seeded random search of changes within the catheter's volume: the order across
(core/basal.py ``_basal_plan``, ``merged``: ``plan_volume(d, flight, drug, target_fg)`` without
one concentration, an hour's 833,333 ng) holds the nanolitre, the 29,058 nL of 10 mg/mL and
21,709 nL of 25 mg/mL, 50,768 nL over 3,600 s at one pace: the 25 mg/mL leaves at 50,768 nL/h,
1.52 times its 33,333. Judged from what the drive moved by the FIFO reference
(tests/itdose_physics.py): 1,006,981 ng of morphine in the busiest hour against the program's
833,333 (and 209,418 ng in 10 min against 138,889); the 24 h windows hold. The same on the code
before the drug-change merge (bacaa18^); a drive idling the first third of each order gives
184,488 ng in 10 min. Fixed (``_basal_plan``): the order across holds the nanolitre and the next
run of one concentration only, and ends where that run ends.
"""

from __future__ import annotations

from fractions import Fraction

from drug_change_kit import MORPHINE, MORPHINE_10, busiest, changed, judge
from itdose_physics import DAY_S, HOUR_S, MG, Cumulative
from reset_bench import ResetBench

from itdose.core import Library

CHANGES = ((0, MORPHINE_10), (3170, MORPHINE))


def _history(library: Library) -> tuple[ResetBench, int]:
    b = ResetBench(library, mode="slow")
    t1 = changed(b, CHANGES)
    assert not b.anomalies
    return b, t1


def test_morphine_stays_under_its_maximum(library: Library) -> None:
    """REQ-GOV-002: the 24 h windows hold."""
    b, t1 = _history(library)
    assert judge(b, t1).day["morphine"] <= 20 * MG


def test_the_richer_fluid_after_a_short_run_leaves_at_its_own_rate(library: Library) -> None:
    """REQ-TIP-003: no hour holds more morphine than the program's hour and two nanolitres of
    25 mg/mL (measured 825,040 ng; before the fix 1,006,981 ng)."""
    b, t1 = _history(library)
    most = busiest(Cumulative(b.tip(), "morphine"), HOUR_S, t1)
    assert most <= Fraction(20 * MG * HOUR_S, DAY_S) + 2 * 25, float(most)
