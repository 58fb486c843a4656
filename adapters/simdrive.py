"""A deterministic simulated implant drive on a virtual clock (docs/architecture.md#adapters).

:class:`SimulatedDrive` implements :class:`itdose.adapters.drive.Drive` with the physics of an
implanted pump's reservoir, motor, battery and catheter, and the faults of
docs/hardware.md#fault-mapping and docs/clinical-basis.md#synchromed-ii, injected at given times
(:mod:`SimEvent` values) or drawn in advance from ``random.Random(seed)`` (:func:`random_faults`).
The caller owns the clock: :meth:`SimulatedDrive.advance_to` moves it; nothing reads the wall clock
or sleeps.

Event-driven: between two events the state is a closed-form function of time, so advancing costs
O(events), not O(seconds); :attr:`SimulatedDrive.events_processed` counts them. The next event is
the earliest of the scheduled ones (a heap) and the computed ones (command completion, reservoir
empty, watchdog); at equal times the computed ones go first, then scheduled ones in insertion order.

Arithmetic, all integers:

* Motor (nominal) volume of a command ``t`` seconds after its start:
  ``min(volume, floor(rate_nl_per_h * t / 3600))``; the command completes at
  ``start + ceil(volume * 3600 / rate)``. The drive counts nominal volume: like a real pump it
  cannot see its own accuracy error (docs/clinical-basis.md#over-infusion: it shows only as a refill
  discrepancy), so the status reports nominal volumes and :meth:`SimulatedDrive.truth` the fluid.
* Fluid drawn from the reservoir: nominal volume times ``(10**6 + accuracy_error_ppm) / 10**6``,
  rounded down with the remainder carried (in millionths of a nanolitre) to the next increment, so
  the cumulative fluid is exactly ``floor(nominal_total * (10**6 + ppm) / 10**6)`` while the error
  is constant, and nothing drifts across an accuracy change.
* The reservoir never goes negative: the drive stops with ``RESERVOIR_EMPTY`` at the first second
  the drawn fluid reaches the remaining volume (the motor may have turned a little further that
  second: that was air).

What the adapter knows versus the truth: every successful exchange (start, stop, poll, ...) reads
the device counter. A device reset loses the unread part: the interrupted command's outcome is the
last read count with bounds ``(last read, commanded)``, ``counter_epoch`` increments, and
``delivered_nl_total`` (the confirmed sum, monotonic) does not include the lost part. A dislodged
catheter is invisible to the drive; only :meth:`SimulatedDrive.truth` shows it.

Departures from the real SynchroMed II, on purpose: after an MRI stall the motor recovers (after
the 2-24 h delay of docs/clinical-basis.md#synchromed-mri) but the drive does not resume the
interrupted command by itself: commands are one-shot and a remainder is never re-issued
(docs/hardware.md#fault-mapping). A stall or occlusion that begins while idle shows at the next
start (detected only when the motor turns).
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeAlias

from itdose.adapters.drive import (
    AcknowledgeRefused,
    BatteryStatus,
    ConfigError,
    DeliveryCommand,
    DeliveryOutcome,
    DriveCapabilities,
    DriveClosed,
    DriveConfig,
    DriveInfo,
    DriveProtocolError,
    DriveState,
    DriveStatus,
    DriveUnreachable,
    EndReason,
    FaultCode,
    StartResult,
    _ceil_div,
)
from itdose.core.units import DAY_S

__all__ = [
    "DAY_S",
    "ERI_TO_EOS_S",
    "MAX_SERVICE_S",
    "PPM",
    "YEAR_S",
    "AccuracyChange",
    "CatheterDislodgement",
    "CommLoss",
    "DeviceReset",
    "FaultRates",
    "GarbledReply",
    "MotorStall",
    "MriStall",
    "Occlusion",
    "PartialDelivery",
    "SimConfig",
    "SimEvent",
    "SimTruth",
    "SimulatedDrive",
    "TraceEntry",
    "random_faults",
]

PPM = 1_000_000
HOUR_S = 3600
YEAR_S = 365 * DAY_S
"""A 365-day year: the battery dates are design values, not calendar dates."""
ERI_TO_EOS_S = 90 * DAY_S
"""docs/clinical-basis.md#battery: if not replaced, the pump stops 90 days after ERI."""
MAX_SERVICE_S = 7 * YEAR_S
"""docs/clinical-basis.md#battery: maximum battery life 7 years."""
MRI_RECOVERY_MIN_S = 2 * HOUR_S
MRI_RECOVERY_MAX_S = 24 * HOUR_S
"""docs/clinical-basis.md#synchromed-mri: a 2-24 h delay in motor recovery after MRI is reported."""


