"""The delivery engine through ``step``: basal ticks, drive reports, boluses, reservoir and alarms.

Expected numbers come from docs/dosing-rules.md and the library (morphine 10 mg/mL at 1 mg/day is
0.1 mL/day = 100 000 nL/day; Prometra II low alarm 3.0 mL, empty 0.5 mL), worked by hand.

The engine's functions (core/dosing.py) are also tested directly, each figure worked by hand
(order volumes and durations, carries, Record texts, alarm kinds, projection instants, the
volume in flight and the reservoir room through the fluid path); these also kill the mutants
mutation testing found alive (docs/mutation.md). Numbers: morphine 10 mg/mL (10 ng per nL,
10**7 fg per nL) at 1 mg/day is 100 000 nL/day; one hour of it at the tip is 10**12 fg/day x
3600 s / 86 400 s/day = 41 666 666 666 fg, which is 4166 whole nL (41 660 000 000 fg) with a
carry of 10**12 * 3600 - 41 660 000 000 * 86 400 = 576 000 000 000 (fg x s/day). Morphine hard
daily maximum 20 mg. The active device of the test kit holds 20 mL - 234 000 nL of priming =
19 766 000 nL, its fluid path (234 000 nL) holds 10 mg/mL morphine, it has no order in flight
and its next order id is 2.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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
    dosing,
    flight,
    step,
)
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.dosing import (
    apply_report,
    apply_tick,
    hard_max_ng,
    in_flight_flows,
    in_flight_nl,
    mri_resumes,
    over_delivered,
    plan_tick,
    priming_order,
    projection,
    request_bolus,
    reservoir_room_ng,
    segment_s,
)
from itdose.core.effects import (
    Annunciate,
    BolusDecision,
    CancelOrder,
    DeliveryOrder,
    Effect,
    Projection,
    Record,
    StopDelivery,
)
from itdose.core.flight import LAG_ORDER_ID, is_lag, limit_fg, plan_volume, recorded_terms
from itdose.core.governor import Reason
from itdose.core.ledger import Flow, Ledger, Piece
from itdose.core.library import MriPolicy
from itdose.core.path import NO_DRUG, FluidPath, Segment
from itdose.core.program import Basal, FlexClock, FlexStep, PatientBolusProgram, UtcOffset
from itdose.core.state import (
    ActiveAlarm,
    DeliveryKind,
    DrugLedger,
    FlushDose,
    MriSession,
    Order,
)

MG = 1_000_000
ML = 1_000_000
T0 = 7 * DAY + 700  # start_dosing in PATHS[ACTIVE]
MAX_NG = 20 * MG  # morphine hard daily maximum (docs/dosing-rules.md)


class Sim:
    """Drives a device with ``step``; the simulated drive delivers every order in full at its end
    unless told otherwise, and the test keeps its own account of what the drive reported. It
    honours ``CancelOrder`` as the drive must: it stops the order at once and reports, final, what
    it moved at the order's pace (volume x elapsed / duration, whole nL rounded down)."""

    def __init__(self, device: Device, library: Library, now: int) -> None:
        self.d = device
        self.lib = library
        self.now = now
        self.pending: dict[int, tuple[int, int, str]] = {}  # id -> (volume, end, kind)
        self.starts: dict[int, int] = {}  # id -> start
        self.reports: list[tuple[int, int, int]] = []  # (time, order id, delta nL)
        self.effects: list[tuple[int, Effect]] = []

    def do(self, command: c.Command, at: int | None = None) -> tuple[Effect, ...]:
        at = self.now if at is None else at
        out = step(self.d, command, at, self.lib)
        self.d, self.now = out.device, at
        cancelled = []
        for e in out.effects:
            self.effects.append((at, e))
            if isinstance(e, CancelOrder) and e.order_id in self.pending:
                cancelled.append(e.order_id)
            if isinstance(e, DeliveryOrder):
                self.pending[e.order_id] = (e.volume_nl, at + e.duration_s, e.kind)
                self.starts[e.order_id] = at
        for oid in cancelled:
            vol, end, _ = self.pending[oid]
            start = self.starts[oid]
            self.report(oid, vol * (at - start) // max(1, end - start), True, at)
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


def _recorded(t: int, amount_ng: int) -> Ledger:
    """A ledger holding ``amount_ng`` delivered at the instant ``t`` (one order, at a pace of its
    whole amount per second: in every window ending at a whole second it is all in or all out)."""
    fg = amount_ng * 1_000_000
    return Ledger().record(t, 1, t, fg, fg, 1)


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
    # the ledger counts exactly what the drive moved in the window when it kept each order's
    # pace: 10 ng per nL, each order spread evenly over its hour; the order straddling the
    # window's start counts only its part inside (REQ-GOV-005)
    start = sim.now - DAY
    reference = 0
    for t, e in sim.effects:
        if isinstance(e, DeliveryOrder) and t + e.duration_s <= sim.now:
            inside = max(0, t + e.duration_s - max(t, start))
            reference += Fraction(10 * e.volume_nl * inside, e.duration_s)
    assert sim.d.ledger.window_total_ng(sim.now) == math.ceil(reference)


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
    sim.now = first + 3599
    sim.report_due()  # the 600 s bolus order ended long ago: nothing is in flight
    early = _bolus(sim, first + 3599)
    assert not early.granted
    assert early.reasons == (Reason.LOCKOUT,)
    assert early.lockout_remaining_s == 1
    assert _bolus(sim, first + 3600).granted


def test_denied_request_does_not_restart_the_lockout(library: Library):
    """A denied request orders nothing, is not recorded and does not restart the lockout
    (REQ-BOL-002, REQ-GOV-006)."""
    sim = _active(library)
    first = T0 + 100
    assert _bolus(sim, first).granted
    sim.now = first + 1800
    sim.report_due()  # the bolus order is over: the denial is the lockout's alone
    orders = sim.d.orders
    denied = _bolus(sim, first + 1800)
    assert not denied.granted
    assert denied.reasons == (Reason.LOCKOUT,)
    assert denied.lockout_remaining_s == 1800
    assert denied.dose_ng == 100_000
    assert sim.d.orders == orders  # nothing ordered
    assert sim.d.boluses.last_start_s == first
    assert _bolus(sim, first + 3600).granted


def test_granted_bolus_orders_the_dose_volume(library: Library):
    sim = _active(library)
    eff = sim.do(c.RequestBolus(P), T0 + 100)
    (order,) = [e for e in eff if isinstance(e, DeliveryOrder)]
    # 0.1 mg at 10 mg/mL = 0.01 mL = 10 000 nL over the programmed 600 s, plus the basal due
    # during it (no basal order in flight: from now): 1 mg/day x 600 s = 10**12 fg x 600 / 86 400
    # = 6 944 444 444 fg, 694 whole nL at 10**7 fg/nL; the order is 10 000 + 694 = 10 694 nL
    assert (order.kind, order.volume_nl, order.duration_s) == ("patient_bolus", 10_694, 600)
    assert order.basal_nl == 694
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
    assert fifth.reasons == (Reason.BOLUS_COUNT,)
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
    assert Reason.DAILY_CAP in denied.reasons
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
    assert Reason.NOT_DELIVERING in decision.reasons
    assert sim.d.boluses.last_start_s is None


def test_bolus_not_programmed(library: Library):
    sim = _active(library)
    prog = dataclasses.replace(MORPHINE_PROGRAM, patient_bolus=None)
    sim.do(c.SetProgram(C, prog), T0 + 10)
    decision = _bolus(sim, T0 + 20)
    assert not decision.granted
    assert decision.reasons == (Reason.NOT_PROGRAMMED,)


# --- clinician bolus ----------------------------------------------------------------------------


def test_clinician_bolus_granted_whole(library: Library):
    sim = _active(library)
    eff = sim.do(c.ClinicianBolus(C, dose_ng=2 * MG, duration_s=900), T0 + 10)
    (order,) = [e for e in eff if isinstance(e, DeliveryOrder)]
    # 2 mg at 10 mg/mL = 200 000 nL, plus the basal of its 900 s: 10**12 x 900 / 86 400 fg =
    # 10 416 666 666 fg = 1041 whole nL; 201 041 nL in all
    assert (order.kind, order.volume_nl, order.duration_s) == ("clinician_bolus", 201_041, 900)
    assert order.basal_nl == 1041


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


# --- the engine's functions, exact ---------------------------------------------------------------

CONC = 10 * MG
RES_NL = 19_766_000
LOW_NL = 3_000_000
EMPTY_NL = 500_000
DENOM = CONC * DAY  # 864 000 000 000
HOUR_CARRY = 576_000_000_000  # 10**12 * 3600 - 4166 * DENOM


def _active_device(library: Library, **changes: object) -> Device:
    d = reach(Phase.ACTIVE, library)
    return dataclasses.replace(d, **changes) if changes else d  # type: ignore[arg-type]


def _with_volume(d: Device, volume_nl: int) -> Device:
    assert d.reservoir is not None
    return dataclasses.replace(d, reservoir=dataclasses.replace(d.reservoir, volume_nl=volume_nl))


def _order(
    oid: int,
    kind: DeliveryKind,
    volume_nl: int,
    *,
    reported_nl: int = 0,
    end_s: int = T0 + HOUR,
) -> Order:
    return Order(oid, kind, T0, end_s, volume_nl, reported_nl)


def _with_path(d: Device, *segments: Segment) -> Device:
    """``d`` with its fluid path holding ``segments`` (tip first; 234 000 nL in all)."""
    path = FluidPath(segments)
    path.check("path", 234_000)
    return dataclasses.replace(d, path=path)


def _refilled(d: Device, conc: int, *segments: Segment) -> Device:
    """``d`` with ``conc`` in its program and reservoir and its path holding ``segments``."""
    assert d.program is not None and d.reservoir is not None
    return dataclasses.replace(
        _with_path(d, *segments),
        program=dataclasses.replace(d.program, concentration_ng_per_ml=conc),
        reservoir=dataclasses.replace(d.reservoir, concentration_ng_per_ml=conc),
    )


# --- in flight, reservoir room, hard_max_ng ---------------------------------------------------


def test_in_flight_drug_is_counted_at_the_richest_concentration_it_pushes_out(
    library: Library,
) -> None:
    """REQ-GOV-002, REQ-GOV-004, REQ-TIP-001: each order in flight is a flow of its unreported
    volume at its pace, at the richest concentration of the drug that the volume in flight
    pushes out of the tip (exact fg, never rounded down); another drug has none in flight."""
    d = _active_device(library, next_order_id=4)
    for conc, nl in ((333_334, 3), (1, 1), (7, 142_857)):
        p = _with_path(d, Segment(234_000, "morphine", conc))
        one = dataclasses.replace(p, orders=(_order(2, DeliveryKind.BASAL, nl),))
        assert in_flight_flows(one, "morphine") == (Flow(T0, nl * conc, nl * conc, HOUR),)
    p = _with_path(d, Segment(234_000, "morphine", 333_334))
    two = dataclasses.replace(
        p,
        orders=(
            _order(2, DeliveryKind.BASAL, 3),
            _order(3, DeliveryKind.PATIENT_BOLUS, 3, end_s=T0 + 600),
        ),
    )
    # (the core never runs two orders at once; the function still counts each.) Paces are in
    # whole nL per hour, rounded up: 3 nL over 3600 s is 3 nL/h -> 3 x 333 334 = 1 000 002 fg
    # per hour; 3 nL over 600 s is 3 x 3600 / 600 = 18 nL/h -> 18 x 333 334 = 6 000 012 fg/h
    assert in_flight_flows(two, "morphine") == (
        Flow(T0, 1_000_002, 1_000_002, HOUR),
        Flow(T0, 1_000_002, 6_000_012, HOUR),
    )
    assert in_flight_flows(two, "baclofen") == ()
    assert in_flight_flows(d, "morphine") == ()


def test_in_flight_counts_unreported_volume_of_every_order(library: Library) -> None:
    """REQ-GOV-002, REQ-GOV-004, REQ-TIP-001: every order's unreported volume is in flight
    (priming too: it pushes the path like any order), from its last report on at its own pace;
    an over-reported order adds nothing. 1103 nL of 10 mg/mL in all."""
    orders = (
        Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 1000, 400, T0 + 900),  # 600 nL from T0+900
        _order(3, DeliveryKind.PRIMING, 500),  # 500 nL
        _order(4, DeliveryKind.PATIENT_BOLUS, 3),  # 3 nL
        _order(5, DeliveryKind.CLINICIAN_BOLUS, 100, reported_nl=150),  # over-reported: 0
    )
    d = _active_device(library, orders=orders, next_order_id=6)
    assert in_flight_nl(d) == 1103
    assert in_flight_flows(d, "morphine") == (
        Flow(T0 + 900, 600 * CONC, 1000 * CONC, HOUR),
        Flow(T0, 500 * CONC, 500 * CONC, HOUR),
        Flow(T0, 3 * CONC, 3 * CONC, HOUR),
    )
    assert sum(f.amount_fg for f in in_flight_flows(d, "morphine")) == 1103 * CONC
    assert (
        in_flight_nl(_active_device(library)),
        in_flight_flows(_active_device(library), "morphine"),
    ) == (0, ())


def test_in_flight_drug_is_counted_at_the_old_concentration_still_in_the_path(
    library: Library,
) -> None:
    """REQ-TIP-001, REQ-TIP-002: after a refill to 1 mg/mL the path still holds 10 then 5 mg/mL;
    1000 nL in flight push 500 nL of 10 mg/mL and 500 nL of 5 mg/mL out of the tip (7500 ng),
    counted at the richest, 10 mg/mL (10 000 ng: never less than leaves the tip); the reservoir
    room is what the usable volume behind them pushes out."""
    d = _active_device(library, orders=(_order(2, DeliveryKind.BASAL, 1000),), next_order_id=3)
    d = _with_path(d, Segment(500, "morphine", CONC), Segment(233_500, "morphine", 5 * MG))
    assert d.reservoir is not None
    d = dataclasses.replace(
        d, reservoir=dataclasses.replace(d.reservoir, concentration_ng_per_ml=MG)
    )
    assert in_flight_flows(d, "morphine") == (Flow(T0, 1000 * CONC, 1000 * CONC, HOUR),)
    # usable = 19 766 000 - 1000 - 500 000 nL: behind the 1000 nL in flight the path still
    # holds 233 000 nL of 5 mg/mL, the rest of the usable volume pushes out 1 mg/mL
    usable = RES_NL - 1000 - EMPTY_NL
    assert reservoir_room_ng(d, "morphine", EMPTY_NL) == 233_000 * 5 + (usable - 233_000)
    assert reservoir_room_ng(d, "baclofen", EMPTY_NL) == 0


def test_reservoir_room_rounds_down_and_is_zero_at_the_threshold(library: Library) -> None:
    """REQ-GOV-003: the reservoir room is the drug the usable volume (above the empty threshold,
    net of the volume in flight) pushes out of the tip, rounded DOWN; none at or below it."""
    d = _with_path(_active_device(library), Segment(234_000, "morphine", 333_334))
    assert d.reservoir is not None
    d = dataclasses.replace(
        d, reservoir=dataclasses.replace(d.reservoir, concentration_ng_per_ml=333_334)
    )
    assert reservoir_room_ng(_with_volume(d, EMPTY_NL + 3), "morphine", EMPTY_NL) == 1
    assert reservoir_room_ng(_with_volume(d, EMPTY_NL + 2), "morphine", EMPTY_NL) == 0
    assert reservoir_room_ng(_with_volume(d, EMPTY_NL), "morphine", EMPTY_NL) == 0
    assert reservoir_room_ng(_with_volume(d, 10), "morphine", EMPTY_NL) == 0
    flying = dataclasses.replace(
        _with_volume(d, EMPTY_NL + 6), orders=(_order(2, DeliveryKind.BASAL, 3),), next_order_id=3
    )
    assert reservoir_room_ng(flying, "morphine", EMPTY_NL) == 1
    assert reservoir_room_ng(dataclasses.replace(d, reservoir=None), "morphine", 0) == 0


def test_in_flight_concentration_is_read_over_exactly_the_volume_in_flight(
    library: Library,
) -> None:
    """REQ-GOV-004, REQ-TIP-002: the richest concentration of the drug in flight is read over the
    volume in flight itself, from the tip's first nanolitre to its last: one nanolitre of a
    richer fluid at the tip counts (1000 nL in flight at 10 mg/mL: 10**10 fg), one just behind
    the volume in flight does not (1000 nL at 5 mg/mL: 5 x 10**9 fg). The pace of 1000 nL over
    an hour is 1000 nL/h."""
    d = _active_device(library, orders=(_order(2, DeliveryKind.BASAL, 1000),), next_order_id=3)
    tip = _with_path(d, Segment(1, "morphine", CONC), Segment(233_999, "morphine", 5 * MG))
    assert in_flight_flows(tip, "morphine") == (Flow(T0, 1000 * CONC, 1000 * CONC, HOUR),)
    behind = _with_path(d, Segment(1000, "morphine", 5 * MG), Segment(233_000, "morphine", CONC))
    lean = 1000 * 5 * MG
    assert in_flight_flows(behind, "morphine") == (Flow(T0, lean, lean, HOUR),)


def test_a_cut_order_is_in_flight_only_for_what_its_pace_allowed_by_the_cut(
    library: Library,
) -> None:
    """REQ-TIP-004, docs/dosing-rules.md#r-tip-3: a basal order a bolus cut can still move only
    what its pace allowed between its last report (or its start) and the cut, rounded up to a
    whole nanolitre. 3601 nL over an hour is 3601 nL/h; cut 3599 s after its start it can have
    moved 3601 x 3599 / 3600 = 3599.9997 nL, so 3600 nL are in flight (of its 3601); cut 1800 s
    after a report of 1000 nL at 900 s, ceil(3601 x 900 / 3600) = 901 nL; cut at the instant of
    its last report, nothing."""

    def cut(cut_s: int, reported_nl: int = 0, reported_s: int = 0) -> Device:
        order = Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 3601, reported_nl, reported_s)
        return _active_device(
            library, orders=(dataclasses.replace(order, cut_s=cut_s),), next_order_id=3
        )

    assert in_flight_nl(cut(T0 + 3599)) == 3600
    assert in_flight_nl(cut(T0 + 1800, 1000, T0 + 900)) == 901
    assert in_flight_nl(cut(T0 + 900, 1000, T0 + 900)) == 0
    assert in_flight_nl(cut(0)) == 3601  # not cut: its whole volume


