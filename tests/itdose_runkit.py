"""Test helpers for ``itdose run``: the emulator and the server as real processes, an API client.

The emulator runs alone (``python -m itdose.adapters.newera.emulator``) so that the server can
be killed with SIGKILL and restarted against the same pump; SIGUSR1 stalls its motor.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_SETUP = ROOT / "examples" / "run" / "setup.toml"
ITDOSE = [sys.executable, "-m", "itdose.adapters.cli"]
DIAMETER_MM = "8"
"""An 8 mm syringe: the 234 uL priming volume fits in a few seconds (the example's 4.699 mm
syringe needs 30 s), and 1 mg/day at 10 mg/mL stays above its minimum rate."""


def fast_setup(tmp: Path, prime: str = "6 s") -> Path:
    """The example SETUP file with a short priming bolus."""
    text = EXAMPLE_SETUP.read_text(encoding="utf-8")
    assert 'duration = "30 s"' in text
    path = tmp / "setup.toml"
    path.write_text(text.replace('duration = "30 s"', f'duration = "{prime}"'), encoding="utf-8")
    return path


class Emulator:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "itdose.adapters.newera.emulator", "--diameter", DIAMETER_MM],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = self.proc.stdout.readline().strip()
        assert self.port.startswith("/dev/"), self.port

    def stall(self) -> None:
        self.proc.send_signal(signal.SIGUSR1)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


class Server:
    """``itdose run`` in a subprocess; :attr:`url` once its API listens."""

    def __init__(
        self,
        journal: Path,
        drive: str,
        init: Path | None,
        *,
        watchdog: int = 6,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.journal = journal
        self.log = journal.with_name(journal.name + f".{time.monotonic_ns()}.log")
        args = [
            *ITDOSE,
            "run",
            "--drive",
            drive,
            "--journal",
            str(journal),
            "--port",
            "0",
            "--watchdog",
            str(watchdog),
            "--syringe-diameter",
            str(int(DIAMETER_MM) * 1000),
        ]
        if init is not None:
            args += ["--init", str(init)]
        args += extra
        self._err = self.log.open("w")
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=self._err,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.url = self._wait_url(90)

    def _wait_url(self, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            m = re.search(r"operator API on (https?://\S+)", self.log.read_text())
            if m:
                return m[1]
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"itdose run exited {self.proc.returncode}:\n{self.log.read_text()}"
                )
            time.sleep(0.1)
        raise AssertionError(f"itdose run did not start its API:\n{self.log.read_text()}")

    def token(self, name: str) -> str:
        return (self.journal.with_name(self.journal.name + ".tokens") / name).read_text().strip()

    def call(self, method: str, path: str, token: str | None, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/api/v1" + path, data=data, method=method)
        if token is not None:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=20) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self._err.close()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(20)
        self._err.close()
        return code


def pump_prompt(port: str) -> str:
    """The emulated pump's status prompt (``I`` infusing, ``S`` stopped, ``P`` paused), asked
    over its serial port like a second host would (Safe framing, then Basic)."""
    import serial  # type: ignore[import-untyped]

    from itdose.adapters.newera.codec import (
        AlarmReply,
        Framing,
        ReplyParser,
        StatusReply,
        encode_request,
    )

    with serial.Serial(port, 19200, timeout=0.05) as s:
        for framing in (Framing.SAFE, Framing.BASIC):
            parser = ReplyParser(framing=framing, expected_address=0)
            for _ in range(3):  # a pending alarm is answered first
                s.write(encode_request("", address=0, framing=framing))
                deadline = time.monotonic() + 0.5
                events: list[object] = []
                while not events and time.monotonic() < deadline:
                    events = list(parser.feed(s.read(64)))
                if not events:
                    break
                if isinstance(events[0], StatusReply):
                    return events[0].prompt.value
                assert isinstance(events[0], AlarmReply), events
    raise AssertionError(f"the emulator on {port} does not answer")
