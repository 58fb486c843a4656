"""The delivery engine through ``step``: basal ticks, drive reports, boluses, reservoir and alarms.

Expected numbers come from docs/dosing-rules.md and the library (morphine 10 mg/mL at 1 mg/day is
0.1 mL/day = 100 000 nL/day; Prometra II low alarm 3.0 mL, empty 0.5 mL), worked by hand.
"""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import (
    DAY,
    HOUR,
    MORPHINE_PROGRAM,
    PATHS,
    C,
    P,
    S,
    reach,
    run,
    synchromed_active,
    synchromed_library,
)

from itdose.core import (
    Device,
    Library,
    LimitViolation,
    Phase,
    Priority,
    RejectedCommand,
    step,
)
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import (
    Annunciate,
    BolusDecision,
    DeliveryOrder,
    Effect,
    Projection,
    Record,
    StopDelivery,
)
from itdose.core.program import Basal, FlexStep, PatientBolusProgram
from itdose.core.state import DeliveryKind

MG = 1_000_000
ML = 1_000_000
T0 = 7 * DAY + 700  # start_dosing in PATHS[ACTIVE]
MAX_NG = 20 * MG  # morphine hard daily maximum (docs/dosing-rules.md)


class Sim:
    """Drives a device with ``step``; the simulated drive delivers every order in full at its end
    unless told otherwise, and the test keeps its own account of what the drive reported."""

    def __init__(self, device: Device, library: Library, now: int) -> None:
        self.d = device
        self.lib = library
        self.now = now
        self.pending: dict[int, tuple[int, int, str]] = {}  # id -> (volume, end, kind)
        self.reports: list[tuple[int, int, int]] = []  # (time, order id, delta nL)
        self.effects: list[tuple[int, Effect]] = []

    def do(self, command: c.Command, at: int | None = None) -> tuple[Effect, ...]:
        at = self.now if at is None else at
        out = step(self.d, command, at, self.lib)
        self.d, self.now = out.device, at
        for e in out.effects:
            self.effects.append((at, e))
            if isinstance(e, DeliveryOrder):
                self.pending[e.order_id] = (e.volume_nl, at + e.duration_s, e.kind)
        return out.effects

    def report(self, order_id: int, delivered: int, final: bool = True, at: int | None = None):
        before = next(o.reported_nl for o in self.d.orders if o.id == order_id)
        eff = self.do(c.DriveReport(S, order_id, delivered, final), at)
        self.reports.append((self.now, order_id, max(0, delivered - before)))
        if final:
            self.pending.pop(order_id, None)
        return eff

    def report_due(self) -> None:
        for oid, (vol, end, _) in sorted(self.pending.items()):
            if end <= self.now:
                self.report(oid, vol)

    def run_until(self, until: int, step_s: int = HOUR) -> None:
        """Report every order that ended, tick, and sleep until the basal segment ends (at most
        ``step_s``), up to ``until`` or until delivery stops."""
        while True:
            self.report_due()
            self.do(c.Tick(S))
            if self.d.phase is not Phase.ACTIVE:
                return
            nxt = self.d.basal_until_s if self.d.basal_until_s > self.now else self.now + step_s
            nxt = min(nxt, self.now + step_s)
            if nxt > until:
                return
            self.now = nxt

    def ordered(self, kind: str = "basal") -> list[DeliveryOrder]:
        return [e for _, e in self.effects if isinstance(e, DeliveryOrder) and e.kind == kind]


def _active(library: Library) -> Sim:
    return Sim(reach(Phase.ACTIVE, library), library, T0)


def _alarm_kinds(d: Device) -> list[AlarmKind]:
    return [a.kind for a in d.alarms]


