"""Program checks (core/program.py): the complete
content of the violations a clinician sees (limit, level, field, value, bound, message), and the
boundaries of the schedule helpers. Expected values follow docs/dosing-rules.md and the shipped
library (morphine 20 mg/day hard, 15 mg/day soft, 20 mg/mL soft; hydromorphone not approved;
Prometra pumps labelled for morphine and baclofen; SynchroMed II minimum rate 0.048 mL/day)."""

from __future__ import annotations

import dataclasses

import pytest

from itdose.core import InvalidInput, Library
from itdose.core.library import Level, Limit, Tag
from itdose.core.program import (
    Basal,
    FlexClock,
    FlexStep,
    Increase,
    PatientBolusProgram,
    Program,
    ProgramContext,
    UtcOffset,
    Violation,
    check_program,
    local_seconds,
    max_basal_rate_ng_per_day,
    rate_at,
)
from itdose.core.units import Dimension

MG = 1_000_000
MCG = 1_000


def _morphine(conc: int, basal: Basal, bolus: PatientBolusProgram | None = None) -> Program:
    return Program("morphine", "pain", conc, basal, bolus, "opioid-tolerant")


def test_unapproved_unlabelled_compounded_drug_violations_in_full(library: Library) -> None:
    """Unapproved drug, unlabelled pump and compounded strength each need an override
    (REQ-LIB-006, REQ-LIB-007, REQ-LIB-009)."""
    prog = Program("hydromorphone", "pain", 10 * MG, Basal.continuous(1 * MG))
    report = check_program(prog, library, "prometra-ii-20")
    assert report.violations == (
        Violation(
            "hydromorphone.pain.unapproved",
            "soft",
            "drug",
            "hydromorphone",
            "approved drugs only",
            "hydromorphone is not approved for intrathecal pumps (FDA 2018)",
        ),
        Violation(
            "prometra-ii-20.approved_drugs",
            "soft",
            "drug",
            "hydromorphone",
            "morphine, baclofen",
            "prometra-ii-20 is not labelled for hydromorphone",
        ),
        Violation(
            "hydromorphone.pain.product_concentrations",
            "soft",
            "concentration",
            "10 mg/mL",
            "none",
            "not a product strength allowed in this pump (compounded product)",
        ),
    )
    assert not report.accepted


def test_concentration_and_daily_maximum_violations_in_full(library: Library) -> None:
    """The hard and soft daily maxima; the labelled 25 mg/mL strength is not above the maximum
    concentration, which does not apply to it (REQ-DOSE-002, REQ-DOSE-003, REQ-LIB-005,
    REQ-LIB-007)."""
    report = check_program(_morphine(25 * MG, Basal.continuous(30 * MG)), library, "prometra-ii-20")
    assert report.violations == (
        Violation(
            "morphine.pain.max_daily",
            "hard",
            "worst_case_daily",
            "30 mg/day",
            "20 mg/day",
            "worst-case daily total (basal + every allowed bolus) above the maximum",
        ),
        Violation(
            "morphine.pain.soft_max_daily",
            "soft",
            "worst_case_daily",
            "30 mg/day",
            "15 mg/day",
            "worst-case daily total above the soft maximum",
        ),
    )


def test_a_concentration_exactly_at_the_maximum_is_not_above_it(library: Library) -> None:
    """Limits are inclusive (REQ-LIB-002)."""
    report = check_program(_morphine(20 * MG, Basal.continuous(1 * MG)), library, "prometra-ii-20")
    assert "morphine.pain.max_concentration" not in {v.limit for v in report.violations}