def test_the_reservoir_room_of_the_old_drug_is_what_the_path_still_holds(
    library: Library,
) -> None:
    """REQ-GOV-003, REQ-TIP-002: during a change from hydromorphone to morphine at the same
    10 mg/mL the path still holds 234 000 nL of hydromorphone: the usable volume (19 766 000 -
    500 000 nL) pushes out only those, 2 340 000 ng of hydromorphone (233 000 nL behind 1000 nL
    in flight: 2 330 000 ng), and the morphine behind them."""
    d = _with_path(_active_device(library), Segment(234_000, "hydromorphone", CONC))
    usable = RES_NL - EMPTY_NL
    assert reservoir_room_ng(d, "hydromorphone", EMPTY_NL) == 2_340_000
    assert reservoir_room_ng(d, "morphine", EMPTY_NL) == (usable - 234_000) * 10
    flying = dataclasses.replace(d, orders=(_order(2, DeliveryKind.BASAL, 1000),), next_order_id=3)
    assert reservoir_room_ng(flying, "hydromorphone", EMPTY_NL) == 2_330_000


def test_a_plan_of_the_old_drug_stops_where_the_path_holds_no_more_of_it(
    library: Library,
) -> None:
    """REQ-TIP-002: during a change from hydromorphone to morphine at the same 10 mg/mL, a
    hydromorphone order for a whole day's 1 mg (100 000 nL) after 200 000 nL in flight holds
    only the 34 000 nL of hydromorphone the path has left (340 000 ng), and the run ends; with
    nothing in flight the path holds the whole 100 000 nL and the run goes on."""
    d = _with_path(_active_device(library), Segment(234_000, "hydromorphone", CONC))
    assert plan_volume(d, 200_000, "hydromorphone", MG * 10**6) == (34_000, 34_000 * CONC, True)
    assert plan_volume(d, 0, "hydromorphone", MG * 10**6) == (100_000, MG * 10**6, False)


def test_the_drug_next_at_the_tip_is_the_one_behind_the_volume_in_flight(
    library: Library,
) -> None:
    """REQ-TIP-002: the next nanolitre out of the tip is the one behind the volume in flight:
    with 1000 nL of hydromorphone at the tip and morphine behind it, hydromorphone with 999 nL
    in flight, morphine with 1000; with the whole path (234 000 nL) in flight, the reservoir's
    morphine."""
    d = _with_path(
        _active_device(library),
        Segment(1000, "hydromorphone", CONC),
        Segment(233_000, "morphine", CONC),
    )
    for in_flight, drug in ((999, "hydromorphone"), (1000, "morphine"), (234_000, "morphine")):
        flying = dataclasses.replace(
            d, orders=(_order(2, DeliveryKind.BASAL, in_flight),), next_order_id=3
        )
        assert flight._tip_drug(flying) == drug, in_flight


@pytest.mark.parametrize(
    ("fluids", "skip", "unknown", "volume"),
    [
        ([(100, 1), (100, 10), (233_800, 1)], 0, 150, 100),  # a slug: the peak is at its start
        ([(50, 5), (60, 1), (100, 10), (233_790, 1)], 0, 200, 100),  # a slug behind two fluids
        ([(50, 5), (60, 1), (100, 10), (233_790, 1)], 20, 150, 30),  # after a skip, within
        ([(100, 10), (50, 1), (233_850, 4)], 0, 120, 60),  # a fall, a rise
        ([(200, 1), (233_800, 3)], 100, 150, 80),  # into the reservoir's fluid behind
        ([(100, 2), (50, 20), (233_850, 1)], 0, 100, 100),  # the peak where the end meets a fall
    ],
)
def test_the_most_a_volume_can_push_out_after_an_unknown_shift(
    library: Library, fluids: list[tuple[int, int]], skip: int, unknown: int, volume: int
) -> None:
    """REQ-TIP-002, REQ-GOV-004: the most drug that ``volume`` nL push out of the tip after
    ``skip`` nL and any 0..``unknown`` more is the largest over every shift, found here by
    brute force nanolitre by nanolitre over the path (tip first; concentrations in mg/mL) and the
    reservoir's 10 mg/mL behind it."""
    path = [c for nl, c in fluids for _ in range(nl)] + [10] * (skip + unknown + volume)
    brute = max(sum(path[skip + x : skip + x + volume]) for x in range(unknown + 1)) * MG
    segments = [Segment(nl, "morphine", c * MG) for nl, c in fluids if nl]
    d = _with_path(_active_device(library), *segments)
    assert flight._most_fg(d, "morphine", skip, unknown, volume) == brute


def test_an_order_across_a_change_of_concentration_flows_fluid_by_fluid(
    library: Library,
) -> None:
    """REQ-GOV-004, R-TIP-5: an order of 200 nL over an hour (200 nL/h) that pushes out 100 nL of
    10 mg/mL and then 100 nL of 5 mg/mL flows as layers from now: the excess of 5 mg/mL over the
    first 100 nL and 5 mg/mL over all 200 nL; the other way round (5 then 10 mg/mL) the 10 mg/mL
    layer starts when the drive can have moved the first 100 nL (1800 s); either way the last
    nanolitre of the fluid that ends inside the order is counted once more, 10**7 fg of the
    richer in one second. A bolus of 100 nL over 600 s (600 nL/h) after an unknown 0..30 nL of
    the cancelled order (id 7, last report 600 s ago, 60 nL/h): the cancelled part is those 30
    nL of 10 mg/mL at the richest, the bolus 100 nL of 10 mg/mL."""
    fall = _with_path(
        _active_device(library),
        Segment(100, "morphine", CONC),
        Segment(233_900, "morphine", 5 * MG),
    )
    lag = Flow(T0, CONC, CONC, 1)
    assert flight._fluid_flows(fall, "morphine", T0, 0, 0, 200, HOUR, None) == (
        (),
        (
            Flow(T0, 100 * 5 * MG, 200 * 5 * MG, HOUR),
            Flow(T0, 200 * 5 * MG, 200 * 5 * MG, HOUR),
            lag,
        ),
    )
    rise = _with_path(
        _active_device(library),
        Segment(100, "morphine", 5 * MG),
        Segment(233_900, "morphine", CONC),
    )
    assert flight._fluid_flows(rise, "morphine", T0, 0, 0, 200, HOUR, None) == (
        (),
        (
            Flow(T0, 200 * 5 * MG, 200 * 5 * MG, HOUR),
            Flow(T0 + 1800, 100 * 5 * MG, 200 * 5 * MG, HOUR),
            lag,
        ),
    )
    moved = (7, T0 - 600, 60)
    assert flight._fluid_flows(fall, "morphine", T0, 0, 30, 100, 600, moved) == (
        (Piece(7, T0 - 600, T0, 30 * CONC, 60 * CONC, HOUR),),
        (Flow(T0, 100 * CONC, 600 * CONC, HOUR), lag),
    )


def _most_pushed_out(segments: tuple[Segment, ...], skip: int, unknown: int, volume: int) -> int:
    """The most morphine (fg) ``volume`` nL push out of the tip after ``skip`` and any whole
    ``0..unknown`` nL more, nanolitre by nanolitre (independent of the engine's shifts)."""
    nl: list[int] = []
    for s in segments:
        nl.extend([s.concentration_ng_per_ml * (s.drug == "morphine")] * min(s.volume_nl, 1000))
    return max(sum(nl[skip + x : skip + x + volume]) for x in range(unknown + 1))


@pytest.mark.parametrize(
    ("low", "high"),
    [(5 * MG, CONC), (CONC, 5 * MG)],
    ids=["a richer slug between two leaner fluids", "a leaner slug between two richer fluids"],
)
def test_a_bolus_after_an_unknown_shift_across_a_slug_flows_as_the_most_it_can_push_out(
    library: Library, low: int, high: int
) -> None:
    """REQ-GOV-004, REQ-TIP-002: when the fluids within a bolus's reach both rise and fall (a
    slug of 20 nL between two others) and the cancelled basal order moved an unknown 0..30 nL
    since its last report, the bolus (100 nL over 600 s, 600 nL/h, after 10 nL of other orders)
    is one flow from now at its pace at the richest concentration within reach, of the most any
    shift can make it push out (here worked nanolitre by nanolitre: 600 ng for the richer slug,
    at a shift of 20 nL; 1000 ng for the leaner slug, at none); the cancelled part is the 30 nL
    of the first fluid at the richest of them, at the cancelled order's pace (60 nL/h, last
    report 600 s ago); the two changes of concentration each count one nanolitre of the richest
    fluid once more, in one second."""
    segments = (
        Segment(110, "morphine", low),
        Segment(20, "morphine", high),
        Segment(233_870, "morphine", low),
    )
    slug = _with_path(_active_device(library), *segments)
    most = _most_pushed_out(segments, 10, 30, 100)
    assert most == {CONC: 600 * MG, 5 * MG: 1000 * MG}[high]
    richest = max(low, high)
    assert flight._fluid_flows(slug, "morphine", T0, 10, 30, 100, 600, (7, T0 - 600, 60)) == (
        (Piece(7, T0 - 600, T0, 30 * low, 60 * low, HOUR),),
        (Flow(T0, most, 600 * richest, HOUR), Flow(T0, 2 * richest, 2 * richest, 1)),
    )


_MOVED = (7, T0 - 600, 60)  # the cancelled order: its id, last report and pace (nL/h)
_H = "hydromorphone"


@pytest.mark.parametrize(
    ("segments", "skip", "unknown", "volume", "dur", "moved", "expected"),
    [
        pytest.param(
            # a slug, no unknown shift: one flow per fluid, each from when the drive at 780 nL/h
            # can have moved what lies before it (100 nL: 461.5 s, 120 nL: 553.8 s, rounded down)
            (
                Segment(110, "morphine", 5 * MG),
                Segment(20, "morphine", CONC),
                Segment(100, "morphine", 5 * MG),
            ),
            *(10, 0, 130, 600, None),
            (
                (),
                (
                    Flow(T0, 100 * 5 * MG, 780 * 5 * MG, HOUR),
                    Flow(T0 + 461, 20 * CONC, 780 * CONC, HOUR),
                    Flow(T0 + 553, 10 * 5 * MG, 780 * 5 * MG, HOUR),
                    Flow(T0, 2 * CONC, 2 * CONC, 1),
                ),
            ),
            id="a slug and no unknown shift: one flow per fluid",
        ),
        pytest.param(
            # a rise after an unknown 0..1 nL: the bolus pushed after the whole 1 nL, as a layer;
            # the cancelled part is 1 nL of 1 ng/mL, one femtogram, and still counted
            (Segment(1, "morphine", 1),),
            *(0, 1, 100, 600, _MOVED),
            (
                (Piece(7, T0 - 600, T0, 1, 60, HOUR),),
                (Flow(T0, 100 * CONC, 600 * CONC, HOUR), Flow(T0, CONC, CONC, 1)),
            ),
            id="a rise after an unknown shift: pushed after all of it",
        ),
        pytest.param(
            # a fall through two fluids of one concentration (another drug's between): layers
            # from now at the path's concentrations (the other drug counted as this one's)
            (
                Segment(100, "morphine", CONC),
                Segment(20, _H, CONC),
                Segment(100, "morphine", 5 * MG),
            ),
            *(0, 0, 200, HOUR, None),
            (
                (),
                (
                    Flow(T0, 0, 0, HOUR),
                    Flow(T0, 120 * 5 * MG, 200 * 5 * MG, HOUR),
                    Flow(T0, 200 * 5 * MG, 200 * 5 * MG, HOUR),
                    Flow(T0, CONC, CONC, 1),
                ),
            ),
            id="a fall with two fluids of one concentration: layers",
        ),
        pytest.param(
            # a rise through two fluids of one concentration after an unknown 0..10 nL: pushed
            # after the 10 nL, one flow per fluid (another drug's between counts none)
            (Segment(50, "morphine", 5 * MG), Segment(20, _H, 5 * MG)),
            *(0, 10, 100, 600, _MOVED),
            (
                (Piece(7, T0 - 600, T0, 10 * 5 * MG, 60 * 5 * MG, HOUR),),
                (
                    Flow(T0, 40 * 5 * MG, 600 * 5 * MG, HOUR),
                    Flow(T0 + 240, 0, 0, HOUR),
                    Flow(T0 + 360, 40 * CONC, 600 * CONC, HOUR),
                    Flow(T0, CONC, CONC, 1),
                ),
            ),
            id="a rise with two fluids of one concentration after an unknown shift",
        ),
        pytest.param(
            # saline, another drug, then a rise in two steps: layers from each edge to the
            # order's end (240 nL/h: 10 nL take 150 s)
            (Segment(10, NO_DRUG, 0), Segment(10, _H, CONC), Segment(10, "morphine", 5 * MG)),
            *(0, 0, 40, 600, None),
            (
                (),
                (
                    Flow(T0, 0, 0, HOUR),
                    Flow(T0 + 150, 0, 0, HOUR),
                    Flow(T0 + 300, 20 * 5 * MG, 240 * 5 * MG, HOUR),
                    Flow(T0 + 450, 10 * 5 * MG, 240 * 5 * MG, HOUR),
                    Flow(T0, 3 * CONC, 3 * CONC, 1),
                ),
            ),
            id="saline and another drug before a rise: layers",
        ),
        pytest.param(
            # 2 nL over two hours: a pace of 1 nL/h (rounded up from 0.5), not more
            (Segment(100, "morphine", 5 * MG),),
            *(0, 0, 2, 2 * HOUR, None),
            ((), (Flow(T0, 2 * 5 * MG, 5 * MG, HOUR),)),
            id="an order of 1 nL/h flows at 1 nL/h",
        ),
    ],
)
def test_an_order_flows_fluid_by_fluid_exactly(
    library: Library,
    segments: tuple[Segment, ...],
    skip: int,
    unknown: int,
    volume: int,
    dur: int,
    moved: tuple[int, int, int] | None,
    expected: tuple[tuple[Piece, ...], tuple[Flow, ...]],
) -> None:
    """REQ-GOV-004, R-TIP-5: the flows of an order across changes of concentration, worked by
    hand from the rules in ``flight._fluid_flows``'s docstring (the path: ``segments``, then
    10 mg/mL of morphine to 234 000 nL): falling concentrations as layers from now, rising ones
    as layers from each edge, a slug (or a fluid of another drug between two of morphine) one
    flow per fluid from when the drive can have moved what lies before it, every change of
    concentration one nanolitre of the richest fluid within reach once more in one second."""
    rest = Segment(234_000 - sum(s.volume_nl for s in segments), "morphine", CONC)
    d = _with_path(_active_device(library), *segments, rest)
    assert flight._fluid_flows(d, "morphine", T0, skip, unknown, volume, dur, moved) == expected


def test_the_lag_term_is_a_flow_in_the_second_of_its_report_and_a_piece_after(
    library: Library,
) -> None:
    """R-TIP-5, REQ-GOV-004: the lag term of a richer fluid's last nanolitre (10 mg/mL: 10**7
    fg, recorded as an instant at the report ``e`` of the order that ended the fluid, id
    ``LAG_ORDER_ID + order``) is read, at ``now == e``, as a flow of 10**7 fg in one second from
    ``e`` and not also as a piece (counted once); from ``e + 1`` on as the ledger's piece. The
    ids of lag terms start at ``LAG_ORDER_ID`` itself; the id below it is an order's."""
    e = T0 + HOUR
    order = Ledger().record(e, 2, T0, 1000 * CONC, 1000 * CONC, HOUR)

    def with_lag(oid: int) -> Device:
        return _active_device(library, ledger=order.record(e, oid, e, CONC, CONC, 1))

    d = with_lag(LAG_ORDER_ID + 2)
    (moved, lag) = d.ledger.pieces
    assert is_lag(lag) and not is_lag(moved)
    assert recorded_terms(d, "morphine", e) == ((moved,), (Flow(e, CONC, CONC, 1),))
    assert recorded_terms(d, "morphine", e + 1) == ((moved, lag), ())
    first = with_lag(LAG_ORDER_ID)
    assert recorded_terms(first, "morphine", e) == (
        first.ledger.pieces[:1],
        (Flow(e, CONC, CONC, 1),),
    )
    below = with_lag(LAG_ORDER_ID - 1)
    assert recorded_terms(below, "morphine", e) == (below.ledger.pieces, ())


def test_the_limit_is_whole_nanolitres_of_each_concentration_of_its_drug(
    library: Library,
) -> None:
    """R-TIP-5, REQ-GOV-002: the hard maximum as the accounting may fill it is rounded down to
    whole nanolitres of each concentration of that drug in the path or the reservoir, and only
    of that drug. 20 mg of morphine is 2 x 10**13 fg: 2 000 000 whole nL of 10 mg/mL, but
    6 666 666.67 nL of 3 mg/mL (3 x 10**6 fg per nL), so 2 x 10**13 - 2 x 10**6 fg (2 ng less);
    10 mg of hydromorphone at 3 mg/mL is 3 333 333.33 nL, 10**13 - 10**6 fg."""
    whole = 20 * MG * 10**6
    d = _active_device(library)
    assert limit_fg(d, library) == whole
    lean = _with_path(d, Segment(234_000, "morphine", 3 * MG))
    assert limit_fg(lean, library) == limit_fg(lean, library, "morphine") == whole - 2 * 10**6
    assert d.reservoir is not None
    lean_behind = dataclasses.replace(
        d, reservoir=dataclasses.replace(d.reservoir, concentration_ng_per_ml=3 * MG)
    )
    assert limit_fg(lean_behind, library) == whole - 2 * 10**6
    # a change to morphine: the hydromorphone still in the path at 3 mg/mL sets its limit,
    # the morphine's 3 mg/mL behind it does not
    old = _with_path(d, Segment(234_000, "hydromorphone", 3 * MG))
    assert limit_fg(old, library, "hydromorphone") == 10 * MG * 10**6 - 10**6
    assert limit_fg(old, library) == whole
    old_rich = _with_path(lean_behind, Segment(234_000, "hydromorphone", CONC))
    assert limit_fg(old_rich, library, "hydromorphone") == 10 * MG * 10**6
    assert limit_fg(Device(), library) == 0


def test_hard_max_is_the_drug_limit_or_zero(library: Library) -> None:
    """REQ-GOV-002, REQ-LIB-002: the hard daily maximum of the drug in the pump; no drug, no
    dose."""
    assert hard_max_ng(_active_device(library), library) == MAX_NG
    assert hard_max_ng(Device(), library) == 0


# --- segment_s (REQ-DOSE-009) -----------------------------------------------------------------


