"""A clinician bolus asked while another bolus is in flight is refused naming that bolus and the
instant it ends, and nothing changes (REQ-BOL-009; docs/dosing-rules.md#r-bol-5).

It used to be refused as a dose limit, "the bolus does not fit (not_delivering)" against the
20 mg/day maximum, on a pump that was delivering: the patient bolus in flight was not named.
"""

from __future__ import annotations

import pytest
from itdose_testkit import DAY, C, S, reach

from itdose.core import LimitViolation, Phase, RejectedCommand, Role, step
from itdose.core import commands as c
from itdose.core.effects import DeliveryOrder
from itdose.core.state import Device

T = 8 * DAY


def _with_bolus(library, command: c.Command) -> tuple[Device, DeliveryOrder]:
    d = reach(Phase.ACTIVE, library)
    out = step(d, command, T, library)
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    return out.device, order


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        (c.RequestBolus(Role.PATIENT), "patient bolus"),
        (c.ClinicianBolus(C, 200_000, 900), "clinician bolus"),
    ],
)
def test_a_clinician_bolus_in_flight_of_another_names_it_and_its_end(library, command, kind):
    """REQ-BOL-009: while the bolus runs: rejected, naming its kind, order and end; the device
    is unchanged (step is pure; the next command sees the same device)."""
    d, order = _with_bolus(library, command)
    end = T + order.duration_s
    for at in (T, T + 1, end - 1):
        with pytest.raises(RejectedCommand) as info:
            step(d, c.ClinicianBolus(C, 100_000, 600), at, library)
        e = info.value
        assert e.field == "command"
        assert f"a {kind} (order {order.order_id}) is in flight until t={end} s" in e.message
        assert "not_delivering" not in str(e)
        assert (e.value, e.limit) == (f"t={at} s", f">= t={end} s")
    # one second before its end, the whole line: what is in the way, until when, what to do
    assert e.message == (
        f"a {kind} (order {order.order_id}) is in flight until t={end} s (1 s from now): give "
        "the clinician bolus when it ends"
    )
    # the refusal is not a dose limit: the same bolus is refused for no limit of its own
    assert not isinstance(info.value, LimitViolation)


def test_after_the_bolus_ends_its_report_is_awaited_then_the_clinician_bolus_is_decided(
    library,
):
    """REQ-BOL-009: at the bolus's end, before the drive's final report, the refusal says the
    report is awaited; once reported, the clinician bolus is granted."""
    d, order = _with_bolus(library, c.RequestBolus(Role.PATIENT))
    end = T + order.duration_s
    with pytest.raises(RejectedCommand) as info:
        step(d, c.ClinicianBolus(C, 100_000, 600), end, library)
    assert info.value.message == (
        f"a patient bolus (order {order.order_id}) ended at t={end} s and its final drive "
        "report is awaited: give the clinician bolus once it is reported"
    )
    assert (info.value.value, info.value.limit) == (f"t={end} s", f">= t={end} s")
    report = c.DriveReport(S, order.order_id, order.volume_nl, True)
    d = step(d, report, end, library).device
    out = step(d, c.ClinicianBolus(C, 100_000, 600), end + 1, library)
    assert any(isinstance(e, DeliveryOrder) and e.kind == "clinician_bolus" for e in out.effects)
