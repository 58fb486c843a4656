"""The operator API of ``itdose run``: HTTP + JSON, per-role credentials, every request audited.

* **Roles come from credentials** (:mod:`itdose.adapters.operator_auth`): the role of a request is
  the credential's; nothing in the body can change it. The core checks the role once more (its
  lifecycle table says which role may issue which command). The service role reads status and the
  audit log only: the core's service role is the controller itself, never a remote caller.
* **Failed attempts are rate-limited** per client address.
* **Every request is audited** in the journal (``api_request`` records: method, path, client,
  credential, status), refused ones too, before the answer is sent; a request that cannot be
  audited is refused (503). Commands are journaled as usual by the controller.
* **Loopback by default**: another address only with a TLS certificate and key.
* **Program changes need an explicit confirmation.** ``program/preview`` returns the old and new
  figures side by side and a confirmation code bound to both programs; ``program`` sends the
  change only with that code.

The routes are one table (:data:`ROUTES`); :func:`openapi_document` generates the OpenAPI 3.1
document from it (committed as docs/openapi.json, tested for drift).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from itdose.adapters.durable import JournalHalt
from itdose.adapters.journal import JournalError
from itdose.adapters.operator_auth import Credential, CredentialStore, FailureLimiter, check_bind
from itdose.adapters.program_file import parse_program
from itdose.adapters.run import Busy, PumpRunner, log
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.codec import encode
from itdose.core.dosing import projection
from itdose.core.effects import BolusDecision
from itdose.core.errors import DosingError, InvalidInput
from itdose.core.program import Program, basal_daily_ng
from itdose.core.state import Device, Role
from itdose.core.units import (
    DAY_S,
    format_amount_ng,
    format_concentration_ng_per_ml,
    format_duration_s,
    format_volume_nl,
    parse_amount_ng,
    parse_concentration_ng_per_ml,
    parse_duration_s,
    parse_volume_nl,
    volume_nl_for,
)

__all__ = ["ROUTES", "openapi_document", "page_policy", "start_server"]

API = "/api/v1"
MAX_BODY = 65_536
P, C, S = Role.PATIENT, Role.CLINICIAN, Role.SERVICE


# --------------------------------------------------------------------------------------------
# the API's operations (run on the controller's thread)


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _text(body: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = body.get(key, default)
    if not isinstance(value, str) or not value.strip() or len(value) > 2000:
        raise ApiError(400, f"{key}: expected a non-empty string", key)
    return value.strip()


def _bool(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise ApiError(400, f"{key}: expected true or false", key)
    return value


def _alarm(body: Mapping[str, Any]) -> AlarmKind:
    raw = _text(body, "alarm")
    try:
        return AlarmKind(raw)
    except ValueError:
        raise ApiError(400, f"alarm: unknown alarm {raw!r}", "alarm") from None


def _keys(body: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise ApiError(
            400, f"{extra[0]}: unknown field (allowed: {', '.join(sorted(allowed))})", extra[0]
        )


class Operations:
    """What each route does, on the controller's thread (see :class:`PumpRunner`)."""

    def __init__(self, runner: PumpRunner) -> None:
        self.runner = runner

    @property
    def device(self) -> Device:
        return self.runner.ctl.device

    def utc(self, t_s: int) -> int:
        return t_s - self.runner.ctl.journal.clock_offset_s

    @staticmethod
    def iso(utc_s: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(utc_s))

    def submit(self, command: c.Command) -> tuple[Any, ...]:
        return self.runner.ctl.submit(command).effects

    # ---------------------------------------------------------------- read

    def figures(self, d: Device, program: Program | None, now: int) -> dict[str, Any] | None:
        """Dose/day, mL/day and days to the low-reservoir alarm of ``program`` on ``d``
        (worst case: every allowed patient bolus taken, as the core's projection)."""
        if program is None:
            return None
        lib = self.runner.ctl.library
        basal = basal_daily_ng(program.basal)
        pb = program.patient_bolus
        worst = basal + (pb.dose_ng * pb.max_per_24h if pb else 0)
        conc = program.concentration_ng_per_ml
        per_day_nl = volume_nl_for(worst, conc)
        out: dict[str, Any] = {
            "dose_per_day": format_amount_ng(basal) + "/day",
            "dose_per_day_ng": basal,
            "max_dose_per_day_with_boluses": format_amount_ng(worst) + "/day",
            "ml_per_day": format_volume_nl(per_day_nl) + "/day",
            "nl_per_day": per_day_nl,
            "concentration": format_concentration_ng_per_ml(conc),
            "patient_bolus": None,
            "days_to_low_reservoir": None,
            "low_reservoir_date": None,
        }
        if pb is not None:
            out["patient_bolus"] = {
                "dose": format_amount_ng(pb.dose_ng),
                "duration": format_duration_s(pb.duration_s),
                "lockout": format_duration_s(pb.lockout_s),
                "max_per_24h": pb.max_per_24h,
            }
        proj = projection(dataclasses.replace(d, program=program), now, lib)
        if proj.low_reservoir_at_s is not None:
            days = (proj.low_reservoir_at_s - now) * 10 // DAY_S
            out["days_to_low_reservoir"] = f"{days // 10}.{days % 10}"
            out["low_reservoir_date"] = self.iso(self.utc(proj.low_reservoir_at_s))[:10]
        return out

    def status(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        d = self.device
        now = self.runner.now_s()
        lib = self.runner.ctl.library
        res = d.reservoir
        drug = (d.program.drug, d.program.indication) if d.program else None
        if drug is None and res is not None:
            drug = (res.drug, res.indication)
        rolling = d.ledger.window_total_ng(now)
        hard = lib.drug(*drug).max_daily.value if drug else None
        alarms = sorted(d.alarms, key=lambda a: (-a.priority, a.raised_at_s))
        system = None
        if d.implant is not None and res is not None:
            status = d.program.opioid_status if d.program else None
            system = {
                "pump": d.implant.pump,
                "drug": res.drug,
                "indication": res.indication,
                "concentration": format_concentration_ng_per_ml(res.concentration_ng_per_ml),
                "opioid_status": status.removeprefix("opioid-") if status else None,
            }
        out: dict[str, Any] = {
            "role": role.value,
            "system": system,
            "phase": d.phase.value,
            "time_s": now,
            "utc": self.iso(self.utc(now)),
            "delivering": self.runner.ctl.delivering,
            "reservoir": None,
            "rolling_24h": {
                "delivered": format_amount_ng(rolling),
                "delivered_ng": rolling,
                "hard_max": format_amount_ng(hard) if hard is not None else None,
                "hard_max_ng": hard,
            },
            "alarms": [
                {
                    "kind": a.kind.value,
                    "priority": a.priority.name,
                    "raised_utc": self.iso(self.utc(a.raised_at_s)),
                    "detail": a.detail,
                    "silenced": a.silenced_until_s is not None and a.silenced_until_s > now,
                }
                for a in alarms
            ],
            "program": self.figures(d, d.program, now),
            "patient_bolus": None,
            "delivered_lifetime": format_amount_ng(d.delivered_ng),
            "delivered_lifetime_ng": d.delivered_ng,
            "orders_in_flight": len(d.orders),
        }
        if res is not None:
            out["reservoir"] = {
                "drug": res.drug,
                "concentration": format_concentration_ng_per_ml(res.concentration_ng_per_ml),
                "volume": format_volume_nl(res.volume_nl),
                "volume_nl": res.volume_nl,
            }
        pb = d.program.patient_bolus if d.program else None
        if pb is not None:
            out["patient_bolus"] = {
                "lockout_remaining_s": d.boluses.lockout_remaining_s(now, pb.lockout_s),
                "taken_in_24h": d.boluses.count_in_window(now),
                "max_per_24h": pb.max_per_24h,
            }
        return out

    def audit(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        raw = body.get("limit", "50")
        if not isinstance(raw, str) or not raw.isdigit() or not 1 <= int(raw) <= 1000:
            raise ApiError(400, "limit: expected a whole number 1-1000", "limit")
        entries = self.runner.ctl.journal.entries(int(raw))
        return {
            "entries": [
                {
                    "seq": e.seq,
                    "kind": e.kind,
                    "time_s": e.time_s,
                    "actor": e.actor,
                    "command": json.loads(e.command) if e.command else None,
                    "outcome": e.outcome,
                    "error": e.error,
                    "reason": e.reason,
                    "detail": json.loads(e.detail) if e.detail else None,
                }
                for e in entries
            ]
        }

    # ---------------------------------------------------------------- commands

    def bolus(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        _keys(body, set())
        effects = self.submit(c.RequestBolus(role))
        decision = next((e for e in effects if isinstance(e, BolusDecision)), None)
        if decision is None:  # pragma: no cover - the core always answers a request
            raise ApiError(500, "the core gave no bolus decision")
        return {
            "granted": decision.granted,
            "dose": format_amount_ng(decision.dose_ng),
            "reasons": [r.value for r in decision.reasons],
            "lockout_remaining_s": decision.lockout_remaining_s,
        }

    def silence(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        _keys(body, {"alarm", "duration"})
        duration = parse_duration_s(_text(body, "duration"), "duration")
        self.submit(c.SilenceAlarm(role, _alarm(body), duration))
        return {"silenced": body["alarm"], "for": format_duration_s(duration)}

    def _program(self, body: Mapping[str, Any]) -> tuple[Program, tuple[c.Override, ...]]:
        raw = body.get("program")
        if not isinstance(raw, Mapping):
            raise ApiError(
                400, "program: expected a program table (the program file's fields)", "program"
            )
        pf = parse_program(raw, int(time.time()))
        d = self.device
        if d.implant is None or pf.pump != d.implant.pump:
            raise ApiError(
                409, f"program.pump: {pf.pump!r} is not the implanted pump", "program.pump"
            )
        return pf.program, tuple(c.Override(limit, reason) for limit, reason in pf.overrides)

    def _confirmation(self, new: Program, overrides: tuple[c.Override, ...]) -> str:
        old = self.device.program
        doc = {
            "old": encode(old) if old else None,
            "new": encode(new),
            "overrides": encode(overrides),
        }
        text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def program_preview(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        _keys(body, {"program"})
        new, overrides = self._program(body)
        now = self.runner.now_s()
        d = self.device
        return {
            "old": self.figures(d, d.program, now),
            "new": self.figures(d, new, now),
            "confirmation": self._confirmation(new, overrides),
        }

    def program(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        _keys(body, {"program", "confirmation", "confirm_withdrawal_risk"})
        new, overrides = self._program(body)
        given = body.get("confirmation")
        if not isinstance(given, str) or not hmac.compare_digest(
            given, self._confirmation(new, overrides)
        ):
            raise ApiError(
                409,
                "confirmation: missing or does not match this change (preview it, check old and "
                "new side by side, then send the preview's confirmation)",
                "confirmation",
            )
        risk = _bool(body, "confirm_withdrawal_risk")
        self.submit(c.SetProgram(role, new, overrides, risk, int(time.time())))
        return {"program": self.figures(self.device, new, self.runner.now_s())}

    def refill(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        _keys(body, {"withdrawn", "volume", "concentration", "finding_reason"})
        withdrawn = parse_volume_nl(_text(body, "withdrawn"), "withdrawn")
        added = parse_volume_nl(_text(body, "volume"), "volume")
        res = self.device.reservoir
        if "concentration" in body:
            conc = parse_concentration_ng_per_ml(_text(body, "concentration"), "concentration")
        elif res is not None:
            conc = res.concentration_ng_per_ml
        else:
            raise ApiError(400, "concentration: required (no reservoir yet)", "concentration")
        reason = body.get("finding_reason", "")
        if not isinstance(reason, str):
            raise ApiError(400, "finding_reason: expected a string", "finding_reason")
        self.submit(c.BeginRefill(role))
        try:
            self.submit(c.RecordWithdrawal(role, withdrawn))
            self.submit(c.CompleteRefill(role, added, conc, None, None, reason))
        except DosingError as exc:
            self.submit(c.AbortRefill(role, f"refill refused: {exc}"[:500]))
            raise
        r = self.device.reservoir
        return {"reservoir": format_volume_nl(r.volume_nl) if r else None}

    def suspend(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        _keys(body, {"reason", "confirm_withdrawal_risk"})
        self.submit(
            c.Suspend(
                role, _text(body, "reason", "clinician"), _bool(body, "confirm_withdrawal_risk")
            )
        )
        return {"phase": self.device.phase.value}

    def resume(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        _keys(body, {"reason"})
        self.submit(c.Resume(role, _text(body, "reason", "clinician")))
        return {"phase": self.device.phase.value}

    def mri(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        _keys(body, {"step", "reason"})
        step = body.get("step")
        if step == "begin":
            self.submit(c.BeginMri(role))
        elif step == "end":
            self.submit(c.EndMri(role))
        elif step == "confirm":
            self.submit(c.ConfirmPostMri(role, _text(body, "reason", "recovery confirmed")))
        else:
            raise ApiError(400, "step: expected begin, end or confirm", "step")
        return {"phase": self.device.phase.value}

    def clinician_bolus(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        _keys(body, {"dose", "duration"})
        dose = parse_amount_ng(_text(body, "dose"), "dose")
        duration = parse_duration_s(_text(body, "duration"), "duration")
        self.submit(c.ClinicianBolus(role, dose, duration))
        return {"dose": format_amount_ng(dose), "duration": format_duration_s(duration)}

    def clear_alarm(self, role: Role, body: Mapping[str, Any]) -> dict[str, Any]:
        _keys(body, {"alarm", "reason"})
        self.submit(c.ClearAlarm(role, _alarm(body), _text(body, "reason", "cause resolved")))
        return {"phase": self.device.phase.value}


# --------------------------------------------------------------------------------------------
# routes


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    roles: frozenset[Role]
    op: str
    summary: str
    body: Mapping[str, str] | None = None
    """Body fields -> description (None: no body)."""


_ALL = frozenset({P, C, S})
_PC = frozenset({P, C})
_C = frozenset({C})
_CS = frozenset({C, S})

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        f"{API}/status",
        _ALL,
        "status",
        "Phase, reservoir, rolling 24 h against the hard maximum, alarms, "
        "projected low-reservoir date",
    ),
    Route(
        "POST",
        f"{API}/bolus",
        frozenset({P}),
        "bolus",
        "Patient bolus request (the governor grants or denies it)",
        {},
    ),
    Route(
        "POST",
        f"{API}/silence",
        _PC,
        "silence",
        "Silence an alarm for a while",
        {"alarm": "alarm kind", "duration": "e.g. '10 min'"},
    ),
    Route(
        "POST",
        f"{API}/clinician/program/preview",
        _C,
        "program_preview",
        "Old and new program figures side by side, and the confirmation code",
        {"program": "program table (program file fields)"},
    ),
    Route(
        "POST",
        f"{API}/clinician/program",
        _C,
        "program",
        "Send a program change (needs the preview's confirmation)",
        {
            "program": "program table",
            "confirmation": "code from the preview",
            "confirm_withdrawal_risk": "boolean (baclofen cuts)",
        },
    ),
    Route(
        "POST",
        f"{API}/clinician/refill",
        _C,
        "refill",
        "Refill: withdrawn volume, added volume, optional new concentration",
        {
            "withdrawn": "e.g. '3.2 mL'",
            "volume": "e.g. '20 mL'",
            "concentration": "e.g. '10 mg/mL' (default: unchanged)",
            "finding_reason": "reason for a discrepancy",
        },
    ),
    Route(
        "POST",
        f"{API}/clinician/suspend",
        _C,
        "suspend",
        "Suspend dosing",
        {"reason": "text", "confirm_withdrawal_risk": "boolean"},
    ),
    Route("POST", f"{API}/clinician/resume", _C, "resume", "Resume dosing", {"reason": "text"}),
    Route(
        "POST",
        f"{API}/clinician/mri",
        _C,
        "mri",
        "MRI: begin, end, confirm recovery",
        {"step": "begin | end | confirm", "reason": "text"},
    ),
    Route(
        "POST",
        f"{API}/clinician/bolus",
        _C,
        "clinician_bolus",
        "Clinician bolus",
        {"dose": "e.g. '0.2 mg'", "duration": "e.g. '10 min'"},
    ),
    Route(
        "POST",
        f"{API}/clinician/clear-alarm",
        _C,
        "clear_alarm",
        "Clear an alarm once its cause is resolved",
        {"alarm": "alarm kind", "reason": "text"},
    ),
    Route(
        "GET", f"{API}/audit", _CS, "audit", "The last audit records of the journal (query: limit)"
    ),
)


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of :data:`ROUTES` (committed as docs/openapi.json)."""
    error = {"$ref": "#/components/schemas/Error"}
    paths: dict[str, Any] = {}
    for r in ROUTES:
        op: dict[str, Any] = {
            "operationId": r.op,
            "summary": r.summary,
            "description": "Roles: " + ", ".join(sorted(x.value for x in r.roles)) + ".",
            "security": [{"bearer": []}],
            "responses": {
                "200": {
                    "description": "done",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                **{
                    str(code): {
                        "description": text,
                        "content": {"application/json": {"schema": error}},
                    }
                    for code, text in (
                        (400, "invalid input (the field is named)"),
                        (401, "no or wrong credential"),
                        (403, "the credential's role may not do this"),
                        (409, "refused by the dosing core or not confirmed"),
                        (429, "too many failed attempts from this address"),
                        (503, "the controller cannot take it now (or cannot audit it)"),
                    )
                },
            },
        }
        if r.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                k: {
                                    "description": v,
                                    "type": "boolean"
                                    if "boolean" in v
                                    else ("object" if k == "program" else "string"),
                                }
                                for k, v in r.body.items()
                            },
                        }
                    }
                },
            }
        if r.op == "audit":
            op["parameters"] = [
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                }
            ]
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "itdose operator API",
            "version": "1",
            "description": "The operator API of `itdose run`. Not a cleared medical device. "
            "Authenticate with `Authorization: Bearer <name>.<secret>` (a token file written at "
            "`itdose run --init`); the role is the credential's.",
        },
        "servers": [{"url": "http://127.0.0.1:8470"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}, "field": {"type": "string"}},
                    "required": ["error"],
                }
            },
        },
        "paths": paths,
    }


# --------------------------------------------------------------------------------------------
# the HTTP server


def _page() -> bytes:
    return resources.files("itdose.adapters").joinpath("web/index.html").read_bytes()


def page_policy(page: bytes) -> str:
    """Content-Security-Policy of the page: only its own inline script and style (by hash),
    requests only to this origin, never inside a frame (a bolus button must not be
    clickjacked)."""

    def hashes(tag: str) -> str:
        parts = re.findall(rb"<" + tag.encode() + rb">(.*?)</" + tag.encode() + rb">", page, re.S)
        return " ".join(
            "'sha256-" + base64.b64encode(hashlib.sha256(p).digest()).decode() + "'" for p in parts
        )

    return (
        f"default-src 'none'; script-src {hashes('script')}; style-src {hashes('style')}; "
        "connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    runner: PumpRunner
    store: CredentialStore
    limiter: FailureLimiter
    ops: Operations
    url: str

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log(f"api {self.client_address[0]} " + format % args)

    def _send(
        self,
        status: int,
        payload: Any,
        content_type: str = "application/json",
        policy: str = "default-src 'none'; frame-ancestors 'none'",
    ) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload, indent=1).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Content-Security-Policy", policy)
        self.send_header("Referrer-Policy", "no-referrer")
        if status == 429:
            self.send_header("Retry-After", "60")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _body(self, method: str, query: str) -> dict[str, Any]:
        if method == "GET":
            return {k: v[-1] for k, v in parse_qs(query).items()}
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > MAX_BODY:
            raise ApiError(400, f"body: at most {MAX_BODY} bytes with a Content-Length", "body")
        raw = self.rfile.read(int(length)) if int(length) else b"{}"
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "body: not JSON", "body") from None
        if not isinstance(body, dict):
            raise ApiError(400, "body: expected a JSON object", "body")
        return body

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        if method == "GET" and path in ("/", "/index.html"):
            page = _page()
            self._send(200, page, "text/html; charset=utf-8", page_policy(page))
            return
        if method == "GET" and path == f"{API}/openapi.json":
            self._send(200, openapi_document())
            return
        srv = self.server
        client = self.client_address[0]
        route = next((r for r in ROUTES if r.path == path and r.method == method), None)
        who: Credential | None = None
        status, payload = 500, {"error": "internal error"}
        try:
            if route is None:
                raise ApiError(404, f"no such operation: {method} {path}")
            wait = srv.limiter.blocked_for(client)
            if wait > 0:
                message = f"too many failed attempts: wait {int(wait) + 1} s"
                if not srv.limiter.refused(client):
                    self._send(429, {"error": message})  # counted, audited when unblocked
                    return
                raise ApiError(429, message)
            extra = srv.limiter.take_refused(client)
            if extra:
                self._audit_refusal(
                    "*", "*", client, None, 429, f"{extra} more requests while rate-limited"
                )
            auth = self.headers.get("Authorization", "")
            token = auth[7:].strip() if auth.startswith("Bearer ") else ""
            who = srv.store.verify(token) if token else None
            if who is None:
                srv.limiter.failed(client)
                raise ApiError(401, "no valid credential (Authorization: Bearer <token>)")
            if who.role not in route.roles:
                raise ApiError(
                    403, f"the {who.role.value} role may not {route.op.replace('_', ' ')}"
                )
            body = self._body(method, url.query)
            role = who.role
            fn = getattr(srv.ops, route.op)
            status, payload = (
                200,
                srv.runner.call(lambda: self._do(fn, role, body, method, path, client, who)),
            )
        except _Audited as audited:
            exc = audited.error
            status, payload = (
                exc.status,
                {"error": exc.message, **({"field": exc.field} if exc.field else {})},
            )
        except ApiError as exc:
            status, payload = (
                exc.status,
                {"error": exc.message, **({"field": exc.field} if exc.field else {})},
            )
            self._audit_refusal(method, path, client, who, status, exc.message)
        except Busy as exc:
            status, payload = 503, {"error": str(exc)}
        except (JournalHalt, JournalError) as exc:
            status, payload = 503, {"error": f"journal cannot record: {exc}"}
        except InvalidInput as exc:
            status, payload = 400, {"error": str(exc), "field": exc.field}
        except DosingError as exc:
            status, payload = 409, {"error": str(exc), "field": exc.field}
        except Exception as exc:  # a defect: answer, log it, never a silent drop
            log(f"api: internal error on {method} {path}: {type(exc).__name__}: {exc}")
            status, payload = 500, {"error": "internal error (see the server's log)"}
        self._send(status, payload)

    def _audit_refusal(
        self, method: str, path: str, client: str, who: Credential | None, status: int, why: str
    ) -> None:
        detail = {
            "method": method,
            "path": path,
            "client": client,
            "status": status,
            "credential": who.name if who else None,
        }
        actor = who.role.value if who else "unknown"
        try:
            self.server.runner.call(
                lambda: self.server.runner.ctl.journal.note(
                    "api_request",
                    actor=actor,
                    reason=f"refused: {why}"[:500],
                    detail=detail,
                    wall_utc_s=int(time.time()),
                )
            )
        except (Busy, DosingError, JournalHalt):
            log(f"api: could not audit a refused request: {detail}")

    def _do(
        self,
        fn: Callable[[Role, Mapping[str, Any]], dict[str, Any]],
        role: Role,
        body: Mapping[str, Any],
        method: str,
        path: str,
        client: str,
        who: Credential,
    ) -> dict[str, Any]:
        """On the controller's thread: the operation, then its audit record (refusals too)."""
        journal = self.server.runner.ctl.journal
        detail: dict[str, object] = {
            "method": method,
            "path": path,
            "client": client,
            "credential": who.name,
        }
        try:
            result = fn(role, body)
        except (ApiError, DosingError) as exc:
            status = (
                exc.status
                if isinstance(exc, ApiError)
                else (400 if isinstance(exc, InvalidInput) else 409)
            )
            journal.note(
                "api_request",
                actor=role.value,
                reason=f"refused: {exc}"[:500],
                detail={**detail, "status": status},
                wall_utc_s=int(time.time()),
            )
            if isinstance(exc, ApiError):
                raise _Audited(exc) from None
            raise
        except (JournalHalt, JournalError):
            raise
        except Exception as exc:
            journal.note(
                "api_request",
                actor=role.value,
                reason=f"failed: internal error {type(exc).__name__}"[:500],
                detail={**detail, "status": 500},
                wall_utc_s=int(time.time()),
            )
            raise
        journal.note(
            "api_request",
            actor=role.value,
            reason="done",
            detail={**detail, "status": 200},
            wall_utc_s=int(time.time()),
        )
        return result


class _Audited(Exception):
    """An :class:`ApiError` already audited on the controller's thread."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def start_server(
    runner: PumpRunner,
    store: CredentialStore,
    host: str,
    port: int,
    cert: str | None = None,
    key: str | None = None,
) -> _Server:
    """Start the API in a background thread (the controller stays on the caller's thread)."""
    check_bind(host, cert, key)
    server = _Server((host, port), _Handler)
    server.runner = runner
    server.store = store
    server.limiter = FailureLimiter()
    server.ops = Operations(runner)
    scheme = "http"
    if cert is not None and key is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    shown = f"[{host}]" if ":" in host else host
    server.url = f"{scheme}://{shown}:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, name="operator-api", daemon=True).start()
    return server