def test_bolus_shape_and_pump_bolus_violations_in_full(library: Library) -> None:
    """A bolus longer than its lockout; a pump without patient bolus (REQ-BOL-006)."""
    bolus = PatientBolusProgram(dose_ng=100 * MCG, duration_s=600, lockout_s=60, max_per_24h=2)
    report = check_program(
        _morphine(10 * MG, Basal.continuous(1 * MG), bolus), library, "prometra-20"
    )
    assert report.violations == (
        Violation(
            "morphine.pain.program_shape",
            "hard",
            "patient_bolus.duration",
            "10 min",
            "<= lockout 1 min",
            "a bolus may not last longer than its lockout",
        ),
        Violation(
            "prometra-20.patient_bolus",
            "hard",
            "patient_bolus",
            "morphine",
            "none",
            "prometra-20 allows no patient bolus of morphine",
        ),
    )


def test_minimum_rate_is_checked_on_steps_after_a_zero_step(library: Library) -> None:
    """Every non-zero step is checked against the minimum rate (REQ-DOSE-004)."""
    basal = Basal(steps=(FlexStep(0, 0), FlexStep(3_600, 100 * MCG)))
    report = check_program(_morphine(10 * MG, basal), library, "synchromed-ii-20")
    # 100 mcg/day at 10 mg/mL = 0.01 mL/day < 0.048; 100 mcg/day needs <= 100e3*1e6/48e3 ng/mL
    assert report.violations == (
        Violation(
            "synchromed-ii-20.min_rate",
            "hard",
            "basal.steps[1].dose",
            "0.01 mL/day",
            "0.048 mL/day",
            "below the pump's minimum rate; dilute to at most 2.083333 mg/mL to deliver "
            "100 mcg/day",
        ),
    )


def test_rate_at_a_step_end_is_the_next_step_and_the_day_end_is_outside() -> None:
    """Steps are half-open and tile [0, 24 h) (REQ-TIME-007)."""
    basal = Basal(steps=(FlexStep(0, 5), FlexStep(3_600, 9)))
    assert rate_at(basal, seconds_into_day=3_599) == (5, 1)
    assert rate_at(basal, seconds_into_day=3_600) == (9, 86_400 - 3_600)
    with pytest.raises(InvalidInput) as exc:
        rate_at(basal, seconds_into_day=86_400)
    err = exc.value
    assert (err.field, err.message, err.value) == ("seconds_into_day", "outside the day", 86_400)


def test_max_basal_rate_is_the_highest_step() -> None:
    """The highest step rate of a flex schedule (REQ-TIME-005)."""
    assert max_basal_rate_ng_per_day(Basal(steps=(FlexStep(0, 5), FlexStep(100, 9)))) == 9
    assert max_basal_rate_ng_per_day(Basal.continuous(7)) == 7


def test_local_time_before_the_first_offset_change_is_utc() -> None:
    """Wall time follows the offset table from each change instant on (REQ-TIME-005)."""
    basal = Basal(steps=(FlexStep(0, 1),), utc_offsets=(UtcOffset(1_000, 3_600),))
    assert local_seconds(basal, 999) == 999
    assert local_seconds(basal, 1_000) == 4_600


# --- input validation: the exact InvalidInput of each malformed field ----------------------------

DAY = 86_400
HOUR = 3_600


def _invalid(program: Program, library: Library) -> tuple[str, str, object, str | None]:
    with pytest.raises(InvalidInput) as exc:
        check_program(program, library, "prometra-ii-20")
    err = exc.value
    return err.field, err.message, err.value, err.limit


@pytest.mark.parametrize(
    ("conc", "expected"),
    [
        ("10", ("concentration", "expected an int, got str", "10", None)),
        (True, ("concentration", "expected an int, got bool", True, None)),
        (1.5, ("concentration", "expected an int, got float", 1.5, None)),
        (0, ("concentration", "must be positive", 0, None)),
        (-1, ("concentration", "must be positive", -1, None)),
    ],
)
def test_a_malformed_concentration_is_rejected_naming_it(
    conc: object, expected: tuple[str, str, object, str | None], library: Library
) -> None:
    """A concentration that is not a positive int is invalid input, never rounded (REQ-UNIT-001,
    REQ-UNIT-002)."""
    assert _invalid(_morphine(conc, Basal.continuous(MG)), library) == expected  # type: ignore[arg-type]


