"""The end of a run of one concentration (REQ-TIP-004, REQ-BRIDGE-001, REQ-GOV-004): a run of two
nanolitres or more is its own basal order however short; a single nanolitre goes out with the
fluid behind it in one order when that order, counted fluid by fluid, fits under the hard maximum,
else alone (basal.MIN_RUN_NL; docs/dosing-rules.md#r-tip-3). The device is the active morphine
device of the test kit (10 mg/mL, 1 mg/day, hard maximum 20 mg/day) with a path whose tip holds
a little 25 mg/mL."""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import reach

from itdose.core import Library
from itdose.core.basal import MIN_RUN_NL, plan_tick
from itdose.core.ledger import Ledger
from itdose.core.path import FluidPath, Segment
from itdose.core.program import Basal
from itdose.core.state import Device, DrugLedger, FlushDose, Phase

DAY = 86_400
MG = 1_000_000
RICH, LEAN = 25 * MG, 10 * MG
RATE_NG_PER_DAY = MG  # the kit's program: 1 mg/day
FG_PER_NG = 1_000_000


def _device(library: Library, *segments: Segment) -> Device:
    d = reach(Phase.ACTIVE, library)
    assert d.program is not None and d.program.basal.steps[0].dose_ng_per_day == RATE_NG_PER_DAY
    path = FluidPath(segments)
    path.check("path", 234_000)
    return dataclasses.replace(d, path=path)


def _now(d: Device) -> int:
    return max(d.basal_until_s, d.clock_s or 0)


def _full_but(ng: int, now: int) -> Ledger:
    """A ledger holding ``ng`` delivered at once 100 s before ``now``."""
    fg = ng * FG_PER_NG
    return Ledger().record(now - 100, 1, now - 100, fg, fg, 1)


def test_a_single_nanolitre_goes_with_the_fluid_behind_it(library: Library) -> None:
    """REQ-TIP-004, REQ-BRIDGE-001: 1 nL of 25 mg/mL at the tip, 10 mg/mL behind it: one hourly
    order across the boundary, exact at the tip (25 ng + 4164 nL x 10 ng/nL = 41 665 ng of the
    hour's 41 666.7 ng), not a one-nanolitre order a drive moving 99 % would leave again."""
    assert MIN_RUN_NL == 2
    d = _device(library, Segment(1, "morphine", RICH), Segment(233_999, "morphine", LEAN))
    now = _now(d)
    plan = plan_tick(d, now, library)
    assert plan.order is not None and plan.withheld_reasons == ()
    assert (plan.order.volume_nl, plan.order.end_s - now) == (4165, 3600)
    hour_fg = RATE_NG_PER_DAY * FG_PER_NG * 3600
    assert plan.carry == hour_fg - (RICH + 4164 * LEAN) * DAY


def test_two_nanolitres_are_their_own_order(library: Library) -> None:
    """REQ-TIP-004, REQ-BRIDGE-001 (R-TIP-3: the rate follows the fluid at the tip): 2 nL of
    25 mg/mL (50 ng, 4.32 s of basal at 1 mg/day) are ordered alone over the next whole second
    (5 s); the basal of the partial second carries to the 10 mg/mL behind them."""
    d = _device(library, Segment(2, "morphine", RICH), Segment(233_998, "morphine", LEAN))
    now = _now(d)
    plan = plan_tick(d, now, library)
    assert plan.order is not None and plan.withheld_reasons == ()
    assert (plan.order.volume_nl, plan.order.end_s - now) == (2, 5)
    assert plan.carry == RATE_NG_PER_DAY * FG_PER_NG * 5 + d.basal_carry - 2 * RICH * DAY


def test_a_single_nanolitre_that_does_not_fit_across_the_boundary_goes_alone(
    library: Library,
) -> None:
    """REQ-GOV-004, REQ-TIP-004: with 1000 ng of room left under the hard maximum the hour's
    order across the boundary (41 665 ng) does not fit; the nanolitre of 25 mg/mL goes alone,
    over the next whole second of its basal (25 ng: 3 s), and fits."""
    d = _device(library, Segment(1, "morphine", RICH), Segment(233_999, "morphine", LEAN))
    now = _now(d)
    d = dataclasses.replace(d, ledger=_full_but(20 * MG - 1000, now))
    plan = plan_tick(d, now, library)
    assert plan.order is not None and plan.withheld_reasons == ()
    assert (plan.order.volume_nl, plan.order.end_s - now) == (1, 3)


