"""The bench of the tests of a basal order a bolus cuts and whose final report reaches the core
late (R-TIP-3): the drive stops the order at the cut (its push is recorded there), the controller
reports it ``delay_s`` later and ticks at once; and the program those tests run at the 20 mg
hard maximum exactly (morphine, 14 mg/day, six 1 mg patient boluses over 300 s an hour apart)."""

from __future__ import annotations

from itdose_physics import HOUR_S, MG, TICKED, Bench, S

from itdose.core import commands as c
from itdose.core.program import Basal, PatientBolusProgram, Program


class LateCutReports(Bench):
    """A bench whose controller reports a basal order cut before its end ``delay_s`` after the
    cut (the drive itself stopped at the cut and its push is recorded there), then ticks at once;
    every other report is immediate."""

    delay_s: int = 0
    pending: list[tuple[int, int, int]]

    def _report(self, order_id: int, volume: int) -> None:
        order = next((o for o in self.device.orders if o.id == order_id), None)
        late = order is not None and order.kind.value == "basal" and self.now < order.end_s
        if self.delay_s and late:
            self.pending.append((self.now + self.delay_s, order_id, volume))
            return
        super()._report(order_id, volume)

    def advance(self, to: int) -> None:
        for due in sorted({p[0] for p in self.pending if self.now < p[0] < to}):
            super().advance(due)
        super().advance(to)

    def _events(self) -> None:
        for oid in sorted(self.running, key=lambda i: (self.running[i].end, i)):
            if oid in self.running and self.running[oid].end <= self.now:
                Bench._report(self, oid, self._finish(oid, self.now))
        for due in [p for p in self.pending if p[0] <= self.now]:
            self.pending.remove(due)
            Bench._report(self, due[1], due[2])
            self._last_tick = -1  # the controller ticks at once after the report
        if self.device.phase in TICKED and self._last_tick != self.now:
            self._last_tick = self.now
            self.submit(c.Tick(S, self.max_segment_s))


def late_program(conc: int) -> Program:
    bolus = PatientBolusProgram(dose_ng=MG, duration_s=300, lockout_s=HOUR_S, max_per_24h=6)
    return Program("morphine", "pain", conc, Basal.continuous(14 * MG), bolus, "opioid-tolerant")
