"""Boluses (part of the delivery engine, :mod:`itdose.core.dosing`): the plan of a patient or
clinician bolus through the governor, all or nothing (REQ-GOV-008, REQ-GOV-009, REQ-TIP-002),
and the one order that delivers it together with the basal due meanwhile. Pure and integer-only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from itdose.core.alarms import AlarmKind, Priority
from itdose.core.arith import ceil_div
from itdose.core.basal import _basal_rate, raise_alarms
from itdose.core.effects import (
    Annunciate,
    BolusDecision,
    CancelOrder,
    DeliveryOrder,
    Effect,
    Record,
)
from itdose.core.fill import fill_tiers, over_fg
from itdose.core.flight import (
    _fluid_flows,
    _future_basal,
    _homogeneous,
    _most_fg,
    _pace,
    _path,
    _tip_drug,
    ahead,
    in_flight_nl,
    projection,
    recorded_terms,
    rest_nl,
)
from itdose.core.governor import Decision, PatientBolus, Reason, Request, decide_bolus
from itdose.core.ledger import Flow, Piece, pace_nl_per_h
from itdose.core.library import Library
from itdose.core.path import amount_fg, drugs_in, ng_up
from itdose.core.reach import shadows_within
from itdose.core.state import DeliveryKind, Device, Order, Phase
from itdose.core.units import DAY_S, FG_PER_NG, format_duration_s, format_volume_nl

__all__ = [
    "BolusPlan",
    "announce_cut_bolus",
    "bolus_in_flight",
    "clinician_bolus",
    "clinician_decision",
    "clinician_plan",
    "request_bolus",
]


@dataclass(frozen=True)
class BolusPlan:
    """A bolus through the governor (REQ-GOV-008, REQ-TIP-002): the decision and, if granted,
    the one order that delivers it together with the basal due meanwhile, the basal order it
    replaces (cancelled) and the end of the basal it covers."""

    decision: Decision
    volume_nl: int
    basal_nl: int
    cancel: Order | None
    basal_until_s: int
    basal_carry: int
    """The basal target's remainder below one nanolitre, carried to the next segment."""
    short_fg: int = 0
    """What the order is short of the dose and the basal inside it, when the basal order it
    cancels kept its pace, if more than one nanolitre of the richest fluid within reach: a
    bolus that cannot be sized in full without knowing where that order stopped (announced:
    docs/dosing-rules.md#r-tip-4); 0 otherwise."""
    held_nl: int = 0
    """The whole nanolitres of basal the order holds back for the hard maximum (carried)."""
    in_the_way: tuple[str, ...] = ()
    """The other drugs that may leave the tip before or with this one's order (the path's or a
    shadow's within its reach): the order is then not deliverable."""


def _bolus_plan(
    d: Device,
    now: int,
    lib: Library,
    dose_ng: int,
    duration_s: int,
    patient: PatientBolus | None,
) -> BolusPlan:
    """Plan a bolus of ``dose_ng`` at the tip over ``duration_s`` (:func:`_plan_with`), the basal
    its cancel of the basal order in flight owes inside it (:func:`_cancelled_debt`): exact, the
    basal due from that order's start on less that order's pace line, so the basal of every
    window around boluses is delivered in full (REQ-TIP-004). Where the order with that debt
    inside it does not fit under the hard maximum (the debt is paid later than due, so a window
    from its due instant on can hold a day of basal and the debt) or in the reservoir, the bolus
    is planned as without it and the debt is carried to the next basal order, whose plan fits it
    under the hard maximum exactly (a rounding unit carried on, more withheld with the
    delivery-limited alarm): a bolus that brings a window exactly to the hard maximum is granted
    (R-TIP-4), never denied for basal owed."""
    plan = _plan_with(d, now, lib, dose_ng, duration_s, patient, True)
    if plan.debt_fg_s and (plan.mixed or not (plan.fits or plan.far)):
        plan = _plan_with(d, now, lib, dose_ng, duration_s, patient, False)
    if plan.near and plan.plan.cancel is not None:
        # a window at the hard maximum exactly, counted over it by less than a nanolitre or two
        # (the cancelled order counted up to its pace rounded up, the carry a day earlier): the
        # basal inside the order, counted as it is (not as a day of basal from now), held back
        # by up to HOLD_NL whole nanolitres, carried to the next basal order (R-TIP-4: a
        # rounding unit carried, not basal cut for a bolus)
        for hold in range((HOLD_NL if patient else 1) + 1):
            held = _plan_with(d, now, lib, dose_ng, duration_s, patient, False, hold)
            if held.fits:
                return held.plan
    return plan.plan


