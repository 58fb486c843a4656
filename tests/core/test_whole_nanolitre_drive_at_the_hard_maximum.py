"""No rolling 24 h window at the tip above the hard maximum when the drive moves whole nanolitres
at whole seconds (R-TIP-5), judged by a brute force over every whole second
(tests/whole_nl_drive.py: each order moved as ``floor`` of its even line, the path first in,
first out by position; no code shared with the core's accounting).

The ledger counts every order as flowing evenly at its pace; such a drive lags that line by under
one nanolitre, never ahead. A window that starts while a richer fluid leaves the tip and ends
while a leaner one does can then hold up to one nanolitre of the richer fluid more than counted
(found by the default cohort: morphine 25 -> 10 mg/mL at its 20 mg maximum, 20 ng over;
baclofen 2000 -> 500 mcg/mL at its 2 mg maximum, 1 ng over; both reproduced here before the
fix). The fix counts that nanolitre once more in every window that starts before the richer
fluid's end and ends after it, and gives the first second after that end an order of its own.

The drive here moves every order at its pace from its start (tests/itdose_physics.py, ``pace``),
which reports exactly what the whole-nanolitre drive reports; the refills are instantaneous and
no bolus is given. Measured (20 runs: four changes and a steady program, four trimmed
catheters): the largest window is the hard maximum exactly in every run.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itdose_physics import DAY_S, HOUR_S, MG, Bench, implanted_and_dosing, refill
from whole_nl_drive import (
    largest_window,
    moved_at,
    moved_at_fn,
    tip_by_second,
    tip_by_second_scaled,
)

from itdose.core import Library
from itdose.core.program import Basal, Program


def _largest(
    library: Library,
    drug: str,
    indication: str,
    concs: tuple[int, ...],
    gap_s: int,
    *,
    trimmed_mm: int = 200,
    daily_ng: int | None = None,
    drug_after: str | None = None,
) -> tuple[Fraction, int, set[str]]:
    """(the largest window of ``drug`` over every whole second, the hard maximum, the alarms
    raised from the first refill on), three days after the last refill."""
    cap = library.drug(drug, indication).max_daily.value
    daily = cap if daily_ng is None else daily_ng
    status = "opioid-tolerant" if drug == "morphine" else None
    programs = [Program(drug, indication, k, Basal.continuous(daily), None, status) for k in concs]
    b = Bench(library, mode="pace")
    t0 = implanted_and_dosing(b, programs[0], trimmed_mm=trimmed_mm)
    first = t = t0 + DAY_S + 1234
    for program in programs[1:]:
        refill(b, t, program.concentration_ng_per_ml, program=program)
        t += gap_s
    if drug_after is not None:
        other = Program(drug_after, indication, 10 * MG, Basal.continuous(MG), None, status)
        refill(b, t, other.concentration_ng_per_ml, program=other, drug=drug_after)
    b.advance(t + 3 * DAY_S)
    assert not b.anomalies
    assert b.dead_volume_nl is not None
    # the order still running at the end is not in the drive's record: judge up to its start
    end = min((r.start for r in b.running.values()), default=b.now)
    most, _ = largest_window(b.dead_volume_nl, b.pushes, drug, (t0, end))
    alarms = {kind for at, _, _, kinds in b.phases if at >= first for kind in kinds}
    return most, cap, alarms


@pytest.mark.parametrize(
    ("drug", "indication", "concs", "gap_s", "trimmed_mm"),
    [
        pytest.param("morphine", "pain", (25 * MG, 10 * MG), 0, 200, id="morphine-25-to-10"),
        pytest.param("morphine", "pain", (25 * MG, 10 * MG), 0, 257, id="morphine-25-to-10-257mm"),
        pytest.param(
            "baclofen",
            "spasticity-spinal",
            (2 * MG, MG // 2),
            0,
            200,
            id="baclofen-2000-to-500",
        ),
        pytest.param(
            "morphine", "pain", (10 * MG, 25 * MG, 10 * MG), 2 * HOUR_S, 211, id="morphine-10-25-10"
        ),
        pytest.param("morphine", "pain", (10 * MG, 25 * MG), 0, 200, id="morphine-10-to-25"),
        pytest.param(
            "morphine", "pain", (20 * MG, 10 * MG, 10 * MG), 1, 150, id="morphine-20-10-10-1s"
        ),
        pytest.param(
            "morphine", "pain", (20 * MG, 10 * MG, 10 * MG), 0, 150, id="morphine-20-10-10-0s"
        ),
        pytest.param(
            "baclofen",
            "spasticity-spinal",
            (2 * MG, MG, MG),
            1,
            150,
            id="baclofen-2000-1000-1000-1s",
        ),
        pytest.param("morphine", "pain", (25 * MG,), 0, 200, id="morphine-steady"),
        # compounded strengths, whose fill is whole nanolitres of them only in the windows that
        # can hold them alone (core/fill.py)
        pytest.param("morphine", "pain", (20 * MG, 15 * MG), 0, 150, id="morphine-20-to-15"),
        pytest.param(
            "morphine", "pain", (20 * MG, 15 * MG, 10 * MG), 796, 150, id="morphine-20-15-10-796s"
        ),
        pytest.param("morphine", "pain", (10 * MG, 15 * MG), 0, 150, id="morphine-10-to-15"),
        pytest.param("morphine", "pain", (12 * MG, 20 * MG), 0, 150, id="morphine-12-to-20"),
        pytest.param(
            "morphine", "pain", (12 * MG, 25 * MG, 12 * MG), 7201, 203, id="morphine-12-25-12"
        ),
        pytest.param(
            "baclofen",
            "spasticity-spinal",
            (2 * MG, 3 * MG // 2),
            0,
            150,
            id="baclofen-2000-to-1500",
        ),
    ],
)
def test_no_window_above_the_hard_maximum_on_whole_nanolitre_steps(
    library: Library,
    drug: str,
    indication: str,
    concs: tuple[int, ...],
    gap_s: int,
    trimmed_mm: int,
) -> None:
    """REQ-TIP-005, REQ-GOV-004: at the hard maximum, through a change of concentration either
    way (before the fix the falls were 20, 10, 1 and 20 ng over), two refills a second apart or
    at once after a fall (the one-second order that takes a cut early in an hour, basal.py
    ``_confined``), across a compounded strength (12, 15 mg/mL; 1500 mcg/mL: measured 0 ng
    over, by every whole second) and on a steady program, every window over every whole second
    holds at most the maximum; the steady program raises no alarm."""
    most, cap, alarms = _largest(library, drug, indication, concs, gap_s, trimmed_mm=trimmed_mm)
    assert most <= cap, float(most - cap)
    if len(concs) == 1:
        assert not alarms


def test_a_drug_change_at_the_hard_maximum_stays_within_it_on_whole_nanolitre_steps(
    library: Library,
) -> None:
    """REQ-TIP-005: morphine at its maximum, refilled with hydromorphone: the morphine windows that
    start before its last nanolitre leaves and end after it (the next fluid holds none) stay
    within the maximum on whole-nanolitre steps."""
    most, cap, _ = _largest(library, "morphine", "pain", (25 * MG,), 0, drug_after="hydromorphone")
    assert most <= cap, float(most - cap)


def test_below_the_hard_maximum_a_concentration_fall_withholds_nothing(library: Library) -> None:
    """REQ-TIP-005, REQ-TIP-004: the lag term only costs room, and below the maximum there is
    room: 15 mg/day through 25 -> 10 mg/mL raises no delivery-limited alarm."""
    most, cap, alarms = _largest(
        library, "morphine", "pain", (25 * MG, 10 * MG), 0, daily_ng=15 * MG
    )
    assert most <= cap
    assert "delivery_limited" not in alarms


class _Push:
    def __init__(self, t0: int, t1: Fraction, volume: int) -> None:
        self.t0, self.t1, self.volume_nl = Fraction(t0), t1, Fraction(volume)


@pytest.mark.parametrize(
    ("volume", "pace"), [(33_333, 33_333), (667, 33_334), (7, 5), (20_467, 40_001)]
)
def test_the_reference_drive_is_never_ahead_and_under_a_nanolitre_behind(
    volume: int, pace: int
) -> None:
    """REQ-TIP-005 (the drive contract the reference models): at every whole second the whole
    nanolitres moved are at most the pace line and more than it less one nanolitre."""
    p = _Push(100, 100 + Fraction(volume * HOUR_S, pace), volume)
    fast = moved_at_fn(p)
    for t in range(98, int(p.t1) + 3):
        line = max(Fraction(0), min(Fraction(volume), Fraction(pace * (t - 100), HOUR_S)))
        assert line - 1 < moved_at(p, t) <= line
        assert fast(t) == moved_at(p, t)  # the integer reading the windows use


class _Fluid:
    def __init__(self, drug: str, k: Fraction) -> None:
        self.ng_per_nl = ((drug, k),)


class _FluidPush(_Push):
    def __init__(self, t0: Fraction, t1: Fraction, volume: Fraction, fluid: _Fluid) -> None:
        self.t0, self.t1, self.volume_nl, self.fluid = t0, t1, volume, fluid


_FRACTIONS = st.fractions(min_value=0, max_value=400, max_denominator=7)


@settings(max_examples=150, deadline=None)
@given(
    dead=st.fractions(min_value=0, max_value=50, max_denominator=4),
    pushes=st.lists(
        st.tuples(
            _FRACTIONS,
            st.fractions(min_value=0, max_value=60, max_denominator=3),
            st.fractions(min_value=0, max_value=80, max_denominator=3),
            st.sampled_from(["m", "h"]),
            st.fractions(min_value=0, max_value=30, max_denominator=4),
        ),
        max_size=6,
    ),
    lo=st.integers(0, 300),
    span=st.integers(0, 300),
)
def test_the_integer_reading_of_the_reference_equals_its_definition(
    dead: Fraction,
    pushes: list[tuple[Fraction, Fraction, Fraction, str, Fraction]],
    lo: int,
    span: int,
) -> None:
    """REQ-TIP-005 (the reference itself): the windows are read in integers times a common
    denominator (fast enough to judge days at every second); on random pushes (fractional
    starts, durations, volumes and concentrations, instantaneous ones, overlapping ones, two
    drugs) and ranges, they equal the plain definition in exact fractions at every second."""
    ps = [_FluidPush(t0, t0 + d, v, _Fluid(drug, k)) for t0, d, v, drug, k in pushes]
    plain = tip_by_second(dead, ps, "m", lo, lo + span)
    scaled, scale = tip_by_second_scaled(dead, ps, "m", lo, lo + span)
    assert [Fraction(x, scale) for x in scaled] == plain


@pytest.mark.parametrize("boluses", [False, True])
def test_a_program_change_fast_to_slow_at_the_hard_maximum_on_whole_nanolitre_steps(
    library: Library, boluses: bool
) -> None:
    """REQ-TIP-005, REQ-GOV-004: one concentration (25 mg/mL), no fall: 20 mg/day continuous,
    reprogrammed 5 h 17 min into a day to a flex schedule of 24 mg/day for 12 h then 16 mg/day
    (20 mg a day, the hard maximum: fast, then slow, its orders at other phases than the old
    program's), with clinician boluses as large as accepted every 3 h on the next day or
    without: every window over every whole second within the maximum."""
    from itdose_physics import C, greedy_clinician_boluses

    from itdose.core import commands as c
    from itdose.core.schedule import FlexStep

    def morphine(basal: Basal) -> Program:
        return Program("morphine", "pain", 25 * MG, basal, None, "opioid-tolerant")

    b = Bench(library, mode="pace")
    t0 = implanted_and_dosing(b, morphine(Basal.continuous(20 * MG)))
    flex = Basal(steps=(FlexStep(0, 24 * MG), FlexStep(12 * HOUR_S, 16 * MG)))
    b.advance(t0 + DAY_S + 19_020)
    b.submit_overriding(c.SetProgram(C, morphine(flex)), b.now)
    if boluses:
        greedy_clinician_boluses(b, b.now + DAY_S, b.now + 2 * DAY_S, 3 * HOUR_S, 60, 10 * MG)
    b.advance(b.now + 3 * DAY_S)
    assert not b.anomalies
    assert b.dead_volume_nl is not None
    end = min((r.start for r in b.running.values()), default=b.now)
    most, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    assert most <= 20 * MG, float(most - 20 * MG)


def test_a_one_second_order_cut_to_nothing_leaves_that_second_empty_and_announced(
    library: Library,
) -> None:
    """REQ-TIP-005, REQ-TIP-004: ziconotide at its 19.2 ug maximum, refilled 100 -> 25 -> 25
    ug/mL two seconds apart (found by a search over the grid of the tests above). A day later
    the hourly order would be cut by more than a rounding unit, so a one-second order goes
    first (basal.py ``_confined``), and the window ending in that second leaves it no whole
    nanolitre: that second holds no order (the only second without one after dosing starts;
    the refills stop orders a fraction of a second early), the delivery-limited alarm announces
    it at that instant, the hour after it runs whole, and no window over any whole second
    exceeds the maximum."""
    ug = 1000
    programs = [
        Program("ziconotide", "pain", k, Basal.continuous(19_200), None, None)
        for k in (100 * ug, 25 * ug, 25 * ug)
    ]
    b = Bench(library, mode="pace")
    t0 = implanted_and_dosing(b, programs[0], trimmed_mm=200, trial_ng=2_000)
    first = t = t0 + DAY_S + 1234
    for program in programs[1:]:
        refill(b, t, program.concentration_ng_per_ml, program=program)
        t += 2
    b.advance(t + 3 * DAY_S)
    assert not b.anomalies and b.dead_volume_nl is not None
    dosing = sorted((p for p in b.pushes if p.t0 >= t0), key=lambda p: p.t0)
    gaps = [(a.t1, n.t0) for a, n in pairwise(dosing) if n.t0 - a.t1 >= 1]
    assert len(gaps) == 1, gaps
    ((empty_from, empty_to),) = gaps
    assert empty_from > first + DAY_S and empty_to - empty_from == 1
    after = next(p for p in dosing if p.t0 == empty_to)
    assert after.t1 - after.t0 == HOUR_S  # the hour after the empty second runs whole
    assert any(at == empty_from and "delivery_limited" in kinds for at, _, _, kinds in b.phases), (
        "the empty second is announced"
    )
    end = min((r.start for r in b.running.values()), default=b.now)
    most, _ = largest_window(b.dead_volume_nl, b.pushes, "ziconotide", (t0, end))
    assert most <= 19_200, float(most - 19_200)


@pytest.mark.parametrize("mg_per_ml", [11, 12])
def test_a_steady_program_at_a_compounded_concentration_stays_within_the_hard_maximum(
    library: Library, mg_per_ml: int
) -> None:
    """REQ-GOV-002, REQ-TIP-005: a steady program at the hard maximum, at a concentration the
    library does not list (12 mg/mL: the 20 mg maximum is 1,666,666 2/3 nL), never puts more
    than the maximum in a window on whole-nanolitre steps (the check can fail: a drive that
    lags its pace line by under one nanolitre at a window's start and not at its end moves one
    whole nanolitre more into it). Found by an attack on R-TIP-5: 20,000,004 ng at 12 mg/mL and
    20,000,002 ng at 11 mg/mL, in about 23,000 whole-second window ends, before the maximum was
    rounded down to whole nanolitres of the concentrations within reach (``hard_max_ng``)."""
    most, cap, _ = _largest(library, "morphine", "pain", (mg_per_ml * MG,), 0)
    assert cap * 1_000_000 % (mg_per_ml * MG) != 0  # the maximum is not a whole number of nL
    assert most <= cap, float(most - cap)
    assert most >= cap - 2 * mg_per_ml, float(cap - most)  # at the maximum, to a nanolitre
