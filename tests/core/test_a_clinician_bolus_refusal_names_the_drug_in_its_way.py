"""The refusal of a clinician bolus that another drug may still reach the tip before names that
drug and says to give the bolus once it has left (docs/dosing-rules.md#r-mri-5,
core/handlers/dosing.py): the text must name a drug the path or a shadow holds, never appear
where none does, and (the clinician acts on it) name it only where that drug is what stops the
bolus: waiting for it to leave must be what lets the bolus through.

Morphine 25 mg/mL at 10 mg/day refilled with hydromorphone 2 mg/mL at 5 mg/day and, 600 s
later, morphine again: two hours on the path holds morphine, a 2,777 nL hydromorphone slug
214,557 nL from the tip, and morphine behind it; the program is morphine's.
"""

from __future__ import annotations

import dataclasses

import pytest
from itdose_physics import DAY_S, MG, Bench, implanted_and_dosing, refill
from itdose_testkit import reach
from late_reports import LateCutReports

from itdose.core import DosingError, Library, LimitViolation, Phase, Role, step
from itdose.core import commands as c
from itdose.core.effects import DeliveryOrder
from itdose.core.path import FluidPath, Segment, drugs_in
from itdose.core.program import Basal, Program
from itdose.core.state import Shadow

C = Role.CLINICIAN
MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(10 * MG), None, "opioid-tolerant")
HYDROMORPHONE = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(5 * MG), None, None)
WAIT = "may still leave the catheter tip first"


def _there_and_back(b: Bench, hours: int = 2) -> int:
    """Morphine, hydromorphone, morphine 600 s later; ``hours`` on. Returns the first refill."""
    t0 = implanted_and_dosing(b, MORPHINE)
    t1 = t0 + DAY_S
    refill(b, t1, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
    refill(b, t1 + 600, 25 * MG, program=MORPHINE, drug="morphine")
    b.advance(t1 + hours * 3600)
    return t1


def _answer(b: Bench, dose_ng: int) -> str:
    """The refusal text of a clinician bolus of ``dose_ng`` over 300 s asked now ('' granted)."""
    out = b.attempt(c.ClinicianBolus(C, dose_ng, 300))
    if isinstance(out, DosingError):
        return str(out)
    assert any(isinstance(e, DeliveryOrder) for e in out.effects)
    return ""


def test_a_bolus_the_old_drug_at_the_tip_stops_names_it(library: Library) -> None:
    """Hydromorphone's program just after the refill: morphine fills the path; the clinician's
    hydromorphone bolus is refused naming morphine (held), and to wait for it."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, MORPHINE)
    refill(b, t0 + DAY_S, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
    b.advance(b.now + 600)
    why = _answer(b, MG // 2)
    assert (
        f"morphine {WAIT} (the fluid path or a shadow of it holds it): give the clinician bolus "
        "once it has left" in why
    )
    assert "hydromorphone" not in why.split(WAIT)[0].split(": ")[-1]


def test_no_other_drug_held_no_such_text(library: Library) -> None:
    """A day after the drug change and back, the path holds morphine only: a bolus under a
    nanolitre (10 ng) is refused, and the text names no drug to wait for."""
    b = Bench(library)
    _there_and_back(b, hours=30)
    assert drugs_in(b.device.path.segments) == ("morphine",) and not b.device.shadows
    why = _answer(b, 10)
    assert "not_delivering" in why and WAIT not in why


def test_a_bolus_short_of_the_slug_is_granted(library: Library) -> None:
    """The slug far from the tip does not stop a 100 mcg bolus (5,389 nL): granted at once."""
    b = Bench(library)
    _there_and_back(b)
    path = [(s.drug, s.volume_nl) for s in b.device.path.segments]
    assert path[:2] == [("morphine", 214_557), ("hydromorphone", 2777)]
    assert _answer(b, 100_000) == ""


def test_a_bolus_under_a_nanolitre_is_not_told_to_wait_for_a_far_drug(library: Library) -> None:
    """A 10 ng bolus (0.4 nL) while the hydromorphone slug is 214,557 nL from the tip: refused
    (under a nanolitre), and the text does not name hydromorphone as what to wait for (it did
    before the text was built from the drugs within the bolus's reach)."""
    b = Bench(library)
    _there_and_back(b)
    why = _answer(b, 10)
    assert "not_delivering" in why
    assert WAIT not in why, why


def test_a_bolus_waiting_for_a_report_is_not_told_to_wait_for_a_far_drug(
    library: Library,
) -> None:
    """A 100 mcg bolus granted (it cuts the basal order, whose report comes 1000 s later); when
    it has ended, another is refused (a cut order unreported, two drugs in the path): the text
    does not name hydromorphone, which lies far beyond its reach; the report in, the same bolus
    is granted with the slug still in the path (the text named hydromorphone before it was built
    from the drugs within the bolus's reach)."""
    b = LateCutReports(library)
    b.pending = []
    _there_and_back(b)
    b.delay_s = 1000
    assert _answer(b, 100_000) == ""
    b.advance(b.now + 400)
    assert b.pending and any(o.cut_s for o in b.device.orders)
    why = _answer(b, 100_000)
    b.advance(b.now + 1000)
    assert "hydromorphone" in drugs_in(b.device.path.segments)
    assert _answer(b, 100_000) == ""
    assert why and WAIT not in why, why


def test_two_drugs_in_the_way_are_both_named(library: Library) -> None:
    """Built state: morphine 10 mg/mL (the program's), the path holding 5,000 nL of morphine at
    the tip, 1,000 nL of hydromorphone, then morphine, and a shadow that may hold ziconotide
    3,000 nL from the tip: a clinician bolus of 0.1 mg (10,000 nL) pushes both out, and the
    refusal names the two, joined by "and", and says to wait for them."""
    d = reach(Phase.ACTIVE, library)
    d = dataclasses.replace(
        d,
        orders=(),
        basal_until_s=(d.clock_s or 0) + 7200,
        path=FluidPath(
            (
                Segment(5_000, "morphine", 10 * MG),
                Segment(1_000, "hydromorphone", 2 * MG),
                Segment(228_000, "morphine", 10 * MG),
            )
        ),
        shadows=(Shadow(3_000, 100, "ziconotide", 100_000),),
    )
    with pytest.raises(LimitViolation) as refused:
        step(d, c.ClinicianBolus(C, 100_000, 600), (d.clock_s or 0) + 1, library)
    assert (
        f"hydromorphone and ziconotide {WAIT} (the fluid path or a shadow of it holds it): give "
        "the clinician bolus once it has left" in str(refused.value)
    )
