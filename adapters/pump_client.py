"""``itdose pump``: a command-line client of the operator API of ``itdose run``.

``itdose pump [--url URL] [--token-file FILE] COMMAND ...``; the token comes from ``--token-file``
or the ``ITDOSE_TOKEN`` environment variable (never from the command line, where other users could
read it). Exit codes: 0 done, 1 refused (by the core, the confirmation or the credential's role),
2 invalid input, 3 the API cannot be reached. A program change prints the old and new figures
side by side and is sent only after an explicit ``yes`` (or ``--yes``).
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "side_by_side"]

DEFAULT_URL = "http://127.0.0.1:8470"


class ClientError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _token(args: argparse.Namespace) -> str:
    if args.token_file:
        path = Path(args.token_file)
        while not path.exists() and time.monotonic() < args.deadline:
            time.sleep(0.5)  # --wait: the server writes the token files at the end of --init
        try:
            return path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ClientError(2, f"--token-file: cannot read {args.token_file}: {exc}") from None
    token = os.environ.get("ITDOSE_TOKEN", "").strip()
    if not token:
        raise ClientError(2, "--token-file: give a token file (or set ITDOSE_TOKEN)")
    return token


def request(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    url = args.url.rstrip("/") + "/api/v1" + path
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", "Bearer " + _token(args))
    if data is not None:
        req.add_header("Content-Type", "application/json")
    ctx = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
    while True:
        try:
            with urllib.request.urlopen(req, timeout=args.timeout, context=ctx) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except ValueError:
                message = exc.reason
            raise ClientError(2 if exc.code == 400 else 1, f"{exc.code}: {message}") from None
        except urllib.error.URLError as exc:
            refused = isinstance(exc.reason, ConnectionRefusedError)
            if not refused or time.monotonic() >= args.deadline:
                raise ClientError(3, f"cannot reach the pump at {args.url}: {exc}") from None
            time.sleep(0.5)  # --wait: the API starts once the setup has run
        except OSError as exc:
            raise ClientError(3, f"cannot reach the pump at {args.url}: {exc}") from None


def _print(doc: Any) -> None:
    print(json.dumps(doc, indent=1))


def side_by_side(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """The program change as a table: figure, old, new."""
    rows = [
        ("dose/day", "dose_per_day"),
        ("mL/day (worst case)", "ml_per_day"),
        ("max dose/day with boluses", "max_dose_per_day_with_boluses"),
        ("days to low-reservoir alarm", "days_to_low_reservoir"),
        ("low-reservoir date", "low_reservoir_date"),
    ]
    lines = [f"{'':30} {'old':>18} {'new':>18}"]
    for label, key in rows:
        o = "-" if old is None or old.get(key) is None else str(old[key])
        n = "-" if new.get(key) is None else str(new[key])
        mark = "" if o == n else "  <- changes"
        lines.append(f"{label:30} {o:>18} {n:>18}{mark}")
    return "\n".join(lines)


def _cmd(args: argparse.Namespace) -> Any:
    op = args.op
    if op == "status":
        status = request(args, "GET", "/status")
        if args.json:
            return status
        _status_text(status)
        return None
    if op == "bolus":
        answer = request(args, "POST", "/bolus", {})
        if not answer["granted"]:
            print(f"bolus denied: {', '.join(answer['reasons'])}", file=sys.stderr)
            _print(answer)
            raise ClientError(1, "bolus denied")
        return answer
    if op == "silence":
        return request(args, "POST", "/silence", {"alarm": args.alarm, "duration": args.duration})
    if op == "program":
        try:
            program = tomllib.loads(Path(args.file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ClientError(2, f"program file: cannot read {args.file}: {exc}") from None
        preview = request(args, "POST", "/clinician/program/preview", {"program": program})
        print(side_by_side(preview["old"], preview["new"]))
        if not args.yes:
            print("Send this program change? Type yes to send: ", end="", flush=True)
            answer = sys.stdin.readline().strip().lower()
            if answer != "yes":
                raise ClientError(1, "not confirmed: nothing sent")
        body = {"program": program, "confirmation": preview["confirmation"]}
        if args.confirm_withdrawal_risk:
            body["confirm_withdrawal_risk"] = True
        return request(args, "POST", "/clinician/program", body)
    if op == "refill":
        body = {"withdrawn": args.withdrawn, "volume": args.volume}
        if args.concentration:
            body["concentration"] = args.concentration
        if args.finding_reason:
            body["finding_reason"] = args.finding_reason
        return request(args, "POST", "/clinician/refill", body)
    if op in ("suspend", "resume"):
        body = {"reason": args.reason}
        if op == "suspend" and args.confirm_withdrawal_risk:
            body["confirm_withdrawal_risk"] = True
        return request(args, "POST", f"/clinician/{op}", body)
    if op == "mri":
        return request(args, "POST", "/clinician/mri", {"step": args.step, "reason": args.reason})
    if op == "clinician-bolus":
        return request(
            args, "POST", "/clinician/bolus", {"dose": args.dose, "duration": args.duration}
        )
    if op == "clear-alarm":
        return request(
            args, "POST", "/clinician/clear-alarm", {"alarm": args.alarm, "reason": args.reason}
        )
    if op == "audit":
        return request(args, "GET", f"/audit?limit={args.limit}")
    raise ClientError(2, f"unknown pump command {op}")  # pragma: no cover - argparse


def _status_text(s: dict[str, Any]) -> None:
    print(f"phase            {s['phase']}  ({s['utc']})")
    r = s.get("reservoir")
    if r:
        print(f"reservoir        {r['volume']} of {r['drug']} {r['concentration']}")
    roll = s["rolling_24h"]
    print(f"last 24 h        {roll['delivered']} of at most {roll['hard_max']}")
    prog = s.get("program")
    if prog:
        print(f"program          {prog['dose_per_day']} ({prog['ml_per_day']} worst case)")
        print(f"next refill      low-reservoir alarm {prog['low_reservoir_date'] or '-'}")
    pb = s.get("patient_bolus")
    if pb:
        print(
            f"patient bolus    {pb['taken_in_24h']} of {pb['max_per_24h']} in 24 h; "
            f"lockout {pb['lockout_remaining_s']} s"
        )
    if not s["alarms"]:
        print("alarms           none")
    for a in s["alarms"]:
        silenced = " (silenced)" if a["silenced"] else ""
        print(f"alarm            {a['priority']} {a['kind']}{silenced} since {a['raised_utc']}")


def pump_command(args: argparse.Namespace) -> int:
    if not 0 <= args.wait <= 3600:
        print(f"itdose pump: --wait: expected 0-3600 s, got {args.wait}", file=sys.stderr)
        return 2
    args.deadline = time.monotonic() + args.wait
    try:
        result = _cmd(args)
    except ClientError as exc:
        print(f"itdose pump: {exc}", file=sys.stderr)
        return exc.code
    if result is not None:
        _print(result)
    return 0


def add_parser(sub: Any) -> None:
    """Register ``itdose pump`` on the CLI's subparsers."""
    p = sub.add_parser("pump", help="talk to a running `itdose run` through its operator API")
    p.add_argument("--url", default=DEFAULT_URL, help=f"the API (default {DEFAULT_URL})")
    p.add_argument("--token-file", metavar="FILE", help="credential token file (or ITDOSE_TOKEN)")
    p.add_argument("--cafile", metavar="PEM", help="CA certificate for an https URL")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds (default 20)")
    p.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="S",
        help="wait up to S seconds for the token file and the API to appear (a starting run)",
    )
    ops = p.add_subparsers(dest="op", required=True)
    st = ops.add_parser("status", help="phase, reservoir, last 24 h, alarms, next refill")
    st.add_argument("--json", action="store_true", help="the API's JSON")
    ops.add_parser("bolus", help="patient bolus request (exit 1 if denied)")
    si = ops.add_parser("silence", help="silence an alarm")
    si.add_argument("alarm")
    si.add_argument("duration", help="e.g. '10 min'")
    pr = ops.add_parser("program", help="change the program (side by side, then confirm)")
    pr.add_argument("file", help="program file (TOML, as for check-program)")
    pr.add_argument("--yes", action="store_true", help="confirm without asking")
    pr.add_argument("--confirm-withdrawal-risk", action="store_true")
    rf = ops.add_parser("refill", help="refill the reservoir")
    rf.add_argument("--withdrawn", required=True, help="volume withdrawn, e.g. '3.2 mL'")
    rf.add_argument("--volume", required=True, help="volume added, e.g. '20 mL'")
    rf.add_argument("--concentration", help="new concentration (default: unchanged)")
    rf.add_argument("--finding-reason", help="reason for a volume discrepancy")
    for name in ("suspend", "resume"):
        x = ops.add_parser(name, help=f"{name} dosing")
        x.add_argument("--reason", default="clinician")
        if name == "suspend":
            x.add_argument("--confirm-withdrawal-risk", action="store_true")
    mr = ops.add_parser("mri", help="MRI: begin, end, confirm")
    mr.add_argument("step", choices=("begin", "end", "confirm"))
    mr.add_argument("--reason", default="recovery confirmed")
    cb = ops.add_parser("clinician-bolus", help="clinician bolus")
    cb.add_argument("dose", help="e.g. '0.2 mg'")
    cb.add_argument("duration", help="e.g. '10 min'")
    ca = ops.add_parser("clear-alarm", help="clear an alarm once its cause is resolved")
    ca.add_argument("alarm")
    ca.add_argument("--reason", default="cause resolved")
    au = ops.add_parser("audit", help="the last audit records")
    au.add_argument("--limit", type=int, default=50)
    p.set_defaults(fn=pump_command)
