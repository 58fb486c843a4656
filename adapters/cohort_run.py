"""Running cohort patients: one patient through the controller, the core and the simulated drive,
checked by the independent reference (:mod:`itdose.adapters.cohort_physics`); many patients on
local worker processes.

:func:`run_patient` draws the patient (:func:`itdose.adapters.cohort_draw.draw_patient`), runs its
scenario with :class:`RecordingDrive` (a :class:`~itdose.adapters.simdrive.SimulatedDrive` that
logs every interval of fluid it truly draws from the reservoir, and every fill and withdrawal), and
hands that log to the reference. The result is a plain JSON-friendly dict: it never raises; an
exception is a result with ``error`` set (the patient is reported, never dropped).
"""

from __future__ import annotations

import bisect
import concurrent.futures
import importlib
import itertools
import signal
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from itdose.adapters import simdrive as sd
from itdose.adapters.cohort_draw import Cohort, draw_patient
from itdose.adapters.cohort_fraction import Fraction
from itdose.adapters.cohort_physics import (
    HAZARDS,
    BasalPeriod,
    Delivery,
    FillEvent,
    PumpEvent,
    WithdrawEvent,
    check_patient,
    lost_counts,
    silent_stops,
    sounding_spans,
)
from itdose.adapters.controller import ControllerEvent
from itdose.adapters.durable import RecordingSimDrive
from itdose.adapters.scenario import parse_scenario, run_scenario
from itdose.core import commands as c
from itdose.core.alarms import Priority
from itdose.core.state import Device, Phase
from itdose.core.units import FG_PER_NG

__all__ = [
    "PatientTimeout",
    "RecordingDrive",
    "SchedulerError",
    "TrueLog",
    "dead_volume_nl",
    "faults_to_alarm",
    "run_cohort",
    "run_cohort_on_scheduler",
    "run_patient",
]


@dataclass
class TrueLog:
    """What physically happened to the reservoir, in order, and what was put in it."""

    events: list[Delivery] = field(default_factory=list)
    fills: list[tuple[str, int]] = field(default_factory=list)
    """(drug, concentration) of each accepted fill or refill, in order (from the observer)."""
    drug: str = ""
    used: int = 0
    dosing_steps: list[int] = field(default_factory=list)
    """Instants of the controller steps taken while dosing (phase active or alarm)."""
    programs: list[BasalPeriod] = field(default_factory=list)
    """The accepted programs, as the clinician entered them (not the core's accounting)."""
    high_raises: list[tuple[int, int]] = field(default_factory=list)
    """Each HIGH alarm raised: its instant and the number of dosing steps ended before it."""
    counted_nl: dict[int, int] = field(default_factory=dict)
    """The largest count the core accepted for each order, final or not (order id -> nL: the
    reports are cumulative): what the core counts of what the drive moved for it."""
    sound_marks: list[tuple[int, tuple[int, ...] | None]] = field(default_factory=list)
    """Each change of the alarms present: its instant and, per HIGH alarm, the instant from
    which it sounds (now, or the end of its silence, on the drive's clock)."""
    _alarms: object = None
    _high: frozenset[str] = frozenset()

    def observer(self, e: ControllerEvent, d: Device) -> None:
        """Controller observer: remembers what the clinician put into the reservoir and the
        programs accepted, and when the controller stepped while dosing."""
        if d.alarms is not self._alarms:
            self._alarms = d.alarms
            high = frozenset(a.kind.value for a in d.alarms if a.priority is Priority.HIGH)
            if high - self._high:
                self.high_raises.append((e.t_s, len(self.dosing_steps)))
            self._high = high
            # a silence's end is on the controller's timeline; the alarms change only with an
            # accepted command, at the device's clock: the offset to the drive's clock is exact
            off = e.t_s - (d.clock_s if d.clock_s is not None else e.t_s)
            self.sound_marks.append(
                (
                    e.t_s,
                    tuple(
                        e.t_s
                        if a.silenced_until_s is None or a.silenced_until_s + off <= e.t_s
                        else a.silenced_until_s + off
                        for a in d.alarms
                        if a.priority is Priority.HIGH
                    )
                    or None,
                )
            )
        if e.kind == "step":
            if d.phase is Phase.ACTIVE or d.phase is Phase.ALARM:  # dosing
                self.dosing_steps.append(e.t_s)
            return
        cmd = e.command
        if e.kind != "command" or cmd is None or type(cmd) is c.Tick:  # a tick puts in nothing
            return
        if isinstance(cmd, c.DriveReport):
            before = self.counted_nl.get(cmd.order_id, 0)
            self.counted_nl[cmd.order_id] = max(before, cmd.delivered_nl)
            return
        prog = cmd.program if isinstance(cmd, c.SetProgram | c.CompleteRefill) else None
        if prog is not None:
            steps = tuple((s.start_s, s.dose_ng_per_day) for s in prog.basal.steps)
            pb = prog.patient_bolus
            self.programs.append(
                BasalPeriod(e.t_s, steps, (pb.dose_ng, pb.duration_s) if pb else None)
            )
        if isinstance(cmd, c.Fill):
            self.fills.append((self.drug, cmd.concentration_ng_per_ml))
        elif isinstance(cmd, c.CompleteRefill):
            if cmd.drug is not None:
                self.drug = cmd.drug
            self.fills.append((self.drug, cmd.concentration_ng_per_ml))


