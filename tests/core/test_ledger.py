"""The rolling 24 h ledger and the bolus history against independent references
(REQ-GOV-004, REQ-GOV-005, REQ-GOV-006).

The reference for the ledger is physical, written from the trust the ledger rests on (SAFETY.md,
"What the drive is trusted for"): the drive moves an order's fluid at any rate up to the order's
pace (its amount over its duration), never faster, and its reports say exactly how much it moved
by then. A delivery schedule is a list of ``(from, to, rate)`` intervals in exact fractions; the
drug in the window ``(t - 86400, t]`` is the integral of the rates over it. For every recorded
report the tests build schedules a pace-keeping drive could have followed (uniform over the
interval, as late as possible, as early as possible, bursts at full pace with gaps) and check:

(a) the ledger's window total and peak are never below what any of them put in any window
    ending at or after ``now`` (the windows are evaluated at every kink of the schedule: the
    window amount is piecewise linear in ``t`` with kinks at every breakpoint ``b`` and
    ``b + 86400``, so its maximum is at one of them);
(b) they are exact: equal (rounded up to a whole fg) to the worst schedule, which the tests build
    explicitly (as late as possible for recorded drug, at full pace up to the window end for drug
    in flight), so no accepted delivery is withheld for an over-count.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itdose_testkit import reach

from itdose.core import Library, Phase, from_json, to_json
from itdose.core.arith import INT_OPS
from itdose.core.codec import decode, encode
from itdose.core.errors import InvalidInput
from itdose.core.ledger import (
    MAX_PIECES,
    WINDOW_S,
    BolusHistory,
    Flow,
    Ledger,
    Piece,
    common_period,
    peak,
    peak_fg,
)

DAY = 86_400
W = Fraction(DAY)

Schedule = list[tuple[Fraction, Fraction, Fraction]]
"""``(from_s, to_s, rate_fg_per_s)`` intervals of one delivery."""


# --- the reference ---------------------------------------------------------------------------


def in_window(schedule: Schedule, t: Fraction) -> Fraction:
    """Drug the schedule puts in ``(t - 86400, t]`` (exact)."""
    lo = t - W
    return sum(
        (rate * max(Fraction(0), min(b, t) - max(a, lo)) for a, b, rate in schedule),
        Fraction(0),
    )


def kinks(schedules: list[Schedule]) -> set[Fraction]:
    """Every window end where some window amount changes slope."""
    out: set[Fraction] = set()
    for schedule in schedules:
        for a, b, _ in schedule:
            out.update((a, b, a + W, b + W))
    return out


def worst_real_window(schedules: list[Schedule], now: int) -> Fraction:
    """The largest amount the schedules together put in a window ending at or after ``now``."""
    ends = {t for t in kinks(schedules) if t >= now} | {Fraction(now)}
    return max(sum((in_window(s, t) for s in schedules), Fraction(0)) for t in ends)


def ceil_fraction(x: Fraction) -> int:
    return -(-x.numerator // x.denominator)


def keeps_pace(
    schedule: Schedule, lo: Fraction, hi: Fraction | None, amount: Fraction, rate: Fraction
) -> bool:
    """The schedule delivers exactly ``amount`` inside ``[lo, hi]`` never faster than ``rate``."""
    total = sum(((b - a) * r for a, b, r in schedule), Fraction(0))
    inside = all(lo <= a <= b and (hi is None or b <= hi) for a, b, _ in schedule)
    return total == amount and inside and all(0 <= r <= rate for _, _, r in schedule)


def uniform(lo: Fraction, hi: Fraction, amount: Fraction) -> Schedule:
    if amount == 0:
        return []
    return [(lo, hi, amount / (hi - lo))]


def as_late(lo: Fraction, hi: Fraction, amount: Fraction, rate: Fraction) -> Schedule:
    if amount == 0:
        return []
    return [(hi - amount / rate, hi, rate)]


def as_early(lo: Fraction, amount: Fraction, rate: Fraction) -> Schedule:
    if amount == 0:
        return []
    return [(lo, lo + amount / rate, rate)]


def bursts(
    lo: Fraction, hi: Fraction, amount: Fraction, rate: Fraction, weights: list[int]
) -> Schedule:
    """Bursts at full pace separated by gaps: ``weights`` split the burst time and the idle time
    (the first half of the list splits the bursts, the second the gaps)."""
    if amount == 0:
        return []
    busy = amount / rate
    idle = (hi - lo) - busy
    k = max(1, len(weights) // 2)
    bw = [w + 1 for w in weights[:k]] or [1]
    gw = [w + 1 for w in weights[k:]] + [1] * (k + 1 - len(weights[k:]))
    gw = gw[: k + 1]
    out: Schedule = []
    t = lo
    for i, b in enumerate(bw):
        t += idle * gw[i] / sum(gw)
        length = busy * b / sum(bw)
        out.append((t, t + length, rate))
        t += length
    return out


# --- recorded ledgers ------------------------------------------------------------------------


@dataclasses.dataclass
class Report:
    """One drive report: order ``oid`` (started ``start``, pace ``pace_fg``/``pace_s``) moved
    ``amount`` fg between ``since`` (its previous report, or its start) and ``t``."""

    t: int
    oid: int
    start: int
    since: int
    amount: int
    pace_fg: int
    pace_s: int

    @property
    def rate(self) -> Fraction:
        return Fraction(self.pace_fg, self.pace_s)


@st.composite
def report_streams(draw: st.DrawFn, *, repeat: bool = True, max_size: int = 12) -> list[Report]:
    """Reports in time order of orders a pace-keeping drive delivered: each moved at most
    ``pace x (t - since)`` since its previous report. With ``repeat`` an order may be reported
    more than once (progress reports)."""
    n = draw(st.integers(0, max_size))
    t = draw(st.integers(0, 3 * DAY))
    reports: list[Report] = []
    last: dict[int, Report] = {}
    next_id = 1
    for _ in range(n):
        t += draw(
            st.sampled_from([0, 1, 600, 3600, DAY - 1, DAY, DAY + 1]) | st.integers(0, 2 * DAY)
        )
        again = [r for r in last.values() if r.t <= t]
        if repeat and again and draw(st.booleans()):
            prev = draw(st.sampled_from(again))
            oid, start, since = prev.oid, prev.start, prev.t
            pace_fg, pace_s = prev.pace_fg, prev.pace_s
        else:
            oid, next_id = next_id, next_id + 1
            start = t - draw(
                st.sampled_from([0, 1, 600, 3600, DAY, 2 * DAY]) | st.integers(0, 2 * DAY)
            )
            start = max(0, start)
            since = start
            pace_s = draw(st.sampled_from([1, 600, 3600, DAY, 2 * DAY]) | st.integers(1, 3 * DAY))
            pace_fg = draw(st.integers(0, 10**12))
        most = pace_fg * (t - since) // pace_s
        amount = draw(st.sampled_from([0, most]) | st.integers(0, most))
        report = Report(t, oid, start, since, amount, pace_fg, pace_s)
        reports.append(report)
        last[oid] = report
    return reports


def record_all(reports: list[Report]) -> Ledger:
    ledger = Ledger()
    for r in reports:
        ledger = ledger.record(r.t, r.oid, r.start, r.amount, r.pace_fg, r.pace_s)
    return ledger


def shapes(r: Report, weights: list[int]) -> list[Schedule]:
    """Schedules a pace-keeping drive could have followed for one report."""
    lo, hi, amount = Fraction(r.since), Fraction(r.t), Fraction(r.amount)
    if amount == 0:
        return [[]]
    out = [
        uniform(lo, hi, amount),
        as_late(lo, hi, amount, r.rate),
        as_early(lo, amount, r.rate),
        bursts(lo, hi, amount, r.rate, weights),
    ]
    for s in out:
        assert keeps_pace(s, lo, hi, amount, r.rate), s
    return out


queries = st.lists(
    st.sampled_from([0, 1, 599, 3600, DAY - 1, DAY, DAY + 1]) | st.integers(0, 2 * DAY),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    reports=report_streams(),
    choice=st.lists(st.integers(0, 3), min_size=12, max_size=12),
    weights=st.lists(st.integers(0, 5), max_size=6),
    later=queries,
)
def test_window_total_is_never_below_any_pace_keeping_delivery(
    reports: list[Report], choice: list[int], weights: list[int], later: list[int]
) -> None:
    """REQ-GOV-004, REQ-GOV-005: for every mix of uniform, late, early and bursty delivery of the
    reports, no window ending at or after the newest report holds more than the ledger's total
    for it (at every window end where the real amount can peak, and at the queried ends)."""
    ledger = record_all(reports)
    schedules = [
        shapes(r, weights)[choice[i] % len(shapes(r, weights))] for i, r in enumerate(reports)
    ]
    newest = max((r.t for r in reports), default=0)
    ends = {t for t in kinks(schedules) if t >= newest} | {Fraction(newest + q) for q in later}
    seconds = {int(t) for t in ends} | {ceil_fraction(t) for t in ends}
    for t in sorted(x for x in seconds if x >= newest):
        real = sum((in_window(s, Fraction(t)) for s in schedules), Fraction(0))
        assert ledger.window_total_fg(t) >= real
    # and the peak (no flows) over every later window is the bound at the newest report
    assert peak_fg(ledger.pieces, (), newest) >= worst_real_window(schedules, newest)


@settings(max_examples=300, deadline=None)
@given(reports=report_streams(repeat=False), later=queries)
def test_window_total_is_exact_for_the_latest_delivery_a_drive_may_make(
    reports: list[Report], later: list[int]
) -> None:
    """REQ-GOV-005 (no over-count): with one report per order (at its end, as the drive reports),
    the ledger's total equals, rounded up, what the drive puts in the window when it delivers
    every order as late as its pace allows: the bound is reached, so it is the least safe one."""
    ledger = record_all(reports)
    worst = [as_late(Fraction(r.since), Fraction(r.t), Fraction(r.amount), r.rate) for r in reports]
    newest = max((r.t for r in reports), default=0)
    for q in {0, *later}:
        t = newest + q
        assert ledger.window_total_fg(t) == ceil_fraction(
            sum((in_window(s, Fraction(t)) for s in worst), Fraction(0))
        )
        assert ledger.window_total_ng(t) == -(-ledger.window_total_fg(t) // 1_000_000)


@pytest.mark.parametrize("rate_fg_per_s", [1, 7, 11_574_074, 10**9])
@pytest.mark.parametrize("days", [1, 2, 5])
def test_contiguous_hourly_orders_at_one_rate_count_exactly_one_day(
    rate_fg_per_s: int, days: int
) -> None:
    """REQ-GOV-005: back-to-back hourly orders each delivered at their pace (uniformly) put
    exactly one day's worth in every window; the ledger counts exactly that (the tail of the
    order leaving the window and the head of the one entering add up to one order), in every
    window ending at a report and between reports, and so does the peak."""
    hour = 3600
    amount = rate_fg_per_s * hour
    ledger = Ledger()
    schedules: list[Schedule] = []
    for k in range(days * 24):
        start, end = k * hour, (k + 1) * hour
        ledger = ledger.record(end, k + 1, start, amount, amount, hour)
        schedules.append(uniform(Fraction(start), Fraction(end), Fraction(amount)))
        for offset in (0, 1, 1799, 3599):
            t = end + offset
            real = sum((in_window(s, Fraction(t)) for s in schedules), Fraction(0))
            if end >= DAY and offset == 0:
                assert real == rate_fg_per_s * DAY
            # between reports the order in flight is not recorded: only the recorded drug
            # counts, exactly (its tail shrinks as the window moves on)
            assert ledger.window_total_fg(t) == ceil_fraction(real)
        if end >= DAY:
            assert ledger.window_total_fg(end) == rate_fg_per_s * DAY
            # with the next hour in flight at the same pace, every later window holds one day
            nxt = Flow(end, amount, amount, hour)
            assert peak_fg(ledger.pieces, (nxt,), end) == rate_fg_per_s * DAY


# --- the peak over later windows with drug in flight ------------------------------------------


@dataclasses.dataclass
class FlowSpec:
    start: int
    amount: int
    pace_fg: int
    pace_s: int

    @property
    def rate(self) -> Fraction:
        return Fraction(self.pace_fg, self.pace_s)

    def flow(self) -> Flow:
        return Flow(self.start, self.amount, self.pace_fg, self.pace_s)

    def worst_at(self, t: Fraction) -> Schedule:
        """The schedule that puts the most of it in the window ending at ``t``: full pace from
        the later of its start and the window start, until it is all delivered or ``t``."""
        lo = max(Fraction(self.start), t - W)
        if t <= lo or self.amount == 0 or self.pace_fg == 0:
            return []
        length = min(t - lo, Fraction(self.amount) / self.rate)
        return [(lo, lo + length, self.rate)]


@st.composite
def flow_specs(draw: st.DrawFn, now: int, long_orders: bool) -> list[FlowSpec]:
    out = []
    for _ in range(draw(st.integers(0, 4))):
        start = now + draw(st.sampled_from([0, 1, 3600, DAY]) | st.integers(-2 * 3600, 2 * DAY))
        start = max(0, start)
        longest = 3 * DAY if long_orders else DAY
        pace_s = draw(st.sampled_from([1, 600, 3600, DAY]) | st.integers(1, longest))
        pace_fg = draw(st.integers(0, 10**12))
        # an order's amount is at most its pace over its duration
        amount = draw(st.sampled_from([0, pace_fg]) | st.integers(0, pace_fg))
        out.append(FlowSpec(start, amount, pace_fg, pace_s))
    return out


def reference_peak(pieces_worst: list[Schedule], flows: list[FlowSpec], now: int) -> Fraction:
    """The largest window (ending at or after ``now``) a pace-keeping drive can make: recorded
    drug as late as possible, each flow at full pace up to the window's end. Evaluated at every
    kink of every term (where the sum can turn)."""
    ends = {Fraction(now)} | {t for t in kinks(pieces_worst) if t >= now}
    for f in flows:
        if f.pace_fg:
            full = Fraction(f.amount) / f.rate
            ends.update(
                t
                for t in (Fraction(f.start), f.start + full, f.start + W, f.start + full + W)
                if t >= now
            )
    best = Fraction(0)
    for t in ends:
        total = sum((in_window(s, t) for s in pieces_worst), Fraction(0))
        total += sum((in_window(f.worst_at(t), t) for f in flows), Fraction(0))
        best = max(best, total)
    return best


@settings(max_examples=300, deadline=None)
@given(data=st.data(), reports=report_streams(repeat=False, max_size=8), gap=st.integers(0, DAY))
def test_peak_is_exact_over_every_later_window(
    data: st.DataObject, reports: list[Report], gap: int
) -> None:
    """REQ-GOV-004, REQ-GOV-005: the peak with drug in flight (orders of at most a day) equals,
    rounded up, the largest window the recorded drug (as late as possible) and the flows (at full
    pace up to the window end) can make: never below it (safe) and never above (exact)."""
    now = max((r.t for r in reports), default=0) + gap
    flows = data.draw(flow_specs(now, long_orders=False))
    ledger = record_all(reports)
    worst = [as_late(Fraction(r.since), Fraction(r.t), Fraction(r.amount), r.rate) for r in reports]
    expected = ceil_fraction(reference_peak(worst, flows, now))
    assert peak_fg(ledger.live(now), tuple(f.flow() for f in flows), now) == expected


@settings(max_examples=300, deadline=None)
@given(data=st.data(), reports=report_streams(max_size=8), gap=st.integers(0, DAY))
def test_peak_is_never_below_real_delivery_of_recorded_and_flowing_drug(
    data: st.DataObject, reports: list[Report], gap: int
) -> None:
    """REQ-GOV-004: whatever pace-keeping schedule the drive follows for recorded drug and for
    drug still flowing (orders of any length, delivered early, late, uniformly, in bursts, or not
    in full), no window ending at or after ``now`` holds more than the peak."""
    now = max((r.t for r in reports), default=0) + gap
    flows = data.draw(flow_specs(now, long_orders=True))
    weights = data.draw(st.lists(st.integers(0, 5), max_size=6))
    ledger = record_all(reports)
    schedules = []
    for r in reports:
        options = shapes(r, weights)
        schedules.append(options[data.draw(st.integers(0, len(options) - 1))])
    for f in flows:
        if f.amount == 0 or f.pace_fg == 0:
            continue
        lo = Fraction(f.start)
        span = Fraction(data.draw(st.integers(0, 3 * DAY)))
        part = Fraction(data.draw(st.integers(0, f.amount)))
        busy = part / f.rate
        options = [
            as_early(lo, Fraction(f.amount), f.rate),
            uniform(lo, lo + busy + span, part) if busy + span > 0 else [],
            as_late(lo, lo + busy + span, part, f.rate),
            bursts(lo, lo + busy + span, part, f.rate, weights),
        ]
        schedule = options[data.draw(st.integers(0, 3))]
        assert all(0 <= r <= f.rate and a >= lo for a, b, r in schedule)
        schedules.append(schedule)
    assert peak_fg(ledger.live(now), tuple(f.flow() for f in flows), now) >= worst_real_window(
        schedules, now
    )


def test_the_peak_can_be_where_a_piece_starts_to_fall_while_a_slower_flow_still_rises() -> None:
    """REQ-GOV-004, REQ-TIP-004: 36 000 fg left the tip over the first hour at 10 fg/s; from
    ``now`` = 4 600 s a day of drug flows at 4 fg/s. Until t = 86 400 the whole piece is in the
    window and the flow adds 4 fg/s; then the piece leaves at 10 fg/s while the flow adds only 4,
    so the largest window ends exactly where the piece starts to leave it, before the flow stops
    rising: 36 000 + 4 x (86 400 - 4 600) = 363 200 fg (not at ``now``: 36 000; not at the flow's
    end, 91 000: 345 600)."""
    ledger = Ledger().record(3_600, 1, 0, 36_000, 10, 1)
    flow = Flow(4_600, 4 * DAY, 4, 1)
    assert peak_fg(ledger.pieces, (flow,), 4_600) == 363_200
    # without the flow nothing rises: the window at now decides
    assert peak_fg(ledger.pieces, (), 4_600) == 36_000


def test_a_flow_longer_than_a_day_counts_what_fits_in_a_window_with_pieces_recorded() -> None:
    """REQ-GOV-005: an order of two days at 1 fg/s puts at most one day (86 400 fg) in a window;
    with a recorded piece beside it the peak counts exactly that."""
    ledger = Ledger().record(100, 1, 0, 100, 100, 100)
    flow = Flow(100, 2 * DAY, 2 * DAY, 2 * DAY)
    # from t = 86 400 the piece (its last 100 s at 1 fg/s) leaves as fast as the flow enters
    assert peak_fg(ledger.pieces, (flow,), 100) == DAY


def test_a_flow_longer_than_a_day_with_an_empty_ledger_counts_what_fits_in_a_window() -> None:
    """REQ-GOV-005: an order of two days at 1 fg/s (172 800 fg) can put at most 86 400 fg in any
    24 h window, whether or not the ledger holds anything."""
    flow = Flow(100, 2 * DAY, 2 * DAY, 2 * DAY)
    assert peak_fg((), (flow,), 100) == DAY


def generic_peak(pieces: tuple[Piece, ...], flows: tuple[Flow, ...], now: int) -> int:
    """:func:`peak` as the proofs evaluate it (every live piece, every window by ``total_at``)."""
    live = tuple(p for p in pieces if p.last_s > now - DAY)
    period = common_period(*(p.pace_s for p in live), *(f.pace_s for f in flows))
    return peak(
        INT_OPS, [p.term(period) for p in live], [f.term(period) for f in flows], now, period
    )


@st.composite
def hourly_ledgers(draw: st.DrawFn) -> tuple[tuple[Piece, ...], tuple[Flow, ...], int]:
    """A day of hourly orders near one pace (the ledger of a tick at the hard maximum), some
    slower, some partly or wholly before the window of ``now``, and flows from ``now``."""
    now = draw(st.integers(2 * DAY, 3 * DAY))
    pace = draw(st.integers(0, 10**9))
    pieces = []
    end = now - draw(st.integers(0, 2 * 3_600))
    for i in range(draw(st.integers(0, 30))):
        start = end - draw(st.sampled_from([3_600, 3_599, 1, 1_800]) | st.integers(0, 7_200))
        rate = draw(st.sampled_from([pace, pace + 1, 0]) | st.integers(0, 10**9))
        amount = draw(st.integers(0, rate * max(1, end - start) // 3_600) | st.integers(0, 10**12))
        pieces.append(Piece(100 - i, max(0, start), end, amount, rate, 3_600))
        end = max(0, start - draw(st.integers(0, 600)))
    flows = tuple(
        Flow(now + draw(st.sampled_from([0, 1, 3_600]) | st.integers(0, DAY)), a, r, s)
        for a, r, s in draw(
            st.lists(
                st.tuples(
                    st.integers(0, 10**12),
                    st.integers(0, 10**9),
                    st.sampled_from([1, 3_600, DAY]),
                ),
                max_size=3,
            )
        )
    )
    return tuple(reversed(pieces)), flows, now


@settings(max_examples=400, deadline=None)
@given(ledger=hourly_ledgers())
def test_peak_fg_is_the_peak_the_proofs_evaluate(
    ledger: tuple[tuple[Piece, ...], tuple[Flow, ...], int],
) -> None:
    """REQ-GOV-004, REQ-TIP-004: ``peak_fg`` evaluates only the candidates ``peak`` counts and
    counts the pieces whole in (or out of) a window without the general term; its result is the
    peak of every live piece and flow by ``total_at`` at every candidate (what LEDGER-Z3 proves),
    with and without a limit (within it exactly when the peak is)."""
    pieces, flows, now = ledger
    exact = generic_peak(pieces, flows, now)
    assert peak_fg(pieces, flows, now) == exact
    for limit in (exact, exact - 1):
        if limit >= 0:
            assert (peak_fg(pieces, flows, now, limit) <= limit) == (exact <= limit)


def test_a_window_that_cuts_one_hourly_piece_counts_the_others_whole() -> None:
    """REQ-GOV-004: 24 hourly orders of 3 600 fg at 1 fg/s ended at ``now``; an order of an
    hour from ``now`` at 2 fg/s. The window ending at ``t`` in the next hour holds the 23 later
    pieces whole, the oldest piece's part after ``t - 86400`` and the order's ``2 (t - now)``:
    largest at the hour's end, 23 x 3 600 + 7 200 = 90 000 fg."""
    now = 30 * DAY
    ledger = Ledger()
    for i in range(24):
        ledger = ledger.record(
            now - DAY + (i + 1) * 3_600, i + 1, now - DAY + i * 3_600, 3_600, 1, 1
        )
    order = Flow(now, 7_200, 2, 1)
    assert (
        peak_fg(ledger.pieces, (order,), now)
        == 90_000
        == generic_peak(ledger.pieces, (order,), now)
    )


