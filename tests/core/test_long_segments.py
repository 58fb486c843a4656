"""Basal orders longer than one hour (REQ-DOSE-009): granted only when the controller asks for
them and they change nothing a patient can notice; otherwise hourly, as by default.

Numbers (worked by hand): morphine 10 mg/mL at 1 mg/day is 100 000 nL/day; the program allows
4 patient boluses of 0.1 mg (0.4 mg = 40 000 nL per 24 h); the largest basal reserve a bolus
check can ask for is ceil(1 mg x 86 700 / 86 400) = 1 003 473 ng; Prometra II low-reservoir
threshold 3.0 mL; morphine hard daily maximum 20 mg.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from itdose_testkit import DAY, HOUR, MORPHINE_PROGRAM, C, P, S, reach

from itdose.core import Device, InvalidInput, Library, Phase, step
from itdose.core import commands as c
from itdose.core.effects import BolusDecision, DeliveryOrder, Effect
from itdose.core.ledger import Ledger
from itdose.core.path import FluidPath, Segment
from itdose.core.program import Basal, FlexStep

MG = 1_000_000
T0 = 7 * DAY + 700  # start_dosing in PATHS[ACTIVE]
MAX_NG = 20 * MG
RESERVE_NG = 1_003_473
ALLOWANCE_NG = 400_000
ALLOWANCE_NL = 40_000
LOW_NL = 3_000_000


def _active(library: Library) -> Device:
    return reach(Phase.ACTIVE, library)


def _first_order(d: Device, library: Library, max_segment_s: int | None = None) -> DeliveryOrder:
    tick = c.Tick(S) if max_segment_s is None else c.Tick(S, max_segment_s=max_segment_s)
    out = step(d, tick, T0, library)
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    return order


def test_default_tick_orders_one_hour(library: Library) -> None:
    """REQ-DOSE-009: without the controller asking, orders last one hour even when a day would
    be admissible."""
    order = _first_order(_active(library), library)
    assert order.duration_s == HOUR
    assert order.volume_nl == 4166  # 100 000 / 24, the rest carried


def test_long_segment_granted_when_everything_fits(library: Library) -> None:
    """REQ-DOSE-009: 1 mg/day, far below the 20 mg cap and the reservoir: one order of a day,
    exactly the day's basal volume."""
    order = _first_order(_active(library), library, DAY)
    assert order.kind == "basal"
    assert (order.duration_s, order.volume_nl) == (DAY, 100_000)


def test_long_segment_capped_by_the_longest_asked(library: Library) -> None:
    """REQ-DOSE-009: 6 h asked, 6 h ordered (a quarter of the day's volume)."""
    order = _first_order(_active(library), library, 6 * HOUR)
    assert (order.duration_s, order.volume_nl) == (6 * HOUR, 25_000)


@pytest.mark.parametrize(("extra", "expected"), [(0, DAY), (1, HOUR)])
def test_cap_boundary_is_exact(library: Library, extra: int, expected: int) -> None:
    """REQ-DOSE-009, REQ-GOV-002: drug that left the tip at once just now + the day's order at its
    pace (1 mg, done before the window moves past the drug already given) + the 24 h bolus
    allowance taken now <= hard maximum; one nanogram more and the order is hourly. (The order
    is counted at its pace, so no basal reserve beyond the day is needed: the basal after it
    only enters windows the earlier drug has left.)"""
    d = _active(library)
    window = MAX_NG - 1 * MG - ALLOWANCE_NG + extra
    # order 1 (the priming) has left the ledger's concern; a piece that left all at once at T0
    ledger = Ledger().record(T0, 1, T0 - 1, window * 1_000_000, window * 1_000_000, 1)
    d = dataclasses.replace(d, ledger=ledger)
    assert _first_order(d, library, DAY).duration_s == expected


@pytest.mark.parametrize(("extra", "expected"), [(1, DAY), (0, HOUR)])
def test_reservoir_boundary_is_exact(library: Library, extra: int, expected: int) -> None:
    """REQ-DOSE-009: the reservoir after the order and the bolus allowance must stay ABOVE the
    low-reservoir threshold, so the low alarm comes exactly when hourly orders would raise it."""
    d = _active(library)
    assert d.reservoir is not None
    volume = LOW_NL + 100_000 + ALLOWANCE_NL + extra
    d = dataclasses.replace(d, reservoir=dataclasses.replace(d.reservoir, volume_nl=volume))
    assert _first_order(d, library, DAY).duration_s == expected


