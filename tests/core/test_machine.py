"""``step`` (core/machine.py): the exact input checks, rejections, audit record and
stop effect of ``step`` (docs/mutation.md). Each test asserts behaviour a mutant changes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import pytest
from itdose_testkit import DAY, HOUR, LAST_TIME, PATHS, C, P, S, reach, run

from itdose.core import (
    Device,
    DosingError,
    InvalidInput,
    Library,
    Phase,
    RejectedCommand,
    from_json,
    machine,
    step,
    to_json,
)
from itdose.core import commands as c
from itdose.core import lifecycle as lc
from itdose.core.alarms import AlarmKind
from itdose.core.effects import Record, StopDelivery
from itdose.core.machine import MAX_TIME_S, Outcome, allowed_triggers

T = LAST_TIME + HOUR


@dataclass(frozen=True)
class _Foreign(c.Command):
    """A Command subclass the core does not know."""

    name: ClassVar[str] = "record_screening"


def _screen() -> c.Command:
    return c.RecordScreening(C, candidate=True, baseline_pain=6)


def test_max_time_is_two_to_the_forty() -> None:
    """The accepted time range is 0..2**40 s (REQ-TIME-001)."""
    assert MAX_TIME_S == 1_099_511_627_776


def test_non_device_is_rejected_exactly(library: Library) -> None:
    """A non-Device state is invalid input naming the field and type (REQ-CORE-002)."""
    with pytest.raises(InvalidInput) as e:
        step(None, _screen(), 0, library)  # type: ignore[arg-type]
    assert (e.value.field, e.value.message) == ("device", "expected a Device, got NoneType")
    assert e.value.value is None and e.value.limit is None
    with pytest.raises(InvalidInput) as e:
        step({}, _screen(), 0, library)  # type: ignore[arg-type]
    assert (e.value.field, e.value.message) == ("device", "expected a Device, got dict")


def test_non_command_is_rejected_exactly(library: Library) -> None:
    """A non-command and an unknown Command subclass are invalid input (REQ-CORE-002)."""
    with pytest.raises(InvalidInput) as e:
        step(Device(), "tick", 0, library)  # type: ignore[arg-type]
    assert (e.value.field, e.value.message) == ("command", "expected a command, got str")
    with pytest.raises(InvalidInput) as e:
        step(Device(), _Foreign(C), 0, library)
    assert (e.value.field, e.value.message) == ("command", "expected a command, got _Foreign")


def test_non_library_is_rejected_exactly() -> None:
    """A non-Library is invalid input (REQ-CORE-002)."""
    with pytest.raises(InvalidInput) as e:
        step(Device(), _screen(), 0, {})  # type: ignore[arg-type]
    assert (e.value.field, e.value.message) == ("library", "expected a Library, got dict")


@pytest.mark.parametrize(("now", "shown"), [(True, "bool"), (1.0, "float"), ("1", "str")])
def test_non_int_time_is_rejected_exactly(library: Library, now: object, shown: str) -> None:
    """Time is whole seconds: bool, float and str are refused (REQ-TIME-001)."""
    with pytest.raises(InvalidInput) as e:
        step(Device(), _screen(), now, library)  # type: ignore[arg-type]
    assert (e.value.field, e.value.message) == (
        "now_s",
        f"expected whole seconds (int), got {shown}",
    )


@pytest.mark.parametrize("now", [-1, 2**40 + 1])
def test_time_out_of_range_is_rejected_exactly(library: Library, now: int) -> None:
    """Time outside 0..2**40 is refused with value and limit (REQ-TIME-001)."""
    with pytest.raises(InvalidInput) as e:
        step(Device(), _screen(), now, library)
    assert (e.value.field, e.value.message, e.value.value, e.value.limit) == (
        "now_s",
        "out of range",
        now,
        "0..1099511627776",
    )


@pytest.mark.parametrize("now", [0, 2**40])
def test_time_at_range_ends_is_accepted(library: Library, now: int) -> None:
    """Both ends of the time range are accepted (REQ-TIME-001)."""
    out = step(Device(), _screen(), now, library)
    assert out.device.clock_s == now


def test_time_backwards_is_rejected_and_same_time_accepted(library: Library) -> None:
    """The monotonic timeline may not go back; the same instant is fine (REQ-TIME-001)."""
    d = step(Device(), _screen(), 100, library).device
    with pytest.raises(InvalidInput) as e:
        step(d, _screen(), 99, library)
    assert (e.value.field, e.value.message, e.value.value, e.value.limit) == (
        "now_s",
        "time went backwards on the monotonic timeline",
        99,
        ">= 100",
    )
    assert step(d, _screen(), 100, library).device.clock_s == 100


def test_command_fields_are_checked_under_command(library: Library) -> None:
    """A wrongly typed command field is named under ``command`` (REQ-CORE-002)."""
    bad = c.RecordScreening(C, candidate=True, baseline_pain=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as e:
        step(Device(), bad, 0, library)
    assert e.value.field == "command.baseline_pain"


def test_inconsistent_device_is_rejected(library: Library) -> None:
    """A device contradicting its phase is refused before anything else (REQ-CORE-004)."""
    d = dataclasses.replace(Device(), phase=Phase.ACTIVE)
    with pytest.raises(InvalidInput) as e:
        step(d, c.Suspend(C, reason="x"), 0, library)
    assert e.value.field.startswith("device.")


def test_phase_rejection_is_exact(library: Library) -> None:
    """A trigger without a row from the phase names it and the phase (REQ-LIFE-001)."""
    with pytest.raises(RejectedCommand) as e:
        step(Device(), c.StartDosing(C), 0, library)
    assert (e.value.field, e.value.message, e.value.value, e.value.limit) == (
        "command",
        "'start_dosing' is not allowed in phase 'screening'",
        "start_dosing",
        None,
    )


def test_role_rejection_is_exact(library: Library) -> None:
    """A role not on the row is refused with the allowed roles, sorted (REQ-LIFE-002)."""
    with pytest.raises(RejectedCommand) as e:
        step(Device(), c.RecordScreening(P, candidate=True, baseline_pain=6), 0, library)
    assert (e.value.field, e.value.message, e.value.value, e.value.limit) == (
        "command.role",
        "patient may not issue 'record_screening'",
        "patient",
        "roles: clinician",
    )
    d = reach(Phase.ALARM, library)
    with pytest.raises(RejectedCommand) as e:
        step(d, c.SilenceAlarm(S, AlarmKind.MOTOR_STALL, duration_s=60), T, library)
    assert (e.value.field, e.value.message, e.value.value, e.value.limit) == (
        "command.role",
        "service may not issue 'silence_alarm'",
        "service",
        "roles: clinician, patient",
    )


def test_guard_rejection_lists_every_guard(library: Library) -> None:
    """No enabled row: the rejection says what the guards need, joined by 'or' (REQ-LIFE-003)."""
    d = reach(Phase.TRIAL, library)
    with pytest.raises(RejectedCommand) as e:
        step(d, c.ConcludeTrial(C), 4 * HOUR, library)
    assert (e.value.field, e.value.value, e.value.limit) == ("command", None, None)
    assert e.value.message == (
        "'conclude_trial' requires that the trial succeeded (pain reduced by at least 50 %, a "
        "positive baclofen response, or a clinician's conclusion with reason) or the trial "
        "failed (pain reduced by less than 50 %, no baclofen response to 100 mcg, or a "
        "clinician's conclusion with reason)"
    )


def test_single_guard_rejection(library: Library) -> None:
    """A single guarded row that does not hold is rejected with its text (REQ-LIFE-003)."""
    d = reach(Phase.IMPLANT_READY, library)
    d = step(d, c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=200), DAY, library)
    with pytest.raises(RejectedCommand) as e:
        step(d.device, c.Prime(C, duration_s=480), DAY + 10, library)
    assert e.value.message == (
        "'prime' requires that the catheter is not primed yet, no priming is running, the dead "
        "volume is known and the reservoir holds it above the empty threshold"
    )


def test_unguarded_row_is_taken(library: Library) -> None:
    """An unguarded row is always enabled (REQ-LIFE-001)."""
    out = step(Device(), _screen(), 5, library)
    assert out.device.phase is Phase.SCREENING
    assert out.effects == (
        Record(
            event="record_screening",
            role="clinician",
            at_s=5,
            source=Phase.SCREENING,
            dest=Phase.SCREENING,
            detail="candidate=True baseline_pain=6",
        ),
    )


def test_record_and_stop_on_leaving_delivery(library: Library) -> None:
    """Leaving a delivering phase records, then stops the drive, then the handler's effects;
    the basal segment is cut at now (REQ-LIFE-005, REQ-LIFE-006)."""
    d = reach(Phase.ACTIVE, library)
    d = step(d, c.Tick(S), 7 * DAY + 700 + 2 * HOUR, library).device
    assert d.basal_until_s > 7 * DAY + 700 + 2 * HOUR + 600
    now = 7 * DAY + 700 + 2 * HOUR + 600
    out = step(d, c.Suspend(C, reason="review"), now, library)
    assert isinstance(out, Outcome)
    assert out.device.phase is Phase.SUSPENDED
    assert out.device.clock_s == now
    assert out.device.basal_until_s == now
    assert out.effects == (
        Record(
            event="suspend",
            role="clinician",
            at_s=now,
            source=Phase.ACTIVE,
            dest=Phase.SUSPENDED,
            detail="reason=review confirm_withdrawal_risk=False",
        ),
        StopDelivery(reason="suspend: active -> suspended"),
    )


def test_no_stop_within_delivery_or_outside(library: Library) -> None:
    """Staying in a delivering phase, or moving between stopped phases, keeps the basal
    segment end and emits no stop (REQ-LIFE-005)."""
    d = reach(Phase.ACTIVE, library)
    d = step(d, c.Tick(S), 7 * DAY + 700 + 2 * HOUR, library).device
    until = d.basal_until_s
    now = 7 * DAY + 700 + 2 * HOUR + 600
    out = step(d, c.SetProgram(C, d.program), now, library)  # type: ignore[arg-type]
    assert not any(isinstance(e, StopDelivery) for e in out.effects)
    d2 = step(d, c.RaiseAlarm(S, AlarmKind.LOW_RESERVOIR), now, library)
    assert d2.device.basal_until_s == until
    assert not any(isinstance(e, StopDelivery) for e in d2.effects)
    s = reach(Phase.SUSPENDED, library)
    out = step(s, c.BeginRefill(C), T, library)
    assert out.device.phase is Phase.REFILL
    assert not any(isinstance(e, StopDelivery) for e in out.effects)
    assert out.device.basal_until_s == s.basal_until_s


def test_alarm_stop_from_active(library: Library) -> None:
    """A HIGH alarm from active stops delivery with its reason (REQ-ALM-001)."""
    d = reach(Phase.ACTIVE, library)
    out = step(d, c.RaiseAlarm(S, AlarmKind.MOTOR_STALL), 8 * DAY, library)
    assert out.effects[0] == Record(
        event="raise_alarm",
        role="service",
        at_s=8 * DAY,
        source=Phase.ACTIVE,
        dest=Phase.ALARM,
        detail="kind=motor_stall",
    )
    assert out.effects[1] == StopDelivery(reason="raise_alarm: active -> alarm")


def test_allowed_triggers_of_screening_and_terminal() -> None:
    """The triggers of a phase are exactly those with a row from it (REQ-LIFE-004)."""
    assert allowed_triggers(Phase.SCREENING) == ("record_screening", "start_trial")
    assert allowed_triggers(Phase.EXPLANTED) == ()
    assert set(PATHS) == set(Phase)


def test_ambiguous_transition_fails_closed(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should two guards of one trigger ever hold together, the command is refused rather than
    a row picked (REQ-LIFE-003)."""
    d = run([(c.RecordPainScore(C, score=3), 4 * HOUR)], library, reach(Phase.TRIAL, library))
    always = lc.Guard("always", "always", lambda *_: True)

    def rows(trigger: str, phase: Phase) -> tuple[lc.Rule, ...]:
        live = lc.rules_for(trigger, phase)
        return tuple(
            dataclasses.replace(r, guard=always) if r.guard is lc.TRIAL_FAILED else r for r in live
        )

    monkeypatch.setattr(machine, "rules_for", rows)
    with pytest.raises(DosingError) as e:
        step(d, c.ConcludeTrial(C), 5 * HOUR, library)
    assert type(e.value) is DosingError
    assert (e.value.field, e.value.message, e.value.value, e.value.limit) == (
        "command",
        "ambiguous transition for 'conclude_trial'",
        None,
        None,
    )


