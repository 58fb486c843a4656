"""An emergency MRI while a short stretch of one drug lies between two fluids of another in the
fluid path (morphine -> hydromorphone -> morphine, the second refill soon after the first): the
hydromorphone ledger never counts less than the hydromorphone that leaves the tip after the scan
(REQ-MRI-006, REQ-GOV-005), judged by the minimal first-in-first-out reference
(tests/fifo_window_reference.py) from the drive's record alone.

After the scan each position of the path holds the richest fluid within 10 uL of it, and where
two drugs are within reach, the one furthest from the tip (``_richest_ahead``). With morphine on
both sides of the hydromorphone, that is morphine wherever the newer morphine is within reach:
the path alone showed the hydromorphone 10 uL nearer the tip (its tail recorded as morphine when
it left) or, at the tip, erased it. A scan that moved less than the labelled 10 uL (0 here) left
the hydromorphone where it was, so it left the tip later than the path said and the windows that
end a day after the scan missed it. Now a shadow (``Device.shadows``) holds the hydromorphone at
every place it can be, counted in its ledger as that place leaves the tip.

Morphine 19 mg/day at 25 mg/mL on a Prometra II with the Prometra catheter trimmed 20 cm (dead
volume 0.234 mL); a day after dosing starts, refilled with hydromorphone 2 mg/mL (10 mg/day),
and ``gap_s`` later refilled with morphine again: the hydromorphone between them is ``hydro_nl``.
Measured (samples at every order end and every minute from 2 min before to 40 min after 24 h
after the scan), before the shadow and now:

- gap 60 s, 527 nL of hydromorphone 11 807 nL from the tip at the scan: 19 samples of the
  hydromorphone window short, by up to 1 054 ng (all of it: 527 nL x 2 mg/mL); now none, and
  no window counts more than 20 002 ng of hydromorphone above what left (10 uL of it);
- gap 90 s, 791 nL of hydromorphone at the tip at the scan (the path erased it): 11 samples
  short, by up to 678 ng; now none, at most 20 002 ng above.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from itdose_physics import DAY_S, MG, Bench, implanted_and_dosing, refill
from ledger_windows_kit import judged_after_scan

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.program import Basal, Program

C = Role.CLINICIAN
DRUGS = ("morphine", "hydromorphone")
MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(19 * MG), None, "opioid-tolerant")
HYDROMORPHONE = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(10 * MG), None, None)


def _hydromorphone_from_tip(b: Bench) -> int | None:
    """How far the first hydromorphone of the core's path is from the tip (nL), if any."""
    assert b.device.path is not None
    pos = 0
    for seg in b.device.path.segments:
        if seg.drug == "hydromorphone":
            return pos
        pos += seg.volume_nl
    return None


def _sandwich(library: Library, gap_s: int, within_nl: int) -> tuple[Bench, int, int]:
    """The bench after a scan moving nothing, once the hydromorphone is within ``within_nl`` of
    the tip (checked every minute); the scan's instant and the hydromorphone's volume."""
    b = Bench(library, mri_nl=Fraction(0))
    t0 = implanted_and_dosing(b, MORPHINE)
    t = t0 + DAY_S
    refill(b, t, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
    refill(b, t + gap_s, 25 * MG, program=MORPHINE, drug="morphine")
    assert b.device.path is not None
    (hydro_nl,) = [s.volume_nl for s in b.device.path.segments if s.drug == "hydromorphone"]
    assert 0 < hydro_nl < 10_000  # the stretch is shorter than the scan's reach
    while (far := _hydromorphone_from_tip(b)) is not None and far > within_nl:
        b.advance(b.now + 60)
    at = b.now + 1
    b.submit(c.BeginMri(C, emergency=True, reason="trauma: no time to empty"), at)
    return b, at, hydro_nl


@pytest.mark.parametrize(("gap_s", "within_nl", "hydro_nl"), [(60, 12_000, 527), (90, 8_000, 791)])
def test_the_drug_between_two_fluids_of_another_is_never_uncounted_after_the_scan(
    library: Library, gap_s: int, within_nl: int, hydro_nl: int
) -> None:
    """REQ-MRI-006, REQ-GOV-005: after the scan, whatever it moved (here nothing), the window of
    the drug between two fluids of another is never less than what left of it, nor more than
    10 uL of it (and a nanolitre per boundary) above; the path holds morphine where the
    hydromorphone can be, and a shadow the hydromorphone there."""
    b, at, found_nl = _sandwich(library, gap_s, within_nl)
    assert found_nl == hydro_nl
    assert any(s.drug == "hydromorphone" for s in b.device.shadows)
    caps = {"morphine": 20 * MG, "hydromorphone": b.hard_max_ng("hydromorphone")}
    judged = judged_after_scan(b, at, caps)
    assert judged.short == {"morphine": [], "hydromorphone": []}, judged.short
    assert judged.over_ng["hydromorphone"] <= (10_000 + 2) * 2, float(
        judged.over_ng["hydromorphone"]
    )
