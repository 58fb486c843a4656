"""The largest 24 h window of recorded pieces and flows ending at or after ``now``, by brute force
from the definitions alone (REQ-GOV-004, REQ-GOV-005): each recorded piece holds in the window
starting at ``t0`` the least of its amount and its pace times what of it lies after ``t0``; each
flow holds by ``t`` the least of its amount and its pace times ``min(t - start, 1 day)``; the
total is piecewise linear and continuous in ``t``, so its largest value on ``t >= now`` is at
``now`` or at one of the instants where some term's slope changes, each evaluated exactly in
fractions. And a strategy of ledgers (pieces in a ledger's order, some instants and lag terms,
flows from now on). The reference of the ledger's peak and of the cap room's search."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import strategies as st

from itdose.core.ledger import Flow, Piece

DAY = 86_400
NOW = 300_000


def window(pieces: list[Piece], flows: list[Flow], t: Fraction) -> Fraction:
    """The most of ``pieces`` and ``flows`` the window ``(t - 1 day, t]`` can hold, exactly."""
    total = Fraction(0)
    for p in pieces:
        last = p.end_s + 1 if p.instant else p.end_s  # an instant counts to its next second
        after = last - (t - DAY)
        if after > 0:
            total += min(Fraction(p.amount_fg), Fraction(p.pace_fg, p.pace_s) * after)
    for f in flows:
        since = t - f.start_s
        if since > 0:
            total += min(Fraction(f.amount_fg), Fraction(f.pace_fg, f.pace_s) * min(since, DAY))
    return total


def largest(pieces: list[Piece], flows: list[Flow], now: int) -> int:
    """The largest :func:`window` ending at or after ``now``, rounded up to a whole fg."""
    ends = {Fraction(now)}
    for p in pieces:
        last = p.end_s + 1 if p.instant else p.end_s
        ends.add(Fraction(last + DAY))
        if p.pace_fg:
            ends.add(last + DAY - Fraction(p.amount_fg) / Fraction(p.pace_fg, p.pace_s))
    for f in flows:
        ends.update((Fraction(f.start_s), Fraction(f.start_s + DAY)))
        if f.pace_fg:
            ends.add(f.start_s + Fraction(f.amount_fg) / Fraction(f.pace_fg, f.pace_s))
    return math.ceil(max(window(pieces, flows, t) for t in ends if t >= now))


AMOUNT = st.one_of(
    st.sampled_from([0, 1, 25_000_000]),
    st.integers(1, 10**9),
    st.integers(10**9, 10**12),
)
PACE_S = st.sampled_from([1, 7, 60, 3600])


@st.composite
def ledgers(draw: st.DrawFn) -> tuple[list[Piece], list[Flow]]:
    """Pieces in a ledger's order (of their ends, at or before now), some of them instants and
    lag terms, and flows from now on."""
    t = NOW - draw(st.integers(0, 2 * DAY))
    pieces = []
    for i in range(draw(st.integers(0, 28))):
        t = min(NOW, t + draw(st.sampled_from([0, 1, 600, 3600, 4000, 20_000])))
        amount = draw(AMOUNT)
        if draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans()):
            pieces.append(Piece(2**62 + i, t, t, amount, max(1, amount), 1, True))
            continue
        pace = draw(st.one_of(st.just(max(1, amount)), st.integers(1, 10**10)))
        start = max(0, t - draw(st.integers(0, 7200)))
        pieces.append(Piece(i, start, t, amount, pace, draw(PACE_S)))
    flows = [
        Flow(NOW + draw(st.sampled_from([0, 0, 1, 300, DAY, 2 * DAY])), amount, pace, pace_s)
        for amount, pace, pace_s in draw(
            st.lists(st.tuples(AMOUNT, st.integers(1, 10**10), PACE_S), max_size=5)
        )
    ]
    return pieces, flows
