"""The delivery engine: basal segments, priming, boluses, drive reports, the clock.

Every amount that can leave the reservoir is decided by :mod:`itdose.core.governor` here
(REQ-GOV-001..003): this module only plans requests and applies the governor's decisions. It is
pure and integer-only. Orders are prospective: a tick at ``now`` orders the basal volume for the
next segment ``[now, now + seg)``, so a controller that sleeps simply misses that basal and it is
never caught up as a burst (REQ-DOSE-006). The ledger counts what the drive reports delivered;
granted-but-unreported volume is in flight and counted by the governor (REQ-GOV-002, REQ-GOV-004).

Dose at the catheter tip (REQ-TIP-001..004, docs/dosing-rules.md "What reaches the patient"):
every volume is planned through the fluid path (:mod:`itdose.core.path`). An order is sized by what
it will push out of the tip after the volume already in flight; every limit counts the drug that
leaves the tip, per drug. After a change of concentration the rate follows the path's contents,
so that the tip delivers the programmed daily dose of whatever it holds; after a change of drug
the old drug leaves the tip at the old program's daily dose. Priming pushes the fluid that fills
the path out of the tip: no drug, nothing counted, until drug arrives there.

Basal is exact: the target amount ``dose * 10**6 * seconds / 86400`` fg accumulates over segments,
only whole nanolitres are ordered and the remainder (in fg x s/day) carries to the next segment
(REQ-UNIT-004). The amount counted for a volume rounds up; a withheld amount is not carried (it
was withheld for safety, and catching it up later would be a burst) and raises the MEDIUM
"delivery limited" alarm when the daily cap withheld it (REQ-TIP-004).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.arith import ceil_div
from itdose.core.effects import (
    Annunciate,
    BolusDecision,
    CancelOrder,
    DeliveryOrder,
    Effect,
    Projection,
    Record,
)
from itdose.core.governor import (
    Decision,
    PatientBolus,
    Reason,
    Request,
    decide_basal,
    decide_bolus,
)
from itdose.core.ledger import Flow, Ledger, Piece, ahead_of_pace, pace_nl_per_h, peak_fg
from itdose.core.library import Library, MriPolicy, PumpModel
from itdose.core.path import (
    NO_DRUG,
    FluidPath,
    Segment,
    amount_fg,
    drugs_in,
    ng_down,
    ng_up,
)
from itdose.core.program import (
    FlexClock,
    basal_daily_ng,
    local_seconds,
    rate_at,
)
from itdose.core.state import ActiveAlarm, DeliveryKind, Device, DrugLedger, Order, Phase, evolve
from itdose.core.units import DAY_S, FG_PER_NG, volume_nl_for

__all__ = [
    "MIN_RUN_S",
    "ORDER_GRACE_S",
    "SEGMENT_S",
    "TickPlan",
    "ahead",
    "apply_plan",
    "apply_report",
    "cap_room_ng",
    "hard_max_ng",
    "in_flight_flows",
    "in_flight_nl",
    "ledger_of",
    "mri_resumes",
    "over_delivered",
    "plan_tick",
    "plan_volume",
    "projection",
    "request_bolus",
    "reservoir_room_ng",
    "segment_s",
    "tip_arrival",
]

SEGMENT_S = 3600
"""Longest basal order: one hour. Shorter segments end at flex step boundaries."""
MIN_RUN_S = 60
"""A basal order stops at a change of concentration only if at least this much of the old one is
left; a smaller remnant is delivered together with what follows it."""
ORDER_GRACE_S = 600
"""An order not reported finished this long after its end is overdue: the drive cannot be
confirmed, so a HIGH drive-fault alarm stops delivery (docs/architecture.md: unknown = possibly
delivering)."""


def _path(d: Device) -> FluidPath:
    return d.path if d.path is not None else FluidPath()


def _fluid(d: Device) -> tuple[str, int]:
    """The fluid behind the path: the reservoir's drug and concentration."""
    if d.reservoir is None:
        return NO_DRUG, 0
    return d.reservoir.drug, d.reservoir.concentration_ng_per_ml


def in_flight_nl(d: Device) -> int:
    """Volume granted but not yet reported delivered (every order pushes the path)."""
    return sum(max(0, o.volume_nl - o.reported_nl) for o in d.orders)


def ahead(d: Device, skip_nl: int, volume_nl: int) -> tuple[Segment, ...]:
    """What leaves the tip while ``volume_nl`` is pushed after ``skip_nl`` (REQ-TIP-002)."""
    drug, conc = _fluid(d)
    return _path(d).outflow(skip_nl, volume_nl, drug, conc)


def reservoir_room_ng(d: Device, drug: str, empty_threshold_nl: int) -> int:
    """``drug`` that the reservoir's usable volume (above the empty threshold, net of the volume
    in flight) pushes out of the tip, rounded down (REQ-GOV-003)."""
    if d.reservoir is None:
        return 0
    flight = in_flight_nl(d)
    usable = max(0, d.reservoir.volume_nl - flight - empty_threshold_nl)
    return ng_down(amount_fg(ahead(d, flight, usable), drug))


