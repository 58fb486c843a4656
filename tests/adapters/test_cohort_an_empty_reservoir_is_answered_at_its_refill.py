"""A drawn refill at which the reservoir may have reached its empty threshold is followed by
the clinician's answer: the HIGH ``empty_reservoir`` alarm cleared and delivery resumed
(docs/cohort-schema.md, ``reservoir_use``). The draw answered only a refill drawn after the
basal alone used the whole reservoir (a share above 100 %), but the empty alarm comes at the
pump's empty threshold (0.5 mL, R-RES-1) and the patient's boluses draw on the reservoir too:
default cohort patient 538, once its programs were accepted, spent 19,329,412 s of its year in
the alarm phase (from an empty reservoir at t = 17,973,426 s that none of its later refills
answered; now 1,164,351 s). An answer drawn where no alarm came is refused and not counted.

Requirements: REQ-RES-002 (the empty threshold stops delivery with a HIGH alarm), REQ-ALM-001
(a HIGH alarm halts delivery until a clinician clears it)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from itdose_cohortkit import DAY_S, make_cohort

from itdose.adapters import simdrive as sd
from itdose.adapters.cohort_draw import draw_patient
from itdose.adapters.cohort_run import run_patient


def test_a_refill_after_the_empty_threshold_is_answered(tmp_path: Path) -> None:
    """REQ-RES-002, REQ-ALM-001: refills drawn at 99 % of the reservoir's basal days (past its
    empty threshold, 97.5 % of 20 mL) each end an empty-reservoir alarm, which the clinician
    clears before resuming: the patient is back in phase ``active`` after each, and no drawn
    action is refused."""
    cohort = dataclasses.replace(
        make_cohort(tmp_path, lo="90 %", use="99 %"), faults=sd.FaultRates()
    )
    days = 75
    doc = draw_patient(cohort, 0, days * DAY_S)
    refills = [x["at"] for x in doc["timeline"] if x["action"] == "refill"]
    answers = [x["at"] - 300 for x in doc["timeline"] if x["action"] == "clear_alarm"]
    assert set(answers) <= set(refills) and len(answers) >= 2
    r = run_patient(cohort, 0, days * DAY_S)
    assert r["error"] is None, r["error"]
    assert not any(r["hazards"].values()), r["hazards"]
    assert r["rejected_actions"] == 0
    # the alarm lasts from the empty threshold to the refill's answer: hours, not the months
    # to the next late refill
    in_alarm = r["time_in_state_s"].get("alarm", 0)
    assert 0 < in_alarm < len(answers) * 2 * DAY_S, r["time_in_state_s"]
