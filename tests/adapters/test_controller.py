"""The controller loop against the simulated drive: faults stop delivery in the same controller
step, drive counts (never commanded volumes) reach the ledger, resets are reconciled and never
re-issued, a long sleep is not caught up, and cost grows with events, not time."""

from __future__ import annotations

import pytest
from itdose_testkit import DAY, HOUR, PATHS, C, P, run

from itdose.adapters import simdrive as sd
from itdose.adapters.controller import (
    FAULT_ALARMS,
    Controller,
    ControllerEvent,
    VirtualClock,
    WallClock,
    alarm_for_fault,
)
from itdose.adapters.drive import DriveState, DriveStatus, DriveUnreachable, FaultCode
from itdose.core import Device, Phase, Role, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import CancelOrder, DeliveryOrder
from itdose.core.state import DeliveryKind
from itdose.specs import load_library

LIB = load_library()
START = 8 * DAY
"""After the testkit's path to ``active`` (last command at 7 days + 700 s)."""


def implanted_filled() -> Device:
    """Prometra II, morphine 10 mg/mL 20 mL, program set, not primed (testkit path)."""
    return run(PATHS[Phase.IMPLANTED] + PATHS[Phase.PRIMING][-2:-1], LIB)


def active_controller(
    faults: tuple[sd.SimEvent, ...] = (),
    events: list[ControllerEvent] | None = None,
    **config: int,
) -> tuple[Controller, sd.SimulatedDrive]:
    """A controller dosing 1 mg/day morphine from START, primed through the drive."""
    sim = sd.SimulatedDrive(
        sd.SimConfig(
            **{
                "reservoir_capacity_nl": 10**9,
                "reservoir_nl": 20_000_000,
                "start_s": 7 * DAY + 110,
                "min_rate_nl_per_h": 1,
                "max_rate_nl_per_h": 10**8,
                **config,
            }
        ),
        faults,
    )

    def observe(e: ControllerEvent, d: Device) -> None:
        if events is not None:
            events.append(e)

    ctl = Controller(sim, LIB, VirtualClock(sim), implanted_filled(), observer=observe)
    ctl.submit(c.Prime(C, duration_s=480))
    ctl.run_until(7 * DAY + 700)
    assert ctl.device.primed
    ctl.submit(c.StartDosing(C))
    ctl.run_until(START)
    assert ctl.device.phase is Phase.ACTIVE
    return ctl, sim


def test_priming_and_basal_are_counted_from_drive_reports() -> None:
    """Delivered drug is counted from drive reports (REQ-DOSE-006)."""
    ctl, sim = active_controller()
    ctl.run_until(START + DAY)
    day1 = ctl.device.delivered_ng
    ctl.run_until(START + 2 * DAY)
    d = ctl.device
    assert d.phase is Phase.ACTIVE
    # what the drive counted: 1 mg/day (each hour's dose is recorded at its report)
    assert 999_000 <= d.delivered_ng - day1 <= 1_001_000
    # the rolling window may hold one extra reported hour at its edge (conservative)
    assert d.ledger.window_total_ng(START + 2 * DAY) <= 1_000_000 * 25 // 24 + 1000
    # the tracked reservoir equals the drive's count of fluid (no accuracy error)
    assert d.reservoir is not None
    assert 20_000_000 - d.reservoir.volume_nl == sim.truth().pumped_nl


def test_cost_grows_with_events_not_time() -> None:
    ctl, _ = active_controller()
    before = ctl.stats.wakeups
    ctl.run_until(START + 10 * DAY)
    per_day = (ctl.stats.wakeups - before) / 10
    assert per_day <= 26  # one basal segment per hour, a wake-up at each end