# --- basal ticks -------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [1, 3, 7])
def test_basal_volume_is_exact_over_days(days: int, library: Library):
    sim = _active(library)
    sim.run_until(T0 + days * DAY - 1)
    sim.now = T0 + days * DAY
    sim.report_due()
    ordered = sum(o.volume_nl for o in sim.ordered())
    covered = sim.d.basal_until_s - T0  # the ordered segments tile [T0, basal_until_s)
    assert days * DAY <= covered < days * DAY + HOUR
    # 1 mg/day at 10 mg/mL = 100 000 nL/day, exactly (carry), within 1 nL.
    assert abs(ordered - 100_000 * covered / DAY) <= 1
    # each hourly order is 4166 or 4167 nL (100 000 / 24 = 4166.67), 1 h long
    # an order never exceeds 1 h of basal (4166.67 nL); segments end at the schedule day
    assert all(o.duration_s <= HOUR for o in sim.ordered())
    assert all(o.volume_nl <= 4167 for o in sim.ordered())
    # the ledger counts what was reported: 10 ng per nL at 10 mg/mL, over-counting at most the
    # reports of the one bucket that straddles the window's start (REQ-GOV-005)
    reference = 10 * sum(v for t, _, v in sim.reports if t > sim.now - DAY)
    straddling = 10 * sum(v for t, _, v in sim.reports if sim.now - DAY - 300 < t <= sim.now - DAY)
    assert reference <= sim.d.ledger.window_total_ng(sim.now) <= reference + straddling


def test_long_gap_is_not_caught_up(library: Library):
    sim = _active(library)
    sim.run_until(T0 + 2 * HOUR)
    sim.now += 10 * HOUR  # the controller slept 10 h
    sim.report_due()
    eff = sim.do(c.Tick(S))
    (order,) = [e for e in eff if isinstance(e, DeliveryOrder)]
    assert order.volume_nl in (4166, 4167)  # one hour's basal, no burst
    assert order.duration_s == HOUR


def test_tick_before_segment_end_orders_nothing_more(library: Library):
    sim = _active(library)
    sim.do(c.Tick(S))
    sim.report_due()
    eff = sim.do(c.Tick(S), T0 + 1)  # the segment ordered at T0 runs until T0 + 1 h
    assert not [e for e in eff if isinstance(e, DeliveryOrder)]


@pytest.mark.parametrize(
    "phase",
    [Phase.IMPLANTED, Phase.PRIMING, Phase.SUSPENDED, Phase.REFILL, Phase.ALARM],
    ids=lambda p: p.value,
)
def test_nothing_is_ordered_outside_active(phase: Phase, library: Library):
    """No delivery order outside the delivering phases (REQ-LIFE-005)."""
    d = reach(phase, library)
    t = PATHS[phase][-1][1]
    for k in range(1, 30):
        out = step(d, c.Tick(S), t + k * HOUR, library)
        assert not [e for e in out.effects if isinstance(e, DeliveryOrder)]
        d = out.device
        # keep the priming order from going overdue: it stays in flight, but no new order
        if d.phase is Phase.ALARM and phase is not Phase.ALARM:
            break


@pytest.mark.parametrize("kind", [AlarmKind.OCCLUSION, AlarmKind.MOTOR_STALL])
def test_high_alarm_stops_delivery_in_the_same_step(kind: AlarmKind, library: Library):
    """A stall or occlusion is HIGH and stops delivery in the same step; no order in alarm
    (REQ-ALM-001, REQ-ALM-004, REQ-LIFE-005)."""
    sim = _active(library)
    sim.do(c.Tick(S))
    eff = sim.do(c.RaiseAlarm(S, kind), T0 + 60)
    assert sim.d.phase is Phase.ALARM
    assert any(isinstance(e, StopDelivery) for e in eff)
    assert Annunciate(kind, Priority.HIGH) in eff
    # no order while in alarm, however long
    sim.report_due()
    for k in range(1, 5):
        eff = sim.do(c.Tick(S), T0 + k * HOUR)
        assert not [e for e in eff if isinstance(e, DeliveryOrder)]


