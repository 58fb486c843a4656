"""Unit parsing and formatting errors (core/units.py): the example
unit each rejection suggests, the error contract (``field``, ``message``, ``value``, ``limit``),
whitespace inside a unit, the exact length and display boundaries, and negative durations
(REQ-UNIT-001, REQ-UNIT-002, REQ-UNIT-003)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from itdose.core.errors import InvalidInput
from itdose.core.units import (
    Dimension,
    format_amount_ng,
    format_concentration_ng_per_ml,
    format_dose_rate_ng_per_day,
    format_duration_s,
    format_quantity,
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


def _error(fn: Callable[[], object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        fn()
    return exc.value


EXAMPLES = [
    (Dimension.AMOUNT, "mg"),
    (Dimension.VOLUME, "mL"),
    (Dimension.CONCENTRATION, "mg/mL"),
    (Dimension.DURATION, "h"),
    (Dimension.DOSE_RATE, "mg/day"),
    (Dimension.VOLUME_RATE, "mL/day"),
    (Dimension.LENGTH, "cm"),
    (Dimension.VOLUME_PER_LENGTH, "mL/cm"),
    (Dimension.PERCENT, "%"),
]


@pytest.mark.parametrize(("dim", "example"), EXAMPLES)
def test_a_missing_unit_suggests_the_clinical_unit_of_the_dimension(
    dim: Dimension, example: str
) -> None:
    err = _error(lambda: parse_quantity("5", "f", dim))
    assert (err.field, err.message, err.value) == ("f", f"has no unit (expected {example})", "5")
    err = _error(lambda: parse_quantity(5, "f", dim))
    assert err.message == f"expected a string with a unit (e.g. '1 {example}'), got int"
    assert err.value == 5


PARSERS: list[Callable[[object, str], int]] = [
    parse_amount_ng,
    parse_volume_nl,
    parse_concentration_ng_per_ml,
    parse_duration_s,
    parse_dose_rate_ng_per_day,
    parse_volume_rate_nl_per_day,
    parse_length_mm,
    parse_volume_per_length_nl_per_m,
    parse_percent_bp,
]


@pytest.mark.parametrize("parser", PARSERS)
def test_every_parser_names_the_callers_field(parser: Callable[[object, str], int]) -> None:
    assert _error(lambda: parser("", "the.field")).field == "the.field"


@pytest.mark.parametrize(
    ("text", "message", "value", "limit"),
    [
        ("", "is empty", "", None),
        ("-1 mg/day", "must not be negative", "-1 mg/day", None),
        ("1" * 58 + " mg/day", "is longer than 64 characters", "1" * 58 + " mg/day", None),
        (
            "x mg/day",
            "expected a plain decimal number and a unit, e.g. '1 mg/day'",
            "x mg/day",
            None,
        ),
        ("5 mL/day", "is a volume rate, expected a dose rate", "5 mL/day", None),
        ("0.1 ng/day", "cannot be represented exactly in ng/day", "0.1 ng/day", None),
        ("10001 mg/day", "is beyond the physical bound", "10001 mg/day", "10000 mg/day"),
        # unit errors show the unit text as the value
        ("1 mg/day/h", "unit has more than one '/'", "mg/day/h", None),
        ("1 furlongs", "unknown unit 'furlongs'", "furlongs", None),
        ("1 furlongs/day", "unknown unit 'furlongs/day'", "furlongs/day", None),
        ("1 mg/cm", "unit 'mg/cm' is not a supported quantity", "mg/cm", None),
    ],
)
def test_rejections_carry_field_message_value_and_limit(
    text: str, message: str, value: str, limit: str | None
) -> None:
    err = _error(lambda: parse_dose_rate_ng_per_day(text, "dose"))
    assert (err.field, err.message, err.value, err.limit) == ("dose", message, value, limit)


def test_spaces_inside_a_unit_are_ignored() -> None:
    assert parse_dose_rate_ng_per_day("1 mg / day", "f") == 1_000_000
    assert parse_concentration_ng_per_ml("2 mg/ mL", "f") == 2_000_000


def test_text_of_exactly_the_maximum_length_is_accepted() -> None:
    text = "0" * 56 + "1 mg/day"
    assert len(text) == 64
    assert parse_dose_rate_ng_per_day(text, "f") == 1_000_000


def test_a_value_of_exactly_one_display_unit_uses_that_unit() -> None:
    assert format_amount_ng(1_000_000) == "1 mg"
    assert format_amount_ng(1_000) == "1 mcg"
    assert format_concentration_ng_per_ml(1_000_000) == "1 mg/mL"
    assert format_dose_rate_ng_per_day(1_000) == "1 mcg/day"


def test_negative_durations_format_with_a_leading_sign() -> None:
    assert format_duration_s(-90) == "-1 min 30 s"
    assert format_duration_s(-86_401) == "-1 d 1 s"


@pytest.mark.parametrize("bad", [1.5, True, "3"])
def test_formatting_rejects_a_non_int(bad: object) -> None:
    err = _error(lambda: format_quantity(bad, Dimension.AMOUNT))  # type: ignore[arg-type]
    assert (err.field, err.message, err.value) == ("value", "expected an int in ng", bad)
    err = _error(lambda: format_duration_s(bad))  # type: ignore[arg-type]
    assert (err.field, err.message, err.value) == ("value", "expected an int in s", bad)


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0 s"), (90, "1 min 30 s"), (86_400, "1 d"), (-3_600, "-1 h")]
)
def test_format_quantity_formats_a_duration_as_days_hours_minutes_seconds(
    value: int, text: str
) -> None:
    """REQ-UNIT-001: a duration in s is shown in d / h / min / s through the generic formatter."""
    assert format_quantity(value, Dimension.DURATION) == text
    assert format_quantity(value, Dimension.DURATION) == format_duration_s(value)


@pytest.mark.parametrize(
    "text",
    ["\u0661\u0660 mg", "\uff11\uff10 mg", "1\u0660 mg", "\u0967 mg", "1.\u0665 mg"],
)
def test_only_ascii_digits_are_numbers(text: str) -> None:
    """REQ-UNIT-002: digits of other scripts (Arabic-Indic, full-width, Devanagari) are refused,
    naming the field, although Python's Decimal would read them: a dose is never entered with
    digits that look different from 0-9."""
    with pytest.raises(InvalidInput) as err:
        parse_amount_ng(text, "dose")
    assert err.value.field == "dose"
    if not text[0].isascii():  # no number at all; otherwise the rest is not a known unit
        assert err.value.message == "expected a plain decimal number and a unit, e.g. '1 mg'"