def test_a_concentration_of_one_ng_per_ml_is_well_formed(library: Library) -> None:
    """1 ng/mL is a positive int: limits judge it, the shape check does not (REQ-UNIT-001)."""
    report = check_program(_morphine(1, Basal.continuous(0)), library, "prometra-ii-20")
    assert "concentration" in {v.field for v in report.violations}
    assert report.basal_daily_ng == 0


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (
            (FlexStep(0, 5), FlexStep(-5, 5)),
            ("basal.steps[1].start", "must not be negative", -5, None),
        ),
        (
            (FlexStep(0, 5), FlexStep(HOUR, -1)),
            ("basal.steps[1].dose", "must not be negative", -1, None),
        ),
        (
            (FlexStep(0, 5), FlexStep(HOUR, "5")),
            ("basal.steps[1].dose", "expected an int, got str", "5", None),
        ),
        (
            (FlexStep(0, 5), FlexStep(DAY, 5)),
            ("basal.steps[1].start", "must be before 24:00", DAY, None),
        ),
        (
            (FlexStep(60, 5), FlexStep(HOUR, 5)),
            ("basal.steps[0].start", "steps must tile the day from 00:00 (a gap)", 60, None),
        ),
        (
            (FlexStep(0, 5), FlexStep(HOUR, 5), FlexStep(HOUR, 7)),
            (
                "basal.steps[2].start",
                "steps must start in increasing order (an overlap)",
                HOUR,
                None,
            ),
        ),
        (
            (FlexStep(0, 5), FlexStep(2 * HOUR, 5), FlexStep(HOUR, 7)),
            (
                "basal.steps[2].start",
                "steps must start in increasing order (an overlap)",
                HOUR,
                None,
            ),
        ),
        (
            (FlexStep(0, 5), FlexStep(0, 7)),
            (
                "basal.steps[1].start",
                "steps must start in increasing order (an overlap)",
                0,
                None,
            ),
        ),
        ((), ("basal.steps", "a basal needs at least one step", None, None)),
    ],
)
def test_a_schedule_that_does_not_tile_the_day_is_rejected_naming_the_step(
    steps: tuple[FlexStep, ...], expected: tuple[str, str, object, str | None], library: Library
) -> None:
    """Flex steps tile the 24 h day exactly: a gap, an overlap, a start at or after 24:00 or a
    negative value rejects the program, naming the step (REQ-TIME-007)."""
    assert _invalid(_morphine(10 * MG, Basal(steps=steps)), library) == expected


def test_the_last_second_of_the_day_and_a_zero_dose_are_valid_steps(library: Library) -> None:
    """A step may start at 23:59:59 and deliver nothing (REQ-TIME-007)."""
    basal = Basal(steps=(FlexStep(0, 0), FlexStep(DAY - 1, DAY)))
    report = check_program(_morphine(10 * MG, basal), library, "prometra-ii-20")
    assert report.violations == ()
    assert report.basal_daily_ng == 1  # DAY ng/day for one second


def test_a_wall_schedule_without_zone_and_elapsed_offsets_are_rejected(library: Library) -> None:
    """A wall schedule names its IANA zone; only a wall schedule carries UTC offsets
    (REQ-TIME-005)."""
    wall = Basal(steps=(FlexStep(0, MG),), clock=FlexClock.WALL)
    assert _invalid(_morphine(10 * MG, wall), library) == (
        "basal.timezone",
        "a wall-clock schedule needs an IANA time zone",
        None,
        None,
    )
    elapsed = Basal(steps=(FlexStep(0, MG),), utc_offsets=(UtcOffset(0, HOUR),))
    assert _invalid(_morphine(10 * MG, elapsed), library) == (
        "basal.utc_offsets",
        "only a wall-clock schedule has offsets",
        None,
        None,
    )


