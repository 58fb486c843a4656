"""Mutation kills for ``core/lifecycle.py``: the table row by row, its index and every guard at
its boundaries (docs/mutation.md). The table is built once at import; the test also rebuilds it
(``_rows``) so that a changed row builder is caught, and pins every row as written here."""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import DAY, DEAD_VOLUME_NL, HOUR, C, S, reach, run

from itdose.core import Device, Library, Phase, RejectedCommand, Role, TrialOutcome, step
from itdose.core import commands as c
from itdose.core import lifecycle as lc
from itdose.core.alarms import AlarmKind
from itdose.core.lifecycle import GUARD_TEXT, GUARDS, RULES, Rule, rules_for
from itdose.core.state import (
    ActiveAlarm,
    DeliveryKind,
    MriSession,
    Order,
    Reservoir,
    Screening,
    Trial,
    TrialDose,
)

CL = frozenset({Role.CLINICIAN})
SV = frozenset({Role.SERVICE})
PT = frozenset({Role.PATIENT})
PCL = frozenset({Role.PATIENT, Role.CLINICIAN})
C_, S_, PAT, PC = "C", "S", "PAT", "PC"
_ROLES = {"C": CL, "S": SV, "PAT": PT, "PC": PCL}

TABLE: list[tuple[str, ...]] = [
    ("record_screening", "screening", "screening", C_),
    ("start_trial", "screening", "trial", C_, "screened_candidate"),
    ("record_trial_dose", "trial", "trial", C_),
    ("record_pain_score", "trial", "trial", C_),
    ("record_screening_response", "trial", "trial", C_),
    ("conclude_trial", "trial", "implant_ready", C_, "trial_succeeded"),
    ("conclude_trial", "trial", "trial_failed", C_, "trial_failed"),
    ("implant", "implant_ready", "implanted", C_),
    ("fill", "implanted", "implanted", C_),
    ("fill", "suspended", "suspended", C_),
    ("prime", "implanted", "priming", C_, "ready_to_prime"),
    ("prime", "suspended", "priming", C_, "ready_to_prime"),
    ("start_dosing", "priming", "active", C_, "ready_to_dose"),
    ("suspend", "active", "suspended", C_),
    ("resume", "suspended", "active", C_, "ready_to_dose"),
    ("clinician_bolus", "active", "active", C_),
    ("begin_refill", "active", "refill", C_),
    ("begin_refill", "suspended", "refill", C_),
    ("begin_refill", "alarm", "refill", C_),
    ("record_withdrawal", "refill", "refill", C_),
    ("complete_refill", "refill", "active", C_, "refill_resumes_dosing"),
    ("complete_refill", "refill", "suspended", C_, "refill_stays_stopped"),
    ("complete_refill", "refill", "alarm", C_, "high_alarm_active"),
    ("abort_refill", "refill", "suspended", C_, "no_high_alarm"),
    ("abort_refill", "refill", "alarm", C_, "high_alarm_active"),
    ("empty_reservoir", "suspended", "suspended", C_),
    ("begin_mri", "active", "suspended", C_),
    ("begin_mri", "suspended", "suspended", C_),
    ("begin_mri", "alarm", "alarm", C_),
    ("end_mri", "suspended", "active", C_, "mri_resumes_dosing"),
    ("end_mri", "suspended", "suspended", C_, "mri_stays_stopped"),
    ("end_mri", "alarm", "alarm", C_),
    ("clear_alarm", "alarm", "suspended", C_, "clears_last_high_alarm"),
    ("clear_alarm", "alarm", "alarm", C_, "high_alarm_remains"),
    ("raise_alarm", "implanted", "implanted", S_, "alarm_not_high"),
    ("tick", "implanted", "implanted", S_, "tick_quiet"),
    ("drive_report", "implanted", "implanted", S_, "report_within_order"),
    ("clear_alarm", "implanted", "implanted", C_),
    ("raise_alarm", "implanted", "alarm", S_, "alarm_is_high"),
    ("tick", "implanted", "alarm", S_, "tick_raises_high"),
    ("drive_report", "implanted", "alarm", S_, "report_over_delivers"),
    ("request_bolus", "implanted", "implanted", PAT),
    ("silence_alarm", "implanted", "implanted", PC),
    ("set_program", "implanted", "implanted", C_),
    ("explant", "implanted", "explanted", C_),
    ("raise_alarm", "priming", "priming", S_, "alarm_not_high"),
    ("tick", "priming", "priming", S_, "tick_quiet"),
    ("drive_report", "priming", "priming", S_, "report_within_order"),
    ("clear_alarm", "priming", "priming", C_),
    ("raise_alarm", "priming", "alarm", S_, "alarm_is_high"),
    ("tick", "priming", "alarm", S_, "tick_raises_high"),
    ("drive_report", "priming", "alarm", S_, "report_over_delivers"),
    ("request_bolus", "priming", "priming", PAT),
    ("silence_alarm", "priming", "priming", PC),
    ("set_program", "priming", "priming", C_),
    ("explant", "priming", "explanted", C_),
    ("raise_alarm", "active", "active", S_, "alarm_not_high"),
    ("tick", "active", "active", S_, "tick_quiet"),
    ("drive_report", "active", "active", S_, "report_within_order"),
    ("clear_alarm", "active", "active", C_),
    ("raise_alarm", "active", "alarm", S_, "alarm_is_high"),
    ("tick", "active", "alarm", S_, "tick_raises_high"),
    ("drive_report", "active", "alarm", S_, "report_over_delivers"),
    ("request_bolus", "active", "active", PAT),
    ("silence_alarm", "active", "active", PC),
    ("set_program", "active", "active", C_),
    ("confirm_post_mri", "active", "active", C_),
    ("explant", "active", "explanted", C_),
    ("raise_alarm", "refill", "refill", S_, "alarm_not_high"),
    ("tick", "refill", "refill", S_, "tick_quiet"),
    ("drive_report", "refill", "refill", S_, "report_within_order"),
    ("clear_alarm", "refill", "refill", C_),
    ("raise_alarm", "refill", "alarm", S_, "alarm_is_high"),
    ("tick", "refill", "alarm", S_, "tick_raises_high"),
    ("drive_report", "refill", "alarm", S_, "report_over_delivers"),
    ("request_bolus", "refill", "refill", PAT),
    ("silence_alarm", "refill", "refill", PC),
    ("confirm_post_mri", "refill", "refill", C_),
    ("explant", "refill", "explanted", C_),
    ("raise_alarm", "suspended", "suspended", S_, "alarm_not_high"),
    ("tick", "suspended", "suspended", S_, "tick_quiet"),
    ("drive_report", "suspended", "suspended", S_, "report_within_order"),
    ("clear_alarm", "suspended", "suspended", C_),
    ("raise_alarm", "suspended", "alarm", S_, "alarm_is_high"),
    ("tick", "suspended", "alarm", S_, "tick_raises_high"),
    ("drive_report", "suspended", "alarm", S_, "report_over_delivers"),
    ("request_bolus", "suspended", "suspended", PAT),
    ("silence_alarm", "suspended", "suspended", PC),
    ("set_program", "suspended", "suspended", C_),
    ("confirm_post_mri", "suspended", "suspended", C_),
    ("explant", "suspended", "explanted", C_),
    ("tick", "alarm", "alarm", S_),
    ("drive_report", "alarm", "alarm", S_),
    ("raise_alarm", "alarm", "alarm", S_),
    ("request_bolus", "alarm", "alarm", PAT),
    ("silence_alarm", "alarm", "alarm", PC),
    ("set_program", "alarm", "alarm", C_),
    ("confirm_post_mri", "alarm", "alarm", C_),
    ("explant", "alarm", "explanted", C_),
]
"""The lifecycle table, row by row in table order (DESIGN.md section 4)."""


