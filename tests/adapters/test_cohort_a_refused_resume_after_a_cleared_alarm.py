"""What ``silent_stop`` found in examples/cohorts/restarts.toml (patients 0-479, a year each):
5 patients left stopped with nothing sounding, each the same way. A HIGH alarm stops delivery;
the drawn clinician's answer clears it (the core moves the pump to ``suspended``) and resumes,
but the stop has lasted more than 24 h and the resume carries no restart reason, so the core
refuses it (R-LIM-10 of docs/dosing-rules.md: a restart after more than 24 h without delivery
needs the clinician's confirmation with a reason). The draw gives the reason only when its own
drawn response delay is over 20 h, not when the stop is long (it began earlier: an empty
reservoir, then a drive fault; or a restart). The pump then stays suspended, no alarm present,
until another visit's resume or a refill: baclofen patient 298 for 9,291 s (2.6 h, from
t = 10,555,832 s), baclofen patient 253 for 14,022 s (3.9 h), morphine patient 157 for
2,746,075 s (31.8 days, until its next refill), 437 for 45,578 s (12.7 h), 469 for 40,858 s
(11.3 h). Patients 0-149 (CI's cohort) hold none of them.

Fixed in the draw: the answer's resume carries the restart reason whenever it is drawn (the
clinician confirms a stop of over 24 h as R-LIM-10 asks; the core takes the reason on a shorter
stop without effect). Open for the rules: a pump left ``suspended`` after the clear of its last
HIGH alarm has nothing that announces it (SAFETY.md).

Requirements: REQ-ALM-001, REQ-BACL-003 (an unplanned stop is announced)."""

from __future__ import annotations

from pathlib import Path

from itdose.adapters.cohort_draw import load_cohort
from itdose.adapters.cohort_physics import SILENT_STOP_LIMIT_S
from itdose.adapters.cohort_run import run_patient
from itdose.specs import load_library

ROOT = Path(__file__).resolve().parents[2] / "examples" / "cohorts"
DAY_S = 86_400
COHORT = load_cohort(ROOT / "restarts.toml", load_library())


def test_a_resume_refused_after_the_last_alarm_is_cleared_leaves_no_silent_stop() -> None:
    """REQ-ALM-001, REQ-BACL-003: patient 298, 125 days: the run has no silent stop (before
    the fix: 9,291 s suspended after the clear of a delivery-deviation alarm, its resume
    refused)."""
    r = run_patient(COHORT, 298, 125 * DAY_S)
    assert r["error"] is None, r["error"]
    assert r["silent_stop_longest_s"] <= SILENT_STOP_LIMIT_S, r["silent_stop_longest_s"]
    assert r["hazards"]["silent_stop"] == 0, r["hazards"]
