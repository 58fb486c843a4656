"""An emergency MRI counts, in the drug's 24 h ledger, at least the drug that leaves the catheter
tip at the scan, also when it cuts an order in flight, and the ledger never counts less than
what leaves the tip afterwards (REQ-MRI-006, REQ-GOV-005, REQ-GOV-002), judged by the minimal
first-in-first-out reference (tests/fifo_window_reference.py) from the drive's record alone.

The scan stops every order in flight: the drive moved only part of what the order was granted,
and the labelled 10 uL leave the tip right behind what moved. The core counts them at the scan,
before the drive reports what moved, so it cannot count them from the grant (an order cut after
one second moved a few hundred nL of a grant of 273 722 nL).

Morphine 14 mg/day on a Prometra II with the Prometra catheter trimmed 20 cm (dead volume
0.234 mL), refilled after two days to another concentration (same daily dose): falling, 25 ->
10 mg/mL (0.234 mL of the richer fluid take about 10 h to leave), or rising, 10 -> 25 mg/mL
(about 4 h). The scan cuts a clinician bolus (3 mg over 10 min), a patient bolus (1 mg over
10 min) or an hourly basal order, at its first second, one second in, with the boundary between
the two fluids within the scan's 10 uL, in the middle, or in its last second.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest
from fifo_window_reference import Left, moved_by, tip, windows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Bench,
    greedy_clinician_boluses,
    implanted_and_dosing,
    refill,
)
from ledger_windows_kit import ledger_shortfalls

from itdose.core import Library, Phase, Role
from itdose.core import commands as c
from itdose.core.handlers.mri import movable_nl
from itdose.core.ledger import ahead_of_pace
from itdose.core.program import Basal, PatientBolusProgram, Program
from itdose.core.state import DeliveryKind, Device, Order

C = Role.CLINICIAN
CAP = 20 * MG


def _program(conc: int) -> Program:
    bolus = PatientBolusProgram(dose_ng=MG, duration_s=600, lockout_s=3600, max_per_24h=4)
    return Program("morphine", "pain", conc, Basal.continuous(14 * MG), bolus, "opioid-tolerant")


@dataclass(frozen=True)
class Scan:
    """The reference's view of a scan that cut an order, and the core's count at it."""

    bench: Bench
    at: int
    counted_ng: Fraction
    left: list[Left]

    def left_at_scan_ng(self) -> Fraction:
        return sum(
            (p.ng for p in self.left if p.t0 == p.t1 == self.at and p.drug == "morphine"),
            Fraction(0),
        )


def _scan(
    library: Library,
    kind: str,
    before: int,
    after: int,
    lead_s: int,
    cut_s: int | Fraction,
    scan_nl: int = 10_000,
) -> Scan:
    """Dosing at ``before`` mg/mL, refilled to ``after`` mg/mL; ``lead_s`` after the refill the
    order is granted (a bolus) or the next basal order starts, and the scan comes ``cut_s``
    after that order's start (a :class:`Fraction`: that share of the order's duration), moving
    ``scan_nl`` (the labelled worst case, or less)."""
    b = Bench(library, mri_nl=Fraction(scan_nl))
    t0 = implanted_and_dosing(b, _program(before * MG))
    t_refill = t0 + 2 * DAY_S
    refill(b, t_refill, after * MG, program=_program(after * MG))
    if kind == "basal":
        b.advance(t_refill + lead_s)
        (running,) = b.running.values()
        b.advance(running.end)  # the next order starts at this one's end
    elif kind == "clinician bolus":
        b.submit(c.ClinicianBolus(C, 3 * MG, 600), t_refill + lead_s)
    else:
        b.submit(c.RequestBolus(Role.PATIENT), t_refill + lead_s)
    (running,) = b.running.values()
    assert running.order.kind == kind.replace(" ", "_")
    if isinstance(cut_s, Fraction):
        cut_s = int(cut_s * (running.end - running.start))
    assert running.end - running.start > cut_s  # the scan cuts it
    at = running.start + cut_s
    b.submit(c.BeginMri(C, emergency=True, reason="trauma: no time to empty"), at)
    counted_fg = sum(p.amount_fg for p in b.device.ledger.pieces if p.instant and p.end_s == at)
    assert b.dead_volume_nl is not None
    return Scan(b, at, Fraction(counted_fg, 10**6), tip(b.dead_volume_nl, moved_by(b.pushes)))


CASES = [
    # falling, 25 -> 10 mg/mL: 24 000 nL of the 25 mg/mL fluid at the tip at 32 400 s
    ("clinician bolus", 25, 10, 32_400, 0),
    ("clinician bolus", 25, 10, 32_400, 30),  # the boundary about 10 uL from the tip
    ("clinician bolus", 25, 10, 32_400, 50),  # the boundary within the 10 uL
    ("clinician bolus", 25, 10, 32_400, 300),
    ("clinician bolus", 25, 10, 32_400, 599),
    ("patient bolus", 25, 10, 32_400, 0),
    ("patient bolus", 25, 10, 32_400, 1),
    ("patient bolus", 25, 10, 32_400, 300),
    ("basal", 25, 10, 30_600, 0),
    ("basal", 25, 10, 30_600, 1),
    ("basal", 25, 10, 30_600, 1800),
    ("basal", 25, 10, 30_600, 3599),  # 667 nL of 25 mg/mL left ahead of the scan's 10 uL
    # rising, 10 -> 25 mg/mL: 59 000 nL of the 10 mg/mL fluid at the tip at 10 800 s
    ("clinician bolus", 10, 25, 12_600, 0),
    ("clinician bolus", 10, 25, 12_600, 1),
    ("clinician bolus", 10, 25, 12_600, 120),  # the boundary within the 10 uL
    ("clinician bolus", 10, 25, 12_600, 599),
    ("patient bolus", 10, 25, 12_600, 1),
    ("basal", 10, 25, 9_000, 0),
    ("basal", 10, 25, 9_000, 1),
    ("basal", 10, 25, 9_000, 1800),
    ("basal", 10, 25, 9_000, 3599),  # 667 nL of 10 mg/mL left ahead of the scan's 10 uL
]
# the scan moved less than the labelled 10 uL: 0 or 5 uL
PARTIAL = [
    ("clinician bolus", 25, 10, 32_400, 1, 0),
    ("clinician bolus", 25, 10, 32_400, 50, 5_000),
    ("basal", 25, 10, 30_600, 3599, 5_000),
    ("clinician bolus", 10, 25, 12_600, 120, 5_000),
    ("basal", 10, 25, 9_000, 3599, 0),
    ("basal", 10, 25, 9_000, 1800, 5_000),
]


@pytest.mark.parametrize(
    ("kind", "before", "after", "lead_s", "cut_s", "scan_nl"),
    [(*case, 10_000) for case in CASES] + PARTIAL,
)
def test_an_emergency_scan_cutting_an_order_counts_at_least_what_leaves_the_tip(
    library: Library, kind: str, before: int, after: int, lead_s: int, cut_s: int, scan_nl: int
):
    """REQ-MRI-006, REQ-GOV-005, REQ-GOV-002: the instant counted at the scan is at least the
    drug that left the tip at that instant; for 30 h after it (the valve reset and dosing
    resumed 11 min after the scan) the ledger's window at each order's end and every minute
    around 24 h after the scan is at least the drug that left the tip in it, and no window of
    morphine at the tip exceeds 20 mg; also when the scan moved less than the labelled 10 uL."""
    _judge(_scan(library, kind, before, after, lead_s, cut_s, scan_nl), max(before, after))


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["clinician bolus", "patient bolus", "basal"]),
    falling=st.booleans(),
    lead_s=st.integers(0, 9_000),
    cut_share=st.integers(0, 999).map(lambda n: Fraction(n, 1000)),
    scan_nl=st.integers(0, 10_000),
)
def test_a_random_emergency_scan_cutting_an_order_counts_at_least_what_leaves_the_tip(
    library: Library, kind: str, falling: bool, lead_s: int, cut_share: Fraction, scan_nl: int
):
    """REQ-MRI-006, REQ-GOV-005, REQ-GOV-002: as the directed cases, at random: the order and
    the instant it is cut, while the boundary of the two concentrations nears and passes the
    tip (from 28 000 s after a refill from 25 to 10 mg/mL, from 6 000 s after one from 10 to
    25 mg/mL, over 9 000 s), and
    the volume the scan moves."""
    before, after, base = (25, 10, 28_000) if falling else (10, 25, 6_000)
    _judge(
        _scan(library, kind, before, after, base + lead_s, cut_share, scan_nl), max(before, after)
    )


def _judge(s: Scan, richest: int) -> None:
    """The scan's count, then 30 h of dosing judged by the reference."""
    b = s.bench
    left = s.left_at_scan_ng()
    assert (left > 0) == (b.mri_nl > 0)  # the reference saw the scan's volume leave
    assert s.counted_ng >= left, (float(s.counted_ng), float(left))
    # never more than 10 uL of the richest fluid and the one nanolitre a drive may lag (R-TIP-5)
    assert s.counted_ng <= 10_000 * richest + richest
    b.submit(c.EndMri(C), s.at + 600)
    b.submit(c.ConfirmPostMri(C, "valve reset recorded"), s.at + 660)
    if b.device.phase is Phase.SUSPENDED:
        b.submit(c.Resume(C, "valve reset"), s.at + 670)
    assert b.dead_volume_nl is not None
    dense = range(s.at + DAY_S - 120, s.at + DAY_S + 2400, 60)
    short = ledger_shortfalls(b, s.at + 30 * HOUR_S, ("morphine",), dense)["morphine"]
    assert not short, [(t - s.at, float(n)) for t, n in short]  # (s after the scan, ng)
    pieces = tip(b.dead_volume_nl, moved_by(b.pushes))
    largest, _ = windows(pieces, "morphine", lo=Fraction(s.at))
    assert largest is not None and largest[0] <= CAP
    assert not b.anomalies


