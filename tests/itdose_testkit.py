"""Shared test helpers: command paths that bring a fresh device to every lifecycle phase."""

from __future__ import annotations

from collections.abc import Sequence

from itdose.core import Device, Library, Phase, Role, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.program import Basal, PatientBolusProgram, Program

C = Role.CLINICIAN
S = Role.SERVICE
P = Role.PATIENT

HOUR = 3600
DAY = 86400

Timed = tuple[c.Command, int]

_SCREEN: list[Timed] = [(c.RecordScreening(C, candidate=True, baseline_pain=8), 0)]
_TRIAL: list[Timed] = [
    *_SCREEN,
    (c.StartTrial(C, "morphine", "pain", plan="single intrathecal bolus"), 60),
    (c.RecordTrialDose(C, amount_ng=300_000), 120),
]
_READY: list[Timed] = [
    *_TRIAL,
    (c.RecordPainScore(C, score=3), 4 * HOUR),
    (c.ConcludeTrial(C), 5 * HOUR),
]
_IMPLANTED: list[Timed] = [
    *_READY,
    (c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=200), 7 * DAY),
    (c.Fill(C, volume_nl=20_000_000, concentration_ng_per_ml=10_000_000), 7 * DAY + 60),
]
MORPHINE_PROGRAM = Program(
    drug="morphine",
    indication="pain",
    concentration_ng_per_ml=10_000_000,
    basal=Basal.continuous(1_000_000),
    patient_bolus=PatientBolusProgram(
        dose_ng=100_000, duration_s=600, lockout_s=3600, max_per_24h=4
    ),
    opioid_status="opioid-tolerant",
)
"""Morphine 10 mg/mL, 1 mg/day basal, 0.1 mg boluses (1 h lockout, 4 per 24 h)."""

DEAD_VOLUME_NL = 234_000
"""Prometra II tubing (0, design value) + (110 - 20) cm x 0.0026 mL/cm."""

_PRIMING: list[Timed] = [
    *_IMPLANTED,
    (c.SetProgram(C, MORPHINE_PROGRAM), 7 * DAY + 90),
    (c.Prime(C, duration_s=480), 7 * DAY + 120),
]
_ACTIVE: list[Timed] = [
    *_PRIMING,
    (c.DriveReport(S, order_id=1, delivered_nl=DEAD_VOLUME_NL, final=True), 7 * DAY + 600),
    (c.StartDosing(C), 7 * DAY + 700),
]

PATHS: dict[Phase, list[Timed]] = {
    Phase.SCREENING: [],
    Phase.TRIAL: _TRIAL,
    Phase.TRIAL_FAILED: [
        *_TRIAL,
        (c.RecordPainScore(C, score=7), 4 * HOUR),
        (c.ConcludeTrial(C), 5 * HOUR),
    ],
    Phase.IMPLANT_READY: _READY,
    Phase.IMPLANTED: _IMPLANTED,
    Phase.PRIMING: _PRIMING,
    Phase.ACTIVE: _ACTIVE,
    Phase.SUSPENDED: [*_ACTIVE, (c.Suspend(C, reason="review"), 8 * DAY)],
    Phase.REFILL: [*_ACTIVE, (c.BeginRefill(C), 8 * DAY)],
    Phase.ALARM: [*_ACTIVE, (c.RaiseAlarm(S, AlarmKind.MOTOR_STALL), 8 * DAY)],
    Phase.EXPLANTED: [*_ACTIVE, (c.Explant(C, reason="infection"), 8 * DAY)],
}
"""For every phase, timed commands that bring ``Device()`` there."""

LAST_TIME = 8 * DAY


def run(commands: Sequence[Timed], library: Library, device: Device | None = None) -> Device:
    """Apply ``commands`` in order; every one must be accepted."""
    d = Device() if device is None else device
    for command, at in commands:
        d = step(d, command, at, library).device
    return d


def reach(phase: Phase, library: Library) -> Device:
    """A device in ``phase`` (via :data:`PATHS`)."""
    d = run(PATHS[phase], library)
    assert d.phase is phase, (phase, d.phase)
    return d


def synchromed_library(library: Library) -> Library:
    """A library as an institution would load it, with SynchroMed II and InDura catheter volumes.

    TEST DATA ONLY: the shipped library lacks these (a gap in the sources), so no SynchroMed
    dead volume can be computed there. The numbers below are arbitrary and not clinical facts.
    """
    import dataclasses

    from itdose.core.library import SourcedValue, Tag
    from itdose.core.units import Dimension

    pumps = tuple(
        dataclasses.replace(
            p,
            tubing_volume=SourcedValue(
                f"{p.id}.tubing_volume", 100_000, Dimension.VOLUME, "test", Tag.D
            ),
        )
        if p.id.startswith("synchromed")
        else p
        for p in library.pumps
    )
    catheters = tuple(
        dataclasses.replace(
            k,
            volume_per_length=SourcedValue(
                f"{k.id}.volume_per_length", 200_000, Dimension.VOLUME_PER_LENGTH, "test", Tag.D
            ),
        )
        if k.id == "medtronic-indura-1p-8709sc"
        else k
        for k in library.catheters
    )
    return dataclasses.replace(library, pumps=pumps, catheters=catheters)


def synchromed_active(library: Library) -> Device:
    """A SynchroMed II 20 mL device dosing morphine (with :func:`synchromed_library`)."""
    d = run(PATHS[Phase.IMPLANT_READY], library)
    implant = c.Implant(C, "synchromed-ii-20", "medtronic-indura-1p-8709sc", trimmed_mm=90)
    d = run([(implant, 7 * DAY)], library, d)
    assert d.implant is not None and d.implant.dead_volume_nl is not None
    dead = d.implant.dead_volume_nl
    return run(
        [
            (c.Fill(C, volume_nl=20_000_000, concentration_ng_per_ml=10_000_000), 7 * DAY + 60),
            (c.SetProgram(C, MORPHINE_PROGRAM), 7 * DAY + 90),
            (c.Prime(C, duration_s=480), 7 * DAY + 120),
            (c.DriveReport(S, order_id=1, delivered_nl=dead, final=True), 7 * DAY + 600),
            (c.StartDosing(C), 7 * DAY + 700),
        ],
        library,
        d,
    )
