"""A program accepted at its drug's hard daily maximum is delivered in full (REQ-GOV-002 with
the ledger exact, REQ-GOV-005; docs/dosing-rules.md, "What reaches the patient").

Baclofen for spasticity of spinal origin, hard maximum 2000 mcg/day, on a SynchroMed II filled
with 2000 mcg/mL and programmed at 2000 mcg/day (1 mL/day). The core is driven through ``step``
by a test drive that delivers every order exactly at its pace (its volume evenly over its
duration) and reports it in full at its end (tests/paced_drive.py). The amount that reached the
patient in each 24 h window is integrated from the drive's own record, not from the ledger: the
path holds the reservoir's fluid throughout (checked), so each nanolitre moved is 2 ng at the
tip. Every window after the first day must hold 2000 mcg, minus at most one rounding unit (one
nanolitre, 2 ng: basal is ordered in whole nanolitres with the remainder carried), never more,
and no delivery-limited alarm may be raised.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from itdose_testkit import DAY, HOUR, C, S, run, synchromed_library
from paced_drive import PacedDrive

from itdose.core import Device, Library, Phase
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind
from itdose.core.program import Basal, Program

CONC = 2_000_000  # baclofen 2000 mcg/mL = 2 ng per nL
MAX_NG = 2_000_000  # 2000 mcg/day, the hard maximum for spasticity of spinal origin
NG_PER_NL = CONC // 1_000_000
UNIT_NG = NG_PER_NL  # one nanolitre at 2000 mcg/mL: 2 ng
INDURA = "medtronic-indura-1p-8709sc"
PROGRAM = Program("baclofen", "spasticity-spinal", CONC, Basal.continuous(MAX_NG))


def baclofen_at_the_maximum(library: Library) -> tuple[Device, Library]:
    """Screening (positive to 50 mcg), SynchroMed II implanted and filled with 2000 mcg/mL,
    primed, programmed at 2000 mcg/day (soft limits overridden, as a clinician would), dosing."""
    lib = synchromed_library(library)
    d = run(
        [
            (c.RecordScreening(C, candidate=True, baseline_pain=0), 0),
            (c.StartTrial(C, "baclofen", "spasticity-spinal", plan="screening"), 60),
            (c.RecordTrialDose(C, amount_ng=50_000), DAY),
            (c.RecordScreeningResponse(C, positive=True), DAY + HOUR),
            (c.ConcludeTrial(C), 2 * DAY),
            (
                c.Implant(C, "synchromed-ii-20", "medtronic-indura-1p-8709sc", trimmed_mm=90),
                3 * DAY,
            ),
            (c.Fill(C, volume_nl=20_000_000, concentration_ng_per_ml=CONC), 3 * DAY + 60),
        ],
        lib,
    )
    assert d.implant is not None and d.implant.dead_volume_nl is not None
    overrides = (
        c.Override("baclofen.spasticity-spinal.screening.starting_dose", "titrated elsewhere"),
        c.Override("baclofen.spasticity-spinal.soft_max_daily", "severe spasticity"),
    )
    d = run(
        [
            (c.SetProgram(C, PROGRAM, overrides=overrides), 3 * DAY + 90),
            (c.Prime(C, duration_s=480), 3 * DAY + 120),
            (c.DriveReport(S, 1, d.implant.dead_volume_nl, final=True), 3 * DAY + 600),
            (c.StartDosing(C), 3 * DAY + 700),
        ],
        lib,
        d,
    )
    assert d.phase is Phase.ACTIVE and d.program == PROGRAM
    return d, lib


@pytest.mark.parametrize("max_segment_s", [HOUR, DAY])
def test_baclofen_at_its_hard_maximum_delivers_2000_mcg_in_every_window(
    library: Library, max_segment_s: int
) -> None:
    """REQ-GOV-002, REQ-GOV-005, REQ-GOV-008: 2000 mcg (minus at most one nanolitre) in every
    24 h window ending after the first day, never more; every order granted in full; no
    delivery-limited alarm; whether the controller asks for hourly or day-long orders."""
    d, lib = baclofen_at_the_maximum(library)
    drive = PacedDrive(d, lib, 3 * DAY + 700, max_segment_s=max_segment_s)
    start = drive.now
    drive.run_until(start + 2 * DAY + DAY // 2)
    assert drive.device.phase is Phase.ACTIVE
    assert AlarmKind.DELIVERY_LIMITED not in {k for _, k in drive.alarms}
    assert not drive.device.alarms
    basal = [o for o in drive.delivered if o.kind == "basal"]
    assert len(basal) >= 60 - 1
    # back to back, each an hour, 41 666 or 41 667 nL (1 000 000 nL/day in whole nL)
    assert all(b.start_s == a.end_s for a, b in itertools.pairwise(basal))
    assert {o.end_s - o.start_s for o in basal} == {HOUR}
    assert {o.volume_nl for o in basal} == {41_666, 41_667}
    path = drive.device.path
    assert path is not None
    assert {(s.drug, s.concentration_ng_per_ml) for s in path.segments} == {("baclofen", CONC)}
    first = basal[0].start_s
    ends = {t for t in drive.window_ends() if first + DAY <= t <= drive.now}
    ends |= set(range(first + DAY, drive.now, 997))  # and between the orders' edges
    amounts = {t: drive.in_window_nl(Fraction(t)) * NG_PER_NL for t in ends}
    low, high = min(amounts.values()), max(amounts.values())
    assert high <= MAX_NG
    assert low >= MAX_NG - UNIT_NG
    assert high == MAX_NG  # and the maximum is reached: delivered, not merely allowed


def test_the_harness_would_see_a_cut(library: Library) -> None:
    """The check is not vacuous: with one basal order delivered short, the windows that hold it
    fall below 2000 mcg minus one nanolitre."""
    d, lib = baclofen_at_the_maximum(library)
    drive = PacedDrive(d, lib, 3 * DAY + 700)
    drive.run_until(drive.now + 2 * DAY)
    basal = [o for o in drive.delivered if o.kind == "basal"]
    basal[-5].volume_nl -= 2
    t = Fraction(basal[-1].end_s)
    assert drive.in_window_nl(t) * NG_PER_NL < MAX_NG - UNIT_NG
