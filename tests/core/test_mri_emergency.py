"""Prometra II emergency MRI with drug in the reservoir (docs/dosing-rules.md#r-mri-5).

The expected count is computed here from the rule and the catheter's contents: 10 uL (10 000 nL)
times the concentration at the catheter tip, in ng (nL x ng/mL / 10^6).
"""

from __future__ import annotations

import dataclasses

import pytest
from itdose_physics import MG, Bench, implanted_and_dosing, refill
from itdose_testkit import DAY, HOUR, MORPHINE_PROGRAM, C, S, reach, run, synchromed_active
from itdose_testkit import synchromed_library as _synchromed_library

from itdose.core import Library, Phase, Priority, RejectedCommand, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import Annunciate, DeliveryOrder, StopDelivery, Warn
from itdose.core.path import Segment
from itdose.core.program import Basal, Program
from itdose.core.state import DeliveryKind, Device, FlushDose, Order, Shadow

T = 8 * DAY
WORST_CASE_NL = 10_000
MORPHINE_10 = 10_000_000
MORPHINE_25 = 25_000_000


def _expected_ng(concentration_ng_per_ml: int) -> int:
    return WORST_CASE_NL * concentration_ng_per_ml // 1_000_000


def _emergency(reason: str = "trauma: spine imaging cannot wait") -> c.BeginMri:
    return c.BeginMri(C, emergency=True, reason=reason)


def _orders(d: Device, at: int, library: Library) -> list[DeliveryOrder]:
    out = step(d, c.Tick(S), at, library)
    return [e for e in out.effects if isinstance(e, DeliveryOrder)]


def test_emergency_scan_needs_a_reason_and_counts_10_ul(library: Library) -> None:
    """Drug in the reservoir while dosing: refused without a reason; with one the pump stops and
    10 uL at the tip's concentration enters the 24 h window at the scan start (REQ-MRI-006)."""
    d = reach(Phase.ACTIVE, library)
    assert d.reservoir is not None and d.reservoir.volume_nl > 0
    with pytest.raises(RejectedCommand) as info:
        step(d, _emergency(reason="  "), T, library)
    assert info.value.field == "command.reason"
    before = d.ledger.window_total_ng(T)
    out = step(d, _emergency(), T, library)
    new = out.device
    assert new.phase is Phase.SUSPENDED
    assert any(isinstance(e, StopDelivery) for e in out.effects)
    (warn,) = [e for e in out.effects if isinstance(e, Warn)]
    assert (warn.code, warn.text) == (
        "emergency_mri",
        "Emergency MRI with drug in the reservoir: the Flow Activated Valve closes. The labelled "
        "worst case, 0.01 mL, is counted as delivered now: 100 mcg of morphine (10 mg/mL). After "
        "the scan delivery stays at zero until the valve reset is recorded.",
    )
    assert new.mri is not None and new.mri.emergency and new.mri.reason
    counted = _expected_ng(MORPHINE_10)
    assert counted == 100_000  # 0.1 mg
    assert new.ledger.window_total_ng(T) == before + counted
    # it stays in every window that contains the scan start, and leaves after 24 h (an instant
    # is read as ending one second later: the window ending at T + 24 h, which no longer holds
    # the scan start, still counts it; the next second it is gone)
    assert new.ledger.window_total_ng(T + DAY - 1) - d.ledger.window_total_ng(T + DAY - 1) == (
        counted
    )
    assert new.ledger.window_total_ng(T + DAY) - d.ledger.window_total_ng(T + DAY) == counted
    assert new.ledger.window_total_ng(T + DAY + 1) == d.ledger.window_total_ng(T + DAY + 1)
    assert new.delivered_ng == d.delivered_ng + counted
    assert new.next_order_id == d.next_order_id + 1
    # the worst case moved the fluid on: the reservoir gave the 10 uL; the path holds only the
    # reservoir's fluid, so its contents are the same
    assert d.reservoir is not None and new.reservoir is not None
    assert new.reservoir.volume_nl == d.reservoir.volume_nl - 10_000
    assert new.path == d.path


