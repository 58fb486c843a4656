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
from itdose.core import library as lib
from itdose.core.alarms import AlarmKind, priority_of
from itdose.core.effects import Annunciate, Effect, Warn
from itdose.core.errors import InvalidInput, LimitViolation, RejectedCommand
from itdose.core.state import (
    ActiveAlarm,
    Device,
    ImplantedSystem,
    Phase,
    Reservoir,
    Screening,
    Trial,
    TrialDose,
)
from itdose.core.units import (
    format_amount_ng,
    format_concentration_ng_per_ml,
    format_duration_s,
    format_volume_nl,
)

__all__ = ["apply", "describe", "validate"]

MAX_TEXT = 2000
PAIN_SCALE_MAX = 10
"""Pain scores are on the 0-10 numeric rating scale."""

WITHDRAWAL_ALARMS = frozenset(
    {AlarmKind.EMPTY_RESERVOIR, AlarmKind.MOTOR_STALL, AlarmKind.END_OF_SERVICE}
)
"""Alarms that raise the withdrawal-risk warning on a withdrawal-risk drug (DECISIONS.md)."""

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


def _v_reason_only(
    d: Device, c: cmd.Resume | cmd.AbortRefill, now: int, library: lib.Library
) -> None:
    _reason(c.reason, "command.reason")


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


def _v_complete_refill(d: Device, c: cmd.CompleteRefill, now: int, library: lib.Library) -> None:
    _check_overrides(c.overrides)
    _non_negative(c.withdrawn_nl, "command.withdrawn_nl")
    _non_negative(c.added_nl, "command.added_nl")
    if d.implant is None or d.reservoir is None:
        raise RejectedCommand(
            "command", "the reservoir was never filled: abort the refill and use the initial fill"
        )
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
    entry = library.drug(d.reservoir.drug, d.reservoir.indication)
    _concentration_allowed(
        entry, pump, c.concentration_ng_per_ml, c.overrides, "command.concentration_ng_per_ml"
    )
    if c.concentration_ng_per_ml != d.reservoir.concentration_ng_per_ml:
        raise RejectedCommand(
            "command.concentration_ng_per_ml",
            "a concentration change needs a new program and a bridge bolus, which this "
            "version of the core does not support yet",
            value=format_concentration_ng_per_ml(c.concentration_ng_per_ml),
            limit=format_concentration_ng_per_ml(d.reservoir.concentration_ng_per_ml),
        )


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
    "prime": _v_none,
    "complete_priming": _v_none,
    "start_dosing": _v_none,
    "suspend": _v_stop_with_risk,
    "resume": _v_reason_only,
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
    return dataclasses.replace(d, trial=t), ()


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
        dead: int | None = lib.dead_volume_nl(pump, catheter, c.trimmed_mm)
    except RejectedCommand:
        dead = None
    implant = ImplantedSystem(c.pump, c.catheter, c.trimmed_mm, now, dead)
    effects: tuple[Effect, ...] = ()
    if dead is None:
        effects = (
            Warn(
                "dead_volume_unknown",
                f"The library lacks the volume data of {c.pump} or {c.catheter}: the dead volume "
                "cannot be computed, so priming is refused until the library provides it.",
            ),
        )
    return dataclasses.replace(d, implant=implant), effects


def _h_fill(d: Device, c: cmd.Fill, now: int, library: lib.Library) -> Result:
    t = _trial(d)
    res = Reservoir(t.drug, t.indication, c.concentration_ng_per_ml, c.volume_nl)
    return dataclasses.replace(d, reservoir=res), ()


def _h_complete_priming(
    d: Device, c: cmd.CompletePriming, now: int, library: lib.Library
) -> Result:
    assert d.implant is not None and d.implant.dead_volume_nl is not None
    assert d.reservoir is not None
    # The priming bolus fills the dead volume: taken from the reservoir, recorded "to catheter",
    # not as dose to the patient (DECISIONS.md "Priming bolus").
    res = dataclasses.replace(
        d.reservoir, volume_nl=d.reservoir.volume_nl - d.implant.dead_volume_nl
    )
    return dataclasses.replace(d, primed=True, reservoir=res), ()


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
    return dataclasses.replace(d, alarms=alarms), tuple(effects)


def _h_clear_alarm(d: Device, c: cmd.ClearAlarm, now: int, library: lib.Library) -> Result:
    return dataclasses.replace(d, alarms=tuple(a for a in d.alarms if a.kind is not c.kind)), ()


def _h_begin_refill(d: Device, c: cmd.BeginRefill, now: int, library: lib.Library) -> Result:
    return dataclasses.replace(d, resume_after_refill=d.phase is Phase.ACTIVE), ()


def _h_complete_refill(d: Device, c: cmd.CompleteRefill, now: int, library: lib.Library) -> Result:
    assert d.reservoir is not None
    res = dataclasses.replace(
        d.reservoir, volume_nl=c.added_nl, concentration_ng_per_ml=c.concentration_ng_per_ml
    )
    alarms = tuple(a for a in d.alarms if a.kind is not AlarmKind.LOW_RESERVOIR)
    return dataclasses.replace(d, reservoir=res, alarms=alarms, resume_after_refill=False), ()


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
    "prime": _h_none,
    "complete_priming": _h_complete_priming,
    "start_dosing": _h_none,
    "suspend": _h_withdrawal_warning,
    "resume": _h_none,
    "raise_alarm": _h_raise_alarm,
    "clear_alarm": _h_clear_alarm,
    "begin_refill": _h_begin_refill,
    "complete_refill": _h_complete_refill,
    "abort_refill": _h_abort_refill,
    "explant": _h_withdrawal_warning,
}


def apply(device: Device, command: cmd.Command, now_s: int, library: lib.Library) -> Result:
    """The updated device data and effects of an accepted, validated command."""
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
        shown = value.value if hasattr(value, "value") else value
        parts.append(f"{f.name}={shown}")
    return " ".join(parts)
