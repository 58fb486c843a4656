"""MRI workflows per pump family (docs/dosing-rules.md#mri)."""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import DAY, HOUR, MORPHINE_PROGRAM, C, S, reach, synchromed_active
from itdose_testkit import synchromed_library as _synchromed_library

from itdose.core import InvalidInput, Library, Phase, Priority, RejectedCommand, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import Annunciate, DeliveryOrder, StopDelivery
from itdose.core.program import Basal
from itdose.core.state import Device

T0 = 7 * DAY + 700


@pytest.fixture(scope="module")
def slib(library: Library) -> Library:
    return _synchromed_library(library)


def _do(d: Device, command: c.Command, at: int, lib: Library):
    return step(d, command, at, lib)


def _orders(effects) -> list[DeliveryOrder]:
    return [e for e in effects if isinstance(e, DeliveryOrder)]


# --- SynchroMed II: suspend and verify ----------------------------------------------------------


def test_synchromed_mri_suspends_and_resumes_by_itself(slib: Library):
    """MRI stops delivery; post-MRI verification is a MEDIUM alarm until the clinician confirms
    (REQ-MRI-001, REQ-ALM-005)."""
    d = synchromed_active(slib)
    out = _do(d, c.BeginMri(C), T0 + 10, slib)
    assert out.device.phase is Phase.SUSPENDED
    assert any(isinstance(e, StopDelivery) for e in out.effects)
    # no delivery during the scan
    assert not _orders(_do(out.device, c.Tick(S), T0 + 20, slib).effects)
    out = _do(out.device, c.EndMri(C), T0 + HOUR, slib)
    assert out.device.phase is Phase.ACTIVE
    # post-MRI verification pending: MEDIUM, annunciated, dosing goes on
    assert out.device.has_alarm(AlarmKind.POST_MRI_VERIFICATION)
    assert Annunciate(AlarmKind.POST_MRI_VERIFICATION, Priority.MEDIUM) in out.effects
    assert _orders(_do(out.device, c.Tick(S), T0 + HOUR + 1, slib).effects)
    done = _do(out.device, c.ConfirmPostMri(C, "interrogated"), T0 + HOUR + 2, slib).device
    assert not done.has_alarm(AlarmKind.POST_MRI_VERIFICATION)
    assert done.mri is None


@pytest.mark.parametrize("kind", [AlarmKind.ERI, AlarmKind.LOW_RESERVOIR])
def test_synchromed_alarm_at_mri_start_keeps_it_stopped_until_confirmed(
    kind: AlarmKind, slib: Library
):
    """An alarm active at MRI start keeps delivery stopped until confirmation (REQ-MRI-002)."""
    d = synchromed_active(slib)
    d = _do(d, c.RaiseAlarm(S, kind), T0 + 5, slib).device
    d = _do(d, c.BeginMri(C), T0 + 10, slib).device
    d = _do(d, c.EndMri(C), T0 + HOUR, slib).device
    assert d.phase is Phase.SUSPENDED
    assert not _orders(_do(d, c.Tick(S), T0 + HOUR + 1, slib).effects)
    with pytest.raises(RejectedCommand):
        _do(d, c.Resume(C, "try"), T0 + HOUR + 2, slib)
    d = _do(d, c.ConfirmPostMri(C, "rotor running"), T0 + HOUR + 3, slib).device
    assert d.phase is Phase.SUSPENDED  # confirmation does not start delivery by itself
    d = _do(d, c.Resume(C, "verified"), T0 + HOUR + 4, slib).device
    assert d.phase is Phase.ACTIVE


def test_synchromed_suspend_as_mri_preparation_rejected(slib: Library):
    """Suspending a SynchroMed II as MRI preparation is refused, like a zero-rate program: it
    delays the detection of an extended motor stall; once resumed the scan proceeds and
    suspends delivery itself (REQ-MRI-003, REQ-MRI-001)."""
    d = synchromed_active(slib)
    suspended = _do(d, c.Suspend(C, "planned scan"), T0 + 5, slib).device
    with pytest.raises(RejectedCommand) as exc:
        _do(suspended, c.BeginMri(C), T0 + 10, slib)
    assert exc.value.field == "command"
    assert exc.value.message == (
        "a suspended pump as MRI preparation is rejected: it delays the detection of an "
        "extended motor stall; resume delivery before the scan (the scan suspends it)"
    )
    resumed = _do(suspended, c.Resume(C, "scan today"), T0 + 20, slib).device
    d = _do(resumed, c.BeginMri(C), T0 + 30, slib).device
    assert d.phase is Phase.SUSPENDED and d.mri is not None


