"""README commands work as written after the two set-up commands: none assumes an activated
virtual environment, every ``.venv/bin/itdose`` line runs from the repository root with the exit
code the README implies, and the shown output of ``check-program`` is what the command prints."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from itdose.adapters import cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SET_UP = 2  # the first two shell blocks are the set-up commands themselves


def _shell_blocks() -> list[list[str]]:
    """Fenced blocks without a language (shell commands and their shown output)."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    language = ""
    for line in README.splitlines():
        if line.startswith("```"):
            if current is None:
                current, language = [], line[3:].strip()
            else:
                if not language:
                    blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _commands() -> list[str]:
    out = []
    for block in _shell_blocks()[SET_UP:]:
        for line in block:
            text = line.removeprefix("$ ")
            if text.startswith(".venv/bin/itdose "):
                out.append(text)
    return out


def test_the_set_up_commands_come_first() -> None:
    blocks = _shell_blocks()
    assert blocks[0][0].startswith("python3 -m venv .venv && .venv/bin/pip install -q '.[proofs]'")
    assert blocks[1][0].startswith("python3 -m venv .venv && .venv/bin/pip install -q '.[test]'")


def test_no_command_assumes_an_activated_virtual_environment() -> None:
    tools = ("itdose", "pip", "python", "python3", "mypy", "pytest", "ruff")
    for block in _shell_blocks()[SET_UP:]:
        for line in block:
            text = line.removeprefix("$ ")
            first = text.split(" ", 1)[0]
            if "=" in first:  # an environment assignment such as MYPYPATH=typecheck
                first = text.split(" ", 2)[1]
            assert first not in tools, f"README command needs an activated venv: {line!r}"
            for part in re.split(r"&&|\|", text)[1:]:
                words = part.split()
                cmd = next((w for w in words if "=" not in w), "")
                assert cmd not in tools, f"README command needs an activated venv: {line!r}"


def test_the_test_command_runs_on_every_core_with_the_plugin_it_installs() -> None:
    """The README test command (the one CI runs) spreads the suite over every core with ``-n
    auto``, a file per worker (``--dist loadfile``: a module's shared fixture is built once);
    those options exist only with pytest-xdist, so the ``test`` extra it installs must hold it,
    and coverage.py for ``tools/coverage.sh``."""
    command = _shell_blocks()[1][0]
    assert command.endswith(".venv/bin/python -m pytest -n auto --dist loadfile"), command
    test_extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]["test"]
    names = {re.split(r"[<>=!~ \[]", req, maxsplit=1)[0] for req in test_extra}
    assert {"pytest", "pytest-xdist", "coverage"} <= names, names


def test_every_extra_the_readme_installs_exists() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    named = set(re.findall(r"'\.\[([a-z,]+)\]'", README))
    assert named >= {"proofs", "test", "plot"}
    for group in named:
        for extra in group.split(","):
            assert extra in extras, extra


def test_the_readme_lists_commands_to_check() -> None:
    commands = _commands()
    assert any(c.startswith(".venv/bin/itdose simulate") for c in commands)
    assert any(c.startswith(".venv/bin/itdose log verify") for c in commands)
    assert any(c.startswith(".venv/bin/itdose check-program") for c in commands)


def _make_journal_as_shown(cwd: Path) -> None:
    text = next("\n".join(b) for b in _shell_blocks() if b[0].startswith(".venv/bin/python -c"))
    script = text.split('"', 1)[1].rsplit('"', 1)[0]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (cwd / "journal.db").is_file()


def test_every_itdose_command_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run from a copy of the repository root: the examples as shipped, files written there."""
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    (tmp_path / "tests").mkdir()  # verify --with-tests is not run here (it runs this suite)
    _make_journal_as_shown(tmp_path)
    monkeypatch.chdir(tmp_path)
    expected_exit = {"check-program examples/programs/morphine-over-maximum.toml": 1}
    for command in _commands():
        argv = shlex.split(command)[1:]
        if argv[0] in ("run", "pump"):
            # "Run a pump" starts a server in the background and talks to it: run as written by
            # tests/adapters/test_readme_run_a_pump.py
            assert argv[0] == "pump" or argv[-1] == "&", command
            continue
        args = cli._parser().parse_args(argv)  # every command parses
        if argv[0] == "verify":
            assert args.fn is cli._cmd_verify
            continue
        if "--plot" in argv and pytest.importorskip("matplotlib") is None:  # pragma: no cover
            continue
        code = cli.main(argv)
        err = capsys.readouterr().err
        assert code == expected_exit.get(" ".join(argv), 0), (command, err)
        assert "Traceback" not in err
    assert (tmp_path / "out.png").stat().st_size > 10_000


def test_the_shown_check_program_output_is_what_it_prints(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    block = next(b for b in _shell_blocks() if b[0].startswith("$ .venv/bin/itdose check-program"))
    monkeypatch.chdir(ROOT)
    assert cli.main(shlex.split(block[0])[2:]) == 1
    printed = capsys.readouterr().out.splitlines()
    shown = [line for line in block[1:] if line.strip() != "..."]
    for line in shown:
        assert line in printed, line
