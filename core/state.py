"""The device state: one immutable value that round-trips through JSON (REQ-CORE-003).

Nothing here changes in place: :func:`itdose.core.step` returns a new :class:`Device` or raises and
leaves the old one as it was (REQ-CORE-002).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import Any, Final

from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.errors import InvalidInput
from itdose.core.ledger import BolusHistory, Ledger
from itdose.core.library import MriPolicy
from itdose.core.path import FluidPath
from itdose.core.program import Increase, Program


class Phase(enum.Enum):
    """Lifecycle states (docs/architecture.md#lifecycle)."""

    __hash__ = object.__hash__  # as the members compare; Enum's own hashes the name, every lookup

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

    __hash__ = object.__hash__  # as Phase

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
    silenced_until_s: int | None = None
    silenced_from_s: int | None = None
    """Start of the current silence pause: a HIGH alarm's pause never outlasts 10 minutes from
    here, however often it is renewed (docs/dosing-rules.md#r-alm-2)."""
    patient_silences: int = 0
    """How often the patient silenced this alarm (docs/dosing-rules.md#r-alm-3)."""

    @property
    def priority(self) -> Priority:
        return priority_of(self.kind)


class DeliveryKind(enum.Enum):
    """What a delivery order is for; every kind passes the dose governor."""

    BASAL = "basal"
    PRIMING = "priming"
    PATIENT_BOLUS = "patient_bolus"
    CLINICIAN_BOLUS = "clinician_bolus"


@dataclass(frozen=True)
class Order:
    """A delivery the governor granted and the drive has not finished reporting.

    Every order pushes reservoir fluid into the fluid path; what it brings to the patient is what
    its volume pushes out of the catheter tip (:mod:`itdose.core.path`). ``reported_nl`` is the
    cumulative volume the drive reported so far, ``reported_s`` when (0: not yet). Its pace,
    ``volume_nl`` over ``end_s - start_s``, is what the drive is trusted not to exceed
    (:mod:`itdose.core.ledger`).
    """

    id: int
    kind: DeliveryKind
    start_s: int
    end_s: int
    volume_nl: int
    reported_nl: int = 0
    reported_s: int = 0
    stopped_s: int = field(default=0, metadata={"omit_default": True})
    """The instant an emergency scan stopped it (0: none): it moved nothing after that instant,
    so every later report is judged against its pace at that instant
    (docs/dosing-rules.md#r-mri-5, REQ-MRI-006)."""
    cut_s: int = field(default=0, metadata={"omit_default": True})
    """The instant a bolus cancelled it (0: none; a basal order): the drive stops it there, so it
    moved at most its pace by then and its reports, however late, are counted as ending there
    (docs/dosing-rules.md#r-tip-3)."""
    cut_mixed: bool = field(default=False, metadata={"omit_default": True})
    """At the cut the path held another fluid than the reservoir's: a later order's report that
    comes first is pushed first, so this one's late report is counted as an instant."""


@dataclass(frozen=True)
class Shadow:
    """Fluid the path may hold instead of what it says, after an emergency scan moved it by an
    unknown 0 to 10 uL with two drugs within reach of each other (the path holds one drug at
    each place): from ``start_nl`` (from the tip) for ``volume_nl``, ``drug`` at up to
    ``concentration_ng_per_ml``. It moves with the path and, as it leaves the tip, is counted in
    that drug's ledger as well as what the path holds there (docs/dosing-rules.md#r-mri-5,
    REQ-MRI-006)."""

    start_nl: int
    volume_nl: int
    drug: str
    concentration_ng_per_ml: int


@dataclass(frozen=True)
class DrugLedger:
    """The rolling 24 h ledger of a drug other than the one in the reservoir: after a drug change
    each drug's window counts that drug as it leaves the tip (docs/dosing-rules.md)."""

    drug: str
    ledger: Ledger


@dataclass(frozen=True)
class FlushDose:
    """After a drug change, the daily dose at which the old drug still in the fluid path is
    delivered until it has left the tip (the old program's basal daily dose)."""

    drug: str
    dose_ng_per_day: int


@dataclass(frozen=True)
class RefillSession:
    """A refill in progress: the withdrawn residual and any reconciliation finding."""

    expected_residual_nl: int
    withdrawn_nl: int | None = None
    finding: str = ""
    deviation_bp: int = 0


@dataclass(frozen=True)
class MriSession:
    """An MRI in progress or awaiting its post-MRI step (docs/dosing-rules.md#mri)."""

    policy: MriPolicy
    began_at_s: int
    alarm_active_at_start: bool
    resume_to_active: bool
    ended_at_s: int | None = None
    emergency: bool = False
    """A Prometra II scan with drug in the reservoir (docs/dosing-rules.md#r-mri-5)."""
    reason: str = ""
    """The clinician's reason for an emergency scan."""


@dataclass(frozen=True)
class LastDelivery:
    """The daily dose of the program last seen delivering (phase ``active``, non-zero basal) and
    the last instant it was seen: after a stop, a restart may return to that dose without
    titration, and a restart more than 24 h later needs a clinician's reason
    (docs/dosing-rules.md#r-lim-10)."""

    drug: str
    dose_ng_per_day: int
    at_s: int


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
    primed_nl: int = 0
    """Priming volume the drive reported delivered to the catheter."""
    alarms: tuple[ActiveAlarm, ...] = ()
    resume_after_refill: bool = False
    """Set when a refill began in ``active``: completing it returns to ``active``."""
    program: Program | None = None
    program_start_s: int = 0
    """Instant the program took effect: an ``elapsed`` flex schedule counts days from here."""
    utc_minus_mono_s: int = 0
    """UTC minus the monotonic timeline, from the shell, for ``wall`` flex schedules."""
    increases: tuple[Increase, ...] = ()
    """Daily-dose increases of the last 7 days (titration limits)."""
    ledger: Ledger = field(default_factory=Ledger)
    """The reservoir drug reported leaving the catheter tip, rolling 24 h (never reset)."""
    other_ledgers: tuple[DrugLedger, ...] = ()
    """The rolling 24 h ledgers of other drugs that left the tip (after a drug change)."""
    path: FluidPath | None = None
    """The fluid path's contents (tubing + catheter), tip first; None before implant or where
    the library lacks the dead volume."""
    flush_doses: tuple[FlushDose, ...] = ()
    shadows: tuple[Shadow, ...] = field(default=(), metadata={"omit_default": True})
    """Other drugs the path may hold where it says one, after an emergency scan (tip first)."""
    boluses: BolusHistory = field(default_factory=BolusHistory)
    """Patient boluses delivered in the last 24 h (never reset)."""
    orders: tuple[Order, ...] = ()
    """Granted deliveries not yet fully reported by the drive (in flight)."""
    next_order_id: int = 1
    basal_carry: int = 0
    """Fractional remainder of the basal volume (numerator over ``c * 86400``) carried over."""
    basal_until_s: int = 0
    """End of the last basal segment ordered: the next one starts no earlier."""
    refill: RefillSession | None = None
    mri: MriSession | None = None
    eos_at_s: int | None = None
    """End of service, once ERI is known (ERI + the pump's ERI -> EOS interval)."""
    last_fill_nl: int = 0
    """Reservoir volume right after the last fill or refill (reconciliation reference)."""
    delivered_ng: int = 0
    """Lifetime drug reported leaving the tip, every drug (information, not a limit)."""
    last_delivery: LastDelivery | None = None
    """The program last seen delivering, the restart reference (None: never delivered)."""

    def has_alarm(self, kind: AlarmKind) -> bool:
        return any(a.kind is kind for a in self.alarms)

    def high_alarms(self) -> tuple[ActiveAlarm, ...]:
        return tuple(a for a in self.alarms if a.priority is Priority.HIGH)

    def annunciating(self, now_s: int) -> tuple[ActiveAlarm, ...]:
        """The alarms to annunciate at ``now_s``: not silenced, higher priority first, then in
        order of occurrence (docs/dosing-rules.md#r-alm-1; REQ-ALM-003)."""
        live = [
            (i, a)
            for i, a in enumerate(self.alarms)
            if a.silenced_until_s is None or a.silenced_until_s <= now_s
        ]
        return tuple(a for _, a in sorted(live, key=lambda p: (-p[1].priority, p[0])))

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


_NEEDS: dict[Phase, tuple[str, ...]] = {
    Phase.SCREENING: (),
    Phase.TRIAL: ("screening", "trial"),
    Phase.TRIAL_FAILED: ("trial",),
    Phase.IMPLANT_READY: ("screening", "trial"),
    Phase.IMPLANTED: ("trial", "implant"),
    Phase.PRIMING: ("trial", "implant", "reservoir"),
    Phase.ACTIVE: ("trial", "implant", "reservoir", "program"),
    Phase.REFILL: ("trial", "implant", "refill"),
    Phase.SUSPENDED: ("trial", "implant"),
    Phase.ALARM: ("trial", "implant"),
    Phase.EXPLANTED: (),
}
"""The records each phase cannot be without (a device state that lacks one is inconsistent)."""


_DEVICE_FIELDS: Final = frozenset(f.name for f in fields(Device))


def evolve(device: Device, **changes: Any) -> Device:
    """``dataclasses.replace(device, **changes)`` without its cost on the every-step path: a
    Device's ``__init__`` only stores each value, so a copy of the instance dictionary with the
    changes is the same value (docs/architecture.md#trust-boundary). An unknown name raises
    ``TypeError``, as ``replace`` does."""
    state = device.__dict__.copy()
    state.update(changes)
    if len(state) != len(_DEVICE_FIELDS) and not _DEVICE_FIELDS.issuperset(changes):
        unknown = changes.keys() - _DEVICE_FIELDS
        raise TypeError(f"Device has no field {sorted(unknown)[0]!r}")
    new = object.__new__(Device)
    object.__setattr__(new, "__dict__", state)
    return new


def check_consistent(device: Device, path: str = "device") -> None:
    """Reject a device whose fields contradict its phase (REQ-CORE-004).

    Every state :func:`itdose.core.step` produces passes; a document edited or corrupted outside
    the core may not, and the core refuses to act on it rather than fail deep inside.
    """
    for name in _NEEDS[device.phase]:
        if getattr(device, name) is None:
            raise InvalidInput(
                f"{path}.{name}", f"missing: phase {device.phase.value!r} cannot be without it"
            )
    if device.phase is Phase.ACTIVE and not device.primed:
        raise InvalidInput(f"{path}.primed", "an active device has a primed catheter")
    if device.phase is Phase.ALARM and not device.high_alarms():
        # the core leaves phase alarm with its last HIGH alarm (the lifecycle's clear_alarm):
        # without one the pump would stay stopped, nothing annunciated, no clear or resume
        raise InvalidInput(f"{path}.alarms", "phase 'alarm' needs a HIGH alarm present")
    if device.implant is not None and device.trial is None:
        raise InvalidInput(f"{path}.trial", "an implanted device has a trial record")
    if device.reservoir is not None and device.implant is None:
        raise InvalidInput(f"{path}.implant", "a filled reservoir needs an implanted pump")
    if device.reservoir is not None and device.reservoir.volume_nl < 0:
        raise InvalidInput(f"{path}.reservoir.volume_nl", "must not be negative")
    if device.program is not None and device.reservoir is None:
        raise InvalidInput(f"{path}.reservoir", "a program needs a filled reservoir")
    for i, order in enumerate(device.orders):
        if order.volume_nl < 0 or order.reported_nl < 0 or order.id >= device.next_order_id:
            raise InvalidInput(f"{path}.orders[{i}]", "inconsistent order", value=order.id)
    if device.reservoir is not None and device.reservoir.concentration_ng_per_ml <= 0:
        raise InvalidInput(f"{path}.reservoir.concentration_ng_per_ml", "must be positive")
    dead = device.implant.dead_volume_nl if device.implant is not None else None
    if device.path is not None:
        if dead is None:
            raise InvalidInput(f"{path}.path", "a fluid path needs an implant with a dead volume")
        device.path.check(f"{path}.path", dead)
    elif dead is not None:
        raise InvalidInput(f"{path}.path", "missing: an implant with a dead volume has a path")
    held = device.path.volume_nl if device.path is not None else 0
    for i, sh in enumerate(device.shadows):
        if sh.start_nl < 0 or sh.volume_nl <= 0 or sh.start_nl + sh.volume_nl > held:
            raise InvalidInput(f"{path}.shadows[{i}]", "must lie within the fluid path")
        if sh.drug == "" or sh.concentration_ng_per_ml <= 0:
            raise InvalidInput(f"{path}.shadows[{i}]", "a shadow holds a drug")
    drugs = [o.drug for o in device.other_ledgers]
    if len(set(drugs)) != len(drugs) or (device.drug is not None and device.drug in drugs):
        raise InvalidInput(f"{path}.other_ledgers", "one ledger per drug")
