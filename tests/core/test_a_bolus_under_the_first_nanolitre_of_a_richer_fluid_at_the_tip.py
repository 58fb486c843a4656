"""A bolus smaller than the first nanolitre at the tip, where that nanolitre is a richer fluid than
the one right behind it (the last of the old fluid after a refill at a lower concentration): the
largest volume whose drug is at most the dose is no volume, so it is refused as not deliverable
(REQ-GOV-010: "a rejected command raises a documented error and leaves the state unchanged"),
like any bolus under one nanolitre (docs/dosing-rules.md#r-tip-2).

Built state: morphine, program and reservoir at 20 mg/mL (20 ng a nanolitre), the path holding
1 nL of 25 mg/mL at the tip, then 20 mg/mL; no order in flight, the basal already ordered past
the bolus. A dose of 20 to 24 ng reaches, sized at the leaner fluid, a second nanolitre (20 ng
and up), so the path within its reach holds two concentrations, and the first nanolitre alone
(25 ng) already holds more than the dose. Found by mutation of core/bolus.py (the reach one
nanolitre longer, `_plan_with` 156): before the fix the plan of such a bolus raised a bare
ValueError from the order's flows across the fluids (an order of no volume).
"""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import C, reach

from itdose.core import Device, Library, LimitViolation, Phase, step
from itdose.core import commands as c
from itdose.core.governor import Reason
from itdose.core.path import FluidPath, Segment

MG = 1_000_000
DAY = 86_400
HOUR = 3_600
T0 = 7 * DAY + 700  # start_dosing in PATHS[ACTIVE]


def _at_the_last_nanolitre_of_the_richer_fluid(library: Library) -> Device:
    d = reach(Phase.ACTIVE, library)
    assert d.program is not None and d.reservoir is not None
    return dataclasses.replace(
        d,
        path=FluidPath((Segment(1, "morphine", 25 * MG), Segment(233_999, "morphine", 20 * MG))),
        program=dataclasses.replace(d.program, concentration_ng_per_ml=20 * MG),
        reservoir=dataclasses.replace(d.reservoir, concentration_ng_per_ml=20 * MG),
        orders=(),
        next_order_id=3,
        basal_until_s=T0 + 2 * HOUR,
    )


@pytest.mark.parametrize("dose_ng", [5, 19, 20, 24])
def test_a_clinician_bolus_under_the_first_nanolitre_is_refused(
    library: Library, dose_ng: int
) -> None:
    """REQ-GOV-010: refused with the documented error, for the dose, not deliverable."""
    d = _at_the_last_nanolitre_of_the_richer_fluid(library)
    with pytest.raises(LimitViolation) as refused:
        step(d, c.ClinicianBolus(C, dose_ng=dose_ng, duration_s=600), T0 + 1800, library)
    assert refused.value.field == "command.dose_ng"
    assert Reason.NOT_DELIVERING.value in str(refused.value)


@pytest.mark.parametrize(("dose_ng", "volume_nl"), [(25, 1), (44, 1), (45, 2)])
def test_a_clinician_bolus_of_the_first_nanolitre_or_more_is_granted(
    library: Library, dose_ng: int, volume_nl: int
) -> None:
    """REQ-GOV-008: 25 ng is the first nanolitre exactly; 45 ng the first two (25 + 20)."""
    d = _at_the_last_nanolitre_of_the_richer_fluid(library)
    out = step(d, c.ClinicianBolus(C, dose_ng=dose_ng, duration_s=600), T0 + 1800, library)
    (order,) = [o for o in out.device.orders]
    assert order.volume_nl == volume_nl
