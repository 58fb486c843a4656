"""An emergency MRI while two drugs are within 10 uL of each other in the fluid path (a drug
change under way) cutting the order that pushes the old drug's last fluid out: each drug's
ledger counts at least what leaves the tip at the scan, and the new drug's ledger never counts
less than what leaves afterwards, whatever the scan moved (0, 5 or 10 uL) (REQ-MRI-006,
REQ-GOV-005), judged by the minimal first-in-first-out reference (tests/fifo_window_reference.py)
from the drive's record alone.

Morphine 19 mg/day at 25 mg/mL on a Prometra II with the Prometra catheter trimmed 20 cm (dead
volume 0.234 mL). Morphine -> hydromorphone: refilled after a day with hydromorphone 2 mg/mL at
10 mg/day; 7 h later the core orders the last 12 334 nL of morphine as its own order (1 403 s),
and the scan cuts it. Hydromorphone -> morphine: refilled with hydromorphone after a day and
with morphine again a day later; an hour later the last 25 667 nL of hydromorphone are one order
(444 s), and the scan cuts it.

The path holds one drug at each place: where both are within reach it holds the newer one. If
the scan moved less than 10 uL, up to 10 uL of the old drug leave later than the path says and
are recorded as the new drug (counted in the old drug's window at the scan, not in the windows
that end 24 h after the scan or later): pinned below (SAFETY.md, known open defects).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import DAY_S, HOUR_S, MG, Bench, implanted_and_dosing, refill
from ledger_windows_kit import ledger_shortfalls

from itdose.core import Library, Phase, Role, dosing
from itdose.core import commands as c
from itdose.core.program import Basal, Program

C = Role.CLINICIAN
DRUGS = ("morphine", "hydromorphone")
MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(19 * MG), None, "opioid-tolerant")
HYDROMORPHONE = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(10 * MG), None, None)


def _scan(library: Library, change: str, cut_s: int, scan_nl: int) -> tuple[Bench, int]:
    """The bench after the scan ``cut_s`` into the order of the old drug's last fluid, the scan
    moving ``scan_nl``; and the scan's instant."""
    b = Bench(library, mri_nl=Fraction(scan_nl))
    t0 = implanted_and_dosing(b, MORPHINE)
    t = t0 + DAY_S
    if change == "morphine -> hydromorphone":
        refill(b, t, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
        b.advance(t + 7 * HOUR_S + 100)
        old = "morphine"
    else:
        refill(b, t, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
        refill(b, t + DAY_S, 25 * MG, program=MORPHINE, drug="morphine")
        b.advance(t + DAY_S + HOUR_S + 100)
        old = "hydromorphone"
    (running,) = b.running.values()
    path = b.device.path
    assert path is not None and path.segments[0].drug == old
    assert path.segments[0].volume_nl == running.order.volume_nl  # the old drug's last fluid
    assert running.end - running.start > cut_s
    at = running.start + cut_s
    b.submit(c.BeginMri(C, emergency=True, reason="trauma: no time to empty"), at)
    return b, at


def _after(b: Bench, at: int) -> dict[str, list[tuple[int, float]]]:
    """Valve reset and dosing resumed 11 min after the scan; for 30 h, at every order's end and
    every minute from 2 min before to 40 min after 24 h after the scan, the ledger's window of
    each drug, judged by the reference (tests/ledger_windows_kit.py): (seconds after
    the scan, ng uncounted) for each drug."""
    b.submit(c.EndMri(C), at + 600)
    b.submit(c.ConfirmPostMri(C, "valve reset recorded"), at + 660)
    if b.device.phase is Phase.SUSPENDED:
        b.submit(c.Resume(C, "valve reset"), at + 670)
    dense = range(at + DAY_S - 120, at + DAY_S + 2400, 60)
    found = ledger_shortfalls(b, at + 30 * HOUR_S, DRUGS, dense)
    assert b.dead_volume_nl is not None and not b.anomalies
    short = {drug: [(t - at, float(n)) for t, n in v] for drug, v in found.items()}
    pieces = tip(b.dead_volume_nl, moved_by(b.pushes))
    for drug, cap in (("morphine", 20 * MG), ("hydromorphone", b.hard_max_ng("hydromorphone"))):
        largest, _ = windows(pieces, drug, lo=Fraction(at))
        assert largest is None or largest[0] <= cap
    return short


CASES = [
    ("morphine -> hydromorphone", 700, 10_000),  # 6 200 nL of morphine ahead of the 10 uL
    ("morphine -> hydromorphone", 700, 5_000),
    ("morphine -> hydromorphone", 700, 0),
    ("morphine -> hydromorphone", 1402, 0),
    ("hydromorphone -> morphine", 300, 10_000),  # 8 300 nL of hydromorphone ahead
    ("hydromorphone -> morphine", 300, 5_000),
    ("hydromorphone -> morphine", 300, 0),
    ("hydromorphone -> morphine", 443, 0),
]


@pytest.mark.parametrize(("change", "cut_s", "scan_nl"), CASES)
def test_each_drug_counts_what_leaves_at_the_scan_and_the_new_drug_never_less_after_it(
    library: Library, change: str, cut_s: int, scan_nl: int
):
    """REQ-MRI-006, REQ-GOV-005, REQ-GOV-002: at the scan each drug's instant is at least what
    left of it; afterwards the new drug's window is never less than what left of it, and no
    window of either drug exceeds its hard maximum."""
    b, at = _scan(library, change, cut_s, scan_nl)
    pieces = tip(b.dead_volume_nl or 0, moved_by(b.pushes))
    for drug in DRUGS:
        counted_fg = sum(
            p.amount_fg
            for p in dosing.ledger_of(b.device, drug).pieces
            if p.instant and p.end_s == at
        )
        left = sum((p.ng for p in pieces if p.t0 == p.t1 == at and p.drug == drug), Fraction(0))
        assert Fraction(counted_fg, 10**6) >= left, (drug, counted_fg, float(left))
    new = b.device.drug
    assert new is not None and new != change.split()[0]
    assert _after(b, at)[new] == []


@pytest.mark.xfail(
    strict=True,
    reason=(
        "known open defect (SAFETY.md): the path holds the new drug where both are within reach "
        "of the scan; the scan moved nothing, so the 6 181 nL of morphine right behind what the "
        "cut order moved leave after the valve reset, recorded as hydromorphone: in the windows "
        "that end 24 h after the scan or later (no longer holding the scan's 250 000 ng) 154 525 "
        "ng of morphine are uncounted, the windows hold nothing else of it"
    ),
)
def test_the_old_drug_is_counted_when_the_scan_moved_less_than_10_ul(library: Library):
    """REQ-GOV-005, REQ-MRI-006: morphine -> hydromorphone, the scan 700 s into the order of the
    last 12 334 nL of morphine, and the valve moved nothing: morphine's window is never less
    than the morphine that left in it."""
    b, at = _scan(library, "morphine -> hydromorphone", 700, 0)
    assert _after(b, at)["morphine"] == []
