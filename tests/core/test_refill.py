"""Refill: reconciliation findings, capacity, concentration change and the bridge bolus
(docs/dosing-rules.md#reservoir-refill-and-alarms and the worked "Bridge bolus" example)."""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import DAY, HOUR, MORPHINE_PROGRAM, C, P, S, reach
from paced_drive import PacedDrive

from itdose.core import Library, LimitViolation, Phase, Priority, RejectedCommand, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import (
    Annunciate,
    BolusDecision,
    DeliveryOrder,
    StopDelivery,
    TipChange,
    Warn,
)
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
    """Active, one basal order partly delivered (2000 nL by half its hour, at its pace; final):
    delivered since the fill is 234 000 + 2 000 = 236 000 nL (a multiple of 200, so 14.5 % of it
    is whole: 34 220 nL).
    Returns the device in ``refill`` and the tracked residual."""
    d = reach(Phase.ACTIVE, library)
    out = _do(d, c.Tick(S), T0, library)
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    d = _do(out.device, c.DriveReport(S, order.order_id, 2000, True), T0 + 1800, library).device
    out = _do(d, c.BeginRefill(C), T0 + 1900, library)
    assert any(isinstance(e, StopDelivery) for e in out.effects)
    return out.device, FILL_NL - PRIMING_NL - 2000


def test_library_tolerances_are_the_decisions_value(library: Library):
    pump = library.pump("prometra-ii-20")
    assert pump.over_infusion_tolerance.value == TOLERANCE_BP
    assert pump.under_infusion_tolerance.value == TOLERANCE_BP


@pytest.mark.parametrize(
    ("offset", "finding"),
    [
        (-34_220, ""),  # withdrawn less: delivered +14.5 % exactly, at the tolerance
        (-34_221, "over-infusion"),  # 1 nL beyond
        (34_220, ""),  # withdrawn more: delivered -14.5 % exactly
        (34_221, "under-infusion"),
        (0, ""),
    ],
)
def test_reconciliation_boundaries(offset: int, finding: str, library: Library):
    """The +-14.5 % boundaries, exact in integers; a finding is a MEDIUM alarm (REQ-REF-002,
    REQ-REF-003, REQ-ALM-005)."""
    d, residual = _refill_ready(library)
    assert residual == 19_764_000
    assert 236_000 * TOLERANCE_BP == 34_220 * 10_000
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


def test_a_refill_before_any_program_shows_the_fluid_never_reaching_the_tip(library: Library):
    """REQ-TIP-003: filled, never programmed, stopped by an alarm that was cleared: a refill
    then has no program to push the fluid, so the clinician is shown that the new fluid never
    reaches the tip and that both volume rates are zero; a refill of a programmed pump at the
    same concentration shows no change at all."""
    d = reach(Phase.IMPLANTED, library)
    assert d.program is None and d.reservoir is not None
    t = 8 * DAY
    d = _do(d, c.RaiseAlarm(S, AlarmKind.MOTOR_STALL), t, library).device
    d = _do(d, c.ClearAlarm(C, AlarmKind.MOTOR_STALL, reason="drive checked"), t + 10, library)
    d = _do(d.device, c.BeginRefill(C), t + 20, library).device
    assert d.phase is Phase.REFILL and d.reservoir is not None
    d = _do(d, c.RecordWithdrawal(C, d.reservoir.volume_nl), t + 30, library).device
    out = _do(d, c.CompleteRefill(C, FILL_NL, 10 * MG), t + 40, library)
    assert out.device.phase is Phase.SUSPENDED
    assert [e for e in out.effects if isinstance(e, TipChange)] == [TipChange(None, 0, 0)]
    programmed = reach(Phase.SUSPENDED, library)
    programmed = _do(programmed, c.BeginRefill(C), t, library).device
    assert programmed.reservoir is not None
    programmed = _do(
        programmed, c.RecordWithdrawal(C, programmed.reservoir.volume_nl), t + 10, library
    ).device
    same = _do(programmed, c.CompleteRefill(C, FILL_NL, 10 * MG), t + 20, library)
    assert not [e for e in same.effects if isinstance(e, TipChange)]


