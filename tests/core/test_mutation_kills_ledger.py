"""Tests that kill the mutants mutmut left alive in core/ledger.py (docs/mutation.md): the error
contract (``field``, ``message``, ``value``, ``limit``) of the ledger ring, its buckets and the
bolus history (REQ-GOV-005, REQ-GOV-006), and the exact buckets a window total sums."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from itdose.core.errors import InvalidInput
from itdose.core.ledger import BUCKET_S, RING_LEN, WINDOW_S, BolusHistory, Bucket, Ledger

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


# --- the ledger ring and its buckets (REQ-GOV-005: bounded memory, time may not go back) --------


def _ledger_error(fn: Callable[[], object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        fn()
    return exc.value


def _contract(err: InvalidInput) -> tuple[str, str, object, str | None]:
    return (err.field, err.message, err.value, err.limit)


def _ring(**slots: Bucket) -> tuple[Bucket, ...]:
    """The empty ring with some slots (named ``s<slot>``) replaced."""
    ring = list(Ledger().buckets)
    for name, bucket in slots.items():
        ring[int(name[1:])] = bucket
    return tuple(ring)


@pytest.mark.parametrize("bad", [2.5, "1", None, True, False])
def test_a_bucket_index_that_is_not_an_int_is_rejected_in_full(bad: object) -> None:
    """REQ-GOV-005: a bucket's index is an integer (a bool is not one)."""
    err = _ledger_error(lambda: Bucket(index=bad, amount_ng=0))  # type: ignore[arg-type]
    assert _contract(err) == ("index", "must be an integer", bad, None)


@pytest.mark.parametrize(
    ("bad", "message", "limit"),
    [
        (-1, "must not be negative", ">= 0"),
        (1.0, "must be an integer", None),
        (True, "must be an integer", None),
        ("5", "must be an integer", None),
    ],
)
def test_a_bucket_amount_is_a_non_negative_int_in_full(
    bad: object, message: str, limit: str | None
) -> None:
    """REQ-GOV-005: amounts only ever over-count, so none is negative."""
    err = _ledger_error(lambda: Bucket(index=3, amount_ng=bad))  # type: ignore[arg-type]
    assert _contract(err) == ("amount_ng", message, bad, limit)


def test_bucket_edge_values_are_accepted() -> None:
    """REQ-GOV-005: index 0 / negative (unused) and amount 0 are valid."""
    assert Bucket(index=0, amount_ng=0).amount_ng == 0
    assert Bucket(index=-1, amount_ng=0).index == -1
    assert Bucket(index=5, amount_ng=7) == Bucket(5, 7)


@pytest.mark.parametrize(
    "buckets",
    [
        [],
        Ledger().buckets[:-1],
        (*Ledger().buckets, Bucket(index=RING_LEN, amount_ng=0)),
        list(Ledger().buckets),
        None,
    ],
    ids=["empty-list", "288", "290", "list-of-289", "none"],
)
def test_a_ring_of_the_wrong_shape_is_rejected_in_full(buckets: object) -> None:
    """REQ-GOV-005: the ring has exactly RING_LEN = 289 slots (bounded memory)."""
    err = _ledger_error(lambda: Ledger(buckets=buckets))  # type: ignore[arg-type]
    assert _contract(err) == ("buckets", "must be a tuple of 289 buckets", None, "289")
    assert str(err) == "buckets: must be a tuple of 289 buckets [limit: 289]"


def test_a_ring_slot_that_is_not_a_bucket_is_rejected_in_full() -> None:
    """REQ-GOV-005: every slot of the ring holds a Bucket."""
    ring = list(Ledger().buckets)
    ring[7] = (7, 0)  # type: ignore[call-overload]
    err = _ledger_error(lambda: Ledger(buckets=tuple(ring)))
    assert _contract(err) == ("buckets[7]", "must be a Bucket", (7, 0), None)
    ring[0] = None  # type: ignore[call-overload]
    err = _ledger_error(lambda: Ledger(buckets=tuple(ring)))
    assert _contract(err) == ("buckets[0]", "must be a Bucket", None, None)