# --- recording: one piece per order, expiry, bounded memory ----------------------------------


def test_reports_of_one_order_add_to_its_piece() -> None:
    """REQ-GOV-005: a later report of the same order adds to its piece (one piece per order),
    keeps its start, moves its end to the report and keeps the larger pace; other orders keep
    their own pieces."""
    ledger = Ledger().record(600, 7, 0, 1_000, 6_000, 3_600)
    ledger = ledger.record(700, 8, 650, 50, 100, 100)
    ledger = ledger.record(1_200, 7, 0, 2_000, 12_000, 3_600)
    assert ledger.pieces == (
        Piece(8, 650, 700, 50, 100, 100),
        Piece(7, 0, 1_200, 3_000, 12_000, 3_600),
    )
    # a smaller pace in a later report does not lower the recorded one
    slower = ledger.record(1_300, 7, 0, 10, 1, 3_600)
    assert slower.pieces[-1] == Piece(7, 0, 1_300, 3_010, 12_000, 3_600)
    assert ledger.newest_s == 1_200 and slower.newest_s == 1_300


def test_a_record_keeps_every_other_piece_of_a_decoded_ledger() -> None:
    """REQ-GOV-005: a ledger from outside may hold two pieces of one order id (the record's one
    piece per order is not a validity rule); a report of that order adds to the oldest of them
    and keeps the other: no recorded drug is ever dropped from the window."""
    ledger = Ledger(pieces=(Piece(4, 0, 100, 30, 30, 100), Piece(4, 50, 200, 20, 20, 150)))
    after = ledger.record(300, 4, 0, 5, 30, 100)
    assert after.pieces == (Piece(4, 50, 200, 20, 20, 150), Piece(4, 0, 300, 35, 30, 100))
    assert sum(p.amount_fg for p in after.live(300)) == 30 + 20 + 5
    assert after.window_total_fg(300) == 55


