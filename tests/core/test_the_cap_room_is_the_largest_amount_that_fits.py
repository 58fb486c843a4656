"""The cap room of a basal order (``flight.cap_room_ng``, REQ-GOV-002, REQ-TIP-004) is the whole
request in ng (rounded up) when it fits, else the largest amount that fits rounded down to whole
ng: judged by a brute force written here, which tries every whole-nanolitre volume of the order
from the request down, each against the brute-force largest 24 h window (tests/largest_window.py),
and by the search as it was before it took a guess (a bisection over every femtogram, one exact
peak per step): the same room, so no decision changes. The search's guess only saves exact peaks:
any guess gives the same room, and the live one leaves at most four peaks to a search at the hard
maximum (about forty before).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from largest_window import NOW, largest, ledgers

from itdose.core import flight
from itdose.core.flight import cap_room_ng
from itdose.core.ledger import Flow, Ledger, Piece, peak_fg
from itdose.core.state import Device, Reservoir
from itdose.specs import load_library

LIB = load_library()
FG_PER_NG = 1_000_000
HOUR = 3600


def _limit(drug: str, indication: str) -> int:
    return next(
        e.max_daily.value * FG_PER_NG
        for e in LIB.entries
        if (e.drug, e.indication) == (drug, indication)
    )


def _whole_nl(limit: int, conc: int) -> int:
    """The hard maximum as the accounting may fill it with one concentration of ``conc`` fg per
    nL: whole nanolitres of it (docs/dosing-rules.md#r-tip-5: at a concentration whose maximum
    is not a whole number of nanolitres, a window could hold one nanolitre more than counted)."""
    return limit - limit % conc


def _order(nl: int, conc: int, seg: int) -> Flow:
    """An order of ``nl`` nL at ``conc`` fg per nL over ``seg`` s, as a drive runs it: at the
    whole nanolitres per hour that end it on time (rounded up)."""
    return Flow(NOW, nl * conc, -(-nl * HOUR // seg) * conc, HOUR)


def _flow_for(nl: int, conc: int, seg: int) -> Callable[[int], Flow]:
    """The delivery of each amount up to the request, as the basal plan builds it: the order of
    the whole nanolitres the amount holds (``flight._order_flow``, the cut by whole nL)."""

    def cut(fg: int) -> tuple[int, int]:
        return fg // conc, fg // conc * conc

    return flight._order_flow(NOW, nl, conc, seg, cut, nl * conc)


def _reference(
    pieces: list[Piece], flows: list[Flow], limit: int, nl: int, conc: int, seg: int
) -> int:
    """The request rounded up when its order fits; else the largest volume below it whose order
    fits, by trying each from the top, and the largest amount it stands for (every amount up to
    the next whole nL, below the request) rounded down to whole ng; 0 when none fits."""

    def fits(n: int) -> bool:
        return largest(pieces, [*flows, _order(n, conc, seg)], NOW) <= limit

    requested = nl * conc
    if fits(nl):
        return -(-requested // FG_PER_NG)
    for n in range(nl - 1, -1, -1):
        if fits(n):
            return (min((n + 1) * conc, requested) - 1) // FG_PER_NG
    return 0


def _bisection_before(
    pieces: tuple[Piece, ...],
    flows: tuple[Flow, ...],
    limit: int,
    requested: int,
    flow_for: Callable[[int], Flow],
) -> int:
    """The search before the guess: a bisection over every femtogram, one exact peak a step."""

    def fits(fg: int) -> bool:
        new = (flow_for(fg),) if fg else ()
        return peak_fg(pieces, (*flows, *new), NOW, limit) <= limit

    if fits(requested):
        return -(-requested // FG_PER_NG)
    if not fits(0):
        return 0
    lo, hi = 0, requested
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo // FG_PER_NG


def _room(
    pieces: list[Piece], flows: list[Flow], nl: int, conc: int, seg: int, drug: str, ind: str
) -> tuple[int, int, list[int]]:
    """``cap_room_ng`` of the order on a device with the ledger ``pieces``: the room, the exact
    peaks it asked and the amounts it asked about."""
    device = Device(reservoir=Reservoir(drug, ind, conc, 10**9), ledger=Ledger(tuple(pieces)))
    asked: list[int] = []
    flow_for = _flow_for(nl, conc, seg)

    def counted_flow(fg: int) -> Flow:
        asked.append(fg)
        return flow_for(fg)

    peaks = [0]
    live = flight.peak_fg

    def counted_peak(*args: Any) -> int:
        peaks[0] += 1
        return live(*args)

    flight.peak_fg = counted_peak  # type: ignore[assignment]
    try:
        room = cap_room_ng(device, NOW, LIB, drug, nl * conc, counted_flow, tuple(flows))
    finally:
        flight.peak_fg = live
    return room, peaks[0], asked


def _at_the_maximum(slack_nl: int, oldest_nl: int) -> list[Piece]:
    """A day of hourly basal orders of baclofen at 2 mg/mL that ended now, ``slack_nl`` below the
    hard maximum (2 mg, 1 mL a day), the oldest of ``oldest_nl``, the others as even as whole
    nanolitres allow (41,666 or 41,667 nL)."""
    conc = 2_000_000
    each, extra = divmod(1_000_000 - slack_nl - oldest_nl, 23)
    pieces = []
    for k in range(24):
        nl = oldest_nl if k == 0 else each + (k <= extra)
        start = NOW - (24 - k) * HOUR
        pieces.append(Piece(k + 1, start, start + HOUR, nl * conc, nl * conc, HOUR))
    return pieces


@pytest.mark.parametrize("slack_nl", [0, 1, 3])
@pytest.mark.parametrize("oldest_nl", [41_666, 41_667, 41_600])
@pytest.mark.parametrize("over_nl", [-1, 0, 1, 2, 13])
@pytest.mark.parametrize("seg", [HOUR, HOUR - 1, HOUR + 1])
def test_the_cap_room_at_the_hard_maximum_is_the_largest_volume_that_fits(
    slack_nl: int, oldest_nl: int, over_nl: int, seg: int
) -> None:
    """REQ-GOV-002, REQ-TIP-004: after a day of hourly basal at the hard maximum (or a few nL
    below it), the next order, up to 13 nL more than leaves the window over its hour, gets the
    room of the largest whole volume that fits, and the search asks the exact peak at most four
    times."""
    pieces = _at_the_maximum(slack_nl, oldest_nl)
    limit = _limit("baclofen", "spasticity-spinal")
    nl = oldest_nl + slack_nl + over_nl
    room, peaks, asked = _room(pieces, [], nl, 2_000_000, seg, "baclofen", "spasticity-spinal")
    assert room == _reference(pieces, [], limit, nl, 2_000_000, seg)
    if seg == HOUR:  # at the pace of the piece leaving the window: cut when over (2 ng a nL)
        assert (room < nl * 2) == (over_nl > 0)
    assert all(0 <= fg <= nl * 2_000_000 for fg in asked)
    assert peaks <= 4


def _near_limit(draw: st.DrawFn) -> tuple[list[Piece], list[Flow], int, int, int, int]:
    """A random ledger (no lag terms: plain pieces and instants) and flows from now on, an order
    of a few nL, and a flow of drug that leaves the tip at once from now on, sized so that the
    order's window is near morphine's hard maximum: from exactly at it to about the order over."""
    pieces, flows = draw(ledgers())
    pieces = [
        Piece(i + 1, p.start_s, p.end_s, p.amount_fg, p.pace_fg, p.pace_s, p.instant)
        for i, p in enumerate(pieces)
    ]
    nl = draw(st.integers(1, 40))
    conc = draw(st.sampled_from([1, 7, 999_999, 1_000_000, 1_000_001, 2_000_000, 25_000_000]))
    seg = draw(st.sampled_from([1, 600, HOUR, HOUR + 1, 5400, 86_400]))
    limit = _whole_nl(_limit("morphine", "pain"), conc)
    over = draw(st.one_of(st.integers(0, (nl + 1) * conc), st.sampled_from([0, 1, conc])))
    flush = limit - largest(pieces, [*flows, _order(nl, conc, seg)], NOW) + over
    return pieces, [*flows, Flow(NOW, flush, flush, 1)], nl, conc, seg, flush


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_the_cap_room_near_the_limit_is_the_largest_volume_that_fits(data: Any) -> None:
    """REQ-GOV-002, REQ-TIP-004: on random ledgers and flows with the order's window from at the
    hard maximum to over it, the room is the brute force's and the search's before the guess."""
    pieces, flows, nl, conc, seg, flush = _near_limit(data.draw)
    assume(flush >= 0)
    limit = _whole_nl(_limit("morphine", "pain"), conc)
    room, _, asked = _room(pieces, flows, nl, conc, seg, "morphine", "pain")
    assert room == _reference(pieces, flows, limit, nl, conc, seg)
    before = _bisection_before(
        tuple(pieces), tuple(flows), limit, nl * conc, _flow_for(nl, conc, seg)
    )
    assert room == before
    assert all(0 <= fg <= nl * conc for fg in asked)


@settings(max_examples=60, deadline=None)
@given(st.data(), st.integers(-(10**13), 10**14))
def test_any_guess_gives_the_same_cap_room(data: Any, guess: int) -> None:
    """REQ-GOV-002, REQ-TIP-004: the guess only chooses the first amounts the search asks about:
    whatever it is (below nothing, above the request, between whole ng), the room is the brute
    force's, the search asks only about amounts from 0 to the request, and at most 4 exact peaks
    and one a halving of the whole ng below the request."""
    pieces, flows, nl, conc, seg, flush = _near_limit(data.draw)
    assume(flush >= 0)
    limit = _whole_nl(_limit("morphine", "pain"), conc)

    def wrong(*args: Any) -> int:
        return guess

    live = flight._cap_guess
    flight._cap_guess = wrong
    try:
        room, peaks, asked = _room(pieces, flows, nl, conc, seg, "morphine", "pain")
    finally:
        flight._cap_guess = live
    assert room == _reference(pieces, flows, limit, nl, conc, seg)
    assert all(0 <= fg <= nl * conc for fg in asked)
    assert peaks <= 4 + (nl * conc // FG_PER_NG).bit_length()


@pytest.mark.parametrize("guess", [None, 0, 3 * FG_PER_NG, 10**14])
@pytest.mark.parametrize("requested_ng", [5, 9])
def test_a_request_one_femtogram_over_whole_ng_keeps_its_last_whole_ng(
    guess: int | None, requested_ng: int
) -> None:
    """REQ-GOV-002: with every window holding 20 mg - 5 ng already (the morphine maximum; a flow
    of 1 fg per fg an hour, so a window a day later holds all of it and of the delivery), a
    request of 5 ng + 1 fg (or 9 ng + 1 fg) does not fit and its room is 5 whole ng, an int,
    whatever the search's guess (None: the live one)."""
    limit = _limit("morphine", "pain")
    device = Device(reservoir=Reservoir("morphine", "pain", 1, 10**9))
    base = (Flow(NOW, limit - 5 * FG_PER_NG, limit - 5 * FG_PER_NG, HOUR),)

    def flow_for(fg: int) -> Flow:
        return Flow(NOW, fg, fg, HOUR)

    live = flight._cap_guess
    if guess is not None:
        flight._cap_guess = lambda *args: guess  # type: ignore[assignment]
    try:
        requested = requested_ng * FG_PER_NG + 1
        room = cap_room_ng(device, NOW, LIB, "morphine", requested, flow_for, base)
    finally:
        flight._cap_guess = live
    assert room == 5 and type(room) is int