def test_segment_is_the_time_to_the_next_change_when_shorter_than_an_hour(
    library: Library,
) -> None:
    """REQ-DOSE-009, REQ-TIME-005: never past the next rate change; an hour without asking."""
    d = _active_device(library)
    assert segment_s(d, T0, library, 3000, DAY) == 3000
    assert segment_s(d, T0, library, 5000, HOUR) == HOUR
    assert segment_s(d, T0, library, 5000, DAY) == 5000
    assert segment_s(d, T0, library, DAY, 7 * HOUR) == 7 * HOUR


def test_segment_ends_at_end_of_service_only_when_longer_than_an_hour(library: Library) -> None:
    """REQ-DOSE-009, REQ-BATT-003: a known end of service bounds a long order; inside the hour
    the hourly order stands (the tick at the end raises the alarm)."""
    assert segment_s(_active_device(library, eos_at_s=T0 + 2 * HOUR), T0, library, DAY, DAY) == 7200
    assert segment_s(_active_device(library, eos_at_s=T0 + 1800), T0, library, DAY, DAY) == HOUR
    assert segment_s(_active_device(library, eos_at_s=T0 + DAY + 5), T0, library, DAY, DAY) == DAY


def test_no_long_segment_while_the_path_holds_another_fluid(library: Library) -> None:
    """REQ-DOSE-009, REQ-TIP-003: while the path holds another concentration or drug than the
    reservoir (the rate follows the path's contents) orders keep the hour, whatever the time to
    the next change and the longest segment asked."""
    for old in (Segment(200_000, "morphine", 5 * MG), Segment(200_000, "hydromorphone", MG)):
        d = _with_path(_active_device(library), old, Segment(34_000, "morphine", CONC))
        assert segment_s(d, T0, library, DAY, DAY) == HOUR
        assert segment_s(d, T0, library, 1000, DAY) == 1000
    assert segment_s(_active_device(library), T0, library, DAY, DAY) == DAY


@pytest.mark.parametrize(("carry", "expected"), [(0, DAY), (1, HOUR)])
def test_long_segment_reservoir_check_counts_the_carry(
    library: Library, carry: int, expected: int
) -> None:
    """REQ-DOSE-009, REQ-UNIT-004: the day's volume includes the carried remainder (rounded up:
    100 001 nL with any carry), so the reservoir check is exact with it."""
    d = _with_volume(_active_device(library, basal_carry=carry), LOW_NL + 100_000 + 40_000 + 1)
    assert segment_s(d, T0, library, DAY, DAY) == expected


@pytest.mark.parametrize(("extra", "expected"), [(0, DAY), (1, HOUR)])
def test_long_segment_cap_check_uses_the_highest_step(
    library: Library, extra: int, expected: int
) -> None:
    """REQ-DOSE-009, REQ-GOV-008: with steps of 1 and 2 mg/day the order and the check use
    2 mg/day: a day-long order of 2 mg at its pace and the 0.4 mg bolus allowance. The window
    recorded at T0 - 100 is last counted in the window ending at T0 - 101 + 86 400, which holds
    86 299 s of the order at its pace: 200 000 nL over 86 400 s is 8333.33 nL/h, rounded up to
    8334 nL/h; 8334 x 86 299 / 3600 = 199 782.185 nL = 1 997 821.85 ng, counted 1 997 822."""
    d = _active_device(library)
    assert d.program is not None
    flex = Basal(steps=(FlexStep(0, 1 * MG), FlexStep(12 * HOUR, 2 * MG)))
    window = MAX_NG - 1_997_822 - 400_000 + extra
    d = dataclasses.replace(
        d,
        program=dataclasses.replace(d.program, basal=flex),
        ledger=_recorded(T0 - 100, window),
    )
    assert segment_s(d, T0, library, DAY, DAY) == expected


@pytest.mark.parametrize(("extra", "expected"), [(0, DAY), (1, HOUR)])
def test_long_segment_cap_check_counts_drug_in_flight(
    library: Library, extra: int, expected: int
) -> None:
    """REQ-DOSE-009, REQ-GOV-002: a bolus in flight (10 000 nL = 0.1 mg) counts against the cap
    beside the 0.4 mg allowance and the 86 299 s of the 1 mg/day order in the window ending when
    the recorded amount leaves it, at its pace: 100 000 nL over 86 400 s is 4166.67 nL/h, rounded
    up to 4167 nL/h; 4167 x 86 299 / 3600 = 99 891.0925 nL = 998 910.925 ng, counted 998 911.
    (The core ticks no basal while an order is in flight; the check itself still counts it.)"""
    window = MAX_NG - 998_911 - 400_000 - 100_000 + extra
    d = _active_device(
        library,
        ledger=_recorded(T0 - 100, window),
        orders=(_order(2, DeliveryKind.PATIENT_BOLUS, 10_000),),
        next_order_id=3,
    )
    assert segment_s(d, T0, library, DAY, DAY) == expected


@pytest.mark.parametrize(("extra", "expected"), [(1, DAY), (0, HOUR)])
def test_long_segment_reservoir_check_counts_volume_in_flight(
    library: Library, extra: int, expected: int
) -> None:
    """REQ-DOSE-009, REQ-RES-002: volume in flight (here 7000 nL, also not to the patient) is
    already gone from the reservoir for the check."""
    d = _active_device(
        library,
        orders=(_order(2, DeliveryKind.PRIMING, 7000),),
        next_order_id=3,
    )
    d = _with_volume(d, LOW_NL + 7000 + 100_000 + 40_000 + extra)
    assert segment_s(d, T0, library, DAY, DAY) == expected


@pytest.mark.parametrize(("extra", "expected"), [(0, DAY), (1, HOUR)])
def test_long_segment_without_patient_bolus_has_no_allowance(
    library: Library, extra: int, expected: int
) -> None:
    """REQ-DOSE-009: no patient bolus programmed, no allowance in the cap check."""
    d = _active_device(library)
    assert d.program is not None
    window = MAX_NG - 998_911 + extra  # 86 299 s of 1 mg/day at 4167 nL/h (see above)
    d = dataclasses.replace(
        d,
        program=dataclasses.replace(d.program, patient_bolus=None),
        ledger=_recorded(T0 - 100, window),
    )
    assert segment_s(d, T0, library, DAY, DAY) == expected


@pytest.mark.parametrize(("extra", "expected"), [(1, DAY), (0, HOUR)])
def test_long_segment_bolus_allowance_volume_rounds_up(
    library: Library, extra: int, expected: int
) -> None:
    """REQ-DOSE-009: 4 boluses of 100 001 ng are 400 004 ng = 40 000.4 nL, counted 40 001 nL."""
    d = _active_device(library)
    assert d.program is not None
    pb = PatientBolusProgram(dose_ng=100_001, duration_s=600, lockout_s=3600, max_per_24h=4)
    d = dataclasses.replace(d, program=dataclasses.replace(d.program, patient_bolus=pb))
    d = _with_volume(d, LOW_NL + 100_000 + 40_001 + extra)
    assert segment_s(d, T0, library, DAY, DAY) == expected


# --- plan_tick: the basal order ---------------------------------------------------------------


def test_hourly_order_and_carry_exact(library: Library) -> None:
    """REQ-UNIT-004, REQ-DOSE-006: 4166 nL with 576 * 10**9 carried; a carry of 288 * 10**9 in
    makes the hour exactly 4167 nL with nothing carried."""
    plan = plan_tick(_active_device(library), T0, library)
    assert plan == dosing.TickPlan(
        (), Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 4166), HOUR_CARRY, T0 + HOUR, (), 4166
    )
    plan = plan_tick(_active_device(library, basal_carry=288_000_000_000), T0, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.carry, plan.requested_nl) == (4167, 0, 4167)


def test_tick_at_the_segment_end_orders_and_before_it_does_not(library: Library) -> None:
    """REQ-DOSE-006: the next basal order is due exactly at the end of the previous segment."""
    at_end = plan_tick(_active_device(library, basal_until_s=T0), T0, library)
    assert at_end.order is not None and at_end.basal_until_s == T0 + HOUR
    early = plan_tick(_active_device(library, basal_until_s=T0 + 1, basal_carry=7), T0, library)
    assert early == dosing.TickPlan((), None, 7, T0 + 1)


@pytest.mark.parametrize(
    "kind",
    [
        DeliveryKind.BASAL,
        DeliveryKind.PATIENT_BOLUS,
        DeliveryKind.CLINICIAN_BOLUS,
        DeliveryKind.PRIMING,
    ],
)
def test_one_order_at_a_time(library: Library, kind: DeliveryKind) -> None:
    """REQ-DOSE-006, REQ-TIP-004: no basal tick while any order is in flight (a basal order, a
    bolus, which carries the basal due during it, or priming): the core never runs two orders at
    once, so every order keeps its pace; the segment and the carry stay as they were. Once the
    order is reported final, the next tick orders the hour (4166 nL)."""
    d = _active_device(
        library,
        orders=(_order(2, kind, 100, end_s=T0 + 60),),
        next_order_id=3,
        basal_until_s=T0,
        basal_carry=7,
    )
    plan = plan_tick(d, T0, library)
    assert plan == dosing.TickPlan((), None, 7, T0)
    done = dataclasses.replace(d, orders=(), basal_carry=0)
    assert plan_tick(done, T0, library).order == Order(3, DeliveryKind.BASAL, T0, T0 + HOUR, 4166)


def test_no_basal_order_outside_active(library: Library) -> None:
    """REQ-LIFE-005: a suspended device orders no basal, whatever the time."""
    d = reach(Phase.SUSPENDED, library)
    plan = plan_tick(d, 9 * DAY, library)
    assert plan.order is None
    assert plan.basal_until_s == d.basal_until_s


def test_basal_withheld_at_the_cap_is_cut_and_not_carried(library: Library) -> None:
    """REQ-GOV-002, REQ-GOV-010, REQ-DOSE-006, REQ-TIP-004: 20 000 ng of cap room left (with
    5 ng to spare, rounded down to whole nL): 2000 nL ordered of the 4166 requested, nothing
    carried; the withheld basal is recorded with the requested volume and the reason, and the
    MEDIUM "delivery limited" alarm is raised in the same step."""
    d = _active_device(library, ledger=_recorded(T0 - 100, MAX_NG - 20_005), basal_carry=5)
    plan = plan_tick(d, T0, library)
    assert plan == dosing.TickPlan(
        (AlarmKind.DELIVERY_LIMITED,),
        Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 2000),
        0,
        T0 + HOUR,
        (Reason.DAILY_CAP,),
        4166,
    )
    d2, effects = apply_tick(d, T0, library)
    assert effects == (
        Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM),
        Record(
            "basal_withheld",
            "service",
            T0,
            Phase.ACTIVE,
            Phase.ACTIVE,
            "requested 4166 nL; reasons: daily_cap",
        ),
        DeliveryOrder(2, "basal", 2000, HOUR),
    )
    assert d2.alarms == (ActiveAlarm(AlarmKind.DELIVERY_LIMITED, T0),)
    assert (d2.basal_carry, d2.basal_until_s, d2.next_order_id) == (0, T0 + HOUR, 3)
    assert d2.orders == (Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 2000),)


def test_basal_cut_by_the_bolus_before_it(library: Library) -> None:
    """REQ-GOV-002: while a bolus (1000 nL = 10 000 ng, over [T0 - 600, T0)) is in flight no basal
    is ordered; reported final at its end, at its pace (1000 nL x 3600 / 600 = 6000 nL/h, 1000 nL
    in 600 s: not ahead), it takes cap room from basal: of the 20 000 ng left, 10 000 ng remain
    (in the window ending at T0 - 101 + 86 400 both records and the hour's order are all in),
    i.e. 1000 nL of the 4166 requested."""
    bolus = Order(2, DeliveryKind.PATIENT_BOLUS, T0 - 600, T0, 1000)
    d = _active_device(
        library,
        ledger=_recorded(T0 - 100, MAX_NG - 20_000),
        orders=(bolus,),
        next_order_id=3,
        basal_until_s=T0,
    )
    assert plan_tick(d, T0, library).order is None
    d, effects = apply_report(d, 2, 1000, True, T0)
    assert effects == ()
    plan = plan_tick(d, T0, library)
    assert plan.order == Order(3, DeliveryKind.BASAL, T0, T0 + HOUR, 1000)
    assert plan.withheld_reasons == (Reason.DAILY_CAP,)


def test_basal_cut_to_one_nanolitre_is_still_ordered(library: Library) -> None:
    """REQ-GOV-002: 19 ng of cap room hold 1 whole nL (10 ng): it is ordered."""
    d = _active_device(library, ledger=_recorded(T0 - 100, MAX_NG - 19))
    plan = plan_tick(d, T0, library)
    assert plan.order == Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 1)
    assert (plan.carry, plan.withheld_reasons) == (0, (Reason.DAILY_CAP,))


def test_basal_withheld_whole_at_the_cap_orders_nothing(library: Library) -> None:
    """REQ-GOV-002, REQ-DOSE-006, REQ-TIP-004: at the cap nothing is ordered, the segment still
    passes (no catch-up later), the withheld request is recorded and "delivery limited" is
    raised once (not again while active)."""
    d = _active_device(library, ledger=_recorded(T0 - 100, MAX_NG), basal_carry=9)
    plan = plan_tick(d, T0, library)
    assert plan == dosing.TickPlan(
        (AlarmKind.DELIVERY_LIMITED,), None, 0, T0 + HOUR, (Reason.DAILY_CAP,), 4166
    )
    again = dataclasses.replace(d, alarms=(ActiveAlarm(AlarmKind.DELIVERY_LIMITED, T0 - 9),))
    assert plan_tick(again, T0, library).alarms == ()
    d2, effects = apply_tick(d, T0, library)
    assert effects == (
        Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM),
        Record(
            "basal_withheld",
            "service",
            T0,
            Phase.ACTIVE,
            Phase.ACTIVE,
            "requested 4166 nL; reasons: daily_cap",
        ),
    )
    assert (d2.orders, d2.next_order_id, d2.basal_until_s, d2.basal_carry) == ((), 2, T0 + HOUR, 0)


def test_basal_cut_by_cap_and_reservoir_names_both_reasons(library: Library) -> None:
    """REQ-GOV-010, REQ-RES-002: with the empty alarm already raised (so not new) and the LOW
    one new, a basal cut by both the cap (15 000 ng room) and the reservoir (2000 nL above the
    empty threshold) names both reasons, comma separated."""
    d = _active_device(
        library,
        ledger=_recorded(T0 - 100, MAX_NG - 15_000),
        alarms=(ActiveAlarm(AlarmKind.EMPTY_RESERVOIR, T0 - 50),),
    )
    d = _with_volume(d, EMPTY_NL + 2000)
    plan = plan_tick(d, T0, library)
    assert plan.alarms == (AlarmKind.LOW_RESERVOIR, AlarmKind.DELIVERY_LIMITED)
    assert plan.order == Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 1500)
    assert plan.withheld_reasons == (Reason.DAILY_CAP, Reason.RESERVOIR)
    d2, effects = apply_tick(d, T0, library)
    assert effects == (
        Annunciate(AlarmKind.LOW_RESERVOIR, Priority.LOW),
        Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM),
        Record(
            "basal_withheld",
            "service",
            T0,
            Phase.ACTIVE,
            Phase.ACTIVE,
            "requested 4166 nL; reasons: daily_cap, reservoir",
        ),
        DeliveryOrder(2, "basal", 1500, HOUR),
    )
    assert d2.alarms == (
        ActiveAlarm(AlarmKind.EMPTY_RESERVOIR, T0 - 50),
        ActiveAlarm(AlarmKind.LOW_RESERVOIR, T0),
        ActiveAlarm(AlarmKind.DELIVERY_LIMITED, T0),
    )


def test_basal_short_of_reservoir_raises_empty_and_orders_nothing(library: Library) -> None:
    """REQ-RES-002, REQ-ALM-004: 2000 nL above the empty threshold cannot hold the hour: the
    HIGH empty alarm (with the LOW one), no order, carry and segment end unchanged."""
    d = _with_volume(_active_device(library, basal_carry=11), EMPTY_NL + 2000)
    plan = plan_tick(d, T0, library)
    assert plan == dosing.TickPlan(
        (AlarmKind.LOW_RESERVOIR, AlarmKind.EMPTY_RESERVOIR), None, 11, T0
    )
    d2, effects = apply_tick(d, T0, library)
    assert effects == (
        Annunciate(AlarmKind.LOW_RESERVOIR, Priority.LOW),
        Annunciate(AlarmKind.EMPTY_RESERVOIR, Priority.HIGH),
    )
    assert [a.kind for a in d2.alarms] == [AlarmKind.LOW_RESERVOIR, AlarmKind.EMPTY_RESERVOIR]
    assert (d2.orders, d2.basal_carry, d2.basal_until_s) == ((), 11, T0)


def test_low_reservoir_alarm_with_the_order(library: Library) -> None:
    """REQ-RES-002, REQ-ALM-002: at exactly the low threshold the LOW alarm comes with the
    order; 1 nL above, none; an alarm already active is not raised again."""
    at = plan_tick(_with_volume(_active_device(library), LOW_NL), T0, library)
    assert at.alarms == (AlarmKind.LOW_RESERVOIR,)
    assert at.order is not None and at.order.volume_nl == 4166
    above = plan_tick(_with_volume(_active_device(library), LOW_NL + 1), T0, library)
    assert above.alarms == ()
    again = _active_device(library, alarms=(ActiveAlarm(AlarmKind.LOW_RESERVOIR, T0 - 5),))
    assert plan_tick(_with_volume(again, LOW_NL), T0, library).alarms == ()


