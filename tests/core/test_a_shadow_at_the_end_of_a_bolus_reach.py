"""A shadow (fluid the path may hold instead of what it says, after an emergency scan, R-MRI-5)
at the end of a bolus's reach. REQ-TIP-006: the drug a shadow may hold leaves at no more than its
own program's rate; a bolus pushing it out would move it at the bolus's speed, so a shadow of
another drug within the order's reach, or in the nanolitre after it, denies the bolus, naming
that drug (docs/dosing-rules.md#r-mri-5). A shadow of the bolus's own drug does not, nor one two
nanolitres past the order.

Built states: morphine 10 mg/mL at 1 mg/day, the whole path (234,000 nL) morphine; a clinician
bolus of 0.1 mg over 600 s: 10,000 nL exactly when no basal order is in flight and the basal is
already ordered past the bolus; 10,694 nL (with 694 nL of basal) at T0 + 1800 cancelling the
hour's basal order (4,166 nL from T0), which may have moved ceil(4,166 x 1,800 / 3,600) =
2,083 nL by then: that order reaches 12,777 nL from the tip.
"""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import reach

from itdose.core import Library, Phase, dosing
from itdose.core.governor import Reason
from itdose.core.path import FluidPath, Segment
from itdose.core.state import DeliveryKind, Order, Shadow

MG = 1_000_000
DAY = 86_400
HOUR = 3_600
T0 = 7 * DAY + 700  # start_dosing in PATHS[ACTIVE]
HYDRO = "hydromorphone"


def _plan(
    library: Library,
    shadows: tuple[Shadow, ...],
    *segments: Segment,
    in_flight: bool = False,
) -> tuple[tuple[Reason, ...], int, tuple[str, ...]]:
    d = reach(Phase.ACTIVE, library)
    assert d.path == FluidPath((Segment(234_000, "morphine", 10 * MG),))
    orders = (Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 4166),) if in_flight else ()
    d = dataclasses.replace(
        d, orders=orders, next_order_id=3, basal_until_s=T0 + HOUR, shadows=shadows
    )
    if segments:
        d = dataclasses.replace(d, path=FluidPath(segments))
    plan = dosing.clinician_plan(d, T0 + 1800 if in_flight else T0 + 1, library, 100_000, 600)
    return plan.decision.reasons, plan.volume_nl, plan.in_the_way


REFUSED = (Reason.NOT_DELIVERING,)


@pytest.mark.parametrize(
    ("start_nl", "refused"),
    [
        pytest.param(9_999, True, id="its-last-nanolitre"),
        pytest.param(10_000, True, id="the-nanolitre-after-it"),
        pytest.param(10_001, False, id="two-nanolitres-past-it"),
    ],
)
def test_a_shadow_of_another_drug_at_the_end_of_a_bolus_denies_it(
    library: Library, start_nl: int, refused: bool
) -> None:
    """REQ-TIP-006, R-MRI-5: a nanolitre that may hold hydromorphone (2 mg/mL) in the last
    nanolitre of the 10,000 nL bolus or in the one after it: refused as not deliverable, naming
    hydromorphone; one more nanolitre on: granted."""
    shadow = (Shadow(start_nl, 1, HYDRO, 2 * MG),)
    assert _plan(library, shadow) == ((REFUSED, 10_000, (HYDRO,)) if refused else ((), 10_000, ()))


def test_a_shadow_of_the_bolus_drug_does_not_deny_it(library: Library) -> None:
    """REQ-TIP-006, R-MRI-5: the path holds 10,000 nL of morphine at the tip, then 1,000 nL of
    hydromorphone that may be morphine (a shadow of morphine at up to 10 mg/mL there), then
    morphine: the 10,000 nL bolus pushes out morphine alone, and the morphine the shadow may hold
    is the bolus's own drug: granted."""
    path = (
        Segment(10_000, "morphine", 10 * MG),
        Segment(1_000, HYDRO, 2 * MG),
        Segment(223_000, "morphine", 10 * MG),
    )
    shadow = (Shadow(10_000, 1_000, "morphine", 10 * MG),)
    assert _plan(library, shadow, *path) == ((), 10_000, ())


def test_a_shadow_behind_what_a_cancelled_order_may_have_moved_denies_the_bolus(
    library: Library,
) -> None:
    """REQ-TIP-006, R-MRI-5: cancelling the hour's basal order at T0 + 1800, the bolus (10,694 nL)
    comes after the 2,083 nL that order may have moved: a shadow of hydromorphone at 12,000 nL
    from the tip is within its reach (refused, naming it); at 12,778 nL, two nanolitres past the
    order, it is not (granted)."""
    inside = (Shadow(12_000, 1, HYDRO, 2 * MG),)
    past = (Shadow(12_778, 1, HYDRO, 2 * MG),)
    assert _plan(library, inside, in_flight=True) == (REFUSED, 10_694, (HYDRO,))
    assert _plan(library, past, in_flight=True) == ((), 10_694, ())
