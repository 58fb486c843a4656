"""Journal integrity against someone who can write the journal file: the keyed chain (a per-device
key outside the database), the head witness beside it, and what each detects (H12).

Attacks are carried out on the files directly, as an attacker with write access would; the checks
under test are :meth:`Journal.open`, :func:`verify_file` (the ``itdose log verify`` logic) and the
fail-safe path (:func:`salvage`, :func:`fail_safe_device`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from itdose_testkit import HOUR, PATHS, C, P, S, run

from itdose.adapters.journal import (
    GENESIS_HASH,
    AuditEntry,
    Journal,
    JournalIntegrityError,
    JournalKeyError,
    JournalRollbackError,
    JournalWriteError,
    default_head_path,
    default_key_path,
    fail_safe_device,
    load_key,
    read_head,
    salvage,
    verify_file,
)
from itdose.core import Device, Library, Phase, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.effects import Annunciate, BolusDecision
from itdose.core.errors import InvalidInput

MIN = 60
TRIGGERS = {
    "audit_append_only_update": "BEFORE UPDATE ON audit",
    "audit_append_only_delete": "BEFORE DELETE ON audit",
}


@pytest.fixture
def active(library: Library) -> Device:
    return run(PATHS[Phase.ACTIVE], library)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "journal.db"


def deliver_until(j: Journal, at: int, library: Library) -> None:
    """The drive completes every order that ends by ``at`` (final reports, in order)."""
    for order in sorted(j.device.orders, key=lambda o: (o.end_s, o.id)):
        if order.end_s <= at:
            # a drive stops an order a bolus cut at the cut (R-TIP-3): what it moved by then
            moved = order.volume_nl
            if order.cut_s:
                moved = moved * (order.cut_s - order.start_s) // (order.end_s - order.start_s)
            report = c.DriveReport(S, order.id, moved, final=True)
            j.step(report, max(order.end_s, j.last_time_s), library)


def bolus(j: Journal, at: int, library: Library) -> BolusDecision:
    deliver_until(j, at, library)
    out = j.step(c.RequestBolus(P), at, library)
    return next(e for e in out.effects if isinstance(e, BolusDecision))


def bolus_on(device: Device, at: int, library: Library) -> BolusDecision:
    out = step(device, c.RequestBolus(P), at, library)
    return next(e for e in out.effects if isinstance(e, BolusDecision))


@dataclasses.dataclass
class History:
    """A closed journal: ticks, then a granted patient bolus at ``bolus_s`` (record
    ``bolus_seq``), then more ticks; the 1 h lockout runs from ``bolus_s``."""

    db: Path
    bolus_seq: int
    bolus_s: int
    last_seq: int
    device: Device


@pytest.fixture
def history(db: Path, active: Device, library: Library) -> Iterator[History]:
    assert active.clock_s is not None
    t = active.clock_s
    with Journal.create(db, active, now_s=t, reason="test: first start") as j:
        j.step(c.Tick(S), t + MIN, library)
        assert bolus(j, t + 2 * MIN, library).granted
        bolus_seq = j.last_seq
        deliver_until(j, t + 15 * MIN, library)
        j.step(c.Tick(S), t + 15 * MIN, library)
        last_seq = j.last_seq
        device = j.device
    yield History(db, bolus_seq, t + 2 * MIN, last_seq, device)


def drop_triggers(conn: sqlite3.Connection) -> None:
    for name in TRIGGERS:
        conn.execute(f"DROP TRIGGER {name}")


def recreate_triggers(conn: sqlite3.Connection) -> None:
    for name, on in TRIGGERS.items():
        conn.execute(
            f"CREATE TRIGGER {name} {on} "
            "BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END"
        )


def truncate_from(db: Path, seq: int) -> int:
    """The attack of issue 16: drop the append-only trigger, delete the audit and snapshot rows
    from record ``seq`` onward, copy the now-last record's existing hash into the database's
    head, recreate the trigger. No hash is recomputed. Returns the new last record."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        drop_triggers(conn)
        conn.execute("DELETE FROM snapshots WHERE seq >= ?", (seq,))
        conn.execute("DELETE FROM audit WHERE seq >= ?", (seq,))
        last, mac = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        conn.execute("UPDATE meta SET value = ? WHERE key = 'head_hash'", (mac,))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'head_seq'", (str(last),))
        recreate_triggers(conn)
    finally:
        conn.close()
    return int(last)


# -- the key ------------------------------------------------------------------------------------


