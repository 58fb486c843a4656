"""Exact quantities in named integer base units (REQ-UNIT-001..004).

The base units and their name suffixes (``_ng``, ``_nl``, ``_ng_per_ml``, ``_s``, ``_ng_per_day``,
``_nl_per_day``, ``_mm``, ``_nl_per_m``, ``_bp``), why text is parsed exactly and never rounded
(REQ-UNIT-002) and what the plausibility :data:`BOUNDS` are (REQ-UNIT-003): see
docs/architecture.md, section "Units and arithmetic" (docs/architecture.md#base-units).
"""

from __future__ import annotations

import enum
import re
from decimal import Decimal
from fractions import Fraction
from functools import partial
from typing import Final

from itdose.core.arith import ceil_div
from itdose.core.errors import InvalidInput

NL_PER_ML: Final = 1_000_000
"""Nanolitres per millilitre."""
FG_PER_NG: Final = 1_000_000
"""Femtograms per nanogram: ``nL x ng/mL`` is an amount in fg."""
DAY_S: Final = 86_400
"""Seconds per day (the rolling window and the schedule day)."""


def volume_nl_for(amount_ng: int, concentration_ng_per_ml: int) -> int:
    """The least whole volume holding ``amount_ng`` at ``concentration_ng_per_ml``: rounded UP,
    so a volume charged for an amount never holds less than it (REQ-GOV-003).

    pre: amount_ng >= 0 and concentration_ng_per_ml > 0
    post: __return__ * concentration_ng_per_ml >= amount_ng * 1_000_000
    post: (__return__ - 1) * concentration_ng_per_ml < amount_ng * 1_000_000
    """
    return ceil_div(amount_ng * NL_PER_ML, concentration_ng_per_ml)


class Dimension(enum.Enum):
    """Physical dimension of a quantity, with its base unit as value."""

    AMOUNT = "ng"
    VOLUME = "nL"
    CONCENTRATION = "ng/mL"
    DURATION = "s"
    DOSE_RATE = "ng/day"
    VOLUME_RATE = "nL/day"
    LENGTH = "mm"
    VOLUME_PER_LENGTH = "nL/m"
    PERCENT = "bp"


_AMOUNT: Final = {"g": 10**9, "mg": 10**6, "mcg": 10**3, "ug": 10**3, "µg": 10**3, "ng": 1}
_VOLUME: Final = {"ml": NL_PER_ML, "ul": 10**3, "µl": 10**3, "nl": 1}
_TIME: Final = (
    {"s": 1, "sec": 1, "min": 60}
    | dict.fromkeys(("h", "hr", "hour", "hours"), 3600)
    | dict.fromkeys(("d", "day", "days"), DAY_S)
)
_LENGTH: Final = {"m": 1000, "cm": 10, "mm": 1}

BOUNDS: Final[dict[Dimension, int]] = {
    Dimension.AMOUNT: 10 * 10**9,  # 10 g: more than any reservoir of any library drug holds
    Dimension.VOLUME: 100 * 10**6,  # 100 mL: no implanted reservoir is larger
    Dimension.CONCENTRATION: 100 * 10**6,  # 100 mg/mL
    Dimension.DURATION: 20 * 366 * DAY_S,  # 20 years
    Dimension.DOSE_RATE: 10 * 10**9,  # 10 g/day
    Dimension.VOLUME_RATE: 2400 * 10**6,  # 100 mL/h
    Dimension.LENGTH: 2000,  # 2 m of catheter
    Dimension.VOLUME_PER_LENGTH: 100 * 10**6,  # 1 mL/cm
    Dimension.PERCENT: 100_000,  # 1000 %
}
"""Physical plausibility bound per dimension, in base units (inclusive)."""

_RATIOS: Final = {
    # numerator / denominator -> the quotient, and the denominator's base units in the quotient's
    # (1 mL = 10**6 nL, 1 day = 86400 s, 1 m = 1000 mm)
    (Dimension.AMOUNT, Dimension.VOLUME): (Dimension.CONCENTRATION, NL_PER_ML),
    (Dimension.AMOUNT, Dimension.DURATION): (Dimension.DOSE_RATE, DAY_S),
    (Dimension.VOLUME, Dimension.DURATION): (Dimension.VOLUME_RATE, DAY_S),
    (Dimension.VOLUME, Dimension.LENGTH): (Dimension.VOLUME_PER_LENGTH, 1000),
}

_NUMBER = re.compile(r"^\s*([+-]?)\s*((?:[0-9]+(?:\.[0-9]*)?)|(?:\.[0-9]+))\s*(.*?)\s*$")
_MAX_TEXT = 64


def _simple_unit(unit: str) -> tuple[Dimension, int] | None:
    for table, dim in (
        (_AMOUNT, Dimension.AMOUNT),
        (_VOLUME, Dimension.VOLUME),
        (_TIME, Dimension.DURATION),
        (_LENGTH, Dimension.LENGTH),
    ):
        if unit in table:
            return dim, table[unit]
    return None


