"""Effects: what a step asks the imperative shell to do (drive orders, annunciations, records).

The core never does I/O; it returns these values and the shell carries them out in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from itdose.core.alarms import AlarmKind, Priority
from itdose.core.state import Phase

__all__ = ["Annunciate", "Effect", "Record", "StopDelivery", "Warn"]


@dataclass(frozen=True)
class Effect:
    """Base of every effect."""


@dataclass(frozen=True)
class Record(Effect):
    """An audit record of an accepted command: what, who, when, and the phase change."""

    event: str
    role: str
    at_s: int
    source: Phase
    dest: Phase
    detail: str = ""


@dataclass(frozen=True)
class StopDelivery(Effect):
    """Stop the drive now (the core's phase no longer allows delivery)."""

    reason: str


@dataclass(frozen=True)
class Annunciate(Effect):
    """Annunciate an alarm condition at its priority."""

    kind: AlarmKind
    priority: Priority


@dataclass(frozen=True)
class Warn(Effect):
    """A warning the clinician must see now (e.g. the baclofen withdrawal risk)."""

    code: str
    text: str
