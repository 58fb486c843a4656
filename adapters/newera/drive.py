"""A :class:`~itdose.adapters.drive.Drive` for a New Era NE-1000 family syringe pump on a serial
port (docs/hardware.md#protocol-facts, #fault-mapping and #drive-operations).

:class:`NewEraDrive` binds the sans-IO codec (:mod:`itdose.adapters.newera.codec`) to a pyserial
port: a device path (``/dev/ttyUSB0``, ``/dev/pts/N``) or a pyserial URL (``socket://host:port``,
``rfc2217://...``). pyserial is the ``serial`` extra and is imported only when a port is opened.

Every exchange has a deadline (``reply_timeout_s``). What each operation sends:

* **connect** (:meth:`NewEraDrive.open`): first contact with a Safe-framed status query (Basic as a
  fallback), replies parsed in both framings, so the pump's current mode is learnt; the power-on
  ``A?R`` (or any alarm left from an earlier session) is absorbed and recorded. ``VER`` is checked;
  a pump still moving is stopped; Safe mode ``SAF n`` (the pump-side watchdog) is forced, ``PF 0``
  forced, program phase 1 = ``RAT`` and phase 2 = ``STP``, ``DIR INF``; each read back. A setting
  already right is not written again (every write goes to the pump's non-volatile memory).
* **configure**: the watchdog (``SAF``) and the syringe diameter (``DIA``; a change clears the
  pump's counter: a new counter epoch), read back, and the connect safety settings verified again
  (needed after a device reset).
* **start**: validated before touching the device, then status must be stopped, the counter is
  read (folded into the total) and cleared (``CLD INF``, a new epoch, read back as 0), ``DIR``,
  ``RAT`` and ``VOL`` (units chosen by :func:`~itdose.adapters.newera.codec.format_rate` and
  :func:`~itdose.adapters.newera.codec.format_volume`; the volume rounded *down* so the pump never
  gets more than ordered, the rate rounded up so the command ends by the order's end) read back,
  then ``RUN``. A ``RUN`` whose reply is lost or garbled is never re-sent: the status and the
  counter say whether it started (``StartResult.UNCERTAIN`` either way, with the status showing
  what was found).
* **poll**: status plus ``DIS``. It is also the Safe-mode heartbeat: call it at least every
  ``watchdog_s / 3`` seconds, idle or not, or the pump stops itself and raises ``A?T``.
* **stop**: ``STP`` until the prompt is ``S`` (the first ``STP`` of a running pump only pauses it),
  confirmed by ``DIS``.
* **acknowledge**: the pump's alarm was already acknowledged by the reply that carried it; this
  checks with a status query that no alarm is pending and the pump is stopped, then clears the
  adapter's latch. After ``DEVICE_RESET`` the drive must be configured again before a start.
* **close**: stop if reachable, release the port. The pump is left in Safe mode.

Fault mapping (table 5.4):

* ``A?S`` -> ``OCCLUSION_OR_STALL``; the outcome carries the partial volume read from ``DIS``.
* ``A?R`` -> ``DEVICE_RESET``: counter epoch + 1, the count since the last read is lost (bounds up
  to the commanded volume), configuration required; nothing is re-issued.
* ``A?T`` -> ``WATCHDOG_STOPPED`` (partial volume from ``DIS``). While idle it is only recorded.
* ``A?E`` / ``A?O`` -> ``DEVICE_PROGRAM_ERROR``.
* CRC error, bytes outside a frame, a truncated or malformed frame, a reply from another address,
  ``?COM``: the status is read again, then :class:`~itdose.adapters.drive.DriveProtocolError`
  (``PROTOCOL_ERROR``) carrying that status.
* No reply: queries are retried (``retries``); then the status is ``UNKNOWN`` (bounds widened to
  the commanded volume), a stop is attempted (``STP`` twice, best effort) and
  :class:`~itdose.adapters.drive.DriveUnreachable` is raised.
* ``?``, ``?NA``, ``?OOR``, ``?IGN`` -> ``COMMAND_REJECTED`` (a rejected start, or a
  :class:`~itdose.adapters.drive.ConfigError` in configure).
* A pump that stops short of its volume without an alarm -> ``PARTIAL_DELIVERY``; a pump that
  moves when no command runs, or shows an unexpected prompt -> stopped, ``DEVICE_PROGRAM_ERROR``.

Quantities are integers (nl, nl/h, um, ms); protocol numbers are parsed as ``Decimal`` by the
codec. ``delivered_nl_total`` is the sum of the confirmed counts of every counter epoch and never
decreases; ``DIS`` shows 4 significant digits, so a count read mid-command is truncated to the
display's step (at most 1/1000 of the value).
"""

from __future__ import annotations

import collections
import contextlib
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from types import TracebackType
from typing import Any, Protocol, TypeVar

from itdose.adapters.drive import (
    AcknowledgeRefused,
    ConfigError,
    DeliveryCommand,
    DeliveryOutcome,
    DriveCapabilities,
    DriveClosed,
    DriveConfig,
    DriveError,
    DriveInfo,
    DriveProtocolError,
    DriveState,
    DriveStatus,
    DriveUnreachable,
    EndReason,
    FaultCode,
    StartResult,
)
from itdose.adapters.newera.codec import (
    Alarm,
    AlarmReply,
    CommandError,
    Direction,
    EncodedQuantity,
    ErrorReply,
    Event,
    Framing,
    PayloadError,
    Prompt,
    ProtocolError,
    Reply,
    ReplyParser,
    StatusReply,
    Version,
    VolumeUnit,
    decode_diameter_um,
    decode_direction,
    decode_dispensed,
    decode_int,
    decode_rate,
    decode_version,
    decode_volume,
    encode_number,
    encode_request,
    format_rate,
    format_volume,
)

