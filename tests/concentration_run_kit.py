"""Runs of one drug's concentrations near its hard maximum (the cut order's carry and the remnant
merged into the next run, core/basal.py): one refill for each concentration after the first,
any gaps apart (runs of a few nanolitres back to back), on a drive that moves all of each order,
a share of it (99 %, 99.9 %) or resets (its report then an upper bound with a doubt,
tests/reset_bench.py). Judged from what the drive moved by the FIFO reference
(tests/itdose_physics.py): the largest and the smallest 24 h window, the busiest 10 min and
hour, the alarms, the orders per hour. Shares no code with the core's accounting.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from drug_change_kit import busiest
from itdose_physics import (
    DAY_S,
    HOUR_S,
    NL_PER_ML,
    Cumulative,
    Mode,
    implanted_and_dosing,
    refill,
    window_extremes,
)
from reset_bench import ResetBench

from itdose.core import Library
from itdose.core.effects import DeliveryOrder
from itdose.core.program import Basal, Program

INDICATIONS = {"morphine": ("pain", "opioid-tolerant"), "baclofen": ("spasticity-spinal", None)}


@dataclass(frozen=True)
class Measured:
    """What the reference found from the first refill on (ng; exact)."""

    cap: int
    daily: int
    unit: Fraction
    """One nanolitre of the richest concentration."""
    most: Fraction
    """The largest 24 h window."""
    least: Fraction
    """The smallest 24 h window ending a day or more after the first refill."""
    ten_min: Fraction
    hour: Fraction
    limited: bool
    """The delivery-limited alarm was raised from the first refill on."""
    orders_per_hour: int
    """The most orders the core gave within an hour."""

    def over(self, span_s: int) -> Fraction:
        """The busiest ``span_s`` above the program's share, one second of basal (the partial
        second R-TIP-3 carries at a change) and two nanolitres of the richest fluid."""
        most = self.ten_min if span_s == 600 else self.hour
        return most - Fraction(self.daily * (span_s + 1), DAY_S) - 2 * self.unit

    def faults(self, full: bool) -> list[str]:
        """Every bound broken: a 24 h window over the maximum, a 10 min or an hour over the
        program's rate (:meth:`over`), more than 30 orders in an hour, and (``full``: a drive
        that moves all of each order, reported exactly) a window short of the program by more
        than a rounding unit without the delivery-limited alarm (R-TIP-4)."""
        out = []
        if self.most > self.cap:
            out.append(f"{float(self.most)} ng in 24 h > {self.cap}")
        for span in (600, HOUR_S):
            if self.over(span) > 0:
                out.append(f"{float(self.over(span))} ng over the rate in {span} s")
        if self.orders_per_hour > 30:
            out.append(f"{self.orders_per_hour} orders in an hour")
        if full and self.least < self.daily - self.unit and not self.limited:
            out.append(f"{float(self.daily - self.least)} ng short, silently")
        return out


def measured(
    library: Library,
    drug: str,
    concs: tuple[int, ...],
    gaps: tuple[int, ...] = (),
    *,
    below_ng: int = 0,
    trimmed_mm: int = 200,
    mode: Mode = "uniform",
    delivers: Fraction = Fraction(1),
    resets: tuple[int, ...] = (),
    sure: Fraction = Fraction(1),
    report_after_s: int | None = None,
    keep_going: bool = False,
    offset_s: int = 1234,
    days: int = 2,
) -> Measured:
    """``drug`` at its hard maximum less ``below_ng`` at ``concs[0]`` for a day, then refilled
    ``offset_s`` into the next hour at each other concentration in turn (``gaps`` apart), the
    drive moving ``delivers`` of each order from dosing on and resetting at ``resets``
    (seconds after the first refill); run ``days`` after the last refill."""
    indication, status = INDICATIONS[drug]
    cap = library.drug(drug, indication).max_daily.value
    daily = cap - below_ng
    programs = [Program(drug, indication, k, Basal.continuous(daily), None, status) for k in concs]
    b = ResetBench(
        library, mode=mode, sure_share=sure, report_after_s=report_after_s, keep_going=keep_going
    )
    t0 = implanted_and_dosing(b, programs[0], trimmed_mm=trimmed_mm)
    b.delivers = delivers
    first = t = t0 + DAY_S + offset_s
    b.resets = sorted(first + r for r in resets)
    for program, gap in zip(programs[1:], (0, *gaps), strict=True):
        t += gap
        refill(b, t, program.concentration_ng_per_ml, program=program)
    b.advance(t + days * DAY_S)
    assert not b.anomalies, b.anomalies
    end = min((r.start for r in b.running.values()), default=b.now)
    tip = b.tip()
    ex = window_extremes(tip, drug, min_from=Fraction(first + DAY_S), min_to=Fraction(end))
    assert ex.min_ng is not None
    cum = Cumulative(tip, drug)
    given = [at for at, _, fx in b.log if at >= first for e in fx if isinstance(e, DeliveryOrder)]
    per_hour, j = 0, 0
    for i, at in enumerate(given):
        while at - given[j] >= HOUR_S:
            j += 1
        per_hour = max(per_hour, i - j + 1)
    return Measured(
        cap=cap,
        daily=daily,
        unit=Fraction(max(concs), NL_PER_ML),
        most=ex.max_ng,
        least=ex.min_ng,
        ten_min=busiest(cum, 600, first),
        hour=busiest(cum, HOUR_S, first),
        limited=any("delivery_limited" in k for at, _, _, k in b.phases if at >= first),
        orders_per_hour=per_hour,
    )