@pytest.mark.parametrize(("extra", "expected"), [(0, DAY), (1, HOUR)])
def test_aftermath_boundary_is_exact(library: Library, extra: int, expected: int) -> None:
    """REQ-DOSE-009, REQ-GOV-002: 6 mg/day is 600 000 nL/day, a pace of exactly 25 000 nL/h. The
    check counts drug still to leave (the order, the day of basal scheduled after it, the bolus
    allowance taken now) in every later window, without letting it age out (conservative): 6 mg
    + 6 mg + 8 mg fills 20 mg exactly, so a bolus allowance of 8 mg gives the day's order; one
    nanogram more and the order is hourly."""
    d = _active(library)
    assert d.program is not None and d.program.patient_bolus is not None
    bolus = dataclasses.replace(d.program.patient_bolus, dose_ng=8 * MG + extra, max_per_24h=1)
    program = dataclasses.replace(d.program, basal=Basal.continuous(6 * MG), patient_bolus=bolus)
    d = dataclasses.replace(d, program=program)
    assert _first_order(d, library, DAY).duration_s == expected


def test_no_long_segment_while_the_path_holds_another_concentration(library: Library) -> None:
    """REQ-DOSE-009, REQ-TIP-003: while the fluid path still holds an older concentration the
    rate follows its contents hour by hour."""
    d = _active(library)
    assert d.path is not None and d.reservoir is not None
    old = Segment(d.path.volume_nl, d.reservoir.drug, d.reservoir.concentration_ng_per_ml // 2)
    d = dataclasses.replace(d, path=FluidPath((old,)))
    order = _first_order(d, library, DAY)
    assert (order.kind, order.duration_s) == ("basal", HOUR)


def test_long_segment_ends_at_end_of_service(library: Library) -> None:
    """REQ-DOSE-009, REQ-BATT-003: a known end of service ends the long order (the tick there
    raises the HIGH alarm on time)."""
    d = dataclasses.replace(_active(library), eos_at_s=T0 + 5 * HOUR)
    assert _first_order(d, library, DAY).duration_s == 5 * HOUR


def test_long_segment_ends_at_the_next_flex_step(library: Library) -> None:
    """REQ-DOSE-009, REQ-TIME-005: a long order never spans a rate change."""
    d = _active(library)
    assert d.program is not None
    flex = Basal(steps=(FlexStep(0, 1 * MG), FlexStep(8 * HOUR, 2 * MG)))
    d = dataclasses.replace(
        d, program=dataclasses.replace(d.program, basal=flex), program_start_s=T0
    )
    order = _first_order(d, library, DAY)
    assert order.duration_s == 8 * HOUR


@pytest.mark.parametrize("value", [HOUR - 1, DAY + 1, 0, -DAY])
def test_max_segment_out_of_range_is_rejected_naming_the_field(
    library: Library, value: int
) -> None:
    """REQ-CORE-004: a bad ``max_segment_s`` is refused naming the field; nothing changes."""
    d = _active(library)
    with pytest.raises(InvalidInput) as err:
        step(d, c.Tick(S, max_segment_s=value), T0, library)
    assert err.value.field == "command.max_segment_s"
    assert err.value.limit == f"{HOUR}..{DAY} s"
    assert step(d, c.Tick(S), T0, library).device != d  # the same device still ticks


# --- a run on an ideal drive: long segments against hourly ones ---------------------------------


def _run(
    library: Library, rate_ng: int, requests: list[int], days: int, max_segment_s: int
) -> tuple[list[tuple[int, int, int, str]], list[tuple[int, BolusDecision, bool]]]:
    """Ticks at each segment end, every order reported in full at its end, bolus requests at
    the given offsets. Returns the orders (start, end, ng, kind) and the bolus decisions with
    whether a longer-than-an-hour basal order was in flight."""
    d = _active(library)
    prog = dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(rate_ng))
    d = step(d, c.SetProgram(C, prog), T0, library).device
    orders: dict[int, tuple[int, int, int, str]] = {}
    open_: dict[int, int] = {}
    decisions: list[tuple[int, BolusDecision, bool]] = []
    end = T0 + days * DAY
    pending = sorted(T0 + r for r in requests)
    now = T0

    def apply(command: c.Command, at: int) -> tuple[Effect, ...]:
        nonlocal d
        out = step(d, command, at, library)
        d = out.device
        for e in out.effects:
            if isinstance(e, DeliveryOrder):
                orders[e.order_id] = (at, at + e.duration_s, e.volume_nl * 10, e.kind)
                open_[e.order_id] = e.volume_nl
        return out.effects

    while now < end:
        for oid in [o for o in open_ if orders[o][1] <= now]:
            apply(c.DriveReport(S, oid, open_.pop(oid), True), now)
        if pending and pending[0] == now:
            pending.pop(0)
            long_in_flight = any(
                orders[o][3] == "basal" and orders[o][1] - orders[o][0] > HOUR for o in open_
            )
            effects = apply(c.RequestBolus(P), now)
            (decision,) = [e for e in effects if isinstance(e, BolusDecision)]
            decisions.append((now, decision, long_in_flight))
        apply(c.Tick(S, max_segment_s=max_segment_s), now)
        assert d.phase is Phase.ACTIVE
        candidates = [d.basal_until_s, *(orders[o][1] for o in open_), *pending[:1]]
        now = min(t for t in candidates if t > now)
    return sorted(orders.values()), decisions


