"""A patient's bolus request after a drive report the core did not expect is answered with a
decision, never an internal error (REQ-GOV-008).

Two reports that are legal input but leave an order in an unusual state:
- a report of a basal order that a bolus cut, arriving after the cut and not final (the
  controller polled the drive after the cancel): the order's last report is then later than its
  cut, and nothing of it can still come;
- a report of more than the order's volume (a drive deviation: the HIGH alarm), not final.

Before the fix the bolus planner built a ledger piece from the order's last report to its cut
(ending before it started) or from a negative rest, and the request raised ``InvalidInput``
("end_s: before the start", "amount_fg: must not be negative") instead of a denial: found by
the two-engine property test (tests/properties/test_two_engines.py).
"""

from __future__ import annotations

from itdose_testkit import P, S, reach

from itdose.core import Library, Phase, step
from itdose.core import commands as c
from itdose.core.effects import BolusDecision
from itdose.core.governor import Reason


def _decision(effects: tuple[object, ...]) -> BolusDecision:
    (decision,) = [e for e in effects if isinstance(e, BolusDecision)]
    return decision


def test_a_request_in_the_lockout_after_a_late_report_of_the_cut_order(library: Library) -> None:
    d = reach(Phase.ACTIVE, library)
    t = d.clock_s
    assert t is not None
    d = step(d, c.Tick(S), t, library).device
    (basal,) = d.orders
    d = step(
        d, c.DriveReport(S, order_id=basal.id, delivered_nl=10, final=False), t + 600, library
    ).device
    out = step(d, c.RequestBolus(P), t + 1200, library)
    assert _decision(out.effects).granted
    d = out.device
    (cut,) = [o for o in d.orders if o.id == basal.id]
    assert cut.cut_s == t + 1200
    # the cut order's count one second after the cut, not final: within its pace by the cut
    d = step(
        d, c.DriveReport(S, order_id=basal.id, delivered_nl=20, final=False), t + 1201, library
    ).device
    (cut,) = [o for o in d.orders if o.id == basal.id]
    assert cut.reported_s > cut.cut_s
    assert d.phase is Phase.ACTIVE

    out = step(d, c.RequestBolus(P), t + 1202, library)

    decision = _decision(out.effects)
    assert not decision.granted
    assert Reason.LOCKOUT in decision.reasons
    assert decision.lockout_remaining_s == 3600 - 2
    assert out.device.phase is Phase.ACTIVE
    assert out.device.orders == d.orders


def test_a_request_after_a_report_beyond_the_order(library: Library) -> None:
    d = reach(Phase.ACTIVE, library)
    t = d.clock_s
    assert t is not None
    d = step(d, c.Tick(S), t, library).device
    (basal,) = d.orders
    over = basal.volume_nl + 100_000
    d = step(
        d, c.DriveReport(S, order_id=basal.id, delivered_nl=over, final=False), t + 60, library
    ).device
    assert d.phase is Phase.ALARM

    out = step(d, c.RequestBolus(P), t + 120, library)

    decision = _decision(out.effects)
    assert not decision.granted
    assert decision.reasons
    assert out.device.orders == d.orders
    assert out.device.ledger == d.ledger
