"""Programs whose worst case (basal plus every bolus a day allows) is the hard maximum exactly:
every bolus is granted (R-TIP-4), no window exceeds the maximum (REQ-GOV-004), and the window
that holds all six boluses receives the basal and the doses less at most one rounding unit, or
the delivery-limited alarm says it does not (REQ-TIP-004). Judged by the independent references
from the drive's record alone: the first-in-first-out tip (tests/fifo_window_reference.py,
every window end that can be extreme) and the whole-nanolitre drive (tests/whole_nl_drive.py,
every whole second).

Morphine on a Prometra II with the Prometra catheter trimmed 20 cm, one concentration in the
path throughout. The window that starts as the first bolus starts can hold the basal owed at
that instant (under two nanolitres: the carry and the fraction a cancelled order's stop left,
made up after it) besides a day of basal and the six doses: the sixth bolus holds back as many
whole nanolitres of the basal inside its order as that needs (carried), and more than one is
announced at its grant (docs/dosing-rules.md#r-tip-4).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest
from fifo_window_reference import moved_by, tip, windows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itdose_physics import DAY_S, FULL_MODES, HOUR_S, MG, Bench, Mode, implanted_and_dosing
from whole_nl_drive import largest_window

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import Annunciate, BolusDecision, Record
from itdose.core.program import Basal, PatientBolusProgram, Program

MAX = 20 * MG


@dataclass(frozen=True)
class Run:
    grants: list[bool]
    most: Fraction
    """The largest window at the tip (first in, first out)."""
    brute: Fraction
    """The largest window on whole-nanolitre steps, every whole second."""
    short: Fraction
    """The most any window that holds all six boluses is short of the basal and the doses."""
    alarmed: bool
    """The delivery-limited alarm was raised at some point from the first bolus on."""
    held: list[str]
    """The details of the grants' ``bolus_limited`` records."""


def _six(
    library: Library,
    conc: int,
    dose: int,
    duration_s: int,
    lockout_s: int,
    gaps_s: tuple[int, ...],
    mode: Mode = "pace",
    basal: int | None = None,
    offset_s: int = 1234,
) -> Run:
    basal = MAX - 6 * dose if basal is None else basal
    bolus = PatientBolusProgram(dose, duration_s, lockout_s, max_per_24h=6)
    program = Program("morphine", "pain", conc, Basal.continuous(basal), bolus, "opioid-tolerant")
    b = Bench(library, mode=mode)
    t0 = implanted_and_dosing(b, program)
    first = t = b.now + DAY_S + offset_s
    grants, held, alarmed = [], [], False
    for k in range(6):
        out = b.submit(c.RequestBolus(Role.PATIENT), t)
        grants.extend(e.granted for e in out.effects if isinstance(e, BolusDecision))
        held.extend(
            e.detail for e in out.effects if isinstance(e, Record) and e.event == "bolus_limited"
        )
        alarmed |= any(
            isinstance(e, Annunciate) and e.kind is AlarmKind.DELIVERY_LIMITED for e in out.effects
        )
        t += gaps_s[k] if k < 5 else 0
    b.advance(t + 2 * DAY_S)
    assert not b.anomalies and b.dead_volume_nl is not None
    limited = AlarmKind.DELIVERY_LIMITED.value
    alarmed |= any(limited in kinds for at, _, _, kinds in b.phases if at >= first)
    pieces = tip(b.dead_volume_nl, moved_by(b.pushes))
    most, _ = windows(pieces, "morphine")
    # every window that holds the six whole, from an hour after the last ends (the basal order
    # after it has delivered its carry, the dose's fraction of a nanolitre too) to the first's
    # start a day later (one concentration: the tip lets fluid out as the drive pushes)
    lo, hi = Fraction(t + duration_s + HOUR_S), Fraction(first + DAY_S)
    _, least = windows(pieces, "morphine", lo, hi)
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    assert most is not None and least is not None
    return Run(grants, most[0], brute, basal + 6 * dose - least[0], alarmed, held)


