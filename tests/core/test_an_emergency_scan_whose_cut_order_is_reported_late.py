"""An emergency MRI that cuts an order whose drive reports it only some time after the scan
(REQ-MRI-006, REQ-TIP-004, REQ-GOV-002, REQ-GOV-005), judged by the minimal first-in-first-out
reference (tests/fifo_window_reference.py) from the drive's record alone.

The core counts the scan's 10 uL behind the most the cut order can have moved by its pace by the
scan (``movable_nl``), holding that a drive that moved more "raises the HIGH delivery-deviation
alarm" (docs/dosing-rules.md#r-mri-5). A drive report used to be judged against the pace at the
instant it arrived, not at the scan that stopped the order: a drive 20 % faster than its pace,
cut half way through a bolus and reported 61 s after the scan, moved 18 341 nL more than
``movable_nl`` and raised nothing, while the 10 uL that left behind it were the richer fluid of a
rise (10 -> 25 mg/mL): 100 000 ng counted at the scan, 250 000 ng left. Now the scan marks each
order in flight stopped (``Order.stopped_s``) and every later report of it is judged at the
scan's instant: that report raises the HIGH alarm, counts what it moved at once (when it moved
is unknown) and counts the scan's 10 uL again behind all that the orders in flight can move
(250 000 ng more at the report).

Measured (morphine 14 mg/day, Prometra II, catheter trimmed 20 cm; refilled 10 -> 25 mg/mL; a
3 mg clinician bolus over 600 s granted 8 000 s after the refill, 186 510 nL; the scan 300 s in;
the drive at 6/5 of the pace, 111 906 nL moved; ``movable_nl`` 93 565 nL; the report 61 s
later): 100 000 ng counted at the scan and 250 000 ng at the report, 250 000 ng left at the
scan. For 30 h after it the ledger's windows are never short of the reference's, and greedy
clinician boluses after the valve reset (the alarm cleared) keep the largest window at the tip
within the 20 mg hard maximum. At random (the change's direction, the order, where it is cut, a
drive up to 50 % ahead of its pace, its report up to 15 min after the scan, the scan's volume)
the alarm comes exactly when the drive moved more than ``movable_nl`` and no window is short
(50 runs locally).

The recount at the report is a margin, not what covers the fluid: the report, taken from the tip
of the path the scan left holding the richest fluid within 10 uL of each place, already counts
the richer fluid that left behind what the drive moved (docs/dosing-rules.md#r-mri-5). The
ledger right after the report, less the recount, is never short of the reference, and equals it
to within 25 ng of rounding where the scan counted the leaner fluid (the reference is tight).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pytest
from fifo_window_reference import moved_by, tip, window_at, windows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Bench,
    Push,
    S,
    greedy_clinician_boluses,
    implanted_and_dosing,
    refill,
)
from ledger_windows_kit import ledger_shortfalls, reset_valve_and_resume

from itdose.core import Library, Outcome, Role, dosing
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind, Priority, priority_of
from itdose.core.effects import Warn
from itdose.core.handlers.mri import movable_nl
from itdose.core.ledger import ahead_of_pace
from itdose.core.program import Basal, PatientBolusProgram, Program

C = Role.CLINICIAN
CAP = 20 * MG


def _program(conc: int) -> Program:
    bolus = PatientBolusProgram(dose_ng=MG, duration_s=600, lockout_s=3600, max_per_24h=4)
    return Program("morphine", "pain", conc, Basal.continuous(14 * MG), bolus, "opioid-tolerant")


@dataclass
class LateBench(Bench):
    """A bench whose drive ran the order ``burst_id`` faster than its pace (``burst_nl`` moved
    evenly from its start to ``burst_until``) and whose final report of it is held back until
    :meth:`report_late` (the controller hears of the stopped order after the scan)."""

    burst_id: int = -1
    burst_nl: int = 0
    burst_until: int = 0
    held: list[int] = field(default_factory=list)
    scan_pieces: tuple[Any, ...] = ()
    """The ledger's pieces right after the scan (before the late report)."""

    def _delivered(self, r: Any, at: int, *, whole_nl: bool) -> Push | None:
        if r.order.order_id != self.burst_id:
            return super()._delivered(r, at, whole_nl=whole_nl)
        t0, t1 = Fraction(r.start), Fraction(self.burst_until)
        return Push(t0, t1, Fraction(self.burst_nl), r.fluid, "burst")

    def _report(self, order_id: int, volume: int) -> None:
        if order_id == self.burst_id:
            self.held.append(volume)
            return
        super()._report(order_id, volume)

    def report_late(self, at: int) -> Outcome:
        self.advance(at)
        (volume,) = self.held
        return self.submit(c.DriveReport(S, self.burst_id, volume, True))