def test_low_alarm_does_not_stop_delivery(library: Library):
    """ERI (LOW) annunciates while dosing continues (REQ-ALM-002, REQ-BATT-002)."""
    sim = _active(library)
    eff = sim.do(c.RaiseAlarm(S, AlarmKind.ERI))
    assert sim.d.phase is Phase.ACTIVE
    assert not any(isinstance(e, StopDelivery) for e in eff)
    eff = sim.do(c.Tick(S), T0 + 1)
    assert [e for e in eff if isinstance(e, DeliveryOrder)]


# --- drive reports -----------------------------------------------------------------------------


def _one_order(library: Library) -> tuple[Sim, DeliveryOrder]:
    sim = _active(library)
    eff = sim.do(c.Tick(S))
    (order,) = [e for e in eff if isinstance(e, DeliveryOrder)]
    return sim, order


def test_overdue_report_raises_drive_fault_via_tick(library: Library):
    """No reply from the drive is a HIGH drive fault that stops delivery (REQ-ALM-004)."""
    sim, order = _one_order(library)
    end = T0 + order.duration_s
    # grace 10 min after the end: still quiet at end + 600 s
    eff = sim.do(c.Tick(S), end + 600)
    assert sim.d.phase is Phase.ACTIVE
    assert AlarmKind.DRIVE_FAULT not in _alarm_kinds(sim.d)
    eff = sim.do(c.Tick(S), end + 601)
    assert sim.d.phase is Phase.ALARM
    assert Annunciate(AlarmKind.DRIVE_FAULT, Priority.HIGH) in eff
    assert any(isinstance(e, StopDelivery) for e in eff)


@pytest.mark.parametrize("order_id", ["same", 999])
def test_duplicate_or_unknown_report_changes_nothing(order_id: object, library: Library):
    """A duplicate or unknown report id is ignored and logged (REQ-DOSE-007)."""
    sim, order = _one_order(library)
    sim.report(order.order_id, order.volume_nl, at=T0 + HOUR)
    before = sim.d
    oid = order.order_id if order_id == "same" else order_id
    assert isinstance(oid, int)
    out = step(before, c.DriveReport(S, oid, order.volume_nl, True), T0 + HOUR + 5, library)
    assert dataclasses.replace(out.device, clock_s=before.clock_s) == before
    assert any(isinstance(e, Record) and e.event == "report_ignored" for e in out.effects)


def test_over_delivery_raises_deviation_and_counts_in_full(library: Library):
    """Delivery beyond the command is a HIGH deviation; the ledger counts what the drive reported
    (REQ-ALM-004, REQ-DOSE-006)."""
    sim, order = _one_order(library)
    res = sim.d.reservoir.volume_nl  # type: ignore[union-attr]
    window = sim.d.ledger.window_total_ng(T0 + 1800)
    over = order.volume_nl + 1000
    eff = sim.report(order.order_id, over, at=T0 + 1800)
    assert sim.d.phase is Phase.ALARM
    assert Annunciate(AlarmKind.DELIVERY_DEVIATION, Priority.HIGH) in eff
    assert any(isinstance(e, StopDelivery) for e in eff)
    assert sim.d.reservoir.volume_nl == res - over  # type: ignore[union-attr]
    assert sim.d.ledger.window_total_ng(T0 + 1800) == window + 10 * over


def test_partial_final_report_counts_only_what_was_delivered(library: Library):
    """The ledger counts what the drive reports delivered, not what was commanded (REQ-DOSE-006)."""
    sim, order = _one_order(library)
    res = sim.d.reservoir.volume_nl  # type: ignore[union-attr]
    sim.report(order.order_id, 1000, final=True, at=T0 + 900)
    assert sim.d.orders == ()
    assert sim.d.reservoir.volume_nl == res - 1000  # type: ignore[union-attr]
    assert sim.d.ledger.window_total_ng(T0 + 900) == 10 * 1000
    assert sim.d.phase is Phase.ACTIVE


