"""Safety requirements that no other test checked directly, through the public ``step`` API.

Written for the traceability of ``itdose verify --with-tests``: each test names the requirement
it checks, and asserts it on the live core and the shipped library.
"""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import DAY, HOUR, MORPHINE_PROGRAM, PATHS, C, P, S, reach, run

from itdose.core import (
    Device,
    DosingError,
    Library,
    Phase,
    dosing,
    from_json,
    step,
    to_json,
)
from itdose.core import basal as basal_engine
from itdose.core import bolus as bolus_engine
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import BolusDecision, DeliveryOrder
from itdose.core.governor import Reason
from itdose.core.program import Basal, Program

T = 8 * DAY


def _bolus(d: Device, now: int, library: Library) -> tuple[Device, BolusDecision]:
    out = step(d, c.RequestBolus(P), now, library)
    (decision,) = [e for e in out.effects if isinstance(e, BolusDecision)]
    return out.device, decision


@pytest.mark.parametrize(
    "command",
    [
        c.Tick(S),
        c.RequestBolus(P),
        c.ClinicianBolus(C, dose_ng=100_000, duration_s=600),
        c.ClinicianBolus(C, dose_ng=21_000_000, duration_s=600),
        c.Suspend(C, reason="review"),
        c.RaiseAlarm(S, AlarmKind.MOTOR_STALL),
        c.DriveReport(S, order_id=99, delivered_nl=1, final=True),
    ],
    ids=lambda cmd: type(cmd).__name__,
)
def test_step_is_a_pure_function_of_its_inputs(command: c.Command, library: Library) -> None:
    """The same (state, command, time, library) always gives the same outcome, and the input
    state is not changed, whether the command is accepted or rejected (REQ-CORE-001)."""
    device = reach(Phase.ACTIVE, library)
    before = to_json(device)
    copy = from_json(before)
    outcomes = []
    for state in (device, copy, device):
        try:
            out = step(state, command, T + 100, library)
            outcomes.append((to_json(out.device), out.effects))
        except DosingError as exc:
            outcomes.append((type(exc).__name__, str(exc)))
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert to_json(device) == before