def test_synchromed_zero_rate_program_as_mri_preparation_rejected(slib: Library):
    """Programming a stopped pump as MRI preparation is rejected (REQ-MRI-003)."""
    d = synchromed_active(slib)
    zero = dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(0), patient_bolus=None)
    d = _do(d, c.SetProgram(C, zero), T0 + 5, slib).device
    with pytest.raises(RejectedCommand):
        _do(d, c.BeginMri(C), T0 + 10, slib)


def test_an_mri_reason_longer_than_2000_characters_is_refused_naming_it(slib: Library):
    """The reason is free text of at most 2000 characters; longer is refused naming the field,
    and one of exactly 2000 is accepted."""
    d = synchromed_active(slib)
    with pytest.raises(InvalidInput) as exc:
        _do(d, c.BeginMri(C, reason="x" * 2001), T0 + 10, slib)
    assert (exc.value.field, exc.value.limit) == ("command.reason", "2000 characters")
    assert _do(d, c.BeginMri(C, reason="x" * 2000), T0 + 10, slib).device.mri is not None


def test_second_mri_before_confirmation_rejected(slib: Library):
    d = synchromed_active(slib)
    d = _do(d, c.BeginMri(C), T0 + 10, slib).device
    with pytest.raises(RejectedCommand):
        _do(d, c.BeginMri(C), T0 + 20, slib)
    d = _do(d, c.EndMri(C), T0 + 30, slib).device
    with pytest.raises(RejectedCommand):
        _do(d, c.EndMri(C), T0 + 40, slib)


# --- Prometra II: empty and reset --------------------------------------------------------------


def test_prometra_ii_mri_needs_suspension_and_an_empty_reservoir(library: Library):
    """Empty reservoir and zero rate first; zero until the valve reset is recorded (REQ-MRI-004)."""
    d = reach(Phase.ACTIVE, library)
    with pytest.raises(RejectedCommand):  # dosing
        _do(d, c.BeginMri(C), T0 + 10, library)
    d = _do(d, c.Suspend(C, "MRI"), T0 + 20, library).device
    with pytest.raises(RejectedCommand):  # drug still in the reservoir
        _do(d, c.BeginMri(C), T0 + 30, library)
    assert d.reservoir is not None
    d = _do(d, c.EmptyReservoir(C, d.reservoir.volume_nl), T0 + 40, library).device
    assert d.reservoir is not None and d.reservoir.volume_nl == 0
    d = _do(d, c.BeginMri(C), T0 + 50, library).device
    assert d.phase is Phase.SUSPENDED
    d = _do(d, c.EndMri(C), T0 + HOUR, library).device
    # delivery stays at zero until the valve reset is recorded
    assert d.phase is Phase.SUSPENDED
    assert d.has_alarm(AlarmKind.POST_MRI_VERIFICATION)
    with pytest.raises(RejectedCommand):
        _do(d, c.Resume(C, "after scan"), T0 + HOUR + 1, library)
    assert not _orders(_do(d, c.Tick(S), T0 + HOUR + 2, library).effects)
    d = _do(d, c.ConfirmPostMri(C, "valve reset recorded"), T0 + HOUR + 3, library).device
    assert d.mri is None
    assert d.phase is Phase.SUSPENDED


def test_prometra_i_refuses_mri(library: Library):
    """Prometra I refuses MRI (REQ-MRI-005)."""
    d = reach(Phase.SUSPENDED, library)
    assert d.implant is not None and d.reservoir is not None
    d = _do(d, c.EmptyReservoir(C, d.reservoir.volume_nl), 8 * DAY + 10, library).device
    # No catheter in the library is listed for Prometra (I); the implanted pump is swapped here.
    d = dataclasses.replace(d, implant=dataclasses.replace(d.implant, pump="prometra-20"))
    with pytest.raises(RejectedCommand) as exc:
        _do(d, c.BeginMri(C), 8 * DAY + 20, library)
    assert "MR unsafe" in str(exc.value)