def test_an_unknown_opioid_status_is_rejected(library: Library) -> None:
    """Only the library's opioid statuses select a starting range (REQ-LIB-001)."""
    prog = Program("morphine", "pain", 10 * MG, Basal.continuous(MG), None, "naive")
    assert _invalid(prog, library) == (
        "opioid_status",
        "expected 'opioid-naive' or 'opioid-tolerant'",
        "naive",
        None,
    )
    for status in (None, "opioid-naive", "opioid-tolerant"):
        ok = Program("morphine", "pain", 10 * MG, Basal.continuous(MG), None, status)
        assert check_program(ok, library, "prometra-ii-20").accepted


_BOLUS = PatientBolusProgram(dose_ng=100 * MCG, duration_s=600, lockout_s=HOUR, max_per_24h=4)


@pytest.mark.parametrize(
    ("field", "attr"),
    [
        ("patient_bolus.dose", "dose_ng"),
        ("patient_bolus.duration", "duration_s"),
        ("patient_bolus.lockout", "lockout_s"),
        ("patient_bolus.max_per_24h", "max_per_24h"),
    ],
)
def test_every_bolus_field_must_be_a_positive_int(field: str, attr: str, library: Library) -> None:
    """A patient bolus of zero dose, duration, lockout or count is malformed; one unit of each is
    well formed (REQ-BOL-003, REQ-UNIT-001)."""
    for bad, message in ((0, "must be positive"), (-1, "must be positive")):
        bolus = dataclasses.replace(_BOLUS, **{attr: bad})
        prog = _morphine(10 * MG, Basal.continuous(MG), bolus)
        assert _invalid(prog, library) == (field, message, bad, None)
    bolus = dataclasses.replace(_BOLUS, **{attr: "1"})
    prog = _morphine(10 * MG, Basal.continuous(MG), bolus)
    assert _invalid(prog, library) == (field, "expected an int, got str", "1", None)
    one = dataclasses.replace(_BOLUS, **{"duration_s": 1, attr: 1})
    report = check_program(_morphine(10 * MG, Basal.continuous(MG), one), library, "prometra-ii-20")
    assert report.violations == ()


def test_a_bolus_lasting_exactly_its_lockout_is_well_formed(library: Library) -> None:
    """A bolus may last as long as its lockout, not longer (REQ-BOL-001)."""
    bolus = dataclasses.replace(_BOLUS, duration_s=HOUR)
    report = check_program(
        _morphine(10 * MG, Basal.continuous(MG), bolus), library, "prometra-ii-20"
    )
    assert report.violations == ()
    assert report.accepted


# --- patient-bolus library limits (no shipped entry has them: a library copy adds them) ----------


def _with_bolus_limits(library: Library) -> Library:
    entry = library.drug("morphine", "pain")
    limited = dataclasses.replace(
        entry,
        max_bolus=Limit(
            "morphine.pain.max_bolus", Level.SOFT, 500 * MCG, Dimension.AMOUNT, "t", Tag.D
        ),
        min_lockout=Limit(
            "morphine.pain.min_lockout", Level.HARD, 2 * HOUR, Dimension.DURATION, "t", Tag.D
        ),
    )
    entries = tuple(limited if e is entry else e for e in library.entries)
    return dataclasses.replace(library, entries=entries)


def test_bolus_dose_above_the_maximum_and_lockout_below_the_minimum_in_full(
    library: Library,
) -> None:
    """The library's bolus dose maximum and lockout minimum are checked with their level
    (REQ-LIB-001, REQ-LIB-002, REQ-LIB-003)."""
    limited = _with_bolus_limits(library)
    bolus = PatientBolusProgram(500 * MCG + 1, 600, 2 * HOUR - 1, 1)
    report = check_program(
        _morphine(10 * MG, Basal.continuous(MG), bolus), limited, "prometra-ii-20"
    )
    assert report.violations == (
        Violation(
            "morphine.pain.max_bolus",
            "soft",
            "patient_bolus.dose",
            "500.001 mcg",
            "500 mcg",
            "bolus dose above maximum",
        ),
        Violation(
            "morphine.pain.min_lockout",
            "hard",
            "patient_bolus.lockout",
            "1 h 59 min 59 s",
            "2 h",
            "lockout shorter than the minimum",
        ),
    )
    assert not report.accepted