@pytest.mark.parametrize(
    ("fault", "alarm"),
    [
        (sd.MotorStall(START + 1800), AlarmKind.MOTOR_STALL),
        (sd.Occlusion(START + 1800), AlarmKind.MOTOR_STALL),
        (sd.DeviceReset(START + 1800), AlarmKind.DRIVE_FAULT),
        (sd.PartialDelivery(START + 1800), AlarmKind.DELIVERY_DEVIATION),
        (sd.CommLoss(START + 1800, 900), AlarmKind.DRIVE_FAULT),
        (sd.GarbledReply(START + 1800), AlarmKind.DRIVE_FAULT),
    ],
)
def test_each_fault_stops_delivery_and_alarms_in_the_same_step(
    fault: sd.SimEvent, alarm: AlarmKind
) -> None:
    """Every drive fault is a HIGH alarm that stops delivery in the same step (REQ-ALM-001,
    REQ-ALM-004)."""
    events: list[ControllerEvent] = []
    ctl, sim = active_controller((fault,), events)
    ctl.wake_at(fault.at_s)
    ctl.run_until(fault.at_s)
    steps_before = sum(1 for e in events if e.kind == "step")
    d = ctl.device
    assert d.phase is Phase.ALARM, [e.text for e in events[-8:]]
    assert d.has_alarm(alarm)
    assert any(a.kind is alarm for a in ctl.annunciations)
    # the alarm, the stop and the fault all happened at the fault's instant, within one step
    raised = [e for e in events if e.command is not None and e.command.name == "raise_alarm"]
    assert raised[0].t_s == fault.at_s
    stops = [e for e in events if e.text == "stop" and e.t_s == fault.at_s]
    assert stops
    assert sum(1 for e in events if e.kind == "step") - steps_before <= 1
    assert not ctl.delivering or isinstance(fault, sd.CommLoss)
    if not isinstance(fault, sd.CommLoss):
        assert sim.poll().state is not DriveState.RUNNING
    # and nothing more is delivered afterwards
    pumped = sim.truth().motor_nl
    ctl.run_until(fault.at_s + DAY)
    if isinstance(fault, sd.CommLoss):
        ctl.run_until(fault.at_s + 2 * DAY)
    assert sim.truth().motor_nl - pumped <= 5_000  # at most the segment already running (comm)
    assert not ctl.device.orders


def test_reservoir_empty_and_eos_map_to_their_alarms() -> None:
    assert alarm_for_fault(FaultCode.RESERVOIR_EMPTY) is AlarmKind.EMPTY_RESERVOIR
    assert alarm_for_fault(FaultCode.END_OF_SERVICE) is AlarmKind.END_OF_SERVICE
    assert alarm_for_fault(FaultCode.OCCLUSION_OR_STALL, AlarmKind.OCCLUSION) is AlarmKind.OCCLUSION
    assert set(FAULT_ALARMS) == set(FaultCode)


def test_drive_empty_reservoir_raises_empty_alarm_at_once() -> None:
    # the drive's reservoir (truth) is nearly empty although the core tracks 20 mL: over-infusion
    ctl, _ = active_controller(reservoir_nl=400_000)
    ctl.run_until(START + 3 * DAY)
    assert ctl.device.phase is Phase.ALARM
    assert ctl.device.has_alarm(AlarmKind.EMPTY_RESERVOIR)


def test_battery_eri_then_eos() -> None:
    ctl, _ = active_controller(battery_eri_at_s=START + DAY, battery_eos_at_s=START + 2 * DAY)
    ctl.wake_at(START + DAY)
    ctl.wake_at(START + 2 * DAY)
    ctl.run_until(START + DAY)
    assert ctl.device.has_alarm(AlarmKind.ERI)
    assert ctl.device.phase is Phase.ACTIVE
    ctl.run_until(START + 2 * DAY)
    assert ctl.device.has_alarm(AlarmKind.END_OF_SERVICE)
    assert ctl.device.phase is Phase.ALARM


def test_partial_delivery_reports_the_drive_count_not_the_command() -> None:
    """The ledger gets the drive's count, not the commanded volume (REQ-DOSE-006)."""
    events: list[ControllerEvent] = []
    at = START + 1800
    ctl, sim = active_controller((sd.PartialDelivery(at),), events)
    ctl.wake_at(at)
    ledger_before = ctl.device.delivered_ng
    motor_before = sim.truth().motor_nl
    ctl.run_until(at)
    reports = [
        e.command
        for e in events
        if isinstance(e.command, c.DriveReport) and e.command.final and e.t_s == at
    ]
    assert reports
    delivered = reports[0].delivered_nl
    orders = [e.effect for e in events if isinstance(e.effect, DeliveryOrder)]
    assert delivered < orders[-1].volume_nl  # the partial count, not the commanded volume
    assert sim.truth().motor_nl - motor_before > 0
    # the ledger grew by exactly the dose of what the drive counted since the last report
    assert ctl.device.delivered_ng >= ledger_before