def test_record_is_pure() -> None:
    """REQ-GOV-005: recording returns a new ledger and leaves the old one as it was."""
    ledger = Ledger().record(600, 1, 0, 1_000, 1_000, 600)
    before = ledger.pieces
    ledger.record(1_200, 2, 600, 5, 5, 600)
    assert ledger.pieces == before
    assert ledger.window_total_fg(600) == 1_000


@pytest.mark.parametrize("end", [0, 3_600, 10 * DAY])
def test_pieces_expire_24_h_after_their_end(end: int) -> None:
    """REQ-GOV-005: a piece ending at ``end`` may lie in windows ending before ``end + 86400``
    (it is counted there) and in none after; a later record drops it."""
    start = max(0, end - 3_600)
    ledger = Ledger().record(end, 1, start, 3_600, 3_600, 3_600)
    assert ledger.window_total_fg(end + DAY - 1) == 1  # its last second's worth at 1 fg/s
    assert ledger.live(end + DAY - 1) == ledger.pieces
    assert ledger.window_total_fg(end + DAY) == 0
    assert ledger.live(end + DAY) == ()
    assert ledger.record(end + DAY - 1, 2, end + DAY - 1, 0, 1, 1).pieces[0].order_id == 1
    assert [p.order_id for p in ledger.record(end + DAY, 2, end + DAY, 0, 1, 1).pieces] == [2]


