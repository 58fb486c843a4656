"""The delivery engine: priming, the arrival of new fluid at the tip and the resumption after an
MRI; the rest of the engine (flight, fill, basal, bolus, drive_reports) is re-exported, so that
``itdose.core.dosing`` names it all. Its rules (the governor decides every amount, orders are
prospective, only reports count, limits count the tip): docs/architecture.md#delivery-engine.
"""

from __future__ import annotations

from itdose.core.arith import ceil_div
from itdose.core.basal import (
    SEGMENT_S,
    TickPlan,
    apply_plan,
    apply_tick,
    plan_tick,
    raise_alarms,
    segment_s,
)
from itdose.core.bolus import (
    bolus_in_flight,
    clinician_bolus,
    clinician_decision,
    clinician_plan,
    request_bolus,
)
from itdose.core.drive_reports import apply_report, over_delivered, uncut
from itdose.core.effects import DeliveryOrder, Effect
from itdose.core.fill import fill_tiers, over_fg, within
from itdose.core.flight import (
    _cmax,
    _fluid,
    _path,
    ahead,
    cap_room_ng,
    hard_max_ng,
    in_flight_flows,
    in_flight_nl,
    ledger_of,
    plan_volume,
    projection,
    reservoir_room_ng,
)
from itdose.core.governor import Request, decide_basal
from itdose.core.ledger import Flow, pace_nl_per_h
from itdose.core.library import Library, MriPolicy
from itdose.core.path import amount_fg, drugs_in, ng_up
from itdose.core.program import basal_daily_ng
from itdose.core.state import DeliveryKind, Device, Order, evolve
from itdose.core.units import DAY_S, FG_PER_NG, volume_nl_for

__all__ = [
    "SEGMENT_S",
    "TickPlan",
    "ahead",
    "apply_plan",
    "apply_report",
    "apply_tick",
    "bolus_in_flight",
    "cap_room_ng",
    "clinician_bolus",
    "clinician_decision",
    "clinician_plan",
    "fill_tiers",
    "hard_max_ng",
    "in_flight_flows",
    "in_flight_nl",
    "ledger_of",
    "mri_resumes",
    "over_delivered",
    "over_fg",
    "plan_tick",
    "plan_volume",
    "priming_order",
    "projection",
    "raise_alarms",
    "request_bolus",
    "reservoir_room_ng",
    "segment_s",
    "tip_arrival",
    "uncut",
    "within",
]


def mri_resumes(d: Device) -> bool:
    """After the scan a SynchroMed II resumes by itself, unless it was not dosing before the scan
    or an alarm was active when the scan began (docs/dosing-rules.md#mri)."""
    s = d.mri
    return (
        s is not None
        and s.policy is MriPolicy.SUSPEND_VERIFY
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
        need, room = ng_up(fg), cap_room_ng(d, now, lib, drug, fg, flow)
        decision = decide_basal(
            Request(requested_ng=need, cap_room_ng=room, reservoir_room_ng=None, delivering=True)
        )
        if decision.granted_ng < need:
            volume = 0
    if volume <= 0:
        return d, ()
    order = Order(d.next_order_id, DeliveryKind.PRIMING, now, now + duration_s, volume)
    d = evolve(d, orders=(*d.orders, order), next_order_id=d.next_order_id + 1)
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
    seconds, before = 0, after
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
