"""A refill, or any other stop, while a bolus is in flight (docs/dosing-rules.md#r-bol-5,
REQ-BOL-007, REQ-BOL-008), judged at the catheter tip by the independent FIFO reference
(tests/fifo_window_reference.py, on the drive's record), not by the core's accounting.

Morphine 25 mg/mL, 10 mg/day, patient boluses of 0.5 mg over 600 s (lockout 1 h, 4 per 24 h) on
a Prometra II with the Prometra catheter trimmed 20 cm; one bolus granted two days after dosing
starts. Before the fix a refill 157 s into that bolus stopped it and the rest was never delivered:
the tip received 369 200 ng less than the basal plus the bolus over the two days after the grant
(130 800 ng of the 500 000 ng bolus), with no alarm; a suspension at the same instant lost it the
same way, silently (385 750 ng short with 143 s of suspension).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from fractions import Fraction

import pytest
from fifo_window_reference import Left, moved_by, tip, windows
from hypothesis import given, settings
from hypothesis import strategies as st
from itdose_physics import DAY_S, MG, Bench, implanted_and_dosing, refill

from itdose.core import Library, Outcome, RejectedCommand, Role, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.effects import Annunciate, BolusDecision, DeliveryOrder, Record, StopDelivery
from itdose.core.program import Basal, PatientBolusProgram, Program
from itdose.core.state import Phase
from itdose.core.units import format_volume_nl

C, P, S = Role.CLINICIAN, Role.PATIENT, Role.SERVICE
DURATION_S = 600
HARD_MAX_NG = 20 * MG  # morphine's hard daily maximum (docs/dosing-rules.md#r-lim-3)


def _program(conc: int, basal_ng: int, per_24h: int = 4) -> Program:
    bolus = PatientBolusProgram(
        dose_ng=MG // 2, duration_s=DURATION_S, lockout_s=3600, max_per_24h=per_24h
    )
    return Program("morphine", "pain", conc, Basal.continuous(basal_ng), bolus, "opioid-tolerant")


AT_25 = _program(25 * MG, 10 * MG)
AT_10 = _program(10 * MG, 10 * MG)
# at the hard maximum: 19.5 mg/day and one 0.5 mg bolus a day bring a window to exactly 20 mg
MAX_AT_25 = _program(25 * MG, 19_500_000, per_24h=1)
MAX_AT_10 = _program(10 * MG, 19_500_000, per_24h=1)


def _granted(library: Library, program: Program) -> tuple[Bench, int]:
    """Dosing for two days, then a patient bolus granted: the bench and the grant's instant."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, program)
    granted_at = t0 + 2 * DAY_S
    out = b.submit(c.RequestBolus(P), granted_at)
    (decision,) = [e for e in out.effects if isinstance(e, BolusDecision)]
    assert decision.granted, decision
    return b, granted_at


_BENCHES: dict[Program, tuple[Bench, int]] = {}


def _fresh(library: Library, program: Program) -> tuple[Bench, int]:
    """:func:`_granted`, built once per program and copied (each test drives its own copy)."""
    if program not in _BENCHES:
        _BENCHES[program] = _granted(library, program)
    b, granted_at = _BENCHES[program]
    return copy.deepcopy(b), granted_at


def _morphine(b: Bench) -> list[Left]:
    assert b.dead_volume_nl is not None
    return [p for p in tip(b.dead_volume_nl, moved_by(b.pushes)) if p.drug == "morphine"]


def _left_by(pieces: list[Left], t: Fraction) -> Fraction:
    """Morphine that has left the tip by ``t`` (each piece evenly over its interval)."""
    total = Fraction(0)
    for p in pieces:
        if t >= p.t1:
            total += p.ng
        elif t > p.t0:
            total += p.ng * (t - p.t0) / (p.t1 - p.t0)
    return total


def _two_days_after(b: Bench, granted_at: int) -> Fraction:
    """Morphine leaving the tip over the two days after the grant (the bench run to 3 days)."""
    b.advance(granted_at + 3 * DAY_S)
    assert not b.anomalies, b.anomalies
    pieces = _morphine(b)
    return _left_by(pieces, Fraction(granted_at + 2 * DAY_S)) - _left_by(
        pieces, Fraction(granted_at)
    )


