"""At the hard maximum, where the hour's basal order fits whole only after a first second cut part
of the way (not to nothing), that second is an order of its own of what fits, the rest of its
basal is withheld with the delivery-limited alarm and is not carried, and the hour runs whole from
the next second (REQ-TIP-004, REQ-GOV-002, R-TIP-5); no 24 h window goes over the hard maximum by
the minimal first-in-first-out reference (tests/fifo_window_reference.py), from the drive's record
alone.

Compounded fentanyl at its 1000 mcg/day hard maximum on a Prometra II with the Prometra catheter
trimmed 20 cm, as in test_a_first_second_cut_to_nothing_at_the_hard_maximum.py, refilled twice
a day after dosing started: the first refill at another concentration, the second, a few minutes
later, at a third. The tick of the second refill plans an hour that a window early in it would
take over the maximum; cut from its first second instead, the second orders part of its basal.
Measured (the figures are the core's, pinned; the reference bounds the windows):

- 0.8 mg/mL, then 7 mg/mL, then 3 mg/mL 900 s later: the second asks 16 nL and orders 13 nL;
- 2.5 mg/mL, then 1 mg/mL, then 12 mg/mL 1800 s later: the second asks 6 nL and orders 3 nL.
"""

from __future__ import annotations

import dataclasses

from drug_change_kit import ARRIVAL_S, HYDROMORPHONE, MORPHINE_10, changed, judge, programs_of
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import DAY_S, MG, Bench, S, implanted_and_dosing, refill
from itdose_testkit import reach
from reset_bench import ResetBench

from itdose.core import Device, Library, Phase
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.basal import plan_tick
from itdose.core.effects import Annunciate, DeliveryOrder, Effect, Record
from itdose.core.governor import Reason
from itdose.core.ledger import Ledger
from itdose.core.path import FluidPath, Segment
from itdose.core.program import Basal, Program

LIMITED = Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM)


def _two_refills(
    library: Library, concs: tuple[int, int, int], gap_s: int, offset_s: int
) -> tuple[Bench, int]:
    """Dosing at the first concentration, refilled at the second a day and ``offset_s`` after
    dosing started, and at the third ``gap_s`` later (soft limits overridden; the bench ticks
    after each command, the last tick is the one after the second refill): the bench and the
    length of its log before the second refill."""
    cap = library.drug("fentanyl", "pain").max_daily.value
    assert cap == MG
    programs = [Program("fentanyl", "pain", k, Basal.continuous(cap), None, None) for k in concs]
    b = Bench(library)
    t0 = implanted_and_dosing(b, programs[0], trial_ng=50_000)
    first = t0 + DAY_S + offset_s
    refill(b, first, concs[1], program=programs[1])
    seen = len(b.log)
    refill(b, first + gap_s, concs[2], program=programs[2])
    return b, seen


def _limited_ticks(b: Bench, since: int) -> list[tuple[int, tuple[Effect, ...]]]:
    return [
        (at, fx) for at, command, fx in b.log[since:] if command.name == "tick" and LIMITED in fx
    ]


def _withheld(fx: tuple[Effect, ...]) -> list[str]:
    return [e.detail for e in fx if isinstance(e, Record) and e.event == "basal_withheld"]


def _basal_orders(fx: tuple[Effect, ...]) -> list[tuple[int, int]]:
    return [
        (e.volume_nl, e.duration_s)
        for e in fx
        if isinstance(e, DeliveryOrder) and e.kind == "basal"
    ]


def _no_window_over_the_max(b: Bench) -> None:
    pieces = tip(b.dead_volume_nl or 0, moved_by(b.pushes))
    largest, _ = windows(pieces, "fentanyl")
    assert largest is not None and largest[0] <= MG, float(largest[0])