def test_memory_stays_bounded_and_merging_never_lowers_a_window() -> None:
    """REQ-GOV-005: past MAX_PIECES the oldest pieces merge; the merged ledger's window totals
    and peaks are never below the reference on every order kept apart (here 1.5 x MAX_PIECES
    orders of mixed paces within a day; the peak is checked at the window ends where the flows
    turn)."""
    reports: list[Report] = []
    ledger = Ledger()
    t = 0
    for k in range(MAX_PIECES * 3 // 2):
        t += 67 + (k % 5) * 3
        dur = 60 + (k % 7) * 50
        pace = 1_000 + (k % 11) * 997
        amount = pace * min(dur, t) // dur - (k % 3)
        r = Report(t, k + 1, max(0, t - dur), max(0, t - dur), max(0, amount), pace, dur)
        reports.append(r)
        ledger = ledger.record(r.t, r.oid, r.start, r.amount, r.pace_fg, r.pace_s)
        assert len(ledger.pieces) <= MAX_PIECES
    assert len(ledger.pieces) == MAX_PIECES
    worst = [as_late(Fraction(r.since), Fraction(r.t), Fraction(r.amount), r.rate) for r in reports]
    for q in (0, 1, 600, DAY // 3, DAY // 2, DAY - 1):
        s = t + q
        assert ledger.window_total_fg(s) >= sum(
            (in_window(w, Fraction(s)) for w in worst), Fraction(0)
        )
    flows = [FlowSpec(t, 10**6, 10**6, 3_600), FlowSpec(t + 7_200, 5 * 10**6, 10**6, 600)]
    peak = peak_fg(ledger.pieces, tuple(f.flow() for f in flows), t)
    for end in (t, t + 3_600, t + 7_200, t + 10_200, t + DAY // 2, t + DAY):
        at = Fraction(end)
        real = sum((in_window(w, at) for w in worst), Fraction(0))
        assert peak >= real + sum((in_window(f.worst_at(at), at) for f in flows), Fraction(0))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Piece(1, 0, 3_600, 3_600, 1, 1), Piece(2, 0, 3_600, 3_600, 1, 1)),  # concurrent
        (Piece(1, 0, 3_600, 3_600, 3_600, 3_600), Piece(2, 1_800, 3_700, 950, 1, 2)),
        (Piece(1, 0, 10, 100, 50, 5), Piece(2, 5, 3_000, 7, 7, 3_000)),
    ],
)
def test_merging_two_pieces_bounds_both_in_every_window(a: Piece, b: Piece) -> None:
    """REQ-GOV-005: when a record takes the ledger past MAX_PIECES, the two oldest pieces merge
    into one that bounds both in every window: never below the drug both orders, delivered as
    late as their paces allow, put in any window (checked at every kink of their schedules)."""
    fillers = tuple(Piece(10 + k, 3_700, 3_700 + k, 0, 1, 1) for k in range(MAX_PIECES - 2))
    full = Ledger(pieces=(a, b, *fillers))
    now = fillers[-1].end_s + 1
    merged = full.record(now, 99_999, now, 0, 1, 1)
    assert len(merged.pieces) == MAX_PIECES
    assert merged.pieces[0].amount_fg == a.amount_fg + b.amount_fg
    worst = [
        as_late(
            Fraction(p.start_s),
            Fraction(p.end_s),
            Fraction(p.amount_fg),
            Fraction(p.pace_fg, p.pace_s),
        )
        for p in (a, b)
    ]
    for t in sorted({int(k) for k in kinks(worst)} | {ceil_fraction(k) for k in kinks(worst)}):
        if t >= now:
            real = sum((in_window(w, Fraction(t)) for w in worst), Fraction(0))
            assert merged.window_total_fg(t) >= real