def test_after_the_scan_delivery_stays_at_zero_until_the_valve_reset(library: Library) -> None:
    """MEDIUM post-MRI alarm pending, no order and no resume until the valve reset is recorded
    (REQ-MRI-006, REQ-MRI-004)."""
    d = step(reach(Phase.ACTIVE, library), _emergency(), T, library).device
    assert not _orders(d, T + 60, library)
    out = step(d, c.EndMri(C), T + HOUR, library)
    d = out.device
    assert d.phase is Phase.SUSPENDED
    assert Annunciate(AlarmKind.POST_MRI_VERIFICATION, Priority.MEDIUM) in out.effects
    (warn,) = [e for e in out.effects if isinstance(e, Warn)]
    assert (warn.code, warn.text) == (
        "valve_reset_required",
        "After the emergency scan delivery stays at zero until the Flow Activated Valve reset is "
        "recorded (confirm the post-MRI step), then resume.",
    )
    assert d.has_alarm(AlarmKind.POST_MRI_VERIFICATION)
    assert not _orders(d, T + HOUR + 60, library)
    with pytest.raises(RejectedCommand):
        step(d, c.Resume(C, "after scan"), T + HOUR + 120, library)
    d = step(d, c.ConfirmPostMri(C, "valve reset recorded"), T + HOUR + 180, library).device
    assert not d.has_alarm(AlarmKind.POST_MRI_VERIFICATION) and d.mri is None
    assert d.phase is Phase.SUSPENDED
    d = step(d, c.Resume(C, "valve reset"), T + HOUR + 240, library).device
    assert d.phase is Phase.ACTIVE
    assert _orders(d, T + HOUR + 300, library)


def test_the_count_uses_the_concentration_at_the_tip_not_the_reservoir(library: Library) -> None:
    """Right after a refill to 25 mg/mL the catheter still holds 10 mg/mL: the scan counts
    10 uL at 10 mg/mL (REQ-MRI-006)."""
    d = reach(Phase.ACTIVE, library)
    d = step(d, c.BeginRefill(C), T, library).device
    assert d.refill is not None
    d = step(d, c.RecordWithdrawal(C, d.refill.expected_residual_nl), T + 60, library).device
    program = dataclasses.replace(MORPHINE_PROGRAM, concentration_ng_per_ml=MORPHINE_25)
    d = step(d, c.CompleteRefill(C, 20_000_000, MORPHINE_25, program=program), T + 120, library)
    d = d.device
    assert d.path is not None and d.path.segments[0].concentration_ng_per_ml == MORPHINE_10
    before = d.ledger.window_total_ng(T + 200)
    new = step(d, _emergency(), T + 200, library).device
    assert new.ledger.window_total_ng(T + 200) - before == _expected_ng(MORPHINE_10)
    # the worst case moved the path on: 10 uL less of the old 10 mg/mL fluid (behind the volume
    # in flight), 10 uL more of the 25 mg/mL fluid behind it, the dead volume unchanged
    assert new.path is not None and d.reservoir is not None and new.reservoir is not None
    old_10 = sum(s.volume_nl for s in d.path.segments if s.concentration_ng_per_ml == MORPHINE_10)
    new_10 = sum(s.volume_nl for s in new.path.segments if s.concentration_ng_per_ml == MORPHINE_10)
    assert old_10 - new_10 == 10_000
    assert new.path.volume_nl == d.path.volume_nl
    assert new.reservoir.volume_nl == d.reservoir.volume_nl - 10_000


