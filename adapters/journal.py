"""The durable journal: state snapshots and a hash-chained audit log in SQLite (DESIGN.md 7).

Hazard H12 (clinical.md section 3; requirement 4.5 item 9): a restart must never lose the dose
history, reset the rolling 24 h window, the lockouts or the bolus counts, and a clock set back
must never shorten a lockout (DECISIONS.md "Time"). This module is the shell's memory:

* **Write-ahead.** :meth:`Journal.record` (and :meth:`Journal.step`, which calls the core and
  records its answer) commits the decision before it returns: the audit record and the new state
  snapshot in one SQLite transaction, WAL mode, ``synchronous=FULL``. A caller issues drive orders
  only after it returns; if the commit fails it raises :class:`JournalWriteError` and the
  journal's in-memory head is unchanged, so the orders must not be issued. Rejected commands are
  audited too (state unchanged).
* **Integrity.** Each audit record's ``hash`` is SHA-256 over a canonical encoding of its fields
  and the previous record's hash, from the fixed :data:`GENESIS_HASH`; each record also carries the
  SHA-256 of the device state after it, and each snapshot the SHA-256 of its text. On
  :meth:`Journal.open` the whole chain, the snapshots and SQLite's own ``quick_check`` are verified;
  any failure (unreadable or truncated file, a modified, deleted or reordered record, a snapshot
  that is unreadable or disagrees with the chain, a schema newer than this code) raises
  :class:`JournalIntegrityError` naming what failed and the first bad record.
* **Fail safe.** After an integrity failure nothing from the journal is trusted for dosing:
  :func:`salvage` finds the newest self-consistent snapshot, :func:`fail_safe_device` raises the
  HIGH ``MEMORY_FAULT`` alarm on it through :func:`itdose.core.step` (delivery stops, patient
  boluses are refused, the device stays in ``alarm`` until a clinician acts). With no readable
  snapshot at all it refuses to build a fresh device: history is never silently reset; a
  clinician must start a new journal explicitly with :meth:`Journal.create`.
* **Monotonic time.** :meth:`Journal.monotonic_now` maps the wall clock onto the journal's
  timeline, ``wall + offset``, never earlier than the last journaled time: a clock set back raises
  the offset by the set-back and is audited, so elapsed time (lockouts, the 24 h window) is never
  shortened. The offset is kept in the hash chain.

Schema version 1 (table ``meta``: key/value; ``audit``: the chain; ``snapshots``: state JSON from
:func:`itdose.core.to_json`). Audit rows are append-only (triggers refuse UPDATE and DELETE).

Limits: the chain detects accidental corruption and naive edits, not an adversary who rewrites
the file and recomputes every hash (that needs a key or an external anchor). A wall clock set
*forward* cannot be told apart from downtime after a restart; the controller should compare the
wall clock with a monotonic source while it runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from itdose.core.alarms import AlarmKind
from itdose.core.codec import encode
from itdose.core.commands import Command, RaiseAlarm
from itdose.core.effects import Effect
from itdose.core.errors import DosingError, InvalidInput, SafeAction
from itdose.core.library import Library
from itdose.core.machine import Outcome, step
from itdose.core.serialization import from_json, to_json
from itdose.core.state import Device, Role

__all__ = [
    "GENESIS_HASH",
    "SCHEMA_VERSION",
    "AuditEntry",
    "Journal",
    "JournalError",
    "JournalIntegrityError",
    "JournalWriteError",
    "ResumePoint",
    "VerifyReport",
    "encode_command",
    "encode_effects",
    "fail_safe_device",
    "read_entries",
    "salvage",
    "verify_file",
]

SCHEMA_VERSION: Final = 1
"""Version of the journal's tables; a journal from a newer version is refused."""

GENESIS_HASH: Final = "0" * 64
"""The ``prev_hash`` of the first record."""

_HASH_TAG: Final = "itdose-journal/1"

