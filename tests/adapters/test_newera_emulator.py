"""The New Era emulator over a real pseudo-terminal, driven with pyserial and the codec."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import serial  # type: ignore[import-untyped]

from itdose.adapters.newera.codec import (
    Alarm,
    AlarmReply,
    CommandError,
    ErrorReply,
    Event,
    Framing,
    Prompt,
    ProtocolError,
    ProtocolErrorKind,
    ReplyParser,
    StatusReply,
    VolumeUnit,
    decode_dispensed,
    decode_rate,
    decode_version,
    decode_volume,
    encode_request,
)
from itdose.adapters.newera.emulator import ManualClock, PtyEmulator, PumpModel, ScaledClock


class Host:
    """A minimal host: pyserial on the slave path plus the codec's ReplyParser."""

    def __init__(self, port: str, address: int = 0, timeout: float = 0.5) -> None:
        self.serial = serial.Serial(port, 19200, timeout=0.02)
        self.address = address
        self.timeout = timeout
        self.parser = ReplyParser(expected_address=address)
        self.events: list[Event] = []

    @property
    def framing(self) -> Framing:
        return self.parser.framing

    def send(self, command: str, framing: Framing | None = None) -> None:
        self.parser.note_request()
        self.serial.write(
            encode_request(command, address=self.address, framing=framing or self.framing)
        )

    def read_event(self, timeout: float | None = None) -> Event | None:
        """Next event, or None after ``timeout`` of silence (the parser is then flushed)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.events:
            if time.monotonic() > deadline:
                self.events.extend(self.parser.flush())
                break
            chunk = self.serial.read(1)
            if chunk and self.serial.in_waiting:
                chunk += self.serial.read(self.serial.in_waiting)
            self.events.extend(self.parser.feed(chunk))
        return self.events.pop(0) if self.events else None

    def ask(self, command: str, framing: Framing | None = None) -> Event:
        self.send(command, framing)
        ev = self.read_event()
        assert ev is not None, f"no reply to {command!r}"
        return ev

    def ok(self, command: str) -> StatusReply:
        ev = self.ask(command)
        assert isinstance(ev, StatusReply), ev
        return ev

    def dis_nl(self) -> int:
        return decode_dispensed(self.ok("DIS").data).infused_nl

    def leave_safe_mode(self) -> None:
        """``SAF0`` goes out Safe-framed; its reply comes back in Basic framing."""
        self.parser.framing = Framing.BASIC
        self.send("SAF0", framing=Framing.SAFE)
        ev = self.read_event()
        assert isinstance(ev, StatusReply) and ev.data == "", ev

    def close(self) -> None:
        self.serial.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[PtyEmulator]:
    with PtyEmulator(PumpModel(clock=clock)) as e:
        yield e


@pytest.fixture
def host(emu: PtyEmulator) -> Iterator[Host]:
    h = Host(emu.port)
    ev = h.ask("")  # acknowledge the power-on alarm
    assert isinstance(ev, AlarmReply) and ev.alarm is Alarm.RESET
    yield h
    h.close()


def configure(host: Host, rate: str = "600.0UH", volume: str = "5.000") -> None:
    for cmd in ["DIA4.699", "DIRINF", "RAT" + rate, "VOL" + volume, "CLDINF"]:
        assert host.ok(cmd).data == ""


def test_basic_exchange_first_command_is_not_executed(emu: PtyEmulator) -> None:
    h = Host(emu.port)
    try:
        first = h.ask("DIA10.00")
        assert isinstance(first, AlarmReply) and first.alarm is Alarm.RESET
        assert h.ok("DIA").data == "4.699"  # the alarmed command did not take effect
        v = decode_version(h.ok("VER").data)
        assert (v.model, v.major, v.minor) == (1000, 3, 928)
        h.parser.note_request()
        h.serial.write(b"0 dia 10\r")  # lower case and spaces are normalised by the pump
        ev = h.read_event()
        assert isinstance(ev, StatusReply) and ev.data == ""
        assert h.ok("DIA").data == "10.00"
        assert emu.received()[0] == b"0DIA10.00\r"
        assert emu.sent()[0] == b"\x0200A?R\x03"
    finally:
        h.close()


def test_other_address_stays_silent_and_system_command_answers(emu: PtyEmulator) -> None:
    h = Host(emu.port, address=5, timeout=0.15)
    try:
        h.send("VER")
        assert h.read_event() is None
        h.parser.expected_address = 0
        h.address = None  # type: ignore[assignment]
        ev = h.ask("*ADR")
        assert isinstance(ev, AlarmReply)  # the power-on alarm, acknowledged by *ADR
        assert h.ok("*ADR").data == "0"
    finally:
        h.close()


def test_errors_from_the_pump(host: Host) -> None:
    cases = {
        "XYZ": CommandError.NOT_RECOGNIZED,
        "RAT1.23456MM": CommandError.OUT_OF_RANGE,
        "RAT100MM": CommandError.OUT_OF_RANGE,  # above the 4.699 mm syringe's maximum
        "SAF256": CommandError.OUT_OF_RANGE,
        "CLD": CommandError.OUT_OF_RANGE,
    }
    for cmd, error in cases.items():
        ev = host.ask(cmd)
        assert isinstance(ev, ErrorReply) and ev.error is error, cmd
    configure(host, volume="0")
    assert host.ok("RUN").prompt is Prompt.INFUSING
    for cmd in ["DIA10", "CLDINF", "RAT1.000MH"]:
        ev = host.ask(cmd)
        assert isinstance(ev, ErrorReply) and ev.error is CommandError.NOT_APPLICABLE, cmd
        assert ev.prompt is Prompt.INFUSING


def test_run_stop_and_dis_increasing(host: Host, clock: ManualClock) -> None:
    configure(host, rate="600.0UH", volume="5.000")  # 10 µL/min, 5 µL -> 30 s
    assert decode_rate(host.ok("RAT").data) == (600_000, decode_rate("1UH")[1])
    assert decode_volume(host.ok("VOL").data) == (5_000, VolumeUnit.UL)
    assert host.ok("RUN").prompt is Prompt.INFUSING
    seen = [host.dis_nl()]
    for _ in range(3):
        clock.advance(seconds=6)
        seen.append(host.dis_nl())
    assert seen == [0, 1_000, 2_000, 3_000]
    assert host.ok("STP").prompt is Prompt.PAUSED
    clock.advance(seconds=60)
    assert host.dis_nl() == 3_000  # nothing moves while paused
    assert host.ok("RUN").prompt is Prompt.INFUSING  # resume the phase
    clock.advance(seconds=60)
    assert host.ok("").prompt is Prompt.STOPPED  # phase complete
    assert host.dis_nl() == 5_000
    assert host.ok("STP").prompt is Prompt.STOPPED


def test_second_stp_stops_and_resets_the_program(host: Host, clock: ManualClock) -> None:
    configure(host)
    host.ok("RUN")
    clock.advance(seconds=3)
    assert host.ok("STP").prompt is Prompt.PAUSED
    assert host.ok("STP").prompt is Prompt.STOPPED
    host.ok("RUN")  # a new run of the whole phase
    clock.advance(seconds=30)
    assert host.dis_nl() == 500 + 5_000


def test_program_phase_two_continues_unless_stp(host: Host, clock: ManualClock) -> None:
    configure(host, rate="600.0UH", volume="1.000")
    for cmd in ["PHN2", "FUNRAT", "RAT60.00UH", "VOL2.000", "PHN1"]:
        host.ok(cmd)
    assert host.ok("PHN").data == "1"
    host.ok("RUN")
    clock.advance(seconds=6)  # phase 1 done at 6 s; phase 2 runs at 1 µL/min
    clock.advance(seconds=60)
    assert host.dis_nl() == 2_000
    assert host.ok("").prompt is Prompt.INFUSING
    clock.advance(seconds=120)
    assert host.ok("").prompt is Prompt.STOPPED and host.dis_nl() == 3_000
    host.ok("PHN2")
    assert host.ok("FUN").data == "RAT"


def test_run_with_out_of_range_phase_raises_program_alarm(host: Host) -> None:
    ev = host.ask("RAT0.050UH")  # below the 0.73 µL/h minimum of a 4.699 mm syringe
    assert isinstance(ev, ErrorReply) and ev.error is CommandError.OUT_OF_RANGE
    ev = host.ask("RUN")  # phase 1 still has rate 0: out of range
    assert isinstance(ev, AlarmReply) and ev.alarm is Alarm.OUT_OF_RANGE
    assert host.ok("").prompt is Prompt.STOPPED


def test_stall_mid_delivery_gives_alarm_and_partial_dis(
    host: Host, emu: PtyEmulator, clock: ManualClock
) -> None:
    configure(host, rate="600.0UH", volume="5.000")
    host.ok("RUN")
    clock.advance(seconds=6)
    emu.model.inject_stall(after_nl=1_234)
    clock.advance(seconds=60)
    ev = host.ask("DIS")  # not executed: the reply is the alarm
    assert isinstance(ev, AlarmReply) and ev.alarm is Alarm.STALL
    assert host.ok("").prompt is Prompt.STOPPED  # acknowledged
    assert host.dis_nl() == 1_000 + 1_234  # partial delivery, stopped at the stall


@pytest.mark.parametrize("survive", [False, True])
def test_power_cycle_resets_alarm_and_counters(survive: bool, clock: ManualClock) -> None:
    with PtyEmulator(PumpModel(clock=clock, counters_survive_power_cycle=survive)) as emu:
        h = Host(emu.port)
        try:
            h.ask("")
            configure(h, rate="600.0UH", volume="0")
            h.ok("RUN")
            h.ok("RAT1200UH")  # a rate change while pumping is not saved to NVM
            clock.advance(seconds=12)
            assert h.dis_nl() == 4_000
            emu.model.power_cycle()
            ev = h.ask("RUN")
            assert isinstance(ev, AlarmReply) and ev.alarm is Alarm.RESET
            assert h.ok("").prompt is Prompt.STOPPED  # the RUN was not executed
            clock.advance(seconds=60)
            assert h.dis_nl() == (4_000 if survive else 0)
            assert h.ok("RAT").data == "600.0UH"
        finally:
            h.close()


def test_safe_mode_watchdog_stops_pumping_when_host_goes_quiet(
    host: Host, clock: ManualClock
) -> None:
    configure(host, rate="600.0UH", volume="0")
    host.parser.framing = Framing.SAFE
    assert host.ok("SAF1").data == ""
    assert host.ok("SAF").data == "1"
    assert host.ok("RUN").prompt is Prompt.INFUSING
    clock.advance(seconds=6)
    t0 = time.monotonic()
    auto = host.read_event(timeout=1.8)  # the host stays quiet
    assert isinstance(auto, AlarmReply), auto
    assert auto.alarm is Alarm.SAFE_TIMEOUT and not auto.solicited
    assert 0.9 < time.monotonic() - t0 < 1.6
    clock.advance(seconds=60)  # pumping stopped: no more volume
    ev = host.ask("DIS")
    assert isinstance(ev, AlarmReply) and ev.alarm is Alarm.SAFE_TIMEOUT and ev.solicited
    assert host.dis_nl() == 1_000
    host.leave_safe_mode()


def test_safe_mode_heartbeat_keeps_pump_running_on_accelerated_clock() -> None:
    # 3600x physics: the watchdog must stay on real time or SAF1 would expire in < 1 ms.
    with PtyEmulator(PumpModel(clock=ScaledClock(3600), powered_on=False)) as emu:
        h = Host(emu.port)
        try:
            h.parser.framing = Framing.SAFE
            h.ok("SAF1")
            configure(h, rate="60.00UH", volume="0")
            h.ok("RUN")
            before = h.dis_nl()
            for _ in range(4):
                time.sleep(0.25)
                assert h.ok("").prompt is Prompt.INFUSING
            after = h.dis_nl()
            assert after > before  # ~1 s real = 1 h simulated = 60 µL
            assert 30_000 < after - before < 200_000
            h.leave_safe_mode()
        finally:
            h.close()


def test_safe_mode_bad_crc_request_gets_com_error_and_basic_packets_are_ignored(
    host: Host,
) -> None:
    host.parser.framing = Framing.SAFE
    host.ok("SAF5")
    frame = bytearray(encode_request("VER", address=0, framing=Framing.SAFE))
    frame[-2] ^= 0x55
    host.parser.note_request()
    host.serial.write(bytes(frame))
    ev = host.read_event()
    assert isinstance(ev, ErrorReply) and ev.error is CommandError.COMMUNICATION
    host.send("VER", framing=Framing.BASIC)
    assert host.read_event(timeout=0.15) is None
    host.leave_safe_mode()


def test_safe_mode_inter_byte_timeout_discards_half_packet(host: Host) -> None:
    host.parser.framing = Framing.SAFE
    host.ok("SAF5")
    frame = encode_request("VER", address=0, framing=Framing.SAFE)
    host.serial.write(frame[:4])
    time.sleep(0.6)
    v = decode_version(host.ok("VER").data)
    assert v.model == 1000
    host.leave_safe_mode()


def test_safe_mode_corrupted_reply_is_a_crc_error(host: Host, emu: PtyEmulator) -> None:
    host.parser.framing = Framing.SAFE
    host.ok("SAF5")
    emu.model.corrupt_replies(1)
    ev = host.ask("VER")
    assert isinstance(ev, ProtocolError) and ev.kind is ProtocolErrorKind.BAD_CRC
    assert decode_version(host.ok("VER").data).model == 1000
    host.leave_safe_mode()


def test_garbage_silence_and_wrong_address_are_handled_by_the_parser(
    host: Host, emu: PtyEmulator
) -> None:
    emu.model.garbage_before_next_reply(b"\xff\x13junk")
    ev = host.ask("VER")
    assert isinstance(ev, ProtocolError) and ev.kind is ProtocolErrorKind.GARBAGE
    nxt = host.read_event()
    assert isinstance(nxt, StatusReply) and nxt.data.startswith("NE1000")

    emu.model.drop_replies(1)
    host.send("DIA3.000")  # executed, reply lost
    assert host.read_event(timeout=0.15) is None
    assert host.ok("DIA").data == "3.000"

    emu.model.set_dead(True)
    host.send("VER")
    assert host.read_event(timeout=0.15) is None
    emu.model.set_dead(False)

    emu.model.reply_from_address(7)
    ev = host.ask("VER")
    assert isinstance(ev, ProtocolError) and ev.kind is ProtocolErrorKind.WRONG_ADDRESS
    assert ev.reply is not None and ev.reply.address == 7


def test_partial_frame_then_silence_is_truncated(host: Host, emu: PtyEmulator) -> None:
    emu.model.inject_garbage(b"\x0200S")
    ev = host.read_event(timeout=0.2)
    assert isinstance(ev, ProtocolError) and ev.kind is ProtocolErrorKind.TRUNCATED
    assert ev.raw == b"\x0200S"


def test_dia_change_resets_counters_and_sets_units(host: Host, clock: ManualClock) -> None:
    configure(host, rate="600.0UH", volume="0")
    host.ok("RUN")
    clock.advance(seconds=6)
    host.ok("STP")
    host.ok("STP")
    assert host.dis_nl() == 1_000
    host.ok("DIA14.43")
    dis = decode_dispensed(host.ok("DIS").data)
    assert (dis.infused_nl, dis.unit) == (0, VolumeUnit.ML)
    host.ok("DIA14.00")
    assert decode_dispensed(host.ok("DIS").data).unit is VolumeUnit.UL


def test_bare_number_style(clock: ManualClock) -> None:
    with PtyEmulator(PumpModel(clock=clock, trailing_point=False, powered_on=False)) as emu:
        h = Host(emu.port)
        try:
            h.ok("DIA14.43")
            h.ok("RAT6000UH")
            assert h.ok("RAT").data == "6000UH"
            assert decode_rate(h.ok("RAT").data)[0] == 6_000_000
        finally:
            h.close()


def test_reconnect_and_clean_shutdown(clock: ManualClock) -> None:
    emu = PtyEmulator(PumpModel(clock=clock, powered_on=False))
    fds = (emu._master, emu._slave)
    for _ in range(2):
        h = Host(emu.port)
        assert decode_version(h.ok("VER").data).model == 1000
        h.close()
    emu.close()
    assert not emu._thread.is_alive()
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)
    emu.close()  # idempotent
