"""The state is an immutable value that round-trips through JSON; malformed documents are
rejected naming the field (REQ-CORE-003, REQ-CORE-004).

Every rule of ``check_consistent`` is tested with its exact error (``field``, ``message``,
``value``, ``limit``) at its boundary, including the fluid path and the per-drug ledgers, with
the alarm queries of a device and its drug and indication (REQ-ALM-003). The exact
``InvalidInput`` contract of ``from_json`` for every kind of malformed document and the exact
JSON text of ``to_json`` follow (REQ-PERS-001). These also kill the mutants mutation testing
found alive in core/state.py and core/serialization.py (docs/mutation.md)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from itdose_testkit import reach

from itdose.core import Device, InvalidInput, Library, Phase, from_json, to_json
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.codec import decode, encode
from itdose.core.effects import BolusDecision
from itdose.core.governor import Reason
from itdose.core.ledger import Ledger
from itdose.core.library import MriPolicy
from itdose.core.path import FluidPath, Segment
from itdose.core.state import (
    ActiveAlarm,
    DeliveryKind,
    DrugLedger,
    MriSession,
    Order,
    Reservoir,
    check_consistent,
)


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


def test_enum_fields_keep_their_json_text() -> None:
    """REQ-CORE-004: an MRI session's policy and a bolus answer's reasons are enums in Python and
    the same text in JSON as when they were strings, so saved states and journals written
    before read back unchanged; an unknown policy is refused naming the field."""
    session = MriSession(MriPolicy.SUSPEND_VERIFY, 100, False, True)
    doc = json.loads(to_json(Device(mri=session)))
    assert doc["device"]["mri"]["policy"] == "suspend-verify"
    assert from_json(json.dumps(doc)).mri == session
    doc["device"]["mri"]["policy"] = "empty-and-reset"
    back = from_json(json.dumps(doc)).mri
    assert back is not None and back.policy is MriPolicy.EMPTY_AND_RESET
    doc["device"]["mri"]["policy"] = "suspend"
    with pytest.raises(InvalidInput) as info:
        from_json(json.dumps(doc))
    assert info.value.field == "state.device.mri.policy"
    answer = BolusDecision(False, 100_000, (Reason.LOCKOUT, Reason.NOT_PROGRAMMED), 60)
    text = encode(answer)
    assert text["reasons"] == ["lockout", "not_programmed"]
    assert decode(BolusDecision, text) == answer


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


# --- check_consistent: every rule, its exact error and boundary ----------------------------------

NEEDS = {
    Phase.SCREENING: (),
    Phase.TRIAL: ("screening", "trial"),
    Phase.TRIAL_FAILED: ("trial",),
    Phase.IMPLANT_READY: ("screening", "trial"),
    Phase.IMPLANTED: ("trial", "implant"),
    Phase.PRIMING: ("trial", "implant", "reservoir"),
    Phase.ACTIVE: ("trial", "implant", "reservoir", "program"),
    Phase.REFILL: ("trial", "implant", "refill"),
    Phase.SUSPENDED: ("trial", "implant"),
    Phase.ALARM: ("trial", "implant"),
    Phase.EXPLANTED: (),
}


def _error(fn: Callable[[], object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as exc:
        fn()
    return exc.value


def _contract(device: Device, path: str = "d") -> tuple[str, str, object, str | None]:
    err = _error(lambda: check_consistent(device, path))
    return (err.field, err.message, err.value, err.limit)


def _full(library: Library) -> Device:
    return reach(Phase.ACTIVE, library)


@pytest.mark.parametrize(
    ("phase", "name"),
    [(phase, name) for phase, names in NEEDS.items() for name in names],
    ids=lambda x: x.value if isinstance(x, Phase) else x,
)
def test_a_phase_cannot_be_without_its_records(phase: Phase, name: str, library: Library) -> None:
    """REQ-CORE-004: a record the phase needs, missing, is named with the phase."""
    device = dataclasses.replace(reach(phase, library), **{name: None})
    assert _contract(device) == (
        f"d.{name}",
        f"missing: phase {phase.value!r} cannot be without it",
        None,
        None,
    )


def test_the_default_path_is_device(library: Library) -> None:
    """REQ-CORE-004: without a path the error names ``device``."""
    device = dataclasses.replace(reach(Phase.TRIAL, library), screening=None)
    err = _error(lambda: check_consistent(device))
    assert err.field == "device.screening"


@pytest.mark.parametrize("phase", list(Phase), ids=lambda p: p.value)
def test_every_reachable_state_is_consistent(phase: Phase, library: Library) -> None:
    """REQ-CORE-004: the states the core produces pass."""
    check_consistent(reach(phase, library))


def test_screening_and_explanted_need_no_record() -> None:
    """REQ-CORE-004: an empty device in screening or explanted is consistent."""
    check_consistent(Device())
    check_consistent(Device(phase=Phase.EXPLANTED))


def test_an_active_device_is_primed(library: Library) -> None:
    """REQ-CORE-004: active with an unprimed catheter is inconsistent; other phases need not be."""
    device = dataclasses.replace(_full(library), primed=False)
    assert _contract(device) == ("d.primed", "an active device has a primed catheter", None, None)
    check_consistent(dataclasses.replace(device, phase=Phase.SUSPENDED))


def test_record_dependencies(library: Library) -> None:
    """REQ-CORE-004: implant needs a trial, reservoir an implant, a program a reservoir."""
    full = dataclasses.replace(_full(library), phase=Phase.EXPLANTED)
    check_consistent(full)
    assert _contract(dataclasses.replace(full, trial=None)) == (
        "d.trial",
        "an implanted device has a trial record",
        None,
        None,
    )
    assert _contract(dataclasses.replace(full, implant=None)) == (
        "d.implant",
        "a filled reservoir needs an implanted pump",
        None,
        None,
    )
    assert _contract(dataclasses.replace(full, reservoir=None)) == (
        "d.reservoir",
        "a program needs a filled reservoir",
        None,
        None,
    )
    # each record alone, without the later ones, is fine
    check_consistent(dataclasses.replace(full, reservoir=None, program=None))
    bare = dict(implant=None, reservoir=None, program=None, path=None)
    check_consistent(dataclasses.replace(full, **bare))  # type: ignore[arg-type]
    check_consistent(dataclasses.replace(full, trial=None, **bare))  # type: ignore[arg-type]


def _reservoir(device: Device, **changes: int) -> Device:
    assert device.reservoir is not None
    return dataclasses.replace(device, reservoir=dataclasses.replace(device.reservoir, **changes))


def test_reservoir_volume_and_concentration(library: Library) -> None:
    """REQ-CORE-004: a reservoir volume is not negative; its concentration is positive."""
    full = _full(library)
    check_consistent(_reservoir(full, volume_nl=0))
    assert _contract(_reservoir(full, volume_nl=-1)) == (
        "d.reservoir.volume_nl",
        "must not be negative",
        None,
        None,
    )
    check_consistent(_reservoir(full, concentration_ng_per_ml=1))
    assert _contract(_reservoir(full, concentration_ng_per_ml=0)) == (
        "d.reservoir.concentration_ng_per_ml",
        "must be positive",
        None,
        None,
    )


def _order(order_id: int, **changes: int) -> Order:
    order = Order(order_id, DeliveryKind.BASAL, 0, 300, 10)
    return dataclasses.replace(order, **changes)


def _with_orders(device: Device, *orders: Order, next_id: int = 5) -> Device:
    return dataclasses.replace(device, orders=orders, next_order_id=next_id)


def test_orders_are_consistent(library: Library) -> None:
    """REQ-CORE-004: an order has non-negative volumes and an id below the next one; the error
    names the order's index and gives its id."""
    full = _full(library)
    check_consistent(_with_orders(full, _order(1), _order(4, volume_nl=0, reported_nl=0)))
    for bad in (
        _order(3, volume_nl=-1),
        _order(3, reported_nl=-1),
        _order(5),
        _order(6),
    ):
        device = _with_orders(full, _order(1), bad)
        assert _contract(device) == ("d.orders[1]", "inconsistent order", bad.id, None)


