"""``itdose log verify``: authentic, intact but unkeyed, or broken at record N, each with its
exit code; a bad path is one line and exit 2 (REQ-PERS-003, REQ-PERS-004)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from itdose_testkit import PATHS, S, run

from itdose.adapters.journal import Journal, default_head_path, default_key_path
from itdose.core import Library, Phase
from itdose.core import commands as c


@pytest.fixture
def db(tmp_path: Path, library: Library) -> Path:
    device = run(PATHS[Phase.ACTIVE], library)
    assert device.clock_s is not None
    path = tmp_path / "journal.db"
    with Journal.create(path, device, now_s=device.clock_s, reason="test") as j:
        for k in range(1, 4):
            j.step(c.Tick(S), device.clock_s + 60 * k, library)
    return path


def itdose(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "itdose.adapters.log_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_authentic(db: Path) -> None:
    """REQ-PERS-003: every MAC checked with the key: exit 0, 'authentic'."""
    res = itdose("verify", str(db))
    assert res.returncode == 0, res
    assert ": authentic: 4 records" in res.stdout and res.stderr == ""


def test_intact_but_unkeyed_says_authenticity_was_not_checked(db: Path) -> None:
    """REQ-PERS-003: no key: structure only, said plainly, exit 3 (not 0)."""
    default_key_path(db).rename(db.with_name("kept-elsewhere.key"))
    res = itdose("verify", str(db))
    assert res.returncode == 3, res
    assert "intact but unkeyed" in res.stdout and "AUTHENTICITY NOT CHECKED" in res.stdout
    res = itdose("verify", str(db), "--key", str(db.with_name("kept-elsewhere.key")))
    assert res.returncode == 0 and "authentic" in res.stdout


def test_broken_at_record_n(db: Path) -> None:
    """REQ-PERS-003: a modified record: exit 1, 'BROKEN at record 3'."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER audit_append_only_update")
    conn.execute("UPDATE audit SET reason = 'edited' WHERE seq = 3")
    conn.close()
    res = itdose("verify", str(db))
    assert res.returncode == 1, res
    assert "BROKEN at record 3: hash does not match" in res.stdout


def test_a_missing_head_file_is_broken(db: Path) -> None:
    """REQ-PERS-004: without its head file the journal's end is unconfirmed: exit 1."""
    default_head_path(db).unlink()
    res = itdose("verify", str(db))
    assert res.returncode == 1 and "BROKEN" in res.stdout and "missing" in res.stdout


@pytest.mark.parametrize("case", ["directory", "missing", "missing key", "missing head"])
def test_a_bad_path_is_one_line_and_exit_2(db: Path, case: str) -> None:
    """REQ-PERS-003: a directory or a missing file is one clear line, exit 2."""
    args = {
        "directory": [str(db.parent)],
        "missing": [str(db.with_name("nope.db"))],
        "missing key": [str(db), "--key", str(db.with_name("nope.key"))],
        "missing head": [str(db), "--head", str(db.with_name("nope.head"))],
    }[case]
    res = itdose("verify", *args)
    assert res.returncode == 2, res
    assert res.stdout == "" and len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.stderr
    expected = "is a folder, not a file" if case == "directory" else "no such file"
    assert expected in res.stderr