@pytest.mark.parametrize(
    ("slot", "index"),
    [(5, 6), (5, 5 + 1 + RING_LEN), (0, 1), (RING_LEN - 1, RING_LEN), (3, 4 - RING_LEN)],
)
def test_a_bucket_in_the_wrong_slot_is_rejected_in_full(slot: int, index: int) -> None:
    """REQ-GOV-005: slot i holds the bucket whose index is i modulo 289."""
    ring = _ring(**{f"s{slot}": Bucket(index=index, amount_ng=0)})
    err = _ledger_error(lambda: Ledger(buckets=ring))
    assert _contract(err) == (
        f"buckets[{slot}].index",
        "bucket is in the wrong slot",
        index,
        f"index % 289 == {slot}",
    )


def test_buckets_in_their_slots_are_accepted_whatever_the_lap() -> None:
    """REQ-GOV-005: index 5, 5 + 289 and 5 + 2*289 all belong in slot 5."""
    for index in (5, 5 + RING_LEN, 5 + 2 * RING_LEN):
        ledger = Ledger(buckets=_ring(s5=Bucket(index=index, amount_ng=9)))
        assert ledger.newest_bucket == index
        assert ledger.window_total_ng(index * BUCKET_S) == 9


@pytest.mark.parametrize("slot", [0, 1, 288])
def test_an_unused_slot_holding_an_amount_is_rejected_in_full(slot: int) -> None:
    """REQ-GOV-005: a slot never used (negative index) is empty; otherwise the ring would count
    drug that was never recorded."""
    bucket = Bucket(index=slot - RING_LEN, amount_ng=1)
    err = _ledger_error(lambda: Ledger(buckets=_ring(**{f"s{slot}": bucket})))
    assert _contract(err) == (
        f"buckets[{slot}].amount_ng",
        "an unused slot must be empty",
        bucket,
        None,
    )


def test_bucket_zero_is_a_used_slot_and_may_hold_an_amount() -> None:
    """REQ-GOV-005: index 0 (the first 300 s) is a real bucket, not an unused one."""
    ledger = Ledger(buckets=_ring(s0=Bucket(index=0, amount_ng=4)))
    assert ledger.newest_bucket == 0
    assert ledger.window_total_ng(0) == 4
    assert ledger.window_total_ng(299) == 4


def test_the_newest_bucket_of_an_empty_ring_is_minus_one() -> None:
    """REQ-GOV-005: nothing recorded: the newest index is negative (the last unused slot)."""
    assert Ledger().newest_bucket == -1
    assert Ledger().buckets[0] == Bucket(index=-RING_LEN, amount_ng=0)
    assert Ledger().buckets[-1] == Bucket(index=-1, amount_ng=0)
    assert len(Ledger().buckets) == RING_LEN == 289


@pytest.mark.parametrize(
    ("method", "bad", "message", "limit"),
    [
        ("record", -1, "must not be negative", ">= 0"),
        ("record", 1.5, "must be an integer", None),
        ("record", True, "must be an integer", None),
        ("window", -1, "must not be negative", ">= 0"),
        ("window", "0", "must be an integer", None),
        ("window", False, "must be an integer", None),
    ],
)
def test_a_bad_time_is_rejected_in_full(
    method: str, bad: object, message: str, limit: str | None
) -> None:
    """REQ-GOV-005: the ledger is queried and written at whole non-negative seconds."""
    ledger = Ledger()
    if method == "record":
        err = _ledger_error(lambda: ledger.record(bad, 1))  # type: ignore[arg-type]
    else:
        err = _ledger_error(lambda: ledger.window_total_ng(bad))  # type: ignore[arg-type]
    assert _contract(err) == ("t_s", message, bad, limit)


@pytest.mark.parametrize(
    ("bad", "message", "limit"),
    [(-1, "must not be negative", ">= 0"), (0.5, "must be an integer", None)],
)
def test_a_bad_amount_is_rejected_in_full(bad: object, message: str, limit: str | None) -> None:
    """REQ-GOV-005: a recorded amount is a non-negative int (never an under-count)."""
    err = _ledger_error(lambda: Ledger().record(600, bad))  # type: ignore[arg-type]
    assert _contract(err) == ("amount_ng", message, bad, limit)


def test_time_zero_and_amount_zero_are_accepted() -> None:
    """REQ-GOV-005: 0 s and 0 ng are the lower edges of the valid range."""
    ledger = Ledger().record(0, 0)
    assert ledger.buckets[0] == Bucket(index=0, amount_ng=0)
    assert ledger.newest_bucket == 0
    assert ledger.window_total_ng(0) == 0


