"""A clinician bolus that brings the window exactly to the hard maximum, asked when the patient
bolus before it has ended but the basal order that bolus cut is not yet reported (the drive
stopped that order at the cut; its report reaches the core later). R-TIP-4: a bolus that brings
the window exactly to the hard maximum is granted; the drive's record is the same whether the
cut order's report is in or not, so the decision must be too.

Judged by the whole-nanolitre brute force (tests/whole_nl_drive.py) and the first-in-first-out
reference (tests/fifo_window_reference.py). Morphine on a Prometra II, Prometra catheter trimmed
20 cm, 25 mg/mL, 14 mg/day, 1 mg patient boluses over 300 s (the 20 mg hard maximum exactly),
the drive on the pace line; a patient bolus 3000 s into a basal hour a day after dosing starts,
the clinician bolus over 300 s when it ends.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import DAY_S, HOUR_S, MG, C, implanted_and_dosing
from late_reports import LateCutReports, late_program
from whole_nl_drive import largest_window

from itdose.core import DosingError, Library, Role
from itdose.core import commands as c
from itdose.core.effects import BolusDecision

P = Role.PATIENT
CAP = 20 * MG
EXACT_NG = 5_000_049
"""The clinician bolus that brings the largest window to the hard maximum exactly (measured with
every report immediate: 0 ng above it by both references; 1 ng more is denied)."""
PROGRAM = late_program(25 * MG)


def _bolus(library: Library, delay_s: int, dose_ng: int) -> tuple[bool, Fraction, Fraction]:
    """Whether the clinician bolus of ``dose_ng`` was granted, and the largest window above the
    hard maximum (brute force, FIFO reference; ng, negative: under it)."""
    b = LateCutReports(library, mode="pace")
    b.pending = []
    t0 = implanted_and_dosing(b, PROGRAM)
    b.advance(t0 + DAY_S)
    b.delay_s = delay_s
    t = max(o.start_s for o in b.device.orders) + 3000
    out = b.submit(c.RequestBolus(P), t)
    assert [e.granted for e in out.effects if isinstance(e, BolusDecision)] == [True]
    b.advance(t + 300)
    assert any(o.cut_s for o in b.device.orders) == bool(delay_s)
    granted = not isinstance(b.attempt(c.ClinicianBolus(C, dose_ng, 300)), DosingError)
    b.advance(t + 2 * HOUR_S)
    assert not b.anomalies and not b.pending and b.dead_volume_nl is not None
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    most, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), "morphine")
    assert most is not None
    return granted, brute - CAP, most[0] - CAP


def test_a_bolus_to_the_maximum_after_the_cut_order_was_reported_is_granted(
    library: Library,
) -> None:
    """R-TIP-4, REQ-GOV-002: every report immediate: the 5,000,049 ng clinician bolus is
    granted and brings the largest window to the hard maximum within one rounding unit (1 nL,
    25 ng: at the maximum a clinician bolus holds back 1 nL of its basal, carried); 1 ng more is
    denied."""
    granted, brute, fifo = _bolus(library, 0, EXACT_NG)
    assert granted
    assert -25 <= brute <= 0 and -25 <= fifo <= 0, (float(brute), float(fifo))
    assert not _bolus(library, 0, EXACT_NG + 1)[0]


def test_a_bolus_one_unit_under_the_maximum_while_the_cut_order_is_unreported_is_granted(
    library: Library,
) -> None:
    """R-TIP-3, R-TIP-4, REQ-GOV-002: the cut order reported 1000 s after the cut: a clinician
    bolus one rounding unit (1 nL, 25 ng) under the exact one is granted and no window exceeds
    the hard maximum (25 ng under it); before R-TIP-3's fix the largest granted was 4,951,424 ng
    (48,625 ng short)."""
    granted, brute, fifo = _bolus(library, 1000, EXACT_NG - 25)
    assert granted
    assert brute <= 0 and fifo <= 0, (float(brute), float(fifo))


@pytest.mark.xfail(
    strict=True,
    reason=(
        "with the cut order's report pending the core counts that order's pace by the cut "
        "rounded up to a whole nL on top of the nanolitre R-TIP-4 already absorbs: the "
        "5,000,049 ng bolus that brings the window exactly to the 20 mg hard maximum is denied "
        "for the daily cap; the largest granted is 5,000,024 ng (25 ng short)"
    ),
)
def test_a_bolus_to_the_maximum_while_the_cut_order_is_unreported_is_granted(
    library: Library,
) -> None:
    """R-TIP-3, R-TIP-4, REQ-GOV-002: the cut order reported 1000 s after the cut (the drive's
    record the same as with immediate reports): the 5,000,049 ng clinician bolus, bringing the
    largest window to the hard maximum exactly, is granted. Measured: denied."""
    granted, brute, fifo = _bolus(library, 1000, EXACT_NG)
    assert granted
    assert brute <= 0 and fifo <= 0, (float(brute), float(fifo))
