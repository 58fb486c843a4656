"""Every command, exactly: each validator's exact rejection (field, message, value, limit, limit
id and level) and the exact data and effects of each handler, refills through the fluid path
included. Requirement IDs are cited per test. These also kill the mutants mutation testing found
alive in core/handlers/ (docs/mutation.md)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from itdose_testkit import (
    DAY,
    HOUR,
    MORPHINE_PROGRAM,
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
    DosingError,
    InvalidInput,
    Library,
    LimitViolation,
    Phase,
    RejectedCommand,
    TrialOutcome,
    step,
)
from itdose.core import commands as c
from itdose.core import library as lib_mod
from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.effects import (
    Annunciate,
    CancelOrder,
    DeliveryOrder,
    ProgramComparison,
    ProgramFigures,
    Projection,
    StopDelivery,
    TipChange,
    Warn,
)
from itdose.core.handlers import describe
from itdose.core.handlers.base import WITHDRAWAL_TEXT
from itdose.core.handlers.refill import reconcile
from itdose.core.ledger import Ledger
from itdose.core.library import MriPolicy, pump_concentrations
from itdose.core.path import FluidPath, Segment
from itdose.core.program import Basal, FlexClock, Increase, PatientBolusProgram, Program
from itdose.core.state import (
    ActiveAlarm,
    DeliveryKind,
    DrugLedger,
    FlushDose,
    ImplantedSystem,
    MriSession,
    Order,
    RefillSession,
    Reservoir,
    Screening,
    Trial,
    TrialDose,
)

T = 8 * DAY + HOUR
BACLOFEN = ("baclofen", "spasticity-spinal")
BLANK = c.Override("x.y", "  ")
LONG = "x" * 2001
STRENGTH = c.Override("morphine.pain.product_concentrations", "compounded")
PROG25 = dataclasses.replace(MORPHINE_PROGRAM, concentration_ng_per_ml=25_000_000)
BIG = dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(19_000_000), patient_bolus=None)
WALL = dataclasses.replace(
    MORPHINE_PROGRAM,
    basal=dataclasses.replace(Basal.continuous(1_000_000), clock=FlexClock.WALL, timezone="UTC"),
)
ZIC = Program("ziconotide", "pain", 25_000, Basal.continuous(2_400))
MAX_CONC = c.Override("morphine.pain.max_concentration", "Infumorph 25 mg/mL")
COMPOUNDED = c.Override("morphine.pain.product_concentrations", "compounded 30 mg/mL")
"""A compounded strength: the [U] maximum concentration applies to it (not to the labelled
25 mg/mL, REQ-LIB-007)."""


def _screened(lib: Library) -> Device:
    return run([(c.RecordScreening(C, candidate=True, baseline_pain=8), 0)], lib)


def _trial0(lib: Library) -> Device:
    return run([(c.StartTrial(C, "morphine", "pain", plan="bolus"), 60)], lib, _screened(lib))


def _bacl(*responses: bool | None) -> Callable[[Library], Device]:
    def build(lib: Library) -> Device:
        steps: list[tuple[c.Command, int]] = [
            (c.StartTrial(C, *BACLOFEN, plan="screening"), 60),
        ]
        for i, response in enumerate(responses):
            at = (i + 1) * DAY
            steps.append((c.RecordTrialDose(C, amount_ng=(50_000, 75_000, 100_000)[i]), at))
            if response is not None:
                steps.append((c.RecordScreeningResponse(C, positive=response), at + HOUR))
        return run(steps, lib, _screened(lib))

    return build


def _bacl_implanted(lib: Library) -> Device:
    d = _bacl(True)(lib)
    return run(
        [
            (c.ConcludeTrial(C), 2 * DAY),
            (c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=200), 3 * DAY),
            (c.Fill(C, volume_nl=20_000_000, concentration_ng_per_ml=2_000_000), 3 * DAY + 60),
        ],
        lib,
        d,
    )


def _zic_ready(lib: Library) -> Device:
    steps: list[tuple[c.Command, int]] = [
        (c.StartTrial(C, "ziconotide", "pain", plan="bolus"), 60),
        (c.RecordTrialDose(C, amount_ng=2_000), 120),
        (c.RecordPainScore(C, score=3), HOUR),
        (c.ConcludeTrial(C), 2 * HOUR),
    ]
    return run(steps, lib, _screened(lib))


def _implant_only(lib: Library) -> Device:
    implant = c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=200)
    return run([(implant, 7 * DAY)], lib, reach(Phase.IMPLANT_READY, lib))


def _phase(phase: Phase) -> Callable[[Library], Device]:
    return lambda lib: reach(phase, lib)


def _refill_withdrawn(lib: Library) -> Device:
    d = reach(Phase.REFILL, lib)
    assert d.refill is not None
    return run([(c.RecordWithdrawal(C, d.refill.expected_residual_nl), T - 60)], lib, d)


def _with_alarms(phase: Phase, *kinds: AlarmKind) -> Callable[[Library], Device]:
    def build(lib: Library) -> Device:
        d = reach(phase, lib)
        return run([(c.RaiseAlarm(S, k), T - 100 + i) for i, k in enumerate(kinds)], lib, d)

    return build


def _active_nearly_empty(lib: Library) -> Device:
    d = reach(Phase.ACTIVE, lib)
    assert d.reservoir is not None
    return dataclasses.replace(d, reservoir=dataclasses.replace(d.reservoir, volume_nl=510_000))


def _suspended_unfilled(lib: Library) -> Device:
    steps = [
        (c.RaiseAlarm(S, AlarmKind.MOTOR_STALL), 7 * DAY + 10),
        (c.ClearAlarm(C, AlarmKind.MOTOR_STALL, "checked"), 7 * DAY + 20),
    ]
    return run(steps, lib, _implant_only(lib))


def _alarm_unfilled_empty(lib: Library) -> Device:
    return run(
        [(c.RaiseAlarm(S, AlarmKind.EMPTY_RESERVOIR), 7 * DAY + 10)], lib, _implant_only(lib)
    )


def _refill_unfilled(lib: Library) -> Device:
    steps = [
        (c.RaiseAlarm(S, AlarmKind.MOTOR_STALL), 7 * DAY + 10),
        (c.BeginRefill(C), 7 * DAY + 20),
    ]
    return run(steps, lib, _implant_only(lib))


def _refill_finding(lib: Library) -> Device:
    return run([(c.RecordWithdrawal(C, 16_766_000), T - 60)], lib, reach(Phase.REFILL, lib))


def _refill_no_dead(lib: Library) -> Device:
    """As :func:`_refill_withdrawn`, with an implant whose dead volume is unknown (so no path)."""
    d = _refill_withdrawn(lib)
    assert d.implant is not None
    implant = dataclasses.replace(d.implant, dead_volume_nl=None)
    return dataclasses.replace(d, implant=implant, path=None)


SETUPS: dict[str, Callable[[Library], Device]] = {
    "screening": lambda lib: Device(),
    "screened": _screened,
    "trial0": _trial0,
    "trial": _phase(Phase.TRIAL),
    "bacl0": _bacl(),
    "bacl1": _bacl(None),
    "bacl1n": _bacl(False),
    "bacl1p": _bacl(True),
    "bacl3n": _bacl(False, False, False),
    "ready": _phase(Phase.IMPLANT_READY),
    "implant_only": _implant_only,
    "zic_ready": _zic_ready,
    "implanted": _phase(Phase.IMPLANTED),
    "bacl_implanted": _bacl_implanted,
    "active": _phase(Phase.ACTIVE),
    "suspended": _phase(Phase.SUSPENDED),
    "refill": _phase(Phase.REFILL),
    "refill_withdrawn": _refill_withdrawn,
    "alarm": _phase(Phase.ALARM),
    "active_low": _with_alarms(Phase.ACTIVE, AlarmKind.LOW_RESERVOIR),
    "suspended_eos": _with_alarms(Phase.SUSPENDED, AlarmKind.END_OF_SERVICE),
    "suspended_empty": _with_alarms(Phase.SUSPENDED, AlarmKind.EMPTY_RESERVOIR),
    "refill_unfilled": _refill_unfilled,
    "suspended_unfilled": _suspended_unfilled,
    "alarm_unfilled_empty": _alarm_unfilled_empty,
    "active_nearly_empty": _active_nearly_empty,
    "refill_finding": _refill_finding,
    "refill_no_dead": _refill_no_dead,
}

Case = tuple[str, str, c.Command, int]

CASES: list[Case] = [
    # small checks, through the commands that use them
    ("score_high", "screening", c.RecordScreening(C, True, 11), 0),
    ("score_low", "screening", c.RecordScreening(C, True, -1), 0),
    ("note_long", "screening", c.RecordScreening(C, True, 5, LONG), 0),
    ("plan_blank", "screened", c.StartTrial(C, "morphine", "pain", plan=" \t"), 60),
    ("plan_long", "screened", c.StartTrial(C, "morphine", "pain", plan=LONG), 60),
    (
        "override_blank",
        "screened",
        c.StartTrial(C, "morphine", "pain", plan="p", overrides=(c.Override("a", "ok"), BLANK)),
        60,
    ),
    ("opioid_status", "screened", c.StartTrial(C, "morphine", "pain", "p", "naive"), 60),
    ("unapproved", "screened", c.StartTrial(C, "fentanyl", "pain", plan="p"), 60),
    (
        "unapproved_other_override",
        "screened",
        c.StartTrial(C, "fentanyl", "pain", "p", overrides=(c.Override("fentanyl.pain.x", "r"),)),
        60,
    ),
    (
        "unapproved_blank_override",
        "screened",
        c.StartTrial(
            C,
            "fentanyl",
            "pain",
            "p",
            overrides=(c.Override("fentanyl.pain.unapproved", "r"), c.Override("x", "")),
        ),
        60,
    ),
    # trial doses
    ("dose_zero", "trial0", c.RecordTrialDose(C, amount_ng=0), 120),
    ("dose_daily_max", "trial", c.RecordTrialDose(C, amount_ng=19_700_001), 180),
    ("dose_out_of_range", "trial0", c.RecordTrialDose(C, amount_ng=600_000), 120),
    ("dose_below_range", "trial0", c.RecordTrialDose(C, amount_ng=99_999), 120),
    (
        "dose_other_override",
        "trial0",
        c.RecordTrialDose(C, 600_000, (c.Override("morphine.pain.max_daily", "r"),)),
        120,
    ),
    ("scr_positive", "bacl1p", c.RecordTrialDose(C, amount_ng=75_000), 3 * DAY),
    ("scr_complete", "bacl3n", c.RecordTrialDose(C, amount_ng=100_000), 5 * DAY),
    ("scr_pending", "bacl1", c.RecordTrialDose(C, amount_ng=75_000), 3 * DAY),
    ("scr_wrong_first", "bacl0", c.RecordTrialDose(C, amount_ng=75_000), DAY),
    ("scr_wrong_second", "bacl1n", c.RecordTrialDose(C, amount_ng=50_000), 3 * DAY),
    ("scr_spacing", "bacl1n", c.RecordTrialDose(C, amount_ng=75_000), 2 * DAY - 1),
    ("pain_range", "trial", c.RecordPainScore(C, score=11), HOUR),
    ("pain_baclofen", "bacl1", c.RecordPainScore(C, score=3), 2 * DAY),
    ("pain_no_dose", "trial0", c.RecordPainScore(C, score=3), 120),
    ("resp_not_baclofen", "trial", c.RecordScreeningResponse(C, positive=True), HOUR),
    ("resp_no_dose", "bacl0", c.RecordScreeningResponse(C, positive=True), HOUR),
    ("resp_twice", "bacl1n", c.RecordScreeningResponse(C, positive=True), 2 * DAY),
    ("conclude_blank", "trial", c.ConcludeTrial(C, TrialOutcome.SUCCESS, " "), HOUR),
    ("conclude_long", "trial", c.ConcludeTrial(C, None, LONG), HOUR),
    # implant and fill
    ("trim_negative", "ready", c.Implant(C, "prometra-ii-20", "prometra-catheter", -1), DAY),
    (
        "pump_not_approved",
        "zic_ready",
        c.Implant(C, "prometra-ii-20", "prometra-catheter", 0, (c.Override("x", "r"),)),
        3 * DAY,
    ),
    ("catheter_mismatch", "ready", c.Implant(C, "prometra-ii-20", "medtronic-8731sc", 0), DAY),
    ("trim_too_long", "ready", c.Implant(C, "prometra-ii-20", "prometra-catheter", 1100), DAY),
    ("fill_zero", "implant_only", c.Fill(C, 0, 10_000_000), 7 * DAY + 60),
    ("fill_twice", "suspended", c.Fill(C, 1_000_000, 10_000_000), T),
    ("fill_capacity", "implant_only", c.Fill(C, 20_000_001, 10_000_000), 7 * DAY + 60),
    ("conc_zero", "implant_only", c.Fill(C, 1_000_000, 0), 7 * DAY + 60),
    ("conc_strength", "implant_only", c.Fill(C, 1_000_000, 12_000_000), 7 * DAY + 60),
    (
        "conc_max",
        "implant_only",
        c.Fill(C, 1_000_000, 30_000_000, (COMPOUNDED,)),
        7 * DAY + 60,
    ),
    ("prime_zero", "implanted", c.Prime(C, duration_s=0), 7 * DAY + 120),
    ("prime_long", "implanted", c.Prime(C, duration_s=86_401), 7 * DAY + 120),
    # stopping, alarms
    ("suspend_blank", "active", c.Suspend(C, reason=""), T),
    ("resume_long", "suspended", c.Resume(C, reason=LONG), T),
    ("explant_baclofen", "bacl_implanted", c.Explant(C, reason="infection"), 4 * DAY),
    ("alarm_detail_long", "active", c.RaiseAlarm(S, AlarmKind.LOW_RESERVOIR, LONG), T),
    ("clear_blank", "alarm", c.ClearAlarm(C, AlarmKind.MOTOR_STALL, " "), T),
    ("clear_inactive", "alarm", c.ClearAlarm(C, AlarmKind.OCCLUSION, "r"), T),
    ("clear_eos", "suspended_eos", c.ClearAlarm(C, AlarmKind.END_OF_SERVICE, "r"), T),
    ("silence_zero", "alarm", c.SilenceAlarm(P, AlarmKind.MOTOR_STALL, 0), T),
    ("silence_inactive", "alarm", c.SilenceAlarm(P, AlarmKind.OCCLUSION, 60), T),
    ("silence_high", "alarm", c.SilenceAlarm(P, AlarmKind.MOTOR_STALL, 601), T),
    ("silence_low", "active_low", c.SilenceAlarm(C, AlarmKind.LOW_RESERVOIR, 86_401), T),
    ("tick_short", "active", c.Tick(S, max_segment_s=3599), T),
    ("tick_long", "active", c.Tick(S, max_segment_s=86_401), T),
    ("report_negative_id", "active", c.DriveReport(S, -1, 0, False), T),
    ("report_negative_nl", "active", c.DriveReport(S, 1, -1, False), T),
    # refill
    ("withdraw_negative", "refill", c.RecordWithdrawal(C, -1), T),
    ("withdraw_twice", "refill_withdrawn", c.RecordWithdrawal(C, 0), T),
    ("abort_blank", "refill", c.AbortRefill(C, reason=" "), T),
    ("complete_zero", "refill_withdrawn", c.CompleteRefill(C, 0, 10_000_000), T),
    ("complete_unreconciled", "refill", c.CompleteRefill(C, 1_000_000, 10_000_000), T),
    ("complete_capacity", "refill_withdrawn", c.CompleteRefill(C, 20_000_001, 10_000_000), T),
    (
        "complete_no_program",
        "refill_withdrawn",
        c.CompleteRefill(C, 1_000_000, 25_000_000, overrides=(MAX_CONC,)),
        T,
    ),
    (
        "complete_wrong_program",
        "refill_withdrawn",
        c.CompleteRefill(C, 1_000_000, 25_000_000, program=MORPHINE_PROGRAM, overrides=(MAX_CONC,)),
        T,
    ),
    (
        "complete_drug_not_on_pump",
        "refill_withdrawn",
        c.CompleteRefill(C, 1_000_000, 25_000, drug="ziconotide", program=MORPHINE_PROGRAM),
        T,
    ),
    ("empty_negative", "suspended", c.EmptyReservoir(C, -1), T),
    # MRI
    ("mri_active_prometra", "active", c.BeginMri(C), T),
    ("mri_suspended_full", "suspended", c.BeginMri(C), T),
    ("end_mri_none", "suspended", c.EndMri(C), T),
    ("confirm_mri_none", "suspended", c.ConfirmPostMri(C, reason="r"), T),
    ("confirm_mri_blank", "suspended", c.ConfirmPostMri(C, reason=" "), T),
    (
        "set_program_mismatch",
        "active",
        c.SetProgram(C, dataclasses.replace(MORPHINE_PROGRAM, concentration_ng_per_ml=25_000_000)),
        T,
    ),
    ("clinician_bolus_zero", "active", c.ClinicianBolus(C, dose_ng=0, duration_s=60), T),
    ("clinician_bolus_duration", "active", c.ClinicianBolus(C, dose_ng=1, duration_s=0), T),
    (
        "clinician_bolus_too_big",
        "active",
        c.ClinicianBolus(C, dose_ng=20_000_000, duration_s=600),
        T,
    ),
    ("bolus_two_reasons", "active_nearly_empty", c.ClinicianBolus(C, 20_000_000, 600), T),
    ("empty_unfilled", "suspended_unfilled", c.EmptyReservoir(C, 0), 7 * DAY + 30),
    (
        "clear_empty_unfilled",
        "alarm_unfilled_empty",
        c.ClearAlarm(C, AlarmKind.EMPTY_RESERVOIR, "r"),
        7 * DAY + 20,
    ),
    ("complete_strength", "refill_withdrawn", c.CompleteRefill(C, 1_000_000, 12_000_000), T),
    ("withdraw_unfilled", "refill_unfilled", c.RecordWithdrawal(C, 0), 7 * DAY + 30),
    ("complete_unfilled", "refill_unfilled", c.CompleteRefill(C, 1000, 10_000_000), 7 * DAY + 30),
    (
        "finding_no_reason",
        "refill_finding",
        c.CompleteRefill(C, 1000, 10_000_000, finding_reason=" "),
        T,
    ),
    (
        "finding_long_reason",
        "refill_finding",
        c.CompleteRefill(C, 1000, 10_000_000, finding_reason=LONG),
        T,
    ),
    (
        "long_reason_no_finding",
        "refill_withdrawn",
        c.CompleteRefill(C, 1000, 10_000_000, finding_reason=LONG),
        T,
    ),
    (
        "zic_no_program",
        "refill_withdrawn",
        c.CompleteRefill(C, 1_000_000, 25_000, drug="ziconotide"),
        T,
    ),
    (
        "zic_other_override",
        "refill_withdrawn",
        c.CompleteRefill(
            C, 1_000_000, 25_000, "ziconotide", ZIC, overrides=(c.Override("x", "y"),)
        ),
        T,
    ),
    (
        "no_dead",
        "refill_no_dead",
        c.CompleteRefill(
            C,
            1_000_000,
            25_000_000,
            program=PROG25,
            overrides=(MAX_CONC, c.Override("morphine.pain.bridge_skip", "new catheter")),
        ),
        T,
    ),
    (
        "bridge_skip_any_drug",
        "active",
        c.SetProgram(
            C,
            MORPHINE_PROGRAM,
            overrides=(c.Override("baclofen.spasticity-spinal.bridge_skip", "x"),),
        ),
        T,
    ),
    (
        "same_conc_program_mismatch",
        "refill_withdrawn",
        c.CompleteRefill(C, 1_000_000, 10_000_000, program=PROG25),
        T,
    ),
    (
        "same_conc_program_violation",
        "refill_withdrawn",
        c.CompleteRefill(C, 1_000_000, 10_000_000, program=BIG),
        T,
    ),
    (
        "conc_above_max_overridden_strength",
        "implant_only",
        c.Fill(C, 1_000_000, 20_000_001, (STRENGTH,)),
        7 * DAY + 60,
    ),
]


def _error(lib: Library, setup: str, command: c.Command, at: int) -> tuple[object, ...]:
    d = SETUPS[setup](lib)
    with pytest.raises(DosingError) as e:
        step(d, command, at, lib)
    err = e.value
    return (
        type(err).__name__,
        err.field,
        err.message,
        err.value,
        err.limit,
        getattr(err, "limit_id", None),
        getattr(err, "level", None),
    )


EXPECTED: dict[str, tuple[object, ...]] = {
    "score_high": (
        "InvalidInput",
        "command.baseline_pain",
        "pain score out of range",
        11,
        "0..10",
        None,
        None,
    ),
    "score_low": (
        "InvalidInput",
        "command.baseline_pain",
        "pain score out of range",
        -1,
        "0..10",
        None,
        None,
    ),
    "note_long": (
        "InvalidInput",
        "command.note",
        "is too long",
        None,
        "2000 characters",
        None,
        None,
    ),
    "plan_blank": (
        "RejectedCommand",
        "command.plan",
        "a reason is required",
        None,
        None,
        None,
        None,
    ),
    "plan_long": (
        "InvalidInput",
        "command.plan",
        "is too long",
        None,
        "2000 characters",
        None,
        None,
    ),
    "override_blank": (
        "RejectedCommand",
        "command.overrides[1].reason",
        "a reason is required",
        None,
        None,
        None,
        None,
    ),
    "opioid_status": (
        "InvalidInput",
        "command.opioid_status",
        "expected 'opioid-naive', 'opioid-tolerant' or none",
        "naive",
        None,
        None,
        None,
    ),
    "unapproved": (
        "LimitViolation",
        "command.drug",
        "fentanyl is not approved for intrathecal pumps; selectable only with an override "
        "carrying a reason",
        "fentanyl",
        None,
        "fentanyl.pain.unapproved",
        "soft",
    ),
    "unapproved_other_override": (
        "LimitViolation",
        "command.drug",
        "fentanyl is not approved for intrathecal pumps; selectable only with an override "
        "carrying a reason",
        "fentanyl",
        None,
        "fentanyl.pain.unapproved",
        "soft",
    ),
    "unapproved_blank_override": (
        "RejectedCommand",
        "command.overrides[1].reason",
        "a reason is required",
        None,
        None,
        None,
        None,
    ),
    "dose_zero": (
        "InvalidInput",
        "command.amount_ng",
        "must be greater than zero",
        0,
        None,
        None,
        None,
    ),
    "dose_daily_max": (
        "LimitViolation",
        "command.amount_ng",
        "the trial dose would take the rolling 24 h total above the hard daily maximum",
        "20.000001 mg",
        "20 mg/day",
        "morphine.pain.max_daily",
        "hard",
    ),
    "dose_out_of_range": (
        "LimitViolation",
        "command.amount_ng",
        "trial dose outside the library's trial range",
        "600 mcg",
        "100 mcg - 500 mcg",
        "morphine.pain.trial_bolus_range",
        "soft",
    ),
    "dose_below_range": (
        "LimitViolation",
        "command.amount_ng",
        "trial dose outside the library's trial range",
        "99.999 mcg",
        "100 mcg - 500 mcg",
        "morphine.pain.trial_bolus_range",
        "soft",
    ),
    "dose_other_override": (
        "LimitViolation",
        "command.amount_ng",
        "trial dose outside the library's trial range",
        "600 mcg",
        "100 mcg - 500 mcg",
        "morphine.pain.trial_bolus_range",
        "soft",
    ),
    "scr_positive": (
        "RejectedCommand",
        "command",
        "screening already has a positive response",
        None,
        None,
        None,
        None,
    ),
    "scr_complete": (
        "RejectedCommand",
        "command",
        "screening sequence complete: not a candidate",
        None,
        None,
        None,
        None,
    ),
    "scr_pending": (
        "RejectedCommand",
        "command",
        "record the response to the previous screening dose first",
        None,
        None,
        None,
        None,
    ),
    "scr_wrong_first": (
        "LimitViolation",
        "command.amount_ng",
        "screening dose 1 must be 50 mcg",
        "75 mcg",
        "50 mcg",
        "baclofen.spasticity-spinal.screening_sequence",
        "hard",
    ),
    "scr_wrong_second": (
        "LimitViolation",
        "command.amount_ng",
        "screening dose 2 must be 75 mcg",
        "50 mcg",
        "75 mcg",
        "baclofen.spasticity-spinal.screening_sequence",
        "hard",
    ),
    "scr_spacing": (
        "LimitViolation",
        "now_s",
        "screening doses must be spaced",
        "23 h 59 min 59 s",
        ">= 1 d",
        "baclofen.spasticity-spinal.screening_spacing",
        "hard",
    ),
    "pain_range": (
        "InvalidInput",
        "command.score",
        "pain score out of range",
        11,
        "0..10",
        None,
        None,
    ),
    "pain_baclofen": (
        "RejectedCommand",
        "command",
        "baclofen screening records a response, not a pain score",
        None,
        None,
        None,
        None,
    ),
    "pain_no_dose": (
        "RejectedCommand",
        "command",
        "no trial dose has been given yet",
        None,
        None,
        None,
        None,
    ),
    "resp_not_baclofen": (
        "RejectedCommand",
        "command",
        "only a baclofen screening records a response",
        None,
        None,
        None,
        None,
    ),
    "resp_no_dose": (
        "RejectedCommand",
        "command",
        "no screening dose has been given yet",
        None,
        None,
        None,
        None,
    ),
    "resp_twice": (
        "RejectedCommand",
        "command",
        "the response to this dose is already recorded",
        None,
        None,
        None,
        None,
    ),
    "conclude_blank": (
        "RejectedCommand",
        "command.reason",
        "a reason is required",
        None,
        None,
        None,
        None,
    ),
    "conclude_long": (
        "InvalidInput",
        "command.reason",
        "is too long",
        None,
        "2000 characters",
        None,
        None,
    ),
    "trim_negative": (
        "InvalidInput",
        "command.trimmed_mm",
        "must not be negative",
        -1,
        None,
        None,
        None,
    ),
    "pump_not_approved": (
        "LimitViolation",
        "command.pump",
        "prometra-ii-20 is not approved for ziconotide; only with an override and a reason",
        "prometra-ii-20",
        "morphine, baclofen",
        "prometra-ii-20.approved_drugs",
        "soft",
    ),
    "catheter_mismatch": (
        "RejectedCommand",
        "command.catheter",
        "catheter medtronic-8731sc is not listed for pump prometra-ii-20",
        "medtronic-8731sc",
        "one of synchromed-ii-20, synchromed-ii-40",
        None,
        None,
    ),
    "trim_too_long": (
        "InvalidInput",
        "command.trimmed_mm",
        "must be shorter than the catheter",
        1100,
        "< 110 cm",
        None,
        None,
    ),
    "fill_zero": (
        "InvalidInput",
        "command.volume_nl",
        "must be greater than zero",
        0,
        None,
        None,
        None,
    ),
    "fill_twice": (
        "RejectedCommand",
        "command",
        "the reservoir is already filled; use a refill",
        None,
        None,
        None,
        None,
    ),
    "fill_capacity": (
        "LimitViolation",
        "command.volume_nl",
        "fill exceeds the reservoir capacity",
        "20.000001 mL",
        "20 mL",
        "prometra-ii-20.reservoir",
        "hard",
    ),
    "conc_zero": (
        "InvalidInput",
        "command.concentration_ng_per_ml",
        "must be greater than zero",
        0,
        None,
        None,
        None,
    ),
    "conc_strength": (
        "LimitViolation",
        "command.concentration_ng_per_ml",
        "12 mg/mL is not a product strength of morphine allowed in prometra-ii-20 (a compounded "
        "product needs an override with a reason)",
        12000000,
        "10 mg/mL, 25 mg/mL",
        "morphine.pain.product_concentrations",
        "soft",
    ),
    "conc_max": (
        "LimitViolation",
        "command.concentration_ng_per_ml",
        "above the maximum concentration for morphine",
        30000000,
        "20 mg/mL",
        "morphine.pain.max_concentration",
        "soft",
    ),
    "prime_zero": (
        "InvalidInput",
        "command.duration_s",
        "must be greater than zero",
        0,
        None,
        None,
        None,
    ),
    "prime_long": ("InvalidInput", "command.duration_s", "too long", 86401, "<= 1 d", None, None),
    "suspend_blank": (
        "RejectedCommand",
        "command.reason",
        "a reason is required",
        None,
        None,
        None,
        None,
    ),
    "resume_long": (
        "InvalidInput",
        "command.reason",
        "is too long",
        None,
        "2000 characters",
        None,
        None,
    ),
    "explant_baclofen": (
        "RejectedCommand",
        "command.confirm_withdrawal_risk",
        "stopping baclofen needs an explicit confirmation of the withdrawal risk",
        None,
        None,
        None,
        None,
    ),
    "alarm_detail_long": (
        "InvalidInput",
        "command.detail",
        "is too long",
        None,
        "2000 characters",
        None,
        None,
    ),
    "clear_blank": (
        "RejectedCommand",
        "command.reason",
        "a reason is required",
        None,
        None,
        None,
        None,
    ),
    "clear_inactive": (
        "RejectedCommand",
        "command.kind",
        "that alarm is not active",
        "occlusion",
        None,
        None,
        None,
    ),
    "clear_eos": (
        "RejectedCommand",
        "command.kind",
        "end of service cannot be cleared: the pump must be replaced",
        None,
        None,
        None,
        None,
    ),
    "silence_zero": (
        "InvalidInput",
        "command.duration_s",
        "must be greater than zero",
        0,
        None,
        None,
        None,
    ),
    "silence_inactive": (
        "RejectedCommand",
        "command.kind",
        "that alarm is not active",
        "occlusion",
        None,
        None,
        None,
    ),
    "silence_high": (
        "LimitViolation",
        "command.duration_s",
        "a HIGH alarm cannot be silenced that long",
        "10 min 1 s",
        "10 min",
        "alarm.silence",
        "hard",
    ),
    "silence_low": (
        "LimitViolation",
        "command.duration_s",
        "a LOW alarm cannot be silenced that long",
        "1 d 1 s",
        "1 d",
        "alarm.silence",
        "hard",
    ),
    "tick_short": (
        "InvalidInput",
        "command.max_segment_s",
        "must lie between one hour and one day",
        3599,
        "3600..86400 s",
        None,
        None,
    ),
    "tick_long": (
        "InvalidInput",
        "command.max_segment_s",
        "must lie between one hour and one day",
        86401,
        "3600..86400 s",
        None,
        None,
    ),
    "report_negative_id": (
        "InvalidInput",
        "command.order_id",
        "must not be negative",
        -1,
        None,
        None,
        None,
    ),
    "report_negative_nl": (
        "InvalidInput",
        "command.delivered_nl",
        "must not be negative",
        -1,
        None,
        None,
        None,
    ),
    "withdraw_negative": (
        "InvalidInput",
        "command.withdrawn_nl",
        "must not be negative",
        -1,
        None,
        None,
        None,
    ),
    "withdraw_twice": (
        "RejectedCommand",
        "command",
        "the withdrawal of this refill is already recorded",
        None,
        None,
        None,
        None,
    ),
    "abort_blank": (
        "RejectedCommand",
        "command.reason",
        "a reason is required",
        None,
        None,
        None,
        None,
    ),
    "complete_zero": (
        "InvalidInput",
        "command.added_nl",
        "must be greater than zero",
        0,
        None,
        None,
        None,
    ),
    "complete_unreconciled": (
        "RejectedCommand",
        "command",
        "record the withdrawn residual first (reconciliation)",
        None,
        None,
        None,
        None,
    ),
    "complete_capacity": (
        "LimitViolation",
        "command.added_nl",
        "the added volume exceeds the reservoir capacity",
        "20.000001 mL",
        "20 mL",
        "prometra-ii-20.reservoir",
        "hard",
    ),
    "complete_no_program": (
        "RejectedCommand",
        "command.program",
        "a concentration or drug change needs a new program",
        None,
        None,
        None,
        None,
    ),
    "complete_wrong_program": (
        "RejectedCommand",
        "command.program",
        "the program must be for the drug and concentration filled",
        None,
        None,
        None,
        None,
    ),
    "complete_drug_not_on_pump": (
        "LimitViolation",
        "command.drug",
        "prometra-ii-20 is not labelled for ziconotide",
        "ziconotide",
        None,
        "prometra-ii-20.approved_drugs",
        "soft",
    ),
    "empty_negative": (
        "InvalidInput",
        "command.withdrawn_nl",
        "must not be negative",
        -1,
        None,
        None,
        None,
    ),
    "mri_active_prometra": (
        "RejectedCommand",
        "command",
        "a planned MRI of this pump needs an empty reservoir and zero rate: suspend and empty the "
        "reservoir first (or record an emergency scan with a reason)",
        "19.766 mL",
        None,
        None,
        None,
    ),
    "mri_suspended_full": (
        "RejectedCommand",
        "command",
        "a planned MRI of this pump needs an empty reservoir and zero rate: suspend and empty the "
        "reservoir first (or record an emergency scan with a reason)",
        "19.766 mL",
        None,
        None,
        None,
    ),
    "end_mri_none": ("RejectedCommand", "command", "no MRI is in progress", None, None, None, None),
    "confirm_mri_none": (
        "RejectedCommand",
        "command",
        "no MRI awaits its post-MRI confirmation",
        None,
        None,
        None,
        None,
    ),
    "confirm_mri_blank": (
        "RejectedCommand",
        "command.reason",
        "a reason is required",
        None,
        None,
        None,
        None,
    ),
    "set_program_mismatch": (
        "RejectedCommand",
        "command.program",
        "the program must match the drug, indication and concentration in the reservoir (a "
        "concentration change happens at a refill)",
        None,
        None,
        None,
        None,
    ),
    "clinician_bolus_zero": (
        "InvalidInput",
        "command.dose_ng",
        "must be greater than zero",
        0,
        None,
        None,
        None,
    ),
    "clinician_bolus_duration": (
        "InvalidInput",
        "command.duration_s",
        "must be greater than zero",
        0,
        None,
        None,
        None,
    ),
    "clinician_bolus_too_big": (
        "LimitViolation",
        "command.dose_ng",
        "the bolus does not fit (daily_cap)",
        "20 mg",
        "20 mg/day",
        "morphine.pain.max_daily",
        "hard",
    ),
    "withdraw_unfilled": (
        "RejectedCommand",
        "command",
        "the reservoir was never filled: nothing to withdraw",
        None,
        None,
        None,
        None,
    ),
    "complete_unfilled": (
        "RejectedCommand",
        "command",
        "the reservoir was never filled: abort the refill and use the initial fill",
        None,
        None,
        None,
        None,
    ),
    "finding_no_reason": (
        "RejectedCommand",
        "command.finding_reason",
        "the refill has a finding (over-infusion): a clinician must acknowledge it with a reason "
        "before the refill completes",
        None,
        None,
        None,
        None,
    ),
    "finding_long_reason": (
        "InvalidInput",
        "command.finding_reason",
        "is too long",
        None,
        "2000 characters",
        None,
        None,
    ),
    "long_reason_no_finding": (
        "InvalidInput",
        "command.finding_reason",
        "is too long",
        None,
        "2000 characters",
        None,
        None,
    ),
    "zic_no_program": (
        "RejectedCommand",
        "command.program",
        "a concentration or drug change needs a new program",
        None,
        None,
        None,
        None,
    ),
    "zic_other_override": (
        "LimitViolation",
        "command.drug",
        "prometra-ii-20 is not labelled for ziconotide",
        "ziconotide",
        None,
        "prometra-ii-20.approved_drugs",
        "soft",
    ),
    "no_dead": (
        "RejectedCommand",
        "command.overrides[1].limit_id",
        "there is no bridge to skip: the fluid path is tracked, so the old drug in the catheter "
        "is always delivered at the programmed dose (REQ-TIP-003)",
        None,
        None,
        None,
        None,
    ),
    "bridge_skip_any_drug": (
        "RejectedCommand",
        "command.overrides[0].limit_id",
        "there is no bridge to skip: the fluid path is tracked, so the old drug in the catheter "
        "is always delivered at the programmed dose (REQ-TIP-003)",
        None,
        None,
        None,
        None,
    ),
    "same_conc_program_mismatch": (
        "RejectedCommand",
        "command.program",
        "the program must be for the drug and concentration filled",
        None,
        None,
        None,
        None,
    ),
    "same_conc_program_violation": (
        "LimitViolation",
        "command.program.worst_case_daily",
        "worst-case daily total above the soft maximum",
        "19 mg/day",
        "15 mg/day",
        "morphine.pain.soft_max_daily",
        "soft",
    ),
    "conc_above_max_overridden_strength": (
        "LimitViolation",
        "command.concentration_ng_per_ml",
        "above the maximum concentration for morphine",
        20000001,
        "20 mg/mL",
        "morphine.pain.max_concentration",
        "soft",
    ),
    "bolus_two_reasons": (
        "LimitViolation",
        "command.dose_ng",
        "the bolus does not fit (daily_cap, reservoir)",
        "20 mg",
        "20 mg/day",
        "morphine.pain.max_daily",
        "hard",
    ),
    "empty_unfilled": (
        "RejectedCommand",
        "command",
        "the reservoir was never filled",
        None,
        None,
        None,
        None,
    ),
    "clear_empty_unfilled": (
        "RejectedCommand",
        "command.kind",
        "the reservoir is still at or below the empty threshold: refill first",
        "0 mL",
        "> 0.5 mL",
        None,
        None,
    ),
    "complete_strength": (
        "LimitViolation",
        "command.concentration_ng_per_ml",
        "12 mg/mL is not a product strength of morphine allowed in prometra-ii-20 (a "
        "compounded product needs an override with a reason)",
        12_000_000,
        "10 mg/mL, 25 mg/mL",
        "morphine.pain.product_concentrations",
        "soft",
    ),
}
"""(error type, field, message, value, limit, limit_id, level) of each case."""


@pytest.mark.parametrize(("name", "setup", "command", "at"), CASES, ids=[k[0] for k in CASES])
def test_validator_rejections_are_exact(
    library: Library, name: str, setup: str, command: c.Command, at: int
) -> None:
    """Each rejection names the field, the rule, the value and the limit; limits carry their id
    and level (REQ-CORE-002, REQ-LIB-004, REQ-TRIAL-001, REQ-BACL-004, REQ-ALM-004,
    REQ-REF-001, REQ-MRI-004)."""
    assert _error(library, setup, command, at) == EXPECTED[name]


# --- handlers: exact data and effects ----------------------------------------------------------


def _after(lib: Library, setup: str | Device, command: c.Command, at: int) -> tuple[Device, tuple]:
    d = SETUPS[setup](lib) if isinstance(setup, str) else setup
    out = step(d, command, at, lib)
    return out.device, out.effects[1:]


def test_describe_skips_role_and_empty_values() -> None:
    """The audit detail lists every parameter but the role and empty ones (REQ-PERS-001)."""
    assert describe(c.Suspend(C, "r")) == "reason=r confirm_withdrawal_risk=False"
    assert describe(c.SetProgram(C, MORPHINE_PROGRAM)) == (
        "program=morphine 10 mg/mL basal 1 mg/day bolus 100 mcg x4 confirm_withdrawal_risk=False"
    )
    no_bolus = dataclasses.replace(MORPHINE_PROGRAM, patient_bolus=None)
    assert describe(c.SetProgram(C, no_bolus, utc_now_s=5)) == (
        "program=morphine 10 mg/mL basal 1 mg/day confirm_withdrawal_risk=False utc_now_s=5"
    )
    assert describe(c.Tick(S)) == "max_segment_s=3600"
    assert describe(c.RaiseAlarm(S, AlarmKind.OCCLUSION)) == "kind=occlusion"
    assert describe(c.ConcludeTrial(C)) == ""
    assert describe(c.RecordScreening(C, False, 0)) == "candidate=False baseline_pain=0"
    assert describe(c.StartTrial(C, "m", "p", "x", overrides=(c.Override("a", "b"),))) == (
        "drug=m indication=p plan=x overrides=(Override(limit_id='a', reason='b'),)"
    )


def test_record_screening_and_trial_data(library: Library) -> None:
    """Screening, trial start, doses, pain, response and conclusion are recorded exactly
    (REQ-TRIAL-001, REQ-BACL-005)."""
    d = step(Device(), c.RecordScreening(C, True, 7, "note"), 5, library).device
    assert d.screening == Screening(5, True, 7, "note")
    fent = c.StartTrial(
        C,
        "fentanyl",
        "pain",
        "p",
        "opioid-naive",
        overrides=(c.Override("fentanyl.pain.unapproved", "r"),),
    )
    d, effects = _after(library, d, fent, 60)
    assert d.trial == Trial("fentanyl", "pain", "p", 7, "opioid-naive")
    entry = library.drug("fentanyl", "pain")
    assert entry.warning is not None
    assert effects == (Warn("unapproved_drug", entry.warning.text),)
    d, effects = _after(library, "screened", c.StartTrial(C, *BACLOFEN, "p"), 60)
    assert effects == ()
    assert d.trial == Trial(*BACLOFEN, "p", 8, None, (50_000, 75_000, 100_000))
    d, effects = _after(library, "trial", c.RecordTrialDose(C, amount_ng=200_000), 600)
    assert effects == ()
    assert d.trial is not None
    assert d.trial.doses == (TrialDose(120, 300_000), TrialDose(600, 200_000))
    assert d.delivered_ng == 500_000
    assert d.ledger.window_total_ng(600) == 500_000
    d, _ = _after(library, d, c.RecordPainScore(C, score=4), 700)
    assert d.trial is not None and d.trial.last_pain == 4
    d, _ = _after(library, d, c.ConcludeTrial(C, TrialOutcome.SUCCESS, "better walk"), 800)
    assert d.trial is not None
    assert (d.trial.outcome, d.trial.outcome_reason) == (TrialOutcome.SUCCESS, "better walk")


def test_screening_response_sets_the_effective_dose(library: Library) -> None:
    """A positive response makes the last dose effective; a negative keeps it; a new dose
    clears the response (REQ-BACL-005)."""
    d = SETUPS["bacl1n"](library)
    assert d.trial is not None
    assert (d.trial.response, d.trial.effective_dose_ng) == (False, None)
    d, _ = _after(library, d, c.RecordTrialDose(C, amount_ng=75_000), 2 * DAY)
    assert d.trial is not None and d.trial.response is None
    d, _ = _after(library, d, c.RecordScreeningResponse(C, positive=True), 2 * DAY + HOUR)
    assert d.trial is not None
    assert (d.trial.response, d.trial.effective_dose_ng) == (True, 75_000)


def test_implant_records_the_system_and_dead_volume(library: Library) -> None:
    """The implant fixes the dead volume; without volume data it warns (REQ-PRIME-001)."""
    cmd = c.Implant(C, "prometra-ii-20", "prometra-catheter", 200)
    d, effects = _after(library, "ready", cmd, DAY)
    assert effects == ()
    assert d.implant == ImplantedSystem("prometra-ii-20", "prometra-catheter", 200, DAY, 234_000)
    cmd = c.Implant(C, "synchromed-ii-20", "medtronic-8731sc", 0)
    d, effects = _after(library, "ready", cmd, DAY)
    assert d.implant == ImplantedSystem("synchromed-ii-20", "medtronic-8731sc", 0, DAY, None)
    assert effects == (
        Warn(
            "dead_volume_unknown",
            "The library lacks the volume data of synchromed-ii-20 or medtronic-8731sc: the "
            "dead volume cannot be computed, so priming is refused until the library provides "
            "it.",
        ),
    )


def test_fill_records_the_reservoir(library: Library) -> None:
    """The fill sets the reservoir and the last fill volume (REQ-RES-001)."""
    d, effects = _after(library, "implant_only", c.Fill(C, 1_000_000, 10_000_000), 7 * DAY + 60)
    assert effects == ()
    assert d.reservoir == Reservoir("morphine", "pain", 10_000_000, 1_000_000)
    assert d.last_fill_nl == 1_000_000


def test_raise_alarm_effects(library: Library) -> None:
    """Annunciation at the priority, the baclofen withdrawal warning for the alarms that stop
    delivery, no duplicate alarm (REQ-ALM-001, REQ-ALM-002, REQ-BACL-002)."""
    withdrawal = Warn("withdrawal_risk", WITHDRAWAL_TEXT)
    for kind, warns in (
        (AlarmKind.MOTOR_STALL, True),
        (AlarmKind.EMPTY_RESERVOIR, True),
        (AlarmKind.END_OF_SERVICE, True),
        (AlarmKind.OCCLUSION, False),
        (AlarmKind.LOW_RESERVOIR, False),
    ):
        d, effects = _after(library, "bacl_implanted", c.RaiseAlarm(S, kind, "det"), 4 * DAY)
        assert effects == (Annunciate(kind, priority_of(kind)), *((withdrawal,) if warns else ()))
        assert d.alarms == (ActiveAlarm(kind, 4 * DAY, "det"),)
    d, effects = _after(library, "alarm", c.RaiseAlarm(S, AlarmKind.MOTOR_STALL, "again"), T)
    assert effects == (Annunciate(AlarmKind.MOTOR_STALL, Priority.HIGH),)
    assert d.alarms == (ActiveAlarm(AlarmKind.MOTOR_STALL, 8 * DAY),)
    d, effects = _after(library, "active", c.RaiseAlarm(S, AlarmKind.MOTOR_STALL), T)
    assert effects == (
        StopDelivery("raise_alarm: active -> alarm"),
        Annunciate(AlarmKind.MOTOR_STALL, Priority.HIGH),
    )
    assert d.eos_at_s is None


def test_eri_sets_the_end_of_service_once(library: Library) -> None:
    """ERI on a pump with a known ERI-to-EOS interval sets the end of service once
    (REQ-BATT-001)."""
    slib = synchromed_library(library)
    d = synchromed_active(slib)
    d, effects = _after(slib, d, c.RaiseAlarm(S, AlarmKind.ERI, "battery"), T)
    assert d.eos_at_s == T + 7_776_000 == 8_470_800
    assert effects == (
        Annunciate(AlarmKind.ERI, Priority.LOW),
        Warn("end_of_service", "end of service expected at t=8470800 s"),
    )
    d, effects = _after(slib, d, c.RaiseAlarm(S, AlarmKind.ERI, "again"), T + 10)
    assert d.eos_at_s == 8_470_800
    assert effects == (Annunciate(AlarmKind.ERI, Priority.LOW),)
    d, effects = _after(library, "active", c.RaiseAlarm(S, AlarmKind.ERI), T)
    assert d.eos_at_s is None
    assert effects == (Annunciate(AlarmKind.ERI, Priority.LOW),)


def test_clinician_bolus_order(library: Library) -> None:
    """A clinician bolus becomes one order of the granted volume, carrying the basal due during
    it; with no basal order in flight nothing is cancelled (REQ-BOL-001, REQ-TIP-002)."""
    d, effects = _after(library, "active", c.ClinicianBolus(C, 100_000, 600), T)
    # 0.1 mg at 10 mg/mL = 10 uL; the basal of 1 mg/day (100 uL/day) over 600 s, whole nL down
    basal_nl = 100_000 * 600 // DAY
    assert basal_nl == 694
    order = Order(2, DeliveryKind.CLINICIAN_BOLUS, T, T + 600, 10_000 + basal_nl)
    assert d.orders == (order,)
    assert d.next_order_id == 3
    assert d.basal_until_s == T + 600
    assert effects[0] == DeliveryOrder(2, "clinician_bolus", 10_694, 600, basal_nl=694)
    assert isinstance(effects[1], Projection) and len(effects) == 2


def _fig(f: ProgramFigures | None) -> tuple[int, int, int]:
    assert f is not None
    return (f.basal_daily_ng, f.worst_case_daily_ng, f.volume_rate_nl_per_day)


def test_reconcile_boundaries_and_rounding() -> None:
    """Reconciliation: over above +tolerance, under below -tolerance, each with its own
    tolerance; the deviation in basis points rounds toward zero (REQ-REF-001)."""

    def rec(withdrawn: int, fill: int = 10_000, residual: int = 5_000) -> tuple[str, int]:
        return reconcile(
            last_fill_nl=fill,
            expected_residual_nl=residual,
            withdrawn_nl=withdrawn,
            over_bp=1000,
            under_bp=2000,
        )

    assert rec(5_000) == ("", 0)
    assert rec(4_500) == ("", 1000)
    assert rec(4_499) == ("over-infusion", 1002)
    assert rec(6_000) == ("", -2000)
    assert rec(6_001) == ("under-infusion", -2002)
    assert rec(5_003) == ("", -6)
    assert rec(1, fill=3, residual=0) == ("under-infusion", -3333)
    assert rec(1, fill=1, residual=0) == ("under-infusion", -10_000)
    assert rec(0, fill=3, residual=1) == ("over-infusion", 5000)
    # nothing expected to be delivered: any difference is a finding, without a percentage
    assert rec(999, fill=1_000, residual=1_000) == ("over-infusion", 0)
    assert rec(1_001, fill=1_000, residual=1_000) == ("under-infusion", 0)
    assert rec(1_000, fill=1_000, residual=1_000) == ("", 0)
    assert rec(1_001, fill=1_000, residual=1_001) == ("", 0)
    assert rec(1_000, fill=1_000, residual=1_001) == ("over-infusion", 0)


def test_withdrawal_records_the_finding(library: Library) -> None:
    """The withdrawal empties the reservoir, records the finding and its deviation, raises the
    MEDIUM refill-finding alarm and warns with the signed deviation (REQ-REF-001)."""
    r = SETUPS["refill"](library)
    assert r.refill is not None and r.reservoir is not None
    exp = r.refill.expected_residual_nl
    assert exp == 19_766_000 == r.reservoir.volume_nl
    assert r.resume_after_refill is True
    alarm = ActiveAlarm(AlarmKind.REFILL_FINDING, T)
    annunciate = Annunciate(AlarmKind.REFILL_FINDING, Priority.MEDIUM)
    for withdrawn, finding, dev, text in (
        (exp - 3_000_000, "over-infusion", 128_205, "over-infusion: deviation +1282.05 %"),
        (exp + 3_000_000, "under-infusion", -128_205, "under-infusion: deviation -1282.05 %"),
    ):
        d, effects = _after(library, r, c.RecordWithdrawal(C, withdrawn), T)
        assert d.refill == RefillSession(exp, withdrawn, finding, dev)
        assert d.reservoir == Reservoir("morphine", "pain", 10_000_000, 0)
        assert d.alarms == (alarm,)
        assert effects == (annunciate, Warn("refill_finding", text))
    for withdrawn, dev in ((exp, 0), (exp + 1_001, -42), (exp - 1_001, 42)):
        d, effects = _after(library, r, c.RecordWithdrawal(C, withdrawn), T)
        assert d.refill == RefillSession(exp, withdrawn, "", dev)
        assert effects == () and d.alarms == ()
    # nothing was expected to be delivered since the fill: a deviation of 0 is shown as +0
    r0 = dataclasses.replace(r, last_fill_nl=exp)
    d, effects = _after(library, r0, c.RecordWithdrawal(C, exp - 1), T)
    assert d.refill == RefillSession(exp, exp - 1, "over-infusion", 0)
    assert effects == (annunciate, Warn("refill_finding", "over-infusion: deviation +0 %"))


def test_begin_refill_remembers_where_it_began(library: Library) -> None:
    """The expected residual is the tracked volume; dosing resumes only if it was dosing
    (REQ-REF-004)."""
    d, effects = _after(library, "suspended", c.BeginRefill(C), T)
    assert effects == ()
    assert d.refill == RefillSession(19_766_000)
    assert d.resume_after_refill is False
    d, _ = _after(library, "active", c.BeginRefill(C), T)
    assert d.resume_after_refill is True
    assert d.refill == RefillSession(19_766_000)
    d, _ = _after(library, d, c.AbortRefill(C, reason="no needle access"), T + 1)
    assert d.resume_after_refill is False
    assert d.phase is Phase.SUSPENDED


def test_complete_refill_same_drug(library: Library) -> None:
    """Completion installs the new reservoir, clears the low-reservoir and finding alarms only,
    and keeps the program (REQ-REF-003)."""
    r = SETUPS["refill_withdrawn"](library)
    r = run([(c.RaiseAlarm(S, AlarmKind.ERI), T - 30)], library, r)
    r = dataclasses.replace(
        r,
        alarms=(
            ActiveAlarm(AlarmKind.LOW_RESERVOIR, T - 50),
            *r.alarms,
            ActiveAlarm(AlarmKind.REFILL_FINDING, T - 20),
        ),
    )
    d, effects = _after(
        library, r, c.CompleteRefill(C, 10_000_000, 10_000_000, None, None, "ok"), T
    )
    assert d.reservoir == Reservoir("morphine", "pain", 10_000_000, 10_000_000)
    assert d.last_fill_nl == 10_000_000
    assert d.alarms == (ActiveAlarm(AlarmKind.ERI, T - 30),)
    assert (d.resume_after_refill, d.refill) == (False, None)
    assert (d.path, d.flush_doses, d.other_ledgers, d.ledger) == (r.path, (), (), r.ledger)
    assert d.program == r.program and d.program_start_s == r.program_start_s
    assert d.phase is Phase.ACTIVE
    assert len(effects) == 1 and isinstance(effects[0], Projection)


def test_complete_refill_new_concentration_shows_when_it_reaches_the_tip(
    library: Library,
) -> None:
    """A concentration change installs the new program; the path still holds the old fluid
    (delivered first, at the programmed dose), and the clinician is shown when the new fluid
    reaches the tip and the volume rates before and after: 234 000 nL of 10 mg/mL at 1 mg/day
    take ceil(2.34 mg / 1 mg/day) = 202 176 s, at 100 000 nL/day, then 40 000 nL/day
    (REQ-TIP-003)."""
    r = SETUPS["refill_withdrawn"](library)
    assert r.path == FluidPath((Segment(234_000, "morphine", 10_000_000),))
    cmd = c.CompleteRefill(
        C, 10_000_000, 25_000_000, program=PROG25, overrides=(MAX_CONC,), utc_now_s=1000
    )
    d, effects = _after(library, r, cmd, T)
    assert d.reservoir == Reservoir("morphine", "pain", 25_000_000, 10_000_000)
    assert d.path == r.path
    assert (d.flush_doses, d.other_ledgers, d.ledger) == ((), (), r.ledger)
    assert d.program == PROG25
    assert (d.program_start_s, d.basal_until_s, d.basal_carry) == (T, T, 0)
    assert d.utc_minus_mono_s == 1000 - T
    assert effects[0] == TipChange(T + 202_176, 100_000, 40_000)
    assert isinstance(effects[1], Projection) and len(effects) == 2
    # no path to flush: the new fluid is at the tip now, nothing to show
    empty = dataclasses.replace(
        r,
        implant=dataclasses.replace(r.implant, dead_volume_nl=0),
        path=FluidPath.empty(0),
    )
    d, effects = _after(library, empty, cmd, T)
    assert d.path == FluidPath(())
    assert len(effects) == 1 and isinstance(effects[0], Projection)
    # a zero rate never brings the new fluid to the tip
    stopped = dataclasses.replace(PROG25, basal=Basal.continuous(0), patient_bolus=None)
    d, effects = _after(library, r, dataclasses.replace(cmd, program=stopped), T)
    assert effects[0] == TipChange(None, 0, 0)
    # a bridge-skip override, for this drug or another, is refused and changes nothing
    for limit_id in ("morphine.pain.bridge_skip", "baclofen.spasticity-spinal.bridge_skip"):
        skip = c.Override(limit_id, "new catheter")
        with pytest.raises(RejectedCommand) as e:
            step(r, dataclasses.replace(cmd, overrides=(MAX_CONC, skip)), T, library)
        assert e.value.field == "command.overrides[1].limit_id"


def test_set_program_effects_and_titration_record(library: Library) -> None:
    """Reprogramming shows old and new figures side by side, cancels the basal order (not a
    bolus), records an increase and drops increases older than 7 days (REQ-DOSE-005,
    REQ-TITR-001)."""
    a = SETUPS["active"](library)
    a = run([(c.Tick(S), T - 600), (c.ClinicianBolus(C, 100_000, 600), T - 500)], library, a)
    kinds = [(o.id, o.kind) for o in a.orders]
    assert kinds == [(2, DeliveryKind.BASAL), (3, DeliveryKind.CLINICIAN_BOLUS)]
    second_basal = dataclasses.replace(a.orders[0], id=4)
    old = Increase(T - 7 * DAY, 1, 2)
    kept = Increase(T - 7 * DAY + 1, 2, 3)
    a = dataclasses.replace(
        a, orders=(*a.orders, second_basal), next_order_id=5, increases=(old, kept)
    )
    prog = dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(1_200_001))
    d, effects = _after(library, a, c.SetProgram(C, prog, utc_now_s=1_700_000_000), T)
    assert d.increases == (kept, Increase(T, 1_000_000, 1_200_001))
    assert d.utc_minus_mono_s == 1_700_000_000 - T
    assert (d.program, d.program_start_s, d.basal_until_s, d.basal_carry) == (prog, T, T, 0)
    comparison = effects[0]
    assert isinstance(comparison, ProgramComparison)
    assert comparison.previous is not None
    assert _fig(comparison.previous) == (1_000_000, 1_400_000, 100_000)
    assert _fig(comparison.new) == (1_200_001, 1_600_001, 120_001)
    assert effects[1:3] == (
        CancelOrder(2, "program changed"),
        CancelOrder(4, "program changed"),
    )
    assert isinstance(effects[3], Projection) and len(effects) == 4
    assert comparison.new.low_reservoir_at_s == effects[3].low_reservoir_at_s
    # a decrease records no increase; without utc_now_s the offset is kept
    lower = dataclasses.replace(
        MORPHINE_PROGRAM, basal=Basal.continuous(900_000), patient_bolus=None
    )
    d2, effects = _after(library, d, c.SetProgram(C, lower), T + 10)
    assert d2.increases == (Increase(T, 1_000_000, 1_200_001),)  # the 7-day-old one drops
    assert d2.utc_minus_mono_s == 1_700_000_000 - T
    assert isinstance(effects[0], ProgramComparison)
    assert _fig(effects[0].new) == (900_000, 900_000, 90_000)
    same = step(d2, c.SetProgram(C, lower), T + 20, library).device
    assert same.increases == d2.increases


def test_first_program_has_no_previous_figures(library: Library) -> None:
    """The first program has nothing to compare with (REQ-DOSE-005)."""
    d, effects = _after(library, "implanted", c.SetProgram(C, MORPHINE_PROGRAM), 7 * DAY + 90)
    assert isinstance(effects[0], ProgramComparison)
    assert effects[0].previous is None
    assert _fig(effects[0].new) == (1_000_000, 1_400_000, 100_000)
    assert d.increases == ()
    assert d.utc_minus_mono_s == 0


def test_program_violations_are_reported_together(library: Library) -> None:
    """The first open violation is raised, the others listed; an overridden soft limit is not
    open (REQ-DOSE-003, REQ-LIB-004)."""
    a = SETUPS["active"](library)
    big = dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(25_000_000))
    with pytest.raises(LimitViolation) as e:
        step(a, c.SetProgram(C, big), T, library)
    assert (e.value.field, e.value.message, e.value.value, e.value.limit) == (
        "command.program.worst_case_daily",
        "worst-case daily total (basal + every allowed bolus) above the maximum (also: "
        "morphine.pain.soft_max_daily: worst-case daily total above the soft maximum)",
        "25.4 mg/day",
        "20 mg/day",
    )
    assert (e.value.limit_id, e.value.level) == ("morphine.pain.max_daily", "hard")
    soft = dataclasses.replace(
        MORPHINE_PROGRAM, basal=Basal.continuous(19_000_000), patient_bolus=None
    )
    with pytest.raises(LimitViolation) as e:
        step(a, c.SetProgram(C, soft), T, library)
    assert (e.value.field, e.value.message, e.value.value, e.value.limit) == (
        "command.program.worst_case_daily",
        "worst-case daily total above the soft maximum",
        "19 mg/day",
        "15 mg/day",
    )
    assert (e.value.limit_id, e.value.level) == ("morphine.pain.soft_max_daily", "soft")
    ok = c.Override("morphine.pain.soft_max_daily", "palliative")
    assert step(a, c.SetProgram(C, soft, overrides=(ok,)), T, library).device.program == soft


def test_start_and_resume_dosing(library: Library) -> None:
    """Starting dosing starts the program's cycles now; resuming keeps them (REQ-DOSE-001)."""
    p = reach(Phase.PRIMING, library)
    p = run([(c.DriveReport(S, 1, 234_000, True), 7 * DAY + 600)], library, p)
    d, effects = _after(library, p, c.StartDosing(C), 7 * DAY + 700)
    assert (d.program_start_s, d.basal_until_s) == (7 * DAY + 700, 7 * DAY + 700)
    assert len(effects) == 1 and isinstance(effects[0], Projection)
    s = SETUPS["suspended"](library)
    d, effects = _after(library, s, c.Resume(C, reason="ok"), T)
    assert (d.program_start_s, d.basal_until_s) == (7 * DAY + 700, T)
    assert len(effects) == 1 and isinstance(effects[0], Projection)


