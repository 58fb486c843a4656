"""Benchmark: core ``step`` throughput against a bare ``transitions`` trigger.

Runs a morphine program on a Prometra II for N simulated days: a tick every basal segment, the
drive reporting each order complete, and a patient bolus request every 4 hours. Prints steps per
second of the core, triggers per second of a bare two-state ``transitions`` machine on the same
machine, and their ratio. A benchmark, not a test: nothing here asserts a time.

    python benchmarks/step_throughput.py [--days 30]
"""

from __future__ import annotations

import argparse
import time

from transitions import Machine

from itdose.core import Device, Role, step
from itdose.core import commands as c
from itdose.core.effects import CancelOrder, DeliveryOrder
from itdose.core.program import Basal, PatientBolusProgram, Program
from itdose.specs import load_library

C, S, P = Role.CLINICIAN, Role.SERVICE, Role.PATIENT
DAY = 86_400


def active_device() -> tuple[Device, int]:
    lib = load_library()
    program = Program(
        "morphine",
        "pain",
        10_000_000,
        Basal.continuous(1_000_000),
        PatientBolusProgram(100_000, 600, 3600, 4),
        "opioid-tolerant",
    )
    steps: list[tuple[c.Command, int]] = [
        (c.RecordScreening(C, candidate=True, baseline_pain=8), 0),
        (c.StartTrial(C, "morphine", "pain", plan="bolus"), 60),
        (c.RecordTrialDose(C, amount_ng=300_000), 120),
        (c.RecordPainScore(C, score=3), 3600),
        (c.ConcludeTrial(C), 7200),
        (c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=200), DAY),
        (c.Fill(C, volume_nl=20_000_000, concentration_ng_per_ml=10_000_000), DAY + 60),
        (c.SetProgram(C, program), DAY + 90),
        (c.Prime(C, duration_s=480), DAY + 120),
        (c.DriveReport(S, 1, 234_000, final=True), DAY + 600),
        (c.StartDosing(C), DAY + 700),
    ]
    d = Device()
    for command, at in steps:
        d = step(d, command, at, lib).device
    return d, DAY + 700


def run_core(days: int) -> tuple[int, float, Device]:
    """Steps of ``days`` simulated days: the drive reports each order complete at its end (on
    its pace), a cancelled order with what it moved at its pace until then."""
    lib = load_library()
    d, now = active_device()
    end = now + days * DAY
    count = 0
    next_bolus = now + 4 * 3600
    pending: dict[int, tuple[int, int, int]] = {}  # order id -> start, end, volume

    def take(command: c.Command, at: int) -> None:
        nonlocal d, count
        out = step(d, command, at, lib)
        d = out.device
        count += 1
        for e in out.effects:
            if isinstance(e, CancelOrder) and e.order_id in pending:
                start, stop, volume = pending.pop(e.order_id)
                moved = volume * (at - start) // (stop - start)
                d = step(d, c.DriveReport(S, e.order_id, moved, True), at, lib).device
                count += 1
            elif isinstance(e, DeliveryOrder):
                pending[e.order_id] = (at, at + e.duration_s, e.volume_nl)

    started = time.perf_counter()
    while now < end:
        for order_id, (_, stop, volume) in sorted(pending.items()):
            if stop <= now:
                del pending[order_id]
                take(c.DriveReport(S, order_id, volume, True), now)
        take(c.Tick(S), now)
        if now >= next_bolus:
            take(c.RequestBolus(P), now)
            next_bolus += 4 * 3600
        due = [stop for (_, stop, _) in pending.values()]
        if d.basal_until_s > now:
            due.append(d.basal_until_s)
        now = min(due) if due else now + 60
    return count, time.perf_counter() - started, d


class _Model:
    pass


def run_transitions(n: int) -> float:
    model = _Model()
    Machine(
        model=model,
        states=["active", "suspended"],
        initial="active",
        transitions=[
            {"trigger": "toggle", "source": "active", "dest": "suspended"},
            {"trigger": "toggle", "source": "suspended", "dest": "active"},
        ],
        auto_transitions=False,
        ignore_invalid_triggers=False,
    )
    trigger = model.toggle  # type: ignore[attr-defined]
    started = time.perf_counter()
    for _ in range(n):
        trigger()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    args = parser.parse_args()
    steps, seconds, device = run_core(args.days)
    core_rate = steps / seconds
    t_seconds = run_transitions(steps)
    t_rate = steps / t_seconds
    print(f"core step:          {steps} steps in {seconds:.3f} s = {core_rate:,.0f} steps/s")
    print(f"transitions trigger: {steps} triggers in {t_seconds:.3f} s = {t_rate:,.0f} /s")
    print(f"ratio (core / bare transitions): {core_rate / t_rate:.3f}")
    print(f"simulated {args.days} days: {args.days * DAY / seconds:,.0f} simulated s per wall s")
    print(f"ends in phase {device.phase.value} with {device.delivered_ng:,} ng delivered")


if __name__ == "__main__":
    main()
