"""Silencing pauses the sound only, for any role, within bounds (docs/dosing-rules.md#silencing).

Expectations come from the rule: a HIGH alarm's pause never exceeds 600 s from its start, the
patient may silence the same HIGH alarm 3 times, after that only a clinician; the alarm sounds
again when its pause ends; every silence is recorded with its role.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itdose_testkit import DAY, C, P, S, reach, run

from itdose.core import Device, Library, LimitViolation, Phase, Priority, RejectedCommand, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import Annunciate, Record

T = 8 * DAY + 100
TEN_MIN = 600
PATIENT_LIMIT = 3
STALL = AlarmKind.MOTOR_STALL


def _stalled(library: Library) -> Device:
    d = reach(Phase.ALARM, library)
    assert d.has_alarm(STALL)
    return d


def _stall(d: Device):
    return next(a for a in d.alarms if a.kind is STALL)


def test_silencing_changes_nothing_but_the_sound_and_is_recorded(library: Library) -> None:
    """A patient or a clinician silences; the alarm stays active, the phase, orders and ledger
    are unchanged, and the audit record names the role (REQ-ALM-009)."""
    d = _stalled(library)
    for role in (P, C):
        out = step(d, c.SilenceAlarm(role, STALL, TEN_MIN), T, library)
        new = out.device
        assert new.phase is Phase.ALARM and new.high_alarms()[0].kind is STALL
        assert (new.orders, new.ledger, new.program) == (d.orders, d.ledger, d.program)
        assert STALL not in [a.kind for a in new.annunciating(T)]
        records = [e for e in out.effects if isinstance(e, Record)]
        assert [(r.event, r.role, r.at_s) for r in records] == [("silence_alarm", role.value, T)]
        assert "motor_stall" in records[0].detail and "600" in records[0].detail
    with pytest.raises(RejectedCommand):  # the device's own service layer does not silence
        step(d, c.SilenceAlarm(S, STALL, TEN_MIN), T, library)


def test_a_silenced_high_alarm_sounds_again_when_its_pause_ends(library: Library) -> None:
    """At the first clock step at or after the end of the pause the alarm is annunciated again,
    once (REQ-ALM-009, REQ-ALM-008)."""
    d = step(_stalled(library), c.SilenceAlarm(P, STALL, 300), T, library).device
    before = step(d, c.Tick(S), T + 299, library)
    assert Annunciate(STALL, Priority.HIGH) not in before.effects
    again = step(before.device, c.Tick(S), T + 300, library)
    assert Annunciate(STALL, Priority.HIGH) in again.effects
    assert (_stall(again.device).silenced_until_s, _stall(again.device).silenced_from_s) == (
        None,
        None,
    )
    assert STALL in [a.kind for a in again.device.annunciating(T + 300)]
    later = step(again.device, c.Tick(S), T + 400, library)
    assert Annunciate(STALL, Priority.HIGH) not in later.effects  # once, not at every step


def test_a_pause_that_ends_leaves_the_other_silenced_alarms_silent(library: Library) -> None:
    """Two alarms silenced for different pauses: when the shorter pause ends only its alarm
    sounds again; the other stays silenced until its own pause ends (REQ-ALM-009)."""
    d = run([(c.RaiseAlarm(S, AlarmKind.ERI), T)], library, _stalled(library))
    d = step(d, c.SilenceAlarm(C, STALL, 300), T + 1, library).device
    d = step(d, c.SilenceAlarm(C, AlarmKind.ERI, 600), T + 1, library).device
    out = step(d, c.Tick(S), T + 301, library)
    eri = next(a for a in out.device.alarms if a.kind is AlarmKind.ERI)
    assert (eri.silenced_until_s, eri.silenced_from_s) == (T + 601, T + 1)
    assert [a.kind for a in out.device.annunciating(T + 301)] == [STALL]
    assert Annunciate(STALL, Priority.HIGH) in out.effects


def test_a_renewed_silence_never_pauses_a_high_alarm_beyond_10_minutes(library: Library) -> None:
    """Renewing a silence before it ends keeps the pause within 600 s of its start
    (REQ-ALM-009, REQ-ALM-008)."""
    d = step(_stalled(library), c.SilenceAlarm(C, STALL, 300), T, library).device
    ok = step(d, c.SilenceAlarm(C, STALL, 400), T + 200, library).device
    assert _stall(ok).silenced_until_s == T + TEN_MIN
    with pytest.raises(LimitViolation) as info:
        step(d, c.SilenceAlarm(C, STALL, 401), T + 200, library)
    # the refusal names the pause it would make (601 s from its start) against the hard 600 s
    e = info.value
    assert (e.field, e.limit_id, e.level, e.value, e.limit) == (
        "command.duration_s",
        "alarm.silence",
        "hard",
        "10 min 1 s",
        "10 min",
    )
    assert e.message == (
        "a HIGH alarm cannot stay silenced longer than 10 min: it has been silenced since "
        "3 min 20 s ago"
    )
    with pytest.raises(LimitViolation):
        step(ok, c.SilenceAlarm(C, STALL, 2), T + 599, library)
    # once the pause has ended (and the alarm sounded), a new pause may start
    fresh = step(ok, c.SilenceAlarm(C, STALL, TEN_MIN), T + TEN_MIN, library).device
    assert _stall(fresh).silenced_until_s == T + 2 * TEN_MIN


def test_the_patient_silences_the_same_high_alarm_at_most_three_times(library: Library) -> None:
    """The fourth patient silence is refused; a clinician can still silence, and clinician
    silences do not use up the patient's (REQ-ALM-010)."""
    d = _stalled(library)
    t = T
    d = step(d, c.SilenceAlarm(C, STALL, TEN_MIN), t, library).device
    for _ in range(PATIENT_LIMIT):
        t += TEN_MIN
        d = step(d, c.SilenceAlarm(P, STALL, TEN_MIN), t, library).device
    assert _stall(d).patient_silences == PATIENT_LIMIT
    t += TEN_MIN
    with pytest.raises(RejectedCommand) as info:
        step(d, c.SilenceAlarm(P, STALL, 60), t, library)
    e = info.value
    assert (e.field, e.value, e.limit) == ("command.role", "patient", "3 patient silences")
    assert e.message == (
        "the patient has silenced this HIGH alarm 3 times: only a clinician can silence it now"
    )
    assert _stall(step(d, c.SilenceAlarm(C, STALL, TEN_MIN), t, library).device).silenced_until_s


