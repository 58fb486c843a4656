"""After a drug change the old program's daily dose (its flush dose, docs/dosing-rules.md#r-tip-2)
is kept while the fluid path still holds the old drug, and dropped by the drive report that
pushes the last of it out of the tip (REQ-TIP-003). The kit's active morphine device
(10 mg/mL), its path holding 1000 nL of hydromorphone 2 mg/mL at the tip, then morphine; one
hourly order of 3600 nL."""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import reach

from itdose.core import Library
from itdose.core.dosing import apply_report
from itdose.core.path import FluidPath, Segment
from itdose.core.state import DeliveryKind, FlushDose, Order, Phase, check_consistent

MG = 1_000_000
FLUSH = FlushDose("hydromorphone", 4 * MG)


@pytest.mark.parametrize(
    ("moved_nl", "unsure_nl", "kept"),
    [(600, 0, (FLUSH,)), (999, 0, (FLUSH,)), (1000, 0, ()), (1000, 10, (FLUSH,)), (1010, 10, ())],
)
def test_a_flush_dose_is_kept_while_its_drug_is_in_the_path(
    library: Library, moved_nl: int, unsure_nl: int, kept: tuple[FlushDose, ...]
) -> None:
    """REQ-TIP-003, REQ-TIP-006: reports of 600 and 999 nL leave 400 nL and 1 nL of
    hydromorphone in the path, and its flush dose with it; 1000 nL push the last of it out, and
    the flush dose goes. A report that is an upper bound by 10 nL (R-TIP-6): at 1000 nL the
    last 10 nL of hydromorphone may not have left (a shadow holds them), and its flush dose is
    kept; at 1010 nL it has left within the doubt too, and goes."""
    d = reach(Phase.ACTIVE, library)
    assert d.path is not None
    dead = d.path.volume_nl
    path = FluidPath(
        (Segment(1000, "hydromorphone", 2 * MG), Segment(dead - 1000, "morphine", 10 * MG))
    )
    start = d.clock_s or 0
    order = Order(d.next_order_id, DeliveryKind.BASAL, start, start + 3600, 3600)
    d = dataclasses.replace(
        d, path=path, flush_doses=(FLUSH,), orders=(order,), next_order_id=order.id + 1
    )
    check_consistent(d)
    d, _ = apply_report(d, order.id, moved_nl, False, start + 3600, unsure_nl)
    assert d.flush_doses == kept
