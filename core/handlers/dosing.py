"""Dosing: programming, starting, suspending and resuming, the clock, drive reports, boluses and
the explant; with the restart rule (docs/dosing-rules.md#r-lim-10)."""

from __future__ import annotations

from typing import Final

from itdose.core import commands as cmd
from itdose.core import dosing
from itdose.core import library as lib
from itdose.core.alarms import AlarmKind
from itdose.core.bolus import BOLUS_KINDS
from itdose.core.effects import CancelOrder, ProgramComparison, ProgramFigures, Warn
from itdose.core.errors import InvalidInput, LimitViolation, RejectedCommand
from itdose.core.governor import Reason
from itdose.core.handlers.alarms import resound
from itdose.core.handlers.base import (
    HARD,
    WITHDRAWAL_TEXT,
    Applied,
    Handler,
    check_non_negative,
    check_overrides,
    check_positive,
    check_text,
    no_check,
    require_reason,
    trial_of,
    withdrawal_risk,
)
from itdose.core.handlers.mri import count_beyond_the_scan
from itdose.core.program import (
    FlexClock,
    Increase,
    Program,
    ProgramContext,
    basal_daily_ng,
    check_program,
    titration_base,
)
from itdose.core.state import DeliveryKind, Device, LastDelivery, Phase, evolve
from itdose.core.units import DAY_S, format_amount_ng, format_duration_s, volume_nl_for

RESTART_CONFIRM_S = DAY_S
"""A restart after more than 24 h without delivery needs a clinician's reason (a design value:
tolerance may have fallen; docs/dosing-rules.md#r-lim-10; REQ-TITR-006)."""
MAX_TITRATION_WINDOW_S = 7 * DAY_S
"""Increases older than the longest titration window are dropped from the state."""


def delivering(d: Device) -> bool:
    """Basal is being delivered: the device is active with a non-zero program."""
    return d.phase is Phase.ACTIVE and d.program is not None and basal_daily_ng(d.program.basal) > 0


def note_delivery(d: Device, now: int) -> Device:
    """``d`` with the program it is delivering noted as the restart reference (every accepted
    command passes here first, so the reference holds the dose and the last instant before a
    stop)."""
    program = d.program
    if d.phase is not Phase.ACTIVE or program is None:
        return d
    dose = basal_daily_ng(program.basal)  # once: delivering(d) is this phase, program and dose
    drug = d.drug
    if dose <= 0 or drug is None:
        return d
    last = d.last_delivery
    if last is not None and last.drug == drug and last.dose_ng_per_day == dose:
        return d  # the same dose goes on: nothing to note (a no-op command changes nothing)
    return evolve(d, last_delivery=LastDelivery(drug, dose, now))


def restart_from(d: Device) -> int | None:
    """While delivery is stopped, the last daily dose of the drug in the pump delivered before
    the stop (a restart may return to it without titration); None while delivering or when that
    drug was never delivered (REQ-TITR-005)."""
    last = d.last_delivery
    if delivering(d) or last is None or last.drug != d.drug:
        return None
    return last.dose_ng_per_day


def check_restart(d: Device, now: int, program: Program | None, reason: str) -> None:
    """A command that restarts delivery (``program`` non-zero) more than 24 h after delivery was
    last seen needs the clinician's ``restart_reason`` (REQ-TITR-006)."""
    check_text(reason, "command.restart_reason")
    last = d.last_delivery
    if program is None or basal_daily_ng(program.basal) == 0 or delivering(d) or last is None:
        return
    # when the drug last left the tip (the ledger keeps a day): longer ago, or never since the
    # dose was noted, needs the clinician's reason
    seen = max(last.at_s, dosing.ledger_of(d, last.drug).newest_s)
    if now - seen > RESTART_CONFIRM_S and not reason.strip():
        stopped, bound = format_duration_s(now - seen), format_duration_s(RESTART_CONFIRM_S)
        why = (
            f"delivery has been stopped for {stopped}: a restart after more than 24 h without "
            "delivery needs a clinician's confirmation with a reason (tolerance may have fallen)"
        )
        raise RejectedCommand(
            "command.restart_reason", why, value=stopped, limit=f"<= {bound} without a reason"
        )


