"""Per-command validation and data updates, used by :func:`itdose.core.machine.step`.

``validate`` checks a command's own data against the device and the drug and pump library and
raises a :class:`~itdose.core.errors.DosingError` naming the field; ``apply`` returns the updated
device data (the phase is set by the lifecycle table, not here) and the command's effects. Both
are pure. Neither decides the phase: that is the table's job.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from itdose.core import commands as cmd
from itdose.core import dosing
from itdose.core import library as lib
from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.dead_volume import dead_volume_nl
from itdose.core.effects import (
    Annunciate,
    CancelOrder,
    Effect,
    ProgramComparison,
    ProgramFigures,
    TipChange,
    Warn,
)
from itdose.core.errors import InvalidInput, LimitViolation, RejectedCommand
from itdose.core.ledger import Ledger
from itdose.core.path import FG_PER_NG, FluidPath, drugs_in, ng_up
from itdose.core.program import (
    DAY_S,
    NL_PER_ML,
    FlexClock,
    Increase,
    Program,
    ProgramContext,
    ProgramReport,
    basal_daily_ng,
    check_program,
    titration_base,
)
from itdose.core.state import (
    ActiveAlarm,
    DeliveryKind,
    Device,
    DrugLedger,
    FlushDose,
    ImplantedSystem,
    LastDelivery,
    MriSession,
    Phase,
    RefillSession,
    Reservoir,
    Role,
    Screening,
    Trial,
    TrialDose,
)
from itdose.core.units import (
    format_amount_ng,
    format_concentration_ng_per_ml,
    format_dose_rate_ng_per_day,
    format_duration_s,
    format_percent_bp,
    format_volume_nl,
)

__all__ = ["apply", "describe", "validate"]

MAX_TEXT = 2000
MAX_PRIMING_S = 86_400
"""Longest priming bolus accepted (a plausibility bound on the programmer's duration)."""
MAX_SILENCE_HIGH_S = 600
"""A HIGH alarm cannot be silenced for longer than 10 minutes (docs/dosing-rules.md#r-alm-1;
REQ-ALM-004)."""
MAX_SILENCE_S = 86_400
"""A LOW or MEDIUM alarm is silenced for at most a day (a design bound: it re-annunciates)."""
MAX_PATIENT_SILENCES_HIGH = 3
"""The patient may silence the same HIGH alarm at most 3 times; after that only a clinician can
(a design value, docs/dosing-rules.md#r-alm-3; REQ-ALM-010)."""
RESTART_CONFIRM_S = 86_400
"""A restart after more than 24 h without delivery needs a clinician's reason (a design value:
tolerance may have fallen; docs/dosing-rules.md#r-lim-10; REQ-TITR-006)."""
EMERGENCY_MRI_NL = 10_000
"""The labelled worst case of a Prometra II emergency scan with drug in the reservoir: 10 uL
counted as delivered (docs/dosing-rules.md#r-mri-5; REQ-MRI-006)."""
MAX_TITRATION_WINDOW_S = 7 * 86_400
"""Increases older than the longest titration window are dropped from the state."""
PAIN_SCALE_MAX = 10
"""Pain scores are on the 0-10 numeric rating scale."""

WITHDRAWAL_ALARMS = frozenset(
    {AlarmKind.EMPTY_RESERVOIR, AlarmKind.MOTOR_STALL, AlarmKind.END_OF_SERVICE}
)
"""Alarms that raise the withdrawal-risk warning on a withdrawal-risk drug
(docs/dosing-rules.md#baclofen)."""

WITHDRAWAL_TEXT = (
    "Withdrawal risk: abrupt interruption of intrathecal baclofen can cause high fever, altered "
    "mental status, rebound spasticity and muscle rigidity, progressing in rare cases to "
    "rhabdomyolysis, multiple organ failure and death. Restore delivery or arrange bridging "
    "therapy now."
)


# --- small checks --------------------------------------------------------------------------


def _reason(text: str, field: str) -> None:
    if not text.strip():
        raise RejectedCommand(field, "a reason is required")
    if len(text) > MAX_TEXT:
        raise InvalidInput(field, "is too long", limit=f"{MAX_TEXT} characters")


def _text(text: str, field: str) -> None:
    if len(text) > MAX_TEXT:
        raise InvalidInput(field, "is too long", limit=f"{MAX_TEXT} characters")


def _non_negative(value: int, field: str) -> None:
    if value < 0:
        raise InvalidInput(field, "must not be negative", value=value)


def _positive(value: int, field: str) -> None:
    if value <= 0:
        raise InvalidInput(field, "must be greater than zero", value=value)


def _score(value: int, field: str) -> None:
    if not 0 <= value <= PAIN_SCALE_MAX:
        raise InvalidInput(field, "pain score out of range", value=value, limit="0..10")


def _overridden(overrides: tuple[cmd.Override, ...], limit_id: str) -> bool:
    return any(o.limit_id == limit_id and o.reason.strip() for o in overrides)


def _check_overrides(overrides: tuple[cmd.Override, ...]) -> None:
    for i, o in enumerate(overrides):
        _reason(o.reason, f"command.overrides[{i}].reason")
        if o.limit_id.endswith(".bridge_skip"):
            raise RejectedCommand(
                f"command.overrides[{i}].limit_id",
                "there is no bridge to skip: the fluid path is tracked, so the old drug in the "
                "catheter is always delivered at the programmed dose (REQ-TIP-003)",
            )


def _withdrawal_risk(device: Device, library: lib.Library) -> bool:
    drug, indication = device.drug, device.indication
    if drug is None or indication is None:
        return False
    return library.drug(drug, indication).withdrawal_risk.value


def _trial(device: Device) -> Trial:
    if device.trial is None:  # unreachable from the table's phases; kept for the type checker
        raise RejectedCommand("trial", "no trial is in progress")
    return device.trial


def _concentration_allowed(
    entry: lib.DrugEntry,
    pump: lib.PumpModel,
    concentration_ng_per_ml: int,
    overrides: tuple[cmd.Override, ...],
    field: str,
) -> None:
    """Concentration is a product strength of the drug allowed by the pump, or overridden."""
    _positive(concentration_ng_per_ml, field)
    allowed = pump_concentrations(entry, pump)
    limit_id = f"{entry.drug}.{entry.indication}.product_concentrations"
    if concentration_ng_per_ml not in allowed and not _overridden(overrides, limit_id):
        shown = ", ".join(format_concentration_ng_per_ml(c) for c in allowed) or "none"
        raise LimitViolation(
            field,
            f"{format_concentration_ng_per_ml(concentration_ng_per_ml)} is not a product strength "
            f"of {entry.drug} allowed in {pump.id} (a compounded product needs an override "
            "with a reason)",
            limit_id=limit_id,
            level=lib.Level.SOFT.value,
            value=concentration_ng_per_ml,
            limit=shown,
        )
    cap = entry.max_concentration
    if (
        cap is not None
        and lib.concentration_cap_applies(entry, concentration_ng_per_ml)
        and concentration_ng_per_ml > cap.value
        and (cap.level is lib.Level.HARD or not _overridden(overrides, cap.id))
    ):
        raise LimitViolation(
            field,
            f"above the maximum concentration for {entry.drug}",
            limit_id=cap.id,
            level=cap.level.value,
            value=concentration_ng_per_ml,
            limit=format_concentration_ng_per_ml(cap.value),
        )


def pump_concentrations(entry: lib.DrugEntry, pump: lib.PumpModel) -> tuple[int, ...]:
    """The drug's product strengths that ``pump`` accepts (its per-drug narrowing applied)."""
    narrowing = pump.concentration_range(entry.drug)
    return tuple(
        c
        for c in entry.product_concentrations.values_ng_per_ml
        if narrowing is None or narrowing.contains(c)
    )


# --- restart (docs/dosing-rules.md#r-lim-10) --------------------------------------------------


def _delivering(d: Device) -> bool:
    """Basal is being delivered: the device is active with a non-zero program."""
    return d.phase is Phase.ACTIVE and d.program is not None and basal_daily_ng(d.program.basal) > 0


def _note_delivery(d: Device, now: int) -> Device:
    """``d`` with the program it is delivering noted as the restart reference (every accepted
    command passes here first, so the reference holds the dose and the last instant before a
    stop)."""
    if not _delivering(d) or d.drug is None:
        return d
    assert d.program is not None
    dose = basal_daily_ng(d.program.basal)
    last = d.last_delivery
    if last is not None and (last.drug, last.dose_ng_per_day) == (d.drug, dose):
        return d  # the same dose goes on: nothing to note (a no-op command changes nothing)
    return dataclasses.replace(d, last_delivery=LastDelivery(d.drug, dose, now))


def _restart_from(d: Device) -> int | None:
    """While delivery is stopped, the last daily dose of the drug in the pump delivered before
    the stop (a restart may return to it without titration); None while delivering or when that
    drug was never delivered (REQ-TITR-005)."""
    last = d.last_delivery
    if _delivering(d) or last is None or last.drug != d.drug:
        return None
    return last.dose_ng_per_day


def _check_restart(d: Device, now: int, program: Program | None, reason: str) -> None:
    """A command that restarts delivery (``program`` non-zero) more than 24 h after delivery was
    last seen needs the clinician's ``restart_reason`` (REQ-TITR-006)."""
    _text(reason, "command.restart_reason")
    last = d.last_delivery
    if program is None or basal_daily_ng(program.basal) == 0 or _delivering(d) or last is None:
        return
    # when the drug last left the tip (the ledger keeps a day): longer ago, or never since the
    # dose was noted, needs the clinician's reason
    seen = max(last.at_s, dosing.ledger_of(d, last.drug).newest_s)
    if now - seen > RESTART_CONFIRM_S and not reason.strip():
        raise RejectedCommand(
            "command.restart_reason",
            f"delivery has been stopped for {format_duration_s(now - last.at_s)}: a restart after "
            "more than 24 h without delivery needs a clinician's confirmation with a reason "
            "(tolerance may have fallen)",
            value=format_duration_s(now - last.at_s),
            limit=f"<= {format_duration_s(RESTART_CONFIRM_S)} without a reason",
        )


# --- validators ------------------------------------------------------------------------------


def _v_record_screening(d: Device, c: cmd.RecordScreening, now: int, library: lib.Library) -> None:
    _score(c.baseline_pain, "command.baseline_pain")
    _text(c.note, "command.note")


def _v_start_trial(d: Device, c: cmd.StartTrial, now: int, library: lib.Library) -> None:
    _check_overrides(c.overrides)
    _reason(c.plan, "command.plan")
    entry = library.drug(c.drug, c.indication)
    if c.opioid_status not in (None, "opioid-naive", "opioid-tolerant"):
        raise InvalidInput(
            "command.opioid_status",
            "expected 'opioid-naive', 'opioid-tolerant' or none",
            value=c.opioid_status,
        )
    if not entry.approved_for_intrathecal_pump.value:
        limit_id = f"{entry.drug}.{entry.indication}.unapproved"
        if not _overridden(c.overrides, limit_id):
            raise LimitViolation(
                "command.drug",
                f"{entry.drug} is not approved for intrathecal pumps; selectable only with an "
                "override carrying a reason",
                limit_id=limit_id,
                level=lib.Level.SOFT.value,
                value=c.drug,
            )
    if entry.trial_bolus_range is None and entry.screening is None:
        raise RejectedCommand(
            "command.drug",
            f"the library gives no trial dose range for {entry.drug} ({entry.indication})",
            value=c.drug,
        )


def _v_record_trial_dose(d: Device, c: cmd.RecordTrialDose, now: int, library: lib.Library) -> None:
    _check_overrides(c.overrides)
    _positive(c.amount_ng, "command.amount_ng")
    t = _trial(d)
    entry = library.drug(t.drug, t.indication)
    window = d.ledger.window_total_ng(now)
    if window + c.amount_ng > entry.max_daily.value:
        raise LimitViolation(
            "command.amount_ng",
            "the trial dose would take the rolling 24 h total above the hard daily maximum",
            limit_id=entry.max_daily.id,
            level=lib.Level.HARD.value,
            value=format_amount_ng(window + c.amount_ng),
            limit=entry.max_daily.text(),
        )
    if t.screening_sequence_ng:
        _v_screening_dose(t, entry, c, now)
        return
    rng = entry.trial_bolus_range
    if rng is None:  # start_trial refuses such a drug; defensive
        raise RejectedCommand("command.amount_ng", "no trial dose range in the library")
    if not rng.contains(c.amount_ng) and (
        rng.level is lib.Level.HARD or not _overridden(c.overrides, rng.id)
    ):
        raise LimitViolation(
            "command.amount_ng",
            "trial dose outside the library's trial range",
            limit_id=rng.id,
            level=rng.level.value,
            value=format_amount_ng(c.amount_ng),
            limit=rng.text(),
        )


def _v_screening_dose(t: Trial, entry: lib.DrugEntry, c: cmd.RecordTrialDose, now: int) -> None:
    seq = t.screening_sequence_ng
    n = len(t.doses)
    limit_id = f"{entry.drug}.{entry.indication}.screening_sequence"
    if t.response is True:
        raise RejectedCommand("command", "screening already has a positive response")
    if n >= len(seq):
        raise RejectedCommand("command", "screening sequence complete: not a candidate")
    if n > 0 and t.response is None:
        raise RejectedCommand("command", "record the response to the previous screening dose first")
    if c.amount_ng != seq[n]:
        raise LimitViolation(
            "command.amount_ng",
            f"screening dose {n + 1} must be {format_amount_ng(seq[n])}",
            limit_id=limit_id,
            level=lib.Level.HARD.value,
            value=format_amount_ng(c.amount_ng),
            limit=format_amount_ng(seq[n]),
        )
    assert entry.screening is not None
    spacing = entry.screening.min_interval_s
    if n > 0 and now - t.doses[-1].at_s < spacing:
        raise LimitViolation(
            "now_s",
            "screening doses must be spaced",
            limit_id=f"{entry.drug}.{entry.indication}.screening_spacing",
            level=lib.Level.HARD.value,
            value=format_duration_s(now - t.doses[-1].at_s),
            limit=f">= {format_duration_s(spacing)}",
        )


def _v_record_pain_score(d: Device, c: cmd.RecordPainScore, now: int, library: lib.Library) -> None:
    _score(c.score, "command.score")
    t = _trial(d)
    if t.screening_sequence_ng:
        raise RejectedCommand("command", "baclofen screening records a response, not a pain score")
    if not t.doses:
        raise RejectedCommand("command", "no trial dose has been given yet")


def _v_record_screening_response(
    d: Device, c: cmd.RecordScreeningResponse, now: int, library: lib.Library
) -> None:
    t = _trial(d)
    if not t.screening_sequence_ng:
        raise RejectedCommand("command", "only a baclofen screening records a response")
    if not t.doses:
        raise RejectedCommand("command", "no screening dose has been given yet")
    if t.response is not None:
        raise RejectedCommand("command", "the response to this dose is already recorded")


def _v_conclude_trial(d: Device, c: cmd.ConcludeTrial, now: int, library: lib.Library) -> None:
    if c.outcome is not None:
        _reason(c.reason, "command.reason")
    else:
        _text(c.reason, "command.reason")


def _v_implant(d: Device, c: cmd.Implant, now: int, library: lib.Library) -> None:
    _non_negative(c.trimmed_mm, "command.trimmed_mm")
    pump = library.pump(c.pump)
    catheter = library.catheter(c.catheter)
    t = _trial(d)
    _check_overrides(c.overrides)
    if not pump.is_approved_for(t.drug):
        limit_id = f"{pump.id}.approved_drugs"
        if not _overridden(c.overrides, limit_id):
            raise LimitViolation(
                "command.pump",
                f"{pump.id} is not approved for {t.drug}; only with an override and a reason",
                limit_id=limit_id,
                level=lib.Level.SOFT.value,
                value=c.pump,
                limit=", ".join(pump.approved_drugs.names),
            )
    if pump.id not in catheter.compatible_pumps.names:
        raise RejectedCommand(
            "command.catheter",
            f"catheter {catheter.id} is not listed for pump {pump.id}",
            value=c.catheter,
            limit="one of " + ", ".join(catheter.compatible_pumps.names),
        )
    ref = catheter.reference_length
    if ref is not None and c.trimmed_mm >= ref.value:
        raise InvalidInput(
            "command.trimmed_mm",
            "must be shorter than the catheter",
            value=c.trimmed_mm,
            limit=f"< {ref.text()}",
        )


def _v_fill(d: Device, c: cmd.Fill, now: int, library: lib.Library) -> None:
    _check_overrides(c.overrides)
    _positive(c.volume_nl, "command.volume_nl")
    if d.reservoir is not None:
        raise RejectedCommand("command", "the reservoir is already filled; use a refill")
    if d.implant is None:  # fill rows start in implanted phases only; defensive
        raise RejectedCommand("command", "no pump is implanted")
    pump = library.pump(d.implant.pump)
    t = _trial(d)
    entry = library.drug(t.drug, t.indication)
    if c.volume_nl > pump.reservoir_volume.value:
        raise LimitViolation(
            "command.volume_nl",
            "fill exceeds the reservoir capacity",
            limit_id=f"{pump.id}.reservoir",
            level=lib.Level.HARD.value,
            value=format_volume_nl(c.volume_nl),
            limit=format_volume_nl(pump.reservoir_volume.value),
        )
    _concentration_allowed(
        entry, pump, c.concentration_ng_per_ml, c.overrides, "command.concentration_ng_per_ml"
    )


def _v_reason_only(d: Device, c: cmd.AbortRefill, now: int, library: lib.Library) -> None:
    _reason(c.reason, "command.reason")


def _v_resume(d: Device, c: cmd.Resume, now: int, library: lib.Library) -> None:
    _reason(c.reason, "command.reason")
    _check_restart(d, now, d.program, c.restart_reason)


def _v_start_dosing(d: Device, c: cmd.StartDosing, now: int, library: lib.Library) -> None:
    _check_restart(d, now, d.program, c.restart_reason)


def _v_stop_with_risk(
    d: Device, c: cmd.Suspend | cmd.Explant, now: int, library: lib.Library
) -> None:
    _reason(c.reason, "command.reason")
    if _withdrawal_risk(d, library) and not c.confirm_withdrawal_risk:
        raise RejectedCommand(
            "command.confirm_withdrawal_risk",
            f"stopping {d.drug} needs an explicit confirmation of the withdrawal risk",
        )


def _v_raise_alarm(d: Device, c: cmd.RaiseAlarm, now: int, library: lib.Library) -> None:
    _text(c.detail, "command.detail")


def _v_clear_alarm(d: Device, c: cmd.ClearAlarm, now: int, library: lib.Library) -> None:
    _reason(c.reason, "command.reason")
    if not d.has_alarm(c.kind):
        raise RejectedCommand("command.kind", "that alarm is not active", value=c.kind.value)
    if c.kind is AlarmKind.END_OF_SERVICE:
        raise RejectedCommand(
            "command.kind", "end of service cannot be cleared: the pump must be replaced"
        )
    if c.kind is AlarmKind.EMPTY_RESERVOIR:
        assert d.implant is not None
        pump = library.pump(d.implant.pump)
        volume = d.reservoir.volume_nl if d.reservoir is not None else 0
        if volume <= pump.empty_threshold.value:
            raise RejectedCommand(
                "command.kind",
                "the reservoir is still at or below the empty threshold: refill first",
                value=format_volume_nl(volume),
                limit=f"> {format_volume_nl(pump.empty_threshold.value)}",
            )


def _v_record_withdrawal(
    d: Device, c: cmd.RecordWithdrawal, now: int, library: lib.Library
) -> None:
    _non_negative(c.withdrawn_nl, "command.withdrawn_nl")
    if d.refill is None or d.reservoir is None:
        raise RejectedCommand("command", "the reservoir was never filled: nothing to withdraw")
    if d.refill.withdrawn_nl is not None:
        raise RejectedCommand("command", "the withdrawal of this refill is already recorded")


def _v_complete_refill(d: Device, c: cmd.CompleteRefill, now: int, library: lib.Library) -> None:
    _check_overrides(c.overrides)
    _positive(c.added_nl, "command.added_nl")
    if d.implant is None or d.reservoir is None or d.refill is None:
        raise RejectedCommand(
            "command", "the reservoir was never filled: abort the refill and use the initial fill"
        )
    if d.refill.withdrawn_nl is None:
        raise RejectedCommand("command", "record the withdrawn residual first (reconciliation)")
    if d.refill.finding and not c.finding_reason.strip():
        raise RejectedCommand(
            "command.finding_reason",
            f"the refill has a finding ({d.refill.finding}): a clinician must acknowledge it "
            "with a reason before the refill completes",
        )
    _text(c.finding_reason, "command.finding_reason")
    pump = library.pump(d.implant.pump)
    if c.added_nl > pump.reservoir_volume.value:
        raise LimitViolation(
            "command.added_nl",
            "the added volume exceeds the reservoir capacity",
            limit_id=f"{pump.id}.reservoir",
            level=lib.Level.HARD.value,
            value=format_volume_nl(c.added_nl),
            limit=format_volume_nl(pump.reservoir_volume.value),
        )
    drug = c.drug if c.drug is not None else d.reservoir.drug
    entry = library.drug(drug, d.reservoir.indication)
    _concentration_allowed(
        entry, pump, c.concentration_ng_per_ml, c.overrides, "command.concentration_ng_per_ml"
    )
    changed = (
        drug != d.reservoir.drug or c.concentration_ng_per_ml != d.reservoir.concentration_ng_per_ml
    )
    if changed:
        if c.program is None:
            raise RejectedCommand(
                "command.program",
                "a concentration or drug change needs a new program",
            )
        if not pump.is_approved_for(drug) and not _overridden(
            c.overrides, f"{pump.id}.approved_drugs"
        ):
            raise LimitViolation(
                "command.drug",
                f"{pump.id} is not labelled for {drug}",
                limit_id=f"{pump.id}.approved_drugs",
                level=lib.Level.SOFT.value,
                value=drug,
            )
    if c.program is not None:
        if (c.program.drug, c.program.concentration_ng_per_ml) != (
            drug,
            c.concentration_ng_per_ml,
        ):
            raise RejectedCommand(
                "command.program", "the program must be for the drug and concentration filled"
            )
        _check_program_or_raise(
            d, c.program, c.overrides, c.confirm_withdrawal_risk, c.utc_now_s, now, library
        )
    resumes = d.resume_after_refill and not d.high_alarms()
    program = c.program if c.program is not None else d.program
    _check_restart(d, now, program if resumes else None, c.restart_reason)


def _check_program_or_raise(
    d: Device,
    program: Program,
    overrides: tuple[cmd.Override, ...],
    confirm: bool,
    utc_now_s: int | None,
    now: int,
    library: lib.Library,
) -> ProgramReport:
    assert d.implant is not None
    ctx = ProgramContext(
        previous=d.program,
        increases=d.increases,
        now_s=now,
        overrides=tuple((o.limit_id, o.reason) for o in overrides),
        confirm_withdrawal_risk=confirm,
        initial=d.program is None,
        utc_now_s=utc_now_s,
        effective_screening_dose_ng=d.trial.effective_dose_ng if d.trial is not None else None,
        restart_from_ng_per_day=_restart_from(d),
    )
    report = check_program(program, library, d.implant.pump, ctx)
    open_items = [v for v in report.violations if not (v.level == "soft" and v.overridden)]
    if open_items:
        first = open_items[0]
        rest = "; ".join(f"{v.limit}: {v.message}" for v in open_items[1:])
        raise LimitViolation(
            f"command.program.{first.field}",
            first.message + (f" (also: {rest})" if rest else ""),
            limit_id=first.limit,
            level=first.level,
            value=first.value,
            limit=first.bound,
        )
    if program.basal.clock is FlexClock.WALL and utc_now_s is None:
        raise InvalidInput("command.utc_now_s", "a wall-clock schedule needs the UTC time")
    return report


def _v_set_program(d: Device, c: cmd.SetProgram, now: int, library: lib.Library) -> None:
    _check_overrides(c.overrides)
    if d.implant is None or d.reservoir is None:
        raise RejectedCommand("command", "fill the reservoir before programming")
    if (c.program.drug, c.program.indication, c.program.concentration_ng_per_ml) != (
        d.reservoir.drug,
        d.reservoir.indication,
        d.reservoir.concentration_ng_per_ml,
    ):
        raise RejectedCommand(
            "command.program",
            "the program must match the drug, indication and concentration in the reservoir "
            "(a concentration change happens at a refill)",
        )
    _check_program_or_raise(
        d, c.program, c.overrides, c.confirm_withdrawal_risk, c.utc_now_s, now, library
    )
    # a program change while active restarts delivery when the pump ran at zero rate
    _check_restart(d, now, c.program if d.phase is Phase.ACTIVE else None, c.restart_reason)


def _v_prime(d: Device, c: cmd.Prime, now: int, library: lib.Library) -> None:
    _positive(c.duration_s, "command.duration_s")
    if c.duration_s > MAX_PRIMING_S:
        raise InvalidInput(
            "command.duration_s",
            "too long",
            value=c.duration_s,
            limit=f"<= {format_duration_s(MAX_PRIMING_S)}",
        )


def _v_tick(d: Device, c: cmd.Tick, now: int, library: lib.Library) -> None:
    if not dosing.SEGMENT_S <= c.max_segment_s <= DAY_S:
        raise InvalidInput(
            "command.max_segment_s",
            "must lie between one hour and one day",
            value=c.max_segment_s,
            limit=f"{dosing.SEGMENT_S}..{DAY_S} s",
        )


def _v_drive_report(d: Device, c: cmd.DriveReport, now: int, library: lib.Library) -> None:
    _non_negative(c.order_id, "command.order_id")
    _non_negative(c.delivered_nl, "command.delivered_nl")


def _v_clinician_bolus(d: Device, c: cmd.ClinicianBolus, now: int, library: lib.Library) -> None:
    _positive(c.dose_ng, "command.dose_ng")
    _positive(c.duration_s, "command.duration_s")
    decision = dosing.clinician_decision(d, now, library, c.dose_ng, c.duration_s)
    if decision.granted_ng == 0:
        reasons = ", ".join(r.value for r in decision.reasons)
        entry = library.drug(d.drug or "", d.indication or "")
        raise LimitViolation(
            "command.dose_ng",
            f"the bolus does not fit ({reasons})",
            limit_id=entry.max_daily.id,
            level=lib.Level.HARD.value,
            value=format_amount_ng(c.dose_ng),
            limit=entry.max_daily.text(),
        )


def _silence_start(a: ActiveAlarm, now: int) -> int:
    """Start of the pause a silence at ``now`` belongs to: the current pause if the alarm is
    still silenced, else now."""
    if (
        a.silenced_until_s is not None
        and a.silenced_until_s > now
        and a.silenced_from_s is not None
    ):
        return a.silenced_from_s
    return now


def _v_silence_alarm(d: Device, c: cmd.SilenceAlarm, now: int, library: lib.Library) -> None:
    """Any role may silence; a HIGH alarm's pause never exceeds 10 minutes, renewed or not, and
    the patient may silence the same HIGH alarm at most 3 times (docs/dosing-rules.md#silencing;
    REQ-ALM-008, REQ-ALM-009, REQ-ALM-010)."""
    _positive(c.duration_s, "command.duration_s")
    alarm = next((a for a in d.alarms if a.kind is c.kind), None)
    if alarm is None:
        raise RejectedCommand("command.kind", "that alarm is not active", value=c.kind.value)
    high = priority_of(c.kind) is Priority.HIGH
    bound = MAX_SILENCE_HIGH_S if high else MAX_SILENCE_S
    if c.duration_s > bound:
        raise LimitViolation(
            "command.duration_s",
            f"a {priority_of(c.kind).name} alarm cannot be silenced that long",
            limit_id="alarm.silence",
            level=lib.Level.HARD.value,
            value=format_duration_s(c.duration_s),
            limit=format_duration_s(bound),
        )
    if not high:
        return
    if c.role is Role.PATIENT and alarm.patient_silences >= MAX_PATIENT_SILENCES_HIGH:
        raise RejectedCommand(
            "command.role",
            f"the patient has silenced this HIGH alarm {alarm.patient_silences} times: only a "
            "clinician can silence it now",
            value=c.role.value,
            limit=f"{MAX_PATIENT_SILENCES_HIGH} patient silences",
        )
    start = _silence_start(alarm, now)
    if now + c.duration_s > start + MAX_SILENCE_HIGH_S:
        raise LimitViolation(
            "command.duration_s",
            f"a HIGH alarm cannot stay silenced longer than {format_duration_s(MAX_SILENCE_HIGH_S)}"
            f": it has been silenced since {format_duration_s(now - start)} ago",
            limit_id="alarm.silence",
            level=lib.Level.HARD.value,
            value=format_duration_s(now + c.duration_s - start),
            limit=format_duration_s(MAX_SILENCE_HIGH_S),
        )


def _v_empty_reservoir(d: Device, c: cmd.EmptyReservoir, now: int, library: lib.Library) -> None:
    _non_negative(c.withdrawn_nl, "command.withdrawn_nl")
    if d.reservoir is None:
        raise RejectedCommand("command", "the reservoir was never filled")
    if d.orders:
        raise RejectedCommand("command", "deliveries are still being reported: wait for them")


def _mri_policy(d: Device, library: lib.Library) -> lib.MriPolicy:
    assert d.implant is not None
    return library.pump(d.implant.pump).mri_policy


def _v_begin_mri(d: Device, c: cmd.BeginMri, now: int, library: lib.Library) -> None:
    _text(c.reason, "command.reason")
    if d.mri is not None:
        raise RejectedCommand("command", "an MRI is already in progress or awaiting confirmation")
    policy = _mri_policy(d, library)
    if policy is lib.MriPolicy.REFUSE:
        raise RejectedCommand(
            "command", f"{d.implant.pump if d.implant else 'this pump'} is MR unsafe: MRI refused"
        )
    if c.emergency and policy is not lib.MriPolicy.EMPTY_AND_RESET:
        raise RejectedCommand(
            "command.emergency",
            "an emergency scan with drug in the reservoir applies to a pump with a Flow "
            "Activated Valve (Prometra II); this pump's own MRI workflow applies",
        )
    if policy is lib.MriPolicy.SUSPEND_VERIFY:
        # docs/dosing-rules.md#r-mri-2 (REQ-MRI-003): both delay the detection of an extended
        # motor stall; the scan itself stops the rotor and the core suspends delivery then.
        if d.program is not None and basal_daily_ng(d.program.basal) == 0:
            raise RejectedCommand(
                "command",
                "a stopped pump (zero rate) as MRI preparation is rejected: it delays the "
                "detection of an extended motor stall",
            )
        if d.phase is Phase.SUSPENDED:
            raise RejectedCommand(
                "command",
                "a suspended pump as MRI preparation is rejected: it delays the detection of an "
                "extended motor stall; resume delivery before the scan (the scan suspends it)",
            )
        return
    if c.emergency:
        # docs/dosing-rules.md#r-mri-5 (REQ-MRI-006): drug in the reservoir, no time to empty it
        _reason(c.reason, "command.reason")
        return
    # EMPTY_AND_RESET: an empty reservoir and zero rate first
    volume = d.reservoir.volume_nl if d.reservoir is not None else 0
    if d.phase is Phase.ACTIVE or volume > 0:
        raise RejectedCommand(
            "command",
            "a planned MRI of this pump needs an empty reservoir and zero rate: suspend and "
            "empty the reservoir first (or record an emergency scan with a reason)",
            value=format_volume_nl(volume),
        )


def _v_end_mri(d: Device, c: cmd.EndMri, now: int, library: lib.Library) -> None:
    if d.mri is None or d.mri.ended_at_s is not None:
        raise RejectedCommand("command", "no MRI is in progress")


def _v_confirm_post_mri(d: Device, c: cmd.ConfirmPostMri, now: int, library: lib.Library) -> None:
    _reason(c.reason, "command.reason")
    if d.mri is None or d.mri.ended_at_s is None:
        raise RejectedCommand("command", "no MRI awaits its post-MRI confirmation")


def _v_none(d: Device, c: cmd.Command, now: int, library: lib.Library) -> None:
    return None


Validator = Callable[[Device, cmd.Command, int, lib.Library], None]

_VALIDATORS: dict[str, Callable[..., None]] = {
    "record_screening": _v_record_screening,
    "start_trial": _v_start_trial,
    "record_trial_dose": _v_record_trial_dose,
    "record_pain_score": _v_record_pain_score,
    "record_screening_response": _v_record_screening_response,
    "conclude_trial": _v_conclude_trial,
    "implant": _v_implant,
    "fill": _v_fill,
    "prime": _v_prime,
    "set_program": _v_set_program,
    "start_dosing": _v_start_dosing,
    "tick": _v_tick,
    "drive_report": _v_drive_report,
    "request_bolus": _v_none,
    "clinician_bolus": _v_clinician_bolus,
    "silence_alarm": _v_silence_alarm,
    "record_withdrawal": _v_record_withdrawal,
    "empty_reservoir": _v_empty_reservoir,
    "begin_mri": _v_begin_mri,
    "end_mri": _v_end_mri,
    "confirm_post_mri": _v_confirm_post_mri,
    "suspend": _v_stop_with_risk,
    "resume": _v_resume,
    "raise_alarm": _v_raise_alarm,
    "clear_alarm": _v_clear_alarm,
    "begin_refill": _v_none,
    "complete_refill": _v_complete_refill,
    "abort_refill": _v_reason_only,
    "explant": _v_stop_with_risk,
}


def validate(device: Device, command: cmd.Command, now_s: int, library: lib.Library) -> None:
    """Raise if ``command``'s data is not acceptable for ``device`` now."""
    _VALIDATORS[command.name](device, command, now_s, library)


# --- handlers ------------------------------------------------------------------------------

Result = tuple[Device, tuple[Effect, ...]]


def _h_record_screening(
    d: Device, c: cmd.RecordScreening, now: int, library: lib.Library
) -> Result:
    return dataclasses.replace(
        d, screening=Screening(now, c.candidate, c.baseline_pain, c.note)
    ), ()


def _h_start_trial(d: Device, c: cmd.StartTrial, now: int, library: lib.Library) -> Result:
    entry = library.drug(c.drug, c.indication)
    assert d.screening is not None
    trial = Trial(
        drug=entry.drug,
        indication=entry.indication,
        plan=c.plan,
        baseline_pain=d.screening.baseline_pain,
        opioid_status=c.opioid_status,
        screening_sequence_ng=entry.screening.doses_ng if entry.screening else (),
    )
    effects: tuple[Effect, ...] = ()
    if entry.warning is not None:
        effects = (Warn("unapproved_drug", entry.warning.text),)
    return dataclasses.replace(d, trial=trial), effects


def _h_record_trial_dose(
    d: Device, c: cmd.RecordTrialDose, now: int, library: lib.Library
) -> Result:
    t = _trial(d)
    t = dataclasses.replace(t, doses=(*t.doses, TrialDose(now, c.amount_ng)), response=None)
    # A trial dose is given at once by the clinician (a temporary catheter or needle): counted
    # as given, in the rolling 24 h ledger now, as a one-second delivery (order id 0: delivery
    # orders count from 1; doses within a day count together, the older one as long as the newer).
    fg = c.amount_ng * FG_PER_NG
    ledger = d.ledger.record(now, 0, now, fg, fg, 1)
    return dataclasses.replace(
        d, trial=t, ledger=ledger, delivered_ng=d.delivered_ng + c.amount_ng
    ), ()


def _h_record_pain_score(
    d: Device, c: cmd.RecordPainScore, now: int, library: lib.Library
) -> Result:
    return dataclasses.replace(d, trial=dataclasses.replace(_trial(d), last_pain=c.score)), ()


def _h_record_screening_response(
    d: Device, c: cmd.RecordScreeningResponse, now: int, library: lib.Library
) -> Result:
    t = _trial(d)
    effective = t.doses[-1].amount_ng if c.positive else t.effective_dose_ng
    t = dataclasses.replace(t, response=c.positive, effective_dose_ng=effective)
    return dataclasses.replace(d, trial=t), ()


def _h_conclude_trial(d: Device, c: cmd.ConcludeTrial, now: int, library: lib.Library) -> Result:
    t = _trial(d)
    t = dataclasses.replace(t, outcome=c.outcome, outcome_reason=c.reason)
    return dataclasses.replace(d, trial=t), ()


def _h_implant(d: Device, c: cmd.Implant, now: int, library: lib.Library) -> Result:
    pump = library.pump(c.pump)
    catheter = library.catheter(c.catheter)
    try:
        dead: int | None = dead_volume_nl(pump, catheter, c.trimmed_mm)
    except RejectedCommand:
        dead = None
    implant = ImplantedSystem(c.pump, c.catheter, c.trimmed_mm, now, dead)
    path = FluidPath.empty(dead) if dead is not None else None
    effects: tuple[Effect, ...] = ()
    if dead is None:
        effects = (
            Warn(
                "dead_volume_unknown",
                f"The library lacks the volume data of {c.pump} or {c.catheter}: the dead volume "
                "cannot be computed, so priming is refused until the library provides it.",
            ),
        )
    return dataclasses.replace(d, implant=implant, path=path), effects


def _h_fill(d: Device, c: cmd.Fill, now: int, library: lib.Library) -> Result:
    t = _trial(d)
    res = Reservoir(t.drug, t.indication, c.concentration_ng_per_ml, c.volume_nl)
    return dataclasses.replace(d, reservoir=res, last_fill_nl=c.volume_nl), ()


def _h_prime(d: Device, c: cmd.Prime, now: int, library: lib.Library) -> Result:
    return dosing.priming_order(d, now, c.duration_s, library)


def _figures(d: Device, now: int, library: lib.Library) -> ProgramFigures | None:
    """The side-by-side figures of ``d``'s program (None without one)."""
    if d.program is None:
        return None
    p = d.program
    basal = basal_daily_ng(p.basal)
    worst = basal + (
        p.patient_bolus.dose_ng * p.patient_bolus.max_per_24h if p.patient_bolus else 0
    )
    rate = -(-basal * NL_PER_ML // p.concentration_ng_per_ml)
    low = dosing.projection(d, now, library).low_reservoir_at_s
    return ProgramFigures(basal, worst, rate, low)


def _h_set_program(d: Device, c: cmd.SetProgram, now: int, library: lib.Library) -> Result:
    before = _figures(d, now, library)
    d = _install_program(d, c.program, c.utc_now_s, now)
    after = _figures(d, now, library)
    assert after is not None
    effects: list[Effect] = [ProgramComparison(before, after)]
    for o in d.orders:
        if o.kind is DeliveryKind.BASAL:
            effects.append(CancelOrder(o.id, "program changed"))
    effects.append(dosing.projection(d, now, library))
    return d, tuple(effects)


def _install_program(d: Device, program: Program, utc_now_s: int | None, now: int) -> Device:
    increases = tuple(i for i in d.increases if i.at_s > now - MAX_TITRATION_WINDOW_S)
    if d.program is not None:
        # a restart up to the last delivered dose is not an increase (REQ-TITR-005)
        old = titration_base(basal_daily_ng(d.program.basal), _restart_from(d))
        new = basal_daily_ng(program.basal)
        if new > old:
            increases = (*increases, Increase(now, old, new))
    return dataclasses.replace(
        d,
        program=program,
        program_start_s=now,
        basal_until_s=now,
        basal_carry=0,
        increases=increases,
        utc_minus_mono_s=utc_now_s - now if utc_now_s is not None else d.utc_minus_mono_s,
    )


def _h_start_dosing(d: Device, c: cmd.Command, now: int, library: lib.Library) -> Result:
    """Dosing starts (or resumes) now; the first start also begins the elapsed flex cycles."""
    start = now if isinstance(c, cmd.StartDosing) else d.program_start_s
    d = dataclasses.replace(d, basal_until_s=now, program_start_s=start)
    return d, (dosing.projection(d, now, library),)


def _h_tick(d: Device, c: cmd.Tick, now: int, library: lib.Library) -> Result:
    d, effects = dosing.apply_tick(d, now, library, c.max_segment_s)
    d, resounded = _resound(d, now)
    return d, (*effects, *resounded)


def _h_drive_report(d: Device, c: cmd.DriveReport, now: int, library: lib.Library) -> Result:
    return dosing.apply_report(d, c.order_id, c.delivered_nl, c.final, now)


def _h_request_bolus(d: Device, c: cmd.RequestBolus, now: int, library: lib.Library) -> Result:
    return dosing.request_bolus(d, now, library)


def _h_clinician_bolus(d: Device, c: cmd.ClinicianBolus, now: int, library: lib.Library) -> Result:
    return dosing.clinician_bolus(d, now, library, c.dose_ng, c.duration_s)


def _h_silence_alarm(d: Device, c: cmd.SilenceAlarm, now: int, library: lib.Library) -> Result:
    """Only the sound pauses: the alarm stays active (the audit record of the command records
    every silence, with its role; REQ-ALM-009)."""
    patient = 1 if c.role is Role.PATIENT else 0
    alarms = tuple(
        dataclasses.replace(
            a,
            silenced_until_s=now + c.duration_s,
            silenced_from_s=_silence_start(a, now),
            patient_silences=a.patient_silences + patient,
        )
        if a.kind is c.kind
        else a
        for a in d.alarms
    )
    return dataclasses.replace(d, alarms=alarms), ()


def _resound(d: Device, now: int) -> Result:
    """Alarms whose silence has ended sound again (REQ-ALM-009)."""
    ended = [a for a in d.alarms if a.silenced_until_s is not None and a.silenced_until_s <= now]
    if not ended:
        return d, ()
    alarms = tuple(
        dataclasses.replace(a, silenced_until_s=None, silenced_from_s=None) if a in ended else a
        for a in d.alarms
    )
    effects = tuple(Annunciate(a.kind, a.priority) for a in ended)
    return dataclasses.replace(d, alarms=alarms), effects


def _h_record_withdrawal(
    d: Device, c: cmd.RecordWithdrawal, now: int, library: lib.Library
) -> Result:
    assert d.refill is not None and d.reservoir is not None and d.implant is not None
    pump = library.pump(d.implant.pump)
    finding, deviation = reconcile(
        last_fill_nl=d.last_fill_nl,
        expected_residual_nl=d.refill.expected_residual_nl,
        withdrawn_nl=c.withdrawn_nl,
        over_bp=pump.over_infusion_tolerance.value,
        under_bp=pump.under_infusion_tolerance.value,
    )
    refill = dataclasses.replace(
        d.refill, withdrawn_nl=c.withdrawn_nl, finding=finding, deviation_bp=deviation
    )
    d = dataclasses.replace(
        d, refill=refill, reservoir=dataclasses.replace(d.reservoir, volume_nl=0)
    )
    effects: list[Effect] = []
    if finding:
        d = dosing.raise_alarms(d, (AlarmKind.REFILL_FINDING,), now)
        effects.append(Annunciate(AlarmKind.REFILL_FINDING, Priority.MEDIUM))
        shown = ("-" if deviation < 0 else "+") + format_percent_bp(abs(deviation))
        effects.append(Warn("refill_finding", f"{finding}: deviation {shown}"))
    return d, tuple(effects)


def reconcile(
    *, last_fill_nl: int, expected_residual_nl: int, withdrawn_nl: int, over_bp: int, under_bp: int
) -> tuple[str, int]:
    """Refill reconciliation (docs/dosing-rules.md; REQ-REF-001): with delivered_actual = fill -
    withdrawn and delivered_expected = fill - expected residual, a deviation above +tolerance is
    an over-infusion finding, below -tolerance an under-infusion finding. Returns the finding
    ("" for none) and the deviation in basis points (rounded toward zero)."""
    expected = last_fill_nl - expected_residual_nl
    actual = last_fill_nl - withdrawn_nl
    diff = actual - expected
    if expected <= 0:
        return ("over-infusion" if diff > 0 else "under-infusion" if diff < 0 else ""), 0
    deviation = abs(diff) * 10_000 // expected * (1 if diff >= 0 else -1)
    if diff * 10_000 > over_bp * expected:
        return "over-infusion", deviation
    if -diff * 10_000 > under_bp * expected:
        return "under-infusion", deviation
    return "", deviation


def _h_withdrawal_warning(
    d: Device, c: cmd.Suspend | cmd.Explant, now: int, library: lib.Library
) -> Result:
    if _withdrawal_risk(d, library):
        return d, (Warn("withdrawal_risk", WITHDRAWAL_TEXT),)
    return d, ()


def _h_raise_alarm(d: Device, c: cmd.RaiseAlarm, now: int, library: lib.Library) -> Result:
    effects: list[Effect] = [Annunciate(c.kind, priority_of(c.kind))]
    alarms = d.alarms
    if not d.has_alarm(c.kind):
        alarms = (*alarms, ActiveAlarm(c.kind, now, c.detail))
    if c.kind in WITHDRAWAL_ALARMS and _withdrawal_risk(d, library):
        effects.append(Warn("withdrawal_risk", WITHDRAWAL_TEXT))
    eos = d.eos_at_s
    if c.kind is AlarmKind.ERI and d.implant is not None and eos is None:
        interval = library.pump(d.implant.pump).eri_to_eos
        if interval is not None:
            eos = now + interval.value
            effects.append(Warn("end_of_service", f"end of service expected at t={eos} s"))
    return dataclasses.replace(d, alarms=alarms, eos_at_s=eos), tuple(effects)


def _h_clear_alarm(d: Device, c: cmd.ClearAlarm, now: int, library: lib.Library) -> Result:
    return dataclasses.replace(d, alarms=tuple(a for a in d.alarms if a.kind is not c.kind)), ()


def _h_begin_refill(d: Device, c: cmd.BeginRefill, now: int, library: lib.Library) -> Result:
    expected = d.reservoir.volume_nl if d.reservoir is not None else 0
    return dataclasses.replace(
        d,
        resume_after_refill=d.phase is Phase.ACTIVE,
        refill=RefillSession(expected_residual_nl=expected),
    ), ()


def _h_complete_refill(d: Device, c: cmd.CompleteRefill, now: int, library: lib.Library) -> Result:
    """The new fluid goes into the reservoir; the fluid path still holds the old one, which
    leaves the tip first (REQ-TIP-003). After a drug change the old drug's ledger is kept (its
    window counts it as it leaves the tip) and the old drug is delivered at the old program's
    daily dose until it has left; the clinician is shown when the new fluid reaches the tip and
    the volume rates before and after."""
    assert d.reservoir is not None and d.implant is not None
    old = d.reservoir
    drug = c.drug if c.drug is not None else old.drug
    res = Reservoir(drug, old.indication, c.concentration_ng_per_ml, c.added_nl)
    cleared = (AlarmKind.LOW_RESERVOIR, AlarmKind.REFILL_FINDING)
    alarms = tuple(a for a in d.alarms if a.kind not in cleared)
    ledger, others, flush = d.ledger, d.other_ledgers, d.flush_doses
    if drug != old.drug:
        ledger = next((e.ledger for e in others if e.drug == drug), Ledger())
        others = (
            *(e for e in others if e.drug not in (drug, old.drug)),
            DrugLedger(old.drug, d.ledger),
        )
        old_dose = basal_daily_ng(d.program.basal) if d.program is not None else 0
        flush = (
            *(f for f in flush if f.drug not in (drug, old.drug)),
            FlushDose(old.drug, old_dose),
        )
    d = dataclasses.replace(
        d,
        reservoir=res,
        last_fill_nl=c.added_nl,
        alarms=alarms,
        resume_after_refill=False,
        refill=None,
        ledger=ledger,
        other_ledgers=others,
        flush_doses=flush,
    )
    if c.program is not None:
        d = _install_program(d, c.program, c.utc_now_s, now)
    effects: list[Effect] = []
    arrives, before, after = dosing.tip_arrival(d, now)
    if arrives != now:
        effects.append(TipChange(arrives, before, after))
    effects.append(dosing.projection(d, now, library))
    return d, tuple(effects)


def _h_empty_reservoir(d: Device, c: cmd.EmptyReservoir, now: int, library: lib.Library) -> Result:
    assert d.reservoir is not None
    return dataclasses.replace(d, reservoir=dataclasses.replace(d.reservoir, volume_nl=0)), ()


def _h_begin_mri(d: Device, c: cmd.BeginMri, now: int, library: lib.Library) -> Result:
    policy = _mri_policy(d, library)
    session = MriSession(
        policy=policy.value,
        began_at_s=now,
        alarm_active_at_start=bool(d.alarms),
        resume_to_active=d.phase is Phase.ACTIVE,
        emergency=c.emergency,
        reason=c.reason,
    )
    d = dataclasses.replace(d, mri=session)
    if not c.emergency:
        return d, ()
    return _count_emergency_scan(d, now)


def _count_emergency_scan(d: Device, now: int) -> Result:
    """The Flow Activated Valve closes; the labelled worst case, 10 uL at the concentration
    leaving the catheter tip, is counted as delivered at the scan start, in the 24 h window of
    each drug it can carry (REQ-MRI-006). The volume is the next 10 uL the tip would deliver
    after the volume in flight, each drug at its richest concentration there (never less than
    the exact outflow). The fluid path is not moved: nothing is known to have left."""
    ahead = dosing.ahead(d, dosing.in_flight_nl(d), EMERGENCY_MRI_NL)
    order_id = d.next_order_id
    total_fg = 0
    shown: list[str] = []
    for drug in drugs_in(ahead):
        conc = max(p.concentration_ng_per_ml for p in ahead if p.drug == drug)
        fg = EMERGENCY_MRI_NL * conc
        ledger = dosing.ledger_of(d, drug).record(now, order_id, now, fg, fg, 1)
        d = _set_ledger(d, drug, ledger)
        total_fg += fg
        shown.append(
            f"{format_amount_ng(ng_up(fg))} of {drug} ({format_concentration_ng_per_ml(conc)})"
        )
    d = dataclasses.replace(
        d, next_order_id=order_id + 1, delivered_ng=d.delivered_ng + ng_up(total_fg)
    )
    text = (
        f"Emergency MRI with drug in the reservoir: the Flow Activated Valve closes. The labelled "
        f"worst case, {format_volume_nl(EMERGENCY_MRI_NL)}, is counted as delivered now: "
        + (", ".join(shown) if shown else "no drug")
        + ". After the scan delivery stays at zero until the valve reset is recorded."
    )
    return d, (Warn("emergency_mri", text),)


def _set_ledger(d: Device, drug: str, ledger: Ledger) -> Device:
    if drug == d.drug:
        return dataclasses.replace(d, ledger=ledger)
    others = tuple(e for e in d.other_ledgers if e.drug != drug)
    return dataclasses.replace(d, other_ledgers=(*others, DrugLedger(drug, ledger)))


def _h_end_mri(d: Device, c: cmd.EndMri, now: int, library: lib.Library) -> Result:
    assert d.mri is not None
    d = dataclasses.replace(d, mri=dataclasses.replace(d.mri, ended_at_s=now))
    d = dosing.raise_alarms(d, (AlarmKind.POST_MRI_VERIFICATION,), now)
    effects: tuple[Effect, ...] = (Annunciate(AlarmKind.POST_MRI_VERIFICATION, Priority.MEDIUM),)
    if d.mri is not None and d.mri.emergency:
        effects = (
            *effects,
            Warn(
                "valve_reset_required",
                "After the emergency scan delivery stays at zero until the Flow Activated Valve "
                "reset is recorded (confirm the post-MRI step), then resume.",
            ),
        )
    if dosing.mri_resumes(d):
        d = dataclasses.replace(d, basal_until_s=now)
    return d, effects


def _h_confirm_post_mri(d: Device, c: cmd.ConfirmPostMri, now: int, library: lib.Library) -> Result:
    alarms = tuple(a for a in d.alarms if a.kind is not AlarmKind.POST_MRI_VERIFICATION)
    return dataclasses.replace(d, mri=None, alarms=alarms), ()


def _h_abort_refill(d: Device, c: cmd.AbortRefill, now: int, library: lib.Library) -> Result:
    return dataclasses.replace(d, resume_after_refill=False), ()


def _h_none(d: Device, c: cmd.Command, now: int, library: lib.Library) -> Result:
    return d, ()


_HANDLERS: dict[str, Callable[..., Result]] = {
    "record_screening": _h_record_screening,
    "start_trial": _h_start_trial,
    "record_trial_dose": _h_record_trial_dose,
    "record_pain_score": _h_record_pain_score,
    "record_screening_response": _h_record_screening_response,
    "conclude_trial": _h_conclude_trial,
    "implant": _h_implant,
    "fill": _h_fill,
    "prime": _h_prime,
    "set_program": _h_set_program,
    "start_dosing": _h_start_dosing,
    "tick": _h_tick,
    "drive_report": _h_drive_report,
    "request_bolus": _h_request_bolus,
    "clinician_bolus": _h_clinician_bolus,
    "silence_alarm": _h_silence_alarm,
    "record_withdrawal": _h_record_withdrawal,
    "empty_reservoir": _h_empty_reservoir,
    "begin_mri": _h_begin_mri,
    "end_mri": _h_end_mri,
    "confirm_post_mri": _h_confirm_post_mri,
    "suspend": _h_withdrawal_warning,
    "resume": _h_start_dosing,
    "raise_alarm": _h_raise_alarm,
    "clear_alarm": _h_clear_alarm,
    "begin_refill": _h_begin_refill,
    "complete_refill": _h_complete_refill,
    "abort_refill": _h_abort_refill,
    "explant": _h_withdrawal_warning,
}


def apply(device: Device, command: cmd.Command, now_s: int, library: lib.Library) -> Result:
    """The updated device data and effects of an accepted, validated command."""
    device = _note_delivery(device, now_s)
    return _HANDLERS[command.name](device, command, now_s, library)


def describe(command: cmd.Command) -> str:
    """One line for the audit record: the command's parameters other than the role."""
    parts = []
    for f in dataclasses.fields(command):
        if f.name == "role":
            continue
        value = getattr(command, f.name)
        if value in ((), "", None):
            continue
        if isinstance(value, Program):
            shown: object = (
                f"{value.drug} {format_concentration_ng_per_ml(value.concentration_ng_per_ml)} "
                f"basal {format_dose_rate_ng_per_day(basal_daily_ng(value.basal))}"
                + (
                    f" bolus {format_amount_ng(value.patient_bolus.dose_ng)}"
                    f" x{value.patient_bolus.max_per_24h}"
                    if value.patient_bolus
                    else ""
                )
            )
        else:
            shown = value.value if hasattr(value, "value") else value
        parts.append(f"{f.name}={shown}")
    return " ".join(parts)
