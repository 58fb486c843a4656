"""Refill: reconciliation findings, capacity, concentration change and the bridge bolus
(docs/dosing-rules.md#reservoir-refill-and-alarms and the worked "Bridge bolus" example)."""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import DAY, HOUR, MORPHINE_PROGRAM, C, P, S, reach

from itdose.core import Library, LimitViolation, Phase, Priority, RejectedCommand, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import Annunciate, BolusDecision, DeliveryOrder, StopDelivery, Warn
from itdose.core.program import Basal, Program
from itdose.core.state import Device

MG = 1_000_000
ML = 1_000_000
T0 = 7 * DAY + 700
FILL_NL = 20 * ML
PRIMING_NL = 234_000  # (110 - 20) cm x 0.0026 mL/cm, tubing 0 (docs/dosing-rules.md)
TOLERANCE_BP = 1450  # 14.5 % (docs/dosing-rules.md)
NEW_CONC = 25 * MG
MAX_CONC_OVERRIDE = c.Override("morphine.pain.max_concentration", "25 mg/mL Infumorph")


def _do(d: Device, command: c.Command, at: int, library: Library):
    return step(d, command, at, library)


def _refill_ready(library: Library) -> tuple[Device, int]:
    """Active, one basal order partly delivered (4000 nL, final): delivered since the fill is
    234 000 + 4 000 = 238 000 nL (a multiple of 200, so 14.5 % of it is whole: 34 510 nL).
    Returns the device in ``refill`` and the tracked residual."""
    d = reach(Phase.ACTIVE, library)
    out = _do(d, c.Tick(S), T0, library)
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    d = _do(out.device, c.DriveReport(S, order.order_id, 4000, True), T0 + 1800, library).device
    out = _do(d, c.BeginRefill(C), T0 + 1900, library)
    assert any(isinstance(e, StopDelivery) for e in out.effects)
    return out.device, FILL_NL - PRIMING_NL - 4000


def test_library_tolerances_are_the_decisions_value(library: Library):
    pump = library.pump("prometra-ii-20")
    assert pump.over_infusion_tolerance.value == TOLERANCE_BP
    assert pump.under_infusion_tolerance.value == TOLERANCE_BP


@pytest.mark.parametrize(
    ("offset", "finding"),
    [
        (-34_510, ""),  # withdrawn less: delivered +14.5 % exactly, at the tolerance
        (-34_511, "over-infusion"),  # 1 nL beyond
        (34_510, ""),  # withdrawn more: delivered -14.5 % exactly
        (34_511, "under-infusion"),
        (0, ""),
    ],
)
def test_reconciliation_boundaries(offset: int, finding: str, library: Library):
    """The +-14.5 % boundaries, exact in integers; a finding is a MEDIUM alarm (REQ-REF-002,
    REQ-REF-003, REQ-ALM-005)."""
    d, residual = _refill_ready(library)
    assert residual == 19_762_000
    assert 238_000 * TOLERANCE_BP == 34_510 * 10_000
    out = _do(d, c.RecordWithdrawal(C, withdrawn_nl=residual + offset), T0 + 2000, library)
    assert out.device.refill is not None
    assert out.device.refill.finding == finding
    assert out.device.phase is Phase.REFILL
    if finding:
        assert out.device.has_alarm(AlarmKind.REFILL_FINDING)
        assert Annunciate(AlarmKind.REFILL_FINDING, Priority.MEDIUM) in out.effects
        assert any(isinstance(e, Warn) and e.code == "refill_finding" for e in out.effects)
    else:
        assert not out.device.has_alarm(AlarmKind.REFILL_FINDING)


def test_finding_blocks_completion_until_acknowledged(library: Library):
    """A finding blocks completion until acknowledged with a reason (REQ-REF-003)."""
    d, residual = _refill_ready(library)
    d = _do(d, c.RecordWithdrawal(C, withdrawn_nl=residual - 50_000), T0 + 2000, library).device
    assert d.refill is not None and d.refill.finding == "over-infusion"
    refill = c.CompleteRefill(C, added_nl=FILL_NL, concentration_ng_per_ml=10 * MG)
    with pytest.raises(RejectedCommand):
        _do(d, refill, T0 + 2100, library)
    with pytest.raises(RejectedCommand):
        _do(d, dataclasses.replace(refill, finding_reason="   "), T0 + 2100, library)
    done = _do(
        d, dataclasses.replace(refill, finding_reason="pocket checked, none"), T0 + 2100, library
    )
    assert done.device.phase is Phase.ACTIVE
    assert not done.device.has_alarm(AlarmKind.REFILL_FINDING)
    assert done.device.reservoir is not None
    assert done.device.reservoir.volume_nl == FILL_NL


