"""The emulator answers the TTL I/O commands (``TRG``, ``IN``, ``OUT``) that common clients send.

The ``new-era`` client (PyPI 2.2.3) sends ``AL 1``, ``STP``, ``TRG LE`` and ``VER`` in its
constructor and reads the TTL input with ``IN 2``; before these commands existed the emulator
answered ``?`` and the constructor failed. Mode names and pins follow the DB-9 TTL I/O table of
the NE-500 manual (docs/hardware.md, "Emulator assumptions").
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from itdose.adapters.newera.codec import Framing, encode_request
from itdose.adapters.newera.emulator import (
    TRIGGER_MODES,
    ManualClock,
    PtyEmulator,
    PumpModel,
)

T = TypeVar("T")


@pytest.fixture
def model() -> PumpModel:
    m = PumpModel(clock=ManualClock(), powered_on=False)
    return m


def ask(model: PumpModel, command: str) -> bytes | None:
    """One Basic-mode exchange through the model's request handling."""
    from itdose.adapters.newera.codec import RequestParser

    parser = RequestParser()
    (request,) = parser.feed(encode_request(command, address=0, framing=Framing.BASIC))
    return model.handle(request)


def test_trigger_mode_round_trip_and_unknown_mode(model: PumpModel) -> None:
    assert ask(model, "TRG") == b"\x0200SFT\x03"  # [A] factory default FT
    for mode in TRIGGER_MODES:
        assert ask(model, f"TRG {mode}") == b"\x0200S\x03"
        assert ask(model, "TRG") == f"\x0200S{mode}\x03".encode()
    assert ask(model, "TRG XX") == b"\x0200S?OOR\x03"
    assert model.trigger_mode == TRIGGER_MODES[-1]


def test_ttl_inputs_read_high_and_only_input_pins_exist(model: PumpModel) -> None:
    for pin in (2, 3, 4, 6):
        assert ask(model, f"IN {pin}") == b"\x0200S1\x03"
    model.ttl_inputs[2] = 0
    assert ask(model, "IN 2") == b"\x0200S0\x03"
    for bad in ("IN", "IN 5", "IN 1", "IN 22", "IN X"):
        assert ask(model, bad) == b"\x0200S?OOR\x03", bad


def test_ttl_output_set_and_query(model: PumpModel) -> None:
    assert ask(model, "OUT 5") == b"\x0200S0\x03"
    assert ask(model, "OUT 5 1") == b"\x0200S\x03"
    assert ask(model, "OUT 5") == b"\x0200S1\x03"
    assert ask(model, "OUT 2 1") == b"\x0200S?OOR\x03"
    assert model.ttl_outputs == {5: 1}


def guarded(fn: Callable[[], T], timeout: float = 5.0) -> T:
    result: list[Any] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(fn())
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"client call did not return within {timeout} s")
    if error:
        raise error[0]
    return result[0]  # type: ignore[no-any-return]


@pytest.fixture
def emu() -> Iterator[PtyEmulator]:
    with PtyEmulator(PumpModel(clock=ManualClock())) as e:
        yield e


def test_new_era_client_constructor_trigger_and_ttl(
    emu: PtyEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_era = pytest.importorskip("new_era.peristaltic_pump")

    def one_frame(self: Any) -> str:
        # The client sleeps a fixed 30 ms and reads whatever has arrived: on a loaded machine the
        # emulator's thread may not have answered yet. Read up to the reply's ETX instead (the
        # emulator answers every command with one frame), so the test checks the answers, not
        # the scheduler.
        self.ser.timeout = 2.0
        return str(self.ser.read_until(b"\x03").decode(self.STANDARD_ENCODING))

    monkeypatch.setattr(new_era.PeristalticPump, "_readline", one_frame)
    pump = guarded(lambda: new_era.PeristalticPump(emu.port))
    try:
        assert guarded(pump.get_trigger) == ("rising", "falling")  # TRG LE from the constructor
        assert guarded(pump.get_TTL) is True
        assert guarded(pump.get_status) == "pumping program stopped"
        sent = b"".join(emu.received())
        for command in (b"0AL 1 \r", b"0STP \r", b"0TRG LE \r", b"0VER \r", b"0IN 2 \r"):
            assert command in sent
        assert b"?" not in b"".join(emu.sent()[1:])  # only the power-on A?R, then no error
    finally:
        pump.ser.close()


def test_emulator_module_runs_alone_and_prints_its_port() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "itdose.adapters.newera.emulator"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/pts/")
        import serial  # type: ignore[import-untyped]

        with serial.Serial(port, 19200, timeout=1) as s:
            s.write(b"VER\r")
            assert s.read_until(b"\x03") == b"\x0200A?R\x03"  # power-on alarm first
            s.write(b"VER\r")
            assert s.read_until(b"\x03") == b"\x0200SNE1000V3.928\x03"
    finally:
        proc.terminate()
        assert proc.wait(5) == 0