def _exact(err: pytest.ExceptionInfo[DosingError]) -> tuple[object, ...]:
    e = err.value
    return (type(e).__name__, e.field, e.message, e.value, e.limit)


def test_synchromed_mri_session(library: Library) -> None:
    """The MRI session records the policy, the start, the alarms and whether it was dosing;
    its end raises the post-MRI verification and resumes the basal now; the confirmation
    clears both (REQ-MRI-001, REQ-MRI-002, REQ-MRI-003)."""
    slib = synchromed_library(library)
    sa = synchromed_active(slib)
    d, effects = _after(slib, sa, c.BeginMri(C), T)
    assert effects == (StopDelivery("begin_mri: active -> suspended"),)
    assert d.mri == MriSession(MriPolicy.SUSPEND_VERIFY, T, False, True)
    with pytest.raises(RejectedCommand) as e:
        step(d, c.BeginMri(C), T + 1, slib)
    assert _exact(e) == (
        "RejectedCommand",
        "command",
        "an MRI is already in progress or awaiting confirmation",
        None,
        None,
    )
    d, effects = _after(slib, d, c.EndMri(C), T + 100)
    assert effects == (Annunciate(AlarmKind.POST_MRI_VERIFICATION, Priority.MEDIUM),)
    assert d.mri == MriSession(MriPolicy.SUSPEND_VERIFY, T, False, True, T + 100)
    assert d.alarms == (ActiveAlarm(AlarmKind.POST_MRI_VERIFICATION, T + 100),)
    assert (d.phase, d.basal_until_s) == (Phase.ACTIVE, T + 100)
    with pytest.raises(RejectedCommand) as e:
        step(d, c.BeginMri(C), T + 150, slib)
    assert e.value.message == "an MRI is already in progress or awaiting confirmation"
    d, effects = _after(slib, d, c.ConfirmPostMri(C, "checked"), T + 200)
    assert (d.mri, d.alarms, effects) == (None, (), ())
    # an alarm at the start keeps it stopped and the basal segment where it was
    al = run([(c.RaiseAlarm(S, AlarmKind.LOW_RESERVOIR), T - 10)], slib, sa)
    d, _ = _after(slib, al, c.BeginMri(C), T)
    assert d.mri == MriSession(MriPolicy.SUSPEND_VERIFY, T, True, True)
    until = d.basal_until_s
    d, _ = _after(slib, d, c.EndMri(C), T + 100)
    assert (d.phase, d.basal_until_s) == (Phase.SUSPENDED, until)
    assert until != T + 100
    with pytest.raises(RejectedCommand) as e:
        step(d, c.EndMri(C), T + 101, slib)
    assert _exact(e) == ("RejectedCommand", "command", "no MRI is in progress", None, None)


