"""A cut whose cancel is not known to have been carried out (R-TIP-3): the controller dies as the
core grants a bolus, after the grant is durable and before the cancel of the basal order the
bolus cuts (and the bolus order) reach the drive. The drive runs the cut order on, on its
line, and never starts the bolus. The controller restarts ``down_s`` later and reconciles as
adapters/durable.py does: the cut order is reported with what the drive moved (the running one
is adopted: reported now, not final, and at its end as usual), its report saying that its cancel
is not known carried out (``DriveReport.uncut``), and the bolus, which the drive cannot say it
never ran, is reported final with the most its pace can have moved by the restart (the
conservative bound).

The cut order moved more than its pace allowed by the cut: R-TIP-3 judges that a deviation for
an order the drive stopped at the cut (the HIGH alarm stops delivery), which is what protects
the limits from a drive that ignores a cancel
(test_a_drive_that_keeps_moving_a_cut_basal_order_is_caught.py). A report that says the cancel
is not known carried out counts the order as not cut: judged against its own pace by the report
and recorded as leaving by the report. Delivery goes on, and no 24 h window at the tip exceeds
the hard maximum, judged by the whole-nanolitre brute force (tests/whole_nl_drive.py) and the
first-in-first-out reference (tests/fifo_window_reference.py) from the drive's own record, with
the largest clinician bolus the core accepts every 300 s around the same instant a day later.
Morphine on a Prometra II, 25 mg/mL, 14 mg/day and 1 mg patient boluses over 300 s (the 20 mg
hard maximum exactly), the drive on the pace line, the bolus 2000 s into a basal hour.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from fractions import Fraction

import pytest
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import DAY_S, HOUR_S, MG, Bench, greedy_clinician_boluses, implanted_and_dosing
from itdose_testkit import reach
from late_reports import late_program
from whole_nl_drive import largest_window

from itdose.core import Device, Library, Phase, Role, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.codec import decode, encode
from itdose.core.drive_reports import uncut
from itdose.core.effects import BolusDecision, CancelOrder, DeliveryOrder, Effect, Record
from itdose.core.state import DeliveryKind, Order

P = Role.PATIENT
S = Role.SERVICE
CAP = 20 * MG
DEVIATION = AlarmKind.DELIVERY_DEVIATION.value
PROGRAM = late_program(25 * MG)


class Crashes(Bench):
    """The controller dies with the next grant that cancels an order (``armed``) and restarts
    ``down_s`` later; its restart's report of the cut order carries ``uncut``."""

    armed: bool = False
    down_s: int = 0
    uncut: bool = True
    restart_s: int = 0
    lost: list[tuple[int, DeliveryOrder]]
    """The orders granted and never carried out: (grant time, order)."""
    cut: list[int]
    """The cut orders the drive runs on."""
    bounds: list[int]
    """What the restart reported for each lost order."""

    def _effects(self, effects: Iterable[Effect]) -> None:
        effects = tuple(effects)
        if self.armed and any(isinstance(e, CancelOrder) for e in effects):
            self.armed = False  # dies: nothing of this step is carried out
            self.restart_s = self.now + self.down_s
            self.cut = [e.order_id for e in effects if isinstance(e, CancelOrder)]
            self.lost = [(self.now, e) for e in effects if isinstance(e, DeliveryOrder)]
            return
        super()._effects(effects)

    def advance(self, to: int) -> None:
        if self.now < self.restart_s < to:
            super().advance(self.restart_s)
        super().advance(to)

    def _events(self) -> None:
        if self.now < self.restart_s:
            return  # the controller is down: no report, no tick (the drive runs on)
        if self.now == self.restart_s and self.lost:
            self._restart()
        super()._events()

    def _report_at_restart(
        self, order_id: int, delivered_nl: int, final: bool, uncut: bool
    ) -> None:
        command = c.DriveReport(S, order_id, delivered_nl, final, uncut)
        self._accepted(command, step(self.device, command, self.now, self.library))

    def _restart(self) -> None:
        for oid in self.cut:
            r = self.running[oid]
            if r.end > self.now:  # adopted: what it moved so far, then on to its end
                push = self._delivered(r, self.now, whole_nl=True)
                moved = int(push.volume_nl) if push is not None else 0
                self._report_at_restart(oid, moved, False, self.uncut)
            else:
                self._report_at_restart(oid, self._finish(oid, self.now), True, self.uncut)
        for at, order in self.lost:
            pace = -(-order.volume_nl * HOUR_S // order.duration_s)
            bound = min(order.volume_nl, pace * (self.now - at + 1) // HOUR_S)
            self.bounds.append(bound)
            self._report_at_restart(order.order_id, bound, True, False)
        self.lost = []


def _run(library: Library, down_s: int, uncut: bool) -> tuple[Fraction, Fraction, bool, Crashes]:
    """Returns the largest window above the hard maximum (brute force, FIFO reference; ng,
    negative: under it), whether the delivery-deviation alarm was raised from the bolus on, and
    the bench."""
    b = Crashes(library, mode="pace")
    b.lost, b.cut, b.bounds = [], [], []
    t0 = implanted_and_dosing(b, PROGRAM)
    b.advance(t0 + DAY_S)
    b.armed, b.down_s, b.uncut = True, down_s, uncut
    (basal,) = b.device.orders
    t = basal.start_s + 2000
    out = b.submit(c.RequestBolus(P), t)
    assert [e.granted for e in out.effects if isinstance(e, BolusDecision)] == [True]
    assert b.lost and b.cut == [basal.id] and not b.armed
    b.advance(t + down_s)
    assert not b.lost and b.bounds
    greedy_clinician_boluses(b, t + DAY_S - HOUR_S, t + DAY_S + 1200, 300, 300, CAP)
    b.advance(b.now + 3 * HOUR_S)
    assert not b.anomalies and b.dead_volume_nl is not None
    # the drive ran the cut order past the cut: more than its pace allowed by the cut
    moved = sum(p.volume_nl for p in b.pushes if p.t0 == basal.start_s)
    assert moved * HOUR_S > basal.volume_nl * (2000 + 1) + HOUR_S
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    most, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine")
    assert most is not None
    deviation = any(DEVIATION in active for at, _, _, active in b.phases if at >= t)
    return brute - CAP, most[0] - CAP, deviation, b


@pytest.mark.parametrize("down_s", [120, 1500, 3 * HOUR_S])
def test_a_restart_after_a_crash_between_a_grant_and_its_cancel_goes_on(
    library: Library, down_s: int
) -> None:
    """R-TIP-3, REQ-DOSE-008, REQ-GOV-002: back 2 min later (the cut order adopted), 25 min later
    (the bolus counted whole, the cut order still running) or 3 h later (the cut order ended on
    the drive): no deviation alarm, delivery goes on (the clinician boluses a day later are
    granted), and no window exceeds the hard maximum."""
    brute, fifo, deviation, b = _run(library, down_s, True)
    assert not deviation
    assert brute <= 0 and fifo <= 0, (float(brute), float(fifo))
    assert any(isinstance(cmd, c.ClinicianBolus) for at, cmd, _ in b.log if at > b.restart_s)
    # never under-counted: the core counted at least what the drive moved
    assert b.device.reservoir is not None
    assert b.device.reservoir.volume_nl <= b.reservoir_nl


def test_the_same_report_without_uncut_is_a_deviation(library: Library) -> None:
    """R-TIP-3, REQ-ALM-004: the restart's report of the cut order without ``uncut`` (the cancel
    taken as carried out at the cut) is above the order's pace by the cut: the HIGH
    delivery-deviation alarm, as for a drive that ignored a cancel."""
    _, _, deviation, _ = _run(library, 120, False)
    assert deviation


def _cut_and_down(library: Library) -> tuple[Crashes, Order]:
    """The bench with the controller down since a bolus cut the basal order 2000 s into it (a
    day down: nothing is reported meanwhile); returns it and the cut order."""
    b = Crashes(library, mode="pace")
    b.lost, b.cut, b.bounds = [], [], []
    implanted_and_dosing(b, PROGRAM)
    b.armed, b.down_s = True, DAY_S
    (basal,) = b.device.orders
    b.submit(c.RequestBolus(P), basal.start_s + 2000)
    (cut,) = (o for o in b.device.orders if o.id == basal.id)
    assert cut.cut_s == basal.start_s + 2000
    return b, cut


def _report(b: Crashes, order_id: int, nl: int, final: bool, uncut: bool, at: int) -> Device:
    return step(b.device, c.DriveReport(S, order_id, nl, final, uncut), at, b.library).device


def test_a_report_that_undoes_a_cut_is_still_judged_by_the_orders_pace(library: Library) -> None:
    """REQ-ALM-004, R-TIP-3: a report saying the cut order's cancel is not known carried out is
    judged against the order's own pace by the report: what that pace allows (the whole-second
    allowance included) is accepted, a nanolitre more than it is still the deviation alarm; the
    same count without ``uncut`` is a deviation (more than the pace by the cut). The order is no
    longer cut, and a basal order that goes on holds the basal to its end again."""
    b, cut = _cut_and_down(library)
    at = cut.cut_s + 120
    pace = -(-cut.volume_nl * HOUR_S // (cut.end_s - cut.start_s))
    by_now = pace * (at - cut.start_s + 1) // HOUR_S
    assert by_now * HOUR_S > pace * (cut.cut_s - cut.start_s + 1)  # beyond the cut's bound
    out = step(b.device, c.DriveReport(S, cut.id, by_now, False, True), at, b.library)
    ok = out.device
    assert not ok.has_alarm(AlarmKind.DELIVERY_DEVIATION)
    # recorded at the report, naming the order and its cut
    text = f"order {cut.id}: its cut at t={cut.cut_s} s is not known carried out; not cut"
    assert [e for e in out.effects if isinstance(e, Record) and e.event == "cut_undone"] == [
        Record("cut_undone", "service", at, ok.phase, ok.phase, text)
    ]
    (undone,) = (o for o in ok.orders if o.id == cut.id)
    assert (undone.cut_s, undone.cut_mixed, undone.reported_nl) == (0, False, by_now)
    assert ok.basal_until_s == cut.end_s > b.device.basal_until_s
    assert _report(b, cut.id, by_now + 1, False, True, at).has_alarm(AlarmKind.DELIVERY_DEVIATION)
    assert _report(b, cut.id, by_now, False, False, at).has_alarm(AlarmKind.DELIVERY_DEVIATION)
    # a final report ends it: the basal after it waits for nothing more than before
    final = _report(b, cut.id, by_now, True, True, at)
    assert not final.has_alarm(AlarmKind.DELIVERY_DEVIATION)
    assert all(o.id != cut.id for o in final.orders)
    assert final.basal_until_s == b.device.basal_until_s


def test_uncut_changes_nothing_for_an_order_not_cut(library: Library) -> None:
    """R-TIP-3: ``uncut`` on the report of an order no bolus cut (the bolus itself) is the same
    report; a report without it is written as before the field existed (journals stay)."""
    b, cut = _cut_and_down(library)
    (bolus,) = (o for o in b.device.orders if o.id != cut.id)
    at = bolus.start_s + 60
    assert _report(b, bolus.id, 100, False, True, at) == _report(b, bolus.id, 100, False, False, at)
    plain = c.DriveReport(S, bolus.id, 100, False)
    assert "uncut" not in encode(plain) and decode(c.DriveReport, encode(plain)) == plain
    flagged = c.DriveReport(S, bolus.id, 100, False, True)
    assert encode(flagged)["uncut"] is True and decode(c.DriveReport, encode(flagged)) == flagged


def test_uncut_records_what_it_undid_and_leaves_every_other_order_as_it_was(
    library: Library,
) -> None:
    """R-TIP-3, REQ-PERS-002: ``uncut`` of a cut order makes it an order no bolus cut (``cut_s``
    0, ``cut_mixed`` False) and records that once, by the service role at the report's instant,
    naming the order and its cut; every other order stays as it was, another cut one included.
    Of an order not cut, or of an unknown id, it changes and records nothing."""
    d = reach(Phase.ACTIVE, library)
    t = d.basal_until_s
    first = Order(7, DeliveryKind.BASAL, t, t + HOUR_S, 3600, cut_s=t + 100, cut_mixed=True)
    other = Order(8, DeliveryKind.BASAL, t, t + HOUR_S, 3600, cut_s=t + 200, cut_mixed=True)
    bolus = Order(9, DeliveryKind.PATIENT_BOLUS, t + 100, t + 400, 1000)
    d = dataclasses.replace(d, orders=(first, other, bolus), next_order_id=10)
    after, effects = uncut(d, 7, True, t + 300)
    undone = dataclasses.replace(first, cut_s=0, cut_mixed=False)
    assert after.orders == (undone, other, bolus)
    (record,) = effects
    assert isinstance(record, Record)
    assert (record.event, record.role, record.at_s, record.source, record.dest) == (
        "cut_undone",
        "service",
        t + 300,
        Phase.ACTIVE,
        Phase.ACTIVE,
    )
    assert record.detail == f"order 7: its cut at t={t + 100} s is not known carried out; not cut"
    assert uncut(d, 9, True, t + 300) == (d, ())
    assert uncut(d, 99, True, t + 300) == (d, ())