def _due(program: Program) -> int:
    assert program.patient_bolus is not None
    return 2 * program.basal.steps[0].dose_ng_per_day + program.patient_bolus.dose_ng


def _alarms_since(b: Bench, at: int) -> set[str]:
    return {kind for when, _, _, kinds in b.phases if when >= at for kind in kinds}


@pytest.mark.parametrize(
    ("offset_s", "left"), [(0, "10 min"), (1, "9 min 59 s"), (157, "7 min 23 s"), (599, "1 s")]
)
def test_a_refill_cannot_begin_while_a_patient_bolus_is_in_flight(
    offset_s: int, left: str, library: Library
):
    """REQ-BOL-007: begin_refill during the bolus (from its grant to one second before its end)
    is rejected naming the bolus, the instant it ends and the time left, and what to do; the
    device is unchanged."""
    b, granted_at = _fresh(library, AT_25)
    b.advance(granted_at + offset_s)
    before = b.device
    with pytest.raises(RejectedCommand) as err:
        b.submit(c.BeginRefill(C))
    end = granted_at + DURATION_S
    assert (err.value.field, err.value.value, err.value.limit) == (
        "command",
        f"t={granted_at + offset_s} s",
        f">= t={end} s",
    )
    assert err.value.message == (
        f"a patient bolus is in flight until t={end} s ({left} from now): begin the refill when "
        "it ends, or suspend first (the rest of the bolus is then not delivered, and announced)"
    )
    assert b.device is before and b.device.phase is Phase.ACTIVE and b.device.refill is None


def test_a_refill_begins_the_instant_the_bolus_ends(library: Library):
    """REQ-BOL-007: at the bolus order's end the refill is accepted (the boundary is exact)."""
    b, granted_at = _fresh(library, AT_25)
    out = b.submit(c.BeginRefill(C), granted_at + DURATION_S)
    assert b.device.phase is Phase.REFILL
    assert any(isinstance(e, StopDelivery) for e in out.effects)
    assert not any(isinstance(e, Record) and e.event == "bolus_cut" for e in out.effects)


def test_a_refill_cannot_begin_while_a_clinician_bolus_is_in_flight(library: Library):
    """REQ-BOL-007: a clinician bolus in flight holds the refill back the same way."""
    b = Bench(library)
    t0 = implanted_and_dosing(b, AT_25)
    out = b.submit(c.ClinicianBolus(C, MG // 4, 900), t0 + DAY_S)
    assert any(isinstance(e, DeliveryOrder) and e.kind == "clinician_bolus" for e in out.effects)
    b.advance(t0 + DAY_S + 899)
    before = b.device
    with pytest.raises(RejectedCommand, match=f"until t={t0 + DAY_S + 900} s"):
        b.submit(c.BeginRefill(C))
    assert b.device is before
    b.submit(c.BeginRefill(C), t0 + DAY_S + 900)
    assert b.device.phase is Phase.REFILL


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(AT_25, AT_25, id="same-concentration"),
        pytest.param(AT_25, AT_10, id="25-to-10"),
        pytest.param(AT_10, AT_25, id="10-to-25"),
        pytest.param(MAX_AT_25, MAX_AT_25, id="at-the-hard-maximum"),
        pytest.param(MAX_AT_25, MAX_AT_10, id="at-the-hard-maximum-25-to-10"),
        pytest.param(MAX_AT_10, MAX_AT_25, id="at-the-hard-maximum-10-to-25"),
    ],
)
def test_a_refill_when_the_bolus_ends_delivers_the_granted_dose_within_the_maximum(
    before: Program, after: Program, library: Library
):
    """REQ-BOL-007, REQ-TIP-004, REQ-GOV-004: the refill the core accepts once the bolus has
    ended (at the same or another concentration, the bolus then bringing a window to exactly
    the hard maximum or not) leaves the tip with the basal and the whole granted bolus over the
    two days after the grant, at most one nanolitre of the richer concentration short (25 ng;
    the no-refill control is exact), and no 24 h window above the hard maximum. At the hard
    maximum a change to a leaner fluid may cost one nanolitre of the richer fluid more
    (REQ-TIP-005, R-TIP-5: the lag of its last nanolitre; measured 36.7 ng)."""
    b, granted_at = _fresh(library, before)
    changed = after.concentration_ng_per_ml != before.concentration_ng_per_ml
    refill(
        b,
        granted_at + DURATION_S,
        after.concentration_ng_per_ml,
        program=after if changed else None,
    )
    got = _two_days_after(b, granted_at)
    due = _due(before)
    falls = after.concentration_ng_per_ml < before.concentration_ng_per_ml
    lag = 25 if falls and before is MAX_AT_25 else 0
    assert due - 25 - lag <= got <= due, float(due - got)
    most, _ = windows(_morphine(b), "morphine")
    assert most is not None and most[0] <= HARD_MAX_NG, most