def _int(name: str, value: object, minimum: int | None = None) -> int:
    if type(value) is int and (minimum is None or value >= minimum):
        return value  # the common case, decided at once (a bool's type is bool, not int)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name}: expected int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: {value} is below the minimum {minimum}")
    return value


@dataclass(frozen=True)
class SimConfig:
    """Physical parameters of a simulated drive.

    Defaults: a 40 mL reservoir, full; minimum rate 2000 nl/h (SynchroMed II's 0.048 mL/day,
    docs/clinical-basis.md#min-rate); maximum rate 1 mL/h (an assumption: the source gives none);
    battery EOS at the 7-year maximum and ERI 90 days before it. ``None`` battery dates mean no
    depletion (a bench
    supply). ``accuracy_error_ppm`` is signed: +145000 is the 14.5 % over-infusion threshold.
    """

    reservoir_capacity_nl: int = 40_000_000
    reservoir_nl: int = 40_000_000
    accuracy_error_ppm: int = 0
    battery_eri_at_s: int | None = MAX_SERVICE_S - ERI_TO_EOS_S
    battery_eos_at_s: int | None = MAX_SERVICE_S
    start_s: int = 0
    min_rate_nl_per_h: int = 2_000
    max_rate_nl_per_h: int = 1_000_000
    volume_resolution_nl: int = 1
    model: str = "itdose-simulated-implant"
    firmware: str = "sim-1"
    address: str = "sim:0"
    trace_limit: int = 10_000
    """How many of the latest trace entries are kept: memory stays flat over years of therapy."""
    id_memory: int = 10_000
    """How many of the latest command ids are remembered, to refuse a re-used id (an id older
    than that is forgotten, as a device with finite memory would): memory stays flat."""

    def __post_init__(self) -> None:
        _int("reservoir_capacity_nl", self.reservoir_capacity_nl, 1)
        _int("reservoir_nl", self.reservoir_nl, 0)
        if self.reservoir_nl > self.reservoir_capacity_nl:
            raise ValueError("reservoir_nl: exceeds reservoir_capacity_nl")
        _int("accuracy_error_ppm", self.accuracy_error_ppm, -PPM + 1)
        _int("start_s", self.start_s, 0)
        _int("trace_limit", self.trace_limit, 1)
        _int("id_memory", self.id_memory, 1)
        if self.battery_eri_at_s is not None:
            _int("battery_eri_at_s", self.battery_eri_at_s, 0)
        if self.battery_eos_at_s is not None:
            _int("battery_eos_at_s", self.battery_eos_at_s, 0)
        if (
            self.battery_eri_at_s is not None
            and self.battery_eos_at_s is not None
            and self.battery_eri_at_s > self.battery_eos_at_s
        ):
            raise ValueError("battery_eri_at_s: after battery_eos_at_s")
        _int("min_rate_nl_per_h", self.min_rate_nl_per_h, 1)
        _int("max_rate_nl_per_h", self.max_rate_nl_per_h, self.min_rate_nl_per_h)
        _int("volume_resolution_nl", self.volume_resolution_nl, 1)


# Scheduled events. Each takes effect at ``at_s`` on the virtual clock.


@dataclass(frozen=True)
class MotorStall:
    """The motor stalls (shaft wear, shorting, gear corrosion: docs/clinical-basis.md#motor-stall);
    it recovers ``recovers_after_s`` later, or never (``None``)."""

    at_s: int
    recovers_after_s: int | None = None


@dataclass(frozen=True)
class MriStall:
    """An MR scan stops the rotor; it recovers ``scan_s + recovery_delay_s`` after ``at_s``
    (docs/clinical-basis.md#synchromed-ii: a 2-24 h recovery delay is possible)."""

    at_s: int
    scan_s: int = HOUR_S
    recovery_delay_s: int = MRI_RECOVERY_MIN_S


@dataclass(frozen=True)
class Occlusion:
    """The catheter occludes; it clears ``clears_after_s`` later, or never (``None``)."""

    at_s: int
    clears_after_s: int | None = None


@dataclass(frozen=True)
class CatheterDislodgement:
    """The catheter dislodges: the drive keeps delivering, but not to the patient (truth only)."""

    at_s: int


@dataclass(frozen=True)
class DeviceReset:
    """Power loss and restart: the command stops, the unread counter is lost, epoch + 1, the
    configuration is lost (the drive needs ``configure`` before the next start)."""

    at_s: int


@dataclass(frozen=True)
class CommLoss:
    """No exchange gets through for ``duration_s``; the device keeps doing what it was doing."""

    at_s: int
    duration_s: int


