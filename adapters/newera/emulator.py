"""Emulator of a New Era NE-1000 family pump served on a real pseudo-terminal (test support).

* :class:`PumpModel` is the protocol state machine (Basic and Safe mode, alarms, program phases,
  pumping physics on an injectable clock, Safe-mode watchdog on a separate real-time clock, fault
  injection). It is thread-safe: every public method takes the model's lock.
* :class:`PtyEmulator` serves a model on ``pty.openpty()`` (slave in raw mode, kept open by the
  emulator) with one thread on the master side. Clients open :attr:`PtyEmulator.port` like a real
  serial port.

Behaviour that no manual page documents is marked [A] in docs/hardware.md#protocol-facts; here it
follows that document: STP while running pauses and a second STP stops, a command with no address
prefix is for address 0, Basic packets are ignored while in Safe mode, a Safe packet in Basic mode
is
accepted and the reply is framed in the mode in force *after* the command (so ``SAF 0`` sent in
Safe framing is answered in Basic framing).
"""

from __future__ import annotations

import contextlib
import enum
import os
import pty
import re
import select
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Protocol

from itdose.adapters.newera.codec import (
    SYSTEM_ADDRESS,
    Alarm,
    Direction,
    Framing,
    Prompt,
    RateUnit,
    Request,
    RequestError,
    RequestParser,
    VolumeUnit,
    encode_reply,
    format_reply_number,
    normalize_command,
    parse_sent_number,
    split_address,
)

__all__ = [
    "Clock",
    "ManualClock",
    "Phase",
    "PtyEmulator",
    "PumpModel",
    "ScaledClock",
]

NS_PER_S = 1_000_000_000
NS_PER_H = 3600 * NS_PER_S
INTER_BYTE_TIMEOUT_S = 0.5
MAX_PHASE = 41
BAUD_RATES = (300, 1200, 2400, 9600, 19200)
# Plunger speed limits of the NE-1000 (manual §12.5 as quoted by labmcp): 0.004205 cm/h to
# 5.1005 cm/min, here in mm/h.
MIN_SPEED_MM_H = Decimal("0.04205")
MAX_SPEED_MM_H = Decimal("3060.3")
PI = Decimal("3.14159265358979323846")


class Clock(Protocol):
    """Physics clock in integer nanoseconds."""

    def now_ns(self) -> int: ...