class RecordingDrive(RecordingSimDrive):
    """A simulated drive that logs the true fluid it draws (per closed-form interval), refills
    and withdrawals into ``log``, and keeps the outcome of every command it ran (its own
    delivery log: what a restarted controller reconciles from, and the ``count_lost`` check's
    oracle)."""

    def counts_by_order(self) -> dict[int, int]:
        """nL the drive counted for each order's ended commands (ids ``"<order>.<part>"``)."""
        out: dict[int, int] = {}
        for o in self.outcomes(""):
            head, _, _ = o.command_id.partition(".")
            if head.isdigit():
                out[int(head)] = out.get(int(head), 0) + o.delivered_nl
        return out

    log: TrueLog

    def _integrate_to(self, t_s: int) -> None:
        t0, before = self._now, self._fluid.pumped_nl
        r, fluid = self._running, self._fluid
        law = (
            (r.start_s, r.command.rate_nl_per_h, r.done_nl, fluid.ppm, fluid.remainder)
            if r is not None
            else None
        )
        super()._integrate_to(t_s)
        moved = self._fluid.pumped_nl - before
        if moved > 0:
            if law is None:  # not from a command (never in this drive): evenly
                self.log.events.append(PumpEvent(t0, t_s, moved))
            else:
                start, rate, done, ppm, carry = law
                self.log.events.append(PumpEvent(t0, t_s, moved, start, rate, done, ppm, carry))

    def refill(self, volume_nl: int) -> None:
        super().refill(volume_nl)
        log = self.log
        drug, conc = log.fills[log.used] if log.used < len(log.fills) else ("?", 0)
        log.used += 1
        self.log.events.append(FillEvent(self._now, volume_nl, drug, conc))

    def withdraw(self, volume_nl: int | None = None) -> int:
        taken = super().withdraw(volume_nl)
        if taken:
            self.log.events.append(WithdrawEvent(self._now, taken))
        return taken


def dead_volume_nl(cohort: Cohort, pump: str, catheter: str, trimmed_mm: int) -> Fraction:
    """The fluid path's volume from the library's data, exactly (the reference's own arithmetic:
    tubing + (reference length - trimmed) x volume per length; mL/cm data is nL/m x mm / 1000)."""
    lib = cohort.library
    p, cat = lib.pump(pump), lib.catheter(catheter)
    if p.tubing_volume is None or cat.reference_length is None or cat.volume_per_length is None:
        raise ValueError(f"the library has no dead volume data for {pump} with {catheter}")
    length_mm = cat.reference_length.value - trimmed_mm
    return p.tubing_volume.value + Fraction(length_mm * cat.volume_per_length.value, 1000)


def _mm(text: str) -> int:
    value, unit = text.split()
    return int(value) if unit == "mm" else int(value) * 10


_NOT_FAULTS = (sd.MriStall,)
"""Scheduled drive events that are not faults of the drive (an MRI scan stops the rotor by
design, under the clinician's MRI procedure)."""


