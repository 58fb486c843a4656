"""Crash test of the durable controller: SIGKILL at random points, restart, check (H12).

Usage: ``python tools/crash_test.py --kills 200 --seed 1 [--days 3] [--workdir DIR]``

The simulated drive (:class:`itdose.adapters.durable.RecordingSimDrive`, the implant's drive with
its persistent delivery log and the virtual clock) lives in this, the parent, process. The
durable controller runs in a child process (this script with ``--child``) and reaches the drive
and the clock over a pipe (pickled request/reply frames), as a controller reaches an implant over
a link. The parent serves the child's requests and, after a random number of them, kills the
child with SIGKILL: after replying and a random 0-3 ms more (the child may be inside a journal
commit), after carrying out a request without replying (a lost reply), or before carrying it
out. It then lets the drive run on alone for a random downtime and starts a new child, which
restarts from the journal (:meth:`DurableController.open`).

The therapy: morphine 10 mg/mL on a Prometra II, 8 mg/day basal, 1 mg patient boluses (10 min,
60 min lockout, 4 per 24 h), requested by the patient at random intervals of 10 min to 4 h (so
lockout and count denials happen); a request missed while the controller was down is made once
at the restart.

After every kill (child dead) the parent checks, from the journal and the drive alone:

* ``chain``: the journal verifies (:func:`itdose.adapters.journal.verify_file`, the
  ``itdose log verify`` logic);
* ``window``: no rolling 24 h window (t - 86400 s, t] of drive-reported patient drug, rebuilt
  from the audit log's drive reports (never from the core's ledger), above the hard maximum;
* ``accounting``: the journal's total reported volume (fill minus the tracked reservoir) is at
  most the drive's own delivered total, which exceeds it by at most what the journal has in
  flight (plus one stroke, 1 nL); and right after a restart's reconciliation (the child's
  ``checkpoint``) the two are equal within one stroke, and the only order left in flight, if
  any, is the one whose command the drive is running (adopted);
* ``lockout``: no granted bolus starts within the lockout of the previous granted start, and no
  24 h window holds more than the maximum count, across kills;
* ``catch_up``: no basal order is larger than the programmed rate over its duration (+1 nL).

It prints the counts (kills, restarts, reconciled restarts, violations) and the journal write
cost per command (time in ``Journal.record``: encoding, HMAC, SQLite commit with fsync, head
file replaced with fsync), and
exits 1 if any violation was found.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pickle
import random
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from itdose.adapters import drive as dr
from itdose.adapters.controller import VirtualClock
from itdose.adapters.durable import DurableController, RecordingSimDrive
from itdose.adapters.journal import Journal, read_entries, verify_file
from itdose.adapters.simdrive import SimConfig
from itdose.core import Device, DosingError, Library
from itdose.core import commands as c
from itdose.core.program import Basal, PatientBolusProgram, Program
from itdose.core.state import Role
from itdose.specs import load_library

C, S, P = Role.CLINICIAN, Role.SERVICE, Role.PATIENT
HOUR, DAY = 3600, 86400
CONC = 10_000_000  # ng/mL: morphine 10 mg/mL
BASAL_NG_DAY = 8_000_000
BOLUS_NG = 1_000_000
BOLUS_S = 600
LOCKOUT_S = HOUR
MAX_PER_24H = 4
FILL_NL = 20_000_000
STROKE_NL = 1
"""The simulated drive's volume resolution: one stroke."""
START_S = 7 * DAY + 700
"""Dosing starts here (after screening, trial, implant, fill, program and priming)."""
FOREVER_S = 10**12
"""The end given to a child that will be killed."""

PROGRAM = Program(
    drug="morphine",
    indication="pain",
    concentration_ng_per_ml=CONC,
    basal=Basal.continuous(BASAL_NG_DAY),
    patient_bolus=PatientBolusProgram(
        dose_ng=BOLUS_NG, duration_s=BOLUS_S, lockout_s=LOCKOUT_S, max_per_24h=MAX_PER_24H
    ),
    opioid_status="opioid-tolerant",
)


def sim_config() -> SimConfig:
    return SimConfig(
        reservoir_capacity_nl=FILL_NL,
        reservoir_nl=FILL_NL,
        start_s=0,
        min_rate_nl_per_h=1,
        max_rate_nl_per_h=10**8,
        battery_eri_at_s=None,
        battery_eos_at_s=None,
    )


