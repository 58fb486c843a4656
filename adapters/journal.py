"""The durable journal: state snapshots and an authenticated audit log in SQLite.

See docs/architecture.md#journal and docs/journal.md. Hazard H12 (docs/clinical-basis.md#h12;
derived requirement docs/clinical-basis.md#derived-9): a restart must never lose the dose history,
reset the rolling 24 h window, the lockouts or the bolus counts, and no clock change may shorten a
lockout (docs/dosing-rules.md#time, docs/dosing-rules.md#clock-and-history). This module is the
shell's memory:

* **Write-ahead.** :meth:`Journal.record` (and :meth:`Journal.step`, which calls the core and
  records its answer) commits the decision before it returns: the audit record and the new state
  snapshot in one SQLite transaction, WAL mode, ``synchronous=FULL``, then the head witness
  (below). A caller issues drive orders only after it returns; if the commit fails it raises
  :class:`JournalWriteError` and the journal's in-memory head is unchanged, so the orders must not
  be issued. Rejected commands are audited too (state unchanged).
* **Authenticity (keyed chain, REQ-PERS-003).** Each audit record's ``hash`` is an HMAC-SHA256,
  under the device's journal key, of a canonical encoding of its fields and the previous record's
  ``hash`` (from the fixed :data:`GENESIS_HASH`); each record also carries the SHA-256 of the
  device state after it, and each snapshot the SHA-256 of its text. The key is 32 random bytes in
  a key file kept *outside* the database (default ``<journal>.key``, created with mode 0600 when
  the journal is created, never stored in the database; the database holds only a key id). Whoever
  can write the database but does not hold the key cannot modify, insert or forge a record.
* **Completeness (head witness, REQ-PERS-004).** The head (sequence number and MAC of the last
  record, with an HMAC tag under the key) is written to a sidecar head file (default
  ``<journal>.head``) after every commit, with the same durability (temporary file, fsync, rename,
  fsync of the directory). At :meth:`Journal.open` the chain must reach the witnessed record and
  carry its MAC: a deleted, truncated or rolled-back tail, an older copy of the whole database
  file, or a missing head file is refused. The database may be one record ahead of the head (a
  crash between the commit and the head write); opening it for writing completes the head.
  :class:`~itdose.adapters.durable.DurableController` also checks the drive's own command ids and
  delivered total against the journal at open (:func:`check_drive_witness`).
* **Verification.** On :meth:`Journal.open` the whole chain, the head witness, the snapshots and
  SQLite's own ``quick_check`` are verified; any failure raises :class:`JournalIntegrityError`
  (:class:`JournalKeyError` for the key, :class:`JournalRollbackError` for a missing tail or head)
  naming what failed and the first bad record. Without the key (:func:`verify_file` when the key
  file is absent) only the structure is checked, and the report says that authenticity was not.
* **Fail safe.** After an integrity failure nothing from the journal is trusted for dosing:
  :func:`salvage` finds the newest snapshot of the authentic prefix of the chain (or, without the
  key, the newest self-consistent one), :func:`fail_safe_device` raises the HIGH ``MEMORY_FAULT``
  alarm on it through :func:`itdose.core.step` (delivery stops, patient boluses are refused, the
  device stays in ``alarm`` until a clinician clears it). With no readable snapshot at all it
  refuses to build a fresh device: history is never silently rebuilt or reset; a clinician must
  start a new journal explicitly with :meth:`Journal.create`.
* **Time (REQ-TIME-008).** :meth:`Journal.monotonic_now` maps clock readings onto the journal's
  timeline. While a :class:`Journal` is open, elapsed time comes only from the monotonic reading
  (``mono_s``); the wall clock only bridges a restart (the first reading after opening: ``wall +
  offset``, never earlier than the last journaled time). A wall clock stepped while running (set
  back, set forward, or set back and later corrected) moves no time on the timeline; the step is
  audited (a ``wall_clock_step`` record with the new offset, kept in the chain for the next
  restart).

Schema version 2 (table ``meta``: key/value; ``audit``: the chain; ``snapshots``: state JSON from
:func:`itdose.core.to_json`). Audit rows are append-only (triggers refuse UPDATE and DELETE).

Limits (SAFETY.md "Journal integrity"): an attacker who holds the key can forge a whole history;
one who can replace both the database and the head file with an older consistent pair (every
copy) rolls the host-side history back undetected, and only the drive check at open (its command
ids and delivered total) can reveal it, when the lost tail contained a command the drive ran.
A wall clock set *forward while the controller is down* is indistinguishable from downtime.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import stat
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
    "WALL_STEP_TOLERANCE_S",
    "AuditEntry",
    "HeadWitness",
    "Journal",
    "JournalError",
    "JournalIntegrityError",
    "JournalKeyError",
    "JournalRollbackError",
    "JournalWriteError",
    "ResumePoint",
    "VerifyReport",
    "default_head_path",
    "default_key_path",
    "encode_command",
    "encode_effects",
    "fail_safe_device",
    "load_key",
    "read_entries",
    "read_head",
    "salvage",
    "verify_file",
]

SCHEMA_VERSION: Final = 2
"""Version of the journal's tables; a journal from a newer version is refused."""

