"""Diverse redundancy: the ``transitions`` library executes the same lifecycle table as a second,
independent engine; on every generated command sequence both must agree at every step
(REQ-LIFE-001..003).

The second engine shares the table, the role sets, the command validators, the named guards and
the alarm conditions the handlers report (the data the table and rule 5 refer to), but none of
the core's dispatch: row lookup, role check, guard selection, the state-triggered rule and the
state update are done by ``transitions`` itself (rule 5 as a trigger of its own, fired after
every accepted command, as h11 fires its state-triggered transitions).
"""

from __future__ import annotations

import contextlib
from typing import Any

from command_strategies import BY_NAME
from hypothesis import event, given
from hypothesis import strategies as st
from itdose_testkit import PATHS, C, S, run
from transitions import Machine, MachineError

from itdose.core import DosingError, Phase, Role, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.handlers import HANDLERS, apply
from itdose.core.lifecycle import HIGH_ALARM_STOPS, RULES, Rule
from itdose.core.machine import allowed_triggers
from itdose.specs import load_library

LIB = load_library()


class _Model:
    """The model ``transitions`` binds ``state`` and ``trigger(name, **kwargs)`` to."""

    state: str
    trigger: Any


def _condition(rule: Rule) -> Any:
    def holds(event: Any) -> bool:
        device, command = event.kwargs["device"], event.kwargs["command"]
        if command.role not in rule.roles:
            return False
        try:
            HANDLERS[type(command)].validate(
                device, command, event.kwargs["now"], event.kwargs["library"]
            )
        except DosingError:
            return False
        now, library = event.kwargs["now"], event.kwargs["library"]
        return rule.guard is None or rule.guard.holds(device, command, now, library)

    return holds


def second_engine(initial: Phase) -> _Model:
    """A ``transitions`` machine built from :data:`RULES` (no auto transitions, no ignoring)."""
    model = _Model()
    Machine(
        model=model,
        states=[p.value for p in Phase],
        initial=initial.value,
        transitions=[
            {
                "trigger": r.trigger,
                "source": r.source.value,
                "dest": r.dest.value,
                "conditions": [_condition(r)],
            }
            for r in RULES
        ]
        + [
            {
                "trigger": HIGH_ALARM_STOPS.name,
                "source": p.value,
                "dest": HIGH_ALARM_STOPS.dest.value,
            }
            for p in HIGH_ALARM_STOPS.sources
        ],
        auto_transitions=False,
        ignore_invalid_triggers=False,
        send_event=True,
    )
    return model


def test_strategies_line_up_with_the_commands() -> None:
    for name, strategy in BY_NAME.items():
        assert f"c.{c.COMMANDS[name].__name__}" in repr(strategy) or c.COMMANDS[
            name
        ].__name__ in repr(strategy), name


@given(st.sampled_from(list(Phase)), st.data())
def test_both_engines_agree_at_every_step(start: Phase, data: st.DataObject) -> None:
    device = run(PATHS[start], LIB)
    model = second_engine(device.phase)
    for _ in range(data.draw(st.integers(1, 40), label="steps")):
        allowed = allowed_triggers(device.phase)
        if data.draw(st.integers(0, 9)) < 8:  # explant ends a run: draw it less often
            allowed = tuple(t for t in allowed if t != "explant")
        if allowed and data.draw(st.integers(0, 9)) < 8:
            name = data.draw(st.sampled_from(allowed))
        else:
            name = data.draw(st.sampled_from(sorted(BY_NAME)))
        command = data.draw(BY_NAME[name])
        assert command.name == name
        dt = data.draw(st.integers(0, 3 * 86400))
        now = (device.clock_s or 0) + dt
        try:
            device_after = step(device, command, now, LIB).device
            ours = True
            event(f"accepted {command.name}")
        except DosingError:
            device_after = device
            ours = False
        try:
            theirs = model.trigger(
                command.name, device=device, command=command, now=now, library=LIB
            )
        except MachineError:
            theirs = False
        if theirs:
            fire_state_rules(model, device, command, now)
        assert ours == theirs, (command, device.phase)
        assert model.state == device_after.phase.value, (command, device.phase)
        device = device_after


def fire_state_rules(model: _Model, device: Any, command: c.Command, now: int) -> None:
    """Rule 5 on the second engine: the alarms the handler raised, read from its report; a HIGH
    one fires the rule's own trigger, which ``transitions`` takes from the phases it names."""
    raised = apply(device, command, now, LIB).raised
    if any(priority_of(k) >= Priority.HIGH for k in raised):
        # MachineError: the phase the row ended in is not one the rule applies to
        with contextlib.suppress(MachineError):
            model.trigger(HIGH_ALARM_STOPS.name)


def test_second_engine_rejects_what_the_table_does_not_allow() -> None:
    model = second_engine(Phase.SCREENING)
    device = run(PATHS[Phase.SCREENING], LIB)
    try:
        model.trigger(
            "explant", device=device, command=c.Explant(C, reason="x"), now=1, library=LIB
        )
    except MachineError:
        pass
    else:  # pragma: no cover - would mean transitions ignored an invalid trigger
        raise AssertionError("transitions accepted an invalid trigger")
    assert model.state == "screening"


def test_second_engine_honours_roles_and_guards() -> None:
    device = run(PATHS[Phase.ACTIVE], LIB)
    model = second_engine(Phase.ACTIVE)
    kw: dict[str, Any] = {"device": device, "now": 10**7, "library": LIB}
    assert not model.trigger("suspend", command=c.Suspend(Role.PATIENT, reason="x"), **kw)
    assert model.state == "active"
    assert model.trigger("raise_alarm", command=c.RaiseAlarm(S, AlarmKind.ERI), **kw)
    assert model.state == "active"
    stall = c.RaiseAlarm(S, AlarmKind.MOTOR_STALL)
    assert model.trigger("raise_alarm", command=stall, **kw)
    assert model.state == "active"  # the row; rule 5 comes after the handler
    fire_state_rules(model, device, stall, 10**7)
    assert model.state == "alarm"