def test_a_single_nanolitre_before_a_short_run_goes_with_that_run(library: Library) -> None:
    """REQ-TIP-002, REQ-BRIDGE-002: when another drug reaches the tip within the hour's order
    across the boundary (1 nL of 25 mg/mL, 100 nL of 10 mg/mL, then hydromorphone), the
    nanolitre goes with the run of 10 mg/mL behind it, and the order ends where the
    hydromorphone begins: 25 + 1000 ng at 1 mg/day, ceil(88.56) = 89 s. Before, it went alone
    (the order across was taken only when it filled the segment), and a drive moving 99 % of
    each order left it again without end."""
    d = _device(
        library,
        Segment(1, "morphine", RICH),
        Segment(100, "morphine", LEAN),
        Segment(233_899, "hydromorphone", 2 * MG),
    )
    now = _now(d)
    plan = plan_tick(d, now, library)
    assert plan.order is not None and plan.withheld_reasons == ()
    assert (plan.order.volume_nl, plan.order.end_s - now) == (101, 89)
    assert plan.carry == 0


def test_a_single_nanolitre_before_another_drug_goes_with_that_drug(library: Library) -> None:
    """REQ-TIP-003, REQ-GOV-002: 1 nL of hydromorphone 2 mg/mL (the old drug, 10 mg/day) at the
    tip and the program's morphine 10 mg/mL behind it: one order of the nanolitre and the
    morphine's hour (4166 nL at 1 mg/day), at morphine's rate, each drug counted in its own
    window as it leaves; the old drug's basal owed is not carried into the new one."""
    d = _device(library, Segment(1, "hydromorphone", 2 * MG), Segment(233_999, "morphine", LEAN))
    d = dataclasses.replace(d, flush_doses=(FlushDose("hydromorphone", 10 * MG),), basal_carry=0)
    now = _now(d)
    plan = plan_tick(d, now, library)
    assert plan.order is not None and plan.withheld_reasons == ()
    assert (plan.order.volume_nl, plan.order.end_s - now) == (4167, 3600)
    assert plan.carry == RATE_NG_PER_DAY * FG_PER_NG * 3600 - 4166 * LEAN * DAY


def test_a_single_nanolitre_of_another_drug_that_does_not_fit_goes_alone(
    library: Library,
) -> None:
    """REQ-GOV-002: with 3 ng left under the old drug's hard maximum (hydromorphone, 10 mg), the
    nanolitre (2 ng) and its lag term (R-TIP-5: once more when the drug ends in the order) do
    not fit with the morphine behind it: the nanolitre is its own order again, over one
    second, as before."""
    d = _device(library, Segment(1, "hydromorphone", 2 * MG), Segment(233_999, "morphine", LEAN))
    now = _now(d)
    full = _full_but(10 * MG - 3, now)
    d = dataclasses.replace(
        d,
        flush_doses=(FlushDose("hydromorphone", 10 * MG),),
        other_ledgers=(DrugLedger("hydromorphone", full),),
    )
    plan = plan_tick(d, now, library)
    assert plan.order is not None and plan.withheld_reasons == ()
    assert (plan.order.volume_nl, plan.order.end_s - now) == (1, 1)


def test_a_single_nanolitre_before_a_richer_fluid_that_does_not_fit_goes_alone(
    library: Library,
) -> None:
    """REQ-GOV-004, REQ-TIP-004: 1 nL of 10 mg/mL at the tip and 25 mg/mL behind it, with
    1000 ng of room left under the hard maximum: the hour's order across the boundary (10 ng
    and about 41 650 ng of the richer fluid), counted fluid by fluid, does not fit; the
    nanolitre goes alone, over the next whole second of its basal (10 ng: 0.864 s, 1 s), and
    fits."""
    d = _device(library, Segment(1, "morphine", LEAN), Segment(233_999, "morphine", RICH))
    now = _now(d)
    d = dataclasses.replace(d, ledger=_full_but(20 * MG - 1000, now))
    plan = plan_tick(d, now, library)
    assert plan.order is not None and plan.withheld_reasons == ()
    assert (plan.order.volume_nl, plan.order.end_s - now) == (1, 1)


def _owing(library: Library, rate_ng_per_day: int, owed_fg: int) -> Device:
    """1 nL of 10 mg/mL at the tip before 25 mg/mL, under a program of ``rate_ng_per_day``
    (a step of no basal, or 1 ng/day on a pump without a minimum rate) with ``owed_fg`` of
    basal carried from before it."""
    d = _device(library, Segment(1, "morphine", LEAN), Segment(233_999, "morphine", RICH))
    assert d.program is not None
    program = dataclasses.replace(d.program, basal=Basal.continuous(rate_ng_per_day))
    return dataclasses.replace(d, program=program, basal_carry=owed_fg * DAY)


