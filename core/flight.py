"""The fluid in flight and the room for a delivery (part of the delivery engine,
:mod:`itdose.core.dosing`): what a volume pushes out of the catheter tip after the volume already
in flight (REQ-TIP-002), the drug in flight as flows (REQ-GOV-004), the room under the hard daily
maximum (REQ-GOV-002) and in the reservoir (REQ-GOV-003), the per-drug ledgers, the largest
volume that holds a target at the tip, and the worst-case reservoir projection. Pure and
integer-only.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable

from itdose.core.arith import INT_OPS, ceil_div
from itdose.core.effects import Projection
from itdose.core.ledger import (
    WINDOW_S,
    Flow,
    Ledger,
    Piece,
    _totals,
    candidates,
    common_period,
    pace_nl_per_h,
    peak_fg,
    total_at,
)
from itdose.core.library import Library, PumpModel
from itdose.core.path import NO_DRUG, FluidPath, Segment, amount_fg, ng_down, ng_up
from itdose.core.program import basal_daily_ng
from itdose.core.state import Device, DrugLedger, Order
from itdose.core.units import DAY_S, FG_PER_NG, volume_nl_for

__all__ = [
    "LAG_ORDER_ID",
    "ahead",
    "cap_room_ng",
    "hard_max_ng",
    "in_flight_flows",
    "in_flight_nl",
    "is_lag",
    "ledger_of",
    "limit_fg",
    "plan_volume",
    "projection",
    "recorded_terms",
    "reservoir_room_ng",
    "rest_nl",
    "whole_fg",
    "with_ledger",
]


def _path(d: Device) -> FluidPath:
    return d.path if d.path is not None else FluidPath()


def _fluid(d: Device) -> tuple[str, int]:
    """The fluid behind the path: the reservoir's drug and concentration."""
    if d.reservoir is None:
        return NO_DRUG, 0
    return d.reservoir.drug, d.reservoir.concentration_ng_per_ml


def in_flight_nl(d: Device) -> int:
    """Volume granted but not yet reported delivered (every order pushes the path)."""
    return sum(rest_nl(o) for o in d.orders)


def rest_nl(o: Order) -> int:
    """What the order can still move beyond its last report: its rest, or, cut by a bolus, what
    its pace allowed by the cut (rounded up; more is a deviation, judged at the cut)."""
    rest = max(0, o.volume_nl - o.reported_nl)
    if not o.cut_s:
        return rest
    return min(rest, ceil_div(_pace(o) * max(0, o.cut_s - max(o.start_s, o.reported_s)), 3600))


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
    r = d.reservoir
    if drug == r.drug and _path(d)._only(drug, r.concentration_ng_per_ml):  # one fluid all along
        return ng_down(usable * r.concentration_ng_per_ml)
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
        rest = rest_nl(o)
        if rest > 0:
            start = max(o.start_s, o.reported_s)
            flows.append(Flow(start, rest * conc, _pace(o) * conc, 3600))
    return tuple(flows)


def _future_basal(d: Device, start: int) -> tuple[Flow, ...]:
    """Basal due from ``start`` on, at the program's highest step, for a day: a bolus must leave
    room for it (basal is never reduced to make room for a bolus, REQ-GOV-008). Only a bolus
    plan asks, and a bolus is planned only under a program."""
    assert d.program is not None
    top = max(s.dose_ng_per_day for s in d.program.basal.steps)
    if top == 0:
        return ()
    day_fg = top * FG_PER_NG
    return (Flow(start, day_fg, day_fg, DAY_S),)


def _order_flow(
    now: int,
    volume_nl: int,
    conc: int,
    seg: int,
    cut: Callable[[int], tuple[int, int]],
    whole_fg: int,
) -> Callable[[int], Flow]:
    """The flow of an order of ``volume_nl`` over ``seg`` seconds at up to ``conc``, holding
    ``whole_fg``, for any amount up to its own.

    The whole amount flows at the whole order's pace at ``conc``. A smaller amount is what a cut
    order delivers: ``cut`` gives, for an amount, the ``(volume_nl, amount_fg)`` of the order the
    plan cuts to, all of one concentration ``c`` (``amount = volume * c``); it flows exactly as
    that order, its amount at its own pace, ``ceil(volume * 3600 / seg) * c`` fg/h (the drive's
    trust), so the cap search finds the largest order that really fits, to the nanolitre.
    Keeping the whole order's pace for every smaller amount cut programs at the hard maximum far
    below the rounding unit that did not fit, and a bound one nL/h faster still cut them by a few
    nL (docs/dosing-rules.md#r-tip-4)."""
    pace_fg = pace_nl_per_h(volume_nl, seg) * conc

    def flow(fg: int) -> Flow:
        if fg >= whole_fg:
            return Flow(now, fg, pace_fg, 3600)
        v, amount = cut(fg)
        c = amount // v if v else 0
        return Flow(now, amount, pace_nl_per_h(v, seg) * c, 3600)

    return flow


