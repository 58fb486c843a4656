"""A program whose worst case (basal plus every bolus a day allows) is the hard maximum exactly:
the sixth bolus, which brings the window to the maximum exactly, is granted (R-TIP-4,
REQ-TIP-004), and no window exceeds the maximum (judged by the first-in-first-out reference,
tests/fifo_window_reference.py, from the drive's record alone).

Morphine 20 mg/mL (20 ng a nanolitre) on a Prometra II with the Prometra catheter trimmed 20 cm,
17,774,000 ng/day of basal and six patient boluses of 371,000 ng (18,550 nL) over 60 s with a
one-hour lockout: 17,774,000 + 6 x 371,000 = 20,000,000 ng.
"""

from __future__ import annotations

import pytest
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import DAY_S, HOUR_S, MG, Bench, implanted_and_dosing

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision
from itdose.core.program import Basal, PatientBolusProgram, Program

DOSE = 371_000
PROGRAM = Program(
    "morphine",
    "pain",
    20 * MG,
    Basal.continuous(20 * MG - 6 * DOSE),
    PatientBolusProgram(dose_ng=DOSE, duration_s=60, lockout_s=HOUR_S, max_per_24h=6),
    "opioid-tolerant",
)


@pytest.mark.xfail(
    strict=True,
    reason="at 20 mg/mL the sixth of six boluses an hour and a second apart is denied for the "
    "daily cap although it brings the window to the hard maximum exactly",
)
def test_six_boluses_an_hour_and_a_second_apart_are_all_granted(library: Library) -> None:
    """R-TIP-4, REQ-TIP-004: measured, the sixth bolus is denied (reason daily_cap); the largest
    window at the tip is then 370,982 ng (one bolus) below the maximum. Also denied: a basal 1 ng
    lower, and irregular gaps from 3601 s to 11,663 s. Granted in full (largest window under 7 ng
    below the maximum): the boluses exactly 3600 s apart (basal 1 ng lower), the irregular gaps
    at 25 or 10 mg/mL, or 1 mg boluses on 14 mg/day. New with the basal made up around boluses:
    the core before it (8eff693) grants all six here. Suspected mechanism: the ledger counts the
    window the sixth bolus brings to the maximum between one and two nanolitres above it (the
    cancelled orders counted to their pace rounded up, and the makeup of the basal they owed
    inside the earlier boluses), more than the one nanolitre a bolus may hold back: with
    bolus.HOLD_NL at 2 (an experiment, not a fix) all six are granted and the largest window is
    2.3 ng below the maximum."""
    b = Bench(library, mode="pace")
    implanted_and_dosing(b, PROGRAM)
    t = b.now + DAY_S + 1420
    decisions = []
    for _ in range(6):
        out = b.submit(c.RequestBolus(Role.PATIENT), t)
        decisions.extend(e for e in out.effects if isinstance(e, BolusDecision))
        t += HOUR_S + 1
    b.advance(t + 2 * DAY_S)
    assert not b.anomalies and b.dead_volume_nl is not None
    largest, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine")
    assert largest is not None and largest[0] <= 20 * MG  # never over: this holds
    assert [d.granted for d in decisions] == [True] * 6, decisions
