"""A seeded random search of drug changes while the drive resets (its reports then only an upper
bound with a doubt, R-TIP-6): one to three refills, each to another drug (morphine 25 mg/mL,
hydromorphone 2 or 4 mg/mL, fentanyl 50 mcg/mL, each at its hard maximum), minutes to hours
apart (within the catheter's 234,000 nL or not), up to four resets anywhere, the doubt the real
lag, wider or the whole report, reported at once, a minute, 15 min or at the order's end, the
order going on after a bound or not, each drive behaviour of the reference bench
(REQ-TIP-003, REQ-TIP-006, REQ-GOV-002).

Judged from what the drive moved by the FIFO reference (tests/itdose_physics.py,
tests/drug_change_kit.py): each drug under its own maximum in every 24 h window; each drug's
busiest 10 min and hour after the first change within its program's share, one second of its
basal more (the partial second R-TIP-3 carries at a change) and two nanolitres of its richest
fluid; no runaway (the bench's :class:`itdose_physics.Runaway`, raised). Derandomized: every run
tries the same 25 examples (they pass). Unseeded local runs: within 2,000 examples the search
found the runaway of a fentanyl run followed by another fluid (pinned in
tests/core/test_a_run_of_another_drug_between_two_fluids_of_one.py); with fentanyl left last,
1,500 more passed (99 s). Changes of concentration of
one drug and shorter catheters, left out here, are where two more pinned defects lie
(tests/core/test_a_nanolitre_before_a_short_leaner_run_and_a_richer_one.py,
tests/core/test_the_basal_a_cut_run_carries_is_its_own.py).
"""

from __future__ import annotations

from fractions import Fraction

from drug_change_kit import (
    FENTANYL,
    HYDROMORPHONE,
    HYDROMORPHONE_4,
    MORPHINE,
    changed,
    judge,
    programs_of,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itdose_physics import MODES
from reset_bench import ResetBench

from itdose.core import Library
from itdose.core.program import Program

PROGRAMS = (MORPHINE, HYDROMORPHONE, HYDROMORPHONE_4, FENTANYL)


@st.composite
def _changes(draw: st.DrawFn) -> tuple[tuple[int, Program], ...]:
    """One to three refills, each to another drug than the one before."""
    out: list[tuple[int, Program]] = []
    drug, at = "morphine", 0
    for _ in range(draw(st.integers(1, 3))):
        p = draw(st.sampled_from([p for p in PROGRAMS if p.drug != drug]))
        out.append((at, p))
        drug = p.drug
        at += draw(st.one_of(st.integers(1, 1800), st.integers(1800, 30_000)))
    return tuple(out)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    changes=_changes(),
    resets=st.lists(st.integers(0, 60_000), max_size=4, unique=True),
    mode=st.sampled_from(MODES),
    sure=st.sampled_from([Fraction(1), Fraction(1, 2), Fraction(0)]),
    report_after_s=st.sampled_from([None, 0, 60, 900]),
    keep_going=st.booleans(),
)
def test_each_drug_at_its_own_rate_and_maximum_through_changes_and_doubts(
    library: Library,
    changes: tuple[tuple[int, Program], ...],
    resets: list[int],
    mode: str,
    sure: Fraction,
    report_after_s: int | None,
    keep_going: bool,
) -> None:
    """REQ-TIP-003, REQ-TIP-006, REQ-GOV-002."""
    b = ResetBench(
        library,
        mode=mode,  # type: ignore[arg-type]
        sure_share=sure,
        report_after_s=report_after_s,
        keep_going=keep_going,
    )
    t1 = changed(b, changes, tuple(resets))
    assert not b.anomalies
    faults = judge(b, t1).faults(programs_of(changes), carried_s=1)
    assert not faults, faults