def _cmax(pieces: tuple[Segment, ...], drug: str) -> int:
    return max((p.concentration_ng_per_ml for p in pieces if p.drug == drug), default=0)


def _pace(o: Order) -> int:
    """The order's pace, nL per hour (:func:`itdose.core.ledger.pace_nl_per_h`)."""
    return pace_nl_per_h(o.volume_nl, o.end_s - o.start_s)


def in_flight_flows(d: Device, drug: str, extra_nl: int = 0) -> tuple[Flow, ...]:
    """The drug in flight as flows (REQ-GOV-004): each order's unreported volume from its last
    report on, at its pace, at the richest concentration of ``drug`` the volume in flight (and
    ``extra_nl`` after it) pushes out of the tip."""
    flight = in_flight_nl(d)
    if flight == 0:
        return ()
    conc = _cmax(ahead(d, 0, flight + extra_nl), drug)
    if conc == 0:
        return ()
    flows = []
    for o in d.orders:
        rest = o.volume_nl - o.reported_nl
        if rest > 0:
            start = max(o.start_s, o.reported_s)
            flows.append(Flow(start, rest * conc, _pace(o) * conc, 3600))
    return tuple(flows)


def _future_basal(d: Device, start: int) -> tuple[Flow, ...]:
    """Basal due from ``start`` on, at the program's highest step, for a day: a bolus must leave
    room for it (basal is never reduced to make room for a bolus, REQ-GOV-008)."""
    if d.program is None:
        return ()
    top = max(s.dose_ng_per_day for s in d.program.basal.steps)
    if top == 0:
        return ()
    day_fg = top * FG_PER_NG
    return (Flow(start, day_fg, day_fg, DAY_S),)


def _order_flow(now: int, volume_nl: int, conc: int, seg: int) -> Callable[[int], Flow]:
    """The flow of an order of ``volume_nl`` over ``seg`` seconds at up to ``conc``, for any
    amount up to its own.

    The whole amount flows at the whole order's pace. A smaller amount is what a cut order
    delivers: the basal plan cuts to one concentration ``c <= conc`` over the same ``seg``, a
    volume ``V`` with ``V * c`` at most the amount, whose drug moves at most at
    ``ceil(V * 3600 / seg) * c < amount * 3600 / seg + c`` fg/h; so the smaller amount flows at
    ``ceil(amount * 3600 / seg) + conc`` fg/h, or the whole order's pace if that is less. Keeping
    the whole order's pace for every smaller amount cut programs at the hard maximum far below
    the rounding unit that did not fit (docs/dosing-rules.md#r-tip-4)."""
    whole_fg = volume_nl * conc
    pace_fg = pace_nl_per_h(volume_nl, seg) * conc

    def flow(fg: int) -> Flow:
        if fg >= whole_fg:
            return Flow(now, fg, pace_fg, 3600)
        return Flow(now, fg, min(pace_fg, ceil_div(fg * 3600, seg) + conc), 3600)

    return flow


def cap_room_ng(
    d: Device,
    now: int,
    lib: Library,
    drug: str,
    requested_fg: int,
    flow_for: Callable[[int], Flow],
    flows: tuple[Flow, ...] = (),
) -> int:
    """The most of a delivery of ``drug`` that keeps every 24 h window of drug leaving the tip
    within the hard maximum (REQ-GOV-002): the ledger's exact peak with the drug in flight, the
    ``flows`` scheduled later and the delivery itself, whose flow for an amount is
    ``flow_for(amount_fg)``. The request in whole ng (rounded up) when the whole exact request
    fits, else the largest amount that does, rounded down to whole ng."""
    limit = hard_max_ng(d, lib, drug) * FG_PER_NG
    pieces = ledger_of(d, drug).live(now)
    base = (*in_flight_flows(d, drug), *flows)

    def fits(fg: int) -> bool:
        new = (flow_for(fg),) if fg else ()
        return peak_fg(pieces, (*base, *new), now, limit) <= limit

    if fits(requested_fg):
        return ng_up(requested_fg)
    if not fits(0):
        return 0
    lo, hi = 0, requested_fg
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return ng_down(lo)


def ledger_of(d: Device, drug: str) -> Ledger:
    """The rolling 24 h ledger of ``drug`` leaving the tip."""
    if drug == d.drug:
        return d.ledger
    for entry in d.other_ledgers:
        if entry.drug == drug:
            return entry.ledger
    return Ledger()


def _with_ledger(d: Device, drug: str, ledger: Ledger) -> Device:
    if drug == d.drug:
        return dataclasses.replace(d, ledger=ledger)
    others = tuple(e for e in d.other_ledgers if e.drug != drug)
    return dataclasses.replace(d, other_ledgers=(*others, DrugLedger(drug, ledger)))