def _with_path(device: Device, *segments: Segment) -> Device:
    return dataclasses.replace(device, path=FluidPath(segments))


def test_fluid_path_is_consistent(library: Library) -> None:
    """REQ-CORE-004, REQ-TIP-001: an implant with a dead volume has a fluid path holding exactly
    that volume, in positive, merged segments, drug-free fluid at concentration 0 and drug at a
    positive one; each error names the field."""
    full = _full(library)
    assert full.implant is not None and full.implant.dead_volume_nl == 234_000
    check_consistent(full)
    check_consistent(_with_path(full, Segment(234_000, "", 0)))
    check_consistent(_with_path(full, Segment(1, "morphine", 5), Segment(233_999, "morphine", 6)))
    assert _contract(dataclasses.replace(full, path=None)) == (
        "d.path",
        "missing: an implant with a dead volume has a path",
        None,
        None,
    )
    assert _contract(_with_path(full, Segment(233_999, "morphine", 5))) == (
        "d.path.volume_nl",
        "the path holds the dead volume",
        233_999,
        "234000",
    )
    assert _contract(_with_path(full, Segment(0, "morphine", 5), Segment(234_000, "", 0))) == (
        "d.path.segments[0].volume_nl",
        "must be positive",
        None,
        None,
    )
    for bad in (Segment(234_000, "", 5), Segment(234_000, "morphine", 0)):
        assert _contract(_with_path(full, bad)) == (
            "d.path.segments[0]",
            "a segment without drug has concentration 0",
            None,
            None,
        )
    assert _contract(
        _with_path(full, Segment(1, "morphine", 5), Segment(233_999, "morphine", 5))
    ) == ("d.path.segments[1]", "equal neighbours are merged", None, None)
    trial = reach(Phase.TRIAL, library)
    assert _contract(dataclasses.replace(trial, path=FluidPath.empty(10))) == (
        "d.path",
        "a fluid path needs an implant with a dead volume",
        None,
        None,
    )


