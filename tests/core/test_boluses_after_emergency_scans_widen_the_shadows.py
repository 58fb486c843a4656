"""Emergency scans (R-MRI-5) during a drug change, two or three of them, ten minutes long, each
widening the shadows of the old drug by up to 10 uL so that they add up over the 10 uL a bolus
may push out unsized; with or without a change back to the first drug 600 s after the first
refill (the hydromorphone then a 2,777 nL slug between two morphine fluids); each scan pushing
out nothing or the labelled 10 uL. Boluses are asked for every 120 s from before the first scan
to eight hours after the new drug's arrival (the clinician's of hydromorphone, or the patient's
after the change back). Judged from what the drive moved by the FIFO reference
(tests/shadow_bolus_kit.py), REQ-TIP-006, REQ-MRI-006, REQ-GOV-002:

- no bolus granted while another drug lay in the shadows (any of it within a bolus's reach
  denies it, docs/dosing-rules.md#r-mri-5);
- no bolus order lets more than a nanolitre of another drug leave the tip;
- each drug's 24 h windows within its maximum (above it only by the scans' own dump);
- no bolus denied as not deliverable with nothing in its way, and one granted within eight hours
  of the arrival (measured: within 56 min of it, once the shadows had left).

Measured: the shadows of the other drug up to 20,000 nL; while a shadow of under 10 uL still let
a bolus through, at most 6,678 nL of morphine left the tip under a hydromorphone bolus (a scan's
shadow); since, at most a nanolitre.
"""

from __future__ import annotations

import pytest
from shadow_bolus_kit import (
    ARRIVAL_S,
    SHADOW_NL,
    day_faults,
    denied_with_nothing_in_the_way,
    history,
    other_drug_nl_in_boluses,
)

from itdose.core import Library

A = ARRIVAL_S
SCANS = {
    "two before the arrival": (A - 3000, A - 2000),
    "three before the arrival": (A - 3000, A - 2000, A - 1000),
    "around the arrival": (A - 1500, A - 700, A + 100),
    "two before, one after": (A - 4000, A - 3000, A + 300),
}


@pytest.mark.parametrize("scan_nl", [0, 10_000], ids=["scans moving nothing", "10 uL each"])
@pytest.mark.parametrize("scans", list(SCANS.values()), ids=list(SCANS))
@pytest.mark.parametrize("back_s", [None, 600], ids=["hydromorphone", "and back to morphine"])
def test_boluses_while_scans_widen_the_shadows(
    library: Library, back_s: int | None, scans: tuple[int, ...], scan_nl: int
) -> None:
    """See the module doc."""
    h = history(
        library,
        back_s=back_s,
        scans=scans,
        scan_nl=scan_nl,
        scan_s=600,
        clinician=back_s is None,
        start_s=A - 4200,
        every_s=120,
        stop_s=A + 8 * 3600,
    )
    assert h.scans == len(scans)
    assert not [a for a in h.asked if a.order_id and a.other_shadow_nl > 0]
    most, when = other_drug_nl_in_boluses(h)
    assert most <= 1, (float(most), when)
    faults = day_faults(h)
    assert not faults, faults
    assert not denied_with_nothing_in_the_way(h)
    assert any(a.order_id and a.at - h.refill_s >= A for a in h.asked)


def test_the_scans_add_the_shadows_up_over_10_ul(library: Library) -> None:
    """The case the module is for is met: three scans before the arrival widen the morphine
    shadows over 10 uL (measured: 12,604 nL), and the boluses asked for meanwhile are refused."""
    h = history(
        library,
        scans=SCANS["three before the arrival"],
        scan_s=600,
        clinician=True,
        start_s=A - 4200,
        every_s=120,
        stop_s=A + 8 * 3600,
    )
    wide = [a for a in h.asked if a.other_shadow_nl > SHADOW_NL]
    assert wide and all(a.order_id is None for a in wide)
