"""Commands: what clinicians, patients and the device's own service layer ask of the core.

Each command is an immutable value carrying the acting :class:`~itdose.core.state.Role` and its
parameters in integer base units; :func:`itdose.core.step` checks its field types before anything
else (REQ-CORE-004).
"""

from __future__ import annotations

import re
from dataclasses import field
from typing import ClassVar, Final

from itdose.core.alarms import AlarmKind
from itdose.core.program import Program
from itdose.core.state import Role, TrialOutcome
from itdose.core.value import Value


class Override(Value):
    """A clinician's override of one soft limit, with the reason that is recorded with it."""

    limit_id: str
    reason: str


class Command(Value):
    """Base of every command. ``name``, the trigger in the lifecycle table, is the class name in
    snake case (``RecordPainScore``: ``record_pain_score``) unless the class sets its own."""

    name: ClassVar[str] = ""
    role: Role

    def __init_subclass__(cls, **kwargs: object) -> None:
        if "name" not in vars(cls):
            cls.name = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
        super().__init_subclass__(**kwargs)


class RecordScreening(Command):
    """The screening assessment: candidate or not, and the baseline pain score (0-10)."""

    candidate: bool
    baseline_pain: int
    note: str = ""


class StartTrial(Command):
    """Begin a trial (or baclofen screening) of ``drug`` for ``indication``."""

    drug: str
    indication: str
    plan: str
    opioid_status: str | None = None
    overrides: tuple[Override, ...] = ()


class RecordTrialDose(Command):
    """A trial or screening dose given (baclofen: 50, 75, 100 mcg at >= 24 h spacing)."""

    amount_ng: int
    overrides: tuple[Override, ...] = ()


class RecordPainScore(Command):
    """A pain score (0-10) after a trial dose."""

    score: int


class RecordScreeningResponse(Command):
    """Baclofen: whether the latest screening dose produced a positive response."""

    positive: bool


class ConcludeTrial(Command):
    """Conclude the trial from the evidence, or by a clinician's outcome with a reason."""

    outcome: TrialOutcome | None = None
    reason: str = ""


class Implant(Command):
    """The pump and catheter are implanted; the trimmed catheter length fixes the dead volume."""

    pump: str
    catheter: str
    trimmed_mm: int
    overrides: tuple[Override, ...] = ()


class Fill(Command):
    """The initial fill of the reservoir after implant."""

    volume_nl: int
    concentration_ng_per_ml: int
    overrides: tuple[Override, ...] = ()


class Prime(Command):
    """Start the priming bolus: exactly the (remaining) dead volume, to the catheter, over
    ``duration_s`` (the programmer's priming duration)."""

    duration_s: int


class SetProgram(Command):
    """Program the pump (validated against the library and pump; REQ-DOSE-003).

    ``utc_now_s`` (UTC seconds at this command, from the shell) is needed for ``wall`` flex
    schedules; ``overrides`` carry the reasons for soft limits; ``confirm_withdrawal_risk`` is
    the explicit confirmation a baclofen stop or cut needs; ``restart_reason`` is the clinician's
    confirmation of a restart after more than 24 h without delivery (docs/dosing-rules.md#r-lim-10).
    """

    program: Program
    overrides: tuple[Override, ...] = ()
    confirm_withdrawal_risk: bool = False
    utc_now_s: int | None = None
    restart_reason: str = ""


class StartDosing(Command):
    """Start dosing once the catheter is primed and a program is set; after a re-priming more
    than 24 h after the last delivery the restart needs ``restart_reason``
    (docs/dosing-rules.md#r-lim-10)."""

    restart_reason: str = ""


class Tick(Command):
    """The clock: issue the next basal order, check the reservoir, battery and overdue orders.

    ``max_segment_s`` is the longest basal order the controller asks for (3600 s to 86400 s).
    Above one hour the core grants the longer segment only when it provably changes nothing a
    patient can notice (see :func:`itdose.core.dosing.segment_s`); otherwise the order lasts one
    hour at most, as with the default.
    """

    max_segment_s: int = 3600


