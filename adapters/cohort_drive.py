"""The rolling 24 h windows at the catheter tip from the drive's own whole-nanolitre steps
(docs/cohort-schema.md, "Checks"): a part of the independent reference of
:mod:`itdose.adapters.cohort_physics`, sharing no code with the core's accounting.

The simulated drive (:mod:`itdose.adapters.simdrive`) moves a command's fluid in whole nanolitres
at whole seconds: by second ``n`` a command started at ``s`` at ``rate`` nL/h has turned
``floor(rate x (n - s) / 3600)`` nominal nL, and the fluid drawn is that times ``(10**6 + ppm) /
10**6``, rounded down with the remainder carried. The fluid path is first in, first out, so the
drug that has left the tip by second ``n`` is a function ``G`` of the fluid pumped by then,
``P(n)``: ``G(P) = `` the drug of the fluid that entered the path at positions ``[0, P - dead
volume]``. ``G`` is piecewise linear in ``P`` (one piece per run of fluid of one composition),
``P`` a step function of whole seconds, so a window ``(T - 24 h, T]`` is one of the whole-second
ones and its amount is ``G(P(T)) - G(P(T - 24 h))``.

Every whole second is judged, not sampled, without visiting each: the seconds are cut into
stretches in which ``T`` and ``T - 24 h`` each lie in one logged interval and one piece of ``G``,
where the amount is ``A + r1 floor((a1 T + b1) / 3600) - r2 floor((a2 T + b2) / 3600)`` (an
interval with an accuracy error: two nested floors). Its largest value on the stretch is found
exactly: a bound from the floors' real values skips a stretch that cannot reach the limit or the
largest window so far; with one density at both ends the window is ``floor(s(T))`` or one more
with ``s`` linear, decided by two floor sums (:func:`floor_sum`); with two densities (or an
accuracy error) the seconds are visited from the stretch's better end until the bound falls to
the best value found (with two densities one hour of them at most: in an hour each floor moves
by its rate, so a window an hour further on is the one an hour nearer plus the slope).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

from itdose.adapters.cohort_fraction import Fraction

__all__ = ["DriveInterval", "floor_sum", "max_windows_of_drive"]

DAY_S = 86_400
HOUR_S = 3600
PPM = 1_000_000
_FAR = 1 << 62
"""Before the first and after the last logged interval (seconds)."""


@dataclass(frozen=True)
class DriveInterval:
    """Fluid the drive drew from the reservoir over ``(t0_s, t1_s]``, ``volume_nl`` in all, for a
    command started at ``command_s`` at ``rate_nl_per_h`` whose nominal count was ``done_nl`` at
    ``t0_s``, with accuracy error ``ppm`` and the drive's fluid remainder ``carry`` (millionths
    of a nL) at ``t0_s``; ``drug_fg`` of each drug in it."""

    t0_s: int
    t1_s: int
    volume_nl: int
    command_s: int
    rate_nl_per_h: int
    done_nl: int
    ppm: int
    carry: int
    drug_fg: dict[str, Fraction]

    def moved_by(self, n: int) -> int:
        """Fluid drawn in this interval by whole second ``n``."""
        if n <= self.t0_s:
            return 0
        if n >= self.t1_s:
            return self.volume_nl
        nominal = self.rate_nl_per_h * (n - self.command_s) // HOUR_S - self.done_nl
        return min(self.volume_nl, (nominal * (PPM + self.ppm) + self.carry) // PPM)


def floor_sum(n: int, m: int, a: int, b: int) -> int:
    """``sum(floor((a * i + b) / m) for i in range(n))`` for ``n, a, b >= 0``, ``m >= 1``, in
    O(log m) steps (the Euclid-like reduction of the AtCoder Library's ``floor_sum``)."""
    ans = 0
    while True:
        if a >= m:
            ans += n * (n - 1) // 2 * (a // m)
            a %= m
        if b >= m:
            ans += n * (b // m)
            b %= m
        y_max = a * n + b
        if y_max < m:
            return ans
        n, b = divmod(y_max, m)
        m, a = a, m


_NO_BOUNDS = (Fraction(0), Fraction(0), Fraction(0))


@dataclass
class _Run:
    """Whole seconds ``lo..hi`` in which drug left by ``n`` is ``base + rho x f(n)``, ``f`` the
    fluid an interval had drawn by ``n`` (``None``: constant, ``base``)."""

    lo: int
    hi: int
    base: Fraction
    rho: Fraction
    interval: DriveInterval | None
    line: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """In floating point: ``(c, s, w)``, the drug left by ``n`` lies in ``(c + s n - w, c + s
    n]`` (a quick test before the exact one)."""
    _bounds: tuple[Fraction, Fraction, Fraction] = field(
        default=_NO_BOUNDS, init=False, repr=False, compare=False
    )
    """:meth:`bounds`, computed once."""

    def __post_init__(self) -> None:
        if self.interval is None:  # constant: no bounds (zero), the line its value
            self.line = (float(self.base), 0.0, 0.0)
            return
        self._bounds = self._exact_bounds()
        alpha, beta, slack = self._bounds
        rho = self.rho
        self.line = (float(self.base + rho * beta), float(rho * alpha), float(rho * slack))

    def at(self, n: int) -> Fraction:
        if self.interval is None:
            return self.base
        return self.base + self.rho * self.interval.moved_by(n)

    def floor_form(self) -> tuple[int, int, int] | None:
        """``(a, b, e)`` with ``f(n) = floor((a n + b) / 3600) + e`` on the run, when the
        interval has no accuracy error (one floor)."""
        iv = self.interval
        if iv is None or iv.ppm != 0:
            return None
        return iv.rate_nl_per_h, -iv.rate_nl_per_h * iv.command_s, -iv.done_nl

    def bounds(self) -> tuple[Fraction, Fraction, Fraction]:
        """``(alpha, beta, slack)``: ``alpha n + beta - slack < f(n) <= alpha n + beta``."""
        return self._bounds

    def _exact_bounds(self) -> tuple[Fraction, Fraction, Fraction]:
        iv = self.interval
        if iv is None:
            return _NO_BOUNDS
        scale = Fraction(PPM + iv.ppm, PPM)
        alpha = Fraction(iv.rate_nl_per_h, HOUR_S) * scale
        beta = (Fraction(-iv.rate_nl_per_h * iv.command_s, HOUR_S) - iv.done_nl) * scale
        beta += Fraction(iv.carry, PPM)
        return alpha, beta, scale + 1


def _runs(intervals: Sequence[DriveInterval], dead_nl: Fraction, drug: str) -> list[_Run]:
    """The whole seconds from far before to far after the log, cut into runs (see :class:`_Run`)."""
    # G: the drug that has left the tip once the fluid at path position y has left (y = pumped -
    # dead volume): pieces [starts[k], starts[k + 1]) of density rho[k], g0[k] drug before them;
    # the fluid in the path at implant (y < 0) holds none
    starts: list[Fraction] = [-dead_nl]
    rho: list[Fraction] = [Fraction(0)]
    g0: list[Fraction] = [Fraction(0)]
    pumped = 0
    for iv in intervals:
        k = iv.drug_fg.get(drug, Fraction(0)) / iv.volume_nl
        if k != rho[-1]:
            g0.append(g0[-1] + rho[-1] * (pumped - starts[-1]))
            starts.append(Fraction(pumped))
            rho.append(k)
        pumped += iv.volume_nl
    runs: list[_Run] = []
    last_n, total, pumped = -_FAR, Fraction(0), 0

    def g_at(y: Fraction) -> Fraction:
        j = bisect.bisect_right(starts, y) - 1
        return g0[j] + rho[j] * (y - starts[j])

    for iv in intervals:
        if iv.t0_s > last_n:
            runs.append(_Run(last_n + 1, iv.t0_s, total, Fraction(0), None))
        y0 = pumped - dead_nl  # path position leaving at t0
        j = bisect.bisect_right(starts, y0) - 1
        n = iv.t0_s + 1
        end = iv.t1_s
        # the last second on the closed form, or alone (an accuracy error, or a command that
        # ended on its volume or an empty reservoir before its pace line got there)
        tail = iv.ppm != 0 or (
            iv.rate_nl_per_h * (end - iv.command_s) // HOUR_S - iv.done_nl != iv.volume_nl
        )
        body_hi = end - 1 if tail else end
        while n <= body_hi:
            # seconds from n on in piece j; the next piece starts at the first second the
            # position reaches starts[j + 1]
            hi = body_hi
            if j + 1 < len(starts):
                need = starts[j + 1] + dead_nl - pumped  # fluid of this interval
                if need <= iv.volume_nl:  # else not reached in it: it never draws more
                    hi = min(hi, _first_second(iv, need, n, body_hi + 1) - 1)
            if hi >= n:
                base = g0[j] + rho[j] * (pumped - dead_nl - starts[j])
                runs.append(_Run(n, hi, base, rho[j], iv if rho[j] else None))
                n = hi + 1
            if n <= body_hi:
                j = bisect.bisect_right(starts, pumped + iv.moved_by(n) - dead_nl) - 1
        pumped += iv.volume_nl
        total = g_at(pumped - dead_nl)
        if tail:
            runs.append(_Run(end, end, total, Fraction(0), None))
        last_n = end
    runs.append(_Run(last_n + 1, _FAR, total, Fraction(0), None))
    return runs


def _first_second(iv: DriveInterval, need: Fraction, lo: int, hi: int) -> int:
    """The first second in ``[lo, hi)`` by which the interval drew at least ``need`` nL (``hi``
    if none)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if iv.moved_by(mid) >= need:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _floor_total(a: int, k: int, lo: int, hi: int) -> int:
    """``sum(floor((a * t + k) / 3600) for t in range(lo, hi + 1))`` (``a >= 0``)."""
    n = hi - lo + 1
    if n <= 0:
        return 0
    whole, b = divmod(a * lo + k, HOUR_S)
    return floor_sum(n, HOUR_S, a, b) + n * whole


def _same_density_max(
    r1: _Run,
    r2: _Run,
    f1: tuple[int, int, int],
    f2: tuple[int, int, int],
    lo: int,
    hi: int,
    best: Fraction,
) -> tuple[Fraction, int]:
    """:func:`_stretch_max` where both ends move fluid of one density ``rho`` on the drive's
    closed form: the window is ``c + rho d(T)``, ``d(T) = floor(x1) - floor(x2)`` with ``x1 =
    (a1 T + k1) / q`` and ``x2 = (a2 (T - 24 h) + k2) / q``. As ``x1 - x2 = s(T)`` is linear,
    ``d(T)`` is ``floor(s(T))`` or one more: the largest ``d`` is ``floor(s)`` at the better end,
    ``v``, or ``v + 1`` when some second where ``floor(s) = v`` has ``d = v + 1``, which the sum
    of ``d`` over those seconds (two floor sums) tells."""
    q = HOUR_S
    a1, k1, e1 = f1
    a2, k2, e2 = f2
    k2 -= a2 * DAY_S
    da, dk = a1 - a2, k1 - k2
    c = r1.base - r2.base + r1.rho * (e1 - e2)
    v = (da * (hi if da > 0 else lo) + dk) // q
    # the seconds where floor(s) = v: from the better end to where s falls below v
    if da > 0:
        lo = max(lo, -((dk - v * q) // da))  # ceil((v q - dk) / da)
    elif da < 0:
        hi = min(hi, (dk - v * q) // -da)

    def ups(end: int) -> int:  # seconds lo..end with d = v + 1
        return _floor_total(a1, k1, lo, end) - _floor_total(a2, k2, lo, end) - (end - lo + 1) * v

    if ups(hi) == 0:
        return c + r1.rho * v, lo
    value = c + r1.rho * (v + 1)
    if value <= best:
        return value, lo
    first, last = lo, hi  # the first second with d = v + 1
    while first < last:
        mid = (first + last) // 2
        if ups(mid) > 0:
            last = mid
        else:
            first = mid + 1
    return value, first


def _two_densities_max(
    r1: _Run, r2: _Run, f1: tuple[int, int, int], f2: tuple[int, int, int], lo: int, hi: int
) -> tuple[Fraction, int]:
    """:func:`_stretch_max` where both ends are on the drive's closed form with two densities
    (a change of concentration between the window's start and its end), in integers: the
    window is ``c + (p1 floor(x1) - p2 floor(x2)) / den``, below ``c + (p1 x1 - p2 x2 + p2) /
    den``. Seconds are visited from the better end until that bound falls to the best value,
    within one hour: the floors move by the rates in an hour, so an hour further on every
    window is the one an hour nearer plus the slope (below it; with no slope the same)."""
    q = HOUR_S
    den = r1.rho.denominator * r2.rho.denominator
    p1 = r1.rho.numerator * r2.rho.denominator
    p2 = r2.rho.numerator * r1.rho.denominator
    a1, k1, e1 = f1
    a2, k2, e2 = f2
    k2 -= a2 * DAY_S
    c = r1.base - r2.base + r1.rho * e1 - r2.rho * e2
    slope = p1 * a1 - p2 * a2  # of the bound, times q
    # one hour from the better end decides: an hour further on, every window is the one an hour
    # nearer plus the slope (each floor moves by its rate), so below one visited before it
    if slope > 0:
        t, last, step = hi, max(lo, hi - q + 1), -1
    else:
        t, last, step = lo, min(hi, lo + q - 1), 1
    # from second to second in integers: each floor and its remainder move by the rate's whole
    # part and carry (the next second's value exactly, without the products), the bound by the
    # slope (the same values and the same visit as evaluating each second afresh)
    fl1, rem1 = divmod(a1 * t + k1, q)
    fl2, rem2 = divmod(a2 * t + k2, q)
    d1, m1 = divmod(step * a1, q)
    d2, m2 = divmod(step * a2, q)
    v = p1 * fl1 - p2 * fl2
    up1, up2 = p1 * d1, p2 * d2  # the change of each term without a carry, and with one
    bound = p1 * (a1 * t + k1) - p2 * (a2 * t + k2) + p2 * q
    bound_step = step * slope
    top, top_t, top_q = v, t, v * q
    while t != last:
        t += step
        bound += bound_step
        if slope != 0 and bound <= top_q:
            break
        rem1 += m1
        rem2 += m2
        v += up1 - up2
        if rem1 >= q:
            rem1 -= q
            v += p1
        if rem2 >= q:
            rem2 -= q
            v -= p2
        if v > top or (v == top and t < top_t):
            top, top_t, top_q = v, t, v * q
    return c + Fraction(top, den), top_t


def _stretch_max(
    r1: _Run,
    r2: _Run,
    lo: int,
    hi: int,
    best: Fraction,
    limit: int,
    floor: tuple[Fraction, float] | None = None,
) -> tuple[Fraction, int] | None:
    """The largest window ``r1.at(T) - r2.at(T - 24 h)`` over whole seconds ``lo..hi`` and its
    end (the end only where the value is above ``best``), or ``None`` when no window there can
    exceed both ``best`` and ``limit`` (a bound says so). ``floor``: ``min(best, limit)`` and
    its float, when the caller has them."""
    c1, s1, _ = r1.line
    c2, s2f, w2 = r2.line
    quick = c1 + s1 * (hi if s1 > s2f else lo) - c2 - s2f * ((hi if s1 > s2f else lo) - DAY_S)
    if floor is None:
        floor_at = min(best, Fraction(limit))
        floor_f = float(floor_at)
    else:
        floor_at, floor_f = floor
    if quick + w2 + 1e-9 * (abs(c1) + abs(c2) + abs(quick)) + 1.0 < floor_f:
        return None
    a1, b1, _ = r1.bounds()
    a2, b2, s2 = r2.bounds()
    c0 = r1.base - r2.base + r1.rho * b1 - r2.rho * (b2 - a2 * DAY_S)
    slope = r1.rho * a1 - r2.rho * a2
    slack = r2.rho * s2  # every window is below c0 + slope T + slack

    def bound(t: int) -> Fraction:
        return c0 + slope * t + slack

    if bound(hi if slope > 0 else lo) <= floor_at:
        return None

    def w(t: int) -> Fraction:
        return r1.at(t) - r2.at(t - DAY_S)

    if r2.rho * a2 == 0:  # the window's start does not move: largest at its latest end
        return w(hi), hi
    if r1.rho * a1 == 0:
        return w(lo), lo
    f1, f2 = r1.floor_form(), r2.floor_form()
    if f1 is not None and f2 is not None:
        if r1.rho == r2.rho:
            return _same_density_max(r1, r2, f1, f2, lo, hi, best)
        return _two_densities_max(r1, r2, f1, f2, lo, hi)
    # an accuracy error at an end (two nested floors): visit seconds from the better end until
    # the bound, which drops by |slope| a second, falls to the best value found (with no slope,
    # every second)
    step = -1 if slope > 0 else 1
    t = hi if slope > 0 else lo
    top, top_t = w(t), t
    last = hi if step > 0 else lo
    while t != last:
        t += step
        if slope != 0 and bound(t) <= top:
            break
        v = w(t)
        if v > top:
            top, top_t = v, t
    return top, top_t


def max_windows_of_drive(
    intervals: Sequence[DriveInterval], dead_nl: Fraction, drug: str, limit_fg: int
) -> tuple[Fraction, int, int]:
    """The largest amount of ``drug`` leaving the tip in a window ``(T - 24 h, T]`` (``T`` a
    whole second), its end, and the episodes above ``limit_fg``: runs of consecutive stretches
    (see the module doc) holding a window above it."""
    runs = _runs(intervals, dead_nl, drug)
    if not intervals:
        return Fraction(0), 0, 0
    t, t_end = intervals[0].t0_s, intervals[-1].t1_s + DAY_S
    i = j = 0
    best, best_t, episodes, over = Fraction(-1), t, 0, False
    limit = Fraction(limit_fg)
    floor_at = min(best, limit)
    floor = (floor_at, float(floor_at))
    while t <= t_end:
        while runs[i].hi < t:
            i += 1
        while runs[j].hi < t - DAY_S:
            j += 1
        hi = min(runs[i].hi, runs[j].hi + DAY_S, t_end)
        found = _stretch_max(runs[i], runs[j], t, hi, best, limit_fg, floor)
        now_over = False
        if found is not None:
            value, at = found
            if value > best:
                best, best_t = value, at
                floor_at = min(best, limit)
                floor = (floor_at, float(floor_at))
            now_over = value > limit_fg
        if now_over and not over:
            episodes += 1
        over = now_over
        t = hi + 1
    return max(best, Fraction(0)), best_t, episodes
