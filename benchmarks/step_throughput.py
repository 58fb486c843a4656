"""Benchmark: core ``step`` throughput against a bare ``transitions`` trigger.

Runs a morphine program on a Prometra II for N simulated days: a tick every basal segment, the
drive reporting each order complete, and a patient bolus request every 4 hours. Prints steps per
second of the core, triggers per second of a bare two-state ``transitions`` machine on the same
machine, and their ratio; then a lifecycle command (a clinician suspends and resumes in turn)
against the same trigger, all in CPU time of this process (wall time on a shared machine
measures the other processes). A benchmark, not a test: nothing here asserts a time.

    python benchmarks/step_throughput.py [--days 30]

Figures (issue 14 asks for a core step at most 2x a bare trigger, a ratio of at least 0.5, and
a lifecycle command at most 1x, a ratio of at least 1.0). Measured on the shared 2-core
development machine at a load average of about 10, so each figure is the best of several runs in
CPU time, before and after alternated in the same minutes:

- mixed run (ticks, drive reports, bolus requests): 0.12-0.13 before, 0.17-0.20 after (about
  55-60 us of CPU per step before, 37-42 us after; a trigger costs about 7 us). This script's
  own wall-clock output in runs at load 9.5-10: ratio 0.195-0.201.
- lifecycle command: 0.37-0.38 before, 0.80-0.92 after (18-19 us per command before, 8.4-9 us
  after); this script's wall-clock output at load 9.5-10: 0.72-0.98.

Neither target is reached. What a step costs now (CPU, same conditions): a tick about 45 us, of
which the basal plan is about 31 (the cap room through the ledger's exact peak 8, the volume
planned through the fluid path 4, the governor's decision 3, the reservoir room 2.4, the tip's
drug 1.5); a drive report about 19 us, of which the ledger record and the path push are most;
a bolus request about 65 us (the bolus plan's search for the cap room); the step machinery
itself (input checks, table lookup, restart reference, new state, audit record) about 6 us.

This run never evaluates the exact peak: its program is far below the hard maximum, so every cap
question is answered by the plain sum of the amounts (the fast path of ``peak_fg``). The exact
peak's pruning therefore leaves the tick as it was: 50 to 53 us of CPU before and
after (best of 7 runs, per command class, load average 6.8 to 7.4); the cohort's patients at the
hard maximum are where it counts (docs/cohort-schema.md, "Speed").

Measured again after the exact peak's split of whole pieces (CPU time, best of 5 runs of 10
days, before and after alternated, load average about 10): a step 47 us before, 43 to 47 us
after; a trigger 7.3 to 7.5 us; ratio 0.154 to 0.157 before, 0.157 to 0.172 after (a step about
6 times a trigger; the target, at most 2 times, is not reached). The lifecycle command: ratio
0.66 to 0.69. This run is far from the hard maximum, where the change does not act.

Measured after the step's and the fluid path's cheaper common cases (a path holding only the
reservoir's fluid planned, pushed and priced without building its outflow, nothing in flight
without a sum, the ledger's rough sum folded in C, a stop's effect made once, the command's
fields checked without the generic type walk). Per command class, CPU time, best of 5 replays
of the steps recorded from 10 days, before and after alternated three times in the same minutes
(load average 10 to 12): a tick 45.9 to 50.3 us before, 33.1 to 36.0 after; a trigger 7.2 to 7.4
us, so a tick/trigger ratio of 0.146 to 0.157 before, 0.206 to 0.225 after (a tick about 4.5
times a trigger: the target, at most 2 times, is not reached); a drive report 25.3 to 27.4 us
before, 22.8 to 24.7 after; the lifecycle command 9.5 to 10.1 us before, 8.3 to 8.5 after, a
command/trigger ratio of 0.72 to 0.76 before, 0.88 to 0.89 after (the target, 1.0, is not
reached). This script's own ratios in those minutes, then timed by the wall clock, swung from
0.12 to 0.23 and from 0.6 to 3.0 (a load of 12 on 2 cores); it has timed CPU since.
Instructions executed (valgrind --tool=callgrind, repeatable on a loaded machine; per step,
the same replays): a trigger 86,775; a tick 392,997 before, 315,527 after; a drive report
227,926 before, 210,066 after; the lifecycle command 93,389 before, 77,774 after (a fixed hash
seed; fewer than a trigger executes, but a step's instructions are slower ones: more calls and
allocations each).

What a tick costs now (CPU, quiet minutes, each part timed alone): the step's own machinery
about 5 us (input checks 0.8, the new state 0.8, the deferred record 0.55, the outcome 0.35, the
restart reference 0.4, validation and dispatch), the governor's decision with its request 3, the
cap room 5 (the ledger's pieces read twice for the lag terms, the rough sum over about 28 pieces
through the proofs' ``Ops``), the plan and outcome values (two ``TickPlan``, the order, the
drive order) about 3, the library lookups (pump, drug) about 1. Every part is a few small
calls; what is left to cut is in the basal plan, the governor and the ledger (their own
modules), not in the path or the step.

Measured after the exact peak's pruning to the piece whose window holds the most and the basal
plan's single read of the recorded terms (its recorded terms once a tick, a plain loop for the
ledger's live pieces, one type check less a division). This script, 10 days, before and after
alternated three times at a load average of about 3.3: tick/trigger ratio 0.146 to 0.149
before, 0.148 to 0.153 after; lifecycle command/trigger 0.817 to 0.849 before, 0.806 to 0.835
after (within the noise). Instructions executed (callgrind, the steps of a 10-day run replayed,
the replay's start-up subtracted): a tick 384,362 before, 359,480 after (6.5 % fewer), a step
of the mixed run 355,862 before, 341,346 after; the lifecycle command about 88,000 both (within
1 %). Neither target is reached: far from the hard maximum the exact peak is not evaluated (the
rough sum decides), and the tick's cost is spread over some forty small calls and about ten
immutable values (a frozen dataclass stores each field through ``object.__setattr__``).
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

    started = time.process_time()
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
    return count, time.process_time() - started, d


def run_lifecycle(n: int) -> float:
    """Seconds for ``n`` lifecycle commands: a clinician suspends and resumes an active device in
    turn (``active`` -> ``suspended`` -> ``active``), the core's counterpart of the toggle."""
    lib = load_library()
    d, now = active_device()
    suspend = c.Suspend(C, reason="review")
    resume = c.Resume(C, reason="reviewed")
    started = time.process_time()
    for i in range(n):
        d = step(d, resume if i % 2 else suspend, now, lib).device
    return time.process_time() - started


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
    started = time.process_time()
    for _ in range(n):
        trigger()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    args = parser.parse_args()
    steps, seconds, device = run_core(args.days)
    core_rate = steps / seconds
    t_seconds = run_transitions(steps)
    t_rate = steps / t_seconds
    l_seconds = run_lifecycle(steps)
    l_rate = steps / l_seconds
    print(f"core step:          {steps} steps in {seconds:.3f} s = {core_rate:,.0f} steps/s")
    print(f"transitions trigger: {steps} triggers in {t_seconds:.3f} s = {t_rate:,.0f} /s")
    print(f"ratio (core / bare transitions): {core_rate / t_rate:.3f}")
    print(f"lifecycle command:  {steps} commands in {l_seconds:.3f} s = {l_rate:,.0f} /s")
    print(f"ratio (lifecycle command / bare transitions): {l_rate / t_rate:.3f}")
    print(f"simulated {args.days} days: {args.days * DAY / seconds:,.0f} simulated s per wall s")
    print(f"ends in phase {device.phase.value} with {device.delivered_ng:,} ng delivered")


if __name__ == "__main__":
    main()
