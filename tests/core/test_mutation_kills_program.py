"""Tests that kill mutants mutmut left alive in core/program.py (docs/mutation.md): the complete
content of the violations a clinician sees (limit, level, field, value, bound, message), and the
boundaries of the schedule helpers. Expected values follow DECISIONS.md and the shipped library
(morphine 20 mg/day hard, 15 mg/day soft, 20 mg/mL soft; hydromorphone not approved; Prometra
pumps labelled for morphine and baclofen; SynchroMed II minimum rate 0.048 mL/day)."""

from __future__ import annotations

import pytest

from itdose.core import InvalidInput, Library
from itdose.core.program import (
    Basal,
    FlexStep,
    PatientBolusProgram,
    Program,
    UtcOffset,
    Violation,
    check_program,
    local_seconds,
    max_basal_rate_ng_per_day,
    rate_at,
)

MG = 1_000_000
MCG = 1_000


def _morphine(conc: int, basal: Basal, bolus: PatientBolusProgram | None = None) -> Program:
    return Program("morphine", "pain", conc, basal, bolus, "opioid-tolerant")


def test_unapproved_unlabelled_compounded_drug_violations_in_full(library: Library) -> None:
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
    report = check_program(_morphine(25 * MG, Basal.continuous(30 * MG)), library, "prometra-ii-20")
    assert report.violations == (
        Violation(
            "morphine.pain.max_concentration",
            "soft",
            "concentration",
            "25 mg/mL",
            "20 mg/mL",
            "above the maximum concentration",
        ),
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
    report = check_program(_morphine(20 * MG, Basal.continuous(1 * MG)), library, "prometra-ii-20")
    assert "morphine.pain.max_concentration" not in {v.limit for v in report.violations}


def test_bolus_shape_and_pump_bolus_violations_in_full(library: Library) -> None:
    bolus = PatientBolusProgram(dose_ng=100 * MCG, duration_s=600, lockout_s=60, max_per_24h=2)
    report = check_program(
        _morphine(10 * MG, Basal.continuous(1 * MG), bolus), library, "prometra-20"
    )
    assert report.violations == (
        Violation(
            "morphine.pain.program_shape",
            "hard",
            "patient_bolus.duration",
            "",
            "",
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
    basal = Basal(steps=(FlexStep(0, 5), FlexStep(3_600, 9)))
    assert rate_at(basal, seconds_into_day=3_599) == (5, 1)
    assert rate_at(basal, seconds_into_day=3_600) == (9, 86_400 - 3_600)
    with pytest.raises(InvalidInput) as exc:
        rate_at(basal, seconds_into_day=86_400)
    err = exc.value
    assert (err.field, err.message, err.value) == ("seconds_into_day", "outside the day", 86_400)


def test_max_basal_rate_is_the_highest_step() -> None:
    assert max_basal_rate_ng_per_day(Basal(steps=(FlexStep(0, 5), FlexStep(100, 9)))) == 9
    assert max_basal_rate_ng_per_day(Basal.continuous(7)) == 7


def test_local_time_before_the_first_offset_change_is_utc() -> None:
    basal = Basal(steps=(FlexStep(0, 1),), utc_offsets=(UtcOffset(1_000, 3_600),))
    assert local_seconds(basal, 999) == 999
    assert local_seconds(basal, 1_000) == 4_600
