"""Implant and priming: the implant (which fixes the dead volume), the initial fill and the
priming bolus."""

from __future__ import annotations

from typing import Final

from itdose.core import commands as cmd
from itdose.core import dosing
from itdose.core import library as lib
from itdose.core.dead_volume import dead_volume_nl
from itdose.core.effects import Effect, Warn
from itdose.core.errors import InvalidInput, LimitViolation, RejectedCommand
from itdose.core.handlers.base import (
    SOFT,
    Applied,
    Handler,
    check_capacity,
    check_non_negative,
    check_overrides,
    check_positive,
    overridden,
    trial_of,
)
from itdose.core.library import Library
from itdose.core.path import FluidPath
from itdose.core.state import Device, ImplantedSystem, Reservoir, evolve
from itdose.core.units import DAY_S, format_concentration_ng_per_ml, format_duration_s

MAX_PRIMING_S = DAY_S
"""Longest priming bolus accepted (a plausibility bound on the programmer's duration)."""


def check_concentration(
    entry: lib.DrugEntry,
    pump: lib.PumpModel,
    concentration_ng_per_ml: int,
    overrides: tuple[cmd.Override, ...],
) -> None:
    """The ``concentration_ng_per_ml`` of a fill or refill is a product strength of the drug
    allowed by the pump, or overridden."""
    field = "command.concentration_ng_per_ml"
    check_positive(concentration_ng_per_ml, field)
    allowed = lib.pump_concentrations(entry, pump)
    limit_id = f"{entry.id}.product_concentrations"
    if concentration_ng_per_ml not in allowed and not overridden(overrides, limit_id):
        shown = ", ".join(format_concentration_ng_per_ml(c) for c in allowed) or "none"
        why = (
            f"{format_concentration_ng_per_ml(concentration_ng_per_ml)} is not a product strength "
            f"of {entry.drug} allowed in {pump.id} (a compounded product needs an override "
            "with a reason)"
        )
        raise LimitViolation(
            field, why, limit_id=limit_id, level=SOFT, value=concentration_ng_per_ml, limit=shown
        )
    cap = entry.max_concentration
    if (
        cap is not None
        and lib.concentration_cap_applies(entry, concentration_ng_per_ml)
        and concentration_ng_per_ml > cap.value
        and (cap.level is lib.Level.HARD or not overridden(overrides, cap.id))
    ):
        why = f"above the maximum concentration for {entry.drug}"
        level, bound = cap.level.value, format_concentration_ng_per_ml(cap.value)
        raise LimitViolation(
            field, why, limit_id=cap.id, level=level, value=concentration_ng_per_ml, limit=bound
        )


def _v_implant(d: Device, c: cmd.Implant, now: int, library: Library) -> None:
    check_non_negative(c.trimmed_mm, "command.trimmed_mm")
    pump = library.pump(c.pump)
    catheter = library.catheter(c.catheter)
    t = trial_of(d)
    check_overrides(c.overrides)
    limit_id = f"{pump.id}.approved_drugs"
    if not pump.is_approved_for(t.drug) and not overridden(c.overrides, limit_id):
        why = f"{pump.id} is not approved for {t.drug}; only with an override and a reason"
        labelled = ", ".join(pump.approved_drugs.names)
        raise LimitViolation(
            "command.pump", why, limit_id=limit_id, level=SOFT, value=c.pump, limit=labelled
        )
    if pump.id not in catheter.compatible_pumps.names:
        why = f"catheter {catheter.id} is not listed for pump {pump.id}"
        listed = lib.one_of(catheter.compatible_pumps.names)
        raise RejectedCommand("command.catheter", why, value=c.catheter, limit=listed)
    ref = catheter.reference_length
    if ref is not None and c.trimmed_mm >= ref.value:
        why, bound = "must be shorter than the catheter", f"< {ref.text()}"
        raise InvalidInput("command.trimmed_mm", why, value=c.trimmed_mm, limit=bound)


def _h_implant(d: Device, c: cmd.Implant, now: int, library: Library) -> Applied:
    pump = library.pump(c.pump)
    catheter = library.catheter(c.catheter)
    try:
        dead: int | None = dead_volume_nl(pump, catheter, c.trimmed_mm)
    except RejectedCommand:
        dead = None
    implant = ImplantedSystem(c.pump, c.catheter, c.trimmed_mm, now, dead)
    path = FluidPath.empty(dead) if dead is not None else None
    effects: tuple[Effect, ...] = ()
    if dead is None:
        text = (
            f"The library lacks the volume data of {c.pump} or {c.catheter}: the dead volume "
            "cannot be computed, so priming is refused until the library provides it."
        )
        effects = (Warn("dead_volume_unknown", text),)
    return Applied(evolve(d, implant=implant, path=path), effects)


def _v_fill(d: Device, c: cmd.Fill, now: int, library: Library) -> None:
    check_overrides(c.overrides)
    check_positive(c.volume_nl, "command.volume_nl")
    if d.reservoir is not None:
        raise RejectedCommand("command", "the reservoir is already filled; use a refill")
    # fill rows start in implanted phases only, which have an implant (state.check_consistent)
    assert d.implant is not None
    pump = library.pump(d.implant.pump)
    t = trial_of(d)
    entry = library.drug(t.drug, t.indication)
    check_capacity(pump, c.volume_nl, "command.volume_nl", "fill exceeds the reservoir capacity")
    check_concentration(entry, pump, c.concentration_ng_per_ml, c.overrides)


def _h_fill(d: Device, c: cmd.Fill, now: int, library: Library) -> Applied:
    t = trial_of(d)
    res = Reservoir(t.drug, t.indication, c.concentration_ng_per_ml, c.volume_nl)
    return Applied(evolve(d, reservoir=res, last_fill_nl=c.volume_nl))


def _v_prime(d: Device, c: cmd.Prime, now: int, library: Library) -> None:
    check_positive(c.duration_s, "command.duration_s")
    if c.duration_s > MAX_PRIMING_S:
        bound = f"<= {format_duration_s(MAX_PRIMING_S)}"
        raise InvalidInput("command.duration_s", "too long", value=c.duration_s, limit=bound)


def _h_prime(d: Device, c: cmd.Prime, now: int, library: Library) -> Applied:
    return Applied(*dosing.priming_order(d, now, c.duration_s, library))


HANDLERS: Final = (
    Handler(cmd.Implant, _v_implant, _h_implant),
    Handler(cmd.Fill, _v_fill, _h_fill),
    Handler(cmd.Prime, _v_prime, _h_prime),
)