def test_an_emergency_scan_cutting_a_bolus_one_second_in_counts_the_fluid_behind_what_moved(
    library: Library,
):
    """REQ-MRI-006, REQ-GOV-005: the pinned attack: 24 000 nL of the 25 mg/mL fluid at the tip
    ahead of 10 mg/mL, a 3 mg clinician bolus granted (273 722 nL in flight) and the scan one
    second later. The 10 uL that leave are 25 mg/mL (250 000 ng); counted from behind the whole
    grant they were 10 mg/mL (100 000 ng, 150 000 ng uncounted)."""
    s = _scan(library, "clinician bolus", 25, 10, 32_400, 1)
    assert s.left_at_scan_ng() == 250_000
    assert s.counted_ng >= 250_000


@pytest.mark.parametrize(
    ("kind", "before", "after", "lead_s", "cut_s", "from_h", "every_min"),
    [
        # the pinned scan: the richer fluid at the tip, a bolus cut one second in
        ("clinician bolus", 25, 10, 32_400, 1, 1, 120),
        # a rise: counted behind the grant, the 10 mg/mL fluid kept at the tip left as 25 mg/mL
        # fluid a day later, uncounted: the same attack reached 20,006,359 ng
        ("clinician bolus", 10, 25, 12_600, 1, 1, 120),
        # and, from 20 h after the scan every 30 min, 20,139,937 ng (0.14 mg over the maximum)
        ("basal", 10, 25, 9_000, 0, 20, 30),
    ],
)
def test_after_an_emergency_scan_cutting_an_order_the_greedy_boluses_stay_within_the_cap(
    library: Library,
    kind: str,
    before: int,
    after: int,
    lead_s: int,
    cut_s: int,
    from_h: int,
    every_min: int,
):
    """REQ-GOV-002, REQ-MRI-006: after a scan that cut an order, the valve reset and dosing
    resumed, the largest clinician bolus (60 s) the core accepts, every ``every_min`` minutes
    from ``from_h`` hours after the scan to two days after it, brings a window of morphine at
    the tip to within 0.5 mg of 20 mg (the attack has teeth) and none over it."""
    s = _scan(library, kind, before, after, lead_s, cut_s)
    b = s.bench
    b.submit(c.EndMri(C), s.at + 600)
    b.submit(c.ConfirmPostMri(C, "valve reset recorded"), s.at + 660)
    if b.device.phase is Phase.SUSPENDED:
        b.submit(c.Resume(C, "valve reset"), s.at + 670)
    start = s.at + from_h * HOUR_S
    given = greedy_clinician_boluses(b, start, s.at + 2 * DAY_S, every_min * 60, 60, CAP)
    assert given
    b.advance(s.at + 3 * DAY_S)
    assert b.dead_volume_nl is not None
    largest, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine", lo=Fraction(s.at))
    assert largest is not None
    assert CAP - MG // 2 <= largest[0] <= CAP, float(largest[0])
    assert not b.anomalies


