"""A program accepted at entry is delivered in full at the catheter tip around boluses (every
allowed patient bolus taken at the end of each lockout; clinician boluses every half hour), or
the shortfall is announced with the delivery-limited alarm (REQ-TIP-004, REQ-GOV-008), judged by
the minimal first-in-first-out reference (tests/fifo_window_reference.py) from the drive's record
alone.

Morphine on a Prometra II with the Prometra catheter trimmed 20 cm, one concentration in the
path throughout (the reservoir is never refilled), a drive that moves every order evenly and in
full (it stops a cancelled order on a whole nanolitre, as it reports). A day after dosing starts
the patient takes all six 1 mg boluses (5 min each) one lockout apart, or a clinician gives 46
boluses of 100 ug half an hour apart. The 24 h window that holds them all must hold the basal plus
the boluses, less at most one rounding unit (1 nL at the concentration); the same window a day
earlier (no bolus) holds the basal exactly (control).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from fifo_window_reference import _cum, moved_by, tip, windows
from itdose_physics import DAY_S, HOUR_S, MG, Bench, implanted_and_dosing

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import Annunciate, BolusDecision
from itdose.core.program import Basal, PatientBolusProgram, Program

P = Role.PATIENT


def _windows(
    conc: int, basal: int, lockout_s: int, library: Library
) -> tuple[Fraction, Fraction, bool, Fraction]:
    """(the window that holds the six boluses, the same window a day earlier, whether the
    delivery-limited alarm was raised, the largest window of the run)."""
    bolus = PatientBolusProgram(dose_ng=MG, duration_s=300, lockout_s=lockout_s, max_per_24h=6)
    program = Program("morphine", "pain", conc, Basal.continuous(basal), bolus, "opioid-tolerant")
    b = Bench(library)
    t0 = implanted_and_dosing(b, program) + DAY_S + 1234
    limited = False
    for k in range(6):
        out = b.submit(c.RequestBolus(P), t0 + k * lockout_s)
        assert [e.granted for e in out.effects if isinstance(e, BolusDecision)] == [True]
        limited |= any(
            isinstance(e, Annunciate) and e.kind is AlarmKind.DELIVERY_LIMITED for e in out.effects
        )
    b.advance(t0 + 2 * DAY_S)
    assert not b.anomalies and b.dead_volume_nl is not None
    limited |= any(AlarmKind.DELIVERY_LIMITED.value in alarms for *_, alarms in b.phases)
    pieces = tip(b.dead_volume_nl, moved_by(b.pushes))
    end = Fraction(t0 - 600 + DAY_S)  # (t0 - 600, t0 - 600 + 24 h]: all six boluses inside
    mine = [p for p in pieces if p.drug == "morphine"]

    def window(t: Fraction) -> Fraction:
        return _cum(mine, t, False) - _cum(mine, t - DAY_S, False)

    most, _ = windows(pieces, "morphine")
    assert most is not None
    return window(end), window(end - DAY_S), limited, most[0]


@pytest.mark.parametrize(
    ("conc", "basal", "lockout_s"),
    [
        pytest.param(10 * MG, 5 * MG, 1800, id="10-mg-per-ml-5-mg-per-day"),
        pytest.param(10 * MG, 14 * MG, 1800, id="10-mg-per-ml-at-the-hard-maximum"),
        pytest.param(25 * MG, 14 * MG, HOUR_S, id="25-mg-per-ml-at-the-hard-maximum"),
    ],
)
def test_six_boluses_a_day_leave_the_basal_in_full_or_announced(
    conc: int, basal: int, lockout_s: int, library: Library
):
    """REQ-TIP-004, REQ-GOV-008, REQ-GOV-002: basal + six granted boluses within one unit in the
    window that holds them all, unless the delivery-limited alarm was raised; no window above
    the hard maximum."""
    with_boluses, control, limited, most = _windows(conc, basal, lockout_s, library)
    assert control == basal  # the reference run is exact without boluses
    unit = Fraction(conc, 10**6)
    due = basal + 6 * MG
    assert with_boluses <= due
    assert limited or due - with_boluses <= unit, float(due - with_boluses)
    assert most <= 20 * MG, float(most - 20 * MG)


@pytest.mark.parametrize(
    ("conc", "every_s", "duration_s"),
    [
        pytest.param(10 * MG, 1800, 60, id="10-mg-per-ml-every-30-min"),
        pytest.param(25 * MG, 1801, 600, id="25-mg-per-ml-every-30-min"),
    ],
)
def test_clinician_boluses_every_half_hour_leave_the_basal_in_full_or_announced(
    conc: int, every_s: int, duration_s: int, library: Library
):
    """REQ-TIP-004, REQ-GOV-008, REQ-GOV-002: basal (5 mg/day) + 46 granted 100 ug clinician
    boluses within one unit in the window that holds them all, unless the delivery-limited alarm
    was raised; no window above the hard maximum."""
    basal, dose = 5 * MG, 100_000
    program = Program("morphine", "pain", conc, Basal.continuous(basal), None, "opioid-tolerant")
    b = Bench(library)
    t0 = implanted_and_dosing(b, program) + DAY_S + 1234
    limited = False
    for k in range(46):
        out = b.submit(c.ClinicianBolus(Role.CLINICIAN, dose, duration_s), t0 + k * every_s)
        limited |= any(
            isinstance(e, Annunciate) and e.kind is AlarmKind.DELIVERY_LIMITED for e in out.effects
        )
    b.advance(t0 + 2 * DAY_S)
    assert not b.anomalies and b.dead_volume_nl is not None
    limited |= any(AlarmKind.DELIVERY_LIMITED.value in alarms for *_, alarms in b.phases)
    mine = [p for p in tip(b.dead_volume_nl, moved_by(b.pushes)) if p.drug == "morphine"]
    end = Fraction(t0 - 600 + DAY_S)
    window, control = (
        _cum(mine, t, False) - _cum(mine, t - DAY_S, False) for t in (end, end - DAY_S)
    )
    assert control == basal
    due = basal + 46 * dose
    assert window <= due
    assert limited or due - window <= Fraction(conc, 10**6), float(due - window)
    most, _ = windows([*mine], "morphine")
    assert most is not None and most[0] <= 20 * MG, most