# --- errors: time going back, invalid pieces and arguments -----------------------------------


def _error(fn: Callable[[], object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        fn()
    return exc.value


@given(newest=st.integers(1, 10**7), back=st.integers(1, 10**6))
def test_time_may_not_go_back_before_the_newest_report(newest: int, back: int) -> None:
    """REQ-GOV-005: recording or querying before the newest recorded end is refused, naming
    ``t_s`` and the limit; at the newest end itself both are allowed."""
    ledger = Ledger().record(newest, 1, 0, 5, 5, 1)
    earlier = max(0, newest - back)
    for call in (
        lambda: ledger.record(earlier, 2, 0, 1, 1, 1),
        lambda: ledger.window_total_fg(earlier),
        lambda: ledger.window_total_ng(earlier),
    ):
        err = _error(call)
        assert (err.field, err.message, err.value, err.limit) == (
            "t_s",
            "time went backwards: earlier than the newest record",
            earlier,
            f">= {newest}",
        )
    assert ledger.window_total_fg(newest) == 5
    assert ledger.record(newest, 2, 0, 1, 1, 1).newest_s == newest


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: Ledger().record(-1, 1, 0, 1, 1, 1), "t_s"),
        (lambda: Ledger().record(True, 1, 0, 1, 1, 1), "t_s"),
        (lambda: Ledger().record(1.0, 1, 0, 1, 1, 1), "t_s"),
        (lambda: Ledger().record("1", 1, 0, 1, 1, 1), "t_s"),
        (lambda: Ledger().record(10, 1, 0, -1, 1, 1), "amount_fg"),
        (lambda: Ledger().record(10, 1, 0, 2.0, 1, 1), "amount_fg"),
        (lambda: Ledger().record(10, 1, 0, False, 1, 1), "amount_fg"),
        (lambda: Ledger().record(10, -1, 0, 1, 1, 1), "order_id"),
        (lambda: Ledger().record(10, 1, -5, 1, 1, 1), "start_s"),
        (lambda: Ledger().record(10, 1, 11, 1, 1, 1), "end_s"),  # started after the report
        (lambda: Ledger().record(10, 1, 0, 1, -1, 1), "pace_fg"),
        (lambda: Ledger().record(10, 1, 0, 1, 1, 0), "pace_s"),
        (lambda: Ledger().record(10, 1, 0, 1, 1, -3), "pace_s"),
        (lambda: Ledger().window_total_fg(-5), "t_s"),
        (lambda: Piece(1, 0, 10, 1, 1, True), "pace_s"),
        (lambda: Piece(1, 10, 9, 1, 1, 1), "end_s"),
        (lambda: Piece("1", 0, 9, 1, 1, 1), "order_id"),
        (lambda: Piece(1, 0, 9, None, 1, 1), "amount_fg"),
        (lambda: Piece(1, 0, 9, 1, 1, 1, instant=1), "instant"),
        (lambda: Piece(1, 0, 9, 1, 1, 1, instant="yes"), "instant"),
        (lambda: Ledger(pieces=[]), "pieces"),
        (lambda: Ledger(pieces=(Piece(1, 0, 9, 1, 1, 1),) * (MAX_PIECES + 1)), "pieces"),
        (lambda: Ledger(pieces=((1, 0, 9, 1, 1, 1),)), "pieces[0]"),
        (
            lambda: Ledger(pieces=(Piece(1, 0, 9, 1, 1, 1), Piece(2, 0, 8, 1, 1, 1))),
            "pieces[1].end_s",
        ),
    ],
)
def test_invalid_inputs_name_the_field(call: Callable[[], object], field: str) -> None:
    """REQ-GOV-005: a bad time, amount or piece is refused with the field at fault; nothing
    negative, fractional, boolean or out of order enters the ledger, and an instant piece is
    flagged by a boolean, not a number or text."""
    assert _error(call).field == field


