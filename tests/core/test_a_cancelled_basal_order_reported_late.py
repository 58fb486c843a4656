"""A basal order a bolus cancels, reported late: the drive stopped it at the cancel (the bench
records its push there) but the controller's final report of it reaches the core later, while
the bolus runs or after it ended. The basal around the boluses must still be delivered in full
(less one rounding unit) or the delivery-limited alarm must say it is not (REQ-TIP-004), and a
bolus that brings the window exactly to the hard maximum is granted (R-TIP-4).

Judged by the first-in-first-out reference (tests/fifo_window_reference.py) from the drive's
record alone. Morphine on a Prometra II, Prometra catheter trimmed 20 cm, 25 mg/mL, 14 mg/day
and six 1 mg boluses over 300 s an hour apart: a worst case of the 20 mg hard maximum exactly
(the same program test_basal_around_boluses_at_the_hard_maximum.py grants in full when every
report is immediate).
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from fifo_window_reference import _cum, moved_by, tip, windows
from hypothesis import given, settings
from hypothesis import strategies as st
from itdose_physics import DAY_S, HOUR_S, MG, Bench, Mode, implanted_and_dosing, refill
from late_reports import LateCutReports
from ledger_windows_kit import ledger_gaps
from whole_nl_drive import largest_window

from itdose.core import Library, Role
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.effects import Annunciate, BolusDecision, Record
from itdose.core.program import Basal, PatientBolusProgram, Program
from itdose.core.state import Phase
from itdose.specs import load_library

P = Role.PATIENT
CAP = 20 * MG
LIBRARY = load_library()
LIMITED = AlarmKind.DELIVERY_LIMITED.value
FAULT = AlarmKind.DRIVE_FAULT.value
CONC = 25 * MG
BASAL = 14 * MG
DOSE = MG
DURATION_S = 300
PROGRAM = Program(
    "morphine",
    "pain",
    CONC,
    Basal.continuous(BASAL),
    PatientBolusProgram(dose_ng=DOSE, duration_s=DURATION_S, lockout_s=HOUR_S, max_per_24h=6),
    "opioid-tolerant",
)


def _six_boluses(library: Library, delay_s: int) -> tuple[LateCutReports, int, list[bool]]:
    b, _, first, grants = _run(library, PROGRAM, delay_s, (HOUR_S,) * 5, "pace")
    return b, first, grants


def _run(
    library: Library,
    program: Program,
    delay_s: int,
    gaps_s: tuple[int, ...],
    mode: Mode,
    offset_s: int = 1234,
) -> tuple[LateCutReports, int, int, list[bool]]:
    """Six patient boluses a day after dosing starts, ``gaps_s`` apart, each cut basal order
    reported ``delay_s`` after its cut; two days more. Returns (the bench, dosing's start, the
    first bolus's instant, grants)."""
    b = LateCutReports(library, mode=mode)
    b.pending = []
    t0 = implanted_and_dosing(b, program)
    b.delay_s = delay_s
    first = t = t0 + DAY_S + offset_s
    grants = []
    for k in range(6):
        out = b.submit(c.RequestBolus(P), t)
        grants.extend(e.granted for e in out.effects if isinstance(e, BolusDecision))
        t += gaps_s[k] if k < 5 else 0
    b.advance(t + 2 * DAY_S)
    assert not b.anomalies and not b.pending
    return b, t0, first, grants


def _held(b: Bench, first: int) -> Fraction:
    """The FIFO reference's morphine in the window ``(first - 600, first - 600 + 24 h]``, which
    holds the six boluses and a day of basal."""
    assert b.dead_volume_nl is not None
    mine = [p for p in tip(b.dead_volume_nl, moved_by(b.pushes)) if p.drug == "morphine"]
    end = Fraction(first - 600 + DAY_S)
    return _cum(mine, end, False) - _cum(mine, end - DAY_S, False)


def _limited(b: Bench, since: int, kinds: tuple[str, ...] = (LIMITED,)) -> bool:
    return any(set(kinds) & active for at, _, _, active in b.phases if at >= since)


def _faulted(b: Bench, since: int) -> bool:
    """The drive-fault alarm (HIGH, delivery stops): a cut order still unreported 600 s after
    the end it was ordered with is overdue, like any order (basal.ORDER_GRACE_S)."""
    return _limited(b, since, (FAULT,))


def _judge(b: LateCutReports, t0: int, first: int, program: Program) -> None:
    """No window above the hard maximum, on whole-nanolitre steps at every whole second and in
    the FIFO reference; the window holding the six boluses short of the basal and the doses by
    at most one rounding unit (above them by under two: the makeup of basal owed at its start),
    and no window from the day before the boluses to the day after short of the day's basal by
    more than one rounding unit, unless the delivery-limited or the drive-fault alarm (which
    stops delivery) was raised."""
    assert b.dead_volume_nl is not None and program.patient_bolus is not None
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    assert brute <= CAP, float(brute - CAP)
    pieces = tip(b.dead_volume_nl, moved_by(b.pushes))
    most, _ = windows(pieces, "morphine")
    assert most is not None and most[0] <= CAP, float(most[0] - CAP) if most else None
    basal = program.basal.steps[0].dose_ng_per_day
    due = basal + 6 * program.patient_bolus.dose_ng
    unit = Fraction(program.concentration_ng_per_ml, 10**6)
    held = _held(b, first)
    limited = _limited(b, first - DAY_S, (LIMITED, FAULT))
    assert held < due + 2 * unit, float(held - due)
    assert limited or due - held <= unit, float(due - held)
    _, least = windows(pieces, "morphine", Fraction(t0 + DAY_S + HOUR_S), Fraction(end))
    assert least is not None
    assert limited or basal - least[0] <= unit, (float(basal - least[0]), float(least[1]))


def test_a_cut_basal_order_reported_after_the_bolus_ended_leaves_the_basal_in_full(
    library: Library,
) -> None:
    """REQ-TIP-004, R-TIP-3: each cut order is reported 1000 s after its cut (700 s after its
    bolus ended). The basal after each bolus is ordered at the bolus's end, without waiting for
    that report (the drive stopped the cut order at the cut). Measured: all six granted, the
    window holding them 20.6 ng short of the 20,000,000 due (under the rounding unit of 25 ng,
    as with immediate reports); before, 680,600 ng short without the delivery-limited alarm
    (the ticks counted the cut order as still running and issued no basal until its report)."""
    b, first, grants = _six_boluses(library, 1000)
    assert grants == [True] * 6
    short = BASAL + 6 * DOSE - _held(b, first)
    assert _limited(b, first) or short <= Fraction(CONC, 10**6), float(short)


def test_a_cut_basal_order_reported_a_second_late_leaves_the_boluses_granted(
    library: Library,
) -> None:
    """R-TIP-4, REQ-TIP-004: each cut order reported 1 s after its cut (the bolus still in
    flight): the sixth bolus, bringing the window to the hard maximum exactly, is granted. The
    report is counted as ending at the cut (the drive stopped the order there; a report that
    says it moved more than its pace allowed by the cut is a deviation); before, it was
    counted at the report's instant, a second later, and the window a day later counted more
    basal than left the tip (the sixth bolus denied for the daily cap)."""
    _, _, grants = _six_boluses(library, 1)
    assert grants == [True] * 6, grants


DELAYS_S = (1, 299, 300, 301, 700, HOUR_S, HOUR_S + 1)


@pytest.mark.parametrize("delay_s", DELAYS_S)
def test_boluses_to_the_maximum_with_late_reports_never_exceed_it_nor_lose_basal(
    library: Library, delay_s: int
) -> None:
    """REQ-GOV-002, REQ-GOV-004, REQ-TIP-004, R-TIP-3, R-TIP-4: 25 mg/mL, six 1 mg boluses over
    300 s an hour apart to the 20 mg hard maximum exactly, each cut order reported ``delay_s``
    after its cut (during the bolus, at its end, just after, long after, after the next bolus
    is asked): all six granted (3601 s: the report overdue 600 s past the end the cut order
    was ordered with, the drive-fault alarm stops delivery), no window above the maximum
    (whole-nanolitre brute force, FIFO reference), no basal lost without an alarm."""
    b, t0, first, grants = _run(library, PROGRAM, delay_s, (HOUR_S,) * 5, "pace")
    assert grants == [True] * 6 or (delay_s > 600 and _faulted(b, first)), grants
    _judge(b, t0, first, PROGRAM)


@pytest.mark.parametrize(
    ("conc", "basal", "dose", "duration_s", "gap_s", "delay_s", "mode"),
    [
        pytest.param(10 * MG, 14 * MG, MG, 300, HOUR_S, 700, "pace", id="10-mg-per-ml-700-s"),
        pytest.param(10 * MG, 14 * MG, MG, 300, HOUR_S, 1, "uniform", id="10-mg-per-ml-1-s"),
        pytest.param(10 * MG, 14 * MG, MG, 60, HOUR_S, 301, "pace", id="10-mg-per-ml-60-s"),
        pytest.param(25 * MG, 14 * MG, MG, 60, HOUR_S, 61, "uniform", id="25-mg-per-ml-60-s"),
        pytest.param(25 * MG, 14 * MG, MG, 900, HOUR_S, 899, "pace", id="25-mg-per-ml-900-s"),
        pytest.param(
            10 * MG, 17 * MG, MG // 2, 600, 600, 700, "pace", id="10-mg-per-ml-back-to-back"
        ),
        pytest.param(25 * MG, 14 * MG, MG, 300, 300, HOUR_S, "uniform", id="25-back-to-back-1h"),
    ],
)
def test_other_programs_with_late_reports_never_exceed_the_maximum_nor_lose_basal(
    library: Library,
    conc: int,
    basal: int,
    dose: int,
    duration_s: int,
    gap_s: int,
    delay_s: int,
    mode: Mode,
) -> None:
    """REQ-GOV-002, REQ-GOV-004, REQ-TIP-004, R-TIP-3, R-TIP-4: at 10 and 25 mg/mL, boluses of
    60 to 900 s, an hour apart or back to back (each one cutting the basal order the one before
    left, or the bolus's own basal order), drives on the pace line and even: all six granted, no
    window above the maximum, no basal lost without the delivery-limited alarm."""
    program = _program(conc, basal, dose, duration_s, gap_s)
    b, t0, first, grants = _run(library, program, delay_s, (gap_s,) * 5, mode)
    assert grants == [True] * 6 or (delay_s > 600 and _faulted(b, first)), grants
    _judge(b, t0, first, program)


def _program(conc: int, basal: int, dose: int, duration_s: int, lockout_s: int) -> Program:
    bolus = PatientBolusProgram(
        dose_ng=dose, duration_s=duration_s, lockout_s=lockout_s, max_per_24h=6
    )
    return Program("morphine", "pain", conc, Basal.continuous(basal), bolus, "opioid-tolerant")


@settings(max_examples=5, deadline=None)
@given(
    conc=st.sampled_from([10 * MG, 25 * MG]),
    dose_ug=st.integers(min_value=100, max_value=1000),
    duration_s=st.sampled_from([60, 300, 600]),
    delay_s=st.integers(min_value=1, max_value=HOUR_S // 3),
    extra_gaps=st.lists(st.integers(min_value=0, max_value=3000), min_size=5, max_size=5),
    offset_s=st.integers(min_value=0, max_value=HOUR_S - 1),
    mode=st.sampled_from(["uniform", "pace"]),
)
def test_random_late_reports_never_exceed_the_maximum_nor_lose_basal(
    conc: int,
    dose_ug: int,
    duration_s: int,
    delay_s: int,
    extra_gaps: list[int],
    offset_s: int,
    mode: Mode,
) -> None:
    """REQ-GOV-002, REQ-GOV-004, REQ-TIP-004, R-TIP-3, R-TIP-4 (property): a program whose worst
    case is the hard maximum exactly, six boluses at random instants from the end of each
    lockout on, each cut order reported up to 1200 s after its cut: all six granted (or, once a
    report is overdue, the drive-fault alarm stops delivery), no window above the maximum, no
    basal lost without the delivery-limited or the drive-fault alarm."""
    dose = dose_ug * 1000
    lockout = max(duration_s, 1800)
    program = _program(conc, CAP - 6 * dose, dose, duration_s, lockout)
    gaps = tuple(lockout + g for g in extra_gaps)
    b, t0, first, grants = _run(LIBRARY, program, delay_s, gaps, mode, offset_s)
    assert grants == [True] * 6 or (delay_s > 600 and _faulted(b, first)), grants
    _judge(b, t0, first, program)


def test_a_cut_order_reported_late_while_the_path_holds_two_fluids_is_announced(
    library: Library,
) -> None:
    """REQ-TIP-004, R-TIP-3, R-TIP-4: 10 mg/mL refilled to 25 mg/mL (the same 14 mg/day and
    1 mg boluses), three boluses an hour apart, the first two while the path still holds both,
    each cut order reported 700 s after its cut: where the cut order stopped decides which fluid
    the next order pushes out, so the basal after those boluses waits for that report, which
    raises the delivery-limited alarm and records how long the basal was not delivered (never
    silent); no window above the maximum (whole-nanolitre brute force)."""
    b = LateCutReports(library, mode="pace")
    b.pending = []
    t0 = implanted_and_dosing(b, _program(10 * MG, 14 * MG, MG, 300, HOUR_S))
    refill(b, t0 + DAY_S, 25 * MG, program=_program(25 * MG, 14 * MG, MG, 300, HOUR_S))
    b.delay_s = 700
    t = t0 + DAY_S + 1234
    for _ in range(3):
        b.submit(c.RequestBolus(P), t)
        t += HOUR_S
    b.advance(t + DAY_S)
    assert not b.anomalies and b.dead_volume_nl is not None
    records = [
        (at, e)
        for at, _, effects in b.log
        for e in effects
        if isinstance(e, Record) and e.event == "basal_withheld"
    ]
    withheld = [e.detail for _, e in records]
    # the first two (the third bolus finds the richer fluid alone in the path)
    assert [w.split(": order")[0] for w in withheld] == ["basal of 400 s not delivered"] * 2
    # each recorded by the service at the report, in the phase it leaves unchanged
    assert all(
        (e.role, e.at_s, e.source, e.dest) == ("service", at, Phase.ACTIVE, Phase.ACTIVE)
        for at, e in records
    )
    assert _limited(b, t0 + DAY_S)
    # the report that records it raises the alarm, annunciated unless it was already active
    for i, (_, _, effects) in enumerate(b.log):
        if any(isinstance(e, Record) and e.event == "basal_withheld" for e in effects):
            was, now = (LIMITED in b.phases[j][3] for j in (i - 1, i))
            annunciated = Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM) in effects
            assert now and annunciated is not was, (i, was, annunciated)
    end = min((r.start for r in b.running.values()), default=b.now)
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, "morphine", (t0, end))
    assert brute <= CAP, float(brute - CAP)


