"""A stop nobody announces must be caught by the cohort's reference: ``silent_stop`` is a stop
the clinician did not choose (phase ``alarm``, or ``suspended`` entered from it by the clear of
the last HIGH alarm) with no HIGH alarm present for more than 10 minutes (the rules' bound on a
HIGH alarm's silence, R-ALM-2). Abrupt baclofen withdrawal is dangerous and the pump's alarms are
its prevention (docs/clinical-basis.md, H6; R-ALM-1, R-BACL-1 of docs/dosing-rules.md).

The planted defect is the one an attack found (SAFETY.md): a journal that forgets the alarms at a
restart, with the core's trust-boundary check that refuses a device in phase ``alarm`` without a
HIGH alarm removed, leaves baclofen patient 31 of examples/cohorts/restarts.toml stopped with
nothing sounding: over 250 days, 2 such stops, the longest 2,214,911 s (25.6 days; 3,935,003 s
in phase ``alarm`` against 673,043 s clean, 5 clinician actions refused against 0); before this
check, the reference saw no hazard. Clean, its longest stop without a HIGH alarm is 60 s (the
seconds between a clear and the resume)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from cohort_spies import forget_at_each_restart

from itdose.adapters.cohort_draw import load_cohort
from itdose.adapters.cohort_physics import SILENT_STOP_LIMIT_S, silent_stops, sounding_spans
from itdose.adapters.cohort_run import run_patient
from itdose.core import machine, serialization
from itdose.core.state import Device, Phase
from itdose.specs import load_library

ROOT = Path(__file__).resolve().parents[2] / "examples" / "cohorts"
DAY_S = 86_400
LIB = load_library()
COHORT = load_cohort(ROOT / "restarts.toml", LIB)


def test_stops_without_a_high_alarm_are_counted_beyond_the_limit() -> None:
    """REQ-ALM-001, REQ-BACL-003: directed, around the 600 s limit: a stretch in phase ``alarm``
    without a HIGH alarm, and the stretch in ``suspended`` after the clear of the last one."""
    limit = SILENT_STOP_LIMIT_S
    assert limit == 600
    active = (0, "active")
    # the HIGH alarm covers the whole stop: nothing silent
    assert silent_stops([active, (100, "alarm"), (5000, "active")], [(100, 5000)], 9000) == (0, 0)
    # a HIGH alarm that ends before the stop does: silent from its clear
    at_limit = [active, (100, "alarm"), (100 + 1000 + limit, "active")]
    assert silent_stops(at_limit, [(100, 1100)], 9000) == (0, limit)
    over = [active, (100, "alarm"), (100 + 1000 + limit + 1, "active")]
    assert silent_stops(over, [(100, 1100)], 9000) == (1, limit + 1)
    # phase alarm with no HIGH alarm at all, to the end of the run
    assert silent_stops([active, (100, "alarm")], [], 9000) == (1, 8900)
    # the clear of the last HIGH alarm leaves the pump suspended until the resume
    cleared = [active, (100, "alarm"), (1100, "suspended"), (1100 + limit + 1, "active")]
    assert silent_stops(cleared, [(100, 1100)], 9000) == (1, limit + 1)
    resumed = [active, (100, "alarm"), (1100, "suspended"), (1250, "active")]
    assert silent_stops(resumed, [(100, 1100)], 9000) == (0, 150)
    # a suspension the clinician chose (from active) and a refill are not judged
    chosen = [active, (100, "suspended"), (50_000, "refill"), (60_000, "active")]
    assert silent_stops(chosen, [], 90_000) == (0, 0)
    # a gap between two HIGH alarms in one stop, and a stop still there at the end
    gap = [active, (100, "alarm")]
    assert silent_stops(gap, [(100, 200), (200 + limit + 1, None)], 9000) == (1, limit + 1)
    assert silent_stops(gap, [(100, 200), (200 + limit, None)], 9000) == (0, limit)


def test_a_silenced_high_alarm_does_not_sound_until_its_pause_ends() -> None:
    """REQ-ALM-008, REQ-ALM-009: a HIGH alarm sounds from its raise, or from the end of its
    silence; two present sound from the earlier; none present, or cleared, sounds not. A stop
    under a HIGH alarm silenced longer than the rules allow (a core without R-ALM-2's bound) is
    a silent stop; one silenced for the 600 s the rules allow is not."""
    limit = SILENT_STOP_LIMIT_S
    assert sounding_spans([(100, (100,)), (900, None)], 2000) == [(100, 900)]
    assert sounding_spans([(100, (100,)), (300, (900,)), (1200, None)], 2000) == [
        (100, 300),
        (900, 1200),
    ]
    assert sounding_spans([(100, (700, 400))], 2000) == [(400, 2000)]
    assert sounding_spans([(100, (5000,)), (200, None)], 2000) == []
    assert sounding_spans([(0, None), (100, ())], 2000) == []
    # the same alarm marked again unsilenced: one span
    assert sounding_spans([(100, (100,)), (300, (300,))], 2000) == [(100, 2000)]
    phases = [(0, "active"), (100, "alarm")]
    allowed = sounding_spans([(100, (100,)), (200, (200 + limit,))], 9000)
    assert silent_stops(phases, allowed, 9000) == (0, limit)
    unbounded = sounding_spans([(100, (100,)), (200, (200 + 86_400,))], 90_000)
    assert silent_stops(phases, unbounded, 90_000) == (1, 86_400)


def _without_the_alarm_rule(real: Any) -> Any:
    """The core's consistency check with its rule "phase alarm needs a HIGH alarm" removed."""

    def check(device: Device, path: str = "device") -> None:
        if device.phase is Phase.ALARM and not device.high_alarms():
            return
        real(device, path)

    return check


def test_a_stop_with_its_alarms_forgotten_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQ-ALM-001, REQ-PERS-001, REQ-BACL-003: patient 31 (baclofen), 250 days: clean as it is
    (no silent stop, the longest stop without a HIGH alarm under the limit); with the journal
    seeded to forget the alarms at each restart and the core accepting such a device, the pump
    stays stopped for days with no alarm present, and the reference flags ``silent_stop``."""
    clean = run_patient(COHORT, 31, 250 * DAY_S)
    assert clean["error"] is None and clean["restarts"] >= 1
    assert not any(clean["hazards"].values()), clean["hazards"]
    assert clean["silent_stop_longest_s"] <= SILENT_STOP_LIMIT_S
    for module in (machine, serialization):
        monkeypatch.setattr(
            module, "check_consistent", _without_the_alarm_rule(module.check_consistent)
        )
    forget_at_each_restart(monkeypatch, lambda d: dataclasses.replace(d, alarms=()))
    broken = run_patient(COHORT, 31, 250 * DAY_S)
    assert broken["error"] is None, broken["error"]
    assert broken["hazards"]["silent_stop"] >= 1, broken["hazards"]
    assert broken["silent_stop_longest_s"] > 20 * DAY_S
    # the report's longest stretch in phase alarm (announced or not): 153,769 s clean
    assert 0 < clean["alarm_stop_longest_s"] < 2 * DAY_S < broken["alarm_stop_longest_s"]