def test_bolus_dose_at_the_maximum_and_lockout_at_the_minimum_pass(library: Library) -> None:
    """Limits are inclusive: a bolus exactly at the maximum dose and the minimum lockout is
    accepted (REQ-LIB-002)."""
    limited = _with_bolus_limits(library)
    bolus = PatientBolusProgram(500 * MCG, 600, 2 * HOUR, 1)
    report = check_program(
        _morphine(10 * MG, Basal.continuous(MG), bolus), limited, "prometra-ii-20"
    )
    assert report.violations == ()
    assert report.accepted
    assert report.worst_case_daily_ng == MG + 500 * MCG


def test_a_soft_bolus_maximum_yields_to_an_override(library: Library) -> None:
    """Only the soft bolus maximum is overridden; the hard lockout minimum is not
    (REQ-LIB-003)."""
    limited = _with_bolus_limits(library)
    ctx = ProgramContext(overrides=(("morphine.pain.max_bolus", "titrated"),))
    dose_only = PatientBolusProgram(600 * MCG, 600, 2 * HOUR, 1)
    prog = _morphine(10 * MG, Basal.continuous(MG), dose_only)
    report = check_program(prog, limited, "prometra-ii-20", ctx)
    assert [v.overridden for v in report.violations] == [True]
    assert report.accepted


# --- titration and the baclofen withdrawal confirmation ------------------------------------------


def _zic(dose: int) -> Program:
    return Program("ziconotide", "pain", 25 * MCG, Basal.continuous(dose))


def _baclofen(dose: int, indication: str = "spasticity-spinal") -> Program:
    return Program("baclofen", indication, 500 * MCG, Basal.continuous(dose))


def test_ziconotide_step_and_count_violations_in_full(library: Library) -> None:
    """Ziconotide: at most 2.4 mcg/day per increase and 3 increases per rolling 7 days, hard
    (REQ-TITR-001, REQ-TITR-002)."""
    now = 30 * DAY
    three = tuple(Increase(now - k, 1_000, 2_000) for k in (1, 2, 3))
    ctx = ProgramContext(previous=_zic(2_400), increases=three, now_s=now)
    report = check_program(_zic(4_801), library, "synchromed-ii-20", ctx)
    assert report.violations == (
        Violation(
            "ziconotide.pain.titration.max_increase",
            "hard",
            "basal",
            "2.401 mcg/day",
            "2.4 mcg/day",
            "increase larger than the titration step",
        ),
        Violation(
            "ziconotide.pain.titration.max_increases",
            "hard",
            "basal",
            "4 increases",
            "3 per 7 d",
            "too many increases in the rolling window",
        ),
    )


def test_two_earlier_increases_leave_room_for_a_third(library: Library) -> None:
    """Three increases in 7 days are allowed: two recorded plus this one (REQ-TITR-002)."""
    now = 30 * DAY
    two = (Increase(now - 1, 1_000, 2_000), Increase(now, 2_000, 2_400))
    ctx = ProgramContext(previous=_zic(2_400), increases=two, now_s=now)
    assert check_program(_zic(3_000), library, "synchromed-ii-20", ctx).violations == ()


def test_baclofen_percent_increase_violation_in_full(library: Library) -> None:
    """Baclofen spinal: at most +30 % of the current dose per increase (REQ-TITR-003)."""
    ctx = ProgramContext(previous=_baclofen(200 * MCG))
    report = check_program(_baclofen(261 * MCG), library, "prometra-ii-20", ctx)
    assert report.violations == (
        Violation(
            "baclofen.spasticity-spinal.titration.max_increase_percent",
            "hard",
            "basal",
            "+61 mcg/day on 200 mcg/day",
            "30 %",
            "increase larger than the allowed percentage of the current dose",
        ),
    )


