"""``Journal.note``: operator requests audited in the hash chain without changing the state.

Requirement REQ-OPS-002 (every operator API request, refused ones too, is recorded).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from itdose.adapters.journal import Journal, JournalIntegrityError, read_entries, verify_file
from itdose.core import commands as c
from itdose.core.state import Device, Role
from itdose.specs import load_library


def test_notes_are_chained_change_no_state_and_survive_reopening(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    j = Journal.create(db, Device(), now_s=100, reason="test")
    j.step(c.RecordScreening(Role.CLINICIAN, True, 8), 150, load_library())
    device, last = j.device, j.last_time_s
    j.note(
        "api_request", actor="patient", reason="refused: 403", detail={"path": "/x", "status": 403}
    )
    j.note("api_request", actor="unknown", reason="refused: 401", detail={"status": 401})
    assert j.device == device and j.last_time_s == last
    j.close()
    report = verify_file(db)
    assert report.ok and report.records == 4, report
    notes = [e for e in read_entries(db) if e.outcome == "noted" and e.kind == "command"]
    assert [(e.kind, e.actor, e.time_s) for e in notes] == [
        ("command", "patient", 150),
        ("command", "unknown", 150),
    ]
    assert json.loads(notes[0].command or "") == {
        "name": "api_request",
        "fields": {"path": "/x", "status": 403},
    }
    reopened = Journal.open(db)
    assert reopened.resume().device == device
    reopened.close()


def test_an_edited_note_breaks_the_chain(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    j = Journal.create(db, Device(), now_s=100, reason="test")
    j.note("api_request", actor="patient", reason="refused: 401", detail={"status": 401})
    j.close()
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("UPDATE audit SET reason = 'done' WHERE seq = 2")
    conn.commit()
    conn.close()
    assert not verify_file(db).ok
    with pytest.raises(JournalIntegrityError):
        Journal.open(db)