def _new_program() -> Program:
    return dataclasses.replace(
        MORPHINE_PROGRAM, concentration_ng_per_ml=NEW_CONC, patient_bolus=None
    )


def _withdrawn(library: Library) -> Device:
    d, residual = _refill_ready(library)
    return _do(d, c.RecordWithdrawal(C, withdrawn_nl=residual), T0 + 2000, library).device


def test_concentration_change_needs_a_program(library: Library):
    """A new concentration needs a new program; the path still holds the old fluid, and the
    clinician is shown when the new one reaches the tip and the rates before and after
    (REQ-BRIDGE-001, REQ-TIP-003; worked example: 0.234 mL at 0.1 mL/day = 56.16 h)."""
    d = _withdrawn(library)
    refill = c.CompleteRefill(C, FILL_NL, NEW_CONC, overrides=(MAX_CONC_OVERRIDE,))
    with pytest.raises(RejectedCommand):
        _do(d, refill, T0 + 2100, library)
    # a program at the old concentration does not match the fill
    with pytest.raises(RejectedCommand):
        _do(d, dataclasses.replace(refill, program=MORPHINE_PROGRAM), T0 + 2100, library)
    out = _do(d, dataclasses.replace(refill, program=_new_program()), T0 + 2100, library)
    path = out.device.path
    assert path is not None
    assert [(s.volume_nl, s.concentration_ng_per_ml) for s in path.segments] == [
        (PRIMING_NL, 10 * MG)
    ]
    (change,) = [e for e in out.effects if isinstance(e, TipChange)]
    assert change == TipChange(T0 + 2100 + 202_176, 100_000, 40_000)


def test_bridge_skip_override_is_rejected(library: Library):
    """There is no bridge to skip: an override that would change the accounting of the drug in
    the catheter is refused (REQ-TIP-003)."""
    d = _withdrawn(library)
    skip = c.Override("morphine.pain.bridge_skip", "catheter replaced and primed")
    refill = c.CompleteRefill(
        C, FILL_NL, NEW_CONC, program=_new_program(), overrides=(MAX_CONC_OVERRIDE, skip)
    )
    with pytest.raises(RejectedCommand, match="no bridge to skip"):
        _do(d, refill, T0 + 2100, library)


def test_concentration_above_soft_max_needs_override_at_refill(library: Library):
    """The [U] maximum concentration applies to a compounded strength, not to the labelled
    25 mg/mL (REQ-LIB-003, REQ-LIB-007)."""
    d = _withdrawn(library)
    labelled = _do(
        d, c.CompleteRefill(C, FILL_NL, NEW_CONC, program=_new_program()), T0 + 2100, library
    )
    assert labelled.device.reservoir is not None
    compounded = dataclasses.replace(_new_program(), concentration_ng_per_ml=30 * MG)
    product = c.Override("morphine.pain.product_concentrations", "compounded 30 mg/mL")
    with pytest.raises(LimitViolation, match="maximum concentration"):
        _do(
            d,
            c.CompleteRefill(C, FILL_NL, 30 * MG, program=compounded, overrides=(product,)),
            T0 + 2100,
            library,
        )


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


def _run(d: Device, start: int, until: int, library: Library):
    """Tick and report every order in full at its end, from ``start`` to ``until``."""
    now = start
    pending: dict[int, tuple[int, int]] = {}
    orders: list[tuple[int, DeliveryOrder]] = []
    while now <= until:
        for oid, (vol, end) in sorted(pending.items()):
            if end <= now:
                d = _do(d, c.DriveReport(S, oid, vol, True), now, library).device
                del pending[oid]
        out = _do(d, c.Tick(S), now, library)
        d = out.device
        for e in out.effects:
            if isinstance(e, DeliveryOrder):
                pending[e.order_id] = (e.volume_nl, now + e.duration_s)
                orders.append((now, e))
        now = d.basal_until_s if d.basal_until_s > now else now + HOUR
    return d, orders


