"""The operator API's parts without a pump: credentials, rate limit, bind rule, OpenAPI document,
SETUP files, the run loop's heartbeat and the command line's refusals.

Requirements: REQ-OPS-001 (credentials: salted hashes, constant-time comparison, role from the
credential), REQ-OPS-002 (failed attempts rate-limited), REQ-OPS-004 (idle polling at most every
watchdog / 3 s, watchdog at most 255 s).
"""

from __future__ import annotations

import hmac
import itertools
import json
import os
import stat
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from itdose.adapters import operator_api as api
from itdose.adapters import operator_auth as auth
from itdose.adapters import run
from itdose.adapters.cli import main
from itdose.core.errors import InvalidInput
from itdose.core.state import Role
from itdose.specs import load_library

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "run" / "setup.toml"


# ------------------------------------------------------------------------- OpenAPI


def test_committed_openapi_document_is_the_generated_one() -> None:
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == api.openapi_document(), (
        "docs/openapi.json is stale: regenerate it (see docs/run.md)"
    )


def test_openapi_document_lists_every_route_once_with_its_roles() -> None:
    doc = api.openapi_document()
    ops = [(p, m, o) for p, item in doc["paths"].items() for m, o in item.items()]
    assert len(ops) == len(api.ROUTES)
    assert len({o["operationId"] for _, _, o in ops}) == len(ops)
    for route in api.ROUTES:
        op = doc["paths"][route.path][route.method.lower()]
        for role in ("patient", "clinician", "service"):
            assert (role in op["description"]) == (Role(role) in route.roles), route.op
        assert op["security"] == [{"bearer": []}]
        assert set(op["responses"]) >= {"200", "401", "403", "429"}
    text = json.dumps(doc)
    assert '"#/components/schemas/Error"' in text and "Error" in doc["components"]["schemas"]
    # the role is never a body field
    for _, _, op in ops:
        props = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        assert "role" not in props.get("schema", {}).get("properties", {})


def test_page_policy_admits_only_the_pages_own_script_and_no_frame() -> None:
    page = api._page()
    policy = api.page_policy(page)
    assert "frame-ancestors 'none'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy and policy.count("'sha256-") == 2  # script, style
    tampered = page.replace(b'"use strict";', b'"use strict"; alert(1);')
    assert tampered != page and api.page_policy(tampered) != policy


# ------------------------------------------------------------------------- credentials


