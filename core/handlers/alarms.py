"""Alarms: raising, silencing (with its bounds), re-sounding and clearing."""

from __future__ import annotations

import dataclasses
from typing import Final

from itdose.core import commands as cmd
from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.effects import Annunciate, Effect, Warn
from itdose.core.errors import LimitViolation, RejectedCommand
from itdose.core.handlers.base import (
    HARD,
    WITHDRAWAL_TEXT,
    Applied,
    Handler,
    check_positive,
    check_text,
    require_reason,
    withdrawal_risk,
)
from itdose.core.library import Library
from itdose.core.state import ActiveAlarm, Device, Role, evolve
from itdose.core.units import DAY_S, format_duration_s, format_volume_nl

MAX_SILENCE_HIGH_S = 600
"""A HIGH alarm cannot be silenced for longer than 10 minutes (docs/dosing-rules.md#r-alm-1;
REQ-ALM-004)."""


MAX_SILENCE_S = DAY_S
"""A LOW or MEDIUM alarm is silenced for at most a day (a design bound: it re-annunciates)."""


MAX_PATIENT_SILENCES_HIGH = 3
"""The patient may silence the same HIGH alarm at most 3 times; after that only a clinician can
(a design value, docs/dosing-rules.md#r-alm-3; REQ-ALM-010)."""


WITHDRAWAL_ALARMS = frozenset(
    {AlarmKind.EMPTY_RESERVOIR, AlarmKind.MOTOR_STALL, AlarmKind.END_OF_SERVICE}
)
"""Alarms that raise the withdrawal-risk warning on a withdrawal-risk drug
(docs/dosing-rules.md#baclofen)."""


def _silence_start(a: ActiveAlarm, now: int) -> int:
    """Start of the pause a silence at ``now`` belongs to: the current pause if the alarm is
    still silenced, else now."""
    until, since = a.silenced_until_s, a.silenced_from_s
    if until is not None and until > now and since is not None:
        return since
    return now


def _v_silence_alarm(d: Device, c: cmd.SilenceAlarm, now: int, library: Library) -> None:
    """Any role may silence; a HIGH alarm's pause never exceeds 10 minutes, renewed or not, and
    the patient may silence the same HIGH alarm at most 3 times (docs/dosing-rules.md#silencing;
    REQ-ALM-008, REQ-ALM-009, REQ-ALM-010)."""
    field = "command.duration_s"
    check_positive(c.duration_s, field)
    alarm = next((a for a in d.alarms if a.kind is c.kind), None)
    if alarm is None:
        raise RejectedCommand("command.kind", "that alarm is not active", value=c.kind.value)
    high = priority_of(c.kind) is Priority.HIGH
    bound = MAX_SILENCE_HIGH_S if high else MAX_SILENCE_S
    if c.duration_s > bound:
        why = f"a {priority_of(c.kind).name} alarm cannot be silenced that long"
        shown, limit = format_duration_s(c.duration_s), format_duration_s(bound)
        raise LimitViolation(
            field, why, limit_id="alarm.silence", level=HARD, value=shown, limit=limit
        )
    if not high:
        return
    if c.role is Role.PATIENT and alarm.patient_silences >= MAX_PATIENT_SILENCES_HIGH:
        why = (
            f"the patient has silenced this HIGH alarm {alarm.patient_silences} times: only a "
            "clinician can silence it now"
        )
        limit = f"{MAX_PATIENT_SILENCES_HIGH} patient silences"
        raise RejectedCommand("command.role", why, value=c.role.value, limit=limit)
    start = _silence_start(alarm, now)
    if now + c.duration_s > start + MAX_SILENCE_HIGH_S:
        shown = format_duration_s(now + c.duration_s - start)
        limit = format_duration_s(MAX_SILENCE_HIGH_S)
        why = (
            f"a HIGH alarm cannot stay silenced longer than {limit}"
            f": it has been silenced since {format_duration_s(now - start)} ago"
        )
        raise LimitViolation(
            field, why, limit_id="alarm.silence", level=HARD, value=shown, limit=limit
        )


