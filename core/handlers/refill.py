"""Refill: begin, the reconciliation of the withdrawn residual, completion (with a new drug,
concentration or program) and abort."""

from __future__ import annotations

import dataclasses
from typing import Final

from itdose.core import commands as cmd
from itdose.core import dosing
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.effects import Annunciate, Effect, TipChange, Warn
from itdose.core.errors import LimitViolation, RejectedCommand
from itdose.core.handlers.base import (
    SOFT,
    Applied,
    Handler,
    check_capacity,
    check_non_negative,
    check_overrides,
    check_positive,
    check_text,
    overridden,
    refuse_while_reporting,
    require_reason,
)
from itdose.core.handlers.dosing import check_program_or_raise, check_restart, install_program
from itdose.core.handlers.priming import check_concentration
from itdose.core.ledger import Ledger
from itdose.core.library import Library
from itdose.core.program import basal_daily_ng
from itdose.core.state import Device, DrugLedger, FlushDose, Phase, RefillSession, Reservoir, evolve
from itdose.core.units import format_duration_s, format_percent_bp


def _v_begin_refill(d: Device, c: cmd.BeginRefill, now: int, library: Library) -> None:
    """A refill stops delivery; it cannot begin while a bolus is in flight, which it would cut
    (docs/dosing-rules.md#r-bol-5; REQ-BOL-007). Nothing is urgent then: a bolus runs only while
    delivering, never under a HIGH alarm (an empty reservoir is one); suspending first stays
    possible, and announces the cut bolus (REQ-BOL-008)."""
    order = dosing.bolus_in_flight(d, now)
    if order is not None:
        why = (
            f"a {order.kind.value.replace('_', ' ')} is in flight until t={order.end_s} s "
            f"({format_duration_s(order.end_s - now)} from now): begin the refill when it ends, "
            "or suspend first (the rest of the bolus is then not delivered, and announced)"
        )
        raise RejectedCommand("command", why, value=f"t={now} s", limit=f">= t={order.end_s} s")


def _h_begin_refill(d: Device, c: cmd.BeginRefill, now: int, library: Library) -> Applied:
    expected = d.reservoir.volume_nl if d.reservoir is not None else 0
    refill = RefillSession(expected_residual_nl=expected)
    return Applied(evolve(d, resume_after_refill=d.phase is Phase.ACTIVE, refill=refill))


def _v_record_withdrawal(d: Device, c: cmd.RecordWithdrawal, now: int, library: Library) -> None:
    check_non_negative(c.withdrawn_nl, "command.withdrawn_nl")
    if d.refill is None or d.reservoir is None:
        raise RejectedCommand("command", "the reservoir was never filled: nothing to withdraw")
    if d.refill.withdrawn_nl is not None:
        raise RejectedCommand("command", "the withdrawal of this refill is already recorded")


def _h_record_withdrawal(d: Device, c: cmd.RecordWithdrawal, now: int, library: Library) -> Applied:
    assert d.refill is not None and d.reservoir is not None and d.implant is not None
    pump = library.pump(d.implant.pump)
    finding, deviation = reconcile(
        last_fill_nl=d.last_fill_nl,
        expected_residual_nl=d.refill.expected_residual_nl,
        withdrawn_nl=c.withdrawn_nl,
        over_bp=pump.over_infusion_tolerance.value,
        under_bp=pump.under_infusion_tolerance.value,
    )
    refill = dataclasses.replace(
        d.refill, withdrawn_nl=c.withdrawn_nl, finding=finding, deviation_bp=deviation
    )
    d = evolve(d, refill=refill, reservoir=dataclasses.replace(d.reservoir, volume_nl=0))
    effects: list[Effect] = []
    if finding:
        d = dosing.raise_alarms(d, (AlarmKind.REFILL_FINDING,), now)
        effects.append(Annunciate(AlarmKind.REFILL_FINDING, Priority.MEDIUM))
        shown = ("-" if deviation < 0 else "+") + format_percent_bp(abs(deviation))
        effects.append(Warn("refill_finding", f"{finding}: deviation {shown}"))
        return Applied(d, tuple(effects), (AlarmKind.REFILL_FINDING,))
    return Applied(d)


def reconcile(
    *, last_fill_nl: int, expected_residual_nl: int, withdrawn_nl: int, over_bp: int, under_bp: int
) -> tuple[str, int]:
    """Refill reconciliation (docs/dosing-rules.md; REQ-REF-001): with delivered_actual = fill -
    withdrawn and delivered_expected = fill - expected residual, a deviation above +tolerance is
    an over-infusion finding, below -tolerance an under-infusion finding. Returns the finding
    ("" for none) and the deviation in basis points (rounded toward zero)."""
    expected = last_fill_nl - expected_residual_nl
    actual = last_fill_nl - withdrawn_nl
    diff = actual - expected
    if expected <= 0:
        return ("over-infusion" if diff > 0 else "under-infusion" if diff < 0 else ""), 0
    deviation = abs(diff) * 10_000 // expected * (1 if diff >= 0 else -1)
    if diff * 10_000 > over_bp * expected:
        return "over-infusion", deviation
    if -diff * 10_000 > under_bp * expected:
        return "under-infusion", deviation
    return "", deviation


