"""``evolve``: the core's cheap copy of a device is exactly ``dataclasses.replace``
(REQ-CORE-003)."""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import PATHS, reach

from itdose.core import Device, Library, Phase, to_json
from itdose.core.state import evolve


@pytest.mark.parametrize("phase", list(PATHS), ids=lambda p: p.value)
def test_evolve_is_replace(phase: Phase, library: Library) -> None:
    d = reach(phase, library)
    changes = {"phase": Phase.ALARM, "clock_s": 12_345, "basal_until_s": 7, "alarms": ()}
    new = evolve(d, **changes)
    assert new == dataclasses.replace(d, **changes)
    assert to_json(new) == to_json(dataclasses.replace(d, **changes))
    assert type(new) is Device and new is not d
    assert new.__dict__.keys() == d.__dict__.keys()
    assert evolve(d) == d and evolve(d) is not d


def test_evolve_leaves_the_original_and_is_frozen(library: Library) -> None:
    d = reach(Phase.ACTIVE, library)
    before = to_json(d)
    new = evolve(d, clock_s=1)
    assert to_json(d) == before
    with pytest.raises(dataclasses.FrozenInstanceError):
        new.clock_s = 2  # type: ignore[misc]


def test_evolve_refuses_an_unknown_field() -> None:
    with pytest.raises(TypeError, match="no field 'colour'"):
        evolve(Device(), colour="red")
