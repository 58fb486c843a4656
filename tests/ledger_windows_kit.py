"""The core's ledger judged by the minimal first-in-first-out reference
(tests/fifo_window_reference.py) along a bench run: at each sample, each drug's ledger window
``(t - 86400, t]`` against what left the tip in it by the drive's record of what it had reported
by then (an order still running is counted by the governor as in flight, not by the ledger)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from fifo_window_reference import DAY, Left, moved_by, tip, window_at, windows
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
    gaps = ledger_gaps(b, until, drugs, extra)
    return {drug: [(t, gap) for t, gap in v if gap > 0] for drug, v in gaps.items()}


def ledger_gaps(
    b: Bench, until: int, drugs: Sequence[str], extra: Iterable[int] = ()
) -> dict[str, list[tuple[int, Fraction]]]:
    """As :func:`ledger_shortfalls`, every sample: (time, what left the tip in the window less
    the ledger's window, ng; negative where the ledger counts more)."""
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
            short[drug].append((t, window_at(reported[n], drug, Fraction(t)) - counted[drug]))
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


@dataclass(frozen=True)
class AfterScan:
    """An emergency scan's next 30 h judged by the reference: for each drug the samples where
    the ledger's window is short, ``(seconds after the scan, ng)``, and the most it counts above
    what left (ng)."""

    short: dict[str, list[tuple[int, float]]]
    over_ng: dict[str, Fraction]


def judged_after_scan(b: Bench, at: int, caps: dict[str, int]) -> AfterScan:
    """After an emergency scan at ``at``: the valve reset and dosing resumed
    (:func:`reset_valve_and_resume`); for 30 h, at every order's end and every minute from 2 min
    before to 40 min after 24 h after the scan, each drug's ledger window judged by the
    reference; no window of a drug of ``caps`` (drug: hard maximum, ng) over its maximum."""
    reset_valve_and_resume(b, at)
    dense = range(at + DAY - 120, at + DAY + 2400, 60)
    gaps = ledger_gaps(b, at + 30 * 3600, tuple(caps), dense)
    assert b.dead_volume_nl is not None and not b.anomalies
    pieces = tip(b.dead_volume_nl, moved_by(b.pushes))
    for drug, cap in caps.items():
        largest, _ = windows(pieces, drug, lo=Fraction(at))
        assert largest is None or largest[0] <= cap, (drug, float(largest[0]))
    short = {d: [(t - at, float(g)) for t, g in v if g > 0] for d, v in gaps.items()}
    over = {d: max((-g for _, g in v), default=Fraction(0)) for d, v in gaps.items()}
    return AfterScan(short, over)
