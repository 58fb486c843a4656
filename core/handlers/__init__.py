"""Per-command validation and data updates, used by :func:`itdose.core.machine.step`.

:data:`HANDLERS` is the one dispatch mapping: command class -> :class:`Handler` (its ``validate``
and its ``apply``), gathered from one module per episode of care (trial and screening, implant and
priming, dosing, refill, MRI, alarms). Both functions are pure; neither decides the phase: that is
the lifecycle table's job (:mod:`itdose.core.lifecycle`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from itdose.core import commands as cmd
from itdose.core import library as lib
from itdose.core.handlers import alarms, dosing, mri, priming, refill, trial
from itdose.core.handlers.base import Applied, Handler, describe
from itdose.core.handlers.dosing import note_delivery
from itdose.core.state import Device

__all__ = ["HANDLERS", "Applied", "Handler", "apply", "describe"]

HANDLERS: Final[Mapping[type[cmd.Command], Handler[Any]]] = {
    h.command: h
    for h in (
        *trial.HANDLERS,
        *priming.HANDLERS,
        *dosing.HANDLERS,
        *refill.HANDLERS,
        *mri.HANDLERS,
        *alarms.HANDLERS,
    )
}
"""Every command class and how the core handles it."""


def apply(device: Device, command: cmd.Command, now_s: int, library: lib.Library) -> Applied:
    """The updated device data, effects and raised alarms of an accepted, validated command
    (the restart reference is noted first: every accepted command passes here)."""
    return HANDLERS[type(command)].apply(note_delivery(device, now_s), command, now_s, library)
