"""``itdose run``: a therapy in real time on a drive, journaled, with the operator API.

``itdose run --drive newera:PORT|emulator|simulated --journal PATH [--init SETUP.toml]``

* **One thread decides.** The journaled controller (:class:`DurableController`) and its SQLite
  journal live in the main thread; the operator API's request threads hand it jobs through a
  queue and wait for the answer (:class:`PumpRunner`). Commands are therefore decided one at a
  time, in arrival order, on the same timeline as the drive reports.
* **Time.** The controller's clock is the host's monotonic clock anchored once to the wall clock
  at start (:class:`~itdose.adapters.controller.WallClock`), mapped onto the journal's timeline
  (never backwards). The wall clock only bridges restarts.
* **Heartbeat.** The loop services the controller at its next due instant and at least every
  ``watchdog / 3`` seconds while idle, so a New Era pump's Safe-mode watchdog (``--watchdog``,
  1-255 s, default 30 s) only fires when this process is gone.
* **Start.** ``--init`` creates the journal (never overwriting one), runs the setup actions of the
  SETUP file (docs/run.md) and creates the operator credentials; without it the journal is opened,
  verified, and the orders in flight are reconciled from the drive (:meth:`DurableController.open`).
* **Stop.** SIGTERM or SIGINT stops the drive, reports what it delivered for every order in
  flight (journaled), audits the stop and exits 0. A ``kill -9`` leaves the orders in flight in
  the journal; the next start reconciles them.
* **Log.** Plain lines on stderr: ``<UTC time> <what>``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import queue
import signal
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from itdose.adapters import scenario as sc_mod
from itdose.adapters.controller import ControllerEvent, WallClock
from itdose.adapters.drive import Drive
from itdose.adapters.durable import DurableController, JournalHalt, RecordingSimDrive
from itdose.adapters.simdrive import SimConfig
from itdose.core import commands as c
from itdose.core.errors import DosingError, InvalidInput
from itdose.core.library import Library
from itdose.core.state import Device, Role

__all__ = [
    "SETUP_SCHEMA",
    "PumpRunner",
    "Setup",
    "add_parser",
    "load_setup",
    "parse_setup",
    "setup_commands",
]

SETUP_SCHEMA = "itdose-setup/1"
DEFAULT_WATCHDOG_S = 30
MAX_WATCHDOG_S = 255
SETUP_ACTIONS = (
    "screening",
    "start_trial",
    "trial_dose",
    "pain_score",
    "screening_response",
    "conclude_trial",
    "implant",
    "fill",
    "set_program",
    "prime",
    "start",
)
"""The actions a SETUP file may list (the scenario actions of docs/scenario-schema.md that bring
a device from screening to dosing)."""
ROLES = {"patient": Role.PATIENT, "clinician": Role.CLINICIAN, "service": Role.SERVICE}
C, P = Role.CLINICIAN, Role.PATIENT
T = TypeVar("T")


def log(text: str) -> None:
    """One plain log line on stderr."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(f"{stamp} {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# SETUP files


@dataclass(frozen=True)
class Setup:
    """A parsed SETUP file: the patient's system, programs, setup actions and credentials."""

    scenario: sc_mod.Scenario
    """The system and programs, parsed by the scenario parser (same fields, same units)."""
    actions: tuple[sc_mod.TimelineItem, ...]
    credentials: tuple[tuple[str, Role], ...]


def parse_setup(data: Mapping[str, Any], library: Library) -> Setup:
    """A :class:`Setup` from parsed TOML; :class:`InvalidInput` names the offending field."""
    if not isinstance(data, Mapping):
        raise InvalidInput("setup", "expected a TOML document")
    allowed = {"schema", "title", "patient", "pump", "catheter", "drug", "programs", "setup"}
    allowed.add("credentials")
    for key in data:
        if key not in allowed:
            raise InvalidInput(str(key), "unknown field", limit=", ".join(sorted(allowed)))
    if data.get("schema") != SETUP_SCHEMA:
        raise InvalidInput("schema", "unsupported setup schema", value=data.get("schema"))
    steps = data.get("setup")
    if not isinstance(steps, list) or not steps:
        raise InvalidInput("setup", "expected one or more [[setup]] actions")
    timeline = []
    for i, step in enumerate(steps):
        if not isinstance(step, Mapping):
            raise InvalidInput(f"setup[{i}]", "expected a table")
        if "at" in step or "repeat_every" in step or "repeat_count" in step:
            raise InvalidInput(f"setup[{i}]", "setup actions run in order, at once: no times")
        action = step.get("action")
        if action not in SETUP_ACTIONS:
            raise InvalidInput(
                f"setup[{i}].action",
                "not a setup action",
                value=action,
                limit=", ".join(SETUP_ACTIONS),
            )
        timeline.append({**step, "at": 0})
    doc = {k: v for k, v in data.items() if k not in ("schema", "setup", "credentials")}
    doc.setdefault("title", "setup")
    doc.update(schema=sc_mod.SCHEMA, timeline=timeline, simulation={"end": 1})
    try:
        scenario = sc_mod.parse_scenario(doc, library)
    except InvalidInput as exc:
        where = exc.field.replace("timeline[", "setup[")
        raise InvalidInput(where, exc.message, value=exc.value, limit=exc.limit) from None
    creds = data.get("credentials")
    if not isinstance(creds, list) or not creds:
        raise InvalidInput("credentials", "expected one or more [[credentials]] (name, role)")
    names: set[str] = set()
    out: list[tuple[str, Role]] = []
    for i, cred in enumerate(creds):
        if not isinstance(cred, Mapping) or set(cred) != {"name", "role"}:
            raise InvalidInput(f"credentials[{i}]", "expected a table with name and role")
        name, role = cred["name"], cred["role"]
        if not isinstance(name, str) or not name.isidentifier() or len(name) > 40:
            raise InvalidInput(f"credentials[{i}].name", "expected a short identifier", value=name)
        if name in names:
            raise InvalidInput(f"credentials[{i}].name", "duplicate name", value=name)
        if role not in ROLES:
            raise InvalidInput(
                f"credentials[{i}].role",
                "unknown role",
                value=role,
                limit="patient, clinician, service",
            )
        names.add(name)
        out.append((name, ROLES[role]))
    return Setup(scenario, scenario.timeline, tuple(out))


def load_setup(path: str | os.PathLike[str], library: Library) -> Setup:
    """Read and parse a SETUP file; unreadable or malformed files raise :class:`InvalidInput`."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInput("--init", "not a readable file", value=str(path))
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput("--init", f"cannot read the setup file: {exc}") from None
    return parse_setup(data, library)


def setup_commands(item: sc_mod.TimelineItem, setup: Setup) -> list[c.Command]:
    """The core commands of one setup action (clinician role)."""
    sc, p = setup.scenario, item.params
    ov = p.get("overrides", ())
    a = item.action
    if a == "screening":
        return [
            c.RecordScreening(
                C, p.get("candidate", True), p.get("baseline_pain", 0), p.get("note", "")
            )
        ]
    if a == "start_trial":
        return [
            c.StartTrial(
                C,
                sc.drug,
                sc.indication,
                p.get("plan", "trial"),
                p.get("opioid_status", sc.opioid_status),
                ov,
            )
        ]
    if a == "trial_dose":
        return [c.RecordTrialDose(C, p["dose"], ov)]
    if a == "pain_score":
        return [c.RecordPainScore(C, p["score"])]
    if a == "screening_response":
        return [c.RecordScreeningResponse(C, p["positive"])]
    if a == "conclude_trial":
        return [c.ConcludeTrial(C, p.get("outcome"), p.get("reason", ""))]
    if a == "implant":
        return [c.Implant(C, sc.pump, sc.catheter, sc.trimmed_mm, ov)]
    if a == "fill":
        return [c.Fill(C, p["volume"], p.get("concentration", sc.concentration_ng_per_ml), ov)]
    if a == "set_program":
        program, pov = sc.programs[p["program"]]
        return [
            c.SetProgram(
                C, program, pov + ov, p.get("confirm_withdrawal_risk", False), int(time.time())
            )
        ]
    if a == "prime":
        return [c.Prime(C, p.get("duration", 480))]
    if a == "start":
        return [c.StartDosing(C)]
    raise InvalidInput("action", "not a setup action", value=a)  # pragma: no cover - parsed


# --------------------------------------------------------------------------------------------
# drives


@dataclass
class OpenedDrive:
    drive: Drive
    description: str
    before_step: Callable[[], None] = lambda: None
    closers: list[Callable[[], None]] = field(default_factory=list)
    stall: Callable[[], None] | None = None
    """Injects a motor stall (the bundled emulator only: SIGUSR1 of ``itdose run``)."""

    def close(self) -> None:
        for fn in reversed(self.closers):
            with contextlib.suppress(Exception):
                fn()


def open_drive(spec: str, watchdog_s: int, diameter_um: int) -> OpenedDrive:
    """``newera:PORT`` (a serial port or pyserial URL), ``emulator`` (the bundled New Era
    emulator on a pseudo-terminal, real time) or ``simulated`` (the simulated implant drive on
    real time)."""
    if spec == "simulated":
        sim = RecordingSimDrive(
            SimConfig(
                reservoir_capacity_nl=10**12,
                reservoir_nl=10**12,
                max_rate_nl_per_h=100_000_000,
                battery_eri_at_s=None,
                battery_eos_at_s=None,
            )
        )
        t0 = time.monotonic()

        def advance() -> None:
            sim.advance_to(max(sim.now_s, int(time.monotonic() - t0)))

        return OpenedDrive(sim, "simulated implant drive (real time)", advance)
    from itdose.adapters.newera.drive import NewEraDrive

    closers: list[Callable[[], None]] = []
    if spec == "emulator":
        from itdose.adapters.newera.emulator import PtyEmulator, PumpModel

        emu = PtyEmulator(PumpModel())
        closers.append(emu.close)
        port, what = emu.port, f"bundled New Era emulator on {emu.port}"
        stall: Callable[[], None] | None = functools.partial(emu.model.inject_stall, 0)
    elif spec.startswith("newera:") and len(spec) > len("newera:"):
        port = spec[len("newera:") :]
        what = f"New Era pump on {port}"
        stall = None
    else:
        raise InvalidInput("--drive", "expected newera:PORT, emulator or simulated", value=spec)
    try:
        drive = NewEraDrive.open(port, watchdog_s=watchdog_s, syringe_diameter_um=diameter_um)
    except Exception as exc:
        for fn in closers:
            fn()
        raise InvalidInput("--drive", f"cannot open the pump on {port}: {exc}") from None
    closers.append(drive.close)
    opened = OpenedDrive(drive, what, closers=closers, stall=stall)
    return opened


# --------------------------------------------------------------------------------------------
# the loop


@dataclass
class _Job:
    fn: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None
    state: str = "pending"
    """pending -> running (the controller took it) or cancelled (the caller gave up first)."""
    lock: threading.Lock = field(default_factory=threading.Lock)


class Busy(RuntimeError):
    """The controller did not take the job in time (starting up or stopping)."""


class PumpRunner:
    """The real-time loop around a :class:`DurableController` (see the module doc)."""

    def __init__(self, ctl: DurableController, opened: OpenedDrive, *, idle_poll_s: int) -> None:
        self.ctl = ctl
        self.opened = opened
        self.idle_poll_s = idle_poll_s
        self.stopping = threading.Event()
        self._jobs: queue.Queue[_Job] = queue.Queue()

    def call(self, fn: Callable[[], T], timeout_s: float = 15.0) -> T:
        """Run ``fn`` on the controller's thread and return its result (re-raising its error)."""
        if self.stopping.is_set():
            raise Busy("the pump controller is stopping")
        job = _Job(fn)
        self._jobs.put(job)
        if not job.done.wait(timeout_s):
            with job.lock:
                if job.state == "pending":  # never run after the caller was told it was not
                    job.state = "cancelled"
                    raise Busy("the pump controller did not answer in time")
            job.done.wait()  # it is running: its answer is the truth
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    def service(self) -> None:
        self.opened.before_step()
        self.ctl.service()

    def now_s(self) -> int:
        return self.ctl.clock.now_s()

    def _due(self) -> int:
        """The next instant to service: the controller's next due time, at most the idle poll
        (a fixed instant: recomputing "now + poll" at every turn would never be reached)."""
        now = self.now_s()
        return self.ctl.next_wakeup(now + self.idle_poll_s)

    def loop(self) -> None:
        """Serve until :attr:`stopping` is set."""
        wake = self._due()
        while not self.stopping.is_set():
            timeout = min(0.5, max(0.0, wake - self.now_s()))
            try:
                job = self._jobs.get(timeout=timeout) if timeout > 0 else None
            except queue.Empty:
                job = None
            if job is not None:  # then the heartbeat if due: a flood of requests cannot starve it
                self._run_job(job)
                wake = min(wake, self._due())
            if self.now_s() >= wake:
                self.service()
                wake = self._due()
        while True:  # refuse what is left
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            with job.lock:
                job.state = "cancelled"
            job.error = Busy("the pump controller is stopping")
            job.done.set()

    def _run_job(self, job: _Job) -> None:
        with job.lock:
            if job.state == "cancelled":
                return
            job.state = "running"
        self.opened.before_step()
        try:
            job.result = job.fn()
        except BaseException as exc:  # handed to the requesting thread
            job.error = exc
            if isinstance(exc, JournalHalt):
                self.stopping.set()  # the controller must not go on (DurableController)
        finally:
            job.done.set()

    def run_setup(self, setup: Setup, timeout_s: float = 900.0) -> None:
        """Run the setup actions in order; wait for the drive to finish each one's deliveries
        (a priming bolus) before the next. A rejected action stops the setup (exit 1)."""
        for item in setup.actions:
            if self.stopping.is_set():
                return
            for command in setup_commands(item, setup):
                self.opened.before_step()
                self.ctl.submit(command)
                log(f"setup: {item.action} accepted")
            deadline = time.monotonic() + timeout_s
            wake = self._due()
            while self.ctl.device.orders:
                if self.stopping.is_set():
                    return
                if time.monotonic() > deadline:
                    raise InvalidInput(f"setup[{item.index}]", "deliveries did not finish in time")
                time.sleep(min(0.5, max(0.05, wake - self.now_s())))
                if self.now_s() >= wake:
                    self.service()
                    wake = self._due()

    def shutdown(self) -> None:
        """Stop the drive and journal what it delivered for every order in flight."""
        now = self.now_s()
        self.opened.before_step()
        # The controller has no public "stop everything" entry point; its own StopDelivery
        # handling does exactly this (stop the drive, final report of each order, journaled).
        self.ctl._stop_all(now)
        self.ctl.journal.note(
            "shutdown",
            actor=Role.SERVICE.value,
            reason="itdose run stopped by a signal: drive stopped, orders in flight reported",
            detail={"orders_left": len(self.ctl.device.orders), "at_s": now},
        )


def _observer(event: ControllerEvent, device: Device) -> None:
    if event.kind in ("step",):
        return
    quiet = (c.Tick.name, c.DriveReport.name)
    if event.kind == "command" and event.command is not None and event.command.name in quiet:
        return
    if event.kind == "effect" and event.text in ("tick", "drive_report"):
        return
    log(f"t={event.t_s} {event.kind}: {event.text} (phase {device.phase.value})")


# --------------------------------------------------------------------------------------------
# the command


def add_parser(sub: Any) -> None:
    """Register ``itdose run`` on the CLI's subparsers."""
    p = sub.add_parser(
        "run",
        help="run a therapy in real time on a New Era pump, the bundled emulator or the simulated "
        "drive, journaled, with the operator API",
    )
    p.add_argument("--drive", required=True, help="newera:PORT, emulator or simulated")
    p.add_argument("--journal", required=True, metavar="PATH", help="the journal (SQLite)")
    p.add_argument("--init", metavar="SETUP.toml", help="create the journal from a setup file")
    p.add_argument(
        "--watchdog",
        type=int,
        default=DEFAULT_WATCHDOG_S,
        help=f"the pump's own watchdog in seconds, 1-{MAX_WATCHDOG_S} (default "
        f"{DEFAULT_WATCHDOG_S}); polled every watchdog/3 s while idle",
    )
    p.add_argument(
        "--syringe-diameter",
        type=int,
        default=4699,
        metavar="UM",
        help="syringe inside diameter in micrometres for a New Era pump (default 4699)",
    )
    p.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8470, help="API port (default 8470; 0: any)")
    p.add_argument("--tls-cert", metavar="PEM", help="TLS certificate (required off loopback)")
    p.add_argument("--tls-key", metavar="PEM", help="TLS private key")
    p.set_defaults(fn=run_command)


