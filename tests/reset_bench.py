"""A bench whose drive resets (tests/itdose_physics.py's :class:`Bench`, physics unchanged): at a
reset instant the order running stops moving (the drive has moved what its behaviour allows by
then, in whole nanolitres) and its count is lost. The controller reports it later as an upper
bound, the most the order's pace allows by the report (``+ 1 s``, as adapters/controller.py
counts it) or its whole volume, with the doubt (``DriveReport.unsure_nl``): the bound less what
is surely moved (what it moved, or a lower bound below it: ``sure_share`` of it). The report is
final, or (``keep_going``) not final and the order then goes on with its rest, no faster than
its pace, and is reported at its end. A cancel or a stop of the core (a bolus, a suspend) before
the report reports it at once.

What the drive really moved is recorded as pushes, so the independent references
(tests/whole_nl_drive.py, tests/fifo_window_reference.py) judge the tip from what moved, never
from what the core was told.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction

from itdose_physics import HOUR_S, TICKED, Bench, _Running

from itdose.core import Role, step
from itdose.core import commands as c
from itdose.core.effects import CancelOrder, DeliveryOrder, Effect, StopDelivery

S = Role.SERVICE


@dataclass
class _Lost:
    run: _Running
    moved: int
    report_at: int
    cut: bool = False
    cut_at: int = 0


@dataclass
class ResetBench(Bench):
    """See the module doc. ``resets``: the instants the drive resets; ``report_after_s``: the
    report comes that long after the reset (``None``: at the order's end)."""

    resets: list[int] = field(default_factory=list)
    report_after_s: int | None = None
    keep_going: bool = False
    sure_share: Fraction = Fraction(1)
    doubt_said: bool = True
    cut_report_after_s: int = 0
    """A cancel of the core (a bolus cutting the order) is answered this late (the cut order's
    report pending meanwhile); a stop of all delivery at once."""
    lost: dict[int, _Lost] = field(default_factory=dict)
    offset: dict[int, int] = field(default_factory=dict)
    first: dict[int, _Running] = field(default_factory=dict)
    """Each order the drive goes on with after a bound: the order as the core gave it."""
    bounds: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    """Each bound reported: (time, order id, reported delta, moved of it, doubt said)."""

    def advance(self, to: int) -> None:
        while True:
            due = [t for t in self.resets if self.now < t <= to]
            due += [x.report_at for x in self.lost.values() if self.now < x.report_at <= to]
            stop = min(due, default=to)
            if stop > self.now:
                super().advance(stop)
            self._resets_and_reports()
            if stop >= to:
                return

    def _resets_and_reports(self) -> None:
        if self.now in self.resets:
            for oid in sorted(self.running):
                r = self.running.pop(oid)
                push = self._delivered(r, self.now, whole_nl=True)
                moved = 0
                if push is not None:
                    self._push(push)
                    moved = int(push.volume_nl)
                at = r.end if self.report_after_s is None else self.now + self.report_after_s
                self.lost[oid] = _Lost(r, moved, max(self.now, min(at, r.end)))
        for oid in sorted(self.lost):
            if oid in self.lost and self.lost[oid].report_at <= self.now:
                self._report_lost(oid, stopped=self.lost[oid].cut)

    def _report_lost(self, oid: int, stopped: bool = False) -> None:
        x = self.lost.pop(oid)
        r = x.run
        o = self.first.get(oid, r)  # the order as given: its pace bounds the whole count
        before = self.offset.get(oid, 0)
        volume, span = o.order.volume_nl, o.end - o.start
        pace = -(-volume * HOUR_S // max(1, span))
        at = x.cut_at if x.cut else self.now  # a cut order moved nothing after the cut
        by_pace = pace * (at - o.start + 1) // HOUR_S - before
        bound = min(r.order.volume_nl, max(x.moved, by_pace))
        sure = int(x.moved * self.sure_share)
        unsure = bound - sure if self.doubt_said else 0
        goes_on = self.keep_going and not stopped and bound < r.order.volume_nl and self.now < r.end
        self.bounds.append((self.now, oid, bound, x.moved, unsure))
        report = c.DriveReport(S, oid, before + bound, not goes_on, unsure_nl=unsure)
        self._accepted(report, step(self.device, report, self.now, self.library))
        if goes_on:
            rest = DeliveryOrder(oid, r.order.kind, r.order.volume_nl - bound, r.end - self.now)
            self.offset[oid] = before + bound
            self.first.setdefault(oid, r)
            self.running[oid] = _Running(rest, self.now, r.end, r.fluid)
        else:
            self.first.pop(oid, None)
            self.offset.pop(oid, None)
        if self.device.phase in TICKED:
            # the controller ticks in the step that reports (the ticks waited for the report)
            self._last_tick = self.now
            tick = c.Tick(S, self.max_segment_s)
            self._accepted(tick, step(self.device, tick, self.now, self.library))

    def _report(self, order_id: int, volume: int) -> None:
        self.first.pop(order_id, None)
        command = c.DriveReport(S, order_id, self.offset.pop(order_id, 0) + volume, True)
        self._accepted(command, step(self.device, command, self.now, self.library))

    def _effects(self, effects: Iterable[Effect]) -> None:
        effects = tuple(effects)
        stopped = set()
        for e in effects:
            if isinstance(e, CancelOrder) and e.order_id in self.lost:
                if self.cut_report_after_s:
                    x = self.lost[e.order_id]
                    x.report_at = min(x.report_at, self.now + self.cut_report_after_s)
                    x.cut, x.cut_at = True, self.now
                    continue
                stopped.add(e.order_id)
            elif isinstance(e, StopDelivery):
                stopped.update(self.lost)
        super()._effects(effects)
        for oid in sorted(stopped):
            if oid in self.lost:
                self._report_lost(oid, stopped=True)