def test_mri_refusals(library: Library) -> None:
    """Prometra I refuses MRI; a SynchroMed at zero rate is no preparation; a Prometra II
    needs an empty reservoir and no dosing (REQ-MRI-004, REQ-MRI-005)."""
    slib = synchromed_library(library)
    sa = synchromed_active(slib)
    zero = dataclasses.replace(
        sa, program=dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(0))
    )
    with pytest.raises(RejectedCommand) as e:
        step(zero, c.BeginMri(C), T, slib)
    assert _exact(e) == (
        "RejectedCommand",
        "command",
        "a stopped pump (zero rate) as MRI preparation is rejected: it delays the detection "
        "of an extended motor stall",
        None,
        None,
    )
    s = SETUPS["suspended"](library)
    assert s.implant is not None
    pr1 = dataclasses.replace(s, implant=dataclasses.replace(s.implant, pump="prometra-20"))
    with pytest.raises(RejectedCommand) as e:
        step(pr1, c.BeginMri(C), T, library)
    assert _exact(e) == (
        "RejectedCommand",
        "command",
        "prometra-20 is MR unsafe: MRI refused",
        None,
        None,
    )
    empty = run([(c.EmptyReservoir(C, 19_000_000), T)], library, s)
    assert empty.reservoir is not None and empty.reservoir.volume_nl == 0
    d, effects = _after(library, empty, c.BeginMri(C), T + 1)
    assert effects == ()
    assert d.mri == MriSession(MriPolicy.EMPTY_AND_RESET, T + 1, False, False)
    nearly = dataclasses.replace(empty, reservoir=dataclasses.replace(s.reservoir, volume_nl=1))
    with pytest.raises(RejectedCommand) as e:
        step(nearly, c.BeginMri(C), T + 1, library)
    assert e.value.value == "0.000001 mL"