def _h_silence_alarm(d: Device, c: cmd.SilenceAlarm, now: int, library: Library) -> Applied:
    """Only the sound pauses: the alarm stays active (the audit record of the command records
    every silence, with its role; REQ-ALM-009)."""
    patient = 1 if c.role is Role.PATIENT else 0
    alarms = tuple(
        dataclasses.replace(
            a,
            silenced_until_s=now + c.duration_s,
            silenced_from_s=_silence_start(a, now),
            patient_silences=a.patient_silences + patient,
        )
        if a.kind is c.kind
        else a
        for a in d.alarms
    )
    return Applied(evolve(d, alarms=alarms))


def resound(d: Device, now: int) -> Applied:
    """Alarms whose silence has ended sound again (REQ-ALM-009)."""
    ended = [a for a in d.alarms if a.silenced_until_s is not None and a.silenced_until_s <= now]
    if not ended:
        return Applied(d)
    alarms = tuple(
        dataclasses.replace(a, silenced_until_s=None, silenced_from_s=None) if a in ended else a
        for a in d.alarms
    )
    effects = tuple(Annunciate(a.kind, a.priority) for a in ended)
    return Applied(evolve(d, alarms=alarms), effects)


def _v_raise_alarm(d: Device, c: cmd.RaiseAlarm, now: int, library: Library) -> None:
    check_text(c.detail, "command.detail")


def _h_raise_alarm(d: Device, c: cmd.RaiseAlarm, now: int, library: Library) -> Applied:
    effects: list[Effect] = [Annunciate(c.kind, priority_of(c.kind))]
    alarms = d.alarms
    if not d.has_alarm(c.kind):
        alarms = (*alarms, ActiveAlarm(c.kind, now, c.detail))
    if c.kind in WITHDRAWAL_ALARMS and withdrawal_risk(d, library):
        effects.append(Warn("withdrawal_risk", WITHDRAWAL_TEXT))
    eos = d.eos_at_s
    if c.kind is AlarmKind.ERI and d.implant is not None and eos is None:
        interval = library.pump(d.implant.pump).eri_to_eos
        if interval is not None:
            eos = now + interval.value
            effects.append(Warn("end_of_service", f"end of service expected at t={eos} s"))
    return Applied(evolve(d, alarms=alarms, eos_at_s=eos), tuple(effects), (c.kind,))


def _v_clear_alarm(d: Device, c: cmd.ClearAlarm, now: int, library: Library) -> None:
    require_reason(c.reason, "command.reason")
    if not d.has_alarm(c.kind):
        raise RejectedCommand("command.kind", "that alarm is not active", value=c.kind.value)
    if c.kind is AlarmKind.END_OF_SERVICE:
        why = "end of service cannot be cleared: the pump must be replaced"
        raise RejectedCommand("command.kind", why)
    if c.kind is AlarmKind.EMPTY_RESERVOIR:
        assert d.implant is not None
        pump = library.pump(d.implant.pump)
        volume = d.reservoir.volume_nl if d.reservoir is not None else 0
        if volume <= pump.empty_threshold.value:
            why = "the reservoir is still at or below the empty threshold: refill first"
            shown, limit = format_volume_nl(volume), format_volume_nl(pump.empty_threshold.value)
            raise RejectedCommand("command.kind", why, value=shown, limit=f"> {limit}")


def _h_clear_alarm(d: Device, c: cmd.ClearAlarm, now: int, library: Library) -> Applied:
    return Applied(evolve(d, alarms=tuple(a for a in d.alarms if a.kind is not c.kind)))


HANDLERS: Final = (
    Handler(cmd.RaiseAlarm, _v_raise_alarm, _h_raise_alarm),
    Handler(cmd.SilenceAlarm, _v_silence_alarm, _h_silence_alarm),
    Handler(cmd.ClearAlarm, _v_clear_alarm, _h_clear_alarm),
)
