"""The drive-adapter interface: the :class:`Drive` protocol, its value types and its errors.

The core issues intent (a :class:`DeliveryCommand` with an id) and consumes observations
(:class:`DriveStatus` snapshots); a drive adapter only translates and reports, it never decides
dosing (docs/hardware.md#drive-interface, docs/architecture.md#adapters). The rules that shape
these types:

* Every quantity is an exact integer in a named project unit: volumes in nanolitres (``_nl``),
  rates in nanolitres per hour (``_nl_per_h``), the adapter's monotonic contact clock in
  milliseconds (``_ms``: a real serial adapter polls more often than once a second).
* ``UNKNOWN`` ("cannot confirm") is a state of its own, distinct from stopped: the controller must
  treat it as possibly still delivering, with the delivered volume anywhere in
  ``delivered_bounds_nl``.
* The delivered total is owned by the adapter and never decreases; the device's own counter is
  only a delta. Every device counter reset increments ``counter_epoch`` and is reported.
* Commands are idempotent by ``command_id``: a start whose reply was lost is reconciled by polling,
  never blindly re-sent, and an id that has ended is never executed again.
* Drive-level exceptions (:class:`DriveError` and subclasses) are converted once, at the adapter
  boundary, into the core's :class:`itdose.core.errors.DriveFault` by :func:`to_drive_fault`.

Everything here is a frozen dataclass or an enum with string values, so a status converts to JSON
with :func:`to_json` for the journal and for scenario traces.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Protocol, TypeAlias, runtime_checkable

from itdose.core.arith import ceil_div
from itdose.core.errors import DriveFault

__all__ = [
    "AcknowledgeRefused",
    "BatteryStatus",
    "ConfigError",
    "DeliveryCommand",
    "DeliveryOutcome",
    "Drive",
    "DriveCapabilities",
    "DriveClosed",
    "DriveConfig",
    "DriveError",
    "DriveInfo",
    "DriveProtocolError",
    "DriveState",
    "DriveStatus",
    "DriveUnreachable",
    "EndReason",
    "FaultCode",
    "JsonValue",
    "StartKind",
    "StartResult",
    "rate_for_duration",
    "to_drive_fault",
    "to_json",
]

SECONDS_PER_HOUR = 3600


def _ceil_div(a: int, b: int) -> int:
    """:func:`itdose.core.arith.ceil_div` (``ceil(a / b)``, refusing anything but an ``int``
    ``a >= 0`` and ``b > 0``), with the plain ints of the adapters' own arithmetic decided at
    once: the same value, and the same error for anything else."""
    if type(a) is int and type(b) is int and a >= 0 and b > 0:
        return -(-a // b)
    return ceil_div(a, b)


def _check_int(name: str, value: object, *, minimum: int | None = None) -> None:
    """Reject bools and non-ints: a float or a bool slipped into a volume is a unit bug."""
    if type(value) is int and (minimum is None or value >= minimum):
        return  # the common case, decided at once (a bool's type is bool, not int)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name}: expected int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: {value} is below the minimum {minimum}")


class DriveState(enum.Enum):
    """What the drive is doing, as far as the adapter can confirm."""

    IDLE = "idle"
    """Stopped, no fault latched; ready for a new command."""
    RUNNING = "running"
    """Delivering ``active_command_id``."""
    PAUSED = "paused"
    """Halted mid-command by the device (e.g. a New Era ``P`` prompt); not delivering."""
    FAULT = "fault"
    """Stopped by the device with ``fault`` latched until :meth:`Drive.acknowledge`."""
    UNKNOWN = "unknown"
    """Cannot confirm: possibly still delivering, up to the upper bound of the delivered bounds."""


class FaultCode(enum.Enum):
    """Typed drive faults (docs/hardware.md#fault-mapping, plus two the implant model needs)."""

    OCCLUSION_OR_STALL = "occlusion_or_stall"
    COMM_TIMEOUT = "comm_timeout"
    WATCHDOG_STOPPED = "watchdog_stopped"
    PROTOCOL_ERROR = "protocol_error"
    COMMAND_REJECTED = "command_rejected"
    PARTIAL_DELIVERY = "partial_delivery"
    DEVICE_RESET = "device_reset"
    DEVICE_PROGRAM_ERROR = "device_program_error"
    CONFIG_MISMATCH = "config_mismatch"
    RESERVOIR_EMPTY = "reservoir_empty"
    """Not in table 5.4 (a syringe drive reports end of travel as a stall); an implant drive that
    models its reservoir reports it separately so the core can raise ``EMPTY_RESERVOIR``."""
    END_OF_SERVICE = "end_of_service"
    """Not in table 5.4: the battery reached end of service and the drive stopped for good
    (docs/clinical-basis.md#synchromed-ii: the pump stops 90 days after ERI)."""


class BatteryStatus(enum.Enum):
    """Battery condition as the device reports it (docs/clinical-basis.md#synchromed-ii: ERI is
    non-critical, EOS is critical and the pump stops)."""

    OK = "ok"
    ERI = "elective_replacement"
    EOS = "end_of_service"
    NOT_REPORTED = "not_reported"
    """The drive has no battery telemetry (bench supply, syringe pump)."""


@dataclass(frozen=True)
class DriveCapabilities:
    """What the drive can do and detect, so the controller knows which faults it could miss.

    ``counters_survive_power_loss`` is ``None`` when unknown; the controller must then assume they
    do not (a reset loses the count since the last poll).
    """

    detects_stall: bool
    detects_occlusion: bool
    has_pump_side_watchdog: bool
    counters_survive_power_loss: bool | None
    min_rate_nl_per_h: int
    max_rate_nl_per_h: int
    volume_resolution_nl: int

    def __post_init__(self) -> None:
        _check_int("min_rate_nl_per_h", self.min_rate_nl_per_h, minimum=1)
        _check_int("max_rate_nl_per_h", self.max_rate_nl_per_h, minimum=self.min_rate_nl_per_h)
        _check_int("volume_resolution_nl", self.volume_resolution_nl, minimum=1)


@dataclass(frozen=True)
class DriveInfo:
    """Identity and capabilities, read at connect (``identify``) and recorded in the journal."""

    model: str
    firmware: str
    address: str
    capabilities: DriveCapabilities


@dataclass(frozen=True)
class DriveConfig:
    """Settings the adapter forces and verifies by read-back before any delivery.

    ``watchdog_timeout_s``: the pump-side communication watchdog (New Era Safe mode ``SAF n``): the
    drive stops itself when the host is silent this long while delivering. ``None`` turns it off
    (only for drives without one). ``syringe_diameter_um``: syringe drives only (New Era ``DIA``);
    ``None`` for an implant drive.
    """

    watchdog_timeout_s: int | None = None
    syringe_diameter_um: int | None = None

    def __post_init__(self) -> None:
        if self.watchdog_timeout_s is not None:
            _check_int("watchdog_timeout_s", self.watchdog_timeout_s, minimum=1)
        if self.syringe_diameter_um is not None:
            _check_int("syringe_diameter_um", self.syringe_diameter_um, minimum=1)


@dataclass(frozen=True)
class DeliveryCommand:
    """Deliver ``volume_nl`` at ``rate_nl_per_h``, identified by ``command_id``.

    The id makes the command idempotent: a drive executes an id at most once, so a retry after a
    lost reply cannot deliver twice (docs/hardware.md#drive-rules rule 4).
    """

    command_id: str
    volume_nl: int
    rate_nl_per_h: int

    def __post_init__(self) -> None:
        if not isinstance(self.command_id, str) or not self.command_id:
            raise ValueError(f"command_id: expected a non-empty str, got {self.command_id!r}")
        _check_int("volume_nl", self.volume_nl, minimum=1)
        _check_int("rate_nl_per_h", self.rate_nl_per_h, minimum=1)

    @property
    def duration_s(self) -> int:
        """Seconds the drive needs at the nominal rate, rounded up (the last partial second)."""
        return _ceil_div(self.volume_nl * SECONDS_PER_HOUR, self.rate_nl_per_h)


def rate_for_duration(volume_nl: int, duration_s: int) -> int:
    """The rate that delivers ``volume_nl`` within ``duration_s`` (a core ``DeliveryOrder``).

    Rounded up, so the command ends no later than the order's end and is never reported overdue;
    the volume, the safety-relevant quantity, is unchanged. ``DeliveryCommand.duration_s`` of the
    result is at most ``duration_s``.
    """
    _check_int("volume_nl", volume_nl, minimum=1)
    _check_int("duration_s", duration_s, minimum=1)
    return _ceil_div(volume_nl * SECONDS_PER_HOUR, duration_s)


class StartKind(enum.Enum):
    """How a start request ended."""

    ACCEPTED = "accepted"
    """The drive confirmed it is delivering (or already was, for the same id)."""
    REJECTED = "rejected"
    """Refused before anything moved; deterministic, so never retried as is."""
    UNCERTAIN = "uncertain"
    """The reply was lost or garbled: the command may be running. Reconcile by polling; never
    re-send blindly."""


@dataclass(frozen=True)
class StartResult:
    """The answer to :meth:`Drive.start`: accepted, rejected with a reason, or uncertain."""

    kind: StartKind
    command_id: str
    reason: str = ""

    @classmethod
    def accepted(cls, command_id: str) -> StartResult:
        return cls(StartKind.ACCEPTED, command_id)

    @classmethod
    def rejected(cls, command_id: str, reason: str) -> StartResult:
        if not reason:
            raise ValueError("reason: a rejection must say why")
        return cls(StartKind.REJECTED, command_id, reason)

    @classmethod
    def uncertain(cls, command_id: str, reason: str) -> StartResult:
        return cls(StartKind.UNCERTAIN, command_id, reason)


class EndReason(enum.Enum):
    """Why a command ended."""

    COMPLETED = "completed"
    """The drive delivered the whole commanded volume and stopped by itself."""
    STOPPED = "stopped"
    """The host stopped it (``stop`` or ``close``)."""
    FAULTED = "faulted"
    """The device stopped it with ``fault`` (a partial delivery unless the counter says whole)."""


@dataclass(frozen=True)
class DeliveryOutcome:
    """What a command delivered when it ended: the ledger uses ``delivered_nl`` (never
    ``commanded_nl``), and ``delivered_bounds_nl`` when a reset lost the count.

    ``delivered_nl`` is the adapter's best confirmed figure, the lower bound.
    """

    command_id: str
    commanded_nl: int
    delivered_nl: int
    reason: EndReason
    fault: FaultCode | None = None
    delivered_bounds_nl: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        _check_int("commanded_nl", self.commanded_nl, minimum=1)
        _check_int("delivered_nl", self.delivered_nl, minimum=0)
        if self.delivered_bounds_nl is None:
            object.__setattr__(self, "delivered_bounds_nl", (self.delivered_nl, self.delivered_nl))
        lo, hi = self.bounds
        if not lo == self.delivered_nl <= hi:
            raise ValueError(
                f"delivered_bounds_nl: {self.bounds} must start at delivered_nl "
                f"{self.delivered_nl} and not decrease"
            )
        if (self.reason is EndReason.FAULTED) != (self.fault is not None):
            raise ValueError("fault: given exactly when the reason is FAULTED")
        if self.reason is EndReason.COMPLETED and self.delivered_nl != self.commanded_nl:
            raise ValueError("delivered_nl: a completed command delivered its commanded volume")

    @property
    def bounds(self) -> tuple[int, int]:
        """``delivered_bounds_nl`` without the Optional (it is filled in at construction)."""
        assert self.delivered_bounds_nl is not None
        return self.delivered_bounds_nl

    @property
    def partial(self) -> bool:
        """True when the command ended short of its volume (or may have: a lost count)."""
        return self.delivered_nl < self.commanded_nl


@dataclass(frozen=True)
class DriveStatus:
    """One self-contained observation of the drive.

    The per-command fields (``commanded_nl``, ``rate_nl_per_h``, ``delivered_nl_this_command``,
    ``delivered_bounds_nl``) describe the running command, or the last one to end when none runs
    (so a FAULT shows the partial volume, table 5.4); they are 0 before the first command.
    ``active_command_id`` is set only while a command runs or possibly runs (UNKNOWN).
    ``delivered_nl_total`` is the adapter's monotonic total over every counter epoch: the sum of
    the counts it confirmed, a lower bound when a reset lost an unread count. ``last_contact_ms``
    is the adapter's monotonic clock at the last valid reply. ``last_outcome`` is the outcome of
    the most recent command to end; re-reading it is harmless because the core records an id once.
    """

    state: DriveState
    active_command_id: str | None
    commanded_nl: int
    rate_nl_per_h: int
    delivered_nl_this_command: int
    delivered_nl_total: int
    delivered_bounds_nl: tuple[int, int]
    counter_epoch: int
    fault: FaultCode | None
    last_contact_ms: int
    battery: BatteryStatus = BatteryStatus.NOT_REPORTED
    last_outcome: DeliveryOutcome | None = None

    def __post_init__(self) -> None:
        c, r, d = self.commanded_nl, self.rate_nl_per_h, self.delivered_nl_this_command
        t, e, m = self.delivered_nl_total, self.counter_epoch, self.last_contact_ms
        if not (  # each a non-negative int (a bool's type is bool); else: which one, and why
            type(c) is int
            and type(r) is int
            and type(d) is int
            and type(t) is int
            and type(e) is int
            and type(m) is int
            and c >= 0
            and r >= 0
            and d >= 0
            and t >= 0
            and e >= 0
            and m >= 0
        ):
            _check_int("commanded_nl", self.commanded_nl, minimum=0)
            _check_int("rate_nl_per_h", self.rate_nl_per_h, minimum=0)
            _check_int("delivered_nl_this_command", self.delivered_nl_this_command, minimum=0)
            _check_int("delivered_nl_total", self.delivered_nl_total, minimum=0)
            _check_int("counter_epoch", self.counter_epoch, minimum=0)
            _check_int("last_contact_ms", self.last_contact_ms, minimum=0)
        lo, hi = self.delivered_bounds_nl
        if not lo == self.delivered_nl_this_command <= hi:
            raise ValueError(
                f"delivered_bounds_nl: {self.delivered_bounds_nl} must start at "
                f"delivered_nl_this_command {self.delivered_nl_this_command}"
            )
        if (self.state is DriveState.FAULT) != (self.fault is not None):
            raise ValueError("fault: latched exactly when the state is FAULT")
        if self.state is DriveState.RUNNING and self.active_command_id is None:
            raise ValueError("active_command_id: a RUNNING drive runs a command")
        if self.state in (DriveState.IDLE, DriveState.FAULT) and self.active_command_id:
            raise ValueError("active_command_id: a stopped drive runs no command")

    @property
    def possibly_delivering(self) -> bool:
        """True unless the drive is confirmed stopped: RUNNING, PAUSED (may resume) or UNKNOWN."""
        return self.state not in (DriveState.IDLE, DriveState.FAULT)


class DriveError(Exception):
    """Base of drive-level errors: what went wrong (``fault``), in which ``operation``, and the
    adapter's best snapshot (``status``, UNKNOWN when it cannot confirm), if it has one."""

    default_fault: FaultCode = FaultCode.PROTOCOL_ERROR

    def __init__(
        self,
        operation: str,
        message: str,
        *,
        fault: FaultCode | None = None,
        status: DriveStatus | None = None,
    ) -> None:
        self.operation = operation
        self.message = message
        self.fault = fault if fault is not None else self.default_fault
        self.status = status
        super().__init__(f"{operation}: {message} [{self.fault.value}]")


class DriveUnreachable(DriveError):
    """No valid reply within the deadline after bounded query retries: the drive may still be
    delivering (``status.state`` is UNKNOWN, bounds widened to the commanded volume)."""

    default_fault = FaultCode.COMM_TIMEOUT


class DriveClosed(DriveUnreachable):
    """An operation after :meth:`Drive.close`: the drive cannot be reached through this adapter."""


class DriveProtocolError(DriveError):
    """A reply that could not be understood (bad frame, checksum, number): the exchange's effect
    is unknown."""

    default_fault = FaultCode.PROTOCOL_ERROR


class ConfigError(DriveError):
    """A configuration the drive refused or did not read back as requested: refuse to deliver."""

    default_fault = FaultCode.CONFIG_MISMATCH


class AcknowledgeRefused(DriveError):
    """The latched fault was not cleared: its cause persists (a stalled motor, an empty
    reservoir, end of service) or another fault is latched."""


def to_drive_fault(exc: DriveError) -> DriveFault:
    """The core's :class:`DriveFault` for a drive-level error (the one conversion point).

    ``field`` names the drive operation, ``value`` the fault code; the original error is kept as
    ``__cause__`` for the audit trail. ``DriveFault.safe_action`` is ALARM: stop and annunciate.
    """
    fault = DriveFault(f"drive.{exc.operation}", exc.message, value=exc.fault.value)
    fault.__cause__ = exc
    return fault


JsonValue: TypeAlias = "bool | int | str | list[JsonValue] | dict[str, JsonValue] | None"


def to_json(value: object) -> JsonValue:
    """A JSON-ready value for any of this module's dataclasses, enums, tuples and scalars."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"not JSON-friendly: {type(value).__name__} {value!r}")


@runtime_checkable
class Drive(Protocol):
    """A drive adapter (docs/hardware.md#drive-operations): synchronous, one command at a time.

    ``start`` validates against the capabilities before touching the device; ``stop`` is
    idempotent and callable in any state; ``acknowledge`` clears a latched fault after the core has
    decided; ``close`` tries to stop first (fail safe).
    """

    def identify(self) -> DriveInfo:
        """Model, firmware, address and capabilities; raises :class:`DriveUnreachable`."""
        ...

    def configure(self, config: DriveConfig) -> None:
        """Force and read back the safety settings; only when IDLE; raises :class:`ConfigError`."""
        ...

    def start(self, command: DeliveryCommand) -> StartResult:
        """Start ``command``; ACCEPTED, REJECTED(reason) or UNCERTAIN (reply lost)."""
        ...

    def stop(self) -> DriveStatus:
        """Stop now; a confirmed status, or :class:`DriveUnreachable`."""
        ...

    def poll(self) -> DriveStatus:
        """A fresh status; :class:`DriveUnreachable` (status UNKNOWN) or
        :class:`DriveProtocolError` when it cannot be read."""
        ...

    def acknowledge(self, fault: FaultCode) -> None:
        """Clear the latched ``fault``; :class:`AcknowledgeRefused` if its cause persists."""
        ...

    def close(self) -> None:
        """Stop if possible and release the link; idempotent."""
        ...
