"""Lifecycle: every row of the table taken, every other (phase, command) pair and role rejected.

The table is also pinned row by row as written here, with its index and every guard at its
boundaries (these also kill the mutants mutation testing found alive in core/lifecycle.py,
docs/mutation.md). The table in lifecycle.py is written out literally; the copy here is
independent of it. Rule 5 (a HIGH alarm raised by a step ends it in alarm) is checked on every row
whose handler can raise one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from itdose_testkit import (
    DAY,
    DEAD_VOLUME_NL,
    HOUR,
    LAST_TIME,
    MORPHINE_PROGRAM,
    PATHS,
    C,
    P,
    S,
    reach,
    run,
    synchromed_active,
    synchromed_library,
)

from itdose.core import (
    Device,
    InvalidInput,
    Library,
    LimitViolation,
    Phase,
    RejectedCommand,
    Role,
    TrialOutcome,
    handlers,
    step,
    to_json,
)
from itdose.core import commands as c
from itdose.core import lifecycle as lc
from itdose.core.alarms import AlarmKind
from itdose.core.effects import (
    Annunciate,
    DeliveryOrder,
    ProgramComparison,
    Record,
    StopDelivery,
)
from itdose.core.library import MriPolicy
from itdose.core.lifecycle import DELIVERING, GUARDS, RULES, TERMINAL, Rule, rules_for
from itdose.core.machine import allowed_triggers
from itdose.core.program import Basal, Program
from itdose.core.state import (
    ActiveAlarm,
    DeliveryKind,
    MriSession,
    Order,
    Reservoir,
    Screening,
    Trial,
    TrialDose,
)

T = LAST_TIME + HOUR

Witness = tuple[Device, c.Command]
Builder = Callable[[Library], Witness]


def _with(phase: Phase, *extra: tuple[c.Command, int]) -> Callable[[Library], Device]:
    return lambda lib: run(list(extra), lib, reach(phase, lib))


def _trial_with_pain(score: int) -> Callable[[Library], Device]:
    return _with(Phase.TRIAL, (c.RecordPainScore(C, score=score), 4 * HOUR))


def _raise(kind: AlarmKind, at: int = T - 60) -> tuple[c.Command, int]:
    return c.RaiseAlarm(S, kind), at


def _witness(rule: Rule, lib: Library, high: bool = False) -> Witness:
    """A device in ``rule.source`` and a command that takes exactly ``rule``; with ``high``, a
    command whose handler raises a HIGH alarm (rule 5 then ends the step in alarm)."""
    src, trig = rule.source, rule.trigger
    guard = rule.guard.name if rule.guard is not None else None
    d = reach(src, lib)
    if trig == "record_screening":
        return d, c.RecordScreening(C, candidate=True, baseline_pain=6)
    if trig == "start_trial":
        d = run([(c.RecordScreening(C, candidate=True, baseline_pain=6), 0)], lib, d)
        return d, c.StartTrial(C, "morphine", "pain", plan="bolus")
    if trig == "record_trial_dose":
        return d, c.RecordTrialDose(C, amount_ng=200_000)
    if trig == "record_pain_score":
        return d, c.RecordPainScore(C, score=2)
    if trig == "record_screening_response":
        d = run(
            [
                (c.RecordScreening(C, candidate=True, baseline_pain=0), 0),
                (c.StartTrial(C, "baclofen", "spasticity-spinal", plan="screening"), 60),
                (c.RecordTrialDose(C, amount_ng=50_000), 120),
            ],
            lib,
        )
        return d, c.RecordScreeningResponse(C, positive=True)
    if trig == "conclude_trial":
        score = 3 if guard == "trial_succeeded" else 7
        return _trial_with_pain(score)(lib), c.ConcludeTrial(C)
    if trig == "implant":
        return d, c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=200)
    if trig == "fill":
        d = reach(Phase.IMPLANT_READY, lib)
        d = run([(c.Implant(C, "prometra-ii-40", "prometra-catheter", 100), 7 * DAY)], lib, d)
        if src is Phase.SUSPENDED:
            d = _suspended_before_priming(d, lib)
        return d, c.Fill(C, volume_nl=40_000_000, concentration_ng_per_ml=10_000_000)
    if trig == "prime":
        if src is Phase.SUSPENDED:
            d = _suspended_before_priming(reach(Phase.IMPLANTED, lib), lib)
        d = run([(c.SetProgram(C, MORPHINE_PROGRAM), T - 30)], lib, d) if not d.program else d
        return d, c.Prime(C, duration_s=600)
    if trig == "set_program":
        return d, c.SetProgram(C, dataclasses.replace(MORPHINE_PROGRAM, patient_bolus=None))
    if trig == "start_dosing":
        return run([(_prime_report(), T - 100)], lib, d), c.StartDosing(C)
    if trig == "suspend":
        return d, c.Suspend(C, reason="side effects")
    if trig == "resume":
        return d, c.Resume(C, reason="better")
    if trig == "tick":
        if src is Phase.PRIMING:
            d = run([(_prime_report(), T - 100)], lib, d)
        if high and src in (Phase.ACTIVE, Phase.PRIMING):
            return _drained(d), c.Tick(S)
        if high:  # end of service reached (ERI + 90 days)
            return dataclasses.replace(d, eos_at_s=T - 10), c.Tick(S)
        return d, c.Tick(S)
    if trig == "drive_report":
        extra = 1 if high else 0
        if src is Phase.PRIMING:
            return d, c.DriveReport(S, order_id=1, delivered_nl=DEAD_VOLUME_NL + extra, final=True)
        if src is Phase.IMPLANTED:
            d = _suspended_before_priming(reach(Phase.IMPLANTED, lib), lib)
            d = dataclasses.replace(d, phase=Phase.IMPLANTED)
        d = _with_order(d, lib)
        order = d.orders[-1]
        if extra:
            return d, c.DriveReport(S, order.id, order.volume_nl + extra, final=True)
        # reported at T: what it moved at its pace since its start (whole nL, rounded down; all
        # of it once its end has passed)
        span = order.end_s - order.start_s
        moved = order.volume_nl * min(T - order.start_s, span) // span
        return d, c.DriveReport(S, order.id, moved, final=True)
    if trig == "request_bolus":
        return d, c.RequestBolus(P)
    if trig == "clinician_bolus":
        return d, c.ClinicianBolus(C, dose_ng=200_000, duration_s=900)
    if trig == "silence_alarm":
        d = run([_raise(AlarmKind.ERI)], lib, d)
        return d, c.SilenceAlarm(P, AlarmKind.ERI, duration_s=3600)
    if trig == "begin_refill":
        return d, c.BeginRefill(C)
    if trig == "record_withdrawal":
        return d, c.RecordWithdrawal(C, withdrawn_nl=18_000_000)
    if trig in ("complete_refill", "abort_refill"):
        before = {
            "refill_resumes_dosing": Phase.ACTIVE,
            "refill_stays_stopped": Phase.SUSPENDED,
            "no_high_alarm": Phase.SUSPENDED,
            "high_alarm_active": Phase.ALARM,
        }[guard or ""]
        d = run([(c.BeginRefill(C), T - 30)], lib, reach(before, lib))
        if trig == "abort_refill":
            return d, c.AbortRefill(C, reason="patient unwell")
        assert d.reservoir is not None
        residual = d.reservoir.volume_nl
        d = run([(c.RecordWithdrawal(C, withdrawn_nl=residual), T - 20)], lib, d)
        return d, c.CompleteRefill(C, added_nl=19_000_000, concentration_ng_per_ml=10_000_000)
    if trig == "empty_reservoir":
        return d, c.EmptyReservoir(C, withdrawn_nl=19_000_000)
    if trig in ("begin_mri", "end_mri", "confirm_post_mri"):
        return _mri_witness(rule, lib)
    if trig == "raise_alarm":
        kind = AlarmKind.OCCLUSION if high else AlarmKind.LOW_RESERVOIR
        return d, c.RaiseAlarm(S, kind)
    if trig == "clear_alarm":
        if src is Phase.ALARM and guard == "high_alarm_remains":
            d = run([_raise(AlarmKind.OCCLUSION)], lib, d)
            return d, c.ClearAlarm(C, AlarmKind.MOTOR_STALL, reason="rotor restarted")
        if src is Phase.ALARM:
            return d, c.ClearAlarm(C, AlarmKind.MOTOR_STALL, reason="rotor restarted")
        d = run([_raise(AlarmKind.ERI)], lib, d)
        return d, c.ClearAlarm(C, AlarmKind.ERI, reason="replacement scheduled")
    if trig == "explant":
        return d, c.Explant(C, reason="infection")
    raise AssertionError(f"no witness for {rule}")


def _prime_report() -> c.DriveReport:
    return c.DriveReport(S, order_id=1, delivered_nl=DEAD_VOLUME_NL, final=True)


def _drained(d: Device) -> Device:
    """``d`` with its tracked reservoir at the empty threshold (a tick must raise the alarm)."""
    assert d.reservoir is not None
    return dataclasses.replace(d, reservoir=dataclasses.replace(d.reservoir, volume_nl=500_000))


def _with_order(d: Device, lib: Library) -> Device:
    """``d`` with one granted basal order in flight (taken while active, then back to ``d``)."""
    active = reach(Phase.ACTIVE, lib)
    ordered = step(active, c.Tick(S), T - 3600, lib).device  # ends at T: a report then is on pace
    assert ordered.orders, "a tick while active orders basal"
    return dataclasses.replace(
        d,
        orders=ordered.orders,
        next_order_id=ordered.next_order_id,
        clock_s=max(d.clock_s or 0, T - 3600),
    )


def _mri_witness(rule: Rule, lib: Library) -> Witness:
    """MRI rows: SynchroMed II (suspend-verify) from active, Prometra II (empty-and-reset) from
    suspended with an empty reservoir."""
    src, trig = rule.source, rule.trigger
    guard = rule.guard.name if rule.guard is not None else None
    slib = synchromed_library(lib)
    sync = synchromed_active(slib)
    if trig == "begin_mri":
        if src is Phase.ACTIVE:
            return sync, c.BeginMri(C)
        if src is Phase.ALARM:
            return run([_raise(AlarmKind.MOTOR_STALL)], lib, sync), c.BeginMri(C)
        d = run(
            [(c.Suspend(C, reason="MRI"), T - 90), (c.EmptyReservoir(C, 19_000_000), T - 80)],
            lib,
            reach(Phase.ACTIVE, lib),
        )
        return d, c.BeginMri(C)
    if trig == "end_mri":
        if guard == "mri_resumes_dosing":
            return run([(c.BeginMri(C), T - 90)], slib, sync), c.EndMri(C)
        if src is Phase.ALARM:
            d = run([(c.BeginMri(C), T - 90), _raise(AlarmKind.MOTOR_STALL)], slib, sync)
            return d, c.EndMri(C)
        d = run([_raise(AlarmKind.ERI, T - 95), (c.BeginMri(C), T - 90)], slib, sync)
        return d, c.EndMri(C)
    # confirm_post_mri: an ended scan, then the device brought to ``src``
    d = run([(c.BeginMri(C), T - 90), (c.EndMri(C), T - 80)], slib, sync)
    assert d.phase is Phase.ACTIVE
    move = {
        Phase.ACTIVE: [],
        Phase.SUSPENDED: [(c.Suspend(C, reason="x"), T - 70)],
        Phase.REFILL: [(c.BeginRefill(C), T - 70)],
        Phase.ALARM: [_raise(AlarmKind.OCCLUSION, T - 70)],
    }[src]
    return run(move, slib, d), c.ConfirmPostMri(C, reason="interrogated: rotor running")


def _suspended_before_priming(d: Device, lib: Library) -> Device:
    """An implanted, unprimed device that went through a HIGH alarm and its clearing."""
    return run(
        [
            (c.RaiseAlarm(S, AlarmKind.LOW_BATTERY_RESET), T - 50),
            (c.ClearAlarm(C, AlarmKind.LOW_BATTERY_RESET, reason="battery checked"), T - 40),
        ],
        lib,
        d,
    )


def _rule_id(rule: Rule) -> str:
    guard = rule.guard.name if rule.guard is not None else None
    return f"{rule.trigger}:{rule.source.value}->{rule.dest.value}[{guard}]"


@pytest.mark.parametrize("phase", list(Phase), ids=lambda p: p.value)
def test_every_phase_is_reached_by_its_path(phase: Phase, library: Library) -> None:
    assert reach(phase, library).phase is phase


@pytest.mark.parametrize("rule", RULES, ids=_rule_id)
def test_every_row_is_taken_by_its_witness(rule: Rule, library: Library) -> None:
    library = synchromed_library(library)
    device, command = _witness(rule, library)
    assert device.phase is rule.source
    outcome = step(device, command, T, library)
    assert outcome.device.phase is rule.dest
    assert outcome.device.clock_s == T
    record = outcome.effects[0]
    assert isinstance(record, Record)
    assert (record.event, record.source, record.dest) == (rule.trigger, rule.source, rule.dest)
    stops = [e for e in outcome.effects if isinstance(e, StopDelivery)]
    assert bool(stops) == (rule.source in DELIVERING and rule.dest not in DELIVERING)


@pytest.mark.parametrize("rule", RULES, ids=_rule_id)
def test_every_row_rejects_the_roles_it_does_not_name(rule: Rule, library: Library) -> None:
    library = synchromed_library(library)
    device, command = _witness(rule, library)
    for role in Role:
        if role in rule.roles:
            continue
        wrong = dataclasses.replace(command, role=role)
        before = to_json(device)
        with pytest.raises(RejectedCommand) as info:
            step(device, wrong, T, library)
        assert info.value.field == "command.role"
        assert role.value in str(info.value)
        assert to_json(device) == before


RAISING = [r for r in RULES if r.trigger in ("raise_alarm", "tick", "drive_report")]
"""The rows whose handlers can raise a HIGH alarm (a raised kind, a clock finding, a report)."""


@pytest.mark.parametrize("rule", RAISING, ids=_rule_id)
def test_a_high_alarm_raised_by_a_row_ends_in_alarm(rule: Rule, library: Library) -> None:
    """Rule 5, applied after the handler: a HIGH alarm the step raises ends it in alarm, in the
    same step, whatever phase the row ends in; delivery stops (REQ-ALM-001, REQ-LIFE-005)."""
    library = synchromed_library(library)
    device, command = _witness(rule, library, high=True)
    outcome = step(device, command, T, library)
    assert outcome.device.phase is Phase.ALARM
    assert outcome.device.high_alarms()
    record = outcome.effects[0]
    assert isinstance(record, Record)
    assert (record.event, record.source, record.dest) == (rule.trigger, rule.source, Phase.ALARM)
    stops = [e for e in outcome.effects if isinstance(e, StopDelivery)]
    assert bool(stops) == (rule.source in DELIVERING)
    assert all(e.reason.endswith("-> alarm") for e in stops)


SAMPLES: dict[str, c.Command] = {
    "record_screening": c.RecordScreening(C, candidate=True, baseline_pain=5),
    "start_trial": c.StartTrial(C, "morphine", "pain", plan="bolus"),
    "record_trial_dose": c.RecordTrialDose(C, amount_ng=300_000),
    "record_pain_score": c.RecordPainScore(C, score=3),
    "record_screening_response": c.RecordScreeningResponse(C, positive=True),
    "conclude_trial": c.ConcludeTrial(C, TrialOutcome.SUCCESS, reason="clinician judgement"),
    "implant": c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=100),
    "fill": c.Fill(C, volume_nl=1_000_000, concentration_ng_per_ml=10_000_000),
    "prime": c.Prime(C, duration_s=600),
    "set_program": c.SetProgram(C, MORPHINE_PROGRAM),
    "start_dosing": c.StartDosing(C),
    "tick": c.Tick(S),
    "drive_report": c.DriveReport(S, order_id=1, delivered_nl=0, final=True),
    "request_bolus": c.RequestBolus(P),
    "clinician_bolus": c.ClinicianBolus(C, dose_ng=100_000, duration_s=600),
    "silence_alarm": c.SilenceAlarm(P, AlarmKind.ERI, duration_s=60),
    "suspend": c.Suspend(C, reason="x"),
    "resume": c.Resume(C, reason="x"),
    "raise_alarm": c.RaiseAlarm(S, AlarmKind.MOTOR_STALL),
    "clear_alarm": c.ClearAlarm(C, AlarmKind.MOTOR_STALL, reason="x"),
    "begin_refill": c.BeginRefill(C),
    "record_withdrawal": c.RecordWithdrawal(C, withdrawn_nl=0),
    "complete_refill": c.CompleteRefill(C, added_nl=1_000_000, concentration_ng_per_ml=10_000_000),
    "abort_refill": c.AbortRefill(C, reason="x"),
    "empty_reservoir": c.EmptyReservoir(C, withdrawn_nl=0),
    "begin_mri": c.BeginMri(C),
    "end_mri": c.EndMri(C),
    "confirm_post_mri": c.ConfirmPostMri(C, reason="x"),
    "explant": c.Explant(C, reason="x"),
}


def test_a_guarded_row_prints_with_its_guard_name() -> None:
    """A row reads as a line of the table: its guard shows by name, not as a predicate object
    (how a row shows in an assertion message or a debugger)."""
    row = next(r for r in RULES if r.trigger == "start_dosing")
    assert row.guard is GUARDS["ready_to_dose"]
    text = repr(row)
    assert text.endswith("guard=ready_to_dose)")
    assert "function" not in text and "lambda" not in text


def test_samples_cover_every_command() -> None:
    assert set(SAMPLES) == set(c.COMMANDS)
    assert all(type(cmd) is c.COMMANDS[name] for name, cmd in SAMPLES.items())


ILLEGAL = [
    (phase, name)
    for phase in Phase
    for name in c.COMMANDS
    if not any(r.trigger == name and r.source is phase for r in RULES)
]


@pytest.mark.parametrize(("phase", "name"), ILLEGAL, ids=lambda x: getattr(x, "value", x))
def test_every_illegal_pair_is_rejected_and_changes_nothing(
    phase: Phase, name: str, library: Library
) -> None:
    """A command no row names for the phase is rejected and the state is unchanged (REQ-LIFE-001,
    REQ-CORE-002)."""
    device = reach(phase, library)
    before = to_json(device)
    for role in Role:
        with pytest.raises(RejectedCommand) as info:
            step(device, dataclasses.replace(SAMPLES[name], role=role), T, library)
        assert info.value.field == "command"
        assert phase.value in str(info.value)
    assert to_json(device) == before


def test_illegal_pairs_are_the_complement_of_the_table() -> None:
    legal = {(r.source, r.trigger) for r in RULES}
    assert len(ILLEGAL) + len(legal) == len(Phase) * len(c.COMMANDS)
    for phase in Phase:
        assert set(allowed_triggers(phase)) == {t for (p, t) in legal if p is phase}


@pytest.mark.parametrize("phase", sorted(TERMINAL, key=lambda p: p.value))
def test_terminal_phases_reject_everything(phase: Phase, library: Library) -> None:
    device = reach(phase, library)
    assert allowed_triggers(phase) == ()
    for name, sample in SAMPLES.items():
        with pytest.raises(RejectedCommand):
            step(device, sample, T, library)
        assert name


# --- guards and validators ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "score", "dest"),
    [
        (8, 4, Phase.IMPLANT_READY),  # exactly 50 % reduction succeeds
        (8, 5, Phase.TRIAL_FAILED),
        (9, 4, Phase.IMPLANT_READY),
        (9, 5, Phase.TRIAL_FAILED),  # 44 % reduction fails
        (0, 0, Phase.TRIAL_FAILED),  # no pain to reduce: evidence cannot show success
    ],
)
def test_trial_succeeds_at_half_the_baseline(
    baseline: int, score: int, dest: Phase, library: Library
) -> None:
    """Success is a fall of at least 50 % from baseline, in integers (REQ-TRIAL-002)."""
    d = run(
        [
            (c.RecordScreening(C, candidate=True, baseline_pain=baseline), 0),
            (c.StartTrial(C, "morphine", "pain", plan="bolus"), 60),
            (c.RecordTrialDose(C, amount_ng=300_000), 120),
            (c.RecordPainScore(C, score=score), HOUR),
        ],
        library,
    )
    assert step(d, c.ConcludeTrial(C), 2 * HOUR, library).device.phase is dest


def test_trial_without_evidence_needs_a_clinician_conclusion(library: Library) -> None:
    """Concluding against the criterion needs a reason (REQ-TRIAL-003)."""
    d = reach(Phase.TRIAL, library)
    with pytest.raises(RejectedCommand, match="requires that the trial succeeded"):
        step(d, c.ConcludeTrial(C), T, library)
    with pytest.raises(RejectedCommand, match="reason is required"):
        step(d, c.ConcludeTrial(C, TrialOutcome.SUCCESS), T, library)
    out = step(d, c.ConcludeTrial(C, TrialOutcome.FAILURE, reason="nausea"), T, library)
    assert out.device.phase is Phase.TRIAL_FAILED
    assert out.device.trial is not None and out.device.trial.outcome_reason == "nausea"


def test_clinician_may_overrule_the_evidence_with_a_reason(library: Library) -> None:
    """A reasoned clinician conclusion may overrule the 50 % criterion (REQ-TRIAL-003)."""
    d = _trial_with_pain(7)(library)
    out = step(d, c.ConcludeTrial(C, TrialOutcome.SUCCESS, reason="function improved"), T, library)
    assert out.device.phase is Phase.IMPLANT_READY


def test_start_trial_needs_a_candidate_screening(library: Library) -> None:
    d = run([(c.RecordScreening(C, candidate=False, baseline_pain=8), 0)], library)
    with pytest.raises(RejectedCommand, match="screening assessment"):
        step(d, c.StartTrial(C, "morphine", "pain", plan="bolus"), 60, library)
    with pytest.raises(RejectedCommand, match="screening assessment"):
        step(Device(), c.StartTrial(C, "morphine", "pain", plan="bolus"), 60, library)


def _baclofen(library: Library, *doses: tuple[int, int, bool]) -> Device:
    steps: list[tuple[c.Command, int]] = [
        (c.RecordScreening(C, candidate=True, baseline_pain=0), 0),
        (c.StartTrial(C, "baclofen", "spasticity-spinal", plan="screening"), 60),
    ]
    for amount, at, positive in doses:
        steps.append((c.RecordTrialDose(C, amount_ng=amount), at))
        steps.append((c.RecordScreeningResponse(C, positive=positive), at + 4 * HOUR))
    return run(steps, library)


def test_baclofen_screening_sequence_and_spacing(library: Library) -> None:
    """50, 75, 100 mcg in order, each at least 24 h of elapsed time apart (REQ-BACL-004,
    REQ-TIME-001)."""
    d = _baclofen(library, (50_000, DAY, False))
    with pytest.raises(LimitViolation) as wrong:
        step(d, c.RecordTrialDose(C, amount_ng=100_000), 2 * DAY, library)
    assert wrong.value.limit_id.endswith("screening_sequence")
    with pytest.raises(LimitViolation) as early:
        step(d, c.RecordTrialDose(C, amount_ng=75_000), 2 * DAY - 1, library)
    assert early.value.field == "now_s"
    d2 = step(d, c.RecordTrialDose(C, amount_ng=75_000), 2 * DAY, library).device
    assert d2.trial is not None and len(d2.trial.doses) == 2


def test_baclofen_positive_response_gives_the_effective_dose(library: Library) -> None:
    """A positive response ends screening (REQ-BACL-005)."""
    d = _baclofen(library, (50_000, DAY, False), (75_000, 2 * DAY, True))
    with pytest.raises(RejectedCommand, match="positive response"):
        step(d, c.RecordTrialDose(C, amount_ng=100_000), 3 * DAY, library)
    out = step(d, c.ConcludeTrial(C), 3 * DAY, library)
    assert out.device.phase is Phase.IMPLANT_READY
    assert out.device.trial is not None and out.device.trial.effective_dose_ng == 75_000


def test_baclofen_no_response_to_100_mcg_is_not_a_candidate(library: Library) -> None:
    """No response to 100 mcg ends screening as not a candidate (REQ-BACL-005)."""
    d = _baclofen(library, (50_000, DAY, False), (75_000, 2 * DAY, False))
    with pytest.raises(RejectedCommand, match="requires that"):
        step(d, c.ConcludeTrial(C), 3 * DAY, library)
    d = _baclofen(
        library, (50_000, DAY, False), (75_000, 2 * DAY, False), (100_000, 3 * DAY, False)
    )
    with pytest.raises(RejectedCommand, match="not a candidate"):
        step(d, c.RecordTrialDose(C, amount_ng=100_000), 5 * DAY, library)
    assert step(d, c.ConcludeTrial(C), 5 * DAY, library).device.phase is Phase.TRIAL_FAILED


def test_baclofen_screening_needs_a_response_before_the_next_dose(library: Library) -> None:
    d = _baclofen(library)
    d = step(d, c.RecordTrialDose(C, amount_ng=50_000), DAY, library).device
    with pytest.raises(RejectedCommand, match="response to the previous"):
        step(d, c.RecordTrialDose(C, amount_ng=75_000), 3 * DAY, library)
    with pytest.raises(RejectedCommand, match="not a pain score"):
        step(d, c.RecordPainScore(C, score=3), 3 * DAY, library)


def test_trial_dose_outside_range_is_a_soft_limit(library: Library) -> None:
    """A trial dose outside the range yields only to an override with a non-empty reason
    (REQ-TRIAL-001, REQ-LIB-003)."""
    d = reach(Phase.TRIAL, library)
    with pytest.raises(LimitViolation) as info:
        step(d, c.RecordTrialDose(C, amount_ng=600_000), T, library)
    assert info.value.level == "soft"
    assert info.value.field == "command.amount_ng"
    override = c.Override(info.value.limit_id, "tolerant patient, anaesthetist present")
    out = step(d, c.RecordTrialDose(C, amount_ng=600_000, overrides=(override,)), T, library)
    assert out.device.trial is not None and out.device.trial.doses[-1].amount_ng == 600_000
    blank = c.Override(info.value.limit_id, "  ")
    with pytest.raises(RejectedCommand, match="reason is required"):
        step(d, c.RecordTrialDose(C, amount_ng=600_000, overrides=(blank,)), T, library)


def test_unapproved_drug_needs_an_override_and_warns(library: Library) -> None:
    """An unapproved drug needs an override and carries the FDA warning (REQ-LIB-006)."""
    d = run([(c.RecordScreening(C, candidate=True, baseline_pain=8), 0)], library)
    with pytest.raises(LimitViolation) as info:
        step(d, c.StartTrial(C, "hydromorphone", "pain", plan="bolus"), 60, library)
    ov = (c.Override(info.value.limit_id, "morphine intolerance"),)
    out = step(d, c.StartTrial(C, "hydromorphone", "pain", plan="bolus", overrides=ov), 60, library)
    assert any(getattr(e, "code", "") == "unapproved_drug" for e in out.effects)


def test_fill_over_capacity_is_a_hard_limit(library: Library) -> None:
    """A fill above the reservoir capacity is a hard limit (REQ-LIB-002, REQ-UNIT-003)."""
    d = run(PATHS[Phase.IMPLANTED][:-1], library)
    with pytest.raises(LimitViolation) as info:
        step(d, c.Fill(C, volume_nl=20_000_001, concentration_ng_per_ml=10_000_000), T, library)
    assert info.value.level == "hard"


def test_fill_concentration_must_be_a_product_strength(library: Library) -> None:
    """A fill concentration must be a product strength (REQ-LIB-007)."""
    d = run(PATHS[Phase.IMPLANTED][:-1], library)
    with pytest.raises(LimitViolation, match="product strength") as info:
        step(d, c.Fill(C, volume_nl=20_000_000, concentration_ng_per_ml=12_000_000), T, library)
    assert info.value.field == "command.concentration_ng_per_ml"


def test_unknown_dead_volume_refuses_priming(library: Library) -> None:
    """Without pump and catheter data for the dead volume there is no priming (REQ-PRIME-003)."""
    d = reach(Phase.IMPLANT_READY, library)
    out = step(d, c.Implant(C, "synchromed-ii-20", "medtronic-indura-1p-8709sc", 100), T, library)
    assert out.device.implant is not None and out.device.implant.dead_volume_nl is None
    assert any(getattr(e, "code", "") == "dead_volume_unknown" for e in out.effects)
    d = step(out.device, c.Fill(C, 20_000_000, 10_000_000), T, library).device
    with pytest.raises(RejectedCommand, match="dead volume is known"):
        step(d, c.Prime(C, duration_s=600), T, library)


def test_priming_orders_the_dead_volume_to_the_catheter(library: Library) -> None:
    """Priming is exactly the dead volume from the reservoir, to the catheter, not the patient
    (REQ-PRIME-001, REQ-PRIME-002). The drive keeps the order's pace (234 000 nL over 480 s):
    half of it at half its time, all of it at its end."""
    d = run(PATHS[Phase.PRIMING][:-1], library)
    out = step(d, c.Prime(C, duration_s=480), T, library)
    orders = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    assert [(o.kind, o.volume_nl, o.duration_s) for o in orders] == [
        ("priming", DEAD_VOLUME_NL, 480)
    ]
    d = out.device
    assert d.reservoir is not None
    before = d.reservoir.volume_nl
    # half at half its time, all at its end: at its pace (REQ-TIP-004)
    half = step(
        d, c.DriveReport(S, orders[0].order_id, DEAD_VOLUME_NL // 2, False), T + 240, library
    )
    assert not half.device.primed
    with pytest.raises(RejectedCommand, match="catheter is primed"):
        step(half.device, c.StartDosing(C), T + 241, library)
    done = step(
        half.device, c.DriveReport(S, orders[0].order_id, DEAD_VOLUME_NL, True), T + 480, library
    ).device
    assert done.primed and not done.orders
    assert done.reservoir is not None and done.reservoir.volume_nl == before - DEAD_VOLUME_NL
    # to the catheter, not to the patient: the 24 h ledger holds only the trial dose
    assert done.ledger.window_total_ng(T + 480) == 0
    assert done.delivered_ng == d.delivered_ng
    with pytest.raises(RejectedCommand, match="not primed yet"):
        step(dataclasses.replace(done, phase=Phase.SUSPENDED), c.Prime(C, 60), T + 481, library)


def test_an_alarm_before_priming_can_be_recovered(library: Library) -> None:
    d = _suspended_before_priming(reach(Phase.IMPLANTED, library), library)
    assert d.phase is Phase.SUSPENDED and not d.primed
    with pytest.raises(RejectedCommand, match="catheter is primed"):
        step(d, c.Resume(C, reason="x"), T, library)
    d = run([(c.SetProgram(C, MORPHINE_PROGRAM), T)], library, d)
    d = step(d, c.Prime(C, duration_s=300), T, library).device
    assert d.phase is Phase.PRIMING
    primed = run([(_prime_report(), T + 300), (c.StartDosing(C), T + 360)], library, d)
    assert primed.phase is Phase.ACTIVE


def test_high_alarm_stops_delivery_in_the_same_step(library: Library) -> None:
    """An occlusion stops delivery in the same step and moves to alarm
    (REQ-ALM-001, REQ-ALM-004).
    """
    d = reach(Phase.ACTIVE, library)
    out = step(d, c.RaiseAlarm(S, AlarmKind.OCCLUSION, detail="pressure"), T, library)
    assert out.device.phase is Phase.ALARM
    assert any(isinstance(e, StopDelivery) for e in out.effects)
    assert Annunciate(AlarmKind.OCCLUSION, out.device.alarms[0].priority) in out.effects


def test_low_alarm_annunciates_while_dosing_goes_on(library: Library) -> None:
    """A low-reservoir alarm annunciates while dosing continues (REQ-ALM-002, REQ-ALM-006,
    REQ-RES-001)."""
    d = reach(Phase.ACTIVE, library)
    out = step(d, c.RaiseAlarm(S, AlarmKind.LOW_RESERVOIR), T, library)
    assert out.device.phase is Phase.ACTIVE
    assert not any(isinstance(e, StopDelivery) for e in out.effects)
    assert out.device.has_alarm(AlarmKind.LOW_RESERVOIR)
    again = step(out.device, c.RaiseAlarm(S, AlarmKind.LOW_RESERVOIR), T + 1, library)
    assert len(again.device.alarms) == 1  # kept once, at its first occurrence
    assert again.device.alarms[0].raised_at_s == T


def test_alarms_keep_their_order_of_occurrence(library: Library) -> None:
    """Alarms are kept in order of occurrence (REQ-ALM-003)."""
    d = reach(Phase.ACTIVE, library)
    for i, kind in enumerate([AlarmKind.ERI, AlarmKind.LOW_RESERVOIR, AlarmKind.MOTOR_STALL]):
        d = step(d, c.RaiseAlarm(S, kind), T + i, library).device
    assert [a.kind for a in d.alarms] == [
        AlarmKind.ERI,
        AlarmKind.LOW_RESERVOIR,
        AlarmKind.MOTOR_STALL,
    ]


def test_end_of_service_cannot_be_cleared(library: Library) -> None:
    """End of service cannot be cleared (REQ-BATT-003)."""
    d = run([_raise(AlarmKind.END_OF_SERVICE)], library, reach(Phase.ACTIVE, library))
    with pytest.raises(RejectedCommand, match="end of service"):
        step(d, c.ClearAlarm(C, AlarmKind.END_OF_SERVICE, reason="x"), T, library)
    assert step(d, c.Explant(C, reason="replace pump"), T, library).device.phase is Phase.EXPLANTED


def test_empty_reservoir_clears_only_after_a_refill(library: Library) -> None:
    """An empty-reservoir alarm needs a refill and a clinician to clear
    (REQ-RES-002, REQ-LIFE-007).
    """
    d = run([_raise(AlarmKind.EMPTY_RESERVOIR)], library, reach(Phase.ACTIVE, library))
    d = dataclasses.replace(
        d,
        reservoir=dataclasses.replace(d.reservoir, volume_nl=400_000),  # type: ignore[arg-type]
    )
    with pytest.raises(RejectedCommand, match="refill first"):
        step(d, c.ClearAlarm(C, AlarmKind.EMPTY_RESERVOIR, reason="x"), T, library)
    d = run(
        [
            (c.BeginRefill(C), T),
            (c.RecordWithdrawal(C, withdrawn_nl=400_000), T + 30),
            (c.CompleteRefill(C, added_nl=20_000_000, concentration_ng_per_ml=10_000_000), T + 60),
        ],
        library,
        d,
    )
    assert d.phase is Phase.ALARM  # the HIGH alarm still needs the clinician
    out = step(d, c.ClearAlarm(C, AlarmKind.EMPTY_RESERVOIR, reason="refilled"), T + 120, library)
    assert out.device.phase is Phase.SUSPENDED
    resumed = step(out.device, c.Resume(C, reason="refilled"), T + 180, library).device
    assert resumed.phase is Phase.ACTIVE


def test_refill_clears_low_reservoir_and_returns_to_dosing(library: Library) -> None:
    """Withdrawal first, capacity after withdrawal, a new concentration needs a new program
    (REQ-REF-001, REQ-REF-004, REQ-BRIDGE-001)."""
    d = run([_raise(AlarmKind.LOW_RESERVOIR)], library, reach(Phase.ACTIVE, library))
    d = step(d, c.BeginRefill(C), T, library).device
    with pytest.raises(RejectedCommand, match="withdrawn residual first"):
        step(d, c.CompleteRefill(C, 20_000_000, 10_000_000), T, library)
    assert d.reservoir is not None
    d = step(d, c.RecordWithdrawal(C, withdrawn_nl=d.reservoir.volume_nl), T, library).device
    with pytest.raises(LimitViolation, match="capacity"):
        step(d, c.CompleteRefill(C, 20_000_001, 10_000_000), T, library)
    # the labelled 25 mg/mL needs no override (REQ-LIB-007), but a new program (REQ-BRIDGE-001)
    with pytest.raises(RejectedCommand, match="new program"):
        step(d, c.CompleteRefill(C, 20_000_000, 25_000_000), T, library)
    out = step(d, c.CompleteRefill(C, 20_000_000, 10_000_000), T, library)
    assert out.device.phase is Phase.ACTIVE
    assert not out.device.alarms
    assert out.device.reservoir is not None and out.device.reservoir.volume_nl == 20_000_000


BACLOFEN_PROGRAM = Program(
    drug="baclofen",
    indication="spasticity-spinal",
    concentration_ng_per_ml=500_000,
    basal=Basal.continuous(100_000),
)


def _baclofen_active(library: Library) -> Device:
    d = _baclofen(library, (50_000, DAY, True))
    return run(
        [
            (c.ConcludeTrial(C), 2 * DAY),
            (c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=200), 3 * DAY),
            (c.Fill(C, volume_nl=20_000_000, concentration_ng_per_ml=500_000), 3 * DAY + 60),
            (c.SetProgram(C, BACLOFEN_PROGRAM), 3 * DAY + 90),
            (c.Prime(C, duration_s=480), 3 * DAY + 120),
            (c.DriveReport(S, 1, DEAD_VOLUME_NL, final=True), 3 * DAY + 600),
            (c.StartDosing(C), 3 * DAY + 700),
        ],
        library,
        d,
    )


@pytest.mark.parametrize("command", [c.Suspend, c.Explant])
def test_stopping_baclofen_needs_confirmation_and_warns(
    command: type[c.Suspend] | type[c.Explant], library: Library
) -> None:
    """Stopping baclofen needs confirmation and warns of withdrawal (REQ-BACL-001, REQ-BACL-002)."""
    d = _baclofen_active(library)
    assert d.phase is Phase.ACTIVE
    with pytest.raises(RejectedCommand) as info:
        step(d, command(C, reason="x"), 4 * DAY, library)
    assert info.value.field == "command.confirm_withdrawal_risk"
    out = step(d, command(C, reason="x", confirm_withdrawal_risk=True), 4 * DAY, library)
    assert any(getattr(e, "code", "") == "withdrawal_risk" for e in out.effects)


@pytest.mark.parametrize(
    ("kind", "warns"),
    [(AlarmKind.MOTOR_STALL, True), (AlarmKind.EMPTY_RESERVOIR, True), (AlarmKind.ERI, False)],
)
def test_baclofen_alarms_carry_the_withdrawal_warning(
    kind: AlarmKind, warns: bool, library: Library
) -> None:
    """Stall and empty reservoir on baclofen carry the withdrawal warning (REQ-BACL-003)."""
    out = step(_baclofen_active(library), c.RaiseAlarm(S, kind), 4 * DAY, library)
    assert any(getattr(e, "code", "") == "withdrawal_risk" for e in out.effects) is warns


def test_morphine_suspend_needs_no_confirmation(library: Library) -> None:
    out = step(reach(Phase.ACTIVE, library), c.Suspend(C, reason="x"), T, library)
    assert not any(getattr(e, "code", "") == "withdrawal_risk" for e in out.effects)


# --- input checking -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "fragment"),
    [(LAST_TIME - 1, "backwards"), (-1, "out of range"), (True, "int"), (1.5, "int")],
    ids=["backwards", "negative", "bool", "float"],
)
def test_bad_time_is_rejected(now: object, fragment: str, library: Library) -> None:
    """A time earlier than the last accepted one is rejected naming now_s (REQ-TIME-004,
    REQ-CORE-004)."""
    d = reach(Phase.SUSPENDED, library)
    assert d.clock_s == LAST_TIME
    with pytest.raises(InvalidInput, match=fragment) as info:
        step(d, c.Resume(C, reason="x"), now, library)  # type: ignore[arg-type]
    assert info.value.field == "now_s"


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (c.RecordPainScore(C, score=11), "command.score"),
        (c.RecordPainScore(C, score=-1), "command.score"),
        (c.RecordPainScore(C, score=3.0), "command.score"),  # type: ignore[arg-type]
        (c.RecordPainScore(C, score=True), "command.score"),  # type: ignore[arg-type]
        (c.RecordPainScore(C, score="3"), "command.score"),  # type: ignore[arg-type]
        (c.RecordPainScore("clinician", score=3), "command.role"),  # type: ignore[arg-type]
        (c.RecordTrialDose(C, amount_ng=0), "command.amount_ng"),
        (c.RecordTrialDose(C, amount_ng=-5), "command.amount_ng"),
        (c.RecordTrialDose(C, amount_ng=float("nan")), "command.amount_ng"),  # type: ignore[arg-type]
        (c.RecordTrialDose(C, amount_ng=10**30), "command.amount_ng"),
    ],
)
def test_malformed_command_fields_are_named(
    command: c.Command, field: str, library: Library
) -> None:
    """Malformed commands are rejected naming the field and leave the state unchanged (REQ-CORE-002,
    REQ-CORE-004)."""
    d = run(PATHS[Phase.TRIAL], library)
    before = to_json(d)
    with pytest.raises(InvalidInput) as info:
        step(d, command, T, library)
    assert info.value.field == field
    assert to_json(d) == before


def test_non_command_and_non_device_are_rejected(library: Library) -> None:
    with pytest.raises(InvalidInput, match="command"):
        step(Device(), "suspend", 0, library)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="device"):
        step({}, c.BeginRefill(C), 0, library)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="library"):
        step(Device(), c.BeginRefill(C), 0, None)  # type: ignore[arg-type]


def test_baclofen_starting_dose_is_twice_the_effective_screening_dose(library: Library) -> None:
    """The baclofen starting dose is 2 x the effective screening dose (REQ-BACL-006)."""
    d = _baclofen(library, (50_000, DAY, False), (75_000, 2 * DAY, True))
    d = run(
        [
            (c.ConcludeTrial(C), 3 * DAY),
            (c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=200), 4 * DAY),
            (c.Fill(C, volume_nl=20_000_000, concentration_ng_per_ml=500_000), 4 * DAY + 60),
        ],
        library,
        d,
    )
    wrong = dataclasses.replace(BACLOFEN_PROGRAM, basal=Basal.continuous(100_000))
    with pytest.raises(LimitViolation) as info:
        step(d, c.SetProgram(C, wrong), 4 * DAY + 90, library)
    assert info.value.limit_id.endswith("starting_dose")
    assert info.value.limit == "150 mcg/day"  # 2 x 75 mcg
    right = dataclasses.replace(BACLOFEN_PROGRAM, basal=Basal.continuous(150_000))
    assert step(d, c.SetProgram(C, right), 4 * DAY + 90, library).device.program == right
    ov = (c.Override(info.value.limit_id, "response lasted over 8 h: label allows 1 x"),)
    out = step(d, c.SetProgram(C, wrong, overrides=ov), 4 * DAY + 90, library)
    assert out.device.program == wrong


def test_ticks_during_a_refill_raise_no_reservoir_alarm(library: Library) -> None:
    d = reach(Phase.ACTIVE, library)
    assert d.reservoir is not None
    d = run(
        [(c.BeginRefill(C), T), (c.RecordWithdrawal(C, d.reservoir.volume_nl), T + 60)],
        library,
        d,
    )
    assert d.reservoir is not None and d.reservoir.volume_nl == 0
    out = step(d, c.Tick(S), T + 120, library)
    assert out.device.phase is Phase.REFILL
    assert not out.device.alarms
    active = _drained(reach(Phase.ACTIVE, library))
    assert step(active, c.Tick(S), T, library).device.has_alarm(AlarmKind.EMPTY_RESERVOIR)


def test_annunciation_order_and_silencing(library: Library) -> None:
    """Highest priority first, then order of occurrence; a HIGH silence is at most 600 s and re-
    annunciates (REQ-ALM-007, REQ-ALM-008)."""
    d = reach(Phase.ACTIVE, library)
    kinds = [AlarmKind.ERI, AlarmKind.LOW_RESERVOIR, AlarmKind.MOTOR_STALL, AlarmKind.OCCLUSION]
    for i, kind in enumerate(kinds):
        d = step(d, c.RaiseAlarm(S, kind), T + i, library).device
    order = [a.kind for a in d.annunciating(T + 10)]
    assert order == [
        AlarmKind.MOTOR_STALL,
        AlarmKind.OCCLUSION,
        AlarmKind.ERI,
        AlarmKind.LOW_RESERVOIR,
    ]
    with pytest.raises(LimitViolation, match="cannot be silenced"):
        step(d, c.SilenceAlarm(C, AlarmKind.MOTOR_STALL, duration_s=601), T + 10, library)
    d = step(d, c.SilenceAlarm(C, AlarmKind.MOTOR_STALL, duration_s=600), T + 10, library).device
    assert AlarmKind.MOTOR_STALL not in [a.kind for a in d.annunciating(T + 609)]
    assert d.annunciating(T + 610)[0].kind is AlarmKind.MOTOR_STALL


def test_an_accepted_program_is_shown_beside_the_one_it_replaces(library: Library) -> None:
    """Dose/day, mL/day and the low-reservoir date, old and new side by side (REQ-DOSE-005)."""
    d = reach(Phase.ACTIVE, library)
    new = dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(2_000_000))
    out = step(d, c.SetProgram(C, new), T, library)
    (cmp,) = [e for e in out.effects if isinstance(e, ProgramComparison)]
    assert cmp.previous is not None
    assert (cmp.previous.basal_daily_ng, cmp.new.basal_daily_ng) == (1_000_000, 2_000_000)
    assert (cmp.previous.worst_case_daily_ng, cmp.new.worst_case_daily_ng) == (
        1_000_000 + 4 * 100_000,
        2_000_000 + 4 * 100_000,
    )
    # 1 and 2 mg/day at 10 mg/mL
    assert (cmp.previous.volume_rate_nl_per_day, cmp.new.volume_rate_nl_per_day) == (
        100_000,
        200_000,
    )
    assert d.reservoir is not None
    # worst-case daily volumes 0.14 and 0.24 mL/day from the same reservoir to the 3.0 mL threshold
    above = d.reservoir.volume_nl - sum(o.volume_nl - o.reported_nl for o in d.orders) - 3_000_000
    assert cmp.previous.low_reservoir_at_s == T + above * DAY // 140_000
    assert cmp.new.low_reservoir_at_s == T + above * DAY // 240_000
    first = run(PATHS[Phase.IMPLANTED], library)
    out = step(first, c.SetProgram(C, MORPHINE_PROGRAM), T, library)
    (cmp,) = [e for e in out.effects if isinstance(e, ProgramComparison)]
    assert cmp.previous is None and cmp.new.basal_daily_ng == 1_000_000


# --- the table row by row and every guard at its boundaries --------------------------------------

CL = frozenset({Role.CLINICIAN})
SV = frozenset({Role.SERVICE})
PT = frozenset({Role.PATIENT})
PCL = frozenset({Role.PATIENT, Role.CLINICIAN})
C_, S_, PAT, PC = "C", "S", "PAT", "PC"
_ROLES = {"C": CL, "S": SV, "PAT": PT, "PC": PCL}

TABLE: list[tuple[str, ...]] = [
    ("record_screening", "screening", "screening", C_),
    ("start_trial", "screening", "trial", C_, "screened_candidate"),
    ("record_trial_dose", "trial", "trial", C_),
    ("record_pain_score", "trial", "trial", C_),
    ("record_screening_response", "trial", "trial", C_),
    ("conclude_trial", "trial", "implant_ready", C_, "trial_succeeded"),
    ("conclude_trial", "trial", "trial_failed", C_, "trial_failed"),
    ("implant", "implant_ready", "implanted", C_),
    ("fill", "implanted", "implanted", C_),
    ("fill", "suspended", "suspended", C_),
    ("prime", "implanted", "priming", C_, "ready_to_prime"),
    ("prime", "suspended", "priming", C_, "ready_to_prime"),
    ("start_dosing", "priming", "active", C_, "ready_to_dose"),
    ("suspend", "active", "suspended", C_),
    ("resume", "suspended", "active", C_, "ready_to_dose"),
    ("clinician_bolus", "active", "active", C_),
    ("begin_refill", "active", "refill", C_),
    ("begin_refill", "suspended", "refill", C_),
    ("begin_refill", "alarm", "refill", C_),
    ("record_withdrawal", "refill", "refill", C_),
    ("complete_refill", "refill", "active", C_, "refill_resumes_dosing"),
    ("complete_refill", "refill", "suspended", C_, "refill_stays_stopped"),
    ("complete_refill", "refill", "alarm", C_, "high_alarm_active"),
    ("abort_refill", "refill", "suspended", C_, "no_high_alarm"),
    ("abort_refill", "refill", "alarm", C_, "high_alarm_active"),
    ("empty_reservoir", "suspended", "suspended", C_),
    ("begin_mri", "active", "suspended", C_),
    ("begin_mri", "suspended", "suspended", C_),
    ("begin_mri", "alarm", "alarm", C_),
    ("end_mri", "suspended", "active", C_, "mri_resumes_dosing"),
    ("end_mri", "suspended", "suspended", C_, "mri_stays_stopped"),
    ("end_mri", "alarm", "alarm", C_),
    ("clear_alarm", "alarm", "suspended", C_, "clears_last_high_alarm"),
    ("clear_alarm", "alarm", "alarm", C_, "high_alarm_remains"),
    ("raise_alarm", "implanted", "implanted", S_),
    ("tick", "implanted", "implanted", S_),
    ("drive_report", "implanted", "implanted", S_),
    ("clear_alarm", "implanted", "implanted", C_),
    ("request_bolus", "implanted", "implanted", PAT),
    ("silence_alarm", "implanted", "implanted", PC),
    ("set_program", "implanted", "implanted", C_),
    ("explant", "implanted", "explanted", C_),
    ("raise_alarm", "priming", "priming", S_),
    ("tick", "priming", "priming", S_),
    ("drive_report", "priming", "priming", S_),
    ("clear_alarm", "priming", "priming", C_),
    ("request_bolus", "priming", "priming", PAT),
    ("silence_alarm", "priming", "priming", PC),
    ("set_program", "priming", "priming", C_),
    ("explant", "priming", "explanted", C_),
    ("raise_alarm", "active", "active", S_),
    ("tick", "active", "active", S_),
    ("drive_report", "active", "active", S_),
    ("clear_alarm", "active", "active", C_),
    ("request_bolus", "active", "active", PAT),
    ("silence_alarm", "active", "active", PC),
    ("set_program", "active", "active", C_),
    ("confirm_post_mri", "active", "active", C_),
    ("explant", "active", "explanted", C_),
    ("raise_alarm", "refill", "refill", S_),
    ("tick", "refill", "refill", S_),
    ("drive_report", "refill", "refill", S_),
    ("clear_alarm", "refill", "refill", C_),
    ("request_bolus", "refill", "refill", PAT),
    ("silence_alarm", "refill", "refill", PC),
    ("confirm_post_mri", "refill", "refill", C_),
    ("explant", "refill", "explanted", C_),
    ("raise_alarm", "suspended", "suspended", S_),
    ("tick", "suspended", "suspended", S_),
    ("drive_report", "suspended", "suspended", S_),
    ("clear_alarm", "suspended", "suspended", C_),
    ("request_bolus", "suspended", "suspended", PAT),
    ("silence_alarm", "suspended", "suspended", PC),
    ("set_program", "suspended", "suspended", C_),
    ("confirm_post_mri", "suspended", "suspended", C_),
    ("explant", "suspended", "explanted", C_),
    ("tick", "alarm", "alarm", S_),
    ("drive_report", "alarm", "alarm", S_),
    ("raise_alarm", "alarm", "alarm", S_),
    ("request_bolus", "alarm", "alarm", PAT),
    ("silence_alarm", "alarm", "alarm", PC),
    ("set_program", "alarm", "alarm", C_),
    ("confirm_post_mri", "alarm", "alarm", C_),
    ("explant", "alarm", "explanted", C_),
]
"""The lifecycle table, row by row in table order (docs/architecture.md#lifecycle)."""


def _expected() -> tuple[Rule, ...]:
    return tuple(
        Rule(t, Phase(src), Phase(dst), _ROLES[roles], GUARDS[guard[0]] if guard else None)
        for t, src, dst, roles, *guard in TABLE
    )


def test_table_is_exactly_the_specified_rows() -> None:
    """Every row: trigger, source, destination, roles and guard (REQ-LIFE-001, REQ-LIFE-002,
    REQ-LIFE-003, REQ-LIFE-004, REQ-ALM-001)."""
    assert len(set(RULES)) == len(RULES) == len(_expected())
    assert set(_expected()) == set(RULES)
    # rows sharing a trigger and source keep their order (it orders a rejection's text)
    assert lc._index(_expected()) == lc._index(RULES)


def test_index_groups_rows_in_table_order() -> None:
    """``rules_for`` gives the rows of a trigger and source in table order (REQ-LIFE-003)."""
    index = lc._index(_expected())
    keys = {(r.trigger, r.source) for r in _expected()}
    assert set(index) == keys
    for key in keys:
        assert index[key] == tuple(r for r in _expected() if (r.trigger, r.source) == key)
    assert [r.dest for r in rules_for("complete_refill", Phase.REFILL)] == [
        Phase.ACTIVE,
        Phase.SUSPENDED,
        Phase.ALARM,
    ]
    assert rules_for("fill", Phase.SUSPENDED) == (
        Rule("fill", Phase.SUSPENDED, Phase.SUSPENDED, CL),
    )
    assert rules_for("start_dosing", Phase.SCREENING) == ()
    assert rules_for("no_such_trigger", Phase.ACTIVE) == ()


def _g(name: str, d: Device, cmd: c.Command, lib: Library, now: int = 0) -> bool:
    return GUARDS[name].holds(d, cmd, now, lib)


def test_every_guard_has_a_text() -> None:
    """Every guard named in the table exists and has its words (REQ-LIFE-003)."""
    named = {r.guard.name for r in RULES if r.guard is not None}
    assert named == set(GUARDS)
    assert all(name == g.name and g.text for name, g in GUARDS.items())
    assert {r.guard for r in RULES if r.guard is not None} == set(GUARDS.values())


def test_screened_candidate(library: Library) -> None:
    """A trial starts only after a screening that found a candidate (REQ-TRIAL-001)."""
    cmd = c.StartTrial(C, "morphine", "pain", plan="bolus")
    assert _g("screened_candidate", Device(), cmd, library) is False
    no = Device(screening=Screening(0, False, 6, ""))
    yes = Device(screening=Screening(0, True, 6, ""))
    assert _g("screened_candidate", no, cmd, library) is False
    assert _g("screened_candidate", yes, cmd, library) is True


def _pain_trial(baseline: int, last: int | None) -> Device:
    trial = Trial("morphine", "pain", "bolus", baseline, last_pain=last)
    return Device(phase=Phase.TRIAL, trial=trial)


def _outcome(d: Device, lib: Library, outcome: TrialOutcome | None = None) -> str:
    cmd = c.ConcludeTrial(C, outcome, reason="r" if outcome else "")
    ok, failed = _g("trial_succeeded", d, cmd, lib), _g("trial_failed", d, cmd, lib)
    assert not (ok and failed)
    return "success" if ok else "failure" if failed else "none"


@pytest.mark.parametrize(
    ("baseline", "last", "expected"),
    [
        (6, None, "none"),
        (6, 3, "success"),
        (6, 4, "failure"),
        (7, 3, "success"),
        (7, 4, "failure"),
        (1, 0, "success"),
        (0, 0, "failure"),
        (2, 1, "success"),
        (10, 0, "success"),
    ],
)
def test_pain_evidence(library: Library, baseline: int, last: int | None, expected: str) -> None:
    """Success at a pain reduction of at least 50 % from a positive baseline, in integers
    (REQ-TRIAL-002)."""
    assert _outcome(_pain_trial(baseline, last), library) == expected


def test_no_trial_is_no_evidence(library: Library) -> None:
    """Without a trial record neither conclusion guard holds (REQ-TRIAL-003)."""
    assert _outcome(Device(), library) == "none"


def test_clinician_conclusion_overrides_evidence(library: Library) -> None:
    """A clinician's stated outcome decides, whatever the evidence (REQ-TRIAL-003)."""
    d = _pain_trial(6, 3)
    assert _outcome(d, library, TrialOutcome.FAILURE) == "failure"
    d = _pain_trial(6, 6)
    assert _outcome(d, library, TrialOutcome.SUCCESS) == "success"
    assert _outcome(_pain_trial(6, None), library, TrialOutcome.SUCCESS) == "success"


def _baclofen_trial(doses: int, response: bool | None) -> Device:
    trial = Trial(
        "baclofen",
        "spasticity-spinal",
        "screening",
        0,
        screening_sequence_ng=(50_000, 75_000, 100_000),
        doses=tuple(TrialDose(i * DAY, 50_000) for i in range(doses)),
        response=response,
        last_pain=0,
    )
    return Device(phase=Phase.TRIAL, trial=trial)


@pytest.mark.parametrize(
    ("doses", "response", "expected"),
    [
        (1, True, "success"),
        (3, True, "success"),
        (1, None, "none"),
        (3, None, "none"),
        (1, False, "none"),
        (2, False, "none"),
        (3, False, "failure"),
        (4, False, "failure"),
    ],
)
def test_baclofen_evidence(
    library: Library, doses: int, response: bool | None, expected: str
) -> None:
    """A positive response succeeds; no response to the last dose of the sequence fails; a pain
    score is not evidence in a baclofen screening (REQ-BACL-005)."""
    assert _outcome(_baclofen_trial(doses, response), library) == expected


def _implanted(
    library: Library,
    volume: int,
    *,
    dead: int | None = DEAD_VOLUME_NL,
    primed_nl: int = 0,
    primed: bool = False,
    orders: tuple[Order, ...] = (),
) -> Device:
    d = reach(Phase.IMPLANTED, library)
    assert d.implant is not None and d.reservoir is not None
    return dataclasses.replace(
        d,
        implant=dataclasses.replace(d.implant, dead_volume_nl=dead),
        reservoir=dataclasses.replace(d.reservoir, volume_nl=volume),
        primed_nl=primed_nl,
        primed=primed,
        orders=orders,
        next_order_id=len(orders) + 1,
    )


def test_ready_to_prime_boundaries(library: Library) -> None:
    """Priming needs the remaining dead volume above the empty threshold, an unprimed catheter,
    no priming running and a known dead volume (REQ-PRIME-001, REQ-PRIME-002)."""
    empty = library.pump("prometra-ii-20").empty_threshold.value
    assert empty == 500_000
    cmd = c.Prime(C, duration_s=480)
    need = DEAD_VOLUME_NL + empty
    assert _g("ready_to_prime", _implanted(library, need), cmd, library) is True
    assert _g("ready_to_prime", _implanted(library, need - 1), cmd, library) is False
    part = 100_000
    d = _implanted(library, need - part, primed_nl=part)
    assert _g("ready_to_prime", d, cmd, library) is True
    d = _implanted(library, need - part - 1, primed_nl=part)
    assert _g("ready_to_prime", d, cmd, library) is False
    assert _g("ready_to_prime", _implanted(library, need, primed=True), cmd, library) is False
    assert _g("ready_to_prime", _implanted(library, need, dead=None), cmd, library) is False
    priming = Order(1, DeliveryKind.PRIMING, 0, 480, 1000)
    basal = Order(1, DeliveryKind.BASAL, 0, 480, 1000)
    d = _implanted(library, need, orders=(priming,))
    assert _g("ready_to_prime", d, cmd, library) is False
    d = _implanted(library, need, orders=(basal,))
    assert _g("ready_to_prime", d, cmd, library) is True
    no_res = dataclasses.replace(_implanted(library, need), reservoir=None)
    assert _g("ready_to_prime", no_res, cmd, library) is False
    no_implant = dataclasses.replace(Device(), reservoir=Reservoir("morphine", "pain", 1, need))
    assert _g("ready_to_prime", no_implant, cmd, library) is False


def test_ready_to_dose(library: Library) -> None:
    """Dosing needs a primed catheter, a program, no MRI pending and no post-MRI verification
    alarm (REQ-PRIME-003, REQ-MRI-003)."""
    d = reach(Phase.ACTIVE, library)
    cmd = c.StartDosing(C)
    assert _g("ready_to_dose", d, cmd, library) is True
    assert _g("ready_to_dose", dataclasses.replace(d, primed=False), cmd, library) is False
    assert _g("ready_to_dose", dataclasses.replace(d, program=None), cmd, library) is False
    mri = MriSession(MriPolicy.SUSPEND_VERIFY, 0, False, True)
    assert _g("ready_to_dose", dataclasses.replace(d, mri=mri), cmd, library) is False
    alarm = (ActiveAlarm(AlarmKind.POST_MRI_VERIFICATION, 0),)
    assert _g("ready_to_dose", dataclasses.replace(d, alarms=alarm), cmd, library) is False
    low = (ActiveAlarm(AlarmKind.LOW_RESERVOIR, 0),)
    assert _g("ready_to_dose", dataclasses.replace(d, alarms=low), cmd, library) is True


def _alarms(*kinds: AlarmKind) -> tuple[ActiveAlarm, ...]:
    return tuple(ActiveAlarm(k, 0) for k in kinds)


def test_refill_and_alarm_guards(library: Library) -> None:
    """Refill completion and abort go by the HIGH alarms and where the refill began
    (REQ-REF-004, REQ-ALM-001)."""
    cmd = c.AbortRefill(C, reason="r")
    none = Device()
    low = Device(alarms=_alarms(AlarmKind.LOW_RESERVOIR))
    high = Device(alarms=_alarms(AlarmKind.OCCLUSION))
    for d, is_high in ((none, False), (low, False), (high, True)):
        assert _g("high_alarm_active", d, cmd, library) is is_high
        assert _g("no_high_alarm", d, cmd, library) is (not is_high)
        for resume in (False, True):
            r = dataclasses.replace(d, resume_after_refill=resume)
            assert _g("refill_resumes_dosing", r, cmd, library) is (resume and not is_high)
            assert _g("refill_stays_stopped", r, cmd, library) is (not resume and not is_high)


@pytest.mark.parametrize("kind", list(AlarmKind))
def test_rule_5_reads_the_priority_of_the_raised_alarm(library: Library, kind: AlarmKind) -> None:
    """A HIGH alarm raised ends the step in alarm from every implanted phase; LOW and MEDIUM
    stay; a raised alarm never moves a phase without a pump (REQ-ALM-001)."""
    high = kind.value in {
        "empty_reservoir",
        "motor_stall",
        "occlusion",
        "end_of_service",
        "low_battery_reset",
        "memory_fault",
        "delivery_deviation",
        "drive_fault",
    }
    implanted = {"implanted", "priming", "active", "refill", "suspended", "alarm"}
    for phase in Phase:
        expected = Phase.ALARM if high and phase.value in implanted else phase
        assert lc.after_handler(phase, (kind,)) is expected, phase
        assert lc.after_handler(phase, ()) is phase
        assert lc.after_handler(phase, (AlarmKind.ERI, kind)) is expected
    applied = handlers.apply(Device(), c.RaiseAlarm(S, kind), 0, library)
    assert applied.raised == (kind,)


def test_clear_alarm_guards(library: Library) -> None:
    """Clearing leaves the alarm phase only when no other HIGH alarm remains (REQ-LIFE-007)."""
    stall = c.ClearAlarm(C, AlarmKind.MOTOR_STALL, reason="fixed")
    for kinds, last in (
        ((AlarmKind.MOTOR_STALL,), True),
        ((AlarmKind.MOTOR_STALL, AlarmKind.LOW_RESERVOIR), True),
        ((AlarmKind.MOTOR_STALL, AlarmKind.OCCLUSION), False),
        ((AlarmKind.OCCLUSION, AlarmKind.DRIVE_FAULT, AlarmKind.MOTOR_STALL), False),
        ((AlarmKind.OCCLUSION,), False),
    ):
        d = Device(alarms=_alarms(*kinds))
        assert _g("clears_last_high_alarm", d, stall, library) is last, kinds
        assert _g("high_alarm_remains", d, stall, library) is (not last), kinds


def _raised(d: Device, cmd: c.Command, lib: Library, now: int) -> tuple[AlarmKind, ...]:
    return handlers.apply(d, cmd, now, lib).raised


def test_an_over_delivering_report_raises_the_deviation(library: Library) -> None:
    """A report above the order's volume, or ahead of its pace, raises the HIGH deviation alarm
    (rule 5 then ends the step in alarm); equal does not (REQ-ALM-001, REQ-TIP-004). The order:
    1000 nL over 600 s, a pace of 6000 nL/h: at its end 1000 is within it; at 299 s (300 s with
    the report's second) 500 is the pace, 501 ahead of it."""
    order = Order(3, DeliveryKind.BASAL, 0, 600, 1000)
    d = Device(orders=(order,), next_order_id=4)
    for delivered, at, over in (
        (999, 600, False),
        (1000, 600, False),
        (1001, 600, True),
        (500, 299, False),
        (501, 299, True),
    ):
        cmd = c.DriveReport(S, order_id=3, delivered_nl=delivered, final=False)
        expected = (AlarmKind.DELIVERY_DEVIATION,) if over else ()
        assert _raised(d, cmd, library, at) == expected, (delivered, at)
    unknown = c.DriveReport(S, order_id=9, delivered_nl=5000, final=False)
    assert _raised(d, unknown, library, 0) == ()


def test_a_tick_raises_what_the_clock_finds(library: Library) -> None:
    """A tick that finds a HIGH condition raises it and goes to the alarm phase (REQ-ALM-001,
    REQ-RES-002)."""
    d = reach(Phase.SUSPENDED, library)
    t = 9 * DAY
    assert _raised(d, c.Tick(S), library, t) == ()
    eos = dataclasses.replace(d, eos_at_s=t - 10)
    assert _raised(eos, c.Tick(S), library, t) == (AlarmKind.END_OF_SERVICE,)
    out = step(eos, c.Tick(S), t, library)
    assert out.device.phase is Phase.ALARM
    assert out.device.has_alarm(AlarmKind.END_OF_SERVICE)


def test_mri_guards(library: Library) -> None:
    """After the scan a SynchroMed II dosing before it resumes by itself (REQ-MRI-002)."""
    cmd = c.EndMri(C)
    resumes = Device(mri=MriSession(MriPolicy.SUSPEND_VERIFY, 0, False, True))
    stays = Device(mri=MriSession(MriPolicy.SUSPEND_VERIFY, 0, True, True))
    for d, r in ((resumes, True), (stays, False), (Device(), False)):
        assert _g("mri_resumes_dosing", d, cmd, library) is r
        assert _g("mri_stays_stopped", d, cmd, library) is (not r)


def test_conclude_trial_takes_the_guarded_rows(library: Library) -> None:
    """Through ``step``: the evidence picks the destination (REQ-TRIAL-002)."""
    for score, dest in ((3, Phase.IMPLANT_READY), (5, Phase.TRIAL_FAILED)):
        d = run(
            [(c.RecordPainScore(C, score=score), 4 * HOUR)], library, reach(Phase.TRIAL, library)
        )
        assert step(d, c.ConcludeTrial(C), 5 * HOUR, library).device.phase is dest
    with pytest.raises(RejectedCommand):
        step(reach(Phase.TRIAL, library), c.ConcludeTrial(C), 5 * HOUR, library)


# Equivalent mutants (mutmut 3.8.1; no observable change):
# - x__high_after_clear__mutmut_2: counts 2 per remaining HIGH alarm instead of 1; both guards
#   compare the count with 0 only.
