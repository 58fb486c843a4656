"""Restart is not titration (docs/dosing-rules.md#r-lim-10).

The expectations are written from the rule, not from the core's helpers: a restart may return to
the last daily dose delivered before the stop; above it, baclofen (spinal origin) may rise by at
most 30 % of that dose, once per 24 h; a restart more than 24 h after the last delivery needs a
clinician's reason.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itdose_testkit import DAY, DEAD_VOLUME_NL, HOUR, MORPHINE_PROGRAM, C, S, reach, run
from paced_drive import PacedDrive

from itdose.core import Device, InvalidInput, Library, LimitViolation, Phase, RejectedCommand, step
from itdose.core import commands as c
from itdose.core.effects import DeliveryOrder
from itdose.core.program import Basal, Program

MCG = 1_000
LAST = 100 * MCG
"""The baclofen daily dose delivered before every stop below."""
BACLOFEN_STEP_PERCENT = 30
"""Spinal-origin baclofen: at most +30 % of the current daily dose per change, one per 24 h."""
T = 4 * DAY


def _baclofen_program(dose_ng_per_day: int) -> Program:
    return Program("baclofen", "spasticity-spinal", 500 * MCG, Basal.continuous(dose_ng_per_day))


def _baclofen_active(library: Library) -> Device:
    """Baclofen 500 mcg/mL at 100 mcg/day on a Prometra II, dosing from day 3."""
    return run(
        [
            (c.RecordScreening(C, candidate=True, baseline_pain=0), 0),
            (c.StartTrial(C, "baclofen", "spasticity-spinal", plan="screening"), 60),
            (c.RecordTrialDose(C, amount_ng=50 * MCG), DAY),
            (c.RecordScreeningResponse(C, positive=True), DAY + 4 * HOUR),
            (c.ConcludeTrial(C), 2 * DAY),
            (c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=200), 3 * DAY),
            (c.Fill(C, volume_nl=20_000_000, concentration_ng_per_ml=500 * MCG), 3 * DAY + 60),
            (c.SetProgram(C, _baclofen_program(LAST)), 3 * DAY + 90),
            (c.Prime(C, duration_s=480), 3 * DAY + 120),
            (c.DriveReport(S, 1, DEAD_VOLUME_NL, final=True), 3 * DAY + 600),
            (c.StartDosing(C), 3 * DAY + 700),
        ],
        library,
    )


def _zeroed(library: Library) -> Device:
    """The baclofen pump programmed to zero at ``T`` (with the withdrawal confirmation)."""
    d = _baclofen_active(library)
    zero = c.SetProgram(C, _baclofen_program(0), confirm_withdrawal_risk=True)
    d = step(d, zero, T, library).device
    assert d.phase is Phase.ACTIVE and d.program is not None
    return d


def _rule_allows(new: int, last: int) -> bool:
    """R-LIM-10 with R-LIM-9, written independently: back to the last dose, or one step above."""
    return new <= last or (new - last) * 100 <= BACLOFEN_STEP_PERCENT * last


def test_baclofen_at_zero_restarts_at_its_last_dose_without_titration(library: Library) -> None:
    """Baclofen programmed to zero is restarted at its last delivered dose; that is not an
    increase (REQ-TITR-005)."""
    d = _zeroed(library)
    out = step(d, c.SetProgram(C, _baclofen_program(LAST)), T + HOUR, library)
    assert out.device.program is not None and out.device.program.basal == Basal.continuous(LAST)
    assert out.device.increases == d.increases  # not counted as a titration step
    # the restarted pump delivers again
    tick = step(out.device, c.Tick(S), T + HOUR + 1, library)
    assert any(isinstance(e, DeliveryOrder) for e in tick.effects)


def test_restart_above_the_last_dose_is_a_titration_step_from_it(library: Library) -> None:
    """Above the last dose the step counts from that dose, and is counted as an increase: a
    second increase within 24 h is refused (REQ-TITR-005, REQ-TITR-003, REQ-TITR-004)."""
    d = _zeroed(library)
    with pytest.raises(LimitViolation) as too_much:
        step(d, c.SetProgram(C, _baclofen_program(LAST * 13 // 10 + 1)), T + HOUR, library)
    assert too_much.value.limit_id.endswith("max_increase_percent")
    up = step(d, c.SetProgram(C, _baclofen_program(LAST * 13 // 10)), T + HOUR, library).device
    assert [(i.from_ng_per_day, i.to_ng_per_day) for i in up.increases][-1:] == [
        (LAST, LAST * 13 // 10)
    ]
    with pytest.raises(LimitViolation) as second:
        step(up, c.SetProgram(C, _baclofen_program(LAST * 13 // 10 + MCG)), T + 2 * HOUR, library)
    assert second.value.limit_id.endswith("max_increases")


def test_while_suspended_a_new_program_counts_from_the_last_delivered_dose(
    library: Library,
) -> None:
    """A program set while suspended is stepped from the last dose delivered (REQ-TITR-005)."""
    d = _baclofen_active(library)
    d = step(d, c.Suspend(C, "review", confirm_withdrawal_risk=True), T, library).device
    lower = c.SetProgram(C, _baclofen_program(LAST // 2), confirm_withdrawal_risk=True)
    d = step(d, lower, T + 60, library).device
    # back up to the last delivered dose: not a titration step although it doubles the program
    back = step(d, c.SetProgram(C, _baclofen_program(LAST)), T + 120, library).device
    assert back.increases == d.increases
    with pytest.raises(LimitViolation):
        step(d, c.SetProgram(C, _baclofen_program(LAST * 13 // 10 + 1)), T + 120, library)


def test_a_dose_of_one_ng_a_day_is_the_last_dose_a_restart_counts_from(library: Library) -> None:
    """REQ-TITR-005: baclofen cut from 100 mcg/day to 1 ng/day (the Prometra II has no minimum
    rate), then to zero: the last dose delivered before the stop is 1 ng/day, so a restart at
    100 mcg/day is a titration step from 1 ng/day, refused (30 % at most), not a return to the
    earlier 100 mcg/day."""
    d = _baclofen_active(library)
    one = c.SetProgram(C, _baclofen_program(1), confirm_withdrawal_risk=True)
    d = step(d, one, T, library).device
    zero = c.SetProgram(C, _baclofen_program(0), confirm_withdrawal_risk=True)
    d = step(d, zero, T + HOUR, library).device
    with pytest.raises(LimitViolation) as refused:
        step(d, c.SetProgram(C, _baclofen_program(LAST)), T + 2 * HOUR, library)
    assert refused.value.limit_id.endswith("max_increase_percent")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(new=st.integers(min_value=1, max_value=3 * LAST))
def test_restart_dose_accepted_exactly_as_the_rule_says(new: int, library: Library) -> None:
    """Over random restart doses after a zero rate, the core accepts exactly the doses the rule
    allows (REQ-TITR-005)."""
    d = _zeroed(library)
    try:
        step(d, c.SetProgram(C, _baclofen_program(new)), T + HOUR, library)
        accepted = True
    except LimitViolation:
        accepted = False
    assert accepted is _rule_allows(new, LAST)


def test_restart_after_more_than_24_h_needs_a_clinician_reason(library: Library) -> None:
    """More than 24 h without delivery: the restart needs a reason; at exactly 24 h it does not
    (REQ-TITR-006)."""
    d = _zeroed(library)
    restart = c.SetProgram(C, _baclofen_program(LAST))
    step(d, restart, T + DAY, library)  # exactly 24 h: no reason needed
    with pytest.raises(RejectedCommand) as info:
        step(d, restart, T + DAY + 1, library)
    assert info.value.field == "command.restart_reason"
    confirmed = dataclasses.replace(restart, restart_reason="reviewed: tolerance assessed")
    out = step(d, confirmed, T + DAY + 1, library)
    assert out.device.program is not None
    assert out.device.program.basal == Basal.continuous(LAST)
    # a zero program stays a stop: no reason needed however late
    stay = c.SetProgram(C, _baclofen_program(0), confirm_withdrawal_risk=True)
    step(d, stay, T + 5 * DAY, library)


def test_a_program_set_while_suspended_restarts_nothing_and_needs_no_reason(
    library: Library,
) -> None:
    """Suspended for three days: a new program is set without a restart reason (it starts
    nothing); the resume that restarts delivery is the one that needs it (REQ-TITR-006)."""
    d = reach(Phase.ACTIVE, library)
    d = step(d, c.Suspend(C, "review"), 8 * DAY, library).device
    d = step(d, c.SetProgram(C, MORPHINE_PROGRAM), 11 * DAY, library).device
    assert d.phase is Phase.SUSPENDED and d.program == MORPHINE_PROGRAM
    with pytest.raises(RejectedCommand) as info:
        step(d, c.Resume(C, "back"), 11 * DAY + 60, library)
    assert info.value.field == "command.restart_reason"


def test_resume_after_more_than_24_h_needs_a_reason_for_every_drug(library: Library) -> None:
    """Morphine suspended for more than a day: resume needs the restart reason (REQ-TITR-006)."""
    d = reach(Phase.ACTIVE, library)
    d = step(d, c.Suspend(C, "review"), 8 * DAY, library).device
    step(d, c.Resume(C, "back"), 9 * DAY, library)
    with pytest.raises(RejectedCommand) as info:
        step(d, c.Resume(C, "back"), 9 * DAY + 1, library)
    assert info.value.field == "command.restart_reason"
    out = step(
        d, c.Resume(C, "back", restart_reason="opioid tolerance reassessed"), 9 * DAY + 1, library
    )
    assert out.device.phase is Phase.ACTIVE


def test_the_refusal_names_the_time_since_the_drug_last_left_the_tip(library: Library) -> None:
    """The dose noted when dosing begins goes on being delivered for four days until a
    suspension; a resume 25 h after the last delivery is refused, and the refusal says 25 h, not
    the five days since the dose was noted (REQ-TITR-006)."""
    d = reach(Phase.ACTIVE, library)
    assert d.clock_s is not None
    t0 = d.clock_s + 60
    drive = PacedDrive(d, library, now=t0)
    drive.apply(c.Tick(S), t0)  # the dose is noted here
    drive.run_until(t0 + 4 * DAY)
    drive.apply(c.Suspend(C, "review"), t0 + 4 * DAY)
    suspended = drive.device
    assert suspended.last_delivery is not None and suspended.last_delivery.at_s == t0
    last_end = max(o.end_s for o in drive.delivered)
    assert last_end > t0 + 4 * DAY - 2 * HOUR
    with pytest.raises(RejectedCommand) as info:
        step(suspended, c.Resume(C, "back"), last_end + DAY + HOUR, library)
    assert info.value.field == "command.restart_reason"
    assert info.value.message == (
        "delivery has been stopped for 1 d 1 h: a restart after more than 24 h without delivery "
        "needs a clinician's confirmation with a reason (tolerance may have fallen)"
    )
    assert (info.value.value, info.value.limit) == ("1 d 1 h", "<= 1 d without a reason")
    # the reason is free text of at most 2000 characters, like every other
    with pytest.raises(InvalidInput) as long:
        step(suspended, c.Resume(C, "back", restart_reason="x" * 2001), last_end + DAY, library)
    assert long.value.field == "command.restart_reason"


def test_refill_that_resumes_after_more_than_24_h_needs_a_reason(library: Library) -> None:
    """A refill begun while dosing and completed more than a day later restarts delivery: it
    needs the restart reason (REQ-TITR-006)."""
    d = reach(Phase.ACTIVE, library)
    d = step(d, c.BeginRefill(C), 8 * DAY, library).device
    assert d.refill is not None
    d = step(d, c.RecordWithdrawal(C, d.refill.expected_residual_nl), 8 * DAY + 60, library).device
    complete = c.CompleteRefill(C, 20_000_000, MORPHINE_PROGRAM.concentration_ng_per_ml)
    with pytest.raises(RejectedCommand) as info:
        step(d, complete, 9 * DAY + 1, library)
    assert info.value.field == "command.restart_reason"
    ok = dataclasses.replace(complete, restart_reason="refill delayed; dose reviewed")
    assert step(d, ok, 9 * DAY + 1, library).device.phase is Phase.ACTIVE
    assert step(d, complete, 9 * DAY, library).device.phase is Phase.ACTIVE


def test_a_refill_restarting_a_stopped_pump_with_a_new_program_needs_a_reason(
    library: Library,
) -> None:
    """Baclofen at zero, refilled more than a day later with its last dose as the new program:
    the refill restarts delivery, so it needs the restart reason (the program it replaces, at
    zero, would restart nothing) (REQ-TITR-006)."""
    d = _zeroed(library)
    d = step(d, c.BeginRefill(C), T + HOUR, library).device
    assert d.refill is not None
    d = step(d, c.RecordWithdrawal(C, d.refill.expected_residual_nl), T + HOUR + 60, library).device
    complete = c.CompleteRefill(C, 20_000_000, 500 * MCG, program=_baclofen_program(LAST))
    step(d, complete, T + DAY, library)  # exactly 24 h after the stop: no reason needed
    with pytest.raises(RejectedCommand) as info:
        step(d, complete, T + DAY + 1, library)
    assert info.value.field == "command.restart_reason"
    ok = dataclasses.replace(complete, restart_reason="refill delayed; dose reviewed")
    out = step(d, ok, T + DAY + 1, library).device
    assert out.phase is Phase.ACTIVE and out.program == _baclofen_program(LAST)


def test_a_refill_that_leaves_the_pump_suspended_needs_no_reason_however_late(
    library: Library,
) -> None:
    """A refill begun while suspended restarts nothing: completed three days after the last
    delivery it needs no restart reason, and the pump stays suspended (REQ-TITR-006)."""
    d = reach(Phase.ACTIVE, library)
    d = step(d, c.Suspend(C, "review"), 8 * DAY, library).device
    d = step(d, c.BeginRefill(C), 8 * DAY + 60, library).device
    assert d.refill is not None
    d = step(d, c.RecordWithdrawal(C, d.refill.expected_residual_nl), 8 * DAY + 120, library).device
    complete = c.CompleteRefill(C, 20_000_000, MORPHINE_PROGRAM.concentration_ng_per_ml)
    assert step(d, complete, 11 * DAY, library).device.phase is Phase.SUSPENDED


def test_start_after_a_re_priming_more_than_24_h_later_needs_a_reason(library: Library) -> None:
    """A catheter re-primed after a long stop restarts delivery at start_dosing: more than 24 h
    after the last delivery it needs the restart reason (REQ-TITR-006)."""
    d = reach(Phase.ACTIVE, library)
    d = step(d, c.Suspend(C, "catheter revision"), 8 * DAY, library).device
    # the revision leaves an unprimed catheter of the same volume, holding no drug
    assert d.path is not None
    d = dataclasses.replace(d, primed=False, primed_nl=0, path=type(d.path).empty(d.path.volume_nl))
    d = step(d, c.Prime(C, duration_s=480), 9 * DAY, library).device
    order = d.orders[-1]
    d = step(d, c.DriveReport(S, order.id, order.volume_nl, final=True), 9 * DAY + 600, library)
    d = d.device
    assert d.phase is Phase.PRIMING and d.primed
    with pytest.raises(RejectedCommand) as info:
        step(d, c.StartDosing(C), 9 * DAY + 700, library)
    assert info.value.field == "command.restart_reason"
    ok = c.StartDosing(C, restart_reason="revision done; dose reviewed")
    assert step(d, ok, 9 * DAY + 700, library).device.phase is Phase.ACTIVE
