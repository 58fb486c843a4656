"""A bolus while a shadow (R-TIP-6) still holds the old drug after a drug change: what it pushes
out of the tip, judged drug by drug from what the drive moved by the FIFO reference
(tests/itdose_physics.py). REQ-TIP-006 says the drug a shadow holds "leaves at no more than its
own program's rate"; R-MRI-5 says the governor's caps read the path alone ("an order is not sized
for a shadow's drug's limit, at most 10 uL of it"), and a shadow a drive's doubt leaves can be
larger than 10 uL.

Morphine 25 mg/mL at 10 mg/day (16,667 nL/h, with a patient bolus of 1 mg) refilled with
hydromorphone 2 mg/mL at 5 mg/day (room under both maxima for a bolus); the drive resets an
hour before the hydromorphone would reach the tip, the order reported whole at its end with the
doubt the real lag: 16,010 nL of morphine may still be in the path (a shadow), the path itself
all hydromorphone once the morphine the model holds has left. A bolus asked for then would push
that morphine out at the bolus's speed: it is denied while more of another drug than the 10 uL
an order may push out unsized (R-MRI-5) lies in a shadow within its reach, as morphine at the tip
in the path denies it (``not_delivering``), and granted once the shadow has left. Found (before
the shadows were read): a clinician bolus of 1 mg of hydromorphone pushed 416,925 ng of morphine
out in 10 min against the old program's 69,444.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import pytest
from drug_change_kit import busiest
from itdose_physics import DAY_S, MG, Cumulative, implanted_and_dosing, refill, window_extremes
from reset_bench import ResetBench
from shadow_bolus_kit import ARRIVAL_S, CAPS, HYDROMORPHONE, MORPHINE

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision, DeliveryOrder, Effect
from itdose.core.governor import Reason
from itdose.core.path import drugs_in

C, P = Role.CLINICIAN, Role.PATIENT
SPAN_S = 600


@dataclass
class History:
    """What :func:`_bolus_through_the_shadow` saw: the bench, the refill's instant, the
    attempts denied while a shadow held another drug (instant, reasons) and the first grant."""

    bench: ResetBench
    refill_s: int
    denied: list[tuple[int, str]] = field(default_factory=list)
    given_s: int = 0


def _reasons(effects: tuple[Effect, ...]) -> str:
    """The reasons of the bolus decision among ``effects``."""
    return " ".join(r.value for e in effects if isinstance(e, BolusDecision) for r in e.reasons)


def _bolus_through_the_shadow(library: Library, back: bool) -> History:
    """Morphine, then hydromorphone (and with ``back`` morphine again 10 min later), a reset an
    hour before the hydromorphone's arrival: a bolus of the program's drug (clinician 1 mg of
    hydromorphone, or after the change back the patient's own) asked every 300 s from the first
    instant a shadow holds another drug than the program's, until one is granted."""
    b = ResetBench(library, mode="uniform")
    t0 = implanted_and_dosing(b, MORPHINE)
    t1 = t0 + DAY_S
    refill(b, t1, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
    if back:
        refill(b, t1 + 600, 25 * MG, program=MORPHINE, drug="morphine")
    b.resets = [t1 + ARRIVAL_S - 3600]
    h = History(b, t1)
    t, shadowed = t1 + ARRIVAL_S - 3600, False
    while not h.given_s and t < t1 + ARRIVAL_S + 12 * 3600:
        t += 300
        b.advance(t)
        program = b.device.program
        assert program is not None
        other = any(s.drug != program.drug for s in b.device.shadows)
        shadowed = shadowed or other
        if not shadowed:
            continue
        command = c.RequestBolus(P) if back else c.ClinicianBolus(C, MG, SPAN_S)
        out = b.attempt(command)
        effects = () if isinstance(out, Exception) else out.effects
        if any(isinstance(e, DeliveryOrder) for e in effects):
            h.given_s = t
        elif other and drugs_in(b.device.path.segments) == (program.drug,):
            why = str(out) if isinstance(out, Exception) else _reasons(effects)
            h.denied.append((t, why))
    b.advance(t1 + 2 * DAY_S)
    assert not b.anomalies
    return h


@pytest.mark.parametrize("back", [False, True], ids=["clinician", "patient after the change back"])
def test_each_drug_stays_under_its_maximum(library: Library, back: bool) -> None:
    """REQ-GOV-002, REQ-TIP-006: boluses asked for while a shadow held the other drug, one granted
    in the end, and no 24 h window of either drug exceeds its hard maximum."""
    h = _bolus_through_the_shadow(library, back)
    assert h.given_s
    tip = h.bench.tip()
    for drug, cap in CAPS.items():
        assert window_extremes(tip, drug).max_ng <= cap, drug


def test_a_bolus_waits_while_the_old_drug_may_be_at_the_tip(library: Library) -> None:
    """REQ-TIP-006, R-MRI-5: while the 16,010 nL morphine shadow lies within its reach (the path
    all hydromorphone), the hydromorphone bolus is denied as not deliverable (asked every 300 s),
    and granted once the shadow has left."""
    h = _bolus_through_the_shadow(library, back=False)
    assert h.denied, "no bolus was asked for while the shadow held morphine"
    assert all(Reason.NOT_DELIVERING.value in why for _, why in h.denied), h.denied
    # the clinician is told why, and what to wait for
    assert all("morphine may still leave the catheter tip" in why for _, why in h.denied)
    assert h.given_s > h.denied[-1][0]
    assert not any(s.drug == "morphine" for s in h.bench.device.shadows)


def test_the_old_drug_in_a_shadow_leaves_no_faster_with_a_bolus(library: Library) -> None:
    """REQ-TIP-006 ("another drug within reach is held by a shadow ... and leaves at no more than
    its own program's rate"), judged by the FIFO reference on what the drive moved: the busiest
    10 min of morphine from the refill on holds no more than the old program's 10 mg/day over
    10 min (69,444 ng) and a nanolitre at each end. Before: 416,925 ng (the bolus granted 300 s
    after the path in the model held no morphine, pushing the shadow out at its speed)."""
    h = _bolus_through_the_shadow(library, back=False)
    assert h.given_s
    most = busiest(Cumulative(h.bench.tip(), "morphine"), SPAN_S, h.refill_s)
    bound = Fraction(10 * MG * SPAN_S, DAY_S) + 2 * 25
    assert most <= bound, float(most)
