"""Ledger and bolus history against an independent brute-force reference (REQ-GOV-004..006)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itdose.core.codec import decode, encode
from itdose.core.errors import InvalidInput
from itdose.core.ledger import (
    BUCKET_S,
    RING_LEN,
    WINDOW_S,
    BolusHistory,
    Bucket,
    Ledger,
)

DAY = 86_400


def true_total(records: list[tuple[int, int]], t: int) -> int:
    """Reference: the exact amount recorded in (t - 86400, t]."""
    return sum(a for s, a in records if t - DAY < s <= t)


def bucket_amount(records: list[tuple[int, int]], instant: int) -> int:
    """Reference: everything recorded in the 300 s bucket [k*300, k*300+300) holding ``instant``."""
    if instant < 0:
        return 0
    k = instant // 300
    return sum(a for s, a in records if k * 300 <= s < k * 300 + 300)


gaps = st.one_of(
    st.sampled_from([0, 1, 298, 299, 300, 301, 599, 600, DAY - 1, DAY, DAY + 1, DAY + 300]),
    st.integers(min_value=0, max_value=3 * DAY),
)
streams = st.lists(
    st.tuples(gaps, st.integers(min_value=0, max_value=10**9)), min_size=0, max_size=40
)
offsets = st.lists(
    st.one_of(
        st.sampled_from([0, 1, 299, 300, DAY - 301, DAY - 300, DAY - 1, DAY, DAY + 1]),
        st.integers(min_value=0, max_value=2 * DAY),
    ),
    min_size=1,
    max_size=8,
)


def test_constants_fit_together() -> None:
    assert WINDOW_S == DAY
    assert WINDOW_S % BUCKET_S == 0
    assert RING_LEN == WINDOW_S // BUCKET_S + 1
    assert len(Ledger().buckets) == RING_LEN


@settings(max_examples=300)
@given(start=st.integers(min_value=0, max_value=10**7), stream=streams, queries=offsets)
def test_window_total_over_approximates_by_at_most_one_bucket(
    start: int, stream: list[tuple[int, int]], queries: list[int]
) -> None:
    ledger = Ledger()
    records: list[tuple[int, int]] = []
    t = start
    for gap, amount in stream:
        t += gap
        ledger = ledger.record(t, amount)
        records.append((t, amount))
        for q in (t, *(t + d for d in queries)):
            w = ledger.window_total_ng(q)
            exact = true_total(records, q)
            # (a) never below the true total of (q - 86400, q]
            assert w >= exact
            # (b) above it by at most the one bucket holding q - 86400 (what may have left it)
            assert w - exact <= bucket_amount(records, q - DAY)
            if (q + 1) % BUCKET_S == 0:
                assert w == exact


@given(start=st.integers(min_value=0, max_value=10**7), stream=streams)
def test_record_is_pure_and_adds_the_amount(start: int, stream: list[tuple[int, int]]) -> None:
    ledger = Ledger()
    t = start
    for gap, amount in stream:
        t += gap
        before = ledger.window_total_ng(t)
        snapshot = ledger.buckets
        ledger2 = ledger.record(t, amount)
        assert ledger.buckets == snapshot
        assert ledger.window_total_ng(t) == before
        assert ledger2.window_total_ng(t) == before + amount
        ledger = ledger2


@pytest.mark.parametrize("k", [0, 1, 287, 288, 10_000])
def test_window_is_half_open_at_bucket_aligned_edges(k: int) -> None:
    s = k * BUCKET_S + BUCKET_S - 1  # last second of bucket k
    ledger = Ledger().record(s, 7)
    assert ledger.window_total_ng(s) == 7
    assert ledger.window_total_ng(s + DAY - 1) == 7  # s in (s - 1, s + 86399]
    assert ledger.window_total_ng(s + DAY) == 0  # (s, s + 86400] excludes s, and is aligned


def test_bucket_start_delivery_is_over_counted_only_within_its_bucket() -> None:
    s = 300 * 1000  # first second of a bucket
    ledger = Ledger().record(s, 5)
    assert ledger.window_total_ng(s + DAY) == 5  # real total 0: conservative by one bucket
    assert ledger.window_total_ng(s + DAY + BUCKET_S - 2) == 5
    assert ledger.window_total_ng(s + DAY + BUCKET_S - 1) == 0


@given(
    start=st.integers(min_value=BUCKET_S, max_value=10**7),
    back=st.integers(min_value=1, max_value=10**6),
)
def test_time_may_not_go_back_before_the_newest_bucket(start: int, back: int) -> None:
    ledger = Ledger().record(start, 1)
    earlier = start - back
    if earlier // BUCKET_S < start // BUCKET_S:
        with pytest.raises(InvalidInput) as exc:
            ledger.record(max(earlier, 0), 1)
        assert exc.value.field == "t_s"
        with pytest.raises(InvalidInput) as exc2:
            ledger.window_total_ng(max(earlier, 0))
        assert exc2.value.field == "t_s"
    else:  # same bucket: allowed, and counted
        assert ledger.record(earlier, 2).window_total_ng(start) == 3


def test_memory_stays_bounded_over_years() -> None:
    ledger = Ledger()
    records: list[tuple[int, int]] = []
    t = 0
    step = 3_607  # not a multiple of the bucket: touches every slot over time
    years = 4
    while t < years * 365 * DAY:
        ledger = ledger.record(t, t % 1000)
        records.append((t, t % 1000))
        assert len(ledger.buckets) == RING_LEN
        t += step
    assert len(encode(ledger)["buckets"]) == RING_LEN
    recent = [r for r in records if r[0] > t - 2 * DAY]
    for q in (t, t + 100, t + DAY // 2):
        w = ledger.window_total_ng(q)
        assert true_total(recent, q) <= w <= true_total(recent, q) + bucket_amount(recent, q - DAY)


@given(start=st.integers(min_value=0, max_value=10**7), stream=streams)
def test_ledger_round_trips_through_json(start: int, stream: list[tuple[int, int]]) -> None:
    ledger = Ledger()
    t = start
    for gap, amount in stream:
        t += gap
        ledger = ledger.record(t, amount)
    assert decode(Ledger, encode(ledger)) == ledger


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: Ledger().record(-1, 1), "t_s"),
        (lambda: Ledger().record(True, 1), "t_s"),
        (lambda: Ledger().record(1.0, 1), "t_s"),  # type: ignore[arg-type]
        (lambda: Ledger().record("1", 1), "t_s"),  # type: ignore[arg-type]
        (lambda: Ledger().record(1, -1), "amount_ng"),
        (lambda: Ledger().record(1, False), "amount_ng"),
        (lambda: Ledger().record(1, 2.0), "amount_ng"),  # type: ignore[arg-type]
        (lambda: Ledger().window_total_ng(-5), "t_s"),
        (lambda: Ledger(buckets=()), "buckets"),
        (lambda: Bucket(index=1, amount_ng=-1), "amount_ng"),
        (lambda: Bucket(index=True, amount_ng=0), "index"),
    ],
)
def test_invalid_ledger_inputs_name_the_field(call: object, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        call()  # type: ignore[operator]
    assert exc.value.field == field


def test_ring_slots_are_checked() -> None:
    ring = list(Ledger().buckets)
    ring[3] = Bucket(index=4, amount_ng=0)
    with pytest.raises(InvalidInput) as exc:
        Ledger(buckets=tuple(ring))
    assert exc.value.field == "buckets[3].index"
    ring = list(Ledger().buckets)
    ring[5] = Bucket(index=5 - RING_LEN, amount_ng=9)
    with pytest.raises(InvalidInput) as exc:
        Ledger(buckets=tuple(ring))
    assert exc.value.field == "buckets[5].amount_ng"


# --- bolus history -------------------------------------------------------------------------------

start_gaps = st.one_of(
    st.sampled_from([0, 1, 3600, DAY - 1, DAY, DAY + 1]),
    st.integers(min_value=0, max_value=2 * DAY),
)


@settings(max_examples=200)
@given(
    first=st.integers(min_value=0, max_value=10**7),
    gaps_=st.lists(start_gaps, max_size=30),
    queries=offsets,
)
def test_bolus_count_matches_reference(first: int, gaps_: list[int], queries: list[int]) -> None:
    history = BolusHistory()
    starts: list[int] = []
    t = first
    for gap in gaps_:
        t += gap
        history = history.record_start(t, max_per_24h=10**6)
        starts.append(t)
        assert history.last_start_s == t
        for q in (t, *(t + d for d in queries)):
            assert history.count_in_window(q) == sum(1 for s in starts if q - DAY < s <= q)
        assert all(s > t - DAY for s in history.starts_s)
        assert len(history.starts_s) == sum(1 for s in starts if s > t - DAY)


@given(
    last=st.integers(min_value=0, max_value=10**7),
    lockout=st.integers(min_value=0, max_value=DAY),
    after=st.integers(min_value=0, max_value=2 * DAY),
)
def test_lockout_runs_from_the_last_start_and_ends_exactly(
    last: int, lockout: int, after: int
) -> None:
    history = BolusHistory().record_start(last, max_per_24h=1)
    assert history.lockout_remaining_s(last + after, lockout) == max(0, lockout - after)
    assert history.lockout_remaining_s(last + lockout, lockout) == 0
    if lockout > 0:
        assert history.lockout_remaining_s(last + lockout - 1, lockout) == 1
    assert BolusHistory().lockout_remaining_s(last, lockout) == 0


@given(
    max_per_24h=st.integers(min_value=1, max_value=12),
    spacing=st.integers(min_value=1, max_value=DAY // 12),
    t0=st.integers(min_value=0, max_value=10**7),
)
def test_record_start_enforces_the_count_and_bounds_memory(
    max_per_24h: int, spacing: int, t0: int
) -> None:
    history = BolusHistory()
    for i in range(max_per_24h):
        history = history.record_start(t0 + i * spacing, max_per_24h=max_per_24h)
    assert len(history.starts_s) == max_per_24h
    blocked = t0 + max_per_24h * spacing
    if blocked < t0 + DAY:
        with pytest.raises(InvalidInput):
            history.record_start(blocked, max_per_24h=max_per_24h)
    # exactly 24 h after the first start, that start has left (t - 86400, t]
    later = history.record_start(t0 + DAY, max_per_24h=max_per_24h)
    assert len(later.starts_s) <= max_per_24h
    assert t0 not in later.starts_s


def test_bolus_history_rejects_bad_values() -> None:
    history = BolusHistory().record_start(1000, max_per_24h=2)
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: history.record_start(999, max_per_24h=2), "t_s"),
        (lambda: history.count_in_window(999), "t_s"),
        (lambda: history.lockout_remaining_s(2000, -1), "lockout_s"),
        (lambda: history.record_start(2000, max_per_24h=True), "max_per_24h"),
        (lambda: BolusHistory(last_start_s=None, starts_s=(1,)), "last_start_s"),
        (lambda: BolusHistory(last_start_s=5, starts_s=(1,)), "last_start_s"),
        (lambda: BolusHistory(last_start_s=5, starts_s=(5, 1)), "starts_s[1]"),
        (lambda: BolusHistory(last_start_s=DAY + 1, starts_s=(1, DAY + 1)), "starts_s[0]"),
        (lambda: BolusHistory(last_start_s=-1), "last_start_s"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidInput) as exc:
            call()
        assert exc.value.field == field


def test_bolus_history_round_trips_through_json() -> None:
    history = BolusHistory()
    for t in (10, 5000, DAY + 20):
        history = history.record_start(t, max_per_24h=3)
    assert decode(BolusHistory, encode(history)) == history
    assert decode(BolusHistory, encode(BolusHistory())) == BolusHistory()


@given(st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 10**6)), max_size=30))
def test_cached_newest_bucket_matches_the_ring(steps: list[tuple[int, int]]) -> None:
    """REQ-GOV-005: the newest bucket a recorded ledger caches (used by the time-order check)
    is the one a ledger rebuilt from the same ring computes."""
    ledger, t = Ledger(), 0
    for gap, amount in steps:
        t += gap
        ledger = ledger.record(t, amount)
        assert ledger.newest_bucket == Ledger(buckets=ledger.buckets).newest_bucket == t // BUCKET_S