def test_completion_needs_the_withdrawal_first(library: Library):
    """The residual is withdrawn and entered before new drug is accepted (REQ-REF-001)."""
    d, _ = _refill_ready(library)
    with pytest.raises(RejectedCommand):
        _do(d, c.CompleteRefill(C, FILL_NL, 10 * MG), T0 + 2100, library)


def test_added_volume_limited_by_capacity(library: Library):
    """Added volume at most capacity minus what remains after withdrawal (REQ-REF-004)."""
    d, residual = _refill_ready(library)
    d = _do(d, c.RecordWithdrawal(C, withdrawn_nl=residual), T0 + 2000, library).device
    with pytest.raises(LimitViolation):
        _do(d, c.CompleteRefill(C, FILL_NL + 1, 10 * MG), T0 + 2100, library)
    assert _do(d, c.CompleteRefill(C, FILL_NL, 10 * MG), T0 + 2100, library).device.phase is (
        Phase.ACTIVE
    )


def test_low_reservoir_cleared_by_refill(library: Library):
    d = reach(Phase.ACTIVE, library)
    d = _do(d, c.RaiseAlarm(S, AlarmKind.LOW_RESERVOIR), T0 + 10, library).device
    assert d.phase is Phase.ACTIVE
    d = _do(d, c.BeginRefill(C), T0 + 20, library).device
    assert d.reservoir is not None
    d = _do(d, c.RecordWithdrawal(C, d.reservoir.volume_nl), T0 + 30, library).device
    d = _do(d, c.CompleteRefill(C, FILL_NL, 10 * MG), T0 + 40, library).device
    assert not d.has_alarm(AlarmKind.LOW_RESERVOIR)
    assert d.phase is Phase.ACTIVE


def test_refill_from_suspended_stays_suspended(library: Library):
    d = reach(Phase.SUSPENDED, library)
    t = 8 * DAY + 10
    d = _do(d, c.BeginRefill(C), t, library).device
    assert d.reservoir is not None
    d = _do(d, c.RecordWithdrawal(C, d.reservoir.volume_nl), t + 10, library).device
    assert _do(d, c.CompleteRefill(C, FILL_NL, 10 * MG), t + 20, library).device.phase is (
        Phase.SUSPENDED
    )


def _new_program() -> Program:
    return dataclasses.replace(
        MORPHINE_PROGRAM, concentration_ng_per_ml=NEW_CONC, patient_bolus=None
    )


def _withdrawn(library: Library) -> Device:
    d, residual = _refill_ready(library)
    return _do(d, c.RecordWithdrawal(C, withdrawn_nl=residual), T0 + 2000, library).device


def test_concentration_change_needs_a_program(library: Library):
    """A new concentration needs a new program and starts a bridge at the old dose (REQ-BRIDGE-001,
    REQ-BRIDGE-002)."""
    d = _withdrawn(library)
    refill = c.CompleteRefill(C, FILL_NL, NEW_CONC, overrides=(MAX_CONC_OVERRIDE,))
    with pytest.raises(RejectedCommand):
        _do(d, refill, T0 + 2100, library)
    # a program at the old concentration does not match the fill
    with pytest.raises(RejectedCommand):
        _do(d, dataclasses.replace(refill, program=MORPHINE_PROGRAM), T0 + 2100, library)
    out = _do(d, dataclasses.replace(refill, program=_new_program()), T0 + 2100, library)
    bridge = out.device.bridge
    assert bridge is not None
    assert (bridge.old_concentration_ng_per_ml, bridge.old_dose_ng_per_day) == (10 * MG, MG)
    assert bridge.volume_nl == PRIMING_NL
    assert any(isinstance(e, Warn) and e.code == "bridge_bolus" for e in out.effects)


def test_bridge_skip_needs_the_override(library: Library):
    """Skipping the bridge needs an override with a reason (REQ-BRIDGE-003)."""
    d = _withdrawn(library)
    skip = c.Override("morphine.pain.bridge_skip", "catheter replaced and primed")
    refill = c.CompleteRefill(
        C, FILL_NL, NEW_CONC, program=_new_program(), overrides=(MAX_CONC_OVERRIDE, skip)
    )
    out = _do(d, refill, T0 + 2100, library)
    assert out.device.bridge is None
    empty_reason = c.Override("morphine.pain.bridge_skip", " ")
    with pytest.raises(RejectedCommand):
        _do(
            d,
            dataclasses.replace(refill, overrides=(MAX_CONC_OVERRIDE, empty_reason)),
            T0 + 2100,
            library,
        )


def test_concentration_above_soft_max_needs_override_at_refill(library: Library):
    d = _withdrawn(library)
    with pytest.raises(LimitViolation):
        _do(d, c.CompleteRefill(C, FILL_NL, NEW_CONC, program=_new_program()), T0 + 2100, library)


# --- docs/dosing-rules.md#example-bridge: the bridge bolus ----------------------------------------


