"""Runs of one drug's concentrations near its hard maximum, back to back: a cut order's carry (the
basal its own, possibly shortened, segment owed) and a remnant of a nanolitre sent with the next
run (core/basal.py), judged from what the drive moved by the FIFO reference
(tests/concentration_run_kit.py): no 24 h window over the hard maximum; no 10 min or hour over
the program's share and one second of its basal (the partial second R-TIP-3 carries at a change)
and two nanolitres of the richest fluid; no window short of the program by more than a rounding
unit (1 nL of the richest fluid) without the delivery-limited alarm on a drive that moves all of
each order (R-TIP-4); no run of tiny orders (at most 30 in an hour).

Morphine (10 and 25 mg/mL, 20 mg/day) and baclofen (500, 1000 and 2000 mcg/mL, 2 mg/day) at
their maxima and up to 10 mcg below; one to three refills, a second to hours apart (a second is
a run of 9 to 23 nL: the rate follows the fluid at the tip), drives moving all of each order,
99 % or 99.9 % of it (the nanolitres they leave at each change are the remnants sent with the
next run), or resetting with a doubt.
Measured before committing (unseeded, 3,000 histories, fentanyl left out: 50 mcg/mL at its 1 mg
maximum empties the 20 mL reservoir within the day): no window over a maximum, never more than
30 orders in an hour (at most 11 in 904 histories where counted); the faults below, pinned
(three of the four measured the same on the core before the change of the carry and the
remnant, 7854747: they predate it).
"""

from __future__ import annotations

import os
from fractions import Fraction

import pytest
from concentration_run_kit import measured
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itdose_physics import MG

from itdose.core import Library