def test_reservoir_decreases_by_reported_volume_only(library: Library):
    """The tracked reservoir falls by the reported volume only (REQ-DOSE-006, REQ-RES-001)."""
    sim, order = _one_order(library)
    res = sim.d.reservoir.volume_nl  # type: ignore[union-attr]
    # ordering takes nothing from the tracked reservoir
    assert res == 20 * ML - 234_000
    sim.report(order.order_id, 1000, final=False, at=T0 + 600)
    assert sim.d.reservoir.volume_nl == res - 1000  # type: ignore[union-attr]
    sim.report(order.order_id, 3000, final=False, at=T0 + 1200)  # cumulative
    assert sim.d.reservoir.volume_nl == res - 3000  # type: ignore[union-attr]
    sim.report(order.order_id, 3000, final=False, at=T0 + 1300)  # same again: no change
    assert sim.d.reservoir.volume_nl == res - 3000  # type: ignore[union-attr]
    sim.report(order.order_id, order.volume_nl, final=True, at=T0 + HOUR)
    assert sim.d.reservoir.volume_nl == res - order.volume_nl  # type: ignore[union-attr]
    assert sim.d.ledger.window_total_ng(T0 + HOUR) == 10 * order.volume_nl


# --- reservoir alarms and docs/dosing-rules.md#example-alarm-date ---------------------------------


def _alarm_date_device(library: Library) -> tuple[Sim, tuple[Effect, ...]]:
    """Prometra II refilled to 20.0 mL of morphine 10 mg/mL at 5 mg/day = 0.5 mL/day, no
    boluses (docs/dosing-rules.md#example-alarm-date)."""
    sim = _active(library)
    res = sim.d.reservoir.volume_nl  # type: ignore[union-attr]
    t = T0 + 60
    sim.do(c.BeginRefill(C), t)
    sim.do(c.RecordWithdrawal(C, withdrawn_nl=res), t + 60)
    program = dataclasses.replace(
        MORPHINE_PROGRAM, basal=Basal.continuous(5 * MG), patient_bolus=None
    )
    eff = sim.do(
        c.CompleteRefill(C, added_nl=20 * ML, concentration_ng_per_ml=10 * MG, program=program),
        t + 120,
    )
    assert sim.d.phase is Phase.ACTIVE
    assert sim.d.reservoir.volume_nl == 20 * ML  # type: ignore[union-attr]
    return sim, eff


def test_worked_example_alarm_date_projection(library: Library):
    """The worked low-reservoir and empty projection (REQ-RES-003)."""
    sim, eff = _alarm_date_device(library)
    fill = sim.now
    (proj,) = [e for e in eff if isinstance(e, Projection)]
    # (20 - 3) / 0.5 = 34 days to the low-reservoir alarm.
    assert proj.low_reservoir_at_s == fill + 34 * DAY
    # Empty threshold 0.5 mL: (20 - 0.5) / 0.5 = 39 days. docs/dosing-rules.md says "empty after 40
    # days", which is 20 / 0.5, the time to 0 mL; the empty ALARM comes at the 0.5 mL threshold.
    assert proj.empty_at_s == fill + 39 * DAY


def test_worked_example_alarm_date_over_simulated_time(library: Library):
    sim, _ = _alarm_date_device(library)
    fill = sim.now
    sim.run_until(fill + 41 * DAY)
    raised = {e.kind: t for t, e in sim.effects if isinstance(e, Annunciate) and t >= fill}
    # each hourly segment is 0.5 / 24 mL, carried exactly: 17 mL are delivered after 816 h
    assert raised[AlarmKind.LOW_RESERVOIR] == fill + 34 * DAY
    assert (fill + 34 * DAY, Annunciate(AlarmKind.LOW_RESERVOIR, Priority.LOW)) in sim.effects
    assert AlarmKind.EMPTY_RESERVOIR not in {
        e.kind for t, e in sim.effects if isinstance(e, Annunciate) and t < fill + 34 * DAY
    }
    # empty at the 0.5 mL threshold after 19.5 mL: 936 h = 39 days (not 40; see above)
    assert fill + 39 * DAY - HOUR <= raised[AlarmKind.EMPTY_RESERVOIR] <= fill + 39 * DAY
    assert sim.d.phase is Phase.ALARM
    assert sim.d.reservoir.volume_nl >= 500_000  # type: ignore[union-attr]
    # dosing went on (LOW) between the two alarms: ordered volume = delivered = 19.5 mL
    assert sum(v for _, _, v in sim.reports) == 19_500_000