# Equivalent mutants: none (all 210 machine mutants are killed).


def test_only_devices_from_outside_the_core_are_checked(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation at the trust boundary: the device the latest ``step`` returned is not checked
    again; one built or changed outside the core, decoded from JSON, or an older result, is
    (REQ-CORE-004)."""
    checked: list[Device] = []
    live = machine.check_consistent

    def spy(device: Device, path: str = "device") -> None:
        checked.append(device)
        live(device, path)

    monkeypatch.setattr(machine, "check_consistent", spy)
    first = step(Device(), _screen(), 0, library).device
    assert len(checked) == 1
    second = step(first, _screen(), 1, library).device
    assert len(checked) == 1
    copy = dataclasses.replace(second)
    third = step(copy, _screen(), 2, library).device
    assert checked[-1] is copy and len(checked) == 2
    decoded = from_json(to_json(third))
    step(decoded, _screen(), 3, library)
    assert checked[-1] is decoded and len(checked) == 3
    step(first, _screen(), 4, library)  # an older result: another device may have been stepped
    assert checked[-1] is first and len(checked) == 4


def test_a_changed_copy_of_a_core_device_is_refused(library: Library) -> None:
    """Changing a device the core produced makes it a device from outside: an inconsistent one
    is refused (REQ-CORE-004)."""
    d = reach(Phase.IMPLANTED, library)
    step(d, c.Tick(S), 8 * DAY, library)  # d itself is accepted as it is
    with pytest.raises(InvalidInput) as e:
        step(dataclasses.replace(d, phase=Phase.ACTIVE), c.Tick(S), 8 * DAY, library)
    assert e.value.field == "device.program"
