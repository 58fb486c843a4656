"""Dose properties on random programs, bolus streams, time advances and drive behaviour, checked
against an independent brute-force account of what the simulated drive reported.

The reference is a plain list of (report time, ng) and (report time, nL): the rolling 24 h window
at t is (t - 86400, t] (docs/dosing-rules.md#r-time-2), summed from scratch at every report time.
Profiles (dev, ci) set the number of examples.
"""

from __future__ import annotations

import contextlib
from fractions import Fraction

from hypothesis import event, given
from hypothesis import strategies as st
from itdose_testkit import DAY, HOUR, PATHS, C, P, S, run

from itdose.core import DosingError, Library, Phase, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.effects import BolusDecision, CancelOrder, DeliveryOrder, StopDelivery
from itdose.core.lifecycle import DELIVERING
from itdose.core.program import (
    Basal,
    FlexStep,
    PatientBolusProgram,
    Program,
    ProgramContext,
    check_program,
)

CONC = 10_000_000  # morphine 10 mg/mL
HARD_MAX_NG = 20_000_000  # morphine hard daily maximum (docs/dosing-rules.md)
EMPTY_NL = 500_000  # Prometra II empty threshold
DEAD_NL = 234_000


@st.composite
def programs(draw: st.DrawFn) -> Program:
    n = draw(st.integers(1, 3))
    starts = sorted(draw(st.sets(st.integers(1, 23), min_size=n - 1, max_size=n - 1)))
    doses = draw(st.lists(st.integers(0, 16_000_000), min_size=n, max_size=n))
    steps = tuple(FlexStep(s * HOUR, dose) for s, dose in zip([0, *starts], doses, strict=True))
    bolus = None
    if draw(st.booleans()):
        bolus = PatientBolusProgram(
            dose_ng=draw(st.integers(10_000, 3_000_000)),
            duration_s=draw(st.sampled_from([60, 300, 600])),
            lockout_s=draw(st.sampled_from([600, 1800, 3600, 7200])),
            max_per_24h=draw(st.integers(1, 8)),
        )
    return Program("morphine", "pain", CONC, Basal(steps=steps), bolus, "opioid-tolerant")


def _accepted(program: Program, library: Library) -> tuple[c.Override, ...] | None:
    """Overrides for every soft violation, or None if a hard limit rejects the program."""
    report = check_program(program, library, "prometra-ii-20", ProgramContext(initial=True))
    if any(v.level == "hard" for v in report.violations):
        return None
    return tuple(c.Override(v.limit, "test") for v in report.violations)


ACTIONS = st.one_of(
    st.tuples(st.just("advance"), st.integers(1, 4 * HOUR)),
    st.tuples(st.just("advance"), st.integers(1, 4 * HOUR)),
    st.tuples(st.just("advance"), st.integers(1, 4 * HOUR)),
    st.tuples(st.just("tick"), st.just(0)),
    st.tuples(st.just("bolus"), st.just(0)),
    st.tuples(st.just("clinician_bolus"), st.integers(100_000, 8_000_000)),
    # report: which order (index), fraction of the remainder in 1/4 steps, final?
    st.tuples(st.just("report"), st.integers(0, 3), st.integers(0, 4), st.booleans()),
    st.tuples(st.just("recover"), st.just(0)),
    st.tuples(st.just("suspend"), st.just(0)),
    st.tuples(st.just("bolus"), st.just(0)),
    st.tuples(st.just("clinician_bolus"), st.integers(100_000, 8_000_000)),
)