def test_empty_reservoir_alarm_from_tick_stops_delivery(library: Library):
    """An empty reservoir is HIGH and stops delivery in the same step (REQ-RES-002, REQ-ALM-004)."""
    sim = _active(library)
    d = sim.d
    assert d.reservoir is not None
    sim.d = dataclasses.replace(d, reservoir=dataclasses.replace(d.reservoir, volume_nl=500_001))
    eff = sim.do(c.Tick(S))
    # 1 nL above the threshold: not empty, but the reservoir cannot hold an hour's basal
    assert AlarmKind.EMPTY_RESERVOIR in _alarm_kinds(sim.d)
    assert sim.d.phase is Phase.ALARM
    assert any(isinstance(e, StopDelivery) for e in eff)
    assert not [e for e in eff if isinstance(e, DeliveryOrder)]


def test_clear_empty_alarm_refused_until_refilled(library: Library):
    sim = _active(library)
    d = sim.d
    assert d.reservoir is not None
    sim.d = dataclasses.replace(d, reservoir=dataclasses.replace(d.reservoir, volume_nl=400_000))
    sim.do(c.Tick(S))
    assert sim.d.phase is Phase.ALARM
    with pytest.raises(RejectedCommand):
        step(sim.d, c.ClearAlarm(C, AlarmKind.EMPTY_RESERVOIR, "x"), T0 + 10, library)


# --- flex schedule (elapsed) ------------------------------------------------------------------


def test_flex_elapsed_schedule_delivers_each_step_at_its_time(library: Library):
    # 00:00-06:00 1.2 mg/day, 06:00-06:30 2.4 mg/day, 06:30-24:00 0.48 mg/day from program start
    """An elapsed flex schedule delivers each step in 24 h cycles from the program start
    (REQ-TIME-005)."""
    basal = Basal(
        steps=(
            FlexStep(0, 1_200_000),
            FlexStep(6 * HOUR, 2_400_000),
            FlexStep(6 * HOUR + 1800, 480_000),
        )
    )
    prog = dataclasses.replace(MORPHINE_PROGRAM, basal=basal)
    sim = _active(library)
    start = T0 + 100
    sim.do(c.SetProgram(C, prog), start)
    sim.report_due()
    orders: list[tuple[int, DeliveryOrder]] = []
    t = start
    while t < start + 2 * DAY:
        sim.now = t
        sim.report_due()
        eff = sim.do(c.Tick(S))
        for e in eff:
            if isinstance(e, DeliveryOrder):
                orders.append((t, e))
        t = sim.d.basal_until_s
    # segments end at step boundaries; rate = volume / duration matches the step in force
    bounds = (0, 6 * HOUR, 6 * HOUR + 1800, DAY)
    for t, o in orders:
        second = (t - start) % DAY
        i = max(k for k in range(3) if bounds[k] <= second)
        assert second + o.duration_s <= bounds[i + 1], (second, o)  # within one step
        want = (120_000, 240_000, 48_000)[i]  # nL/day at 10 mg/mL
        assert abs(o.volume_nl - want * o.duration_s / DAY) < 1, (second, o)
    # each day delivers 1.2 * 6/24 + 2.4 * 0.5/24 + 0.48 * 17.5/24 mg = 0.3 + 0.05 + 0.35 mg
    day1 = sum(o.volume_nl for t, o in orders if t < start + DAY)
    assert abs(day1 - 70_000) <= 1
    starts = [(t - start) % DAY for t, _ in orders]
    assert 6 * HOUR in starts and 6 * HOUR + 1800 in starts


