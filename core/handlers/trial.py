"""Trial and screening: the screening assessment, the trial or baclofen screening, its doses,
scores and responses, and its conclusion."""

from __future__ import annotations

import dataclasses
from typing import Final

from itdose.core import commands as cmd
from itdose.core import library as lib
from itdose.core.effects import Effect, Warn
from itdose.core.errors import InvalidInput, LimitViolation, RejectedCommand
from itdose.core.handlers.base import (
    HARD,
    SOFT,
    Applied,
    Handler,
    check_overrides,
    check_positive,
    check_text,
    overridden,
    require_reason,
    trial_of,
)
from itdose.core.library import Library
from itdose.core.state import Device, Screening, Trial, TrialDose, evolve
from itdose.core.units import FG_PER_NG, format_amount_ng, format_duration_s

PAIN_SCALE_MAX = 10
"""Pain scores are on the 0-10 numeric rating scale."""


def _score(value: int, field: str) -> None:
    if not 0 <= value <= PAIN_SCALE_MAX:
        raise InvalidInput(field, "pain score out of range", value=value, limit="0..10")


def _v_record_screening(d: Device, c: cmd.RecordScreening, now: int, library: Library) -> None:
    _score(c.baseline_pain, "command.baseline_pain")
    check_text(c.note, "command.note")


def _h_record_screening(d: Device, c: cmd.RecordScreening, now: int, library: Library) -> Applied:
    return Applied(evolve(d, screening=Screening(now, c.candidate, c.baseline_pain, c.note)))


def _v_start_trial(d: Device, c: cmd.StartTrial, now: int, library: Library) -> None:
    check_overrides(c.overrides)
    require_reason(c.plan, "command.plan")
    entry = library.drug(c.drug, c.indication)
    if c.opioid_status not in (None, "opioid-naive", "opioid-tolerant"):
        why = "expected 'opioid-naive', 'opioid-tolerant' or none"
        raise InvalidInput("command.opioid_status", why, value=c.opioid_status)
    limit_id = f"{entry.id}.unapproved"
    if not entry.approved_for_intrathecal_pump.value and not overridden(c.overrides, limit_id):
        why = (
            f"{entry.drug} is not approved for intrathecal pumps; selectable only with an "
            "override carrying a reason"
        )
        raise LimitViolation("command.drug", why, limit_id=limit_id, level=SOFT, value=c.drug)
    if entry.trial_bolus_range is None and entry.screening is None:
        why = f"the library gives no trial dose range for {entry.drug} ({entry.indication})"
        raise RejectedCommand("command.drug", why, value=c.drug)


def _h_start_trial(d: Device, c: cmd.StartTrial, now: int, library: Library) -> Applied:
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
    return Applied(evolve(d, trial=trial), effects)


def _v_record_trial_dose(d: Device, c: cmd.RecordTrialDose, now: int, library: Library) -> None:
    check_overrides(c.overrides)
    check_positive(c.amount_ng, "command.amount_ng")
    t = trial_of(d)
    entry = library.drug(t.drug, t.indication)
    window = d.ledger.window_total_ng(now)
    if window + c.amount_ng > entry.max_daily.value:
        why = "the trial dose would take the rolling 24 h total above the hard daily maximum"
        shown, cap = format_amount_ng(window + c.amount_ng), entry.max_daily
        raise LimitViolation(
            "command.amount_ng", why, limit_id=cap.id, level=HARD, value=shown, limit=cap.text()
        )
    if t.screening_sequence_ng:
        _v_screening_dose(t, entry, c, now)
        return
    rng = entry.trial_bolus_range
    if rng is None:  # start_trial refuses such a drug; defensive
        raise RejectedCommand("command.amount_ng", "no trial dose range in the library")
    if not rng.contains(c.amount_ng) and (
        rng.level is lib.Level.HARD or not overridden(c.overrides, rng.id)
    ):
        why, shown = "trial dose outside the library's trial range", format_amount_ng(c.amount_ng)
        level, bound = rng.level.value, rng.text()
        raise LimitViolation(
            "command.amount_ng", why, limit_id=rng.id, level=level, value=shown, limit=bound
        )