def _expected() -> tuple[Rule, ...]:
    return tuple(
        Rule(t, Phase(src), Phase(dst), _ROLES[roles], guard[0] if guard else None)
        for t, src, dst, roles, *guard in TABLE
    )


def test_table_is_exactly_the_specified_rows() -> None:
    """Every row: trigger, source, destination, roles and guard (REQ-LIFE-001, REQ-LIFE-002,
    REQ-LIFE-003, REQ-LIFE-004, REQ-ALM-001)."""
    assert lc._rows() == _expected()
    assert _expected() == RULES


def test_index_groups_rows_in_table_order() -> None:
    """``rules_for`` gives the rows of a trigger and source in table order (REQ-LIFE-003)."""
    index = lc._index(_expected())
    keys = {(r.trigger, r.source) for r in _expected()}
    assert set(index) == keys
    for key in keys:
        assert index[key] == tuple(r for r in _expected() if (r.trigger, r.source) == key)
    assert [r.dest for r in rules_for("complete_refill", Phase.REFILL)] == [
        Phase.ACTIVE,
        Phase.SUSPENDED,
        Phase.ALARM,
    ]
    assert rules_for("fill", Phase.SUSPENDED) == (
        Rule("fill", Phase.SUSPENDED, Phase.SUSPENDED, CL),
    )
    assert rules_for("start_dosing", Phase.SCREENING) == ()
    assert rules_for("no_such_trigger", Phase.ACTIVE) == ()


