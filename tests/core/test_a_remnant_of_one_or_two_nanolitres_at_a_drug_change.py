"""A drive that moves each basal order exactly one or two nanolitres short (reporting what it
moved) leaves a remnant of that size of the old drug at the tip at each change of drug: the
remnant under MIN_RUN_NL goes first in the next drug's order (R-TIP-3, ``_remnant_ahead``), one
of two nanolitres is a run of its own at its own rate, and neither is ordered again without end
(before the change a 1 nL order a drive moving 99 % left whole was ordered again 201 times an
hour: the bench's :class:`itdose_physics.Runaway`). With and without a reset whose doubt leaves
a shadow of the old drug (R-TIP-6), both drugs at their hard maximum.

Judged from what the drive moved by the FIFO reference (tests/itdose_physics.py,
tests/drug_change_kit.py): each drug under its own maximum in every 24 h window and at no more
than its own program's 10 min and hour (and two nanolitres), the history settles (a few orders an
hour), and the path ends holding only the last fluid. Measured: all hold.
"""

from __future__ import annotations

import pytest
from covering_grid import cases
from drug_change_kit import (
    ARRIVAL_S,
    CHANGES,
    FENTANYL,
    HYDROMORPHONE,
    HYDROMORPHONE_4,
    MORPHINE,
    MORPHINE_10,
    ShortBench,
    changed,
    judge,
    programs_of,
)
from reset_bench import ResetBench

from itdose.core import Library
from itdose.core.alarms import AlarmKind
from itdose.core.effects import Annunciate, DeliveryOrder, Record

A = ARRIVAL_S
RESETS = {"none": (), "30 min before the arrival": (A - 1800,), "30 s before": (A - 30,)}


@pytest.mark.parametrize(
    "short_nl, change, resets",
    cases({"short_nl": [1, 2], "change": sorted(CHANGES), "resets": sorted(RESETS)}),
)
def test_a_remnant_goes_out_at_no_more_than_its_rate_and_settles(
    library: Library, short_nl: int, change: str, resets: str
) -> None:
    """REQ-TIP-003, REQ-GOV-002, REQ-TIP-006."""
    b = ShortBench(library, short_nl=short_nl)
    t1 = changed(b, CHANGES[change], RESETS[resets])
    assert not b.anomalies
    faults = judge(b, t1).faults(programs_of(CHANGES[change]))
    assert not faults, faults
    orders = [t for t, _, fx in b.log if t >= t1 for e in fx if isinstance(e, DeliveryOrder)]
    assert len(orders) <= 2 * 24 * 2 + 40, len(orders)
    path = b.device.path
    assert path is not None
    last = CHANGES[change][-1][1]
    assert {(s.drug, s.concentration_ng_per_ml) for s in path.segments} == {
        (last.drug, last.concentration_ng_per_ml)
    }


def test_the_short_drive_leaves_a_remnant_that_goes_with_the_next_drug(library: Library) -> None:
    """The bench has teeth: with the drive one nanolitre short the order that reaches the
    hydromorphone holds the nanolitre of morphine and a whole hour of hydromorphone (208,334
    nL), with two short it is a run of its own (2 nL over a second)."""
    for short_nl, first in ((1, 208_334), (2, 2)):
        b = ShortBench(library, short_nl=short_nl)
        t1 = changed(b, ((0, HYDROMORPHONE),), (), days=1)
        sizes = [
            e.volume_nl
            for t, _, fx in b.log
            if t1 + A - 600 <= t <= t1 + A + 600
            for e in fx
            if isinstance(e, DeliveryOrder)
        ]
        assert first in sizes, (short_nl, sizes)


def test_a_remnant_before_a_shadow_goes_first_in_the_next_drugs_order_and_is_recorded(
    library: Library,
) -> None:
    """REQ-TIP-003, REQ-TIP-006: the drive one nanolitre short, refilled from morphine 25 mg/mL
    to hydromorphone 4 mg/mL and reset 1800 s before the hydromorphone reaches the tip (its
    doubt leaves a shadow of morphine): the tick that finds the nanolitre of morphine at the
    tip, a second after the arrival, orders it first in the hydromorphone's order, planned as
    if the nanolitre had left (the shadow moved on by it): one order of 16,002 nL over 1729 s
    (planned with the shadow where it was, the second is cut instead: 3 nL over one second);
    its record of withheld basal names the whole volume the order asks, the nanolitre with it.
    Measured; the reference judges the history."""
    b = ShortBench(library, short_nl=1)
    t1 = changed(b, ((0, HYDROMORPHONE_4),), (A - 1800,), days=1)
    assert not b.anomalies
    at = t1 + A + 1
    (fx,) = [fx for t, command, fx in b.log if t == at and command.name == "tick"]
    orders = [(e.volume_nl, e.duration_s) for e in fx if isinstance(e, DeliveryOrder)]
    withheld = [e.detail for e in fx if isinstance(e, Record) and e.event == "basal_withheld"]
    assert orders == [(16_002, 1729)] and withheld == ["requested 16002 nL; reasons: daily_cap"]
    faults = judge(b, t1).faults(programs_of(((0, HYDROMORPHONE_4),)))
    assert not faults, faults


