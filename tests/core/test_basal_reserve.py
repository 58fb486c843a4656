"""The basal reserve a bolus must leave free (REQ-GOV-008) against a brute-force reference: the
runtime evaluates only the window ends where the aged amount changes; the reference walks every
one of the 289 later window ends, as the definition says."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from itdose_testkit import DAY, MORPHINE_PROGRAM, reach

from itdose.core import Library, Phase
from itdose.core.dosing import basal_reserve_ng
from itdose.core.ledger import Ledger
from itdose.core.program import Basal, FlexStep

BUCKET = 300


def reference(ledger: Ledger, top: int, now: int) -> int:
    """For every later window end t = now + 300 j (j = 0..288): basal from now to t at the top
    rate (rounded up, one bucket ahead) minus what has aged out of the window by t."""
    first_now = (now + 1) // BUCKET - 288
    held = [(b.index, b.amount_ng) for b in ledger.buckets if first_now <= b.index <= now // BUCKET]
    best = 0
    for j in range(289):
        t = now + j * BUCKET
        first = (t + 1) // BUCKET - 288
        aged = sum(a for i, a in held if i < first)
        future = -(-top * (t - now + BUCKET) // DAY)
        best = max(best, future - aged)
    return best


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(st.tuples(st.integers(0, 2 * DAY), st.integers(0, 5_000_000)), max_size=40),
    after=st.integers(0, 2 * DAY),
    rates=st.lists(st.integers(0, 30_000_000), min_size=1, max_size=3),
)
def test_basal_reserve_matches_the_reference(
    library: Library,
    records: list[tuple[int, int]],
    after: int,
    rates: list[int],
) -> None:
    """REQ-GOV-008: the same reserve as the definition, for any ledger, time and schedule."""
    ledger = Ledger()
    t = 0
    for gap, amount in sorted(records):
        t = max(t, gap)
        ledger = ledger.record(t, amount)
    now = t + after
    d = reach(Phase.ACTIVE, library)
    steps = tuple(FlexStep(k * 3600, rate) for k, rate in enumerate(rates))
    program = dataclasses.replace(MORPHINE_PROGRAM, basal=Basal(steps=steps))
    d = dataclasses.replace(d, ledger=ledger, program=program)
    top = max(rates)
    assert basal_reserve_ng(d, now) == reference(ledger, top, now)


def test_reserve_is_zero_without_a_program(library: Library) -> None:
    """REQ-GOV-008: nothing scheduled, nothing reserved."""
    d = dataclasses.replace(reach(Phase.ACTIVE, library), program=None)
    assert basal_reserve_ng(d, 10 * DAY) == 0
