"""The device lifecycle: one declarative table, the single source of truth
(docs/architecture.md#lifecycle).

Rules (read these before the table):

1. A command is accepted only if some row names its trigger and the device's current phase as a
   source, and the acting role is among the row's roles. Otherwise it is rejected and nothing
   changes (REQ-LIFE-001, REQ-LIFE-002).
2. Where several rows share a trigger and a source, each has a guard, the guards are mutually
   exclusive, and exactly one must hold; if none holds the command is rejected (REQ-LIFE-003).
   Guards are named pure predicates over the device before the command and the command
   (:data:`GUARDS`); none of them plans a delivery.
3. ``trial_failed`` and ``explanted`` are terminal: no row leaves them (REQ-LIFE-004).
4. Drug leaves the pump only in the delivering phases :data:`DELIVERING` (REQ-LIFE-005). Every
   delivering phase has a row to a non-delivering phase (REQ-LIFE-006).
5. One state-triggered rule, applied after every handler (:data:`HIGH_ALARM_STOPS`,
   :func:`after_handler`): a step that raises a HIGH-priority alarm (a ``raise_alarm`` of a HIGH
   kind, a ``tick`` that finds a new HIGH condition, a ``drive_report`` of over-delivery) ends in
   ``alarm`` when its row ends in an implanted phase. ``alarm`` is fail-closed: only a clinician's
   ``clear_alarm`` of the last HIGH alarm, a refill or an explant leaves it, never to a delivering
   phase (REQ-ALM-001, REQ-LIFE-007).

The core's :func:`itdose.core.step` interprets this table; ``itdose diagram`` draws it; the proofs
compile it into a Z3 transition relation; the tests run it a second time on the ``transitions``
library and require both engines to agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from itdose.core import dosing
from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.commands import ClearAlarm, Command, ConcludeTrial
from itdose.core.library import Library
from itdose.core.state import DeliveryKind, Device, Phase, Role, TrialOutcome

__all__ = [
    "DELIVERING",
    "GUARDS",
    "HIGH_ALARM_STOPS",
    "IMPLANTED_PHASES",
    "RULES",
    "TERMINAL",
    "Guard",
    "Rule",
    "StateRule",
    "after_handler",
    "rules_for",
]


@dataclass(frozen=True, slots=True)
class Guard:
    """A named pure predicate over (device before the command, command, now, library), with
    what it requires in words (for rejections and the diagram legend)."""

    name: str
    text: str
    holds: Callable[[Device, Command, int, Library], bool]

    def __repr__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Rule:
    """One row: ``trigger`` moves ``source`` to ``dest`` when ``guard`` holds (or always)."""

    trigger: str
    source: Phase
    dest: Phase
    roles: frozenset[Role]
    guard: Guard | None = None


@dataclass(frozen=True, slots=True)
class StateRule:
    """A state-triggered rule: after the handler, a step whose row ends in one of ``sources``
    and that raised an alarm of ``priority`` ends in ``dest`` instead (rule 5)."""

    name: str
    text: str
    priority: Priority
    sources: frozenset[Phase]
    dest: Phase


# --- phase sets --------------------------------------------------------------------------------

P = Phase

DELIVERING: Final = frozenset({P.TRIAL, P.PRIMING, P.ACTIVE})
"""Phases in which the dose governor may grant any drug."""

TERMINAL: Final = frozenset({P.TRIAL_FAILED, P.EXPLANTED})
"""Absorbing phases."""

IMPLANTED_PHASES: Final = (P.IMPLANTED, P.PRIMING, P.ACTIVE, P.REFILL, P.SUSPENDED, P.ALARM)
"""Phases with a pump in the patient: alarms can occur and explant is possible."""


# --- guards: one record each ---------------------------------------------------------------------


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


def _high_after_clear(d: Device, c: Command) -> int:
    assert isinstance(c, ClearAlarm)
    return sum(1 for a in d.high_alarms() if a.kind is not c.kind)


SCREENED_CANDIDATE: Final = Guard(
    "screened_candidate",
    "a screening assessment finding the patient a candidate is recorded",
    lambda d, c, now, lib: d.screening is not None and d.screening.candidate,
)
TRIAL_SUCCEEDED: Final = Guard(
    "trial_succeeded",
    "the trial succeeded (pain reduced by at least 50 %, a positive baclofen response, or a "
    "clinician's conclusion with reason)",
    lambda d, c, now, lib: _conclusion(d, c) is TrialOutcome.SUCCESS,
)
TRIAL_FAILED: Final = Guard(
    "trial_failed",
    "the trial failed (pain reduced by less than 50 %, no baclofen response to 100 mcg, or a "
    "clinician's conclusion with reason)",
    lambda d, c, now, lib: _conclusion(d, c) is TrialOutcome.FAILURE,
)
READY_TO_PRIME: Final = Guard(
    "ready_to_prime",
    "the catheter is not primed yet, no priming is running, the dead volume is known and the "
    "reservoir holds it above the empty threshold",
    _ready_to_prime,
)
READY_TO_DOSE: Final = Guard(
    "ready_to_dose",
    "the catheter is primed, a program is set and no MRI step is pending",
    _ready_to_dose,
)
HIGH_ALARM_ACTIVE: Final = Guard(
    "high_alarm_active",
    "a HIGH-priority alarm is active",
    lambda d, c, now, lib: bool(d.high_alarms()),
)
NO_HIGH_ALARM: Final = Guard(
    "no_high_alarm",
    "no HIGH-priority alarm is active",
    lambda d, c, now, lib: not d.high_alarms(),
)
REFILL_RESUMES_DOSING: Final = Guard(
    "refill_resumes_dosing",
    "the refill began during dosing and no HIGH alarm is active",
    lambda d, c, now, lib: d.resume_after_refill and not d.high_alarms(),
)
REFILL_STAYS_STOPPED: Final = Guard(
    "refill_stays_stopped",
    "the refill began while delivery was stopped and no HIGH alarm is active",
    lambda d, c, now, lib: not d.resume_after_refill and not d.high_alarms(),
)
CLEARS_LAST_HIGH_ALARM: Final = Guard(
    "clears_last_high_alarm",
    "no other HIGH-priority alarm remains",
    lambda d, c, now, lib: _high_after_clear(d, c) == 0,
)
HIGH_ALARM_REMAINS: Final = Guard(
    "high_alarm_remains",
    "another HIGH-priority alarm remains",
    lambda d, c, now, lib: _high_after_clear(d, c) > 0,
)
MRI_RESUMES_DOSING: Final = Guard(
    "mri_resumes_dosing",
    "the pump resumes by itself after the MRI (SynchroMed II, dosing before the scan, no alarm "
    "at its start)",
    lambda d, c, now, lib: dosing.mri_resumes(d),
)
MRI_STAYS_STOPPED: Final = Guard(
    "mri_stays_stopped",
    "delivery stays stopped after the MRI until a clinician acts",
    lambda d, c, now, lib: not dosing.mri_resumes(d),
)

GUARDS: Final[dict[str, Guard]] = {
    g.name: g
    for g in (
        SCREENED_CANDIDATE,
        TRIAL_SUCCEEDED,
        TRIAL_FAILED,
        READY_TO_PRIME,
        READY_TO_DOSE,
        HIGH_ALARM_ACTIVE,
        NO_HIGH_ALARM,
        REFILL_RESUMES_DOSING,
        REFILL_STAYS_STOPPED,
        CLEARS_LAST_HIGH_ALARM,
        HIGH_ALARM_REMAINS,
        MRI_RESUMES_DOSING,
        MRI_STAYS_STOPPED,
    )
}
"""Every guard of :data:`RULES`, by name (an index of the records above, not a second list)."""


# --- the table -----------------------------------------------------------------------------------

C: Final = frozenset({Role.CLINICIAN})
S: Final = frozenset({Role.SERVICE})
PATIENT: Final = frozenset({Role.PATIENT})
PC: Final = frozenset({Role.PATIENT, Role.CLINICIAN})

SCREENING, TRIAL, TRIAL_FAILED_ = P.SCREENING, P.TRIAL, P.TRIAL_FAILED
IMPLANT_READY, IMPLANTED, PRIMING, ACTIVE = P.IMPLANT_READY, P.IMPLANTED, P.PRIMING, P.ACTIVE
REFILL, SUSPENDED, ALARM, EXPLANTED = P.REFILL, P.SUSPENDED, P.ALARM, P.EXPLANTED

# fmt: off
RULES: Final[tuple[Rule, ...]] = (
    #     trigger                     source         destination    roles  guard
    # trial and screening
    Rule("record_screening",          SCREENING,     SCREENING,     C),
    Rule("start_trial",               SCREENING,     TRIAL,         C,     SCREENED_CANDIDATE),
    Rule("record_trial_dose",         TRIAL,         TRIAL,         C),
    Rule("record_pain_score",         TRIAL,         TRIAL,         C),
    Rule("record_screening_response", TRIAL,         TRIAL,         C),
    Rule("conclude_trial",            TRIAL,         IMPLANT_READY, C,     TRIAL_SUCCEEDED),
    Rule("conclude_trial",            TRIAL,         TRIAL_FAILED_, C,     TRIAL_FAILED),
    # implant and priming
    Rule("implant",                   IMPLANT_READY, IMPLANTED,     C),
    Rule("fill",                      IMPLANTED,     IMPLANTED,     C),
    Rule("fill",                      SUSPENDED,     SUSPENDED,     C),
    Rule("prime",                     IMPLANTED,     PRIMING,       C,     READY_TO_PRIME),
    Rule("prime",                     SUSPENDED,     PRIMING,       C,     READY_TO_PRIME),
    Rule("start_dosing",              PRIMING,       ACTIVE,        C,     READY_TO_DOSE),
    # dosing
    Rule("suspend",                   ACTIVE,        SUSPENDED,     C),
    Rule("resume",                    SUSPENDED,     ACTIVE,        C,     READY_TO_DOSE),
    Rule("clinician_bolus",           ACTIVE,        ACTIVE,        C),
    Rule("request_bolus",             IMPLANTED,     IMPLANTED,     PATIENT),
    Rule("request_bolus",             PRIMING,       PRIMING,       PATIENT),
    Rule("request_bolus",             ACTIVE,        ACTIVE,        PATIENT),
    Rule("request_bolus",             REFILL,        REFILL,        PATIENT),
    Rule("request_bolus",             SUSPENDED,     SUSPENDED,     PATIENT),
    Rule("request_bolus",             ALARM,         ALARM,         PATIENT),
    Rule("set_program",               IMPLANTED,     IMPLANTED,     C),
    Rule("set_program",               PRIMING,       PRIMING,       C),
    Rule("set_program",               ACTIVE,        ACTIVE,        C),
    Rule("set_program",               SUSPENDED,     SUSPENDED,     C),
    Rule("set_program",               ALARM,         ALARM,         C),
    # the clock and the drive (rule 5 moves a step that raises a HIGH alarm to alarm)
    Rule("tick",                      IMPLANTED,     IMPLANTED,     S),
    Rule("tick",                      PRIMING,       PRIMING,       S),
    Rule("tick",                      ACTIVE,        ACTIVE,        S),
    Rule("tick",                      REFILL,        REFILL,        S),
    Rule("tick",                      SUSPENDED,     SUSPENDED,     S),
    Rule("tick",                      ALARM,         ALARM,         S),
    Rule("drive_report",              IMPLANTED,     IMPLANTED,     S),
    Rule("drive_report",              PRIMING,       PRIMING,       S),
    Rule("drive_report",              ACTIVE,        ACTIVE,        S),
    Rule("drive_report",              REFILL,        REFILL,        S),
    Rule("drive_report",              SUSPENDED,     SUSPENDED,     S),
    Rule("drive_report",              ALARM,         ALARM,         S),
    # refill
    Rule("begin_refill",              ACTIVE,        REFILL,        C),
    Rule("begin_refill",              SUSPENDED,     REFILL,        C),
    Rule("begin_refill",              ALARM,         REFILL,        C),
    Rule("record_withdrawal",         REFILL,        REFILL,        C),
    Rule("complete_refill",           REFILL,        ACTIVE,        C,     REFILL_RESUMES_DOSING),
    Rule("complete_refill",           REFILL,        SUSPENDED,     C,     REFILL_STAYS_STOPPED),
    Rule("complete_refill",           REFILL,        ALARM,         C,     HIGH_ALARM_ACTIVE),
    Rule("abort_refill",              REFILL,        SUSPENDED,     C,     NO_HIGH_ALARM),
    Rule("abort_refill",              REFILL,        ALARM,         C,     HIGH_ALARM_ACTIVE),
    # MRI
    Rule("empty_reservoir",           SUSPENDED,     SUSPENDED,     C),
    Rule("begin_mri",                 ACTIVE,        SUSPENDED,     C),
    Rule("begin_mri",                 SUSPENDED,     SUSPENDED,     C),
    Rule("begin_mri",                 ALARM,         ALARM,         C),
    Rule("end_mri",                   SUSPENDED,     ACTIVE,        C,     MRI_RESUMES_DOSING),
    Rule("end_mri",                   SUSPENDED,     SUSPENDED,     C,     MRI_STAYS_STOPPED),
    Rule("end_mri",                   ALARM,         ALARM,         C),
    Rule("confirm_post_mri",          ACTIVE,        ACTIVE,        C),
    Rule("confirm_post_mri",          REFILL,        REFILL,        C),
    Rule("confirm_post_mri",          SUSPENDED,     SUSPENDED,     C),
    Rule("confirm_post_mri",          ALARM,         ALARM,         C),
    # alarms
    Rule("raise_alarm",               IMPLANTED,     IMPLANTED,     S),
    Rule("raise_alarm",               PRIMING,       PRIMING,       S),
    Rule("raise_alarm",               ACTIVE,        ACTIVE,        S),
    Rule("raise_alarm",               REFILL,        REFILL,        S),
    Rule("raise_alarm",               SUSPENDED,     SUSPENDED,     S),
    Rule("raise_alarm",               ALARM,         ALARM,         S),
    Rule("silence_alarm",             IMPLANTED,     IMPLANTED,     PC),
    Rule("silence_alarm",             PRIMING,       PRIMING,       PC),
    Rule("silence_alarm",             ACTIVE,        ACTIVE,        PC),
    Rule("silence_alarm",             REFILL,        REFILL,        PC),
    Rule("silence_alarm",             SUSPENDED,     SUSPENDED,     PC),
    Rule("silence_alarm",             ALARM,         ALARM,         PC),
    Rule("clear_alarm",               IMPLANTED,     IMPLANTED,     C),
    Rule("clear_alarm",               PRIMING,       PRIMING,       C),
    Rule("clear_alarm",               ACTIVE,        ACTIVE,        C),
    Rule("clear_alarm",               REFILL,        REFILL,        C),
    Rule("clear_alarm",               SUSPENDED,     SUSPENDED,     C),
    Rule("clear_alarm",               ALARM,         SUSPENDED,     C,     CLEARS_LAST_HIGH_ALARM),
    Rule("clear_alarm",               ALARM,         ALARM,         C,     HIGH_ALARM_REMAINS),
    # explant
    Rule("explant",                   IMPLANTED,     EXPLANTED,     C),
    Rule("explant",                   PRIMING,       EXPLANTED,     C),
    Rule("explant",                   ACTIVE,        EXPLANTED,     C),
    Rule("explant",                   REFILL,        EXPLANTED,     C),
    Rule("explant",                   SUSPENDED,     EXPLANTED,     C),
    Rule("explant",                   ALARM,         EXPLANTED,     C),
)
"""The lifecycle table."""
# fmt: on

HIGH_ALARM_STOPS: Final = StateRule(
    "high_alarm_raised",
    "the step raised a HIGH-priority alarm",
    Priority.HIGH,
    frozenset(IMPLANTED_PHASES),
    ALARM,
)
"""Rule 5, the one state-triggered rule (REQ-ALM-001)."""


def after_handler(dest: Phase, raised: tuple[AlarmKind, ...]) -> Phase:
    """The phase a step ends in: the row's ``dest``, unless rule 5 applies to the alarms the
    handler ``raised`` (as h11 fires its state-triggered transitions after every event)."""
    rule = HIGH_ALARM_STOPS
    if raised and dest in rule.sources and any(priority_of(k) >= rule.priority for k in raised):
        return rule.dest
    return dest


def _index(rules: tuple[Rule, ...]) -> dict[tuple[str, Phase], tuple[Rule, ...]]:
    index: dict[tuple[str, Phase], tuple[Rule, ...]] = {}
    for r in rules:
        index[(r.trigger, r.source)] = (*index.get((r.trigger, r.source), ()), r)
    return index


_INDEX: Final = _index(RULES)


def rules_for(trigger: str, source: Phase) -> tuple[Rule, ...]:
    """The rows for ``trigger`` from ``source``, in table order."""
    return _INDEX.get((trigger, source), ())