def test_titration_compares_only_the_same_drug_and_indication(library: Library) -> None:
    """A previous program of another indication or drug is no titration base (REQ-TITR-003,
    REQ-BACL-001)."""
    other_indication = ProgramContext(previous=_baclofen(100 * MCG, "spasticity-cerebral"))
    report = check_program(_baclofen(400 * MCG), library, "prometra-ii-20", other_indication)
    assert report.violations == ()
    # from morphine 0 to ziconotide 4.801 mcg/day: no ziconotide step limit applies
    other_drug = ProgramContext(previous=Program("morphine", "pain", 10 * MG, Basal.continuous(0)))
    assert check_program(_zic(4_801), library, "synchromed-ii-20", other_drug).violations == ()
    same = ProgramContext(previous=_baclofen(100 * MCG))
    limits = {
        v.limit
        for v in check_program(_baclofen(400 * MCG), library, "prometra-ii-20", same).violations
    }
    assert limits == {"baclofen.spasticity-spinal.titration.max_increase_percent"}


def test_baclofen_withdrawal_confirmation_violation_in_full(library: Library) -> None:
    """A baclofen cut of more than 20 % needs a confirmation of the withdrawal risk
    (REQ-BACL-001)."""
    ctx = ProgramContext(previous=_baclofen(200 * MCG))
    report = check_program(_baclofen(150 * MCG), library, "prometra-ii-20", ctx)
    assert report.violations == (
        Violation(
            "baclofen.spasticity-spinal.withdrawal_confirmation",
            "hard",
            "basal",
            "150 mcg/day",
            "confirmation",
            "stopping or cutting this drug by more than 20 % needs an explicit confirmation of "
            "the withdrawal risk",
        ),
    )


def test_baclofen_staying_at_zero_or_at_the_same_dose_is_no_cut(library: Library) -> None:
    """Keeping the dose (also a zero dose) is neither a stop nor a cut (REQ-BACL-001)."""
    for dose in (0, 200 * MCG):
        ctx = ProgramContext(previous=_baclofen(dose))
        assert check_program(_baclofen(dose), library, "prometra-ii-20", ctx).violations == ()


# --- starting dose of a first program ------------------------------------------------------------


def test_baclofen_starting_dose_is_twice_the_screening_dose(library: Library) -> None:
    """The first baclofen pump dose is 2 x the effective screening dose per 24 h, soft
    (REQ-BACL-006, REQ-DOSE-003)."""
    ctx = ProgramContext(initial=True, effective_screening_dose_ng=50 * MCG)
    report = check_program(_baclofen(120 * MCG), library, "prometra-ii-20", ctx)
    assert report.violations == (
        Violation(
            "baclofen.spasticity-spinal.screening.starting_dose",
            "soft",
            "basal",
            "120 mcg/day",
            "100 mcg/day",
            "the starting pump dose is 2 x the effective screening dose per 24 h",
        ),
    )
    assert check_program(_baclofen(100 * MCG), library, "prometra-ii-20", ctx).violations == ()
    # without a recorded screening dose, or for a later program, nothing to compare with
    for other in (
        ProgramContext(initial=True),
        ProgramContext(effective_screening_dose_ng=50 * MCG),
    ):
        assert (
            check_program(_baclofen(120 * MCG), library, "prometra-ii-20", other).violations == ()
        )


def test_starting_range_violation_in_full(library: Library) -> None:
    """The label starting range of the opioid status is a soft limit (REQ-DOSE-003,
    REQ-LIB-005)."""
    prog = Program("morphine", "pain", 10 * MG, Basal.continuous(100 * MCG), None, "opioid-naive")
    report = check_program(prog, library, "prometra-ii-20", ProgramContext(initial=True))
    assert report.violations == (
        Violation(
            "morphine.pain.starting_range.opioid-naive",
            "soft",
            "basal",
            "100 mcg/day",
            "200 mcg/day - 1 mg/day",
            "starting dose outside the library's starting range",
        ),
    )


