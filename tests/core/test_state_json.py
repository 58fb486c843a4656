"""The state is an immutable value that round-trips through JSON; malformed documents are
rejected naming the field (REQ-CORE-003, REQ-CORE-004)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from itdose_testkit import reach

from itdose.core import Device, InvalidInput, Library, Phase, from_json, to_json
from itdose.core.alarms import AlarmKind
from itdose.core.state import ActiveAlarm


@pytest.mark.parametrize("phase", list(Phase), ids=lambda p: p.value)
def test_every_reachable_state_round_trips(phase: Phase, library: Library) -> None:
    device = reach(phase, library)
    text = to_json(device)
    assert from_json(text) == device
    assert to_json(from_json(text)) == text


def test_state_is_immutable(library: Library) -> None:
    device = reach(Phase.ACTIVE, library)
    with pytest.raises(dataclasses.FrozenInstanceError):
        device.phase = Phase.EXPLANTED  # type: ignore[misc]


def _doc(library: Library) -> dict[str, object]:
    device = dataclasses.replace(
        reach(Phase.ACTIVE, library), alarms=(ActiveAlarm(AlarmKind.ERI, 5),)
    )
    doc = json.loads(to_json(device))
    assert isinstance(doc, dict)
    return doc


def _set(doc: dict[str, object], path: list[str | int], value: object) -> str:
    node: object = doc
    for key in path[:-1]:
        node = node[key]  # type: ignore[index]
    node[path[-1]] = value  # type: ignore[index]
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["device", "phase"], "flying", "state.device.phase"),
        (["device", "clock_s"], "noon", "state.device.clock_s"),
        (["device", "clock_s"], True, "state.device.clock_s"),
        (["device", "clock_s"], 10**40, "state.device.clock_s"),
        (["device", "primed"], 1, "state.device.primed"),
        (["device", "reservoir", "volume_nl"], "20 mL", "state.device.reservoir.volume_nl"),
        (["device", "reservoir"], [], "state.device.reservoir"),
        (["device", "alarms", 0, "kind"], "fire", "state.device.alarms[0].kind"),
        (["device", "alarms"], {}, "state.device.alarms"),
        (
            ["device", "trial", "doses", 0, "amount_ng"],
            None,
            "state.device.trial.doses[0].amount_ng",
        ),
        (["device", "extra"], 1, "state.device.extra"),
        (["schema"], 2, "state.schema"),
        (["schema"], True, "state.schema"),
        (["other"], 1, "state.other"),
    ],
)
def test_malformed_documents_name_the_field(
    path: list[str | int], value: object, field: str, library: Library
) -> None:
    text = _set(_doc(library), path, value)
    with pytest.raises(InvalidInput) as info:
        from_json(text)
    assert info.value.field == field


def test_missing_field_is_named(library: Library) -> None:
    doc = _doc(library)
    del doc["device"]["trial"]["drug"]  # type: ignore[index]
    with pytest.raises(InvalidInput) as info:
        from_json(json.dumps(doc))
    assert info.value.field == "state.device.trial.drug"


@pytest.mark.parametrize(
    "text",
    ["", "{", "[]", "null", '{"schema": 1}', '{"schema": 1, "device": {"clock_s": 1.5}}',
     '{"schema": 1, "device": {"clock_s": NaN}}', "[" * 100_000],
)  # fmt: skip
def test_garbage_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        from_json(text)


def test_non_text_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        from_json(b"{}")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        to_json({"phase": "active"})  # type: ignore[arg-type]


def test_default_device_round_trips() -> None:
    assert from_json(to_json(Device())) == Device()