def test_owed_basal_at_a_rate_of_zero_moves_a_single_nanolitre_alone(library: Library) -> None:
    """REQ-TIP-004: at a rate of zero with 4 nL of 10 mg/mL (40 ng) owed, the single nanolitre
    goes alone over the hour, the 3 nL owed beyond it carried: an order across the boundary
    would be timed at the runs' rate, and there is none (across, it took a nanolitre of
    25 mg/mL too)."""
    d = _owing(library, 0, 4 * LEAN)
    now = _now(d)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now) == (1, 3600)
    assert (plan.carry, plan.withheld_reasons) == (3 * LEAN * DAY, ())


def test_owed_basal_at_one_ng_a_day_ends_the_run_at_its_rate(library: Library) -> None:
    """REQ-TIP-004, MIN_RUN_NL: at 1 ng/day, a rate like any other: with 4 nL of 10 mg/mL owed
    the single nanolitre goes with the 25 mg/mL behind it (2 nL, 35 ng, over the hour; alone
    at a rate of 1 ng/day it was a one-nanolitre order); with exactly the nanolitre owed, it
    is the whole run, which ends inside the segment: its order lasts the run at its rate less
    what is owed, one second (not the hour), and that second's basal (1,000,000 fg seconds a
    day) carries."""
    d = _owing(library, 1, 4 * LEAN)
    now = _now(d)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now) == (2, 3600)
    d = _owing(library, 1, LEAN)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now, plan.carry) == (1, 1, FG_PER_NG)


def test_a_run_that_meets_the_hours_basal_exactly_before_another_drug_carries_nothing_to_it(
    library: Library,
) -> None:
    """REQ-TIP-003: 4167 nL of the kit's morphine (10 mg/mL) before hydromorphone, with a carry
    that makes the hour's basal exactly those 4167 nL plus under a femtogram (41,670 ng: 1 mg/day
    over the hour, 41,666.67 ng, and 3.33 ng owed): the run ends where the hour's basal is met,
    so the order is the whole run over the hour and nothing is carried to the hydromorphone
    behind it (what the morphine program owes is not hydromorphone's); before more morphine
    (25 mg/mL) the same remainder carries."""
    hour_fg = RATE_NG_PER_DAY * FG_PER_NG * 3600
    owed = 4167 * LEAN * DAY - hour_fg + 86_399  # seconds-fg a day: under a femtogram more
    for behind, carried in ((("hydromorphone", 2 * MG), 0), (("morphine", RICH), 86_399)):
        d = _device(library, Segment(4167, "morphine", LEAN), Segment(229_833, *behind))
        d = dataclasses.replace(d, basal_carry=owed)
        now = _now(d)
        plan = plan_tick(d, now, library)
        assert plan.order is not None
        assert (plan.order.volume_nl, plan.order.end_s - now) == (4167, 3600), behind
        assert (plan.carry, plan.withheld_reasons) == (carried, ()), behind


def test_a_single_nanolitre_of_another_drug_and_its_lag_term_exactly_at_the_maximum_go_with_it(
    library: Library,
) -> None:
    """REQ-GOV-002, R-TIP-5: the nanolitre of hydromorphone (2 ng) and its lag term (2 ng more,
    all of it in the second it leaves) fill the old drug's 10 mg maximum exactly with
    9,999,996 ng recorded: they fit (a window at the maximum is within it), one order with the
    morphine's hour. With 9,999,997 ng recorded 86,398 s ago (it leaves the window two seconds
    from now) they do not fit in the window ending a second from now: the nanolitre goes alone
    (the lag term spread over two seconds would fit)."""
    d = _device(library, Segment(1, "hydromorphone", 2 * MG), Segment(233_999, "morphine", LEAN))
    now = _now(d)
    d = dataclasses.replace(d, flush_doses=(FlushDose("hydromorphone", 10 * MG),), basal_carry=0)
    at = now - DAY + 2
    for recorded, leaves_now, expected in (
        (10 * MG - 4, False, (4167, 3600)),
        (10 * MG - 3, True, (1, 1)),
    ):
        fg = recorded * FG_PER_NG
        ledger = Ledger().record(at, 1, at, fg, fg, 1) if leaves_now else _full_but(recorded, now)
        e = dataclasses.replace(d, other_ledgers=(DrugLedger("hydromorphone", ledger),))
        plan = plan_tick(e, now, library)
        assert plan.order is not None and plan.withheld_reasons == ()
        assert (plan.order.volume_nl, plan.order.end_s - now) == expected, recorded