def _v_screening_dose(t: Trial, entry: lib.DrugEntry, c: cmd.RecordTrialDose, now: int) -> None:
    seq = t.screening_sequence_ng
    n = len(t.doses)
    limit_id = f"{entry.id}.screening_sequence"
    if t.response is True:
        raise RejectedCommand("command", "screening already has a positive response")
    if n >= len(seq):
        raise RejectedCommand("command", "screening sequence complete: not a candidate")
    if n > 0 and t.response is None:
        raise RejectedCommand("command", "record the response to the previous screening dose first")
    if c.amount_ng != seq[n]:
        shown, bound = format_amount_ng(c.amount_ng), format_amount_ng(seq[n])
        why = f"screening dose {n + 1} must be {bound}"
        raise LimitViolation(
            "command.amount_ng", why, limit_id=limit_id, level=HARD, value=shown, limit=bound
        )
    assert entry.screening is not None
    spacing = entry.screening.min_interval_s
    if n > 0 and now - t.doses[-1].at_s < spacing:
        spacing_id, why = f"{entry.id}.screening_spacing", "screening doses must be spaced"
        shown, bound = format_duration_s(now - t.doses[-1].at_s), f">= {format_duration_s(spacing)}"
        raise LimitViolation(
            "now_s", why, limit_id=spacing_id, level=HARD, value=shown, limit=bound
        )


def _h_record_trial_dose(d: Device, c: cmd.RecordTrialDose, now: int, library: Library) -> Applied:
    t = trial_of(d)
    t = dataclasses.replace(t, doses=(*t.doses, TrialDose(now, c.amount_ng)), response=None)
    # Given at once through a temporary catheter or needle: counted as given, as an instant in
    # full in every window containing now (docs/dosing-rules.md#r-tip-2, the end of
    # docs/dosing-rules.md#r-mri-5; REQ-GOV-005; order id 0: delivery orders count from 1).
    fg = c.amount_ng * FG_PER_NG
    ledger = d.ledger.record(now, 0, now, fg, fg, 1, instant=True)
    return Applied(evolve(d, trial=t, ledger=ledger, delivered_ng=d.delivered_ng + c.amount_ng))


def _v_record_pain_score(d: Device, c: cmd.RecordPainScore, now: int, library: Library) -> None:
    _score(c.score, "command.score")
    t = trial_of(d)
    if t.screening_sequence_ng:
        raise RejectedCommand("command", "baclofen screening records a response, not a pain score")
    if not t.doses:
        raise RejectedCommand("command", "no trial dose has been given yet")


def _h_record_pain_score(d: Device, c: cmd.RecordPainScore, now: int, library: Library) -> Applied:
    return Applied(evolve(d, trial=dataclasses.replace(trial_of(d), last_pain=c.score)))


def _v_record_screening_response(
    d: Device, c: cmd.RecordScreeningResponse, now: int, library: Library
) -> None:
    t = trial_of(d)
    if not t.screening_sequence_ng:
        raise RejectedCommand("command", "only a baclofen screening records a response")
    if not t.doses:
        raise RejectedCommand("command", "no screening dose has been given yet")
    if t.response is not None:
        raise RejectedCommand("command", "the response to this dose is already recorded")


def _h_record_screening_response(
    d: Device, c: cmd.RecordScreeningResponse, now: int, library: Library
) -> Applied:
    t = trial_of(d)
    effective = t.doses[-1].amount_ng if c.positive else t.effective_dose_ng
    t = dataclasses.replace(t, response=c.positive, effective_dose_ng=effective)
    return Applied(evolve(d, trial=t))


def _v_conclude_trial(d: Device, c: cmd.ConcludeTrial, now: int, library: Library) -> None:
    if c.outcome is not None:
        require_reason(c.reason, "command.reason")
    else:
        check_text(c.reason, "command.reason")


def _h_conclude_trial(d: Device, c: cmd.ConcludeTrial, now: int, library: Library) -> Applied:
    t = trial_of(d)
    t = dataclasses.replace(t, outcome=c.outcome, outcome_reason=c.reason)
    return Applied(evolve(d, trial=t))


HANDLERS: Final = (
    Handler(cmd.RecordScreening, _v_record_screening, _h_record_screening),
    Handler(cmd.StartTrial, _v_start_trial, _h_start_trial),
    Handler(cmd.RecordTrialDose, _v_record_trial_dose, _h_record_trial_dose),
    Handler(cmd.RecordPainScore, _v_record_pain_score, _h_record_pain_score),
    Handler(
        cmd.RecordScreeningResponse, _v_record_screening_response, _h_record_screening_response
    ),
    Handler(cmd.ConcludeTrial, _v_conclude_trial, _h_conclude_trial),
)
