"""Reports that are only upper bounds (R-TIP-6) around a change of concentration, at the hard
maximum: each reset stops the order it hits (the drive has moved what its behaviour allows by
then) and loses its count; the controller reports the most the order's pace allows by the report,
or the whole order, with its doubt (tests/reset_bench.py). Judged from what the drive moved by the
whole-second brute force (tests/whole_nl_drive.py) and the first-in-first-out reference
(tests/fifo_window_reference.py), never by the core.

- baclofen at its 2 mg maximum refilled from 1000 to 500 mcg/mL (a fall): resets 20 min, 1 h 20
  min and 2 h 10 min after the refill, before the fall reaches the tip (three bounds of a whole
  hour's order, 83,333 nL, of which 27,777, 27,778 and 13,888 nL moved); a reset reported at
  the next poll, a minute later (the order ends short); the same with the order going on after
  its bound; the lower bound below what moved (half of it: a larger doubt than needed); a rise
  then a fall (500, 1000, 500 mcg/mL half an hour apart, resets in three orders);
- morphine 25 mg/mL at 1 mg/day refilled to 10 mg/mL, then the largest clinician bolus the core
  accepts over an hour, reset ten minutes in and reported whole at its end: a doubt of 1.29 mL,
  five times the 0.234 mL path, then clinician boluses every 30 min for 30 h;
- the same history with a 1 mg patient bolus instead, reset 10 min in;
- morphine 25 mg/mL at 14 mg/day with six 1 mg patient boluses an hour apart, refilled to
  10 mg/mL: the drive resets in the basal order 30 s after the refill, the first bolus 10 min
  after the refill cuts it, and the cut order's report (its bound by its pace at the cut: 3,895
  nL, of which 194 moved) comes 2 min after the cut.

Each case holds with the doubt said (every window at or under the maximum); each is also run
with the doubt left out (``unsure_nl`` 0), where the cases marked show the excess R-TIP-6 closes
(704 ng for the reset reported at the poll or going on, 41,665 ng for the rise then fall, 53,240
ng for the lower bound below what moved, 82,277 ng for the three resets; 22,925 ng at the
patient bolus, 27,920 ng with the cut order's report pending), so that the judge can fail. The
clinician bolus's bound holds even without its doubt (the bolus leaves all of the richer fluid
within its own window), so it is not run without it.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    Cumulative,
    basal_shortfalls,
    greedy_clinician_boluses,
    implanted_and_dosing,
    max_clinician_bolus_ng,
    refill,
    steady_periods,
    window_extremes,
)
from reset_bench import ResetBench
from whole_nl_drive import largest_window

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.program import Basal, PatientBolusProgram, Program
from itdose.core.state import check_consistent

C = Role.CLINICIAN
P = Role.PATIENT
CAP_BACLOFEN = 2 * MG


def _baclofen(conc: int) -> Program:
    return Program("baclofen", "spasticity-spinal", conc, Basal.continuous(2 * MG), None, None)


def _refills(library: Library, concs: list[int], resets: list[int], gap: int, **kw: Any) -> Any:
    """Baclofen at its maximum, refilled to each of ``concs`` ``gap`` apart; the resets are
    counted from the last refill."""
    b = ResetBench(library, mode="pace", **kw)
    t0 = implanted_and_dosing(b, _baclofen(concs[0]))
    last = t0 + DAY_S + 1234
    for i, conc in enumerate(concs[1:]):
        last = t0 + DAY_S + 1234 + i * gap
        refill(b, last, conc, program=_baclofen(conc))
    b.resets = [last + x for x in resets]
    b.advance(b.now + 3 * DAY_S)
    return b, t0, "baclofen"


def _cut_late(library: Library, **kw: Any) -> Any:
    """Morphine 25 mg/mL at 14 mg/day with 1 mg patient boluses (an hour's lockout), refilled to
    10 mg/mL: the drive resets 30 s after the refill, in the basal order; a patient bolus 10 min
    after the refill cuts that order, whose report (its bound by its pace at the cut) comes 2 min
    later; five more boluses an hour apart."""
    b = ResetBench(library, mode="pace", cut_report_after_s=120, **kw)
    pb = PatientBolusProgram(dose_ng=MG, duration_s=300, lockout_s=HOUR_S, max_per_24h=6)

    def prog(conc: int) -> Program:
        return Program("morphine", "pain", conc, Basal.continuous(14 * MG), pb, "opioid-tolerant")

    t0 = implanted_and_dosing(b, prog(25 * MG))
    at = t0 + DAY_S + 1234
    refill(b, at, 10 * MG, program=prog(10 * MG))
    b.resets = [at + 30]
    for k in range(6):
        b.advance(at + 600 + k * HOUR_S)
        b.submit(c.RequestBolus(P))
    b.advance(b.now + 2 * DAY_S)
    return b, t0, "morphine"


def _bolus(library: Library, kind: str, **kw: Any) -> Any:
    """Morphine 25 mg/mL at 1 mg/day refilled to 10 mg/mL; a minute later a bolus, reset 10 min
    in; then (clinician) boluses as large as the core accepts every 30 min for 30 h."""
    b = ResetBench(library, mode="pace", **kw)
    pb = PatientBolusProgram(dose_ng=MG, duration_s=300, lockout_s=1800, max_per_24h=6)

    def prog(conc: int) -> Program:
        return Program("morphine", "pain", conc, Basal.continuous(MG), pb, "opioid-tolerant")

    t0 = implanted_and_dosing(b, prog(25 * MG))
    refill(b, t0 + DAY_S + 1234, 10 * MG, program=prog(10 * MG))
    b.advance(b.now + 60)
    if kind == "clinician":
        dose = max_clinician_bolus_ng(b, HOUR_S, 20 * MG)
        b.submit(c.ClinicianBolus(C, dose, HOUR_S))
    else:
        b.submit(c.RequestBolus(P))
    b.resets = [b.now + 600]
    b.advance(b.now + 2 * HOUR_S)
    greedy_clinician_boluses(b, b.now, b.now + 30 * HOUR_S, 1800, 600, 20 * MG)
    b.advance(b.now + DAY_S)
    return b, t0, "morphine"


FALL = [MG, MG // 2]
CASES: dict[str, tuple[Any, bool]] = {
    "three resets before the fall reaches the tip": (
        lambda lib, **kw: _refills(lib, FALL, [1200, HOUR_S + 1200, 2 * HOUR_S + 600], 0, **kw),
        True,
    ),
    "a reset reported at the next poll": (
        lambda lib, **kw: _refills(lib, FALL, [1200], 0, report_after_s=60, **kw),
        True,
    ),
    "an order that goes on after its bound": (
        lambda lib, **kw: _refills(lib, FALL, [1200], 0, report_after_s=60, keep_going=True, **kw),
        True,
    ),
    "a lower bound below what moved": (
        lambda lib, **kw: _refills(lib, FALL, [1200, 5000], 0, sure_share=Fraction(1, 2), **kw),
        True,
    ),
    "a rise then a fall": (
        lambda lib, **kw: _refills(lib, [MG // 2, MG, MG // 2], [600, 1200, 4000], 1800, **kw),
        True,
    ),
    "a clinician bolus whose doubt is five path volumes": (
        lambda lib, **kw: _bolus(lib, "clinician", **kw),
        False,
    ),
    "a patient bolus": (lambda lib, **kw: _bolus(lib, "patient", **kw), True),
    "a cut order's report pending": (_cut_late, True),
}


def _largest(b: Any, t0: int, drug: str) -> tuple[Fraction, Fraction]:
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, drug, (t0, b.now))
    most, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), drug)
    assert most is not None
    return brute, most[0]


@pytest.mark.parametrize("case", list(CASES))
def test_every_window_stays_within_the_hard_maximum_with_the_doubt_said(
    library: Library, case: str
) -> None:
    """R-TIP-6, REQ-TIP-006, REQ-GOV-004: with each bound's doubt said, no 24 h window at the tip
    holds more than the hard maximum, by either reference; the state stays consistent."""
    b, t0, drug = CASES[case][0](library)
    assert b.bounds and all(unsure > 0 for *_, unsure in b.bounds)
    assert not b.anomalies
    check_consistent(b.device)
    cap = b.hard_max_ng(drug)
    brute, fifo = _largest(b, t0, drug)
    assert brute <= cap and fifo <= cap, (float(brute - cap), float(fifo - cap))


@pytest.mark.parametrize("case", [k for k, (_, teeth) in CASES.items() if teeth])
def test_the_same_bounds_without_their_doubt_exceed_it(library: Library, case: str) -> None:
    """The judge can fail: the same histories with ``unsure_nl`` 0 put a window over."""
    b, t0, drug = CASES[case][0](library, doubt_said=False)
    cap = b.hard_max_ng(drug)
    brute, fifo = _largest(b, t0, drug)
    assert brute > cap and fifo > cap


BACLOFEN = list(CASES)[:5]


def _quietest(b: Any, drug: str) -> Fraction:
    """The smallest 24 h window at the tip from two days into the last steady period on."""
    start = steady_periods(b)[-1].start
    ex = window_extremes(
        b.tip(), drug, min_from=Fraction(start + 2 * DAY_S), min_to=Fraction(b.now), with_max=False
    )
    assert ex.min_ng is not None
    return ex.min_ng


@pytest.mark.parametrize("case", BACLOFEN)
def test_the_doubt_withholds_only_with_the_alarm_and_only_while_it_lasts(
    library: Library, case: str
) -> None:
    """R-TIP-4 after R-TIP-6, REQ-TIP-004: at the maximum the basal a doubt withholds is
    announced (the reference finds no quiet 24 h window short of the program,
    tests/itdose_physics.py ``basal_shortfalls``; below the maximum it is not, a strict xfail in
    tests/core/test_basal_a_doubt_withholds_below_the_maximum_is_announced.py), and once the
    doubt has left the tip it withholds nothing: every window from two days into the program
    holds at least what the same refill without any reset delivers there (1.5 ng, 3 nL, under
    the 2 mg: the refill's own cost, with the delivery-limited alarm it raised still active)."""
    b, _, drug = CASES[case][0](library)
    assert not basal_shortfalls(b)
    plain, _, _ = _refills(
        library, FALL if case != "a rise then a fall" else [MG // 2, MG, MG // 2], [], 1800
    )
    assert _quietest(b, drug) >= _quietest(plain, drug) >= CAP_BACLOFEN - 2


@pytest.mark.parametrize(
    "case",
    ["three resets before the fall reaches the tip", "a lower bound below what moved"],
)
def test_a_doubt_withholds_its_excess_over_the_drives_loss_at_the_difference(
    library: Library, case: str
) -> None:
    """R-TIP-4 after R-TIP-6 (docs/dosing-rules.md#r-tip-6, "Cost"): over the two days after the
    refill the tip delivers what the same refill without a reset delivers, less what the drive
    did not move (at the 1000 mcg/mL at the tip when it stopped: the reset's own loss) and less
    the doubt beyond that loss at the concentrations' difference (500 mcg/mL), to within 2 ng:
    a doubt that matches the loss withholds nothing (1.5 ng more given, three resets), a larger
    one its excess at the difference, no more (15,044 of 15,046.5 ng: 30,093 nL of lower bound
    below what moved)."""
    b, t0, drug = CASES[case][0](library)
    plain, _, _ = _refills(library, FALL, [], 0)
    at = t0 + DAY_S + 1234
    lost = sum(bound - moved for _, _, bound, moved, _ in b.bounds)
    doubt = sum(unsure for *_, unsure in b.bounds)

    def given(bench: Any) -> Fraction:
        cum = Cumulative(bench.tip(), drug)
        return cum.at(Fraction(at + 2 * DAY_S)) - cum.at(Fraction(at))

    withheld = given(plain) - given(b) - lost
    excess = Fraction(doubt - lost, 2)
    assert excess - 2 <= withheld <= excess, (float(withheld), doubt, lost)
