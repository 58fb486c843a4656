"""Which shadows of another drug a volume pushed out of the tip reaches
(docs/dosing-rules.md#r-mri-5, REQ-MRI-006): a shadow (fluid the path may hold instead of what
it says, after an emergency scan or a report that is an upper bound) lies over ``[start, start +
volume)`` nanolitres from the tip, and a reach ``[start, end)`` meets it when the two ranges
share a nanolitre; a shadow of the bolus's own drug never counts (a bolus denies itself only for
another drug, R-TIP-6). Worked by hand on the half-open ranges; a shadow moved toward the tip by
a push lies that much nearer.
"""

from __future__ import annotations

from itdose.core.path import Segment
from itdose.core.reach import Span, richest_within, shadow_spans, shadows_within, spans_of
from itdose.core.state import Shadow

MG = 1_000_000
OTHER = Shadow(10, 5, "hydromorphone", 2 * MG)  # nanolitres 10 to 14 from the tip
OWN = Shadow(0, 5, "morphine", MG)  # nanolitres 0 to 4, the bolus's own drug


def test_a_reach_meets_a_shadow_of_another_drug_only_where_they_share_a_nanolitre() -> None:
    """REQ-MRI-006: a reach ending where the shadow starts, or starting where it ends, misses
    it; one sharing its first or its last nanolitre meets it; the shadow of the drug itself is
    never returned, wherever the reach."""
    shadows = (OWN, OTHER)
    assert shadows_within(shadows, "morphine", 0, 10) == ()
    assert shadows_within(shadows, "morphine", 15, 20) == ()
    assert shadows_within(shadows, "morphine", 0, 11) == (OTHER,)
    assert shadows_within(shadows, "morphine", 14, 20) == (OTHER,)
    assert shadows_within(shadows, "morphine", 0, 100) == (OTHER,)
    assert shadows_within(shadows, "hydromorphone", 0, 100) == (OWN,)


def test_a_shadow_moved_toward_the_tip_lies_that_much_nearer() -> None:
    """R-MRI-5: ``shadow_spans(shadows, shift)`` lays each shadow out as a span ``shift``
    nanolitres nearer the tip (negative: already out of it), holding the shadow's fluid."""
    fluid = Segment(5, "hydromorphone", 2 * MG)
    assert shadow_spans((OTHER,)) == [Span(10, 15, fluid, True)]
    assert shadow_spans((OTHER,), 3) == [Span(7, 12, fluid, True)]
    assert shadow_spans((OTHER, OWN), 12) == [
        Span(-2, 3, fluid, True),
        Span(-12, -7, Segment(5, "morphine", MG), True),
    ]


def test_a_shadow_kept_through_the_richest_fluid_within_reach_joins_only_where_it_touches() -> None:
    """R-MRI-5: laid out with nothing before or after each place, a path of one fluid with
    shadows of another drug over 10-11, 20-21 and 22-24 nL keeps the path's fluid and two
    shadows of that drug, 10-11 and 20-24: the ranges that touch join, the ones apart stay
    apart."""
    path = spans_of((Segment(100, "morphine", 10 * MG),), 0)
    shadows = (
        Shadow(10, 2, "hydromorphone", 2 * MG),
        Shadow(20, 2, "hydromorphone", 2 * MG),
        Shadow(22, 3, "hydromorphone", 2 * MG),
    )
    lanes, kept = richest_within([*path, *shadow_spans(shadows)], 100, 0, 0)
    assert lanes == (Segment(100, "morphine", 10 * MG),)
    assert kept == (
        Shadow(10, 2, "hydromorphone", 2 * MG),
        Shadow(20, 5, "hydromorphone", 2 * MG),
    )