def test_every_delivery_order_passes_the_governor(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Priming, basal, patient-bolus and clinician-bolus orders each come from a step in which
    the dose governor decided, unless the order pushes no drug out of the tip (priming a path
    that holds no drug yet) (REQ-DOSE-001)."""
    calls: list[str] = []

    def recording(name: str, real):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(name)
            return real(*args, **kwargs)

        return wrapper

    # each engine module calls the governor through its own import of it
    monkeypatch.setattr(dosing, "decide_basal", recording("basal", dosing.decide_basal))
    monkeypatch.setattr(basal_engine, "decide_basal", recording("basal", basal_engine.decide_basal))
    monkeypatch.setattr(bolus_engine, "decide_bolus", recording("bolus", bolus_engine.decide_bolus))

    kinds: set[str] = set()

    def checked(d: Device, command: c.Command, now: int) -> Device:
        calls.clear()
        out = step(d, command, now, library)
        orders = [e for e in out.effects if isinstance(e, DeliveryOrder)]
        if orders and not calls:
            # only an order that pushes no drug out of the tip needs no decision: priming an
            # empty path (every segment drug-free, and the order no larger than the path)
            assert d.path is not None, f"{type(command).__name__} ordered {orders} without a path"
            drug_free = all(seg.drug == "" for seg in d.path.segments)
            fits = all(o.volume_nl <= d.path.volume_nl for o in orders)
            assert all(o.kind == "priming" for o in orders) and drug_free and fits, (
                f"{type(command).__name__} ordered {orders} without the governor"
            )
        kinds.update(o.kind for o in orders)
        return out.device

    d = run(PATHS[Phase.PRIMING][:-1], library)
    d = checked(d, c.Prime(C, duration_s=480), 7 * DAY + 120)
    d = checked(d, c.DriveReport(S, order_id=1, delivered_nl=234_000, final=True), 7 * DAY + 600)
    d = checked(d, c.StartDosing(C), 7 * DAY + 700)
    d = checked(d, c.Tick(S), 7 * DAY + 800)
    (basal,) = d.orders
    d = checked(d, c.RequestBolus(P), 7 * DAY + 900)
    # the bolus replaced the basal order: the drive stops it and reports what it moved (at most
    # its pace allows); a bolus is refused while another is in flight, so the drive finishes the
    # patient bolus (at its end) before the clinician orders one
    moved = basal.volume_nl * (7 * DAY + 900 - basal.start_s) // (basal.end_s - basal.start_s)
    stop = c.DriveReport(S, order_id=basal.id, delivered_nl=moved, final=True)
    d = checked(d, stop, 7 * DAY + 900)
    (bolus,) = d.orders
    assert bolus.kind.value == "patient_bolus"
    done = c.DriveReport(S, order_id=bolus.id, delivered_nl=bolus.volume_nl, final=True)
    d = checked(d, done, bolus.end_s)
    d = checked(d, c.ClinicianBolus(C, dose_ng=100_000, duration_s=600), bolus.end_s + 100)
    assert kinds >= {"priming", "basal", "patient_bolus", "clinician_bolus"}


def _baclofen_implanted(library: Library) -> Device:
    steps: list[tuple[c.Command, int]] = [
        (c.RecordScreening(C, candidate=True, baseline_pain=0), 0),
        (c.StartTrial(C, "baclofen", "spasticity-spinal", plan="screening"), 60),
        (c.RecordTrialDose(C, amount_ng=50_000), DAY),
        (c.RecordScreeningResponse(C, positive=True), DAY + 4 * HOUR),
        (c.ConcludeTrial(C), 2 * DAY),
        (c.Implant(C, "prometra-ii-20", "prometra-catheter", trimmed_mm=200), 3 * DAY),
    ]
    return run(steps, library)


def test_baclofen_50_mcg_per_ml_is_for_screening_only(library: Library) -> None:
    """A pump fill of baclofen at the 50 mcg/mL screening strength is rejected; a product
    strength is accepted (REQ-LIB-008)."""
    d = _baclofen_implanted(library)
    with pytest.raises(DosingError) as info:
        step(d, c.Fill(C, volume_nl=20_000_000, concentration_ng_per_ml=50_000), 3 * DAY, library)
    assert info.value.field == "command.concentration_ng_per_ml"
    out = step(
        d, c.Fill(C, volume_nl=20_000_000, concentration_ng_per_ml=500_000), 3 * DAY, library
    )
    assert out.device.reservoir is not None
    assert out.device.reservoir.concentration_ng_per_ml == 500_000


def test_time_before_the_last_accepted_time_is_rejected_and_changes_nothing(
    library: Library,
) -> None:
    """A command dated before the last accepted time is rejected naming the time field, for any
    command, and the state is unchanged (REQ-TIME-004)."""
    d = reach(Phase.ACTIVE, library)
    assert d.clock_s is not None
    before = to_json(d)
    for command in (c.Tick(S), c.RequestBolus(P), c.Suspend(C, reason="x")):
        with pytest.raises(DosingError) as info:
            step(d, command, d.clock_s - 1, library)
        assert info.value.field == "now_s"
        assert to_json(d) == before


def test_lockout_window_and_count_carry_across_suspension_alarm_refill_and_reprogramming(
    library: Library,
) -> None:
    """Suspension, a HIGH alarm and its recovery, a refill and a new program reset neither the
    bolus lockout, the bolus count nor the rolling 24 h total (REQ-TIME-003)."""
    d = reach(Phase.ACTIVE, library)
    first = T + 100
    d, granted = _bolus(d, first, library)
    assert granted.granted
    d = step(
        d, c.DriveReport(S, order_id=2, delivered_nl=10_000, final=True), first + 600, library
    ).device
    window = d.ledger.window_total_ng(first + 600)
    assert window > 0
    boluses = d.boluses
    t = first + 700
    for command in (
        c.Suspend(C, reason="review"),
        c.Resume(C, reason="reviewed"),
        c.RaiseAlarm(S, AlarmKind.OCCLUSION),
        c.ClearAlarm(C, AlarmKind.OCCLUSION, reason="flushed"),
        c.Resume(C, reason="checked"),
        c.BeginRefill(C),
    ):
        d = step(d, command, t, library).device
        t += 10
    assert d.reservoir is not None
    d = step(d, c.RecordWithdrawal(C, withdrawn_nl=d.reservoir.volume_nl), t, library).device
    d = step(d, c.CompleteRefill(C, 20_000_000, 10_000_000), t + 10, library).device
    new = dataclasses.replace(MORPHINE_PROGRAM, basal=Basal.continuous(900_000))
    assert isinstance(new, Program)
    d = step(d, c.SetProgram(C, new), t + 20, library).device
    assert d.phase is Phase.ACTIVE
    assert d.boluses == boluses
    assert d.ledger.window_total_ng(t + 20) >= window
    # still inside the 1 h lockout from the first bolus: denied, with the time remaining
    d, early = _bolus(d, first + HOUR - 1, library)
    assert not early.granted and early.reasons == (Reason.LOCKOUT,)
    assert early.lockout_remaining_s == 1
    d, later = _bolus(d, first + HOUR, library)
    assert later.granted
