"""A program whose worst case (basal plus every bolus a day allows) is the hard maximum exactly:
the sixth bolus, which brings the window to the maximum exactly, is granted (R-TIP-4,
REQ-TIP-004), and no window exceeds the maximum (judged by the first-in-first-out reference,
tests/fifo_window_reference.py, from the drive's record alone).

Morphine on a Prometra II with the Prometra catheter trimmed 20 cm, two programs found by a
random search (the window judged at whole-nanolitre doses, every bolus from the end of its
lockout on): 20 mg/mL, 17,774,000 ng/day and six 371,000 ng boluses (18,550 nL) over 60 s with a
one-hour lockout; 10 mg/mL, 17,408,000 ng/day and six 432,000 ng boluses over 3599 s with a
3599 s lockout. Each: basal + 6 x dose = 20,000,000 ng. That search (whole-nanolitre doses of
100 ug to 1 mg at 10, 20 or 25 mg/mL, 1 s to 3599 s long, lockouts to 1 h, gaps from the end of
the lockout to 3 h more, hourly to daily basal segments, paced or even drives, progress polls or
none) found the sixth bolus denied in 5 of 120 programs, never a window over the maximum; the
core before the basal made up around boluses (8eff693) granted all six in each of the 4 checked
(then 29 ng to 140 ng short, the shortfall that change removed).
"""

from __future__ import annotations

import pytest
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import DAY_S, HOUR_S, MG, Bench, implanted_and_dosing

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision
from itdose.core.program import Basal, PatientBolusProgram, Program


def _program(conc: int, dose: int, duration_s: int, lockout_s: int) -> Program:
    bolus = PatientBolusProgram(
        dose_ng=dose, duration_s=duration_s, lockout_s=lockout_s, max_per_24h=6
    )
    return Program(
        "morphine", "pain", conc, Basal.continuous(20 * MG - 6 * dose), bolus, "opioid-tolerant"
    )


@pytest.mark.parametrize(
    ("conc", "dose", "duration_s", "lockout_s", "offset_s", "gaps_s"),
    [
        pytest.param(20 * MG, 371_000, 60, HOUR_S, 1420, (HOUR_S + 1,) * 5, id="20-mg-per-ml"),
        pytest.param(
            10 * MG, 432_000, 3599, 3599, 2302, (3600, 3599, 3600, 4692, 3600), id="10-mg-per-ml"
        ),
    ],
)
def test_six_boluses_at_the_hard_maximum_are_all_granted(
    library: Library,
    conc: int,
    dose: int,
    duration_s: int,
    lockout_s: int,
    offset_s: int,
    gaps_s: tuple[int, ...],
) -> None:
    """R-TIP-4, REQ-TIP-004: measured, the sixth bolus is denied (reason daily_cap) in both; the
    largest window at the tip is then one bolus below the maximum (370,982 ng; 431,992 ng). At
    20 mg/mL also denied: a basal 1 ng lower, and irregular gaps from 3601 s to 11,663 s; granted
    in full (largest window under 7 ng below the maximum): the boluses exactly 3600 s apart
    (basal 1 ng lower), the irregular gaps at 25 or 10 mg/mL, or 1 mg boluses on 14 mg/day. The
    10 mg/mL case is denied with hourly or 4 h basal segments, on a paced or an even drive. New
    with the basal made up around boluses: the core before it (8eff693) grants all six in both
    (largest window 25 ng below the maximum at 10 mg/mL). Suspected mechanism: the ledger counts
    the window the sixth bolus brings to the maximum between one and two nanolitres above it
    (the cancelled orders counted to their pace rounded up, and the makeup of the basal they
    owed inside the earlier boluses), more than the one nanolitre a bolus may hold back: with
    bolus.HOLD_NL at 2 (an experiment, not a fix) all six are granted at 20 mg/mL and the
    largest window is 2.3 ng below the maximum."""
    b = Bench(library, mode="pace")
    implanted_and_dosing(b, _program(conc, dose, duration_s, lockout_s))
    t = b.now + DAY_S + offset_s
    decisions = []
    for k in range(6):
        out = b.submit(c.RequestBolus(Role.PATIENT), t)
        decisions.extend(e for e in out.effects if isinstance(e, BolusDecision))
        t += gaps_s[k] if k < 5 else 0
    b.advance(t + 2 * DAY_S)
    assert not b.anomalies and b.dead_volume_nl is not None
    largest, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine")
    assert largest is not None and largest[0] <= 20 * MG  # never over: this holds
    assert [d.granted for d in decisions] == [True] * 6, decisions
