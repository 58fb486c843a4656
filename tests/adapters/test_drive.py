"""The drive-adapter value types, their invariants, the errors and the one conversion point."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itdose.adapters.drive import (
    AcknowledgeRefused,
    BatteryStatus,
    ConfigError,
    DeliveryCommand,
    DeliveryOutcome,
    Drive,
    DriveCapabilities,
    DriveClosed,
    DriveConfig,
    DriveError,
    DriveProtocolError,
    DriveState,
    DriveStatus,
    DriveUnreachable,
    EndReason,
    FaultCode,
    StartKind,
    StartResult,
    rate_for_duration,
    to_drive_fault,
    to_json,
)
from itdose.adapters.simdrive import SimulatedDrive
from itdose.core.errors import DosingError, DriveFault, SafeAction


def status(**changes: object) -> DriveStatus:
    fields: dict[str, object] = {
        "state": DriveState.IDLE,
        "active_command_id": None,
        "commanded_nl": 0,
        "rate_nl_per_h": 0,
        "delivered_nl_this_command": 0,
        "delivered_nl_total": 0,
        "delivered_bounds_nl": (0, 0),
        "counter_epoch": 0,
        "fault": None,
        "last_contact_ms": 0,
    }
    fields.update(changes)
    return DriveStatus(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("volume", "rate", "error"),
    [
        (0, 1, ValueError),
        (1, 0, ValueError),
        (-5, 1, ValueError),
        (1.0, 1, TypeError),
        (True, 1, TypeError),
        (1, 3600.0, TypeError),
    ],
)
def test_command_rejects_non_positive_and_non_int_amounts(
    volume: object, rate: object, error: type[Exception]
) -> None:
    with pytest.raises(error):
        DeliveryCommand("c1", volume, rate)  # type: ignore[arg-type]


def test_command_needs_an_id() -> None:
    with pytest.raises(ValueError, match="command_id"):
        DeliveryCommand("", 1, 1)


@given(st.integers(1, 10**9), st.integers(1, 10**7))
def test_rate_for_duration_finishes_within_the_duration_and_is_the_least_such_rate(
    volume_nl: int, duration_s: int
) -> None:
    rate = rate_for_duration(volume_nl, duration_s)
    assert DeliveryCommand("c", volume_nl, rate).duration_s <= duration_s
    if rate > 1:
        assert DeliveryCommand("c", volume_nl, rate - 1).duration_s > duration_s


def test_duration_rounds_up_the_last_partial_second() -> None:
    assert DeliveryCommand("c", 3600, 3600).duration_s == 3600
    assert DeliveryCommand("c", 3601, 3600).duration_s == 3601
    assert DeliveryCommand("c", 1, 7200).duration_s == 1


def test_capabilities_reject_an_inverted_rate_range() -> None:
    with pytest.raises(ValueError, match="max_rate_nl_per_h"):
        DriveCapabilities(True, True, True, None, 100, 99, 1)


def test_config_rejects_a_zero_watchdog() -> None:
    with pytest.raises(ValueError, match="watchdog_timeout_s"):
        DriveConfig(watchdog_timeout_s=0)


def test_start_result_constructors() -> None:
    assert StartResult.accepted("a").kind is StartKind.ACCEPTED
    r = StartResult.rejected("a", "busy")
    assert (r.kind, r.reason) == (StartKind.REJECTED, "busy")
    assert StartResult.uncertain("a", "lost").kind is StartKind.UNCERTAIN
    with pytest.raises(ValueError, match="reason"):
        StartResult.rejected("a", "")


def test_outcome_bounds_default_to_the_delivered_volume_and_partial_is_derived() -> None:
    o = DeliveryOutcome("a", 100, 40, EndReason.FAULTED, FaultCode.OCCLUSION_OR_STALL)
    assert o.delivered_bounds_nl == (40, 40)
    assert o.partial
    whole = DeliveryOutcome("b", 100, 100, EndReason.COMPLETED)
    assert not whole.partial


@pytest.mark.parametrize(
    "kwargs",
    [
        {"reason": EndReason.COMPLETED, "delivered_nl": 99},
        {"reason": EndReason.FAULTED},
        {"reason": EndReason.STOPPED, "fault": FaultCode.COMM_TIMEOUT},
        {"reason": EndReason.STOPPED, "delivered_bounds_nl": (10, 50)},
        {"reason": EndReason.STOPPED, "delivered_bounds_nl": (50, 40)},
        {"reason": EndReason.STOPPED, "delivered_nl": -1},
    ],
)
def test_outcome_invariants(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "command_id": "a",
        "commanded_nl": 100,
        "delivered_nl": 50,
        "fault": None,
    }
    fields.update(kwargs)
    with pytest.raises(ValueError):
        DeliveryOutcome(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"state": DriveState.FAULT},
        {"fault": FaultCode.DEVICE_RESET},
        {"state": DriveState.RUNNING},
        {"active_command_id": "a"},
        {"delivered_nl_this_command": 5, "delivered_bounds_nl": (4, 9)},
        {"delivered_nl_this_command": 5, "delivered_bounds_nl": (5, 4)},
        {"delivered_nl_total": -1},
        {"counter_epoch": 1.0},
    ],
)
def test_status_invariants(changes: dict[str, object]) -> None:
    with pytest.raises((ValueError, TypeError)):
        status(**changes)


def test_unknown_state_is_possibly_delivering_and_fault_is_stopped() -> None:
    assert status(state=DriveState.UNKNOWN, active_command_id="a").possibly_delivering
    assert status(state=DriveState.PAUSED, active_command_id="a").possibly_delivering
    assert not status(state=DriveState.FAULT, fault=FaultCode.COMM_TIMEOUT).possibly_delivering
    assert not status().possibly_delivering


def test_error_hierarchy_and_default_codes() -> None:
    assert issubclass(DriveClosed, DriveUnreachable)
    for cls in (DriveUnreachable, DriveProtocolError, ConfigError, AcknowledgeRefused):
        assert issubclass(cls, DriveError)
        assert not issubclass(cls, DosingError)  # converted once, at the boundary
    assert DriveUnreachable("poll", "x").fault is FaultCode.COMM_TIMEOUT
    assert DriveProtocolError("poll", "x").fault is FaultCode.PROTOCOL_ERROR
    assert ConfigError("configure", "x").fault is FaultCode.CONFIG_MISMATCH
    e = ConfigError("configure", "x", fault=FaultCode.COMMAND_REJECTED)
    assert e.fault is FaultCode.COMMAND_REJECTED


def test_to_drive_fault_names_the_operation_and_code_and_asks_for_an_alarm() -> None:
    unknown = status(
        state=DriveState.UNKNOWN,
        active_command_id="a",
        commanded_nl=10,
        delivered_bounds_nl=(0, 10),
    )
    exc = DriveUnreachable("poll", "no reply in 2 s", status=unknown)
    fault = to_drive_fault(exc)
    assert isinstance(fault, DriveFault)
    assert fault.safe_action is SafeAction.ALARM
    assert fault.field == "drive.poll"
    assert fault.value == "comm_timeout"
    assert fault.message == "no reply in 2 s"
    assert fault.__cause__ is exc
    assert "comm_timeout" in str(fault)


def test_to_json_round_trips_a_status_through_json() -> None:
    o = DeliveryOutcome("a", 100, 40, EndReason.FAULTED, FaultCode.DEVICE_RESET, (40, 100))
    s = status(
        state=DriveState.FAULT,
        fault=FaultCode.DEVICE_RESET,
        commanded_nl=100,
        delivered_nl_this_command=40,
        delivered_bounds_nl=(40, 100),
        battery=BatteryStatus.ERI,
        last_outcome=o,
    )
    data = json.loads(json.dumps(to_json(s)))
    assert data["state"] == "fault"
    assert data["fault"] == "device_reset"
    assert data["delivered_bounds_nl"] == [40, 100]
    assert data["battery"] == "elective_replacement"
    assert data["last_outcome"]["reason"] == "faulted"
    with pytest.raises(TypeError):
        to_json(1.5)


def test_simulated_drive_satisfies_the_protocol() -> None:
    assert isinstance(SimulatedDrive(), Drive)
    assert not isinstance(object(), Drive)
