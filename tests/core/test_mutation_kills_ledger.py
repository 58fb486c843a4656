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