def check_program_or_raise(
    d: Device,
    program: Program,
    c: cmd.SetProgram | cmd.CompleteRefill,
    now: int,
    library: lib.Library,
) -> None:
    """``program``, given with ``c``'s overrides, confirmation and UTC time, passes
    :func:`~itdose.core.program.check_program` (else the first open violation is raised)."""
    assert d.implant is not None
    ctx = ProgramContext(
        previous=d.program,
        increases=d.increases,
        now_s=now,
        overrides=tuple((o.limit_id, o.reason) for o in c.overrides),
        confirm_withdrawal_risk=c.confirm_withdrawal_risk,
        initial=d.program is None,
        utc_now_s=c.utc_now_s,
        # an implanted device has a trial (state.check_consistent)
        effective_screening_dose_ng=trial_of(d).effective_dose_ng,
        restart_from_ng_per_day=restart_from(d),
    )
    report = check_program(program, library, d.implant.pump, ctx)
    open_items = [v for v in report.violations if not (v.level == "soft" and v.overridden)]
    if open_items:
        first = open_items[0]
        rest = "; ".join(f"{v.limit}: {v.message}" for v in open_items[1:])
        why = first.message + (f" (also: {rest})" if rest else "")
        field, value = f"command.program.{first.field}", first.value
        raise LimitViolation(
            field, why, limit_id=first.limit, level=first.level, value=value, limit=first.bound
        )
    if program.basal.clock is FlexClock.WALL and c.utc_now_s is None:
        raise InvalidInput("command.utc_now_s", "a wall-clock schedule needs the UTC time")


def install_program(d: Device, program: Program, utc_now_s: int | None, now: int) -> Device:
    increases = tuple(i for i in d.increases if i.at_s > now - MAX_TITRATION_WINDOW_S)
    if d.program is not None:
        # a restart up to the last delivered dose is not an increase (REQ-TITR-005)
        old = titration_base(basal_daily_ng(d.program.basal), restart_from(d))
        new = basal_daily_ng(program.basal)
        if new > old:
            increases = (*increases, Increase(now, old, new))
    return evolve(
        d,
        program=program,
        program_start_s=now,
        basal_until_s=now,
        basal_carry=0,
        increases=increases,
        utc_minus_mono_s=utc_now_s - now if utc_now_s is not None else d.utc_minus_mono_s,
    )


def _figures(d: Device, now: int, library: lib.Library) -> ProgramFigures | None:
    """The side-by-side figures of ``d``'s program (None without one)."""
    if d.program is None:
        return None
    p, pb = d.program, d.program.patient_bolus
    basal = basal_daily_ng(p.basal)
    worst = basal + (pb.dose_ng * pb.max_per_24h if pb else 0)
    rate = volume_nl_for(basal, p.concentration_ng_per_ml)
    low = dosing.projection(d, now, library).low_reservoir_at_s
    return ProgramFigures(basal, worst, rate, low)


def _v_set_program(d: Device, c: cmd.SetProgram, now: int, library: lib.Library) -> None:
    check_overrides(c.overrides)
    if d.implant is None or d.reservoir is None:
        raise RejectedCommand("command", "fill the reservoir before programming")
    fluid = (d.reservoir.drug, d.reservoir.indication, d.reservoir.concentration_ng_per_ml)
    if (c.program.drug, c.program.indication, c.program.concentration_ng_per_ml) != fluid:
        raise RejectedCommand(
            "command.program",
            "the program must match the drug, indication and concentration in the reservoir "
            "(a concentration change happens at a refill)",
        )
    check_program_or_raise(d, c.program, c, now, library)
    # a program change while active restarts delivery when the pump ran at zero rate
    check_restart(d, now, c.program if d.phase is Phase.ACTIVE else None, c.restart_reason)


