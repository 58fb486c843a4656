"""When delivery stops, the basal order in flight stops with it and the drive stops on a whole
nanolitre: the fraction of a nanolitre the order's even pace still owed is carried to the next
basal order (REQ-TIP-004; docs/dosing-rules.md#r-tip-3). At most one nanolitre: a drive slower
than its order is not made up here. The kit's active morphine device: 10 mg/mL, 1 mg/day."""

from __future__ import annotations

import dataclasses

from itdose_testkit import DAY, MORPHINE_PROGRAM, C, S, reach

from itdose.core import Library, Role, step
from itdose.core import commands as c
from itdose.core.effects import DeliveryOrder
from itdose.core.path import FluidPath, Segment
from itdose.core.program import Basal
from itdose.core.state import Device, Phase

CONC = 10_000_000  # ng/mL: fg per nL
P = Role.PATIENT


def _ordered(library: Library) -> tuple[Device, DeliveryOrder, int]:
    d = reach(Phase.ACTIVE, library)
    now = d.basal_until_s
    out = step(d, c.Tick(S), now, library)
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    return out.device, order, now


def _stopped(library: Library, after_s: int, moved_nl: int) -> tuple[Device, Device, int, int]:
    """(the device before the stop, after the stop and the final report, the order's volume and
    duration)."""
    d, order, start = _ordered(library)
    stopped = step(d, c.BeginRefill(C), start + after_s, library).device
    reported = step(
        stopped, c.DriveReport(S, order.order_id, moved_nl, True), start + after_s, library
    ).device
    return d, reported, order.volume_nl, order.duration_s


def test_the_fraction_a_stop_leaves_is_carried(library: Library) -> None:
    """REQ-TIP-004: stopped 1234 s into an hourly order of 4166 nL, the drive moved 1428 nL
    (the whole nanolitres of 1428.01): the 0.01 nL its pace owed, at 10 mg/mL, is added to the
    carry exactly (fg x s/day)."""
    before, after, volume, dur = _stopped(library, 1234, 1428)
    assert (volume, dur) == (4166, 3600)
    owed = volume * 1234 - 1428 * dur  # nL x s: 0.012 nL
    assert 0 < owed < dur
    assert after.basal_carry == before.basal_carry + owed * CONC * DAY // dur
    assert after.phase is Phase.REFILL  # delivery stopped for the refill


def test_a_drive_slower_than_its_order_is_not_made_up(library: Library) -> None:
    """REQ-TIP-004: a drive that moved 1000 nL where the pace owed 1428.01 is carried one
    nanolitre at most (its own shortfall is the drive's: the refill reconciliation finds it)."""
    before, after, _, _ = _stopped(library, 1234, 1000)
    assert after.basal_carry == before.basal_carry + CONC * DAY


def test_a_stop_at_the_pace_carries_nothing_more(library: Library) -> None:
    """REQ-TIP-004: a drive that moved what the pace owed (rounded up: 1429 nL) owes nothing."""
    before, after, _, _ = _stopped(library, 1234, 1429)
    assert after.basal_carry == before.basal_carry


def test_an_order_cancelled_for_a_bolus_carries_what_its_pace_owed(library: Library) -> None:
    """REQ-TIP-004, REQ-GOV-008: a bolus cancels the basal order in flight and carries the basal
    due from now inside it; the basal before now is the cancelled order's, and the drive stops
    it on a whole nanolitre: its final report adds the fraction its pace still owed (0.01 nL
    here), as any stop does."""
    d, order, start = _ordered(library)
    out = step(d, c.RequestBolus(P), start + 1234, library)
    assert any(isinstance(e, DeliveryOrder) for e in out.effects)
    carry = out.device.basal_carry
    after = step(
        out.device, c.DriveReport(S, order.order_id, 1428, True), start + 1234, library
    ).device
    owed = order.volume_nl * 1234 - 1428 * order.duration_s
    assert 0 < owed < order.duration_s
    assert after.basal_carry == carry + owed * CONC * DAY // order.duration_s


