"""A second, minimal physical reference of the drug leaving the catheter tip (first in, first out)
and of its rolling 24 h windows, written from docs/dosing-rules.md alone.

It shares no code with the core's accounting, nor with tests/itdose_physics.py's path, sweep or
window search: it reads only the drive's record of what it moved (``(t0, t1, volume_nl, drug,
concentration)``, evenly over ``[t0, t1]``, at once when ``t0 == t1``), so an error in either of
the other two cannot hide one in the core. Everything is an exact :class:`fractions.Fraction`
(nanolitres, nanograms, seconds).

- The path is a list of slugs ``[volume, drug, ng per nL]``, head first; it starts full of saline.
- Between two consecutive instants at which any push starts or ends, the flow entering is
  constant; the same volume leaves the head, each slug spread over the interval in proportion to
  its volume.
- The amount of a drug that has left by ``t`` is piecewise linear with jumps; the window
  ``(t - 86400, t]`` is extreme at a breakpoint or a breakpoint plus 24 h, from the left or the
  right: every one of those instants is evaluated exactly (brute force).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

DAY = 86_400
Extreme = tuple[Fraction, Fraction, bool]
"""A window's amount (ng), its end (s), and whether it is the limit from the left."""


@dataclass(frozen=True)
class Moved:
    """The drive moved ``volume_nl`` of ``drug`` at ``conc`` ng/mL evenly over ``[t0, t1]``."""

    t0: Fraction
    t1: Fraction
    volume_nl: Fraction
    drug: str
    conc: int


@dataclass(frozen=True)
class Left:
    """``ng`` of ``drug`` left the tip evenly over ``[t0, t1]`` (at once when equal)."""

    t0: Fraction
    t1: Fraction
    drug: str
    ng: Fraction


def tip(dead_volume_nl: Fraction, moved: Iterable[Moved]) -> list[Left]:
    path: list[list[object]] = [[Fraction(dead_volume_nl), "", Fraction(0)]]
    ms = [m for m in moved if m.volume_nl > 0]
    points = sorted({m.t0 for m in ms} | {m.t1 for m in ms})
    out: list[Left] = []

    def push(
        vol: Fraction, parts: list[tuple[Fraction, str, Fraction]], a: Fraction, b: Fraction
    ) -> None:
        for v, drug, k in parts:
            path.append([v, drug, k])
        need = vol
        t = a
        while need > 0:
            head = path[0]
            hv = head[0]
            assert isinstance(hv, Fraction)
            take = min(hv, need)
            dt = (b - a) * take / vol
            k = head[2]
            assert isinstance(k, Fraction)
            if head[1] and k:
                out.append(Left(t, t + dt, str(head[1]), take * k))
            t += dt
            need -= take
            if take == hv:
                path.pop(0)
            else:
                head[0] = hv - take

    for i, a in enumerate(points):
        for m in ms:
            if m.t0 == m.t1 == a:
                push(m.volume_nl, [(m.volume_nl, m.drug, Fraction(m.conc, 10**6))], a, a)
        if i + 1 == len(points):
            break
        b = points[i + 1]
        parts = []
        for m in ms:
            if m.t0 <= a and m.t1 >= b and m.t1 > m.t0:
                v = m.volume_nl * (b - a) / (m.t1 - m.t0)
                parts.append((v, m.drug, Fraction(m.conc, 10**6)))
        vol = sum((p[0] for p in parts), Fraction(0))
        if vol:
            push(vol, parts, a, b)
    return out


def _cum(pieces: Sequence[Left], t: Fraction, left: bool) -> Fraction:
    """Amount left by ``t`` (inclusive; ``left``: the limit from below)."""
    s = Fraction(0)
    for p in pieces:
        if p.t1 == p.t0:
            if p.t0 < t or (p.t0 == t and not left):
                s += p.ng
        elif t >= p.t1:
            s += p.ng
        elif t > p.t0:
            s += p.ng * (t - p.t0) / (p.t1 - p.t0)
    return s


def windows(
    pieces: Sequence[Left], drug: str, lo: Fraction | None = None, hi: Fraction | None = None
) -> tuple[Extreme | None, Extreme | None]:
    """(largest, smallest) window of ``drug`` over the candidate ends within ``[lo, hi]``, each as
    (amount, end, side)."""
    mine = [p for p in pieces if p.drug == drug]
    pts: set[Fraction] = set()
    for p in mine:
        for x in (p.t0, p.t1):
            pts.update((x, x + DAY))
    best: Extreme | None = None
    worst: Extreme | None = None
    for t in sorted(pts):
        if (lo is not None and t < lo) or (hi is not None and t > hi):
            continue
        for left in (False, True):
            w = _cum(mine, t, left) - _cum(mine, t - DAY, left)
            if best is None or w > best[0]:
                best = (w, t, left)
            if worst is None or w < worst[0]:
                worst = (w, t, left)
    return best, worst


def moved_by(pushes: Iterable[Any]) -> list[Moved]:
    """The drive's record of a bench (tests/itdose_physics.py ``Bench.pushes``: each push's
    interval, volume and fluid, one drug at most) as :class:`Moved` (data only, no code of its
    path or windows)."""
    out = []
    for p in pushes:
        drugs = [(d, k) for d, k in p.fluid.ng_per_nl if k]
        assert len(drugs) <= 1
        drug, k = drugs[0] if drugs else ("", Fraction(0))
        conc = k * 1_000_000
        assert conc.denominator == 1
        out.append(Moved(p.t0, p.t1, p.volume_nl, drug, int(conc)))
    return out


def window_at(pieces: Sequence[Left], drug: str, t: Fraction) -> Fraction:
    """The amount of ``drug`` that left in the window ``(t - 86400, t]``."""
    mine = [p for p in pieces if p.drug == drug]
    return _cum(mine, t, False) - _cum(mine, t - DAY, False)