@settings(max_examples=300, deadline=None)
@given(
    volume=st.integers(1, 400_000),
    duration=st.integers(1, 7200),
    elapsed=st.integers(0, 8000),
    share=st.fractions(0, 1),
    reported_at=st.integers(0, 8000),
)
def test_what_an_order_can_have_moved_by_the_scan_is_what_its_pace_allows(
    volume: int, duration: int, elapsed: int, share: Fraction, reported_at: int
):
    """REQ-MRI-006, REQ-TIP-004: the volume the scan counts behind is what the orders in flight
    can have moved beyond their reports by the scan: one nanolitre more would be ahead of the
    order's pace (the drive-report rule of itdose.core.ledger.ahead_of_pace, which raises the
    HIGH deviation alarm), and it never exceeds the rest of the grant."""
    start = 10_000
    now = start + elapsed
    reported_s = 0 if reported_at > elapsed else start + reported_at
    reported = int(share * volume) if reported_s else 0
    if reported_s and ahead_of_pace(reported, volume, start, start + duration, reported_s):
        return  # such a report raised the deviation alarm: not an order the pace can judge
    order = Order(1, DeliveryKind.BASAL, start, start + duration, volume, reported, reported_s)
    most = movable_nl(Device(orders=(order,)), now)
    assert 0 <= most <= volume - reported
    moved = reported + most
    assert not ahead_of_pace(moved, volume, start, start + duration, now, reported, reported_s)
    if moved < volume:
        assert ahead_of_pace(moved + 1, volume, start, start + duration, now, reported, reported_s)


