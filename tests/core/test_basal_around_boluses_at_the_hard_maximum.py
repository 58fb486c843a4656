"""Basal around boluses at the hard maximum: a bolus makes up the basal the order it cancels still
owed, or carries it to the next basal order, and holds back at most one nanolitre of its basal
for a window the ledger counts over the maximum by under that (R-TIP-4, REQ-TIP-004, REQ-GOV-008).
No rolling 24 h window at the tip ever exceeds the hard maximum (REQ-GOV-002, REQ-GOV-004), judged
by the brute force over every whole second of a whole-nanolitre drive (tests/whole_nl_drive.py)
and by the first-in-first-out reference (tests/fifo_window_reference.py), from the drive's record
alone; and the window that holds the boluses holds the basal and the doses less at most one
rounding unit (1 nL at the concentration), or the delivery-limited alarm says it does not.

Morphine on a Prometra II with the Prometra catheter trimmed 20 cm; programs whose worst case
(basal plus every bolus a day allows) is the 20 mg hard maximum exactly.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from fifo_window_reference import _cum, moved_by, tip, windows
from hypothesis import given, settings
from hypothesis import strategies as st
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Bench,
    Mode,
    greedy_clinician_boluses,
    implanted_and_dosing,
    refill,
)
from whole_nl_drive import largest_window

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.effects import BolusDecision
from itdose.core.program import Basal, PatientBolusProgram, Program
from itdose.specs import load_library

P = Role.PATIENT
CAP = 20 * MG
LIMITED = AlarmKind.DELIVERY_LIMITED.value
LIBRARY = load_library()


def _program(conc: int, basal: int, dose: int, duration_s: int, lockout_s: int) -> Program:
    bolus = PatientBolusProgram(
        dose_ng=dose, duration_s=duration_s, lockout_s=lockout_s, max_per_24h=6
    )
    return Program("morphine", "pain", conc, Basal.continuous(basal), bolus, "opioid-tolerant")


def _judge(b: Bench, t0: int) -> tuple[Fraction, Fraction]:
    """(the largest window over every whole second on whole-nanolitre steps, the largest window
    of the FIFO reference), from dosing's start to the start of the order still running."""
    assert not b.anomalies and b.dead_volume_nl is not None
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    fifo, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine")
    assert fifo is not None
    return brute, fifo[0]


def _window(b: Bench, end: int) -> Fraction:
    """The FIFO reference's morphine in ``(end - 24 h, end]``."""
    assert b.dead_volume_nl is not None
    mine = [p for p in tip(b.dead_volume_nl, moved_by(b.pushes)) if p.drug == "morphine"]
    return _cum(mine, Fraction(end), False) - _cum(mine, Fraction(end - DAY_S), False)


def _limited(b: Bench, since: int) -> bool:
    return any(LIMITED in kinds for at, _, _, kinds in b.phases if at >= since)


def _six_boluses(
    library: Library,
    program: Program,
    gaps_s: tuple[int, ...],
    mode: Mode,
    refill_after: int | None = None,
) -> tuple[Bench, int, int, list[bool]]:
    """Six patient boluses a day after dosing starts, ``gaps_s`` apart (a refill to 25 mg/mL
    with the same program ``refill_after`` seconds after the bolus of that index, if given);
    two days more. Returns (the bench, dosing's start, the first bolus's instant, grants)."""
    b = Bench(library, mode=mode)
    t0 = implanted_and_dosing(b, program)
    first = t = t0 + DAY_S + 1234
    grants = []
    for k in range(6):
        out = b.submit(c.RequestBolus(P), t)
        grants.extend(e.granted for e in out.effects if isinstance(e, BolusDecision))
        if refill_after is not None and k == 2:
            after = Program(
                "morphine",
                "pain",
                25 * MG,
                program.basal,
                program.patient_bolus,
                "opioid-tolerant",
            )
            refill(b, t + refill_after, 25 * MG, program=after)
        t += gaps_s[k] if k < len(gaps_s) else 0
    b.advance(t + 2 * DAY_S)
    return b, t0, first, grants