def _unit_factor(unit_text: str, field: str) -> tuple[Dimension, Fraction]:
    """The dimension of a unit and the factor that turns one of it into base units."""
    unit = unit_text.replace(" ", "").lower()
    if unit == "%":
        return Dimension.PERCENT, Fraction(100)
    if unit.count("/") > 1:
        raise InvalidInput(field, "unit has more than one '/'", value=unit_text)
    if "/" not in unit:
        simple = _simple_unit(unit)
        if simple is None:
            raise InvalidInput(field, f"unknown unit {unit_text!r}", value=unit_text)
        return simple[0], Fraction(simple[1])
    top, bottom = unit.split("/")
    num, den = _simple_unit(top), _simple_unit(bottom)
    if num is None or den is None:
        raise InvalidInput(field, f"unknown unit {unit_text!r}", value=unit_text)
    (ndim, nf), (ddim, df) = num, den
    if (ndim, ddim) not in _RATIOS:
        why = f"unit {unit_text!r} is not a supported quantity"
        raise InvalidInput(field, why, value=unit_text)
    dim, per = _RATIOS[ndim, ddim]
    return dim, Fraction(nf * per, df)


def parse_quantity(text: object, field: str, expected: Dimension) -> int:
    """Parse ``text`` into an exact integer in the base unit of ``expected``.

    Raises :class:`InvalidInput` naming ``field`` for: a non-string (floats included), an empty
    or over-long string, digits other than ASCII 0-9 (look-alike digits of other scripts), a
    negative number, NaN/inf/exponents, an unknown unit, a unit of another
    dimension, a value that is not a whole number of base units, or a magnitude beyond
    :data:`BOUNDS`.

    Contract (CrossHair; the exceptions are the documented rejections):

    raises: InvalidInput
    post: 0 <= __return__ <= BOUNDS[expected]
    """
    example = _example(expected)
    if not isinstance(text, str):
        why = f"expected a string with a unit (e.g. '1 {example}'), got {type(text).__name__}"
        raise InvalidInput(field, why, value=text)
    if not text.strip():
        raise InvalidInput(field, "is empty", value=text)
    if len(text) > _MAX_TEXT:
        raise InvalidInput(field, f"is longer than {_MAX_TEXT} characters", value=text)
    match = _NUMBER.match(text)
    if match is None:
        why = f"expected a plain decimal number and a unit, e.g. '1 {example}'"
        raise InvalidInput(field, why, value=text)
    sign, digits, unit_text = match.groups()
    if sign == "-":
        raise InvalidInput(field, "must not be negative", value=text)
    if not unit_text:
        raise InvalidInput(field, f"has no unit (expected {example})", value=text)
    number = Decimal(digits)  # the regex admits only valid decimals
    dim, factor = _unit_factor(unit_text, field)
    if dim is not expected:
        is_a, wanted = dim.name.lower().replace("_", " "), expected.name.lower().replace("_", " ")
        raise InvalidInput(field, f"is a {is_a}, expected a {wanted}", value=text)
    exact = Fraction(number) * factor
    if exact.denominator != 1:
        raise InvalidInput(field, f"cannot be represented exactly in {expected.value}", value=text)
    value = exact.numerator
    bound = BOUNDS[expected]
    if value > bound:
        shown = format_quantity(bound, expected)
        raise InvalidInput(field, "is beyond the physical bound", value=text, limit=shown)
    return value


def _example(dim: Dimension) -> str:
    """The unit an error message suggests: the largest display unit (hours for a duration)."""
    return "h" if dim is Dimension.DURATION else _DISPLAY[dim][0][0]


# One parser per dimension: ``parse_X(text, field)`` is ``parse_quantity(text, field, X)``.
parse_amount_ng: Final = partial(parse_quantity, expected=Dimension.AMOUNT)
"""An amount of drug ("50 mcg", "0.5 mg") in nanograms."""
parse_volume_nl: Final = partial(parse_quantity, expected=Dimension.VOLUME)
"""A volume ("40 mL", "250 uL") in nanolitres."""
parse_concentration_ng_per_ml: Final = partial(parse_quantity, expected=Dimension.CONCENTRATION)
"""A concentration ("25 mg/mL", "500 mcg/mL") in ng per mL."""
parse_duration_s: Final = partial(parse_quantity, expected=Dimension.DURATION)
"""A duration ("30 min", "2 h", "7 d") in whole seconds."""
parse_dose_rate_ng_per_day: Final = partial(parse_quantity, expected=Dimension.DOSE_RATE)
"""A dose rate ("0.5 mg/day", "20.83 mcg/h") in ng per day."""
parse_volume_rate_nl_per_day: Final = partial(parse_quantity, expected=Dimension.VOLUME_RATE)
"""A volume rate ("0.048 mL/day") in nL per day."""
parse_length_mm: Final = partial(parse_quantity, expected=Dimension.LENGTH)
"""A length ("110 cm", "20 mm") in millimetres."""
parse_volume_per_length_nl_per_m: Final = partial(
    parse_quantity, expected=Dimension.VOLUME_PER_LENGTH
)
"""A volume per length ("0.0026 mL/cm") in nL per metre."""
parse_percent_bp: Final = partial(parse_quantity, expected=Dimension.PERCENT)
"""A percentage ("14.5 %") in basis points (1450)."""


