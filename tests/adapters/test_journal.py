"""The durable journal: write-ahead, restarts, clock set back, integrity, fail safe (H12)."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from itdose_testkit import HOUR, PATHS, C, P, S, run

from itdose.adapters import log_cli
from itdose.adapters.journal import (
    GENESIS_HASH,
    SCHEMA_VERSION,
    AuditEntry,
    Journal,
    JournalIntegrityError,
    JournalWriteError,
    _head_tag,
    default_head_path,
    default_key_path,
    fail_safe_device,
    load_key,
    read_head,
    salvage,
    verify_file,
)
from itdose.core import Device, Library, Phase, step, to_json
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.codec import decode
from itdose.core.commands import COMMANDS
from itdose.core.effects import Annunciate, BolusDecision, DeliveryOrder, StopDelivery
from itdose.core.errors import InvalidInput, RejectedCommand, SafeAction
from itdose.core.governor import Reason

MIN = 60


@pytest.fixture
def active(library: Library) -> Device:
    return run(PATHS[Phase.ACTIVE], library)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "journal.db"


def new_journal(db: Path, device: Device) -> Journal:
    assert device.clock_s is not None
    return Journal.create(db, device, now_s=device.clock_s, reason="test: first start")


def deliver_until(j: Journal, at: int, library: Library) -> None:
    """The drive completes every order in flight that ends by ``at`` (final reports, in order),
    as a controller would, also for orders found in flight after a restart."""
    for order in sorted(j.device.orders, key=lambda o: (o.end_s, o.id)):
        if order.end_s <= at:
            # a drive stops an order a bolus cut at the cut (R-TIP-3): what it moved by then
            moved = order.volume_nl
            if order.cut_s:
                moved = moved * (order.cut_s - order.start_s) // (order.end_s - order.start_s)
            report = c.DriveReport(S, order.id, moved, final=True)
            j.step(report, max(order.end_s, j.last_time_s), library)


def tick(j: Journal, at: int, library: Library) -> None:
    deliver_until(j, at, library)
    j.step(c.Tick(S), at, library)


def bolus(j: Journal, at: int, library: Library) -> BolusDecision:
    """Request a patient bolus at ``at`` (after the drive finished what ended by then)."""
    deliver_until(j, at, library)
    out = j.step(c.RequestBolus(P), at, library)
    return next(e for e in out.effects if isinstance(e, BolusDecision))


def raw(db: Path) -> sqlite3.Connection:
    """A direct connection to the file, with the append-only triggers dropped (as corruption or
    a careless edit would ignore them)."""
    conn = sqlite3.connect(db, isolation_level=None)
    for name in ("audit_append_only_update", "audit_append_only_delete", "snapshots_immutable"):
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    return conn


def rechain(conn: sqlite3.Connection, key: bytes) -> None:
    """Recompute every MAC and the head in the database (what only a forger holding the key
    would do; the head file is left as it was)."""
    prev = GENESIS_HASH
    rows = conn.execute("SELECT * FROM audit ORDER BY seq").fetchall()
    for row in rows:
        e = dataclasses.replace(AuditEntry(*row), prev_hash=prev)
        h = e.expected_hash(key)
        conn.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, e.seq))
        prev = h
    conn.execute("UPDATE meta SET value = ? WHERE key = 'head_hash'", (prev,))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'head_seq'", (str(len(rows)),))


@pytest.fixture
def history(db: Path, active: Device, library: Library) -> Iterator[Device]:
    """A closed journal with a few accepted and rejected commands; yields the last device."""
    assert active.clock_s is not None
    t = active.clock_s
    with new_journal(db, active) as j:
        tick(j, t + MIN, library)  # 2
        bolus(j, t + 2 * MIN, library)  # 3
        with pytest.raises(RejectedCommand):
            j.step(c.StartDosing(C), t + 20 * MIN, library)  # 4
        tick(j, t + 30 * MIN, library)  # 5: the bolus order's final report, 6: the tick
        device = j.device
        assert j.last_seq == 6 and device.phase is Phase.ACTIVE
    yield device


# -- round trip and write-ahead ---------------------------------------------------------------


def test_round_trip_resume_equals_the_last_state(
    db: Path, active: Device, library: Library
) -> None:
    """Resuming from the journal gives the last state (REQ-PERS-001)."""
    assert active.clock_s is not None
    j = new_journal(db, active)
    tick(j, active.clock_s + MIN, library)
    bolus(j, active.clock_s + 2 * MIN, library)
    tick(j, active.clock_s + 15 * MIN, library)
    last = j.device
    assert last.boluses != active.boluses and last.ledger != active.ledger
    j.close()
    with Journal.open(db) as again:
        rp = again.resume()
        assert rp.device == last
        assert rp.last_time_s == active.clock_s + 15 * MIN
        assert rp.last_seq == 5 and rp.snapshot_seq == 5
        assert again.verify().ok


def test_record_is_durable_before_it_returns(db: Path, active: Device, library: Library) -> None:
    """Write-ahead: once record returns, another connection already sees the decision."""
    assert active.clock_s is not None
    j = new_journal(db, active)
    out = step(active, c.RequestBolus(P), active.clock_s + MIN, library)
    j.record(c.RequestBolus(P), active.clock_s + MIN, out, wall_utc_s=1_700_000_000)
    with Journal.open(db, read_only=True) as reader:
        assert reader.resume().device == out.device
        entry = reader.entries()[-1]
        assert entry.outcome == "accepted" and '"BolusDecision"' in entry.effects
        assert entry.wall_utc_s == 1_700_000_000 and entry.actor == "patient"
    j.close()


def test_rejected_commands_are_audited_and_leave_the_state(
    db: Path, active: Device, library: Library
) -> None:
    assert active.clock_s is not None
    j = new_journal(db, active)
    with pytest.raises(RejectedCommand):
        j.step(c.Prime(C, duration_s=60), active.clock_s + MIN, library)
    assert j.device == active
    entry = j.entries()[-1]
    assert entry.outcome == "rejected" and "RejectedCommand" in entry.error
    assert entry.command is not None and '"prime"' in entry.command
    snapshots = j._conn.execute("SELECT count(*) FROM snapshots").fetchone()[0]
    assert snapshots == 1
    j.close()
    assert verify_file(db).ok


def test_a_crashed_process_loses_nothing_it_recorded(
    db: Path, active: Device, library: Library
) -> None:
    """The writer exits without closing (no checkpoint, the WAL left behind).

    Nothing recorded is lost by a crash (REQ-PERS-001).
    """
    assert active.clock_s is not None
    new_journal(db, active).close()
    script = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
from itdose.adapters.journal import Journal
from itdose.core import commands as c
from itdose.core.codec import decode
from itdose.core.commands import COMMANDS
from itdose.specs import load_library
from itdose_testkit import P
j = Journal.open({str(db)!r})
j.step(c.RequestBolus(P), {active.clock_s + MIN}, load_library())
os._exit(9)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    assert Path(f"{db}-wal").exists()
    with Journal.open(db) as j:
        assert j.last_seq == 2
        assert j.device.boluses != active.boluses


def test_sigkill_during_writes_keeps_every_committed_decision(
    db: Path, active: Device, library: Library
) -> None:
    """A writer killed with SIGKILL at an arbitrary moment: every record it saw committed is
    there, at most the one in progress is missing, and the journal verifies and resumes.

    Power loss keeps every committed decision (REQ-PERS-001).
    """
    assert active.clock_s is not None
    new_journal(db, active).close()
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
from itdose.adapters.journal import Journal
from itdose.core import commands as c
from itdose.core.codec import decode
from itdose.core.commands import COMMANDS
from itdose.specs import load_library
from itdose_testkit import S
lib = load_library()
j = Journal.open({str(db)!r})
t = {active.clock_s}
while True:
    t += 1
    j.step(c.Tick(S), t, lib)
    print(j.last_seq, flush=True)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    committed = 0
    for line in proc.stdout:
        committed = int(line)
        if committed >= 40:
            break
    time.sleep(0.01)
    proc.kill()
    rest = proc.stdout.read().split()
    proc.wait()
    committed = int(rest[-1]) if rest else committed
    with Journal.open(db) as j:
        assert committed <= j.last_seq <= committed + 1
        rp = j.resume()
        assert rp.device.clock_s == rp.last_time_s
        assert j.verify().ok


def test_snapshots_are_pruned_but_the_audit_log_is_not(
    db: Path, active: Device, library: Library
) -> None:
    assert active.clock_s is not None
    t = active.clock_s
    j = Journal.create(db, active, now_s=t, reason="test", keep_snapshots=3)
    for k in range(1, 11):
        j.step(c.Tick(S), t + k, library)
    kept = [r[0] for r in j._conn.execute("SELECT seq FROM snapshots ORDER BY seq")]
    assert kept == [9, 10, 11] and len(j.entries()) == 11
    last = j.device
    j.close()
    with Journal.open(db) as again:
        assert again.resume().device == last


def test_a_second_writer_cannot_fork_the_chain(db: Path, active: Device, library: Library) -> None:
    assert active.clock_s is not None
    first = new_journal(db, active)
    second = Journal.open(db)
    first.step(c.Tick(S), active.clock_s + 1, library)
    with pytest.raises(JournalWriteError):
        second.step(c.Tick(S), active.clock_s + 2, library)
    second.close()
    first.close()
    assert verify_file(db).ok


def test_record_checks_the_outcome_time(db: Path, active: Device, library: Library) -> None:
    assert active.clock_s is not None
    with new_journal(db, active) as j:
        out = step(active, c.Tick(S), active.clock_s + 10, library)
        with pytest.raises(InvalidInput, match="not decided at now_s"):
            j.record(c.Tick(S), active.clock_s + 11, out)
        assert j.last_seq == 1


# -- restart semantics (docs/dosing-rules.md#time) -------------------------------------------------


def test_lockout_survives_a_restart(db: Path, active: Device, library: Library) -> None:
    """A restart does not reset the lockout (REQ-PERS-001, REQ-TIME-003)."""
    assert active.clock_s is not None
    t = active.clock_s + HOUR
    with new_journal(db, active) as j:
        assert bolus(j, t, library).granted
    with Journal.open(db) as j:
        rp = j.resume()
        j.record_downtime(rp.last_time_s, t + 20 * MIN, reason="power loss")
        decision = bolus(j, t + 20 * MIN, library)
    assert not decision.granted
    assert Reason.LOCKOUT in decision.reasons and decision.lockout_remaining_s == 40 * MIN


def test_rolling_24h_totals_and_bolus_count_survive_a_restart(
    db: Path, active: Device, library: Library
) -> None:
    """A restart never resets the 24 h window or the bolus count (REQ-PERS-001, REQ-TIME-003)."""
    assert active.clock_s is not None
    t0 = active.clock_s + HOUR
    with new_journal(db, active) as j:
        for k in range(4):
            tick(j, t0 + k * 61 * MIN, library)
            assert bolus(j, t0 + k * 61 * MIN + 1, library).granted
            tick(j, t0 + k * 61 * MIN + 30 * MIN, library)
        deliver_until(j, t0 + 4 * HOUR, library)
        before = j.device
        assert before.phase is Phase.ACTIVE and before.ledger != active.ledger
    with Journal.open(db) as j:
        rp = j.resume()
        assert rp.device.ledger == before.ledger and rp.device.boluses == before.boluses
        later = rp.last_time_s + 2 * HOUR
        j.record_downtime(rp.last_time_s, later)
        decision = bolus(j, later, library)
    assert not decision.granted and Reason.BOLUS_COUNT in decision.reasons


def test_a_clock_set_back_never_shortens_a_lockout(
    db: Path, active: Device, library: Library
) -> None:
    """A bolus 20 min after a pre-restart bolus (60 min lockout) is denied after reopening,
    although the wall clock was set back 2 h meanwhile.

    Elapsed time only: a clock set back does not shorten a lockout (REQ-TIME-001, REQ-PERS-001).
    """
    assert active.clock_s is not None
    wall0 = active.clock_s + HOUR  # timeline = wall clock (offset 0) until the set-back
    with new_journal(db, active) as j:
        now = j.monotonic_now(wall0, mono_s=500)
        assert now == wall0
        assert bolus(j, now, library).granted
        last = j.last_time_s
    with Journal.open(db) as j:
        wall = wall0 + 20 * MIN - 2 * HOUR  # 20 minutes later, on a clock set back 2 h
        now = j.monotonic_now(wall, mono_s=17)  # a new process: another monotonic origin
        assert now == last  # never back
        entry = j.entries()[-1]
        assert entry.kind == "wall_clock_step" and "set back" in entry.reason
        assert j.clock_offset_s == last - wall
        decision = bolus(j, now, library)
        assert not decision.granted and Reason.LOCKOUT in decision.reasons
        assert decision.lockout_remaining_s >= 40 * MIN  # not shortened (here: lengthened)
    with Journal.open(db) as j:  # the offset is in the chain: time advances from there
        assert j.clock_offset_s == last - wall
        later = j.monotonic_now(wall + HOUR, mono_s=3)
        assert later == last + HOUR and j.entries()[-1].kind != "wall_clock_step"
        assert bolus(j, later, library).granted


def test_monotonic_now_passes_a_normal_clock_through(db: Path, active: Device) -> None:
    assert active.clock_s is not None
    with new_journal(db, active) as j:
        assert j.monotonic_now(active.clock_s + 5, mono_s=0) == active.clock_s + 5
        assert j.monotonic_now(active.clock_s + 65, mono_s=60) == active.clock_s + 65
        assert j.last_seq == 1
        with pytest.raises(InvalidInput):
            j.monotonic_now(1.5, mono_s=61)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            j.monotonic_now(active.clock_s + 66, mono_s=1.5)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="backwards"):
            j.monotonic_now(active.clock_s + 66, mono_s=59)
        assert j.last_seq == 1


def test_downtime_is_audited_and_checked(db: Path, active: Device) -> None:
    assert active.clock_s is not None
    with new_journal(db, active) as j:
        with pytest.raises(InvalidInput):
            j.record_downtime(active.clock_s + 10, active.clock_s + 5)
        j.record_downtime(active.clock_s, active.clock_s + HOUR, reason="restart")
        assert j.entries()[-1].kind == "downtime" and j.last_time_s == active.clock_s + HOUR


def test_create_never_overwrites_and_needs_a_reason(db: Path, active: Device) -> None:
    assert active.clock_s is not None
    with pytest.raises(InvalidInput, match="reason"):
        Journal.create(db, active, now_s=active.clock_s, reason=" ")
    new_journal(db, active).close()
    with pytest.raises(InvalidInput, match="already exists"):
        new_journal(db, active)
    with pytest.raises(InvalidInput, match="no such file"):
        Journal.open(db.with_name("missing.db"))
    assert not db.with_name("missing.db").exists()


# -- chain verification -----------------------------------------------------------------------


def expect_broken(db: Path, seq: int | None, words: str) -> JournalIntegrityError:
    with pytest.raises(JournalIntegrityError) as info:
        Journal.open(db)
    err = info.value
    assert err.seq == seq, str(err)
    assert words in str(err), str(err)
    assert err.safe_action is SafeAction.ALARM
    report = verify_file(db)
    assert not report.ok and report.first_bad_seq == seq
    return err


def test_the_history_fixture_verifies(db: Path, history: Device) -> None:
    report = verify_file(db)
    assert report.ok and report.records == 6, report


def test_a_modified_record_is_detected(db: Path, history: Device) -> None:
    """Integrity-checked on load (REQ-PERS-002)."""
    with raw(db) as conn:
        conn.execute(
            "UPDATE audit SET command = replace(command, 'patient', 'clinician') WHERE seq = 3"
        )
    expect_broken(db, 3, "hash does not match")


def test_a_deleted_record_is_detected(db: Path, history: Device) -> None:
    """Integrity-checked on load (REQ-PERS-002)."""
    with raw(db) as conn:
        conn.execute("DELETE FROM audit WHERE seq = 5")
    expect_broken(db, 5, "record 5 is missing")


def test_a_deleted_last_record_is_detected(db: Path, history: Device) -> None:
    """Integrity-checked on load (REQ-PERS-002)."""
    with raw(db) as conn:
        conn.execute("DELETE FROM snapshots WHERE seq = 6")
        conn.execute("DELETE FROM audit WHERE seq = 6")
    expect_broken(db, 5, "journal head says record 6")


def test_reordered_records_are_detected(db: Path, history: Device) -> None:
    """Integrity-checked on load (REQ-PERS-002)."""
    with raw(db) as conn:
        conn.execute("UPDATE audit SET seq = -1 WHERE seq = 4")
        conn.execute("UPDATE audit SET seq = 4 WHERE seq = 5")
        conn.execute("UPDATE audit SET seq = 5 WHERE seq = -1")
    expect_broken(db, 4, "prev_hash")


def test_a_modified_snapshot_is_detected(db: Path, history: Device) -> None:
    """Integrity-checked on load (REQ-PERS-002)."""
    with raw(db) as conn:
        conn.execute(
            "UPDATE snapshots SET state = replace(state, '\"active\"', '\"suspended\"')"
            " WHERE seq = 6"
        )
    expect_broken(db, 6, "does not match its sha256")


def test_a_substituted_snapshot_disagrees_with_the_chain(db: Path, history: Device) -> None:
    """An older, self-consistent snapshot put in place of the newest (e.g. a rolled-back page).

    Integrity-checked on load (REQ-PERS-002).
    """
    with raw(db) as conn:
        old = conn.execute("SELECT state, sha256 FROM snapshots WHERE seq = 2").fetchone()
        conn.execute("UPDATE snapshots SET state = ?, sha256 = ? WHERE seq = 6", old)
    expect_broken(db, 6, "disagrees with the audit chain")


def test_an_unreadable_snapshot_is_detected(db: Path, history: Device) -> None:
    """Even with the chain recomputed to match, a snapshot the core cannot decode is refused.

    Integrity-checked on load (REQ-PERS-002).
    """
    text = '{"schema": 99, "device": {}}'
    sha = hashlib.sha256(text.encode()).hexdigest()
    with raw(db) as conn:
        conn.execute("UPDATE snapshots SET state = ?, sha256 = ? WHERE seq = 6", (text, sha))
        conn.execute("UPDATE audit SET state_sha256 = ? WHERE seq = 6", (sha,))
        rechain(conn, load_key(default_key_path(db)))
    head = read_head(default_head_path(db))
    doc = json.loads(default_head_path(db).read_text())
    last_mac = sqlite3.connect(db).execute("SELECT hash FROM audit WHERE seq = 6").fetchone()[0]
    assert head.seq == 6 and head.mac != last_mac  # the forger must rewrite the head too
    doc["mac"] = last_mac
    doc["tag"] = _head_tag(load_key(default_key_path(db)), head.journal_id, 6, last_mac)
    default_head_path(db).write_text(json.dumps(doc))
    expect_broken(db, 6, "unreadable")


def test_a_missing_current_snapshot_is_detected(db: Path, history: Device) -> None:
    """Integrity-checked on load (REQ-PERS-002)."""
    with raw(db) as conn:
        conn.execute("DELETE FROM snapshots WHERE seq = 6")
    expect_broken(db, 6, "no snapshot of the current state")


def test_a_newer_schema_version_is_refused(db: Path, history: Device) -> None:
    with raw(db) as conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
        )
    expect_broken(db, None, "newer than this code knows")


def test_a_truncated_file_is_detected(db: Path, history: Device) -> None:
    """Integrity-checked on load (REQ-PERS-002)."""
    size = db.stat().st_size
    with db.open("r+b") as f:
        f.truncate(size // 2)
    expect_broken(db, None, "")


def test_an_empty_file_is_not_a_journal(db: Path) -> None:
    db.write_bytes(b"")
    expect_broken(db, None, "not an itdose journal")


def test_an_overwritten_header_is_detected(db: Path, history: Device) -> None:
    with db.open("r+b") as f:
        f.write(random.Random(1).randbytes(100))
    expect_broken(db, None, "unreadable")


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_in_a_record_are_detected(db: Path, history: Device, seed: int) -> None:
    """Random bytes over stored text (a snapshot or an audit record): the chain, the snapshot
    hashes or SQLite's own checks catch it.

    Integrity-checked on load (REQ-PERS-002).
    """
    data = db.read_bytes()
    rng = random.Random(seed)
    targets = [data.find(b'"request_bolus"'), data.find(b'"ledger"'), data.find(b"RejectedCommand")]
    at = rng.choice([t for t in targets if t > 0]) + rng.randrange(8)
    with db.open("r+b") as f:
        f.seek(at)
        f.write(rng.randbytes(6))
    with pytest.raises(JournalIntegrityError):
        Journal.open(db)
    assert not verify_file(db).ok


def test_a_random_page_overwritten_is_detected(db: Path, history: Device) -> None:
    """Integrity-checked on load (REQ-PERS-002)."""
    page = 4096
    pages = db.stat().st_size // page
    assert pages >= 3
    with db.open("r+b") as f:
        f.seek(page * (pages - 1))
        f.write(random.Random(7).randbytes(page))
    with pytest.raises(JournalIntegrityError):
        Journal.open(db)


# -- fail safe ----------------------------------------------------------------------------------


def test_fail_safe_raises_the_memory_fault_alarm(
    db: Path, history: Device, library: Library
) -> None:
    """An integrity failure fails safe: HIGH alarm, no bolus, no delivery until a clinician
    (REQ-PERS-002, REQ-ALM-004, REQ-ALM-001)."""
    with raw(db) as conn:
        conn.execute("UPDATE audit SET reason = 'edited' WHERE seq = 4")
    err = expect_broken(db, 4, "hash does not match")
    device = salvage(db)
    assert device == history  # the newest self-consistent snapshot
    assert history.clock_s is not None
    out = fail_safe_device(device, history.clock_s + MIN, library, detail=str(err))
    assert out.device.phase is Phase.ALARM and out.device.has_alarm(AlarmKind.MEMORY_FAULT)
    assert Annunciate(AlarmKind.MEMORY_FAULT, Priority.HIGH) in out.effects
    assert any(isinstance(e, StopDelivery) for e in out.effects)
    denied = step(out.device, c.RequestBolus(P), history.clock_s + 2 * HOUR, library)
    decision = next(e for e in denied.effects if isinstance(e, BolusDecision))
    assert not decision.granted
    ticked = step(denied.device, c.Tick(S), history.clock_s + 3 * HOUR, library)
    assert not any(isinstance(e, DeliveryOrder) for e in ticked.effects)
    # a clinician explicitly starts a new journal from the fail-safe state
    new = db.with_name("journal-2.db")
    with Journal.create(
        new, out.device, now_s=history.clock_s + MIN, reason=f"replaces {db.name}: {err}"
    ) as j:
        assert j.device.has_alarm(AlarmKind.MEMORY_FAULT)
    again = fail_safe_device(out.device, 0, library, detail="again")  # idempotent, time clamped
    assert again.device.alarms == out.device.alarms
    assert verify_file(new).ok


def test_fail_safe_refuses_to_start_from_nothing(library: Library, tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert salvage(junk) is None
    with pytest.raises(JournalIntegrityError, match="explicitly start a new journal"):
        fail_safe_device(salvage(junk), 0, library, detail="unreadable")


def test_fail_safe_before_implant_needs_a_clinician(library: Library) -> None:
    trial = run(PATHS[Phase.TRIAL], library)
    with pytest.raises(JournalIntegrityError, match="clinician must review"):
        fail_safe_device(trial, 1000, library, detail="chain broken")


# -- write failures -----------------------------------------------------------------------------


def assert_write_fails_cleanly(j: Journal, library: Library, *, small_too: bool = True) -> None:
    """A decision (audit record + snapshot) cannot be recorded: a clear error, nothing changed;
    with ``small_too``, neither can a rejected command or a downtime note."""
    head = (j.device, j.last_seq, j.last_time_s)
    with pytest.raises(JournalWriteError) as info:
        j.step(c.Tick(S), j.last_time_s + MIN, library)
    assert info.value.safe_action is SafeAction.ALARM
    assert "nothing recorded" in str(info.value)
    assert (j.device, j.last_seq, j.last_time_s) == head
    if not small_too:
        return
    with pytest.raises(JournalWriteError):  # a rejected command cannot be audited either
        j.step(c.StartDosing(C), j.last_time_s + MIN, library)
    with pytest.raises(JournalWriteError):
        j.record_downtime(j.last_time_s, j.last_time_s + 1)
    assert (j.device, j.last_seq, j.last_time_s) == head


def test_a_read_only_journal_refuses_to_record(db: Path, history: Device, library: Library) -> None:
    with Journal.open(db, read_only=True) as j:
        assert_write_fails_cleanly(j, library)
    assert verify_file(db).records == 6


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_write_protected_file_refuses_to_record(
    db: Path, history: Device, library: Library
) -> None:  # pragma: no cover - depends on the user
    db.chmod(0o444)
    try:
        with Journal.open(db) as j:
            assert_write_fails_cleanly(j, library)
    finally:
        db.chmod(0o644)


def test_a_full_database_refuses_to_record(db: Path, active: Device, library: Library) -> None:
    """``PRAGMA max_page_count`` stands in for a full disk."""
    assert active.clock_s is not None
    j = new_journal(db, active)
    pages = j._conn.execute("PRAGMA page_count").fetchone()[0]
    j._conn.execute(f"PRAGMA max_page_count = {pages}")
    t = active.clock_s
    with pytest.raises(JournalWriteError, match="full") as info:
        for _ in range(10_000):
            t += MIN
            j.step(c.Tick(S), t, library)
    assert info.value.seq == j.last_seq + 1
    assert_write_fails_cleanly(j, library, small_too=False)
    last = j.device
    j.close()
    with Journal.open(db) as again:
        assert again.resume().device == last


# -- log CLI --------------------------------------------------------------------------------------


def log(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="itdose")
    log_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.fn(args)
    return code


def test_log_verify(db: Path, history: Device, capsys: pytest.CaptureFixture[str]) -> None:
    assert log(["log", "verify", str(db)]) == 0
    assert "authentic: 6 records" in capsys.readouterr().out
    with raw(db) as conn:
        conn.execute("UPDATE audit SET time_s = time_s + 1 WHERE seq = 4")
    assert log(["log", "verify", str(db)]) == 1
    out = capsys.readouterr().out
    assert "BROKEN at record 4" in out
    assert log(["log", "verify", str(db.with_name("nope.db"))]) == 2


def test_log_show(db: Path, history: Device, capsys: pytest.CaptureFixture[str]) -> None:
    assert log(["log", "show", str(db)]) == 0
    out = capsys.readouterr().out
    assert "genesis" in out and "request_bolus -> accepted: bolus granted 100000 ng" in out
    assert "order#" in out and "start_dosing -> rejected: RejectedCommand" in out
    assert log(["log", "show", str(db), "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[1].split()[0] == "5"
    with pytest.raises(SystemExit) as info:
        log(["log", "show", str(db), "--limit", "0"])
    assert info.value.code == 2
    with raw(db) as conn:
        conn.execute("DELETE FROM audit WHERE seq = 2")
    assert log(["log", "show", str(db)]) == 1
    assert "BROKEN at record 2" in capsys.readouterr().out


def test_log_show_of_garbage_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00garbage" * 1000)
    assert log(["log", "show", str(junk)]) == 1
    assert log(["log", "verify", str(junk)]) == 1


# -- cost -----------------------------------------------------------------------------------------


def benchmark_write_cost(
    path: Path, device: Device, library: Library, n: int = 300
) -> dict[str, float]:
    """Milliseconds per recorded command (ticks each minute, drive reports as orders end; every
    accepted command writes a snapshot) against the bare core, and the reopen (verify) time."""
    assert device.clock_s is not None
    t0 = device.clock_s
    with Journal.create(path, device, now_s=t0, reason="benchmark") as j:
        start = time.perf_counter()
        for k in range(1, n + 1):
            tick(j, t0 + k * MIN, library)
        journaled = (time.perf_counter() - start) / (j.last_seq - 1)
        records = j.last_seq - 1
        commands = [(json.loads(e.command or "{}"), e.time_s) for e in j.entries()[1:]]
    start = time.perf_counter()
    d = device
    for doc, at in commands:
        d = step(d, decode(COMMANDS[doc["name"]], doc["fields"], "command"), at, library).device
    bare = (time.perf_counter() - start) / records
    start = time.perf_counter()
    Journal.open(path).close()
    reopen = time.perf_counter() - start
    return {
        "records": records,
        "core_step_ms": bare * 1000,
        "journaled_step_ms": journaled * 1000,
        "write_cost_ms": (journaled - bare) * 1000,
        "reopen_verify_ms": reopen * 1000,
        "file_bytes_per_record": path.stat().st_size / records,
        "snapshot_bytes": len(to_json(d)),
    }


def test_write_cost_benchmark(db: Path, active: Device, library: Library) -> None:
    result = benchmark_write_cost(db, active, library)
    print("\njournal write cost: " + ", ".join(f"{k}={v:.3f}" for k, v in result.items()))
    assert result["journaled_step_ms"] > 0