def test_after_a_refill_to_a_leaner_concentration_the_richer_fluid_is_not_moved_on(
    library: Library,
) -> None:
    """REQ-MRI-006: the worst case is 10 uL; if fewer left, the old, richer fluid leaves the tip
    later than a path moved by 10 uL says. Refilled from 10 to 5 mg/mL, the scan keeps all the
    10 mg/mL fluid in the path (it is counted as 10 mg/mL until it would have left had nothing
    left at the scan), while the reservoir still gives the 10 uL (its alarms come no later)."""
    d = reach(Phase.ACTIVE, library)
    d = step(d, c.BeginRefill(C), T, library).device
    assert d.refill is not None
    d = step(d, c.RecordWithdrawal(C, d.refill.expected_residual_nl), T + 60, library).device
    leaner = MORPHINE_10 // 2
    program = dataclasses.replace(MORPHINE_PROGRAM, concentration_ng_per_ml=leaner)
    compounded = (c.Override("morphine.pain.product_concentrations", "compounded 5 mg/mL"),)
    refill = c.CompleteRefill(C, 20_000_000, leaner, program=program, overrides=compounded)
    d = step(d, refill, T + 120, library).device
    assert d.path is not None and d.reservoir is not None
    old_10 = sum(s.volume_nl for s in d.path.segments if s.concentration_ng_per_ml == MORPHINE_10)
    assert old_10 > 10_000
    new = step(d, _emergency(), T + 200, library).device
    assert new.path is not None and new.reservoir is not None
    new_10 = sum(s.volume_nl for s in new.path.segments if s.concentration_ng_per_ml == MORPHINE_10)
    assert new_10 == old_10
    assert new.path.volume_nl == d.path.volume_nl
    assert new.reservoir.volume_nl == d.reservoir.volume_nl - 10_000


def test_emergency_flag_is_refused_on_a_synchromed(library: Library) -> None:
    """A SynchroMed II has its own MRI workflow: no emergency count (REQ-MRI-006)."""
    slib = _synchromed_library(library)
    d = synchromed_active(slib)
    with pytest.raises(RejectedCommand) as info:
        step(d, _emergency(), 7 * DAY + 800, slib)
    assert info.value.field == "command.emergency"
    assert info.value.message == (
        "an emergency scan with drug in the reservoir applies to a pump with a Flow Activated "
        "Valve (Prometra II); this pump's own MRI workflow applies"
    )


def test_a_planned_prometra_ii_scan_counts_nothing(library: Library) -> None:
    """The planned workflow (empty reservoir, suspended) records no worst-case amount
    (REQ-MRI-004, REQ-MRI-006)."""
    d = reach(Phase.ACTIVE, library)
    d = step(d, c.Suspend(C, "MRI"), T, library).device
    assert d.reservoir is not None
    d = step(d, c.EmptyReservoir(C, d.reservoir.volume_nl), T + 60, library).device
    new = step(d, c.BeginMri(C), T + 120, library).device
    assert new.ledger == d.ledger and new.mri is not None and not new.mri.emergency


def test_an_emergency_scan_after_the_reservoir_was_emptied_moves_nothing(library: Library) -> None:
    """REQ-MRI-006: with the reservoir emptied (an emergency declared during the planned
    preparation) the worst case still counts 10 uL of the catheter's fluid, 10 mg/mL; an empty
    reservoir pushes nothing, so the path and the reservoir stay as they were."""
    d = reach(Phase.ACTIVE, library)
    d = step(d, c.Suspend(C, "MRI"), T, library).device
    assert d.reservoir is not None
    d = step(d, c.EmptyReservoir(C, d.reservoir.volume_nl), T + 60, library).device
    new = step(d, _emergency(), T + 120, library).device
    counted = _expected_ng(MORPHINE_10)
    assert new.ledger.window_total_ng(T + 120) == d.ledger.window_total_ng(T + 120) + counted
    assert new.delivered_ng == d.delivered_ng + counted
    assert new.reservoir is not None and new.reservoir.volume_nl == 0
    assert new.path == d.path