def test_without_a_refill_the_bolus_is_delivered_exactly(library: Library):
    """The control of the test above (the reference and the scenario agree without a refill)."""
    b, granted_at = _fresh(library, AT_25)
    assert _two_days_after(b, granted_at) == _due(AT_25)


@settings(max_examples=8, deadline=None)
@given(st.integers(min_value=0, max_value=3 * DURATION_S))
def test_a_refill_at_any_instant_around_a_bolus_is_refused_or_delivers_it(
    library: Library, offset_s: int
):
    """REQ-BOL-007 (random instants): a refill attempted ``offset_s`` after the grant is
    refused exactly while the bolus is in flight, with the device unchanged; tried again at the
    bolus's end (or accepted at once after it), the tip receives the basal and the whole bolus
    over the two days after the grant (at most one nanolitre, 25 ng, short: measured 25 ng for
    every refill from 600 s to 1800 s after the grant, none without the bolus) and never exceeds
    the maximum."""
    b, granted_at = _fresh(library, AT_25)
    b.advance(granted_at + offset_s)
    before = b.device
    try:
        refill(b, b.now, 25 * MG)
    except RejectedCommand:
        assert offset_s < DURATION_S and b.device is before
        refill(b, granted_at + DURATION_S, 25 * MG)
    else:
        assert offset_s >= DURATION_S
    got = _two_days_after(b, granted_at)
    due = _due(AT_25)
    assert due - 25 <= got <= due, float(due - got)
    assert not _alarms_since(b, granted_at)
    most, _ = windows(_morphine(b), "morphine")
    assert most is not None and most[0] <= HARD_MAX_NG


def _suspend(b: Bench, at: int) -> Outcome:
    out = b.submit(c.Suspend(C, reason="clinical review"), at)
    b.submit(c.Resume(C, reason="review done"), at + 143)
    return out


def _drive_fault(b: Bench, at: int) -> Outcome:
    return b.submit(c.RaiseAlarm(S, AlarmKind.DRIVE_FAULT), at)


def _emergency_mri(b: Bench, at: int) -> Outcome:
    return b.submit(c.BeginMri(C, emergency=True, reason="trauma scan"), at)


