"""The drive's reports (part of the delivery engine, :mod:`itdose.core.dosing`): what a report
of an order's delivered volume does to the reservoir, the fluid path, the per-drug ledgers and the
priming count, and the HIGH delivery-deviation alarm for a drive that moved more than ordered or
faster than the order's pace (REQ-TIP-001, REQ-TIP-004, REQ-GOV-004, REQ-PERS-002). Pure and
integer-only.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

from itdose.core.alarms import AlarmKind, Priority
from itdose.core.arith import ceil_div
from itdose.core.basal import slowed_by_shadows, with_alarms
from itdose.core.effects import Annunciate, Effect, Record
from itdose.core.flight import (
    LAG_ORDER_ID,
    _cmax,
    _find,
    _fluid,
    _pace,
    _path,
    ahead,
    in_flight_nl,
    ledger_of,
)
from itdose.core.ledger import Ledger, ahead_of_pace
from itdose.core.path import NO_DRUG, FluidPath, Segment, amount_fg, drugs_in, ng_up
from itdose.core.reach import (
    held_doses,
    richest_within,
    shadow_spans,
    shadows_pushed,
    spans_of,
)
from itdose.core.state import (
    DeliveryKind,
    Device,
    DrugLedger,
    Order,
    Phase,
    Reservoir,
    evolve,
)
from itdose.core.units import DAY_S


def over_delivered(d: Device, order_id: int, delivered_nl: int, now: int) -> bool:
    """True when a report says the drive delivered more than the order's volume, or moved it
    faster than the order's pace (the trust the limits rest on, REQ-TIP-004): a HIGH deviation
    that stops delivery in the same step (REQ-ALM-001)."""
    order = _find(d, order_id)
    return order is not None and _over(order, delivered_nl, now)


def _over(order: Order, delivered_nl: int, now: int) -> bool:
    """:func:`over_delivered` for the order found. An order an emergency scan stopped, or a bolus
    cut, moved nothing after the scan or the cut: a report of it, however late, is judged at
    that instant (``stopped_s``, ``cut_s``; docs/dosing-rules.md#r-mri-5, REQ-MRI-006, R-TIP-3)."""
    return delivered_nl > order.volume_nl or ahead_of_pace(
        delivered_nl,
        order.volume_nl,
        order.start_s,
        order.end_s,
        min(now, order.stopped_s or now, order.cut_s or now),
        order.reported_nl,
        order.reported_s,
    )


def uncut(d: Device, order_id: int, final: bool, now: int) -> tuple[Device, tuple[Effect, ...]]:
    """``d`` with order ``order_id`` no longer cut (:attr:`DriveReport.uncut
    <itdose.core.commands.DriveReport.uncut>`): the cancel of it is not known to have been
    carried out, so the drive may have moved it on after the cut, and the bound R-TIP-3 puts on
    a cut order (its pace by the cut, every report counted as leaving by the cut) would judge
    what it really moved a deviation and count it as having left earlier than it did. Counted as
    an order no bolus cut, it is judged against its own pace by each report (a drive ahead of
    that pace is still a deviation) and what it moved is recorded as leaving by the report: never
    less than it moved, never earlier (REQ-DOSE-008). A basal order that goes on (the report is
    not final) holds the basal to its end again, as when it was ordered. An order not cut is left
    as it is."""
    order = _find(d, order_id)
    if order is None or not order.cut_s:
        return d, ()
    orders = tuple(
        dataclasses.replace(o, cut_s=0, cut_mixed=False) if o.id == order_id else o
        for o in d.orders
    )
    until = d.basal_until_s
    if not final and order.kind is DeliveryKind.BASAL:
        until = max(until, order.end_s)
    text = f"order {order_id}: its cut at t={order.cut_s} s is not known carried out; not cut"
    record = Record("cut_undone", "service", now, d.phase, d.phase, text)
    return evolve(d, orders=orders, basal_until_s=until), (record,)


def _moved_since(d: Device, t: int, order_id: int) -> bool:
    """Some other order's report moved the path after ``t`` (a piece of it ends after ``t``)."""
    books = (d.ledger, *(e.ledger for e in d.other_ledgers))
    return any(p.end_s > t and _order_of(p.order_id) != order_id for b in books for p in b.pieces)


def _order_of(piece_id: int) -> int:
    """The order a piece of a layer (:data:`LAYER_ORDER_ID`) counts; any other piece's own id."""
    return piece_id if piece_id >= LAG_ORDER_ID else piece_id % LAYER_ORDER_ID


def _pushed(
    d: Device, order: Order, delta_nl: int, now: int, at_once: bool = False
) -> dict[str, Any]:
    """The fields of ``d`` that change when the drive moved ``delta_nl``: the reservoir gives
    it, the path takes it in and pushes the same volume out of the tip, and each drug that left
    is recorded, exactly, in its own ledger (REQ-TIP-001, REQ-GOV-004). ``at_once``: the drive
    broke the pace the ledger's timing rests on, so what left is recorded as an instant now
    (in full in every window that contains the report). Else what an order a bolus cut moved
    is recorded as ending at the cut, however late it is reported (R-TIP-3), unless the path
    held two fluids at the cut and a later order moved it before this report: the core pushed
    that order's volume first, though the drive moved this one's first, so which fluid left
    when is not known, and what this report pushes out is recorded as an instant now."""
    moved = order.cut_mixed and 0 < order.cut_s < now and _moved_since(d, order.cut_s, order.id)
    at_once = at_once or moved
    drug, conc = _fluid(d)
    path, out = _path(d).push(delta_nl, drug, conc)
    fields: dict[str, Any] = {"path": path if d.path is not None else None}
    if d.reservoir is not None:
        volume = max(0, d.reservoir.volume_nl - delta_nl)
        r = d.reservoir
        fields["reservoir"] = Reservoir(r.drug, r.indication, r.concentration_ng_per_ml, volume)
    shadows, ghost = shadows_pushed(d.shadows, delta_nl)
    if d.shadows:
        fields["shadows"] = shadows
    delivered = d.delivered_ng
    ledger, others = d.ledger, d.other_ledgers
    pace = _pace(order)
    if ghost:
        # after an emergency scan the path may hold other drugs where it says one: each is
        # counted too, at the richest of it that left (docs/dosing-rules.md#r-mri-5)
        out = (*out, *ghost)
        lefts: tuple[tuple[str, int, int], ...] = tuple(
            (left, amount_fg(out, left), pace * _cmax(out, left)) for left in drugs_in(out)
        )
    elif len(out) == 1 and out[0].drug != NO_DRUG:  # one fluid left the tip (the usual report)
        lefts = ((out[0].drug, out[0].amount_fg, pace * out[0].concentration_ng_per_ml),)
    elif _falling(out):
        # one drug, its concentration falling from the first nanolitre out to the last (an
        # order across a change to a leaner fluid): the drug in the last ``w`` nL out is convex
        # in ``w``, so at most ``w`` times the average, and the drive moves at most its pace:
        # the average at the order's pace bounds what left in any last seconds (REQ-GOV-004;
        # the richest would count it, for a day, as leaving up to the richest's pace)
        fg = amount_fg(out, out[0].drug)
        lefts = ((out[0].drug, fg, ceil_div(pace * fg, delta_nl)),)
    else:
        lefts = tuple(x for left in drugs_in(out) for x in _layers(out, left, pace))
    books = {e.drug: e.ledger for e in others}
    if d.drug is not None:
        books[d.drug] = ledger
    for i, (left, fg, pace_fg) in enumerate(lefts):
        book = books.get(left, ledger_of(d, left))
        # the layers of one drug after the first are pieces of their own (LAYER_ORDER_ID)
        layer = sum(1 for x in lefts[:i] if x[0] == left) * LAYER_ORDER_ID
        if at_once:
            books[left] = book.record(now, order.id, order.start_s, fg, fg, 1, instant=True)
        else:
            books[left] = book.record(now, layer + order.id, order.start_s, fg, pace_fg, 3600)
            if order.cut_s and order.cut_s < now:
                # it left by the cut: the piece just recorded (the last) ends there, or a second
                # later when the drive moved more than the pace allows by the cut (the pace
                # check grants every span that second: what moved in it left after the cut)
                end = order.cut_s
                if (order.reported_nl + delta_nl) * 3600 > pace * (order.cut_s - order.start_s):
                    end = min(now, order.cut_s + 1)
                piece = dataclasses.replace(books[left].pieces[-1], end_s=end)
                kept = (*books[left].pieces[:-1], piece)
                books[left] = Ledger(tuple(sorted(kept, key=lambda p: p.end_s)))
        delivered += ng_up(fg)
    after = path.outflow(0, 1, drug, conc)  # the nanolitre the drive pushes out next
    after += tuple(Segment(1, s.drug, s.concentration_ng_per_ml) for s in shadows if not s.start_nl)
    for left in drugs_in(out):
        richest = _cmax(out, left)
        changes = any(s.drug == left and s.concentration_ng_per_ml != richest for s in out)
        if changes or richest != _cmax(after, left):
            # a fluid of ``left`` ends here, or within what left, and another concentration
            # follows (leaner, richer or none of the drug): a drive on whole nanolitres may move
            # up to one nanolitre of it later than its pace says, so that nanolitre is counted
            # once more in every window that starts at a whole second before now (R-TIP-5:
            # after a fall the window ending in the leaner fluid holds it; before a rise the
            # window starting in the leaner fluid does, which a multiple of one concentration
            # does not cover; a rise inside one report was missed: 5 ng over), as a
            # piece of one second ending now: an instant (read as ending a second later) also
            # counted it in the windows that start now, which hold none of it, and at the hard
            # maximum a day later that second cut the order running through it by its pace
            books[left] = books[left].record(now, LAG_ORDER_ID + order.id, now, richest, richest, 1)
    for left in drugs_in(out):
        if left == d.drug:
            ledger = books[left]
        else:
            others = (*(e for e in others if e.drug != left), DrugLedger(left, books[left]))
    fields.update(ledger=ledger, other_ledgers=others, delivered_ng=delivered)
    if d.flush_doses:
        fields["flush_doses"] = held_doses(d, path, shadows)
    return fields


def _lagging(d: Device, delta_nl: int, unsure_nl: int, pushed: dict[str, Any]) -> dict[str, Any]:
    """The path and shadows after a report of ``delta_nl`` that is an upper bound: the drive moved
    between ``delta_nl - unsure_nl`` and ``delta_nl`` (a count a reset lost). The report pushed the
    whole bound through the path (``pushed``): never less fluid counted, never later; but the real
    fluid may lag the model by up to ``unsure_nl``, so a fluid the model has already pushed out of
    the tip, or past a place, may still be there. Each place then holds the richest fluid within
    ``unsure_nl`` nearer the tip, the last ``unsure_nl`` that left included: a fall of
    concentration is not counted as reaching the tip before it can have (found by the restarts
    cohort, patient 1189: a reset's bound 20 nL above what moved put a baclofen fall 20 nL
    early, 10 ng under-counted; docs/dosing-rules.md#r-tip-6, REQ-TIP-006). Where two drugs are
    within reach a shadow holds the other (:func:`itdose.core.reach.richest_within`)."""
    drug, conc = _fluid(d)
    out = _path(d).outflow(0, delta_nl, drug, conc)
    path = pushed["path"]
    spans = [
        *(s for s in spans_of(out, -delta_nl) if s.end_nl > -unsure_nl),
        *spans_of(path.segments, 0),
        *shadow_spans(pushed.get("shadows", d.shadows)),
        *(s for s in shadow_spans(d.shadows, delta_nl) if s.start_nl < 0 < s.end_nl + unsure_nl),
    ]
    lanes, shadows = richest_within(spans, path.volume_nl, unsure_nl, 0)
    return {"path": FluidPath(lanes), "shadows": shadows}


LAYER_ORDER_ID = 2**56
"""A report whose drug rises from one fluid to the next is recorded as layers (:func:`_layers`):
the ``k``-th layer after the first of order ``n`` is the piece ``k x LAYER_ORDER_ID + n`` (under
:data:`~itdose.core.flight.LAG_ORDER_ID`; at most :data:`MAX_LAYERS` layers)."""
MAX_LAYERS = 8
"""The most layers one report is recorded as (a report across more rises is one piece at the
pace of its richest fluid, an upper bound: the ledger's pieces stay few)."""


def _layers(out: tuple[Segment, ...], drug: str, pace: int) -> tuple[tuple[str, int, int], ...]:
    """``(drug, amount_fg, pace_fg)`` of what left the tip as ``out``: while its concentration of
    ``drug`` never falls from one fluid to the next, one layer per rise, each the excess over the
    concentration before it from that fluid on to the end of ``out`` at the order's pace (the
    drug in any last ``w`` nL of ``out`` is then exactly the layers' tails: a window that starts
    inside a leaner fluid no longer counts it at the richest rate, R-TIP-5); else one piece at
    the pace of the richest fluid (an upper bound of every tail)."""
    concs = [s.concentration_ng_per_ml if s.drug == drug else 0 for s in out]
    rises = sum(1 for a, b in itertools.pairwise((0, *concs)) if b > a)
    if rises < 2 or rises > MAX_LAYERS or any(b < a for a, b in itertools.pairwise(concs)):
        return ((drug, amount_fg(out, drug), pace * max(concs)),)
    layers = []
    rest, low = sum(s.volume_nl for s in out), 0
    for seg, conc in zip(out, concs, strict=True):
        if conc > low:
            layers.append((drug, rest * (conc - low), pace * (conc - low)))
        rest, low = rest - seg.volume_nl, max(low, conc)
    return tuple(layers)


def _falling(out: tuple[Segment, ...]) -> bool:
    """``out`` holds one drug, at a concentration that never rises from one fluid to the next."""
    return out[0].drug != NO_DRUG and all(
        b.drug == a.drug and b.concentration_ng_per_ml <= a.concentration_ng_per_ml
        for a, b in itertools.pairwise(out)
    )


def apply_report(
    d: Device, order_id: int, delivered_nl: int, final: bool, now: int, unsure_nl: int = 0
) -> tuple[Device, tuple[Effect, ...]]:
    """Count what the drive reports delivered for an order (cumulative ``delivered_nl``; of what
    it adds, up to ``unsure_nl`` may not have moved: :func:`_lagging`).

    An unknown or already finished order id changes nothing and is logged (REQ-PERS-002: an id
    is recorded once). Delivery above the order's volume is counted in full and raises the HIGH
    delivery-deviation alarm. The new state is built once, from the fields computed below.
    """
    order = _find(d, order_id)
    if order is None:
        text = f"order {order_id}: unknown or already finished (duplicate report)"
        return d, (Record("report_ignored", "service", now, d.phase, d.phase, text),)
    effects: list[Effect] = []
    delta = max(0, delivered_nl - order.reported_nl)
    if delivered_nl < order.reported_nl:
        went = f"({order.reported_nl} -> {delivered_nl} nL)"
        text = f"order {order_id}: cumulative volume went down {went}; ignored"
        effects.append(Record("report_inconsistent", "service", now, d.phase, d.phase, text))
    primed_nl, primed, alarms = d.primed_nl, d.primed, d.alarms
    over = _over(order, delivered_nl, now)
    # an order an emergency scan stopped that moved more than its pace allowed by the scan: when
    # it moved is unknown, so what it moved counts in full in every window holding the report
    # (docs/dosing-rules.md#r-mri-5, REQ-MRI-006)
    at_once = over and order.stopped_s + order.cut_s > 0
    pushed: dict[str, Any] = _pushed(d, order, delta, now, at_once) if delta else {}
    if min(delta, unsure_nl) > 0 and d.path is not None:
        blurred = _lagging(d, delta, min(delta, unsure_nl), pushed)
        richer = blurred["path"] != pushed["path"]
        # a drug only a shadow holds moves no faster than its own rate: the lane's basal through
        # it may be slowed (after a drug change, R-TIP-6)
        slower = blurred["shadows"] != pushed.get("shadows", d.shadows) and slowed_by_shadows(
            evolve(d, path=blurred["path"], shadows=blurred["shadows"]), now
        )
        if richer or slower:
            # where the doubt counts a place richer than the model holds it, the basal through it
            # follows the richer fluid's rate and may deliver less of the program: announced
            # (R-TIP-4, docs/dosing-rules.md#r-tip-6)
            if not d.has_alarm(AlarmKind.DELIVERY_LIMITED):
                effects.append(Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM))
            alarms = with_alarms(alarms, (AlarmKind.DELIVERY_LIMITED,), now)
            doubt = min(delta, unsure_nl)
            said = [f"order {order_id}: up to {doubt} nL reported may not have moved"]
            if richer:
                said.append(
                    "the path is counted as the richest fluid within that doubt, and the basal "
                    "through it follows that fluid's rate"
                )
            if slower:
                said.append(
                    "another drug within it is counted as it leaves, and the basal through it "
                    "moves it at no more than its own program's rate"
                )
            text = "; ".join(said)
            effects.append(Record("doubt_counted", "service", now, d.phase, d.phase, text))
        pushed.update(blurred)
        if d.flush_doses:
            pushed["flush_doses"] = held_doses(d, blurred["path"], blurred["shadows"])
    if delta and order.kind is DeliveryKind.PRIMING:
        primed_nl += delta
        dead = d.implant.dead_volume_nl if d.implant is not None else None
        primed = dead is not None and primed_nl >= dead
    if over:
        # more than ordered, or faster than the order's pace: the drive broke the trust the
        # limits rest on (REQ-TIP-004); counted in full, and delivery stops
        alarms = with_alarms(alarms, (AlarmKind.DELIVERY_DEVIATION,), now)
        effects.append(Annunciate(AlarmKind.DELIVERY_DEVIATION, Priority.HIGH))
    reported = max(order.reported_nl, delivered_nl)
    carry = d.basal_carry
    if final:
        orders = tuple(o for o in d.orders if o.id != order_id)
        # a basal order stopped before its end: delivery stopped (the basal ahead waits for
        # dosing), or a bolus cut it (the bolus holds the basal due from the cut on, and what
        # the order's plan owed beyond its pace line by then, not this fraction)
        stopped = d.basal_until_s <= now or order.cut_s > 0
        at = min(now, order.cut_s or now)
        if order.kind is DeliveryKind.BASAL and at < order.end_s and stopped:
            carry += _owed(order, reported, at, evolve(d, orders=orders, **pushed))
        if order.cut_s and not orders and d.phase is Phase.ACTIVE and d.basal_until_s < now:
            # the ticks waited for this report (the path holds two fluids: R-TIP-3), so the
            # basal since the bolus ended was not ordered: announced (R-TIP-4)
            if not any(a.kind is AlarmKind.DELIVERY_LIMITED for a in alarms):
                effects.append(Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM))
            alarms = with_alarms(alarms, (AlarmKind.DELIVERY_LIMITED,), now)
            text = f"basal of {now - d.basal_until_s} s not delivered: order {order_id} unreported"
            effects.append(Record("basal_withheld", "service", now, d.phase, d.phase, text))
    else:
        orders = tuple(
            dataclasses.replace(o, reported_nl=reported, reported_s=now) if o.id == order_id else o
            for o in d.orders
        )
    d = evolve(
        d,
        primed_nl=primed_nl,
        primed=primed,
        alarms=alarms,
        orders=orders,
        basal_carry=carry,
        **pushed,
    )
    return d, tuple(effects)


def _owed(order: Order, reported_nl: int, now: int, after: Device) -> int:
    """The basal a stopped order's pace still owed (REQ-TIP-004), as basal carry (fg x s/day):
    delivery stopped at ``now``, before the order's end, and its segment with it (the next one
    starts when dosing does); the drive stops on a whole nanolitre, so up to one nanolitre of
    what the order's even pace had moved by ``now`` was not. That fraction, of the fluid now at
    the tip (``after``: the device with the report counted), is carried to the next basal order
    (never more than one nanolitre: a drive slower than its order is not made up here)."""
    span = order.end_s - order.start_s
    owed = order.volume_nl * (now - order.start_s) - reported_nl * span
    if owed <= 0:
        return 0
    conc = ahead(after, in_flight_nl(after), 1)[0].concentration_ng_per_ml
    return min(owed, span) * conc * DAY_S // span
