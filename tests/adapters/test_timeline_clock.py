"""The timeline under wall-clock changes: elapsed time from the monotonic clock while running, the
wall clock only across restarts (REQ-TIME-008, REQ-TIME-001;
docs/dosing-rules.md#clock-and-history).

The reference is the real elapsed time (the monotonic readings the test feeds), never the
journal's own arithmetic: a 1 h lockout (the test program's) must hold for 3600 real seconds
whatever the wall clock says.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from itdose_testkit import HOUR, PATHS, C, P, S, run

from itdose.adapters import simdrive as sd
from itdose.adapters.controller import VirtualClock
from itdose.adapters.durable import DurableController, RecordingSimDrive
from itdose.adapters.journal import WALL_STEP_TOLERANCE_S, Journal
from itdose.core import Device, Library, Phase
from itdose.core import commands as c
from itdose.core.effects import BolusDecision
from itdose.core.errors import RejectedCommand
from itdose.core.governor import Reason

LOCKOUT_S = 3600
"""The test program's patient-bolus lockout (itdose_testkit.MORPHINE_PROGRAM)."""
M0 = 1_000
"""An arbitrary monotonic origin (a process's ``time.monotonic`` has its own)."""


@pytest.fixture
def active(library: Library) -> Device:
    d = run(PATHS[Phase.ACTIVE], library)
    assert d.program is not None and d.program.patient_bolus is not None
    assert d.program.patient_bolus.lockout_s == LOCKOUT_S
    return d


def deliver_until(j: Journal, at: int, library: Library) -> None:
    for order in sorted(j.device.orders, key=lambda o: (o.end_s, o.id)):
        if order.end_s <= at:
            report = c.DriveReport(S, order.id, order.volume_nl, final=True)
            j.step(report, max(order.end_s, j.last_time_s), library)


def bolus(j: Journal, at: int, library: Library) -> BolusDecision:
    deliver_until(j, at, library)
    out = j.step(c.RequestBolus(P), at, library)
    return next(e for e in out.effects if isinstance(e, BolusDecision))


def new_journal(tmp_path: Path, device: Device) -> tuple[Journal, int]:
    """A journal whose timeline equals the wall clock at creation; returns it and W0."""
    assert device.clock_s is not None
    w0 = device.clock_s
    return Journal.create(tmp_path / "j.db", device, now_s=w0, reason="test"), w0


def test_set_back_then_corrected_does_not_shorten_the_lockout(
    tmp_path: Path, active: Device, library: Library
) -> None:
    """Issue 16's sequence: a bolus at W0+60; the wall clock set back 2 h (W0+120-7200); then
    corrected (W0+180). The timeline advances 60 s and 60 s, as the monotonic clock does, and a
    bolus 120 real seconds after the first is still locked out (REQ-TIME-008)."""
    j, w0 = new_journal(tmp_path, active)
    with j:
        t1 = j.monotonic_now(w0 + 60, mono_s=M0 + 60)
        assert bolus(j, t1, library).granted
        t2 = j.monotonic_now(w0 + 120 - 7200, mono_s=M0 + 120)
        assert t2 == t1 + 60
        step_back = j.entries()[-1]
        assert step_back.kind == "wall_clock_step" and "set back by 7200 s" in step_back.reason
        t3 = j.monotonic_now(w0 + 180, mono_s=M0 + 180)
        assert t3 == t1 + 120  # not t1 + 7260
        assert "set forward by 7200 s" in j.entries()[-1].reason
        denied = bolus(j, t3, library)
        assert not denied.granted and Reason.LOCKOUT in denied.reasons
        assert denied.lockout_remaining_s == LOCKOUT_S - 120
        # one real second before the lockout's end: still denied; at its end: granted
        t4 = j.monotonic_now(w0 + 59 + LOCKOUT_S, mono_s=M0 + 59 + LOCKOUT_S)
        assert not bolus(j, t4, library).granted
        t5 = j.monotonic_now(w0 + 60 + LOCKOUT_S, mono_s=M0 + 60 + LOCKOUT_S)
        assert bolus(j, t5, library).granted


def test_set_forward_does_not_shorten_the_lockout(
    tmp_path: Path, active: Device, library: Library
) -> None:
    """A wall clock set forward 1 h after a bolus: 120 real seconds later the bolus is still
    locked out, and the step is audited (REQ-TIME-008)."""
    j, w0 = new_journal(tmp_path, active)
    with j:
        t1 = j.monotonic_now(w0 + 60, mono_s=M0 + 60)
        assert bolus(j, t1, library).granted
        t2 = j.monotonic_now(w0 + 180 + HOUR, mono_s=M0 + 180)
        assert t2 == t1 + 120
        assert "set forward by 3600 s" in j.entries()[-1].reason
        denied = bolus(j, t2, library)
        assert not denied.granted and denied.lockout_remaining_s == LOCKOUT_S - 120