@pytest.mark.parametrize(("extra_fg", "expected"), [(0, (2084, 3600)), (1, (1, 1))])
def test_a_single_nanolitre_of_another_drug_leaves_at_the_pace_of_the_order_it_goes_in(
    library: Library, extra_fg: int, expected: tuple[int, int]
) -> None:
    """REQ-GOV-002, R-TIP-5: under the kit's morphine at 0.5 mg/day the order with the
    nanolitre of hydromorphone is 2084 nL over the hour (a pace of 2084 nL/h): the nanolitre
    (2,000,000 fg) leaves over its first 1.73 s, 1,157,777.8 fg of it by the end of the first
    second, and its lag term (2,000,000 fg) in that second. With hydromorphone recorded 86,398 s
    ago (it leaves the window two seconds from now) the window ending a second from now holds
    both: by hand the order fits with up to 10**13 - 3,157,778 fg (9,999,996,842,222) recorded,
    and one femtogram more sends the nanolitre alone over a second."""
    d = _device(library, Segment(1, "hydromorphone", 2 * MG), Segment(233_999, "morphine", LEAN))
    assert d.program is not None
    now = _now(d)
    at = now - DAY + 2
    fg = 10 * MG * FG_PER_NG - 3_157_778 + extra_fg
    d = dataclasses.replace(
        d,
        program=dataclasses.replace(d.program, basal=Basal.continuous(MG // 2)),
        flush_doses=(FlushDose("hydromorphone", 10 * MG),),
        basal_carry=0,
        other_ledgers=(DrugLedger("hydromorphone", Ledger().record(at, 1, at, fg, fg, 1)),),
    )
    plan = plan_tick(d, now, library)
    assert plan.order is not None and plan.withheld_reasons == ()
    assert (plan.order.volume_nl, plan.order.end_s - now) == expected


@pytest.mark.parametrize(("extra_fg", "expected"), [(0, (1667, 3600)), (1, (1, 1))])
def test_a_single_nanolitre_before_a_run_longer_than_the_hour_is_asked_over_the_hour(
    library: Library, extra_fg: int, expected: tuple[int, int]
) -> None:
    """REQ-TIP-004, MIN_RUN_NL: 1 nL of 10 mg/mL before a long run of 25 mg/mL, with a second
    of basal owed (the hour's basal 41,678.2 ng: 1 nL of 10 mg/mL and 1666 nL of 25 mg/mL,
    18.2 ng left over, more than a second of basal at 1 mg/day): the run behind the nanolitre
    does not end inside the hour, so the order across is asked over the hour it runs, not over
    the time its volume takes at the rate (3599 s). With morphine recorded 86,400 - 600 s ago
    (it leaves the window 600 s into the order) the order fits with up to
    19,993,054,634,722 fg recorded (measured; asked over 3599 s it does not): one order of
    1667 nL over the hour; one femtogram more and the nanolitre goes alone over a second."""
    d = _device(library, Segment(1, "morphine", LEAN), Segment(233_999, "morphine", RICH))
    now = _now(d)
    at = now - DAY + 600
    fg = 19_993_054_634_722 + extra_fg
    d = dataclasses.replace(d, basal_carry=10**12, ledger=Ledger().record(at, 1, at, fg, fg, 1))
    plan = plan_tick(d, now, library)
    assert plan.order is not None and plan.withheld_reasons == ()
    assert (plan.order.volume_nl, plan.order.end_s - now) == expected


@pytest.mark.parametrize(("extra_fg", "ordered"), [(0, True), (1, False)])
def test_a_single_nanolitre_that_goes_alone_is_counted_at_its_own_concentration(
    library: Library, extra_fg: int, ordered: bool
) -> None:
    """REQ-GOV-002, REQ-GOV-004: 1 nL of 10 mg/mL before 25 mg/mL, the window nearly full: the
    order across does not fit and the nanolitre goes alone over a second, at its own pace
    (3600 nL/h) and concentration: 10 ng, 10 ng a second. The ledger holds 19,999,745 ng
    recorded at once 100 s ago and an order of 500 ng recorded at its pace over 100 s that the
    window's start is passing now (250 ng of it still in the window, 5 ng a second leaving).
    By hand the window ending a second from now holds 19,999,745 + 245 + 10 = 20,000,000 ng:
    at the maximum, within it, so the nanolitre is ordered; one femtogram more and it is not
    (a rounding unit, carried). (Counted at the 25 mg/mL behind it, 25 ng a second, the
    nanolitre is all out 0.4 s from now, beside 248 ng of the paced order: over.)"""
    d = _device(library, Segment(1, "morphine", LEAN), Segment(233_999, "morphine", RICH))
    now = _now(d)
    start = now - DAY - 50
    paced = 500 * FG_PER_NG
    big = 19_999_745 * FG_PER_NG + extra_fg
    ledger = Ledger().record(start + 100, 1, start, paced, paced, 100)
    ledger = ledger.record(now - 100, 2, now - 100, big, big, 1)
    d = dataclasses.replace(d, ledger=ledger, basal_carry=0)
    plan = plan_tick(d, now, library)
    assert plan.withheld_reasons == () and plan.alarms == ()
    if ordered:
        assert plan.order is not None
        assert (plan.order.volume_nl, plan.order.end_s - now) == (1, 1)
    else:
        assert plan.order is None
