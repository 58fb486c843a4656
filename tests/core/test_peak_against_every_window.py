"""The ledger's peak (``peak_fg``, with its fast paths: the pieces whose candidates count, the
window totals split into whole and cut pieces, the plain sum within a limit) is the largest 24 h
window ending at or after ``now``, judged by a brute force written here from the definitions
alone: each recorded piece holds in the window starting at ``t0`` the least of its amount and
its pace times what of it lies after ``t0``; each flow holds by ``t`` the least of its amount and
its pace times ``min(t - start, 1 day)``; the total is piecewise linear and continuous in ``t``,
so its largest value on ``t >= now`` is at ``now`` or at one of the instants where some term's
slope changes, each evaluated exactly (REQ-GOV-004, REQ-GOV-005); the window totals it sweeps
(``_totals``) are that brute force's at every window end, even at ends a hair apart. And the
long-segment screen
(``flight.whole_fg``) never exceeds that largest window (REQ-DOSE-009): a segment it refuses, the
exact peak refuses too.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st
from largest_window import DAY, NOW, largest, ledgers, window

from itdose.core.flight import whole_fg
from itdose.core.ledger import Flow, Piece, _totals, common_period, peak_fg


@settings(max_examples=100, deadline=None)
@given(ledger=ledgers(), slack=st.sampled_from([-(10**6), -1, 0, 1]))
def test_the_peak_is_the_largest_window_ending_from_now_on(
    ledger: tuple[list[Piece], list[Flow]], slack: int
) -> None:
    """REQ-GOV-004, REQ-GOV-005: ``peak_fg`` equals the brute-force largest window (rounded up),
    and asked against a limit it answers "within" exactly when that window is within it."""
    pieces, flows = ledger
    most = largest(pieces, flows, NOW)
    assert peak_fg(tuple(pieces), tuple(flows), NOW) == most
    limit = max(0, most + slack)
    within = peak_fg(tuple(pieces), tuple(flows), NOW, limit) <= limit
    assert within == (most <= limit)


@settings(max_examples=60, deadline=None)
@given(ledger=ledgers())
def test_the_long_segment_screen_never_exceeds_the_largest_window(
    ledger: tuple[list[Piece], list[Flow]],
) -> None:
    """REQ-DOSE-009: ``whole_fg`` of flows from now on (a lower bound the long-segment check
    refuses on without the exact peak) is never above the brute-force largest window."""
    pieces, flows = ledger
    assert whole_fg(tuple(flows)) <= largest(pieces, flows, NOW)


def _swept(pieces: list[Piece], flows: list[Flow], ends: list[Fraction]) -> list[Fraction]:
    """The window totals ``_totals`` gives at ``ends``, unscaled."""
    period = common_period(*(p.pace_s for p in pieces), *(f.pace_s for f in flows))
    points = [(t.numerator, t.denominator) for t in ends]
    sums = _totals(
        [p.term(period) for p in pieces], [f.term(period) for f in flows], period, points
    )
    return [Fraction(total, period * d) for total, (_, d) in zip(sums, points, strict=True)]


@settings(max_examples=100, deadline=None)
@given(ledger=ledgers(), extra=st.lists(st.fractions(NOW - DAY, NOW + 3 * DAY), max_size=5))
def test_the_swept_window_totals_are_every_window_exactly(
    ledger: tuple[list[Piece], list[Flow]], extra: list[Fraction]
) -> None:
    """REQ-GOV-004: at every window end where a term's slope changes, and at any others, the
    sweep's total is the brute-force window (exact fractions)."""
    pieces, flows = ledger
    ends = sorted({Fraction(NOW), *extra} | {t + DAY * k for t in extra for k in (0, 1)})
    for p in pieces:
        ends.append(Fraction(p.last_s + DAY))
        if p.pace_fg:
            ends.append(p.last_s + DAY - Fraction(p.amount_fg) / Fraction(p.pace_fg, p.pace_s))
    assert _swept(pieces, flows, ends) == [window(pieces, flows, t) for t in ends]


def test_window_ends_a_hair_apart_are_told_apart() -> None:
    """REQ-GOV-004: two pieces whose tails start to fall 1e-24 s apart, the window ending at
    each of them and between: the sweep orders them exactly (one whole, the other falling)."""
    fast, faster = 10**12, 10**12 + 1  # fg per second: each falls within 1e-12 s
    pieces = [Piece(1, 0, 1000, 1, fast, 1), Piece(2, 0, 1000, 1, faster, 1)]
    first = 1000 + DAY - Fraction(1, fast)
    second = 1000 + DAY - Fraction(1, faster)
    assert first < second < first + Fraction(1, 10**23)
    ends = [first, (first + second) / 2, second, first - Fraction(1, 10**30)]
    assert _swept(pieces, [], ends) == [window(pieces, [], t) for t in ends]
    at_first, between, at_second, before = _swept(pieces, [], ends)
    assert before == at_first == 2 > between > at_second  # each falls from its own instant