@settings(max_examples=80, deadline=None)
@example(rate_mg10=97, requests=list(range(DAY, 3 * DAY, 5 * HOUR + 1800)))  # aftermath edge
@example(rate_mg10=40, requests=list(range(HOUR, 3 * DAY, 3 * HOUR)))
@given(
    rate_mg10=st.integers(1, 120),
    requests=st.lists(st.integers(1, 3 * DAY - 1), max_size=20, unique=True),
)
def test_long_segments_deliver_the_same_basal_and_never_break_the_cap(
    library: Library, rate_mg10: int, requests: list[int]
) -> None:
    """REQ-DOSE-009, REQ-GOV-004, REQ-BOL-005: over 3 days with random bolus requests, orders of
    up to a day give every request the same decision as hourly orders and deliver exactly the
    basal the hourly orders deliver by each day's end; no bolus is denied for the cap or the
    reservoir while a long order is in flight; and even if the drive
    delivered every order at its start (no trust in its rate), no rolling 24 h window of drug to
    the patient exceeds the hard maximum (brute force over every order start)."""
    rate = rate_mg10 * MG // 10
    long_orders, long_decisions = _run(library, rate, requests, 3, DAY)
    hourly_orders, hourly_decisions = _run(library, rate, requests, 3, HOUR)
    # the patient cannot tell: every request gets the same answer for the same reasons
    assert [(t, d.granted, d.reasons) for t, d, _ in long_decisions] == [
        (t, d.granted, d.reasons) for t, d, _ in hourly_decisions
    ]
    for k in (1, 2, 3):
        boundary = T0 + k * DAY
        assert sum(ng for s, _, ng, kind in long_orders if kind == "basal" and s < boundary) == sum(
            ng for s, _, ng, kind in hourly_orders if kind == "basal" and s < boundary
        )
    for _, decision, long_in_flight in long_decisions:
        if long_in_flight:
            assert not {"daily_cap", "reservoir"} & set(decision.reasons), decision
    starts = sorted({s for s, _, _, _ in long_orders})
    for t in starts:
        window = sum(ng for s, _, ng, _ in long_orders if t - DAY < s <= t)
        assert window <= MAX_NG
    if rate <= 4 * MG:  # a day's order fits: the long mode really is exercised
        assert any(e - s > HOUR for s, e, _, kind in long_orders if kind == "basal")


def test_tick_plan_memo_is_keyed_and_invisible(library: Library) -> None:
    """REQ-CORE-001: the per-instance memo of the tick plan answers only the same question
    (time, longest segment, library object) and is invisible to equality and encoding."""
    from itdose.core import dosing
    from itdose.core.codec import encode

    d = _active(library)
    before = encode(d)
    hour = dosing.plan_tick(d, T0, library)
    day = dosing.plan_tick(d, T0, library, DAY)
    assert hour.basal_until_s == T0 + HOUR and day.basal_until_s == T0 + DAY
    assert dosing.plan_tick(d, T0, library) == hour
    later = dosing.plan_tick(d, T0 + 10, library)
    assert later.basal_until_s == T0 + 10 + HOUR
    other = dataclasses.replace(library)
    assert dosing.plan_tick(d, T0, other) == hour  # recomputed for another library object
    assert encode(d) == before
    assert d == dataclasses.replace(d)


@pytest.mark.parametrize("max_segment_s", [HOUR, DAY])
def test_basal_resumes_at_once_after_a_refill_from_active(
    library: Library, max_segment_s: int
) -> None:
    """REQ-DOSE-009, REQ-DOSE-006: when delivery stops (here for a refill), the rest of the
    basal segment is abandoned, not caught up; when dosing resumes, the next tick orders at once
    at the programmed rate instead of waiting for the abandoned segment's end (which, for a day
    long order, would leave the patient without basal for most of a day)."""
    d = _active(library)
    out = step(d, c.Tick(S, max_segment_s=max_segment_s), T0, library)
    (first,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    d = out.device
    t = T0 + 1800
    d = step(d, c.BeginRefill(C), t, library).device
    assert d.phase is Phase.REFILL
    d = step(d, c.DriveReport(S, first.order_id, 2083, True), t, library).device
    assert d.reservoir is not None
    d = step(d, c.RecordWithdrawal(C, withdrawn_nl=d.reservoir.volume_nl), t + 60, library).device
    d = step(d, c.CompleteRefill(C, 20_000_000, 10_000_000), t + 120, library).device
    assert d.phase is Phase.ACTIVE
    resumed = t + 180
    out = step(d, c.Tick(S, max_segment_s=max_segment_s), resumed, library)
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    assert order.kind == "basal"
    assert out.device.basal_until_s == resumed + order.duration_s
    # the programmed rate, not a burst: 100 000 nL/day over the order, within the carried nL
    assert order.volume_nl * DAY <= 100_000 * order.duration_s + DAY
    assert order.duration_s == min(max_segment_s, DAY - (resumed - T0))