@pytest.mark.parametrize(
    ("newest_t", "back_t"), [(600, 599), (900, 0), (86_400 * 3, 86_400 * 3 - 1)]
)
def test_going_back_past_the_newest_bucket_is_rejected_in_full(newest_t: int, back_t: int) -> None:
    """REQ-GOV-005: an older bucket may already be overwritten, so time may not go back past the
    newest recorded bucket; the limit names the start of that bucket."""
    ledger = Ledger().record(newest_t, 5)
    bucket_start = newest_t // BUCKET_S * BUCKET_S
    for call in (lambda: ledger.record(back_t, 1), lambda: ledger.window_total_ng(back_t)):
        err = _ledger_error(call)
        assert _contract(err) == (
            "t_s",
            "time went backwards: earlier than the newest recorded bucket",
            back_t,
            f">= {bucket_start}",
        )


def test_an_earlier_instant_inside_the_newest_bucket_is_allowed() -> None:
    """REQ-GOV-005: only the bucket matters: 601 then 600 is the same bucket 2."""
    ledger = Ledger().record(899, 5)
    assert ledger.window_total_ng(600) == 5
    again = ledger.record(600, 3)
    assert again.buckets[2] == Bucket(index=2, amount_ng=8)
    assert again.newest_bucket == 2


def test_record_adds_within_a_bucket_and_replaces_a_bucket_a_lap_old() -> None:
    """REQ-GOV-005: the same bucket accumulates; a slot reused a lap later starts from 0."""
    ledger = Ledger().record(300, 10).record(599, 5)
    assert ledger.buckets[1] == Bucket(index=1, amount_ng=15)
    assert ledger.window_total_ng(599) == 15
    lap = ledger.record((1 + RING_LEN) * BUCKET_S, 7)
    assert lap.buckets[1] == Bucket(index=1 + RING_LEN, amount_ng=7)
    assert lap.newest_bucket == 1 + RING_LEN
    assert lap.window_total_ng((1 + RING_LEN) * BUCKET_S) == 7
    # every other slot is untouched
    assert lap.buckets[:1] == ledger.buckets[:1]
    assert lap.buckets[2:] == ledger.buckets[2:]
    assert len(lap.buckets) == RING_LEN


def test_record_keeps_the_newest_bucket_when_writing_into_it_again() -> None:
    """REQ-GOV-005: the cached newest bucket equals a fresh scan after every record."""
    ledger = Ledger().record(3_000, 1)
    assert ledger.newest_bucket == 10
    same = ledger.record(3_100, 1)
    assert same.newest_bucket == 10 == Ledger(buckets=same.buckets).newest_bucket
    later = same.record(3_300, 1)
    assert later.newest_bucket == 11 == Ledger(buckets=later.buckets).newest_bucket
    assert later.window_total_ng(3_300) == 3


def test_window_total_counts_exactly_the_overlapping_buckets() -> None:
    """REQ-GOV-005: at t the buckets (t + 1) // 300 - 288 .. t // 300 are summed, no others."""
    amounts = {0: 1, 1: 2, 287: 4, 288: 8, 289: 16}
    ledger = Ledger()
    for k, amount in amounts.items():
        ledger = ledger.record(k * BUCKET_S, amount)
    t = 289 * BUCKET_S  # 86700: buckets 1 .. 289 (t + 1 is not a boundary)
    assert ledger.window_total_ng(t) == sum(amounts[k] for k in (1, 287, 288, 289))
    t = 289 * BUCKET_S + 299  # t + 1 is a boundary: buckets 2 .. 289
    assert ledger.window_total_ng(t) == sum(amounts[k] for k in (287, 288, 289))
    t = 288 * BUCKET_S + 298  # buckets 0 .. 288 but 289 not yet: query before recording it
    assert Ledger().record(0, 4).record(t, 6).window_total_ng(t) == 10
    t = 288 * BUCKET_S + 299  # t + 1 = 289 * 300: bucket 0 has left the window
    assert Ledger().record(0, 4).record(t, 6).window_total_ng(t) == 6


# --- the bolus history (REQ-GOV-006: exactly the delivered starts of the last 24 h) -------------


