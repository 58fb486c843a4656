"""The check of dosing's cap-room search (PATH-Z3-CAP): the largest amount that keeps every 24 h
window of drug leaving the tip within the hard maximum (REQ-GOV-002, REQ-TIP-004).

PATH-Z3-CAP runs the live ``flight.cap_room_ng`` with deliveries whose amounts up to a threshold
fit and the rest do not. Here: the deliveries it builds really fit exactly up to the threshold
when the ledger's live peak decides (so the threshold is what the search sees); the check reads
the live function; each seeded defect of the search fails with the request and threshold that
show it; and the reference agrees with a brute-force search on small amounts.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("z3")

from itdose.core import flight
from itdose.core.ledger import Flow, peak_fg
from itdose.core.units import FG_PER_NG
from itdose.proofs import path_z3
from itdose.proofs.obligations import all_obligations, check_claims, run_obligation
from itdose.specs import load_library

OBLIGATIONS = {o.id: o for o in all_obligations()}
NOW = 10 * 86_400


def test_the_cap_search_check_passes_and_catches_each_seeded_defect() -> None:
    """REQ-GOV-002, REQ-TIP-004: PATH-Z3-CAP holds on the live search, and a search that stops
    one step early, returns the first amount that does not fit, never ends, trusts its guess
    without asking, counts the drug in the path against the reservoir drug's maximum, or rounds
    a fitting request down is caught, naming a request and threshold where it differs."""
    result = run_obligation(OBLIGATIONS["PATH-Z3-CAP"])
    assert result.status == "pass", result.detail
    assert {b.id for b in result.broken} == {
        "search-stops-early",
        "search-returns-hi",
        "search-never-ends",
        "guess-trusted",
        "reservoir-drug-maximum",
        "whole-request-rounded-down",
    }
    for broken in result.broken:
        assert broken.status == "caught", broken
        cex = broken.counterexample
        assert cex is not None and cex["cap_room_ng (-1: none)"] != cex["reference"]
    never_ends = {b.id: b for b in result.broken}["search-never-ends"]
    assert "asked about more than" in never_ends.failed_claim
    assert flight.peak_fg is peak_fg  # the counting of questions is undone


def test_the_check_reads_the_live_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """REQ-GOV-002: a cap room that keeps a margin of 1 ng below the largest amount that fits
    (a silent shortfall, REQ-TIP-004) fails the check."""
    live = flight.cap_room_ng

    def margin(*args: Any) -> int:
        return max(0, live(*args) - 1)

    monkeypatch.setattr(flight, "cap_room_ng", margin)
    results = check_claims(path_z3.cap_search_claims())
    assert [r.status for r in results] == ["counterexample"]


@settings(max_examples=60, deadline=None)
@given(st.integers(-1, 3 * 10**13), st.integers(0, 3 * 10**13))
def test_a_delivery_fits_exactly_up_to_the_threshold(threshold: int, amount: int) -> None:
    """REQ-GOV-002, REQ-TIP-004: the deliveries of the check (exactly the hard maximum, or 1 fg
    more), decided by the ledger's live peak against the hard maximum as cap_room_ng decides
    them, fit exactly when the amount is at most the threshold (and not at all below a
    threshold of 0)."""
    planned, _ = path_z3._two_drugs(load_library())
    limit = planned.max_daily.value * FG_PER_NG
    over = limit + 1
    base = (Flow(NOW, over, over, 3600),) if threshold < 0 else ()
    value = limit if amount <= threshold else over
    new = (Flow(NOW, value, value, 3600),) if amount else ()
    fits = peak_fg((), (*base, *new), NOW, limit) <= limit
    assert fits == (amount <= threshold)


def _brute_force(request: int, threshold: int) -> int:
    fits = [x for x in range(request + 1) if x <= threshold]
    if request in fits:
        return -(-request // FG_PER_NG)
    return max(fits) // FG_PER_NG if fits else 0


@given(st.integers(0, 200), st.integers(-1, 201))
def test_the_reference_is_the_largest_fitting_amount(request: int, threshold: int) -> None:
    """REQ-GOV-002, REQ-TIP-004: the check's reference against a search over every amount."""
    assert path_z3._search_reference(request, threshold) == _brute_force(request, threshold)


@pytest.mark.parametrize(
    ("asked", "threshold", "want"),
    [
        (FG_PER_NG + 1, FG_PER_NG + 1, 2),  # the whole request fits: rounded up
        (FG_PER_NG + 1, FG_PER_NG, 1),  # 1 ng fits, 1 fg more does not
        (FG_PER_NG + 1, FG_PER_NG - 1, 0),  # less than 1 ng fits: rounded down
        (3 * 10**13, 2 * 10**13, 20_000_000),  # 20 mg fits of 30 mg asked
        (5, -1, 0),  # nothing fits, not even no delivery
    ],
)
def test_the_reference_at_whole_ng(asked: int, threshold: int, want: int) -> None:
    """REQ-GOV-002, REQ-TIP-004: directed cases of the reference at whole ng."""
    assert path_z3._search_reference(asked, threshold) == want
