"""The shadows an emergency scan leaves (``Device.shadows``: another drug the path may hold where
it says one) round-trip through the state document, and a document whose shadow lies outside the
fluid path or holds no drug is refused naming the field (REQ-CORE-003, REQ-CORE-004,
REQ-MRI-006)."""

from __future__ import annotations

import dataclasses
import json
from fractions import Fraction

import pytest
from itdose_physics import DAY_S, HOUR_S, MG, Bench, implanted_and_dosing, refill

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.errors import InvalidInput
from itdose.core.program import Basal, Program
from itdose.core.serialization import from_json, to_json
from itdose.core.state import Device, Shadow

MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(19 * MG), None, "opioid-tolerant")
HYDROMORPHONE = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(10 * MG), None, None)


@pytest.fixture(scope="module")
def scanned(library: Library) -> Device:
    """Morphine -> hydromorphone, the scan 700 s into the order of the last morphine, moving
    nothing (as tests/core/test_emergency_mri_with_two_drugs_within_10_ul.py)."""
    b = Bench(library, mri_nl=Fraction(0))
    t0 = implanted_and_dosing(b, MORPHINE)
    refill(b, t0 + DAY_S, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
    b.advance(t0 + DAY_S + 7 * HOUR_S + 100)
    (running,) = b.running.values()
    b.submit(
        c.BeginMri(Role.CLINICIAN, emergency=True, reason="trauma: no time to empty"),
        running.start + 700,
    )
    return b.device


def test_a_scan_during_a_drug_change_leaves_a_shadow_that_round_trips(scanned: Device) -> None:
    """REQ-CORE-003, REQ-MRI-006: the shadow is in the document and comes back unchanged."""
    assert scanned.shadows and all(s.drug == "morphine" for s in scanned.shadows)
    text = to_json(scanned)
    assert "shadows" in json.loads(text)["device"]
    assert from_json(text) == scanned


def test_a_device_without_shadows_writes_none() -> None:
    """REQ-CORE-003: documents written before shadows existed stay as they were."""
    assert "shadows" not in json.loads(to_json(Device()))["device"]


@pytest.mark.parametrize(
    ("start", "volume", "drug", "conc", "why"),
    [
        (-1, 10, "morphine", 25 * MG, "must lie within the fluid path"),
        (0, 0, "morphine", 25 * MG, "must lie within the fluid path"),
        (234_000, 1, "morphine", 25 * MG, "must lie within the fluid path"),
        (0, 10, "", 0, "a shadow holds a drug"),
        (0, 10, "morphine", 0, "a shadow holds a drug"),
    ],
)
def test_a_shadow_outside_the_path_or_without_drug_is_refused(
    scanned: Device, start: int, volume: int, drug: str, conc: int, why: str
) -> None:
    """REQ-CORE-004: the trust boundary names the shadow and why."""
    assert scanned.path is not None and scanned.path.volume_nl == 234_000
    bad = dataclasses.replace(scanned, shadows=(Shadow(start, volume, drug, conc),))
    with pytest.raises(InvalidInput) as exc:
        from_json(to_json(bad))
    assert "state.device.shadows[0]" in str(exc.value) and why in str(exc.value)