# --- patient bolus ------------------------------------------------------------------------------


def _bolus(sim: Sim, at: int) -> BolusDecision:
    eff = sim.do(c.RequestBolus(P), at)
    (decision,) = [e for e in eff if isinstance(e, BolusDecision)]
    if not decision.granted:
        assert not [e for e in eff if isinstance(e, DeliveryOrder)]
    return decision


def test_lockout_exact(library: Library):
    """Lockout from the previous start, exact at its end; a denial gives the reason and the time
    remaining (REQ-BOL-001, REQ-BOL-002, REQ-GOV-009)."""
    sim = _active(library)
    first = T0 + 100
    assert _bolus(sim, first).granted
    early = _bolus(sim, first + 3599)
    assert not early.granted
    assert early.reasons == ("lockout",)
    assert early.lockout_remaining_s == 1
    assert _bolus(sim, first + 3600).granted


def test_denied_request_does_not_restart_the_lockout(library: Library):
    """A denied request orders nothing, is not recorded and does not restart the lockout
    (REQ-BOL-002, REQ-GOV-006)."""
    sim = _active(library)
    first = T0 + 100
    assert _bolus(sim, first).granted
    orders = sim.d.orders
    denied = _bolus(sim, first + 1800)
    assert not denied.granted
    assert denied.lockout_remaining_s == 1800
    assert denied.dose_ng == 100_000
    assert sim.d.orders == orders  # nothing ordered
    assert sim.d.boluses.last_start_s == first
    assert _bolus(sim, first + 3600).granted


def test_granted_bolus_orders_the_dose_volume(library: Library):
    sim = _active(library)
    eff = sim.do(c.RequestBolus(P), T0 + 100)
    (order,) = [e for e in eff if isinstance(e, DeliveryOrder)]
    # 0.1 mg at 10 mg/mL = 0.01 mL = 10 000 nL over the programmed 600 s
    assert (order.kind, order.volume_nl, order.duration_s) == ("patient_bolus", 10_000, 600)
    assert BolusDecision(True, 100_000) in eff
    assert any(isinstance(e, Projection) for e in eff)


def test_max_boluses_per_rolling_24h(library: Library):
    """At most max_per_24h in the half-open rolling window; the denial names the count (REQ-BOL-002,
    REQ-BOL-003, REQ-GOV-009, REQ-TIME-002)."""
    sim = _active(library)
    first = T0 + 100
    for k in range(4):
        t = first + k * HOUR
        sim.now = t
        sim.report_due()
        assert _bolus(sim, t).granted
    sim.now = first + 4 * HOUR
    sim.report_due()
    fifth = _bolus(sim, first + 4 * HOUR)
    assert not fifth.granted
    assert fifth.reasons == ("bolus_count",)
    sim.now = first + DAY - 1
    sim.report_due()
    assert not _bolus(sim, first + DAY - 1).granted  # the first is still in (t - 24 h, t]
    assert _bolus(sim, first + DAY).granted  # the first left the window


def _high_program(library: Library) -> Sim:
    """Morphine 10 mg/day basal, 2 mg boluses x 4 (worst case 18 mg/day, soft override)."""
    sim = _active(library)
    prog = dataclasses.replace(
        MORPHINE_PROGRAM,
        basal=Basal.continuous(10 * MG),
        patient_bolus=PatientBolusProgram(2 * MG, 600, 3600, 4),
    )
    override = c.Override("morphine.pain.soft_max_daily", "tolerant, palliative")
    sim.do(c.SetProgram(C, prog, overrides=(override,)), T0 + 10)
    return sim