def test_a_bolus_after_a_cancelled_order_leaves_exactly_the_basal_not_yet_delivered(
    library: Library,
) -> None:
    """REQ-TIP-004, REQ-GOV-008: the basal due from the cancelled order's start to the bolus's
    end (the program's rate, plus the carry before that order) less the basal delivered (what
    the drive moved of the cancelled order, and the basal inside the bolus order) is the carry
    after the cancelled order's final report, to the femtogram (rounded down, never up): the
    bolus holds what the cancelled order's plan owed beyond its pace line, the report the
    fraction its pace owed."""
    carry_in = reach(Phase.ACTIVE, library).basal_carry
    d, order, start = _ordered(library)
    out = step(d, c.RequestBolus(P), start + 1234, library)
    (bolus,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    after = step(
        out.device, c.DriveReport(S, order.order_id, 1428, True), start + 1234, library
    ).device
    rate_fg_per_day = 1_000_000 * 1_000_000  # the kit's program: 1 mg/day
    due = rate_fg_per_day * (1234 + bolus.duration_s) + carry_in  # fg x s/day
    delivered = (1428 + bolus.basal_nl) * CONC * DAY
    assert 0 <= due - delivered - after.basal_carry <= 2, due - delivered - after.basal_carry
    assert after.basal_carry > CONC * DAY // 10  # more than a tenth of a nanolitre is carried


def test_the_least_fraction_a_stop_leaves_is_carried(library: Library) -> None:
    """REQ-TIP-004: at 999.12 mcg/day the hourly order is 4163 nL; stopped 2027 s in, the pace
    line is at 4163 x 2027 / 3600 = 2344.00028 nL and the drive moved 2344: the least fraction
    the pace can owe, one nL x s (1/3600 nL), is carried exactly, not dropped."""
    d = reach(Phase.ACTIVE, library)
    start = d.basal_until_s
    program = dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(999_120))
    d = step(d, c.SetProgram(C, program), start, library).device
    out = step(d, c.Tick(S), start, library)
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    assert (order.volume_nl, order.duration_s) == (4163, 3600)
    owed = order.volume_nl * 2027 - 2344 * order.duration_s  # nL x s
    assert owed == 1
    stopped = step(out.device, c.BeginRefill(C), start + 2027, library).device
    report = c.DriveReport(S, order.order_id, 2344, True)
    after = step(stopped, report, start + 2027, library).device
    assert after.basal_carry == stopped.basal_carry + owed * CONC * DAY // order.duration_s > 0


def test_a_drive_short_at_its_orders_end_carries_nothing(library: Library) -> None:
    """REQ-TIP-004: an order that ran to its end was not stopped before it: a drive that moved
    one nanolitre less than the hourly 4166 nL by then has no fraction of a stop to carry (its
    shortfall is the drive's, as for a drive slower than its order)."""
    d, order, start = _ordered(library)
    report = c.DriveReport(S, order.order_id, order.volume_nl - 1, True)
    after = step(d, report, start + order.duration_s, library).device
    assert after.basal_carry == d.basal_carry


def test_the_fraction_a_stop_leaves_is_carried_at_the_fluid_then_at_the_tip(
    library: Library,
) -> None:
    """REQ-TIP-004: the path holds 1428 nL of 10 mg/mL, then 1000 nL of 20 mg/mL, then
    10 mg/mL; stopped 1234 s into the hourly order of 4166 nL, the drive moved 1428 nL: the
    0.01 nL its pace owed is of the fluid now at the tip, 20 mg/mL (not the fluid at the tip
    before the report, nor the one a whole order further in)."""
    d, order, start = _ordered(library)
    assert d.path is not None
    dead = d.path.volume_nl
    path = FluidPath(
        (
            Segment(1428, "morphine", CONC),
            Segment(1000, "morphine", 2 * CONC),
            Segment(dead - 2428, "morphine", CONC),
        )
    )
    path.check("path", dead)
    d = dataclasses.replace(d, path=path)
    stopped = step(d, c.BeginRefill(C), start + 1234, library).device
    report = c.DriveReport(S, order.order_id, 1428, True)
    after = step(stopped, report, start + 1234, library).device
    owed = order.volume_nl * 1234 - 1428 * order.duration_s
    assert 0 < owed < order.duration_s
    assert after.basal_carry == stopped.basal_carry + owed * 2 * CONC * DAY // order.duration_s
