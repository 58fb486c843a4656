"""A device from outside the core (a journal, a state document) in phase ``alarm`` with no alarm
present is refused at the trust boundary, naming the field (REQ-CORE-004, REQ-ALM-001).

Such a device is a silent dead end: delivery is stopped, nothing is annunciated, ``clear_alarm``
is refused ("that alarm is not active") and ``resume`` is not allowed in phase ``alarm``; only a
later refill moves it on. The core never produces it (clearing the last alarm leaves the phase),
but ``check_consistent`` did not look for it, so a journal that lost the alarms across a
controller restart produced it unrefused: a seeded one (tests/adapters/
test_cohort_a_restart_that_forgets_the_alarms_is_caught.py) left a baclofen patient stopped in
phase ``alarm`` for 24 days with no alarm present. ``check_consistent`` now refuses it.
"""

from __future__ import annotations

import pytest
from itdose_physics import HOUR_S, MG, Bench, S, implanted_and_dosing

from itdose.core import InvalidInput, Library, Phase, Role, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.program import Basal, Program
from itdose.core.state import Device, evolve

C = Role.CLINICIAN
MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(14 * MG), None, "opioid-tolerant")


def _stalled(library: Library) -> tuple[Device, int]:
    """A dosing device in phase ``alarm`` with a motor stall present, and the time."""
    b = Bench(library)
    implanted_and_dosing(b, MORPHINE)
    b.advance(b.now + 2 * HOUR_S)
    b.submit(c.RaiseAlarm(S, AlarmKind.MOTOR_STALL))
    assert b.device.phase is Phase.ALARM and b.device.alarms
    return b.device, b.now


@pytest.mark.parametrize(
    "command",
    [
        c.Tick(S, 3600),
        c.ClearAlarm(C, AlarmKind.MOTOR_STALL, "stall resolved"),
        c.Resume(C, "stall resolved"),
    ],
    ids=["tick", "clear_alarm", "resume"],
)
def test_every_command_on_it_is_refused_naming_the_alarms(
    library: Library, command: c.Command
) -> None:
    """REQ-CORE-004, REQ-ALM-001: past the boundary the device would be a dead end (a tick keeps
    it stopped, the clear finds no alarm, resume is not allowed in phase ``alarm``): every
    command on it is refused naming ``device.alarms``; the device with its alarm is accepted."""
    d, now = _stalled(library)
    with pytest.raises(InvalidInput, match=r"device\.alarms"):
        step(evolve(d, alarms=()), command, now + 10, library)
    step(d, c.Tick(S, 3600), now + 10, library)  # the same device with its alarm: accepted


def test_a_device_in_alarm_without_an_alarm_is_refused(library: Library) -> None:
    """REQ-CORE-004: the device's fields contradict its phase: refused, the field named."""
    d, now = _stalled(library)
    with pytest.raises(InvalidInput, match=r"device\.alarms"):
        step(evolve(d, alarms=()), c.Tick(S, 3600), now + 10, library)