def test_clear_empty_reservoir_needs_volume_above_threshold(library: Library) -> None:
    """The empty-reservoir alarm clears only above the empty threshold (REQ-RES-002)."""
    se = SETUPS["suspended_empty"](library)
    assert se.reservoir is not None
    cmd = c.ClearAlarm(C, AlarmKind.EMPTY_RESERVOIR, "refilled")
    at = dataclasses.replace(se, reservoir=dataclasses.replace(se.reservoir, volume_nl=500_000))
    with pytest.raises(RejectedCommand) as e:
        step(at, cmd, T, library)
    assert _exact(e) == (
        "RejectedCommand",
        "command.kind",
        "the reservoir is still at or below the empty threshold: refill first",
        "0.5 mL",
        "> 0.5 mL",
    )
    above = dataclasses.replace(at, reservoir=dataclasses.replace(se.reservoir, volume_nl=500_001))
    d, effects = _after(library, above, cmd, T)
    assert (d.phase, d.alarms, effects) == (Phase.SUSPENDED, (), ())


def test_silence_and_clear_touch_only_their_alarm(library: Library) -> None:
    """Silencing sets the silence end of that alarm only; clearing removes that alarm only
    (REQ-ALM-004, REQ-ALM-005)."""
    d = run(
        [(c.RaiseAlarm(S, AlarmKind.OCCLUSION), T - 10), (c.RaiseAlarm(S, AlarmKind.ERI), T - 5)],
        library,
        SETUPS["alarm"](library),
    )
    d2, effects = _after(library, d, c.SilenceAlarm(P, AlarmKind.OCCLUSION, 600), T)
    assert effects == ()
    assert d2.alarms == (
        ActiveAlarm(AlarmKind.MOTOR_STALL, 8 * DAY),
        ActiveAlarm(AlarmKind.OCCLUSION, T - 10, "", T + 600, T, 1),
        ActiveAlarm(AlarmKind.ERI, T - 5),
    )
    d3, _ = _after(library, d, c.SilenceAlarm(C, AlarmKind.ERI, 86_400), T)
    assert d3.alarms[2] == ActiveAlarm(AlarmKind.ERI, T - 5, "", T + 86_400, T, 0)
    d4, effects = _after(library, d, c.ClearAlarm(C, AlarmKind.OCCLUSION, "flushed"), T)
    assert effects == ()
    assert d4.alarms == (
        ActiveAlarm(AlarmKind.MOTOR_STALL, 8 * DAY),
        ActiveAlarm(AlarmKind.ERI, T - 5),
    )
    assert d4.phase is Phase.ALARM