def plan_volume(
    d: Device, skip_nl: int, drug: str, target_fg: int, one_concentration: bool = False
) -> tuple[int, int, bool]:
    """The largest whole volume, pushed after ``skip_nl``, whose outflow is only ``drug`` and
    holds at most ``target_fg``: ``(volume_nl, amount_fg, run_ended)``; ``run_ended`` is True
    when another drug (or, with ``one_concentration``, another concentration) reaches the tip
    before the target is met (REQ-TIP-002). Basal orders keep one concentration, so that the
    rate changes exactly when the new fluid reaches the tip."""
    volume = fg = 0
    first: int | None = None
    path = _path(d)
    rest = path.volume_nl - skip_nl
    pieces = path.outflow(skip_nl, rest, NO_DRUG, 0) if rest > 0 else ()
    res_drug, res_conc = _fluid(d)
    for p in (*pieces, Segment(0, res_drug, res_conc)):
        if p.drug != drug or p.concentration_ng_per_ml <= 0:
            return volume, fg, True
        if first is None:
            first = p.concentration_ng_per_ml
        elif one_concentration and p.concentration_ng_per_ml != first:
            return volume, fg, True
        room = target_fg - fg
        if p.volume_nl == 0 or p.amount_fg > room:
            n = room // p.concentration_ng_per_ml
            return volume + n, fg + n * p.concentration_ng_per_ml, False
        volume, fg = volume + p.volume_nl, fg + p.amount_fg
    return volume, fg, True  # pragma: no cover - the reservoir piece always returns


def hard_max_ng(d: Device, lib: Library, drug: str | None = None) -> int:
    """The hard daily maximum of ``drug`` (default: the drug in the pump, or on trial)."""
    drug = drug if drug is not None else d.drug
    if drug is None or d.indication is None:
        return 0
    return lib.drug(drug, d.indication).max_daily.value


def _pump(d: Device, lib: Library) -> PumpModel | None:
    return lib.pump(d.implant.pump) if d.implant is not None else None


def _find(d: Device, order_id: int) -> Order | None:
    for o in d.orders:
        if o.id == order_id:
            return o
    return None


def _tip_drug(d: Device) -> str:
    """The drug the next volume pushes out of the tip (after the volume in flight)."""
    first = ahead(d, in_flight_nl(d), 1)
    return first[0].drug if first else NO_DRUG


def _homogeneous(d: Device) -> bool:
    """The path holds only the reservoir's fluid (no concentration or drug change under way)."""
    drug, conc = _fluid(d)
    return all((s.drug, s.concentration_ng_per_ml) == (drug, conc) for s in _path(d).segments)


def _basal_rate(d: Device, now: int, drug: str) -> tuple[int, int]:
    """(tip dose rate of ``drug`` in ng/day, seconds to the next rate change) at ``now``: the
    program's rate for its own drug, the old program's daily dose for a drug still in the path
    after a drug change (0 when unknown)."""
    assert d.program is not None
    if drug != d.program.drug:
        for f in d.flush_doses:
            if f.drug == drug:
                return f.dose_ng_per_day, SEGMENT_S
        return 0, SEGMENT_S
    basal = d.program.basal
    if basal.clock is FlexClock.WALL:
        second = local_seconds(basal, now + d.utc_minus_mono_s) % DAY_S
    else:
        second = (now - d.program_start_s) % DAY_S
    return rate_at(basal, seconds_into_day=second)


@dataclass(frozen=True)
class TickPlan:
    """What a tick at ``now`` does: alarms to raise, and the basal order (if any)."""

    alarms: tuple[AlarmKind, ...]
    order: Order | None
    carry: int
    basal_until_s: int
    withheld_reasons: tuple[Reason, ...] = ()
    requested_nl: int = 0