@pytest.mark.parametrize(
    "stop",
    [
        pytest.param(_suspend, id="suspend"),
        pytest.param(_drive_fault, id="high-alarm"),
        pytest.param(_emergency_mri, id="emergency-mri"),
    ],
)
def test_a_stop_that_cuts_a_bolus_in_flight_is_announced(
    stop: Callable[[Bench, int], Outcome], library: Library
):
    """REQ-BOL-008: a suspension, a HIGH alarm or an emergency MRI scan 157 s into the bolus is
    accepted (a stop is never blocked) and cuts the bolus: in the same step the MEDIUM
    delivery-limited alarm is annunciated and a bolus_cut record names the order, the 443 s it
    had left and the volume a paced drive had still to move (443/600 of the order). The tip
    indeed receives at least 369 200 ng less than the basal plus the bolus (the rest of the
    bolus is not given later), and the alarm stays active until a clinician clears it."""
    b, granted_at = _fresh(library, AT_25)
    (order,) = b.device.orders
    at = granted_at + 157
    effects = stop(b, at).effects
    assert any(isinstance(e, StopDelivery) for e in effects)
    assert Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM) in effects
    (cut,) = [e for e in effects if isinstance(e, Record) and e.event == "bolus_cut"]
    # recorded by the service at the cut, in the phase delivery was in
    assert (cut.role, cut.at_s, cut.source, cut.dest) == ("service", at, Phase.ACTIVE, Phase.ACTIVE)
    left_nl = order.volume_nl * 443 // 600
    assert cut.detail == (
        f"order {order.id} (patient_bolus) stopped 7 min 23 s before its end: about "
        f"{format_volume_nl(left_nl)} of its {format_volume_nl(order.volume_nl)} (the dose and "
        "the basal inside it) not delivered; the rest of the bolus is not given later"
    )
    assert b.device.has_alarm(AlarmKind.DELIVERY_LIMITED)
    # raised at the cut, the instant the under-delivery began
    limited = [a for a in b.device.alarms if a.kind is AlarmKind.DELIVERY_LIMITED]
    assert [a.raised_at_s for a in limited] == [at]
    got = _two_days_after(b, granted_at)
    assert got <= _due(AT_25) - 369_200
    assert AlarmKind.DELIVERY_LIMITED.value in _alarms_since(b, at)


def test_a_stop_without_a_bolus_in_flight_raises_nothing(library: Library):
    """REQ-BOL-008, the other side: a suspension the instant the bolus ends cuts nothing (a
    drive keeping its pace has delivered it) and raises no alarm."""
    b, granted_at = _fresh(library, AT_25)
    out = b.submit(c.Suspend(C, reason="clinical review"), granted_at + DURATION_S)
    assert not any(isinstance(e, Annunciate) for e in out.effects)
    assert not b.device.has_alarm(AlarmKind.DELIVERY_LIMITED)


def test_an_explant_during_a_bolus_raises_no_alarm(library: Library):
    """REQ-BOL-008: an explant ends all delivery for good; it raises nothing."""
    b, granted_at = _fresh(library, AT_25)
    b.advance(granted_at + 157)
    assert b.device.orders  # the bolus order is in flight
    out = step(b.device, c.Explant(C, reason="infection"), b.now, library)
    assert out.device.phase is Phase.EXPLANTED
    assert not out.device.alarms
    assert not any(isinstance(e, Record) and e.event == "bolus_cut" for e in out.effects)


def test_commands_that_do_not_stop_delivery_leave_the_bolus_whole(library: Library):
    """REQ-TIP-004: a program change, a clinician bolus request (denied: one bolus at a time)
    and a MEDIUM alarm during the bolus do not cut it: the tip receives the basal and the whole
    bolus (at most 25 ng short: the program change starts a new basal segment)."""
    b, granted_at = _fresh(library, AT_25)
    b.submit(c.SetProgram(C, AT_25), granted_at + 100)
    assert isinstance(b.attempt(c.ClinicianBolus(C, MG // 10, 300), granted_at + 157), Exception)
    b.submit(c.RaiseAlarm(S, AlarmKind.LOW_RESERVOIR), granted_at + 200)
    got = _two_days_after(b, granted_at)
    assert _due(AT_25) - 25 <= got <= _due(AT_25), float(_due(AT_25) - got)


def test_a_cut_bolus_under_an_active_delivery_limited_alarm_is_recorded_once_annunciated(
    library: Library,
):
    """REQ-BOL-008: with the delivery-limited alarm already active, a suspension that cuts the
    bolus records bolus_cut and does not annunciate the alarm again (it is still active)."""
    b, granted_at = _fresh(library, AT_25)
    b.submit(c.RaiseAlarm(S, AlarmKind.DELIVERY_LIMITED), granted_at + 100)
    out = b.submit(c.Suspend(C, reason="clinical review"), granted_at + 157)
    assert [e for e in out.effects if isinstance(e, Record) and e.event == "bolus_cut"]
    assert not any(isinstance(e, Annunciate) for e in out.effects)
    assert b.device.has_alarm(AlarmKind.DELIVERY_LIMITED)