def bolus_times(seed: int, start_s: int) -> Iterator[int]:
    """The patient's bolus requests: every 10 min to 4 h (a pure function of the seed)."""
    rng = random.Random(f"bolus-{seed}")
    t = start_s
    while True:
        t += rng.randint(10 * 60, 4 * HOUR)
        yield t


def setup(path: Path, sim: RecordingSimDrive, library: Library) -> None:
    """The first start (in the parent): screening to active dosing, journaled from the start,
    priming delivered by the drive."""
    clock = VirtualClock(sim)
    ctl = DurableController.create(
        path, sim, library, clock, Device(), reason="crash test: first start"
    )
    timed: list[tuple[c.Command, int]] = [
        (c.RecordScreening(C, candidate=True, baseline_pain=8), 0),
        (c.StartTrial(C, "morphine", "pain", plan="single intrathecal bolus"), 60),
        (c.RecordTrialDose(C, amount_ng=300_000), 120),
        (c.RecordPainScore(C, score=3), 4 * HOUR),
        (c.ConcludeTrial(C), 5 * HOUR),
        (c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=200), 7 * DAY),
        (c.Fill(C, volume_nl=FILL_NL, concentration_ng_per_ml=CONC), 7 * DAY + 60),
        (c.SetProgram(C, PROGRAM), 7 * DAY + 90),
        (c.Prime(C, duration_s=480), 7 * DAY + 120),
    ]
    for command, at in timed:
        clock.wait_until(at)
        ctl.submit(command)
    ctl.run_until(START_S)
    assert ctl.device.primed, "priming did not complete"
    ctl.submit(c.StartDosing(C))
    ctl.run_until(START_S + 60)
    ctl.close()


# ---------------------------------------------------------------------------- the link


def _send(stream: IO[bytes], value: object) -> None:
    pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


class RemoteDrive:
    """The child's view of the parent's drive and virtual clock (a :class:`Drive`, a
    :class:`~itdose.adapters.durable.CommandHistory` and the clock a VirtualClock needs)."""

    def __init__(self, rfile: BinaryIO, wfile: BinaryIO) -> None:
        self._r, self._w = rfile, wfile
        self.stats: tuple[int, float, float] = (0, 0.0, 0.0)

    def call(self, op: str, *args: object) -> Any:
        _send(self._w, (op, args, self.stats))
        kind, value = pickle.load(self._r)
        if kind == "ok":
            return value
        if kind == "drive_error":
            name, operation, message, fault, status = value
            cls = getattr(dr, name)
            raise cls(operation, message, fault=fault, status=status)
        raise RuntimeError(f"drive host: {value}")

    @property
    def now_s(self) -> int:
        now: int = self.call("now")
        return now

    def advance_to(self, t_s: int) -> None:
        self.call("advance", t_s)

    def identify(self) -> dr.DriveInfo:
        info: dr.DriveInfo = self.call("identify")
        return info

    def configure(self, config: dr.DriveConfig) -> None:
        self.call("configure", config)

    def start(self, command: dr.DeliveryCommand) -> dr.StartResult:
        result: dr.StartResult = self.call("start", command)
        return result

    def stop(self) -> dr.DriveStatus:
        status: dr.DriveStatus = self.call("stop")
        return status

    def poll(self) -> dr.DriveStatus:
        status: dr.DriveStatus = self.call("poll")
        return status

    def acknowledge(self, fault: dr.FaultCode) -> None:
        self.call("acknowledge", fault)

    def close(self) -> None:
        """The drive belongs to the parent: nothing to close."""

    def outcomes(self, prefix: str) -> tuple[dr.DeliveryOutcome, ...]:
        outs: tuple[dr.DeliveryOutcome, ...] = self.call("outcomes", prefix)
        return outs


