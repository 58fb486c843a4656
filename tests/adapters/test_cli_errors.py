"""Errors a newcomer can act on: every bad path, pipe, special or huge file, and every missing
tool, gives one clear line naming the option and exit 2, before any long run starts; a reader
that closes the pipe early ends the command quietly. One test per friction point (REQ-EVID-003)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from itdose.adapters import cli
from itdose.adapters.cli import EXIT_BROKEN_PIPE, main
from itdose.adapters.paths import (
    check_input_file,
    check_output_dir,
    check_output_file,
    read_input_file,
)
from itdose.core.errors import InvalidInput

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "examples" / "scenarios" / "01-morphine-trial-implant-dosing.toml"
PROGRAM = REPO / "examples" / "programs" / "morphine-continuous-bolus.toml"
MISSING_DIR = "/nonexistent-itdose-folder"


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def no_long_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to start the checks or a simulation fails the test: the path must be
    refused before."""
    import itdose.adapters.simulate as simulate
    import itdose.proofs.runner as runner

    def forbidden(*args: object, **kwargs: object) -> object:
        raise AssertionError("the long run started before the path was checked")

    monkeypatch.setattr(runner, "run_verify", forbidden)
    monkeypatch.setattr(simulate, "run_scenario", forbidden)


def test_diagram_out_in_a_missing_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", "--out", f"{MISSING_DIR}/x.md"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--out" in line and "does not exist" in line and MISSING_DIR in line


def test_diagram_out_that_is_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", "--out", str(tmp_path)]) == 2
    assert "is a folder" in _one_line(capsys.readouterr().err)


@pytest.mark.usefixtures("no_long_run")
def test_verify_out_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["verify", "--out", str(afile)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--out" in line and "is a file, not a folder" in line


@pytest.mark.usefixtures("no_long_run")
def test_verify_out_below_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["verify", "--out", str(afile / "evidence")]) == 2
    assert "not a folder" in _one_line(capsys.readouterr().err)


@pytest.mark.usefixtures("no_long_run")
def test_verify_json_in_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", "--out", str(tmp_path), "--json", f"{MISSING_DIR}/r.json"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--json" in line and "does not exist" in line


def test_verify_json_inside_a_new_out_folder_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import itdose.proofs.runner as runner

    seen: list[Path] = []

    def stop(out_dir: Path, *args: object, **kwargs: object) -> object:
        seen.append(out_dir)
        raise InvalidInput("test", "stop here")

    monkeypatch.setattr(runner, "run_verify", stop)
    new = tmp_path / "new" / "evidence"
    assert main(["verify", "--out", str(new), "--json", str(new / "r.json")]) == 2
    assert seen == [new] and new.is_dir()


@pytest.mark.usefixtures("no_long_run")
def test_verify_with_tests_without_pytest_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = cli.importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "pytest" else real(name)

    monkeypatch.setattr(cli.importlib.util, "find_spec", find_spec)
    assert main(["verify", "--out", str(tmp_path), "--with-tests"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "pytest is not installed" in line and "pip install -q '.[test]'" in line


@pytest.mark.usefixtures("no_long_run")
def test_simulate_json_in_a_missing_folder_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["simulate", str(SCENARIO), "--json", f"{MISSING_DIR}/x.json"]) == 2
    captured = capsys.readouterr()
    line = _one_line(captured.err)
    assert "--json" in line and "does not exist" in line
    assert captured.out == ""  # no timeline: nothing ran


@pytest.mark.usefixtures("no_long_run")
def test_simulate_plot_in_a_missing_folder_is_refused_before_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["simulate", str(SCENARIO), "--plot", f"{MISSING_DIR}/x.png"]) == 2
    assert "--plot" in _one_line(capsys.readouterr().err)


