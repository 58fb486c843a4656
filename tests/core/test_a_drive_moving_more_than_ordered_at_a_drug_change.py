"""A drive that moves 1 % more than each basal order from the change of drug on (faster than its
pace: it breaks the trust SAFETY.md states) is caught at its first report after the change with
the HIGH delivery-deviation alarm, and delivery stops: no runaway, also with a reset whose doubt
leaves a shadow of the old drug (R-TIP-6, REQ-TIP-004, REQ-GOV-002).

Morphine 25 mg/mL at its 20 mg maximum changed to hydromorphone 2 mg/mL at its 10 mg maximum.
Judged from what the drive moved by the FIFO reference (tests/itdose_physics.py): what the drive
moved beyond the maximum before it was caught is at most its 1 % of the order it moved (an hour's
order of morphine, 333.34 nL at 25 mg/mL, 8,333.5 ng); measured 8,333.17 ng over 20 mg at most
(the core cannot know before the report; the drive's fault, not the core's).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from drug_change_kit import ARRIVAL_S, HYDROMORPHONE, OverBench, changed
from itdose_physics import DAY_S, HOUR_S, IMPLANT_AT, MG, window_extremes

from itdose.core import Library, Phase

A = ARRIVAL_S
RESETS = {
    "none": (),
    "30 min before the arrival": (A - 1800,),
    "30 s before": (A - 30,),
    "30 s after": (A + 30,),
    "twice": (A - 3600, A - 30),
}
CHANGED_AT = IMPLANT_AT + 700 + DAY_S
"""The refill (dosing starts 700 s after the implant, the refill a day later): the drive keeps
its trust in the orders before it."""


@pytest.mark.parametrize("poll_every_s", [None, 600], ids=["reports at the end", "polled"])
@pytest.mark.parametrize("resets", sorted(RESETS))
def test_a_drive_ahead_after_the_change_is_caught_and_stopped(
    library: Library, resets: str, poll_every_s: int | None
) -> None:
    """REQ-TIP-004, REQ-GOV-002."""
    b = OverBench(library, poll_every_s=poll_every_s, from_s=CHANGED_AT)
    t1 = changed(b, ((0, HYDROMORPHONE),), RESETS[resets])
    assert t1 == CHANGED_AT
    assert not b.anomalies
    raised = [t for t, _, _, alarms in b.phases if "delivery_deviation" in alarms]
    assert raised and raised[0] <= t1 + A + 2 * HOUR_S, raised[:1]
    assert b.device.phase is Phase.ALARM and not b.running
    tip = b.tip()
    assert window_extremes(tip, "morphine").max_ng <= 20 * MG + Fraction(33_334 * 25, 100)
    assert window_extremes(tip, "hydromorphone").max_ng <= 10 * MG
    assert sum(p.volume_nl for p in b.pushes if p.t0 > raised[0]) == Fraction(0)