def test_an_order_of_exactly_the_usable_volume_is_not_a_false_empty_reservoir(
    library: Library,
) -> None:
    """REQ-GOV-003, REQ-RES-002: at 1 234 567 ng/mL (1.234567 ng/nL) the hour's basal of
    1 mg/day (41 666 666 666 fg) is 33 750 nL (41 666 636 250 fg, asked as 41 667 ng rounded
    up). With exactly 33 750 nL above the empty threshold the order is granted whole: the usable
    volume's tip amount rounded down (41 666 ng) is not taken for an empty reservoir. With one
    nanolitre less the reservoir is short (41 665 ng usable): empty-reservoir alarm, no order.
    The same with a basal order a bolus cut still in flight (1800 nL: 3600 nL/h cut half-way),
    which the usable volume is net of."""
    conc = 1_234_567
    d = _refilled(_active_device(library), conc, Segment(234_000, "morphine", conc))
    assert 33_750 * conc <= 10**12 * HOUR // DAY < 33_751 * conc
    whole = plan_tick(_with_volume(d, EMPTY_NL + 33_750), T0, library)
    assert whole.order is not None and whole.order.volume_nl == 33_750
    assert (whole.alarms, whole.withheld_reasons) == ((AlarmKind.LOW_RESERVOIR,), ())
    short = plan_tick(_with_volume(d, EMPTY_NL + 33_749), T0, library)
    assert short.order is None and AlarmKind.EMPTY_RESERVOIR in short.alarms
    cut = Order(5, DeliveryKind.BASAL, T0 - HOUR, T0, 3600, cut_s=T0 - HOUR // 2)
    d = dataclasses.replace(d, orders=(cut,), next_order_id=6)
    whole = plan_tick(_with_volume(d, EMPTY_NL + 1800 + 33_750), T0, library)
    assert whole.order is not None and whole.order.volume_nl == 33_750
    assert whole.withheld_reasons == ()
    short = plan_tick(_with_volume(d, EMPTY_NL + 1800 + 33_749), T0, library)
    assert short.order is None and AlarmKind.EMPTY_RESERVOIR in short.alarms


@pytest.mark.parametrize(
    ("volume", "alarms"),
    [
        (234_000 + EMPTY_NL, (AlarmKind.EMPTY_RESERVOIR,)),
        (234_000 + EMPTY_NL + 1, (AlarmKind.LOW_RESERVOIR,)),
        (234_000 + LOW_NL, (AlarmKind.LOW_RESERVOIR,)),
        (234_000 + LOW_NL + 1, ()),
    ],
)
def test_reservoir_alarms_while_priming_count_the_volume_in_flight(
    library: Library, volume: int, alarms: tuple[AlarmKind, ...]
) -> None:
    """REQ-RES-002, REQ-PRIME-001: while priming, the reservoir net of the priming order in
    flight (234 000 nL) is checked against the thresholds."""
    d = _with_volume(reach(Phase.PRIMING, library), volume)
    plan = plan_tick(d, 7 * DAY + 130, library)
    assert plan.alarms == alarms
    assert plan.order is None


def test_no_reservoir_alarm_during_a_refill(library: Library) -> None:
    """REQ-REF-001, REQ-RES-002: the reservoir is empty on purpose during a refill."""
    d = _with_volume(reach(Phase.REFILL, library), 0)
    assert plan_tick(d, 8 * DAY + 10, library).alarms == ()


def test_basal_follows_the_old_concentration_in_the_path(library: Library) -> None:
    """REQ-TIP-002, REQ-TIP-003: after a concentration change the path still holds the old
    fluid: the hour's 1 mg/day at the tip is 8333 nL of 5 mg/mL (carry 144 * 10**9), sized by
    what leaves the tip, not by the reservoir's 10 mg/mL."""
    d = _with_path(
        _active_device(library),
        Segment(200_000, "morphine", 5 * MG),
        Segment(34_000, "morphine", CONC),
    )
    plan = plan_tick(d, T0, library)
    assert plan == dosing.TickPlan(
        (),
        Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 8333),
        144_000_000_000,
        T0 + HOUR,
        (),
        8333,
    )


def test_basal_across_a_concentration_boundary_is_exact(library: Library) -> None:
    """REQ-TIP-002, REQ-UNIT-004: a basal order keeps one concentration. 1000 nL of 5 mg/mL
    (5000 ng) then 10 mg/mL: the first order is those 1000 nL over the 432 s that 5000 ng last at
    1 mg/day (nothing carried); once reported (with R-TIP-5's lag term, one nanolitre of the
    5 mg/mL fluid, in the windows across the change), the next tick orders the first second of
    10 mg/mL alone (1 nL, carry 0.136 nL), then the hour (4166 nL, carry 0.712 nL): 4167 nL of
    the 4167.36 nL an hour and a second hold at 1 mg/day, from the instant the new fluid reaches
    the tip."""
    d = _with_path(
        _active_device(library),
        Segment(1000, "morphine", 5 * MG),
        Segment(233_000, "morphine", CONC),
    )
    plan = plan_tick(d, T0, library)
    assert plan == dosing.TickPlan(
        (), Order(2, DeliveryKind.BASAL, T0, T0 + 432, 1000), 0, T0 + 432, (), 1000
    )
    d2, _ = apply_tick(d, T0, library)
    d3, effects = apply_report(d2, 2, 1000, True, T0 + 432)
    assert effects == ()
    assert d3.ledger.window_total_ng(T0 + 432) == 5000 + 5  # the lag term
    nxt = plan_tick(d3, T0 + 432, library)
    assert nxt.order == Order(3, DeliveryKind.BASAL, T0 + 432, T0 + 433, 1)
    assert (nxt.carry, nxt.alarms, nxt.withheld_reasons) == (136 * 10**9, (), ())
    d4, _ = apply_tick(d3, T0 + 432, library)
    d5, _ = apply_report(d4, 3, 1, True, T0 + 433)
    hour = plan_tick(d5, T0 + 433, library)
    assert hour.order == Order(4, DeliveryKind.BASAL, T0 + 433, T0 + 433 + HOUR, 4166)
    assert (hour.carry, hour.alarms, hour.withheld_reasons) == (712 * 10**9, (), ())


def _old_drug_first(library: Library, old_nl: int) -> Device:
    """Morphine 10 mg/mL in the reservoir and program, with ``old_nl`` of hydromorphone
    10 mg/mL still at the tip (a drug change), delivered at its old 1 mg/day."""
    d = _with_path(
        _active_device(library, basal_carry=3, flush_doses=(FlushDose("hydromorphone", MG),)),
        Segment(old_nl, "hydromorphone", CONC),
        Segment(234_000 - old_nl, "morphine", CONC),
    )
    return d


def test_last_piece_of_an_old_drug_is_shorter_at_the_old_rate(library: Library) -> None:
    """REQ-TIP-003: 667 nL of the old drug left at 100 000 nL/day take ceil(576.288) = 577 s;
    the segment ends there (never faster) and nothing is carried into the new drug."""
    plan = plan_tick(_old_drug_first(library, 667), T0, library)
    assert plan == dosing.TickPlan(
        (), Order(2, DeliveryKind.BASAL, T0, T0 + 577, 667), 0, T0 + 577, (), 667
    )


def test_old_drug_piece_exactly_the_rest_carries_nothing(library: Library) -> None:
    """REQ-TIP-003: when an hour's 4166 nL is exactly what is left of the old drug, it is the
    last piece: ceil(4166 x 0.864) = 3600 s, and no carry survives."""
    plan = plan_tick(_old_drug_first(library, 4166), T0, library)
    assert plan.order == Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 4166)
    assert plan.carry == 0


def test_last_old_drug_nanolitre_goes_with_the_new_drug(library: Library) -> None:
    """REQ-TIP-003: the last nanolitre of the old drug (0.864 s at 100 000 nL/day) is not an
    order of its own (a drive moving a little less than ordered would leave it again, without
    end): it goes out first in the new drug's hourly order (4166 nL at 1 mg/day), each drug
    counted in its own window as it leaves (R-TIP-3, MIN_RUN_NL)."""
    plan = plan_tick(_old_drug_first(library, 1), T0, library)
    assert plan.order == Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 4167)
    assert plan.basal_until_s == T0 + HOUR


def test_an_old_drug_runs_at_its_own_flush_dose_among_several(library: Library) -> None:
    """REQ-TIP-003: with the flush doses of two old drugs recorded (a second drug change), the
    drug at the tip runs at its own: 667 nL of hydromorphone at 1 mg/day (100 000 nL/day) take
    ceil(576.288) = 577 s, whatever the other old drug's dose."""
    flush = (FlushDose("ziconotide", 2_400), FlushDose("hydromorphone", MG))
    d = dataclasses.replace(_old_drug_first(library, 667), flush_doses=flush)
    plan = plan_tick(d, T0, library)
    assert plan.order == Order(2, DeliveryKind.BASAL, T0, T0 + 577, 667)
    assert plan.carry == 0


@pytest.mark.parametrize(
    "flush", [(), (FlushDose("ziconotide", 2_400),)], ids=["none", "another-drug"]
)
def test_an_old_drug_of_unknown_dose_at_the_tip_is_not_delivered(
    flush: tuple[FlushDose, ...], library: Library
) -> None:
    """REQ-TIP-003: a state from outside whose old drug at the tip has no recorded dose (every
    drug change records one): its rate is unknown, so none of it is ordered (rate zero); the
    segment still ends an hour later and the carry is kept."""
    d = dataclasses.replace(_old_drug_first(library, 667), flush_doses=flush)
    plan = plan_tick(d, T0, library)
    assert plan.order is None and plan.requested_nl == 0
    assert (plan.carry, plan.basal_until_s, plan.alarms) == (3, T0 + HOUR, ())


def test_no_basal_is_planned_while_no_drug_is_at_the_tip(library: Library) -> None:
    """REQ-TIP-002: a state from outside marked primed whose catheter still holds the implant's
    no-drug fluid at the tip: there is no drug whose rate could size a basal order, so none is
    planned and the segment does not advance."""
    d = _with_path(
        _active_device(library, basal_carry=3),
        Segment(667, NO_DRUG, 0),
        Segment(234_000 - 667, "morphine", CONC),
    )
    plan = plan_tick(d, T0, library)
    assert plan == dosing.TickPlan((), None, 3, d.basal_until_s)
    assert d.basal_until_s <= T0


@pytest.mark.parametrize(
    ("room_ng", "order_nl", "carry", "reasons", "alarms"),
    [
        # 2 ng short of 4166 nL (41 660 ng): 4165 nL fit and the last nL is a rounding unit,
        # carried: 10**12 x 3600 - 4165 x 10**7 x 86 400
        (41_658, 4165, 1_440_000_000_000, (), ()),
        # 12 ng short: 4164 nL fit, two short of the request: withheld, nothing carried
        (41_648, 4164, 0, (Reason.DAILY_CAP,), (AlarmKind.DELIVERY_LIMITED,)),
    ],
)
def test_one_nanolitre_the_cap_cannot_take_carries_and_more_is_withheld(
    room_ng: int,
    order_nl: int,
    carry: int,
    reasons: tuple[Reason, ...],
    alarms: tuple[AlarmKind, ...],
    library: Library,
) -> None:
    """REQ-GOV-002, REQ-TIP-004: the window already holds 20 mg minus ``room_ng`` of morphine
    (a second ago). An hour's basal (4166 nL) does not fit: one nL less is a rounding unit that
    carries to the next segment with nothing withheld and no alarm (an accepted program is
    delivered in full); two nL less is a cut by the daily cap, which withholds and alarms."""
    d = _active_device(library, ledger=_recorded(T0 - 1, 20 * MG - room_ng))
    plan = plan_tick(d, T0, library)
    assert plan.requested_nl == 4166
    assert plan.order == Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, order_nl)
    assert (plan.carry, plan.withheld_reasons, plan.alarms) == (carry, reasons, alarms)


def test_old_drug_is_held_to_its_own_daily_cap(library: Library) -> None:
    """REQ-TIP-001, REQ-GOV-002: the old drug's window is its own ledger, against its own hard
    maximum (hydromorphone 10 mg/day); the morphine window does not limit it."""
    d = _old_drug_first(library, 100_000)
    full = dataclasses.replace(
        d,
        other_ledgers=(DrugLedger("hydromorphone", _recorded(T0 - 100, 10 * MG - 20_005)),),
        ledger=_recorded(T0 - 100, MAX_NG),
    )
    plan = plan_tick(full, T0, library)
    assert plan.order == Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 2000)
    assert plan.withheld_reasons == (Reason.DAILY_CAP,)
    morphine_full = dataclasses.replace(d, ledger=_recorded(T0 - 100, MAX_NG))
    assert plan_tick(morphine_full, T0, library).order == Order(
        2, DeliveryKind.BASAL, T0, T0 + HOUR, 4166
    )


def test_elapsed_flex_segment_ends_at_the_step(library: Library) -> None:
    """REQ-TIME-005: 100 s into the elapsed day (program started 100 s ago) the 2 mg/day step
    at 1 h is 3500 s away: 1 mg/day for 3500 s = 4050 nL (carry 8 * 10**11)."""
    d = _active_device(library)
    assert d.program is not None
    flex = Basal(steps=(FlexStep(0, 1 * MG), FlexStep(HOUR, 2 * MG)))
    d = dataclasses.replace(
        d, program=dataclasses.replace(d.program, basal=flex), program_start_s=T0 - 100
    )
    plan = plan_tick(d, T0, library)
    assert plan.order == Order(2, DeliveryKind.BASAL, T0, T0 + 3500, 4050)
    assert plan.carry == 10**12 * 3500 - 4050 * DENOM
    # a day later the schedule day repeats
    later = plan_tick(dataclasses.replace(d, basal_until_s=0), T0 + DAY, library)
    assert later.basal_until_s == T0 + DAY + 3500


def test_wall_clock_flex_uses_local_time(library: Library) -> None:
    """REQ-TIME-005, REQ-TIME-003: a wall schedule follows local time = monotonic + (UTC -
    monotonic) + offset; here local 11:58:20, so the 12:00 step is 100 s away."""
    d = _active_device(library)
    assert d.program is not None
    flex = Basal(
        steps=(FlexStep(0, 1 * MG), FlexStep(12 * HOUR, 2 * MG)),
        clock=FlexClock.WALL,
        timezone="Etc/GMT-1",
        utc_offsets=(UtcOffset(0, HOUR),),
    )
    utc_minus_mono = 12 * HOUR - 100 - HOUR - T0 % DAY + 3 * DAY
    d = dataclasses.replace(
        d, program=dataclasses.replace(d.program, basal=flex), utc_minus_mono_s=utc_minus_mono
    )
    plan = plan_tick(d, T0, library)
    assert plan.order == Order(2, DeliveryKind.BASAL, T0, T0 + 100, 115)


# --- plan_tick: other alarms, purity ----------------------------------------------------------


def test_high_alarm_keeps_carry_and_segment(library: Library) -> None:
    """REQ-ALM-004, REQ-BATT-003: at the end of service no order; carry and segment end stay."""
    d = _active_device(library, eos_at_s=T0, basal_carry=42, basal_until_s=T0 - 5)
    assert plan_tick(d, T0, library) == dosing.TickPlan(
        (AlarmKind.END_OF_SERVICE,), None, 42, T0 - 5
    )
    before = plan_tick(_active_device(library, eos_at_s=T0 + 1), T0, library)
    assert before.alarms == () and before.order is not None


def test_overdue_order_is_a_drive_fault(library: Library) -> None:
    """REQ-ALM-004: an order unreported 600 s after its end is a HIGH drive fault."""
    d = _active_device(library, orders=(_order(2, DeliveryKind.PATIENT_BOLUS, 100, end_s=T0),))
    d = dataclasses.replace(d, next_order_id=3)
    assert plan_tick(d, T0 + 600, library).alarms == ()
    assert plan_tick(d, T0 + 601, library).alarms == (AlarmKind.DRIVE_FAULT,)


def test_plan_answers_the_longest_segment_asked(library: Library) -> None:
    """REQ-CORE-001: the plan is a function of the question asked (here the longest segment)."""
    d = _active_device(library)
    assert plan_tick(d, T0, library, DAY).basal_until_s == T0 + DAY
    assert plan_tick(d, T0, library, 2 * HOUR).basal_until_s == T0 + 2 * HOUR
    assert plan_tick(d, T0, library, 2 * HOUR).basal_until_s == T0 + 2 * HOUR
    assert plan_tick(d, T0 + 1, library, 2 * HOUR).basal_until_s == T0 + 1 + 2 * HOUR


# --- apply_report ------------------------------------------------------------------------------


def _ticked(library: Library) -> Device:
    """Active with the first hourly basal order (id 2, 4166 nL) in flight; the lifetime total
    (0.3 mg of trial dose) set to zero so that what reports add shows."""
    d, _ = apply_tick(_active_device(library, delivered_ng=0), T0, library)
    return d


def test_unknown_report_is_logged_and_changes_nothing(library: Library) -> None:
    """REQ-DOSE-007, REQ-PERS-002: an unknown id changes nothing; the Record says why."""
    d = _ticked(library)
    d2, effects = apply_report(d, 999, 10, True, T0 + 5)
    assert d2 is d
    assert effects == (
        Record(
            "report_ignored",
            "service",
            T0 + 5,
            Phase.ACTIVE,
            Phase.ACTIVE,
            "order 999: unknown or already finished (duplicate report)",
        ),
    )


def test_partial_reports_are_cumulative(library: Library) -> None:
    """REQ-DOSE-006, REQ-GOV-004: a non-final report counts the increase and keeps the order
    with its reported volume; the drug counted is rounded up per report. The drive keeps the
    order's pace (4166 nL/h): half of it, 2083 nL, at half its hour, the rest at its end."""
    d = _ticked(library)
    d, effects = apply_report(d, 2, 2083, False, T0 + 1800)
    assert effects == ()
    assert d.orders == (
        Order(2, DeliveryKind.BASAL, T0, T0 + HOUR, 4166, reported_nl=2083, reported_s=T0 + 1800),
    )
    assert d.reservoir is not None and d.reservoir.volume_nl == RES_NL - 2083
    assert d.ledger.window_total_ng(T0 + 1800) == 20_830
    assert d.delivered_ng == 20_830
    assert (d.primed_nl, d.primed) == (234_000, True)  # basal does not prime
    same, effects = apply_report(d, 2, 2083, False, T0 + 2000)  # the same cumulative volume
    assert effects == ()
    assert same.ledger == d.ledger
    assert same.orders == (dataclasses.replace(d.orders[0], reported_s=T0 + 2000),)
    d, effects = apply_report(d, 2, 4166, True, T0 + HOUR)
    assert effects == () and d.orders == ()
    assert d.reservoir is not None and d.reservoir.volume_nl == RES_NL - 4166
    assert d.ledger.window_total_ng(T0 + HOUR) == 41_660
    assert d.delivered_ng == 41_660


def test_report_going_down_is_recorded_and_ignored(library: Library) -> None:
    """REQ-DOSE-006: a cumulative volume that goes down counts nothing and is recorded."""
    d = _ticked(library)
    d, _ = apply_report(d, 2, 3000, False, T0 + 2600)  # on pace: 4166 x 2600 / 3600 = 3008
    d2, effects = apply_report(d, 2, 1000, False, T0 + 2700)
    assert effects == (
        Record(
            "report_inconsistent",
            "service",
            T0 + 2700,
            Phase.ACTIVE,
            Phase.ACTIVE,
            "order 2: cumulative volume went down (3000 -> 1000 nL); ignored",
        ),
    )
    assert d2.orders == (dataclasses.replace(d.orders[0], reported_s=T0 + 2700),)  # still 3000
    assert d2.reservoir == d.reservoir
    assert d2.ledger == d.ledger
    assert d2.delivered_ng == d.delivered_ng == 30_000