HOLD_NL = 3
"""The most basal a patient bolus at the hard maximum holds back (whole nanolitres, carried;
more than one announced), a clinician bolus one: the basal owed when the window from the first
bolus starts (under two nanolitres) and its order's pace rounded up (under one)."""


@dataclass(frozen=True)
class _Planned:
    plan: BolusPlan
    fits: bool
    """The whole order fits under the hard maximum and in the reservoir."""
    debt_fg_s: int
    mixed: bool
    """Sized for two or more concentrations within reach (the debt is then carried)."""
    far: bool
    """Over the hard maximum by more than the debt inside it, what a bolus may hold back and one
    nanolitre, with room in the reservoir: no plan of this bolus can fit (a denial as it is)."""
    near: bool
    """Over the hard maximum by no more than what a bolus may hold back and one nanolitre more
    (of the richest fluid within reach), as the ledger counts it: worth holding back."""


def _cancelled_debt(d: Device, basal: Order, now: int, rate: int, others: int, _drug: str) -> int:
    """The basal the basal order in flight still owes at ``now``, beyond its pace line, as basal
    carry (fg x s/day) (REQ-TIP-004): the order was planned to hold its segment's basal plus the
    carry before it, less the carry after it (``d.basal_carry``), evenly over its segment; the
    bolus cancels it at ``now`` and holds the basal from ``now`` on. So the basal due from the
    order's start to ``now`` less its pace line by ``now``: the carry after it, plus what its
    pace line held for the rest of the segment, less that rest's basal (the fraction of a
    nanolitre the drive's whole-nanolitre stop leaves below the line is carried at its final
    report, :mod:`itdose.core.drive_reports`). Rounded down; never below 0 (a cut order's
    withheld basal stays withheld); 0 unless the order is the basal order of the segment
    (``basal_until_s`` at its end: not an order a program change or a stop already cancelled)
    and its rest lies in one fluid (another drug there reaches the tip first: the bolus is
    refused whatever this returns); at most two nanolitres of it (what a carry can be)."""
    if rate == 0 or d.basal_until_s != basal.end_s or now < basal.start_s:
        return 0
    rest = ahead(d, others, max(1, basal.volume_nl - basal.reported_nl))
    fluids = {(p.drug, p.concentration_ng_per_ml) for p in rest}
    if len(fluids) != 1:
        return 0
    ((_, conc),) = fluids
    seg = max(1, basal.end_s - basal.start_s)
    left = max(0, basal.end_s - now)
    line = basal.volume_nl * conc * DAY_S * left // seg
    owed = d.basal_carry + line - rate * FG_PER_NG * left
    return max(0, min(owed, 2 * conc * DAY_S))