def test_the_patient_limit_is_per_alarm_and_for_high_alarms_only(library: Library) -> None:
    """A LOW alarm may be silenced by the patient more often; a new HIGH alarm after the old one
    was cleared starts a new count (REQ-ALM-010)."""
    d = run([(c.RaiseAlarm(S, AlarmKind.ERI), T)], library, _stalled(library))
    for k in range(PATIENT_LIMIT + 2):
        d = step(d, c.SilenceAlarm(P, AlarmKind.ERI, 60), T + 100 * (k + 1), library).device
    t = T + 1000
    for _ in range(PATIENT_LIMIT):
        t += TEN_MIN
        d = step(d, c.SilenceAlarm(P, STALL, TEN_MIN), t, library).device
    d = step(d, c.ClearAlarm(C, STALL, "motor recovered"), t + 1, library).device
    d = step(d, c.RaiseAlarm(S, STALL), t + 2, library).device
    d = step(d, c.SilenceAlarm(P, STALL, TEN_MIN), t + 3, library).device
    assert _stall(d).patient_silences == 1


_EVENT = st.tuples(
    st.sampled_from(["patient", "clinician", "tick"]),
    st.integers(min_value=0, max_value=900),
    st.integers(min_value=1, max_value=700),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=st.lists(_EVENT, min_size=1, max_size=25))
def test_random_silences_follow_an_independent_model(events, library: Library) -> None:
    """Over random silences by both roles and clock steps, the core accepts exactly what a model
    of the rule accepts: a pause of at most 600 s from its start, at most 3 patient silences; the
    alarm stays active throughout and annunciates exactly when no pause covers the instant
    (REQ-ALM-008, REQ-ALM-009, REQ-ALM-010)."""
    d = _stalled(library)
    t = T
    pause_start = pause_end = 0  # model: the current pause [start, end)
    patient = 0
    for kind, gap, duration in events:
        t += gap
        if kind == "tick":
            d = step(d, c.Tick(S), t, library).device
        else:
            role = P if kind == "patient" else C
            start = pause_start if pause_end > t else t
            allowed = (
                duration <= TEN_MIN
                and not (role is P and patient >= PATIENT_LIMIT)
                and t + duration <= start + TEN_MIN
            )
            try:
                d = step(d, c.SilenceAlarm(role, STALL, duration), t, library).device
                accepted = True
            except (RejectedCommand, LimitViolation):
                accepted = False
            assert accepted is allowed, (kind, t, duration, pause_start, pause_end, patient)
            if accepted:
                pause_start, pause_end = start, t + duration
                patient += role is P
        assert d.phase is Phase.ALARM and d.has_alarm(STALL)
        assert (STALL in [a.kind for a in d.annunciating(t)]) is (pause_end <= t)
        assert _stall(d).patient_silences == patient
