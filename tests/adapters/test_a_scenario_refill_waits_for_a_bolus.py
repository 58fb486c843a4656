"""A scenario's ``refill`` during a bolus in flight: the simulated clinician waits for the bolus
to end, as the core's rejection asks (docs/dosing-rules.md#r-bol-5, REQ-BOL-007;
docs/scenario-schema.md, ``refill``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from itdose.adapters.scenario import load_scenario, run_scenario
from itdose.adapters.scenario_model import TimelineItem
from itdose.specs import load_library

EXAMPLE = (
    Path(__file__).resolve().parents[2]
    / "examples"
    / "scenarios"
    / "04-refill-concentration-change-bridge.toml"
)


def test_a_refill_during_a_clinician_bolus_begins_when_the_bolus_ends() -> None:
    """REQ-BOL-007: the example's refill, 120 s into a 10 min clinician bolus, begins at the
    bolus's end (480 s later) instead of being rejected; the bolus is not cut (no
    delivery-limited alarm) and the example's expectations still hold."""
    sc = load_scenario(EXAMPLE, load_library())
    (item,) = [x for x in sc.timeline if x.action == "refill"]
    bolus = TimelineItem(
        len(sc.timeline),
        item.at_s - 120,
        "clinician_bolus",
        "clinician",
        "accepted",
        "",
        {"dose": 100_000, "duration": 600},
    )
    sc = dataclasses.replace(sc, timeline=(*sc.timeline, bolus))
    r = run_scenario(sc)
    assert not r.rejected, r.rejected
    assert r.ok, [x for x in r.results if not x.ok]
    entered = [t for t, phase in r.phases if phase == "refill"]
    assert entered and entered[0] == item.at_s + 480, (entered[:1], item.at_s)
    assert not [span for span in r.alarm_spans if span[0] == "delivery_limited"]