def _g(name: str, d: Device, cmd: c.Command, lib: Library, now: int = 0) -> bool:
    return GUARDS[name](d, cmd, now, lib)


def test_every_guard_has_a_text() -> None:
    """Every guard named in the table exists and has its words (REQ-LIFE-003)."""
    named = {r.guard for r in RULES if r.guard is not None}
    assert named == set(GUARDS) == set(GUARD_TEXT)


def test_screened_candidate(library: Library) -> None:
    """A trial starts only after a screening that found a candidate (REQ-TRIAL-001)."""
    cmd = c.StartTrial(C, "morphine", "pain", plan="bolus")
    assert _g("screened_candidate", Device(), cmd, library) is False
    no = Device(screening=Screening(0, False, 6, ""))
    yes = Device(screening=Screening(0, True, 6, ""))
    assert _g("screened_candidate", no, cmd, library) is False
    assert _g("screened_candidate", yes, cmd, library) is True


def _pain_trial(baseline: int, last: int | None) -> Device:
    trial = Trial("morphine", "pain", "bolus", baseline, last_pain=last)
    return Device(phase=Phase.TRIAL, trial=trial)


def _outcome(d: Device, lib: Library, outcome: TrialOutcome | None = None) -> str:
    cmd = c.ConcludeTrial(C, outcome, reason="r" if outcome else "")
    ok, failed = _g("trial_succeeded", d, cmd, lib), _g("trial_failed", d, cmd, lib)
    assert not (ok and failed)
    return "success" if ok else "failure" if failed else "none"


@pytest.mark.parametrize(
    ("baseline", "last", "expected"),
    [
        (6, None, "none"),
        (6, 3, "success"),
        (6, 4, "failure"),
        (7, 3, "success"),
        (7, 4, "failure"),
        (1, 0, "success"),
        (0, 0, "failure"),
        (2, 1, "success"),
        (10, 0, "success"),
    ],
)
def test_pain_evidence(library: Library, baseline: int, last: int | None, expected: str) -> None:
    """Success at a pain reduction of at least 50 % from a positive baseline, in integers
    (REQ-TRIAL-002)."""
    assert _outcome(_pain_trial(baseline, last), library) == expected


