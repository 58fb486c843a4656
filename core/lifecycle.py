"""The device lifecycle: one declarative table, the single source of truth
(docs/architecture.md#lifecycle).

Rules (read these before the table):

1. A command is accepted only if some row names its trigger and the device's current phase as a
   source, and the acting role is among the row's roles. Otherwise it is rejected and nothing
   changes (REQ-LIFE-001, REQ-LIFE-002).
2. Where several rows share a trigger and a source, each has a guard, the guards are mutually
   exclusive, and exactly one must hold; if none holds the command is rejected (REQ-LIFE-003).
   Guards are named pure predicates over the device and the command (:data:`GUARDS`).
3. ``trial_failed`` and ``explanted`` are terminal: no row leaves them (REQ-LIFE-004).
4. Drug leaves the pump only in the delivering phases :data:`DELIVERING` (REQ-LIFE-005). Every
   delivering phase has a row to a non-delivering phase (REQ-LIFE-006).
5. A HIGH-priority alarm moves the device to ``alarm`` in the same step from any phase where it
   can occur; ``alarm`` is fail-closed: only a clinician's ``clear_alarm`` of the last HIGH alarm
   leaves it, to ``suspended`` (REQ-ALM-001, REQ-LIFE-007).

The core's :func:`itdose.core.step` interprets this table; the diagram generator draws it; the
proofs compile it into a Z3 transition relation; the tests run it a second time on the
``transitions`` library and require both engines to agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from itdose.core import dosing
from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.commands import (
    ClearAlarm,
    Command,
    ConcludeTrial,
    DriveReport,
    RaiseAlarm,
    Tick,
)
from itdose.core.library import Library
from itdose.core.state import DeliveryKind, Device, Phase, Role, TrialOutcome

__all__ = [
    "DELIVERING",
    "GUARDS",
    "GUARD_TEXT",
    "IMPLANTED_PHASES",
    "RULES",
    "TERMINAL",
    "Rule",
    "rules_for",
]

C: Final = frozenset({Role.CLINICIAN})
S: Final = frozenset({Role.SERVICE})
PATIENT: Final = frozenset({Role.PATIENT})
PC: Final = frozenset({Role.PATIENT, Role.CLINICIAN})

P = Phase


@dataclass(frozen=True)
class Rule:
    """One row: ``trigger`` moves ``source`` to ``dest`` when ``guard`` holds (or always)."""

    trigger: str
    source: Phase
    dest: Phase
    roles: frozenset[Role]
    guard: str | None = None


DELIVERING: Final = frozenset({P.TRIAL, P.PRIMING, P.ACTIVE})
"""Phases in which the dose governor may grant any drug."""

TERMINAL: Final = frozenset({P.TRIAL_FAILED, P.EXPLANTED})
"""Absorbing phases."""

IMPLANTED_PHASES: Final = (P.IMPLANTED, P.PRIMING, P.ACTIVE, P.REFILL, P.SUSPENDED, P.ALARM)
"""Phases with a pump in the patient: alarms can occur and explant is possible."""


def _rows() -> tuple[Rule, ...]:
    rows: list[Rule] = [
        Rule("record_screening", P.SCREENING, P.SCREENING, C),
        Rule("start_trial", P.SCREENING, P.TRIAL, C, "screened_candidate"),
        Rule("record_trial_dose", P.TRIAL, P.TRIAL, C),
        Rule("record_pain_score", P.TRIAL, P.TRIAL, C),
        Rule("record_screening_response", P.TRIAL, P.TRIAL, C),
        Rule("conclude_trial", P.TRIAL, P.IMPLANT_READY, C, "trial_succeeded"),
        Rule("conclude_trial", P.TRIAL, P.TRIAL_FAILED, C, "trial_failed"),
        Rule("implant", P.IMPLANT_READY, P.IMPLANTED, C),
        Rule("fill", P.IMPLANTED, P.IMPLANTED, C),
        Rule("fill", P.SUSPENDED, P.SUSPENDED, C),
        Rule("prime", P.IMPLANTED, P.PRIMING, C, "ready_to_prime"),
        Rule("prime", P.SUSPENDED, P.PRIMING, C, "ready_to_prime"),
        Rule("start_dosing", P.PRIMING, P.ACTIVE, C, "ready_to_dose"),
        Rule("suspend", P.ACTIVE, P.SUSPENDED, C),
        Rule("resume", P.SUSPENDED, P.ACTIVE, C, "ready_to_dose"),
        Rule("clinician_bolus", P.ACTIVE, P.ACTIVE, C),
        Rule("begin_refill", P.ACTIVE, P.REFILL, C),
        Rule("begin_refill", P.SUSPENDED, P.REFILL, C),
        Rule("begin_refill", P.ALARM, P.REFILL, C),
        Rule("record_withdrawal", P.REFILL, P.REFILL, C),
        Rule("complete_refill", P.REFILL, P.ACTIVE, C, "refill_resumes_dosing"),
        Rule("complete_refill", P.REFILL, P.SUSPENDED, C, "refill_stays_stopped"),
        Rule("complete_refill", P.REFILL, P.ALARM, C, "high_alarm_active"),
        Rule("abort_refill", P.REFILL, P.SUSPENDED, C, "no_high_alarm"),
        Rule("abort_refill", P.REFILL, P.ALARM, C, "high_alarm_active"),
        Rule("empty_reservoir", P.SUSPENDED, P.SUSPENDED, C),
        Rule("begin_mri", P.ACTIVE, P.SUSPENDED, C),
        Rule("begin_mri", P.SUSPENDED, P.SUSPENDED, C),
        Rule("begin_mri", P.ALARM, P.ALARM, C),
        Rule("end_mri", P.SUSPENDED, P.ACTIVE, C, "mri_resumes_dosing"),
        Rule("end_mri", P.SUSPENDED, P.SUSPENDED, C, "mri_stays_stopped"),
        Rule("end_mri", P.ALARM, P.ALARM, C),
        Rule("clear_alarm", P.ALARM, P.SUSPENDED, C, "clears_last_high_alarm"),
        Rule("clear_alarm", P.ALARM, P.ALARM, C, "high_alarm_remains"),
    ]
    for phase in IMPLANTED_PHASES:
        if phase is not P.ALARM:
            rows.append(Rule("raise_alarm", phase, phase, S, "alarm_not_high"))
            rows.append(Rule("tick", phase, phase, S, "tick_quiet"))
            rows.append(Rule("drive_report", phase, phase, S, "report_within_order"))
            rows.append(Rule("clear_alarm", phase, phase, C))
        else:
            rows.append(Rule("tick", phase, phase, S))
            rows.append(Rule("drive_report", phase, phase, S))
        if phase is P.ALARM:
            rows.append(Rule("raise_alarm", phase, P.ALARM, S))
        else:
            rows.append(Rule("raise_alarm", phase, P.ALARM, S, "alarm_is_high"))
        if phase is not P.ALARM:
            rows.append(Rule("tick", phase, P.ALARM, S, "tick_raises_high"))
            rows.append(Rule("drive_report", phase, P.ALARM, S, "report_over_delivers"))
        rows.append(Rule("request_bolus", phase, phase, PATIENT))
        rows.append(Rule("silence_alarm", phase, phase, PC))
        if phase is not P.REFILL:
            rows.append(Rule("set_program", phase, phase, C))
        if phase in (P.ACTIVE, P.SUSPENDED, P.REFILL, P.ALARM):
            rows.append(Rule("confirm_post_mri", phase, phase, C))
        rows.append(Rule("explant", phase, P.EXPLANTED, C))
    return tuple(rows)


RULES: Final[tuple[Rule, ...]] = _rows()
"""The lifecycle table."""


def _index(rules: tuple[Rule, ...]) -> dict[tuple[str, Phase], tuple[Rule, ...]]:
    index: dict[tuple[str, Phase], tuple[Rule, ...]] = {}
    for r in rules:
        index[(r.trigger, r.source)] = (*index.get((r.trigger, r.source), ()), r)
    return index


_INDEX: Final = _index(RULES)


def rules_for(trigger: str, source: Phase) -> tuple[Rule, ...]:
    """The rows for ``trigger`` from ``source``, in table order."""
    return _INDEX.get((trigger, source), ())


# --- guards: named pure predicates over (device, command, now, library) ------------------------


def _screened_candidate(d: Device, c: Command, now: int, lib: Library) -> bool:
    return d.screening is not None and d.screening.candidate


def _evidence(d: Device) -> TrialOutcome | None:
    """What the recorded evidence says about the trial, or None if it says nothing yet."""
    t = d.trial
    if t is None:
        return None
    if t.screening_sequence_ng:
        # Baclofen: a positive response ends screening; no response to the last dose of the
        # sequence ends it as "not a candidate" (docs/dosing-rules.md#baclofen).
        if t.response is True:
            return TrialOutcome.SUCCESS
        if t.response is False and len(t.doses) >= len(t.screening_sequence_ng):
            return TrialOutcome.FAILURE
        return None
    if t.last_pain is None:
        return None
    # Success at a pain reduction of at least 50 % from baseline (docs/dosing-rules.md#trial).
    if t.baseline_pain > 0 and 2 * t.last_pain <= t.baseline_pain:
        return TrialOutcome.SUCCESS
    return TrialOutcome.FAILURE


def _conclusion(d: Device, c: Command) -> TrialOutcome | None:
    assert isinstance(c, ConcludeTrial)
    return c.outcome if c.outcome is not None else _evidence(d)


def _trial_succeeded(d: Device, c: Command, now: int, lib: Library) -> bool:
    return _conclusion(d, c) is TrialOutcome.SUCCESS


def _trial_failed(d: Device, c: Command, now: int, lib: Library) -> bool:
    return _conclusion(d, c) is TrialOutcome.FAILURE


def _ready_to_prime(d: Device, c: Command, now: int, lib: Library) -> bool:
    if d.implant is None or d.implant.dead_volume_nl is None or d.reservoir is None:
        return False
    empty = lib.pump(d.implant.pump).empty_threshold.value
    return (
        not d.primed
        and d.reservoir.volume_nl >= d.implant.dead_volume_nl - d.primed_nl + empty
        and not any(o.kind is DeliveryKind.PRIMING for o in d.orders)
    )


def _ready_to_dose(d: Device, c: Command, now: int, lib: Library) -> bool:
    return (
        d.primed
        and d.program is not None
        and d.mri is None
        and not d.has_alarm(AlarmKind.POST_MRI_VERIFICATION)
    )


def _high_alarm_active(d: Device, c: Command, now: int, lib: Library) -> bool:
    return bool(d.high_alarms())


def _no_high_alarm(d: Device, c: Command, now: int, lib: Library) -> bool:
    return not d.high_alarms()


def _refill_resumes_dosing(d: Device, c: Command, now: int, lib: Library) -> bool:
    return d.resume_after_refill and not d.high_alarms()


def _refill_stays_stopped(d: Device, c: Command, now: int, lib: Library) -> bool:
    return not d.resume_after_refill and not d.high_alarms()


def _alarm_is_high(d: Device, c: Command, now: int, lib: Library) -> bool:
    assert isinstance(c, RaiseAlarm)
    return priority_of(c.kind) is Priority.HIGH


def _alarm_not_high(d: Device, c: Command, now: int, lib: Library) -> bool:
    return not _alarm_is_high(d, c, now, lib)


def _high_after_clear(d: Device, c: Command) -> int:
    assert isinstance(c, ClearAlarm)
    return sum(1 for a in d.high_alarms() if a.kind is not c.kind)


def _clears_last_high_alarm(d: Device, c: Command, now: int, lib: Library) -> bool:
    return _high_after_clear(d, c) == 0


def _high_alarm_remains(d: Device, c: Command, now: int, lib: Library) -> bool:
    return _high_after_clear(d, c) > 0


def _tick_raises_high(d: Device, c: Command, now: int, lib: Library) -> bool:
    assert isinstance(c, Tick)
    return any(
        priority_of(k) is Priority.HIGH for k in dosing.tick_alarms(d, now, lib, c.max_segment_s)
    )


def _tick_quiet(d: Device, c: Command, now: int, lib: Library) -> bool:
    return not _tick_raises_high(d, c, now, lib)


def _report_over_delivers(d: Device, c: Command, now: int, lib: Library) -> bool:
    assert isinstance(c, DriveReport)
    return dosing.over_delivered(d, c.order_id, c.delivered_nl, now)


def _report_within_order(d: Device, c: Command, now: int, lib: Library) -> bool:
    return not _report_over_delivers(d, c, now, lib)


def _mri_resumes_dosing(d: Device, c: Command, now: int, lib: Library) -> bool:
    return dosing.mri_resumes(d)


def _mri_stays_stopped(d: Device, c: Command, now: int, lib: Library) -> bool:
    return not dosing.mri_resumes(d)


Guard = Callable[[Device, Command, int, Library], bool]

GUARDS: Final[dict[str, Guard]] = {
    "screened_candidate": _screened_candidate,
    "trial_succeeded": _trial_succeeded,
    "trial_failed": _trial_failed,
    "ready_to_prime": _ready_to_prime,
    "ready_to_dose": _ready_to_dose,
    "high_alarm_active": _high_alarm_active,
    "no_high_alarm": _no_high_alarm,
    "refill_resumes_dosing": _refill_resumes_dosing,
    "refill_stays_stopped": _refill_stays_stopped,
    "alarm_is_high": _alarm_is_high,
    "alarm_not_high": _alarm_not_high,
    "clears_last_high_alarm": _clears_last_high_alarm,
    "high_alarm_remains": _high_alarm_remains,
    "tick_raises_high": _tick_raises_high,
    "tick_quiet": _tick_quiet,
    "report_over_delivers": _report_over_delivers,
    "report_within_order": _report_within_order,
    "mri_resumes_dosing": _mri_resumes_dosing,
    "mri_stays_stopped": _mri_stays_stopped,
}
"""Every guard named in :data:`RULES`."""

GUARD_TEXT: Final[dict[str, str]] = {
    "screened_candidate": "a screening assessment finding the patient a candidate is recorded",
    "trial_succeeded": "the trial succeeded (pain reduced by at least 50 %, a positive baclofen "
    "response, or a clinician's conclusion with reason)",
    "trial_failed": "the trial failed (pain reduced by less than 50 %, no baclofen response to "
    "100 mcg, or a clinician's conclusion with reason)",
    "ready_to_prime": "the catheter is not primed yet, no priming is running, the dead volume "
    "is known and the reservoir holds it above the empty threshold",
    "ready_to_dose": "the catheter is primed, a program is set and no MRI step is pending",
    "high_alarm_active": "a HIGH-priority alarm is active",
    "no_high_alarm": "no HIGH-priority alarm is active",
    "refill_resumes_dosing": "the refill began during dosing and no HIGH alarm is active",
    "refill_stays_stopped": "the refill began while delivery was stopped and no HIGH alarm is "
    "active",
    "alarm_is_high": "the alarm is HIGH priority",
    "alarm_not_high": "the alarm is LOW or MEDIUM priority",
    "clears_last_high_alarm": "no other HIGH-priority alarm remains",
    "high_alarm_remains": "another HIGH-priority alarm remains",
    "tick_raises_high": "the clock finds a HIGH condition (empty reservoir, end of service, an "
    "overdue delivery report)",
    "tick_quiet": "the clock finds no new HIGH condition",
    "report_over_delivers": "the drive reports more than the order's volume",
    "report_within_order": "the drive reports no more than the order's volume",
    "mri_resumes_dosing": "the pump resumes by itself after the MRI (SynchroMed II, dosing "
    "before the scan, no alarm at its start)",
    "mri_stays_stopped": "delivery stays stopped after the MRI until a clinician acts",
}
"""What each guard requires, in words, for rejections and the diagram legend."""
