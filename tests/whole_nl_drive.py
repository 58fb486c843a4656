"""A brute-force reference of the drug leaving the catheter tip when the drive moves whole
nanolitres at whole seconds, and of its rolling 24 h windows at every whole second.

It reads only the drive's record of what it moved (each push's interval, volume and fluid, as
tests/itdose_physics.py's ``Bench.pushes`` holds them) and shares no code with the core's
accounting nor with the other references. Each push is moved as a whole-nanolitre drive moves
it (docs/hardware.md, "What the core asks of a drive"): by the whole second ``t`` it has moved
``floor`` of its even line, ``floor(volume x (t - t0) / (t1 - t0))`` nL (all of it at ``t0``
when ``t0 == t1``): never ahead of the line, under one nanolitre behind it. The path is first in,
first out by position: the ``n``-th nanolitre pushed in (counting the dead volume of saline that
fills the path first) is the ``n``-th out of the tip. Amounts are exact fractions (ng).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

DAY = 86_400


def _line(p: Any) -> tuple[int, Fraction, Fraction, Fraction]:
    """``(first whole second, t0, t1, volume)`` of a push."""
    return math.ceil(p.t0), Fraction(p.t0), Fraction(p.t1), Fraction(p.volume_nl)


def moved_at(p: Any, t: int) -> int:
    """Whole nanolitres push ``p`` has moved by the whole second ``t``."""
    _, t0, t1, vol = _line(p)
    if t < t0:
        return 0
    if t1 == t0 or t >= t1:
        return math.floor(vol)
    return math.floor(vol * (t - t0) / (t1 - t0))


def tip_by_second(
    dead_volume_nl: Fraction, pushes: Sequence[Any], drug: str, lo: int, hi: int
) -> list[Fraction]:
    """The drug that has left the tip by each whole second ``lo..hi`` (a list indexed from
    ``lo``)."""
    pushes = sorted((p for p in pushes if p.volume_nl > 0), key=lambda p: (p.t0, p.t1))
    # the fluid along the path, by position: saline first, then every push's fluid in turn
    edges = [Fraction(0), Fraction(dead_volume_nl)]
    conc = [Fraction(0)]
    for p in pushes:
        k = dict(p.fluid.ng_per_nl).get(drug, Fraction(0))
        edges.append(edges[-1] + math.floor(p.volume_nl))
        conc.append(Fraction(k))
    cum = [Fraction(0)]
    for i, k in enumerate(conc):
        cum.append(cum[-1] + k * (edges[i + 1] - edges[i]))

    def out(v: int) -> Fraction:
        i = min(bisect.bisect_right(edges, v) - 1, len(conc) - 1)
        if i < 0:
            return Fraction(0)
        return cum[i] + conc[i] * (min(Fraction(v), edges[i + 1]) - edges[i])

    moved = [0] * (hi - lo + 1)
    for p in pushes:
        first, _, t1, _ = _line(p)
        if math.ceil(t1) < lo:  # all of it moved before ``lo``: it counts at ``lo``
            moved[0] += moved_at(p, math.ceil(t1))
            continue
        last = min(hi, math.ceil(t1))
        prev = 0  # what it moved before ``lo`` counts at ``lo``
        for t in range(max(lo, first), last + 1):
            now = moved_at(p, t)
            moved[t - lo] += now - prev
            prev = now
    total, result = 0, []
    for step in moved:
        total += step
        result.append(out(total))
    return result


def moved_at_fn(p: Any) -> Any:
    """``moved_at(p, t)`` for one push as a function of ``t`` in integer arithmetic only:
    ``floor(volume x (t - t0) / (t1 - t0))`` is ``floor(rn x (t x ad - an) / (rd x ad))`` with
    ``volume / (t1 - t0) = rn / rd`` and ``t0 = an / ad``; the same value, without a fraction
    built per second (test_whole_nanolitre_drive_at_the_hard_maximum.py checks it equal)."""
    _, t0, t1, vol = _line(p)
    whole = math.floor(vol)
    if t1 == t0:
        return lambda t: 0 if t < t0 else whole
    r = vol / (t1 - t0)
    rn, rd, an, ad = r.numerator, r.denominator, t0.numerator, t0.denominator
    den = rd * ad

    def at(t: int) -> int:
        if t < t0:
            return 0
        if t >= t1:
            return whole
        return rn * (t * ad - an) // den

    return at


def tip_by_second_scaled(
    dead_volume_nl: Fraction, pushes: Sequence[Any], drug: str, lo: int, hi: int
) -> tuple[list[int], int]:
    """``tip_by_second`` times a common denominator ``scale``: ``(values, scale)`` with
    ``values[i] == tip_by_second(...)[i] x scale`` exactly, every value an integer (the same
    path and pushes, read with integer arithmetic only; equal to the plain definition on random
    histories, test_whole_nanolitre_drive_at_the_hard_maximum.py)."""
    pushes = sorted((p for p in pushes if p.volume_nl > 0), key=lambda p: (p.t0, p.t1))
    edges = [Fraction(0), Fraction(dead_volume_nl)]
    conc = [Fraction(0)]
    for p in pushes:
        k = dict(p.fluid.ng_per_nl).get(drug, Fraction(0))
        edges.append(edges[-1] + math.floor(p.volume_nl))
        conc.append(Fraction(k))
    cum = [Fraction(0)]
    for i, k in enumerate(conc):
        cum.append(cum[-1] + k * (edges[i + 1] - edges[i]))
    # every value below is an integer once multiplied by ``scale``
    scale = 1
    for x in [*conc, *cum, *(k * e for k, e in zip(conc, edges, strict=False))]:
        scale = math.lcm(scale, x.denominator)
    k_s = [int(k * scale) for k in conc]
    base_s = [int((cum[i] - conc[i] * edges[i]) * scale) for i in range(len(conc))]
    last = len(conc) - 1
    cap_s = int(cum[-1] * scale)

    moved = [0] * (hi - lo + 1)
    for p in pushes:
        first, _, t1, _ = _line(p)
        at = moved_at_fn(p)
        if math.ceil(t1) < lo:
            moved[0] += at(math.ceil(t1))
            continue
        stop = min(hi, math.ceil(t1))
        prev = 0
        for t in range(max(lo, first), stop + 1):
            now = at(t)
            moved[t - lo] += now - prev
            prev = now
    total, i, result = 0, 0, []
    for step in moved:
        total += step
        while i < last and edges[i + 1] <= total:
            i += 1
        if total < edges[0]:
            result.append(0)
        elif i == last and total >= edges[-1]:
            result.append(cap_s)
        else:
            result.append(base_s[i] + k_s[i] * total)
    return result, scale


def largest_window(
    dead_volume_nl: Fraction,
    pushes: Iterable[Any],
    drug: str,
    ends: tuple[int, int],
) -> tuple[Fraction, int]:
    """The largest ``(T - 86400, T]`` of ``drug`` over every whole second ``T`` in ``ends``,
    and the first ``T`` where it is reached."""
    pushes = list(pushes)
    lo, hi = ends[0] - DAY, ends[1]
    cum, scale = tip_by_second_scaled(dead_volume_nl, pushes, drug, lo, hi)
    best, at = -1, ends[0]
    for t in range(ends[0], ends[1] + 1):
        w = cum[t - lo] - cum[t - DAY - lo]
        if w > best:
            best, at = w, t
    return Fraction(best, scale) if best >= 0 else Fraction(-1), at