__all__ = [
    "ALARM_FAULTS",
    "MAX_WATCHDOG_S",
    "NewEraDrive",
    "SerialUnavailable",
    "rate_limits_nl_per_h",
]

MAX_WATCHDOG_S = 255
"""``SAF n`` accepts 1-255 s (docs/hardware.md#protocol-framing)."""
ALARM_FAULTS: dict[Alarm, FaultCode] = {
    Alarm.STALL: FaultCode.OCCLUSION_OR_STALL,
    Alarm.RESET: FaultCode.DEVICE_RESET,
    Alarm.SAFE_TIMEOUT: FaultCode.WATCHDOG_STOPPED,
    Alarm.PROGRAM_ERROR: FaultCode.DEVICE_PROGRAM_ERROR,
    Alarm.OUT_OF_RANGE: FaultCode.DEVICE_PROGRAM_ERROR,
}
"""The drive fault for each New Era alarm (docs/hardware.md#fault-mapping)."""

# NE-1000 plunger speed limits (manual 12.5 as quoted by labmcp; docs/hardware.md#protocol-rates),
# in um/h: 0.004205 cm/h and 5.1005 cm/min.
_MIN_SPEED_UM_H = Decimal("42.05")
_MAX_SPEED_UM_H = Decimal("3060300")
_PI = Decimal("3.14159265358979323846")
_STOP_ATTEMPTS = 4
_LOG_LIMIT = 500
_T = TypeVar("_T")


def rate_limits_nl_per_h(diameter_um: int) -> tuple[int, int]:
    """The pump's (min, max) rate for a syringe of inside diameter ``diameter_um``, in nl/h.

    Area (um^2) x plunger speed (um/h) = um^3/h, and 1 nl = 10^6 um^3. The minimum rounds up and
    the maximum down, so a rate inside the range is inside the pump's own limits.
    """
    area_um2 = _PI * diameter_um * diameter_um / 4
    low = area_um2 * _MIN_SPEED_UM_H / 1_000_000
    high = area_um2 * _MAX_SPEED_UM_H / 1_000_000
    return int(low.to_integral_value(rounding=ROUND_UP)) + 1, int(high)


class SerialUnavailable(ImportError):
    """pyserial is not installed (``pip install 'itdose[serial]'``)."""


class _Port(Protocol):
    """The part of ``serial.Serial`` the drive uses."""

    timeout: float | None

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def close(self) -> None: ...


def _open_serial(url: str, baudrate: int, timeout: float) -> _Port:
    try:
        serial: Any = importlib.import_module("serial")
    except ImportError as exc:
        raise SerialUnavailable(
            "the New Era drive needs pyserial: pip install 'itdose[serial]'"
        ) from exc
    port: _Port = serial.serial_for_url(
        url,
        baudrate=baudrate,
        bytesize=8,
        parity="N",
        stopbits=1,
        xonxoff=False,
        rtscts=False,
        dsrdtr=False,
        timeout=timeout,
        write_timeout=max(timeout, 0.5),
    )
    return port


class _Silence(Exception):
    """No reply within the deadline."""


class _Garbled(Exception):
    """A reply that could not be trusted (CRC, garbage, framing, address, ``?COM``)."""


@dataclass
class _Run:
    """The command the pump runs (or may run), as the adapter knows it."""

    command: DeliveryCommand
    volume_nl: int
    """Programmed volume, read back (<= the ordered volume)."""
    rate_nl_per_h: int
    """Programmed rate, read back."""
    unit: VolumeUnit
    done_nl: int = 0
    """Confirmed count of this command (DIS since the clear at its start)."""
    confirmed: bool = True
    """False while a lost RUN reply has not been reconciled."""
    fault: FaultCode | None = None
    """The device alarm that stopped it; the final DIS read ends it."""


def _display_step_nl(value_nl: int, unit: VolumeUnit) -> int:
    """The step of a 4-significant-digit display of ``value_nl`` in ``unit`` (DIS, VOL)."""
    whole = value_nl // unit.nl
    digits = len(str(whole))
    decimals = max(0, min(3, 4 - digits))
    step: int = unit.nl // 10**decimals
    return max(1, step)


