"""The drive as a witness of the journal's end: its command ids and delivered total, checked when
the durable controller opens the journal (REQ-PERS-004; docs/dosing-rules.md#clock-and-history).

The attacker here holds every host-side copy (the database and the head file, taken together
while the controller was stopped) but not the drive: restoring the older pair passes every
host-side check, and only the drive can tell that the journal lost its tail.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from itdose_testkit import HOUR, PATHS, C, P, run

from itdose.adapters import simdrive as sd
from itdose.adapters.controller import VirtualClock
from itdose.adapters.drive import DriveState, DriveStatus
from itdose.adapters.durable import (
    DurableController,
    RecordingSimDrive,
    check_drive_witness,
    read_drive_witness,
)
from itdose.adapters.journal import (
    Journal,
    JournalRollbackError,
    default_head_path,
    fail_safe_device,
    salvage,
)
from itdose.core import Device, Library, Phase, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import BolusDecision, DeliveryOrder


def implanted_filled(library: Library) -> Device:
    return run(PATHS[Phase.IMPLANTED] + PATHS[Phase.PRIMING][-2:-1], library)


def new_drive() -> RecordingSimDrive:
    return RecordingSimDrive(
        sd.SimConfig(
            reservoir_capacity_nl=10**9,
            reservoir_nl=20_000_000,
            start_s=7 * 86_400 + 110,
            min_rate_nl_per_h=1,
            max_rate_nl_per_h=10**8,
        )
    )


def first_start(db: Path, sim: RecordingSimDrive, library: Library) -> DurableController:
    ctl = DurableController.create(
        db, sim, library, VirtualClock(sim), implanted_filled(library), reason="test"
    )
    ctl.submit(c.Prime(C, duration_s=480))
    ctl.run_until(ctl.clock.now_s() + 600)
    ctl.submit(c.StartDosing(C))
    ctl.run_until(ctl.clock.now_s() + HOUR)
    assert ctl.device.phase is Phase.ACTIVE
    return ctl


def copy_all(db: Path, to: Path) -> None:
    """Every host-side copy: the database and its head file (the controller is stopped)."""
    to.mkdir()
    for f in (db, default_head_path(db)):
        shutil.copyfile(f, to / f.name)


def restore_all(backup: Path, db: Path) -> None:
    for leftover in (Path(f"{db}-wal"), Path(f"{db}-shm")):
        leftover.unlink(missing_ok=True)
    for f in backup.iterdir():
        shutil.copyfile(f, db.parent / f.name)


def test_a_rollback_of_every_host_copy_is_caught_by_the_drive(
    tmp_path: Path, library: Library
) -> None:
    """Database and head file restored together to before a granted bolus: the journal alone
    cannot tell (an honest limit), the drive's command ids can; the controller refuses to open
    and the fail-safe device has the HIGH memory fault (REQ-PERS-004, REQ-PERS-002)."""
    db = tmp_path / "j.db"
    sim = new_drive()
    ctl = first_start(db, sim, library)
    ctl.close()
    copy_all(db, tmp_path / "backup")
    ctl = DurableController.open(db, sim, library, VirtualClock(sim))
    out = ctl.submit(c.RequestBolus(P))
    assert next(e for e in out.effects if isinstance(e, BolusDecision)).granted
    order = next(e for e in out.effects if isinstance(e, DeliveryOrder))
    bolus_at = ctl.clock.now_s()
    ctl.run_until(bolus_at + 15 * 60)  # the drive delivers it
    ctl.close()
    restore_all(tmp_path / "backup", db)
    with Journal.open(db) as j:  # every host-side check passes: the pair is genuine
        assert j.verify().ok
        rolled_back = j.device
    assert rolled_back.next_order_id <= order.order_id  # the bolus is forgotten
    with pytest.raises(JournalRollbackError, match="drive has run a command of order") as info:
        DurableController.open(db, sim, library, VirtualClock(sim))
    safe = fail_safe_device(salvage(db), sim.now_s, library, detail=str(info.value))
    assert safe.device.has_alarm(AlarmKind.MEMORY_FAULT) and safe.device.phase is Phase.ALARM
    denied = step(safe.device, c.RequestBolus(P), sim.now_s, library)
    assert not next(e for e in denied.effects if isinstance(e, BolusDecision)).granted


def test_an_honest_restart_passes_the_drive_check(tmp_path: Path, library: Library) -> None:
    """The drive check does not cry wolf: a stop and restart with orders delivered and in
    flight opens normally, and so does a new journal started on a drive with a past
    (REQ-PERS-004)."""
    db = tmp_path / "j.db"
    sim = new_drive()
    ctl = first_start(db, sim, library)
    ctl.submit(c.RequestBolus(P))
    ctl.run_until(ctl.clock.now_s() + 120)  # the bolus is still running
    ctl.close()
    sim.advance_by(300)
    ctl = DurableController.open(db, sim, library, VirtualClock(sim))
    witness = check_drive_witness(ctl.journal, sim)
    assert witness.max_order_id is not None
    assert witness.max_order_id < ctl.device.next_order_id
    device = ctl.device
    ctl.close()
    second = tmp_path / "j2.db"
    ctl = DurableController.create(
        second,
        sim,
        library,
        VirtualClock(sim),
        dataclasses.replace(device, orders=(), next_order_id=1),
        reason="test: a new journal on a used drive",
    )
    ctl.close()
    DurableController.open(second, sim, library, VirtualClock(sim)).close()


class _TotalOnly:
    """A drive that reports only its delivered total (no command ids)."""

    def __init__(self, total_nl: int) -> None:
        self.total_nl = total_nl

    def poll(self) -> DriveStatus:
        return DriveStatus(
            state=DriveState.IDLE,
            active_command_id=None,
            commanded_nl=0,
            rate_nl_per_h=0,
            delivered_nl_this_command=0,
            delivered_nl_total=self.total_nl,
            delivered_bounds_nl=(0, 0),
            counter_epoch=0,
            fault=None,
            last_contact_ms=0,
        )


def test_a_drive_that_delivered_more_than_the_journal_ordered_is_caught(
    tmp_path: Path, library: Library
) -> None:
    """The delivered-total check alone: a drive that counted more since the journal began than
    the journal ever ordered reveals a lost tail (REQ-PERS-004)."""
    db = tmp_path / "j.db"
    sim = new_drive()
    ctl = first_start(db, sim, library)
    journal = ctl.journal
    ordered = journal.ordered_nl_total()
    base = journal.drive_witness
    assert base is not None and base["delivered_nl_total"] == 0
    assert 0 < sim.poll().delivered_nl_total <= ordered
    check_drive_witness(journal, _TotalOnly(ordered))  # type: ignore[arg-type]
    with pytest.raises(JournalRollbackError, match="journal ordered only"):
        check_drive_witness(journal, _TotalOnly(ordered + 1))  # type: ignore[arg-type]
    assert read_drive_witness(_TotalOnly(5)).max_order_id is None  # type: ignore[arg-type]
    ctl.close()