def test_valid_edges_are_accepted() -> None:
    """REQ-GOV-005: time 0, amount 0, a piece of zero length and equal ends are valid."""
    assert Ledger().record(0, 0, 0, 0, 0, 1).window_total_fg(0) == 0
    two = Ledger(pieces=(Piece(1, 0, 9, 1, 1, 1), Piece(2, 0, 9, 1, 1, 1)))
    assert two.window_total_fg(9) == 2
    assert Ledger(pieces=(Piece(1, 0, 9, 1, 1, 1),) * MAX_PIECES).newest_s == 9
    assert Ledger().newest_s == 0
    assert Piece(1, 0, 9, 1, 1, 1, instant=True).instant is True


# --- JSON round trip ------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(reports=report_streams())
def test_ledger_round_trips_through_the_codec(reports: list[Report]) -> None:
    """REQ-GOV-005: a ledger survives encoding unchanged."""
    ledger = record_all(reports)
    assert decode(Ledger, encode(ledger)) == ledger


def test_device_with_a_ledger_round_trips_through_json(library: Library) -> None:
    """REQ-GOV-005: a device whose ledger holds pieces (and another drug's ledger) survives
    to_json/from_json with every piece and every window total unchanged."""
    from itdose.core.state import DrugLedger

    d = reach(Phase.ACTIVE, library)
    now = 7 * DAY + 800
    ledger = (
        Ledger()
        .record(now - 300, 5, now - 3_900, 41_660_000_000, 41_660_000_000, 3_600)
        .record(now - 100, 6, now - 700, 10**12, 10**12, 600)
        .record(now, 5, now - 3_900, 7, 41_660_000_000, 3_600)
    )
    other = Ledger().record(now - 50, 4, now - 60, 12_345, 99_999, 10)
    d = dataclasses.replace(d, ledger=ledger, other_ledgers=(DrugLedger("baclofen", other),))
    back = from_json(to_json(d))
    assert back == d
    assert back.ledger.pieces == ledger.pieces
    for t in (now, now + 1_000, now + DAY - 1):
        assert back.ledger.window_total_fg(t) == ledger.window_total_fg(t) > 0