def segment_s(d: Device, now: int, lib: Library, left: int, max_segment_s: int) -> int:
    """Length of the basal order a tick at ``now`` issues: at most ``left`` (the time to the next
    rate change) and one hour (:data:`SEGMENT_S`), unless the controller asks for longer
    (``max_segment_s``) AND the longer order changes nothing a patient can notice
    (REQ-DOSE-009; the argument for each condition is below, and a differential property test
    compares it with hourly orders; it is not proved in Z3):

    - the fluid path holds only the reservoir's fluid (after a concentration or drug change the
      rate follows the path's contents, hour by hour) and the end of service is not inside it;
    - at its pace, together with the basal scheduled after it and every patient bolus the
      program allows in 24 h (counted as if all were taken now), it keeps every window within
      the hard maximum (the ledger's exact peak): so no basal is withheld and no bolus is denied
      for the daily cap during it. A bolus check counts the rest of a long order at its pace and
      the basal after it, as it counts the hour in flight and the basal after it with hourly
      orders: the same drug at the same pace, so the same decisions;
    - the reservoir minus the drug in flight, the order and the 24 h bolus allowance stays above
      the low-reservoir threshold: so the reservoir alarms come exactly when they would with
      hourly orders.

    Otherwise the order lasts one hour at most. (Clinician boluses are not part of the allowance:
    like any delivery they take room under the cap.)
    """
    seg = min(SEGMENT_S, left)
    longest = min(max_segment_s, left)
    if d.eos_at_s is not None:
        longest = min(longest, d.eos_at_s - now)
    if longest <= seg or not _homogeneous(d):
        return seg
    assert d.program is not None and d.reservoir is not None
    pump = _pump(d, lib)
    assert pump is not None
    drug, conc = _fluid(d)
    rate = max(s.dose_ng_per_day for s in d.program.basal.steps)
    volume_nl = ceil_div(rate * FG_PER_NG * longest + d.basal_carry, conc * DAY_S)
    pb = d.program.patient_bolus
    allowance_ng = pb.dose_ng * pb.max_per_24h if pb is not None else 0
    reservoir_left = (
        d.reservoir.volume_nl - in_flight_nl(d) - volume_nl - volume_nl_for(allowance_ng, conc)
    )
    if reservoir_left <= pump.low_reservoir_threshold.value:
        return seg
    order_fg = volume_nl * conc
    day_fg = rate * FG_PER_NG
    later: tuple[Flow, ...] = (Flow(now + longest, day_fg, day_fg, DAY_S),)
    if allowance_ng:
        allowance_fg = allowance_ng * FG_PER_NG
        later = (*later, Flow(now, allowance_fg, allowance_fg, 1))
    limit = hard_max_ng(d, lib, drug) * FG_PER_NG
    order = _order_flow(now, volume_nl, conc, longest)(order_fg)
    flows = (*in_flight_flows(d, drug), *later, order)
    fits = peak_fg(ledger_of(d, drug).live(now), flows, now, limit) <= limit
    return longest if fits else seg


def _basal_plan(d: Device, now: int, lib: Library, max_segment_s: int) -> TickPlan | None:
    if (
        d.phase is not Phase.ACTIVE
        or d.program is None
        or d.reservoir is None
        or now < d.basal_until_s
        or d.orders
    ):
        return None
    pump = _pump(d, lib)
    assert pump is not None
    drug = _tip_drug(d)
    if drug == NO_DRUG:
        return None
    rate, left = _basal_rate(d, now, drug)
    seg = segment_s(d, now, lib, left, max_segment_s)
    flight = in_flight_nl(d)
    numerator = rate * FG_PER_NG * seg + d.basal_carry
    target_fg = numerator // DAY_S
    nl, fg, ended = plan_volume(d, flight, drug, target_fg, one_concentration=True)
    if ended and rate > 0 and fg * DAY_S < rate * FG_PER_NG * MIN_RUN_S:
        # less than a minute of the old concentration is left before the next one (a drive that
        # moves a little less than ordered leaves such remnants): one order across the boundary,
        # still exact at the tip, rather than ever shorter orders chasing it
        nl, fg, ended = plan_volume(d, flight, drug, target_fg)
    if ended and rate > 0:
        # another fluid reaches the tip inside this segment: the segment ends when the run of
        # this one is delivered at its rate (a shorter segment, never a faster one)
        seg = max(1, min(seg, ceil_div(fg * DAY_S, rate * FG_PER_NG)))
        carry = 0
    else:
        carry = numerator - fg * DAY_S
    requested_ng = ng_up(fg)
    conc = _cmax(ahead(d, flight, max(1, nl)), drug)
    decision = decide_basal(
        Request(
            requested_ng=requested_ng,
            cap_room_ng=cap_room_ng(d, now, lib, drug, fg, _order_flow(now, nl, conc, seg)),
            reservoir_room_ng=reservoir_room_ng(d, drug, pump.empty_threshold.value),
            delivering=True,
        )
    )
    order_nl = nl
    reasons = decision.reasons
    if decision.granted_ng < requested_ng:
        order_nl, order_fg, _ = plan_volume(d, flight, drug, decision.granted_ng * FG_PER_NG, True)
        if nl - order_nl <= 1 and decision.reasons == (Reason.DAILY_CAP,):
            # the whole nanolitre the exact bound cannot take is a rounding unit: it carries to
            # the next segment, nothing is withheld (an accepted program is delivered in full)
            carry = numerator - order_fg * DAY_S
            decision = dataclasses.replace(decision, reasons=())
            reasons = ()
        else:
            carry = 0
    order = None
    if order_nl > 0:
        order = Order(d.next_order_id, DeliveryKind.BASAL, now, now + seg, order_nl)
    alarms: list[AlarmKind] = []
    if Reason.RESERVOIR in decision.reasons:
        alarms.append(AlarmKind.EMPTY_RESERVOIR)
    if Reason.DAILY_CAP in decision.reasons:
        alarms.append(AlarmKind.DELIVERY_LIMITED)
    return TickPlan(tuple(alarms), order, carry, now + seg, reasons, nl)