@given(
    program=programs(),
    fill_ml10=st.integers(8, 200),  # more than dead volume + empty threshold
    actions=st.lists(ACTIONS, min_size=30, max_size=90),
    punctual=st.booleans(),
)
def test_dose_limits_hold_against_brute_force_reference(
    program: Program, fill_ml10: int, actions: list[tuple], punctual: bool, library: Library
) -> None:
    """Against the brute-force reference: every real 24 h window under the cap, reservoir never
    below empty, lockout and count, a denial delivers nothing, orders only while delivering, HIGH
    alarm only in the alarm phase (REQ-GOV-002, REQ-GOV-003, REQ-GOV-004, REQ-GOV-009, REQ-BOL-002,
    REQ-BOL-003, REQ-LIFE-005, REQ-ALM-001, REQ-RES-001, REQ-TIME-002)."""
    overrides = _accepted(program, library)
    if overrides is None:
        event("program rejected by a hard limit")
        return
    fill_nl = fill_ml10 * 100_000
    path = list(PATHS[Phase.PRIMING])
    path = [
        (c.Fill(C, volume_nl=fill_nl, concentration_ng_per_ml=CONC), at)
        if isinstance(cmd, c.Fill)
        else (c.SetProgram(C, program, overrides=overrides), at)
        if isinstance(cmd, c.SetProgram)
        else (cmd, at)
        for cmd, at in path
    ]
    try:
        d = run(path, library)
    except DosingError:
        return  # e.g. the reservoir does not hold more than the dead volume
    now = path[-1][1]
    d = step(d, c.DriveReport(S, 1, DEAD_NL, True), now + 480, library).device
    now += 480
    d = step(d, c.StartDosing(C), now, library).device

    reports: list[tuple[int, Fraction]] = []  # the drive's reports: (time, ng)
    reported_nl = 0
    grants: list[int] = []  # granted patient bolus starts
    # order id -> [volume, reported, end, start, last report time]
    pending: dict[int, list[int]] = {}
    pb = program.patient_bolus

    def allowed(oid: int) -> int:
        """What a drive that keeps the order's pace (its volume over its duration, whole nL/h
        rounded up: the trusted drive of SAFETY.md) can have moved of it by now: since its start,
        and since its last report (a drive that was slow does not catch up faster)."""
        vol, done, end, start, last = pending[oid]
        pace = -(-vol * 3600 // max(1, end - start))
        return min(vol, pace * (now - start) // 3600, done + pace * (now - last) // 3600)

    def apply(command: c.Command) -> tuple:
        nonlocal d
        before = d
        out = step(d, command, now, library)
        d = out.device
        stopped: list[int] = []
        for e in out.effects:
            if isinstance(e, DeliveryOrder):
                # nothing is ordered outside the delivering phases
                assert before.phase in DELIVERING and d.phase is Phase.ACTIVE, (before.phase, e)
                pending[e.order_id] = [e.volume_nl, 0, now + e.duration_s, now, now]
            elif isinstance(e, CancelOrder) and e.order_id in pending:
                stopped.append(e.order_id)  # e.g. the basal order a bolus replaces
            elif isinstance(e, StopDelivery):
                stopped.extend(sorted(pending))
        # the drive stops them now and reports what it moved at its pace, as final
        for oid in dict.fromkeys(stopped):
            if oid in pending:
                drive(oid, allowed(oid), True)
        return out.effects

    def drive(oid: int, delivered: int, final: bool) -> None:
        nonlocal reported_nl
        done = pending[oid][1]
        delta = delivered - done
        reported_nl += delta
        reports.append((now, Fraction(delta * CONC, 1_000_000)))
        pending[oid][1] = delivered
        pending[oid][4] = now
        if final:
            del pending[oid]
        apply(c.DriveReport(S, oid, delivered, final))  # may stop the orders still in flight
        # the brute-force reference: every window ending at a report time
        window = sum(ng for t, ng in reports if now - DAY < t <= now)
        assert window <= HARD_MAX_NG, (now, window)
        if window > HARD_MAX_NG * 3 // 4:
            event("a 24 h window above 75 % of the hard maximum")
        # reservoir: fill - priming - everything reported, never below zero nor the threshold
        remaining = fill_nl - DEAD_NL - reported_nl
        assert remaining >= 0
        assert remaining >= EMPTY_NL
        assert d.reservoir is not None and d.reservoir.volume_nl == remaining

    for action in actions:
        kind = action[0]
        if kind == "advance":
            target = now + action[1]
            # a punctual drive reports each order in full at its end; else reports come only
            # when the action list says so (late, partial)
            while punctual and pending:
                oid, (_, _, end, _, _) = min(pending.items(), key=lambda kv: kv[1][2])
                if end > target:
                    break
                now = max(now, end)
                drive(oid, allowed(oid), True)  # all of it, unless it was slow before
            now = target
            apply(c.Tick(S))  # the controller ticks when it wakes
        elif kind == "tick":
            apply(c.Tick(S))
        elif kind == "bolus":
            orders_before = d.orders
            effects = apply(c.RequestBolus(P))
            (decision,) = [e for e in effects if isinstance(e, BolusDecision)]
            if decision.granted:
                assert pb is not None
                if grants:
                    assert now - grants[-1] >= pb.lockout_s
                grants.append(now)
                assert sum(1 for g in grants if now - DAY < g <= now) <= pb.max_per_24h
            else:
                event("bolus denied: " + ",".join(r.value for r in decision.reasons))
                # a denied request delivers nothing
                assert d.orders == orders_before
                assert not [e for e in effects if isinstance(e, DeliveryOrder)]
        elif kind == "clinician_bolus":
            with contextlib.suppress(DosingError):
                apply(c.ClinicianBolus(C, dose_ng=action[1], duration_s=600))
        elif kind == "report":
            if not pending:
                continue
            oid = sorted(pending)[action[1] % len(pending)]
            done = pending[oid][1]
            # late and partial, but never ahead of the order's pace (the drive's trust)
            delivered = done + (allowed(oid) - done) * action[2] // 4
            drive(oid, delivered, action[3])
        elif kind == "recover":
            for a in d.high_alarms():
                with contextlib.suppress(DosingError):
                    apply(c.ClearAlarm(C, a.kind, "resolved"))
            if d.phase is Phase.SUSPENDED:
                with contextlib.suppress(DosingError):
                    apply(c.Resume(C, "resolved"))
        elif kind == "suspend" and d.phase is Phase.ACTIVE:
            apply(c.Suspend(C, "review"))
        # HIGH alarms are never active outside the alarm phase
        if any(priority_of(a.kind) is Priority.HIGH for a in d.alarms):
            assert d.phase is Phase.ALARM
        assert not (d.phase is Phase.ALARM and not d.high_alarms())
    event(f"final phase {d.phase.value}")
    event(f"reports: {min(len(reports) // 10, 3) * 10}+")
    if len(grants) > 1:
        event("two or more patient boluses granted")
    # whatever is still in flight, reported at its end with all the pace allows, keeps every
    # window within the cap
    for oid in sorted(pending, key=lambda o: pending[o][2]):
        now = max(now, pending[oid][2])
        drive(oid, allowed(oid), True)
    assert AlarmKind.DELIVERY_DEVIATION not in [a.kind for a in d.alarms]
