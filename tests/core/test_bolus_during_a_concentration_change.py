"""A patient bolus granted while the fluid path holds two concentrations of the drug is delivered
at the tip in full, with the basal carried inside its order (REQ-TIP-004, REQ-GOV-008), judged by
the independent FIFO reference (tests/itdose_physics.py), not by the core's accounting.

Morphine at 5 mg/day with 1 mg patient boluses over 5 min (lockout 30 min, 6 per 24 h) on a
Prometra II with the Prometra catheter trimmed 20 cm (dead volume 0.234 mL). Two days after
dosing starts the reservoir is refilled at the other concentration (10 -> 25 mg/mL, or 25 -> 10
mg/mL) with the same daily dose; one bolus is requested some hours later and granted. Over the
two days after the request the tip must deliver the basal (10 mg) plus the granted dose (1 mg):
R-TIP-2 applies bolus doses at the tip, R-TIP-4 delivers an accepted program in full. Allowance:
100 ng (the basal order a bolus cancels stops on a whole nanolitre; the same bolus with one
concentration in the path, the controls, is 50 ng short).
"""

from __future__ import annotations

import copy
from fractions import Fraction

import pytest
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Bench,
    Cumulative,
    Segment,
    implanted_and_dosing,
    refill,
    sweep,
)

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision, DeliveryOrder
from itdose.core.program import Basal, PatientBolusProgram, Program

P = Role.PATIENT
BOLUS = PatientBolusProgram(dose_ng=MG, duration_s=300, lockout_s=1800, max_per_24h=6)
AT_10 = Program("morphine", "pain", 10 * MG, Basal.continuous(5 * MG), BOLUS, "opioid-tolerant")
AT_25 = Program("morphine", "pain", 25 * MG, Basal.continuous(5 * MG), BOLUS, "opioid-tolerant")
ALLOWANCE_NG = 100


def _tip_after_bolus(library: Library, before: Program, after: Program, delay_s: int) -> Fraction:
    b = Bench(library)
    t0 = implanted_and_dosing(b, before)
    t_refill = t0 + 2 * DAY_S
    refill(b, t_refill, after.concentration_ng_per_ml, program=after)
    t_bolus = t_refill + delay_s
    out = b.submit(c.RequestBolus(P), t_bolus)
    (decision,) = [e for e in out.effects if isinstance(e, BolusDecision)]
    assert decision.granted, decision
    b.advance(t_bolus + 3 * DAY_S)
    assert not b.anomalies
    tip = Cumulative(b.tip(), "morphine")
    return tip.at(Fraction(t_bolus + 2 * DAY_S)) - tip.at(Fraction(t_bolus))


def _flush(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)


@pytest.mark.parametrize(
    ("before", "after", "delay_s"),
    [
        pytest.param(AT_10, AT_25, 3 * HOUR_S, id="10-to-25-path-all-lean"),
        pytest.param(AT_10, AT_25, 12 * HOUR_S, id="10-to-25-flushed"),
        pytest.param(AT_25, AT_10, 20 * HOUR_S, id="25-to-10-path-all-rich"),
        # the bolus order crosses the boundary of the two fluids: sized to the path's contents,
        # not at the richer concentration (before: 610 475 ng and 475 410 ng short, silently)
        pytest.param(AT_10, AT_25, 9 * HOUR_S, id="10-to-25-bolus-pushes-the-old-fluid"),
        pytest.param(AT_25, AT_10, 27 * HOUR_S, id="25-to-10-bolus-reaches-the-new-fluid"),
        # half an hour into the basal order it cancels: the richer fluid lies behind, so the
        # order is sized as if that basal order had moved all its pace allows (the most drug)
        pytest.param(
            AT_10, AT_25, 9 * HOUR_S + 1800, id="10-to-25-mid-order-bolus-pushes-the-old-fluid"
        ),
        pytest.param(
            AT_25,
            AT_10,
            27 * HOUR_S + 1800,
            id="25-to-10-mid-order-bolus-reaches-the-new-fluid",
            marks=_flush(
                "refill 25 -> 10 mg/mL, bolus 27.5 h later, half an hour into an hourly basal "
                "order that it cancels: that order may have moved 0 to 4 167 nL since its last "
                "report, and the bolus is sized for the most drug it can push out (the basal "
                "order stopped at once: more of the richer fluid; the dose is never exceeded). "
                "The drive in fact kept its pace: the tip gets 10 937 505 ng in the 2 days after "
                "the request instead of 11 000 000 ng (62 495 ng short, silently: 15 ng/nL x "
                "4 167 nL; sized at the richer concentration throughout, before, 537 905 ng)"
            ),
        ),
    ],
)
def test_a_bolus_during_a_concentration_change_is_delivered_in_full_at_the_tip(
    before: Program, after: Program, delay_s: int, library: Library
):
    """REQ-TIP-004, REQ-GOV-008: basal + the granted bolus leave the tip in full."""
    got = _tip_after_bolus(library, before, after, delay_s)
    expected = 10 * MG + MG
    assert got <= expected  # never more than the program (sanity of the reference run)
    assert got >= expected - ALLOWANCE_NG, float(got)


