"""``itdose log verify DB`` and ``itdose log show DB [--limit N]``: the journal from the shell.

The main CLI registers these with :func:`add_parser`. ``log verify`` exit codes:

* 0 **authentic**: every record's HMAC and the head file verified with the journal key;
* 1 **broken**: a check failed (the first bad record is named: a modified or forged record, a
  missing or rolled-back tail, a missing head file, a wrong key);
* 2 invalid input: no such file, a directory, an explicitly given key or head file missing,
  bad arguments (one line on stderr);
* 3 **intact but unkeyed**: no key file, so only the structure was checked (links, head file,
  snapshots); authenticity was NOT checked.

The key defaults to ``<journal>.key`` and the head file to ``<journal>.head`` (``--key``,
``--head``). ``log show`` exits 0 if the journal verifies (authentic or unkeyed), 1 if broken.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from itdose.adapters.journal import AuditEntry, VerifyReport, read_entries, verify_file
from itdose.adapters.paths import check_input_file
from itdose.core.errors import DosingError, InvalidInput

__all__ = ["add_parser", "format_entry", "main"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``log`` (with ``verify`` and ``show``) on the ``itdose`` sub-parsers."""
    log: argparse.ArgumentParser = subparsers.add_parser(
        "log", help="check or print a dosing journal (SQLite audit log)"
    )
    sub = log.add_subparsers(dest="log_command", required=True)
    verify = sub.add_parser(
        "verify",
        help="check the keyed chain, the head file and the snapshots (exit 0 authentic, "
        "1 broken, 2 invalid input, 3 intact but unkeyed: authenticity not checked)",
    )
    verify.add_argument("db", help="journal file")
    _key_options(verify)
    verify.set_defaults(fn=cmd_verify)
    show = sub.add_parser("show", help="print the audit records (time, actor, command, outcome)")
    show.add_argument("db", help="journal file")
    _key_options(show)
    show.add_argument("--limit", type=_positive, metavar="N", help="only the last N records")
    show.set_defaults(fn=cmd_show)
    return log


def _key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--key", metavar="FILE", help="journal key file (default: the journal's path + .key)"
    )
    parser.add_argument(
        "--head", metavar="FILE", help="head witness file (default: the journal's path + .head)"
    )


def _verify(args: argparse.Namespace) -> VerifyReport:
    for name in ("key", "head"):
        value = getattr(args, name, None)
        if value is not None and not Path(value).is_file():
            raise InvalidInput(name, "no such file (or not a regular file)", value=value)
    return verify_file(args.db, key_path=args.key, head_path=args.head)


def cmd_verify(args: argparse.Namespace) -> int:
    """``itdose log verify DB [--key FILE] [--head FILE]``."""
    try:
        check_input_file(args.db, "journal", max_bytes=None)
        report = _verify(args)
    except InvalidInput as exc:
        print(f"itdose: {exc}", file=sys.stderr)
        return 2
    if report.ok:
        print(f"{args.db}: {report.message}")
        return 0 if report.authenticated else 3
    where = f" at record {report.first_bad_seq}" if report.first_bad_seq else ""
    print(f"{args.db}: BROKEN{where}: {report.message}")
    return 1


def _when(entry: AuditEntry) -> str:
    if entry.wall_utc_s is None:
        return "-"
    try:
        return datetime.fromtimestamp(entry.wall_utc_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(entry.wall_utc_s)


def _what(entry: AuditEntry) -> str:
    if entry.command is None:
        return entry.kind
    try:
        doc = json.loads(entry.command)
    except ValueError:
        return "(unreadable command)"
    name = str(doc.get("name", "?"))
    fields = doc.get("fields")
    if not isinstance(fields, dict):
        return name
    params = " ".join(
        f"{k}={_short(v)}" for k, v in fields.items() if k != "role" and v not in (None, "", [])
    )
    return f"{name} {params}".rstrip()


def _short(value: object) -> str:
    text = json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def _effect_summary(effect: dict[str, Any]) -> str | None:
    kind = effect.get("type")
    if kind == "Record":
        return None
    if kind == "DeliveryOrder":
        return (
            f"order#{effect.get('order_id')} {effect.get('kind')} "
            f"{effect.get('volume_nl')} nL/{effect.get('duration_s')} s"
        )
    if kind == "BolusDecision":
        if effect.get("granted"):
            return f"bolus granted {effect.get('dose_ng')} ng"
        reasons = ",".join(effect.get("reasons") or ())
        return f"bolus denied ({reasons}; lockout {effect.get('lockout_remaining_s')} s)"
    if kind == "Annunciate":
        return f"alarm {effect.get('kind')} ({effect.get('priority')})"
    if kind == "StopDelivery":
        return "stop delivery"
    if kind == "CancelOrder":
        return f"cancel order#{effect.get('order_id')}"
    if kind == "Warn":
        return f"warn {effect.get('code')}"
    if kind == "Projection":
        return None
    return str(kind)


def _effects(entry: AuditEntry) -> str:
    try:
        effects = json.loads(entry.effects)
    except ValueError:
        return "(unreadable effects)"
    parts = [_effect_summary(e) for e in effects if isinstance(e, dict)]
    return "; ".join(p for p in parts if p)


def format_entry(entry: AuditEntry) -> str:
    """One readable line for an audit record."""
    outcome = entry.outcome
    tail = _effects(entry)
    if entry.outcome == "rejected":
        tail = entry.error
    elif entry.kind != "command":
        tail = entry.reason or entry.detail
    elif entry.reason:
        tail = f"{tail} [reason: {entry.reason}]" if tail else f"[reason: {entry.reason}]"
    return (
        f"{entry.seq:>6} {entry.time_s:>12} {_when(entry):<20} {entry.actor:<9} "
        f"{_what(entry)} -> {outcome}" + (f": {tail}" if tail else "")
    )


def cmd_show(args: argparse.Namespace) -> int:
    """``itdose log show DB [--limit N]``; also verifies, and exits 1 if the chain is broken."""
    try:
        check_input_file(args.db, "journal", max_bytes=None)
        report = _verify(args)
        entries = read_entries(args.db, args.limit)
    except InvalidInput as exc:
        print(f"itdose: {exc}", file=sys.stderr)
        return 2
    except DosingError as exc:
        print(f"itdose: {exc}", file=sys.stderr)
        return 1
    print(f"{'seq':>6} {'time_s':>12} {'wall (UTC)':<20} {'actor':<9} command -> outcome: effects")
    for entry in entries:
        print(format_entry(entry))
    if report.ok:
        print(f"chain: {report.message}")
        return 0
    where = f" at record {report.first_bad_seq}" if report.first_bad_seq else ""
    print(f"chain: BROKEN{where}: {report.message}")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``log`` on its own (``python -m itdose.adapters.log_cli verify DB``)."""
    parser = argparse.ArgumentParser(prog="itdose")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(["log", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.fn(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