def _tip_amounts(path: list[list[int]], orders: list[tuple[int, DeliveryOrder]], fill_conc: int):
    """An independent first-in-first-out catheter: ``path`` is [[volume_nl, ng/mL], ...], tip
    first; each order pushes its volume of ``fill_conc`` in. Returns the amount (fg) each order
    pushes out of the tip and the instant the last of the first fluid leaves."""
    amounts = []
    for _, o in orders:
        left, fg = o.volume_nl, 0
        while left:
            take = min(left, path[0][0])
            fg += take * path[0][1]
            path[0][0] -= take
            left -= take
            if path[0][0] == 0:
                path.pop(0)
        path.append([o.volume_nl, fill_conc])
        amounts.append(fg)
    return amounts


def test_worked_example_bridge_bolus(library: Library):
    """The worked example (REQ-BRIDGE-002, REQ-TIP-003): 0.234 mL of 10 mg/mL in the path leaves
    the tip at 0.1 mL/day (1 mg/day) for 56.16 h, then the new 25 mg/mL at 0.04 mL/day; every
    order pushes exactly 1 mg/day out of the tip (checked with an independent FIFO catheter)."""
    d, t_refill = _bridged(library)
    d, orders = _run(d, t_refill, t_refill + 4 * DAY, library)
    assert d.phase is Phase.ACTIVE
    ideal = t_refill + 202_176
    amounts = _tip_amounts([[PRIMING_NL, 10 * MG]], orders, NEW_CONC)
    for (_, o), fg in zip(orders, amounts, strict=True):
        # the dose of the segment, to one nanolitre of the richer fluid
        assert abs(fg - MG * o.duration_s * 1_000_000 // DAY) <= NEW_CONC
    before = [o for t, o in orders if t < ideal]
    after = [o for t, o in orders if t >= ideal]
    # the old fluid goes at the old volumetric rate, the last piece a shorter segment ending at
    # the moment the path holds only the new fluid
    assert sum(o.volume_nl for o in before) == PRIMING_NL
    for o in before:
        assert abs(o.volume_nl - 100_000 * o.duration_s / DAY) <= 1
    for o in after:
        assert abs(o.volume_nl - 40_000 * o.duration_s / DAY) <= 1
    assert d.path is not None
    assert {s.concentration_ng_per_ml for s in d.path.segments} == {NEW_CONC}


def test_patient_bolus_while_the_path_holds_the_old_concentration(library: Library):
    """A bolus is sized by what it pushes out of the tip (REQ-TIP-002): 0.1 mg while the path
    still holds 10 mg/mL is 10 uL, not the 4 uL the reservoir's 25 mg/mL would suggest; the
    program may change while the old fluid is in the path. The basal inside it includes what the
    old program still owed, under a nanolitre (REQ-TIP-004: a refill keeps the carry)."""
    d, t = _bridged(library, bolus=True)
    assert d.program is not None and d.program.patient_bolus is not None
    dose = d.program.patient_bolus.dose_ng
    out = _do(d, c.RequestBolus(P), t + 60, library)
    (decision,) = [e for e in out.effects if isinstance(e, BolusDecision)]
    assert decision.granted
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    # the bolus, plus the basal due during its 10 minutes (0.1 mL/day of the old fluid) and the
    # basal the old program still owed, under a nanolitre (the carry: a refill keeps it)
    assert order.volume_nl - order.basal_nl == dose * 1_000_000 // (10 * MG)
    assert 0 < d.basal_carry < 10 * MG * DAY
    assert order.basal_nl == (MG * 1_000_000 * 600 + d.basal_carry) // DAY // (10 * MG)
    assert order.basal_nl in (100_000 * 600 // DAY, 100_000 * 600 // DAY + 1)
    out = _do(d, c.SetProgram(C, _new_program(), (MAX_CONC_OVERRIDE,)), t + 60, library)
    assert out.device.program == _new_program()


def test_bridge_keeps_the_old_dose_not_the_new_concentration(library: Library):
    """The old fluid is delivered at the programmed dose, i.e. the old volumetric rate
    (0.1 mL/day), not the new program's 0.04 mL/day (REQ-BRIDGE-001, REQ-TIP-003)."""
    d, t = _bridged(library)
    out = _do(d, c.Tick(S), t, library)
    (o,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    assert o.kind == "basal"
    assert abs(o.volume_nl - 100_000 * o.duration_s / DAY) < 1
    assert d.program is not None
    assert d.program.basal == Basal.continuous(MG)


def test_refill_during_the_flush_keeps_the_tip_exact(library: Library):
    """A second refill while the old fluid is still in the path (issue: refills during a bridge)
    leaves the path's contents in place: 10 mg/mL first, then what entered since, and the tip
    dose stays at the program's rate (REQ-TIP-002, REQ-TIP-003; worked example, second refill
    one day later)."""
    d, t = _bridged(library)
    d, _ = _run(d, t, t + DAY, library)
    now = d.basal_until_s
    for o in d.orders:
        d = _do(d, c.DriveReport(S, o.id, o.volume_nl, True), now, library).device
    assert d.path is not None and d.reservoir is not None
    old_left = d.path.segments[0].volume_nl
    assert d.path.segments[0].concentration_ng_per_ml == 10 * MG
    assert abs(old_left - 134_000) <= 4_200  # one day, give or take an hourly order
    d = _do(d, c.BeginRefill(C), now, library).device
    d = _do(d, c.RecordWithdrawal(C, withdrawn_nl=d.reservoir.volume_nl), now, library).device
    d = _do(
        d, c.CompleteRefill(C, FILL_NL, NEW_CONC, overrides=(MAX_CONC_OVERRIDE,)), now, library
    ).device
    assert d.path is not None and d.path.segments[0].volume_nl == old_left
    start = [[seg.volume_nl, seg.concentration_ng_per_ml] for seg in d.path.segments]
    d, orders = _run(d, now, now + 3 * DAY, library)
    for (_, o), fg in zip(orders, _tip_amounts(start, orders, NEW_CONC), strict=True):
        assert abs(fg - MG * o.duration_s * 1_000_000 // DAY) <= NEW_CONC


def test_refills_that_stop_orders_lose_no_basal_silently(library: Library):
    """REQ-TIP-004, REQ-REF-001, REQ-GOV-004: refills change nothing a patient can notice in the
    basal: every 24 h window holds the daily dose minus at most one rounding unit (1 nL at
    25 mg/mL), or the delivery-limited alarm says otherwise (docs/dosing-rules.md#r-tip-4).
    Judged by the minimal FIFO reference (tests/fifo_window_reference.py) on the drive's record.
    A refill stops the basal order in flight and the drive stops on a whole nanolitre: the
    fraction its pace still owed was dropped, silently (five refills of the same 25 mg/mL an
    hour apart at 20 mg/day: 46.14 ng short, no alarm). Now it is carried to the next order
    (drive_reports._owed). At the hard maximum a deficit can never be made up (the window from
    it on would hold the maximum and the makeup, R-TIP-3): the carried basal displaces later
    basal, a day later the cut is more than one nanolitre and is announced. Measured: 66.75 ng
    short, with the delivery-limited alarm in the step that withholds it."""
    from fractions import Fraction

    from fifo_window_reference import moved_by, tip, windows
    from itdose_physics import DAY_S, Bench, implanted_and_dosing, refill

    daily = 20 * MG
    program = Program("morphine", "pain", 25 * MG, Basal.continuous(daily), None, "opioid-tolerant")
    b = Bench(library)
    t0 = implanted_and_dosing(b, program, trimmed_mm=200)
    first = t0 + DAY_S + 1234
    for i in range(5):
        refill(b, first + 3601 * i, 25 * MG)
    b.advance(first + 5 * 3601 + 3 * DAY_S)
    assert not b.anomalies
    end = min((r.start for r in b.running.values()), default=b.now)
    pieces = tip(Fraction(234_000), moved_by(b.pushes))
    most, _ = windows(pieces, "morphine")
    _, least = windows(pieces, "morphine", Fraction(first + DAY_S), Fraction(end))
    assert most is not None and least is not None
    assert most[0] <= daily
    alarms = {kind for at, _, _, kinds in b.phases if at >= first for kind in kinds}
    if "delivery_limited" not in alarms:
        assert least[0] >= daily - 25, float(daily - least[0])


def _refill_with(
    d: Device, program: Program, at: int, library: Library, overrides: tuple[c.Override, ...] = ()
) -> Device:
    """A refill that puts ``program``'s drug and concentration in the reservoir, with it."""
    d = step(d, c.BeginRefill(C), at, library).device
    assert d.refill is not None
    d = step(d, c.RecordWithdrawal(C, d.refill.expected_residual_nl), at + 60, library).device
    fill = c.CompleteRefill(
        C,
        FILL_NL,
        program.concentration_ng_per_ml,
        drug=program.drug,
        program=program,
        overrides=overrides,
    )
    return step(d, fill, at + 120, library).device


def test_a_drug_changed_back_within_a_day_keeps_its_window(library: Library) -> None:
    """Morphine, refilled with hydromorphone, then with morphine again an hour later: the
    morphine delivered before is still in its 24 h window (REQ-GOV-002), and only the
    hydromorphone that may be left in the catheter is delivered at its old program's dose
    (REQ-TIP-003)."""
    d = reach(Phase.ACTIVE, library)
    assert d.clock_s is not None
    drive = PacedDrive(d, library, now=d.clock_s + 60)
    drive.apply(c.Tick(S), drive.now)
    t = drive.now + 2 * HOUR
    drive.run_until(t)
    for order_id in sorted(drive.pending):  # the drive stops: what moved is reported
        drive._cancel(order_id, t)
    d = drive.device
    delivered = d.ledger.window_total_ng(t)
    assert d.drug == "morphine" and delivered > 0 and not d.orders
    hydromorphone = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(10 * MG), None, None)
    compounded = c.Override("hydromorphone.pain.product_concentrations", "compounded, 2 mg/mL")
    off_label = c.Override("prometra-ii-20.approved_drugs", "hydromorphone trial of therapy")
    unapproved = c.Override("hydromorphone.pain.unapproved", "hydromorphone trial of therapy")
    d = _refill_with(d, hydromorphone, t + 60, library, (compounded, off_label, unapproved))
    assert d.drug == "hydromorphone" and d.ledger.window_total_ng(t + 180) == 0
    d = _refill_with(d, MORPHINE_PROGRAM, t + HOUR, library)
    assert d.drug == "morphine"
    assert d.ledger.window_total_ng(t + HOUR + 120) == delivered
    assert [(f.drug, f.dose_ng_per_day) for f in d.flush_doses] == [("hydromorphone", 10 * MG)]


def test_a_compounded_refill_above_the_soft_maximum_needs_its_override(library: Library) -> None:
    """Hydromorphone has no approved intrathecal product: 20 mg/mL, above its 15 mg/mL (SOFT)
    maximum, is refused naming that maximum, and accepted with an override of it (R-LIM-6)."""
    d = reach(Phase.ACTIVE, library)
    program = Program("hydromorphone", "pain", 20 * MG, Basal.continuous(10 * MG), None, None)
    others = (
        c.Override("hydromorphone.pain.product_concentrations", "compounded, 20 mg/mL"),
        c.Override("prometra-ii-20.approved_drugs", "hydromorphone trial of therapy"),
        c.Override("hydromorphone.pain.unapproved", "hydromorphone trial of therapy"),
    )
    with pytest.raises(LimitViolation) as err:
        _refill_with(d, program, 8 * DAY, library, others)
    assert (err.value.limit_id, err.value.level, err.value.limit) == (
        "hydromorphone.pain.max_concentration",
        "soft",
        "15 mg/mL",
    )
    cap = c.Override("hydromorphone.pain.max_concentration", "compounded, pharmacist checked")
    d = _refill_with(d, program, 8 * DAY, library, (*others, cap))
    assert d.reservoir is not None and d.reservoir.concentration_ng_per_ml == 20 * MG