@dataclass(frozen=True)
class PartialDelivery:
    """The drive stops the running command short, with no other cause (ignored when idle)."""

    at_s: int


@dataclass(frozen=True)
class GarbledReply:
    """The next exchange executes but its reply is garbled: PROTOCOL_ERROR, or for a start an
    UNCERTAIN result."""

    at_s: int


@dataclass(frozen=True)
class AccuracyChange:
    """The pump's accuracy error becomes ``accuracy_error_ppm`` (e.g. over-infusion onset)."""

    at_s: int
    accuracy_error_ppm: int


SimEvent: TypeAlias = (
    MotorStall
    | MriStall
    | Occlusion
    | CatheterDislodgement
    | DeviceReset
    | CommLoss
    | PartialDelivery
    | GarbledReply
    | AccuracyChange
)


@dataclass(frozen=True)
class _Cleared:
    """Internal: a stall, occlusion or communication loss ends."""

    at_s: int
    cause: str


@dataclass(frozen=True)
class _Battery:
    """Internal: the battery reaches ``status``."""

    at_s: int
    status: BatteryStatus


_Event: TypeAlias = SimEvent | _Cleared | _Battery


@dataclass(frozen=True)
class TraceEntry:
    """One line of the simulation trace: what happened at ``t_s`` (for reproducibility checks)."""

    t_s: int
    event: str
    detail: str = ""


@dataclass(frozen=True)
class SimTruth:
    """What really happened, which no adapter could see: scenario checks only."""

    now_s: int
    reservoir_nl: int
    pumped_nl: int
    """Fluid that left the reservoir (nominal volume with the accuracy error)."""
    to_patient_nl: int
    """Of ``pumped_nl``, what reached the intrathecal space (not after a dislodgement)."""
    motor_nl: int
    """Nominal volume the motor turned over the whole simulation (across resets)."""
    accuracy_error_ppm: int
    dislodged: bool
    stalled: bool
    occluded: bool
    comm_lost: bool
    battery: BatteryStatus


@dataclass(frozen=True)
class FaultRates:
    """Mean intervals between random faults of each kind (``None``: never), for
    :func:`random_faults`. Intervals are drawn uniformly from ``[1, 2 * mean - 1]`` seconds
    (integers only, so a seed gives the same schedule on every platform)."""

    motor_stall_mean_s: int | None = None
    mri_mean_s: int | None = None
    occlusion_mean_s: int | None = None
    device_reset_mean_s: int | None = None
    comm_loss_mean_s: int | None = None
    comm_loss_max_s: int = 600
    partial_delivery_mean_s: int | None = None
    garbled_reply_mean_s: int | None = None
    dislodgement_mean_s: int | None = None


def random_faults(
    seed: int, horizon_s: int, rates: FaultRates, *, start_s: int = 0
) -> tuple[SimEvent, ...]:
    """A fault schedule drawn from ``random.Random(seed)`` over ``[start_s, start_s + horizon_s)``,
    sorted by time. Drawn in advance (not during the run) so that a schedule is a plain value to
    log, replay and shrink; the same seed always gives the same schedule. Random motor stalls are
    permanent; MRI stalls recover after a 1 h scan plus 2-24 h; occlusions are permanent."""
    _int("horizon_s", horizon_s, 0)
    rng = random.Random(seed)
    end = start_s + horizon_s
    out: list[SimEvent] = []

    def times(mean_s: int | None) -> list[int]:
        if mean_s is None:
            return []
        _int("mean interval", mean_s, 1)
        found: list[int] = []
        t = start_s
        while True:
            t += rng.randint(1, max(1, 2 * mean_s - 1))
            if t >= end:
                return found
            found.append(t)

    out.extend(MotorStall(t) for t in times(rates.motor_stall_mean_s))
    for t in times(rates.mri_mean_s):
        out.append(MriStall(t, HOUR_S, rng.randint(MRI_RECOVERY_MIN_S, MRI_RECOVERY_MAX_S)))
    out.extend(Occlusion(t) for t in times(rates.occlusion_mean_s))
    out.extend(DeviceReset(t) for t in times(rates.device_reset_mean_s))
    for t in times(rates.comm_loss_mean_s):
        out.append(CommLoss(t, rng.randint(1, max(1, rates.comm_loss_max_s))))
    out.extend(PartialDelivery(t) for t in times(rates.partial_delivery_mean_s))
    out.extend(GarbledReply(t) for t in times(rates.garbled_reply_mean_s))
    out.extend(CatheterDislodgement(t) for t in times(rates.dislodgement_mean_s)[:1])
    out.sort(key=lambda e: e.at_s)  # stable: ties keep the kind order above
    return tuple(out)


