"""Tests that kill the mutants mutmut left alive in core/ledger.py (docs/mutation.md): the error
contract (``field``, ``message``, ``value``, ``limit``) of a bolus history queried back in time."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from itdose.core.errors import InvalidInput
from itdose.core.ledger import BolusHistory

HISTORY = BolusHistory(last_start_s=5_000, starts_s=(5_000,))

QUERIES: list[Callable[[BolusHistory, object], object]] = [
    lambda h, t: h.count_in_window(t),  # type: ignore[arg-type]
    lambda h, t: h.lockout_remaining_s(t, 600),  # type: ignore[arg-type]
    lambda h, t: h.record_start(t, max_per_24h=4),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("query", QUERIES)
def test_a_bolus_history_queried_before_its_last_start_names_t_s(
    query: Callable[[BolusHistory, object], object],
) -> None:
    with pytest.raises(InvalidInput) as exc:
        query(HISTORY, 4_999)
    err = exc.value
    assert err.field == "t_s"
    assert err.message == "time went backwards: before the last bolus start"
    assert (err.value, err.limit) == (4_999, ">= 5000")
    assert query(HISTORY, 5_000) is not None  # exactly at the last start is allowed


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize(
    ("bad", "message"), [(-1, "must not be negative"), (2.5, "must be an integer")]
)
def test_a_bolus_history_rejects_a_bad_time_naming_t_s(
    query: Callable[[BolusHistory, object], object], bad: object, message: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        query(BolusHistory(), bad)
    assert (exc.value.field, exc.value.message, exc.value.value) == ("t_s", message, bad)


@pytest.mark.parametrize(
    ("kwargs", "field", "message", "value"),
    [
        ({"starts_s": [1]}, "starts_s", "must be a tuple", [1]),
        ({"last_start_s": 5, "starts_s": (-1,)}, "starts_s[0]", "must not be negative", -1),
        ({"last_start_s": 5, "starts_s": (6, 5)}, "starts_s[1]", "starts must be in time order", 5),
        ({"starts_s": (5,)}, "last_start_s", "missing while starts_s is not empty", None),
        (
            {"last_start_s": 7, "starts_s": (5,)},
            "last_start_s",
            "must equal the newest of starts_s",
            7,
        ),
        (
            {"last_start_s": 90_000, "starts_s": (3_600, 90_000)},
            "starts_s[0]",
            "older than 24 h",
            3_600,
        ),
    ],
)
def test_an_inconsistent_bolus_history_is_rejected_in_full(
    kwargs: dict[str, object], field: str, message: str, value: object
) -> None:
    with pytest.raises(InvalidInput) as exc:
        BolusHistory(**kwargs)  # type: ignore[arg-type]
    assert (exc.value.field, exc.value.message, exc.value.value) == (field, message, value)


def test_recording_one_bolus_too_many_is_rejected_in_full() -> None:
    h = BolusHistory().record_start(100, max_per_24h=1)
    with pytest.raises(InvalidInput) as exc:
        h.record_start(200, max_per_24h=1)
    err = exc.value
    assert (err.field, err.message, err.value, err.limit) == (
        "t_s",
        "a bolus start here exceeds the maximum per 24 h",
        200,
        "1 per 24 h",
    )