_DDL: Final = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('genesis', 'command', 'downtime', 'clock_set_back')),
    time_s INTEGER NOT NULL,
    wall_utc_s INTEGER,
    actor TEXT NOT NULL,
    command TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'noted')),
    error TEXT NOT NULL,
    effects TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    state_sha256 TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE snapshots (
    seq INTEGER PRIMARY KEY REFERENCES audit(seq),
    time_s INTEGER NOT NULL,
    state TEXT NOT NULL,
    sha256 TEXT NOT NULL
);
CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER snapshots_immutable BEFORE UPDATE ON snapshots
BEGIN SELECT RAISE(ABORT, 'snapshots are immutable'); END;
"""

_AUDIT_COLUMNS: Final = (
    "seq, kind, time_s, wall_utc_s, actor, command, outcome, error, effects, reason, detail, "
    "state_sha256, prev_hash, hash"
)


class JournalError(DosingError):
    """Base of the journal's errors: the dose history cannot be trusted or kept.

    The safe action is ALARM: stop the drive, annunciate, no patient boluses until a clinician acts.
    """

    safe_action = SafeAction.ALARM

    def __init__(self, path: str, message: str, *, seq: int | None = None) -> None:
        self.path = path
        self.seq = seq
        field = f"journal {path}" + (f" record {seq}" if seq is not None else "")
        super().__init__(field, message)


class JournalIntegrityError(JournalError):
    """The journal is unreadable, truncated, corrupted, its chain broken, its snapshot unreadable
    or inconsistent, or its schema newer than this code. ``seq`` is the first bad record (None if
    the failure is not tied to one record)."""


class JournalWriteError(JournalError):
    """A decision could not be made durable (read-only file, disk full, I/O error). Nothing was
    recorded: the caller must not carry out the decision's effects."""


@dataclass(frozen=True)
class AuditEntry:
    """One audit record as stored (JSON fields as text)."""

    seq: int
    kind: str
    time_s: int
    wall_utc_s: int | None
    actor: str
    command: str | None
    outcome: str
    error: str
    effects: str
    reason: str
    detail: str
    state_sha256: str
    prev_hash: str
    hash: str

    def expected_hash(self) -> str:
        """The hash this record must carry given its fields and ``prev_hash``."""
        return _record_hash(
            self.seq,
            self.kind,
            self.time_s,
            self.wall_utc_s,
            self.actor,
            self.command,
            self.outcome,
            self.error,
            self.effects,
            self.reason,
            self.detail,
            self.state_sha256,
            self.prev_hash,
        )


@dataclass(frozen=True)
class VerifyReport:
    """The result of verifying a journal file."""

    ok: bool
    records: int
    message: str
    first_bad_seq: int | None = None
    last_snapshot_seq: int | None = None
    last_time_s: int | None = None


@dataclass(frozen=True)
class ResumePoint:
    """Where a controller continues after a (re)start: the last journaled device, verified.

    ``device`` carries the ledger, lockouts, bolus counts, alarms, orders in flight and programs;
    ``last_time_s`` is the latest time on the journal's timeline (feed the core nothing earlier);
    ``last_wall_utc_s`` the wall clock at the latest record that had one (to estimate downtime).
    """

    device: Device
    last_time_s: int
    last_seq: int
    snapshot_seq: int
    head_hash: str
    clock_offset_s: int
    last_wall_utc_s: int | None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _record_hash(
    seq: int,
    kind: str,
    time_s: int,
    wall_utc_s: int | None,
    actor: str,
    command: str | None,
    outcome: str,
    error: str,
    effects: str,
    reason: str,
    detail: str,
    state_sha256: str,
    prev_hash: str,
) -> str:
    fields = [
        _HASH_TAG,
        seq,
        kind,
        time_s,
        wall_utc_s,
        actor,
        command,
        outcome,
        error,
        effects,
        reason,
        detail,
        state_sha256,
        prev_hash,
    ]
    return _sha256(_canonical(fields))


def encode_command(command: object) -> str:
    """The command as canonical JSON ``{"name": ..., "fields": {...}}`` (or its repr if it is not
    an encodable command: a malformed command is audited too)."""
    if isinstance(command, Command):
        try:
            return _canonical({"name": command.name, "fields": encode(command)})
        except TypeError:
            pass
    return _canonical(
        {"name": getattr(command, "name", type(command).__name__), "repr": repr(command)}
    )


