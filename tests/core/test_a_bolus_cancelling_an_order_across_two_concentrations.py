"""A patient bolus that cancels a basal order running across two concentrations of the drug (the
last nanolitre of the old one and the new one behind it) is delivered at the tip in full, with
the basal around it, and never over the dose (REQ-TIP-004, REQ-TIP-002, REQ-GOV-008), judged by
the minimal first-in-first-out reference (tests/fifo_window_reference.py) from the drive's record
alone.

Morphine at 5 mg/day with 1 mg patient boluses over 5 min on a Prometra II with the Prometra
catheter trimmed 20 cm (dead volume 0.234 mL). Two days after dosing starts the reservoir is
refilled from 10 to 25 mg/mL at the same daily dose. Eleven hours later the core orders the last
4 833 nL of the 10 mg/mL fluid as its own order; the drive moves one nanolitre less and says so.
That nanolitre goes with the 25 mg/mL fluid behind it in the next hourly order (one order across
the boundary, rather than one-nanolitre orders chasing it: ``MIN_RUN_NL``). A bolus ten minutes
into that order cancels it: the rest of it lies in two fluids, so no basal beyond its pace line
is carried for it (``bolus._cancelled_debt``), and the bolus is sized for the two fluids within
its reach. Over the two days after the request the tip must deliver the basal (10 mg) and the
dose (1 mg): measured 26 ng short, within the 100 ng the other boluses during a concentration
change are allowed (tests/core/test_bolus_during_a_concentration_change.py: the basal order a
bolus cancels stops on a whole nanolitre).
"""

from __future__ import annotations

from fractions import Fraction

from fifo_window_reference import moved_by, tip, window_at, windows
from itdose_physics import DAY_S, HOUR_S, MG, Bench, implanted_and_dosing, refill

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision, DeliveryOrder
from itdose.core.path import Segment
from itdose.core.program import Basal, PatientBolusProgram, Program

P = Role.PATIENT
BOLUS = PatientBolusProgram(dose_ng=MG, duration_s=300, lockout_s=1800, max_per_24h=6)
AT_10 = Program("morphine", "pain", 10 * MG, Basal.continuous(5 * MG), BOLUS, "opioid-tolerant")
AT_25 = Program("morphine", "pain", 25 * MG, Basal.continuous(5 * MG), BOLUS, "opioid-tolerant")
ALLOWANCE_NG = 100


def test_a_bolus_cancelling_an_order_across_two_concentrations_is_delivered_in_full(
    library: Library,
) -> None:
    """REQ-TIP-004, REQ-TIP-002, REQ-GOV-008: the bolus is granted; over the two days after the
    request the tip delivers the basal and the dose in full (never more than both and a
    nanolitre of each fluid), no 24 h window over the hard maximum, and nothing withheld."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, AT_10)
    t_refill = t0 + 2 * DAY_S
    refill(b, t_refill, 25 * MG, program=AT_25)
    b.advance(t_refill + 11 * HOUR_S + 100)
    (last,) = b.running.values()
    assert b.device.path is not None
    assert b.device.path.segments[0] == Segment(last.order.volume_nl, "morphine", 10 * MG)
    # the drive moves one nanolitre less of the old fluid's last order, and reports it
    b.delivers = Fraction(last.order.volume_nl - 1, last.order.volume_nl)
    b.advance(last.end)
    b.delivers = Fraction(1)
    assert b.device.path.segments[0] == Segment(1, "morphine", 10 * MG)
    (across,) = b.device.orders
    assert across.volume_nl > 1 and across.end_s - across.start_s == HOUR_S
    t_bolus = across.start_s + 600
    out = b.submit(c.RequestBolus(P), t_bolus)
    (decision,) = [e for e in out.effects if isinstance(e, BolusDecision)]
    assert decision.granted and decision.reasons == ()
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    assert order.kind == "patient_bolus"
    assert all(o.id != across.id for o in b.device.orders)  # the order across is cancelled
    b.advance(t_bolus + 3 * DAY_S)
    assert not b.anomalies and not b.device.alarms
    pieces = tip(b.dead_volume_nl or 0, moved_by(b.pushes))
    end = Fraction(t_bolus + 2 * DAY_S)
    got = window_at(pieces, "morphine", end) + window_at(pieces, "morphine", end - DAY_S)
    expected = 10 * MG + MG
    assert expected - ALLOWANCE_NG <= got < expected + 10 + 25, float(got - expected)
    largest, _ = windows(pieces, "morphine")
    assert largest is not None and largest[0] <= 20 * MG, float(largest[0])