def _plan_with(
    d: Device,
    now: int,
    lib: Library,
    dose_ng: int,
    duration_s: int,
    patient: PatientBolus | None,
    with_debt: bool,
    hold_nl: int | None = None,
) -> _Planned:
    """Plan a bolus of ``dose_ng`` at the tip over ``duration_s``.

    The pump delivers basal and bolus together: a bolus order carries the basal due during it (at
    the program's rate, from now or from the end of the basal already ordered) and replaces the
    basal order in flight, which is cancelled. So no two orders ever run at once, and every order
    keeps its pace (the ledger's trust). The volume is the largest whole volume whose drug at the
    tip is at most the dose (and the basal target): exact while the path holds one fluid; while it
    holds two or more concentrations of the drug within reach, in any order (rising, falling, a
    slug of one between two others), sized to the path's contents for the most drug it can push
    out whatever part of the cancelled basal order was delivered (the dose is never exceeded; it
    is exact when that order has moved nothing since its last report, or for a drive that kept
    that order's pace unless a richer fluid lies ahead of a leaner one within reach: then the
    shortfall such a drive leaves, beyond one nanolitre, is announced). The whole order must fit
    under the cap with the basal scheduled for the next day (basal is never reduced to make room
    for a bolus). While another bolus or priming is in flight, or another drug would reach the
    tip, no bolus is delivered."""
    assert d.program is not None and d.implant is not None and d.reservoir is not None
    drug = d.program.drug
    pump = lib.pump(d.implant.pump)
    dur = max(1, duration_s)
    # a basal order an earlier bolus cut, not reported yet, moved at most its pace by the cut
    # (R-TIP-3): counted so, where the path holds one fluid (elsewhere the bolus waits for it)
    cut = tuple(o for o in d.orders if o.cut_s)
    basal = next((o for o in d.orders if o.kind is DeliveryKind.BASAL and not o.cut_s), None)
    busy = any(o is not basal and not o.cut_s for o in d.orders) or bool(
        cut and not _homogeneous(d)
    )
    start = now if basal is not None else max(now, d.basal_until_s)
    rate = _basal_rate(d, now, drug)[0] if _tip_drug(d) == drug else 0
    unreported = debt = 0
    flows: list[Flow] = []
    others = in_flight_nl(d)
    if basal is not None:
        # a report beyond the order's volume (a deviation) leaves nothing of it to come
        others -= rest_nl(basal)
        since = max(basal.start_s, basal.reported_s)
        unreported = min(rest_nl(basal), ceil_div(_pace(basal) * max(0, now - since), 3600))
        debt = _cancelled_debt(d, basal, now, rate, others, drug)
    carried = (debt if with_debt else 0) if basal is not None else d.basal_carry
    due = rate * FG_PER_NG * max(0, now + dur - start)
    numerator = due + carried
    basal_fg = numerator // DAY_S
    # the concentrations this order can push out of the tip: from the path behind the volume
    # still to come, as far as the largest volume it could need (sized at the leanest one)
    rest = _path(d).volume_nl - others
    behind = ahead(d, others, max(0, rest) + 1)
    leanest = min((p.concentration_ng_per_ml for p in behind if p.drug == drug), default=0)
    span = unreported + (dose_ng * FG_PER_NG + basal_fg) // max(1, leanest) + 1
    reach = ahead(d, others, span)
    concs = {p.concentration_ng_per_ml for p in reach if p.drug == drug}
    # another drug that would leave the tip before or with this one: not deliverable
    way = list(behind if leanest == 0 else reach[:1])
    other_drug = leanest == 0 or any(p.drug != drug for p in way)
    cmax = max(concs, default=1)
    bolus_nl = dose_ng * FG_PER_NG // cmax
    basal_nl = basal_fg // cmax
    volume = bolus_nl + basal_nl
    mixed = len(concs) > 1 and not other_drug
    short_fg = 0
    held = min(hold_nl or 0, basal_nl)
    if mixed:
        # two or more concentrations within reach: the largest volume whose drug at the tip is
        # at most the dose and the basal target (less what it holds back) wherever the
        # cancelled basal order stopped (sized at the richest one, a bolus pushing out a leaner
        # fluid would under-deliver)
        target = dose_ng * FG_PER_NG + basal_fg - held * cmax
        volume = _mixed_volume(d, drug, others, unreported, target)
        basal_nl = volume * (basal_fg - held * cmax) // max(1, target)
        bolus_nl = volume - basal_nl
        # what is short when that order kept its pace (the drive's normal case): more than one
        # nanolitre of the richest fluid within reach is a bolus the core cannot size in full
        # without knowing where that order stopped, announced (docs/dosing-rules.md#r-tip-4)
        paced = amount_fg(ahead(d, others + unreported, volume), drug)
        short_fg = target - paced if target - paced > cmax else 0
    way += ahead(d, others, unreported + volume)
    # another drug a shadow may hold within the order's reach may be at the tip as well: pushed
    # out at the bolus's speed, it would leave faster than its own program's rate (R-TIP-6), so
    # it denies the bolus as the path's would (docs/dosing-rules.md#r-mri-5)
    shade = shadows_within(d.shadows, drug, others, others + unreported + volume + 1)
    in_the_way = tuple(
        dict.fromkeys(x for x in (*drugs_in(tuple(way)), *(s.drug for s in shade)) if x != drug)
    )
    other_drug = other_drug or any(p.drug != drug for p in way) or bool(shade)
    pieces, lags = recorded_terms(d, drug, now)
    # (a report after the cut leaves nothing of it to come: an empty piece at the cut)
    pieces += tuple(
        Piece(
            o.id,
            min(o.cut_s, max(o.start_s, o.reported_s)),
            o.cut_s,
            rest_nl(o) * cmax,
            _pace(o) * cmax,
            3600,
        )
        for o in cut
    )
    flows.extend(lags)
    # what the cancelled basal order may have moved since its last report (it stops now):
    # its id, the instant of that report and its pace (nL/h)
    moved = (basal.id, since, _pace(basal)) if basal is not None and unreported else None
    until = now + dur if basal is not None else max(d.basal_until_s, now + dur)
    tiers = fill_tiers(d, lib, drug, now)
    if mixed:
        # the whole order (its basal too), fluid by fluid, then the basal after it: a day at
        # the top step less the basal inside the order (which the order's flows count)
        flows.extend(
            Flow(f.start_s, max(0, f.amount_fg - basal_fg), f.pace_fg, f.pace_s)
            for f in _future_basal(d, until)
        )
        choices = (_fluid_flows(d, drug, now, others, unreported, volume, dur, moved),)
    part: tuple[Piece, ...] = ()
    extra_nl = 0
    if moved is not None and not mixed:
        part = (Piece(moved[0], moved[1], now, unreported * cmax, moved[2] * cmax, 3600),)
    if mixed:
        pass
    elif hold_nl is not None:
        # the whole order at its pace with the basal inside it (less ``held``), then the
        # basal after it: a day at the top step less the basal inside the order
        basal_nl -= held
        volume = bolus_nl + basal_nl
        flows.extend(
            Flow(f.start_s, max(0, f.amount_fg - basal_nl * cmax), f.pace_fg, f.pace_s)
            for f in _future_basal(d, until)
        )
        order = Flow(now, volume * cmax, pace_nl_per_h(volume, dur) * cmax, 3600)
        choices = ((part, (order,)),)
    else:
        # the basal due from ``start`` on (inside this order first, then the next basal orders)
        # is a day at the top step; the bolus itself at its own pace
        flows.extend(_future_basal(d, start))
        # with the basal carried inside the order (the debt the cancel owes, or with no basal
        # order in flight the carry earlier orders left), above the program's (the flow from
        # ``start`` holds the program's only), at the order's own pace
        if carried:
            extra_nl = max(0, basal_nl - due // DAY_S // cmax)
        bolus = Flow(
            now,
            (bolus_nl + extra_nl) * cmax,
            pace_nl_per_h(bolus_nl + extra_nl, dur) * cmax,
            3600,
        )
        choices = ((part, (bolus,)),)
    # the most over the limit (0 when it fits; the exact peak is known once over it)
    over, most = 0, HOLD_NL if patient else 1
    for part, news in choices:
        over = max(over, over_fg((*pieces, *part), (*flows, *news), tiers))
        if over > (extra_nl + most + 1) * cmax:
            break  # beyond what a bolus may hold back: no need to know how far
    fits = over <= 0
    usable = d.reservoir.volume_nl - others - unreported - pump.empty_threshold.value
    deliverable = not other_drug and bolus_nl > 0
    # an order that cannot deliver the drug (another drug at the tip, under a nanolitre) is
    # denied for that alone: no cap or reservoir room applies to it
    decision = decide_bolus(
        Request(
            requested_ng=dose_ng,
            cap_room_ng=(dose_ng if fits else 0) if deliverable else None,
            reservoir_room_ng=(dose_ng if volume <= usable else 0) if deliverable else None,
            delivering=d.phase is Phase.ACTIVE and not busy and deliverable,
        ),
        now_s=now,
        patient=patient,
    )
    if mixed:
        # the order holds the whole basal target (the nanolitre short of it is the bolus's)
        carry = numerator - (basal_fg - held * cmax) * DAY_S
    else:
        carry = numerator - basal_nl * cmax * DAY_S
    if not mixed:
        # the dose's fraction of a nanolitre below its whole volume, carried like basal's
        carry += (dose_ng * FG_PER_NG - bolus_nl * cmax) * DAY_S
    if not with_debt:
        carry += debt  # paid by the next basal order, under the hard maximum (see above)
    plan = BolusPlan(decision, volume, basal_nl, basal, until, carry, short_fg, held, in_the_way)
    near = 0 < over <= (most + 1) * cmax
    far = over > (extra_nl + most + 1) * cmax and volume <= usable and not mixed
    return _Planned(plan, fits and volume <= usable, debt if with_debt else 0, mixed, far, near)


def _mixed_volume(d: Device, drug: str, skip_nl: int, unknown_nl: int, target_fg: int) -> int:
    """The largest whole volume, pushed after ``skip_nl`` and an unknown ``0..unknown_nl`` more
    (what the cancelled basal order moved since its last report), whose drug at the tip is at
    most ``target_fg`` whatever that unknown volume is (REQ-TIP-002), for any order of the
    concentrations along the path (rising, falling, a slug of one fluid between two others):
    :func:`_most_fg`, searched by bisection (it never falls as the volume grows)."""
    leanest = min(
        (
            p.concentration_ng_per_ml
            for p in ahead(d, skip_nl, _path(d).volume_nl + unknown_nl + 1)
            if p.drug == drug
        ),
        default=1,
    )
    lo, hi = 0, target_fg // max(1, leanest) + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (
            (mid, hi) if _most_fg(d, drug, skip_nl, unknown_nl, mid) <= target_fg else (lo, mid)
        )
    return lo


