"""The dead volume of the fluid path: pump tubing plus implanted catheter, in nanolitres.

The dead volume is what a priming bolus must fill and the volume of old fluid that leaves the
catheter tip after a refill or a concentration change (docs/clinical-basis.md#dead-volume,
docs/architecture.md#fluid-path). It is computed from the library's manufacturer values, never
typed in and never guessed: an unknown value raises
:class:`~itdose.core.errors.RejectedCommand`.
"""

from __future__ import annotations

from itdose.core.arith import ceil_div
from itdose.core.errors import InvalidInput, RejectedCommand
from itdose.core.library import CatheterModel, PumpModel
from itdose.core.units import Dimension, format_quantity

__all__ = ["catheter_volume_nl", "dead_volume_nl"]


def catheter_volume_nl(catheter: CatheterModel, trimmed_mm: int) -> int:
    """Implanted catheter volume: ``(reference length - trimmed) x volume per length``.

    Prometra: ``(110 cm - trimmed) x 0.0026 mL/cm`` [V, src 11]. The exact product is in
    nl x mm / m, so it is divided by 1000; a remainder is rounded UP. Why up: the volume is what
    a priming bolus must fill and the volume of old fluid that leaves the tip after a refill.
    Underestimating it makes the core believe the new fluid reaches the catheter tip before it
    does (old drug pushed at the new volumetric rate, docs/clinical-basis.md#dead-volume) and
    leaves the catheter tip unprimed; overestimating it by under 1 nl only prolongs the old,
    already prescribed dose by that sub-nanolitre amount.

    Raises :class:`RejectedCommand` when the catheter's length or volume per length is unknown
    (all Medtronic catheters: a gap in the sources) and :class:`InvalidInput` for a trimmed length
    that is not an int in ``0 <= trimmed_mm < reference length``.
    """
    missing = [
        name
        for name, value in (
            ("reference_length", catheter.reference_length),
            ("volume_per_length", catheter.volume_per_length),
        )
        if value is None
    ]
    if catheter.reference_length is None or catheter.volume_per_length is None:
        raise RejectedCommand(
            "catheter",
            f"catheter {catheter.id} has no {' and no '.join(missing)} in the library, so its "
            "volume cannot be computed (it is never guessed); load a library with the "
            "manufacturer's value",
            value=catheter.id,
        )
    if isinstance(trimmed_mm, bool) or not isinstance(trimmed_mm, int):
        raise InvalidInput("trimmed_mm", "expected an int number of millimetres", value=trimmed_mm)
    reference_mm = catheter.reference_length.value
    if trimmed_mm < 0 or trimmed_mm >= reference_mm:
        raise InvalidInput(
            "trimmed_mm",
            "must be at least 0 and shorter than the catheter",
            value=trimmed_mm,
            limit=f"0 <= trimmed < {format_quantity(reference_mm, Dimension.LENGTH)}",
        )
    product = (reference_mm - trimmed_mm) * catheter.volume_per_length.value
    return ceil_div(product, 1000)


def dead_volume_nl(pump: PumpModel, catheter: CatheterModel, trimmed_mm: int) -> int:
    """Dead volume = pump tubing (internal pathway) volume + implanted catheter volume.

    Used for the fluid path and priming (docs/dosing-rules.md: never a free-typed number). Raises
    :class:`RejectedCommand` when the catheter is not listed for the pump or when any volume is
    unknown (the shipped library knows no pump's tubing volume: docs/clinical-basis.md#pumps).
    """
    if pump.id not in catheter.compatible_pumps.names:
        raise RejectedCommand(
            "catheter",
            f"catheter {catheter.id} is not listed for pump {pump.id}",
            value=catheter.id,
            limit="one of " + ", ".join(catheter.compatible_pumps.names),
        )
    if pump.tubing_volume is None:
        raise RejectedCommand(
            "pump",
            f"pump {pump.id} has no tubing (internal pathway) volume in the library, so the dead "
            "volume cannot be computed (it is never guessed); load a library with the "
            "manufacturer's value",
            value=pump.id,
        )
    return pump.tubing_volume.value + catheter_volume_nl(catheter, trimmed_mm)
