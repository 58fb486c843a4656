"""MRI: emptying the reservoir, the scan (pump-family workflows, the emergency scan) and the
post-MRI confirmation (docs/dosing-rules.md#mri)."""

from __future__ import annotations

import dataclasses
from typing import Final

from itdose.core import commands as cmd
from itdose.core import dosing
from itdose.core import library as lib
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.effects import Annunciate, Effect, Warn
from itdose.core.errors import RejectedCommand
from itdose.core.flight import with_ledger
from itdose.core.handlers.base import (
    Applied,
    Handler,
    check_non_negative,
    check_text,
    refuse_while_reporting,
    require_reason,
)
from itdose.core.ledger import pace_nl_per_h
from itdose.core.path import FluidPath, Segment, drugs_in, ng_up
from itdose.core.program import basal_daily_ng
from itdose.core.reach import (
    EMERGENCY_MRI_NL,
    held_doses,
    richest_within,
    shadow_spans,
    spans_of,
)
from itdose.core.state import Device, MriSession, Phase, evolve
from itdose.core.units import format_amount_ng, format_concentration_ng_per_ml, format_volume_nl


def _v_empty_reservoir(d: Device, c: cmd.EmptyReservoir, now: int, library: lib.Library) -> None:
    check_non_negative(c.withdrawn_nl, "command.withdrawn_nl")
    if d.reservoir is None:
        raise RejectedCommand("command", "the reservoir was never filled")
    refuse_while_reporting(d)


def _h_empty_reservoir(d: Device, c: cmd.EmptyReservoir, now: int, library: lib.Library) -> Applied:
    assert d.reservoir is not None
    return Applied(evolve(d, reservoir=dataclasses.replace(d.reservoir, volume_nl=0)))


def _mri_policy(d: Device, library: lib.Library) -> lib.MriPolicy:
    assert d.implant is not None
    return library.pump(d.implant.pump).mri_policy


def _v_begin_mri(d: Device, c: cmd.BeginMri, now: int, library: lib.Library) -> None:
    check_text(c.reason, "command.reason")
    if d.mri is not None:
        raise RejectedCommand("command", "an MRI is already in progress or awaiting confirmation")
    policy = _mri_policy(d, library)
    if policy is lib.MriPolicy.REFUSE:
        pump = d.implant.pump if d.implant else "this pump"
        raise RejectedCommand("command", f"{pump} is MR unsafe: MRI refused")
    if c.emergency and policy is not lib.MriPolicy.EMPTY_AND_RESET:
        raise RejectedCommand(
            "command.emergency",
            "an emergency scan with drug in the reservoir applies to a pump with a Flow "
            "Activated Valve (Prometra II); this pump's own MRI workflow applies",
        )
    if policy is lib.MriPolicy.SUSPEND_VERIFY:
        # docs/dosing-rules.md#r-mri-2 (REQ-MRI-003): both delay the detection of an extended
        # motor stall; the scan itself stops the rotor and the core suspends delivery then.
        stall = "as MRI preparation is rejected: it delays the detection of an extended motor stall"
        if d.program is not None and basal_daily_ng(d.program.basal) == 0:
            raise RejectedCommand("command", f"a stopped pump (zero rate) {stall}")
        if d.phase is Phase.SUSPENDED:
            resume = "resume delivery before the scan (the scan suspends it)"
            raise RejectedCommand("command", f"a suspended pump {stall}; {resume}")
        return
    if c.emergency:
        # docs/dosing-rules.md#r-mri-5 (REQ-MRI-006): drug in the reservoir, no time to empty it
        require_reason(c.reason, "command.reason")
        return
    # EMPTY_AND_RESET: an empty reservoir and zero rate first
    volume = d.reservoir.volume_nl if d.reservoir is not None else 0
    if d.phase is Phase.ACTIVE or volume > 0:
        why = (
            "a planned MRI of this pump needs an empty reservoir and zero rate: suspend and "
            "empty the reservoir first (or record an emergency scan with a reason)"
        )
        raise RejectedCommand("command", why, value=format_volume_nl(volume))


def _h_begin_mri(d: Device, c: cmd.BeginMri, now: int, library: lib.Library) -> Applied:
    session = MriSession(
        policy=_mri_policy(d, library),
        began_at_s=now,
        alarm_active_at_start=bool(d.alarms),
        resume_to_active=d.phase is Phase.ACTIVE,
        emergency=c.emergency,
        reason=c.reason,
    )
    d = evolve(d, mri=session)
    return _count_emergency_scan(d, now) if c.emergency else Applied(d)