def test_empty_reservoir_waits_for_reports(library: Library) -> None:
    """The reservoir is emptied only when no delivery is outstanding (REQ-MRI-004)."""
    a = run(
        [(c.Tick(S), T - 600), (c.Suspend(C, "MRI"), T - 500)], library, SETUPS["active"](library)
    )
    assert len(a.orders) == 1
    with pytest.raises(RejectedCommand) as e:
        step(a, c.EmptyReservoir(C, 0), T, library)
    assert _exact(e) == (
        "RejectedCommand",
        "command",
        "deliveries are still being reported: wait for them",
        None,
        None,
    )
    d, effects = _after(library, "suspended", c.EmptyReservoir(C, 0), T)
    assert effects == ()
    assert d.reservoir == Reservoir("morphine", "pain", 10_000_000, 0)


def test_programming_preconditions(library: Library) -> None:
    """A program needs a filled reservoir and the UTC time for a wall-clock schedule; while
    another drug is at the tip a clinician bolus is refused (REQ-DOSE-003, REQ-TIP-002,
    REQ-TIME-003)."""
    with pytest.raises(RejectedCommand) as e:
        step(
            SETUPS["implant_only"](library),
            c.SetProgram(C, MORPHINE_PROGRAM),
            7 * DAY + 100,
            library,
        )
    assert _exact(e) == (
        "RejectedCommand",
        "command",
        "fill the reservoir before programming",
        None,
        None,
    )
    a = SETUPS["active"](library)
    wall = dataclasses.replace(
        MORPHINE_PROGRAM,
        basal=dataclasses.replace(
            Basal.continuous(1_000_000), clock=FlexClock.WALL, timezone="UTC"
        ),
    )
    with pytest.raises(InvalidInput) as e:
        step(a, c.SetProgram(C, wall), T, library)
    assert _exact(e) == (
        "InvalidInput",
        "command.utc_now_s",
        "a wall-clock schedule needs the UTC time",
        None,
        None,
    )
    old_drug = dataclasses.replace(
        a,
        path=FluidPath(
            (Segment(1000, "hydromorphone", 1_000_000), Segment(233_000, "morphine", 10_000_000))
        ),
        flush_doses=(FlushDose("hydromorphone", 1_000_000),),
    )
    with pytest.raises(LimitViolation) as lv:
        step(old_drug, c.ClinicianBolus(C, 100_000, 600), T, library)
    assert lv.value.field == "command.dose_ng"
    assert "not_delivering" in lv.value.message
    # the same bolus with the path holding the program's drug is accepted
    assert step(a, c.ClinicianBolus(C, 100_000, 600), T, library).device.orders