@pytest.mark.parametrize(
    ("conc", "dose", "duration_s", "lockout_s", "gaps_s", "offset_s", "held_nl"),
    [
        pytest.param(20 * MG, 371_000, 60, HOUR_S, (HOUR_S + 1,) * 5, 1420, 2, id="20-mg-per-ml"),
        pytest.param(
            10 * MG,
            432_000,
            3599,
            3599,
            (3600, 3599, 3600, 4692, 3600),
            2302,
            3,
            id="10-mg-per-ml",
        ),
    ],
)
def test_the_sixth_bolus_that_needs_basal_held_back_is_granted_and_announced(
    library: Library,
    conc: int,
    dose: int,
    duration_s: int,
    lockout_s: int,
    gaps_s: tuple[int, ...],
    offset_s: int,
    held_nl: int,
) -> None:
    """R-TIP-4, REQ-TIP-004, REQ-GOV-004: the two programs of
    test_the_sixth_bolus_at_the_hard_maximum_is_granted.py (20 mg/mL: 17,774,000 ng/day, six
    371,000 ng boluses over 60 s; 10 mg/mL: 17,408,000 ng/day, six 432,000 ng boluses over
    3599 s). The window from the first bolus's start holds basal owed before it (measured, as
    the ledger counts it with the sixth bolus whole: 1.6 nL and 2.1 nL over the maximum): the
    sixth is granted holding back 2 nL and 3 nL of its basal, carried, and its grant announces
    it with the delivery-limited alarm (a window that holds the six is then short by more than
    one unit: measured 1.9 nL and 3.2 nL as the sixth ends); no window above the maximum
    (measured: 2.3 ng and 1.5 ng under it)."""
    run = _six(library, conc, dose, duration_s, lockout_s, gaps_s, offset_s=offset_s)
    assert run.grants == [True] * 6
    assert run.most <= MAX and run.brute <= MAX, (float(run.most - MAX), float(run.brute - MAX))
    assert run.alarmed and len(run.held) == 1
    assert run.held[0].endswith(
        f"{held_nl} nL of the basal inside it held back for the hard maximum (carried): a window "
        "can hold less than the program's basal by more than one nL"
    )


def test_boluses_of_a_fraction_of_a_nanolitre_below_the_maximum_are_delivered_in_full(
    library: Library,
) -> None:
    """REQ-TIP-004: six 539,499 ng boluses (53,949.9 nL at 10 mg/mL) on 5 mg/day, far below the
    maximum: each dose's fraction of a nanolitre is carried, so the window that holds the six is
    within one unit (10 ng) of the basal and the doses without any alarm (before: 54 ng short,
    the fractions dropped)."""
    run = _six(library, 10 * MG, 539_499, 300, 1800, (1800,) * 5, basal=5 * MG)
    assert run.grants == [True] * 6 and not run.alarmed
    assert 0 <= run.short <= Fraction(10 * MG, 10**6), float(run.short)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    conc=st.sampled_from([10 * MG, 20 * MG, 25 * MG]),
    dose=st.integers(100_000, 1_000_000),
    duration_s=st.integers(1, 1800),
    lockout_s=st.integers(1800, 3600),
    extra_s=st.lists(st.integers(0, 3 * HOUR_S), min_size=5, max_size=5),
    mode=st.sampled_from(FULL_MODES),
)
def test_six_boluses_at_the_hard_maximum_at_random(
    library: Library,
    conc: int,
    dose: int,
    duration_s: int,
    lockout_s: int,
    extra_s: list[int],
    mode: Mode,
) -> None:
    """R-TIP-4, REQ-TIP-004, REQ-GOV-004: any dose (a whole number of nanolitres or not), bolus
    length, lockout and gaps, on the basal that makes six boluses the maximum exactly: all six
    granted, no window above the maximum (both references), and the window that holds the six
    short by one unit at most unless the delivery-limited alarm was raised."""
    gaps = tuple(lockout_s + x for x in extra_s)
    run = _six(library, conc, dose, duration_s, lockout_s, gaps, mode)
    assert run.grants == [True] * 6
    assert run.most <= MAX and run.brute <= MAX, (float(run.most - MAX), float(run.brute - MAX))
    assert run.short >= 0
    assert run.alarmed or run.short <= Fraction(conc, 10**6), float(run.short)