def test_an_emergency_scan_before_the_first_fill_counts_no_drug(library: Library) -> None:
    """REQ-MRI-006: a pump implanted but never filled, in alarm (a drive fault before the fill):
    nothing but the implant's no-drug fluid is in the catheter and there is no reservoir, so the
    scan counts nothing and moves nothing, and says so."""
    d = run(
        [(c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=200), 7 * DAY)],
        library,
        reach(Phase.IMPLANT_READY, library),
    )
    d = step(d, c.RaiseAlarm(S, AlarmKind.MOTOR_STALL), 7 * DAY + 60, library).device
    assert d.phase is Phase.ALARM and d.reservoir is None and d.path is not None
    out = step(d, _emergency(), 7 * DAY + 120, library)
    new = out.device
    assert new.mri is not None and new.mri.emergency
    assert (new.ledger, new.other_ledgers, new.delivered_ng) == (d.ledger, (), d.delivered_ng)
    assert (new.path, new.reservoir) == (d.path, None)
    warn = next(e for e in out.effects if isinstance(e, Warn) and e.code == "emergency_mri")
    assert "counted as delivered now: no drug." in warn.text


HYDROMORPHONE_2 = 2_000_000


def _morphine_nearly_out(library: Library) -> Bench:
    """Morphine 25 mg/mL refilled with hydromorphone 2 mg/mL, suspended when about 4 uL of the
    morphine are left before the hydromorphone (234 uL at 0.76 mL/day)."""
    b = Bench(library)
    morphine = Program(
        "morphine", "pain", 25 * MG, Basal.continuous(19 * MG), None, "opioid-tolerant"
    )
    hydromorphone = Program(
        "hydromorphone", "pain", HYDROMORPHONE_2, Basal.continuous(10 * MG), None, None
    )
    t0 = implanted_and_dosing(b, morphine)
    refill(b, t0 + DAY, HYDROMORPHONE_2, program=hydromorphone, drug="hydromorphone")
    b.submit(c.Suspend(C, reason="scan"), t0 + DAY + 7 * HOUR + 15 * 60)
    return b


def test_an_emergency_scan_while_the_old_drug_leaves_counts_each_drug_and_moves_on(
    library: Library,
) -> None:
    """REQ-MRI-006, REQ-TIP-002: morphine 25 mg/mL refilled with hydromorphone 2 mg/mL; the
    scan comes when less than 10 uL of morphine is left before the hydromorphone. Each drug
    that can leave in the next 10 uL is counted in its own window as 10 uL at its
    concentration (0.25 mg of morphine, 0.02 mg of hydromorphone). The path cannot hold both
    drugs within reach of one position, so it moves on by the whole 10 uL: no morphine is left
    in it, but a shadow holds the morphine that may still be there, and the morphine's flush
    dose stays with the shadow, so that it leaves at no more than its own rate (R-TIP-6)."""
    b = _morphine_nearly_out(library)
    d = b.device
    assert d.path is not None and d.reservoir is not None and not d.orders
    first = d.path.segments[0]
    assert first.drug == "morphine" and 0 < first.volume_nl < WORST_CASE_NL
    assert d.path.segments[1].drug == "hydromorphone"
    assert d.flush_doses and d.flush_doses[0].drug == "morphine"
    at = b.now + 10
    out = step(d, _emergency(), at, library)
    new = out.device

    def window(dev: Device, drug: str) -> int:
        if dev.drug == drug:
            return dev.ledger.window_total_ng(at)
        return next(e.ledger for e in dev.other_ledgers if e.drug == drug).window_total_ng(at)

    assert new.drug == "hydromorphone"
    assert window(new, "morphine") - window(d, "morphine") == _expected_ng(25 * MG) == 250_000
    assert window(new, "hydromorphone") - window(d, "hydromorphone") == 20_000
    assert new.delivered_ng == d.delivered_ng + 270_000
    (warn,) = [e for e in out.effects if isinstance(e, Warn)]
    assert "now: 250 mcg of morphine (25 mg/mL), 20 mcg of hydromorphone (2 mg/mL). " in warn.text
    assert new.path is not None and new.reservoir is not None
    assert new.path.segments == (Segment(d.path.volume_nl, "hydromorphone", HYDROMORPHONE_2),)
    assert new.reservoir.volume_nl == d.reservoir.volume_nl - WORST_CASE_NL
    left = first.volume_nl
    assert new.shadows == (Shadow(0, left, "morphine", 25 * MG),)
    assert new.flush_doses == (FlushDose("morphine", 19 * MG),)


