"""The controller's long basal orders in a simulation: after the core refuses a long order the
controller asks for shorter ones (``segment_backoff``), a long poll interval with drive wake-ups
(``drive_wakeups``) still raises a drive-detected empty reservoir at its instant, and the
scenario's ``[simulation]`` keys that choose them (docs/scenario-schema.md).

Requirements: REQ-DOSE-009 (a longer order is granted only when it changes nothing a patient can
notice: the core decides, whatever the controller asks), REQ-TIP-004 (the program is delivered in
full either way)."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from itdose.adapters.cohort_draw import draw_patient, parse_cohort
from itdose.adapters.controller import ControllerEvent
from itdose.adapters.scenario import parse_scenario, run_scenario
from itdose.core.effects import DeliveryOrder
from itdose.core.errors import InvalidInput
from itdose.core.state import Device
from itdose.specs import load_library

DAY_S = 86_400
LIB = load_library()

COHORT = """
schema = "itdose-cohort/1"
title = "one baclofen patient at %(dose)s of the hard maximum"
seed = 3

[[therapy]]
drug = "baclofen"
indication = "spasticity-spinal"
concentrations = ["%(conc)s"]
dose = ["%(dose)s", "%(dose)s"]

[[pump]]
model = "prometra-ii-40"
catheter = "prometra-catheter"

[refill]
reservoir_use = ["60 %%", "60 %%"]
"""


def _doc(dose: str, days: int, conc: str = "2000 mcg/mL", **simulation: Any) -> dict[str, Any]:
    cohort = parse_cohort(tomllib.loads(COHORT % {"dose": dose, "conc": conc}), LIB)
    doc = draw_patient(cohort, 0, days * DAY_S)
    doc["simulation"] = {"end": doc["simulation"]["end"], **simulation}
    return doc


def _run(doc: dict[str, Any]) -> tuple[list[int], int, list[str]]:
    """Basal order lengths, the drug delivered, the alarms raised."""
    lengths: list[int] = []

    def observe(e: ControllerEvent, d: Device) -> None:
        if isinstance(e.effect, DeliveryOrder) and e.effect.kind == "basal":
            lengths.append(e.effect.duration_s)

    result = run_scenario(parse_scenario(doc, LIB), observer=observe, samples=False)
    assert result.ok, [r for r in result.results if not r.ok]
    return lengths, result.device.delivered_ng, [k for k, _, _, _ in result.alarm_spans]


def test_a_refused_long_order_makes_the_controller_ask_for_shorter_ones() -> None:
    """At 85 % of the hard maximum the core grants no order much longer than 3 h (REQ-DOSE-009:
    the order's drug may leave the tip late, beside the next day's basal): without the backoff
    every tick asks for a whole day (to the end of the program's day) and gets an hour until
    the day has only that much left; with it the controller finds the length the core grants.
    The core decides both runs: the same drug is delivered, no alarm."""
    plain, delivered, alarms = _run(_doc("85 %", 12, max_segment="24 h", poll="24 h"))
    assert plain.count(3600) > 0.8 * len(plain) and not alarms
    backoff, delivered_b, alarms_b = _run(
        _doc("85 %", 12, max_segment="24 h", poll="24 h", segment_backoff=True)
    )
    assert not alarms_b
    assert len(backoff) < len(plain) / 2
    assert 3600 < max(backoff) < DAY_S
    assert abs(delivered_b - delivered) <= 2_000  # ng of 1.4 mg/day: the orders' rounding
    # far from the maximum the 24 h order is granted at once and kept
    far, _, _ = _run(_doc("20 %", 12, max_segment="24 h", poll="24 h", segment_backoff=True))
    assert far.count(DAY_S) >= 8


def test_the_backoff_finds_the_rung_the_core_grants_between_the_doublings() -> None:
    """The controller's asks climb a ladder finer than doublings (1 h, 1.5 h, 2 h, 3 h, 4 h, 6 h,
    8 h, ...) and a refusal steps one rung down, not to one hour for days: at 92 % of the hard
    maximum over 30 days the core grants 1.5 h and 2 h orders and few hourly ones; at 70 % the
    8 h rung, past the 6 h one. Only the number of orders changes: the same drug is delivered
    to the orders' rounding, with no alarm (REQ-DOSE-009: the core decides each length)."""
    near, delivered, alarms = _run(
        _doc("92 %", 30, max_segment="24 h", poll="24 h", segment_backoff=True)
    )
    assert not alarms
    assert near.count(5400) > 100 and near.count(7200) > 100
    assert near.count(3600) < len(near) / 10
    assert abs(delivered - 55_250_000) <= 2_000
    far, _, alarms = _run(_doc("70 %", 30, max_segment="24 h", poll="24 h", segment_backoff=True))
    assert not alarms
    assert far.count(28_800) > len(far) / 2 and far.count(3600) < len(far) / 10


def test_hourly_asks_are_unchanged_by_the_backoff() -> None:
    """With ``max_segment`` one hour the backoff never acts: the same orders."""
    one, _, _ = _run(_doc("85 %", 4))
    two, _, _ = _run(_doc("85 %", 4, segment_backoff=True))
    assert one == two


def test_drive_wakeups_raise_an_empty_reservoir_at_its_instant() -> None:
    """No refill, and a drive moving 20 % more than it counts: it runs the reservoir empty while
    the core still counts a sixth of it, inside a 24 h order. With polls a day apart the
    controller hears of it when the order ends; with hourly polls within the hour; with drive
    wake-ups at the instant the drive stopped."""
    doc = _doc("20 %", 60, "500 mcg/mL", max_segment="24 h")
    doc["timeline"] = [x for x in doc["timeline"] if x["action"] != "refill"]
    doc["pump"]["accuracy_error"] = "+20 %"

    def empty_alarm_at(**simulation: Any) -> int:
        d = copy.deepcopy(doc)
        d["simulation"] |= simulation
        result = run_scenario(parse_scenario(d, LIB), samples=False)
        return min(t for k, _, t, _ in result.alarm_spans if k == "empty_reservoir")

    hourly = empty_alarm_at()
    late = empty_alarm_at(poll="24 h")
    woken = empty_alarm_at(poll="24 h", drive_wakeups=True)
    assert woken < hourly <= woken + 3600 < late


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("poll", "30 s"),
        ("poll", "2 days"),
        ("poll", 60),
        ("drive_wakeups", "yes"),
        ("segment_backoff", 1),
    ],
)
def test_bad_simulation_keys_name_the_field(key: str, value: object) -> None:
    doc = _doc("20 %", 1)
    doc["simulation"][key] = value
    with pytest.raises(InvalidInput) as e:
        parse_scenario(doc, LIB)
    assert f"simulation.{key}" in str(e.value)