@dataclass(frozen=True)
class Scan:
    bench: LateBench
    at: int
    movable_nl: int
    moved_nl: int
    counted_ng: Fraction
    left_ng: Fraction
    recounted_ng: Fraction = Fraction(0)
    """The instant counted again at the late report (a drive that moved more than its pace)."""
    warnings: tuple[tuple[str, str], ...] = ()
    """The warnings of the late report (code, text)."""


def _beyond_the_recount(b: LateBench) -> tuple[Fraction, Fraction]:
    """Right after the late report: the ledger's morphine window, less the 10 uL counted again at
    the report, less what left the tip in that window by the drive's record (the reference), ng;
    and the recount, ng.

    Every order in flight was stopped by the scan and has reported, so the reference counts no
    fluid the ledger cannot have heard of. Judged one second after the report: the ledger reads
    an instant as ending one second after it (the window ending at the scan itself holds none of
    the scan's instant; the governor never judges that window)."""
    before = set(b.scan_pieces)
    again = sum(
        p.amount_fg
        for p in b.device.ledger.pieces
        if p.instant and p.order_id != b.burst_id and p not in before
    )
    t = b.now + 1
    counted = Fraction(dosing.ledger_of(b.device, "morphine").window_total_fg(t) - again, 10**6)
    assert b.dead_volume_nl is not None
    left = window_at(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine", Fraction(t))
    return counted - left, Fraction(again, 10**6)


def _scan(library: Library, lead_s: int, cut_s: int, speed: Fraction, delay_s: int) -> Scan:
    """Morphine refilled 10 -> 25 mg/mL; ``lead_s`` later a 3 mg clinician bolus over 600 s;
    the drive runs it at ``speed`` times its pace; the scan ``cut_s`` into it; its final report
    ``delay_s`` after the scan (checked: not ahead of the pace at that instant)."""
    b = LateBench(library)
    t0 = implanted_and_dosing(b, _program(10 * MG))
    t_refill = t0 + 2 * DAY_S
    refill(b, t_refill, 25 * MG, program=_program(25 * MG))
    b.submit(c.ClinicianBolus(C, 3 * MG, 600), t_refill + lead_s)
    (running,) = b.running.values()
    at = running.start + cut_s
    b.advance(at)
    (order,) = b.device.orders
    moved = int(speed * order.volume_nl * cut_s / (order.end_s - order.start_s))
    assert moved <= order.volume_nl
    # the drive's report, when it comes, is within the pace rule (no HIGH alarm)
    report_at = at + delay_s
    assert not ahead_of_pace(moved, order.volume_nl, order.start_s, order.end_s, report_at)
    most = movable_nl(b.device, at)
    b.burst_id, b.burst_nl, b.burst_until = running.order.order_id, moved, at
    b.submit(c.BeginMri(C, emergency=True, reason="trauma: no time to empty"), at)
    b.scan_pieces = b.device.ledger.pieces
    counted_fg = sum(p.amount_fg for p in b.device.ledger.pieces if p.instant and p.end_s == at)
    late = b.report_late(report_at)
    warnings = tuple((e.code, e.text) for e in late.effects if isinstance(e, Warn))
    # judged at the scan's instant: the HIGH alarm exactly when it moved more than the core
    # held possible by the scan
    high = [a.kind for a in b.device.alarms if priority_of(a.kind) is Priority.HIGH]
    assert high == ([AlarmKind.DELIVERY_DEVIATION] if moved > most else []), high
    recounted_fg = sum(
        p.amount_fg for p in b.device.ledger.pieces if p.instant and p.end_s == report_at
    )
    assert b.dead_volume_nl is not None
    left = sum(
        (
            p.ng
            for p in tip(b.dead_volume_nl, moved_by(b.pushes))
            if p.t0 == p.t1 == at and p.drug == "morphine"
        ),
        Fraction(0),
    )
    recounted = Fraction(recounted_fg, 10**6)
    return Scan(b, at, most, moved, Fraction(counted_fg, 10**6), left, recounted, warnings)


def test_a_scan_counts_what_left_the_tip_when_the_cut_order_is_reported_late(
    library: Library,
) -> None:
    """REQ-MRI-006, REQ-TIP-004: a cut order reported after the scan is judged against its pace
    at the scan's instant (it moved nothing after it): a drive 20 % ahead of its pace, reported
    61 s later, raises the HIGH delivery-deviation alarm, and the scan's 10 uL are counted again
    at the report behind what it moved, so that what the ledger counts for the scan (its
    instant and the one at the report) is at least what left the tip at it."""
    s = _scan(library, 8_000, 300, Fraction(6, 5), 61)
    assert s.moved_nl > s.movable_nl  # the drive ran ahead of what the core holds possible
    assert s.left_ng == 250_000
    assert s.counted_ng == 100_000  # behind the most its pace allows: the leaner fluid
    assert s.counted_ng < s.left_ng <= s.counted_ng + s.recounted_ng, (
        float(s.counted_ng),
        float(s.recounted_ng),
    )
    # the scan's 10 uL counted again at the report, as their own instant: at the richest fluid
    # within reach of the tip then, the 25 mg/mL (0.25 mg), apart from the order's own report
    again = [
        p
        for p in s.bench.device.ledger.pieces
        if p.instant and p.end_s == s.at + 61 and p.order_id != s.bench.burst_id
    ]
    assert sum(p.amount_fg for p in again) == 250_000 * 10**6
    order_id = s.bench.burst_id
    assert s.warnings == (
        (
            "emergency_mri_recounted",
            f"Order {order_id}, stopped by the emergency MRI, moved more than its pace allows by "
            "the scan: the labelled worst case, 0.01 mL, is counted again behind it: 250 mcg of "
            "morphine (25 mg/mL).",
        ),
    )


@pytest.mark.parametrize(
    ("lead_s", "cut_s", "speed", "delay_s"),
    [(8_000, 300, Fraction(6, 5), 61), (7_000, 300, Fraction(6, 5), 61),
     (8_000, 300, Fraction(3, 2), 200), (8_000, 100, Fraction(3, 2), 100),
     (8_000, 500, Fraction(11, 10), 61)],
)  # fmt: skip
def test_without_the_recount_the_scan_and_the_report_already_cover_what_left(
    library: Library, lead_s: int, cut_s: int, speed: Fraction, delay_s: int
) -> None:
    """REQ-MRI-006, REQ-GOV-005: the recount at the report is a margin, not the count that
    covers the fluid: after the scan the path holds at each place the richest fluid within 10 uL
    of it, so the report, which takes what the drive moved from the tip, counts the richer fluid
    that left behind it already (docs/dosing-rules.md#r-mri-5 gives the argument). Here (a rise)
    the ledger's window right after the report, less the recount, is at least what left the tip
    by the reference; where the scan counted its 10 uL as the leaner fluid, it is what left to
    within the counts' rounding up (under 1 ug), and the recount adds 250 ug on top; where it
    counted them as the richer one, 150 ug (10 uL times 25 - 10 mg/mL) more."""
    s = _scan(library, lead_s, cut_s, speed, delay_s)
    assert s.moved_nl > s.movable_nl  # a drive that moved more than its pace allows
    beyond, again = _beyond_the_recount(s.bench)
    assert again == 250_000
    rich_at_the_scan = s.counted_ng == 250_000
    assert (150_000 if rich_at_the_scan else 0) <= beyond < 1_000 + 150_000 * rich_at_the_scan, (
        float(beyond),
        float(s.counted_ng),
        float(s.left_ng),
    )


def test_a_drive_within_its_pace_at_the_scan_raises_nothing_and_is_not_recounted(
    library: Library,
) -> None:
    """REQ-MRI-006, REQ-TIP-004: a drive at its pace, reported late, is no deviation: no alarm,
    nothing counted again, and the instant at the scan covers what left."""
    s = _scan(library, 8_000, 300, Fraction(1), 600)
    assert s.moved_nl <= s.movable_nl
    assert s.recounted_ng == 0
    assert s.left_ng <= s.counted_ng, (float(s.counted_ng), float(s.left_ng))


@pytest.mark.parametrize(("lead_s", "delay_s"), [(8_000, 61), (7_000, 61)])
def test_after_a_late_reported_cut_order_no_window_is_short_or_over_the_cap(
    library: Library, lead_s: int, delay_s: int
) -> None:
    """REQ-MRI-006, REQ-GOV-002, REQ-GOV-005: with the late report above (the HIGH alarm and
    the recount at the report; the alarm cleared at the valve reset): for 30 h the ledger's
    window at each
    order end and every minute around 24 h after the scan is at least the reference's; then
    greedy clinician boluses (60 s, every 2 h from 1 h to 2 days after the scan) bring the
    largest window at the tip to within 0.5 mg of 20 mg and none over it."""
    s = _scan(library, lead_s, 300, Fraction(6, 5), delay_s)
    assert s.moved_nl > s.movable_nl and s.left_ng > s.counted_ng  # the attack's premise
    reset_valve_and_resume(s.bench, s.at)
    b = s.bench
    dense = range(s.at + DAY_S - 120, s.at + DAY_S + 2400, 60)
    short = ledger_shortfalls(b, s.at + 30 * HOUR_S, ("morphine",), dense)["morphine"]
    assert not short, [(t - s.at, float(n)) for t, n in short]
    s2 = _scan(library, lead_s, 300, Fraction(6, 5), delay_s)
    reset_valve_and_resume(s2.bench, s2.at)
    b2 = s2.bench
    assert greedy_clinician_boluses(b2, s2.at + HOUR_S, s2.at + 2 * DAY_S, 2 * HOUR_S, 60, CAP)
    b2.advance(s2.at + 3 * DAY_S)
    assert b2.dead_volume_nl is not None
    pieces = tip(b2.dead_volume_nl, moved_by(b2.pushes))
    largest, _ = windows(pieces, "morphine", lo=Fraction(s2.at))
    assert largest is not None
    assert CAP - MG // 2 <= largest[0] <= CAP, float(largest[0])
    assert not b2.anomalies


def _random_scan(
    library: Library, falling: bool, kind: str, lead_s: int, share: Fraction, speed: Fraction,
    delay_s: int, scan_nl: int,
) -> Scan:  # fmt: skip
    """As :func:`_scan`, for any order kind, direction of the change and scan volume."""
    before, after = (25, 10) if falling else (10, 25)
    b = LateBench(library, mri_nl=Fraction(scan_nl))
    t0 = implanted_and_dosing(b, _program(before * MG))
    t_refill = t0 + 2 * DAY_S
    refill(b, t_refill, after * MG, program=_program(after * MG))
    if kind == "basal":
        b.advance(t_refill + lead_s)
        (running,) = b.running.values()
        b.advance(running.end)
    elif kind == "clinician bolus":
        b.submit(c.ClinicianBolus(C, 3 * MG, 600), t_refill + lead_s)
    else:
        b.submit(c.RequestBolus(Role.PATIENT), t_refill + lead_s)
    (running,) = b.running.values()
    cut_s = int(share * (running.end - running.start))
    at = running.start + cut_s
    b.advance(at)
    (order,) = b.device.orders
    moved = min(
        order.volume_nl, int(speed * order.volume_nl * cut_s / (order.end_s - order.start_s))
    )
    most = movable_nl(b.device, at)
    b.burst_id, b.burst_nl, b.burst_until = running.order.order_id, moved, at
    b.submit(c.BeginMri(C, emergency=True, reason="trauma: no time to empty"), at)
    b.scan_pieces = b.device.ledger.pieces
    b.report_late(at + delay_s)
    # judged at the scan, however late: the alarm exactly when it moved more than it could
    deviation = AlarmKind.DELIVERY_DEVIATION in {a.kind for a in b.device.alarms}
    assert deviation == (moved > most), (moved, most)
    # the window at the report covers what left without the recount (a margin on top)
    beyond, _ = _beyond_the_recount(b)
    assert beyond >= 0, float(beyond)
    return Scan(b, at, most, moved, Fraction(0), Fraction(0))


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    falling=st.booleans(),
    kind=st.sampled_from(["clinician bolus", "patient bolus", "basal"]),
    lead_s=st.integers(0, 9_000),
    share=st.integers(0, 999).map(lambda n: Fraction(n, 1000)),
    speed=st.integers(100, 150).map(lambda n: Fraction(n, 100)),
    delay_s=st.integers(0, 900),
    scan_nl=st.sampled_from([0, 5_000, 10_000]),
)
def test_after_a_random_late_reported_cut_order_no_window_is_short(
    library: Library, falling: bool, kind: str, lead_s: int, share: Fraction, speed: Fraction,
    delay_s: int, scan_nl: int,
) -> None:  # fmt: skip
    """REQ-MRI-006, REQ-GOV-005: at random (the change's direction, the order, where it is cut,
    a drive up to 50 % ahead of its pace, its report up to 15 min after the scan, the scan's
    volume), for 30 h after the scan the ledger's windows are never short of the reference's
    (measured locally: 50 random runs, none short; before the report was judged at the scan,
    3 of 129 instants were under-counted, by up to 150 000 ng, unflagged)."""
    base = 28_000 if falling else 6_000
    s = _random_scan(library, falling, kind, base + lead_s, share, speed, delay_s, scan_nl)
    b = s.bench
    reset_valve_and_resume(b, s.at, max(delay_s, 600))
    dense = range(s.at + DAY_S - 120, s.at + DAY_S + 2400, 60)
    short = ledger_shortfalls(b, s.at + 30 * HOUR_S, ("morphine",), dense)["morphine"]
    assert not short, [(t - s.at, float(n)) for t, n in short]
    assert not b.anomalies