def test_withdrawal_warning_on_stopping_baclofen(library: Library) -> None:
    """Stopping baclofen needs the confirmation and warns; morphine does not warn
    (REQ-BACL-002)."""
    d = SETUPS["bacl_implanted"](library)
    withdrawal = Warn("withdrawal_risk", WITHDRAWAL_TEXT)
    _, effects = _after(
        library, d, c.Explant(C, "infection", confirm_withdrawal_risk=True), 4 * DAY
    )
    assert effects == (withdrawal,)
    _, effects = _after(library, "active", c.Suspend(C, "review"), T)
    assert effects == (StopDelivery("suspend: active -> suspended"),)
    _, effects = _after(library, "implanted", c.Explant(C, "infection"), T)
    assert effects == ()


ACCEPTED: list[tuple[str, str, c.Command, int, Phase]] = [
    ("tick_one_hour", "active", c.Tick(S, 3600), T, Phase.ACTIVE),
    ("tick_one_day", "active", c.Tick(S, 86_400), T, Phase.ACTIVE),
    (
        "silence_low_a_day",
        "active_low",
        c.SilenceAlarm(P, AlarmKind.LOW_RESERVOIR, 86_400),
        T,
        Phase.ACTIVE,
    ),
    ("silence_high_10_min", "alarm", c.SilenceAlarm(P, AlarmKind.MOTOR_STALL, 600), T, Phase.ALARM),
    ("prime_a_day", "implanted", c.Prime(C, 86_400), 7 * DAY + 120, Phase.PRIMING),
    (
        "trial_dose_to_the_daily_max",
        "trial",
        c.RecordTrialDose(C, 19_700_000, (c.Override("morphine.pain.trial_bolus_range", "r"),)),
        180,
        Phase.TRIAL,
    ),
    (
        "trial_dose_range_overridden",
        "trial0",
        c.RecordTrialDose(C, 600_000, (c.Override("morphine.pain.trial_bolus_range", "r"),)),
        180,
        Phase.TRIAL,
    ),
    ("trial_dose_top_of_range", "trial0", c.RecordTrialDose(C, 500_000), 180, Phase.TRIAL),
    ("trial_dose_bottom_of_range", "trial0", c.RecordTrialDose(C, 100_000), 180, Phase.TRIAL),
    ("screening_dose_a_day_later", "bacl1n", c.RecordTrialDose(C, 75_000), 2 * DAY, Phase.TRIAL),
    (
        "trimmed_just_shorter",
        "ready",
        c.Implant(C, "prometra-ii-20", "prometra-catheter", 1099),
        DAY,
        Phase.IMPLANTED,
    ),
    (
        "no_reference_length",
        "ready",
        c.Implant(C, "synchromed-ii-20", "medtronic-8731sc", 5000),
        DAY,
        Phase.IMPLANTED,
    ),
    (
        "pump_approval_overridden",
        "zic_ready",
        c.Implant(
            C,
            "prometra-ii-20",
            "prometra-catheter",
            0,
            (c.Override("prometra-ii-20.approved_drugs", "r"),),
        ),
        3 * DAY,
        Phase.IMPLANTED,
    ),
    (
        "fill_to_capacity",
        "implant_only",
        c.Fill(C, 20_000_000, 10_000_000),
        7 * DAY + 60,
        Phase.IMPLANTED,
    ),
    (
        "max_concentration_overridden",
        "implant_only",
        c.Fill(C, 1_000_000, 25_000_000, (MAX_CONC,)),
        7 * DAY + 60,
        Phase.IMPLANTED,
    ),
    (
        "strength_overridden_at_max",
        "implant_only",
        c.Fill(C, 1_000_000, 20_000_000, (STRENGTH,)),
        7 * DAY + 60,
        Phase.IMPLANTED,
    ),
    (
        "unapproved_drug_overridden",
        "screened",
        c.StartTrial(
            C,
            "fentanyl",
            "pain",
            "p",
            "opioid-tolerant",
            (c.Override("fentanyl.pain.unapproved", "r"),),
        ),
        60,
        Phase.TRIAL,
    ),
    (
        "complete_to_capacity",
        "refill_withdrawn",
        c.CompleteRefill(C, 20_000_000, 10_000_000),
        T,
        Phase.ACTIVE,
    ),
    (
        "complete_finding_acknowledged",
        "refill_finding",
        c.CompleteRefill(C, 1000, 10_000_000, finding_reason="checked"),
        T,
        Phase.ACTIVE,
    ),
    (
        "complete_drug_change_overridden",
        "refill_withdrawn",
        c.CompleteRefill(
            C,
            1_000_000,
            25_000,
            "ziconotide",
            ZIC,
            overrides=(c.Override("prometra-ii-20.approved_drugs", "r"),),
        ),
        T,
        Phase.ACTIVE,
    ),
    (
        "complete_no_dead",
        "refill_no_dead",
        c.CompleteRefill(C, 1_000_000, 25_000_000, program=PROG25, overrides=(MAX_CONC,)),
        T,
        Phase.ACTIVE,
    ),
    (
        "complete_same_program",
        "refill_withdrawn",
        c.CompleteRefill(C, 1_000_000, 10_000_000, program=MORPHINE_PROGRAM),
        T,
        Phase.ACTIVE,
    ),
    (
        "complete_soft_overridden",
        "refill_withdrawn",
        c.CompleteRefill(
            C,
            1_000_000,
            10_000_000,
            program=BIG,
            overrides=(c.Override("morphine.pain.soft_max_daily", "r"),),
        ),
        T,
        Phase.ACTIVE,
    ),
    (
        "complete_strength_overridden",
        "refill_withdrawn",
        c.CompleteRefill(
            C,
            1_000_000,
            12_000_000,
            program=dataclasses.replace(MORPHINE_PROGRAM, concentration_ng_per_ml=12_000_000),
            overrides=(STRENGTH,),
        ),
        T,
        Phase.ACTIVE,
    ),
    (
        "clear_with_other_alarm",
        "alarm",
        c.ClearAlarm(C, AlarmKind.MOTOR_STALL, "ok"),
        T,
        Phase.SUSPENDED,
    ),
    (
        "explant_baclofen_confirmed",
        "bacl_implanted",
        c.Explant(C, "infection", True),
        4 * DAY,
        Phase.EXPLANTED,
    ),
    ("note_at_limit", "screening", c.RecordScreening(C, True, 10, "x" * 2000), 0, Phase.SCREENING),
    ("score_zero", "trial", c.RecordPainScore(C, 0), HOUR, Phase.TRIAL),
    (
        "zero_trim",
        "ready",
        c.Implant(C, "prometra-ii-20", "prometra-catheter", 0),
        DAY,
        Phase.IMPLANTED,
    ),
    ("report_zero", "active", c.DriveReport(S, 0, 0, False), T, Phase.ACTIVE),
    ("withdraw_zero", "refill", c.RecordWithdrawal(C, 0), T, Phase.REFILL),
    ("empty_zero", "suspended", c.EmptyReservoir(C, 0), T, Phase.SUSPENDED),
    ("mri_unfilled", "suspended_unfilled", c.BeginMri(C), 7 * DAY + 30, Phase.SUSPENDED),
    (
        "complete_wall_clock",
        "refill_withdrawn",
        c.CompleteRefill(C, 1_000_000, 10_000_000, program=WALL, utc_now_s=1_700_000_000),
        T,
        Phase.ACTIVE,
    ),
    ("reason_at_limit", "active", c.Suspend(C, "x" * 2000), T, Phase.SUSPENDED),
    ("plan_at_limit", "screened", c.StartTrial(C, "morphine", "pain", "y" * 2000), 60, Phase.TRIAL),
]
"""Commands at the edge of what is accepted, and the phase they lead to."""


