"""Alarm conditions and their priorities (docs/dosing-rules.md#r-alm-1, IEC 60601-1-8 levels).

HIGH alarms stop delivery in the same step and move the device to ``alarm`` (REQ-ALM-001); MEDIUM
and LOW alarms annunciate while dosing goes on (REQ-ALM-002). Alarms are kept in order of
occurrence (REQ-ALM-003).
"""

from __future__ import annotations

import enum
from typing import Final


class Priority(enum.IntEnum):
    """IEC 60601-1-8 alarm priority; a larger value is annunciated first."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3


class AlarmKind(enum.Enum):
    """Every alarm condition the core knows. Hashed by identity (as the members compare; the
    priority is looked up on every step): see :class:`itdose.core.state.Phase`."""

    __hash__ = object.__hash__

    LOW_RESERVOIR = "low_reservoir"
    ERI = "elective_replacement"
    MAX_DOSE_REACHED = "max_dose_reached"
    REFILL_FINDING = "refill_finding"
    POST_MRI_VERIFICATION = "post_mri_verification"
    DELIVERY_LIMITED = "delivery_limited"
    EMPTY_RESERVOIR = "empty_reservoir"
    MOTOR_STALL = "motor_stall"
    OCCLUSION = "occlusion"
    END_OF_SERVICE = "end_of_service"
    LOW_BATTERY_RESET = "low_battery_reset"
    MEMORY_FAULT = "memory_fault"
    DELIVERY_DEVIATION = "delivery_deviation"
    DRIVE_FAULT = "drive_fault"


ALARM_PRIORITY: Final[dict[AlarmKind, Priority]] = {
    AlarmKind.LOW_RESERVOIR: Priority.LOW,
    AlarmKind.ERI: Priority.LOW,
    AlarmKind.MAX_DOSE_REACHED: Priority.LOW,
    AlarmKind.REFILL_FINDING: Priority.MEDIUM,
    AlarmKind.POST_MRI_VERIFICATION: Priority.MEDIUM,
    AlarmKind.DELIVERY_LIMITED: Priority.MEDIUM,
    AlarmKind.EMPTY_RESERVOIR: Priority.HIGH,
    AlarmKind.MOTOR_STALL: Priority.HIGH,
    AlarmKind.OCCLUSION: Priority.HIGH,
    AlarmKind.END_OF_SERVICE: Priority.HIGH,
    AlarmKind.LOW_BATTERY_RESET: Priority.HIGH,
    AlarmKind.MEMORY_FAULT: Priority.HIGH,
    AlarmKind.DELIVERY_DEVIATION: Priority.HIGH,
    AlarmKind.DRIVE_FAULT: Priority.HIGH,
}
"""Priority of each alarm kind, per docs/dosing-rules.md. ``DRIVE_FAULT`` covers a drive that cannot
confirm its state (communication loss, protocol error, reset): treated as possibly still
delivering, hence HIGH."""


def priority_of(kind: AlarmKind) -> Priority:
    """The priority of ``kind``."""
    return ALARM_PRIORITY[kind]
