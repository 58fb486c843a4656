"""Units: exact parsing into base units, and clear rejection of every kind of bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itdose.core import InvalidInput
from itdose.core.units import (
    BOUNDS,
    Dimension,
    format_amount_ng,
    format_concentration_ng_per_ml,
    format_dose_rate_ng_per_day,
    format_duration_s,
    format_length_mm,
    format_percent_bp,
    format_quantity,
    format_volume_nl,
    format_volume_rate_nl_per_day,
    parse_amount_ng,
    parse_concentration_ng_per_ml,
    parse_dose_rate_ng_per_day,
    parse_duration_s,
    parse_length_mm,
    parse_percent_bp,
    parse_quantity,
    parse_volume_nl,
    parse_volume_per_length_nl_per_m,
    parse_volume_rate_nl_per_day,
)

VALID = [
    ("0.5 mg/day", parse_dose_rate_ng_per_day, 500_000),
    ("20.83 mcg/h", parse_dose_rate_ng_per_day, 20_830 * 24),
    ("25 mg/mL", parse_concentration_ng_per_ml, 25_000_000),
    ("500 mcg/mL", parse_concentration_ng_per_ml, 500_000),
    ("40 mL", parse_volume_nl, 40_000_000),
    ("0.048 mL/day", parse_volume_rate_nl_per_day, 48_000),
    ("250 uL", parse_volume_nl, 250_000),
    ("250 µL", parse_volume_nl, 250_000),
    ("250 nL", parse_volume_nl, 250),
    ("30 min", parse_duration_s, 1_800),
    ("2 h", parse_duration_s, 7_200),
    ("7 d", parse_duration_s, 604_800),
    ("45 s", parse_duration_s, 45),
    ("50 mcg", parse_amount_ng, 50_000),
    ("50 ug", parse_amount_ng, 50_000),
    ("50 µg", parse_amount_ng, 50_000),
    ("7 ng", parse_amount_ng, 7),
    ("19.2 mcg/day", parse_dose_rate_ng_per_day, 19_200),
    ("0.1 mcg/h", parse_dose_rate_ng_per_day, 2_400),
    ("1 mg/d", parse_dose_rate_ng_per_day, 1_000_000),
    ("110 cm", parse_length_mm, 1_100),
    ("0.0026 mL/cm", parse_volume_per_length_nl_per_m, 260_000),
    ("14.5 %", parse_percent_bp, 1_450),
    ("  0 mg/day ", parse_dose_rate_ng_per_day, 0),
    (".5 mL", parse_volume_nl, 500_000),
]


@pytest.mark.parametrize(("text", "parser", "expected"), VALID)
def test_valid_quantities_parse_exactly(text: str, parser: object, expected: int) -> None:
    """Human quantities parse exactly into integer base units (REQ-UNIT-001, REQ-UNIT-002)."""
    assert callable(parser)
    assert parser(text, "f") == expected


BAD = [
    (0.5, "got float"),
    (1, "got int"),
    (None, "got NoneType"),
    (True, "got bool"),
    ("", "is empty"),
    ("   ", "is empty"),
    ("-1 mg/day", "must not be negative"),
    ("nan mg/day", "plain decimal number"),
    ("inf mg/day", "plain decimal number"),
    ("1e3 mg/day", "unknown unit"),
    ("5 furlongs/day", "unknown unit"),
    ("5 mL", "is a volume, expected a dose rate"),
    ("5 mg/mL", "is a concentration, expected a dose rate"),
    ("5", "has no unit"),
    ("0.0000001 mg/day", "cannot be represented exactly"),
    ("10.0001 g/day", "beyond the physical bound"),
    ("1 mg/day/h", "more than one '/'"),
    ("1 mg/cm", "not a supported quantity"),
    ("1" * 70 + " mg/day", "longer than"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD)
def test_bad_input_is_rejected_naming_the_field(text: object, fragment: str) -> None:
    """Inexact, out-of-bound and malformed quantities are rejected naming the field (REQ-UNIT-002,
    REQ-UNIT-003, REQ-CORE-004)."""
    with pytest.raises(InvalidInput) as info:
        parse_dose_rate_ng_per_day(text, "basal.dose")
    assert info.value.field == "basal.dose"
    assert fragment in str(info.value)
    assert str(info.value).startswith("basal.dose: ")


def test_reservoir_over_100_ml_is_beyond_bound() -> None:
    """A volume beyond any reservoir is rejected (REQ-UNIT-003)."""
    assert parse_volume_nl("100 mL", "reservoir") == 100_000_000
    with pytest.raises(InvalidInput, match="reservoir: is beyond the physical bound"):
        parse_volume_nl("100.001 mL", "reservoir")


def test_sub_second_duration_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="exactly in s"):
        parse_duration_s("0.5 s", "lockout")
    assert parse_duration_s("0.5 min", "lockout") == 30


@pytest.mark.parametrize(
    ("value", "formatter", "text"),
    [
        (234_000, format_volume_nl, "0.234 mL"),
        (40_000_000, format_volume_nl, "40 mL"),
        (2_340_000, format_amount_ng, "2.34 mg"),
        (50_000, format_amount_ng, "50 mcg"),
        (7, format_amount_ng, "7 ng"),
        (0, format_amount_ng, "0 mg"),
        (19_200, format_dose_rate_ng_per_day, "19.2 mcg/day"),
        (25_000_000, format_concentration_ng_per_ml, "25 mg/mL"),
        (48_000, format_volume_rate_nl_per_day, "0.048 mL/day"),
        (900, format_length_mm, "90 cm"),
        (1_450, format_percent_bp, "14.5 %"),
        (202_176, format_duration_s, "2 d 8 h 9 min 36 s"),
        (0, format_duration_s, "0 s"),
    ],
)
def test_format(value: int, formatter: object, text: str) -> None:
    assert callable(formatter)
    assert formatter(value) == text


_DIMS = [d for d in Dimension if d is not Dimension.DURATION]


@given(st.sampled_from(_DIMS), st.data())
def test_format_then_parse_round_trips(dim: Dimension, data: st.DataObject) -> None:
    value = data.draw(st.integers(min_value=0, max_value=BOUNDS[dim]))
    assert parse_quantity(format_quantity(value, dim), "x", dim) == value


@given(st.integers(min_value=0, max_value=BOUNDS[Dimension.DURATION]))
def test_duration_format_sums_back(value: int) -> None:
    total = sum(parse_duration_s(" ".join(pair), "x") for pair in _pairs(format_duration_s(value)))
    assert total == value


def _pairs(text: str) -> list[tuple[str, str]]:
    words = text.split()
    return [(words[i], words[i + 1]) for i in range(0, len(words), 2)]


@given(
    st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False, allow_infinity=False),
)
def test_parsed_dose_equals_exact_decimal_value(number: Decimal) -> None:
    """Parsing is exact or rejects; never rounds (REQ-UNIT-002)."""
    text = f"{number} mcg/h"
    exact = number * 1000 * 24
    if exact != exact.to_integral_value():
        with pytest.raises(InvalidInput, match="exactly"):
            parse_dose_rate_ng_per_day(text, "dose")
    else:
        assert parse_dose_rate_ng_per_day(text, "dose") == int(exact)


def test_format_rejects_non_int() -> None:
    with pytest.raises(InvalidInput):
        format_quantity(True, Dimension.AMOUNT)
    with pytest.raises(InvalidInput):
        format_duration_s(1.0)  # type: ignore[arg-type]


@given(
    amount=st.integers(min_value=0, max_value=10 * 10**9),
    conc=st.integers(min_value=1, max_value=100 * 10**6),
)
def test_volume_for_an_amount_is_the_least_whole_volume_holding_it(amount: int, conc: int) -> None:
    """REQ-GOV-003: the volume charged for an amount rounds UP: the least whole nL whose drug at
    the concentration is at least the amount (1 mL = 10**6 nL, written from the unit)."""
    from fractions import Fraction
    from math import ceil

    from itdose.core.units import volume_nl_for

    exact = Fraction(amount * 10**6, conc)
    assert volume_nl_for(amount, conc) == ceil(exact)
    assert volume_nl_for(1, 10**6) == 1 and volume_nl_for(10**6 + 1, 10**6) == 10**6 + 1


def test_one_set_of_unit_constants() -> None:
    """REQ-UNIT-001: the conversion constants have one home (the units module); the modules that
    use them hold the same objects, equal to the units' own definitions."""
    from itdose.core import path, program, units

    assert (units.NL_PER_ML, units.FG_PER_NG, units.DAY_S) == (10**6, 10**6, 24 * 3600)
    assert program.NL_PER_ML is units.NL_PER_ML and program.DAY_S is units.DAY_S
    assert path.FG_PER_NG is units.FG_PER_NG
    assert units.parse_volume_nl("1 mL", "v") == units.NL_PER_ML
