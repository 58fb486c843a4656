"""A refill to a richer fluid between boluses whose worst case is the hard maximum exactly: every
bolus, the sixth (which brings the window to the maximum exactly) included, is granted (R-TIP-4,
REQ-TIP-004), and no window exceeds the maximum (judged by the whole-nanolitre brute force,
tests/whole_nl_drive.py, from the drive's record alone).

Morphine on a Prometra II with the Prometra catheter trimmed 20 cm, 14 mg/day and six 1 mg
boluses over 300 s an hour apart (14 + 6 x 1 = 20 mg); the reservoir refilled from 20 to
25 mg/mL, same program, the moment the third bolus ends.
"""

from __future__ import annotations

from fractions import Fraction

from itdose_physics import DAY_S, HOUR_S, MG, Bench, implanted_and_dosing, refill
from whole_nl_drive import largest_window

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision
from itdose.core.program import Basal, PatientBolusProgram, Program

BOLUS = PatientBolusProgram(dose_ng=MG, duration_s=300, lockout_s=HOUR_S, max_per_24h=6)


def _program(conc: int) -> Program:
    return Program("morphine", "pain", conc, Basal.continuous(14 * MG), BOLUS, "opioid-tolerant")


def test_a_refill_from_20_to_25_mg_per_ml_as_a_bolus_ends_leaves_every_bolus_granted(
    library: Library,
) -> None:
    """R-TIP-4, REQ-TIP-004: measured, the sixth bolus is denied for the daily cap; the largest
    window on whole-nanolitre steps is then 999,985 ng below the maximum (one bolus less 15 ng).
    The same with the refill 301 s after the third bolus: denied too. Granted in full: the
    refill 900 s after it, or from 10 to 25 mg/mL 300 s after it (largest window 25 ng below).
    Not new: the core before the basal made up around boluses (8eff693) denies it as well (its
    largest window 1,000,065 ng below). Suspected mechanism (not traced): after the rise the
    ledger counts the window more than the one nanolitre a bolus may hold back above what can
    leave (R-TIP-5's lag term of the leaner fluid's end, the cancelled orders counted to their
    pace rounded up)."""
    b = Bench(library, mode="pace")
    t0 = implanted_and_dosing(b, _program(20 * MG))
    t = t0 + DAY_S + 1234
    grants = []
    for k in range(6):
        out = b.submit(c.RequestBolus(Role.PATIENT), t)
        grants.extend(e.granted for e in out.effects if isinstance(e, BolusDecision))
        if k == 2:
            refill(b, t + 300, 25 * MG, program=_program(25 * MG))
        t += HOUR_S
    assert _largest_window_two_days_on(b, t0, t) <= 20 * MG  # never over: this holds
    assert grants == [True] * 6, grants


def _largest_window_two_days_on(b: Bench, t0: int, t: int) -> Fraction:
    """The largest window from ``t0`` on (whole-nanolitre brute force from the drive's record),
    after running the bench two days past ``t``."""
    b.advance(t + 2 * DAY_S)
    assert not b.anomalies and b.dead_volume_nl is not None
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    return brute


def test_a_refill_from_10_to_25_mg_per_ml_whose_rise_the_first_bolus_pushes_out(
    library: Library,
) -> None:
    """R-TIP-4, REQ-TIP-004: the rise of concentration leaves the tip inside the first of six
    boluses at the hard maximum exactly; every bolus is granted and no window exceeds the
    maximum (judged by the whole-nanolitre brute force from the drive's record).

    Refilled 10 -> 25 mg/mL with the Prometra catheter trimmed 68.3 cm (108,420 nL): the first
    bolus (1,185 s after the refill, the path 89,219 nL of 10 mg/mL ahead of 19,201 nL of
    25 mg/mL) pushes the rise out of the tip, and its report holds both fluids. Recorded as one
    piece at 25 mg/mL's pace for its whole amount, a window starting inside it counted the
    10 mg/mL leaving at the richer rate (27,304 ng over the maximum in the sixth bolus's count):
    the sixth, 20,940 s after the refill, was denied for the daily cap though the largest window
    was then 1,000,010 ng under the maximum (found by a random attack, seed 15). Recorded as
    layers (the 10 mg/mL under the whole report, the 15 mg/mL more of the richer fluid from its
    edge), the count is exact: granted."""
    b = Bench(library, mode="pace")
    t0 = implanted_and_dosing(b, _program(10 * MG), trimmed_mm=683)
    t_refill = t0 + DAY_S + 3014
    refill(b, t_refill, 25 * MG, program=_program(25 * MG))
    t = t_refill + 1185
    grants = []
    for gap in (3600, 3600, 3600, 5355, 3600, 4292):
        out = b.submit(c.RequestBolus(Role.PATIENT), t)
        grants.extend(e.granted for e in out.effects if isinstance(e, BolusDecision))
        t += gap
    assert _largest_window_two_days_on(b, t0, t) <= 20 * MG  # never over: this holds
    assert grants == [True] * 6, grants