def test_no_trial_is_no_evidence(library: Library) -> None:
    """Without a trial record neither conclusion guard holds (REQ-TRIAL-003)."""
    assert _outcome(Device(), library) == "none"


def test_clinician_conclusion_overrides_evidence(library: Library) -> None:
    """A clinician's stated outcome decides, whatever the evidence (REQ-TRIAL-003)."""
    d = _pain_trial(6, 3)
    assert _outcome(d, library, TrialOutcome.FAILURE) == "failure"
    d = _pain_trial(6, 6)
    assert _outcome(d, library, TrialOutcome.SUCCESS) == "success"
    assert _outcome(_pain_trial(6, None), library, TrialOutcome.SUCCESS) == "success"


def _baclofen(doses: int, response: bool | None) -> Device:
    trial = Trial(
        "baclofen",
        "spasticity-spinal",
        "screening",
        0,
        screening_sequence_ng=(50_000, 75_000, 100_000),
        doses=tuple(TrialDose(i * DAY, 50_000) for i in range(doses)),
        response=response,
        last_pain=0,
    )
    return Device(phase=Phase.TRIAL, trial=trial)


@pytest.mark.parametrize(
    ("doses", "response", "expected"),
    [
        (1, True, "success"),
        (3, True, "success"),
        (1, None, "none"),
        (3, None, "none"),
        (1, False, "none"),
        (2, False, "none"),
        (3, False, "failure"),
        (4, False, "failure"),
    ],
)
def test_baclofen_evidence(
    library: Library, doses: int, response: bool | None, expected: str
) -> None:
    """A positive response succeeds; no response to the last dose of the sequence fails; a pain
    score is not evidence in a baclofen screening (REQ-BACL-005)."""
    assert _outcome(_baclofen(doses, response), library) == expected


def _implanted(
    library: Library,
    volume: int,
    *,
    dead: int | None = DEAD_VOLUME_NL,
    primed_nl: int = 0,
    primed: bool = False,
    orders: tuple[Order, ...] = (),
) -> Device:
    d = reach(Phase.IMPLANTED, library)
    assert d.implant is not None and d.reservoir is not None
    return dataclasses.replace(
        d,
        implant=dataclasses.replace(d.implant, dead_volume_nl=dead),
        reservoir=dataclasses.replace(d.reservoir, volume_nl=volume),
        primed_nl=primed_nl,
        primed=primed,
        orders=orders,
        next_order_id=len(orders) + 1,
    )


def test_ready_to_prime_boundaries(library: Library) -> None:
    """Priming needs the remaining dead volume above the empty threshold, an unprimed catheter,
    no priming running and a known dead volume (REQ-PRIME-001, REQ-PRIME-002)."""
    empty = library.pump("prometra-ii-20").empty_threshold.value
    assert empty == 500_000
    cmd = c.Prime(C, duration_s=480)
    need = DEAD_VOLUME_NL + empty
    assert _g("ready_to_prime", _implanted(library, need), cmd, library) is True
    assert _g("ready_to_prime", _implanted(library, need - 1), cmd, library) is False
    part = 100_000
    d = _implanted(library, need - part, primed_nl=part)
    assert _g("ready_to_prime", d, cmd, library) is True
    d = _implanted(library, need - part - 1, primed_nl=part)
    assert _g("ready_to_prime", d, cmd, library) is False
    assert _g("ready_to_prime", _implanted(library, need, primed=True), cmd, library) is False
    assert _g("ready_to_prime", _implanted(library, need, dead=None), cmd, library) is False
    priming = Order(1, DeliveryKind.PRIMING, 0, 480, 1000)
    basal = Order(1, DeliveryKind.BASAL, 0, 480, 1000)
    d = _implanted(library, need, orders=(priming,))
    assert _g("ready_to_prime", d, cmd, library) is False
    d = _implanted(library, need, orders=(basal,))
    assert _g("ready_to_prime", d, cmd, library) is True
    no_res = dataclasses.replace(_implanted(library, need), reservoir=None)
    assert _g("ready_to_prime", no_res, cmd, library) is False
    no_implant = dataclasses.replace(Device(), reservoir=Reservoir("morphine", "pain", 1, need))
    assert _g("ready_to_prime", no_implant, cmd, library) is False


