"""Rolling 24 h accounting with bounded memory (REQ-GOV-004, REQ-GOV-005, REQ-GOV-006).

:class:`Ledger` holds the drug delivered in the last 24 h, per fixed bucket; :class:`BolusHistory`
holds the start times of the patient boluses delivered in the last 24 h. Both are immutable values
with JSON-friendly fields (ints and tuples) and pure methods that return a new value. Neither is
reset by anything: refill, alarm, suspension, reprogramming or restart carry them over
(DECISIONS.md, "Time").

Granularity and conservatism
----------------------------
Time is cut into buckets of :data:`BUCKET_S` = 300 s; bucket ``k`` is the half-open interval
``[k * 300, (k + 1) * 300)`` and an amount recorded at ``t_s`` goes to bucket ``t_s // 300``.
:data:`WINDOW_S` = 86400 is 288 buckets. The rolling window at ``t`` is ``(t - 86400, t]``
(DECISIONS.md); its integer instants ``t - 86399 .. t`` overlap the buckets
``(t + 1) // 300 - 288 .. t // 300``: 288 buckets when ``t + 1`` is a bucket boundary, 289
otherwise. The ring keeps :data:`RING_LEN` = 289 buckets, so memory is constant however long the
therapy runs.

:meth:`Ledger.window_total_ng` sums every bucket that overlaps the window. It is never less than
the total recorded in ``(t - 86400, t]``, and exceeds it by at most what was recorded in the one
oldest bucket at instants ``<= t - 86400`` (the bucket holding ``t - 86400``), so by at most one
bucket's deliveries; when the window is bucket-aligned it is exact.

Recording rule
--------------
A delivery is recorded when the drive reports it, at the report time, which is never earlier than
the instant the drug left the pump: what the drive reports delivered, never what was commanded
(DESIGN.md section 5). No splitting at bucket boundaries is needed for safety: an amount recorded
later than it was delivered stays in the window longer, which only over-counts. (Reporting at
least once per bucket while delivering keeps the over-count small.) Amount granted but not yet
reported is *in flight*: the governor adds it to the window total (REQ-GOV-002).

Why ``window_total(t) + in_flight + a <= max`` at every grant bounds every real window
------------------------------------------------------------------------------------------
Claim (REQ-GOV-004): if every grant ``a`` at time ``g`` satisfies ``W(g) + F(g) + a <= max``,
where ``W`` is :meth:`Ledger.window_total_ng` and ``F(g)`` the amount granted before ``g`` and not
yet recorded, and the drive never delivers more than granted, then the drug physically delivered
in EVERY real window ``(t - 86400, t]`` is at most ``max``. Proof: fix ``t``
and let ``g*`` be the last grant at or before ``t`` (with none, nothing was delivered). Every
delivery in the window came from a grant at or before ``g*``. Such a delivery at instant
``s > t - 86400`` either was recorded before the grant at ``g*``, at a report time
``s <= r <= g*``, hence in a bucket from ``(t - 86399) // 300 >= (g* - 86399) // 300`` to
``g* // 300``, which the ring still holds, so it is counted in ``W(g*)``; or it was not yet
recorded at ``g*`` and is counted in ``F(g*)``; or it belongs to the grant made at ``g*`` itself,
``a*``. Amounts are non-negative, so the window's real total is at most
``W(g*) + F(g*) + a* <= max``. So the invariant "every window ending at or before the next grant
is within ``max``" survives each grant, and holds by induction after any number of them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Final

from itdose.core.errors import InvalidInput

__all__ = ["BUCKET_S", "RING_LEN", "WINDOW_S", "BolusHistory", "Bucket", "Ledger"]

WINDOW_S: Final = 86_400
"""Length of the rolling window: 24 h."""
BUCKET_S: Final = 300
"""Ledger granularity: 5 minutes (divides :data:`WINDOW_S`)."""
BUCKETS_PER_WINDOW: Final = WINDOW_S // BUCKET_S
RING_LEN: Final = BUCKETS_PER_WINDOW + 1
"""Buckets kept: the most a window can overlap (289)."""


def _check_nonneg(field_name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field_name, "must be an integer", value=value)
    if value < 0:
        raise InvalidInput(field_name, "must not be negative", value=value, limit=">= 0")
    return value


def _first_bucket(t_s: int) -> int:
    """Index of the oldest bucket that overlaps the window ``(t_s - 86400, t_s]``.

    The window's earliest whole instant ``t_s - 86399`` lies in that bucket (CrossHair contract):

    pre: t_s >= 0
    post: __return__ * BUCKET_S <= t_s - WINDOW_S + 1 < (__return__ + 1) * BUCKET_S
    """
    return (t_s + 1) // BUCKET_S - BUCKETS_PER_WINDOW


@dataclass(frozen=True)
class Bucket:
    """The amount recorded in bucket ``index``, i.e. at instants ``[index*300, index*300+300)``.

    A negative index marks a slot that has never been used (its amount is 0).
    """

    index: int
    amount_ng: int

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, int):
            raise InvalidInput("index", "must be an integer", value=self.index)
        _check_nonneg("amount_ng", self.amount_ng)


def _empty_ring() -> tuple[Bucket, ...]:
    return tuple(Bucket(index=slot - RING_LEN, amount_ng=0) for slot in range(RING_LEN))


@dataclass(frozen=True)
class Ledger:
    """Drug recorded per 300 s bucket over the last 24 h, in a ring of :data:`RING_LEN` slots.

    Slot ``i`` holds the bucket whose index is ``i`` modulo :data:`RING_LEN`. Time may not go back:
    recording or querying at an instant whose bucket is older than the newest recorded bucket
    raises :class:`InvalidInput` (an older bucket may already have been overwritten).
    """

    buckets: tuple[Bucket, ...] = field(default_factory=_empty_ring)

    def __post_init__(self) -> None:
        if not isinstance(self.buckets, tuple) or len(self.buckets) != RING_LEN:
            raise InvalidInput(
                "buckets", f"must be a tuple of {RING_LEN} buckets", limit=f"{RING_LEN}"
            )
        for slot, bucket in enumerate(self.buckets):
            if not isinstance(bucket, Bucket):
                raise InvalidInput(f"buckets[{slot}]", "must be a Bucket", value=bucket)
            if bucket.index % RING_LEN != slot:
                raise InvalidInput(
                    f"buckets[{slot}].index",
                    "bucket is in the wrong slot",
                    value=bucket.index,
                    limit=f"index % {RING_LEN} == {slot}",
                )
            if bucket.index < 0 and bucket.amount_ng != 0:
                raise InvalidInput(
                    f"buckets[{slot}].amount_ng", "an unused slot must be empty", value=bucket
                )

    @functools.cached_property
    def newest_bucket(self) -> int:
        """Index of the newest bucket written (negative if nothing was ever recorded)."""
        return max(b.index for b in self.buckets)

    @classmethod
    def _from_checked(cls, buckets: tuple[Bucket, ...], newest: int) -> Ledger:
        """A ledger from a ring built by :meth:`record` from a valid ring (already checked);
        ``newest`` is its newest bucket index (cached, as :attr:`newest_bucket` would compute)."""
        ledger = object.__new__(cls)
        object.__setattr__(ledger, "buckets", buckets)
        ledger.__dict__["newest_bucket"] = newest
        return ledger

    def _check_time(self, t_s: object) -> int:
        t = _check_nonneg("t_s", t_s)
        newest = self.newest_bucket
        if t // BUCKET_S < newest:
            raise InvalidInput(
                "t_s",
                "time went backwards: earlier than the newest recorded bucket",
                value=t,
                limit=f">= {newest * BUCKET_S}",
            )
        return t

    def record(self, t_s: int, amount_ng: int) -> Ledger:
        """The ledger with ``amount_ng`` recorded at ``t_s`` (a drive report; see module doc).

        pre: amount_ng >= 0 and t_s >= max(0, self.newest_bucket * BUCKET_S)
        post: __return__.window_total_ng(t_s) == self.window_total_ng(t_s) + amount_ng
        """
        t = self._check_time(t_s)
        amount = _check_nonneg("amount_ng", amount_ng)
        index = t // BUCKET_S
        slot = index % RING_LEN
        old = self.buckets[slot]
        total = old.amount_ng + amount if old.index == index else amount
        ring = (
            *self.buckets[:slot],
            Bucket(index=index, amount_ng=total),
            *self.buckets[slot + 1 :],
        )
        return Ledger._from_checked(ring, max(self.newest_bucket, index))

    def window_total_ng(self, t_s: int) -> int:
        """Sum of every bucket overlapping ``(t_s - 86400, t_s]``: an over-approximation of the
        amount recorded in that window by at most one bucket's deliveries (REQ-GOV-005).

        pre: t_s >= max(0, self.newest_bucket * BUCKET_S)
        post: 0 <= __return__ <= sum(b.amount_ng for b in self.buckets)
        """
        t = self._check_time(t_s)
        first = _first_bucket(t)
        last = t // BUCKET_S
        return sum(b.amount_ng for b in self.buckets if first <= b.index <= last)


@dataclass(frozen=True)
class BolusHistory:
    """Start times of the patient boluses delivered in the last 24 h (REQ-GOV-006).

    ``last_start_s`` is the start of the most recent delivered bolus (``None`` before the first);
    the lockout runs from it (DECISIONS.md: from the START of the previous delivered bolus).
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
