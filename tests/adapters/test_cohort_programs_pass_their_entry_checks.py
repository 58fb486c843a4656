"""Every program a cohort draws is one the core accepts at entry (docs/cohort-schema.md): a
drawn program that the core refuses leaves its patient undosed (no program to start, a refill
that changes the concentration refused and the reservoir held in the refill phase) and the run
says little about dosing. The draw gave the soft daily maximum's override when the basal alone
was above it, but the core checks the worst case, basal and every allowed bolus, against both
maxima (R-LIM-7): 247 of the default cohort's first 1,000 patients had a program refused, among
them patients 386 and 538, whose first program was refused (worst cases 15.584 and 16.18 mg/day
against the 15 mg/day soft maximum) and who spent the year primed, suspended or in a refill.

Requirements: REQ-DOSE-002 (the worst case is checked at entry), REQ-DOSE-003 (a soft limit
yields only to an override with a reason)."""

from __future__ import annotations

from pathlib import Path

from itdose_cohortkit import DAY_S

from itdose.adapters.cohort_draw import draw_patient, load_cohort
from itdose.adapters.scenario import parse_scenario
from itdose.core.program import ProgramContext, check_program
from itdose.specs import load_library

DEFAULT = Path(__file__).resolve().parents[2] / "examples" / "cohorts" / "default.toml"


def test_default_cohort_programs_pass_their_entry_checks() -> None:
    """REQ-DOSE-002, REQ-DOSE-003: the drawn programs of the default cohort's first 600
    patients (a year each), with their drawn overrides, pass the core's entry checks; the
    soft maximum is among the limits overridden (so the check could fail)."""
    cohort = load_cohort(DEFAULT, load_library())
    soft_overridden = 0
    for index in range(600):
        doc = draw_patient(cohort, index, 365 * DAY_S)
        sc = parse_scenario(doc, cohort.library)
        for name, (program, overrides) in sc.programs.items():
            ctx = ProgramContext(overrides=tuple((o.limit_id, o.reason) for o in overrides))
            report = check_program(program, cohort.library, sc.pump, ctx)
            refused = [v for v in report.violations if not v.overridden]
            assert report.accepted, (index, name, refused)
            soft_overridden += any(
                v.field == "worst_case_daily" and v.overridden for v in report.violations
            )
    assert soft_overridden > 100