def _phase_at(phases: list[tuple[int, str]], t: int) -> str:
    """The phase just before instant ``t`` (before the actions at ``t``)."""
    k = bisect.bisect_left(phases, (t, ""))
    return phases[k - 1][1] if k > 0 else ""


def _active_during(phases: list[tuple[int, str]], a: int, b: int) -> bool:
    """Whether the phase is ``active`` at some instant of ``[a, b)``."""
    if _phase_at(phases, a) == "active":
        return True
    for t, ph in itertools.islice(phases, bisect.bisect_left(phases, (a, "")), None):
        if t >= b:
            return False
        if ph == "active":
            return True
    return False


def faults_to_alarm(
    faults: Iterable[sd.SimEvent], phases: list[tuple[int, str]], end_s: int
) -> list[int]:
    """The instants of the drawn drive faults that the alarm latency check holds the controller
    to (REQ-ALM-001, REQ-ALM-004; docs/cohort-schema.md, ``alarm_latency``). A drive sees a
    partial delivery, a motor stall or an occlusion only while it moves fluid: a partial delivery
    counts only when drawn while dosing (phase ``active``), a stall or an occlusion only when
    the phase is ``active`` at some instant before it clears (a stall drawn while the pump is
    suspended or held in a refill, and over before delivery resumes, stops nothing and cannot be
    detected; one still there when delivery resumes stops the first order, and its latency is
    counted in dosing steps from its instant as before). Communication losses, garbled replies
    and resets reach the controller whatever the phase."""
    out: list[int] = []
    for f in faults:
        if isinstance(f, _NOT_FAULTS):
            continue
        if isinstance(f, sd.PartialDelivery) and _phase_at(phases, f.at_s) != "active":
            continue
        if isinstance(f, sd.MotorStall | sd.Occlusion):
            lasts = f.recovers_after_s if isinstance(f, sd.MotorStall) else f.clears_after_s
            clear = end_s if lasts is None else f.at_s + lasts
            if not _active_during(phases, f.at_s, max(clear, f.at_s + 1)):
                continue
        out.append(f.at_s)
    return out


def quiet_stretches(
    phases: list[tuple[int, str]],
    alarm_spans: list[tuple[str, str, int, int | None]],
    faults: tuple[sd.SimEvent, ...],
    end_s: int,
    restarts: Iterable[tuple[int, int]] = (),
) -> list[tuple[int, int]]:
    """Stretches ``(a, b)`` in phase ``active`` with no alarm of any priority, no drive fault
    (a fault's instant, a communication loss's duration) and no controller restart (from the
    stop to the start again: nothing missed while no controller ran is caught up): where the
    accepted program alone says what must leave the tip."""
    cuts: list[tuple[int, int]] = list(restarts)
    for _, _, raised, cleared in alarm_spans:
        cuts.append((raised, end_s if cleared is None else cleared))
    for f in faults:
        cuts.append((f.at_s, f.at_s + (f.duration_s if isinstance(f, sd.CommLoss) else 0)))
    out: list[tuple[int, int]] = []
    marks = [*phases, (end_s, "")]
    for (a, ph), (b, _) in itertools.pairwise(marks):
        if ph != "active" or b <= a:
            continue
        pieces = [(a, b)]
        for lo, hi in cuts:
            nxt: list[tuple[int, int]] = []
            for x, y in pieces:
                if hi < x or lo > y:
                    nxt.append((x, y))
                    continue
                if lo > x:
                    nxt.append((x, lo))
                if hi < y:
                    nxt.append((hi, y))
            pieces = nxt
        out.extend(pieces)
    return out


def _union_length(spans: list[tuple[int, int]], lo: int, hi: int) -> int:
    """Seconds of ``(lo, hi)`` covered by the union of ``spans``."""
    total, reach = 0, lo
    for a, b in sorted((max(a, lo), min(b, hi)) for a, b in spans if b > lo and a < hi):
        if b > reach:
            total += b - max(a, reach)
            reach = b
    return total


