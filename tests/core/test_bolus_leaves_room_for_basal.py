"""A bolus is granted only if a day of basal at the program's top rate still fits under the hard
daily maximum (REQ-GOV-008: basal is never reduced to make room for a bolus), and a bolus that
brings the window exactly to the maximum is granted (REQ-GOV-002, no over-count).

The reference is written from the rules, in exact fractions, on explicit delivery schedules:
recorded drug delivered as late as its order's pace allows (the most it can still put in a later
window), drug in flight and the bolus at full pace from their start up to each window end, and a
day of basal at the program's highest step from the end of the basal order in flight. The bolus
fits when no window ending now or later holds more than the hard maximum.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from itdose_testkit import DAY, HOUR, MORPHINE_PROGRAM, C, reach
from paced_drive import PacedDrive

from itdose.core import Library, Phase
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.dosing import clinician_decision
from itdose.core.governor import Reason
from itdose.core.ledger import Ledger
from itdose.core.program import Basal, FlexStep
from itdose.core.state import DeliveryKind, Order

CONC = 10_000_000  # morphine 10 mg/mL: 10 ng (10**7 fg) per nL
FG = 1_000_000
W = Fraction(DAY)
Schedule = list[tuple[Fraction, Fraction, Fraction]]


def with_max_daily(library: Library, entry_id: str, ng_per_day: int) -> Library:
    """The shipped library with the hard daily maximum of one entry replaced (TEST DATA ONLY)."""
    entries = tuple(
        dataclasses.replace(e, max_daily=dataclasses.replace(e.max_daily, value=ng_per_day))
        if e.id == entry_id
        else e
        for e in library.entries
    )
    assert entries != library.entries
    return dataclasses.replace(library, entries=entries)


def in_window(schedule: Schedule, t: Fraction) -> Fraction:
    lo = t - W
    return sum((r * max(Fraction(0), min(b, t) - max(a, lo)) for a, b, r in schedule), Fraction(0))


def latest(start: Fraction, amount: Fraction, rate: Fraction) -> Schedule:
    """At full pace from ``start`` (or from the window start) on: the most of a flow of
    ``amount`` in the window ending at ``t`` is delivered by :func:`flow_at`."""
    return [(start, start + amount / rate, rate)] if amount and rate else []


def flow_at(start: int, amount: int, rate: Fraction, t: Fraction) -> Schedule:
    """The schedule of a flow that puts the most of it in the window ending at ``t``: full pace
    from the later of its start and the window start, until it is all out or ``t``."""
    lo = max(Fraction(start), t - W)
    if amount == 0 or rate == 0 or t <= lo:
        return []
    return [(lo, min(t, lo + Fraction(amount) / rate), rate)]


def reference_fits(
    recorded: list[tuple[int, int, Fraction]],
    flows: list[tuple[int, int, Fraction]],
    now: int,
    limit_fg: int,
) -> bool:
    """``recorded``: (end, amount, pace) of each reported order, delivered as late as possible;
    ``flows``: (start, amount, pace) of what may still leave the tip. True when no window ending
    at or after ``now`` can exceed ``limit_fg``."""
    pieces = [
        [(Fraction(end) - Fraction(a) / r, Fraction(end), r)] if a else [] for end, a, r in recorded
    ]
    ends = {Fraction(now)}
    for p in pieces:
        for a, b, _ in p:
            ends.update(x for x in (a + W, b + W) if x >= now)
    for s, a, r in flows:
        if a and r:
            ends.update(x for x in (s, s + a / r, s + W, s + a / r + W) if x >= now)
    for t in ends:
        total = sum((in_window(p, t) for p in pieces), Fraction(0))
        total += sum((in_window(flow_at(s, a, r, t), t) for s, a, r in flows), Fraction(0))
        if total > limit_fg:
            return False
    return True


@st.composite
def situations(draw: st.DrawFn) -> dict[str, object]:
    """A dosing morphine device at ``now``: some orders reported in the last two days, perhaps
    a basal order in flight, a program with up to three flex steps, and a bolus request."""
    now = 10 * DAY + draw(st.integers(0, DAY))
    recorded: list[tuple[int, int, int, int, int]] = []  # (t, oid, start, volume, duration)
    t = now - 2 * DAY
    for oid in range(2, 2 + draw(st.integers(0, 6))):
        t += draw(st.integers(0, DAY // 3))
        if t > now:
            break
        duration = draw(st.sampled_from([600, 3600, 2 * HOUR]) | st.integers(1, DAY))
        volume = draw(st.integers(0, 2_000_000 * duration // DAY + 1))
        recorded.append((t, oid, t - duration, volume, duration))
    in_flight = None
    basal_until = now
    if draw(st.booleans()):
        length = draw(st.sampled_from([HOUR, 1800]) | st.integers(1, 4 * HOUR))
        begun = draw(st.integers(0, length))
        volume = draw(st.integers(0, 20_000))
        in_flight = (now - begun, now - begun + length, volume)
        basal_until = now - begun + length
    rates = draw(
        st.lists(
            st.sampled_from([0, 1_000_000, 2_400_000, 10_000_000, 20_000_000])
            | st.integers(0, 20_000_000),
            min_size=1,
            max_size=3,
        )
    )
    dose = 10 * draw(st.sampled_from([1, 20_000, 100_000]) | st.integers(1, 600_000))
    duration = draw(st.sampled_from([1, 600, 3600]) | st.integers(1, 4 * HOUR))
    return {
        "now": now,
        "recorded": recorded,
        "in_flight": in_flight,
        "basal_until": basal_until,
        "rates": rates,
        "dose": dose,
        "duration": duration,
    }


@settings(max_examples=300, deadline=None)
@given(s=situations())
@example(  # a basal order begun now, replaced by the bolus: only the day from now is reserved
    s={
        "now": 864000,
        "recorded": [(691200, k, 690600, 0, 600) for k in range(2, 7)],
        "in_flight": (864000, 867600, 12886),
        "basal_until": 867600,
        "rates": [19871131],
        "dose": 10,
        "duration": 1,
    }
)
def test_a_bolus_is_granted_exactly_when_a_day_of_top_rate_basal_still_fits(
    library: Library, s: dict[str, object]
) -> None:
    """REQ-GOV-008, REQ-GOV-002: the core grants a clinician bolus exactly when the reference
    finds room for it beside the recorded drug, what the basal order in flight (which the bolus
    replaces) may have moved by now, and a day of basal at the program's highest step from now
    (or, with no basal order in flight, from the end of the basal already ordered)."""
    now = s["now"]
    assert isinstance(now, int)
    recorded = s["recorded"]
    assert isinstance(recorded, list)
    ledger = Ledger()
    reference_recorded = []
    for t, oid, start, volume, duration in recorded:
        amount = volume * CONC
        ledger = ledger.record(t, oid, start, amount, amount, duration)
        reference_recorded.append((t, amount, Fraction(amount, duration)))
    flows: list[tuple[int, int, Fraction]] = []
    orders: tuple[Order, ...] = ()
    reserve_from = max(now, s["basal_until"])  # type: ignore[call-overload]
    if s["in_flight"] is not None:
        # the bolus replaces the basal order in flight, cancelled now: what it may have moved by
        # now at its pace (whole nL/h, rounded up) counts, as recorded up to now; the basal from
        # now on is the day reserved below
        begun, end, volume = s["in_flight"]  # type: ignore[misc]
        orders = (Order(100, DeliveryKind.BASAL, begun, end, volume),)
        pace_nl_h = -(-volume * HOUR // (end - begun))
        moved = min(volume, -(-pace_nl_h * (now - begun) // HOUR))
        if moved:
            reference_recorded.append((now, moved * CONC, Fraction(pace_nl_h * CONC, HOUR)))
        reserve_from = now
    rates = s["rates"]
    assert isinstance(rates, list)
    steps = tuple(FlexStep(k * 3600, rate) for k, rate in enumerate(rates))
    program = dataclasses.replace(MORPHINE_PROGRAM, basal=Basal(steps=steps))
    top = max(rates) * FG
    basal_until = s["basal_until"]
    assert isinstance(basal_until, int)
    if top:
        flows.append((reserve_from, top, Fraction(top, DAY)))
    dose, duration = s["dose"], s["duration"]
    assert isinstance(dose, int) and isinstance(duration, int)
    flows.append((now, dose * FG, Fraction(dose * FG, duration)))

    d = dataclasses.replace(
        reach(Phase.ACTIVE, library),
        ledger=ledger,
        orders=orders,
        next_order_id=101,
        basal_until_s=basal_until,
        program=program,
    )
    decision = clinician_decision(d, now, library, dose, duration)
    fits = reference_fits(reference_recorded, flows, now, 20_000_000 * FG)
    assert decision.granted_ng == (dose if fits else 0)
    assert (Reason.DAILY_CAP in decision.reasons) == (not fits)


def test_the_basal_reserve_denies_a_bolus_the_window_alone_would_allow(library: Library) -> None:
    """REQ-GOV-008: with nothing delivered yet, a bolus is still denied when it and a day of
    basal at the top step exceed the maximum (3 mg/day cap, 1 and 2.4 mg/day steps: 0.6 mg fits,
    0.6 mg + 10 ng does not)."""
    lib3 = with_max_daily(library, "morphine.pain", 3_000_000)
    steps = (FlexStep(0, 1_000_000), FlexStep(6 * HOUR, 2_400_000))
    d = reach(Phase.ACTIVE, lib3)
    now = d.basal_until_s
    d = dataclasses.replace(
        d, program=dataclasses.replace(MORPHINE_PROGRAM, basal=Basal(steps=steps))
    )
    assert clinician_decision(d, now, lib3, 600_000, 600).granted_ng == 600_000
    denied = clinician_decision(d, now, lib3, 600_010, 600)
    assert (denied.granted_ng, denied.reasons) == (0, (Reason.DAILY_CAP,))
    # without the basal program the same bolus fits: the reserve is what denies it
    bare = dataclasses.replace(d, program=dataclasses.replace(d.program, basal=Basal.continuous(0)))
    assert clinician_decision(bare, now, lib3, 600_010, 600).granted_ng == 600_010


def test_the_basal_reserve_counts_a_top_step_of_one_ng_a_day(library: Library) -> None:
    """REQ-GOV-008: the smallest basal still has its day reserved (3 mg/day cap, a continuous
    basal of 1 ng/day, nothing delivered yet: a bolus of 3 mg - 1 ng fits beside it, one of
    3 mg does not; the reference agrees)."""
    lib3 = with_max_daily(library, "morphine.pain", 3_000_000)
    d = reach(Phase.ACTIVE, lib3)
    now = d.basal_until_s
    d = dataclasses.replace(
        d, program=dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(1))
    )
    basal = (now, FG, Fraction(FG, DAY))
    for dose, fits in ((2_999_999, True), (3_000_000, False)):
        bolus = (now, dose * FG, Fraction(dose * FG, 600))
        assert reference_fits([], [basal, bolus], now, 3_000_000 * FG) is fits
        decision = clinician_decision(d, now, lib3, dose, 600)
        assert (decision.granted_ng, decision.reasons) == (
            (dose, ()) if fits else (0, (Reason.DAILY_CAP,))
        )


@pytest.mark.parametrize(
    "offset",
    [0, 1, 1800, 3000, 3599],
)
def test_the_bolus_that_fills_the_window_exactly_to_the_maximum_is_granted(
    library: Library, offset: int
) -> None:
    """REQ-GOV-002, REQ-GOV-008 (the issue's case): hard maximum 3.0 mg/day, basal 2.4 mg/day
    (10 000 nL of 10 mg/mL an hour, delivered at its pace and reported at its end), clinician
    boluses of 0.2 mg over 10 min. After two days of basal the first three boluses are granted,
    the third bringing the window to 3.0 mg (to the nanolitre each bolus's replaced basal order
    may leave unmoved); the fourth (and even 70 ng more) is denied for the daily cap. Basal is
    never cut afterwards (no delivery-limited alarm), and no real
    24 h window of the drive's own delivery record exceeds 3.0 mg; one reaches it exactly.
    ``offset``: seconds after an hourly tick at which the boluses start (with 3000 and 3599 the
    third comes after the next tick; with 1 and 1800 all three come while one basal order is in
    flight)."""
    lib3 = with_max_daily(library, "morphine.pain", 3_000_000)
    d = reach(Phase.ACTIVE, lib3)
    program = dataclasses.replace(
        MORPHINE_PROGRAM, basal=Basal.continuous(2_400_000), patient_bolus=None
    )
    drive = PacedDrive(d, lib3, d.basal_until_s)
    drive.apply(c.SetProgram(C, program), drive.now + 60)
    start = drive.now
    drive.run_until(start + 2 * DAY + offset)
    assert {o.volume_nl for o in drive.delivered if o.kind == "basal"} == {10_000}  # no bolus yet
    granted = []
    for _ in range(4):
        decision = clinician_decision(drive.device, drive.now, lib3, 200_000, 600)
        granted.append(decision.granted_ng)
        if decision.granted_ng:
            drive.apply(c.ClinicianBolus(C, 200_000, 600), drive.now)
        else:
            assert decision.reasons == (Reason.DAILY_CAP,)
        drive.run_until(drive.now + 700)
    assert granted == [200_000, 200_000, 200_000, 0]
    # each bolus replaces the basal order in flight, whose partial count is whole nanolitres:
    # at most two nanolitres (20 ng here) of basal per bolus are not moved; more than that for
    # the three does not fit
    assert clinician_decision(drive.device, drive.now, lib3, 70, 600).granted_ng == 0
    drive.run_until(drive.now + 2 * DAY)
    # basal goes on inside each bolus (a bolus replaces the basal order in flight), and the day
    # after the boluses holds the program's whole basal (to the nanolitre each bolus may cost)
    last_day = drive.in_window_nl(Fraction(drive.now))
    # (or up to the basal owed at its start more, made up: under two nanolitres a bolus that
    # brought a window to the maximum could not hold, carried until the window left room)
    assert 240_000 - 6 <= last_day < 240_000 + 2
    assert AlarmKind.DELIVERY_LIMITED not in {k for _, k in drive.alarms}
    assert drive.device.path is not None
    assert {(s.drug, s.concentration_ng_per_ml) for s in drive.device.path.segments} == {
        ("morphine", CONC)
    }
    worst_nl = max(drive.in_window_nl(Fraction(t)) for t in drive.window_ends())
    assert worst_nl * CONC <= 3_000_000 * FG
    assert worst_nl * CONC >= 3_000_000 * FG - 6 * CONC
