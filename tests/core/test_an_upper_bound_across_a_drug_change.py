"""A report that is only an upper bound while the path changes drug (R-TIP-6 with two drugs within
the doubt): morphine 25 mg/mL at its 20 mg/day maximum, refilled to compounded hydromorphone
2 mg/mL at its 10 mg/day maximum; the drive resets 30, 15 or 7.5 min before the hydromorphone
reaches the tip (7 h 1 min 12 s after the refill), in the order that pushes the last morphine
out, and the order is reported whole at its end with its doubt (tests/reset_bench.py). The core
counts the path as hydromorphone with a shadow of morphine over the doubt (16,000, 7,667 and
3,500 nL of it at 25 mg/mL), and the morphine of the shadow in morphine's own ledger as it
leaves.

Judged from what the drive moved by the whole-second brute force (tests/whole_nl_drive.py) and
the first-in-first-out reference (tests/fifo_window_reference.py), for each drug against its
own maximum; and every state the bench went through with a shadow is consistent and round-trips
through the state document (REQ-CORE-003).
"""

from __future__ import annotations

from typing import Any

import pytest
from fifo_window_reference import moved_by, tip, windows
from itdose_physics import DAY_S, MG, implanted_and_dosing, refill
from reset_bench import ResetBench
from whole_nl_drive import largest_window

from itdose.core import Library, Outcome
from itdose.core import commands as c
from itdose.core.program import Basal, Program
from itdose.core.serialization import from_json, to_json
from itdose.core.state import Device, check_consistent

MORPHINE = Program("morphine", "pain", 25 * MG, Basal.continuous(20 * MG), None, "opioid-tolerant")
HYDROMORPHONE = Program("hydromorphone", "pain", 2 * MG, Basal.continuous(10 * MG), None, None)
ARRIVAL_S = 25_272
"""The 234,000 nL path at morphine's 33,333 nL/h: the hydromorphone reaches the tip this long
after the refill."""


class _Checked(ResetBench):
    """Keeps every state that holds a shadow."""

    shadowed: list[Device]

    def _accepted(self, command: c.Command, out: Outcome) -> None:
        super()._accepted(command, out)
        if self.device.shadows:
            self.shadowed.append(self.device)


def _run(library: Library, before_s: int) -> Any:
    b = _Checked(library, mode="pace")
    b.shadowed = []
    t0 = implanted_and_dosing(b, MORPHINE)
    refill(b, t0 + DAY_S, 2 * MG, program=HYDROMORPHONE, drug="hydromorphone")
    b.resets = [t0 + DAY_S + ARRIVAL_S - before_s]
    b.advance(b.now + 3 * DAY_S)
    return b, t0


@pytest.mark.parametrize("before_s", [1800, 900, 450])
def test_each_drug_stays_within_its_own_maximum(library: Library, before_s: int) -> None:
    """R-TIP-6, REQ-TIP-006, REQ-GOV-004: neither drug's 24 h window at the tip exceeds its hard
    maximum; the doubt left a shadow of morphine behind the tip."""
    b, t0 = _run(library, before_s)
    ((_, _, bound, moved, unsure),) = b.bounds
    assert bound == 33_333 and unsure == bound - moved > 0
    assert b.shadowed and all(s.drug == "morphine" for s in b.shadowed[0].shadows)
    assert sum(s.volume_nl for s in b.shadowed[0].shadows) == unsure
    assert not b.anomalies
    for drug, cap in (("morphine", 20 * MG), ("hydromorphone", 10 * MG)):
        brute, _ = largest_window(b.dead_volume_nl, b.pushes, drug, (t0, b.now))
        most, _ = windows(tip(b.dead_volume_nl, moved_by(b.pushes)), drug)
        assert most is not None
        assert brute <= cap and most[0] <= cap, (drug, float(brute - cap), float(most[0] - cap))


@pytest.mark.parametrize("before_s", [1800, 450])
def test_every_state_with_a_shadow_round_trips_and_is_consistent(
    library: Library, before_s: int
) -> None:
    """REQ-CORE-003: each state holding the shadow a bound left is consistent and comes back
    unchanged from its document."""
    b, _ = _run(library, before_s)
    assert b.shadowed
    for device in b.shadowed:
        check_consistent(device)
        assert from_json(to_json(device)) == device