def excused_seconds(
    phases: list[tuple[int, str]],
    alarm_spans: list[tuple[str, str, int, int | None]],
    faults: tuple[sd.SimEvent, ...],
    end_s: int,
    restarts: Iterable[tuple[int, int]] = (),
) -> dict[str, int]:
    """Seconds in phase ``active`` that :func:`quiet_stretches` leaves out of the under-delivery
    check, by cause: ``alarm_PRIORITY`` (an alarm of that priority active, the highest when
    several are), then ``comm_loss`` (a drawn communication loss, no alarm), then ``restart``
    (a controller restart's downtime). The rules let delivery fall short there (a HIGH alarm
    stops it, R-ALM-1; nothing missed is caught up), or the shortfall is announced."""
    down = list(restarts)
    marks = [*phases, (end_s, "")]
    out: dict[str, int] = {}
    for (a, ph), (b, _) in itertools.pairwise(marks):
        if ph != "active" or b <= a:
            continue
        seen: list[tuple[int, int]] = []
        for prio in ("high", "medium", "low"):
            spans = [(r, end_s if c is None else c) for _, p, r, c in alarm_spans if p == prio]
            covered = _union_length(seen + spans, a, b) - _union_length(seen, a, b)
            if covered:
                out[f"alarm_{prio}"] = out.get(f"alarm_{prio}", 0) + covered
            seen += spans
        losses = [(f.at_s, f.at_s + f.duration_s) for f in faults if isinstance(f, sd.CommLoss)]
        covered = _union_length(seen + losses, a, b) - _union_length(seen, a, b)
        if covered:
            out["comm_loss"] = out.get("comm_loss", 0) + covered
        covered = _union_length(seen + losses + down, a, b) - _union_length(seen + losses, a, b)
        if covered:
            out["restart"] = out.get("restart", 0) + covered
    return out


class PatientTimeout(Exception):
    """A patient used more than its CPU budget (the run is stopped and reported)."""


def _on_timeout(signum: int, frame: object) -> None:
    raise PatientTimeout("CPU time budget exceeded (the run did not finish)")


