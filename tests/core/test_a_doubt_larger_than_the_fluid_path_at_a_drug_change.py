"""A catheter trimmed by 1,090 mm (10 mm left) holds 2,600 nL: an hour's basal order of morphine
25 mg/mL at its 20 mg maximum (33,333 nL) is thirteen times the path, so a reset's doubt can be
far larger than the whole path (at the change it is as large), and the shadows it leaves are
clipped to it (a shadow must lie within the path).
Drug changes (to hydromorphone 2 mg/mL at its 10 mg maximum, there and back, there, back and
there again, then fentanyl 50 mcg/mL at its 1 mg maximum) within minutes, the drive resetting
before, during and after them, the doubt the real lag, wider or the whole report, reported at the
order's end or at once (REQ-TIP-006, REQ-TIP-003, REQ-GOV-002).

Judged from what the drive moved by the FIFO reference (tests/itdose_physics.py,
tests/drug_change_kit.py): each drug under its own maximum and at no more than its own program's
10 min and hour (and two nanolitres), no runaway. Measured: all hold (the largest shadows
together 3,720 nL, each within the path).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from covering_grid import cases
from drug_change_kit import FENTANYL, HYDROMORPHONE, MORPHINE, changed, judge, programs_of
from itdose_physics import Mode
from reset_bench import ResetBench

from itdose.core import Library
from itdose.core.program import Program

TRIMMED_MM = 1090
PATH_NL = 2600
CHANGES: dict[str, tuple[tuple[int, Program], ...]] = {
    "to hydromorphone": ((0, HYDROMORPHONE),),
    "there and back": ((0, HYDROMORPHONE), (120, MORPHINE)),
    "there, back and there again": ((0, HYDROMORPHONE), (60, MORPHINE), (120, HYDROMORPHONE)),
    "hydromorphone, then fentanyl": ((0, HYDROMORPHONE), (200, FENTANYL)),
}
RESETS = {
    "at the change": (30,),
    "as it arrives": (250,),
    "before and after": (100, 400),
    "in the new drug's first hour": (1000,),
}

KEPT = [
    "uniform-there and back-before and after-lag-at once",
    "pause-there and back-before and after-whole-at the end",
    "pause-hydromorphone, then fentanyl-at the change-lag-at once",
]
"""Kept beside the pairs (every pair of values, tests/covering_grid.py): the only cases of the
full product reaching a branch of core/ the pairs do not (core/basal.py, core/handlers/
refill.py; docs/coverage.md, "Grids")."""


@pytest.mark.parametrize(
    "mode, change, resets, sure, report_after_s",
    cases(
        {
            "mode": ["uniform", "slow", "pause"],
            "change": sorted(CHANGES),
            "resets": sorted(RESETS),
            "sure": [Fraction(1), Fraction(0)],
            "report_after_s": [None, 0],
        },
        ids={"sure": ["lag", "whole"], "report_after_s": ["at the end", "at once"]},
        keep=KEPT,
    ),
)
def test_a_doubt_larger_than_the_path_keeps_each_drug_at_its_rate(
    library: Library,
    mode: Mode,
    change: str,
    resets: str,
    sure: Fraction,
    report_after_s: int | None,
) -> None:
    """REQ-TIP-006, REQ-TIP-003, REQ-GOV-002."""
    b = ResetBench(library, mode=mode, sure_share=sure, report_after_s=report_after_s)
    t1 = changed(b, CHANGES[change], RESETS[resets], trimmed_mm=TRIMMED_MM)
    assert not b.anomalies
    assert b.device.implant is not None and b.device.implant.dead_volume_nl == PATH_NL
    for s in b.device.shadows:
        assert s.start_nl + s.volume_nl <= PATH_NL
    faults = judge(b, t1).faults(programs_of(CHANGES[change]))
    assert not faults, faults


def test_a_doubt_is_larger_than_the_path(library: Library) -> None:
    """The bench has teeth: a reset in the hour's order of hydromorphone (208,333 nL) reported
    at its end with the whole report in doubt says 80 times what the path holds may not have
    moved (the orders at the change are as large as the path)."""
    b = ResetBench(library, sure_share=Fraction(0))
    resets = RESETS["in the new drug's first hour"]
    changed(b, CHANGES["to hydromorphone"], resets, trimmed_mm=TRIMMED_MM, days=1)
    assert max(doubt for *_, doubt in b.bounds) > PATH_NL
