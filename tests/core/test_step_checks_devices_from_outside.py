"""``step`` skips the device consistency check only for a device it returned itself, and every
device it returns would pass that check (REQ-CORE-004, REQ-CORE-002).

The skip (core/machine.py) rests on two claims, attacked here:

- a device changed or rebuilt outside the core (``dataclasses.replace``, ``copy.copy``, a pickle
  round trip, ``evolve`` called from outside) is a different object, so it is checked: an
  inconsistent one is rejected with the field named;
- every device ``step`` returns passes ``check_consistent``: checked after every accepted command
  of directed histories through refills with a concentration and a drug change, an emergency MRI,
  boluses and a suspension, driven by the independent reference bench.

Not covered by the check, by design: an object changed in place (``object.__setattr__`` on the
frozen dataclass, its ``__dict__``) is the same object and is not re-checked; a caller that does
that bypasses immutability on purpose. One case an honest but untyped caller can reach: a device
built with a list where a tuple is declared. It is rejected at the boundary (every field of a
device from outside has its declared type, ``device.orders: expected a tuple``), so no device
``step`` returns shares a container the caller still holds.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable

import pytest
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Bench,
    implanted_and_dosing,
    max_clinician_bolus_ng,
    refill,
)
from itdose_testkit import synchromed_active, synchromed_library

from itdose.core import Device, InvalidInput, Library, Outcome, Role, step
from itdose.core import commands as c
from itdose.core.program import Basal, PatientBolusProgram, Program
from itdose.core.state import DeliveryKind, Order, check_consistent, evolve

S, C, P = Role.SERVICE, Role.CLINICIAN, Role.PATIENT


def _produced(library: Library) -> tuple[Device, Library]:
    lib = synchromed_library(library)
    d = synchromed_active(lib)
    return step(d, c.Tick(S, 3600), d.clock_s or 0, lib).device, lib


def _unprime_by_replace(d: Device) -> Device:
    return dataclasses.replace(d, primed=False)


def _unprime_copy(d: Device) -> Device:
    return copy.copy(dataclasses.replace(d, primed=False))


def _unprime_pickle(d: Device) -> Device:
    return pickle.loads(pickle.dumps(dataclasses.replace(d, primed=False)))


def _unprime_evolve(d: Device) -> Device:
    return evolve(d, primed=False)


def _unprime_copy_then_setattr(d: Device) -> Device:
    other = copy.copy(d)
    object.__setattr__(other, "primed", False)
    return other


@pytest.mark.parametrize(
    "change",
    [
        _unprime_by_replace,
        _unprime_copy,
        _unprime_pickle,
        _unprime_evolve,
        _unprime_copy_then_setattr,
    ],
)
def test_a_device_changed_outside_the_core_is_checked(
    change: Callable[[Device], Device], library: Library
):
    """REQ-CORE-004: an active device whose catheter is not primed, made from a device ``step``
    returned, is rejected naming ``device.primed``; the device it came from is still accepted."""
    d, lib = _produced(library)
    now = (d.clock_s or 0) + 60
    with pytest.raises(InvalidInput) as err:
        step(change(d), c.Tick(S, 3600), now, lib)
    assert err.value.field == "device.primed"
    step(d, c.Tick(S, 3600), now, lib)


def test_a_device_step_returned_cannot_be_changed_through_a_list_the_caller_kept(
    library: Library,
):
    """REQ-CORE-004: the device ``step`` returns owns its containers: a list the caller handed
    in (and keeps) is either rejected at the boundary or not shared."""
    d, lib = _produced(library)
    now = (d.clock_s or 0) + 60
    mine: list[Order] = list(d.orders)
    try:
        out = step(
            dataclasses.replace(d, orders=mine),  # type: ignore[arg-type]
            c.Suspend(C, reason="attack"),
            now,
            lib,
        )
    except InvalidInput:
        return  # rejected at the boundary: fine
    suspended = out.device
    mine.append(Order(suspended.next_order_id + 5, DeliveryKind.BASAL, now, now + 3600, -1))
    with pytest.raises(InvalidInput):
        check_consistent(copy.copy(suspended))  # the state is inconsistent now
    with pytest.raises(InvalidInput):
        step(suspended, c.Resume(C, "attack"), now + 60, lib)


class CheckingBench(Bench):
    """The reference bench, checking every device ``step`` returned."""

    checked: int = 0

    def _accepted(self, command: c.Command, out: Outcome) -> None:
        check_consistent(out.device)
        self.checked += 1
        super()._accepted(command, out)


BOLUS = PatientBolusProgram(dose_ng=MG, duration_s=300, lockout_s=1800, max_per_24h=6)
AT_10 = Program("morphine", "pain", 10 * MG, Basal.continuous(5 * MG), BOLUS, "opioid-tolerant")
AT_25 = dataclasses.replace(AT_10, concentration_ng_per_ml=25 * MG)
HYDRO = Program("hydromorphone", "pain", 5 * MG, Basal.continuous(MG), None, "opioid-tolerant")


def test_every_device_step_returns_passes_the_check(library: Library):
    """REQ-CORE-002, REQ-CORE-004: through refills (10 -> 25 mg/mL, a drug change and back), a
    bolus during the flush, a clinician bolus at the cap, an emergency MRI and a suspension,
    every device ``step`` returned is consistent (so skipping the check for it loses nothing)."""
    b = CheckingBench(library)
    t0 = implanted_and_dosing(b, AT_10)
    refill(b, t0 + DAY_S, 25 * MG, program=AT_25)
    b.attempt(c.RequestBolus(P), t0 + DAY_S + 9 * HOUR_S)
    b.advance(t0 + 2 * DAY_S)
    dose = max_clinician_bolus_ng(b, 600, 20 * MG)
    if dose:
        b.submit(c.ClinicianBolus(C, dose, 600))
    b.submit(c.BeginMri(C, emergency=True, reason="trauma"), t0 + 2 * DAY_S + HOUR_S)
    b.submit(c.EndMri(C), t0 + 2 * DAY_S + 2 * HOUR_S)
    b.submit(c.ConfirmPostMri(C, "valve reset recorded"), t0 + 2 * DAY_S + 2 * HOUR_S + 60)
    b.attempt(c.Resume(C, "valve reset"))
    b.advance(t0 + 3 * DAY_S)
    b.attempt(c.Suspend(C, reason="check"))
    b.attempt(c.Resume(C, "check done"))
    refill(
        b,
        t0 + 4 * DAY_S,
        5 * MG,
        program=HYDRO,
        drug="hydromorphone",
    )
    b.advance(t0 + 6 * DAY_S)
    refill(b, t0 + 6 * DAY_S, 10 * MG, program=AT_10, drug="morphine")
    b.advance(t0 + 8 * DAY_S)
    assert b.checked > 300
    assert not b.anomalies


def test_a_device_with_a_list_where_a_tuple_is_declared_is_rejected_naming_the_field(
    library: Library,
):
    """REQ-CORE-004: a device from outside has its declared field types, checked like a
    command's: a list of orders is rejected with ``device.orders`` named, and the same device
    with the tuple is accepted."""
    d, lib = _produced(library)
    now = (d.clock_s or 0) + 60
    listed = dataclasses.replace(d, orders=list(d.orders))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as err:
        step(listed, c.Suspend(C, reason="attack"), now, lib)
    assert err.value.field == "device.orders"
    assert "expected a tuple" in str(err.value)
    step(dataclasses.replace(d), c.Suspend(C, reason="attack"), now, lib)