def run_command(args: argparse.Namespace) -> int:
    from itdose.adapters import operator_api as api
    from itdose.adapters import operator_auth as auth
    from itdose.specs import load_library

    if not 1 <= args.watchdog <= MAX_WATCHDOG_S:
        print(
            f"itdose: --watchdog: expected 1-{MAX_WATCHDOG_S} s, got {args.watchdog}",
            file=sys.stderr,
        )
        return 2
    if not 0 <= args.port <= 65535:
        print(f"itdose: --port: expected 0-65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        auth.check_bind(args.host, args.tls_cert, args.tls_key)
    except InvalidInput as exc:
        print(f"itdose: {exc}", file=sys.stderr)
        return 2
    library = load_library()
    journal = Path(args.journal)
    setup = None
    if args.init:
        setup = load_setup(args.init, library)
        if journal.exists():
            print(
                f"itdose: --journal: {journal} exists; --init never overwrites a journal",
                file=sys.stderr,
            )
            return 2
        if not journal.parent.is_dir():
            print(f"itdose: --journal: no such folder: {journal.parent}", file=sys.stderr)
            return 2
    elif not journal.is_file():
        print(
            f"itdose: --journal: no journal at {journal} (use --init SETUP.toml to create one)",
            file=sys.stderr,
        )
        return 2
    opened = open_drive(args.drive, args.watchdog, args.syringe_diameter)
    log(f"drive: {opened.description}")
    clock = WallClock(start_s=int(time.time()))
    poll = max(1, args.watchdog // 3)
    try:
        if setup is not None:
            ctl = DurableController.create(
                journal,
                opened.drive,
                library,
                clock,
                reason=f"itdose run --init {args.init}",
                observer=_observer,
                poll_interval_s=poll,
                watchdog_s=args.watchdog,
            )
        else:
            ctl = DurableController.open(
                journal,
                opened.drive,
                library,
                clock,
                observer=_observer,
                poll_interval_s=poll,
                watchdog_s=args.watchdog,
            )
            for r in ctl.restart.reconciled:
                log(
                    f"restart: order {r.order_id} ({r.kind}) closed at {r.reported_nl} nL: {r.note}"
                )
            log(f"restart: journal verified, downtime {ctl.restart.downtime_s} s")
    except BaseException:
        opened.close()
        raise
    runner = PumpRunner(ctl, opened, idle_poll_s=poll)

    def on_signal(signum: int, frame: object) -> None:
        runner.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stall = opened.stall
    if stall is not None:

        def on_stall(signum: int, frame: object) -> None:
            log("emulator: motor stall injected (SIGUSR1)")
            assert stall is not None
            stall()

        signal.signal(signal.SIGUSR1, on_stall)
    server = None
    try:
        if setup is not None:
            tokens = auth.create_credentials(journal, setup.credentials)
            for name, path in tokens.items():
                log(f"credential {name}: token written to {path}")
            try:
                runner.run_setup(setup)
            except DosingError as exc:
                log(f"setup rejected: {exc}")
                runner.shutdown()
                return 1
            if runner.stopping.is_set():
                log("stopped during the setup: drive stopped, state journaled")
                runner.shutdown()
                return 0
        store = auth.CredentialStore.load(journal)
        server = api.start_server(runner, store, args.host, args.port, args.tls_cert, args.tls_key)
        log(f"operator API on {server.url} (OpenAPI: {server.url}/api/v1/openapi.json)")
        runner.loop()
        log("stopping: drive stopped, state journaled")
        runner.shutdown()
        return 0
    except JournalHalt as exc:
        log(f"journal cannot record: {exc}; drive stopped, a clinician must attend")
        return 1
    finally:
        if server is not None:
            server.close()
        with contextlib.suppress(Exception):
            ctl.close()
        opened.close()