def test_one_ledger_per_drug(library: Library) -> None:
    """REQ-CORE-004, REQ-TIP-001: the ledgers of other drugs hold one ledger per drug, none of
    them the reservoir's drug."""
    full = _full(library)
    one = (DrugLedger("hydromorphone", Ledger()),)
    check_consistent(dataclasses.replace(full, other_ledgers=one))
    for bad in (
        (*one, DrugLedger("hydromorphone", Ledger())),
        (DrugLedger("morphine", Ledger()),),
    ):
        assert _contract(dataclasses.replace(full, other_ledgers=bad)) == (
            "d.other_ledgers",
            "one ledger per drug",
            None,
            None,
        )


# --- alarm queries and drug ------------------------------------------------------------------


def test_alarm_queries() -> None:
    """REQ-ALM-003: has_alarm, the high alarms, and the annunciation order: not silenced, higher
    priority first, then in order of occurrence."""
    low = ActiveAlarm(AlarmKind.LOW_RESERVOIR, 1)
    eri = ActiveAlarm(AlarmKind.ERI, 2)
    finding = ActiveAlarm(AlarmKind.REFILL_FINDING, 3)
    stall = ActiveAlarm(AlarmKind.MOTOR_STALL, 4, silenced_until_s=100)
    occlusion = ActiveAlarm(AlarmKind.OCCLUSION, 5)
    device = Device(alarms=(low, eri, finding, stall, occlusion))
    assert stall.priority is Priority.HIGH
    assert low.priority is Priority.LOW
    assert device.has_alarm(AlarmKind.ERI)
    assert not device.has_alarm(AlarmKind.EMPTY_RESERVOIR)
    assert not Device().has_alarm(AlarmKind.ERI)
    assert device.high_alarms() == (stall, occlusion)
    assert device.annunciating(99) == (occlusion, finding, low, eri)
    assert device.annunciating(100) == (stall, occlusion, finding, low, eri)
    assert device.annunciating(101) == (stall, occlusion, finding, low, eri)
    assert Device().annunciating(0) == ()


