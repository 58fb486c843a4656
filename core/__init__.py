"""itdose.core: the pure dosing core (standard library only, integers only, no I/O).

The public API: :func:`step` applies a command to a :class:`Device` at a time on the caller's
monotonic timeline and returns an :class:`Outcome` (new device, effects) or raises a
:class:`DosingError` leaving the device untouched. Commands live in :mod:`itdose.core.commands`,
effects in :mod:`itdose.core.effects`, units in :mod:`itdose.core.units`.
"""

from itdose.core.alarms import AlarmKind, Priority
from itdose.core.errors import (
    DosingError,
    DriveFault,
    InvalidInput,
    LibraryError,
    LimitViolation,
    RejectedCommand,
    SafeAction,
)
from itdose.core.library import Library
from itdose.core.machine import Outcome, step
from itdose.core.serialization import from_json, to_json
from itdose.core.state import Device, Phase, Role, TrialOutcome

__all__ = [
    "AlarmKind",
    "Device",
    "DosingError",
    "DriveFault",
    "InvalidInput",
    "Library",
    "LibraryError",
    "LimitViolation",
    "Outcome",
    "Phase",
    "Priority",
    "RejectedCommand",
    "Role",
    "SafeAction",
    "TrialOutcome",
    "from_json",
    "step",
    "to_json",
]
