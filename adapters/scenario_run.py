"""Scenario running: a :class:`Scenario` on a simulated drive through the controller.

:func:`run_scenario` runs the timeline on a :class:`~itdose.adapters.simdrive.SimulatedDrive`
through the :class:`~itdose.adapters.controller.Controller`, records notable events, per-day
figures and plot samples, and returns a :class:`RunResult` with the expectations checked
(:mod:`itdose.adapters.scenario_check`). Nothing here decides dosing.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from itdose.adapters import simdrive as sd
from itdose.adapters.controller import Controller, ControllerEvent, VirtualClock
from itdose.adapters.durable import DurableController
from itdose.adapters.journal import Journal
from itdose.adapters.scenario_check import check_expectations
from itdose.adapters.scenario_model import (
    DayFigures,
    ExpectResult,
    RunResult,
    Scenario,
    TimelineItem,
)
from itdose.core import commands as c
from itdose.core.dosing import SEGMENT_S, bolus_in_flight
from itdose.core.effects import (
    Annunciate,
    BolusDecision,
    DeliveryOrder,
    Record,
    TipChange,
    Warn,
)
from itdose.core.errors import DosingError
from itdose.core.program import Program
from itdose.core.state import Device, Role
from itdose.core.units import DAY_S

C, S, P = Role.CLINICIAN, Role.SERVICE, Role.PATIENT

_ROUTINE = frozenset({c.Tick.name, c.DriveReport.name})
_QUIET_RECORDS = frozenset({*c.COMMANDS, "basal_withheld"})
"""Audit records not shown unless verbose: those repeating an accepted command (shown as the
command event) and the routine basal withholding while the reservoir runs low."""


class _Recorder:
    """The controller's observer: keeps notable events, daily figures and plot samples."""

    def __init__(
        self,
        result: RunResult,
        sample_s: int,
        verbose: bool,
        samples: bool = True,
        events: bool = True,
    ) -> None:
        self.r = result
        self.samples = samples
        self.events = events
        self.sample_s = sample_s
        self.verbose = verbose
        self.last_sample = -sample_s
        self.delivered = 0
        self.phase = ""
        self.phase_seen: object = None
        """The phase (the enum member) of the latest event: ``phase`` is its value."""
        self.open_alarms: dict[str, int] = {}
        self.last_alarms: tuple[object, ...] = ()
        self.prev: tuple[int, Device] | None = None
        """Time and device of the latest event: nothing changes until the next one."""

    def __call__(self, e: ControllerEvent, d: Device) -> None:
        r = self.r
        t = e.t_s
        if self.samples:
            if self.prev is not None and t - self.prev[0] > self.sample_s:
                # a quiet stretch: the rolling 24 h window still ages, so sample it on the way
                t0, d0 = self.prev
                for ts in range(max(t0, self.last_sample) + self.sample_s, t, self.sample_s):
                    self._sample(ts, d0)
            self.prev = (t, d)
        if d.delivered_ng != self.delivered:
            day = self._day(t)
            day.delivered_ng += d.delivered_ng - self.delivered
            self.delivered = d.delivered_ng
        if d.phase is not self.phase_seen:
            self.phase_seen = d.phase
            self.phase = d.phase.value
            r.phases.append((t, self.phase))
        if d.alarms is not self.last_alarms:
            self._alarms(t, d)
        if e.kind == "step":
            if self.samples and t - self.last_sample >= self.sample_s:
                self._sample(t, d)
            return
        notable = True
        if e.kind == "command" and e.command is not None and e.command.name in _ROUTINE:
            notable = self.verbose
        elif e.kind == "effect":
            eff = e.effect
            if isinstance(eff, DeliveryOrder):
                notable = self.verbose or eff.kind != "basal"
            elif isinstance(eff, BolusDecision):
                r.boluses.append((t, eff.granted, tuple(why.value for why in eff.reasons)))
                day = self._day(t)
                if eff.granted:
                    day.boluses_granted += 1
                else:
                    day.boluses_denied += 1
            elif isinstance(eff, Warn):
                r.warnings.append((t, eff.code))
            elif isinstance(eff, TipChange):
                r.warnings.append((t, "tip_change"))
            elif isinstance(eff, Record):
                notable = self.verbose or eff.event not in _QUIET_RECORDS
            elif e.text in ("stop", "cancel"):
                notable = self.verbose or e.text == "stop"
            elif not isinstance(eff, Annunciate):
                notable = self.verbose
        elif e.kind == "rejected" and e.command is not None and e.command.role is S:
            notable = True
        if notable:
            if self.events:
                r.events.append(self._event(e, d))
            self._sample(t, d)

    def _day(self, t: int) -> DayFigures:
        day = self.r.days.get(t // DAY_S)
        if day is None:
            day = self.r.days[t // DAY_S] = DayFigures(t // DAY_S)
        return day

    def _sample(self, t: int, d: Device) -> None:
        if not self.samples:
            return
        self.last_sample = t
        res = d.reservoir.volume_nl if d.reservoir is not None else 0
        window = d.ledger.window_total_ng(t) if d.clock_s is not None else 0
        self.r.samples.append((t, res, window))
        day = self._day(t)
        day.reservoir_nl = res
        day.max_window_ng = max(day.max_window_ng, window)

    def _alarms(self, t: int, d: Device) -> None:
        self.last_alarms = d.alarms
        now = {a.kind.value: a for a in d.alarms}
        for kind, a in now.items():
            if kind not in self.open_alarms:
                self.open_alarms[kind] = len(self.r.alarm_spans)
                self.r.alarm_spans.append((kind, a.priority.name.lower(), t, None))
        for kind in list(self.open_alarms):
            if kind not in now:
                i = self.open_alarms.pop(kind)
                k, prio, start, _ = self.r.alarm_spans[i]
                self.r.alarm_spans[i] = (k, prio, start, t)

    def _event(self, e: ControllerEvent, d: Device) -> dict[str, Any]:
        ev: dict[str, Any] = {"t_s": e.t_s, "kind": e.kind, "text": e.text}
        if e.command is not None:
            ev["command"] = e.command.name
            ev["role"] = e.command.role.value
            if e.outcome is not None and e.outcome.effects:
                rec = e.outcome.effects[0]
                if isinstance(rec, Record) and rec.detail:
                    ev["detail"] = {"record": rec.detail[:160]}
        if e.effect is not None:
            ev["effect"] = type(e.effect).__name__
            ev["detail"] = _effect_detail(e.effect)
        if e.error is not None:
            ev["error"] = str(e.error)
        ev["phase"] = d.phase.value
        ev["alarms"] = [a.kind.value for a in d.alarms]
        ev["reservoir_nl"] = d.reservoir.volume_nl if d.reservoir is not None else None
        return ev


def _effect_detail(eff: object) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(eff):  # type: ignore[arg-type]
        v = getattr(eff, f.name)
        if hasattr(v, "value") and not isinstance(v, int):
            v = v.value
        if isinstance(v, tuple):
            v = [x.value if isinstance(x, enum.Enum) else x for x in v]
        out[f.name] = v
    return out


class _Truth:
    """The simulated reservoir as the clinician sees it at a refill: withdrawals and refills act
    on the :class:`~itdose.adapters.simdrive.SimulatedDrive`'s physical reservoir."""

    def __init__(self, sim: sd.SimulatedDrive) -> None:
        self.sim = sim

    def residual(self) -> int:
        return self.sim.truth().reservoir_nl

    def withdraw(self, requested: int | None) -> int:
        """Withdraw ``requested`` (everything with ``None``); the clinician records the volume
        asked for, which may exceed what was there (a reconciliation finding)."""
        taken = self.sim.withdraw(requested)
        return requested if requested is not None else taken

    def add(self, volume: int) -> None:
        self.sim.refill(volume)


def _commands(
    item: TimelineItem, sc: Scenario, truth: _Truth, ctl: Controller
) -> list[Callable[[], c.Command]]:
    """The core commands an action issues (built lazily: a withdrawal reads the truth when it
    runs)."""
    p = item.params
    ov = p.get("overrides", ())

    def prog(name: str) -> tuple[Program, tuple[c.Override, ...]]:
        program, program_ov = sc.programs[name]
        return program, program_ov + ov

    a = item.action
    if a == "screening":
        return [
            lambda: c.RecordScreening(
                C, p.get("candidate", True), p.get("baseline_pain", 0), p.get("note", "")
            )
        ]
    if a == "start_trial":
        return [
            lambda: c.StartTrial(
                C,
                sc.drug,
                sc.indication,
                p.get("plan", "trial"),
                p.get("opioid_status", sc.opioid_status),
                ov,
            )
        ]
    if a == "trial_dose":
        return [lambda: c.RecordTrialDose(C, p["dose"], ov)]
    if a == "pain_score":
        return [lambda: c.RecordPainScore(C, p["score"])]
    if a == "screening_response":
        return [lambda: c.RecordScreeningResponse(C, p["positive"])]
    if a == "conclude_trial":
        return [lambda: c.ConcludeTrial(C, p.get("outcome"), p.get("reason", ""))]
    if a == "implant":
        return [lambda: c.Implant(C, sc.pump, sc.catheter, sc.trimmed_mm, ov)]
    if a == "fill":
        return [
            lambda: c.Fill(C, p["volume"], p.get("concentration", sc.concentration_ng_per_ml), ov)
        ]
    if a == "set_program":
        program, pov = prog(p["program"])
        return [
            lambda: c.SetProgram(
                C, program, pov, p.get("confirm_withdrawal_risk", False), sc.utc_start_s
            )
        ]
    if a == "prime":
        return [lambda: c.Prime(C, p.get("duration", 480))]
    if a == "start":
        return [lambda: c.StartDosing(C, p.get("restart_reason", ""))]
    if a == "bolus":
        return [lambda: c.RequestBolus(P)]
    if a == "clinician_bolus":
        return [lambda: c.ClinicianBolus(C, p["dose"], p["duration"])]
    if a == "suspend":
        return [
            lambda: c.Suspend(
                C, p.get("reason", "clinician"), p.get("confirm_withdrawal_risk", False)
            )
        ]
    if a == "resume":
        return [lambda: c.Resume(C, p.get("reason", "clinician"), p.get("restart_reason", ""))]
    if a == "clear_alarm":
        return [lambda: c.ClearAlarm(C, p["alarm"], p.get("reason", "cause resolved"))]
    if a == "silence_alarm":
        return [lambda: c.SilenceAlarm(C, p["alarm"], p["duration"])]
    if a == "abort_refill":
        return [lambda: c.AbortRefill(C, p.get("reason", "abandoned"))]
    if a == "begin_mri":
        return [lambda: c.BeginMri(C, p.get("emergency", False), p.get("reason", ""))]
    if a == "end_mri":
        return [lambda: c.EndMri(C)]
    if a == "confirm_mri":
        return [lambda: c.ConfirmPostMri(C, p.get("reason", "recovery confirmed"))]
    if a == "explant":
        return [
            lambda: c.Explant(
                C, p.get("reason", "explant"), p.get("confirm_withdrawal_risk", False)
            )
        ]
    if a == "empty_reservoir":
        return [lambda: c.EmptyReservoir(C, truth.withdraw(p.get("withdrawn")))]
    begin: list[Callable[[], c.Command]] = [lambda: c.BeginRefill(C)]
    withdraw: list[Callable[[], c.Command]] = [
        lambda: c.RecordWithdrawal(C, truth.withdraw(p.get("withdrawn")))
    ]

    def complete() -> c.Command:
        program = prog(p["program"]) if "program" in p else None
        res = ctl.device.reservoir
        current = res.concentration_ng_per_ml if res is not None else sc.concentration_ng_per_ml
        return c.CompleteRefill(
            C,
            p["volume"],
            p.get("concentration", current),
            p.get("drug"),
            program[0] if program else None,
            p.get("finding_reason", ""),
            (program[1] if program else ov),
            sc.utc_start_s if program else None,
            p.get("confirm_withdrawal_risk", False),
        )

    if a == "begin_refill":
        return begin
    if a == "record_withdrawal":
        return withdraw
    if a == "complete_refill":
        return [complete]
    return [*begin, *withdraw, complete]  # refill


def run_scenario(
    sc: Scenario,
    *,
    until_s: int | None = None,
    verbose: bool = False,
    progress: Callable[[int, int], None] | None = None,
    max_segment_s: int | None = None,
    drive_factory: Callable[[sd.SimConfig, tuple[sd.SimEvent, ...]], sd.SimulatedDrive]
    | None = None,
    observer: Callable[[ControllerEvent, Device], None] | None = None,
    samples: bool = True,
    events: bool = True,
) -> RunResult:
    """Run ``sc`` on a simulated drive up to its end (or ``until_s``) and check it;
    ``max_segment_s`` overrides the scenario's longest basal order. ``drive_factory`` builds the
    simulated drive (e.g. one that records its true delivery), ``observer`` also receives every
    controller event (after the timeline recorder). ``samples=False`` leaves out the plot samples
    and the per-day largest 24 h window (``RunResult.samples``, ``DayFigures.max_window_ng``):
    they read the core's ledger at every sample and only the plots and the timeline use them;
    nothing else in the run changes. ``events=False`` leaves out the notable events
    (``RunResult.events``, which only the timeline and the JSON output show)."""
    end = sc.end_s if until_s is None else until_s
    make = sd.SimulatedDrive if drive_factory is None else drive_factory
    sim = make(sc.sim_config, sc.faults)
    truth = _Truth(sim)
    device = Device()
    result = RunResult(sc, device)
    result.hard_max_ng = sc.library.drug(sc.drug, sc.indication).max_daily.value
    recorder = _Recorder(result, max(600, end // 4000), verbose, samples, events)
    restarts = any(x.action == "restart" for x in sc.timeline if x.at_s <= end)
    lag = [0]
    """Seconds the controller's timeline runs behind the drive's clock: the downtime of restarts
    that the wall clock, set back while the controller was down, hid (R-CLK-1)."""

    def observe(e: ControllerEvent, d: Device) -> None:
        if lag[0]:  # events on the drive's clock, as the drive's own faults and log are
            e = ControllerEvent(
                e.t_s + lag[0], e.kind, e.text, e.command, e.effect, e.error, e.outcome
            )
        recorder(e, d)
        if observer is not None:
            observer(e, d)

    ctl = Controller(
        sim,
        sc.library,
        VirtualClock(sim, drive_wakeups=sc.drive_wakeups),
        device,
        observer=recorder if observer is None and not restarts else observe,
        max_segment_s=sc.max_segment_s if max_segment_s is None else max_segment_s,
        poll_interval_s=sc.poll_s,
        watchdog_s=2 * sc.poll_s,
        retry_interval_s=min(sc.poll_s, SEGMENT_S),
        segment_backoff=sc.segment_backoff,
    )

    for f in sc.faults:
        ctl.wake_at(f.at_s)
    for t in (sc.sim_config.battery_eri_at_s, sc.sim_config.battery_eos_at_s):
        if t is not None:
            ctl.wake_at(t)
    probe_times: set[int] = set()
    for ex in sc.expectations:
        for key in ("from", "to", "at"):
            if key in ex.params:
                probe_times.add(ex.params[key])
    timeline = [x for x in sc.timeline if x.at_s <= end]
    times = sorted({x.at_s for x in timeline} | {t for t in probe_times if t <= end} | {end})
    by_time: dict[int, list[TimelineItem]] = {}
    for x in timeline:
        by_time.setdefault(x.at_s, []).append(x)
    steps = wakeups = 0
    scratch = _SCRATCH if os.path.isdir(_SCRATCH) and os.access(_SCRATCH, os.W_OK) else None
    with (
        tempfile.TemporaryDirectory(prefix="itdose-restart-", dir=scratch)
        if restarts
        else _NoDir() as work
    ):
        for t in times:
            ctl.run_until(t - lag[0])
            if progress is not None:
                progress(t, end)
            if t in probe_times:
                d = ctl.device
                res = d.reservoir.volume_nl if d.reservoir is not None else 0
                result.probes[t] = (d.delivered_ng, res, d.phase.value)
            for item in by_time.get(t, []):
                if item.action == "restart":
                    steps += ctl.stats.steps
                    wakeups += ctl.stats.wakeups
                    crash = sim.now_s
                    ctl = _restart(ctl, item, sc, sim, Path(work), lag, observe)
                    result.restarts.append((crash, sim.now_s, lag[0]))
                    continue
                _run_item(ctl, item, sc, truth, result)
            if by_time.get(t):
                ctl.service()
        if isinstance(ctl, DurableController):
            ctl.close()
    result.device = ctl.device
    result.steps = steps + ctl.stats.steps
    result.wakeups = wakeups + ctl.stats.wakeups
    result.drive_events = sim.events_processed
    recorder._sample(end, ctl.device)
    result.results.extend(check_expectations(result, end, None if until_s is None else sc.end_s))
    return result


_SCRATCH = "/dev/shm"
"""Memory-backed storage, where the host has it, for the journals of a scenario's restarts: the
same journal code runs (its writes, fsyncs and verification), at no disk's pace (about a fifth
of a second a restart on a disk, most of it waiting for fsync). What a journal keeps across a
real crash is the crash test's subject (tools/crash_test.py), not a simulation's."""


class _Restarted(DurableController):
    """The controller started again from its journal: it journals the restart (verification,
    downtime, the reconciliation of the orders in flight), then runs on as the plain
    :class:`Controller` (``journaling`` False; the next restart journals the device afresh), so
    a long simulation does not pay a committed journal write per step."""

    journaling = True

    def submit(self, command: c.Command) -> Any:
        if self.journaling:
            return super().submit(command)
        return Controller.submit(self, command)


class _NoDir:
    def __enter__(self) -> str:
        return ""

    def __exit__(self, *exc: object) -> None:
        return None


def _restart(
    ctl: Controller,
    item: TimelineItem,
    sc: Scenario,
    sim: sd.SimulatedDrive,
    work: Path,
    lag: list[int],
    observe: Callable[[ControllerEvent, Device], None],
) -> _Restarted:
    """The controller process stops at ``item.at_s`` and starts again ``downtime`` later from its
    journal (:meth:`DurableController.open`: verified, resumed, orders in flight reconciled with
    the drive), the drive running on meanwhile. The journal holds the device as the controller
    had last recorded it (the write-ahead order itself is checked by the crash test,
    tools/crash_test.py). With ``clock_back`` the wall clock reads that much earlier when the
    controller starts again (set back while it was down), until ``clock_fixed_after`` later it
    is corrected: the timeline never goes back (it holds at the last journaled time) and the
    correction does not move it (R-CLK-1), so the controller's timeline then runs behind the
    drive's clock by the hidden downtime (``lag``, added back to the times of the events the
    observer receives).
    Timeline actions that fall inside the downtime run when the controller is back."""
    p = item.params
    down = p.get("downtime", 60)
    back = p.get("clock_back", 0)
    fixed = p.get("clock_fixed_after")
    now_c = ctl.clock.now_s()
    crash = sim.now_s
    path = work / f"journal-{len(list(work.glob('journal-*.db')))}.db"
    Journal.create(
        path,
        ctl.device,
        now_s=now_c,
        reason=f"the controller's journal as it stood at t={crash} s (scenario restart)",
        clock_offset_s=now_c - crash,
    ).close()
    if isinstance(ctl, DurableController):
        ctl.close()
    up = crash + down

    def wall() -> int:
        now = sim.now_s
        return now - (back if fixed is None or now < up + fixed else 0)

    lag[0] = up - max(now_c, now_c + down - back)
    sim.advance_to(up)  # the drive runs on (or its watchdog stops it) while nothing controls it
    new = _Restarted.open(
        path,
        sim,
        sc.library,
        VirtualClock(sim, drive_wakeups=sc.drive_wakeups),
        observer=observe,
        reason=f"scenario restart after {down} s",
        poll_interval_s=ctl.poll_interval_s,
        watchdog_s=ctl.watchdog_s,
        wall=wall,
    )
    if sim.now_s - new.clock.now_s() != lag[0]:
        raise RuntimeError(
            f"restart at {crash} s: the controller's timeline is {new.clock.now_s()} s, "
            f"expected {sim.now_s - lag[0]} s"
        )
    assert isinstance(new, _Restarted)
    new.journaling = False
    new.max_segment_s = ctl.max_segment_s
    new.segment_backoff = ctl.segment_backoff
    new.retry_interval_s = ctl.retry_interval_s
    for f in sc.faults:
        if f.at_s > up:
            new.wake_at(f.at_s - lag[0])
    for t in (sc.sim_config.battery_eri_at_s, sc.sim_config.battery_eos_at_s):
        if t is not None and t > up:
            new.wake_at(t - lag[0])
    return new


def _run_item(
    ctl: Controller, item: TimelineItem, sc: Scenario, truth: _Truth, result: RunResult
) -> None:
    error: DosingError | None = None
    if item.action == "refill":
        # the clinician waits for a bolus in flight to end: a refill cannot begin before
        # (docs/dosing-rules.md#r-bol-5); the one-step begin_refill is submitted as written
        bolus = bolus_in_flight(ctl.device, ctl.clock.now_s())
        if bolus is not None:
            ctl.run_until(bolus.end_s)
    for build in _commands(item, sc, truth, ctl):
        command = build()
        try:
            ctl.submit(command)
        except DosingError as exc:
            error = exc
            break
        if isinstance(command, c.Fill | c.CompleteRefill):
            truth.add(command.volume_nl if isinstance(command, c.Fill) else command.added_nl)
    where = f"timeline[{item.index}] {item.action} at t={item.at_s}"
    if error is not None:
        result.rejected.append((item.at_s, item.action, str(error)))
        if item.expect == "accepted":
            result.results.append(
                ExpectResult(where, "accepted", False, f"rejected: {error}", "accepted")
            )
        else:
            result.results.append(ExpectResult(where, "rejected", True, str(error), "rejected"))
    elif item.expect == "rejected":
        result.results.append(ExpectResult(where, "rejected", False, "accepted", "rejected"))
