"""The ledger's integer peak against a brute-force exact computation in fractions (REQ-GOV-004,
REQ-GOV-005, REQ-TIP-004).

The reference is written here from the definitions (docs/dosing-rules.md "Limits"; the module
doc of the ledger states the trust): a recorded piece of ``amount`` ending at ``end`` with pace
``pace_fg / pace_s`` puts at most ``min(amount, pace x (end - (t - 86400)))`` in the window
``(t - 86400, t]`` (none once ``end <= t - 86400``); a flow of ``amount`` from ``start`` at that
pace puts at most ``min(amount, pace x min(t - start, 86400))`` in it (none before ``start``).
The true peak is the supremum over every window end ``t >= now`` of their sum. The sum is
continuous and piecewise linear in ``t``, so the supremum is reached at ``now`` or at one of the
term breakpoints, all of which are evaluated (in exact :class:`fractions.Fraction`, nothing
shared with the core's cross-multiplication, candidates or rounding).

Claims: ``peak_fg`` is never below the true peak (below would be unsafe) and never more than the
final rounding above it (``ceil``: no room is lost). The sampled-window cross-check adds every
whole second and a few fractional instants around each breakpoint, so a breakpoint missed by the
reference would show up as a sampled value above it.
"""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import example, given, settings
from hypothesis import strategies as st

from itdose.core.ledger import Flow, Piece, peak_fg

W = 86_400


def _tail(p: Piece, t: Fraction) -> Fraction:
    lo = t - W
    if p.end_s <= lo:
        return Fraction(0)
    return min(Fraction(p.amount_fg), Fraction(p.pace_fg, p.pace_s) * (p.end_s - lo))


def _head(f: Flow, t: Fraction) -> Fraction:
    if t <= f.start_s:
        return Fraction(0)
    return min(Fraction(f.amount_fg), Fraction(f.pace_fg, f.pace_s) * min(t - f.start_s, W))


def window(pieces: tuple[Piece, ...], flows: tuple[Flow, ...], t: Fraction) -> Fraction:
    """The most the window ending at ``t`` can hold under the pace trust (exact)."""
    return sum((_tail(p, t) for p in pieces), Fraction(0)) + sum(
        (_head(f, t) for f in flows), Fraction(0)
    )


def breakpoints(pieces: tuple[Piece, ...], flows: tuple[Flow, ...]) -> set[Fraction]:
    out: set[Fraction] = set()
    for p in pieces:
        out.add(Fraction(p.end_s + W))
        if p.pace_fg:
            out.add(p.end_s + W - Fraction(p.amount_fg * p.pace_s, p.pace_fg))
    for f in flows:
        out.update((Fraction(f.start_s), Fraction(f.start_s + W)))
        if f.pace_fg:
            full = Fraction(f.amount_fg * f.pace_s, f.pace_fg)
            out.update((f.start_s + full, f.start_s + full + W))
    return out


def true_peak(pieces: tuple[Piece, ...], flows: tuple[Flow, ...], now: int) -> Fraction:
    ends = {Fraction(now)} | {t for t in breakpoints(pieces, flows) if t >= now}
    return max(window(pieces, flows, t) for t in ends)


def check(pieces: tuple[Piece, ...], flows: tuple[Flow, ...], now: int) -> int:
    """Assert the claims; return how far above the exact peak the core is (fg, as a ceiling)."""
    exact = true_peak(pieces, flows, now)
    got = peak_fg(pieces, flows, now)
    assert got >= exact, f"peak {got} below the exact {exact}"
    assert got == math.ceil(exact), f"peak {got} above ceil(exact) = {math.ceil(exact)}"
    # with a limit, the answer to "within the limit?" is the same as the exact one
    for limit in {math.ceil(exact), math.ceil(exact) - 1, max(0, math.floor(exact))}:
        if limit >= 0:
            assert (peak_fg(pieces, flows, now, limit) <= limit) == (exact <= limit)
    return got - math.ceil(exact)


# --- generated sets ---------------------------------------------------------------------------

PACE_S = st.sampled_from([1, 2, 3, 7, 60, 3600, 86_400, 86_399, 172_800]) | st.integers(1, 10**6)
PACE_FG = st.sampled_from([0, 1, 2, 10**12, 10**12 - 1, 999_999_999_999]) | st.integers(0, 10**13)
AMOUNT = st.sampled_from([0, 1, 10**6, 20 * 10**15, 10**18]) | st.integers(0, 10**18)