# --- formatting -------------------------------------------------------------------------------

_DISPLAY: Final[dict[Dimension, tuple[tuple[str, int], ...]]] = {
    # (unit, base units per unit), largest first; the first unit the value reaches is used.
    Dimension.AMOUNT: (("mg", 10**6), ("mcg", 10**3), ("ng", 1)),
    Dimension.VOLUME: (("mL", 10**6),),
    Dimension.CONCENTRATION: (("mg/mL", 10**6), ("mcg/mL", 10**3), ("ng/mL", 1)),
    Dimension.DOSE_RATE: (("mg/day", 10**6), ("mcg/day", 10**3), ("ng/day", 1)),
    Dimension.VOLUME_RATE: (("mL/day", 10**6),),
    Dimension.LENGTH: (("cm", 10), ("mm", 1)),
    Dimension.VOLUME_PER_LENGTH: (("mL/cm", 10**8),),
    Dimension.PERCENT: (("%", 100),),
}


def _decimal_text(value: int, per_unit: int) -> str:
    """``value / per_unit`` as exact decimal text (per_unit is a power of ten)."""
    text = format(Decimal(value).scaleb(-(len(str(per_unit)) - 1)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_quantity(value: int, dim: Dimension) -> str:
    """Human text for an integer in base units; exact (never rounded)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("value", f"expected an int in {dim.value}", value=value)
    if dim is Dimension.DURATION:
        return format_duration_s(value)
    units = _DISPLAY[dim]
    for unit, per in units:
        if abs(value) >= per:
            return f"{_decimal_text(value, per)} {unit}"
    unit, per = units[-1] if value else units[0]
    return f"{_decimal_text(value, per)} {unit}"


def format_amount_ng(value: int) -> str:
    """E.g. 2340000 -> '2.34 mg'; parses back exactly (CrossHair).

    pre: 0 <= value <= BOUNDS[Dimension.AMOUNT]
    post: parse_amount_ng(__return__, "value") == value
    """
    return format_quantity(value, Dimension.AMOUNT)


def format_volume_nl(value: int) -> str:
    """Always in mL, the clinical unit: 234000 -> '0.234 mL'; parses back exactly (CrossHair).

    pre: 0 <= value <= BOUNDS[Dimension.VOLUME]
    post: parse_volume_nl(__return__, "value") == value
    """
    return format_quantity(value, Dimension.VOLUME)


def format_concentration_ng_per_ml(value: int) -> str:
    """E.g. 25000000 -> '25 mg/mL'; parses back exactly (CrossHair).

    pre: 0 <= value <= BOUNDS[Dimension.CONCENTRATION]
    post: parse_concentration_ng_per_ml(__return__, "value") == value
    """
    return format_quantity(value, Dimension.CONCENTRATION)


def format_dose_rate_ng_per_day(value: int) -> str:
    """E.g. 500000 -> '500 mcg/day'; parses back exactly (CrossHair).

    pre: 0 <= value <= BOUNDS[Dimension.DOSE_RATE]
    post: parse_dose_rate_ng_per_day(__return__, "value") == value
    """
    return format_quantity(value, Dimension.DOSE_RATE)


format_volume_rate_nl_per_day: Final = partial(format_quantity, dim=Dimension.VOLUME_RATE)
"""Always in mL/day: 48000 -> '0.048 mL/day'."""
format_length_mm: Final = partial(format_quantity, dim=Dimension.LENGTH)
"""E.g. 900 -> '90 cm'."""


def format_percent_bp(value: int) -> str:
    """E.g. 1450 -> '14.5 %'; parses back exactly (CrossHair).

    pre: 0 <= value <= BOUNDS[Dimension.PERCENT]
    post: parse_percent_bp(__return__, "value") == value
    """
    return format_quantity(value, Dimension.PERCENT)


def format_duration_s(value: int) -> str:
    """E.g. 202176 -> '2 d 8 h 9 min 36 s'; 0 -> '0 s'; each part parses back, and they add up.

    pre: 0 <= value <= BOUNDS[Dimension.DURATION]
    post: sum(parse_duration_s(p, "") for p in re.findall("[0-9]+ [a-z]+", __return__)) == value
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("value", "expected an int in s", value=value)
    if value == 0:
        return "0 s"
    sign, rest = ("-", -value) if value < 0 else ("", value)
    parts = []
    for unit, per in (("d", DAY_S), ("h", 3600), ("min", 60), ("s", 1)):
        count, rest = divmod(rest, per)
        if count:
            parts.append(f"{count} {unit}")
    return sign + " ".join(parts)