@settings(max_examples=200, deadline=None)
@given(
    volume=st.integers(1, 400_000),
    duration=st.integers(1, 7200),
    stopped_after=st.integers(0, 8000),
    later=st.integers(0, 8000),
)
def test_an_order_stopped_by_an_earlier_scan_counts_only_what_its_pace_allowed_by_the_stop(
    volume: int, duration: int, stopped_after: int, later: int
):
    """REQ-MRI-006: an order an earlier emergency scan stopped moved nothing after the stop; a
    later scan holds it to what its pace allowed by that instant, however much later it comes
    (one nanolitre more would be ahead of its pace then)."""
    start = 10_000
    stop = start + stopped_after
    order = Order(1, DeliveryKind.BASAL, start, start + duration, volume, stopped_s=stop)
    most = movable_nl(Device(orders=(order,)), stop + later)
    assert 0 <= most <= volume
    assert not ahead_of_pace(most, volume, start, start + duration, stop)
    if most < volume:
        assert ahead_of_pace(most + 1, volume, start, start + duration, stop)


def _most_by_pace(volume: int, start: int, end: int, now: int) -> int:
    """The largest volume an unreported order of ``volume`` over ``[start, end)`` can have moved
    by ``now`` without being ahead of its pace (a search over the drive-report rule)."""
    lo, hi = 0, volume
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ahead_of_pace(mid, volume, start, end, now):
            hi = mid - 1
        else:
            lo = mid
    return lo


@settings(max_examples=100, deadline=None)
@given(
    volumes=st.tuples(st.integers(1, 400_000), st.integers(1, 400_000)),
    durations=st.tuples(st.integers(1, 7200), st.integers(1, 7200)),
    elapsed=st.integers(0, 8000),
    full=st.integers(1, 400_000),
)
def test_the_orders_in_flight_add_up_and_one_reported_in_full_adds_nothing(
    volumes: tuple[int, int], durations: tuple[int, int], elapsed: int, full: int
):
    """REQ-MRI-006: each order in flight can have moved what its own pace allows, and the scan
    counts behind all of them; an order whose drive reported all of it moves nothing more and
    hides none of the orders after it."""
    start = 10_000
    now = start + elapsed
    done = Order(1, DeliveryKind.BASAL, start - 3600, start, full, full, start)
    basal = Order(2, DeliveryKind.BASAL, start, start + durations[0], volumes[0])
    bolus = Order(3, DeliveryKind.CLINICIAN_BOLUS, start, start + durations[1], volumes[1])
    expected = sum(_most_by_pace(o.volume_nl, o.start_s, o.end_s, now) for o in (basal, bolus))
    assert movable_nl(Device(orders=(done, basal, bolus)), now) == expected
