"""When the reservoir's fluid will reach the catheter tip, and the volume rates before and after,
as a refill shows them (docs/dosing-rules.md#r-tip-2, REQ-TIP-003): the fluids ahead of it leave
at the program's daily dose, or, for another drug still in the path after a drug change, at that
drug's flush dose (the old program's); a fluid nothing pushes out (no dose for it, or a zero
rate) means the reservoir's fluid never arrives at the current program. Worked by hand from the
path and the doses below, not from the core's helpers.
"""

from __future__ import annotations

import dataclasses

import pytest
from itdose_testkit import reach

from itdose.core import Device, Library, Phase
from itdose.core.dosing import tip_arrival
from itdose.core.path import FluidPath, Segment
from itdose.core.program import Basal, FlexStep
from itdose.core.state import FlushDose

MG = 1_000_000
DEAD_NL = 234_000


def _device(
    library: Library,
    daily_ng: int,
    ahead: tuple[Segment, ...],
    flush: tuple[FlushDose, ...] = (),
) -> Device:
    """The active device (morphine 10 mg/mL in the reservoir) at ``daily_ng`` a day, its path
    holding ``ahead`` (tip first), then the reservoir's fluid to the dead volume."""
    d = reach(Phase.ACTIVE, library)
    assert d.program is not None and d.program.concentration_ng_per_ml == 10 * MG
    rest = DEAD_NL - sum(s.volume_nl for s in ahead)
    path = FluidPath((*ahead, Segment(rest, "morphine", 10 * MG)))
    basal = Basal(steps=(FlexStep(0, daily_ng),))
    return dataclasses.replace(
        d, program=dataclasses.replace(d.program, basal=basal), path=path, flush_doses=flush
    )


HYDRO = Segment(1_000, "hydromorphone", 2 * MG)
LEAN = Segment(1_000, "morphine", 5 * MG)


@pytest.mark.parametrize(
    ("daily_ng", "ahead", "flush", "expected"),
    [
        # 1 000 nL of hydromorphone 2 mg/mL at its flush dose of 4 mg/day (2 000 000 nL/day)
        # leave in 43.2 s, rounded up; after: 12 mg/day of 10 mg/mL, 1 200 000 nL/day
        (12 * MG, (HYDRO,), (FlushDose("hydromorphone", 4 * MG),), (44, 2_000_000, 1_200_000)),
        # no flush dose for the hydromorphone at the tip: nothing pushes it out
        (12 * MG, (HYDRO,), (), (None, 0, 1_200_000)),
        # another drug's flush dose does not push this one
        (12 * MG, (HYDRO,), (FlushDose("fentanyl", 4 * MG),), (None, 0, 1_200_000)),
        # a zero rate: nothing leaves, before and after
        (0, (LEAN,), (), (None, 0, 0)),
        # 5 mg/mL at 12 mg/day (2 400 000 nL/day) for 36 s, then hydromorphone nothing pushes:
        # the rate before is the tip's fluid's
        (12 * MG, (LEAN, HYDRO), (), (None, 2_400_000, 1_200_000)),
        # 36 s of 5 mg/mL, then 44 s of hydromorphone at its flush dose: 80 s
        (
            12 * MG,
            (LEAN, HYDRO),
            (FlushDose("hydromorphone", 4 * MG),),
            (80, 2_400_000, 1_200_000),
        ),
        # a fluid of 1 ng/mL is pushed out like any other: 1 fg in a second, rounded up
        (12 * MG, (Segment(1, "morphine", 1),), (), (1, 12 * 10**12, 1_200_000)),
    ],
    ids=[
        "another drug at its flush dose",
        "another drug without a flush dose",
        "another drug's flush dose",
        "a zero rate",
        "a fluid nothing pushes behind the tip's",
        "two fluids ahead, one after the other",
        "a fluid of 1 ng/mL",
    ],
)
def test_the_arrival_of_the_reservoirs_fluid_and_the_rates_before_and_after(
    library: Library,
    daily_ng: int,
    ahead: tuple[Segment, ...],
    flush: tuple[FlushDose, ...],
    expected: tuple[int | None, int, int],
) -> None:
    """REQ-TIP-003."""
    d = _device(library, daily_ng, ahead, flush)
    now = d.clock_s or 0
    arrives, before, after = tip_arrival(d, now)
    offset, want_before, want_after = expected
    assert (arrives, before, after) == (
        None if offset is None else now + offset,
        want_before,
        want_after,
    )