@pytest.mark.usefixtures("no_long_run")
def test_simulate_given_a_program_file_points_at_check_program(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["simulate", str(PROGRAM)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "this is a program file" in line and "itdose check-program" in line
    assert "unknown field" not in line


def test_check_program_on_a_device_does_not_hang(capsys: pytest.CaptureFixture[str]) -> None:
    """/dev/zero is endless: it must be refused by its kind, never read."""
    assert main(["check-program", "/dev/zero"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "/dev/zero" in line and "a device, not a regular file" in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_check_program_on_a_named_pipe_does_not_hang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)  # opening it for reading would block forever without a writer
    assert main(["check-program", str(fifo)]) == 2
    assert "a pipe, not a regular file" in _one_line(capsys.readouterr().err)


def test_check_program_on_a_huge_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.toml"
    with big.open("wb") as f:
        f.truncate(5 * 1024 * 1024)  # sparse: 5 MiB of size, no disk used
    assert main(["check-program", str(big)]) == 2
    assert "larger than the 4194304 bytes accepted" in _one_line(capsys.readouterr().err)


def test_check_program_on_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-program", str(tmp_path)]) == 2
    assert "is a folder, not a file" in _one_line(capsys.readouterr().err)


def test_bolus_longer_than_its_lockout_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The rejection shows the bolus's duration against its lockout, never an empty value and
    bound."""
    program = tmp_path / "p.toml"
    program.write_text(PROGRAM.read_text().replace('duration = "10 min"', 'duration = "2 h"'))
    assert 'duration = "2 h"' in program.read_text() and 'lockout = "1 h"' in program.read_text()
    assert main(["check-program", str(program)]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "longer than its lockout" in x)
    assert "(value 2 h, bound <= lockout 1 h)" in line
    assert "(value , bound )" not in line


def test_log_verify_on_a_folder_says_it_is_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["log", "verify", str(tmp_path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "is a folder, not a file" in line and "no such file" not in line


def test_log_show_on_a_folder_says_it_is_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["log", "show", str(tmp_path)]) == 2
    assert "is a folder, not a file" in _one_line(capsys.readouterr().err)


def _journal_with_many_records(db: Path, n: int) -> None:
    from itdose_testkit import PATHS, S, run

    from itdose.adapters.journal import Journal
    from itdose.core import Phase
    from itdose.core import commands as c
    from itdose.specs import load_library

    library = load_library()
    active = run(PATHS[Phase.ACTIVE], library)
    t = active.clock_s
    assert t is not None
    with Journal.create(db, active, now_s=t, reason="test: many records") as j:
        for k in range(1, n + 1):
            j.step(c.Tick(S), t + k, library)


def test_log_show_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """``itdose log show DB | head`` : the reader leaves after one line; no BrokenPipeError."""
    db = tmp_path / "journal.db"
    _journal_with_many_records(db, 800)  # far more output than a pipe buffer holds
    proc = subprocess.Popen(
        [sys.executable, "-m", "itdose.adapters.cli", "log", "show", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what head does after its lines
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert first.split()[0] == b"seq"
    assert "BrokenPipe" not in err and "Traceback" not in err, err


# -- the checker itself ----------------------------------------------------------------------


def test_output_file_checks(tmp_path: Path) -> None:
    assert check_output_file(tmp_path / "new.json", "--json") == tmp_path / "new.json"
    existing = tmp_path / "old.json"
    existing.write_text("{}")
    assert check_output_file(existing, "--json") == existing
    with pytest.raises(InvalidInput, match=r"^--json: the folder .* does not exist"):
        check_output_file(tmp_path / "no" / "x.json", "--json")
    with pytest.raises(InvalidInput, match="is a folder"):
        check_output_file(tmp_path, "--json")
    with pytest.raises(InvalidInput, match="is not a folder"):
        check_output_file(existing / "x.json", "--json")
    with pytest.raises(InvalidInput, match="a device, not a regular file"):
        check_output_file("/dev/zero", "--json")
    with pytest.raises(InvalidInput, match="empty path"):
        check_output_file("", "--json")


def test_output_dir_checks(tmp_path: Path) -> None:
    assert check_output_dir(tmp_path, "--out") == tmp_path
    assert check_output_dir(tmp_path / "a" / "b", "--out") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # checking creates nothing
    afile = tmp_path / "f"
    afile.write_text("")
    with pytest.raises(InvalidInput, match=r"^--out: is a file, not a folder"):
        check_output_dir(afile, "--out")
    with pytest.raises(InvalidInput, match=r"is inside .*, which is a file, not a folder"):
        check_output_dir(afile / "x", "--out")


def test_input_file_checks(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_bytes(b"x" * 10)
    assert check_input_file(f, "file") == f
    assert read_input_file(f, "file", max_bytes=10) == b"x" * 10
    with pytest.raises(InvalidInput, match="larger than the 9 bytes"):
        read_input_file(f, "file", max_bytes=9)
    assert check_input_file(f, "journal", max_bytes=None) == f
    with pytest.raises(InvalidInput, match=r"^file: no such file"):
        check_input_file(tmp_path / "missing", "file")
    with pytest.raises(InvalidInput, match="no such file"):
        check_input_file(f / "below-a-file", "file")