def test_drug_and_indication(library: Library) -> None:
    """REQ-CORE-003: the drug in the pump, else the drug on trial, else None."""
    trial = reach(Phase.TRIAL, library)
    assert trial.trial is not None and trial.reservoir is None
    assert (trial.drug, trial.indication) == (trial.trial.drug, trial.trial.indication)
    assert (Device().drug, Device().indication) == (None, None)
    full = _full(library)
    other = dataclasses.replace(
        full, reservoir=Reservoir("baclofen", "spasticity-spinal", 500_000, 1)
    )
    assert (other.drug, other.indication) == ("baclofen", "spasticity-spinal")
    assert other.trial is not None and other.trial.drug != "baclofen"


# --- to_json and from_json: exact text and exact errors ------------------------------------------

_MAX_DOCUMENT = 10_000_000


def _raises(text: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        from_json(text)  # type: ignore[arg-type]
    return info.value


def _check(
    err: InvalidInput,
    field: str,
    message: str,
    value: object = None,
    limit: str | None = None,
) -> None:
    assert type(err) is InvalidInput
    assert (err.field, err.message, err.value, err.limit) == (field, message, value, limit)
    text = f"{field}: {message}"
    if value is not None:
        text += f" (value {value!r})"
    if limit is not None:
        text += f" [limit: {limit}]"
    assert str(err) == text


def _fresh_text() -> str:
    return to_json(Device())


# --- to_json (REQ-CORE-003) --------------------------------------------------------------------


def test_to_json_of_a_fresh_device_is_sorted_exact_text() -> None:
    """REQ-CORE-003: the document is ``{"device": ..., "schema": 1}`` with sorted keys."""
    text = _fresh_text()
    assert text == (
        '{"device": {"alarms": [], "basal_carry": 0, "basal_until_s": 0, '
        '"boluses": {"last_start_s": null, "starts_s": []}, "clock_s": null, '
        '"delivered_ng": 0, "eos_at_s": null, "flush_doses": [], "implant": null, '
        '"increases": [], "last_delivery": null, '
        '"last_fill_nl": 0, "ledger": {"pieces": []}, "mri": null, "next_order_id": 1, '
        '"orders": [], '
        '"other_ledgers": [], "path": null, "phase": "screening", "primed": false, '
        '"primed_nl": 0, "program": null, '
        '"program_start_s": 0, "refill": null, "reservoir": null, '
        '"resume_after_refill": false, "screening": null, "trial": null, '
        '"utc_minus_mono_s": 0}, "schema": 1}'
    )
    doc = json.loads(text)
    assert list(doc) == ["device", "schema"]
    assert doc["schema"] == 1
    assert list(doc["device"]) == sorted(doc["device"])
    assert text == json.dumps(doc, sort_keys=True)


@pytest.mark.parametrize(
    ("value", "type_name"), [(42, "int"), ("{}", "str"), (None, "NoneType"), ({}, "dict")]
)
def test_to_json_rejects_a_non_device(value: object, type_name: str) -> None:
    """REQ-CORE-004: the error names the field ``device`` and the type received."""
    with pytest.raises(InvalidInput) as info:
        to_json(value)  # type: ignore[arg-type]
    _check(info.value, "device", f"expected a Device, got {type_name}")


# --- from_json (REQ-CORE-003, REQ-CORE-004) ----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "type_name"), [(b"{}", "bytes"), (1, "int"), (None, "NoneType"), ([], "list")]
)
def test_from_json_rejects_non_text(value: object, type_name: str) -> None:
    """REQ-CORE-004."""
    _check(_raises(value), "state", f"expected JSON text, got {type_name}")


def test_from_json_size_limit_is_exclusive() -> None:
    """REQ-CORE-004: a document of exactly the limit is read; one character more is refused."""
    text = _fresh_text()
    padded = text + " " * (_MAX_DOCUMENT - len(text))
    assert len(padded) == _MAX_DOCUMENT
    assert from_json(padded) == Device()
    _check(
        _raises(padded + " "),
        "state",
        "document too large",
        limit="10000000 characters",
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not valid JSON: Expecting value at position 0"),
        (
            '{"schema": 1,',
            "not valid JSON: Expecting property name enclosed in double quotes at position 13",
        ),
        ("[1, 2", "not valid JSON: Expecting ',' delimiter at position 5"),
    ],
)
def test_from_json_rejects_malformed_json_with_position(text: str, message: str) -> None:
    """REQ-CORE-004: the message carries the parser's reason and the offending position."""
    _check(_raises(text), "state", message)