def test_a_remnant_before_two_fills_of_the_next_drug_goes_with_its_hour(library: Library) -> None:
    """REQ-TIP-003: the drive one nanolitre short, refilled from morphine 25 mg/mL to fentanyl
    50 mcg/mL and again a minute later: the tick a second after the fentanyl reaches the tip
    orders the nanolitre of morphine first in the fentanyl's order, planned as if the
    nanolitre had left and the reservoir's fentanyl had entered behind it: one order of the
    nanolitre and a whole hour of fentanyl, 833,334 nL (planned as if a fluid of no drug had
    entered, the fentanyl's run ended where that fluid would be: 234,000 nL over 1011 s)."""
    b = ShortBench(library, short_nl=1)
    t1 = changed(b, ((0, FENTANYL), (60, FENTANYL)), (), days=1)
    assert not b.anomalies
    (fx,) = [fx for t, command, fx in b.log if t == t1 + A + 1 and command.name == "tick"]
    orders = [(e.volume_nl, e.duration_s) for e in fx if isinstance(e, DeliveryOrder)]
    assert orders == [(833_334, 3600)]
    faults = judge(b, t1).faults(programs_of(((0, FENTANYL),)))
    assert not faults, faults


def test_the_partial_second_of_the_old_drug_is_carried_against_its_own_maximum(
    library: Library,
) -> None:
    """REQ-TIP-004, R-TIP-4: the drive two nanolitres short, refilled from morphine 25 mg/mL to
    10 mg/mL, to 25 mg/mL ten minutes later and to hydromorphone 2 mg/mL ten minutes after
    that: the partial second at the end of each run of morphine is carried to its next
    concentration, against morphine's maximum, which its program (20 mg/day) leaves room for:
    nothing is withheld and no delivery-limited alarm is raised (asked against the maximum of
    the reservoir's hydromorphone, 10 mg/day, the room is not there: withheld with the alarm).
    The reference judges the history (a partial second carried, R-TIP-3)."""
    changes = ((0, MORPHINE_10), (600, MORPHINE), (1200, HYDROMORPHONE))
    b = ShortBench(library, short_nl=2)
    t1 = changed(b, changes, (), days=1)
    assert not b.anomalies
    effects = [e for _, command, fx in b.log if command.name == "tick" for e in fx]
    assert not [e for e in effects if isinstance(e, Record) and e.event == "basal_withheld"]
    assert not [
        e for e in effects if isinstance(e, Annunciate) and e.kind is AlarmKind.DELIVERY_LIMITED
    ]
    faults = judge(b, t1).faults(programs_of(changes), carried_s=1)
    assert not faults, faults


def test_a_partial_second_under_a_rounding_unit_at_the_maximum_is_not_recorded_as_withheld(
    library: Library,
) -> None:
    """R-TIP-4: refilled from morphine 25 mg/mL to fentanyl 50 mcg/mL and twenty minutes later
    back to morphine 25 mg/mL (each at its maximum), the drive moving every order whole and
    reset 30 s before the fentanyl reaches the tip: the order a second after the arrival ends a
    run of morphine (287 nL over 31 s) and leaves a partial second the hard maximum has no room
    for, of no more than one nanolitre of the next fluid of morphine, one rounding unit: lost
    without a record of withheld basal (more than a unit is recorded, with the alarm). The
    reference judges the history (a partial second carried, R-TIP-3)."""
    changes = ((0, FENTANYL), (1200, MORPHINE))
    b = ResetBench(library)
    t1 = changed(b, changes, (A - 30,), days=1)
    assert not b.anomalies
    orders = [
        (t - t1, e.volume_nl, e.duration_s)
        for t, command, fx in b.log
        if command.name == "tick" and A <= t - t1 <= A + 100
        for e in fx
        if isinstance(e, DeliveryOrder)
    ]
    assert orders[:2] == [(A + 1, 287, 31), (A + 32, 10_824, 47)], orders
    effects = [e for _, command, fx in b.log if command.name == "tick" for e in fx]
    assert not [e for e in effects if isinstance(e, Record) and e.event == "basal_withheld"]
    faults = judge(b, t1).faults(programs_of(changes), carried_s=1)
    assert not faults, faults
