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
from dataclasses import dataclass

from itdose.core.path import NO_DRUG, Segment
from itdose.core.state import Shadow


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
