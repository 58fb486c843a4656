"""A device from outside the core (a journal, a state document) in phase ``alarm`` with no alarm
present is refused at the trust boundary, naming the field (REQ-CORE-004, REQ-ALM-001).

Such a device is a silent dead end: delivery is stopped, nothing is annunciated, ``clear_alarm``
is refused ("that alarm is not active") and ``resume`` is not allowed in phase ``alarm``; only a
later refill moves it on. The core never produces it (clearing the last alarm leaves the phase),
but ``check_consistent`` does not look for it, so a journal that loses the alarms across a
controller restart produces it unrefused: a seeded one (tests/adapters/
test_cohort_a_restart_that_forgets_the_alarms_is_caught.py) left a baclofen patient stopped in
phase ``alarm`` for 24 days with no alarm present.
"""

from __future__ import annotations

import pytest
from itdose_physics import HOUR_S, MG, Bench, S, implanted_and_dosing

from itdose.core import InvalidInput, Library, Phase, Role, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.errors import RejectedCommand
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


def test_a_device_in_alarm_without_an_alarm_is_a_silent_dead_end(library: Library) -> None:
    """REQ-ALM-001: the premise of the strict xfail below, measured: the device is accepted by a
    tick and stays stopped; the clinician can neither clear an alarm nor resume."""
    d, now = _stalled(library)
    lost = evolve(d, alarms=())
    out = step(lost, c.Tick(S, 3600), now + 10, library)
    assert out.device.phase is Phase.ALARM and not out.device.alarms
    with pytest.raises(RejectedCommand, match="not active"):
        step(lost, c.ClearAlarm(C, AlarmKind.MOTOR_STALL, "stall resolved"), now + 10, library)
    with pytest.raises(RejectedCommand, match="not allowed in phase 'alarm'"):
        step(lost, c.Resume(C, "stall resolved"), now + 10, library)


@pytest.mark.xfail(
    strict=True,
    raises=pytest.fail.Exception,
    reason=(
        "open: check_consistent does not refuse phase 'alarm' without an alarm present; the "
        "device is accepted (a tick keeps it stopped, nothing annunciated)"
    ),
)
def test_a_device_in_alarm_without_an_alarm_is_refused(library: Library) -> None:
    """REQ-CORE-004: the device's fields contradict its phase: refused, the field named."""
    d, now = _stalled(library)
    with pytest.raises(InvalidInput, match=r"device\.alarms"):
        step(evolve(d, alarms=()), c.Tick(S, 3600), now + 10, library)