def _leaves_by_the_cut(b: LateCutReports, t: int, delay_s: int) -> None:
    """From the late report on, for a day and two hours, every minute, each ledger window holds
    what left the tip in it by the first-in-first-out reference: never less, and never more
    than one nanolitre of the 25 mg/mL fluid (25 ng) above it."""
    samples = range(t + delay_s + 60, t + DAY_S + 2400, 60)
    gaps = ledger_gaps(b, t + DAY_S + 2 * HOUR_S, ("morphine",), samples)["morphine"]
    after = [(at - t, gap) for at, gap in gaps if at > t + delay_s]
    assert len(after) > DAY_S // 60
    nanolitre = Fraction(CONC, 10**6)
    assert all(-nanolitre <= gap <= 0 for _, gap in after), [
        (at, float(gap)) for at, gap in after if not -nanolitre <= gap <= 0
    ]
    assert not b.anomalies and not b.pending


@pytest.mark.parametrize("delay_s", [61, 700])
def test_a_cut_order_reported_late_is_counted_as_leaving_by_the_cut(
    library: Library, delay_s: int
) -> None:
    """R-TIP-3, REQ-GOV-004: the cut basal order of one fluid (25 mg/mL), reported 61 s after
    its cut (while the bolus runs) or 700 s after it (after the bolus's own report), is recorded
    as having left by the cut at its pace (:func:`_leaves_by_the_cut`). A record ending later
    than the cut, as an instant at the report, or in place of another order's piece counts a
    window that starts after the cut for what left before it."""
    b = LateCutReports(library, mode="pace")
    b.pending = []
    t0 = implanted_and_dosing(b, PROGRAM)
    b.delay_s = delay_s
    t = t0 + DAY_S + 1234
    b.advance(t)
    out = b.submit(c.RequestBolus(P), t)
    assert [e.granted for e in out.effects if isinstance(e, BolusDecision)] == [True]
    _leaves_by_the_cut(b, t, delay_s)


