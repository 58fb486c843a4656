"""Histories of drug changes with a drive that resets (tests/reset_bench.py), judged by the
independent FIFO reference (tests/itdose_physics.py) drug by drug: each drug's 24 h windows
against its own hard maximum, each drug's busiest 10 min and hour against its own program's
rate (the old drug after a change leaves at no more than its own program's rate, REQ-TIP-003,
R-TIP-6), and the new drug's program in full or announced by the delivery-limited alarm
(R-TIP-4). Shares no code with the core's accounting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    NL_PER_ML,
    Cumulative,
    Push,
    implanted_and_dosing,
    refill,
    window_extremes,
)
from reset_bench import ResetBench

from itdose.core.program import Basal, Program

MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(20 * MG), None, "opioid-tolerant")
"""Morphine 25 mg/mL at its 20 mg hard maximum (33,333 nL/h)."""
MORPHINE_10 = Program(
    "morphine", "pain", 10 * MG, Basal.continuous(20 * MG), None, "opioid-tolerant"
)
"""A leaner morphine at the same maximum (83,333 nL/h)."""
HYDROMORPHONE = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(10 * MG), None, None)
"""Compounded hydromorphone 2 mg/mL at its 10 mg hard maximum (208,333 nL/h)."""
HYDROMORPHONE_4 = Program("hydromorphone", "pain", 4 * MG, Basal.continuous(10 * MG), None, None)
"""A richer hydromorphone at the same maximum (104,167 nL/h)."""
FENTANYL = Program("fentanyl", "pain", 50_000, Basal.continuous(1 * MG), None, None)
"""Fentanyl 50 mcg/mL at its 1 mg hard maximum (833,333 nL/h)."""
CAPS = {"morphine": 20 * MG, "hydromorphone": 10 * MG, "fentanyl": 1 * MG}
"""Each drug's hard daily maximum (the library's, pain)."""


@dataclass
class Judged:
    """What the reference found: the largest 24 h window of each drug, the busiest 10 min and
    hour of each drug against its program's, in ng (exact)."""

    day: dict[str, Fraction] = field(default_factory=dict)
    ten_min: dict[str, Fraction] = field(default_factory=dict)
    hour: dict[str, Fraction] = field(default_factory=dict)

    def faults(self, programs: dict[str, Program], carried_s: int = 0) -> list[str]:
        """Each window over its bound: a drug's 24 h over its hard maximum, a drug's 10 min or
        hour over its program's share and one nanolitre of its richest fluid (the drive's
        rounding, R-TIP-5) and one more for the change's term; with ``carried_s`` that many
        seconds of the program's basal more (the partial second R-TIP-3 carries to the next
        order at a change of concentration)."""
        out = []
        for drug, most in self.day.items():
            if most > CAPS[drug]:
                out.append(f"{drug}: {float(most)} ng in 24 h > {CAPS[drug]}")
        for span, found in ((600, self.ten_min), (HOUR_S, self.hour)):
            for drug, most in found.items():
                daily = max(
                    p.basal.steps[0].dose_ng_per_day for p in programs.values() if p.drug == drug
                )
                richest = max(
                    p.concentration_ng_per_ml for p in programs.values() if p.drug == drug
                )
                bound = Fraction(daily * (span + carried_s), DAY_S) + 2 * Fraction(
                    richest, NL_PER_ML
                )
                if most > bound:
                    out.append(f"{drug}: {float(most)} ng in {span} s > {float(bound)}")
        return out


def busiest(cum: Cumulative, span_s: int, after: int) -> Fraction:
    """The most that left in any ``span_s`` ending after ``after`` (every breakpoint and
    breakpoint + span, from both sides)."""
    ends = {x for t in cum.breakpoints() for x in (t, t + span_s) if t >= after}
    return max(
        (cum.at(t, left=lf) - cum.at(t - span_s, left=lf) for t in ends for lf in (False, True)),
        default=Fraction(0),
    )