# --- bolus history ---------------------------------------------------------------------------

start_gaps = st.one_of(
    st.sampled_from([0, 1, 3600, DAY - 1, DAY, DAY + 1]),
    st.integers(min_value=0, max_value=2 * DAY),
)
offsets = st.lists(
    st.one_of(
        st.sampled_from([0, 1, 299, 300, DAY - 301, DAY - 300, DAY - 1, DAY, DAY + 1]),
        st.integers(min_value=0, max_value=2 * DAY),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=200)
@given(
    first=st.integers(min_value=0, max_value=10**7),
    gaps_=st.lists(start_gaps, max_size=30),
    queries=offsets,
)
def test_bolus_count_matches_reference(first: int, gaps_: list[int], queries: list[int]) -> None:
    """REQ-GOV-006: the count in every window equals the starts in ``(t - 86400, t]``."""
    history = BolusHistory()
    starts: list[int] = []
    t = first
    for gap in gaps_:
        t += gap
        history = history.record_start(t, max_per_24h=10**6)
        starts.append(t)
        assert history.last_start_s == t
        for q in (t, *(t + d for d in queries)):
            assert history.count_in_window(q) == sum(1 for s in starts if q - DAY < s <= q)
        assert all(s > t - DAY for s in history.starts_s)
        assert len(history.starts_s) == sum(1 for s in starts if s > t - DAY)


@given(
    last=st.integers(min_value=0, max_value=10**7),
    lockout=st.integers(min_value=0, max_value=DAY),
    after=st.integers(min_value=0, max_value=2 * DAY),
)
def test_lockout_runs_from_the_last_start_and_ends_exactly(
    last: int, lockout: int, after: int
) -> None:
    """REQ-GOV-006: the lockout counts down from the last delivered start."""
    history = BolusHistory().record_start(last, max_per_24h=1)
    assert history.lockout_remaining_s(last + after, lockout) == max(0, lockout - after)
    assert history.lockout_remaining_s(last + lockout, lockout) == 0
    if lockout > 0:
        assert history.lockout_remaining_s(last + lockout - 1, lockout) == 1
    assert BolusHistory().lockout_remaining_s(last, lockout) == 0


@given(
    max_per_24h=st.integers(min_value=1, max_value=12),
    spacing=st.integers(min_value=1, max_value=DAY // 12),
    t0=st.integers(min_value=0, max_value=10**7),
)
def test_record_start_enforces_the_count_and_bounds_memory(
    max_per_24h: int, spacing: int, t0: int
) -> None:
    """REQ-GOV-006: never more than ``max_per_24h`` starts kept or recorded in a window."""
    history = BolusHistory()
    for i in range(max_per_24h):
        history = history.record_start(t0 + i * spacing, max_per_24h=max_per_24h)
    assert len(history.starts_s) == max_per_24h
    blocked = t0 + max_per_24h * spacing
    if blocked < t0 + DAY:
        with pytest.raises(InvalidInput):
            history.record_start(blocked, max_per_24h=max_per_24h)
    later = history.record_start(t0 + DAY, max_per_24h=max_per_24h)
    assert len(later.starts_s) <= max_per_24h
    assert t0 not in later.starts_s


def test_bolus_history_round_trips_through_json() -> None:
    """REQ-GOV-006: the history survives encoding."""
    history = BolusHistory()
    for t in (10, 5000, DAY + 20):
        history = history.record_start(t, max_per_24h=3)
    assert decode(BolusHistory, encode(history)) == history
    assert decode(BolusHistory, encode(BolusHistory())) == BolusHistory()


HISTORY = BolusHistory(last_start_s=5_000, starts_s=(5_000,))

QUERIES: list[Callable[[BolusHistory, object], object]] = [
    lambda h, t: h.count_in_window(t),  # type: ignore[arg-type]
    lambda h, t: h.lockout_remaining_s(t, 600),  # type: ignore[arg-type]
    lambda h, t: h.record_start(t, max_per_24h=4),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("query", QUERIES)
def test_a_bolus_history_queried_before_its_last_start_names_t_s(
    query: Callable[[BolusHistory, object], object],
) -> None:
    """REQ-GOV-006: time may not go back before the last delivered start."""
    err = _error(lambda: query(HISTORY, 4_999))
    assert err.field == "t_s"
    assert err.message == "time went backwards: before the last bolus start"
    assert (err.value, err.limit) == (4_999, ">= 5000")
    assert query(HISTORY, 5_000) is not None


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize(
    ("bad", "message"), [(-1, "must not be negative"), (2.5, "must be an integer")]
)
def test_a_bolus_history_rejects_a_bad_time_naming_t_s(
    query: Callable[[BolusHistory, object], object], bad: object, message: str
) -> None:
    """REQ-GOV-006: whole non-negative seconds only."""
    err = _error(lambda: query(BolusHistory(), bad))
    assert (err.field, err.message, err.value) == ("t_s", message, bad)


def _contract(err: InvalidInput) -> tuple[str, str, object, str | None]:
    return (err.field, err.message, err.value, err.limit)


@pytest.mark.parametrize(
    ("kwargs", "field", "bad", "message", "limit"),
    [
        ({"starts_s": [1]}, "starts_s", [1], "must be a tuple", None),
        ({"last_start_s": -1}, "last_start_s", -1, "must not be negative", ">= 0"),
        ({"last_start_s": 2.0}, "last_start_s", 2.0, "must be an integer", None),
        ({"last_start_s": 3, "starts_s": ("3",)}, "starts_s[0]", "3", "must be an integer", None),
        ({"last_start_s": 5, "starts_s": (-1,)}, "starts_s[0]", -1, "must not be negative", ">= 0"),
        (
            {"last_start_s": 9, "starts_s": (5, 9, 7)},
            "starts_s[2]",
            7,
            "starts must be in time order",
            None,
        ),
        (
            {"last_start_s": 9, "starts_s": (5,)},
            "last_start_s",
            9,
            "must equal the newest of starts_s",
            None,
        ),
        ({"starts_s": (1, 2)}, "last_start_s", None, "missing while starts_s is not empty", None),
        (
            {"last_start_s": 90_000, "starts_s": (3_600, 90_000)},
            "starts_s[0]",
            3_600,
            "older than 24 h",
            None,
        ),
    ],
)
def test_an_inconsistent_bolus_history_is_rejected_in_full(
    kwargs: dict[str, object], field: str, bad: object, message: str, limit: str | None
) -> None:
    """REQ-GOV-006: a corrupted bolus history is refused with the exact field at fault."""
    err = _error(lambda: BolusHistory(**kwargs))  # type: ignore[arg-type]
    assert _contract(err) == (field, message, bad, limit)


@pytest.mark.parametrize(
    ("call", "field", "bad", "message", "limit"),
    [
        (lambda h: h.count_in_window(-1), "t_s", -1, "must not be negative", ">= 0"),
        (lambda h: h.lockout_remaining_s(-5, 600), "t_s", -5, "must not be negative", ">= 0"),
        (lambda h: h.lockout_remaining_s(10, -1), "lockout_s", -1, "must not be negative", ">= 0"),
        (lambda h: h.lockout_remaining_s(10, 1.5), "lockout_s", 1.5, "must be an integer", None),
        (lambda h: h.lockout_remaining_s(10, True), "lockout_s", True, "must be an integer", None),
        (
            lambda h: h.record_start(10, max_per_24h=-1),
            "max_per_24h",
            -1,
            "must not be negative",
            ">= 0",
        ),
        (
            lambda h: h.record_start(10, max_per_24h="4"),
            "max_per_24h",
            "4",
            "must be an integer",
            None,
        ),
    ],
)
def test_bolus_history_arguments_are_rejected_in_full(
    call: Callable[[BolusHistory], object],
    field: str,
    bad: object,
    message: str,
    limit: str | None,
) -> None:
    """REQ-GOV-006: times, lockouts and the per-24 h maximum are non-negative ints."""
    for history in (BolusHistory(), BolusHistory(last_start_s=0, starts_s=(0,))):
        err = _error(functools.partial(call, history))
        assert _contract(err) == (field, message, bad, limit)


def test_recording_one_bolus_too_many_is_rejected_in_full() -> None:
    """REQ-GOV-006: a start beyond the maximum per 24 h is refused (the governor must have
    denied it); at 24 h after the oldest start it fits again."""
    h = BolusHistory().record_start(100, max_per_24h=2).record_start(200, max_per_24h=2)
    err = _error(lambda: h.record_start(99 + WINDOW_S, max_per_24h=2))
    assert _contract(err) == (
        "t_s",
        "a bolus start here exceeds the maximum per 24 h",
        99 + WINDOW_S,
        "2 per 24 h",
    )
    later = h.record_start(100 + WINDOW_S, max_per_24h=2)
    assert later == BolusHistory(last_start_s=100 + WINDOW_S, starts_s=(200, 100 + WINDOW_S))
    assert (
        _contract(_error(lambda: BolusHistory().record_start(0, max_per_24h=0)))[3] == "0 per 24 h"
    )


def test_count_in_window_drops_a_start_exactly_24_h_old() -> None:
    """REQ-GOV-006: a start at s is counted at t while s > t - 86400."""
    h = BolusHistory(last_start_s=1_000, starts_s=(500, 1_000))
    assert h.count_in_window(1_000) == 2
    assert h.count_in_window(500 + WINDOW_S - 1) == 2
    assert h.count_in_window(500 + WINDOW_S) == 1
    assert h.count_in_window(1_000 + WINDOW_S) == 0
    assert BolusHistory(last_start_s=9, starts_s=(9, 9)).count_in_window(9) == 2
    assert BolusHistory(last_start_s=WINDOW_S).lockout_remaining_s(WINDOW_S, 10) == 10


def test_assumptions_of_the_reference() -> None:
    """The reference's own pieces: a schedule at full pace keeps the pace, and the window
    integral of a uniform day is the day's amount (so the reference can fail)."""
    day = uniform(Fraction(0), W, Fraction(DAY))
    assert in_window(day, W) == DAY
    assert in_window(day, W + 1) == DAY - 1
    assert keeps_pace(
        as_late(Fraction(0), Fraction(10), Fraction(5), Fraction(1)),
        Fraction(0),
        Fraction(10),
        Fraction(5),
        Fraction(1),
    )
    assert not keeps_pace(
        [(Fraction(0), Fraction(1), Fraction(2))], Fraction(0), None, Fraction(2), Fraction(1)
    )
