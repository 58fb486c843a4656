"""Rolling 24 h accounting, exact at the catheter tip, with bounded memory (REQ-GOV-004,
REQ-GOV-005, REQ-GOV-006, REQ-TIP-004).

:class:`Ledger` holds, per delivery order, the drug that left the catheter tip in the last 24 h;
:class:`BolusHistory` holds the start times of the patient boluses delivered in the last 24 h. Both
are immutable values with JSON-friendly fields and pure methods that return a new value. Neither
is reset by anything: refill, alarm, suspension, reprogramming or restart carry them over
(docs/dosing-rules.md, "Time").

What the drive is trusted for (SAFETY.md, "What the drive is trusted for")
-----------------------------------------------------------------------------
The drive moves the fluid of an order no faster than the order's own pace, its volume over its
duration in whole nanolitres per hour, rounded up (:func:`pace_nl_per_h`: the rate the drive is
commanded); it may be slower, and it reports what it really delivered (cumulative, never more than
it moved). The core checks the pace at every report (:func:`ahead_of_pace`): a report ahead of it is
a HIGH delivery-deviation alarm. Amounts are exact, in femtograms (``nL x ng/mL``).

Pieces and flows
----------------
A :class:`Piece` is drug that has left the tip for one order: ``amount_fg`` between the order's
start and the last report ``end_s``, at most ``pace_fg`` per ``pace_s`` seconds. Of it, the window
``(t - 86400, t]`` can hold at most ``min(amount, pace x (end - (t - 86400)))``: the drug that left
in the last ``end - (t - 86400)`` seconds before ``end`` (:meth:`Piece.tail`). A :class:`Flow` is
drug that may still leave the tip: an order in flight (from its last report), the order being
decided (from now), or basal scheduled in the next 24 h; by ``t`` at most
``min(amount, pace x (t - start))`` of it has left (:meth:`Flow.by`).

Why the peak bounds every real window (REQ-GOV-004)
---------------------------------------------------
:func:`peak_fg` is the largest, over every later window end ``t >= now``, of the tails of the
recorded pieces plus what the flows can have delivered by ``t``. Each term bounds the drug of one
order in the window ``(t - 86400, t]``: a recorded piece by the pace argument above (a drive that
kept the pace cannot have moved more in the last seconds), a flow by the pace from its start. So
the peak bounds every window ending at or after ``now`` while no other delivery is granted, and a
grant is admitted only if the peak with it is within the hard maximum. Fix any window end ``t``
and let ``g`` be the last grant at or before ``t``: every drug in that window was recorded before
``g`` (a piece at ``g``), in flight at ``g`` (a flow at ``g``) or granted at ``g`` (the new
flow), so the window holds at most the peak computed at ``g``, which was at most the maximum.
By induction over the grants, no real 24 h window ever exceeds the hard maximum.

The peak is exact, not an over-count: with a drive that keeps its pace, the tail of the order
leaving the window and the head of the order entering it add up to exactly one order, so a
program accepted at the hard maximum is delivered in full, and a bolus that brings the window
exactly to the maximum fits (REQ-TIP-004). The largest value of the piecewise-linear sum is
reached at ``now`` or where a term stops rising or starts falling: only those instants are
evaluated, in exact fractions; the result is rounded up to a whole femtogram, which against an
integer maximum loses nothing.

Memory: pieces older than 24 h are dropped; past :data:`MAX_PIECES` the two oldest merge into one
with the summed pace, which bounds both (never less).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

from itdose.core.errors import InvalidInput

__all__ = [
    "MAX_PIECES",
    "WINDOW_S",
    "BolusHistory",
    "Flow",
    "Ledger",
    "Piece",
    "ahead_of_pace",
    "pace_nl_per_h",
    "peak_fg",
]

WINDOW_S: Final = 86_400
"""Length of the rolling window: 24 h."""
MAX_PIECES: Final = 512
"""Most pieces a ledger keeps (far above the orders of a day); beyond, the oldest merge."""


def _check_nonneg(field_name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field_name, "must be an integer", value=value)
    if value < 0:
        raise InvalidInput(field_name, "must not be negative", value=value, limit=">= 0")
    return value


def pace_nl_per_h(volume_nl: int, duration_s: int) -> int:
    """The pace of an order of ``volume_nl`` over ``duration_s``: the whole nanolitres per hour a
    drive runs it at (rounded up, so that it ends on time; the drive interface's resolution)."""
    return -(-volume_nl * 3600 // max(1, duration_s))


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
    (the last report), at most ``pace_fg`` fg per ``pace_s`` s."""

    order_id: int
    start_s: int
    end_s: int
    amount_fg: int
    pace_fg: int
    pace_s: int

    def __post_init__(self) -> None:
        for name in ("order_id", "start_s", "end_s", "amount_fg", "pace_fg"):
            _check_nonneg(name, getattr(self, name))
        if _check_nonneg("pace_s", self.pace_s) == 0:
            raise InvalidInput("pace_s", "must be positive", value=self.pace_s)
        if self.end_s < self.start_s:
            raise InvalidInput("end_s", "before the start", value=self.end_s)

    def tail(self, t0: Fraction) -> Fraction:
        """The most of it that can lie after ``t0`` (in the window that starts at ``t0``)."""
        if self.end_s <= t0:
            return Fraction(0)
        return min(
            Fraction(self.amount_fg), Fraction(self.pace_fg, self.pace_s) * (self.end_s - t0)
        )

    def declines_from(self) -> Fraction:
        """The window end from which its tail shrinks (it has left the window by ``end + W``)."""
        return self.end_s + WINDOW_S - Fraction(self.amount_fg * self.pace_s, max(1, self.pace_fg))


@dataclass(frozen=True, slots=True)
class Flow:
    """Drug that may leave the tip from ``start_s`` on: ``amount_fg`` in all, at most ``pace_fg``
    fg per ``pace_s`` s."""

    start_s: int
    amount_fg: int
    pace_fg: int
    pace_s: int

    def by(self, t: Fraction) -> Fraction:
        """The most of it in the window ending at ``t`` (it never ages out: conservative)."""
        if t <= self.start_s:
            return Fraction(0)
        span = min(t - self.start_s, Fraction(WINDOW_S))
        return min(Fraction(self.amount_fg), Fraction(self.pace_fg, self.pace_s) * span)

    def full_at(self) -> Fraction:
        """The window end from which it no longer rises."""
        if self.pace_fg == 0:
            return Fraction(self.start_s)
        need = Fraction(self.amount_fg * self.pace_s, self.pace_fg)
        return self.start_s + min(need, Fraction(WINDOW_S))


def peak_fg(
    pieces: tuple[Piece, ...], flows: tuple[Flow, ...], now_s: int, limit_fg: int | None = None
) -> int:
    """The most drug any 24 h window ending at or after ``now_s`` can hold: the recorded pieces'
    tails plus what the flows can have delivered, rounded up to a whole fg (see module doc).

    With ``limit_fg``, a caller that only asks "within the limit?" gets the plain sum of every
    live amount when that sum is already within it (an upper bound of the peak: the same answer,
    without the exact evaluation)."""
    live = tuple(p for p in pieces if p.end_s > now_s - WINDOW_S)
    rough = sum(p.amount_fg for p in live) + sum(f.amount_fg for f in flows)
    if limit_fg is not None and rough <= limit_fg:
        return rough
    if not flows:
        return _ceil(sum((p.tail(Fraction(now_s - WINDOW_S)) for p in live), Fraction(0)))
    candidates = {Fraction(now_s)}
    candidates.update(p.declines_from() for p in live)
    candidates.update(f.full_at() for f in flows)
    best = Fraction(0)
    for t in candidates:
        if t < now_s:
            continue
        total = sum((p.tail(t - WINDOW_S) for p in live), Fraction(0))
        total += sum((f.by(t) for f in flows), Fraction(0))
        best = max(best, total)
    return _ceil(best)


def _ceil(x: Fraction) -> int:
    return -(-x.numerator // x.denominator)


def _merge(a: Piece, b: Piece) -> Piece:
    """One piece that bounds both in every window: the later end, the sum, a pace at least the
    sum of both (over the shorter of their periods, each rounded up, so integers stay small)."""
    period = min(a.pace_s, b.pace_s)
    return Piece(
        order_id=min(a.order_id, b.order_id),
        start_s=min(a.start_s, b.start_s),
        end_s=max(a.end_s, b.end_s),
        amount_fg=a.amount_fg + b.amount_fg,
        pace_fg=-(-a.pace_fg * period // a.pace_s) + -(-b.pace_fg * period // b.pace_s),
        pace_s=period,
    )


@dataclass(frozen=True)
class Ledger:
    """The pieces of drug that left the tip in the last 24 h, oldest end first.

    Time may not go back: recording or querying before the newest recorded end raises
    :class:`InvalidInput`.
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

    @property
    def newest_s(self) -> int:
        """The newest recorded end (0 when empty)."""
        return self.pieces[-1].end_s if self.pieces else 0

    def _check_time(self, t_s: object) -> int:
        t = _check_nonneg("t_s", t_s)
        if t < self.newest_s:
            raise InvalidInput(
                "t_s",
                "time went backwards: earlier than the newest record",
                value=t,
                limit=f">= {self.newest_s}",
            )
        return t

    def record(
        self, t_s: int, order_id: int, start_s: int, amount_fg: int, pace_fg: int, pace_s: int
    ) -> Ledger:
        """The ledger with ``amount_fg`` of order ``order_id`` recorded as having left the tip by
        ``t_s`` (a drive report). A later report of the same order adds to its piece; its pace is
        the larger of the two.

        post: __return__.newest_s == t_s
        """
        t = self._check_time(t_s)
        _check_nonneg("amount_fg", amount_fg)
        live = [p for p in self.pieces if p.end_s > t - WINDOW_S]
        kept = [p for p in live if p.order_id != order_id]
        old = next((p for p in live if p.order_id == order_id), None)
        total = amount_fg + (old.amount_fg if old is not None else 0)
        start = min(start_s, old.start_s) if old is not None else start_s
        if old is not None and old.pace_fg * pace_s > pace_fg * old.pace_s:
            pace_fg, pace_s = old.pace_fg, old.pace_s
        kept.append(Piece(order_id, start, t, total, pace_fg, pace_s))
        while len(kept) > MAX_PIECES:
            kept[0:2] = [_merge(kept[0], kept[1])]
        return Ledger(tuple(kept))

    def live(self, t_s: int) -> tuple[Piece, ...]:
        """The pieces that can still lie in the window ending at ``t_s``."""
        return tuple(p for p in self.pieces if p.end_s > t_s - WINDOW_S)

    def window_total_fg(self, t_s: int) -> int:
        """The most of the recorded drug that can lie in ``(t_s - 86400, t_s]``, rounded up to a
        whole fg (REQ-GOV-005): exact for a drive that kept its pace.

        post: 0 <= __return__ <= sum(p.amount_fg for p in self.pieces)
        """
        t = self._check_time(t_s)
        return peak_fg(self.pieces, (), t)

    def window_total_ng(self, t_s: int) -> int:
        """:meth:`window_total_fg` in whole ng, rounded up."""
        return -(-self.window_total_fg(t_s) // 1_000_000)


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
            _check_nonneg(f"starts_s[{i}]", start)
            if i and start < self.starts_s[i - 1]:
                raise InvalidInput(f"starts_s[{i}]", "starts must be in time order", value=start)
        if self.last_start_s is None:
            if self.starts_s:
                raise InvalidInput("last_start_s", "missing while starts_s is not empty")
            return
        last = _check_nonneg("last_start_s", self.last_start_s)
        if self.starts_s and self.starts_s[-1] != last:
            raise InvalidInput("last_start_s", "must equal the newest of starts_s", value=last)
        if self.starts_s and self.starts_s[0] <= last - WINDOW_S:
            raise InvalidInput("starts_s[0]", "older than 24 h", value=self.starts_s[0])

    def _check_time(self, t_s: object) -> int:
        t = _check_nonneg("t_s", t_s)
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
        lockout = _check_nonneg("lockout_s", lockout_s)
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
        limit = _check_nonneg("max_per_24h", max_per_24h)
        kept = tuple(s for s in self.starts_s if s > t - WINDOW_S)
        if len(kept) + 1 > limit:
            raise InvalidInput(
                "t_s",
                "a bolus start here exceeds the maximum per 24 h",
                value=t,
                limit=f"{limit} per 24 h",
            )
        return BolusHistory(last_start_s=t, starts_s=(*kept, t))