def test_a_first_second_cut_part_way_orders_what_fits_and_withholds_the_rest_uncarried(
    library: Library,
) -> None:
    """REQ-TIP-004, REQ-GOV-002: one tick is cut, at the second refill's instant: it orders a
    one-second order of part of the second's basal, records the rest as withheld for the daily
    cap only (once) and raises the delivery-limited alarm; right after it nothing is carried
    (what the cut takes is withheld, not owed) and no basal is due before the next second; the
    next second's order runs its whole hour; two days on no window holds more than the hard
    maximum by the reference."""
    for concs, gap_s, offset_s, asked, ordered in (
        ((800_000, 7 * MG, 3 * MG), 900, 3434, 16, 13),
        ((2_500_000, MG, 12 * MG), 1800, 126, 6, 3),
    ):
        b, seen = _two_refills(library, concs, gap_s, offset_s)
        at_refill = b.now
        cut = _limited_ticks(b, seen)
        assert [at for at, _ in cut] == [at_refill], (concs, cut)
        fx = cut[0][1]
        assert _withheld(fx) == [f"requested {asked} nL; reasons: daily_cap"], concs
        assert _basal_orders(fx) == [(ordered, 1)], concs
        assert b.device.basal_carry == 0 and b.device.basal_until_s == at_refill + 1, concs
        seen = len(b.log)
        b.advance(at_refill + 1)
        (nxt,) = [fx for at, command, fx in b.log[seen:] if command.name == "tick"]
        assert [d for _, d in _basal_orders(nxt)] == [3600] and not _withheld(nxt), concs
        b.advance(at_refill + 2 * DAY_S)
        assert not b.anomalies and not _limited_ticks(b, seen), concs
        _no_window_over_the_max(b)


def test_a_second_tick_in_a_second_cut_to_nothing_orders_and_records_nothing(
    library: Library,
) -> None:
    """REQ-TIP-004: the tick that cuts its first second to nothing (10 mg/mL, then 5 mg/mL, then
    10 mg/mL 600 s later, as in test_a_first_second_cut_to_nothing_at_the_hard_maximum.py)
    leaves no basal due before the next second: a second tick in the same second orders
    nothing and records nothing more."""
    b, seen = _two_refills(library, (10 * MG, 5 * MG, 10 * MG), 600, 1234)
    at_refill = b.now
    (cut,) = _limited_ticks(b, seen)
    assert _withheld(cut[1]) == ["requested 2 nL; reasons: daily_cap"]
    assert not _basal_orders(cut[1]) and b.device.basal_until_s == at_refill + 1
    out = b.submit(c.Tick(S))
    assert [e for e in out.effects if isinstance(e, Record) and e.event != "tick"] == []
    assert not _basal_orders(out.effects)


def test_the_second_after_a_richer_fluids_lag_cut_for_the_cap_is_not_cut_again(
    library: Library,
) -> None:
    """REQ-TIP-004, R-TIP-5: refilled from morphine 25 mg/mL to 10 mg/mL and ten minutes later
    to hydromorphone 2 mg/mL (each at its hard maximum), the drive moving every order whole:
    the morphine's last nanolitre leaves the tip as the hydromorphone arrives, and the next
    second is an order of its own (it may have lagged its pace by up to a nanolitre). The cap
    cuts that second from 44 nL to 42 nL, with the delivery-limited alarm and the record; a
    one-second order is not cut again from its first second (cut again as if it were an
    hour: 22 nL); the next order runs to the end of that run at the program's rate (5513 nL
    over 239 s), then whole hours. The reference judges the history (a partial second
    carried, R-TIP-3)."""
    changes = ((0, MORPHINE_10), (600, HYDROMORPHONE))
    b = ResetBench(library)
    t1 = changed(b, changes, (), days=1)
    assert not b.anomalies
    ticks = [
        (t - t1 - ARRIVAL_S, fx)
        for t, command, fx in b.log
        if command.name == "tick" and 0 <= t - t1 - ARRIVAL_S <= 3600 and _basal_orders(fx)
    ]
    assert [(t, _basal_orders(fx), _withheld(fx), LIMITED in fx) for t, fx in ticks[:3]] == [
        (1, [(42, 1)], ["requested 44 nL; reasons: daily_cap"], True),
        (2, [(5513, 239)], [], False),
        (241, [(208_333, 3600)], [], False),
    ]
    faults = judge(b, t1).faults(programs_of(changes), carried_s=1)
    assert not faults, faults