def test_credentials_are_stored_only_as_salted_hashes(tmp_path: Path) -> None:
    journal = tmp_path / "p.db"
    wanted = ((("alice", Role.PATIENT)), ("bob", Role.CLINICIAN), ("svc", Role.SERVICE))
    files = auth.create_credentials(journal, wanted)
    tokens = {name: path.read_text().strip() for name, path in files.items()}
    stored = auth.credentials_path(journal).read_text()
    for name, token in tokens.items():
        secret = token.split(".", 1)[1]
        assert len(secret) >= 32 and secret not in stored
        assert stat.S_IMODE(os.stat(files[name]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(auth.credentials_path(journal)).st_mode) == 0o600
    doc = json.loads(stored)
    salts = {c["salt"] for c in doc["credentials"]}
    assert len(salts) == 3 and all(len(s) == 32 for s in salts)
    store = auth.CredentialStore.load(journal)
    for name, role in wanted:
        cred = store.verify(tokens[name])
        assert cred is not None and (cred.name, cred.role) == (name, role)
    assert store.verify(tokens["alice"] + "x") is None
    assert store.verify("bob." + tokens["alice"].split(".", 1)[1]) is None  # another's secret
    assert store.verify("mallory." + tokens["alice"].split(".", 1)[1]) is None
    assert store.verify("alice.") is None and store.verify("") is None
    with pytest.raises(FileExistsError):
        auth.create_credentials(journal, wanted)  # never overwritten


def test_every_presented_token_is_hashed_and_compared_in_constant_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "p.db"
    token = auth.create_credentials(journal, (("alice", Role.PATIENT),))["alice"].read_text()
    store = auth.CredentialStore.load(journal)
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert store.verify(token.strip()) is not None
    assert store.verify("nobody.secret") is None  # unknown name: the same hash and comparison
    assert store.verify("alice.wrong") is None
    assert len(calls) == 3 and all(len(a) == len(b) == 32 for a, b in calls)


def test_failed_attempts_are_rate_limited_per_client() -> None:
    now = [1000.0]
    limiter = auth.FailureLimiter(max_failures=5, window_s=60, now=lambda: now[0])
    for _ in range(4):
        limiter.failed("10.0.0.1")
        assert limiter.blocked_for("10.0.0.1") == 0
    limiter.failed("10.0.0.1")
    assert limiter.blocked_for("10.0.0.1") == 60
    assert limiter.blocked_for("10.0.0.2") == 0
    now[0] += 30
    assert limiter.blocked_for("10.0.0.1") == 30
    now[0] += 30.5
    assert limiter.blocked_for("10.0.0.1") == 0


def test_requests_refused_while_blocked_are_audited_first_then_as_a_count() -> None:
    limiter = auth.FailureLimiter(max_failures=1, window_s=60, now=lambda: 0.0)
    assert limiter.take_refused("a") == 0
    assert limiter.refused("a") is True  # the first is audited on its own
    assert [limiter.refused("a") for _ in range(4)] == [False] * 4
    assert limiter.refused("b") is True
    assert limiter.take_refused("a") == 4  # audited as one count once the client may try again
    assert limiter.take_refused("a") == 0


def test_api_listens_off_loopback_only_with_tls() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        auth.check_bind(host, None, None)
    for host in ("0.0.0.0", "192.168.1.5", "::"):
        with pytest.raises(InvalidInput, match="--host"):
            auth.check_bind(host, None, None)
        auth.check_bind(host, "cert.pem", "key.pem")
    with pytest.raises(InvalidInput, match="both or neither"):
        auth.check_bind("127.0.0.1", "cert.pem", None)
    with pytest.raises(InvalidInput, match="IP address"):
        auth.check_bind("pump.example", None, None)


# ------------------------------------------------------------------------- SETUP files


def example() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_example_setup_parses() -> None:
    setup = run.parse_setup(example(), load_library())
    assert [i.action for i in setup.actions][-3:] == ["set_program", "prime", "start"]
    assert setup.credentials == (
        ("patient", Role.PATIENT),
        ("clinician", Role.CLINICIAN),
        ("service", Role.SERVICE),
    )
    assert setup.scenario.pump == "prometra-ii-20"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(schema="itdose-setup/9"), "schema"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d["setup"].append({"action": "bolus"}), "setup[10].action"),
        (lambda d: d["setup"][0].update(at="day 1"), "setup[0]"),
        (lambda d: d["setup"][6].update(volume="20 mg"), "setup[6].volume"),
        (lambda d: d.pop("credentials"), "credentials"),
        (lambda d: d["credentials"].append({"name": "x", "role": "admin"}), "credentials[3].role"),
        (
            lambda d: d["credentials"].append({"name": "patient", "role": "patient"}),
            "credentials[3].name",
        ),
        (
            lambda d: d["credentials"].append({"name": "a b", "role": "patient"}),
            "credentials[3].name",
        ),
        (lambda d: d.update(setup=[]), "setup"),
    ],
)
def test_setup_errors_name_the_field(change: Any, field: str) -> None:
    data = example()
    change(data)
    with pytest.raises(InvalidInput) as err:
        run.parse_setup(data, load_library())
    assert err.value.field == field


# ------------------------------------------------------------------------- the loop


class _FakeClock:
    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def now_s(self) -> int:
        return int(time.monotonic() - self.t0)


class _FakeCtl:
    """Idle: nothing is due before the limit the runner gives."""

    def __init__(self) -> None:
        self.clock = _FakeClock()
        self.serviced: list[float] = []

    def next_wakeup(self, limit_s: int) -> int:
        return limit_s

    def service(self) -> None:
        self.serviced.append(time.monotonic())