def _h_set_program(d: Device, c: cmd.SetProgram, now: int, library: lib.Library) -> Applied:
    before = _figures(d, now, library)
    d = install_program(d, c.program, c.utc_now_s, now)
    after = _figures(d, now, library)
    assert after is not None
    basal = (o for o in d.orders if o.kind is DeliveryKind.BASAL)
    cancels = (CancelOrder(o.id, "program changed") for o in basal)
    projection = dosing.projection(d, now, library)
    return Applied(d, (ProgramComparison(before, after), *cancels, projection))


def _v_start_dosing(d: Device, c: cmd.StartDosing, now: int, library: lib.Library) -> None:
    check_restart(d, now, d.program, c.restart_reason)


def _v_resume(d: Device, c: cmd.Resume, now: int, library: lib.Library) -> None:
    require_reason(c.reason, "command.reason")
    check_restart(d, now, d.program, c.restart_reason)


def _h_start_dosing(
    d: Device, c: cmd.StartDosing | cmd.Resume, now: int, library: lib.Library
) -> Applied:
    """Dosing starts (or resumes) now; the first start also begins the elapsed flex cycles."""
    start = now if isinstance(c, cmd.StartDosing) else d.program_start_s
    d = evolve(d, basal_until_s=now, program_start_s=start)
    return Applied(d, (dosing.projection(d, now, library),))


def _v_stop_with_risk(
    d: Device, c: cmd.Suspend | cmd.Explant, now: int, library: lib.Library
) -> None:
    require_reason(c.reason, "command.reason")
    if withdrawal_risk(d, library) and not c.confirm_withdrawal_risk:
        why = f"stopping {d.drug} needs an explicit confirmation of the withdrawal risk"
        raise RejectedCommand("command.confirm_withdrawal_risk", why)


def _h_withdrawal_warning(
    d: Device, c: cmd.Suspend | cmd.Explant, now: int, library: lib.Library
) -> Applied:
    if withdrawal_risk(d, library):
        return Applied(d, (Warn("withdrawal_risk", WITHDRAWAL_TEXT),))
    return Applied(d)


def _v_tick(d: Device, c: cmd.Tick, now: int, library: lib.Library) -> None:
    if not dosing.SEGMENT_S <= c.max_segment_s <= DAY_S:
        why, bound = "must lie between one hour and one day", f"{dosing.SEGMENT_S}..{DAY_S} s"
        raise InvalidInput("command.max_segment_s", why, value=c.max_segment_s, limit=bound)


def _h_tick(d: Device, c: cmd.Tick, now: int, library: lib.Library) -> Applied:
    """The clock's plan is made once, here (no guard plans a delivery); the alarm conditions it
    finds are what the step raised."""
    plan = dosing.plan_tick(d, now, library, c.max_segment_s)
    d, effects = dosing.apply_plan(d, now, plan)
    resounded = resound(d, now)
    return Applied(resounded.device, (*effects, *resounded.effects), plan.alarms)


def _v_drive_report(d: Device, c: cmd.DriveReport, now: int, library: lib.Library) -> None:
    check_non_negative(c.order_id, "command.order_id")
    check_non_negative(c.delivered_nl, "command.delivered_nl")
    check_non_negative(c.unsure_nl, "command.unsure_nl")
    if c.unsure_nl > c.delivered_nl:
        raise InvalidInput("command.unsure_nl", "must not exceed delivered_nl", value=c.unsure_nl)


def _h_drive_report(d: Device, c: cmd.DriveReport, now: int, library: lib.Library) -> Applied:
    """An over-delivering report raises the HIGH delivery-deviation alarm (REQ-TIP-004). A report
    whose order's cut is not known carried out (``uncut``) first counts the order as not cut
    (docs/dosing-rules.md#r-tip-3); one that is an upper bound (``unsure_nl``) counts the path
    as the richest fluid within its doubt (docs/dosing-rules.md#r-tip-6)."""
    d, undone = dosing.uncut(d, c.order_id, c.final, now) if c.uncut else (d, ())
    over = dosing.over_delivered(d, c.order_id, c.delivered_nl, now)
    d, recounted = count_beyond_the_scan(d, c.order_id, c.delivered_nl, now)
    d, effects = dosing.apply_report(d, c.order_id, c.delivered_nl, c.final, now, c.unsure_nl)
    deviation = (AlarmKind.DELIVERY_DEVIATION,) if over else ()
    return Applied(d, (*undone, *recounted, *effects), deviation)