def test_report_rounds_the_dose_up_at_the_tip_concentration(library: Library) -> None:
    """REQ-GOV-003, REQ-GOV-004, REQ-TIP-001: 3 nL pushed out of a tip holding 333 334 ng/mL
    count 2 ng (the reservoir's 10 mg/mL does not matter)."""
    d = _active_device(
        library,
        orders=(_order(2, DeliveryKind.PATIENT_BOLUS, 10),),
        next_order_id=3,
        delivered_ng=0,
    )
    d = _with_path(d, Segment(234_000, "morphine", 333_334))
    d, _ = apply_report(d, 2, 3, False, T0 + 10)
    assert d.ledger.window_total_ng(T0 + 10) == 2
    assert d.delivered_ng == 2


def test_reservoir_never_goes_below_zero(library: Library) -> None:
    """REQ-RES-001: the tracked reservoir falls by the reported volume, floored at zero."""
    d = _with_volume(_ticked(library), 1000)
    d, _ = apply_report(d, 2, 3000, False, T0 + 2600)
    assert d.reservoir is not None and d.reservoir.volume_nl == 0
    assert d.ledger.window_total_ng(T0 + 2600) == 30_000


def test_over_delivery_is_a_deviation_but_exact_delivery_is_not(library: Library) -> None:
    """REQ-ALM-004, REQ-DOSE-006: exactly the ordered volume is no deviation; 1 nL more raises
    the HIGH delivery-deviation alarm once and is counted in full."""
    d = _ticked(library)
    assert not over_delivered(d, 2, 4166, T0 + HOUR)
    assert over_delivered(d, 2, 4167, T0 + HOUR)
    assert not over_delivered(d, 999, 10**9, T0 + HOUR)
    # ahead of the order's pace: half its volume a quarter into its hour
    assert over_delivered(d, 2, 2083, T0 + HOUR // 4)
    assert not over_delivered(d, 2, 1041, T0 + HOUR // 4)
    exact, effects = apply_report(d, 2, 4166, False, T0 + HOUR)
    assert effects == () and exact.alarms == ()
    over, effects = apply_report(exact, 2, 4167, False, T0 + HOUR + 100)
    assert effects == (Annunciate(AlarmKind.DELIVERY_DEVIATION, Priority.HIGH),)
    assert over.alarms == (ActiveAlarm(AlarmKind.DELIVERY_DEVIATION, T0 + HOUR + 100),)
    assert over.orders[0].reported_nl == 4167
    assert over.delivered_ng == 41_670
    again, _ = apply_report(over, 2, 4200, True, T0 + HOUR + 200)
    assert again.alarms == over.alarms


@pytest.mark.parametrize(
    ("delivered", "at", "ahead"),
    [
        # the pace allows 4166 x (elapsed + 1 s) / 3600 (one second of report granularity)
        (1042, T0 + 900, False),  # 1042 x 3600 <= 4166 x 901
        (1043, T0 + 900, True),  # 1043 x 3600 > 4166 x 901: faster than the order's pace
        (4166, T0 + HOUR - 2, True),  # 4166 x 3600 > 4166 x 3599
        (4166, T0 + HOUR - 1, False),
        (1, T0, False),  # within the second the order starts: 1 x 3600 <= 4166 x 1
        (2, T0, True),
    ],
)
def test_a_report_ahead_of_the_orders_pace_is_a_high_deviation(
    library: Library, delivered: int, at: int, ahead: bool
) -> None:
    """REQ-GOV-004, REQ-ALM-004: the ledger trusts the drive to move an order no faster than its
    pace (4166 nL over 3600 s); a report of more than that pace allows by its time raises the
    HIGH delivery-deviation alarm in the same step, and the volume is still counted in full."""
    d = _ticked(library)
    d2, effects = apply_report(d, 2, delivered, False, at)
    deviation = (Annunciate(AlarmKind.DELIVERY_DEVIATION, Priority.HIGH),)
    assert effects == (deviation if ahead else ())
    assert (AlarmKind.DELIVERY_DEVIATION in _alarm_kinds(d2)) is ahead
    assert d2.delivered_ng == d.delivered_ng + 10 * delivered


def test_final_report_removes_only_that_order(library: Library) -> None:
    """REQ-DOSE-006: a final report ends its order; the others stay untouched."""
    bolus = _order(3, DeliveryKind.PATIENT_BOLUS, 10_000, end_s=T0 + 600)
    d = _ticked(library)
    d = dataclasses.replace(d, orders=(*d.orders, bolus), next_order_id=4)
    d2, _ = apply_report(d, 3, 500, False, T0 + 100)
    assert d2.orders == (
        d.orders[0],
        dataclasses.replace(bolus, reported_nl=500, reported_s=T0 + 100),
    )
    d3, _ = apply_report(d2, 3, 10_000, True, T0 + 600)
    assert d3.orders == (d.orders[0],)


def test_priming_reports_fill_the_catheter_not_the_patient(library: Library) -> None:
    """REQ-PRIME-001, REQ-PRIME-002: priming counts toward the dead volume (234 000 nL), takes
    from the reservoir, and is not dose to the patient."""
    d = dataclasses.replace(reach(Phase.PRIMING, library), delivered_ng=0)
    t = 7 * DAY + 600  # the end of the 480 s priming order: on its pace
    d, effects = apply_report(d, 1, 233_999, False, t)
    assert effects == ()
    assert (d.primed_nl, d.primed) == (233_999, False)
    assert d.reservoir is not None and d.reservoir.volume_nl == 20_000_000 - 233_999
    assert d.ledger.window_total_ng(t) == 0
    assert d.delivered_ng == 0
    d, _ = apply_report(d, 1, 234_000, True, t + 100)
    assert (d.primed_nl, d.primed) == (234_000, True)
    assert d.ledger.window_total_ng(t + 100) == 0
    assert d.orders == ()


def test_report_pushes_the_path_and_counts_what_leaves_the_tip(library: Library) -> None:
    """REQ-TIP-001: 4166 nL reported push 4166 nL of the old 5 mg/mL out of the tip (20 830 ng
    counted) and take 4166 nL of the reservoir's 10 mg/mL in at the pump end."""
    d = _with_path(
        _ticked(library), Segment(200_000, "morphine", 5 * MG), Segment(34_000, "morphine", CONC)
    )
    d2, effects = apply_report(d, 2, 4166, True, T0 + HOUR)
    assert effects == ()
    assert d2.path == FluidPath(
        (Segment(195_834, "morphine", 5 * MG), Segment(38_166, "morphine", CONC))
    )
    assert d2.ledger.window_total_ng(T0 + HOUR) == 20_830
    assert d2.delivered_ng == 20_830
    assert d2.reservoir is not None and d2.reservoir.volume_nl == RES_NL - 4166


def test_old_drug_leaving_the_tip_goes_to_its_own_ledger_and_ends_its_flush(
    library: Library,
) -> None:
    """REQ-TIP-001, REQ-TIP-003: the old drug leaving the tip is counted in its own ledger; its
    flush dose ends exactly when the last of it has left (666 nL: still there; 667: gone)."""
    d = dataclasses.replace(_old_drug_first(library, 667), delivered_ng=0)
    d = dataclasses.replace(d, orders=(_order(2, DeliveryKind.BASAL, 667),), next_order_id=3)
    d2, _ = apply_report(d, 2, 666, False, T0 + 500)
    assert d2.flush_doses == (FlushDose("hydromorphone", MG),)
    assert dosing.ledger_of(d2, "hydromorphone").window_total_ng(T0 + 500) == 6_660
    assert d2.ledger.window_total_ng(T0 + 500) == 0
    d3, _ = apply_report(d2, 2, 667, True, T0 + 577)
    assert d3.flush_doses == ()
    assert d3.path == FluidPath((Segment(234_000, "morphine", CONC),))
    # 6,670 ng left, and its last nanolitre (10 ng) is counted once more: the fluid behind it
    # holds no hydromorphone (REQ-TIP-005)
    assert dosing.ledger_of(d3, "hydromorphone").window_total_ng(T0 + 577) == 6_680
    assert d3.ledger.window_total_ng(T0 + 577) == 0
    assert d3.delivered_ng == 6_670
    more, _ = apply_report(
        dataclasses.replace(d3, orders=(_order(3, DeliveryKind.BASAL, 5),), next_order_id=4),
        3,
        5,
        True,
        T0 + 600,
    )
    assert more.ledger.window_total_ng(T0 + 600) == 50


# --- request_bolus, projection ------------------------------------------------------------------


def test_granted_bolus_effects_exact(library: Library) -> None:
    """REQ-BOL-001, REQ-GOV-008, REQ-RES-003: a granted bolus orders its volume (10 000 nL and
    the 694 nL of basal due in its 600 s: 10**12 fg/day x 600 / 86 400 = 6 944 444 444 fg), starts
    the lockout and projects the low and empty instants with it in flight: (19 766 000 - 10 694 -
    3 000 000) nL at 140 000 nL/day (1 mg basal + 4 x 0.1 mg) = 16 755 306 x 86 400 / 140 000 =
    10 340 417.6 s, 10 340 417; to 0.5 mL 19 255 306 x 86 400 / 140 000 = 11 883 274.6 s."""
    d = _active_device(library)
    now = T0 + 100
    d2, effects = request_bolus(d, now, library)
    order = Order(2, DeliveryKind.PATIENT_BOLUS, now, now + 600, 10_694)
    assert d2.orders == (order,)
    assert d2.next_order_id == 3
    assert d2.boluses.last_start_s == now
    assert effects == (
        BolusDecision(True, 100_000),
        DeliveryOrder(2, "patient_bolus", 10_694, 600, basal_nl=694),
        Projection(now + 10_340_417, now + 11_883_274),
    )


def test_bolus_volume_is_rounded_down(library: Library) -> None:
    """REQ-GOV-003: 100 005 ng at 10 mg/mL is 10 000.5 nL: 10 000 nL ordered; the basal due in
    its 300 s, 10**12 fg/day x 300 / 86 400 = 3 472 222 222 fg = 347.2 nL, is 347 nL."""
    d = _active_device(library)
    assert d.program is not None
    pb = PatientBolusProgram(dose_ng=100_005, duration_s=300, lockout_s=3600, max_per_24h=4)
    d = dataclasses.replace(d, program=dataclasses.replace(d.program, patient_bolus=pb))
    _, effects = request_bolus(d, T0 + 100, library)
    assert effects[1] == DeliveryOrder(2, "patient_bolus", 10_347, 300, basal_nl=347)


def test_bolus_without_program_reservoir_or_implant(library: Library) -> None:
    """REQ-BOL-001: no bolus programmed (or nothing to deliver it from): not programmed."""
    d = _active_device(library)
    assert d.program is not None
    expected = (BolusDecision(False, 0, (Reason.NOT_PROGRAMMED,)),)
    for changed in (
        dataclasses.replace(d, program=dataclasses.replace(d.program, patient_bolus=None)),
        dataclasses.replace(d, program=None),
        dataclasses.replace(d, reservoir=None),
        dataclasses.replace(d, implant=None),
    ):
        out, effects = request_bolus(changed, T0 + 100, library)
        assert out is changed
        assert effects == expected


def test_bolus_denied_at_the_cap_raises_max_dose_once(library: Library) -> None:
    """REQ-BOL-004, REQ-ALM-006, REQ-GOV-009: a denial at the cap raises the LOW maximum-dose
    alarm once; the denial names the reason and does not start the lockout."""
    d = _active_device(library, ledger=_recorded(T0 - 100, MAX_NG - 1_000_000))
    d2, effects = request_bolus(d, T0, library)
    assert effects == (
        BolusDecision(False, 100_000, (Reason.DAILY_CAP,)),
        Annunciate(AlarmKind.MAX_DOSE_REACHED, Priority.LOW),
    )
    assert d2.alarms == (ActiveAlarm(AlarmKind.MAX_DOSE_REACHED, T0),)
    assert d2.orders == () and d2.boluses == d.boluses
    d3, effects = request_bolus(d2, T0 + 10, library)
    assert effects == (BolusDecision(False, 100_000, (Reason.DAILY_CAP,)),)
    assert d3.alarms == d2.alarms


def test_bolus_denied_in_lockout_gives_the_time_left(library: Library) -> None:
    """REQ-BOL-002, REQ-GOV-009: no maximum-dose alarm for a lockout denial (the first bolus,
    10 694 nL, reported delivered at its end: nothing in flight)."""
    d, _ = request_bolus(_active_device(library), T0, library)
    d, _ = apply_report(d, 2, 10_694, True, T0 + 600)
    assert d.orders == ()
    d2, effects = request_bolus(d, T0 + 1000, library)
    assert effects == (BolusDecision(False, 100_000, (Reason.LOCKOUT,), 2600),)
    assert d2.alarms == ()


def test_bolus_denied_while_an_old_drug_is_at_the_tip(library: Library) -> None:
    """REQ-TIP-002, REQ-BOL-001: no patient bolus while the path's next fluid is another drug
    (after a drug change)."""
    d = _old_drug_first(library, 1000)
    d2, effects = request_bolus(d, T0, library)
    assert effects == (BolusDecision(False, 100_000, (Reason.NOT_DELIVERING,)),)
    assert d2 is d


def test_bolus_volume_is_sized_through_the_path(library: Library) -> None:
    """REQ-TIP-002, REQ-GOV-003: 0.1 mg at a tip holding 5 mg/mL is 20 000 nL (not the 10 000
    nL of the reservoir's 10 mg/mL), and the basal of its 600 s at 1 mg/day, 6 944 444 444 fg, is
    1388 nL of 5 mg/mL (5 x 10**6 fg/nL): 21 388 nL. With 15 000 nL of 5 mg/mL left, the order
    reaches the 10 mg/mL behind it and is sized to both (no basal order in flight: nothing
    unknown): the 15 000 nL hold 75 000 ng, and the rest of 100 000 ng + 6 944 444 444 fg is
    31 944 444 444 fg, 3194 whole nL of 10 mg/mL: 18 194 nL, its basal share in proportion
    (18 194 x 6 944 444 444 // 106 944 444 444 = 1181 nL). Sized at the richer concentration
    (10 694 nL, as before) it pushed out only 53 470 ng of the 106 944 ng."""
    d = _with_path(
        _active_device(library),
        Segment(200_000, "morphine", 5 * MG),
        Segment(34_000, "morphine", CONC),
    )
    _, effects = request_bolus(d, T0 + 100, library)
    assert effects[1] == DeliveryOrder(2, "patient_bolus", 21_388, 600, basal_nl=1388)
    d = _with_path(
        _active_device(library),
        Segment(15_000, "morphine", 5 * MG),
        Segment(219_000, "morphine", CONC),
    )
    _, effects = request_bolus(d, T0 + 100, library)
    assert effects[1] == DeliveryOrder(2, "patient_bolus", 18_194, 600, basal_nl=1181)


def test_bolus_leaves_room_for_a_day_of_basal(library: Library) -> None:
    """REQ-GOV-008: the bolus must fit beside a day of basal at 1 mg/day from now (no basal
    order in flight). The window recorded at T0 - 100 is last counted in the window ending at
    T0 - 101 + 86 400, which also holds the whole 0.1 mg bolus and 86 299 s of the basal:
    998 831.02 ng, counted 998 832. So window + 0.1 mg + 998 832 ng <= 20 mg exactly."""
    room = MAX_NG - 100_000 - 998_832
    fits = _active_device(library, ledger=_recorded(T0 - 100, room))
    _, effects = request_bolus(fits, T0, library)
    assert effects[0] == BolusDecision(True, 100_000)
    over = _active_device(library, ledger=_recorded(T0 - 100, room + 1))
    _, effects = request_bolus(over, T0, library)
    assert effects[0] == BolusDecision(False, 100_000, (Reason.DAILY_CAP,))


def test_a_bolus_replaces_the_basal_order_in_flight(library: Library) -> None:
    """REQ-GOV-008, REQ-TIP-004, R-TIP-4: with the hour's basal order (4166 nL) in flight from T0,
    a bolus at T0 + 1 cancels it (the drive stops it and reports what it moved) and carries the
    basal from then on; the day of basal it leaves room for starts at T0 + 1. The cancelled order
    can have moved, at its pace of 4166 nL/h, ceil(4166 / 3600) = 2 nL (20 ng) by T0 + 1. In the
    window ending at T0 - 101 + 86 400: the record, those 20 ng, the whole 0.1 mg bolus and
    86 298 s of 1 mg/day (10**12 x 86 298 / 86 400 fg = 998 819.44 ng): window <= 20 mg - 20 -
    100 000 - 998 819.44 ng = 18 901 160.56 ng. Above that, the bolus is granted still when the
    order, counted with the basal it holds (694 nL in 600 s: 6 940 ng) less one nanolitre held
    back (carried to the next basal order: a rounding unit, docs/dosing-rules.md#r-tip-4), and
    the basal after it (85 698 s: 991 875 ng) fit: 20 mg - 20 - 100 000 - 6 930 - 991 875 =
    18 901 175 ng fits; up to 20 ng more fit holding back two or three nanolitres, announced
    with the delivery-limited alarm (a patient bolus holds back up to three); one more does
    not."""
    room = 18_901_175
    order = _order(2, DeliveryKind.BASAL, 4166)
    for window, granted in ((room, True), (room + 1, True), (room + 20, True), (room + 21, False)):
        d = _active_device(
            library,
            ledger=_recorded(T0 - 100, window),
            orders=(order,),
            next_order_id=3,
            basal_until_s=T0 + HOUR,
        )
        after, effects = request_bolus(d, T0 + 1, library)
        assert isinstance(effects[0], BolusDecision)
        assert effects[0].granted is granted
        limited = Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM)
        assert (limited in effects) is (granted and window > room)
        records = [e for e in effects if isinstance(e, Record) and e.event == "bolus_limited"]
        if granted and window > room:
            # two nanolitres held back for the first 10 ng over, three for the next 10 (10 ng/nL)
            held = 2 if window <= room + 10 else 3
            assert records == [
                Record(
                    "bolus_limited",
                    "service",
                    T0 + 1,
                    Phase.ACTIVE,
                    Phase.ACTIVE,
                    f"order 3: {held} nL of the basal inside it held back for the hard maximum "
                    "(carried): a window can hold less than the program's basal by more than "
                    "one nL",
                )
            ]
            assert [(a.kind, a.raised_at_s) for a in after.alarms] == [
                (AlarmKind.DELIVERY_LIMITED, T0 + 1)
            ]
        else:
            assert records == []
        cancels = [e for e in effects if isinstance(e, CancelOrder)]
        # the drive and the record are told why: the basal goes on inside the bolus
        assert cancels == (
            [CancelOrder(2, "bolus: the basal goes on inside it")] if granted else []
        )
        if granted:  # the cancel comes before the bolus order
            assert effects.index(cancels[0]) < next(
                i for i, e in enumerate(effects) if isinstance(e, DeliveryOrder)
            )


def test_plan_never_answers_another_question(library: Library) -> None:
    """REQ-CORE-001: the plan equals a fresh computation for every (time, longest segment,
    library): here a later time equal to the longest segment asked before, and a
    library whose low-reservoir threshold is 30 mL (so the same device is low with it)."""
    d = _active_device(library)
    first = plan_tick(d, T0, library, T0 + HOUR)
    assert first.order is not None and first.order.start_s == T0
    later = plan_tick(d, T0 + HOUR, library, T0 + HOUR)
    assert later == plan_tick(dataclasses.replace(d), T0 + HOUR, library, T0 + HOUR)
    assert later.order is not None and later.order.start_s == T0 + HOUR
    pumps = tuple(
        dataclasses.replace(
            p,
            low_reservoir_threshold=dataclasses.replace(
                p.low_reservoir_threshold, value=30_000_000
            ),
        )
        for p in library.pumps
    )
    big_low = dataclasses.replace(library, pumps=pumps)
    assert plan_tick(d, T0, library).alarms == ()
    assert plan_tick(d, T0, big_low).alarms == (AlarmKind.LOW_RESERVOIR,)
    assert plan_tick(d, T0, library).alarms == ()


def test_projection_without_pump_reservoir_program_or_rate(library: Library) -> None:
    """REQ-RES-003: nothing to project without a pump, a reservoir, a program or a rate."""
    d = _active_device(library)
    assert d.program is not None
    none = Projection(None, None)
    assert projection(dataclasses.replace(d, implant=None), T0, library) == none
    assert projection(dataclasses.replace(d, reservoir=None), T0, library) == none
    assert projection(dataclasses.replace(d, program=None), T0, library) == none
    zero = dataclasses.replace(d.program, basal=Basal.continuous(0), patient_bolus=None)
    assert projection(dataclasses.replace(d, program=zero), T0, library) == none


def test_projection_exact(library: Library) -> None:
    """REQ-RES-003: (19 766 000 - 3 000 000) nL at 140 000 nL/day = 10 347 017 s; to 0.5 mL
    11 889 874 s; volume in flight is already gone."""
    d = _active_device(library)
    assert projection(d, T0, library) == Projection(T0 + 10_347_017, T0 + 11_889_874)
    flying = _active_device(library, orders=(_order(2, DeliveryKind.PRIMING, 10_000),))
    flying = dataclasses.replace(flying, next_order_id=3)
    assert projection(flying, T0, library) == Projection(T0 + 10_340_845, T0 + 11_883_702)


def test_projection_at_one_nanolitre_a_day_and_below_the_thresholds(library: Library) -> None:
    """REQ-RES-003: 10 ng/day at 10 mg/mL is 1 nL/day; a reservoir below a threshold projects
    that alarm now."""
    d = _active_device(library)
    assert d.program is not None
    tiny = dataclasses.replace(d.program, basal=Basal.continuous(10), patient_bolus=None)
    d = _with_volume(dataclasses.replace(d, program=tiny), LOW_NL + 2)
    assert projection(d, T0, library) == Projection(T0 + 2 * DAY, T0 + 2_500_002 * DAY)
    low = _with_volume(d, LOW_NL - 1)
    assert projection(low, T0, library) == Projection(T0, T0 + 2_499_999 * DAY)
    empty = _with_volume(d, 100)
    assert projection(empty, T0, library) == Projection(T0, T0)


# --- priming -------------------------------------------------------------------------------------


def _implanted_programmed(library: Library) -> Device:
    d = reach(Phase.IMPLANTED, library)
    return dataclasses.replace(d, program=MORPHINE_PROGRAM)


def test_priming_order_is_the_rest_of_the_dead_volume(library: Library) -> None:
    """REQ-PRIME-001: the priming bolus is the dead volume not yet primed, not to the patient."""
    d = dataclasses.replace(_implanted_programmed(library), primed_nl=100_000)
    t = 7 * DAY + 120
    d2, effects = priming_order(d, t, 480, library)
    assert effects == (DeliveryOrder(d.next_order_id, "priming", 134_000, 480),)
    assert d2.orders == (Order(d.next_order_id, DeliveryKind.PRIMING, t, t + 480, 134_000),)
    assert d2.next_order_id == d.next_order_id + 1


def test_priming_ignores_the_daily_cap(library: Library) -> None:
    """REQ-PRIME-001: priming fills the catheter; it is not dose and not held to the cap."""
    d = _implanted_programmed(library)
    d = dataclasses.replace(d, ledger=_recorded(7 * DAY + 100, MAX_NG))
    _, effects = priming_order(d, 7 * DAY + 120, 480, library)
    assert effects == (DeliveryOrder(d.next_order_id, "priming", 234_000, 480),)


def test_priming_limited_by_the_reservoir(library: Library) -> None:
    """REQ-PRIME-001, REQ-RES-002: only what is above the empty threshold can be ordered; none
    above it, no order."""
    d = _with_volume(_implanted_programmed(library), EMPTY_NL + 100_000)
    _, effects = priming_order(d, 7 * DAY + 120, 480, library)
    assert effects == (DeliveryOrder(d.next_order_id, "priming", 100_000, 480),)
    empty = _with_volume(d, EMPTY_NL)
    assert priming_order(empty, 7 * DAY + 120, 480, library) == (empty, ())
    one = _with_volume(d, EMPTY_NL + 1)
    _, effects = priming_order(one, 7 * DAY + 120, 480, library)
    assert effects == (DeliveryOrder(d.next_order_id, "priming", 1, 480),)
    done = dataclasses.replace(_implanted_programmed(library), primed_nl=234_000)
    assert priming_order(done, 7 * DAY + 120, 480, library) == (done, ())


def test_priming_is_a_volume_whatever_the_concentration(library: Library) -> None:
    """REQ-PRIME-001, REQ-TIP-001: priming fills the path with volume: at 3 333 333 ng/mL the
    100 000 nL above the empty threshold are ordered whole (the path holds no drug, so nothing
    reaches the tip to be counted or rounded)."""
    d = _implanted_programmed(library)
    assert d.reservoir is not None
    reservoir = dataclasses.replace(
        d.reservoir, concentration_ng_per_ml=3_333_333, volume_nl=EMPTY_NL + 100_000
    )
    d = dataclasses.replace(d, reservoir=reservoir)
    d2, effects = priming_order(d, 7 * DAY + 120, 480, library)
    assert effects == (DeliveryOrder(d.next_order_id, "priming", 100_000, 480),)
    assert d2.orders[-1].volume_nl == 100_000


def test_priming_that_pushes_drug_out_passes_the_daily_cap(library: Library) -> None:
    """REQ-PRIME-001, REQ-TIP-001, REQ-GOV-002: a path already holding drug (a re-prime) pushes
    it out of the tip: the priming order is refused whole if that drug does not fit under the
    hard maximum (234 000 nL of 10 mg/mL = 2.34 mg), and ordered if it fits exactly."""
    d = _with_path(_implanted_programmed(library), Segment(234_000, "morphine", CONC))
    fits = dataclasses.replace(d, ledger=_recorded(7 * DAY + 100, MAX_NG - 2_340_000))
    _, effects = priming_order(fits, 7 * DAY + 120, 480, library)
    assert effects == (DeliveryOrder(d.next_order_id, "priming", 234_000, 480),)
    over = dataclasses.replace(d, ledger=_recorded(7 * DAY + 100, MAX_NG - 2_339_999))
    assert priming_order(over, 7 * DAY + 120, 480, library) == (over, ())


# --- MRI ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "resume", "alarm_at_start", "high_now", "expected"),
    [
        (MriPolicy.SUSPEND_VERIFY, True, False, False, True),
        (MriPolicy.SUSPEND_VERIFY, False, False, False, False),
        (MriPolicy.SUSPEND_VERIFY, True, True, False, False),
        (MriPolicy.SUSPEND_VERIFY, True, False, True, False),
        (MriPolicy.EMPTY_AND_RESET, True, False, False, False),
    ],
)
def test_mri_resumes_only_when_all_conditions_hold(
    library: Library,
    policy: MriPolicy,
    resume: bool,
    alarm_at_start: bool,
    high_now: bool,
    expected: bool,
) -> None:
    """REQ-MRI-002, REQ-MRI-003: a SynchroMed resumes by itself only if it was dosing, no alarm
    was active at the start and no HIGH alarm is active now."""
    d = _active_device(library)
    assert not mri_resumes(d)
    alarms = (ActiveAlarm(AlarmKind.MOTOR_STALL, T0),) if high_now else ()
    session = MriSession(policy, T0, alarm_at_start, resume)
    assert mri_resumes(dataclasses.replace(d, mri=session, alarms=alarms)) is expected


