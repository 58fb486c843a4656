"""The controller loop: the imperative shell that runs the pure core against a drive and a clock.

docs/architecture.md#functional-core: ``step`` decides, this module does the I/O. One
*controller step* (:meth:`Controller.service`) at the current time:

1. polls the drive and feeds what it reports back to the core as commands: a
   :class:`~itdose.core.commands.DriveReport` with the volume the **drive** reports delivered for
   the running order (``delivered_nl_this_command``, or ``last_outcome`` once the command ended;
   never the commanded volume), then a :class:`~itdose.core.commands.RaiseAlarm` for a latched
   fault or a battery condition (:data:`FAULT_ALARMS`);
2. ticks the core (after the reports, so a finished order is never mistaken for an overdue one);
3. carries out every effect in order: a ``DeliveryOrder`` starts a drive command, ``CancelOrder``
   and ``StopDelivery`` stop the drive (and report what it delivered), ``Annunciate`` appends to
   :attr:`Controller.annunciations`.

Effects are carried out as soon as the step that produced them returns, so a fault found by a
poll stops delivery in the same controller step (REQ-ALM-001 at the shell). Drive-level
exceptions are converted once, here, with :func:`~itdose.adapters.drive.to_drive_fault` and fed
to the core as a HIGH ``DRIVE_FAULT`` alarm. After a device reset nothing is re-issued: the core
is in ``alarm`` and issues no order until a clinician clears it (docs/hardware.md#fault-mapping).

Time: the controller reads and waits on a :class:`Clock`. :class:`VirtualClock` moves a
:class:`~itdose.adapters.simdrive.SimulatedDrive`'s virtual clock; :class:`WallClock` sleeps on
the host's monotonic clock. :meth:`Controller.run_until` is event-driven: it wakes at the earliest
of the running orders' ends, the next basal segment, the hints given with :meth:`Controller.wake_at`
(timeline actions, scheduled drive events) and at most ``poll_interval_s`` while a command runs,
so its cost grows with events, not with simulated time. ``max_segment_s`` (default one hour) is
passed with every tick: a longer value lets the core issue basal orders of up to that length when
they change nothing a patient can notice (REQ-DOSE-009), so a long run needs far fewer steps.
With ``segment_backoff`` the controller asks for shorter orders for a while after the core
refused a long one (see :meth:`Controller._after_long_ask`). ``retry_interval_s`` (default
``poll_interval_s``) is how soon a stop that could not be confirmed is tried again, so a long poll
interval does not delay it. ``VirtualClock(sim, drive_wakeups=True)`` also wakes the loop at the
instant the simulated drive stops on its own (reservoir empty, watchdog), as a drive's interrupt
line would, so a long poll interval does not delay those alarms.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from itdose.adapters.drive import (
    AcknowledgeRefused,
    BatteryStatus,
    DeliveryCommand,
    Drive,
    DriveConfig,
    DriveError,
    DriveState,
    DriveStatus,
    EndReason,
    FaultCode,
    StartKind,
    rate_for_duration,
    to_drive_fault,
)
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.dosing import SEGMENT_S
from itdose.core.effects import (
    Annunciate,
    CancelOrder,
    DeliveryOrder,
    Effect,
    Record,
    StopDelivery,
)
from itdose.core.errors import DosingError, DriveFault
from itdose.core.library import Library
from itdose.core.lifecycle import IMPLANTED_PHASES
from itdose.core.machine import Outcome, step
from itdose.core.state import Device, Phase, Role

__all__ = [
    "FAULT_ALARMS",
    "Annunciation",
    "Clock",
    "Controller",
    "ControllerEvent",
    "VirtualClock",
    "WallClock",
    "alarm_for_fault",
]

S = Role.SERVICE
_BACKOFF_FIRST_S = 86_400
_BACKOFF_MAX_S = 8 * 86_400
_RUNGS_S = (3600, 5400, 7200, 10_800, 14_400, 21_600, 28_800, 43_200, 64_800, 86_400)
"""With ``segment_backoff``: the basal order lengths the controller asks for, shortest first
(up to ``max_segment_s``, which is always the top rung)."""

FAULT_ALARMS: dict[FaultCode, AlarmKind] = {
    FaultCode.OCCLUSION_OR_STALL: AlarmKind.MOTOR_STALL,
    FaultCode.COMM_TIMEOUT: AlarmKind.DRIVE_FAULT,
    FaultCode.WATCHDOG_STOPPED: AlarmKind.DRIVE_FAULT,
    FaultCode.PROTOCOL_ERROR: AlarmKind.DRIVE_FAULT,
    FaultCode.COMMAND_REJECTED: AlarmKind.DRIVE_FAULT,
    FaultCode.PARTIAL_DELIVERY: AlarmKind.DELIVERY_DEVIATION,
    FaultCode.DEVICE_RESET: AlarmKind.DRIVE_FAULT,
    FaultCode.DEVICE_PROGRAM_ERROR: AlarmKind.DRIVE_FAULT,
    FaultCode.CONFIG_MISMATCH: AlarmKind.DRIVE_FAULT,
    FaultCode.RESERVOIR_EMPTY: AlarmKind.EMPTY_RESERVOIR,
    FaultCode.END_OF_SERVICE: AlarmKind.END_OF_SERVICE,
}
"""The core alarm for each drive fault (all HIGH: delivery stops). A drive cannot tell a stalled
motor from an occluded catheter (docs/hardware.md#fault-mapping): ``OCCLUSION_OR_STALL`` maps to
``MOTOR_STALL`` by default, the kind that also raises the baclofen withdrawal warning; pass
``stall_alarm=AlarmKind.OCCLUSION`` to :class:`Controller` to change it. A partial delivery is a
delivery deviating from its command (docs/dosing-rules.md: HIGH ``DELIVERY_DEVIATION``)."""


def alarm_for_fault(fault: FaultCode, stall_alarm: AlarmKind = AlarmKind.MOTOR_STALL) -> AlarmKind:
    """The core alarm kind for a drive fault code."""
    if fault is FaultCode.OCCLUSION_OR_STALL:
        return stall_alarm
    return FAULT_ALARMS[fault]


class Clock(Protocol):
    """A monotonic clock in whole seconds that the controller can wait on."""

    def now_s(self) -> int:
        """The current time on the controller's monotonic timeline."""
        ...

    def wait_until(self, t_s: int) -> None:
        """Return at ``t_s`` (at once if it has passed)."""
        ...


class _Advancing(Protocol):
    @property
    def now_s(self) -> int: ...

    def advance_to(self, t_s: int) -> None: ...


class VirtualClock:
    """The virtual clock of a simulated drive: waiting advances the simulation. With
    ``drive_wakeups``, a wait ends early at the instant the drive stops a command on its own
    (``next_drive_stop_s``: reservoir empty, watchdog), as a drive's interrupt line would end it."""

    def __init__(self, sim: _Advancing, drive_wakeups: bool = False) -> None:
        self._sim = sim
        self._wakeups = drive_wakeups

    def now_s(self) -> int:
        return self._sim.now_s

    def wait_until(self, t_s: int) -> None:
        now = self._sim.now_s
        if t_s > now:
            if self._wakeups:
                stop = getattr(self._sim, "next_drive_stop_s", lambda: None)()
                if stop is not None and now < stop < t_s:
                    t_s = stop
            self._sim.advance_to(t_s)


class WallClock:
    """The host's monotonic clock, in whole seconds from ``start_s`` at construction."""

    def __init__(self, start_s: int = 0, sleep: Callable[[float], None] = time.sleep) -> None:
        self._origin = time.monotonic() - start_s
        self._sleep = sleep

    def now_s(self) -> int:
        return int(time.monotonic() - self._origin)

    def wait_until(self, t_s: int) -> None:
        delay = t_s + self._origin - time.monotonic()
        if delay > 0:
            self._sleep(delay)


@dataclass(frozen=True)
class Annunciation:
    """An alarm annunciated to the patient or clinician."""

    t_s: int
    kind: AlarmKind
    priority: Priority


@dataclass(frozen=True)
class ControllerEvent:
    """One thing the controller did or saw, for the observer (timeline, JSON, plots).

    ``kind``: ``command`` (accepted), ``rejected``, ``effect`` (an effect carried out), ``drive``
    (a drive observation or error), ``step`` (end of a controller step). ``command`` and
    ``effect`` hold the core values, ``outcome`` the accepted outcome.
    """

    t_s: int
    kind: str
    text: str
    command: c.Command | None = None
    effect: Effect | None = None
    error: DosingError | None = None
    outcome: Outcome | None = None


Observer = Callable[[ControllerEvent, Device], None]


@dataclass
class _Order:
    """A core delivery order as the controller executes it on a one-command drive.

    The drive runs one command at a time; a bolus preempts a running basal segment, whose
    remainder resumes afterwards as a new drive command (``parts``) within the same order and its
    original end. ``done_nl`` is what the drive confirmed for the finished parts; the core is
    told the order's cumulative total ``done_nl`` + the running part's count.
    """

    order_id: int
    kind: str
    volume_nl: int
    end_s: int
    pace_nl_per_h: int
    """The order's pace: the drive never runs it faster (the core's trust, SAFETY.md)."""
    done_nl: int = 0
    parts: int = 0
    cid: str | None = None
    """The drive command of the running (or possibly running) part."""
    reported_nl: int = 0

    def next_cid(self) -> str:
        self.parts += 1
        return f"{self.order_id}.{self.parts}"


@dataclass
class _Stats:
    steps: int = 0
    wakeups: int = 0
    commands: int = 0
    polls: int = 0
    drive_errors: int = 0


@dataclass
class _Hints:
    heap: list[int] = field(default_factory=list)

    def push(self, t_s: int) -> None:
        heapq.heappush(self.heap, t_s)

    def next_after(self, now: int) -> int | None:
        while self.heap and self.heap[0] <= now:
            heapq.heappop(self.heap)
        return self.heap[0] if self.heap else None


class Controller:
    """Runs :func:`itdose.core.step` against a :class:`Drive` on a :class:`Clock`.

    ``device`` is the core state (a fresh :class:`Device` by default); :attr:`device` always holds
    the latest accepted state. ``observer`` receives every :class:`ControllerEvent` with the
    device after it; nothing is kept here except the bounded :attr:`annunciations` tail, so memory
    does not grow with simulated time.
    """

    def __init__(
        self,
        drive: Drive,
        library: Library,
        clock: Clock,
        device: Device | None = None,
        *,
        observer: Observer | None = None,
        stall_alarm: AlarmKind = AlarmKind.MOTOR_STALL,
        poll_interval_s: int = 3600,
        watchdog_s: int | None = 7200,
        keep_annunciations: int = 1000,
        max_segment_s: int = SEGMENT_S,
        retry_interval_s: int | None = None,
        segment_backoff: bool = False,
    ) -> None:
        self.drive = drive
        self.library = library
        self.clock = clock
        self.device = device if device is not None else Device()
        self.observer = observer
        self.stall_alarm = stall_alarm
        self.poll_interval_s = poll_interval_s
        self.watchdog_s = watchdog_s
        self.max_segment_s = max_segment_s
        self.retry_interval_s = poll_interval_s if retry_interval_s is None else retry_interval_s
        self.segment_backoff = segment_backoff
        self._ask_s = max_segment_s
        """With ``segment_backoff``: the basal order length asked for now."""
        self._retry_at_s = 0
        self._probing = False
        self._backoff_s = _BACKOFF_FIRST_S
        self.annunciations: list[Annunciation] = []
        self._keep = keep_annunciations
        self._orders: dict[int, _Order] = {}
        self._active: _Order | None = None
        """The order whose part runs (or may run) on the drive."""
        self._stack: list[_Order] = []
        """Preempted orders, resumed last-in first-out."""
        self._stop_pending = False
        """A stop could not be confirmed (drive unreachable): retry at every step."""
        self._stops = 0
        """Stops of all delivery carried out (:meth:`_carry_out`: a stop that a fault raised
        while one step's effects were carried out voids the orders still to come in them)."""
        self._configured = False
        self._eri_seen = False
        self._hints = _Hints()
        self.stats = _Stats()
        info = drive.identify()
        self.min_rate_nl_per_h = info.capabilities.min_rate_nl_per_h
        self.max_rate_nl_per_h = info.capabilities.max_rate_nl_per_h

    # ------------------------------------------------------------------ events

    def _emit(self, event: ControllerEvent) -> None:
        if self.observer is not None:
            self.observer(event, self.device)

    def _annunciate(self, t_s: int, kind: AlarmKind, priority: Priority) -> None:
        if self._keep <= 0:
            return
        self.annunciations.append(Annunciation(t_s, kind, priority))
        if len(self.annunciations) > self._keep:
            del self.annunciations[: len(self.annunciations) - self._keep]

    @property
    def delivering(self) -> bool:
        """True while the controller has a drive command running or possibly running."""
        return self._active is not None

    # ------------------------------------------------------------------ the core

    def submit(self, command: c.Command) -> Outcome:
        """Apply ``command`` now and carry out its effects; raises the core's
        :class:`DosingError` (state untouched, nothing carried out) if it is rejected."""
        now = self.clock.now_s()
        self.stats.steps += 1
        try:
            outcome = step(self.device, command, now, self.library)
        except DosingError as exc:
            self._emit(ControllerEvent(now, "rejected", str(exc), command=command, error=exc))
            raise
        self.device = outcome.device
        self._emit(ControllerEvent(now, "command", command.name, command=command, outcome=outcome))
        self._carry_out(outcome.effects, now)
        if isinstance(command, c.ClearAlarm):
            self._after_clear(now)
        if command.role is Role.CLINICIAN:  # what the core's long orders depend on may change
            self._retry_at_s, self._backoff_s = now, _BACKOFF_FIRST_S
        return outcome

    def _service_step(self, command: c.Command) -> Outcome | None:
        """A service-role command; a rejection is logged (observer), never raised."""
        try:
            return self.submit(command)
        except DosingError:
            return None

    # ------------------------------------------------------------------ effects

    def _carry_out(self, effects: tuple[Effect, ...], now: int) -> None:
        """Carry out one step's effects in order. A drive error while doing so raises a HIGH
        alarm through a step of its own, whose stop of all delivery comes before the orders
        still to come here: those are never started (each reported final with nothing
        delivered), or a bolus granted in the step would run under the alarm (REQ-ALM-001)."""
        stops = self._stops
        for effect in effects:
            if isinstance(effect, DeliveryOrder):
                if self._stops != stops:  # delivery was stopped since this step decided it
                    self._void(effect, now)
                else:
                    self._order(effect, now)
            elif isinstance(effect, CancelOrder):
                self._emit(ControllerEvent(now, "effect", "cancel", effect=effect))
                self._cancel(now, effect.order_id)
            elif isinstance(effect, StopDelivery):
                self._emit(ControllerEvent(now, "effect", "stop", effect=effect))
                self._stop_all(now)
                stops = self._stops  # this step's own stop: its later orders do run
            elif isinstance(effect, Annunciate):
                self._annunciate(now, effect.kind, effect.priority)
                self._emit(ControllerEvent(now, "effect", effect.kind.value, effect=effect))
            elif isinstance(effect, Record):
                if effect.event not in (c.Tick.name, c.DriveReport.name):
                    self._emit(ControllerEvent(now, "effect", effect.event, effect=effect))
            else:
                self._emit(ControllerEvent(now, "effect", type(effect).__name__, effect=effect))

    def _fault(self, now: int, kind: AlarmKind, detail: str) -> None:
        self._emit(ControllerEvent(now, "drive", f"{kind.value}: {detail}"))
        if self.device.phase in IMPLANTED_PHASES:
            self._service_step(c.RaiseAlarm(S, kind, detail=detail[:500]))

    def _drive_error(self, now: int, exc: DriveError) -> None:
        """The one conversion point of drive-level exceptions (docs/architecture.md#conventions)."""
        self.stats.drive_errors += 1
        fault: DriveFault = to_drive_fault(exc)
        self._fault(now, alarm_for_fault(exc.fault, self.stall_alarm), str(fault))

    def _void(self, order: DeliveryOrder, now: int) -> None:
        """An order a later stop overtook: never given to the drive, reported final at 0."""
        self._emit(ControllerEvent(now, "effect", f"void {order.kind}", effect=order))
        o = _Order(order.order_id, order.kind, order.volume_nl, now + order.duration_s, 1)
        self._finish(now, o, 0)

    def _order(self, order: DeliveryOrder, now: int) -> None:
        pace = rate_for_duration(order.volume_nl, order.duration_s) if order.volume_nl else 1
        o = _Order(order.order_id, order.kind, order.volume_nl, now + order.duration_s, pace)
        self._orders[o.order_id] = o
        self._emit(ControllerEvent(now, "effect", f"deliver {order.kind}", effect=order))
        if self._active is not None and not self._preempt(now):
            return
        self._run(o, now)

    def _preempt(self, now: int) -> bool:
        """Stop the running part so a new order can run; False if the drive cannot be reached
        (the new order then waits in the stack and the fault is raised)."""
        active = self._active
        assert active is not None
        try:
            status = self.drive.stop()
        except DriveError as exc:
            self._drive_error(now, exc)
            return False
        self._report(now, status)
        if self._active is active:  # its part ended short of the volume: resume it later
            self._active = None
            self._stack.append(active)
        return True

    def _run(self, o: _Order, now: int) -> None:
        """Start the next part of ``o``: its remaining volume by its end."""
        remaining = o.volume_nl - o.done_nl
        left_s = o.end_s - now
        if remaining <= 0 or left_s <= 0:
            self._finish(now, o, o.done_nl)
            return
        # never faster than the order's pace, even after a pause: the rest may end late, and
        # what is not delivered by the end is not caught up (REQ-DOSE-006, REQ-TIP-004)
        rate = max(
            min(rate_for_duration(remaining, left_s), o.pace_nl_per_h), self.min_rate_nl_per_h
        )
        cid = o.next_cid()
        try:
            if not self._configured:
                self.drive.configure(DriveConfig(watchdog_timeout_s=self.watchdog_s))
                self._configured = True
            result = self.drive.start(DeliveryCommand(cid, remaining, rate))
        except DriveError as exc:
            o.cid, self._active = cid, o
            self._drive_error(now, exc)
            return
        self.stats.commands += 1
        if result.kind is StartKind.REJECTED:
            self._emit(ControllerEvent(now, "drive", f"start {cid} rejected: {result.reason}"))
            self._finish(now, o, o.done_nl)
            self._fault(now, AlarmKind.DRIVE_FAULT, f"drive refused {cid}: {result.reason}")
            return
        o.cid, self._active = cid, o
        if result.kind is StartKind.UNCERTAIN:
            self._emit(ControllerEvent(now, "drive", f"start {cid} uncertain: {result.reason}"))
        # Confirm at once: a drive may accept a command and fault as the motor first turns.
        self._poll_and_report(now)

    def _finish(self, now: int, o: _Order, delivered_nl: int, unsure_nl: int = 0) -> None:
        """The order is over: its final report to the core (of what it adds, up to ``unsure_nl``
        may not have moved: a count a reset lost, counted at its upper bound)."""
        self._orders.pop(o.order_id, None)
        if self._active is o:
            self._active = None
        if o in self._stack:
            self._stack.remove(o)
        unsure = min(unsure_nl, max(0, delivered_nl - o.reported_nl))
        o.reported_nl = delivered_nl
        self._service_step(c.DriveReport(S, o.order_id, delivered_nl, True, unsure_nl=unsure))

    def _resume_next(self, now: int) -> None:
        for o in [o for o in self._stack if o.end_s <= now]:
            # its time is over: the rest is not delivered late (no catch-up, REQ-DOSE-006)
            self._finish(now, o, o.done_nl)
        while self._active is None and self._stack and not self._stop_pending:
            o = self._stack.pop()
            self._run(o, now)

    def _cancel(self, now: int, order_id: int) -> None:
        o = self._orders.get(order_id)
        if o is None:
            return
        if o is self._active:
            try:
                status = self.drive.stop()
            except DriveError as exc:
                self._stop_pending = True
                self._drive_error(now, exc)
                return
            self._report(now, status)
            if o.order_id in self._orders:  # stopped short: it ends with what was delivered
                self._finish(now, o, o.done_nl)
            self._resume_next(now)
        else:
            self._finish(now, o, o.done_nl)

    def _stop_all(self, now: int) -> None:
        self._stops += 1
        for o in list(self._stack):
            self._finish(now, o, o.done_nl)
        if self._active is None:
            return
        try:
            status = self.drive.stop()
        except DriveError as exc:
            self._stop_pending = True
            self._drive_error(now, exc)
            return
        self._stop_pending = False
        self._report(now, status)
        for o in [*self._stack, *([self._active] if self._active else [])]:
            self._finish(now, o, o.done_nl)

    def _after_clear(self, now: int) -> None:
        """A clinician cleared an alarm: clear the drive's latched fault too (if its cause is
        gone) and configure it again after a reset. Delivery restarts only when the core orders
        it (after ``resume``)."""
        try:
            status = self.drive.poll()
            if status.fault is not None:
                self.drive.acknowledge(status.fault)
                if status.fault is FaultCode.DEVICE_RESET:
                    self._configured = False
                self._emit(ControllerEvent(now, "drive", f"acknowledged {status.fault.value}"))
        except AcknowledgeRefused as exc:
            self._emit(ControllerEvent(now, "drive", f"drive fault persists: {exc}"))
        except DriveError as exc:
            self._emit(ControllerEvent(now, "drive", f"cannot clear the drive: {exc}"))

    # ------------------------------------------------------------------ drive observations

    def _report(self, now: int, status: DriveStatus) -> None:
        """Feed the drive's count for the active order to the core (cumulative over its parts).

        A count lost by a reset has bounds; the upper bound is counted, so the rolling 24 h
        ledger and the reservoir count the most that may have been delivered (docs/architecture.md
        section 3: an amount checked against a limit rounds toward safety), and the report says
        how much of it may not have moved (``unsure_nl``: the core then counts the path as the
        richest fluid within that doubt, docs/dosing-rules.md#r-tip-6)."""
        o = self._active
        if o is None or o.cid is None:
            return
        if status.counter_epoch and status.fault is FaultCode.DEVICE_RESET:
            self._configured = False
        if status.active_command_id == o.cid:
            total = o.done_nl + status.delivered_nl_this_command
            if total != o.reported_nl:
                o.reported_nl = total
                self._service_step(c.DriveReport(S, o.order_id, total, False))
            return
        out = status.last_outcome
        if out is None or out.command_id != o.cid:
            if status.state is DriveState.UNKNOWN:
                return  # cannot confirm: keep it active (possibly delivering)
            # the part never ran (lost start): nothing delivered by it
            o.cid = None
            self._active = None
            self._stack.append(o)
            return
        lo, hi = out.bounds
        part = hi if hi != lo else out.delivered_nl
        unsure = 0
        if hi != lo:
            # the most the drive can have moved: the upper bound, or less if the order's pace
            # (the drive's trust, SAFETY.md) cannot have moved that much by now
            placed = next((x for x in self.device.orders if x.id == o.order_id), None)
            if placed is not None:
                by_pace = o.pace_nl_per_h * (max(0, now - placed.start_s) + 1) // 3600
                part = max(lo, min(hi, by_pace - o.done_nl))
            # what it surely moved: its lower bound, or what was reported of it before
            unsure = part - max(lo, o.reported_nl - o.done_nl)
            self._emit(
                ControllerEvent(
                    now,
                    "drive",
                    f"order {o.order_id}: count lost by a reset, between {lo} and {hi} nL: "
                    f"{part} nL counted",
                )
            )
        o.done_nl += part
        o.cid = None
        self._active = None
        if out.reason is not EndReason.STOPPED or o.done_nl >= o.volume_nl:
            self._finish(now, o, o.done_nl, unsure)
        else:  # stopped by us (preemption or cancel): the caller decides
            self._stack.append(o)
            if o.reported_nl != o.done_nl:
                o.reported_nl = o.done_nl
                report = c.DriveReport(S, o.order_id, o.done_nl, False, unsure_nl=unsure)
                self._service_step(report)

    def _poll_and_report(self, now: int) -> DriveStatus | None:
        self.stats.polls += 1
        try:
            status = self.drive.stop() if self._stop_pending else self.drive.poll()
        except DriveError as exc:
            self._drive_error(now, exc)
            return None
        if self._stop_pending:
            self._stop_pending = False
            self._report(now, status)
            for o in [*self._stack, *([self._active] if self._active else [])]:
                self._finish(now, o, o.done_nl)
        else:
            self._report(now, status)
        if status.fault is not None and self.device.phase in IMPLANTED_PHASES:
            kind = alarm_for_fault(status.fault, self.stall_alarm)
            if not self.device.has_alarm(kind):
                self._fault(now, kind, f"drive fault {status.fault.value}")
        if status.battery is BatteryStatus.ERI and not self._eri_seen:
            self._eri_seen = True
            if self.device.phase in IMPLANTED_PHASES:
                self._service_step(c.RaiseAlarm(S, AlarmKind.ERI, detail="battery ERI"))
        return status

    # ------------------------------------------------------------------ the loop

    def service(self) -> None:
        """One controller step now: poll and report, raise alarms, resume, tick, carry out."""
        now = self.clock.now_s()
        self._poll_and_report(now)
        self._resume_next(now)
        if self.device.phase in IMPLANTED_PHASES:
            ask = self._segment_ask(now)
            outcome = self._service_step(c.Tick(S, max_segment_s=ask))
            if outcome is not None and self.segment_backoff and ask > SEGMENT_S:
                self._after_long_ask(now, outcome)
        self._emit(ControllerEvent(now, "step", ""))

    def _segment_ask(self, now: int) -> int:
        """The longest basal order to ask the core for now: ``max_segment_s``, or with
        ``segment_backoff`` the length found to be granted (see :meth:`_after_long_ask`)."""
        if not self.segment_backoff:
            return self.max_segment_s
        self._probing = now >= self._retry_at_s and self._ask_s < self.max_segment_s
        if self._probing:
            self._ask_s = self._rung(self._ask_s, up=True)
        return self._ask_s

    def _rung(self, ask_s: int, up: bool) -> int:
        """The next rung of :data:`_RUNGS_S` above (``up``) or below ``ask_s``, within one hour
        and ``max_segment_s``."""
        top = max(SEGMENT_S, self.max_segment_s)
        rungs = [r for r in _RUNGS_S if r < top] + [top]
        if up:
            return next((r for r in rungs if r > ask_s), top)
        return max((r for r in rungs if r < ask_s), default=SEGMENT_S)

    def _after_long_ask(self, now: int, outcome: Outcome) -> None:
        """With ``segment_backoff``: a basal order of exactly one hour after asking for longer is
        the core's refusal (the longer order would change something a patient can notice, or the
        reservoir or the daily cap is near, REQ-DOSE-009; the core counts an order's drug as
        possibly leaving the tip late, so at a daily dose of a share ``f`` of the hard maximum
        an order of up to about ``(1 - f) x 24 h`` fits). The controller asks for lengths on a
        ladder (:data:`_RUNGS_S`: 1 h, 1.5 h, 2 h, 3 h, 4 h, 6 h, 8 h, 12 h, 18 h, 24 h). A
        refused try one rung up goes back to the rung below and waits twice as long before the
        next try (one day first, at most eight); a granted one tries the next rung at the next
        tick. A rung granted before and refused now (the reservoir, a bolus taken, the window
        filling) steps one rung down at each tick until one is granted, and tries upwards again
        a day later; an accepted clinician command (a refill, a new program, a resume) tries
        upwards at the next tick. A refusal costs no order: the core grants the hour that an
        ask of one hour would get. So a patient near the maximum costs one refused check every
        few days instead of one every hour. Only the cost changes: the core decides every
        order's length and amount, and any ask from one hour to ``max_segment_s`` is valid."""
        for effect in outcome.effects:
            if isinstance(effect, DeliveryOrder) and effect.kind == "basal":
                if effect.duration_s == SEGMENT_S:
                    self._ask_s = self._rung(self._ask_s, up=False)
                    if self._probing:
                        self._retry_at_s = now + self._backoff_s
                        self._backoff_s = min(2 * self._backoff_s, _BACKOFF_MAX_S)
                    else:
                        self._backoff_s = _BACKOFF_FIRST_S
                        self._retry_at_s = now + self._backoff_s
                elif self._probing and effect.duration_s == self._ask_s:
                    self._backoff_s = _BACKOFF_FIRST_S
                    self._retry_at_s = now

    def wake_at(self, t_s: int) -> None:
        """Make sure the loop wakes at ``t_s`` (a timeline action, a scheduled drive event)."""
        self._hints.push(t_s)

    def next_wakeup(self, limit_s: int) -> int:
        """The earliest time something is due, at most ``limit_s``."""
        now = self.clock.now_s()
        d = self.device
        best = limit_s
        hint = self._hints.next_after(now)
        if hint is not None:
            best = min(best, hint)
        if self._active is not None:
            best = min(best, max(self._active.end_s, now + 1), now + self.poll_interval_s)
        if self._stop_pending:
            best = min(best, now + self.retry_interval_s)
        for o in self._stack:
            best = min(best, max(o.end_s, now + 1))
        for order in d.orders:
            if order.end_s > now:
                best = min(best, order.end_s)
        if d.phase is Phase.ACTIVE:
            best = min(best, max(d.basal_until_s, now + 1))
        return max(best, now)

    def run_until(self, t_s: int) -> None:
        """Service every due instant up to and including ``t_s``."""
        while True:
            now = self.clock.now_s()
            wake = self.next_wakeup(t_s)
            if wake > now:
                self.clock.wait_until(wake)
            self.stats.wakeups += 1
            self.service()
            if self.clock.now_s() >= t_s:
                return