def _grant_bolus(
    d: Device, plan: BolusPlan, kind: DeliveryKind, now: int, duration_s: int
) -> tuple[Device, list[Effect]]:
    """The state and effects of a granted bolus plan: the basal order it replaces is cancelled
    first, then the bolus order (with the basal due meanwhile) is given to the drive. A plan
    that is short of its dose for a drive that kept the pace of the cancelled order
    (:attr:`BolusPlan.short_fg`) raises the MEDIUM delivery-limited alarm in the same step
    (annunciated when it was not active yet) and records by how much: under-delivery is never
    silent (docs/dosing-rules.md#r-tip-4)."""
    effects: list[Effect] = []
    if plan.cancel is not None:
        effects.append(CancelOrder(plan.cancel.id, "bolus: the basal goes on inside it"))
    order = Order(d.next_order_id, kind, now, now + max(1, duration_s), plan.volume_nl)
    effects.append(
        DeliveryOrder(order.id, kind.value, plan.volume_nl, duration_s, basal_nl=plan.basal_nl)
    )
    mixed = plan.cancel is not None and not _homogeneous(d)
    cut = tuple(
        dataclasses.replace(o, cut_s=now, cut_mixed=mixed) if o is plan.cancel else o
        for o in d.orders
    )
    d = dataclasses.replace(
        d,
        orders=(*cut, order),
        next_order_id=d.next_order_id + 1,
        basal_until_s=plan.basal_until_s,
        basal_carry=plan.basal_carry,
    )
    if plan.short_fg or plan.held_nl > 1:
        if not d.has_alarm(AlarmKind.DELIVERY_LIMITED):
            d = raise_alarms(d, (AlarmKind.DELIVERY_LIMITED,), now)
            effects.append(Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM))
        detail = (
            f"{ng_up(plan.short_fg)} ng short of the dose and the basal inside it if the basal "
            "order it cancels kept its pace (the fluid path holds a richer fluid at the tip than "
            "behind it; that order's stop is not yet reported)"
            if plan.short_fg
            else f"{plan.held_nl} nL of the basal inside it held back for the hard maximum "
            "(carried): a window can hold less than the program's basal by more than one nL"
        )
        effects.append(
            Record("bolus_limited", "service", now, d.phase, d.phase, f"order {order.id}: {detail}")
        )
    return d, effects