# Equivalent mutants (mutmut 3.8.1 names, from the run before the fluid path; no observable change
# on states the core produces):
# - _basal_rate__mutmut_2, segment_s__mutmut_21, priming_order__mutmut_1: an `assert a and b`
#   weakened to `a or b`; the callers only reach it with program, reservoir, implant and dead
#   volume present, so both forms hold.
# - _basal_plan__mutmut_3: `program is None or reservoir is None` -> `and`: reached only in
#   ACTIVE (the phase test comes first), which always has both (state.check_consistent).
# - hard_max_ng__mutmut_1: `drug is None or indication is None` -> `and`: both come from the
#   reservoir, or both from the trial, so one is None exactly when the other is.
# - apply_report__mutmut_52: `delta and reservoir` -> `or`: with delta 0 the reservoir is
#   replaced by an equal one (max(0, v - 0) == v for v >= 0).
# - apply_report__mutmut_116: `... if d.implant is not None else None` -> `or True`: a priming
#   order exists only in phases that have an implant.
# - segment_s__mutmut_19: `longest <= seg` -> `<`: when equal the function returns `longest`,
#   which is `seg`.


# --- planning through the path, against a brute-force cell model --------------------------------

_PLAN_FLUIDS = [("", 0), ("morphine", 10 * MG), ("morphine", 25 * MG), ("morphine", 333_334)]
_PLAN_FLUIDS += [("hydromorphone", MG), ("morphine", 1)]


def _cells(
    path: list[tuple[int, tuple[str, int]]], reservoir: tuple[str, int], count: int
) -> list[tuple[str, int]]:
    """The first ``count`` nL to leave the tip: the path's cells, then the reservoir's fluid."""
    cells = [fluid for volume, fluid in path for _ in range(volume)]
    return (cells + [reservoir] * count)[:count]


@settings(max_examples=200, deadline=None)
@given(
    path=st.lists(st.tuples(st.integers(1, 60), st.sampled_from(_PLAN_FLUIDS)), max_size=5),
    reservoir=st.sampled_from(_PLAN_FLUIDS[1:]),
    res_nl=st.integers(0, 600),
    threshold=st.integers(0, 200),
    orders=st.lists(st.tuples(st.integers(0, 150), st.integers(0, 200)), max_size=3),
    drug=st.sampled_from(["morphine", "hydromorphone"]),
    skip=st.integers(0, 400),
    target_cells=st.integers(0, 500),
    extra_fg=st.integers(0, 25 * MG),
)
def test_planning_through_the_path_matches_a_cell_model(
    library: Library,
    path: list[tuple[int, tuple[str, int]]],
    reservoir: tuple[str, int],
    res_nl: int,
    threshold: int,
    orders: list[tuple[int, int]],
    drug: str,
    skip: int,
    target_cells: int,
    extra_fg: int,
) -> None:
    """REQ-TIP-001, REQ-TIP-002, REQ-GOV-003: the volume in flight, the drug it is counted for
    (at the richest concentration it pushes out of the tip, never less than the cells hold), the
    reservoir room (what the usable volume pushes out after it, rounded down) and the largest
    volume that brings at most a target of one drug out of the tip, all checked against a
    brute-force count over 1 nL cells leaving the tip one after another."""
    merged: list[Segment] = []
    for volume, fluid in path:
        if merged and (merged[-1].drug, merged[-1].concentration_ng_per_ml) == fluid:
            merged[-1] = Segment(merged[-1].volume_nl + volume, *fluid)
        else:
            merged.append(Segment(volume, *fluid))
    base = reach(Phase.ACTIVE, library)
    assert base.reservoir is not None
    d = dataclasses.replace(
        base,
        path=FluidPath(tuple(merged)),
        reservoir=dataclasses.replace(
            base.reservoir,
            drug=reservoir[0],
            concentration_ng_per_ml=reservoir[1],
            volume_nl=res_nl,
        ),
        orders=tuple(
            Order(2 + i, DeliveryKind.BASAL, T0, T0 + HOUR, v, r) for i, (v, r) in enumerate(orders)
        ),
        next_order_id=2 + len(orders),
    )
    flight = sum(max(0, v - r) for v, r in orders)
    assert in_flight_nl(d) == flight

    def fg(cells: list[tuple[str, int]]) -> int:
        return sum(conc for name, conc in cells if name == drug)

    # the drug in flight is counted at the richest concentration of ``drug`` it pushes out:
    # never less than the exact amount that leaves the tip
    richest = max(
        (conc for name, conc in _cells(path, reservoir, flight) if name == drug), default=0
    )
    flows = in_flight_flows(d, drug)
    assert sum(f.amount_fg for f in flows) == (flight * richest if richest else 0)
    assert sum(f.amount_fg for f in flows) >= fg(_cells(path, reservoir, flight))
    usable = max(0, res_nl - flight - threshold)
    room_cells = _cells(path, reservoir, flight + usable)[flight:]
    assert reservoir_room_ng(d, drug, threshold) == fg(room_cells) // 10**6
    # plan_volume: take whole cells of ``drug`` while they fit under the target
    target = target_cells * reservoir[1] // 2 + extra_fg
    ahead = _cells(path, reservoir, skip + sum(v for v, _ in path) + 1)[skip:]
    n = got = 0
    while True:
        if n >= len(ahead):  # only the reservoir's fluid from here: the rest is a division
            ended = reservoir[0] != drug
            if not ended:
                more = (target - got) // reservoir[1]
                n, got = n + more, got + more * reservoir[1]
            break
        name, conc = ahead[n]
        if name != drug or conc <= 0:
            ended = True
            break
        if got + conc > target:
            ended = False
            break
        n, got = n + 1, got + conc
    assert dosing.plan_volume(d, skip, drug, target) == (n, got, ended)


def test_a_clinician_bolus_over_one_second_is_in_flight_for_that_second_only(library: Library):
    """R-BOL-5: a 0.1 mg clinician bolus over 1 s (10 000 nL at 10 mg/mL, with the basal of that
    second and what the cancelled basal order owed: at most three nanolitres) is an order from
    T0 + 10 to T0 + 11: in flight at T0 + 10, no longer at T0 + 11 (its end has come)."""
    sim = _active(library)
    sim.do(c.ClinicianBolus(C, dose_ng=100_000, duration_s=1), T0 + 10)
    (order,) = [o for o in sim.d.orders if o.kind is DeliveryKind.CLINICIAN_BOLUS]
    assert (order.start_s, order.end_s) == (T0 + 10, T0 + 11)
    assert 10_000 <= order.volume_nl <= 10_003
    assert dosing.bolus_in_flight(sim.d, T0 + 10) == order
    assert dosing.bolus_in_flight(sim.d, T0 + 11) is None


@pytest.mark.parametrize(
    ("volume", "until", "at", "owed"),
    [
        pytest.param(4166, T0 + HOUR, T0 + 1, 0, id="its-segment"),
        pytest.param(4166, T0 + 2 * HOUR, T0 + 1, 0, id="a-later-end"),
        pytest.param(4167, T0 + HOUR, T0, 288 * 10**9, id="cut-at-its-start"),
        pytest.param(4167, T0 + 2 * HOUR, T0, 0, id="a-later-end-cut-at-its-start"),
        pytest.param(4167, T0 + HOUR, T0 + HOUR, 0, id="cut-at-its-end"),
    ],
)
def test_a_bolus_carries_exactly_what_its_cancelled_order_owed_and_its_own_fraction(
    volume: int, until: int, at: int, owed: int, library: Library
) -> None:
    """R-TIP-4, REQ-TIP-004: the hour's basal order (from T0, 10 mg/mL, 1 mg/day) cut by a
    0.1 mg bolus over 600 s (10 000 nL, exact). The bolus holds 1 mg/day x 600 s = 6 944.44 ng
    of basal plus what the cut order owed beyond its pace line (fg x s/day): its whole
    nanolitres (694) go in the order, the rest is carried, exactly, to the next basal order.
    Owed: 4 166 nL cut at T0 + 1, nothing (no carry after it, and its line for the rest of its
    hour, 4 166 nL x 3 599 s / 3 600 s = 41 648.43 ng, holds less than that rest's basal,
    41 655.09 ng), and nothing either with a later end (``basal_until_s`` past the order's: not
    the segment's basal order); 4 167 nL cut at its start, all of it above the hour's basal:
    (4 167 x 10**7 x 86 400 - 10**12 x 3 600) = 2.88 x 10**11, but nothing with a later end;
    cut at its end, nothing left."""
    d = _active_device(
        library,
        orders=(_order(2, DeliveryKind.BASAL, volume),),
        next_order_id=3,
        basal_until_s=until,
        basal_carry=0,
    )
    after, effects = request_bolus(d, at, library)
    (order,) = [e for e in effects if isinstance(e, DeliveryOrder)]
    assert (order.volume_nl, order.basal_nl) == (10_694, 694)
    assert after.basal_carry == 10**12 * 600 + owed - 694 * 10**7 * DAY