def child(journal: str, seed: int, end_s: int) -> int:
    """One controller process: restart from the journal and dose until ``end_s``."""
    remote = RemoteDrive(sys.stdin.buffer, sys.stdout.buffer)
    sys.stdout = sys.stderr  # stdout is the link
    library = load_library()
    ctl = DurableController.open(journal, remote, library, VirtualClock(remote))

    def note_stats() -> None:
        w = ctl.write_stats
        remote.stats = (w.count, w.total_s, w.max_s)

    note_stats()
    remote.call("checkpoint")
    now = ctl.clock.now_s()
    last_before = now - ctl.restart.downtime_s

    def press() -> None:
        with contextlib.suppress(DosingError):
            ctl.submit(c.RequestBolus(P))
        note_stats()

    missed = False
    for t in bolus_times(seed, START_S):
        missed |= last_before < t <= now
        if t <= now:
            continue
        if missed:
            press()  # the patient presses again after the pump came back
            missed = False
        if t > end_s:
            break
        ctl.run_until(t)
        note_stats()
        press()
    ctl.run_until(end_s)
    note_stats()
    remote.call("done")
    return 0


# ---------------------------------------------------------------------------- the checks


@dataclass
class Audit:
    """Incremental analysis of the audit log (rebuilt from the records, not the ledger)."""

    hard_max_ng: int
    seq: int = 0
    orders: dict[int, tuple[str, int]] = field(default_factory=dict)
    reported: dict[int, int] = field(default_factory=dict)
    doses: deque[tuple[int, int]] = field(default_factory=deque)
    window_ng: int = 0
    max_window_ng: int = 0
    grants: deque[int] = field(default_factory=deque)
    last_grant: int | None = None
    granted: int = 0
    denied: int = 0
    reports: int = 0
    restart_reports: int = 0
    conservative_reports: int = 0

    def feed(self, path: Path, problems: list[str]) -> None:
        with Journal.open(path, read_only=True) as j:
            new = j.last_seq - self.seq
            entries = read_entries(path, new) if new > 0 else []
        for e in entries:
            if e.seq <= self.seq:
                continue
            self.seq = e.seq
            if e.kind != "command" or e.outcome != "accepted" or e.command is None:
                continue
            cmd = json.loads(e.command)
            for eff in json.loads(e.effects):
                if eff["type"] == "DeliveryOrder":
                    self.orders[eff["order_id"]] = (eff["kind"], eff["volume_nl"])
                    if eff["kind"] == "basal":
                        daily_nl = BASAL_NG_DAY * 10**6 // CONC
                        limit = -(-daily_nl * eff["duration_s"] // DAY) + 1
                        if eff["volume_nl"] > limit:
                            problems.append(
                                f"catch_up: basal order {eff['order_id']} of {eff['volume_nl']} nL"
                                f" over {eff['duration_s']} s (at most {limit} nL) at {e.time_s}"
                            )
                elif eff["type"] == "BolusDecision":
                    if eff["granted"]:
                        self._grant(e.time_s, problems)
                    else:
                        self.denied += 1
            if cmd["name"] == "drive_report":
                self._report(e.time_s, cmd["fields"], e.reason, problems)

    def _grant(self, t: int, problems: list[str]) -> None:
        self.granted += 1
        if self.last_grant is not None and t - self.last_grant < LOCKOUT_S:
            problems.append(f"lockout: bolus granted at {t}, {t - self.last_grant} s after one")
        self.last_grant = t
        self.grants.append(t)
        while self.grants and self.grants[0] <= t - DAY:
            self.grants.popleft()
        if len(self.grants) > MAX_PER_24H:
            problems.append(f"lockout: {len(self.grants)} boluses granted in 24 h at {t}")

    def _report(self, t: int, fields: dict[str, Any], reason: str, problems: list[str]) -> None:
        self.reports += 1
        if reason.startswith("restart:"):
            self.restart_reports += 1
            if "conservative" in reason or "upper bound" in reason:
                self.conservative_reports += 1
        oid = fields["order_id"]
        kind, _ = self.orders.get(oid, ("?", 0))
        before = self.reported.get(oid, 0)
        delta = max(0, fields["delivered_nl"] - before)
        self.reported[oid] = max(before, fields["delivered_nl"])
        if kind == "priming" or delta == 0:
            return
        dose = -(-delta * CONC // 10**6)
        self.doses.append((t, dose))
        self.window_ng += dose
        while self.doses and self.doses[0][0] <= t - DAY:
            self.window_ng -= self.doses.popleft()[1]
        self.max_window_ng = max(self.max_window_ng, self.window_ng)
        if self.window_ng > self.hard_max_ng:
            problems.append(f"window: {self.window_ng} ng in the 24 h to {t} > {self.hard_max_ng}")


def journal_totals(path: Path) -> tuple[int, int]:
    """(volume the journal counted delivered, volume it has in flight)."""
    with Journal.open(path, read_only=True) as j:
        d = j.device
    assert d.reservoir is not None
    in_flight = sum(max(0, o.volume_nl - o.reported_nl) for o in d.orders)
    return FILL_NL - d.reservoir.volume_nl, in_flight


# ---------------------------------------------------------------------------- the parent


@dataclass
class Result:
    kills: int = 0
    restarts: int = 0
    reconciled_restarts: int = 0
    adopted: int = 0
    violations: list[str] = field(default_factory=list)
    writes: int = 0
    write_total_s: float = 0.0
    write_max_s: float = 0.0
    simulated_s: int = 0
    records: int = 0
    granted: int = 0
    denied: int = 0
    restart_reports: int = 0
    conservative_reports: int = 0
    max_window_ng: int = 0
    hard_max_ng: int = 0
    drive_total_nl: int = 0
    journal_total_nl: int = 0
    wall_s: float = 0.0

    @property
    def write_mean_s(self) -> float:
        return self.write_total_s / self.writes if self.writes else 0.0

    def summary(self) -> str:
        return "\n".join(
            [
                f"kills: {self.kills}",
                f"restarts: {self.restarts} ({self.reconciled_restarts} reached reconciliation, "
                f"{self.adopted} adopted a running command)",
                f"violations found: {len(self.violations)}",
                f"simulated: {self.simulated_s / DAY:.2f} days after dosing started; "
                f"{self.records} journal records; wall {self.wall_s:.1f} s",
                f"boluses: {self.granted} granted, {self.denied} denied",
                f"restart reports: {self.restart_reports} "
                f"({self.conservative_reports} conservative bounds)",
                f"max 24 h window: {self.max_window_ng} ng of {self.hard_max_ng} ng hard maximum",
                f"delivered: drive {self.drive_total_nl} nL, journal {self.journal_total_nl} nL",
                f"journal write cost per command: mean {self.write_mean_s * 1000:.3f} ms, "
                f"max {self.write_max_s * 1000:.3f} ms over {self.writes} commands",
            ]
        )


def _serve(sim: RecordingSimDrive, op: str, args: tuple[Any, ...]) -> Any:
    if op == "now":
        return sim.now_s
    if op == "advance":
        (t,) = args
        if t > sim.now_s:
            sim.advance_to(t)
        return None
    if op == "outcomes":
        return sim.outcomes(*args)
    if op in ("identify", "configure", "start", "stop", "poll", "acknowledge"):
        return getattr(sim, op)(*args)
    raise ValueError(f"unknown operation {op!r}")


def run(
    kills: int,
    seed: int,
    *,
    days: float = 3.0,
    workdir: Path | None = None,
    mean_requests: int = 10,
    verbose: bool = False,
) -> Result:
    """Run the crash test; see the module doc."""
    wall0 = time.perf_counter()
    rng = random.Random(seed)
    library = load_library()
    res = Result(hard_max_ng=library.drug("morphine", "pain").max_daily.value)
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="itdose-crash-")
        workdir = Path(tmp.name)
    path = workdir / "journal.db"
    sim = RecordingSimDrive(sim_config())
    setup(path, sim, library)
    end_s = START_S + int(days * DAY)
    audit = Audit(res.hard_max_ng)
    problems = res.violations

    def after_kill() -> None:
        report = verify_file(path)
        if not report.ok:
            problems.append(f"chain: {report.message} (first bad {report.first_bad_seq})")
            return
        audit.feed(path, problems)
        counted, in_flight = journal_totals(path)
        drive = sim.truth().motor_nl
        if not counted - STROKE_NL <= drive <= counted + in_flight + STROKE_NL:
            problems.append(
                f"accounting at kill {res.kills}: drive {drive} nL, journal {counted} nL "
                f"+ {in_flight} nL in flight"
            )

    def checkpoint() -> None:
        counted, _ = journal_totals(path)
        drive = sim.truth().motor_nl
        with Journal.open(path, read_only=True) as j:
            flying = [o.id for o in j.device.orders]
        running = sim.running_command_id
        adopted = running is not None and flying == [int(running.split(".")[0])]
        if abs(drive - counted) > STROKE_NL or (flying and not adopted):
            problems.append(
                f"accounting after restart {res.restarts}: drive {drive} nL, journal "
                f"{counted} nL; in flight {flying}, drive running {running}"
            )
        res.adopted += adopted

    finished = False
    while not finished:
        killing = res.kills < kills
        budget = rng.randint(1, 2 * mean_requests - 1) if killing else -1
        mode = rng.choice(("reply", "reply", "silent", "drop"))
        proc = subprocess.Popen(
            [
                *(sys.executable, __file__, "--child", str(path), "--seed", str(seed)),
                *("--end", str(end_s if not killing else FOREVER_S)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        res.restarts += 1
        served = 0
        stats: tuple[int, float, float] = (0, 0.0, 0.0)
        killed = False
        while True:
            try:
                op, args, stats = pickle.load(proc.stdout)
            except EOFError:
                break
            served += 1
            last = served == budget
            if op == "done":
                finished = True
                _send(proc.stdin, ("ok", None))
                break
            if last and mode == "drop":
                killed = True
                break
            try:
                if op == "checkpoint":
                    res.reconciled_restarts += 1
                    checkpoint()
                    reply: tuple[str, Any] = ("ok", None)
                else:
                    reply = ("ok", _serve(sim, op, args))
            except dr.DriveError as exc:
                reply = (
                    "drive_error",
                    (type(exc).__name__, exc.operation, exc.message, exc.fault, exc.status),
                )
            except Exception as exc:
                reply = ("error", repr(exc))
            if last and mode == "silent":
                killed = True
                break
            _send(proc.stdin, reply)
            if last:
                time.sleep(rng.random() * 0.003)
                killed = True
                break
        if killed:
            proc.kill()
            res.kills += 1
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        code = proc.wait()
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
        if not killed and not finished:
            problems.append(f"child exited by itself with {code}: {err[-2000:]}")
            break
        res.writes += stats[0]
        res.write_total_s += stats[1]
        res.write_max_s = max(res.write_max_s, stats[2])
        after_kill()
        if verbose and res.kills % 20 == 0 and killed:
            print(f"  kill {res.kills}: t={sim.now_s - START_S} s, {len(problems)} violations")
        if finished:
            break
        # the controller is down: the drive runs on alone (finishes or keeps its command)
        r = rng.random()
        down = (
            rng.randint(0, 120)
            if r < 0.7
            else rng.randint(120, 1800)
            if r < 0.95
            else (rng.randint(HOUR, 4 * HOUR))
        )
        sim.advance_to(sim.now_s + down)
        end_s = max(end_s, sim.now_s + HOUR)  # the last run doses for at least an hour
    with Journal.open(path, read_only=True) as j:
        res.records = j.last_seq
    res.simulated_s = sim.now_s - START_S
    res.granted, res.denied = audit.granted, audit.denied
    res.restart_reports, res.conservative_reports = (
        audit.restart_reports,
        (audit.conservative_reports),
    )
    res.max_window_ng = audit.max_window_ng
    res.drive_total_nl = sim.truth().motor_nl
    res.journal_total_nl = journal_totals(path)[0]
    res.wall_s = time.perf_counter() - wall0
    if tmp is not None:
        tmp.cleanup()
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=float, default=3.0, help="minimum simulated days")
    parser.add_argument(
        "--mean-requests",
        type=int,
        default=10,
        help="mean drive/clock requests served between kills",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep the journal here")
    parser.add_argument("--child", metavar="JOURNAL", help=argparse.SUPPRESS)
    parser.add_argument("--end", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.seed, args.end)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        for name in ("journal.db", "journal.db-wal", "journal.db-shm"):
            (args.workdir / name).unlink(missing_ok=True)
    res = run(
        args.kills,
        args.seed,
        days=args.days,
        workdir=args.workdir,
        mean_requests=args.mean_requests,
        verbose=True,
    )
    print(res.summary())
    for v in res.violations[:20]:
        print("VIOLATION:", v)
    return 1 if res.violations else 0


if __name__ == "__main__":
    sys.exit(main())