def run_patient(
    cohort: Cohort, index: int, horizon_s: int, cpu_budget_s: int | None = None
) -> dict[str, Any]:
    """One patient: its result dict (see docs/cohort-schema.md, "JSON report"). With
    ``cpu_budget_s`` (main thread only), a patient that uses more CPU time is stopped and
    reported with ``error`` set."""
    out: dict[str, Any] = {"index": index, "seed": cohort.seed, "error": None}
    started = time.process_time()
    timer = cpu_budget_s is not None and threading.current_thread() is threading.main_thread()
    if cpu_budget_s is not None and timer:
        previous = signal.signal(signal.SIGVTALRM, _on_timeout)
        signal.setitimer(signal.ITIMER_VIRTUAL, cpu_budget_s)
    try:
        doc = draw_patient(cohort, index, horizon_s)
        out["drug"] = doc["drug"]["name"]
        out["pump"] = doc["pump"]["model"]
        sc = parse_scenario(doc, cohort.library)
        log = TrueLog(drug=sc.drug)

        drives: list[RecordingDrive] = []

        def make(config: sd.SimConfig, faults: tuple[sd.SimEvent, ...]) -> sd.SimulatedDrive:
            drive = RecordingDrive.__new__(RecordingDrive)
            drive.log = log
            RecordingDrive.__init__(drive, config, faults)
            drives.append(drive)
            return drive

        result = run_scenario(
            sc, drive_factory=make, observer=log.observer, samples=False, events=False
        )
        bolus = sc.programs[next(iter(sc.programs))][0].patient_bolus
        grants = [t for t, granted, _ in result.boluses if granted]
        high = [(r, cl) for _, prio, r, cl in result.alarm_spans if prio == "high"]
        entry = cohort.library.drug(sc.drug, sc.indication)
        dv = dead_volume_nl(cohort, sc.pump, sc.catheter, sc.trimmed_mm)
        fault_at = faults_to_alarm(sc.faults, result.phases, sc.end_s)
        restarts = [(stop, start) for stop, start, _ in result.restarts]
        counts, windows, ref = check_patient(
            dv,
            log.events,
            {sc.drug: entry.max_daily.value},
            grants,
            bolus.lockout_s if bolus else None,
            bolus.max_per_24h if bolus else None,
            high,
            sc.end_s,
            faults=fault_at,
            dosing_steps=log.dosing_steps,
            high_raises=log.high_raises,
            programs=log.programs,
            quiet=quiet_stretches(result.phases, result.alarm_spans, sc.faults, sc.end_s, restarts),
            drug=sc.drug,
        )
        counts["count_lost"] = lost_counts(log.counted_nl, drives[0].counts_by_order())
        sounding = sounding_spans(log.sound_marks, sc.end_s)
        counts["silent_stop"], silent_longest_s = silent_stops(result.phases, sounding, sc.end_s)
        phases = [*result.phases, (sc.end_s, "")]
        time_in: dict[str, int] = {}
        alarm_stop_s = 0
        for (t0, ph), (t1, _) in itertools.pairwise(phases):
            time_in[ph] = time_in.get(ph, 0) + t1 - t0
            if ph == "alarm":
                alarm_stop_s = max(alarm_stop_s, t1 - t0)
        w = windows.get(sc.drug)
        hard_fg = entry.max_daily.value * FG_PER_NG
        out |= {
            "hazards": counts,
            "max_window_fraction": float(w.max_fg / hard_fg) if w else 0.0,
            "max_window_ng": int(w.max_fg // FG_PER_NG) if w else 0,
            "max_window_at_s": int(w.at_s) if w else 0,
            "hard_max_ng": entry.max_daily.value,
            "time_in_state_s": time_in,
            "boluses_granted": len(grants),
            "boluses_denied": sum(1 for _, g, _ in result.boluses if not g),
            "deny_reasons": _reasons(result.boluses),
            "rejected_actions": _refused(result.rejected, result.phases),
            "delivered_ng": result.device.delivered_ng,
            "pumped_nl": sum(e.volume_nl for e in ref.pumped),
            "unstoppable_after_high_nl": int(ref.unstoppable_nl),
            "alarm_latency_steps": [x for x in ref.latencies if x is not None],
            "alarms_missing": sum(1 for x in ref.latencies if x is None),
            "silent_stop_longest_s": silent_longest_s,
            "alarm_stop_longest_s": alarm_stop_s,
            "min_delivered_ratio": float(ref.delivered_ratio),
            "under_delivery_excused_s": excused_seconds(
                result.phases, result.alarm_spans, sc.faults, sc.end_s, restarts
            ),
            "steps": result.steps,
            "restarts": len(result.restarts),
            "restart_lag_s": result.restarts[-1][2] if result.restarts else 0,
        }
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
        out["traceback"] = traceback.format_exc(limit=8)
        out["hazards"] = dict.fromkeys(HAZARDS, 0)
    finally:
        if timer:
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, previous)
    out["cpu_s"] = round(time.process_time() - started, 3)
    return out


def _refused(rejected: Iterable[tuple[int, str, str]], phases: list[tuple[int, str]]) -> int:
    """Drawn clinician actions the core refused, other than the answers to an alarm that did
    not come: a clear of an alarm not active, a resume of a pump already delivering (the
    answer drawn after a refill at which the reservoir may have run empty)."""
    return sum(
        1
        for at, a, _ in rejected
        if a != "clear_alarm" and not (a == "resume" and _phase_at(phases, at) == "active")
    )