def _room_until(
    library: Library,
    segments: tuple[Segment, ...],
    daily_ng: int,
    recorded_ng: int,
    leaves_s: int,
    owed_fg: int = 0,
) -> tuple[Device, int]:
    """The kit's active morphine device (10 mg/mL) under a program of ``daily_ng``, its path
    ``segments``, ``owed_fg`` of basal carried, and a ledger holding ``recorded_ng`` recorded at
    one instant that leaves the window ``leaves_s`` from now: (device, now)."""
    d = reach(Phase.ACTIVE, library)
    now = max(d.basal_until_s, d.clock_s or 0)
    assert d.program is not None
    at = now - DAY_S + leaves_s
    fg = recorded_ng * 1_000_000
    d = dataclasses.replace(
        d,
        path=FluidPath(segments),
        program=dataclasses.replace(d.program, basal=Basal.continuous(daily_ng)),
        ledger=Ledger().record(at, 1, at, fg, fg, 1),
        basal_carry=owed_fg * DAY_S,
    )
    return d, now


def test_a_two_second_run_cut_for_the_cap_is_cut_from_its_first_second(library: Library) -> None:
    """REQ-TIP-004, R-TIP-5: the kit's morphine device at its 20 mg maximum (231.5 ng, 23.1 nL
    of 10 mg/mL, a second) with 30 nL of 10 mg/mL at the tip before 25 mg/mL: the run is an
    order of two seconds. The ledger holds 19,999,900 ng recorded at one instant that leaves
    the window two seconds from now: 100 ng of room until then. The two-second order does not
    fit whole; from its first second it does, after a first second of 10 nL (the 100 ng): that
    second is the order, its basal asked (23 nL) withheld in part with the alarm, nothing
    carried, the rest of the run from the next second (cut as a two-second order: 20 nL)."""
    run = (Segment(30, "morphine", 10 * MG), Segment(233_970, "morphine", 25 * MG))
    d, now = _room_until(library, run, 20 * MG, 19_999_900, 2)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now, plan.requested_nl) == (10, 1, 23)
    assert (plan.withheld_reasons, plan.carry, plan.basal_until_s) == (
        (Reason.DAILY_CAP,),
        0,
        now + 1,
    )
    assert plan.alarms == (AlarmKind.DELIVERY_LIMITED,)


def test_the_rest_after_a_cut_first_second_is_counted_at_the_runs_own_concentration(
    library: Library,
) -> None:
    """REQ-TIP-004, R-TIP-3: the kit's morphine at 2 mg/day with 200 ng owed and 30 nL of
    10 mg/mL at the tip before 25 mg/mL; 100 ng of room until a recorded amount leaves the
    window three seconds from now. The order after the cut first second keeps one
    concentration, as every basal order: the rest of the run is counted at 10 mg/mL, and the
    first second orders 4 nL of the 22 nL it asks (counted across the run's end at 25 mg/mL,
    2 nL), withheld in part with the alarm, nothing carried."""
    run = (Segment(30, "morphine", 10 * MG), Segment(233_970, "morphine", 25 * MG))
    d, now = _room_until(library, run, 2 * MG, 19_999_900, 3, owed_fg=200_000_000)
    plan = plan_tick(d, now, library)
    assert plan.order is not None
    assert (plan.order.volume_nl, plan.order.end_s - now, plan.requested_nl) == (4, 1, 22)
    assert (plan.withheld_reasons, plan.alarms, plan.carry) == (
        (Reason.DAILY_CAP,),
        (AlarmKind.DELIVERY_LIMITED,),
        0,
    )


def test_a_first_second_of_no_whole_nanolitre_withholds_nothing_and_carries_its_basal(
    library: Library,
) -> None:
    """REQ-TIP-004, R-TIP-4: the kit's morphine at 1 mg/day (11.6 ng a second, under half a
    nanolitre of the 40 nL of 25 mg/mL at the tip); 10 ng of room until a recorded amount
    leaves the window two seconds from now. The hour is cut; from its first second it fits,
    and that second asks no whole nanolitre: it is an empty second that withholds nothing and
    raises no alarm, its second of basal carried (10**12 fg seconds a day; withheld with the
    alarm instead, the second's basal was lost)."""
    run = (Segment(40, "morphine", 25 * MG), Segment(233_960, "morphine", 10 * MG))
    d, now = _room_until(library, run, MG, 19_999_990, 2)
    plan = plan_tick(d, now, library)
    assert plan.order is None and plan.basal_until_s == now + 1
    assert (plan.withheld_reasons, plan.alarms, plan.carry) == ((), (), 10**12)