def request_bolus(d: Device, now: int, lib: Library) -> tuple[Device, tuple[Effect, ...]]:
    """A patient's bolus request: all or nothing through the governor (REQ-GOV-008, -009).

    A denial delivers nothing, does not restart the lockout and is recorded with its reasons; a
    denial at the daily cap raises the LOW "maximum dose reached" alarm (docs/dosing-rules.md).
    """
    pb = d.program.patient_bolus if d.program is not None else None
    if pb is None or d.reservoir is None or d.implant is None:
        return d, (BolusDecision(False, 0, (Reason.NOT_PROGRAMMED,)),)
    plan = _bolus_plan(
        d,
        now,
        lib,
        pb.dose_ng,
        pb.duration_s,
        PatientBolus(d.boluses, pb.lockout_s, pb.max_per_24h),
    )
    decision = plan.decision
    if decision.granted_ng == 0:
        effects: list[Effect] = [
            BolusDecision(False, pb.dose_ng, decision.reasons, decision.lockout_remaining_s)
        ]
        if Reason.DAILY_CAP in decision.reasons and not d.has_alarm(AlarmKind.MAX_DOSE_REACHED):
            d = raise_alarms(d, (AlarmKind.MAX_DOSE_REACHED,), now)
            effects.append(Annunciate(AlarmKind.MAX_DOSE_REACHED, Priority.LOW))
        return d, tuple(effects)
    d = dataclasses.replace(d, boluses=d.boluses.record_start(now, max_per_24h=pb.max_per_24h))
    d, granted = _grant_bolus(d, plan, DeliveryKind.PATIENT_BOLUS, now, pb.duration_s)
    return d, (BolusDecision(True, pb.dose_ng), *granted, projection(d, now, lib))


