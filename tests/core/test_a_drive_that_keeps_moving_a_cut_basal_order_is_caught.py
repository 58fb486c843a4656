"""A drive that disobeys a cancel: it keeps moving the basal order a bolus cut for a while after
the cut, then reports (final) what it moved in all. The core counts a cut order's report as
having left the tip by the cut (R-TIP-3), so a report of more than the order's pace allowed by
the cut must raise the delivery-deviation alarm (REQ-ALM-004), and no 24 h window of what left
the tip may exceed the hard maximum.

Judged by the whole-nanolitre brute force (tests/whole_nl_drive.py) and the first-in-first-out
reference (tests/fifo_window_reference.py), from the drive's own record. Morphine on a
Prometra II, Prometra catheter trimmed 20 cm, 25 mg/mL, 14 mg/day and 1 mg patient boluses over
300 s (the 20 mg hard maximum exactly), the drive on the pace line; one patient bolus 2000 s
into a basal hour a day after dosing starts, then the largest clinician bolus the core accepts
every 300 s from an hour before to 20 minutes after the same instant a day later.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

import pytest
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import DAY_S, HOUR_S, MG, Bench, greedy_clinician_boluses, implanted_and_dosing
from late_reports import late_program
from ledger_windows_kit import ledger_gaps
from whole_nl_drive import largest_window, tip_by_second

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import BolusDecision, CancelOrder, Effect
from itdose.core.units import FG_PER_NG

P = Role.PATIENT
CAP = 20 * MG
DEVIATION = AlarmKind.DELIVERY_DEVIATION.value
PROGRAM = late_program(25 * MG)
UNIT_NG = 25  # a nanolitre of 25 mg/mL


class Disobeys(Bench):
    """A drive that keeps moving a cancelled order for ``extra_s`` after the cancel (on its
    mode's line: the push is recorded as it happened), and the controller's final report of it
    ``extra_s`` after the cancel, with what it moved in all."""

    extra_s: int = 0
    pending: list[tuple[int, int, int]]

    def _effects(self, effects: Iterable[Effect]) -> None:
        effects = tuple(effects)
        for e in effects:
            if isinstance(e, CancelOrder) and e.order_id in self.running and self.extra_s:
                r = self.running.pop(e.order_id)
                push = self._delivered(r, self.now + self.extra_s, whole_nl=True)
                if push is not None:
                    self._push(push)
                moved = int(push.volume_nl) if push is not None else 0
                self.pending.append((self.now + self.extra_s, e.order_id, moved))
        super()._effects(effects)

    def advance(self, to: int) -> None:
        for due in sorted({p[0] for p in self.pending if self.now < p[0] < to}):
            super().advance(due)
        super().advance(to)

    def _events(self) -> None:
        for due in [p for p in self.pending if p[0] <= self.now]:
            self.pending.remove(due)
            Bench._report(self, due[1], due[2])
            self._last_tick = -1  # the controller ticks at once after the report
        super()._events()


def _run(library: Library, into_s: int, extra_s: int) -> tuple[Fraction, Fraction, bool]:
    """Returns the largest window above the hard maximum (brute force, FIFO reference; ng,
    negative: under it) and whether the delivery-deviation alarm was raised from the bolus on."""
    b = Disobeys(library, mode="pace")
    b.pending = []
    t0 = implanted_and_dosing(b, PROGRAM)
    b.advance(t0 + DAY_S)
    b.extra_s = extra_s
    t = max(o.start_s for o in b.device.orders) + into_s
    out = b.submit(c.RequestBolus(P), t)
    assert [e.granted for e in out.effects if isinstance(e, BolusDecision)] == [True]
    greedy_clinician_boluses(b, t + DAY_S - HOUR_S, t + DAY_S + 1200, 300, 300, CAP)
    b.advance(b.now + 3 * HOUR_S)
    assert not b.anomalies and not b.pending and b.dead_volume_nl is not None
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    most, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine")
    assert most is not None
    deviation = any(DEVIATION in active for at, _, _, active in b.phases if at >= t)
    return brute - CAP, most[0] - CAP, deviation


def test_a_drive_that_stops_the_cut_order_at_once_leaves_the_window_at_the_maximum(
    library: Library,
) -> None:
    """REQ-GOV-002, R-TIP-3: the drive stops the cut order at the cut (reported at once): the
    clinician boluses a day later bring the largest window to the hard maximum exactly, no
    deviation alarm."""
    brute, fifo, deviation = _run(library, 2000, 0)
    assert brute <= 0 and fifo <= 0, (float(brute), float(fifo))
    assert not deviation


def test_a_drive_that_keeps_moving_the_cut_order_two_seconds_is_caught(
    library: Library,
) -> None:
    """REQ-ALM-004, R-TIP-3: the drive moves the cut order on its pace 2 s past the cut and
    reports it then: the report is ahead of the pace by the cut, the delivery-deviation alarm is
    raised, and no window exceeds the hard maximum."""
    brute, fifo, deviation = _run(library, 2000, 2)
    assert deviation
    assert brute <= 0 and fifo <= 0, (float(brute), float(fifo))


@pytest.mark.xfail(
    strict=True,
    reason=(
        "a drive that keeps moving the cut order 1 s past the cut (6.5 nL more than its "
        "pace allowed by the cut) is accepted silently (the pace check grants every span one "
        "second more, while the bolus's plan counts the cut order at its pace by the cut "
        "only): a day later the largest window is 125 ng above the 20 mg hard maximum (brute "
        "force; 108 ng by the FIFO reference), 100 ng for a cut 3500 s into the hour (300 and "
        "275 ng before the report's drug was recorded as leaving until that second); counting "
        "the second in every bolus's plan denies the boluses R-TIP-4 grants at the maximum "
        "(66 tests fail): a decision for the rules"
    ),
)
@pytest.mark.parametrize("into_s", [2000, 3500])
def test_a_drive_that_keeps_moving_the_cut_order_one_second_is_caught(
    library: Library, into_s: int
) -> None:
    """REQ-ALM-004, REQ-GOV-002, R-TIP-3: the drive moves the cut order on its pace 1 s past the
    cut and reports it then: the report says more than the order could have moved by the cut,
    so the delivery-deviation alarm is raised or, at the least, no window exceeds the hard
    maximum. Measured: neither (300 ng and 275 ng above it, no deviation alarm)."""
    brute, fifo, deviation = _run(library, into_s, 1)
    assert brute <= 0 and fifo <= 0, (float(brute), float(fifo))
    assert deviation


def test_what_a_cut_order_moved_in_the_second_after_the_cut_is_counted_until_it_left(
    library: Library,
) -> None:
    """R-TIP-3, REQ-GOV-005: the drive moves the cut order on its pace 1 s past the cut (the
    second the pace check grants) and reports it then. The ledger the core keeps counts, in every
    window ending from just before to just after a day past the cut, at least what the
    whole-nanolitre brute force says left the tip in that window up to the newest report (the
    drug moved in that second left after the cut, so the window that starts at the cut still
    holds it). Recorded as having left by the cut, it dropped out of those windows a second
    early: the whole order a second early, 163 to 176 ng under the brute force in the windows
    ending from 5 s before to a day after the cut (at most the 25 ng of a lagging nanolitre
    now)."""
    b = Disobeys(library, mode="pace")
    b.pending = []
    t0 = implanted_and_dosing(b, PROGRAM)
    b.advance(t0 + DAY_S)
    b.extra_s = 1
    cut = max(o.start_s for o in b.device.orders) + 2000
    out = b.submit(c.RequestBolus(P), cut)
    assert [e.granted for e in out.effects if isinstance(e, BolusDecision)] == [True]
    b.extra_s = 0
    b.advance(cut + DAY_S - 5)
    assert b.dead_volume_nl is not None
    ledger = b.device.ledger
    newest = ledger.newest_s
    assert cut < newest <= cut + DAY_S - 5
    left = tip_by_second(b.dead_volume_nl, b.pushes, "morphine", t0, cut + DAY_S + 5)
    for t in range(cut + DAY_S - 5, cut + DAY_S + 3):
        brute = left[newest - t0] - left[t - DAY_S - t0]
        # a whole-nanolitre drive lags its pace line by under a nanolitre (R-TIP-5): 25 ng
        counted = Fraction(ledger.window_total_fg(t), FG_PER_NG) + UNIT_NG
        assert counted >= brute, (t - cut - DAY_S, float(counted - brute))


@pytest.mark.parametrize("extra_s", [2, 30])
def test_what_a_drive_moved_after_the_cut_is_never_under_counted(
    library: Library, extra_s: int
) -> None:
    """REQ-TIP-004, REQ-GOV-004, R-TIP-3: the drive keeps moving the cut order 2 or 30 s and
    reports it then, more than its pace allowed by the cut: when it moved is not known, so what
    it moved is counted in full in every window holding the report. From the report on, for a
    day and two hours, every minute, no ledger window holds less than what left the tip in it
    by the first-in-first-out reference (a record ending at the cut leaves a window starting
    after the cut short of what moved after it: 4,694 ng at 30 s)."""
    b = Disobeys(library, mode="pace")
    b.pending = []
    t0 = implanted_and_dosing(b, PROGRAM)
    b.advance(t0 + DAY_S)
    b.extra_s = extra_s
    t = max(o.start_s for o in b.device.orders) + 2000
    out = b.submit(c.RequestBolus(P), t)
    assert [e.granted for e in out.effects if isinstance(e, BolusDecision)] == [True]
    samples = range(t + extra_s + 1, t + DAY_S + 2400, 60)
    gaps = ledger_gaps(b, t + DAY_S + 2 * HOUR_S, ("morphine",), samples)["morphine"]
    after = [(at - t, gap) for at, gap in gaps if at > t + extra_s]
    assert len(after) > DAY_S // 60
    assert all(gap <= 0 for _, gap in after), [(at, float(g)) for at, g in after if g > 0]