def test_the_key_is_a_0600_file_beside_the_journal_and_never_in_it(
    db: Path, history: History
) -> None:
    """REQ-PERS-003: a per-device key outside the database, mode 0600 from its creation."""
    key_file = default_key_path(db)
    assert key_file == db.with_name("journal.db.key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = load_key(key_file)
    assert len(key) == 32
    stored = b"".join(p.read_bytes() for p in db.parent.glob("journal.db*") if p != key_file)
    assert key.hex().encode() not in stored and key not in stored
    assert verify_file(db).authenticated


def test_the_key_and_head_paths_are_configurable(
    tmp_path: Path, active: Device, library: Library
) -> None:
    """REQ-PERS-003, REQ-PERS-004: key and head may live elsewhere (another volume)."""
    assert active.clock_s is not None
    db = tmp_path / "data" / "j.db"
    db.parent.mkdir()
    secret = tmp_path / "secret"
    secret.mkdir()
    key, head = secret / "pump.key", secret / "pump.head"
    with Journal.create(
        db, active, now_s=active.clock_s, reason="t", key_path=key, head_path=head
    ) as j:
        j.step(c.Tick(S), active.clock_s + MIN, library)
    assert key.exists() and head.exists()
    assert not default_key_path(db).exists() and not default_head_path(db).exists()
    with pytest.raises(JournalKeyError, match="cannot read"):
        Journal.open(db)  # the default key path holds no key
    with Journal.open(db, key_path=key, head_path=head) as j:
        assert j.authenticated and j.last_seq == 2
    assert verify_file(db, key_path=key, head_path=head).authenticated
    report = verify_file(db, head_path=head)  # no key given, none at the default place
    assert report.ok and not report.authenticated


def test_a_key_others_can_read_is_refused(db: Path, history: History) -> None:
    """REQ-PERS-003: a key readable by others is no secret."""
    default_key_path(db).chmod(0o644)
    with pytest.raises(JournalKeyError, match="0644"):
        Journal.open(db)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_key_owned_by_another_user_is_refused(
    db: Path, history: History
) -> None:  # pragma: no cover - depends on the user
    """REQ-PERS-003: a key file someone else owns may be one they planted."""
    os.chown(default_key_path(db), 12345, -1)
    with pytest.raises(JournalKeyError, match="owned by another user"):
        Journal.open(db)


def test_a_missing_key_refuses_writing_and_read_only_is_unauthenticated(
    db: Path, history: History, library: Library
) -> None:
    """REQ-PERS-003: without the key nothing can be appended, and a read-only open says it
    did not authenticate."""
    default_key_path(db).rename(db.with_name("elsewhere"))
    with pytest.raises(JournalKeyError, match="cannot read"):
        Journal.open(db)
    with Journal.open(db, read_only=True) as j:
        assert not j.authenticated and j.device == history.device
        with pytest.raises(JournalWriteError, match="without its key"):
            j.step(c.Tick(S), j.last_time_s + MIN, library)


def test_another_devices_key_is_refused(db: Path, history: History) -> None:
    """REQ-PERS-003"""
    default_key_path(db).write_text(secrets.token_hex(32) + "\n")
    with pytest.raises(JournalKeyError, match="not this journal's key"):
        Journal.open(db)
    report = verify_file(db)
    assert not report.ok and "not this journal's key" in report.message


# -- forging without the key --------------------------------------------------------------------


def forge(db: Path, key: bytes, *, edit: str, keep_key_id: bool) -> None:
    """Rewrite the whole chain consistently under ``key`` (not the journal's), after editing
    the granted bolus away; the head file is rewritten too (its tag under ``key``)."""
    conn = sqlite3.connect(db, isolation_level=None)
    drop_triggers(conn)
    conn.execute(edit)
    rows = [AuditEntry(*r) for r in conn.execute("SELECT * FROM audit ORDER BY seq")]
    prev = GENESIS_HASH
    for e in rows:
        detail = e.detail
        if e.seq == 1 and not keep_key_id:
            doc = json.loads(detail)
            doc["key_id"] = "0" * 32
            detail = json.dumps(doc, sort_keys=True, separators=(",", ":"))
        e = dataclasses.replace(e, detail=detail, prev_hash=prev)
        mac = e.expected_hash(key)
        conn.execute(
            "UPDATE audit SET detail = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (detail, prev, mac, e.seq),
        )
        prev = mac
    conn.execute("UPDATE meta SET value = ? WHERE key = 'head_hash'", (prev,))
    recreate_triggers(conn)
    conn.close()
    from itdose.adapters.journal import _write_head

    head = read_head(default_head_path(db))
    _write_head(default_head_path(db), key, head.journal_id, len(rows), prev)


@pytest.mark.parametrize("keep_key_id", [True, False])
def test_a_chain_forged_without_the_key_is_detected(
    db: Path, history: History, keep_key_id: bool
) -> None:
    """A forger without the key edits a record and rebuilds a consistent chain (every link and
    the head file) under a key of their own: detected at open and by ``log verify`` with the
    key; without the key ``log verify`` only says it is intact but unkeyed (REQ-PERS-003)."""
    edit = f"UPDATE audit SET reason = 'forged' WHERE seq = {history.bolus_seq}"
    forge(db, secrets.token_bytes(32), edit=edit, keep_key_id=keep_key_id)
    if keep_key_id:
        with pytest.raises(JournalIntegrityError, match="hash does not match") as info:
            Journal.open(db)
        assert info.value.seq == 1
    else:
        with pytest.raises(JournalKeyError, match="not this journal's key"):
            Journal.open(db)
    assert not verify_file(db).ok
    default_key_path(db).unlink()
    report = verify_file(db)
    assert report.ok and not report.authenticated
    assert "AUTHENTICITY NOT CHECKED" in report.message


def test_a_record_modified_without_the_key_is_detected(db: Path, history: History) -> None:
    """REQ-PERS-003: the record's MAC no longer matches (first bad record named)."""
    conn = sqlite3.connect(db, isolation_level=None)
    drop_triggers(conn)
    conn.execute("UPDATE audit SET time_s = time_s - 7200 WHERE seq = ?", (history.bolus_seq + 1,))
    conn.close()
    with pytest.raises(JournalIntegrityError, match="hash does not match") as info:
        Journal.open(db)
    assert info.value.seq == history.bolus_seq + 1


# -- the tail -------------------------------------------------------------------------------------


def test_the_truncation_attack_of_issue_16_is_detected_and_fails_safe(
    db: Path, history: History, library: Library
) -> None:
    """Drop the trigger, delete the rows from the granted bolus onward, copy the now-last
    record's hash into the head, recreate the trigger: the database is self-consistent and every
    remaining MAC is genuine, but the head file witnesses a later record. Detected at open and
    by verify; the fail-safe device has the HIGH memory fault, and no patient bolus is granted
    until a clinician clears it (REQ-PERS-004, REQ-PERS-002)."""
    last = truncate_from(db, history.bolus_seq)
    assert last == history.bolus_seq - 1
    with pytest.raises(JournalRollbackError) as info:
        Journal.open(db)
    err = info.value
    assert err.seq == history.bolus_seq
    assert f"witnesses record {history.last_seq}" in str(err) and "missing" in str(err)
    report = verify_file(db)
    assert not report.ok and report.first_bad_seq == history.bolus_seq
    # What the attack would have bought: on the truncated history a bolus 120 s after the real
    # one is granted (its lockout forgotten).
    forgotten = salvage(db)
    assert forgotten is not None and forgotten.clock_s is not None
    assert bolus_on(forgotten, history.bolus_s + 120, library).granted
    # Fail safe instead: HIGH memory fault, boluses denied until a clinician clears it.
    safe = fail_safe_device(forgotten, history.bolus_s + 120, library, detail=str(err))
    assert Annunciate(AlarmKind.MEMORY_FAULT, Priority.HIGH) in safe.effects
    assert safe.device.phase is Phase.ALARM
    denied = bolus_on(safe.device, history.bolus_s + 120, library)
    assert not denied.granted
    cleared = step(
        safe.device,
        c.ClearAlarm(C, AlarmKind.MEMORY_FAULT, reason="history reviewed with the patient"),
        history.bolus_s + 300,
        library,
    ).device
    assert not cleared.has_alarm(AlarmKind.MEMORY_FAULT)


def test_deleting_only_the_last_record_is_detected(db: Path, history: History) -> None:
    """REQ-PERS-004"""
    truncate_from(db, history.last_seq)
    with pytest.raises(JournalRollbackError, match=f"record {history.last_seq} missing"):
        Journal.open(db)


def test_a_rollback_to_an_older_copy_of_the_file_is_detected(
    db: Path, history: History, library: Library
) -> None:
    """The database file replaced by a copy taken before the bolus (a backup, a snapshot of the
    volume): every record in it is genuine, but the head file witnesses a later one
    (REQ-PERS-004)."""
    old = db.with_name("old-copy.db")
    with Journal.open(db) as j:
        copy_seq = j.last_seq
        shutil.copyfile(db, old)  # closed before: the WAL is checkpointed into the file
        assert bolus(j, j.last_time_s + 2 * HOUR, library).granted
        final = j.last_seq
    old.replace(db)
    with pytest.raises(JournalRollbackError, match=f"witnesses record {final}") as info:
        Journal.open(db)
    assert info.value.seq == copy_seq + 1
    assert not verify_file(db).ok


def test_a_missing_head_file_is_detected(db: Path, history: History) -> None:
    """REQ-PERS-004: nothing vouches for the journal's end."""
    default_head_path(db).unlink()
    with pytest.raises(JournalRollbackError, match=r"head file .* is missing"):
        Journal.open(db)
    report = verify_file(db)
    assert not report.ok and "missing" in report.message


def test_a_head_file_edited_without_the_key_is_detected(db: Path, history: History) -> None:
    """The attacker also rewrites the head file to witness the truncated end (seq and MAC copied
    from the database): its tag cannot be made without the key (REQ-PERS-004)."""
    last = truncate_from(db, history.bolus_seq)
    hp = default_head_path(db)
    doc = json.loads(hp.read_text())
    mac = sqlite3.connect(db).execute("SELECT hash FROM audit WHERE seq = ?", (last,)).fetchone()
    doc["seq"], doc["mac"] = last, mac[0]
    hp.write_text(json.dumps(doc))
    with pytest.raises(JournalRollbackError, match="tag does not match"):
        Journal.open(db)
    assert not verify_file(db).ok


def test_another_journals_head_file_is_detected(
    db: Path, history: History, active: Device, tmp_path: Path
) -> None:
    """REQ-PERS-004: a head file is bound to its journal."""
    assert active.clock_s is not None
    other = tmp_path / "other.db"
    Journal.create(
        other, active, now_s=active.clock_s, reason="t", key_path=default_key_path(db)
    ).close()
    shutil.copyfile(default_head_path(other), default_head_path(db))
    with pytest.raises(JournalRollbackError, match="another journal"):
        Journal.open(db)


def test_a_crash_between_commit_and_head_write_is_completed_not_refused(
    db: Path, history: History, library: Library
) -> None:
    """The head file is written after the commit: a crash between them leaves the database one
    record ahead, which an open for writing completes; two records ahead is a head file restored
    from an old copy (REQ-PERS-004)."""
    hp = default_head_path(db)
    with Journal.open(db) as j:
        before = hp.read_bytes()
        j.step(c.Tick(S), j.last_time_s + MIN, library)
        seq = j.last_seq
    hp.write_bytes(before)  # as if killed after the commit, before the head write
    report = verify_file(db)
    assert report.ok and "head not yet written" in report.message
    with Journal.open(db) as j:
        assert j.last_seq == seq
    assert read_head(hp).seq == seq  # completed
    with Journal.open(db) as j:
        j.step(c.Tick(S), j.last_time_s + MIN, library)
        j.step(c.Tick(S), j.last_time_s + MIN, library)
    hp.write_bytes(before)  # two records behind: not a crash
    with pytest.raises(JournalRollbackError, match="older than the database"):
        Journal.open(db)


def test_create_refuses_to_overwrite_a_head_file(db: Path, active: Device) -> None:
    """A head file witnesses a journal; a new journal never silently replaces it (REQ-PERS-004)."""
    assert active.clock_s is not None
    default_head_path(db).write_text("{}")
    with pytest.raises(InvalidInput, match="head file already exists"):
        Journal.create(db, active, now_s=active.clock_s, reason="t")
    assert not db.exists() and not default_key_path(db).exists()


def test_a_device_key_is_reused_by_its_next_journal(
    db: Path, history: History, active: Device
) -> None:
    """REQ-PERS-003: one key per device; a new journal (after a failure) keeps using it."""
    assert active.clock_s is not None
    key = load_key(default_key_path(db))
    second = db.with_name("journal-2.db")
    Journal.create(
        second, active, now_s=active.clock_s, reason="t", key_path=default_key_path(db)
    ).close()
    assert load_key(default_key_path(db)) == key
    assert verify_file(second, key_path=default_key_path(db)).authenticated


def test_a_head_file_that_cannot_be_written_stops_the_caller(
    tmp_path: Path, active: Device, library: Library
) -> None:
    """The head is written after the commit; if it cannot be, the caller is told not to act on
    the decision (JournalWriteError), and the journal still opens afterwards, one record ahead
    of its head (REQ-PERS-004)."""
    assert active.clock_s is not None
    db = tmp_path / "j.db"
    heads = tmp_path / "heads"
    heads.mkdir()
    head = heads / "j.head"
    j = Journal.create(db, active, now_s=active.clock_s, reason="t", head_path=head)
    saved = head.read_bytes()
    shutil.rmtree(heads)
    with pytest.raises(JournalWriteError, match="could not write its head file"):
        j.step(c.Tick(S), active.clock_s + MIN, library)
    assert j.last_seq == 2  # committed: the database has it
    j.close()
    heads.mkdir()
    head.write_bytes(saved)
    with Journal.open(db, head_path=head) as again:
        assert again.last_seq == 2
    assert read_head(head).seq == 2