def test_without_an_opioid_status_the_any_starting_range_applies(library: Library) -> None:
    """A drug with one starting range for any patient checks it when no status is given
    (REQ-DOSE-003, REQ-LIB-001)."""
    prog = Program("hydromorphone", "pain", 10 * MG, Basal.continuous(200 * MCG))
    report = check_program(prog, library, "prometra-ii-20", ProgramContext(initial=True))
    assert report.violations[-1] == Violation(
        "hydromorphone.pain.starting_range.any",
        "soft",
        "basal",
        "200 mcg/day",
        "10 mcg/day - 150 mcg/day",
        "starting dose outside the library's starting range",
    )
    # morphine has ranges per status only: no status, no range to check
    untyped = Program("morphine", "pain", 10 * MG, Basal.continuous(100 * MCG))
    assert check_program(untyped, library, "prometra-ii-20", ProgramContext(initial=True)).accepted


# --- concentration narrowing of a pump ----------------------------------------------------------


def test_a_concentration_outside_the_pump_narrowing_in_full(library: Library) -> None:
    """Prometra II narrows baclofen to 500..2000 mcg/mL (hard); a strength that is no product
    lists the allowed ones (REQ-LIB-007, REQ-LIB-002)."""
    prog = Program("baclofen", "spasticity-spinal", 250 * MCG, Basal.continuous(100 * MCG))
    report = check_program(prog, library, "prometra-ii-20")
    assert report.violations == (
        Violation(
            "baclofen.spasticity-spinal.product_concentrations",
            "soft",
            "concentration",
            "250 mcg/mL",
            "500 mcg/mL, 1 mg/mL, 2 mg/mL",
            "not a product strength allowed in this pump (compounded product)",
        ),
        Violation(
            "prometra-ii-20.concentration_ranges.baclofen",
            "hard",
            "concentration",
            "250 mcg/mL",
            "500 mcg/mL..2 mg/mL",
            "outside the concentrations prometra-ii-20 accepts for baclofen",
        ),
    )


# --- the next daylight-saving day of a wall schedule ---------------------------------------------

# Europe/Berlin 2024: CEST from 2024-03-31 01:00 UTC, CET again from 2024-10-27 01:00 UTC.
SPRING = 1_711_846_800  # 2024-03-31T01:00:00Z
AUTUMN_DAY = 1_729_980_000  # 2024-10-26T22:00:00Z, local midnight CEST before the autumn change
SPRING_DAY = SPRING - 2 * HOUR  # 2024-03-30T23:00:00Z, local midnight CET
BERLIN = (UtcOffset(0, HOUR), UtcOffset(SPRING, 2 * HOUR), UtcOffset(1_729_990_800, HOUR))
A = 240 * MCG  # ng/day from local 00:00 to 08:00
B = 480 * MCG  # ng/day from local 08:00 to 24:00


def _wall(offsets: tuple[UtcOffset, ...]) -> Program:
    basal = Basal(
        steps=(FlexStep(0, A), FlexStep(8 * HOUR, B)),
        clock=FlexClock.WALL,
        timezone="Europe/Berlin",
        utc_offsets=offsets,
    )
    return Program("morphine", "pain", 10 * MG, basal, None, "opioid-naive")


