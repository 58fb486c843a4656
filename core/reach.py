"""The richest fluid within reach: the path as the core counts it when where the fluid really is
is known only within some nanolitres (part of the delivery engine, :mod:`itdose.core.dosing`).
Two cases move the real fluid an unknown amount against the core's model of it: an emergency MRI
scan moves it up to 10 uL toward the tip (docs/dosing-rules.md#r-mri-5, REQ-MRI-006), and a
report that is only an upper bound leaves it up to that bound's doubt behind the model
(docs/dosing-rules.md#r-tip-6, REQ-TIP-006). Each place of the path is then counted as holding the
richest fluid that can be there. Pure and integer-only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from itdose.core.path import NO_DRUG, FluidPath, Segment, drugs_in
from itdose.core.state import Device, FlushDose, Shadow

EMERGENCY_MRI_NL: Final = 10_000
"""The labelled worst case of a Prometra II emergency scan with drug in the reservoir: 10 uL
counted as delivered (docs/dosing-rules.md#r-mri-5; REQ-MRI-006), and the most of another drug's
shadow an order may push out unsized (R-MRI-5)."""


@dataclass(frozen=True)
class Span:
    """Fluid at ``[start_nl, end_nl)`` from the tip (negative: already pushed out of it), as the
    path says it (``shadow`` false, in order from the tip) or as a shadow says it may be."""

    start_nl: int
    end_nl: int
    fluid: Segment
    shadow: bool = False


def spans_of(segments: tuple[Segment, ...], start_nl: int) -> list[Span]:
    """``segments`` (tip first) laid out from ``start_nl``."""
    ends = itertools.accumulate(seg.volume_nl for seg in segments)
    return [
        Span(start_nl + b - s.volume_nl, start_nl + b, s)
        for s, b in zip(segments, ends, strict=True)
    ]


def shadow_spans(shadows: tuple[Shadow, ...], shift_nl: int = 0) -> list[Span]:
    """``shadows`` as spans, moved ``shift_nl`` toward the tip."""
    return [
        Span(
            s.start_nl - shift_nl,
            s.start_nl + s.volume_nl - shift_nl,
            Segment(s.volume_nl, s.drug, s.concentration_ng_per_ml),
            True,
        )
        for s in shadows
    ]


def richest_within(
    spans: list[Span], length_nl: int, back_nl: int, ahead_nl: int
) -> tuple[tuple[Segment, ...], tuple[Shadow, ...]]:
    """The path's first ``length_nl`` (tip first, equal neighbours merged) where each position
    ``q`` holds the richest fluid of ``spans`` in ``[q - back_nl, q + ahead_nl]`` (fluid without
    drug counts as the leanest of any drug); and the shadows that go with it. With two drugs
    within reach of ``q`` (a drug change under way) the path holds the richest fluid of the drug
    of the path's spans furthest from the tip, the newer one, so that it never reaches the tip
    later than counted, and a shadow holds each other drug at its richest there, so that it is
    counted whenever it leaves (:class:`itdose.core.state.Shadow`)."""
    starts = (max(0, s.start_nl - ahead_nl) for s in spans)
    ends = (max(0, s.end_nl + back_nl) for s in spans)
    cuts = sorted({0, length_nl, *starts, *ends})
    cuts = [c for c in cuts if c <= length_nl]
    lanes: list[Segment] = []
    after: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for lo, hi in itertools.pairwise(cuts):
        reached = [s for s in spans if s.start_nl - ahead_nl <= lo < s.end_nl + back_nl]
        drugs = [s.fluid.drug for s in reached if not s.shadow and s.fluid.drug != NO_DRUG]
        lane = drugs[-1] if drugs else NO_DRUG
        richest: dict[str, int] = {}
        for s in reached:
            drug, conc = s.fluid.drug, s.fluid.concentration_ng_per_ml
            if drug != NO_DRUG:
                richest[drug] = max(richest.get(drug, 0), conc)
        seg = Segment(hi - lo, lane, richest.get(lane, 0))
        if lanes and lanes[-1].same_fluid(seg):
            lanes[-1] = seg.with_volume(lanes[-1].volume_nl + seg.volume_nl)
        else:
            lanes.append(seg)
        for other, conc in richest.items():
            if other != lane:
                spans_of_other = after.setdefault((other, conc), [])
                if spans_of_other and spans_of_other[-1][1] == lo:
                    spans_of_other[-1] = (spans_of_other[-1][0], hi)
                else:
                    spans_of_other.append((lo, hi))
    kept = sorted(
        (Shadow(lo, hi - lo, other, conc) for (other, conc), v in after.items() for lo, hi in v),
        key=lambda s: (s.start_nl, s.drug, s.concentration_ng_per_ml),
    )
    return tuple(lanes), tuple(kept)


def paced_stretch(
    shadows: tuple[Shadow, ...],
    start_nl: int,
    day_fg: int,
    limit_of: Callable[[Shadow], int],
    min_run_nl: int,
) -> tuple[int, int | None]:
    """The rate of the basal order pushed out after ``start_nl`` through the path's lane at
    ``day_fg`` (fg a day of the lane's drug) where ``shadows`` may hold other drugs, and the
    volume from ``start_nl`` it keeps that rate for (``None``: as far as the shadows go):
    ``(rate, stop_nl)``. Each place is pushed out no faster than the slowest drug it may hold
    leaves at its own program's rate (``limit_of(shadow)``, the lane's fg a day that moves the
    shadow's volume at its drug's rate), so that an old drug the path may still hold after a drug
    change leaves at no more than its own rate (docs/dosing-rules.md#r-tip-6, REQ-TIP-003). The
    rate holds to the next place where it changes, or, where that is nearer than
    ``min_run_nl``, for ``min_run_nl`` at the slowest rate within them (an order of a single
    nanolitre, which a drive a little slower than ordered leaves whole again, never ends)."""

    def at(q: int) -> int:
        inside = [limit_of(s) for s in shadows if s.start_nl <= q < s.start_nl + s.volume_nl]
        return min([day_fg, *inside])

    rate = at(start_nl)
    cuts = sorted({e for s in shadows for e in (s.start_nl, s.start_nl + s.volume_nl)})
    changes = [c for c in cuts if c > start_nl and at(c) != rate]
    if not changes:
        return rate, None
    if changes[0] - start_nl >= min_run_nl:
        return rate, changes[0]
    stop = start_nl + min_run_nl
    return min([rate, *(at(c) for c in cuts if start_nl < c < stop)]), stop


def held_doses(d: Device, path: FluidPath, shadows: tuple[Shadow, ...]) -> tuple[FlushDose, ...]:
    """The old programs' daily doses (:class:`itdose.core.state.FlushDose`) of the drugs
    ``path`` or ``shadows`` still hold: a drug only a shadow may still hold leaves at no more
    than its own rate too (docs/dosing-rules.md#r-tip-6)."""
    held = {*drugs_in(path.segments), *(s.drug for s in shadows)}
    return tuple(f for f in d.flush_doses if f.drug in held)


def shadows_pushed(
    shadows: tuple[Shadow, ...], delta_nl: int
) -> tuple[tuple[Shadow, ...], tuple[Segment, ...]]:
    """The shadows after ``delta_nl`` more left the tip, and what of them left
    (:class:`itdose.core.state.Shadow`)."""
    kept: list[Shadow] = []
    gone: list[Segment] = []
    for s in shadows:
        end = s.start_nl + s.volume_nl
        if s.start_nl < delta_nl:
            gone.append(Segment(min(end, delta_nl) - s.start_nl, s.drug, s.concentration_ng_per_ml))
        if end > delta_nl:
            lo = max(s.start_nl, delta_nl)
            kept.append(Shadow(lo - delta_nl, end - lo, s.drug, s.concentration_ng_per_ml))
    return tuple(kept), tuple(gone)


def shadowed_nl(shadows: tuple[Shadow, ...], drug: str, start_nl: int, end_nl: int) -> int:
    """How much of ``[start_nl, end_nl)`` from the tip ``shadows`` of drugs other than ``drug``
    may hold (overlapping shadows counted each: never less)."""
    return sum(
        max(0, min(end_nl, s.start_nl + s.volume_nl) - max(start_nl, s.start_nl))
        for s in shadows
        if s.drug != drug
    )
