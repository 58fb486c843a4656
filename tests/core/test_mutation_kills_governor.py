"""Tests that kill the mutants mutmut left alive in core/governor.py (docs/mutation.md).

Each asserts documented behaviour the other governor tests did not pin down: the exact boundaries
of the reasons (REQ-GOV-010), the figures a clinician bolus reports, and the whole error contract
(``field``, ``message``, ``value``, ``limit``) of every input the governor rejects.
"""

from __future__ import annotations

from typing import Any

import pytest

from itdose.core.errors import InvalidInput
from itdose.core.governor import PatientBolus, Reason, decide_basal, decide_bolus
from itdose.core.ledger import BolusHistory, Ledger

CONC = 1_000_000  # 1 mg/mL: 1 nL holds 1 ng


def _basal(**over: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "now_s": 10_000,
        "requested_ng": 100,
        "ledger": Ledger(),
        "in_flight_ng": 0,
        "in_flight_nl": 0,
        "hard_max_ng": 10**9,
        "reservoir_nl": 10**9,
        "empty_threshold_nl": 0,
        "concentration_ng_per_ml": CONC,
        "delivering": True,
    }
    kw.update(over)
    return kw


def _bolus(**over: Any) -> dict[str, Any]:
    kw = _basal(reserve_ng=0, patient=None)
    kw.update(over)
    return kw


# --- reasons at their exact boundaries ------------------------------------------------------------


def test_basal_of_one_ng_while_not_delivering_says_not_delivering() -> None:
    d = decide_basal(**_basal(requested_ng=1, delivering=False))
    assert d.granted_ng == 0
    assert d.reasons == (Reason.NOT_DELIVERING,)


def test_bolus_exactly_filling_the_cap_room_with_its_reserve_is_granted_without_reason() -> None:
    # cap room = 1000 - 300 = 700 = request 500 + reserve 200
    ledger = Ledger().record(9_000, 300)
    d = decide_bolus(**_bolus(ledger=ledger, requested_ng=500, reserve_ng=200, hard_max_ng=1_000))
    assert (d.requested_ng, d.granted_ng, d.granted_nl, d.reasons) == (500, 500, 500, ())
    one_more = decide_bolus(
        **_bolus(ledger=ledger, requested_ng=501, reserve_ng=200, hard_max_ng=1_000)
    )
    assert (one_more.granted_ng, one_more.reasons) == (0, (Reason.DAILY_CAP,))


def test_bolus_exactly_emptying_the_reservoir_to_its_threshold_is_granted_without_reason() -> None:
    # reservoir room = (2000 - 200 in flight - 300 threshold) nL at 1 ng/nL = 1500 ng
    kw = _bolus(reservoir_nl=2_000, in_flight_nl=200, empty_threshold_nl=300)
    d = decide_bolus(**{**kw, "requested_ng": 1_500})
    assert (d.requested_ng, d.granted_ng, d.granted_nl, d.reasons) == (1_500, 1_500, 1_500, ())
    one_more = decide_bolus(**{**kw, "requested_ng": 1_501})
    assert (one_more.granted_ng, one_more.reasons) == (0, (Reason.RESERVOIR,))


def test_clinician_bolus_reports_no_lockout_and_no_count() -> None:
    d = decide_bolus(**_bolus(requested_ng=250))
    assert d.requested_ng == 250
    assert d.lockout_remaining_s == 0
    assert d.boluses_in_window == 0
    denied = decide_bolus(**_bolus(requested_ng=250, delivering=False))
    assert (denied.lockout_remaining_s, denied.boluses_in_window) == (0, 0)
    assert denied.reasons == (Reason.NOT_DELIVERING,)


def test_decisions_echo_the_request() -> None:
    assert decide_basal(**_basal(requested_ng=77)).requested_ng == 77
    assert decide_bolus(**_bolus(requested_ng=78)).requested_ng == 78
    assert decide_bolus(**_bolus(requested_ng=79, delivering=False)).requested_ng == 79


# --- the error contract of every rejected input ---------------------------------------------------


def _error(fn: Any, kw: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        fn(**kw)
    return exc.value


@pytest.mark.parametrize(
    ("field", "bad", "message", "limit"),
    [
        ("in_flight_ng", 1.5, "must be an integer", None),
        ("in_flight_ng", True, "must be an integer", None),
        ("reservoir_nl", -3, "must not be negative", ">= 0"),
        ("hard_max_ng", -1, "must not be negative", ">= 0"),
        ("concentration_ng_per_ml", 0, "must be positive", "> 0"),
        ("concentration_ng_per_ml", -2, "must not be negative", ">= 0"),
        ("concentration_ng_per_ml", "1", "must be an integer", None),
        ("ledger", "not a ledger", "must be a Ledger", None),
        ("delivering", 1, "must be a bool", None),
    ],
)
def test_basal_input_errors_carry_field_message_value_and_limit(
    field: str, bad: object, message: str, limit: str | None
) -> None:
    err = _error(decide_basal, _basal(**{field: bad}))
    assert (err.field, err.message, err.value, err.limit) == (field, message, bad, limit)
    assert type(err.value) is type(bad)


@pytest.mark.parametrize(
    ("field", "bad", "message", "limit"),
    [
        ("requested_ng", 0, "must be positive", "> 0"),
        ("reserve_ng", -5, "must not be negative", ">= 0"),
        ("patient", "nobody", "must be a PatientBolus or None", None),
    ],
)
def test_bolus_input_errors_carry_field_message_value_and_limit(
    field: str, bad: object, message: str, limit: str | None
) -> None:
    err = _error(decide_bolus, _bolus(**{field: bad}))
    assert (err.field, err.message, err.value, err.limit) == (field, message, bad, limit)


def test_patient_bolus_rejects_a_history_that_is_not_one() -> None:
    with pytest.raises(InvalidInput) as exc:
        PatientBolus(history=(1, 2), lockout_s=60, max_per_24h=4)  # type: ignore[arg-type]
    err = exc.value
    assert (err.field, err.message, err.value, err.limit) == (
        "history",
        "must be a BolusHistory",
        (1, 2),
        None,
    )


def test_a_query_before_the_newest_ledger_bucket_is_an_error_on_now_s() -> None:
    ledger = Ledger().record(1_000, 5)  # bucket 3: [900, 1200)
    for fn, kw in ((decide_basal, _basal(ledger=ledger)), (decide_bolus, _bolus(ledger=ledger))):
        err = _error(fn, {**kw, "now_s": 899})
        assert err.field == "now_s"
        assert err.message == "time went backwards: earlier than the newest recorded bucket"
        assert (err.value, err.limit) == (899, ">= 900")


def test_a_patient_bolus_before_the_last_bolus_start_is_an_error_on_now_s() -> None:
    history = BolusHistory(last_start_s=5_000, starts_s=(5_000,))
    patient = PatientBolus(history=history, lockout_s=600, max_per_24h=4)
    err = _error(decide_bolus, _bolus(now_s=4_000, patient=patient))
    assert err.field == "now_s"
    assert err.message == "time went backwards: before the last bolus start"
    assert (err.value, err.limit) == (4_000, ">= 5000")
