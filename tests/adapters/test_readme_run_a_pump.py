"""The README's "Run a pump" commands work as written, on the bundled emulator.

They are read from README.md (the ``.venv/bin/itdose`` lines of that section) and run in a fresh
folder holding a copy of ``examples/`` and a ``.venv`` link to this interpreter's environment:
the run starts in the background, the patient's bolus is granted, the status reads ``active``
with the bolus counted, and SIGTERM stops the run with exit 0. Requirement REQ-OPS-004 (the run
stops delivery and journals its state on SIGTERM).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from itdose_runkit import ROOT

from itdose.adapters.journal import verify_file


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Run a pump", 1)[1].split("\n#", 1)[0]
    block = section.split("```", 2)[1]
    return [line for line in block.splitlines() if line.startswith(".venv/bin/itdose ")]


def test_readme_run_a_pump_commands(tmp_path: Path) -> None:
    commands = readme_commands()
    assert len(commands) == 3 and commands[0].endswith(" &"), commands
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / ".venv").symlink_to(sys.prefix)
    assert (tmp_path / ".venv" / "bin" / "itdose").exists()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "run.log"
    with log.open("w") as err_file:
        run = subprocess.Popen(
            shlex.split(commands[0].removesuffix("&")),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=err_file,
            env=env,
        )
    try:
        bolus = subprocess.run(
            shlex.split(commands[1]), cwd=tmp_path, capture_output=True, text=True, timeout=180
        )
        assert bolus.returncode == 0, bolus.stderr
        assert '"granted": true' in bolus.stdout
        status = subprocess.run(
            shlex.split(commands[2]), cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert status.returncode == 0, status.stderr
        assert status.stdout.startswith("phase            active")
        assert "1 of 4 in 24 h" in status.stdout
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=30)
    err = log.read_text()
    assert run.returncode == 0, err
    assert "stopping: drive stopped, state journaled" in err
    assert verify_file(tmp_path / "pump.db").ok
