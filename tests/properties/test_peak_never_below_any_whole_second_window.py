"""The ledger's exact peak, with its pruning of candidate window ends (only those up to the last
flow's candidate are evaluated; aged-out pieces dropped first), is never below the most any
window ending at a whole second ``t >= now`` can hold, and answers "within the limit?" the same
with or without the limit (REQ-GOV-004, REQ-GOV-005, REQ-TIP-004).

The reference is a brute force over every whole second from ``now`` to ``now + 2 days + 2 s``
(every flow has stopped rising by then and every piece has aged out), written from the pace
trust the ledger states, on integers scaled by the common pace period: a piece of ``amount``
ending at ``end`` at a pace ``pace_fg / pace_s`` holds ``min(amount, pace x (end - (t -
86400)))`` of the window ``(t - 86400, t]`` (nothing once ``end <= t - 86400``); an instant piece
holds its whole amount while ``end > t - 86400``; a flow from ``start`` holds ``min(amount, pace
x min(t - start, 86400))``. The drawn sets favour the pruning's edges: pieces ending around
``now - 86400`` (aged out, just live), instants, tails that start to fall while a slower flow
still rises, flows starting at ``now``, zero amounts and zero paces, and limits at the peak and
one femtogram either side.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from itdose.core.ledger import Flow, Ledger, Piece, peak_fg

W = 86_400
PERIODS = st.sampled_from([1, 60, 3600, 86_400])


def brute_force_fg(pieces: tuple[Piece, ...], flows: tuple[Flow, ...], now: int) -> tuple[int, int]:
    """(numerator, period): the largest window over every whole-second end, times ``period``."""
    period = math.lcm(*(p.pace_s for p in pieces), *(f.pace_s for f in flows))
    ends = range(now, now + 2 * W + 3)
    totals = [0] * len(ends)
    for p in pieces:
        amount, rate = p.amount_fg * period, p.pace_fg * (period // p.pace_s)
        for i, t in enumerate(ends):
            after = p.end_s - (t - W)
            if after > 0:
                totals[i] += amount if p.instant else min(amount, rate * after)
    for f in flows:
        amount, rate = f.amount_fg * period, f.pace_fg * (period // f.pace_s)
        for i, t in enumerate(ends):
            if t > f.start_s:
                totals[i] += min(amount, rate * min(t - f.start_s, W))
    return max(totals), period


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[tuple[Piece, ...], tuple[Flow, ...], int]:
    now = W + draw(st.integers(0, 4000))
    offsets = st.one_of(
        st.integers(-3, 3), st.integers(-3, 3).map(lambda k: 60 * k), st.integers(-W, 600)
    )
    ends = sorted(min(now, max(0, now - W + draw(offsets))) for _ in range(draw(st.integers(0, 5))))
    pieces = []
    for i, end in enumerate(ends):
        amount = draw(st.integers(0, 50)) * draw(st.sampled_from([1, 1000, 10**6]))
        pace_s = draw(PERIODS)
        if draw(st.booleans()) and draw(st.booleans()):
            # an instant: a pace of at least its amount per second (the ledger's contract)
            pieces.append(
                Piece(i, end, end, amount, amount * pace_s + draw(st.integers(0, 9)), pace_s, True)
            )
        else:
            pace = draw(st.integers(0, 40)) * draw(st.sampled_from([1, 60, 3600, 10**5]))
            start = max(0, end - draw(st.integers(0, W)))
            pieces.append(Piece(i, start, end, amount, pace, pace_s))
    flows = []
    for _ in range(draw(st.integers(0, 4))):
        start = now + draw(st.sampled_from([0, 0, 1, 59, 3600, W - 1]))
        amount = draw(st.integers(0, 50)) * draw(st.sampled_from([1, 1000, 10**6]))
        pace = draw(st.integers(0, 40)) * draw(st.sampled_from([1, 60, 3600]))
        flows.append(Flow(start, amount, pace, draw(PERIODS)))
    return tuple(pieces), tuple(flows), now


@settings(max_examples=60, deadline=None)  # about 0.3 s an example
@given(ledgers())
def test_the_pruned_peak_is_never_below_a_whole_second_window(
    drawn: tuple[tuple[Piece, ...], tuple[Flow, ...], int],
):
    """REQ-GOV-004, REQ-GOV-005, REQ-TIP-004: ``peak_fg >= `` the brute force; with a limit at
    the peak or one fg either side, "within?" is answered as the exact peak answers it, and
    never "yes" when a whole-second window is above the limit."""
    pieces, flows, now = drawn
    Ledger(pieces)  # a valid ledger: ends in order
    num, period = brute_force_fg(pieces, flows, now)
    brute = -(-num // period)
    got = peak_fg(pieces, flows, now)
    assert got >= brute, (got, brute)
    for limit in {brute - 1, brute, got - 1, got, got + 1}:
        if limit < 0:
            continue
        within = peak_fg(pieces, flows, now, limit) <= limit
        assert within == (got <= limit), limit
        assert not (within and num > limit * period), limit