def encode_effects(effects: tuple[Effect, ...]) -> str:
    """The effects as canonical JSON, each ``{"type": ClassName, ...fields}``."""
    return _canonical([{"type": type(e).__name__, **encode(e)} for e in effects])


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    mode = "ro" if read_only else "rw"
    uri = f"{path.resolve().as_uri()}?mode={mode}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=True)
    return conn


def _entries(conn: sqlite3.Connection, limit: int | None = None) -> Iterator[AuditEntry]:
    if limit is None:
        cur = conn.execute(f"SELECT {_AUDIT_COLUMNS} FROM audit ORDER BY seq")
    else:
        cur = conn.execute(
            f"SELECT {_AUDIT_COLUMNS} FROM (SELECT {_AUDIT_COLUMNS} FROM audit "
            "ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (limit,),
        )
    for row in cur:
        yield _entry(row)


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(*row)


@dataclass
class _Head:
    """What verification learns about the end of a journal."""

    seq: int
    hash: str
    state_sha256: str
    state_seq: int
    last_time_s: int
    clock_offset_s: int
    last_wall_utc_s: int | None
    device: Device


class _Bad(Exception):
    def __init__(self, message: str, seq: int | None = None) -> None:
        self.message = message
        self.seq = seq
        super().__init__(message)


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}


def _check_schema(meta: dict[str, str]) -> None:
    raw = meta.get("schema_version")
    if raw is None:
        raise _Bad("meta: no schema_version (not an itdose journal?)")
    try:
        version = int(raw)
    except ValueError:
        raise _Bad(f"meta: schema_version {raw!r} is not a number") from None
    if version > SCHEMA_VERSION:
        raise _Bad(
            f"schema version {version} is newer than this code knows ({SCHEMA_VERSION}); "
            "use a newer itdose, never an older one, to read it"
        )
    if version != SCHEMA_VERSION:
        raise _Bad(f"schema version {version} is not supported (expected {SCHEMA_VERSION})")