class NewEraDrive:
    """A New Era pump behind :class:`~itdose.adapters.drive.Drive` (see the module doc).

    Construct with :meth:`open` (connects at once). ``address``: the pump's network address 0-99.
    ``watchdog_s``: the Safe-mode watchdog set at connect, 1-255 s; ``None`` leaves the pump in
    Basic mode (bench bring-up only: no pump-side watchdog, no CRC). ``syringe_diameter_um``: set at
    connect if given (else the pump's current ``DIA`` is kept until :meth:`configure`).
    ``reply_timeout_s`` bounds every exchange; ``retries`` is how many times an unanswered query is
    sent again. ``now_ms`` is the adapter's monotonic clock for ``last_contact_ms``.
    """

    def __init__(
        self,
        port: str,
        *,
        address: int = 0,
        baudrate: int = 19200,
        watchdog_s: int | None = 10,
        syringe_diameter_um: int | None = None,
        reply_timeout_s: float = 0.5,
        retries: int = 2,
        now_ms: Callable[[], int] | None = None,
        opener: Callable[[str, int, float], _Port] = _open_serial,
    ) -> None:
        if not 0 <= address <= 99:
            raise ValueError(f"address {address} outside 0-99")
        if watchdog_s is not None and not 1 <= watchdog_s <= MAX_WATCHDOG_S:
            raise ValueError(f"watchdog_s {watchdog_s} outside 1-{MAX_WATCHDOG_S}")
        if reply_timeout_s <= 0 or retries < 0:
            raise ValueError("reply_timeout_s must be positive and retries non-negative")
        self.url = port
        self.address = address
        self.baudrate = baudrate
        self.watchdog_s = watchdog_s
        self.reply_timeout_s = reply_timeout_s
        self.retries = retries
        self._initial_diameter_um = syringe_diameter_um
        t0 = time.monotonic_ns()
        self._now_ms = now_ms or (lambda: (time.monotonic_ns() - t0) // 1_000_000)
        self._opener = opener
        self._port: _Port | None = None
        self._parser = ReplyParser(expected_address=address)
        self._closed = False
        self.log: collections.deque[str] = collections.deque(maxlen=_LOG_LIMIT)
        """Audit trail of what the adapter saw and did (bounded)."""
        self.stop_attempts = 0
        """Best-effort stops sent after the pump went silent."""
        self.version: Version | None = None
        self.connect_alarms: list[Alarm] = []
        """Alarms absorbed at first contact (``A?R`` after power-up)."""
        self._diameter_um = 0
        self._configured = False
        self._fault: FaultCode | None = None
        self._paused = False
        self._run: _Run | None = None
        self._last: _Run | None = None
        self._outcome: DeliveryOutcome | None = None
        self._used_ids: set[str] = set()
        self._epoch = 0
        self._base_nl = 0
        """Confirmed volume of the finished epochs."""
        self._epoch_start_nl: int | None = 0
        """DIS at the start of this epoch (None: not read since a reset)."""
        self._dis_nl = 0
        """Last DIS read in this epoch."""
        self._contact_ms = 0

    # ------------------------------------------------------------------ construction

    @classmethod
    def open(cls, port: str, **kwargs: Any) -> NewEraDrive:
        """Construct and :meth:`connect`; the port is closed again if connecting fails."""
        drive = cls(port, **kwargs)
        try:
            drive.connect()
        except BaseException:
            drive._release()
            raise
        return drive

    def __enter__(self) -> NewEraDrive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Open the port and bring the pump into the adapter's safe configuration."""
        if self._closed:
            raise DriveClosed("connect", "the drive is closed", status=self._unknown_status())
        if self._port is None:
            self._port = self._opener(self.url, self.baudrate, min(0.01, self.reply_timeout_s))

        def run() -> None:
            self._first_contact()
            ver = self._query_ok("VER")
            try:
                self.version = decode_version(ver.data)
            except PayloadError as exc:
                raise ConfigError("connect", f"unrecognised firmware {ver.data!r}") from exc
            v = self.version
            self._note(f"pump NE{v.model} firmware V{v.major}.{v.minor:03d}")
            self._secure("connect")
            if self._initial_diameter_um is not None:
                self._set_diameter("connect", self._initial_diameter_um)
            else:
                self._diameter_um = decode_diameter_um(self._query_ok("DIA").data)
            self._read_dis()

        self._guarded("connect", run)
        self._configured = True

    # ------------------------------------------------------------------ Drive protocol

    def identify(self) -> DriveInfo:
        """Model, firmware, address and capabilities (read at connect; no exchange)."""
        self._check_open("identify")
        v = self.version
        assert v is not None
        low, high = rate_limits_nl_per_h(self._diameter_um)
        return DriveInfo(
            model=f"NE{v.model}",
            firmware=f"V{v.major}.{v.minor:03d}" + (f"X{v.upgrade}" if v.upgrade else ""),
            address=f"{self.url}#{self.address}",
            capabilities=DriveCapabilities(
                detects_stall=True,
                detects_occlusion=False,
                has_pump_side_watchdog=self.watchdog_s is not None,
                counters_survive_power_loss=None,
                min_rate_nl_per_h=low,
                max_rate_nl_per_h=high,
                volume_resolution_nl=1,
            ),
        )

    def configure(self, config: DriveConfig) -> None:
        """Set and read back the watchdog and the syringe diameter; verify the safety settings."""
        op = "configure"
        self._check_open(op)
        if self._run is not None:
            raise ConfigError(op, "a command is running", status=self._status())
        wd = config.watchdog_timeout_s
        if wd is not None and wd > MAX_WATCHDOG_S:
            raise ConfigError(
                op,
                f"watchdog_timeout_s {wd} exceeds the pump's maximum {MAX_WATCHDOG_S} s",
                status=self._status(),
            )

        def run() -> None:
            if wd is not None:
                self.watchdog_s = wd
            self._secure(op)
            if config.syringe_diameter_um is not None:
                self._set_diameter(op, config.syringe_diameter_um)
            self._refresh()

        self._guarded(op, run)
        if self._fault is FaultCode.DEVICE_RESET:
            raise ConfigError(op, "the pump was reset while configuring", status=self._status())
        self._configured = True

    def start(self, command: DeliveryCommand) -> StartResult:
        """Start ``command`` (see the module doc); validated before touching the device."""
        op = "start"
        self._check_open(op)
        cid = command.command_id
        run = self._run
        if run is not None and run.command == command:
            return StartResult.accepted(cid)  # idempotent: the same command is running
        refusal = self._refusal(command)
        if refusal:
            return StartResult.rejected(cid, refusal)
        low, high = rate_limits_nl_per_h(self._diameter_um)
        if not low <= command.rate_nl_per_h <= high:
            return StartResult.rejected(
                cid,
                f"rate {command.rate_nl_per_h} nl/h outside the pump's [{low}, {high}] "
                "for this syringe",
            )
        try:
            vol = format_volume(command.volume_nl, rounding=ROUND_DOWN)
            rate = format_rate(command.rate_nl_per_h, rounding=ROUND_UP)
            if rate.value > high:
                rate = format_rate(command.rate_nl_per_h, rounding=ROUND_DOWN)
        except ValueError as exc:
            return StartResult.rejected(cid, f"not representable on the pump: {exc}")
        if not low <= rate.value <= high:
            return StartResult.rejected(
                cid, f"rate {rate.value} nl/h outside the pump's [{low}, {high}] for this syringe"
            )
        return self._guarded(op, lambda: self._start(command, vol, rate))

    def stop(self) -> DriveStatus:
        """``STP`` until stopped, confirmed by ``DIS``; a confirmed status or DriveUnreachable."""
        op = "stop"
        self._check_open(op)

        def run() -> None:
            self._stop_pump()
            self._refresh(stopping=True)

        self._guarded(op, run, attempt_stop=False)
        return self._status()

    def poll(self) -> DriveStatus:
        """Status plus ``DIS`` (also the Safe-mode heartbeat)."""
        op = "poll"
        self._check_open(op)
        self._guarded(op, self._refresh)
        return self._status()

    def acknowledge(self, fault: FaultCode) -> None:
        """Clear the latched ``fault`` once the pump shows no alarm and is stopped."""
        op = "acknowledge"
        self._check_open(op)
        latched = self._fault
        reply = self._guarded(op, lambda: self._query(""))
        if isinstance(reply, AlarmReply):
            self._alarm(reply.alarm)
            raise AcknowledgeRefused(
                op, f"a new alarm A?{reply.alarm.value}", fault=self._fault, status=self._status()
            )
        if latched is None:
            return
        if fault is not latched:
            raise AcknowledgeRefused(
                op, f"{fault.value} is not the latched fault", fault=latched, status=self._status()
            )
        if isinstance(reply, StatusReply | ErrorReply) and reply.prompt is not Prompt.STOPPED:
            raise AcknowledgeRefused(
                op,
                f"the pump is not stopped (prompt {reply.prompt.value})",
                fault=latched,
                status=self._status(),
            )
        self._fault = None
        if latched is FaultCode.DEVICE_RESET:
            self._configured = False
        self._note(f"acknowledged {latched.value}")

    def close(self) -> None:
        """Stop if reachable, then release the port (idempotent). The pump stays in Safe mode."""
        if self._closed:
            return
        if self._port is not None:
            with contextlib.suppress(DriveError):
                self.stop()
        self._closed = True
        self._release()
        self._note("closed")

    # ------------------------------------------------------------------ status

    def _status(self) -> DriveStatus:
        run, out = self._run, self._outcome
        if run is not None:
            state = DriveState.PAUSED if self._paused else DriveState.RUNNING
            if not run.confirmed:
                state = DriveState.UNKNOWN
            done = run.done_nl
            bounds = (done, done) if run.confirmed else (done, run.volume_nl)
            cmd_id: str | None = run.command.command_id
            commanded, rate = run.volume_nl, run.rate_nl_per_h
        else:
            state = DriveState.FAULT if self._fault else DriveState.IDLE
            cmd_id = None
            last = self._last
            commanded = last.volume_nl if last else 0
            rate = last.rate_nl_per_h if last else 0
            done, bounds = (out.delivered_nl, out.bounds) if out else (0, (0, 0))
        return DriveStatus(
            state=state,
            active_command_id=cmd_id,
            commanded_nl=commanded,
            rate_nl_per_h=rate,
            delivered_nl_this_command=done,
            delivered_nl_total=self._total_nl(),
            delivered_bounds_nl=bounds,
            counter_epoch=self._epoch,
            fault=self._fault if state is DriveState.FAULT else None,
            last_contact_ms=max(0, self._contact_ms),
            last_outcome=out,
        )

    def _unknown_status(self) -> DriveStatus:
        """UNKNOWN: a command the adapter started may be running, up to its programmed volume."""
        run, out = self._run, self._outcome
        if run is not None:
            done, bounds = run.done_nl, (run.done_nl, run.volume_nl)
            cmd_id: str | None = run.command.command_id
            commanded, rate = run.volume_nl, run.rate_nl_per_h
        else:
            cmd_id = None
            last = self._last
            commanded = last.volume_nl if last else 0
            rate = last.rate_nl_per_h if last else 0
            done, bounds = (out.delivered_nl, out.bounds) if out else (0, (0, 0))
        return DriveStatus(
            state=DriveState.UNKNOWN,
            active_command_id=cmd_id,
            commanded_nl=commanded,
            rate_nl_per_h=rate,
            delivered_nl_this_command=done,
            delivered_nl_total=self._total_nl(),
            delivered_bounds_nl=bounds,
            counter_epoch=self._epoch,
            fault=None,
            last_contact_ms=max(0, self._contact_ms),
            last_outcome=out,
        )

    def _total_nl(self) -> int:
        start = self._epoch_start_nl
        return self._base_nl + (self._dis_nl - start if start is not None else 0)

    # ------------------------------------------------------------------ errors

    def _guarded(self, op: str, fn: Callable[[], _T], *, attempt_stop: bool = True) -> _T:
        """Run ``fn``; silence -> DriveUnreachable (UNKNOWN, stop attempt), an untrustworthy
        reply -> DriveProtocolError after re-reading the status."""
        try:
            return fn()
        except _Silence:
            raise self._unreachable(op, attempt_stop=attempt_stop) from None
        except (_Garbled, PayloadError) as exc:
            raise self._protocol_error(op, str(exc)) from None

    def _check_open(self, op: str) -> None:
        if self._closed or self._port is None:
            raise DriveClosed(op, "the drive is closed", status=self._unknown_status())

    def _unreachable(self, op: str, *, attempt_stop: bool = True) -> DriveUnreachable:
        """No reply after the query retries: UNKNOWN, then a best-effort stop."""
        status = self._unknown_status()
        self._note(f"{op}: no reply; state unknown")
        if attempt_stop:
            self._attempt_stop()
        return DriveUnreachable(op, f"no reply within {self.reply_timeout_s} s", status=status)

    def _protocol_error(self, op: str, exc: str) -> DriveProtocolError:
        """Re-read the status after an untrustworthy reply, then report PROTOCOL_ERROR."""
        self._note(f"{op}: {exc}; re-reading the status")
        try:
            self._refresh()
            status = self._status()
        except (_Silence, _Garbled):
            status = self._unknown_status()
        return DriveProtocolError(op, f"unreliable reply ({exc}); effect unknown", status=status)

    def _attempt_stop(self) -> None:
        """Send STP twice without waiting long or retrying (fail safe when the link is in doubt)."""
        self.stop_attempts += 1
        self._note("stop attempt after silence")
        for _ in range(2):
            with contextlib.suppress(_Silence, _Garbled):
                reply = self._exchange("STP")
                if isinstance(reply, AlarmReply):
                    self._alarm(reply.alarm)

    def _note(self, text: str) -> None:
        self.log.append(f"{self._now_ms()} {text}")

    def _release(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    # ------------------------------------------------------------------ wire

    def _read_chunk(self) -> bytes:
        port = self._port
        assert port is not None
        data = port.read(1)
        if data:
            waiting = port.in_waiting
            if waiting:
                data += port.read(waiting)
        return data

    def _drain(self) -> None:
        """Consume bytes that arrived outside an exchange (Safe-mode Auto-Alarm, late replies)."""
        port = self._port
        assert port is not None
        waiting = port.in_waiting
        if not waiting:
            return
        for ev in self._parser.feed(port.read(waiting)):
            self._stray(ev)

    def _stray(self, ev: Event) -> None:
        if isinstance(ev, AlarmReply):
            self._note(f"auto-alarm A?{ev.alarm.value}")
            self._alarm(ev.alarm)
        elif isinstance(ev, ProtocolError):
            self._note(f"stray bytes ({ev.kind.value}): {ev.raw!r}")
        else:
            self._note(f"unsolicited reply ignored: {ev.raw!r}")

    def _exchange(self, command: str, *, wire: Framing | None = None) -> Reply:
        """Send one request and wait for its reply (no retry). Raises _Silence or _Garbled."""
        port = self._port
        assert port is not None
        self._drain()
        parser = self._parser
        parser.outstanding = 0
        parser.note_request()
        port.write(encode_request(command, address=self.address, framing=wire or parser.framing))
        deadline = time.monotonic() + self.reply_timeout_s
        reply: Reply | None = None
        errors: list[ProtocolError] = []
        while reply is None and time.monotonic() < deadline:
            for ev in parser.feed(self._read_chunk()):
                if isinstance(ev, ProtocolError):
                    errors.append(ev)
                elif not ev.solicited or reply is not None:
                    self._stray(ev)
                else:
                    reply = ev
            if errors and parser.outstanding == 0:
                break
        if reply is None and not errors:
            parser.flush()
            raise _Silence(command)
        if errors:
            errors.extend(e for e in parser.flush() if isinstance(e, ProtocolError))
            e = errors[0]
            raise _Garbled(f"{command or 'status'}: {e.kind.value} {e.detail}")
        assert reply is not None
        self._contact_ms = self._now_ms()
        if isinstance(reply, ErrorReply) and reply.error is CommandError.COMMUNICATION:
            raise _Garbled(f"{command or 'status'}: the pump reported ?COM")
        return reply

    def _query(self, command: str) -> Reply:
        """An idempotent query: retried on silence."""
        for attempt in range(self.retries + 1):
            try:
                return self._exchange(command)
            except _Silence:
                self._note(f"no reply to {command or 'status'!r} (attempt {attempt + 1})")
        raise _Silence(command)

    def _query_ok(self, command: str) -> StatusReply:
        """A query whose answer must be data; an alarm in between is handled and asked again."""
        for _ in range(3):
            reply = self._query(command)
            if isinstance(reply, AlarmReply):
                self._alarm(reply.alarm)
                continue
            if isinstance(reply, ErrorReply):
                raise _Garbled(f"{command}: unexpected ?{reply.error.value}")
            return reply
        raise _Garbled(f"{command}: alarms kept coming")

    def _set(self, op: str, command: str) -> None:
        """A set command, sent once; a lost reply is left to the read-back that always follows."""
        try:
            reply = self._exchange(command)
        except _Silence:
            self._note(f"no reply to {command!r}; the read-back decides")
            return
        if isinstance(reply, AlarmReply):
            self._alarm(reply.alarm)
            raise ConfigError(
                op,
                f"{command}: not executed, alarm A?{reply.alarm.value}",
                fault=ALARM_FAULTS[reply.alarm],
                status=self._status(),
            )
        if isinstance(reply, ErrorReply):
            raise ConfigError(
                op,
                f"{command}: rejected ?{reply.error.value}",
                fault=FaultCode.COMMAND_REJECTED,
                status=self._status(),
            )

    def _first_contact(self) -> None:
        """Learn the pump's framing from its reply and absorb pending alarms (power-on ``A?R``).

        A status query goes out Safe-framed (accepted in either mode, [A]), then Basic-framed if
        the pump stays silent; the reply is parsed in both framings at once.
        """
        port = self._port
        assert port is not None
        for wire in (Framing.SAFE, Framing.BASIC, Framing.SAFE, Framing.BASIC):
            reply = self._sniff(port, wire)
            if reply is None:
                continue
            if isinstance(reply, AlarmReply):
                self.connect_alarms.append(reply.alarm)
                self._note(f"connect: absorbed alarm A?{reply.alarm.value}")
                if reply.alarm is Alarm.RESET:
                    self._epoch += 1
                    self._epoch_start_nl = None
                continue  # that reply acknowledged it; ask again
            self._note(f"connect: pump in {self._parser.framing.value} mode")
            return
        raise _Silence("first contact")

    def _sniff(self, port: _Port, wire: Framing) -> Reply | None:
        parsers = {f: ReplyParser(framing=f, expected_address=self.address) for f in Framing}
        for p in parsers.values():
            p.note_request()
        with contextlib.suppress(Exception):
            port.read(port.in_waiting or 0)
        port.write(encode_request("", address=self.address, framing=wire))
        deadline = time.monotonic() + self.reply_timeout_s
        while time.monotonic() < deadline:
            chunk = self._read_chunk()
            if not chunk:
                continue
            for framing, p in parsers.items():
                for ev in p.feed(chunk):
                    if not isinstance(ev, ProtocolError) and ev.solicited:
                        self._parser = ReplyParser(framing=framing, expected_address=self.address)
                        self._contact_ms = self._now_ms()
                        return ev
        return None

    # ------------------------------------------------------------------ settings

    def _secure(self, op: str) -> None:
        """Force and read back the safety settings: stopped, Safe mode, PF 0, the program."""
        first = self._query("")
        if isinstance(first, AlarmReply):
            self._alarm(first.alarm)
            first = self._query("")
        if (
            isinstance(first, StatusReply | ErrorReply)
            and first.prompt is not Prompt.STOPPED
            and self._run is None
        ):
            self._note(f"{op}: pump not stopped (prompt {first.prompt.value}); stopping")
            self._stop_pump()
        self._set_mode(op)
        self._ensure(op, "PF", "0", "PF0")
        self._ensure(op, "PHN", "2", "PHN2", check=False)
        self._ensure(op, "FUN", "STP", "FUNSTP")
        self._ensure(op, "PHN", "1", "PHN1", check=False)
        self._ensure(op, "FUN", "RAT", "FUNRAT")
        self._ensure(op, "PHN", "1", "PHN1")
        self._ensure(op, "DIR", Direction.INFUSE.value, "DIRINF")

    def _ensure(self, op: str, query: str, want: str, setter: str, *, check: bool = True) -> None:
        """Read ``query``; write ``setter`` only if it differs (NVM wear); read back."""

        def same(data: str) -> bool:
            try:
                return decode_int(data) == int(want) if want.isdigit() else data == want
            except PayloadError:
                return False

        if check and same(self._query_ok(query).data):
            return
        self._set(op, setter)
        got = self._query_ok(query).data
        if not same(got):
            raise ConfigError(op, f"{query} reads back {got!r}, wanted {want!r}")

    def _set_mode(self, op: str) -> None:
        """``SAF n`` (Safe mode, the pump-side watchdog) or ``SAF 0``; Safe-framed either way,
        the reply framed in the new mode; read back."""
        n = self.watchdog_s or 0
        current = decode_int(self._query_ok("SAF").data)
        if current == n and (self._parser.framing is Framing.SAFE) == (n > 0):
            return
        self._parser.framing = Framing.SAFE if n > 0 else Framing.BASIC
        try:
            reply = self._exchange(f"SAF{n}", wire=Framing.SAFE)
        except _Silence:
            reply = None  # the read-back decides
        if isinstance(reply, AlarmReply):
            self._alarm(reply.alarm)
            raise ConfigError(op, f"SAF{n}: alarm A?{reply.alarm.value}", status=self._status())
        if isinstance(reply, ErrorReply):
            raise ConfigError(op, f"SAF{n}: rejected ?{reply.error.value}")
        got = decode_int(self._query_ok("SAF").data)
        if got != n:
            raise ConfigError(op, f"SAF reads back {got}, wanted {n}")
        self._note(f"{'Safe mode, watchdog ' + str(n) + ' s' if n else 'Basic mode'}")

    def _set_diameter(self, op: str, diameter_um: int) -> None:
        try:
            text = encode_number(Decimal(diameter_um) / 1000)
        except ValueError as exc:
            raise ConfigError(op, f"diameter {diameter_um} um: {exc}") from None
        current = decode_diameter_um(self._query_ok("DIA").data)
        if current != diameter_um:
            self._read_dis()
            self._set(op, "DIA" + text)
            self._new_epoch("DIA written")
        got = decode_diameter_um(self._query_ok("DIA").data)
        if got != diameter_um:
            raise ConfigError(op, f"DIA reads back {got} um, wanted {diameter_um} um")
        self._diameter_um = got

    # ------------------------------------------------------------------ counter

    def _read_dis(self) -> int:
        """Read DIS (the infused counter) into the epoch bookkeeping; returns it in nl."""
        data = self._query_ok("DIS").data
        try:
            value = decode_dispensed(data).infused_nl
        except PayloadError as exc:
            raise _Garbled(f"DIS: {exc}") from None
        if self._epoch_start_nl is None:
            self._epoch_start_nl = value  # first read after a reset: the new baseline
        elif value < self._dis_nl:
            self._note(f"DIS went down {self._dis_nl} -> {value} without a clear")
            self._new_epoch("counter went down")
            if self._run is not None and self._run.fault is None:
                self._run.fault = FaultCode.PROTOCOL_ERROR
        self._dis_nl = value
        if self._run is not None:
            start = self._epoch_start_nl
            self._run.done_nl = max(self._run.done_nl, value - start)
        return value

    def _new_epoch(self, why: str) -> None:
        """The device counter was (or may have been) reset: fold the confirmed count."""
        self._base_nl = self._total_nl()
        self._epoch += 1
        self._dis_nl = 0
        self._epoch_start_nl = None  # the next DIS read is the new baseline
        self._note(f"counter epoch {self._epoch}: {why}")

    # ------------------------------------------------------------------ alarms and outcomes

    def _alarm(self, alarm: Alarm) -> None:
        """A device alarm (its reply acknowledged it on the pump; the command was not executed)."""
        fault = ALARM_FAULTS[alarm]
        self._note(f"alarm A?{alarm.value} -> {fault.value}")
        run = self._run
        if alarm is Alarm.RESET:
            # The count since the last read is lost; never trust continuity.
            self._new_epoch("device reset (A?R)")
            self._configured = False
            if run is not None:
                lo = run.done_nl
                self._end(EndReason.FAULTED, fault, lo, (lo, max(lo, run.volume_nl)))
            self._fault = fault
            return
        if run is not None:
            if run.fault is None:
                run.fault = fault  # the final DIS read ends it with the partial volume
            return
        if alarm is Alarm.SAFE_TIMEOUT:
            self._note("watchdog alarm while idle: nothing was delivering")
            return
        self._fault = fault

    def _end(
        self,
        reason: EndReason,
        fault: FaultCode | None,
        delivered: int,
        bounds: tuple[int, int] | None = None,
    ) -> None:
        run = self._run
        assert run is not None
        self._outcome = DeliveryOutcome(
            run.command.command_id, run.volume_nl, delivered, reason, fault, bounds
        )
        self._last, self._run, self._paused = run, None, False
        if fault is not None:
            self._fault = fault
        self._note(
            f"ended {run.command.command_id} {reason.value} "
            f"{fault.value if fault else '-'} {delivered}/{run.volume_nl} nl"
        )

    def _refresh(self, *, stopping: bool = False) -> None:
        """Status + DIS, then what they mean for the running command."""
        prompt: Prompt | None = None
        for _ in range(3):
            reply = self._query("")
            if isinstance(reply, AlarmReply):
                self._alarm(reply.alarm)
                continue
            prompt = reply.prompt
            break
        if prompt is None:
            raise _Garbled("status: alarms kept coming")
        self._read_dis()
        run = self._run
        if run is None:
            if prompt.moving or prompt is Prompt.PAUSED:
                self._note(f"pump {prompt.name.lower()} with no command: stopping it")
                self._stop_pump()
                self._fault = FaultCode.DEVICE_PROGRAM_ERROR
            return
        if not run.confirmed and run.fault is None and prompt is Prompt.STOPPED and not run.done_nl:
            self._run = None  # the lost RUN never started: nothing delivered, no outcome
            self._note(f"RUN {run.command.command_id}: reconciled as not started")
            return
        run.confirmed = True
        done = run.done_nl
        step = _display_step_nl(run.volume_nl, run.unit)
        if run.fault is not None:
            delivered = run.volume_nl if done >= run.volume_nl else done
            if done > run.volume_nl + step:
                delivered = done
            self._end(EndReason.FAULTED, run.fault, delivered)
        elif prompt is Prompt.INFUSING:
            self._paused = False
            if done > run.volume_nl + step:
                self._stop_pump()
                self._read_dis()
                self._end(EndReason.FAULTED, FaultCode.DEVICE_PROGRAM_ERROR, run.done_nl)
        elif prompt is Prompt.PAUSED and not stopping:
            self._paused = True
        elif prompt is Prompt.STOPPED:
            if run.volume_nl - step < done <= run.volume_nl + step:
                self._end(EndReason.COMPLETED, None, run.volume_nl)
            elif done > run.volume_nl:
                self._end(EndReason.FAULTED, FaultCode.DEVICE_PROGRAM_ERROR, done)
            elif stopping:
                self._end(EndReason.STOPPED, None, done)
            else:
                self._end(EndReason.FAULTED, FaultCode.PARTIAL_DELIVERY, done)
        else:
            self._note(f"unexpected prompt {prompt.value} while running: stopping")
            self._stop_pump()
            self._read_dis()
            self._end(EndReason.FAULTED, FaultCode.DEVICE_PROGRAM_ERROR, self._run_done())

    def _run_done(self) -> int:
        run = self._run
        return run.done_nl if run is not None else 0

    def _stop_pump(self) -> None:
        """``STP`` until the prompt is ``S``. A lost STP reply is checked with a status query."""
        for _ in range(_STOP_ATTEMPTS):
            try:
                reply = self._exchange("STP")
            except _Silence:
                reply = self._query("")
            if isinstance(reply, AlarmReply):
                self._alarm(reply.alarm)  # the alarm stopped the motor; check again
                continue
            if reply.prompt is Prompt.STOPPED:
                return
        reply = self._query("")
        if isinstance(reply, StatusReply) and reply.prompt is Prompt.STOPPED:
            return
        raise _Garbled(f"the pump does not stop (last reply {reply.raw!r})")

    # ------------------------------------------------------------------ start

    def _refusal(self, command: DeliveryCommand) -> str:
        cid = command.command_id
        if cid in self._used_ids:
            return f"command id {cid!r} already used; ids are never executed twice"
        if self._fault is not None:
            return f"fault latched: {self._fault.value}"
        if self._run is not None:
            return f"busy with {self._run.command.command_id!r}"
        if not self._configured:
            return "not configured (configure after a device reset)"
        if self._diameter_um <= 0:
            return "no syringe diameter"
        return ""

    def _start(
        self, command: DeliveryCommand, vol: EncodedQuantity, rate: EncodedQuantity
    ) -> StartResult:
        op, cid = "start", command.command_id
        status = self._query("")
        if isinstance(status, AlarmReply):
            self._alarm(status.alarm)
            return StartResult.rejected(cid, f"device alarm A?{status.alarm.value}")
        if status.prompt is not Prompt.STOPPED:
            self._stop_pump()
        # Fold the last count, clear the counter (a new epoch) and check it reads 0.
        self._read_dis()
        cleared = self._command_step(op, "CLDINF")
        if cleared:
            return StartResult.rejected(cid, cleared)
        self._new_epoch(f"CLD INF for {cid}")
        if self._read_dis() != 0:
            return StartResult.rejected(cid, "the counter did not clear")
        unit = VolumeUnit(vol.unit)
        for step in (
            "DIR" + Direction.INFUSE.value if self._query_ok("DIR").data != "INF" else "",
            "RAT" + rate.wire,
            "VOL" + unit.value,
            "VOL" + vol.text,
        ):
            if step:
                problem = self._command_step(op, step)
                if problem:
                    return StartResult.rejected(cid, problem)
        # Read everything back.
        try:
            direction = decode_direction(self._query_ok("DIR").data)
            got_rate, _ = decode_rate(self._query_ok("RAT").data)
            got_vol, got_unit = decode_volume(self._query_ok("VOL").data)
            phase = decode_int(self._query_ok("PHN").data)
        except PayloadError as exc:
            raise _Garbled(f"read-back: {exc}") from None
        mismatch = []
        if direction is not Direction.INFUSE:
            mismatch.append(f"DIR {direction.value}")
        if got_rate != rate.value:
            mismatch.append(f"RAT {got_rate} nl/h != {rate.value}")
        if got_vol != vol.value or got_unit is not unit:
            mismatch.append(f"VOL {got_vol} nl {got_unit.value} != {vol.value} {unit.value}")
        if phase != 1:
            mismatch.append(f"PHN {phase}")
        if got_vol > command.volume_nl:
            mismatch.append("volume above the order")
        if mismatch:
            self._note(f"{cid}: read-back mismatch: {', '.join(mismatch)}")
            return StartResult.rejected(cid, "read-back mismatch: " + ", ".join(mismatch))
        # RUN: sent once, never re-sent; a lost reply is reconciled.
        self._used_ids.add(cid)
        self._run = _Run(command, vol.value, rate.value, unit)
        self._paused = False
        self._note(f"RUN {cid}: {vol.wire} at {rate.wire}")
        try:
            reply = self._exchange("RUN")
        except (_Silence, _Garbled) as exc:
            return self._reconcile_run(cid, str(exc) or "no reply")
        if isinstance(reply, AlarmReply):
            self._run = None
            self._alarm(reply.alarm)
            self._fault = self._fault or ALARM_FAULTS[reply.alarm]
            return StartResult.rejected(cid, f"RUN not executed: alarm A?{reply.alarm.value}")
        if isinstance(reply, ErrorReply):
            self._run = None
            return StartResult.rejected(cid, f"RUN rejected ?{reply.error.value}")
        return StartResult.accepted(cid)

    def _command_step(self, op: str, command: str) -> str:
        """A set command during start: "" when accepted, else why (nothing moved)."""
        try:
            self._set(op, command)
        except ConfigError as exc:
            return exc.message
        return ""

    def _reconcile_run(self, cid: str, why: str) -> StartResult:
        """The RUN reply was lost or garbled: status and counter say whether it started."""
        run = self._run
        assert run is not None
        run.confirmed = False
        self._note(f"RUN {cid}: {why}; reconciling")
        try:
            reply = self._query("")
            if isinstance(reply, AlarmReply):
                self._alarm(reply.alarm)
                reply = self._query("")
            prompt = None if isinstance(reply, AlarmReply) else reply.prompt
            dis = self._read_dis()
        except (_Silence, _Garbled):
            self._attempt_stop()
            return StartResult.uncertain(cid, f"RUN reply {why}; the pump cannot be read")
        if self._run is None:  # an alarm ended it
            return StartResult.uncertain(cid, f"RUN reply {why}; the pump raised an alarm")
        if prompt is Prompt.INFUSING or dis > 0:
            run.confirmed = True
            self._note(f"RUN {cid}: reconciled as started")
            return StartResult.accepted(cid)
        # Not started: the command never ran (the id stays used: a new id is needed).
        self._run = None
        self._note(f"RUN {cid}: reconciled as not started")
        return StartResult.uncertain(cid, f"RUN reply {why}; reconciled: not started")
