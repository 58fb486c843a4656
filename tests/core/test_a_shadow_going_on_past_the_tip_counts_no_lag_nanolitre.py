"""A shadow of the old drug (R-TIP-6, R-MRI-5) that a report pushes partly out of the tip goes
on at the tip: its fluid does not end there, so what left of it is counted once, with no
nanolitre counted again for a drive that may move it later than its pace (that term is for a
fluid that ends: R-TIP-5). The kit's active morphine device (10 mg/mL), its path holding a
shadow of 5000 nL of hydromorphone 2 mg/mL from the tip; one hourly order of 3600 nL reported
whole at its end."""

from __future__ import annotations

import dataclasses

from itdose_testkit import reach

from itdose.core import Library
from itdose.core.dosing import apply_report
from itdose.core.flight import LAG_ORDER_ID
from itdose.core.state import DeliveryKind, Order, Phase, Shadow, check_consistent

MG = 1_000_000


def test_a_shadow_going_on_past_the_tip_counts_what_left_of_it_once(library: Library) -> None:
    """REQ-MRI-006, R-TIP-5: 3600 nL of the 5000 nL shadow leave the tip; the hydromorphone
    ledger holds exactly them (3600 nL x 2 mg/mL) as the order's piece, and no lag piece: the
    1400 nL left of the shadow are at the tip, so the nanolitre after the report is still
    hydromorphone at 2 mg/mL."""
    d = reach(Phase.ACTIVE, library)
    start = d.clock_s or 0
    order = Order(d.next_order_id, DeliveryKind.BASAL, start, start + 3600, 3600)
    shadow = Shadow(0, 5000, "hydromorphone", 2 * MG)
    d = dataclasses.replace(d, shadows=(shadow,), orders=(order,), next_order_id=order.id + 1)
    check_consistent(d)
    d, _ = apply_report(d, order.id, 3600, True, order.end_s)
    assert d.shadows == (Shadow(0, 1400, "hydromorphone", 2 * MG),)
    (book,) = [e.ledger for e in d.other_ledgers if e.drug == "hydromorphone"]
    assert [(p.order_id, p.amount_fg) for p in book.pieces] == [(order.id, 3600 * 2 * MG)]
    assert not [p for p in book.pieces if p.order_id >= LAG_ORDER_ID]
