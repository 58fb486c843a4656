"""``itdose run`` end to end over the pseudo-terminal emulator, through the operator API.

The emulator and the server are real processes (``tests/itdose_runkit.py``); the server drives
the emulated New Era pump on its serial port in real time. One story, in order: init from the
example SETUP file, a program change (refused without the preview's confirmation, sent with it),
a patient bolus granted then denied by the lockout, a refill, a wrong credential and a patient
credential attempting a clinician command (both refused and audited), ``kill -9`` of the server
and a restart (history, lockout and delivered totals intact), an injected motor stall (delivery
stopped, HIGH alarm in the API), SIGTERM (exit 0) and a journal chain that verifies.

Requirements: REQ-OPS-001 (role from the credential), REQ-OPS-002 (every request audited),
REQ-OPS-003 (confirmation before a program change), REQ-OPS-004 (heartbeat, stop on SIGTERM),
REQ-PERS-001 (history survives a crash).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("serial")

from itdose_runkit import ITDOSE, ROOT, Emulator, Server, fast_setup, pump_prompt

from itdose.adapters.journal import read_entries, verify_file
from itdose.specs import load_library

PROGRAM = {
    "pump": "prometra-ii-20",
    "drug": "morphine",
    "indication": "pain",
    "concentration": "10 mg/mL",
    "opioid_status": "tolerant",
    "basal": {"mode": "continuous", "dose": "1.2 mg/day"},
    "patient_bolus": {"dose": "0.1 mg", "duration": "10 min", "lockout": "1 h", "max_per_24h": 4},
}


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator()
    try:
        yield emu
    finally:
        emu.close()


def wait_for(server: Server, token: str, predicate: Any, timeout_s: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        code, status = server.call("GET", "/status", token)
        assert code == 200, status
        if predicate(status):
            return status  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, status
        time.sleep(0.3)


def audit(server: Server, token: str) -> list[dict[str, Any]]:
    code, doc = server.call("GET", "/audit?limit=1000", token)
    assert code == 200, doc
    return doc["entries"]  # type: ignore[no-any-return]


def requests_in(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**e["command"]["fields"], "actor": e["actor"], "reason": e["reason"]}
        for e in entries
        if e["command"] and e["command"].get("name") == "api_request"
    ]


def test_init_program_bolus_refill_refusals_crash_restart_stall(
    tmp_path: Path, emulator: Emulator
) -> None:
    journal = tmp_path / "pump.db"
    server = Server(journal, f"newera:{emulator.port}", fast_setup(tmp_path))
    try:
        patient, clinician = server.token("patient"), server.token("clinician")
        status = wait_for(server, patient, lambda s: s["phase"] == "active")
        assert status["role"] == "patient"
        assert status["program"]["dose_per_day"] == "1 mg/day"
        assert status["rolling_24h"]["hard_max"] == "20 mg"

        # program: preview side by side; nothing is sent without the confirmation
        code, preview = server.call(
            "POST", "/clinician/program/preview", clinician, {"program": PROGRAM}
        )
        assert code == 200, preview
        assert (preview["old"]["dose_per_day"], preview["new"]["dose_per_day"]) == (
            "1 mg/day",
            "1.2 mg/day",
        )
        assert preview["old"]["ml_per_day"] == "0.14 mL/day"  # 1 mg + 4 x 0.1 mg at 10 mg/mL
        assert preview["new"]["ml_per_day"] == "0.16 mL/day"
        # days to the low-reservoir alarm, from the rule: (reservoir - threshold) / worst mL/day
        threshold = load_library().pump("prometra-ii-20").low_reservoir_threshold.value
        reservoir = server.call("GET", "/status", clinician)[1]["reservoir"]["volume_nl"]
        for side, nl_per_day in (("old", 140_000), ("new", 160_000)):
            expected = (reservoir - threshold) / nl_per_day
            days = float(preview[side]["days_to_low_reservoir"])
            assert expected - 0.2 <= days <= expected, (side, days, expected)
        code, refused = server.call("POST", "/clinician/program", clinician, {"program": PROGRAM})
        assert code == 409 and refused["field"] == "confirmation"
        code, refused = server.call(
            "POST", "/clinician/program", clinician, {"program": PROGRAM, "confirmation": "0" * 16}
        )
        assert code == 409
        code, _ = server.call("GET", "/status", patient)
        assert server.call("GET", "/status", patient)[1]["program"]["dose_per_day"] == "1 mg/day"
        code, sent = server.call(
            "POST",
            "/clinician/program",
            clinician,
            {"program": PROGRAM, "confirmation": preview["confirmation"]},
        )
        assert code == 200, sent
        assert server.call("GET", "/status", patient)[1]["program"]["dose_per_day"] == "1.2 mg/day"

        # the command-line client shows the same comparison and sends nothing without "yes"
        declined = subprocess.run(
            [
                *ITDOSE,
                "pump",
                "--url",
                server.url,
                "--token-file",
                str(tmp_path / "pump.db.tokens" / "clinician"),
                "program",
                str(ROOT / "examples" / "programs" / "morphine-continuous-bolus.toml"),
            ],
            input="no\n",
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert declined.returncode == 1 and "nothing sent" in declined.stderr
        row = next(x for x in declined.stdout.splitlines() if x.startswith("dose/day"))
        assert row.split()[1:5] == ["1.2", "mg/day", "1", "mg/day"], row
        assert server.call("GET", "/status", patient)[1]["program"]["dose_per_day"] == "1.2 mg/day"

        # patient bolus: granted, then denied by the lockout
        code, first = server.call("POST", "/bolus", patient, {})
        assert code == 200 and first["granted"] is True, first
        code, second = server.call("POST", "/bolus", patient, {})
        assert code == 200 and second["granted"] is False
        # changed by design: the first bolus (10 min) is still the order in flight, and no two
        # orders run at once, so the second is also "not delivering" (no bolus during a bolus)
        assert second["reasons"] == ["not_delivering", "lockout"], second
        assert 3500 < second["lockout_remaining_s"] <= 3600

        # refill: withdraw what the pump holds, add 20 mL. The bolus (10 min) is still in flight:
        # a refill would cut it, so it is refused, naming when the bolus ends (R-BOL-5); the
        # clinician suspends first (the cut is announced), refills and resumes
        status = server.call("GET", "/status", clinician)[1]
        body = {"withdrawn": status["reservoir"]["volume"], "volume": "20 mL"}
        code, refused = server.call("POST", "/clinician/refill", clinician, body)
        assert code == 409 and "in flight until" in refused["error"], refused
        code, suspended = server.call("POST", "/clinician/suspend", clinician, {"reason": "refill"})
        assert code == 200, suspended
        status = server.call("GET", "/status", clinician)[1]
        assert "delivery_limited" in str(status["alarms"]), status["alarms"]
        body = {"withdrawn": status["reservoir"]["volume"], "volume": "20 mL"}
        code, refill = server.call("POST", "/clinician/refill", clinician, body)
        assert code == 200, refill
        assert refill["reservoir"] == "20 mL"
        code, resumed = server.call("POST", "/clinician/resume", clinician, {"reason": "refilled"})
        assert code == 200, resumed

        # a wrong credential and a patient credential on a clinician command: refused, audited
        code, _ = server.call("GET", "/status", "patient.wrong-secret")
        assert code == 401
        code, _ = server.call("GET", "/status", None)
        assert code == 401
        code, denied = server.call(
            "POST", "/clinician/bolus", patient, {"dose": "0.1 mg", "duration": "10 min"}
        )
        assert code == 403, denied
        # the role comes from the credential, never from the body
        code, _ = server.call(
            "POST", "/clinician/suspend", patient, {"reason": "x", "role": "clinician"}
        )
        assert code == 403
        reqs = requests_in(audit(server, clinician))
        assert any(r["path"] == "/api/v1/status" and r["status"] == 401 for r in reqs)
        assert any(
            r["path"] == "/api/v1/clinician/bolus"
            and r["status"] == 403
            and r["actor"] == "patient"
            for r in reqs
        )
        assert any(r["path"] == "/api/v1/bolus" and r["status"] == 200 for r in reqs)
        code, _ = server.call("GET", "/audit", patient)
        assert code == 403  # the patient cannot read the audit log

        # killed while an order is in flight (the drive runs it)
        before = wait_for(
            server, patient, lambda s: s["delivered_lifetime_ng"] > 0 and s["delivering"]
        )
        server.kill()  # kill -9: no chance to stop the drive or journal anything

        server = Server(journal, f"newera:{emulator.port}", None)
        after = server.call("GET", "/status", patient)[1]
        # A New Era pump keeps no per-command history, so the order in flight is counted with
        # the conservative bound: the whole order, or what its pace can have moved by now (the
        # drive's trust, REQ-TIP-004): no deviation, dosing goes on
        assert "counted the conservative bound" in server.log.read_text()
        after = server.call("GET", "/status", patient)[1]
        assert after["phase"] == "active", after
        assert after["program"]["dose_per_day"] == "1.2 mg/day"
        assert after["delivered_lifetime_ng"] >= before["delivered_lifetime_ng"]
        assert after["rolling_24h"]["delivered_ng"] >= before["rolling_24h"]["delivered_ng"]
        assert after["patient_bolus"]["taken_in_24h"] == 1
        code, again = server.call("POST", "/bolus", patient, {})
        assert code == 200 and again["granted"] is False and again["reasons"] == ["lockout"]

        # After the restart the interrupted basal segment is not caught up (the next one starts
        # at its planned end); a clinician bolus moves the motor now. SIGTERM stops it and
        # journals what it delivered: the next start finds nothing in flight to reconcile.
        code, cb = server.call(
            "POST", "/clinician/bolus", clinician, {"dose": "0.05 mg", "duration": "10 min"}
        )
        assert code == 200, cb
        wait_for(server, patient, lambda s: s["delivering"])
        assert server.stop() == 0
        assert pump_prompt(emulator.port) in ("S", "P")  # stopped at once, not by its watchdog
        server = Server(journal, f"newera:{emulator.port}", None)
        resumed = server.call("GET", "/status", patient)[1]
        assert resumed["orders_in_flight"] == 0 and resumed["phase"] == "active"
        assert "restart: order" not in server.log.read_text()  # nothing left to reconcile
        assert resumed["delivered_lifetime_ng"] >= after["delivered_lifetime_ng"]

        code, cb = server.call(
            "POST", "/clinician/bolus", clinician, {"dose": "0.05 mg", "duration": "10 min"}
        )
        assert code == 200, cb
        # a motor stall on the emulated pump: delivery stops, a HIGH alarm in the API
        wait_for(server, patient, lambda s: s["delivering"])
        emulator.stall()
        stalled = wait_for(server, patient, lambda s: s["phase"] == "alarm", timeout_s=15)
        assert [(a["kind"], a["priority"]) for a in stalled["alarms"]][:1] == [
            ("motor_stall", "HIGH")
        ]
        assert stalled["delivering"] is False
        code, in_alarm = server.call("POST", "/bolus", patient, {})
        assert code in (200, 409)
        assert code == 409 or in_alarm["granted"] is False

        # five failed authentications block the address for the window: even a valid token
        for _ in range(5):
            assert server.call("GET", "/status", "clinician.guess")[0] == 401
        code, limited = server.call("GET", "/status", patient)
        assert code == 429, limited

        assert server.stop() == 0
        server = None  # type: ignore[assignment]
        report = verify_file(journal)
        assert report.ok, report.message
        noted = [e for e in read_entries(journal) if e.outcome == "noted" and e.command]
        statuses = [json.loads(e.command)["fields"].get("status") for e in noted]
        assert statuses.count(401) >= 7 and statuses.count(429) == 1
        assert (
            "stopping: drive stopped, state journaled"
            in Path(sorted(tmp_path.glob("pump.db.*.log"))[-1]).read_text()
        )
    finally:
        if server is not None:
            server.kill()
