"""The largest clinician bolus the core accepts, again and again, each one cutting the basal order
the one before left (or its own basal order), while the cut orders' final reports reach the core
late (the drive stopped each at its cut). The core counts each unreported cut order as at most
its pace by the cut (R-TIP-3): no 24 h window of what left the tip may exceed the hard maximum,
however the reports are delayed.

Judged by the whole-nanolitre brute force (tests/whole_nl_drive.py) and the first-in-first-out
reference (tests/fifo_window_reference.py), from the drive's own record. Morphine on a
Prometra II, Prometra catheter trimmed 20 cm, one concentration in the path.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from fifo_window_reference import moved_by, tip, windows
from hypothesis import given, settings
from hypothesis import strategies as st
from itdose_physics import (
    DAY_S,
    HOUR_S,
    MG,
    C,
    Mode,
    implanted_and_dosing,
    max_clinician_bolus_ng,
)
from late_reports import LateCutReports, late_program
from whole_nl_drive import largest_window

from itdose.core import Library
from itdose.core import commands as c
from itdose.specs import load_library

CAP = 20 * MG
LIBRARY = load_library()


def _over_cap(
    library: Library,
    conc: int,
    delay_s: int,
    duration_s: int,
    gaps_s: tuple[int, ...],
    offset_s: int,
    mode: Mode,
) -> tuple[Fraction, Fraction, int]:
    """The largest clinician bolus accepted at each instant (a day after dosing starts plus
    ``offset_s``, then ``gaps_s`` apart), each cut order reported ``delay_s`` late; then two
    hours. Returns the largest window above the hard maximum (brute force, FIFO reference; ng,
    negative: under it) and the number of boluses given."""
    b = LateCutReports(library, mode=mode)
    b.pending = []
    t0 = implanted_and_dosing(b, late_program(conc))
    b.delay_s = delay_s
    t = t0 + DAY_S + offset_s
    given = 0
    for gap in (0, *gaps_s):
        t += gap
        b.advance(t)
        dose = max_clinician_bolus_ng(b, duration_s, CAP)
        if dose:
            b.submit(c.ClinicianBolus(C, dose, duration_s))
            given += 1
    b.advance(t + 2 * HOUR_S)
    assert not b.anomalies and not b.pending and b.dead_volume_nl is not None
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    most, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine")
    assert most is not None
    return brute - CAP, most[0] - CAP, given


@pytest.mark.parametrize(
    ("conc", "delay_s", "duration_s", "gap_s", "mode"),
    [
        pytest.param(25 * MG, 1, 300, 301, "pace", id="25-mg-per-ml-1-s-late"),
        pytest.param(25 * MG, 299, 300, 300, "pace", id="25-mg-per-ml-299-s-late-back-to-back"),
        pytest.param(25 * MG, 1000, 300, 400, "pace", id="25-mg-per-ml-three-cut-unreported"),
        pytest.param(10 * MG, 700, 60, 120, "uniform", id="10-mg-per-ml-60-s-boluses"),
    ],
)
def test_largest_boluses_with_late_cut_reports_never_exceed_the_maximum(
    library: Library, conc: int, delay_s: int, duration_s: int, gap_s: int, mode: Mode
) -> None:
    """REQ-GOV-002, REQ-GOV-004, R-TIP-3: six largest clinician boluses ``gap_s`` apart (the
    next asked at or just after the one before ends, so up to three cut orders are unreported
    at once: measured, 25 mg/mL and 1000 s late), each cut order reported ``delay_s`` late: the
    first takes the window to the hard maximum (5,999,999 ng at 25 mg/mL), the next the few
    nanolitres left; no window exceeds it (whole-nanolitre brute force, FIFO reference)."""
    brute, fifo, given = _over_cap(library, conc, delay_s, duration_s, (gap_s,) * 5, 1234, mode)
    assert given >= 1
    assert brute <= 0 and fifo <= 0, (float(brute), float(fifo))


@settings(max_examples=4, deadline=None)
@given(
    conc=st.sampled_from([10 * MG, 25 * MG]),
    delay_s=st.integers(min_value=1, max_value=1500),
    duration_s=st.sampled_from([60, 300, 600]),
    extra_gaps=st.lists(st.integers(min_value=0, max_value=900), min_size=4, max_size=4),
    offset_s=st.integers(min_value=0, max_value=HOUR_S - 1),
    mode=st.sampled_from(["uniform", "pace"]),
)
def test_random_largest_boluses_with_late_cut_reports_never_exceed_the_maximum(
    conc: int,
    delay_s: int,
    duration_s: int,
    extra_gaps: list[int],
    offset_s: int,
    mode: Mode,
) -> None:
    """REQ-GOV-002, REQ-GOV-004, R-TIP-3 (property): five largest clinician boluses at random
    instants from the end of the one before on, each cut order reported up to 1500 s late: no
    window above the hard maximum."""
    gaps = tuple(duration_s + g for g in extra_gaps)
    brute, fifo, _ = _over_cap(LIBRARY, conc, delay_s, duration_s, gaps, offset_s, mode)
    assert brute <= 0 and fifo <= 0, (float(brute), float(fifo))
