"""``step``: the small pure interpreter of the lifecycle table (REQ-CORE-001, REQ-CORE-002).

``step`` checks the inputs at the trust boundary, the phase and role against
:data:`itdose.core.lifecycle.RULES`, the command's own data (its validator), selects the single row
whose guard holds, applies the command's handler, then the state-triggered rule (lifecycle rule 5).
It returns an :class:`Outcome` or raises a :class:`~itdose.core.errors.DosingError`, the device
passed in untouched. Every command is checked; a device is checked for consistency with its phase
unless it is the very object the latest ``step`` returned (docs/architecture.md#latest-result).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from itdose.core import lifecycle
from itdose.core.bolus import announce_cut_bolus
from itdose.core.codec import check_fields
from itdose.core.commands import COMMANDS, Command
from itdose.core.effects import Effect, Record, StopDelivery
from itdose.core.errors import DosingError, InvalidInput, RejectedCommand
from itdose.core.handlers import HANDLERS, apply, describe
from itdose.core.library import Library
from itdose.core.lifecycle import DELIVERING, rules_for
from itdose.core.state import Device, Phase, check_consistent, evolve

MAX_TIME_S = 2**40
"""Largest accepted time on the monotonic timeline (about 34 800 years)."""


@dataclass(frozen=True)
class Outcome:
    """The result of an accepted command: the new device state and the effects, in order."""

    device: Device
    effects: tuple[Effect, ...]


_latest: weakref.ref[Device] | None = None
"""The device the latest ``step`` returned (docs/architecture.md#latest-result)."""


_STOPS: dict[tuple[str, Phase, Phase], StopDelivery] = {}
"""Each stop's effect, made once (an immutable value: the same text for the same move)."""


def allowed_triggers(phase: Phase) -> tuple[str, ...]:
    """Trigger names that have a row from ``phase`` (regardless of role and guards)."""
    return tuple(name for name in COMMANDS if rules_for(name, phase))


def _check_inputs(device: object, command: object, now_s: object, library: object) -> None:
    if not isinstance(device, Device):
        raise InvalidInput("device", f"expected a Device, got {type(device).__name__}")
    if type(command) not in HANDLERS:
        raise InvalidInput("command", f"expected a command, got {type(command).__name__}")
    if not isinstance(library, Library):
        raise InvalidInput("library", f"expected a Library, got {type(library).__name__}")
    if isinstance(now_s, bool) or not isinstance(now_s, int):
        raise InvalidInput("now_s", f"expected whole seconds (int), got {type(now_s).__name__}")
    if not 0 <= now_s <= MAX_TIME_S:
        raise InvalidInput("now_s", "out of range", value=now_s, limit=f"0..{MAX_TIME_S}")
    if device.clock_s is not None and now_s < device.clock_s:
        why = "time went backwards on the monotonic timeline"
        raise InvalidInput("now_s", why, value=now_s, limit=f">= {device.clock_s}")
    check_fields(command, "command")
    if _latest is None or _latest() is not device:
        check_fields(device, "device")
        check_consistent(device)


def step(device: Device, command: Command, now_s: int, library: Library) -> Outcome:
    """Apply ``command`` at time ``now_s`` (seconds on the monotonic timeline).

    Raises :class:`InvalidInput` for malformed input, :class:`RejectedCommand` for a command not
    allowed in this phase, by this role, or with its guard false, and
    :class:`~itdose.core.errors.LimitViolation` for a command that breaks a dosing limit.
    """
    _check_inputs(device, command, now_s, library)
    rows = rules_for(command.name, device.phase)
    if not rows:
        why = f"{command.name!r} is not allowed in phase {device.phase.value!r}"
        raise RejectedCommand("command", why, value=command.name)
    if command.role not in rows[0].roles:
        allowed = ", ".join(sorted(r.value for r in rows[0].roles))
        why = f"{command.role.value} may not issue {command.name!r}"
        raise RejectedCommand(
            "command.role", why, value=command.role.value, limit=f"roles: {allowed}"
        )
    handler = HANDLERS[type(command)]
    handler.validate(device, command, now_s, library)
    if len(rows) == 1 and rows[0].guard is None:
        row = rows[0]  # the common row: one, unguarded, always enabled
    else:
        enabled = [
            r for r in rows if r.guard is None or r.guard.holds(device, command, now_s, library)
        ]
        if not enabled:
            needs = " or ".join(r.guard.text for r in rows if r.guard is not None)
            raise RejectedCommand("command", f"{command.name!r} requires that {needs}")
        if len(enabled) > 1:  # excluded by the guard-determinism proof; fail closed if it happens
            raise DosingError("command", f"ambiguous transition for {command.name!r}")
        row = enabled[0]
    updated, effects, raised = apply(device, command, now_s, library)
    source = device.phase
    dest = lifecycle.after_handler(row.dest, raised)
    stops = source in DELIVERING and dest not in DELIVERING
    # Delivery stops: the rest of the current basal segment is abandoned (never caught up), so
    # that dosing that resumes later starts a new segment then, not at the old segment's end.
    until = min(updated.basal_until_s, now_s) if stops else updated.basal_until_s
    cut: tuple[Effect, ...] = ()
    if stops and dest is not Phase.EXPLANTED:
        # a bolus in flight is cut by the stop: announced, never silent (REQ-BOL-008)
        updated, cut = announce_cut_bolus(updated, now_s)
    new = evolve(updated, phase=dest, clock_s=now_s, basal_until_s=until)
    role: str = command.role._value_  # .value, without the enum property's call
    record = Record.deferred(command.name, role, now_s, source, dest, describe, command)
    if stops:
        key = (command.name, source, dest)
        stop = _STOPS.get(key) or _STOPS.setdefault(
            key, StopDelivery(f"{command.name}: {source._value_} -> {dest._value_}")
        )
        out: tuple[Effect, ...] = (record, stop, *effects, *cut)
    else:
        out = (record, *effects)
    global _latest
    _latest = weakref.ref(new)
    return Outcome(new, out)