@dataclass
class _Running:
    """The running command's progress."""

    command: DeliveryCommand
    start_s: int
    counter_at_start_nl: int
    done_nl: int = 0


@dataclass
class _Seen:
    """What the adapter half confirmed at its last valid reply (its view, not the truth)."""

    counter_nl: int = 0
    total_nl: int = 0
    epoch: int = 0
    reply_s: int = 0
    command: DeliveryCommand | None = None
    running: bool = False
    done_nl: int = 0
    battery: BatteryStatus = BatteryStatus.OK
    outcome: DeliveryOutcome | None = None


@dataclass
class _Causes:
    stall: int = 0
    occlusion: int = 0
    comm_loss: int = 0
    garbled: int = 0
    dislodged: bool = False


@dataclass
class _Fluid:
    reservoir_nl: int
    ppm: int
    remainder: int = 0
    pumped_nl: int = 0
    to_patient_nl: int = 0
    motor_nl: int = 0


@dataclass
class _Heap:
    items: list[tuple[int, int, _Event]] = field(default_factory=list)
    seq: int = 0

    def push(self, event: _Event) -> None:
        heapq.heappush(self.items, (event.at_s, self.seq, event))
        self.seq += 1


class SimulatedDrive:
    """A simulated implant drive: the device and its adapter in one object (see module doc)."""

    def __init__(self, config: SimConfig | None = None, faults: Iterable[SimEvent] = ()) -> None:
        self.config = config if config is not None else SimConfig()
        c = self.config
        self._now = c.start_s
        self._fluid = _Fluid(c.reservoir_nl, c.accuracy_error_ppm)
        self._causes = _Causes()
        self._heap = _Heap()
        self._trace: collections.deque[TraceEntry] = collections.deque(maxlen=c.trace_limit)
        self._events = 0
        self._state = DriveState.IDLE
        self._fault: FaultCode | None = None
        self._battery = BatteryStatus.OK
        self._counter = 0
        self._epoch = 0
        self._total_base = 0
        self._running: _Running | None = None
        self._last_command: DeliveryCommand | None = None
        self._outcome: DeliveryOutcome | None = None
        self._used_ids: set[str] = set()
        self._id_order: collections.deque[str] = collections.deque()
        self._configured = False
        self._watchdog_s: int | None = None
        self._heard_s = c.start_s
        self._closed = False
        self._seen = _Seen(reply_s=c.start_s)
        self._info = DriveInfo(
            c.model,
            c.firmware,
            c.address,
            DriveCapabilities(
                detects_stall=True,
                detects_occlusion=True,
                has_pump_side_watchdog=True,
                counters_survive_power_loss=False,
                min_rate_nl_per_h=c.min_rate_nl_per_h,
                max_rate_nl_per_h=c.max_rate_nl_per_h,
                volume_resolution_nl=c.volume_resolution_nl,
            ),
        )
        if c.battery_eri_at_s is not None:
            self._heap.push(_Battery(max(c.battery_eri_at_s, c.start_s), BatteryStatus.ERI))
        if c.battery_eos_at_s is not None:
            self._heap.push(_Battery(max(c.battery_eos_at_s, c.start_s), BatteryStatus.EOS))
        for event in faults:
            self.schedule(event)
        self._run_until(self._now)

    # ----------------------------------------------------------------- clock and scenario

    @property
    def now_s(self) -> int:
        """The virtual clock, in seconds."""
        return self._now

    @property
    def events_processed(self) -> int:
        """Events handled so far: the whole cost of advancing the clock."""
        return self._events

    @property
    def trace(self) -> tuple[TraceEntry, ...]:
        """What happened, in order (device events and command ends): the latest
        :attr:`SimConfig.trace_limit` entries."""
        return tuple(self._trace)

    def schedule(self, event: SimEvent) -> None:
        """Add a fault to the schedule; it must not be in the past."""
        _int("at_s", event.at_s, self._now)
        if isinstance(event, MotorStall) and event.recovers_after_s is not None:
            _int("recovers_after_s", event.recovers_after_s, 0)
        if isinstance(event, MriStall):
            _int("scan_s", event.scan_s, 0)
            _int("recovery_delay_s", event.recovery_delay_s, 0)
        if isinstance(event, Occlusion) and event.clears_after_s is not None:
            _int("clears_after_s", event.clears_after_s, 0)
        if isinstance(event, CommLoss):
            _int("duration_s", event.duration_s, 1)
        if isinstance(event, AccuracyChange):
            _int("accuracy_error_ppm", event.accuracy_error_ppm, -PPM + 1)
        self._heap.push(event)

    def advance_to(self, t_s: int) -> None:
        """Move the virtual clock to ``t_s``, handling every event at or before it."""
        _int("t_s", t_s, self._now)
        self._run_until(t_s)

    def next_drive_stop_s(self) -> int | None:
        """When the running command would be stopped by the drive itself (reservoir empty,
        watchdog) if nothing else happened first; ``None`` if not (no command, or it completes
        first). For a virtual clock that wakes its controller at that instant."""
        nxt = self._next_internal()
        return nxt[0] if nxt is not None and nxt[1] != "complete" else None

    def advance_by(self, dt_s: int) -> None:
        """Move the virtual clock forward by ``dt_s`` seconds."""
        self.advance_to(self._now + _int("dt_s", dt_s, 0))

    def refill(self, volume_nl: int) -> None:
        """Add drug to the reservoir (a refill; the truth side, not a drive operation)."""
        _int("volume_nl", volume_nl, 1)
        if self._fluid.reservoir_nl + volume_nl > self.config.reservoir_capacity_nl:
            raise ValueError(
                f"volume_nl: {volume_nl} overfills the reservoir "
                f"({self._fluid.reservoir_nl} of {self.config.reservoir_capacity_nl})"
            )
        self._fluid.reservoir_nl += volume_nl
        self._log("refill", str(volume_nl))

    def withdraw(self, volume_nl: int | None = None) -> int:
        """Take drug out of the reservoir through the fill port (the truth side of a refill or
        an emptying, not a drive operation): ``volume_nl`` or, with ``None``, everything.
        Returns the volume actually taken (never more than the reservoir holds)."""
        if volume_nl is not None:
            _int("volume_nl", volume_nl, 0)
        available = self._fluid.reservoir_nl
        taken = available if volume_nl is None else min(volume_nl, available)
        self._fluid.reservoir_nl -= taken
        self._log("withdraw", str(taken))
        return taken

    def truth(self) -> SimTruth:
        """The physical truth, for scenario checks (never for the controller)."""
        f, k = self._fluid, self._causes
        return SimTruth(
            now_s=self._now,
            reservoir_nl=f.reservoir_nl,
            pumped_nl=f.pumped_nl,
            to_patient_nl=f.to_patient_nl,
            motor_nl=f.motor_nl,
            accuracy_error_ppm=f.ppm,
            dislodged=k.dislodged,
            stalled=k.stall > 0,
            occluded=k.occlusion > 0,
            comm_lost=k.comm_loss > 0,
            battery=self._battery,
        )

    # ----------------------------------------------------------------- Drive protocol

    def identify(self) -> DriveInfo:
        """Model, firmware, address and capabilities."""
        self._exchange("identify")
        self._reply("identify")
        return self._info

    def configure(self, config: DriveConfig) -> None:
        """Apply ``config`` (only when IDLE). The sim has a pump-side watchdog and no syringe."""
        self._exchange("configure")
        if self._state is not DriveState.IDLE:
            self._reply("configure")
            raise ConfigError(
                "configure",
                f"only when idle (state {self._state.value})",
                fault=FaultCode.COMMAND_REJECTED,
                status=self._snapshot(),
            )
        if config.syringe_diameter_um is not None:
            self._reply("configure")
            raise ConfigError(
                "configure",
                "syringe_diameter_um: an implant drive has no syringe",
                fault=FaultCode.COMMAND_REJECTED,
                status=self._snapshot(),
            )
        self._watchdog_s = config.watchdog_timeout_s
        self._configured = True
        self._log("configured", f"watchdog_s={config.watchdog_timeout_s}")
        self._reply("configure")

    def start(self, command: DeliveryCommand) -> StartResult:
        """Start ``command`` if the drive can; see :class:`StartResult`."""
        self._exchange("start")
        cid = command.command_id
        reason = self._start_refusal(command)
        if reason is None and self._running is None:
            self._begin(command)
        garbled = self._take_garble()
        if garbled:
            if reason is None:
                self._seen.command, self._seen.running, self._seen.done_nl = command, True, 0
            return StartResult.uncertain(cid, "reply garbled")
        self._observe()
        if reason is None:
            return StartResult.accepted(cid)
        return StartResult.rejected(cid, reason)

    def stop(self) -> DriveStatus:
        """Stop the running command (idempotent); the confirmed status."""
        self._exchange("stop")
        if self._running is not None:
            r = self._running
            self._end(EndReason.STOPPED, None, r.done_nl)
        self._reply("stop")
        return self._snapshot()

    def poll(self) -> DriveStatus:
        """A fresh status."""
        self._exchange("poll")
        self._reply("poll")
        return self._snapshot()

    def acknowledge(self, fault: FaultCode) -> None:
        """Clear the latched ``fault`` if its cause is gone; a no-op when nothing is latched."""
        self._exchange("acknowledge")
        if self._state is DriveState.FAULT:
            latched = self._fault
            if fault is not latched:
                self._reply("acknowledge")
                raise AcknowledgeRefused(
                    "acknowledge",
                    f"{fault.value} is not the latched fault",
                    fault=latched,
                    status=self._snapshot(),
                )
            persists = self._cause_persists()
            if persists:
                self._reply("acknowledge")
                raise AcknowledgeRefused(
                    "acknowledge", persists, fault=latched, status=self._snapshot()
                )
            self._state, self._fault = DriveState.IDLE, None
            self._log("acknowledged", fault.value)
        self._reply("acknowledge")

    def close(self) -> None:
        """Stop if reachable, then refuse every further operation (idempotent)."""
        if self._closed:
            return
        with contextlib.suppress(DriveUnreachable, DriveProtocolError):
            self.stop()
        self._closed = True
        self._log("closed")

    # ----------------------------------------------------------------- exchanges

    def _exchange(self, operation: str) -> None:
        """Refuse when closed or out of contact; otherwise the device hears the host."""
        if self._closed:
            raise DriveClosed(operation, "the drive is closed", status=self._unknown_status())
        if self._causes.comm_loss > 0:
            raise DriveUnreachable(operation, "no reply", status=self._unknown_status())
        self._heard_s = self._now

    def _take_garble(self) -> bool:
        if self._causes.garbled > 0:
            self._causes.garbled -= 1
            self._log("garbled_reply")
            return True
        return False

    def _reply(self, operation: str) -> None:
        """The reply to an executed request: valid (the adapter reads the device) or garbled."""
        if self._take_garble():
            raise DriveProtocolError(
                operation, "reply garbled; effect unknown", status=self._unknown_status()
            )
        self._observe()

    def _observe(self) -> None:
        s = self._seen
        s.counter_nl, s.epoch, s.reply_s = self._counter, self._epoch, self._now
        s.total_nl = self._total_base + self._counter
        s.running = self._running is not None
        s.command = self._running.command if self._running else self._last_command
        s.done_nl = self._running.done_nl if self._running else 0
        s.battery, s.outcome = self._battery, self._outcome

    def _snapshot(self) -> DriveStatus:
        """The status as read now (the adapter has just observed the device)."""
        r, o = self._running, self._outcome
        if r is not None:
            cmd: DeliveryCommand | None = r.command
            done, bounds = r.done_nl, (r.done_nl, r.done_nl)
        elif o is not None:
            cmd, done, bounds = self._last_command, o.delivered_nl, o.bounds
        else:
            cmd, done, bounds = None, 0, (0, 0)
        return DriveStatus(
            state=self._state,
            active_command_id=r.command.command_id if r else None,
            commanded_nl=cmd.volume_nl if cmd else 0,
            rate_nl_per_h=cmd.rate_nl_per_h if cmd else 0,
            delivered_nl_this_command=done,
            delivered_nl_total=self._total_base + self._counter,
            delivered_bounds_nl=bounds,
            counter_epoch=self._epoch,
            fault=self._fault,
            last_contact_ms=self._now * 1000,
            battery=self._battery,
            last_outcome=o,
        )

    def _unknown_status(self) -> DriveStatus:
        """UNKNOWN from the adapter's last confirmed view: a command it saw (or tried to) start
        may be running, anywhere between what it last read and the commanded volume."""
        s = self._seen
        cmd = s.command
        if s.running and cmd is not None:
            done, bounds = s.done_nl, (s.done_nl, cmd.volume_nl)
        elif s.outcome is not None:
            done, bounds = s.outcome.delivered_nl, s.outcome.bounds
        else:
            done, bounds = 0, (0, 0)
        return DriveStatus(
            state=DriveState.UNKNOWN,
            active_command_id=cmd.command_id if (s.running and cmd) else None,
            commanded_nl=cmd.volume_nl if cmd else 0,
            rate_nl_per_h=cmd.rate_nl_per_h if cmd else 0,
            delivered_nl_this_command=done,
            delivered_nl_total=s.total_nl,
            delivered_bounds_nl=bounds,
            counter_epoch=s.epoch,
            fault=None,
            last_contact_ms=s.reply_s * 1000,
            battery=s.battery,
            last_outcome=s.outcome,
        )

    # ----------------------------------------------------------------- commands

    def _start_refusal(self, command: DeliveryCommand) -> str | None:
        """Why ``command`` cannot start (checked before anything moves), or None."""
        c, cid = self.config, command.command_id
        if self._running is not None and self._running.command == command:
            return None  # the same command again: idempotent, already running
        if cid in self._used_ids:
            return f"command id {cid!r} already used; ids are never executed twice"
        if self._state is DriveState.FAULT:
            assert self._fault is not None
            return f"fault latched: {self._fault.value}"
        if self._running is not None:
            return f"busy with {self._running.command.command_id!r}"
        if not self._configured:
            return "not configured"
        if not c.min_rate_nl_per_h <= command.rate_nl_per_h <= c.max_rate_nl_per_h:
            return (
                f"rate_nl_per_h {command.rate_nl_per_h} outside "
                f"[{c.min_rate_nl_per_h}, {c.max_rate_nl_per_h}]"
            )
        if command.volume_nl % c.volume_resolution_nl:
            return f"volume_nl {command.volume_nl} not a multiple of {c.volume_resolution_nl}"
        return None

    def _remember_id(self, command_id: str) -> None:
        self._used_ids.add(command_id)
        self._id_order.append(command_id)
        if len(self._id_order) > self.config.id_memory:
            self._used_ids.discard(self._id_order.popleft())

    def _begin(self, command: DeliveryCommand) -> None:
        self._remember_id(command.command_id)
        self._running = _Running(command, self._now, self._counter)
        self._last_command = command
        self._state = DriveState.RUNNING
        self._log("started", f"{command.command_id} {command.volume_nl}nl@{command.rate_nl_per_h}")
        if self._causes.stall or self._causes.occlusion:
            self._end(EndReason.FAULTED, FaultCode.OCCLUSION_OR_STALL, 0)
        elif self._fluid.reservoir_nl == 0:
            self._end(EndReason.FAULTED, FaultCode.RESERVOIR_EMPTY, 0)

    def _end(
        self,
        reason: EndReason,
        fault: FaultCode | None,
        delivered_nl: int,
        bounds: tuple[int, int] | None = None,
    ) -> None:
        r = self._running
        assert r is not None
        self._outcome = DeliveryOutcome(
            r.command.command_id, r.command.volume_nl, delivered_nl, reason, fault, bounds
        )
        self._running = None
        self._state = DriveState.FAULT if fault else DriveState.IDLE
        self._fault = fault
        self._log(
            "ended",
            f"{r.command.command_id} {reason.value} {fault.value if fault else '-'} "
            f"{delivered_nl}/{r.command.volume_nl}",
        )

    def _latch(self, fault: FaultCode) -> None:
        """Stop delivery (if any) and latch ``fault``."""
        if self._running is not None:
            self._end(EndReason.FAULTED, fault, self._running.done_nl)
        else:
            self._state, self._fault = DriveState.FAULT, fault

    def _cause_persists(self) -> str:
        """Why the latched fault cannot be cleared yet ("" when it can)."""
        k = self._causes
        if self._fault is FaultCode.END_OF_SERVICE:
            return "battery at end of service"
        if self._fault is FaultCode.OCCLUSION_OR_STALL and (k.stall or k.occlusion):
            return "motor still stalled" if k.stall else "catheter still occluded"
        if self._fault is FaultCode.RESERVOIR_EMPTY and self._fluid.reservoir_nl == 0:
            return "reservoir still empty"
        return ""

    # ----------------------------------------------------------------- physics and events

    def _log(self, event: str, detail: str = "") -> None:
        self._trace.append(TraceEntry(self._now, event, detail))

    def _integrate_to(self, t_s: int) -> None:
        """Deliver from now to ``t_s`` in closed form (no event lies strictly between)."""
        r, f = self._running, self._fluid
        if r is not None and t_s > self._now:
            cmd = r.command
            target = min(cmd.volume_nl, cmd.rate_nl_per_h * (t_s - r.start_s) // HOUR_S)
            dn = target - r.done_nl
            if dn > 0:
                r.done_nl = target
                self._counter += dn
                f.motor_nl += dn
                fluid, f.remainder = divmod(dn * (PPM + f.ppm) + f.remainder, PPM)
                drawn = min(fluid, f.reservoir_nl)
                f.reservoir_nl -= drawn
                f.pumped_nl += drawn
                if not self._causes.dislodged:
                    f.to_patient_nl += drawn
        self._now = t_s

    def _next_internal(self) -> tuple[int, str] | None:
        """The earliest computed event of the running command: complete, empty or watchdog."""
        r, f = self._running, self._fluid
        if r is None:
            return None
        cmd = r.command
        best = (r.start_s + _ceil_div(cmd.volume_nl * HOUR_S, cmd.rate_nl_per_h), "complete")
        need = f.reservoir_nl * PPM - f.remainder
        nominal_to_empty = r.done_nl + _ceil_div(need, PPM + f.ppm) if need > 0 else r.done_nl
        if nominal_to_empty < cmd.volume_nl:
            t_empty = r.start_s + _ceil_div(nominal_to_empty * HOUR_S, cmd.rate_nl_per_h)
            best = min(best, (max(t_empty, self._now), "empty"))
        if self._watchdog_s is not None:
            best = min(best, (max(self._heard_s + self._watchdog_s, self._now), "watchdog"))
        return best

    def _run_until(self, t_s: int) -> None:
        while True:
            internal = self._next_internal()
            external = self._heap.items[0][0] if self._heap.items else None
            if (
                internal is not None
                and internal[0] <= t_s
                and (external is None or internal[0] <= external)
            ):
                self._integrate_to(internal[0])
                self._handle_internal(internal[1])
            elif external is not None and external <= t_s:
                _, _, event = heapq.heappop(self._heap.items)
                self._integrate_to(event.at_s)
                self._handle(event)
            else:
                break
            self._events += 1
        self._integrate_to(t_s)

    def _handle_internal(self, kind: str) -> None:
        r = self._running
        assert r is not None
        if kind == "complete":
            self._end(EndReason.COMPLETED, None, r.done_nl)
        elif kind == "empty":
            self._log("reservoir_empty")
            self._latch(FaultCode.RESERVOIR_EMPTY)
        else:
            self._log("watchdog", f"host silent since {self._heard_s}")
            self._latch(FaultCode.WATCHDOG_STOPPED)

    def _handle(self, event: _Event) -> None:
        k = self._causes
        if isinstance(event, MotorStall | MriStall):
            k.stall += 1
            name = "mri_stall" if isinstance(event, MriStall) else "motor_stall"
            if isinstance(event, MriStall):
                self._heap.push(
                    _Cleared(event.at_s + event.scan_s + event.recovery_delay_s, "stall")
                )
            elif event.recovers_after_s is not None:
                self._heap.push(_Cleared(event.at_s + event.recovers_after_s, "stall"))
            self._log(name)
            if self._running is not None:
                self._latch(FaultCode.OCCLUSION_OR_STALL)
        elif isinstance(event, Occlusion):
            k.occlusion += 1
            if event.clears_after_s is not None:
                self._heap.push(_Cleared(event.at_s + event.clears_after_s, "occlusion"))
            self._log("occlusion")
            if self._running is not None:
                self._latch(FaultCode.OCCLUSION_OR_STALL)
        elif isinstance(event, CatheterDislodgement):
            k.dislodged = True
            self._log("catheter_dislodged")
        elif isinstance(event, DeviceReset):
            self._reset()
        elif isinstance(event, CommLoss):
            k.comm_loss += 1
            self._heap.push(_Cleared(event.at_s + event.duration_s, "comm_loss"))
            self._log("comm_lost", str(event.duration_s))
        elif isinstance(event, PartialDelivery):
            self._log("partial_delivery", "" if self._running else "idle: no effect")
            if self._running is not None:
                self._latch(FaultCode.PARTIAL_DELIVERY)
        elif isinstance(event, GarbledReply):
            k.garbled += 1
            self._log("garble_armed")
        elif isinstance(event, AccuracyChange):
            self._fluid.ppm = event.accuracy_error_ppm
            self._log("accuracy", str(event.accuracy_error_ppm))
        elif isinstance(event, _Cleared):
            setattr(k, event.cause, getattr(k, event.cause) - 1)
            self._log(f"{event.cause}_cleared")
        else:
            self._battery = event.status
            self._log("battery", event.status.value)
            if event.status is BatteryStatus.EOS:
                self._latch(FaultCode.END_OF_SERVICE)

    def _reset(self) -> None:
        """Power loss: the unread part of the counter is lost; never resume.

        See docs/hardware.md#fault-mapping (``DEVICE_RESET``)."""
        if self._battery is BatteryStatus.EOS:
            self._log("device_reset", "ignored: battery at end of service")
            return
        seen = self._seen.counter_nl if self._seen.epoch == self._epoch else 0
        r = self._running
        if r is not None:
            lo = max(0, seen - r.counter_at_start_nl)
            self._end(EndReason.FAULTED, FaultCode.DEVICE_RESET, lo, (lo, r.command.volume_nl))
        self._total_base += seen
        self._counter = 0
        self._epoch += 1
        self._configured = False
        self._watchdog_s = None
        self._state, self._fault = DriveState.FAULT, FaultCode.DEVICE_RESET
        self._log("device_reset", f"epoch {self._epoch}")