def test_reset_counts_the_upper_bound_and_never_reissues_the_remainder() -> None:
    """After a reset the unconfirmed order counts the most the drive can have moved (the upper
    bound, capped by the order's pace: the drive's trust) and the loss is recorded
    (REQ-DOSE-008, REQ-TIP-004).
    """
    events: list[ControllerEvent] = []
    at = START + 1800
    ctl, sim = active_controller((sd.DeviceReset(at),), events)
    ctl.wake_at(at)
    ctl.run_until(at)
    assert ctl.device.phase is Phase.ALARM
    lost = [e for e in events if "count lost by a reset" in e.text]
    assert lost, "the uncertainty is recorded"
    finals = [e.command for e in events if isinstance(e.command, c.DriveReport) and e.command.final]
    orders = [e.effect for e in events if isinstance(e.effect, DeliveryOrder)]
    # conservative: the upper bound, but no more than the order's pace can have moved from its
    # start to the reset (whole nL/h rounded up, the second of the report included), so the
    # report is not a deviation; the drive fault stops delivery
    last = orders[-1]
    started_at = max(e.t_s for e in events if e.effect is last)
    pace = -(-last.volume_nl * 3600 // last.duration_s)
    assert finals[-1].delivered_nl == min(last.volume_nl, pace * (at - started_at + 1) // 3600)
    # the report says its doubt: nothing of this order was reported before, and the drive's
    # lower bound after a reset is none of it (R-TIP-6)
    assert finals[-1].unsure_nl == finals[-1].delivered_nl > 0
    assert ctl.device.has_alarm(AlarmKind.DRIVE_FAULT)
    assert not ctl.device.has_alarm(AlarmKind.DELIVERY_DEVIATION)
    started = sim.truth().motor_nl
    n_orders = len(orders)
    ctl.run_until(at + DAY)
    assert sim.truth().motor_nl == started  # nothing re-issued by itself
    assert len([e for e in events if isinstance(e.effect, DeliveryOrder)]) == n_orders
    # the clinician clears, the drive is acknowledged and configured again, dosing resumes
    ctl.submit(c.ClearAlarm(C, AlarmKind.DRIVE_FAULT, reason="reset investigated"))
    ctl.submit(c.Resume(C, reason="checked", restart_reason="reset investigated"))
    ctl.run_until(at + 2 * DAY)
    assert ctl.device.phase is Phase.ACTIVE
    assert sim.truth().motor_nl > started


def test_bolus_replaces_the_basal_order_and_basal_goes_on() -> None:
    """A bolus mid-segment carries the basal due during it and replaces the basal order in
    flight: the core cancels that order first, the drive stops it and reports what it moved
    (never ahead of its pace), then runs the bolus; no two orders are ever in flight at once
    and the basal goes on after the bolus (REQ-DOSE-006, REQ-BOL-001, REQ-TIP-002)."""
    events: list[ControllerEvent] = []
    ctl, _ = active_controller((), events)
    basal = next(o for o in ctl.device.orders if o.kind is DeliveryKind.BASAL)
    ctl.run_until(basal.end_s - 2400)  # mid-segment
    before = ctl.device.delivered_ng
    n = len(events)
    ctl.submit(c.RequestBolus(P))
    asked = ctl.clock.now_s()
    ctl.run_until(basal.end_s - 2400 + DAY)
    assert ctl.stats.wakeups < 80
    assert ctl.device.phase is Phase.ACTIVE
    assert not any(e.kind == "rejected" for e in events)
    after = events[n:]
    cancels = [i for i, e in enumerate(after) if isinstance(e.effect, CancelOrder)]
    boluses = [
        i
        for i, e in enumerate(after)
        if isinstance(e.effect, DeliveryOrder) and e.effect.kind == "patient_bolus"
    ]
    assert len(cancels) == len(boluses) == 1 and cancels[0] < boluses[0]
    cancel = after[cancels[0]].effect
    bolus = after[boluses[0]].effect
    assert isinstance(cancel, CancelOrder) and isinstance(bolus, DeliveryOrder)
    assert cancel.order_id == basal.id
    # 0.1 mg at 10 mg/mL = 10 000 nL, and 1 mg/day (100 000 nL/day) over its 600 s (694.4 nL)
    # plus what the cancelled basal order owed beyond its pace line, under a nanolitre (made up
    # inside the bolus, R-TIP-3): 694 or 695 whole nanolitres
    assert 100_000 * 600 // DAY == 694 <= bolus.basal_nl <= 695
    assert bolus.volume_nl == 10_000 + bolus.basal_nl
    finals = {
        e.command.order_id: (e.t_s, e.command.delivered_nl)
        for e in events
        if isinstance(e.command, c.DriveReport) and e.command.final
    }
    stopped_at, stopped_nl = finals[basal.id]
    pace = -(-basal.volume_nl * 3600 // (basal.end_s - basal.start_s))
    assert stopped_at == asked
    assert 0 < stopped_nl < basal.volume_nl
    assert stopped_nl * 3600 <= pace * (stopped_at - basal.start_s)  # never ahead of its pace
    # one order at a time: every order is finally reported before the next one is given
    open_: set[int] = set()
    for e in events:
        if isinstance(e.effect, DeliveryOrder):
            assert not open_, f"order {e.effect.order_id} given while {open_} in flight"
            open_.add(e.effect.order_id)
        if isinstance(e.command, c.DriveReport) and e.command.final:
            open_.discard(e.command.order_id)
    # every other basal order was delivered in full, and the basal went on after the bolus
    ordered = {
        e.effect.order_id: e.effect.volume_nl
        for e in after
        if isinstance(e.effect, DeliveryOrder) and e.effect.kind == "basal"
    }
    assert ordered and min(ordered) > bolus.order_id
    assert all(finals[k][1] == v for k, v in ordered.items() if k in finals)
    assert finals[bolus.order_id][1] == bolus.volume_nl
    assert 1_050_000 <= ctl.device.delivered_ng - before <= 1_150_000


def test_long_sleep_is_not_caught_up_as_a_burst() -> None:
    """A controller that sleeps for 10 h misses that basal; the next order is one segment."""
    events: list[ControllerEvent] = []
    ctl, sim = active_controller((), events)
    ctl.run_until(START + HOUR)
    sim.advance_to(START + 11 * HOUR)  # the controller sleeps (e.g. a stalled host)
    n = len(events)
    ctl.service()
    orders = [e.effect for e in events[n:] if isinstance(e.effect, DeliveryOrder)]
    assert len(orders) == 1
    hourly = 100_000 // 24 + 1  # 1 mg/day at 10 mg/mL = 0.1 mL/day: 4167 nL per hour
    assert orders[0].volume_nl <= hourly
    assert ctl.device.phase is Phase.ACTIVE  # the finished order was reported, not overdue


def test_rejected_command_leaves_state_and_drive_untouched() -> None:
    ctl, _ = active_controller()
    before = ctl.device
    with pytest.raises(Exception, match="not allowed"):
        ctl.submit(c.Prime(C, duration_s=60))
    assert ctl.device is before


def test_wall_clock_waits_on_an_injected_sleep() -> None:
    slept: list[float] = []
    clock = WallClock(start_s=100, sleep=slept.append)
    assert clock.now_s() >= 100
    clock.wait_until(clock.now_s() + 5)
    assert slept and 3 < slept[0] <= 5


def test_core_order_kinds_are_known() -> None:
    d = run(PATHS[Phase.ACTIVE], LIB)
    out = step(d, c.Tick(Role.SERVICE), 8 * DAY, LIB)
    kinds = {e.kind for e in out.effects if isinstance(e, DeliveryOrder)}
    assert kinds <= {k.value for k in DeliveryKind}


def test_a_drive_fault_at_a_bolus_grant_starts_no_bolus_under_the_alarm() -> None:
    """REQ-ALM-001: the drive does not answer the stop of the basal order a bolus replaces; the
    fault's HIGH alarm stops all delivery in the same controller step, before the bolus order
    of the grant is carried out, so that order is never given to the drive (reported final with
    nothing delivered) and nothing moves under the alarm. Before, the bolus (10,695 nL) ran to
    its end in the alarm phase. Once the alarms are cleared and delivery resumed, only new basal
    orders run: neither the bolus nor the cut basal order comes back."""
    events: list[ControllerEvent] = []
    ctl, sim = active_controller((), events)
    basal = next(o for o in ctl.device.orders if o.kind is DeliveryKind.BASAL)
    ctl.run_until(basal.end_s - 2400)
    real_stop, calls = sim.stop, [0]

    def stop_unanswered_once() -> DriveStatus:
        calls[0] += 1
        if calls[0] == 1:
            raise DriveUnreachable("stop", "no reply", status=sim.poll())
        return real_stop()

    sim.stop = stop_unanswered_once  # type: ignore[method-assign]
    n = len(events)
    ctl.submit(c.RequestBolus(P))
    granted = [e.effect for e in events[n:] if isinstance(e.effect, DeliveryOrder)]
    assert len(granted) == 1 and granted[0].kind == "patient_bolus"  # granted, then overtaken
    assert ctl.device.phase is Phase.ALARM
    assert ctl.device.has_alarm(AlarmKind.DRIVE_FAULT)
    assert not ctl.device.orders  # every order reported final
    finals = {
        e.command.order_id: e.command.delivered_nl
        for e in events[n:]
        if isinstance(e.command, c.DriveReport) and e.command.final
    }
    assert finals[granted[0].order_id] == 0
    moved = sim.poll().delivered_nl_total
    ctl.run_until(basal.end_s + 2 * HOUR)
    assert sim.poll().delivered_nl_total == moved  # nothing moves under the HIGH alarm
    # the clinician clears the alarms and resumes: only new basal orders run, neither the bolus
    # nor the cut basal order
    for alarm in list(ctl.device.alarms):
        ctl.submit(c.ClearAlarm(C, alarm.kind, reason="checked"))
    ctl.submit(c.Resume(C, "checked"))
    assert ctl.device.phase is Phase.ACTIVE
    ctl.run_until(basal.end_s + 6 * HOUR)
    assert sim.poll().delivered_nl_total > moved  # basal goes on
    started = [t.detail.split()[0].split(".")[0] for t in sim.trace if t.event == "started"]
    assert str(granted[0].order_id) not in started
    assert started.count(str(basal.id)) == 1  # the cut order never runs again