def test_idle_loop_polls_at_least_every_watchdog_third() -> None:
    ctl = _FakeCtl()
    runner = run.PumpRunner(ctl, run.OpenedDrive(drive=None, description="fake"), idle_poll_s=1)  # type: ignore[arg-type]
    thread = threading.Thread(target=runner.loop)
    start = time.monotonic()
    thread.start()
    assert runner.call(lambda: 41 + 1) == 42  # a job runs on the loop's thread
    time.sleep(3.6)
    runner.stopping.set()
    thread.join(5)
    times = [start, *ctl.serviced]
    assert len(ctl.serviced) >= 3
    assert max(b - a for a, b in itertools.pairwise(times)) <= 1.6


def test_a_flood_of_requests_does_not_starve_the_heartbeat() -> None:
    ctl = _FakeCtl()
    runner = run.PumpRunner(ctl, run.OpenedDrive(drive=None, description="fake"), idle_poll_s=1)  # type: ignore[arg-type]
    loop = threading.Thread(target=runner.loop)
    start = time.monotonic()
    loop.start()
    stop_flood = threading.Event()

    def flood() -> None:
        while not stop_flood.is_set():
            runner.call(lambda: time.sleep(0.02))

    flooders = [threading.Thread(target=flood) for _ in range(3)]
    for f in flooders:
        f.start()
    time.sleep(3.6)
    stop_flood.set()
    for f in flooders:
        f.join(5)
    runner.stopping.set()
    loop.join(5)
    times = [start, *ctl.serviced]
    assert len(ctl.serviced) >= 3
    assert max(b - a for a, b in itertools.pairwise(times)) <= 1.6


def test_a_request_given_up_by_its_caller_never_runs() -> None:
    ctl = _FakeCtl()
    runner = run.PumpRunner(ctl, run.OpenedDrive(drive=None, description="fake"), idle_poll_s=1)  # type: ignore[arg-type]
    ran: list[str] = []
    with pytest.raises(run.Busy):
        runner.call(lambda: ran.append("late bolus"), timeout_s=0.05)  # the loop is not running
    loop = threading.Thread(target=runner.loop)
    loop.start()
    assert runner.call(lambda: ran.append("next") or "ok") == "ok"
    runner.stopping.set()
    loop.join(5)
    assert ran == ["next"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--watchdog", "256"], "--watchdog"),
        (["--watchdog", "0"], "--watchdog"),
        (["--host", "0.0.0.0"], "--host"),
        (["--tls-cert", "c.pem"], "both or neither"),
        (["--drive", "serial:/dev/x"], "--drive"),
        (["--drive", "newera:/nonexistent/tty"], "--drive"),
        (["--port", "70000"], "--port"),
    ],
)
def test_run_refuses_bad_input_with_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    base = [
        "run",
        "--drive",
        "simulated",
        "--journal",
        str(tmp_path / "p.db"),
        "--init",
        str(EXAMPLE),
    ]
    args = base + argv
    if "--drive" in argv:
        args = ["run", *argv, "--journal", str(tmp_path / "p.db"), "--init", str(EXAMPLE)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "p.db").exists()


def test_run_never_overwrites_and_needs_a_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "p.db"
    assert main(["run", "--drive", "simulated", "--journal", str(journal)]) == 2
    assert "--init" in capsys.readouterr().err
    journal.write_text("keep me")
    assert (
        main(["run", "--drive", "simulated", "--journal", str(journal), "--init", str(EXAMPLE)])
        == 2
    )
    assert "never overwrites" in capsys.readouterr().err
    assert journal.read_text() == "keep me"


def test_pump_client_needs_a_token_and_a_reachable_api(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ITDOSE_TOKEN", raising=False)
    assert main(["pump", "status"]) == 2
    assert "--token-file" in capsys.readouterr().err
    token = tmp_path / "t"
    token.write_text("patient.x")
    url = "http://127.0.0.1:9"  # discard port: nothing listens
    assert main(["pump", "--url", url, "--token-file", str(token), "status"]) == 3
    assert "cannot reach" in capsys.readouterr().err
