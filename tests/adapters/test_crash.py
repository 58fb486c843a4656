"""Crash safety of the durable controller (H12): the SIGKILL crash test at CI size, and the
restart semantics through :class:`itdose.adapters.durable.DurableController`: write-ahead,
lockouts and history kept, orders in flight reconciled from the drive, nothing caught up."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
from itdose_testkit import DAY, HOUR, PATHS, C, P

from itdose.adapters import simdrive as sd
from itdose.adapters.controller import ControllerEvent, VirtualClock
from itdose.adapters.drive import DeliveryCommand, DriveState, rate_for_duration
from itdose.adapters.durable import (
    CommandHistory,
    DurableController,
    JournalHalt,
    RecordingSimDrive,
)
from itdose.adapters.journal import Journal, verify_file
from itdose.core import Device, Phase
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import BolusDecision, DeliveryOrder
from itdose.core.governor import Reason
from itdose.core.state import DeliveryKind, Order
from itdose.specs import load_library

LIB = load_library()
START = 8 * DAY
MIN = 60
TOOL = Path(__file__).resolve().parents[2] / "tools" / "crash_test.py"


def crash_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("itdose_crash_test", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_crash_test_at_ci_size(tmp_path: Path) -> None:
    """10 SIGKILLs at random points of a morphine program with patient boluses: no violation."""
    tool = crash_tool()
    started = time.perf_counter()
    res = tool.run(10, 1, days=0.5, workdir=tmp_path)
    assert res.violations == [], res.summary()
    assert res.kills == 10 and res.restarts == 11
    assert res.reconciled_restarts >= 1 and res.restart_reports >= 1
    assert res.granted >= 1
    assert res.drive_total_nl == res.journal_total_nl
    assert res.writes > 0 and res.write_max_s > 0
    assert verify_file(tmp_path / "journal.db").ok
    assert time.perf_counter() - started < 60


# -- restart semantics, in process ----------------------------------------------------------------


def implanted_filled() -> Device:
    """Prometra II, morphine 10 mg/mL 20 mL, program set (0.1 mg boluses, 60 min lockout)."""
    from itdose_testkit import run

    return run(PATHS[Phase.IMPLANTED] + PATHS[Phase.PRIMING][-2:-1], LIB)


def new_drive(cls: type[sd.SimulatedDrive] = RecordingSimDrive) -> sd.SimulatedDrive:
    return cls(
        sd.SimConfig(
            reservoir_capacity_nl=10**9,
            reservoir_nl=20_000_000,
            start_s=7 * DAY + 110,
            min_rate_nl_per_h=1,
            max_rate_nl_per_h=10**8,
        )
    )


def first_start(
    db: Path, sim: sd.SimulatedDrive, events: list[ControllerEvent] | None = None
) -> DurableController:
    """A durable controller primed through the drive and dosing from START."""

    def observe(e: ControllerEvent, d: Device) -> None:
        if events is not None:
            events.append(e)

    ctl = DurableController.create(
        db, sim, LIB, VirtualClock(sim), implanted_filled(), reason="test", observer=observe
    )
    ctl.submit(c.Prime(C, duration_s=480))
    ctl.run_until(7 * DAY + 700)
    ctl.submit(c.StartDosing(C))
    ctl.run_until(START)
    assert ctl.device.phase is Phase.ACTIVE
    return ctl


def restart(
    db: Path, sim: sd.SimulatedDrive, events: list[ControllerEvent] | None = None
) -> DurableController:
    def observe(e: ControllerEvent, d: Device) -> None:
        if events is not None:
            events.append(e)

    return DurableController.open(db, sim, LIB, VirtualClock(sim), observer=observe)


def decision(out_effects: tuple[object, ...]) -> BolusDecision:
    return next(e for e in out_effects if isinstance(e, BolusDecision))


def total_reported(d: Device) -> int:
    assert d.reservoir is not None
    return 20_000_000 - d.reservoir.volume_nl


def test_every_decision_is_journaled_before_it_is_carried_out(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    sim = new_drive()
    ctl = first_start(db, sim)
    assert ctl.device == ctl.journal.device
    with Journal.open(db, read_only=True) as reader:  # another process's view
        assert reader.device == ctl.device
        names = [e.command for e in reader.entries() if e.command]
    assert any('"prime"' in n for n in names) and any('"drive_report"' in n for n in names)
    assert ctl.write_stats.count >= len(names) - 1 and ctl.write_stats.max_s > 0
    ctl.close()


def test_a_bolus_20_minutes_after_a_pre_crash_bolus_is_denied_after_the_restart(
    tmp_path: Path,
) -> None:
    db = tmp_path / "j.db"
    sim = new_drive()
    ctl = first_start(db, sim)
    ctl.run_until(START + 2 * HOUR)
    t = sim.now_s
    assert decision(ctl.submit(c.RequestBolus(P)).effects).granted
    ledger, boluses, alarms = ctl.device.ledger, ctl.device.boluses, ctl.device.alarms
    del ctl  # the controller dies (nothing closed; every decision is already committed)
    sim.advance_to(t + 20 * MIN)  # the drive finishes the bolus alone
    ctl = restart(db, sim)
    assert ctl.restart.downtime_s == 20 * MIN
    assert ctl.device.boluses == boluses and ctl.device.alarms == alarms
    assert ctl.device.ledger.window_total_ng(t + 20 * MIN) >= ledger.window_total_ng(t)
    assert not ctl.device.orders  # reconciled from the drive
    denied = decision(ctl.submit(c.RequestBolus(P)).effects)
    assert not denied.granted and Reason.LOCKOUT in denied.reasons
    assert denied.lockout_remaining_s == 40 * MIN
    entries = ctl.journal.entries()
    assert any(e.kind == "downtime" for e in entries)
    assert entries[-1].outcome == "accepted" and '"granted":false' in entries[-1].effects
    ctl.run_until(t + HOUR)  # exactly at the end of the lockout: granted
    assert decision(ctl.submit(c.RequestBolus(P)).effects).granted
    ctl.close()
    assert verify_file(db).ok


def killed_mid_bolus(
    db: Path, sim: sd.SimulatedDrive
) -> tuple[dict[int, DeliveryKind], tuple[int, int, int]]:
    """A bolus at START + 30 min replaces the basal order in flight (stopped and closed with the
    drive's count at once); the controller dies at 35 min with the bolus alone in flight.
    Returns the orders in flight and the replaced basal (id, volume, reported)."""
    ctl = first_start(db, sim)
    ctl.run_until(START + 30 * MIN)
    (basal,) = ctl.device.orders
    assert basal.kind is DeliveryKind.BASAL
    ctl.submit(c.RequestBolus(P))
    ctl.run_until(START + 35 * MIN)
    in_flight = {o.id: o.kind for o in ctl.device.orders}
    assert list(in_flight.values()) == [DeliveryKind.PATIENT_BOLUS]
    finals = [
        e
        for e in ctl.journal.entries()
        if e.command and '"drive_report"' in e.command and f'"order_id":{basal.id},' in e.command
    ]
    assert finals, "the replaced basal was closed with the drive's count before the crash"
    stopped = next(o for o in sim_outcomes(sim, basal.id))
    return in_flight, (basal.id, basal.volume_nl, stopped)


def sim_outcomes(sim: sd.SimulatedDrive, order_id: int) -> list[int]:
    """What the drive says it delivered for each command of ``order_id``."""
    assert isinstance(sim, CommandHistory)
    return [o.delivered_nl for o in sim.outcomes(f"{order_id}.")]


def test_a_short_restart_adopts_the_running_bolus(tmp_path: Path) -> None:
    """Back at 37 min: the drive still runs the bolus, which is adopted and completes at its
    rate; the basal it replaced was closed before the crash and is not resumed late."""
    db = tmp_path / "j.db"
    sim = new_drive()
    in_flight, (basal_id, _, _) = killed_mid_bolus(db, sim)
    sim.advance_to(START + 37 * MIN)
    events: list[ControllerEvent] = []
    ctl = restart(db, sim, events)
    rec = {r.kind: r for r in ctl.restart.reconciled}
    assert {r.order_id for r in rec.values()} == set(in_flight)
    assert all(r.exact for r in rec.values())
    assert "adopted" in rec["patient_bolus"].note
    assert [o.kind for o in ctl.device.orders] == [DeliveryKind.PATIENT_BOLUS]
    assert sim.poll().state is DriveState.RUNNING
    assert total_reported(ctl.device) == sim.truth().motor_nl  # reported at once
    bolus = ctl.device.orders[0]
    ctl.run_until(bolus.end_s)
    # the bolus is closed; the basal goes on with a new order from the bolus's end
    assert [(o.kind, o.start_s) for o in ctl.device.orders] == [(DeliveryKind.BASAL, bolus.end_s)]
    assert ctl.device.orders[0].id > bolus.id and ctl.device.phase is Phase.ACTIVE
    assert total_reported(ctl.device) == sim.truth().motor_nl
    assert len([e for e in ctl.journal.entries() if e.reason.startswith("restart:")]) >= 1
    assert not any(
        isinstance(e.effect, DeliveryOrder) and e.effect.order_id == basal_id for e in events
    )
    ctl.close()


def test_orders_in_flight_are_reconciled_from_the_drive_history(tmp_path: Path) -> None:
    """Back at 47 min, after the bolus ended: the order in flight is closed with what the drive
    says it delivered, the journal then equals the drive, and nothing is resumed late."""
    db = tmp_path / "j.db"
    sim = new_drive()
    in_flight, (basal_id, basal_nl, stopped_nl) = killed_mid_bolus(db, sim)
    assert 0 < stopped_nl < basal_nl  # the replaced basal was stopped, never resumed
    sim.advance_to(START + 47 * MIN)
    motor = sim.truth().motor_nl
    events: list[ControllerEvent] = []
    ctl = restart(db, sim, events)
    assert isinstance(sim, CommandHistory)
    rec = {r.order_id: r for r in ctl.restart.reconciled}
    assert set(rec) == set(in_flight) and all(r.exact for r in rec.values())
    (bolus,) = rec.values()
    assert bolus.kind == "patient_bolus"
    assert bolus.reported_nl == bolus.volume_nl  # the drive completed it while we were down
    assert sim_outcomes(sim, basal_id) == [stopped_nl]
    assert sim.poll().state is DriveState.IDLE
    assert total_reported(ctl.device) == sim.truth().motor_nl == motor
    assert not ctl.device.orders
    assert any("restart: order" in e.text for e in events)
    reasons = [e.reason for e in ctl.journal.entries() if e.reason.startswith("restart: order")]
    assert len(reasons) == 1 and all("drive history" in r for r in reasons)
    # the interrupted basal segment is not resumed at a higher rate; basal resumes at its time
    n = len(events)
    ctl.run_until(START + 2 * HOUR)
    orders = [e.effect for e in events[n:] if isinstance(e.effect, DeliveryOrder)]
    assert orders and all(o.volume_nl <= 100_000 // 24 + 1 for o in orders)
    assert ctl.device.phase is Phase.ACTIVE
    ctl.close()


class _Killed(Exception):
    """The controller dies between making a decision durable and carrying it out."""


def test_a_drive_without_history_gets_the_conservative_bound(tmp_path: Path) -> None:
    """Killed after the bolus (which replaces the basal order) was journaled and before it was
    carried out: the bolus never reached the drive, and a drive without history cannot say so,
    so the most it can have moved is counted: the whole bolus, or what its pace allows by the
    restart, 2 min later (REQ-DOSE-008, REQ-TIP-004)."""
    db = tmp_path / "j.db"
    sim = new_drive(sd.SimulatedDrive)
    ctl = first_start(db, sim)
    ctl.run_until(START + 30 * MIN)

    def die(*_: object) -> None:
        raise _Killed

    ctl._carry_out = die  # type: ignore[method-assign]
    with pytest.raises(_Killed):
        ctl.submit(c.RequestBolus(P))
    orders = {o.kind: o for o in ctl.device.orders}
    assert set(orders) == {DeliveryKind.BASAL, DeliveryKind.PATIENT_BOLUS}
    motor = sim.truth().motor_nl
    del ctl
    sim.advance_to(START + 32 * MIN)
    ctl = restart(db, sim)
    assert not isinstance(sim, CommandHistory)
    rec = {r.kind: r for r in ctl.restart.reconciled}
    basal, bolus = rec["basal"], rec["patient_bolus"]
    assert basal.order_id == orders[DeliveryKind.BASAL].id  # the drive's running command
    placed = orders[DeliveryKind.PATIENT_BOLUS]
    pace = -(-placed.volume_nl * 3600 // (placed.end_s - placed.start_s))  # whole nL/h, up
    by_pace = pace * (START + 32 * MIN - placed.start_s + 1) // 3600
    assert not bolus.exact and bolus.reported_nl == min(placed.volume_nl, by_pace)
    assert "conservative bound" in bolus.note
    # One report of the bound, for the bolus order only.
    logged = [
        e.reason
        for e in ctl.journal.entries()
        if "conservative bound" in e.reason
        and e.command is not None
        and f'"order_id":{bolus.order_id},' in e.command
    ]
    assert len(logged) == 1
    # the report says its doubt: none of the bound was reported before, so all of it (R-TIP-6)
    (command,) = [
        e.command
        for e in ctl.journal.entries()
        if e.command is not None and f'"order_id":{bolus.order_id},' in e.command
    ]
    assert f'"unsure_nl":{bolus.reported_nl}' in command
    assert sim.truth().motor_nl - motor <= 2 * 100_000 * 2 * MIN // DAY + 1  # the bolus never ran
    assert total_reported(ctl.device) >= sim.truth().motor_nl  # never under-counted
    ctl.close()


def test_the_conservative_bound_at_restart_does_not_stop_delivery(tmp_path: Path) -> None:
    """A restart that counts an interrupted order whole (the drive cannot say what it delivered)
    over-counts, which is safe for the 24 h limits (REQ-DOSE-008); it is not a drive ahead of its
    pace (REQ-ALM-004), so delivery goes on with no delivery-deviation alarm. Here the crash
    falls between the grant of a bolus (the core marks the basal order cut) and carrying out its
    cancel: the drive runs the basal order on past the cut, which R-TIP-3 would judge a
    deviation for an order the drive stopped at the cut; its cancel is not known carried out, so
    the restart reports it so, and it is counted as not cut (docs/dosing-rules.md#r-tip-3)."""
    db = tmp_path / "j.db"
    sim = new_drive(sd.SimulatedDrive)
    ctl = first_start(db, sim)
    ctl.run_until(START + 30 * MIN)

    def die(*_: object) -> None:
        raise _Killed

    ctl._carry_out = die  # type: ignore[method-assign]
    with pytest.raises(_Killed):
        ctl.submit(c.RequestBolus(P))
    del ctl
    sim.advance_to(START + 32 * MIN)
    ctl = restart(db, sim)
    assert any("conservative bound" in r.note for r in ctl.restart.reconciled)
    assert not ctl.device.has_alarm(AlarmKind.DELIVERY_DEVIATION)
    assert ctl.device.phase is Phase.ACTIVE
    ctl.close()


def crash_between_a_grant_and_its_cancel(
    db: Path, sim: sd.SimulatedDrive, reached: str = ""
) -> tuple[Order, Order]:
    """The controller dies in the step that grants a bolus at START + 30 min, after the grant is
    journaled: before anything is carried out, or once the cancel of the basal order has
    stopped the drive (``reached="stop"``), or has stopped it and the bolus has started on it
    (``"bolus"``), before that stop is reported. Returns the basal order (cut by the grant) and
    the bolus order, as the journal holds them."""
    ctl = first_start(db, sim)
    ctl.run_until(START + 30 * MIN)

    def die(effects: tuple[object, ...], now: int) -> None:
        if reached:
            sim.stop()
        for e in effects:
            if reached == "bolus" and isinstance(e, DeliveryOrder):
                rate = rate_for_duration(e.volume_nl, e.duration_s)
                sim.start(DeliveryCommand(f"{e.order_id}.1", e.volume_nl, rate))
        raise _Killed

    ctl._carry_out = die  # type: ignore[method-assign]
    with pytest.raises(_Killed):
        ctl.submit(c.RequestBolus(P))
    orders = {o.kind: o for o in ctl.journal.device.orders}
    basal, bolus = orders[DeliveryKind.BASAL], orders[DeliveryKind.PATIENT_BOLUS]
    assert basal.cut_s == START + 30 * MIN  # the core counts it stopped at the cut
    del ctl
    return basal, bolus


@pytest.mark.parametrize("drive", [sd.SimulatedDrive, RecordingSimDrive])
@pytest.mark.parametrize(
    ("reached", "down_s"),
    [
        ("", 2 * MIN),
        ("", 25 * MIN),
        ("", 3 * HOUR),
        ("stop", 2 * MIN),
        ("bolus", 2 * MIN),
        ("bolus", 3 * HOUR),
    ],
)
def test_a_restart_after_a_crash_between_a_grant_and_its_cancel(
    tmp_path: Path, drive: type[sd.SimulatedDrive], reached: str, down_s: int
) -> None:
    """R-TIP-3, REQ-DOSE-008, REQ-PERS-004: whether the drive ran the cut basal order on (back
    2 min later: adopted; 25 min: still running, the bolus's time over; 3 h: it ended on the
    drive) or stopped it at the cut (the cancel reached the drive, its report was lost), the
    restart reports what the drive moved for it, saying that its cancel is not known carried
    out: no deviation alarm, delivery goes on at once, and the journal never counts less than
    the drive moved. A drive that ran on moved more than the pace by the cut (what R-TIP-3 bounds
    a cut order by); one that stopped did not. A drive that shows the bolus's command stopped
    the cut order first (one command at a time): its cut stands, and where the drive cannot say
    what the cut order moved, the most its pace can have moved by the cut is counted."""
    db = tmp_path / "j.db"
    sim = new_drive(drive)
    basal, bolus = crash_between_a_grant_and_its_cancel(db, sim, reached)
    back = basal.cut_s + down_s
    sim.advance_to(back)
    ctl = restart(db, sim)
    rec = {r.order_id: r for r in ctl.restart.reconciled}
    assert set(rec) == {basal.id, bolus.id}
    assert ("not known carried out" in rec[basal.id].note) is (reached != "bolus")
    assert "not known carried out" not in rec[bolus.id].note
    journal = ctl.journal.entries()
    undone = [e for e in journal if '"uncut":true' in (e.command or "")]
    assert len(undone) == (reached != "bolus")
    if undone:
        assert f'"order_id":{basal.id},' in (undone[0].command or "")
        assert '"cut_undone"' in undone[0].effects
    pace = -(-basal.volume_nl * HOUR // (basal.end_s - basal.start_s))
    by_cut = pace * (basal.cut_s - basal.start_s + 1) // HOUR
    assert (rec[basal.id].reported_nl > by_cut) is (not reached)  # ran on past the cut, or not
    # the drive's own count of the basal order, but for a drive without history that ran a
    # later command since
    blind = reached == "bolus" and down_s > 10 * MIN and drive is not RecordingSimDrive
    assert rec[basal.id].exact is not blind
    assert not ctl.device.has_alarm(AlarmKind.DELIVERY_DEVIATION)
    assert ctl.device.phase is Phase.ACTIVE
    assert total_reported(ctl.device) >= sim.truth().motor_nl  # never under-counted
    at_restart = sim.truth().motor_nl
    ctl.run_until(back + 4 * HOUR)
    assert not ctl.device.alarms and ctl.device.phase is Phase.ACTIVE
    assert total_reported(ctl.device) >= sim.truth().motor_nl
    # basal without a gap from the restart (or the bolus's end, which holds the basal due
    # meanwhile): the program's 100,000 nL a day, within a few nanolitres of rounding
    resumed = max(back, bolus.end_s)
    assert sim.truth().motor_nl - at_restart >= 100_000 * (back + 4 * HOUR - resumed) // DAY - 5
    ctl.close()


def test_a_long_downtime_is_not_caught_up(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    sim = new_drive()
    events: list[ControllerEvent] = []
    ctl = first_start(db, sim)
    ctl.run_until(START + HOUR + 10 * MIN)
    delivered = ctl.device.delivered_ng
    del ctl
    sim.advance_to(START + 11 * HOUR)
    ctl = restart(db, sim, events)
    assert ctl.restart.downtime_s >= 9 * HOUR
    ctl.service()
    orders = [e.effect for e in events if isinstance(e.effect, DeliveryOrder)]
    assert len(orders) == 1 and orders[0].volume_nl <= 100_000 // 24 + 1
    assert ctl.device.phase is Phase.ACTIVE  # reconciled first: nothing reported overdue
    ctl.run_until(START + 12 * HOUR)
    # about one segment before the crash's end and one after the restart, never the 10 h gap
    assert ctl.device.delivered_ng - delivered <= 2 * (1_000_000 // 24 + 1000)
    ctl.close()


def test_a_journal_that_cannot_record_halts_before_any_order(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    sim = new_drive()
    ctl = first_start(db, sim)
    ctl.run_until(START + 2 * HOUR)
    before, seq = ctl.device, ctl.journal.last_seq
    started = sim.truth().motor_nl
    ctl.journal._conn.execute("PRAGMA query_only = 1")  # stands in for a full or failed disk
    with pytest.raises(JournalHalt):
        ctl.submit(c.RequestBolus(P))
    assert ctl.device is before and ctl.journal.last_seq == seq
    assert sim.poll().state is not DriveState.RUNNING  # the drive was told to stop
    sim.advance_to(START + 3 * HOUR)
    assert sim.truth().motor_nl == started  # no bolus (nor anything else) was delivered
    ctl.close()
    with Journal.open(db) as j:
        assert j.device == before


def test_rejections_are_audited(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    ctl = first_start(db, new_drive())
    with pytest.raises(Exception, match="not allowed"):
        ctl.submit(c.Prime(C, duration_s=60))
    assert ctl.journal.entries()[-1].outcome == "rejected"
    ctl.close()


def test_a_missing_journal_is_never_created_on_restart(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no such file"):
        restart(tmp_path / "missing.db", new_drive())
    assert not (tmp_path / "missing.db").exists()
