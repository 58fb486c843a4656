"""The device state: one immutable value that round-trips through JSON (REQ-CORE-003).

Nothing here changes in place: :func:`itdose.core.step` returns a new :class:`Device` or raises and
leaves the old one as it was (REQ-CORE-002).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from itdose.core.alarms import AlarmKind, Priority, priority_of

__all__ = [
    "ActiveAlarm",
    "Device",
    "ImplantedSystem",
    "Phase",
    "Reservoir",
    "Role",
    "Screening",
    "Trial",
    "TrialDose",
    "TrialOutcome",
]


class Phase(enum.Enum):
    """Lifecycle states (DESIGN.md section 4)."""

    SCREENING = "screening"
    TRIAL = "trial"
    TRIAL_FAILED = "trial_failed"
    IMPLANT_READY = "implant_ready"
    IMPLANTED = "implanted"
    PRIMING = "priming"
    ACTIVE = "active"
    REFILL = "refill"
    SUSPENDED = "suspended"
    ALARM = "alarm"
    EXPLANTED = "explanted"


class Role(enum.Enum):
    """Who issues a command; the lifecycle table says which roles may issue which command."""

    PATIENT = "patient"
    CLINICIAN = "clinician"
    SERVICE = "service"
    """The device itself or its controller: drive reports, the clock, self-tests."""


class TrialOutcome(enum.Enum):
    """A clinician's conclusion of a trial, when it departs from (or replaces) the evidence."""

    SUCCESS = "success"
    FAILURE = "failure"


@dataclass(frozen=True)
class Screening:
    """The screening assessment recorded before a trial."""

    at_s: int
    candidate: bool
    baseline_pain: int
    note: str


@dataclass(frozen=True)
class TrialDose:
    """One trial (or baclofen screening) dose given."""

    at_s: int
    amount_ng: int


@dataclass(frozen=True)
class Trial:
    """A trial of one drug for one indication.

    For opioids and ziconotide the evidence is the pain score (0-10) against the screening
    baseline; for baclofen it is the response to the latest screening dose.
    """

    drug: str
    indication: str
    plan: str
    baseline_pain: int
    opioid_status: str | None = None
    screening_sequence_ng: tuple[int, ...] = ()
    """Baclofen: the screening doses in order, from the drug library; empty for other drugs."""
    doses: tuple[TrialDose, ...] = ()
    last_pain: int | None = None
    response: bool | None = None
    """Baclofen: response to the latest screening dose (None until recorded)."""
    effective_dose_ng: int | None = None
    """Baclofen: the screening dose that produced a positive response."""
    outcome: TrialOutcome | None = None
    outcome_reason: str = ""


@dataclass(frozen=True)
class ImplantedSystem:
    """The implanted system: pump model, catheter model and trimmed length."""

    pump: str
    catheter: str
    trimmed_mm: int
    at_s: int
    dead_volume_nl: int | None
    """Pump tubing + implanted catheter volume, or None where the library lacks the data."""


@dataclass(frozen=True)
class Reservoir:
    """What the pump reservoir holds (tracked, not measured)."""

    drug: str
    indication: str
    concentration_ng_per_ml: int
    volume_nl: int


@dataclass(frozen=True)
class ActiveAlarm:
    """An alarm condition that is present; kept in order of occurrence."""

    kind: AlarmKind
    raised_at_s: int
    detail: str = ""

    @property
    def priority(self) -> Priority:
        return priority_of(self.kind)


@dataclass(frozen=True)
class Device:
    """The whole state of one patient's device, from screening to explant."""

    phase: Phase = Phase.SCREENING
    clock_s: int | None = None
    """Time of the latest accepted command on the monotonic timeline (None before the first)."""
    screening: Screening | None = None
    trial: Trial | None = None
    implant: ImplantedSystem | None = None
    reservoir: Reservoir | None = None
    primed: bool = False
    alarms: tuple[ActiveAlarm, ...] = ()
    resume_after_refill: bool = False
    """Set when a refill began in ``active``: completing it returns to ``active``."""

    def has_alarm(self, kind: AlarmKind) -> bool:
        return any(a.kind is kind for a in self.alarms)

    def high_alarms(self) -> tuple[ActiveAlarm, ...]:
        return tuple(a for a in self.alarms if a.priority is Priority.HIGH)

    @property
    def drug(self) -> str | None:
        """The drug in the pump, else the drug on trial."""
        if self.reservoir is not None:
            return self.reservoir.drug
        return self.trial.drug if self.trial is not None else None

    @property
    def indication(self) -> str | None:
        if self.reservoir is not None:
            return self.reservoir.indication
        return self.trial.indication if self.trial is not None else None