@pytest.mark.parametrize(
    ("call", "field", "bad", "message", "limit"),
    [
        (lambda h: h.count_in_window(-1), "t_s", -1, "must not be negative", ">= 0"),
        (lambda h: h.lockout_remaining_s(-5, 600), "t_s", -5, "must not be negative", ">= 0"),
        (lambda h: h.lockout_remaining_s(10, -1), "lockout_s", -1, "must not be negative", ">= 0"),
        (lambda h: h.lockout_remaining_s(10, 1.5), "lockout_s", 1.5, "must be an integer", None),
        (lambda h: h.lockout_remaining_s(10, True), "lockout_s", True, "must be an integer", None),
        (
            lambda h: h.record_start(10, max_per_24h=-1),
            "max_per_24h",
            -1,
            "must not be negative",
            ">= 0",
        ),
        (
            lambda h: h.record_start(10, max_per_24h="4"),
            "max_per_24h",
            "4",
            "must be an integer",
            None,
        ),
    ],
)
def test_bolus_history_arguments_are_rejected_in_full(
    call: Callable[[BolusHistory], object],
    field: str,
    bad: object,
    message: str,
    limit: str | None,
) -> None:
    """REQ-GOV-006: times, lockouts and the per-24 h maximum are non-negative ints."""
    for history in (BolusHistory(), BolusHistory(last_start_s=0, starts_s=(0,))):
        err = _ledger_error(functools.partial(call, history))
        assert _contract(err) == (field, message, bad, limit)


@pytest.mark.parametrize(
    ("kwargs", "field", "bad", "message", "limit"),
    [
        ({"last_start_s": -1}, "last_start_s", -1, "must not be negative", ">= 0"),
        ({"last_start_s": 2.0}, "last_start_s", 2.0, "must be an integer", None),
        ({"last_start_s": 3, "starts_s": ("3",)}, "starts_s[0]", "3", "must be an integer", None),
        (
            {"last_start_s": 3, "starts_s": (1, 2, -3)},
            "starts_s[2]",
            -3,
            "must not be negative",
            ">= 0",
        ),
        (
            {"last_start_s": 9, "starts_s": (5, 9, 7)},
            "starts_s[2]",
            7,
            "starts must be in time order",
            None,
        ),
        (
            {"last_start_s": 9, "starts_s": (5,)},
            "last_start_s",
            9,
            "must equal the newest of starts_s",
            None,
        ),
        ({"starts_s": (1, 2)}, "last_start_s", None, "missing while starts_s is not empty", None),
    ],
)
def test_an_inconsistent_bolus_history_carries_no_extra_limit(
    kwargs: dict[str, object], field: str, bad: object, message: str, limit: str | None
) -> None:
    """REQ-GOV-006: a corrupted bolus history is refused with the exact field at fault."""
    err = _ledger_error(lambda: BolusHistory(**kwargs))  # type: ignore[arg-type]
    assert _contract(err) == (field, message, bad, limit)


def test_a_start_exactly_24_h_before_the_last_is_too_old() -> None:
    """REQ-GOV-006: the window is (last - 86400, last]: a start at last - 86400 is outside."""
    last = 100_000
    err = _ledger_error(lambda: BolusHistory(last_start_s=last, starts_s=(last - WINDOW_S, last)))
    assert _contract(err) == ("starts_s[0]", "older than 24 h", last - WINDOW_S, None)
    ok = BolusHistory(last_start_s=last, starts_s=(last - WINDOW_S + 1, last))
    assert ok.count_in_window(last) == 2


def test_valid_histories_are_accepted() -> None:
    """REQ-GOV-006: ascending or equal starts, and a last start without kept starts, are valid."""
    assert BolusHistory(last_start_s=9, starts_s=(5, 6, 9)).starts_s == (5, 6, 9)
    assert BolusHistory(last_start_s=9, starts_s=(9, 9)).count_in_window(9) == 2
    assert BolusHistory(last_start_s=0, starts_s=(0,)).count_in_window(0) == 1
    assert BolusHistory(last_start_s=WINDOW_S, starts_s=()).count_in_window(WINDOW_S) == 0
    assert BolusHistory(last_start_s=WINDOW_S).lockout_remaining_s(WINDOW_S, 10) == 10


def test_count_in_window_drops_a_start_exactly_24_h_old() -> None:
    """REQ-GOV-006: a start at s is counted at t while s > t - 86400."""
    h = BolusHistory(last_start_s=1_000, starts_s=(500, 1_000))
    assert h.count_in_window(1_000) == 2
    assert h.count_in_window(500 + WINDOW_S - 1) == 2
    assert h.count_in_window(500 + WINDOW_S) == 1
    assert h.count_in_window(1_000 + WINDOW_S - 1) == 1
    assert h.count_in_window(1_000 + WINDOW_S) == 0


