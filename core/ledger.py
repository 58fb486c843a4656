"""Rolling 24 h accounting, exact at the catheter tip, with bounded memory (REQ-GOV-004,
REQ-GOV-005, REQ-GOV-006, REQ-TIP-004).

:class:`Ledger` holds, per delivery order, the drug that left the catheter tip in the last 24 h;
:class:`BolusHistory` holds the start times of the patient boluses delivered in the last 24 h. Both
are immutable values with JSON-friendly fields and pure methods that return a new value. Neither
is reset by anything: refill, alarm, suspension, reprogramming or restart carry them over
(docs/dosing-rules.md, "Time").

Why the peak bounds every real window (REQ-GOV-004), what the drive is trusted for, and why the
peak is exact (a program accepted at the hard maximum is delivered in full, REQ-TIP-004):
docs/ledger.md. In short: a :class:`Piece` is drug that has left the tip for one order (at most
its pace in any window, :func:`tail`); a :class:`Flow` is drug that may still leave it (at most its
pace from its start, :func:`head`); :func:`peak_fg` is the largest sum over every later window end,
evaluated exactly in integers where a term changes slope (:func:`peak`, written once against
:class:`~itdose.core.arith.Ops` so the proofs evaluate it on z3 terms: LEDGER-Z3).

Memory: pieces older than 24 h are dropped (they are a prefix: pieces are kept in order of their
ends); past :data:`MAX_PIECES` the two oldest merge into one with the summed pace, which bounds
both (never less).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

from itdose.core.arith import INT_OPS, Ops, ceil_div, check_nonneg
from itdose.core.errors import InvalidInput
from itdose.core.units import DAY_S, FG_PER_NG

__all__ = [
    "MAX_PIECES",
    "WINDOW_S",
    "BolusHistory",
    "Flow",
    "Ledger",
    "Piece",
    "ahead_of_pace",
    "candidates",
    "common_period",
    "head",
    "pace_nl_per_h",
    "peak",
    "peak_fg",
    "rough",
    "tail",
    "total_at",
    "window_total",
]

I = TypeVar("I")  # noqa: E741
B = TypeVar("B")

WINDOW_S: Final = DAY_S
"""Length of the rolling window: a day (:data:`itdose.core.units.DAY_S`)."""
MAX_PIECES: Final = 512
"""Most pieces a ledger keeps (far above the orders of a day); beyond, the oldest merge."""


def pace_nl_per_h(volume_nl: int, duration_s: int) -> int:
    """The pace of an order of ``volume_nl`` over ``duration_s``: the whole nanolitres per hour a
    drive runs it at (rounded up, so that it ends on time; the drive interface's resolution)."""
    return ceil_div(volume_nl * 3600, max(1, duration_s))


def ahead_of_pace(
    reported_nl: int,
    volume_nl: int,
    start_s: int,
    end_s: int,
    now_s: int,
    previous_nl: int = 0,
    previous_s: int = 0,
) -> bool:
    """A drive that reports ``reported_nl`` of an order of ``volume_nl`` over ``[start, end)`` at
    ``now`` moved it faster than the order's pace (the ledger's trust, REQ-TIP-004): since the
    order's start, or since its previous report (``previous_nl`` at ``previous_s``). Times are
    whole seconds and counts whole nanolitres, so each span is allowed one second more (a report
    in the second an order starts may already count that second's fluid) and a growth between two
    reports one nanolitre more (the earlier count was rounded down). A burst between two reports
    that stays within both cannot be seen: that much the pace is trusted."""
    pace = pace_nl_per_h(volume_nl, end_s - start_s)
    if reported_nl * 3600 > pace * (max(0, now_s - start_s) + 1):
        return True
    # a drive reports whole nanolitres (rounded down): between two reports the count can grow
    # by one more than the fluid moved
    since = max(start_s, previous_s)
    grown = (reported_nl - previous_nl - 1) * 3600
    return previous_s > 0 and grown > pace * (max(0, now_s - since) + 1)


@dataclass(frozen=True, slots=True)
class Piece:
    """Drug of order ``order_id`` that left the tip: ``amount_fg`` from ``start_s`` to ``end_s``
    (the last report), at most ``pace_fg`` fg per ``pace_s`` s.

    An ``instant`` piece is an amount counted at the instant ``end_s`` (the emergency-MRI worst
    case, a trial dose: REQ-GOV-005): it is in every window ``(t - 86400, t]`` with
    ``t < end_s + 86400``, in full. A pace cannot say that (a finite pace lets part of it leave
    the window before ``end_s + 86400``), so :meth:`term` reads it as a delivery of at most
    ``pace_fg`` per ``pace_s`` ending one second later, at ``end_s + 1``: with a pace of at least
    the amount per second, its tail is the whole amount for every window start before ``end_s``
    and falls to nothing over the next second (at most one second of over-count, never an
    under-count). ``end_s`` itself, the ledger's order and :attr:`Ledger.newest_s` stay at the
    instant, so a drive report in the same second is still in time."""

    order_id: int
    start_s: int
    end_s: int
    amount_fg: int
    pace_fg: int
    pace_s: int
    instant: bool = field(default=False, metadata={"omit_default": True})

    def __post_init__(self) -> None:
        for name in ("order_id", "start_s", "end_s", "amount_fg", "pace_fg"):
            check_nonneg(name, getattr(self, name))
        if check_nonneg("pace_s", self.pace_s) == 0:
            raise InvalidInput("pace_s", "must be positive", value=self.pace_s)
        if self.end_s < self.start_s:
            raise InvalidInput("end_s", "before the start", value=self.end_s)
        if not isinstance(self.instant, bool):
            raise InvalidInput("instant", "must be true or false", value=self.instant)

    @property
    def last_s(self) -> int:
        """The end the window arithmetic reads: ``end_s``, one second later for an instant."""
        return self.end_s + 1 if self.instant else self.end_s

    def term(self, period: int) -> tuple[int, int, int]:
        """``(last_s, amount_fg, rate)``, the rate in fg per ``period`` s (a multiple of
        ``pace_s``): the piece as :func:`tail` reads it."""
        return self.last_s, self.amount_fg, self.pace_fg * (period // self.pace_s)


@dataclass(frozen=True, slots=True)
class Flow:
    """Drug that may leave the tip from ``start_s`` on: ``amount_fg`` in all, at most ``pace_fg``
    fg per ``pace_s`` s."""

    start_s: int
    amount_fg: int
    pace_fg: int
    pace_s: int

    def term(self, period: int) -> tuple[int, int, int]:
        """``(start_s, amount_fg, rate)``, the rate in fg per ``period`` s (a multiple of
        ``pace_s``): the flow as :func:`head` reads it."""
        return self.start_s, self.amount_fg, self.pace_fg * (period // self.pace_s)


# --- the exact arithmetic, once, on Ops (ints at run time, z3 terms in proofs) ----------------
#
# A term is ``(time, amount, rate)``: a piece's end or a flow's start, its amount in fg, its pace
# in fg per ``period`` seconds, where ``period`` is one whole number of seconds common to every
# term of a computation (a multiple of each pace's own period: :func:`common_period`), so that
# every pace is an integer per the same period. An instant is a fraction ``num / den`` of seconds
# with ``den >= 1`` (the window ends where a term's slope changes are fractions). Every amount
# below is exact, scaled by ``period * den``: no intermediate result is rounded; the only
# rounding is the final ceiling to a whole fg, up (toward safety: a peak or a window total is
# never less than the exact value, and against an integer limit in fg the ceiling loses nothing).


def common_period(*periods: int) -> int:
    """The least common multiple of the pace periods (1 for none): every pace is a whole number
    of fg per it."""
    return math.lcm(*periods)


def tail(ops: Ops[I, B], term: tuple[I, I, I], t0_num: I, den: I, scale: I, zero: I) -> I:
    """``scale = period x den`` times the most of a recorded piece that can lie after
    ``t0 = t0_num / den`` (in the window that starts at ``t0``): none if it ended by ``t0``,
    else ``min(amount, rate x (end - t0) / period)`` (a drive that kept the pace cannot have
    moved more in the last ``end - t0`` seconds before ``end``). ``zero`` is ``ops.lit(0)``."""
    end, amount, rate = term
    after = ops.sub(ops.mul(end, den), t0_num)
    most = ops.min_(ops.mul(amount, scale), ops.mul(rate, after))
    return ops.ite(ops.gt(after, zero), most, zero)


def head(ops: Ops[I, B], term: tuple[I, I, I], t_num: I, den: I, scale: I, window: I, zero: I) -> I:
    """``scale = period x den`` times the most of a flow in the window that ends at
    ``t = t_num / den``: none before its start, else ``min(amount, rate x min(t - start, 86400)
    / period)`` (it never ages out of the window: conservative). ``window`` is ``86400 x den``."""
    start, amount, rate = term
    since = ops.sub(t_num, ops.mul(start, den))
    most = ops.min_(ops.mul(amount, scale), ops.mul(rate, ops.min_(since, window)))
    return ops.ite(ops.gt(since, zero), most, zero)


def total_at(
    ops: Ops[I, B],
    pieces: Sequence[tuple[I, I, I]],
    flows: Sequence[tuple[I, I, I]],
    t_num: I,
    den: I,
    period: I,
) -> I:
    """``period x den`` times the most the window ending at ``t_num / den`` can hold: every
    piece's :func:`tail` after ``t - 86400`` plus every flow's :func:`head` by ``t``."""
    zero = ops.lit(0)
    scale = ops.mul(period, den)
    window = ops.mul(ops.lit(WINDOW_S), den)
    t0_num = ops.sub(t_num, window)
    total = zero
    for p in pieces:
        total = ops.add(total, tail(ops, p, t0_num, den, scale, zero))
    for f in flows:
        total = ops.add(total, head(ops, f, t_num, den, scale, window, zero))
    return total


def window_total(ops: Ops[I, B], pieces: Sequence[tuple[I, I, I]], t: I, period: I) -> I:
    """The most of the recorded pieces that can lie in ``(t - 86400, t]``, in fg, rounded up."""
    return ops.ceil_div(total_at(ops, pieces, (), t, ops.lit(1), period), period)


def candidates(
    ops: Ops[I, B],
    pieces: Sequence[tuple[I, I, I]],
    flows: Sequence[tuple[I, I, I]],
    period: I,
) -> list[tuple[I, I]]:
    """The window ends ``(num, den)`` where a term's slope falls: a piece's tail starts to shrink
    (``end + 86400 - amount x period / rate``) or a flow stops rising (``start + min(amount x
    period / rate, 86400)``). A term with no pace never rises nor falls; its candidate is then
    some other instant, which can only be another valid window end (harmless)."""
    one, w = ops.lit(1), ops.lit(WINDOW_S)
    out: list[tuple[I, I]] = []
    for end, amount, rate in pieces:
        den = ops.max_(rate, one)
        out.append((ops.sub(ops.mul(ops.add(end, w), den), ops.mul(amount, period)), den))
    for start, amount, rate in flows:
        den = ops.max_(rate, one)
        rise = ops.min_(ops.mul(amount, period), ops.mul(w, den))
        out.append((ops.add(ops.mul(start, den), rise), den))
    return out


def peak(
    ops: Ops[I, B],
    pieces: Sequence[tuple[I, I, I]],
    flows: Sequence[tuple[I, I, I]],
    now: I,
    period: I,
    total: Callable[[I, I], I] | None = None,
) -> I:
    """The most any 24 h window ending at or after ``now`` can hold, in fg, rounded up.

    The window amount is a sum of piecewise-linear terms of its end ``t``: a piece's tail is
    constant, then falls to nothing; a flow's head is nothing, then rises, then is constant. So
    its largest value on ``t >= now`` is at ``now`` or where some term's slope falls (the
    :func:`candidates`): between two such instants no slope falls, so the sum is convex there and
    largest at one of the two; after the last one it is convex and bounded, so it does not rise.
    After the last flow's candidate no term rises (every head is constant, every tail never
    rises): a piece's candidate later than every flow's holds no more than that flow's candidate
    or ``now``, so only the pieces' candidates at or before some flow's are evaluated (without
    flows, ``now`` alone decides). Each candidate before ``now`` counts as zero (the value at
    ``now`` is never negative); a candidate that does not count is not evaluated when that is
    decided (plain ints). LEDGER-Z3 proves the result against a model of pace-keeping
    deliveries.

    ``total(t_num, den)``, when given, is ``period x den`` times the window total at ``t_num /
    den`` (by default :func:`total_at`; :func:`peak_fg` gives the whole ledger's, swept)."""

    def window(t_num: I, den: I) -> I:
        return total_at(ops, pieces, flows, t_num, den, period)

    total = total or window
    one, zero = ops.lit(1), ops.lit(0)
    best = ops.ceil_div(total(now, one), period)
    rises = candidates(ops, (), flows, period)
    for num, den in [*candidates(ops, pieces, (), period), *rises]:
        rising = ops.or_(*(ops.le(ops.mul(num, d), ops.mul(n, den)) for n, d in rises))
        counted = ops.and_(ops.ge(num, ops.mul(now, den)), rising)
        if counted is False:  # decided (plain ints): its value would count as zero
            continue
        value = ops.ceil_div(total(num, den), ops.mul(period, den))
        best = ops.max_(best, ops.ite(counted, value, zero))
    return best


def rough(ops: Ops[I, B], amounts: Sequence[I]) -> I:
    """The amounts of every piece and flow summed: never less than :func:`peak` (each term is at
    most its amount)."""
    return functools.reduce(ops.add, amounts, ops.lit(0))


def peak_fg(
    pieces: tuple[Piece, ...], flows: tuple[Flow, ...], now_s: int, limit_fg: int | None = None
) -> int:
    """The most drug any 24 h window ending at or after ``now_s`` can hold, rounded up to a whole
    fg: :func:`peak` on ints, on the pieces whose candidates it counts, with the whole ledger's
    window totals swept (:func:`_totals`; the module doc). With ``limit_fg``, the plain sum of
    every live amount (:func:`rough`, an upper bound) when within it: the same "within?"."""
    live = pieces[_first_live(pieces, now_s) :]
    total = rough(INT_OPS, [p.amount_fg for p in live] + [f.amount_fg for f in flows])
    if limit_fg is not None and total <= limit_fg:
        return total
    period = common_period(*(p.pace_s for p in live), *(f.pace_s for f in flows))
    flow_terms = [f.term(period) for f in flows]
    rises = candidates(INT_OPS, (), flow_terms, period)
    last, last_den = -1, 1  # the latest flow's candidate (none: before every piece's)
    for n, d in rises:
        if n * last_den > last * d:
            last, last_den = n, d
    counted, points = [], [(now_s, 1), *rises]  # pieces whose candidates count, window ends
    terms = [p.term(period) for p in live]
    for term in terms:
        end, amount, rate = term
        den = rate or 1  # its candidate (end + 86400 - amount x period / rate), as candidates
        num = (end + WINDOW_S) * den - amount * period
        if num >= now_s * den and num * last_den <= last * den:
            counted.append(term)
            points.append((num, den))
    at_now, *rest = _totals(terms, flow_terms, period, points)
    sums = dict(zip(points[1:], rest, strict=True))  # now (a proof's is symbolic) not hashed
    # only the counted piece whose window holds the most (total / den; rounding up keeps the
    # order) can be the peak: that one alone is evaluated, with every flow's
    top: list[tuple[int, int, int]] = []
    top_total, top_den = 0, 1
    for term, (num, den) in zip(counted, points[1 + len(rises) :], strict=True):
        total = sums[num, den]
        if not top or total * top_den > top_total * den:
            top, top_total, top_den = [term], total, den
    return peak(
        INT_OPS,
        top,
        flow_terms,
        now_s,
        period,
        lambda n, d: at_now if n is now_s else sums[n, d],
    )


def _totals(
    pieces: list[tuple[int, int, int]],
    flows: list[tuple[int, int, int]],
    period: int,
    points: list[tuple[int, int]],
) -> list[int]:
    """:func:`total_at` at each window end ``num / den`` of ``points`` (the same integers) in one
    sweep in time order: a piece ``(end, amount, rate)`` is whole (``amount x scale``) until its
    candidate, then falling (its :func:`tail`, ``rate x (end + 86400 - t) x den``), then gone (from
    ``end + 86400``; without pace or amount, always). So the pieces hold ``period x den x A + den
    x R1 - num x R0`` (``A``: amounts whole; ``R0``, ``R1``: sums of ``rate``, ``rate x (end +
    86400)`` falling). An end's key ``num x big // den``, ``big`` over every denominator squared,
    orders fractions exactly (two that differ, differ by over ``1 / big``)."""
    terms = [(e + WINDOW_S, a, r) for e, a, r in pieces if a and r]
    big = max([d for _, d in points] + [r for *_, r in terms]) ** 2 + 1
    falls = sorted(((o * r - a * period) * big // r, a, r, o) for o, a, r in terms)
    gone = sorted(terms)  # by end (a ledger's order, but for instants)
    whole, r0, r1, i, j = sum(a for _, a, _ in terms), 0, 0, 0, 0
    out = [0] * len(points)
    for k in sorted(range(len(points)), key=lambda k: points[k][0] * big // points[k][1]):
        num, den = points[k]
        key = num * big // den
        while i < len(falls) and falls[i][0] < key:
            _, a, r, o = falls[i]
            whole, r0, r1, i = whole - a, r0 + r, r1 + r * o, i + 1
        while j < len(gone) and gone[j][0] * den <= num:
            o, _, r = gone[j]
            r0, r1, j = r0 - r, r1 - r * o, j + 1
        total = period * den * whole + den * r1 - num * r0
        for start, amount, rate in flows:  # each flow's head
            since = num - start * den
            if since > 0:
                total += min(amount * period * den, rate * min(since, WINDOW_S * den))
        out[k] = total
    return out


def _first_live(pieces: Sequence[Piece], t: int) -> int:
    """Index of the first piece that can still lie in a window ending at or after ``t``: in a
    ledger's order (of their ends) the aged-out pieces are a prefix, usually empty or one long
    (every record drops them; a piece out of that order after it holds nothing of the window)."""
    for i, p in enumerate(pieces):  # a plain loop: no generator on every step
        if p.last_s > t - WINDOW_S:
            return i
    return len(pieces)


def _merge(a: Piece, b: Piece) -> Piece:
    """One piece that bounds both in every window: the later end, the sum, a pace at least the
    sum of both (over the shorter of their periods, each rounded up, so integers stay small);
    an instant if either is (its end read one second later: a later end never holds less)."""
    period = min(a.pace_s, b.pace_s)
    return Piece(
        order_id=min(a.order_id, b.order_id),
        start_s=min(a.start_s, b.start_s),
        end_s=max(a.end_s, b.end_s),
        amount_fg=a.amount_fg + b.amount_fg,
        pace_fg=ceil_div(a.pace_fg * period, a.pace_s) + ceil_div(b.pace_fg * period, b.pace_s),
        pace_s=period,
        instant=a.instant or b.instant,
    )


@dataclass(frozen=True)
class Ledger:
    """The pieces of drug that left the tip in the last 24 h, oldest end first.

    Time may not go back: recording or querying before the newest recorded end raises
    :class:`InvalidInput`. A ledger built from outside (``Ledger(pieces)``, decoding) is
    validated; :meth:`record` builds its result from checked parts without re-validating the
    pieces it keeps.
    """

    pieces: tuple[Piece, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.pieces, tuple) or len(self.pieces) > MAX_PIECES:
            raise InvalidInput("pieces", f"must be a tuple of at most {MAX_PIECES} pieces")
        for i, piece in enumerate(self.pieces):
            if not isinstance(piece, Piece):
                raise InvalidInput(f"pieces[{i}]", "must be a Piece", value=piece)
            if i and piece.end_s < self.pieces[i - 1].end_s:
                raise InvalidInput(f"pieces[{i}].end_s", "pieces must be in time order")

    @classmethod
    def _of(cls, pieces: tuple[Piece, ...]) -> Ledger:
        """A ledger of pieces already known valid and in time order (no re-validation)."""
        ledger = object.__new__(cls)
        object.__setattr__(ledger, "pieces", pieces)
        return ledger

    @property
    def newest_s(self) -> int:
        """The newest recorded end (0 when empty)."""
        return self.pieces[-1].end_s if self.pieces else 0

    def _check_time(self, t_s: object) -> int:
        t = check_nonneg("t_s", t_s)
        if t < self.newest_s:
            raise InvalidInput(
                "t_s",
                "time went backwards: earlier than the newest record",
                value=t,
                limit=f">= {self.newest_s}",
            )
        return t

    def record(
        self,
        t_s: int,
        order_id: int,
        start_s: int,
        amount_fg: int,
        pace_fg: int,
        pace_s: int,
        *,
        instant: bool = False,
    ) -> Ledger:
        """The ledger with ``amount_fg`` of order ``order_id`` recorded as having left the tip by
        ``t_s`` (a drive report), or, with ``instant``, at the instant ``t_s`` (an amount counted
        at once: :class:`Piece`; give it a pace of at least the amount per second). A later
        report of the same order adds to its piece; its pace is the larger of the two, and it
        stays an instant if either was. Pieces that aged out of the window are dropped.

        raises: InvalidInput
        post: __return__.newest_s == t_s
        """
        t = self._check_time(t_s)
        check_nonneg("amount_fg", amount_fg)
        pieces = self.pieces
        first = _first_live(pieces, t)
        at = next((i for i in range(first, len(pieces)) if pieces[i].order_id == order_id), None)
        if at is None:
            new = Piece(order_id, start_s, t, amount_fg, pace_fg, pace_s, instant)
            kept = (*pieces[first:], new)
        else:
            old = pieces[at]
            if old.pace_fg * pace_s > pace_fg * old.pace_s:
                pace_fg, pace_s = old.pace_fg, old.pace_s
            start = min(start_s, old.start_s)
            both = instant or old.instant
            new = Piece(order_id, start, t, old.amount_fg + amount_fg, pace_fg, pace_s, both)
            kept = (*pieces[first:at], *pieces[at + 1 :], new)
        if len(kept) > MAX_PIECES:
            merged = list(kept)
            for _ in range(len(kept) - MAX_PIECES):  # a bounded loop: one merge per extra piece
                merged[0:2] = [_merge(merged[0], merged[1])]
            kept = tuple(merged)
        return Ledger._of(kept)

    def live(self, t_s: int) -> tuple[Piece, ...]:
        """The pieces that can still lie in the window ending at ``t_s``."""
        return self.pieces[_first_live(self.pieces, t_s) :]

    def window_total_fg(self, t_s: int) -> int:
        """The most of the recorded drug that can lie in ``(t_s - 86400, t_s]``, rounded up to a
        whole fg (REQ-GOV-005): exact for a drive that kept its pace (:func:`window_total` on
        ints). An invalid time (negative, or before the newest report) raises
        :class:`InvalidInput`.

        raises: InvalidInput
        post: 0 <= __return__ <= sum(p.amount_fg for p in self.pieces)
        """
        t = self._check_time(t_s)
        live = self.live(t)
        period = common_period(*(p.pace_s for p in live))
        return window_total(INT_OPS, [p.term(period) for p in live], t, period)

    def window_total_ng(self, t_s: int) -> int:
        """:meth:`window_total_fg` in whole ng, rounded up."""
        return ceil_div(self.window_total_fg(t_s), FG_PER_NG)


@dataclass(frozen=True)
class BolusHistory:
    """Start times of the patient boluses delivered in the last 24 h (REQ-GOV-006).

    ``last_start_s`` is the start of the most recent delivered bolus (``None`` before the first);
    the lockout runs from it (docs/dosing-rules.md: from the START of the previous delivered bolus).
    ``starts_s`` lists, oldest first, the delivered starts still inside the window
    ``(newest - 86400, newest]``; older ones are dropped on each :meth:`record_start`, so the
    tuple never holds more than ``max_per_24h`` entries. Denied requests are never recorded.
    """

    last_start_s: int | None = None
    starts_s: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.starts_s, tuple):
            raise InvalidInput("starts_s", "must be a tuple", value=self.starts_s)
        for i, start in enumerate(self.starts_s):
            check_nonneg(f"starts_s[{i}]", start)
            if i and start < self.starts_s[i - 1]:
                raise InvalidInput(f"starts_s[{i}]", "starts must be in time order", value=start)
        if self.last_start_s is None:
            if self.starts_s:
                raise InvalidInput("last_start_s", "missing while starts_s is not empty")
            return
        last = check_nonneg("last_start_s", self.last_start_s)
        if self.starts_s and self.starts_s[-1] != last:
            raise InvalidInput("last_start_s", "must equal the newest of starts_s", value=last)
        if self.starts_s and self.starts_s[0] <= last - WINDOW_S:
            raise InvalidInput("starts_s[0]", "older than 24 h", value=self.starts_s[0])

    def _check_time(self, t_s: object) -> int:
        t = check_nonneg("t_s", t_s)
        if self.last_start_s is not None and t < self.last_start_s:
            raise InvalidInput(
                "t_s",
                "time went backwards: before the last bolus start",
                value=t,
                limit=f">= {self.last_start_s}",
            )
        return t

    def count_in_window(self, t_s: int) -> int:
        """Delivered boluses that started in ``(t_s - 86400, t_s]``.

        pre: t_s >= (self.last_start_s or 0)
        post: 0 <= __return__ <= len(self.starts_s)
        """
        t = self._check_time(t_s)
        return sum(1 for s in self.starts_s if s > t - WINDOW_S)

    def lockout_remaining_s(self, t_s: int, lockout_s: int) -> int:
        """Seconds until the lockout after the last delivered start ends (0: not locked out).

        A request exactly ``lockout_s`` after the last start is not locked out.

        pre: lockout_s >= 0 and t_s >= (self.last_start_s or 0)
        post: 0 <= __return__ <= lockout_s
        post: self.last_start_s is not None or __return__ == 0
        post: self.last_start_s is None or (__return__ > 0) == (t_s < self.last_start_s + lockout_s)
        """
        t = self._check_time(t_s)
        lockout = check_nonneg("lockout_s", lockout_s)
        if self.last_start_s is None:
            return 0
        return max(0, self.last_start_s + lockout - t)

    def record_start(self, t_s: int, *, max_per_24h: int) -> BolusHistory:
        """The history with a delivered bolus started at ``t_s``.

        Raises :class:`InvalidInput` if the start would make more than ``max_per_24h`` starts in
        the window: the caller recorded a bolus the governor must have denied.

        pre: t_s >= (self.last_start_s or 0) and self.count_in_window(t_s) < max_per_24h
        post: __return__.last_start_s == t_s
        post: __return__.count_in_window(t_s) == self.count_in_window(t_s) + 1 <= max_per_24h
        """
        t = self._check_time(t_s)
        limit = check_nonneg("max_per_24h", max_per_24h)
        kept = tuple(s for s in self.starts_s if s > t - WINDOW_S)
        if len(kept) + 1 > limit:
            raise InvalidInput(
                "t_s",
                "a bolus start here exceeds the maximum per 24 h",
                value=t,
                limit=f"{limit} per 24 h",
            )
        return BolusHistory(last_start_s=t, starts_s=(*kept, t))