def plan_tick(d: Device, now: int, lib: Library, max_segment_s: int = SEGMENT_S) -> TickPlan:
    """Everything a tick decides, computed from the state (pure; computed once per tick, by its
    handler: no guard plans a delivery)."""
    return _plan_tick(d, now, lib, max_segment_s)


def _plan_tick(d: Device, now: int, lib: Library, max_segment_s: int) -> TickPlan:
    kinds: list[AlarmKind] = []
    pump = _pump(d, lib)
    # Reservoir alarms concern delivery: during a refill or an emptied, suspended pump (MRI
    # preparation) the reservoir is empty on purpose and nothing is delivered.
    if pump is not None and d.reservoir is not None and d.phase in (Phase.ACTIVE, Phase.PRIMING):
        remaining = d.reservoir.volume_nl - in_flight_nl(d)
        if remaining <= pump.empty_threshold.value:
            kinds.append(AlarmKind.EMPTY_RESERVOIR)
        elif remaining <= pump.low_reservoir_threshold.value:
            kinds.append(AlarmKind.LOW_RESERVOIR)
    if d.eos_at_s is not None and now >= d.eos_at_s:
        kinds.append(AlarmKind.END_OF_SERVICE)
    if any(now > o.end_s + ORDER_GRACE_S for o in d.orders):
        kinds.append(AlarmKind.DRIVE_FAULT)
    basal = None
    if not any(priority_of(k) is Priority.HIGH for k in kinds):
        basal = _basal_plan(d, now, lib, max_segment_s)
        if basal is not None:
            kinds.extend(basal.alarms)
    new = tuple(dict.fromkeys(k for k in kinds if not d.has_alarm(k)))
    if any(priority_of(k) is Priority.HIGH for k in new) or basal is None:
        return TickPlan(new, None, d.basal_carry, d.basal_until_s)
    return dataclasses.replace(basal, alarms=new)


def with_alarms(
    alarms: tuple[ActiveAlarm, ...], kinds: tuple[AlarmKind, ...], now: int
) -> tuple[ActiveAlarm, ...]:
    """``alarms`` with the conditions ``kinds`` added in order of occurrence (once each)."""
    for kind in kinds:
        if not any(a.kind is kind for a in alarms):
            alarms = (*alarms, ActiveAlarm(kind, now))
    return alarms


def raise_alarms(d: Device, kinds: tuple[AlarmKind, ...], now: int) -> Device:
    """``d`` with the alarm conditions ``kinds`` added in order of occurrence (once each)."""
    return dataclasses.replace(d, alarms=with_alarms(d.alarms, kinds, now))


def apply_tick(
    d: Device, now: int, lib: Library, max_segment_s: int = SEGMENT_S
) -> tuple[Device, tuple[Effect, ...]]:
    """The state and effects of a tick (see :func:`plan_tick`)."""
    return apply_plan(d, now, plan_tick(d, now, lib, max_segment_s))


def apply_plan(d: Device, now: int, plan: TickPlan) -> tuple[Device, tuple[Effect, ...]]:
    """The state and effects of a tick whose plan is ``plan``."""
    effects: list[Effect] = [Annunciate(k, priority_of(k)) for k in plan.alarms]
    orders, next_id = d.orders, d.next_order_id
    if plan.withheld_reasons:
        effects.append(
            Record(
                "basal_withheld",
                "service",
                now,
                d.phase,
                d.phase,
                f"requested {plan.requested_nl} nL; reasons: "
                + ", ".join(r.value for r in plan.withheld_reasons),
            )
        )
    if plan.order is not None:
        o = plan.order
        orders, next_id = (*orders, o), next_id + 1
        effects.append(DeliveryOrder(o.id, o.kind.value, o.volume_nl, o.end_s - o.start_s))
    d = evolve(
        d,
        alarms=with_alarms(d.alarms, plan.alarms, now),
        basal_carry=plan.carry,
        basal_until_s=plan.basal_until_s,
        orders=orders,
        next_order_id=next_id,
    )
    return d, tuple(effects)


def over_delivered(d: Device, order_id: int, delivered_nl: int, now: int) -> bool:
    """True when a report says the drive delivered more than the order's volume, or moved it
    faster than the order's pace (the trust the limits rest on, REQ-TIP-004): a HIGH deviation
    that stops delivery in the same step (REQ-ALM-001)."""
    order = _find(d, order_id)
    if order is None:
        return False
    return delivered_nl > order.volume_nl or ahead_of_pace(
        delivered_nl,
        order.volume_nl,
        order.start_s,
        order.end_s,
        now,
        order.reported_nl,
        order.reported_s,
    )


