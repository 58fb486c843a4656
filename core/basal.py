"""The basal plan and the clock's tick (part of the delivery engine, :mod:`itdose.core.dosing`):
the length of the next basal order, the exact basal target and its carry, the governor's decision
on it, the reservoir, end-of-service and overdue-order alarms a tick finds, and the state and
effects of the tick's plan (REQ-DOSE-006, REQ-DOSE-009, REQ-UNIT-004, REQ-TIP-004). Pure and
integer-only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.arith import ceil_div
from itdose.core.effects import Annunciate, DeliveryOrder, Effect, Record
from itdose.core.fill import fill_tiers, within
from itdose.core.flight import (
    _cmax,
    _fluid,
    _fluid_flows,
    _homogeneous,
    _order_flow,
    _path,
    _pump,
    _tip_drug,
    ahead,
    cap_room_ng,
    hard_max_ng,
    in_flight_flows,
    in_flight_nl,
    limit_fg,
    plan_volume,
    recorded_terms,
    reservoir_room_ng,
    whole_fg,
)
from itdose.core.governor import Reason, Request, decide_basal
from itdose.core.ledger import Flow, pace_nl_per_h, peak_fg
from itdose.core.library import Library
from itdose.core.path import NO_DRUG, amount_fg, ng_up
from itdose.core.program import FlexClock, basal_daily_ng, local_seconds, rate_at
from itdose.core.reach import paced_stretch, shadows_pushed
from itdose.core.state import ActiveAlarm, DeliveryKind, Device, Order, Phase, Shadow, evolve
from itdose.core.units import DAY_S, FG_PER_NG, volume_nl_for

__all__ = [
    "MIN_RUN_NL",
    "ORDER_GRACE_S",
    "SEGMENT_S",
    "TickPlan",
    "apply_plan",
    "apply_tick",
    "plan_tick",
    "raise_alarms",
    "segment_s",
    "with_alarms",
]

SEGMENT_S = 3600
"""Longest basal order: one hour. Shorter segments end at flex step boundaries."""
MIN_RUN_NL = 2
"""A basal order stops at a change of concentration when at least this much of the old one is
left, however short a time it lasts (R-TIP-3: the rate follows the fluid at the tip). A single
nanolitre, what a drive that moves a little less than ordered leaves (and would leave again of a
one-nanolitre order, without end), goes with the fluid behind it when that order, counted fluid
by fluid, fits under the hard maximum: leaving the tip at the other fluid's pace, it is at most
one rounding unit early or late. Before another drug, it goes first in that drug's order
(:func:`_remnant_ahead`)."""
ORDER_GRACE_S = 600
"""An order not reported finished this long after its end is overdue: the drive cannot be
confirmed, so a HIGH drive-fault alarm stops delivery (docs/architecture.md: unknown = possibly
delivering)."""


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


def _day_fg(d: Device, lib: Library, drug: str, rate: int) -> int:
    """The basal rate ``rate`` (ng/day) of ``drug`` as the basal plan delivers it, in fg/day: the
    rate itself, but for a program whose daily basal is within the hard maximum and above what
    the accounting may fill of it (:func:`itdose.core.flight.limit_fg`: a compounded strength at
    which the maximum is not a whole number of nanolitres, docs/dosing-rules.md#r-tip-5), scaled
    to that fill, rounded down (at 12 mg/mL a steady 20 mg/day program runs at 19,999,992 ng a
    day, whole nanolitres a day). The cap cannot take the rest (under one nanolitre a day, less
    than a rounding unit in any window); planned and carried, it grew by that much each day
    until the carry passed one nanolitre more than the cap takes, and the order was cut with the
    delivery-limited alarm (47 ng at 12 mg/mL, 71 ng at 19 mg/mL, two days in; R-TIP-4)."""
    day_fg = rate * FG_PER_NG
    program = d.program
    if program is None or drug != program.drug or not day_fg:
        return day_fg
    total_fg = basal_daily_ng(program.basal) * FG_PER_NG
    limit = limit_fg(d, lib, drug)
    if limit < total_fg <= hard_max_ng(d, lib, drug) * FG_PER_NG:
        return day_fg * limit // total_fg
    return day_fg


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
    limit = limit_fg(d, lib, drug)
    order = Flow(now, order_fg, pace_nl_per_h(volume_nl, longest) * conc, 3600)
    if whole_fg((*later, order)) > limit:
        return seg  # the peak is at least that (a lower bound, without the ledger's peak)
    pieces, lags = recorded_terms(d, drug, now)
    flows = (*in_flight_flows(d, drug), *lags, *later, order)
    fits = peak_fg(pieces, flows, now, limit) <= limit
    return longest if fits else seg


def _fits(d: Device, now: int, lib: Library, drug: str, flight: int, nl: int, seg: int) -> bool:
    """An order of ``nl`` over ``seg`` seconds, pushed after ``flight``, across a change of
    concentration keeps every 24 h window within the hard maximum, counted fluid by fluid (as a
    bolus is, :func:`itdose.core.flight._fluid_flows`: each fluid at its own concentration, not
    the whole order at the richest; REQ-GOV-004)."""
    _, flows = _fluid_flows(d, drug, now, flight, 0, nl, seg, None)
    pieces, lags = recorded_terms(d, drug, now)
    due = (*in_flight_flows(d, drug), *lags, *flows)
    return within(pieces, due, fill_tiers(d, lib, drug, now))


def _run_seg(seg: int, fg: int, carry: int, day_fg: int) -> int:
    """The segment of an order whose run of one fluid (``fg``) ends inside ``seg``: the run at
    its rate (a shorter segment, never a faster one), less the ``carry`` its orders owe already
    (a run of exactly whole seconds of basal ends on time)."""
    return max(1, min(seg, ceil_div(max(0, fg * DAY_S - carry), day_fg)))


def _basal_plan(
    d: Device, now: int, lib: Library, max_segment_s: int, one_second: bool = False
) -> TickPlan | None:
    if (
        d.phase is not Phase.ACTIVE
        or d.program is None
        or d.reservoir is None
        or now < d.basal_until_s
        or any(not o.cut_s for o in d.orders)
        or (d.orders and not _homogeneous(d))
    ):
        # a basal order a bolus cut is stopped (R-TIP-3): the basal after the bolus does not
        # wait for its report where the path holds one fluid (where it moved is then moot)
        return None
    pump = _pump(d, lib)
    assert pump is not None
    drug = _tip_drug(d)
    if drug == NO_DRUG:
        return None
    rate, left = _basal_rate(d, now, drug)
    day_fg = _day_fg(d, lib, drug, rate)
    flight = in_flight_nl(d)
    full_fg, stop = day_fg, None
    if d.shadows:
        # a shadow's drug leaves no faster than its own program's rate (R-TIP-6)
        day_fg, stop = _through_shadows(d, now, flight, day_fg)
    seg = segment_s(d, now, lib, left, max_segment_s)
    recorded = recorded_terms(d, drug, now)
    if one_second or recorded[1]:
        # a richer fluid's last nanolitre left in this second and may have lagged its pace by
        # up to one nanolitre (R-TIP-5): the first second after it is an order of its own, the
        # one the cap search cuts to make room for it (at its pace over an hour, a cut would
        # cost that nanolitre's share of every second of the hour)
        seg = 1
    numerator = day_fg * seg + d.basal_carry
    target_fg = numerator // DAY_S
    nl, fg, ended = plan_volume(d, flight, drug, target_fg, one_concentration=True)
    merged = False
    if ended and rate > 0 and nl < MIN_RUN_NL:
        # one nanolitre of the old concentration is left before the next one: one order across
        # the boundary, still exact at the tip, rather than one-nanolitre orders chasing it
        # (MIN_RUN_NL), when it reaches past the nanolitre (to the segment's end, or to where
        # the next run ends: never on into a third at that pace) and fits under the hard
        # maximum; before another drug at once, the nanolitre goes first in that drug's order
        run_nl, run_fg, run_ended = plan_volume(d, flight + nl, drug, target_fg - fg, True)
        across = (nl + run_nl, fg + run_fg, run_ended)
        # the order ends with that run: its segment too (below)
        span = _run_seg(seg, across[1], d.basal_carry, day_fg) if run_ended else seg
        merged = across[0] > nl and _fits(d, now, lib, drug, flight, across[0], span)
        if merged:
            nl, fg, ended = across
        else:
            remnant = _remnant_ahead(d, now, lib, max_segment_s, drug, nl)
            if remnant is not None:
                return remnant
    if stop is not None and nl > stop - flight:
        # the rate through the shadows changes there: the order ends there (R-TIP-6)
        nl, ended = stop - flight, True
        fg = amount_fg(ahead(d, flight, nl), drug)
    junction = 0
    if ended and rate > 0:
        # another fluid reaches the tip inside this segment: the segment ends when the run of
        # this one is delivered at its rate (a shorter segment, never a faster one), less the
        # carry its orders owe already (a run of exactly whole seconds of basal ends on time)
        seg = _run_seg(seg, fg, d.basal_carry, day_fg)
        carry = 0
        nxt = ahead(d, flight + nl, 1)
        if nxt and nxt[0].drug == drug and nxt[0].concentration_ng_per_ml > 0:
            # the basal of the segment's last, partial second that the run does not hold:
            # carried to the next concentration of the drug when the program leaves room for
            # it under the hard maximum, else withheld with the alarm (below)
            junction = day_fg * seg + d.basal_carry - fg * DAY_S
    else:
        carry = numerator - fg * DAY_S
    requested_ng = ng_up(fg)
    if merged:
        cap_room = requested_ng  # the whole order fits (above)
    else:
        conc = _cmax(ahead(d, flight, max(1, nl)), drug)

        def cut(amount_fg: int) -> tuple[int, int]:
            # the order a cut to ``amount_fg`` plans (below): one concentration, whole nL
            return plan_volume(d, flight, drug, amount_fg, True)[:2]

        flow = _order_flow(now, nl, conc, seg, cut, fg)
        tiers = fill_tiers(d, lib, drug, now)
        cap_room = cap_room_ng(d, now, lib, drug, fg, flow, recorded=recorded, tiers=tiers)
    decision = decide_basal(
        Request(
            requested_ng=requested_ng,
            cap_room_ng=cap_room,
            reservoir_room_ng=_reservoir_room(
                d, drug, pump.empty_threshold.value, flight, nl, requested_ng
            ),
            delivering=True,
        )
    )
    order_nl = nl
    reasons = decision.reasons
    if decision.granted_ng < requested_ng:
        order_nl, order_fg, _ = plan_volume(d, flight, drug, decision.granted_ng * FG_PER_NG, True)
        if nl - order_nl <= 1 and decision.reasons == (Reason.DAILY_CAP,):
            # the whole nanolitre the exact bound cannot take is a rounding unit: it carries to
            # the next segment, nothing is withheld (an accepted program is delivered in full);
            # the basal owed is the segment's own (shortened where the run ends inside it)
            carry = day_fg * seg + d.basal_carry - order_fg * DAY_S
            decision = dataclasses.replace(decision, reasons=())
            reasons = ()
        else:
            carry = 0
            if seg > 1 and not one_second and Reason.DAILY_CAP in decision.reasons:
                first = _confined(d, now, lib, max_segment_s, drug, nl, seg)
                if first is not None:
                    return first
    elif junction:
        assert d.program is not None
        top = max(step.dose_ng_per_day for step in d.program.basal.steps)
        room = (limit_fg(d, lib, drug) - top * FG_PER_NG) * DAY_S >= junction
        carry = junction if room else 0
        if not room and junction > nxt[0].concentration_ng_per_ml * DAY_S:
            # at the hard maximum a deficit can never be made up in a later window (the window
            # from the deficit on would hold the whole maximum and the makeup): more than one
            # rounding unit at the next concentration is withheld basal, with the alarm
            # (docs/dosing-rules.md#r-tip-4)
            decision = dataclasses.replace(decision, reasons=(Reason.DAILY_CAP,))
            reasons = decision.reasons
    order = None
    if order_nl > 0:
        order = Order(d.next_order_id, DeliveryKind.BASAL, now, now + seg, order_nl)
    alarms: list[AlarmKind] = []
    if Reason.RESERVOIR in decision.reasons:
        alarms.append(AlarmKind.EMPTY_RESERVOIR)
    if Reason.DAILY_CAP in decision.reasons or (day_fg < full_fg and order_nl > 0):
        # a shadow's slower drug holds back the basal through it: never silent (R-TIP-4)
        alarms.append(AlarmKind.DELIVERY_LIMITED)
    return TickPlan(tuple(alarms), order, carry, now + seg, reasons, nl)


def _remnant_ahead(
    d: Device, now: int, lib: Library, max_segment_s: int, drug: str, nl: int
) -> TickPlan | None:
    """The plan of one order that pushes out the ``nl`` (under :data:`MIN_RUN_NL`) of ``drug``
    left at the tip before another drug, then the basal of the drug behind it, at that drug's
    rate (REQ-TIP-003): the remnant goes with the fluid behind it, as at a change of
    concentration, when the order, counted drug by drug, fits under each hard maximum: the
    remnant (and its last nanolitre once more, R-TIP-5) in its own drug's window, the rest as
    the plan of the drug behind it, made as if the remnant had left. A drive that moves a
    little less than ordered leaves a one-nanolitre order whole, and at a drug change the core
    ordered it again without end. ``None`` (the remnant is its own order) when the path at the
    remnant's end holds no other drug, or the order does not fit."""
    flight = in_flight_nl(d)
    behind = ahead(d, flight + nl, 1)
    if flight or not behind or behind[0].drug in (drug, NO_DRUG):
        return None
    res_drug, res_conc = _fluid(d)
    path, out = _path(d).push(nl, res_drug, res_conc)
    gone = evolve(d, path=path, shadows=shadows_pushed(d.shadows, nl)[0], basal_carry=0)
    plan = _basal_plan(gone, now, lib, max_segment_s)
    if plan is None or plan.order is None:
        return None
    o = plan.order
    volume = o.volume_nl + nl
    conc = _cmax(out, drug)
    pace = pace_nl_per_h(volume, o.end_s - o.start_s) * conc
    remnant = (Flow(now, nl * conc, pace, 3600), Flow(now, conc, conc, 1))
    limit = limit_fg(d, lib, drug)
    pieces, lags = recorded_terms(d, drug, now)
    if peak_fg(pieces, (*lags, *remnant), now, limit) > limit:
        return None
    order = dataclasses.replace(o, volume_nl=volume)
    return dataclasses.replace(plan, order=order, requested_nl=plan.requested_nl + nl)


def _reservoir_room(
    d: Device, drug: str, empty_nl: int, flight: int, nl: int, requested_ng: int
) -> int:
    """The reservoir room of a basal order of ``nl`` asking ``requested_ng`` (REQ-GOV-003): the
    whole order where its volume lies above the empty threshold (it asks its tip amount rounded
    up, which the usable volume's tip amount rounded down can fall short of by a fraction of a
    nanogram: a false empty reservoir for a drug under 1 ng/nL, fentanyl at 50 mcg/mL); else
    what the usable volume pushes out, rounded down (a bolus's room is the same, core/bolus.py)."""
    assert d.reservoir is not None
    if nl <= d.reservoir.volume_nl - flight - empty_nl:
        return requested_ng
    return reservoir_room_ng(d, drug, empty_nl)


def slowed_by_shadows(d: Device, now: int) -> bool:
    """A shadow of ``d`` holds a drug whose own program's rate moves its volume slower than the
    lane's rate where it lies: the basal through it is slowed (:func:`_through_shadows`)."""
    if d.program is None:
        return False
    for s in d.shadows:
        lane = _path(d).outflow(s.start_nl, 1, *_fluid(d))
        if not lane or lane[0].drug == NO_DRUG:
            continue
        lane_rate = _basal_rate(d, now, lane[0].drug)[0]
        rate = _basal_rate(d, now, s.drug)[0]
        if rate and rate * lane[0].concentration_ng_per_ml < lane_rate * s.concentration_ng_per_ml:
            return True
    return False


def _through_shadows(d: Device, now: int, flight: int, day_fg: int) -> tuple[int, int | None]:
    """The basal rate (fg a day of the lane's drug) of an order pushed out after ``flight``
    where the shadows may hold other drugs, and the place where that rate changes
    (:func:`itdose.core.reach.paced_stretch`): a drug a shadow holds moves no faster than its
    own program's rate (the old program's daily dose, after a drug change), so that what may
    still be of it in the path leaves at no more than that rate, and the lane's drug is slowed
    as far as that needs (docs/dosing-rules.md#r-tip-6, REQ-TIP-003). A shadow's drug whose
    rate is not known (zero) does not slow the lane."""
    lane = ahead(d, flight, 1)
    conc = lane[0].concentration_ng_per_ml if lane else 0

    def limit_of(s: Shadow) -> int:
        rate = _basal_rate(d, now, s.drug)[0]
        if not rate or not s.concentration_ng_per_ml:
            return day_fg
        return rate * FG_PER_NG * conc // s.concentration_ng_per_ml

    return paced_stretch(d.shadows, flight, day_fg, limit_of, MIN_RUN_NL)


def _confined(
    d: Device, now: int, lib: Library, max_segment_s: int, drug: str, nl: int, seg: int
) -> TickPlan | None:
    """The plan of a one-second order, when an order of ``nl`` over ``seg`` seconds is cut by
    more than a rounding unit for the hard maximum but fits whole one second later, after that
    one-second order, cut as far as needed (REQ-TIP-004, R-TIP-5): the room a window takes
    early in the order is then taken from that second alone. A cut order runs at a slower pace
    for all of its segment, and a window ``t`` seconds into it gains only ``t / seg`` of what
    the cut takes: a window over the maximum by a few ng early in the order (where a window's
    start passes the end of a recorded order's pace rounding, or the lag term of a richer fluid
    a day earlier) cut the hour by ``seg / t`` times that (a third of an hour's basal 0.07 s in;
    the whole hour where the window ending now already held the maximum; 430 ng 107 s in). The
    window holds all of the one-second order, so each ng cut from it is a ng out of the window.
    The second may hold no order at all. Whatever the second's order is cut by is withheld with
    the delivery-limited alarm (the hour's cut would have been). ``None`` when the order does
    not fit whole one second later even after an empty second: the cut stands (a window at the
    maximum for the whole segment, as after a bolus)."""
    first = _basal_plan(d, now, lib, max_segment_s, one_second=True)
    if first is None:
        return None  # pragma: no cover - the same state planned an order a moment ago
    tiers = fill_tiers(d, lib, drug, now)
    pieces, lags = recorded_terms(d, drug, now)

    def rest_fits(volume_nl: int) -> bool:
        """The order fits whole from the next second, after a one-second order of
        ``volume_nl``."""
        one = Order(d.next_order_id, DeliveryKind.BASAL, now, now + 1, volume_nl)
        after = evolve(d, orders=(*d.orders, one)) if volume_nl else d
        flight = in_flight_nl(after)
        # the order after it keeps one concentration, as every basal order: it pushes out at
        # most what is left of the run (counted at the richest fluid within ``nl`` after the
        # second's order, the fluid behind the run, it cut the second to nothing: 255 ng at
        # 15 mg/mL ahead of 25 mg/mL); its volume and pace as planned (what the second's
        # order takes from the run is counted twice: on the safe side)
        front = _cmax(ahead(after, flight, 1), drug)
        run_nl = plan_volume(after, flight, drug, nl * front, True)[0]
        conc = _cmax(ahead(after, flight, max(1, run_nl)), drug)
        rest = Flow(now + 1, nl * conc, pace_nl_per_h(nl, seg) * conc, 3600)
        flows = (*in_flight_flows(after, drug), *lags, rest)
        return within(pieces, flows, tiers)

    granted = first.order.volume_nl if first.order is not None else 0
    if rest_fits(granted):
        return first
    if not rest_fits(0):
        return None
    lo, hi = 0, granted
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if rest_fits(mid) else (lo, mid)
    order = None
    if lo > 0:
        order = Order(d.next_order_id, DeliveryKind.BASAL, now, now + 1, lo)
    reasons = (*(r for r in first.withheld_reasons if r is not Reason.DAILY_CAP), Reason.DAILY_CAP)
    alarms = tuple(dict.fromkeys((*first.alarms, AlarmKind.DELIVERY_LIMITED)))
    return TickPlan(alarms, order, 0, now + 1, reasons, first.requested_nl)


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
    b = basal  # the plan with the new alarms (dataclasses.replace, without its cost per tick)
    return TickPlan(new, b.order, b.carry, b.basal_until_s, b.withheld_reasons, b.requested_nl)


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
