"""Cross-check: nesp-lib 2.0 (an independent New Era client) drives our emulator over a pty.

nesp-lib sets no serial time-out, so every call runs in a thread joined with a deadline; a call
that does not finish fails the test instead of hanging it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

nesp_lib = pytest.importorskip("nesp_lib")

from itdose.adapters.newera.codec import (  # noqa: E402
    Framing,
    RateUnit,
    decode_rate,
    encode_request,
)
from itdose.adapters.newera.emulator import ManualClock, PtyEmulator, PumpModel  # noqa: E402

T = TypeVar("T")
DEADLINE_S = 1.5


def guarded(fn: Callable[[], T], timeout: float = DEADLINE_S) -> T:
    """Run ``fn`` in a daemon thread; fail if it does not return within ``timeout``."""
    result: list[Any] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:  # re-raised in the test thread
            error.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"nesp-lib call did not return within {timeout} s (no serial time-out)")
    if error:
        raise error[0]
    return result[0]  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emu(clock: ManualClock) -> Iterator[PtyEmulator]:
    with PtyEmulator(PumpModel(clock=clock)) as e:
        yield e


@pytest.fixture
def pump(emu: PtyEmulator) -> Iterator[Any]:
    port = guarded(lambda: nesp_lib.Port(emu.port, 19200))
    try:
        yield guarded(lambda: nesp_lib.Pump(port))
    finally:
        port.close()


def test_basic_mode_init_absorbs_power_on_alarm_and_reads_version(
    pump: Any, emu: PtyEmulator
) -> None:
    assert pump.model_number == 1000
    assert pump.firmware_version == (3, 928)
    # nesp-lib sends SAF0 Safe-framed, gets A?R (not executed), resends, then VER in Basic.
    safe_saf0 = encode_request("SAF0", address=0, framing=Framing.SAFE)
    assert emu.received()[:3] == [safe_saf0, safe_saf0, b"0VER\r"]
    assert emu.sent()[:2] == [b"\x0200A?R\x03", b"\x0200S\x03"]


def test_settings_round_trip_through_nesp_lib(pump: Any, emu: PtyEmulator) -> None:
    def work() -> tuple[float, float, float, Any]:
        pump.syringe_diameter_mm = 4.699
        pump.pumping_direction = nesp_lib.PumpingDirection.INFUSE
        pump.pumping_volume_ml = 0.005
        pump.pumping_rate_ml_per_min = 0.01
        return (
            pump.syringe_diameter_mm,
            pump.pumping_volume_ml,
            pump.pumping_rate_ml_per_min,
            pump.pumping_direction,
        )

    dia, vol, rate, direction = guarded(work)
    assert dia == pytest.approx(4.699)
    assert vol == pytest.approx(0.005)
    assert rate == pytest.approx(0.01)
    assert direction is nesp_lib.PumpingDirection.INFUSE
    # What nesp-lib put on the wire, as our codec would frame it.
    # nesp-lib picks UL below 10 mL, UH below 0.1667 mL/min, and sends integers without a point.
    assert emu.received()[3:8] == [
        b"0DIA4.699\r",
        b"0DIRINF\r",
        b"0VOLUL\r",
        b"0VOL5\r",
        b"0RAT600UH\r",
    ]
    assert emu.model.rate_limits_nl_per_h()[0] <= 600_000


def test_run_dis_stall_and_reset_through_nesp_lib(
    pump: Any, emu: PtyEmulator, clock: ManualClock
) -> None:
    def setup() -> None:
        pump.syringe_diameter_mm = 4.699
        pump.pumping_volume_ml = 0.005
        pump.pumping_rate_ml_per_min = 0.01
        pump.volume_infused_clear()
        pump.run(wait_while_running=False)

    guarded(setup)
    assert guarded(lambda: pump.status) is nesp_lib.Status.INFUSING
    clock.advance(seconds=6)
    assert guarded(lambda: pump.volume_infused_ml) == pytest.approx(0.001)
    emu.model.inject_stall(after_nl=500)
    clock.advance(seconds=60)
    with pytest.raises(nesp_lib.StatusAlarmException) as info:
        guarded(lambda: pump.volume_infused_ml)
    assert info.value.alarm_status is nesp_lib.AlarmStatus.STALLED
    assert guarded(lambda: pump.volume_infused_ml) == pytest.approx(0.0015)  # partial
    assert guarded(lambda: pump.running) is False
    emu.model.power_cycle()
    with pytest.raises(nesp_lib.StatusAlarmException) as info:
        guarded(lambda: pump.status)
    assert info.value.alarm_status is nesp_lib.AlarmStatus.RESET
    assert guarded(lambda: pump.volume_infused_ml) == 0.0


def test_run_to_completion_and_stop_through_nesp_lib(
    pump: Any, emu: PtyEmulator, clock: ManualClock
) -> None:
    def setup() -> None:
        pump.syringe_diameter_mm = 4.699
        pump.pumping_volume_ml = 0.002
        pump.pumping_rate_ml_per_min = 0.01
        pump.run(wait_while_running=False)

    guarded(setup)
    clock.advance(seconds=60)
    guarded(pump.wait_while_running)
    assert guarded(lambda: pump.volume_infused_ml) == pytest.approx(0.002)
    guarded(lambda: pump.run(wait_while_running=False))
    clock.advance(seconds=3)
    guarded(lambda: pump.stop(wait_while_running=True))  # first STP pauses
    assert guarded(lambda: pump.status) is nesp_lib.Status.PAUSED
    assert guarded(lambda: pump.volume_infused_ml) == pytest.approx(0.0025)


def test_errors_map_to_nesp_lib_exceptions(pump: Any, emu: PtyEmulator) -> None:
    with pytest.raises(ValueError):
        guarded(lambda: setattr(pump, "pumping_rate_ml_per_min", 5.0))  # ?OOR: above max
    guarded(lambda: setattr(pump, "pumping_rate_ml_per_min", 0.01))
    guarded(lambda: setattr(pump, "pumping_volume_ml", 0.005))
    guarded(lambda: pump.run(wait_while_running=False))
    with pytest.raises(nesp_lib.StateException):  # ?NA: DIA while running
        guarded(lambda: setattr(pump, "syringe_diameter_mm", 10.0))
    emu.model.reply_from_address(3)
    with pytest.raises(nesp_lib.AddressException):
        guarded(lambda: pump.status)


def test_safe_mode_with_heartbeat_and_back_to_basic(pump: Any, emu: PtyEmulator) -> None:
    guarded(lambda: setattr(pump, "safe_mode_timeout_s", 1))
    assert emu.model.safe_timeout_s == 1
    assert guarded(lambda: pump.safe_mode_timeout_s) == 1
    status_query = encode_request("", address=0, framing=Framing.SAFE)
    assert status_query == b"\x02\x0506S\x03"
    n = len(emu.received())
    threading.Event().wait(1.3)  # idle: nesp-lib's heartbeat (every 0.5 s) keeps the pump alive
    assert emu.received()[n:].count(status_query) >= 2
    assert guarded(lambda: pump.status) is nesp_lib.Status.STOPPED  # no A?T
    emu.model.corrupt_replies(1)
    with pytest.raises(nesp_lib.ChecksumReplyException):
        guarded(lambda: pump.status)
    guarded(lambda: setattr(pump, "safe_mode_timeout_s", 0))
    assert emu.model.safe_timeout_s == 0
    assert guarded(lambda: pump.syringe_diameter_mm) == pytest.approx(4.699)
    assert emu.received()[-1] == b"0DIA\r"  # Basic framing again


@pytest.mark.parametrize("trailing_point", [True, False])
def test_nesp_lib_requires_the_trailing_point(clock: ManualClock, trailing_point: bool) -> None:
    # docs/hardware.md#protocol-numbers: nesp-lib's reply regex needs "6000.UH"; our decoder takes
    # both forms.
    with PtyEmulator(PumpModel(clock=clock, trailing_point=trailing_point)) as emu:
        port = guarded(lambda: nesp_lib.Port(emu.port, 19200))
        try:
            pump = guarded(lambda: nesp_lib.Pump(port))
            guarded(lambda: setattr(pump, "syringe_diameter_mm", 14.43))
            guarded(lambda: setattr(pump, "pumping_rate_ml_per_min", 0.1))  # sent as 6000 UH
            assert b"0RAT6000UH\r" in emu.received()
            if trailing_point:
                assert guarded(lambda: pump.pumping_rate_ml_per_min) == pytest.approx(0.1)
                assert emu.sent()[-1] == b"\x0200S6000.UH\x03"
            else:
                with pytest.raises(nesp_lib.InternalException):
                    guarded(lambda: pump.pumping_rate_ml_per_min)
                assert emu.sent()[-1] == b"\x0200S6000UH\x03"
            assert decode_rate(emu.sent()[-1][4:-1].decode()) == (6_000_000, RateUnit.UH)
        finally:
            port.close()


def test_guard_turns_a_nesp_lib_hang_into_a_failure(emu: PtyEmulator) -> None:
    # A pump that never answers (wrong address) blocks nesp-lib forever: the guard must fail.
    port = guarded(lambda: nesp_lib.Port(emu.port, 19200))
    try:
        with pytest.raises(pytest.fail.Exception, match="did not return"):
            guarded(lambda: nesp_lib.Pump(port, address=7), timeout=0.3)
        assert emu.sent() == []  # the emulator stayed silent for address 7
    finally:
        port.close()
