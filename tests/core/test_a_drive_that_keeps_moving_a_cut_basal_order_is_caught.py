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
from whole_nl_drive import largest_window

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import BolusDecision, CancelOrder, Effect

P = Role.PATIENT
CAP = 20 * MG
DEVIATION = AlarmKind.DELIVERY_DEVIATION.value
PROGRAM = late_program(25 * MG)


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
        "second more, while the bolus's plan counted the cut order at its pace by the cut "
        "only): a day later the largest window is 300 ng above the 20 mg hard maximum (brute "
        "force; 293 ng by the FIFO reference), 275 ng for a cut 3500 s into the hour"
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