def _verify(conn: sqlite3.Connection) -> tuple[_Head, int]:
    """Verify everything; return the head and the record count, or raise :class:`_Bad`."""
    try:
        tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise _Bad(f"database file unreadable: {exc}") from None
    missing = {"meta", "audit", "snapshots"} - tables
    if missing:
        raise _Bad(f"not an itdose journal: missing table(s) {', '.join(sorted(missing))}")
    meta = _meta(conn)
    _check_schema(meta)
    problems = [str(r[0]) for r in conn.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise _Bad("SQLite quick_check failed: " + "; ".join(problems[:3]))
    prev = GENESIS_HASH
    expected_seq = 1
    state_sha = ""
    state_seq = 0
    last_time = 0
    offset = 0
    last_wall: int | None = None
    for e in _entries(conn):
        if e.seq != expected_seq:
            if e.seq > expected_seq:
                raise _Bad(
                    f"record {expected_seq} is missing (next stored record is {e.seq})",
                    expected_seq,
                )
            raise _Bad(f"record {e.seq} out of order (expected {expected_seq})", e.seq)
        if e.prev_hash != prev:
            raise _Bad(
                "prev_hash does not match the previous record's hash "
                "(a record before it was deleted, reordered or modified)",
                e.seq,
            )
        if e.expected_hash() != e.hash:
            raise _Bad("hash does not match the record's contents (record modified)", e.seq)
        if (e.seq == 1) != (e.kind == "genesis"):
            raise _Bad(f"unexpected record kind {e.kind!r} at this position", e.seq)
        if e.seq > 1 and e.time_s < last_time:
            raise _Bad(f"time {e.time_s} s goes back before {last_time} s", e.seq)
        changes_state = e.kind == "genesis" or (e.kind == "command" and e.outcome == "accepted")
        if changes_state:
            state_sha, state_seq = e.state_sha256, e.seq
        elif e.state_sha256 != state_sha:
            raise _Bad("state hash changed on a record that does not change the state", e.seq)
        if e.kind in ("genesis", "clock_set_back"):
            key = "clock_offset_s" if e.kind == "genesis" else "offset_s"
            try:
                offset = int(json.loads(e.detail)[key])
            except (ValueError, KeyError, TypeError):
                raise _Bad(f"{e.kind} record without a readable clock offset", e.seq) from None
        last_time = e.time_s
        if e.wall_utc_s is not None:
            last_wall = e.wall_utc_s
        prev = e.hash
        expected_seq += 1
    count = expected_seq - 1
    if count == 0:
        raise _Bad("the audit log is empty (no genesis record)")
    head_seq, head_hash = meta.get("head_seq"), meta.get("head_hash")
    if head_seq != str(count) or head_hash != prev:
        raise _Bad(
            f"the chain ends at record {count} but the journal head says record {head_seq} "
            "(records at the end were deleted or the head was altered)",
            count,
        )
    device = _check_snapshots(conn, state_seq, state_sha)
    head = _Head(count, prev, state_sha, state_seq, last_time, offset, last_wall, device)
    return head, count


def _check_snapshots(conn: sqlite3.Connection, state_seq: int, state_sha: str) -> Device:
    chained = {
        int(s): (str(h), int(t))
        for s, h, t in conn.execute(
            "SELECT seq, state_sha256, time_s FROM audit "
            "WHERE (kind = 'genesis' OR (kind = 'command' AND outcome = 'accepted')) "
            "AND seq >= (SELECT coalesce(min(seq), 0) FROM snapshots)"
        )
    }
    last: tuple[int, str] | None = None
    for seq, time_s, state, sha in conn.execute(
        "SELECT seq, time_s, state, sha256 FROM snapshots ORDER BY seq"
    ):
        if not isinstance(state, str) or _sha256(state) != sha:
            raise _Bad(f"snapshot {seq} does not match its sha256 (snapshot corrupted)", seq)
        if chained.get(seq) != (sha, time_s):
            raise _Bad(f"snapshot {seq} disagrees with the audit chain", seq)
        last = (seq, state)
    if last is None or last[0] != state_seq:
        found = "none" if last is None else f"the last is {last[0]}"
        raise _Bad(f"no snapshot of the current state (record {state_seq}; {found})", state_seq)
    try:
        device = from_json(last[1])
    except InvalidInput as exc:
        raise _Bad(f"snapshot {state_seq} unreadable: {exc}", state_seq) from None
    if _sha256(to_json(device)) != state_sha:
        raise _Bad(f"snapshot {state_seq} does not re-encode to its hash", state_seq)
    return device


def verify_file(path: str | os.PathLike[str]) -> VerifyReport:
    """Verify a journal file read-only; never raises for a bad journal (see ``ok``).

    Raises :class:`InvalidInput` if there is no file at ``path``.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInput("journal", "no such file", value=str(p))
    try:
        conn = _connect(p, read_only=True)
    except sqlite3.Error as exc:
        return VerifyReport(False, 0, f"cannot open: {exc}")
    try:
        head, count = _verify(conn)
    except _Bad as bad:
        return VerifyReport(False, 0, bad.message, bad.seq)
    except sqlite3.DatabaseError as exc:
        return VerifyReport(False, 0, f"database file unreadable: {exc}")
    finally:
        conn.close()
    return VerifyReport(
        True,
        count,
        f"ok: {count} records, chain intact, snapshot {head.state_seq} matches",
        None,
        head.state_seq,
        head.last_time_s,
    )


def read_entries(path: str | os.PathLike[str], limit: int | None = None) -> list[AuditEntry]:
    """The last ``limit`` audit records (all if None) in order, read-only and unverified.

    Raises :class:`InvalidInput` if there is no file, :class:`JournalIntegrityError` if the file
    cannot be read as a journal.
    """
    p = Path(path)
    if not p.is_file():
        raise InvalidInput("journal", "no such file", value=str(p))
    try:
        conn = _connect(p, read_only=True)
        try:
            return list(_entries(conn, limit))
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise JournalIntegrityError(str(p), f"cannot read the audit log: {exc}") from None


def salvage(path: str | os.PathLike[str]) -> Device | None:
    """The newest snapshot that is self-consistent (text matches its sha256 and decodes), or
    None. For :func:`fail_safe_device` only: it may be older than the lost history, so it must
    never be used to dose without a clinician."""
    p = Path(path)
    try:
        conn = _connect(p, read_only=True)
    except sqlite3.Error:
        return None
    try:
        rows = conn.execute("SELECT state, sha256 FROM snapshots ORDER BY seq DESC").fetchall()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    for state, sha in rows:
        if isinstance(state, str) and _sha256(state) == sha:
            try:
                return from_json(state)
            except InvalidInput:
                continue
    return None


def fail_safe_device(
    device: Device | None, now_s: int, library: Library, *, detail: str, path: str = "?"
) -> Outcome:
    """Raise the HIGH ``MEMORY_FAULT`` alarm on the last readable device (REQ 4.5 item 9).

    The alarm stops delivery and moves the device to ``alarm``, where patient boluses are denied
    and nothing is delivered until a clinician clears it. Without a device, or where no pump is
    implanted (no alarm can be raised), raises :class:`JournalIntegrityError`: the history is
    never silently reset; a clinician must review it and start a new journal explicitly
    (:meth:`Journal.create`).
    """
    if device is None:
        raise JournalIntegrityError(
            path,
            f"no readable state ({detail}); refusing to start from a fresh device: a clinician "
            "must review the patient's dose history and explicitly start a new journal",
        )
    at = max(now_s, device.clock_s or 0)
    command = RaiseAlarm(Role.SERVICE, AlarmKind.MEMORY_FAULT, detail=detail[:500])
    try:
        return step(device, command, at, library)
    except DosingError as exc:
        raise JournalIntegrityError(
            path,
            f"{detail}; the memory-fault alarm cannot be raised in phase "
            f"{device.phase.value!r} ({exc}): a clinician must review the dose history "
            "before any further command",
        ) from exc


class Journal:
    """An open journal: the durable head of one device's history.

    Use :meth:`create` once per device (a clinician's explicit act) and :meth:`open` at every
    start; both verify and hold the current device (:attr:`device`).
    """

    def __init__(
        self, path: Path, conn: sqlite3.Connection, head: _Head, keep_snapshots: int | None
    ) -> None:
        self._path = path
        self._conn = conn
        self._head = head
        self._keep = keep_snapshots

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        device: Device,
        *,
        now_s: int,
        reason: str,
        wall_utc_s: int | None = None,
        actor: Role = Role.CLINICIAN,
        clock_offset_s: int = 0,
        keep_snapshots: int | None = 1000,
    ) -> Journal:
        """Start a new journal at ``path`` (which must not exist) holding ``device``.

        ``reason`` says why (first start, or which failed journal this replaces). The timeline
        starts at ``now_s`` (no earlier than ``device.clock_s``); ``clock_offset_s`` maps the wall
        clock onto it (timeline = wall + offset). ``keep_snapshots`` bounds the snapshots kept
        (None: all); the audit log is never pruned.
        """
        p = Path(path)
        if not isinstance(device, Device):
            raise InvalidInput("device", f"expected a Device, got {type(device).__name__}")
        if not reason.strip():
            raise InvalidInput("reason", "a new journal needs a reason (who starts it and why)")
        if device.clock_s is not None and now_s < device.clock_s:
            raise InvalidInput("now_s", "before the device's clock", limit=f">= {device.clock_s}")
        if keep_snapshots is not None and keep_snapshots < 1:
            raise InvalidInput("keep_snapshots", "must keep at least one", value=keep_snapshots)
        if p.exists():
            raise InvalidInput(
                "journal", "already exists; a journal is never overwritten", value=str(p)
            )
        state = to_json(device)
        sha = _sha256(state)
        detail = _canonical({"clock_offset_s": clock_offset_s, "schema_version": SCHEMA_VERSION})
        h = _record_hash(
            1,
            "genesis",
            now_s,
            wall_utc_s,
            actor.value,
            None,
            "noted",
            "",
            "[]",
            reason,
            detail,
            sha,
            GENESIS_HASH,
        )
        try:
            conn = sqlite3.connect(str(p), isolation_level=None)
        except sqlite3.Error as exc:
            raise JournalWriteError(str(p), f"cannot create the journal: {exc}") from None
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("BEGIN IMMEDIATE")
            for statement in _DDL.split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("application", "itdose journal"),
                    ("created_time_s", str(now_s)),
                    ("created_wall_utc_s", "" if wall_utc_s is None else str(wall_utc_s)),
                    ("head_seq", "1"),
                    ("head_hash", h),
                ],
            )
            conn.execute(
                f"INSERT INTO audit ({_AUDIT_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    1,
                    "genesis",
                    now_s,
                    wall_utc_s,
                    actor.value,
                    None,
                    "noted",
                    "",
                    "[]",
                    reason,
                    detail,
                    sha,
                    GENESIS_HASH,
                    h,
                ),
            )
            conn.execute(
                "INSERT INTO snapshots (seq, time_s, state, sha256) VALUES (?, ?, ?, ?)",
                (1, now_s, state, sha),
            )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(Exception):
                conn.close()
            for leftover in (p, Path(f"{p}-wal"), Path(f"{p}-shm")):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            raise JournalWriteError(str(p), f"cannot create the journal: {exc}") from None
        head = _Head(1, h, sha, 1, now_s, clock_offset_s, wall_utc_s, device)
        return cls(p, conn, head, keep_snapshots)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        keep_snapshots: int | None = 1000,
    ) -> Journal:
        """Open and verify the journal at ``path``.

        Raises :class:`JournalIntegrityError` if any check fails (the message names it and the
        first bad record) and :class:`InvalidInput` if there is no file (a missing journal is not
        silently created: use :meth:`create`).
        """
        p = Path(path)
        if not p.is_file():
            raise InvalidInput(
                "journal", "no such file (a new journal must be created explicitly)", value=str(p)
            )
        try:
            conn = _connect(p, read_only=read_only)
        except sqlite3.Error as exc:
            raise JournalIntegrityError(str(p), f"cannot open: {exc}") from None
        try:
            if not read_only:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            head, _ = _verify(conn)
        except _Bad as bad:
            conn.close()
            raise JournalIntegrityError(str(p), bad.message, seq=bad.seq) from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise JournalIntegrityError(str(p), f"database file unreadable: {exc}") from None
        return cls(p, conn, head, keep_snapshots)

    def close(self) -> None:
        """Close the database (checkpointing the WAL)."""
        self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def device(self) -> Device:
        """The device state after the last journaled decision."""
        return self._head.device

    @property
    def last_time_s(self) -> int:
        """The latest time on the journal's timeline."""
        return self._head.last_time_s

    @property
    def last_seq(self) -> int:
        return self._head.seq

    @property
    def clock_offset_s(self) -> int:
        """Timeline minus wall clock (grows when the wall clock is set back)."""
        return self._head.clock_offset_s

    def resume(self) -> ResumePoint:
        """The verified point to continue from. Re-reads and re-checks the last snapshot
        (its sha256 and its agreement with the chain); raises :class:`JournalIntegrityError`."""
        h = self._head
        try:
            row = self._conn.execute(
                "SELECT s.state, s.sha256, a.state_sha256 FROM snapshots s "
                "JOIN audit a ON a.seq = s.seq WHERE s.seq = ?",
                (h.state_seq,),
            ).fetchone()
        except sqlite3.DatabaseError as exc:
            raise JournalIntegrityError(
                str(self._path), f"database file unreadable: {exc}"
            ) from None
        if row is None:
            raise JournalIntegrityError(
                str(self._path), "the snapshot of the current state is gone", seq=h.state_seq
            )
        state, sha, chained = row
        if not isinstance(state, str) or _sha256(state) != sha or sha != chained:
            raise JournalIntegrityError(
                str(self._path),
                "the snapshot of the current state does not match the chain",
                seq=h.state_seq,
            )
        try:
            device = from_json(state)
        except InvalidInput as exc:
            raise JournalIntegrityError(
                str(self._path), f"snapshot unreadable: {exc}", seq=h.state_seq
            ) from None
        if device != h.device:
            raise JournalIntegrityError(
                str(self._path), "the snapshot changed since it was verified", seq=h.state_seq
            )
        return ResumePoint(
            device=device,
            last_time_s=h.last_time_s,
            last_seq=h.seq,
            snapshot_seq=h.state_seq,
            head_hash=h.hash,
            clock_offset_s=h.clock_offset_s,
            last_wall_utc_s=h.last_wall_utc_s,
        )

    def verify(self) -> VerifyReport:
        """Verify the whole journal again (chain, snapshots, SQLite ``quick_check``)."""
        try:
            head, count = _verify(self._conn)
        except _Bad as bad:
            return VerifyReport(False, 0, bad.message, bad.seq)
        except sqlite3.DatabaseError as exc:
            return VerifyReport(False, 0, f"database file unreadable: {exc}")
        return VerifyReport(True, count, "ok", None, head.state_seq, head.last_time_s)

    def entries(self, limit: int | None = None) -> list[AuditEntry]:
        """The last ``limit`` audit records (all if None), oldest first."""
        return list(_entries(self._conn, limit))

    # -- writing -------------------------------------------------------------------------

    def step(
        self,
        command: Command,
        now_s: int,
        library: Library,
        *,
        wall_utc_s: int | None = None,
        reason: str = "",
    ) -> Outcome:
        """Apply ``command`` to :attr:`device` through :func:`itdose.core.step` and make the
        decision durable before returning it. A rejected command is audited, then its
        :class:`DosingError` re-raised; if recording fails, :class:`JournalWriteError` is raised
        instead (chained) and nothing changed."""
        try:
            outcome = step(self._head.device, command, now_s, library)
        except DosingError as exc:
            self.record(command, now_s, exc, wall_utc_s=wall_utc_s, reason=reason)
            raise
        self.record(command, now_s, outcome, wall_utc_s=wall_utc_s, reason=reason)
        return outcome

    def record(
        self,
        command: object,
        now_s: int,
        result: Outcome | DosingError,
        *,
        wall_utc_s: int | None = None,
        reason: str = "",
    ) -> None:
        """Durably record the core's answer to ``command`` applied to :attr:`device` at
        ``now_s``: an :class:`Outcome` (accepted: audit record and new snapshot in one
        transaction) or the :class:`DosingError` it raised (rejected: state unchanged).

        Returns only once committed; raises :class:`JournalWriteError` (nothing recorded, the
        in-memory head unchanged) if the commit fails, and :class:`InvalidInput` for an accepted
        outcome earlier than the journal's last time.
        """
        h = self._head
        actor = command.role.value if isinstance(command, Command) else "unknown"
        cmd_text = encode_command(command)
        if isinstance(result, Outcome):
            if now_s < h.last_time_s:
                raise InvalidInput(
                    "now_s",
                    "earlier than the journal's last time",
                    value=now_s,
                    limit=f">= {h.last_time_s}",
                )
            if result.device.clock_s != now_s:
                raise InvalidInput(
                    "result",
                    "the outcome was not decided at now_s",
                    value=result.device.clock_s,
                    limit=f"== {now_s}",
                )
            state = to_json(result.device)
            self._append(
                kind="command",
                time_s=now_s,
                wall_utc_s=wall_utc_s,
                actor=actor,
                command=cmd_text,
                outcome="accepted",
                error="",
                effects=encode_effects(result.effects),
                reason=reason,
                detail="{}",
                state=state,
                device=result.device,
            )
        elif isinstance(result, DosingError):
            at = max(now_s, h.last_time_s) if isinstance(now_s, int) else h.last_time_s
            detail = "{}" if at == now_s else _canonical({"requested_now_s": repr(now_s)})
            self._append(
                kind="command",
                time_s=at,
                wall_utc_s=wall_utc_s,
                actor=actor,
                command=cmd_text,
                outcome="rejected",
                error=f"{type(result).__name__}: {result}",
                effects="[]",
                reason=reason,
                detail=detail,
                state=None,
                device=None,
            )
        else:
            raise InvalidInput(
                "result", f"expected an Outcome or a DosingError, got {type(result).__name__}"
            )

    def record_downtime(self, from_s: int, to_s: int, *, reason: str = "") -> None:
        """Audit a period the controller was not running (crash, power loss, restart)."""
        h = self._head
        if not from_s <= to_s:
            raise InvalidInput("downtime", "from_s after to_s", value=(from_s, to_s))
        if to_s < h.last_time_s:
            raise InvalidInput(
                "to_s",
                "earlier than the journal's last time",
                value=to_s,
                limit=f">= {h.last_time_s}",
            )
        self._append(
            kind="downtime",
            time_s=to_s,
            wall_utc_s=None,
            actor=Role.SERVICE.value,
            command=None,
            outcome="noted",
            error="",
            effects="[]",
            reason=reason,
            detail=_canonical({"from_s": from_s, "to_s": to_s, "seconds": to_s - from_s}),
            state=None,
            device=None,
        )

    def note(
        self,
        name: str,
        *,
        actor: str,
        reason: str,
        detail: dict[str, object],
        wall_utc_s: int | None = None,
    ) -> None:
        """Audit a request that changes no state (an operator API request, refused ones too).

        Written as a ``command`` record with outcome ``noted`` at the journal's last time (the
        chain's times never go back), the request as ``{"name": name, "fields": detail}``.
        Raises :class:`JournalWriteError` if the commit fails (nothing recorded)."""
        self._append(
            kind="command",
            time_s=self._head.last_time_s,
            wall_utc_s=wall_utc_s,
            actor=actor,
            command=_canonical({"name": name, "fields": detail}),
            outcome="noted",
            error="",
            effects="[]",
            reason=reason,
            detail="{}",
            state=None,
            device=None,
        )

    def monotonic_now(self, wall_now_s: int) -> int:
        """The time to feed the core for the wall clock reading ``wall_now_s``.

        ``wall + offset``, never earlier than the last journaled time. When the wall clock was
        set back (the result would be earlier), the offset grows by the set-back, the set-back is
        audited (committed before this returns) and the last journaled time is returned: elapsed
        time on the timeline never runs backwards, so no lockout or 24 h window is shortened,
        and the timeline then advances with the wall clock again.
        """
        if isinstance(wall_now_s, bool) or not isinstance(wall_now_s, int):
            raise InvalidInput("wall_now_s", f"expected whole seconds, got {type(wall_now_s)}")
        h = self._head
        t = wall_now_s + h.clock_offset_s
        if t >= h.last_time_s:
            return t
        set_back = h.last_time_s - t
        offset = h.clock_offset_s + set_back
        self._append(
            kind="clock_set_back",
            time_s=h.last_time_s,
            wall_utc_s=wall_now_s,
            actor=Role.SERVICE.value,
            command=None,
            outcome="noted",
            error="",
            effects="[]",
            reason=f"wall clock set back by {set_back} s; timeline held at {h.last_time_s} s",
            detail=_canonical({"set_back_s": set_back, "offset_s": offset, "wall_s": wall_now_s}),
            state=None,
            device=None,
            offset=offset,
        )
        return h.last_time_s

    def _append(
        self,
        *,
        kind: str,
        time_s: int,
        wall_utc_s: int | None,
        actor: str,
        command: str | None,
        outcome: str,
        error: str,
        effects: str,
        reason: str,
        detail: str,
        state: str | None,
        device: Device | None,
        offset: int | None = None,
    ) -> None:
        h = self._head
        seq = h.seq + 1
        sha = _sha256(state) if state is not None else h.state_sha256
        fields = (
            seq,
            kind,
            time_s,
            wall_utc_s,
            actor,
            command,
            outcome,
            error,
            effects,
            reason,
            detail,
            sha,
            h.hash,
        )
        digest = _record_hash(*fields)
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    f"INSERT INTO audit ({_AUDIT_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*fields, digest),
                )
                if state is not None:
                    conn.execute(
                        "INSERT INTO snapshots (seq, time_s, state, sha256) VALUES (?, ?, ?, ?)",
                        (seq, time_s, state, sha),
                    )
                    if self._keep is not None:
                        conn.execute("DELETE FROM snapshots WHERE seq <= ?", (seq - self._keep,))
                conn.execute("UPDATE meta SET value = ? WHERE key = 'head_seq'", (str(seq),))
                conn.execute("UPDATE meta SET value = ? WHERE key = 'head_hash'", (digest,))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise JournalWriteError(
                str(self._path),
                f"could not record {kind} {outcome} (nothing recorded; do not act on it): {exc}",
                seq=seq,
            ) from None
        self._head = dataclasses.replace(
            h,
            seq=seq,
            hash=digest,
            state_sha256=sha,
            state_seq=seq if state is not None else h.state_seq,
            last_time_s=max(time_s, h.last_time_s),
            clock_offset_s=h.clock_offset_s if offset is None else offset,
            last_wall_utc_s=h.last_wall_utc_s if wall_utc_s is None else wall_utc_s,
            device=device if device is not None else h.device,
        )
