"""The basal schedule: continuous or flex steps tiling a 24 h day, on elapsed time or local wall
time (docs/dosing-rules.md#time).

A :class:`Basal` is a value in base units; the functions here are its arithmetic: the amount over
one schedule day (rounded up, as it is checked against limits), the rate at a moment of the day,
local time under the UTC offsets the shell supplies, and for a ``wall`` schedule the next local
day that is not 24 h long (a daylight-saving change) with the basal total delivered on it
(REQ-TIME-003). :mod:`itdose.core.program` checks a whole program against the library.
"""

from __future__ import annotations

import enum

from itdose.core.arith import ceil_div
from itdose.core.errors import InvalidInput
from itdose.core.units import DAY_S
from itdose.core.value import Value


class FlexClock(enum.Enum):
    """Which clock a flex schedule follows (docs/dosing-rules.md#time)."""

    ELAPSED = "elapsed"
    """24 h cycles from the program's start instant."""
    WALL = "wall"
    """Local time in a named IANA time zone."""


class FlexStep(Value):
    """From ``start_s`` seconds into the (elapsed or local) day, deliver at this rate."""

    start_s: int
    dose_ng_per_day: int


class UtcOffset(Value):
    """From UTC instant ``from_utc_s`` on, local time is UTC + ``offset_s``.

    The shell computes these from the IANA database (the core reads no files); a ``wall``
    program carries the table for the period it may run.
    """

    from_utc_s: int
    offset_s: int


class Basal(Value):
    """Continuous (one step at 00:00) or flex (a daily schedule of steps)."""

    steps: tuple[FlexStep, ...]
    clock: FlexClock = FlexClock.ELAPSED
    timezone: str = ""
    utc_offsets: tuple[UtcOffset, ...] = ()

    @staticmethod
    def continuous(dose_ng_per_day: int) -> Basal:
        return Basal(steps=(FlexStep(0, dose_ng_per_day),))


def _step_ends(steps: tuple[FlexStep, ...]) -> list[tuple[int, int, int]]:
    return [
        (s.start_s, steps[i + 1].start_s if i + 1 < len(steps) else DAY_S, s.dose_ng_per_day)
        for i, s in enumerate(steps)
    ]


def basal_daily_ng(basal: Basal) -> int:
    """The basal amount over one 24 h schedule day, rounded up (checked against limits)."""
    steps = basal.steps
    if len(steps) == 1 and steps[0].start_s == 0:
        # one step over the whole day (a continuous basal; asked on every step): the sum below
        # is dose x 86400, and its ceiling over 86400 is the dose itself
        return steps[0].dose_ng_per_day
    return ceil_div(
        sum(dose * (end - start) for start, end, dose in _step_ends(basal.steps)), DAY_S
    )


def max_basal_rate_ng_per_day(basal: Basal) -> int:
    """The highest step rate of the schedule."""
    return max(s.dose_ng_per_day for s in basal.steps)


def _offset_at(basal: Basal, utc_s: int) -> int:
    offset = 0
    for change in basal.utc_offsets:
        if change.from_utc_s <= utc_s:
            offset = change.offset_s
    return offset


def local_seconds(basal: Basal, utc_s: int) -> int:
    """Local wall time (seconds since the local epoch) at UTC instant ``utc_s``."""
    return utc_s + _offset_at(basal, utc_s)


def rate_at(basal: Basal, *, seconds_into_day: int) -> tuple[int, int]:
    """The rate at a moment ``seconds_into_day`` (0..86399) of the schedule day, and the number of
    seconds until the next step boundary."""
    for start, end, dose in _step_ends(basal.steps):
        if start <= seconds_into_day < end:
            return dose, end - seconds_into_day
    raise InvalidInput("seconds_into_day", "outside the day", value=seconds_into_day)


def dst_day(basal: Basal, utc_now: int) -> tuple[int, int] | None:
    """For a ``wall`` schedule: the UTC start of the next local day that is not 24 h long (a
    daylight-saving change) and the basal total delivered on it (docs/dosing-rules.md#time)."""
    for change in basal.utc_offsets:
        old = _offset_at(basal, change.from_utc_s - 1)
        if change.from_utc_s <= utc_now or old == change.offset_s:
            continue
        local = change.from_utc_s + change.offset_s
        day_local = local - local % DAY_S
        start_utc = day_local - old
        # the day ends at the first instant whose local time reaches the next local midnight,
        # under the offset in force then: a later change inside the day moves that instant
        midnight = day_local + DAY_S
        end_utc = midnight - change.offset_s
        for x in sorted(basal.utc_offsets, key=lambda o: o.from_utc_s):
            if change.from_utc_s < x.from_utc_s < end_utc:
                end_utc = max(x.from_utc_s, midnight - x.offset_s)
        total = 0
        t = start_utc
        while t < end_utc:
            dose, left = rate_at(basal, seconds_into_day=local_seconds(basal, t) % DAY_S)
            later = [x.from_utc_s - t for x in basal.utc_offsets if x.from_utc_s > t]
            span = min(left, end_utc - t, *later)
            total += dose * span
            t += span
        return start_utc, ceil_div(total, DAY_S)
    return None