def test_ready_to_dose(library: Library) -> None:
    """Dosing needs a primed catheter, a program, no MRI pending and no post-MRI verification
    alarm (REQ-PRIME-003, REQ-MRI-003)."""
    d = reach(Phase.ACTIVE, library)
    cmd = c.StartDosing(C)
    assert _g("ready_to_dose", d, cmd, library) is True
    assert _g("ready_to_dose", dataclasses.replace(d, primed=False), cmd, library) is False
    assert _g("ready_to_dose", dataclasses.replace(d, program=None), cmd, library) is False
    mri = MriSession("suspend-verify", 0, False, True)
    assert _g("ready_to_dose", dataclasses.replace(d, mri=mri), cmd, library) is False
    alarm = (ActiveAlarm(AlarmKind.POST_MRI_VERIFICATION, 0),)
    assert _g("ready_to_dose", dataclasses.replace(d, alarms=alarm), cmd, library) is False
    low = (ActiveAlarm(AlarmKind.LOW_RESERVOIR, 0),)
    assert _g("ready_to_dose", dataclasses.replace(d, alarms=low), cmd, library) is True


def _alarms(*kinds: AlarmKind) -> tuple[ActiveAlarm, ...]:
    return tuple(ActiveAlarm(k, 0) for k in kinds)


def test_refill_and_alarm_guards(library: Library) -> None:
    """Refill completion and abort go by the HIGH alarms and where the refill began
    (REQ-REF-004, REQ-ALM-001)."""
    cmd = c.AbortRefill(C, reason="r")
    none = Device()
    low = Device(alarms=_alarms(AlarmKind.LOW_RESERVOIR))
    high = Device(alarms=_alarms(AlarmKind.OCCLUSION))
    for d, is_high in ((none, False), (low, False), (high, True)):
        assert _g("high_alarm_active", d, cmd, library) is is_high
        assert _g("no_high_alarm", d, cmd, library) is (not is_high)
        for resume in (False, True):
            r = dataclasses.replace(d, resume_after_refill=resume)
            assert _g("refill_resumes_dosing", r, cmd, library) is (resume and not is_high)
            assert _g("refill_stays_stopped", r, cmd, library) is (not resume and not is_high)


@pytest.mark.parametrize("kind", list(AlarmKind))
def test_alarm_priority_guards(library: Library, kind: AlarmKind) -> None:
    """A HIGH alarm goes to the alarm phase, LOW and MEDIUM stay (REQ-ALM-001)."""
    high = kind.value in {
        "empty_reservoir",
        "motor_stall",
        "occlusion",
        "end_of_service",
        "low_battery_reset",
        "memory_fault",
        "delivery_deviation",
        "drive_fault",
    }
    cmd = c.RaiseAlarm(S, kind)
    assert _g("alarm_is_high", Device(), cmd, library) is high
    assert _g("alarm_not_high", Device(), cmd, library) is (not high)


def test_clear_alarm_guards(library: Library) -> None:
    """Clearing leaves the alarm phase only when no other HIGH alarm remains (REQ-LIFE-007)."""
    stall = c.ClearAlarm(C, AlarmKind.MOTOR_STALL, reason="fixed")
    for kinds, last in (
        ((AlarmKind.MOTOR_STALL,), True),
        ((AlarmKind.MOTOR_STALL, AlarmKind.LOW_RESERVOIR), True),
        ((AlarmKind.MOTOR_STALL, AlarmKind.OCCLUSION), False),
        ((AlarmKind.OCCLUSION, AlarmKind.DRIVE_FAULT, AlarmKind.MOTOR_STALL), False),
        ((AlarmKind.OCCLUSION,), False),
    ):
        d = Device(alarms=_alarms(*kinds))
        assert _g("clears_last_high_alarm", d, stall, library) is last, kinds
        assert _g("high_alarm_remains", d, stall, library) is (not last), kinds