def movable_nl(d: Device, now: int) -> int:
    """The most the orders in flight can have moved beyond their last reports by ``now``: each
    order's volume, its pace since its start and since its last report (the trust a drive report
    is held to, :func:`itdose.core.ledger.ahead_of_pace`; more raises the HIGH deviation alarm).
    Every order in flight at an emergency scan is stopped by it (or was stopped before), so what
    it moved is at most this, whatever it was granted (REQ-MRI-006)."""
    total = 0
    for o in d.orders:
        if o.volume_nl <= o.reported_nl:
            continue
        at = min(now, o.stopped_s) if o.stopped_s else now  # stopped by an earlier scan
        pace = pace_nl_per_h(o.volume_nl, o.end_s - o.start_s)
        most = pace * (max(0, at - o.start_s) + 1) // 3600
        if o.reported_s > 0:
            since = max(o.start_s, o.reported_s)
            most = min(most, o.reported_nl + 1 + pace * (max(0, at - since) + 1) // 3600)
        total += max(0, min(o.volume_nl, most) - o.reported_nl)
    return total


def _count_emergency_scan(d: Device, now: int) -> Applied:
    """The Flow Activated Valve closes and stops every order in flight; the labelled worst case,
    10 uL leaving the tip right behind whatever the orders moved (0 up to :func:`movable_nl`
    beyond their reports, never the rest of their grants), each drug at its richest concentration
    there, is counted as an instant at the scan start in each drug's 24 h window, and the fluid
    path moves on with the worst case (:func:`_path_after_scan`). Why each:
    docs/dosing-rules.md#r-mri-5 (REQ-MRI-006)."""
    d, shown = _count_instant(d, movable_nl(d, now), now)
    stopped = tuple(o if o.stopped_s else dataclasses.replace(o, stopped_s=now) for o in d.orders)
    d = _path_after_scan(evolve(d, orders=stopped))
    text = (
        f"Emergency MRI with drug in the reservoir: the Flow Activated Valve closes. The labelled "
        f"worst case, {format_volume_nl(EMERGENCY_MRI_NL)}, is counted as delivered now: "
        + (", ".join(shown) if shown else "no drug")
        + ". After the scan delivery stays at zero until the valve reset is recorded."
    )
    return Applied(d, (Warn("emergency_mri", text),))


def _count_instant(d: Device, behind_nl: int, now: int) -> tuple[Device, list[str]]:
    """The labelled worst case counted as an instant at ``now``: each drug at its richest
    concentration from the tip to 10 uL behind ``behind_nl`` (REQ-MRI-006); and its text."""
    length = behind_nl + EMERGENCY_MRI_NL
    ahead = dosing.ahead(d, 0, length)
    shadows = (s for s in d.shadows if s.start_nl < length)
    ahead += tuple(Segment(s.volume_nl, s.drug, s.concentration_ng_per_ml) for s in shadows)
    order_id = d.next_order_id
    total_fg = 0
    shown: list[str] = []
    for drug in drugs_in(ahead):
        conc = max(p.concentration_ng_per_ml for p in ahead if p.drug == drug)
        fg = EMERGENCY_MRI_NL * conc
        ledger = dosing.ledger_of(d, drug).record(now, order_id, now, fg, fg, 1, instant=True)
        d = with_ledger(d, drug, ledger)
        total_fg += fg
        shown.append(
            f"{format_amount_ng(ng_up(fg))} of {drug} ({format_concentration_ng_per_ml(conc)})"
        )
    d = evolve(d, next_order_id=order_id + 1, delivered_ng=d.delivered_ng + ng_up(total_fg))
    return d, shown


def count_beyond_the_scan(
    d: Device, order_id: int, delivered_nl: int, now: int
) -> tuple[Device, tuple[Effect, ...]]:
    """A report of an order an emergency scan stopped that says it moved more than its pace
    allows by the scan (judged at the scan's instant, however late the report comes: the HIGH
    delivery-deviation alarm, :func:`itdose.core.dosing.over_delivered`): the 10 uL counted at
    the scan were counted behind less than the orders moved, so they can have been richer. They
    are counted again, as an instant now, each drug at its richest from the tip to 10 uL behind
    all that the orders in flight can still move (never less than what left at the scan; the
    windows that end between the scan and now are past). Call it before the report is counted
    (the path still holds what the report takes from the tip). docs/dosing-rules.md#r-mri-5,
    REQ-MRI-006."""
    order = next((o for o in d.orders if o.id == order_id), None)
    if order is None or not order.stopped_s:
        return d, ()
    if not dosing.over_delivered(d, order_id, delivered_nl, now):
        return d, ()
    d, shown = _count_instant(d, dosing.in_flight_nl(d), now)
    drugs = ", ".join(shown) if shown else "no drug"
    text = (
        f"Order {order_id}, stopped by the emergency MRI, moved more than its pace allows by the "
        f"scan: the labelled worst case, {format_volume_nl(EMERGENCY_MRI_NL)}, is counted again "
        f"behind it: {drugs}."
    )
    return d, (Warn("emergency_mri_recounted", text),)


def _path_after_scan(d: Device) -> Device:
    """The path and reservoir after the scan (docs/dosing-rules.md#r-mri-5, REQ-MRI-006). The
    orders in flight moved some nL (their reports will take it from the tip), then between 0 and
    ``reach`` nL (10 uL, no more than the reservoir holds) left the tip: each position of the
    path, the volume in flight included, holds the richest fluid any of those amounts can have
    brought there (:func:`itdose.core.reach.richest_within`), so that neither the orders' reports
    nor the fluid after them are counted leaner than they can be; where that can be either of two
    drugs, the path holds one and a shadow the other, so that each is counted as it leaves.
    The reservoir gives ``reach``."""
    if d.reservoir is None or d.path is None:
        return d
    reach = min(EMERGENCY_MRI_NL, d.reservoir.volume_nl)
    reservoir = dataclasses.replace(d.reservoir, volume_nl=d.reservoir.volume_nl - reach)
    if reach == 0:
        return evolve(d, reservoir=reservoir)
    drug, conc = d.reservoir.drug, d.reservoir.concentration_ng_per_ml
    total = d.path.volume_nl
    behind = d.path.outflow(0, total + reach, drug, conc)
    spans = [*spans_of(behind, 0), *shadow_spans(d.shadows)]
    lanes, shadows = richest_within(spans, total, 0, reach)
    path = FluidPath(lanes)
    flush = held_doses(d, path, shadows)
    return evolve(d, reservoir=reservoir, path=path, flush_doses=flush, shadows=shadows)


def _v_end_mri(d: Device, c: cmd.EndMri, now: int, library: lib.Library) -> None:
    if d.mri is None or d.mri.ended_at_s is not None:
        raise RejectedCommand("command", "no MRI is in progress")


def _h_end_mri(d: Device, c: cmd.EndMri, now: int, library: lib.Library) -> Applied:
    assert d.mri is not None
    d = evolve(d, mri=dataclasses.replace(d.mri, ended_at_s=now))
    d = dosing.raise_alarms(d, (AlarmKind.POST_MRI_VERIFICATION,), now)
    effects: tuple[Effect, ...] = (Annunciate(AlarmKind.POST_MRI_VERIFICATION, Priority.MEDIUM),)
    if d.mri is not None and d.mri.emergency:
        text = (
            "After the emergency scan delivery stays at zero until the Flow Activated Valve "
            "reset is recorded (confirm the post-MRI step), then resume."
        )
        effects = (*effects, Warn("valve_reset_required", text))
    if dosing.mri_resumes(d):
        d = evolve(d, basal_until_s=now)
    return Applied(d, effects, (AlarmKind.POST_MRI_VERIFICATION,))


def _v_confirm_post_mri(d: Device, c: cmd.ConfirmPostMri, now: int, library: lib.Library) -> None:
    require_reason(c.reason, "command.reason")
    if d.mri is None or d.mri.ended_at_s is None:
        raise RejectedCommand("command", "no MRI awaits its post-MRI confirmation")


def _h_confirm_post_mri(
    d: Device, c: cmd.ConfirmPostMri, now: int, library: lib.Library
) -> Applied:
    alarms = tuple(a for a in d.alarms if a.kind is not AlarmKind.POST_MRI_VERIFICATION)
    return Applied(evolve(d, mri=None, alarms=alarms))


HANDLERS: Final = (
    Handler(cmd.EmptyReservoir, _v_empty_reservoir, _h_empty_reservoir),
    Handler(cmd.BeginMri, _v_begin_mri, _h_begin_mri),
    Handler(cmd.EndMri, _v_end_mri, _h_end_mri),
    Handler(cmd.ConfirmPostMri, _v_confirm_post_mri, _h_confirm_post_mri),
)