def judge(b: ResetBench, after: int) -> Judged:
    """The reference's windows of every drug that left the tip (10 min and hour after
    ``after``, 24 h over the whole history)."""
    tip = b.tip()
    j = Judged()
    for drug in sorted({d for p in tip for d, a in p.ng.items() if a}):
        j.day[drug] = window_extremes(tip, drug).max_ng
        cum = Cumulative(tip, drug)
        j.ten_min[drug] = busiest(cum, 600, after)
        j.hour[drug] = busiest(cum, HOUR_S, after)
    return j


ARRIVAL_NL = 234_000
"""The path's dead volume with the catheter trimmed by 200 mm: the new drug reaches the tip after
this much more has moved."""
ARRIVAL_S = 25_272
"""The new drug reaches the tip this long after a refill from morphine 25 mg/mL at 20 mg/day
(234,000 nL at 33,333 nL/h)."""


@dataclass
class ShortBench(ResetBench):
    """A drive that moves each basal order ``short_nl`` less than ordered (evenly, never faster
    than its pace) and reports what it moved: it leaves ``short_nl`` of each run at the tip."""

    short_nl: int = 1

    def _delivered(self, r, at, *, whole_nl):  # type: ignore[no-untyped-def]
        ordered = r.order.volume_nl
        keep = self.delivers
        if r.order.kind == "basal" and ordered > self.short_nl:
            self.delivers = Fraction(ordered - self.short_nl, ordered)
        try:
            return super()._delivered(r, at, whole_nl=whole_nl)
        finally:
            self.delivers = keep


def changed(
    b: ResetBench,
    changes: tuple[tuple[int, Program], ...],
    resets: tuple[int, ...] = (),
    *,
    days: int = 2,
    trimmed_mm: int = 200,
) -> int:
    """Morphine at its maximum for a day, then each ``(seconds after the first, program)``
    refill, and the drive's resets at those seconds after the first; run ``days``. Returns the
    first refill's instant."""
    t0 = implanted_and_dosing(b, MORPHINE, trimmed_mm=trimmed_mm)
    t1 = t0 + DAY_S
    b.resets = sorted(t1 + r for r in resets)
    for at, p in changes:
        b.advance(t1 + at)
        refill(b, t1 + at, p.concentration_ng_per_ml, program=p, drug=p.drug)
    b.advance(t1 + days * DAY_S)
    return t1


def programs_of(changes: tuple[tuple[int, Program], ...]) -> dict[str, Program]:
    """The programs of a history of changes, by drug and strength (morphine's first)."""
    out = {"morphine 25": MORPHINE}
    for _, p in changes:
        out[f"{p.drug} {p.concentration_ng_per_ml}"] = p
    return out


@dataclass
class OverBench(ResetBench):
    """A drive that breaks the trust from ``from_s`` on: it moves ``share`` (above one) of each
    basal order evenly over the order's time, faster than its pace, and reports what it moved."""

    share: Fraction = Fraction(101, 100)
    from_s: int = 0

    def _delivered(self, r, at, *, whole_nl):  # type: ignore[no-untyped-def]
        if r.end == r.start or r.order.kind != "basal" or r.start < self.from_s:
            return super()._delivered(r, at, whole_nl=whole_nl)
        target = r.order.volume_nl * self.share
        rate = target / (r.end - r.start)
        done = min(target, rate * (Fraction(min(at, r.end)) - r.start))
        if whole_nl:
            done = Fraction(int(done))
        if done <= 0:
            return None
        return Push(Fraction(r.start), r.start + done / rate, done, r.fluid, r.order.kind)


CHANGES: dict[str, tuple[tuple[int, Program], ...]] = {
    "to hydromorphone": ((0, HYDROMORPHONE),),
    "there and back within the catheter": ((0, HYDROMORPHONE), (600, MORPHINE)),
    "there, back and there again": ((0, HYDROMORPHONE), (600, MORPHINE), (1200, HYDROMORPHONE)),
    "a leaner morphine, then hydromorphone": ((0, MORPHINE_10), (60, HYDROMORPHONE)),
}
"""The drug changes both drug-change grids run (seconds after the first refill, program)."""