def clinician_bolus(
    d: Device, now: int, lib: Library, dose_ng: int, duration_s: int
) -> tuple[Device, tuple[Effect, ...]]:
    """A clinician bolus already checked by :func:`clinician_decision` (all or nothing)."""
    plan = _bolus_plan(d, now, lib, dose_ng, duration_s, None)
    assert plan.decision.granted_ng == dose_ng
    d, granted = _grant_bolus(d, plan, DeliveryKind.CLINICIAN_BOLUS, now, duration_s)
    return d, (*granted, projection(d, now, lib))


def clinician_plan(d: Device, now: int, lib: Library, dose_ng: int, duration_s: int) -> BolusPlan:
    """The plan of a clinician bolus of ``dose_ng`` at the tip: the governor's decision and,
    when it is not deliverable, the other drugs in its way (:attr:`BolusPlan.in_the_way`)."""
    return _bolus_plan(d, now, lib, dose_ng, duration_s, None)


def clinician_decision(
    d: Device, now: int, lib: Library, dose_ng: int, duration_s: int
) -> Decision:
    """The governor's decision on a clinician bolus of ``dose_ng`` at the tip."""
    return clinician_plan(d, now, lib, dose_ng, duration_s).decision


BOLUS_KINDS = (DeliveryKind.PATIENT_BOLUS, DeliveryKind.CLINICIAN_BOLUS)


def bolus_in_flight(d: Device, now: int) -> Order | None:
    """The bolus order (patient or clinician) that a drive keeping its pace is still delivering
    at ``now``: delivery is under way and ``now`` is before the order's end. None otherwise (a
    bolus whose end has come is delivered by a drive that kept its pace, whether or not its final
    report has arrived) (docs/dosing-rules.md#r-bol-5)."""
    if d.phase is not Phase.ACTIVE:
        return None
    return next((o for o in d.orders if o.kind in BOLUS_KINDS and o.end_s > now), None)


def announce_cut_bolus(d: Device, now: int) -> tuple[Device, tuple[Effect, ...]]:
    """A step that stops delivery while a bolus is in flight (``d``: the state before the stop;
    the phase is still the delivering one) cuts that bolus: the rest of its dose is not delivered
    later. Under-delivery is never silent: the MEDIUM delivery-limited alarm is raised in the same
    step (annunciated when it was not active yet) and the order, the time it had left and the
    volume a drive that kept its pace had still to move are recorded (docs/dosing-rules.md#r-bol-5;
    REQ-BOL-008). Nothing happens when no bolus is in flight."""
    order = bolus_in_flight(d, now)
    if order is None:
        return d, ()
    effects: list[Effect] = []
    if not d.has_alarm(AlarmKind.DELIVERY_LIMITED):
        d = raise_alarms(d, (AlarmKind.DELIVERY_LIMITED,), now)
        effects.append(Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM))
    span = order.end_s - order.start_s
    left_nl = order.volume_nl * (order.end_s - now) // span
    effects.append(
        Record(
            "bolus_cut",
            "service",
            now,
            d.phase,
            d.phase,
            f"order {order.id} ({order.kind.value}) stopped {format_duration_s(order.end_s - now)} "
            f"before its end: about {format_volume_nl(left_nl)} of its "
            f"{format_volume_nl(order.volume_nl)} (the dose and the basal inside it) not "
            "delivered; the rest of the bolus is not given later",
        )
    )
    return d, tuple(effects)