def test_a_cut_order_of_two_fluids_reported_before_another_order_moved_leaves_by_the_cut(
    library: Library,
) -> None:
    """R-TIP-3, REQ-GOV-004: after the 10 -> 25 mg/mL refill below, the cut order reported 61 s
    after its cut, before the bolus's own report: no other order moved the path since the cut,
    so which fluid left when is known and it is recorded as having left by the cut, not as an
    instant at the report (:func:`_leaves_by_the_cut`)."""
    b, t = _one_bolus_across_two_fluids(library, 61)
    _leaves_by_the_cut(b, t, 61)


def _one_bolus_across_two_fluids(library: Library, delay_s: int) -> tuple[LateCutReports, int]:
    """The 10 -> 25 mg/mL refill of the test above, one bolus, its cut order reported
    ``delay_s`` after the cut; run to five seconds after that report. Returns (the bench, the
    bolus's instant)."""
    b = LateCutReports(library, mode="pace")
    b.pending = []
    t0 = implanted_and_dosing(b, _program(10 * MG, 14 * MG, MG, 300, HOUR_S))
    refill(b, t0 + DAY_S, 25 * MG, program=_program(25 * MG, 14 * MG, MG, 300, HOUR_S))
    b.delay_s = delay_s
    t = t0 + DAY_S + 1234
    b.advance(t)
    b.submit(c.RequestBolus(P), t)
    b.advance(t + delay_s + 5)
    assert not b.anomalies
    return b, t