def _h_request_bolus(d: Device, c: cmd.RequestBolus, now: int, library: lib.Library) -> Applied:
    after, effects = dosing.request_bolus(d, now, library)
    kind = AlarmKind.MAX_DOSE_REACHED
    limited = after.has_alarm(kind) and not d.has_alarm(kind)
    return Applied(after, effects, (kind,) if limited else ())


def _v_clinician_bolus(d: Device, c: cmd.ClinicianBolus, now: int, library: lib.Library) -> None:
    check_positive(c.dose_ng, "command.dose_ng")
    check_positive(c.duration_s, "command.duration_s")
    plan = dosing.clinician_plan(d, now, library, c.dose_ng, c.duration_s)
    decision = plan.decision
    if decision.granted_ng == 0 and Reason.NOT_DELIVERING in decision.reasons:
        _refuse_during_a_bolus(d, now)
    if decision.granted_ng == 0:
        cap = library.drug(d.drug or "", d.indication or "").max_daily
        why = f"the bolus does not fit ({', '.join(r.value for r in decision.reasons)})"
        if Reason.NOT_DELIVERING in decision.reasons and plan.in_the_way:
            why += (
                f": {' and '.join(plan.in_the_way)} may still leave the catheter tip first (the "
                "fluid path or a shadow of it holds it): give the clinician bolus once it has left"
            )
        shown = format_amount_ng(c.dose_ng)
        raise LimitViolation(
            "command.dose_ng", why, limit_id=cap.id, level=HARD, value=shown, limit=cap.text()
        )


def _refuse_during_a_bolus(d: Device, now: int) -> None:
    """A clinician bolus asked while another bolus is in flight, or ended but not yet reported,
    is refused naming that bolus and when it ends (docs/dosing-rules.md#r-bol-5): one order at a
    time, and nothing changes."""
    order = next((o for o in d.orders if o.kind in BOLUS_KINDS), None)
    if order is None:
        return
    what = f"a {order.kind.value.replace('_', ' ')} (order {order.id})"
    if order.end_s > now:
        text = (
            f"{what} is in flight until t={order.end_s} s "
            f"({format_duration_s(order.end_s - now)} from now): give the clinician bolus when "
            "it ends"
        )
    else:
        text = (
            f"{what} ended at t={order.end_s} s and its final drive report is awaited: give the "
            "clinician bolus once it is reported"
        )
    raise RejectedCommand("command", text, value=f"t={now} s", limit=f">= t={order.end_s} s")


def _h_clinician_bolus(d: Device, c: cmd.ClinicianBolus, now: int, library: lib.Library) -> Applied:
    return Applied(*dosing.clinician_bolus(d, now, library, c.dose_ng, c.duration_s))


HANDLERS: Final = (
    Handler(cmd.SetProgram, _v_set_program, _h_set_program),
    Handler(cmd.StartDosing, _v_start_dosing, _h_start_dosing),
    Handler(cmd.Resume, _v_resume, _h_start_dosing),
    Handler(cmd.Suspend, _v_stop_with_risk, _h_withdrawal_warning),
    Handler(cmd.Tick, _v_tick, _h_tick),
    Handler(cmd.DriveReport, _v_drive_report, _h_drive_report),
    Handler(cmd.RequestBolus, no_check, _h_request_bolus),
    Handler(cmd.ClinicianBolus, _v_clinician_bolus, _h_clinician_bolus),
    Handler(cmd.Explant, _v_stop_with_risk, _h_withdrawal_warning),
)