def test_report_guards(library: Library) -> None:
    """A report above the order's volume goes to the alarm phase; equal stays (REQ-ALM-001)."""
    order = Order(3, DeliveryKind.BASAL, 0, 600, 1000, 10_000_000)
    d = Device(orders=(order,), next_order_id=4)
    for delivered, over in ((999, False), (1000, False), (1001, True)):
        cmd = c.DriveReport(S, order_id=3, delivered_nl=delivered, final=False)
        assert _g("report_over_delivers", d, cmd, library) is over
        assert _g("report_within_order", d, cmd, library) is (not over)
    unknown = c.DriveReport(S, order_id=9, delivered_nl=5000, final=False)
    assert _g("report_over_delivers", d, unknown, library) is False
    assert _g("report_within_order", d, unknown, library) is True


def test_tick_guards(library: Library) -> None:
    """A tick that finds a HIGH condition goes to the alarm phase (REQ-ALM-001, REQ-RES-002)."""
    d = reach(Phase.SUSPENDED, library)
    t = 9 * DAY
    assert _g("tick_raises_high", d, c.Tick(S), library, t) is False
    assert _g("tick_quiet", d, c.Tick(S), library, t) is True
    eos = dataclasses.replace(d, eos_at_s=t - 10)
    assert _g("tick_raises_high", eos, c.Tick(S), library, t) is True
    assert _g("tick_quiet", eos, c.Tick(S), library, t) is False
    out = step(eos, c.Tick(S), t, library)
    assert out.device.phase is Phase.ALARM
    assert out.device.has_alarm(AlarmKind.END_OF_SERVICE)


def test_mri_guards(library: Library) -> None:
    """After the scan a SynchroMed II dosing before it resumes by itself (REQ-MRI-002)."""
    cmd = c.EndMri(C)
    resumes = Device(mri=MriSession("suspend-verify", 0, False, True))
    stays = Device(mri=MriSession("suspend-verify", 0, True, True))
    for d, r in ((resumes, True), (stays, False), (Device(), False)):
        assert _g("mri_resumes_dosing", d, cmd, library) is r
        assert _g("mri_stays_stopped", d, cmd, library) is (not r)


def test_conclude_trial_takes_the_guarded_rows(library: Library) -> None:
    """Through ``step``: the evidence picks the destination (REQ-TRIAL-002)."""
    for score, dest in ((3, Phase.IMPLANT_READY), (5, Phase.TRIAL_FAILED)):
        d = run(
            [(c.RecordPainScore(C, score=score), 4 * HOUR)], library, reach(Phase.TRIAL, library)
        )
        assert step(d, c.ConcludeTrial(C), 5 * HOUR, library).device.phase is dest
    with pytest.raises(RejectedCommand):
        step(reach(Phase.TRIAL, library), c.ConcludeTrial(C), 5 * HOUR, library)


# Equivalent mutants (mutmut 3.8.1; no observable change):
# - x__alarm_not_high__mutmut_2, _4, _5: pass None for the device, time or library to
#   _alarm_is_high, which reads only the command's alarm kind.
# - x__report_within_order__mutmut_4, _5: pass None for the time or library to
#   _report_over_delivers, which reads only the device's orders and the command.
# - x__high_after_clear__mutmut_2: counts 2 per remaining HIGH alarm instead of 1; both guards
#   compare the count with 0 only.
# - x__tick_raises_high__mutmut_11: drops max_segment_s (default one hour); by design
#   (dosing.segment_s, REQ-DOSE-009) a longer segment is issued only when it changes no alarm,
#   so the HIGH conditions a tick finds do not depend on it.
