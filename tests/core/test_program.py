"""Programs: check_program against the dosing rules (docs/dosing-rules.md#limits,
#patient-activated-bolus and #time).

Expected numbers are derived by hand from docs/dosing-rules.md and the shipped library (specs/),
never copied from the implementation's output.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import pytest
from itdose_testkit import MORPHINE_PROGRAM

from itdose.core import InvalidInput, Library
from itdose.core.program import (
    Basal,
    FlexClock,
    FlexStep,
    Increase,
    PatientBolusProgram,
    Program,
    ProgramContext,
    ProgramReport,
    UtcOffset,
    check_program,
)

MG = 1_000_000  # ng
MCG = 1_000  # ng
ML = 1_000_000  # nL
DAY = 86_400
HOUR = 3_600

PROMETRA = "prometra-ii-20"
SYNCHROMED = "synchromed-ii-20"


def _morphine(dose_ng_per_day: int, conc: int = 10 * MG, bolus: PatientBolusProgram | None = None):
    return Program(
        "morphine", "pain", conc, Basal.continuous(dose_ng_per_day), bolus, "opioid-tolerant"
    )


def _baclofen(dose: int, conc: int = 500 * MCG, indication: str = "spasticity-spinal") -> Program:
    return Program("baclofen", indication, conc, Basal.continuous(dose))


def _zic(dose: int, conc: int = 25 * MCG) -> Program:
    return Program("ziconotide", "pain", conc, Basal.continuous(dose))


def _ctx(*overrides: str, **kw: object) -> ProgramContext:
    return ProgramContext(overrides=tuple((o, "clinician reason") for o in overrides), **kw)  # type: ignore[arg-type]


def _limits(report: ProgramReport) -> dict[str, str]:
    return {v.limit: v.level for v in report.violations}


# --- concentration ---------------------------------------------------------------------------


@pytest.mark.parametrize("mcg_per_ml", [500, 1000, 2000])
def test_baclofen_product_strengths_accepted_on_prometra_ii(mcg_per_ml: int, library: Library):
    """Baclofen product strengths are accepted (REQ-LIB-007)."""
    report = check_program(_baclofen(400 * MCG, mcg_per_ml * MCG), library, PROMETRA)
    assert report.accepted, report.violations
    assert report.violations == ()


@pytest.mark.parametrize("mcg_per_ml", [50, 250, 499, 2001, 3000])
def test_prometra_ii_narrows_baclofen_to_500_2000_hard(mcg_per_ml: int, library: Library):
    """A pump model narrows the concentration set (REQ-LIB-007)."""
    prog = _baclofen(400 * MCG, mcg_per_ml * MCG)
    overrides = ("baclofen.spasticity-spinal.product_concentrations",)
    report = check_program(prog, library, PROMETRA, _ctx(*overrides))
    limits = _limits(report)
    assert limits["prometra-ii-20.concentration_ranges.baclofen"] == "hard"
    assert not report.accepted  # the pump narrowing is hard: no override helps


def test_compounded_baclofen_outside_product_strengths_needs_override_elsewhere(library: Library):
    # 3000 mcg/mL is not a product strength; SynchroMed II does not narrow baclofen.
    """A non-product strength needs an override (REQ-LIB-007, REQ-LIB-003)."""
    prog = _baclofen(400 * MCG, 3000 * MCG)
    report = check_program(prog, library, SYNCHROMED)
    assert _limits(report) == {"baclofen.spasticity-spinal.product_concentrations": "soft"}
    assert not report.accepted
    ok = check_program(
        prog, library, SYNCHROMED, _ctx("baclofen.spasticity-spinal.product_concentrations")
    )
    assert ok.accepted
    assert all(v.overridden for v in ok.violations)


def test_a_labelled_strength_is_never_above_the_maximum_concentration(library: Library):
    # 25 mg/mL Infumorph is a labelled strength above the [U] 20 mg/mL soft maximum, which does
    # not apply to it; a compounded 30 mg/mL still meets that maximum (and needs overrides).
    """A labelled product strength needs no override; the soft maximum still applies to a
    compounded product and yields to an override (REQ-LIB-007, REQ-LIB-003)."""
    assert check_program(_morphine(1 * MG, 25 * MG), library, PROMETRA).accepted
    compounded = _morphine(1 * MG, 30 * MG)
    report = check_program(compounded, library, PROMETRA)
    assert _limits(report) == {
        "morphine.pain.product_concentrations": "soft",
        "morphine.pain.max_concentration": "soft",
    }
    ctx = _ctx("morphine.pain.product_concentrations", "morphine.pain.max_concentration")
    assert check_program(compounded, library, PROMETRA, ctx).accepted


def test_override_without_reason_does_not_count(library: Library):
    """An override needs a non-empty reason (REQ-LIB-003, REQ-DOSE-003)."""
    prog = _morphine(16 * MG, 25 * MG)
    assert check_program(prog, library, PROMETRA, _ctx("morphine.pain.soft_max_daily")).accepted
    ctx = ProgramContext(overrides=(("morphine.pain.soft_max_daily", "   "),))
    assert not check_program(prog, library, PROMETRA, ctx).accepted


# --- minimum rate ------------------------------------------------------------------------------


def test_synchromed_minimum_rate_rejected_with_the_dilution(library: Library):
    # 0.4 mg/day at 10 mg/mL = 0.04 mL/day < 0.048 mL/day. Deliverable at 0.048 mL/day needs
    # at most 0.4 mg / 0.048 mL = 8.3333... mg/mL.
    """Below the minimum rate is rejected, stating the dilution (REQ-DOSE-004)."""
    report = check_program(_morphine(400_000), library, SYNCHROMED)
    assert not report.accepted
    (v,) = report.violations
    assert v.limit == "synchromed-ii-20.min_rate"
    assert v.level == "hard"
    assert "0.048 mL/day" in v.bound
    assert "8.333333 mg/mL" in v.message
    assert "dilute" in v.message


def test_synchromed_minimum_rate_boundary(library: Library):
    # 0.48 mg/day at 10 mg/mL = exactly 0.048 mL/day: accepted; 1 ng/day less: rejected.
    """The minimum-rate boundary (REQ-DOSE-004)."""
    assert check_program(_morphine(480_000), library, SYNCHROMED).accepted
    assert not check_program(_morphine(479_999), library, SYNCHROMED).accepted


def test_zero_rate_is_not_a_minimum_rate_violation(library: Library):
    report = check_program(_morphine(0), library, SYNCHROMED)
    assert "synchromed-ii-20.min_rate" not in _limits(report)


def test_prometra_has_no_minimum_rate(library: Library):
    assert check_program(_morphine(400_000), library, PROMETRA).accepted


# --- worst-case daily total -------------------------------------------------------------------


def test_worst_case_daily_above_hard_max_rejected(library: Library):
    # 10 mg/day basal + 4 x 2.5 mg = 20 mg/day: at the hard max (soft 15 mg needs override).
    """The worst case above the hard maximum is rejected at entry (REQ-DOSE-002, REQ-LIB-002)."""
    bolus = PatientBolusProgram(dose_ng=2_500_000, duration_s=600, lockout_s=3600, max_per_24h=4)
    at_cap = _morphine(10 * MG, bolus=bolus)
    report = check_program(at_cap, library, PROMETRA, _ctx("morphine.pain.soft_max_daily"))
    assert report.worst_case_daily_ng == 20 * MG
    assert report.accepted
    # One more nanogram per bolus: 20.000004 mg/day > 20 mg/day hard.
    over = dataclasses.replace(at_cap, patient_bolus=dataclasses.replace(bolus, dose_ng=2_500_001))
    report = check_program(over, library, PROMETRA, _ctx("morphine.pain.soft_max_daily"))
    assert report.worst_case_daily_ng == 20 * MG + 4
    assert _limits(report)["morphine.pain.max_daily"] == "hard"
    assert not report.accepted
    # ... and a soft override naming the hard limit does not help.
    ctx = _ctx("morphine.pain.soft_max_daily", "morphine.pain.max_daily")
    assert not check_program(over, library, PROMETRA, ctx).accepted


def test_worst_case_daily_above_soft_max_needs_override(library: Library):
    # 11 mg/day + 4 x 1 mg = 15 mg: at the soft max, fine; 4 x 1.000001 mg: above it.
    """The worst case above a soft limit needs an override (REQ-DOSE-003, REQ-LIB-003)."""
    bolus = PatientBolusProgram(dose_ng=1 * MG, duration_s=600, lockout_s=3600, max_per_24h=4)
    assert check_program(_morphine(11 * MG, bolus=bolus), library, PROMETRA).accepted
    bolus = dataclasses.replace(bolus, dose_ng=MG + 1)
    prog = _morphine(11 * MG, bolus=bolus)
    report = check_program(prog, library, PROMETRA)
    assert _limits(report) == {"morphine.pain.soft_max_daily": "soft"}
    assert not report.accepted
    assert check_program(prog, library, PROMETRA, _ctx("morphine.pain.soft_max_daily")).accepted


def test_basal_alone_above_hard_max_rejected(library: Library):
    """Basal alone above the hard maximum is rejected (REQ-DOSE-002, REQ-LIB-002)."""
    report = check_program(_baclofen(2000 * MCG + 1, 2000 * MCG), library, PROMETRA)
    assert _limits(report)["baclofen.spasticity-spinal.max_daily"] == "hard"
    assert not report.accepted


# --- patient bolus per pump --------------------------------------------------------------------


def test_patient_bolus_banned_for_baclofen_on_prometra_ii(library: Library):
    """Patient bolus for baclofen on Prometra II is rejected, from the library flag (REQ-BOL-006,
    REQ-LIB-009)."""
    bolus = PatientBolusProgram(dose_ng=50 * MCG, duration_s=600, lockout_s=3600, max_per_24h=2)
    prog = dataclasses.replace(_baclofen(400 * MCG), patient_bolus=bolus)
    report = check_program(prog, library, PROMETRA, _ctx("prometra-ii-20.patient_bolus"))
    assert _limits(report)["prometra-ii-20.patient_bolus"] == "hard"
    assert not report.accepted
    # morphine bolus on the same pump is fine
    assert check_program(MORPHINE_PROGRAM, library, PROMETRA).accepted


def test_bolus_longer_than_lockout_rejected(library: Library):
    bolus = PatientBolusProgram(dose_ng=100_000, duration_s=3601, lockout_s=3600, max_per_24h=4)
    assert not check_program(_morphine(MG, bolus=bolus), library, PROMETRA).accepted


# --- flex schedules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "starts",
    [
        (3600,),  # gap at the start of the day
        (0, 3600, 3600),  # overlap (two steps at the same instant)
        (0, 7200, 3600),  # unsorted
        (0, DAY),  # starts at 24:00
    ],
    ids=["gap", "overlap", "unsorted", "past-midnight"],
)
def test_flex_steps_must_tile_the_day(starts: tuple[int, ...], library: Library):
    """Flex steps must tile the day (REQ-TIME-007)."""
    prog = dataclasses.replace(
        _morphine(MG), basal=Basal(steps=tuple(FlexStep(s, MG) for s in starts))
    )
    with pytest.raises(InvalidInput):
        check_program(prog, library, PROMETRA)


def test_flex_daily_total_weights_each_step_by_its_length(library: Library):
    # 06:00-18:00 at 2 mg/day, rest at 1 mg/day: 1 * 6/24 + 2 * 12/24 + 1 * 6/24 = 1.5 mg.
    basal = Basal(steps=(FlexStep(0, MG), FlexStep(6 * HOUR, 2 * MG), FlexStep(18 * HOUR, MG)))
    report = check_program(dataclasses.replace(_morphine(MG), basal=basal), library, PROMETRA)
    assert report.accepted
    assert report.basal_daily_ng == 1_500_000


def test_wall_schedule_needs_a_time_zone(library: Library):
    """A wall schedule without a zone is rejected (REQ-TIME-005)."""
    basal = Basal(steps=(FlexStep(0, MG),), clock=FlexClock.WALL)
    with pytest.raises(InvalidInput):
        check_program(dataclasses.replace(_morphine(MG), basal=basal), library, PROMETRA)


def _utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp())  # noqa: UP017


# Europe/Berlin 2024: CEST from 2024-03-31 01:00 UTC, CET again from 2024-10-27 01:00 UTC.
BERLIN = (
    UtcOffset(0, 3600),
    UtcOffset(_utc(2024, 3, 31, 1), 7200),
    UtcOffset(_utc(2024, 10, 27, 1), 3600),
)
A = 240_000  # ng/day from local 00:00 to 08:00
B = 480_000  # ng/day from local 08:00 to 24:00


def _wall_program() -> Program:
    basal = Basal(
        steps=(FlexStep(0, A), FlexStep(8 * HOUR, B)),
        clock=FlexClock.WALL,
        timezone="Europe/Berlin",
        utc_offsets=BERLIN,
    )
    return dataclasses.replace(_morphine(A), basal=basal, opioid_status="opioid-naive")


def test_wall_schedule_reports_the_instant_of_the_next_dst_day(library: Library):
    """The next DST day is reported (REQ-TIME-006)."""
    spring = check_program(_wall_program(), library, PROMETRA, ProgramContext(utc_now_s=_SPRING))
    assert spring.accepted
    assert spring.basal_daily_ng == (8 * A + 16 * B) // 24
    # The spring day starts at local midnight CET = 2024-03-30 23:00 UTC.
    assert spring.dst_day_utc_s == _utc(2024, 3, 30, 23)
    autumn = check_program(_wall_program(), library, PROMETRA, ProgramContext(utc_now_s=_AUTUMN))
    # The autumn day starts at local midnight CEST = 2024-10-26 22:00 UTC.
    assert autumn.dst_day_utc_s == _utc(2024, 10, 26, 22)


_SPRING = _utc(2024, 3, 1)
_AUTUMN = _utc(2024, 6, 1)


def test_wall_schedule_reports_the_23_hour_spring_day_total(library: Library):
    """The 23 h day total is reported (REQ-TIME-006)."""
    report = check_program(_wall_program(), library, PROMETRA, ProgramContext(utc_now_s=_SPRING))
    # Local 02:00-03:00 does not exist: the 00:00-08:00 step lasts 7 h (23:00-06:00 UTC), the
    # 08:00-24:00 step 16 h: (7 A + 16 B) / 24 = (1.68 + 7.68) mg / 24 = 390 mcg.
    assert report.dst_day_total_ng == (7 * A + 16 * B) // 24 == 390_000


def test_wall_schedule_reports_the_25_hour_autumn_day_total(library: Library):
    """The 25 h day total is reported (REQ-TIME-006)."""
    report = check_program(_wall_program(), library, PROMETRA, ProgramContext(utc_now_s=_AUTUMN))
    # Local 02:00-03:00 happens twice: the first step lasts 9 h: (9 A + 16 B) / 24 = 410 mcg.
    assert report.dst_day_total_ng == (9 * A + 16 * B) // 24 == 410_000


def test_elapsed_schedule_reports_no_dst_day(library: Library):
    prog = dataclasses.replace(
        _morphine(MG), basal=Basal(steps=(FlexStep(0, A), FlexStep(8 * HOUR, B)))
    )
    report = check_program(prog, library, PROMETRA, ProgramContext(utc_now_s=_utc(2024, 3, 1)))
    assert report.dst_day_total_ng is None
    assert report.dst_day_utc_s is None


# --- titration -------------------------------------------------------------------------------


def test_ziconotide_increase_at_most_2_4_mcg_per_change(library: Library):
    """Ziconotide increase at most 2.4 mcg/day per change (REQ-TITR-001)."""
    prev = _zic(2_400)
    ok = check_program(_zic(4_800), library, SYNCHROMED, ProgramContext(previous=prev))
    assert ok.accepted, ok.violations
    over = check_program(_zic(4_801), library, SYNCHROMED, _ctx(previous=prev))
    assert _limits(over) == {"ziconotide.pain.titration.max_increase": "hard"}
    ctx = _ctx("ziconotide.pain.titration.max_increase", previous=prev)
    assert not check_program(_zic(4_801), library, SYNCHROMED, ctx).accepted


def test_ziconotide_at_most_three_increases_in_rolling_7_days(library: Library):
    """At most 3 ziconotide increases in any rolling 7 days of elapsed time (REQ-TITR-002,
    REQ-TIME-001)."""
    now = 30 * DAY
    prev = _zic(2_400)
    three = (
        Increase(now - 7 * DAY + 1, 1_200, 1_500),
        Increase(now - 3 * DAY, 1_500, 2_000),
        Increase(now - DAY, 2_000, 2_400),
    )
    fourth = check_program(
        _zic(3_000), library, SYNCHROMED, ProgramContext(previous=prev, increases=three, now_s=now)
    )
    assert _limits(fourth) == {"ziconotide.pain.titration.max_increases": "hard"}
    assert not fourth.accepted
    # The oldest exactly 7 days ago has left the window (now - 7 d, now].
    aged = (dataclasses.replace(three[0], at_s=now - 7 * DAY), *three[1:])
    ok = check_program(
        _zic(3_000), library, SYNCHROMED, ProgramContext(previous=prev, increases=aged, now_s=now)
    )
    assert ok.accepted, ok.violations
    # A decrease is not an increase: never limited by the count.
    down = check_program(
        _zic(2_000), library, SYNCHROMED, ProgramContext(previous=prev, increases=three, now_s=now)
    )
    assert down.accepted


def test_without_a_count_limit_increases_are_limited_only_by_their_size(library: Library):
    """A titration rule without a count of increases per window (an edited library) limits each
    increase by its size only: a fourth increase within 7 days passes, a step over 2.4 mcg/day
    still does not (REQ-TITR-001, REQ-TITR-002)."""
    entries = tuple(
        dataclasses.replace(e, titration=dataclasses.replace(e.titration, max_increases=None))
        if e.drug == "ziconotide" and e.titration is not None
        else e
        for e in library.entries
    )
    edited = dataclasses.replace(library, entries=entries)
    now = 30 * DAY
    prev = _zic(2_400)
    three = (
        Increase(now - 3 * DAY, 1_200, 1_500),
        Increase(now - 2 * DAY, 1_500, 2_000),
        Increase(now - DAY, 2_000, 2_400),
    )
    ctx = ProgramContext(previous=prev, increases=three, now_s=now)
    assert _limits(check_program(_zic(3_000), library, SYNCHROMED, ctx)) == {
        "ziconotide.pain.titration.max_increases": "hard"
    }
    fourth = check_program(_zic(3_000), edited, SYNCHROMED, ctx)
    assert fourth.accepted, fourth.violations
    too_big = check_program(_zic(4_801), edited, SYNCHROMED, ctx)
    assert _limits(too_big) == {"ziconotide.pain.titration.max_increase": "hard"}


@pytest.mark.parametrize(
    ("indication", "limit_dose"),
    [("spasticity-spinal", 260 * MCG), ("spasticity-cerebral", 230 * MCG)],
)
def test_baclofen_increase_percent(indication: str, limit_dose: int, library: Library):
    # From 200 mcg/day: +30 % spinal = 260 mcg/day, +15 % cerebral = 230 mcg/day.
    """Baclofen increase at most 30 % spinal or 15 % cerebral (REQ-TITR-003)."""
    prev = _baclofen(200 * MCG, indication=indication)
    ctx = ProgramContext(previous=prev)
    ok = check_program(_baclofen(limit_dose, indication=indication), library, PROMETRA, ctx)
    assert ok.accepted, ok.violations
    over = check_program(_baclofen(limit_dose + 1, indication=indication), library, PROMETRA, ctx)
    assert _limits(over) == {f"baclofen.{indication}.titration.max_increase_percent": "hard"}


def test_baclofen_one_increase_per_24_hours(library: Library):
    """At most one baclofen increase per rolling 24 h (REQ-TITR-004)."""
    now = 10 * DAY
    prev = _baclofen(200 * MCG)
    recent = (Increase(now - DAY + 1, 180 * MCG, 200 * MCG),)
    report = check_program(
        _baclofen(220 * MCG), library, PROMETRA, ProgramContext(prev, recent, now)
    )
    assert _limits(report) == {"baclofen.spasticity-spinal.titration.max_increases": "hard"}
    aged = (Increase(now - DAY, 180 * MCG, 200 * MCG),)
    assert check_program(
        _baclofen(220 * MCG), library, PROMETRA, ProgramContext(prev, aged, now)
    ).accepted


@pytest.mark.parametrize(
    ("new_dose", "needs_confirmation"),
    [(160 * MCG, False), (160 * MCG - 1, True), (0, True), (199 * MCG, False)],
    ids=["cut-20pct", "cut-over-20pct", "stop", "small-cut"],
)
def test_baclofen_cut_over_20_percent_or_stop_needs_confirmation(
    new_dose: int, needs_confirmation: bool, library: Library
):
    """A baclofen cut over 20 % or a stop needs confirmation (REQ-BACL-001)."""
    prev = _baclofen(200 * MCG)
    report = check_program(_baclofen(new_dose), library, PROMETRA, ProgramContext(previous=prev))
    limit = "baclofen.spasticity-spinal.withdrawal_confirmation"
    assert (limit in _limits(report)) is needs_confirmation
    assert report.accepted is not needs_confirmation
    confirmed = ProgramContext(previous=prev, confirm_withdrawal_risk=True)
    assert check_program(_baclofen(new_dose), library, PROMETRA, confirmed).accepted


def test_morphine_cut_needs_no_confirmation(library: Library):
    ctx = ProgramContext(previous=_morphine(5 * MG))
    assert check_program(_morphine(0), library, PROMETRA, ctx).accepted


# --- starting range ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "dose", "inside"),
    [
        ("opioid-tolerant", 1 * MG, True),
        ("opioid-tolerant", 10 * MG, True),
        ("opioid-tolerant", MG - 1, False),
        ("opioid-tolerant", 10 * MG + 1, False),
        ("opioid-naive", 200_000, True),
        ("opioid-naive", 199_999, False),
        ("opioid-naive", MG + 1, False),
    ],
)
def test_starting_range_is_soft_for_the_first_program(
    status: str, dose: int, inside: bool, library: Library
):
    """The label starting ranges are soft limits for the first program
    (REQ-DOSE-003, REQ-LIB-005).
    """
    prog = dataclasses.replace(_morphine(dose), opioid_status=status)
    limit = f"morphine.pain.starting_range.{status}"
    first = check_program(prog, library, PROMETRA, ProgramContext(initial=True))
    assert (limit in _limits(first)) is not inside
    if not inside:
        assert _limits(first)[limit] == "soft"
        assert not first.accepted
        assert check_program(prog, library, PROMETRA, _ctx(limit, initial=True)).accepted
    # not the first program: no starting range check
    later = check_program(prog, library, PROMETRA, ProgramContext(initial=False))
    assert limit not in _limits(later)


# --- report figures ----------------------------------------------------------------------------


def test_report_figures_of_the_morphine_program(library: Library):
    # 1 mg/day basal + 4 x 0.1 mg = 1.4 mg/day worst case, at 10 mg/mL: 0.1 mL/day basal and
    # 0.14 mL/day worst case. Prometra II 20 mL, low alarm at 3.0 mL: 17 mL / 0.14 mL/day =
    # 121.43 days (10 491 428 s, rounded down).
    """Daily dose, volume and low-reservoir date, assuming every bolus (REQ-RES-003)."""
    report = check_program(MORPHINE_PROGRAM, library, PROMETRA)
    assert report.accepted
    assert report.basal_daily_ng == 1 * MG
    assert report.worst_case_daily_ng == 1_400_000
    assert report.volume_rate_nl_per_day == 100_000
    assert report.worst_case_volume_nl_per_day == 140_000
    assert report.days_to_low_reservoir == 121
    assert report.seconds_to_low_reservoir == 17 * ML * DAY // 140_000


def test_report_figures_of_the_alarm_date_example(library: Library):
    # docs/dosing-rules.md#example-alarm-date: 0.5 mL/day, no boluses: (20 - 3) / 0.5 = 34 days.
    report = check_program(_morphine(5 * MG), library, PROMETRA)
    assert report.volume_rate_nl_per_day == 500_000
    assert report.days_to_low_reservoir == 34
    assert report.seconds_to_low_reservoir == 34 * DAY


def test_zero_rate_program_has_no_low_reservoir_date(library: Library):
    report = check_program(_morphine(0), library, PROMETRA)
    assert report.days_to_low_reservoir is None
    assert report.volume_rate_nl_per_day == 0
