"""The cohort's under-delivery check judges quiet stretches only, and counts what it leaves out
of phase ``active`` by cause (docs/cohort-schema.md, "Checks" and "Results"): time under an
alarm, by its highest priority, then under a drawn communication loss. A HIGH alarm stops
delivery by rule (docs/dosing-rules.md#r-alm-1), so windows there may be short; they are not
dropped silently but reported as ``under_delivery.excused_active_s``.

Requirements: REQ-TIP-004 (an accepted program is delivered in full, or an alarm says it is
not)."""

from __future__ import annotations

from itdose.adapters import simdrive as sd
from itdose.adapters.cohort_run import excused_seconds, quiet_stretches

PHASES = [(0, "implanted"), (100, "active"), (1000, "suspended"), (1200, "active")]
ALARMS = [
    ("low_reservoir", "low", 150, 400),
    ("drive_fault", "high", 300, 500),
    ("delivery_limited", "medium", 900, 1300),
]
FAULTS: tuple[sd.SimEvent, ...] = (sd.CommLoss(600, 50), sd.CommLoss(450, 100), sd.MotorStall(700))


def test_excused_seconds_split_active_time_by_cause() -> None:
    excused = excused_seconds(PHASES, ALARMS, FAULTS, 2000)
    # high 300-500; medium 900-1000 and 1200-1300; low 150-300; comm loss 500-550, 600-650
    assert excused == {"alarm_high": 200, "alarm_medium": 200, "alarm_low": 150, "comm_loss": 100}
    quiet = quiet_stretches(PHASES, ALARMS, FAULTS, 2000)
    judged = sum(b - a for a, b in quiet)
    active = (1000 - 100) + (2000 - 1200)
    # every second of phase active is judged or excused (the stall is an instant)
    assert judged + sum(excused.values()) == active


def test_nothing_excused_without_alarms_or_faults() -> None:
    assert excused_seconds(PHASES, [], (), 2000) == {}
    assert excused_seconds(PHASES, [("drive_fault", "high", 1000, 1200)], (), 2000) == {}