@pytest.mark.parametrize(
    ("before", "after", "delay_s"),
    [
        pytest.param(AT_10, AT_25, 9 * HOUR_S, id="10-to-25"),
        pytest.param(AT_25, AT_10, 27 * HOUR_S, id="25-to-10"),
        pytest.param(AT_10, AT_25, 9 * HOUR_S + 1800, id="10-to-25-mid-order"),
        pytest.param(AT_25, AT_10, 27 * HOUR_S + 1800, id="25-to-10-mid-order"),
        pytest.param(AT_25, AT_10, 26 * HOUR_S + 2400, id="25-to-10-mid-order-earlier"),
    ],
)
def test_a_bolus_during_a_concentration_change_never_exceeds_its_dose(
    before: Program, after: Program, delay_s: int, library: Library
):
    """REQ-TIP-002, REQ-GOV-008: the bolus order the core gives pushes out of the tip at most
    the dose plus the basal due during it, wherever the basal order it cancels stopped: any
    volume from nothing to what that order's pace allows by now (the drive may be slower),
    judged on the FIFO reference path (tests/itdose_physics.py), at every shift where the drug
    pushed out can be largest (the ends, and where the shift or the shift plus the order meets
    a boundary of the fluids)."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, before)
    t_refill = t0 + 2 * DAY_S
    refill(b, t_refill, after.concentration_ng_per_ml, program=after)
    t_bolus = t_refill + delay_s
    b.advance(t_bolus)
    ((basal_id, running),) = b.running.items()
    ordered, seconds = running.order.volume_nl, running.end - running.start
    pace = -(-ordered * HOUR_S // seconds)
    most = min(ordered, -(-pace * (t_bolus - running.start) // HOUR_S))
    out = b.probe(c.RequestBolus(P))
    assert not isinstance(out, Exception)
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    assert order.order_id != basal_id and order.duration_s == BOLUS.duration_s
    assert order.volume_nl > 0
    _, path = sweep(b.dead_volume_nl or Fraction(0), b.pushes)
    edges, at = [], Fraction(0)
    for volume, _ in path.contents():
        at += volume
        edges.append(at)
    shifts = {Fraction(0), Fraction(most)} | {
        x for e in edges for x in (e, e - order.volume_nl) if 0 <= x <= most
    }
    allowed = Fraction(BOLUS.dose_ng) + Fraction(5 * MG * BOLUS.duration_s, DAY_S)
    for x in sorted(shifts):
        trial = copy.deepcopy(path)
        for volume in (x, Fraction(order.volume_nl)):
            fluid = running.fluid if volume is x else b.reservoir
            left = trial.push(Segment(volume, fluid.amounts(volume)))
        pushed = sum(s.ng.get("morphine", Fraction(0)) for s in left)
        assert pushed <= allowed, (x, float(pushed), float(allowed))


@pytest.mark.xfail(
    strict=True,
    reason="open core defect (SAFETY.md: 'still sized at the richest (not pinned)'): after "
    "refills 10 -> 25 -> 10 mg/mL 600 s apart, a 25 mg/mL slug lies within reach of a bolus "
    "behind the 10 mg/mL at the tip, the concentration rises then falls within reach and the "
    "basal order it cancels has moved since its last report: the order is sized at 25 mg/mL "
    "(41 388 nL) and pushes out mostly 10 mg/mL. Measured at the tip during the order: "
    "465 960 ng of the 1 034 722 ng due (the 1 mg dose and the basal inside it), 568 762 ng short",
)
def test_a_bolus_with_a_slug_of_richer_fluid_within_reach_is_delivered_in_full(
    library: Library,
):
    """REQ-TIP-004, REQ-GOV-008: a granted bolus delivers its dose at the tip (with the basal
    inside its order) when the path holds 10, 25 and 10 mg/mL within its reach; judged by the
    minimal FIFO reference (tests/fifo_window_reference.py), 100 ng allowance as above."""
    from fifo_window_reference import moved_by, tip

    bolus = PatientBolusProgram(dose_ng=MG, duration_s=600, lockout_s=HOUR_S, max_per_24h=4)
    programs = [
        Program("morphine", "pain", k, Basal.continuous(5 * MG), bolus, "opioid-tolerant")
        for k in (10 * MG, 25 * MG, 10 * MG)
    ]
    b = Bench(library)
    t0 = implanted_and_dosing(b, programs[0], trimmed_mm=200)
    first = t0 + DAY_S + 1234
    refill(b, first, 25 * MG, program=programs[1])
    refill(b, first + 600, 10 * MG, program=programs[2])
    out = b.submit(c.RequestBolus(P), first + 38_000)
    assert [e.granted for e in out.effects if isinstance(e, BolusDecision)] == [True]
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    b.advance(b.now + order.duration_s + HOUR_S)
    assert not b.anomalies
    start, end = Fraction(first + 38_000), Fraction(first + 38_000 + order.duration_s)
    given = sum(
        (p.ng * (min(p.t1, end) - max(p.t0, start)) / (p.t1 - p.t0) if p.t1 > p.t0 else p.ng)
        for p in tip(Fraction(234_000), moved_by(b.pushes))
        if p.drug == "morphine" and p.t0 < end and p.t1 > start
    )
    due = MG + Fraction(5 * MG * order.duration_s, DAY_S)
    assert given >= due - 100, float(due - given)
    assert given <= due + 100, float(given - due)