@st.composite
def pieces_and_flows(draw: st.DrawFn) -> tuple[tuple[Piece, ...], tuple[Flow, ...], int]:
    now = draw(st.sampled_from([W, 2 * W, 10 * W + 1]) | st.integers(0, 10 * W))
    ends = sorted(
        draw(
            st.lists(
                st.sampled_from(
                    [max(0, x) for x in (now, now - W, now - W + 1, now - 1, now - W - 1)]
                )
                | st.integers(max(0, now - 2 * W), now),
                max_size=5,
            )
        )
    )
    pieces = []
    for i, end in enumerate(ends):
        start = max(0, end - draw(st.integers(0, 2 * W)))
        pace_s = draw(PACE_S)
        pace_fg = draw(PACE_FG)
        # consistent pieces (at most the pace over the span) and arbitrary ones
        cap = pace_fg * max(1, end - start) // pace_s
        amount = draw(st.integers(0, cap) | AMOUNT)
        pieces.append(Piece(i + 1, start, end, amount, pace_fg, pace_s))
    flows = []
    for _ in range(draw(st.integers(0, 4))):
        start = now + draw(st.sampled_from([0, 1, W, W - 1]) | st.integers(0, 2 * W))
        flows.append(Flow(start, draw(AMOUNT), draw(PACE_FG), draw(PACE_S)))
    return tuple(pieces), tuple(flows), now


@settings(max_examples=150, deadline=None)
@given(case=pieces_and_flows())
def test_peak_is_the_exact_peak_rounded_up(case: tuple[tuple[Piece, ...], tuple[Flow, ...], int]):
    """REQ-GOV-004, REQ-GOV-005: never below the exact fraction peak, at most its ceiling."""
    check(*case)


@settings(max_examples=100, deadline=None)
@given(
    rate=st.integers(1, 10**12),
    delta=st.integers(-3, 3),
    amount=st.integers(1, 10**15),
    pace_s=PACE_S,
    shift=st.integers(-3, 3),
)
def test_near_equal_rates_in_and_out(rate: int, delta: int, amount: int, pace_s: int, shift: int):
    """REQ-GOV-004: a piece leaving the window at almost the rate a flow enters it (the sum is
    almost flat, where an off-by-one in a candidate instant would show)."""
    now = 3 * W
    pieces = (Piece(1, now - W // 2, now + min(0, shift), amount, rate, pace_s),)
    flows = (Flow(now + max(0, shift), amount, max(0, rate + delta), pace_s),)
    check(pieces, flows, now)


@example(amount=1, pace_fg=1, pace_s=1)
@example(amount=10**12 * W, pace_fg=10**12, pace_s=1)
@settings(max_examples=60, deadline=None)
@given(amount=AMOUNT, pace_fg=st.sampled_from([1, 10**12]), pace_s=PACE_S)
def test_windows_ending_exactly_on_piece_boundaries(amount: int, pace_fg: int, pace_s: int):
    """REQ-GOV-005: pieces ending exactly at ``now - 24 h`` (gone), one second later (one second
    left), straddling it, and at ``now``; paces of 1 fg/s and 10**12 fg/s."""
    now = 5 * W
    pieces = (
        Piece(1, now - 2 * W, now - W, amount, pace_fg, pace_s),
        Piece(2, now - W - 10, now - W + 1, amount, pace_fg, pace_s),
        Piece(3, now - W, now - 1, amount, pace_fg, pace_s),
        Piece(4, now - 1, now, amount, pace_fg, pace_s),
    )
    flows = (Flow(now, amount, pace_fg, pace_s), Flow(now + W, amount, pace_fg, pace_s))
    check(pieces, flows, now)
    check(pieces[:2], (), now)


def test_the_peak_on_a_fractional_window_end_is_rounded_up_once():
    """REQ-TIP-004: the largest window ends between two whole seconds (a piece of 3 fg leaving
    at 2 fg/s while a flow of 1 fg enters at 1 fg/s): 7/2 fg, so 4 fg, not more."""
    now = 2 * W
    pieces = (Piece(1, now - 10, now, 3, 2, 1),)
    flows = (Flow(now + W - 2, 1, 1, 1),)
    assert true_peak(pieces, flows, now) == Fraction(7, 2)
    assert peak_fg(pieces, flows, now) == 4
    assert check(pieces, flows, now) == 0


def test_sampled_windows_never_exceed_the_reference_peak():
    """The reference itself: on a dense sample of window ends (every 97 s for three days after
    ``now`` and thirds of a second around each breakpoint) no window exceeds ``true_peak``; so
    its breakpoints are complete."""
    now = 2 * W
    pieces = (Piece(1, now - 5000, now - 100, 7_000, 3, 2), Piece(2, now - W, now, 50, 1, 7))
    flows = (Flow(now + 10, 9_000, 5, 3), Flow(now + 50_000, 40_000, 1, 1))
    peak = true_peak(pieces, flows, now)
    samples = {Fraction(now + s) for s in range(0, 3 * W, 97)}
    for b in breakpoints(pieces, flows):
        samples.update(b + Fraction(k, 3) for k in range(-3, 4))
    assert max(window(pieces, flows, t) for t in samples if t >= now) <= peak
    assert peak_fg(pieces, flows, now) == math.ceil(peak)