@pytest.mark.parametrize(
    ("name", "setup", "command", "at", "phase"), ACCEPTED, ids=[k[0] for k in ACCEPTED]
)
def test_commands_at_the_edge_are_accepted(
    library: Library, name: str, setup: str, command: c.Command, at: int, phase: Phase
) -> None:
    """The bounds are inclusive where the rules say so, and an override with a reason lets a
    soft limit yield (REQ-LIB-004, REQ-ALM-004, REQ-REF-001, REQ-TIP-003, REQ-TRIAL-001)."""
    d = SETUPS[setup](library)
    assert step(d, command, at, library).device.phase is phase


def _with_morphine(library: Library, **changes: object) -> Library:
    entries = tuple(
        dataclasses.replace(e, **changes) if e.id == "morphine.pain" else e for e in library.entries
    )
    return dataclasses.replace(library, entries=entries)


def test_library_without_a_trial_range(library: Library) -> None:
    """A drug the library gives no trial range (nor screening) for cannot be trialled
    (REQ-TRIAL-001, REQ-LIB-001)."""
    lib = _with_morphine(library, trial_bolus_range=None)
    with pytest.raises(RejectedCommand) as e:
        step(SETUPS["screened"](library), c.StartTrial(C, "morphine", "pain", "p"), 60, lib)
    assert _exact(e) == (
        "RejectedCommand",
        "command.drug",
        "the library gives no trial dose range for morphine (pain)",
        "morphine",
        None,
    )
    with pytest.raises(RejectedCommand) as e:
        step(SETUPS["trial0"](library), c.RecordTrialDose(C, 200_000), 120, lib)
    assert _exact(e) == (
        "RejectedCommand",
        "command.amount_ng",
        "no trial dose range in the library",
        None,
        None,
    )


def test_hard_limits_do_not_yield_to_overrides(library: Library) -> None:
    """A hard trial range or concentration cap is not overridable (REQ-LIB-004)."""
    entry = library.drug("morphine", "pain")
    assert entry.trial_bolus_range is not None and entry.max_concentration is not None
    lib = _with_morphine(
        library,
        trial_bolus_range=dataclasses.replace(entry.trial_bolus_range, level=lib_mod.Level.HARD),
        max_concentration=dataclasses.replace(entry.max_concentration, level=lib_mod.Level.HARD),
    )
    over = c.Override("morphine.pain.trial_bolus_range", "r")
    with pytest.raises(LimitViolation) as e:
        step(SETUPS["trial0"](library), c.RecordTrialDose(C, 600_000, (over,)), 120, lib)
    assert (e.value.limit_id, e.value.level) == ("morphine.pain.trial_bolus_range", "hard")
    with pytest.raises(LimitViolation) as e:
        fill = c.Fill(C, 1, 30_000_000, (MAX_CONC, COMPOUNDED))
        step(SETUPS["implant_only"](library), fill, DAY * 8, lib)
    assert (e.value.limit_id, e.value.level, e.value.limit) == (
        "morphine.pain.max_concentration",
        "hard",
        "20 mg/mL",
    )
    no_cap = _with_morphine(library, max_concentration=None)
    d = step(SETUPS["implant_only"](library), c.Fill(C, 1, 25_000_000), DAY * 8, no_cap).device
    assert d.reservoir is not None and d.reservoir.concentration_ng_per_ml == 25_000_000
    none = _with_morphine(
        library,
        product_concentrations=dataclasses.replace(
            entry.product_concentrations, values_ng_per_ml=()
        ),
    )
    with pytest.raises(LimitViolation) as e:
        step(SETUPS["implant_only"](library), c.Fill(C, 1, 10_000_000), DAY * 8, none)
    assert e.value.limit == "none"


def test_pump_concentrations_apply_the_pump_narrowing(library: Library) -> None:
    """A pump's per-drug concentration range narrows the product strengths (REQ-LIB-001)."""
    pump = library.pump("prometra-ii-20")
    baclofen = library.drug(*BACLOFEN)
    morphine = library.drug("morphine", "pain")
    assert pump_concentrations(baclofen, pump) == (500_000, 1_000_000, 2_000_000)
    assert pump_concentrations(morphine, pump) == (10_000_000, 25_000_000)
    (rng,) = pump.concentration_ranges
    narrow = dataclasses.replace(
        pump,
        concentration_ranges=(
            dataclasses.replace(rng, low_ng_per_ml=500_001, high_ng_per_ml=1_999_999),
        ),
    )
    assert pump_concentrations(baclofen, narrow) == (1_000_000,)
    assert pump_concentrations(morphine, narrow) == (10_000_000, 25_000_000)


def test_drug_change_keeps_the_old_drug_and_its_ledger(library: Library) -> None:
    """A drug change fills the new drug; the old drug stays in the path, is delivered at the
    old program's daily dose until it has left the tip (its flush dose) and keeps its own
    rolling ledger; the new drug starts from its own (empty) ledger (REQ-TIP-001, REQ-TIP-003)."""
    r = SETUPS["refill_withdrawn"](library)
    zic = c.CompleteRefill(
        C,
        1_000_000,
        25_000,
        "ziconotide",
        ZIC,
        overrides=(c.Override("prometra-ii-20.approved_drugs", "r"),),
    )
    d, effects = _after(library, r, zic, T)
    assert d.reservoir == Reservoir("ziconotide", "pain", 25_000, 1_000_000)
    assert d.program == ZIC
    assert d.path == r.path
    assert d.flush_doses == (FlushDose("morphine", 1_000_000),)
    assert d.other_ledgers == (DrugLedger("morphine", r.ledger),)
    assert d.ledger == Ledger()
    # 2.34 mg of morphine at 1 mg/day: 202 176 s at 100 000 nL/day; then ziconotide 2.4 mcg/day
    # at 25 mcg/mL: 96 000 nL/day
    assert effects[0] == TipChange(T + 202_176, 100_000, 96_000)


ZIC_START = dataclasses.replace(ZIC, basal=Basal.continuous(1_200))
"""Ziconotide 1.2 mcg/day: inside the library's starting range."""