def _withheld(b: Bench) -> list[tuple[int, str]]:
    return [
        (at, e.detail)
        for at, _, effects in b.log
        for e in effects
        if isinstance(e, Record) and e.event == "basal_withheld"
    ]


def test_a_cut_order_reported_as_its_bolus_ends_withholds_no_basal(library: Library) -> None:
    """R-TIP-3, R-TIP-4: the cut order of the path of two fluids reported 300 s after its cut,
    in the second its bolus ends and the basal is due again: no basal was waiting for it, so
    nothing is recorded as withheld and the delivery-limited alarm stays off."""
    b, _ = _one_bolus_across_two_fluids(library, DURATION_S)
    assert _withheld(b) == []
    assert not b.device.has_alarm(AlarmKind.DELIVERY_LIMITED)


def test_the_basal_withheld_for_a_late_cut_report_raises_the_alarm_at_the_report(
    library: Library,
) -> None:
    """R-TIP-3, R-TIP-4: reported 700 s after its cut, the cut order held the basal 400 s past
    the bolus's end: recorded at the report, and the delivery-limited alarm raised at that
    instant."""
    b, t = _one_bolus_across_two_fluids(library, 700)
    ((at, detail),) = _withheld(b)
    assert at == t + 700 and detail.startswith("basal of 400 s not delivered")
    (alarm,) = [a for a in b.device.alarms if a.kind is AlarmKind.DELIVERY_LIMITED]
    assert alarm.raised_at_s == t + 700