class DriveReport(Command):
    """What the drive delivered for order ``order_id`` so far (cumulative) and whether the order
    has ended. A repeated report changes nothing (ids are recorded once).

    ``uncut``: the cancel of the order, a bolus's cut, is not known to have been carried out (a
    restarted controller found the order still in flight, its stop never confirmed, and the
    drive, which runs one command at a time, shows no later order's command: the bolus never
    started), so the drive may have moved it on after the cut: the order is counted, from this
    report on, as one no bolus cut (judged against its own pace by the report and recorded as
    leaving by the report; docs/dosing-rules.md#r-tip-3). It changes nothing for an order that
    was not cut.

    ``unsure_nl``: the report is an upper bound (a count a reset lost, a drive that keeps no
    history): of what it adds, up to ``unsure_nl`` may not have moved. The whole report is
    counted, and the path is counted as holding at each place the richest fluid within
    ``unsure_nl`` nearer the tip (docs/dosing-rules.md#r-tip-6)."""

    order_id: int
    delivered_nl: int
    final: bool
    uncut: bool = field(default=False, metadata={"omit_default": True})
    unsure_nl: int = field(default=0, metadata={"omit_default": True})


class RequestBolus(Command):
    """The patient asks for the programmed bolus. A denial is not an error: it is recorded with
    its reason and delivers nothing."""


class ClinicianBolus(Command):
    """A clinician bolus: ``dose_ng`` over ``duration_s``, all or nothing."""

    dose_ng: int
    duration_s: int


class SilenceAlarm(Command):
    """Silence an alarm's annunciation for ``duration_s`` (a HIGH one for at most 10 min)."""

    kind: AlarmKind
    duration_s: int


class Suspend(Command):
    """Stop delivery for a reason; baclofen needs ``confirm_withdrawal_risk``."""

    reason: str
    confirm_withdrawal_risk: bool = False


class Resume(Command):
    """Resume delivery after a suspension; after more than 24 h without delivery the restart
    needs ``restart_reason`` (docs/dosing-rules.md#r-lim-10)."""

    reason: str
    restart_reason: str = ""


class RaiseAlarm(Command):
    """An alarm condition detected by the device (drive report, self-test, battery)."""

    kind: AlarmKind
    detail: str = ""


class ClearAlarm(Command):
    """A clinician clears an alarm whose cause is resolved."""

    kind: AlarmKind
    reason: str


class BeginRefill(Command):
    """Begin a refill: delivery stops while the reservoir is accessed."""


class RecordWithdrawal(Command):
    """The residual volume withdrawn at a refill, reconciled against the tracked residual."""

    withdrawn_nl: int


class CompleteRefill(Command):
    """Complete a refill: new drug added. A concentration or drug (``drug``) change needs the new
    ``program`` (the old fluid in the fluid path leaves the catheter tip first); a reconciliation
    finding needs ``finding_reason``; the other fields are those of :class:`SetProgram`."""

    added_nl: int
    concentration_ng_per_ml: int
    drug: str | None = None
    program: Program | None = None
    finding_reason: str = ""
    overrides: tuple[Override, ...] = ()
    utc_now_s: int | None = None
    confirm_withdrawal_risk: bool = False
    restart_reason: str = ""


class AbortRefill(Command):
    """Abandon a refill; nothing is added."""

    reason: str


class EmptyReservoir(Command):
    """Withdraw the whole reservoir (MRI preparation of a valve-gated pump)."""

    withdrawn_nl: int


class BeginMri(Command):
    """An MRI scan begins (pump-family workflow per docs/dosing-rules.md#mri). ``emergency``: a
    Prometra II scan with drug in the reservoir, with the clinician's ``reason``
    (docs/dosing-rules.md#r-mri-5)."""

    emergency: bool = False
    reason: str = ""


class EndMri(Command):
    """The MRI scan has ended."""


class ConfirmPostMri(Command):
    """A clinician confirms the pump recovered after the MRI (SynchroMed: interrogation; Prometra
    II: the valve reset is recorded)."""

    reason: str


class Explant(Command):
    """Remove the system; baclofen needs ``confirm_withdrawal_risk``."""

    reason: str
    confirm_withdrawal_risk: bool = False


COMMANDS: Final[dict[str, type[Command]]] = {cls.name: cls for cls in Command.__subclasses__()}
"""Every command class by its trigger name, in the order defined above (an index of the classes
for decoding a command by name; how each is handled is :data:`itdose.core.handlers.HANDLERS`)."""
