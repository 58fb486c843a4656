"""The cohort's alarm latency check (docs/cohort-schema.md, ``alarm_latency``) holds the
controller only to faults a drive can see. A motor stall or an occlusion stops a drive that moves
fluid (the simulated drive latches it on a running command, or on the first command started
while it lasts); one drawn while the pump is suspended, and over before delivery resumes, stops
nothing, and no controller can raise an alarm for it. Default cohort patients 386 and 538 each
had one (a stall 62,953 s long drawn while suspended, an occlusion 170,102 s long drawn while
suspended), and the check took the next, unrelated HIGH alarm (a garbled reply 19 dosing steps,
a communication loss 866 dosing steps later) as its late alarm.

A stall still there when delivery resumes stops the first order, and is held to the limit of one
dosing step from its instant, as before: the second sequence below checks it.

Requirements: REQ-ALM-001, REQ-ALM-004 (a drive fault raises its HIGH alarm in the same step)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from itdose_cohortkit import DAY_S, make_cohort

from itdose.adapters import simdrive as sd
from itdose.adapters.cohort_draw import START_S, draw_patient
from itdose.adapters.cohort_physics import LATENCY_LIMIT_STEPS, alarm_latencies
from itdose.adapters.cohort_run import TrueLog, faults_to_alarm
from itdose.adapters.scenario import parse_scenario, run_scenario

SUSPEND_S = START_S + 3 * DAY_S
RESUME_S = SUSPEND_S + 8 * 3600
GARBLED_S = RESUME_S + DAY_S


def _run(tmp_path: Path, stall_lasts_s: int) -> tuple[list[int], list[int | None], Any]:
    """A patient of the tiny cohort (no drawn fault) suspended for 8 h with a motor stall drawn
    an hour into the suspension and lasting ``stall_lasts_s``, then a garbled reply a day after
    the resume; the clinician clears the HIGH alarms and resumes."""
    cohort = dataclasses.replace(
        make_cohort(tmp_path, lo="20 %", use="80 %"), faults=sd.FaultRates()
    )
    doc = draw_patient(cohort, 1, 6 * DAY_S)
    stall_at = SUSPEND_S + 3600
    doc["timeline"] += [
        {"at": SUSPEND_S, "action": "suspend", "reason": "clinic", "expect": "accepted"},
        {"at": RESUME_S, "action": "resume", "reason": "clinic", "expect": "accepted"},
    ]
    for at in (SUSPEND_S + 16 * 3600, GARBLED_S + 600):  # the answers to a HIGH alarm
        for k, alarm in enumerate(("motor_stall", "drive_fault")):
            doc["timeline"].append({"at": at + k, "action": "clear_alarm", "alarm": alarm})
        doc["timeline"].append({"at": at + 2, "action": "resume"})
    doc["timeline"].sort(key=lambda x: x["at"])
    doc["fault"] = [
        {"at": stall_at, "kind": "motor_stall", "recovers_after": f"{stall_lasts_s} s"},
        {"at": GARBLED_S, "kind": "garbled_reply"},
    ]
    sc = parse_scenario(doc, cohort.library)
    log = TrueLog(drug=sc.drug)
    result = run_scenario(sc, observer=log.observer, samples=False)
    refused = {a for _, a, _ in result.rejected}
    assert refused <= {"clear_alarm", "resume"}, result.rejected  # only the answers to no alarm
    high = [(r, cl) for _, prio, r, cl in result.alarm_spans if prio == "high"]
    faults = faults_to_alarm(sc.faults, result.phases, sc.end_s)
    every = [f.at_s for f in sc.faults]  # the count before: every drawn fault
    return (
        faults,
        alarm_latencies(faults, log.dosing_steps, log.high_raises, high),
        alarm_latencies(every, log.dosing_steps, log.high_raises, high),
    )


def test_a_stall_over_while_suspended_needs_no_alarm(tmp_path: Path) -> None:
    """REQ-ALM-001, REQ-ALM-004: a 2 h stall inside an 8 h suspension moves nothing and needs no
    alarm; the garbled reply a day later raises its HIGH alarm in its own step. Counted as a
    fault, the stall would take that alarm, a day of dosing steps late (patients 386, 538)."""
    faults, latencies, counted_before = _run(tmp_path, 2 * 3600)
    assert faults == [GARBLED_S]
    assert latencies == [1]
    stall_before, garbled_before = counted_before
    assert stall_before is not None and stall_before > LATENCY_LIMIT_STEPS
    assert garbled_before == 1


def test_a_stall_still_there_at_the_resume_is_alarmed_at_once(tmp_path: Path) -> None:
    """REQ-ALM-001, REQ-ALM-004: a stall drawn while suspended and lasting past the resume stops
    the first order after it: it is held to the latency limit, and its alarm comes in the
    first dosing step."""
    faults, latencies, _ = _run(tmp_path, 12 * 3600)
    assert faults == [SUSPEND_S + 3600, GARBLED_S]
    assert latencies == [1, 1]
