"""The typed handler record and the small checks every episode uses.

A :class:`Handler` binds one command class to its ``validate`` (raise a
:class:`~itdose.core.errors.DosingError` naming the field) and its ``apply`` (an :class:`Applied`);
both are pure, and the phase is the lifecycle table's job. The record is generic in the command
class, so the type checker checks each function against the command it is registered for.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, NamedTuple, TypeVar

from itdose.core import commands as cmd
from itdose.core import library as lib
from itdose.core.alarms import AlarmKind
from itdose.core.effects import Effect
from itdose.core.errors import InvalidInput, LimitViolation, RejectedCommand
from itdose.core.program import Program, basal_daily_ng
from itdose.core.state import Device, Trial
from itdose.core.units import (
    format_amount_ng,
    format_concentration_ng_per_ml,
    format_dose_rate_ng_per_day,
    format_volume_nl,
)

__all__ = ["Applied", "Handler", "describe"]

C = TypeVar("C", bound=cmd.Command)


class Applied(NamedTuple):
    """What a handler did: the updated device data (its phase is still the old one), the
    effects in order, and the alarm conditions the command raised (lifecycle rule 5 reads
    them: a HIGH one moves the device to ``alarm``)."""

    device: Device
    effects: tuple[Effect, ...] = ()
    raised: tuple[AlarmKind, ...] = ()


@dataclass(frozen=True, slots=True)
class Handler(Generic[C]):
    """How the core handles one command class."""

    command: type[C]
    validate: Callable[[Device, C, int, lib.Library], None]
    apply: Callable[[Device, C, int, lib.Library], Applied]


def no_check(d: Device, c: cmd.Command, now: int, library: lib.Library) -> None:
    """The validator of a command that carries no data to check."""


MAX_TEXT = 2000

HARD: Final = lib.Level.HARD.value
SOFT: Final = lib.Level.SOFT.value
"""The levels a :class:`~itdose.core.errors.LimitViolation` names (docs/dosing-rules.md#limits)."""


WITHDRAWAL_TEXT = (
    "Withdrawal risk: abrupt interruption of intrathecal baclofen can cause high fever, altered "
    "mental status, rebound spasticity and muscle rigidity, progressing in rare cases to "
    "rhabdomyolysis, multiple organ failure and death. Restore delivery or arrange bridging "
    "therapy now."
)


def require_reason(text: str, field: str) -> None:
    if not text.strip():
        raise RejectedCommand(field, "a reason is required")
    check_text(text, field)


def check_text(text: str, field: str) -> None:
    if len(text) > MAX_TEXT:
        raise InvalidInput(field, "is too long", limit=f"{MAX_TEXT} characters")


def check_non_negative(value: int, field: str) -> None:
    if value < 0:
        raise InvalidInput(field, "must not be negative", value=value)


def check_positive(value: int, field: str) -> None:
    if value <= 0:
        raise InvalidInput(field, "must be greater than zero", value=value)


def refuse_while_reporting(d: Device) -> None:
    """A command that sets the reservoir's volume waits for the orders in flight: their fluid is
    the reservoir's old one, and their reports would be counted against the new volume."""
    if d.orders:
        raise RejectedCommand("command", "deliveries are still being reported: wait for them")


def check_capacity(pump: lib.PumpModel, volume_nl: int, field: str, why: str) -> None:
    """``volume_nl`` put into the reservoir fits in ``pump``'s (a HARD limit)."""
    capacity = pump.reservoir_volume.value
    if volume_nl > capacity:
        shown, bound = format_volume_nl(volume_nl), format_volume_nl(capacity)
        limit_id = f"{pump.id}.reservoir"
        raise LimitViolation(field, why, limit_id=limit_id, level=HARD, value=shown, limit=bound)


def overridden(overrides: tuple[cmd.Override, ...], limit_id: str) -> bool:
    return any(o.limit_id == limit_id and o.reason.strip() for o in overrides)


def check_overrides(overrides: tuple[cmd.Override, ...]) -> None:
    for i, o in enumerate(overrides):
        require_reason(o.reason, f"command.overrides[{i}].reason")
        if o.limit_id.endswith(".bridge_skip"):
            raise RejectedCommand(
                f"command.overrides[{i}].limit_id",
                "there is no bridge to skip: the fluid path is tracked, so the old drug in the "
                "catheter is always delivered at the programmed dose (REQ-TIP-003)",
            )


def withdrawal_risk(device: Device, library: lib.Library) -> bool:
    drug, indication = device.drug, device.indication
    if drug is None or indication is None:
        return False
    return library.drug(drug, indication).withdrawal_risk.value


def trial_of(device: Device) -> Trial:
    # every phase whose commands read the trial has one (state.check_consistent: _NEEDS)
    assert device.trial is not None
    return device.trial


@functools.cache
def _parameters(cls: type) -> tuple[tuple[str, tuple[object, ...]], ...]:
    """The parameter names of a command class, role left out, each with the default it is left
    out at (``omit_default``, as the codec does: one value, or none; once per class)."""
    return tuple(
        (f.name, (f.default,) if f.metadata.get("omit_default") else ())
        for f in dataclasses.fields(cls)
        if f.name != "role"
    )


def describe(command: cmd.Command) -> str:
    """One line for the audit record: the command's parameters other than the role (a field
    added later is shown only when it differs from its default, so older lines stay as they
    were)."""
    parts = []
    cls: type = type(command)
    for name, omitted in _parameters(cls):
        value = getattr(command, name)
        if value in ((), "", None, *omitted):
            continue
        if isinstance(value, Program):
            shown: object = (
                f"{value.drug} {format_concentration_ng_per_ml(value.concentration_ng_per_ml)} "
                f"basal {format_dose_rate_ng_per_day(basal_daily_ng(value.basal))}"
                + (
                    f" bolus {format_amount_ng(value.patient_bolus.dose_ng)}"
                    f" x{value.patient_bolus.max_per_24h}"
                    if value.patient_bolus
                    else ""
                )
            )
        else:
            shown = value.value if hasattr(value, "value") else value
        parts.append(f"{name}={shown}")
    return " ".join(parts)