def _reasons(boluses: Iterable[tuple[int, bool, tuple[str, ...]]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for _, granted, reasons in boluses:
        if not granted:
            key = reasons[0] if reasons else "unknown"
            out[key] = out.get(key, 0) + 1
    return out


def _batch(
    cohort: Cohort, indices: list[int], horizon_s: int, budget: int | None
) -> list[dict[str, Any]]:
    return [run_patient(cohort, i, horizon_s, budget) for i in indices]


def _chunks(patients: int, workers: int) -> list[list[int]]:
    """Batches of consecutive patients, in order, shrinking towards the end (a quarter of the
    patients left per worker, at most 16, at least 1): few batches to send, and the last ones
    single patients, so no worker idles while another runs a long batch to the end (a patient
    at the hard maximum costs several times one far from it)."""
    out: list[list[int]] = []
    i = 0
    while i < patients:
        size = max(1, min(16, (patients - i) // (workers * 4)))
        out.append(list(range(i, min(i + size, patients))))
        i += size
    return out


def run_cohort(
    cohort: Cohort,
    patients: int,
    horizon_s: int,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    cpu_budget_s: int | None = None,
) -> list[dict[str, Any]]:
    """Every patient ``0 .. patients - 1``, on ``workers`` local processes (1: in this process);
    results sorted by index, whatever the worker count."""
    results: list[dict[str, Any]] = []
    if workers <= 1:
        for i in range(patients):
            results.append(run_patient(cohort, i, horizon_s, cpu_budget_s))
            if progress is not None:
                progress(len(results), patients)
        return results
    chunks = _chunks(patients, workers)
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_batch, cohort, ch, horizon_s, cpu_budget_s) for ch in chunks]
        for fut in concurrent.futures.as_completed(futures):
            results.extend(fut.result())
            if progress is not None:
                progress(len(results), patients)
    return sorted(results, key=lambda r: r["index"])


class SchedulerError(Exception):
    """The distributed scheduler cannot be used (no such address, unreachable, the optional
    extra missing); the message is one line for the user."""


def _reachable(address: str, timeout_s: float) -> None:
    """Fail fast, with one clear reason, on an address that is malformed, of an unknown scheme
    or that refuses connections (the Dask client would retry until its timeout and print a
    traceback when it is collected)."""
    comm: Any = importlib.import_module("distributed.comm")
    parse_address, backends = comm.parse_address, comm.registry.backends
    get_address_host_port = comm.addressing.get_address_host_port
    global_manager = comm.inproc.global_manager

    try:
        scheme, location = parse_address(address)
    except (ValueError, TypeError) as e:
        raise SchedulerError(f"not a scheduler address ({e})") from None
    if scheme not in backends or scheme == "ucx":
        raise SchedulerError(
            f"unknown address scheme {scheme!r} in {address!r} (expected tcp://HOST:PORT, "
            "tls://, ws:// or wss://)"
        )
    if scheme == "inproc":  # a scheduler in this very process (tests)
        try:
            listener = global_manager.get_listener_for(location)
        except ValueError as e:
            raise SchedulerError(f"not a scheduler address ({e})") from None
        if listener is None:
            raise SchedulerError(f"no scheduler in this process at {address}")
        return
    try:
        host, port = get_address_host_port(address if "://" in address else f"tcp://{address}")
    except ValueError as e:
        raise SchedulerError(f"not a scheduler address ({e})") from None
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            pass
    except (OSError, OverflowError) as e:
        raise SchedulerError(f"cannot reach {address}: {e}") from None


def run_cohort_on_scheduler(
    cohort: Cohort,
    patients: int,
    horizon_s: int,
    address: str,
    progress: Callable[[int, int], None] | None = None,
    cpu_budget_s: int | None = None,
    timeout_s: float = 10.0,
) -> tuple[list[dict[str, Any]], int]:
    """Every patient ``0 .. patients - 1`` on the Dask distributed scheduler at ``address``
    (the optional extra ``cluster``); results sorted by index and equal to :func:`run_cohort`'s,
    with the number of workers the scheduler had. A patient is a pure function of (cohort,
    index, horizon), so where it runs changes nothing. The CPU budget is enforced only where a
    task runs on a worker's main thread (Dask runs tasks on threads: elsewhere it is not)."""
    try:
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        raise SchedulerError(
            "needs the optional extra 'cluster' (pip install 'itdose[cluster]')"
        ) from None
    _reachable(address, timeout_s)
    try:
        client = distributed.Client(address, timeout=timeout_s, set_as_default=False)
    except (OSError, ValueError, TypeError) as e:
        raise SchedulerError(f"cannot connect to {address}: {e}") from None
    results: list[dict[str, Any]] = []
    try:
        workers = len(client.scheduler_info().get("workers", {}))
        if workers == 0:
            client.wait_for_workers(1, timeout=timeout_s)
            workers = len(client.scheduler_info().get("workers", {}))
        futures = [
            client.submit(_batch, cohort, ch, horizon_s, cpu_budget_s, pure=False)
            for ch in _chunks(patients, max(1, workers))
        ]
        for fut in distributed.as_completed(futures, loop=client.loop):
            results.extend(fut.result())
            if progress is not None:
                progress(len(results), patients)
    except TimeoutError as e:
        raise SchedulerError(f"no worker joined {address} in {timeout_s:g} s ({e})") from None
    finally:
        client.close()
    return sorted(results, key=lambda r: r["index"]), workers
