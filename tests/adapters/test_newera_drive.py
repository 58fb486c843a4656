"""NewEraDrive against the PtyEmulator over a real pseudo-terminal (pyserial on /dev/pts/N).

Pumping runs on a ManualClock (time moves only when a test says so: deterministic), the Safe-mode
watchdog on real time. Every test runs under a SIGALRM deadline, so a hang fails instead of
blocking the suite; the drive's own exchanges each have a 0.1 s reply deadline here.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from types import FrameType
from typing import Any

import pytest

pytest.importorskip("serial")

from itdose.adapters.drive import (
    AcknowledgeRefused,
    ConfigError,
    DeliveryCommand,
    Drive,
    DriveClosed,
    DriveConfig,
    DriveProtocolError,
    DriveState,
    DriveUnreachable,
    EndReason,
    FaultCode,
    StartKind,
)
from itdose.adapters.newera.codec import (
    Framing,
    Request,
    RequestError,
    encode_request,
)
from itdose.adapters.newera.drive import NewEraDrive, rate_limits_nl_per_h
from itdose.adapters.newera.emulator import (
    ManualClock,
    Phase,
    PtyEmulator,
    PumpModel,
    ScaledClock,
)

DEADLINE_S = 20


def _timeout(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError(f"test exceeded {DEADLINE_S} s")


@pytest.fixture(autouse=True)
def deadline() -> Iterator[None]:
    old = signal.signal(signal.SIGALRM, _timeout)
    signal.setitimer(signal.ITIMER_REAL, DEADLINE_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[PtyEmulator]:
    with PtyEmulator(PumpModel(clock=clock)) as e:
        yield e


# Replies the tests expect wait up to 2 s of real time: the emulator is a thread of the test's own
# process, and on a loaded machine it once took longer than 0.1 s to answer a status poll (a CI
# failure: "DIS: not a DIS payload"). The tests that make the pump silent or garble its replies
# open their drive with QUICK, so that they still end quickly.
QUICK = 0.1


def open_drive(emu: PtyEmulator, **kwargs: Any) -> NewEraDrive:
    options: dict[str, Any] = {
        "reply_timeout_s": 2.0,
        "retries": 1,
        "watchdog_s": 5,
        "syringe_diameter_um": 4699,
    }
    options.update(kwargs)
    return NewEraDrive.open(emu.port, **options)


@pytest.fixture
def drive(emu: PtyEmulator) -> Iterator[NewEraDrive]:
    d = open_drive(emu)
    yield d
    d.close()


def cmd(cid: str, volume_nl: int = 5_000, rate_nl_per_h: int = 600_000) -> DeliveryCommand:
    return DeliveryCommand(cid, volume_nl, rate_nl_per_h)


def sent_commands(emu: PtyEmulator) -> list[str]:
    """The command data the emulator received (either framing), in order."""
    out: list[str] = []
    for chunk in emu.received():
        from itdose.adapters.newera.codec import RequestParser

        for r in RequestParser().feed(chunk):
            if isinstance(r, Request):
                out.append(r.data)
    return out


# ---------------------------------------------------------------------------- connect


def test_connect_absorbs_reset_forces_safety_settings_and_identifies(emu: PtyEmulator) -> None:
    m = emu.model
    m.power_fail_mode = 1  # left at 1 by someone: must be forced to 0
    m._phases[2].function = Phase.RAT  # a leftover phase 2 would keep pumping
    d = open_drive(emu)
    try:
        assert isinstance(d, Drive)
        assert d.connect_alarms and d.connect_alarms[0].value == "R"
        assert m.safe and m.safe_timeout_s == 5
        assert m.power_fail_mode == 0
        assert m._phases[1].function is Phase.RAT and m._phases[2].function is Phase.STP
        assert m.diameter == Decimal("4.699")
        info = d.identify()
        assert (info.model, info.firmware) == ("NE1000", "V3.928")
        caps = info.capabilities
        assert caps.has_pump_side_watchdog and caps.detects_stall
        assert caps.counters_survive_power_loss is None
        low, high = m.rate_limits_nl_per_h()
        assert low <= caps.min_rate_nl_per_h and caps.max_rate_nl_per_h <= high
        assert (caps.min_rate_nl_per_h, caps.max_rate_nl_per_h) == rate_limits_nl_per_h(4699)
        status = d.poll()
        assert status.state is DriveState.IDLE and status.counter_epoch >= 1
        # first contact: a Safe-framed status query, answered with the power-on alarm
        first = emu.received()[0]
        assert first == encode_request("", address=0, framing=Framing.SAFE)
        assert emu.sent()[0] == b"\x0200A?R\x03"
        cmds = sent_commands(emu)
        for needed in ("0VER", "0SAF5", "0PF0", "0PHN2", "0FUNSTP", "0PHN1"):
            assert needed in cmds, needed
        assert "0RUN" not in cmds
    finally:
        d.close()


def test_reconnect_finds_the_pump_in_safe_mode_and_writes_nothing_unchanged(
    emu: PtyEmulator,
) -> None:
    open_drive(emu).close()
    n = len(emu.received())
    d = open_drive(emu, watchdog_s=5)
    try:
        assert d.poll().state is DriveState.IDLE
        later = sent_commands(emu)[n:]
        writes = [c for c in later if c.startswith(("0SAF", "0PF", "0FUN", "0DIA", "0DIR"))]
        assert set(writes) <= {"0SAF", "0PF", "0FUN", "0DIA", "0DIR"}  # read back, not written
    finally:
        d.close()


def test_bare_numbers_and_basic_mode_bring_up(clock: ManualClock) -> None:
    with PtyEmulator(PumpModel(clock=clock, trailing_point=False)) as emu:
        d = open_drive(emu, watchdog_s=None, syringe_diameter_um=14430)
        try:
            assert not emu.model.safe
            assert not d.identify().capabilities.has_pump_side_watchdog
            assert d.start(cmd("b1", 6_000_000, 6_000_000)).kind is StartKind.ACCEPTED
            clock.advance(seconds=1800)
            s = d.poll()
            assert s.state is DriveState.RUNNING and s.delivered_nl_this_command == 3_000_000
        finally:
            d.close()


def test_no_pump_on_the_port_is_unreachable_within_the_deadline(clock: ManualClock) -> None:
    with PtyEmulator(PumpModel(clock=clock, address=3)) as emu:
        t0 = time.monotonic()
        with pytest.raises(DriveUnreachable) as info:
            open_drive(emu, reply_timeout_s=QUICK)
        assert info.value.status is not None
        assert info.value.status.state is DriveState.UNKNOWN
        assert time.monotonic() - t0 < 1.5


def test_missing_pyserial_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from itdose.adapters.newera import drive as mod

    real = importlib.import_module

    def fake(name: str, *a: Any) -> Any:
        if name == "serial":
            raise ImportError("no serial")
        return real(name, *a)

    monkeypatch.setattr(mod.importlib, "import_module", fake)
    with pytest.raises(mod.SerialUnavailable, match=r"itdose\[serial\]"):
        NewEraDrive.open("/dev/null")


# ---------------------------------------------------------------------------- delivery


def test_start_poll_stop_with_read_back(
    drive: NewEraDrive, emu: PtyEmulator, clock: ManualClock
) -> None:
    r = drive.start(cmd("c1"))  # 5 µL at 600 µL/h: 30 s
    assert r.kind is StartKind.ACCEPTED
    cmds = sent_commands(emu)
    i = cmds.index("0CLDINF")
    tail = cmds[i:]
    for needed in ("0RAT600.0UH", "0VOLUL", "0VOL5.000", "0RAT", "0VOL", "0DIR", "0RUN"):
        assert needed in tail, needed
    assert tail.index("0VOL") < tail.index("0RUN") and tail.count("0RUN") == 1
    clock.advance(seconds=6)
    s = drive.poll()
    assert s.state is DriveState.RUNNING and s.active_command_id == "c1"
    assert (s.commanded_nl, s.rate_nl_per_h, s.delivered_nl_this_command) == (5_000, 600_000, 1_000)
    assert drive.start(cmd("c1")).kind is StartKind.ACCEPTED  # same command: idempotent
    assert drive.start(cmd("c9")).kind is StartKind.REJECTED  # busy
    s = drive.stop()
    assert s.state is DriveState.IDLE and emu.model.prompt().value == "S"
    assert s.last_outcome is not None
    assert (s.last_outcome.reason, s.last_outcome.delivered_nl) == (EndReason.STOPPED, 1_000)
    assert s.delivered_nl_total == 1_000
    assert drive.stop().state is DriveState.IDLE  # idempotent
    # a second command runs to completion
    assert drive.start(cmd("c2")).kind is StartKind.ACCEPTED
    clock.advance(seconds=40)
    s = drive.poll()
    assert s.state is DriveState.IDLE and s.last_outcome is not None
    assert s.last_outcome.reason is EndReason.COMPLETED and s.last_outcome.command_id == "c2"
    assert s.delivered_nl_total == 6_000
    assert drive.start(cmd("c1")).kind is StartKind.REJECTED  # ids are never executed twice


def test_volume_is_rounded_down_and_rate_up(
    drive: NewEraDrive, emu: PtyEmulator, clock: ManualClock
) -> None:
    r = drive.start(DeliveryCommand("big", 12_345_678, 10_000_001))
    assert r.kind is StartKind.ACCEPTED
    s = drive.poll()
    assert s.commanded_nl == 12_340_000  # 12.34 mL: never above the order
    assert s.rate_nl_per_h >= 10_000_001
    clock.advance(seconds=2 * 3600)
    s = drive.poll()
    assert s.last_outcome is not None and s.last_outcome.reason is EndReason.COMPLETED
    assert s.last_outcome.delivered_nl == 12_340_000 <= 12_345_678


def test_validation_happens_before_touching_the_device(
    drive: NewEraDrive, emu: PtyEmulator
) -> None:
    n = len(emu.received())
    low, high = rate_limits_nl_per_h(4699)
    assert drive.start(cmd("slow", rate_nl_per_h=low - 1)).kind is StartKind.REJECTED
    assert drive.start(cmd("fast", rate_nl_per_h=high + 1)).kind is StartKind.REJECTED
    assert len(emu.received()) == n
    with pytest.raises(ConfigError):
        drive.configure(DriveConfig(watchdog_timeout_s=7200))
    assert len(emu.received()) == n


class RejectingModel(PumpModel):
    """A pump that answers ?OOR to any rate write."""

    def _cmd_rat(self, arg: str) -> str | None:
        return "?OOR" if arg else super()._cmd_rat(arg)


def test_pump_rejection_is_command_rejected_and_nothing_moves(clock: ManualClock) -> None:
    with PtyEmulator(RejectingModel(clock=clock)) as emu:
        d = open_drive(emu)
        try:
            r = d.start(cmd("r1"))
            assert r.kind is StartKind.REJECTED and "?OOR" in r.reason
            assert "0RUN" not in sent_commands(emu)
            assert d.poll().state is DriveState.IDLE
        finally:
            d.close()


def test_configure_sets_diameter_and_watchdog_with_read_back(
    drive: NewEraDrive, emu: PtyEmulator
) -> None:
    before = drive.poll().counter_epoch
    drive.configure(DriveConfig(watchdog_timeout_s=8, syringe_diameter_um=8585))
    assert emu.model.safe_timeout_s == 8 and emu.model.diameter == Decimal("8.585")
    assert drive.poll().counter_epoch == before + 1  # a DIA write clears the pump's counter
    assert drive.identify().capabilities.min_rate_nl_per_h == rate_limits_nl_per_h(8585)[0]


# ---------------------------------------------------------------------------- faults


def test_stall_mid_delivery_reports_the_partial_volume(
    drive: NewEraDrive, emu: PtyEmulator, clock: ManualClock
) -> None:
    drive.start(cmd("s1"))
    clock.advance(seconds=6)
    emu.model.inject_stall(after_nl=1_234)
    clock.advance(seconds=60)
    s = drive.poll()
    assert s.state is DriveState.FAULT and s.fault is FaultCode.OCCLUSION_OR_STALL
    out = s.last_outcome
    assert out is not None and out.reason is EndReason.FAULTED and out.partial
    assert out.delivered_nl == 2_234 == s.delivered_nl_this_command
    assert s.delivered_nl_total == 2_234
    assert drive.start(cmd("s2")).kind is StartKind.REJECTED  # latched
    with pytest.raises(AcknowledgeRefused):
        drive.acknowledge(FaultCode.DEVICE_RESET)
    drive.acknowledge(FaultCode.OCCLUSION_OR_STALL)
    assert drive.poll().state is DriveState.IDLE
    assert drive.start(cmd("s2")).kind is StartKind.ACCEPTED


@pytest.mark.parametrize("survive", [False, True])
def test_power_cycle_changes_epoch_and_never_reissues(survive: bool, clock: ManualClock) -> None:
    with PtyEmulator(PumpModel(clock=clock, counters_survive_power_cycle=survive)) as emu:
        d = open_drive(emu)
        try:
            totals = [d.poll().delivered_nl_total]
            d.start(cmd("p1", 20_000))
            clock.advance(seconds=6)
            s = d.poll()
            totals.append(s.delivered_nl_total)
            epoch = s.counter_epoch
            assert s.delivered_nl_this_command == 1_000
            clock.advance(seconds=6)  # 1 µL more, never read: lost with the reset
            emu.model.power_cycle()
            runs_before = sent_commands(emu).count("0RUN")
            s = d.poll()
            totals.append(s.delivered_nl_total)
            assert s.state is DriveState.FAULT and s.fault is FaultCode.DEVICE_RESET
            assert s.counter_epoch > epoch
            out = s.last_outcome
            assert out is not None and out.fault is FaultCode.DEVICE_RESET
            assert out.bounds == (1_000, 20_000)
            clock.advance(seconds=60)
            totals.append(d.poll().delivered_nl_total)
            assert sent_commands(emu).count("0RUN") == runs_before  # no automatic re-issue
            assert emu.model.prompt().value == "S"
            d.acknowledge(FaultCode.DEVICE_RESET)
            r = d.start(cmd("p2"))
            assert r.kind is StartKind.REJECTED and "configure" in r.reason
            d.configure(DriveConfig(watchdog_timeout_s=5))
            assert d.start(cmd("p2")).kind is StartKind.ACCEPTED
            clock.advance(seconds=60)
            totals.append(d.poll().delivered_nl_total)
            assert totals == sorted(totals)
            assert totals[-1] == 1_000 + 5_000
        finally:
            d.close()


def test_watchdog_stops_the_pump_when_the_host_goes_quiet(
    emu: PtyEmulator, clock: ManualClock
) -> None:
    d = open_drive(emu, watchdog_s=1)
    try:
        d.start(cmd("w1", 20_000))
        clock.advance(seconds=6)
        assert d.poll().delivered_nl_this_command == 1_000
        time.sleep(1.25)  # the host is silent longer than SAF 1 (real time)
        clock.advance(seconds=60)
        s = d.poll()
        assert s.state is DriveState.FAULT and s.fault is FaultCode.WATCHDOG_STOPPED
        assert s.last_outcome is not None and s.last_outcome.delivered_nl == 1_000
        assert any("A?T" in line for line in d.log)
    finally:
        d.close()


@pytest.mark.parametrize("fault", ["crc", "garbage", "wrong_address"])
def test_untrustworthy_reply_is_a_protocol_error_after_a_status_re_read(
    fault: str, drive: NewEraDrive, emu: PtyEmulator, clock: ManualClock
) -> None:
    drive.start(cmd("g1"))
    clock.advance(seconds=6)
    if fault == "crc":
        emu.model.corrupt_replies(1)
    elif fault == "garbage":
        emu.model.garbage_before_next_reply(b"\xff\x13junk")
    else:
        emu.model.reply_from_address(7)
    with pytest.raises(DriveProtocolError) as info:
        drive.poll()
    assert info.value.fault is FaultCode.PROTOCOL_ERROR
    s = info.value.status
    assert s is not None and s.state is DriveState.RUNNING  # re-read after the error
    assert s.delivered_nl_this_command == 1_000
    assert drive.poll().state is DriveState.RUNNING  # the link is in step again


def test_silence_is_unknown_then_a_stop_attempt(
    drive: NewEraDrive, emu: PtyEmulator, clock: ManualClock
) -> None:
    drive.reply_timeout_s = QUICK  # the pump falls silent below: each query waits this long
    drive.start(cmd("u1"))
    clock.advance(seconds=6)
    drive.poll()
    emu.model.set_dead(True)
    n = len(emu.received())
    t0 = time.monotonic()
    with pytest.raises(DriveUnreachable) as info:
        drive.poll()
    assert time.monotonic() - t0 < 1.0
    assert info.value.fault is FaultCode.COMM_TIMEOUT
    s = info.value.status
    assert s is not None and s.state is DriveState.UNKNOWN and s.active_command_id == "u1"
    assert s.delivered_bounds_nl == (1_000, 5_000)
    assert drive.stop_attempts == 1
    assert "0STP" in sent_commands(emu)[-3:] and len(emu.received()) > n
    with pytest.raises(DriveUnreachable):
        drive.stop()
    emu.model.set_dead(False)
    s = drive.stop()
    assert s.state is DriveState.IDLE and s.last_outcome is not None
    assert s.last_outcome.reason is EndReason.STOPPED


class LosesRunReply(PumpModel):
    """Executes RUN but its reply is lost (``execute=True``), or loses RUN altogether."""

    execute = True

    def handle(self, request: Request | RequestError) -> bytes | None:
        if isinstance(request, Request) and request.data.endswith("RUN"):
            if not self.execute:
                return None
            self.drop_replies(1)
        return super().handle(request)


@pytest.mark.parametrize("execute", [True, False])
def test_lost_run_reply_is_reconciled_never_resent(execute: bool, clock: ManualClock) -> None:
    model = LosesRunReply(clock=clock)
    model.execute = execute
    with PtyEmulator(model) as emu:
        d = open_drive(emu, reply_timeout_s=QUICK)
        try:
            r = d.start(cmd("l1"))
            assert sent_commands(emu).count("0RUN") == 1
            s = d.poll()
            if execute:
                assert r.kind is StartKind.ACCEPTED and s.state is DriveState.RUNNING
                assert s.active_command_id == "l1"
            else:
                assert r.kind is StartKind.UNCERTAIN and "not started" in r.reason
                assert s.state is DriveState.IDLE and s.active_command_id is None
                assert s.last_outcome is None
                assert d.start(cmd("l1")).kind is StartKind.REJECTED  # the id is spent
        finally:
            d.close()


def test_closed_drive_refuses_everything(emu: PtyEmulator) -> None:
    d = open_drive(emu)
    d.close()
    d.close()
    with pytest.raises(DriveClosed):
        d.poll()
    with pytest.raises(DriveClosed):
        d.start(cmd("x"))


def test_accelerated_clock_with_real_time_heartbeat() -> None:
    with PtyEmulator(PumpModel(clock=ScaledClock(3600))) as emu:
        d = open_drive(emu, watchdog_s=1)
        try:
            d.start(DeliveryCommand("a1", 1_000_000, 60_000))  # 60 µL/h: 1 µL per real second
            seen = []
            for _ in range(6):
                time.sleep(0.25)  # heartbeat well inside SAF 1
                s = d.poll()
                assert s.state is DriveState.RUNNING
                seen.append(s.delivered_nl_total)
            assert seen == sorted(seen) and seen[-1] > seen[0]
            s = d.stop()
            assert s.state is DriveState.IDLE and s.delivered_nl_total >= seen[-1]
        finally:
            d.close()