def _pushed(d: Device, order: Order, delta_nl: int, now: int) -> dict[str, Any]:
    """The fields of ``d`` that change when the drive moved ``delta_nl``: the reservoir gives
    it, the path takes it in and pushes the same volume out of the tip, and each drug that left
    is recorded, exactly, in its own ledger (REQ-TIP-001, REQ-GOV-004)."""
    drug, conc = _fluid(d)
    path, out = _path(d).push(delta_nl, drug, conc)
    fields: dict[str, Any] = {"path": path if d.path is not None else None}
    if d.reservoir is not None:
        volume = max(0, d.reservoir.volume_nl - delta_nl)
        fields["reservoir"] = dataclasses.replace(d.reservoir, volume_nl=volume)
    delivered = d.delivered_ng
    ledger, others = d.ledger, d.other_ledgers
    for left in drugs_in(out):
        fg = amount_fg(out, left)
        pace_fg = _pace(order) * _cmax(out, left)
        recorded = ledger_of(d, left).record(now, order.id, order.start_s, fg, pace_fg, 3600)
        if left == d.drug:
            ledger = recorded
        else:
            others = (*(e for e in others if e.drug != left), DrugLedger(left, recorded))
        delivered += ng_up(fg)
    fields.update(ledger=ledger, other_ledgers=others, delivered_ng=delivered)
    if d.flush_doses:
        held = set(drugs_in(path.segments))
        fields["flush_doses"] = tuple(f for f in d.flush_doses if f.drug in held)
    return fields


def apply_report(
    d: Device, order_id: int, delivered_nl: int, final: bool, now: int
) -> tuple[Device, tuple[Effect, ...]]:
    """Count what the drive reports delivered for an order (cumulative ``delivered_nl``).

    An unknown or already finished order id changes nothing and is logged (REQ-PERS-002: an id
    is recorded once). Delivery above the order's volume is counted in full and raises the HIGH
    delivery-deviation alarm. The new state is built once, from the fields computed below.
    """
    order = _find(d, order_id)
    if order is None:
        return d, (
            Record(
                "report_ignored",
                "service",
                now,
                d.phase,
                d.phase,
                f"order {order_id}: unknown or already finished (duplicate report)",
            ),
        )
    effects: list[Effect] = []
    delta = max(0, delivered_nl - order.reported_nl)
    if delivered_nl < order.reported_nl:
        effects.append(
            Record(
                "report_inconsistent",
                "service",
                now,
                d.phase,
                d.phase,
                f"order {order_id}: cumulative volume went down "
                f"({order.reported_nl} -> {delivered_nl} nL); ignored",
            )
        )
    primed_nl, primed, alarms = d.primed_nl, d.primed, d.alarms
    pushed: dict[str, Any] = _pushed(d, order, delta, now) if delta else {}
    if delta and order.kind is DeliveryKind.PRIMING:
        primed_nl += delta
        dead = d.implant.dead_volume_nl if d.implant is not None else None
        primed = dead is not None and primed_nl >= dead
    if over_delivered(d, order_id, delivered_nl, now):
        # more than ordered, or faster than the order's pace: the drive broke the trust the
        # limits rest on (REQ-TIP-004); counted in full, and delivery stops
        alarms = with_alarms(alarms, (AlarmKind.DELIVERY_DEVIATION,), now)
        effects.append(Annunciate(AlarmKind.DELIVERY_DEVIATION, Priority.HIGH))
    reported = max(order.reported_nl, delivered_nl)
    if final:
        orders = tuple(o for o in d.orders if o.id != order_id)
    else:
        orders = tuple(
            dataclasses.replace(o, reported_nl=reported, reported_s=now) if o.id == order_id else o
            for o in d.orders
        )
    d = dataclasses.replace(
        d, primed_nl=primed_nl, primed=primed, alarms=alarms, orders=orders, **pushed
    )
    return d, tuple(effects)


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