def _v_complete_refill(d: Device, c: cmd.CompleteRefill, now: int, library: Library) -> None:
    check_overrides(c.overrides)
    check_positive(c.added_nl, "command.added_nl")
    if d.implant is None or d.reservoir is None or d.refill is None:
        why = "the reservoir was never filled: abort the refill and use the initial fill"
        raise RejectedCommand("command", why)
    if d.refill.withdrawn_nl is None:
        raise RejectedCommand("command", "record the withdrawn residual first (reconciliation)")
    refuse_while_reporting(d)
    if d.refill.finding and not c.finding_reason.strip():
        why = (
            f"the refill has a finding ({d.refill.finding}): a clinician must acknowledge it "
            "with a reason before the refill completes"
        )
        raise RejectedCommand("command.finding_reason", why)
    check_text(c.finding_reason, "command.finding_reason")
    pump = library.pump(d.implant.pump)
    why = "the added volume exceeds the reservoir capacity"
    check_capacity(pump, c.added_nl, "command.added_nl", why)
    drug = c.drug if c.drug is not None else d.reservoir.drug
    entry = library.drug(drug, d.reservoir.indication)
    check_concentration(entry, pump, c.concentration_ng_per_ml, c.overrides)
    changed = (
        drug != d.reservoir.drug or c.concentration_ng_per_ml != d.reservoir.concentration_ng_per_ml
    )
    if changed:
        if c.program is None:
            why = "a concentration or drug change needs a new program"
            raise RejectedCommand("command.program", why)
        limit_id = f"{pump.id}.approved_drugs"
        if not pump.is_approved_for(drug) and not overridden(c.overrides, limit_id):
            why = f"{pump.id} is not labelled for {drug}"
            raise LimitViolation("command.drug", why, limit_id=limit_id, level=SOFT, value=drug)
    if c.program is not None:
        if (c.program.drug, c.program.concentration_ng_per_ml) != (drug, c.concentration_ng_per_ml):
            why = "the program must be for the drug and concentration filled"
            raise RejectedCommand("command.program", why)
        check_program_or_raise(d, c.program, c, now, library)
    resumes = d.resume_after_refill and not d.high_alarms()
    program = c.program if c.program is not None else d.program
    check_restart(d, now, program if resumes else None, c.restart_reason)


def _h_complete_refill(d: Device, c: cmd.CompleteRefill, now: int, library: Library) -> Applied:
    """The new fluid goes into the reservoir; the fluid path still holds the old one, which
    leaves the tip first (REQ-TIP-003). After a drug change the old drug's ledger is kept (its
    window counts it as it leaves the tip) and the old drug is delivered at the old program's
    daily dose until it has left; the clinician is shown when the new fluid reaches the tip and
    the volume rates before and after."""
    assert d.reservoir is not None and d.implant is not None
    old = d.reservoir
    drug = c.drug if c.drug is not None else old.drug
    res = Reservoir(drug, old.indication, c.concentration_ng_per_ml, c.added_nl)
    cleared = (AlarmKind.LOW_RESERVOIR, AlarmKind.REFILL_FINDING)
    alarms = tuple(a for a in d.alarms if a.kind not in cleared)
    ledger, others, flush = d.ledger, d.other_ledgers, d.flush_doses
    carry = d.basal_carry
    if drug != old.drug:
        ledger = next((e.ledger for e in others if e.drug == drug), Ledger())
        others = (
            *(e for e in others if e.drug not in (drug, old.drug)),
            DrugLedger(old.drug, d.ledger),
        )
        old_dose = basal_daily_ng(d.program.basal) if d.program is not None else 0
        flush = (
            *(f for f in flush if f.drug not in (drug, old.drug)),
            FlushDose(old.drug, old_dose),
        )
    d = evolve(
        d,
        reservoir=res,
        last_fill_nl=c.added_nl,
        alarms=alarms,
        resume_after_refill=False,
        refill=None,
        ledger=ledger,
        other_ledgers=others,
        flush_doses=flush,
    )
    if c.program is not None:
        d = install_program(d, c.program, c.utc_now_s, now)
        if drug == old.drug:
            # the basal the old program still owed (under a nanolitre or two of the fluid at
            # the tip, which a refill does not change) goes on to the new one (REQ-TIP-004)
            d = evolve(d, basal_carry=carry)
    effects: list[Effect] = []
    arrives, before, after = dosing.tip_arrival(d, now)
    if arrives != now:
        effects.append(TipChange(arrives, before, after))
    effects.append(dosing.projection(d, now, library))
    return Applied(d, tuple(effects))


def _v_reason_only(d: Device, c: cmd.AbortRefill, now: int, library: Library) -> None:
    require_reason(c.reason, "command.reason")


def _h_abort_refill(d: Device, c: cmd.AbortRefill, now: int, library: Library) -> Applied:
    return Applied(evolve(d, resume_after_refill=False))


HANDLERS: Final = (
    Handler(cmd.BeginRefill, _v_begin_refill, _h_begin_refill),
    Handler(cmd.RecordWithdrawal, _v_record_withdrawal, _h_record_withdrawal),
    Handler(cmd.CompleteRefill, _v_complete_refill, _h_complete_refill),
    Handler(cmd.AbortRefill, _v_reason_only, _h_abort_refill),
)
