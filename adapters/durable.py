"""The durable controller: every decision goes through the journal first.

See docs/architecture.md#adapters and hazard docs/clinical-basis.md#h12.

:class:`DurableController` is the :class:`~itdose.adapters.controller.Controller` loop with its
memory in a :class:`~itdose.adapters.journal.Journal`:

* **Write-ahead.** Every command (the clinician's, the patient's, and the controller's own drive
  reports, alarms and ticks) is decided by :func:`itdose.core.step` on the journal's device and
  recorded with :meth:`Journal.record` (committed, ``synchronous=FULL``) *before* any of its
  effects is carried out, so no drive order is ever issued for a decision that is not durable.
  A rejected command is audited too. If the journal cannot record, the decision is dropped, the
  drive is stopped and :class:`JournalHalt` is raised out of the loop (fail stop: nothing is
  delivered without a record; the drive's own watchdog stops it if even the stop is lost).
* **Monotonic time.** The controller's clock is read through :meth:`Journal.monotonic_now`
  (:class:`JournalClock`): elapsed time comes from the monotonic clock the controller waits on;
  the wall clock only bridges a restart. A wall clock set back, set forward or corrected while
  the controller runs is audited and moves nothing on the timeline (REQ-TIME-008).
* **Restart** (:meth:`DurableController.open`). The journal is opened and verified against its
  key and head file, and the drive's own command ids and delivered total are checked against it
  (:func:`check_drive_witness`; REQ-PERS-004). An integrity failure raises
  :class:`~itdose.adapters.journal.JournalIntegrityError` (a lost tail or an older copy:
  :class:`~itdose.adapters.journal.JournalRollbackError`); the caller fails safe with
  :func:`~itdose.adapters.journal.salvage` and :func:`~itdose.adapters.journal.fail_safe_device`
  (a HIGH memory fault, no patient boluses until a clinician clears it; nothing is rebuilt).
  Otherwise the last device is resumed with its
  ledger, lockouts, bolus counts, alarms and programs, the downtime is audited, and the orders
  still in flight (``device.orders``) are reconciled from the drive before anything else runs.
  A command the drive is still running for an order whose time is not over is adopted (it goes
  on at the rate it was started with). Anything else running is stopped and every other order is
  closed with a final ``drive_report`` of what the drive says it delivered for that order's
  commands (:class:`CommandHistory`). If the drive cannot say (no history, a count lost by a
  reset, the drive unreachable), the conservative bound, the order's whole volume, is reported
  and the reason is written in the audit record and sent to the observer. An order a bolus cut
  that is still in flight was cancelled by a decision whose stop the controller never confirmed
  (it reports a cancelled order at once): the drive may have moved it on after the cut, so its
  report (the adopted one's count so far, or its final count) says the cancel is not known
  carried out (``DriveReport.uncut``, docs/dosing-rules.md#r-tip-3), unless the drive shows a
  command of a later order (one command at a time: it stopped the cut order first; the cut
  stands, and the conservative bound is what the pace can have moved by the cut). Nothing
  missed is caught up: a stopped segment's rest is not delivered later at a higher rate, and the
  next tick orders one ordinary basal segment at the segment's planned end.

The controller's drive command ids are ``"<order id>.<part>"`` (a bolus that preempts a basal
segment splits it into parts); :class:`CommandHistory` looks commands up by the order's prefix.
:class:`RecordingSimDrive` is a :class:`~itdose.adapters.simdrive.SimulatedDrive` that keeps that
history, modelling the persistent delivery log of an implant's drive: a test keeps it alive
across the controller's restarts (in the parent process, as ``tools/crash_test.py`` does).

Hooks this module would rather have in :class:`Controller` (it subclasses instead, using the
controller's ``_emit``, ``_carry_out``, ``_after_clear``, ``_drive_error``, ``_poll_and_report``
and its ``_Order`` bookkeeping): a ``decide``
callable to route ``step`` through the journal; ``_service_step`` swallowing only rejections, not
:class:`~itdose.adapters.journal.JournalError`; and a public "orders found in flight at start"
reconciliation entry point (``adopt(order_id, command_id, earlier_parts_nl)``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from itdose.adapters.controller import Clock, Controller, ControllerEvent, Observer, _Order
from itdose.adapters.drive import (
    DeliveryOutcome,
    Drive,
    DriveError,
    DriveState,
    DriveStatus,
    EndReason,
    FaultCode,
)
from itdose.adapters.journal import Journal, JournalRollbackError, JournalWriteError
from itdose.adapters.simdrive import SimConfig, SimEvent, SimulatedDrive
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.errors import DosingError
from itdose.core.ledger import pace_nl_per_h
from itdose.core.library import Library
from itdose.core.machine import Outcome, step
from itdose.core.state import Device, Order, Role

__all__ = [
    "CommandHistory",
    "DriveWitness",
    "DurableController",
    "JournalClock",
    "JournalHalt",
    "Reconciled",
    "RecordingSimDrive",
    "WriteStats",
    "check_drive_witness",
    "read_drive_witness",
]

S = Role.SERVICE


class JournalHalt(RuntimeError):
    """The journal could not record a decision: it was not carried out, the drive was told to
    stop, and the controller must not go on (a clinician must attend; the cause is chained)."""


@runtime_checkable
class CommandHistory(Protocol):
    """A drive that remembers what each command it ran delivered (a persistent delivery log)."""

    def outcomes(self, prefix: str) -> tuple[DeliveryOutcome, ...]:
        """The outcomes of every ended command whose id starts with ``prefix``, in start order."""
        ...


class RecordingSimDrive(SimulatedDrive):
    """A :class:`SimulatedDrive` with a :class:`CommandHistory`: the outcome of every command it
    ran, as its device side knows it (a count lost by a reset keeps its bounds)."""

    def __init__(self, config: SimConfig | None = None, faults: tuple[SimEvent, ...] = ()) -> None:
        self._history: dict[str, DeliveryOutcome] = {}
        super().__init__(config, faults)

    def _end(
        self,
        reason: EndReason,
        fault: FaultCode | None,
        delivered_nl: int,
        bounds: tuple[int, int] | None = None,
    ) -> None:
        super()._end(reason, fault, delivered_nl, bounds)
        out = self._outcome
        assert out is not None
        self._history[out.command_id] = out

    def outcomes(self, prefix: str) -> tuple[DeliveryOutcome, ...]:
        return tuple(o for cid, o in self._history.items() if cid.startswith(prefix))

    @property
    def running_command_id(self) -> str | None:
        """The command the device is running (the truth side, for checks; no exchange)."""
        return self._running.command.command_id if self._running is not None else None


class JournalClock:
    """A :class:`Clock` on the journal's timeline:
    ``journal.monotonic_now(wall(), mono_s=inner.now_s())``.

    ``inner`` is the monotonic clock the controller waits on (:class:`WallClock` reads
    ``time.monotonic``; a simulation's :class:`VirtualClock`); ``wall`` reads the wall clock in
    whole seconds (default: ``inner`` itself, as in a simulation, where the virtual clock is
    both). Elapsed time comes from ``inner`` only; ``wall`` bridges restarts.
    """

    def __init__(
        self, journal: Journal, inner: Clock, wall: Callable[[], int] | None = None
    ) -> None:
        self.journal = journal
        self.inner = inner
        self.wall = wall if wall is not None else inner.now_s

    def now_s(self) -> int:
        return self.journal.monotonic_now(self.wall(), mono_s=self.inner.now_s())

    def wait_until(self, t_s: int) -> None:
        mono = self.journal.mono_for(t_s)
        if mono is None:
            self.now_s()
            mono = self.journal.mono_for(t_s)
            assert mono is not None
        self.inner.wait_until(mono)


@dataclass(frozen=True)
class DriveWitness:
    """What the drive says it has done: its adapter's delivered total and the highest order id
    among the command ids it reports (``"<order id>.<part>"``), each None when it cannot say."""

    delivered_nl_total: int | None
    max_order_id: int | None
    note: str = ""

    def as_dict(self) -> dict[str, int | None]:
        return {"delivered_nl_total": self.delivered_nl_total, "max_order_id": self.max_order_id}


def _order_id(command_id: str | None) -> int | None:
    if not command_id:
        return None
    head, sep, tail = command_id.partition(".")
    if not sep or not head.isdigit() or not tail.isdigit():
        return None
    return int(head)


def read_drive_witness(drive: Drive) -> DriveWitness:
    """Poll ``drive`` for its delivered total and the command ids it knows (the running one,
    the last to end, and with a :class:`CommandHistory` every one it ran). Never raises: an
    unreachable drive gives a witness of Nones with the reason in ``note``."""
    try:
        status = drive.poll()
    except DriveError as exc:
        return DriveWitness(None, None, f"drive not readable: {exc}")
    ids = [status.active_command_id]
    if status.last_outcome is not None:
        ids.append(status.last_outcome.command_id)
    if isinstance(drive, CommandHistory):
        ids.extend(o.command_id for o in drive.outcomes(""))
    orders = [i for i in (_order_id(cid) for cid in ids) if i is not None]
    total = None if status.state is DriveState.UNKNOWN else status.delivered_nl_total
    return DriveWitness(total, max(orders) if orders else None)


def check_drive_witness(journal: Journal, drive: Drive) -> DriveWitness:
    """Check the drive's own record against the journal (REQ-PERS-004); raise
    :class:`~itdose.adapters.journal.JournalRollbackError` if the drive has done what the journal
    never ordered, which means the journal lost its tail (or is an older copy):

    * **command counter**: the drive ran a command of order ``n`` (its ids are
      ``"<order id>.<part>"``) but the journal's next order id is at most ``n``, and ``n`` is
      newer than what the drive had run when the journal began;
    * **delivered total**: the drive's adapter counted more since the journal began than the
      journal ever ordered (:meth:`Journal.ordered_nl_total`; a delivered total is owned by the
      adapter and never decreases, so a drive that restarts its count only weakens the check).

    What the drive cannot say is skipped (the reason is in the returned witness's ``note``).
    """
    seen = read_drive_witness(drive)
    base = journal.drive_witness or {}
    next_id = journal.device.next_order_id
    base_order = base.get("max_order_id")
    newer = seen.max_order_id is not None and (base_order is None or seen.max_order_id > base_order)
    if newer and seen.max_order_id is not None and seen.max_order_id >= next_id:
        raise JournalRollbackError(
            str(journal.path),
            f"the drive has run a command of order {seen.max_order_id} but the journal's "
            f"last order is {next_id - 1}: the journal lost the records of its tail (or is "
            "an older copy)",
        )
    base_total = base.get("delivered_nl_total")
    if seen.delivered_nl_total is not None and base_total is not None:
        counted = seen.delivered_nl_total - base_total
        ordered = journal.ordered_nl_total()
        if counted > ordered:
            raise JournalRollbackError(
                str(journal.path),
                f"the drive counted {counted} nL delivered since the journal began but the "
                f"journal ordered only {ordered} nL: the journal lost the records of its tail "
                "(or is an older copy)",
            )
    return seen


@dataclass
class WriteStats:
    """Cost of making decisions durable: seconds spent in :meth:`Journal.record` per command."""

    count: int = 0
    total_s: float = 0.0
    max_s: float = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total_s += seconds
        self.max_s = max(self.max_s, seconds)

    @property
    def mean_s(self) -> float:
        return self.total_s / self.count if self.count else 0.0


@dataclass(frozen=True)
class Reconciled:
    """How one order found in flight at a restart was closed."""

    order_id: int
    kind: str
    volume_nl: int
    journaled_nl: int
    """What the journal had counted before the restart."""
    reported_nl: int
    """The final count reported to the core (for an adopted order: its earlier parts, the loop
    reports the running part; for an adopted order whose cut is undone, the count so far, which
    the report that undoes it carries)."""
    exact: bool
    """False when the drive could not say and the conservative bound was counted."""
    note: str


@dataclass
class _Restart:
    downtime_s: int = 0
    reconciled: list[Reconciled] = field(default_factory=list)


class DurableController(Controller):
    """A :class:`Controller` whose decisions are journaled before they are carried out.

    Build it with :meth:`create` (a new journal, a clinician's explicit act) or :meth:`open`
    (every start after the first: resume and reconcile). :attr:`journal` is the open journal;
    :attr:`device` always equals ``journal.device``.
    """

    def __init__(
        self,
        drive: Drive,
        library: Library,
        clock: Clock,
        journal: Journal,
        *,
        observer: Observer | None = None,
        stall_alarm: AlarmKind = AlarmKind.MOTOR_STALL,
        poll_interval_s: int = 3600,
        watchdog_s: int | None = 7200,
        timer: Callable[[], float] = time.perf_counter,
        wall: Callable[[], int] | None = None,
    ) -> None:
        self.journal = journal
        self.write_stats = WriteStats()
        self.restart = _Restart()
        self._timer = timer
        self._reason = ""
        super().__init__(
            drive,
            library,
            JournalClock(journal, clock, wall),
            journal.device,
            observer=observer,
            stall_alarm=stall_alarm,
            poll_interval_s=poll_interval_s,
            watchdog_s=watchdog_s,
        )

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        drive: Drive,
        library: Library,
        clock: Clock,
        device: Device | None = None,
        *,
        reason: str,
        observer: Observer | None = None,
        poll_interval_s: int = 3600,
        watchdog_s: int | None = 7200,
        wall: Callable[[], int] | None = None,
        key_path: str | os.PathLike[str] | None = None,
        head_path: str | os.PathLike[str] | None = None,
    ) -> DurableController:
        """Start a new journal at ``path`` (never overwritten; its key and head file as in
        :meth:`Journal.create`) and a controller on it. What the drive had already done (its
        delivered total and last order id) is kept in the genesis record for the checks at
        :meth:`open`. ``wall`` reads the wall clock (see :class:`JournalClock`)."""
        d = device if device is not None else Device()
        wall_now = (wall or clock.now_s)()
        now = max(wall_now, d.clock_s or 0)
        witness = read_drive_witness(drive)
        journal = Journal.create(
            path,
            d,
            now_s=now,
            reason=reason,
            actor=Role.CLINICIAN,
            clock_offset_s=now - wall_now,
            key_path=key_path,
            head_path=head_path,
            drive_witness=witness.as_dict(),
        )
        return cls(
            drive,
            library,
            clock,
            journal,
            observer=observer,
            poll_interval_s=poll_interval_s,
            watchdog_s=watchdog_s,
            wall=wall,
        )

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        drive: Drive,
        library: Library,
        clock: Clock,
        *,
        observer: Observer | None = None,
        reason: str = "controller restart",
        poll_interval_s: int = 3600,
        watchdog_s: int | None = 7200,
        wall: Callable[[], int] | None = None,
        key_path: str | os.PathLike[str] | None = None,
        head_path: str | os.PathLike[str] | None = None,
    ) -> DurableController:
        """Restart from the journal at ``path``: verify it (key, head file) and check it against
        the drive (:func:`check_drive_witness`), resume, audit the downtime, reconcile the orders
        in flight with the drive. Raises ``JournalIntegrityError`` (``JournalRollbackError`` for
        a lost tail; see :func:`~itdose.adapters.journal.fail_safe_device`) and
        :class:`JournalHalt`."""
        journal = Journal.open(path, key_path=key_path, head_path=head_path)
        try:
            check_drive_witness(journal, drive)
            point = journal.resume()
        except BaseException:
            journal.close()
            raise
        ctl = cls(
            drive,
            library,
            clock,
            journal,
            observer=observer,
            poll_interval_s=poll_interval_s,
            watchdog_s=watchdog_s,
            wall=wall,
        )
        now = ctl.clock.now_s()
        ctl.restart.downtime_s = now - point.last_time_s
        try:
            journal.record_downtime(point.last_time_s, now, reason=reason)
        except JournalWriteError as exc:
            ctl._halt(now, exc)
        ctl.reconcile(now)
        return ctl

    def close(self) -> None:
        """Close the journal (the drive is the caller's)."""
        self.journal.close()

    # ------------------------------------------------------------------ write-ahead

    def submit(self, command: c.Command) -> Outcome:
        """Decide ``command`` now, make the decision durable, then carry out its effects.

        Raises the core's :class:`DosingError` for a rejection (audited; nothing carried out)
        and :class:`JournalHalt` if the journal cannot record (nothing carried out, drive
        stopped)."""
        now = self.clock.now_s()
        self.stats.steps += 1
        try:
            outcome = step(self.journal.device, command, now, self.library)
        except DosingError as exc:
            self._record(command, now, exc)
            self._emit(ControllerEvent(now, "rejected", str(exc), command=command, error=exc))
            raise
        self._record(command, now, outcome)
        self.device = outcome.device
        self._emit(ControllerEvent(now, "command", command.name, command=command, outcome=outcome))
        self._carry_out(outcome.effects, now)
        if isinstance(command, c.ClearAlarm):
            self._after_clear(now)
        return outcome

    def _record(self, command: c.Command, now: int, result: Outcome | DosingError) -> None:
        started = self._timer()
        try:
            self.journal.record(command, now, result, reason=self._reason)
        except JournalWriteError as exc:
            self._halt(now, exc)
        self.write_stats.add(self._timer() - started)

    def _halt(self, now: int, exc: JournalWriteError) -> None:
        """Fail stop: the decision is dropped; stop the drive; leave the loop."""
        self._emit(ControllerEvent(now, "drive", f"journal cannot record: {exc}; stopping"))
        try:
            self.drive.stop()
        except DriveError as stop_exc:
            self._emit(ControllerEvent(now, "drive", f"stop failed: {stop_exc}"))
        self._active = None
        self._stack.clear()
        raise JournalHalt(str(exc)) from exc

    # ------------------------------------------------------------------ restart

    def reconcile(self, now: int) -> list[Reconciled]:
        """Reconcile every order the journal has in flight with what the drive says.

        If the drive is still running a command of an order whose time is not over (a short
        restart), the controller adopts it: the command goes on at the rate it was started with
        (nothing is compressed or caught up) and is reported as usual. Anything else running is
        stopped, and every other order is closed with a final report of what the drive says it
        delivered for it (the rest of a segment is never delivered late). Each report is
        journaled with the reconciliation's reason; the list is also kept in :attr:`restart`."""
        orders = sorted(self.journal.device.orders, key=lambda o: o.id)
        status: DriveStatus | None = None
        adopt: tuple[Order, int, int] | None = None
        if orders:
            try:
                status = self.drive.poll()
                adopt = self._adoptable(orders, status, now)
                if adopt is None and status.possibly_delivering:
                    status = self.drive.stop()
            except DriveError as exc:
                status = None
                self._emit(ControllerEvent(now, "drive", f"restart: drive not confirmed: {exc}"))
                self._drive_error(now, exc)
        done: list[Reconciled] = []
        for order in orders:
            if all(o.id != order.id for o in self.journal.device.orders):
                continue  # closed meanwhile (an alarm's stop)
            # a cut order still in flight: the controller died before its cancel's stop was
            # confirmed and reported (it reports a cancelled order at once), so the drive may
            # have moved it on, unless it shows a later order's command (one command at a time:
            # it was stopped first): its report says so (R-TIP-3)
            uncut = order.cut_s > 0 and not self._later_started(order, status)
            cut = f"; its cancel at {order.cut_s} s not known carried out" if uncut else ""
            if adopt is not None and adopt[0].id == order.id:
                journaled, moved = order.reported_nl, adopt[2]
                if uncut:
                    assert status is not None
                    moved += status.delivered_nl_this_command
                    text = f"restart: order {order.id} ({order.kind.value}): {moved} nL{cut}"
                    self._report_at_restart(c.DriveReport(S, order.id, moved, False, uncut), text)
                    order = self._in_flight(order)
                adopted = self._adopt(order, adopt[1], adopt[2], now)
                done.append(
                    dataclasses.replace(
                        adopted, journaled_nl=journaled, reported_nl=moved, note=adopted.note + cut
                    )
                )
                continue
            total, sure, note = self._delivered(order, status, now, order.cut_s > 0 and not uncut)
            exact = sure == total
            note += cut
            text = f"restart: order {order.id} ({order.kind.value}): {note}"
            # what it may not have moved: the core counts the path within that doubt (R-TIP-6)
            unsure = total - max(sure, order.reported_nl)
            report = c.DriveReport(S, order.id, total, True, uncut, unsure_nl=max(0, unsure))
            self._report_at_restart(report, text)
            done.append(
                Reconciled(
                    order.id,
                    order.kind.value,
                    order.volume_nl,
                    order.reported_nl,
                    total,
                    exact,
                    note,
                )
            )
        self.restart.reconciled.extend(done)
        if self._active is not None or (status is not None and status.fault is not None):
            # report the adopted command's count now; a latched fault raises its alarm
            self._reason = "restart: first report after adopting the running command"
            try:
                self._poll_and_report(now)
            finally:
                self._reason = ""
        return done

    def _report_at_restart(self, report: c.DriveReport, text: str) -> None:
        """Journal ``report`` with the reconciliation's reason ``text`` (also sent to the
        observer); a rejection is sent to the observer."""
        now = self.clock.now_s()
        self._emit(ControllerEvent(now, "drive", text))
        self._reason = text
        try:
            self.submit(report)
        except DosingError as exc:
            self._emit(ControllerEvent(now, "drive", f"restart report rejected: {exc}"))
        finally:
            self._reason = ""

    def _later_started(self, order: Order, status: DriveStatus | None) -> bool:
        """The drive shows a command of an order after ``order`` (running, the last to end, or
        in its history): it runs one command at a time, so ``order`` was stopped before it."""
        if status is None:
            return False
        ids = [status.active_command_id]
        if status.last_outcome is not None:
            ids.append(status.last_outcome.command_id)
        if isinstance(self.drive, CommandHistory):
            ids.extend(o.command_id for o in self.drive.outcomes(""))
        return any(i is not None and i > order.id for i in map(_order_id, ids))

    def _in_flight(self, order: Order) -> Order:
        """``order`` as the journal's device holds it now (itself if it is no longer there)."""
        return next((o for o in self.journal.device.orders if o.id == order.id), order)

    def _adoptable(
        self, orders: list[Order], status: DriveStatus, now: int
    ) -> tuple[Order, int, int] | None:
        """(order, part, volume of its earlier parts) if the drive runs a command of an order in
        flight whose time is not over and whose earlier parts the drive can account for."""
        cid = status.active_command_id
        if status.state is not DriveState.RUNNING or cid is None:
            return None
        head, _, tail = cid.rpartition(".")
        order = next((o for o in orders if str(o.id) == head), None)
        if order is None or order.end_s <= now or not tail.isdigit():
            return None
        part = int(tail)
        drive = self.drive
        if isinstance(drive, CommandHistory):
            earlier = [o for o in drive.outcomes(f"{order.id}.") if o.command_id != cid]
            if any(o.bounds[0] != o.bounds[1] for o in earlier):
                return None
            done = sum(o.delivered_nl for o in earlier)
        elif part == 1:
            done = 0
        else:
            return None
        if done + status.delivered_nl_this_command < order.reported_nl:
            return None
        return order, part, done

    def _adopt(self, order: Order, part: int, done_nl: int, now: int) -> Reconciled:
        o = _Order(
            order.id,
            order.kind.value,
            order.volume_nl,
            order.end_s,
            pace_nl_per_h(order.volume_nl, order.end_s - order.start_s),
            done_nl=done_nl,
            parts=part,
            cid=f"{order.id}.{part}",
            reported_nl=order.reported_nl,
        )
        self._orders[o.order_id] = o
        self._active = o
        note = (
            f"drive still running {o.cid} (earlier parts {done_nl} nL): adopted, it goes on at "
            f"its rate until {order.end_s} s"
        )
        self._emit(ControllerEvent(now, "drive", f"restart: order {order.id}: {note}"))
        return Reconciled(
            order.id, order.kind.value, order.volume_nl, order.reported_nl, done_nl, True, note
        )

    def _delivered(
        self, order: Order, status: DriveStatus | None, now: int, stopped_at_cut: bool = False
    ) -> tuple[int, int, str]:
        """(volume to report, volume it surely moved, explanation) for an order found in flight.
        Without the drive's count, the most it can have moved: the whole order, or less if its
        pace (the drive's trust, SAFETY.md) cannot have moved that much by now, or, cut by a bolus
        and stopped before a later command (``stopped_at_cut``), by the cut (R-TIP-3); what was
        reported of it before is sure."""
        pace = pace_nl_per_h(order.volume_nl, order.end_s - order.start_s)
        by = min(now, order.cut_s) if stopped_at_cut else now
        by_pace = pace * (max(0, by - order.start_s) + 1) // 3600
        bound = max(min(order.volume_nl, by_pace), order.reported_nl)
        what = "by the cut, a later command having run" if by < now else "by now"
        conservative = (
            f"counted the conservative bound {bound} nL (the whole order, or what its pace "
            f"can have moved {what})"
        )
        known = order.reported_nl
        if status is None or status.state is DriveState.UNKNOWN:
            return bound, known, f"drive unreachable: {conservative}"
        prefix = f"{order.id}."
        drive = self.drive
        if isinstance(drive, CommandHistory):
            outs = drive.outcomes(prefix)
            uncertain = [o for o in outs if o.bounds[0] != o.bounds[1]]
            total = sum(o.bounds[1] for o in outs)
            if total < order.reported_nl:
                return (
                    bound,
                    known,
                    f"drive history ({total} nL) below the journaled {order.reported_nl} nL: "
                    + conservative,
                )
            parts = ", ".join(f"{o.command_id}={o.delivered_nl}" for o in outs) or "never started"
            if uncertain:
                sure = min(total, max(known, sum(o.bounds[0] for o in outs)))
                return total, sure, f"drive history {parts}; a count lost by a reset: upper bound"
            return total, total, f"drive history {parts}: {total} nL delivered"
        last = status.last_outcome
        if last is not None and last.command_id == f"{order.id}.1":
            lo, hi = last.bounds
            sure = hi if lo == hi else min(hi, max(lo, known))
            return hi, sure, f"drive's last outcome {last.command_id}: {hi} nL delivered"
        return bound, known, f"the drive keeps no history for this order: {conservative}"