def _bolus_plan(
    d: Device,
    now: int,
    lib: Library,
    dose_ng: int,
    duration_s: int,
    patient: PatientBolus | None,
) -> BolusPlan:
    """Plan a bolus of ``dose_ng`` at the tip over ``duration_s``.

    The pump delivers basal and bolus together: a bolus order carries the basal due during it (at
    the program's rate, from now or from the end of the basal already ordered) and replaces the
    basal order in flight, which is cancelled. So no two orders ever run at once, and every order
    keeps its pace (the ledger's trust). The volume is the largest whole volume whose drug at the
    tip is at most the dose (and the basal target): exact while the path holds one fluid; while it
    holds two concentrations of the drug, sized at the richer one (the dose is never exceeded,
    whatever part of the basal order in flight was delivered). The whole order must fit under the
    cap with the basal scheduled for the next day (basal is never reduced to make room for a
    bolus). While another bolus or priming is in flight, or another drug would reach the tip, no
    bolus is delivered."""
    assert d.program is not None and d.implant is not None and d.reservoir is not None
    drug = d.program.drug
    pump = lib.pump(d.implant.pump)
    dur = max(1, duration_s)
    basal = next((o for o in d.orders if o.kind is DeliveryKind.BASAL), None)
    busy = any(o is not basal for o in d.orders)
    start = now if basal is not None else max(now, d.basal_until_s)
    rate = _basal_rate(d, now, drug)[0] if _tip_drug(d) == drug else 0
    carried = 0 if basal is not None else d.basal_carry
    numerator = rate * FG_PER_NG * max(0, now + dur - start) + carried
    basal_fg = numerator // DAY_S
    unreported = 0
    flows: list[Flow] = []
    others = in_flight_nl(d)
    if basal is not None:
        others -= basal.volume_nl - basal.reported_nl
        since = max(basal.start_s, basal.reported_s)
        unreported = min(
            basal.volume_nl - basal.reported_nl, ceil_div(_pace(basal) * max(0, now - since), 3600)
        )
    # the concentrations this order can push out of the tip: from the path behind the volume
    # still to come, as far as the largest volume it could need (sized at the leanest one)
    rest = _path(d).volume_nl - others
    leanest = min(
        (p.concentration_ng_per_ml for p in ahead(d, others, max(0, rest) + 1) if p.drug == drug),
        default=0,
    )
    span = unreported + (dose_ng * FG_PER_NG + basal_fg) // max(1, leanest) + 1
    reach = ahead(d, others, span)
    concs = {p.concentration_ng_per_ml for p in reach if p.drug == drug}
    other_drug = leanest == 0 or any(p.drug != drug for p in reach[:1])
    cmax = max(concs, default=1)
    bolus_nl = dose_ng * FG_PER_NG // cmax
    basal_nl = basal_fg // cmax
    volume = bolus_nl + basal_nl
    if any(p.drug != drug for p in ahead(d, others, unreported + volume)):
        other_drug = True
    pieces = ledger_of(d, drug).live(now)
    if basal is not None and unreported:
        # what the cancelled basal order may have moved since its last report: it stops now
        part = Piece(basal.id, since, now, unreported * cmax, _pace(basal) * cmax, 3600)
        pieces = (*pieces, part)
    # the basal due from ``start`` on (inside this order first, then the next basal orders) is a
    # day at the top step; the bolus itself at its own pace
    flows.extend(_future_basal(d, start))
    limit = hard_max_ng(d, lib, drug) * FG_PER_NG
    new = Flow(now, bolus_nl * cmax, pace_nl_per_h(bolus_nl, dur) * cmax, 3600)
    fits = peak_fg(pieces, (*flows, new), now, limit) <= limit
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
    until = now + dur if basal is not None else max(d.basal_until_s, now + dur)
    carry = numerator - basal_nl * cmax * DAY_S if now + dur > start else d.basal_carry
    return BolusPlan(decision, volume, basal_nl, basal, until, carry)


def _grant_bolus(
    d: Device, plan: BolusPlan, kind: DeliveryKind, now: int, duration_s: int
) -> tuple[Device, list[Effect]]:
    """The state and effects of a granted bolus plan: the basal order it replaces is cancelled
    first, then the bolus order (with the basal due meanwhile) is given to the drive."""
    effects: list[Effect] = []
    if plan.cancel is not None:
        effects.append(CancelOrder(plan.cancel.id, "bolus: the basal goes on inside it"))
    order = Order(d.next_order_id, kind, now, now + max(1, duration_s), plan.volume_nl)
    effects.append(
        DeliveryOrder(order.id, kind.value, plan.volume_nl, duration_s, basal_nl=plan.basal_nl)
    )
    d = dataclasses.replace(
        d,
        orders=(*d.orders, order),
        next_order_id=d.next_order_id + 1,
        basal_until_s=plan.basal_until_s,
        basal_carry=plan.basal_carry,
    )
    return d, effects