def test_from_json_rejects_deep_nesting() -> None:
    """REQ-CORE-004: a document nested deeper than the parser can follow is refused, not crashed."""
    _check(_raises("[" * 200_000 + "]" * 200_000), "state", "document nested too deeply")


@pytest.mark.parametrize("name", ["NaN", "Infinity", "-Infinity"])
def test_from_json_rejects_non_finite_constants(name: str) -> None:
    """REQ-CORE-004: NaN/Infinity are refused by name wherever they appear."""
    _check(_raises(name), "state", f"{name} is not valid in a state document")
    doc = json.loads(_fresh_text())
    doc["device"]["clock_s"] = "@@"
    text = json.dumps(doc).replace('"@@"', name)
    _check(_raises(text), "state", f"{name} is not valid in a state document")


@pytest.mark.parametrize("literal", ["1.5", "1e3", "-0.0", "2E-2", "1.0"])
def test_from_json_rejects_floats_with_their_text(literal: str) -> None:
    """REQ-CORE-004: a floating-point number is refused with its literal text as the value."""
    message = "floating-point numbers are not valid in a state document"
    _check(_raises(literal), "state", message, value=literal)
    doc = json.loads(_fresh_text())
    doc["device"]["clock_s"] = "@@"
    text = json.dumps(doc).replace('"@@"', literal)
    _check(_raises(text), "state", message, value=literal)


@pytest.mark.parametrize("text", ["[]", "1", '"x"', "null", "true"])
def test_from_json_requires_an_object(text: str) -> None:
    """REQ-CORE-004."""
    _check(_raises(text), "state", "expected a JSON object")


@pytest.mark.parametrize(
    ("schema", "shown"),
    [(2, 2), (0, 0), (True, True), ("1", "1"), (None, None), ([1], [1])],
)
def test_from_json_rejects_unsupported_schema(schema: object, shown: object) -> None:
    """REQ-CORE-004: the schema error names the value found and the supported version."""
    doc = json.loads(_fresh_text())
    doc["schema"] = schema
    _check(
        _raises(json.dumps(doc)),
        "state.schema",
        "unsupported schema version",
        value=shown,
        limit="1",
    )


def test_from_json_missing_schema() -> None:
    """REQ-CORE-004: a document without a schema is refused like an unknown version."""
    err = _raises(json.dumps({"device": {}}))
    _check(err, "state.schema", "unsupported schema version", limit="1")


def test_from_json_rejects_unknown_top_level_field() -> None:
    """REQ-CORE-004: the first unknown field (sorted) is named."""
    doc = json.loads(_fresh_text())
    doc["zeta"] = 1
    doc["alpha"] = 2
    _check(_raises(json.dumps(doc)), "state.alpha", "unknown field")


def test_from_json_requires_device() -> None:
    """REQ-CORE-004."""
    _check(_raises('{"schema": 1}'), "state.device", "missing field")


def test_from_json_consistency_errors_are_under_state_device() -> None:
    """REQ-CORE-004: a decodable but inconsistent device is refused with a ``state.device`` path."""
    doc = json.loads(_fresh_text())
    doc["device"]["phase"] = Phase.ACTIVE.value
    err = _raises(json.dumps(doc))
    assert type(err) is InvalidInput
    assert err.field.startswith("state.device.")
    assert err.message.startswith("missing: phase 'active' cannot be without it")


def test_from_json_round_trips_a_fresh_device() -> None:
    """REQ-CORE-003, REQ-PERS-001."""
    assert from_json(_fresh_text()) == Device()
    assert dataclasses.asdict(from_json(_fresh_text())) == dataclasses.asdict(Device())
