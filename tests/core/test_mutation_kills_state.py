"""Tests that kill the mutants mutmut left alive in core/state.py (docs/mutation.md): every rule of
``check_consistent`` with its exact error (``field``, ``message``, ``value``, ``limit``) and its
boundary, the alarm queries of a device and its drug and indication (REQ-CORE-003, REQ-CORE-004,
REQ-ALM-003)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from itdose_testkit import reach

from itdose.core import Library
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.errors import InvalidInput
from itdose.core.ledger import Ledger
from itdose.core.path import FluidPath, Segment
from itdose.core.state import (
    ActiveAlarm,
    DeliveryKind,
    Device,
    DrugLedger,
    Order,
    Phase,
    Reservoir,
    check_consistent,
)

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