def request_bolus(d: Device, now: int, lib: Library) -> tuple[Device, tuple[Effect, ...]]:
    """A patient's bolus request: all or nothing through the governor (REQ-GOV-008, -009).

    A denial delivers nothing, does not restart the lockout and is recorded with its reasons; a
    denial at the daily cap raises the LOW "maximum dose reached" alarm (docs/dosing-rules.md).
    """
    pb = d.program.patient_bolus if d.program is not None else None
    if pb is None or d.reservoir is None or d.implant is None:
        return d, (BolusDecision(False, 0, ("not_programmed",)),)
    plan = _bolus_plan(
        d,
        now,
        lib,
        pb.dose_ng,
        pb.duration_s,
        PatientBolus(d.boluses, pb.lockout_s, pb.max_per_24h),
    )
    decision = plan.decision
    reasons = tuple(r.value for r in decision.reasons)
    if decision.granted_ng == 0:
        effects: list[Effect] = [
            BolusDecision(False, pb.dose_ng, reasons, decision.lockout_remaining_s)
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


def clinician_decision(
    d: Device, now: int, lib: Library, dose_ng: int, duration_s: int
) -> Decision:
    """The governor's decision on a clinician bolus of ``dose_ng`` at the tip."""
    return _bolus_plan(d, now, lib, dose_ng, duration_s, None).decision


def projection(d: Device, now: int, lib: Library) -> Projection:
    """Worst-case instants of the low-reservoir alarm and of empty: basal plus every allowed
    patient bolus (docs/dosing-rules.md; Prometra PTC "Date of Next Refill")."""
    pump = _pump(d, lib)
    if pump is None or d.reservoir is None or d.program is None:
        return Projection(None, None)
    conc = d.reservoir.concentration_ng_per_ml
    pb = d.program.patient_bolus
    daily = basal_daily_ng(d.program.basal) + (pb.dose_ng * pb.max_per_24h if pb else 0)
    per_day_nl = volume_nl_for(daily, conc)
    if per_day_nl == 0:
        return Projection(None, None)
    volume = d.reservoir.volume_nl - in_flight_nl(d)

    def at(threshold: int) -> int:
        return now + max(0, volume - threshold) * DAY_S // per_day_nl

    return Projection(at(pump.low_reservoir_threshold.value), at(pump.empty_threshold.value))


def mri_resumes(d: Device) -> bool:
    """After the scan a SynchroMed II resumes by itself, unless it was not dosing before the scan
    or an alarm was active when the scan began (docs/dosing-rules.md#mri)."""
    s = d.mri
    return (
        s is not None
        and s.policy == MriPolicy.SUSPEND_VERIFY.value
        and s.resume_to_active
        and not s.alarm_active_at_start
        and not d.high_alarms()
    )


def priming_order(
    d: Device, now: int, duration_s: int, lib: Library
) -> tuple[Device, tuple[Effect, ...]]:
    """The priming bolus: the rest of the dead volume, pushed into the path. It pushes out of the
    tip whatever the path holds (no drug after implant, so nothing is counted); any drug it does
    push out passes the governor's daily cap like every delivery. The reservoir must hold the
    volume above the empty threshold (the priming guard checks it)."""
    assert d.implant is not None and d.implant.dead_volume_nl is not None
    assert d.reservoir is not None
    pump = lib.pump(d.implant.pump)
    flight = in_flight_nl(d)
    usable = max(0, d.reservoir.volume_nl - flight - pump.empty_threshold.value)
    volume = min(d.implant.dead_volume_nl - d.primed_nl, usable)
    out = ahead(d, flight, volume)
    pace = pace_nl_per_h(volume, duration_s)
    for drug in drugs_in(out):
        fg = amount_fg(out, drug)
        cmax = _cmax(out, drug)

        def flow(amount: int, cmax: int = cmax) -> Flow:
            return Flow(now, amount, pace * cmax, 3600)

        # the reservoir holds the whole priming volume (the priming guard checked it)
        decision = decide_basal(
            Request(
                requested_ng=ng_up(fg),
                cap_room_ng=cap_room_ng(d, now, lib, drug, fg, flow),
                reservoir_room_ng=None,
                delivering=True,
            )
        )
        if decision.granted_ng < ng_up(fg):
            volume = 0
    if volume <= 0:
        return d, ()
    order = Order(d.next_order_id, DeliveryKind.PRIMING, now, now + duration_s, volume)
    d = dataclasses.replace(d, orders=(*d.orders, order), next_order_id=d.next_order_id + 1)
    return d, (DeliveryOrder(order.id, order.kind.value, volume, duration_s),)


def tip_arrival(d: Device, now: int) -> tuple[int | None, int, int]:
    """When the reservoir's fluid will reach the tip, and the volume rates before and after
    (nL/day), at the program's current daily dose: shown at a refill (REQ-TIP-003). ``None``
    when it never will at the current program (a zero rate)."""
    if d.program is None or d.reservoir is None:
        return None, 0, 0
    drug, conc = _fluid(d)
    daily = basal_daily_ng(d.program.basal)
    after = volume_nl_for(daily, conc) if daily else 0
    seconds = 0
    before = after
    for i, seg in enumerate(_path(d).segments):
        if (seg.drug, seg.concentration_ng_per_ml) == (drug, conc):
            break
        dose = daily
        if seg.drug != d.program.drug:
            dose = next((f.dose_ng_per_day for f in d.flush_doses if f.drug == seg.drug), 0)
        if dose == 0 or seg.concentration_ng_per_ml == 0:
            # nothing pushes this fluid out at the current program: the rate before is zero when
            # it is the fluid at the tip
            return None, 0 if i == 0 else before, after
        if i == 0:
            before = volume_nl_for(dose, seg.concentration_ng_per_ml)
        seconds += ceil_div(seg.amount_fg * DAY_S, dose * FG_PER_NG)
    return now + seconds, before, after