@pytest.mark.parametrize("mode", ["uniform", "pace"])
@pytest.mark.parametrize(
    ("conc", "basal", "dose", "duration_s", "gap_s"),
    [
        # every bolus at the end of its lockout, the window reaching the maximum exactly
        pytest.param(25 * MG, 14 * MG, MG, 300, HOUR_S, id="25-mg-per-ml-hourly"),
        pytest.param(10 * MG, 14 * MG, MG, 300, 1800, id="10-mg-per-ml-half-hourly"),
        # back to back: the lockout ends when the bolus does, the next one starts at once
        pytest.param(25 * MG, 14 * MG, MG, 300, 300, id="25-mg-per-ml-back-to-back"),
        pytest.param(10 * MG, 17 * MG, MG // 2, 600, 600, id="10-mg-per-ml-back-to-back"),
    ],
)
def test_boluses_to_the_maximum_exactly_never_exceed_it_and_leave_the_basal_in_full(
    library: Library, conc: int, basal: int, dose: int, duration_s: int, gap_s: int, mode: Mode
) -> None:
    """REQ-GOV-002, REQ-GOV-004, REQ-TIP-004, R-TIP-4: six boluses bringing the window to the
    hard maximum exactly are all granted; no window on whole-nanolitre steps or in the FIFO
    reference above the maximum; the window that holds the six holds the basal and the doses
    less at most one nanolitre, or the delivery-limited alarm was raised."""
    program = _program(conc, basal, dose, duration_s, gap_s)
    b, t0, first, grants = _six_boluses(library, program, (gap_s,) * 5, mode)
    assert grants == [True] * 6
    brute, fifo = _judge(b, t0)
    assert brute <= CAP, float(brute - CAP)
    assert fifo <= CAP, float(fifo - CAP)
    held = _window(b, first - 600 + DAY_S)
    assert held <= basal + 6 * dose
    unit = Fraction(conc, 10**6)
    assert _limited(b, first) or basal + 6 * dose - held <= unit, float(basal + 6 * dose - held)


@pytest.mark.parametrize("mode", ["uniform", "pace"])
def test_a_concentration_change_between_boluses_at_the_maximum_never_exceeds_it(
    library: Library, mode: Mode
) -> None:
    """REQ-GOV-002, REQ-GOV-004, REQ-TIP-004: six 1 mg boluses an hour apart at 14 mg/day, the
    reservoir refilled 10 -> 25 mg/mL between the third and the fourth: every bolus granted
    and no window above the hard maximum (whole-nanolitre brute force, FIFO reference)."""
    program = _program(10 * MG, 14 * MG, MG, 300, HOUR_S)
    b, t0, _, grants = _six_boluses(library, program, (HOUR_S,) * 5, mode, refill_after=900)
    assert grants == [True] * 6
    brute, fifo = _judge(b, t0)
    assert brute <= CAP, float(brute - CAP)
    assert fifo <= CAP, float(fifo - CAP)


@pytest.mark.parametrize("mode", ["uniform", "pace"])
@pytest.mark.parametrize("conc", [10 * MG, 25 * MG])
def test_greedy_clinician_boluses_at_the_maximum_never_exceed_it(
    library: Library, conc: int, mode: Mode
) -> None:
    """REQ-GOV-002, REQ-GOV-004: at 16 mg/day, the largest clinician bolus the core accepts
    every 2 h for a day (each one cancelling the basal order in flight; the largest accepted
    includes the nanolitre a bolus may hold back): no window above the hard maximum on
    whole-nanolitre steps or in the FIFO reference."""
    program = Program("morphine", "pain", conc, Basal.continuous(16 * MG), None, "opioid-tolerant")
    b = Bench(library, mode=mode)
    t0 = implanted_and_dosing(b, program)
    given_ = greedy_clinician_boluses(b, t0 + DAY_S + 1234, t0 + 2 * DAY_S, 2 * HOUR_S, 120, 4 * MG)
    assert sum(dose for _, dose in given_) >= 3 * MG  # the room was used
    b.advance(b.now + 2 * DAY_S)
    brute, fifo = _judge(b, t0)
    assert brute <= CAP, float(brute - CAP)
    assert fifo <= CAP, float(fifo - CAP)


@settings(max_examples=6, deadline=None)
@given(
    conc=st.sampled_from([10 * MG, 25 * MG]),
    dose_ug=st.integers(min_value=100, max_value=1000),
    spare_ug=st.sampled_from([0, 0, 1, 37, 500]),
    duration_s=st.sampled_from([60, 300, 600]),
    extra_gaps=st.lists(st.integers(min_value=0, max_value=3000), min_size=5, max_size=5),
    offset_s=st.integers(min_value=0, max_value=HOUR_S - 1),
    mode=st.sampled_from(["uniform", "pace"]),
)
def test_random_boluses_near_the_maximum_never_exceed_it_and_leave_the_basal_in_full(
    conc: int,
    dose_ug: int,
    spare_ug: int,
    duration_s: int,
    extra_gaps: list[int],
    offset_s: int,
    mode: Mode,
) -> None:
    """REQ-GOV-002, REQ-GOV-004, REQ-TIP-004 (property): a program whose worst case is the hard
    maximum or up to 0.5 mg below it, six boluses at random instants from the end of each
    lockout on: every bolus granted, no window above the maximum on whole-nanolitre steps or in
    the FIFO reference, and the window that holds the six short of basal and doses by at most
    one nanolitre unless the delivery-limited alarm was raised (and above them by less than the
    basal owed at its start, made up inside it: under two nanolitres)."""
    library = LIBRARY
    dose = dose_ug * 1000
    basal = CAP - 6 * dose - spare_ug * 1000
    lockout = max(duration_s, 1800)
    program = _program(conc, basal, dose, duration_s, lockout)
    gaps = tuple(lockout + g for g in extra_gaps)
    b = Bench(library, mode=mode)
    t0 = implanted_and_dosing(b, program)
    first = t = t0 + DAY_S + offset_s
    grants = []
    for k in range(6):
        out = b.submit(c.RequestBolus(P), t)
        grants.extend(e.granted for e in out.effects if isinstance(e, BolusDecision))
        t += gaps[k] if k < 5 else 0
    b.advance(t + 2 * DAY_S)
    assert grants == [True] * 6
    brute, fifo = _judge(b, t0)
    assert brute <= CAP, float(brute - CAP)
    assert fifo <= CAP, float(fifo - CAP)
    if t - first + duration_s < DAY_S - 600:
        held = _window(b, first - 600 + DAY_S)
        due = basal + 6 * dose
        unit = Fraction(conc, 10**6)
        assert held < due + 2 * unit, float(held - due)
        assert _limited(b, first) or due - held <= unit, float(due - held)