def test_the_last_nanolitre_of_the_old_drug_at_the_tip_is_counted_at_a_scan(
    library: Library,
) -> None:
    """REQ-MRI-006: a single nanolitre of morphine 25 mg/mL left at the tip, hydromorphone behind
    it: the next 10 uL can hold both, so each is counted as 10 uL at its concentration (0.25 mg
    of morphine, 0.02 mg of hydromorphone), the first nanolitre at the tip included."""
    d = _morphine_nearly_out(library).device
    assert d.path is not None and d.path.segments[0].drug == "morphine"
    total = d.path.volume_nl
    last = (Segment(1, "morphine", 25 * MG), Segment(total - 1, "hydromorphone", HYDROMORPHONE_2))
    d = dataclasses.replace(d, path=dataclasses.replace(d.path, segments=last))
    at = d.clock_s + 10 if d.clock_s is not None else 0
    new = step(d, _emergency(), at, library).device

    def window(dev: Device, drug: str) -> int:
        if dev.drug == drug:
            return dev.ledger.window_total_ng(at)
        return next(e.ledger for e in dev.other_ledgers if e.drug == drug).window_total_ng(at)

    assert window(new, "morphine") - window(d, "morphine") == 250_000
    assert window(new, "hydromorphone") - window(d, "hydromorphone") == 20_000


@pytest.mark.parametrize(("start_nl", "counted"), [(9_999, True), (10_000, False)])
def test_an_emergency_scan_counts_a_shadow_within_its_10_ul_only(
    library: Library, start_nl: int, counted: bool
) -> None:
    """REQ-MRI-006, R-MRI-5: no order in flight (nothing moved beyond the reports), so the 10 uL
    that leave are the path's first 10,000 nL: a shadow that may hold hydromorphone (2 mg/mL)
    from 9,999 nL on is within them, counted at its richest (20 mcg of hydromorphone with the
    100 mcg of morphine); one from 10,000 nL on is not, and only the morphine is counted."""
    d = dataclasses.replace(
        reach(Phase.ACTIVE, library),
        orders=(),
        shadows=(Shadow(start_nl, 100, "hydromorphone", 2 * MG),),
    )
    out = step(d, _emergency(), T, library)
    (warn,) = [e for e in out.effects if isinstance(e, Warn)]
    hydromorphone = ", 20 mcg of hydromorphone (2 mg/mL)" if counted else ""
    assert (
        f"is counted as delivered now: 100 mcg of morphine (10 mg/mL){hydromorphone}. After"
        in warn.text
    )


def test_a_second_emergency_scan_leaves_an_order_the_first_stopped_stopped_at_the_first(
    library: Library,
) -> None:
    """REQ-MRI-006, R-MRI-5: an order an earlier scan stopped (not yet reported) moved nothing
    after that scan, so every later report of it is judged at that instant; a second emergency
    scan stops the order in flight then, and leaves the first one stopped where it was."""
    d = reach(Phase.ACTIVE, library)
    earlier = Order(7, DeliveryKind.BASAL, T - 3600, T, 4166, stopped_s=T - 1800)
    running = Order(8, DeliveryKind.BASAL, T - 600, T + 3000, 4166)
    d = dataclasses.replace(d, orders=(earlier, running), next_order_id=9)
    out = step(d, _emergency(), T, library)
    assert [(o.id, o.stopped_s) for o in out.device.orders] == [(7, T - 1800), (8, T)]