def _shifts(d: Device, skip_nl: int, unknown_nl: int, volume_nl: int) -> set[int]:
    """The shifts ``x`` in ``0..unknown_nl`` at which the drug that ``volume_nl`` pushes out of
    the tip after ``skip_nl + x`` can be largest or smallest: the drug pushed out is piecewise
    linear in ``x``, so its extremes are at an end or where ``x`` or ``x + volume_nl`` meets a
    boundary of the path's fluids."""
    shifts = {0, unknown_nl}
    edge = 0
    for p in ahead(d, skip_nl, unknown_nl + volume_nl):
        edge += p.volume_nl
        shifts.update(x for x in (edge, edge - volume_nl) if 0 <= x <= unknown_nl)
    return shifts


def _most_fg(d: Device, drug: str, skip_nl: int, unknown_nl: int, volume_nl: int) -> int:
    """The most ``drug`` that ``volume_nl`` pushes out of the tip after ``skip_nl`` and any
    ``0..unknown_nl`` more (REQ-TIP-002)."""
    return max(
        amount_fg(ahead(d, skip_nl + x, volume_nl), drug)
        for x in _shifts(d, skip_nl, unknown_nl, volume_nl)
    )


def _fluid_flows(
    d: Device,
    drug: str,
    now: int,
    skip_nl: int,
    unknown_nl: int,
    volume_nl: int,
    dur: int,
    moved: tuple[int, int, int] | None,
) -> tuple[tuple[Piece, ...], tuple[Flow, ...]]:
    """The drug that leaves the tip from the last report of the cancelled basal order on, for
    a bolus order (or, with ``unknown_nl`` 0 and no ``moved``, a basal order across a change of
    concentration, :mod:`itdose.core.basal`) of ``volume_nl`` over ``dur`` seconds pushed after
    ``skip_nl`` and the unknown ``x`` in ``0..u`` (``u = unknown_nl``) that order moved
    (``moved``: its id, last report and pace, nL/h), while the path within reach holds more than
    one concentration (REQ-GOV-004): the cancelled part as a piece, the order as flows.

    ``F(p)``: the drug in the first ``p`` nL. A window holds at most ``min(F(x), tail) + F(x +
    w) - F(x)`` of them, ``w`` what the order has moved (at most its pace allows), ``tail`` what
    of the part can still be in the window (at the cancelled order's pace at the richest it
    pushed). The part is counted as ``F(u)``. When the concentration falls, ``F`` is concave:
    ``F(x + w) - F(x) <= F(w)``, the order pushed after 0, as layers that all start now (the
    excess of each concentration over the next, over the fluid up to it): exactly ``F(w)``.
    When it rises, or ``u = 0``, the order is pushed after ``u``, the largest ``F(x + w) -
    F(x)`` (exact for ``u = 0``), one flow per fluid, each from when the drive, at its pace, can
    have moved what lies before it (rounded down to a whole second, sooner); when it rises, as
    layers (``F`` convex: the excess of each concentration over the one before it, from that
    edge to the order's end), so that the rounding moves only a layer's start, never the order's
    end (one flow per fluid let the whole order end up to a second early, a window a second of
    the basal a day earlier over: 116 ng at 25 mg/mL). When it both rises
    and falls within reach (a slug of one fluid between two others) and ``u > 0``, the order is
    one flow from now at the pace of the richest fluid within reach, of the most it can push out
    whatever ``x`` is (:func:`_most_fg`): ``F(x + w) - F(x)`` is at most both."""
    pace = max(1, pace_nl_per_h(volume_nl, dur))
    # a fluid that ends inside the order: its last nanolitre, which the drive may move later
    # than its pace says, is counted once more (R-TIP-5) as a flow from now, one nanolitre of
    # the richest fluid within reach per change of concentration, until the report that ends
    # the fluid records its own term (a window ending inside the order before that report
    # could hold it: 5 ng over at a bolus ending a fall)
    along = [p.concentration_ng_per_ml for p in ahead(d, skip_nl, unknown_nl + volume_nl)]
    changes = sum(1 for a, b in itertools.pairwise(along) if a != b)
    lag = (Flow(now, changes * max(along), changes * max(along), 1),) if changes else ()
    first = ahead(d, skip_nl, unknown_nl)
    moved_fg = amount_fg(first, drug)
    part: tuple[Piece, ...] = ()
    if moved is not None and moved_fg > 0:
        richest = max(p.concentration_ng_per_ml for p in first)
        part = (Piece(moved[0], moved[1], now, moved_fg, moved[2] * richest, 3600),)
    flows: list[Flow] = []
    if all(a >= b for a, b in itertools.pairwise(along)):
        out = ahead(d, skip_nl, volume_nl)
        upto = 0
        # the concentrations fall from one fluid to the next: every step is positive
        for p, after in zip(out, (*out[1:], None), strict=True):
            upto += p.volume_nl
            step = p.concentration_ng_per_ml - (after.concentration_ng_per_ml if after else 0)
            flows.append(Flow(now, upto * step, pace * step, 3600))
        return part, (*flows, *lag)
    if unknown_nl and not all(a <= b for a, b in itertools.pairwise(along)):
        most = _most_fg(d, drug, skip_nl, unknown_nl, volume_nl)
        return part, (Flow(now, most, pace * max(along), 3600), *lag)
    at = low = 0
    out = ahead(d, skip_nl + unknown_nl, volume_nl)
    concs = [p.concentration_ng_per_ml * (p.drug == drug) for p in out]
    rising = all(a <= b for a, b in itertools.pairwise(concs))
    for p, conc in zip(out, concs, strict=True):
        # rising: layers, each the excess over the fluid before it from its edge to the end
        step, volume = (conc - low, volume_nl - at) if rising else (conc, p.volume_nl)
        flows.append(Flow(now + at * 3600 // pace, volume * step, pace * step, 3600))
        at, low = at + p.volume_nl, conc
    return part, (*flows, *lag)


def whole_fg(flows: tuple[Flow, ...]) -> int:
    """A lower bound of the peak of any recorded pieces with ``flows`` and more (from a ``now`` at
    or before the latest start): the window ending a day after the latest start holds each
    flow's head at its most, ``min(amount, pace x 1 day)``, every other term at least nothing
    (:func:`itdose.core.ledger.head`; rounded down here). More than a limit means the peak is
    over it, without the exact peak (a long basal segment that cannot fit, REQ-DOSE-009)."""
    return sum(min(f.amount_fg, f.pace_fg * DAY_S // f.pace_s) for f in flows)


def cap_room_ng(
    d: Device,
    now: int,
    lib: Library,
    drug: str,
    requested_fg: int,
    flow_for: Callable[[int], Flow],
    flows: tuple[Flow, ...] = (),
    recorded: tuple[tuple[Piece, ...], tuple[Flow, ...]] | None = None,
    tiers: tuple[tuple[int, int], ...] | None = None,
) -> int:
    """The most of a delivery of ``drug`` that keeps every 24 h window of drug leaving the tip
    within the hard maximum (REQ-GOV-002): the ledger's exact peak with the drug in flight, the
    ``flows`` scheduled later and the delivery itself, whose flow for an amount is
    ``flow_for(amount_fg)`` (its amount and pace never fall as the amount grows, so "fits" is
    monotone). The request in whole ng (rounded up) when the whole exact request fits, else the
    largest amount that does, rounded down to whole ng.

    Only the whole ng of that amount is asked for: a binary search over whole ng between an
    amount that fits (``lo``) and one that does not (``hi``), each step one exact peak, until one
    whole ng is left. It starts with the amount :func:`_cap_guess` expects (and 1 ng more): when
    the guess is right, those two peaks decide it, else the search goes on from what they said
    (a guess saves peaks and never decides). ``recorded``: :func:`recorded_terms` of ``drug`` at
    ``now``, when the caller has them already. ``tiers``: the fill of the maximum from each
    instant on (:func:`itdose.core.fill.fill_tiers`; by default the limit from ``now`` on): each
    window is judged against the fill of the fluids that can be alone in it."""
    limit = limit_fg(d, lib, drug)
    pieces, lags = recorded if recorded is not None else recorded_terms(d, drug, now)
    base = (*in_flight_flows(d, drug), *lags, *flows)
    judged = tiers if tiers is not None else ((now, limit),)

    def fits(fg: int) -> bool:
        new = (flow_for(fg),) if fg else ()
        return all(peak_fg(pieces, (*base, *new), at, fill) <= fill for at, fill in judged)

    if fits(requested_fg):
        return ng_up(requested_fg)
    if not fits(0):
        return 0
    lo, hi = 0, requested_fg
    guess = _cap_guess(pieces, base, now, judged[0][1], requested_fg, flow_for)
    for probe in (guess, guess + FG_PER_NG):
        if lo < probe < hi:
            lo, hi = (probe, hi) if fits(probe) else (lo, probe)
    while (hi - 1) // FG_PER_NG > lo // FG_PER_NG:
        mid = (lo // FG_PER_NG + (hi - 1) // FG_PER_NG + 1) // 2 * FG_PER_NG
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return ng_down(lo)


def _cap_guess(
    pieces: tuple[Piece, ...],
    base: tuple[Flow, ...],
    now: int,
    limit: int,
    hi: int,
    flow_for: Callable[[int], Flow],
) -> int:
    """The largest whole ng below ``hi`` fg that :func:`cap_room_ng` expects to fit, in fg, found
    without the ledger's exact peak: the window totals of ``pieces`` and ``base`` are swept once
    at every window end where one of their terms' slopes falls (at or after ``now``: where the
    peak can be, :func:`itdose.core.ledger.peak`), and each amount's flow adds its head there and
    at its own such end (where the total of ``pieces`` and ``base`` is computed once per end).
    That is the exact peak's arithmetic (its largest window total is at one of those ends), a
    binary search over whole ng on it that first tries the amount in proportion to the least
    room the request's flow leaves at an end (and 1 ng more); the caller confirms the guess
    with exact peaks."""
    period = common_period(*(p.pace_s for p in pieces), *(f.pace_s for f in base))
    terms = [p.term(period) for p in pieces]
    flow_terms = [f.term(period) for f in base]
    ends = [(now, 1), *candidates(INT_OPS, terms, flow_terms, period)]
    ends = [(n, den) for n, den in ends if n >= now * den]
    sums = list(zip(ends, _totals(terms, flow_terms, period, ends), strict=True))
    at_own: dict[tuple[int, int], int] = {}

    def over(fg: int, ends: list[tuple[tuple[int, int], int]]) -> list[tuple[tuple[int, int], int]]:
        # the ends (and their totals) where the window with fg's flow holds more than the limit;
        # ``share`` keeps the least ratio of the room left there to the flow's head
        flow = flow_for(fg)
        scaled = common_period(period, flow.pace_s)
        start, amount, rate = flow.term(scaled)
        den = max(rate, 1)
        num = start * den + min(amount * scaled, WINDOW_S * den)
        gcd = math.gcd(num, den)  # one instant, one key (an hourly cut ends an hour on)
        own = (num // gcd, den // gcd)  # after now: a delivery starts now
        if own not in at_own:
            at_own[own] = total_at(INT_OPS, terms, flow_terms, *own, period)
        ends = [*ends, (own, at_own[own])]
        out = []
        for (n, den), total in ends:
            since = n - start * den
            most = min(amount * scaled * den, rate * min(since, WINDOW_S * den)) if since > 0 else 0
            room = limit * scaled * den - total * (scaled // period)
            if most > room:
                out.append(((n, den), total))
                if max(0, room) * share[1] < share[0] * most:
                    share[:] = [max(0, room), most]
        return out

    share = [1, 1]  # room, head (read after the request's ends)
    # an end where the whole request's flow keeps within the limit keeps any smaller amount's
    sums = over(hi, sums)
    lo, top = 0, (hi - 1) // FG_PER_NG + 1  # lo ng fits, top ng is at or above hi
    # a head grows about in proportion to the amount: first the whole ng that proportion gives
    # and 1 ng more (where the guess is usually right), then halvings
    near = hi * share[0] // share[1] // FG_PER_NG
    for probe in (near, near + 1):
        if lo < probe < top:
            lo, top = (probe, top) if not over(probe * FG_PER_NG, sums) else (lo, probe)
    while top - lo > 1:
        mid = (lo + top) // 2
        lo, top = (mid, top) if not over(mid * FG_PER_NG, sums) else (lo, mid)
    return lo * FG_PER_NG


LAG_ORDER_ID = 2**62
"""The ids of the ledger pieces that count the last nanolitre of a richer fluid once more
(R-TIP-5) start here: the lag term of a report of order ``n`` is ``LAG_ORDER_ID + n``, so that
no order has it (order ids count up from 1) and two terms are two pieces: one id would add the
second fall's nanolitre to the first one's piece, moving it to the second fall (counted, in
every window that starts between the two falls, where it cannot lie: a cut of up to 490 ng at
the hard maximum a day later)."""


def is_lag(piece: Piece) -> bool:
    """``piece`` is a lag term of R-TIP-5 (:data:`LAG_ORDER_ID`), not drug an order moved."""
    return piece.order_id >= LAG_ORDER_ID


def recorded_terms(d: Device, drug: str, now: int) -> tuple[tuple[Piece, ...], tuple[Flow, ...]]:
    """The recorded drug of ``drug`` that can lie in a window ending at or after ``now``, as the
    peak reads it (REQ-GOV-004): the ledger's live pieces, and the one-nanolitre lag term of a
    richer fluid that ended within the last day (R-TIP-5). That term belongs to the windows that
    start before the richer fluid's end ``e`` and end after it (a window ending at ``e`` holds
    none of the fluid behind it): as a piece it is counted in every window that starts before
    ``e``, which from ``now > e`` on are just those; at ``now == e`` (the tick in the second the
    report arrives) it is read as a flow from ``e``, counted in every window that ends after
    ``e`` (those that also start after ``e`` hold only what is still to come, far below it)."""
    pieces = ledger_of(d, drug).live(now)
    # the pieces ending at or after now are the ledger's last (in the order of their ends)
    first = len(pieces)
    for p in reversed(pieces):  # a bounded loop
        if p.end_s < now:
            break
        first -= 1
    lags = tuple(p for p in pieces[first:] if p.order_id >= LAG_ORDER_ID)  # is_lag
    if not lags:
        return pieces, ()
    kept = tuple(p for p in pieces if not is_lag(p) or p.end_s < now)
    return kept, tuple(Flow(p.end_s, p.amount_fg, p.amount_fg, 1) for p in lags)


def ledger_of(d: Device, drug: str) -> Ledger:
    """The rolling 24 h ledger of ``drug`` leaving the tip."""
    if drug == d.drug:
        return d.ledger
    for entry in d.other_ledgers:
        if entry.drug == drug:
            return entry.ledger
    return Ledger()


def with_ledger(d: Device, drug: str, ledger: Ledger) -> Device:
    """``d`` with ``ledger`` as the rolling 24 h ledger of ``drug``."""
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
    path = _path(d)
    res_drug, res_conc = _fluid(d)
    if drug == res_drug and res_conc > 0 and path._only(drug, res_conc):  # one fluid all along
        n = target_fg // res_conc
        return n, n * res_conc, False
    volume = fg = 0
    first: int | None = None
    rest = path.volume_nl - skip_nl
    pieces = path.outflow(skip_nl, rest, NO_DRUG, 0) if rest > 0 else ()
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


def limit_fg(d: Device, lib: Library, drug: str | None = None) -> int:
    """The hard daily maximum of ``drug`` in fg as the accounting may fill it: rounded down,
    where it is not a whole number of nanolitres of a concentration of ``drug`` in the fluid
    path or the reservoir, to whole nanolitres of each (R-TIP-5: a drive that lags its pace
    line by under a nanolitre at a window's start moves whole nanolitres into it, up to the
    counted volume plus one; at 12 mg/mL the 20 mg maximum is 1,666,666 2/3 nL, and a steady
    program at it put 20,000,004 ng in a window)."""
    limit = hard_max_ng(d, lib, drug) * FG_PER_NG
    drug = drug if drug is not None else d.drug
    concs = {s.concentration_ng_per_ml for s in _path(d).segments if s.drug == drug}
    if d.reservoir is not None and d.reservoir.drug == drug:
        concs.add(d.reservoir.concentration_ng_per_ml)
    return limit - max((limit % k for k in concs if k), default=0)


def _pump(d: Device, lib: Library) -> PumpModel | None:
    return lib.pump(d.implant.pump) if d.implant is not None else None


def _find(d: Device, order_id: int) -> Order | None:
    for o in d.orders:
        if o.id == order_id:
            return o
    return None


def _tip_drug(d: Device) -> str:
    """The drug the next volume pushes out of the tip (after the volume in flight)."""
    drug, conc = _fluid(d)
    path = _path(d)
    if path._only(drug, conc):  # one fluid all along (the common case)
        return drug
    first = path.outflow(in_flight_nl(d), 1, drug, conc)
    return first[0].drug if first else NO_DRUG


def _homogeneous(d: Device) -> bool:
    """The path holds only the reservoir's fluid (no concentration or drug change under way)."""
    drug, conc = _fluid(d)
    return all((s.drug, s.concentration_ng_per_ml) == (drug, conc) for s in _path(d).segments)


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
    low, empty = pump.low_reservoir_threshold.value, pump.empty_threshold.value
    return Projection(
        now + max(0, volume - low) * DAY_S // per_day_nl,
        now + max(0, volume - empty) * DAY_S // per_day_nl,
    )
