"""What a bolus does not order of its dose (the fraction of a nanolitre under its whole volume)
is carried like basal's and owed once: the next order that takes a whole nanolitre of the carry
leaves the carry that much smaller (docs/dosing-rules.md#r-tip-4, REQ-UNIT-004).

A program of 0 mg/day (the zero rate) leaves the basal ordered to the end of its segment with no
basal order in flight. A bolus there that took a whole nanolitre of the carry into its order
kept the carry whole, so every later bolus took it again and the carry grew without end: twelve
clinician boluses of 15 ng (1.5 nL at 10 mg/mL, 18 nL in all) moved 42 nL, 2.3 times their
doses, and left 6 nL still owed.

Judged by what a drive that moves every order in full moved, against the doses asked for (the
program delivers no basal of its own), not by the core's carry.
"""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from itdose_testkit import C, S, reach

from itdose.core import Device, Library, Phase, step
from itdose.core import commands as c
from itdose.core.effects import DeliveryOrder
from itdose.core.errors import DosingError
from itdose.core.program import Basal, FlexStep

NG_PER_NL = 10  # the device's morphine, 10 mg/mL


def _zero_rate(library: Library) -> Device:
    """An active device whose program is 0 mg/day, its basal ordered for the next segment."""
    d = reach(Phase.ACTIVE, library)
    assert d.program is not None and d.program.concentration_ng_per_ml == NG_PER_NL * 10**6
    zero = dataclasses.replace(d.program, basal=Basal(steps=(FlexStep(0, 0),)))
    now = d.clock_s or 0
    d = step(d, c.SetProgram(C, program=zero), now, library).device
    d = step(d, c.Tick(S), now, library).device
    assert d.basal_until_s > now and not d.orders
    return d


def _bolus(d: Device, dose_ng: int, at: int, library: Library) -> tuple[Device, int, int]:
    """The bolus given and moved in full by the drive: the device after the drive's final
    report, the nanolitres moved, and when the report came."""
    out = step(d, c.ClinicianBolus(C, dose_ng=dose_ng, duration_s=60), at, library)
    (order,) = [e for e in out.effects if isinstance(e, DeliveryOrder)]
    end = at + order.duration_s
    report = c.DriveReport(S, order.order_id, order.volume_nl, True)
    return step(out.device, report, end, library).device, order.volume_nl, end


def test_boluses_at_the_zero_rate_move_their_doses_and_no_more(library: Library) -> None:
    """REQ-UNIT-004: twelve clinician boluses of 15 ng, each given when the one before has been
    moved, no tick between: the drive moves 1, 1, 2, 1, 2, ... nL, 17 nL in all, and the 18th
    nanolitre of the doses is still owed (before: 42 nL moved)."""
    d = _zero_rate(library)
    at = (d.clock_s or 0) + 1
    moved: list[int] = []
    for _ in range(12):
        d, nl, at = _bolus(d, 15, at, library)
        moved.append(nl)
        at += 1
    assert moved == [1, 1, 2] + [1, 2] * 4 + [1]
    assert sum(moved) == 17


@settings(max_examples=40, deadline=None)
@given(
    doses=st.lists(st.integers(1, 400), min_size=1, max_size=16),
    ticks=st.lists(st.booleans(), min_size=16, max_size=16),
)
def test_what_boluses_at_the_zero_rate_move_never_exceeds_their_doses(
    library: Library, doses: list[int], ticks: list[bool]
) -> None:
    """REQ-UNIT-004: boluses of any size at the zero rate, a tick or none between them: the drive
    never moves more than the doses asked for, rounded up to a whole nanolitre, and less than
    them by under two nanolitres at most (what is still carried: under a nanolitre of what the
    orders did not take and the last dose's fraction)."""
    d = _zero_rate(library)
    at = (d.clock_s or 0) + 1
    asked = moved = 0
    for dose, tick in zip(doses, ticks, strict=False):
        try:
            d, nl, at = _bolus(d, dose, at, library)
        except DosingError:
            continue
        asked, moved = asked + dose, moved + nl
        at += 1
        if tick:
            d = step(d, c.Tick(S), at, library).device
            assert not d.orders, "the zero rate's segment orders nothing before its end"
    assert moved * NG_PER_NL <= asked + NG_PER_NL - 1, (moved, asked)
    assert moved * NG_PER_NL > asked - 2 * NG_PER_NL, (moved, asked)
