"""The dead volume of the fluid path, pump tubing plus implanted catheter, in nanolitres: what a
priming bolus fills and the old fluid that leaves the tip after a refill or a concentration change
(docs/clinical-basis.md#dead-volume, docs/architecture.md#fluid-path). It is computed from the
library's manufacturer values, never typed in and never guessed: an unknown value raises
:class:`~itdose.core.errors.RejectedCommand`.
"""

from __future__ import annotations

from itdose.core.arith import ceil_div
from itdose.core.errors import InvalidInput, RejectedCommand
from itdose.core.library import CatheterModel, PumpModel, one_of
from itdose.core.units import Dimension, format_quantity


def catheter_volume_nl(catheter: CatheterModel, trimmed_mm: int) -> int:
    """Implanted catheter volume: ``(reference length - trimmed_mm) x volume per length``.

    Prometra: ``(110 cm - trimmed) x 0.0026 mL/cm`` [V, src 11]. The product (nl x mm / m) is
    divided by 1000 and rounded UP: an underestimate would have the core believe the new fluid
    reaches the tip before it does (old drug pushed at the new rate) and leave the tip unprimed;
    an overestimate by under 1 nl only prolongs the old, prescribed dose by that amount.

    Raises :class:`RejectedCommand` when the catheter's length or volume per length is unknown
    (all Medtronic catheters: a gap in the sources) and :class:`InvalidInput` for a trimmed length
    that is not an int in ``0 <= trimmed_mm < reference length``.
    """
    reference, per_length = catheter.reference_length, catheter.volume_per_length
    if reference is None or per_length is None:
        known = (("reference_length", reference), ("volume_per_length", per_length))
        why = (
            f"catheter {catheter.id} has no {' and no '.join(n for n, v in known if v is None)} "
            "in the library, so its volume cannot be computed (it is never guessed); load a "
            "library with the manufacturer's value"
        )
        raise RejectedCommand("catheter", why, value=catheter.id)
    if isinstance(trimmed_mm, bool) or not isinstance(trimmed_mm, int):
        raise InvalidInput("trimmed_mm", "expected an int number of millimetres", value=trimmed_mm)
    if trimmed_mm < 0 or trimmed_mm >= reference.value:
        why = "must be at least 0 and shorter than the catheter"
        bound = f"0 <= trimmed < {format_quantity(reference.value, Dimension.LENGTH)}"
        raise InvalidInput("trimmed_mm", why, value=trimmed_mm, limit=bound)
    return ceil_div((reference.value - trimmed_mm) * per_length.value, 1000)


def dead_volume_nl(pump: PumpModel, catheter: CatheterModel, trimmed_mm: int) -> int:
    """Dead volume = pump tubing (internal pathway) volume + implanted catheter volume.

    Raises :class:`RejectedCommand` when the catheter is not listed for the pump or when any volume
    is unknown (the shipped library knows no pump's tubing volume: docs/clinical-basis.md#pumps).
    """
    if pump.id not in catheter.compatible_pumps.names:
        why = f"catheter {catheter.id} is not listed for pump {pump.id}"
        listed = one_of(catheter.compatible_pumps.names)
        raise RejectedCommand("catheter", why, value=catheter.id, limit=listed)
    if pump.tubing_volume is None:
        why = (
            f"pump {pump.id} has no tubing (internal pathway) volume in the library, so the dead "
            "volume cannot be computed (it is never guessed); load a library with the "
            "manufacturer's value"
        )
        raise RejectedCommand("pump", why, value=pump.id)
    return pump.tubing_volume.value + catheter_volume_nl(catheter, trimmed_mm)