def test_bolus_at_daily_cap_is_all_or_nothing_and_basal_not_reduced(library: Library):
    """Denied whole at the cap with a LOW maximum-dose alarm while basal goes on unreduced
    (REQ-BOL-004, REQ-BOL-005, REQ-GOV-008, REQ-ALM-002, REQ-ALM-006)."""
    sim = _high_program(library)
    # A clinician bolus of 8.5 mg fits (8.5 + 10 mg of basal in any later window <= 20 mg).
    sim.do(c.ClinicianBolus(C, dose_ng=8_500_000, duration_s=600), T0 + 20)
    sim.run_until(T0 + 2 * HOUR)
    sim.now += HOUR
    sim.report_due()
    # 2 mg more does not: the window just before the 8.5 mg ages out would hold
    # 8.5 + 2 + ~10 mg of basal = 20.5 mg > 20 mg. Denied whole.
    denied = _bolus(sim, sim.now)
    assert not denied.granted
    assert "daily_cap" in denied.reasons
    assert AlarmKind.MAX_DOSE_REACHED in _alarm_kinds(sim.d)
    assert sim.d.phase is Phase.ACTIVE
    assert (sim.now, Annunciate(AlarmKind.MAX_DOSE_REACHED, Priority.LOW)) in sim.effects
    assert not [o for o in sim.d.orders if o.kind is DeliveryKind.PATIENT_BOLUS]
    # basal goes on unreduced for the next day: 10 mg/day = 1 mL/day (41 666.67 nL per hour)
    n = len(sim.ordered())
    sim.run_until(sim.now + DAY)
    later = sim.ordered()[n:]
    assert all(abs(o.volume_nl - ML * o.duration_s / DAY) < 1 for o in later)
    assert len(later) >= 24
    assert not any(isinstance(e, Record) and e.event == "basal_withheld" for _, e in sim.effects)


def test_bolus_denied_while_suspended(library: Library):
    sim = Sim(reach(Phase.SUSPENDED, library), library, 8 * DAY)
    decision = _bolus(sim, 8 * DAY + 10)
    assert not decision.granted
    assert "not_delivering" in decision.reasons
    assert sim.d.boluses.last_start_s is None


def test_bolus_not_programmed(library: Library):
    sim = _active(library)
    prog = dataclasses.replace(MORPHINE_PROGRAM, patient_bolus=None)
    sim.do(c.SetProgram(C, prog), T0 + 10)
    decision = _bolus(sim, T0 + 20)
    assert not decision.granted
    assert decision.reasons == ("not_programmed",)


# --- clinician bolus ----------------------------------------------------------------------------


def test_clinician_bolus_granted_whole(library: Library):
    sim = _active(library)
    eff = sim.do(c.ClinicianBolus(C, dose_ng=2 * MG, duration_s=900), T0 + 10)
    (order,) = [e for e in eff if isinstance(e, DeliveryOrder)]
    assert (order.kind, order.volume_nl, order.duration_s) == ("clinician_bolus", 200_000, 900)


def test_clinician_bolus_that_does_not_fit_is_refused(library: Library):
    """A clinician bolus that does not fit whole under the hard cap is refused (REQ-GOV-002,
    REQ-GOV-008, REQ-LIB-002)."""
    sim = _active(library)
    # basal 1 mg/day must stay deliverable: 19.5 mg + 1 mg > 20 mg
    with pytest.raises(LimitViolation):
        step(sim.d, c.ClinicianBolus(C, dose_ng=19_500_000, duration_s=900), T0 + 10, library)
    # 21 mg alone is above the hard maximum
    with pytest.raises(LimitViolation) as exc:
        step(sim.d, c.ClinicianBolus(C, dose_ng=21 * MG, duration_s=900), T0 + 10, library)
    assert exc.value.limit_id == "morphine.pain.max_daily"


def test_clinician_bolus_refused_when_suspended(library: Library):
    d = reach(Phase.SUSPENDED, library)
    with pytest.raises(RejectedCommand):
        step(d, c.ClinicianBolus(C, dose_ng=MG, duration_s=900), 8 * DAY + 10, library)