@pytest.mark.parametrize(
    ("volume", "end", "carry", "owed", "basal_nl"),
    [
        pytest.param(1, T0 + 1, 5 * 10**11, 364 * 10**9, 694, id="an-order-of-one-second"),
        pytest.param(4170, T0 + HOUR, 0, 2 * 10**7 * DAY, 696, id="at-most-two-nanolitres"),
    ],
)
def test_a_bolus_carries_what_a_short_or_over_full_cancelled_order_owed(
    volume: int, end: int, carry: int, owed: int, basal_nl: int, library: Library
) -> None:
    """R-TIP-4, REQ-TIP-004: the test above with the basal order cut at its start (T0) by the
    0.1 mg bolus over 600 s. An order of one second holding 1 nL, 0.5 x 10**12 fg x s/day
    carried after it: it owes that carry plus its line for its one second (1 nL x 10**7 x
    86 400) less that second's basal (10**12): 3.64 x 10**11; 694 nL of basal go in the bolus.
    An order holding 4 170 nL for the hour, 3.33 nL over the hour's basal: it owes at most two
    nanolitres (what a carry can be), 2 x 10**7 x 86 400; 696 nL of basal go in the bolus."""
    d = _active_device(
        library,
        orders=(_order(2, DeliveryKind.BASAL, volume, end_s=end),),
        next_order_id=3,
        basal_until_s=end,
        basal_carry=carry,
    )
    after, effects = request_bolus(d, T0, library)
    (order,) = [e for e in effects if isinstance(e, DeliveryOrder)]
    assert (order.volume_nl, order.basal_nl) == (10_000 + basal_nl, basal_nl)
    assert after.basal_carry == 10**12 * 600 + owed - basal_nl * 10**7 * DAY


def test_a_bolus_carries_what_a_cancelled_order_at_one_nanogram_a_day_owed(
    library: Library,
) -> None:
    """R-TIP-4, REQ-TIP-004: a program of 1 ng/day (the Prometra II has no minimum rate) whose
    hour's basal order holds one nanolitre (its carry), cut at its start by the 0.1 mg bolus
    over 600 s: the bolus holds no whole nanolitre of basal, and carries 600 s of 1 ng/day
    (6 x 10**8 fg x s/day) and the order's debt, its line for the hour (1 nL x 10**7 x
    86 400) less the hour's basal (3.6 x 10**9): 8.61 x 10**11 fg x s/day."""
    d = _active_device(
        library,
        orders=(_order(2, DeliveryKind.BASAL, 1),),
        next_order_id=3,
        basal_until_s=T0 + HOUR,
        basal_carry=0,
    )
    assert d.program is not None
    d = dataclasses.replace(d, program=dataclasses.replace(d.program, basal=Basal.continuous(1)))
    after, effects = request_bolus(d, T0, library)
    (order,) = [e for e in effects if isinstance(e, DeliveryOrder)]
    assert (order.volume_nl, order.basal_nl) == (10_000, 0)
    assert after.basal_carry == 10**6 * 600 + 10**7 * DAY - 10**6 * HOUR


@pytest.mark.parametrize(("last_s", "granted"), [(T0 + 1 - HOUR, True), (T0 + 2 - HOUR, False)])
def test_a_bolus_that_holds_basal_back_still_keeps_the_lockout(
    last_s: int, granted: bool, library: Library
) -> None:
    """REQ-GOV-009, R-TIP-4: the window 20 ng above the room of the test above, where the bolus
    is granted only by holding back three nanolitres of the basal inside it: with the last bolus
    started an hour (the lockout) before, it is granted so; a second later, inside the lockout,
    it is denied for the lockout (1 s remaining), however much basal it could hold back. Held
    back, the three nanolitres are carried: 10**12 x 600 fg x s/day of basal, 691 nL of it in
    the order (the cancelled order owed nothing, the test above)."""
    d = _active_device(
        library,
        ledger=_recorded(T0 - 100, 18_901_175 + 20),
        orders=(_order(2, DeliveryKind.BASAL, 4166),),
        next_order_id=3,
        basal_until_s=T0 + HOUR,
    )
    d = dataclasses.replace(d, boluses=d.boluses.record_start(last_s, max_per_24h=4))
    after, effects = request_bolus(d, T0 + 1, library)
    assert isinstance(effects[0], BolusDecision)
    assert effects[0].granted is granted
    if granted:
        assert after.basal_carry == 10**12 * 600 - 691 * 10**7 * DAY
    else:
        assert Reason.LOCKOUT in effects[0].reasons
        assert effects[0].lockout_remaining_s == 1


def test_a_bolus_inside_basal_already_ordered_holds_none_of_it(library: Library) -> None:
    """REQ-TIP-004, REQ-GOV-008: with no basal order in flight but the basal already ordered up
    to T0 + 1 h (its order reported done), a 0.1 mg bolus over 600 s at T0 + 1 holds no basal:
    10 000 nL at 10 mg/mL, the basal until T0 + 1 h unchanged and the carry as it was. Counting
    the basal from the request on would put 694 nL of basal in it twice."""
    d = _active_device(library, orders=(), next_order_id=3, basal_until_s=T0 + HOUR)
    after, effects = request_bolus(d, T0 + 1, library)
    (order,) = [e for e in effects if isinstance(e, DeliveryOrder)]
    assert (order.volume_nl, order.basal_nl) == (10_000, 0)
    assert (after.basal_until_s, after.basal_carry) == (T0 + HOUR, d.basal_carry)


def test_a_bolus_whose_volume_reaches_another_drug_behind_its_own_is_refused(
    library: Library,
) -> None:
    """REQ-TIP-002, REQ-GOV-010: the path holds 1 000 nL of morphine at the tip, then 10 000 nL
    of hydromorphone (a drug changed and back), then morphine. A 0.1 mg bolus of morphine at
    10 mg/mL (10 000 nL and its basal) would push 9 000 nL or more of the hydromorphone out
    at the bolus's speed: refused as not deliverable, naming it, though the first nanolitre
    of its reach is morphine."""
    d = _with_path(
        _active_device(library, orders=(), next_order_id=3, basal_until_s=T0),
        Segment(1_000, "morphine", 10 * MG),
        Segment(10_000, "hydromorphone", 2 * MG),
        Segment(223_000, "morphine", 10 * MG),
    )
    after, effects = request_bolus(d, T0 + 1, library)
    assert isinstance(effects[0], BolusDecision)
    assert not effects[0].granted
    assert Reason.NOT_DELIVERING in effects[0].reasons
    assert after.orders == ()
    plan = dosing.clinician_plan(d, T0 + 1, library, 100_000, 600)
    assert plan.decision.granted_ng == 0
    assert plan.in_the_way == ("hydromorphone",)


def test_a_bolus_after_the_basal_ordered_holds_the_basal_to_its_end(library: Library) -> None:
    """REQ-TIP-004, REQ-GOV-008: with no basal order in flight and the basal ordered up to T0, a
    0.1 mg bolus over 600 s at T0 + 1 holds the basal from its request to its end (1 mg/day x
    600 s: 694 whole nanolitres at 10 mg/mL), and the basal is then ordered up to its end,
    T0 + 601."""
    d = _active_device(library, orders=(), next_order_id=3, basal_until_s=T0)
    after, effects = request_bolus(d, T0 + 1, library)
    (order,) = [e for e in effects if isinstance(e, DeliveryOrder)]
    assert (order.volume_nl, order.basal_nl) == (10_694, 694)
    assert after.basal_until_s == T0 + 601


@pytest.mark.parametrize("spare_nl", [0, -1])
def test_a_bolus_is_granted_exactly_when_its_order_leaves_the_reservoir_at_its_threshold(
    spare_nl: int, library: Library
) -> None:
    """REQ-GOV-003, REQ-GOV-008: the 0.1 mg bolus over 600 s after the basal ordered (10 694 nL,
    the test above) is granted when the reservoir holds its empty threshold plus that volume,
    and denied for the reservoir with one nanolitre less."""
    d = _active_device(library, orders=(), next_order_id=3, basal_until_s=T0)
    assert d.implant is not None
    threshold = library.pump(d.implant.pump).empty_threshold.value
    d = _with_volume(d, threshold + 10_694 + spare_nl)
    _, effects = request_bolus(d, T0 + 1, library)
    assert isinstance(effects[0], BolusDecision)
    assert effects[0].granted is (spare_nl == 0)
    assert (Reason.RESERVOIR in effects[0].reasons) is (spare_nl < 0)


@pytest.mark.parametrize("spare_nl", [0, -1])
@pytest.mark.parametrize("cut_first", [False, True])
def test_a_bolus_counts_the_volume_in_flight_before_the_reservoir_threshold(
    spare_nl: int, cut_first: bool, library: Library
) -> None:
    """REQ-GOV-003, REQ-RES-002: the hour's basal order (4166 nL from T0, nothing reported)
    may have moved ceil(4166 x 1800 / 3600) = 2083 nL of the reservoir by T0 + 1800, which the
    tracked volume does not show yet; an order an earlier bolus cut 1800 s into its hour, not
    reported either, may have moved 2083 nL more. The 0.1 mg bolus over 600 s (10 694 nL with
    its basal, as above) is granted when the reservoir holds its empty threshold, those volumes
    and the order's, and denied for the reservoir with one nanolitre less: counting a volume in
    flight as returned to the reservoir would let the order run past the threshold."""
    basal = _order(2, DeliveryKind.BASAL, 4166)
    cut = dataclasses.replace(
        _order(1, DeliveryKind.BASAL, 4166, end_s=T0 + 600),
        start_s=T0 - 3000,
        cut_s=T0 - 1200,
    )
    orders = (cut, basal) if cut_first else (basal,)
    d = _active_device(library, orders=orders, next_order_id=4, basal_until_s=T0 + HOUR)
    assert d.implant is not None
    threshold = library.pump(d.implant.pump).empty_threshold.value
    in_flight = 2083 + (2083 if cut_first else 0)
    assert in_flight_nl(d) == 4166 + (2083 if cut_first else 0)
    d = _with_volume(d, threshold + in_flight + 10_694 + spare_nl)
    _, effects = request_bolus(d, T0 + 1800, library)
    assert isinstance(effects[0], BolusDecision)
    assert effects[0].granted is (spare_nl == 0)
    assert effects[0].reasons == (() if spare_nl == 0 else (Reason.RESERVOIR,))
    if spare_nl == 0:
        (order,) = [e for e in effects if isinstance(e, DeliveryOrder)]
        assert (order.volume_nl, order.basal_nl) == (10_694, 694)


def test_a_bolus_of_one_ng_is_refused_at_the_hard_maximum_and_at_the_threshold(
    library: Library,
) -> None:
    """REQ-GOV-003, REQ-GOV-008: at 1 mg/mL a clinician bolus of 1 ng is one nanolitre: granted
    with room, refused (granting nothing) when the last 24 h already hold the 20 mg maximum or
    when the reservoir holds only its empty threshold. A room of 1 ng where there is none
    would grant it."""
    d = _active_device(library)
    assert d.program is not None and d.reservoir is not None and d.implant is not None
    lean = _refilled(d, MG, Segment(234_000, "morphine", MG))
    threshold = library.pump(d.implant.pump).empty_threshold.value
    cases = (
        (lean, ()),
        (dataclasses.replace(lean, ledger=_recorded(T0 - 100, 20 * MG)), (Reason.DAILY_CAP,)),
        (_with_volume(lean, threshold), (Reason.RESERVOIR,)),
    )
    for device, reasons in cases:
        decision = dosing.clinician_decision(device, T0 + 1, library, 1, 60)
        assert (decision.granted_ng, decision.reasons) == ((0 if reasons else 1), reasons)


def test_a_bolus_under_one_nanolitre_is_refused_for_that_alone(library: Library) -> None:
    """REQ-GOV-008, REQ-GOV-010: at 10 mg/mL a bolus of 1 ng is a tenth of a nanolitre, which
    the drive cannot move: refused as not deliverable, and for that alone (no cap or reservoir
    room applies to an order that cannot deliver the drug), even when the last 24 h hold the
    20 mg maximum or the reservoir holds only its empty threshold; so no "maximum dose
    reached" follows from it."""
    d = _active_device(library)
    assert d.implant is not None
    threshold = library.pump(d.implant.pump).empty_threshold.value
    for device in (
        d,
        dataclasses.replace(d, ledger=_recorded(T0 - 100, 20 * MG)),
        _with_volume(d, threshold),
    ):
        decision = dosing.clinician_decision(device, T0 + 1, library, 1, 60)
        assert (decision.granted_ng, decision.reasons) == (0, (Reason.NOT_DELIVERING,))


def test_a_bolus_behind_a_fluid_of_one_ng_per_ml_is_sized_across_it(library: Library) -> None:
    """REQ-TIP-002, REQ-GOV-008: the path holds 2 nL of morphine at 1 ng/mL at the tip (2 fg),
    then 10 000 nL at 20 mg/mL, then hydromorphone; the basal is already ordered past the bolus
    and 0.5 x 10**12 fg x s/day carried (5 787 037 fg of basal target). A clinician bolus of
    0.1 mg over 600 s is granted, sized across both fluids: 5002 nL hold 10**11 + 2 fg, one
    nanolitre more 2 x 10**7 fg more than the target. The leanest fluid of its drug, at
    1 ng/mL, is a fluid like any other: the hydromorphone 5000 nL behind the order is not in
    its way."""
    d = _active_device(
        library, orders=(), next_order_id=3, basal_until_s=T0 + 2 * HOUR, basal_carry=5 * 10**11
    )
    d = _refilled(
        d,
        20 * MG,
        Segment(2, "morphine", 1),
        Segment(10_000, "morphine", 20 * MG),
        Segment(223_998, "hydromorphone", 2 * MG),
    )
    plan = dosing.clinician_plan(d, T0 + 600, library, 100_000, 600)
    assert (plan.decision.granted_ng, plan.volume_nl, plan.in_the_way) == (100_000, 5002, ())


def test_a_bolus_through_a_fluid_of_one_ng_per_ml_is_sized_to_its_dose(library: Library) -> None:
    """REQ-TIP-002, REQ-GOV-008: the path holds 20 147 nL of morphine at 1 ng/mL at the tip,
    then 9 376 nL at 10 mg/mL, then hydromorphone; the basal is ordered past the bolus. A
    clinician bolus of 15 ng is sized at its own drug's fluids, the leanest 1 ng/mL: 20 148 nL,
    the lean fluid (20 147 fg) and one nanolitre of 10 mg/mL (10**7 fg), at most the 1.5 x 10**7
    fg of the dose (a second nanolitre would bring 2 x 10**7 more); the hydromorphone lies
    beyond it. Sized at the hydromorphone's 2 mg/mL instead, 7 nL would move 7 fg of morphine."""
    d = _active_device(library, orders=(), next_order_id=3, basal_until_s=T0 + 2 * HOUR)
    d = _refilled(
        d,
        10 * MG,
        Segment(20_147, "morphine", 1),
        Segment(9_376, "morphine", 10 * MG),
        Segment(204_477, "hydromorphone", 2 * MG),
    )
    plan = dosing.clinician_plan(d, T0 + 1, library, 15, 600)
    assert (plan.decision.granted_ng, plan.volume_nl, plan.in_the_way) == (15, 20_148, ())


def test_a_bolus_under_one_nanolitre_names_the_drug_at_the_tip(library: Library) -> None:
    """REQ-GOV-010: with 14 529 nL of hydromorphone at the tip, then 14 169 nL of morphine at
    1 ng/mL, then morphine at 10 mg/mL, a clinician bolus of 5 ng of morphine (half a nanolitre
    at the richest fluid within its reach: an order of no volume) is refused as not
    deliverable, naming the hydromorphone in its way."""
    d = _with_path(
        _active_device(library, orders=(), next_order_id=3, basal_until_s=T0 + 2 * HOUR),
        Segment(14_529, "hydromorphone", 2 * MG),
        Segment(14_169, "morphine", 1),
        Segment(234_000 - 28_698, "morphine", 10 * MG),
    )
    plan = dosing.clinician_plan(d, T0 + 1800, library, 5, 600)
    assert (plan.decision.reasons, plan.in_the_way) == (
        (Reason.NOT_DELIVERING,),
        ("hydromorphone",),
    )


def test_a_bolus_over_the_maximum_by_under_one_femtogram_is_granted(library: Library) -> None:
    """R-TIP-4, REQ-TIP-004: as in `test_a_bolus_replaces_the_basal_order_in_flight`, counted
    with a day of basal from T0 + 1 the order fits a window of 20 mg - 20 - 100 000 -
    10**12 x 86 298 / 86 400 fg = 18 901 160 555 555.56 fg: 18 901 160 555 555 fg fit; one
    femtogram more is over by 0.44 fg (a femtogram as the ledger rounds it up), which the
    order counted with the basal it holds (694 nL in 600 s) fits: granted whole (10 694 nL, no
    basal held back, nothing announced), not denied for a femtogram."""
    order = _order(2, DeliveryKind.BASAL, 4166)
    for window_fg in (18_901_160_555_555, 18_901_160_555_556):
        d = _active_device(
            library,
            ledger=Ledger().record(T0 - 100, 1, T0 - 100, window_fg, window_fg, 1),
            orders=(order,),
            next_order_id=3,
            basal_until_s=T0 + HOUR,
        )
        _, effects = request_bolus(d, T0 + 1, library)
        assert effects[0] == BolusDecision(True, 100_000)
        (delivery,) = [e for e in effects if isinstance(e, DeliveryOrder)]
        assert (delivery.volume_nl, delivery.basal_nl) == (10_694, 694)
        assert not [e for e in effects if isinstance(e, Annunciate)]


@pytest.mark.parametrize("spare_nl", [1, 0, -1])
def test_a_bolus_whose_owed_basal_does_not_fit_the_reservoir_carries_it(
    spare_nl: int, library: Library
) -> None:
    """REQ-TIP-004, REQ-GOV-003: the hour's basal order (4166 nL from T0, a carry after it of
    0.9 nL, 9 x 10**6 fg) is cancelled at T0 + 1800 by a 0.1 mg bolus over 600 s. By then its
    pace line is short of the basal due by 0.9 nL - 1800 s x (10**12 fg/day - 4166 nL/h x
    10**7 fg/nL x 24) / 86 400 = 0.567 nL, which the order holds: 600 s of 1 mg/day and
    0.567 nL are 695 whole nanolitres of basal, 10 695 nL in all. With room in the reservoir
    (above its empty threshold and the 2083 nL the cancelled order may have moved) for 10 695
    nL the order holds it; with room for 10 694 only, the bolus is planned without it (694
    nL of basal, the debt carried to the next basal order) and granted; one nanolitre less is
    refused for the reservoir."""
    d = _active_device(
        library,
        orders=(_order(2, DeliveryKind.BASAL, 4166),),
        next_order_id=3,
        basal_until_s=T0 + HOUR,
        basal_carry=9 * MG * DAY,
    )
    assert d.implant is not None
    threshold = library.pump(d.implant.pump).empty_threshold.value
    d = _with_volume(d, threshold + 2083 + 10_694 + spare_nl)
    after, effects = request_bolus(d, T0 + 1800, library)
    assert isinstance(effects[0], BolusDecision)
    assert effects[0].reasons == (() if spare_nl >= 0 else (Reason.RESERVOIR,))
    orders = [(e.volume_nl, e.basal_nl) for e in effects if isinstance(e, DeliveryOrder)]
    assert orders == {1: [(10_695, 695)], 0: [(10_694, 694)], -1: []}[spare_nl]
    if spare_nl == 0:
        # the debt (0.567 nL: 9 x 10**6 x 86 400 - 1800 x 160 000 000 fg x s/day) carried
        owed = 9 * MG * DAY - 1800 * 160 * MG
        assert after.basal_carry == owed + 10**12 * 600 - 694 * 10 * MG * DAY


