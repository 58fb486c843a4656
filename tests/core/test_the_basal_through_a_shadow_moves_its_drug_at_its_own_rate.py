"""The basal order through a shadow (another drug the path may hold, R-TIP-6 and R-MRI-5) moves
its volume no faster than that drug's own program moves it, the lane's drug slowed as far as
that needs, and ends where that rate changes; a stretch under two nanolitres goes with the next
at the slower rate; a drug faster than the lane, or of no known rate, changes nothing; a slowed
order raises the MEDIUM delivery-limited alarm (R-TIP-4). Unit plans of the tick
(``plan_tick``) on the active morphine device of the test kit (10 mg/mL, 1 mg/day, 0.1 mL a day)
with a path of its own fluid and a shadow of hydromorphone 2 mg/mL whose old program gave
0.1 mg/day (0.05 mL a day, half the lane's volume rate)."""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import reach

from itdose.core import Library
from itdose.core.alarms import AlarmKind
from itdose.core.basal import plan_tick, slowed_by_shadows
from itdose.core.path import NO_DRUG, FluidPath, Segment
from itdose.core.program import Basal
from itdose.core.reach import paced_stretch
from itdose.core.state import DeliveryKind, Device, FlushDose, Order, Phase, Shadow

DAY = 86_400
HOUR = 3_600
MG = 1_000_000
LANE = 10 * MG
"""The kit's morphine, ng/mL; 1 mg/day."""
OLD = 2 * MG
"""Hydromorphone in the shadow, ng/mL."""
FG_PER_NG = 1_000_000


def _device(library: Library, *shadows: Shadow, dose_ng_per_day: int = MG // 10) -> Device:
    d = reach(Phase.ACTIVE, library)
    d = dataclasses.replace(
        d,
        path=FluidPath((Segment(234_000, "morphine", LANE),)),
        shadows=shadows,
        flush_doses=(FlushDose("hydromorphone", dose_ng_per_day),) if dose_ng_per_day else (),
        basal_carry=0,
    )
    return d


def _now(d: Device) -> int:
    return max(d.basal_until_s, d.clock_s or 0)


def test_a_shadow_of_a_slower_drug_slows_the_basal_through_it(library: Library) -> None:
    """REQ-TIP-003: 1000 nL of hydromorphone may be at the tip: at 0.05 mL a day they take
    1728 s (0.5 mg/day of morphine through them, half the program), one order that ends where
    the shadow does, with the delivery-limited alarm; nothing is carried (the 1000 nL at the
    shadow's rate are exactly 1728 s)."""
    d = _device(library, Shadow(0, 1_000, "hydromorphone", OLD))
    now = _now(d)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now) == (1_000, 1_728)
    assert AlarmKind.DELIVERY_LIMITED in plan.alarms
    assert plan.carry == 0


def test_the_basal_after_the_shadow_is_the_program(library: Library) -> None:
    """REQ-TIP-004: a shadow 1000 nL from the tip: the order runs at the program's rate up to
    it (1000 nL of morphine at 1 mg/day: 864 s) and ends there, without an alarm."""
    d = _device(library, Shadow(1_000, 1_000, "hydromorphone", OLD))
    now = _now(d)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now) == (1_000, 864)
    assert plan.alarms == ()


def test_a_shadow_a_nanolitre_from_the_tip_takes_two_nanolitres_at_its_rate(
    library: Library,
) -> None:
    """REQ-TIP-003 with MIN_RUN_NL: a stretch of one nanolitre before the shadow is not an order
    of its own (a drive a little slower than ordered would leave it again, without end): the
    order moves two nanolitres at the shadow's rate (20 ng of morphine at 0.5 mg/day: 3.456 s,
    the next whole second 4 s)."""
    d = _device(library, Shadow(1, 5_000, "hydromorphone", OLD))
    now = _now(d)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now) == (2, 4)


@pytest.mark.parametrize("dose", [0, 10 * MG], ids=["unknown", "faster"])
def test_a_drug_of_no_known_rate_or_faster_changes_nothing(library: Library, dose: int) -> None:
    """REQ-TIP-004: a shadow's drug with no recorded old dose, or one whose program moved it
    faster than the lane (10 mg/day at 2 mg/mL: 5 mL a day), leaves the hour's order as the
    program's: 4166 nL (41,660 ng of the hour's 41,666.7), no alarm."""
    d = _device(library, Shadow(0, 1_000, "hydromorphone", OLD), dose_ng_per_day=dose)
    now = _now(d)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now) == (4_166, HOUR)
    assert plan.alarms == ()


def test_a_report_names_a_shadow_slower_than_its_lane(library: Library) -> None:
    """REQ-TIP-006: what a drive report asks (``slowed_by_shadows``) to raise the alarm: a
    shadow of a slower drug over the lane's drug is; a faster one, one over drug-free fluid (the
    lane has no rate to slow) and any shadow without a program (nothing to compare) are not."""
    now = _now(_device(library))
    assert slowed_by_shadows(_device(library, Shadow(0, 1_000, "hydromorphone", OLD)), now)
    faster = _device(library, Shadow(0, 1_000, "hydromorphone", OLD), dose_ng_per_day=10 * MG)
    assert not slowed_by_shadows(faster, now)
    clear = dataclasses.replace(
        _device(library, Shadow(0, 1_000, "hydromorphone", OLD)),
        path=FluidPath((Segment(1_000, NO_DRUG, 0), Segment(233_000, "morphine", LANE))),
    )
    assert not slowed_by_shadows(clear, now)
    unprogrammed = dataclasses.replace(
        _device(library, Shadow(0, 1_000, "hydromorphone", OLD)), program=None
    )
    assert not slowed_by_shadows(unprogrammed, now)