GENESIS_HASH: Final = "0" * 64
"""The ``prev_hash`` of the first record."""

WALL_STEP_TOLERANCE_S: Final = 2
"""A wall clock that moves against the monotonic clock by more than this while the journal is
open is a step (audited, new offset); less is the two clocks' rounding to whole seconds."""

_MAC_TAG: Final = "itdose-journal/2"
_HEAD_FORMAT: Final = "itdose-journal-head/1"
_KEY_ID_TAG: Final = b"itdose-journal-key-id/1"
_KEY_BYTES: Final = 32

_DDL: Final = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('genesis', 'command', 'downtime', 'wall_clock_step')),
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


class JournalKeyError(JournalIntegrityError):
    """The journal key is missing, unreadable, readable by others, or not this journal's key: the
    history cannot be authenticated (nor extended)."""


class JournalRollbackError(JournalIntegrityError):
    """The journal is authentic as far as it goes but incomplete: its head witness is missing,
    or witnesses a record the database does not end with (a deleted, truncated or rolled-back
    tail, an older copy of the file), or the drive has run commands the journal never ordered.
    ``seq`` is the first record missing, when known."""


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

    def expected_hash(self, key: bytes) -> str:
        """The MAC this record must carry under ``key`` given its fields and ``prev_hash``."""
        return _record_mac(
            key,
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
    """The result of verifying a journal file.

    ``ok`` with ``authenticated``: the chain and the head were verified with the key (authentic).
    ``ok`` without ``authenticated``: the structure is intact (links, head, snapshots) but no MAC
    was checked (no key): anyone who can write the files could have produced it.
    """

    ok: bool
    records: int
    message: str
    first_bad_seq: int | None = None
    last_snapshot_seq: int | None = None
    last_time_s: int | None = None
    authenticated: bool = False


@dataclass(frozen=True)
class HeadWitness:
    """The sidecar head file: the last record's ``seq`` and ``mac`` for journal ``journal_id``,
    with ``tag``, an HMAC under the journal key (only the key holder can write a new one)."""

    journal_id: str
    seq: int
    mac: str
    tag: str


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


def _mac(key: bytes, value: object) -> str:
    return hmac.new(key, _canonical(value).encode("utf-8"), hashlib.sha256).hexdigest()


def _record_mac(
    key: bytes,
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
        _MAC_TAG,
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
    return _mac(key, fields)


def _head_tag(key: bytes, journal_id: str, seq: int, mac: str) -> str:
    return _mac(key, [_HEAD_FORMAT, journal_id, seq, mac])


def _key_id(key: bytes) -> str:
    return hmac.new(key, _KEY_ID_TAG, hashlib.sha256).hexdigest()[:32]


# -- key and head files -----------------------------------------------------------------------


def default_key_path(journal: str | os.PathLike[str]) -> Path:
    """Where the journal key lives unless told otherwise: ``<journal>.key`` beside the database."""
    return Path(f"{os.fspath(journal)}.key")


def default_head_path(journal: str | os.PathLike[str]) -> Path:
    """Where the head witness lives unless told otherwise: ``<journal>.head``."""
    return Path(f"{os.fspath(journal)}.head")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path.parent if str(path.parent) else Path("."), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_key(path: str | os.PathLike[str], journal: str = "?") -> bytes:
    """Read a journal key file (64 hex digits); raises :class:`JournalKeyError` if it is missing,
    not a regular file, owned by another user, readable or writable by group or others, or
    malformed."""
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise JournalKeyError(journal, f"journal key {p}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise JournalKeyError(journal, f"journal key {p}: not a regular file")
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise JournalKeyError(
            journal, f"journal key {p}: owned by another user (uid {st.st_uid}), not this process"
        )
    if st.st_mode & 0o077:
        raise JournalKeyError(
            journal,
            f"journal key {p}: mode {stat.S_IMODE(st.st_mode):04o} lets others read or write "
            "it (must be 0600)",
        )
    try:
        text = p.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, UnicodeDecodeError, ValueError):
        raise JournalKeyError(
            journal, f"journal key {p}: not {2 * _KEY_BYTES} hex digits"
        ) from None
    if len(key) != _KEY_BYTES:
        raise JournalKeyError(journal, f"journal key {p}: not {2 * _KEY_BYTES} hex digits")
    return key


def _create_key(path: Path, journal: str) -> bytes:
    """A new random key in a new file, mode 0600 from its creation, made durable."""
    key = secrets.token_bytes(_KEY_BYTES)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise JournalWriteError(
            journal, f"cannot create the journal key {path}: {exc.strerror}"
        ) from None
    try:
        os.write(fd, (key.hex() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path)
    return key


def _write_head(path: Path, key: bytes, journal_id: str, seq: int, mac: str) -> None:
    """Replace the head file atomically and durably (temp file, fsync, rename, fsync dir)."""
    doc = {
        "format": _HEAD_FORMAT,
        "journal_id": journal_id,
        "seq": seq,
        "mac": mac,
        "tag": _head_tag(key, journal_id, seq, mac),
    }
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        os.write(fd, (_canonical(doc) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path)


def read_head(path: str | os.PathLike[str]) -> HeadWitness:
    """Parse a head file (no key needed; the tag is checked against the key elsewhere); raises
    :class:`JournalRollbackError` if it is missing or malformed."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="ascii")
    except FileNotFoundError:
        raise JournalRollbackError(
            str(p),
            f"the head file {p} is missing: the journal's end cannot be confirmed "
            "(it may have been truncated or replaced by an older copy)",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JournalRollbackError(str(p), f"the head file {p} is unreadable: {exc}") from None
    try:
        doc = json.loads(raw)
        if doc["format"] != _HEAD_FORMAT:
            raise ValueError(doc["format"])
        seq, journal_id, mac, tag = doc["seq"], doc["journal_id"], doc["mac"], doc["tag"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError(seq)
        if not all(isinstance(v, str) for v in (journal_id, mac, tag)):
            raise ValueError("text")
    except (ValueError, KeyError, TypeError):
        raise JournalRollbackError(str(p), f"the head file {p} is malformed") from None
    return HeadWitness(journal_id, seq, mac, tag)


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
    journal_id: str
    genesis_detail: dict[str, Any]


class _Bad(Exception):
    """A failed check; ``cls`` is the error it becomes."""

    def __init__(
        self,
        message: str,
        seq: int | None = None,
        cls: type[JournalIntegrityError] = JournalIntegrityError,
    ) -> None:
        self.message = message
        self.seq = seq
        self.cls = cls
        super().__init__(message)

    def error(self, path: Path) -> JournalIntegrityError:
        return self.cls(str(path), self.message, seq=self.seq)


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
        raise _Bad(
            f"schema version {version} is not supported (expected {SCHEMA_VERSION}; a version 1 "
            "journal has an unkeyed chain: start a new journal)"
        )


def _genesis_detail(e: AuditEntry) -> dict[str, Any]:
    try:
        detail = json.loads(e.detail)
        if not isinstance(detail, dict):
            raise TypeError
        int(detail["clock_offset_s"])
        for name in ("journal_id", "key_id"):
            if not isinstance(detail[name], str):
                raise TypeError
    except (ValueError, KeyError, TypeError):
        raise _Bad("genesis record without a readable journal id, key id or offset", 1) from None
    return detail


def _verify(conn: sqlite3.Connection, key: bytes | None) -> tuple[_Head, int]:
    """Verify the chain (its MACs when ``key`` is given, its links always) and the snapshots;
    return the head and the record count, or raise :class:`_Bad`."""
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
    genesis: dict[str, Any] = {}
    for e in _entries(conn):
        if e.seq != expected_seq:
            if e.seq > expected_seq:
                raise _Bad(
                    f"record {expected_seq} is missing (next stored record is {e.seq})",
                    expected_seq,
                )
            raise _Bad(f"record {e.seq} out of order (expected {expected_seq})", e.seq)
        if (e.seq == 1) != (e.kind == "genesis"):
            raise _Bad(f"unexpected record kind {e.kind!r} at this position", e.seq)
        if e.seq == 1:
            genesis = _genesis_detail(e)
            if key is not None and not hmac.compare_digest(genesis["key_id"], _key_id(key)):
                raise _Bad(
                    "the journal key is not this journal's key (key id mismatch)",
                    None,
                    JournalKeyError,
                )
        if e.prev_hash != prev:
            raise _Bad(
                "prev_hash does not match the previous record's hash "
                "(a record before it was deleted, reordered or modified)",
                e.seq,
            )
        if key is not None and not hmac.compare_digest(e.expected_hash(key), e.hash):
            raise _Bad(
                "hash does not match the record's contents under the journal key "
                "(HMAC-SHA256; record modified or forged)",
                e.seq,
            )
        if e.seq > 1 and e.time_s < last_time:
            raise _Bad(f"time {e.time_s} s goes back before {last_time} s", e.seq)
        changes_state = e.kind == "genesis" or (e.kind == "command" and e.outcome == "accepted")
        if changes_state:
            state_sha, state_seq = e.state_sha256, e.seq
        elif e.state_sha256 != state_sha:
            raise _Bad("state hash changed on a record that does not change the state", e.seq)
        if e.kind in ("genesis", "wall_clock_step"):
            name = "clock_offset_s" if e.kind == "genesis" else "offset_s"
            try:
                offset = int(json.loads(e.detail)[name])
            except (ValueError, KeyError, TypeError):
                raise _Bad(f"{e.kind} record without a readable clock offset", e.seq) from None
        last_time = e.time_s
        if e.wall_utc_s is not None:
            last_wall = e.wall_utc_s
        prev = e.hash
        expected_seq += 1
    count = expected_seq - 1
    if count == 0:
        raise _Bad("the audit log is empty (no genesis record)", None, JournalRollbackError)
    if meta.get("journal_id") != genesis["journal_id"]:
        raise _Bad("meta journal_id disagrees with the genesis record")
    head_seq, head_hash = meta.get("head_seq"), meta.get("head_hash")
    if head_seq != str(count) or head_hash != prev:
        raise _Bad(
            f"the chain ends at record {count} but the journal head says record {head_seq} "
            "(records at the end were deleted or the head was altered)",
            count,
            JournalRollbackError,
        )
    device = _check_snapshots(conn, state_seq, state_sha)
    head = _Head(
        count,
        prev,
        state_sha,
        state_seq,
        last_time,
        offset,
        last_wall,
        device,
        str(genesis["journal_id"]),
        genesis,
    )
    return head, count


def _check_witness(
    conn: sqlite3.Connection,
    head: _Head,
    witness: HeadWitness,
    key: bytes | None,
    ahead_ok: int,
) -> int:
    """Check the head file against the verified chain; return how many records the database is
    ahead of it (at most ``ahead_ok``), or raise :class:`_Bad` (a rollback)."""
    if witness.journal_id != head.journal_id:
        raise _Bad(
            "the head file belongs to another journal (journal id mismatch): the database or "
            "the head file was replaced",
            None,
            JournalRollbackError,
        )
    if key is not None and not hmac.compare_digest(
        witness.tag, _head_tag(key, witness.journal_id, witness.seq, witness.mac)
    ):
        raise _Bad(
            "the head file's tag does not match under the journal key (written without the key)",
            None,
            JournalRollbackError,
        )
    count = head.seq
    if witness.seq > count:
        missing = f"record {count + 1}" + (f" to {witness.seq}" if witness.seq > count + 1 else "")
        raise _Bad(
            f"the journal ends at record {count} but its head file witnesses record "
            f"{witness.seq}: {missing} missing (a deleted or truncated tail, or an older copy "
            "of the database)",
            count + 1,
            JournalRollbackError,
        )
    row = conn.execute("SELECT hash FROM audit WHERE seq = ?", (witness.seq,)).fetchone()
    if row is None or not hmac.compare_digest(str(row[0]), witness.mac):
        raise _Bad(
            f"record {witness.seq} is not the record the head file witnesses (the database was "
            "replaced by another history)",
            witness.seq,
            JournalRollbackError,
        )
    lag = count - witness.seq
    if lag > ahead_ok:
        raise _Bad(
            f"the head file witnesses record {witness.seq} but the journal ends at record "
            f"{count}: the head file is older than the database (restored from a copy?)",
            witness.seq + 1,
            JournalRollbackError,
        )
    return lag


def _verified(
    path: Path,
    conn: sqlite3.Connection,
    key: bytes | None,
    head_path: Path,
    *,
    ahead_ok: int,
    retries: int,
) -> tuple[_Head, int, int]:
    """Read the head file, then verify the chain and the head against each other; a head file
    that lags more than ``ahead_ok`` is re-read up to ``retries`` times (a live writer)."""
    attempt = 0
    while True:
        try:
            witness = read_head(head_path)
        except JournalRollbackError as exc:
            raise _Bad(exc.message, None, JournalRollbackError) from None
        head, count = _verify(conn, key)
        try:
            lag = _check_witness(conn, head, witness, key, ahead_ok)
        except _Bad as bad:
            if attempt < retries and bad.cls is JournalRollbackError and witness.seq < head.seq:
                attempt += 1
                continue
            raise
        return head, count, lag


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


def _check_file(p: Path, what: str = "journal") -> None:
    """One clear line for a path that is not a regular file."""
    if p.is_dir():
        raise InvalidInput(what, "is a directory, not a journal file", value=str(p))
    if p.exists() and not p.is_file():
        raise InvalidInput(what, "is not a regular file", value=str(p))
    if not p.is_file():
        raise InvalidInput(what, "no such file", value=str(p))


def verify_file(
    path: str | os.PathLike[str],
    *,
    key_path: str | os.PathLike[str] | None = None,
    head_path: str | os.PathLike[str] | None = None,
) -> VerifyReport:
    """Verify a journal file read-only; never raises for a bad journal (see ``ok``).

    With the key (``key_path``, default ``<journal>.key``) the MACs and the head file's tag are
    checked (``authenticated``). When no key is given and the default key file does not exist,
    only the structure is checked and the message says that authenticity was not. The head file
    (default ``<journal>.head``) is always required. Raises :class:`InvalidInput` if there is no
    journal file at ``path`` (or it is a directory) or an explicitly given key file is missing.
    """
    p = Path(path)
    _check_file(p)
    kp = Path(key_path) if key_path is not None else default_key_path(p)
    hp = Path(head_path) if head_path is not None else default_head_path(p)
    key: bytes | None = None
    if key_path is not None or kp.exists():
        if key_path is not None and not kp.exists():
            raise InvalidInput("key", "no such file", value=str(kp))
        try:
            key = load_key(kp, str(p))
        except JournalKeyError as exc:
            return VerifyReport(False, 0, exc.message)
    try:
        conn = _connect(p, read_only=True)
    except sqlite3.Error as exc:
        return VerifyReport(False, 0, f"cannot open: {exc}")
    try:
        head, count, lag = _verified(p, conn, key, hp, ahead_ok=1, retries=3)
    except _Bad as bad:
        return VerifyReport(False, 0, bad.message, bad.seq)
    except sqlite3.DatabaseError as exc:
        return VerifyReport(False, 0, f"database file unreadable: {exc}")
    finally:
        conn.close()
    pending = f"; record {count} committed, its head not yet written" if lag else ""
    if key is None:
        message = (
            f"intact but unkeyed: {count} records, chain links, head file and snapshot "
            f"{head.state_seq} consistent{pending}; AUTHENTICITY NOT CHECKED (no key file "
            f"{kp}): anyone able to write the files could have produced this history"
        )
    else:
        message = (
            f"authentic: {count} records, every MAC and the head file verified with the key "
            f"{kp}, snapshot {head.state_seq} matches{pending}"
        )
    return VerifyReport(
        True, count, message, None, head.state_seq, head.last_time_s, authenticated=key is not None
    )


def read_entries(path: str | os.PathLike[str], limit: int | None = None) -> list[AuditEntry]:
    """The last ``limit`` audit records (all if None) in order, read-only and unverified.

    Raises :class:`InvalidInput` if there is no file, :class:`JournalIntegrityError` if the file
    cannot be read as a journal.
    """
    p = Path(path)
    _check_file(p)
    try:
        conn = _connect(p, read_only=True)
        try:
            return list(_entries(conn, limit))
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise JournalIntegrityError(str(p), f"cannot read the audit log: {exc}") from None


def salvage(
    path: str | os.PathLike[str], *, key_path: str | os.PathLike[str] | None = None
) -> Device | None:
    """The device to fail safe from after an integrity failure, or None.

    With the journal key (``key_path``, default ``<journal>.key``, if readable): the newest
    authentic snapshot (its record's MAC verifies under the key and the snapshot matches the
    state that record carries; a keyless forger can neither make such a record nor change one,
    only delete records, so it is the newest surviving genuine state). Without the key:
    the newest self-consistent snapshot (text matches its sha256 and decodes), which anyone able
    to write the file could have forged. Either may be older than the lost history, so it must
    never be used to dose without a clinician (:func:`fail_safe_device`).
    """
    p = Path(path)
    kp = Path(key_path) if key_path is not None else default_key_path(p)
    try:
        key: bytes | None = load_key(kp, str(p))
    except JournalKeyError:
        key = None
    try:
        conn = _connect(p, read_only=True)
    except sqlite3.Error:
        return None
    try:
        rows = conn.execute(
            "SELECT s.seq, s.state, s.sha256 FROM snapshots s ORDER BY s.seq DESC"
        ).fetchall()
        authentic: dict[int, str] | None = None
        if key is not None:
            authentic = _authentic_states(conn, key)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    for seq, state, sha in rows:
        if not isinstance(state, str) or _sha256(state) != sha:
            continue
        if authentic is not None and authentic.get(int(seq)) != sha:
            continue
        try:
            return from_json(state)
        except InvalidInput:
            continue
    return None


def _authentic_states(conn: sqlite3.Connection, key: bytes) -> dict[int, str]:
    """``seq -> state_sha256`` of the state-changing records whose own MAC verifies (only the
    key holder can have written them, whatever happened to the records around them)."""
    states: dict[int, str] = {}
    try:
        for e in _entries(conn):
            changes = e.kind == "genesis" or (e.kind == "command" and e.outcome == "accepted")
            if changes and hmac.compare_digest(e.expected_hash(key), e.hash):
                states[e.seq] = e.state_sha256
    except sqlite3.Error:
        pass
    return states


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


def _structure_first(p: Path) -> None:
    """Raise the structural failure of ``p`` (read without a key), if any."""
    try:
        conn = _connect(p, read_only=True)
    except sqlite3.Error as exc:
        raise JournalIntegrityError(str(p), f"cannot open: {exc}") from None
    try:
        _verify(conn, None)
    except _Bad as bad:
        if bad.cls is JournalIntegrityError:
            raise bad.error(p) from None
    except sqlite3.DatabaseError as exc:
        raise JournalIntegrityError(str(p), f"database file unreadable: {exc}") from None
    finally:
        conn.close()


def _whole(name: str, value: object) -> int:
    if type(value) is int:
        return value  # the common case (a bool's type is bool, not int)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(name, f"expected whole seconds, got {type(value).__name__}", value=value)
    return value


class Journal:
    """An open journal: the durable head of one device's history.

    Use :meth:`create` once per device (a clinician's explicit act) and :meth:`open` at every
    start; both verify and hold the current device (:attr:`device`).
    """

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        head: _Head,
        keep_snapshots: int | None,
        key: bytes | None,
        head_path: Path,
    ) -> None:
        self._path = path
        self._conn = conn
        self._head = head
        self._keep = keep_snapshots
        self._key = key
        self._head_path = head_path
        self._anchor: tuple[int, int] | None = None
        """(monotonic reading, timeline time) of the last clock reading since opening."""

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
        key_path: str | os.PathLike[str] | None = None,
        head_path: str | os.PathLike[str] | None = None,
        drive_witness: dict[str, int | None] | None = None,
    ) -> Journal:
        """Start a new journal at ``path`` (which must not exist) holding ``device``.

        ``reason`` says why (first start, or which failed journal this replaces). The timeline
        starts at ``now_s`` (no earlier than ``device.clock_s``); ``clock_offset_s`` maps the wall
        clock onto it (timeline = wall + offset). ``keep_snapshots`` bounds the snapshots kept
        (None: all); the audit log is never pruned.

        The journal key is read from ``key_path`` (default ``<journal>.key``) if that file exists
        (the device's key, shared by its successive journals; it must be mode 0600), else a new
        random key is created there with mode 0600. The head file (default ``<journal>.head``)
        must not exist. ``drive_witness`` (``delivered_nl_total``, ``max_order_id``: what the
        drive had done before this journal) is kept in the genesis record for the drive check at
        open.
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
        kp = Path(key_path) if key_path is not None else default_key_path(p)
        hp = Path(head_path) if head_path is not None else default_head_path(p)
        if hp.exists():
            raise InvalidInput(
                "head",
                "a head file already exists (it witnesses another journal; retire it "
                "deliberately before starting a new journal here)",
                value=str(hp),
            )
        created_key = not kp.exists()
        key = _create_key(kp, str(p)) if created_key else load_key(kp, str(p))
        journal_id = secrets.token_hex(16)
        state = to_json(device)
        sha = _sha256(state)
        detail = _canonical(
            {
                "clock_offset_s": clock_offset_s,
                "schema_version": SCHEMA_VERSION,
                "journal_id": journal_id,
                "key_id": _key_id(key),
                "drive": drive_witness,
                "in_flight_nl": sum(max(0, o.volume_nl - o.reported_nl) for o in device.orders),
            }
        )
        h = _record_mac(
            key,
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

        def clean_up() -> None:
            for leftover in (p, Path(f"{p}-wal"), Path(f"{p}-shm"), hp):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            if created_key:
                with contextlib.suppress(OSError):
                    kp.unlink()

        try:
            # The head first: a crash before the commit leaves a head and no journal (refused
            # at open), never a journal whose head is missing.
            _write_head(hp, key, journal_id, 1, h)
        except OSError as exc:
            clean_up()
            raise JournalWriteError(
                str(p), f"cannot write the head file {hp}: {exc.strerror}"
            ) from None
        try:
            conn = sqlite3.connect(str(p), isolation_level=None)
        except sqlite3.Error as exc:
            clean_up()
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
                    ("journal_id", journal_id),
                    ("key_id", _key_id(key)),
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
            clean_up()
            raise JournalWriteError(str(p), f"cannot create the journal: {exc}") from None
        head = _Head(
            1,
            h,
            sha,
            1,
            now_s,
            clock_offset_s,
            wall_utc_s,
            device,
            journal_id,
            json.loads(detail),
        )
        return cls(p, conn, head, keep_snapshots, key, hp)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        read_only: bool = False,
        keep_snapshots: int | None = 1000,
        key_path: str | os.PathLike[str] | None = None,
        head_path: str | os.PathLike[str] | None = None,
    ) -> Journal:
        """Open and verify the journal at ``path`` against its key and its head file.

        Raises :class:`JournalKeyError` (key missing, exposed or wrong; a read-only open without
        a key file verifies the structure only, see :attr:`authenticated`),
        :class:`JournalRollbackError` (head file missing, or the database does not end with the
        record it witnesses: a lost tail or an older copy), :class:`JournalIntegrityError` for
        any other failed check (the message names it and the first bad record), and
        :class:`InvalidInput` if there is no file (a missing journal is not silently created:
        use :meth:`create`). Opened for writing, a database one record ahead of its head file (a
        crash between a commit and its head write) has its head completed.
        """
        p = Path(path)
        if not p.is_file():
            _check_file(p)
            raise InvalidInput(
                "journal", "no such file (a new journal must be created explicitly)", value=str(p)
            )
        kp = Path(key_path) if key_path is not None else default_key_path(p)
        hp = Path(head_path) if head_path is not None else default_head_path(p)
        unkeyed = read_only and key_path is None and not kp.exists()
        try:
            key = None if unkeyed else load_key(kp, str(p))
        except JournalKeyError:
            _structure_first(p)  # a file that is no journal at all says so first
            raise
        try:
            conn = _connect(p, read_only=read_only)
        except sqlite3.Error as exc:
            raise JournalIntegrityError(str(p), f"cannot open: {exc}") from None
        try:
            if not read_only:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            head, _, lag = _verified(p, conn, key, hp, ahead_ok=1, retries=3 if read_only else 0)
            if lag and not read_only:
                assert key is not None
                _write_head(hp, key, head.journal_id, head.seq, head.hash)
        except _Bad as bad:
            conn.close()
            raise bad.error(p) from None
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise JournalIntegrityError(str(p), f"database file unreadable: {exc}") from None
        except OSError as exc:
            conn.close()
            raise JournalWriteError(
                str(p), f"cannot complete the head file {hp}: {exc.strerror}"
            ) from None
        return cls(p, conn, head, keep_snapshots, key, hp)

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
    def head_path(self) -> Path:
        return self._head_path

    @property
    def authenticated(self) -> bool:
        """True when opened with the key (every MAC verified); False for a read-only open
        without a key file (structure only)."""
        return self._key is not None

    @property
    def journal_id(self) -> str:
        return self._head.journal_id

    @property
    def drive_witness(self) -> dict[str, int | None] | None:
        """What the drive had done when this journal began (``delivered_nl_total``,
        ``max_order_id``), as recorded in the genesis record, or None."""
        value = self._head.genesis_detail.get("drive")
        if not isinstance(value, dict):
            return None
        return {
            k: (v if isinstance(v, int) and not isinstance(v, bool) else None)
            for k, v in value.items()
        }

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
        """Timeline minus wall clock, as last journaled (bridges the next restart)."""
        return self._head.clock_offset_s

    def ordered_nl_total(self) -> int:
        """The volume the journal ever allowed the drive to deliver: the orders in flight in the
        genesis state plus every accepted ``DeliveryOrder`` since. A drive that counted more
        since this journal began ran commands the journal does not hold."""
        raw = self._head.genesis_detail.get("in_flight_nl", 0)
        total = raw if isinstance(raw, int) and not isinstance(raw, bool) else 0
        for (effects,) in self._conn.execute(
            "SELECT effects FROM audit WHERE kind = 'command' AND outcome = 'accepted' "
            "AND effects LIKE '%DeliveryOrder%'"
        ):
            for effect in json.loads(effects):
                if isinstance(effect, dict) and effect.get("type") == "DeliveryOrder":
                    total += int(effect["volume_nl"])
        return total

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
        """Verify the whole journal again (chain, head file, snapshots, SQLite ``quick_check``)."""
        try:
            head, count, _ = _verified(
                self._path, self._conn, self._key, self._head_path, ahead_ok=1, retries=3
            )
        except _Bad as bad:
            return VerifyReport(False, 0, bad.message, bad.seq)
        except sqlite3.DatabaseError as exc:
            return VerifyReport(False, 0, f"database file unreadable: {exc}")
        return VerifyReport(
            True,
            count,
            "ok" if self._key is not None else "intact but unkeyed (authenticity not checked)",
            None,
            head.state_seq,
            head.last_time_s,
            authenticated=self._key is not None,
        )

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

    def monotonic_now(self, wall_now_s: int, *, mono_s: int) -> int:
        """The time to feed the core, from a wall clock reading and a monotonic one.

        The first reading after :meth:`open` or :meth:`create` bridges the restart with the wall
        clock: ``wall + offset`` (the offset as journaled), never earlier than the last journaled
        time; if it would be earlier (the wall clock was set back while nothing ran), the offset
        grows by the set-back, which is audited, and the last journaled time is returned.

        Every later reading takes elapsed time from ``mono_s`` only (a monotonic clock in whole
        seconds, e.g. ``time.monotonic()``; its origin does not matter): the timeline advances
        exactly as the monotonic clock does, never backwards and never faster, whatever the wall
        clock does. A wall clock that moved against it by more than
        :data:`WALL_STEP_TOLERANCE_S` (set back, set forward, or corrected) is audited as a
        ``wall_clock_step`` record with the new offset, so the next restart bridges from the
        corrected relation. A monotonic reading earlier than the previous one is refused with
        :class:`InvalidInput` (REQ-TIME-008, REQ-TIME-001).
        """
        wall = wall_now_s if type(wall_now_s) is int else _whole("wall_now_s", wall_now_s)
        mono = mono_s if type(mono_s) is int else _whole("mono_s", mono_s)
        h = self._head
        if self._anchor is None:
            t = wall + h.clock_offset_s
            if t < h.last_time_s:
                self._wall_step(h.last_time_s, wall, mono, bridging=True)
                t = h.last_time_s
            self._anchor = (mono, t)
            return t
        a_mono, a_t = self._anchor
        if mono < a_mono:
            raise InvalidInput(
                "mono_s", "the monotonic clock went backwards", value=mono, limit=f">= {a_mono}"
            )
        t = a_t + (mono - a_mono)
        if t < h.last_time_s:  # a record was given a later time: never go back before it
            t = h.last_time_s
        self._anchor = (mono, t)
        if abs((t - wall) - h.clock_offset_s) > WALL_STEP_TOLERANCE_S:
            self._wall_step(t, wall, mono, bridging=False)
        return t

    def mono_for(self, t_s: int) -> int | None:
        """The monotonic reading at which the timeline reaches ``t_s`` (None before the first
        :meth:`monotonic_now` since opening)."""
        if self._anchor is None:
            return None
        a_mono, a_t = self._anchor
        return t_s - a_t + a_mono

    def _wall_step(self, t: int, wall: int, mono: int, *, bridging: bool) -> None:
        h = self._head
        offset = t - wall
        step_s = h.clock_offset_s - offset  # > 0: the wall clock moved ahead of the timeline
        if step_s > 0:
            what = f"wall clock set forward by {step_s} s"
        else:
            what = f"wall clock set back by {-step_s} s"
        when = "while stopped" if bridging else "while running"
        self._append(
            kind="wall_clock_step",
            time_s=t,
            wall_utc_s=wall,
            actor=Role.SERVICE.value,
            command=None,
            outcome="noted",
            error="",
            effects="[]",
            reason=f"{what} {when}; timeline held at {t} s (elapsed time from the monotonic "
            "clock only)",
            detail=_canonical(
                {
                    "step_s": step_s,
                    "offset_s": offset,
                    "wall_s": wall,
                    "mono_s": mono,
                    "bridging": bridging,
                }
            ),
            state=None,
            device=None,
            offset=offset,
        )

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
        key = self._key
        if key is None:
            raise JournalWriteError(
                str(self._path),
                f"could not record {kind} {outcome}: the journal was opened without its key "
                "(read only; nothing recorded; do not act on it)",
                seq=seq,
            )
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
        digest = _record_mac(key, *fields)
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
        try:
            _write_head(self._head_path, key, h.journal_id, seq, digest)
        except OSError as exc:
            raise JournalWriteError(
                str(self._path),
                f"recorded {kind} {outcome} as record {seq} but could not write its head file "
                f"{self._head_path} ({exc.strerror}): do not act on it; stop and restart",
                seq=seq,
            ) from None