def _bridged(library: Library, bolus: bool = False) -> tuple[Device, int]:
    d = _withdrawn(library)
    prog = _new_program()
    if bolus:
        prog = dataclasses.replace(prog, patient_bolus=MORPHINE_PROGRAM.patient_bolus)
    refill = c.CompleteRefill(C, FILL_NL, NEW_CONC, program=prog, overrides=(MAX_CONC_OVERRIDE,))
    t = T0 + 2100
    out = _do(d, refill, t, library)
    assert out.device.phase is Phase.ACTIVE
    return out.device, t


def test_worked_example_bridge_bolus(library: Library):
    """The worked bridge example (REQ-BRIDGE-002)."""
    d, t_refill = _bridged(library)
    now = t_refill
    pending: dict[int, tuple[int, int, str]] = {}
    orders: list[tuple[int, DeliveryOrder]] = []
    reported: list[tuple[int, str, int]] = []
    while now <= t_refill + 4 * DAY:
        for oid, (vol, end, kind) in sorted(pending.items()):
            if end <= now:
                d = _do(d, c.DriveReport(S, oid, vol, True), now, library).device
                reported.append((now, kind, vol))
                del pending[oid]
        out = _do(d, c.Tick(S), now, library)
        d = out.device
        for e in out.effects:
            if isinstance(e, DeliveryOrder):
                pending[e.order_id] = (e.volume_nl, now + e.duration_s, e.kind)
                orders.append((now, e))
        now = d.basal_until_s if d.basal_until_s > now else now + HOUR
    assert d.phase is Phase.ACTIVE
    bridge = [(t, o) for t, o in orders if o.kind == "bridge"]
    basal = [(t, o) for t, o in orders if o.kind == "basal"]
    # 0.234 mL of the old drug, delivered as the bridge, at 10 mg/mL = 2.34 mg
    assert sum(o.volume_nl for _, o in bridge) == 234_000
    assert sum(v for _, k, v in reported if k == "bridge") == 234_000
    bridge_ng = sum(v * 10 for _, k, v in reported if k == "bridge")
    assert bridge_ng == 2_340_000
    # at the old volumetric rate 0.1 mL/day (every order but the last, which is the remainder)
    for _, o in bridge[:-1]:
        assert abs(o.volume_nl - 100_000 * o.duration_s / DAY) < 1
    # the bridge lasts 0.234 / 0.1 = 2.34 days = 56.16 h; the new program starts within one
    # segment of that
    ideal = t_refill + 202_176
    switch = basal[0][0]
    assert all(t < switch for t, _ in bridge)
    assert ideal <= switch <= ideal + HOUR
    # then 1 mg/day at 25 mg/mL = 0.04 mL/day
    for _, o in basal:
        assert abs(o.volume_nl - 40_000 * o.duration_s / DAY) < 1
    first_day = [o for t, o in basal if t < switch + DAY]
    assert abs(sum(o.volume_nl for o in first_day) - 40_000) <= 1700
    assert d.bridge is None


def test_no_patient_bolus_or_reprogramming_during_the_bridge(library: Library):
    d, t = _bridged(library, bolus=True)
    assert d.bridge is not None
    out = _do(d, c.RequestBolus(P), t + 60, library)
    (decision,) = [e for e in out.effects if isinstance(e, BolusDecision)]
    assert not decision.granted
    assert "not_delivering" in decision.reasons
    assert not [e for e in out.effects if isinstance(e, DeliveryOrder)]
    with pytest.raises(RejectedCommand):
        _do(d, c.SetProgram(C, _new_program()), t + 60, library)
    with pytest.raises(RejectedCommand):
        _do(d, c.ClinicianBolus(C, dose_ng=MG, duration_s=600), t + 60, library)


def test_bridge_keeps_the_old_dose_not_the_new_concentration(library: Library):
    # The first order of the bridge is old drug at the old volumetric rate (0.1 mL/day), not the
    # new program's 0.04 mL/day.
    """The old program never runs at the new concentration (REQ-BRIDGE-001, REQ-BRIDGE-002)."""
    d, t = _bridged(library)
    out = _do(d, c.Tick(S), t, library)
    (o,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    assert o.kind == "bridge"
    assert abs(o.volume_nl - 100_000 * o.duration_s / DAY) < 1
    assert d.program is not None
    assert d.program.basal == Basal.continuous(MG)


def test_last_bridge_order_keeps_the_old_rate(library: Library):
    d, t = _bridged(library)
    now = t
    last = None
    while d.bridge is not None:
        out = _do(d, c.Tick(S), now, library)
        d = out.device
        (o,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
        last = o
        now += o.duration_s
        d = _do(d, c.DriveReport(S, o.order_id, o.volume_nl, True), now, library).device
    assert last is not None and last.kind == "bridge"
    # 0.1 mL/day: the remaining 667 nL take 576 s
    assert abs(last.volume_nl - 100_000 * last.duration_s / DAY) < 1
    assert now <= t + 202_176 + 1
