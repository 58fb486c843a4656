"""Boluses whose dose is not a whole number of nanolitres at the concentration: every window that
holds them must receive the program's basal and doses less at most one rounding unit, or the
delivery-limited alarm must say it does not (R-TIP-4, REQ-TIP-004).

Judged by the first-in-first-out reference (tests/fifo_window_reference.py) from the drive's
record alone. Morphine 10 mg/mL (10 ng a nanolitre) on a Prometra II with the Prometra catheter
trimmed 20 cm; six patient boluses of 539,499 ng (53,949.9 nL) over 300 s, 30 min apart, on
16,763,006 ng/day of basal: a worst case of the 20 mg hard maximum exactly.
"""

from __future__ import annotations

from fractions import Fraction

from fifo_window_reference import _cum, moved_by, tip
from itdose_physics import DAY_S, MG, Bench, implanted_and_dosing

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import BolusDecision
from itdose.core.program import Basal, PatientBolusProgram, Program

CONC = 10 * MG
DOSE = 539_499
LOCKOUT_S = 1800
BASAL = 20 * MG - 6 * DOSE


def test_boluses_of_a_fraction_of_a_nanolitre_leave_the_window_short_by_one_unit_at_most(
    library: Library,
) -> None:
    """R-TIP-4, REQ-TIP-004: measured, all six granted and no window above the maximum, but the
    window that holds them carries 50 ng less than the basal and the doses (five rounding
    units of 10 ng; 20 ng with doses of 539,494 ng, 8 ng with the whole-nanolitre 539,490 ng),
    and the delivery-limited alarm is not raised. Suspected mechanism: each bolus order's volume
    is its dose rounded down to whole nanolitres (0.9 nL less here), and unlike the basal's
    fraction the remainder is not carried to any later order."""
    program = Program(
        "morphine",
        "pain",
        CONC,
        Basal.continuous(BASAL),
        PatientBolusProgram(dose_ng=DOSE, duration_s=300, lockout_s=LOCKOUT_S, max_per_24h=6),
        "opioid-tolerant",
    )
    b = Bench(library, mode="pace")
    implanted_and_dosing(b, program)
    first = t = b.now + DAY_S + 1234
    grants = []
    for _ in range(6):
        out = b.submit(c.RequestBolus(Role.PATIENT), t)
        grants.extend(e.granted for e in out.effects if isinstance(e, BolusDecision))
        t += LOCKOUT_S
    b.advance(t + 2 * DAY_S)
    assert grants == [True] * 6 and not b.anomalies and b.dead_volume_nl is not None
    mine = [p for p in tip(b.dead_volume_nl, moved_by(b.pushes)) if p.drug == "morphine"]
    end = Fraction(first - 600 + DAY_S)
    short = BASAL + 6 * DOSE - (_cum(mine, end, False) - _cum(mine, end - DAY_S, False))
    limited = AlarmKind.DELIVERY_LIMITED.value
    alarmed = any(limited in kinds for at, _, _, kinds in b.phases if at >= first)
    assert alarmed or short <= Fraction(CONC, 10**6), float(short)