def test_a_stretch_shorter_than_the_least_run_takes_the_slowest_rate_within_it_only() -> None:
    """R-TIP-6, REQ-TIP-003, worked by hand: pushed out after 10 nL at a lane rate of 900 where
    a shadow slows the places from 12 nL on to 300, the change lies 2 nL ahead, nearer than the
    least run of 5 nL: the order runs those 5 nL at 300 (to 15 nL). A shadow slowing the places
    from 15 nL on to 100, just past that run, does not slow it; one from 14 nL on does."""

    def limit_of(shadow: Shadow) -> int:
        return {"hydromorphone": 300, "fentanyl": 100}[shadow.drug]

    near = Shadow(12, 10, "hydromorphone", OLD)
    assert paced_stretch((near,), 10, 900, limit_of, 5) == (300, 15)
    assert paced_stretch((near,), 10, 900, limit_of, 2) == (900, 12)
    first = Shadow(12, 3, "hydromorphone", OLD)
    assert paced_stretch((first, Shadow(15, 10, "fentanyl", OLD)), 10, 900, limit_of, 5) == (
        300,
        15,
    )
    assert paced_stretch((first, Shadow(14, 10, "fentanyl", OLD)), 10, 900, limit_of, 5) == (
        100,
        15,
    )


def test_a_report_names_a_shadow_at_its_lanes_own_pace_not_slower(library: Library) -> None:
    """REQ-TIP-006: a shadow whose drug's old program moves its volume exactly at the lane's
    (hydromorphone 2 mg/mL at 0.2 mg/day: 0.1 mL a day, as the lane's morphine) slows nothing,
    and the report does not name it; a shadow over drug-free fluid listed before a slower one
    does not hide it (each shadow is asked)."""
    now = _now(_device(library))
    same = _device(library, Shadow(0, 1_000, "hydromorphone", OLD), dose_ng_per_day=MG // 5)
    assert not slowed_by_shadows(same, now)
    plan = plan_tick(same, now, library)
    assert plan.order is not None and plan.alarms == ()
    assert (plan.order.volume_nl, plan.order.end_s - now) == (4_166, HOUR)
    behind = dataclasses.replace(
        _device(
            library,
            Shadow(0, 1_000, "hydromorphone", OLD),
            Shadow(2_000, 1_000, "hydromorphone", OLD),
        ),
        path=FluidPath((Segment(1_000, NO_DRUG, 0), Segment(233_000, "morphine", LANE))),
    )
    assert slowed_by_shadows(behind, now)


def test_the_order_after_a_cut_order_in_flight_ends_where_the_shadow_starts(
    library: Library,
) -> None:
    """REQ-TIP-003: a basal order a bolus cut still has 500 nL in flight (4166 nL an hour, cut
    432 s in); a shadow of the slower hydromorphone starts 4000 nL from the tip: the next order
    is pushed after the 500 nL, so it ends where the shadow starts, 3500 nL at the program's
    rate (35,000 ng at 1 mg/day: 3024 s), not through it at the lane's rate."""
    d = _device(library, Shadow(4_000, 1_000, "hydromorphone", OLD))
    now = _now(d)
    cut = Order(d.next_order_id, DeliveryKind.BASAL, now - 432, now + 3168, 4_166, cut_s=now)
    d = dataclasses.replace(d, orders=(cut,), next_order_id=d.next_order_id + 1)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now) == (3_500, 3_024)
    assert plan.alarms == ()


def test_an_hour_at_the_maximum_ending_where_a_shadow_starts_carries_its_fraction(
    library: Library,
) -> None:
    """REQ-TIP-004, R-TIP-4: the kit's morphine at its 20 mg maximum (83,333 1/3 nL an hour at
    10 mg/mL) with a shadow of the slower hydromorphone starting exactly 83,333 nL from the
    tip: the hour's order is those 83,333 nL over the hour, and the third of a nanolitre the
    hour owes beyond them carries to the next order (288,000,000,000, in fg seconds a day):
    the rate changes at the shadow, but the hour is not a run that ends there."""
    d = _device(library, Shadow(83_333, 1_000, "hydromorphone", OLD))
    assert d.program is not None
    d = dataclasses.replace(
        d, program=dataclasses.replace(d.program, basal=Basal.continuous(20 * MG))
    )
    now = _now(d)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now) == (83_333, HOUR)
    assert (plan.carry, plan.alarms) == (288_000_000_000, ())


def test_a_slowed_order_of_a_single_nanolitre_raises_the_alarm(library: Library) -> None:
    """R-TIP-4: a shadow of hydromorphone whose old program gave 60 ng/day (0.03 uL a day) over
    the tip slows the kit's morphine to 300 ng/day through it: the hour's order is a single
    nanolitre (12.5 ng of the hour's basal at that rate), and it raises the delivery-limited
    alarm like any slowed order (never silent)."""
    d = _device(library, Shadow(0, 1_000, "hydromorphone", OLD), dose_ng_per_day=60)
    now = _now(d)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now) == (1, HOUR)
    assert AlarmKind.DELIVERY_LIMITED in plan.alarms