def test_drug_change_without_an_old_program_never_flushes(library: Library) -> None:
    """Without an old program the old drug's flush dose is 0: it never leaves the tip at that
    rate, so the new drug never arrives (``None``) (REQ-TIP-003)."""
    r = dataclasses.replace(SETUPS["refill_withdrawn"](library), program=None)
    zic = c.CompleteRefill(
        C,
        1_000_000,
        25_000,
        "ziconotide",
        ZIC_START,
        overrides=(c.Override("prometra-ii-20.approved_drugs", "r"),),
    )
    d, effects = _after(library, r, zic, T)
    assert d.flush_doses == (FlushDose("morphine", 0),)
    assert isinstance(effects[0], TipChange) and effects[0].arrives_at_s is None
    assert effects[0].rate_after_nl_per_day == 48_000  # 1.2 mcg/day at 25 mcg/mL


def test_tip_change_shows_a_zero_rate_before_when_the_old_drug_has_no_dose(
    library: Library,
) -> None:
    """REQ-TIP-003: the rate before is the rate at which the pump moves the fluid now at the
    tip: 0 when that fluid's daily dose is 0 (here the old morphine program was stopped at
    0 mg/day before a change to ziconotide)."""
    stopped = dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(0), patient_bolus=None)
    r = dataclasses.replace(SETUPS["refill_withdrawn"](library), program=stopped)
    zic = c.CompleteRefill(
        C,
        1_000_000,
        25_000,
        "ziconotide",
        ZIC_START,
        overrides=(c.Override("prometra-ii-20.approved_drugs", "r"),),
    )
    _, effects = _after(library, r, zic, T)
    assert effects[0] == TipChange(None, 0, 48_000)


def test_begin_refill_of_an_unfilled_pump_expects_nothing(library: Library) -> None:
    """A pump never filled has an expected residual of zero (REQ-REF-001)."""
    d = SETUPS["refill_unfilled"](library)
    assert d.refill == RefillSession(0)


def test_only_eri_sets_the_end_of_service(library: Library) -> None:
    """Other alarms leave the end of service unset (REQ-BATT-001)."""
    slib = synchromed_library(library)
    d, effects = _after(slib, synchromed_active(slib), c.RaiseAlarm(S, AlarmKind.LOW_RESERVOIR), T)
    assert d.eos_at_s is None
    assert effects == (Annunciate(AlarmKind.LOW_RESERVOIR, Priority.LOW),)


def test_tick_uses_the_commanded_segment(library: Library) -> None:
    """A tick plans the basal over the segment the shell asked for (REQ-DOSE-001)."""
    _, effects = _after(library, "active", c.Tick(S, 86_400), T)
    assert effects == (DeliveryOrder(2, "basal", 96_643, 83_500),)
    _, effects = _after(library, "active", c.Tick(S, 3600), T)
    assert effects == (DeliveryOrder(2, "basal", 4_166, 3600),)


BACL_PROGRAM = Program(*BACLOFEN, 2_000_000, Basal.continuous(100_000))


def _bacl_refill(library: Library) -> Device:
    """Baclofen dosing at 100 mcg/day, in a reconciled refill at 5 d + 10 s."""
    prog = BACL_PROGRAM
    d = run(
        [(c.SetProgram(C, prog), 4 * DAY), (c.Prime(C, 480), 4 * DAY + 10)],
        library,
        SETUPS["bacl_implanted"](library),
    )
    assert d.implant is not None and d.implant.dead_volume_nl is not None
    d = run(
        [
            (c.DriveReport(S, 1, d.implant.dead_volume_nl, True), 4 * DAY + 600),
            (c.StartDosing(C), 4 * DAY + 700),
            (c.BeginRefill(C), 5 * DAY),
        ],
        library,
        d,
    )
    assert d.refill is not None
    d = run([(c.RecordWithdrawal(C, d.refill.expected_residual_nl), 5 * DAY + 10)], library, d)
    return d


def test_baclofen_cut_at_refill_is_not_confirmed_implicitly(library: Library) -> None:
    """A refill's program is checked with the refill's own withdrawal confirmation, never
    implicitly: a baclofen cut of more than 20 % is refused without it (REQ-BACL-002)."""
    d = _bacl_refill(library)
    prog = BACL_PROGRAM
    cut = dataclasses.replace(prog, basal=Basal.continuous(50_000))
    with pytest.raises(LimitViolation) as e:
        step(d, c.CompleteRefill(C, 1_000_000, 2_000_000, program=cut), 5 * DAY + 20, library)
    assert (e.value.field, e.value.message, e.value.value, e.value.limit) == (
        "command.program.basal",
        "stopping or cutting this drug by more than 20 % needs an explicit confirmation of the "
        "withdrawal risk",
        "50 mcg/day",
        "confirmation",
    )
    assert (e.value.limit_id, e.value.level) == (
        "baclofen.spasticity-spinal.withdrawal_confirmation",
        "hard",
    )
    out = step(d, c.CompleteRefill(C, 1_000_000, 2_000_000), 5 * DAY + 20, library)
    assert out.device.phase is Phase.ACTIVE
    confirmed = c.CompleteRefill(C, 1_000_000, 2_000_000, program=cut, confirm_withdrawal_risk=True)
    out = step(d, confirmed, 5 * DAY + 20, library)
    assert out.device.phase is Phase.ACTIVE
    assert out.device.program == cut


def test_baclofen_starting_dose_applies_to_the_first_program_only(library: Library) -> None:
    """The first baclofen program starts at twice the effective screening dose per 24 h; a
    later program is not held to it (REQ-BACL-006)."""
    d = SETUPS["bacl_implanted"](library)

    def program(basal: int) -> c.SetProgram:
        return c.SetProgram(C, Program(*BACLOFEN, 2_000_000, Basal.continuous(basal)))

    with pytest.raises(LimitViolation) as e:
        step(d, program(150_000), 4 * DAY, library)
    assert (e.value.field, e.value.message, e.value.value, e.value.limit) == (
        "command.program.basal",
        "the starting pump dose is 2 x the effective screening dose per 24 h",
        "150 mcg/day",
        "100 mcg/day",
    )
    assert (e.value.limit_id, e.value.level) == (
        "baclofen.spasticity-spinal.screening.starting_dose",
        "soft",
    )
    d = step(d, program(100_000), 4 * DAY, library).device
    assert step(d, program(110_000), 4 * DAY + 10, library).device.program is not None


def test_titration_count_at_refill_uses_the_time_now(library: Library) -> None:
    """A refill's new program is held to the titration count over the window ending now
    (REQ-TITR-001)."""
    d = _bacl_refill(library)
    up = c.CompleteRefill(
        C,
        1_000_000,
        2_000_000,
        program=dataclasses.replace(BACL_PROGRAM, basal=Basal.continuous(110_000)),
    )
    now = 5 * DAY + 20
    old = dataclasses.replace(d, increases=(Increase(now - DAY, 90_000, 100_000),))
    assert step(old, up, now, library).device.increases == (
        Increase(now - DAY, 90_000, 100_000),
        Increase(now, 100_000, 110_000),
    )
    recent = dataclasses.replace(d, increases=(Increase(now - DAY + 1, 90_000, 100_000),))
    with pytest.raises(LimitViolation) as e:
        step(recent, up, now, library)
    assert e.value.field == "command.program.basal"
    assert e.value.value == "2 increases"


def test_three_program_violations_are_joined(library: Library) -> None:
    """Every open violation after the first is listed, separated by semicolons
    (REQ-DOSE-003)."""
    bolus = PatientBolusProgram(dose_ng=5_000_000, duration_s=600, lockout_s=60, max_per_24h=48)
    prog = dataclasses.replace(
        MORPHINE_PROGRAM, basal=Basal.continuous(25_000_000), patient_bolus=bolus
    )
    with pytest.raises(LimitViolation) as e:
        step(SETUPS["active"](library), c.SetProgram(C, prog), T, library)
    assert (e.value.field, e.value.message, e.value.value, e.value.limit) == (
        "command.program.patient_bolus.duration",
        "a bolus may not last longer than its lockout (also: morphine.pain.max_daily: "
        "worst-case daily total (basal + every allowed bolus) above the maximum; "
        "morphine.pain.soft_max_daily: worst-case daily total above the soft maximum)",
        "10 min",
        "<= lockout 1 min",
    )
    assert (e.value.limit_id, e.value.level) == ("morphine.pain.program_shape", "hard")


def _bacl_active(library: Library) -> Device:
    d = _bacl_refill(library)
    return step(d, c.CompleteRefill(C, 1_000_000, 2_000_000), 5 * DAY + 20, library).device


def test_set_program_passes_the_confirmation_time_and_utc(library: Library) -> None:
    """Reprogramming is checked with the clinician's withdrawal confirmation, the time now (for
    the titration count) and the UTC time (REQ-BACL-002, REQ-TITR-001, REQ-TIME-003)."""
    d = _bacl_active(library)
    now = 5 * DAY + 30
    cut = dataclasses.replace(BACL_PROGRAM, basal=Basal.continuous(50_000))
    with pytest.raises(LimitViolation) as e:
        step(d, c.SetProgram(C, cut), now, library)
    assert e.value.limit_id == "baclofen.spasticity-spinal.withdrawal_confirmation"
    confirmed = c.SetProgram(C, cut, confirm_withdrawal_risk=True)
    assert step(d, confirmed, now, library).device.program == cut
    up = c.SetProgram(C, dataclasses.replace(BACL_PROGRAM, basal=Basal.continuous(110_000)))
    old = dataclasses.replace(d, increases=(Increase(now - DAY, 90_000, 100_000),))
    assert step(old, up, now, library).device.increases[-1] == Increase(now, 100_000, 110_000)
    recent = dataclasses.replace(d, increases=(Increase(now - DAY + 1, 90_000, 100_000),))
    with pytest.raises(LimitViolation) as e:
        step(recent, up, now, library)
    assert e.value.value == "2 increases"
    a = SETUPS["active"](library)
    out = step(a, c.SetProgram(C, WALL, utc_now_s=1_700_000_000), T, library)
    assert out.device.program == WALL
    assert out.device.utc_minus_mono_s == 1_700_000_000 - T


# Equivalent mutants (mutmut 3.8.1; no observable change through ``step``):
# - x__withdrawal_risk__mutmut_2 ("or" -> "and"), _5 (return True when drug or indication is
#   None): every phase that calls it (implanted phases) has a trial record, so the device always
#   has a drug and an indication.
# - x__trial__mutmut_2 .. _9 (field and message of "no trial is in progress"): unreachable; every
#   command calling _trial starts in a phase whose state check requires the trial record.
# - x__v_fill__mutmut_18 .. _25 (field and message of "no pump is implanted"): unreachable; the
#   fill rows start in implanted and suspended, whose state check requires the implant.
# - x__v_begin_mri__mutmut_24, _25, _26 (the 'this pump' fallback): the MRI rows start in phases
#   that require the implant, so the pump id is always shown.
# - x__v_clinician_bolus__mutmut_42, _44 (the "" fallbacks of the drug and indication): the
#   clinician bolus row starts in active, which requires the reservoir (drug and indication).
# - x__clinician_decision__mutmut_1, x__h_record_withdrawal__mutmut_1, _2,
#   x__h_complete_refill__mutmut_1 ("and" -> "or" in an assert): the validator has already
#   rejected every device for which any operand is None.
# - x__v_complete_refill__mutmut_150 (confirm None instead of False): both are falsy and the
#   program check only tests its truth.
# - x__check_program_or_raise__mutmut_9, _17 (utc_now_s dropped from the ProgramContext): the
#   program check uses it only for the report's DST-day figures, which the handlers discard (the
#   violations do not depend on it; the wall-clock check uses the parameter, not the context).
# - x__check_program_or_raise__mutmut_22 ("d.trial is not None" or True): a device with an
#   implant always has its trial record (state check), so the fallback None is never taken.
# - x_reconcile__mutmut_32, _33 (the sign test "diff >= 0" as "> 0" or ">= 1"): they differ only
#   at diff == 0, where the deviation is 0 whatever its sign.


def test_one_handler_record_per_command_class() -> None:
    """The dispatch mapping holds every command class once, keyed by its own class, and the
    name index decodes every trigger name to it (REQ-CORE-001)."""
    from itdose.core.handlers import HANDLERS

    assert set(HANDLERS) == set(c.COMMANDS.values())
    assert all(h.command is cls for cls, h in HANDLERS.items())
    assert all(cls.name == name for name, cls in c.COMMANDS.items())
    assert len(c.COMMANDS) == 29