@pytest.mark.parametrize("limit", ["hard-maximum", "hard-maximum-and-reservoir"])
def test_a_bolus_far_over_the_maximum_is_refused_as_planned_with_the_basal_its_cancel_owes(
    limit: str, library: Library
) -> None:
    """REQ-GOV-008, REQ-GOV-010, R-TIP-4: as in the test above, the order cancelling the hour's
    basal order at T0 + 1800 holds the 0.567 nL that order owes: 10 695 nL, after the 2083 nL
    that order may have moved. The path holds 12 777 nL of morphine, then hydromorphone, so
    that order's last nanolitre pushes hydromorphone out (without the debt, 10 694 nL, it would
    not). The last 24 h hold the 20 mg maximum (and the reservoir exactly the order's volume
    above its threshold): no plan of the bolus fits, and it is refused as planned, with the
    debt: as not deliverable, naming the hydromorphone, not for the cap."""
    d = _active_device(
        library,
        ledger=_recorded(T0 - 100, 20 * MG),
        orders=(_order(2, DeliveryKind.BASAL, 4166),),
        next_order_id=3,
        basal_until_s=T0 + HOUR,
        basal_carry=9 * MG * DAY,
    )
    d = _with_path(
        d,
        Segment(12_777, "morphine", 10 * MG),
        Segment(1_000, "hydromorphone", 2 * MG),
        Segment(234_000 - 13_777, "morphine", 10 * MG),
    )
    if limit == "hard-maximum-and-reservoir":
        assert d.implant is not None
        threshold = library.pump(d.implant.pump).empty_threshold.value
        d = _with_volume(d, threshold + 2083 + 10_695)
    after, effects = request_bolus(d, T0 + 1800, library)
    assert effects == (BolusDecision(False, 100_000, (Reason.NOT_DELIVERING,)),)
    assert after == d
    plan = dosing.clinician_plan(d, T0 + 1800, library, 100_000, 600)
    assert (plan.decision.reasons, plan.in_the_way) == (
        (Reason.NOT_DELIVERING,),
        ("hydromorphone",),
    )


@pytest.mark.parametrize(
    ("above", "reasons", "volume", "in_the_way"),
    [
        pytest.param(0, (), 10_693, (), id="at-the-maximum-holding-one-nanolitre"),
        pytest.param(1, (Reason.DAILY_CAP,), 10_694, (), id="one-femtogram-over"),
        pytest.param(5_555_555, (Reason.DAILY_CAP,), 10_694, (), id="within-reach-of-a-hold"),
        pytest.param(
            5_555_556, (Reason.NOT_DELIVERING,), 10_695, ("hydromorphone",), id="beyond-it"
        ),
    ],
)
def test_a_bolus_is_refused_as_planned_with_its_cancel_debt_only_beyond_what_it_may_hold_back(
    above: int,
    reasons: tuple[Reason, ...],
    volume: int,
    in_the_way: tuple[str, ...],
    library: Library,
) -> None:
    """REQ-GOV-008, REQ-GOV-010, R-TIP-4: the path and the cancelled order of the test above,
    a clinician bolus of 0.1 mg over 600 s at T0 + 1800, and the last 24 h holding W fg at
    T0 - 100. In the window ending at T0 - 101 + 86 400: W, what the cancelled order may have
    moved (2083 nL: 20 830 ng), the order and the basal after it (rounded up to a femtogram).
    Planned without the 0.567 nL the cancel owes and holding back one nanolitre (what a
    clinician bolus may hold back): 10 693 nL (106 930 ng), then 83 899 s of 1 mg/day
    (971 053 240 740.74 fg); it fits for W up to 18 901 186 759 259 fg, granted there; one
    femtogram more, refused for the cap. Planned with the debt: the bolus flow 10 001 nL, a day
    of basal from T0 + 1800 (84 499 s: 977 997 685 185.19 fg), 10 695 nL in all; over the
    maximum by W - 18 901 186 759 259 fg + 24 444 444.19 fg. Over by more than 30 ng (the
    debt's nanolitre, the one it may hold back and one more), from 5 555 556 fg above that W,
    no plan can fit: refused as planned with the debt, naming the hydromorphone its last
    nanolitre reaches; up to 30 ng over, refused as planned without it, for the cap."""
    window = 18_901_186_759_259 + above
    d = _active_device(
        library,
        ledger=Ledger().record(T0 - 100, 1, T0 - 100, window, window, 1),
        orders=(_order(2, DeliveryKind.BASAL, 4166),),
        next_order_id=3,
        basal_until_s=T0 + HOUR,
        basal_carry=9 * MG * DAY,
    )
    d = _with_path(
        d,
        Segment(12_777, "morphine", 10 * MG),
        Segment(1_000, "hydromorphone", 2 * MG),
        Segment(234_000 - 13_777, "morphine", 10 * MG),
    )
    plan = dosing.clinician_plan(d, T0 + 1800, library, 100_000, 600)
    assert (plan.decision.reasons, plan.volume_nl, plan.in_the_way) == (reasons, volume, in_the_way)
    assert plan.decision.granted_ng == (100_000 if not reasons else 0)


@pytest.mark.parametrize(
    ("above", "volume", "carry"),
    [
        pytest.param(-24_444_445, 10_695, 96 * 10**8, id="room-for-the-debt"),
        pytest.param(-24_444_444, 10_694, 4_896 * 10**8 + 3_840 * 10**8, id="one-femtogram-short"),
    ],
)
def test_a_bolus_holds_the_basal_its_cancel_owes_exactly_while_the_window_has_room_for_it(
    above: int, volume: int, carry: int, library: Library
) -> None:
    """REQ-TIP-004, REQ-GOV-002, R-TIP-4: the state of the test above with the path all
    morphine: planned with the debt the bolus is over the maximum by W - 18 901 186 759 259 fg
    + 24 444 444.19 fg, so it fits for W up to 24 444 445 fg below that W: the order holds the
    0.567 nL debt (4.896 x 10**11 fg x s/day) with the 694.44 nL of basal, 10 695 nL, and
    carries the rest, 6.004896 x 10**14 - 695 x 10**7 x 86 400 = 9.6 x 10**9; one femtogram
    more in the window, it is planned without the debt (10 694 nL) and carries it with the
    basal target's remainder (3.84 x 10**11)."""
    window = 18_901_186_759_259 + above
    d = _active_device(
        library,
        ledger=Ledger().record(T0 - 100, 1, T0 - 100, window, window, 1),
        orders=(_order(2, DeliveryKind.BASAL, 4166),),
        next_order_id=3,
        basal_until_s=T0 + HOUR,
        basal_carry=9 * MG * DAY,
    )
    plan = dosing.clinician_plan(d, T0 + 1800, library, 100_000, 600)
    assert plan.decision.granted_ng == 100_000
    assert (plan.volume_nl, plan.basal_carry) == (volume, carry)


def test_a_bolus_over_the_maximum_by_under_one_femtogram_without_an_order_to_cancel_is_denied(
    library: Library,
) -> None:
    """REQ-GOV-003, REQ-GOV-008: with no basal order in flight and the basal ordered up to T0,
    the 0.1 mg bolus at T0 + 1 (10 694 nL with its basal) and a day of basal from then on fit a
    window of 20 mg - 100 000 ng - 10**12 x 86 298 / 86 400 fg = 18 901 180 555 555.56 fg (as
    in `test_a_bolus_replaces_the_basal_order_in_flight`, without the cancelled order's 20 ng):
    granted with 18 901 180 555 555 fg in the window; one femtogram more is over the maximum
    by 0.44 fg, and with no basal order to hold basal back from the bolus is denied for the
    cap."""
    for window_fg, granted in ((18_901_180_555_555, True), (18_901_180_555_556, False)):
        d = _active_device(
            library,
            ledger=Ledger().record(T0 - 100, 1, T0 - 100, window_fg, window_fg, 1),
            orders=(),
            next_order_id=3,
            basal_until_s=T0,
        )
        _, effects = request_bolus(d, T0 + 1, library)
        assert effects[0] == BolusDecision(granted, 100_000, () if granted else (Reason.DAILY_CAP,))
        orders = [(e.volume_nl, e.basal_nl) for e in effects if isinstance(e, DeliveryOrder)]
        assert orders == ([(10_694, 694)] if granted else [])


def test_a_bolus_cancelling_an_order_across_two_concentrations_carries_no_debt_of_it(
    library: Library,
) -> None:
    """REQ-TIP-004, R-TIP-4: after a change from 10 to 20 mg/mL the path holds 2000 nL of the
    old fluid at the tip; the hour's basal order (4166 nL from T0) reaches into the new one.
    Its debt is counted only when its rest lies in one fluid, so a bolus at T0 + 1 cancelling
    it (granted, sized across both) carries only its own basal target's remainder: 600 s of
    1 mg/day is 6 944 444 444.44 fg, whose fraction below a femtogram is carried as
    10**12 x 600 mod 86 400 = 38 400 fg x s/day."""
    d = _active_device(
        library,
        orders=(_order(2, DeliveryKind.BASAL, 4166),),
        next_order_id=3,
        basal_until_s=T0 + HOUR,
    )
    d = _refilled(
        d, 20 * MG, Segment(2000, "morphine", 10 * MG), Segment(232_000, "morphine", 20 * MG)
    )
    after, effects = request_bolus(d, T0 + 1, library)
    assert effects[0] == BolusDecision(True, 100_000)
    assert after.basal_carry == 10**12 * 600 % DAY == 38_400


@pytest.mark.parametrize(
    ("reservoir", "segments", "volume"),
    [
        pytest.param(
            25 * MG,
            (Segment(10_000, "morphine", 10 * MG), Segment(224_000, "morphine", 25 * MG)),
            10_000,
            id="all-of-the-leaner-fluid",
        ),
        pytest.param(
            20 * MG,
            (
                Segment(2, "morphine", 25 * MG),
                Segment(10_692, "morphine", 10 * MG),
                Segment(223_306, "morphine", 20 * MG),
            ),
            9_997,
            id="a-richer-nanolitre-then-the-leaner",
        ),
    ],
)
def test_a_bolus_across_two_concentrations_holding_its_dose_exactly_is_sized_to_it(
    reservoir: int, segments: tuple[Segment, ...], volume: int, library: Library
) -> None:
    """REQ-TIP-002, REQ-GOV-008: no basal order in flight and the basal ordered past the bolus,
    nothing carried: a clinician bolus of 0.1 mg (100 000 ng) over 600 s is sized to the
    largest volume whose drug is at most the dose, the dose exactly here: 10 000 nL of
    10 mg/mL (the 25 mg/mL behind them within its reach); 2 nL of 25 mg/mL and 9 995 nL of
    10 mg/mL (50 + 99 950 ng)."""
    d = _active_device(library, orders=(), next_order_id=3, basal_until_s=T0 + 2 * HOUR)
    d = _refilled(d, reservoir, *segments)
    plan = dosing.clinician_plan(d, T0 + 1, library, 100_000, 600)
    assert (plan.decision.granted_ng, plan.volume_nl, plan.basal_nl) == (100_000, volume, 0)


@pytest.mark.parametrize(
    ("window_ng", "held"),
    [(18_901_120, 0), (18_901_155, 1), (18_901_175, 2), (18_901_195, 3), (18_901_215, None)],
)
def test_a_bolus_across_two_concentrations_carries_the_basal_it_holds_back(
    window_ng: int, held: int | None, library: Library
) -> None:
    """REQ-TIP-004, R-TIP-4: the change of the test above (2000 nL of 10 mg/mL at the tip, then
    20 mg/mL), the hour's basal order cancelled at T0 + 1 by a patient bolus of 0.1 mg, the
    last 24 h nearer and nearer the 20 mg maximum: the order (6346 nL, sized across both
    concentrations; its basal share 6 944 444 444 fg of 106 944 444 444: 412 nL) holds back
    one, two, then three nanolitres of its basal (the second and third announced), each carried
    to the next basal order at the richer fluid, 20 mg/mL (held x 2 x 10**7 x 86 400 fg x
    s/day), besides the basal target's remainder (38 400 fg x s/day); a window nearer still
    denies it. A bolus never cuts the basal (R-TIP-4)."""
    d = _active_device(
        library,
        ledger=_recorded(T0 - 100, window_ng),
        orders=(_order(2, DeliveryKind.BASAL, 4166),),
        next_order_id=3,
        basal_until_s=T0 + HOUR,
    )
    d = _refilled(
        d, 20 * MG, Segment(2000, "morphine", 10 * MG), Segment(232_000, "morphine", 20 * MG)
    )
    after, effects = request_bolus(d, T0 + 1, library)
    assert isinstance(effects[0], BolusDecision)
    assert effects[0].granted is (held is not None)
    if held is not None:
        (order,) = [e for e in effects if isinstance(e, DeliveryOrder)]
        # the basal share: volume x (basal target - held) / (dose + basal target - held)
        share = (
            (6346 - held) * (6_944_444_444 - held * 20 * MG) // (106_944_444_444 - held * 20 * MG)
        )
        assert (order.volume_nl, order.basal_nl) == (6346 - held, share)
        assert share == [412, 410, 409, 408][held]
        assert after.basal_carry == 38_400 + held * 20 * MG * DAY
        limited = Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM)
        assert (limited in effects) is (held > 1)


def test_a_bolus_cancelling_an_order_whose_rest_lies_in_one_fluid_carries_its_debt(
    library: Library,
) -> None:
    """REQ-TIP-004, R-TIP-4: the same change, with 4000 nL of the old fluid at the tip; the
    hour's basal order (4166 nL from T0, a carry after it of 0.9 nL) reported 1000 nL at
    T0 + 900, so its rest (3166 nL) lies in the old fluid alone. A bolus at T0 + 1800
    cancelling it is sized across both concentrations and carries, besides its own basal
    target's remainder (38 400 fg x s/day, as above), that order's debt: 0.9 nL less 1800 s of
    the program's basal above its pace line, 9 x 10**6 x 86 400 - 1800 x 160 x 10**6 fg x
    s/day (0.567 nL, as in the reservoir test above)."""
    d = _active_device(
        library,
        orders=(
            dataclasses.replace(
                _order(2, DeliveryKind.BASAL, 4166, reported_nl=1000), reported_s=T0 + 900
            ),
        ),
        next_order_id=3,
        basal_until_s=T0 + HOUR,
        basal_carry=9 * MG * DAY,
    )
    d = _refilled(
        d, 20 * MG, Segment(4000, "morphine", 10 * MG), Segment(230_000, "morphine", 20 * MG)
    )
    after, effects = request_bolus(d, T0 + 1800, library)
    assert effects[0] == BolusDecision(True, 100_000)
    assert after.basal_carry == 38_400 + 9 * MG * DAY - 1800 * 160 * MG


def test_a_bolus_cancelling_an_order_whose_last_nanolitre_is_the_old_fluid_carries_its_debt(
    library: Library,
) -> None:
    """REQ-TIP-004, R-TIP-4: the same change, with one nanolitre of the old fluid at the tip; the
    hour's basal order (4166 nL from T0, a carry after it of 0.9 nL) reported 4165 nL at
    T0 + 3598, so its rest, one nanolitre, is that old fluid alone (the new one right behind
    it). A bolus at T0 + 3599 cancelling it carries, besides its own basal target's remainder
    (38 400 fg x s/day), that order's debt: 0.9 nL plus its line for its last second (4166 nL x
    10**7 x 86 400 / 3600) less that second's basal (10**12): 7.7744 x 10**11 fg x s/day."""
    d = _active_device(
        library,
        orders=(
            dataclasses.replace(
                _order(2, DeliveryKind.BASAL, 4166, reported_nl=4165), reported_s=T0 + 3598
            ),
        ),
        next_order_id=3,
        basal_until_s=T0 + HOUR,
        basal_carry=9 * MG * DAY,
    )
    d = _refilled(
        d, 20 * MG, Segment(1, "morphine", 10 * MG), Segment(233_999, "morphine", 20 * MG)
    )
    after, effects = request_bolus(d, T0 + 3599, library)
    assert effects[0] == BolusDecision(True, 100_000)
    assert after.basal_carry == 38_400 + 9 * MG * DAY + 4166 * 10**7 * DAY // 3600 - 10**12


def test_the_basal_cap_room_counts_the_drug_a_cut_order_still_has_in_flight(
    library: Library,
) -> None:
    """REQ-GOV-002, REQ-GOV-004: the kit's morphine (10 mg/mL) with 19,990,000 ng of the 20 mg
    maximum recorded 100 s ago leaves 10,000 ng of room in the window; a basal order a bolus
    cut still has 500 nL (5,000 ng) in flight (4166 nL an hour, cut 432 s in). The hour's
    order is cut to the 5,000 ng left: 500 nL, with the delivery-limited alarm (counted
    without the drug in flight: 1000 nL, 5,000 ng over the maximum)."""
    d = reach(Phase.ACTIVE, library)
    now = max(d.basal_until_s, d.clock_s or 0)
    cut = Order(d.next_order_id, DeliveryKind.BASAL, now - 432, now + 3168, 4_166, cut_s=now)
    assert in_flight_nl(dataclasses.replace(d, orders=(cut,))) == 500
    d = dataclasses.replace(
        d,
        orders=(cut,),
        next_order_id=d.next_order_id + 1,
        ledger=_recorded(now - 100, 19_990_000),
    )
    plan = plan_tick(d, now, library)
    assert plan.order is not None and plan.order.volume_nl == 500
    assert plan.withheld_reasons == (Reason.DAILY_CAP,)
    assert AlarmKind.DELIVERY_LIMITED in plan.alarms
