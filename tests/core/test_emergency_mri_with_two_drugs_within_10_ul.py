"""An emergency MRI while two drugs are within 10 uL of each other in the fluid path (a drug
change under way) cutting the order that pushes the old drug's last fluid out: each drug's
ledger counts at least what leaves the tip at the scan, and never less than what leaves
afterwards, whatever the scan moved (0, 5 or 10 uL) (REQ-MRI-006,
REQ-GOV-005), judged by the minimal first-in-first-out reference (tests/fifo_window_reference.py)
from the drive's record alone.

Morphine 19 mg/day at 25 mg/mL on a Prometra II with the Prometra catheter trimmed 20 cm (dead
volume 0.234 mL). Morphine -> hydromorphone: refilled after a day with hydromorphone 2 mg/mL at
10 mg/day; 7 h later the core orders the last 12 334 nL of morphine as its own order (1 403 s),
and the scan cuts it. Hydromorphone -> morphine: refilled with hydromorphone after a day and
with morphine again a day later; an hour later the last 25 667 nL of hydromorphone are one order
(444 s), and the scan cuts it.

The path holds one drug at each place: where both are within reach it holds the newer one, and
a shadow (``Device.shadows``) holds the old one there at its richest, so each is counted in its
own ledger whenever it leaves the tip. Before the shadow, a scan that moved less than 10 uL let up
to 10 uL of the old drug leave later than the path said, recorded as the new drug: morphine ->
hydromorphone, the scan 700 s into the order of the last 12 334 nL of morphine and moving nothing,
left 154 525 ng of morphine uncounted in the windows that end 24 h after the scan or later.
Measured now: no window of either drug short in any case below; the most a window counts above
what left is 500 027 ng of morphine (hydromorphone -> morphine, a scan moving nothing: the 10 uL
instant and the new morphine held 10 uL nearer the tip, each 250 000 ng) and 40 000 ng of
hydromorphone, within twice 10 uL of the richest fluid (and a nanolitre per fluid boundary).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from fifo_window_reference import moved_by, tip
from itdose_physics import DAY_S, HOUR_S, MG, Bench, implanted_and_dosing, refill
from ledger_windows_kit import AfterScan, judged_after_scan
from whole_nl_drive import largest_window

from itdose.core import Library, Role, dosing
from itdose.core import commands as c
from itdose.core.program import Basal, Program
from itdose.core.state import Shadow

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


def _over_bound_ng(drug: str) -> int:
    """Twice 10 uL of the drug's richest fluid here (the scan's instant and the path or shadow
    held up to 10 uL nearer the tip) and two nanolitres of it (the R-TIP-5 lag terms)."""
    conc_ng_per_nl = {"morphine": 25, "hydromorphone": 2}[drug]
    return (2 * 10_000 + 2) * conc_ng_per_nl


def _judged(b: Bench, at: int) -> AfterScan:
    caps = {"morphine": 20 * MG, "hydromorphone": b.hard_max_ng("hydromorphone")}
    return judged_after_scan(b, at, caps)


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
def test_each_drug_counts_what_leaves_at_the_scan_and_never_less_after_it(
    library: Library, change: str, cut_s: int, scan_nl: int
):
    """REQ-MRI-006, REQ-GOV-005, REQ-GOV-002: at the scan each drug's instant is at least what
    left of it; afterwards neither drug's window is ever less than what left of it, nor more
    than twice 10 uL of its richest fluid above it, and no window of either drug exceeds its
    hard maximum."""
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
    judged = _judged(b, at)
    assert judged.short == {"morphine": [], "hydromorphone": []}, judged.short
    for drug in DRUGS:
        assert judged.over_ng[drug] <= _over_bound_ng(drug), (drug, float(judged.over_ng[drug]))


def test_the_old_drug_is_counted_when_the_scan_moved_less_than_10_ul(library: Library):
    """REQ-GOV-005, REQ-MRI-006: morphine -> hydromorphone, the scan 700 s into the order of the
    last 12 334 nL of morphine, and the valve moved nothing: the path holds hydromorphone from
    the tip on and a shadow the 6 181 nL of morphine that may still be there, so morphine's
    window is never less than the morphine that left in it (154 525 ng of it uncounted a day
    later before the shadow)."""
    b, at = _scan(library, "morphine -> hydromorphone", 700, 0)
    assert b.device.path is not None
    assert {s.drug for s in b.device.path.segments} == {"hydromorphone"}
    assert b.device.shadows == (Shadow(0, 6_181, "morphine", 25 * MG),)
    judged = _judged(b, at)
    assert judged.short["morphine"] == []
    # the shadow's morphine counted as it leaves: 10 uL in all, 6 181 nL of it real
    assert 250_000 - 154_525 <= judged.over_ng["morphine"] <= _over_bound_ng("morphine")
    # no window at any whole second over the maximum by the whole-nanolitre drive's reference
    assert b.dead_volume_nl is not None
    most, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (at, at + DAY_S + 2400))
    assert most <= 20 * MG, float(most)


def test_a_second_scan_before_the_shadow_left_counts_it_again(library: Library):
    """REQ-GOV-005, REQ-MRI-006: morphine -> hydromorphone, the scan above moving nothing, and a
    second emergency scan right after the valve reset, before any delivery pushed the shadow of
    morphine out (moving nothing again): the second scan counts the shadow's morphine in its
    instant, widens the shadow by its own reach, and afterwards neither drug's window is ever
    short of what left."""
    b, at = _scan(library, "morphine -> hydromorphone", 700, 0)
    (first,) = b.device.shadows
    b.submit(c.EndMri(C), at + 600)
    b.submit(c.ConfirmPostMri(C, "valve reset recorded"), at + 660)
    assert b.device.shadows == (first,) and not b.running
    again = at + 700
    b.submit(c.BeginMri(C, emergency=True, reason="second trauma scan"), again)
    instant = sum(
        p.amount_fg
        for p in dosing.ledger_of(b.device, "morphine").pieces
        if p.instant and p.end_s == again
    )
    assert instant == 10_000 * 25 * MG  # the shadow's morphine, 10 uL at its richest
    (second,) = b.device.shadows
    assert second.drug == "morphine" and second.volume_nl == first.volume_nl  # from the tip
    judged = _judged(b, again)
    assert judged.short == {"morphine": [], "hydromorphone": []}, judged.short
