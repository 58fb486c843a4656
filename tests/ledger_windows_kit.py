"""The core's ledger judged by the minimal first-in-first-out reference
(tests/fifo_window_reference.py) along a bench run: at each sample, each drug's ledger window
``(t - 86400, t]`` against what left the tip in it by the drive's record of what it had reported
by then (an order still running is counted by the governor as in flight, not by the ledger)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction

from fifo_window_reference import Left, moved_by, tip, window_at
from itdose_physics import Bench

from itdose.core import Phase, Role, dosing
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind


def ledger_shortfalls(
    b: Bench, until: int, drugs: Sequence[str], extra: Iterable[int] = ()
) -> dict[str, list[tuple[int, Fraction]]]:
    """Run ``b`` to ``until``, sampling at every order's end, every 15 min while no order runs
    and at each instant of ``extra``; for each drug, the samples (time, ng) where the ledger's
    window is less than what left the tip in it."""
    samples: list[tuple[int, int | None, dict[str, Fraction]]] = []
    more = sorted(extra)
    while b.now < until:
        ends = [r.end for r in b.running.values() if r.end > b.now]
        idle = [] if ends else [b.now + 900]
        b.advance(min([*ends, *(t for t in more if t > b.now), *idle, until]))
        counted = {
            drug: Fraction(dosing.ledger_of(b.device, drug).window_total_fg(b.now), 10**6)
            for drug in drugs
        }
        # an order running since before now has moved fluid the reference must not count yet
        running = any(r.start < b.now for r in b.running.values())
        samples.append((b.now, len(b.pushes) if running else None, counted))
    assert b.dead_volume_nl is not None
    short: dict[str, list[tuple[int, Fraction]]] = {drug: [] for drug in drugs}
    reported: dict[int | None, list[Left]] = {None: tip(b.dead_volume_nl, moved_by(b.pushes))}
    for t, n, counted in samples:
        if n not in reported:
            reported[n] = tip(b.dead_volume_nl, moved_by(b.pushes[:n]))
        for drug in drugs:
            gap = window_at(reported[n], drug, Fraction(t)) - counted[drug]
            if gap > 0:
                short[drug].append((t, gap))
    return short


def reset_valve_and_resume(b: Bench, at: int, after_s: int = 600) -> None:
    """After an emergency scan at ``at``: the scan ends ``after_s`` later, the valve reset is
    recorded a minute after that, a HIGH delivery-deviation alarm (a drive that moved more than
    its pace by the scan) is cleared, and dosing resumes unless another HIGH alarm holds it (the
    shared post-scan steps of the emergency MRI tests)."""
    end = at + after_s
    b.submit(c.EndMri(Role.CLINICIAN), end)
    b.submit(c.ConfirmPostMri(Role.CLINICIAN, "valve reset recorded"), end + 60)
    if b.device.has_alarm(AlarmKind.DELIVERY_DEVIATION):
        b.submit(
            c.ClearAlarm(Role.CLINICIAN, AlarmKind.DELIVERY_DEVIATION, "drive checked"), end + 65
        )
    if b.device.phase is Phase.SUSPENDED:  # any other HIGH alarm keeps it stopped
        b.submit(c.Resume(Role.CLINICIAN, "valve reset"), end + 70)
