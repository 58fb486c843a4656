"""Shared test helpers: command paths that bring a fresh device to every lifecycle phase."""

from __future__ import annotations

from collections.abc import Sequence

from itdose.core import Device, Library, Phase, Role, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind

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
_PRIMING: list[Timed] = [*_IMPLANTED, (c.Prime(C), 7 * DAY + 120)]
_ACTIVE: list[Timed] = [
    *_PRIMING,
    (c.CompletePriming(S), 7 * DAY + 600),
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