def test_at_the_change_instant_the_next_dst_day_is_the_following_change(
    library: Library,
) -> None:
    """One second before the spring change the spring day is next; at the change instant it has
    happened and the autumn day is next (REQ-TIME-006)."""
    before = check_program(
        _wall(BERLIN), library, "prometra-ii-20", ProgramContext(utc_now_s=SPRING - 1)
    )
    assert (before.dst_day_utc_s, before.dst_day_total_ng) == (SPRING_DAY, (7 * A + 16 * B) // 24)
    at = check_program(_wall(BERLIN), library, "prometra-ii-20", ProgramContext(utc_now_s=SPRING))
    assert (at.dst_day_utc_s, at.dst_day_total_ng) == (AUTUMN_DAY, (9 * A + 16 * B) // 24)


def test_a_wall_schedule_without_the_current_time_reports_no_dst_day(library: Library) -> None:
    """The DST day needs the current UTC time; without it none is reported (REQ-TIME-006)."""
    report = check_program(_wall(BERLIN), library, "prometra-ii-20", ProgramContext())
    assert (report.dst_day_utc_s, report.dst_day_total_ng) == (None, None)
    assert report.accepted


def test_the_offset_just_before_a_change_sets_the_start_of_its_day(library: Library) -> None:
    """The local day of a change starts at local midnight in the offset in force one second
    before the change. Here UTC+1 starts exactly at a local midnight and lasts one second, then
    UTC+2 follows: the day starts at that midnight (UTC+1) and lasts 23 h: 7 h of A (the lost
    hour is 01:00:01..01:00 of A) and 16 h of B (REQ-TIME-006)."""
    k = 20_000  # any day
    change = k * DAY - HOUR + 1  # local k*DAY + 3601 s in UTC+2
    offsets = (UtcOffset(0, 0), UtcOffset(change - 1, HOUR), UtcOffset(change, 2 * HOUR))
    ctx = ProgramContext(utc_now_s=change - 1)
    report = check_program(_wall(offsets), library, "prometra-ii-20", ctx)
    assert report.dst_day_utc_s == k * DAY - HOUR == change - 1
    assert report.dst_day_total_ng == (7 * A + 16 * B) // 24


def test_a_pump_bolus_refusal_lists_every_drug_it_allows(library: Library) -> None:
    """The refusal of a patient bolus names the drugs the pump allows it for (REQ-BOL-006,
    REQ-LIB-009). A library copy lets prometra-ii-20 allow two drugs, neither baclofen."""
    pump = library.pump("prometra-ii-20")
    two = dataclasses.replace(
        pump, patient_bolus=dataclasses.replace(pump.patient_bolus, names=("morphine", "fentanyl"))
    )
    copy = dataclasses.replace(library, pumps=tuple(two if p is pump else p for p in library.pumps))
    bolus = PatientBolusProgram(dose_ng=50 * MCG, duration_s=600, lockout_s=HOUR, max_per_24h=1)
    prog = Program("baclofen", "spasticity-spinal", 500 * MCG, Basal.continuous(100 * MCG), bolus)
    report = check_program(prog, copy, "prometra-ii-20")
    assert report.violations == (
        Violation(
            "prometra-ii-20.patient_bolus",
            "hard",
            "patient_bolus",
            "baclofen",
            "morphine, fentanyl",
            "prometra-ii-20 allows no patient bolus of baclofen",
        ),
    )


def test_an_unchanged_dose_is_not_an_increase(library: Library) -> None:
    """Reprogramming the same ziconotide dose after three increases in 7 days is no fourth
    increase (REQ-TITR-002)."""
    now = 30 * DAY
    three = tuple(Increase(now - k, 1_000, 2_000) for k in (1, 2, 3))
    ctx = ProgramContext(previous=_zic(2_400), increases=three, now_s=now)
    assert check_program(_zic(2_400), library, "synchromed-ii-20", ctx).violations == ()


# Survivors of `tools/mutation.sh program` that no test can kill (equivalent mutants; _dst_day
# is now schedule.dst_day):
# - _check_titration `basal == 0 or cut_bp > ...` -> `basal == 1 or ...`: with basal < old, any
#   basal of 0 or 1 is already a cut of more than 20 % (old >= 1, resp. old >= 2), so the
#   disjunct decides nothing.
# - _check_start `p.opioid_status or "any"` -> `or "XXanyXX"` / `or "ANY"`:
#   DrugEntry.starting_range falls back to the "any" range for every unknown status.
# - _dst_day `min(left, end_utc - t, *later)` -> `end_utc + t`: with at most one offset change
#   per local day the step end `left` already stops at local midnight == end_utc; with two
#   changes in one day the code itself ends the day early (reported, not asserted here).