_RANDOM = os.environ.get("HYPOTHESIS_PROFILE") == "ci-random"
CONCS = {"morphine": (10 * MG, 25 * MG), "baclofen": (MG // 2, MG, 2 * MG)}


@pytest.mark.parametrize(
    ("drug", "concs", "gaps"),
    [
        pytest.param("morphine", (25 * MG, 10 * MG, 25 * MG), (1,), id="morphine-25-10-25-1s"),
        pytest.param("morphine", (10 * MG, 25 * MG, 10 * MG), (1,), id="morphine-10-25-10-1s"),
        pytest.param("baclofen", (2 * MG, MG // 2, 2 * MG), (1,), id="baclofen-2000-500-2000-1s"),
        pytest.param("baclofen", (2 * MG, MG // 2, MG, 2 * MG), (1, 2), id="baclofen-3-runs"),
        pytest.param("morphine", (25 * MG, 10 * MG, 25 * MG, 10 * MG), (900, 900), id="hourly"),
    ],
)
@pytest.mark.parametrize("delivers", [Fraction(1), Fraction(99, 100)], ids=["whole", "99%"])
def test_short_runs_at_the_hard_maximum(
    library: Library,
    drug: str,
    concs: tuple[int, ...],
    gaps: tuple[int, ...],
    delivers: Fraction,
) -> None:
    """REQ-GOV-002, REQ-TIP-003, REQ-TIP-004: runs of a second (9 to 23 nL at these rates,
    the rate following the fluid at the tip) or of 15 min (three runs within an hour) at the
    hard maximum: every bound of the module doc holds, on a drive that moves all of each order
    and on one that moves 99 % of it, leaving nanolitres at each change (never a run of
    one-nanolitre orders)."""
    m = measured(library, drug, concs, gaps, delivers=delivers)
    faults = m.faults(full=delivers == 1)
    assert not faults, faults


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason=(
        "a run of a second of the leaner fluid between two of the richer near the hard maximum "
        "(morphine 25 -> 10 -> 25 mg/mL 10 mcg under it, a 9 nL run; baclofen 2000 -> 500 -> "
        "2000 mcg/mL 231 ng under it): the order after the leaner nanolitres pushes more than "
        "a second's basal in one second (morphine: 24 nL of 25 mg/mL, 600 ng, 2.6 s of basal): "
        "morphine's busiest 10 min 139,185 ng against 139,101 (the program's 138,819, a second "
        "231, two nL 50), its busiest hour 833,269 against 833,198; baclofen's 13,924 against "
        "13,914 and 83,361 against 83,351 (both measured the same before 7854747); baclofen "
        "2000 -> 500 -> 1000 mcg/mL (150 mm, the first refill on the hour) 7.6 ng over in "
        "10 min and 7.0 in the hour"
    ),
)
@pytest.mark.parametrize(
    ("drug", "concs", "gaps", "below_ng", "trimmed_mm", "offset_s"),
    [
        pytest.param(
            "morphine",
            (25 * MG, 10 * MG, 25 * MG, 10 * MG),
            (1, 16_788),
            10_000,
            238,
            833,
            id="morphine-25-10-25-10",
        ),
        pytest.param("baclofen", (2 * MG, MG // 2, 2 * MG), (1,), 231, 236, 727, id="baclofen"),
        # found by a fresh random search (ci-random) in session 14, the same on the code before
        # it: 7.59 ng over in 10 min, 7.00 in the hour
        pytest.param(
            "baclofen", (2 * MG, MG // 2, MG), (1,), 231, 150, 0, id="baclofen-2000-500-1000"
        ),
    ],
)
def test_a_one_second_leaner_run_between_two_richer_ones_keeps_the_rate(
    library: Library,
    drug: str,
    concs: tuple[int, ...],
    gaps: tuple[int, ...],
    below_ng: int,
    trimmed_mm: int,
    offset_s: int,
) -> None:
    """REQ-TIP-003, REQ-TIP-004: the first two refills a second apart, a drive that moves all of
    each order: no 10 min or hour over the program's rate (module doc). Measured: morphine
    (trimmed 238 mm, the first refill 833 s into the hour, the last 16,788 s after the second)
    84.5 ng over in 10 min and 70.6 ng in the hour; baclofen (236 mm, 727 s) 9.8 and 10.0 ng."""
    m = measured(
        library, drug, concs, gaps, below_ng=below_ng, trimmed_mm=trimmed_mm, offset_s=offset_s
    )
    assert m.most <= m.cap
    assert m.over(600) <= 0 and m.over(3600) <= 0, (float(m.ten_min), float(m.hour))


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason=(
        "baclofen 1 mcg under its 2 mg maximum, refilled 2000 -> 500 -> 1000 -> 2000 mcg/mL, "
        "the first two a second apart, on a drive that moves 99.9 % of each order: one-second "
        "orders chase the nanolitres it leaves at the change (66 nL of 1000 mcg/mL, 64.5 ng, in "
        "one second against the program's 23 ng/s): the busiest 10 min 13,923 ng against 13,909 "
        "(the program's 13,882, a second 23, two nL 4); before the change of the carry and the "
        "remnant (7854747) 47,762 ng were withheld there with the delivery-limited alarm"
    ),
)
def test_a_drive_at_99_9_percent_through_short_runs_keeps_the_rate(library: Library) -> None:
    """REQ-TIP-003: the catheter trimmed 271 mm, the first refill 2534 s into the hour, the last
    26,077 s after the second, the drive at its pace moving 99.9 % of each order: no 10 min over
    the program's rate (module doc). Measured: 13.98 ng over."""
    m = measured(
        library,
        "baclofen",
        (2 * MG, MG // 2, MG, 2 * MG),
        (1, 26_077),
        below_ng=1000,
        trimmed_mm=271,
        mode="pace",
        delivers=Fraction(999, 1000),
        offset_s=2534,
    )
    assert m.most <= m.cap and m.orders_per_hour <= 30
    assert m.over(600) <= 0, float(m.ten_min)


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason=(
        "baclofen 1 mcg under its 2 mg maximum, refilled 500 -> 1000 -> 500 -> 2000 mcg/mL "
        "(15,776 s, then 51 s apart: a 1,180 nL run of 500 mcg/mL) on a drive that moves all of "
        "each order: a 24 h window 2.23 ng short of the program, one rounding unit being 2 ng "
        "(1 nL at 2000 mcg/mL), without the delivery-limited alarm (measured the same before "
        "7854747; 30 to 200 s apart: 2.22 to 2.49 ng)"
    ),
)
def test_a_short_leaner_run_before_the_richest_loses_at_most_a_unit_silently(
    library: Library,
) -> None:
    """R-TIP-4, REQ-TIP-004: the catheter trimmed 264 mm, the first refill 1712 s into the
    hour: no window short by more than a rounding unit without the alarm. Measured: 2.23 ng."""
    m = measured(
        library,
        "baclofen",
        (MG // 2, MG, MG // 2, 2 * MG),
        (15_776, 51),
        below_ng=1000,
        trimmed_mm=264,
        offset_s=1712,
    )
    assert m.most <= m.cap
    assert m.least >= m.daily - m.unit or m.limited, float(m.daily - m.least)


@st.composite
def _runs(draw: st.DrawFn) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """A drug, one to three refills each to another of its concentrations, the gaps between
    them a second to hours (runs of ten nanolitres to hundreds of microlitres)."""
    drug = draw(st.sampled_from(sorted(CONCS)))
    concs = [draw(st.sampled_from(CONCS[drug]))]
    for _ in range(draw(st.integers(1, 3))):
        concs.append(draw(st.sampled_from([k for k in CONCS[drug] if k != concs[-1]])))
    gap = st.integers(1, 5) | st.integers(5, 400) | st.integers(400, 30_000)
    gaps = tuple(draw(gap) for _ in range(len(concs) - 2))
    return drug, tuple(concs), gaps


@settings(
    max_examples=settings().max_examples if _RANDOM else 12,
    deadline=None,
    # derandomized but under the fresh search of ``ci-random``: its space holds the three pins
    # above, which a random draw of the default profile would otherwise meet now and then
    derandomize=not _RANDOM,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    runs=_runs(),
    below_ng=st.sampled_from([0, 0, 231, 1000, 10_000]),
    trimmed_mm=st.integers(150, 300),
    delivers=st.sampled_from([Fraction(1), Fraction(1), Fraction(99, 100), Fraction(999, 1000)]),
    mode=st.sampled_from(["uniform", "pace", "pause"]),
    resets=st.lists(st.integers(0, 40_000), max_size=2, unique=True),
    sure=st.sampled_from([Fraction(1), Fraction(1, 2)]),
    offset_s=st.integers(0, 3599),
)
def test_short_runs_near_the_hard_maximum_at_random(
    library: Library,
    runs: tuple[str, tuple[int, ...], tuple[int, ...]],
    below_ng: int,
    trimmed_mm: int,
    delivers: Fraction,
    mode: str,
    resets: list[int],
    sure: Fraction,
    offset_s: int,
) -> None:
    """REQ-GOV-002, REQ-TIP-003, REQ-TIP-004: the bounds of the module doc (the shortfall only
    on a drive that moves all of each order and never resets)."""
    drug, concs, gaps = runs
    m = measured(
        library,
        drug,
        concs,
        gaps,
        below_ng=below_ng,
        trimmed_mm=trimmed_mm,
        mode=mode,  # type: ignore[arg-type]
        delivers=delivers,
        resets=tuple(sorted(resets)),
        sure=sure,
        report_after_s=60,
        offset_s=offset_s,
    )
    faults = m.faults(full=delivers == 1 and mode != "pause" and not resets)
    assert not faults, faults