class ManualClock:
    """Deterministic clock for tests: time moves only when :meth:`advance` is called."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        with self._lock:
            return self._now

    def advance(self, *, seconds: int = 0, ns: int = 0) -> None:
        if seconds < 0 or ns < 0:
            raise ValueError("time does not run backwards")
        with self._lock:
            self._now += seconds * NS_PER_S + ns


class ScaledClock:
    """Real monotonic time multiplied by an integer ``speed`` (accelerated pumping)."""

    def __init__(self, speed: int = 1) -> None:
        if speed < 1:
            raise ValueError("speed must be >= 1")
        self._speed = speed
        self._t0 = time.monotonic_ns()

    def now_ns(self) -> int:
        return (time.monotonic_ns() - self._t0) * self._speed


class Phase(enum.Enum):
    RAT = "RAT"
    STP = "STP"


@dataclass
class _PhaseData:
    function: Phase = Phase.STP
    rate_value: Decimal = Decimal(0)
    rate_unit: RateUnit = RateUnit.UM
    volume_value: Decimal = Decimal(0)
    direction: Direction = Direction.INFUSE

    @property
    def rate_nl_per_h(self) -> int:
        return int(self.rate_value * self.rate_unit.nl_per_h)


class _Run(enum.Enum):
    STOPPED = "S"
    PAUSED = "P"
    PUMPING = "pump"
    PURGING = "X"


_COMMANDS = (
    "VER",
    "DIA",
    "RAT",
    "VOL",
    "DIR",
    "RUN",
    "STP",
    "PUR",
    "DIS",
    "CLD",
    "SAF",
    "AL",
    "PF",
    "BUZ",
    "PHN",
    "FUN",
    "ADR",
    "RESET",
    "TRG",
    "OUT",
    "IN",
)
TRIGGER_MODES = ("FT", "FH", "F2", "LE", "ST", "T2", "SP", "P2", "RL", "RH", "SL", "SH", "ET", "BT")
"""``TRG`` modes of the DB-9 TTL I/O table (NE-500 manual, pin 2)."""
TTL_INPUT_PINS = (2, 3, 4, 6)
TTL_OUTPUT_PINS = (5,)
_RATE_RE = re.compile(r"([0-9.]+)(UM|MM|UH|MH)?")


@dataclass
class _Faults:
    drop_replies: int = 0
    corrupt_replies: int = 0
    wrong_address: int | None = None
    wrong_address_count: int = 0
    garbage_before_reply: bytes = b""
    dead: bool = False
    stall_remaining_nl: int | None = None


@dataclass
class _LogEntry:
    direction: str
    data: bytes
    at: float = field(default_factory=time.monotonic)


class PumpModel:
    """The pump's protocol state machine and pumping model.

    ``clock`` drives pumping (may be accelerated or manual); ``comm_clock`` (seconds, real time by
    default) drives the Safe-mode watchdog and must not be accelerated. The volume units follow the
    diameter (<= 14.00 mm: µL) unless ``VOL UL|ML`` overrides them.
    """

    def __init__(
        self,
        *,
        address: int = 0,
        clock: Clock | None = None,
        comm_clock: Callable[[], float] = time.monotonic,
        model_number: int = 1000,
        firmware: str = "V3.928",
        trailing_point: bool = True,
        counters_survive_power_cycle: bool = False,
        powered_on: bool = True,
        diameter_mm: Decimal = Decimal("4.699"),
    ) -> None:
        self._lock = threading.RLock()
        self.clock: Clock = clock if clock is not None else ScaledClock()
        self.comm_clock = comm_clock
        self.address = address
        self.model_number = model_number
        self.firmware = firmware
        self.trailing_point = trailing_point
        self.counters_survive_power_cycle = counters_survive_power_cycle
        self.diameter = diameter_mm
        self.volume_unit = VolumeUnit.UL if diameter_mm <= 14 else VolumeUnit.ML
        self.safe_timeout_s = 0
        self.alarm_mode = 0
        self.power_fail_mode = 0
        self.buzzer = 0
        self.alarm: Alarm | None = Alarm.RESET if powered_on else None
        self.infused_nl = 0
        self.withdrawn_nl = 0
        self.faults = _Faults()
        self._phases = [_PhaseData() for _ in range(MAX_PHASE + 1)]
        self._phases[1].function = Phase.RAT
        self._nvm_rates = [(p.rate_value, p.rate_unit) for p in self._phases]
        self._selected = 1
        self._run = _Run.STOPPED
        self._run_phase = 1
        self._phase_done_nl = 0
        self._seg_start_ns = 0
        self._seg_committed_nl = 0
        self._seg_rate = 0
        self._direction = Direction.INFUSE
        self._wd_armed = False
        self._last_valid = 0.0
        self._outbox: list[bytes] = []
        self.trigger_mode = "FT"
        # [A] Unconnected TTL inputs read high (pulled up to the Vcc reference of pin 1).
        self.ttl_inputs: dict[int, int] = dict.fromkeys(TTL_INPUT_PINS, 1)
        self.ttl_outputs: dict[int, int] = dict.fromkeys(TTL_OUTPUT_PINS, 0)

    # ---------------------------------------------------------------- observation helpers

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    def prompt(self) -> Prompt:
        with self._lock:
            self._update()
            return self._prompt()

    @property
    def safe(self) -> bool:
        return self.safe_timeout_s > 0

    def take_outbox(self) -> list[bytes]:
        """Unsolicited bytes (Safe-mode Auto-Alarm frames, injected garbage) to write now."""
        with self._lock:
            self._update()
            out, self._outbox = self._outbox, []
            return out

    def tick(self) -> None:
        with self._lock:
            self._update()

    # ---------------------------------------------------------------- fault injection

    def inject_stall(self, after_nl: int = 0) -> None:
        """Stall the motor after ``after_nl`` more nanolitres of movement (0: at once if moving)."""
        with self._lock:
            self._update()
            self.faults.stall_remaining_nl = after_nl
            self._update()

    def power_cycle(self) -> None:
        """Power loss and return: pumping and program stop, ``A?R`` pending, counters cleared
        unless ``counters_survive_power_cycle``; rates changed while pumping revert to NVM."""
        with self._lock:
            self._update()
            self._run = _Run.STOPPED
            self._reset_program()
            for i, (value, unit) in enumerate(self._nvm_rates):
                self._phases[i].rate_value, self._phases[i].rate_unit = value, unit
            if not self.counters_survive_power_cycle:
                self.infused_nl = self.withdrawn_nl = 0
            self.faults.stall_remaining_nl = None
            self._wd_armed = False
            self._raise_alarm(Alarm.RESET)

    def inject_alarm(self, alarm: Alarm) -> None:
        with self._lock:
            self._update()
            if alarm is not Alarm.RESET:
                self._stop_motion()
            self._raise_alarm(alarm)

    def inject_garbage(self, data: bytes) -> None:
        """Write ``data`` to the host at once (line noise)."""
        with self._lock:
            self._outbox.append(data)

    def drop_replies(self, count: int = 1) -> None:
        """Execute the next ``count`` commands but lose their replies."""
        with self._lock:
            self.faults.drop_replies += count

    def corrupt_replies(self, count: int = 1) -> None:
        """Flip one bit in the next ``count`` replies (a CRC error in Safe mode)."""
        with self._lock:
            self.faults.corrupt_replies += count

    def reply_from_address(self, address: int, count: int = 1) -> None:
        with self._lock:
            self.faults.wrong_address = address
            self.faults.wrong_address_count = count

    def garbage_before_next_reply(self, data: bytes) -> None:
        with self._lock:
            self.faults.garbage_before_reply = data

    def set_dead(self, dead: bool = True) -> None:
        """A dead pump neither executes nor answers."""
        with self._lock:
            self.faults.dead = dead

    # ---------------------------------------------------------------- physics

    def _prompt(self) -> Prompt:
        if self._run is _Run.PUMPING:
            return Prompt.INFUSING if self._direction is Direction.INFUSE else Prompt.WITHDRAWING
        if self._run is _Run.PURGING:
            return Prompt.PURGING
        if self._run is _Run.PAUSED:
            return Prompt.PAUSED
        return Prompt.STOPPED

    def _moving(self) -> bool:
        return self._run in (_Run.PUMPING, _Run.PURGING)

    def _area_mm2(self) -> Decimal:
        return PI * self.diameter * self.diameter / 4

    def rate_limits_nl_per_h(self) -> tuple[int, int]:
        area = self._area_mm2()
        low = int(area * MIN_SPEED_MM_H * 1000) + 1
        return low, int(area * MAX_SPEED_MM_H * 1000)

    def _commit(self, amount: int) -> None:
        delta = amount - self._seg_committed_nl
        if delta <= 0:
            return
        self._seg_committed_nl = amount
        self._phase_done_nl += delta
        if self._direction is Direction.INFUSE:
            self.infused_nl += delta
        else:
            self.withdrawn_nl += delta
        if self.faults.stall_remaining_nl is not None:
            self.faults.stall_remaining_nl -= delta

    def _new_segment(self, start_ns: int, rate: int) -> None:
        self._seg_start_ns = start_ns
        self._seg_committed_nl = 0
        self._seg_rate = rate

    def _update(self) -> None:
        now = self.clock.now_ns()
        for _ in range(MAX_PHASE + 2):
            if not self._moving():
                break
            if self.faults.stall_remaining_nl is not None and self.faults.stall_remaining_nl <= 0:
                self._stall()
                break
            rate = self._seg_rate
            amount = rate * max(0, now - self._seg_start_ns) // NS_PER_H
            caps: list[int] = []
            target = self._target_nl()
            if self._run is _Run.PUMPING and target > 0:
                caps.append(self._seg_committed_nl + target - self._phase_done_nl)
            stall = self.faults.stall_remaining_nl
            if stall is not None:
                caps.append(self._seg_committed_nl + stall)
            cap = min(caps) if caps else None
            if cap is None or amount < cap:
                self._commit(amount)
                break
            self._commit(cap)
            if (
                stall is not None
                and self.faults.stall_remaining_nl is not None
                and (self.faults.stall_remaining_nl <= 0)
            ):
                self._stall()
                break
            # Phase complete: the next phase starts when this one ended.
            ended = self._seg_start_ns + -(-cap * NS_PER_H // rate) if rate else now
            self._next_phase(ended)
        self._check_watchdog()

    def _target_nl(self) -> int:
        p = self._phases[self._run_phase]
        return int(p.volume_value * self.volume_unit.nl)

    def _start_phase(self, index: int, start_ns: int) -> None:
        """Enter program phase ``index``; stop if it is STP or past the end."""
        if index <= MAX_PHASE and self._phases[index].function is Phase.RAT:
            p = self._phases[index]
            self._run_phase = index
            self._phase_done_nl = 0
            self._direction = p.direction
            self._run = _Run.PUMPING
            self._new_segment(start_ns, p.rate_nl_per_h)
            return
        self._run = _Run.STOPPED
        self._reset_program()

    def _next_phase(self, start_ns: int) -> None:
        self._start_phase(self._run_phase + 1, start_ns)

    def _reset_program(self) -> None:
        self._run_phase = 1
        self._phase_done_nl = 0

    def _stop_motion(self) -> None:
        self._run = _Run.STOPPED
        self._reset_program()

    def _stall(self) -> None:
        self.faults.stall_remaining_nl = None
        self._stop_motion()
        self._raise_alarm(Alarm.STALL)

    def _raise_alarm(self, alarm: Alarm) -> None:
        self.alarm = alarm
        if self.safe:
            self._outbox.append(encode_reply(self.address, "A?" + alarm.value, Framing.SAFE))

    def _check_watchdog(self) -> None:
        if not (self.safe and self._wd_armed):
            return
        if self.comm_clock() - self._last_valid > self.safe_timeout_s:
            self._wd_armed = False
            self._stop_motion()
            self._raise_alarm(Alarm.SAFE_TIMEOUT)

    # ---------------------------------------------------------------- requests

    def handle(self, request: Request | RequestError) -> bytes | None:
        """Process one parsed request and return the bytes to send (None: stay silent)."""
        with self._lock:
            self._update()
            if self.faults.dead:
                return None
            framing = Framing.SAFE if self.safe else Framing.BASIC
            if isinstance(request, RequestError):
                if request.timeout:
                    return None
                return self._emit(self.address, self._prompt().value + "?COM", framing)
            if request.framing is Framing.BASIC and self.safe:
                return None  # [A] Basic packets are ignored in Safe mode
            addr, cmd = split_address(normalize_command(request.data))
            if addr is None:
                addr = 0
            if addr != SYSTEM_ADDRESS and addr != self.address:
                return None
            if self.safe:
                self._last_valid = self.comm_clock()
                self._wd_armed = True
            if self.alarm is not None:
                alarm, self.alarm = self.alarm, None
                return self._emit(self.address, "A?" + alarm.value, framing)
            body = self._execute(cmd)
            framing = Framing.SAFE if self.safe else Framing.BASIC
            if self.safe:
                self._last_valid = self.comm_clock()
                self._wd_armed = True
            return self._emit(self.address, body, framing)

    def _emit(self, address: int, body: str, framing: Framing) -> bytes | None:
        f = self.faults
        if f.wrong_address_count > 0 and f.wrong_address is not None:
            f.wrong_address_count -= 1
            address = f.wrong_address
        frame = bytearray(encode_reply(address, body, framing))
        if f.corrupt_replies > 0:
            f.corrupt_replies -= 1
            frame[3] ^= 0x01
        if f.drop_replies > 0:
            f.drop_replies -= 1
            return None
        prefix, f.garbage_before_reply = f.garbage_before_reply, b""
        return prefix + bytes(frame)

    def _execute(self, cmd: str) -> str:
        if cmd == "":
            return self._prompt().value
        name = next((c for c in _COMMANDS if cmd.startswith(c)), None)
        if name is None:
            return self._prompt().value + "?"
        arg = cmd[len(name) :]
        handler: Callable[[str], str | None] = getattr(self, "_cmd_" + name.lower())
        result = handler(arg)
        prompt = self._prompt().value
        if result is None:
            return prompt
        if result.startswith("A?"):
            return result
        return prompt + result

    def _num(self, value: Decimal) -> str:
        return format_reply_number(value, trailing_point=self.trailing_point)

    # Each handler returns None (status only), "?ERR" or the data to append to the prompt.

    def _cmd_ver(self, arg: str) -> str | None:
        return f"NE{self.model_number}{self.firmware}" if arg == "" else "?OOR"

    def _cmd_dia(self, arg: str) -> str | None:
        if arg == "":
            return self._num(self.diameter)
        value = parse_sent_number(arg)
        if value is None or not Decimal("0.1") <= value <= 80:
            return "?OOR"
        if self._run is not _Run.STOPPED:
            return "?NA"
        self.diameter = value
        self.volume_unit = VolumeUnit.UL if value <= 14 else VolumeUnit.ML
        self.infused_nl = self.withdrawn_nl = 0  # [T:labmcp sim] DIS cleared by a DIA change
        return None

    def _cmd_rat(self, arg: str) -> str | None:
        idx = self._run_phase if self._moving() else self._selected
        p = self._phases[idx]
        if arg == "":
            return self._num(p.rate_value) + p.rate_unit.value
        m = _RATE_RE.fullmatch(arg)
        value = parse_sent_number(m[1]) if m else None
        if m is None or value is None:
            return "?OOR"
        unit = RateUnit(m[2]) if m[2] else p.rate_unit
        if self._moving() and unit is not p.rate_unit:
            return "?NA"
        nl_h = int(value * unit.nl_per_h)
        low, high = self.rate_limits_nl_per_h()
        if not low <= nl_h <= high:
            return "?OOR"
        p.rate_value, p.rate_unit = value, unit
        if self._run is _Run.PUMPING:
            self._update()
            self._new_segment(self.clock.now_ns(), nl_h)
        else:
            self._nvm_rates[idx] = (value, unit)
        return None

    def _cmd_vol(self, arg: str) -> str | None:
        p = self._phases[self._selected]
        if arg == "":
            return self._num(p.volume_value) + self.volume_unit.value
        if arg in ("UL", "ML"):
            if self._moving():
                return "?NA"
            self.volume_unit = VolumeUnit(arg)
            return None
        value = parse_sent_number(arg)
        if value is None:
            return "?OOR"
        if self._moving():
            return "?NA"
        p.volume_value = value
        return None

    def _cmd_dir(self, arg: str) -> str | None:
        p = self._phases[self._run_phase if self._moving() else self._selected]
        if arg == "":
            return (self._direction if self._moving() else p.direction).value
        if arg == "STK":
            return "?NA" if self._moving() else None
        if arg == "REV":
            new = Direction.WITHDRAW if p.direction is Direction.INFUSE else Direction.INFUSE
        elif arg in ("INF", "WDR"):
            new = Direction(arg)
        else:
            return "?OOR"
        if self._moving():
            if p.volume_value != 0:
                return "?NA"
            self._update()
            self._direction = new
            self._new_segment(self.clock.now_ns(), self._seg_rate)
        p.direction = new
        return None

    def _cmd_run(self, arg: str) -> str | None:
        start = 1
        if arg:
            value = parse_sent_number(arg)
            if value is None or value != int(value) or not 1 <= value <= MAX_PHASE:
                return "?OOR"
            start = int(value)
        if self._moving():
            return None
        now = self.clock.now_ns()
        if self._run is _Run.PAUSED and not arg:
            self._run = _Run.PUMPING
            self._new_segment(now, self._phases[self._run_phase].rate_nl_per_h)
            return None
        p = self._phases[start]
        low, high = self.rate_limits_nl_per_h()
        if p.function is Phase.RAT and not low <= p.rate_nl_per_h <= high:
            self._run = _Run.STOPPED
            return "A?O"  # reported and acknowledged by this reply
        self._start_phase(start, now)
        self._update()
        return None

    def _cmd_pur(self, arg: str) -> str | None:
        if arg:
            return "?OOR"
        if self._moving():
            return "?NA"
        self._run = _Run.PURGING
        self._direction = self._phases[self._selected].direction
        self._new_segment(self.clock.now_ns(), self.rate_limits_nl_per_h()[1])
        return None

    def _cmd_stp(self, arg: str) -> str | None:
        if arg:
            return "?OOR"
        if self._run is _Run.PUMPING:
            self._run = _Run.PAUSED
        elif self._run in (_Run.PAUSED, _Run.PURGING):
            self._stop_motion()
        return None

    def _cmd_dis(self, arg: str) -> str | None:
        if arg:
            return "?OOR"
        u = self.volume_unit.nl
        inf = Decimal(self.infused_nl) / u
        wdr = Decimal(self.withdrawn_nl) / u
        return f"I{self._num(inf)}W{self._num(wdr)}{self.volume_unit.value}"

    def _cmd_cld(self, arg: str) -> str | None:
        if arg not in ("INF", "WDR"):
            return "?OOR"
        if self._moving():
            return "?NA"
        if arg == "INF":
            self.infused_nl = 0
        else:
            self.withdrawn_nl = 0
        return None

    def _int_arg(self, arg: str, low: int, high: int) -> int | None:
        if not arg.isdigit() or len(arg) > 3:
            return None
        value = int(arg)
        return value if low <= value <= high else None

    def _cmd_saf(self, arg: str) -> str | None:
        if arg == "":
            return str(self.safe_timeout_s)
        value = self._int_arg(arg, 0, 255)
        if value is None:
            return "?OOR"
        self.safe_timeout_s = value
        self._wd_armed = value > 0
        self._last_valid = self.comm_clock()
        return None

    def _cmd_al(self, arg: str) -> str | None:
        if arg == "":
            return str(self.alarm_mode)
        value = self._int_arg(arg, 0, 1)
        if value is None:
            return "?OOR"
        self.alarm_mode = value
        return None

    def _cmd_pf(self, arg: str) -> str | None:
        if arg == "":
            return str(self.power_fail_mode)
        value = self._int_arg(arg, 0, 1)
        if value is None:
            return "?OOR"
        self.power_fail_mode = value
        return None

    def _cmd_buz(self, arg: str) -> str | None:
        if arg == "":
            return str(self.buzzer)
        if arg[0] not in "01" or (len(arg) > 1 and not arg[1:].isdigit()):
            return "?OOR"
        self.buzzer = int(arg[0])
        return None

    def _cmd_phn(self, arg: str) -> str | None:
        if arg == "":
            return str(self._selected)
        value = self._int_arg(arg, 1, MAX_PHASE)
        if value is None:
            return "?OOR"
        if self._moving():
            return "?NA"
        self._selected = value
        return None

    def _cmd_fun(self, arg: str) -> str | None:
        p = self._phases[self._selected]
        if arg == "":
            return p.function.value
        if arg not in Phase.__members__:
            return "?OOR"
        if self._moving():
            return "?NA"
        p.function = Phase(arg)
        return None

    def _cmd_adr(self, arg: str) -> str | None:
        if arg == "":
            return f"{self.address}"
        m = re.fullmatch(r"(\d{1,2})(?:B(\d+))?", arg)
        if m is None or (m[2] is not None and int(m[2]) not in BAUD_RATES):
            return "?OOR"
        self.address = int(m[1])
        return None

    def _cmd_trg(self, arg: str) -> str | None:
        """Operational trigger mode (DB-9 pin 2). Stored and reported; the emulator has no TTL
        edges, so no mode ever starts or stops a program [A]."""
        if arg == "":
            return self.trigger_mode
        if arg not in TRIGGER_MODES:
            return "?OOR"
        self.trigger_mode = arg
        return None

    def _cmd_in(self, arg: str) -> str | None:
        """``IN n``: the TTL level (1 high, 0 low) of input pin n (2, 3, 4 or 6)."""
        value = self._int_arg(arg, 0, 9)
        if value is None or value not in self.ttl_inputs:
            return "?OOR"
        return str(self.ttl_inputs[value])

    def _cmd_out(self, arg: str) -> str | None:
        """``OUT n {0|1}``: set output pin n (5, the program output) [A: query form ``OUT 5``]."""
        m = re.fullmatch(r"(\d)([01])?", arg)
        if m is None or int(m[1]) not in self.ttl_outputs:
            return "?OOR"
        if m[2] is None:
            return str(self.ttl_outputs[int(m[1])])
        self.ttl_outputs[int(m[1])] = int(m[2])
        return None

    def _cmd_reset(self, arg: str) -> str | None:
        if arg:
            return "?OOR"
        self._stop_motion()
        self._phases = [_PhaseData() for _ in range(MAX_PHASE + 1)]
        self._phases[1].function = Phase.RAT
        self._nvm_rates = [(p.rate_value, p.rate_unit) for p in self._phases]
        self._selected = 1
        self.safe_timeout_s = 0
        self._wd_armed = False
        self.address = 0
        return None


class PtyEmulator:
    """Serve a :class:`PumpModel` on a pseudo-terminal. Use as a context manager.

    ``port`` is the slave path (``/dev/pts/N``). The emulator keeps its own slave fd open so that
    clients can close and reopen the port. ``log`` records (direction, bytes) of all traffic.
    """

    def __init__(self, model: PumpModel | None = None, *, poll_s: float = 0.002) -> None:
        self.model = model if model is not None else PumpModel()
        self._poll_s = poll_s
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port: str = os.ttyname(self._slave)
        self._wake_r, self._wake_w = os.pipe()
        self._stop = threading.Event()
        self._parser = RequestParser()
        self._last_byte = 0.0
        self.log: list[_LogEntry] = []
        self._log_lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="newera-emulator", daemon=True)
        self._closed = False
        self._thread.start()

    def __enter__(self) -> PtyEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def received(self) -> list[bytes]:
        with self._log_lock:
            return [e.data for e in self.log if e.direction == "in"]

    def sent(self) -> list[bytes]:
        with self._log_lock:
            return [e.data for e in self.log if e.direction == "out"]

    def _write(self, data: bytes) -> None:
        with self._log_lock:
            self.log.append(_LogEntry("out", data))
        view = memoryview(data)
        deadline = time.monotonic() + 1.0
        while view and time.monotonic() < deadline:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError:
                return
            view = view[n:]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master, self._wake_r], [], [], self._poll_s)
            except (OSError, ValueError):  # pragma: no cover - fds closed under us
                return
            if self._master in ready:
                try:
                    chunk = os.read(self._master, 4096)
                except (BlockingIOError, InterruptedError):
                    chunk = b""
                except OSError:  # pragma: no cover - EIO while no slave is open
                    chunk = b""
                    time.sleep(self._poll_s)
                if chunk:
                    with self._log_lock:
                        self.log.append(_LogEntry("in", chunk))
                    now = self.model.comm_clock()
                    if self._parser.partial and now - self._last_byte > INTER_BYTE_TIMEOUT_S:
                        self._parser.expire()
                    self._last_byte = now
                    for request in self._parser.feed(chunk):
                        reply = self.model.handle(request)
                        if reply:
                            self._write(reply)
            elif self._parser.partial and (
                self.model.comm_clock() - self._last_byte > INTER_BYTE_TIMEOUT_S
            ):
                self._parser.expire()
            for data in self.model.take_outbox():
                self._write(data)


def main(argv: list[str] | None = None) -> int:
    """``python -m itdose.adapters.newera.emulator``: serve one emulated pump on a pty.

    Prints the port path on the first line of stdout, then serves until SIGINT or SIGTERM.
    SIGUSR1 injects a motor stall (``A?S``) and SIGUSR2 a power cycle (``A?R``), so that a
    test or a person can try a fault on a running emulator.
    """
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m itdose.adapters.newera.emulator",
        description="Emulated New Era NE-1000 pump on a pseudo-terminal (prints its port).",
    )
    parser.add_argument("--address", type=int, default=0, help="network address 0-99")
    parser.add_argument(
        "--speed", type=int, default=1, help="pumping clock speed-up (1: real time)"
    )
    parser.add_argument(
        "--diameter", default="4.699", help="syringe inside diameter in mm (default 4.699)"
    )
    args = parser.parse_args(argv)
    diameter = parse_sent_number(args.diameter)
    if not 0 <= args.address <= 99 or args.speed < 1 or diameter is None or diameter <= 0:
        print(
            "emulator: --address 0-99, --speed >= 1, --diameter a positive number", file=sys.stderr
        )
        return 2
    model = PumpModel(address=args.address, clock=ScaledClock(args.speed), diameter_mm=diameter)
    stop = threading.Event()

    def on_stop(signum: int, frame: object) -> None:
        stop.set()

    def on_stall(signum: int, frame: object) -> None:
        model.inject_stall(0)
        print("emulator: motor stall injected", file=sys.stderr, flush=True)

    def on_power(signum: int, frame: object) -> None:
        model.power_cycle()
        print("emulator: power cycled", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGUSR1, on_stall)
    signal.signal(signal.SIGUSR2, on_power)
    with PtyEmulator(model) as emu:
        print(emu.port, flush=True)
        print(
            f"emulator: NE-{model.model_number} at address {model.address} on {emu.port}",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.2):
            pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