def test_lockout_remaining_counts_down_from_the_last_start() -> None:
    """REQ-GOV-006: the lockout runs from the start of the last delivered bolus."""
    h = BolusHistory(last_start_s=1_000, starts_s=(1_000,))
    assert h.lockout_remaining_s(1_000, 600) == 600
    assert h.lockout_remaining_s(1_001, 600) == 599
    assert h.lockout_remaining_s(1_599, 600) == 1
    assert h.lockout_remaining_s(1_600, 600) == 0
    assert h.lockout_remaining_s(5_000, 600) == 0
    assert h.lockout_remaining_s(1_000, 0) == 0
    assert BolusHistory().lockout_remaining_s(0, 600) == 0
    assert BolusHistory().lockout_remaining_s(7, 600) == 0


def test_record_start_keeps_only_the_starts_of_the_last_24_h() -> None:
    """REQ-GOV-006: starts at or before t - 86400 are dropped; the new start is appended."""
    h = BolusHistory().record_start(100, max_per_24h=2).record_start(200, max_per_24h=2)
    assert h == BolusHistory(last_start_s=200, starts_s=(100, 200))
    # at 100 + 86400 the start at 100 leaves the window, so a third bolus fits max 2
    later = h.record_start(100 + WINDOW_S, max_per_24h=2)
    assert later == BolusHistory(last_start_s=100 + WINDOW_S, starts_s=(200, 100 + WINDOW_S))
    # one second earlier both are still in the window
    err = _ledger_error(lambda: h.record_start(99 + WINDOW_S, max_per_24h=2))
    assert _contract(err) == (
        "t_s",
        "a bolus start here exceeds the maximum per 24 h",
        99 + WINDOW_S,
        "2 per 24 h",
    )
    assert h.record_start(99 + WINDOW_S, max_per_24h=3).starts_s == (100, 200, 99 + WINDOW_S)


def test_a_maximum_of_zero_boluses_refuses_the_first() -> None:
    """REQ-GOV-006: with max 0 per 24 h not even a first bolus may be recorded."""
    err = _ledger_error(lambda: BolusHistory().record_start(0, max_per_24h=0))
    assert _contract(err) == (
        "t_s",
        "a bolus start here exceeds the maximum per 24 h",
        0,
        "0 per 24 h",
    )
    assert BolusHistory().record_start(0, max_per_24h=1) == BolusHistory(0, (0,))


def test_record_hands_over_the_newest_bucket_without_a_rescan() -> None:
    """REQ-GOV-005 (bounded work per report): a ledger made by ``record`` already holds its
    newest bucket index (cached at record time), so the next ``_check_time`` does not scan the
    289 slots again; the cached value equals a scan of the ring."""
    ledger = Ledger().record(3_000, 1).record(3_300, 2)
    assert vars(ledger)["newest_bucket"] == 11
    assert Ledger(buckets=ledger.buckets).newest_bucket == 11
    assert "newest_bucket" not in vars(Ledger())  # a ring from outside is scanned on demand


@pytest.mark.parametrize("index", [2**60, 2**60 + 1, 10**20 + 7])
def test_bucket_arithmetic_is_exact_at_any_magnitude(index: int) -> None:
    """REQ-GOV-005, REQ-UNIT-001: bucket indices are exact integers (``//``), never floats, so
    neither the newest bucket's own amount nor the time-went-back check depends on how large the
    clock value is (at these magnitudes ``t / 300`` is no longer exact in a float)."""
    t = index * BUCKET_S
    ledger = Ledger().record(t, 5)
    assert ledger.newest_bucket == index
    assert ledger.window_total_ng(t) == 5
    assert ledger.window_total_ng(t + BUCKET_S - 1) == 5
    assert ledger.record(t + BUCKET_S - 1, 2).window_total_ng(t + BUCKET_S - 1) == 7
    err = _ledger_error(lambda: ledger.window_total_ng(t - 1))
    assert _contract(err) == (
        "t_s",
        "time went backwards: earlier than the newest recorded bucket",
        t - 1,
        f">= {t}",
    )
