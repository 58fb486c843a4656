"""Restarts cohort patient 1789 (examples/cohorts/restarts.toml, one year): baclofen on a Prometra
II 40 mL at 1,487 mcg/day (below its 2 mg maximum), refilled from 1000 to 500 mcg/mL at
t=17,767,689 s; an alarm stops delivery, and the alarms are cleared and delivery resumed at
t=17,896,417 s. In between, a report that is only an upper bound (21,943 nL, all of it doubt) is
pushed through a path that holds only 1000 mcg/mL fluid (218,400 nL of it): R-TIP-6 counts each
place within the doubt of the 1000 mcg/mL as 1000 mcg/mL, the first 21,943 nL of 500 mcg/mL
fluid included, and the basal rate follows that concentration there (half the volume an hour).
The drive had really moved more than the bound's lower end, so 500 mcg/mL fluid leaves at the
1000 mcg/mL rate: the 24 h window ending near t=17,982,852 s, wholly in the quiet stretch after
the resume (no alarm of any priority), gets 0.9926 of the program (10,964 ng short; the cohort
allows 0.5 %): the cohort's ``under_delivery`` hazard, found in restarts patients 1700-2099 (the
only hazard there; none in 1000-1199, 1300-1699 and 2100-2499: 1,400 patient-years in all, one
year each).

The same patient with R-TIP-6's recount of the path left out (``drive_reports._lagging``
returning nothing) gets 0.999998 of the program and no hazard, and its largest window is the same
1,540,008 ng: the under-delivery is the doubt's cost, announced by no alarm (SAFETY.md HAZ-06,
"scheduled basal withheld silently by a conservative accounting margin"; a directed bench of the
same in tests/core/test_basal_a_doubt_withholds_below_the_maximum_is_announced.py). Since then
such a report raises the MEDIUM delivery-limited alarm (docs/dosing-rules.md#r-tip-6), which is
still active after the resume: the patient has no hazard.
"""

from __future__ import annotations

from pathlib import Path

from itdose_cohortkit import DAY_S

from itdose.adapters.cohort_draw import load_cohort
from itdose.adapters.cohort_run import run_patient
from itdose.specs import load_library

RESTARTS = Path(__file__).resolve().parents[2] / "examples" / "cohorts" / "restarts.toml"


def test_restarts_patient_1789_is_delivered_in_full() -> None:
    """REQ-TIP-004 after REQ-TIP-006: no quiet 24 h window short of the program beyond the
    cohort's allowance (the report whose doubt counts the path richer raises the delivery-
    limited alarm, so the basal it withholds is announced), and no window above the hard
    maximum."""
    cohort = load_cohort(RESTARTS, load_library())
    result = run_patient(cohort, 1789, 365 * DAY_S)
    assert result["error"] is None
    assert result["hazards"]["tip_over_hard_max"] == 0
    assert result["hazards"]["under_delivery"] == 0, result["min_delivered_ratio"]
