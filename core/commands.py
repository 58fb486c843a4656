"""Commands: what clinicians, patients and the device's own service layer ask of the core.

Each command is an immutable value carrying the acting :class:`~itdose.core.state.Role` and its
parameters in integer base units. Its ``name`` is the trigger in the lifecycle table. Field types
are checked by :func:`itdose.core.step` before anything else (REQ-CORE-004).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from itdose.core.alarms import AlarmKind
from itdose.core.state import Role, TrialOutcome

__all__ = [
    "COMMANDS",
    "AbortRefill",
    "BeginRefill",
    "ClearAlarm",
    "Command",
    "CompletePriming",
    "CompleteRefill",
    "ConcludeTrial",
    "Explant",
    "Fill",
    "Implant",
    "Override",
    "Prime",
    "RaiseAlarm",
    "RecordPainScore",
    "RecordScreening",
    "RecordScreeningResponse",
    "RecordTrialDose",
    "Resume",
    "StartDosing",
    "StartTrial",
    "Suspend",
]


@dataclass(frozen=True)
class Override:
    """A clinician's override of one soft limit, with the reason that is recorded with it."""

    limit_id: str
    reason: str


@dataclass(frozen=True)
class Command:
    """Base of every command."""

    name: ClassVar[str] = ""
    role: Role


@dataclass(frozen=True)
class RecordScreening(Command):
    """The screening assessment: candidate or not, and the baseline pain score (0-10)."""

    name: ClassVar[str] = "record_screening"
    candidate: bool
    baseline_pain: int
    note: str = ""


@dataclass(frozen=True)
class StartTrial(Command):
    """Begin a trial (or baclofen screening) of ``drug`` for ``indication``."""

    name: ClassVar[str] = "start_trial"
    drug: str
    indication: str
    plan: str
    opioid_status: str | None = None
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class RecordTrialDose(Command):
    """A trial or screening dose given (baclofen: 50, 75, 100 mcg at >= 24 h spacing)."""

    name: ClassVar[str] = "record_trial_dose"
    amount_ng: int
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class RecordPainScore(Command):
    """A pain score (0-10) after a trial dose."""

    name: ClassVar[str] = "record_pain_score"
    score: int


@dataclass(frozen=True)
class RecordScreeningResponse(Command):
    """Baclofen: whether the latest screening dose produced a positive response."""

    name: ClassVar[str] = "record_screening_response"
    positive: bool


@dataclass(frozen=True)
class ConcludeTrial(Command):
    """Conclude the trial from the evidence, or by a clinician's outcome with a reason."""

    name: ClassVar[str] = "conclude_trial"
    outcome: TrialOutcome | None = None
    reason: str = ""


@dataclass(frozen=True)
class Implant(Command):
    """The pump and catheter are implanted; the trimmed catheter length fixes the dead volume."""

    name: ClassVar[str] = "implant"
    pump: str
    catheter: str
    trimmed_mm: int
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class Fill(Command):
    """The initial fill of the reservoir after implant."""

    name: ClassVar[str] = "fill"
    volume_nl: int
    concentration_ng_per_ml: int
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class Prime(Command):
    """Start the priming bolus: exactly the dead volume, to the catheter."""

    name: ClassVar[str] = "prime"


@dataclass(frozen=True)
class CompletePriming(Command):
    """The drive reports the priming bolus delivered."""

    name: ClassVar[str] = "complete_priming"


@dataclass(frozen=True)
class StartDosing(Command):
    """Start dosing once the catheter is primed."""

    name: ClassVar[str] = "start_dosing"


@dataclass(frozen=True)
class Suspend(Command):
    """Stop delivery for a reason; baclofen needs ``confirm_withdrawal_risk``."""

    name: ClassVar[str] = "suspend"
    reason: str
    confirm_withdrawal_risk: bool = False


@dataclass(frozen=True)
class Resume(Command):
    """Resume delivery after a suspension."""

    name: ClassVar[str] = "resume"
    reason: str


@dataclass(frozen=True)
class RaiseAlarm(Command):
    """An alarm condition detected by the device (drive report, self-test, battery)."""

    name: ClassVar[str] = "raise_alarm"
    kind: AlarmKind
    detail: str = ""


@dataclass(frozen=True)
class ClearAlarm(Command):
    """A clinician clears an alarm whose cause is resolved."""

    name: ClassVar[str] = "clear_alarm"
    kind: AlarmKind
    reason: str


@dataclass(frozen=True)
class BeginRefill(Command):
    """Begin a refill: delivery stops while the reservoir is accessed."""

    name: ClassVar[str] = "begin_refill"


@dataclass(frozen=True)
class CompleteRefill(Command):
    """Complete a refill: residual withdrawn, new drug added."""

    name: ClassVar[str] = "complete_refill"
    withdrawn_nl: int
    added_nl: int
    concentration_ng_per_ml: int
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class AbortRefill(Command):
    """Abandon a refill; nothing is added."""

    name: ClassVar[str] = "abort_refill"
    reason: str


@dataclass(frozen=True)
class Explant(Command):
    """Remove the system; baclofen needs ``confirm_withdrawal_risk``."""

    name: ClassVar[str] = "explant"
    reason: str
    confirm_withdrawal_risk: bool = False


COMMANDS: dict[str, type[Command]] = {
    cls.name: cls
    for cls in (
        RecordScreening,
        StartTrial,
        RecordTrialDose,
        RecordPainScore,
        RecordScreeningResponse,
        ConcludeTrial,
        Implant,
        Fill,
        Prime,
        CompletePriming,
        StartDosing,
        Suspend,
        Resume,
        RaiseAlarm,
        ClearAlarm,
        BeginRefill,
        CompleteRefill,
        AbortRefill,
        Explant,
    )
}
"""Every command class by its trigger name."""


def command_fields(cls: type[Command]) -> tuple[str, ...]:
    """The parameter names of a command class (role first)."""
    return tuple(f.name for f in dataclasses.fields(cls))
