"""The dose governor: arithmetic contracts, decisions with reasons at their exact boundaries, the
whole error contract of every rejected input, and a simulated delivery stream checked against
every real 24 h window (REQ-GOV-001..010).

Every amount the governor sees is drug leaving the catheter tip; the reservoir room is passed in
as ``reservoir_room_ng`` (what the usable volume pushes out of the tip, rounded down; its
computation through the fluid path is tested with the delivery engine)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from math import ceil, floor
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itdose.core.arith import INT_OPS, ceil_div, floor_div
from itdose.core.errors import InvalidInput
from itdose.core.governor import (
    Decision,
    PatientBolus,
    Reason,
    decide_basal,
    decide_bolus,
    grant_all_or_nothing,
    grant_amount,
)
from itdose.core.ledger import BUCKET_S, BolusHistory, Ledger

DAY = 86_400
NL_PER_ML = 1_000_000

nonneg = st.integers(min_value=0, max_value=10**12)
small = st.integers(min_value=0, max_value=10**7)
concentrations = st.one_of(
    st.sampled_from([50_000, 500_000, 10**6, 2 * 10**6, 10**7, 25 * 10**6, 25_000, 100_000]),
    st.integers(min_value=1, max_value=10**8),
)


def ref_room(reservoir_nl: int, in_flight_nl: int, threshold_nl: int, conc: int) -> int:
    """Reference reservoir room with the path holding the reservoir's fluid: the amount the usable
    volume (above the threshold, net of the volume in flight) pushes out of the tip, rounded
    down, from exact rationals."""
    usable = max(0, reservoir_nl - in_flight_nl - threshold_nl)
    return floor(Fraction(usable * conc, NL_PER_ML))


def ref_volume_for(amount_ng: int, conc: int) -> int:
    return ceil(Fraction(amount_ng * NL_PER_ML, conc))


# --- arith ---------------------------------------------------------------------------------------


@given(a=nonneg, b=st.integers(min_value=1, max_value=10**9))
def test_division_helpers_match_exact_rationals(a: int, b: int) -> None:
    assert floor_div(a, b) == floor(Fraction(a, b))
    assert ceil_div(a, b) == ceil(Fraction(a, b))
    assert INT_OPS.floor_div(a, b) == floor_div(a, b)
    assert INT_OPS.ceil_div(a, b) == ceil_div(a, b)


@pytest.mark.parametrize("fn", [floor_div, ceil_div, INT_OPS.floor_div, INT_OPS.ceil_div])
@pytest.mark.parametrize(
    ("a", "b", "field"),
    [
        (-1, 3, "dividend"),
        (3, 0, "divisor"),
        (3, -2, "divisor"),
        (True, 2, "dividend"),
        (3, 2.0, "divisor"),
    ],
)
def test_division_rejects_operands_outside_the_rule(
    fn: Callable[[Any, Any], int], a: object, b: object, field: str
) -> None:
    with pytest.raises(InvalidInput) as exc:
        fn(a, b)
    assert exc.value.field == field


@given(a=st.integers(), b=st.integers(), c=st.booleans(), d=st.booleans())
def test_int_ops_agree_with_python(a: int, b: int, c: bool, d: bool) -> None:
    o = INT_OPS
    assert o.ite(c, a, b) == (a if c else b)
    assert (o.min_(a, b), o.max_(a, b)) == (min(a, b), max(a, b))
    assert o.and_(c, d) == (c and d) and o.or_(c, d) == (c or d) and o.not_(c) == (not c)
    assert o.and_() is True and o.or_() is False
    assert (o.le(a, b), o.lt(a, b), o.ge(a, b), o.gt(a, b), o.eq(a, b)) == (
        a <= b,
        a < b,
        a >= b,
        a > b,
        a == b,
    )
    assert (o.add(a, b), o.sub(a, b), o.mul(a, b), o.lit(a)) == (a + b, a - b, a * b, a)


# --- grant arithmetic ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    requested_ng: int
    window_total_ng: int
    in_flight_ng: int
    hard_max_ng: int
    reservoir_room_ng: int
    delivering: bool

    def kwargs(self) -> dict[str, Any]:
        return dict(self.__dict__)


inputs = st.builds(
    Inputs,
    requested_ng=small,
    window_total_ng=small,
    in_flight_ng=st.integers(min_value=0, max_value=10**6),
    hard_max_ng=small,
    reservoir_room_ng=st.one_of(small, st.sampled_from([0, 1])),
    delivering=st.booleans(),
)


@settings(max_examples=500)
@given(x=inputs)
def test_divisible_grant_is_the_largest_safe_amount(x: Inputs) -> None:
    g = grant_amount(INT_OPS, **x.kwargs())
    assert 0 <= g <= x.requested_ng
    if not x.delivering:
        assert g == 0
        return
    if g > 0:
        assert x.window_total_ng + x.in_flight_ng + g <= x.hard_max_ng
        # the grant is drug the reservoir's usable volume can push out of the tip
        assert g <= x.reservoir_room_ng
    if g < x.requested_ng:  # one more nanogram would break the cap or the reservoir
        nxt = g + 1
        over_cap = x.window_total_ng + x.in_flight_ng + nxt > x.hard_max_ng
        over_res = nxt > x.reservoir_room_ng
        assert over_cap or over_res


@settings(max_examples=500)
@given(x=inputs, reserve=st.integers(min_value=0, max_value=10**6))
def test_bolus_grant_is_all_or_nothing(x: Inputs, reserve: int) -> None:
    g = grant_all_or_nothing(INT_OPS, reserve_ng=reserve, **x.kwargs())
    fits = (
        x.delivering
        and x.window_total_ng + x.in_flight_ng + reserve + x.requested_ng <= x.hard_max_ng
        and x.requested_ng <= x.reservoir_room_ng
    )
    assert g == (x.requested_ng if fits else 0)


# --- int-level decisions -------------------------------------------------------------------------


def basal_kwargs(x: Inputs, ledger: Ledger, now: int) -> dict[str, Any]:
    kw = x.kwargs()
    del kw["window_total_ng"]
    return {**kw, "ledger": ledger, "now_s": now}


@settings(max_examples=300)
@given(
    x=inputs,
    deliveries=st.lists(st.tuples(st.integers(0, DAY), st.integers(0, 10**6)), max_size=10),
    now_after=st.integers(0, DAY),
)
def test_decide_basal_reasons_explain_every_reduction(
    x: Inputs, deliveries: list[tuple[int, int]], now_after: int
) -> None:
    ledger = Ledger()
    t = 0
    for gap, amount in deliveries:
        t += gap
        ledger = ledger.record(t, amount)
    now = t + now_after
    window = ledger.window_total_ng(now)
    d = decide_basal(**basal_kwargs(x, ledger, now))
    expected = grant_amount(INT_OPS, **{**x.kwargs(), "window_total_ng": window})
    assert d.granted_ng == expected
    assert d.requested_ng == x.requested_ng
    assert (d.reasons == ()) == (d.granted_ng == x.requested_ng)
    assert list(d.reasons) == sorted(set(d.reasons), key=list(Reason).index)
    cap_binds = x.requested_ng > max(0, x.hard_max_ng - window - x.in_flight_ng)
    res_binds = x.requested_ng > x.reservoir_room_ng
    assert (Reason.DAILY_CAP in d.reasons) == cap_binds
    assert (Reason.RESERVOIR in d.reasons) == res_binds
    assert (Reason.NOT_DELIVERING in d.reasons) == (not x.delivering and x.requested_ng > 0)
    assert Reason.LOCKOUT not in d.reasons and Reason.BOLUS_COUNT not in d.reasons


def bolus(
    now: int,
    requested: int,
    *,
    ledger: Ledger | None = None,
    hard_max: int = 10**9,
    room: int = 10**9,
    delivering: bool = True,
    patient: PatientBolus | None = None,
    reserve: int = 0,
    in_flight_ng: int = 0,
) -> Decision:
    return decide_bolus(
        now_s=now,
        requested_ng=requested,
        ledger=ledger if ledger is not None else Ledger(),
        in_flight_ng=in_flight_ng,
        hard_max_ng=hard_max,
        reserve_ng=reserve,
        reservoir_room_ng=room,
        delivering=delivering,
        patient=patient,
    )


@given(
    last=st.integers(0, 10**7),
    lockout=st.integers(1, DAY),
    dose=st.integers(1, 10**5),
)
def test_lockout_boundary_is_exact(last: int, lockout: int, dose: int) -> None:
    history = BolusHistory().record_start(last, max_per_24h=100)
    rule = PatientBolus(history=history, lockout_s=lockout, max_per_24h=100)
    ledger = Ledger().record(last, dose)
    at = bolus(last + lockout, dose, ledger=ledger, patient=rule)
    assert at.granted_ng == dose and at.reasons == () and at.lockout_remaining_s == 0
    early = bolus(last + lockout - 1, dose, ledger=ledger, patient=rule)
    assert early.granted_ng == 0
    assert early.reasons == (Reason.LOCKOUT,) and early.lockout_remaining_s == 1
    # a denial records nothing, so the lockout still ends at last + lockout
    again = bolus(last + lockout, dose, ledger=ledger, patient=rule)
    assert again.granted_ng == dose


@given(
    max_per_24h=st.integers(1, 8),
    lockout=st.integers(1, 3600),
    t0=st.integers(0, 10**7),
    dose=st.integers(1, 10**4),
)
def test_bolus_count_per_rolling_24h(max_per_24h: int, lockout: int, t0: int, dose: int) -> None:
    history = BolusHistory()
    for i in range(max_per_24h):
        t = t0 + i * lockout
        rule = PatientBolus(history=history, lockout_s=lockout, max_per_24h=max_per_24h)
        d = bolus(t, dose, patient=rule)
        assert d.granted_ng == dose and d.boluses_in_window == i
        history = history.record_start(t, max_per_24h=max_per_24h)
    rule = PatientBolus(history=history, lockout_s=lockout, max_per_24h=max_per_24h)
    full = t0 + max_per_24h * lockout
    d = bolus(full, dose, patient=rule)
    assert d.granted_ng == 0 and d.reasons == (Reason.BOLUS_COUNT,)
    assert d.boluses_in_window == max_per_24h
    # the first start leaves the window (t - 86400, t] exactly 24 h after it
    assert bolus(t0 + DAY - 1, dose, patient=rule).reasons == (Reason.BOLUS_COUNT,)
    assert bolus(t0 + DAY, dose, patient=rule).granted_ng == dose


@given(
    window_amount=st.integers(0, 10**6),
    requested=st.integers(1, 10**6),
    hard_max=st.integers(0, 2 * 10**6),
    reserve=st.integers(0, 10**6),
)
def test_bolus_denied_whole_when_it_does_not_fit_the_cap(
    window_amount: int, requested: int, hard_max: int, reserve: int
) -> None:
    ledger = Ledger().record(1000, window_amount)
    d = bolus(2000, requested, ledger=ledger, hard_max=hard_max, reserve=reserve)
    fits = window_amount + reserve + requested <= hard_max
    assert d.granted_ng == (requested if fits else 0)
    assert (Reason.DAILY_CAP in d.reasons) == (not fits)


@given(
    reservoir=st.integers(0, 10**7),
    threshold=st.integers(0, 10**6),
    requested=st.integers(1, 10**7),
    conc=concentrations,
)
def test_bolus_never_takes_the_reservoir_below_empty(
    reservoir: int, threshold: int, requested: int, conc: int
) -> None:
    room = ref_room(reservoir, 0, threshold, conc)
    d = bolus(0, requested, room=room)
    assert d.granted_ng in (0, requested)
    if d.granted_ng:
        # the least volume that holds the bolus leaves the reservoir at or above the threshold
        assert reservoir - ref_volume_for(requested, conc) >= threshold
    else:
        assert d.reasons == (Reason.RESERVOIR,)
        assert reservoir - ref_volume_for(requested, conc) < threshold


def test_not_delivering_denies_a_bolus_and_lists_every_other_reason() -> None:
    history = BolusHistory().record_start(0, max_per_24h=1)
    rule = PatientBolus(history=history, lockout_s=600, max_per_24h=1)
    d = bolus(10, 10**9, delivering=False, patient=rule, hard_max=10, room=0)
    assert d.granted_ng == 0
    assert d.reasons == (
        Reason.NOT_DELIVERING,
        Reason.LOCKOUT,
        Reason.BOLUS_COUNT,
        Reason.DAILY_CAP,
        Reason.RESERVOIR,
    )


GOOD: dict[str, Any] = dict(
    now_s=100,
    requested_ng=1000,
    ledger=Ledger(),
    in_flight_ng=0,
    hard_max_ng=10**6,
    reservoir_room_ng=10**6,
    delivering=True,
)
INT_FIELDS = ["now_s", "requested_ng", "in_flight_ng", "hard_max_ng", "reservoir_room_ng"]


@pytest.mark.parametrize("decide", ["basal", "bolus"])
@pytest.mark.parametrize("name", [*INT_FIELDS, "reserve_ng"])
@pytest.mark.parametrize("bad", [-1, True, 1.5, "1", None])
def test_invalid_inputs_name_the_field(decide: str, name: str, bad: object) -> None:
    if decide == "basal" and name == "reserve_ng":
        return
    kw = dict(GOOD)
    if decide == "bolus":
        kw.update(reserve_ng=0, patient=None)
    kw[name] = bad
    fn: Callable[..., Decision] = decide_basal if decide == "basal" else decide_bolus
    with pytest.raises(InvalidInput) as exc:
        fn(**kw)
    assert exc.value.field == name


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"delivering": 1}, "delivering"),
        ({"ledger": None}, "ledger"),
        ({"ledger": Ledger().record(10 * BUCKET_S, 1)}, "now_s"),  # now before the newest bucket
    ],
)
def test_invalid_context_names_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        decide_basal(**{**GOOD, **changes})
    assert exc.value.field == field


def test_bolus_specific_validation() -> None:
    kw = {**GOOD, "reserve_ng": 0, "patient": None, "requested_ng": 0}
    with pytest.raises(InvalidInput) as exc:
        decide_bolus(**kw)
    assert exc.value.field == "requested_ng"
    kw["requested_ng"] = 5
    with pytest.raises(InvalidInput) as exc:
        decide_bolus(**{**kw, "patient": "patient"})
    assert exc.value.field == "patient"
    for name, value in [("lockout_s", -1), ("max_per_24h", True), ("history", None)]:
        args: dict[str, Any] = {"history": BolusHistory(), "lockout_s": 1, "max_per_24h": 1}
        args[name] = value
        with pytest.raises(InvalidInput) as exc:
            PatientBolus(**args)
        assert exc.value.field == name
    late = BolusHistory().record_start(500, max_per_24h=1)
    with pytest.raises(InvalidInput) as exc:
        decide_bolus(**{**kw, "patient": PatientBolus(late, 1, 1)})
    assert exc.value.field == "now_s"


# --- simulated delivery stream: every real 24 h window stays under the cap -----------------------


@dataclass
class Grant:
    granted_ng: int
    charged_nl: int
    pieces: list[tuple[int, int]]  # physical (instant, ng)
    reports: list[tuple[int, int]]  # (report instant, ng), report instant >= piece instant
    reported_ng: int = 0


@dataclass
class Sim:
    hard_max_ng: int
    conc: int
    threshold_nl: int
    reservoir_nl: int
    lockout_s: int
    max_per_24h: int
    count_in_flight: bool = True
    ledger: Ledger = field(default_factory=Ledger)
    history: BolusHistory = field(default_factory=BolusHistory)
    grants: list[Grant] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    last_report_s: int = 0

    def room(self, in_flight_nl: int) -> int:
        return ref_room(self.reservoir_nl, in_flight_nl, self.threshold_nl, self.conc)

    def in_flight(self) -> tuple[int, int]:
        open_ = [g for g in self.grants if g.reported_ng < g.granted_ng]
        ng = sum(g.granted_ng - g.reported_ng for g in open_)
        nl = sum(g.charged_nl for g in open_)
        return (ng, nl) if self.count_in_flight else (0, 0)

    def process_reports(self, now: int) -> None:
        due = sorted(
            (r, i, j)
            for i, g in enumerate(self.grants)
            for j, r in enumerate(g.reports)
            if r[0] <= now and r[0] >= 0
        )
        for (t, ng), i, j in due:
            self.ledger = self.ledger.record(t, ng)
            g = self.grants[i]
            g.reports[j] = (-1, 0)  # consumed
            g.reported_ng += ng
            if g.reported_ng == g.granted_ng:
                self.reservoir_nl -= g.charged_nl

    def step(self, now: int, kind: str, requested: int, duration: int, lag: int, on: bool) -> None:
        self.process_reports(now)
        ng, nl = self.in_flight()
        common: dict[str, Any] = dict(
            now_s=now,
            requested_ng=requested,
            ledger=self.ledger,
            in_flight_ng=ng,
            hard_max_ng=self.hard_max_ng,
            reservoir_room_ng=self.room(nl),
            delivering=on,
        )
        if kind == "basal":
            d = decide_basal(**common)
            assert d.granted_ng <= requested
        else:
            patient = (
                PatientBolus(self.history, self.lockout_s, self.max_per_24h)
                if kind == "patient"
                else None
            )
            d = decide_bolus(**common, reserve_ng=0, patient=patient)
            assert d.granted_ng in (0, requested)
            if d.granted_ng and patient is not None:
                self.history = self.history.record_start(now, max_per_24h=self.max_per_24h)
                self.starts.append(now)
        if not on:
            assert d.granted_ng == 0
        if d.granted_ng == 0:
            return
        # the reservoir, net of everything granted (each grant charged the least volume that
        # holds it), stays at or above the empty threshold
        charged_nl = ref_volume_for(d.granted_ng, self.conc)
        assert self.reservoir_nl - (nl + charged_nl) >= self.threshold_nl
        n = min(d.granted_ng, 4)
        pieces = [
            (now + duration * k // n, d.granted_ng // n + (1 if k < d.granted_ng % n else 0))
            for k in range(n)
        ]
        reports = [(t + lag, a) for t, a in pieces]
        self.grants.append(Grant(d.granted_ng, charged_nl, pieces, reports))

    def deliveries(self) -> list[tuple[int, int]]:
        return [p for g in self.grants for p in g.pieces]


def worst_window(deliveries: list[tuple[int, int]]) -> int:
    """Largest real total over windows (t - 86400, t] ending at each delivery instant and at the
    bucket boundaries around them (the maximum is reached at a delivery instant)."""
    ends = {t for t, _ in deliveries}
    ends |= {
        (t // BUCKET_S + k) * BUCKET_S + e for t, _ in deliveries for k in (0, 1) for e in (-1, 0)
    }
    best = 0
    for t in ends:
        best = max(best, sum(a for s, a in deliveries if t - DAY < s <= t))
    return best


actions = st.lists(
    st.tuples(
        st.one_of(st.sampled_from([0, 1, 299, 300, DAY - 1, DAY, DAY + 1]), st.integers(0, 30_000)),
        st.sampled_from(["basal", "basal", "patient", "clinician"]),
        st.integers(1, 4000),
        st.sampled_from([0, 1, 60, 299, 300, 301, 3600]),
        st.sampled_from([0, 1, 120, 600, 3600]),
        st.booleans(),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(
    hard_max=st.integers(1, 20_000),
    conc=st.sampled_from([10**6, 10**7, 25 * 10**6, 500_000]),
    reservoir=st.integers(0, 2 * 10**5),
    threshold=st.integers(0, 10**4),
    lockout=st.integers(0, 7200),
    max_per_24h=st.integers(1, 6),
    start=st.integers(0, 10**7),
    steps=actions,
)
def test_no_real_24h_window_ever_exceeds_the_hard_max(
    hard_max: int,
    conc: int,
    reservoir: int,
    threshold: int,
    lockout: int,
    max_per_24h: int,
    start: int,
    steps: list[tuple[int, str, int, int, int, bool]],
) -> None:
    sim = Sim(hard_max, conc, threshold, reservoir, lockout, max_per_24h)
    now = start
    for gap, kind, requested, duration, lag, on in steps:
        now += gap
        sim.step(now, kind, requested, duration, lag, on)
    assert worst_window(sim.deliveries()) <= hard_max
    for i, s in enumerate(sim.starts):
        assert sum(1 for u in sim.starts[: i + 1] if u > s - DAY) <= max_per_24h
        assert i == 0 or s - sim.starts[i - 1] >= lockout
    assert len(sim.history.starts_s) <= max_per_24h


def test_the_window_check_can_fail_when_in_flight_drug_is_ignored() -> None:
    """The stream check is not vacuous: a governor that forgets drug granted but not yet reported
    lets a real 24 h window exceed the cap."""
    broken = Sim(1000, 10**6, 0, 10**7, 0, 10, count_in_flight=False)
    for now, kind in ((0, "clinician"), (10, "clinician")):
        broken.step(now, kind, 1000, 600, 600, True)
    assert worst_window(broken.deliveries()) > 1000
    sound = Sim(1000, 10**6, 0, 10**7, 0, 10)
    for now, kind in ((0, "clinician"), (10, "clinician")):
        sound.step(now, kind, 1000, 600, 600, True)
    assert worst_window(sound.deliveries()) == 1000


@pytest.mark.parametrize("offset", [0, 1, 150, 299])
@pytest.mark.parametrize("bucket", [0, 7, 100_000])
def test_cap_holds_at_the_24h_boundary_through_the_ledger(offset: int, bucket: int) -> None:
    s = bucket * BUCKET_S + offset
    cap = 5000
    ledger = Ledger().record(s, cap)  # the whole daily maximum, delivered and reported at s
    kw = {**GOOD, "ledger": ledger, "hard_max_ng": cap, "requested_ng": 10}
    last_inside = decide_basal(**{**kw, "now_s": s + DAY - 1})  # (s - 1, s + 86399] holds s
    assert last_inside.granted_ng == 0 and last_inside.reasons == (Reason.DAILY_CAP,)
    bucket_gone = s + DAY + (BUCKET_S - 1 - offset)  # s's whole bucket is out of the window
    assert decide_basal(**{**kw, "now_s": bucket_gone}).granted_ng == 10


# --- reasons at their exact boundaries and the whole error contract (REQ-GOV-010) ----------------


def _basal(**over: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "now_s": 10_000,
        "requested_ng": 100,
        "ledger": Ledger(),
        "in_flight_ng": 0,
        "hard_max_ng": 10**9,
        "reservoir_room_ng": 10**9,
        "delivering": True,
    }
    kw.update(over)
    return kw


def _bolus(**over: Any) -> dict[str, Any]:
    kw = _basal(reserve_ng=0, patient=None)
    kw.update(over)
    return kw


def test_basal_of_one_ng_while_not_delivering_says_not_delivering() -> None:
    d = decide_basal(**_basal(requested_ng=1, delivering=False))
    assert d.granted_ng == 0
    assert d.reasons == (Reason.NOT_DELIVERING,)


def test_basal_exactly_filling_the_reservoir_room_is_granted_whole() -> None:
    d = decide_basal(**_basal(requested_ng=700, reservoir_room_ng=700))
    assert (d.granted_ng, d.reasons) == (700, ())
    cut = decide_basal(**_basal(requested_ng=701, reservoir_room_ng=700))
    assert (cut.granted_ng, cut.reasons) == (700, (Reason.RESERVOIR,))


def test_basal_cut_by_the_cap_and_the_room_takes_the_smaller() -> None:
    ledger = Ledger().record(9_000, 300)
    d = decide_basal(
        **_basal(
            ledger=ledger,
            in_flight_ng=100,
            hard_max_ng=1_000,
            reservoir_room_ng=650,
            requested_ng=900,
        )
    )
    # cap room 1000 - 300 - 100 = 600 < room 650 < request 900
    assert (d.granted_ng, d.reasons) == (600, (Reason.DAILY_CAP, Reason.RESERVOIR))


def test_bolus_exactly_filling_the_cap_room_with_its_reserve_is_granted_without_reason() -> None:
    # cap room = 1000 - 300 = 700 = request 500 + reserve 200
    ledger = Ledger().record(9_000, 300)
    d = decide_bolus(**_bolus(ledger=ledger, requested_ng=500, reserve_ng=200, hard_max_ng=1_000))
    assert (d.requested_ng, d.granted_ng, d.reasons) == (500, 500, ())
    one_more = decide_bolus(
        **_bolus(ledger=ledger, requested_ng=501, reserve_ng=200, hard_max_ng=1_000)
    )
    assert (one_more.granted_ng, one_more.reasons) == (0, (Reason.DAILY_CAP,))


def test_bolus_exactly_filling_the_reservoir_room_is_granted_without_reason() -> None:
    # reservoir room = (2000 - 200 in flight - 300 threshold) nL at 1 ng/nL = 1500 ng
    room = ref_room(2_000, 200, 300, 1_000_000)
    assert room == 1_500
    d = decide_bolus(**_bolus(reservoir_room_ng=room, requested_ng=1_500))
    assert (d.requested_ng, d.granted_ng, d.reasons) == (1_500, 1_500, ())
    one_more = decide_bolus(**_bolus(reservoir_room_ng=room, requested_ng=1_501))
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


def _error(fn: Any, kw: dict[str, Any]) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        fn(**kw)
    return exc.value


@pytest.mark.parametrize(
    ("field", "bad", "message", "limit"),
    [
        ("in_flight_ng", 1.5, "must be an integer", None),
        ("in_flight_ng", True, "must be an integer", None),
        ("reservoir_room_ng", -3, "must not be negative", ">= 0"),
        ("reservoir_room_ng", "1", "must be an integer", None),
        ("hard_max_ng", -1, "must not be negative", ">= 0"),
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