# --- alarms: silencing, ERI and EOS -------------------------------------------------------------


def test_high_alarm_silenced_at_most_10_minutes(library: Library):
    """A HIGH alarm silence longer than 600 s is rejected (REQ-ALM-008)."""
    d = reach(Phase.ALARM, library)
    out = step(d, c.SilenceAlarm(C, AlarmKind.MOTOR_STALL, duration_s=600), 8 * DAY + 1, library)
    assert out.device.alarms[0].silenced_until_s == 8 * DAY + 601
    with pytest.raises(LimitViolation):
        step(d, c.SilenceAlarm(C, AlarmKind.MOTOR_STALL, duration_s=601), 8 * DAY + 1, library)


def test_low_alarm_silenced_longer(library: Library):
    sim = _active(library)
    sim.do(c.RaiseAlarm(S, AlarmKind.ERI), T0 + 1)
    sim.do(c.SilenceAlarm(P, AlarmKind.ERI, duration_s=3600), T0 + 2)
    assert sim.d.alarms[0].silenced_until_s == T0 + 3602


def test_eri_sets_eos_90_days_later_and_tick_raises_eos(library: Library):
    """EOS = ERI + 90 days; ERI lets dosing continue; EOS is HIGH and stops delivery (REQ-BATT-001,
    REQ-BATT-002, REQ-BATT-003, REQ-ALM-004)."""
    lib = synchromed_library(library)
    sim = Sim(synchromed_active(lib), lib, T0)
    eri = T0 + 50
    sim.do(c.RaiseAlarm(S, AlarmKind.ERI), eri)
    assert sim.d.eos_at_s == eri + 90 * DAY
    assert sim.d.phase is Phase.ACTIVE
    eff = sim.do(c.Tick(S), eri + 90 * DAY - 1)
    assert AlarmKind.END_OF_SERVICE not in _alarm_kinds(sim.d)
    sim.now = eri + 90 * DAY
    sim.report_due()
    eff = sim.do(c.Tick(S))
    assert Annunciate(AlarmKind.END_OF_SERVICE, Priority.HIGH) in eff
    assert sim.d.phase is Phase.ALARM
    assert any(isinstance(e, StopDelivery) for e in eff)
    with pytest.raises(RejectedCommand):
        step(sim.d, c.ClearAlarm(C, AlarmKind.END_OF_SERVICE, "x"), sim.now + 1, lib)


def test_prometra_eri_sets_no_eos(library: Library):
    # the library has no ERI -> EOS interval for Prometra II: no EOS is invented
    sim = _active(library)
    sim.do(c.RaiseAlarm(S, AlarmKind.ERI), T0 + 50)
    assert sim.d.eos_at_s is None


def test_rejected_command_leaves_device_untouched(library: Library):
    """A rejected command raises and leaves the device unchanged (REQ-CORE-002)."""
    sim = _active(library)
    before = sim.d
    with pytest.raises(LimitViolation):
        step(before, c.ClinicianBolus(C, dose_ng=21 * MG, duration_s=900), T0 + 10, library)
    assert sim.d == before
    assert run([], library, before) == before


def test_prime_is_refused_or_complete_when_the_fill_cannot_cover_the_dead_volume(
    library: Library,
):
    """Priming is exactly the dead volume or nothing (REQ-PRIME-001)."""
    path = [
        (cmd if not isinstance(cmd, c.Fill) else dataclasses.replace(cmd, volume_nl=600_000), at)
        for cmd, at in PATHS[Phase.IMPLANTED]
    ]
    d = run(path, library)
    d = step(d, c.SetProgram(C, MORPHINE_PROGRAM), 7 * DAY + 90, library).device
    try:
        out = step(d, c.Prime(C, duration_s=480), 7 * DAY + 120, library)
    except RejectedCommand:
        return
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    assert order.volume_nl == 234_000  # exactly the dead volume, or no priming at all