def test_the_wall_clock_bridges_a_restart_from_its_corrected_relation(
    tmp_path: Path, active: Device, library: Library
) -> None:
    """After a step while running, the journaled offset follows the wall clock, so a restart
    bridges the real downtime; a wall clock set back while stopped holds the timeline
    (REQ-TIME-008, REQ-PERS-001)."""
    j, w0 = new_journal(tmp_path, active)
    with j:
        t1 = j.monotonic_now(w0 + 60, mono_s=M0 + 60)
        assert bolus(j, t1, library).granted
        j.monotonic_now(w0 + 120 - 7200, mono_s=M0 + 120)  # set back while running
        last = j.last_time_s
    with Journal.open(tmp_path / "j.db") as j:  # 100 real seconds later, clock still set back
        t = j.monotonic_now(w0 + 220 - 7200, mono_s=5)
        assert t == last + 100
        assert not bolus(j, t, library).granted
    with Journal.open(tmp_path / "j.db") as j:  # clock set back 1 h more while stopped
        t_held = j.monotonic_now(w0 + 300 - 7200 - HOUR, mono_s=9)
        assert t_held == j.last_time_s and t_held >= last + 100
        assert "while stopped" in j.entries()[-1].reason


def test_the_monotonic_clock_cannot_go_back(tmp_path: Path, active: Device) -> None:
    """REQ-TIME-008: a monotonic reading before the previous one is a caller's bug, refused."""
    j, w0 = new_journal(tmp_path, active)
    with j:
        j.monotonic_now(w0, mono_s=M0)
        seq = j.last_seq
        with pytest.raises(Exception, match="went backwards"):
            j.monotonic_now(w0 + 1, mono_s=M0 - 1)
        assert j.last_seq == seq


@settings(max_examples=150)  # each example writes a journal with fsyncs
@given(
    steps=st.lists(
        st.tuples(
            st.integers(1, 900),
            st.integers(-3, 3) | st.integers(-3 * 86_400, 3 * 86_400),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_while_running_the_timeline_moves_exactly_with_the_monotonic_clock(
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[int, int]],
) -> None:
    """Random real intervals, each followed by an arbitrary wall-clock step: the timeline
    advances by exactly the real elapsed time, and a step is audited exactly when the wall clock
    moved against real time by more than the tolerance (REQ-TIME-008)."""
    db = tmp_path_factory.mktemp("clock") / "j.db"
    with Journal.create(db, Device(), now_s=0, reason="t") as j:
        real, wall_shift = 0, 0
        t0 = j.monotonic_now(0, mono_s=M0)
        audited, offset = 0, 0  # the offset the journal last recorded (timeline - wall)
        for dt, jump in steps:
            real += dt
            wall_shift += jump
            t = j.monotonic_now(real + wall_shift, mono_s=M0 + real)
            assert t == t0 + real
            if abs(-wall_shift - offset) > WALL_STEP_TOLERANCE_S:
                audited, offset = audited + 1, -wall_shift
            assert j.clock_offset_s == offset
        assert sum(e.kind == "wall_clock_step" for e in j.entries()) == audited


# -- through the controller --------------------------------------------------------------------


def implanted_filled(library: Library) -> Device:
    return run(PATHS[Phase.IMPLANTED] + PATHS[Phase.PRIMING][-2:-1], library)


def test_the_durable_controller_times_lockouts_by_the_monotonic_clock(
    tmp_path: Path, library: Library
) -> None:
    """Issue 16's two sequences through :class:`DurableController`: its clock is the drive's
    (virtual, monotonic) clock, its wall clock a reading the test moves (REQ-TIME-008)."""
    sim = RecordingSimDrive(
        sd.SimConfig(
            reservoir_capacity_nl=10**9,
            reservoir_nl=20_000_000,
            start_s=7 * 86_400 + 110,
            min_rate_nl_per_h=1,
            max_rate_nl_per_h=10**8,
        )
    )
    shift = [0]

    def wall() -> int:
        return sim.now_s + 1_700_000_000 + shift[0]

    clock = VirtualClock(sim)
    ctl = DurableController.create(
        tmp_path / "j.db",
        sim,
        library,
        clock,
        implanted_filled(library),
        reason="test",
        wall=wall,
    )
    ctl.submit(c.Prime(C, duration_s=480))
    ctl.run_until(ctl.clock.now_s() + 600)
    ctl.submit(c.StartDosing(C))
    ctl.run_until(ctl.clock.now_s() + 2 * HOUR)

    def press() -> BolusDecision:
        try:
            out = ctl.submit(c.RequestBolus(P))
        except RejectedCommand as exc:  # pragma: no cover - the program allows boluses
            raise AssertionError(exc) from exc
        return next(e for e in out.effects if isinstance(e, BolusDecision))

    for jumps in ([-7200, +7200], [+HOUR]):
        first = press()
        assert first.granted
        t_first = ctl.clock.now_s()
        real_first = sim.now_s
        for jump in jumps:
            sim.advance_by(60)
            shift[0] += jump
            ctl.clock.now_s()
        assert sim.now_s - real_first == 60 * len(jumps)
        assert ctl.clock.now_s() == t_first + 60 * len(jumps)
        again = press()
        assert not again.granted and Reason.LOCKOUT in again.reasons
        ctl.run_until(ctl.clock.now_s() + LOCKOUT_S)  # the drive runs on; real time passes
    steps = [e for e in ctl.journal.entries() if e.kind == "wall_clock_step"]
    assert len(steps) == 3
    ctl.close()
