"""The delivery engine: basal and bridge segments, priming, boluses, drive reports, the clock.

Every amount that can leave the reservoir is decided by :mod:`itdose.core.governor` here
(REQ-GOV-001..003): this module only plans requests and applies the governor's decisions. It is
pure and integer-only. Orders are prospective: a tick at ``now`` orders the basal volume for the
next segment ``[now, now + seg)``, so a controller that sleeps simply misses that basal and it is
never caught up as a burst (REQ-DOSE-006). The ledger counts what the drive reports delivered;
granted-but-unreported drug is in flight and counted by the governor (REQ-GOV-002, REQ-GOV-004).

Basal volume is exact: the numerator ``dose * 10**6 * seconds`` accumulates over segments and
only whole nanolitres are ordered; the remainder carries to the next segment (REQ-UNIT-004). The
dose counted for a volume rounds up; a withheld amount is not carried (it was withheld for
safety, and catching it up later would be a burst).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.effects import (
    Annunciate,
    BolusDecision,
    DeliveryOrder,
    Effect,
    Projection,
    Record,
)
from itdose.core.governor import PatientBolus, decide_basal, decide_bolus
from itdose.core.ledger import BUCKET_S, RING_LEN, WINDOW_S
from itdose.core.library import Library, PumpModel
from itdose.core.program import (
    DAY_S,
    NL_PER_ML,
    FlexClock,
    basal_daily_ng,
    local_seconds,
    rate_at,
)
from itdose.core.state import ActiveAlarm, DeliveryKind, Device, Order, Phase

__all__ = [
    "ORDER_GRACE_S",
    "SEGMENT_S",
    "TickPlan",
    "apply_report",
    "basal_reserve_ng",
    "dose_of",
    "hard_max_ng",
    "in_flight",
    "mri_resumes",
    "over_delivered",
    "plan_tick",
    "projection",
    "request_bolus",
    "segment_s",
    "tick_alarms",
]

SEGMENT_S = 3600
"""Longest basal order: one hour. Shorter segments end at flex step boundaries."""
ORDER_GRACE_S = 600
"""An order not reported finished this long after its end is overdue: the drive cannot be
confirmed, so a HIGH drive-fault alarm stops delivery (DESIGN.md: UNKNOWN = possibly
delivering)."""
_NO_CAP = 10**18
"""Cap passed for the priming bolus, which fills the catheter and is not dose to the patient."""


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def dose_of(volume_nl: int, concentration_ng_per_ml: int) -> int:
    """Drug in ``volume_nl`` at a concentration, rounded up (counted against limits)."""
    return _ceil_div(volume_nl * concentration_ng_per_ml, NL_PER_ML)


def in_flight(d: Device) -> tuple[int, int]:
    """Drug to the patient (ng) and volume (nL) granted but not yet reported delivered."""
    ng = sum(
        dose_of(o.volume_nl - o.reported_nl, o.dose_concentration_ng_per_ml)
        for o in d.orders
        if o.to_patient and o.volume_nl > o.reported_nl
    )
    nl = sum(max(0, o.volume_nl - o.reported_nl) for o in d.orders)
    return ng, nl


def hard_max_ng(d: Device, lib: Library) -> int:
    """The hard daily maximum of the drug in the pump (or on trial)."""
    if d.drug is None or d.indication is None:
        return 0
    return lib.drug(d.drug, d.indication).max_daily.value


def _pump(d: Device, lib: Library) -> PumpModel | None:
    return lib.pump(d.implant.pump) if d.implant is not None else None


def _find(d: Device, order_id: int) -> Order | None:
    for o in d.orders:
        if o.id == order_id:
            return o
    return None


def _basal_rate(d: Device, now: int) -> tuple[int, int, int]:
    """(dose rate ng/day, dose concentration, seconds to the next rate change) at ``now``."""
    if d.bridge is not None:
        return d.bridge.old_dose_ng_per_day, d.bridge.old_concentration_ng_per_ml, SEGMENT_S
    assert d.program is not None and d.reservoir is not None
    basal = d.program.basal
    if basal.clock is FlexClock.WALL:
        second = local_seconds(basal, now + d.utc_minus_mono_s) % DAY_S
    else:
        second = (now - d.program_start_s) % DAY_S
    rate, left = rate_at(basal, seconds_into_day=second)
    return rate, d.reservoir.concentration_ng_per_ml, left


@dataclass(frozen=True)
class TickPlan:
    """What a tick at ``now`` does: alarms to raise, and the basal order (if any)."""

    alarms: tuple[AlarmKind, ...]
    order: Order | None
    carry: int
    basal_until_s: int
    withheld_reasons: tuple[str, ...] = ()
    requested_nl: int = 0


def segment_s(d: Device, now: int, lib: Library, left: int, max_segment_s: int) -> int:
    """Length of the basal order a tick at ``now`` issues: at most ``left`` (the time to the next
    rate change) and one hour (:data:`SEGMENT_S`), unless the controller asks for longer
    (``max_segment_s``) AND the longer order changes nothing a patient can notice
    (REQ-DOSE-009; the argument for each condition is below, and a differential property test
    compares it with hourly orders; it is not proved in Z3):

    - no bridge is running (its pieces keep the hour) and the end of service is not inside it;
    - its whole volume, counted as if delivered at once (no trust in the drive's rate), fits
      under the hard daily maximum together with the rolling window, the drug in flight, the
      largest basal reserve any later bolus check can ask for and every patient bolus the
      program allows in 24 h: so no patient bolus is denied for the daily cap because the order
      is long, and no basal is withheld;
    - after it ends, the ledger may count its whole volume for up to 24 h more (it records at
      report time); that volume, a day, two hours and a bucket of other basal and the allowance
      must still fit under the maximum: so no later bolus check is stricter than with hourly
      orders either;
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
    if longest <= seg or d.bridge is not None:
        return seg
    assert d.program is not None and d.reservoir is not None
    pump = _pump(d, lib)
    assert pump is not None
    conc = d.reservoir.concentration_ng_per_ml
    rate = max(s.dose_ng_per_day for s in d.program.basal.steps)
    volume_nl = _ceil_div(rate * NL_PER_ML * longest + d.basal_carry, conc * DAY_S)
    pb = d.program.patient_bolus
    allowance_ng = pb.dose_ng * pb.max_per_24h if pb is not None else 0
    reserve_ng = _ceil_div(rate * (DAY_S + BUCKET_S), DAY_S)
    flight_ng, flight_nl = in_flight(d)
    cap_used = (
        d.ledger.window_total_ng(now)
        + flight_ng
        + dose_of(volume_nl, conc)
        + reserve_ng
        + allowance_ng
    )
    reservoir_left = (
        d.reservoir.volume_nl - flight_nl - volume_nl - _ceil_div(allowance_ng * NL_PER_ML, conc)
    )
    # After the order ends, its whole volume may stay in the window for up to 24 h (recorded at
    # report time). A later bolus check counts the window plus the reserve (the basal still to
    # come before each recorded amount ages out): at most that volume, a day of other basal, an
    # hour recorded late, an hour in flight (a long order in flight is covered by its own
    # admission) and a bucket, plus the allowance. If that fits, no later bolus check is
    # stricter than with hourly orders.
    aftermath = (
        dose_of(volume_nl, conc)
        + _ceil_div(rate * (DAY_S + 2 * SEGMENT_S + BUCKET_S), DAY_S)
        + allowance_ng
    )
    hard_max = hard_max_ng(d, lib)
    if (
        cap_used <= hard_max
        and aftermath <= hard_max
        and reservoir_left > pump.low_reservoir_threshold.value
    ):
        return longest
    return seg


def _basal_plan(d: Device, now: int, lib: Library, max_segment_s: int) -> TickPlan | None:
    if (
        d.phase is not Phase.ACTIVE
        or d.program is None
        or d.reservoir is None
        or now < d.basal_until_s
        or any(o.kind in (DeliveryKind.BASAL, DeliveryKind.BRIDGE) for o in d.orders)
    ):
        return None
    pump = _pump(d, lib)
    assert pump is not None
    rate, conc, left = _basal_rate(d, now)
    seg = segment_s(d, now, lib, left, max_segment_s)
    numerator = rate * NL_PER_ML * seg + d.basal_carry
    denominator = conc * DAY_S
    nl, carry = divmod(numerator, denominator)
    if d.bridge is not None:
        pending = d.bridge.volume_nl - d.bridge.delivered_nl
        if nl >= pending:
            # the last piece of the bridge keeps the old rate: a shorter segment, not a slower one
            seg = max(1, min(seg, -(-pending * denominator // (rate * NL_PER_ML))))
            nl, carry = pending, 0
    flight_ng, flight_nl = in_flight(d)
    decision = decide_basal(
        now_s=now,
        requested_ng=dose_of(nl, conc),
        ledger=d.ledger,
        in_flight_ng=flight_ng,
        in_flight_nl=flight_nl,
        hard_max_ng=hard_max_ng(d, lib),
        reservoir_nl=d.reservoir.volume_nl,
        empty_threshold_nl=pump.empty_threshold.value,
        concentration_ng_per_ml=conc,
        delivering=True,
    )
    order_nl = min(nl, decision.granted_ng * NL_PER_ML // conc)
    reasons = tuple(r.value for r in decision.reasons)
    if order_nl < nl:
        carry = 0
    order = None
    if order_nl > 0:
        kind = DeliveryKind.BRIDGE if d.bridge is not None else DeliveryKind.BASAL
        order = Order(d.next_order_id, kind, now, now + seg, order_nl, conc)
    alarms: tuple[AlarmKind, ...] = ()
    if "reservoir" in reasons:
        alarms = (AlarmKind.EMPTY_RESERVOIR,)
    return TickPlan(alarms, order, carry, now + seg, reasons, nl)


def tick_alarms(
    d: Device, now: int, lib: Library, max_segment_s: int = SEGMENT_S
) -> tuple[AlarmKind, ...]:
    """New alarm conditions a tick at ``now`` finds (not already active)."""
    return plan_tick(d, now, lib, max_segment_s).alarms


_PLAN_MEMO = "_itdose_tick_plan"
"""Instance-dictionary key of the memo of :func:`plan_tick` (not a dataclass field)."""


def plan_tick(d: Device, now: int, lib: Library, max_segment_s: int = SEGMENT_S) -> TickPlan:
    """Everything a tick decides, computed from the state (pure; used by the guard that picks
    the destination and by the handler that applies it).

    The guard and the handler of one step ask the same question of the same immutable device, so
    the answer is memoised on that device instance (like ``functools.cached_property``: keyed by
    ``now``, ``max_segment_s`` and the library object; invisible to equality, encoding and
    ``dataclasses.replace``, which builds a new instance without it). Same inputs, same plan.
    """
    memo = d.__dict__.get(_PLAN_MEMO)
    if memo is not None and memo[0] == now and memo[1] == max_segment_s and memo[2] is lib:
        plan: TickPlan = memo[3]
        return plan
    plan = _plan_tick(d, now, lib, max_segment_s)
    d.__dict__[_PLAN_MEMO] = (now, max_segment_s, lib, plan)
    return plan


def _plan_tick(d: Device, now: int, lib: Library, max_segment_s: int) -> TickPlan:
    kinds: list[AlarmKind] = []
    pump = _pump(d, lib)
    # Reservoir alarms concern delivery: during a refill or an emptied, suspended pump (MRI
    # preparation) the reservoir is empty on purpose and nothing is delivered.
    if pump is not None and d.reservoir is not None and d.phase in (Phase.ACTIVE, Phase.PRIMING):
        _, flight_nl = in_flight(d)
        remaining = d.reservoir.volume_nl - flight_nl
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
    plan = plan_tick(d, now, lib, max_segment_s)
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
                f"requested {plan.requested_nl} nL; reasons: " + ", ".join(plan.withheld_reasons),
            )
        )
    if plan.order is not None:
        o = plan.order
        orders, next_id = (*orders, o), next_id + 1
        effects.append(DeliveryOrder(o.id, o.kind.value, o.volume_nl, o.end_s - o.start_s))
    d = dataclasses.replace(
        d,
        alarms=with_alarms(d.alarms, plan.alarms, now),
        basal_carry=plan.carry,
        basal_until_s=plan.basal_until_s,
        orders=orders,
        next_order_id=next_id,
    )
    return d, tuple(effects)


def over_delivered(d: Device, order_id: int, delivered_nl: int) -> bool:
    """True when a report says the drive delivered more than the order's volume."""
    order = _find(d, order_id)
    return order is not None and delivered_nl > order.volume_nl


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
    reservoir, ledger, delivered_ng = d.reservoir, d.ledger, d.delivered_ng
    bridge, program_start_s, basal_carry = d.bridge, d.program_start_s, d.basal_carry
    primed_nl, primed, alarms = d.primed_nl, d.primed, d.alarms
    if delta and reservoir is not None:
        reservoir = dataclasses.replace(reservoir, volume_nl=max(0, reservoir.volume_nl - delta))
    if delta and order.to_patient:
        dose = dose_of(delta, order.dose_concentration_ng_per_ml)
        ledger, delivered_ng = ledger.record(now, dose), delivered_ng + dose
    if delta and order.kind is DeliveryKind.BRIDGE and bridge is not None:
        delivered = bridge.delivered_nl + delta
        if delivered >= bridge.volume_nl:
            bridge, program_start_s, basal_carry = None, now, 0
            effects.append(
                Record(
                    "bridge_complete",
                    "service",
                    now,
                    d.phase,
                    d.phase,
                    "dead volume flushed: the new program takes over",
                )
            )
        else:
            bridge = dataclasses.replace(bridge, delivered_nl=delivered)
    if delta and order.kind is DeliveryKind.PRIMING:
        primed_nl += delta
        dead = d.implant.dead_volume_nl if d.implant is not None else None
        primed = dead is not None and primed_nl >= dead
    if delivered_nl > order.volume_nl:
        alarms = with_alarms(alarms, (AlarmKind.DELIVERY_DEVIATION,), now)
        effects.append(Annunciate(AlarmKind.DELIVERY_DEVIATION, Priority.HIGH))
    reported = max(order.reported_nl, delivered_nl)
    if final:
        orders = tuple(o for o in d.orders if o.id != order_id)
    else:
        orders = tuple(
            dataclasses.replace(o, reported_nl=reported) if o.id == order_id else o
            for o in d.orders
        )
    d = dataclasses.replace(
        d,
        reservoir=reservoir,
        ledger=ledger,
        delivered_ng=delivered_ng,
        bridge=bridge,
        program_start_s=program_start_s,
        basal_carry=basal_carry,
        primed_nl=primed_nl,
        primed=primed,
        alarms=alarms,
        orders=orders,
    )
    return d, tuple(effects)


def basal_reserve_ng(d: Device, now: int) -> int:
    """Cap to keep free for scheduled basal, so that a bolus never makes later basal shrink
    (DECISIONS.md: basal is never reduced to make room for a bolus; REQ-GOV-008).

    For every later window end ``t = now + j * 300`` (j = 0..288) the window still holds the
    ledger buckets that have not aged out, plus the basal delivered from now to ``t`` (at the
    schedule's highest rate, rounded up). The reserve is the largest excess of that over the
    current window total; a bolus is granted only if it fits under the cap with it.
    """
    if d.program is None:
        return 0
    if d.bridge is not None:
        top = d.bridge.old_dose_ng_per_day
    else:
        top = max(s.dose_ng_per_day for s in d.program.basal.steps)
    first_now = (now + 1) // BUCKET_S - (WINDOW_S // BUCKET_S)
    # The window ending at t = now + j * 300 starts at bucket first_now + j, so bucket ``index``
    # ages out from j = index - first_now + 1 on. Between two agings the aged amount is constant
    # and the future basal grows with j, so the largest excess is reached at the last j before
    # each aging, or at j = 288: only those j are evaluated (the others cannot be larger).
    amounts = sorted(
        (b.index, b.amount_ng)
        for b in d.ledger.buckets
        if first_now <= b.index <= now // BUCKET_S and b.amount_ng
    )
    reserve = 0
    aged = 0
    for index, amount in amounts:
        j = index - first_now
        reserve = max(reserve, _ceil_div(top * (j * BUCKET_S + BUCKET_S), DAY_S) - aged)
        aged += amount
    last = RING_LEN - 1
    return max(reserve, _ceil_div(top * (last * BUCKET_S + BUCKET_S), DAY_S) - aged)


def request_bolus(d: Device, now: int, lib: Library) -> tuple[Device, tuple[Effect, ...]]:
    """A patient's bolus request: all or nothing through the governor (REQ-GOV-008, -009).

    A denial delivers nothing, does not restart the lockout and is recorded with its reasons; a
    denial at the daily cap raises the LOW "maximum dose reached" alarm (DECISIONS.md).
    """
    pb = d.program.patient_bolus if d.program is not None else None
    if pb is None or d.reservoir is None or d.implant is None:
        return d, (BolusDecision(False, 0, ("not_programmed",)),)
    pump = lib.pump(d.implant.pump)
    conc = d.reservoir.concentration_ng_per_ml
    flight_ng, flight_nl = in_flight(d)
    delivering = d.phase is Phase.ACTIVE and d.bridge is None
    decision = decide_bolus(
        now_s=now,
        requested_ng=pb.dose_ng,
        ledger=d.ledger,
        in_flight_ng=flight_ng,
        in_flight_nl=flight_nl,
        hard_max_ng=hard_max_ng(d, lib),
        reserve_ng=basal_reserve_ng(d, now),
        reservoir_nl=d.reservoir.volume_nl,
        empty_threshold_nl=pump.empty_threshold.value,
        concentration_ng_per_ml=conc,
        delivering=delivering,
        patient=PatientBolus(d.boluses, pb.lockout_s, pb.max_per_24h),
    )
    reasons = tuple(r.value for r in decision.reasons)
    if decision.granted_ng == 0:
        effects: list[Effect] = [
            BolusDecision(False, pb.dose_ng, reasons, decision.lockout_remaining_s)
        ]
        if "daily_cap" in reasons and not d.has_alarm(AlarmKind.MAX_DOSE_REACHED):
            d = raise_alarms(d, (AlarmKind.MAX_DOSE_REACHED,), now)
            effects.append(Annunciate(AlarmKind.MAX_DOSE_REACHED, Priority.LOW))
        return d, tuple(effects)
    volume = decision.granted_ng * NL_PER_ML // conc
    order = Order(
        d.next_order_id, DeliveryKind.PATIENT_BOLUS, now, now + pb.duration_s, volume, conc
    )
    d = dataclasses.replace(
        d,
        orders=(*d.orders, order),
        next_order_id=d.next_order_id + 1,
        boluses=d.boluses.record_start(now, max_per_24h=pb.max_per_24h),
    )
    return d, (
        BolusDecision(True, pb.dose_ng),
        DeliveryOrder(order.id, order.kind.value, volume, pb.duration_s),
        projection(d, now, lib),
    )


def projection(d: Device, now: int, lib: Library) -> Projection:
    """Worst-case instants of the low-reservoir alarm and of empty: basal plus every allowed
    patient bolus (DECISIONS.md; Prometra PTC "Date of Next Refill")."""
    pump = _pump(d, lib)
    if pump is None or d.reservoir is None or d.program is None:
        return Projection(None, None)
    conc = d.reservoir.concentration_ng_per_ml
    pb = d.program.patient_bolus
    daily = basal_daily_ng(d.program.basal) + (pb.dose_ng * pb.max_per_24h if pb else 0)
    per_day_nl = _ceil_div(daily * NL_PER_ML, conc)
    if per_day_nl == 0:
        return Projection(None, None)
    _, flight_nl = in_flight(d)
    volume = d.reservoir.volume_nl - flight_nl

    def at(threshold: int) -> int:
        return now + max(0, volume - threshold) * DAY_S // per_day_nl

    return Projection(at(pump.low_reservoir_threshold.value), at(pump.empty_threshold.value))


def mri_resumes(d: Device) -> bool:
    """After the scan a SynchroMed II resumes by itself, unless it was not dosing before the scan
    or an alarm was active when the scan began (DECISIONS.md "MRI")."""
    s = d.mri
    return (
        s is not None
        and s.policy == "suspend-verify"
        and s.resume_to_active
        and not s.alarm_active_at_start
        and not d.high_alarms()
    )


def priming_order(
    d: Device, now: int, duration_s: int, lib: Library
) -> tuple[Device, tuple[Effect, ...]]:
    """The priming bolus: the remaining dead volume, to the catheter, through the governor's
    phase and reservoir checks (not the daily cap: it is not dose to the patient)."""
    assert d.implant is not None and d.implant.dead_volume_nl is not None
    assert d.reservoir is not None
    pump = lib.pump(d.implant.pump)
    conc = d.reservoir.concentration_ng_per_ml
    volume = d.implant.dead_volume_nl - d.primed_nl
    flight_ng, flight_nl = in_flight(d)
    decision = decide_basal(
        now_s=now,
        requested_ng=dose_of(volume, conc),
        ledger=d.ledger,
        in_flight_ng=flight_ng,
        in_flight_nl=flight_nl,
        hard_max_ng=_NO_CAP,
        reservoir_nl=d.reservoir.volume_nl,
        empty_threshold_nl=pump.empty_threshold.value,
        concentration_ng_per_ml=conc,
        delivering=True,
    )
    order_nl = min(volume, decision.granted_ng * NL_PER_ML // conc)
    if order_nl <= 0:
        return d, ()
    order = Order(
        d.next_order_id,
        DeliveryKind.PRIMING,
        now,
        now + duration_s,
        order_nl,
        conc,
        to_patient=False,
    )
    d = dataclasses.replace(d, orders=(*d.orders, order), next_order_id=d.next_order_id + 1)
    return d, (DeliveryOrder(order.id, order.kind.value, order_nl, duration_s),)
