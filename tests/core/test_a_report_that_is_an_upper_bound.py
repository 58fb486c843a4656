"""A report that is only an upper bound (R-TIP-6): a drive reset loses the count of the basal
order it was running, and the controller reports the most the drive can have moved (the whole
order), saying how much of it may not have moved (``DriveReport.unsure_nl``). The core counts the
whole bound, so the model of the path runs ahead of the real fluid by up to that doubt; a fall
of concentration already in the path would then be counted as reaching the tip before it can
have, and the richer fluid still leaving after it counted at the leaner concentration (found by
the restarts cohort, patient 1189: 20 nL, 10 ng over the baclofen maximum).

Baclofen on a Prometra II at its 2 mg/day hard maximum, refilled from 1000 to 500 mcg/mL (the
program at the maximum at both), the drive on the pace line; the drive resets ten minutes into
the first basal order after the refill (it moves nothing more of it) and the order is reported at
its end with its whole volume. Judged from the drive's own record by the whole-nanolitre brute
force (tests/whole_nl_drive.py) and the first-in-first-out reference
(tests/fifo_window_reference.py): with the doubt said, no rolling 24 h window at the tip exceeds
the hard maximum; the same report without it lets one exceed it (the defect, which makes this
test able to fail).
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction

import pytest
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import DAY_S, MG, Bench, implanted_and_dosing, refill
from whole_nl_drive import largest_window

from itdose.core import Library, Role, step
from itdose.core import commands as c
from itdose.core.alarms import AlarmKind, Priority
from itdose.core.codec import decode, encode
from itdose.core.effects import Annunciate, Record
from itdose.core.errors import InvalidInput
from itdose.core.program import Basal, Program

S = Role.SERVICE
CAP = 2 * MG
DRUG = "baclofen"


def _program(conc: int) -> Program:
    return Program(DRUG, "spasticity-spinal", conc, Basal.continuous(CAP), None, None)


def _run(library: Library, said: bool) -> tuple[Fraction, Fraction, Bench, int]:
    """(largest window by brute force, by the FIFO reference, the bench, the doubt reported);
    the bench's ``report_effects`` holds the effects of the reset's report."""
    b = Bench(library, mode="pace")
    t0 = implanted_and_dosing(b, _program(MG))
    refill(b, t0 + DAY_S + 1234, MG // 2, program=_program(MG // 2))
    b.advance(b.now + 600)
    (order,) = b.running.values()
    oid = order.order.order_id
    b.advance(order.start + 600)
    # the reset: the drive has moved what its pace allows by now and moves nothing more of it
    r = b.running.pop(oid)
    push = b._delivered(r, b.now, whole_nl=True)
    assert push is not None
    b._push(push)
    b.advance(r.end - 1)  # the ticks wait for the unreported order
    b.now = r.end
    bound = r.order.volume_nl  # the drive's upper bound: the whole command
    unsure = bound - int(push.volume_nl)
    report = c.DriveReport(S, oid, bound, True, unsure_nl=unsure if said else 0)
    out = step(b.device, report, b.now, library)
    b.report_effects = out.effects  # type: ignore[attr-defined]
    b._accepted(report, out)
    b.advance(b.now + 3 * DAY_S)
    assert not b.anomalies and b.dead_volume_nl is not None
    # the fall reached the tip after the reset, by more than the doubt
    assert b.dead_volume_nl > unsure > 30_000
    brute, _ = largest_window(b.dead_volume_nl, b.pushes, DRUG, (t0, b.now))
    most, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), DRUG)
    assert most is not None
    return brute, most[0], b, unsure


def test_a_bound_with_its_doubt_keeps_every_window_within_the_hard_maximum(
    library: Library,
) -> None:
    """R-TIP-6, REQ-TIP-006, REQ-GOV-004: with the doubt said, no window exceeds the maximum,
    and the core counted at least what the drive moved (its reservoir never above the real)."""
    brute, fifo, b, _ = _run(library, True)
    assert brute <= CAP and fifo <= CAP, (float(brute), float(fifo))
    assert b.device.reservoir is not None
    assert b.device.reservoir.volume_nl <= b.reservoir_nl


def test_the_same_bound_without_its_doubt_exceeds_the_hard_maximum(library: Library) -> None:
    """The defect R-TIP-6 closes: the bound counted as what moved puts the fall too near the
    tip, and a window holds more than the maximum (by up to the doubt at the concentrations'
    difference)."""
    brute, fifo, _, unsure = _run(library, False)
    assert brute > CAP and fifo > CAP
    assert brute - CAP <= Fraction(unsure * (MG - MG // 2), 1_000_000)


def test_the_doubt_costs_at_most_the_doubt_at_the_richer_concentration(
    library: Library,
) -> None:
    """R-TIP-4 after R-TIP-6: counting the doubt at the richer fluid withholds no more than the
    doubt's volume times the difference of the concentrations, in any window a day after the
    change."""
    brute, _, b, unsure = _run(library, True)
    t = b.now - DAY_S
    window, _ = largest_window(b.dead_volume_nl or Fraction(0), b.pushes, DRUG, (t, b.now))
    assert CAP - window <= Fraction(unsure * (MG - MG // 2), 1_000_000) + 2 * MG // 1_000
    assert brute <= CAP


def test_a_report_without_doubt_is_unchanged_by_the_field(library: Library) -> None:
    """The field is left out of a report's encoding when it is zero (journals written before it
    read the same), kept when set, and decoded back."""
    plain = c.DriveReport(S, 3, 100, True)
    assert "unsure_nl" not in encode(plain)
    unsure = c.DriveReport(S, 3, 100, True, unsure_nl=40)
    assert encode(unsure)["unsure_nl"] == 40
    assert decode(c.DriveReport, encode(unsure)) == unsure


@pytest.mark.parametrize(
    ("unsure", "why"), [(-1, "must not be negative"), (101, "must not exceed delivered_nl")]
)
def test_a_doubt_below_zero_or_above_the_report_is_refused(
    library: Library, unsure: int, why: str
) -> None:
    """REQ-CORE-004: the doubt is a non-negative volume, at most the reported one; a bad one is
    refused naming the field, and the state is unchanged."""
    b = Bench(library, mode="pace")
    implanted_and_dosing(b, _program(MG))
    (order,) = b.device.orders
    before = b.device
    with pytest.raises(InvalidInput) as err:
        step(before, c.DriveReport(S, order.id, 100, False, unsure_nl=unsure), b.now, library)
    assert (err.value.field, err.value.message, err.value.value) == (
        "command.unsure_nl",
        why,
        unsure,
    )
    assert b.device is before


def test_a_doubt_over_a_change_of_concentration_is_announced(library: Library) -> None:
    """R-TIP-6, REQ-TIP-004: where the doubt counts places of the path richer than the model
    holds them (here the first 69 uL of the 500 mcg/mL fluid at 1000), the basal through them
    follows the richer fluid's rate and may deliver less of the program: the report raises the
    MEDIUM delivery-limited alarm and records why; without the doubt it raises nothing."""
    _, _, b, _ = _run(library, True)
    effects = b.report_effects  # type: ignore[attr-defined]
    assert Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM) in effects
    assert any(isinstance(e, Record) and e.event == "doubt_counted" for e in effects)
    _, _, plain, _ = _run(library, False)
    assert not any(isinstance(e, Annunciate) for e in plain.report_effects)  # type: ignore[attr-defined]


def test_a_doubt_within_one_fluid_changes_nothing(library: Library) -> None:
    """R-TIP-6: a doubt over a path of one fluid counts it as it is (nothing richer within
    reach): the same state as the report without the doubt, and no alarm."""
    b = Bench(library, mode="pace")
    implanted_and_dosing(b, _program(MG))
    (order,) = b.device.orders
    b.advance((order.start_s + order.end_s) // 2)
    (order,) = b.device.orders
    moved = order.volume_nl * (b.now - order.start_s) // (order.end_s - order.start_s)
    assert moved > 1_000

    def report(unsure: int) -> tuple[object, tuple[object, ...]]:
        command = c.DriveReport(S, order.id, moved, False, unsure_nl=unsure)
        out = step(b.device, command, b.now, library)
        return out.device, tuple(e for e in out.effects if not isinstance(e, Record))

    assert report(moved) == report(0)
    assert not report(moved)[1]


def test_a_second_doubt_while_the_alarm_is_active_annunciates_nothing_new(
    library: Library,
) -> None:
    """R-TIP-6, REQ-ALM-006: two reports of one order, each with a doubt over the fall: the
    first raises and annunciates the delivery-limited alarm, the second (the path counted richer
    still) records why again and keeps the alarm without annunciating it a second time."""
    b = Bench(library, mode="pace")
    implanted_and_dosing(b, _program(MG))
    refill(b, b.now + DAY_S + 1234, MG // 2, program=_program(MG // 2))
    (order,) = b.device.orders
    b.advance(order.start_s + 1200)
    (order,) = b.device.orders
    first = step(
        b.device, c.DriveReport(S, order.id, 20_000, False, unsure_nl=20_000), b.now, library
    )
    later = b.now + 600
    second = step(
        first.device, c.DriveReport(S, order.id, 30_000, False, unsure_nl=10_000), later, library
    )
    limited = Annunciate(AlarmKind.DELIVERY_LIMITED, Priority.MEDIUM)
    assert limited in first.effects and limited not in second.effects
    assert second.device.has_alarm(AlarmKind.DELIVERY_LIMITED)
    assert any(isinstance(e, Record) and e.event == "doubt_counted" for e in second.effects)


def _richest_within_the_doubt(
    before: tuple[tuple[int, int], ...], pushed_in: int, moved: int, doubt: int
) -> list[tuple[int, int]]:
    """The path after a report of ``moved`` nL with ``doubt`` nL of it unsure, as R-TIP-6 says
    it is counted, worked nanolitre by nanolitre: the fluid in line (the path ``before``, tip
    first, as ``(volume, concentration)``, then the reservoir's fluid at ``pushed_in``) is
    pushed ``moved`` nL out of the tip, and each place ``q`` of the path then holds the richest
    fluid at ``q`` or up to ``doubt`` nL nearer the tip (the last ``doubt`` nL that left
    included). Returned as runs, tip first."""
    line = [conc for volume, conc in before for _ in range(volume)]
    line += [pushed_in] * moved
    held = []
    reach: deque[int] = deque()  # places within the doubt, their fluids falling
    for i, conc in enumerate(line):
        while reach and line[reach[-1]] <= conc:
            reach.pop()
        reach.append(i)
        while reach[0] < i - doubt:
            reach.popleft()
        if i >= moved:  # place i - moved of the path after the report
            held.append(line[reach[0]])
    runs: list[tuple[int, int]] = []
    for conc in held:
        if runs and runs[-1][1] == conc:
            runs[-1] = (runs[-1][0] + 1, conc)
        else:
            runs.append((1, conc))
    return runs


@pytest.mark.parametrize("doubt", [1, 1_000, 20_000])
@pytest.mark.parametrize("which", ["before the fall", "ending at the fall"])
def test_each_place_holds_the_richest_fluid_within_the_doubt(
    library: Library, doubt: int, which: str
) -> None:
    """R-TIP-6, REQ-TIP-006: a basal order reported at its end as an upper bound (its whole
    volume, ``doubt`` nL of it unsure) while a fall of concentration (1000 -> 500 mcg/mL of
    baclofen after a refill) nears the tip: the order before the fall (the richer fluid still
    in the path behind what left), or the one whose volume ends exactly at the fall (what left
    is all of the richer fluid, the path behind it all of the leaner). Every place of the path
    after the report holds the richest fluid at it or within the doubt nearer the tip, the
    fluid that left included: the path is compared, nanolitre by nanolitre, with that rule
    worked by brute force from the path before the report."""
    b = Bench(library, mode="pace")
    implanted_and_dosing(b, _program(MG))
    refill(b, b.now + DAY_S + 1234, MG // 2, program=_program(MG // 2))
    for _ in range(10):
        b.advance(b.now + 1)
        (order,) = b.device.orders
        path = b.device.path
        assert path is not None
        tip = path.segments[0]
        at_fall = tip.concentration_ng_per_ml == MG and tip.volume_nl == order.volume_nl
        before_fall = len(path.segments) == 2 and tip.volume_nl > order.volume_nl
        if at_fall if which == "ending at the fall" else before_fall:
            break
        b.advance(order.end_s)
    else:
        raise AssertionError("no order found " + which)
    b.advance(order.end_s - 1)  # the order is still unreported
    before = tuple((s.volume_nl, s.concentration_ng_per_ml) for s in path.segments)
    assert [conc for _, conc in before] == [MG, MG // 2][: len(before)]
    report = c.DriveReport(S, order.id, order.volume_nl, True, unsure_nl=doubt)
    after = step(b.device, report, order.end_s, library).device
    assert after.path is not None
    got = [(s.volume_nl, s.concentration_ng_per_ml) for s in after.path.segments]
    assert got == _richest_within_the_doubt(before, MG // 2, order.volume_nl, doubt)
