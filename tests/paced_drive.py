"""A test drive that delivers every order exactly at its pace and reports it in full at its end.

It drives the core through ``step`` only: at each instant it first reports every order that ends
then (final, the whole volume), then ticks (the controller's clock). It keeps its own record of
what it moved: each order's volume spread evenly over ``[start, end)``, which is what reaches the
patient when the fluid path holds one fluid (the tests using it keep the path homogeneous and
check that they do). Window amounts are integrated from that record in exact fractions,
independently of the core's ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from itdose.core import Device, Library, Role, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import Annunciate, CancelOrder, DeliveryOrder, Effect

DAY = 86_400


@dataclass
class Delivered:
    """One order as the drive delivered it: ``volume_nl`` evenly over ``[start_s, end_s)``."""

    order_id: int
    kind: str
    start_s: int
    end_s: int
    volume_nl: int


@dataclass
class PacedDrive:
    device: Device
    library: Library
    now: int
    pending: dict[int, Delivered] = field(default_factory=dict)
    delivered: list[Delivered] = field(default_factory=list)
    alarms: list[tuple[int, AlarmKind]] = field(default_factory=list)
    effects: list[tuple[int, Effect]] = field(default_factory=list)
    last_tick_s: int = -1
    max_segment_s: int = 3600

    def apply(self, command: c.Command, at: int) -> tuple[Effect, ...]:
        """Step the core and take over the orders it issues."""
        assert at >= self.now
        self.now = at
        out = step(self.device, command, at, self.library)
        self.device = out.device
        for e in out.effects:
            self.effects.append((at, e))
            if isinstance(e, CancelOrder) and e.order_id in self.pending:
                self._cancel(e.order_id, at)
            if isinstance(e, DeliveryOrder):
                self.pending[e.order_id] = Delivered(
                    e.order_id, e.kind, at, at + e.duration_s, e.volume_nl
                )
            if isinstance(e, Annunciate):
                self.alarms.append((at, e.kind))
        return out.effects

    def _cancel(self, order_id: int, at: int) -> None:
        """Stop an order now: what it moved at its pace so far (whole nL, rounded down) is
        reported, final, and kept as delivered over ``[start, at)``."""
        order = self.pending.pop(order_id)
        span = order.end_s - order.start_s
        moved = order.volume_nl * (at - order.start_s) // span if span else order.volume_nl
        done = Delivered(order.order_id, order.kind, order.start_s, at, moved)
        if moved and at > order.start_s:
            # evenly over [start, at) is at the order's pace only if moved is exact; keep the
            # record at the pace: the part moved ends where the pace puts it
            done = Delivered(
                order.order_id,
                order.kind,
                order.start_s,
                order.start_s + -(-moved * span // order.volume_nl),
                moved,
            )
        self.delivered.append(done)
        out = step(
            self.device, c.DriveReport(Role.SERVICE, order_id, moved, final=True), at, self.library
        )
        self.device = out.device
        for e in out.effects:
            self.effects.append((at, e))
            if isinstance(e, Annunciate):
                self.alarms.append((at, e.kind))

    def _report_due(self, at: int) -> None:
        for oid in sorted(o for o, d in self.pending.items() if d.end_s <= at):
            order = self.pending.pop(oid)
            self.apply(c.DriveReport(Role.SERVICE, oid, order.volume_nl, final=True), order.end_s)
            self.delivered.append(order)

    def run_until(self, until: int) -> None:
        """Report each order at its end and tick whenever the core's basal segment is over
        (once per instant), up to ``until``."""
        while True:
            candidates = [d.end_s for d in self.pending.values()]
            tick_at = max(self.now, self.device.basal_until_s)
            if tick_at > self.last_tick_s:
                candidates.append(tick_at)
            if not candidates or min(candidates) > until:
                break
            nxt = min(candidates)
            self._report_due(nxt)
            if self.device.basal_until_s <= nxt and nxt > self.last_tick_s:
                self.apply(c.Tick(Role.SERVICE, self.max_segment_s), nxt)
                self.last_tick_s = nxt
        self.now = max(self.now, until)

    def in_window_nl(self, t: Fraction) -> Fraction:
        """Volume the drive moved in ``(t - 86400, t]`` (orders still pending count as far as
        they went by ``t``)."""
        lo = t - DAY
        total = Fraction(0)
        for d in (*self.delivered, *self.pending.values()):
            if d.end_s <= d.start_s:
                continue
            rate = Fraction(d.volume_nl, d.end_s - d.start_s)
            total += rate * max(
                Fraction(0), min(Fraction(d.end_s), t) - max(Fraction(d.start_s), lo)
            )
        return total

    def window_ends(self) -> set[int]:
        """Every window end where the moved volume changes slope: the orders' starts and ends,
        and 24 h after them."""
        out: set[int] = set()
        for d in (*self.delivered, *self.pending.values()):
            out.update((d.start_s, d.end_s, d.start_s + DAY, d.end_s + DAY))
        return out
